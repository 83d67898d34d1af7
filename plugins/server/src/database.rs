//! Which database the server uses, and how its connection URL reaches the container.
//!
//! In order: the `postgres` plugin when it is in the stack (it wires the URL into the server's
//! Deployment itself), else `externalDatabase` (a URL, or the connection in parts, which
//! Prefect joins into a URL itself, escaping what needs it), else the embedded SQLite file. A
//! PostgreSQL URL or password only ever reaches the container through a Secret reference.

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::api::core::v1::EnvVar,
    workload::{env_from_secret, env_var},
};

use crate::values::{ExternalDatabase, Values};

/// Where the SQLite file is, inside the container; the data volume is mounted at `/data`.
pub const SQLITE_URL: &str = "sqlite+aiosqlite:////data/prefect.db";

/// The key of the Secret the plugin creates for an inline connection URL.
pub const URL_KEY: &str = "connection-string";

/// The key of the Secret the plugin creates for an inline password of the parts.
pub const PASSWORD_KEY: &str = "password";

/// The driver Prefect's PostgreSQL support needs.
const ASYNCPG: &str = "postgresql+asyncpg";

/// The database the server uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Database {
    /// The embedded SQLite file, on a PersistentVolumeClaim when `persistent`, else in an
    /// emptyDir.
    Sqlite {
        /// Whether the file survives the pod.
        persistent: bool,
    },
    /// PostgreSQL, with the URL in the Secret `secret` under `key`.
    External {
        /// The Secret's name.
        secret: String,
        /// The key that holds the URL.
        key: String,
        /// The URL when the plugin creates the Secret from `externalDatabase.connectionUrl`.
        create: Option<String>,
    },
    /// PostgreSQL, in parts: Prefect's `PREFECT_SERVER_DATABASE_*` settings, literal or from
    /// Secrets.
    Parts {
        /// The settings.
        env: Vec<EnvVar>,
        /// The Secret to create for an inline password: its name and the password.
        create: Option<(String, String)>,
    },
    /// The `postgres` plugin provides the database and sets the server's connection URL.
    PostgresPlugin,
}

impl Database {
    /// Whether the server keeps its data in SQLite, which only one pod may open.
    pub fn is_sqlite(&self) -> bool {
        matches!(self, Database::Sqlite { .. })
    }
}

/// Refuses what the embedded SQLite database cannot do: it is one file that only one pod can
/// use, so neither several server pods nor background services in pods of their own.
pub fn check_scale(ctx: &Context, values: &Values, database: &Database) {
    if !database.is_sqlite() {
        return;
    }
    const MOVE: &str = "move to PostgreSQL (externalDatabase, or the postgres plugin)";
    if values.replica_count > 1 {
        ctx.error(
            "replicaCount",
            format!(
                "the embedded SQLite database is one file that only one server pod can use: keep \
                 replicaCount at 1, or {MOVE} to run more"
            ),
        );
    }
    if values.autoscaling.enabled {
        ctx.error(
            "autoscaling.enabled",
            format!(
                "the autoscaler runs several server pods, and the embedded SQLite database is one \
                 file that only one pod can use: turn autoscaling off, or {MOVE}"
            ),
        );
    }
    if values.background_services.run_as_separate_deployment {
        ctx.error(
            "backgroundServices.runAsSeparateDeployment",
            format!(
                "background services in pods of their own share the database with the server, \
                 and the embedded SQLite database is one file that only one pod can use: keep \
                 them in the server pods (false), or {MOVE}"
            ),
        );
    }
}

/// The database the values and the stack choose.
pub fn choose(ctx: &Context, external: &ExternalDatabase, sqlite_persistent: bool) -> Database {
    if ctx.has_plugin("postgres") {
        if external.is_set() {
            ctx.error(
                "externalDatabase",
                "the `postgres` plugin in the stack provides the database: remove \
                 externalDatabase, or drop the postgres plugin to use your own database",
            );
        }
        return Database::PostgresPlugin;
    }
    if external.in_parts() {
        if !external.connection_url.is_empty() {
            ctx.error(
                "externalDatabase.connectionUrl",
                "give the connection either as a URL or in parts (host, name, username...), not \
                 both",
            );
        }
        return parts(ctx, external);
    }
    let inline = !external.connection_url.is_empty();
    let existing = !external.existing_secret.is_empty();
    if inline && existing {
        ctx.error(
            "externalDatabase.existingSecret",
            "set either connectionUrl or existingSecret, not both: keep existingSecret so that \
             the password stays out of your values",
        );
    }
    // Never echo the URL: it holds a password.
    if inline {
        match external.connection_url.strip_prefix("postgresql+asyncpg://").map(host_and_database) {
            None => ctx.error(
                "externalDatabase.connectionUrl",
                "Prefect needs the asyncpg driver: the URL must start with `postgresql+asyncpg://`",
            ),
            Some((host, database)) if host.is_empty() || database.is_empty() => ctx.error(
                "externalDatabase.connectionUrl",
                "the URL names no database server or no database: give both, as in \
                 postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE",
            ),
            Some(_) => {}
        }
    }
    if existing && external.existing_secret_key.is_empty() {
        ctx.error(
            "externalDatabase.existingSecretKey",
            "name the key of the Secret that holds the connection URL",
        );
    }
    if existing {
        Database::External {
            secret: external.existing_secret.clone(),
            key: external.existing_secret_key.clone(),
            create: None,
        }
    } else if inline {
        Database::External {
            secret: secret_name(ctx),
            key: URL_KEY.to_owned(),
            create: Some(external.connection_url.clone()),
        }
    } else {
        Database::Sqlite { persistent: sqlite_persistent }
    }
}

