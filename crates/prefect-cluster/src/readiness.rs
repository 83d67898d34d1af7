//! Whether a live object is ready, and if not what it waits for: the rules `--wait` and
//! `status` use, from the object's own status as its controller reports it.
//!
//! - Deployment: the controller saw the latest spec, every replica is updated and available,
//!   no old one is left; a rollout past its progress deadline has failed.
//! - StatefulSet: the controller saw the latest spec; every replica is ready and, under a
//!   rolling update, on the latest revision.
//! - Job: complete; a `Failed` condition is a failure.
//! - PersistentVolumeClaim: bound.
//! - Everything else is ready once it exists.

use serde_json::Value;

/// Whether an object is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Ready.
    Ready,
    /// Not yet; what it waits for.
    Waiting(String),
    /// It will not get ready by waiting; why.
    Failed(String),
}

impl Readiness {
    /// Whether the object is ready.
    pub fn is_ready(&self) -> bool {
        *self == Readiness::Ready
    }
}

/// The readiness of the live object `object`.
pub fn readiness(object: &Value) -> Readiness {
    match object["kind"].as_str().unwrap_or_default() {
        "Deployment" => deployment(object),
        "StatefulSet" => stateful_set(object),
        "Job" => job(object),
        "PersistentVolumeClaim" => claim(object),
        _ => Readiness::Ready,
    }
}

/// Whether `--wait` follows objects of `kind`.
pub fn is_followed(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "Job" | "PersistentVolumeClaim")
}

fn deployment(object: &Value) -> Readiness {
    if let Some(waiting) = unobserved(object) {
        return waiting;
    }
    if let Some(condition) = condition(object, "Progressing")
        && condition["status"] == "False"
        && condition["reason"] == "ProgressDeadlineExceeded"
    {
        return Readiness::Failed(format!(
            "its rollout exceeded its progress deadline: {}",
            condition["message"].as_str().unwrap_or_default()
        ));
    }
    let status = &object["status"];
    let wanted = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let count = |field: &str| status[field].as_i64().unwrap_or(0);
    let (updated, available, total) =
        (count("updatedReplicas"), count("availableReplicas"), count("replicas"));
    // `replicas` counts the pods of every spec, `updatedReplicas` those of the latest one and
    // `availableReplicas` the available ones of any spec: no count says which pods run, so the
    // message names no phase.
    let old = (total - updated).max(0);
    if old > 0 {
        let new = if updated < wanted {
            format!("{updated} of {wanted} new")
        } else {
            format!("{updated} new")
        };
        Readiness::Waiting(format!(
            "{available} of {total} pods available: {new}, {old} old still to be replaced"
        ))
    } else if updated < wanted {
        Readiness::Waiting(format!("{updated} of {wanted} pods created"))
    } else if available < wanted {
        Readiness::Waiting(format!("{available} of {wanted} pods available"))
    } else {
        Readiness::Ready
    }
}

fn stateful_set(object: &Value) -> Readiness {
    if let Some(waiting) = unobserved(object) {
        return waiting;
    }
    let status = &object["status"];
    let wanted = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let ready = status["readyReplicas"].as_i64().unwrap_or(0);
    let rolling =
        object["spec"]["updateStrategy"]["type"].as_str().is_none_or(|t| t == "RollingUpdate");
    if rolling {
        let updated = status["updatedReplicas"].as_i64().unwrap_or(0);
        if updated < wanted {
            return Readiness::Waiting(format!(
                "{ready} of {wanted} pods ready, {updated} of {wanted} on the new spec"
            ));
        }
        if status["currentRevision"] != status["updateRevision"] {
            return Readiness::Waiting("the rolling update is not finished".to_owned());
        }
    }
    if ready < wanted {
        return Readiness::Waiting(format!("{ready} of {wanted} pods ready"));
    }
    Readiness::Ready
}

fn job(object: &Value) -> Readiness {
    if condition(object, "Complete").is_some_and(|c| c["status"] == "True") {
        return Readiness::Ready;
    }
    if let Some(failed) = condition(object, "Failed").filter(|c| c["status"] == "True") {
        return Readiness::Failed(format!(
            "it failed: {}",
            failed["message"].as_str().unwrap_or_default()
        ));
    }
    let count = |field: &str| object["status"][field].as_u64().unwrap_or(0);
    match (count("active"), count("failed")) {
        (0, 0) => Readiness::Waiting("not complete, no pod running yet".to_owned()),
        (active, 0) => Readiness::Waiting(format!("not complete, {active} pod(s) running")),
        (active, failed) => Readiness::Waiting(format!(
            "not complete, {active} pod(s) running, {failed} failed (retried up to \
             spec.backoffLimit times)"
        )),
    }
}

