//! The parts of a release that `status` and `doctor` look at, found in its live objects by
//! the labels and names the first-party plugins promise (`app.kubernetes.io/component`
//! `server` and `worker`, containers `prefect-server` and `prefect-worker`), so that a
//! third-party plugin that makes a server or worker the same way is understood too.

use prefect_manifest::ResourceKey;
use serde_json::Value;

const COMPONENT: &str = "app.kubernetes.io/component";

/// The release's Prefect parts, as they are in the cluster.
#[derive(Debug, Default)]
pub struct Stack {
    /// The release's namespace.
    pub namespace: String,
    /// The release's server, if it has one.
    pub server: Option<Server>,
    /// Every worker (or agent) Deployment.
    pub workers: Vec<Worker>,
    /// Every PersistentVolumeClaim the release makes, live (`None`: not in the cluster).
    pub claims: Vec<(String, Option<Value>)>,
    /// The RoleBindings and ClusterRoleBindings the release makes, live.
    pub bindings: Vec<Value>,
}

/// The server: its Deployment's container and its Service.
#[derive(Debug)]
pub struct Server {
    /// Its `prefect-server` container (in the pod template).
    pub container: Value,
    /// The live Service in front of it.
    pub service: Option<Value>,
}

/// A worker Deployment.
#[derive(Debug)]
pub struct Worker {
    /// The Deployment's name.
    pub name: String,
    /// Its `prefect-worker` container (in the pod template).
    pub container: Value,
    /// The work pool it polls (`--pool`).
    pub pool: Option<String>,
    /// Its ServiceAccount.
    pub service_account: String,
}

