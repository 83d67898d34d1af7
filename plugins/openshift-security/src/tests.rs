//! The transformer run in process on workloads as other plugins add them.

use expect_test::expect;
use prefect_plugin_sdk::serde_json::{self, Value, json};
use prefect_plugin_test::{Failure, Host, Rendered};

use crate::OpenshiftSecurity;

fn restricted_container(name: &str) -> Value {
    json!({
        "name": name,
        "securityContext": {
            "runAsNonRoot": true, "runAsUser": 1001, "runAsGroup": 1001,
            "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] }, "seccompProfile": { "type": "RuntimeDefault" },
        },
    })
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "prefect-server", "namespace": "prefect" },
        "spec": { "selector": {}, "template": { "spec": {
            "securityContext": { "runAsNonRoot": true, "runAsUser": 1001, "runAsGroup": 1001, "fsGroup": 1001, "seccompProfile": { "type": "RuntimeDefault" } },
            "initContainers": [{ "name": "wait-for-database", "securityContext": { "runAsNonRoot": true } }],
            "containers": [restricted_container("prefect-server")],
        } } },
    })
}

/// A third-party CronJob that sets nothing at all.
fn cron_job() -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": { "name": "backup", "namespace": "prefect" },
        "spec": { "schedule": "@daily", "jobTemplate": { "spec": { "template": { "spec": {
            "containers": [{ "name": "backup", "image": "backup:1" }],
        } } } } },
    })
}

/// A run after the server plugin that added `items`; `values` is the plugin's section.
fn run(items: Vec<Value>, values: Value) -> Result<Rendered, Failure> {
    Host::new()
        .with_plugins(&["server"])
        .with_resources(items)
        .values_json(json!({ "openshift-security": values }))
        .run::<OpenshiftSecurity>()
}

#[test]
fn fixed_ids_go_and_the_restricted_profile_stays() {
    let rendered = run(vec![deployment()], json!({})).unwrap();
    assert_eq!(rendered.warnings, Vec::<String>::new());
    let pod = &rendered.changed()[0]["spec"]["template"]["spec"];
    expect![[r#"
        {
          "securityContext": {
            "runAsNonRoot": true,
            "seccompProfile": {
              "type": "RuntimeDefault"
            }
          },
          "initContainers": [
            {
              "name": "wait-for-database",
              "securityContext": {
                "runAsNonRoot": true,
                "allowPrivilegeEscalation": false,
                "seccompProfile": {
                  "type": "RuntimeDefault"
                },
                "capabilities": {
                  "drop": [
                    "ALL"
                  ]
                }
              }
            }
          ],
          "containers": [
            {
              "name": "prefect-server",
              "securityContext": {
                "runAsNonRoot": true,
                "seccompProfile": {
                  "type": "RuntimeDefault"
                },
                "capabilities": {
                  "drop": [
                    "ALL"
                  ]
                },
                "readOnlyRootFilesystem": true,
                "allowPrivilegeEscalation": false
              }
            }
          ]
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(pod).unwrap());
}

#[test]
fn workloads_of_any_plugin_and_kind_are_rewritten() {
    let config_map = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "c", "namespace": "prefect" } });
    let rendered = run(vec![config_map, cron_job()], json!({})).unwrap();
    assert_eq!(rendered.changed().len(), 1, "the ConfigMap is left alone");
    let container =
        &rendered.changed()[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    expect![[r#"{"runAsNonRoot":true,"allowPrivilegeEscalation":false,"seccompProfile":{"type":"RuntimeDefault"},"capabilities":{"drop":["ALL"]}}"#]].assert_eq(&container["securityContext"].to_string());
}

#[test]
fn privileged_containers_and_added_capabilities_cannot_fit() {
    let mut job = cron_job();
    job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["securityContext"] =
        json!({ "privileged": true, "capabilities": { "add": ["NET_BIND_SERVICE", "SYS_ADMIN"] } });
    let failure = run(vec![job], json!({})).unwrap_err();
    expect![[r#"
        [
            "plugin `openshift-security`: values.yaml:2: openshift-security: CronJob/backup container backup is privileged, which restricted-v2 forbids: remove `privileged`, or run it under another SCC without this plugin",
            "plugin `openshift-security`: values.yaml:2: openshift-security: CronJob/backup container backup adds the capability SYS_ADMIN, which restricted-v2 forbids (only NET_BIND_SERVICE may be added): remove it",
        ]
    "#]].assert_debug_eq(&failure.0);
}

fn server_items() -> Vec<Value> {
    let mut deployment = deployment();
    deployment["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{ "name": "PREFECT_UI_API_URL", "value": "http://localhost:4200/api" }]);
    let service = json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": "prefect-server", "namespace": "prefect" } });
    vec![service, deployment]
}

#[test]
fn a_route_replaces_the_ingress_and_the_ui_follows_its_host() {
    let rendered = run(
        server_items(),
        json!({ "route": { "enabled": true, "host": "prefect.apps.example.com" } }),
    )
    .unwrap();
    assert_eq!(rendered.warnings, Vec::<String>::new());
    expect![[r#"
        {
          "apiVersion": "route.openshift.io/v1",
          "kind": "Route",
          "metadata": {
            "name": "prefect-server",
            "namespace": "prefect",
            "labels": {
              "app.kubernetes.io/component": "server",
              "app.kubernetes.io/instance": "prefect",
              "app.kubernetes.io/managed-by": "prefectctl",
              "app.kubernetes.io/name": "prefect-server",
              "app.kubernetes.io/part-of": "prefect"
            }
          },
          "spec": {
            "path": "/",
            "to": {
              "kind": "Service",
              "name": "prefect-server",
              "weight": 100
            },
            "port": {
              "targetPort": "server-svc-port"
            },
            "wildcardPolicy": "None",
            "host": "prefect.apps.example.com",
            "tls": {
              "termination": "edge",
              "insecureEdgeTerminationPolicy": "Redirect"
            }
          }
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(rendered.added()[0]).unwrap());
    let deployment = rendered.get("Deployment", "prefect-server").unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "https://prefect.apps.example.com/api"
    );

    let mut with_ingress = server_items();
    with_ingress.push(json!({ "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": { "name": "prefect-server", "namespace": "prefect" } }));
    let failure = run(with_ingress, json!({ "route": { "enabled": true } })).unwrap_err();
    let message = &failure.0[0];
    assert!(
        message.starts_with(
            "plugin `openshift-security`: values.yaml:4: openshift-security.route.enabled: "
        ),
        "{message}"
    );
    assert!(message.contains("set server.ingress.enabled to false"), "{message}");

    let without_server = run(vec![], json!({ "route": { "enabled": true } })).unwrap_err();
    assert!(without_server.0[0].contains("not in the stack"), "{without_server}");
}

#[test]
fn the_prebuilt_manifest_is_what_the_code_builds() {
    expect_test::expect_file!["../manifest.json"]
        .assert_eq(&prefect_plugin_sdk::manifest_json::<crate::OpenshiftSecurity>());
}
