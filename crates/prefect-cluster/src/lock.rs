//! The release lock: a Secret in the release namespace (`prefectctl.lock.<release>`) that one
//! command holds while it changes the release, so that a second `apply` of the same release is
//! refused.
//!
//! A Secret, not a Lease, because the namespace's `edit` ClusterRole gives Secrets and not
//! Leases: whoever may write the release's records may take its lock. It is created only if
//! absent, and every later write carries the resourceVersion read, so that of two commands
//! racing for it exactly one wins (Helm's pending record works the same way).
//!
//! The holder renews the lock while it works. Each holder is one process, told apart from
//! every other by a random id, and on its own machine by the boot id, PID namespace, PID and
//! start time of its process: two containers whose prefectctl is PID 1 on hosts of the same
//! name are two holders. A holder on this machine is never taken over while its process runs,
//! and is taken over at once when it is gone (or its PID now belongs to another process). A
//! holder elsewhere is taken over when it stopped renewing for [`LEASE_SECONDS`]. Either way
//! the next command completes what the killed one left: there is no "another operation is in
//! progress" dead end.

use std::{
    collections::BTreeMap,
    hash::BuildHasher,
    sync::{Arc, Mutex},
    time::Duration,
};

use jiff::Timestamp;
use k8s_openapi::{api::core::v1::Secret, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use kube::{
    Api,
    api::{DeleteParams, PostParams, Preconditions},
};
use tokio::task::JoinHandle;

use crate::{Cluster, Error, Result};

/// How long a lock lasts without renewal, for a holder on another machine.
pub const LEASE_SECONDS: i32 = 20;
/// How often the holder renews it.
const RENEW_EVERY: Duration = Duration::from_secs(5);
/// The Secret type of locks.
const LOCK_TYPE: &str = "prefectctl.io/lock.v1";
/// `host/pid`, for people.
const HOLDER: &str = "prefectctl.io/holder";
/// What tells this holder from every other.
const HOLDER_ID: &str = "prefectctl.io/holder-id";
/// `boot-id pid-namespace pid start-time`, to know whether a holder on this machine runs.
const PROCESS: &str = "prefectctl.io/process";
const ACQUIRED: &str = "prefectctl.io/acquired";
const RENEWED: &str = "prefectctl.io/renewed";
const DURATION: &str = "prefectctl.io/duration-seconds";

/// The lock Secret's name.
pub fn lock_name(release: &str) -> String {
    format!("prefectctl.lock.{release}")
}

/// A held lock; [`Lock::release`] gives it back (a lock dropped without it is taken over when
/// its process is gone, or expires).
pub struct Lock {
    api: Api<Secret>,
    name: String,
    id: String,
    renewing: JoinHandle<()>,
    /// The Secret as this process last wrote it (its uid and resourceVersion), which
    /// [`Lock::release`] deletes without reading it first when it is still so.
    written: Arc<Mutex<Option<Preconditions>>>,
}

/// Why the lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another command holds it.
    Held {
        /// Who: `host/pid`.
        holder: String,
        /// Since when, RFC 3339.
        since: String,
        /// Seconds until it expires if its holder stops renewing.
        expires_in: i64,
        /// The holder is a process of this machine that runs: it is not taken over however
        /// long it goes without renewing.
        running_here: bool,
    },
    /// A Secret of that name exists that is not a prefectctl lock.
    Foreign {
        /// Its name.
        name: String,
    },
    /// The lock could not be read or written.
    Cluster(Error),
}

impl From<Error> for LockError {
    fn from(err: Error) -> LockError {
        LockError::Cluster(err)
    }
}

/// This process as a holder.
struct Me {
    holder: String,
    id: String,
    process: Option<Process>,
}

/// A process, as precisely as this machine can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Process {
    boot_id: String,
    pid_namespace: String,
    pid: u32,
    /// Clock ticks after boot, as `/proc/PID/stat` says: a PID used again is another process.
    started: u64,
}

