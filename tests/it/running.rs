//! Pods run (the tier `PREFECTCTL_SKIP_PODS` skips): every stack applied to a real API server
//! with the kubelet stand-in as its node, brought to Ready by `prefectctl apply --wait`, and
//! used as a user would: flows run as Jobs end to end, data survives restarts and upgrades,
//! credentials stay in Secrets. Each test has its own cluster and node.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    cluster::Cluster,
    harness::{Run, TempDir, base64_decode, prefectctl_in},
    node::{self, Node},
    prefect,
};

pub(crate) const NAMESPACE: &str = "prefect";
/// The image the tests' flow runs use: Prefect with the flows of `tests/kubelet/images`.
pub(crate) const FLOW_IMAGE: &str = "prefectctl.test/e2e-flows:3.9.1";
/// A basic-auth string, to look for where it must not be.
pub(crate) const AUTH: &str = "admin:Sup3r-s3cret-pa55";

/// A cluster with a node, and the folder the test's files go in.
pub(crate) struct Stack {
    pub(crate) dir: TempDir,
    pub(crate) node: Node,
    pub(crate) cluster: Cluster,
}

impl Stack {
    pub(crate) fn start() -> Stack {
        let cluster = Cluster::start();
        let node = Node::start(&cluster);
        Stack { dir: TempDir::new("running"), node, cluster }
    }

