//! Which Prefect API the worker talks to, and the environment that tells it.
//!
//! With `apiConfig: server` and no URL, the worker is wired to the server plugin of the stack:
//! `PREFECT_API_URL` is the server's Service, read from the graph (so a changed
//! `server.service.port` follows), and when the server has basic auth its Deployment's
//! `PREFECT_SERVER_API_AUTH_STRING` reference is reused as `PREFECT_API_AUTH_STRING`. No
//! credential is ever copied into this plugin's values or resources, nor, through the
//! worker, into its flow-run Jobs ([`job_secret_settings`]).

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    Context, Problems,
    k8s_openapi::{
        ByteString,
        api::{
            apps::v1::Deployment,
            core::v1::{EnvVar, Secret, SecretKeySelector, Service},
        },
    },
    workload::{env_from_secret, env_var},
};

use crate::{
    COMPONENT,
    values::{ApiConfig, Values},
};

/// The server plugin's component name (its resources are `<release>-server`) and container.
const SERVER: &str = "server";
const SERVER_CONTAINER: &str = "prefect-server";
/// The variable the server reads its basic-auth string from.
const SERVER_AUTH_VAR: &str = "PREFECT_SERVER_API_AUTH_STRING";
/// The key of basic-auth Secrets, as in the prefect charts.
const AUTH_STRING_KEY: &str = "auth-string";
/// The worker's credentials: a self-hosted server's basic auth, Prefect Cloud's key.
const API_AUTH_STRING_VAR: &str = "PREFECT_API_AUTH_STRING";
const API_KEY_VAR: &str = "PREFECT_API_KEY";
/// prefect-kubernetes copies the worker's environment into every flow-run Job, credentials
/// as literal values, unless these settings name the Secret and key a credential comes from:
/// then the Job gets a `secretKeyRef` to it.
const JOB_SECRET_SETTINGS: [(&str, &str, &str); 2] = [
    (
        API_AUTH_STRING_VAR,
        "PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_NAME",
        "PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_KEY",
    ),
    (
        API_KEY_VAR,
        "PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME",
        "PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_KEY",
    ),
];

/// How the worker reaches its API.
#[derive(Debug, Default)]
pub struct Api {
    /// `PREFECT_API_URL` and the credentials' variables.
    pub env: Vec<EnvVar>,
    /// The Secret to create for an inline basic-auth string.
    pub secret: Option<Secret>,
    /// Whether the API is the server plugin's of this stack (a Prefect 3 server).
    pub stack_server: bool,
}

/// The API connection the values and the stack choose.
pub fn connect(ctx: &Context, values: &Values, problems: &mut Problems) -> Api {
    match values.api_config {
        ApiConfig::Cloud => cloud(ctx, values, problems),
        ApiConfig::Server if !values.server_api_config.api_url.is_empty() => {
            external_server(ctx, values, problems)
        }
        ApiConfig::Server if ctx.has_plugin(SERVER) => stack_server(ctx, values, problems),
        ApiConfig::Server => {
            problems.error(
                "apiConfig",
                "the worker needs a Prefect API, and there is no server plugin in the stack: add \
                 it (--plugin server), set serverApiConfig.apiUrl to your server, or set \
                 apiConfig to cloud with cloudApiConfig",
            );
            Api::default()
        }
    }
}

fn cloud(ctx: &Context, values: &Values, problems: &mut Problems) -> Api {
    let cloud = &values.cloud_api_config;
    for (path, value) in [
        ("cloudApiConfig.accountId", &cloud.account_id),
        ("cloudApiConfig.workspaceId", &cloud.workspace_id),
        ("cloudApiConfig.apiKeySecret.name", &cloud.api_key_secret.name),
        ("cloudApiConfig.apiKeySecret.key", &cloud.api_key_secret.key),
    ] {
        if value.is_empty() {
            problems.error(path, "Prefect Cloud needs it: see your workspace's URL and API keys");
        }
    }
    if ctx.has_plugin(SERVER) {
        problems.warn(
            "apiConfig",
            "the worker talks to Prefect Cloud, so the server plugin in this stack gets no work \
             from it: drop the server plugin (--without server), or set apiConfig: server",
        );
    }
    let url = format!(
        "{}/accounts/{}/workspaces/{}",
        cloud.cloud_url.trim_end_matches('/'),
        cloud.account_id,
        cloud.workspace_id
    );
    Api {
        env: vec![
            env_var("PREFECT_API_URL", &url),
            env_from_secret(API_KEY_VAR, &cloud.api_key_secret.name, &cloud.api_key_secret.key),
        ],
        secret: None,
        stack_server: false,
    }
}

