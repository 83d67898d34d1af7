//! The environment of the release's Prefect server processes: what the API server, the
//! background services and the migrations Job share (the database, and as they apply basic
//! auth, migrations and messaging), each one's own settings, then the user's `env` (which
//! replaces a variable of the same name rather than adding a duplicate, which server-side
//! apply refuses).

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::api::core::v1::EnvVar,
    serde_json::{self, Value},
    workload::{env_from_secret, env_var, global_env, set_env},
};

use crate::{
    database::{self, Database},
    deployment::Wiring,
    gateway, ingress,
    values::Values,
};

/// The home folder of the image's `prefect` user; an emptyDir, as the root filesystem is
/// read-only.
pub const HOME: &str = "/home/prefect";

/// The variable that holds the basic-auth string, which the agent plugin reads from the
/// server's Deployment to wire a worker to it.
pub const AUTH_STRING_VAR: &str = prefect_plugin_sdk::contract::server::AUTH_STRING_VAR;

/// The variable that turns off the migrations a server process runs when it starts; `false`
/// whenever the migrations Job upgrades the database instead.
pub const MIGRATE_ON_START_VAR: &str = "PREFECT_SERVER_DATABASE_MIGRATE_ON_START";

/// The variable the API's path is read from; other plugins read it to reach the API.
pub const API_BASE_PATH_VAR: &str = prefect_plugin_sdk::contract::server::BASE_PATH_VAR;

/// Prefect 3's name of the database URL setting (the legacy `PREFECT_API_...` still works).
pub const CONNECTION_URL_VAR: &str = "PREFECT_SERVER_DATABASE_CONNECTION_URL";

/// Variables that hold credentials: set literally in `env`, they would be readable by anyone
/// who can read the Deployment.
const CREDENTIALS: &[(&str, &str)] = &[
    (CONNECTION_URL_VAR, "externalDatabase.existingSecret"),
    ("PREFECT_API_DATABASE_CONNECTION_URL", "externalDatabase.existingSecret"),
    ("PREFECT_SERVER_DATABASE_PASSWORD", "externalDatabase.passwordSecretKey"),
    ("PREFECT_SERVER_API_AUTH_STRING", "basicAuth.existingSecret"),
    ("PREFECT_REDIS_MESSAGING_PASSWORD", "backgroundServices.messaging.redis.existingSecret"),
    ("PREFECT_SERVER_DOCKET_URL", "backgroundServices.messaging.docket.existingSecret"),
];

/// The URL the UI in a browser calls: `uiConfig.prefectUiApiUrl`, else the Ingress host's
/// (or the HTTPRoute's first host's) API path, else the port-forward address.
pub fn ui_api_url(values: &Values) -> String {
    let base_path = values.api_path();
    if !values.ui_config.prefect_ui_api_url.is_empty() {
        values.ui_config.prefect_ui_api_url.clone()
    } else if let Some(url) =
        ingress::external_url(&values.ingress).or_else(|| gateway::external_url(values))
    {
        format!("{url}{base_path}")
    } else {
        format!("http://localhost:{}{base_path}", values.service.port)
    }
}

/// The API server container's `env`.
pub fn env(ctx: &Context, values: &Values, wiring: &Wiring) -> Vec<EnvVar> {
    let port = values.service.target_port;
    let base_path = values.api_path();
    let mut env = vec![
        env_var("HOME", HOME),
        // The CLI inside the container (`kubectl exec ... prefect ...`) talks to this server.
        env_var("PREFECT_API_URL", &format!("http://localhost:{port}{base_path}")),
        env_var("PREFECT_DEBUG_MODE", &values.debug.to_string()),
        env_var("PREFECT_LOGGING_SERVER_LEVEL", values.logging_level.as_str()),
        env_var(API_BASE_PATH_VAR, base_path),
        env_var("PREFECT_SERVER_API_HOST", "0.0.0.0"),
        env_var("PREFECT_SERVER_API_PORT", &port.to_string()),
        env_var("PREFECT_UI_ENABLED", &values.ui_config.enabled.to_string()),
        env_var("PREFECT_UI_API_URL", &ui_api_url(values)),
        env_var("PREFECT_UI_STATIC_DIRECTORY", &values.ui_config.prefect_ui_static_directory),
    ];
    env.extend(shared(wiring));
    add_global_env(ctx, &mut env);
    add_user_env(ctx, &mut env, &values.env, "env");
    env
}

