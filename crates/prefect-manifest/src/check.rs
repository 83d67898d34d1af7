//! What the API server would refuse in a finished graph, found before anything is written
//! ([`check`]), so that a bad value never leaves a failed revision behind.
//!
//! [`validate`](crate::validate) checks each object's identity as a plugin hands it over; this
//! checks the fields the API server validates that values reach, in the built-in kinds (custom
//! resources have their own rules):
//!
//! - every `resources.limits` and `resources.requests` entry (and `emptyDir.sizeLimit`) is a
//!   Kubernetes quantity (`500m`, `2`, `1.5Gi`, `1e3`), not negative, and a request is not
//!   more than its limit;
//! - container and volume names are DNS-1123 labels, each volume mount names a volume of the
//!   pod, a Service port's name is a DNS-1123 label;
//! - a container port's name, and a port given by name (a probe's, a Service's `targetPort`),
//!   is an IANA service name (at most 15 lower-case letters, digits and `-`, with a letter);
//!   a port number is between 1 and 65535;
//! - `*Seconds` fields, `replicas` and the other counts are whole numbers, not negative.
//!
//! Each [`Refusal`] names the object, the field and the plugin that set the field.

use std::fmt;

use serde_json::{Map, Value};

use crate::{
    Graph, Provenance, ResourceKey,
    path::{self, Path},
    validate::dns_label,
};

/// A field of an object that the API server would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The object.
    pub key: ResourceKey,
    /// The field's path, such as `spec.template.spec.containers[0].resources.limits.cpu`.
    pub field: String,
    /// What is wrong and what to do, such as `"lots" is not a Kubernetes quantity: ...`.
    pub problem: String,
    /// The plugin that added the object or last changed the field, when the graph knows.
    pub plugin: Option<String>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.key, self.field, self.problem)?;
        if let Some(plugin) = &self.plugin {
            write!(f, " (set by plugin `{plugin}`)")?;
        }
        Ok(())
    }
}

/// Every field of `graph` the API server would refuse, in key order.
pub fn check(graph: &Graph) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    for (key, object) in graph.iter() {
        if !is_built_in(key.group()) {
            continue;
        }
        let mut found = Vec::new();
        // A StatefulSet's claim templates are volumes of its pods too.
        let claims: Vec<&str> = list_of(&object["spec"], "volumeClaimTemplates")
            .iter()
            .filter_map(|claim| claim["metadata"]["name"].as_str())
            .collect();
        walk(object, &Path::Root, &claims, &mut found);
        if key.kind == "Service" {
            service_ports(object, &mut found);
        }
        if found.is_empty() {
            continue;
        }
        let provenance = graph.provenance(key);
        refusals.extend(found.into_iter().map(|(field, problem)| Refusal {
            key: key.clone(),
            plugin: provenance.map(|p| who_set(p, &field).to_owned()),
            field,
            problem,
        }));
    }
    refusals
}

/// Whether `group` is one of Kubernetes' own, whose fields this module knows.
fn is_built_in(group: &str) -> bool {
    !group.contains('.') || group.ends_with(".k8s.io")
}

/// The plugin that last changed `field` (or a field inside it, or around it), else the one
/// that added the object.
fn who_set<'a>(provenance: &'a Provenance, field: &str) -> &'a str {
    let related = |path: &str| {
        let inside = |outer: &str, inner: &str| {
            inner == outer
                || inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with(['.', '[']))
        };
        inside(field, path) || inside(path, field)
    };
    provenance
        .changes
        .iter()
        .rev()
        .find(|change| change.paths.iter().any(|p| related(p)))
        .map_or(&provenance.added_by, |change| &change.plugin)
}

/// A problem found: the field's path and what is wrong with it.
type Found = Vec<(String, String)>;

/// Fields whose value counts something and cannot be negative.
const COUNTS: &[&str] = &[
    "replicas",
    "minReplicas",
    "maxReplicas",
    "backoffLimit",
    "parallelism",
    "completions",
    "revisionHistoryLimit",
    "successThreshold",
    "failureThreshold",
    "ttlSecondsAfterFinished",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
];

