//! The plugin run in process, as the host runs it, after a server plugin's Deployments.

use expect_test::expect;
use prefect_plugin_sdk::{
    k8s_openapi::ByteString,
    serde_json::{self, Value, json},
};
use prefect_plugin_test::{Failure, Host, Rendered, messages};

use crate::Redis;

/// The part of a server plugin's Deployment this plugin changes: `name`, with container
/// `container` that sets `env`.
fn deployment(name: &str, container: &str, env: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "namespace": "prefect" },
        "spec": {
            "selector": { "matchLabels": { "app.kubernetes.io/name": name } },
            "template": { "spec": { "containers": [{ "name": container, "env": env }] } },
        },
    })
}

fn server_deployment() -> Value {
    deployment(
        "prefect-server",
        "prefect-server",
        json!([{ "name": "PREFECT_REDIS_MESSAGING_DB", "value": "3" }]),
    )
}

fn background_services() -> Value {
    deployment("prefect-background-services", "prefect-background-services", json!([]))
}

/// The plugin after the server plugin's Deployment, with `values` as its section.
fn request(values: Value) -> Host {
    after(vec![server_deployment()]).values_json(json!({ "redis": values }))
}

/// The plugin after the server plugin, which added `resources`.
fn after(resources: Vec<Value>) -> Host {
    Host::new().with_plugins(&["server"]).with_resources(resources)
}

fn run(host: Host) -> Result<Rendered, Failure> {
    host.run::<Redis>()
}

/// A run while applying, in which the host found `live` in the cluster (`None`: no Secret).
fn applying(values: Value, live: Option<Value>) -> Result<Rendered, Failure> {
    run(request(values).live(live.into_iter().collect()))
}

/// The first resource of `kind` the plugin added.
fn item<'a>(rendered: &'a Rendered, kind: &str) -> &'a Value {
    rendered.added_of(kind).unwrap_or_else(|| panic!("no {kind} in {:?}", rendered.added_names()))
}

fn password_in(rendered: &Rendered) -> String {
    let encoded = item(rendered, "Secret")["data"]["redis-password"].clone();
    let bytes: ByteString = serde_json::from_value(encoded).unwrap();
    String::from_utf8(bytes.0).unwrap()
}

