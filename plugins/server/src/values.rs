//! The `server:` values: every setting of the server plugin, with its documentation and
//! default. Names follow the prefect-server Helm chart; what the chart keeps at top level
//! (`service`, `ingress`, `serviceAccount`, `sqlite`) lives under `server:` here.

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    schemars::{self, JsonSchema},
    security::PREFECT_UID,
    serde_json::{Map, Value, json},
    workload::{
        ImageValues, PodValues, ProbeValues, ServiceAccountValues, scaling::DisruptionBudgetValues,
    },
};
use serde::{Deserialize, Serialize};

/// The Prefect API server and UI.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(deny_unknown_fields)]
pub struct Values {
    /// Number of server pods, unless `autoscaling` is on. With the embedded SQLite database it
    /// must stay 1 (SQLite cannot be shared between processes on different nodes): configure
    /// `externalDatabase` or add the `postgres` plugin before you raise it. Several pods share
    /// events and background work through Redis: the `redis` plugin, or
    /// `backgroundServices.messaging.redis`.
    #[schemars(range(min = 0))]
    pub replica_count: i32,

    /// How many old ReplicaSets the Deployment keeps so that `kubectl rollout undo` can go
    /// back to them.
    #[schemars(range(min = 0))]
    pub revision_history_limit: i32,

    /// Overrides `global.prefect.image` for the server only; leave a field empty to use the
    /// global value. Change it to run a different Prefect release than the worker. The plugin
    /// runs Prefect 3 only: a tag that says Prefect 2 (`2`, `2.*`, `2-*`) is refused.
    pub image: ImageValues,

    /// Log level of the server (`PREFECT_LOGGING_SERVER_LEVEL`). Raise it to DEBUG or INFO
    /// while you investigate a problem.
    pub logging_level: LoggingLevel,

    /// Runs the server in debug mode (`PREFECT_DEBUG_MODE`): more logging, slower. Only for
    /// troubleshooting.
    pub debug: bool,

    /// The web UI the server serves beside the API.
    pub ui_config: UiConfig,

    /// HTTP basic authentication of the API (Prefect 3.1.8 or later), not of the UI's pages:
    /// the UI asks for the credentials when it calls the API. Clients (workers, the CLI) then
    /// need the same string in `PREFECT_API_AUTH_STRING`; the agent plugin in the same stack
    /// gets it without configuration.
    pub basic_auth: BasicAuth,

    /// The embedded SQLite database, used when neither `externalDatabase` nor the `postgres`
    /// plugin provides one. Fine for trying Prefect out and small single-user setups.
    pub sqlite: Sqlite,

    /// A PostgreSQL database run outside this release. Setting a connection URL or an
    /// existing Secret replaces SQLite; the URL reaches the server only through a Secret.
    pub external_database: ExternalDatabase,

    /// Extra environment variables of the server container, as Kubernetes `EnvVar` objects
    /// (`{name, value}` or `{name, valueFrom}`). A variable the plugin already sets is
    /// replaced by yours. See Prefect's settings reference for what can be set.
    pub env: Vec<Value>,

    /// Extra arguments appended to `prefect server start --port 4200`.
    pub extra_args: Vec<String>,

    /// Replaces the container's entrypoint (the image's `tini` and `entrypoint.sh`). Empty
    /// keeps it.
    pub command: Vec<String>,

    /// Replaces the container's arguments, `prefect server start --port <targetPort>` and
    /// `extraArgs`. Empty keeps them.
    pub args: Vec<String>,

    /// The path the API is served under (`PREFECT_SERVER_API_BASE_PATH`), for a server
    /// behind a proxy that routes by path. The probes, the UI's API URL and the URL of the
    /// agent plugin's worker follow it.
    pub api_base_path: String,

    /// Lifecycle hooks of the server container (Kubernetes `Lifecycle`); for example a
    /// `preStop` sleep, so that load balancers stop sending requests before the server stops.
    pub lifecycle: Map<String, Value>,

    /// Seconds a server pod is given to stop before it is killed; null keeps Kubernetes'
    /// default (30). 0 stops it at once.
    #[schemars(range(min = 0))]
    pub termination_grace_period_seconds: Option<i64>,

    /// Holds the other probes back until `GET <apiBasePath>/health` first succeeds: by
    /// default 30 tries 10 s apart, so that a first start or a long database migration is
    /// not killed by the liveness probe.
    pub startup_probe: ProbeValues,

    /// Restarts the server container when `GET <apiBasePath>/health` keeps failing.
    pub liveness_probe: HttpProbe,

    /// Sends traffic to a pod only while `GET <apiBasePath>/ready` succeeds (the server is
    /// up and reaches its database).
    pub readiness_probe: HttpProbe,

    /// How the Deployment replaces pods (Kubernetes `DeploymentStrategy`). Empty chooses:
    /// `Recreate` with SQLite, so that two pods never hold the database volume at once, and
    /// Kubernetes' default rolling update otherwise.
    pub update_strategy: Map<String, Value>,

