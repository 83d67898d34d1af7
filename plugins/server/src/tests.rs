//! The plugin run in process, as the host runs it, on small values files: snapshots of what
//! users get and the problems they are told about.

use expect_test::{Expect, expect};
use prefect_plugin_sdk::serde_json::{self, Value, json};
use prefect_plugin_test::Host;

use crate::{Server, values::Values};

mod contract;
mod helm_parity;

/// Pinned so that a new default Prefect release does not rewrite every snapshot.
const PREFECT_TAG: &str = "3.9.1-python3.12";

/// The cluster these tests run on unless they say otherwise.
const KUBE_VERSION: &str = "1.20.2";
const API_VERSIONS: &[&str] = &["v1", "apps/v1", "networking.k8s.io/v1", "policy/v1beta1"];

/// The server plugin in release `prefect` in namespace `prefect`, in a stack of `plugins` (the
/// others add nothing to the graph), with `overrides` as its values and the global Prefect tag
/// pinned.
fn host(plugins: &[&str], overrides: impl Into<Files>) -> Host {
    host_with_global(
        plugins,
        json!({ "prefect": { "image": { "prefectTag": PREFECT_TAG } } }),
        overrides,
    )
}

/// [`host`] with `global` as the whole `global:` section.
fn host_with_global(plugins: &[&str], global: Value, overrides: impl Into<Files>) -> Host {
    let others: Vec<&str> = plugins.iter().copied().filter(|plugin| *plugin != "server").collect();
    let host = Host::new().with_plugins(&others).kubernetes(KUBE_VERSION, API_VERSIONS);
    let mut files = overrides.into().0.into_iter();
    let first = files.next().unwrap_or_default();
    let host = host.values_json(json!({ "global": global, "server": first }));
    files.fold(host, |host, file| host.values_json(json!({ "server": file })))
}

/// The server's values as files, each over the ones before it (`-f a.yaml -f b.yaml`).
#[derive(Debug, Clone)]
struct Files(Vec<Value>);

impl From<Value> for Files {
    fn from(values: Value) -> Files {
        Files(vec![values])
    }
}

/// A run through prefect-plugin-test as these tests read it: what the plugin added, in the
/// order prefectctl writes it, and the warnings of a run that succeeded or the errors of one
/// that failed, as prefectctl prints them.
#[derive(Debug)]
struct Run {
    items: Vec<Value>,
    results: Vec<String>,
}

fn run(host: Host) -> Run {
    match host.run::<Server>() {
        Ok(rendered) => {
            let items = rendered.added().into_iter().cloned().collect();
            Run { items, results: rendered.warnings }
        }
        Err(failure) => Run { items: Vec::new(), results: failure.0 },
    }
}

fn run_with(plugins: &[&str], overrides: impl Into<Files>) -> Run {
    run(host(plugins, overrides))
}

/// The items of a run that must succeed without warnings.
fn render(overrides: impl Into<Files>) -> Vec<Value> {
    render_with(&["server"], overrides)
}

fn render_with(plugins: &[&str], overrides: impl Into<Files>) -> Vec<Value> {
    let response = run_with(plugins, overrides);
    assert_eq!(response.results, Vec::<String>::new(), "the run reported problems");
    response.items
}

/// The messages of a run, one a line, as prefectctl prints them.
fn problems(overrides: impl Into<Files>) -> String {
    problem_lines(&run_with(&["server"], overrides))
}

fn problem_lines(response: &Run) -> String {
    response.results.iter().map(|line| format!("{line}\n")).collect()
}

fn check_problems(overrides: impl Into<Files>, expect: Expect) {
    expect.assert_eq(&problems(overrides));
}

fn kinds(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| {
            format!("{}/{}", i["kind"].as_str().unwrap(), i["metadata"]["name"].as_str().unwrap())
        })
        .collect()
}

fn item<'a>(items: &'a [Value], kind: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:?}", kinds(items)))
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

/// The server container of the API server's Deployment.
fn container(items: &[Value]) -> &Value {
    container_of(items, "Deployment", "prefect-server")
}

/// The container's environment as `NAME=value` or `NAME<-secret/key` lines.
fn env(items: &[Value]) -> String {
    env_lines(container(items))
}

/// The first container of the pod template of `kind/name`.
fn container_of<'a>(items: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let workload = items
        .iter()
        .find(|i| i["kind"] == kind && i["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in {:?}", kinds(items)));
    &workload["spec"]["template"]["spec"]["containers"][0]
}

/// A container's environment as `NAME=value` or `NAME<-secret/key` lines.
fn env_lines(container: &Value) -> String {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|var| match &var["valueFrom"]["secretKeyRef"] {
            Value::Null => {
                format!("{}={}\n", var["name"].as_str().unwrap(), var["value"].as_str().unwrap())
            }
            secret => format!(
                "{}<-{}/{}\n",
                var["name"].as_str().unwrap(),
                secret["name"].as_str().unwrap(),
                secret["key"].as_str().unwrap()
            ),
        })
        .collect()
}

#[test]
fn default_stack() {
    let items = render(json!({}));
    expect![[r#"
        [
          {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "automountServiceAccountToken": false,
            "metadata": {
              "labels": {
                "app.kubernetes.io/component": "server",
                "app.kubernetes.io/instance": "prefect",
                "app.kubernetes.io/managed-by": "prefectctl",
                "app.kubernetes.io/name": "prefect-server",
                "app.kubernetes.io/part-of": "prefect"
              },
              "name": "prefect-server",
              "namespace": "prefect"
            }
          },
          {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
              "labels": {
                "app.kubernetes.io/component": "server",
                "app.kubernetes.io/instance": "prefect",
                "app.kubernetes.io/managed-by": "prefectctl",
                "app.kubernetes.io/name": "prefect-server",
                "app.kubernetes.io/part-of": "prefect"
              },
              "name": "prefect-server",
              "namespace": "prefect"
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
          },
          {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
              "labels": {
                "app.kubernetes.io/component": "server",
                "app.kubernetes.io/instance": "prefect",
                "app.kubernetes.io/managed-by": "prefectctl",
                "app.kubernetes.io/name": "prefect-server",
                "app.kubernetes.io/part-of": "prefect"
              },
              "name": "prefect-server",
              "namespace": "prefect"
            },
            "spec": {
              "ports": [
                {
                  "name": "server-svc-port",
                  "port": 4200,
                  "protocol": "TCP",
                  "targetPort": "http"
                }
              ],
              "selector": {
                "app.kubernetes.io/instance": "prefect",
                "app.kubernetes.io/name": "prefect-server"
              },
              "type": "ClusterIP"
            }
          },
          {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
              "labels": {
                "app.kubernetes.io/component": "server",
                "app.kubernetes.io/instance": "prefect",
                "app.kubernetes.io/managed-by": "prefectctl",
                "app.kubernetes.io/name": "prefect-server",
                "app.kubernetes.io/part-of": "prefect"
              },
              "name": "prefect-server",
              "namespace": "prefect"
            },
            "spec": {
              "replicas": 1,
              "revisionHistoryLimit": 10,
              "selector": {
                "matchLabels": {
                  "app.kubernetes.io/instance": "prefect",
                  "app.kubernetes.io/name": "prefect-server"
                }
              },
              "strategy": {
                "type": "Recreate"
              },
              "template": {
                "metadata": {
                  "labels": {
                    "app.kubernetes.io/component": "server",
                    "app.kubernetes.io/instance": "prefect",
                    "app.kubernetes.io/managed-by": "prefectctl",
                    "app.kubernetes.io/name": "prefect-server",
                    "app.kubernetes.io/part-of": "prefect"
                  }
                },
                "spec": {
                  "automountServiceAccountToken": false,
                  "containers": [
                    {
                      "args": [
                        "prefect",
                        "server",
                        "start",
                        "--port",
                        "4200"
                      ],
                      "command": [
                        "/usr/bin/tini",
                        "-g",
                        "--",
                        "/opt/prefect/entrypoint.sh"
                      ],
                      "env": [
                        {
                          "name": "HOME",
                          "value": "/home/prefect"
                        },
                        {
                          "name": "PREFECT_API_URL",
                          "value": "http://localhost:4200/api"
                        },
                        {
                          "name": "PREFECT_DEBUG_MODE",
                          "value": "false"
                        },
                        {
                          "name": "PREFECT_LOGGING_SERVER_LEVEL",
                          "value": "WARNING"
                        },
                        {
                          "name": "PREFECT_SERVER_API_BASE_PATH",
                          "value": "/api"
                        },
                        {
                          "name": "PREFECT_SERVER_API_HOST",
                          "value": "0.0.0.0"
                        },
                        {
                          "name": "PREFECT_SERVER_API_PORT",
                          "value": "4200"
                        },
                        {
                          "name": "PREFECT_UI_ENABLED",
                          "value": "true"
                        },
                        {
                          "name": "PREFECT_UI_API_URL",
                          "value": "http://localhost:4200/api"
                        },
                        {
                          "name": "PREFECT_UI_STATIC_DIRECTORY",
                          "value": "/ui_build"
                        },
                        {
                          "name": "PREFECT_SERVER_DATABASE_CONNECTION_URL",
                          "value": "sqlite+aiosqlite:////data/prefect.db"
                        }
                      ],
                      "image": "prefecthq/prefect:3.9.1-python3.12",
                      "imagePullPolicy": "IfNotPresent",
                      "livenessProbe": {
                        "failureThreshold": 3,
                        "httpGet": {
                          "path": "/api/health",
                          "port": "http"
                        },
                        "initialDelaySeconds": 10,
                        "periodSeconds": 10,
                        "successThreshold": 1,
                        "timeoutSeconds": 5
                      },
                      "name": "prefect-server",
                      "ports": [
                        {
                          "containerPort": 4200,
                          "name": "http",
                          "protocol": "TCP"
                        }
                      ],
                      "readinessProbe": {
                        "failureThreshold": 3,
                        "httpGet": {
                          "path": "/api/ready",
                          "port": "http"
                        },
                        "initialDelaySeconds": 10,
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
                          "cpu": "500m",
                          "memory": "512Mi"
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
                        "runAsGroup": 1001,
                        "runAsNonRoot": true,
                        "runAsUser": 1001,
                        "seccompProfile": {
                          "type": "RuntimeDefault"
                        }
                      },
                      "startupProbe": {
                        "failureThreshold": 30,
                        "httpGet": {
                          "path": "/api/health",
                          "port": "http"
                        },
                        "periodSeconds": 10,
                        "successThreshold": 1,
                        "timeoutSeconds": 5
                      },
                      "volumeMounts": [
                        {
                          "mountPath": "/home/prefect",
                          "name": "home"
                        },
                        {
                          "mountPath": "/tmp",
                          "name": "tmp"
                        },
                        {
                          "mountPath": "/ui_build",
                          "name": "ui-build"
                        },
                        {
                          "mountPath": "/data",
                          "name": "data"
                        }
                      ],
                      "workingDir": "/home/prefect"
                    }
                  ],
                  "enableServiceLinks": false,
                  "securityContext": {
                    "fsGroup": 1001,
                    "runAsGroup": 1001,
                    "runAsNonRoot": true,
                    "runAsUser": 1001,
                    "seccompProfile": {
                      "type": "RuntimeDefault"
                    }
                  },
                  "serviceAccountName": "prefect-server",
                  "volumes": [
                    {
                      "emptyDir": {},
                      "name": "home"
                    },
                    {
                      "emptyDir": {},
                      "name": "tmp"
                    },
                    {
                      "emptyDir": {},
                      "name": "ui-build"
                    },
                    {
                      "name": "data",
                      "persistentVolumeClaim": {
                        "claimName": "prefect-server"
                      }
                    }
                  ]
                }
              }
            }
          }
        ]"#]]
    .assert_eq(&pretty(&Value::Array(items)));
}

