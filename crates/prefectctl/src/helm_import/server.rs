//! prefect-helm's `prefect-server` chart: `server.*` keeps its names; the chart's top-level
//! `service`, `ingress`, `serviceAccount`, `sqlite`, `externalDatabase`, `migrations`,
//! `backgroundServices` move under `server:`; its Bitnami `postgresql` and `redis` subcharts
//! become the postgres and redis plugins; `secret.*` becomes `server.externalDatabase`.

use std::borrow::Cow;

use serde_json::{Value, json};

use super::table::{Rule, Target, drop, effective, read, to, with};
use super::{Conversion, Emit};

/// The chart's default values (its `values.yaml`, as facts).
pub fn defaults() -> Value {
    let pod = json!({ "runAsUser": 1001, "runAsNonRoot": true, "fsGroup": 1001 });
    let container = json!({
        "runAsUser": 1001, "runAsNonRoot": true, "readOnlyRootFilesystem": true,
        "allowPrivilegeEscalation": false, "capabilities": {}
    });
    let resources = json!({
        "requests": { "cpu": "500m", "memory": "512Mi" }, "limits": { "cpu": "1", "memory": "1Gi" }
    });
    let probe = |initial: u32, failures: u32| {
        json!({
            "initialDelaySeconds": initial, "periodSeconds": 10, "timeoutSeconds": 5,
            "failureThreshold": failures, "successThreshold": 1
        })
    };
    let restricted_pod = json!({
        "runAsUser": 1001, "runAsNonRoot": true, "fsGroup": 1001,
        "seccompProfile": { "type": "RuntimeDefault" }
    });
    let scheduling = json!({
        "podLabels": {}, "podAnnotations": {}, "affinity": {}, "nodeSelector": {},
        "tolerations": [], "extraEnvVarsCM": "", "extraEnvVarsSecret": "",
        "extraContainers": [], "extraInitContainers": [], "extraVolumes": [],
        "extraVolumeMounts": []
    });
    let mut server = json!({
        "basicAuth": { "enabled": false, "authString": "admin:pass", "existingSecret": "" },
        "automountServiceAccountToken": true, "priorityClassName": "",
        "terminationGracePeriodSeconds": null, "lifecycle": {}, "apiBasePath": "/api",
        "debug": false, "loggingLevel": "WARNING",
        "uiConfig": {
            "prefectUiApiUrl": "http://localhost:4200/api", "prefectUiStaticDirectory": "/ui_build"
        },
        "env": [], "args": [], "command": [], "revisionHistoryLimit": 10,
        "autoscaling": {
            "enabled": false, "minReplicas": 1, "maxReplicas": 100, "targetCPU": 80,
            "targetMemory": 80
        },
        "replicaCount": 1, "resources": resources,
        "startupProbe": { "enabled": true, "config": probe(0, 30) },
        "livenessProbe": {
            "enabled": true, "path": "{{ .Values.server.apiBasePath }}/health",
            "config": probe(10, 3)
        },
        "readinessProbe": {
            "enabled": true, "path": "{{ .Values.server.apiBasePath }}/ready",
            "config": probe(10, 3)
        },
        "podSecurityContext": restricted_pod, "containerSecurityContext": container,
        "updateStrategy": { "type": "RollingUpdate" }, "extraArgs": []
    });
    let mut background = json!({
        "runAsSeparateDeployment": false, "replicaCount": 1, "priorityClassName": "",
        "terminationGracePeriodSeconds": null, "lifecycle": {}, "debug": false,
        "loggingLevel": "WARNING", "env": [], "args": [], "command": [],
        "revisionHistoryLimit": 10, "resources": resources, "podSecurityContext": pod,
        "containerSecurityContext": container,
        "serviceAccount": {
            "create": true, "name": "", "annotations": {}, "automountServiceAccountToken": true
        },
        "automountServiceAccountToken": true,
        "messaging": {
            "broker": "prefect_redis.messaging", "cache": "prefect_redis.messaging",
            "redis": {
                "host": "", "port": 6379, "db": 0, "username": "", "password": "", "ssl": false,
                "existingSecret": "", "existingSecretPasswordKey": "redis-password"
            },
            "docket": { "url": "", "existingSecret": "", "existingSecretKey": "docket-url" }
        }
    });
    for section in [&mut server, &mut background] {
        if let (Value::Object(section), Value::Object(shared)) = (section, &scheduling) {
            section.extend(shared.clone());
        }
    }
    json!({
        "nameOverride": "", "fullnameOverride": "prefect-server", "namespaceOverride": "",
        "commonLabels": {}, "commonAnnotations": {},
        "global": {
            "prefect": {
                "image": {
                    "repository": "prefecthq/prefect", "prefectTag": "3-latest",
                    "pullPolicy": "IfNotPresent", "pullSecrets": []
                },
                "env": []
            }
        },
        "server": server,
        "migrations": {
            "enabled": true, "command": "prefect server database upgrade -y\n",
            "entrypoint": ["/bin/sh", "-c"],
            "resources": {
                "requests": { "cpu": "100m", "memory": "128Mi" },
                "limits": { "cpu": "500m", "memory": "256Mi" }
            },
            "podSecurityContext": pod, "securityContext": container, "timeoutSeconds": 300,
            "backoffLimit": 5, "restartPolicy": "Never", "env": [], "extraVolumeMounts": [],
            "extraVolumes": [], "affinity": {}, "nodeSelector": {}, "tolerations": []
        },
        "backgroundServices": background,
        "serviceAccount": {
            "create": true, "name": "", "annotations": {}, "automountServiceAccountToken": true
        },
        "service": {
            "portName": "server-svc-port", "port": 4200, "targetPort": 4200, "appProtocol": "",
            "nodePort": "", "extraPorts": [], "type": "ClusterIP", "clusterIP": "",
            "externalTrafficPolicy": "Cluster", "ipFamilyPolicy": "", "ipFamilies": [],
            "annotations": {}
        },
        "ingress": {
            "enabled": false, "servicePort": "server-svc-port", "className": "",
            "host": { "hostname": "prefect.local", "path": "/", "pathType": "ImplementationSpecific" },
            "annotations": {}, "tls": false, "selfSigned": false, "extraHosts": [],
            "extraPaths": [], "extraTls": [], "extraRules": []
        },
        "gateway": {
            "enabled": false, "create": true, "className": "", "name": "", "labels": {},
            "annotations": {},
            "listeners": [
                { "name": "http", "port": 80, "protocol": "HTTP", "hostname": "" },
                {
                    "name": "https", "port": 443, "protocol": "HTTPS", "hostname": "",
                    "tls": {
                        "mode": "Terminate",
                        "certificateRefs": [{ "kind": "Secret", "name": "", "namespace": "" }]
                    }
                }
            ],
            "infrastructure": {}
        },
        "httproute": {
            "enabled": true, "name": "", "labels": {}, "annotations": {}, "hostnames": [],
            "path": "/",
            "parentRefs": [{ "name": "", "namespace": "", "sectionName": "https", "port": null }],
            "extraRules": [], "tls": { "redirect": false, "redirectPort": 443 }
        },
        "externalDatabase": {
            "existingSecret": "", "connectionString": "", "connectionStringSecretKey": "",
            "driver": "", "driverSecretKey": "", "username": "", "usernameSecretKey": "",
            "password": "", "passwordSecretKey": "", "host": "", "hostSecretKey": "",
            "port": "", "portSecretKey": "", "name": "", "nameSecretKey": ""
        },
        "secret": {
            "create": true, "name": "", "username": "", "password": "", "host": "", "port": "",
            "database": ""
        },
        "sqlite": {
            "enabled": false,
            "persistence": { "enabled": true, "size": "1Gi", "storageClassName": "" }
        },
        "postgresql": {
            "enabled": true,
            "auth": {
                "enablePostgresUser": false, "database": "server", "username": "prefect",
                "password": "prefect-rocks"
            },
            "primary": { "initdb": { "user": "postgres" }, "persistence": { "enabled": false } },
            "image": { "repository": "bitnamilegacy/postgresql", "tag": "14.13.0" }
        },
        "redis": {
            "enabled": false, "architecture": "standalone",
            "image": { "repository": "bitnamilegacy/redis", "tag": "8.2.1" }
        }
    })
}

