//! What a first install prints after its summary, as prefect-helm's NOTES do: how to reach the
//! UI and API (the Ingress' or HTTPRoute's URL, or the `kubectl port-forward` command), where
//! the basic-auth credentials are, and which work pool each worker polls.

use std::fmt::Write as _;

use prefect_manifest::ResourceKey;
use serde_json::Value;

use super::{
    env::{self, Source},
    stack::Stack,
};

/// The notes for `objects`, the objects the install applied; empty when the release has no
/// server and no worker.
pub fn after_install(namespace: &str, release: &str, objects: &[(ResourceKey, Value)]) -> String {
    let live: Vec<(ResourceKey, Option<Value>)> =
        objects.iter().map(|(key, object)| (key.clone(), Some(object.clone()))).collect();
    let stack = Stack::find(namespace, &live);
    let mut out = String::new();
    if let Some(server) = &stack.server {
        let service = server.service.as_ref();
        let name = service.and_then(|s| s["metadata"]["name"].as_str()).unwrap_or("<server>");
        let port = service.and_then(|s| s["spec"]["ports"][0]["port"].as_u64()).unwrap_or(4200);
        let _ = writeln!(out, "\nThe Prefect UI and API:");
        if let Some(url) = ingress_url(objects, name) {
            let _ = writeln!(out, "  {url} (the Ingress; the API is under {url}api)");
        } else if let Some(url) = route_url(objects, name) {
            let _ = writeln!(out, "  {url} (the HTTPRoute; the API is under {url}api)");
        } else {
            let _ = writeln!(
                out,
                "  kubectl port-forward -n {namespace} svc/{name} {port}:{port}\n  \
                 then open http://localhost:{port} (the API is under http://localhost:{port}/api)"
            );
        }
        if let Some(Source::Secret { name, key }) =
            env::source(&server.container, "PREFECT_SERVER_API_AUTH_STRING")
        {
            let _ = writeln!(
                out,
                "  basic auth: USER:PASSWORD is in Secret {name}, key {key}:\n  \
                 kubectl get secret -n {namespace} {name} -o jsonpath='{{.data.{key}}}' | base64 -d"
            );
        }
    }
    for worker in &stack.workers {
        let pool = worker.pool.as_deref().unwrap_or("(none given)");
        let _ = writeln!(out, "\nWorker {} polls the work pool {pool}.", worker.name);
    }
    if !out.is_empty() {
        let release = match release {
            "prefect" => String::new(),
            other => format!(" --release {other}"),
        };
        let _ = writeln!(
            out,
            "\n`prefectctl status -n {namespace}{release}` shows what the server says, and \
             `doctor` what to fix."
        );
    }
    out
}

/// `https://HOST/PATH` of the Gateway API's HTTPRoute that routes to the Service `service`, at
/// its first host name: `http` when it attaches to a listener called `http` (the server
/// plugin's plain one), else `https`.
fn route_url(objects: &[(ResourceKey, Value)], service: &str) -> Option<String> {
    objects.iter().filter(|(key, _)| key.kind == "HTTPRoute").find_map(|(_, route)| {
        let spec = &route["spec"];
        let host = spec["hostnames"].as_array()?.first()?.as_str()?;
        if host.contains('*') {
            return None;
        }
        let rule = spec["rules"].as_array()?.iter().find(|rule| {
            rule["backendRefs"].as_array().into_iter().flatten().any(|b| b["name"] == service)
        })?;
        let scheme = if spec["parentRefs"][0]["sectionName"] == "http" { "http" } else { "https" };
        let mut path = rule["matches"][0]["path"]["value"].as_str().unwrap_or("/").to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        Some(format!("{scheme}://{host}{path}"))
    })
}

/// `https://HOST/PATH` of the Ingress that routes to the Service `service`.
fn ingress_url(objects: &[(ResourceKey, Value)], service: &str) -> Option<String> {
    objects.iter().filter(|(key, _)| key.kind == "Ingress").find_map(|(_, ingress)| {
        let spec = &ingress["spec"];
        let rules = spec["rules"].as_array()?;
        rules.iter().find_map(|rule| {
            let host = rule["host"].as_str()?;
            let path = rule["http"]["paths"].as_array()?.iter().find(|path| {
                path["backend"]["service"]["name"] == service
                    || path["backend"]["serviceName"] == service
            })?;
            let tls = spec["tls"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|tls| tls["hosts"].as_array().into_iter().flatten().any(|h| h == host));
            let scheme = if tls { "https" } else { "http" };
            let mut path = path["path"].as_str().unwrap_or("/").to_owned();
            if !path.ends_with('/') {
                path.push('/');
            }
            Some(format!("{scheme}://{host}{path}"))
        })
    })
}
