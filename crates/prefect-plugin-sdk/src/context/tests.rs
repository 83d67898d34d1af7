//! What a plugin sees of its own changes through [`Context`]: the objects handed back to the
//! host as changed.

use k8s_openapi::api::apps::v1::Deployment;
use prefect_plugin_abi::wire::{Capabilities, GlobalValues, Lookups, Release, RunRequest};
use serde_json::{Value, json};

use super::*;

pub(super) fn context(items: Vec<Value>) -> Context {
    Context::new(RunRequest {
        api_version: prefect_plugin_abi::wire::API_VERSION.to_owned(),
        kind: prefect_plugin_abi::wire::RESOURCE_LIST.to_owned(),
        protocol_version: prefect_plugin_abi::PROTOCOL_VERSION,
        release: Release { name: "prefect".to_owned(), namespace: "prefect".to_owned() },
        values: Value::Null,
        global: GlobalValues::default(),
        plugins: vec!["server".to_owned()],
        capabilities: Capabilities { kube_version: "1.33.0".to_owned(), api_versions: vec![] },
        items,
        lookups: Lookups::default(),
    })
}

/// The server's Deployment with fields of Kubernetes 1.34 that k8s-openapi's 1.33 types lack:
/// the pod's `hostnameOverride` and a container's `restartPolicyRules`.
fn server_with_newer_fields() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "prefect-server", "namespace": "prefect" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "server" } },
            "template": {
                "metadata": { "labels": { "app": "server" } },
                "spec": {
                    "hostnameOverride": "prefect",
                    "containers": [{
                        "name": "prefect-server",
                        "image": "prefecthq/prefect:3",
                        "restartPolicy": "Always",
                        "restartPolicyRules": [{ "action": "Restart", "exitCodes": { "operator": "In", "values": [42] } }],
                    }],
                },
            },
        },
    })
}

#[test]
fn update_keeps_the_fields_the_type_does_not_model() {
    let mut ctx = context(vec![server_with_newer_fields()]);
    let found = ctx
        .update::<Deployment>("prefect-server", |deployment| {
            let spec = deployment.spec.as_mut().unwrap();
            spec.replicas = Some(3);
            let pod = spec.template.spec.as_mut().unwrap();
            pod.containers[0].image = Some("prefecthq/prefect:3.9".to_owned());
        })
        .unwrap();
    assert!(found);
    let mut expected = server_with_newer_fields();
    expected["spec"]["replicas"] = json!(3);
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = json!("prefecthq/prefect:3.9");
    assert_eq!(ctx.changed_items(), vec![expected]);
}

#[test]
fn update_removes_what_the_plugin_cleared() {
    let mut ctx = context(vec![server_with_newer_fields()]);
    ctx.update::<Deployment>("prefect-server", |deployment| {
        let spec = deployment.spec.as_mut().unwrap();
        spec.replicas = None;
        spec.template.spec.as_mut().unwrap().containers.clear();
    })
    .unwrap();
    let changed = &ctx.changed_items()[0];
    assert_eq!(changed["spec"].get("replicas"), None);
    assert_eq!(changed["spec"]["template"]["spec"]["containers"], json!([]));
    assert_eq!(changed["spec"]["template"]["spec"]["hostnameOverride"], "prefect");
}

#[test]
fn update_that_changes_nothing_hands_back_nothing() {
    let mut ctx = context(vec![server_with_newer_fields()]);
    ctx.update::<Deployment>("prefect-server", |_| {}).unwrap();
    assert!(ctx.changed_items().is_empty());
}

#[test]
fn a_removed_resource_is_gone_from_the_items_and_handed_back_as_removed() {
    let config_map = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": "prefect-settings", "namespace": "prefect" },
    });
    let mut ctx = context(vec![config_map, server_with_newer_fields()]);
    ctx.update::<Deployment>("prefect-server", |deployment| {
        deployment.spec.as_mut().unwrap().replicas = Some(2);
    })
    .unwrap();
    assert!(ctx.remove::<k8s_openapi::api::core::v1::ConfigMap>("prefect-settings"));
    assert!(!ctx.remove::<k8s_openapi::api::core::v1::ConfigMap>("prefect-settings"));
    assert_eq!(ctx.items().len(), 1);
    // The change made before the removal still names the Deployment.
    assert_eq!(ctx.changed_items()[0]["spec"]["replicas"], 2);
    assert_eq!(
        ctx.removed,
        [ObjectRef {
            api_version: "v1".to_owned(),
            kind: "ConfigMap".to_owned(),
            namespace: Some("prefect".to_owned()),
            name: "prefect-settings".to_owned(),
        }]
    );
}

