//! A node for a test cluster: the kubelet stand-in (`tests/kubelet`) started beside it, so that
//! the pods of an applied release run (the tier "pods run": see [`tier`]).

use std::{
    path::PathBuf,
    process::{Child, ChildStdin, Command, Output, Stdio},
    time::{Duration, Instant},
};

use crate::{cluster::Cluster, harness::built_program};

/// Whether the tests that run pods run here (they need root and take minutes):
/// `PREFECTCTL_SKIP_PODS=1` or `PREFECTCTL_FAST=1` skips them, and CI never does (see
/// [`crate::tier`]).
pub fn tier() -> bool {
    use crate::tier::Tier;
    crate::tier::runs(&[Tier::ApiServer, Tier::Python, Tier::Pods])
}

/// A running stand-in, stopped (with every pod) when dropped.
pub struct Node {
    child: Child,
    stdin: Option<ChildStdin>,
    state: PathBuf,
    namespace: String,
}

impl Node {
    /// Starts the stand-in for `cluster` and waits for its Node to be Ready.
    pub fn start(cluster: &Cluster) -> Node {
        let state = cluster.dir().join("kubelet");
        let mut child = Command::new(built_program("kubelet-stand-in"))
            .arg("--kubeconfig")
            .arg(cluster.kubeconfig())
            .arg("--state")
            .arg(&state)
            .arg("--exit-with-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the kubelet stand-in starts");
        let stdin = child.stdin.take();
        let namespace = format!("psi{}-node", child.id());
        let mut node = Node { child, stdin, state, namespace };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = cluster.kubectl(
                &["get", "node", "stand-in", "-o", "jsonpath={.status.conditions[0].status}"],
                None,
            );
            if ready.stdout == "True"
                && std::path::Path::new("/run/netns").join(&node.namespace).exists()
            {
                return node;
            }
            if let Ok(Some(status)) = node.child.try_wait() {
                panic!("the kubelet stand-in exited ({status}); see its messages above");
            }
            assert!(
                Instant::now() < deadline,
                "the kubelet stand-in did not register its Node in 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs `program` in the node's network namespace, where Service cluster IPs and pod IPs
    /// answer (as `kubectl port-forward` would let a user reach them).
    pub fn run(&self, program: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.namespace])
            .arg(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("ip netns exec runs")
    }

    /// The container logs and command lines the node wrote that contain `text`.
    pub fn logs_containing(&self, text: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut folders = vec![self.state.join("pods")];
        while let Some(folder) = folders.pop() {
            let Ok(entries) = std::fs::read_dir(&folder) else { continue };
            for path in entries.filter_map(Result::ok).map(|e| e.path()) {
                let is_log = path.extension().is_some_and(|e| e == "log" || e == "command");
                if path.is_dir() && !path.ends_with("volumes") {
                    folders.push(path);
                } else if is_log
                    && std::fs::read(&path)
                        .is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(text))
                {
                    found.push(path);
                }
            }
        }
        found
    }

    /// The logs of every container of `namespace` so far, newest start last: for the message
    /// of a failed test.
    pub fn logs(&self, namespace: &str) -> String {
        let mut out = String::new();
        let Ok(pods) = std::fs::read_dir(self.state.join("pods")) else { return out };
        let mut pods: Vec<PathBuf> = pods.filter_map(Result::ok).map(|e| e.path()).collect();
        pods.sort();
        for pod in pods {
            let name = pod.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if !name.starts_with(&format!("{namespace}_")) {
                continue;
            }
            let Ok(containers) = std::fs::read_dir(pod.join("logs")) else { continue };
            for container in containers.filter_map(Result::ok) {
                let Ok(files) = std::fs::read_dir(container.path()) else { continue };
                let mut files: Vec<PathBuf> = files
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "log"))
                    .collect();
                files.sort();
                for file in files {
                    let text = std::fs::read_to_string(&file).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(40).collect();
                    out.push_str(&format!(
                        "--- {name} {} {}\n",
                        container.file_name().to_string_lossy(),
                        file.file_name().unwrap_or_default().to_string_lossy()
                    ));
                    for line in tail.into_iter().rev() {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