/// Checks `value` at `at` and everything in it; `claims` are volumes of any pod in it.
fn walk(value: &Value, at: &Path, claims: &[&str], found: &mut Found) {
    match value {
        Value::Object(map) => {
            if map.get("containers").is_some_and(Value::is_array) {
                pod_spec(map, &at.to_string(), claims, found);
            }
            for (key, item) in map {
                let field = at.field(key);
                fields(key, item, &field, found);
                walk(item, &field, claims, found);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(item, &at.index(index), claims, found);
            }
        }
        _ => {}
    }
}

/// The rules of a field by its name.
fn fields(key: &str, value: &Value, at: &Path, found: &mut Found) {
    match (key, value) {
        ("resources", Value::Object(resources)) => {
            resource_lists(resources, &at.to_string(), found);
        }
        ("sizeLimit", _) => {
            if let Err(problem) = quantity(value) {
                found.push((at.to_string(), problem));
            }
        }
        ("httpGet" | "tcpSocket" | "grpc", Value::Object(action)) => {
            if let Some(port) = action.get("port") {
                port_reference(port, &at.field("port").to_string(), found);
            }
        }
        (_, Value::Number(number))
            if (key.ends_with("Seconds") && key != "tolerationSeconds")
                || COUNTS.contains(&key) =>
        {
            if number.as_i64().is_none() && number.as_u64().is_none() {
                found.push((at.to_string(), format!("{number} is not a whole number: give one")));
            } else if number.as_i64().is_some_and(|n| n < 0) {
                found.push((at.to_string(), format!("{number} is negative: give 0 or more")));
            }
        }
        _ => {}
    }
}

/// `limits` and `requests`: quantities, and no request above its limit.
fn resource_lists(resources: &Map<String, Value>, at: &str, found: &mut Found) {
    let mut parsed: [Vec<(&str, f64)>; 2] = [Vec::new(), Vec::new()];
    for (list, amounts) in ["limits", "requests"].into_iter().zip(&mut parsed) {
        let Some(Value::Object(entries)) = resources.get(list) else { continue };
        let list_at = path::field(at, list);
        for (name, amount) in entries {
            match quantity(amount) {
                Ok(value) if value < 0.0 => found.push((
                    path::field(&list_at, name),
                    format!("{amount} is negative: give 0 or more"),
                )),
                Ok(value) => amounts.push((name, value)),
                Err(problem) => found.push((path::field(&list_at, name), problem)),
            }
        }
    }
    let [limits, requests] = parsed;
    for (name, request) in requests {
        if let Some((_, limit)) = limits.iter().find(|(n, _)| *n == name)
            && request > *limit
        {
            found.push((
                path::field(&path::field(at, "requests"), name),
                format!(
                    "{} is more than its limit {}: raise the limit or lower the request",
                    resources["requests"][name], resources["limits"][name]
                ),
            ));
        }
    }
}

/// The containers, volumes and mounts of a pod spec at `at`, whose pods also have `claims`.
fn pod_spec(spec: &Map<String, Value>, at: &str, claims: &[&str], found: &mut Found) {
    let volumes: Vec<&str> = list(spec, "volumes")
        .iter()
        .enumerate()
        .filter_map(|(index, volume)| {
            let field = path::field(&path::index(&path::field(at, "volumes"), index), "name");
            named(volume, &field, "volume", found)
        })
        .collect();
    for group in ["initContainers", "containers", "ephemeralContainers"] {
        for (index, container) in list(spec, group).iter().enumerate() {
            let container_at = path::index(&path::field(at, group), index);
            named(container, &path::field(&container_at, "name"), "container", found);
            let ports_at = path::field(&container_at, "ports");
            for (index, port) in list_of(container, "ports").iter().enumerate() {
                let port_at = path::index(&ports_at, index);
                if let Some(Value::String(name)) = port.get("name")
                    && let Err(problem) = service_name(name)
                {
                    found.push((path::field(&port_at, "name"), problem));
                }
                if let Some(number) = port.get("containerPort") {
                    port_number(number, &path::field(&port_at, "containerPort"), found);
                }
            }
            let mounts_at = path::field(&container_at, "volumeMounts");
            for (index, mount) in list_of(container, "volumeMounts").iter().enumerate() {
                if let Some(Value::String(name)) = mount.get("name")
                    && !volumes.contains(&name.as_str())
                    && !claims.contains(&name.as_str())
                {
                    found.push((
                        path::field(&path::index(&mounts_at, index), "name"),
                        format!(
                            "{name:?} names no volume of the pod: add the volume, or fix the name"
                        ),
                    ));
                }
            }
        }
    }
}