    /// A HorizontalPodAutoscaler of the server Deployment (`autoscaling/v2`, or `v2beta2` on
    /// clusters before 1.23, or `v1`, CPU only, on older ones); `replicaCount` is then left to
    /// it. Needs PostgreSQL, and `resources.requests` for the targets to mean anything.
    pub autoscaling: Autoscaling,

    /// A PodDisruptionBudget of the server pods (`policy/v1`, or `v1beta1` on clusters before
    /// 1.21), so that draining nodes keeps some of them up.
    pub pod_disruption_budget: DisruptionBudgetValues,

    /// Prefect's background services (scheduler, late runs, automations...), which run inside
    /// the server pods unless `runAsSeparateDeployment` gives them a Deployment of their own.
    pub background_services: BackgroundServices,

    /// The Job that upgrades the database schema before the server pods start, on PostgreSQL
    /// (with SQLite the server migrates on start).
    pub migrations: Migrations,

    /// Extra labels of the Deployment itself.
    pub deployment_labels: BTreeMap<String, String>,

    /// Extra annotations of the Deployment itself.
    pub deployment_annotations: BTreeMap<String, String>,

    /// The server pods: resources, security contexts, scheduling, extra volumes and
    /// containers.
    #[serde(flatten)]
    pub pod: PodValues,

    /// The ServiceAccount the server pods run as. The server never calls the Kubernetes API,
    /// so its token is not mounted.
    pub service_account: ServiceAccountValues,

    /// The Service in front of the server pods; workers and the ingress reach the API
    /// through it.
    pub service: Service,

    /// An Ingress that exposes the API and UI outside the cluster.
    pub ingress: Ingress,

    /// A Gateway of the Kubernetes Gateway API (`gateway.networking.k8s.io/v1`) that exposes
    /// the API and UI outside the cluster, instead of the Ingress: turn on one of them only.
    pub gateway: Gateway,

    /// The HTTPRoute that attaches the server's Service to a Gateway, this release's
    /// (`gateway.create`) or one that exists; made only while `gateway.enabled` is on.
    pub httproute: HttpRoute,
}

impl Values {
    /// `apiBasePath` without a trailing `/`: what the API's URLs and probe paths start with.
    pub fn api_path(&self) -> &str {
        self.api_base_path.trim_end_matches('/')
    }
}

impl Default for Values {
    fn default() -> Self {
        Values {
            replica_count: 1,
            revision_history_limit: 10,
            image: ImageValues::default(),
            logging_level: LoggingLevel::Warning,
            debug: false,
            ui_config: UiConfig::default(),
            basic_auth: BasicAuth::default(),
            sqlite: Sqlite::default(),
            external_database: ExternalDatabase::default(),
            env: Vec::new(),
            extra_args: Vec::new(),
            command: Vec::new(),
            args: Vec::new(),
            api_base_path: "/api".to_owned(),
            lifecycle: Map::new(),
            termination_grace_period_seconds: None,
            // A first start, or migrations on start, can take minutes; the liveness probe
            // only begins once this one has succeeded.
            startup_probe: ProbeValues::new(true, 0).failure_threshold(30),
            liveness_probe: HttpProbe::new(10),
            readiness_probe: HttpProbe::new(10),
            update_strategy: Map::new(),
            autoscaling: Autoscaling::default(),
            pod_disruption_budget: DisruptionBudgetValues::default(),
            background_services: BackgroundServices::default(),
            migrations: Migrations::default(),
            deployment_labels: BTreeMap::new(),
            deployment_annotations: BTreeMap::new(),
            pod: PodValues::restricted(
                PREFECT_UID,
                json!({
                    "requests": { "cpu": "500m", "memory": "512Mi" },
                    "limits": { "cpu": "1", "memory": "1Gi" },
                }),
            ),
            service_account: ServiceAccountValues::default(),
            service: Service::default(),
            ingress: Ingress::default(),
            gateway: Gateway::default(),
            httproute: HttpRoute::default(),
        }
    }
}

/// `server.livenessProbe` and `server.readinessProbe`: an HTTP check of the server.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpProbe {
    /// Adds the probe.
    pub enabled: bool,
    /// The path the probe requests; null requests `<apiBasePath>/health` (liveness) or
    /// `<apiBasePath>/ready` (readiness).
    pub path: Option<String>,
    /// Timing of the probe (Kubernetes `Probe` fields: `initialDelaySeconds`,
    /// `periodSeconds`, `timeoutSeconds`, `failureThreshold`, `successThreshold`).
    pub config: Map<String, Value>,
}

impl HttpProbe {
    fn new(initial_delay_seconds: i32) -> HttpProbe {
        let ProbeValues { enabled, config } = ProbeValues::new(true, initial_delay_seconds);
        HttpProbe { enabled, path: None, config }
    }

    /// The on/off switch and timing, without the path.
    pub fn timing(&self) -> ProbeValues {
        ProbeValues { enabled: self.enabled, config: self.config.clone() }
    }
}

impl Default for HttpProbe {
    fn default() -> Self {
        HttpProbe::new(10)
    }
}

