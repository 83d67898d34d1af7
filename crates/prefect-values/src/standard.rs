//! The complete check of a section against its JSON Schema: every keyword of draft 2020-12
//! (or of the draft the schema's `$schema` names), by the `jsonschema` crate, said in the
//! words of [`crate::schema`].
//!
//! [`crate::schema`] says what is wrong as users read it (did you mean, secrets never shown)
//! for the keywords values schemas use most; this check finds the rest (`pattern`, the `format`
//! of strings, `required`, references into `$defs`, `patternProperties`, `not`, `if`...). It
//! reads the section as the plugin will: the schema's documented `default`s under the user's
//! values ([`crate::coalesce`]), so that a `required` key with a default is given. Of what it
//! finds, it reports:
//!
//! - nothing at, above or under a value [`crate::schema`] reported (one message a value);
//! - nothing about a `null` (a user `null` removes a default);
//! - a value that is wrong only where the user set it: what the defaults alone get wrong is the
//!   plugin's to fix. A missing `required` key is the user's to add, wherever it is missing.
//!
//! A value under a `writeOnly` schema is never shown, nor one whose schema cannot be followed.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::{Map, Value};

use crate::describe::{alternatives, found, kind, plural, short, type_name};
use crate::schema::{Finding, HIDDEN, UNKNOWN_KEY, one_of, unknown_key};
use crate::{Segment, ValuePath, coalesce, reference};

/// `schema` compiled for the complete check, or why it cannot be (an invalid schema, a
/// reference that does not resolve).
pub(crate) fn compile(schema: &Value) -> Result<Validator, String> {
    jsonschema::options().offline().should_validate_formats(true).build(schema).map_err(|err| {
        match err.instance_path().as_str() {
            "" => err.masked().to_string(),
            at => format!("at {at}: {}", err.masked()),
        }
    })
}

/// Appends to `out` what the complete check finds in the section at `path` (the user's
/// values `user`, if any) beyond `reported`, [`crate::schema`]'s findings there.
pub(crate) fn check(
    validator: &Validator,
    schema: &Value,
    user: Option<&Value>,
    path: &ValuePath,
    reported: &[Finding],
    out: &mut Vec<Finding>,
) {
    let instance = coalesce(&documented_defaults(schema), user.unwrap_or(&Value::Null));
    let section = Section { schema, instance: &instance, user };
    let mut found = Vec::new();
    for error in validator.iter_errors(&instance) {
        section.findings(&error, &mut found);
    }
    for (relative, message, required) in found {
        let Some(at) = section.value_at(&relative) else { continue };
        let full = ValuePath::from([path.segments(), &relative].concat());
        let overlaps = |p: &Finding| p.path.starts_with(&full) || full.starts_with(&p.path);
        let repeated = out.iter().any(|p| p.path == full && p.message == message);
        if (at.is_null() && !required)
            || reported.iter().any(overlaps)
            || repeated
            || (!required && !section.is_users(&relative))
        {
            continue;
        }
        out.push(Finding::error(full, message));
    }
}

/// What a section's schema documents as its defaults: the root's `default`, or each
/// property's.
fn documented_defaults(schema: &Value) -> Value {
    if let Some(default) = schema.get("default") {
        return default.clone();
    }
    let defaults: Map<String, Value> = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, property)| Some((key.clone(), property.get("default")?.clone())))
        .collect();
    Value::Object(defaults)
}

/// One section being checked.
struct Section<'a> {
    schema: &'a Value,
    /// The values checked: the defaults with the user's over them.
    instance: &'a Value,
    user: Option<&'a Value>,
}

/// A message for the value at a path relative to the section, and whether it is about a
/// missing `required` key.
type Found = (Vec<Segment>, String, bool);

