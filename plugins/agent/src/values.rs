//! The `agent:` values. Names follow the prefect-worker Helm chart (`worker.*` there): what the
//! chart keeps at its top level (`serviceAccount`, `role`, `rolebinding`) lives under
//! `agent:` here too.

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

/// The Prefect worker that runs flows as Kubernetes Jobs (or Prefect 2's legacy agent).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(deny_unknown_fields)]
pub struct Values {
    /// `worker` runs `prefect worker start` (Prefect 3, and Prefect 2 from 2.10); `agent` runs
    /// Prefect 2's `prefect agent start`, which Prefect 3 removed: for releases that still
    /// use agents, with a Prefect 2 image (`image.prefectTag`). A Prefect 2 agent cannot use
    /// the server plugin of this stack, which runs Prefect 3 only: agent mode needs a Prefect 2
    /// server elsewhere (`serverApiConfig.apiUrl`, with `--without server`) or Prefect Cloud.
    pub mode: Mode,

    /// Which Prefect API the worker talks to. `server`: the server plugin of this stack (with
    /// no configuration), or the one at `serverApiConfig.apiUrl`. `cloud`: Prefect Cloud, with
    /// `cloudApiConfig`. `customerManagedCloud`: a Prefect Cloud you run yourself, with
    /// `customerManagedCloudApiConfig`.
    pub api_config: ApiConfig,

    /// A self-hosted Prefect server outside this stack.
    pub server_api_config: ServerApiConfig,

    /// Prefect Cloud.
    pub cloud_api_config: CloudApiConfig,

    /// A customer-managed Prefect Cloud (`apiConfig: customerManagedCloud`).
    pub customer_managed_cloud_api_config: CustomerManagedCloudApiConfig,

    /// What the worker polls and how.
    pub config: WorkerConfig,

    /// The cluster's identity for Prefect (`PREFECT_KUBERNETES_CLUSTER_UID`), which tells
    /// workers of different clusters apart when they share a Prefect API. Empty uses
    /// `<namespace>/<release>`; set it to your kube-system Namespace's UID
    /// (`kubectl get namespace kube-system -o jsonpath={.metadata.uid}`) when several clusters
    /// share a Prefect API with the same release and namespace. It is always set, so the worker
    /// never needs to read the kube-system Namespace.
    pub cluster_uid: String,

    /// Overrides `global.prefect.image` for the worker. An empty tag is
    /// `<global.prefect.image.prefectTag>-kubernetes` (the image with the Kubernetes worker
    /// installed) for `config.type: kubernetes`, else the global tag. Agent mode needs a
    /// Prefect 2 tag here. Wired to the server plugin of this stack (Prefect 3 only), a tag
    /// that says Prefect 2 (`2`, `2.*`, `2-*`) is refused: Prefect 2 clients cannot use a
    /// Prefect 3 server.
    pub image: ImageValues,

    /// Number of worker pods; several share the work pool's runs.
    #[schemars(range(min = 0))]
    pub replica_count: i32,

    /// Extra environment variables of the worker container, as Kubernetes `EnvVar` objects.
    /// A variable the plugin sets is replaced by yours.
    pub extra_env_vars: Vec<Value>,

    /// Extra arguments appended to the start command (not to `args`, which replace it).
    pub extra_args: Vec<String>,

    /// The worker container's command; empty runs the image's entrypoint
    /// (`/usr/bin/tini -g -- /opt/prefect/entrypoint.sh`).
    pub command: Vec<String>,

    /// The worker container's arguments; empty runs `prefect worker start` with the flags
    /// `config` decides, and `extraArgs`. Given, they replace all of that: the pool, queues,
    /// base job template (`--base-job-template`) and health check (`--with-healthcheck`, which
    /// the probes need) are then yours to pass.
    pub args: Vec<String>,

    /// Runs the worker in Prefect's debug mode (`PREFECT_DEBUG_MODE`): more logging. prefect-helm
    /// has it at `worker.image.debug`.
    pub debug: bool,

    /// How many old ReplicaSets of the worker Deployment are kept for rollbacks; null keeps
    /// Kubernetes' default (10).
    #[schemars(range(min = 0))]
    pub revision_history_limit: Option<i32>,

    /// The worker pods' DNS policy: `ClusterFirst`, `ClusterFirstWithHostNet`, `Default` or
    /// `None` (then `dnsConfig.nameservers` is needed); empty keeps Kubernetes' default
    /// (`ClusterFirst`).
    #[schemars(extend("enum" = ["", "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]))]
    pub dns_policy: String,

