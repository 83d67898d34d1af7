//! The Gateway API's objects (`gateway.networking.k8s.io/v1`) that expose the API and UI
//! instead of an Ingress: the Gateway (`gateway.create`), the HTTPRoute to the server's
//! Service, and the HTTPRoute that redirects plain HTTP to HTTPS (`httproute.tls.redirect`).
//! They are custom resources: made only when the cluster serves them (discovery while
//! applying, `--api-versions` while rendering).

use prefect_plugin_sdk::{
    Context,
    serde_json::{Map, Value, json},
    wire::Capabilities,
};

use crate::{COMPONENT, values};

/// The Gateway API's group version.
pub const API_VERSION: &str = "gateway.networking.k8s.io/v1";

/// The listener the TLS redirect route attaches to.
const HTTP_LISTENER: &str = "http";

/// The URL users reach the server at through the HTTPRoute (`https://HOST`), when the Gateway
/// API is on and the route names a host.
pub fn external_url(values: &values::Values) -> Option<String> {
    let (gateway, route) = (&values.gateway, &values.httproute);
    if !gateway.enabled || !route.enabled {
        return None;
    }
    let host = route.hostnames.first().filter(|host| !host.is_empty() && !host.contains('*'))?;
    let plain =
        route.parent_refs.first().is_some_and(|parent| parent.section_name == HTTP_LISTENER);
    let scheme = if plain { "http" } else { "https" };
    Some(format!("{scheme}://{host}"))
}

/// The Gateway and HTTPRoutes the values ask for, as JSON objects (k8s-openapi has no types
/// for custom resources); none unless `gateway.enabled`.
pub fn build(ctx: &Context, values: &values::Values) -> Vec<Value> {
    let (gateway, route) = (&values.gateway, &values.httproute);
    if !gateway.enabled {
        return Vec::new();
    }
    if values.ingress.enabled {
        ctx.error(
            "gateway.enabled",
            "the Gateway and the Ingress would both expose the server: turn off ingress.enabled \
             or gateway.enabled",
        );
    }
    let mut wanted = Vec::new();
    if gateway.create {
        wanted.push("Gateway");
    }
    if route.enabled {
        wanted.push("HTTPRoute");
    }
    let unserved: Vec<&str> =
        wanted.into_iter().filter(|kind| !serves(ctx.capabilities(), kind)).collect();
    if !unserved.is_empty() {
        ctx.error(
            "gateway.enabled",
            format!(
                "the cluster does not serve {API_VERSION} {} (the Gateway API's CRDs): install \
                 them and apply again, pass --api-versions {API_VERSION} to render, or expose \
                 the server with ingress.enabled instead",
                unserved.join(" and ")
            ),
        );
    }

    let gateway_name =
        if gateway.name.is_empty() { ctx.full_name(COMPONENT) } else { gateway.name.clone() };
    let mut objects = Vec::new();
    if gateway.create {
        objects.push(build_gateway(ctx, gateway, &gateway_name, route));
    }
    if route.enabled {
        check_route(ctx, values, &gateway_name);
        objects.push(build_route(ctx, values, &gateway_name));
        if route.tls.redirect {
            objects.push(build_redirect(ctx, route, &gateway_name));
        }
    }
    objects
}

/// Whether the cluster serves `kind` of the Gateway API: its group version, or the kind
/// itself (`gateway.networking.k8s.io/v1/Gateway`, as Helm's `--api-versions` takes it).
fn serves(capabilities: &Capabilities, kind: &str) -> bool {
    capabilities.has(API_VERSION) || capabilities.has(&format!("{API_VERSION}/{kind}"))
}

