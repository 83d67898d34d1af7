//! The plugin run as prefectctl runs it, with prefect-plugin-test.

use expect_test::expect;
use prefect_plugin_test::Host;
use prefectctl_plugin_network_policy::NetworkPolicy;
use serde_json::json;

/// The worker the agent plugin adds, as far as this plugin cares.
fn worker() -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "prefect-worker", "namespace": "prefect" },
        "spec": { "selector": {}, "template": { "spec": { "containers": [{
            "name": "prefect-worker",
            "env": [{ "name": "PREFECT_API_URL", "value": "http://prefect-server.prefect.svc:4200/api" }],
        }] } } },
    })
}

#[test]
fn the_policy_lets_in_clients_flow_runs_and_the_ingress_controller() {
    let rendered = Host::new()
        .with_plugins(&["server", "agent"])
        .with_resources(vec![worker()])
        .run::<NetworkPolicy>()
        .unwrap();
    expect![[r#"
        ---
        # Source: added by network-policy
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          labels:
            app.kubernetes.io/component: server
            app.kubernetes.io/instance: prefect
            app.kubernetes.io/managed-by: prefectctl
            app.kubernetes.io/name: prefect-server
            app.kubernetes.io/part-of: prefect
          name: prefect-server
          namespace: prefect
        spec:
          ingress:
          - from:
            - podSelector:
                matchLabels:
                  prefectctl.io/prefect-api-client: "true"
            - podSelector:
                matchExpressions:
                - key: prefect.io/flow-run-id
                  operator: Exists
            - namespaceSelector:
                matchLabels:
                  kubernetes.io/metadata.name: ingress-nginx
            ports:
            - port: 4200
              protocol: TCP
          podSelector:
            matchLabels:
              app.kubernetes.io/instance: prefect
              app.kubernetes.io/name: prefect-server
          policyTypes:
          - Ingress
        ---
        # Source: added by earlier-plugins; changed by network-policy (spec.template.metadata)
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: prefect-worker
          namespace: prefect
        spec:
          selector: {}
          template:
            spec:
              containers:
              - name: prefect-worker
                env:
                - name: PREFECT_API_URL
                  value: http://prefect-server.prefect.svc:4200/api
            metadata:
              labels:
                prefectctl.io/prefect-api-client: "true"
    "#]]
    .assert_eq(&rendered.yaml());
    assert_eq!(
        rendered.provenance("Deployment", "prefect-worker").unwrap(),
        r#"added by earlier-plugins; changed by network-policy (spec.template.metadata)"#
    );
    assert!(rendered.warnings.is_empty(), "{:?}", rendered.warnings);
}

#[test]
fn values_are_checked_as_prefectctl_checks_them() {
    let failure = Host::new()
        .values("network-policy:\n  allowFlowRun: false\n")
        .run::<NetworkPolicy>()
        .unwrap_err();
    assert_eq!(
        failure.to_string(),
        "values.yaml:2: network-policy.allowFlowRun: unknown key (did you mean `allowFlowRuns`?)"
    );
    let failure = Host::new()
        .values("network-policy:\n  allowFrom:\n    - podSelector: { matchLabels: 3 }\n")
        .run::<NetworkPolicy>()
        .unwrap_err();
    assert_eq!(
        failure.to_string(),
        "plugin `network-policy`: values.yaml:3: network-policy.allowFrom[0].podSelector.matchLabels: invalid type: integer `3`, expected a map"
    );
}

#[test]
fn without_clients_the_worker_would_be_refused() {
    let rendered = Host::new().with_plugins(&["server", "agent"]).run::<NetworkPolicy>().unwrap();
    assert_eq!(
        rendered.warnings,
        ["plugin `network-policy`: no workload talks to the server: the worker will be refused"]
    );
}

#[test]
fn a_misspelt_key_in_allow_from_is_a_warning_users_see() {
    let rendered = Host::new()
        .values("network-policy:\n  allowFrom:\n    - podSelektor: { matchLabels: { a: b } }\n")
        .run::<NetworkPolicy>()
        .unwrap();
    assert_eq!(
        rendered.warnings,
        [
            "plugin `network-policy`: values.yaml:3: network-policy.allowFrom[0].podSelektor: `podSelektor` is not a field here (in a Kubernetes NetworkPolicyPeer) and is ignored: check its spelling and indentation"
        ]
    );
}
