//! The kubelet's HTTPS API, the part the API server proxies to: `pods/log` becomes
//! `GET /containerLogs/<namespace>/<pod>/<container>` ([`container_logs`]) and
//! `pods/portforward` becomes `/portForward/<namespace>/<pod>` ([`port_forward`]), sent to the
//! Node's InternalIP at the port of its `status.daemonEndpoints.kubeletEndpoint`.
//!
//! The test API server (`../shared/k8s/start.sh`) has neither `--kubelet-certificate-authority`
//! nor `--kubelet-client-certificate`: it does not verify the kubelet's certificate and shows
//! none of its own. So the certificate here is self-signed, made at start, and nobody is
//! authenticated: what a kubelet with anonymous access would serve, which is why the server
//! listens on the node's own address only, never on this machine's.
//!
//! [`container_logs`]: crate::container_logs
//! [`port_forward`]: crate::port_forward

use std::{
    convert::Infallible,
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode, body::Incoming, header, server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        self,
        pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};

use crate::{container_logs, pod::Node, port_forward};

/// The kubelet's port, as a real node's.
pub const PORT: u16 = 10250;

/// A reply's body.
pub type Body = Full<Bytes>;

/// An answer other than success, in the words a kubelet uses: a status and a line of text
/// (the API server hands the text of a 400 to `kubectl` as the error's message).
#[derive(Debug)]
pub struct Refusal {
    /// The HTTP status.
    pub status: StatusCode,
    /// What is wrong, in a line.
    pub message: String,
}

impl Refusal {
    /// 400: the request cannot be answered as asked (no such run of the container, a bad
    /// parameter).
    pub fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    /// 404: no such pod or container on this node.
    pub fn not_found(message: impl Into<String>) -> Refusal {
        Refusal { status: StatusCode::NOT_FOUND, message: message.into() }
    }

    /// 500: the stand-in failed.
    pub fn internal(message: impl Into<String>) -> Refusal {
        Refusal { status: StatusCode::INTERNAL_SERVER_ERROR, message: message.into() }
    }

    fn response(self) -> Response<Body> {
        text(self.status, self.message)
    }
}

/// A plain-text reply.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Listens on `address` (the Node's InternalIP, in the node namespace) at [`PORT`] and serves
/// the API until the returned task is aborted.
pub fn serve(node: Arc<Node>, address: Ipv4Addr) -> Result<tokio::task::JoinHandle<()>> {
    let acceptor = TlsAcceptor::from(Arc::new(tls(address, &node.name)?));
    let listener = node
        .network
        .listen(SocketAddr::from((address, PORT)))
        .with_context(|| format!("listen on {address}:{PORT} in the node namespace"))?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    Ok(tokio::spawn(async move {
        loop {
            let connection = match listener.accept().await {
                Ok((connection, _)) => connection,
                Err(err) => {
                    eprintln!("kubelet stand-in: kubelet API: accept: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (acceptor, node) = (acceptor.clone(), node.clone());
            tokio::spawn(async move {
                let handshake =
                    tokio::time::timeout(Duration::from_secs(10), acceptor.accept(connection));
                let Ok(Ok(tls)) = handshake.await else { return };
                let service = service_fn(move |request| {
                    let node = node.clone();
                    async move { Ok::<_, Infallible>(answer(node, request).await) }
                });
                // `with_upgrades`: a port-forward's connection becomes its WebSocket.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .with_upgrades()
                    .await;
            });
        }
    }))
}

/// A self-signed certificate for the node's address and name; HTTP/1.1 only, as upgrades
/// need it.
fn tls(address: Ipv4Addr, node_name: &str) -> Result<rustls::ServerConfig> {
    let made = rcgen::generate_simple_self_signed(vec![address.to_string(), node_name.to_owned()])
        .context("make the kubelet's certificate")?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("the kubelet's TLS versions")?
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key)
        .context("the kubelet's certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Routes a request to what answers it.
async fn answer(node: Arc<Node>, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let answered = match (request.method(), parts.as_slice()) {
        (&Method::GET, ["containerLogs", namespace, pod, container]) => {
            container_logs::get(&node, namespace, pod, container, &query).await
        }
        // The API server adds the pod's uid when it knows it.
        (_, ["portForward", namespace, pod] | ["portForward", namespace, pod, _]) => {
            let (namespace, pod) = (namespace.to_string(), pod.to_string());
            port_forward::upgrade(node, &namespace, &pod, &query, request).await
        }
        _ => Err(Refusal::not_found(format!(
            "the kubelet stand-in serves /containerLogs and /portForward only, not {path}"
        ))),
    };
    answered.unwrap_or_else(Refusal::response)
}

/// The pod `namespace/name` if this node runs it, as the API has it now.
pub async fn find_pod(node: &Node, namespace: &str, name: &str) -> Result<Pod, Refusal> {
    let pod = Api::<Pod>::namespaced(node.client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|err| Refusal::internal(format!("read pod {namespace}/{name}: {err}")))?;
    match pod {
        Some(pod) if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(&node.name) => {
            Ok(pod)
        }
        _ => Err(Refusal::not_found(format!("pod \"{name}\" does not exist"))),
    }
}
