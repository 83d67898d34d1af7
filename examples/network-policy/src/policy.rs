//! The NetworkPolicy in front of the server's pods.

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::{
        api::networking::v1::{
            NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
            NetworkPolicySpec,
        },
        apimachinery::pkg::{
            apis::meta::v1::{LabelSelector, LabelSelectorRequirement},
            util::intstr::IntOrString,
        },
    },
};

use crate::{Values, clients::CLIENT_LABEL};

/// The server's API port in its pods.
const API_PORT: i32 = prefect_plugin_sdk::contract::server::PORT;

/// The policy: ingress to the server's pods on the API port, from the release's Prefect
/// clients, flow runs, the ingress controller's namespace and `allowFrom`; nothing else.
/// `None` when `allowFrom` has an error, which it reports with its warnings.
pub fn build(ctx: &Context, values: &Values) -> Option<NetworkPolicy> {
    let mut from = vec![pods(LabelSelector {
        match_labels: Some([(CLIENT_LABEL.to_owned(), "true".to_owned())].into()),
        ..LabelSelector::default()
    })];
    if values.allow_flow_runs {
        from.push(pods(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "prefect.io/flow-run-id".to_owned(),
                operator: "Exists".to_owned(),
                values: None,
            }]),
            ..LabelSelector::default()
        }));
    }
    if !values.ingress_namespace_selector.is_empty() {
        from.push(NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(values.ingress_namespace_selector.clone()),
                ..LabelSelector::default()
            }),
            ..NetworkPolicyPeer::default()
        });
    }
    from.extend(ctx.list::<NetworkPolicyPeer>(&values.allow_from, "allowFrom"));
    if ctx.failed() {
        return None;
    }
    let name = ctx.full_name("server");
    Some(NetworkPolicy {
        metadata: ctx.metadata(&name, "server"),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(ctx.pod_selector("server")),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(from),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::Int(API_PORT)),
                    protocol: Some("TCP".to_owned()),
                    ..NetworkPolicyPort::default()
                }]),
            }]),
            ..NetworkPolicySpec::default()
        }),
    })
}

fn pods(selector: LabelSelector) -> NetworkPolicyPeer {
    NetworkPolicyPeer { pod_selector: Some(selector), ..NetworkPolicyPeer::default() }
}