impl Section<'_> {
    /// The messages of `error`, appended to `out`.
    fn findings(&self, error: &ValidationError<'_>, out: &mut Vec<Found>) {
        let at = self.segments(error.instance_path().as_str());
        let secret = self.is_secret(error.evaluation_path().as_str());
        let value = error.instance();
        let shown = |what: String| {
            if secret { format!("{what}, found {} ({HIDDEN})", kind(value)) } else { what }
        };
        let message = match error.kind() {
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().map_or_else(|| property.to_string(), str::to_owned);
                out.push((at, format!("missing `{name}`"), true));
                return;
            }
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let empty = Map::new();
                let schema = self.keyword_schema(error.evaluation_path().as_str());
                let properties = schema
                    .and_then(|s| s.get("properties"))
                    .and_then(Value::as_object)
                    .unwrap_or(&empty);
                let patterns: Vec<String> = schema
                    .and_then(|s| s.get("patternProperties"))
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(pattern, _)| format!("`{pattern}`"))
                    .collect();
                for key in unexpected {
                    let mut key_path = at.clone();
                    key_path.push(Segment::Key(key.clone()));
                    let message = match (properties.is_empty(), patterns.is_empty()) {
                        (true, false) => {
                            format!("{UNKNOWN_KEY} (a key must match {})", alternatives(&patterns))
                        }
                        _ => unknown_key(key, properties),
                    };
                    out.push((key_path, message, false));
                }
                return;
            }
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                // The branch that comes closest says what to change: one whose type fits,
                // with the fewest problems.
                let misfit = |branch: &Vec<ValidationError<'_>>| {
                    branch.iter().any(|e| {
                        matches!(e.kind(), ValidationErrorKind::Type { .. })
                            && e.instance_path() == error.instance_path()
                    })
                };
                if let Some(closest) =
                    context.iter().filter(|c| !c.is_empty()).min_by_key(|c| (misfit(c), c.len()))
                {
                    let before = out.len();
                    for error in closest {
                        self.findings(error, out);
                    }
                    if out.len() > before {
                        return;
                    }
                }
                shown("not one of the forms this value may take".to_owned())
            }
            ValidationErrorKind::PropertyNames { error } => {
                let name = error.instance().as_str().unwrap_or_default().to_owned();
                let mut inner = Vec::new();
                self.findings(error, &mut inner);
                let why = inner.first().map_or("not allowed", |(_, message, _)| message);
                let mut key_path = at.clone();
                key_path.push(Segment::Key(name));
                out.push((key_path, format!("this key's name is not allowed: {why}"), false));
                return;
            }
            ValidationErrorKind::Type { kind } => {
                let names: Vec<String> = match kind {
                    TypeKind::Single(one) => vec![one.as_str().to_owned()],
                    TypeKind::Multiple(set) => set.iter().map(|t| t.as_str().to_owned()).collect(),
                };
                let names: Vec<String> = names
                    .iter()
                    .filter(|n| *n != "null")
                    .map(|n| type_name(n).to_owned())
                    .collect();
                let expected = format!("expected {}", alternatives(&names));
                if secret { shown(expected) } else { format!("{expected}, found {}", found(value)) }
            }
            ValidationErrorKind::Pattern { pattern } => {
                with_found(format!("expected text matching `{pattern}`"), value, secret)
            }
            ValidationErrorKind::Format { format } => {
                with_found(format!("expected text in the `{format}` format"), value, secret)
            }
            ValidationErrorKind::Enum { options } => {
                let allowed: Vec<&Value> = options.as_array().into_iter().flatten().collect();
                if secret { shown(expected_of(&allowed)) } else { one_of(&allowed, value) }
            }
            ValidationErrorKind::Constant { expected_value } => {
                if secret {
                    shown(expected_of(&[expected_value]))
                } else {
                    one_of(&[expected_value], value)
                }
            }
            ValidationErrorKind::Minimum { limit } => bound("at least", limit, value, secret),
            ValidationErrorKind::Maximum { limit } => bound("at most", limit, value, secret),
            ValidationErrorKind::ExclusiveMinimum { limit } => {
                bound("more than", limit, value, secret)
            }
            ValidationErrorKind::ExclusiveMaximum { limit } => {
                bound("less than", limit, value, secret)
            }
            ValidationErrorKind::MultipleOf { multiple_of } => {
                with_found(format!("expected a multiple of {multiple_of}"), value, secret)
            }
            ValidationErrorKind::MinLength { limit } => with_found(
                format!("expected at least {}", plural(*limit, "character")),
                value,
                secret,
            ),
            ValidationErrorKind::MaxLength { limit } => with_found(
                format!("expected at most {}", plural(*limit, "character")),
                value,
                secret,
            ),
            ValidationErrorKind::MinItems { limit } => count("at least", *limit, "item", value),
            ValidationErrorKind::MaxItems { limit } => count("at most", *limit, "item", value),
            ValidationErrorKind::MinProperties { limit } => count("at least", *limit, "key", value),
            ValidationErrorKind::MaxProperties { limit } => count("at most", *limit, "key", value),
            ValidationErrorKind::UniqueItems => "expected items that all differ".to_owned(),
            ValidationErrorKind::FalseSchema => "no value is allowed here".to_owned(),
            ValidationErrorKind::Not { .. } => shown("this value is not allowed here".to_owned()),
            ValidationErrorKind::OneOfMultipleValid { .. } => shown(
                "fits more than one of the forms this value may take; it must fit exactly one"
                    .to_owned(),
            ),
            _ => shown(format!("not a valid value here: {}", error.masked())),
        };
        out.push((at, message, false));
    }

    /// The segments of a JSON Pointer into the checked values (`/tolerations/0/key`); a
    /// segment is an index where the value there is a list (a key may be `"0"`).
    fn segments(&self, pointer: &str) -> Vec<Segment> {
        let mut here = Some(self.instance);
        let mut segments = Vec::new();
        for raw in pointer.split('/').skip(1) {
            let name = raw.replace("~1", "/").replace("~0", "~");
            let segment = match (here, name.parse::<usize>()) {
                (Some(Value::Array(_)), Ok(index)) => Segment::Index(index),
                _ => Segment::Key(name),
            };
            here = here.and_then(|value| step(value, &segment));
            segments.push(segment);
        }
        segments
    }

    /// The checked value at `relative`, if there is one.
    fn value_at(&self, relative: &[Segment]) -> Option<&Value> {
        relative.iter().try_fold(self.instance, |value, segment| step(value, segment))
    }

    /// Whether the user set the value at `relative` (or a value under it).
    fn is_users(&self, relative: &[Segment]) -> bool {
        self.user.is_some_and(|user| {
            relative.iter().try_fold(user, |value, segment| step(value, segment)).is_some()
        })
    }

    /// Whether the value that an evaluation path reached is secret: a schema on the way, or
    /// one it refers to or combines with `allOf`, says `writeOnly`, or the way cannot be
    /// followed.
    fn is_secret(&self, evaluation_path: &str) -> bool {
        let Some(visited) = reference::walk(self.schema, evaluation_path) else {
            return true;
        };
        let write_only = |s: &Value| s.get("writeOnly") == Some(&Value::Bool(true));
        visited.iter().any(|schema| {
            let referred = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| reference::resolve(self.schema, r));
            let all_of = schema.get("allOf").and_then(Value::as_array).into_iter().flatten();
            write_only(schema)
                || referred.is_some_and(write_only)
                || all_of.into_iter().any(write_only)
        })
    }

    /// The schema that holds the keyword an evaluation path ends with.
    fn keyword_schema(&self, evaluation_path: &str) -> Option<&Value> {
        let visited = reference::walk(self.schema, evaluation_path)?;
        visited.len().checked_sub(2).map(|i| visited[i])
    }
}

