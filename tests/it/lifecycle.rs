//! The release lifecycle on a real API server: install, upgrades that remember, prune,
//! passwords that survive, rollback, conflicts, locks, interrupted applies, uninstall, and a
//! user without the rights. Each test starts its own cluster.

use std::{
    collections::BTreeMap,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{
    cluster::Cluster,
    harness::{Run, TempDir, built_binary, prefectctl},
};

const NAMESPACE: &str = "prefect";

/// `prefectctl --kubeconfig CLUSTER -n prefect ARGS`.
pub(crate) fn ctl(cluster: &Cluster, args: &[&str]) -> Run {
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let mut all = vec!["--kubeconfig", kubeconfig.as_str(), "-n", NAMESPACE];
    all.extend_from_slice(args);
    prefectctl(&all)
}

/// A cluster with the release namespace.
pub(crate) fn cluster() -> Cluster {
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", NAMESPACE], None).ok();
    cluster
}

/// `kubectl get -o json` of one object.
pub(crate) fn get(cluster: &Cluster, kind: &str, name: &str) -> Option<Value> {
    let run = cluster.kubectl(&["get", kind, name, "-n", NAMESPACE, "-o", "json"], None);
    (run.code == 0).then(|| serde_json::from_str(&run.stdout).expect("kubectl prints JSON"))
}

/// Every object a release may own in the namespace (tokens and records left out): its
/// resourceVersion, and when each field manager last wrote it.
type Snapshot = BTreeMap<String, (String, BTreeMap<String, String>)>;

fn snapshot(cluster: &Cluster) -> Snapshot {
    let kinds = "deployments,statefulsets,services,serviceaccounts,roles,rolebindings,secrets,configmaps,persistentvolumeclaims";
    let out = cluster
        .kubectl(&["get", kinds, "-n", NAMESPACE, "-o", "json", "--show-managed-fields"], None)
        .ok();
    let list: Value = serde_json::from_str(&out).expect("kubectl prints JSON");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            o["type"] != "kubernetes.io/service-account-token"
                && o["type"] != "prefectctl.io/release.v1"
        })
        .filter(|o| o["metadata"]["name"] != "kube-root-ca.crt")
        .map(|o| {
            let key = format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            );
            let writes = o["metadata"]["managedFields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    let who = format!(
                        "{} {}",
                        m["manager"].as_str().unwrap_or(""),
                        m["operation"].as_str().unwrap_or("")
                    );
                    (who, m["time"].as_str().unwrap_or("").to_owned())
                })
                .collect();
            (key, (o["metadata"]["resourceVersion"].as_str().unwrap().to_owned(), writes))
        })
        .collect()
}

/// The objects prefectctl wrote between two snapshots: new ones, and those whose
/// `prefectctl` managed-fields entry has a new time. (Their resourceVersion alone cannot say:
/// controllers update some objects on their own, such as a claim or the default
/// ServiceAccount.) Times have a resolution of a second, so the snapshot must be taken more
/// than a second before the write.
fn written_by_prefectctl(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let ours = |writes: &BTreeMap<String, String>| writes.get("prefectctl Apply").cloned();
    after
        .iter()
        .filter(|(key, (_, writes))| match before.get(*key) {
            Some((_, old)) => ours(old) != ours(writes),
            None => ours(writes).is_some(),
        })
        .map(|(key, _)| key.clone())
        .collect()
}

/// A snapshot taken now that [`written_by_prefectctl`] can compare with a write after it.
fn snapshot_before_write(cluster: &Cluster) -> Snapshot {
    let taken = snapshot(cluster);
    std::thread::sleep(Duration::from_millis(1100));
    taken
}

/// The statuses of the release's revisions, oldest first.
fn statuses(cluster: &Cluster) -> Vec<String> {
    let history = ctl(cluster, &["history"]).ok();
    history.lines().skip(1).map(|line| line.split_whitespace().nth(2).unwrap().to_owned()).collect()
}