#[test]
fn a_typed_lookup_names_the_object_and_reads_it_as_its_type() {
    use k8s_openapi::api::core::v1::Secret;
    use prefect_plugin_abi::wire::LookupResult;

    let mut offline = context(vec![]);
    assert_eq!(offline.lookup::<Secret>("prefect-postgres").unwrap(), Lookup::Unavailable);

    let mut first_round = context(vec![]);
    first_round.lookups.available = true;
    assert_eq!(first_round.lookup::<Secret>("prefect-postgres").unwrap(), Lookup::Pending);
    assert_eq!(
        first_round.pending,
        [ObjectRef {
            api_version: "v1".to_owned(),
            kind: "Secret".to_owned(),
            namespace: Some("prefect".to_owned()),
            name: "prefect-postgres".to_owned(),
        }]
    );

    let mut second_round = context(vec![]);
    second_round.lookups = Lookups {
        available: true,
        results: vec![
            LookupResult {
                reference: first_round.pending[0].clone(),
                object: Some(json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": { "name": "prefect-postgres", "namespace": "prefect" },
                    "data": { "password": "c2VjcmV0" },
                })),
            },
            LookupResult {
                reference: ObjectRef { name: "odd".to_owned(), ..first_round.pending[0].clone() },
                object: Some(json!({ "data": { "password": 42 } })),
            },
        ],
    };
    let Lookup::Found(secret) = second_round.lookup::<Secret>("prefect-postgres").unwrap() else {
        panic!("the Secret is found")
    };
    assert_eq!(secret.data.unwrap()["password"].0, b"secret");
    assert_eq!(second_round.lookup::<Secret>("other").unwrap(), Lookup::Pending);
    let error = second_round.lookup::<Secret>("odd").unwrap_err();
    assert_eq!(
        error.message,
        "the live Secret odd cannot be read as one: invalid type: integer `42`, expected a \
         base64-encoded string; check that it is the release's own"
    );
}

#[test]
fn add_as_writes_another_version_of_the_same_group() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;

    let mut ctx = context(vec![]);
    let budget = PodDisruptionBudget {
        metadata: ctx.metadata("prefect-server", "server"),
        ..PodDisruptionBudget::default()
    };
    ctx.add_as(budget.clone(), "policy/v1beta1").unwrap();
    assert_eq!(ctx.added[0]["apiVersion"], "policy/v1beta1");
    assert_eq!(ctx.added[0]["kind"], "PodDisruptionBudget");

    let error = ctx.add_as(budget, "apps/v1").unwrap_err();
    assert_eq!(
        error.message,
        "cannot write a PodDisruptionBudget as apps/v1: it belongs to the API group \"policy\"; \
         give a version of that group, such as policy/v1"
    );
    assert_eq!(ctx.added.len(), 1);
}

#[test]
fn the_pod_templates_of_every_workload_are_visited_and_handed_back() {
    let config_map = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "settings", "namespace": "prefect" },
    });
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "debug", "namespace": "prefect" },
        "spec": { "containers": [] },
    });
    let mut ctx = context(vec![config_map, server_with_newer_fields(), pod]);
    let mut visited = Vec::new();
    ctx.update_pod_templates(|workload, template| {
        visited.push(workload.to_string());
        template["metadata"]["labels"]["visited"] = json!("yes");
    });
    assert_eq!(visited, ["Deployment/prefect-server", "Pod/debug"]);
    let changed = ctx.changed_items();
    assert_eq!(changed.len(), 2);
    assert_eq!(changed[0]["spec"]["template"]["metadata"]["labels"]["visited"], "yes");
    assert_eq!(changed[1]["metadata"]["labels"]["visited"], "yes");
}
