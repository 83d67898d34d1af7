//! The `network-policy:` values: who may reach each component, beyond the release's own pods
//! that use it, which are let in without configuration.

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    schemars::{self, JsonSchema},
    serde_json::Value,
};
use serde::{Deserialize, Serialize};

/// NetworkPolicies for the release: every pod of the release refuses incoming connections
/// except those its component serves to the release's own pods, and those allowed here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Values {
    /// Who may reach the Prefect server's API and UI, besides the release's Prefect clients
    /// (the worker, the metrics exporter: every workload whose `PREFECT_API_URL` points at the
    /// server's Service, which this plugin labels `prefectctl.io/prefect-api-client: "true"`;
    /// label your own pods in the namespace so to let them in).
    pub server: Server,
    /// Who may reach the postgres plugin's database, besides the release's pods that connect
    /// to it (the server, the background services, the migrations Job).
    pub postgres: Backend,
    /// Who may reach the redis plugin's Redis, besides the release's pods that connect to it
    /// (the server, the background services).
    pub redis: Backend,
    /// Who may scrape the metrics plugin's exporter.
    pub metrics: Metrics,
}

/// `network-policy.server`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Server {
    /// Lets the pods of your ingress controller's namespace in (the UI and the API through
    /// the Ingress or Route).
    pub allow_ingress_controller: bool,
    /// Labels of the namespace of your ingress controller. On OpenShift, the router's
    /// namespace is selected by `policy-group.network.openshift.io/ingress: ""` (set
    /// `kubernetes.io/metadata.name` to null to drop the default).
    pub ingress_namespace_selector: BTreeMap<String, String>,
    /// Lets the flow-run pods of the release namespace in (they carry `prefect.io/flow-run-id`):
    /// flows report their state to the API. Flow runs in another namespace need `allowFrom`.
    pub allow_flow_runs: bool,
    /// More peers that may reach the server (Kubernetes `NetworkPolicyPeer` objects), such as
    /// an `ipBlock` of the control plane for `prefectctl status`, which reaches the API
    /// through the API server's service proxy.
    pub allow_from: Vec<Value>,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            allow_ingress_controller: true,
            ingress_namespace_selector: BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                "ingress-nginx".to_owned(),
            )]),
            allow_flow_runs: true,
            allow_from: Vec::new(),
        }
    }
}

/// `network-policy.postgres`, `network-policy.redis`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Backend {
    /// More peers that may connect (Kubernetes `NetworkPolicyPeer` objects), such as a backup
    /// Job's pods.
    pub allow_from: Vec<Value>,
}

/// `network-policy.metrics`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Metrics {
    /// Labels of the namespaces whose pods may scrape the exporter; empty lets every namespace
    /// in, since Prometheus usually runs in a namespace of its own.
    pub namespace_selector: BTreeMap<String, String>,
    /// Labels of the pods (in those namespaces) that may scrape it, such as
    /// `app.kubernetes.io/name: prometheus`; empty lets every pod in.
    pub pod_selector: BTreeMap<String, String>,
}