fn password(cluster: &Cluster) -> String {
    get(cluster, "secret", "prefect-postgresql").expect("the password Secret")["data"]["password"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn install_upgrades_that_remember_prune_and_a_no_op() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = cluster();
    let out = ctl(&cluster, &["--plugin", "agent", "--set", "server.replicaCount=1", "apply"]).ok();
    assert!(
        out.starts_with(
            "release prefect in namespace prefect: revision 1 deployed: 8 objects applied"
        ),
        "{out}"
    );
    assert!(get(&cluster, "deployment", "prefect-worker").is_some());

    // A no-op re-apply changes no object and records no revision.
    let before = snapshot_before_write(&cluster);
    let out = ctl(&cluster, &["apply"]).ok();
    assert!(out.contains("no changes: revision 1 stays deployed"), "{out}");
    assert_eq!(written_by_prefectctl(&before, &snapshot(&cluster)), Vec::<String>::new());

    // The upgrade keeps the agent and the values it was installed with, and adds dask-rbac and
    // a new value on top.
    ctl(&cluster, &["--plugin", "dask-rbac", "--set", "agent.replicaCount=2", "apply"]).ok();
    let role = get(&cluster, "role", "prefect-worker").unwrap();
    assert!(role["rules"].to_string().contains("\"services\""), "{role}");
    assert_eq!(get(&cluster, "deployment", "prefect-worker").unwrap()["spec"]["replicas"], 2);
    let status = ctl(&cluster, &["status"]).ok();
    assert!(status.contains("plugins:   server 0.1.0, agent 0.1.0, dask-rbac 0.1.0"), "{status}");

    // --reset-values forgets the recorded values (not the plugins): back to the defaults.
    ctl(&cluster, &["apply", "--reset-values"]).ok();
    assert_eq!(get(&cluster, "deployment", "prefect-worker").unwrap()["spec"]["replicas"], 1);

    // Removing the plugins prunes exactly their objects; the server's are untouched.
    let before = snapshot_before_write(&cluster);
    let out = ctl(&cluster, &["--without", "dask-rbac", "--without", "agent", "apply"]).ok();
    assert!(out.contains("4 pruned"), "{out}");
    for gone in ["deployment", "role", "rolebinding", "serviceaccount"] {
        assert!(
            get(&cluster, gone, "prefect-worker").is_none(),
            "{gone} prefect-worker was not pruned"
        );
    }
    let touched = written_by_prefectctl(&before, &snapshot(&cluster));
    assert_eq!(touched, Vec::<String>::new(), "the server's objects were written");
    assert_eq!(statuses(&cluster), ["superseded", "superseded", "superseded", "deployed"]);
    let list = ctl(&cluster, &["list"]).ok();
    assert!(list.contains("prefect   prefect     4          deployed"), "{list}");
    // The same command again works, as a repeated Helm upgrade does: nothing is left to leave
    // out, which a warning says (it is also what a typo looks like).
    let again = ctl(&cluster, &["--without", "dask-rbac", "--without", "agent", "apply"]);
    assert!(again.stderr.contains("--without dask-rbac: release prefect"), "{}", again.stderr);
    assert!(
        again.stderr.contains("has no `agent` (server); nothing to leave out"),
        "{}",
        again.stderr
    );
    assert!(again.ok().contains("no changes"));

    // Ten revisions are kept, as Helm keeps by default.
    for limit in 1..=8 {
        ctl(&cluster, &["apply", "--set", &format!("server.revisionHistoryLimit={limit}")]).ok();
    }
    let history = ctl(&cluster, &["history"]).ok();
    let revisions: Vec<&str> =
        history.lines().skip(1).map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(revisions, ["3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]);
}

#[test]
fn the_generated_password_survives_every_upgrade_and_a_rollback() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = cluster();
    // No node runs pods here, so no migration Job could complete before the server rolls out.
    let no_migrations = "server.migrations.enabled=false";
    ctl(&cluster, &["--plugin", "postgres", "--set", no_migrations, "apply"]).ok();
    let first = password(&cluster);
    assert_eq!(crate::harness::base64_decode(&first).len(), 32);
    for replicas in 2..7 {
        ctl(&cluster, &["apply", "--set", &format!("server.replicaCount={replicas}")]).ok();
        assert_eq!(
            password(&cluster),
            first,
            "upgrade to {replicas} replicas changed the password"
        );
    }
    assert_eq!(get(&cluster, "deployment", "prefect-server").unwrap()["spec"]["replicas"], 6);

    // Rollback applies revision 5's objects again as revision 7: 5 replicas, same password.
    let out = ctl(&cluster, &["rollback", "5"]).ok();
    assert!(out.contains("rolled back to revision 5 as revision 7"), "{out}");
    assert_eq!(get(&cluster, "deployment", "prefect-server").unwrap()["spec"]["replicas"], 5);
    assert_eq!(password(&cluster), first);
    // And the next apply continues from the values rolled back to (nothing to change).
    let out = ctl(&cluster, &["apply"]).ok();
    assert!(out.contains("no changes: revision 7 stays deployed"), "{out}");
    assert_eq!(get(&cluster, "deployment", "prefect-server").unwrap()["spec"]["replicas"], 5);
    let stderr = ctl(&cluster, &["rollback", "42"]).fails(2);
    assert!(
        stderr.contains("has no revision 42: its revisions are 1, 2, 3, 4, 5, 6, 7"),
        "{stderr}"
    );

    // Uninstall keeps the data: the claims and the password that matches them.
    let out = ctl(&cluster, &["uninstall"]).ok();
    assert!(
        out.contains(
            "kept the data (PersistentVolumeClaim/prefect/data-prefect-postgresql-0, \
             Secret/prefect/prefect-postgresql)"
        ),
        "{out}"
    );
    assert!(get(&cluster, "statefulset", "prefect-postgresql").is_none());
    assert!(get(&cluster, "pvc", "data-prefect-postgresql-0").is_some());
    assert_eq!(password(&cluster), first);
    let stderr = ctl(&cluster, &["status"]).fails(1);
    assert!(stderr.contains("is not installed"), "{stderr}");

    // A reinstall finds the kept password; --delete-data removes it all.
    ctl(&cluster, &["--plugin", "postgres", "--set", no_migrations, "apply"]).ok();
    assert_eq!(password(&cluster), first, "a reinstall on kept data must keep its password");
    ctl(&cluster, &["uninstall", "--delete-data"]).ok();
    assert!(get(&cluster, "secret", "prefect-postgresql").is_none());
    assert!(get(&cluster, "pvc", "data-prefect-postgresql-0").is_none());
}

#[test]
fn conflicts_unserved_kinds_and_diff() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = cluster();
    ctl(&cluster, &["apply"]).ok();
    // Someone scales the server by hand, with their own field manager.
    let scale = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: prefect-server\n  namespace: prefect\nspec:\n  replicas: 3\n";
    let run = cluster.kubectl(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--validate=false",
            "--field-manager=ops-team",
            "-f",
            "-",
        ],
        Some(scale),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let stderr = ctl(&cluster, &["apply"]).fails(1);
    assert_eq!(
        stderr,
        "error: Deployment/prefect/prefect-server: a field is also set by another field manager: .spec.replicas (by \"ops-team\"); leave it to prefectctl by removing it there, or take it over with --force-conflicts\n"
    );
    assert_eq!(statuses(&cluster).last().unwrap(), "failed");
    ctl(&cluster, &["apply", "--force-conflicts"]).ok();
    assert_eq!(get(&cluster, "deployment", "prefect-server").unwrap()["spec"]["replicas"], 1);

    // diff: nothing to change, then a change; Secret values never shown.
    let nothing = ctl(&cluster, &["diff"]);
    assert_eq!((nothing.code, nothing.stdout.as_str()), (0, ""), "{}", nothing.stderr);
    let changed = ctl(
        &cluster,
        &[
            "diff",
            "--set",
            "server.basicAuth.enabled=true,server.basicAuth.authString=admin:s3cr3t-pw",
        ],
    );
    assert_eq!(changed.code, 1, "{}", changed.stderr);
    assert!(
        changed.stdout.contains("--- live/Secret/prefect/prefect-server-basic-auth"),
        "{}",
        changed.stdout
    );
    assert!(changed.stdout.contains("+  auth-string: \"*** (after)\""), "{}", changed.stdout);
    assert!(
        !changed.stdout.contains("s3cr3t") && !changed.stdout.contains("YWRtaW46czNjcjN0"),
        "{}",
        changed.stdout
    );

    // A kind the server does not serve is refused before anything is written.
    let before = statuses(&cluster);
    let stderr = ctl(
        &cluster,
        &[
            "--plugin",
            "openshift-security",
            "--set",
            "openshift-security.route.enabled=true",
            "apply",
        ],
    )
    .fails(1);
    assert!(stderr.contains("the cluster does not serve Route (route.openshift.io/v1), which plugin `openshift-security` adds"), "{stderr}");
    assert_eq!(statuses(&cluster), before, "a revision was recorded");
    let deployment = get(&cluster, "deployment", "prefect-server").unwrap();
    assert!(
        deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"].is_number(),
        "the transformer's change was written"
    );
}

/// Starts `prefectctl ... apply --wait` in the background; it applies, then waits forever for
/// pods that never run (no kubelet).
fn background_apply(cluster: &Cluster, extra: &[&str]) -> std::process::Child {
    let kubeconfig = cluster.kubeconfig().display().to_string();
    Command::new(built_binary())
        .args(["--kubeconfig", &kubeconfig, "-n", NAMESPACE, "apply", "--wait", "--timeout", "5m"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prefectctl starts")
}

/// Waits until the release's latest revision is `status`.
fn until_status(cluster: &Cluster, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let run = ctl(cluster, &["history"]);
        if run.code == 0
            && run
                .stdout
                .lines()
                .last()
                .is_some_and(|l| l.split_whitespace().nth(2) == Some(status))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the release never got to {status}");
}

#[test]
fn a_second_apply_is_refused_and_a_killed_one_is_completed() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = cluster();
    let mut first = background_apply(&cluster, &["--plugin", "agent"]);
    until_status(&cluster, "pending");
    let stderr = ctl(&cluster, &["apply"]).fails(1);
    assert!(stderr.contains("is being changed by another prefectctl"), "{stderr}");
    assert!(stderr.contains("a process that still runs on this machine"), "{stderr}");

    // Killed half-way (applied, never finished waiting): the next apply takes over at once and
    // completes it.
    first.kill().expect("kill the first apply");
    first.wait().expect("reap it");
    let out = ctl(&cluster, &["apply"]).ok();
    assert!(out.contains("revision 2 deployed"), "{out}");
    assert_eq!(statuses(&cluster), ["superseded", "deployed"]);
    assert!(get(&cluster, "deployment", "prefect-worker").is_some(), "the recorded agent was kept");

    // A failure part-way (the API server refuses a Service after the first waves are applied)
    // is recorded; the next good apply completes the release.
    let stderr = ctl(
        &cluster,
        &["apply", "--set", "server.service.type=NodePort,server.service.nodePort=80"],
    )
    .fails(1);
    assert!(stderr.contains("apply Service/prefect/prefect-server"), "{stderr}");
    assert!(stderr.contains("provided port is not in the valid range"), "{stderr}");
    assert_eq!(statuses(&cluster).last().unwrap(), "failed");
    ctl(&cluster, &["apply"]).ok();
    assert_eq!(statuses(&cluster).last().unwrap(), "deployed");

    // --wait gives up at its timeout, naming what is not ready and why.
    let stderr = ctl(&cluster, &["apply", "--wait", "--timeout", "3s"]).fails(1);
    assert!(stderr.contains("error: not ready after 3s (--timeout):"), "{stderr}");
    assert!(
        stderr.contains("Deployment/prefect/prefect-server: 0 of 1 pods available"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "PersistentVolumeClaim/prefect/prefect-server: Pending, not bound to a volume"
        ),
        "{stderr}"
    );
}

#[test]
fn wait_follows_workloads_until_their_controllers_report_them_ready() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = cluster();
    ctl(&cluster, &["--plugin", "agent", "--without", "server", "--set", "agent.apiConfig=cloud,agent.cloudApiConfig.accountId=a,agent.cloudApiConfig.workspaceId=w", "apply"]).ok();
    let mut waiting = background_apply(&cluster, &[]);
    // What a kubelet would report once the worker's pod runs: the pod is ready. The controllers
    // then count it, and the Deployment becomes available.
    let deadline = Instant::now() + Duration::from_secs(30);
    let pod = loop {
        let name = cluster
            .kubectl(
                &[
                    "get",
                    "pods",
                    "-n",
                    NAMESPACE,
                    "-l",
                    "app.kubernetes.io/name=prefect-worker",
                    "-o",
                    "jsonpath={.items[0].metadata.name}",
                ],
                None,
            )
            .stdout;
        if !name.trim().is_empty() {
            break name.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "the worker's pod was never created");
        std::thread::sleep(Duration::from_millis(200));
    };
    let ready = serde_json::json!({ "status": {
        "phase": "Running",
        "conditions": [{ "type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z" }],
    } });
    let patch = cluster.kubectl(
        &[
            "patch",
            "pod",
            &pod,
            "-n",
            NAMESPACE,
            "--subresource=status",
            "--type=merge",
            "-p",
            &ready.to_string(),
        ],
        None,
    );
    assert_eq!(patch.code, 0, "{}", patch.stderr);
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(status) = waiting.try_wait().expect("poll the apply") {
            break status.code();
        }
        assert!(Instant::now() < deadline, "apply --wait did not see the worker ready");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(code, Some(0));
}

#[test]
fn a_user_without_the_rights_gets_a_clear_error_and_nothing_changes() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = cluster();
    // A deployer who may manage the release's usual objects, but not RBAC.
    let rbac = r#"
apiVersion: v1
kind: ServiceAccount
metadata: { name: deployer, namespace: prefect }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: deployer, namespace: prefect }
rules:
- apiGroups: ["", "apps", "coordination.k8s.io"]
  resources: ["secrets", "serviceaccounts", "services", "persistentvolumeclaims", "configmaps", "deployments", "leases"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: deployer, namespace: prefect }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer }
