//! [`validate`]: the user's values against the sections in the stack and their schemas.

use serde_json::Value;

use crate::schema::{self, Finding};
use crate::suggest::closest;
use crate::{Problem, Severity, ValuePath, Values};

/// One top-level section of the values: `global` or a plugin's, with its JSON Schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The section's key at the top level of the values, e.g. `server`.
    pub name: String,
    /// The JSON Schema (draft 2020-12, without `$ref`) of the section's values, as `schemars`
    /// generates it with `inline_subschemas`.
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
/// - Each section's values are checked against its schema; see [`crate::schema`] for the
///   rules. All those problems are errors.
pub fn validate(values: &Values, sections: &[Section]) -> Vec<Problem> {
    let mut findings = Vec::new();
    if let Value::Object(top) = values.tree() {
        for (name, value) in top {
            let path = ValuePath::root().key(name);
            match sections.iter().find(|section| section.name == *name) {
                Some(section) => schema::check(value, &section.schema, &path, &mut findings),
                None => findings.push(unknown_section(name, sections, path)),
            }
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
