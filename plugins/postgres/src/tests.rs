//! The plugin run in process, as the host runs it, after a server plugin's Deployment.

use expect_test::expect;
use prefect_plugin_sdk::{
    k8s_openapi::ByteString,
    serde_json::{self, Value, json},
};
use prefect_plugin_test::{Failure, Host, Rendered, messages};

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

/// The plugin after the server plugin's Deployment, with `values` as its section.
fn request(values: Value) -> Host {
    after(vec![server_deployment()]).values_json(json!({ "postgres": values }))
}

/// The plugin after the server plugin, which added `resources`.
fn after(resources: Vec<Value>) -> Host {
    Host::new().with_plugins(&["server"]).with_resources(resources)
}

fn run(host: Host) -> Result<Rendered, Failure> {
    host.run::<Postgres>()
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
    let encoded = item(rendered, "Secret")["data"]["password"].clone();
    let bytes: ByteString = serde_json::from_value(encoded).unwrap();
    String::from_utf8(bytes.0).unwrap()
}

#[test]
fn render_leaves_the_generated_password_to_apply_and_says_so() {
    // Rendering, the plugin asks for no live object: the run would fail if it did.
    let result = run(request(json!({})));
    let response = result.as_ref().unwrap();
    assert_eq!(
        response.added_names(),
        [
            "ServiceAccount/prefect-postgresql",
            "Service/prefect-postgresql",
            "Service/prefect-postgresql-hl",
            "StatefulSet/prefect-postgresql"
        ]
    );
    expect![[r#"
        [
            "plugin `postgres`: values.yaml:2: postgres.auth.password: the Secret prefect-postgresql is left out of this output: `prefectctl apply` generates its password once and keeps it on every upgrade, which `render` cannot do without reading the cluster; to deploy this output with another tool, set auth.existingSecret (or auth.password)",
        ]
    "#]]
    .assert_debug_eq(&messages(&result));
}

#[test]
fn the_statefulset_runs_the_official_image_restricted_on_a_claim() {
    let response = run(request(json!({}))).unwrap();
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
    let response = run(request(json!({ "service": { "port": 6543 } }))).unwrap();
    assert_eq!(response.changed().len(), 1);
    let pod = &response.changed()[0]["spec"]["template"]["spec"];
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
fn wait_command(rendered: &Rendered) -> String {
    let pod = &rendered.changed()[0]["spec"]["template"]["spec"];
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
    let default = run(request(json!({}))).unwrap();
    let command = wait_command(&default);
    assert!(
        command.contains("pg_isready -h prefect-postgresql -p 5432 -U prefect -q"),
        "{command}"
    );

    let custom = run(request(json!({ "auth": { "username": "o'brien; rm -rf /" } }))).unwrap();
    let command = wait_command(&custom);
    assert!(
        command.contains("pg_isready -h prefect-postgresql -p 5432 -U o'brien; rm -rf / -q"),
        "{command}"
    );
    let script = custom.changed()[0]["spec"]["template"]["spec"]["initContainers"][0]["command"][2]
        .as_str()
        .unwrap();
    assert!(!script.contains("o'brien"), "a user value is never part of the script: {script}");
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
            applying(json!({ "persistence": { "size": "20Gi" } }), Some(live.clone())).unwrap();
        assert_eq!(password_in(&upgrade), password);
        live = item(&upgrade, "Secret").clone();
    }
}

#[test]
fn a_live_secret_without_the_password_is_an_error_not_a_new_password() {
    let live = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "prefect-postgresql", "namespace": "prefect" }, "data": {} });
    let response = applying(json!({}), Some(live));
    assert!(response.is_err());
    expect![[r#"
        [
            "plugin `postgres`: values.yaml:2: postgres.auth.secretKeys.userPasswordKey: the Secret prefect-postgresql in the cluster has no key `password`, so the password the database was created with is unknown: put it back under that key, or set auth.existingSecret to the Secret that holds it",
        ]
    "#]]
    .assert_debug_eq(&messages(&response));
}

#[test]
fn a_fixed_password_is_stored_in_the_releases_secret() {
    let result = run(request(json!({ "auth": { "password": "p@ss:w/rd%?#" } })));
    assert_eq!(messages(&result), Vec::<String>::new());
    assert_eq!(password_in(&result.unwrap()), "p@ss:w/rd%?#");
}

#[test]
fn an_existing_secret_is_used_as_it_is() {
    let result = run(request(json!({
        "auth": { "existingSecret": "db-credentials", "secretKeys": { "userPasswordKey": "pw" } },
    })));
    assert_eq!(messages(&result), Vec::<String>::new());
    let response = result.unwrap();
    assert!(!response.added_names().iter().any(|k| k.starts_with("Secret/")));
    let env = response.changed()[0]["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(env.contains(r#"{"name":"PREFECT_SERVER_DATABASE_PASSWORD","valueFrom":{"secretKeyRef":{"key":"pw","name":"db-credentials"}}}"#), "{env}");

    let both =
        run(request(json!({ "auth": { "existingSecret": "x", "password": "s3cr3t-value" } })))
            .unwrap_err();
    assert!(both.0[0].contains(" postgres.auth.password: "), "{both}");
    assert!(!both.to_string().contains("s3cr3t"), "the password is never shown");
}

#[test]
fn without_persistence_the_data_is_in_an_empty_dir() {
    let response = run(request(json!({ "persistence": { "enabled": false } }))).unwrap();
    let spec = &item(&response, "StatefulSet")["spec"];
    assert!(spec.get("volumeClaimTemplates").is_none());
    let volumes = spec["template"]["spec"]["volumes"].to_string();
    assert!(volumes.contains(r#"{"emptyDir":{},"name":"data"}"#), "{volumes}");
}

#[test]
fn without_the_server_deployment_there_is_nothing_to_connect() {
    let failure = run(after(vec![])).unwrap_err();
    assert!(
        failure.0.iter().any(|m| m.contains("the server's Deployment prefect-server")),
        "{failure}"
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
    let response = run(after(items)).unwrap();
    assert_eq!(response.changed().len(), 3);
    for (kind, name, container) in templates {
        let changed = response
            .changed()
            .into_iter()
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
    let result = run(after(items));
    assert!(result.is_err());
    assert!(messages(&result).iter().any(|m| m.contains("the server's Deployment prefect-server")));
}

#[test]
fn a_digest_pins_the_database_and_its_wait_in_the_server_pods() {
    let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let response = run(request(json!({ "image": { "digest": digest } }))).unwrap();
    let pinned = format!("postgres:17@{digest}");
    let statefulset = item(&response, "StatefulSet");
    assert_eq!(statefulset["spec"]["template"]["spec"]["containers"][0]["image"], pinned.as_str());
    let server = &response.changed()[0]["spec"]["template"]["spec"];
    assert_eq!(server["initContainers"][0]["image"], pinned.as_str());
}

#[test]
fn the_prebuilt_manifest_is_what_the_code_builds() {
    expect_test::expect_file!["../manifest.json"]
        .assert_eq(&prefect_plugin_sdk::manifest_json::<crate::Postgres>());
}