/// The table: prefect-helm's server values and where prefectctl keeps them.
pub const RULES: &[Rule] = &[
    to("global", "global"),
    to("commonLabels", "global.commonLabels"),
    to("commonAnnotations", "global.commonAnnotations"),
    drop("nameOverride", NAMES),
    drop("fullnameOverride", NAMES),
    drop("namespaceOverride", "give the namespace with `-n NAMESPACE`"),
    to("server", "server"),
    drop("server.automountServiceAccountToken", NO_TOKEN),
    to("migrations", "server.migrations"),
    with("migrations.command", "server.migrations.command", migration_command),
    drop(
        "migrations.entrypoint",
        "prefectctl runs `server.migrations.command` through the image's entrypoint: put your \
         own first in the command",
    ),
    drop("migrations.restartPolicy", "prefectctl's migration Job never restarts its pod"),
    to("backgroundServices", "server.backgroundServices"),
    drop("backgroundServices.automountServiceAccountToken", NO_TOKEN),
    drop("backgroundServices.serviceAccount.automountServiceAccountToken", NO_TOKEN),
    to("serviceAccount", "server.serviceAccount"),
    drop("serviceAccount.automountServiceAccountToken", NO_TOKEN),
    to("service", "server.service"),
    with("service.nodePort", "server.service.nodePort", port_number),
    to("ingress", "server.ingress"),
    to("gateway", "server.gateway"),
    to("httproute", "server.httproute"),
    read("sqlite.enabled"),
    to("sqlite", "server.sqlite"),
    read("externalDatabase"),
    read("secret"),
    read("postgresql"),
    read("redis"),
];

