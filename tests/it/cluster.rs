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

/// Every reviewed snapshot (`tests/snapshots/*.yaml`) is something the API server accepts.
#[test]
fn the_api_server_accepts_every_snapshot() {
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", "prefect"], None).ok();
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