/// A Service's ports: names are DNS-1123 labels, numbers in range, a `targetPort` by name an
/// IANA service name.
fn service_ports(service: &Value, found: &mut Found) {
    for (index, port) in list_of(&service["spec"], "ports").iter().enumerate() {
        let at = path::index("spec.ports", index);
        if let Some(Value::String(name)) = port.get("name")
            && let Err(advice) = dns_label(name)
        {
            found.push((
                path::field(&at, "name"),
                format!("{name:?} is not a valid port name: {advice}"),
            ));
        }
        if let Some(number) = port.get("port") {
            port_number(number, &path::field(&at, "port"), found);
        }
        if let Some(target) = port.get("targetPort") {
            port_reference(target, &path::field(&at, "targetPort"), found);
        }
    }
}

/// The list at `field` of `map`, or none.
fn list<'a>(map: &'a Map<String, Value>, field: &str) -> &'a [Value] {
    map.get(field).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The list at `field` of `value`, or none.
fn list_of<'a>(value: &'a Value, field: &str) -> &'a [Value] {
    value.as_object().map_or(&[], |map| list(map, field))
}

/// The `name` of `item`, checked as a DNS-1123 label.
fn named<'a>(item: &'a Value, field: &str, what: &str, found: &mut Found) -> Option<&'a str> {
    let name = item.get("name")?.as_str()?;
    if let Err(advice) = dns_label(name) {
        found.push((field.to_owned(), format!("{name:?} is not a valid {what} name: {advice}")));
    }
    Some(name)
}

/// A port given by number (1 to 65535) or by name (an IANA service name).
fn port_reference(port: &Value, field: &str, found: &mut Found) {
    match port {
        Value::String(name) => {
            if let Err(problem) = service_name(name) {
                found.push((field.to_owned(), problem));
            }
        }
        number => port_number(number, field, found),
    }
}

/// A port number: a whole number from 1 to 65535.
fn port_number(port: &Value, field: &str, found: &mut Found) {
    if let Value::Number(number) = port
        && !number.as_u64().is_some_and(|n| (1..=65535).contains(&n))
    {
        found.push((field.to_owned(), format!("{number} is not a port: give 1 to 65535")));
    }
}

/// An IANA service name, as a container port's name (`http`, `metrics`).
fn service_name(name: &str) -> Result<(), String> {
    let rule = if name.len() > 15 {
        "use at most 15 characters"
    } else if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        "use lower-case letters, digits and '-'"
    } else if !name.chars().any(|c| c.is_ascii_lowercase()) {
        "use at least one letter"
    } else if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        "start and end it with a letter or digit, with no '--'"
    } else {
        return Ok(());
    };
    Err(format!("{name:?} is not a valid port name: {rule}"))
}

/// The amount of a Kubernetes quantity given as JSON (a string or a number), or why it is
/// not one.
pub fn quantity(value: &Value) -> Result<f64, String> {
    let text = match value {
        Value::String(text) => text.trim(),
        Value::Number(number) => return number.as_f64().ok_or_else(|| not_a_quantity(value)),
        _ => return Err(not_a_quantity(value)),
    };
    parse_quantity(text).ok_or_else(|| not_a_quantity(value))
}

fn not_a_quantity(value: &Value) -> String {
    format!(
        "{value} is not a Kubernetes quantity: give a number with an optional suffix, such as \
         500m, 2, 1.5, 512Mi or 1Gi"
    )
}

/// Kubernetes' quantity grammar: a signed decimal number, then a binary suffix (`Ki` to
/// `Ei`), a decimal one (`n`, `u`, `m`, `k`, `M` to `E`) or an exponent (`e3`, `E-2`).
fn parse_quantity(text: &str) -> Option<f64> {
    let digits_end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && matches!(c, '+' | '-'))))
        .map_or(text.len(), |(i, _)| i);
    let (number, suffix) = text.split_at(digits_end);
    let unsigned = number.trim_start_matches(['+', '-']);
    if unsigned.matches('.').count() > 1 || !unsigned.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let amount: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => {
            let power = exponent.strip_prefix(['e', 'E'])?;
            let digits = power.strip_prefix(['+', '-']).unwrap_or(power);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            10f64.powi(power.parse().ok()?)
        }
    };
    Some(amount * factor)
}

#[cfg(test)]
mod tests;
