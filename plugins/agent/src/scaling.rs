//! The optional HorizontalPodAutoscaler and PodDisruptionBudget, in the API versions the
//! cluster serves: `autoscaling/v2` or `v2beta2` (before 1.23), `policy/v1` or `v1beta1`
//! (before 1.21). The older versions have the same shape for what is set here.

use prefect_plugin_sdk::{
    Context, Problems,
    k8s_openapi::{
        api::{
            autoscaling::v2::{
                CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
                MetricSpec, MetricTarget, ResourceMetricSource,
            },
            policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec},
        },
        apimachinery::pkg::util::intstr::IntOrString,
    },
    serde_json::{self, Value},
};

use crate::{COMPONENT, values::Values};

/// The HorizontalPodAutoscaler as JSON, if enabled.
pub fn autoscaler(ctx: &Context, values: &Values, problems: &mut Problems) -> Option<Value> {
    let scaling = &values.autoscaling;
    if !scaling.enabled {
        return None;
    }
    let api_version = served(ctx, &["autoscaling/v2", "autoscaling/v2beta2"]).or_else(|| {
        problems.error(
            "autoscaling.enabled",
            format!(
                "the cluster (Kubernetes {}) serves neither autoscaling/v2 nor v2beta2: turn \
                 autoscaling off",
                ctx.capabilities().kube_version
            ),
        );
        None
    })?;
    if scaling.min_replicas > scaling.max_replicas {
        problems.error("autoscaling.minReplicas", "must not be more than maxReplicas");
    }
    let metric = |name: &str, percent: i32| MetricSpec {
        type_: "Resource".to_owned(),
        resource: Some(ResourceMetricSource {
            name: name.to_owned(),
            target: MetricTarget {
                type_: "Utilization".to_owned(),
                average_utilization: Some(percent),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    };
    let mut metrics = Vec::new();
    if let Some(percent) = scaling.target_cpu_utilization_percentage {
        metrics.push(metric("cpu", percent));
    }
    if let Some(percent) = scaling.target_memory_utilization_percentage {
        metrics.push(metric("memory", percent));
    }
    if metrics.is_empty() {
        problems.error(
            "autoscaling",
            "the autoscaler needs a target: set targetCPUUtilizationPercentage or \
             targetMemoryUtilizationPercentage",
        );
    }
    let autoscaler = HorizontalPodAutoscaler {
        metadata: ctx.metadata(&ctx.full_name(COMPONENT), COMPONENT),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: ctx.full_name(COMPONENT),
            },
            min_replicas: Some(scaling.min_replicas),
            max_replicas: scaling.max_replicas,
            metrics: Some(metrics),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        ..HorizontalPodAutoscaler::default()
    };
    in_version(&autoscaler, api_version)
}

/// The PodDisruptionBudget as JSON, if enabled.
pub fn disruption_budget(ctx: &Context, values: &Values, problems: &mut Problems) -> Option<Value> {
    let budget = &values.pod_disruption_budget;
    if !budget.enabled {
        return None;
    }
    let api_version = served(ctx, &["policy/v1", "policy/v1beta1"]).or_else(|| {
        problems.error(
            "podDisruptionBudget.enabled",
            "the cluster serves neither policy/v1 nor policy/v1beta1: turn the budget off",
        );
        None
    })?;
    let min_available = count(&budget.min_available, "podDisruptionBudget.minAvailable", problems);
    let max_unavailable =
        count(&budget.max_unavailable, "podDisruptionBudget.maxUnavailable", problems);
    let min_available = match (&min_available, &max_unavailable) {
        (Some(_), Some(_)) => {
            problems.error(
                "podDisruptionBudget.maxUnavailable",
                "set either minAvailable or maxUnavailable, not both",
            );
            min_available
        }
        // Neither: keep one worker up.
        (None, None) => Some(IntOrString::Int(1)),
        _ => min_available,
    };
    let pdb = PodDisruptionBudget {
        metadata: ctx.metadata(&ctx.full_name(COMPONENT), COMPONENT),
        spec: Some(PodDisruptionBudgetSpec {
            min_available,
            max_unavailable,
            selector: Some(ctx.pod_selector(COMPONENT)),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    };
    in_version(&pdb, api_version)
}

/// The first of `versions` the cluster serves.
fn served<'a>(ctx: &Context, versions: &[&'a str]) -> Option<&'a str> {
    versions.iter().copied().find(|version| ctx.capabilities().has(version))
}

/// `object` as JSON, with `api_version`.
fn in_version<T: serde::Serialize>(object: &T, api_version: &str) -> Option<Value> {
    let mut json = serde_json::to_value(object).ok()?;
    json["apiVersion"] = Value::String(api_version.to_owned());
    Some(json)
}

/// A pod count or percentage (`1`, `"50%"`).
fn count(value: &Option<Value>, path: &str, problems: &mut Problems) -> Option<IntOrString> {
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
            problems
                .error(path, "give a number of pods, such as 1, or a percentage, such as \"50%\"");
            None
        }
    }
}