subjects: [{ kind: ServiceAccount, name: deployer, namespace: prefect }]
"#;
    cluster.kubectl(&["apply", "-f", "-"], Some(rbac)).ok();
    let dir = TempDir::new("deployer");
    let kubeconfig = cluster.account_kubeconfig(NAMESPACE, "deployer", &dir).display().to_string();
    let as_deployer = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", kubeconfig.as_str()];
        all.extend_from_slice(args);
        prefectctl(&all)
    };
    // The plain server stack is within the deployer's rights.
    as_deployer(&["apply"]).ok();
    let before = snapshot_before_write(&cluster);
    let stderr = as_deployer(&["--plugin", "agent", "apply"]).fails(1);
    assert_eq!(
        stderr,
        "error: you may not create rolebindings.rbac.authorization.k8s.io in namespace prefect\n\
         error: you may not create roles.rbac.authorization.k8s.io in namespace prefect\n\
         error: you may not patch rolebindings.rbac.authorization.k8s.io in namespace prefect\n\
         error: you may not patch roles.rbac.authorization.k8s.io in namespace prefect\n\
         error: nothing was changed in release prefect in namespace prefect: ask your cluster administrator for these rights, or use a kubeconfig (--kubeconfig, --kube-context) that has them\n"
    );
    assert_eq!(written_by_prefectctl(&before, &snapshot(&cluster)), Vec::<String>::new());
    assert_eq!(statuses(&cluster), ["deployed"]);
}

