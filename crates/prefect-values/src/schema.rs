//! Checking a value against a JSON Schema (draft 2020-12, as `schemars` 1.x generates it with
//! `inline_subschemas`), collecting every problem.
//!
//! The rules, and the choices made:
//!
//! - `null` is accepted everywhere: a user `null` means "remove this default" (see
//!   [`coalesce`](crate::coalesce)), whatever the key's type.
//! - `true` and `{}` accept anything, `false` nothing. A `$ref` is followed where the schema
//!   refers to itself (`#/$defs/name`): [`validate`](crate::validate) inlines those first, and
//!   leaves a circular one (accepted here) to the complete check.
//! - `type` (a name or a list of names): `integer` accepts integers and whole floats such as
//!   `1.0` (as JSON Schema says); `number` accepts both. On a wrong type nothing else of that
//!   schema is checked.
//! - `enum` and `const`: "expected one of ..." with "did you mean" for a close string, and
//!   especially one that differs only in case.
//! - `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, and the ranges of the integer
//!   `format`s `schemars` emits (`uint32`, `int64`...) when no explicit bound is given;
//!   `minLength`/`maxLength` (in characters) and `minItems`/`maxItems`.
//! - `properties` and `additionalProperties`: with `additionalProperties: false` a key that is
//!   not a property is unknown ("did you mean", else the list of keys); a schema there checks
//!   the other keys. `required` is checked only in list items: elsewhere the user's values
//!   only override defaults, but an item is the user's alone.
//! - `items` and `prefixItems` check list items; `allOf` checks every schema.
//! - `anyOf` and `oneOf` (treated alike): valid when any branch is. Otherwise, ignoring a
//!   `{"type": "null"}` branch: branches that are all `const`/`enum` give one "expected one of";
//!   else the problems of the one branch whose type fits the value, or of the fitting branch
//!   with fewest problems, or "expected A or B" when no branch's type fits.
//! - `writeOnly: true` marks a secret (a password, a connection URL): a problem with it, or
//!   anywhere under it, is reported once, with the value's type but never the value itself.
//! - Every other keyword (`pattern`, the `format` of strings, `required` of mappings,
//!   `patternProperties`, `not`, `if`...) is left to the complete check of
//!   `standard`, which says in the same words what these rules do not; a schema with
//!   `patternProperties` reports no unknown keys here.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use crate::describe::{alternatives, found, plural, short, type_name};
use crate::suggest::closest;
use crate::{Severity, ValuePath};

/// One problem found, before its origin is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) path: ValuePath,
    pub(crate) severity: Severity,
    pub(crate) message: String,
}

impl Finding {
    pub(crate) fn error(path: ValuePath, message: String) -> Finding {
        Finding { path, severity: Severity::Error, message }
    }
}

/// Appends to `out` every problem of `value`, at `path`, against `schema`.
pub(crate) fn check(value: &Value, schema: &Value, path: &ValuePath, out: &mut Vec<Finding>) {
    if value.is_null() {
        return;
    }
    let schema = match schema {
        Value::Object(schema) => schema,
        Value::Bool(false) => {
            out.push(Finding::error(path.clone(), "no value is allowed here".to_owned()));
            return;
        }
        _ => return,
    };
    if schema.get("writeOnly") == Some(&Value::Bool(true)) {
        let mut problems = Vec::new();
        check_object(value, schema, path, &mut problems);
        // Unknown keys name keys, never values: those are kept as they are.
        let (keys, others): (Vec<Finding>, Vec<Finding>) =
            problems.into_iter().partition(|p| p.message.starts_with(UNKNOWN_KEY));
        out.extend(keys);
        if !others.is_empty() {
            out.push(Finding::error(path.clone(), secret_problem(value, schema)));
        }
        return;
    }
    check_object(value, schema, path, out);
}

/// Said in place of a secret value.
pub(crate) const HIDDEN: &str = "the value is secret, so it is not shown";

/// What is wrong with a secret `value`, without showing it.
fn secret_problem(value: &Value, schema: &Map<String, Value>) -> String {
    match schema.get("type") {
        Some(types) if !type_fits(value, types) => format!(
            "expected {}, found {} ({HIDDEN})",
            alternatives(&type_names(types)),
            crate::describe::kind(value)
        ),
        _ => format!("not a valid value here ({HIDDEN}): see `prefectctl values` for its form"),
    }
}

