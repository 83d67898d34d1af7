//! The kubelet stand-in behaves like a node where the tests rely on it: a pod's user without a
//! name in the image, a read-only root, the environment the kubelet composes, mounted Secrets,
//! cluster DNS with search paths, Services that reach only the pods they select, and a missing
//! reference that stops a container; the API server reaches pods (its Service proxy), and
//! stand-ins that run at once each route their own pod subnet. A fake that passed what a node
//! refuses would make every test of the tier `running` worthless.

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

    // The API server, in this machine's network namespace, dials the pod's IP.
    let node_ip = internal_ip(&cluster);
    assert_eq!(get("web", "{.status.hostIP}"), node_ip);
    let pod_ip = get("web", "{.status.podIP}");
    assert_eq!(subnet_of(&pod_ip), subnet_of(&node_ip), "the pod is on the node's bridge");
    let proxied = format!("/api/v1/namespaces/{NAMESPACE}/services/web:80/proxy/");
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let run = cluster.kubectl(&["get", "--raw", &proxied], None);
        if run.code == 0 {
            break run.stdout;
        }
        assert!(
            Instant::now() < deadline,
            "the Service proxy did not reach the pod:\n{}",
            run.stderr
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(body.contains("<title>Directory listing for /</title>"), "{body}");
}

/// Two stand-ins at once (as the tests run) route two subnets of their own from this machine,
/// and take their routes with them when they stop.
#[test]
fn stand_ins_side_by_side_route_their_own_subnets() {
    if !crate::node::tier() {
        return;
    }
    let (one, two) = (Cluster::start(), Cluster::start());
    let (node_one, node_two) = (Node::start(&one), Node::start(&two));
    let subnets = [subnet_of(&internal_ip(&one)), subnet_of(&internal_ip(&two))];
    assert_ne!(subnets[0], subnets[1]);
    for subnet in &subnets {
        assert!(route(subnet).contains(" dev psi"), "no route to {subnet}: {}", route(subnet));
    }
    drop((node_one, node_two));
    for subnet in &subnets {
        assert_eq!(route(subnet), "", "the route to {subnet} outlived its stand-in");
    }
}

/// The Node's InternalIP: its address on the pod bridge.
fn internal_ip(cluster: &Cluster) -> String {
    let path = r#"jsonpath={.status.addresses[?(@.type=="InternalIP")].address}"#;
    cluster.kubectl(&["get", "node", "stand-in", "-o", path], None).ok()
}

/// `10.244.N.0/24` of an address `10.244.N.x`.
fn subnet_of(address: &str) -> String {
    let (network, _) =
        address.rsplit_once('.').unwrap_or_else(|| panic!("not an address: {address:?}"));
    format!("{network}.0/24")
}

/// This machine's route to `subnet`, if any.
fn route(subnet: &str) -> String {
    let out = std::process::Command::new("ip")
        .args(["-4", "route", "show", subnet])
        .output()
        .expect("ip runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
