//! The `server` plugin of prefectctl: the Prefect 3 API server and UI, what the prefect-server
//! Helm chart deploys.
//!
//! It adds a Deployment running `prefect server start` (port 4200), its Service and
//! ServiceAccount, and as the values ask an Ingress (with a self-signed certificate's Secret,
//! [`self_signed`]) or the Gateway API's Gateway and HTTPRoutes ([`gateway`]), the Secrets for
//! inline credentials and the PersistentVolumeClaim of the embedded SQLite database. To scale
//! out: a HorizontalPodAutoscaler and a PodDisruptionBudget ([`scaling`]), the background
//! services in a Deployment of their own ([`background_services`]), the Job that migrates a
//! PostgreSQL database first ([`migrations`]), and messaging through a Redis of the user's
//! ([`messaging`]). Values are documented in [`values::Values`]; each resource kind has its own
//! module.
//!
//! Other plugins rely on what this one names:
//! - the API server: Deployment and Service `<release>-server`, container `prefect-server`;
//!   basic auth reaches it as [`env::AUTH_STRING_VAR`] (the agent plugin wires a worker from
//!   those);
//! - the background services, with `backgroundServices.runAsSeparateDeployment`: Deployment
//!   `<release>-background-services`, container `prefect-background-services`;
//! - on PostgreSQL, unless `migrations.enabled` is off: Job `<release>-db-migrations`,
//!   container `prefect-db-migrations`, annotated [`migrations::RUN_BEFORE`]
//!   (`prefectctl.io/run-before`) with the Deployments that start after it completes
//!   (`Deployment/<release>-server[,Deployment/<release>-background-services]`).
//!
//! The postgres plugin adds its database settings to each of those containers; the redis
//! plugin its messaging settings to the two Deployments' (this plugin then sets none, and
//! refuses `backgroundServices.messaging.redis.host`).
#![forbid(unsafe_code)]

pub mod background_services;
pub mod database;
pub mod deployment;
pub mod env;
pub mod gateway;
pub mod ingress;
pub mod messaging;
pub mod migrations;
pub mod pvc;
pub mod scaling;
pub mod secrets;
pub mod self_signed;
pub mod service;
pub mod values;

use prefect_plugin_sdk::{Context, Error, Manifest, Plugin, export_plugin};

use crate::{deployment::Wiring, values::Values};

/// The component name: resources are `<release>-server`, labelled `component: server`.
pub const COMPONENT: &str = prefect_plugin_sdk::contract::server::COMPONENT;
/// The port the server listens on inside the pod.
pub const PORT: i32 = prefect_plugin_sdk::contract::server::PORT;
/// The name of the container's port, which the Service and the probes use.
pub const CONTAINER_PORT_NAME: &str = prefect_plugin_sdk::contract::server::PORT_NAME;

/// The plugin.
pub struct Server;

impl Plugin for Server {
    type Values = Values;

    fn manifest() -> Manifest {
        Manifest::new("server", env!("CARGO_PKG_VERSION"))
            .description("the Prefect API server and UI, with SQLite or an external PostgreSQL")
            // It only adds.
            .reads(&[])
    }

    fn prebuilt_manifest() -> Option<&'static str> {
        // `UPDATE_EXPECT=1 cargo test` rewrites it (`the_prebuilt_manifest_is_what_the_code_builds`).
        Some(include_str!("../manifest.json"))
    }

    fn run(ctx: &mut Context, values: Values) -> Result<(), Error> {
        let database =
            database::choose(ctx, &values.external_database, values.sqlite.persistence.enabled);
        database::check_scale(ctx, &values, &database);
        background_services::check(ctx, &values);
        let (basic_auth, auth_secret) = secrets::basic_auth(ctx, &values.basic_auth);
        let messaging = messaging::settings(ctx, &values.background_services.messaging);
        let (account_name, account) = values.service_account.build(ctx, COMPONENT, false);
        let wiring = Wiring {
            database: &database,
            basic_auth: basic_auth.as_ref(),
            service_account: &account_name,
            migrate_on_start: !migrations::enabled(&values, &database),
            messaging: &messaging.env,
        };
        let deployment = deployment::build(ctx, &values, &wiring);
        let services = background_services::build(ctx, &values, &wiring);
        let job = migrations::build(ctx, &values, &wiring);
        let autoscaler = scaling::autoscaler(ctx, &values);
        let budget = scaling::disruption_budget(ctx, &values);
        let service = service::build(ctx, &values.service);
        let ingress = ingress::build(ctx, &values.ingress, &values.service.port_name);
        let tls_secret = self_signed::build(ctx, &values.ingress)?;
        let gateway_api = gateway::build(ctx, &values);
        let claim = pvc::build(ctx, &values.sqlite.persistence, &database);
        let url_secret = secrets::database_url(ctx, &database);

        if ctx.failed() {
            return Ok(());
        }
        if let Some(account) = account {
            ctx.add(account)?;
        }
        for secret in [auth_secret, url_secret, messaging.secret].into_iter().flatten() {
            ctx.add(secret)?;
        }
        if let Some(claim) = claim {
            ctx.add(claim)?;
        }
        ctx.add(service)?;
        ctx.add(deployment)?;
        if let Some((services, account)) = services {
            if let Some(account) = account {
                ctx.add(account)?;
            }
            ctx.add(services)?;
        }
        if let Some(job) = job {
            ctx.add(job)?;
        }
        for object in [autoscaler, budget].into_iter().flatten() {
            ctx.add_object(object);
        }
        if let Some(ingress) = ingress {
            ctx.add(ingress)?;
        }
        if let Some(secret) = tls_secret {
            ctx.add(secret)?;
        }
        for object in gateway_api {
            ctx.add_object(object);
        }
        Ok(())
    }
}

export_plugin!(Server);

#[cfg(test)]
mod tests;