    /// A values file whose agent.config.baseJobTemplate is Prefect's default template for
    /// Kubernetes with the defaults of `variables` changed; its path.
    pub(crate) fn template_values(&self, variables: Value) -> String {
        let out = std::process::Command::new(prefect::bin().join("prefect"))
            .args(["work-pool", "get-default-base-job-template", "--type", "kubernetes"])
            .env("PREFECT_HOME", self.dir.path().join("prefect-home"))
            .output()
            .expect("prefect runs");
        let mut template: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!("no default template: {}", String::from_utf8_lossy(&out.stderr))
        });
        for (name, default) in variables.as_object().unwrap() {
            template["variables"]["properties"][name]["default"] = default.clone();
        }
        let values =
            json!({ "agent": { "config": { "baseJobTemplate": { "configuration": template } } } });
        self.dir.write("template.yaml", &values.to_string()).display().to_string()
    }

    /// `prefectctl --kubeconfig CLUSTER -n NAMESPACE ARGS`.
    pub(crate) fn ctl(&self, args: &[&str]) -> Run {
        let kubeconfig = self.cluster.kubeconfig().display().to_string();
        let mut all = vec!["--kubeconfig", kubeconfig.as_str(), "-n", NAMESPACE];
        all.extend_from_slice(args);
        prefectctl_in(self.dir.path(), &all)
    }

    /// `apply --wait` with `args`, which must reach Ready.
    #[track_caller]
    pub(crate) fn apply(&self, args: &[&str]) -> String {
        let mut all = vec!["apply", "--create-namespace", "--wait", "--timeout", "6m"];
        all.extend_from_slice(args);
        let run = self.ctl(&all);
        if run.code != 0 {
            self.fail(&format!("prefectctl {} failed:\n{}", all.join(" "), run.stderr));
        }
        run.stdout
    }

    /// Fails the test with `message` and what the pods printed.
    #[track_caller]
    pub(crate) fn fail(&self, message: &str) -> ! {
        let pods = self.cluster.kubectl(&["get", "pods", "-A", "-o", "wide"], None).stdout;
        panic!("{message}\n\npods:\n{pods}\ncontainer logs:\n{}", self.node.logs(NAMESPACE));
    }

    /// `kubectl ARGS`, which must succeed.
    #[track_caller]
    pub(crate) fn kubectl(&self, args: &[&str]) -> String {
        let run = self.cluster.kubectl(args, None);
        if run.code != 0 {
            self.fail(&format!("kubectl {} failed:\n{}", args.join(" "), run.stderr));
        }
        run.stdout
    }

    /// The API URL of the server Service `name`, as the node reaches it.
    pub(crate) fn api_url(&self, name: &str) -> String {
        let ip = self.kubectl(&[
            "get",
            "service",
            name,
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.spec.clusterIP}",
        ]);
        format!("http://{ip}:4200/api")
    }

    /// Runs a Python `script` of Prefect's client against `api` from the node; what it
    /// printed.
    #[track_caller]
    pub(crate) fn python(
        &self,
        script: &str,
        args: &[&str],
        api: &str,
        auth: Option<&str>,
    ) -> String {
        let home = TempDir::new("client");
        let home_path = home.path().display().to_string();
        let mut env = vec![
            ("PREFECT_API_URL", api),
            ("PREFECT_HOME", home_path.as_str()),
            ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
        ];
        if let Some(auth) = auth {
            env.push(("PREFECT_API_AUTH_STRING", auth));
        }
        let mut all = vec!["-c", script];
        all.extend_from_slice(args);
        let out = self.node.run(&prefect::bin().join("python"), &all, &env);
        if !out.status.success() {
            self.fail(&format!(
                "the Prefect client failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A flow run of a deployment on `pool`, run to its end by the worker as a Job; returns
    /// the run's id, after checking it completed and its Job exists.
    #[track_caller]
    pub(crate) fn run_flow(
        &self,
        api: &str,
        auth: Option<&str>,
        pool: &str,
        job_variables: Value,
    ) -> String {
        let printed = self.python(RUN_FLOW, &[pool, &job_variables.to_string()], api, auth);
        let (id, state) = printed.split_once(' ').unwrap_or((&printed, ""));
        if !state.starts_with("COMPLETED") {
            self.fail(&format!("flow run {id} ended {state}, not COMPLETED"));
        }
        let jobs = self.kubectl(&[
            "get",
            "jobs",
            "-n",
            NAMESPACE,
            "-l",
            &format!("prefect.io/flow-run-id={id}"),
            "-o",
            "name",
        ]);
        assert_eq!(jobs.lines().count(), 1, "no Job for flow run {id}");
        self.jobs_hold_no_secret();
        id.to_owned()
    }

    /// No Job of the namespace holds the value of any of its Secrets (passwords, auth
    /// strings, keys), in any form `kubectl get -o json` shows.
    #[track_caller]
    pub(crate) fn jobs_hold_no_secret(&self) {
        let jobs = self.kubectl(&["get", "jobs", "-n", NAMESPACE, "-o", "json"]);
        let secrets: Value =
            serde_json::from_str(&self.kubectl(&["get", "secrets", "-n", NAMESPACE, "-o", "json"]))
                .unwrap();
        for secret in secrets["items"].as_array().unwrap() {
            // Tokens are the pods' own; release records are compressed.
            if secret["type"] == "kubernetes.io/service-account-token"
                || secret["type"] == "prefectctl.io/release.v1"
            {
                continue;
            }
            for (key, value) in secret["data"].as_object().into_iter().flatten() {
                let value =
                    String::from_utf8_lossy(&base64_decode(value.as_str().unwrap())).into_owned();
                let name = &secret["metadata"]["name"];
                if value.len() >= 8 && jobs.contains(&value) {
                    self.fail(&format!("a Job holds the value of Secret {name} key {key}"));
                }
            }
        }
    }

    /// Every Job of the namespace as JSON, which must not hold `secret` anywhere; the
    /// `PREFECT_API_AUTH_STRING`/`PREFECT_API_KEY` variables of their containers.
    #[track_caller]
    pub(crate) fn jobs_without(&self, secret: &str) -> Vec<Value> {
        let jobs = self.kubectl(&["get", "jobs", "-n", NAMESPACE, "-o", "json"]);
        assert!(!jobs.contains(secret), "a Job carries the credential in plain text:\n{jobs}");
        let jobs: Value = serde_json::from_str(&jobs).unwrap();
        jobs["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|job| {
                job["spec"]["template"]["spec"]["containers"][0]["env"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|var| {
                matches!(var["name"].as_str(), Some("PREFECT_API_AUTH_STRING" | "PREFECT_API_KEY"))
            })
            .collect()
    }

    /// Deletes the pods of `app` (`app.kubernetes.io/name`) and waits until a new one (a new
    /// uid: a StatefulSet's keeps its name) is Ready.
    #[track_caller]
    pub(crate) fn restart(&self, app: &str) {
        let selector = format!("app.kubernetes.io/name={app}");
        let pods = |fields: &str| {
            self.kubectl(&[
                "get",
                "pods",
                "-n",
                NAMESPACE,
                "-l",
                &selector,
                "-o",
                &format!("jsonpath={{range .items[*]}}{fields}{{\"\\n\"}}{{end}}"),
            ])
        };
        let before = pods("{.metadata.uid}");
        self.kubectl(&["delete", "pods", "-n", NAMESPACE, "-l", &selector, "--wait=true"]);
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let ready = pods(r#"{.metadata.uid} {.status.conditions[?(@.type=="Ready")].status}"#);
            let fresh = ready.lines().any(|line| {
                line.ends_with(" True") && !before.contains(line.split(' ').next().unwrap_or(""))
            });
            if fresh {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!("no new {app} pod became Ready in 300 s"));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The HTTP status of `method path` on the server Service, without credentials.
    pub(crate) fn status_code(&self, api: &str, method: &str, path: &str) -> String {
        let base = api.trim_end_matches("/api");
        let out = self.node.run(
            std::path::Path::new("/usr/bin/curl"),
            &[
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                method,
                &format!("{base}{path}"),
            ],
            &[],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Waits for work pool `argv[1]`, then makes a deployment of the image's `e2e` flow on it with
/// job variables `argv[2]` (JSON), runs it and waits for the run to end; prints
/// `<id> <STATE> <message>`.
const RUN_FLOW: &str = r#"
import asyncio, json, sys, time
from prefect.client.orchestration import get_client

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
            name="e2e",
            work_pool_name=pool,
            entrypoint="e2e.py:e2e",
            pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": "/opt/prefect/flows"}}],
            job_variables=variables,
        )
        run = await client.create_flow_run_from_deployment(deployment_id, parameters={"greeting": "hello"})
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            run = await client.read_flow_run(run.id)
            if run.state is not None and run.state.is_final():
                break
            await asyncio.sleep(2)
        state = run.state.type.value if run.state else "NONE"
        print(run.id, state, (run.state.message or "") if run.state else "")

asyncio.run(main())
"#;

/// Creates flow `argv[1]`, or with `--check`, fails unless it exists.
pub(crate) const FLOW_EXISTS: &str = r#"
import asyncio, sys
from prefect.client.orchestration import get_client

async def main():
    async with get_client() as client:
        if sys.argv[-1] == "--check":
            flow = await client.read_flow_by_name(sys.argv[1])
            print(flow.name)
        else:
            print(await client.create_flow_from_name(sys.argv[1]))

asyncio.run(main())
"#;

/// Prints the base job template of work pool `argv[1]` as JSON.
const POOL_TEMPLATE: &str = r#"
import asyncio, json, sys
from prefect.client.orchestration import get_client

async def main():
    async with get_client() as client:
        pool = await client.read_work_pool(sys.argv[1])
        print(json.dumps(pool.base_job_template))

asyncio.run(main())
"#;

/// The flow-run Jobs of this namespace use the image with the tests' flows.
pub(crate) fn flow_job_variables() -> Value {
    json!({ "namespace": NAMESPACE, "image": FLOW_IMAGE })
}

#[test]
fn the_default_stack_runs_and_keeps_its_data_on_its_claim() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    stack.apply(&[]);
    let api = stack.api_url("prefect-server");
    stack.python(FLOW_EXISTS, &["kept-on-sqlite"], &api, None);
    assert_eq!(stack.status_code(&api, "GET", "/"), "200", "the UI answers");
    stack.restart("prefect-server");
    assert_eq!(
        stack.python(FLOW_EXISTS, &["kept-on-sqlite", "--check"], &api, None),
        "kept-on-sqlite"
    );
}

#[test]
fn the_postgres_stack_keeps_its_data_and_its_password_through_restarts_and_upgrades() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    stack.apply(&["--plugin", "postgres"]);
    let api = stack.api_url("prefect-server");
    stack.python(FLOW_EXISTS, &["kept-in-postgres"], &api, None);
    let password = || {
        stack.kubectl(&[
            "get",
            "secret",
            "prefect-postgresql",
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.data.password}",
        ])
    };
    let generated = password();
    assert!(!generated.is_empty(), "the postgres plugin generated no password");

    stack.restart("prefect-postgresql");
    stack.restart("prefect-server");
    assert_eq!(
        stack.python(FLOW_EXISTS, &["kept-in-postgres", "--check"], &api, None),
        "kept-in-postgres"
    );

    // An upgrade that rolls the server: same password, and the new server pod connects.
    stack.apply(&["--set", "server.podAnnotations.rolled=yes"]);
    assert_eq!(password(), generated, "the upgrade changed the generated password");
    let annotations = stack.kubectl(&[
        "get",
        "pods",
        "-n",
        NAMESPACE,
        "-l",
        "app.kubernetes.io/name=prefect-server",
        "-o",
        "jsonpath={.items[*].metadata.annotations.rolled}",
    ]);
    assert_eq!(annotations, "yes", "the server was not rolled: {annotations}");
    assert_eq!(
        stack.python(FLOW_EXISTS, &["kept-in-postgres", "--check"], &api, None),
        "kept-in-postgres"
    );
}

#[test]
fn a_worker_runs_flows_as_jobs_and_follows_its_base_job_template() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    let first = stack.template_values(json!({ "namespace": NAMESPACE }));
    stack.apply(&["--plugin", "agent", "-f", &first]);
    let api = stack.api_url("prefect-server");
    stack.run_flow(&api, None, "kubernetes", flow_job_variables());

    // A changed template reaches the pool the worker created with the first one; flow runs
    // then take its defaults.
    let second = stack.template_values(json!({ "namespace": NAMESPACE, "image": FLOW_IMAGE }));
    stack.apply(&["-f", &second]);
    let pool: Value =
        serde_json::from_str(&stack.python(POOL_TEMPLATE, &["kubernetes"], &api, None)).unwrap();
    assert_eq!(pool["variables"]["properties"]["image"]["default"], FLOW_IMAGE, "{pool:#}");
    stack.run_flow(&api, None, "kubernetes", json!({}));
}

#[test]
fn a_worker_with_basic_auth_keeps_the_credential_in_its_secret() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    stack.apply(&[
        "--plugin",
        "agent",
        "--set",
        "server.basicAuth.enabled=true",
        "--set-string",
        &format!("server.basicAuth.authString={AUTH}"),
    ]);
    let api = stack.api_url("prefect-server");
    stack.run_flow(&api, Some(AUTH), "kubernetes", flow_job_variables());
    for var in stack.jobs_without(AUTH) {
        assert_eq!(
            var["valueFrom"]["secretKeyRef"],
            json!({ "name": "prefect-server-basic-auth", "key": "auth-string" }),
            "{var}"
        );
    }
    let leaked = stack.node.logs_containing(AUTH);
    assert!(leaked.is_empty(), "the credential is in what pods printed or ran: {leaked:?}");
    // What basic auth protects: the API, but not its health checks, nor the UI's pages.
    assert_eq!(stack.status_code(&api, "POST", "/api/flows/filter"), "401");
    assert_eq!(stack.status_code(&api, "GET", "/api/health"), "200");
    assert_eq!(stack.status_code(&api, "GET", "/"), "200");
}

#[test]
fn a_worker_only_release_runs_flows_for_the_stacks_server() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    stack.apply(&[
        "--set",
        "server.basicAuth.enabled=true",
        "--set-string",
        &format!("server.basicAuth.authString={AUTH}"),
    ]);
    let url = format!("http://prefect-server.{NAMESPACE}.svc:4200/api");
    stack.apply(&[
        "--release",
        "team",
        "--without",
        "server",
        "--plugin",
        "agent",
        "--set",
        &format!("agent.serverApiConfig.apiUrl={url}"),
        "--set",
        "agent.serverApiConfig.basicAuth.enabled=true",
        "--set",
        "agent.serverApiConfig.basicAuth.existingSecret=prefect-server-basic-auth",
        "--set",
        "agent.config.workPool=team",
    ]);
    let api = stack.api_url("prefect-server");
    stack.run_flow(&api, Some(AUTH), "team", flow_job_variables());
    assert!(!stack.jobs_without(AUTH).is_empty(), "the Job has no credential at all");
}

#[test]
fn the_full_stack_runs_on_openshift_with_the_namespace_uid() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    // What OpenShift gives a project: its uid range, which restricted-v2 assigns from.
    stack.kubectl(&["create", "namespace", NAMESPACE]);
    stack.kubectl(&[
        "annotate",
        "namespace",
        NAMESPACE,
        "openshift.io/sa.scc.uid-range=1000680000/10000",
        "openshift.io/sa.scc.supplemental-groups=1000680000/10000",
    ]);
    // With the NetworkPolicies too: the stand-in does not enforce them, but the labels and
    // objects they add must not keep the stack from running a flow.
    stack.apply(&[
        "--plugin",
        "agent",
        "--plugin",
        "postgres",
        "--plugin",
        "openshift-security",
        "--plugin",
        "network-policy",
    ]);
    let policies = stack.kubectl(&["get", "networkpolicies", "-n", NAMESPACE, "-o", "name"]);
    assert_eq!(
        policies.trim(),
        "networkpolicy.networking.k8s.io/prefect-default-deny-ingress\n\
         networkpolicy.networking.k8s.io/prefect-postgresql\n\
         networkpolicy.networking.k8s.io/prefect-server"
    );
    // PostgreSQL ran as the project's uid: its files on the claim are that user's.
    let volume = stack.kubectl(&[
        "get",
        "pvc",
        "data-prefect-postgresql-0",
        "-n",
        NAMESPACE,
        "-o",
        "jsonpath={.spec.volumeName}",
    ]);
    let folder = stack.kubectl(&["get", "pv", &volume, "-o", "jsonpath={.spec.hostPath.path}"]);
    let version = std::path::Path::new(&folder).join("pgdata/PG_VERSION");
    let owner = std::os::unix::fs::MetadataExt::uid(
        &std::fs::metadata(&version).unwrap_or_else(|err| panic!("{}: {err}", version.display())),
    );
    assert_eq!(owner, 1000680000, "PostgreSQL's files belong to uid {owner}");
    let api = stack.api_url("prefect-server");
    stack.run_flow(&api, None, "kubernetes", flow_job_variables());
}

#[test]
fn a_worker_with_dask_rbac_runs_flows() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    stack.apply(&["--plugin", "agent", "--plugin", "dask-rbac"]);
    let api = stack.api_url("prefect-server");
    stack.run_flow(&api, None, "kubernetes", flow_job_variables());
}

