//! The charts' tables: what each prefect-helm value becomes.

use serde_json::{Map, Value, json};

use super::table::{self, dotted, segments, to};
use super::{Conversion, convert};
use crate::cli::HelmChart;

/// The values `user` converts to, as one tree, and the rest of the conversion.
fn converted(chart: HelmChart, user: Value) -> (Value, Conversion) {
    let (converted, conversion) = convert(chart, &user);
    let mut out = Map::new();
    for item in converted {
        table::insert(&mut out, &item.ours, item.value);
    }
    (Value::Object(out), conversion)
}

/// `path: reason` of every value not converted.
fn not_converted(conversion: &Conversion) -> Vec<String> {
    conversion.not_converted.iter().map(|n| format!("{}: {}", dotted(&n.helm), n.reason)).collect()
}

#[test]
fn the_longest_rule_wins() {
    let rules = [to("worker", "agent"), to("worker.image.pullSecrets", "global.x")];
    let path = segments("worker.image.pullSecrets");
    let (rule, rest) = table::find(&rules, &path).expect("a rule");
    assert_eq!(rule.helm, "worker.image.pullSecrets");
    assert!(rest.is_empty());
    let path = segments("worker.config.workPool");
    let (rule, rest) = table::find(&rules, &path).expect("a rule");
    assert_eq!(rule.helm, "worker");
    assert_eq!(rest, ["config", "workPool"]);
    assert!(table::find(&rules, &segments("workers.x")).is_none());
}

#[test]
fn worker_values_become_the_agents_and_cloud_is_said_since_it_is_the_charts_default() {
    let (out, conversion) = converted(
        HelmChart::Worker,
        json!({
            "worker": {
                "config": { "workPool": "k8s-pool", "queryInterval": 5 },
                "image": { "prefectTag": "3.4.1-python3.12-kubernetes", "pullSecrets": ["regcred"] },
                "cloudApiConfig": { "accountId": "acc", "workspaceId": "ws" },
                "replicaCount": 2
            },
            "serviceAccount": { "annotations": { "iam": "role" } }
        }),
    );
    assert_eq!(
        out,
        json!({
            "agent": {
                "apiConfig": "cloud",
                "cloudApiConfig": {
                    "apiKeySecret": { "name": "prefect-api-key", "key": "key" },
                    "accountId": "acc",
                    "workspaceId": "ws"
                },
                "config": { "workPool": "k8s-pool" },
                "image": { "prefectTag": "3.4.1-python3.12-kubernetes" },
                "replicaCount": 2,
                "serviceAccount": { "annotations": { "iam": "role" } }
            },
            "global": { "prefect": { "image": { "pullSecrets": ["regcred"] } } }
        })
    );
    assert!(not_converted(&conversion).is_empty(), "{:?}", not_converted(&conversion));
}

#[test]
fn a_self_hosted_server_is_the_agents_server_api_config() {
    let (out, conversion) = converted(
        HelmChart::Worker,
        json!({
            "worker": {
                "apiConfig": "selfHostedServer",
                "selfHostedServerApiConfig": {
                    "apiUrl": "http://prefect-server.prefect:4200/api",
                    "basicAuth": { "enabled": true }
                },
                "cloudApiConfig": { "accountId": "ignored" },
                "config": { "workPool": "pool" }
            }
        }),
    );
    assert_eq!(out["agent"]["apiConfig"], "server");
    assert_eq!(
        out["agent"]["serverApiConfig"],
        json!({
            // prefect-helm's default credentials, which the user's `enabled` relied on.
            "basicAuth": { "authString": "admin:pass", "enabled": true },
            "apiUrl": "http://prefect-server.prefect:4200/api"
        })
    );
    assert_eq!(
        not_converted(&conversion),
        [
            "worker.cloudApiConfig.accountId: not used: `worker.apiConfig` is `selfHostedServer`, so prefect-helm ignores it too"
        ]
    );
}

#[test]
fn customer_managed_cloud_keeps_its_names() {
    let (out, _) = converted(
        HelmChart::Worker,
        json!({
            "worker": {
                "apiConfig": "customerManagedCloud",
                "customerManagedCloudApiConfig": {
                    "apiUrl": "https://prefect.corp/api", "accountId": "a", "workspaceId": "w",
                    "apiKeySecret": { "name": "corp-key" }, "cloudUiUrl": "https://prefect.corp"
                }
            }
        }),
    );
    assert_eq!(out["agent"]["apiConfig"], "customerManagedCloud");
    assert_eq!(
        out["agent"]["customerManagedCloudApiConfig"],
        json!({
            "apiUrl": "https://prefect.corp/api", "accountId": "a", "workspaceId": "w",
            "apiKeySecret": { "name": "corp-key", "key": "key" }, "cloudUiUrl": "https://prefect.corp"
        })
    );
}

