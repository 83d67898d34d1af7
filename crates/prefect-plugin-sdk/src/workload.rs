//! Pods built the same way by every plugin: the values users set on any component's pods
//! ([`PodValues`], [`ProbeValues`], [`ImageValues`], [`ServiceAccountValues`]) and what turns
//! them into Kubernetes objects; [`scaling`]: a component's HorizontalPodAutoscaler and
//! PodDisruptionBudget; [`stateful`]: a component run as a StatefulSet of one pod with its data
//! on a claim, and its two Services.
//!
//! A plugin flattens [`PodValues`] into its values, so users find `nodeSelector`, `resources`,
//! `podSecurityContext`... at the same place in every section:
//!
//! ```
//! use prefect_plugin_sdk::{schemars::{self, JsonSchema}, workload::PodValues};
//! use serde::{Deserialize, Serialize};
//!
//! /// Values of the `exporter` plugin.
//! #[derive(Deserialize, Serialize, JsonSchema)]
//! #[serde(rename_all = "camelCase", default)]
//! #[schemars(deny_unknown_fields)]
//! pub struct Values {
//!     /// Number of exporter pods.
//!     pub replica_count: i32,
//!     #[serde(flatten)]
//!     pub pod: PodValues,
//! }
//! # impl Default for Values {
//! #     fn default() -> Self { Values { replica_count: 1, pod: PodValues::default() } }
//! # }
//! ```
//!
//! (`deny_unknown_fields` goes in `schemars(...)` there: serde does not support it beside
//! `flatten`, and the host validates against the schema before the plugin runs.)

pub mod scaling;
pub mod stateful;

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{
        Affinity, ConfigMapEnvSource, Container, EmptyDirVolumeSource, EnvFromSource, EnvVar,
        EnvVarSource, LocalObjectReference, PersistentVolumeClaimSpec, PodSecurityContext, PodSpec,
        PodTemplateSpec, Probe, ResourceRequirements, SecretEnvSource, SecretKeySelector,
        SecurityContext, ServiceAccount, Toleration, TopologySpreadConstraint, Volume, VolumeMount,
        VolumeResourceRequirements,
    },
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::ObjectMeta},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    Context,
    security::{PREFECT_UID, restricted_container, restricted_pod},
    wire::PullPolicy,
};

/// What users may set on a component's pods and main container.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct PodValues {
    /// CPU and memory requests and limits of the main container (Kubernetes
    /// `ResourceRequirements`). Set a key to null to remove it, for example `limits: null`.
    pub resources: Map<String, Value>,

    /// Security context of the pods (Kubernetes `PodSecurityContext`). The default is the
    /// restricted profile: a non-root user, a group that owns the volumes, RuntimeDefault
    /// seccomp. Override any field, or set one to null to remove it (for example `runAsUser`
    /// and `fsGroup` on OpenShift, which assigns them; or use the openshift-security plugin).
    pub pod_security_context: Map<String, Value>,

    /// Security context of the main container (Kubernetes `SecurityContext`). The default is
    /// the restricted profile: non-root, read-only root filesystem, no privilege escalation,
    /// all capabilities dropped, RuntimeDefault seccomp. Override any field, or set one to
    /// null to remove it.
    pub container_security_context: Map<String, Value>,

    /// PriorityClass of the pods; empty uses the cluster's default priority.
    pub priority_class_name: String,

    /// Node labels the pods must run on (`kubernetes.io/os: linux`).
    pub node_selector: BTreeMap<String, String>,

    /// Taints the pods tolerate (Kubernetes `Toleration` objects).
    pub tolerations: Vec<Value>,

    /// Affinity and anti-affinity rules of the pods (Kubernetes `Affinity`).
    pub affinity: Map<String, Value>,

    /// How the pods spread across zones or nodes (Kubernetes `TopologySpreadConstraint`
    /// objects). A constraint without `labelSelector` selects this component's own pods.
    pub topology_spread_constraints: Vec<Value>,

    /// Extra labels of the pods. They cannot change the selector labels
    /// `app.kubernetes.io/name` and `app.kubernetes.io/instance`.
    pub pod_labels: BTreeMap<String, String>,

    /// Extra annotations of the pods (for example for a service mesh or metrics scraping).
    pub pod_annotations: BTreeMap<String, String>,

    /// Name of an existing ConfigMap whose keys all become environment variables of the main
    /// container.
    #[serde(rename = "extraEnvVarsCM")]
    pub extra_env_vars_cm: String,

    /// Name of an existing Secret whose keys all become environment variables of the main
    /// container.
    pub extra_env_vars_secret: String,

    /// Extra volumes of the pods (Kubernetes `Volume` objects), mounted with
    /// `extraVolumeMounts`; for example a CA bundle.
    pub extra_volumes: Vec<Value>,

    /// Extra volume mounts of the main container (Kubernetes `VolumeMount` objects).
    pub extra_volume_mounts: Vec<Value>,

    /// Extra containers of the pods, such as sidecars (Kubernetes `Container` objects). They
    /// do not get the main container's security context: set their own.
    pub extra_containers: Vec<Value>,

    /// Init containers of the pods (Kubernetes `Container` objects), run before the main
    /// container. One with `restartPolicy: Always` is a native sidecar (Kubernetes 1.29+):
    /// started first and stopped last, as a connection proxy must be. They do not get the
    /// main container's security context: set their own.
    pub extra_init_containers: Vec<Value>,
}