#[test]
fn a_prefect_2_agent_is_refused_before_anything_is_written() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    let run = stack.ctl(&[
        "apply",
        "--create-namespace",
        "--plugin",
        "agent",
        "--set",
        "agent.mode=agent",
        "--set",
        "agent.image.prefectTag=2.20.27-python3.11-kubernetes",
        "--set",
        "agent.livenessProbe.enabled=false",
    ]);
    let stderr = run.fails_with_any();
    assert!(stderr.contains("agent.mode"), "{stderr}");
    let written =
        stack.cluster.kubectl(&["get", "deployments,pods", "-n", NAMESPACE, "-o", "name"], None);
    assert_eq!(written.stdout, "", "objects were written: {}", written.stdout);
}

/// Runs a flow on this machine against the API at `PREFECT_API_URL`; prints its final state.
const LOCAL_FLOW: &str = r#"
from prefect import flow

@flow(name="through-redis")
def through_redis():
    return 1

state = through_redis(return_state=True)
print(state.type.value)
"#;

#[test]
fn the_redis_stack_carries_prefects_messaging_with_the_password_only_in_its_secret() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    stack.apply(&["--plugin", "postgres", "--plugin", "redis"]);
    let ready = stack.kubectl(&[
        "get",
        "pods",
        "-n",
        NAMESPACE,
        "-l",
        "app.kubernetes.io/name=prefect-server",
        "-o",
        r#"jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}"#,
    ]);
    assert_eq!(ready, "True", "the server pod is not Ready");
    let password = String::from_utf8(base64_decode(&stack.kubectl(&[
        "get",
        "secret",
        "prefect-redis",
        "-n",
        NAMESPACE,
        "-o",
        "jsonpath={.data.redis-password}",
    ])))
    .unwrap();
    assert_eq!(password.len(), 32, "the redis plugin generated no password");

    // A flow run's states are events, which the server publishes through Redis.
    let api = stack.api_url("prefect-server");
    assert_eq!(stack.python(LOCAL_FLOW, &[], &api, None), "COMPLETED");

    // Redis, asked from the pod network with the password from the Secret: Prefect's streams
    // in database 0, Docket's keys in database 1; and nothing without the password.
    let redis = stack.kubectl(&[
        "get",
        "service",
        "prefect-redis",
        "-n",
        NAMESPACE,
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    let cli = |auth: &str, args: &[&str]| {
        let mut all = vec!["-h", redis.as_str(), "-p", "6379"];
        all.extend_from_slice(args);
        let out = stack.node.run(
            std::path::Path::new("/usr/bin/redis-cli"),
            &all,
            &[("REDISCLI_AUTH", auth)],
        );
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let (messaging, docket) = loop {
        let messaging = cli(&password, &["-n", "0", "--scan"]);
        let docket = cli(&password, &["-n", "1", "--scan"]);
        if messaging.lines().any(|key| key == "events") && !docket.trim().is_empty() {
            break (messaging, docket);
        }
        if Instant::now() > deadline {
            stack.fail(&format!(
                "no events stream in Redis database 0, or no Docket keys in database 1:\n\
                 0: {messaging}\n1: {docket}"
            ));
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    assert_eq!(cli(&password, &["type", "events"]).trim(), "stream", "{messaging}");
    assert!(docket.contains("prefect-server"), "Docket's keys are named after it: {docket}");
    assert!(cli("", &["ping"]).contains("NOAUTH"), "Redis answers without the password");

    // The password is in its Secret only: in no other object, command, or log.
    let objects = stack.kubectl(&[
        "get",
        "statefulsets,deployments,jobs,pods,services,configmaps",
        "-n",
        NAMESPACE,
        "-o",
        "json",
    ]);
    assert!(!objects.contains(&password), "an object holds the Redis password");
    let leaked = stack.node.logs_containing(&password);
    assert!(leaked.is_empty(), "the password is in what pods printed or ran: {leaked:?}");
}
