//! The release lock and interruptions on a real API server (issue 12, items 13 and 14): a user
//! bound to the namespace's `edit` ClusterRole runs the whole lifecycle (the lock is a Secret,
//! which `edit` gives, where a Lease is not); every process is its own holder (two whose PID is
//! 1 on hosts of the same name are two); a holder still running on this machine is never taken
//! over and one gone is taken over at once; another machine's expires; SIGINT and SIGTERM
//! during `apply --wait` give the lock back, record the revision as interrupted and exit 130 and
//! 143.

use std::{
    io::Read,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{
    cluster::Cluster,
    harness::{Run, TempDir, built_binary, prefectctl},
};

const NAMESPACE: &str = "prefect";
const LOCK: &str = "prefectctl.lock.prefect";

/// `prefectctl --kubeconfig KUBECONFIG -n prefect ARGS`.
fn ctl(kubeconfig: &str, args: &[&str]) -> Run {
    let mut all = vec!["--kubeconfig", kubeconfig, "-n", NAMESPACE];
    all.extend_from_slice(args);
    prefectctl(&all)
}

/// The release's revisions as `history -o json` gives them: (status, description).
fn history(kubeconfig: &str) -> Vec<(String, String)> {
    let revisions: Value = serde_json::from_str(&ctl(kubeconfig, &["history", "-o", "json"]).ok())
        .expect("history prints JSON");
    revisions
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_owned(),
                r["description"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Waits until the release's latest revision is pending (an apply is under way).
fn until_pending(kubeconfig: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = ctl(kubeconfig, &["history", "-o", "json"]);
        if run.code == 0 && run.stdout.contains("\"pending\"") {
            return;
        }
        assert!(Instant::now() < deadline, "no apply got to its pending record");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `prefectctl ... apply --wait` in the background, optionally behind `wrapper` (a command that
/// runs the rest); it applies, then waits for pods that never run (no kubelet).
fn background_apply(kubeconfig: &str, wrapper: &[&str], extra: &[&str]) -> Child {
    let binary = built_binary().display().to_string();
    let mut line: Vec<&str> = wrapper.to_vec();
    line.extend([binary.as_str(), "--kubeconfig", kubeconfig, "-n", NAMESPACE]);
    line.extend(["apply", "--wait", "--timeout", "5m"]);
    line.extend_from_slice(extra);
    Command::new(line[0])
        .args(&line[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prefectctl starts")
}

/// Whether the release's lock Secret exists.
fn lock_exists(cluster: &Cluster) -> bool {
    let run = cluster.kubectl(&["get", "secret", LOCK, "-n", NAMESPACE, "-o", "name"], None);
    run.code == 0
}

/// Binds ServiceAccount `deployer` to the `edit` ClusterRole in the namespace. The controller
/// manager fills `edit` from the `aggregate-to-edit` roles the API server bootstraps; if it has
/// not, this does what its aggregation controller would (the rules of `edit` are by definition
/// those roles' rules), so that the test is about Kubernetes' own `edit`, not a hand-made copy.
fn edit_user(cluster: &Cluster, dir: &TempDir) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let rules = |name: &str| -> Vec<Value> {
        let role: Value = serde_json::from_str(
            &cluster.kubectl(&["get", "clusterrole", name, "-o", "json"], None).ok(),
        )
        .expect("kubectl prints JSON");
        role["rules"].as_array().cloned().unwrap_or_default()
    };
    while rules("edit").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    if rules("edit").is_empty() {
        let selector = "rbac.authorization.k8s.io/aggregate-to-edit=true";
        let parts: Value = serde_json::from_str(
            &cluster.kubectl(&["get", "clusterroles", "-l", selector, "-o", "json"], None).ok(),
        )
        .expect("kubectl prints JSON");
        let all: Vec<Value> = parts["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|role| role["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        let patch = json!({ "rules": all }).to_string();
        cluster.kubectl(&["patch", "clusterrole", "edit", "--type=merge", "-p", &patch], None).ok();
    }
    let binding = r#"
apiVersion: v1
kind: ServiceAccount
metadata: { name: deployer, namespace: prefect }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: deployer-edit, namespace: prefect }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit }
subjects: [{ kind: ServiceAccount, name: deployer, namespace: prefect }]
"#;
    cluster.kubectl(&["apply", "-f", "-"], Some(binding)).ok();
    cluster.account_kubeconfig(NAMESPACE, "deployer", dir).display().to_string()
}

/// `kubectl auth can-i VERB RESOURCE` as the deployer.
fn deployer_may(cluster: &Cluster, verb: &str, resource: &str) -> bool {
    let run = cluster.kubectl(
        &[
            "auth",
            "can-i",
            verb,
            resource,
            "-n",
            NAMESPACE,
            "--as",
            "system:serviceaccount:prefect:deployer",
        ],
        None,
    );
    run.stdout.trim() == "yes"
}

/// This test process as a lock holder on this machine describes its process:
/// `boot-id pid-namespace pid start-time`, with `started_offset` added to the start time.
fn this_process(started_offset: u64) -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let namespace = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let started: u64 =
        stat[stat.rfind(')').unwrap() + 1..].split_whitespace().nth(19).unwrap().parse().unwrap();
    format!(
        "{} {} {} {}",
        boot.trim(),
        namespace.display(),
        std::process::id(),
        started + started_offset
    )
}

/// A lock Secret as a prefectctl of this machine writes it, for `process`, renewed `renewed`.
fn planted_lock(cluster: &Cluster, holder: &str, process: &str, renewed: &str) {
    let lock = json!({ "apiVersion": "v1", "kind": "Secret", "type": "prefectctl.io/lock.v1",
        "metadata": { "name": LOCK, "namespace": NAMESPACE, "annotations": {
            "prefectctl.io/holder": holder, "prefectctl.io/holder-id": format!("{holder}/planted"),
            "prefectctl.io/process": process, "prefectctl.io/acquired": renewed,
            "prefectctl.io/renewed": renewed, "prefectctl.io/duration-seconds": "20" } } });
    cluster.kubectl(&["apply", "-f", "-"], Some(&lock.to_string())).ok();
}

fn now_minus(seconds: u64) -> String {
    let time = std::time::SystemTime::now() - Duration::from_secs(seconds);
    let out = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", time.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()),
        ])
        .arg("+%Y-%m-%dT%H:%M:%SZ")
        .output()
        .expect("date runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn an_edit_user_runs_the_whole_lifecycle_and_every_process_is_its_own_lock_holder() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", NAMESPACE], None).ok();
    let dir = TempDir::new("edit");
    let edit = edit_user(&cluster, &dir);
    assert!(deployer_may(&cluster, "create", "secrets"), "edit gives Secrets");
    assert!(!deployer_may(&cluster, "create", "leases.coordination.k8s.io"), "edit gives no Lease");

    // The whole lifecycle as that user, the lock given back after each command.
    let out = ctl(&edit, &["apply"]).ok();
    assert!(out.contains("revision 1 deployed"), "{out}");
    assert!(!lock_exists(&cluster), "the lock was given back");
    let out = ctl(&edit, &["apply", "--set", "server.revisionHistoryLimit=5"]).ok();
    assert!(out.contains("revision 2 deployed"), "{out}");
    let out = ctl(&edit, &["status"]).ok();
    assert!(out.contains("revision:  2 (deployed"), "{out}");
    let out = ctl(&edit, &["get", "values"]).ok();
    assert!(out.contains("revisionHistoryLimit: 5"), "{out}");
    let out = ctl(&edit, &["rollback"]).ok();
    assert!(out.contains("rolled back to revision 1 as revision 3"), "{out}");
    let statuses: Vec<String> = history(&edit).into_iter().map(|(status, _)| status).collect();
    assert_eq!(statuses, ["superseded", "superseded", "deployed"]);
    assert!(!lock_exists(&cluster), "the lock was given back");

    // Two prefectctl whose PID is 1 (each in its own PID namespace, as in two containers) on a
    // host of the same name: the second is refused, and since neither can see the other's
    // process, the first's lock expires on its own once it is killed, as another machine's.
    let pid_1 = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child"];
    let mut first = background_apply(&edit, &pid_1, &["--set", "server.revisionHistoryLimit=4"]);
    until_pending(&edit);
    let second = Command::new("unshare")
        .args(&pid_1[1..])
        .arg(built_binary())
        .args(["--kubeconfig", &edit, "-n", NAMESPACE, "apply"])
        .output()
        .expect("unshare runs");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is being changed by another prefectctl"), "{stderr}");
    assert!(stderr.contains("/1, since "), "the holder is PID 1: {stderr}");
    first.kill().expect("kill the first apply");
    first.wait().expect("reap it");
    let killed = Instant::now();
    let stderr = ctl(&edit, &["apply"]).fails(1);
    assert!(stderr.contains("if that command was killed, its lock expires within"), "{stderr}");
    let out = loop {
        let run = ctl(&edit, &["apply", "--set", "server.revisionHistoryLimit=6"]);
        if run.code == 0 {
            break run.stdout;
        }
        assert!(run.stderr.contains("its lock expires within"), "{}", run.stderr);
        assert!(killed.elapsed() < Duration::from_secs(40), "the lock never expired");
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(out.contains("revision 5 deployed"), "the killed apply was completed: {out}");
    assert!(killed.elapsed() <= Duration::from_secs(25), "{:?}", killed.elapsed());

    // A holder on this machine whose process runs (this test's) is never taken over, even ten
    // minutes after its last renewal; one whose PID now belongs to another process is taken
    // over at once, however fresh its lock.
    planted_lock(&cluster, "builder/4242", &this_process(0), &now_minus(600));
    let stderr = ctl(&edit, &["apply"]).fails(1);
    assert!(stderr.contains("(builder/4242, since "), "{stderr}");
    assert!(stderr.contains("a process that still runs on this machine"), "{stderr}");
    planted_lock(&cluster, "builder/4242", &this_process(1), &now_minus(0));
    let out = ctl(&edit, &["apply", "--set", "server.revisionHistoryLimit=7"]).ok();
    assert!(out.contains("revision 6 deployed"), "{out}");

    let out = ctl(&edit, &["uninstall"]).ok();
    assert!(out.contains("uninstalled"), "{out}");
    assert!(!lock_exists(&cluster), "the lock was given back");
    let leases = cluster.kubectl(&["get", "leases", "-n", NAMESPACE, "-o", "name"], None).ok();
    assert_eq!(leases, "", "no Lease was made");
}

/// Sends `signal` to a background `apply --wait` once its revision is pending; returns its
/// exit code, standard error and how long it took to exit.
#[test]
fn an_apply_overtaken_before_it_takes_the_lock_plans_again_and_keeps_the_other_change() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", NAMESPACE], None).ok();
    let kubeconfig = cluster.kubeconfig().display().to_string();
    assert!(ctl(&kubeconfig, &["apply"]).ok().contains("revision 1 deployed"));
    // A plugin that, the first time it runs, has another apply change the release: that write
    // lands after the first apply read the records (it plans unlocked) and before its lock.
    let dir = TempDir::new("overtaken");
    let marker = dir.path().join("overtaken");
    let script = format!(
        "#!/bin/sh\n\
         if [ \"$1\" = manifest ]; then\n\
           echo '{{\"name\":\"overtaker\",\"version\":\"1\",\"protocolVersion\":1,\"reads\":[]}}'\n\
           exit 0\n\
         fi\n\
         cat >/dev/null\n\
         if [ ! -e '{marker}' ]; then\n\
           touch '{marker}'\n\
           '{bin}' --kubeconfig '{kubeconfig}' -n {NAMESPACE} apply \
             --set server.revisionHistoryLimit=7 >&2 || exit 9\n\
         fi\n\
         echo '{{\"apiVersion\":\"prefectctl.io/v1\",\"kind\":\"ResourceList\",\"items\":[]}}'\n",
        marker = marker.display(),
        bin = built_binary().display(),
    );
    let plugin = dir.write_executable("prefectctl-plugin-overtaker", &script);

    let run = ctl(&kubeconfig, &["--debug", "apply", "--plugin", plugin.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(marker.exists(), "the other apply ran");
    assert!(
        run.stderr.contains("another command wrote the release since its records were read"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("revision 3 deployed"), "{}", run.stdout);
    let statuses: Vec<String> =
        history(&kubeconfig).into_iter().map(|(status, _)| status).collect();
    assert_eq!(statuses, ["superseded", "superseded", "deployed"]);
    // Planned from revision 2, not from the revision 1 it first read: the other apply's value
    // is not lost.
    let values = ctl(&kubeconfig, &["get", "values"]).ok();
    assert!(values.contains("revisionHistoryLimit: 7"), "{values}");
    assert!(!lock_exists(&cluster), "the lock was given back");
}

fn interrupt(kubeconfig: &str, signal: &str) -> (Option<i32>, String, Duration) {
    let mut apply = background_apply(
        kubeconfig,
        &[],
        &["--set", &format!("server.podAnnotations.signal={signal}")],
    );
    until_pending(kubeconfig);
    // The waves are applied and it waits for pods that never run.
    std::thread::sleep(Duration::from_secs(1));
    let sent = Instant::now();
    let kill = Command::new("kill").args([&format!("-{signal}"), &apply.id().to_string()]).status();
    assert!(kill.expect("kill runs").success());
    let deadline = sent + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = apply.try_wait().expect("poll the apply") {
            break status;
        }
        assert!(Instant::now() < deadline, "apply did not end after {signal}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = sent.elapsed();
    let mut stderr = String::new();
    apply.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (status.code(), stderr, took)
}

#[test]
fn sigint_and_sigterm_during_apply_record_the_revision_as_interrupted_and_give_the_lock_back() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", NAMESPACE], None).ok();
    let admin = cluster.kubeconfig().display().to_string();
    ctl(&admin, &["apply"]).ok();

    for (signal, code, revision) in [("INT", 130, 2), ("TERM", 143, 4)] {
        let (exit, stderr, took) = interrupt(&admin, signal);
        assert_eq!(exit, Some(code), "SIG{signal}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "error: interrupted by SIG{signal}; revision {revision} is recorded as \
                 interrupted; the release's lock is given back\n"
            )),
            "{stderr}"
        );
        assert!(
            stderr.contains("error: release prefect in namespace prefect: the next apply (or rollback) completes what this one left\n"),
            "{stderr}"
        );
        assert!(took < Duration::from_secs(5), "SIG{signal} took {took:?}");
        eprintln!("SIG{signal}: exit {code} {took:?} after the signal");
        assert!(!lock_exists(&cluster), "the lock was given back");
        let last = history(&admin).pop().unwrap();
        assert_eq!(last, ("interrupted".to_owned(), format!("Upgrade interrupted by SIG{signal}")));

        // The lock is free at once, and the next apply completes the release.
        let started = Instant::now();
        let limit = format!("server.revisionHistoryLimit={revision}");
        let out = ctl(&admin, &["apply", "--set", &limit]).ok();
        assert!(out.contains(&format!("revision {} deployed", revision + 1)), "{out}");
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    }
    let statuses: Vec<String> = history(&admin).into_iter().map(|(status, _)| status).collect();
    assert_eq!(statuses, ["superseded", "interrupted", "superseded", "interrupted", "deployed"]);
}