impl Process {
    /// This process; `None` off Linux, or where `/proc` is not this process's PID namespace
    /// (then no other holder can be checked either).
    fn current() -> Option<Process> {
        let pid = std::process::id();
        let proc_self = std::fs::read_link("/proc/self").ok()?;
        if proc_self.to_str()? != pid.to_string() {
            return None;
        }
        Some(Process {
            boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .ok()?
                .trim()
                .to_owned(),
            pid_namespace: std::fs::read_link("/proc/self/ns/pid").ok()?.to_str()?.to_owned(),
            pid,
            started: stat(pid)?.1,
        })
    }

    fn parse(text: &str) -> Option<Process> {
        let mut words = text.split_whitespace();
        let process = Process {
            boot_id: words.next()?.to_owned(),
            pid_namespace: words.next()?.to_owned(),
            pid: words.next()?.parse().ok()?,
            started: words.next()?.parse().ok()?,
        };
        words.next().is_none().then_some(process)
    }

    fn format(&self) -> String {
        format!("{} {} {} {}", self.boot_id, self.pid_namespace, self.pid, self.started)
    }

    /// Whether `holder`, seen from this process, is known to run (`Some(true)`), known to be
    /// gone (`Some(false)`), or on another machine or PID namespace (`None`).
    fn runs(&self, holder: &Process) -> Option<bool> {
        if holder.boot_id != self.boot_id || holder.pid_namespace != self.pid_namespace {
            return None;
        }
        Some(stat(holder.pid).is_some_and(|(state, started)| {
            state != 'Z' && state != 'X' && started == holder.started
        }))
    }
}

/// The state letter and start time of process `pid`, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces and parentheses itself.
    let fields: Vec<&str> = text.get(text.rfind(')')? + 1..)?.split_whitespace().collect();
    Some((fields.first()?.chars().next()?, fields.get(19)?.parse().ok()?))
}

impl Me {
    fn new() -> Me {
        let pid = std::process::id();
        // RandomState is seeded by the operating system's randomness: two processes, on one
        // machine or two, get different ids without a dependency.
        let random = std::collections::hash_map::RandomState::new().hash_one(Timestamp::now());
        Me {
            holder: format!("{}/{pid}", hostname()),
            id: format!("{}/{pid}/{random:016x}", hostname()),
            process: Process::current(),
        }
    }
}

/// What a lock Secret says.
struct Held {
    holder: String,
    id: String,
    process: Option<Process>,
    since: String,
    expires_in: i64,
}

impl Held {
    fn of(secret: &Secret, now: Timestamp) -> Held {
        let notes = secret.metadata.annotations.clone().unwrap_or_default();
        let note = |key: &str| notes.get(key).cloned().unwrap_or_default();
        let time = |key: &str| note(key).parse::<Timestamp>().ok();
        let renewed = time(RENEWED).unwrap_or(now);
        let duration = note(DURATION).parse::<i64>().unwrap_or(i64::from(LEASE_SECONDS));
        Held {
            holder: note(HOLDER),
            id: note(HOLDER_ID),
            process: Process::parse(&note(PROCESS)),
            since: time(ACQUIRED).map(|t| t.to_string()).unwrap_or_default(),
            expires_in: duration - (now.as_second() - renewed.as_second()),
        }
    }
}

