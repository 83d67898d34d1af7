//! `/portForward/<namespace>/<pod>?port=P...` over a WebSocket: what kube-rs's
//! `Api::<Pod>::portforward` asks the API server for, and what a 1.20 API server passes on to
//! the kubelet as it came (it proxies the upgrade).
//!
//! The protocol is the kubelet's `v4.channel.k8s.io` (kube-rs offers `v5` first; a 1.20
//! kubelet, like this one, answers `v4`): every binary message starts with a channel byte;
//! the `i`-th port has the data channel `2i` and the error channel `2i + 1`, and the kubelet
//! first sends each channel its port number, two bytes little-endian. For each port the node
//! then connects to the pod IP, from the node namespace, and copies both ways; a connection
//! that fails is told on the error channel. When every connection to the pod has ended, the
//! WebSocket is closed; when the client closes it (or goes away), the connections are closed.
//!
//! SPDY (`Upgrade: SPDY/3.1`, what `kubectl port-forward` 1.32 falls back to against a 1.20
//! server) is not served: such a request is refused with a 400 that says so.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use futures::{SinkExt as _, StreamExt as _};
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, body::Incoming, header, upgrade::Upgraded};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::tcp::{OwnedReadHalf, OwnedWriteHalf},
    sync::mpsc,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Message, handshake::derive_accept_key, protocol::Role},
};

use crate::{
    kubelet_api::{Body, Refusal, find_pod},
    pod::Node,
};

/// The subprotocol a 1.20 kubelet answers with.
const V4: &str = "v4.channel.k8s.io";

/// How long a WebSocket that the node closed waits for the client's answer.
const LINGER: Duration = Duration::from_secs(10);

/// The ports of `?port=80&port=8000,9000`, as the kubelet reads them.
fn ports(query: &[(String, String)]) -> Result<Vec<u16>, Refusal> {
    let mut ports = Vec::new();
    for (_, value) in query.iter().filter(|(name, _)| name == "port") {
        if value.is_empty() {
            return Err(Refusal::bad_request("query parameter \"port\" cannot be empty"));
        }
        for part in value.split(',') {
            let port: u16 = part.parse().map_err(|err| {
                Refusal::bad_request(format!("unable to parse \"{value}\" as a port: {err}"))
            })?;
            if port == 0 {
                return Err(Refusal::bad_request(format!("port \"{value}\" must be > 0")));
            }
            ports.push(port);
        }
    }
    if ports.is_empty() {
        return Err(Refusal::bad_request("query parameter \"port\" is required"));
    }
    Ok(ports)
}

/// Which subprotocol to answer among those offered: `v4.channel.k8s.io`, or none when none is
/// offered (the kubelet's unnamed binary protocol, framed the same).
fn subprotocol(offered: Option<&str>) -> Result<Option<&'static str>, Refusal> {
    let Some(offered) = offered.filter(|o| !o.trim().is_empty()) else { return Ok(None) };
    if offered.split(',').any(|p| p.trim() == V4) {
        return Ok(Some(V4));
    }
    Err(Refusal::bad_request(format!(
        "the kubelet stand-in forwards ports with the WebSocket subprotocol {V4} only, not {offered}"
    )))
}

/// Answers the upgrade (101) and forwards the ports on the WebSocket it becomes.
pub async fn upgrade(
    node: Arc<Node>,
    namespace: &str,
    name: &str,
    query: &[(String, String)],
    request: Request<Incoming>,
) -> Result<Response<Body>, Refusal> {
    let headers = request.headers();
    let value = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let upgrade = value(header::UPGRADE).unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Ok(not_websocket(upgrade));
    }
    let key = value(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| Refusal::bad_request("a WebSocket upgrade without Sec-WebSocket-Key"))?;
    let accept = derive_accept_key(key.as_bytes());
    let protocol = subprotocol(value(header::SEC_WEBSOCKET_PROTOCOL))?;
    let ports = ports(query)?;
    let pod = find_pod(&node, namespace, name).await?;
    let ip: Ipv4Addr = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .and_then(|ip| ip.parse().ok())
        .ok_or_else(|| Refusal::bad_request(format!("pod \"{name}\" has no IP address yet")))?;
    let target = Target {
        node,
        ip,
        ports,
        pod: name.to_owned(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
    };
    let upgraded = hyper::upgrade::on(request);
    tokio::spawn(async move {
        match upgraded.await {
            Ok(upgraded) => {
                let socket =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                forward(socket, target).await;
            }
            Err(err) => eprintln!("kubelet stand-in: port-forward to {}: {err}", target.pod),
        }
    });
    let mut response = Response::new(Full::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, header::HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, header::HeaderValue::from_static("Upgrade"));
    headers.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        header::HeaderValue::from_str(&accept).map_err(|err| Refusal::internal(err.to_string()))?,
    );
    if let Some(protocol) = protocol {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, header::HeaderValue::from_static(protocol));
    }
    Ok(response)
}

