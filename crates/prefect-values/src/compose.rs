//! [`values_file_schema`]: one JSON Schema for a whole values file, for editors and standard
//! validators.

use serde_json::{Map, Value, json};

use crate::{Section, reference};

/// The JSON Schema (draft 2020-12) of a values file whose sections are `sections`: each
/// section's schema is the property of its name, and no other top-level key is allowed.
///
/// A section's references to itself (`#/$defs/name`, `#`) are rewritten to where the section
/// now sits (`#/properties/NAME/$defs/name`), and its `$schema` is dropped (the document says
/// it once), so that every reference resolves in the one document, without fetching anything.
/// A section with an `$id` of its own is an embedded resource that resolves its references
/// itself, and is kept as it is. A `null` schema (a plugin that gives none) accepts anything.
pub fn values_file_schema(sections: &[Section]) -> Value {
    let mut properties = Map::new();
    for section in sections {
        let schema = match &section.schema {
            Value::Null => Value::Bool(true),
            schema if schema.get("$id").is_some() => schema.clone(),
            schema => {
                let prefix = format!("/properties/{}", reference::escape(&section.name));
                let mut moved = reference::moved(schema, &prefix);
                if let Some(object) = moved.as_object_mut() {
                    object.remove("$schema");
                }
                moved
            }
        };
        properties.insert(section.name.clone(), schema);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "prefectctl values",
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    })
}
