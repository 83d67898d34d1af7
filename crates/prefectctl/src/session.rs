//! A command that talks to a cluster: the async runtime, the connected [`Cluster`], and the
//! release's name and namespace (`-n`, else the kubeconfig context's).
//!
//! A command that changes the release holds its lock ([`Session::take_lock`]). From then on
//! SIGINT and SIGTERM no longer end the process where it stands: the request under way is
//! dropped, the revision being written is recorded as interrupted, the lock is given back, and
//! the process exits 130 or 143 (as a shell reports a process those signals ended).

use std::{
    future::Future,
    sync::{Mutex, OnceLock},
    time::Duration,
};

use prefect_cluster::{
    Cluster, ServerInfo,
    lock::{Lock, LockError, LockState},
    record::{Revision, Status},
};
use tokio::{runtime::Runtime, sync::watch};

use crate::{cli::ReleaseArgs, failure::Failure};

/// How long the clean-up after a signal may take before the process exits anyway (a second
/// signal ends it at once).
const CLEAN_UP_WITHIN: Duration = Duration::from_secs(10);

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
    /// The signals received since the lock was taken.
    signals: OnceLock<watch::Receiver<Signals>>,
    /// What to put right when a signal comes.
    held: Mutex<Held>,
    /// The server's version and group versions, being read since [`Session::read_server_meanwhile`].
    server: Mutex<Option<tokio::task::JoinHandle<prefect_cluster::Result<ServerInfo>>>>,
}

/// What a signal interrupts.
#[derive(Default)]
struct Held {
    lock: Option<Lock>,
    /// The revision recorded as pending, and the description it gets when interrupted.
    pending: Option<(Revision, String)>,
}

