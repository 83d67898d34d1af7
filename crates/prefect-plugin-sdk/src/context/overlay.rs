//! A typed change laid over the JSON it was read from, so that a plugin built against an older
//! Kubernetes type does not delete the fields that type does not model.
//!
//! [`overlay`] compares the object as the type read it (`before`) with the object after the
//! plugin's change (`after`), and carries only the differences into the original JSON:
//!
//! - a field the type does not model is never in `before` nor `after`, so it is kept;
//! - a field the plugin changed or added takes the new value, merged the same way when it is a
//!   map or a list (so a newer field of a container survives a change of its image);
//! - a field the plugin cleared (`None`, which k8s-openapi leaves out of its JSON) is removed,
//!   with whatever it held, unknown fields included: clearing is a deliberate act;
//! - list items are paired by their `name` when they have one (containers, ports, volumes,
//!   environment variables), else by position when the list kept its length; an item with no
//!   counterpart is written as the type wrote it.

use serde_json::Value;

/// `original` with the differences between `before` and `after` applied.
pub fn overlay(original: &Value, before: &Value, after: &Value) -> Value {
    if before == after {
        return original.clone();
    }
    match (original, before, after) {
        (Value::Object(original), Value::Object(before), Value::Object(after)) => {
            // In the order the type writes its fields, as a typed change always was; the
            // fields it does not model after them.
            let mut merged = serde_json::Map::new();
            for (key, new) in after {
                let value = match (original.get(key), before.get(key)) {
                    (Some(old), Some(typed)) => overlay(old, typed, new),
                    _ => new.clone(),
                };
                merged.insert(key.clone(), value);
            }
            for (key, old) in original {
                if !before.contains_key(key) && !merged.contains_key(key) {
                    merged.insert(key.clone(), old.clone());
                }
            }
            Value::Object(merged)
        }
        (Value::Array(original), Value::Array(before), Value::Array(after))
            if original.len() == before.len() =>
        {
            let same_length = before.len() == after.len();
            let items = after.iter().enumerate().map(|(index, new)| {
                let counterpart = match name(new) {
                    Some(name) => unique_by_name(before, name),
                    None if same_length => Some(index),
                    None => None,
                };
                match counterpart {
                    Some(at) => overlay(&original[at], &before[at], new),
                    None => new.clone(),
                }
            });
            Value::Array(items.collect())
        }
        _ => after.clone(),
    }
}

fn name(item: &Value) -> Option<&str> {
    item.get("name").and_then(Value::as_str)
}

/// The index of the one item of `items` called `wanted`; `None` if none or several are.
fn unique_by_name(items: &[Value], wanted: &str) -> Option<usize> {
    let mut found = items.iter().enumerate().filter(|(_, item)| name(item) == Some(wanted));
    match (found.next(), found.next()) {
        (Some((index, _)), None) => Some(index),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_fields_are_kept_and_changes_applied() {
        let original =
            json!({ "a": 1, "new": { "x": 1 }, "list": [{ "name": "c", "b": 1, "new": true }] });
        let before = json!({ "a": 1, "list": [{ "name": "c", "b": 1 }] });
        let after = json!({ "a": 2, "list": [{ "name": "d" }, { "name": "c", "b": 3 }] });
        assert_eq!(
            overlay(&original, &before, &after),
            json!({
                "a": 2,
                "new": { "x": 1 },
                "list": [{ "name": "d" }, { "name": "c", "b": 3, "new": true }],
            })
        );
    }

    #[test]
    fn a_cleared_field_is_removed_with_what_it_held() {
        let original = json!({ "a": { "known": 1, "new": 2 }, "b": 1 });
        let before = json!({ "a": { "known": 1 }, "b": 1 });
        let after = json!({ "b": 1 });
        assert_eq!(overlay(&original, &before, &after), json!({ "b": 1 }));
    }

    #[test]
    fn unnamed_items_pair_by_position_only_when_the_length_is_kept() {
        let original = json!([{ "k": 1, "new": 1 }, { "k": 2, "new": 2 }]);
        let before = json!([{ "k": 1 }, { "k": 2 }]);
        assert_eq!(
            overlay(&original, &before, &json!([{ "k": 1 }, { "k": 3 }])),
            json!([{ "k": 1, "new": 1 }, { "k": 3, "new": 2 }])
        );
        assert_eq!(
            overlay(&original, &before, &json!([{ "k": 0 }, { "k": 1 }, { "k": 2 }])),
            json!([{ "k": 0 }, { "k": 1 }, { "k": 2 }])
        );
    }
}