fn build_gateway(
    ctx: &Context,
    values: &values::Gateway,
    name: &str,
    route: &values::HttpRoute,
) -> Value {
    if values.class_name.is_empty() {
        ctx.error(
            "gateway.className",
            "the Gateway needs the GatewayClass that implements it, such as istio or envoy \
             (`kubectl get gatewayclasses` lists the cluster's); or set gateway.create to false \
             to attach the route to a Gateway that exists",
        );
    }
    if values.listeners.is_empty() {
        ctx.error(
            "gateway.listeners",
            "a Gateway needs at least one listener, such as {name: https, port: 443, protocol: \
             HTTPS}",
        );
    }
    let mut seen = Vec::new();
    for (index, listener) in values.listeners.iter().enumerate() {
        if seen.contains(&listener.name.as_str()) {
            ctx.error(
                format!("gateway.listeners[{index}].name"),
                format!(
                    "another listener is called {:?}: give each a name of its own",
                    listener.name
                ),
            );
        }
        seen.push(&listener.name);
    }
    // The first host name of the route, as the certificate most likely made for it.
    let default_secret = match route.hostnames.first() {
        Some(host) => format!("{host}-tls"),
        None => format!("{}-tls", ctx.full_name(COMPONENT)),
    };
    let listeners: Vec<Value> =
        values.listeners.iter().map(|listener| build_listener(listener, &default_secret)).collect();
    let mut spec = json!({ "gatewayClassName": values.class_name, "listeners": listeners });
    if !values.infrastructure.is_empty() {
        spec["infrastructure"] = Value::Object(values.infrastructure.clone());
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": "Gateway",
        "metadata": metadata(ctx, name, "gateway", &values.labels, &values.annotations),
        "spec": spec,
    })
}

fn build_listener(listener: &values::Listener, default_secret: &str) -> Value {
    let mut out = json!({
        "name": listener.name,
        "port": listener.port,
        "protocol": listener.protocol,
    });
    if !listener.hostname.is_empty() {
        out["hostname"] = json!(listener.hostname);
    }
    if let Some(tls) = &listener.tls
        && matches!(listener.protocol.as_str(), "HTTPS" | "TLS")
    {
        let mode = match tls.mode {
            values::TlsMode::Terminate => "Terminate",
            values::TlsMode::Passthrough => "Passthrough",
        };
        let mut tls_out = json!({ "mode": mode });
        if !tls.certificate_refs.is_empty() {
            let refs: Vec<Value> = tls
                .certificate_refs
                .iter()
                .map(|reference| {
                    let name =
                        if reference.name.is_empty() { default_secret } else { &reference.name };
                    let mut out = json!({ "kind": reference.kind, "name": name });
                    if !reference.namespace.is_empty() {
                        out["namespace"] = json!(reference.namespace);
                    }
                    out
                })
                .collect();
            tls_out["certificateRefs"] = Value::Array(refs);
        }
        out["tls"] = tls_out;
    }
    out
}

/// What the API server or the Gateway would only say later, or never: a route attached to
/// nothing, or to a listener this release's Gateway does not have.
fn check_route(ctx: &Context, values: &values::Values, gateway_name: &str) {
    let (gateway, route) = (&values.gateway, &values.httproute);
    if !route.path.starts_with('/') {
        ctx.error("httproute.path", "an HTTPRoute path starts with `/`");
    }
    if route.parent_refs.is_empty() {
        ctx.error(
            "httproute.parentRefs",
            "the HTTPRoute needs a Gateway to attach to: add {sectionName: https} for this \
             release's Gateway, or {name: GATEWAY, namespace: NAMESPACE}",
        );
    }
    if !gateway.create && !route.parent_refs.iter().any(|parent| !parent.name.is_empty()) {
        ctx.error(
            "httproute.parentRefs",
            "without gateway.create, name the Gateway the HTTPRoute attaches to \
             (parentRefs[].name, and namespace if it is in another one), or turn gateway.create \
             on",
        );
    }
    for (index, host) in route.hostnames.iter().enumerate() {
        if host.is_empty() {
            ctx.error(format!("httproute.hostnames[{index}]"), "give the host name");
        }
    }
    for (index, rule) in route.extra_rules.iter().enumerate() {
        if !rule.is_object() {
            ctx.error(
                format!("httproute.extraRules[{index}]"),
                "an HTTPRoute rule is a mapping, such as {matches: [...], backendRefs: [...]}",
            );
        }
    }
    if !gateway.create {
        return;
    }
    let has_listener = |name: &str| gateway.listeners.iter().any(|listener| listener.name == name);
    for (index, parent) in route.parent_refs.iter().enumerate() {
        let ours =
            (parent.name.is_empty() || parent.name == gateway_name) && parent.namespace.is_empty();
        if ours && !parent.section_name.is_empty() && !has_listener(&parent.section_name) {
            ctx.error(
                format!("httproute.parentRefs[{index}].sectionName"),
                format!(
                    "the Gateway has no listener {:?}: name one of gateway.listeners, or leave \
                     it empty for all",
                    parent.section_name
                ),
            );
        }
    }
    let first_is_ours = route.parent_refs.first().is_some_and(|parent| {
        (parent.name.is_empty() || parent.name == gateway_name) && parent.namespace.is_empty()
    });
    if route.tls.redirect && first_is_ours && !has_listener(HTTP_LISTENER) {
        ctx.error(
            "httproute.tls.redirect",
            "the redirect route attaches to the Gateway's listener `http`, which \
             gateway.listeners does not have: add {name: http, port: 80, protocol: HTTP}, or \
             turn the redirect off",
        );
    }
}

