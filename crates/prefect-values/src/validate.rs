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
///   [`Severity::Error`] with "did you mean" when its name is close to a section's, otherwise
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

fn unknown_section(name: &str, sections: &[Section], path: ValuePath) -> Finding {
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