/// `server.autoscaling`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Autoscaling {
    /// Creates the HorizontalPodAutoscaler; needs PostgreSQL (`externalDatabase` or the
    /// `postgres` plugin).
    pub enabled: bool,
    /// Fewest server pods.
    #[schemars(range(min = 1))]
    pub min_replicas: i32,
    /// Most server pods.
    #[schemars(range(min = 1))]
    pub max_replicas: i32,
    /// Average CPU use, in percent of the request, the autoscaler aims at; 0 for none.
    #[serde(rename = "targetCPU")]
    #[schemars(range(min = 0))]
    pub target_cpu: i32,
    /// Average memory use, in percent of the request, the autoscaler aims at; 0 for none.
    #[schemars(range(min = 0))]
    pub target_memory: i32,
}

impl Default for Autoscaling {
    fn default() -> Self {
        Autoscaling {
            enabled: false,
            min_replicas: 1,
            max_replicas: 100,
            target_cpu: 80,
            target_memory: 80,
        }
    }
}

/// `server.backgroundServices`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(deny_unknown_fields)]
pub struct BackgroundServices {
    /// Runs the background services in their own Deployment
    /// (`<release>-background-services`, `prefect server services start`) and the API
    /// server with `--no-services`, so that each scales on its own. Needs PostgreSQL, Redis
    /// (the `redis` plugin or `messaging.redis.host`) and Prefect 3.1.13 or later.
    pub run_as_separate_deployment: bool,

    /// Number of background-services pods.
    #[schemars(range(min = 0))]
    pub replica_count: i32,

    /// How many old ReplicaSets the Deployment keeps for `kubectl rollout undo`.
    #[schemars(range(min = 0))]
    pub revision_history_limit: i32,

    /// Log level of the background services (`PREFECT_LOGGING_SERVER_LEVEL`).
    pub logging_level: LoggingLevel,

    /// Runs the background services in debug mode (`PREFECT_DEBUG_MODE`).
    pub debug: bool,

    /// Extra environment variables of the background-services container, as Kubernetes
    /// `EnvVar` objects; a variable the plugin sets is replaced by yours.
    pub env: Vec<Value>,

    /// Replaces the container's entrypoint (the image's `tini` and `entrypoint.sh`). Empty
    /// keeps it.
    pub command: Vec<String>,

    /// Replaces the container's arguments, `prefect server services start`. Empty keeps them.
    pub args: Vec<String>,

    /// Lifecycle hooks of the background-services container (Kubernetes `Lifecycle`), such
    /// as a `preStop` hook that gives running services time to wind down.
    pub lifecycle: Map<String, Value>,

    /// Seconds a background-services pod is given to stop before it is killed; null keeps
    /// Kubernetes' default (30).
    #[schemars(range(min = 0))]
    pub termination_grace_period_seconds: Option<i64>,

    /// The background-services pods: resources, security contexts, scheduling, extra
    /// volumes and containers (as the server's).
    #[serde(flatten)]
    pub pod: PodValues,

    /// The ServiceAccount the background-services pods run as (`<release>-background-services`
    /// when created); its token is not mounted.
    pub service_account: ServiceAccountValues,

    /// Prefect's messaging through a Redis you run: the settings reach the server and the
    /// background services. Leave it empty with the `redis` plugin, which sets them itself.
    pub messaging: Messaging,
}

impl Default for BackgroundServices {
    fn default() -> Self {
        BackgroundServices {
            run_as_separate_deployment: false,
            replica_count: 1,
            revision_history_limit: 10,
            logging_level: LoggingLevel::Warning,
            debug: false,
            env: Vec::new(),
            command: Vec::new(),
            args: Vec::new(),
            lifecycle: Map::new(),
            termination_grace_period_seconds: None,
            pod: PodValues::restricted(
                PREFECT_UID,
                json!({
                    "requests": { "cpu": "500m", "memory": "512Mi" },
                    "limits": { "cpu": "1", "memory": "1Gi" },
                }),
            ),
            service_account: ServiceAccountValues::default(),
            messaging: Messaging::default(),
        }
    }
}

/// `server.backgroundServices.messaging`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Messaging {
    /// Messaging broker (`PREFECT_MESSAGING_BROKER`), set when `redis.host` is.
    pub broker: String,
    /// Messaging cache (`PREFECT_MESSAGING_CACHE`), set when `redis.host` is.
    pub cache: String,
    /// The Redis server (`PREFECT_REDIS_MESSAGING_*`); nothing is set while `host` is empty.
    pub redis: RedisMessaging,
    /// Docket, which coordinates the background services between pods
    /// (`PREFECT_SERVER_DOCKET_URL`). Empty with `redis.host` set builds the URL from the
    /// Redis settings; without either, Prefect keeps it in memory, which works for one pod only.
    pub docket: Docket,
}

impl Default for Messaging {
    fn default() -> Self {
        Messaging {
            broker: "prefect_redis.messaging".to_owned(),
            cache: "prefect_redis.messaging".to_owned(),
            redis: RedisMessaging::default(),
            docket: Docket::default(),
        }
    }
}