impl Default for PodValues {
    fn default() -> Self {
        PodValues::restricted(PREFECT_UID, json!({}))
    }
}

impl PodValues {
    /// The defaults for pods that run as user and group `uid` under the restricted security
    /// profile, with `resources` (a Kubernetes `ResourceRequirements` as JSON).
    pub fn restricted(uid: i64, resources: Value) -> PodValues {
        PodValues {
            resources: object(resources),
            pod_security_context: restricted_pod(uid),
            container_security_context: restricted_container(uid),
            priority_class_name: String::new(),
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            affinity: Map::new(),
            topology_spread_constraints: Vec::new(),
            pod_labels: BTreeMap::new(),
            pod_annotations: BTreeMap::new(),
            extra_env_vars_cm: String::new(),
            extra_env_vars_secret: String::new(),
            extra_volumes: Vec::new(),
            extra_volume_mounts: Vec::new(),
            extra_containers: Vec::new(),
            extra_init_containers: Vec::new(),
        }
    }

    /// The pod template of `component`: `main` (with its name, image, command, env, ports,
    /// probes and mounts already set) gets the container security context, the resources, the
    /// extra mounts and `envFrom`; the pod gets `volumes` and the extra ones, the extra
    /// containers, the labels (standard and `podLabels`), the annotations, the pod security
    /// context, the scheduling fields and `global.prefect.image.pullSecrets`.
    ///
    /// Every problem is reported to `ctx`, with its value path (inside [`Context::within`] for
    /// pod values that are not at the top of the plugin's section).
    pub fn template(
        &self,
        ctx: &Context,
        component: &str,
        mut main: Container,
        mut volumes: Vec<Volume>,
    ) -> PodTemplateSpec {
        let selector = ctx.selector_labels(component);
        let mut labels = ctx.labels(component);
        for (key, value) in &self.pod_labels {
            if selector.get(key).is_some_and(|fixed| fixed != value) {
                ctx.error(
                    "podLabels",
                    format!("`{key}` selects the pods and cannot change: remove it from podLabels"),
                );
                continue;
            }
            labels.insert(key.clone(), value.clone());
        }

        main.security_context = ctx
            .map::<SecurityContext>(&self.container_security_context, "containerSecurityContext")
            .filter(|context| *context != SecurityContext::default());
        if !self.resources.is_empty() {
            main.resources =
                ctx.map::<ResourceRequirements>(&quantities(&self.resources), "resources");
        }
        let extra_mounts: Vec<VolumeMount> =
            ctx.list(&self.extra_volume_mounts, "extraVolumeMounts");
        if !extra_mounts.is_empty() {
            main.volume_mounts.get_or_insert_with(Vec::new).extend(extra_mounts);
        }
        let env_from = self.env_from();
        if !env_from.is_empty() {
            main.env_from.get_or_insert_with(Vec::new).extend(env_from);
        }

        let mut containers = vec![main];
        containers.extend(ctx.list::<Container>(&self.extra_containers, "extraContainers"));
        let init_containers =
            ctx.list::<Container>(&self.extra_init_containers, "extraInitContainers");
        volumes.extend(ctx.list::<Volume>(&self.extra_volumes, "extraVolumes"));
        let pull_secrets: Vec<LocalObjectReference> = ctx
            .global()
            .prefect
            .image
            .pull_secrets
            .iter()
            .map(|name| LocalObjectReference { name: name.clone() })
            .collect();

        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels),
                annotations: (!self.pod_annotations.is_empty())
                    .then(|| self.pod_annotations.clone()),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                containers,
                init_containers: non_empty(init_containers),
                volumes: non_empty(volumes),
                image_pull_secrets: non_empty(pull_secrets),
                security_context: ctx
                    .map::<PodSecurityContext>(&self.pod_security_context, "podSecurityContext")
                    .filter(|context| *context != PodSecurityContext::default()),
                priority_class_name: (!self.priority_class_name.is_empty())
                    .then(|| self.priority_class_name.clone()),
                node_selector: (!self.node_selector.is_empty()).then(|| self.node_selector.clone()),
                tolerations: non_empty(ctx.list::<Toleration>(&self.tolerations, "tolerations")),
                affinity: (!self.affinity.is_empty())
                    .then(|| ctx.map::<Affinity>(&self.affinity, "affinity"))
                    .flatten(),
                topology_spread_constraints: non_empty(self.topology_spread(ctx, component)),
                ..PodSpec::default()
            }),
        }
    }

    /// `extraEnvVarsCM` and `extraEnvVarsSecret` as `envFrom` sources.
    fn env_from(&self) -> Vec<EnvFromSource> {
        let mut from = Vec::new();
        if !self.extra_env_vars_cm.is_empty() {
            from.push(EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: self.extra_env_vars_cm.clone(),
                    optional: None,
                }),
                ..EnvFromSource::default()
            });
        }
        if !self.extra_env_vars_secret.is_empty() {
            from.push(EnvFromSource {
                secret_ref: Some(SecretEnvSource {
                    name: self.extra_env_vars_secret.clone(),
                    optional: None,
                }),
                ..EnvFromSource::default()
            });
        }
        from
    }

    /// The user's constraints, each selecting the component's pods unless it says otherwise.
    fn topology_spread(&self, ctx: &Context, component: &str) -> Vec<TopologySpreadConstraint> {
        let selector = json!({ "matchLabels": ctx.selector_labels(component) });
        let constraints: Vec<Value> = self
            .topology_spread_constraints
            .iter()
            .map(|constraint| {
                let mut constraint = constraint.clone();
                if let Some(object) = constraint.as_object_mut()
                    && !object.contains_key("labelSelector")
                {
                    object.insert("labelSelector".to_owned(), selector.clone());
                }
                constraint
            })
            .collect();
        ctx.list(&constraints, "topologySpreadConstraints")
    }
}

