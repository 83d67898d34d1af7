//! [`documented_yaml`]: a section's defaults as a commented YAML file a user can copy.

use serde_json::{Map, Value};

use crate::emit;

/// Descriptions are wrapped to keep comment lines within this many columns.
const WIDTH: usize = 96;

/// The `defaults` of section `section` as YAML a user can copy into a values file: under a
/// top-level `section:` key, nested by two spaces, each key preceded by its schema
/// `description` as `# ` comment lines (wrapped at 96 columns).
///
/// - Empty mappings and lists are written `{}` and `[]`; a default of `null` (an `Option` left
///   unset) is written `null`.
/// - A property of the schema that has no default at all is shown commented out, after its
///   description: `# host:`. The output is thus exactly the defaults: reading it with
///   [`Layer::from_yaml_str`](crate::Layer::from_yaml_str) gives `{section: defaults}`.
/// - Strings that a YAML 1.1 or 1.2 reader could take for something else (`on`, `yes`, `no`,
///   `~`, `1.0`, `0777`, the empty string...) are double-quoted.
/// - Items of lists are written without comments.
pub fn documented_yaml(section: &str, schema: &Value, defaults: &Value) -> String {
    let mut out = String::new();
    if let Some(description) = description(schema) {
        comment(&mut out, 0, description);
    }
    entry(&mut out, 0, section, defaults, Some(schema));
    out
}

/// Writes `key: value` at `indent`, with the value's descendants documented by `schema`.
fn entry(out: &mut String, indent: usize, key: &str, value: &Value, schema: Option<&Value>) {
    let pad = " ".repeat(indent);
    let key = emit::string(key);
    match emit::inline(value) {
        Some(scalar) => out.push_str(&format!("{pad}{key}: {scalar}\n")),
        None => {
            out.push_str(&format!("{pad}{key}:\n"));
            match value {
                Value::Object(map) => mapping(out, indent + 2, map, schema),
                Value::Array(items) => list(out, indent + 2, items),
                _ => {}
            }
        }
    }
}

/// Writes the entries of `map` at `indent`, each after its description; then the schema's
/// properties that have no default, commented out.
fn mapping(out: &mut String, indent: usize, map: &Map<String, Value>, schema: Option<&Value>) {
    let mut written = 0;
    for (key, value) in map {
        let property = schema.and_then(|s| property(s, key));
        let description = property.and_then(description);
        if indent == 2 && written > 0 {
            // A blank line between the entries of the section, as in Helm's values files.
            out.push('\n');
        }
        written += 1;
        if let Some(description) = description {
            comment(out, indent, description);
        }
        entry(out, indent, key, value, property);
    }
    let Some(schema) = schema else { return };
    for (key, property) in properties(schema) {
        if map.contains_key(key) {
            continue;
        }
        if indent == 2 && written > 0 {
            out.push('\n');
        }
        written += 1;
        if let Some(description) = description(property) {
            comment(out, indent, description);
        }
        comment(out, indent, &format!("{}:", emit::string(key)));
    }
}

/// Writes the items of `items` at `indent`, as `- item`.
fn list(out: &mut String, indent: usize, items: &[Value]) {
    let pad = " ".repeat(indent);
    for item in items {
        if let Some(scalar) = emit::inline(item) {
            out.push_str(&format!("{pad}- {scalar}\n"));
            continue;
        }
        // Write the item two columns deeper, then put "- " on its first line.
        let mut nested = String::new();
        match item {
            Value::Object(map) => mapping(&mut nested, indent + 2, map, None),
            Value::Array(items) => list(&mut nested, indent + 2, items),
            _ => {}
        }
        out.push_str(&pad);
        out.push_str("- ");
        out.push_str(nested.get(indent + 2..).unwrap_or_default());
    }
}

/// Writes `text` as `# ` comment lines at `indent`, wrapped at [`WIDTH`] columns.
fn comment(out: &mut String, indent: usize, text: &str) {
    let pad = " ".repeat(indent);
    let width = WIDTH.saturating_sub(indent + 2).max(40);
    for paragraph in text.trim().lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                out.push_str(&format!("{pad}# {line}\n"));
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if line.is_empty() {
            out.push_str(&format!("{pad}#\n"));
        } else {
            out.push_str(&format!("{pad}# {line}\n"));
        }
    }
}

/// The schema of property `key` of a mapping described by `schema`, looking through the
/// non-null branches of `anyOf`/`oneOf`/`allOf` and into `additionalProperties`.
fn property<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    if let Some(found) = schema.get("properties").and_then(|p| p.get(key)) {
        return Some(found);
    }
    let mut branches = branches(schema, &["anyOf", "oneOf", "allOf"]);
    if let Some(found) = branches.find_map(|branch| property(branch, key)) {
        return Some(found);
    }
    schema.get("additionalProperties").filter(|a| a.is_object())
}

/// The properties of a mapping described by `schema`, including those of its `anyOf` and
/// `allOf` branches (not `oneOf`: those are alternatives, e.g. the variants of an enum).
fn properties(schema: &Value) -> Vec<(&String, &Value)> {
    let mut all: Vec<(&String, &Value)> =
        schema.get("properties").and_then(Value::as_object).into_iter().flatten().collect();
    for branch in branches(schema, &["anyOf", "allOf"]) {
        for (key, property) in properties(branch) {
            if !all.iter().any(|(k, _)| *k == key) {
                all.push((key, property));
            }
        }
    }
    all
}

/// The description of `schema` (`schemars` puts a field's doc comment on its property, also
/// when the property is an `anyOf`).
fn description(schema: &Value) -> Option<&str> {
    schema.get("description").and_then(Value::as_str).filter(|d| !d.trim().is_empty())
}

/// The subschemas of `schema` under `keywords` (`anyOf`...).
fn branches<'a>(schema: &'a Value, keywords: &'a [&str]) -> impl Iterator<Item = &'a Value> {
    keywords.iter().filter_map(|k| schema.get(*k).and_then(Value::as_array)).flatten()
}