#[test]
fn every_value_is_documented() {
    fn walk(schema: &Value, path: &str, missing: &mut Vec<String>) {
        if let Some(properties) = schema["properties"].as_object() {
            for (key, property) in properties {
                let at = format!("{path}.{key}");
                if property["description"].as_str().is_none_or(str::is_empty) {
                    missing.push(at.clone());
                }
                walk(property, &at, missing);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(items, &format!("{path}[]"), missing);
        }
    }
    let manifest = prefect_plugin_sdk::plugin_manifest::<Server>();
    let mut missing = Vec::new();
    walk(&manifest.values_schema, "server", &mut missing);
    assert_eq!(missing, Vec::<String>::new());
    // The documented defaults are values the schema's own type accepts.
    let back: Values = serde_json::from_value(manifest.values_defaults).unwrap();
    assert_eq!(back, Values::default());
}

#[test]
fn ingress_with_tls_serves_the_host_and_points_the_ui_at_it() {
    let items = render(json!({
        "ingress": {
            "enabled": true,
            "className": "nginx",
            "host": { "hostname": "prefect.example.com", "pathType": "Prefix" },
            "annotations": { "cert-manager.io/cluster-issuer": "letsencrypt" },
            "tls": true,
            "extraHosts": [{ "name": "prefect.internal" }],
        },
    }));
    expect![[r#"
        {
          "ingressClassName": "nginx",
          "rules": [
            {
              "host": "prefect.example.com",
              "http": {
                "paths": [
                  {
                    "backend": {
                      "service": {
                        "name": "prefect-server",
                        "port": {
                          "name": "server-svc-port"
                        }
                      }
                    },
                    "path": "/",
                    "pathType": "Prefix"
                  }
                ]
              }
            },
            {
              "host": "prefect.internal",
              "http": {
                "paths": [
                  {
                    "backend": {
                      "service": {
                        "name": "prefect-server",
                        "port": {
                          "name": "server-svc-port"
                        }
                      }
                    },
                    "path": "/",
                    "pathType": "ImplementationSpecific"
                  }
                ]
              }
            }
          ],
          "tls": [
            {
              "hosts": [
                "prefect.example.com"
              ],
              "secretName": "prefect.example.com-tls"
            }
          ]
        }"#]]
    .assert_eq(&pretty(&item(&items, "Ingress")["spec"]));
    assert_eq!(
        item(&items, "Ingress")["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt"
    );
    assert!(env(&items).contains("PREFECT_UI_API_URL=https://prefect.example.com/api\n"));
}

#[test]
fn an_explicit_ui_api_url_wins_and_tls_secret_name_can_be_chosen() {
    let items = render(json!({
        "uiConfig": { "prefectUiApiUrl": "https://prefect.example.com/prefect/api" },
        "ingress": {
            "enabled": true,
            "host": { "hostname": "prefect.example.com" },
            "tls": true,
            "tlsSecretName": "wildcard-example-com",
        },
    }));
    assert_eq!(item(&items, "Ingress")["spec"]["tls"][0]["secretName"], "wildcard-example-com");
    assert!(env(&items).contains("PREFECT_UI_API_URL=https://prefect.example.com/prefect/api\n"));
}

#[test]
fn ingress_problems() {
    check_problems(
        json!({ "ingress": { "enabled": true, "host": { "path": "api" }, "extraHosts": [{ "path": "/" }] } }),
        expect![[r#"
            plugin `server`: values.yaml:12: server.ingress.host.hostname: the Ingress needs the host name users open the UI at, such as prefect.example.com
            plugin `server`: values.yaml:13: server.ingress.host.path: an Ingress path starts with `/`
            plugin `server`: values.yaml:16: server.ingress.extraHosts[0].name: give the extra host's name
        "#]],
    );
    check_problems(
        json!({ "ingress": { "tlsSecretName": "mine" } }),
        expect![[r#"
            plugin `server`: values.yaml:11: server.ingress.tlsSecretName: ignored because ingress.tls is off: turn it on to serve the host over TLS
        "#]],
    );
}

#[test]
fn basic_auth_inline_is_stored_in_a_secret_and_read_from_it() {
    let items = render(json!({ "basicAuth": { "enabled": true, "authString": "admin:s3cret" } }));
    assert_eq!(
        kinds(&items),
        [
            "ServiceAccount/prefect-server",
            "Secret/prefect-server-basic-auth",
            "PersistentVolumeClaim/prefect-server",
            "Service/prefect-server",
            "Deployment/prefect-server",
        ]
    );
    expect![[r#"
        {
          "auth-string": "YWRtaW46czNjcmV0"
        }"#]]
    .assert_eq(&pretty(&item(&items, "Secret")["data"]));
    assert!(
        env(&items)
            .ends_with("PREFECT_SERVER_API_AUTH_STRING<-prefect-server-basic-auth/auth-string\n")
    );
    assert!(!item(&items, "Deployment").to_string().contains("s3cret"));
}

#[test]
fn basic_auth_from_an_existing_secret_creates_none() {
    let items =
        render(json!({ "basicAuth": { "enabled": true, "existingSecret": "prefect-auth" } }));
    assert!(!kinds(&items).iter().any(|k| k.starts_with("Secret/")), "{:?}", kinds(&items));
    assert!(env(&items).ends_with("PREFECT_SERVER_API_AUTH_STRING<-prefect-auth/auth-string\n"));
}

#[test]
fn basic_auth_problems() {
    check_problems(
        json!({ "basicAuth": { "enabled": true } }),
        expect![[r#"
            plugin `server`: values.yaml:10: server.basicAuth: basic auth is enabled without credentials: set existingSecret (a Secret with the key `auth-string`) or authString
        "#]],
    );
    check_problems(
        json!({ "basicAuth": { "enabled": true, "authString": "nocolon", "existingSecret": "s" } }),
        expect![[r#"
            plugin `server`: values.yaml:13: server.basicAuth.existingSecret: set either authString or existingSecret, not both: keep existingSecret so that the password stays out of your values
        "#]],
    );
}

const URL: &str = "postgresql+asyncpg://prefect:hunter2@db.example.com:5432/prefect";

#[test]
fn an_inline_postgres_url_goes_into_a_secret_and_replaces_sqlite() {
    let items = render(json!({ "replicaCount": 3, "externalDatabase": { "connectionUrl": URL } }));
    assert_eq!(
        kinds(&items),
        [
            "ServiceAccount/prefect-server",
            "Secret/prefect-server-postgresql-connection",
            "Service/prefect-server",
            "Job/prefect-db-migrations",
            "Deployment/prefect-server",
        ]
    );
    let secret = item(&items, "Secret");
    assert_eq!(secret["type"], "Opaque");
    let stored = secret["data"]["connection-string"].as_str().unwrap();
    assert_eq!(
        stored,
        "cG9zdGdyZXNxbCthc3luY3BnOi8vcHJlZmVjdDpodW50ZXIyQGRiLmV4YW1wbGUuY29tOjU0MzIvcHJlZmVjdA=="
    );
    let deployment = item(&items, "Deployment");
    assert!(!deployment.to_string().contains("hunter2"), "the URL leaked into the Deployment");
    assert!(
        !deployment.to_string().contains("db.example.com"),
        "the URL leaked into the Deployment"
    );
    assert!(env(&items).ends_with(
        "PREFECT_SERVER_DATABASE_CONNECTION_URL<-prefect-server-postgresql-connection/connection-string\n\
         PREFECT_SERVER_DATABASE_MIGRATE_ON_START=false\n"
    ));
    let job = item(&items, "Job");
    assert!(!job.to_string().contains("hunter2"), "the URL leaked into the Job");
    // Several pods, rolling updates, no SQLite volume.
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["spec"]["strategy"], Value::Null);
    expect![[r#"[{"mountPath":"/home/prefect","name":"home"},{"mountPath":"/tmp","name":"tmp"},{"mountPath":"/ui_build","name":"ui-build"}]"#]].assert_eq(&container(&items)["volumeMounts"].to_string());
}

#[test]
fn a_postgres_url_from_an_existing_secret() {
    let items = render(json!({
        "externalDatabase": { "existingSecret": "prefect-db", "existingSecretKey": "url" },
    }));
    assert!(
        !kinds(&items)
            .iter()
            .any(|k| k.starts_with("Secret/") || k.starts_with("PersistentVolumeClaim/"))
    );
    assert!(env(&items).ends_with(
        "PREFECT_SERVER_DATABASE_CONNECTION_URL<-prefect-db/url\n\
         PREFECT_SERVER_DATABASE_MIGRATE_ON_START=false\n"
    ));
}

#[test]
fn external_database_problems_never_echo_the_url() {
    let problems = problems(json!({
        "externalDatabase": {
            "connectionUrl": "postgresql://prefect:hunter2@db:5432/prefect",
            "existingSecret": "prefect-db",
            "existingSecretKey": "",
        },
    }));
    assert!(!problems.contains("hunter2"));
    expect![[r#"
        plugin `server`: values.yaml:12: server.externalDatabase.existingSecret: set either connectionUrl or existingSecret, not both: keep existingSecret so that the password stays out of your values
        plugin `server`: values.yaml:11: server.externalDatabase.connectionUrl: Prefect needs the asyncpg driver: the URL must start with `postgresql+asyncpg://`
        plugin `server`: values.yaml:13: server.externalDatabase.existingSecretKey: name the key of the Secret that holds the connection URL
    "#]].assert_eq(&problems);
}

#[test]
fn with_the_postgres_plugin_the_server_leaves_the_database_to_it() {
    let items = render_with(&["server", "postgres"], json!({ "replicaCount": 2 }));
    assert_eq!(
        kinds(&items),
        [
            "ServiceAccount/prefect-server",
            "Service/prefect-server",
            "Job/prefect-db-migrations",
            "Deployment/prefect-server",
        ]
    );
    assert!(!env(&items).contains("PREFECT_SERVER_DATABASE_CONNECTION_URL"));
    assert!(!container(&items)["volumeMounts"].to_string().contains("/data"));
    assert_eq!(item(&items, "Deployment")["spec"]["replicas"], 2);

    let response = run_with(
        &["server", "postgres"],
        json!({ "externalDatabase": { "existingSecret": "db" } }),
    );
    assert!(response.results[0].contains(" server.externalDatabase: "), "{:?}", response.results);
    assert!(response.items.is_empty());
}

#[test]
fn sqlite_allows_one_replica_only() {
    check_problems(
        json!({ "replicaCount": 2 }),
        expect![[r#"
            plugin `server`: values.yaml:10: server.replicaCount: the embedded SQLite database is one file that only one server pod can use: keep replicaCount at 1, or move to PostgreSQL (externalDatabase, or the postgres plugin) to run more
        "#]],
    );
    check_problems(
        json!({ "updateStrategy": { "type": "RollingUpdate" } }),
        expect![[r#"
            plugin `server`: values.yaml:11: server.updateStrategy.type: a rolling update starts the new server pod while the old one still holds the SQLite volume, which can attach to one node only: use Recreate (or leave updateStrategy empty), or move to PostgreSQL
        "#]],
    );
    assert!(run_with(&["server"], json!({ "replicaCount": 2 })).items.is_empty());
}

#[test]
fn sqlite_without_persistence_lives_in_an_empty_dir() {
    let items = render(json!({ "sqlite": { "persistence": { "enabled": false } } }));
    assert!(!kinds(&items).iter().any(|k| k.starts_with("PersistentVolumeClaim/")));
    let volumes = &item(&items, "Deployment")["spec"]["template"]["spec"]["volumes"];
    assert_eq!(volumes[3], json!({ "name": "data", "emptyDir": {} }));
    assert!(
        env(&items).contains(
            "PREFECT_SERVER_DATABASE_CONNECTION_URL=sqlite+aiosqlite:////data/prefect.db\n"
        )
    );
}

#[test]
fn sqlite_claim_size_and_class() {
    let items = render(
        json!({ "sqlite": { "persistence": { "size": "5Gi", "storageClassName": "fast" } } }),
    );
    expect![[r#"{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"5Gi"}},"storageClassName":"fast"}"#]].assert_eq(&item(&items, "PersistentVolumeClaim")["spec"].to_string());
}

#[test]
fn an_existing_sqlite_claim_is_mounted_and_none_is_made() {
    let items = render(json!({
        "sqlite": { "persistence": { "existingClaim": "prefect-server-sqlite" } }
    }));
    assert!(!kinds(&items).iter().any(|k| k.starts_with("PersistentVolumeClaim/")));
    let volumes = &item(&items, "Deployment")["spec"]["template"]["spec"]["volumes"];
    assert_eq!(
        volumes[3],
        json!({ "name": "data", "persistentVolumeClaim": { "claimName": "prefect-server-sqlite" } })
    );
}

#[test]
fn null_removes_a_security_context_default() {
    let items = render(json!({
        "podSecurityContext": { "runAsUser": null, "fsGroup": null },
        "containerSecurityContext": { "runAsUser": null, "runAsGroup": null },
    }));
    let pod = &item(&items, "Deployment")["spec"]["template"]["spec"]["securityContext"];
    expect![[
        r#"{"runAsGroup":1001,"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}}"#
    ]]
    .assert_eq(&pod.to_string());
    let container = &container(&items)["securityContext"];
    assert_eq!(container.get("runAsUser"), None);
    assert_eq!(container["readOnlyRootFilesystem"], true);
}

#[test]
fn image_can_be_overridden_for_the_server_only() {
    let items =
        render(json!({ "image": { "repository": "mirror/prefect", "pullPolicy": "Always" } }));
    assert_eq!(container(&items)["image"], "mirror/prefect:3.9.1-python3.12");
    assert_eq!(container(&items)["imagePullPolicy"], "Always");

    let global = json!({
        "imageRegistry": "registry.example.com/",
        "prefect": { "image": { "prefectTag": PREFECT_TAG, "pullSecrets": ["regcred"] } },
    });
    let overrides = json!({ "image": { "prefectTag": "3.4.0-python3.11" } });
    let items = run(host_with_global(&["server"], global, overrides)).items;
    assert_eq!(
        container(&items)["image"],
        "registry.example.com/prefecthq/prefect:3.4.0-python3.11"
    );
    assert_eq!(
        item(&items, "Deployment")["spec"]["template"]["spec"]["imagePullSecrets"],
        json!([{ "name": "regcred" }])
    );
}

/// [`problems`] of a run with `global.prefect.image.prefectTag` set to `tag`.
fn problems_with_global_tag(tag: &str, overrides: impl Into<Files>) -> String {
    let global = json!({ "prefect": { "image": { "prefectTag": tag } } });
    problem_lines(&run(host_with_global(&["server"], global, overrides)))
}

#[test]
fn a_prefect_2_image_is_refused_with_what_to_change() {
    expect![[r#"
        plugin `server`: values.yaml:9: server.image.prefectTag: the image tag 2.20.27-python3.11 (from global.prefect.image.prefectTag) is Prefect 2, and the server plugin runs Prefect 3 only: set a Prefect 3 tag, such as 3.9.1-python3.12, in global.prefect.image.prefectTag or server.image.prefectTag; to keep a Prefect 2 server, run it outside this release and point the worker at it (agent.serverApiConfig.apiUrl, with --without server)
    "#]]
    .assert_eq(&problems_with_global_tag("2.20.27-python3.11", json!({})));
    expect![[r#"
        plugin `server`: values.yaml:11: server.image.prefectTag: the image tag 2 is Prefect 2, and the server plugin runs Prefect 3 only: set a Prefect 3 tag, such as 3.9.1-python3.12, in server.image.prefectTag, or leave it empty for global.prefect.image.prefectTag; to keep a Prefect 2 server, run it outside this release and point the worker at it (agent.serverApiConfig.apiUrl, with --without server)
    "#]]
    .assert_eq(&problems(json!({ "image": { "prefectTag": "2" } })));
    for tag in ["2-python3.11", "2.19.0", "2.20.27-python3.11-kubernetes"] {
        assert_ne!(problems(json!({ "image": { "prefectTag": tag } })), "", "{tag}");
    }

    // Prefect 3, and tags that say nothing of a version, are the user's to choose.
    for tag in ["3", "3.9.1-python3.12", "latest", "20250101", "sha-2f3a"] {
        assert_eq!(problems(json!({ "image": { "prefectTag": tag } })), "", "{tag}");
    }
    // A server image of its own wins over a Prefect 2 global tag (kept for an agent elsewhere).
    assert_eq!(
        problems_with_global_tag("2.20.27", json!({ "image": { "prefectTag": "3.9.1" } })),
        ""
    );
}

#[test]
fn scheduling_env_and_extras_reach_the_pod() {
    let items = render(json!({
        "env": [
            { "name": "PREFECT_LOGGING_SERVER_LEVEL", "value": "DEBUG" },
            { "name": "PREFECT_SERVER_ANALYTICS_ENABLED", "value": "false" },
        ],
        "extraEnvVarsCM": "prefect-settings",
        "extraEnvVarsSecret": "prefect-secrets",
        "extraArgs": ["--no-services"],
        "resources": { "requests": { "cpu": 1, "memory": "1Gi" }, "limits": null },
        "nodeSelector": { "kubernetes.io/os": "linux" },
        "tolerations": [{ "key": "dedicated", "operator": "Equal", "value": "prefect", "effect": "NoSchedule" }],
        "affinity": { "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{ "matchExpressions": [{ "key": "zone", "operator": "In", "values": ["a"] }] }],
        } } },
        "topologySpreadConstraints": [{ "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway" }],
        "podLabels": { "team": "data" },
        "podAnnotations": { "prometheus.io/scrape": "true" },
        "deploymentLabels": { "tier": "control-plane" },
        "deploymentAnnotations": { "owner": "data-platform" },
        "priorityClassName": "high",
    }));
    let deployment = item(&items, "Deployment");
    assert_eq!(deployment["metadata"]["labels"]["tier"], "control-plane");
    assert_eq!(deployment["metadata"]["annotations"], json!({ "owner": "data-platform" }));
    let template = &deployment["spec"]["template"];
    assert_eq!(template["metadata"]["labels"]["team"], "data");
    assert_eq!(template["metadata"]["annotations"], json!({ "prometheus.io/scrape": "true" }));
    let pod = &template["spec"];
    expect![[r#"
        nodeSelector {"kubernetes.io/os":"linux"}
        tolerations [{"effect":"NoSchedule","key":"dedicated","operator":"Equal","value":"prefect"}]
        affinity {"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}]}}}
        topologySpreadConstraints [{"labelSelector":{"matchLabels":{"app.kubernetes.io/instance":"prefect","app.kubernetes.io/name":"prefect-server"}},"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"ScheduleAnyway"}]
        priorityClassName "high"
    "#]].assert_eq(&format!(
        "nodeSelector {}\ntolerations {}\naffinity {}\ntopologySpreadConstraints {}\npriorityClassName {}\n",
        pod["nodeSelector"], pod["tolerations"], pod["affinity"], pod["topologySpreadConstraints"], pod["priorityClassName"],
    ));
    let container = container(&items);
    expect![[r#"
        args ["prefect","server","start","--port","4200","--no-services"]
        envFrom [{"configMapRef":{"name":"prefect-settings"}},{"secretRef":{"name":"prefect-secrets"}}]
        resources {"requests":{"cpu":"1","memory":"1Gi"}}
    "#]].assert_eq(&format!(
        "args {}\nenvFrom {}\nresources {}\n",
        container["args"], container["envFrom"], container["resources"],
    ));
    // The user's variable replaces the plugin's in place; new ones come last.
    let env = env(&items);
    assert!(
        env.contains("PREFECT_LOGGING_SERVER_LEVEL=DEBUG\nPREFECT_SERVER_API_BASE_PATH"),
        "{env}"
    );
    assert!(env.ends_with("PREFECT_SERVER_ANALYTICS_ENABLED=false\n"), "{env}");
    assert_eq!(env.matches("PREFECT_LOGGING_SERVER_LEVEL").count(), 1);
}

#[test]
fn service_account_and_service_settings() {
    let items = render(json!({
        "serviceAccount": { "name": "prefect", "annotations": { "iam.gke.io/gcp-service-account": "p@x.iam" } },
        "service": { "type": "NodePort", "port": 80, "nodePort": 30420, "externalTrafficPolicy": "Local", "annotations": { "a": "b" } },
    }));
    let account = item(&items, "ServiceAccount");
    assert_eq!(account["metadata"]["name"], "prefect");
    assert_eq!(account["automountServiceAccountToken"], false);
    assert_eq!(
        item(&items, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"],
        "prefect"
    );
    expect![[r#"{"externalTrafficPolicy":"Local","ports":[{"name":"server-svc-port","nodePort":30420,"port":80,"protocol":"TCP","targetPort":"http"}],"selector":{"app.kubernetes.io/instance":"prefect","app.kubernetes.io/name":"prefect-server"},"type":"NodePort"}"#]].assert_eq(&item(&items, "Service")["spec"].to_string());

    let items = render(json!({ "serviceAccount": { "create": false } }));
    assert!(!kinds(&items).iter().any(|k| k.starts_with("ServiceAccount/")));
    assert_eq!(
        item(&items, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"],
        "default"
    );
}

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    check_problems(
        json!({
            "replicaCount": 2,
            "service": { "nodePort": 30000 },
            "podLabels": { "app.kubernetes.io/name": "other" },
            "affinity": { "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": { "nodeSelectorTerms": "zone-a" } } },
            "tolerations": [{ "key": "a" }, { "key": "b", "tolerationSeconds": "soon" }],
            "env": [{ "value": "no name" }, { "name": "PREFECT_SERVER_API_AUTH_STRING", "value": "admin:pass" }],
            "containerSecurityContext": { "runAsNonroot": true },
            "livenessProbe": { "config": { "periodSeconds": "often" } },
        }),
        expect![[r#"
            plugin `server`: values.yaml:10: server.replicaCount: the embedded SQLite database is one file that only one server pod can use: keep replicaCount at 1, or move to PostgreSQL (externalDatabase, or the postgres plugin) to run more
            plugin `server`: values.yaml:34: server.env[0].name: `name` is missing: a Kubernetes EnvVar needs it here
            plugin `server`: values.yaml:47: server.livenessProbe.config.periodSeconds: invalid type: string "often", expected i32
            plugin `server`: values.yaml:14: server.podLabels: `app.kubernetes.io/name` selects the pods and cannot change: remove it from podLabels
            plugin `server`: values.yaml:30: server.tolerations[1].tolerationSeconds: invalid type: string "soon", expected i64
            plugin `server`: values.yaml:20: server.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: invalid type: string "zone-a", expected a sequence
            plugin `server`: values.yaml:12: server.service.nodePort: a ClusterIP Service has no node port: set service.type to NodePort or LoadBalancer, or remove nodePort
        "#]],
    );
}

#[test]
fn an_ingress_needs_kubernetes_1_19() {
    let response = run(host(
        &["server"],
        json!({ "ingress": { "enabled": true, "host": { "hostname": "p.example.com" } } }),
    )
    .kubernetes("1.18.20", API_VERSIONS));
    assert_eq!(response.results.len(), 1);
    assert!(response.results[0].contains(" server.ingress.enabled: "), "{}", response.results[0]);
    assert!(response.results[0].contains("1.19"), "{}", response.results[0]);
}

#[test]
fn plain_http_ingress_gives_an_http_ui_api_url() {
    let items =
        render(json!({ "ingress": { "enabled": true, "host": { "hostname": "prefect.local" } } }));
    assert!(env(&items).contains("PREFECT_UI_API_URL=http://prefect.local/api\n"));
    assert_eq!(item(&items, "Ingress")["spec"].get("tls"), None);
}

#[test]
fn schema_shows_chart_names_and_types() {
    let schema = prefect_plugin_sdk::plugin_manifest::<Server>().values_schema;
    let properties = &schema["properties"];
    assert_eq!(properties["replicaCount"]["minimum"], 0);
    assert!(properties["extraEnvVarsCM"].is_object());
    assert!(properties["service"]["properties"]["clusterIP"].is_object());
    let types: Vec<&Value> = properties["service"]["properties"]["type"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|variant| &variant["const"])
        .collect();
    assert_eq!(types, [&json!("ClusterIP"), &json!("NodePort"), &json!("LoadBalancer")]);
    assert_eq!(properties["image"]["properties"]["pullPolicy"]["default"], Value::Null);
    assert_eq!(schema["additionalProperties"], false);
}

/// A run on a cluster that serves `api_versions`.
fn run_on(api_versions: &[&str], plugins: &[&str], overrides: impl Into<Files>) -> Run {
    run(host(plugins, overrides).kubernetes("1.30.0", api_versions))
}

const EXTERNAL_DB: &str = "prefect-db";

/// Values with PostgreSQL from an existing Secret, and `overrides` over them.
fn on_postgres(overrides: Value) -> Files {
    Files(vec![json!({ "externalDatabase": { "existingSecret": EXTERNAL_DB } }), overrides])
}

/// Background services apart, on PostgreSQL, with a Redis of the user's.
fn scaled_out(overrides: Value) -> Files {
    let mut values = on_postgres(json!({
        "replicaCount": 3,
        "backgroundServices": {
            "runAsSeparateDeployment": true,
            "messaging": { "redis": { "host": "redis.example" } },
        },
    }));
    values.0.push(overrides);
    values
}

#[test]
fn more_than_one_server_pod_or_services_apart_need_postgres() {
    check_problems(
        json!({
            "autoscaling": { "enabled": true },
            "backgroundServices": {
                "runAsSeparateDeployment": true,
                "messaging": { "redis": { "host": "redis.example" } },
            },
        }),
        expect![[r#"
            plugin `server`: values.yaml:11: server.autoscaling.enabled: the autoscaler runs several server pods, and the embedded SQLite database is one file that only one pod can use: turn autoscaling off, or move to PostgreSQL (externalDatabase, or the postgres plugin)
            plugin `server`: values.yaml:14: server.backgroundServices.runAsSeparateDeployment: background services in pods of their own share the database with the server, and the embedded SQLite database is one file that only one pod can use: keep them in the server pods (false), or move to PostgreSQL (externalDatabase, or the postgres plugin)
            plugin `server`: values.yaml:11: server.autoscaling.enabled: the cluster (Kubernetes 1.20.2) serves no autoscaling API: turn autoscaling off
        "#]],
    );
    // PostgreSQL from the postgres plugin or externalDatabase lifts the limit.
    assert_eq!(problem_lines(&run_with(&["server", "postgres"], json!({ "replicaCount": 3 }))), "");
    assert_eq!(problems(on_postgres(json!({ "replicaCount": 3 }))), "");
}

#[test]
fn services_apart_need_redis_and_prefect_3_1_13() {
    let apart = json!({ "backgroundServices": { "runAsSeparateDeployment": true } });
    check_problems(
        on_postgres(apart.clone()),
        expect![[r#"
            plugin `server`: values-2.yaml:4: server.backgroundServices.runAsSeparateDeployment: background services in pods of their own exchange events and work with the API server through Redis: add the redis plugin to the stack, or set backgroundServices.messaging.redis.host to your Redis
        "#]],
    );
    // The redis plugin in the stack is Redis enough.
    assert_eq!(problem_lines(&run_with(&["server", "postgres", "redis"], apart)), "");

    check_problems(
        scaled_out(json!({ "image": { "prefectTag": "3.1.12-python3.12" } })),
        expect![[r#"
            plugin `server`: values-2.yaml:5: server.backgroundServices.runAsSeparateDeployment: `prefect server services start` needs Prefect 3.1.13 or later, and the image tag 3.1.12-python3.12 is Prefect 3.1.12: set a later tag in server.image.prefectTag or global.prefect.image.prefectTag, or keep the services in the server pods
        "#]],
    );
    assert_eq!(problems(scaled_out(json!({ "image": { "prefectTag": "3.1.13" } }))), "");
    check_problems(
        scaled_out(json!({ "image": { "prefectTag": "3-latest" } })),
        expect![[r#"
            plugin `server`: values-2.yaml:5: server.backgroundServices.runAsSeparateDeployment: the image tag 3-latest does not start with a Prefect release (X.Y.Z), so nothing tells that it is 3.1.13 or later, which `prefect server services start` needs: pin a tag such as 3.9.1-python3.12
        "#]],
    );
    // A custom image names its own tags: a warning, and the render goes on.
    let custom = run_with(
        &["server"],
        scaled_out(
            json!({ "image": { "repository": "registry.example/prefect", "prefectTag": "prod" } }),
        ),
    );
    expect![[r#"
        plugin `server`: values-2.yaml:5: server.backgroundServices.runAsSeparateDeployment: the image tag prod does not start with a Prefect release (X.Y.Z), so nothing tells that it is 3.1.13 or later, which `prefect server services start` needs: pin a tag such as 3.9.1-python3.12
    "#]]
    .assert_eq(&problem_lines(&custom));
    assert!(!custom.items.is_empty());
}

#[test]
fn the_redis_plugin_owns_messaging() {
    let response = run_with(
        &["server", "postgres", "redis"],
        json!({ "backgroundServices": { "messaging": {
            "redis": { "host": "redis.example" },
            "docket": { "url": "redis://redis.example:6379/1" },
        } } }),
    );
    expect![[r#"
        plugin `server`: values.yaml:13: server.backgroundServices.messaging.redis.host: the `redis` plugin in the stack provides Redis and sets the messaging of the server and the background services: remove messaging.redis.host, or drop the redis plugin to use your own Redis
        plugin `server`: values.yaml:15: server.backgroundServices.messaging.docket: the `redis` plugin in the stack sets Docket's URL: remove messaging.docket.url and existingSecret, or drop the redis plugin
    "#]]
    .assert_eq(&problem_lines(&response));
    assert!(response.items.is_empty());

    // Alone, it leaves every messaging variable to the redis plugin.
    let items = render_with(
        &["server", "postgres", "redis"],
        json!({ "backgroundServices": { "runAsSeparateDeployment": true } }),
    );
    for name in ["prefect-server", "prefect-background-services"] {
        let env = env_lines(container_of(&items, "Deployment", name));
        assert!(!env.contains("REDIS") && !env.contains("MESSAGING"), "{name}: {env}");
    }
}

#[test]
fn the_autoscaler_follows_the_clusters_api_version() {
    let values = on_postgres(json!({ "autoscaling": { "enabled": true, "maxReplicas": 5 } }));
    let v2 =
        run_on(&["v1", "apps/v1", "autoscaling/v2", "autoscaling/v1"], &["server"], values.clone());
    assert_eq!(v2.results, Vec::<String>::new());
    let hpa = item(&v2.items, "HorizontalPodAutoscaler");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(hpa["metadata"]["name"], "prefect-server");
    expect![[r#"{"maxReplicas":5,"metrics":[{"resource":{"name":"cpu","target":{"averageUtilization":80,"type":"Utilization"}},"type":"Resource"},{"resource":{"name":"memory","target":{"averageUtilization":80,"type":"Utilization"}},"type":"Resource"}],"minReplicas":1,"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"prefect-server"}}"#]].assert_eq(&hpa["spec"].to_string());
    assert!(
        item(&v2.items, "Deployment")["spec"].get("replicas").is_none(),
        "the autoscaler sets replicas"
    );

    let v2beta2 = run_on(&["v1", "apps/v1", "autoscaling/v2beta2"], &["server"], values.clone());
    let old = item(&v2beta2.items, "HorizontalPodAutoscaler");
    assert_eq!(old["apiVersion"], "autoscaling/v2beta2");
    assert_eq!(old["spec"], hpa["spec"]);

    let v1 = run_on(&["v1", "apps/v1", "autoscaling/v1"], &["server"], values);
    expect![[r#"
        plugin `server`: values-2.yaml:3: server.autoscaling.targetMemory: the cluster (Kubernetes 1.30.0) serves autoscaling/v1 only, which scales on CPU alone: remove the targetMemory target
    "#]]
    .assert_eq(&problem_lines(&v1));
    let cpu_only = on_postgres(json!({ "autoscaling": { "enabled": true, "targetMemory": 0 } }));
    let v1 = run_on(&["v1", "apps/v1", "autoscaling/v1"], &["server"], cpu_only);
    assert_eq!(v1.results, Vec::<String>::new());
    let hpa = item(&v1.items, "HorizontalPodAutoscaler");
    assert_eq!(hpa["apiVersion"], "autoscaling/v1");
    expect![[r#"{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"prefect-server"},"minReplicas":1,"maxReplicas":100,"targetCPUUtilizationPercentage":80}"#]].assert_eq(&hpa["spec"].to_string());

    let none = run_on(
        &["v1", "apps/v1"],
        &["server"],
        on_postgres(json!({ "autoscaling": { "enabled": true } })),
    );
    expect![[r#"
        plugin `server`: values-2.yaml:4: server.autoscaling.enabled: the cluster (Kubernetes 1.30.0) serves no autoscaling API: turn autoscaling off
    "#]]
    .assert_eq(&problem_lines(&none));
}

#[test]
fn a_disruption_budget_keeps_server_pods_up() {
    let items = render(on_postgres(json!({
        "replicaCount": 2,
        "podDisruptionBudget": { "enabled": true, "maxUnavailable": 1 },
    })));
    let pdb = item(&items, "PodDisruptionBudget");
    // The request's cluster is Kubernetes 1.20.
    assert_eq!(pdb["apiVersion"], "policy/v1beta1");
    expect![[r#"{"maxUnavailable":1,"selector":{"matchLabels":{"app.kubernetes.io/instance":"prefect","app.kubernetes.io/name":"prefect-server"}}}"#]].assert_eq(&pdb["spec"].to_string());
    check_problems(
        on_postgres(json!({ "podDisruptionBudget": { "enabled": true, "minAvailable": "120%" } })),
        expect![[r#"
            plugin `server`: values-2.yaml:5: server.podDisruptionBudget.minAvailable: give a number of pods, such as 1, or a percentage, such as "50%"
        "#]],
    );
}

#[test]
fn on_postgres_a_job_migrates_the_database_before_the_server_processes_start() {
    let items = render(scaled_out(json!({})));
    let job = item(&items, "Job");
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["metadata"]["name"], "prefect-db-migrations");
    assert_eq!(
        job["metadata"]["annotations"]["prefectctl.io/run-before"],
        "Deployment/prefect-server,Deployment/prefect-background-services"
    );
    assert_eq!(job["metadata"]["labels"]["app.kubernetes.io/component"], "db-migrations");
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 300);
    assert_eq!(job["spec"]["backoffLimit"], 5);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["serviceAccountName"], "prefect-server");
    let container = container_of(&items, "Job", "prefect-db-migrations");
    assert_eq!(container["name"], "prefect-db-migrations");
    expect![[r#"["/usr/bin/tini","-g","--","/opt/prefect/entrypoint.sh"] ["sh","-c","report=\"$1\"; shift; \"$@\" || exit; python -c \"$report\" || true","db-migrations","import pathlib, prefect.server.database as d\nfrom alembic.config import Config\nfrom alembic.script import ScriptDirectory\nm = pathlib.Path(d.__file__).parent / '_migrations'\nc = Config()\nc.set_main_option('script_location', str(m))\nc.set_main_option('version_locations', str(m / 'versions' / 'postgresql'))\nprint('prefect database revision: ' + ScriptDirectory.from_config(c).get_current_head())\n","prefect","server","database","upgrade","-y"]"#]]
        .assert_eq(&format!("{} {}", container["command"], container["args"]));
    expect![[
        r#"{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"100m","memory":"128Mi"}}"#
    ]]
    .assert_eq(&container["resources"].to_string());
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    expect![[r#"
        HOME=/home/prefect
        PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT=30
        PREFECT_SERVER_DATABASE_CONNECTION_URL<-prefect-db/connection-string
    "#]]
    .assert_eq(&env_lines(container));
    for name in ["prefect-server", "prefect-background-services"] {
        let env = env_lines(container_of(&items, "Deployment", name));
        assert!(env.contains("PREFECT_SERVER_DATABASE_MIGRATE_ON_START=false\n"), "{name}");
    }

    // The server alone: the Job runs before it only.
    let items = render(on_postgres(json!({
        "migrations": { "timeoutSeconds": 0, "env": [{ "name": "PREFECT_LOGGING_LEVEL", "value": "DEBUG" }] },
        "env": [{ "name": "PREFECT_LOGGING_LEVEL", "value": "INFO" }],
    })));
    let job = item(&items, "Job");
    assert_eq!(
        job["metadata"]["annotations"]["prefectctl.io/run-before"],
        "Deployment/prefect-server"
    );
    assert!(job["spec"].get("activeDeadlineSeconds").is_none());
    assert!(
        env_lines(container_of(&items, "Job", "prefect-db-migrations"))
            .ends_with("PREFECT_LOGGING_LEVEL=DEBUG\n")
    );

    // Turned off, or on SQLite: the server migrates on start.
    for values in [on_postgres(json!({ "migrations": { "enabled": false } })), json!({}).into()] {
        let items = render(values);
        assert!(!kinds(&items).iter().any(|k| k.starts_with("Job/")));
        assert!(!env(&items).contains("MIGRATE_ON_START"));
    }
}

#[test]
fn services_apart_run_in_their_own_deployment_with_the_servers_settings() {
    let items = render(scaled_out(json!({
        "basicAuth": { "enabled": true, "existingSecret": "prefect-auth" },
        "backgroundServices": { "loggingLevel": "INFO", "replicaCount": 2 },
    })));
    expect![[r#"
        [
            "ServiceAccount/prefect-background-services",
            "ServiceAccount/prefect-server",
            "Service/prefect-server",
            "Job/prefect-db-migrations",
            "Deployment/prefect-background-services",
            "Deployment/prefect-server",
        ]
    "#]]
    .assert_debug_eq(&kinds(&items));
    let server = container_of(&items, "Deployment", "prefect-server");
    expect![[r#"["prefect","server","start","--no-services","--port","4200"]"#]]
        .assert_eq(&server["args"].to_string());
    let services = items
        .iter()
        .find(|i| {
            i["metadata"]["name"] == "prefect-background-services" && i["kind"] == "Deployment"
        })
        .unwrap();
    assert_eq!(services["spec"]["replicas"], 2);
    assert_eq!(
        services["metadata"]["labels"]["app.kubernetes.io/component"],
        "background-services"
    );
    let pod = &services["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "prefect-background-services");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    assert_eq!(container["name"], "prefect-background-services");
    expect![[r#"["/usr/bin/tini","-g","--","/opt/prefect/entrypoint.sh"] ["prefect","server","services","start"]"#]]
        .assert_eq(&format!("{} {}", container["command"], container["args"]));
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(container["resources"]["requests"]["cpu"], "500m");
    expect![[r#"
        HOME=/home/prefect
        PREFECT_DEBUG_MODE=false
        PREFECT_LOGGING_SERVER_LEVEL=INFO
        PREFECT_UI_ENABLED=false
        PREFECT_SERVER_DATABASE_CONNECTION_URL<-prefect-db/connection-string
        PREFECT_SERVER_API_AUTH_STRING<-prefect-auth/auth-string
        PREFECT_SERVER_DATABASE_MIGRATE_ON_START=false
        PREFECT_MESSAGING_BROKER=prefect_redis.messaging
        PREFECT_MESSAGING_CACHE=prefect_redis.messaging
        PREFECT_SERVER_EVENTS_CAUSAL_ORDERING=prefect_redis.ordering
        PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=prefect_redis.lease_storage
        PREFECT_REDIS_MESSAGING_HOST=redis.example
        PREFECT_REDIS_MESSAGING_PORT=6379
        PREFECT_REDIS_MESSAGING_DB=0
        PREFECT_REDIS_MESSAGING_SSL=false
        PREFECT_SERVER_DOCKET_URL=redis://redis.example:6379/0
    "#]]
    .assert_eq(&env_lines(container));
    // The server gets the same shared settings after its own.
    let server_env = env_lines(server);
    let shared = env_lines(container)
        .split_once("PREFECT_SERVER_DATABASE_CONNECTION_URL")
        .unwrap()
        .1
        .to_owned();
    assert!(server_env.ends_with(&shared), "{server_env}");
    // Problems of the services' pod values name their path.
    check_problems(
        scaled_out(
            json!({ "backgroundServices": { "podLabels": { "app.kubernetes.io/name": "x" } } }),
        ),
        expect![[r#"
            plugin `server`: values-3.yaml:4: server.backgroundServices.podLabels: `app.kubernetes.io/name` selects the pods and cannot change: remove it from podLabels
        "#]],
    );
}

#[test]
fn an_inline_redis_password_reaches_the_containers_through_a_secret_only() {
    let password = "s3cret-redis-pw";
    let items = render(scaled_out(json!({ "backgroundServices": { "messaging": { "redis": {
        "username": "prefect", "password": password, "ssl": true, "port": 6380, "db": 2,
    } } } })));
    assert!(!serde_json::to_string(&items).unwrap().contains(password), "a password leaked");
    let secret =
        items.iter().find(|i| i["metadata"]["name"] == "prefect-server-messaging").unwrap();
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["data"].as_object().unwrap().keys().collect::<Vec<_>>(), ["redis-password"]);
    for name in ["prefect-server", "prefect-background-services"] {
        let env = env_lines(container_of(&items, "Deployment", name));
        let messaging = env.split_once("PREFECT_REDIS_MESSAGING_HOST").unwrap().1;
        expect![[r#"
            =redis.example
            PREFECT_REDIS_MESSAGING_PORT=6380
            PREFECT_REDIS_MESSAGING_DB=2
            PREFECT_REDIS_MESSAGING_USERNAME=prefect
            PREFECT_REDIS_MESSAGING_SSL=true
            PREFECT_REDIS_MESSAGING_PASSWORD<-prefect-server-messaging/redis-password
            PREFECT_SERVER_DOCKET_URL=rediss://prefect:$(PREFECT_REDIS_MESSAGING_PASSWORD)@redis.example:6380/2
        "#]]
        .assert_eq(messaging);
    }
}

#[test]
fn a_redis_password_and_a_docket_url_from_existing_secrets() {
    let items = render(scaled_out(json!({ "backgroundServices": { "messaging": {
        "redis": { "existingSecret": "redis-auth" },
        "docket": { "existingSecret": "docket" },
    } } })));
    assert!(!kinds(&items).iter().any(|k| k.starts_with("Secret/")));
    let env = env_lines(container_of(&items, "Deployment", "prefect-server"));
    assert!(env.ends_with(
        "PREFECT_REDIS_MESSAGING_PASSWORD<-redis-auth/redis-password\n\
         PREFECT_SERVER_DOCKET_URL<-docket/docket-url\n"
    ));

    // An inline Docket URL goes into the plugin's Secret, as it may hold a password.
    let url = "redis://:hunter2@docket.example:6379/1";
    let items = render(scaled_out(
        json!({ "backgroundServices": { "messaging": { "docket": { "url": url } } } }),
    ));
    assert!(!serde_json::to_string(&items).unwrap().contains("hunter2"));
    let env = env_lines(container_of(&items, "Deployment", "prefect-background-services"));
    assert!(env.ends_with("PREFECT_SERVER_DOCKET_URL<-prefect-server-messaging/docket-url\n"));

    check_problems(
        scaled_out(json!({ "backgroundServices": { "messaging": {
            "redis": { "password": "x", "existingSecret": "redis-auth" },
            "docket": { "url": "redis://a", "existingSecret": "docket" },
        } } })),
        expect![[r#"
            plugin `server`: values-3.yaml:7: server.backgroundServices.messaging.redis.existingSecret: set either password or existingSecret, not both: keep existingSecret so that the password stays out of your values
            plugin `server`: values-3.yaml:11: server.backgroundServices.messaging.docket.existingSecret: set either url or existingSecret, not both
        "#]],
    );
}

#[test]
fn messaging_without_services_apart_reaches_the_server() {
    let items = render(on_postgres(json!({
        "replicaCount": 2,
        "backgroundServices": { "messaging": { "redis": { "host": "redis.example" } } },
    })));
    assert!(!kinds(&items).iter().any(|k| k.contains("background-services")));
    let env = env(&items);
    assert!(env.contains("PREFECT_REDIS_MESSAGING_HOST=redis.example\n"));
    assert!(env.ends_with("PREFECT_SERVER_DOCKET_URL=redis://redis.example:6379/0\n"));
    expect![[r#"["prefect","server","start","--port","4200"]"#]]
        .assert_eq(&container(&items)["args"].to_string());
}

const DIGEST: &str = "sha256:4f8ab0b3a2b5c1d9e0f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5";

#[test]
fn a_digest_pins_every_server_pod_and_a_malformed_one_is_refused() {
    let items = render(scaled_out(json!({ "image": { "digest": DIGEST } })));
    let pinned = format!("prefecthq/prefect:3.9.1-python3.12@{DIGEST}");
    for (kind, name) in [
        ("Deployment", "prefect-server"),
        ("Deployment", "prefect-background-services"),
        ("Job", "prefect-db-migrations"),
    ] {
        assert_eq!(container_of(&items, kind, name)["image"], pinned.as_str(), "{kind}/{name}");
    }
    check_problems(
        json!({ "image": { "digest": "sha256:abc" } }),
        expect![[r#"
            plugin `server`: values.yaml:11: server.image.digest: "sha256:abc" is not an image digest: give `sha256:` and the 64 lower-case hex digits a registry prints (`crane digest IMAGE`, `docker buildx imagetools inspect IMAGE`), or leave it empty to run the tag
        "#]],
    );
}

// Networking: the Ingress' extra paths, rules and self-signed certificate; the Gateway API.

#[test]
fn ingress_extra_paths_go_before_the_servers_and_extra_rules_after_its_hosts() {
    let items = render(json!({
        "ingress": {
            "enabled": true,
            "host": { "hostname": "prefect.example.com" },
            "extraHosts": [{ "name": "prefect.internal" }],
            "extraPaths": [{
                "path": "/docs",
                "pathType": "Prefix",
                "backend": { "service": { "name": "docs", "port": { "number": 80 } } },
            }],
            "extraRules": [{
                "host": "grafana.example.com",
                "http": { "paths": [{
                    "path": "/",
                    "pathType": "Prefix",
                    "backend": { "service": { "name": "grafana", "port": { "name": "http" } } },
                }] },
            }],
        },
    }));
    let rules = &item(&items, "Ingress")["spec"]["rules"];
    let summary: Vec<String> = rules
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rule| {
            rule["http"]["paths"].as_array().unwrap().iter().map(move |path| {
                let service = &path["backend"]["service"];
                format!(
                    "{}{} -> {}:{}",
                    rule["host"].as_str().unwrap(),
                    path["path"].as_str().unwrap(),
                    service["name"].as_str().unwrap(),
                    service["port"]["name"]
                        .as_str()
                        .map_or(service["port"]["number"].to_string(), str::to_owned),
                )
            })
        })
        .collect();
    assert_eq!(
        summary,
        [
            "prefect.example.com/docs -> docs:80",
            "prefect.example.com/ -> prefect-server:server-svc-port",
            "prefect.internal/ -> prefect-server:server-svc-port",
            "grafana.example.com/ -> grafana:http",
        ]
    );
}

#[test]
fn ingress_extras_are_checked_as_kubernetes_objects() {
    check_problems(
        json!({ "ingress": {
            "enabled": true,
            "host": { "hostname": "prefect.example.com" },
            "extraPaths": [{ "path": "/docs", "backend": { "service": { "name": "docs" } } }],
            "extraRules": [{ "host": 7 }],
            "selfSigned": true,
        } }),
        expect![[r#"
            plugin `server`: values.yaml:16: server.ingress.extraPaths[0].pathType: `pathType` is missing: a Kubernetes HTTPIngressPath needs it here
            plugin `server`: values.yaml:27: server.ingress.extraRules[0].host: invalid type: integer `7`, expected a string
        "#]],
    );
}

const SELF_SIGNED: &str = "prefect.example.com-tls";

fn self_signed(hostname: &str) -> Value {
    json!({ "ingress": {
        "enabled": true,
        "host": { "hostname": hostname },
        "tls": true,
        "selfSigned": true,
    } })
}

/// A run while applying, in which the host read the Secret `SELF_SIGNED` (`None`: absent).
fn apply_with_tls_secret(overrides: impl Into<Files>, live: Option<Value>) -> Run {
    run(host(&["server"], overrides).live(live.into_iter().collect()))
}

fn tls_secret(response: &Run) -> &Value {
    assert_eq!(response.results, Vec::<String>::new(), "the run reported problems");
    response
        .items
        .iter()
        .find(|i| i["kind"] == "Secret" && i["metadata"]["name"] == SELF_SIGNED)
        .unwrap_or_else(|| panic!("no Secret {SELF_SIGNED} in {:?}", kinds(&response.items)))
}

fn decoded(secret: &Value, key: &str) -> String {
    let bytes: prefect_plugin_sdk::k8s_openapi::ByteString =
        serde_json::from_value(secret["data"][key].clone()).unwrap();
    String::from_utf8(bytes.0).unwrap()
}

#[test]
fn a_self_signed_certificate_is_made_by_apply_kept_and_never_rendered() {
    // render: the Ingress serves TLS from the Secret, which is left out with a warning.
    let rendered = run_with(&["server"], self_signed("prefect.example.com"));
    expect![[r#"
        plugin `server`: values.yaml:16: server.ingress.selfSigned: the Secret prefect.example.com-tls is left out of this output, since it holds a private key: `prefectctl apply` generates the self-signed certificate once and keeps it on every upgrade; to deploy this output with another tool, create the Secret yourself (kubectl create secret tls prefect.example.com-tls --cert=... --key=...) and turn ingress.selfSigned off
    "#]]
    .assert_eq(&problem_lines(&rendered));
    assert!(!kinds(&rendered.items).contains(&format!("Secret/{SELF_SIGNED}")));
    assert_eq!(item(&rendered.items, "Ingress")["spec"]["tls"][0]["secretName"], SELF_SIGNED);
    assert!(!format!("{rendered:?}").contains("PRIVATE KEY"));

    // The first apply: no Secret yet, so a new certificate.
    let first = apply_with_tls_secret(self_signed("prefect.example.com"), None);
    let made = tls_secret(&first).clone();
    assert_eq!(made["type"], "kubernetes.io/tls");
    assert_eq!(
        made["metadata"]["annotations"]["prefectctl.io/self-signed-host"],
        "prefect.example.com"
    );
    assert!(decoded(&made, "tls.crt").starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(decoded(&made, "tls.key").starts_with("-----BEGIN PRIVATE KEY-----\n"));

    // An upgrade keeps it; another host makes a new one.
    let upgrade = apply_with_tls_secret(self_signed("prefect.example.com"), Some(made.clone()));
    assert_eq!(tls_secret(&upgrade)["data"], made["data"]);
    let again = apply_with_tls_secret(self_signed("prefect.example.com"), None);
    assert_ne!(tls_secret(&again)["data"], made["data"], "each certificate is new");
    let moved = apply_with_tls_secret(
        json!({ "ingress": {
            "enabled": true,
            "host": { "hostname": "prefect.example.org" },
            "tls": true,
            "selfSigned": true,
            "tlsSecretName": SELF_SIGNED,
        } }),
        Some(made.clone()),
    );
    let remade = tls_secret(&moved);
    assert_ne!(remade["data"], made["data"]);
    assert_eq!(
        remade["metadata"]["annotations"]["prefectctl.io/self-signed-host"],
        "prefect.example.org"
    );
}

/// A request on a cluster that serves the Gateway API.
fn with_gateway_api(overrides: impl Into<Files>) -> Run {
    let api_versions = [API_VERSIONS, &[crate::gateway::API_VERSION]].concat();
    run(host(&["server"], overrides).kubernetes(KUBE_VERSION, &api_versions))
}

#[test]
fn a_gateway_its_route_and_the_tls_redirect_as_prefect_helm_makes_them() {
    let response = with_gateway_api(json!({
        "service": { "port": 8080 },
        "gateway": {
            "enabled": true,
            "className": "istio",
            "labels": { "team": "platform" },
            "annotations": { "external-dns.alpha.kubernetes.io/hostname": "prefect.example.com" },
        },
        "httproute": {
            "hostnames": ["prefect.example.com"],
            "tls": { "redirect": true },
        },
    }));
    assert_eq!(response.results, Vec::<String>::new());
    let objects: Vec<Value> = response
        .items
        .iter()
        .filter(|i| i["apiVersion"] == crate::gateway::API_VERSION)
        .map(|i| {
            let mut i = i.clone();
            i["metadata"]["labels"] = json!({
                "component": i["metadata"]["labels"]["app.kubernetes.io/component"],
                "team": i["metadata"]["labels"]["team"],
            });
            i
        })
        .collect();
    expect![[r#"
        [
          {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {
              "name": "prefect-server",
              "namespace": "prefect",
              "labels": {
                "component": "gateway",
                "team": "platform"
              },
              "annotations": {
                "external-dns.alpha.kubernetes.io/hostname": "prefect.example.com"
              }
            },
            "spec": {
              "gatewayClassName": "istio",
              "listeners": [
                {
                  "name": "http",
                  "port": 80,
                  "protocol": "HTTP"
                },
                {
                  "name": "https",
                  "port": 443,
                  "protocol": "HTTPS",
                  "tls": {
                    "mode": "Terminate",
                    "certificateRefs": [
                      {
                        "kind": "Secret",
                        "name": "prefect.example.com-tls"
                      }
                    ]
                  }
                }
              ]
            }
          },
          {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {
              "name": "prefect-server",
              "namespace": "prefect",
              "labels": {
                "component": "httproute",
                "team": null
              }
            },
            "spec": {
              "parentRefs": [
                {
                  "name": "prefect-server",
                  "sectionName": "https"
                }
              ],
              "hostnames": [
                "prefect.example.com"
              ],
              "rules": [
                {
                  "matches": [
                    {
                      "path": {
                        "type": "PathPrefix",
                        "value": "/"
                      }
                    }
                  ],
                  "backendRefs": [
                    {
                      "name": "prefect-server",
                      "port": 8080
                    }
                  ]
                }
              ]
            }
          },
          {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {
              "name": "prefect-server-tls-redirect",
              "namespace": "prefect",
              "labels": {
                "component": "httproute",
                "team": null
              }
            },
            "spec": {
              "parentRefs": [
                {
                  "name": "prefect-server",
                  "sectionName": "http"
                }
              ],
              "hostnames": [
                "prefect.example.com"
              ],
              "rules": [
                {
                  "filters": [
                    {
                      "type": "RequestRedirect",
                      "requestRedirect": {
                        "scheme": "https",
                        "port": 443,
                        "statusCode": 301
                      }
                    }
                  ]
                }
              ]
            }
          }
        ]"#]]
    .assert_eq(&pretty(&Value::Array(objects)));
    assert_eq!(kinds(&response.items).iter().filter(|k| k.starts_with("Ingress/")).count(), 0);
    // The UI calls the API at the route's first host.
    assert!(env(&response.items).contains("PREFECT_UI_API_URL=https://prefect.example.com/api\n"));
}

#[test]
fn a_route_to_a_gateway_that_exists_with_its_own_rules() {
    let response = with_gateway_api(json!({
        "gateway": { "enabled": true, "create": false },
        "httproute": {
            "name": "prefect-ui",
            "path": "/prefect",
            // As in prefect-helm, a parent without sectionName attaches to every listener.
            "parentRefs": [{ "name": "shared", "namespace": "gateways", "port": 8443 }],
            "extraRules": [{ "matches": [{ "path": { "type": "Exact", "value": "/healthz" } }], "backendRefs": [{ "name": "health", "port": 80 }] }],
            "tls": { "redirect": true, "redirectPort": 8443 },
        },
    }));
    assert_eq!(response.results, Vec::<String>::new());
    let routes: Vec<&Value> = response.items.iter().filter(|i| i["kind"] == "HTTPRoute").collect();
    assert_eq!(kinds(&response.items).iter().filter(|k| k.starts_with("Gateway/")).count(), 0);
    assert_eq!(routes[0]["metadata"]["name"], "prefect-ui");
    assert_eq!(
        routes[0]["spec"]["parentRefs"],
        json!([{ "name": "shared", "namespace": "gateways", "port": 8443 }])
    );
    assert_eq!(routes[0]["spec"]["rules"][0]["matches"][0]["path"]["value"], "/prefect");
    assert_eq!(routes[0]["spec"]["rules"][1]["backendRefs"][0]["name"], "health");
    assert_eq!(routes[0]["spec"].get("hostnames"), None);
    assert_eq!(routes[1]["metadata"]["name"], "prefect-ui-tls-redirect");
    assert_eq!(
        routes[1]["spec"]["parentRefs"],
        json!([{ "name": "shared", "namespace": "gateways", "sectionName": "http" }])
    );
    assert_eq!(routes[1]["spec"]["rules"][0]["filters"][0]["requestRedirect"]["port"], 8443);
}

#[test]
fn the_gateway_api_is_made_only_on_a_cluster_that_serves_it() {
    let values = json!({ "gateway": { "enabled": true, "className": "istio" } });
    check_problems(
        values.clone(),
        expect![[r#"
            plugin `server`: values.yaml:11: server.gateway.enabled: the cluster does not serve gateway.networking.k8s.io/v1 Gateway and HTTPRoute (the Gateway API's CRDs): install them and apply again, pass --api-versions gateway.networking.k8s.io/v1 to render, or expose the server with ingress.enabled instead
        "#]],
    );
    // Helm's spelling of a served kind is enough.
    let api_versions = [
        API_VERSIONS,
        &["gateway.networking.k8s.io/v1/Gateway", "gateway.networking.k8s.io/v1/HTTPRoute"],
    ]
    .concat();
    let response = run(host(&["server"], values).kubernetes(KUBE_VERSION, &api_versions));
    assert_eq!(response.results, Vec::<String>::new());
    assert!(kinds(&response.items).contains(&"Gateway/prefect-server".to_owned()));
    assert!(kinds(&response.items).contains(&"HTTPRoute/prefect-server".to_owned()));
}

#[test]
fn gateway_problems_name_their_values() {
    let both = with_gateway_api(json!({
        "ingress": { "enabled": true, "host": { "hostname": "prefect.example.com" } },
        "gateway": {
            "enabled": true,
            "listeners": [
                { "name": "web", "port": 80, "protocol": "HTTP" },
                { "name": "web", "port": 8080, "protocol": "HTTP" },
            ],
        },
        "httproute": { "path": "api", "hostnames": [""], "extraRules": ["x"], "tls": { "redirect": true } },
    }));
    expect![[r#"
        plugin `server`: values.yaml:17: server.gateway.enabled: the Gateway and the Ingress would both expose the server: turn off ingress.enabled or gateway.enabled
        plugin `server`: values.yaml:16: server.gateway.className: the Gateway needs the GatewayClass that implements it, such as istio or envoy (`kubectl get gatewayclasses` lists the cluster's); or set gateway.create to false to attach the route to a Gateway that exists
        plugin `server`: values.yaml:25: server.gateway.listeners[1].name: another listener is called "web": give each a name of its own
        plugin `server`: values.yaml:32: server.httproute.path: an HTTPRoute path starts with `/`
        plugin `server`: values.yaml:34: server.httproute.hostnames[0]: give the host name
        plugin `server`: values.yaml:37: server.httproute.extraRules[0]: an HTTPRoute rule is a mapping, such as {matches: [...], backendRefs: [...]}
        plugin `server`: values.yaml:31: server.httproute.parentRefs[0].sectionName: the Gateway has no listener "https": name one of gateway.listeners, or leave it empty for all
        plugin `server`: values.yaml:40: server.httproute.tls.redirect: the redirect route attaches to the Gateway's listener `http`, which gateway.listeners does not have: add {name: http, port: 80, protocol: HTTP}, or turn the redirect off
    "#]]
    .assert_eq(&problem_lines(&both));

    let unattached = with_gateway_api(json!({
        "gateway": { "enabled": true, "create": false },
    }));
    expect![[r#"
        plugin `server`: values.yaml:9: server.httproute.parentRefs: without gateway.create, name the Gateway the HTTPRoute attaches to (parentRefs[].name, and namespace if it is in another one), or turn gateway.create on
    "#]]
    .assert_eq(&problem_lines(&unattached));

    // Off, nothing of it is made or checked.
    let off = with_gateway_api(
        json!({ "gateway": { "listeners": [] }, "httproute": { "parentRefs": [] } }),
    );
    assert_eq!(off.results, Vec::<String>::new());
    assert!(!off.items.iter().any(|i| i["apiVersion"] == crate::gateway::API_VERSION));
}

#[test]
fn listeners_are_rendered_as_written_with_tls_only_where_the_protocol_takes_it() {
    let response = with_gateway_api(json!({
        "gateway": {
            "enabled": true,
            "className": "envoy",
            "listeners": [
                { "name": "tls", "port": 443, "protocol": "TLS", "hostname": "*.example.com", "tls": { "mode": "Passthrough" } },
                { "name": "web", "port": 8080, "protocol": "HTTP", "tls": { "certificateRefs": [{ "name": "ignored" }] } },
                { "name": "https", "port": 8443, "protocol": "HTTPS", "tls": { "certificateRefs": [{ "name": "mine", "namespace": "certs" }] } },
            ],
        },
    }));
    assert_eq!(response.results, Vec::<String>::new());
    expect![[r#"
        [
          {
            "name": "tls",
            "port": 443,
            "protocol": "TLS",
            "hostname": "*.example.com",
            "tls": {
              "mode": "Passthrough"
            }
          },
          {
            "name": "web",
            "port": 8080,
            "protocol": "HTTP"
          },
          {
            "name": "https",
            "port": 8443,
            "protocol": "HTTPS",
            "tls": {
              "mode": "Terminate",
              "certificateRefs": [
                {
                  "kind": "Secret",
                  "name": "mine",
                  "namespace": "certs"
                }
              ]
            }
          }
        ]"#]]
    .assert_eq(&pretty(&item(&response.items, "Gateway")["spec"]["listeners"]));
}

#[test]
fn the_prebuilt_manifest_is_what_the_code_builds() {
    expect_test::expect_file!["../manifest.json"]
        .assert_eq(&prefect_plugin_sdk::manifest_json::<crate::Server>());
}