#[test]
fn create_namespace_dry_run_and_status() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    let stderr = ctl(&cluster, &["apply"]).fails(1);
    assert_eq!(
        stderr,
        "error: namespace prefect does not exist: create it, or pass --create-namespace\n"
    );
    ctl(&cluster, &["apply", "--create-namespace"]).ok();

    // A server dry run lists the changes and stores nothing.
    let before = snapshot_before_write(&cluster);
    let out = ctl(
        &cluster,
        &["--plugin", "agent", "apply", "--dry-run=server", "--set", "server.replicaCount=1"],
    )
    .ok();
    assert!(
        out.starts_with(
            "release prefect in namespace prefect: server dry run, nothing was stored\n"
        ),
        "{out}"
    );
    for line in [
        "create    Deployment/prefect/prefect-worker",
        "unchanged Deployment/prefect/prefect-server",
        "create    Role/prefect/prefect-worker",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(out.contains("4 to create, 0 to update, 0 to delete, 4 unchanged"), "{out}");
    assert_eq!(written_by_prefectctl(&before, &snapshot(&cluster)), Vec::<String>::new());
    assert_eq!(statuses(&cluster), ["deployed"], "a dry run recorded a revision");

    let status = ctl(&cluster, &["status"]).ok();
    assert!(status.contains("revision:  1 (deployed, "), "{status}");
    assert!(status.contains("Service/prefect/prefect-server                 yes"), "{status}");
    assert!(
        status.contains(
            "Deployment/prefect/prefect-server              no      0 of 1 pods available"
        ),
        "{status}"
    );
}