/// A probe a user can turn off and time (`livenessProbe`, `readinessProbe`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ProbeValues {
    /// Adds the probe.
    pub enabled: bool,
    /// Timing of the probe (Kubernetes `Probe` fields: `initialDelaySeconds`,
    /// `periodSeconds`, `timeoutSeconds`, `failureThreshold`, `successThreshold`). Lengthen
    /// them when the component is slow to start.
    pub config: Map<String, Value>,
}

impl Default for ProbeValues {
    fn default() -> Self {
        ProbeValues::new(true, 10)
    }
}

impl ProbeValues {
    /// A probe, on or off, that waits `initial_delay_seconds` and then checks every 10 s,
    /// failing after 3 misses of 5 s.
    pub fn new(enabled: bool, initial_delay_seconds: i32) -> ProbeValues {
        ProbeValues {
            enabled,
            config: object(json!({
                "initialDelaySeconds": initial_delay_seconds,
                "periodSeconds": 10,
                "timeoutSeconds": 5,
                "failureThreshold": 3,
                "successThreshold": 1,
            })),
        }
    }

    /// The same probe, given up on after `failures` misses in a row.
    pub fn failure_threshold(mut self, failures: i32) -> ProbeValues {
        self.config.insert("failureThreshold".to_owned(), json!(failures));
        self
    }