/// Why the chart's name overrides are not converted.
const NAMES: &str = "prefectctl names the server's objects `<release>-server`: choose the \
     release name with `--release NAME`";

/// Why the service-account token settings are not converted.
const NO_TOKEN: &str = "prefectctl never mounts the server's API token (the server does not \
     call the Kubernetes API)";

/// `migrations.command` is one shell line run by `entrypoint` (`/bin/sh -c`); prefectctl's
/// is the argument list itself.
fn migration_command(value: &Value) -> Result<Value, String> {
    let text = value.as_str().ok_or("expected the command as text, as prefect-helm takes it")?;
    let words: Vec<&str> = text.split_whitespace().collect();
    let plain = text.chars().all(|c| c.is_alphanumeric() || " \t\n-_./=:".contains(c));
    if plain && !words.is_empty() {
        Ok(json!(words))
    } else {
        Ok(json!(["/bin/sh", "-c", text.trim()]))
    }
}

/// prefect-helm takes `service.nodePort` as text (`""` for none); prefectctl as a number.
fn port_number(value: &Value) -> Result<Value, String> {
    match value {
        Value::Number(_) | Value::Null => Ok(value.clone()),
        Value::String(text) if text.is_empty() => Ok(Value::Null),
        Value::String(text) => text
            .parse::<u16>()
            .map(|port| json!(port))
            .map_err(|_| format!("`{text}` is not a port number")),
        _ => Err("expected a port number".to_owned()),
    }
}

/// Where the chart's server found its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// `sqlite.enabled`.
    Sqlite,
    /// `externalDatabase.*`.
    External,
    /// The Bitnami subchart, `postgresql.enabled` (the chart's default).
    Subchart,
    /// `secret.*`: a connection URL from parts, or an existing Secret.
    Secret,
}

/// The database the chart's values chose, in the chart's own order.
pub fn database(user: &Value, defaults: &Value) -> Database {
    let on = |path: &str| effective(user, defaults, path) == Some(&json!(true));
    // `existingSecret` alone is not a choice: only with a key or a part (the chart's order).
    let external = user.pointer("/externalDatabase").and_then(Value::as_object).is_some_and(|db| {
        db.iter().any(|(key, v)| key != "existingSecret" && !matches!(v, Value::Null) && v != "")
    });
    if on("sqlite.enabled") {
        Database::Sqlite
    } else if external {
        Database::External
    } else if on("postgresql.enabled") {
        Database::Subchart
    } else {
        Database::Secret
    }
}

