//! The release lock: a Lease in the release namespace that one command holds while it changes
//! the release, so that a second `apply` of the same release is refused.
//!
//! The holder renews the lease while it works. A holder that was killed stops renewing, and
//! the lease expires after [`LEASE_SECONDS`]; a holder on this machine whose process is gone
//! is recognised at once. Either way the next command takes the lock over and completes what
//! the killed one left: there is no "another operation is in progress" dead end.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
};
use kube::{
    Api,
    api::{DeleteParams, PostParams},
};
use tokio::task::JoinHandle;

use crate::{Cluster, Error, Result};

/// How long a lease lasts without renewal.
pub const LEASE_SECONDS: i32 = 20;
/// How often the holder renews it.
const RENEW_EVERY: Duration = Duration::from_secs(5);

/// A held lock; [`Lock::release`] gives it back (a lock dropped without it expires).
pub struct Lock {
    api: Api<Lease>,
    name: String,
    renewing: JoinHandle<()>,
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
    },
    /// The lease could not be read or written.
    Cluster(Error),
}

impl From<Error> for LockError {
    fn from(err: Error) -> LockError {
        LockError::Cluster(err)
    }
}

impl Cluster {
    /// Takes the lock of `release` in `namespace` for this process.
    pub async fn lock(
        &self,
        namespace: &str,
        release: &str,
    ) -> std::result::Result<Lock, LockError> {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), namespace);
        let name = format!("prefectctl.lock.{release}");
        let me = identity();
        let action = || format!("take the lock of release {release} (Lease {namespace}/{name})");
        // Most of the time nobody holds the lock and creating it is the one request needed;
        // the loop covers the races with another command taking or giving it back meanwhile.
        for _ in 0..3 {
            let now = Timestamp::now();
            match api.create(&PostParams::default(), &lease(&name, &me, now, now, None)).await {
                Ok(_) => return Ok(Lock::held(api, name, me)),
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(err) => return Err(Error::api(action(), err).into()),
            }
            let Some(current) =
                api.get_opt(&name).await.map_err(|err| Error::api(action(), err))?
            else {
                continue;
            };
            let spec = current.spec.clone().unwrap_or_default();
            let holder = spec.holder_identity.clone().unwrap_or_default();
            let renewed = spec.renew_time.map(|t| t.0).unwrap_or(now);
            let duration = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
            let expires_in = duration - (now.as_second() - renewed.as_second());
            if holder != me && expires_in > 0 && holder_alive(&holder) {
                let since = spec.acquire_time.map(|t| t.0.to_string()).unwrap_or_default();
                return Err(LockError::Held { holder, since, expires_in });
            }
            // Expired, or its holder is gone: take it over, unless someone else just did (the
            // resourceVersion makes the replace fail then).
            let taken = lease(&name, &me, now, now, current.metadata.resource_version.clone());
            match api.replace(&name, &PostParams::default(), &taken).await {
                Ok(_) => return Ok(Lock::held(api, name, me)),
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(err) => return Err(Error::api(action(), err).into()),
            }
        }
        Err(held_by_someone(&api, &name).await)
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
        let api: Api<Lease> = Api::namespaced(self.client.clone(), namespace);
        let name = format!("prefectctl.lock.{release}");
        let lease = api
            .get_opt(&name)
            .await
            .map_err(|err| Error::api(format!("read the lock Lease {namespace}/{name}"), err))?;
        Ok(lease.map(|lease| {
            let spec = lease.spec.unwrap_or_default();
            let now = Timestamp::now();
            let renewed = spec.renew_time.map(|t| t.0).unwrap_or(now);
            let duration = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
            LockState {
                holder: spec.holder_identity.unwrap_or_default(),
                since: spec.acquire_time.map(|t| t.0.to_string()).unwrap_or_default(),
                expires_in: duration - (now.as_second() - renewed.as_second()),
            }
        }))
    }
}

impl Lock {
    fn held(api: Api<Lease>, name: String, me: String) -> Lock {
        let renewing = tokio::spawn(renew(api.clone(), name.clone(), me));
        Lock { api, name, renewing }
    }

    /// Gives the lock back.
    pub async fn release(self) -> Result<()> {
        self.renewing.abort();
        match self.api.delete(&self.name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(err) => Err(Error::api(format!("release the lock {}", self.name), err)),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.renewing.abort();
    }
}

async fn held_by_someone(api: &Api<Lease>, name: &str) -> LockError {
    let spec = api.get_opt(name).await.ok().flatten().and_then(|l| l.spec).unwrap_or_default();
    LockError::Held {
        holder: spec.holder_identity.unwrap_or_default(),
        since: spec.acquire_time.map(|t| t.0.to_string()).unwrap_or_default(),
        expires_in: i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS)),
    }
}

/// Renews the lease until aborted; a failed renewal is retried at the next tick.
async fn renew(api: Api<Lease>, name: String, me: String) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        if let Ok(Some(mut current)) = api.get_opt(&name).await
            && let Some(spec) = current.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(me.as_str())
        {
            spec.renew_time = Some(MicroTime(Timestamp::now()));
            let _ = api.replace(&name, &PostParams::default(), &current).await;
        }
    }
}

fn lease(
    name: &str,
    me: &str,
    acquired: Timestamp,
    renewed: Timestamp,
    resource_version: Option<String>,
) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            resource_version,
            labels: Some(
                [("app.kubernetes.io/managed-by".to_owned(), "prefectctl".to_owned())].into(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(me.to_owned()),
            lease_duration_seconds: Some(LEASE_SECONDS),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(renewed)),
            ..LeaseSpec::default()
        }),
    }
}

/// `host/pid` of this process.
fn identity() -> String {
    format!("{}/{}", hostname(), std::process::id())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// Whether the holder may still be running: always, unless it is a process of this machine
/// that is gone.
fn holder_alive(holder: &str) -> bool {
    let Some((host, pid)) = holder.rsplit_once('/') else { return true };
    if host != hostname() {
        return true;
    }
    let proc = std::path::Path::new("/proc");
    !proc.is_dir() || proc.join(pid).exists()
}
