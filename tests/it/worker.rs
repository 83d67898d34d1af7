//! The rendered worker, run for real: its exact command line and environment, with the API
//! token of the ServiceAccount the agent plugin creates, against a real API server and a local
//! Prefect server. A flow run scheduled on its work pool becomes a Kubernetes Job, created
//! under the plugin's namespaced Role, with no permission refused on the way.

use std::{collections::BTreeMap, path::Path, process::Command};

use serde_json::Value;

use crate::{
    cluster::Cluster,
    harness::{TempDir, prefectctl},
    prefect,
};

const NAMESPACE: &str = "prefect";

/// Creates a deployment on the `kubernetes` work pool and a flow run of it due now; prints the
/// run's id. The job variables put the Job in the release namespace.
const SCHEDULE_RUN: &str = r#"
import asyncio
from prefect.client.orchestration import get_client

async def main():
    async with get_client() as client:
        flow_id = await client.create_flow_from_name("prefectctl-e2e")
        deployment_id = await client.create_deployment(
            flow_id=flow_id,
            name="prefectctl-e2e",
            work_pool_name="kubernetes",
            entrypoint="flow.py:e2e",
            job_variables={"namespace": "prefect", "image": "example.invalid/flow:1"},
        )
        run = await client.create_flow_run_from_deployment(deployment_id)
        print(run.id)

asyncio.run(main())
"#;

/// The worker's pod spec in `rendered` (a JSON List).
fn worker_pod(rendered: &Value) -> &Value {
    let deployment = rendered["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "Deployment" && i["metadata"]["name"] == "prefect-worker")
        .expect("the worker's Deployment");
    &deployment["spec"]["template"]["spec"]
}

/// The worker container's arguments and literal environment in `rendered` (a JSON List).
fn worker_command(rendered: &Value) -> (Vec<String>, BTreeMap<String, String>) {
    let container = &worker_pod(rendered)["containers"][0];
    let args = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let env = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|var| {
            Some((var["name"].as_str()?.to_owned(), var.get("value")?.as_str()?.to_owned()))
        })
        .collect();
    (args, env)
}

/// Runs the worker pod's init container that writes the template a new pool gets, as the pod
/// would, but writing `file` (the pod's /tmp is its own).
fn run_default_template(rendered: &Value, file: &Path) {
    let init = &worker_pod(rendered)["initContainers"][0];
    assert_eq!(init["name"], "default-base-job-template");
    let command: Vec<&str> =
        init["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    let (program, args) = command.split_first().unwrap();
    let out = Command::new(program)
        .args(&args[..args.len() - 1])
        .arg(file)
        .env("PATH", format!("{}:/usr/bin:/bin", prefect::bin().display()))
        .env("PREFECT_HOME", file.with_extension("home"))
        .output()
        .expect("the init container runs");
    assert!(
        out.status.success(),
        "the init container failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the worker once, as the container would (its arguments after `prefect`), with
/// `--run-once`; returns everything it printed.
fn run_worker_once(args: &[String], env: &BTreeMap<String, String>, home: &Path) -> String {
    let out = Command::new(prefect::bin().join("prefect"))
        .args(&args[1..])
        .arg("--run-once")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(env)
        .env("HOME", home)
        .env("PREFECT_HOME", home.join(".prefect"))
        .output()
        .expect("the worker runs");
    let printed =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the worker failed:\n{printed}");
    printed
}

#[test]
fn a_flow_run_becomes_a_job_under_the_workers_own_role() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer, crate::tier::Tier::Python]) {
        return;
    }
    let cluster = Cluster::start();
    let server = prefect::Server::start();
    cluster.kubectl(&["create", "namespace", NAMESPACE], None).ok();
    let manifests =
        prefectctl(&["render", "-n", NAMESPACE, "--kube-version", "1.20.2", "--plugin", "agent"])
            .ok();
    let applied = cluster.kubectl(&["apply", "-f", "-"], Some(&manifests));
    assert_eq!(applied.code, 0, "kubectl apply failed:\n{}", applied.stderr);

    let dir = TempDir::new("worker");
    let rendered = prefectctl(&[
        "render",
        "-o",
        "json",
        "-n",
        NAMESPACE,
        "--kube-version",
        "1.20.2",
        "--plugin",
        "agent",
    ])
    .ok();
    let rendered: Value = serde_json::from_str(&rendered).unwrap();
    let (mut args, mut env) = worker_command(&rendered);
    // The pool the worker creates gets the template the init container writes.
    let template = dir.path().join("base-job-template.json");
    run_default_template(&rendered, &template);
    for arg in &mut args {
        if arg == "/tmp/prefectctl-base-job-template.json" {
            *arg = template.display().to_string();
        }
    }
    // In the cluster the worker reaches the server through its Service, and Kubernetes through
    // its mounted token; here, the local server and a kubeconfig with that same token.
    assert_eq!(env["PREFECT_API_URL"], "http://prefect-server.prefect.svc:4200/api");
    env.insert("PREFECT_API_URL".to_owned(), server.api_url.clone());
    env.insert(
        "KUBECONFIG".to_owned(),
        cluster.account_kubeconfig(NAMESPACE, "prefect-worker", &dir).display().to_string(),
    );

    // The first poll creates the work pool, as on a first install.
    let first = run_worker_once(&args, &env, dir.path());
    let run = Command::new(prefect::bin().join("python"))
        .args(["-c", SCHEDULE_RUN])
        .env("PREFECT_API_URL", &server.api_url)
        .env("PREFECT_HOME", dir.path().join("client"))
        .output()
        .expect("python runs");
    assert!(
        run.status.success(),
        "scheduling a run failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let flow_run = String::from_utf8_lossy(&run.stdout).trim().to_owned();
    let second = run_worker_once(&args, &env, dir.path());

    let jobs = cluster
        .kubectl(
            &[
                "get",
                "jobs",
                "-n",
                NAMESPACE,
                "-l",
                &format!("prefect.io/flow-run-id={flow_run}"),
                "-o",
                "name",
            ],
            None,
        )
        .ok();
    assert_eq!(
        jobs.lines().count(),
        1,
        "no Job for flow run {flow_run}; the worker printed:\n{second}"
    );
    for printed in [&first, &second] {
        assert!(
            !printed.contains("Forbidden") && !printed.contains("403"),
            "a request was refused:\n{printed}"
        );
    }
}
