//! The server at scale, with pods run (the tier `PREFECTCTL_SKIP_PODS` skips): several API
//! pods on PostgreSQL, the background services in their own Deployment, Redis between them;
//! and database migrations as their own step, before the server pods that need them.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    node,
    running::{FLOW_EXISTS, NAMESPACE, Stack, flow_job_variables},
};

/// Prints the Prefect version the server at `PREFECT_API_URL` runs.
const SERVER_VERSION: &str = r#"
import os, httpx
print(httpx.get(os.environ["PREFECT_API_URL"] + "/admin/version", timeout=30).json())
"#;

/// Makes deployment `scheduled` of the image's `e2e` flow on work pool `argv[1]` (job
/// variables `argv[2]`) with a schedule every 20 s, and waits until a run the scheduler made
/// (`auto_scheduled`) completed; then pauses the deployment and prints
/// `<deployment id> <completed run id>`, or `NONE <states>` after 6 minutes.
const SCHEDULED_RUN: &str = r#"
import asyncio, json, sys, time
from datetime import timedelta
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.schedules import IntervalSchedule

async def main():
    pool, variables = sys.argv[1], json.loads(sys.argv[2])
    async with get_client() as client:
        deadline = time.monotonic() + 120
        while True:
            try:
                await client.read_work_pool(pool)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
        flow_id = await client.create_flow_from_name("e2e")
        deployment_id = await client.create_deployment(
            flow_id=flow_id,
            name="scheduled",
            work_pool_name=pool,
            entrypoint="e2e.py:e2e",
            pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": "/opt/prefect/flows"}}],
            job_variables=variables,
            parameters={"greeting": "scheduled"},
            schedules=[DeploymentScheduleCreate(schedule=IntervalSchedule(interval=timedelta(seconds=20)), active=True)],
        )
        only_this = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        deadline = time.monotonic() + 360
        runs = []
        while time.monotonic() < deadline:
            runs = await client.read_flow_runs(deployment_filter=only_this)
            done = [r for r in runs if r.auto_scheduled and r.state and r.state.is_completed()]
            if done:
                await client.pause_deployment(deployment_id)
                print(deployment_id, done[0].id)
                return
            await asyncio.sleep(3)
        print("NONE", sorted((r.state.type.value if r.state else "NONE") for r in runs))

asyncio.run(main())
"#;

/// Prints how many flow runs deployment `argv[1]` has, and how many of them completed.
const RUNS_OF: &str = r#"
import asyncio, sys
from uuid import UUID
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

async def main():
    async with get_client() as client:
        only = DeploymentFilter(id=DeploymentFilterId(any_=[UUID(sys.argv[1])]))
        runs = await client.read_flow_runs(deployment_filter=only)
        print(len(runs), sum(1 for r in runs if r.state and r.state.is_completed()))

asyncio.run(main())
"#;

impl Stack {
    /// The Prefect version the server at `api` says it runs.
    fn server_version(&self, api: &str) -> String {
        self.python(SERVER_VERSION, &[], api, None)
    }

    /// `kubectl get ARGS -n NAMESPACE -o jsonpath=PATH`.
    fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        let path = format!("jsonpath={path}");
        args.extend_from_slice(&["-n", NAMESPACE, "-o", &path]);
        self.kubectl(&args)
    }
}

