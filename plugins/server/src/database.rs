//! Which database the server uses, and how its connection URL reaches the container.
//!
//! In order: the `postgres` plugin when it is in the stack (it wires the URL into the server's
//! Deployment itself), else `externalDatabase`, else the embedded SQLite file. A PostgreSQL URL
//! carries a password, so it only ever reaches the container through a Secret reference.

use prefect_plugin_sdk::{Context, Problems};

use crate::values::{ExternalDatabase, Values};

/// Where the SQLite file is, inside the container; the data volume is mounted at `/data`.
pub const SQLITE_URL: &str = "sqlite+aiosqlite:////data/prefect.db";

/// The key of the Secret the plugin creates for an inline connection URL.
pub const URL_KEY: &str = "connection-string";

/// The database the server uses.
#[derive(Debug, Clone, PartialEq, Eq)]
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
pub fn check_scale(values: &Values, database: &Database, problems: &mut Problems) {
    if !database.is_sqlite() {
        return;
    }
    const MOVE: &str = "move to PostgreSQL (externalDatabase, or the postgres plugin)";
    if values.replica_count > 1 {
        problems.error(
            "replicaCount",
            format!(
                "the embedded SQLite database is one file that only one server pod can use: keep \
                 replicaCount at 1, or {MOVE} to run more"
            ),
        );
    }
    if values.autoscaling.enabled {
        problems.error(
            "autoscaling.enabled",
            format!(
                "the autoscaler runs several server pods, and the embedded SQLite database is one \
                 file that only one pod can use: turn autoscaling off, or {MOVE}"
            ),
        );
    }
    if values.background_services.run_as_separate_deployment {
        problems.error(
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
pub fn choose(
    ctx: &Context,
    external: &ExternalDatabase,
    sqlite_persistent: bool,
    problems: &mut Problems,
) -> Database {
    if ctx.has_plugin("postgres") {
        if external.is_set() {
            problems.error(
                "externalDatabase",
                "the `postgres` plugin in the stack provides the database: remove \
                 externalDatabase, or drop the postgres plugin to use your own database",
            );
        }
        return Database::PostgresPlugin;
    }
    let inline = !external.connection_url.is_empty();
    let existing = !external.existing_secret.is_empty();
    if inline && existing {
        problems.error(
            "externalDatabase.existingSecret",
            "set either connectionUrl or existingSecret, not both: keep existingSecret so that \
             the password stays out of your values",
        );
    }
    if inline && !external.connection_url.starts_with("postgresql+asyncpg://") {
        // Never echo the URL: it holds a password.
        problems.error(
            "externalDatabase.connectionUrl",
            "Prefect needs the asyncpg driver: the URL must start with `postgresql+asyncpg://`",
        );
    }
    if existing && external.existing_secret_key.is_empty() {
        problems.error(
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