/// [`check`] of a non-null value against an object schema.
fn check_object(
    value: &Value,
    schema: &Map<String, Value>,
    path: &ValuePath,
    out: &mut Vec<Finding>,
) {
    for keyword in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = schema.get(keyword)
            && !check_branches(value, branches, path, out)
        {
            return;
        }
    }
    if let Some(Value::Array(all)) = schema.get("allOf") {
        for branch in all {
            check(value, branch, path, out);
        }
    }
    if let Some(types) = schema.get("type")
        && !type_fits(value, types)
    {
        let expected = alternatives(&type_names(types));
        let expected = if expected.is_empty() { "null".to_owned() } else { expected };
        out.push(Finding::error(
            path.clone(),
            format!("expected {expected}, found {}", found(value)),
        ));
        return;
    }
    if let Some(constant) = schema.get("const")
        && !same(constant, value)
    {
        out.push(Finding::error(path.clone(), one_of(&[constant], value)));
        return;
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.iter().any(|a| same(a, value))
    {
        let allowed: Vec<&Value> = allowed.iter().collect();
        out.push(Finding::error(path.clone(), one_of(&allowed, value)));
        return;
    }
    match value {
        Value::Number(number) => check_number(number, schema, path, out),
        Value::String(text) => check_length(text, schema, path, out),
        Value::Object(map) => check_mapping(map, schema, path, out),
        Value::Array(items) => check_list(items, schema, path, out),
        _ => {}
    }
}

/// Checks `anyOf`/`oneOf` `branches`; whether the rest of the schema should be checked too
/// (false when problems were reported).
fn check_branches(
    value: &Value,
    branches: &[Value],
    path: &ValuePath,
    out: &mut Vec<Finding>,
) -> bool {
    let branches: Vec<&Value> = branches.iter().filter(|b| !is_null_schema(b)).collect();
    let results: Vec<Vec<Finding>> = branches
        .iter()
        .map(|branch| {
            let mut found = Vec::new();
            check(value, branch, path, &mut found);
            found
        })
        .collect();
    if results.is_empty() || results.iter().any(Vec::is_empty) {
        return true;
    }
    let constants: Option<Vec<&Value>> = branches.iter().try_fold(Vec::new(), |mut all, b| {
        match (b.get("const"), b.get("enum")) {
            (Some(constant), None) => all.push(constant),
            (None, Some(Value::Array(items))) => all.extend(items),
            _ => return None,
        }
        Some(all)
    });
    if let Some(constants) = constants {
        out.push(Finding::error(path.clone(), one_of(&constants, value)));
        return false;
    }
    let fitting: Vec<usize> = (0..branches.len())
        .filter(|&i| branches[i].get("type").is_none_or(|t| type_fits(value, t)))
        .collect();
    let best = fitting.iter().copied().min_by_key(|&i| results[i].len());
    match best {
        Some(i) => out.extend(results[i].iter().cloned()),
        None => {
            let mut names: Vec<String> = Vec::new();
            for branch in &branches {
                for name in branch.get("type").map(type_names).unwrap_or_default() {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
            out.push(Finding::error(
                path.clone(),
                format!("expected {}, found {}", alternatives(&names), found(value)),
            ));
        }
    }
    false
}

fn check_number(
    number: &Number,
    schema: &Map<String, Value>,
    path: &ValuePath,
    out: &mut Vec<Finding>,
) {
    let (format_min, format_max) = format_range(schema.get("format").and_then(Value::as_str));
    let bounds = [
        (
            schema.get("minimum").and_then(Value::as_number).or(format_min.as_ref()),
            "at least",
            Ordering::Less,
            true,
        ),
        (
            schema.get("maximum").and_then(Value::as_number).or(format_max.as_ref()),
            "at most",
            Ordering::Greater,
            true,
        ),
        (
            schema.get("exclusiveMinimum").and_then(Value::as_number),
            "more than",
            Ordering::Less,
            false,
        ),
        (
            schema.get("exclusiveMaximum").and_then(Value::as_number),
            "less than",
            Ordering::Greater,
            false,
        ),
    ];
    for (bound, words, wrong, inclusive) in bounds {
        let Some(bound) = bound else { continue };
        let Some(order) = compare(number, bound) else { continue };
        if order == wrong || (!inclusive && order == Ordering::Equal) {
            out.push(Finding::error(
                path.clone(),
                format!("expected {words} {bound}, found {number}"),
            ));
        }
    }
}

fn check_length(text: &str, schema: &Map<String, Value>, path: &ValuePath, out: &mut Vec<Finding>) {
    let length = text.chars().count() as u64;
    let found = short(&Value::String(text.to_owned()));
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64).filter(|&m| length < m) {
        let message = format!("expected at least {}, found {found}", plural(min, "character"));
        out.push(Finding::error(path.clone(), message));
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64).filter(|&m| length > m) {
        let message = format!("expected at most {}, found {found}", plural(max, "character"));
        out.push(Finding::error(path.clone(), message));
    }
}

fn check_mapping(
    map: &Map<String, Value>,
    schema: &Map<String, Value>,
    path: &ValuePath,
    out: &mut Vec<Finding>,
) {
    let empty = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    let additional = schema.get("additionalProperties");
    let open = schema.contains_key("patternProperties");
    for (key, value) in map {
        let key_path = path.key(key);
        if let Some(property) = properties.get(key) {
            check(value, property, &key_path, out);
        } else if additional == Some(&Value::Bool(false)) {
            if !open {
                out.push(Finding::error(key_path, unknown_key(key, properties)));
            }
        } else if let Some(additional) = additional {
            check(value, additional, &key_path, out);
        }
    }
}

/// How every unknown-key message starts.
pub(crate) const UNKNOWN_KEY: &str = "unknown key";

pub(crate) fn unknown_key(key: &str, properties: &Map<String, Value>) -> String {
    let names = properties.keys().map(String::as_str);
    if let Some(close) = closest(key, names.clone()) {
        return format!("{UNKNOWN_KEY} (did you mean `{close}`?)");
    }
    if properties.is_empty() {
        return format!("{UNKNOWN_KEY} (this mapping takes no keys; remove it)");
    }
    let list: Vec<String> = names.map(|name| format!("`{name}`")).collect();
    format!("{UNKNOWN_KEY} (keys are {})", list.join(", "))
}

fn check_list(
    items: &[Value],
    schema: &Map<String, Value>,
    path: &ValuePath,
    out: &mut Vec<Finding>,
) {
    let count = items.len() as u64;
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64).filter(|&m| count < m) {
        let message = format!("expected at least {}, found {count}", plural(min, "item"));
        out.push(Finding::error(path.clone(), message));
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64).filter(|&m| count > m) {
        let message = format!("expected at most {}, found {count}", plural(max, "item"));
        out.push(Finding::error(path.clone(), message));
    }
    let prefix =
        schema.get("prefixItems").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    for (index, item) in items.iter().enumerate() {
        let item_schema = prefix.get(index).or(schema.get("items"));
        if let Some(item_schema) = item_schema {
            check(item, item_schema, &path.index(index), out);
            check_required(item, item_schema, &path.index(index), out);
        }
    }
}

