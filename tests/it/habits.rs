//! Helm and kubectl habits on a real API server: what a first install tells the user, bare
//! `--dry-run`, `--context`, the namespace from the environment, and the colour conventions
//! (NO_COLOR, CLICOLOR_FORCE) of `diff`. One cluster for all of it.

use crate::{
    cluster::Cluster,
    harness::{Run, TempDir, prefectctl_env},
};

const NAMESPACE: &str = "habits";

/// `prefectctl --kubeconfig CLUSTER ARGS` with `env`; the namespace comes from
/// `PREFECTCTL_NAMESPACE`, as a user's shell profile would set it.
fn ctl(cluster: &Cluster, args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = TempDir::new("habits");
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let mut all = vec!["--kubeconfig", kubeconfig.as_str()];
    all.extend_from_slice(args);
    let mut env = env.to_vec();
    env.push(("PREFECTCTL_NAMESPACE", NAMESPACE));
    prefectctl_env(dir.path(), &all, None, &env)
}

#[test]
fn first_install_says_how_to_reach_prefect_and_the_cli_keeps_helm_habits() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", NAMESPACE], None).ok();

    // A first install says how to reach the UI and which pool the worker polls.
    let out = ctl(&cluster, &["--plugin", "agent", "apply"], &[]).ok();
    assert!(out.starts_with("release prefect in namespace habits: revision 1 deployed"), "{out}");
    assert!(
        out.contains(
            "The Prefect UI and API:\n  kubectl port-forward -n habits svc/prefect-server \
             4200:4200\n  then open http://localhost:4200 (the API is under \
             http://localhost:4200/api)\n"
        ),
        "{out}"
    );
    assert!(out.contains("\nWorker prefect-worker polls the work pool kubernetes.\n"), "{out}");
    assert!(
        out.ends_with(
            "`prefectctl status -n habits` shows what the server says, and `doctor` what to fix.\n"
        ),
        "{out}"
    );

    // An upgrade does not repeat them.
    let out = ctl(&cluster, &["apply", "--set", "server.replicaCount=1"], &[]).ok();
    assert!(out.contains("revision 2 deployed") && !out.contains("port-forward"), "{out}");

    // Behind an ingress with basic auth: the URL, and where the credentials are, never them.
    let web = [
        "--release",
        "web",
        "--set",
        "server.ingress.enabled=true",
        "--set",
        "server.ingress.host.hostname=prefect.example.com",
        "--set",
        "server.basicAuth.enabled=true",
        "--set",
        "server.basicAuth.authString=admin:s3cret-pass",
        "apply",
    ];
    let out = ctl(&cluster, &web, &[]).ok();
    assert!(
        out.contains(
            "The Prefect UI and API:\n  http://prefect.example.com/ (the Ingress; the API is \
             under http://prefect.example.com/api)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("  basic auth: USER:PASSWORD is in Secret web-server-basic-auth"),
        "{out}"
    );
    assert!(!out.contains("s3cret-pass"), "{out}");
    assert!(out.contains("`prefectctl status -n habits --release web`"), "{out}");

    // Bare --dry-run is the server dry run: nothing stored.
    let out = ctl(&cluster, &["apply", "--dry-run", "--set", "server.replicaCount=1"], &[]).ok();
    assert!(out.contains("server dry run, nothing was stored"), "{out}");
    let history = ctl(&cluster, &["history"], &[]).ok();
    assert_eq!(history.lines().count(), 3, "a header and two revisions:\n{history}");

    // --context, kubectl's name for --kube-context.
    ctl(&cluster, &["status", "--context", "test"], &[]).ok();
    let stderr = ctl(&cluster, &["status", "--context", "nope"], &[]).fails_with_any();
    assert!(stderr.contains("nope"), "{stderr}");

    // diff colours: never into a pipe by default, CLICOLOR_FORCE forces them, NO_COLOR wins
    // over it, and an explicit --color always wins over both.
    let diff = ["diff", "--set", "server.env[0].name=A,server.env[0].value=b"];
    let coloured = |run: Run| {
        assert_eq!(run.code, 1, "diff finds the change: {}", run.stderr);
        assert!(run.stdout.contains("name: A"), "{}", run.stdout);
        run.stdout.contains("\x1b[")
    };
    assert!(!coloured(ctl(&cluster, &diff, &[])));
    assert!(coloured(ctl(&cluster, &diff, &[("CLICOLOR_FORCE", "1")])));
    assert!(!coloured(ctl(&cluster, &diff, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")])));
    let mut always = diff.to_vec();
    always.extend(["--color", "always"]);
    assert!(coloured(ctl(&cluster, &always, &[("NO_COLOR", "1")])));
}
