//! The optional HorizontalPodAutoscaler and PodDisruptionBudget of the worker, built by the
//! SDK ([`prefect_plugin_sdk::workload::scaling`]) in the API versions the cluster serves.

use prefect_plugin_sdk::{
    Context,
    serde_json::Value,
    workload::scaling::{self, Autoscaler},
};

use crate::{COMPONENT, values::Values};

/// The HorizontalPodAutoscaler as JSON, if enabled.
pub fn autoscaler(ctx: &Context, values: &Values) -> Option<Value> {
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
    scaling::autoscaler(ctx, COMPONENT, &target)
}

/// The PodDisruptionBudget as JSON, if enabled.
pub fn disruption_budget(ctx: &Context, values: &Values) -> Option<Value> {
    scaling::disruption_budget(ctx, COMPONENT, &values.pod_disruption_budget, "podDisruptionBudget")
}
