//! Switching the server plugin's pod templates to this database: the API server
//! (Deployment `<release>-server`, container `prefect-server`), and when the server plugin
//! adds them, the background services (Deployment `<release>-background-services`, container
//! `prefect-background-services`) and the migrations Job (`<release>-db-migrations`, container
//! `prefect-db-migrations`).
//!
//! The server connects with Prefect's own database settings (`PREFECT_SERVER_DATABASE_HOST`,
//! `_USER`, `_PASSWORD`...), the password read from the Secret, so no connection URL with the
//! password in it is stored anywhere: Prefect builds the URL itself, escaping the password
//! (SQLAlchemy's `URL`), so passwords with `@:/%?#` work. An init container waits until the
//! database accepts connections, so that the server's first start does not crash-loop while
//! PostgreSQL initialises.

use prefect_plugin_sdk::{
    Context, Error,
    k8s_openapi::{
        api::{
            apps::v1::Deployment,
            batch::v1::Job,
            core::v1::{Container, EnvVar, PodSpec, ResourceRequirements, SecurityContext},
        },
        apimachinery::pkg::api::resource::Quantity,
    },
    secrets::KeptPassword,
    security::restricted_container_as_pod_user,
    serde_json::{self, Value},
    workload::{env_from_secret, env_var, stateful},
};

use crate::{COMPONENT, statefulset, values::Values};

/// The server plugin's API server: component (the Deployment's suffix) and container.
const SERVER: (&str, &str) = (
    prefect_plugin_sdk::contract::server::COMPONENT,
    prefect_plugin_sdk::contract::server::CONTAINER,
);
/// The server plugin's background services, when it runs them in their own Deployment.
const BACKGROUND_SERVICES: (&str, &str) = (
    prefect_plugin_sdk::contract::background_services::COMPONENT,
    prefect_plugin_sdk::contract::background_services::CONTAINER,
);
/// The server plugin's migrations Job, when the database is PostgreSQL.
const MIGRATIONS: (&str, &str) = (
    prefect_plugin_sdk::contract::migrations::COMPONENT,
    prefect_plugin_sdk::contract::migrations::CONTAINER,
);

/// Adds the database settings to every server pod template's container (leaving alone any
/// the user set in `server.env`) and the init container that waits for the database. The API
/// server's Deployment must be there; the others are wired when present.
pub fn wire(ctx: &mut Context, values: &Values, password: &KeptPassword) -> Result<(), Error> {
    let host = stateful::client_service_name(ctx, COMPONENT);
    let settings = [
        env_var("PREFECT_SERVER_DATABASE_DRIVER", "postgresql+asyncpg"),
        env_var("PREFECT_SERVER_DATABASE_HOST", &host),
        env_var("PREFECT_SERVER_DATABASE_PORT", &values.service.port.to_string()),
        env_var("PREFECT_SERVER_DATABASE_NAME", &values.auth.database),
        env_var("PREFECT_SERVER_DATABASE_USER", &values.auth.username),
        env_from_secret("PREFECT_SERVER_DATABASE_PASSWORD", &password.secret, &password.key),
    ];
    let wait = wait_for_database(ctx, values, &host);
    let connect = |pod: &mut PodSpec, container: &str| connect(pod, container, &settings, &wait);

    let (component, container) = SERVER;
    let name = ctx.full_name(component);
    let mut found = false;
    ctx.update::<Deployment>(&name, |deployment| {
        if let Some(pod) = deployment.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
            found = connect(pod, container);
        }
    })?;
    if !found {
        ctx.error(
            "",
            format!(
                "the server's Deployment {name} (container {container}) is not in the graph, so \
                 there is no server to connect to the database: keep the server plugin in the \
                 stack (it runs before postgres)"
            ),
        );
    }
    let (component, container) = BACKGROUND_SERVICES;
    ctx.update::<Deployment>(&ctx.full_name(component), |deployment| {
        if let Some(pod) = deployment.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
            connect(pod, container);
        }
    })?;
    let (component, container) = MIGRATIONS;
    ctx.update::<Job>(&ctx.full_name(component), |job| {
        if let Some(pod) = job.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
            connect(pod, container);
        }
    })?;
    Ok(())
}

/// Adds each of `settings` that `container` does not set yet, and `wait` before the pod's
/// containers; whether the pod has that container.
fn connect(pod: &mut PodSpec, container: &str, settings: &[EnvVar], wait: &Container) -> bool {
    let Some(target) = pod.containers.iter_mut().find(|c| c.name == container) else {
        return false;
    };
    let env = target.env.get_or_insert_with(Vec::new);
    for setting in settings {
        if !env.iter().any(|existing| existing.name == setting.name) {
            env.push(setting.clone());
        }
    }
    pod.init_containers.get_or_insert_with(Vec::new).push(wait.clone());
    true
}

/// The wait, with the host, port and user as the arguments `$1`, `$2`, `$3`: the user name is a
/// value, so it never becomes part of the script. `-U` is there because the pod runs as a uid
/// the image's /etc/passwd does not know, and libpq without a user name gives up before it
/// tries to connect.
const WAIT_SCRIPT: &str = r#"until pg_isready -h "$1" -p "$2" -U "$3" -q; do echo "waiting for the database at $1:$2"; sleep 2; done"#;

/// An init container that waits until PostgreSQL accepts connections.
fn wait_for_database(ctx: &Context, values: &Values, host: &str) -> Container {
    let command = [
        "sh",
        "-c",
        WAIT_SCRIPT,
        "wait-for-database",
        host,
        &values.service.port.to_string(),
        &values.auth.username,
    ];
    let security: SecurityContext =
        serde_json::from_value(Value::Object(restricted_container_as_pod_user()))
            .unwrap_or_default();
    Container {
        name: "wait-for-database".to_owned(),
        image: Some(statefulset::image(ctx, values)),
        image_pull_policy: Some(statefulset::pull_policy(ctx, values)),
        command: Some(command.map(str::to_owned).to_vec()),
        resources: Some(ResourceRequirements {
            requests: Some(
                [("cpu", "10m"), ("memory", "16Mi")]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), Quantity(v.to_owned())))
                    .collect(),
            ),
            limits: Some(
                [("cpu", "100m"), ("memory", "64Mi")]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), Quantity(v.to_owned())))
                    .collect(),
            ),
            ..ResourceRequirements::default()
        }),
        security_context: Some(security),
        ..Container::default()
    }
}
