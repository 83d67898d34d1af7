//! The default security contexts: restricted, as Kubernetes' Pod Security Standards define it.
//!
//! Plugins expose them as free-form maps in their values, so a user can override every field
//! and remove one by setting it to `null`; [`pod`] and [`container`] turn the result into typed
//! contexts.

use k8s_openapi::api::core::v1::{PodSecurityContext, SecurityContext};
use serde_json::{Map, Value, json};

use crate::Error;

/// The user and group id the Prefect image runs as.
pub const PREFECT_UID: i64 = 1001;

/// The default pod security context: non-root user 1001, fsGroup 1001, RuntimeDefault seccomp.
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

/// The typed pod security context of a values map; `path` names it in errors.
pub fn pod(values: &Map<String, Value>, path: &str) -> Result<PodSecurityContext, Error> {
    typed(values, path)
}

/// The typed container security context of a values map; `path` names it in errors.
pub fn container(values: &Map<String, Value>, path: &str) -> Result<SecurityContext, Error> {
    typed(values, path)
}

fn typed<T: serde::de::DeserializeOwned>(
    values: &Map<String, Value>,
    path: &str,
) -> Result<T, Error> {
    let value = Value::Object(values.clone());
    serde_path_to_error::deserialize(value).map_err(|err| {
        let inner = err.path().to_string();
        let at = if inner == "." { path.to_owned() } else { format!("{path}.{inner}") };
        Error::at(at, err.into_inner().to_string())
    })
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_keys_stay_removed_and_bad_types_name_the_path() {
        let mut values = restricted_pod(PREFECT_UID);
        values.remove("runAsUser");
        let typed = pod(&values, "podSecurityContext").unwrap();
        assert_eq!(typed.run_as_user, None);
        assert_eq!(typed.fs_group, Some(1001));

        let mut bad = restricted_container(PREFECT_UID);
        bad.insert("runAsUser".into(), json!("root"));
        let err = container(&bad, "server.containerSecurityContext").unwrap_err();
        assert_eq!(err.path.as_deref(), Some("server.containerSecurityContext.runAsUser"));
    }
}
