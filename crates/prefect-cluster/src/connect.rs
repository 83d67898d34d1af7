//! [`Cluster`]: a client for the API server the kubeconfig names, which counts its requests.
//!
//! The kubeconfig is `--kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`, else the
//! in-cluster service account; the context is `--kube-context`, else the kubeconfig's current
//! one. The namespace a command works in is `-n`, else the context's, else `default`.
//!
//! Every request is bounded by the request timeout ([`crate::transport`]), and one that the
//! server answers with 429, 503 or 504 is sent again, as kube's own stack does, a few times.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource;

use kube::{
    Client, Config,
    client::{ClientBuilder, retry::RetryPolicy},
    config::{KubeConfigOptions, Kubeconfig, KubeconfigError},
};
use tower::{Layer, Service, retry::RetryLayer};

use crate::{
    Error, Result, discovery_cache::DiscoveryCache, first_answer::FirstAnswer, transport::Deadline,
};

/// A client for one API server, and the namespace the kubeconfig's context names.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) client: Client,
    default_namespace: String,
    server: String,
    requests: Arc<AtomicUsize>,
    /// The resources of each group version read so far: discovery is read once per command.
    pub(crate) resources: Arc<Mutex<BTreeMap<String, Vec<APIResource>>>>,
    /// Those resources as earlier commands read them from this server.
    pub(crate) discovery_cache: DiscoveryCache,
    /// For connection upgrades (port-forwards), which HTTP/2 cannot carry to a 1.20 server.
    config: Config,
    counting: Counting,
    deadline: Deadline,
}

impl Cluster {
    /// Connects as the kubeconfig says (no request is sent yet); each request then gets at
    /// most `request_timeout` (`None`: as long as it takes) for its answer. What the server
    /// serves is kept in `cache_dir` (`--cache-dir`; an empty path keeps nothing; `None`: the
    /// folder the environment names).
    pub async fn connect(
        kubeconfig: Option<&Path>,
        context: Option<&str>,
        request_timeout: Option<Duration>,
        cache_dir: Option<&Path>,
    ) -> Result<Cluster> {
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..KubeConfigOptions::default()
        };
        let config = match kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).map_err(|err| Error::ReadConfig {
                    path: path.to_path_buf(),
                    reason: unreadable(&err),
                })?;
                known_context(&file, context, Some(path))?;
                Config::from_custom_kubeconfig(file, &options)
                    .await
                    .map_err(|err| context_error(context, err))?
            }
            None => match Kubeconfig::read() {
                Ok(file) => {
                    known_context(&file, context, None)?;
                    Config::from_custom_kubeconfig(file, &options)
                        .await
                        .map_err(|err| context_error(context, err))?
                }
                Err(read) => Config::incluster().map_err(|_| Error::NoConfig {
                    reason: match &read {
                        KubeconfigError::ReadConfig(io, path) => {
                            format!("cannot read {}: {io}", path.display())
                        }
                        other => unreadable(other),
                    },
                })?,
            },
        };
        let server = config.cluster_url.to_string();
        let default_namespace = config.default_namespace.clone();
        let requests = Arc::new(AtomicUsize::new(0));
        let counting = Counting { requests: requests.clone() };
        let deadline = Deadline::new(&server, request_timeout);
        let unreachable = |err: kube::Error| Error::Unreachable {
            server: server.clone(),
            reason: crate::error::one_line(&err.to_string()),
        };
        let client = if config.proxy_url.is_some() {
            // kube's own stack knows proxies (HTTP/1 only) and retries by itself.
            ClientBuilder::try_from(config.clone())
                .map_err(unreachable)?
                .with_layer(&counting)
                .with_layer(&deadline)
                .build()
        } else {
            multiplexed(config.clone(), counting.clone(), deadline.clone()).map_err(unreachable)?
        };
        let discovery_cache = DiscoveryCache::for_server(&server, cache_dir);
        Ok(Cluster {
            client,
            default_namespace,
            server,
            requests,
            resources: Arc::default(),
            discovery_cache,
            config,
            counting,
            deadline,
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
        // The deadline ends at the upgrade's answer: the port-forward that follows has none.
        Ok(client.with_layer(&self.counting).with_layer(&self.deadline).build())
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
/// open one per request in flight. The layers are kube's: base URI, retries of 429, 503 and
/// 504 answers, authentication (tokens, exec plugins), extra headers; then the request counter
/// (which counts each attempt), the deadline of each attempt, and the wait for the first
/// answer that keeps the command on one connection ([`crate::first_answer`]).
fn multiplexed(config: Config, counting: Counting, deadline: Deadline) -> kube::Result<Client> {
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
    // A connection that stops answering pings is closed (client-go's HTTP/2 health check:
    // 30 s idle, 15 s for the ping), so that a later request opens a new one.
    let mut builder =
        hyper_util::client::legacy::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .http2_keep_alive_interval(Duration::from_secs(30))
        .http2_keep_alive_timeout(Duration::from_secs(15));
    let transport: hyper_util::client::legacy::Client<_, kube::client::Body> = builder.build(https);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .layer(RetryLayer::new(retries()))
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .layer(counting)
        .layer(deadline)
        .layer(FirstAnswer::new())
        .service(transport);
    Ok(Client::new(service, config.default_namespace))
}

/// kube's retry policy for 429, 503 and 504 answers (honouring `Retry-After`), with a command
/// line's patience: three more attempts within about four seconds, where kube's default, made
/// for controllers, tries fifteen times over minutes.
fn retries() -> RetryPolicy {
    RetryPolicy::new(Duration::from_millis(500), Duration::from_secs(2), 3, true)
        .expect("the delays are in order")
}

/// Refuses a `--kube-context` that the kubeconfig does not have, naming those it has.
fn known_context(file: &Kubeconfig, context: Option<&str>, path: Option<&Path>) -> Result<()> {
    let Some(context) = context else { return Ok(()) };
    if file.contexts.iter().any(|named| named.name == context) {
        return Ok(());
    }
    Err(Error::UnknownContext {
        context: context.to_owned(),
        file: path.map(Path::to_path_buf),
        known: file.contexts.iter().map(|named| named.name.clone()).collect(),
        current: file.current_context.clone(),
    })
}

/// Why a kubeconfig file could not be read, in one line, without the path kube's message
/// quotes (with Rust's quotes inside its own) when the caller names the file itself.
fn unreadable(err: &KubeconfigError) -> String {
    match err {
        KubeconfigError::ReadConfig(io, _) => io.to_string(),
        other => crate::error::one_line(&other.to_string()),
    }
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