    /// DNS settings of the worker pods, added to those the DNS policy gives.
    pub dns_config: DnsConfig,

    /// The init containers of the worker pod.
    pub init_container: InitContainer,

    /// Names of existing ConfigMaps whose keys all become environment variables of the worker
    /// container, after `extraEnvVarsCM` (a later one wins a key they share).
    #[serde(rename = "extraEnvVarsCMs")]
    pub extra_env_vars_cms: Vec<String>,

    /// Names of existing Secrets whose keys all become environment variables of the worker
    /// container, after `extraEnvVarsSecret` (a later one wins a key they share).
    pub extra_env_vars_secrets: Vec<String>,

    /// Restarts the worker when its health check (`--with-healthcheck`, `GET /health` on
    /// port 8080) keeps failing: the worker answers 503 once it has not polled its pool for
    /// a while. Left out in agent mode, since Prefect 2's agent has no health check.
    pub liveness_probe: ProbeValues,

    /// Marks the worker pod ready once its health check answers (the same `GET /health`), so
    /// that `apply --wait` and rollouts wait for a worker that polls. Left out in agent mode.
    pub readiness_probe: ProbeValues,

    /// A HorizontalPodAutoscaler for the worker Deployment (`autoscaling/v2`, or `v2beta2` on
    /// clusters before 1.23, or `v1`, CPU only, on older ones); `replicaCount` is then left to
    /// it.
    pub autoscaling: Autoscaling,

    /// A PodDisruptionBudget for the worker pods (`policy/v1`, or `v1beta1` on clusters
    /// before 1.21).
    pub pod_disruption_budget: DisruptionBudgetValues,

    /// Extra labels of the Deployment itself.
    pub deployment_labels: BTreeMap<String, String>,

    /// Extra annotations of the Deployment itself.
    pub deployment_annotations: BTreeMap<String, String>,

    /// The worker pods: resources, security contexts, scheduling, extra volumes and
    /// containers.
    #[serde(flatten)]
    pub pod: PodValues,

    /// The ServiceAccount the worker runs as; it mounts the API token, which the worker needs
    /// to create flow-run Jobs.
    pub service_account: ServiceAccountValues,

    /// The Role the ServiceAccount gets in the release namespace (and in each of
    /// `config.jobNamespace`).
    pub role: Role,

    /// The RoleBinding of the Role to the ServiceAccount.
    pub rolebinding: RoleBinding,
}

impl Default for Values {
    fn default() -> Self {
        Values {
            mode: Mode::Worker,
            api_config: ApiConfig::Server,
            server_api_config: ServerApiConfig::default(),
            cloud_api_config: CloudApiConfig::default(),
            customer_managed_cloud_api_config: CustomerManagedCloudApiConfig::default(),
            config: WorkerConfig::default(),
            cluster_uid: String::new(),
            image: ImageValues::default(),
            replica_count: 1,
            extra_env_vars: Vec::new(),
            extra_args: Vec::new(),
            command: Vec::new(),
            args: Vec::new(),
            debug: false,
            revision_history_limit: None,
            dns_policy: String::new(),
            dns_config: DnsConfig::default(),
            init_container: InitContainer::default(),
            extra_env_vars_cms: Vec::new(),
            extra_env_vars_secrets: Vec::new(),
            liveness_probe: ProbeValues::new(true, 10),
            readiness_probe: ProbeValues::new(true, 10),
            autoscaling: Autoscaling::default(),
            pod_disruption_budget: DisruptionBudgetValues::default(),
            deployment_labels: BTreeMap::new(),
            deployment_annotations: BTreeMap::new(),
            pod: PodValues::restricted(
                PREFECT_UID,
                json!({
                    "requests": { "cpu": "100m", "memory": "256Mi" },
                    "limits": { "cpu": "1", "memory": "1Gi" },
                }),
            ),
            service_account: ServiceAccountValues::default(),
            role: Role::default(),
            rolebinding: RoleBinding::default(),
        }
    }
}

/// `agent.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// `prefect worker start`.
    Worker,
    /// `prefect agent start` (Prefect 2 only).
    Agent,
}

/// `agent.apiConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ApiConfig {
    /// A Prefect server: this stack's, or `serverApiConfig.apiUrl`.
    Server,
    /// Prefect Cloud.
    Cloud,
    /// A customer-managed Prefect Cloud.
    CustomerManagedCloud,
}

