//! Probes, run as the kubelet runs them: `httpGet` and `tcpSocket` from the node's network
//! namespace to the pod IP (a named port is the container's port of that name), a status from
//! 200 to 399 passing; `exec` inside the running container, as its user, with its environment;
//! each within `timeoutSeconds`.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use k8s_openapi::{
    api::core::v1::{ContainerPort, Probe},
    apimachinery::pkg::util::intstr::IntOrString,
};

use crate::network::NodeNetwork;

/// How to reach one running container.
#[derive(Clone)]
pub struct Target {
    /// The node network, where HTTP and TCP probes start.
    pub node: Arc<NodeNetwork>,
    /// The pod IP.
    pub pod_ip: Ipv4Addr,
    /// The container's ports, for named ports.
    pub ports: Vec<ContainerPort>,
    /// The command prefix that enters the container as its user (`nsenter ... setpriv ...
    /// --`), and its environment, for `exec` probes.
    pub enter: Vec<String>,
    /// The container's environment.
    pub env: Vec<(String, String)>,
}

/// Runs `probe` once: `Ok` when it passes, else why not.
pub async fn run(probe: &Probe, target: &Target) -> Result<(), String> {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(exec) = &probe.exec {
        let command = exec.command.clone().unwrap_or_default();
        let mut process = tokio::process::Command::new(&target.enter[0]);
        process
            .args(&target.enter[1..])
            .args(&command)
            .env_clear()
            .envs(target.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        return match tokio::time::timeout(timeout, process.output()).await {
            Err(_) => Err(format!("command {command:?} timed out")),
            Ok(Err(err)) => Err(format!("command {command:?} could not run: {err}")),
            Ok(Ok(out)) if out.status.success() => Ok(()),
            Ok(Ok(out)) => Err(format!(
                "command {command:?} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        };
    }
    if let Some(http) = &probe.http_get {
        if http.scheme.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("https")) {
            return Err("HTTPS probes are not run by the kubelet stand-in".to_owned());
        }
        let port = port(&http.port, &target.ports)?;
        let host = http.host.clone().unwrap_or_else(|| target.pod_ip.to_string());
        let address: SocketAddr = format!("{host}:{port}")
            .parse()
            .map_err(|_| format!("probe host {host} is not an address"))?;
        let mut request = format!(
            "GET {} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.20\r\nAccept: */*\r\nConnection: close\r\n",
            http.path.as_deref().unwrap_or("/")
        );
        for header in http.http_headers.iter().flatten() {
            request.push_str(&format!("{}: {}\r\n", header.name, header.value));
        }
        request.push_str("\r\n");
        let node = target.node.clone();
        return blocking(move || {
            let mut stream = node.connect(address, timeout).map_err(|err| {
                format!(
                    "Get \"http://{address}{}\": {err}",
                    request.split(' ').nth(1).unwrap_or("")
                )
            })?;
            stream.set_read_timeout(Some(timeout)).ok();
            stream.set_write_timeout(Some(timeout)).ok();
            stream.write_all(request.as_bytes()).map_err(|err| err.to_string())?;
            let mut head = [0u8; 64];
            let read = stream.read(&mut head).map_err(|err| format!("no answer: {err}"))?;
            let line = String::from_utf8_lossy(&head[..read]);
            let code: u16 = line
                .split(' ')
                .nth(1)
                .and_then(|code| code.parse().ok())
                .ok_or_else(|| format!("not an HTTP answer: {line:?}"))?;
            if (200..400).contains(&code) {
                Ok(())
            } else {
                Err(format!("HTTP probe failed with statuscode: {code}"))
            }
        })
        .await;
    }
    if let Some(tcp) = &probe.tcp_socket {
        let port = port(&tcp.port, &target.ports)?;
        let host = tcp.host.clone().unwrap_or_else(|| target.pod_ip.to_string());
        let address: SocketAddr = format!("{host}:{port}")
            .parse()
            .map_err(|_| format!("probe host {host} is not an address"))?;
        let node = target.node.clone();
        return blocking(move || {
            node.connect(address, timeout)
                .map(drop)
                .map_err(|err| format!("dial tcp {address}: {err}"))
        })
        .await;
    }
    Err("a probe without a handler".to_owned())
}

async fn blocking(
    work: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Result<(), String> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|err| Err(err.to_string()))
}

/// A probe's port: a number, or the container port of that name.
fn port(port: &IntOrString, ports: &[ContainerPort]) -> Result<u16, String> {
    match port {
        IntOrString::Int(number) => Ok(*number as u16),
        IntOrString::String(name) => ports
            .iter()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port as u16)
            .ok_or_else(|| format!("port \"{name}\" is not a port of the container")),
    }
}
