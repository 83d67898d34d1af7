//! `apply --adopt-helm`: prefect-helm releases, created on a real API server as Helm creates
//! them (the objects from `fixtures/prefect-helm`, Helm's field manager, Helm's release
//! record), taken over in place: the database kept, Helm's objects replaced or taken over
//! without Helm's leftovers, Helm's record superseded, and the release settled (the next
//! apply changes nothing).

use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::{
    cluster::Cluster,
    harness::{base64_decode, workspace},
    lifecycle::{cluster, ctl, get},
    node,
    running::{FLOW_EXISTS, NAMESPACE as RUNNING_NAMESPACE, Stack},
};

const NAMESPACE: &str = "prefect";

fn fixture(name: &str) -> String {
    let path = workspace().join("tests/it/fixtures/prefect-helm").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// `input` through `command` (a shell pipeline of standard tools, not prefectctl's code).
fn pipe(command: &str, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("sh")
        .args(["-c", command])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{command} failed");
    out.stdout
}

/// A Helm release installed as Helm 3 installs one: its objects created by the field manager
/// `helm`, and its record `sh.helm.release.v1.<name>.v1` (the release as gzip-compressed JSON,
/// base64-encoded, in the Secret's data).
fn install_as_helm(cluster: &Cluster, name: &str, chart: &str, config: Value, manifest: &str) {
    let mut objects: Vec<Value> = serde_saphyr::from_multiple(manifest).unwrap();
    objects.retain(|object| object.get("kind").is_some());
    for object in &mut objects {
        // What `helm install` adds to each object, beyond the manifest it records.
        let annotations = &mut object["metadata"]["annotations"];
        if annotations.is_null() {
            *annotations = json!({});
        }
        annotations["meta.helm.sh/release-name"] = json!(name);
        annotations["meta.helm.sh/release-namespace"] = json!(NAMESPACE);
    }
    let list = json!({ "apiVersion": "v1", "kind": "List", "items": objects });
    cluster
        .kubectl(
            &["create", "-n", NAMESPACE, "--field-manager", "helm", "-f", "-"],
            Some(&list.to_string()),
        )
        .ok();
    let release = json!({
        "name": name,
        "namespace": NAMESPACE,
        "version": 1,
        "info": { "status": "deployed", "description": "Install complete" },
        "chart": { "metadata": { "name": chart, "version": "0.0.0", "appVersion": "3-latest" } },
        "config": config,
        "manifest": manifest,
    });
    let encoded = pipe("gzip -c | base64 -w0", release.to_string().as_bytes());
    let record = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": format!("sh.helm.release.v1.{name}.v1"),
            "namespace": NAMESPACE,
            "labels": { "owner": "helm", "name": name, "status": "deployed", "version": "1" },
        },
        "stringData": { "release": String::from_utf8(encoded).unwrap() },
    });
    cluster
        .kubectl(&["create", "--field-manager", "helm", "-f", "-"], Some(&record.to_string()))
        .ok();
}

/// The Helm release's record: its status label and the status in its body.
fn helm_status(cluster: &Cluster, name: &str) -> (String, String, String) {
    let record = get(cluster, "secret", &format!("sh.helm.release.v1.{name}.v1")).unwrap();
    let data = base64_decode(record["data"]["release"].as_str().unwrap());
    let json = pipe("base64 -d | gzip -dc", &data);
    let body: Value = serde_json::from_slice(&json).unwrap();
    (
        record["metadata"]["labels"]["status"].as_str().unwrap().to_owned(),
        body["info"]["status"].as_str().unwrap().to_owned(),
        body["info"]["description"].as_str().unwrap().to_owned(),
    )
}