fn external_server(ctx: &Context, values: &Values, problems: &mut Problems) -> Api {
    let config = &values.server_api_config;
    if !(config.api_url.starts_with("http://") || config.api_url.starts_with("https://")) {
        problems.error(
            "serverApiConfig.apiUrl",
            "give the server's API URL, such as https://prefect.example.com/api",
        );
    }
    let mut api = Api {
        env: vec![env_var("PREFECT_API_URL", &config.api_url)],
        secret: None,
        stack_server: false,
    };
    let auth = &config.basic_auth;
    if !auth.enabled {
        return api;
    }
    match (auth.auth_string.is_empty(), auth.existing_secret.is_empty()) {
        (true, true) => problems.error(
            "serverApiConfig.basicAuth",
            "basic auth is enabled without credentials: set existingSecret (a Secret with the key \
             `auth-string`) or authString",
        ),
        (false, false) => problems.error(
            "serverApiConfig.basicAuth.existingSecret",
            "set either authString or existingSecret, not both",
        ),
        _ => {}
    }
    let secret = if auth.existing_secret.is_empty() {
        let name = format!("{}-basic-auth", ctx.full_name(COMPONENT));
        api.secret = Some(Secret {
            metadata: ctx.metadata(&name, COMPONENT),
            type_: Some("Opaque".to_owned()),
            data: Some(BTreeMap::from([(
                AUTH_STRING_KEY.to_owned(),
                ByteString(auth.auth_string.as_bytes().to_vec()),
            )])),
            ..Secret::default()
        });
        name
    } else {
        auth.existing_secret.clone()
    };
    api.env.push(env_from_secret(API_AUTH_STRING_VAR, &secret, AUTH_STRING_KEY));
    api
}

fn stack_server(ctx: &Context, values: &Values, problems: &mut Problems) -> Api {
    if values.server_api_config.basic_auth.enabled {
        problems.warn(
            "serverApiConfig.basicAuth",
            "ignored: the worker uses the basic auth of the server plugin in this stack",
        );
    }
    let name = ctx.full_name(SERVER);
    let service = ctx
        .items_of::<Service>()
        .filter_map(Result::ok)
        .find(|service| service.metadata.name.as_deref() == Some(name.as_str()));
    let Some(port) = service
        .as_ref()
        .and_then(|service| service.spec.as_ref()?.ports.as_ref()?.first().map(|p| p.port))
    else {
        problems.error(
            "apiConfig",
            format!(
                "the server plugin is in the stack but its Service {name} is not in the graph: \
                 set serverApiConfig.apiUrl to the server's API URL"
            ),
        );
        return Api::default();
    };
    let url = format!("http://{name}.{}.svc:{port}/api", ctx.namespace());
    let mut env = vec![env_var("PREFECT_API_URL", &url)];
    if let Some(auth) = server_auth(ctx, &name) {
        env.push(EnvVar { name: API_AUTH_STRING_VAR.to_owned(), ..auth });
    }
    Api { env, secret: None, stack_server: true }
}

/// The server container's basic-auth variable, if the server has basic auth on.
fn server_auth(ctx: &Context, name: &str) -> Option<EnvVar> {
    let deployment = ctx
        .items_of::<Deployment>()
        .filter_map(Result::ok)
        .find(|deployment| deployment.metadata.name.as_deref() == Some(name))?;
    let pod = deployment.spec?.template.spec?;
    let container = pod.containers.into_iter().find(|c| c.name == SERVER_CONTAINER)?;
    container.env?.into_iter().find(|var| var.name == SERVER_AUTH_VAR)
}

/// The settings that make the Kubernetes worker's flow-run Jobs read each credential of `env`
/// (the worker's environment as the container gets it) from the Secret the worker reads it
/// from. A credential with a literal value has no Secret to name.
pub fn job_secret_settings(env: &[EnvVar]) -> Vec<EnvVar> {
    let mut settings = Vec::new();
    for (credential, secret_name_var, secret_key_var) in JOB_SECRET_SETTINGS {
        if let Some(SecretKeySelector { name, key, .. }) = env
            .iter()
            .find(|var| var.name == credential)
            .and_then(|var| var.value_from.as_ref()?.secret_key_ref.as_ref())
        {
            settings.push(env_var(secret_name_var, name));
            settings.push(env_var(secret_key_var, key));
        }
    }
    settings
}