fn step<'v>(value: &'v Value, segment: &Segment) -> Option<&'v Value> {
    match (value, segment) {
        (Value::Object(map), Segment::Key(key)) => map.get(key),
        (Value::Array(items), Segment::Index(index)) => items.get(*index),
        _ => None,
    }
}

/// `what`, then the value found unless it is secret.
fn with_found(what: String, value: &Value, secret: bool) -> String {
    if secret {
        format!("{what}, found {} ({HIDDEN})", kind(value))
    } else {
        format!("{what}, found {}", short(value))
    }
}

fn bound(words: &str, limit: &Value, value: &Value, secret: bool) -> String {
    with_found(format!("expected {words} {limit}"), value, secret)
}

/// "expected at least 2 items, found 1": a count says nothing secret.
fn count(words: &str, limit: u64, noun: &str, value: &Value) -> String {
    let found = match value {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => 0,
    };
    format!("expected {words} {}, found {found}", plural(limit, noun))
}

/// "expected one of ..." without what was found.
fn expected_of(allowed: &[&Value]) -> String {
    let list: Vec<String> = allowed.iter().filter(|a| !a.is_null()).map(|a| short(a)).collect();
    match list.as_slice() {
        [one] => format!("expected {one}"),
        _ => format!("expected one of {}", list.join(", ")),
    }
}
