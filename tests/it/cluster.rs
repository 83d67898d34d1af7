//! Against a real Kubernetes API server (`../shared/k8s/start.sh`: kube-apiserver 1.20 with
//! etcd): the rendered manifests are what the server accepts. A test that cannot start the
//! cluster fails; it never skips.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
};

use crate::harness::{Run, TempDir, prefectctl};

/// A running control plane, stopped when dropped.
pub struct Cluster {
    dir: TempDir,
    kubeconfig: PathBuf,
}

/// The folder of `start.sh`: `$PREFECTCTL_K8S_SCRIPTS` (which `cargo xtask ci` sets), else
/// `../shared/k8s` beside the workspace, as on the project's machines.
fn scripts() -> PathBuf {
    let dir = std::env::var_os("PREFECTCTL_K8S_SCRIPTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::harness::workspace().join("../shared/k8s"));
    assert!(
        dir.join("start.sh").is_file(),
        "no {}: set PREFECTCTL_K8S_SCRIPTS to the folder of the project's k8s start.sh \
         (shared/k8s on the project's machines)",
        dir.join("start.sh").display()
    );
    dir
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = TempDir::new("cluster");
        let start = scripts().join("start.sh");
        let out = Command::new("bash")
            .arg(&start)
            .arg(dir.path())
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|err| panic!("could not run {}: {err}", start.display()));
        assert!(out.status.success(), "{} failed to start a cluster", start.display());
        let kubeconfig = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        Cluster { dir, kubeconfig }
    }

    /// The folder the cluster keeps its state in.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The admin kubeconfig of this cluster.
    pub fn kubeconfig(&self) -> &std::path::Path {
        &self.kubeconfig
    }

    /// A kubeconfig in `dir` that authenticates as ServiceAccount `account` of `namespace`
    /// with its token (1.20 keeps it in a Secret that the controller manager creates).
    pub fn account_kubeconfig(&self, namespace: &str, account: &str, dir: &TempDir) -> PathBuf {
        let mut secret = String::new();
        for _ in 0..100 {
            let jsonpath = "jsonpath={.secrets[0].name}";
            let run = self.kubectl(
                &["get", "serviceaccount", account, "-n", namespace, "-o", jsonpath],
                None,
            );
            secret = run.stdout.trim().to_owned();
            if !secret.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        assert!(!secret.is_empty(), "the controller manager made no token for {account}");
        let token = self
            .kubectl(
                &["get", "secret", &secret, "-n", namespace, "-o", "jsonpath={.data.token}"],
                None,
            )
            .ok();
        let token =
            String::from_utf8(crate::harness::base64_decode(token.trim())).expect("a UTF-8 token");
        let view = |path: &str| {
            self.kubectl(
                &["config", "view", "--raw", "--minify", "-o", &format!("jsonpath={{{path}}}")],
                None,
            )
            .ok()
        };
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: {account}\n  user:\n    token: {token}\ncontexts:\n- name: {account}\n  context: {{cluster: test, user: {account}, namespace: {namespace}}}\ncurrent-context: {account}\n",
            view(".clusters[0].cluster.server"),
            view(".clusters[0].cluster.certificate-authority-data"),
        );
        dir.write(&format!("{account}-kubeconfig"), &config)
    }

    /// Runs kubectl against this cluster, with `stdin` fed to it.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Run {
        use std::io::Write;
        let mut child = Command::new("kubectl")
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.unwrap_or_default().as_bytes()).expect("write stdin");
        drop(input);
        let out = child.wait_with_output().expect("kubectl runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(scripts().join("start.sh"))
            .arg(self.dir.path())
            .arg("stop")
            .status();
    }
}

/// Server-side dry-run of `manifests`: the API server validates every object (schemas, names,
/// immutable fields) without storing anything. Returns kubectl's output.
fn dry_run(cluster: &Cluster, manifests: &str) -> String {
    let run = cluster.kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(manifests));
    assert_eq!(
        run.code, 0,
        "kubectl apply --dry-run=server failed:\n{}\nmanifests:\n{manifests}",
        run.stderr
    );
    run.stdout
}

