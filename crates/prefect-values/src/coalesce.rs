//! [`coalesce`]: a section's defaults with the user's values over them, as Helm coalesces
//! `values.yaml` with user values.

use serde_json::{Map, Value};

/// The `defaults` of a section with the `user`'s values of that section over them.
///
/// - Mappings are merged key by key, at any depth; the user wins. Keys keep the defaults' order,
///   followed by the user's keys that have no default.
/// - A user `null` removes the key from the result, whether or not it has a default: this is
///   how a user removes a default such as `runAsUser: 1000`. (`null`s inside lists are kept.)
/// - Sequences and scalars replace; so does a user scalar or sequence given for a mapping, and a
///   user mapping given for a scalar (the user wins; validation reports the type).
/// - A `null` user value as a whole means "nothing set": the result is the defaults.
pub fn coalesce(defaults: &Value, user: &Value) -> Value {
    match (defaults, user) {
        (_, Value::Null) => defaults.clone(),
        (Value::Object(defaults), Value::Object(user)) => Value::Object(merge(defaults, user)),
        (_, user) => without_nulls(user),
    }
}

fn merge(defaults: &Map<String, Value>, user: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, default) in defaults {
        match user.get(key) {
            None => {
                out.insert(key.clone(), default.clone());
            }
            Some(Value::Null) => {}
            Some(value) => {
                out.insert(key.clone(), coalesce(default, value));
            }
        }
    }
    for (key, value) in user {
        if !defaults.contains_key(key) && !value.is_null() {
            out.insert(key.clone(), without_nulls(value));
        }
    }
    out
}

/// `value` without the null-valued keys of its mappings (lists are kept as they are).
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}
