//! The YAML of an object whose every string is a plain word or phrase (`prefect-server`,
//! `value 3 of object 12`), digits or empty, every number whole and no list in a list, written without
//! serde-saphyr and to the byte as it writes it.
//!
//! serde-saphyr decides for each string whether YAML 1.1 readers would take it for something
//! else, in several passes over its characters; for thousands of small objects that was a
//! third of `render`. An object this writer is not sure of (any other string, a float, a
//! `null`, a list in a list) is left to serde-saphyr whole: [`write`] answers `false` and
//! writes nothing. Debug builds compare both writers on every object they write (see
//! [`super::write_yaml`]), so every test that renders checks that they agree.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Appends the YAML of `object` to `out` and returns `true`, or returns `false` with `out` as
/// it was when the object has something only serde-saphyr writes right.
pub(super) fn write(object: &Value, out: &mut String) -> bool {
    let start = out.len();
    let written = match object {
        Value::Object(map) if !map.is_empty() => entries(map, 0, false, out),
        _ => None,
    };
    if written.is_none() {
        out.truncate(start);
    }
    written.is_some()
}

/// The entries of a non-empty map at `indent`; with `inline`, the first entry goes on the
/// line already started (after a list item's `- `).
fn entries(map: &Map<String, Value>, indent: usize, inline: bool, out: &mut String) -> Option<()> {
    for (index, (key, value)) in map.iter().enumerate() {
        if index > 0 || !inline {
            pad(indent, out);
        }
        word(key, out)?;
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                entries(inner, indent + 2, false, out)?;
            }
            // A list under a key starts at the key's column.
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                list(items, indent, out)?;
            }
            scalar => {
                out.push(' ');
                inline_value(scalar, out)?;
                out.push('\n');
            }
        }
    }
    Some(())
}

/// The items of a non-empty list at `indent`, each after `- `.
fn list(items: &[Value], indent: usize, out: &mut String) -> Option<()> {
    for item in items {
        pad(indent, out);
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => entries(map, indent + 2, true, out)?,
            Value::Array(inner) if !inner.is_empty() => return None,
            scalar => {
                inline_value(scalar, out)?;
                out.push('\n');
            }
        }
    }
    Some(())
}

/// A value written on the line of its key or dash: a word, digits or nothing in quotes, a
/// whole number, a boolean, or an empty map or list.
fn inline_value(value: &Value, out: &mut String) -> Option<()> {
    match value {
        // Quoted as YAML readers would otherwise read them: as a number, or as nothing.
        Value::String(text) if text.bytes().all(|b| b.is_ascii_digit()) => {
            let _ = write!(out, "\"{text}\"");
            Some(())
        }
        Value::String(text) => word(text, out),
        Value::Number(number) if number.is_i64() || number.is_u64() => {
            let _ = write!(out, "{number}");
            Some(())
        }
        Value::Bool(true) => text("true", out),
        Value::Bool(false) => text("false", out),
        Value::Object(map) if map.is_empty() => text("{}", out),
        Value::Array(items) if items.is_empty() => text("[]", out),
        _ => None,
    }
}

/// `text` unquoted, when it is certainly a plain string to every YAML reader: a letter, then
/// letters, digits, `-`, `.`, `_`, `/` and single spaces inside, and no word YAML 1.1 reads
/// as a boolean, a null or a float.
fn word(text: &str, out: &mut String) -> Option<()> {
    let bytes = text.as_bytes();
    let (&first, &last) = (bytes.first()?, bytes.last()?);
    if !first.is_ascii_alphabetic() || last == b' ' {
        return None;
    }
    // One pass over the bytes, a table lookup each: allowed ones, and no two spaces in a row.
    let mut previous = first;
    for &byte in &bytes[1..] {
        match WORD_BYTES[usize::from(byte)] {
            INSIDE => {}
            SPACE if previous != b' ' => {}
            _ => return None,
        }
        previous = byte;
    }
    if read_as_something_else(bytes) {
        return None;
    }
    out.push_str(text);
    Some(())
}

/// What a byte may be inside a word: [`INSIDE`], a [`SPACE`], or neither (0).
const WORD_BYTES: [u8; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'/') {
            table[byte] = INSIDE;
        }
        byte += 1;
    }
    table[b' ' as usize] = SPACE;
    table
};
const INSIDE: u8 = 1;
const SPACE: u8 = 2;

