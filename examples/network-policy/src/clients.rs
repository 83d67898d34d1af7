//! Finding the Prefect clients among the workloads other plugins added, and labelling them
//! so that the policy lets them in.

use prefect_plugin_sdk::{Context, serde_json::Value};

/// The label the policy lets in.
pub const CLIENT_LABEL: &str = "prefectctl.io/prefect-api-client";

/// Labels the pod template of every workload whose containers' `PREFECT_API_URL` points at
/// the Service `server`; returns how many it labelled.
pub fn label(ctx: &mut Context, server: &str) -> usize {
    let host = format!("//{server}.");
    let mut labelled = 0;
    ctx.update_pod_templates(|_, template| {
        if talks_to(template, &host) {
            template["metadata"]["labels"][CLIENT_LABEL] = Value::String("true".to_owned());
            labelled += 1;
        }
    });
    labelled
}

/// Whether a container of the pod template sets `PREFECT_API_URL` to a URL on `host`.
fn talks_to(template: &Value, host: &str) -> bool {
    let containers = template["spec"]["containers"].as_array().into_iter().flatten();
    containers.flat_map(|c| c["env"].as_array().into_iter().flatten()).any(|var| {
        var["name"] == "PREFECT_API_URL"
            && var["value"].as_str().is_some_and(|url| url.contains(host))
    })
}