/// `server.backgroundServices.messaging.redis`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RedisMessaging {
    /// Host name of the Redis server (`redis.example.com`); empty sets no messaging at all.
    pub host: String,
    /// Port of the Redis server.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Redis database number.
    #[schemars(range(min = 0))]
    pub db: i32,
    /// Redis user name; empty for none.
    pub username: String,
    /// Redis password; the plugin stores it in a Secret. Prefer `existingSecret` so that the
    /// password stays out of values files.
    #[schemars(extend("writeOnly" = true))]
    pub password: String,
    /// Connects over TLS (`rediss://` for Docket).
    pub ssl: bool,
    /// Name of an existing Secret that holds the password; use instead of `password`.
    pub existing_secret: String,
    /// The key of `existingSecret` that holds the password.
    pub existing_secret_password_key: String,
}

impl Default for RedisMessaging {
    fn default() -> Self {
        RedisMessaging {
            host: String::new(),
            port: 6379,
            db: 0,
            username: String::new(),
            password: String::new(),
            ssl: false,
            existing_secret: String::new(),
            existing_secret_password_key: "redis-password".to_owned(),
        }
    }
}

/// `server.backgroundServices.messaging.docket`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Docket {
    /// Docket's URL (`redis://host:6379/0`), which may hold a password: the plugin stores it
    /// in a Secret. Prefer `existingSecret`. Set it, or `existingSecret`, when the Redis
    /// password has characters a URL reserves (`@:/%?#`), since the built URL takes the
    /// password as it is.
    #[schemars(extend("writeOnly" = true))]
    pub url: String,
    /// Name of an existing Secret that holds Docket's URL; use instead of `url`.
    pub existing_secret: String,
    /// The key of `existingSecret` that holds the URL.
    pub existing_secret_key: String,
}

impl Default for Docket {
    fn default() -> Self {
        Docket {
            url: String::new(),
            existing_secret: String::new(),
            existing_secret_key: "docket-url".to_owned(),
        }
    }
}

/// `server.migrations`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Migrations {
    /// On PostgreSQL, upgrades the schema in the Job `<release>-db-migrations`, which
    /// `apply` runs to completion before it rolls out the server and the background services
    /// (they then start with `PREFECT_SERVER_DATABASE_MIGRATE_ON_START=false`). Off, the
    /// server migrates on start.
    pub enabled: bool,
    /// The command, run through the image's entrypoint. When it succeeds, the Job prints the
    /// database revision it leaves (`prefect database revision: ...`), which `prefectctl
    /// rollback` uses to refuse an older Prefect on a newer database.
    pub command: Vec<String>,
    /// Seconds the Job may run before it fails (`activeDeadlineSeconds`); 0 for no limit.
    #[schemars(range(min = 0))]
    pub timeout_seconds: i64,
    /// Retries before the Job fails.
    #[schemars(range(min = 0))]
    pub backoff_limit: i32,
    /// CPU and memory of the Job's container (Kubernetes `ResourceRequirements`).
    pub resources: Map<String, Value>,
    /// Security context of the Job's pod (Kubernetes `PodSecurityContext`); the restricted
    /// profile, as the server's.
    pub pod_security_context: Map<String, Value>,
    /// Security context of the Job's container (Kubernetes `SecurityContext`); the
    /// restricted profile, as the server's.
    pub security_context: Map<String, Value>,
    /// Extra environment variables of the Job's container (Kubernetes `EnvVar` objects),
    /// over the server's `env`.
    pub env: Vec<Value>,
    /// Node labels the Job's pod must run on.
    pub node_selector: BTreeMap<String, String>,
    /// Taints the Job's pod tolerates (Kubernetes `Toleration` objects).
    pub tolerations: Vec<Value>,
    /// Affinity of the Job's pod (Kubernetes `Affinity`).
    pub affinity: Map<String, Value>,
    /// Extra volumes of the Job's pod (Kubernetes `Volume` objects).
    pub extra_volumes: Vec<Value>,
    /// Extra volume mounts of the Job's container (Kubernetes `VolumeMount` objects).
    pub extra_volume_mounts: Vec<Value>,
}

impl Default for Migrations {
    fn default() -> Self {
        let pod = PodValues::restricted(
            PREFECT_UID,
            json!({
                "requests": { "cpu": "100m", "memory": "128Mi" },
                "limits": { "cpu": "500m", "memory": "256Mi" },
            }),
        );
        Migrations {
            enabled: true,
            command: ["prefect", "server", "database", "upgrade", "-y"].map(str::to_owned).to_vec(),
            timeout_seconds: 300,
            backoff_limit: 5,
            resources: pod.resources,
            pod_security_context: pod.pod_security_context,
            security_context: pod.container_security_context,
            env: Vec::new(),
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            affinity: Map::new(),
            extra_volumes: Vec::new(),
            extra_volume_mounts: Vec::new(),
        }
    }
}

/// Log levels Prefect knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum LoggingLevel {
    /// Everything, including internals.
    Debug,
    /// What the server does.
    Info,
    /// Problems that do not stop the server.
    Warning,
    /// Failures.
    Error,
    /// Failures that stop the server.
    Critical,
}

