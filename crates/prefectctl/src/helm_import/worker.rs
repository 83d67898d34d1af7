//! prefect-helm's `prefect-worker` chart: `worker.*` is the agent plugin's `agent.*`.

use std::borrow::Cow;

use serde_json::{Value, json};

use super::table::{Rule, Target, drop, effective, read, to};
use super::{Conversion, Emit};

/// The chart's default values (its `values.yaml`, as facts): a value equal to its default is
/// not something the user chose, and is left to prefectctl's own default.
pub fn defaults() -> Value {
    let restricted_container = json!({
        "runAsUser": 1001, "runAsNonRoot": true, "readOnlyRootFilesystem": true,
        "allowPrivilegeEscalation": false, "capabilities": {}
    });
    let probe = json!({
        "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 5,
        "failureThreshold": 3, "successThreshold": 1
    });
    let api_key_secret = json!({ "name": "prefect-api-key", "key": "key" });
    json!({
        "nameOverride": "", "fullnameOverride": "prefect-worker", "namespaceOverride": "",
        "commonLabels": {}, "commonAnnotations": {},
        "worker": {
            "autoscaling": {
                "enabled": false, "minReplicas": 1, "maxReplicas": 1,
                "targetCPUUtilizationPercentage": 80, "targetMemoryUtilizationPercentage": 80
            },
            "clusterUid": "",
            "initContainer": {
                "resources": {}, "containerSecurityContext": restricted_container,
                "extraEnvVars": [], "extraContainers": []
            },
            "dnsPolicy": "",
            "dnsConfig": { "nameservers": [], "searches": [], "options": [] },
            "image": {
                "repository": "prefecthq/prefect", "prefectTag": "3-python3.11-kubernetes",
                "pullPolicy": "IfNotPresent", "pullSecrets": [], "debug": false
            },
            "config": {
                "workPool": "", "workQueues": [], "queryInterval": 5, "prefetchSeconds": 10,
                "http2": true, "type": "kubernetes", "installPolicy": "prompt", "name": null,
                "limit": null, "jobNamespace": null, "observerClusterWide": false,
                "baseJobTemplate": { "existingConfigMapName": "", "configuration": null }
            },
            "apiConfig": "cloud",
            "cloudApiConfig": {
                "accountId": "", "workspaceId": "", "apiKeySecret": api_key_secret,
                "jobApiKeyPropagation": "secretRef", "cloudUrl": "https://api.prefect.cloud/api"
            },
            "customerManagedCloudApiConfig": {
                "apiUrl": "", "accountId": "", "workspaceId": "", "apiKeySecret": api_key_secret,
                "jobApiKeyPropagation": "secretRef", "cloudApiUrl": "", "cloudUiUrl": ""
            },
            "selfHostedServerApiConfig": {
                "apiUrl": "",
                "basicAuth": { "enabled": false, "authString": "admin:pass", "existingSecret": "" }
            },
            "revisionHistoryLimit": 10,
            "replicaCount": 1,
            "resources": {
                "requests": { "memory": "256Mi", "cpu": "100m" },
                "limits": { "memory": "1Gi", "cpu": "1000m" }
            },
            "livenessProbe": { "enabled": false, "config": probe },
            "podSecurityContext": {
                "runAsUser": 1001, "runAsNonRoot": true, "fsGroup": 1001,
                "seccompProfile": { "type": "RuntimeDefault" }
            },
            "priorityClassName": "",
            "containerSecurityContext": restricted_container,
            "args": [], "command": [], "podLabels": {}, "podAnnotations": {}, "affinity": {},
            "nodeSelector": {}, "tolerations": [], "extraEnvVars": [], "extraEnvVarsCM": "",
            "extraEnvVarsCMs": [], "extraEnvVarsSecret": "", "extraEnvVarsSecrets": [],
            "extraContainers": [], "extraVolumes": [], "extraVolumeMounts": [], "extraArgs": [],
            "podDisruptionBudget": {}
        },
        "serviceAccount": { "create": true, "name": "", "annotations": {} },
        "role": { "create": true, "namespace": null, "extraPermissions": [] },
        "rolebinding": { "create": true }
    })
}

/// The table: prefect-helm's worker values and where prefectctl keeps them. Names the agent
/// plugin shares with the chart move as they are; the plugin's schema then has the last word.
pub const RULES: &[Rule] = &[
    to("worker", "agent"),
    to("serviceAccount", "agent.serviceAccount"),
    to("role", "agent.role"),
    to("rolebinding", "agent.rolebinding"),
    to("commonLabels", "global.commonLabels"),
    to("commonAnnotations", "global.commonAnnotations"),
    drop("nameOverride", NAMES),
    drop("fullnameOverride", NAMES),
    drop("namespaceOverride", "give the namespace with `-n NAMESPACE`"),
    // prefectctl's pull secrets are global: every component pulls from the same registry.
    to("worker.image.pullSecrets", "global.prefect.image.pullSecrets"),
    to("worker.image.debug", "agent.debug"),
    read("worker.apiConfig"),
    read("worker.cloudApiConfig"),
    read("worker.customerManagedCloudApiConfig"),
    read("worker.selfHostedServerApiConfig"),
];

