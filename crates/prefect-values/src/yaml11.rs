//! YAML 1.1 booleans, read as Helm reads them where a boolean is expected.
//!
//! Helm's YAML library reads YAML 1.1, where a plain `y`, `Y`, `yes`, `Yes`, `YES`, `on`, `On`,
//! `ON` is `true` and `n`, `N`, `no`, `No`, `NO`, `off`, `Off`, `OFF` is `false`. Values files
//! here are YAML 1.2, where those are strings, so a chart user's `enabled: yes` would be refused.
//! [`read_yaml11_booleans`] reads such a scalar as the boolean where the section's schema
//! accepts a boolean and not a string, with a warning that says what to write; where a string
//! is accepted (`tag: yes`, or a key that takes anything) the string is kept, as YAML 1.2 and
//! `!!str` or quotes would keep it. Quoted scalars and `--set` values are never changed: Helm
//! keeps those as strings too.

use serde_json::Value;

use crate::schema;
use crate::{Problem, Section, Segment, Severity, ValuePath, Values};

/// The boolean YAML 1.1 reads the plain scalar `text` as, when YAML 1.2 reads it as a string.
pub(crate) fn boolean(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// Reads as booleans the plain `yes`, `off`... of values files in `values` where the schema of
/// their section (in `sections`) expects a boolean, and returns a warning for each, with its
/// file and line: `values.yaml:3: server.ingress.enabled: read `yes` as true, as Helm (YAML
/// 1.1) does; write `true``. Call it after [`merge`](crate::merge) and before
/// [`validate`](crate::validate), which would otherwise refuse those strings.
pub fn read_yaml11_booleans(values: &mut Values, sections: &[Section]) -> Vec<Problem> {
    let marked: Vec<ValuePath> = values.origins.yaml11_booleans().cloned().collect();
    let mut warnings = Vec::new();
    for path in marked {
        let Some((Segment::Key(name), below)) = path.segments().split_first() else { continue };
        let Some(section) = sections.iter().find(|section| section.name == *name) else {
            continue;
        };
        let Some(value) = value_mut(&mut values.tree, path.segments()) else { continue };
        let Some((text, boolean)) = value.as_str().and_then(|t| Some((t.to_owned(), boolean(t)?)))
        else {
            continue;
        };
        if !expects_boolean(&schemas_at(&section.schema, below), &text) {
            continue;
        }
        *value = Value::Bool(boolean);
        values.origins.unmark_yaml11_boolean(&path);
        warnings.push(Problem {
            severity: Severity::Warning,
            origin: values.origin(&path).cloned(),
            path: path.to_string(),
            message: format!(
                "read `{text}` as {boolean}, as Helm (YAML 1.1) does; write `{boolean}` (YAML 1.2 reads `{text}` as a string)"
            ),
        });
    }
    warnings
}

/// Whether the `schemas` of one place all refuse the string `text` and one accepts a boolean.
fn expects_boolean(schemas: &[&Value], text: &str) -> bool {
    let accepts = |schema: &Value, value: &Value| {
        let mut findings = Vec::new();
        schema::check(value, schema, &ValuePath::root(), &mut findings);
        findings.is_empty()
    };
    let string = Value::String(text.to_owned());
    !schemas.is_empty()
        && schemas.iter().all(|schema| !accepts(schema, &string))
        && schemas.iter().any(|schema| accepts(schema, &Value::Bool(true)))
}

/// The schemas that may apply to the value at `segments` below a value with `schema`.
fn schemas_at<'a>(schema: &'a Value, segments: &[Segment]) -> Vec<&'a Value> {
    let mut current = vec![schema];
    for segment in segments {
        let mut next = Vec::new();
        for schema in current.into_iter().flat_map(branches) {
            let below = match segment {
                Segment::Key(key) => schema
                    .get("properties")
                    .and_then(|properties| properties.get(key))
                    .or_else(|| schema.get("additionalProperties")),
                Segment::Index(index) => schema
                    .get("prefixItems")
                    .and_then(|prefix| prefix.get(index))
                    .or_else(|| schema.get("items")),
            };
            next.extend(below);
        }
        current = next;
    }
    current
}

/// `schema` and, at any depth, the branches of its `anyOf`, `oneOf` and `allOf`.
fn branches(schema: &Value) -> Vec<&Value> {
    let mut all = vec![schema];
    for keyword in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(items)) = schema.get(keyword) {
            all.extend(items.iter().flat_map(branches));
        }
    }
    all
}

/// The value at `segments` of `tree`.
fn value_mut<'a>(tree: &'a mut Value, segments: &[Segment]) -> Option<&'a mut Value> {
    segments.iter().try_fold(tree, |node, segment| match segment {
        Segment::Key(key) => node.get_mut(key.as_str()),
        Segment::Index(index) => node.get_mut(*index),
    })
}
