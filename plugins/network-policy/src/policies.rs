//! The NetworkPolicies. They add up: a pod selected by several is reachable by what any of
//! them allows, so the baseline refuses everything and each component's own policy opens its
//! port to its clients.
//!
//! Only ingress is restricted. Egress stays open: every pod resolves names through the
//! cluster's DNS, the worker talks to the Kubernetes API (whose address and port differ from
//! cluster to cluster, and which no pod selector can name), and a server may use an external
//! database or Redis anywhere; the pods it could reach are the ones these policies guard.

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::{
        api::networking::v1::{
            NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
            NetworkPolicySpec,
        },
        apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement},
    },
    labels::MANAGED_BY,
};

use crate::{
    graph::{self, CLIENT_LABEL},
    values::{Backend, Metrics, Server},
};

/// The component label of the policies themselves.
pub const COMPONENT: &str = "network-policy";
/// The label flow-run pods carry (Prefect's Kubernetes worker sets it).
pub const FLOW_RUN_LABEL: &str = "prefect.io/flow-run-id";

/// A component's pods as its plugin names them: workload kind, component (the workload is
/// `<release>-<component>`), container and the name of the port it serves.
pub struct Component {
    /// The workload's kind.
    pub kind: &'static str,
    /// The workload's name is `<release>-<component>`, and so is its Service's.
    pub component: &'static str,
    /// The container that serves the port.
    pub container: &'static str,
    /// The name of the container's port.
    pub port: &'static str,
}

/// The server plugin's API server.
pub const SERVER: Component = Component {
    kind: "Deployment",
    component: prefect_plugin_sdk::contract::server::COMPONENT,
    container: prefect_plugin_sdk::contract::server::CONTAINER,
    port: prefect_plugin_sdk::contract::server::PORT_NAME,
};
/// The postgres plugin's database; the server plugin's pods find it through
/// `PREFECT_SERVER_DATABASE_HOST`.
pub const POSTGRES: Component = Component {
    kind: "StatefulSet",
    component: "postgresql",
    container: "postgresql",
    port: "postgresql",
};
/// The redis plugin's Redis; the server plugin's pods find it through
/// `PREFECT_REDIS_MESSAGING_HOST`.
pub const REDIS: Component =
    Component { kind: "StatefulSet", component: "redis", container: "redis", port: "redis" };
/// The metrics plugin's exporter.
pub const METRICS: Component = Component {
    kind: "Deployment",
    component: "metrics",
    container: "prometheus-prefect-exporter",
    port: "metrics",
};

/// `<release>-default-deny-ingress`: every pod of the release (instance and managed-by
/// labels, which every first-party plugin puts on its pod templates) accepts no connection
/// that another policy does not allow. Flow-run pods, which the worker makes, are left alone.
pub fn default_deny(ctx: &Context) -> NetworkPolicy {
    let selector = LabelSelector {
        match_labels: Some(
            [
                ("app.kubernetes.io/instance".to_owned(), ctx.release_name().to_owned()),
                ("app.kubernetes.io/managed-by".to_owned(), MANAGED_BY.to_owned()),
            ]
            .into(),
        ),
        match_expressions: Some(vec![requirement(FLOW_RUN_LABEL, "DoesNotExist")]),
    };
    policy(ctx, &ctx.full_name("default-deny-ingress"), selector, Vec::new())
}

/// The server's API port, from the release's Prefect API clients, flow runs, the ingress
/// controller and `allowFrom`; `None` without the server in the graph.
pub fn server(ctx: &Context, values: &Server) -> Option<NetworkPolicy> {
    let mut from = vec![pods(labels(&[(CLIENT_LABEL, "true")]))];
    if values.allow_flow_runs {
        from.push(pods(LabelSelector {
            match_expressions: Some(vec![requirement(FLOW_RUN_LABEL, "Exists")]),
            ..LabelSelector::default()
        }));
    }
    if values.allow_ingress_controller {
        from.push(NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(values.ingress_namespace_selector.clone()),
                ..LabelSelector::default()
            }),
            ..NetworkPolicyPeer::default()
        });
    }
    from.extend(ctx.list::<NetworkPolicyPeer>(&values.allow_from, "server.allowFrom"));
    component_policy(ctx, &SERVER, from)
}

/// A backend's port (postgres, redis), from the release's pods whose `var` names its Service,
/// and `allowFrom`; `None` without it in the graph.
pub fn backend(
    ctx: &Context,
    target: &Component,
    var: &str,
    values: &Backend,
    path: &str,
) -> Option<NetworkPolicy> {
    let service = ctx.full_name(target.component);
    let mut from: Vec<NetworkPolicyPeer> =
        graph::pods_connecting(ctx, var, &service).into_iter().map(pods).collect();
    if from.is_empty() && graph::find(ctx, target.kind, &service).is_some() {
        ctx.warn(
            path,
            format!(
                "no pod of the release connects to {service} (none sets {var} to it): only the \
                 peers of allowFrom may reach it"
            ),
        );
    }
    from.extend(ctx.list::<NetworkPolicyPeer>(&values.allow_from, &format!("{path}.allowFrom")));
    component_policy(ctx, target, from)
}

/// The exporter's port, from the namespaces and pods `metrics` selects; `None` without the
/// exporter in the graph.
pub fn metrics(ctx: &Context, values: &Metrics) -> Option<NetworkPolicy> {
    let peer = NetworkPolicyPeer {
        // An empty namespace selector selects every namespace.
        namespace_selector: Some(LabelSelector {
            match_labels: Some(values.namespace_selector.clone()).filter(|l| !l.is_empty()),
            ..LabelSelector::default()
        }),
        pod_selector: Some(LabelSelector {
            match_labels: Some(values.pod_selector.clone()),
            ..LabelSelector::default()
        })
        .filter(|_| !values.pod_selector.is_empty()),
        ..NetworkPolicyPeer::default()
    };
    component_policy(ctx, &METRICS, vec![peer])
}

/// `<release>-<component>`, selecting the component's pods as its workload does, open on its
/// port to `from`; `None` when the workload is not in the graph.
fn component_policy(
    ctx: &Context,
    target: &Component,
    from: Vec<NetworkPolicyPeer>,
) -> Option<NetworkPolicy> {
    let name = ctx.full_name(target.component);
    let workload = graph::find(ctx, target.kind, &name)?;
    let selector = graph::selector(workload).unwrap_or_else(|| ctx.pod_selector(target.component));
    let port = graph::port(workload, target.container, target.port);
    let rule = NetworkPolicyIngressRule {
        from: Some(from),
        ports: Some(vec![NetworkPolicyPort {
            port: Some(port),
            protocol: Some("TCP".to_owned()),
            ..NetworkPolicyPort::default()
        }]),
    };
    Some(policy(ctx, &name, selector, vec![rule]))
}

fn policy(
    ctx: &Context,
    name: &str,
    selector: LabelSelector,
    ingress: Vec<NetworkPolicyIngressRule>,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ctx.metadata(name, COMPONENT),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(ingress).filter(|rules| !rules.is_empty()),
            ..NetworkPolicySpec::default()
        }),
    }
}

fn pods(selector: LabelSelector) -> NetworkPolicyPeer {
    NetworkPolicyPeer { pod_selector: Some(selector), ..NetworkPolicyPeer::default() }
}

fn labels(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
        ..LabelSelector::default()
    }
}

fn requirement(key: &str, operator: &str) -> LabelSelectorRequirement {
    LabelSelectorRequirement { key: key.to_owned(), operator: operator.to_owned(), values: None }
}