impl Cluster {
    /// Takes the lock of `release` in `namespace` for this process.
    pub async fn lock(
        &self,
        namespace: &str,
        release: &str,
    ) -> std::result::Result<Lock, LockError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let name = lock_name(release);
        let me = Me::new();
        let action = || format!("take the lock of release {release} (Secret {namespace}/{name})");
        // Most of the time nobody holds the lock and creating it is the one request needed;
        // the loop covers the races with another command taking or giving it back meanwhile.
        for _ in 0..3 {
            let now = Timestamp::now();
            let fresh = lock_secret(&name, release, &me, now, now, None);
            match api.create(&PostParams::default(), &fresh).await {
                Ok(written) => return Ok(Lock::held(api, name, me.id, &written)),
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(err) => return Err(Error::api(action(), err).into()),
            }
            let Some(current) =
                api.get_opt(&name).await.map_err(|err| Error::api(action(), err))?
            else {
                continue;
            };
            if current.type_.as_deref() != Some(LOCK_TYPE) {
                return Err(LockError::Foreign { name });
            }
            let held = Held::of(&current, Timestamp::now());
            let runs = match (&me.process, &held.process) {
                (Some(me), Some(holder)) => me.runs(holder),
                _ => None,
            };
            // A holder on this machine is judged by its process alone: never taken over while
            // it runs, however long it went without renewing (stopped, or starved), and at once
            // when it is gone. Elsewhere, only its renewals tell.
            if held.id != me.id && runs.unwrap_or(held.expires_in > 0) {
                return Err(LockError::Held {
                    holder: held.holder,
                    since: held.since,
                    expires_in: held.expires_in,
                    running_here: runs == Some(true),
                });
            }
            // Gone: take it over, unless someone else just did (the resourceVersion makes the
            // replace fail then).
            let version = current.metadata.resource_version.clone();
            let taken = lock_secret(&name, release, &me, now, now, version);
            match api.replace(&name, &PostParams::default(), &taken).await {
                Ok(written) => return Ok(Lock::held(api, name, me.id, &written)),
                Err(kube::Error::Api(status)) if status.code == 409 || status.code == 404 => {}
                Err(err) => return Err(Error::api(action(), err).into()),
            }
        }
        let current = api.get_opt(&name).await.ok().flatten();
        let held = current.map(|secret| Held::of(&secret, Timestamp::now()));
        Err(LockError::Held {
            holder: held.as_ref().map(|h| h.holder.clone()).unwrap_or_default(),
            since: held.as_ref().map(|h| h.since.clone()).unwrap_or_default(),
            expires_in: held.map_or(i64::from(LEASE_SECONDS), |h| h.expires_in),
            running_here: false,
        })
    }
}

/// Who holds the lock of a release, as `doctor` reports it (read only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockState {
    /// `host/pid`.
    pub holder: String,
    /// Since when, RFC 3339.
    pub since: String,
    /// Seconds until it expires; 0 or less: expired (its holder stopped renewing).
    pub expires_in: i64,
}

impl Cluster {
    /// The lock of `release`, if someone holds it.
    pub async fn lock_state(&self, namespace: &str, release: &str) -> Result<Option<LockState>> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let name = lock_name(release);
        let secret = api
            .get_opt(&name)
            .await
            .map_err(|err| Error::api(format!("read the lock Secret {namespace}/{name}"), err))?;
        Ok(secret.filter(|s| s.type_.as_deref() == Some(LOCK_TYPE)).map(|secret| {
            let held = Held::of(&secret, Timestamp::now());
            LockState { holder: held.holder, since: held.since, expires_in: held.expires_in }
        }))
    }
}

impl Lock {
    fn held(api: Api<Secret>, name: String, id: String, written: &Secret) -> Lock {
        let written = Arc::new(Mutex::new(Some(preconditions(written))));
        let renewing = tokio::spawn(renew(api.clone(), name.clone(), id.clone(), written.clone()));
        Lock { api, name, id, renewing, written }
    }