#[test]
fn templates_and_unknown_values_are_listed_with_their_reason() {
    let (out, conversion) = converted(
        HelmChart::Worker,
        json!({
            "worker": {
                "apiConfig": "selfHostedServer",
                "config": { "workPool": "{{ .Release.Name }}-pool" },
                "extraEnvVars": [{ "name": "A", "value": "{{ .Values.x }}" }]
            },
            "fullnameOverride": "my-worker",
            "nonsense": 1
        }),
    );
    assert_eq!(out, json!({ "agent": { "apiConfig": "server" } }));
    let reasons = not_converted(&conversion);
    assert_eq!(reasons.len(), 4, "{reasons:#?}");
    assert!(reasons[0].starts_with("worker.config.workPool: a Helm template"), "{reasons:#?}");
    assert!(reasons[1].starts_with("worker.extraEnvVars: a Helm template"), "{reasons:#?}");
    assert!(reasons[2].starts_with("fullnameOverride: prefectctl names"), "{reasons:#?}");
    assert!(reasons[3].starts_with("nonsense: not a value of prefect-helm's chart"));
}

#[test]
fn a_non_empty_disruption_budget_is_enabled() {
    let (out, _) = converted(
        HelmChart::Worker,
        json!({ "worker": { "apiConfig": "selfHostedServer", "podDisruptionBudget": { "maxUnavailable": 1 } } }),
    );
    assert_eq!(
        out["agent"]["podDisruptionBudget"],
        json!({ "enabled": true, "maxUnavailable": 1 })
    );
}

#[test]
fn the_server_charts_top_level_sections_go_under_server() {
    let (out, conversion) = converted(
        HelmChart::Server,
        json!({
            "server": { "replicaCount": 3, "loggingLevel": "WARNING", "apiBasePath": "/prefect/api" },
            "service": { "type": "NodePort", "nodePort": "30420", "port": 4200 },
            "ingress": { "enabled": true, "className": "nginx" },
            "serviceAccount": { "annotations": { "a": "b" }, "automountServiceAccountToken": false },
            "backgroundServices": { "runAsSeparateDeployment": true },
            "migrations": { "command": "prefect server database upgrade -y --no-stamp\n" },
            "sqlite": { "enabled": true, "persistence": { "size": "5Gi" } },
            "commonLabels": { "team": "data" },
            "global": { "prefect": { "image": { "prefectTag": "3.4.1-python3.12" } } }
        }),
    );
    assert_eq!(
        out,
        json!({
            "server": {
                // prefect-helm's host name, which `ingress.enabled` relied on.
                "ingress": { "host": { "hostname": "prefect.local" }, "enabled": true, "className": "nginx" },
                "replicaCount": 3,
                "apiBasePath": "/prefect/api",
                "service": { "type": "NodePort", "nodePort": 30420 },
                "serviceAccount": { "annotations": { "a": "b" } },
                "backgroundServices": { "runAsSeparateDeployment": true },
                "migrations": {
                    "command": ["prefect", "server", "database", "upgrade", "-y", "--no-stamp"]
                },
                "sqlite": { "persistence": { "size": "5Gi" } }
            },
            "global": {
                "commonLabels": { "team": "data" },
                "prefect": { "image": { "prefectTag": "3.4.1-python3.12" } }
            }
        })
    );
    assert_eq!(
        not_converted(&conversion),
        [
            "serviceAccount.automountServiceAccountToken: prefectctl never mounts the server's API token (the server does not call the Kubernetes API)"
        ]
    );
    assert!(conversion.plugins.is_empty(), "SQLite needs no database plugin");
}

#[test]
fn the_postgresql_subchart_is_the_postgres_plugin() {
    let (out, conversion) = converted(
        HelmChart::Server,
        json!({
            "postgresql": {
                "auth": { "password": "s3cret", "database": "prefect" },
                "primary": { "persistence": { "enabled": true, "size": "20Gi" }, "initdb": { "user": "x" } },
                "image": { "tag": "16.4.0" }
            },
            "secret": { "host": "ignored" }
        }),
    );
    assert_eq!(
        out,
        json!({
            "postgres": {
                "auth": { "password": "s3cret", "database": "prefect" },
                "persistence": { "enabled": true, "size": "20Gi" }
            }
        })
    );
    assert_eq!(conversion.plugins, ["postgres"]);
    let reasons = not_converted(&conversion);
    assert!(reasons[0].starts_with("postgresql.primary.initdb.user: a setting of the Bitnami"));
    assert!(reasons[1].starts_with("postgresql.image.tag: the postgres plugin runs the official"));
    assert!(reasons[2].starts_with("secret.host: not used"), "{reasons:#?}");
}

