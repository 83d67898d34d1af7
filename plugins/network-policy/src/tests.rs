//! The plugin run with prefect-plugin-test, as prefectctl runs it, after the workloads of the
//! first-party plugins: the parts of them it reads (names, labels, ports, environment).

use expect_test::expect;
use prefect_plugin_test::{Host, Rendered};
use serde_json::{Value, json};

use crate::{NetworkPolicy, graph::CLIENT_LABEL};

fn labels(component: &str) -> Value {
    json!({
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/instance": "prefect",
        "app.kubernetes.io/managed-by": "prefectctl",
        "app.kubernetes.io/name": format!("prefect-{component}"),
        "app.kubernetes.io/part-of": "prefect",
    })
}

fn env(pairs: &[(&str, &str)]) -> Value {
    pairs.iter().map(|(name, value)| json!({ "name": name, "value": value })).collect()
}

/// A workload of `kind` called `prefect-<component>` whose container `container` sets `env`
/// and serves `ports` (name, number).
fn workload(
    kind: &str,
    component: &str,
    container: &str,
    env: Value,
    ports: &[(&str, i32)],
) -> Value {
    let ports: Vec<Value> =
        ports.iter().map(|(name, port)| json!({ "name": name, "containerPort": port })).collect();
    let template = json!({
        "metadata": { "labels": labels(component) },
        "spec": { "containers": [{ "name": container, "image": "x", "env": env, "ports": ports }] },
    });
    let mut spec = json!({ "template": template });
    if kind != "Job" {
        spec["selector"] = json!({ "matchLabels": {
            "app.kubernetes.io/instance": "prefect",
            "app.kubernetes.io/name": format!("prefect-{component}"),
        }});
    }
    json!({
        "apiVersion": if kind == "Job" { "batch/v1" } else { "apps/v1" },
        "kind": kind,
        "metadata": { "name": format!("prefect-{component}"), "namespace": "prefect", "labels": labels(component) },
        "spec": spec,
    })
}

const DATABASE: (&str, &str) = ("PREFECT_SERVER_DATABASE_HOST", "prefect-postgresql");
const REDIS: (&str, &str) = ("PREFECT_REDIS_MESSAGING_HOST", "prefect-redis");
const API_URL: (&str, &str) = ("PREFECT_API_URL", "http://prefect-server.prefect.svc:4200/api");

/// The scaled-out server with every first-party component.
fn full_stack() -> Vec<Value> {
    vec![
        workload(
            "Deployment",
            "server",
            "prefect-server",
            env(&[("PREFECT_API_URL", "http://localhost:4200/api"), DATABASE, REDIS]),
            &[("http", 4200)],
        ),
        workload(
            "Deployment",
            "background-services",
            "prefect-background-services",
            env(&[DATABASE, REDIS]),
            &[],
        ),
        workload("Job", "db-migrations", "prefect-db-migrations", env(&[DATABASE]), &[]),
        workload("Deployment", "worker", "prefect-worker", env(&[API_URL]), &[("health", 8080)]),
        workload("StatefulSet", "postgresql", "postgresql", env(&[]), &[("postgresql", 5432)]),
        workload("StatefulSet", "redis", "redis", env(&[]), &[("redis", 6379)]),
        workload(
            "Deployment",
            "metrics",
            "prometheus-prefect-exporter",
            env(&[API_URL]),
            &[("metrics", 8000)],
        ),
    ]
}

fn run(resources: Vec<Value>, values: &str) -> Rendered {
    Host::new()
        .with_plugins(&["server", "agent", "postgres", "redis", "metrics"])
        .with_resources(resources)
        .values(values)
        .run::<NetworkPolicy>()
        .unwrap_or_else(|failure| panic!("{failure}"))
}

/// The NetworkPolicies as `render` writes them.
fn policies(rendered: &Rendered) -> String {
    let yaml = rendered.yaml();
    let documents: Vec<&str> =
        yaml.split("---\n").filter(|doc| doc.contains("\nkind: NetworkPolicy\n")).collect();
    documents.join("---\n")
}