#[test]
fn a_no_op_apply_reads_little_writes_nothing_and_still_sees_hand_edits() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = cluster();
    let stack = [
        "--plugin",
        "agent",
        "--plugin",
        "postgres",
        "--plugin",
        "dask-rbac",
        "--set",
        "postgres.auth.password=x,server.migrations.enabled=false",
    ];
    let apply = |extra: &[&str]| {
        let mut args = stack.to_vec();
        args.extend_from_slice(extra);
        ctl(&cluster, &args)
    };
    apply(&["apply"]).ok();
    // A second write records the versions of every object too.
    let out = apply(&["apply", "--set", "server.revisionHistoryLimit=3"]).ok();
    assert!(out.contains("revision 2 deployed"), "{out}");
    // A no-op: one record read, every object proven unchanged by prefectctl's entry in its
    // managedFields (what controllers wrote since, a status or a token, does not count), no
    // dry run, nothing written.
    let before = snapshot_before_write(&cluster);
    let run = apply(&["--debug", "apply", "--set", "server.revisionHistoryLimit=3"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("no changes: revision 2 stays deployed"), "{}", run.stdout);
    // (The number of requests the apply reports also counts the lock's renewals, every 5 s of
    // a debug build on a loaded machine: `cargo xtask bench-apply` reports it.)
    let proven = run
        .stderr
        .lines()
        .find_map(|line| {
            line.strip_prefix("debug: ")?.split_once(" objects as the last revision left them, ")
        })
        .map(|(proven, rest)| {
            (
                proven.parse::<usize>().unwrap(),
                rest.split(' ').next().unwrap().parse::<usize>().unwrap(),
            )
        })
        .expect("the no-op check says how many objects it proved unchanged");
    // All 12, the Deployments whose status controllers updated since included.
    assert_eq!(proven, (12, 0), "{}", run.stderr);
    // Not even the lock is written: it is taken only when there is something to write.
    assert!(!run.stderr.contains("took the release lock"), "{}", run.stderr);
    assert!(run.stderr.contains("its lock and the server's API versions"), "{}", run.stderr);
    assert_eq!(written_by_prefectctl(&before, &snapshot(&cluster)), Vec::<String>::new());
    assert_eq!(statuses(&cluster), ["superseded", "deployed"]);

    // As a deployer who may not list most kinds (records aside): every object asked about.
    let rbac = r#"
apiVersion: v1
kind: ServiceAccount
metadata: { name: deployer, namespace: prefect }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: deployer, namespace: prefect }
rules:
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "create", "update", "patch", "delete"]
- apiGroups: ["", "apps", "policy", "rbac.authorization.k8s.io"]
  resources: ["serviceaccounts", "services", "configmaps", "persistentvolumeclaims", "deployments", "statefulsets", "poddisruptionbudgets", "roles", "rolebindings"]
  verbs: ["get", "create", "update", "patch", "delete", "bind", "escalate"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: deployer, namespace: prefect }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer }
