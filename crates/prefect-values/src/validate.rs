//! [`validate`]: the user's values against the sections in the stack and their schemas.

use std::borrow::Cow;

use serde_json::Value;

use crate::schema::{self, Finding};
use crate::standard;
use crate::suggest::closest;
use crate::{Problem, Segment, Severity, ValuePath, Values};

/// One top-level section of the values: `global` or a plugin's, with its JSON Schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The section's key at the top level of the values, e.g. `server`.
    pub name: String,
    /// The JSON Schema (draft 2020-12) of the section's values, as `schemars` generates it
    /// (references only within the schema itself, such as `#/$defs/name`; a `null` schema, from
    /// a plugin that gives none, accepts anything).
    pub schema: Value,
}

/// Every problem in `values` (not only the first), in the order of the values.
///
/// - A top-level key that is not one of `sections` is an unknown section: an
///   [`Severity::Error`] when it is one of prefect-helm's top-level keys ([`HELM_SECTIONS`]),
///   naming `prefectctl values import --from-helm`, or when its name is close to a section's
///   ("did you mean"), otherwise
///   a [`Severity::Warning`] that lists the sections (it may belong to a plugin that is not in
///   this stack).
/// - Each section's values are checked against its schema, every keyword of it: see
///   [`crate::schema`] for the rules and messages, and `standard` for the rest. All
///   those problems are errors.
/// - A section the user did not write is checked for the `required` keys of its top that its
///   defaults lack (the user must add those).
pub fn validate(values: &Values, sections: &[Section]) -> Vec<Problem> {
    let mut findings = Vec::new();
    let top = values.tree().as_object();
    if let Some(top) = top {
        for (name, value) in top {
            let path = ValuePath::root().key(name);
            match sections.iter().find(|section| section.name == *name) {
                Some(section) => check_section(section, Some(value), &path, &mut findings),
                None => findings.push(unknown_section(name, sections, path)),
            }
        }
    }
    for section in sections {
        if top.is_none_or(|top| !top.contains_key(&section.name)) {
            let path = ValuePath::root().key(&section.name);
            check_section(section, None, &path, &mut findings);
        }
    }
    findings
        .into_iter()
        .map(|finding| Problem {
            severity: finding.severity,
            origin: values.origin(&finding.path).cloned(),
            path: finding.path.to_string(),
            message: finding.message,
        })
        .collect()
}

/// Top-level keys of prefect-helm's `prefect-server` and `prefect-worker` charts that are not
/// sections of prefectctl's values, with where prefectctl keeps what they set. Left as a
/// warning, such a section is ignored, and the release quietly runs without it (a worker
/// polling the default pool instead of `worker.config.workPool`).
pub const HELM_SECTIONS: &[(&str, &str)] = &[
    ("worker", "agent"),
    ("postgresql", "postgres (--plugin postgres)"),
    ("service", "server.service"),
    ("ingress", "server.ingress"),
    ("serviceAccount", "server.serviceAccount or agent.serviceAccount"),
    ("sqlite", "server.sqlite"),
    ("secret", "server.externalDatabase"),
    ("externalDatabase", "server.externalDatabase"),
    ("migrations", "server.migrations"),
    ("backgroundServices", "server.backgroundServices"),
    ("gateway", "server.gateway"),
    ("httproute", "server.httproute"),
    ("role", "agent.role"),
    ("rolebinding", "agent.rolebinding"),
    ("commonLabels", "global.commonLabels"),
    ("commonAnnotations", "global.commonAnnotations"),
    ("selfHostedServer", "agent.serverApiConfig"),
    ("selfHostedServerApiConfig", "agent.serverApiConfig"),
    ("cloudApiConfig", "agent.cloudApiConfig"),
    ("nameOverride", "--release"),
    ("fullnameOverride", "--release"),
    ("namespaceOverride", "--namespace"),
];