fn pod_labels(rendered: &Rendered, kind: &str, name: &str) -> Value {
    let object = rendered.get(kind, name).unwrap();
    prefect_plugin_sdk::pods::template(object).unwrap()["metadata"]["labels"].clone()
}

#[test]
fn the_full_stack_gets_a_baseline_and_one_policy_per_served_port() {
    let rendered = run(full_stack(), "");
    assert_eq!(rendered.warnings, Vec::<String>::new());
    expect![[r##"
        # Source: added by network-policy
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          labels:
            app.kubernetes.io/component: network-policy
            app.kubernetes.io/instance: prefect
            app.kubernetes.io/managed-by: prefectctl
            app.kubernetes.io/name: prefect-network-policy
            app.kubernetes.io/part-of: prefect
          name: prefect-default-deny-ingress
          namespace: prefect
        spec:
          podSelector:
            matchExpressions:
            - key: prefect.io/flow-run-id
              operator: DoesNotExist
            matchLabels:
              app.kubernetes.io/instance: prefect
              app.kubernetes.io/managed-by: prefectctl
          policyTypes:
          - Ingress
        ---
        # Source: added by network-policy
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          labels:
            app.kubernetes.io/component: network-policy
            app.kubernetes.io/instance: prefect
            app.kubernetes.io/managed-by: prefectctl
            app.kubernetes.io/name: prefect-network-policy
            app.kubernetes.io/part-of: prefect
          name: prefect-metrics
          namespace: prefect
        spec:
          ingress:
          - from:
            - namespaceSelector: {}
            ports:
            - port: 8000
              protocol: TCP
          podSelector:
            matchLabels:
              app.kubernetes.io/instance: prefect
              app.kubernetes.io/name: prefect-metrics
          policyTypes:
          - Ingress
        ---
        # Source: added by network-policy
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          labels:
            app.kubernetes.io/component: network-policy
            app.kubernetes.io/instance: prefect
            app.kubernetes.io/managed-by: prefectctl
            app.kubernetes.io/name: prefect-network-policy
            app.kubernetes.io/part-of: prefect
          name: prefect-postgresql
          namespace: prefect
        spec:
          ingress:
          - from:
            - podSelector:
                matchLabels:
                  app.kubernetes.io/instance: prefect
                  app.kubernetes.io/name: prefect-background-services
            - podSelector:
                matchLabels:
                  app.kubernetes.io/instance: prefect
                  app.kubernetes.io/name: prefect-server
            - podSelector:
                matchLabels:
                  app.kubernetes.io/instance: prefect
                  app.kubernetes.io/name: prefect-db-migrations
            ports:
            - port: 5432
              protocol: TCP
          podSelector:
            matchLabels:
              app.kubernetes.io/instance: prefect
              app.kubernetes.io/name: prefect-postgresql
          policyTypes:
          - Ingress
        ---
        # Source: added by network-policy
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          labels:
            app.kubernetes.io/component: network-policy
            app.kubernetes.io/instance: prefect
            app.kubernetes.io/managed-by: prefectctl
            app.kubernetes.io/name: prefect-network-policy
            app.kubernetes.io/part-of: prefect
          name: prefect-redis
          namespace: prefect
        spec:
          ingress:
          - from:
            - podSelector:
                matchLabels:
                  app.kubernetes.io/instance: prefect
                  app.kubernetes.io/name: prefect-background-services
            - podSelector:
                matchLabels:
                  app.kubernetes.io/instance: prefect
                  app.kubernetes.io/name: prefect-server
            ports:
            - port: 6379
              protocol: TCP
          podSelector:
            matchLabels:
              app.kubernetes.io/instance: prefect
              app.kubernetes.io/name: prefect-redis
          policyTypes:
          - Ingress
        ---
        # Source: added by network-policy
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          labels:
            app.kubernetes.io/component: network-policy
            app.kubernetes.io/instance: prefect
            app.kubernetes.io/managed-by: prefectctl
            app.kubernetes.io/name: prefect-network-policy
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
    "##]]
    .assert_eq(&policies(&rendered));
}

#[test]
fn the_api_clients_are_labelled_and_nothing_else() {
    let rendered = run(full_stack(), "");
    for (kind, name) in [("Deployment", "prefect-worker"), ("Deployment", "prefect-metrics")] {
        assert_eq!(pod_labels(&rendered, kind, name)[CLIENT_LABEL], "true", "{name}");
        assert_eq!(
            rendered.provenance(kind, name).unwrap(),
            r#"added by earlier-plugins; changed by network-policy (spec.template.metadata.labels["prefectctl.io/prefect-api-client"])"#
        );
    }
    for (kind, name) in [
        ("Deployment", "prefect-server"),
        ("Deployment", "prefect-background-services"),
        ("Job", "prefect-db-migrations"),
        ("StatefulSet", "prefect-postgresql"),
        ("StatefulSet", "prefect-redis"),
    ] {
        assert_eq!(pod_labels(&rendered, kind, name), labels(name.trim_start_matches("prefect-")));
    }
}

/// The `from` of policy `name`'s only rule, as JSON.
fn from_of(rendered: &Rendered, name: &str) -> String {
    let policy = rendered.get("NetworkPolicy", name).unwrap_or_else(|| panic!("no {name}"));
    serde_json::to_string(&policy["spec"]["ingress"][0]["from"]).unwrap()
}

fn policy_names(rendered: &Rendered) -> Vec<String> {
    let policies = rendered.resources().into_iter().filter(|o| o["kind"] == "NetworkPolicy");
    policies.map(|o| o["metadata"]["name"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn the_values_open_the_server_and_the_backends_to_more_peers_and_narrow_the_scrapers() {
    let values = r#"
network-policy:
  server:
    allowIngressController: false
    allowFlowRuns: false
    allowFrom:
      - ipBlock: { cidr: 10.0.0.0/24 }
  postgres:
    allowFrom:
      - podSelector: { matchLabels: { app: backup } }
  metrics:
    namespaceSelector: { kubernetes.io/metadata.name: monitoring }
    podSelector: { app.kubernetes.io/name: prometheus }
"#;
    let rendered = run(full_stack(), values);
    assert_eq!(
        from_of(&rendered, "prefect-server"),
        r#"[{"podSelector":{"matchLabels":{"prefectctl.io/prefect-api-client":"true"}}},{"ipBlock":{"cidr":"10.0.0.0/24"}}]"#
    );
    assert!(
        from_of(&rendered, "prefect-postgresql")
            .ends_with(r#",{"podSelector":{"matchLabels":{"app":"backup"}}}]"#)
    );
    assert_eq!(
        from_of(&rendered, "prefect-metrics"),
        r#"[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}},"podSelector":{"matchLabels":{"app.kubernetes.io/name":"prometheus"}}}]"#
    );
}

#[test]
fn a_peer_that_is_not_one_is_refused_with_its_path() {
    let values =
        "network-policy:\n  redis:\n    allowFrom:\n      - ipBlock: { except: [10.0.0.1/32] }\n";
    let failure =
        Host::new().with_resources(full_stack()).values(values).run::<NetworkPolicy>().unwrap_err();
    assert_eq!(
        failure.to_string(),
        "plugin `network-policy`: values.yaml:4: network-policy.redis.allowFrom[0].ipBlock.cidr: `cidr` is missing: a Kubernetes NetworkPolicyPeer needs it here"
    );
}

#[test]
fn each_component_gets_its_policy_only_when_its_workload_is_in_the_graph() {
    let stack = full_stack();
    let only = |names: &[&str]| -> Vec<Value> {
        let wanted = |o: &&Value| names.iter().any(|n| o["metadata"]["name"] == *n);
        stack.iter().filter(wanted).cloned().collect()
    };
    // The default stack: the server on SQLite.
    let rendered = run(only(&["prefect-server"]), "");
    assert_eq!(policy_names(&rendered), ["prefect-default-deny-ingress", "prefect-server"]);
    assert_eq!(rendered.warnings, Vec::<String>::new());
    // A worker of Prefect Cloud: not a client of any server here; the baseline still selects it.
    let mut worker = only(&["prefect-worker"]);
    worker[0]["spec"]["template"]["spec"]["containers"][0]["env"] =
        env(&[("PREFECT_API_URL", "https://api.prefect.cloud/api/accounts/a/workspaces/w")]);
    let rendered = run(worker, "");
    assert_eq!(policy_names(&rendered), ["prefect-default-deny-ingress"]);
    assert_eq!(pod_labels(&rendered, "Deployment", "prefect-worker"), labels("worker"));
}

#[test]
fn a_backend_nobody_connects_to_is_open_only_to_allow_from_and_says_so() {
    let stack: Vec<Value> =
        full_stack().into_iter().filter(|o| o["metadata"]["name"] == "prefect-redis").collect();
    let rendered = run(stack, "");
    assert_eq!(from_of(&rendered, "prefect-redis"), "[]");
    assert_eq!(
        rendered.warnings,
        [
            "plugin `network-policy`: network-policy.redis: no pod of the release connects to prefect-redis (none sets PREFECT_REDIS_MESSAGING_HOST to it): only the peers of allowFrom may reach it"
        ]
    );
}

#[test]
fn the_ports_and_the_release_come_from_the_graph() {
    let mut stack = full_stack();
    stack[0]["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] =
        json!(4300);
    stack[5]["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([]);
    let rendered = run(stack, "");
    let port = |name| {
        rendered.get("NetworkPolicy", name).unwrap()["spec"]["ingress"][0]["ports"][0]["port"]
            .clone()
    };
    assert_eq!(port("prefect-server"), 4300);
    // No such port in the graph: the policy names it, as a NetworkPolicy may.
    assert_eq!(port("prefect-redis"), "redis");

    let rendered = Host::new().release("ops", "prefect").run::<NetworkPolicy>().unwrap();
    let baseline = rendered.get("NetworkPolicy", "ops-default-deny-ingress").unwrap();
    assert_eq!(baseline["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"], "ops");
}

#[test]
fn on_openshift_the_default_ingress_namespace_is_named_as_the_routers_is_not() {
    let openshift = |values: &str| {
        Host::new()
            .with_plugins(&["server", "openshift-security"])
            .with_resources(full_stack())
            .values(values)
            .run::<NetworkPolicy>()
            .unwrap()
            .warnings
    };
    assert_eq!(
        openshift(""),
        [
            "plugin `network-policy`: network-policy.server.ingressNamespaceSelector: on OpenShift the router runs in openshift-ingress, which this selector (ingress-nginx's namespace) leaves out, so a Route cannot reach the server: set `policy-group.network.openshift.io/ingress: \"\"` and `kubernetes.io/metadata.name: null`"
        ]
    );
    let router = "network-policy:\n  server:\n    ingressNamespaceSelector:\n      kubernetes.io/metadata.name: null\n      policy-group.network.openshift.io/ingress: \"\"\n";
    assert_eq!(openshift(router), Vec::<String>::new());
    let rendered = run(full_stack(), router);
    assert_eq!(
        from_of(&rendered, "prefect-server"),
        r#"[{"podSelector":{"matchLabels":{"prefectctl.io/prefect-api-client":"true"}}},{"podSelector":{"matchExpressions":[{"key":"prefect.io/flow-run-id","operator":"Exists"}]}},{"namespaceSelector":{"matchLabels":{"policy-group.network.openshift.io/ingress":""}}}]"#
    );
}

#[test]
fn the_prebuilt_manifest_is_what_the_code_builds() {
    expect_test::expect_file!["../manifest.json"]
        .assert_eq(&prefect_plugin_sdk::manifest_json::<crate::NetworkPolicy>());
}