/// The rules of the database sections, which depend on the database chosen, and what each
/// choice emits beyond them.
pub fn database_rules(user: &Value, defaults: &Value, conversion: &mut Conversion) -> Vec<Rule> {
    let chosen = database(user, defaults);
    let unused = |helm: &'static str, why: &'static str| Rule {
        helm,
        target: Target::Drop(Cow::Owned(format!(
            "not used: {why}, so prefect-helm ignores it too"
        ))),
    };
    let mut rules = match chosen {
        Database::Subchart => {
            conversion.note(
                "prefect-helm's server ran on its PostgreSQL subchart (`postgresql.enabled`, \
                 the chart's default): add `--plugin postgres` to render and apply; the \
                 postgres plugin runs the official image, so move the data with a dump and \
                 restore",
            );
            conversion.needs("postgres");
            POSTGRESQL.to_vec()
        }
        _ => vec![unused("postgresql", "the server does not use the PostgreSQL subchart")],
    };
    match chosen {
        Database::External => rules.extend(EXTERNAL_DATABASE.iter().cloned()),
        _ => rules.push(unused("externalDatabase", "another database is chosen")),
    }
    match chosen {
        Database::Secret => {
            rules.push(read("secret"));
            secret(user, defaults, conversion);
        }
        _ => rules.push(unused("secret", "the server's database is not read from `secret`")),
    }
    rules
}

/// The Bitnami PostgreSQL subchart's values the postgres plugin has.
const POSTGRESQL: &[Rule] = &[
    drop("postgresql", BITNAMI),
    read("postgresql.enabled"),
    drop(
        "postgresql.image",
        "the postgres plugin runs the official `postgres` image (`postgres.image`), not \
         Bitnami's",
    ),
    to("postgresql.auth.database", "postgres.auth.database"),
    to("postgresql.auth.username", "postgres.auth.username"),
    to("postgresql.auth.password", "postgres.auth.password"),
    to("postgresql.auth.existingSecret", "postgres.auth.existingSecret"),
    to("postgresql.auth.secretKeys.userPasswordKey", "postgres.auth.secretKeys.userPasswordKey"),
    to("postgresql.primary.persistence.enabled", "postgres.persistence.enabled"),
    to("postgresql.primary.persistence.size", "postgres.persistence.size"),
    to("postgresql.primary.persistence.storageClass", "postgres.persistence.storageClass"),
    to("postgresql.primary.persistence.annotations", "postgres.persistence.annotations"),
    to("postgresql.primary.resources", "postgres.resources"),
    to("postgresql.primary.nodeSelector", "postgres.nodeSelector"),
    to("postgresql.primary.tolerations", "postgres.tolerations"),
    to("postgresql.primary.affinity", "postgres.affinity"),
    to("postgresql.primary.podLabels", "postgres.podLabels"),
    to("postgresql.primary.podAnnotations", "postgres.podAnnotations"),
    to("postgresql.primary.priorityClassName", "postgres.priorityClassName"),
    to("postgresql.primary.extraVolumes", "postgres.extraVolumes"),
    to("postgresql.primary.extraVolumeMounts", "postgres.extraVolumeMounts"),
    to("postgresql.primary.sidecars", "postgres.extraContainers"),
    to("postgresql.primary.service.annotations", "postgres.service.annotations"),
    to("postgresql.primary.service.ports.postgresql", "postgres.service.port"),
];

/// Why the rest of the Bitnami chart is not converted.
const BITNAMI: &str = "a setting of the Bitnami PostgreSQL chart that the postgres plugin does \
     not have";

/// `externalDatabase.*`: the URL and its Secret under prefectctl's names, the parts by name.
const EXTERNAL_DATABASE: &[Rule] = &[
    to("externalDatabase", "server.externalDatabase"),
    to("externalDatabase.connectionString", "server.externalDatabase.connectionUrl"),
    to("externalDatabase.connectionStringSecretKey", "server.externalDatabase.existingSecretKey"),
    with("externalDatabase.port", "server.externalDatabase.port", port_number),
];

