//! The kubelet stand-in behaves like a node where the tests rely on it: a pod's user without a
//! name in the image, a read-only root, the environment the kubelet composes, mounted Secrets,
//! cluster DNS with search paths, Services that reach only the pods they select, and a missing
//! reference that stops a container; the API server reaches pods (its Service proxy), and
//! stand-ins that run at once each route their own pod subnet; `kubectl logs` (with
//! `--previous`) and kube-rs's port-forward go through the API server to the node's kubelet
//! API. A fake that passed what a node refuses would make every test of the tier `running`
//! worthless.

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

/// A web server, and a container that prints which run it is and fails its first run.
const KUBELET_API_OBJECTS: &str = r#"
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: kubelet-api }
spec:
  containers:
    - name: web
      image: prefecthq/prefect:3.9.1-python3.12
      command: [python, -m, http.server, "8000", --directory, /tmp]
      readinessProbe: { tcpSocket: { port: 8000 }, periodSeconds: 1 }
---
apiVersion: v1
kind: Pod
metadata: { name: again, namespace: kubelet-api }
spec:
  containers:
    - name: again
      image: postgres:17
      command: [sh, -c]
      args:
        - |
          run=$(( $(cat /count/runs 2>/dev/null || echo 0) + 1 ))
          echo "$run" > /count/runs
          echo "run $run"
          echo "run $run ends"
          [ "$run" -ge 2 ] && exec sleep 3600
          exit 1
      volumeMounts: [{ name: count, mountPath: /count }]
  volumes: [{ name: count, emptyDir: {} }]
"#;

/// What the product reads through the API server reaches the node: a container's runs
/// (`pods/log`) and a pod's port (`pods/portforward`, kube-rs's WebSocket).
#[test]
fn the_api_server_reads_logs_and_forwards_ports_through_the_node() {
    if !crate::node::tier() {
        return;
    }
    let cluster = Cluster::start();
    let node = Node::start(&cluster);
    let namespace = "kubelet-api";
    cluster.kubectl(&["create", "namespace", namespace], None).ok();
    cluster.kubectl(&["apply", "-f", "-"], Some(KUBELET_API_OBJECTS)).ok();
    let get = |name: &str, path: &str| {
        let jsonpath = format!("jsonpath={path}");
        cluster.kubectl(&["get", "pod", name, "-n", namespace, "-o", &jsonpath], None).stdout
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    while get("web", "{.status.containerStatuses[0].ready}") != "true"
        || get("again", "{.status.containerStatuses[0].restartCount}") != "1"
        || get("again", "{.status.containerStatuses[0].state.running}").is_empty()
    {
        assert!(Instant::now() < deadline, "the pods did not settle:\n{}", node.logs(namespace));
        std::thread::sleep(Duration::from_millis(500));
    }

    let logs =
        |args: &[&str]| cluster.kubectl(&[&["logs", "-n", namespace][..], args].concat(), None);
    assert_eq!(logs(&["again"]).ok(), "run 2\nrun 2 ends\n");
    assert_eq!(logs(&["again", "--previous"]).ok(), "run 1\nrun 1 ends\n");
    assert_eq!(logs(&["again", "--tail=1"]).ok(), "run 2 ends\n");
    let never_restarted = logs(&["web", "--previous"]);
    assert_ne!(never_restarted.code, 0);
    assert!(
        never_restarted
            .stderr
            .contains(r#"previous terminated container "web" in pod "web" not found"#),
        "{}",
        never_restarted.stderr
    );

    let answer = port_forward(&cluster, namespace, "web", 8000, Some(b"GET / HTTP/1.0\r\n\r\n"));
    let answer = answer.unwrap_or_else(|err| panic!("the port-forward failed: {err}"));
    assert!(answer.starts_with("HTTP/1.0 200 OK\r\n"), "{answer}");
    assert!(answer.contains("<title>Directory listing for /</title>"), "{answer}");

    let refused = port_forward(&cluster, namespace, "web", 9, None).expect_err("nothing on 9");
    assert!(refused.starts_with("error forwarding port 9 to pod web, uid "), "{refused}");
    assert!(refused.contains("refused"), "{refused}");

    // A client that goes away takes the node's connection to the pod with it.
    let web = format!("{}:8000", get("web", "{.status.podIP}"));
    let connections = || {
        let out = node.run(
            std::path::Path::new("/usr/bin/ss"),
            &["-Htn", "state", "established", "dst", &web],
            &[],
        );
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut forwarder = pods(&cluster, namespace).await.portforward("web", &[8000]).await;
        let forwarder = forwarder.as_mut().expect("a port-forward");
        let until = |want: usize, what: &str| {
            let deadline = Instant::now() + Duration::from_secs(20);
            while connections() != want {
                assert!(Instant::now() < deadline, "{what}: {} connections", connections());
                std::thread::sleep(Duration::from_millis(200));
            }
        };
        until(1, "the node did not connect to the pod");
        forwarder.abort();
        tokio::time::sleep(Duration::from_millis(100)).await;
        until(0, "the connection to the pod outlived the port-forward");
    });
}

/// The pods of `namespace`, through kube-rs, as the product reads them.
async fn pods(cluster: &Cluster, namespace: &str) -> kube::Api<k8s_openapi::api::core::v1::Pod> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let kubeconfig = Kubeconfig::read_from(cluster.kubeconfig()).expect("a kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a client configuration");
    kube::Api::namespaced(kube::Client::try_from(config).expect("a client"), namespace)
}

/// Sends `request` through a kube-rs port-forward to `port` of `pod` and reads the answer
/// until the pod closes the connection; or, without a request, the port's error.
fn port_forward(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    port: u16,
    request: Option<&[u8]>,
) -> Result<String, String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let pods = pods(cluster, namespace).await;
        let mut forwarder = pods.portforward(pod, &[port]).await.map_err(|e| e.to_string())?;
        let mut stream = forwarder.take_stream(port).expect("the port's stream");
        let error = forwarder.take_error(port).expect("the port's errors");
        let Some(request) = request else {
            let error = tokio::time::timeout(Duration::from_secs(30), error).await;
            return Err(error.ok().flatten().unwrap_or_else(|| "no error".to_owned()));
        };
        stream.write_all(request).await.map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer));
        tokio::select! {
            biased;
            read = read => {
                read.map_err(|_| "no answer in 30 s".to_owned())?.map_err(|e| e.to_string())?;
            }
            Some(error) = error => return Err(error),
        }
        Ok(String::from_utf8_lossy(&answer).into_owned())
    })
}
