//! The `agent` plugin of prefectctl: the Prefect worker that runs flows as Kubernetes Jobs
//! (or, in `mode: agent`, Prefect 2's legacy agent), what the prefect-worker Helm chart
//! deploys.
//!
//! It adds the worker's Deployment, ServiceAccount, least-privilege Role and RoleBinding in
//! the release namespace (and in each namespace flow runs go to), and as the values ask a
//! cluster-wide observer's ClusterRole and ClusterRoleBinding, a HorizontalPodAutoscaler, a
//! PodDisruptionBudget, the base job template's ConfigMap and a basic-auth Secret. With the
//! server plugin in the stack the worker is wired to it without configuration ([`api`]).
//! Resources are `<release>-worker`: the dask-rbac plugin finds the Role by that name.
#![forbid(unsafe_code)]

pub mod api;
pub mod default_template;
mod deployment;
pub mod job_namespaces;
pub mod job_template;
mod pod_settings;
pub mod pool_sync;
pub mod prefect_version;
pub mod rbac;
pub mod scaling;
pub mod values;

use prefect_plugin_sdk::{Context, Error, Manifest, Plugin, export_plugin};

use crate::values::Values;

/// The component name: resources are `<release>-worker`, labelled `component: worker`.
pub const COMPONENT: &str = prefect_plugin_sdk::contract::worker::COMPONENT;

/// The plugin.
pub struct Agent;

impl Plugin for Agent {
    type Values = Values;

    fn manifest() -> Manifest {
        Manifest::new("agent", env!("CARGO_PKG_VERSION"))
            .description(
                "the Prefect worker that runs flows as Kubernetes Jobs (or a Prefect 2 agent)",
            )
            .after(&["server"])
            // The server's Service and Deployment (`api`).
            .reads(&["Service", "Deployment"])
    }

    fn prebuilt_manifest() -> Option<&'static str> {
        // `UPDATE_EXPECT=1 cargo test` rewrites it (`the_prebuilt_manifest_is_what_the_code_builds`).
        Some(include_str!("../manifest.json"))
    }

    fn run(ctx: &mut Context, values: Values) -> Result<(), Error> {
        let api = api::connect(ctx, &values);
        let (account_name, account) = values.service_account.build(ctx, COMPONENT, true);
        let job_namespaces = job_namespaces::resolve(ctx, &values.config.job_namespace);
        let roles = rbac::roles(ctx, &values, &job_namespaces);
        let bindings = rbac::bindings(ctx, &values, &job_namespaces, &account_name);
        let observer_role = rbac::observer_role(ctx, &values);
        let observer_binding = rbac::observer_binding(ctx, &values, &account_name);
        let template = job_template::resolve(ctx, &values.config.base_job_template);
        let deployment = deployment::build(
            ctx,
            &values,
            &api,
            template.as_ref(),
            &account_name,
            &job_namespaces,
        );
        let autoscaler = scaling::autoscaler(ctx, &values);
        let budget = scaling::disruption_budget(ctx, &values);
        if ctx.failed() {
            return Ok(());
        }
        if let Some(account) = account {
            ctx.add(account)?;
        }
        if let Some(secret) = api.secret {
            ctx.add(secret)?;
        }
        if let Some(map) = template.and_then(|template| template.config_map) {
            ctx.add(map)?;
        }
        for role in roles {
            ctx.add(role)?;
        }
        for binding in bindings {
            ctx.add(binding)?;
        }
        if let Some(role) = observer_role {
            ctx.add(role)?;
        }
        if let Some(binding) = observer_binding {
            ctx.add(binding)?;
        }
        ctx.add(deployment)?;
        for object in [autoscaler, budget].into_iter().flatten() {
            ctx.add_object(object);
        }
        Ok(())
    }
}

export_plugin!(Agent);

#[cfg(test)]
mod tests;