impl LoggingLevel {
    /// The spelling Prefect reads.
    pub fn as_str(self) -> &'static str {
        match self {
            LoggingLevel::Debug => "DEBUG",
            LoggingLevel::Info => "INFO",
            LoggingLevel::Warning => "WARNING",
            LoggingLevel::Error => "ERROR",
            LoggingLevel::Critical => "CRITICAL",
        }
    }
}

/// `server.uiConfig`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct UiConfig {
    /// Serves the web UI (`PREFECT_UI_ENABLED`); turn it off for an API-only server.
    pub enabled: bool,
    /// The API URL the UI in the user's browser calls (`PREFECT_UI_API_URL`), such as
    /// `https://prefect.example.com/api`. Empty derives it: from `ingress.host.hostname` when
    /// the ingress is enabled, else `http://localhost:4200/api` (for `kubectl port-forward`).
    pub prefect_ui_api_url: String,
    /// Writable folder the server copies the UI's files into at start
    /// (`PREFECT_UI_STATIC_DIRECTORY`); an emptyDir is mounted there because the root
    /// filesystem is read-only.
    pub prefect_ui_static_directory: String,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            enabled: true,
            prefect_ui_api_url: String::new(),
            prefect_ui_static_directory: "/ui_build".to_owned(),
        }
    }
}

/// `server.basicAuth`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct BasicAuth {
    /// Requires `USER:PASSWORD` on every request to the API (under `/api`) except
    /// `GET /api/health` and `GET /api/ready`, which the probes use. The UI's static pages
    /// load without it; the UI then asks for the credentials to call the API.
    pub enabled: bool,
    /// The credentials as `USER:PASSWORD`; the plugin stores them in a Secret. Prefer
    /// `existingSecret` so that the password stays out of values files.
    #[schemars(extend("writeOnly" = true))]
    pub auth_string: String,
    /// Name of an existing Secret holding the credentials under the key `auth-string`; use
    /// instead of `authString`.
    pub existing_secret: String,
}

/// `server.sqlite`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Sqlite {
    /// Where the SQLite file (`/data/prefect.db`) lives.
    pub persistence: Persistence,
}

/// `server.sqlite.persistence`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Persistence {
    /// Keeps the database on a PersistentVolumeClaim so that it survives pod restarts. Off,
    /// it lives in an emptyDir and is lost with the pod: for throwaway installs only.
    pub enabled: bool,
    /// Size of the claim, as a Kubernetes quantity (`1Gi`).
    pub size: String,
    /// StorageClass of the claim; empty uses the cluster's default StorageClass.
    pub storage_class_name: String,
    /// Name of a claim that exists already (prefect-helm's `prefect-server-sqlite`, or one
    /// restored from a backup): the server mounts it and no claim is made, so `size` and
    /// `storageClassName` do not apply. Empty: the plugin makes and keeps its own.
    pub existing_claim: String,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            enabled: true,
            size: "1Gi".to_owned(),
            storage_class_name: String::new(),
            existing_claim: String::new(),
        }
    }
}

/// `server.externalDatabase`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ExternalDatabase {
    /// Connection URL of the PostgreSQL database,
    /// `postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE`; the plugin stores it in a
    /// Secret. Prefer `existingSecret` so that the password stays out of values files, or give
    /// the connection in parts (`host`, `name`, `username`...), which Prefect joins itself.
    #[schemars(extend("writeOnly" = true))]
    pub connection_url: String,
    /// Name of an existing Secret: with `existingSecretKey` alone, the one that holds the
    /// connection URL; with the `...SecretKey` settings of the parts, the one they name keys
    /// of (such as the `<cluster>-app` Secret CloudNativePG makes, with keys `host`, `port`,
    /// `dbname`, `user` and `password`).
    pub existing_secret: String,
    /// The key of `existingSecret` that holds the connection URL.
    pub existing_secret_key: String,

    /// The connection in parts, instead of a URL: Prefect's driver
    /// (`PREFECT_SERVER_DATABASE_DRIVER`).
    pub driver: String,
    /// The key of `existingSecret` that holds the driver, instead of `driver`.
    pub driver_secret_key: String,
    /// The database server's host name (`PREFECT_SERVER_DATABASE_HOST`).
    pub host: String,
    /// The key of `existingSecret` that holds the host, instead of `host`.
    pub host_secret_key: String,
    /// The database server's port (`PREFECT_SERVER_DATABASE_PORT`).
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// The key of `existingSecret` that holds the port, instead of `port`.
    pub port_secret_key: String,
    /// The database's name (`PREFECT_SERVER_DATABASE_NAME`).
    pub name: String,
    /// The key of `existingSecret` that holds the database's name, instead of `name`.
    pub name_secret_key: String,
    /// The user Prefect connects as (`PREFECT_SERVER_DATABASE_USER`).
    pub username: String,
    /// The key of `existingSecret` that holds the user, instead of `username`.
    pub username_secret_key: String,
    /// The user's password; the plugin stores it in a Secret. Prefer `passwordSecretKey`.
    #[schemars(extend("writeOnly" = true))]
    pub password: String,
    /// The key of `existingSecret` that holds the password, instead of `password`.
    pub password_secret_key: String,
}

