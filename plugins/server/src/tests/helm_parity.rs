//! The settings of today's prefect-server chart (issue 10): probes, the API's path and port,
//! the container's command and lifecycle, init containers, `global.prefect.env` and the
//! Service's port.

use expect_test::expect;
use prefect_plugin_sdk::serde_json::{self, Value, json};

use super::{
    PREFECT_TAG, check_problems, container_of, env_lines, host_with_global, item, render, run,
    scaled_out,
};

fn probes(container: &Value) -> String {
    ["startupProbe", "livenessProbe", "readinessProbe"]
        .iter()
        .map(|name| {
            let probe = &container[name];
            format!(
                "{name} {} {} every {}s, {} misses\n",
                probe["httpGet"]["path"],
                probe["httpGet"]["port"],
                probe["periodSeconds"],
                probe["failureThreshold"],
            )
        })
        .collect()
}

#[test]
fn a_startup_probe_gives_a_first_start_five_minutes_before_liveness_counts() {
    let items = render(json!({}));
    expect![[r#"
        startupProbe "/api/health" "http" every 10s, 30 misses
        livenessProbe "/api/health" "http" every 10s, 3 misses
        readinessProbe "/api/ready" "http" every 10s, 3 misses
    "#]]
    .assert_eq(&probes(super::container(&items)));

    let items = render(json!({ "startupProbe": { "enabled": false } }));
    assert_eq!(super::container(&items)["startupProbe"], Value::Null);
}

#[test]
fn the_api_base_path_moves_the_probes_the_ui_and_the_containers_own_url() {
    let items = render(json!({ "apiBasePath": "/prefect/api/" }));
    let container = super::container(&items);
    expect![[r#"
        startupProbe "/prefect/api/health" "http" every 10s, 30 misses
        livenessProbe "/prefect/api/health" "http" every 10s, 3 misses
        readinessProbe "/prefect/api/ready" "http" every 10s, 3 misses
    "#]]
    .assert_eq(&probes(container));
    let env = super::env(&items);
    assert!(env.contains("PREFECT_API_URL=http://localhost:4200/prefect/api\n"), "{env}");
    assert!(env.contains("PREFECT_SERVER_API_BASE_PATH=/prefect/api\n"), "{env}");
    assert!(env.contains("PREFECT_UI_API_URL=http://localhost:4200/prefect/api\n"), "{env}");

    let items = render(json!({
        "apiBasePath": "/prefect/api",
        "ingress": { "enabled": true, "host": { "hostname": "prefect.example.com" } },
    }));
    assert!(
        super::env(&items).contains("PREFECT_UI_API_URL=http://prefect.example.com/prefect/api\n")
    );

    check_problems(
        json!({ "apiBasePath": "prefect" }),
        expect![[r#"
            plugin `server`: values.yaml:10: server.apiBasePath: `prefect` is not a URL path: give one that starts with `/`, such as /api
        "#]],
    );
    check_problems(
        json!({ "apiBasePath": "/" }),
        expect![[r#"
            plugin `server`: values.yaml:10: server.apiBasePath: the UI is served at `/`: give the API a path of its own, such as /api
        "#]],
    );
}

#[test]
fn probe_paths_can_be_chosen_and_null_keeps_the_default() {
    let items = render(json!({
        "livenessProbe": { "path": "/api/health?live" },
        "readinessProbe": { "path": null, "config": { "periodSeconds": 5 } },
    }));
    expect![[r#"
        startupProbe "/api/health" "http" every 10s, 30 misses
        livenessProbe "/api/health?live" "http" every 10s, 3 misses
        readinessProbe "/api/ready" "http" every 5s, 3 misses
    "#]]
    .assert_eq(&probes(super::container(&items)));
}

#[test]
fn the_target_port_moves_the_listener_the_probes_and_the_service_with_it() {
    let items = render(json!({ "service": { "targetPort": 8080 } }));
    let container = super::container(&items);
    assert_eq!(
        container["ports"],
        json!([{ "name": "http", "containerPort": 8080, "protocol": "TCP" }])
    );
    assert_eq!(container["args"], json!(["prefect", "server", "start", "--port", "8080"]));
    let env = super::env(&items);
    assert!(env.contains("PREFECT_SERVER_API_PORT=8080\n"), "{env}");
    assert!(env.contains("PREFECT_API_URL=http://localhost:8080/api\n"), "{env}");
    // The probes and the Service name the port, so they follow it.
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], "http");
    assert_eq!(item(&items, "Service")["spec"]["ports"][0]["targetPort"], "http");
    assert_eq!(item(&items, "Service")["spec"]["ports"][0]["port"], 4200);
}

#[test]
fn command_and_args_replace_the_defaults_and_extra_args_with_args_is_refused() {
    let items = render(json!({
        "command": ["/bin/sh", "-c"],
        "args": ["exec prefect server start --port 4200"],
    }));
    let container = super::container(&items);
    assert_eq!(container["command"], json!(["/bin/sh", "-c"]));
    assert_eq!(container["args"], json!(["exec prefect server start --port 4200"]));

    let items = render(json!({ "extraArgs": ["--log-level", "debug"] }));
    assert_eq!(
        super::container(&items)["command"],
        json!(["/usr/bin/tini", "-g", "--", "/opt/prefect/entrypoint.sh"])
    );
    check_problems(
        json!({ "args": ["prefect", "server", "start"], "extraArgs": ["--host", "0.0.0.0"] }),
        expect![[r#"
            plugin `server`: values.yaml:15: server.extraArgs: args replaces every argument of the container, extraArgs included: put these in args too, or remove args to keep `prefect server start`
        "#]],
    );
}

#[test]
fn lifecycle_and_a_grace_period_of_zero_reach_the_pod() {
    let items = render(json!({
        "lifecycle": { "preStop": { "exec": { "command": ["sleep", "10"] } } },
        "terminationGracePeriodSeconds": 0,
    }));
    let deployment = item(&items, "Deployment");
    assert_eq!(deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 0);
    assert_eq!(
        super::container(&items)["lifecycle"],
        json!({ "preStop": { "exec": { "command": ["sleep", "10"] } } })
    );

    let items = render(json!({}));
    let spec = &item(&items, "Deployment")["spec"]["template"]["spec"];
    assert!(spec.get("terminationGracePeriodSeconds").is_none(), "{spec}");
    assert!(super::container(&items).get("lifecycle").is_none());

    check_problems(
        json!({ "lifecycle": { "preStop": { "sleep": { "seconds": "ten" } } } }),
        expect![[r#"
            plugin `server`: values.yaml:13: server.lifecycle.preStop.sleep.seconds: invalid type: string "ten", expected i64
        "#]],
    );
}

#[test]
fn an_init_container_can_be_a_native_sidecar() {
    let proxy = json!({
        "name": "cloud-sql-proxy",
        "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0",
        "restartPolicy": "Always",
    });
    let items = render(json!({ "extraInitContainers": [proxy.clone()] }));
    let spec = &item(&items, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(spec["initContainers"], json!([proxy]));
    assert_eq!(spec["containers"].as_array().unwrap().len(), 1);
}

#[test]
fn global_env_reaches_every_server_process_before_its_own_env() {
    let global = json!({ "prefect": {
        "image": { "prefectTag": PREFECT_TAG },
        "env": [
            { "name": "PREFECT_API_ENABLE_HTTP2", "value": "false" },
            { "name": "HTTPS_PROXY", "value": "http://proxy:3128" },
            { "name": "PROXY_AUTH", "valueFrom": { "secretKeyRef": { "name": "proxy", "key": "auth" } } },
        ],
    } });
    let overrides =
        scaled_out(json!({ "env": [{ "name": "PREFECT_API_ENABLE_HTTP2", "value": "true" }] }));
    let response = run(host_with_global(&["server"], global, overrides));
    assert_eq!(response.results, Vec::<String>::new());
    let items = &response.items;
    for (kind, name) in [
        ("Deployment", "prefect-server"),
        ("Deployment", "prefect-background-services"),
        ("Job", "prefect-db-migrations"),
    ] {
        let env = env_lines(container_of(items, kind, name));
        assert!(env.contains("HTTPS_PROXY=http://proxy:3128\n"), "{name}: {env}");
        assert!(env.contains("PROXY_AUTH<-proxy/auth\n"), "{name}: {env}");
    }
    // The server's own env wins over the global one, in place.
    let server = env_lines(container_of(items, "Deployment", "prefect-server"));
    assert!(server.contains("PREFECT_API_ENABLE_HTTP2=true\nHTTPS_PROXY"), "{server}");
}

#[test]
fn service_port_name_protocol_and_ip_families() {
    let items = render(json!({
        "service": {
            "portName": "http-api",
            "appProtocol": "http",
            "ipFamilyPolicy": "PreferDualStack",
            "ipFamilies": ["IPv6", "IPv4"],
        },
    }));
    let spec = &item(&items, "Service")["spec"];
    assert_eq!(spec["ipFamilyPolicy"], "PreferDualStack");
    assert_eq!(spec["ipFamilies"], json!(["IPv6", "IPv4"]));
    assert_eq!(
        spec["ports"][0],
        json!({
            "name": "http-api",
            "appProtocol": "http",
            "port": 4200,
            "protocol": "TCP",
            "targetPort": "http",
        })
    );
    // The Ingress routes to the port by its name.
    let items = render(json!({
        "service": { "portName": "http-api" },
        "ingress": { "enabled": true, "host": { "hostname": "prefect.example.com" } },
    }));
    let path = &item(&items, "Ingress")["spec"]["rules"][0]["http"]["paths"][0];
    assert_eq!(path["backend"]["service"]["port"], json!({ "name": "http-api" }));

    let items = render(json!({}));
    let spec = &item(&items, "Service")["spec"];
    assert!(spec.get("ipFamilyPolicy").is_none() && spec.get("ipFamilies").is_none(), "{spec}");

    check_problems(
        json!({ "service": { "ipFamilies": ["IPv4", "IPv4"] } }),
        expect![[r#"
            plugin `server`: values.yaml:11: server.service.ipFamilies: name each IP family once: [IPv4, IPv6] or [IPv6, IPv4]
        "#]],
    );
}

#[test]
fn an_external_database_in_parts_reaches_prefect_as_its_own_settings() {
    let items = render(json!({
        "externalDatabase": {
            "host": "db.example",
            "name": "prefect",
            "username": "prefect",
            "password": "p@ss/word:1",
        },
    }));
    let expected = expect![[r#"
        PREFECT_SERVER_DATABASE_DRIVER=postgresql+asyncpg
        PREFECT_SERVER_DATABASE_HOST=db.example
        PREFECT_SERVER_DATABASE_PORT=5432
        PREFECT_SERVER_DATABASE_NAME=prefect
        PREFECT_SERVER_DATABASE_USER=prefect
        PREFECT_SERVER_DATABASE_PASSWORD<-prefect-server-postgresql-connection/password
    "#]];
    let database_lines = |env: String| -> String {
        env.lines().filter(|line| line.contains("_DATABASE_")).map(|l| format!("{l}\n")).collect()
    };
    let server = super::env(&items);
    expected.assert_eq(
        &database_lines(server.clone())
            .replace("PREFECT_SERVER_DATABASE_MIGRATE_ON_START=false\n", ""),
    );
    assert!(!server.contains("CONNECTION_URL"), "{server}");
    // The password is only in the Secret, and the migrations Job reads the same settings.
    let secret = item(&items, "Secret");
    assert_eq!(secret["metadata"]["name"], "prefect-server-postgresql-connection");
    assert!(!serde_json::to_string(&items).unwrap().contains("p@ss/word:1"));
    let job = env_lines(container_of(&items, "Job", "prefect-db-migrations"));
    assert!(
        job.contains(
            "PREFECT_SERVER_DATABASE_PASSWORD<-prefect-server-postgresql-connection/password\n"
        ),
        "{job}"
    );
}

#[test]
fn every_part_can_come_from_an_operators_secret() {
    // CloudNativePG's `<cluster>-app` Secret.
    let items = render(json!({
        "externalDatabase": {
            "existingSecret": "prefect-db-app",
            "hostSecretKey": "host",
            "portSecretKey": "port",
            "nameSecretKey": "dbname",
            "usernameSecretKey": "user",
            "passwordSecretKey": "password",
        },
    }));
    assert!(!items.iter().any(|item| item["kind"] == "Secret"));
    let env = super::env(&items);
    for line in [
        "PREFECT_SERVER_DATABASE_DRIVER=postgresql+asyncpg\n",
        "PREFECT_SERVER_DATABASE_HOST<-prefect-db-app/host\n",
        "PREFECT_SERVER_DATABASE_PORT<-prefect-db-app/port\n",
        "PREFECT_SERVER_DATABASE_NAME<-prefect-db-app/dbname\n",
        "PREFECT_SERVER_DATABASE_USER<-prefect-db-app/user\n",
        "PREFECT_SERVER_DATABASE_PASSWORD<-prefect-db-app/password\n",
    ] {
        assert!(env.contains(line), "{line} in {env}");
    }
}

#[test]
fn an_incomplete_or_doubled_connection_is_refused_without_echoing_the_password() {
    check_problems(
        json!({ "externalDatabase": { "password": "hunter2", "driver": "postgresql+psycopg" } }),
        expect![[r#"
            plugin `server`: values.yaml:12: server.externalDatabase.driver: Prefect needs the asyncpg driver on PostgreSQL: set `postgresql+asyncpg`
            plugin `server`: values.yaml:10: server.externalDatabase.host: Prefect joins the connection URL from its parts and needs this one: set host, or hostSecretKey with existingSecret
            plugin `server`: values.yaml:10: server.externalDatabase.name: Prefect joins the connection URL from its parts and needs this one: set name, or nameSecretKey with existingSecret
            plugin `server`: values.yaml:10: server.externalDatabase.username: Prefect joins the connection URL from its parts and needs this one: set username, or usernameSecretKey with existingSecret
        "#]],
    );
    check_problems(
        json!({ "externalDatabase": {
            "connectionUrl": "postgresql+asyncpg://u:hunter2@db/prefect",
            "host": "db", "name": "prefect", "username": "u",
            "password": "hunter2", "passwordSecretKey": "password",
        } }),
        expect![[r#"
            plugin `server`: values.yaml:11: server.externalDatabase.connectionUrl: give the connection either as a URL or in parts (host, name, username...), not both
            plugin `server`: values.yaml:16: server.externalDatabase.passwordSecretKey: name the Secret that holds this key in externalDatabase.existingSecret
            plugin `server`: values.yaml:15: server.externalDatabase.password: set either password or passwordSecretKey, not both
        "#]],
    );
}

#[test]
fn a_connection_url_without_a_server_or_a_database_is_refused_without_echoing_it() {
    for url in [
        "postgresql+asyncpg://u:hunter2@db.example:5432",
        "postgresql+asyncpg://u:hunter2@/prefect",
    ] {
        check_problems(
            json!({ "externalDatabase": { "connectionUrl": url } }),
            expect![[r#"
                plugin `server`: values.yaml:11: server.externalDatabase.connectionUrl: the URL names no database server or no database: give both, as in postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE
            "#]],
        );
    }
}

#[test]
fn the_background_services_take_their_own_command_lifecycle_and_grace_period() {
    let items = render(scaled_out(json!({ "backgroundServices": {
        "command": ["/bin/sh", "-c"],
        "args": ["exec prefect server services start"],
        "lifecycle": { "preStop": { "sleep": { "seconds": 20 } } },
        "terminationGracePeriodSeconds": 60,
    } })));
    let deployment = items
        .iter()
        .find(|item| {
            item["kind"] == "Deployment"
                && item["metadata"]["name"] == "prefect-background-services"
        })
        .unwrap();
    let spec = &deployment["spec"]["template"]["spec"];
    assert_eq!(spec["terminationGracePeriodSeconds"], 60);
    let container = &spec["containers"][0];
    assert_eq!(container["command"], json!(["/bin/sh", "-c"]));
    assert_eq!(container["args"], json!(["exec prefect server services start"]));
    assert_eq!(container["lifecycle"], json!({ "preStop": { "sleep": { "seconds": 20 } } }));
    // The server's own settings stay the server's.
    let server = super::container(&items);
    assert!(server.get("lifecycle").is_none());
    assert_eq!(server["args"][0], "prefect");
}
