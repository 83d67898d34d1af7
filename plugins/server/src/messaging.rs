//! Prefect's messaging through a Redis the user runs (`backgroundServices.messaging`): the
//! settings every server process gets, and the Secret that holds an inline password or
//! Docket URL.
//!
//! Nothing is set while `redis.host` is empty, except Docket's URL when given. With the
//! `redis` plugin in the stack, that plugin sets the same variables on the same containers,
//! so this module sets none and refuses a Redis of the user's beside it. The password only
//! ever reaches a container through a Secret reference; the Docket URL built from the Redis
//! settings names it as `$(PREFECT_REDIS_MESSAGING_PASSWORD)`, which Kubernetes expands from
//! the variable before it, so several pods share one Docket (`memory://`, Prefect's default,
//! works for one pod only).

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::api::core::v1::{EnvVar, Secret},
    workload::{env_from_secret, env_var},
};

use crate::{COMPONENT, secrets, values::Messaging};

/// The key of the plugin's Secret that holds an inline Redis password.
pub const PASSWORD_KEY: &str = "redis-password";
/// The key of the plugin's Secret that holds an inline Docket URL.
pub const DOCKET_URL_KEY: &str = "docket-url";
/// The variable of the Redis password, which the built Docket URL refers to.
pub const PASSWORD_VAR: &str = "PREFECT_REDIS_MESSAGING_PASSWORD";
/// The broker (and cache) of prefect-redis.
const REDIS_BROKER: &str = "prefect_redis.messaging";

const PATH: &str = "backgroundServices.messaging";

/// The messaging settings of the server processes, and the Secret to create for them.
#[derive(Debug, Default)]
pub struct Settings {
    /// The variables, in order: the password before Docket's URL.
    pub env: Vec<EnvVar>,
    /// The plugin's Secret, for an inline password or Docket URL.
    pub secret: Option<Secret>,
}

/// Whether Redis serves the release's messaging: the `redis` plugin, or `redis.host`.
pub fn has_redis(ctx: &Context, values: &Messaging) -> bool {
    ctx.has_plugin("redis") || !values.redis.host.is_empty()
}

/// The name of the Secret the plugin creates for an inline password or Docket URL.
pub fn secret_name(ctx: &Context) -> String {
    format!("{}-messaging", ctx.full_name(COMPONENT))
}

/// The settings the values ask for.
pub fn settings(ctx: &Context, values: &Messaging) -> Settings {
    let redis = &values.redis;
    let docket = &values.docket;
    if ctx.has_plugin("redis") {
        if !redis.host.is_empty() {
            ctx.error(
                format!("{PATH}.redis.host"),
                "the `redis` plugin in the stack provides Redis and sets the messaging of the \
                 server and the background services: remove messaging.redis.host, or drop the \
                 redis plugin to use your own Redis",
            );
        }
        if !docket.url.is_empty() || !docket.existing_secret.is_empty() {
            ctx.error(
                format!("{PATH}.docket"),
                "the `redis` plugin in the stack sets Docket's URL: remove messaging.docket.url \
                 and existingSecret, or drop the redis plugin",
            );
        }
        return Settings::default();
    }

    let name = secret_name(ctx);
    let mut data: Vec<(&str, &str)> = Vec::new();
    let mut env = Vec::new();
    let mut has_password = false;
    if redis.host.is_empty() {
        if !redis.password.is_empty() || !redis.existing_secret.is_empty() {
            ctx.warn(
                format!("{PATH}.redis.host"),
                "the Redis password is ignored while host is empty: set host, or add the redis \
                 plugin",
            );
        }
    } else {
        env.push(env_var("PREFECT_MESSAGING_BROKER", &values.broker));
        env.push(env_var("PREFECT_MESSAGING_CACHE", &values.cache));
        if values.broker == REDIS_BROKER {
            env.push(env_var("PREFECT_SERVER_EVENTS_CAUSAL_ORDERING", "prefect_redis.ordering"));
            env.push(env_var(
                "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE",
                "prefect_redis.lease_storage",
            ));
        }
        env.push(env_var("PREFECT_REDIS_MESSAGING_HOST", &redis.host));
        env.push(env_var("PREFECT_REDIS_MESSAGING_PORT", &redis.port.to_string()));
        env.push(env_var("PREFECT_REDIS_MESSAGING_DB", &redis.db.to_string()));
        if !redis.username.is_empty() {
            env.push(env_var("PREFECT_REDIS_MESSAGING_USERNAME", &redis.username));
        }
        env.push(env_var("PREFECT_REDIS_MESSAGING_SSL", &redis.ssl.to_string()));
        let inline = !redis.password.is_empty();
        let existing = !redis.existing_secret.is_empty();
        if inline && existing {
            ctx.error(
                format!("{PATH}.redis.existingSecret"),
                "set either password or existingSecret, not both: keep existingSecret so that \
                 the password stays out of your values",
            );
        }
        if existing {
            if redis.existing_secret_password_key.is_empty() {
                ctx.error(
                    format!("{PATH}.redis.existingSecretPasswordKey"),
                    "name the key of the Secret that holds the Redis password",
                );
            }
            env.push(env_from_secret(
                PASSWORD_VAR,
                &redis.existing_secret,
                &redis.existing_secret_password_key,
            ));
        } else if inline {
            data.push((PASSWORD_KEY, &redis.password));
            env.push(env_from_secret(PASSWORD_VAR, &name, PASSWORD_KEY));
        }
        has_password = inline || existing;
    }

    let inline_url = !docket.url.is_empty();
    let existing_url = !docket.existing_secret.is_empty();
    if inline_url && existing_url {
        ctx.error(
            format!("{PATH}.docket.existingSecret"),
            "set either url or existingSecret, not both",
        );
    }
    if existing_url {
        if docket.existing_secret_key.is_empty() {
            ctx.error(
                format!("{PATH}.docket.existingSecretKey"),
                "name the key of the Secret that holds Docket's URL",
            );
        }
        env.push(env_from_secret(
            "PREFECT_SERVER_DOCKET_URL",
            &docket.existing_secret,
            &docket.existing_secret_key,
        ));
    } else if inline_url {
        data.push((DOCKET_URL_KEY, &docket.url));
        env.push(env_from_secret("PREFECT_SERVER_DOCKET_URL", &name, DOCKET_URL_KEY));
    } else if !redis.host.is_empty() {
        let scheme = if redis.ssl { "rediss" } else { "redis" };
        let credentials = match (redis.username.as_str(), has_password) {
            ("", false) => String::new(),
            (user, false) => format!("{user}@"),
            (user, true) => format!("{user}:$({PASSWORD_VAR})@"),
        };
        let url = format!("{scheme}://{credentials}{}:{}/{}", redis.host, redis.port, redis.db);
        env.push(env_var("PREFECT_SERVER_DOCKET_URL", &url));
    }

    let secret = (!data.is_empty()).then(|| secrets::opaque(ctx, &name, &data));
    Settings { env, secret }
}