fn claim(object: &Value) -> Readiness {
    match object["status"]["phase"].as_str() {
        Some("Bound") => Readiness::Ready,
        Some("Lost") => Readiness::Failed("its volume is lost".to_owned()),
        Some(phase) => Readiness::Waiting(format!("{phase}, not bound to a volume")),
        None => Readiness::Waiting("not bound to a volume".to_owned()),
    }
}

/// Waiting, when the controller has not seen the object's latest spec yet.
fn unobserved(object: &Value) -> Option<Readiness> {
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(0);
    let observed = object["status"]["observedGeneration"].as_i64().unwrap_or(0);
    (observed < generation)
        .then(|| Readiness::Waiting("its controller has not seen the new spec yet".to_owned()))
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(spec_replicas: i64, status: Value) -> Value {
        json!({ "kind": "Deployment", "metadata": { "generation": 2 }, "spec": { "replicas": spec_replicas }, "status": status })
    }

    #[test]
    fn deployments() {
        assert_eq!(
            readiness(&deployment(2, json!({ "observedGeneration": 1 }))),
            Readiness::Waiting("its controller has not seen the new spec yet".to_owned())
        );
        assert_eq!(
            readiness(&deployment(
                2,
                json!({ "observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1 })
            )),
            Readiness::Waiting("1 of 2 pods available".to_owned())
        );
        assert_eq!(
            readiness(&deployment(
                2,
                json!({ "observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2 })
            )),
            Readiness::Waiting(
                "2 of 3 pods available: 2 new, 1 old still to be replaced".to_owned()
            )
        );
        // A rollout whose pods are all Pending: the old pod is not running either.
        assert_eq!(
            readiness(&deployment(
                1,
                json!({ "observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 0 })
            )),
            Readiness::Waiting(
                "0 of 2 pods available: 1 new, 1 old still to be replaced".to_owned()
            )
        );
        assert_eq!(
            readiness(&deployment(
                3,
                json!({ "observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2 })
            )),
            Readiness::Waiting(
                "2 of 3 pods available: 1 of 3 new, 2 old still to be replaced".to_owned()
            )
        );
        assert_eq!(
            readiness(&deployment(
                1,
                json!({ "observedGeneration": 2, "replicas": 1, "updatedReplicas": 1 })
            )),
            Readiness::Waiting("0 of 1 pods available".to_owned())
        );
        assert_eq!(
            readiness(&deployment(2, json!({ "observedGeneration": 2 }))),
            Readiness::Waiting("0 of 2 pods created".to_owned())
        );
        assert!(readiness(&deployment(2, json!({ "observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2 }))).is_ready());
        let stuck = deployment(
            1,
            json!({ "observedGeneration": 2, "conditions": [{ "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"x\" has timed out progressing." }] }),
        );
        assert!(
            matches!(readiness(&stuck), Readiness::Failed(m) if m.contains("progress deadline"))
        );
    }

    #[test]
    fn stateful_sets_jobs_and_claims() {
        let set = json!({ "kind": "StatefulSet", "metadata": { "generation": 1 }, "spec": { "replicas": 1 },
            "status": { "observedGeneration": 1, "readyReplicas": 1, "updatedReplicas": 1, "currentRevision": "a", "updateRevision": "a" } });
        assert!(readiness(&set).is_ready());
        let rolling = json!({ "kind": "StatefulSet", "metadata": { "generation": 2 }, "spec": { "replicas": 2 },
            "status": { "observedGeneration": 2, "readyReplicas": 1, "updatedReplicas": 1, "currentRevision": "a", "updateRevision": "b" } });
        assert_eq!(
            readiness(&rolling),
            Readiness::Waiting("1 of 2 pods ready, 1 of 2 on the new spec".to_owned())
        );
        let job = json!({ "kind": "Job", "status": { "conditions": [{ "type": "Failed", "status": "True", "message": "BackoffLimitExceeded" }] } });
        assert_eq!(
            readiness(&job),
            Readiness::Failed("it failed: BackoffLimitExceeded".to_owned())
        );
        let claim = json!({ "kind": "PersistentVolumeClaim", "status": { "phase": "Pending" } });
        assert_eq!(
            readiness(&claim),
            Readiness::Waiting("Pending, not bound to a volume".to_owned())
        );
        assert!(readiness(&json!({ "kind": "Service" })).is_ready());
    }
}
