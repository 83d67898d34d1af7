//! A command that talks to a cluster: the async runtime, the connected [`Cluster`], and the
//! release's name and namespace (`-n`, else the kubeconfig context's).

use std::future::Future;

use prefect_cluster::{Cluster, ServerInfo, record::Revision};
use tokio::runtime::Runtime;

use crate::{cli::ReleaseArgs, failure::Failure};

/// A connected command.
pub struct Session {
    runtime: Runtime,
    /// The cluster.
    pub cluster: Cluster,
    /// The release's namespace.
    pub namespace: String,
    /// The release's name.
    pub release: String,
    /// `--debug`.
    pub debug: bool,
    started: std::time::Instant,
}

impl Session {
    /// Connects as the flags and the kubeconfig say.
    pub fn open(args: &ReleaseArgs) -> Result<Session, Failure> {
        let started = std::time::Instant::now();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|err| {
                Failure::runtime(vec![format!("cannot start the async runtime: {err}")])
            })?;
        let cluster = runtime
            .block_on(Cluster::connect(
                args.kubeconfig.as_deref(),
                args.kube_context.as_deref(),
                Some(args.request_timeout).filter(|timeout| !timeout.is_zero()),
            ))
            .map_err(failure)?;
        let namespace =
            args.namespace.clone().unwrap_or_else(|| cluster.default_namespace().to_owned());
        if args.debug {
            eprintln!("debug: cluster {} namespace {namespace}", cluster.server());
        }
        Ok(Session {
            runtime,
            cluster,
            namespace,
            release: args.release.clone(),
            debug: args.debug,
            started,
        })
    }

    /// Runs `future` to completion.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The release's revisions, oldest first.
    pub fn history(&self) -> Result<Vec<Revision>, Failure> {
        self.block_on(self.cluster.history(&self.namespace, &self.release)).map_err(failure)
    }

    /// The release's revisions and the server's version and group versions, read at once.
    pub fn history_and_server(&self) -> Result<(Vec<Revision>, ServerInfo), Failure> {
        let (history, info) = self.block_on(async {
            tokio::join!(
                self.cluster.history(&self.namespace, &self.release),
                self.cluster.server_info()
            )
        });
        Ok((history.map_err(failure)?, info.map_err(failure)?))
    }

    /// With `--debug`, says that `step` is done, when, and after how many API requests.
    pub fn step(&self, step: &str) {
        if self.debug {
            eprintln!(
                "debug: {step} after {:.1?} and {} API requests",
                self.started.elapsed(),
                self.cluster.requests()
            );
        }
    }

    /// `release prefect in namespace prefect`.
    pub fn describe(&self) -> String {
        format!("release {} in namespace {}", self.release, self.namespace)
    }
}

/// A cluster error as a runtime failure.
pub fn failure(err: prefect_cluster::Error) -> Failure {
    Failure::runtime(vec![err.to_string()])
}
