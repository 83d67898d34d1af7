//! What the policies are made of, read from the graph other plugins built: the workloads of
//! each component by the names the first-party plugins promise, their pods' labels and ports,
//! and which workloads connect to which Service, read from their containers' environment.
//!
//! Connections are found by the environment rather than by component labels, so that a pod
//! the user points at a component (`server.env`, another plugin's workload) is let in too,
//! and a component configured to use something else (an external database) is not.

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::apimachinery::pkg::{apis::meta::v1::LabelSelector, util::intstr::IntOrString},
    pods,
    serde_json::{self, Value},
};

/// The label this plugin puts on the pods of the release's Prefect API clients, and that the
/// server's policy lets in; users may put it on pods of their own.
pub const CLIENT_LABEL: &str = "prefectctl.io/prefect-api-client";

/// The labels that tell one workload's pods from another's; the first-party plugins put both
/// on every pod template.
const WORKLOAD_LABELS: [&str; 2] = ["app.kubernetes.io/name", "app.kubernetes.io/instance"];

/// The workload of `kind` called `name` in the release namespace.
pub fn find<'a>(ctx: &'a Context, kind: &str, name: &str) -> Option<&'a Value> {
    ctx.items().iter().find(|item| {
        item["kind"] == kind
            && item["metadata"]["name"] == name
            && item["metadata"]["namespace"] == ctx.namespace()
    })
}

/// The selector of a Deployment's or StatefulSet's pods, which the API server guarantees
/// matches its pod template.
pub fn selector(workload: &Value) -> Option<LabelSelector> {
    serde_json::from_value(workload["spec"]["selector"].clone()).ok()
}

/// The container port called `name` of container `container`, as a number; the name itself
/// when the graph has no such port (a NetworkPolicy may name a port too).
pub fn port(workload: &Value, container: &str, name: &str) -> IntOrString {
    pods::template(workload)
        .and_then(|template| template["spec"]["containers"].as_array())
        .into_iter()
        .flatten()
        .filter(|c| c["name"] == container)
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_i64())
        .and_then(|number| i32::try_from(number).ok())
        .map_or_else(|| IntOrString::String(name.to_owned()), IntOrString::Int)
}

/// The values of variable `var` in the containers and init containers of a pod template.
fn env_values<'a>(template: &'a Value, var: &'a str) -> impl Iterator<Item = &'a str> {
    let spec = &template["spec"];
    ["initContainers", "containers"]
        .into_iter()
        .flat_map(move |list| spec[list].as_array().into_iter().flatten())
        .flat_map(|container| container["env"].as_array().into_iter().flatten())
        .filter(move |env| env["name"] == var)
        .filter_map(|env| env["value"].as_str())
}

/// Whether `host` names Service `service` of `namespace` as a pod of that namespace may:
/// `service`, `service.namespace`, `service.namespace.svc` and the cluster domain after it.
pub fn names_service(host: &str, service: &str, namespace: &str) -> bool {
    let qualified = format!("{service}.{namespace}");
    host == service
        || host == qualified
        || host
            .strip_prefix(&qualified)
            .is_some_and(|rest| rest == ".svc" || rest.starts_with(".svc."))
}

/// The host of a URL: `prefect-server.prefect.svc` in `http://prefect-server.prefect.svc:4200/api`.
pub fn url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    Some(host.split(':').next().unwrap_or_default()).filter(|host| !host.is_empty())
}

/// Labels the pod template of every workload whose `PREFECT_API_URL` points at the server's
/// Service, so that the server's policy lets them in; the names of those workloads.
pub fn label_api_clients(ctx: &mut Context, service: &str) -> Vec<String> {
    let namespace = ctx.namespace().to_owned();
    let mut labelled = Vec::new();
    ctx.update_pod_templates(|workload, template| {
        let client = env_values(template, "PREFECT_API_URL")
            .filter_map(url_host)
            .any(|host| names_service(host, service, &namespace));
        if client {
            template["metadata"]["labels"][CLIENT_LABEL] = Value::String("true".to_owned());
            labelled.push(workload.name.clone());
        }
    });
    labelled
}

/// A selector of the pods of every workload in the graph whose `var` names Service `service`
/// (a host, as Prefect's `PREFECT_SERVER_DATABASE_HOST` is), in graph order, each once.
pub fn pods_connecting(ctx: &Context, var: &str, service: &str) -> Vec<LabelSelector> {
    let mut selectors = Vec::new();
    for template in ctx.items().iter().filter_map(pods::template) {
        let connects =
            env_values(template, var).any(|host| names_service(host, service, ctx.namespace()));
        if !connects {
            continue;
        }
        let selector = LabelSelector {
            match_labels: Some(workload_labels(template)),
            ..LabelSelector::default()
        };
        if !selectors.contains(&selector) {
            selectors.push(selector);
        }
    }
    selectors
}

/// The labels that select one workload's pods: its name and instance labels when the
/// template has both, or else all its labels.
fn workload_labels(template: &Value) -> BTreeMap<String, String> {
    let labels: BTreeMap<String, String> =
        serde_json::from_value(template["metadata"]["labels"].clone()).unwrap_or_default();
    let chosen: BTreeMap<String, String> = labels
        .iter()
        .filter(|(key, _)| WORKLOAD_LABELS.contains(&key.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if chosen.len() == WORKLOAD_LABELS.len() { chosen } else { labels }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_the_service_by_any_name_a_pod_of_the_namespace_may_use() {
        let host = |url| url_host(url).filter(|host| names_service(host, "prefect-server", "ns"));
        for url in [
            "http://prefect-server:4200/api",
            "http://prefect-server.ns:4200/api",
            "http://prefect-server.ns.svc:4200/api",
            "https://user:pw@prefect-server.ns.svc.cluster.local/api",
            "http://prefect-server",
        ] {
            assert!(host(url).is_some(), "{url}");
        }
        for url in [
            "http://prefect-server.other.svc:4200/api",
            "http://prefect-server-2:4200/api",
            "http://localhost:4200/api",
            "https://api.prefect.cloud/api/accounts/x",
            "prefect-server",
        ] {
            assert!(host(url).is_none(), "{url}");
        }
    }
}
