//! Where each workload kind keeps its pods, in one place: a transformer that changes every
//! pod of the release (security contexts, labels, a sidecar) visits their templates with
//! [`Context::update_pod_templates`](crate::Context::update_pod_templates), or reads one with
//! [`template`], instead of walking JSON paths by hand.
//!
//! A pod template is what the pods are made from: `metadata` (labels, annotations) and `spec`
//! (containers, volumes, security context). A Pod is its own template.
//!
//! ```
//! use prefect_plugin_sdk::{pods, serde_json::json};
//!
//! let job = json!({
//!     "apiVersion": "batch/v1", "kind": "CronJob", "metadata": { "name": "backup" },
//!     "spec": { "jobTemplate": { "spec": { "template": { "spec": { "containers": [] } } } } },
//! });
//! assert_eq!(pods::template(&job).unwrap()["spec"]["containers"], json!([]));
//! ```

use std::fmt;

use serde_json::Value;

/// The kinds that hold pods; the list to give [`Manifest::reads`](crate::Manifest::reads) for
/// a plugin that changes every pod.
pub const KINDS: [&str; 7] =
    ["Pod", "ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"];

/// The path of the pod template in an object of `kind`; `None` for a kind without pods.
fn path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&[]),
        "ReplicaSet" | "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => {
            Some(&["spec", "template"])
        }
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template"]),
        _ => None,
    }
}

/// The pod template of `object`: `None` when its kind holds no pods ([`KINDS`]) or it has
/// no template.
pub fn template(object: &Value) -> Option<&Value> {
    let path = path(object["kind"].as_str()?)?;
    path.iter().try_fold(object, |value, step| value.get(*step))
}

/// [`template`], to change.
pub fn template_mut(object: &mut Value) -> Option<&mut Value> {
    let path = path(object["kind"].as_str()?)?;
    path.iter().try_fold(object, |value, step| value.get_mut(*step))
}

/// The workload whose pod template a visitor is given, for its messages; displays as
/// `Deployment/prefect-server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Its kind, one of [`KINDS`].
    pub kind: String,
    /// Its name.
    pub name: String,
}

impl Workload {
    pub(crate) fn of(object: &Value) -> Workload {
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        Workload { kind: text(&object["kind"]), name: text(&object["metadata"]["name"]) }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn workload(kind: &str, spec: Value) -> Value {
        json!({ "apiVersion": "x/v1", "kind": kind, "metadata": { "name": "w" }, "spec": spec })
    }

    #[test]
    fn every_kind_that_holds_pods_has_its_template_found() {
        let pod_template =
            json!({ "metadata": { "labels": { "a": "b" } }, "spec": { "containers": [] } });
        let mut objects: Vec<Value> = KINDS
            .iter()
            .map(|&kind| match kind {
                "Pod" => json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "labels": { "a": "b" } }, "spec": { "containers": [] } }),
                "CronJob" => workload(kind, json!({ "jobTemplate": { "spec": { "template": pod_template } } })),
                _ => workload(kind, json!({ "template": pod_template })),
            })
            .collect();
        for object in &mut objects {
            assert_eq!(template_of(object), (json!({ "a": "b" }), json!([])), "{object}");
            template_mut(object).unwrap()["spec"]["containers"] = json!([{ "name": "c" }]);
            assert_eq!(template(object).unwrap()["spec"]["containers"][0]["name"], "c");
        }
        assert_eq!(template(&workload("Service", json!({ "template": pod_template }))), None);
        assert_eq!(template(&workload("Deployment", json!({}))), None);
    }

    fn template_of(object: &Value) -> (Value, Value) {
        let template = template(object).unwrap();
        (template["metadata"]["labels"].clone(), template["spec"]["containers"].clone())
    }
}