/// The last signal received and how many came.
#[derive(Clone, Copy, Default)]
struct Signals {
    last: Option<(&'static str, i32)>,
    count: u32,
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
                args.cache_dir.as_deref(),
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
            signals: OnceLock::new(),
            held: Mutex::new(Held::default()),
            server: Mutex::new(None),
        })
    }

    /// Runs `future` on the runtime's threads while the command goes on.
    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.spawn(future)
    }

    /// Runs `future` to completion; once the lock is taken, a signal stops it and ends the
    /// process (see the module's doc).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let Some(signals) = self.signals.get() else { return self.runtime.block_on(future) };
        let mut waiting = signals.clone();
        self.runtime.block_on(async {
            tokio::select! {
                biased;
                Ok(received) = async { waiting.wait_for(|s| s.last.is_some()).await.map(|s| *s) } => {
                    let (name, number) = received.last.unwrap_or(("SIGINT", 2));
                    self.interrupted(name, signals.clone()).await;
                    std::process::exit(128 + number)
                }
                out = future => out,
            }
        })
    }

    /// Takes the release's lock, or says who holds it and until when; from now on, a signal
    /// is handled as the module's doc says.
    pub fn take_lock(&self) -> Result<(), Failure> {
        self.listen_for_signals();
        let lock = self.block_on(self.cluster.lock(&self.namespace, &self.release));
        let lock = lock.map_err(|err| self.lock_failure(err))?;
        self.held().lock = Some(lock);
        Ok(())
    }

    /// Whether this command holds the release's lock.
    pub fn holds_lock(&self) -> bool {
        self.held().lock.is_some()
    }

    /// Gives the release's lock back. A lock not given back is taken over by the next command
    /// once this process is gone: what the user needs is the command's outcome.
    pub fn release_lock(&self) {
        let lock = self.held().lock.take();
        if let Some(lock) = lock {
            // Not raced against a signal: one that came meanwhile (it also ends the plugins a
            // terminal's Ctrl-C reaches) would otherwise leave the lock it was taken out of.
            let _ = self.runtime.block_on(lock.release());
        }
    }

    /// From now until [`Session::settled`], a signal records `pending` again with the status
    /// interrupted and the description `interrupted` (`Upgrade interrupted`).
    pub fn interruptible(&self, pending: &Revision, interrupted: String) {
        self.held().pending = Some((pending.clone(), interrupted));
    }

    /// The revision's outcome is being recorded: a signal no longer changes its record.
    pub fn settled(&self) {
        self.held().pending = None;
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn listen_for_signals(&self) {
        let (tell, signals) = watch::channel(Signals::default());
        if self.signals.set(signals).is_err() {
            return;
        }
        // Registered here, before the lock is taken, so that no signal falls between.
        let _runtime = self.runtime.enter();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) =
                (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
            else {
                return;
            };
            self.runtime.spawn(async move {
                loop {
                    let last = tokio::select! {
                        Some(()) = int.recv() => ("SIGINT", 2),
                        Some(()) = term.recv() => ("SIGTERM", 15),
                        else => return,
                    };
                    tell.send_modify(|s| *s = Signals { last: Some(last), count: s.count + 1 });
                }
            });
        }
        #[cfg(not(unix))]
        self.runtime.spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                tell.send_modify(|s| {
                    *s = Signals { last: Some(("SIGINT", 2)), count: s.count + 1 }
                });
            }
        });
    }

    /// Records the pending revision as interrupted and gives the lock back, within
    /// [`CLEAN_UP_WITHIN`] and unless a second signal comes; says what it did.
    async fn interrupted(&self, name: &str, mut signals: watch::Receiver<Signals>) {
        let (lock, pending) = {
            let mut held = self.held();
            (held.lock.take(), held.pending.take())
        };
        let mut said = vec![format!("interrupted by {name}")];
        let clean_up = async {
            if let Some((mut record, description)) = pending {
                let revision = record.revision;
                record.status = Status::Interrupted;
                record.description = format!("{description} by {name}");
                record.time = crate::write::now();
                said.push(match self.cluster.write_record(&record).await {
                    Ok(()) => format!("revision {revision} is recorded as interrupted"),
                    Err(err) => format!("revision {revision} stays pending ({err})"),
                });
            }
            if let Some(lock) = lock {
                said.push(match lock.release().await {
                    Ok(()) => "the release's lock is given back".to_owned(),
                    Err(err) => format!("the release's lock is left ({err})"),
                });
            }
        };
        tokio::select! {
            () = clean_up => {}
            Ok(_) = signals.wait_for(|s| s.count > 1) => said.push("stopped by a second signal".to_owned()),
            () = tokio::time::sleep(CLEAN_UP_WITHIN) => said.push(format!("the clean-up did not finish within {CLEAN_UP_WITHIN:?}")),
        }
        eprintln!("error: {}", said.join("; "));
        eprintln!(
            "error: {}: the next apply (or rollback) completes what this one left",
            self.describe()
        );
    }

    fn lock_failure(&self, err: LockError) -> Failure {
        Failure::runtime(vec![match err {
            LockError::Held { holder, since, running_here: true, .. } => format!(
                "{} is being changed by another prefectctl ({holder}, since {since}), a process \
                 that still runs on this machine: wait until it finishes, or stop it (Ctrl-C, \
                 kill); the next apply completes what it left",
                self.describe()
            ),
            LockError::Held { holder, since, expires_in, .. } => format!(
                "{} is being changed by another prefectctl ({holder}, since {since}): wait \
                 until it finishes; if that command was killed, its lock expires within \
                 {expires_in}s and the next apply completes what it left",
                self.describe()
            ),
            LockError::Foreign { name } => format!(
                "Secret {}/{name} is where prefectctl keeps the lock of {}, but it is not a \
                 prefectctl lock: rename the release (--release) or delete that Secret",
                self.namespace,
                self.describe()
            ),
            LockError::Cluster(err) if err.status() == Some(404) => format!(
                "namespace {} does not exist: create it, or pass --create-namespace",
                self.namespace
            ),
            LockError::Cluster(err) => err.to_string(),
        }])
    }

    /// The release's revisions, oldest first.
    pub fn history(&self) -> Result<Vec<Revision>, Failure> {
        self.block_on(self.cluster.history(&self.namespace, &self.release)).map_err(failure)
    }

    /// Starts reading the server's version and group versions, which do not depend on the
    /// release, while the command goes on (reads the release's records): the next
    /// [`Session::open_history_server_and_lock`] gets them from there.
    pub fn read_server_meanwhile(&self) {
        let cluster = self.cluster.clone();
        let reading = self.runtime.spawn(async move { cluster.server_info().await });
        *self.server.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(reading);
    }

    /// The server's version and group versions: those being read, if they are.
    async fn server_info(&self) -> prefect_cluster::Result<ServerInfo> {
        let reading = self.server.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        match reading {
            Some(reading) => match reading.await {
                Ok(info) => info,
                Err(_) => self.cluster.server_info().await,
            },
            None => self.cluster.server_info().await,
        }
    }

    /// The release's revisions and the server's version and group versions, read at once.
    pub fn history_and_server(&self) -> Result<(Vec<Revision>, ServerInfo), Failure> {
        let (history, info) = self.block_on(async {
            tokio::join!(self.cluster.history(&self.namespace, &self.release), self.server_info())
        });
        Ok((history.map_err(failure)?, info.map_err(failure)?))
    }

    /// The revisions a write works from ([`prefect_cluster::Cluster::open_history`]: all but
    /// the superseded ones, oldest first), the server's version and group versions, and
    /// whether the release's lock Secret exists (held by another command, or left by one that
    /// is gone), read at once.
    pub fn open_history_server_and_lock(
        &self,
    ) -> Result<(Vec<Revision>, ServerInfo, Option<LockState>), Failure> {
        let (history, info, lock) = self.block_on(async {
            tokio::join!(
                self.cluster.open_history(&self.namespace, &self.release),
                self.server_info(),
                self.cluster.lock_state(&self.namespace, &self.release)
            )
        });
        Ok((history.map_err(failure)?, info.map_err(failure)?, lock.map_err(failure)?))
    }

    /// The revisions a write works from, read again (see
    /// [`Session::open_history_server_and_lock`]).
    pub fn open_history(&self) -> Result<Vec<Revision>, Failure> {
        self.block_on(self.cluster.open_history(&self.namespace, &self.release)).map_err(failure)
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