    /// Gives the lock back, unless another command took it over meanwhile (then it is theirs).
    /// The Secret as this process last wrote it is deleted at once (one request); when it
    /// changed since (a renewal under way, or a takeover), it is read to know whose it is.
    pub async fn release(self) -> Result<()> {
        self.renewing.abort();
        let action = || format!("release the lock {}", self.name);
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(written) = written {
            let params = DeleteParams { preconditions: Some(written), ..DeleteParams::default() };
            match self.api.delete(&self.name, &params).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(err) => return Err(Error::api(action(), err)),
            }
        }
        let Some(current) =
            self.api.get_opt(&self.name).await.map_err(|e| Error::api(action(), e))?
        else {
            return Ok(());
        };
        if Held::of(&current, Timestamp::now()).id != self.id {
            return Ok(());
        }
        let preconditions = Preconditions {
            resource_version: current.metadata.resource_version.clone(),
            uid: current.metadata.uid.clone(),
        };
        let params = DeleteParams { preconditions: Some(preconditions), ..DeleteParams::default() };
        match self.api.delete(&self.name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
            Err(err) => Err(Error::api(action(), err)),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.renewing.abort();
    }
}

/// The uid and resourceVersion of `secret`, as a delete's preconditions.
fn preconditions(secret: &Secret) -> Preconditions {
    Preconditions {
        resource_version: secret.metadata.resource_version.clone(),
        uid: secret.metadata.uid.clone(),
    }
}

/// Renews the lock until aborted, noting each renewal in `written`; a failed renewal is
/// retried at the next tick.
async fn renew(
    api: Api<Secret>,
    name: String,
    id: String,
    written: Arc<Mutex<Option<Preconditions>>>,
) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        if let Ok(Some(mut current)) = api.get_opt(&name).await
            && let Some(notes) = current.metadata.annotations.as_mut()
            && notes.get(HOLDER_ID) == Some(&id)
        {
            notes.insert(RENEWED.to_owned(), Timestamp::now().to_string());
            // The resourceVersion read makes this fail if the lock changed hands meanwhile.
            let renewed = api.replace(&name, &PostParams::default(), &current).await;
            if let Ok(renewed) = renewed {
                *written.lock().unwrap_or_else(|p| p.into_inner()) = Some(preconditions(&renewed));
            }
        }
    }
}

fn lock_secret(
    name: &str,
    release: &str,
    me: &Me,
    acquired: Timestamp,
    renewed: Timestamp,
    resource_version: Option<String>,
) -> Secret {
    let mut notes = BTreeMap::from([
        (HOLDER.to_owned(), me.holder.clone()),
        (HOLDER_ID.to_owned(), me.id.clone()),
        (ACQUIRED.to_owned(), acquired.to_string()),
        (RENEWED.to_owned(), renewed.to_string()),
        (DURATION.to_owned(), LEASE_SECONDS.to_string()),
    ]);
    if let Some(process) = &me.process {
        notes.insert(PROCESS.to_owned(), process.format());
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            resource_version,
            labels: Some(BTreeMap::from([
                ("app.kubernetes.io/managed-by".to_owned(), "prefectctl".to_owned()),
                ("prefectctl.io/release".to_owned(), release.to_owned()),
            ])),
            annotations: Some(notes),
            ..ObjectMeta::default()
        },
        type_: Some(LOCK_TYPE.to_owned()),
        ..Secret::default()
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_a_reused_or_absent_pid_does_not() {
        let me = Process::current().expect("Linux with its own /proc");
        assert_eq!(Process::parse(&me.format()), Some(me.clone()));
        assert_eq!(me.runs(&me), Some(true));
        let reused = Process { started: me.started + 1, ..me.clone() };
        assert_eq!(me.runs(&reused), Some(false));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone =
            Process { pid: child.id(), started: stat(child.id()).map_or(0, |s| s.1), ..me.clone() };
        child.wait().unwrap();
        assert_eq!(me.runs(&gone), Some(false));
        let elsewhere = Process { boot_id: "another-machine".to_owned(), ..me.clone() };
        assert_eq!(me.runs(&elsewhere), None);
        let other_namespace = Process { pid_namespace: "pid:[1]".to_owned(), ..me.clone() };
        assert_eq!(me.runs(&other_namespace), None);
    }

    #[test]
    fn two_holders_never_share_an_id() {
        assert_ne!(Me::new().id, Me::new().id);
    }
}
