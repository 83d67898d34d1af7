//! The kubelet stand-in behaves like a node where the tests rely on it: a pod's user without a
//! name in the image, a read-only root, the environment the kubelet composes, mounted Secrets,
//! cluster DNS with search paths, Services that reach only the pods they select, and a missing
//! reference that stops a container. A fake that passed what a node refuses would make every
//! test of the tier `running` worthless.

use std::time::{Duration, Instant};

use crate::{cluster::Cluster, node::Node};

const NAMESPACE: &str = "stand-in";

/// A web server in the Prefect image, the Services in front of it (one selecting it, one
/// selecting nothing), a Secret, and a pod that looks at its world and exits.
const OBJECTS: &str = r#"
apiVersion: v1
kind: Secret
metadata: { name: greeting, namespace: stand-in }
stringData: { word: "sesame" }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: stand-in, labels: { app: web } }
spec:
  containers:
    - name: web
      image: prefecthq/prefect:3.9.1-python3.12
      command: [python, -m, http.server, "8000", --directory, /tmp]
      ports: [{ name: http, containerPort: 8000 }]
      readinessProbe: { httpGet: { path: /, port: http }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: stand-in }
spec: { selector: { app: web }, ports: [{ port: 80, targetPort: http }] }
---
apiVersion: v1
kind: Service
metadata: { name: nobody, namespace: stand-in }
spec: { selector: { app: nobody }, ports: [{ port: 80, targetPort: 8000 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: look, namespace: stand-in }
spec:
  restartPolicy: Never
  securityContext: { runAsUser: 1001, runAsGroup: 1001, runAsNonRoot: true, fsGroup: 2000 }
  containers:
    - name: look
      image: postgres:17
      command: [sh, -c]
      args:
        - |
          echo "uid=$(id -u) groups=$(id -G)"
          whoami 2>/dev/null || echo "no name"
          touch /made-here 2>/dev/null || echo "read-only root"
          echo "env: $SAID"
          echo "secret: $(cat /secret/word) $(stat -c %g /secret/word)"
          getent hosts web | awk '{print "web is " $1}'
          getent hosts web.stand-in.svc.cluster.local > /dev/null && echo "fqdn resolves"
      env:
        - { name: WHO, valueFrom: { fieldRef: { fieldPath: metadata.name } } }
        - { name: SAID, value: "$(WHO) says $$(WHO)" }
      securityContext: { readOnlyRootFilesystem: true }
      volumeMounts: [{ name: secret, mountPath: /secret }]
  volumes: [{ name: secret, secret: { secretName: greeting } }]
---
apiVersion: v1
kind: Pod
metadata: { name: missing, namespace: stand-in }
spec:
  containers:
    - name: missing
      image: postgres:17
      env: [{ name: X, valueFrom: { secretKeyRef: { name: absent, key: k } } }]
"#;

#[test]
fn the_stand_in_runs_pods_as_a_node_would() {
    if !crate::node::tier() {
        return;
    }
    let cluster = Cluster::start();
    let node = Node::start(&cluster);
    cluster.kubectl(&["create", "namespace", NAMESPACE], None).ok();
    cluster.kubectl(&["apply", "-f", "-"], Some(OBJECTS)).ok();
    let get = |name: &str, path: &str| {
        cluster
            .kubectl(
                &["get", "pod", name, "-n", NAMESPACE, "-o", &format!("jsonpath={path}")],
                None,
            )
            .stdout
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    while get("look", "{.status.phase}") != "Succeeded"
        || get("web", "{.status.containerStatuses[0].ready}") != "true"
        || get("missing", "{.status.containerStatuses[0].state.waiting.reason}").is_empty()
    {
        assert!(Instant::now() < deadline, "the pods did not settle:\n{}", node.logs(NAMESPACE));
        std::thread::sleep(Duration::from_millis(500));
    }

    let web_ip = cluster
        .kubectl(
            &["get", "service", "web", "-n", NAMESPACE, "-o", "jsonpath={.spec.clusterIP}"],
            None,
        )
        .stdout;
    let logs = node.logs(NAMESPACE);
    let looked: Vec<&str> = logs
        .lines()
        .skip_while(|line| !line.contains("_look_"))
        .skip(1)
        .take_while(|line| !line.starts_with("---"))
        .collect();
    assert_eq!(
        looked,
        [
            "uid=1001 groups=1001 2000",
            "no name",
            "read-only root",
            "env: look says $(WHO)",
            "secret: sesame 2000",
            &format!("web is {web_ip}"),
            "fqdn resolves",
        ],
        "{logs}"
    );

    let waiting = "{.status.containerStatuses[0].state.waiting";
    assert_eq!(get("missing", &format!("{waiting}.reason}}")), "CreateContainerConfigError");
    assert_eq!(get("missing", &format!("{waiting}.message}}")), r#"secret "absent" not found"#);

    let curl = |service: &str| {
        let ip = cluster
            .kubectl(
                &["get", "service", service, "-n", NAMESPACE, "-o", "jsonpath={.spec.clusterIP}"],
                None,
            )
            .stdout;
        let out = node.run(
            std::path::Path::new("/usr/bin/curl"),
            &["-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://{ip}/")],
            &[],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl("web"), "200", "the Service reaches the pod it selects");
    assert_eq!(curl("nobody"), "000", "a Service that selects no pod reaches nothing");
}