/// Why the chart's name overrides are not converted.
const NAMES: &str = "prefectctl names the worker's objects `<release>-worker`: choose the \
     release name with `--release NAME`";

/// The rules of the API connection, which depend on `worker.apiConfig`, and the values the
/// chart's defaults decide that prefectctl's do not (prefect-helm's worker talks to Prefect
/// Cloud unless told otherwise; prefectctl's to the stack's server).
pub fn api_rules(user: &Value, defaults: &Value, conversion: &mut Conversion) -> Vec<Rule> {
    let api = effective(user, defaults, "worker.apiConfig").and_then(Value::as_str).unwrap_or("");
    let unused = |helm: &'static str| Rule {
        helm,
        target: Target::Drop(Cow::Owned(format!(
            "not used: `worker.apiConfig` is `{api}`, so prefect-helm ignores it too"
        ))),
    };
    let key_secret = |section: &str, conversion: &mut Conversion| {
        // The chart's default Secret name and key, which prefectctl may default otherwise.
        for part in ["name", "key"] {
            let path = format!("worker.{section}.apiKeySecret.{part}");
            if let Some(value) = effective(user, defaults, &path) {
                conversion.emit(Emit::default_of(
                    &path,
                    &format!("agent.{section}.apiKeySecret.{part}"),
                    value.clone(),
                ));
            }
        }
    };
    match api {
        "cloud" => {
            conversion.emit_first(Emit::default_of(
                "worker.apiConfig",
                "agent.apiConfig",
                json!("cloud"),
            ));
            key_secret("cloudApiConfig", conversion);
            vec![
                to("worker.cloudApiConfig", "agent.cloudApiConfig"),
                unused("worker.customerManagedCloudApiConfig"),
                unused("worker.selfHostedServerApiConfig"),
            ]
        }
        "customerManagedCloud" => {
            conversion.emit_first(Emit::default_of(
                "worker.apiConfig",
                "agent.apiConfig",
                json!("customerManagedCloud"),
            ));
            key_secret("customerManagedCloudApiConfig", conversion);
            vec![
                to("worker.customerManagedCloudApiConfig", "agent.customerManagedCloudApiConfig"),
                unused("worker.cloudApiConfig"),
                unused("worker.selfHostedServerApiConfig"),
            ]
        }
        "selfHostedServer" => {
            conversion.emit_first(Emit::default_of(
                "worker.apiConfig",
                "agent.apiConfig",
                json!("server"),
            ));
            let auth = "worker.selfHostedServerApiConfig.basicAuth";
            let enabled = effective(user, defaults, &format!("{auth}.enabled"));
            let secret = effective(user, defaults, &format!("{auth}.existingSecret"));
            if enabled == Some(&json!(true)) && secret.is_none_or(|s| s == "") {
                let path = format!("{auth}.authString");
                if let Some(value) = effective(user, defaults, &path) {
                    conversion.emit(Emit::default_of(
                        &path,
                        "agent.serverApiConfig.basicAuth.authString",
                        value.clone(),
                    ));
                }
            }
            vec![
                to("worker.selfHostedServerApiConfig", "agent.serverApiConfig"),
                unused("worker.cloudApiConfig"),
                unused("worker.customerManagedCloudApiConfig"),
            ]
        }
        other => {
            conversion.not_converted(
                "worker.apiConfig",
                format!(
                    "`{other}` is not one of prefect-helm's `cloud`, `customerManagedCloud`, \
                     `selfHostedServer`: set `agent.apiConfig` (`server` or `cloud`) yourself"
                ),
            );
            vec![
                unused("worker.cloudApiConfig"),
                unused("worker.customerManagedCloudApiConfig"),
                unused("worker.selfHostedServerApiConfig"),
            ]
        }
    }
}

/// The chart creates a PodDisruptionBudget whenever `worker.podDisruptionBudget` is not
/// empty; prefectctl's needs `enabled`.
pub fn disruption_budget(user: &Value, conversion: &mut Conversion) {
    let budget = user.pointer("/worker/podDisruptionBudget");
    if budget.and_then(Value::as_object).is_some_and(|b| !b.is_empty()) {
        conversion.emit(Emit::default_of(
            "worker.podDisruptionBudget",
            "agent.podDisruptionBudget.enabled",
            json!(true),
        ));
    }
}
