//! The optional HorizontalPodAutoscaler and PodDisruptionBudget of the worker, built by the
//! SDK ([`prefect_plugin_sdk::workload::scaling`]) in the API versions the cluster serves.

use prefect_plugin_sdk::{
    Context, Problems,
    serde_json::{Value, json},
    workload::scaling::{self, Autoscaler},
};

use crate::{COMPONENT, values::Values};

/// The HorizontalPodAutoscaler as JSON, if enabled.
pub fn autoscaler(ctx: &Context, values: &Values, problems: &mut Problems) -> Option<Value> {
    let autoscaling = &values.autoscaling;
    if !autoscaling.enabled {
        return None;
    }
    let target = Autoscaler {
        path: "autoscaling",
        min_replicas: autoscaling.min_replicas,
        max_replicas: autoscaling.max_replicas,
        cpu: (autoscaling.target_cpu_utilization_percentage, "targetCPUUtilizationPercentage"),
        memory: (
            autoscaling.target_memory_utilization_percentage,
            "targetMemoryUtilizationPercentage",
        ),
    };
    scaling::autoscaler(ctx, COMPONENT, &target, problems)
}

/// The first Kubernetes minor release where `unhealthyPodEvictionPolicy` is on by default
/// (beta in 1.27, GA in 1.31); 1.26 has it behind a feature gate, earlier ones drop it.
const EVICTION_POLICY_SINCE_MINOR: u32 = 27;

/// The PodDisruptionBudget as JSON, if enabled, with the eviction policy of unhealthy pods on
/// clusters that have it.
pub fn disruption_budget(ctx: &Context, values: &Values, problems: &mut Problems) -> Option<Value> {
    let budget = &values.pod_disruption_budget;
    let mut pdb = scaling::disruption_budget(
        ctx,
        COMPONENT,
        &budget.common(),
        "podDisruptionBudget",
        problems,
    )?;
    if let Some(policy) = budget.unhealthy_pod_eviction_policy {
        let kube_version = &ctx.capabilities().kube_version;
        let minor = kube_version.split('.').nth(1).and_then(|minor| minor.parse::<u32>().ok());
        if pdb["apiVersion"] == "policy/v1"
            && minor.is_some_and(|m| m >= EVICTION_POLICY_SINCE_MINOR)
        {
            pdb["spec"]["unhealthyPodEvictionPolicy"] = json!(policy);
        } else {
            problems.warn(
                "podDisruptionBudget.unhealthyPodEvictionPolicy",
                format!(
                    "left out: Kubernetes {kube_version} has no eviction policy for unhealthy \
                     pods (1.27 has it), so they are evicted only while the budget holds"
                ),
            );
        }
    }
    Some(pdb)
}
