//! The plugin run in process, as the host runs it, after a server plugin's Deployment.

use expect_test::expect;
use prefect_plugin_sdk::{
    serde_json::{self, Value, json},
    testing::{Request, item, messages, names, secret_ref, secret_value},
    wire::{Lookups, RunResponse},
};

use crate::Postgres;

/// The part of the server's Deployment this plugin changes, as the server plugin adds it.
fn server_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "prefect-server", "namespace": "prefect" },
        "spec": {
            "selector": { "matchLabels": { "app.kubernetes.io/name": "prefect-server" } },
            "template": { "spec": { "containers": [{
                "name": "prefect-server",
                "env": [{ "name": "PREFECT_SERVER_DATABASE_NAME", "value": "mine" }],
            }] } },
        },
    })
}

fn request(values: Value) -> Request {
    Request::new(&["server", "postgres"]).items(vec![server_deployment()]).values(values)
}

/// A run while applying, after the host read the password Secret (`None`: absent).
fn applying(values: Value, live: Option<Value>) -> RunResponse {
    request(values).live(secret_ref("prefect-postgresql"), live).run::<Postgres>()
}

fn password_in(response: &RunResponse) -> String {
    secret_value(response, "password")
}

#[test]
fn render_leaves_the_generated_password_to_apply_and_says_so() {
    let response = request(json!({})).run::<Postgres>();
    assert_eq!(
        names(&response),
        [
            "ServiceAccount/prefect-postgresql",
            "Service/prefect-postgresql-hl",
            "Service/prefect-postgresql",
            "StatefulSet/prefect-postgresql"
        ]
    );
    expect![[r#"
        [
            "warning auth.password: the Secret prefect-postgresql is left out of this output: `prefectctl apply` generates its password once and keeps it on every upgrade, which `render` cannot do without reading the cluster; to deploy this output with another tool, set auth.existingSecret (or auth.password)",
        ]
    "#]]
    .assert_debug_eq(&messages(&response));
    assert!(response.lookups.is_empty());
}

#[test]
fn the_statefulset_runs_the_official_image_restricted_on_a_claim() {
    let response = request(json!({})).run::<Postgres>();
    expect![[r#"
        {
          "apiVersion": "apps/v1",
          "kind": "StatefulSet",
          "metadata": {
            "labels": {
              "app.kubernetes.io/component": "postgresql",
              "app.kubernetes.io/instance": "prefect",
              "app.kubernetes.io/managed-by": "prefectctl",
              "app.kubernetes.io/name": "prefect-postgresql",
              "app.kubernetes.io/part-of": "prefect"
            },
            "name": "prefect-postgresql",
            "namespace": "prefect"
          },
          "spec": {
            "replicas": 1,
            "selector": {
              "matchLabels": {
                "app.kubernetes.io/instance": "prefect",
                "app.kubernetes.io/name": "prefect-postgresql"
              }
            },
            "serviceName": "prefect-postgresql-hl",
            "template": {
              "metadata": {
                "labels": {
                  "app.kubernetes.io/component": "postgresql",
                  "app.kubernetes.io/instance": "prefect",
                  "app.kubernetes.io/managed-by": "prefectctl",
                  "app.kubernetes.io/name": "prefect-postgresql",
                  "app.kubernetes.io/part-of": "prefect"
                }
              },
              "spec": {
                "automountServiceAccountToken": false,
                "containers": [
                  {
                    "env": [
                      {
                        "name": "POSTGRES_DB",
                        "value": "prefect"
                      },
                      {
                        "name": "POSTGRES_USER",
                        "value": "prefect"
                      },
                      {
                        "name": "POSTGRES_PASSWORD",
                        "valueFrom": {
                          "secretKeyRef": {
                            "key": "password",
                            "name": "prefect-postgresql"
                          }
                        }
                      },
                      {
                        "name": "PGDATA",
                        "value": "/var/lib/postgresql/data/pgdata"
                      }
                    ],
                    "image": "postgres:17",
                    "imagePullPolicy": "IfNotPresent",
                    "livenessProbe": {
                      "exec": {
                        "command": [
                          "sh",
                          "-c",
                          "exec pg_isready -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -h 127.0.0.1 -p 5432"
                        ]
                      },
                      "failureThreshold": 3,
                      "initialDelaySeconds": 30,
                      "periodSeconds": 10,
                      "successThreshold": 1,
                      "timeoutSeconds": 5
                    },
                    "name": "postgresql",
                    "ports": [
                      {
                        "containerPort": 5432,
                        "name": "postgresql",
                        "protocol": "TCP"
                      }
                    ],
                    "readinessProbe": {
                      "exec": {
                        "command": [
                          "sh",
                          "-c",
                          "exec pg_isready -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -h 127.0.0.1 -p 5432"
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
                        "cpu": "1",
                        "memory": "1Gi"
                      },
                      "requests": {
                        "cpu": "250m",
                        "memory": "256Mi"
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
                        "mountPath": "/var/lib/postgresql/data",
                        "name": "data"
                      },
                      {
                        "mountPath": "/var/run/postgresql",
                        "name": "run"
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
                "serviceAccountName": "prefect-postgresql",
                "volumes": [
                  {
                    "emptyDir": {},
                    "name": "run"
                  },
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
                    "app.kubernetes.io/component": "postgresql",
                    "app.kubernetes.io/instance": "prefect",
                    "app.kubernetes.io/managed-by": "prefectctl",
                    "app.kubernetes.io/name": "prefect-postgresql",
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
                      "storage": "8Gi"
                    }
                  }
                }
              }
            ]
          }
        }"#]].assert_eq(&serde_json::to_string_pretty(item(&response, "StatefulSet")).unwrap());
}

#[test]
fn the_server_connects_with_prefects_database_settings_and_waits_for_the_database() {
    let response = request(json!({ "service": { "port": 6543 } })).run::<Postgres>();
    assert_eq!(response.changed.len(), 1);
    let pod = &response.changed[0]["spec"]["template"]["spec"];
    // The user's own setting (from server.env) stays; the password comes from the Secret.
    expect![[r#"
        [
          {
            "name": "PREFECT_SERVER_DATABASE_NAME",
            "value": "mine"
          },
          {
            "name": "PREFECT_SERVER_DATABASE_DRIVER",
            "value": "postgresql+asyncpg"
          },
          {
            "name": "PREFECT_SERVER_DATABASE_HOST",
            "value": "prefect-postgresql"
          },
          {
            "name": "PREFECT_SERVER_DATABASE_PORT",
            "value": "6543"
          },
          {
            "name": "PREFECT_SERVER_DATABASE_USER",
            "value": "prefect"
          },
          {
            "name": "PREFECT_SERVER_DATABASE_PASSWORD",
            "valueFrom": {
              "secretKeyRef": {
                "key": "password",
                "name": "prefect-postgresql"
              }
            }
          }
        ]"#]]
    .assert_eq(&serde_json::to_string_pretty(&pod["containers"][0]["env"]).unwrap());
    expect![[r#"
        [
          {
            "command": [
              "sh",
              "-c",
              "until pg_isready -h \"$1\" -p \"$2\" -U \"$3\" -q; do echo \"waiting for the database at $1:$2\"; sleep 2; done",
              "wait-for-database",
              "prefect-postgresql",
              "6543",
              "prefect"
            ],
            "image": "postgres:17",
            "imagePullPolicy": "IfNotPresent",
            "name": "wait-for-database",
            "resources": {
              "limits": {
                "cpu": "100m",
                "memory": "64Mi"
              },
              "requests": {
                "cpu": "10m",
                "memory": "16Mi"
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
              "runAsNonRoot": true,
              "seccompProfile": {
                "type": "RuntimeDefault"
              }
            }
          }
        ]"#]].assert_eq(&serde_json::to_string_pretty(&pod["initContainers"]).unwrap());
}

/// The wait-for-database command as the shell runs it: its script with `"$1"`... replaced by
/// the arguments after it.
fn wait_command(response: &RunResponse) -> String {
    let pod = &response.changed[0]["spec"]["template"]["spec"];
    let command: Vec<&str> = pod["initContainers"][0]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|part| part.as_str().unwrap())
        .collect();
    let ["sh", "-c", script, _name, args @ ..] = command.as_slice() else {
        panic!("not `sh -c SCRIPT NAME ARGS...`: {command:?}");
    };
    let mut expanded = script.to_string();
    for (index, arg) in args.iter().enumerate() {
        expanded = expanded.replace(&format!("\"${}\"", index + 1), arg);
    }
    expanded
}

/// The pod runs as a user the postgres image's /etc/passwd does not know (1001, or what
/// OpenShift assigns): without `-U`, libpq finds no user name and pg_isready never succeeds.
#[test]
fn the_wait_for_the_database_names_the_configured_user() {
    let default = request(json!({})).run::<Postgres>();
    let command = wait_command(&default);
    assert!(
        command.contains("pg_isready -h prefect-postgresql -p 5432 -U prefect -q"),
        "{command}"
    );

    let custom = request(json!({ "auth": { "username": "o'brien; rm -rf /" } })).run::<Postgres>();
    let command = wait_command(&custom);
    assert!(
        command.contains("pg_isready -h prefect-postgresql -p 5432 -U o'brien; rm -rf / -q"),
        "{command}"
    );
    let script = custom.changed[0]["spec"]["template"]["spec"]["initContainers"][0]["command"][2]
        .as_str()
        .unwrap();
    assert!(!script.contains("o'brien"), "a user value is never part of the script: {script}");
}

#[test]
fn the_first_apply_asks_for_the_live_secret_before_anything_else() {
    let response =
        request(json!({})).lookups(Lookups { available: true, results: vec![] }).run::<Postgres>();
    assert_eq!(response.lookups, [secret_ref("prefect-postgresql")]);
    assert!(response.items.is_empty() && response.changed.is_empty());
}

#[test]
fn a_first_install_generates_a_strong_password_and_an_upgrade_keeps_it() {
    let first = applying(json!({}), None);
    assert_eq!(messages(&first), Vec::<String>::new());
    let password = password_in(&first);
    assert_eq!(password.len(), prefect_plugin_sdk::secrets::GENERATED_LENGTH);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    let secret = item(&first, "Secret");
    assert_eq!(secret["metadata"]["annotations"]["prefectctl.io/data"], "true");

    // Another first install draws another password.
    assert_ne!(password_in(&applying(json!({}), None)), password);

    // Upgrades find the Secret in the cluster and keep its password, byte for byte.
    let mut live = secret.clone();
    for _ in 0..5 {
        let upgrade = applying(json!({ "persistence": { "size": "20Gi" } }), Some(live.clone()));
        assert_eq!(password_in(&upgrade), password);
        live = item(&upgrade, "Secret").clone();
    }
}

#[test]
fn a_live_secret_without_the_password_is_an_error_not_a_new_password() {
    let live = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "prefect-postgresql" }, "data": {} });
    let response = applying(json!({}), Some(live));
    assert!(response.items.is_empty());
    expect![[r#"
        [
            "error auth.secretKeys.userPasswordKey: the Secret prefect-postgresql in the cluster has no key `password`, so the password the database was created with is unknown: put it back under that key, or set auth.existingSecret to the Secret that holds it",
        ]
    "#]]
    .assert_debug_eq(&messages(&response));
}

#[test]
fn a_fixed_password_is_stored_in_the_releases_secret() {
    let response = request(json!({ "auth": { "password": "p@ss:w/rd%?#" } })).run::<Postgres>();
    assert_eq!(messages(&response), Vec::<String>::new());
    assert_eq!(password_in(&response), "p@ss:w/rd%?#");
}

#[test]
fn an_existing_secret_is_used_as_it_is() {
    let response = request(json!({
        "auth": { "existingSecret": "db-credentials", "secretKeys": { "userPasswordKey": "pw" } },
    }))
    .run::<Postgres>();
    assert_eq!(messages(&response), Vec::<String>::new());
    assert!(!names(&response).iter().any(|k| k.starts_with("Secret/")));
    let env = response.changed[0]["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(env.contains(r#"{"name":"PREFECT_SERVER_DATABASE_PASSWORD","valueFrom":{"secretKeyRef":{"key":"pw","name":"db-credentials"}}}"#), "{env}");

    let both = request(json!({ "auth": { "existingSecret": "x", "password": "s3cr3t-value" } }))
        .run::<Postgres>();
    assert_eq!(both.results[0].path.as_deref(), Some("auth.password"));
    assert!(!both.results[0].message.contains("s3cr3t"), "the password is never shown");
}

#[test]
fn without_persistence_the_data_is_in_an_empty_dir() {
    let response = request(json!({ "persistence": { "enabled": false } })).run::<Postgres>();
    let spec = &item(&response, "StatefulSet")["spec"];
    assert!(spec.get("volumeClaimTemplates").is_none());
    let volumes = spec["template"]["spec"]["volumes"].to_string();
    assert!(volumes.contains(r#"{"emptyDir":{},"name":"data"}"#), "{volumes}");
}

#[test]
fn without_the_server_deployment_there_is_nothing_to_connect() {
    let response = Request::new(&["server", "postgres"]).run::<Postgres>();
    assert!(response.items.is_empty());
    assert!(
        messages(&response)[1].contains("the server's Deployment prefect-server"),
        "{:?}",
        messages(&response)
    );
}

/// A pod template of the server plugin's, with one container `container` and no env.
fn server_workload(kind: &str, name: &str, container: &str) -> Value {
    let api_version = if kind == "Job" { "batch/v1" } else { "apps/v1" };
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": { "name": name, "namespace": "prefect" },
        "spec": {
            "template": { "spec": { "containers": [{ "name": container }] } },
        },
    })
}

#[test]
fn every_server_pod_template_connects_and_waits_for_the_database() {
    let templates = [
        ("Deployment", "prefect-server", "prefect-server"),
        ("Deployment", "prefect-background-services", "prefect-background-services"),
        ("Job", "prefect-db-migrations", "prefect-db-migrations"),
    ];
    let items = templates.iter().map(|(kind, name, c)| server_workload(kind, name, c)).collect();
    let response = Request::new(&["server", "postgres"]).items(items).run::<Postgres>();
    assert_eq!(response.changed.len(), 3, "{:?}", messages(&response));
    for (kind, name, container) in templates {
        let changed = response
            .changed
            .iter()
            .find(|object| object["kind"] == kind && object["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind}/{name} was not changed"));
        let pod = &changed["spec"]["template"]["spec"];
        assert_eq!(pod["containers"][0]["name"], container);
        let names: Vec<&str> = pod["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|var| var["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "PREFECT_SERVER_DATABASE_DRIVER",
                "PREFECT_SERVER_DATABASE_HOST",
                "PREFECT_SERVER_DATABASE_PORT",
                "PREFECT_SERVER_DATABASE_NAME",
                "PREFECT_SERVER_DATABASE_USER",
                "PREFECT_SERVER_DATABASE_PASSWORD",
            ],
            "{kind}/{name}"
        );
        assert_eq!(pod["containers"][0]["env"][5]["valueFrom"]["secretKeyRef"]["key"], "password");
        assert_eq!(pod["initContainers"][0]["name"], "wait-for-database", "{kind}/{name}");
    }

    // Without the API server's Deployment, the others are no server to connect.
    let items =
        templates[1..].iter().map(|(kind, name, c)| server_workload(kind, name, c)).collect();
    let response = Request::new(&["server", "postgres"]).items(items).run::<Postgres>();
    assert!(response.items.is_empty());
    assert!(
        messages(&response).iter().any(|m| m.contains("the server's Deployment prefect-server"))
    );
}

#[test]
fn a_digest_pins_the_database_and_its_wait_in_the_server_pods() {
    let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let response = request(json!({ "image": { "digest": digest } })).run::<Postgres>();
    let pinned = format!("postgres:17@{digest}");
    let statefulset = response.items.iter().find(|i| i["kind"] == "StatefulSet").unwrap();
    assert_eq!(statefulset["spec"]["template"]["spec"]["containers"][0]["image"], pinned.as_str());
    let server = &response.changed[0]["spec"]["template"]["spec"];
    assert_eq!(server["initContainers"][0]["image"], pinned.as_str());
}
