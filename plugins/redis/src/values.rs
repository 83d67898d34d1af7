//! The `redis:` values. Names follow the `redis` section of the prefect-server Helm chart
//! (Bitnami's Redis chart) where it has the same concept (`auth.password`,
//! `auth.existingSecret`, `auth.existingSecretPasswordKey`, `persistence.size`).

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    schemars::{self, JsonSchema},
    serde_json::json,
    wire::PullPolicy,
    workload::{PodValues, ProbeValues, ServiceAccountValues},
};
use serde::{Deserialize, Serialize};

/// The user and group id of the `redis` user in the official (Debian) image.
pub const REDIS_UID: i64 = 999;

/// Redis for the Prefect server: its messaging broker and cache, event ordering, concurrency
/// leases and Docket's task queue, owned by this release.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(deny_unknown_fields)]
pub struct Values {
    /// The official `redis` image.
    pub image: Image,

    /// The password clients authenticate with.
    pub auth: Auth,

    /// Where Redis keeps its append-only file.
    pub persistence: Persistence,

    /// Restarts Redis when `redis-cli ping` keeps failing.
    pub liveness_probe: ProbeValues,

    /// Sends connections to Redis only while `redis-cli ping` answers.
    pub readiness_probe: ProbeValues,

    /// The Service the server connects to.
    pub service: Service,

    /// The Redis pod: resources, security contexts, scheduling, extra volumes and containers.
    #[serde(flatten)]
    pub pod: PodValues,

    /// The ServiceAccount the Redis pod runs as; its API token is not mounted.
    pub service_account: ServiceAccountValues,
}

impl Default for Values {
    fn default() -> Self {
        Values {
            image: Image::default(),
            auth: Auth::default(),
            persistence: Persistence::default(),
            liveness_probe: ProbeValues::new(true, 20),
            readiness_probe: ProbeValues::new(true, 5),
            service: Service::default(),
            pod: PodValues::restricted(
                REDIS_UID,
                json!({
                    "requests": { "cpu": "100m", "memory": "128Mi" },
                    "limits": { "cpu": "500m", "memory": "512Mi" },
                }),
            ),
            service_account: ServiceAccountValues::default(),
        }
    }
}

/// `redis.image`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Image {
    /// Image repository; `global.imageRegistry` is put in front. The container runs
    /// `redis-server` and its probes `redis-cli`, which the image must have.
    pub repository: String,
    /// Image tag, a 7.x release. The security contexts run it as the Debian-based image's
    /// `redis` user, 999; check the user of any other image.
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
            repository: "redis".to_owned(),
            tag: "7.4".to_owned(),
            pull_policy: None,
            digest: String::new(),
        }
    }
}

/// `redis.auth`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Auth {
    /// A fixed password. Leave it empty to have one generated on the first `prefectctl apply`
    /// and kept on every later one (the default), or use `existingSecret`. It goes into the
    /// URL of Prefect's Docket as it is, so it may hold only letters, digits and `-._~`.
    #[schemars(extend("writeOnly" = true))]
    pub password: String,
    /// Name of an existing Secret that holds the password (under
    /// `existingSecretPasswordKey`); no Secret is created then. The password must hold only
    /// letters, digits and `-._~`, as `password`.
    pub existing_secret: String,
    /// The key of the password in the Secret, the release's own or `existingSecret`.
    pub existing_secret_password_key: String,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            password: String::new(),
            existing_secret: String::new(),
            existing_secret_password_key: "redis-password".to_owned(),
        }
    }
}

/// `redis.persistence`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Persistence {
    /// Keeps the data (an append-only file) on a PersistentVolumeClaim from the StatefulSet's
    /// volumeClaimTemplates, which outlives the pod and the release: queued messages, event
    /// ordering and concurrency leases survive a restart. Off, Redis keeps nothing on disk and
    /// loses it all with the pod.
    pub enabled: bool,
    /// Size of the claim, as a Kubernetes quantity. A StatefulSet cannot change it later:
    /// grow the claim itself (`kubectl edit pvc`) if your StorageClass allows it.
    pub size: String,
    /// StorageClass of the claim; empty uses the cluster's default, `-` asks for none
    /// (binds to a pre-created volume).
    pub storage_class: String,
    /// Access modes of the claim.
    pub access_modes: Vec<String>,
    /// Annotations of the claim.
    pub annotations: BTreeMap<String, String>,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            enabled: true,
            size: "1Gi".to_owned(),
            storage_class: String::new(),
            access_modes: vec!["ReadWriteOnce".to_owned()],
            annotations: BTreeMap::new(),
        }
    }
}

/// `redis.service`.
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
        Service { port: 6379, annotations: BTreeMap::new() }
    }
}
