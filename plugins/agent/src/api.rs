//! Which Prefect API the worker talks to, and the environment that tells it.
//!
//! With `apiConfig: server` and no URL, the worker is wired to the server plugin of the stack:
//! `PREFECT_API_URL` is the server's Service, read from the graph (so a changed
//! `server.service.port` follows), and when the server has basic auth its Deployment's
//! `PREFECT_SERVER_API_AUTH_STRING` reference is reused as `PREFECT_API_AUTH_STRING`. No
//! credential is ever copied into this plugin's values or resources, nor, through the
//! worker, into its flow-run Jobs ([`job_secret_settings`]), unless a Cloud user asks for it
//! (`jobApiKeyPropagation: envVar`).
//!
//! With Prefect Cloud, or a customer-managed Cloud, the URL is the account's workspace and the
//! key comes from an existing Secret; a customer-managed Cloud also gets
//! `PREFECT_CLOUD_API_URL` (and `PREFECT_CLOUD_UI_URL`), which make Prefect treat it as Cloud.

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    Context,
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
    values::{ApiConfig, JobApiKeyPropagation, SecretKeyRef, Values},
};

/// The server plugin's component name (its resources are `<release>-server`) and container.
const SERVER: &str = prefect_plugin_sdk::contract::server::COMPONENT;
const SERVER_CONTAINER: &str = prefect_plugin_sdk::contract::server::CONTAINER;
/// The variable the server reads its basic-auth string from.
const SERVER_AUTH_VAR: &str = prefect_plugin_sdk::contract::server::AUTH_STRING_VAR;
/// The variable the server reads the API's path from.
const SERVER_BASE_PATH_VAR: &str = prefect_plugin_sdk::contract::server::BASE_PATH_VAR;
/// The key of basic-auth Secrets, as in the prefect charts.
const AUTH_STRING_KEY: &str = "auth-string";
/// The worker's credentials: a self-hosted server's basic auth, Prefect Cloud's key.
const API_AUTH_STRING_VAR: &str = "PREFECT_API_AUTH_STRING";
const API_KEY_VAR: &str = "PREFECT_API_KEY";
/// Makes the Kubernetes worker copy its API key into a Secret of its own in each flow run's
/// namespace (`jobApiKeyPropagation: autoSecret`).
const CREATE_KEY_SECRET_VAR: &str =
    "PREFECT_INTEGRATIONS_KUBERNETES_WORKER_CREATE_SECRET_FOR_API_KEY";
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
    /// How flow-run Jobs get the API key; `secretRef` but for a Cloud that says otherwise.
    pub key_propagation: JobApiKeyPropagation,
}

/// How the values say flow-run Jobs get a Cloud API key (`secretRef` for a server, which has
/// none).
pub fn key_propagation(values: &Values) -> JobApiKeyPropagation {
    match values.api_config {
        ApiConfig::Cloud => values.cloud_api_config.job_api_key_propagation,
        ApiConfig::CustomerManagedCloud => {
            values.customer_managed_cloud_api_config.job_api_key_propagation
        }
        ApiConfig::Server => JobApiKeyPropagation::SecretRef,
    }
}

/// The API connection the values and the stack choose.
pub fn connect(ctx: &Context, values: &Values) -> Api {
    match values.api_config {
        ApiConfig::Cloud => cloud(ctx, values),
        ApiConfig::CustomerManagedCloud => customer_managed_cloud(ctx, values),
        ApiConfig::Server if !values.server_api_config.api_url.is_empty() => {
            external_server(ctx, values)
        }
        ApiConfig::Server if ctx.has_plugin(SERVER) => stack_server(ctx, values),
        ApiConfig::Server => {
            ctx.error(
                "apiConfig",
                "the worker needs a Prefect API, and there is no server plugin in the stack: add \
                 it (--plugin server), set serverApiConfig.apiUrl to your server, or set \
                 apiConfig to cloud with cloudApiConfig",
            );
            Api::default()
        }
    }
}

fn cloud(ctx: &Context, values: &Values) -> Api {
    let cloud = &values.cloud_api_config;
    let workspace = Workspace {
        path: "cloudApiConfig",
        url_key: "cloudUrl",
        url: &cloud.cloud_url,
        account_id: &cloud.account_id,
        workspace_id: &cloud.workspace_id,
        api_key_secret: &cloud.api_key_secret,
        key_propagation: cloud.job_api_key_propagation,
    };
    workspace.api(ctx)
}

