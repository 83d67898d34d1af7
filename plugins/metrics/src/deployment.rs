//! The Deployment that runs prometheus-prefect-exporter: one replica (each would read the whole
//! Prefect API on every scrape), as the image's `nobody` user on a read-only root filesystem,
//! with probes on the metrics port.

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::{
        api::{
            apps::v1::{Deployment, DeploymentSpec},
            core::v1::{Container, ContainerPort, EnvVar, Probe, TCPSocketAction},
        },
        apimachinery::pkg::util::intstr::IntOrString,
    },
    workload::{check_digest, empty_dir, env_var, mount, set_env},
};

use crate::{COMPONENT, PORT, PORT_NAME, server::Connection, values::Values};

/// The exporter's container.
pub const CONTAINER: &str = "prometheus-prefect-exporter";

/// The Deployment.
pub fn build(
    ctx: &Context,
    values: &Values,
    connection: &Connection,
    service_account: &str,
) -> Deployment {
    check_digest(ctx, &values.image.digest, "image.digest");
    let mut template = values.pod.template(
        ctx,
        COMPONENT,
        container(ctx, values, connection),
        vec![empty_dir("tmp")],
    );
    if let Some(spec) = template.spec.as_mut() {
        spec.service_account_name = Some(service_account.to_owned());
        // The exporter talks to Prefect's API, never to Kubernetes'.
        spec.automount_service_account_token = Some(false);
        // Kubernetes would otherwise add `PREFECT_SERVER_PORT=tcp://...` and the like for the
        // release's Services, which look like Prefect settings.
        spec.enable_service_links = Some(false);
    }
    Deployment {
        metadata: ctx.metadata(&ctx.full_name(COMPONENT), COMPONENT),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: ctx.pod_selector(COMPONENT),
            template,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn container(ctx: &Context, values: &Values, connection: &Connection) -> Container {
    // A connection, not an HTTP request: every GET of the exporter reads the Prefect API, and
    // a server that is down is no reason to restart the exporter.
    let listening = Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String(PORT_NAME.to_owned()),
            ..TCPSocketAction::default()
        }),
        ..Probe::default()
    };
    Container {
        name: CONTAINER.to_owned(),
        image: Some(ctx.pinned_image(
            &values.image.repository,
            &values.image.tag,
            &values.image.digest,
        )),
        image_pull_policy: Some(
            values
                .image
                .pull_policy
                .unwrap_or(ctx.global().prefect.image.pull_policy)
                .as_str()
                .to_owned(),
        ),
        env: Some(env(ctx, values, connection)),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_owned()),
            container_port: PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        liveness_probe: values.liveness_probe.probe(ctx, listening.clone(), "livenessProbe"),
        readiness_probe: values.readiness_probe.probe(ctx, listening, "readinessProbe"),
        volume_mounts: Some(vec![mount("tmp", "/tmp")]),
        ..Container::default()
    }
}

/// The exporter's settings (environment variables, as its `main.py` reads them), then the
/// user's `env`.
fn env(ctx: &Context, values: &Values, connection: &Connection) -> Vec<EnvVar> {
    let flag = |on: bool| if on { "True" } else { "False" };
    let mut env = connection.env.clone();
    env.extend([
        env_var("METRICS_PORT", &PORT.to_string()),
        env_var("LOG_LEVEL", &values.log_level),
        env_var("OFFSET_MINUTES", &values.offset_minutes.to_string()),
        env_var("PAGINATION_ENABLED", flag(values.pagination.enabled)),
    ]);
    if values.pagination.enabled {
        env.push(env_var("PAGINATION_LIMIT", &values.pagination.limit.to_string()));
    }
    if values.csrf_auth || connection.csrf {
        env.push(env_var("PREFECT_CSRF_ENABLED", "True"));
    }
    for var in ctx.list::<EnvVar>(&values.env, "env") {
        set_env(&mut env, var);
    }
    env
}
