//! The engine the charts' tables drive: every value a prefect-helm file sets, found a rule by
//! its path (the longest rule that is a prefix of it), and either moved to prefectctl's path,
//! changed on the way, or set aside with the reason.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// What becomes of the values under one prefect-helm path.
#[derive(Debug, Clone)]
pub enum Target {
    /// The same values under prefectctl's path: the rule's prefix replaced by this one
    /// (`worker` → `agent` moves `worker.config.workPool` to `agent.config.workPool`).
    To(&'static str),
    /// The value at this prefectctl path, written in prefectctl's form by the function, which
    /// says why when it cannot.
    With(&'static str, fn(&Value) -> Result<Value, String>),
    /// Not converted, for this reason.
    Drop(Cow<'static, str>),
    /// Read by the chart's own code, which decides what it becomes.
    Read,
}

/// One line of a chart's table.
#[derive(Debug, Clone)]
pub struct Rule {
    /// A prefect-helm path, dotted (`worker.config`).
    pub helm: &'static str,
    /// What becomes of it.
    pub target: Target,
}

/// Shorthands for the tables.
pub const fn to(helm: &'static str, ours: &'static str) -> Rule {
    Rule { helm, target: Target::To(ours) }
}

/// A value prefectctl has no place for.
pub const fn drop(helm: &'static str, why: &'static str) -> Rule {
    Rule { helm, target: Target::Drop(Cow::Borrowed(why)) }
}

/// A value the chart's code reads.
pub const fn read(helm: &'static str) -> Rule {
    Rule { helm, target: Target::Read }
}

/// A value converted by a function.
pub const fn with(
    helm: &'static str,
    ours: &'static str,
    convert: fn(&Value) -> Result<Value, String>,
) -> Rule {
    Rule { helm, target: Target::With(ours, convert) }
}

/// A value prefectctl takes, at its path.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// prefectctl's path, as segments (`["agent", "config", "workPool"]`).
    pub ours: Vec<String>,
    /// The value.
    pub value: Value,
    /// The prefect-helm path it came from, as segments, for messages.
    pub helm: Vec<String>,
    /// A default of prefect-helm's that a value the user set relies on (not a value the user
    /// set): written only where prefectctl's own default differs.
    pub relied_on: bool,
}

/// A value that was not converted.
#[derive(Debug, Clone, PartialEq)]
pub struct NotConverted {
    /// The prefect-helm path, as segments.
    pub helm: Vec<String>,
    /// Why.
    pub reason: String,
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct Walked {
    pub converted: Vec<Converted>,
    pub not_converted: Vec<NotConverted>,
}

/// Why a Helm template string cannot be converted.
pub const TEMPLATE: &str = "a Helm template (`{{ ... }}`): prefectctl values are not templates; \
     write the value it renders to";

/// Walks every value `user` sets (maps are walked into; scalars, lists and empty maps are
/// values), skips those equal to `defaults` at the same path, and applies the rule of each.
pub fn walk(user: &Value, defaults: &Value, rules: &[Rule]) -> Walked {
    let mut walked = Walked::default();
    let mut path = Vec::new();
    visit(user, Some(defaults), rules, &mut path, &mut walked);
    walked
}

fn visit(
    value: &Value,
    default: Option<&Value>,
    rules: &[Rule],
    path: &mut Vec<String>,
    walked: &mut Walked,
) {
    if default == Some(value) {
        return;
    }
    if let Value::Object(map) = value
        && !map.is_empty()
    {
        for (key, child) in map {
            path.push(key.clone());
            let default = default.and_then(|d| d.get(key));
            visit(child, default, rules, path, walked);
            path.pop();
        }
        return;
    }
    // `null` where prefect-helm has nothing is no setting at all.
    if value.is_null() && default.is_none() {
        return;
    }
    let Some((rule, rest)) = find(rules, path) else {
        walked.not_converted.push(NotConverted {
            helm: path.clone(),
            reason: "not a value of prefect-helm's chart, so prefectctl has no place for it"
                .to_owned(),
        });
        return;
    };
    let ours = |prefix: &str| -> Vec<String> {
        let mut ours: Vec<String> = prefix.split('.').map(str::to_owned).collect();
        ours.extend(rest.iter().cloned());
        ours
    };
    let mut convert = |ours: Vec<String>, value: Value| {
        if has_template(&value) {
            walked
                .not_converted
                .push(NotConverted { helm: path.clone(), reason: TEMPLATE.to_owned() });
        } else {
            walked.converted.push(Converted { ours, value, helm: path.clone(), relied_on: false });
        }
    };
    match &rule.target {
        Target::To(prefix) => convert(ours(prefix), value.clone()),
        Target::With(at, function) => match function(value) {
            Ok(value) => convert(ours(at), value),
            Err(reason) => walked.not_converted.push(NotConverted { helm: path.clone(), reason }),
        },
        Target::Drop(reason) => walked
            .not_converted
            .push(NotConverted { helm: path.clone(), reason: reason.to_string() }),
        Target::Read => {}
    }
}

/// Reads as Helm did (YAML 1.1) the plain `yes`, `off`... of `user` where the chart's
/// `defaults` say a boolean is meant; prefectctl's files are YAML 1.2, where those are text.
pub fn read_helm_booleans(user: &mut Value, defaults: &Value) {
    match user {
        Value::Object(map) => {
            for (key, child) in map {
                if let Some(default) = defaults.get(key) {
                    read_helm_booleans(child, default);
                }
            }
        }
        Value::String(text) if defaults.is_boolean() => {
            let boolean = match text.as_str() {
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => true,
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => false,
                _ => return,
            };
            *user = Value::Bool(boolean);
        }
        _ => {}
    }
}

/// The rule with the longest path that `path` starts with, and the segments after it.
pub fn find<'r, 'p>(rules: &'r [Rule], path: &'p [String]) -> Option<(&'r Rule, &'p [String])> {
    rules
        .iter()
        .filter_map(|rule| {
            let segments: Vec<&str> = rule.helm.split('.').collect();
            let matches = segments.len() <= path.len()
                && segments.iter().zip(path).all(|(rule, path)| *rule == path.as_str());
            matches.then_some((rule, segments.len()))
        })
        .max_by_key(|(_, len)| *len)
        .map(|(rule, len)| (rule, &path[len..]))
}

/// Whether any text in `value` is a Helm template.
pub fn has_template(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains("{{"),
        Value::Array(items) => items.iter().any(has_template),
        Value::Object(map) => map.values().any(has_template),
        _ => false,
    }
}

/// The value at the dotted `path` of `user`, or else of `defaults`: what prefect-helm used.
pub fn effective<'v>(user: &'v Value, defaults: &'v Value, path: &str) -> Option<&'v Value> {
    at(user, path).filter(|v| !v.is_null()).or_else(|| at(defaults, path))
}

/// The value at the dotted `path` of `tree`.
pub fn at<'v>(tree: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(tree, |value, key| value.get(key))
}

/// Puts `value` at `path` of `tree` (an object), making the maps on the way.
pub fn insert(tree: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut map = tree;
    for key in parents {
        let entry = map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        map = entry.as_object_mut().expect("made an object above");
    }
    map.insert(last.clone(), value);
}

/// `segments` as a dotted path (`worker.config.workPool`).
pub fn dotted(segments: &[String]) -> String {
    segments.join(".")
}

/// `path` as segments.
pub fn segments(path: &str) -> Vec<String> {
    path.split('.').map(str::to_owned).collect()
}