impl Default for ExternalDatabase {
    fn default() -> Self {
        ExternalDatabase {
            connection_url: String::new(),
            existing_secret: String::new(),
            existing_secret_key: "connection-string".to_owned(),
            driver: "postgresql+asyncpg".to_owned(),
            driver_secret_key: String::new(),
            host: String::new(),
            host_secret_key: String::new(),
            port: 5432,
            port_secret_key: String::new(),
            name: String::new(),
            name_secret_key: String::new(),
            username: String::new(),
            username_secret_key: String::new(),
            password: String::new(),
            password_secret_key: String::new(),
        }
    }
}

impl ExternalDatabase {
    /// Whether the user configured an external database at all.
    pub fn is_set(&self) -> bool {
        !self.connection_url.is_empty() || !self.existing_secret.is_empty() || self.in_parts()
    }

    /// Whether the connection is given in parts rather than as a URL. The driver and the
    /// port have defaults, so they alone do not say so.
    pub fn in_parts(&self) -> bool {
        [
            &self.host,
            &self.host_secret_key,
            &self.name,
            &self.name_secret_key,
            &self.username,
            &self.username_secret_key,
            &self.password,
            &self.password_secret_key,
            &self.port_secret_key,
            &self.driver_secret_key,
        ]
        .iter()
        .any(|part| !part.is_empty())
    }
}

/// `server.service`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Service {
    /// How the Service is exposed: `ClusterIP` (inside the cluster only), `NodePort` or
    /// `LoadBalancer`.
    #[serde(rename = "type")]
    pub type_: ServiceType,
    /// Port of the Service; workers use `http://<release>-server.<namespace>:PORT/api`.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Name of the Service's port, which the Ingress routes to.
    #[schemars(length(min = 1, max = 15))]
    pub port_name: String,
    /// The port the server listens on inside the pod (`PREFECT_SERVER_API_PORT`); the
    /// Service and the probes follow it.
    #[schemars(range(min = 1, max = 65535))]
    pub target_port: i32,
    /// Application protocol of the port (`appProtocol`, such as `http`), for load balancers
    /// and meshes that read it; empty sets none.
    pub app_protocol: String,
    /// Dual-stack policy of the Service: `SingleStack`, `PreferDualStack` or
    /// `RequireDualStack`; null keeps the cluster's default.
    pub ip_family_policy: Option<IpFamilyPolicy>,
    /// IP families of the Service, in order (`[IPv4]`, `[IPv6]`, `[IPv4, IPv6]`); empty keeps
    /// the cluster's default.
    #[schemars(length(max = 2))]
    pub ip_families: Vec<IpFamily>,
    /// Fixed node port for `NodePort` and `LoadBalancer` Services; null lets Kubernetes pick
    /// one.
    #[schemars(range(min = 1, max = 65535))]
    pub node_port: Option<i32>,
    /// Fixed cluster IP of the Service (`None` for a headless Service); empty lets Kubernetes
    /// pick one.
    #[serde(rename = "clusterIP")]
    pub cluster_ip: String,
    /// Whether external traffic goes to pods on any node (`Cluster`) or only on the node it
    /// arrives at, keeping the client's address (`Local`); for `NodePort` and `LoadBalancer`
    /// only. Null keeps Kubernetes' default.
    pub external_traffic_policy: Option<TrafficPolicy>,
    /// Annotations of the Service, for example a cloud load balancer's settings.
    pub annotations: BTreeMap<String, String>,
}

impl Default for Service {
    fn default() -> Self {
        Service {
            type_: ServiceType::ClusterIP,
            port: 4200,
            port_name: "server-svc-port".to_owned(),
            target_port: crate::PORT,
            app_protocol: String::new(),
            ip_family_policy: None,
            ip_families: Vec::new(),
            node_port: None,
            cluster_ip: String::new(),
            external_traffic_policy: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// Kubernetes' dual-stack policies of a Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum IpFamilyPolicy {
    /// One IP family.
    SingleStack,
    /// Both families where the cluster has them, else one.
    PreferDualStack,
    /// Both families, or the Service is refused.
    RequireDualStack,
}

/// An IP family of a Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum IpFamily {
    /// IPv4.
    IPv4,
    /// IPv6.
    IPv6,
}

/// Kubernetes Service types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ServiceType {
    /// Reachable inside the cluster.
    ClusterIP,
    /// Also on a port of every node.
    NodePort,
    /// Also through a cloud load balancer.
    LoadBalancer,
}

impl ServiceType {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

/// Kubernetes external traffic policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum TrafficPolicy {
    /// Any node forwards to any pod.
    Cluster,
    /// Only pods on the receiving node; keeps the client's source address.
    Local,
}

impl TrafficPolicy {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficPolicy::Cluster => "Cluster",
            TrafficPolicy::Local => "Local",
        }
    }
}

