//! Switching the server plugin's Deployment to this database.
//!
//! The server connects with Prefect's own database settings (`PREFECT_SERVER_DATABASE_HOST`,
//! `_USER`, `_PASSWORD`...), the password read from the Secret, so no connection URL with the
//! password in it is stored anywhere: Prefect builds the URL itself, escaping the password
//! (SQLAlchemy's `URL`), so passwords with `@:/%?#` work. An init container waits until the
//! database accepts connections, so that the server's first start does not crash-loop while
//! PostgreSQL initialises.

use prefect_plugin_sdk::{
    Context, Error, Problems,
    k8s_openapi::{
        api::{
            apps::v1::Deployment,
            core::v1::{Container, ResourceRequirements, SecurityContext},
        },
        apimachinery::pkg::api::resource::Quantity,
    },
    security::restricted_container_as_pod_user,
    serde_json::{self, Value},
    workload::{env_from_secret, env_var},
};

use crate::{credentials::Password, services, statefulset, values::Values};

/// The server plugin's component, Deployment suffix and container name.
const SERVER: &str = "server";
const SERVER_CONTAINER: &str = "prefect-server";

/// Adds the database settings to the server's container (leaving alone any the user set in
/// `server.env`) and the init container that waits for the database.
pub fn wire(
    ctx: &mut Context,
    values: &Values,
    password: &Password,
    problems: &mut Problems,
) -> Result<(), Error> {
    let host = services::client_name(ctx);
    let settings = [
        env_var("PREFECT_SERVER_DATABASE_DRIVER", "postgresql+asyncpg"),
        env_var("PREFECT_SERVER_DATABASE_HOST", &host),
        env_var("PREFECT_SERVER_DATABASE_PORT", &values.service.port.to_string()),
        env_var("PREFECT_SERVER_DATABASE_NAME", &values.auth.database),
        env_var("PREFECT_SERVER_DATABASE_USER", &values.auth.username),
        env_from_secret("PREFECT_SERVER_DATABASE_PASSWORD", &password.secret, &password.key),
    ];
    let wait = wait_for_database(ctx, values, &host);
    let name = ctx.full_name(SERVER);
    let mut container_found = false;
    let found = ctx.update::<Deployment>(&name, |deployment| {
        let Some(pod) = deployment.spec.as_mut().and_then(|s| s.template.spec.as_mut()) else {
            return;
        };
        if let Some(container) = pod.containers.iter_mut().find(|c| c.name == SERVER_CONTAINER) {
            container_found = true;
            let env = container.env.get_or_insert_with(Vec::new);
            for setting in settings {
                if !env.iter().any(|existing| existing.name == setting.name) {
                    env.push(setting);
                }
            }
        }
        pod.init_containers.get_or_insert_with(Vec::new).push(wait);
    })?;
    if !found || !container_found {
        problems.error(
            "",
            format!(
                "the server's Deployment {name} (container {SERVER_CONTAINER}) is not in the \
                 graph, so there is no server to connect to the database: keep the server plugin \
                 in the stack (it runs before postgres)"
            ),
        );
    }
    Ok(())
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
            limits: Some([("memory".to_owned(), Quantity("64Mi".to_owned()))].into()),
            ..ResourceRequirements::default()
        }),
        security_context: Some(security),
        ..Container::default()
    }
}