/// `secret.*` without the subchart: the chart built a connection URL from the parts into a
/// Secret it made (`secret.create`), or read one from `secret.name`.
fn secret(user: &Value, defaults: &Value, conversion: &mut Conversion) {
    let part = |name: &str| {
        effective(user, defaults, &format!("secret.{name}"))
            .map(|v| match v {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    let create = effective(user, defaults, "secret.create") != Some(&json!(false));
    if create {
        let url = format!(
            "postgresql+asyncpg://{}:{}@{}:{}/{}",
            part("username"),
            part("password"),
            part("host"),
            part("port"),
            part("database")
        );
        if url.contains("{{") {
            conversion.not_converted("secret", super::table::TEMPLATE.to_owned());
        } else {
            conversion.emit(Emit::default_of(
                "secret",
                "server.externalDatabase.connectionUrl",
                json!(url),
            ));
        }
        if !part("name").is_empty() {
            conversion.not_converted(
                "secret.name",
                "prefectctl names the Secret it keeps the URL in itself".to_owned(),
            );
        }
    } else {
        let name = match part("name") {
            name if !name.is_empty() => name,
            _ => "prefect-server-postgresql-connection".to_owned(),
        };
        conversion.emit(Emit::default_of(
            "secret.name",
            "server.externalDatabase.existingSecret",
            json!(name),
        ));
        conversion.emit(Emit::default_of(
            "secret.name",
            "server.externalDatabase.existingSecretKey",
            json!("connection-string"),
        ));
    }
}

/// The Bitnami Redis subchart: its password and storage become the redis plugin's.
pub fn redis_rules(user: &Value, defaults: &Value, conversion: &mut Conversion) -> Vec<Rule> {
    if effective(user, defaults, "redis.enabled") != Some(&json!(true)) {
        return vec![Rule {
            helm: "redis",
            target: Target::Drop(Cow::Borrowed(
                "not used: `redis.enabled` is off, so prefect-helm ignores it too",
            )),
        }];
    }
    conversion.note(
        "prefect-helm ran its Redis subchart (`redis.enabled`): add `--plugin redis` to render \
         and apply",
    );
    conversion.needs("redis");
    REDIS.to_vec()
}

/// The Bitnami Redis subchart's values the redis plugin has.
const REDIS: &[Rule] = &[
    drop("redis", "a setting of the Bitnami Redis chart that the redis plugin does not have"),
    read("redis.enabled"),
    drop("redis.image", "the redis plugin runs the official `redis` image (`redis.image`)"),
    to("redis.auth.password", "redis.auth.password"),
    to("redis.auth.existingSecret", "redis.auth.existingSecret"),
    to("redis.auth.existingSecretPasswordKey", "redis.auth.existingSecretPasswordKey"),
    to("redis.master.persistence.enabled", "redis.persistence.enabled"),
    to("redis.master.persistence.size", "redis.persistence.size"),
    to("redis.master.persistence.storageClass", "redis.persistence.storageClass"),
    to("redis.master.persistence.accessModes", "redis.persistence.accessModes"),
    to("redis.master.persistence.annotations", "redis.persistence.annotations"),
    to("redis.master.resources", "redis.resources"),
];

/// Defaults of the chart that prefectctl does not share and that a value the user set relies
/// on: basic auth switched on with the chart's credentials, an ingress on its host name.
pub fn relied_on_defaults(user: &Value, defaults: &Value, conversion: &mut Conversion) {
    let on = |path: &str| effective(user, defaults, path) == Some(&json!(true));
    let unset = |path: &str| effective(user, defaults, path).is_none_or(|v| v == "");
    if on("server.basicAuth.enabled")
        && unset("server.basicAuth.existingSecret")
        && let Some(value) = effective(user, defaults, "server.basicAuth.authString")
    {
        conversion.emit(Emit::default_of(
            "server.basicAuth.authString",
            "server.basicAuth.authString",
            value.clone(),
        ));
    }
    if on("ingress.enabled")
        && let Some(value) = effective(user, defaults, "ingress.host.hostname")
    {
        conversion.emit(Emit::default_of(
            "ingress.host.hostname",
            "server.ingress.host.hostname",
            value.clone(),
        ));
    }
}
