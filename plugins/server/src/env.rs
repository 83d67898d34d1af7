//! The server container's environment: the Prefect settings the plugin derives from the
//! values, then the user's own `env` (which replaces a variable of the same name rather than
//! adding a duplicate, which server-side apply refuses).

use prefect_plugin_sdk::{
    Problems,
    k8s_openapi::api::core::v1::EnvVar,
    workload::{env_from_secret, env_var, set_env},
};

use crate::{
    PORT,
    database::{self, Database},
    ingress,
    secrets::SecretKey,
    values::Values,
};

/// The home folder of the image's `prefect` user; an emptyDir, as the root filesystem is
/// read-only.
pub const HOME: &str = "/home/prefect";

/// The variable that holds the basic-auth string, which the agent plugin reads from the
/// server's Deployment to wire a worker to it.
pub const AUTH_STRING_VAR: &str = "PREFECT_SERVER_API_AUTH_STRING";

/// Variables that hold credentials: set literally in `env`, they would be readable by anyone
/// who can read the Deployment.
const CREDENTIALS: &[(&str, &str)] = &[
    ("PREFECT_API_DATABASE_CONNECTION_URL", "externalDatabase.existingSecret"),
    ("PREFECT_SERVER_API_AUTH_STRING", "basicAuth.existingSecret"),
];

/// The URL the UI in a browser calls: `uiConfig.prefectUiApiUrl`, else the Ingress host's
/// `/api`, else the port-forward address.
pub fn ui_api_url(values: &Values) -> String {
    if !values.ui_config.prefect_ui_api_url.is_empty() {
        values.ui_config.prefect_ui_api_url.clone()
    } else if let Some(url) = ingress::external_url(&values.ingress) {
        format!("{url}/api")
    } else {
        format!("http://localhost:{PORT}/api")
    }
}

/// The container's `env`.
pub fn env(
    values: &Values,
    database: &Database,
    basic_auth: Option<&SecretKey>,
    problems: &mut Problems,
) -> Vec<EnvVar> {
    let mut env = vec![
        env_var("HOME", HOME),
        // The CLI inside the container (`kubectl exec ... prefect ...`) talks to this server.
        env_var("PREFECT_API_URL", &format!("http://localhost:{PORT}/api")),
        env_var("PREFECT_DEBUG_MODE", &values.debug.to_string()),
        env_var("PREFECT_LOGGING_SERVER_LEVEL", values.logging_level.as_str()),
        env_var("PREFECT_SERVER_API_HOST", "0.0.0.0"),
        env_var("PREFECT_SERVER_API_PORT", &PORT.to_string()),
        env_var("PREFECT_UI_ENABLED", &values.ui_config.enabled.to_string()),
        env_var("PREFECT_UI_API_URL", &ui_api_url(values)),
        env_var("PREFECT_UI_STATIC_DIRECTORY", &values.ui_config.prefect_ui_static_directory),
    ];
    match database {
        Database::Sqlite { .. } => {
            env.push(env_var("PREFECT_API_DATABASE_CONNECTION_URL", database::SQLITE_URL));
        }
        Database::External { secret, key, .. } => {
            env.push(env_from_secret("PREFECT_API_DATABASE_CONNECTION_URL", secret, key));
        }
        // The postgres plugin adds the variable to this Deployment when it runs.
        Database::PostgresPlugin => {}
    }
    if let Some(auth) = basic_auth {
        env.push(env_from_secret(AUTH_STRING_VAR, &auth.name, &auth.key));
    }

    for (index, item) in values.env.iter().enumerate() {
        let Some(var) = problems.convert::<EnvVar>(item.clone(), &format!("env[{index}]")) else {
            continue;
        };
        if let Some((_, instead)) = CREDENTIALS.iter().find(|(name, _)| *name == var.name)
            && var.value.is_some()
        {
            problems.warn(
                format!("env[{index}].value"),
                format!(
                    "{} is a credential, and here it is stored in plain text in the Deployment: \
                     put it in a Secret and use {instead}",
                    var.name
                ),
            );
        }
        set_env(&mut env, var);
    }
    env
}