/// The `required` keys of a list item: unlike a mapping, which overrides defaults, an item is
/// the user's alone, so what it must have, it must say.
fn check_required(item: &Value, schema: &Value, path: &ValuePath, out: &mut Vec<Finding>) {
    let Some(item) = item.as_object() else {
        return;
    };
    if let Some(Value::Array(required)) = schema.get("required") {
        for key in required.iter().filter_map(Value::as_str) {
            if !item.contains_key(key) {
                out.push(Finding::error(path.clone(), format!("missing `{key}`")));
            }
        }
    }
    // And in the mappings inside it, which are the user's alone too.
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (key, value) in item {
            if let Some(property) = properties.get(key) {
                check_required(value, property, &path.key(key), out);
            }
        }
    }
}

/// "expected one of ..." (or "expected X" for one value), with "did you mean".
pub(crate) fn one_of(allowed: &[&Value], value: &Value) -> String {
    let allowed: Vec<&Value> = allowed.iter().copied().filter(|a| !a.is_null()).collect();
    let list: Vec<String> = allowed.iter().map(|a| short(a)).collect();
    let mut message = match list.as_slice() {
        [one] => format!("expected {one}, found {}", short(value)),
        _ => format!("expected one of {}, found {}", list.join(", "), short(value)),
    };
    if let Value::String(text) = value {
        let strings = allowed.iter().filter_map(|a| a.as_str());
        if let Some(close) = closest(text, strings) {
            message.push_str(&format!(" (did you mean {}?)", short(&Value::from(close))));
        }
    }
    message
}