/// The env of the first container of the changed Deployment `name`.
fn env_of(rendered: &Rendered, name: &str) -> String {
    let deployment = rendered
        .changed()
        .into_iter()
        .find(|d| d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not changed"));
    serde_json::to_string_pretty(&deployment["spec"]["template"]["spec"]["containers"][0]["env"])
        .unwrap()
}

#[test]
fn render_leaves_the_generated_password_to_apply_and_says_so() {
    // Rendering, the plugin asks for no live object: the run would fail if it did.
    let result = run(request(json!({})));
    let response = result.as_ref().unwrap();
    assert_eq!(
        response.added_names(),
        [
            "ServiceAccount/prefect-redis",
            "Service/prefect-redis",
            "Service/prefect-redis-hl",
            "StatefulSet/prefect-redis"
        ]
    );
    expect![[r#"
        [
            "plugin `redis`: values.yaml:2: redis.auth.password: the Secret prefect-redis is left out of this output: `prefectctl apply` generates its password once and keeps it on every upgrade, which `render` cannot do without reading the cluster; to deploy this output with another tool, set auth.existingSecret (or auth.password)",
        ]
    "#]]
    .assert_debug_eq(&messages(&result));
}

#[test]
fn the_statefulset_runs_the_official_image_restricted_with_an_append_only_file_on_a_claim() {
    let response = run(request(json!({}))).unwrap();
    expect![[r#"
        {
          "apiVersion": "apps/v1",
          "kind": "StatefulSet",
          "metadata": {
            "labels": {
              "app.kubernetes.io/component": "redis",
              "app.kubernetes.io/instance": "prefect",
              "app.kubernetes.io/managed-by": "prefectctl",
              "app.kubernetes.io/name": "prefect-redis",
              "app.kubernetes.io/part-of": "prefect"
            },
            "name": "prefect-redis",
            "namespace": "prefect"
          },
          "spec": {
            "replicas": 1,
            "selector": {
              "matchLabels": {
                "app.kubernetes.io/instance": "prefect",
                "app.kubernetes.io/name": "prefect-redis"
              }
            },
            "serviceName": "prefect-redis-hl",
            "template": {
              "metadata": {
                "labels": {
                  "app.kubernetes.io/component": "redis",
                  "app.kubernetes.io/instance": "prefect",
                  "app.kubernetes.io/managed-by": "prefectctl",
                  "app.kubernetes.io/name": "prefect-redis",
                  "app.kubernetes.io/part-of": "prefect"
                }
              },
              "spec": {
                "automountServiceAccountToken": false,
                "containers": [
                  {
                    "command": [
                      "sh",
                      "-c",
                      "exec redis-server --port 6379 --dir /data --requirepass \"$REDIS_PASSWORD\" \"$@\"",
                      "redis-server",
                      "--appendonly",
                      "yes"
                    ],
                    "env": [
                      {
                        "name": "REDIS_PASSWORD",
                        "valueFrom": {
                          "secretKeyRef": {
                            "key": "redis-password",
                            "name": "prefect-redis"
                          }
                        }
                      }
                    ],
                    "image": "redis:7.4",
                    "imagePullPolicy": "IfNotPresent",
                    "livenessProbe": {
                      "exec": {
                        "command": [
                          "sh",
                          "-c",
                          "[ \"$(REDISCLI_AUTH=\"$REDIS_PASSWORD\" redis-cli -h 127.0.0.1 -p 6379 ping)\" = PONG ]"
                        ]
                      },
                      "failureThreshold": 3,
                      "initialDelaySeconds": 20,
                      "periodSeconds": 10,
                      "successThreshold": 1,
                      "timeoutSeconds": 5
                    },
                    "name": "redis",
                    "ports": [
                      {
                        "containerPort": 6379,
                        "name": "redis",
                        "protocol": "TCP"
                      }
                    ],
                    "readinessProbe": {
                      "exec": {
                        "command": [
                          "sh",
                          "-c",
                          "[ \"$(REDISCLI_AUTH=\"$REDIS_PASSWORD\" redis-cli -h 127.0.0.1 -p 6379 ping)\" = PONG ]"
                        ]
                      },
                      "failureThreshold": 3,
                      "initialDelaySeconds": 5,
                      "periodSeconds": 10,
                      "successThreshold": 1,
                      "timeoutSeconds": 5
                    },
                    "resources": {
                      "limits": {
                        "cpu": "500m",
                        "memory": "512Mi"
                      },
                      "requests": {
                        "cpu": "100m",
                        "memory": "128Mi"
                      }
                    },
                    "securityContext": {
                      "allowPrivilegeEscalation": false,
                      "capabilities": {
                        "drop": [
                          "ALL"
                        ]
                      },
                      "readOnlyRootFilesystem": true,
                      "runAsGroup": 999,
                      "runAsNonRoot": true,
                      "runAsUser": 999,
                      "seccompProfile": {
                        "type": "RuntimeDefault"
                      }
                    },
                    "volumeMounts": [
                      {
                        "mountPath": "/data",
                        "name": "data"
                      },
                      {
                        "mountPath": "/tmp",
                        "name": "tmp"
                      }
                    ]
                  }
                ],
                "enableServiceLinks": false,
                "securityContext": {
                  "fsGroup": 999,
                  "runAsGroup": 999,
                  "runAsNonRoot": true,
                  "runAsUser": 999,
                  "seccompProfile": {
                    "type": "RuntimeDefault"
                  }
                },
                "serviceAccountName": "prefect-redis",
                "volumes": [
                  {
                    "emptyDir": {},
                    "name": "tmp"
                  }
                ]
              }
            },
            "volumeClaimTemplates": [
              {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                  "labels": {
                    "app.kubernetes.io/component": "redis",
                    "app.kubernetes.io/instance": "prefect",
                    "app.kubernetes.io/managed-by": "prefectctl",
                    "app.kubernetes.io/name": "prefect-redis",
                    "app.kubernetes.io/part-of": "prefect"
                  },
                  "name": "data"
                },
                "spec": {
                  "accessModes": [
                    "ReadWriteOnce"
                  ],
                  "resources": {
                    "requests": {
                      "storage": "1Gi"
                    }
                  }
                }
              }
            ]
          }
        }"#]]
        .assert_eq(&serde_json::to_string_pretty(item(&response, "StatefulSet")).unwrap());
}

#[test]
fn the_server_uses_redis_for_messaging_ordering_leases_and_docket() {
    let response = run(request(json!({ "service": { "port": 6380 } }))).unwrap();
    assert_eq!(response.changed().len(), 1, "no background services, nothing else changed");
    // The user's own setting (from server.env) stays; the password comes from the Secret, and
    // Docket's URL names its variable, which comes before it.
    expect![[r#"
        [
          {
            "name": "PREFECT_REDIS_MESSAGING_DB",
            "value": "3"
          },
          {
            "name": "PREFECT_MESSAGING_BROKER",
            "value": "prefect_redis.messaging"
          },
          {
            "name": "PREFECT_MESSAGING_CACHE",
            "value": "prefect_redis.messaging"
          },
          {
            "name": "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING",
            "value": "prefect_redis.ordering"
          },
          {
            "name": "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE",
            "value": "prefect_redis.lease_storage"
          },
          {
            "name": "PREFECT_REDIS_MESSAGING_HOST",
            "value": "prefect-redis"
          },
          {
            "name": "PREFECT_REDIS_MESSAGING_PORT",
            "value": "6380"
          },
          {
            "name": "PREFECT_REDIS_MESSAGING_PASSWORD",
            "valueFrom": {
              "secretKeyRef": {
                "key": "redis-password",
                "name": "prefect-redis"
              }
            }
          },
          {
            "name": "PREFECT_SERVER_DOCKET_URL",
            "value": "redis://:$(PREFECT_REDIS_MESSAGING_PASSWORD)@prefect-redis:6380/1"
          }
        ]"#]]
    .assert_eq(&env_of(&response, "prefect-server"));
    // The server waits for Redis, asking with the password from the Secret.
    let wait = &response.changed()[0]["spec"]["template"]["spec"]["initContainers"][0];
    assert_eq!(wait["name"], "wait-for-redis");
    assert_eq!(wait["image"], "redis:7.4");
    assert_eq!(wait["command"][4], "prefect-redis");
    assert_eq!(wait["command"][5], "6380");
    assert_eq!(
        wait["env"],
        json!([{
            "name": "REDISCLI_AUTH",
            "valueFrom": { "secretKeyRef": { "key": "redis-password", "name": "prefect-redis" } },
        }])
    );
}

#[test]
fn the_background_services_get_the_same_settings_when_the_server_runs_them_apart() {
    let response = run(after(vec![server_deployment(), background_services()])).unwrap();
    let background: Vec<Value> =
        serde_json::from_str(&env_of(&response, "prefect-background-services")).unwrap();
    let server: Vec<Value> = serde_json::from_str(&env_of(&response, "prefect-server")).unwrap();
    let names: Vec<&str> = background.iter().map(|var| var["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "PREFECT_MESSAGING_BROKER",
            "PREFECT_MESSAGING_CACHE",
            "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING",
            "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE",
            "PREFECT_REDIS_MESSAGING_HOST",
            "PREFECT_REDIS_MESSAGING_PORT",
            "PREFECT_REDIS_MESSAGING_DB",
            "PREFECT_REDIS_MESSAGING_PASSWORD",
            "PREFECT_SERVER_DOCKET_URL",
        ]
    );
    // The same values as the server's, but for the database number the user set there.
    for var in &background {
        if var["name"] == "PREFECT_REDIS_MESSAGING_DB" {
            assert_eq!(var["value"], "0");
            assert!(
                server.contains(&json!({ "name": "PREFECT_REDIS_MESSAGING_DB", "value": "3" }))
            );
        } else {
            assert!(server.contains(var), "{var} differs on the server");
        }
    }
}

#[test]
fn a_first_install_generates_a_strong_password_and_an_upgrade_keeps_it() {
    let first = applying(json!({}), None);
    assert_eq!(messages(&first), Vec::<String>::new());
    let first = first.unwrap();
    let password = password_in(&first);
    assert_eq!(password.len(), prefect_plugin_sdk::secrets::GENERATED_LENGTH);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    let secret = item(&first, "Secret");
    assert_eq!(secret["metadata"]["annotations"]["prefectctl.io/data"], "true");

    // Another first install draws another password.
    assert_ne!(password_in(&applying(json!({}), None).unwrap()), password);

    // Upgrades find the Secret in the cluster and keep its password, byte for byte.
    let mut live = secret.clone();
    for _ in 0..5 {
        let upgrade =
            applying(json!({ "persistence": { "size": "2Gi" } }), Some(live.clone())).unwrap();
        assert_eq!(password_in(&upgrade), password);
        live = item(&upgrade, "Secret").clone();
    }
}

#[test]
fn a_live_secret_without_the_password_is_an_error_not_a_new_password() {
    let live = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "prefect-redis", "namespace": "prefect" }, "data": {} });
    let response = applying(json!({}), Some(live));
    assert!(response.is_err());
    expect![[r#"
        [
            "plugin `redis`: values.yaml:2: redis.auth.existingSecretPasswordKey: the Secret prefect-redis in the cluster has no key `redis-password`, so the password Redis and its clients share is unknown: put it back under that key, or delete the Secret to have a new one generated",
        ]
    "#]].assert_debug_eq(&messages(&response));
}

#[test]
fn a_fixed_password_is_stored_in_the_releases_secret_and_nowhere_else() {
    let fixed = "Fixed-pass.word_~1";
    let result = run(request(json!({ "auth": { "password": fixed } })));
    assert_eq!(messages(&result), Vec::<String>::new());
    let response = result.unwrap();
    assert_eq!(password_in(&response), fixed);
    for object in response.added().into_iter().chain(response.changed()) {
        if object["kind"] != "Secret" {
            let text = object.to_string();
            assert!(!text.contains(fixed), "the password is in {text}");
        }
    }
}

#[test]
fn a_fixed_password_that_a_url_cannot_hold_is_refused_without_being_shown() {
    let response = run(request(json!({ "auth": { "password": "p@ss:w/rd%?#" } })));
    assert!(response.is_err());
    expect![[r#"
        [
            "plugin `redis`: values.yaml:4: redis.auth.password: may hold only letters, digits and `-._~`: the server puts it into Docket's URL as it is; leave it empty to have a strong one generated and kept",
        ]
    "#]].assert_debug_eq(&messages(&response));
}

#[test]
fn an_existing_secret_is_used_as_it_is() {
    let result = run(request(json!({
        "auth": { "existingSecret": "redis-credentials", "existingSecretPasswordKey": "pw" },
    })));
    assert_eq!(messages(&result), Vec::<String>::new());
    let response = result.unwrap();
    assert!(!response.added_names().iter().any(|k| k.starts_with("Secret/")));
    let reference = r#"{"secretKeyRef":{"key":"pw","name":"redis-credentials"}}"#;
    let redis = item(&response, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]["env"]
        .to_string();
    assert!(redis.contains(reference), "{redis}");
    let server =
        response.changed()[0]["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(server.contains(reference), "{server}");

    let both =
        run(request(json!({ "auth": { "existingSecret": "x", "password": "s3cr3t-value" } })))
            .unwrap_err();
    assert!(both.0[0].contains(" redis.auth.password: "), "{both}");
    assert!(!both.to_string().contains("s3cr3t"), "the password is never shown");
}

#[test]
fn without_persistence_redis_keeps_nothing_on_disk() {
    let response = run(request(json!({ "persistence": { "enabled": false } }))).unwrap();
    let spec = &item(&response, "StatefulSet")["spec"];
    assert!(spec.get("volumeClaimTemplates").is_none());
    let volumes = spec["template"]["spec"]["volumes"].to_string();
    assert!(volumes.contains(r#"{"emptyDir":{},"name":"data"}"#), "{volumes}");
    let command = spec["template"]["spec"]["containers"][0]["command"].to_string();
    assert!(command.ends_with(r#""redis-server","--appendonly","no","--save",""]"#), "{command}");
}

#[test]
fn the_claim_takes_the_size_class_and_access_modes() {
    let response = run(request(json!({
        "persistence": { "size": "5Gi", "storageClass": "fast", "accessModes": ["ReadWriteOncePod"] },
    })))
    .unwrap();
    let claim = &item(&response, "StatefulSet")["spec"]["volumeClaimTemplates"][0]["spec"];
    assert_eq!(
        *claim,
        json!({
            "accessModes": ["ReadWriteOncePod"],
            "resources": { "requests": { "storage": "5Gi" } },
            "storageClassName": "fast",
        })
    );
}

#[test]
fn without_the_server_deployment_there_is_nothing_to_use_redis() {
    let failure = run(after(vec![])).unwrap_err();
    assert!(
        failure.0.iter().any(|m| m.contains("the server's Deployment prefect-server")),
        "{failure}"
    );
}

#[test]
fn the_prebuilt_manifest_is_what_the_code_builds() {
    expect_test::expect_file!["../manifest.json"]
        .assert_eq(&prefect_plugin_sdk::manifest_json::<crate::Redis>());
}