fn without_request_count(out: &str) -> String {
    out.lines()
        .map(|line| match line.rsplit_once("; ") {
            Some((head, tail)) if tail.ends_with("API requests") => {
                format!("{head}; N API requests")
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_sqlite_server_and_its_worker_move_over_in_place_and_settle() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = cluster();
    let sqlite = json!({ "sqlite": { "enabled": true }, "postgresql": { "enabled": false } });
    install_as_helm(
        &cluster,
        "prefect-server",
        "prefect-server",
        sqlite,
        &fixture("server-sqlite.yaml"),
    );
    let worker_values: Value = serde_saphyr::from_str(&fixture("worker-values.yaml")).unwrap();
    install_as_helm(
        &cluster,
        "prefect-worker",
        "prefect-worker",
        worker_values,
        &fixture("worker.yaml"),
    );
    let claim_uid =
        get(&cluster, "pvc", "prefect-server-sqlite").unwrap()["metadata"]["uid"].clone();

    // What would be done, changing nothing.
    let dry = ctl(
        &cluster,
        &["apply", "--adopt-helm", "prefect-server", "--adopt-helm", "prefect-worker", "--dry-run"],
    )
    .ok();
    assert!(
        dry.contains("replaced (selectors differ): Deployment/prefect/prefect-server"),
        "{dry}"
    );
    assert_eq!(helm_status(&cluster, "prefect-server").0, "deployed");

    let out = ctl(
        &cluster,
        &["apply", "--adopt-helm", "prefect-server", "--adopt-helm", "prefect-worker"],
    )
    .ok();
    expect_test::expect![[r#"
        release prefect in namespace prefect: revision 1 deployed: 7 objects applied; N API requests
        replaced (selectors differ): Deployment/prefect/prefect-server, Deployment/prefect/prefect-worker
        taken over: ServiceAccount/prefect/prefect-server, Service/prefect/prefect-server, ServiceAccount/prefect/prefect-worker, Role/prefect/prefect-worker, RoleBinding/prefect/prefect-worker
        kept, being data: PersistentVolumeClaim/prefect/prefect-server-sqlite
        Helm's records sh.helm.release.v1.prefect-server.v1, sh.helm.release.v1.prefect-worker.v1 marked superseded by prefectctl release prefect revision 1: `helm list` no longer shows the release; do not `helm upgrade` or `helm uninstall` it"#]]
    .assert_eq(&without_request_count(out.split("\n\n").next().unwrap()));

    // The database: the same claim, mounted where the server finds prefect.db.
    let claim = get(&cluster, "pvc", "prefect-server-sqlite").expect("the SQLite claim is kept");
    assert_eq!(claim["metadata"]["uid"], claim_uid);
    let server = get(&cluster, "deployment", "prefect-server").unwrap();
    let pod = &server["spec"]["template"]["spec"];
    let data = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "data").unwrap();
    assert_eq!(data["persistentVolumeClaim"]["claimName"], "prefect-server-sqlite");
    assert_eq!(
        server["spec"]["selector"]["matchLabels"],
        json!({ "app.kubernetes.io/instance": "prefect", "app.kubernetes.io/name": "prefect-server" })
    );

    // Taken over without Helm's leftovers: its labels, annotations and selector keys gone.
    let service = get(&cluster, "service", "prefect-server").unwrap();
    let labels = &service["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/managed-by"], "prefectctl", "{labels}");
    assert_eq!(labels.get("helm.sh/chart"), None, "{labels}");
    assert_eq!(
        service["metadata"].get("annotations").and_then(|a| a.get("meta.helm.sh/release-name")),
        None
    );
    assert_eq!(service["spec"]["selector"], server["spec"]["selector"]["matchLabels"]);

    // The worker polls the pool it polled.
    let worker = get(&cluster, "deployment", "prefect-worker").unwrap();
    let args = worker["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(args.contains("kubernetes-pool"), "{args}");

    // Helm's records say what took them over.
    for name in ["prefect-server", "prefect-worker"] {
        let (label, status, description) = helm_status(&cluster, name);
        assert_eq!((label.as_str(), status.as_str()), ("superseded", "superseded"));
        assert_eq!(description, "Superseded by prefectctl release prefect revision 1");
    }

    // The release remembers it all: the next apply changes nothing; the Helm releases are not
    // taken twice.
    let again = ctl(&cluster, &["apply"]).ok();
    assert!(again.contains("no changes: revision 1 stays deployed"), "{again}");
    let twice = ctl(&cluster, &["apply", "--adopt-helm", "prefect-server"]).fails(1);
    assert!(twice.contains("every revision is superseded (taken over already?)"), "{twice}");
    let none = ctl(&cluster, &["apply", "--adopt-helm", "prefect"]).fails(1);
    assert!(none.contains("no Helm release prefect in namespace prefect"), "{none}");
}

#[test]
fn a_server_on_the_postgresql_subchart_keeps_its_database_running() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = cluster();
    install_as_helm(
        &cluster,
        "prefect-server",
        "prefect-server",
        json!({}),
        &fixture("server-postgresql.yaml"),
    );
    // The migrations Job would gate the server, and no kubelet runs it here; flags go on top
    // of the adopted values.
    let out = ctl(
        &cluster,
        &["apply", "--adopt-helm", "prefect-server", "--set", "server.migrations.enabled=false"],
    )
    .ok();
    let first = without_request_count(out.split("\n\n").next().unwrap());
    assert!(first.contains("kept, being data: Secret/prefect/prefect-server-postgresql, Secret/prefect/prefect-server-postgresql-connection"), "{first}");
    assert!(first.contains("kept running as Helm made it (the server's database): NetworkPolicy/prefect/prefect-server-postgresql, ServiceAccount/prefect/prefect-server-postgresql, Service/prefect/prefect-server-postgresql-hl, Service/prefect/prefect-server-postgresql, StatefulSet/prefect/prefect-server-postgresql"), "{first}");

    // The server reads the URL Helm's server read; no second database.
    let server = get(&cluster, "deployment", "prefect-server").unwrap();
    let env = &server["spec"]["template"]["spec"]["containers"][0]["env"];
    let url = env
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "PREFECT_SERVER_DATABASE_CONNECTION_URL")
        .unwrap();
    assert_eq!(
        url["valueFrom"]["secretKeyRef"],
        json!({ "name": "prefect-server-postgresql-connection", "key": "connection-string" })
    );
    assert!(get(&cluster, "statefulset", "prefect-server-postgresql").is_some());
    assert!(get(&cluster, "statefulset", "prefect-postgres").is_none());
    assert!(!out.contains("prefect-rocks"), "the password stays out of the output");
}

/// Pods run: a prefect-helm server on SQLite holds a flow, is taken over, and prefectctl's
/// server, on the same claim, still has it; the Service (its address) stays.
#[test]
fn a_running_sqlite_server_is_taken_over_with_its_data() {
    if !node::tier() {
        return;
    }
    assert_eq!(RUNNING_NAMESPACE, NAMESPACE);
    let stack = Stack::start();
    stack.kubectl(&["create", "namespace", NAMESPACE]);
    // The stand-in plays Prefect's release images, not the moving `3-latest`.
    let manifest = fixture("server-sqlite.yaml")
        .replace("prefecthq/prefect:3-latest", "prefecthq/prefect:3.9.1-python3.12");
    let sqlite = json!({ "sqlite": { "enabled": true }, "postgresql": { "enabled": false } });
    install_as_helm(&stack.cluster, "prefect-server", "prefect-server", sqlite, &manifest);
    stack.kubectl(&[
        "wait",
        "-n",
        NAMESPACE,
        "--for=condition=available",
        "--timeout=6m",
        "deployment/prefect-server",
    ]);
    let api = stack.api_url("prefect-server");
    stack.python(FLOW_EXISTS, &["made-under-helm"], &api, None);

    stack.apply(&["--adopt-helm", "prefect-server"]);
    assert_eq!(stack.api_url("prefect-server"), api, "the Service was not kept");
    assert_eq!(
        stack.python(FLOW_EXISTS, &["made-under-helm", "--check"], &api, None),
        "made-under-helm"
    );
}
