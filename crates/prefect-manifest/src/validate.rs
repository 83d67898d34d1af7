//! Checks an object a plugin hands over before it enters the graph, reporting every problem
//! with the field it is in ([`InvalidObject`]).
//!
//! An object must be a JSON object with
//! - a string `apiVersion` (`v1` or `group/version`) and a string `kind` (`Deployment`);
//! - `metadata.name`, a DNS-1123 subdomain: lower-case letters, digits, `-` and `.`, each
//!   dot-separated part starting and ending with a letter or digit, at most 253 characters;
//! - `metadata.namespace`, a DNS-1123 label (the same without `.`, at most 63 characters), when
//!   the kind is namespaced, and none when it is cluster-scoped ([`is_cluster_scoped`]); the
//!   plugin SDK always sets it, so a namespaced object without one is a mistake, not a default;
//! - `metadata.labels`, if present, a map whose keys are qualified names (an optional DNS
//!   subdomain prefix and `/`, then at most 63 of `[A-Za-z0-9._-]`, starting and ending with a
//!   letter or digit) and whose values are strings of at most 63 of `[A-Za-z0-9._-]`, empty or
//!   starting and ending with a letter or digit;
//! - `metadata.annotations`, if present, a map of strings whose keys are qualified names.
//!
//! A `null` namespace, labels or annotations counts as absent.

use serde_json::{Map, Value};

use crate::{ResourceKey, path};

/// The kinds that are cluster-scoped: they must not carry `metadata.namespace`. Every other kind
/// must.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PersistentVolume",
    "PriorityClass",
    "IngressClass",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "SecurityContextConstraints",
];

/// Whether objects of `kind` are cluster-scoped (have no namespace). Custom resources are taken
/// to be namespaced.
pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

/// One problem with an object, naming the field it is in and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidObject {
    /// The item is not a JSON object at all.
    #[error("the item is {found}, not a Kubernetes object: return each resource as a JSON object")]
    NotAnObject {
        /// What the item is instead: `a string`, `a list`, ...
        found: &'static str,
    },
    /// A required field is absent (or `null`).
    #[error("{field} is missing: {advice}")]
    Missing {
        /// The field's path, such as `metadata.name`.
        field: String,
        /// What to set it to.
        advice: &'static str,
    },
    /// A field holds a value of the wrong type.
    #[error("{field} is {found}: make it {expected}")]
    WrongType {
        /// The field's path, such as `metadata.labels["replicas"]`.
        field: String,
        /// What the field holds: `a number`, `a list`, ...
        found: &'static str,
        /// What it must hold: `a string`, `a map of strings`, ...
        expected: &'static str,
    },
    /// A string field's value breaks the rules for that field.
    #[error("{field} {value:?} is not a valid {what}: {advice}")]
    InvalidValue {
        /// The field's path, such as `metadata.name`.
        field: String,
        /// The offending value.
        value: String,
        /// What the value is meant to be: `name`, `namespace`, `label value`, ...
        what: &'static str,
        /// Which rule it breaks, said as what to do.
        advice: String,
    },
    /// A key of a labels or annotations map breaks the rules for keys.
    #[error("{field} has the key {key:?}, which is not a valid {what}: {advice}")]
    InvalidKey {
        /// The map's path: `metadata.labels` or `metadata.annotations`.
        field: String,
        /// The offending key.
        key: String,
        /// `label key` or `annotation key`.
        what: &'static str,
        /// Which rule it breaks, said as what to do.
        advice: String,
    },
    /// A cluster-scoped object carries a namespace.
    #[error(
        "metadata.namespace {namespace:?} is set, but kind {kind} is cluster-scoped: remove metadata.namespace"
    )]
    NamespaceOnClusterScoped {
        /// The object's kind.
        kind: String,
        /// The namespace it carries.
        namespace: String,
    },
    /// A namespaced object has no namespace.
    #[error(
        "metadata.namespace is missing, but kind {kind} is namespaced: set metadata.namespace to the release namespace"
    )]
    MissingNamespace {
        /// The object's kind.
        kind: String,
    },
}

/// Checks all of `object` and returns its key, or every problem found.
pub fn validate(object: &Value) -> Result<ResourceKey, Vec<InvalidObject>> {
    match check(object) {
        (Some(key), problems) if problems.is_empty() => Ok(key),
        (_, problems) => Err(problems),
    }
}

