//! A component's HorizontalPodAutoscaler and PodDisruptionBudget, in the API versions the
//! cluster serves: `autoscaling/v2`, else `v2beta2` (before 1.23), else `v1` (CPU only);
//! `policy/v1`, else `v1beta1` (before 1.21). The older versions have the same shape for what
//! is set here, except `autoscaling/v1`, which has one CPU target.
//!
//! Both return JSON, since k8s-openapi types only the newest versions. Plugins keep their own
//! names for the autoscaler's values (the Helm charts differ) and share
//! [`DisruptionBudgetValues`].

use k8s_openapi::{
    Resource,
    api::{
        autoscaling::v2::{
            CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
            MetricSpec, MetricTarget, ResourceMetricSource,
        },
        policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec},
    },
    apimachinery::pkg::util::intstr::IntOrString,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Context;

/// What an autoscaler of a component's Deployment aims at, with the names of the values that
/// set it, for messages.
#[derive(Debug, Clone, Copy)]
pub struct Autoscaler<'a> {
    /// The values' path, such as `autoscaling`.
    pub path: &'a str,
    /// Fewest pods.
    pub min_replicas: i32,
    /// Most pods.
    pub max_replicas: i32,
    /// Average CPU use in percent of the request, and the name of its value under `path`.
    pub cpu: (Option<i32>, &'a str),
    /// Average memory use in percent of the request, and the name of its value under `path`.
    pub memory: (Option<i32>, &'a str),
}

/// The HorizontalPodAutoscaler `<release>-<component>` of the Deployment of the same name, as
/// JSON; `None` (and an error) when the cluster serves no version that can express it.
pub fn autoscaler(ctx: &Context, component: &str, scaling: &Autoscaler) -> Option<Value> {
    let path = scaling.path;
    let (cpu, cpu_name) = scaling.cpu;
    let (memory, memory_name) = scaling.memory;
    if scaling.min_replicas > scaling.max_replicas {
        ctx.error(format!("{path}.minReplicas"), "must not be more than maxReplicas");
    }
    if cpu.is_none() && memory.is_none() {
        ctx.error(path, format!("the autoscaler needs a target: set {cpu_name} or {memory_name}"));
    }
    let name = ctx.full_name(component);
    let target = CrossVersionObjectReference {
        api_version: Some("apps/v1".to_owned()),
        kind: "Deployment".to_owned(),
        name: name.clone(),
    };
    let Some(api_version) = served(ctx, &["autoscaling/v2", "autoscaling/v2beta2"]) else {
        if !ctx.capabilities().has("autoscaling/v1") {
            ctx.error(
                format!("{path}.enabled"),
                format!(
                    "the cluster (Kubernetes {}) serves no autoscaling API: turn autoscaling off",
                    ctx.capabilities().kube_version
                ),
            );
            return None;
        }
        if memory.is_some() {
            ctx.error(
                format!("{path}.{memory_name}"),
                format!(
                    "the cluster (Kubernetes {}) serves autoscaling/v1 only, which scales on CPU \
                     alone: remove the {memory_name} target",
                    ctx.capabilities().kube_version
                ),
            );
        }
        let mut autoscaler = json!({
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": ctx.metadata(&name, component),
            "spec": {
                "scaleTargetRef": target,
                "minReplicas": scaling.min_replicas,
                "maxReplicas": scaling.max_replicas,
            },
        });
        if let Some(percent) = cpu {
            autoscaler["spec"]["targetCPUUtilizationPercentage"] = json!(percent);
        }
        return Some(autoscaler);
    };
    let metric = |resource: &str, percent: i32| MetricSpec {
        type_: "Resource".to_owned(),
        resource: Some(ResourceMetricSource {
            name: resource.to_owned(),
            target: MetricTarget {
                type_: "Utilization".to_owned(),
                average_utilization: Some(percent),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    };
    let metrics = [("cpu", cpu), ("memory", memory)]
        .into_iter()
        .filter_map(|(resource, percent)| Some(metric(resource, percent?)))
        .collect();
    let autoscaler = HorizontalPodAutoscaler {
        metadata: ctx.metadata(&name, component),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: target,
            min_replicas: Some(scaling.min_replicas),
            max_replicas: scaling.max_replicas,
            metrics: Some(metrics),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        ..HorizontalPodAutoscaler::default()
    };
    in_version(&autoscaler, api_version)
}

/// A component's PodDisruptionBudget (`podDisruptionBudget`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct DisruptionBudgetValues {
    /// Creates the PodDisruptionBudget.
    pub enabled: bool,
    /// Pods that must stay up during voluntary disruptions (a number or a percentage such as
    /// `50%`); set this or `maxUnavailable`.
    pub min_available: Option<Value>,
    /// Pods that may be down during voluntary disruptions (a number or a percentage).
    pub max_unavailable: Option<Value>,
    /// When a pod that is running but not ready may be evicted: `IfHealthyBudget` (only while
    /// the budget holds) or `AlwaysAllow` (so that a crash-looping pod never blocks a node
    /// drain); null keeps Kubernetes' default (`IfHealthyBudget`). Rendered on clusters from
    /// Kubernetes 1.27, where it is on by default.
    pub unhealthy_pod_eviction_policy: Option<UnhealthyPodEvictionPolicy>,
}

/// `podDisruptionBudget.unhealthyPodEvictionPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum UnhealthyPodEvictionPolicy {
    /// Evicts an unhealthy pod only while the budget holds.
    IfHealthyBudget,
    /// Evicts an unhealthy pod whatever the budget.
    AlwaysAllow,
}

/// The first Kubernetes minor release where `unhealthyPodEvictionPolicy` is on by default
/// (beta in 1.27, GA in 1.31); 1.26 has it behind a feature gate, earlier ones drop it.
const EVICTION_POLICY_SINCE_MINOR: u32 = 27;

/// The PodDisruptionBudget `<release>-<component>` of the component's pods, as JSON, if
/// enabled; `path` names the values in what is reported (`podDisruptionBudget`). Neither bound set
/// keeps one pod up.
pub fn disruption_budget(
    ctx: &Context,
    component: &str,
    budget: &DisruptionBudgetValues,
    path: &str,
) -> Option<Value> {
    if !budget.enabled {
        return None;
    }
    let api_version = served(ctx, &["policy/v1", "policy/v1beta1"]).or_else(|| {
        ctx.error(
            format!("{path}.enabled"),
            "the cluster serves neither policy/v1 nor policy/v1beta1: turn the budget off",
        );
        None
    })?;
    let min_available = count(ctx, &budget.min_available, &format!("{path}.minAvailable"));
    let max_unavailable = count(ctx, &budget.max_unavailable, &format!("{path}.maxUnavailable"));
    let min_available = match (&min_available, &max_unavailable) {
        (Some(_), Some(_)) => {
            ctx.error(
                format!("{path}.maxUnavailable"),
                "set either minAvailable or maxUnavailable, not both",
            );
            min_available
        }
        (None, None) => Some(IntOrString::Int(1)),
        _ => min_available,
    };
    let pdb = PodDisruptionBudget {
        metadata: ctx.metadata(&ctx.full_name(component), component),
        spec: Some(PodDisruptionBudgetSpec {
            min_available,
            max_unavailable,
            selector: Some(ctx.pod_selector(component)),
            unhealthy_pod_eviction_policy: eviction_policy(ctx, budget, api_version, path),
        }),
        ..PodDisruptionBudget::default()
    };
    in_version(&pdb, api_version)
}

/// `unhealthyPodEvictionPolicy`, on clusters that have it; elsewhere left out with a warning.
fn eviction_policy(
    ctx: &Context,
    budget: &DisruptionBudgetValues,
    api_version: &str,
    path: &str,
) -> Option<String> {
    let policy = budget.unhealthy_pod_eviction_policy?;
    let kube_version = &ctx.capabilities().kube_version;
    let minor = kube_version.split('.').nth(1).and_then(|minor| minor.parse::<u32>().ok());
    if api_version == "policy/v1" && minor.is_some_and(|m| m >= EVICTION_POLICY_SINCE_MINOR) {
        return Some(format!("{policy:?}"));
    }
    ctx.warn(
        format!("{path}.unhealthyPodEvictionPolicy"),
        format!(
            "left out: Kubernetes {kube_version} has no eviction policy for unhealthy pods (1.27 \
             has it), so they are evicted only while the budget holds"
        ),
    );
    None
}

/// The first of `versions` the cluster serves.
fn served<'a>(ctx: &Context, versions: &[&'a str]) -> Option<&'a str> {
    versions.iter().copied().find(|version| ctx.capabilities().has(version))
}

/// `object` as JSON, with `api_version` (one of its group's, from [`served`]).
fn in_version<K: Resource + Serialize>(object: &K, api_version: &str) -> Option<Value> {
    crate::context::in_version(object, api_version).ok()
}

/// A pod count or percentage (`1`, `"50%"`).
fn count(ctx: &Context, value: &Option<Value>, path: &str) -> Option<IntOrString> {
    match value.as_ref()? {
        Value::Number(n) if n.as_i64().is_some_and(|n| n >= 0 && n <= i64::from(i32::MAX)) => {
            Some(IntOrString::Int(n.as_i64().unwrap_or_default() as i32))
        }
        Value::String(text)
            if text.ends_with('%')
                && text[..text.len() - 1].parse::<u8>().is_ok_and(|p| p <= 100) =>
        {
            Some(IntOrString::String(text.clone()))
        }
        _ => {
            ctx.error(path, "give a number of pods, such as 1, or a percentage, such as \"50%\"");
            None
        }
    }
}