#[test]
fn the_api_server_accepts_the_rendered_stacks() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", "prefect"], None).ok();

    let default_stack = prefectctl(&["render", "-n", "prefect", "--kube-version", "1.20.2"]).ok();
    let out = dry_run(&cluster, &default_stack);
    for expected in [
        "serviceaccount/prefect-server created (server dry run)",
        "persistentvolumeclaim/prefect-server created (server dry run)",
        "service/prefect-server created (server dry run)",
        "deployment.apps/prefect-server created (server dry run)",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }

    // YAML 1.1 readers (kubectl) turn an unquoted `on` into a boolean, which the server refuses
    // in a map of strings: this passes only if the value stays quoted.
    let everything = prefectctl(&[
        "render",
        "-n",
        "prefect",
        "--kube-version",
        "1.20.2",
        "--set-string",
        "global.commonAnnotations.feature=on",
        "--set",
        "server.ingress.enabled=true,server.ingress.host.hostname=prefect.example.com",
    ])
    .ok();
    let out = dry_run(&cluster, &everything);
    assert!(
        out.contains("ingress.networking.k8s.io/prefect-server created (server dry run)"),
        "{out}"
    );
}

/// OpenShift's Route kind, as a bare CustomResourceDefinition, so that a plain API server
/// accepts the openshift-security plugin's Route (its schema is OpenShift's to check).
const ROUTE_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: routes.route.openshift.io
spec:
  group: route.openshift.io
  scope: Namespaced
  names: { plural: routes, singular: route, kind: Route }
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

/// The Prometheus Operator's ServiceMonitor and PrometheusRule kinds (a test fixture), for the
/// metrics plugin.
const MONITORING_CRDS: &str = include_str!("fixtures/prometheus-operator-crds.yaml");

/// Installs `crds` and waits until the API server serves each.
pub fn install_crds(cluster: &Cluster, crds: &str, names: &[&str]) {
    cluster.kubectl(&["apply", "-f", "-"], Some(crds)).ok();
    for name in names {
        let crd = format!("crd/{name}");
        cluster.kubectl(&["wait", "--for=condition=Established", &crd], None).ok();
    }
}

/// The names of the CustomResourceDefinitions in [`MONITORING_CRDS`].
const MONITORING_CRD_NAMES: [&str; 2] =
    ["servicemonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com"];

/// Every reviewed snapshot (`tests/snapshots/*.yaml`) is something the API server accepts.
#[test]
fn the_api_server_accepts_every_snapshot() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", "prefect"], None).ok();
    cluster.kubectl(&["apply", "-f", "-"], Some(ROUTE_CRD)).ok();
    cluster
        .kubectl(&["wait", "--for=condition=Established", "crd/routes.route.openshift.io"], None)
        .ok();
    install_crds(&cluster, MONITORING_CRDS, &MONITORING_CRD_NAMES);
    install_crds(&cluster, crate::networking::GATEWAY_CRDS, &crate::networking::GATEWAY_CRD_NAMES);
    let dir = crate::harness::workspace().join("tests/snapshots");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/snapshots exists")
        .map(|entry| entry.expect("a readable folder").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "expected the snapshots in {}", dir.display());
    for file in files {
        let manifests = std::fs::read_to_string(&file).expect("a readable snapshot");
        let out = dry_run(&cluster, &manifests);
        assert!(out.contains("deployment.apps/"), "{}: {out}", file.display());
    }
}

