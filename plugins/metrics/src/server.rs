//! The stack's Prefect server, as the exporter reaches it: the API URL of the server plugin's
//! Service, read from the graph (so a changed `server.service.port` follows), and, when the
//! server has basic auth, the same Secret reference its container reads
//! `PREFECT_SERVER_API_AUTH_STRING` from, passed as the exporter's `PREFECT_API_AUTH_STRING`.
//! No credential is ever copied into this plugin's values or resources.

use prefect_plugin_sdk::{
    Context, Error,
    k8s_openapi::api::{
        apps::v1::Deployment,
        core::v1::{Container, EnvVar, Service},
    },
    workload::env_var,
};

/// The server plugin's component (its Deployment and Service are `<release>-server`) and
/// container.
const SERVER: &str = prefect_plugin_sdk::contract::server::COMPONENT;
const SERVER_CONTAINER: &str = prefect_plugin_sdk::contract::server::CONTAINER;
/// The variable the server reads its basic-auth string from.
const SERVER_AUTH_VAR: &str = prefect_plugin_sdk::contract::server::AUTH_STRING_VAR;
/// The variable the server reads the API's path from.
const SERVER_BASE_PATH_VAR: &str = prefect_plugin_sdk::contract::server::BASE_PATH_VAR;
/// The server setting that turns CSRF protection on.
const SERVER_CSRF_VAR: &str = "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED";
/// The exporter's setting of the API URL.
pub const API_URL_VAR: &str = "PREFECT_API_URL";
/// The exporter's setting of the basic-auth string it sends (`USER:PASSWORD`).
pub const API_AUTH_STRING_VAR: &str = "PREFECT_API_AUTH_STRING";

/// How the exporter reaches the server.
#[derive(Debug, Default)]
pub struct Connection {
    /// `PREFECT_API_URL`, and `PREFECT_API_AUTH_STRING` from the server's Secret.
    pub env: Vec<EnvVar>,
    /// Whether the server checks CSRF tokens.
    pub csrf: bool,
}

/// The connection to the server plugin's Service, or why there is none (an error without a
/// value path: the values of this plugin cannot change it).
pub fn connect(ctx: &Context) -> Result<Connection, Error> {
    let name = ctx.full_name(SERVER);
    let port = ctx
        .items_of::<Service>()
        .filter_map(Result::ok)
        .find(|service| service.metadata.name.as_deref() == Some(name.as_str()))
        .and_then(|service| service.spec?.ports?.first().map(|port| port.port));
    let Some(port) = port else {
        return Err(Error::new(format!(
            "the exporter reads the server plugin's Service {name}, which is not in the graph: \
             keep the server plugin in the stack"
        )));
    };
    let env = server_container(ctx, &name).and_then(|c| c.env).unwrap_or_default();
    let base_path = env
        .iter()
        .find(|var| var.name == SERVER_BASE_PATH_VAR)
        .and_then(|var| var.value.as_deref())
        .unwrap_or("/api");
    let url = format!("http://{name}.{}.svc:{port}{base_path}", ctx.namespace());
    let mut connection = Connection { env: vec![env_var(API_URL_VAR, &url)], csrf: false };
    if let Some(auth) = env.iter().find(|var| var.name == SERVER_AUTH_VAR) {
        if auth.value_from.is_some() {
            connection.env.push(EnvVar { name: API_AUTH_STRING_VAR.to_owned(), ..auth.clone() });
        } else {
            return Err(Error::new(format!(
                "the server's {SERVER_AUTH_VAR} is written in its Deployment, and the exporter \
                 reads credentials only from Secrets: use server.basicAuth.existingSecret (or \
                 server.basicAuth.authString) instead"
            )));
        }
    }
    connection.csrf = env.iter().any(|var| {
        var.name == SERVER_CSRF_VAR
            && var.value.as_deref().is_some_and(|value| value.eq_ignore_ascii_case("true"))
    });
    Ok(connection)
}

fn server_container(ctx: &Context, name: &str) -> Option<Container> {
    let deployment = ctx
        .items_of::<Deployment>()
        .filter_map(Result::ok)
        .find(|deployment| deployment.metadata.name.as_deref() == Some(name))?;
    deployment.spec?.template.spec?.containers.into_iter().find(|c| c.name == SERVER_CONTAINER)
}