fn customer_managed_cloud(ctx: &Context, values: &Values) -> Api {
    let cloud = &values.customer_managed_cloud_api_config;
    let workspace = Workspace {
        path: "customerManagedCloudApiConfig",
        url_key: "apiUrl",
        url: &cloud.api_url,
        account_id: &cloud.account_id,
        workspace_id: &cloud.workspace_id,
        api_key_secret: &cloud.api_key_secret,
        key_propagation: cloud.job_api_key_propagation,
    };
    let mut api = workspace.api(ctx);
    // What makes Prefect take this API for Cloud (websockets for events and logs, with the
    // key): the API itself unless told otherwise.
    let cloud_api_url = if cloud.cloud_api_url.is_empty() {
        cloud.api_url.trim_end_matches('/')
    } else {
        check_url(
            ctx,
            &cloud.cloud_api_url,
            "customerManagedCloudApiConfig.cloudApiUrl",
            "the Cloud's API",
        );
        &cloud.cloud_api_url
    };
    api.env.push(env_var("PREFECT_CLOUD_API_URL", cloud_api_url));
    if !cloud.cloud_ui_url.is_empty() {
        check_url(
            ctx,
            &cloud.cloud_ui_url,
            "customerManagedCloudApiConfig.cloudUiUrl",
            "the Cloud's UI",
        );
        api.env.push(env_var("PREFECT_CLOUD_UI_URL", &cloud.cloud_ui_url));
    }
    api
}

/// A Prefect Cloud workspace, at Prefect's or the customer's Cloud, as the values under
/// `path` give it.
struct Workspace<'a> {
    path: &'a str,
    /// The name of the value that holds the Cloud's API URL.
    url_key: &'a str,
    url: &'a str,
    account_id: &'a str,
    workspace_id: &'a str,
    api_key_secret: &'a SecretKeyRef,
    key_propagation: JobApiKeyPropagation,
}

impl Workspace<'_> {
    /// `PREFECT_API_URL` (the workspace's) and `PREFECT_API_KEY` (from its Secret).
    fn api(&self, ctx: &Context) -> Api {
        let path = self.path;
        check_url(ctx, self.url, &format!("{path}.{}", self.url_key), "the Cloud's API");
        let from_url = "take it from the workspace's URL, \
                        app.prefect.cloud/account/<accountId>/workspaces/<workspaceId>";
        let secret = "name the existing Secret that holds the API key (kubectl create secret \
                      generic prefect-api-key --from-literal=key=pnu_...) and its key";
        for (key, value, how) in [
            ("accountId", self.account_id, from_url),
            ("workspaceId", self.workspace_id, from_url),
            ("apiKeySecret.name", &self.api_key_secret.name, secret),
            ("apiKeySecret.key", &self.api_key_secret.key, secret),
        ] {
            if value.trim().is_empty() {
                ctx.error(
                    format!("{path}.{key}"),
                    format!("empty, and Prefect Cloud needs it: {how}"),
                );
            }
        }
        if self.key_propagation == JobApiKeyPropagation::EnvVar {
            // prefect-helm offers it; prefectctl keeps every credential out of every Job.
            ctx.error(
                format!("{path}.jobApiKeyPropagation"),
                "envVar would write the API key in plain text into every flow-run Job's spec, \
                 where whoever can read Jobs in their namespace sees it: use secretRef (the \
                 default), or autoSecret when flow runs go to a namespace without the key's \
                 Secret",
            );
        }
        if ctx.has_plugin(SERVER) {
            ctx.warn(
                "apiConfig",
                "the worker talks to Prefect Cloud, so the server plugin in this stack gets no \
                 work from it: drop the server plugin (--without server), or set apiConfig: \
                 server",
            );
        }
        let url = format!(
            "{}/accounts/{}/workspaces/{}",
            self.url.trim_end_matches('/'),
            self.account_id,
            self.workspace_id
        );
        Api {
            env: vec![
                env_var("PREFECT_API_URL", &url),
                env_from_secret(API_KEY_VAR, &self.api_key_secret.name, &self.api_key_secret.key),
            ],
            secret: None,
            stack_server: false,
            key_propagation: self.key_propagation,
        }
    }
}

