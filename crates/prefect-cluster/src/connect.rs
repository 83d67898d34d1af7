//! [`Cluster`]: a client for the API server the kubeconfig names, which counts its requests.
//!
//! The kubeconfig is `--kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`, else the
//! in-cluster service account; the context is `--kube-context`, else the kubeconfig's current
//! one. The namespace a command works in is `-n`, else the context's, else `default`.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

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
        let client = ClientBuilder::try_from(config)
            .map_err(|err| Error::Unreachable {
                server: server.clone(),
                reason: crate::error::one_line(&err.to_string()),
            })?
            .with_layer(&Counting { requests: requests.clone() })
            .build();
        Ok(Cluster { client, default_namespace, server, requests })
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