/// Whether `value` is of one of the JSON Schema `types` (unknown type names fit anything).
fn type_fits(value: &Value, types: &Value) -> bool {
    let fits = |name: &str| match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => is_integer(value),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    match types {
        Value::String(name) => fits(name),
        Value::Array(names) => names.iter().any(|n| n.as_str().is_none_or(fits)),
        _ => true,
    }
}

/// An integer, or a whole float such as `1.0`.
fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) if n.is_f64() => {
            n.as_f64().is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        Value::Number(_) => true,
        _ => false,
    }
}

/// The user-facing names of JSON Schema `types`, without `null` (always accepted).
pub(crate) fn type_names(types: &Value) -> Vec<String> {
    let names: Vec<&str> = match types {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    names.into_iter().filter(|n| *n != "null").map(|n| type_name(n).to_owned()).collect()
}

/// Whether `schema` accepts only null (the `None` branch `schemars` adds for an `Option`).
fn is_null_schema(schema: &Value) -> bool {
    match (schema.get("type"), schema.get("const")) {
        (Some(Value::String(t)), _) => t == "null",
        (Some(Value::Array(ts)), _) => ts.len() == 1 && ts[0] == "null",
        (None, Some(Value::Null)) => true,
        _ => false,
    }
}

/// JSON equality where `1` and `1.0` are the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => compare(a, b) == Some(Ordering::Equal),
        _ => a == b,
    }
}

/// Compares two numbers exactly when both are integers.
fn compare(a: &Number, b: &Number) -> Option<Ordering> {
    match (as_i128(a), as_i128(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn as_i128(n: &Number) -> Option<i128> {
    n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from))
}

/// The range of an integer `format` that `schemars` emits (`uint32`, `int8`...).
fn format_range(format: Option<&str>) -> (Option<Number>, Option<Number>) {
    let (min, max): (i64, u64) = match format {
        Some("int8") => (i8::MIN.into(), i8::MAX as u64),
        Some("int16") => (i16::MIN.into(), i16::MAX as u64),
        Some("int32") => (i32::MIN.into(), i32::MAX as u64),
        Some("int64") => (i64::MIN, i64::MAX as u64),
        Some("uint8") => (0, u8::MAX.into()),
        Some("uint16") => (0, u16::MAX.into()),
        Some("uint32") => (0, u32::MAX.into()),
        Some("uint64" | "uint") => (0, u64::MAX),
        _ => return (None, None),
    };
    (Some(min.into()), Some(max.into()))
}

/// The `format`s of strings that JSON Schema defines and the complete check enforces (these
/// rules check only the ranges of integer formats).
const STRING_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// Whether these rules decide every keyword of `schema` as the complete check would, so that
/// it need not be compiled: only the keywords above (and annotations), `required` only where
/// list items are checked, no `format` of strings, no `$ref`, and draft 2020-12.
pub(crate) fn covers(schema: &Value) -> bool {
    let draft_2020_12 = schema.get("$schema").and_then(Value::as_str).is_none_or(|uri| {
        uri.trim_end_matches('#') == "https://json-schema.org/draft/2020-12/schema"
    });
    draft_2020_12 && covers_subschema(schema, false)
}

/// [`covers`] of a subschema; `in_item` when it is a list item's schema, or a property of one
/// (where `required` is checked).
fn covers_subschema(schema: &Value, in_item: bool) -> bool {
    let Value::Object(schema) = schema else {
        return true;
    };
    schema.iter().all(|(keyword, value)| match keyword.as_str() {
        "type" | "enum" | "const" | "minimum" | "maximum" | "exclusiveMinimum"
        | "exclusiveMaximum" | "minLength" | "maxLength" | "minItems" | "maxItems" => true,
        "title" | "description" | "default" | "examples" | "deprecated" | "readOnly"
        | "writeOnly" | "$comment" | "$schema" => true,
        "format" => value.as_str().is_none_or(|f| !STRING_FORMATS.contains(&f)),
        "required" => in_item,
        "properties" => {
            value.as_object().is_some_and(|p| p.values().all(|s| covers_subschema(s, in_item)))
        }
        "items" => (value.is_object() || value.is_boolean()) && covers_subschema(value, true),
        "prefixItems" => {
            value.as_array().is_some_and(|items| items.iter().all(|s| covers_subschema(s, true)))
        }
        "additionalProperties" => covers_subschema(value, false),
        "allOf" | "anyOf" | "oneOf" => {
            value.as_array().is_some_and(|all| all.iter().all(|s| covers_subschema(s, false)))
        }
        _ => false,
    })
}