/// `server.ingress`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Ingress {
    /// Creates the Ingress (`networking.k8s.io/v1`, Kubernetes 1.19 or later); set
    /// `host.hostname` too.
    pub enabled: bool,
    /// IngressClass that serves the Ingress (`nginx`); empty uses the cluster's default
    /// class.
    pub class_name: String,
    /// The main host and path.
    pub host: IngressHost,
    /// Annotations of the Ingress, for example cert-manager's `cert-manager.io/cluster-issuer`
    /// or your controller's settings.
    pub annotations: BTreeMap<String, String>,
    /// Serves `host.hostname` over TLS with the certificate in the Secret `tlsSecretName`
    /// (which you or cert-manager create, or `selfSigned` makes); the derived UI API URL
    /// becomes `https://`.
    pub tls: bool,
    /// With `tls`, makes the TLS Secret itself: a self-signed certificate of `host.hostname`
    /// (valid 10 years), generated by the first `prefectctl apply` and kept on every upgrade.
    /// Browsers warn about it: for trying things out, or behind a proxy that trusts it.
    /// `render` leaves the Secret out rather than print a private key.
    pub self_signed: bool,
    /// Name of the TLS Secret of `host.hostname`; empty is `<hostname>-tls`.
    pub tls_secret_name: String,
    /// More hosts that route to the server (`{name, path, pathType}`).
    pub extra_hosts: Vec<ExtraHost>,
    /// More paths under `host.hostname`, before the server's own (Kubernetes
    /// `HTTPIngressPath` objects: `{path, pathType, backend}`), for example a redirect your
    /// controller serves.
    pub extra_paths: Vec<Value>,
    /// More rules, after the server's hosts (Kubernetes `IngressRule` objects: `{host,
    /// http: {paths}}`), for other Services behind the same Ingress.
    pub extra_rules: Vec<Value>,
    /// More TLS entries (Kubernetes `IngressTLS` objects: `{hosts, secretName}`), for
    /// example for `extraHosts`.
    pub extra_tls: Vec<Value>,
}

/// `server.ingress.host`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct IngressHost {
    /// The host name users open the UI at (`prefect.example.com`); required when the
    /// Ingress is enabled.
    pub hostname: String,
    /// The path that routes to the server. The server serves at the root, so keep `/` unless
    /// your controller rewrites paths.
    pub path: String,
    /// How `path` matches: `Prefix`, `Exact` or `ImplementationSpecific` (the controller
    /// decides).
    pub path_type: PathType,
}

impl Default for IngressHost {
    fn default() -> Self {
        IngressHost {
            hostname: String::new(),
            path: "/".to_owned(),
            path_type: PathType::ImplementationSpecific,
        }
    }
}

/// `server.ingress.extraHosts[]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ExtraHost {
    /// The host name.
    pub name: String,
    /// The path that routes to the server.
    pub path: String,
    /// How `path` matches.
    pub path_type: PathType,
}

impl Default for ExtraHost {
    fn default() -> Self {
        ExtraHost {
            name: String::new(),
            path: "/".to_owned(),
            path_type: PathType::ImplementationSpecific,
        }
    }
}

/// Kubernetes Ingress path types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum PathType {
    /// The path and everything under it.
    Prefix,
    /// The path only.
    Exact,
    /// As the IngressClass defines.
    ImplementationSpecific,
}

impl PathType {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PathType::Prefix => "Prefix",
            PathType::Exact => "Exact",
            PathType::ImplementationSpecific => "ImplementationSpecific",
        }
    }
}

/// `server.gateway`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Gateway {
    /// Exposes the server through the Gateway API: the HTTPRoute (`httproute`) and, with
    /// `create`, a Gateway. The cluster must serve `gateway.networking.k8s.io/v1` (the Gateway
    /// API's CRDs); `apply` asks it, `render` assumes it with `--api-versions
    /// gateway.networking.k8s.io/v1`. Not together with `ingress.enabled`.
    pub enabled: bool,
    /// Makes the Gateway itself; off, the HTTPRoute attaches to a Gateway that exists
    /// (`httproute.parentRefs[].name`).
    pub create: bool,
    /// GatewayClass that implements the Gateway (`istio`, `envoy`, `nginx`...), one that
    /// exists in the cluster; required with `create`.
    pub class_name: String,
    /// Name of the Gateway; empty is `<release>-server`.
    pub name: String,
    /// Extra labels of the Gateway.
    pub labels: BTreeMap<String, String>,
    /// Annotations of the Gateway, for example external-dns' host name.
    pub annotations: BTreeMap<String, String>,
    /// The Gateway's listeners: by default HTTP on 80 (`http`, which the TLS redirect
    /// route attaches to) and HTTPS on 443 (`https`, which the HTTPRoute attaches to).
    pub listeners: Vec<Listener>,
    /// Infrastructure of the Gateway (Gateway API `GatewayInfrastructure`: `{labels,
    /// annotations, parametersRef}`); empty for none.
    pub infrastructure: Map<String, Value>,
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            enabled: false,
            create: true,
            class_name: String::new(),
            name: String::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            listeners: vec![
                Listener {
                    name: "http".to_owned(),
                    port: 80,
                    protocol: "HTTP".to_owned(),
                    hostname: String::new(),
                    tls: None,
                },
                Listener {
                    name: "https".to_owned(),
                    port: 443,
                    protocol: "HTTPS".to_owned(),
                    hostname: String::new(),
                    tls: Some(ListenerTls {
                        mode: TlsMode::Terminate,
                        certificate_refs: vec![CertificateRef::default()],
                    }),
                },
            ],
            infrastructure: Map::new(),
        }
    }
}