subjects: [{ kind: ServiceAccount, name: deployer, namespace: prefect }]
"#;
    cluster.kubectl(&["apply", "-f", "-"], Some(rbac)).ok();
    let dir = TempDir::new("deployer");
    let kubeconfig = cluster.account_kubeconfig(NAMESPACE, "deployer", &dir).display().to_string();
    let out = prefectctl(&["--kubeconfig", kubeconfig.as_str(), "apply"]).ok();
    assert!(out.contains("no changes: revision 2 stays deployed"), "{out}");

    // A field prefectctl set, changed by hand, is a change (the Role's rules cut to one).
    let patch = r#"[{"op": "replace", "path": "/rules", "value": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}]"#;
    let args = ["patch", "role", "prefect-worker", "-n", NAMESPACE, "--type=json", "-p", patch];
    cluster.kubectl(&args, None).ok();
    // Not a no-op: the write finds kubectl's change (a conflict, as any write would), and
    // --force-conflicts puts the rules back.
    let stderr = apply(&["apply"]).fails(1);
    assert!(stderr.contains(".rules (by \"kubectl-patch\")"), "{stderr}");
    let out = apply(&["apply", "--force-conflicts"]).ok();
    assert!(out.contains("revision 4 deployed"), "{out}");
    let role = get(&cluster, "role", "prefect-worker").unwrap();
    assert!(role["rules"].to_string().contains("\"services\""), "{role}");
}