#[test]
fn migrations_run_before_the_new_server_and_guard_a_rollback_to_an_older_prefect() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    stack.apply(&[
        "--plugin",
        "postgres",
        "--set",
        "server.image.prefectTag=3.8.8-python3.12",
        "--set",
        // One retry: a failed migration fails the apply within seconds, not minutes.
        "server.migrations.backoffLimit=1",
    ]);
    let api = stack.api_url("prefect-server");
    assert_eq!(stack.server_version(&api), "3.8.8");
    stack.python(FLOW_EXISTS, &["kept-across-versions"], &api, None);
    let job = ["job", "prefect-db-migrations"];
    let first_run = stack.jsonpath(&job, "{.metadata.uid}");
    let logs = stack.kubectl(&["logs", "-n", NAMESPACE, "job/prefect-db-migrations"]);
    let old_revision = logs
        .lines()
        .find_map(|line| line.strip_prefix("prefect database revision: "))
        .unwrap_or_else(|| stack.fail(&format!("the migration printed no revision:\n{logs}")))
        .trim()
        .to_owned();

    // What the upgrade will do: the Job's pod template cannot change, so it is replaced.
    let bump = ["--set", "server.image.prefectTag=3.9.1-python3.12"];
    let dry = stack.ctl(&[&["apply", "--dry-run=server"][..], &bump[..]].concat());
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stdout.contains("replace   Job/prefect/prefect-db-migrations"), "{}", dry.stdout);
    assert!(dry.stdout.contains(" to update, 1 to replace, 0 to delete, "), "{}", dry.stdout);
    let diff = stack.ctl(&[&["diff"][..], &bump[..]].concat());
    assert_eq!(diff.code, 1, "{}", diff.stderr);
    assert!(diff.stdout.contains("3.9.1-python3.12"), "{}", diff.stdout);
    assert!(
        diff.stdout.contains(
            "+++ planned/Job/prefect/prefect-db-migrations (replaced: deleted, then created again)"
        ),
        "{}",
        diff.stdout
    );

    // The upgrade runs the migration again, and only then rolls the server.
    let out = stack.ctl(&[
        "apply",
        "--wait",
        "--timeout",
        "6m",
        "--set",
        "server.image.prefectTag=3.9.1-python3.12",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("running Job/prefect/prefect-db-migrations before Deployment/prefect-server"),
        "{}",
        out.stderr
    );
    assert_ne!(
        stack.jsonpath(&job, "{.metadata.uid}"),
        first_run,
        "the migration did not run again"
    );
    let completed = stack.jsonpath(&job, "{.status.completionTime}");
    // Each pod's creation time, and its deletion time when it is an old one still terminating
    // (on a loaded machine the stand-in may take a while to stop it).
    let started = stack.jsonpath(
        &["pods", "-l", "app.kubernetes.io/name=prefect-server"],
        "{range .items[*]}{.metadata.creationTimestamp} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
    );
    assert!(!completed.is_empty(), "the migration Job did not complete");
    let running = started.lines().filter(|line| line.split_whitespace().count() == 1);
    for pod in running.map(str::trim) {
        assert!(
            completed.as_str() <= pod,
            "a server pod ({pod}) started before the migration completed ({completed})"
        );
    }
    assert_eq!(stack.server_version(&api), "3.9.1");
    let logs = stack.kubectl(&["logs", "-n", NAMESPACE, "job/prefect-db-migrations"]);
    let new_revision = logs
        .lines()
        .find_map(|line| line.strip_prefix("prefect database revision: "))
        .unwrap_or_else(|| stack.fail(&format!("the migration printed no revision:\n{logs}")))
        .trim()
        .to_owned();
    assert_ne!(new_revision, old_revision, "3.8.8 and 3.9.1 end at different migrations");
    let status = stack.ctl(&["status"]).stdout;
    assert!(
        status.contains(&format!("Prefect 3.9.1, database postgresql at migration {new_revision}")),
        "{status}"
    );
    assert_eq!(
        stack.python(FLOW_EXISTS, &["kept-across-versions", "--check"], &api, None),
        "kept-across-versions"
    );

    // Back to 3.8.8 would start it on a database 3.9.1 migrated: refused, with the downgrade.
    let refused = stack.ctl(&["rollback"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let downgrade = format!(
        "kubectl -n {NAMESPACE} exec deployment/prefect-server -c prefect-server -- prefect \
         server database downgrade -y -r {old_revision}"
    );
    assert!(refused.stderr.contains(&downgrade), "{}", refused.stderr);
    assert!(stack.ctl(&["history"]).stdout.lines().count() == 3, "the refusal wrote a revision");

    // Forced, the old migration fails on the newer database and the 3.9.1 server keeps serving.
    let forced = stack.ctl(&["rollback", "--force", "--timeout", "4m"]);
    assert_eq!(forced.code, 1, "{}", forced.stderr);
    assert!(
        forced.stderr.contains("the last log lines of Job/prefect/prefect-db-migrations"),
        "{}",
        forced.stderr
    );
    assert!(forced.stderr.contains("were not applied"), "{}", forced.stderr);
    let image = stack
        .jsonpath(&["deployment", "prefect-server"], "{.spec.template.spec.containers[0].image}");
    assert!(image.contains("3.9.1"), "the server was rolled back: {image}");
    assert_eq!(stack.server_version(&api), "3.9.1");
    let status = stack.ctl(&["status"]).stdout;
    assert!(
        status.contains(
            "the last log lines of Job/prefect/prefect-db-migrations in this failed revision:"
        ),
        "{status}"
    );
    let history = stack.ctl(&["history"]).stdout;
    assert!(history.lines().last().is_some_and(|l| l.contains("failed")), "{history}");
}

#[test]
fn the_ha_stack_schedules_in_the_background_and_loses_nothing_with_an_api_pod() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    let values = json!({
        "server": {
            "replicaCount": 3,
            "backgroundServices": {
                "runAsSeparateDeployment": true,
                "env": [{ "name": "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS", "value": "5" }],
            },
        },
        "agent": { "config": { "workPool": "ha" } },
    });
    let values = stack.dir.write("ha.yaml", &values.to_string()).display().to_string();
    stack.apply(&["--plugin", "postgres", "--plugin", "redis", "--plugin", "agent", "-f", &values]);

    let ready = stack.jsonpath(&["deployment", "prefect-server"], "{.status.readyReplicas}");
    assert_eq!(ready, "3", "three API pods");
    let args = stack
        .jsonpath(&["deployment", "prefect-server"], "{.spec.template.spec.containers[0].args}");
    assert!(args.contains("--no-services"), "the API pods run services: {args}");
    let background =
        stack.jsonpath(&["deployment", "prefect-background-services"], "{.status.readyReplicas}");
    assert_eq!(background, "1", "the background services run");

    // Only the background-services pod schedules: its runs reach the worker through the API.
    let api = stack.api_url("prefect-server");
    let printed =
        stack.python(SCHEDULED_RUN, &["ha", &flow_job_variables().to_string()], &api, None);
    let (deployment, run) = printed.split_once(' ').unwrap_or((&printed, ""));
    if deployment == "NONE" {
        stack.fail(&format!("no scheduled run completed: {run}"));
    }
    let before: Vec<u64> = stack
        .python(RUNS_OF, &[deployment], &api, None)
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();

    // One API pod killed: the others answer, and every run is still there.
    let pods = stack.jsonpath(
        &["pods", "-l", "app.kubernetes.io/name=prefect-server"],
        "{.items[*].metadata.name}",
    );
    let victim = pods.split_whitespace().next().unwrap_or_else(|| stack.fail("no API pod"));
    stack.kubectl(&["delete", "pod", "-n", NAMESPACE, victim, "--wait=false"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let after: Vec<u64> = stack
            .python(RUNS_OF, &[deployment], &api, None)
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        assert!(
            after.len() == 2 && after[0] >= before[0] && after[1] >= before[1],
            "runs lost: {before:?} then {after:?}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let flow = stack.run_flow(&api, None, "ha", flow_job_variables());
    assert!(!flow.is_empty());
    let redis_used: Value = serde_json::from_str(&stack.kubectl(&[
        "get",
        "deployment",
        "prefect-server",
        "-n",
        NAMESPACE,
        "-o",
        "json",
    ]))
    .unwrap();
    let env = redis_used["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(env.contains("prefect_redis.messaging"), "the API pods do not use Redis: {env}");
}

#[test]
fn scale_out_rules_are_refused_before_anything_is_written() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = crate::cluster::Cluster::start();
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let dir = crate::harness::TempDir::new("scale-rules");
    let refused = [
        (&["--set", "server.replicaCount=3"][..], "keep replicaCount at 1, or move to PostgreSQL"),
        (
            &["--set", "server.autoscaling.enabled=true"][..],
            "turn autoscaling off, or move to PostgreSQL",
        ),
        (
            &[
                "--plugin",
                "postgres",
                "--set",
                "server.backgroundServices.runAsSeparateDeployment=true",
            ][..],
            "add the redis plugin to the stack, or set backgroundServices.messaging.redis.host",
        ),
        (
            &[
                "--plugin",
                "redis",
                "--set",
                "server.backgroundServices.runAsSeparateDeployment=true",
            ][..],
            "keep them in the server pods (false), or move to PostgreSQL",
        ),
        (
            &[
                "--plugin",
                "postgres",
                "--plugin",
                "redis",
                "--set",
                "server.backgroundServices.runAsSeparateDeployment=true",
                "--set",
                "server.image.prefectTag=3.1.12-python3.12",
            ][..],
            "needs Prefect 3.1.13 or later, and the image tag 3.1.12-python3.12 is Prefect 3.1.12",
        ),
    ];
    for (flags, advice) in refused {
        let mut args = vec!["--kubeconfig", kubeconfig.as_str(), "-n", NAMESPACE];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["apply", "--create-namespace"]);
        let stderr = crate::harness::prefectctl_in(dir.path(), &args).fails(1);
        assert!(stderr.contains(advice), "{flags:?}: {stderr}");
    }
    let written = cluster
        .kubectl(&["get", "all,secrets,configmaps,leases,namespaces", "-A", "-o", "name"], None);
    let ours: Vec<&str> = written.stdout.lines().filter(|l| l.contains("prefect")).collect();
    assert!(ours.is_empty(), "objects were written: {ours:?}");
}