/// `agent.serverApiConfig`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ServerApiConfig {
    /// The server's API URL (`https://prefect.example.com/api`); empty uses the server plugin
    /// of this stack.
    pub api_url: String,
    /// Basic authentication of that server. For the server plugin of this stack, its own
    /// `server.basicAuth` is used without configuration. The flow-run Jobs of a Kubernetes
    /// worker read the credentials from the same Secret (a `secretKeyRef`, never a copy), so
    /// it must exist where they run (the release namespace, or each of `config.jobNamespace`).
    pub basic_auth: BasicAuth,
}

/// `agent.serverApiConfig.basicAuth`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct BasicAuth {
    /// Sends `USER:PASSWORD` with every request (`PREFECT_API_AUTH_STRING`).
    pub enabled: bool,
    /// The credentials as `USER:PASSWORD`; the plugin stores them in a Secret. Prefer
    /// `existingSecret`.
    #[schemars(extend("writeOnly" = true))]
    pub auth_string: String,
    /// Name of an existing Secret holding the credentials under the key `auth-string`.
    pub existing_secret: String,
}

/// `agent.cloudApiConfig`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CloudApiConfig {
    /// Your Prefect Cloud account ID (in the browser's URL:
    /// `app.prefect.cloud/account/<accountId>/workspaces/<workspaceId>`).
    pub account_id: String,
    /// Your Prefect Cloud workspace ID.
    pub workspace_id: String,
    /// The existing Secret that holds your Prefect Cloud API key
    /// (`kubectl create secret generic prefect-api-key --from-literal=key=pnu_...`). The
    /// flow-run Jobs of a Kubernetes worker read the key from it too (a `secretKeyRef`, never a
    /// copy), so it must exist where they run (the release namespace, or each of
    /// `config.jobNamespace`), unless `jobApiKeyPropagation` says otherwise.
    pub api_key_secret: SecretKeyRef,
    /// Prefect Cloud's API; the worker uses `<cloudUrl>/accounts/<accountId>/workspaces/<workspaceId>`.
    pub cloud_url: String,
    /// How flow-run Jobs of a Kubernetes worker get the API key. `secretRef`: they read it
    /// from `apiKeySecret`, as the worker does (so they must run where that Secret is).
    /// `autoSecret`: the worker copies the key into a Secret of its own in the flow run's
    /// namespace and the Job reads it from there (the worker's Role may then manage Secrets).
    /// `envVar` (prefect-helm's, where the worker writes the key into each Job's spec in
    /// plain text) is refused: prefectctl keeps credentials out of Jobs.
    pub job_api_key_propagation: JobApiKeyPropagation,
}

impl Default for CloudApiConfig {
    fn default() -> Self {
        CloudApiConfig {
            account_id: String::new(),
            workspace_id: String::new(),
            api_key_secret: SecretKeyRef {
                name: "prefect-api-key".to_owned(),
                key: "key".to_owned(),
            },
            cloud_url: "https://api.prefect.cloud/api".to_owned(),
            job_api_key_propagation: JobApiKeyPropagation::SecretRef,
        }
    }
}

/// `agent.customerManagedCloudApiConfig`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CustomerManagedCloudApiConfig {
    /// Your Prefect Cloud's API (`https://prefect.example.com/api`); the worker uses
    /// `<apiUrl>/accounts/<accountId>/workspaces/<workspaceId>`.
    pub api_url: String,
    /// Your account ID.
    pub account_id: String,
    /// Your workspace ID.
    pub workspace_id: String,
    /// The existing Secret that holds your API key, as for `cloudApiConfig.apiKeySecret`.
    pub api_key_secret: SecretKeyRef,
    /// How flow-run Jobs get the API key, as for `cloudApiConfig.jobApiKeyPropagation`.
    pub job_api_key_propagation: JobApiKeyPropagation,
    /// The Cloud API Prefect recognises as Cloud (`PREFECT_CLOUD_API_URL`), for events and
    /// logs over websockets; empty is `apiUrl`.
    pub cloud_api_url: String,
    /// Your Cloud's UI (`PREFECT_CLOUD_UI_URL`), for the links in logs and the CLI; empty lets
    /// Prefect derive it from the API's URL.
    pub cloud_ui_url: String,
}

impl Default for CustomerManagedCloudApiConfig {
    fn default() -> Self {
        let cloud = CloudApiConfig::default();
        CustomerManagedCloudApiConfig {
            api_url: String::new(),
            account_id: String::new(),
            workspace_id: String::new(),
            api_key_secret: cloud.api_key_secret,
            job_api_key_propagation: JobApiKeyPropagation::SecretRef,
            cloud_api_url: String::new(),
            cloud_ui_url: String::new(),
        }
    }
}