/// Whether `word` is one that starts with a letter and that some YAML reader takes for a
/// boolean, a null or a float; only the words of its length are compared.
fn read_as_something_else(word: &[u8]) -> bool {
    let candidates: &[&str] = match word.len() {
        1 => &["y", "n"],
        2 => &["no", "on"],
        3 => &["yes", "off", "nan", "inf"],
        4 => &["true", "null"],
        5 => &["false"],
        8 => &["infinity"],
        _ => return false,
    };
    candidates.iter().any(|candidate| word.eq_ignore_ascii_case(candidate.as_bytes()))
}

fn text(text: &str, out: &mut String) -> Option<()> {
    out.push_str(text);
    Some(())
}

fn pad(indent: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', indent));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn saphyr(object: &Value) -> String {
        let mut out = String::new();
        serde_saphyr::to_fmt_writer_with_options(&mut out, object, super::super::yaml_options())
            .unwrap();
        out
    }

    fn plain(object: &Value) -> Option<String> {
        let mut out = String::new();
        write(object, &mut out).then_some(out)
    }

    #[test]
    fn writes_what_serde_saphyr_writes() {
        let objects = [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"},
                   "data": {"key-0": "value 0 of object 0", "path/with.dots_and-dashes": "x"}}),
            json!({"rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get"]}]}),
            json!({"spec": {"replicas": 1, "port": "8080", "empty": "", "zero": "0777", "paused": false, "ready": true, "neg": -3,
                   "volumes": [{"emptyDir": {}, "name": "home"}, {"name": "none", "items": []}],
                   "template": {"spec": {"containers": [{"args": ["worker", "start", "a b c"], "name": "c"}]}}}}),
            json!({"list": ["", "10", 10, true]}),
            json!({"long": "a long phrase of many words that goes on well past eighty characters and then some more"}),
            json!({"deep": [{"a": {"b": [{"c": {"d": "e"}}]}}]}),
        ];
        for object in &objects {
            assert_eq!(plain(object).as_deref(), Some(saphyr(object).as_str()), "{object}");
        }
    }

    #[test]
    fn every_string_it_writes_plain_is_plain_to_serde_saphyr() {
        let mut words: Vec<String> = [
            "a",
            "Z",
            "abc",
            "value 3 of object 12",
            "a.b",
            "a/b",
            "a_b",
            "x-1",
            "e5",
            "E1",
            "n0",
            "yesno",
            "onoff",
            "Nulls",
            "truey",
            "a.",
            "a-",
            "a/",
            "v1",
            "apps/v1",
            "rbac.authorization.k8s.io",
            "P1D",
            "T10",
        ]
        .map(str::to_owned)
        .to_vec();
        // Every short word of letters that YAML 1.1 might read as something else.
        for first in ["y", "Y", "n", "N", "o", "O", "t", "T", "f", "F", "i", "I"] {
            for rest in [
                "", "es", "ES", "o", "O", "n", "N", "ff", "FF", "rue", "alse", "nf", "nfinity",
                "ull",
            ] {
                words.push(format!("{first}{rest}"));
            }
        }
        for word in words {
            let object = json!({ word.clone(): word.clone() });
            if let Some(ours) = plain(&object) {
                assert_eq!(ours, saphyr(&object), "{word:?}");
            }
        }
    }

    #[test]
    fn every_word_read_as_something_else_is_refused_in_any_case() {
        let words = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"];
        for word in words.into_iter().chain(["infinity"]) {
            let capitalized = format!("{}{}", word[..1].to_uppercase(), &word[1..]);
            for variant in [word.to_owned(), word.to_uppercase(), capitalized] {
                assert_eq!(plain(&json!({ "key": variant })), None, "{variant}");
                assert_eq!(plain(&json!({ variant.clone(): "x" })), None, "{variant}");
            }
        }
        assert!(plain(&json!({ "key": "yesterday" })).is_some());
    }

    #[test]
    fn leaves_everything_else_to_serde_saphyr() {
        for value in [
            json!("0.0.0.0"),
            json!("1.5"),
            json!("a: b"),
            json!("a #b"),
            json!(" a"),
            json!("a "),
            json!("a  b"),
            json!("yes"),
            json!("Off"),
            json!("NULL"),
            json!("line\nbreak"),
            json!("-g"),
            json!(1.5),
            json!(null),
            json!([["nested"]]),
            json!("ü"),
        ] {
            assert_eq!(plain(&json!({ "key": value })), None, "{value}");
        }
        assert_eq!(plain(&json!({ "10": "x" })), None);
        assert_eq!(plain(&json!({ "": "x" })), None);
        assert_eq!(plain(&json!([])), None);
    }
}
