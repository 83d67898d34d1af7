//! Rewrites the pod templates of every workload in the graph to run under OpenShift's
//! `restricted-v2` SecurityContextConstraints, whichever plugin added them.
//!
//! OpenShift assigns each namespace a range of user and group ids and runs pods with one of
//! them, so fixed ids are removed: `runAsUser`, `runAsGroup` and `fsGroup` of the pod, and
//! `runAsUser` and `runAsGroup` of every container and init container. What restricted-v2
//! requires is made sure of: `runAsNonRoot`, no privilege escalation, all capabilities dropped
//! (only `NET_BIND_SERVICE` may be added), the RuntimeDefault seccomp profile. A read-only root
//! filesystem is kept where it was set. A privileged container, or one that adds another
//! capability, cannot run under restricted-v2: that is an error naming it.

use prefect_plugin_sdk::{
    pods::Workload,
    serde_json::{Map, Value, json},
};

/// The capability restricted-v2 lets containers add.
const ALLOWED_CAPABILITY: &str = "NET_BIND_SERVICE";

/// Rewrites the pod template of `workload` (the SDK finds it in every kind that holds pods);
/// returns what cannot be made to fit.
pub fn restrict(workload: &Workload, template: &mut Value) -> Vec<String> {
    let Some(spec) = template.get_mut("spec").and_then(Value::as_object_mut) else {
        return Vec::new();
    };

    let pod = context(spec, "securityContext");
    for key in ["runAsUser", "runAsGroup", "fsGroup"] {
        pod.remove(key);
    }
    pod.insert("runAsNonRoot".to_owned(), json!(true));
    pod.entry("seccompProfile").or_insert_with(|| json!({ "type": "RuntimeDefault" }));

    let mut problems = Vec::new();
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else { continue };
        for container in containers {
            let Some(container) = container.as_object_mut() else { continue };
            let container_name =
                container.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let at = format!("{workload} container {container_name}");
            problems.extend(restrict_container(context(container, "securityContext"), &at));
        }
    }
    problems
}

fn restrict_container(context: &mut Map<String, Value>, at: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for key in ["runAsUser", "runAsGroup"] {
        context.remove(key);
    }
    if context.get("privileged") == Some(&json!(true)) {
        problems.push(format!(
            "{at} is privileged, which restricted-v2 forbids: remove `privileged`, or run it \
             under another SCC without this plugin"
        ));
    }
    context.insert("runAsNonRoot".to_owned(), json!(true));
    context.insert("allowPrivilegeEscalation".to_owned(), json!(false));
    context.entry("seccompProfile").or_insert_with(|| json!({ "type": "RuntimeDefault" }));
    let capabilities = self::context(context, "capabilities");
    if let Some(added) = capabilities.get("add").and_then(Value::as_array) {
        for capability in added.iter().filter_map(Value::as_str) {
            if capability != ALLOWED_CAPABILITY {
                problems.push(format!(
                    "{at} adds the capability {capability}, which restricted-v2 forbids (only \
                     {ALLOWED_CAPABILITY} may be added): remove it"
                ));
            }
        }
    }
    capabilities.insert("drop".to_owned(), json!(["ALL"]));
    problems
}

/// The map at `key` of `parent`, made if missing or not a map (a `null` counts as missing).
fn context<'a>(parent: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = parent.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("made a map above")
}
