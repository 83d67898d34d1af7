//! `network-policy`: a prefectctl plugin, built outside the prefectctl workspace against the
//! SDK alone, that lets only the Prefect clients of the release, flow runs and the ingress
//! controller reach the server's API.
//!
//! It does both things a plugin can do:
//! - it adds a NetworkPolicy that selects the server's pods ([`policy`]);
//! - it changes resources other plugins added: every workload whose containers talk to the
//!   server (its `PREFECT_API_URL` points at the server's Service, such as the agent plugin's
//!   worker) gets the label the policy lets in ([`clients`]).

pub mod clients;
pub mod policy;

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    Context, Error, Manifest, Plugin, export_plugin,
    schemars::{self, JsonSchema},
    serde_json::Value,
};
use serde::{Deserialize, Serialize};

/// Who may reach the Prefect server.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Values {
    /// Labels of the namespace of your ingress controller, whose pods may reach the server
    /// (`kubernetes.io/metadata.name: ingress-nginx`). Empty lets no other namespace in.
    pub ingress_namespace_selector: BTreeMap<String, String>,
    /// Lets flow-run pods in (they carry `prefect.io/flow-run-id`): they report to the API.
    pub allow_flow_runs: bool,
    /// More peers that may reach the server (Kubernetes `NetworkPolicyPeer` objects).
    pub allow_from: Vec<Value>,
}

impl Default for Values {
    fn default() -> Self {
        Values {
            ingress_namespace_selector: BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                "ingress-nginx".to_owned(),
            )]),
            allow_flow_runs: true,
            allow_from: Vec::new(),
        }
    }
}

/// The plugin.
pub struct NetworkPolicy;

impl Plugin for NetworkPolicy {
    type Values = Values;

    fn manifest() -> Manifest {
        Manifest::new("network-policy", env!("CARGO_PKG_VERSION"))
            .description(
                "only Prefect clients, flow runs and the ingress controller reach the server",
            )
            .requires(&["server"])
            .after(&["agent"])
    }

    fn run(ctx: &mut Context, values: Values) -> Result<(), Error> {
        let server = ctx.full_name("server");
        let Some(policy) = policy::build(ctx, &values) else { return Ok(()) };
        let labelled = clients::label(ctx, &server);
        if labelled == 0 && ctx.has_plugin("agent") {
            ctx.warn_release("no workload talks to the server: the worker will be refused");
        }
        ctx.add(policy)
    }
}

export_plugin!(NetworkPolicy);
