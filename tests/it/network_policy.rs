//! The network-policy plugin on every stack: each pod selected by a NetworkPolicy (as
//! checkov's CKV2_K8S_6 matches them: `matchLabels` among the pod's labels), and the policies,
//! read as a network plugin reads them, let through the connections the stack makes and
//! refuse the others.

use serde_json::Value;

use crate::harness::{TempDir, prefectctl_in};

/// The plugins `server` may be combined with.
// tidy: every plugin but server, network-policy
const OPTIONAL: [&str; 6] =
    ["agent", "postgres", "redis", "openshift-security", "dask-rbac", "metrics"];

/// The port of each component, as its plugin serves it in the pod.
const SERVER: (&str, i64) = ("prefect-server", 4200);
const POSTGRES: (&str, i64) = ("prefect-postgresql", 5432);
const REDIS: (&str, i64) = ("prefect-redis", 6379);
const METRICS: (&str, i64) = ("prefect-metrics", 8000);

fn render(dir: &TempDir, plugins: &[&str]) -> Vec<Value> {
    let mut args = vec!["render", "-n", "prefect", "-o", "json", "--plugin", "network-policy"];
    for plugin in plugins {
        args.extend(["--plugin", plugin]);
    }
    if plugins.contains(&"postgres") && plugins.contains(&"redis") {
        // Scaled out: the background services apart, and the migrations Job.
        args.extend([
            "--set",
            "server.replicaCount=2,server.backgroundServices.runAsSeparateDeployment=true",
        ]);
    }
    let out = prefectctl_in(dir.path(), &args).ok();
    let list: Value = serde_json::from_str(&out).unwrap_or_else(|err| panic!("{err}: {out}"));
    list["items"].as_array().unwrap().clone()
}

/// Each workload's name and its pods' labels.
fn pods(items: &[Value]) -> Vec<(String, Value)> {
    items
        .iter()
        .filter_map(|item| {
            let template = match item["kind"].as_str()? {
                "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => &item["spec"]["template"],
                "CronJob" => &item["spec"]["jobTemplate"]["spec"]["template"],
                _ => return None,
            };
            let name = item["metadata"]["name"].as_str()?.to_owned();
            Some((name, template["metadata"]["labels"].clone()))
        })
        .collect()
}

/// Whether a label selector selects `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let match_labels = selector["matchLabels"].as_object().into_iter().flatten();
    let expressions = selector["matchExpressions"].as_array().into_iter().flatten();
    match_labels.into_iter().all(|(key, value)| labels[key] == *value)
        && expressions.into_iter().all(|e| {
            let present = labels.get(e["key"].as_str().unwrap()).is_some();
            match e["operator"].as_str().unwrap() {
                "Exists" => present,
                "DoesNotExist" => !present,
                other => panic!("operator {other} not read here"),
            }
        })
}

/// The policies that select pods with `labels`.
fn selecting<'a>(items: &'a [Value], labels: &Value) -> Vec<&'a Value> {
    items
        .iter()
        .filter(|item| item["kind"] == "NetworkPolicy")
        .filter(|policy| selects(&policy["spec"]["podSelector"], labels))
        .collect()
}

/// Whether a pod with labels `from`, in the release namespace, may connect to `port` of a
/// pod with labels `to`: some policy selecting `to` has a rule with that port and a peer
/// that matches `from`.
fn allows(items: &[Value], from: &Value, to: &Value, port: i64) -> bool {
    let peer_matches = |peer: &Value| match (peer.get("podSelector"), peer.get("namespaceSelector"))
    {
        (Some(pods), None) => selects(pods, from),
        // Any namespace (an empty selector), and any pod in it unless a pod selector says.
        (pods, Some(namespaces)) if namespaces.as_object().is_some_and(|n| n.is_empty()) => {
            pods.is_none_or(|pods| selects(pods, from))
        }
        _ => false,
    };
    selecting(items, to).iter().any(|policy| {
        policy["spec"]["ingress"].as_array().into_iter().flatten().any(|rule| {
            let ports = rule["ports"].as_array().into_iter().flatten();
            ports.into_iter().any(|p| p["port"] == port)
                && rule["from"].as_array().into_iter().flatten().any(peer_matches)
        })
    })
}

fn labels_of<'a>(pods: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    pods.iter().find(|(n, _)| n == name).map(|(_, labels)| labels)
}

#[test]
fn every_pod_of_every_stack_is_selected_and_only_the_stacks_own_connections_pass() {
    let dir = TempDir::new("network-policy");
    for mask in 0..1u32 << OPTIONAL.len() {
        let plugins: Vec<&str> = OPTIONAL
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, p)| *p)
            .collect();
        let items = render(&dir, &plugins);
        let pods = pods(&items);
        for (name, labels) in &pods {
            assert!(!selecting(&items, labels).is_empty(), "{plugins:?}: no policy selects {name}");
        }
        let pod = |name: &str| labels_of(&pods, name);
        let has = |name: &str| pod(name).is_some();
        // Who talks to whom, and on which port.
        let mut expected = vec![];
        for client in ["prefect-worker", METRICS.0] {
            if has(client) {
                expected.push((client, SERVER));
            }
        }
        for backend in [POSTGRES, REDIS] {
            for client in [SERVER.0, "prefect-background-services"] {
                if has(client) && has(backend.0) {
                    expected.push((client, backend));
                }
            }
        }
        if has("prefect-db-migrations") && has(POSTGRES.0) {
            expected.push(("prefect-db-migrations", POSTGRES));
        }
        for (from, (to, port)) in expected {
            assert!(
                allows(&items, pod(from).unwrap(), pod(to).unwrap(), port),
                "{plugins:?}: {from} may not reach {to}:{port}"
            );
        }
        let server = pod(SERVER.0).expect("the server");
        // Flow runs report to the API, and their pods are not the release's to isolate.
        let flow_run = serde_json::json!({ "prefect.io/flow-run-id": "0ff44b2d" });
        assert!(allows(&items, &flow_run, server, SERVER.1), "{plugins:?}");
        assert!(selecting(&items, &flow_run).is_empty(), "{plugins:?}");
        // What no component needs is refused.
        let worker = pod("prefect-worker");
        for (target, port) in [POSTGRES, REDIS] {
            if let (Some(worker), Some(to)) = (worker, pod(target)) {
                assert!(
                    !allows(&items, worker, to, port),
                    "{plugins:?}: the worker reaches {target}"
                );
            }
        }
        if let Some(worker) = worker {
            assert!(
                !allows(&items, server, worker, 8080),
                "{plugins:?}: the worker's port is open"
            );
        }
        // Prometheus, in a namespace of its own, scrapes the exporter by default.
        if let Some(exporter) = pod(METRICS.0) {
            let prometheus = serde_json::json!({ "app.kubernetes.io/name": "prometheus" });
            assert!(allows(&items, &prometheus, exporter, METRICS.1), "{plugins:?}");
        }
    }
}
