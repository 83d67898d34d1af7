//! What must never happen to a release's or anyone else's data, on a real API server: another
//! tool's objects taken over silently, revisions recorded for applies that change nothing, a
//! rollback after a failed upgrade that undoes the last good change, another tool's claims
//! deleted with the release's, and a move from SQLite to PostgreSQL that says nothing of the
//! database left behind.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{cluster::Cluster, harness::Run, harness::prefectctl};

const NAMESPACE: &str = "prefect";

fn ctl(cluster: &Cluster, args: &[&str]) -> Run {
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let mut all = vec!["--kubeconfig", kubeconfig.as_str(), "-n", NAMESPACE];
    all.extend_from_slice(args);
    prefectctl(&all)
}

fn cluster() -> Cluster {
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", NAMESPACE], None).ok();
    cluster
}

fn get(cluster: &Cluster, kind: &str, name: &str) -> Option<Value> {
    let run = cluster.kubectl(&["get", kind, name, "-n", NAMESPACE, "-o", "json"], None);
    (run.code == 0).then(|| serde_json::from_str(&run.stdout).expect("kubectl prints JSON"))
}

/// `kubectl apply --server-side` of `yaml` as field manager `manager`.
fn apply_as(cluster: &Cluster, manager: &str, yaml: &str) {
    let manager = format!("--field-manager={manager}");
    let args = ["apply", "--server-side", "--validate=false", &manager, "-f", "-"];
    let run = cluster.kubectl(&args, Some(yaml));
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// The statuses of the release's revisions, oldest first.
fn statuses(cluster: &Cluster) -> Vec<String> {
    let history = ctl(cluster, &["history"]).ok();
    history.lines().skip(1).map(|line| line.split_whitespace().nth(2).unwrap().to_owned()).collect()
}

/// The field managers of `kind name`.
fn managers(cluster: &Cluster, kind: &str, name: &str) -> Vec<String> {
    let args = ["get", kind, name, "-n", NAMESPACE, "-o", "json", "--show-managed-fields"];
    let object: Value = serde_json::from_str(&cluster.kubectl(&args, None).ok()).unwrap();
    let fields = object["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    fields.iter().filter_map(|f| f["manager"].as_str()).map(str::to_owned).collect()
}

/// Waits until `kind name` is gone (a claim goes once its pod has).
fn until_gone(cluster: &Cluster, kind: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(cluster, kind, name).is_some() {
        assert!(Instant::now() < deadline, "{kind} {name} was not deleted");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn foreign_objects_no_op_applies_and_a_rollback_after_a_failed_upgrade() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = cluster();
    // Before the install: a Service of the same name that someone applied with exactly the
    // fields prefectctl sets (nothing would conflict), and a ServiceAccount a Helm release of
    // the same name made.
    apply_as(
        &cluster,
        "ops-team",
        "apiVersion: v1\nkind: Service\nmetadata: { name: prefect-server, namespace: prefect }\n\
         spec:\n  ports: [{ name: server-svc-port, port: 4200, protocol: TCP, targetPort: http }]\n  \
         selector: { app.kubernetes.io/instance: prefect, app.kubernetes.io/name: prefect-server }\n  \
         type: ClusterIP\n",
    );
    apply_as(
        &cluster,
        "helm",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: prefect-server\n  namespace: prefect\n  \
         labels: { app.kubernetes.io/managed-by: Helm, app.kubernetes.io/instance: prefect }\n  \
         annotations: { meta.helm.sh/release-name: prefect }\n",
    );
    // The token controller adds the account's token as a field manager of its own.
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&cluster, "serviceaccount", "prefect-server").unwrap()["secrets"].is_null() {
        assert!(Instant::now() < deadline, "no token was added to the ServiceAccount");
        std::thread::sleep(Duration::from_millis(250));
    }
    let stderr = ctl(&cluster, &["apply"]).fails(1);
    assert_eq!(
        stderr,
        "error: ServiceAccount/prefect/prefect-server exists and is not this release's \
         (managed-by Helm; instance prefect; Helm release prefect; field managers helm, \
         kube-controller-manager)\n\
         error: Service/prefect/prefect-server exists and is not this release's (field managers \
         ops-team)\n\
         error: nothing was changed in release prefect in namespace prefect: take these objects \
         over with --adopt, delete them, or install under another --release\n"
    );
    let stderr = ctl(&cluster, &["history"]).fails(1);
    assert!(stderr.contains("is not installed"), "a revision was recorded: {stderr}");
    let service = managers(&cluster, "service", "prefect-server");
    assert_eq!(service, ["ops-team"], "the Service was written");
    assert!(get(&cluster, "deployment", "prefect-server").is_none(), "the Deployment was written");
    // A server dry run refuses them the same way.
    let stderr = ctl(&cluster, &["apply", "--dry-run"]).fails(1);
    assert!(stderr.contains("take these objects over with --adopt"), "{stderr}");

    // --adopt takes them over (the Helm label is a field of Helm's: --force-conflicts too).
    let out = ctl(&cluster, &["apply", "--adopt", "--force-conflicts"]).ok();
    assert!(out.contains("revision 1 deployed"), "{out}");
    let account = get(&cluster, "serviceaccount", "prefect-server").unwrap();
    assert_eq!(account["metadata"]["labels"]["app.kubernetes.io/managed-by"], "prefectctl");
    let service = managers(&cluster, "service", "prefect-server");
    assert!(service.contains(&"prefectctl".to_owned()), "{service:?}");

    // Nothing to change: no revision, no write; --wait still waits (for pods that never run).
    let version = |kind, name| {
        get(&cluster, kind, name).unwrap()["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let before = version("deployment", "prefect-server");
    let out = ctl(&cluster, &["apply"]).ok();
    assert!(
        out.starts_with(
            "release prefect in namespace prefect: no changes: revision 1 stays deployed, \
             nothing was written; "
        ),
        "{out}"
    );
    let stderr = ctl(&cluster, &["apply", "--wait", "--timeout", "2s"]).fails(1);
    assert!(stderr.contains("error: not ready after 2s (--timeout):"), "{stderr}");
    assert_eq!(statuses(&cluster), ["deployed"]);
    assert_eq!(version("deployment", "prefect-server"), before);
    // Other values, or a live object that differs, are changes.
    cluster.kubectl(&["delete", "service", "prefect-server", "-n", NAMESPACE], None).ok();
    let out = ctl(&cluster, &["apply"]).ok();
    assert!(out.contains("revision 2 deployed"), "{out}");
    assert!(get(&cluster, "service", "prefect-server").is_some());

    // A good change, then an upgrade that fails after applying (its wait times out): a bare
    // rollback goes back to the good change, as Helm's does, not to the revision before it.
    let limit = || {
        get(&cluster, "deployment", "prefect-server").unwrap()["spec"]["revisionHistoryLimit"]
            .clone()
    };
    ctl(&cluster, &["apply", "--set", "server.revisionHistoryLimit=5"]).ok();
    let failed = ["apply", "--set", "server.revisionHistoryLimit=7", "--wait", "--timeout", "1s"];
    ctl(&cluster, &failed).fails(1);
    assert_eq!(limit(), 7);
    assert_eq!(statuses(&cluster), ["superseded", "superseded", "deployed", "failed"]);
    let out = ctl(&cluster, &["rollback"]).ok();
    assert!(out.contains("rolled back to revision 3 as revision 5"), "{out}");
    assert_eq!(limit(), 5, "the last good change was undone");
}

#[test]
fn uninstall_deletes_only_the_releases_claims_and_leaving_sqlite_warns() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = cluster();
    let postgres = ["--plugin", "postgres", "--set", "server.migrations.enabled=false", "apply"];
    let install = |cluster: &Cluster| {
        ctl(cluster, &["apply"]).ok();
        let run = ctl(cluster, &postgres);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run
    };
    // From SQLite to PostgreSQL: the claim is kept, and the user told what that means.
    let moved = install(&cluster);
    assert!(
        moved.stdout.contains("kept, being data: PersistentVolumeClaim/prefect/prefect-server"),
        "{}",
        moved.stdout
    );
    for said in [
        "warning: Deployment/prefect/prefect-server no longer uses its SQLite database \
         (PersistentVolumeClaim/prefect/prefect-server, kept): the Prefect server starts on an \
         empty database",
        "Prefect cannot copy a SQLite database into PostgreSQL: `prefectctl rollback` goes back to it",
    ] {
        assert!(moved.stderr.contains(said), "missing {said:?} in:\n{}", moved.stderr);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&cluster, "pvc", "data-prefect-postgresql-0").is_none() {
        assert!(Instant::now() < deadline, "the StatefulSet made no claim");
        std::thread::sleep(Duration::from_millis(250));
    }

    // Claims of a Helm release of the same name: one beside it, one whose name and selector
    // labels even match the StatefulSet's.
    for (name, component) in
        [("data-prefect-postgresql-primary-0", "primary"), ("data-prefect-postgresql-1", "x")]
    {
        let claim = format!(
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\n  \
             namespace: prefect\n  labels: {{ app.kubernetes.io/instance: prefect, \
             app.kubernetes.io/name: prefect-postgresql, app.kubernetes.io/managed-by: Helm, \
             app.kubernetes.io/component: {component} }}\nspec:\n  accessModes: [ReadWriteOnce]\n  \
             resources: {{ requests: {{ storage: 1Gi }} }}\n"
        );
        apply_as(&cluster, "helm", &claim);
    }

    let out = ctl(&cluster, &["uninstall"]).ok();
    assert!(
        out.contains(
            "kept the data (PersistentVolumeClaim/prefect/data-prefect-postgresql-0, \
             PersistentVolumeClaim/prefect/prefect-server, Secret/prefect/prefect-postgresql): \
             delete it with uninstall --delete-data"
        ),
        "{out}"
    );

    // Installed again on the kept data (the release's own by its labels), then deleted with
    // it: the Helm release's claims stay.
    install(&cluster);
    ctl(&cluster, &["uninstall", "--delete-data"]).ok();
    for gone in ["data-prefect-postgresql-0", "prefect-server"] {
        until_gone(&cluster, "pvc", gone);
    }
    assert!(get(&cluster, "secret", "prefect-postgresql").is_none());
    for foreign in ["data-prefect-postgresql-primary-0", "data-prefect-postgresql-1"] {
        assert!(get(&cluster, "pvc", foreign).is_some(), "{foreign} was deleted");
    }
}