#[test]
fn discovery_is_kept_on_disk_and_read_live_again_when_it_cannot_be_trusted() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = cluster();
    let cache = TempDir::new("cache");
    let cwd = TempDir::new("run");
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let cache_dir = cache.path().display().to_string();
    // `apply --debug` in a new namespace: the API requests sent until every kind is resolved.
    let requests_with = |namespace: &str, flags: &[&str]| {
        let mut args = vec![
            "--kubeconfig",
            &kubeconfig,
            "-n",
            namespace,
            "--debug",
            "apply",
            "--create-namespace",
        ];
        args.extend(flags);
        let env = [("PREFECTCTL_CACHE_DIR", cache_dir.as_str())];
        let run = crate::harness::prefectctl_env(cwd.path(), &args, None, &env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stderr
            .lines()
            .find_map(|line| line.strip_prefix("debug: resolved every kind after "))
            .and_then(|rest| rest.split(" and ").nth(1)?.split(' ').next()?.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no request count in {}", run.stderr))
    };
    let requests_to_resolve = |namespace: &str| requests_with(namespace, &[]);
    let files_in = |cache: &std::path::Path| -> Vec<std::path::PathBuf> {
        let folder = cache.join("discovery");
        std::fs::read_dir(folder).map_or(Vec::new(), |dir| dir.map(|e| e.unwrap().path()).collect())
    };
    let files = || files_in(cache.path());
    assert!(files().is_empty());
    let cold = requests_to_resolve("first");
    let [file] = files().try_into().expect("one file for the one API server");
    let cached: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let group_versions: Vec<&String> =
        cached["resources"].as_object().expect("resources by group version").keys().collect();
    assert!(group_versions.contains(&&"apps/v1".to_owned()), "{group_versions:?}");
    // The next command reads no group version's resources: the file has them.
    let warm = requests_to_resolve("second");
    assert_eq!(warm + group_versions.len(), cold, "{group_versions:?}");

    // A kind the file lacks (a CustomResourceDefinition installed since it was written) has
    // its group version read live, and kept.
    let mut lacking = cached.clone();
    lacking["resources"]["v1"].as_array_mut().unwrap().retain(|r| r["kind"] != "Service");
    std::fs::write(&file, lacking.to_string()).unwrap();
    assert_eq!(requests_to_resolve("third"), warm + 1);
    let kept: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(kept["resources"]["v1"].to_string().contains("\"Service\""));

    // A file another server version wrote (the cluster upgraded since) is not trusted, whatever
    // it says.
    let mut other = cached.clone();
    other["serverVersion"] = "1.0.0".into();
    for resource in other["resources"]["apps/v1"].as_array_mut().unwrap() {
        resource["name"] = "not-a-resource".into();
    }
    std::fs::write(&file, other.to_string()).unwrap();
    assert_eq!(requests_to_resolve("fourth"), cold);

    // `--cache-dir` wins over the environment, as kubectl's flag: a folder of its own is
    // written and then read, and an empty one keeps nothing.
    let elsewhere = TempDir::new("cache-flag");
    let flag = ["--cache-dir", elsewhere.path().to_str().unwrap()];
    assert_eq!(requests_with("fifth", &flag), cold);
    assert_eq!(files_in(elsewhere.path()).len(), 1);
    assert_eq!(requests_with("sixth", &flag), warm);
    std::fs::remove_dir_all(elsewhere.path().join("discovery")).unwrap();
    let written = || std::fs::read(&file).unwrap();
    let before = written();
    assert_eq!(requests_with("seventh", &["--cache-dir", ""]), cold);
    assert_eq!(requests_with("eighth", &["--cache-dir", ""]), cold);
    assert!(files_in(elsewhere.path()).is_empty());
    assert_eq!(written(), before, "the environment's folder is not written either");
}
