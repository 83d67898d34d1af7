//! Writing YAML scalars and keys so that any YAML reader, 1.1 or 1.2, reads them back as they
//! were: strings that could be read as something else are double-quoted.

use serde_json::Value;

/// `value` as a YAML scalar, or `{}`/`[]` for an empty mapping or list; `None` for a non-empty
/// mapping or list.
pub(crate) fn inline(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("null".to_owned()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(text) => Some(string(text)),
        Value::Array(items) if items.is_empty() => Some("[]".to_owned()),
        Value::Object(map) if map.is_empty() => Some("{}".to_owned()),
        _ => None,
    }
}

/// `text` as a YAML scalar: plain when that is read back as the same string by YAML 1.1 and
/// 1.2 readers, otherwise double-quoted.
pub(crate) fn string(text: &str) -> String {
    if needs_quotes(text) { quoted(text) } else { text.to_owned() }
}

/// Whether plain `text` could be read as something else than this string (a boolean, null, a
/// number, a timestamp, an indicator), or is not a valid plain scalar.
fn needs_quotes(text: &str) -> bool {
    let Some(first) = text.chars().next() else { return true };
    let lower = text.to_ascii_lowercase();
    let reserved = matches!(
        lower.as_str(),
        "y" | "n"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "true"
            | "false"
            | "null"
            | "~"
            | "<<"
            | "="
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    );
    let second = text.chars().nth(1);
    let numeric = first.is_ascii_digit()
        || (matches!(first, '+' | '.') && second.is_some_and(|c| c.is_ascii_digit() || c == '.'));
    let indicator = "-?:,[]{}#&*!|>'\"%@`".contains(first);
    let blank_edges = text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace);
    let special = text.contains(": ")
        || text.contains(" #")
        || text.ends_with(':')
        || text.starts_with("...")
        || text.chars().any(needs_escape);
    reserved || numeric || indicator || blank_edges || special
}

/// `text` double-quoted, with YAML escapes.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters that cannot appear as they are in a YAML scalar, or that some readers take as
/// line breaks.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}