/// `agent.cloudApiConfig.jobApiKeyPropagation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum JobApiKeyPropagation {
    /// Jobs read the key from `apiKeySecret`.
    #[default]
    SecretRef,
    /// The worker makes a Secret for each flow run's namespace.
    AutoSecret,
    /// The key in plain text in each Job's spec.
    EnvVar,
}

/// A key of an existing Secret.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: String,
    /// The key.
    pub key: String,
}

/// `agent.config`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// The work pool the worker polls; the worker creates it if it does not exist. Flow runs
    /// are created in the namespace the pool's base job template names, and the worker's Roles
    /// cover the release namespace and `jobNamespace` only: a pool the worker creates without
    /// `baseJobTemplate` gets Prefect's default template with the release namespace (or the
    /// first of `jobNamespace`) as its namespace (Prefect's own default is `default`); a pool that exists keeps its template (`prefectctl doctor`
    /// says when its namespace is out of the Role's reach). Agent mode polls queues only and
    /// ignores it.
    pub work_pool: String,
    /// Work queues to pull from; empty pulls from every queue of the pool. In agent mode at
    /// least one is needed; empty is `default`.
    pub work_queues: Vec<String>,
    /// Connects to the API over HTTP/2 when the server offers it (`PREFECT_API_ENABLE_HTTP2`);
    /// null keeps Prefect's default (off). prefect-helm turns it on.
    pub http2: Option<bool>,
    /// Seconds between polls of the API.
    #[schemars(range(min = 1))]
    pub query_interval: u32,
    /// How many seconds ahead of their start scheduled runs are submitted.
    pub prefetch_seconds: u32,
    /// The worker type (`--type`); `kubernetes` submits each flow run as a Job.
    #[serde(rename = "type")]
    pub type_: String,
    /// Whether the worker may install the Prefect integration its type needs at start
    /// (`--install-policy`): `always`, `if-not-present`, `never` or `prompt`. The default
    /// image already has it.
    pub install_policy: InstallPolicy,
    /// The worker's name; empty lets Prefect generate one.
    pub name: String,
    /// Most flow runs the worker runs at once; null for no limit.
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
    /// The namespaces flow runs go to, comma-separated (`flows` or `team-a,team-b`); empty is
    /// the release namespace. Each gets a Role and RoleBinding `<release>-worker` (the rules of
    /// `role`) for the worker's ServiceAccount, besides the one in the release namespace; the
    /// worker's observer watches them (`PREFECT_INTEGRATIONS_KUBERNETES_OBSERVER_NAMESPACES`);
    /// a pool the worker creates without `baseJobTemplate` runs flows in the first. The
    /// namespaces must exist (`kubectl create namespace`). Flow-run Jobs read their
    /// credentials from Secrets of their own namespace: create the worker's Secrets there too
    /// (the plugin warns which), or use Cloud's `autoSecret`.
    pub job_namespace: String,
    /// Lets the worker's observer watch flow-run pods and Jobs in every namespace (no
    /// `PREFECT_INTEGRATIONS_KUBERNETES_OBSERVER_NAMESPACES`), through a ClusterRole that reads
    /// pods, their logs and status, Jobs and events cluster-wide, and its ClusterRoleBinding
    /// (`<namespace>-<release>-worker-observer`, made with `role.create` and
    /// `rolebinding.create`). Flow runs are still created only where a Role allows it.
    pub observer_cluster_wide: bool,
    /// The base job template of the pool. The worker creates a missing pool with it
    /// (`--base-job-template`); for a pool that exists, an init container of the worker pod
    /// (`sync-base-job-template`) replaces the pool's template with it before the worker
    /// starts. A change of an inline template restarts the worker pods; after a change of an
    /// existing ConfigMap, restart them yourself (`kubectl rollout restart`).
    pub base_job_template: BaseJobTemplate,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            work_pool: "kubernetes".to_owned(),
            work_queues: Vec::new(),
            http2: None,
            query_interval: 5,
            prefetch_seconds: 10,
            type_: "kubernetes".to_owned(),
            install_policy: InstallPolicy::IfNotPresent,
            name: String::new(),
            limit: None,
            job_namespace: String::new(),
            observer_cluster_wide: false,
            base_job_template: BaseJobTemplate::default(),
        }
    }
}

/// `agent.config.installPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InstallPolicy {
    /// Always install.
    Always,
    /// Install when missing.
    IfNotPresent,
    /// Never install.
    Never,
    /// Ask (there is no one to ask in a pod: like `never`).
    Prompt,
}

