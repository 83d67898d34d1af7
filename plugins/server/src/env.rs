//! The server container's environment: the Prefect settings the plugin derives from the
//! values, then the user's own `env` (which replaces a variable of the same name rather than
//! adding a duplicate, which server-side apply refuses).

use prefect_plugin_sdk::k8s_openapi::api::core::v1::{
    ConfigMapEnvSource, EnvFromSource, EnvVar, EnvVarSource, SecretEnvSource, SecretKeySelector,
};

use crate::{
    PORT,
    database::{self, Database},
    ingress,
    problems::Problems,
    secrets::SecretKey,
    values::Values,
};

/// The home folder of the image's `prefect` user; an emptyDir, as the root filesystem is
/// read-only.
pub const HOME: &str = "/home/prefect";

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
        literal("HOME", HOME),
        // The CLI inside the container (`kubectl exec ... prefect ...`) talks to this server.
        literal("PREFECT_API_URL", &format!("http://localhost:{PORT}/api")),
        literal("PREFECT_DEBUG_MODE", &values.debug.to_string()),
        literal("PREFECT_LOGGING_SERVER_LEVEL", values.logging_level.as_str()),
        literal("PREFECT_SERVER_API_HOST", "0.0.0.0"),
        literal("PREFECT_SERVER_API_PORT", &PORT.to_string()),
        literal("PREFECT_UI_ENABLED", &values.ui_config.enabled.to_string()),
        literal("PREFECT_UI_API_URL", &ui_api_url(values)),
        literal("PREFECT_UI_STATIC_DIRECTORY", &values.ui_config.prefect_ui_static_directory),
    ];
    match database {
        Database::Sqlite { .. } => {
            env.push(literal("PREFECT_API_DATABASE_CONNECTION_URL", database::SQLITE_URL));
        }
        Database::External { secret, key, .. } => {
            let from = SecretKey { name: secret.clone(), key: key.clone() };
            env.push(from_secret("PREFECT_API_DATABASE_CONNECTION_URL", &from));
        }
        // The postgres plugin adds the variable to this Deployment when it runs.
        Database::PostgresPlugin => {}
    }
    if let Some(auth) = basic_auth {
        env.push(from_secret("PREFECT_SERVER_API_AUTH_STRING", auth));
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
        match env.iter_mut().find(|existing| existing.name == var.name) {
            Some(existing) => *existing = var,
            None => env.push(var),
        }
    }
    env
}

/// The container's `envFrom`: `extraEnvVarsCM` and `extraEnvVarsSecret`.
pub fn env_from(values: &Values) -> Vec<EnvFromSource> {
    let mut from = Vec::new();
    if !values.extra_env_vars_cm.is_empty() {
        from.push(EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: values.extra_env_vars_cm.clone(),
                optional: None,
            }),
            ..EnvFromSource::default()
        });
    }
    if !values.extra_env_vars_secret.is_empty() {
        from.push(EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: values.extra_env_vars_secret.clone(),
                optional: None,
            }),
            ..EnvFromSource::default()
        });
    }
    from
}

fn literal(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.to_owned(), value: Some(value.to_owned()), value_from: None }
}

fn from_secret(name: &str, secret: &SecretKey) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.name.clone(),
                key: secret.key.clone(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
    }
}