/// Checks all of `object`: its key when `apiVersion`, `kind` and `metadata.name` are strings
/// (even if some value is invalid, so that messages can name the object), and every problem.
pub(crate) fn check(object: &Value) -> (Option<ResourceKey>, Vec<InvalidObject>) {
    let mut problems = Vec::new();
    let key = identity(object, &mut problems);
    if let Some(metadata) = object.get("metadata").and_then(Value::as_object) {
        string_map(metadata, "labels", "label key", Some(label_value), &mut problems);
        string_map(metadata, "annotations", "annotation key", None, &mut problems);
    }
    (key, problems)
}

/// Checks the fields a [`ResourceKey`] is made of and returns the key when they are strings.
pub(crate) fn identity(object: &Value, problems: &mut Vec<InvalidObject>) -> Option<ResourceKey> {
    let Some(object) = object.as_object() else {
        problems.push(InvalidObject::NotAnObject { found: type_name(object) });
        return None;
    };
    let api_version = string_field(
        object,
        "",
        "apiVersion",
        r#"set it to the object's API version, such as "apps/v1""#,
        problems,
    );
    if let Some(api_version) = api_version
        && (api_version.split('/').count() > 2 || api_version.split('/').any(str::is_empty))
    {
        problems.push(InvalidObject::InvalidValue {
            field: "apiVersion".to_owned(),
            value: api_version.to_owned(),
            what: "API version",
            advice: r#"use "v1" for the core group or "group/version""#.to_owned(),
        });
    }
    let kind = string_field(
        object,
        "",
        "kind",
        r#"set it to the object's kind, such as "Deployment""#,
        problems,
    );
    if let Some(kind) = kind
        && !(kind.starts_with(|c: char| c.is_ascii_uppercase())
            && kind.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        problems.push(InvalidObject::InvalidValue {
            field: "kind".to_owned(),
            value: kind.to_owned(),
            what: "kind",
            advice: r#"use the kind's CamelCase name, such as "Deployment""#.to_owned(),
        });
    }

    let metadata = match object.get("metadata") {
        None | Some(Value::Null) => {
            problems.push(InvalidObject::Missing {
                field: "metadata".to_owned(),
                advice: "set metadata.name and, for a namespaced kind, metadata.namespace",
            });
            return None;
        }
        Some(Value::Object(metadata)) => metadata,
        Some(other) => {
            problems.push(wrong_type("metadata", other, "a map"));
            return None;
        }
    };
    let name = string_field(metadata, "metadata", "name", "give the object a name", problems);
    if let Some(name) = name
        && let Err(advice) = subdomain(name)
    {
        problems.push(invalid("metadata.name", name, "name", advice));
    }
    let namespace = match metadata.get("namespace") {
        None | Some(Value::Null) => None,
        Some(Value::String(namespace)) => {
            if let Err(advice) = dns_label(namespace) {
                problems.push(invalid("metadata.namespace", namespace, "namespace", advice));
            }
            Some(namespace.as_str())
        }
        Some(other) => {
            problems.push(wrong_type("metadata.namespace", other, "a string"));
            None
        }
    };
    if let Some(kind) = kind {
        match (is_cluster_scoped(kind), namespace) {
            (true, Some(namespace)) => problems.push(InvalidObject::NamespaceOnClusterScoped {
                kind: kind.to_owned(),
                namespace: namespace.to_owned(),
            }),
            // A namespace of the wrong type was reported above.
            (false, None) if metadata.get("namespace").is_none_or(Value::is_null) => {
                problems.push(InvalidObject::MissingNamespace { kind: kind.to_owned() });
            }
            _ => {}
        }
    }
    Some(ResourceKey::new(api_version?, kind?, namespace, name?))
}