fn build_route(ctx: &Context, values: &values::Values, gateway_name: &str) -> Value {
    let route = &values.httproute;
    let parents: Vec<Value> = route
        .parent_refs
        .iter()
        .map(|parent| {
            let mut out = json!({
                "name": if parent.name.is_empty() { gateway_name } else { &parent.name },
            });
            if !parent.namespace.is_empty() {
                out["namespace"] = json!(parent.namespace);
            }
            if !parent.section_name.is_empty() {
                out["sectionName"] = json!(parent.section_name);
            }
            if let Some(port) = parent.port {
                out["port"] = json!(port);
            }
            out
        })
        .collect();
    let mut rules = vec![json!({
        "matches": [{ "path": { "type": "PathPrefix", "value": route.path } }],
        "backendRefs": [{ "name": ctx.full_name(COMPONENT), "port": values.service.port }],
    })];
    rules.extend(route.extra_rules.iter().filter(|rule| rule.is_object()).cloned());
    let spec = route_spec(route, parents, rules);
    json!({
        "apiVersion": API_VERSION,
        "kind": "HTTPRoute",
        "metadata": metadata(ctx, &route_name(ctx, route), "httproute", &route.labels, &route.annotations),
        "spec": spec,
    })
}

/// The route that answers plain HTTP on the first parent's `http` listener with a redirect
/// to HTTPS.
fn build_redirect(ctx: &Context, route: &values::HttpRoute, gateway_name: &str) -> Value {
    let first = route.parent_refs.first();
    let name = first.map(|parent| parent.name.as_str()).filter(|name| !name.is_empty());
    let mut parent = json!({ "name": name.unwrap_or(gateway_name), "sectionName": HTTP_LISTENER });
    if let Some(first) = first
        && !first.namespace.is_empty()
    {
        parent["namespace"] = json!(first.namespace);
    }
    let redirect = json!({
        "filters": [{
            "type": "RequestRedirect",
            "requestRedirect": {
                "scheme": "https",
                "port": route.tls.redirect_port,
                "statusCode": 301,
            },
        }],
    });
    let spec = route_spec(route, vec![parent], vec![redirect]);
    let name = format!("{}-tls-redirect", route_name(ctx, route));
    json!({
        "apiVersion": API_VERSION,
        "kind": "HTTPRoute",
        "metadata": metadata(ctx, &name, "httproute", &route.labels, &route.annotations),
        "spec": spec,
    })
}

/// An HTTPRoute's spec in the order people read one: where it attaches, for which hosts, what
/// it does.
fn route_spec(route: &values::HttpRoute, parents: Vec<Value>, rules: Vec<Value>) -> Value {
    let mut spec = Map::new();
    spec.insert("parentRefs".to_owned(), Value::Array(parents));
    if !route.hostnames.is_empty() {
        spec.insert("hostnames".to_owned(), json!(route.hostnames));
    }
    spec.insert("rules".to_owned(), Value::Array(rules));
    Value::Object(spec)
}

fn route_name(ctx: &Context, route: &values::HttpRoute) -> String {
    if route.name.is_empty() { ctx.full_name(COMPONENT) } else { route.name.clone() }
}

/// Name, namespace, the standard labels of `component` with the user's, and the user's
/// annotations.
fn metadata(
    ctx: &Context,
    name: &str,
    component: &str,
    labels: &std::collections::BTreeMap<String, String>,
    annotations: &std::collections::BTreeMap<String, String>,
) -> Value {
    let mut all_labels = ctx.labels(component);
    all_labels.extend(labels.clone());
    let mut out = Map::new();
    out.insert("name".to_owned(), json!(name));
    out.insert("namespace".to_owned(), json!(ctx.namespace()));
    out.insert("labels".to_owned(), json!(all_labels));
    if !annotations.is_empty() {
        out.insert("annotations".to_owned(), json!(annotations));
    }
    Value::Object(out)
}