impl InstallPolicy {
    /// The CLI's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InstallPolicy::Always => "always",
            InstallPolicy::IfNotPresent => "if-not-present",
            InstallPolicy::Never => "never",
            InstallPolicy::Prompt => "prompt",
        }
    }
}

/// `agent.config.baseJobTemplate`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct BaseJobTemplate {
    /// The template itself (`job_configuration` and `variables`, as
    /// `prefect work-pool get-default-base-job-template --type kubernetes` prints it), or its
    /// JSON text (`--set-file agent.config.baseJobTemplate.configuration=template.json`); the
    /// plugin puts it in a ConfigMap. An empty one (`{}`, or empty text) is no template, as for
    /// Prefect.
    pub configuration: Option<Value>,
    /// The name of the ConfigMap made for `configuration`; empty is
    /// `<release>-worker-base-job-template`.
    pub name: String,
    /// Name of an existing ConfigMap that holds the template under the key
    /// `baseJobTemplate.json`.
    pub existing_config_map_name: String,
}

/// `agent.autoscaling`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Autoscaling {
    /// Creates the HorizontalPodAutoscaler.
    pub enabled: bool,
    /// Fewest worker pods.
    #[schemars(range(min = 1))]
    pub min_replicas: i32,
    /// Most worker pods.
    #[schemars(range(min = 1))]
    pub max_replicas: i32,
    /// Average CPU use, in percent of the request, the autoscaler aims at; null for none.
    #[serde(rename = "targetCPUUtilizationPercentage")]
    #[schemars(range(min = 1))]
    pub target_cpu_utilization_percentage: Option<i32>,
    /// Average memory use, in percent of the request, the autoscaler aims at; null for none.
    #[schemars(range(min = 1))]
    pub target_memory_utilization_percentage: Option<i32>,
}

/// `agent.dnsConfig` (Kubernetes `PodDNSConfig`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct DnsConfig {
    /// IP addresses of DNS servers (at most 3).
    #[schemars(length(max = 3))]
    pub nameservers: Vec<String>,
    /// DNS search domains for host-name lookup.
    pub searches: Vec<String>,
    /// Resolver options, such as `{name: ndots, value: "2"}`.
    pub options: Vec<DnsOption>,
}

/// A resolver option of `agent.dnsConfig.options`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct DnsOption {
    /// The option's name.
    pub name: String,
    /// Its value, if it takes one.
    pub value: Option<String>,
}

/// `agent.initContainer`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct InitContainer {
    /// CPU and memory of the plugin's init container (Kubernetes `ResourceRequirements`);
    /// empty gives it the worker's `resources`.
    pub resources: Map<String, Value>,
    /// Security context of the plugin's init container (Kubernetes `SecurityContext`); empty
    /// gives it the worker's `containerSecurityContext`.
    pub container_security_context: Map<String, Value>,
    /// Extra environment variables of the plugin's init container, as Kubernetes `EnvVar`
    /// objects, over the worker's environment, which it gets too.
    pub extra_env_vars: Vec<Value>,
    /// More init containers of the worker pod (Kubernetes `Container` objects), run after the
    /// plugin's own (which brings the pool's base job template up to date), as prefect-helm
    /// runs them; `extraInitContainers` run before it (a native sidecar the sync needs, such as
    /// a proxy, goes there). They do not get the worker's security context: set their own.
    pub extra_containers: Vec<Value>,
}

impl Default for Autoscaling {
    fn default() -> Self {
        Autoscaling {
            enabled: false,
            min_replicas: 1,
            max_replicas: 3,
            target_cpu_utilization_percentage: Some(80),
            target_memory_utilization_percentage: None,
        }
    }
}

/// `agent.role`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Role {
    /// Creates the Role (namespaced: in the release namespace and each of
    /// `config.jobNamespace`): read pods, their logs and status, and events; manage Jobs.
    pub create: bool,
    /// More rules appended to the Role as given (Kubernetes `PolicyRule` objects:
    /// `{apiGroups, resources, verbs}`).
    pub extra_permissions: Vec<Value>,
}

impl Default for Role {
    fn default() -> Self {
        Role { create: true, extra_permissions: Vec::new() }
    }
}

/// `agent.rolebinding`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RoleBinding {
    /// Binds the Role to the worker's ServiceAccount.
    pub create: bool,
}

impl Default for RoleBinding {
    fn default() -> Self {
        RoleBinding { create: true }
    }
}
