//! A schema's references to itself (`$ref: "#/$defs/name"`): following them, and moving them
//! when the schema is placed inside another document.
//!
//! Only references within the schema are followed: prefectctl fetches no schema, so one that
//! names another document does not resolve (the complete check reports it).

use serde_json::{Map, Value};

/// The subschema of `root` that `reference` (`#`, `#/$defs/name`) names, if it is one of
/// `root`'s own.
pub(crate) fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    if pointer.contains('%') {
        return root.pointer(&percent_decoded(pointer)?);
    }
    root.pointer(pointer)
}

/// The subschemas of `root` that an evaluation path (`/properties/a/$ref/pattern`, as the
/// complete check reports it) passes through, from `root` on; `None` when it follows a
/// reference that does not resolve within `root`.
pub(crate) fn walk<'a>(root: &'a Value, evaluation_path: &str) -> Option<Vec<&'a Value>> {
    let mut visited = vec![root];
    let mut here = root;
    for segment in evaluation_path.split('/').skip(1) {
        let segment = unescape(segment);
        here = match (here, segment.as_str()) {
            (Value::Object(schema), "$ref" | "$dynamicRef") => {
                resolve(root, schema.get(segment.as_str())?.as_str()?)?
            }
            (Value::Object(schema), key) => schema.get(key)?,
            (Value::Array(items), index) => items.get(index.parse::<usize>().ok()?)?,
            _ => return None,
        };
        visited.push(here);
    }
    Some(visited)
}

/// `schema` with every reference to itself (`#`, `#/...`) made to point at the same place
/// once `schema` sits at `prefix` (a JSON Pointer such as `/properties/server`) in another
/// document. References under a subschema with its own `$id` resolve against that `$id`, and
/// the values of `default`, `const`, `enum` and `examples` are data, not schemas: neither is
/// changed.
pub(crate) fn moved(schema: &Value, prefix: &str) -> Value {
    match schema {
        Value::Object(map) => Value::Object(moved_object(map, prefix)),
        Value::Array(items) => Value::Array(items.iter().map(|i| moved(i, prefix)).collect()),
        other => other.clone(),
    }
}

fn moved_object(map: &Map<String, Value>, prefix: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        let value = match (key.as_str(), value) {
            ("$ref" | "$dynamicRef", Value::String(reference)) => match reference.strip_prefix('#')
            {
                Some(pointer) if pointer.is_empty() || pointer.starts_with('/') => {
                    Value::String(format!("#{prefix}{pointer}"))
                }
                _ => value.clone(),
            },
            ("default" | "const" | "enum" | "examples", _) => value.clone(),
            // Maps of names to schemas: a name such as `$ref` there is a property's.
            (
                "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas",
                Value::Object(schemas),
            ) => Value::Object(
                schemas
                    .iter()
                    .map(|(name, schema)| (name.clone(), moved_schema(schema, prefix)))
                    .collect(),
            ),
            _ => moved_schema_or_data(value, prefix),
        };
        out.insert(key.clone(), value);
    }
    out
}

/// A subschema: moved unless it starts a resource of its own (`$id`).
fn moved_schema(schema: &Value, prefix: &str) -> Value {
    if schema.get("$id").is_some() { schema.clone() } else { moved(schema, prefix) }
}

/// The value of another keyword: a schema (`items`, `not`), a list of them (`allOf`), or data
/// that holds no reference (`required`, `type`), which [`moved`] leaves as it is.
fn moved_schema_or_data(value: &Value, prefix: &str) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| moved_schema(i, prefix)).collect())
        }
        other => moved_schema(other, prefix),
    }
}

/// `name` as one segment of a JSON Pointer.
pub(crate) fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// A URI fragment's `%XX` escapes decoded; `None` when they are not valid UTF-8.
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) =
                text.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn references_follow_the_schema_to_its_new_place() {
        let schema = json!({
            "$defs": { "port": { "type": "integer" }, "$ref": { "type": "string" } },
            "properties": {
                "port": { "$ref": "#/$defs/port" },
                "self": { "$ref": "#" },
                "$ref": { "type": "string" },
                "list": { "type": "array", "items": { "$ref": "#/$defs/port" } },
                "either": { "anyOf": [{ "$ref": "#/$defs/port" }, { "type": "null" }] },
                "data": { "default": { "$ref": "#/kept" }, "const": { "$ref": "#" } },
                "other": { "$id": "https://example.com/x", "$ref": "#/kept" }
            }
        });
        let moved = moved(&schema, "/properties/server");
        assert_eq!(moved["properties"]["port"]["$ref"], "#/properties/server/$defs/port");
        assert_eq!(moved["properties"]["self"]["$ref"], "#/properties/server");
        assert_eq!(moved["properties"]["$ref"], json!({ "type": "string" }));
        assert_eq!(moved["$defs"]["$ref"], json!({ "type": "string" }));
        assert_eq!(
            moved["properties"]["list"]["items"]["$ref"],
            moved["properties"]["port"]["$ref"]
        );
        assert_eq!(
            moved["properties"]["either"]["anyOf"][0]["$ref"],
            moved["properties"]["port"]["$ref"]
        );
        assert_eq!(moved["properties"]["data"], schema["properties"]["data"]);
        assert_eq!(moved["properties"]["other"], schema["properties"]["other"]);
    }

    #[test]
    fn walks_through_references() {
        let schema = json!({
            "$defs": { "secret": { "type": "string", "writeOnly": true } },
            "properties": { "a b": { "$ref": "#/$defs/secret" }, "c": { "$ref": "#/missing" } }
        });
        let visited = walk(&schema, "/properties/a b/$ref/type").unwrap();
        assert_eq!(visited[3], &schema["$defs"]["secret"]);
        assert_eq!(visited[4], "string");
        assert_eq!(walk(&schema, "/properties/c/$ref/type"), None);
        assert_eq!(resolve(&schema, "#/%24defs/secret"), Some(&schema["$defs"]["secret"]));
    }
}
