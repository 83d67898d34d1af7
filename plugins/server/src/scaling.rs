//! The server's optional HorizontalPodAutoscaler and PodDisruptionBudget, built by the SDK
//! ([`prefect_plugin_sdk::workload::scaling`]) in the API versions the cluster serves. The
//! autoscaler needs PostgreSQL ([`crate::database::check_scale`]).

use prefect_plugin_sdk::{
    Context,
    serde_json::Value,
    workload::scaling::{self, Autoscaler},
};

use crate::{COMPONENT, values::Values};

/// The HorizontalPodAutoscaler of `<release>-server` as JSON, if enabled.
pub fn autoscaler(ctx: &Context, values: &Values) -> Option<Value> {
    let autoscaling = &values.autoscaling;
    if !autoscaling.enabled {
        return None;
    }
    let target = Autoscaler {
        path: "autoscaling",
        min_replicas: autoscaling.min_replicas,
        max_replicas: autoscaling.max_replicas,
        cpu: ((autoscaling.target_cpu > 0).then_some(autoscaling.target_cpu), "targetCPU"),
        memory: (
            (autoscaling.target_memory > 0).then_some(autoscaling.target_memory),
            "targetMemory",
        ),
    };
    scaling::autoscaler(ctx, COMPONENT, &target)
}

/// The PodDisruptionBudget of the server pods as JSON, if enabled.
pub fn disruption_budget(ctx: &Context, values: &Values) -> Option<Value> {
    scaling::disruption_budget(ctx, COMPONENT, &values.pod_disruption_budget, "podDisruptionBudget")
}
