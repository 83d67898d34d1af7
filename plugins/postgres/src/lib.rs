//! The `postgres` plugin of prefectctl: a PostgreSQL database owned by the release, and the
//! server switched to it.
//!
//! It adds a StatefulSet of the official `postgres` image with its data on a claim, a headless
//! and a client Service, a ServiceAccount, and the Secret with the user's password, which is
//! generated once and kept across every later apply ([`credentials`]). It then changes the
//! server plugin's pod templates to connect to it ([`server`]): the Deployment
//! `<release>-server` (container `prefect-server`), which must be there, and when present the
//! Deployment `<release>-background-services` (container `prefect-background-services`) and
//! the Job `<release>-db-migrations` (container `prefect-db-migrations`).
#![forbid(unsafe_code)]

pub mod credentials;
pub mod server;
pub mod statefulset;
pub mod values;

use prefect_plugin_sdk::{Context, Error, Manifest, Plugin, export_plugin, workload::stateful};

use crate::values::Values;

/// The component name: resources are `<release>-postgresql`, labelled `component: postgresql`.
pub const COMPONENT: &str = "postgresql";
/// The port PostgreSQL listens on in the pod.
pub const PORT: i32 = 5432;
/// The name of the container's port, which the Services target.
pub const PORT_NAME: &str = "postgresql";

/// The plugin.
pub struct Postgres;

impl Plugin for Postgres {
    type Values = Values;

    fn manifest() -> Manifest {
        Manifest::new("postgres", env!("CARGO_PKG_VERSION"))
            .description(
                "a PostgreSQL database for the server, its password generated once and kept",
            )
            .requires(&["server"])
            // The server's and background services' Deployments, the migrations Job.
            .reads(&["Deployment", "Job"])
    }

    fn prebuilt_manifest() -> Option<&'static str> {
        // `UPDATE_EXPECT=1 cargo test` rewrites it (`the_prebuilt_manifest_is_what_the_code_builds`).
        Some(include_str!("../manifest.json"))
    }

    fn run(ctx: &mut Context, values: Values) -> Result<(), Error> {
        let password = credentials::password(ctx, &values.auth)?;
        let (account_name, account) = values.service_account.build(ctx, COMPONENT, false);
        let statefulset = statefulset::build(ctx, &values, &password, &account_name);
        server::wire(ctx, &values, &password)?;
        if ctx.failed() {
            return Ok(());
        }
        if let Some(account) = account {
            ctx.add(account)?;
        }
        if let Some(secret) = password.secret(ctx, COMPONENT) {
            ctx.add(secret)?;
        }
        ctx.add(stateful::headless_service(ctx, COMPONENT, PORT, PORT_NAME))?;
        let service = &values.service;
        ctx.add(stateful::client_service(
            ctx,
            COMPONENT,
            service.port,
            PORT_NAME,
            &service.annotations,
        ))?;
        ctx.add(statefulset)
    }
}

export_plugin!(Postgres);

#[cfg(test)]
mod tests;
