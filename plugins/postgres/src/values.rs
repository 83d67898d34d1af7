//! The `postgres:` values. Names follow the `postgresql` section of the prefect-server Helm
//! chart where it has the same concept (`auth.database`, `auth.username`,
//! `auth.existingSecret`, `persistence.size`).

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    schemars::{self, JsonSchema},
    serde_json::json,
    wire::PullPolicy,
    workload::{PodValues, ProbeValues, ServiceAccountValues},
};
use serde::{Deserialize, Serialize};

/// The user and group id of the `postgres` user in the official (Debian) image.
pub const POSTGRES_UID: i64 = 999;

/// A PostgreSQL database for the Prefect server, owned by this release.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(deny_unknown_fields)]
pub struct Values {
    /// The official `postgres` image. Its major version is pinned: a new major version cannot
    /// read an older one's data files, so change it only together with a dump and restore
    /// (or `pg_upgrade`).
    pub image: Image,

    /// The database, the user the server connects as, and the user's password.
    pub auth: Auth,

    /// Where the data lives.
    pub persistence: Persistence,

    /// Restarts PostgreSQL when `pg_isready` keeps failing.
    pub liveness_probe: ProbeValues,

    /// Sends connections to PostgreSQL only while `pg_isready` succeeds.
    pub readiness_probe: ProbeValues,

    /// The Service the server connects to.
    pub service: Service,

    /// The database pod: resources, security contexts, scheduling, extra volumes and
    /// containers.
    #[serde(flatten)]
    pub pod: PodValues,

    /// The ServiceAccount the database pod runs as; its API token is not mounted.
    pub service_account: ServiceAccountValues,
}

impl Default for Values {
    fn default() -> Self {
        Values {
            image: Image::default(),
            auth: Auth::default(),
            persistence: Persistence::default(),
            liveness_probe: ProbeValues::new(true, 30),
            readiness_probe: ProbeValues::new(true, 5),
            service: Service::default(),
            pod: PodValues::restricted(
                POSTGRES_UID,
                json!({
                    "requests": { "cpu": "250m", "memory": "256Mi" },
                    "limits": { "cpu": "1", "memory": "1Gi" },
                }),
            ),
            service_account: ServiceAccountValues::default(),
        }
    }
}

/// `postgres.image`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Image {
    /// Image repository; `global.imageRegistry` is put in front.
    pub repository: String,
    /// Image tag: a major version of the official image (`17`), or a more precise one
    /// (`17.6`). The Debian-based tags run as user 999; for an Alpine tag, set the security
    /// contexts' user and group to 70.
    pub tag: String,
    /// Pull policy; null uses `global.prefect.image.pullPolicy`.
    pub pull_policy: Option<PullPolicy>,
    /// Image digest (`sha256:` and 64 hex digits) put after the tag, so that the pods run
    /// exactly this image whatever the tag points at later; empty runs the tag.
    pub digest: String,
}

impl Default for Image {
    fn default() -> Self {
        Image {
            repository: "postgres".to_owned(),
            tag: "17".to_owned(),
            pull_policy: None,
            digest: String::new(),
        }
    }
}

/// `postgres.auth`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Auth {
    /// The database Prefect uses; created on first start.
    pub database: String,
    /// The user the server connects as; created on first start, owner of the database.
    pub username: String,
    /// A fixed password for the user. Leave it empty to have one generated on the first
    /// `prefectctl apply` and kept on every later one (the default), or use
    /// `existingSecret`. Changing it after the first start does not change the password
    /// inside the database.
    #[schemars(extend("writeOnly" = true))]
    pub password: String,
    /// Name of an existing Secret that holds the user's password (under
    /// `secretKeys.userPasswordKey`); no Secret is created then.
    pub existing_secret: String,
    /// Keys of the password Secret.
    pub secret_keys: SecretKeys,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            database: "prefect".to_owned(),
            username: "prefect".to_owned(),
            password: String::new(),
            existing_secret: String::new(),
            secret_keys: SecretKeys::default(),
        }
    }
}

/// `postgres.auth.secretKeys`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SecretKeys {
    /// The key that holds the user's password.
    pub user_password_key: String,
}

impl Default for SecretKeys {
    fn default() -> Self {
        SecretKeys { user_password_key: "password".to_owned() }
    }
}

/// `postgres.persistence`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Persistence {
    /// Keeps the data on a PersistentVolumeClaim (from the StatefulSet's
    /// volumeClaimTemplates), which outlives the pod and the release. Off, the data lives in
    /// an emptyDir and is lost with the pod: for throwaway installs only.
    pub enabled: bool,
    /// Size of the claim, as a Kubernetes quantity. A StatefulSet cannot change it later:
    /// grow the claim itself (`kubectl edit pvc`) if your StorageClass allows it.
    pub size: String,
    /// StorageClass of the claim; empty uses the cluster's default, `-` asks for none
    /// (binds to a pre-created volume).
    pub storage_class: String,
    /// Annotations of the claim.
    pub annotations: BTreeMap<String, String>,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            enabled: true,
            size: "8Gi".to_owned(),
            storage_class: String::new(),
            annotations: BTreeMap::new(),
        }
    }
}

/// `postgres.service`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Service {
    /// Port of the Service.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Annotations of the Service.
    pub annotations: BTreeMap<String, String>,
}

impl Default for Service {
    fn default() -> Self {
        Service { port: 5432, annotations: BTreeMap::new() }
    }
}