/// The name of the Secret the plugin creates for an inline connection URL.
pub fn secret_name(ctx: &Context) -> String {
    format!("{}-postgresql-connection", ctx.full_name(crate::COMPONENT))
}

/// The connection in parts: each part literal or from a key of `existingSecret`, refused when
/// Prefect could not join them into a URL (no host, database or user).
fn parts(ctx: &Context, external: &ExternalDatabase) -> Database {
    let secret = &external.existing_secret;
    let port = external.port.to_string();
    let literal_parts = [
        ("DRIVER", "driver", external.driver.as_str(), &external.driver_secret_key, true),
        ("HOST", "host", &external.host, &external.host_secret_key, true),
        ("PORT", "port", &port, &external.port_secret_key, true),
        ("NAME", "name", &external.name, &external.name_secret_key, true),
        ("USER", "username", &external.username, &external.username_secret_key, true),
        ("PASSWORD", "password", &external.password, &external.password_secret_key, false),
    ];
    let mut env = Vec::new();
    let mut create = None;
    for (setting, field, value, secret_key, required) in literal_parts {
        let name = format!("PREFECT_SERVER_DATABASE_{setting}");
        let at = format!("externalDatabase.{field}");
        if !secret_key.is_empty() {
            if secret.is_empty() {
                ctx.error(
                    format!("{at}SecretKey"),
                    "name the Secret that holds this key in externalDatabase.existingSecret",
                );
            }
            // The driver and the port have defaults: only a value set for the others is a
            // second source.
            if !value.is_empty() && !matches!(field, "driver" | "port") {
                ctx.error(&at, format!("set either {field} or {field}SecretKey, not both"));
            }
            env.push(env_from_secret(&name, secret, secret_key));
        } else if value.is_empty() {
            if required {
                ctx.error(
                    &at,
                    format!(
                        "Prefect joins the connection URL from its parts and needs this one: set \
                         {field}, or {field}SecretKey with existingSecret"
                    ),
                );
            }
        } else if field == "password" {
            let secret_name = secret_name(ctx);
            env.push(env_from_secret(&name, &secret_name, PASSWORD_KEY));
            create = Some((secret_name, value.to_owned()));
        } else {
            if field == "driver" && value != ASYNCPG {
                ctx.error(
                    &at,
                    format!("Prefect needs the asyncpg driver on PostgreSQL: set `{ASYNCPG}`"),
                );
            }
            env.push(env_var(&name, value));
        }
    }
    Database::Parts { env, create }
}

/// The host and the database of a URL's rest after `scheme://`: `USER:PASSWORD@HOST:PORT/DB?...`.
// By hand: the `url` crate would bring its IDNA tables into the plugin for this one check.
fn host_and_database(rest: &str) -> (&str, &str) {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match host_port.strip_prefix('[') {
        // An IPv6 address, `[::1]:5432`.
        Some(bracketed) => bracketed.split_once(']').map_or("", |(address, _)| address),
        None => host_port.split_once(':').map_or(host_port, |(host, _)| host),
    };
    let database = path.split(['?', '#']).next().unwrap_or("");
    (host, database)
}

#[cfg(test)]
mod tests {
    use super::host_and_database;

    #[test]
    fn a_urls_host_and_database() {
        let cases = [
            ("u:p@db.example:5432/prefect", ("db.example", "prefect")),
            ("u:p%40ss@db/prefect?ssl=require", ("db", "prefect")),
            ("u:p@ss@db/prefect", ("db", "prefect")),
            ("u@[::1]:5432/prefect", ("::1", "prefect")),
            ("db.example:5432", ("db.example", "")),
            ("u:p@:5432/prefect", ("", "prefect")),
            ("/prefect", ("", "prefect")),
        ];
        for (rest, expected) in cases {
            assert_eq!(host_and_database(rest), expected, "{rest}");
        }
    }
}
