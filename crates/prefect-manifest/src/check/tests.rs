//! Tests of [`check`]: each rule, who set the field, and what is left alone.

use expect_test::{Expect, expect};
use serde_json::{Value, json};

use super::*;

/// A Deployment named `server` of plugin `server` whose pod spec is `spec`, then `changes` by
/// plugin `tuner` (a JSON merge over the whole object), checked.
fn check_pod(spec: Value, changes: Option<Value>, expect: Expect) {
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "server", "namespace": "prefect" },
        "spec": { "replicas": 1, "template": { "spec": spec } },
    });
    let mut graph = Graph::new();
    graph.apply("server", vec![deployment.clone()], vec![]).unwrap();
    if let Some(changes) = changes {
        let mut changed = deployment;
        merge(&mut changed, changes);
        graph.apply("tuner", vec![], vec![changed]).unwrap();
    }
    let lines: Vec<String> = check(&graph).iter().map(ToString::to_string).collect();
    expect.assert_eq(&lines.join("\n"));
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch,
    }
}

fn container(extra: Value) -> Value {
    let mut container = json!({ "name": "prefect-server", "image": "prefecthq/prefect:3" });
    merge(&mut container, extra);
    container
}

#[test]
fn quantities() {
    let good = json!({ "resources": {
        "limits": { "cpu": "1.5", "memory": "1Gi", "ephemeral-storage": "1e9", "x": 2 },
        "requests": { "cpu": "500m", "memory": "512Mi", "ephemeral-storage": ".5G", "x": 1.5 },
    }});
    check_pod(json!({ "containers": [container(good)] }), None, expect![""]);
    let bad = json!({ "resources": {
        "limits": { "cpu": "lots", "memory": "1 Gi", "a": "1e", "b": "Gi", "c": "1.2.3", "d": true },
        "requests": { "memory": "2Gi", "e": "-1" },
    }});
    check_pod(
        json!({ "containers": [container(bad)], "volumes": [
            { "name": "tmp", "emptyDir": { "sizeLimit": "huge" } }
        ]}),
        None,
        expect![[r#"
            Deployment/prefect/server: spec.template.spec.containers[0].resources.limits.cpu "lots" is not a Kubernetes quantity: give a number with an optional suffix, such as 500m, 2, 1.5, 512Mi or 1Gi (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].resources.limits.memory "1 Gi" is not a Kubernetes quantity: give a number with an optional suffix, such as 500m, 2, 1.5, 512Mi or 1Gi (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].resources.limits.a "1e" is not a Kubernetes quantity: give a number with an optional suffix, such as 500m, 2, 1.5, 512Mi or 1Gi (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].resources.limits.b "Gi" is not a Kubernetes quantity: give a number with an optional suffix, such as 500m, 2, 1.5, 512Mi or 1Gi (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].resources.limits.c "1.2.3" is not a Kubernetes quantity: give a number with an optional suffix, such as 500m, 2, 1.5, 512Mi or 1Gi (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].resources.limits.d true is not a Kubernetes quantity: give a number with an optional suffix, such as 500m, 2, 1.5, 512Mi or 1Gi (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].resources.requests.e "-1" is negative: give 0 or more (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.volumes[0].emptyDir.sizeLimit "huge" is not a Kubernetes quantity: give a number with an optional suffix, such as 500m, 2, 1.5, 512Mi or 1Gi (set by plugin `server`)"#]],
    );
    let over = json!({ "resources": {
        "limits": { "cpu": "500m", "memory": "1Gi" },
        "requests": { "cpu": "1", "memory": "1024Mi" },
    }});
    check_pod(
        json!({ "containers": [container(over)] }),
        None,
        expect![[
            r#"Deployment/prefect/server: spec.template.spec.containers[0].resources.requests.cpu "1" is more than its limit "500m": raise the limit or lower the request (set by plugin `server`)"#
        ]],
    );
}

#[test]
fn names_ports_and_mounts() {
    let spec = json!({
        "initContainers": [{ "name": "Init_DB" }],
        "containers": [container(json!({
            "ports": [
                { "name": "http", "containerPort": 4200 },
                { "name": "prefect-server-api", "containerPort": 70000 },
                { "name": "1234", "containerPort": 0 },
            ],
            "volumeMounts": [{ "name": "data", "mountPath": "/data" }, { "name": "cache", "mountPath": "/c" }],
            "livenessProbe": { "httpGet": { "port": "web--ui", "path": "/" } },
            "readinessProbe": { "tcpSocket": { "port": 4200 } },
        }))],
        "volumes": [{ "name": "data", "emptyDir": {} }, { "name": "Cache.Dir" }],
    });
    check_pod(
        spec,
        None,
        expect![[r#"
            Deployment/prefect/server: spec.template.spec.volumes[1].name "Cache.Dir" is not a valid volume name: use lower-case letters, digits and '-' (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.initContainers[0].name "Init_DB" is not a valid container name: use lower-case letters, digits and '-' (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].ports[1].name "prefect-server-api" is not a valid port name: use at most 15 characters (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].ports[1].containerPort 70000 is not a port: give 1 to 65535 (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].ports[2].name "1234" is not a valid port name: use at least one letter (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].ports[2].containerPort 0 is not a port: give 1 to 65535 (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].volumeMounts[1].name "cache" names no volume of the pod: add the volume, or fix the name (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].livenessProbe.httpGet.port "web--ui" is not a valid port name: start and end it with a letter or digit, with no '--' (set by plugin `server`)"#]],
    );
}

#[test]
fn periods_and_counts() {
    let spec = json!({
        "terminationGracePeriodSeconds": -5,
        "containers": [container(json!({
            "readinessProbe": { "periodSeconds": 10, "initialDelaySeconds": -1, "failureThreshold": 2.5 },
        }))],
        "tolerations": [{ "key": "x", "operator": "Exists", "tolerationSeconds": -1 }],
    });
    check_pod(
        spec,
        Some(json!({ "spec": { "replicas": -2 } })),
        expect![[r#"
            Deployment/prefect/server: spec.replicas -2 is negative: give 0 or more (set by plugin `tuner`)
            Deployment/prefect/server: spec.template.spec.terminationGracePeriodSeconds -5 is negative: give 0 or more (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].readinessProbe.initialDelaySeconds -1 is negative: give 0 or more (set by plugin `server`)
            Deployment/prefect/server: spec.template.spec.containers[0].readinessProbe.failureThreshold 2.5 is not a whole number: give one (set by plugin `server`)"#]],
    );
}

#[test]
fn who_set_a_field() {
    let changes = json!({ "spec": { "template": { "spec": { "containers": [
        container(json!({ "resources": { "limits": { "cpu": "two" } } }))
    ]}}}});
    check_pod(
        json!({ "containers": [container(json!({}))] }),
        Some(changes),
        expect![[
            r#"Deployment/prefect/server: spec.template.spec.containers[0].resources.limits.cpu "two" is not a Kubernetes quantity: give a number with an optional suffix, such as 500m, 2, 1.5, 512Mi or 1Gi (set by plugin `tuner`)"#
        ]],
    );
}

#[test]
fn services_and_custom_resources() {
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": "server", "namespace": "prefect" },
        "spec": { "ports": [
            { "name": "http", "port": 4200, "targetPort": "http" },
            { "name": "Metrics", "port": 0, "targetPort": "prometheus-metrics" },
        ]},
    });
    // A custom resource's `resources` are its own business.
    let custom = json!({
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": { "name": "thing", "namespace": "prefect" },
        "spec": { "resources": { "limits": { "cpu": "lots" } }, "replicas": -1 },
    });
    let mut graph = Graph::new();
    graph.apply("server", vec![service, custom], vec![]).unwrap();
    let lines: Vec<String> = check(&graph).iter().map(ToString::to_string).collect();
    expect![[r#"
        Service/prefect/server: spec.ports[1].name "Metrics" is not a valid port name: use lower-case letters, digits and '-' (set by plugin `server`)
        Service/prefect/server: spec.ports[1].port 0 is not a port: give 1 to 65535 (set by plugin `server`)
        Service/prefect/server: spec.ports[1].targetPort "prometheus-metrics" is not a valid port name: use at most 15 characters (set by plugin `server`)"#]]
    .assert_eq(&lines.join("\n"));
}

#[test]
fn quantity_grammar() {
    for good in [
        "0", "1", "+1", "1.", ".5", "100m", "1k", "2M", "3G", "4T", "5P", "6E", "1Ki", "1Ei",
        "1e3", "1E-2", "1e+2", " 1Gi ", "100n", "5u",
    ] {
        assert!(quantity(&json!(good)).is_ok(), "{good}");
    }
    for bad in
        ["", ".", "-", "1KI", "1ki", "1 k", "1e", "1e1.5", "1Gb", "0x10", "1,5", "inf", "NaN", "e3"]
    {
        assert!(quantity(&json!(bad)).is_err(), "{bad}");
    }
    assert_eq!(quantity(&json!("1Gi")), Ok(1024f64.powi(3)));
    assert_eq!(quantity(&json!("250m")), Ok(0.25));
}

#[test]
fn claim_templates_are_volumes() {
    let set = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": { "name": "db", "namespace": "prefect" },
        "spec": {
            "volumeClaimTemplates": [{
                "metadata": { "name": "data" },
                "spec": { "resources": { "requests": { "storage": "8 GB" } } },
            }],
            "template": { "spec": { "containers": [{
                "name": "db",
                "volumeMounts": [{ "name": "data", "mountPath": "/d" }, { "name": "logs", "mountPath": "/l" }],
            }]}},
        },
    });
    let mut graph = Graph::new();
    graph.apply("postgres", vec![set], vec![]).unwrap();
    let lines: Vec<String> = check(&graph).iter().map(ToString::to_string).collect();
    expect![[r#"
        StatefulSet/prefect/db: spec.volumeClaimTemplates[0].spec.resources.requests.storage "8 GB" is not a Kubernetes quantity: give a number with an optional suffix, such as 500m, 2, 1.5, 512Mi or 1Gi (set by plugin `postgres`)
        StatefulSet/prefect/db: spec.template.spec.containers[0].volumeMounts[1].name "logs" names no volume of the pod: add the volume, or fix the name (set by plugin `postgres`)"#]].assert_eq(&lines.join("\n"));
}