/// Appends the problems of `section`, whose values are `user` (if the user set any), to `out`:
/// [`crate::schema`]'s, then what only the complete check finds.
fn check_section(
    section: &Section,
    user: Option<&Value>,
    path: &ValuePath,
    out: &mut Vec<Finding>,
) {
    if section.schema.is_null() {
        return;
    }
    let mut found = Vec::new();
    if let Some(user) = user {
        schema::check(user, &with_references_inlined(&section.schema), path, &mut found);
    }
    // An unwritten section can only lack a key its schema requires at the top.
    let unwritten = user.is_none() && !may_require_keys(&section.schema);
    if unwritten || schema::covers(&section.schema) {
        out.extend(found);
        return;
    }
    match standard::compile(&section.schema) {
        Ok(validator) => {
            let mut more = Vec::new();
            standard::check(&validator, &section.schema, user, path, &found, &mut more);
            found.extend(more);
        }
        Err(err) => found.push(Finding::error(
            path.clone(),
            format!(
                "the plugin's values schema cannot be used ({err}), so these values cannot be \
                 checked: tell the plugin's authors"
            ),
        )),
    }
    // In the order of the values, as the user reads them.
    found.sort_by_cached_key(|finding| position(user, &finding.path.segments()[1..]));
    out.extend(found);
}

/// Where the value at `segments` comes in `value`, for sorting: the index of each key or item
/// on the way (a value not there comes after those that are).
fn position(value: Option<&Value>, segments: &[Segment]) -> Vec<usize> {
    let mut here = value;
    let mut position = Vec::with_capacity(segments.len());
    for segment in segments {
        let (index, next) = match (here, segment) {
            (Some(Value::Object(map)), Segment::Key(key)) => {
                match map.keys().position(|k| k == key) {
                    Some(index) => (index, map.get(key)),
                    None => (usize::MAX, None),
                }
            }
            (Some(Value::Array(items)), Segment::Index(index)) => (*index, items.get(*index)),
            _ => (usize::MAX, None),
        };
        position.push(index);
        here = next;
    }
    position
}

/// Whether `schema` may require keys of the section itself (`required` at its top, or keywords
/// that may bring one there), which a user must set even without writing the section.
fn may_require_keys(schema: &Value) -> bool {
    ["required", "dependentRequired", "$ref", "allOf", "anyOf", "oneOf", "if"]
        .iter()
        .any(|keyword| schema.get(keyword).is_some())
}

/// `schema` with its references to itself replaced by what they name (a circular one is
/// left), so that [`crate::schema`]'s rules see through them.
fn with_references_inlined(schema: &Value) -> Cow<'_, Value> {
    if !has_reference(schema) {
        return Cow::Borrowed(schema);
    }
    match jsonschema::options().offline().dereference(schema) {
        Ok(inlined) => Cow::Owned(inlined),
        // The complete check says why.
        Err(_) => Cow::Borrowed(schema),
    }
}

fn has_reference(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => map.iter().any(|(k, v)| k == "$ref" || has_reference(v)),
        Value::Array(items) => items.iter().any(has_reference),
        _ => false,
    }
}

fn unknown_section(name: &str, sections: &[Section], path: ValuePath) -> Finding {
    if let Some((_, ours)) = HELM_SECTIONS.iter().find(|(helm, _)| *helm == name) {
        return Finding::error(
            path,
            format!(
                "`{name}` is a section of prefect-helm's values, not prefectctl's (here: \
                 {ours}): convert the file with `prefectctl values import --from-helm FILE`"
            ),
        );
    }
    let names = sections.iter().map(|section| section.name.as_str());
    if let Some(close) = closest(name, names.clone()) {
        return Finding::error(path, format!("unknown section (did you mean `{close}`?)"));
    }
    let list: Vec<String> = names.map(|name| format!("`{name}`")).collect();
    let message = if list.is_empty() {
        "unknown section (add --plugin NAME to use a plugin's section)".to_owned()
    } else {
        format!(
            "unknown section (sections are {}; add --plugin NAME to use another plugin's section)",
            list.join(", ")
        )
    };
    Finding { path, severity: Severity::Warning, message }
}
