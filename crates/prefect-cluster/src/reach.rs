//! HTTP requests to a service inside the cluster, with no port of the user's own: through the
//! API server's service proxy, or through a port-forward to one of the service's pods.
//!
//! The proxy needs only `get`/`create` on `services/proxy`. But the API server removes the
//! `Authorization` header of every request once it has authenticated it, so a service that
//! checks credentials of its own (Prefect's basic auth) never sees them through the proxy: such
//! requests go through a port-forward (`pods/portforward`), where the bytes reach the pod as
//! they were written.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use serde_json::Value;

use crate::{Cluster, Error, Result};

/// How long one request may take, connection included, before it is given up.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Through the API server's proxy to one of the Service's ready endpoints.
    ServiceProxy {
        /// The Service's namespace.
        namespace: String,
        /// The Service.
        service: String,
        /// The Service port's name or number.
        port: String,
    },
    /// Through a port-forward to one pod.
    PortForward {
        /// The pod's namespace.
        namespace: String,
        /// The pod.
        pod: String,
        /// The container port.
        port: u16,
    },
}

impl Route {
    /// `the API server's proxy to Service prefect/prefect-server port 4200`, as messages
    /// name it.
    pub fn describe(&self) -> String {
        match self {
            Route::ServiceProxy { namespace, service, port } => {
                format!("the API server's proxy to Service {namespace}/{service} port {port}")
            }
            Route::PortForward { namespace, pod, port } => {
                format!("a port-forward to Pod {namespace}/{pod} port {port}")
            }
        }
    }
}

/// What the service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// One request.
#[derive(Debug, Clone)]
pub struct HttpRequest<'a> {
    /// `GET`, `POST`...
    pub method: Method,
    /// The path on the service, `/api/health`.
    pub path: &'a str,
    /// A JSON body.
    pub body: Option<&'a Value>,
    /// `Authorization`'s value; only a port-forward carries it.
    pub authorization: Option<&'a str>,
}

impl HttpRequest<'_> {
    /// The body's bytes, and `builder` with its content type.
    fn with_body(&self, builder: http::request::Builder) -> (http::request::Builder, Vec<u8>) {
        match self.body {
            Some(body) => (
                builder.header(http::header::CONTENT_TYPE, "application/json"),
                serde_json::to_vec(body).unwrap_or_default(),
            ),
            None => (builder, Vec::new()),
        }
    }
}

impl Cluster {
    /// Sends `request` along `route`. `Ok` is whatever the service answered, errors included;
    /// `Err` is a request that never reached it (no ready endpoint, no right, a timeout), said so.
    pub async fn http(&self, route: &Route, request: &HttpRequest<'_>) -> Result<Reply> {
        let action = format!("{} {} through {}", request.method, request.path, route.describe());
        let sent = async {
            match route {
                Route::ServiceProxy { namespace, service, port } => {
                    self.through_proxy(namespace, service, port, request, &action).await
                }
                Route::PortForward { namespace, pod, port } => {
                    self.through_port_forward(namespace, pod, *port, request, &action).await
                }
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, sent).await.unwrap_or_else(|_| {
            Err(Error::Api {
                action,
                reason: format!("no answer in {} s", REQUEST_TIMEOUT.as_secs()),
                code: 0,
            })
        })
    }

    async fn through_proxy(
        &self,
        namespace: &str,
        service: &str,
        port: &str,
        request: &HttpRequest<'_>,
        action: &str,
    ) -> Result<Reply> {
        let uri = format!(
            "/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{}",
            request.path
        );
        let (builder, body) =
            request.with_body(Request::builder().method(request.method.clone()).uri(uri));
        let built = builder.body(kube::client::Body::from(body)).map_err(|err| Error::Api {
            action: action.to_owned(),
            reason: err.to_string(),
            code: 0,
        })?;
        let response = self.client.send(built).await.map_err(|err| Error::api(action, err))?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|err| Error::Api {
            action: action.to_owned(),
            reason: crate::error::one_line(&err.to_string()),
            code: 0,
        })?;
        let reply = Reply { status, body: body.to_bytes().to_vec() };
        match api_server_refusal(&reply) {
            Some(reason) => Err(Error::Api { action: action.to_owned(), reason, code: status }),
            None => Ok(reply),
        }
    }

    async fn through_port_forward(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
        request: &HttpRequest<'_>,
        action: &str,
    ) -> Result<Reply> {
        let failed = |reason: String| Error::Api { action: action.to_owned(), reason, code: 0 };
        let pods: Api<Pod> = Api::namespaced(self.upgrading_client()?, namespace);
        let mut forwarder = pods
            .portforward(pod, &[port])
            .await
            .map_err(|err| Error::api(action.to_owned(), err))?;
        let stream = forwarder
            .take_stream(port)
            .ok_or_else(|| failed("the port-forward opened no stream".into()))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|err| failed(err.to_string()))?;
        let driving = tokio::spawn(connection);
        let mut builder = Request::builder()
            .method(request.method.clone())
            .uri(request.path)
            .header(http::header::HOST, format!("localhost:{port}"));
        if let Some(authorization) = request.authorization {
            builder = builder.header(http::header::AUTHORIZATION, authorization);
        }
        let (builder, body) = request.with_body(builder);
        let built =
            builder.body(Full::new(Bytes::from(body))).map_err(|err| failed(err.to_string()))?;
        let answered = async {
            let response = sender.send_request(built).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes().to_vec();
            Ok::<_, hyper::Error>(Reply { status, body })
        }
        .await;
        drop(sender);
        driving.abort();
        forwarder.abort();
        answered.map_err(|err| failed(crate::error::one_line(&err.to_string())))
    }
}

/// The API server's own refusal (a `v1` `Status`), said for people: no ready endpoint, no
/// right to use the proxy, no such Service, a pod that refused the connection. `None` when the
/// reply is the service's.
fn api_server_refusal(reply: &Reply) -> Option<String> {
    if reply.status < 400 {
        return None;
    }
    let status = reply.json()?;
    if status["kind"] != "Status" || status["apiVersion"] != "v1" {
        return None;
    }
    let message = status["message"].as_str().unwrap_or_default();
    Some(match reply.status {
        503 if message.starts_with("no endpoints available") => {
            format!("{message}: no pod behind it is ready")
        }
        403 => format!(
            "forbidden: {message} (the proxy needs `get` and `create` on `services/proxy` in the \
             namespace)"
        ),
        _ => message.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_servers_refusals_are_told_from_the_services_answers() {
        let refusal = |status: u16, body: &str| {
            api_server_refusal(&Reply { status, body: body.as_bytes().to_vec() })
        };
        assert_eq!(
            refusal(
                503,
                r#"{"kind":"Status","apiVersion":"v1","message":"no endpoints available for service \"prefect-server:4200\"","code":503}"#
            ),
            Some(
                "no endpoints available for service \"prefect-server:4200\": no pod behind it is \
                 ready"
                    .to_owned()
            )
        );
        assert!(refusal(403, r#"{"kind":"Status","apiVersion":"v1","message":"services \"prefect-server\" is forbidden"}"#).unwrap().contains("services/proxy"));
        // Prefect's own 401 is the service's answer.
        assert_eq!(refusal(401, r#"{"exception_message":"Unauthorized"}"#), None);
        assert_eq!(refusal(200, "true"), None);
    }
}
