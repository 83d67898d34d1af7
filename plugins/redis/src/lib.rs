//! The `redis` plugin of prefectctl: Redis owned by the release, and the server switched to
//! it as its messaging broker and cache, which lets Prefect scale out (several API pods, and
//! background services apart from them).
//!
//! It adds a StatefulSet of the official `redis` image ([`statefulset`]), a headless and a
//! client Service (the SDK's `workload::stateful`), a ServiceAccount, and the Secret with the password, which is
//! generated once and kept across every later apply ([`credentials`]). It then changes the
//! server plugin's Deployments to use it ([`server`]).
//!
//! What other plugins may rely on (names for release `<release>`):
//!
//! - the Service `<release>-redis`, port `redis` (6379 unless `redis.service.port` says
//!   otherwise); the headless Service `<release>-redis-hl`;
//! - the Secret `<release>-redis`, key `redis-password` (or `redis.auth.existingSecret` and
//!   `redis.auth.existingSecretPasswordKey`), as the server's
//!   `PREFECT_REDIS_MESSAGING_PASSWORD` refers to it;
//! - Redis database 0 for Prefect's messaging ([`server::MESSAGING_DB`]), 1 for Docket
//!   ([`server::DOCKET_DB`]);
//! - the pods labelled `app.kubernetes.io/component: redis`.
//!
//! It changes, and so relies on, the server plugin's Deployment `<release>-server` (container
//! `prefect-server`) and, when present, `<release>-background-services` (container
//! `prefect-background-services`).
#![forbid(unsafe_code)]

pub mod credentials;
pub mod server;
pub mod statefulset;
pub mod values;

use prefect_plugin_sdk::{Context, Error, Manifest, Plugin, export_plugin, workload::stateful};

use crate::values::Values;

/// The component name: resources are `<release>-redis`, labelled `component: redis`.
pub const COMPONENT: &str = "redis";
/// The port Redis listens on in the pod.
pub const PORT: i32 = 6379;
/// The name of the container's port, which the Services target.
pub const PORT_NAME: &str = "redis";

/// The plugin.
pub struct Redis;

impl Plugin for Redis {
    type Values = Values;

    fn manifest() -> Manifest {
        Manifest::new("redis", env!("CARGO_PKG_VERSION"))
            .description(
                "Redis as the server's messaging broker and cache, so that it can scale out; its \
                 password generated once and kept",
            )
            .requires(&["server"])
            // The server's and background services' Deployments.
            .reads(&["Deployment"])
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

export_plugin!(Redis);

#[cfg(test)]
mod tests;
