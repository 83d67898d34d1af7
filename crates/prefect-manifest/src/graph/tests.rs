//! Tests of [`Graph`]: order, conflicts, changes and their provenance, atomicity.

use expect_test::{Expect, expect};
use serde_json::json;

use super::*;

fn object(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Value {
    let mut metadata = json!({ "name": name });
    if let Some(namespace) = namespace {
        metadata["namespace"] = json!(namespace);
    }
    json!({ "apiVersion": api_version, "kind": kind, "metadata": metadata })
}

fn service(name: &str) -> Value {
    let mut service = object("v1", "Service", Some("prefect"), name);
    service["spec"] = json!({ "ports": [{ "name": "http", "port": 4200 }] });
    service
}

fn deployment(name: &str) -> Value {
    let mut deployment = object("apps/v1", "Deployment", Some("prefect"), name);
    deployment["spec"] = json!({
        "replicas": 1,
        "template": { "spec": {
            "securityContext": { "runAsUser": 1000 },
            "containers": [{ "name": "server", "image": "prefecthq/prefect:3" }],
        } },
    });
    deployment
}

fn key(object: &Value) -> ResourceKey {
    ResourceKey::of(object).unwrap()
}

/// The graph in order, one resource a line with its provenance.
fn dump(graph: &Graph) -> String {
    graph
        .ordered()
        .into_iter()
        .map(|(key, _)| format!("{}  # {}\n", key.long(), graph.provenance(key).unwrap()))
        .collect()
}

fn check_errors(errors: &[Error], expect: Expect) {
    expect.assert_eq(&errors.iter().map(|error| format!("{error}\n")).collect::<String>());
}

/// Many kinds, and several resources of one kind, in a shuffled order.
fn shuffled_resources() -> Vec<Value> {
    vec![
        object("monitoring.coreos.com/v1", "ServiceMonitor", Some("prefect"), "server"),
        object("networking.k8s.io/v1", "Ingress", Some("prefect"), "ui"),
        deployment("prefect-worker"),
        object("v1", "ConfigMap", Some("prefect"), "settings"),
        object("policy/v1", "PodDisruptionBudget", Some("prefect"), "server"),
        object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", None, "agent"),
        service("prefect-server"),
        object("batch/v1", "Job", Some("prefect"), "migrate"),
        object("v1", "Secret", Some("prefect"), "db"),
        object("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "widgets.example.com"),
        object("autoscaling/v2", "HorizontalPodAutoscaler", Some("prefect"), "server"),
        deployment("prefect-server"),
        object("v1", "PersistentVolumeClaim", Some("prefect"), "data"),
        object("example.com/v1", "Widget", Some("prefect"), "w"),
        object("rbac.authorization.k8s.io/v1", "Role", Some("prefect"), "agent"),
        object("v1", "Namespace", None, "prefect"),
        object("v1", "ServiceAccount", Some("prefect"), "server"),
        object("v1", "ServiceAccount", Some("other"), "server"),
        object("apps/v1", "StatefulSet", Some("prefect"), "postgres"),
        object("rbac.authorization.k8s.io/v1", "ClusterRole", None, "agent"),
        object("networking.k8s.io/v1", "NetworkPolicy", Some("prefect"), "deny"),
        object("rbac.authorization.k8s.io/v1", "RoleBinding", Some("prefect"), "agent"),
        object("batch/v1", "CronJob", Some("prefect"), "cleanup"),
    ]
}

#[test]
fn the_order_does_not_depend_on_insertion_order() {
    let resources = shuffled_resources();
    let mut forward = Graph::new();
    forward.apply("a", resources.clone(), vec![]).unwrap();
    let mut backward = Graph::new();
    for resource in resources.into_iter().rev() {
        backward.add("a", resource).unwrap();
    }
    assert_eq!(dump(&forward), dump(&backward));
    expect![[r#"
        v1 Namespace prefect  # added by a
        apiextensions.k8s.io/v1 CustomResourceDefinition widgets.example.com  # added by a
        networking.k8s.io/v1 NetworkPolicy prefect/deny  # added by a
        v1 ServiceAccount other/server  # added by a
        v1 ServiceAccount prefect/server  # added by a
        v1 Secret prefect/db  # added by a
        v1 ConfigMap prefect/settings  # added by a
        rbac.authorization.k8s.io/v1 ClusterRole agent  # added by a
        rbac.authorization.k8s.io/v1 ClusterRoleBinding agent  # added by a
        rbac.authorization.k8s.io/v1 Role prefect/agent  # added by a
        rbac.authorization.k8s.io/v1 RoleBinding prefect/agent  # added by a
        v1 PersistentVolumeClaim prefect/data  # added by a
        v1 Service prefect/prefect-server  # added by a
        apps/v1 Deployment prefect/prefect-server  # added by a
        apps/v1 Deployment prefect/prefect-worker  # added by a
        apps/v1 StatefulSet prefect/postgres  # added by a
        batch/v1 Job prefect/migrate  # added by a
        batch/v1 CronJob prefect/cleanup  # added by a
        autoscaling/v2 HorizontalPodAutoscaler prefect/server  # added by a
        policy/v1 PodDisruptionBudget prefect/server  # added by a
        networking.k8s.io/v1 Ingress prefect/ui  # added by a
        monitoring.coreos.com/v1 ServiceMonitor prefect/server  # added by a
        example.com/v1 Widget prefect/w  # added by a
    "#]]
    .assert_eq(&dump(&forward));
}

#[test]
fn waves_group_the_stages() {
    let mut graph = Graph::new();
    graph.apply("a", shuffled_resources(), vec![]).unwrap();
    let waves: String = graph
        .waves()
        .iter()
        .map(|wave| {
            let keys: Vec<String> = wave.iter().map(ToString::to_string).collect();
            format!("{}\n", keys.join(", "))
        })
        .collect();
    expect![[r#"
        Namespace/prefect, CustomResourceDefinition/widgets.example.com
        NetworkPolicy/prefect/deny, ServiceAccount/other/server, ServiceAccount/prefect/server, Secret/prefect/db, ConfigMap/prefect/settings, ClusterRole/agent, ClusterRoleBinding/agent, Role/prefect/agent, RoleBinding/prefect/agent, PersistentVolumeClaim/prefect/data
        Service/prefect/prefect-server
        Deployment/prefect/prefect-server, Deployment/prefect/prefect-worker, StatefulSet/prefect/postgres, Job/prefect/migrate, CronJob/prefect/cleanup
        HorizontalPodAutoscaler/prefect/server, PodDisruptionBudget/prefect/server, Ingress/prefect/ui, ServiceMonitor/prefect/server, Widget/prefect/w
    "#]]
    .assert_eq(&waves);

    let mut sparse = Graph::new();
    sparse.add("a", service("s")).unwrap();
    sparse.add("a", object("v1", "Namespace", None, "prefect")).unwrap();
    let waves: Vec<Vec<String>> =
        sparse.waves().iter().map(|w| w.iter().map(ToString::to_string).collect()).collect();
    assert_eq!(waves, [["Namespace/prefect"], ["Service/prefect/s"]]);
    assert!(Graph::new().waves().is_empty());
}

#[test]
fn a_gate_job_splits_the_workloads() {
    let mut gate = object("batch/v1", "Job", Some("prefect"), "migrate");
    gate["metadata"]["annotations"] = json!({
        crate::order::RUN_BEFORE_ANNOTATION:
            "Deployment/prefect-server, Deployment/gone,StatefulSet/other-namespace"
    });
    let mut elsewhere = object("apps/v1", "StatefulSet", Some("other"), "other-namespace");
    elsewhere["spec"] = json!({});
    let mut graph = Graph::new();
    graph
        .apply(
            "a",
            vec![
                deployment("prefect-server"),
                gate,
                deployment("prefect-worker"),
                object("batch/v1", "Job", Some("prefect"), "plain"),
                elsewhere,
                service("prefect-server"),
                object("policy/v1", "PodDisruptionBudget", Some("prefect"), "server"),
            ],
            vec![],
        )
        .unwrap();
    let waves: Vec<Vec<String>> =
        graph.waves().iter().map(|w| w.iter().map(ToString::to_string).collect()).collect();
    assert_eq!(
        waves,
        [
            vec!["Service/prefect/prefect-server"],
            vec![
                "Deployment/prefect/prefect-worker",
                "StatefulSet/other/other-namespace",
                "Job/prefect/plain"
            ],
            vec!["Job/prefect/migrate"],
            vec!["Deployment/prefect/prefect-server"],
            vec!["PodDisruptionBudget/prefect/server"],
        ]
    );
    let ordered: Vec<String> = graph.ordered().iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(ordered, waves.concat(), "render order is apply order");
}

#[test]
fn a_conflict_names_both_plugins() {
    let mut graph = Graph::new();
    graph.add("server", service("prefect-server")).unwrap();
    let error = graph.add("my-plugin", service("prefect-server")).unwrap_err();
    expect![[r#"Service/prefect/prefect-server is added by both `server` and `my-plugin`: a plugin that means to change another's resource returns it in `changed`; otherwise rename one of them"#]]
        .assert_eq(&error.to_string());
}

#[test]
fn pdb_versions_are_the_same_resource() {
    let mut graph = Graph::new();
    graph.add("server", object("policy/v1beta1", "PodDisruptionBudget", Some("p"), "s")).unwrap();
    let v1 = object("policy/v1", "PodDisruptionBudget", Some("p"), "s");
    assert!(graph.get(&key(&v1)).is_some());
    let error = graph.add("other", v1.clone()).unwrap_err();
    expect![[r#"PodDisruptionBudget/p/s is added by both `server` and `other`: a plugin that means to change another's resource returns it in `changed`; otherwise rename one of them"#]]
        .assert_eq(&error.to_string());

    // Changing the version is a change, not a new resource; the stored key follows it.
    graph.change("capabilities", v1).unwrap();
    assert_eq!(graph.len(), 1);
    expect![[r#"
        policy/v1 PodDisruptionBudget p/s  # added by server; changed by capabilities (apiVersion)
    "#]]
    .assert_eq(&dump(&graph));
}

#[test]
fn changes_record_the_paths_they_change() {
    let mut graph = Graph::new();
    graph
        .apply("server", vec![deployment("prefect-server"), service("prefect-server")], vec![])
        .unwrap();

    let mut changed = deployment("prefect-server");
    changed["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = json!(1000680000);
    changed["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = json!(true);
    graph.apply("openshift-security", vec![], vec![changed.clone()]).unwrap();

    let mut sidecar = changed.clone();
    sidecar["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "proxy", "image": "envoy" }));
    sidecar["spec"]["template"]["spec"]["containers"][0]["image"] = json!("prefecthq/prefect:3.1");
    graph.change("mesh", sidecar.clone()).unwrap();

    let mut image = sidecar.clone();
    image["spec"]["template"]["spec"]["containers"][1]["image"] = json!("envoy:1.30");
    image["metadata"]["labels"] = json!({ "app.kubernetes.io/version": "3.1" });
    graph.change("mesh", image.clone()).unwrap();

    // An unchanged object changes nothing and records nothing.
    graph.change("noop", image.clone()).unwrap();
    graph.change("noop", service("prefect-server")).unwrap();

    assert_eq!(graph.get(&key(&image)), Some(&image));
    expect![[r#"
        v1 Service prefect/prefect-server  # added by server
        apps/v1 Deployment prefect/prefect-server  # added by server; changed by openshift-security (spec.template.spec.securityContext.runAsUser, spec.template.spec.securityContext.runAsNonRoot); changed by mesh (spec.template.spec.containers, metadata.labels, spec.template.spec.containers[1].image)
    "#]]
    .assert_eq(&dump(&graph));
}

#[test]
fn changing_what_is_not_there() {
    let mut graph = Graph::new();
    graph.add("server", object("extensions/v1beta1", "Ingress", Some("prefect"), "ui")).unwrap();

    let error = graph.change("mine", service("prefect-server")).unwrap_err();
    expect![[r#"plugin `mine` changes Service/prefect/prefect-server (changed[0]), which no plugin before it added: return a new resource in `items`, not in `changed`, and keep the kind, namespace and name of a resource you change"#]]
        .assert_eq(&error.to_string());

    let error = graph
        .change("mine", object("networking.k8s.io/v1", "Ingress", Some("prefect"), "ui"))
        .unwrap_err();
    expect![[r#"plugin `mine` changes extensions/v1beta1 Ingress prefect/ui into networking.k8s.io/v1 Ingress prefect/ui (changed[0]): a plugin cannot change a resource's API group, kind, namespace or name; add a new resource in `items` instead"#]]
        .assert_eq(&error.to_string());
}

#[test]
fn apply_is_all_or_nothing_and_reports_every_error() {
    let mut graph = Graph::new();
    graph
        .apply("server", vec![deployment("prefect-server"), service("prefect-server")], vec![])
        .unwrap();
    let before = graph.clone();
    let before_dump = dump(&graph);

    let mut bad_labels = object("v1", "ConfigMap", Some("prefect"), "settings");
    bad_labels["metadata"]["labels"] = json!({ "tier": "-x", "version": 3 });
    let mut replicas = deployment("prefect-server");
    replicas["spec"]["replicas"] = json!(3);
    let errors = graph
        .apply(
            "broken",
            vec![
                object("v1", "Secret", Some("prefect"), "fine"),
                service("prefect-server"),
                json!("not an object"),
                object("v1", "Secret", Some("prefect"), "Bad_Name"),
                bad_labels,
                object("rbac.authorization.k8s.io/v1", "ClusterRole", Some("prefect"), "agent"),
                object("apps/v1", "Deployment", None, "worker"),
                object("v1", "Secret", Some("prefect"), "fine"),
            ],
            vec![replicas, service("missing"), json!({ "apiVersion": "v1", "metadata": {} })],
        )
        .unwrap_err();
    check_errors(
        &errors,
        expect![[r#"
            Service/prefect/prefect-server is added by both `server` and `broken`: a plugin that means to change another's resource returns it in `changed`; otherwise rename one of them
            plugin `broken`: items[2]: the item is a string, not a Kubernetes object: return each resource as a JSON object
            plugin `broken`: Secret/prefect/Bad_Name (items[3]): metadata.name "Bad_Name" is not a valid name: use lower-case letters, digits, '-' and '.'
            plugin `broken`: ConfigMap/prefect/settings (items[4]): metadata.labels.tier "-x" is not a valid label value: start and end it with a letter or digit
            plugin `broken`: ConfigMap/prefect/settings (items[4]): metadata.labels.version is a number: make it a string (quote it)
            plugin `broken`: ClusterRole/prefect/agent (items[5]): metadata.namespace "prefect" is set, but kind ClusterRole is cluster-scoped: remove metadata.namespace
            plugin `broken`: Deployment/worker (items[6]): metadata.namespace is missing, but kind Deployment is namespaced: set metadata.namespace to the release namespace
            plugin `broken` returns Secret/prefect/fine twice, as items[0] and items[7]: return each resource once
            plugin `broken` changes Service/prefect/missing (changed[1]), which no plugin before it added: return a new resource in `items`, not in `changed`, and keep the kind, namespace and name of a resource you change
            plugin `broken`: changed[2]: kind is missing: set it to the object's kind, such as "Deployment"
            plugin `broken`: changed[2]: metadata.name is missing: give the object a name
        "#]],
    );
    assert_eq!(dump(&graph), before_dump);
    assert_eq!(graph.ordered(), before.ordered());
    assert_eq!(graph.len(), 2);
}

#[test]
fn transform_all_records_changes_under_its_name() {
    let mut graph = Graph::new();
    graph
        .apply("server", vec![deployment("prefect-server"), service("prefect-server")], vec![])
        .unwrap();
    let mut with_label = service("prefect-server");
    with_label["metadata"]["labels"] = json!({ "team": "mine" });
    graph.change("server", with_label).unwrap();

    graph
        .transform_all("global", |key, object| {
            assert_eq!(key.namespace.as_deref(), Some("prefect"));
            let labels = object["metadata"]
                .as_object_mut()
                .unwrap()
                .entry("labels")
                .or_insert_with(|| json!({}));
            let labels = labels.as_object_mut().unwrap();
            labels.entry("team").or_insert_with(|| json!("data"));
            labels.entry("env").or_insert_with(|| json!("prod"));
        })
        .unwrap();
    // A pass that changes nothing records nothing.
    graph.transform_all("nothing", |_, _| {}).unwrap();
    expect![[r#"
        v1 Service prefect/prefect-server  # added by server; changed by server (metadata.labels); changed by global (metadata.labels.env)
        apps/v1 Deployment prefect/prefect-server  # added by server; changed by global (metadata.labels)
    "#]]
    .assert_eq(&dump(&graph));
}

#[test]
fn transform_where_passes_over_only_the_resources_it_picks() {
    let mut graph = Graph::new();
    graph
        .apply("server", vec![deployment("prefect-server"), service("prefect-server")], vec![])
        .unwrap();
    let mut seen = Vec::new();
    graph
        .transform_where(
            "gates",
            |key, _| key.kind == "Deployment",
            |key, object| {
                seen.push(key.to_string());
                object["metadata"]["annotations"] = json!({ "hash": "1" });
            },
        )
        .unwrap();
    assert_eq!(seen, ["Deployment/prefect/prefect-server"]);
    expect![[r#"
        v1 Service prefect/prefect-server  # added by server
        apps/v1 Deployment prefect/prefect-server  # added by server; changed by gates (metadata.annotations)
    "#]]
    .assert_eq(&dump(&graph));
}

#[test]
fn transform_all_is_all_or_nothing() {
    let mut graph = Graph::new();
    graph
        .apply("server", vec![deployment("prefect-server"), service("prefect-server")], vec![])
        .unwrap();
    let before = dump(&graph);
    let errors = graph
        .transform_all("global", |key, object| {
            if key.kind == "Service" {
                object["metadata"]["labels"] = json!({ "team": "data science" });
            } else {
                object["metadata"]["name"] = json!("renamed");
            }
        })
        .unwrap_err();
    check_errors(
        &errors,
        expect![[r#"
            the `global` pass makes Service/prefect/prefect-server invalid: metadata.labels.team "data science" is not a valid label value: use letters, digits, '-', '_' and '.'
            the `global` pass changes apps/v1 Deployment prefect/prefect-server into apps/v1 Deployment prefect/renamed: a pass must keep each resource's API group, kind, namespace and name
        "#]],
    );
    assert_eq!(dump(&graph), before);
}

#[test]
fn empty_graph() {
    let graph = Graph::new();
    assert!(graph.is_empty());
    assert_eq!(graph.len(), 0);
    assert!(graph.ordered().is_empty());
    assert!(graph.get(&key(&service("x"))).is_none());
    assert!(graph.provenance(&key(&service("x"))).is_none());
}

#[test]
fn a_removal_is_remembered_with_who_removed_it() {
    let mut graph = Graph::new();
    graph
        .apply("server", vec![deployment("prefect-server"), service("prefect-server")], vec![])
        .unwrap();
    let mut changed = service("prefect-server");
    changed["spec"]["ports"][0]["port"] = json!(8080);
    graph.change("tuner", changed).unwrap();

    // Another version of the same group names the same resource.
    let removed = ResourceKey::new("v1beta1", "Service", Some("prefect"), "prefect-server");
    graph.apply_with_removals("slim", vec![], vec![], vec![removed]).unwrap();

    expect![[r#"
        apps/v1 Deployment prefect/prefect-server  # added by server
    "#]]
    .assert_eq(&dump(&graph));
    let removed: Vec<_> =
        graph.removed().iter().map(|(key, provenance)| format!("{key}  # {provenance}")).collect();
    expect![[r#"["Service/prefect/prefect-server  # added by server; changed by tuner (spec.ports[0].port); removed by slim"]"#]]
        .assert_eq(&format!("{removed:?}"));
}

#[test]
fn removing_what_is_not_there_or_is_also_changed_changes_nothing() {
    let mut graph = Graph::new();
    graph.apply("server", vec![deployment("prefect-server")], vec![]).unwrap();
    let errors = graph
        .apply_with_removals(
            "slim",
            vec![],
            vec![deployment("prefect-server")],
            vec![
                key(&deployment("prefect-server")),
                ResourceKey::new("v1", "Service", Some("prefect"), "prefect-server"),
            ],
        )
        .unwrap_err();
    check_errors(
        &errors,
        expect![[r#"
            plugin `slim` returns Deployment/prefect/prefect-server twice, as changed[0] and removed[0]: return each resource once
            plugin `slim` removes Service/prefect/prefect-server (removed[1]), which is not in the graph: remove only resources of the request's `items`, by their API group, kind, namespace and name
        "#]],
    );
    assert!(graph.removed().is_empty());
    assert!(graph.get(&key(&deployment("prefect-server"))).is_some());
}