/// The string at `parent.field`, reporting it when it is missing or not a string.
fn string_field<'a>(
    map: &'a Map<String, Value>,
    parent: &str,
    field: &str,
    advice: &'static str,
    problems: &mut Vec<InvalidObject>,
) -> Option<&'a str> {
    let at = || path::field(parent, field);
    match map.get(field) {
        None | Some(Value::Null) => {
            problems.push(InvalidObject::Missing { field: at(), advice });
            None
        }
        Some(Value::String(value)) if value.is_empty() => {
            problems.push(InvalidObject::Missing { field: at(), advice });
            None
        }
        Some(Value::String(value)) => Some(value),
        Some(other) => {
            problems.push(wrong_type(&at(), other, "a string"));
            None
        }
    }
}

/// Checks `metadata.<field>`, a map of strings whose keys are qualified names; each value is
/// checked with `value_rule` if given.
fn string_map(
    metadata: &Map<String, Value>,
    field: &str,
    key_what: &'static str,
    value_rule: Option<Rule>,
    problems: &mut Vec<InvalidObject>,
) {
    // Written out only for a problem: every object has labels, few have bad ones.
    let at = || path::field("metadata", field);
    let map = match metadata.get(field) {
        None | Some(Value::Null) => return,
        Some(Value::Object(map)) => map,
        Some(other) => {
            problems.push(wrong_type(&at(), other, "a map of strings"));
            return;
        }
    };
    for (key, value) in map {
        if let Err(advice) = qualified_name(key) {
            problems.push(InvalidObject::InvalidKey {
                field: at(),
                key: key.clone(),
                what: key_what,
                advice,
            });
        }
        let value_at = || path::field(&at(), key);
        match (value, value_rule) {
            (Value::String(value), Some(rule)) => {
                if let Err(advice) = rule(value) {
                    problems.push(invalid(&value_at(), value, "label value", advice));
                }
            }
            (Value::String(_), None) => {}
            (other, _) => problems.push(wrong_type(&value_at(), other, "a string (quote it)")),
        }
    }
}

/// A rule a string must follow: `Err` says what to do to follow it.
type Rule = fn(&str) -> Result<(), String>;

/// A DNS-1123 subdomain, as `metadata.name` must be.
fn subdomain(name: &str) -> Result<(), String> {
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.') {
        return Err("use lower-case letters, digits, '-' and '.'".to_owned());
    }
    if !name.split('.').all(starts_and_ends_alphanumeric) {
        return Err(
            "start and end it, and each part between dots, with a lower-case letter or digit"
                .to_owned(),
        );
    }
    at_most(name, 253)
}

/// A DNS-1123 label, as `metadata.namespace` must be.
pub(crate) fn dns_label(name: &str) -> Result<(), String> {
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err("use lower-case letters, digits and '-'".to_owned());
    }
    if !starts_and_ends_alphanumeric(name) {
        return Err("start and end it with a lower-case letter or digit".to_owned());
    }
    at_most(name, 63)
}

/// A label or annotation key: an optional DNS subdomain prefix and `/`, then a name.
fn qualified_name(key: &str) -> Result<(), String> {
    let name = match key.split_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() {
                return Err("put a DNS prefix before '/', or remove the '/'".to_owned());
            }
            subdomain(prefix).map_err(|advice| format!("in the prefix before '/', {advice}"))?;
            name
        }
        None => key,
    };
    if name.is_empty() {
        return Err("put a name after the '/'".to_owned());
    }
    if name.contains('/') {
        return Err("use at most one '/', between the prefix and the name".to_owned());
    }
    label_value(name)
}

/// A label value, which may be empty; also the name part of a qualified name.
fn label_value(value: &str) -> Result<(), String> {
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err("use letters, digits, '-', '_' and '.'".to_owned());
    }
    if !value.is_empty() && !starts_and_ends_alphanumeric(value) {
        return Err("start and end it with a letter or digit".to_owned());
    }
    at_most(value, 63)
}

fn starts_and_ends_alphanumeric(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn at_most(text: &str, limit: usize) -> Result<(), String> {
    if text.len() > limit {
        return Err(format!("use at most {limit} characters, not {}", text.len()));
    }
    Ok(())
}

fn invalid(field: &str, value: &str, what: &'static str, advice: String) -> InvalidObject {
    InvalidObject::InvalidValue { field: field.to_owned(), value: value.to_owned(), what, advice }
}

fn wrong_type(field: &str, found: &Value, expected: &'static str) -> InvalidObject {
    InvalidObject::WrongType { field: field.to_owned(), found: type_name(found), expected }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests;