/// The refusal of an upgrade to SPDY (or of no upgrade), as a `v1` `Status`: the form in which
/// `kubectl port-forward` shows a refusal's message.
fn not_websocket(upgrade: &str) -> Response<Body> {
    let message = format!(
        "the kubelet stand-in forwards ports over a WebSocket ({V4}, as kube-rs asks), not over \
         {}: SPDY is not served",
        if upgrade.is_empty() { "a request without an upgrade" } else { upgrade }
    );
    let status = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": "BadRequest", "code": 400,
    });
    let mut response = Response::new(Full::new(status.to_string().into()));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    response
}

/// Where the forwarded ports lead.
struct Target {
    node: Arc<Node>,
    ip: Ipv4Addr,
    ports: Vec<u16>,
    pod: String,
    uid: String,
}

/// A binary message on `channel`.
fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(data);
    Message::binary(bytes)
}

/// Runs one port-forward session until both sides are done.
async fn forward(mut socket: WebSocketStream<TokioIo<Upgraded>>, target: Target) {
    // Each channel's port first: kube-rs refuses data on a channel that has not had it.
    for (index, port) in target.ports.iter().enumerate() {
        for channel in [2 * index, 2 * index + 1] {
            if socket.send(frame(channel as u8, &port.to_le_bytes())).await.is_err() {
                return;
            }
        }
    }
    let (to_client, mut outgoing) = mpsc::channel::<Message>(16);
    let mut writers: Vec<Option<OwnedWriteHalf>> = Vec::new();
    let mut readers = tokio::task::JoinSet::new();
    for (index, &port) in target.ports.iter().enumerate() {
        let data = (2 * index) as u8;
        match connect(&target.node, SocketAddr::from((target.ip, port))).await {
            Ok(stream) => {
                let (read, write) = stream.into_split();
                writers.push(Some(write));
                let failed = error_line(&target, port);
                readers.spawn(from_pod(read, data, failed, to_client.clone()));
            }
            Err(err) => {
                writers.push(None);
                let line = format!("{}: {err}", error_line(&target, port));
                let _ = to_client.send(frame(data + 1, line.as_bytes())).await;
            }
        }
    }
    // The sender of the last connection to end ends `outgoing`.
    drop(to_client);

    let (mut sink, mut from_client) = socket.split();
    // What the pod says goes to the client on its own task, so that a pod that does not read
    // what it is sent cannot stop its answers.
    let mut sending = tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            if sink.send(message).await.is_err() {
                return;
            }
        }
        // Every connection to the pod has ended: so does the session.
        let _ = sink.send(Message::Close(None)).await;
    });
    let mut closed_at = None;
    loop {
        let linger = async {
            match closed_at {
                Some(at) => tokio::time::sleep_until(at + LINGER).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            message = from_client.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    let Some((&channel, data)) = bytes.split_first() else { continue };
                    if channel % 2 == 0
                        && !data.is_empty()
                        && let Some(slot) = writers.get_mut(usize::from(channel / 2))
                        && let Some(writer) = slot
                        && writer.write_all(data).await.is_err()
                    {
                        *slot = None;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = &mut sending, if closed_at.is_none() => {
                closed_at = Some(tokio::time::Instant::now());
            }
            _ = linger => break,
        }
    }
    // The client closed or went away: so do the connections to the pod.
    readers.abort_all();
    drop(writers);
    sending.abort();
}

/// The kubelet's words for a port that cannot be forwarded, before the cause.
fn error_line(target: &Target, port: u16) -> String {
    format!("error forwarding port {port} to pod {}, uid {}", target.pod, target.uid)
}

/// A connection from the node namespace to the pod.
async fn connect(node: &Arc<Node>, address: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let network = node.network.clone();
    let stream =
        tokio::task::spawn_blocking(move || network.connect(address, Duration::from_secs(5)))
            .await
            .map_err(std::io::Error::other)??;
    stream.set_nonblocking(true)?;
    tokio::net::TcpStream::from_std(stream)
}

/// Copies what the pod sends to the client on `channel`; a failure is told on the error
/// channel.
async fn from_pod(
    mut read: OwnedReadHalf,
    channel: u8,
    failed: String,
    to_client: mpsc::Sender<Message>,
) {
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        match read.read(&mut buffer).await {
            Ok(0) => return,
            Ok(n) => {
                if to_client.send(frame(channel, &buffer[..n])).await.is_err() {
                    return;
                }
            }
            Err(err) => {
                let line = format!("{failed}: {err}");
                let _ = to_client.send(frame(channel + 1, line.as_bytes())).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn ports_are_read_as_the_kubelet_reads_them() {
        assert_eq!(
            ports(&query(&[("port", "80"), ("port", "8000,9000")])).unwrap(),
            [80, 8000, 9000]
        );
        let refused = |pairs: &[(&str, &str)]| ports(&query(pairs)).unwrap_err().message;
        assert_eq!(refused(&[]), "query parameter \"port\" is required");
        assert_eq!(refused(&[("port", "0")]), "port \"0\" must be > 0");
        assert!(refused(&[("port", "http")]).starts_with("unable to parse \"http\" as a port"));
    }

    #[test]
    fn v4_is_answered_to_what_kube_rs_offers() {
        assert_eq!(subprotocol(Some("v5.channel.k8s.io, v4.channel.k8s.io")).unwrap(), Some(V4));
        assert_eq!(subprotocol(None).unwrap(), None);
        assert!(subprotocol(Some("SPDY/3.1+portforward.k8s.io")).is_err());
    }
}
