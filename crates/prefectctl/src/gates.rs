//! Gate Jobs: a Job annotated `prefectctl.io/run-before` (a database migration) runs to
//! completion before the workloads it names are applied (`prefect_manifest::order`).
//!
//! A Job's pod template cannot change once it exists, and a Job that completed runs no more.
//! So each gate carries a hash of its spec ([`SPEC_HASH_ANNOTATION`], stamped by [`stamp`]); when
//! the live Job's hash differs (a new Prefect version, say), `apply` deletes it and creates it
//! again, which runs it again, as Helm's `before-hook-creation` does for hooks. An unchanged gate
//! that completed before is not run again. A gate that fails stops the write before the
//! workloads it gates, so they keep running as they were; the failure shows the Job's last log
//! lines.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use prefect_manifest::{Graph, ResourceKey, order};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    failure::Failure,
    plan::Plan,
    session::{Session, failure},
    wait,
};

/// The annotation that holds the hash of a gate Job's spec.
pub const SPEC_HASH_ANNOTATION: &str = "prefectctl.io/spec-hash";

/// The name provenance records the stamp under.
const PASS: &str = "gates";

/// How many log lines of a failed gate's pod the failure shows.
const LOG_LINES: i64 = 20;

/// How many log lines of a completed gate's pod the revision records.
const RECORDED_LINES: i64 = 5;

/// How long a replaced gate may take to disappear before it is created again.
const DELETE_TIMEOUT: Duration = Duration::from_secs(60);

/// Adds the hash of its spec to every gate Job of `graph`.
pub fn stamp(graph: &mut Graph) -> Result<(), Failure> {
    // Every render passes here: a scan, not a sort; only the gates are copied.
    let result = graph.transform_where(
        PASS,
        |key, object| order::gated_names(key, object).is_some(),
        |_, object| {
            let hash = spec_hash(&object["spec"]);
            if let Some(annotations) = object["metadata"]["annotations"].as_object_mut() {
                annotations.insert(SPEC_HASH_ANNOTATION.to_owned(), Value::String(hash));
            }
        },
    );
    result.map_err(|errors| Failure::runtime(errors.iter().map(ToString::to_string).collect()))
}

/// The first 16 hex digits of the SHA-256 of `spec` as JSON.
fn spec_hash(spec: &Value) -> String {
    let digest = Sha256::digest(spec.to_string().as_bytes());
    digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}

/// Whether `planned` is a gate Job whose spec differs from the `live` one's (by their spec
/// hashes), so that a write replaces it.
pub fn changed(key: &ResourceKey, planned: &Value, live: &Value) -> bool {
    let hash = |object: &Value| object["metadata"]["annotations"][SPEC_HASH_ANNOTATION].clone();
    order::gated_names(key, planned).is_some() && hash(planned) != hash(live)
}

/// The gate Jobs among `wave`.
pub fn of<'a>(plan: &Plan, wave: &[&'a ResourceKey]) -> Vec<&'a ResourceKey> {
    wave.iter()
        .copied()
        .filter(|key| plan.graph.get(key).is_some_and(|o| order::gated_names(key, o).is_some()))
        .collect()
}

/// Deletes each live gate of `gates` whose spec changed, and waits until it is gone, so that
/// applying it creates it afresh.
pub fn replace_changed(
    session: &Session,
    plan: &Plan,
    gates: &[&ResourceKey],
) -> Result<(), Failure> {
    for key in gates {
        let target = plan.target(key);
        let namespace = key.namespace.as_deref();
        let live =
            session.block_on(session.cluster.get(target, namespace, &key.name)).map_err(failure)?;
        let Some(live) = live else { continue };
        let Some(planned) = plan.graph.get(key) else { continue };
        if !changed(key, planned, &live) {
            continue;
        }
        eprintln!("replacing {key}: its spec changed, so it runs again");
        session.block_on(session.cluster.delete(target, namespace, &key.name)).map_err(failure)?;
        let deadline = Instant::now() + DELETE_TIMEOUT;
        loop {
            let gone = session
                .block_on(session.cluster.get(target, namespace, &key.name))
                .map_err(failure)?
                .is_none();
            if gone {
                break;
            }
            if Instant::now() >= deadline {
                return Err(Failure::runtime(vec![format!(
                    "{key} was deleted to run it again, but it is still there after {}s: see \
                     its finalizers (kubectl get job -o yaml), then apply again",
                    DELETE_TIMEOUT.as_secs()
                )]));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    Ok(())
}

/// Waits until every gate of `gates` completed, at most `timeout`, and adds the last log lines
/// of each to `logs`, by key, whether it completed or not (the revision's record keeps them).
/// When one fails or time runs out, the failure says which workloads were not applied and
/// shows the gate's last log lines.
pub fn run(
    session: &Session,
    plan: &Plan,
    gates: &[&ResourceKey],
    timeout: Duration,
    logs: &mut BTreeMap<String, String>,
) -> Result<(), Failure> {
    for key in gates {
        let named =
            plan.graph.get(key).and_then(|o| order::gated_names(key, o)).unwrap_or_default();
        let named: Vec<String> =
            named.iter().map(|(kind, name)| format!("{kind}/{name}")).collect();
        eprintln!("running {key} before {}", named.join(", "));
    }
    let outcome = wait::follow(session, plan, gates, timeout);
    let succeeded = outcome.is_ok();
    let tails: Vec<(String, String)> = gates
        .iter()
        .filter_map(|key| {
            let tail = log_tail(session, key.namespace.as_deref()?, &key.name, succeeded)?;
            Some((key.to_string(), tail))
        })
        .collect();
    logs.extend(tails.iter().cloned());
    outcome.map_err(|failed| {
        let failed = tails.into_iter().fold(failed, |failed, (key, tail)| {
            failed.and(format!("the last log lines of {key}:\n{tail}"))
        });
        failed.and(
            "the workloads these Jobs gate were not applied and keep running as they were: fix \
             the cause, then apply again (the revision is recorded as failed, with these lines: \
             prefectctl status shows them)"
                .to_owned(),
        )
    })
}

/// The last log lines of the newest pod of the Job `name` (fewer when it `succeeded`, for the
/// record), indented; `None` when there is no pod or no log.
fn log_tail(session: &Session, namespace: &str, name: &str, succeeded: bool) -> Option<String> {
    let selector = format!("job-name={name}");
    let mut pods = session.block_on(session.cluster.pods(namespace, &selector)).ok()?;
    pods.sort_by(|a, b| a.metadata.creation_timestamp.cmp(&b.metadata.creation_timestamp));
    let pod = pods.last()?;
    let pod_name = pod.metadata.name.as_deref()?;
    let container = pod.spec.as_ref()?.containers.first()?;
    let count = if succeeded { RECORDED_LINES } else { LOG_LINES };
    let tail = session
        .block_on(session.cluster.log_tail(namespace, pod_name, &container.name, false, count))
        .ok()?;
    let lines: Vec<String> = tail
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(|l| format!("  {l}"))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}
