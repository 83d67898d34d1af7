//! [`Cluster`]: a client for the API server the kubeconfig names, which counts its requests.
//!
//! The kubeconfig is `--kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`, else the
//! in-cluster service account; the context is `--kube-context`, else the kubeconfig's current
//! one. The namespace a command works in is `-n`, else the context's, else `default`.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource;

use kube::{
    Client, Config,
    client::ClientBuilder,
    config::{KubeConfigOptions, Kubeconfig},
};
use tower::{Layer, Service};

use crate::{Error, Result};

/// A client for one API server, and the namespace the kubeconfig's context names.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) client: Client,
    default_namespace: String,
    server: String,
    requests: Arc<AtomicUsize>,
    /// The resources of each group version read so far: discovery is read once per command.
    pub(crate) resources: Arc<Mutex<BTreeMap<String, Vec<APIResource>>>>,
    /// For connection upgrades (port-forwards), which HTTP/2 cannot carry to a 1.20 server.
    config: Config,
    counting: Counting,
}

impl Cluster {
    /// Connects as the kubeconfig says (no request is sent yet).
    pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Cluster> {
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..KubeConfigOptions::default()
        };
        let config = match kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).map_err(|err| Error::ReadConfig {
                    path: path.to_path_buf(),
                    reason: crate::error::one_line(&err.to_string()),
                })?;
                Config::from_custom_kubeconfig(file, &options)
                    .await
                    .map_err(|err| context_error(context, err))?
            }
            None => match Kubeconfig::read() {
                Ok(file) => Config::from_custom_kubeconfig(file, &options)
                    .await
                    .map_err(|err| context_error(context, err))?,
                Err(read) => Config::incluster().map_err(|_| Error::NoConfig {
                    reason: crate::error::one_line(&read.to_string()),
                })?,
            },
        };
        let server = config.cluster_url.to_string();
        let default_namespace = config.default_namespace.clone();
        let requests = Arc::new(AtomicUsize::new(0));
        let counting = Counting { requests: requests.clone() };
        let unreachable = |err: kube::Error| Error::Unreachable {
            server: server.clone(),
            reason: crate::error::one_line(&err.to_string()),
        };
        let client = if config.proxy_url.is_some() {
            // kube's own stack knows proxies (HTTP/1 only).
            ClientBuilder::try_from(config.clone())
                .map_err(unreachable)?
                .with_layer(&counting)
                .build()
        } else {
            multiplexed(config.clone(), counting.clone()).map_err(unreachable)?
        };
        Ok(Cluster {
            client,
            default_namespace,
            server,
            requests,
            resources: Arc::default(),
            config,
            counting,
        })
    }

    /// A client on HTTP/1.1, whose connections can be upgraded (WebSocket port-forwards):
    /// kube's own stack, made when a command first needs it.
    pub(crate) fn upgrading_client(&self) -> Result<Client> {
        let client =
            ClientBuilder::try_from(self.config.clone()).map_err(|err| Error::Unreachable {
                server: self.server.clone(),
                reason: crate::error::one_line(&err.to_string()),
            })?;
        Ok(client.with_layer(&self.counting).build())
    }

    /// The namespace of the kubeconfig's context (`default` when it names none).
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// How many requests this client has sent so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

/// A client whose connection speaks HTTP/2 when the server does (as API servers do): every
/// request of a command, concurrent ones too, shares one TLS connection, where HTTP/1 would
/// open one per request in flight. The layers are kube's: base URI, authentication (tokens,
/// exec plugins), extra headers.
fn multiplexed(config: Config, counting: Counting) -> kube::Result<Client> {
    use kube::client::ConfigExt;

    let tls = config.rustls_client_config()?;
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    // Small HTTP/2 frames must not wait for Nagle's algorithm (40 ms stalls against delayed
    // acknowledgements).
    http.set_nodelay(true);
    http.set_connect_timeout(config.connect_timeout);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http);
    let transport: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Builder::new(hyper_util::rt::TokioExecutor::new()).build(https);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .layer(counting)
        .map_err(tower::BoxError::from)
        .service(transport);
    Ok(Client::new(service, config.default_namespace))
}

fn context_error(context: Option<&str>, err: kube::config::KubeconfigError) -> Error {
    Error::Context {
        context: context.map(str::to_owned),
        reason: crate::error::one_line(&err.to_string()),
    }
}

/// A tower layer that counts the requests going through it.
#[derive(Clone)]
struct Counting {
    requests: Arc<AtomicUsize>,
}

impl<S> Layer<S> for Counting {
    type Service = CountingService<S>;

    fn layer(&self, inner: S) -> CountingService<S> {
        CountingService { inner, requests: self.requests.clone() }
    }
}

#[derive(Clone)]
struct CountingService<S> {
    inner: S,
    requests: Arc<AtomicUsize>,
}

impl<S, R> Service<R> for CountingService<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.inner.call(request)
    }
}
