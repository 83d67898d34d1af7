//! The `network-policy` plugin of prefectctl, opt-in: NetworkPolicies that let into each pod
//! of the release only the connections its component serves.
//!
//! It adds ([`policies`]):
//! - `<release>-default-deny-ingress`, which selects every pod of the release (labels
//!   `app.kubernetes.io/instance: <release>` and `app.kubernetes.io/managed-by: prefectctl`)
//!   and allows nothing: the worker, the background services and the migrations Job accept no
//!   connection (the kubelet's probes come from the node, which network plugins let through);
//! - `<release>-server`, the API port (read from the server's Deployment) from the release's
//!   Prefect API clients, flow-run pods, the ingress controller's namespace and `allowFrom`;
//! - `<release>-postgresql` and `<release>-redis`, each backend's port from the release's pods
//!   whose environment names its Service, and `allowFrom`;
//! - `<release>-metrics`, the exporter's port from the namespaces (by default all) and pods
//!   `metrics` selects.
//!
//! Each component's policy is added only when its workload is in the graph, found by the names
//! the first-party plugins promise: Deployment `<release>-server` (container `prefect-server`,
//! port `http`), StatefulSets `<release>-postgresql` and `<release>-redis`, Deployment
//! `<release>-metrics` (container `prometheus-prefect-exporter`, port `metrics`).
//!
//! It changes resources other plugins added: the pod template of every workload whose
//! `PREFECT_API_URL` points at the server's Service (the worker, the metrics exporter) gets
//! the label [`graph::CLIENT_LABEL`], which the server's policy lets in ([`graph`]).
//!
//! Flow-run pods are not the release's: the baseline leaves them alone. Egress is not
//! restricted; [`policies`] says why. NetworkPolicies take effect only where the cluster's
//! network plugin enforces them.
#![forbid(unsafe_code)]

pub mod graph;
pub mod policies;
pub mod values;

use prefect_plugin_sdk::{Context, Error, Manifest, Plugin, export_plugin, pods};

use crate::{
    policies::{POSTGRES, REDIS},
    values::Values,
};

/// The plugin.
pub struct NetworkPolicy;

impl Plugin for NetworkPolicy {
    type Values = Values;

    fn manifest() -> Manifest {
        Manifest::new("network-policy", env!("CARGO_PKG_VERSION"))
            .description(
                "NetworkPolicies: each pod of the release accepts only the connections its \
                 component serves to the release (opt-in)",
            )
            .after(&["server", "agent", "postgres", "redis", "metrics", "dask-rbac"])
            // Every workload: its pods, ports and environment.
            .reads(&pods::KINDS)
    }

    fn prebuilt_manifest() -> Option<&'static str> {
        // `UPDATE_EXPECT=1 cargo test` rewrites it (`the_prebuilt_manifest_is_what_the_code_builds`).
        Some(include_str!("../manifest.json"))
    }

    fn run(ctx: &mut Context, values: Values) -> Result<(), Error> {
        let server_service = ctx.full_name(policies::SERVER.component);
        graph::label_api_clients(ctx, &server_service);
        let mut added = vec![policies::default_deny(ctx)];
        added.extend(policies::server(ctx, &values.server));
        added.extend(policies::backend(
            ctx,
            &POSTGRES,
            "PREFECT_SERVER_DATABASE_HOST",
            &values.postgres,
            "postgres",
        ));
        added.extend(policies::backend(
            ctx,
            &REDIS,
            "PREFECT_REDIS_MESSAGING_HOST",
            &values.redis,
            "redis",
        ));
        added.extend(policies::metrics(ctx, &values.metrics));
        let server = &values.server;
        if ctx.has_plugin("openshift-security")
            && server.allow_ingress_controller
            && server.ingress_namespace_selector
                == values::Server::default().ingress_namespace_selector
        {
            ctx.warn(
                "server.ingressNamespaceSelector",
                "on OpenShift the router runs in openshift-ingress, which this selector \
                 (ingress-nginx's namespace) leaves out, so a Route cannot reach the server: set \
                 `policy-group.network.openshift.io/ingress: \"\"` and \
                 `kubernetes.io/metadata.name: null`",
            );
        }
        if ctx.failed() {
            return Ok(());
        }
        for policy in added {
            ctx.add(policy)?;
        }
        Ok(())
    }
}

export_plugin!(NetworkPolicy);

#[cfg(test)]
mod tests;