    /// `check` (a `Probe` with only its handler set: `httpGet`, `exec`...) with the user's
    /// timing, or `None` when the probe is off; `path` names the values in what is reported.
    pub fn probe(&self, ctx: &Context, check: Probe, path: &str) -> Option<Probe> {
        if !self.enabled {
            return None;
        }
        let timing: Probe = ctx.map(&self.config, &format!("{path}.config"))?;
        Some(Probe {
            // The API server does not store a 0 here (Kubernetes' default); sent, it would make
            // every server-side apply a write, as the stored object never has it.
            initial_delay_seconds: timing.initial_delay_seconds.filter(|&delay| delay != 0),
            period_seconds: timing.period_seconds,
            timeout_seconds: timing.timeout_seconds,
            failure_threshold: timing.failure_threshold,
            success_threshold: timing.success_threshold,
            termination_grace_period_seconds: timing.termination_grace_period_seconds,
            ..check
        })
    }
}

/// A component's override of `global.prefect.image`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ImageValues {
    /// Image repository; empty uses `global.prefect.image.repository`. `global.imageRegistry`
    /// is put in front either way.
    pub repository: String,
    /// Image tag; empty uses the component's default, derived from
    /// `global.prefect.image.prefectTag`. Pin it in production.
    pub prefect_tag: String,
    /// Pull policy; null uses `global.prefect.image.pullPolicy`.
    pub pull_policy: Option<PullPolicy>,
    /// Image digest (`sha256:` and 64 hex digits) put after the tag, so that the pods run
    /// exactly this image whatever the tag points at later; empty runs the tag.
    pub digest: String,
}

impl ImageValues {
    /// The image reference, with `default_tag` when no tag is set here, pinned to `digest`.
    pub fn image(&self, ctx: &Context, default_tag: &str) -> String {
        let global = &ctx.global().prefect.image;
        let repository = or(&self.repository, &global.repository);
        ctx.pinned_image(repository, or(&self.prefect_tag, default_tag), &self.digest)
    }

    /// The pull policy, Kubernetes' spelling.
    pub fn pull_policy(&self, ctx: &Context) -> String {
        self.pull_policy.unwrap_or(ctx.global().prefect.image.pull_policy).as_str().to_owned()
    }
}

/// Reports a `digest` (at value path `path`) that is not empty and not `sha256:` followed by
/// 64 lower-case hex digits, the only form registries and the kubelet accept.
pub fn check_digest(ctx: &Context, digest: &str, path: &str) {
    let hex = digest.strip_prefix("sha256:").unwrap_or_default();
    let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !digest.is_empty() && !valid {
        ctx.error(
            path,
            format!(
                "{digest:?} is not an image digest: give `sha256:` and the 64 lower-case hex \
                 digits a registry prints (`crane digest IMAGE`, `docker buildx imagetools \
                 inspect IMAGE`), or leave it empty to run the tag"
            ),
        );
    }
}

