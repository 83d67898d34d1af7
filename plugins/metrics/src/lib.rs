//! The `metrics` plugin of prefectctl: Prometheus metrics of the stack's Prefect server, from
//! prometheus-prefect-exporter (what the prometheus-prefect-exporter chart of prefect-helm
//! runs), and the Prometheus Operator's objects that scrape it and alert on it.
//!
//! It adds a Deployment of the exporter and its ServiceAccount ([`deployment`]), and the
//! Service `<release>-metrics` with the port `metrics` ([`service`]). The exporter is wired to
//! the server plugin's Service `<release>-server` and, when the server has basic auth, to the
//! Secret its container reads `PREFECT_SERVER_API_AUTH_STRING` from ([`server`]): the plugin
//! requires `server`, and copies no credential.
//!
//! A ServiceMonitor ([`monitor`]) and a PrometheusRule ([`rules`]) are added when the cluster
//! serves `monitoring.coreos.com/v1` (the Prometheus Operator's CRDs): `apply` asks the
//! cluster, `render` assumes it with `--api-versions monitoring.coreos.com/v1`. Without it they
//! are left out, with a warning that says so.
#![forbid(unsafe_code)]

pub mod deployment;
pub mod monitor;
pub mod rules;
pub mod server;
pub mod service;
pub mod values;

use prefect_plugin_sdk::{Context, Error, Manifest, Plugin, export_plugin};

use crate::values::Values;

/// The component name: resources are `<release>-metrics`, labelled `component: metrics`.
pub const COMPONENT: &str = "metrics";
/// The port the exporter serves its metrics on in the pod.
pub const PORT: i32 = 8000;
/// The name of the metrics port, in the container and the Service; the ServiceMonitor
/// scrapes it.
pub const PORT_NAME: &str = "metrics";
/// The API version of the Prometheus Operator's ServiceMonitor and PrometheusRule.
pub const MONITORING_API: &str = "monitoring.coreos.com/v1";

/// The plugin.
pub struct Metrics;

impl Plugin for Metrics {
    type Values = Values;

    fn manifest() -> Manifest {
        Manifest::new("metrics", env!("CARGO_PKG_VERSION"))
            .description(
                "Prometheus metrics of the Prefect server (prometheus-prefect-exporter), with a \
                 ServiceMonitor and alerts for the Prometheus Operator",
            )
            .requires(&["server"])
            // The server's Service and Deployment (`server`).
            .reads(&["Service", "Deployment"])
    }

    fn prebuilt_manifest() -> Option<&'static str> {
        // `UPDATE_EXPECT=1 cargo test` rewrites it (`the_prebuilt_manifest_is_what_the_code_builds`).
        Some(include_str!("../manifest.json"))
    }

    fn run(ctx: &mut Context, values: Values) -> Result<(), Error> {
        let connection = server::connect(ctx)?;
        let (account_name, account) = values.service_account.build(ctx, COMPONENT, false);
        let deployment = deployment::build(ctx, &values, &connection, &account_name);
        let service = service::build(ctx, &values.service);
        let monitoring = ctx.capabilities().has(MONITORING_API);
        let mut operator_objects = Vec::new();
        if values.service_monitor.enabled {
            let monitor = monitor::build(ctx, &values.service_monitor);
            operator_objects.push(("serviceMonitor.enabled", "ServiceMonitor", Some(monitor)));
        }
        if values.prometheus_rule.enabled {
            let rule = rules::build(ctx, &values.prometheus_rule);
            operator_objects.push(("prometheusRule.enabled", "PrometheusRule", rule));
        }
        if !monitoring {
            for (path, kind, _) in &operator_objects {
                ctx.warn(
                    *path,
                    format!(
                        "the {kind} is left out: the cluster does not serve {MONITORING_API} (the \
                         Prometheus Operator's CRDs); install the Prometheus Operator or its CRDs \
                         and apply again, pass --api-versions {MONITORING_API} to render, or set \
                         {path} to false"
                    ),
                );
            }
        }
        if ctx.failed() {
            return Ok(());
        }
        if let Some(account) = account {
            ctx.add(account)?;
        }
        ctx.add(service)?;
        ctx.add(deployment)?;
        if monitoring {
            for (_, _, object) in operator_objects {
                if let Some(object) = object {
                    ctx.add_object(object);
                }
            }
        }
        Ok(())
    }
}

export_plugin!(Metrics);

#[cfg(test)]
mod tests;
