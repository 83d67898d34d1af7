//! Asking a Prefect server that runs in the cluster, without a port-forward of the user's
//! own: through the API server's service proxy, or, when the server wants basic auth (which
//! the proxy cannot carry), through a port-forward to one of its ready pods
//! ([`prefect_cluster::reach`]).

use base64::Engine as _;
use http::Method;
use prefect_cluster::reach::{HttpRequest, Route};
use serde_json::Value;

use crate::session::Session;

/// A Prefect API inside the cluster: a Service, its port, and the API's path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Address {
    /// The Service's namespace.
    pub namespace: String,
    /// The Service.
    pub service: String,
    /// The Service's port.
    pub port: u16,
    /// The API's path on it: `/api`.
    pub base: String,
}

impl Address {
    /// The address of an API URL such as a worker's `PREFECT_API_URL`
    /// (`http://prefect-server.prefect.svc:4200/api`); `Err` says why it is not a Service of
    /// this cluster.
    pub fn of_url(url: &str, namespace: &str) -> Result<Address, String> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("{url} is not a URL"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                (host, port.parse().map_err(|_| format!("{url} has a bad port"))?)
            }
            None => (authority, if scheme == "https" { 443 } else { 80 }),
        };
        let labels: Vec<&str> = host.split('.').collect();
        let in_cluster = match labels.as_slice() {
            [_] | [_, _] => true,
            [_, _, "svc", rest @ ..] => rest.is_empty() || rest.join(".") == "cluster.local",
            _ => false,
        };
        if !in_cluster || host == "localhost" || host.parse::<std::net::IpAddr>().is_ok() {
            return Err(format!("{url} is not a Service of this cluster"));
        }
        Ok(Address {
            namespace: labels.get(1).copied().unwrap_or(namespace).to_owned(),
            service: labels[0].to_owned(),
            port,
            base: format!("/{}", path.trim_end_matches('/')),
        })
    }

    /// The address of the release's server Service (its first port; the API under `/api`).
    pub fn of_service(service: &Value) -> Option<Address> {
        Some(Address {
            namespace: service["metadata"]["namespace"].as_str()?.to_owned(),
            service: service["metadata"]["name"].as_str()?.to_owned(),
            port: u16::try_from(service["spec"]["ports"][0]["port"].as_u64()?).ok()?,
            base: "/api".to_owned(),
        })
    }

    /// `Service prefect/prefect-server port 4200`.
    pub fn describe(&self) -> String {
        format!("Service {}/{} port {}", self.namespace, self.service, self.port)
    }
}

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// It never reached the server: no ready pod, no right, a timeout.
    Unreachable(String),
    /// The server answered with an error status.
    Status(u16, String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unreachable(why) => f.write_str(why),
            ApiError::Status(401, _) => f.write_str(
                "the server refused the credential (401 Unauthorized): its basic auth string and \
                 the one used here differ",
            ),
            ApiError::Status(status, body) => write!(f, "the server answered {status}: {body}"),
        }
    }
}

/// A way to one server, with the credential to show it.
pub struct Connection<'a> {
    session: &'a Session,
    route: Route,
    authorization: Option<String>,
    /// The server.
    pub address: Address,
}

impl<'a> Connection<'a> {
    /// The way to `address`, showing `auth_string` (Prefect's `user:password`) if given.
    pub fn open(
        session: &'a Session,
        address: &Address,
        auth_string: Option<&str>,
    ) -> Result<Connection<'a>, ApiError> {
        let authorization = auth_string.map(|auth| {
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(auth))
        });
        let route = match authorization {
            None => Route::ServiceProxy {
                namespace: address.namespace.clone(),
                service: address.service.clone(),
                port: address.port.to_string(),
            },
            Some(_) => port_forward(session, address)?,
        };
        Ok(Connection { session, route, authorization, address: address.clone() })
    }

    /// How requests go: `the API server's proxy to Service X` or `a port-forward to Pod X`.
    pub fn route(&self) -> String {
        self.route.describe()
    }

    /// `GET {base}{path}` as JSON.
    pub fn get(&self, path: &str) -> Result<Value, ApiError> {
        self.send(Method::GET, path, None)
    }

    /// `POST {base}{path}` with a JSON body, as JSON.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.send(Method::POST, path, Some(body))
    }

    fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        let path = format!("{}{path}", self.address.base);
        let request =
            HttpRequest { method, path: &path, body, authorization: self.authorization.as_deref() };
        let reply = self
            .session
            .block_on(self.session.cluster.http(&self.route, &request))
            .map_err(|err| ApiError::Unreachable(err.to_string()))?;
        if !(200..300).contains(&reply.status) {
            let body = String::from_utf8_lossy(&reply.body);
            return Err(ApiError::Status(reply.status, body.chars().take(200).collect()));
        }
        if reply.body.is_empty() {
            return Ok(Value::Null);
        }
        reply.json().ok_or_else(|| {
            ApiError::Unreachable(format!(
                "{} answered something that is not JSON: is it a Prefect server?",
                self.route.describe()
            ))
        })
    }
}

/// A port-forward to a ready pod behind `address`'s Service, on the container port its
/// Service port leads to.
fn port_forward(session: &Session, address: &Address) -> Result<Route, ApiError> {
    let unreachable = ApiError::Unreachable;
    let service = session
        .block_on(session.cluster.service(&address.namespace, &address.service))
        .map_err(|err| unreachable(err.to_string()))?
        .ok_or_else(|| unreachable(format!("{} does not exist", address.describe())))?;
    let spec = &service["spec"];
    let selector: Vec<String> = spec["selector"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    if selector.is_empty() {
        return Err(unreachable(format!("{} selects no pods", address.describe())));
    }
    let port = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["port"].as_u64() == Some(u64::from(address.port)))
        .ok_or_else(|| unreachable(format!("{} has no such port", address.describe())))?;
    let pods = session
        .block_on(session.cluster.pods(&address.namespace, &selector.join(",")))
        .map_err(|err| unreachable(err.to_string()))?;
    let ready = pods.iter().find(|pod| {
        let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
        conditions.into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
    });
    let Some(pod) = ready else {
        return Err(unreachable(format!(
            "no pod behind {} is ready ({} pods)",
            address.describe(),
            pods.len()
        )));
    };
    let container_port = match &port["targetPort"] {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(name) => pod.spec.iter().flat_map(|s| &s.containers).find_map(|c| {
            c.ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok())
        }),
        _ => Some(address.port),
    }
    .ok_or_else(|| unreachable(format!("the target port of {} is unknown", address.describe())))?;
    Ok(Route::PortForward {
        namespace: address.namespace.clone(),
        pod: pod.metadata.name.clone().unwrap_or_default(),
        port: container_port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_cluster_urls_name_a_service() {
        let address = Address::of_url("http://prefect-server.prefect.svc:4200/api", "x").unwrap();
        assert_eq!(address.describe(), "Service prefect/prefect-server port 4200");
        assert_eq!(address.base, "/api");
        let short = Address::of_url("http://prefect-server:4200/api/", "team").unwrap();
        assert_eq!((short.namespace.as_str(), short.base.as_str()), ("team", "/api"));
        let full = Address::of_url("http://s.ns.svc.cluster.local/prefix/api", "x").unwrap();
        assert_eq!((full.port, full.base.as_str()), (80, "/prefix/api"));
        assert!(
            Address::of_url("https://api.prefect.cloud/api/accounts/a/workspaces/w", "x").is_err()
        );
        assert!(Address::of_url("http://10.0.0.5:4200/api", "x").is_err());
        assert!(Address::of_url("http://localhost:4200/api", "x").is_err());
    }
}
