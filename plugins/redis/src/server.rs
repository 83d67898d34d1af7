//! Switching the server plugin's Deployments to Redis.
//!
//! The API server (container `prefect-server` of `<release>-server`) and, when the server
//! plugin runs them apart, the background services (container `prefect-background-services`
//! of `<release>-background-services`) get the same settings: prefect-redis as messaging
//! broker and cache, event ordering and concurrency lease storage
//! (`PREFECT_MESSAGING_BROKER`... as the prefect-server chart sets them), the connection
//! (`PREFECT_REDIS_MESSAGING_HOST`, `_PORT`, `_DB`, `_PASSWORD` from the Secret), and Docket's
//! URL, database 1, which names the password variable (`$(PREFECT_REDIS_MESSAGING_PASSWORD)`)
//! for Kubernetes to expand: no manifest holds the password. A variable the user set (in
//! `server.env`...) is left as it is. An init container waits until Redis answers, since a
//! Prefect server whose Redis is not there yet fails its startup and crash-loops.

use prefect_plugin_sdk::{
    Context, Error,
    k8s_openapi::{
        api::{
            apps::v1::Deployment,
            core::v1::{Container, EnvVar, ResourceRequirements, SecurityContext},
        },
        apimachinery::pkg::api::resource::Quantity,
    },
    secrets::KeptPassword,
    security::restricted_container_as_pod_user,
    serde_json::{self, Value},
    workload::{env_from_secret, env_var, stateful},
};

use crate::{COMPONENT, statefulset, values::Values};

/// The server plugin's API server: Deployment suffix and container name.
const SERVER: (&str, &str) = (
    prefect_plugin_sdk::contract::server::COMPONENT,
    prefect_plugin_sdk::contract::server::CONTAINER,
);
/// The server plugin's background services, when it runs them in their own Deployment.
const BACKGROUND_SERVICES: (&str, &str) = (
    prefect_plugin_sdk::contract::background_services::COMPONENT,
    prefect_plugin_sdk::contract::background_services::CONTAINER,
);

/// The Redis database of Prefect's messaging, cache, ordering and leases.
pub const MESSAGING_DB: u8 = 0;
/// The Redis database of Docket, the background services' task queue.
pub const DOCKET_DB: u8 = 1;

/// The settings every Prefect server process gets, in order: the password before Docket's URL,
/// which refers to it.
pub fn settings(ctx: &Context, values: &Values, password: &KeptPassword) -> Vec<EnvVar> {
    let host = stateful::client_service_name(ctx, COMPONENT);
    let port = values.service.port;
    vec![
        env_var("PREFECT_MESSAGING_BROKER", "prefect_redis.messaging"),
        env_var("PREFECT_MESSAGING_CACHE", "prefect_redis.messaging"),
        env_var("PREFECT_SERVER_EVENTS_CAUSAL_ORDERING", "prefect_redis.ordering"),
        env_var("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE", "prefect_redis.lease_storage"),
        env_var("PREFECT_REDIS_MESSAGING_HOST", &host),
        env_var("PREFECT_REDIS_MESSAGING_PORT", &port.to_string()),
        env_var("PREFECT_REDIS_MESSAGING_DB", &MESSAGING_DB.to_string()),
        env_from_secret("PREFECT_REDIS_MESSAGING_PASSWORD", &password.secret, &password.key),
        env_var(
            "PREFECT_SERVER_DOCKET_URL",
            &format!("redis://:$(PREFECT_REDIS_MESSAGING_PASSWORD)@{host}:{port}/{DOCKET_DB}"),
        ),
    ]
}

/// Adds the settings to the API server's container and, when present, to the background
/// services' one, leaving alone any the user set.
pub fn wire(ctx: &mut Context, values: &Values, password: &KeptPassword) -> Result<(), Error> {
    let settings = settings(ctx, values, password);
    let wait = wait_for_redis(ctx, values, password);
    let (component, container) = SERVER;
    let name = ctx.full_name(component);
    if !add_settings(ctx, &name, container, &settings, &wait)? {
        ctx.error(
            "",
            format!(
                "the server's Deployment {name} (container {container}) is not in the graph, so \
                 there is no server to use Redis: keep the server plugin in the stack (it runs \
                 before redis)"
            ),
        );
    }
    let (component, container) = BACKGROUND_SERVICES;
    let name = ctx.full_name(component);
    add_settings(ctx, &name, container, &settings, &wait)?;
    Ok(())
}

/// Appends each of `settings` that container `container` of Deployment `name` does not set
/// yet, and the init container `wait`; whether that container exists.
fn add_settings(
    ctx: &mut Context,
    name: &str,
    container: &str,
    settings: &[EnvVar],
    wait: &Container,
) -> Result<bool, Error> {
    let mut found = false;
    ctx.update::<Deployment>(name, |deployment| {
        let Some(pod) = deployment.spec.as_mut().and_then(|s| s.template.spec.as_mut()) else {
            return;
        };
        let Some(target) = pod.containers.iter_mut().find(|c| c.name == container) else {
            return;
        };
        found = true;
        let env = target.env.get_or_insert_with(Vec::new);
        for setting in settings {
            if !env.iter().any(|existing| existing.name == setting.name) {
                env.push(setting.clone());
            }
        }
        pod.init_containers.get_or_insert_with(Vec::new).push(wait.clone());
    })?;
    Ok(found)
}

/// The wait, with the host and port as the arguments `$1`, `$2`; redis-cli reads the password
/// from `REDISCLI_AUTH`.
const WAIT_SCRIPT: &str = r#"until [ "$(redis-cli -h "$1" -p "$2" ping 2>/dev/null)" = PONG ]; do echo "waiting for Redis at $1:$2"; sleep 2; done"#;

/// An init container that waits until Redis answers an authenticated ping.
fn wait_for_redis(ctx: &Context, values: &Values, password: &KeptPassword) -> Container {
    let host = stateful::client_service_name(ctx, COMPONENT);
    let port = values.service.port.to_string();
    let command = ["sh", "-c", WAIT_SCRIPT, "wait-for-redis", &host, &port];
    let security: SecurityContext =
        serde_json::from_value(Value::Object(restricted_container_as_pod_user()))
            .unwrap_or_default();
    Container {
        name: "wait-for-redis".to_owned(),
        image: Some(statefulset::image(ctx, values)),
        image_pull_policy: Some(statefulset::pull_policy(ctx, values)),
        command: Some(command.map(str::to_owned).to_vec()),
        env: Some(vec![env_from_secret("REDISCLI_AUTH", &password.secret, &password.key)]),
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
