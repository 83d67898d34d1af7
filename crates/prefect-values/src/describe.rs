//! How messages show values: `string "abc"`, `integer 3`, `mapping`; long text is cut.
//!
//! Types are named as a YAML user knows them: `integer`, `number`, `string`, `boolean`,
//! `null`, `list` (JSON Schema's `array`) and `mapping` (JSON Schema's `object`).

use serde_json::Value;

/// Strings longer than this many characters are cut in messages.
const MAX_CHARS: usize = 40;

/// The user-facing name of JSON Schema type `name` (`array` is `list`, `object` is `mapping`).
pub(crate) fn type_name(name: &str) -> &str {
    match name {
        "array" => "list",
        "object" => "mapping",
        other => other,
    }
}

/// The type of `value`, as [`type_name`] names it (whole floats are still `number`).
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

/// `value` after "found": its type, and the value itself when it is a scalar.
pub(crate) fn found(value: &Value) -> String {
    match value {
        Value::Null | Value::Array(_) | Value::Object(_) => kind(value).to_owned(),
        _ => format!("{} {}", kind(value), short(value)),
    }
}

/// `value` as JSON on one line, with strings and long values cut after [`MAX_CHARS`]
/// characters (then followed by their length).
pub(crate) fn short(value: &Value) -> String {
    match value {
        Value::String(text) => {
            let count = text.chars().count();
            if count <= MAX_CHARS {
                return Value::String(text.clone()).to_string();
            }
            let cut: String = text.chars().take(MAX_CHARS - 3).collect();
            let quoted = Value::String(cut.trim_end().to_owned()).to_string();
            format!("{}...\" ({count} characters)", &quoted[..quoted.len() - 1])
        }
        Value::Array(_) | Value::Object(_) => {
            let json = value.to_string();
            if json.chars().count() <= MAX_CHARS {
                json
            } else {
                let cut: String = json.chars().take(MAX_CHARS - 3).collect();
                format!("{cut}...")
            }
        }
        _ => value.to_string(),
    }
}

/// `items` joined as `a, b or c`.
pub(crate) fn alternatives(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// `count` and `noun`, with an `s` unless `count` is 1.
pub(crate) fn plural(count: u64, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}