/// Reports a `url` of `what` that is not an HTTP(S) URL with a host (an empty one included).
fn check_url(ctx: &Context, url: &str, path: &str, what: &str) {
    let example = if what.ends_with("UI") {
        "https://prefect.example.com"
    } else {
        "https://prefect.example.com/api"
    };
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    if rest.is_none_or(|host| host.is_empty() || host.starts_with('/')) {
        let found = if url.is_empty() { "it is empty".to_owned() } else { format!("not {url:?}") };
        ctx.error(path, format!("give the URL of {what}, such as {example} ({found})"));
    }
}

fn external_server(ctx: &Context, values: &Values) -> Api {
    let config = &values.server_api_config;
    check_url(ctx, &config.api_url, "serverApiConfig.apiUrl", "the server's API");
    let mut api = Api { env: vec![env_var("PREFECT_API_URL", &config.api_url)], ..Api::default() };
    let auth = &config.basic_auth;
    if !auth.enabled {
        return api;
    }
    match (auth.auth_string.is_empty(), auth.existing_secret.is_empty()) {
        (true, true) => ctx.error(
            "serverApiConfig.basicAuth",
            "basic auth is enabled without credentials: set existingSecret (a Secret with the key \
             `auth-string`) or authString",
        ),
        (false, false) => ctx.error(
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

fn stack_server(ctx: &Context, values: &Values) -> Api {
    if values.server_api_config.basic_auth.enabled {
        ctx.warn(
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
        ctx.error(
            "apiConfig",
            format!(
                "the server plugin is in the stack but its Service {name} is not in the graph: \
                 set serverApiConfig.apiUrl to the server's API URL"
            ),
        );
        return Api::default();
    };
    let server_env = server_env(ctx, &name);
    let base_path = server_env
        .iter()
        .find(|var| var.name == SERVER_BASE_PATH_VAR)
        .and_then(|var| var.value.as_deref())
        .unwrap_or("/api");
    let url = format!("http://{name}.{}.svc:{port}{base_path}", ctx.namespace());
    let mut env = vec![env_var("PREFECT_API_URL", &url)];
    if let Some(auth) = server_env.iter().find(|var| var.name == SERVER_AUTH_VAR) {
        env.push(EnvVar { name: API_AUTH_STRING_VAR.to_owned(), ..auth.clone() });
    }
    Api { env, stack_server: true, ..Api::default() }
}

/// The server container's environment: its basic-auth variable, if the server has basic
/// auth on, and the API's path.
fn server_env(ctx: &Context, name: &str) -> Vec<EnvVar> {
    let container = ctx
        .items_of::<Deployment>()
        .filter_map(Result::ok)
        .find(|deployment| deployment.metadata.name.as_deref() == Some(name))
        .and_then(|deployment| deployment.spec?.template.spec)
        .and_then(|pod| pod.containers.into_iter().find(|c| c.name == SERVER_CONTAINER));
    container.and_then(|container| container.env).unwrap_or_default()
}

/// The settings that make the Kubernetes worker's flow-run Jobs read each credential of `env`
/// (the worker's environment as the container gets it) from the Secret the worker reads it
/// from, or for the API key as `key_propagation` says: from a Secret the worker makes
/// (`autoSecret`), or in plain text (`envVar`, no setting). A credential with a literal value
/// has no Secret to name.
pub fn job_secret_settings(env: &[EnvVar], key_propagation: JobApiKeyPropagation) -> Vec<EnvVar> {
    let mut settings = Vec::new();
    match key_propagation {
        JobApiKeyPropagation::SecretRef => {}
        JobApiKeyPropagation::AutoSecret => settings.push(env_var(CREATE_KEY_SECRET_VAR, "true")),
        JobApiKeyPropagation::EnvVar => {}
    }
    for (credential, secret_name_var, secret_key_var) in JOB_SECRET_SETTINGS {
        if credential == API_KEY_VAR && key_propagation != JobApiKeyPropagation::SecretRef {
            continue;
        }
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

/// The credentials the settings in `env` have flow-run Jobs read by Secret reference, as
/// (variable, Secret) pairs.
pub fn job_secret_references(env: &[EnvVar]) -> Vec<(&'static str, String)> {
    JOB_SECRET_SETTINGS
        .iter()
        .filter_map(|(credential, secret_name_var, _)| {
            let setting = env.iter().find(|var| var.name == *secret_name_var)?;
            Some((*credential, setting.value.clone()?))
        })
        .collect()
}