/// The ServiceAccount a component's pods run as.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ServiceAccountValues {
    /// Creates the ServiceAccount. Turn it off to run as one you manage (`name`).
    pub create: bool,
    /// Name of the ServiceAccount; empty is `<release>-<component>` when `create` is on, and
    /// the namespace's `default` account when it is off.
    pub name: String,
    /// Annotations of the created ServiceAccount, for example a cloud IAM role binding.
    pub annotations: BTreeMap<String, String>,
}

impl Default for ServiceAccountValues {
    fn default() -> Self {
        ServiceAccountValues { create: true, name: String::new(), annotations: BTreeMap::new() }
    }
}

impl ServiceAccountValues {
    /// The name the pods of `component` run as, and the account to create (when `create` is
    /// on); `automount` says whether pods get its API token.
    pub fn build(
        &self,
        ctx: &Context,
        component: &str,
        automount: bool,
    ) -> (String, Option<ServiceAccount>) {
        if !self.create {
            let name = if self.name.is_empty() { "default" } else { &self.name };
            return (name.to_owned(), None);
        }
        let name = if self.name.is_empty() { ctx.full_name(component) } else { self.name.clone() };
        let mut metadata = ctx.metadata(&name, component);
        if !self.annotations.is_empty() {
            metadata.annotations = Some(self.annotations.clone());
        }
        let account = ServiceAccount {
            metadata,
            automount_service_account_token: Some(automount),
            ..ServiceAccount::default()
        };
        (name, Some(account))
    }
}

/// An environment variable with a literal value.
pub fn env_var(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.to_owned(), value: Some(value.to_owned()), value_from: None }
}

/// An environment variable read from key `key` of the Secret `secret`.
pub fn env_from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
    }
}

/// `global.prefect.env`, which every Prefect container gets before its own `env`. The host
/// checked each entry against its schema, so each is a valid `EnvVar`.
pub fn global_env(ctx: &Context) -> Vec<EnvVar> {
    ctx.global()
        .prefect
        .env
        .iter()
        .filter_map(|var| serde_json::to_value(var).ok())
        .filter_map(|var| serde_json::from_value(var).ok())
        .collect()
}

/// Sets `var` in `env`: replaces the variable of the same name (server-side apply refuses two),
/// or appends it.
pub fn set_env(env: &mut Vec<EnvVar>, var: EnvVar) {
    match env.iter_mut().find(|existing| existing.name == var.name) {
        Some(existing) => *existing = var,
        None => env.push(var),
    }
}

/// The spec of a ReadWriteOnce claim of `size` (a Kubernetes quantity) from `storage_class`:
/// empty for the cluster's default class, and, as in Bitnami's charts, `-` for no class at all,
/// which disables dynamic provisioning (the claim binds to a pre-created volume).
pub fn claim_spec(size: &str, storage_class: &str) -> PersistentVolumeClaimSpec {
    let storage_class_name = match storage_class {
        "" => None,
        "-" => Some(String::new()),
        class => Some(class.to_owned()),
    };
    PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
        storage_class_name,
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([("storage".to_owned(), Quantity(size.to_owned()))])),
            ..VolumeResourceRequirements::default()
        }),
        ..PersistentVolumeClaimSpec::default()
    }
}

/// An emptyDir volume.
pub fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

/// A mount of volume `name` at `path`.
pub fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount { name: name.to_owned(), mount_path: path.to_owned(), ..VolumeMount::default() }
}

/// `resources` with numbers turned into the strings Kubernetes quantities are (`cpu: 1` is
/// what many values files say).
pub fn quantities(resources: &Map<String, Value>) -> Map<String, Value> {
    let mut resources = resources.clone();
    for section in ["requests", "limits"] {
        if let Some(Value::Object(amounts)) = resources.get_mut(section) {
            for amount in amounts.values_mut() {
                if let Value::Number(number) = amount {
                    *amount = Value::String(number.to_string());
                }
            }
        }
    }
    resources
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn or<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.is_empty() { fallback } else { value }
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}