impl Stack {
    /// The parts among `live` (the release's objects, each with its live state).
    pub fn find(namespace: &str, live: &[(ResourceKey, Option<Value>)]) -> Stack {
        let mut stack = Stack { namespace: namespace.to_owned(), ..Stack::default() };
        let component =
            |object: &Value| object["metadata"]["labels"][COMPONENT].as_str().map(str::to_owned);
        let mut server_service = None;
        for (key, object) in live {
            match (key.kind.as_str(), object) {
                ("PersistentVolumeClaim", _) => {
                    stack.claims.push((key.name.clone(), object.clone()))
                }
                ("RoleBinding" | "ClusterRoleBinding", Some(object)) => {
                    stack.bindings.push(object.clone());
                }
                ("Service", Some(object)) if component(object).as_deref() == Some("server") => {
                    server_service.get_or_insert_with(|| object.clone());
                }
                ("Deployment", Some(object)) => match component(object).as_deref() {
                    Some("server") if stack.server.is_none() => {
                        stack.server = Some(Server {
                            container: container(object, "prefect-server"),
                            service: None,
                        });
                    }
                    Some("worker") => {
                        let container = container(object, "prefect-worker");
                        let pool = pool(&container);
                        let spec = &object["spec"]["template"]["spec"];
                        stack.workers.push(Worker {
                            name: key.name.clone(),
                            container,
                            pool,
                            service_account: spec["serviceAccountName"]
                                .as_str()
                                .unwrap_or("default")
                                .to_owned(),
                        });
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        if let Some(server) = &mut stack.server {
            server.service = server_service;
        }
        stack
    }

    /// The namespaces in which `service_account` (of the release's namespace) may create Jobs
    /// through the release's own bindings; `None` means every namespace (a ClusterRoleBinding).
    pub fn job_namespaces(&self, service_account: &str) -> Option<Vec<String>> {
        let mut namespaces = Vec::new();
        for binding in &self.bindings {
            let binds = binding["subjects"].as_array().into_iter().flatten().any(|s| {
                s["kind"] == "ServiceAccount"
                    && s["name"] == service_account
                    && s["namespace"].as_str().unwrap_or(&self.namespace) == self.namespace
            });
            if !binds {
                continue;
            }
            if binding["kind"] == "ClusterRoleBinding" {
                return None;
            }
            if let Some(namespace) = binding["metadata"]["namespace"].as_str() {
                namespaces.push(namespace.to_owned());
            }
        }
        namespaces.sort();
        namespaces.dedup();
        Some(namespaces)
    }
}

/// The container `name` of a workload's pod template, else its first.
fn container(workload: &Value, name: &str) -> Value {
    let containers = workload["spec"]["template"]["spec"]["containers"].as_array();
    let containers = containers.map(Vec::as_slice).unwrap_or_default();
    containers
        .iter()
        .find(|c| c["name"] == name)
        .or(containers.first())
        .cloned()
        .unwrap_or_default()
}

/// The work pool of a worker's command line: `--pool NAME`, `--pool=NAME` or `-p NAME`.
pub fn pool(container: &Value) -> Option<String> {
    let words: Vec<&str> = ["command", "args"]
        .iter()
        .flat_map(|field| container[field].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    words.iter().enumerate().find_map(|(i, word)| match *word {
        "--pool" | "-p" => words.get(i + 1).map(|w| (*w).to_owned()),
        _ => word.strip_prefix("--pool=").map(str::to_owned),
    })
}

/// The Prefect version an image's tag says: `prefecthq/prefect:3.9.1-python3.12` → `3.9.1`;
/// `None` for `latest`, a digest, or a tag that does not start with a version.
pub fn image_version(image: &str) -> Option<String> {
    let name = image.split('@').next()?;
    // `registry:5000/prefect` has a port, not a tag.
    let (_, tag) = name.rsplit_once(':').filter(|(_, tag)| !tag.contains('/'))?;
    let version: String =
        tag.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect::<String>();
    let version = version.trim_end_matches('.');
    (version.split('.').count() >= 2 && version.split('.').all(|p| !p.is_empty()))
        .then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn versions_come_from_image_tags() {
        assert_eq!(image_version("prefecthq/prefect:3.9.1-python3.12").as_deref(), Some("3.9.1"));
        assert_eq!(
            image_version("prefecthq/prefect:2.20.3-python3.11-kubernetes").as_deref(),
            Some("2.20.3")
        );
        assert_eq!(image_version("registry:5000/prefect:3.1.0").as_deref(), Some("3.1.0"));
        assert_eq!(image_version("registry:5000/prefect"), None);
        assert_eq!(image_version("prefecthq/prefect:latest"), None);
        assert_eq!(image_version("prefecthq/prefect:3-python3.12"), None);
    }

    #[test]
    fn pools_come_from_the_command_line() {
        let worker = json!({ "args": ["prefect", "worker", "start", "--pool", "k8s", "--type", "kubernetes"] });
        assert_eq!(pool(&worker).as_deref(), Some("k8s"));
        assert_eq!(
            pool(&json!({ "args": ["prefect", "worker", "start", "--pool=a"] })).as_deref(),
            Some("a")
        );
        assert_eq!(pool(&json!({ "args": ["prefect", "agent", "start", "-q", "x"] })), None);
    }

    #[test]
    fn a_role_binding_covers_its_namespace_and_a_cluster_role_binding_every_one() {
        let binding = |kind: &str, namespace: &str| {
            json!({ "kind": kind, "metadata": { "namespace": namespace },
                "subjects": [{ "kind": "ServiceAccount", "name": "prefect-worker", "namespace": "prefect" }] })
        };
        let mut stack = Stack { namespace: "prefect".to_owned(), ..Stack::default() };
        stack.bindings = vec![binding("RoleBinding", "prefect"), binding("RoleBinding", "flows")];
        assert_eq!(
            stack.job_namespaces("prefect-worker"),
            Some(vec!["flows".to_owned(), "prefect".to_owned()])
        );
        assert_eq!(stack.job_namespaces("other"), Some(vec![]));
        stack.bindings.push(binding("ClusterRoleBinding", ""));
        assert_eq!(stack.job_namespaces("prefect-worker"), None);
    }
}
