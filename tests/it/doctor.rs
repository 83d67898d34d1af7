//! `status` and `doctor` on running stacks: what Prefect says about a healthy one (its server,
//! its pool's worker heartbeat), each check of `doctor` made to fail on purpose with the
//! failure and the fix it reports, and no secret in any of it. The running stacks are of the
//! tier `PREFECTCTL_SKIP_PODS` skips; the unbound claims need no pod to run.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    cluster::Cluster,
    harness::{Run, TempDir, prefectctl_in},
    node,
    running::{AUTH, FLOW_IMAGE, NAMESPACE, Stack, flow_job_variables},
};

/// The rights `docs/operations.md` documents for `status` and `doctor`: the namespace's `view`
/// ClusterRole, and this Role.
const READER_ROLE: &str = "
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: prefectctl-reader }
rules:
- apiGroups: ['']
  resources: [secrets]
  verbs: [get, list]
- apiGroups: ['']
  resources: [services/proxy]
  verbs: [get, create]
- apiGroups: ['']
  resources: [pods/portforward]
  verbs: [get, create]
";

/// `doctor`'s line for `check` with its continuation and fix, white space squeezed (the
/// report wraps long lines).
fn line(report: &str, mark: &str, check: &str) -> String {
    let prefix = format!("{mark}  {check}");
    let start = report
        .find(&prefix)
        .unwrap_or_else(|| panic!("no `{prefix}` line in doctor's report:\n{report}"));
    let rest = &report[start..];
    let mut end = rest.find('\n').unwrap_or(rest.len());
    while rest[end..].starts_with("\n      ") {
        end += 1 + rest[end + 1..].find('\n').unwrap_or(rest.len() - end - 1);
    }
    rest[..end].split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The report of a `doctor` that found a failure (exit code 1).
#[track_caller]
fn failing(run: Run) -> String {
    assert_eq!(run.code, 1, "doctor should fail; stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    run.stdout
}

/// Neither output of `run` holds `secret`.
#[track_caller]
fn without(run: &Run, secret: &str) {
    assert!(
        !run.stdout.contains(secret) && !run.stderr.contains(secret),
        "a credential is in the output:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}

impl Stack {
    /// `kubectl set env` on the worker's Deployment: a change by another field manager, as a
    /// user would make it by hand.
    #[track_caller]
    fn set_worker_env(&self, var: &str) {
        self.kubectl(&["set", "env", "-n", NAMESPACE, "deployment/prefect-worker", var]);
    }

    /// Waits until a pod of `app` reports `reason` as a container's waiting reason.
    #[track_caller]
    fn wait_for_reason(&self, app: &str, reason: &str) {
        let deadline = Instant::now() + Duration::from_secs(240);
        while !self
            .kubectl(&[
                "get",
                "pods",
                "-n",
                NAMESPACE,
                "-l",
                &format!("app.kubernetes.io/name={app}"),
                "-o",
                "json",
            ])
            .contains(reason)
        {
            if Instant::now() > deadline {
                self.fail(&format!("no pod of {app} became {reason} in 240 s"));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

#[test]
fn a_healthy_stack_reports_its_worker_heartbeat_and_each_broken_part_is_named_with_its_fix() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    let template = stack.template_values(json!({ "namespace": NAMESPACE, "image": FLOW_IMAGE }));
    stack.apply(&[
        "--plugin",
        "agent",
        "-f",
        &template,
        "--set",
        "server.basicAuth.enabled=true",
        "--set-string",
        &format!("server.basicAuth.authString={AUTH}"),
    ]);
    let api = stack.api_url("prefect-server");
    stack.run_flow(&api, Some(AUTH), "kubernetes", flow_job_variables());

    // A user with the documented rights only.
    let role = stack.cluster.kubectl(&["apply", "-n", NAMESPACE, "-f", "-"], Some(READER_ROLE));
    assert_eq!(role.code, 0, "{}", role.stderr);
    stack.kubectl(&["create", "serviceaccount", "reader", "-n", NAMESPACE]);
    let account = format!("{NAMESPACE}:reader");
    stack.kubectl(&[
        "create",
        "rolebinding",
        "reader-view",
        "-n",
        NAMESPACE,
        "--clusterrole=view",
        "--serviceaccount",
        &account,
    ]);
    stack.kubectl(&[
        "create",
        "rolebinding",
        "reader",
        "-n",
        NAMESPACE,
        "--role=prefectctl-reader",
        "--serviceaccount",
        &account,
    ]);
    let dir = TempDir::new("reader");
    let reader = stack.cluster.account_kubeconfig(NAMESPACE, "reader", &dir);
    let reader = reader.display().to_string();
    let as_reader = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", reader.as_str(), "-n", NAMESPACE];
        all.extend_from_slice(args);
        prefectctl_in(stack.dir.path(), &all)
    };

    let status = as_reader(&["status"]);
    without(&status, AUTH);
    let text = status.ok();
    assert!(text.contains("server: Service prefect/prefect-server port 4200: healthy, Prefect 3.9.1, database sqlite"), "{text}");
    assert!(text.contains("flow runs in the last hour: 0 late, 0 crashed"), "{text}");
    assert!(
        text.contains("work pool kubernetes (kubernetes, READY), polled by prefect-worker"),
        "{text}"
    );
    assert!(text.contains(": ONLINE, last heartbeat "), "{text}");
    let json: Value = serde_json::from_str(&as_reader(&["status", "-o", "json"]).ok()).unwrap();
    let server = &json["prefect"]["servers"][0];
    assert_eq!(
        (server["healthy"].clone(), server["version"].clone()),
        (json!(true), json!("3.9.1")),
        "{json:#}"
    );
    // Basic auth does not pass the API server's proxy: a port-forward carries it.
    assert!(server["route"].as_str().unwrap().contains("port-forward"), "{json:#}");
    let worker = &server["pools"][0]["workers"][0];
    assert!(worker["secondsAgo"].as_i64().is_some_and(|s| (0..120).contains(&s)), "{json:#}");

    let doctor = as_reader(&["doctor"]);
    without(&doctor, AUTH);
    let report = doctor.ok();
    assert!(
        report.ends_with(&format!(
            "every check passed for release prefect in namespace {NAMESPACE}\n"
        )),
        "{report}"
    );
    assert!(
        line(&report, "ok  ", "pool namespace (prefect-worker)")
            .contains("runs flows in namespace prefect"),
        "{report}"
    );
    assert!(
        line(&report, "ok  ", "flow-run jobs").starts_with("ok flow-run jobs: 1 flow-run Jobs"),
        "{report}"
    );

    // Broken on purpose: the worker's credential, its version, and a flow-run Job with a
    // credential in plain text (as a worker that is not told the Secret makes them).
    let wrong = "admin:not-the-password";
    stack.set_worker_env(&format!("PREFECT_API_AUTH_STRING={wrong}"));
    stack.kubectl(&[
        "set",
        "image",
        "-n",
        NAMESPACE,
        "deployment/prefect-worker",
        "prefect-worker=prefecthq/prefect:3.99.0-python3.12-kubernetes",
    ]);
    let leaky = json!({ "apiVersion": "batch/v1", "kind": "Job",
        "metadata": { "name": "leaky-flow-run", "labels": { "prefect.io/flow-run-id": "0000" } },
        "spec": { "parallelism": 0, "template": { "spec": { "restartPolicy": "Never", "containers": [{
            "name": "prefect-job", "image": FLOW_IMAGE, "env": [{ "name": "PREFECT_API_AUTH_STRING", "value": AUTH }] }] } } } });
    let created =
        stack.cluster.kubectl(&["create", "-n", NAMESPACE, "-f", "-"], Some(&leaky.to_string()));
    assert_eq!(created.code, 0, "{}", created.stderr);

    let doctor = as_reader(&["doctor"]);
    without(&doctor, AUTH);
    without(&doctor, wrong);
    let report = failing(doctor);
    let auth = line(&report, "FAIL", "basic auth (prefect-worker)");
    assert!(auth.contains("the server refuses the worker's credential (a literal value) (the server's: Secret prefect-server-basic-auth key auth-string)"), "{report}");
    assert!(auth.contains("give server and worker the same auth string"), "{report}");
    let versions = line(&report, "FAIL", "versions (prefect-worker)");
    assert!(versions.contains("the worker runs Prefect 3.99.0 (prefecthq/prefect:3.99.0-python3.12-kubernetes), newer than the server's 3.9.1"), "{report}");
    assert!(versions.contains("upgrade the server first"), "{report}");
    let jobs = line(&report, "FAIL", "flow-run jobs");
    assert!(jobs.contains("Job prefect/leaky-flow-run container prefect-job has PREFECT_API_AUTH_STRING as plain text"), "{report}");
    assert!(
        jobs.contains("delete\n      those Jobs") || jobs.contains("delete those Jobs"),
        "{report}"
    );
    assert!(report.contains(" checks failed for release prefect"), "{report}");
    let json: Value = serde_json::from_str(&as_reader(&["doctor", "-o", "json"]).stdout).unwrap();
    assert_eq!(json["healthy"], false, "{json:#}");
}

#[test]
fn doctor_names_a_pool_namespace_no_role_covers_and_a_crash_looping_worker_with_its_log() {
    if !node::tier() {
        return;
    }
    let stack = Stack::start();
    // No base job template: the pool the worker creates runs flows in the release's namespace
    // (Prefect's own default would be `default`, out of the worker's Role).
    stack.apply(&["--plugin", "agent"]);
    // The worker creates its pool once it runs, a few seconds after it is Ready.
    let deadline = Instant::now() + Duration::from_secs(90);
    let report = loop {
        let doctor = stack.ctl(&["doctor"]);
        if !doctor.stdout.contains("does not exist on the server") {
            assert_eq!(doctor.code, 0, "{}{}", doctor.stdout, doctor.stderr);
            break doctor.stdout;
        }
        assert!(Instant::now() < deadline, "the worker made no pool in 90 s:\n{}", doctor.stdout);
        std::thread::sleep(Duration::from_secs(1));
    };
    let pool = line(&report, "ok  ", "pool namespace (prefect-worker)");
    assert!(pool.contains("work pool kubernetes runs flows in namespace prefect"), "{report}");
    assert!(
        line(&report, "ok  ", "worker API (prefect-worker)")
            .contains("reaches the release's server"),
        "{report}"
    );
    assert!(line(&report, "ok  ", "pods").contains("none crash-looping"), "{report}");

    // A template whose namespace the worker's Role does not reach.
    let elsewhere = stack.template_values(json!({ "namespace": "elsewhere" }));
    stack.apply(&["-f", &elsewhere]);
    let report = failing(stack.ctl(&["doctor"]));
    let pool = line(&report, "FAIL", "pool namespace (prefect-worker)");
    assert!(pool.contains("work pool kubernetes runs flows in namespace elsewhere, but ServiceAccount prefect-worker may create Jobs only in prefect: every flow run fails to start"), "{report}");
    assert!(pool.contains("set the pool's namespace to prefect"), "{report}");

    // A worker path where no Prefect API answers: said, with the right path.
    stack.set_worker_env("PREFECT_API_URL=http://prefect-server.prefect.svc:4200/nope");
    let report = failing(stack.ctl(&["doctor"]));
    let api = line(&report, "FAIL", "worker API (prefect-worker)");
    assert!(
        api.contains(
            "PREFECT_API_URL http://prefect-server.prefect.svc:4200/nope: the server answered 404"
        ),
        "{report}"
    );
    assert!(
        api.contains("end in the server's API path, http://prefect-server.prefect.svc:4200/api"),
        "{report}"
    );

    // A mistyped worker type crash-loops: the pods check shows why, from its log.
    stack.ctl(&["apply", "--force-conflicts", "--set", "agent.config.type=kubernetees"]).ok();
    stack.wait_for_reason("prefect-worker", "CrashLoopBackOff");
    let report = failing(stack.ctl(&["doctor"]));
    let pods = line(&report, "FAIL", "pods");
    assert!(pods.contains("container prefect-worker: CrashLoopBackOff"), "{report}");
    assert!(
        pods.contains("its last lines: | Could not find a package for worker type 'kubernetees'."),
        "{report}"
    );
    assert!(report.contains("\n        | Could not find"), "{report}");
}

#[test]
fn doctor_says_why_a_claim_is_not_bound() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    let dir = TempDir::new("doctor");
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let ctl = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", kubeconfig.as_str(), "-n", "claims"];
        all.extend_from_slice(args);
        prefectctl_in(dir.path(), &all)
    };
    // No StorageClass at all in this cluster: the claim waits for a default one.
    ctl(&["apply", "--create-namespace"]).ok();
    let report = failing(ctl(&["doctor"]));
    let claim = line(&report, "FAIL", "claims");
    assert!(
        claim.contains("PersistentVolumeClaim prefect-server is Pending, not bound"),
        "{report}"
    );
    assert!(
        claim.contains("the cluster has no default StorageClass: mark one default"),
        "{report}"
    );
    // No pod runs here, so the server does not answer: said, with where to look.
    assert!(line(&report, "FAIL", "server").contains("does not answer: "), "{report}");

    // A command elsewhere holds the release's lock: said, with when it expires.
    let now = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S.000000Z"])
        .output()
        .expect("date runs");
    let now = String::from_utf8_lossy(&now.stdout).trim().to_owned();
    let lock = json!({ "apiVersion": "v1", "kind": "Secret", "type": "prefectctl.io/lock.v1",
        "metadata": { "name": "prefectctl.lock.prefect", "namespace": "claims", "annotations": {
            "prefectctl.io/holder": "build-agent/4242", "prefectctl.io/holder-id": "build-agent/4242/1",
            "prefectctl.io/duration-seconds": "600",
            "prefectctl.io/acquired": now, "prefectctl.io/renewed": now } } });
    let created = cluster.kubectl(&["create", "-f", "-"], Some(&lock.to_string()));
    assert_eq!(created.code, 0, "{}", created.stderr);
    let report = failing(ctl(&["doctor"]));
    let release = line(&report, "FAIL", "release");
    assert!(
        release.contains("revision 1 is deployed, but build-agent/4242 holds the release's lock"),
        "{report}"
    );
    assert!(release.contains("if its process is gone, the lock expires in"), "{report}");

    // A class that does not exist: the controller's event says so.
    ctl(&[
        "--release",
        "named",
        "apply",
        "--set",
        "server.sqlite.persistence.storageClassName=missing",
    ])
    .ok();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let report = failing(ctl(&["--release", "named", "doctor"]));
        let claim = line(&report, "FAIL", "claims");
        assert!(claim.contains("StorageClass missing must exist"), "{report}");
        if claim.contains(r#"storageclass.storage.k8s.io "missing" not found"#) {
            break;
        }
        assert!(Instant::now() < deadline, "no event about the missing class:\n{report}");
        std::thread::sleep(Duration::from_millis(500));
    }
}