#[test]
fn the_secret_parts_are_a_connection_url_without_the_subchart() {
    let (out, conversion) = converted(
        HelmChart::Server,
        json!({
            "postgresql": { "enabled": false },
            "secret": { "username": "u", "password": "p", "host": "db.example.com", "port": "5432", "database": "prefect" }
        }),
    );
    assert_eq!(
        out,
        json!({ "server": { "externalDatabase": {
            "connectionUrl": "postgresql+asyncpg://u:p@db.example.com:5432/prefect"
        } } })
    );
    assert!(conversion.plugins.is_empty());
    let (out, _) = converted(
        HelmChart::Server,
        json!({ "postgresql": { "enabled": false }, "secret": { "create": false, "name": "db-url" } }),
    );
    assert_eq!(
        out["server"]["externalDatabase"],
        json!({ "existingSecret": "db-url", "existingSecretKey": "connection-string" })
    );
}

#[test]
fn external_database_takes_prefectctls_names() {
    let (out, _) = converted(
        HelmChart::Server,
        json!({ "externalDatabase": { "existingSecret": "db", "connectionStringSecretKey": "uri" } }),
    );
    assert_eq!(
        out,
        json!({ "server": { "externalDatabase": { "existingSecret": "db", "existingSecretKey": "uri" } } })
    );
}

#[test]
fn values_equal_to_the_charts_defaults_are_left_out() {
    let (out, conversion) = converted(HelmChart::Server, super::server::defaults());
    // Only what the chart's default database needs: nothing to write, the postgres plugin.
    assert_eq!(out, json!({}));
    assert!(not_converted(&conversion).is_empty(), "{:?}", not_converted(&conversion));
    assert_eq!(conversion.plugins, ["postgres"]);
    let (out, conversion) = converted(HelmChart::Worker, super::worker::defaults());
    assert_eq!(
        out,
        json!({ "agent": {
            "apiConfig": "cloud",
            "cloudApiConfig": { "apiKeySecret": { "name": "prefect-api-key", "key": "key" } }
        } })
    );
    assert!(not_converted(&conversion).is_empty(), "{:?}", not_converted(&conversion));
}

#[test]
fn helms_yaml_1_1_booleans_are_booleans_where_the_chart_means_one() {
    let (out, _) = converted(
        HelmChart::Server,
        json!({ "ingress": { "enabled": "yes", "tls": "on", "className": "off" }, "sqlite": { "enabled": "yes" } }),
    );
    assert_eq!(
        out["server"]["ingress"],
        json!({ "enabled": true, "tls": true, "className": "off", "host": { "hostname": "prefect.local" } })
    );
}

#[test]
fn external_database_parts_keep_their_names_and_the_port_is_a_number() {
    let (out, _) = converted(
        HelmChart::Server,
        json!({ "externalDatabase": {
            "existingSecret": "pg-app", "hostSecretKey": "host", "port": "6432", "name": "prefect"
        } }),
    );
    assert_eq!(
        out["server"]["externalDatabase"],
        json!({ "existingSecret": "pg-app", "hostSecretKey": "host", "port": 6432, "name": "prefect" })
    );
    // An existing Secret alone is not the chart's external database: its subchart stays.
    let (_, conversion) =
        converted(HelmChart::Server, json!({ "externalDatabase": { "existingSecret": "x" } }));
    assert_eq!(conversion.plugins, ["postgres"]);
    assert!(not_converted(&conversion)[0].starts_with("externalDatabase.existingSecret: not used"));
}

#[test]
fn a_files_keys_tell_its_chart_and_chart_decides_only_when_they_do_not() {
    use std::path::Path;

    use super::chart_of;
    let file = Path::new("v.yaml");
    let worker = json!({ "worker": {}, "serviceAccount": {} });
    assert_eq!(chart_of(file, &worker, None), Ok(HelmChart::Worker));
    assert_eq!(chart_of(file, &worker, Some(HelmChart::Server)), Ok(HelmChart::Worker));
    let shared = json!({ "serviceAccount": {} });
    assert_eq!(chart_of(file, &shared, Some(HelmChart::Worker)), Ok(HelmChart::Worker));
    assert!(chart_of(file, &shared, None).unwrap_err().contains("give `--chart server`"));
    let both = json!({ "worker": {}, "ingress": {} });
    assert!(chart_of(file, &both, None).unwrap_err().contains("split it into one file per chart"));
}