/// The background-services container's `env`: the server's database, basic auth and
/// messaging, without the UI.
pub fn background_services(ctx: &Context, values: &Values, wiring: &Wiring) -> Vec<EnvVar> {
    let services = &values.background_services;
    let mut env = vec![
        env_var("HOME", HOME),
        env_var("PREFECT_DEBUG_MODE", &services.debug.to_string()),
        env_var("PREFECT_LOGGING_SERVER_LEVEL", services.logging_level.as_str()),
        env_var("PREFECT_UI_ENABLED", "false"),
    ];
    env.extend(shared(wiring));
    add_global_env(ctx, &mut env);
    add_user_env(ctx, &mut env, &services.env, "backgroundServices.env");
    env
}

/// The migrations Job's `env`: the database, then `global.prefect.env`, the server's `env`
/// and `migrations.env` over it.
pub fn migrations(ctx: &Context, values: &Values, database: &Database) -> Vec<EnvVar> {
    // Prefect gives a connection 5 s; a migration often starts beside a database that has
    // just started, on a busy cluster, and one refused connection fails the whole Job.
    let mut env =
        vec![env_var("HOME", HOME), env_var("PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT", "30")];
    env.extend(database_url(database));
    add_global_env(ctx, &mut env);
    // The server's container reported the problems of `env` already; a variable it refused
    // fails the run, so which ones the Job would get then does not matter.
    for var in values.env.iter().filter_map(|item| serde_json::from_value(item.clone()).ok()) {
        set_env(&mut env, var);
    }
    add_user_env(ctx, &mut env, &values.migrations.env, "migrations.env");
    env
}

/// What every long-running server process gets: the database, basic auth, whether it
/// migrates on start, and messaging (the password before Docket's URL, which refers to it).
fn shared(wiring: &Wiring) -> Vec<EnvVar> {
    let mut env = database_url(wiring.database);
    if let Some(auth) = wiring.basic_auth {
        env.push(env_from_secret(AUTH_STRING_VAR, &auth.name, &auth.key));
    }
    if !wiring.migrate_on_start {
        env.push(env_var(MIGRATE_ON_START_VAR, "false"));
    }
    env.extend(wiring.messaging.iter().cloned());
    env
}

/// The connection URL or its parts, unless the postgres plugin sets the database up itself.
fn database_url(database: &Database) -> Vec<EnvVar> {
    match database {
        Database::Sqlite { .. } => vec![env_var(CONNECTION_URL_VAR, database::SQLITE_URL)],
        Database::External { secret, key, .. } => {
            vec![env_from_secret(CONNECTION_URL_VAR, secret, key)]
        }
        Database::Parts { env, .. } => env.clone(),
        // The postgres plugin adds its settings to every server pod template when it runs.
        Database::PostgresPlugin => Vec::new(),
    }
}

/// `global.prefect.env` over `env`.
fn add_global_env(ctx: &Context, env: &mut Vec<EnvVar>) {
    for var in global_env(ctx) {
        set_env(env, var);
    }
}

/// The user's variables (the list at `path`) over `env`, with a warning for a credential set
/// in plain text.
fn add_user_env(ctx: &Context, env: &mut Vec<EnvVar>, items: &[Value], path: &str) {
    for (index, item) in items.iter().enumerate() {
        let Some(var) = ctx.convert::<EnvVar>(item.clone(), &format!("{path}[{index}]")) else {
            continue;
        };
        if let Some((_, instead)) = CREDENTIALS.iter().find(|(name, _)| *name == var.name)
            && var.value.is_some()
        {
            let workload = if path.starts_with("migrations") { "Job" } else { "Deployment" };
            ctx.warn(
                format!("{path}[{index}].value"),
                format!(
                    "{} is a credential, and here it is stored in plain text in the {workload}: \
                     put it in a Secret and use {instead}",
                    var.name
                ),
            );
        }
        set_env(env, var);
    }
}