/// The full stack, on the 1.20 API server, with the agent's autoscaler and disruption budget
/// in the API versions 1.20 serves, scaled out (background services, migrations Job), and
/// the NetworkPolicies of every component.
#[test]
fn the_api_server_accepts_the_full_stack() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", "prefect"], None).ok();
    // tidy: every plugin but server
    let full = prefectctl(&[
        "render",
        "-n",
        "prefect",
        "--kube-version",
        "1.20.2",
        "--plugin",
        "agent",
        "--plugin",
        "postgres",
        "--plugin",
        "redis",
        "--plugin",
        "dask-rbac",
        "--plugin",
        "openshift-security",
        "--plugin",
        "metrics",
        "--plugin",
        "network-policy",
        "--set",
        "agent.autoscaling.enabled=true,agent.podDisruptionBudget.enabled=true",
        "--set",
        "server.replicaCount=2,server.basicAuth.enabled=true,server.basicAuth.existingSecret=auth",
        "--set",
        "server.backgroundServices.runAsSeparateDeployment=true",
    ])
    .ok();
    let out = dry_run(&cluster, &full);
    for expected in [
        "statefulset.apps/prefect-postgresql created (server dry run)",
        "statefulset.apps/prefect-redis created (server dry run)",
        "horizontalpodautoscaler.autoscaling/prefect-worker created (server dry run)",
        "poddisruptionbudget.policy/prefect-worker created (server dry run)",
        "role.rbac.authorization.k8s.io/prefect-worker created (server dry run)",
        "job.batch/prefect-db-migrations created (server dry run)",
        "deployment.apps/prefect-background-services created (server dry run)",
        "deployment.apps/prefect-metrics created (server dry run)",
        "networkpolicy.networking.k8s.io/prefect-default-deny-ingress created (server dry run)",
        "networkpolicy.networking.k8s.io/prefect-server created (server dry run)",
        "networkpolicy.networking.k8s.io/prefect-postgresql created (server dry run)",
        "networkpolicy.networking.k8s.io/prefect-redis created (server dry run)",
        "networkpolicy.networking.k8s.io/prefect-metrics created (server dry run)",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

/// What the worker's ServiceAccount may do, asked of the API server's own authorizer after
/// the stack is really applied: pods may be created only with dask-rbac, Jobs always, and
/// nothing outside the release namespace.
#[test]
fn the_worker_may_create_pods_only_with_dask_rbac() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    for (namespace, extra) in [("plain", None), ("dask", Some("dask-rbac"))] {
        cluster.kubectl(&["create", "namespace", namespace], None).ok();
        let mut args =
            vec!["render", "-n", namespace, "--kube-version", "1.20.2", "--plugin", "agent"];
        if let Some(plugin) = extra {
            args.extend(["--plugin", plugin]);
        }
        let manifests = prefectctl(&args).ok();
        let run = cluster.kubectl(&["apply", "-f", "-"], Some(&manifests));
        assert_eq!(run.code, 0, "kubectl apply failed:\n{}", run.stderr);
    }
    let can = |namespace: &str, account_namespace: &str, verb: &str, resource: &str| {
        let account = format!("system:serviceaccount:{account_namespace}:prefect-worker");
        let run = cluster
            .kubectl(&["auth", "can-i", verb, resource, "-n", namespace, "--as", &account], None);
        run.stdout.trim().to_owned()
    };
    assert_eq!(can("plain", "plain", "create", "pods"), "no");
    assert_eq!(can("dask", "dask", "create", "pods"), "yes");
    assert_eq!(can("dask", "dask", "create", "services"), "yes");
    assert_eq!(can("dask", "dask", "delete", "poddisruptionbudgets.policy"), "yes");
    for namespace in ["plain", "dask"] {
        assert_eq!(can(namespace, namespace, "create", "jobs.batch"), "yes");
        assert_eq!(can(namespace, namespace, "get", "pods/log"), "yes");
        assert_eq!(
            can(namespace, namespace, "delete", "pods"),
            if namespace == "dask" { "yes" } else { "no" }
        );
        assert_eq!(can(namespace, namespace, "get", "secrets"), "no");
    }
    // Never beyond the release namespace, never cluster-wide.
    assert_eq!(can("plain", "dask", "create", "pods"), "no");
    assert_eq!(can("default", "dask", "create", "jobs.batch"), "no");
    assert_eq!(can("", "dask", "list", "namespaces"), "no");
}