/// `server.gateway.listeners[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Listener {
    /// Name of the listener, unique in the Gateway; routes attach to it by this name
    /// (`sectionName`).
    #[schemars(length(min = 1))]
    pub name: String,
    /// Port the Gateway listens on.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Protocol of the listener: `HTTP`, `HTTPS`, `TLS`, `TCP`, `UDP` or one your Gateway
    /// implementation defines.
    #[schemars(length(min = 1))]
    pub protocol: String,
    /// Host names the listener answers (`*.example.com`); empty for every one.
    pub hostname: String,
    /// TLS of an `HTTPS` or `TLS` listener; ignored for other protocols.
    pub tls: Option<ListenerTls>,
}

/// `server.gateway.listeners[].tls`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ListenerTls {
    /// `Terminate` (the Gateway decrypts, with the certificates of `certificateRefs`) or
    /// `Passthrough` (the backend does).
    pub mode: TlsMode,
    /// The Secrets that hold the certificate and key (`tls.crt`, `tls.key`).
    pub certificate_refs: Vec<CertificateRef>,
}

impl Default for ListenerTls {
    fn default() -> Self {
        ListenerTls { mode: TlsMode::Terminate, certificate_refs: Vec::new() }
    }
}

/// Gateway API TLS modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum TlsMode {
    /// The Gateway ends TLS.
    Terminate,
    /// The Gateway passes the encrypted stream on.
    Passthrough,
}

/// `server.gateway.listeners[].tls.certificateRefs[]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CertificateRef {
    /// Kind of the object that holds the certificate.
    pub kind: String,
    /// Its name; empty is `<first httproute host name>-tls`, or `<release>-server-tls`
    /// without host names.
    pub name: String,
    /// Its namespace; empty is the release's (another namespace needs a ReferenceGrant there).
    pub namespace: String,
}

impl Default for CertificateRef {
    fn default() -> Self {
        CertificateRef { kind: "Secret".to_owned(), name: String::new(), namespace: String::new() }
    }
}

/// `server.httproute`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpRoute {
    /// Makes the HTTPRoute while `gateway.enabled` is on; turn it off to write your own.
    pub enabled: bool,
    /// Name of the HTTPRoute; empty is `<release>-server`. The TLS redirect route is
    /// `<name>-tls-redirect`.
    pub name: String,
    /// Extra labels of the HTTPRoutes.
    pub labels: BTreeMap<String, String>,
    /// Annotations of the HTTPRoutes.
    pub annotations: BTreeMap<String, String>,
    /// Host names the route matches (`prefect.example.com`); empty matches every host of
    /// the listener. The first names the default certificate Secret and, unless
    /// `uiConfig.prefectUiApiUrl` is set, the UI's API URL.
    pub hostnames: Vec<String>,
    /// The path prefix that routes to the server.
    pub path: String,
    /// The Gateways (and listeners) the route attaches to.
    pub parent_refs: Vec<ParentRef>,
    /// More rules, after the server's (Gateway API `HTTPRouteRule` objects: `{matches,
    /// filters, backendRefs}`).
    pub extra_rules: Vec<Value>,
    /// Redirects plain HTTP to HTTPS.
    pub tls: RouteTls,
}

impl Default for HttpRoute {
    fn default() -> Self {
        HttpRoute {
            enabled: true,
            name: String::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            hostnames: Vec::new(),
            path: "/".to_owned(),
            parent_refs: vec![ParentRef {
                section_name: "https".to_owned(),
                ..ParentRef::default()
            }],
            extra_rules: Vec::new(),
            tls: RouteTls::default(),
        }
    }
}

/// `server.httproute.parentRefs[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ParentRef {
    /// Name of the Gateway; empty is this release's (`gateway.name`). Required without
    /// `gateway.create`.
    pub name: String,
    /// Namespace of the Gateway; empty is the release's.
    pub namespace: String,
    /// The Gateway's listener to attach to; empty for every listener that accepts the route.
    pub section_name: String,
    /// The Gateway's port to attach to; null for any.
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// `server.httproute.tls`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RouteTls {
    /// Adds the HTTPRoute `<name>-tls-redirect`, attached to the first parent's `http`
    /// listener, which answers every plain HTTP request with a permanent redirect (301) to
    /// HTTPS.
    pub redirect: bool,
    /// The HTTPS port the redirect points to.
    #[schemars(range(min = 1, max = 65535))]
    pub redirect_port: i32,
}

impl Default for RouteTls {
    fn default() -> Self {
        RouteTls { redirect: false, redirect_port: 443 }
    }
}
