//! An OpenShift Route to the server's UI and API, instead of an Ingress.

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::api::apps::v1::Deployment,
    schemars::{self, JsonSchema},
    serde_json::{Value, json},
};
use serde::{Deserialize, Serialize};

/// The server plugin's component (its Service and Deployment are `<release>-server`), its
/// Service's port name and container.
const SERVER: &str = prefect_plugin_sdk::contract::server::COMPONENT;
const SERVER_PORT_NAME: &str = "server-svc-port";
const SERVER_CONTAINER: &str = prefect_plugin_sdk::contract::server::CONTAINER;
/// The UI API URL the server plugin derives when it knows no external address.
const PORT_FORWARD_URL: &str = "http://localhost:4200/api";

/// `openshift-security.route`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RouteValues {
    /// Creates a Route (`route.openshift.io/v1`) to the server plugin's Service. Turn the
    /// server's Ingress off (`server.ingress.enabled: false`): the Route replaces it.
    pub enabled: bool,
    /// The host users open the UI at; empty lets OpenShift generate one (then set
    /// `server.uiConfig.prefectUiApiUrl` to `https://<that host>/api` yourself).
    pub host: String,
    /// The path that routes to the server.
    pub path: String,
    /// Terminates TLS at the router (`edge`) and redirects plain HTTP to HTTPS; off serves
    /// plain HTTP.
    pub tls: bool,
    /// Annotations of the Route, such as the router's timeout.
    pub annotations: BTreeMap<String, String>,
}

impl Default for RouteValues {
    fn default() -> Self {
        RouteValues {
            enabled: false,
            host: String::new(),
            path: "/".to_owned(),
            tls: true,
            annotations: BTreeMap::new(),
        }
    }
}

/// The Route, and the server's UI API URL pointed at its host; `None` when off or impossible.
pub fn build(ctx: &mut Context, values: &RouteValues) -> Option<Value> {
    if !values.enabled {
        return None;
    }
    let server = ctx.full_name(SERVER);
    let has = |kind: &str| {
        ctx.items()
            .iter()
            .any(|item| item["kind"] == kind && item["metadata"]["name"] == server.as_str())
    };
    if !has("Service") {
        ctx.error(
            "route.enabled",
            format!("the Route leads to the server plugin's Service {server}, which is not in the stack: add the server plugin, or turn the Route off"),
        );
        return None;
    }
    if has("Ingress") {
        ctx.error(
            "route.enabled",
            format!("the server's Ingress {server} is in the graph too: set server.ingress.enabled to false, the Route replaces it"),
        );
    }
    if !values.path.starts_with('/') {
        ctx.error("route.path", "a Route path starts with `/`");
    }
    if !values.host.is_empty() {
        let scheme = if values.tls { "https" } else { "http" };
        point_ui_at(ctx, &server, &format!("{scheme}://{}/api", values.host));
    }
    let mut metadata = json!({
        "name": server,
        "namespace": ctx.namespace(),
        "labels": ctx.labels(SERVER),
    });
    if !values.annotations.is_empty() {
        metadata["annotations"] = json!(values.annotations);
    }
    let mut spec = json!({
        "path": values.path,
        "to": { "kind": "Service", "name": server, "weight": 100 },
        "port": { "targetPort": SERVER_PORT_NAME },
        "wildcardPolicy": "None",
    });
    if !values.host.is_empty() {
        spec["host"] = json!(values.host);
    }
    if values.tls {
        spec["tls"] = json!({ "termination": "edge", "insecureEdgeTerminationPolicy": "Redirect" });
    }
    Some(
        json!({ "apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": metadata, "spec": spec }),
    )
}

/// Sets the server's `PREFECT_UI_API_URL` to `url`, unless the user chose one.
fn point_ui_at(ctx: &mut Context, server: &str, url: &str) {
    let changed = ctx.update::<Deployment>(server, |deployment| {
        let containers = deployment
            .spec
            .as_mut()
            .and_then(|s| s.template.spec.as_mut())
            .map(|p| &mut p.containers);
        let Some(container) =
            containers.and_then(|c| c.iter_mut().find(|c| c.name == SERVER_CONTAINER))
        else {
            return;
        };
        for var in container.env.iter_mut().flatten() {
            if var.name == "PREFECT_UI_API_URL" && var.value.as_deref() == Some(PORT_FORWARD_URL) {
                var.value = Some(url.to_owned());
            }
        }
    });
    if let Err(err) = changed {
        ctx.error("route.host", err.to_string());
    }
}