/// The metrics plugin applied where the cluster serves no `monitoring.coreos.com/v1`: the
/// exporter without the Prometheus Operator's objects, and a warning that says why and what to
/// do. Once the operator's CRDs are installed, the next apply adds them: discovery, not a
/// flag, says what a cluster serves.
#[test]
fn the_metrics_plugin_adds_the_operator_objects_once_the_cluster_serves_them() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", "prefect"], None).ok();
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let apply = || {
        let run = prefectctl(&[
            "--kubeconfig",
            &kubeconfig,
            "-n",
            "prefect",
            "--plugin",
            "metrics",
            "--set",
            "server.basicAuth.enabled=true,server.basicAuth.existingSecret=prefect-auth",
            "apply",
        ]);
        assert_eq!(run.code, 0, "apply failed:\n{}", run.stderr);
        run
    };
    let exists = |kind: &str| {
        cluster.kubectl(&["get", kind, "prefect-metrics", "-n", "prefect"], None).code == 0
    };

    let first = apply();
    for kind in ["ServiceMonitor", "PrometheusRule"] {
        assert!(
            first.stderr.contains(&format!(
                "the {kind} is left out: the cluster does not serve monitoring.coreos.com/v1"
            )),
            "{}",
            first.stderr
        );
    }
    assert!(first.stderr.contains("--api-versions monitoring.coreos.com/v1"), "{}", first.stderr);
    assert!(exists("deployment") && exists("service"));
    let env = cluster
        .kubectl(
            &[
                "get",
                "deployment",
                "prefect-metrics",
                "-n",
                "prefect",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].env}",
            ],
            None,
        )
        .ok();
    assert!(env.contains(r#""name":"PREFECT_API_AUTH_STRING","valueFrom":{"secretKeyRef":{"key":"auth-string","name":"prefect-auth"}}"#), "{env}");

    install_crds(&cluster, MONITORING_CRDS, &MONITORING_CRD_NAMES);
    let second = apply();
    assert!(!second.stderr.contains("left out"), "{}", second.stderr);
    assert!(exists("servicemonitors.monitoring.coreos.com"));
    assert!(exists("prometheusrules.monitoring.coreos.com"));
    let port = cluster
        .kubectl(
            &[
                "get",
                "servicemonitor",
                "prefect-metrics",
                "-n",
                "prefect",
                "-o",
                "jsonpath={.spec.endpoints[0].port}",
            ],
            None,
        )
        .ok();
    assert_eq!(port, "metrics");
}

/// The worker's rights with flow runs in another namespace (`agent.config.jobNamespace`) and a
/// cluster-wide observer (`agent.config.observerClusterWide`), applied and asked of the API
/// server's authorizer: Jobs where flow runs go, reads everywhere only when asked, and the
/// worker pod's new settings (DNS, extra init containers, envFrom lists) accepted as rendered.
#[test]
fn the_worker_runs_flows_in_its_job_namespaces_and_observes_cluster_wide_only_when_asked() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    for namespace in ["release", "flows", "observed"] {
        cluster.kubectl(&["create", "namespace", namespace], None).ok();
    }
    let render = |extra: &str| {
        let settings = format!(
            "agent.config.jobNamespace=flows,agent.dnsPolicy=None,\
             agent.dnsConfig.nameservers[0]=10.0.0.10,agent.extraEnvVarsCMs[0]=settings,\
             agent.extraEnvVarsSecrets[0]=credentials,agent.revisionHistoryLimit=3{extra}"
        );
        let mut args =
            vec!["render", "-n", "release", "--kube-version", "1.20.2", "--plugin", "agent"];
        args.extend(["--set", &settings]);
        args.extend([
            "--set-json",
            r#"agent.initContainer.extraContainers=[{"name":"after","image":"busybox:1.36"}]"#,
        ]);
        prefectctl(&args).ok()
    };
    let can = |namespace: &str, verb: &str, resource: &str| {
        let account = "system:serviceaccount:release:prefect-worker";
        let run = cluster
            .kubectl(&["auth", "can-i", verb, resource, "-n", namespace, "--as", account], None);
        run.stdout.trim().to_owned()
    };

    let run = cluster.kubectl(&["apply", "-f", "-"], Some(&render("")));
    assert_eq!(run.code, 0, "kubectl apply failed:\n{}", run.stderr);
    for namespace in ["release", "flows"] {
        assert_eq!(can(namespace, "create", "jobs.batch"), "yes", "{namespace}");
        assert_eq!(can(namespace, "get", "pods/log"), "yes", "{namespace}");
        assert_eq!(can(namespace, "get", "secrets"), "no", "{namespace}");
    }
    assert_eq!(can("observed", "list", "pods"), "no");

    let observer = render(",agent.config.observerClusterWide=true");
    let run = cluster.kubectl(&["apply", "-f", "-"], Some(&observer));
    assert_eq!(run.code, 0, "kubectl apply failed:\n{}", run.stderr);
    assert_eq!(can("observed", "list", "pods"), "yes");
    assert_eq!(can("observed", "watch", "jobs.batch"), "yes");
    assert_eq!(can("observed", "create", "jobs.batch"), "no", "reads only, cluster-wide");
    assert_eq!(can("observed", "get", "secrets"), "no");
}
