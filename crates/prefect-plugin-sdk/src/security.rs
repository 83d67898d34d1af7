//! The default security contexts: restricted, as Kubernetes' Pod Security Standards define it.
//!
//! Plugins expose them as free-form maps in their values ([`crate::workload::PodValues`]), so
//! a user can override every field and remove one by setting it to `null`.

use serde_json::{Map, Value, json};

/// The user and group id the Prefect image runs as.
pub const PREFECT_UID: i64 = 1001;

/// The default pod security context: non-root user and group `uid`, which also owns the
/// volumes (fsGroup), RuntimeDefault seccomp.
pub fn restricted_pod(uid: i64) -> Map<String, Value> {
    object(json!({
        "runAsNonRoot": true,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": { "type": "RuntimeDefault" },
    }))
}

/// The default container security context: non-root, read-only root filesystem, no privilege
/// escalation, all capabilities dropped, RuntimeDefault seccomp.
pub fn restricted_container(uid: i64) -> Map<String, Value> {
    object(json!({
        "runAsNonRoot": true,
        "runAsUser": uid,
        "runAsGroup": uid,
        "readOnlyRootFilesystem": true,
        "allowPrivilegeEscalation": false,
        "capabilities": { "drop": ["ALL"] },
        "seccompProfile": { "type": "RuntimeDefault" },
    }))
}

/// The restricted container context for a container that runs as its pod's user (such as an
/// init container from another image): [`restricted_container`] without a user or group.
pub fn restricted_container_as_pod_user() -> Map<String, Value> {
    let mut context = restricted_container(0);
    context.remove("runAsUser");
    context.remove("runAsGroup");
    context
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
