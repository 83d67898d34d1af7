//! Writing a plan as a new revision of the release, as `apply` and `rollback` do:
//!
//! 1. check that the user may do every write (and nothing is written when not);
//! 2. record the revision as pending;
//! 3. apply the objects wave by wave (the objects of a wave concurrently, at most
//!    [`CONCURRENT_WRITES`] at a time), running gate Jobs to completion before the workloads
//!    they gate (`gates`);
//! 4. prune what earlier revisions applied and this one does not, keeping the data: wave by
//!    wave in reverse apply order, each wave's deletes concurrently;
//! 5. with `--wait`, wait until the workloads are ready;
//! 6. record the revision as deployed, and the one it replaces as superseded.
//!
//! The deployed record keeps the resourceVersion each object had once applied, with which an
//! apply that changes nothing proves most objects unchanged without asking the server to
//! apply them (`changes::none`).
//!
//! A failure stops the wave it happens in: no further write of it starts, those under way
//! finish, and the write stops there, as one sent after the other would have (give or take
//! those under way). A failure part-way records the revision as failed; a command stopped by SIGINT or SIGTERM
//! records it as interrupted (`Session`); one killed part-way leaves it pending. Either way the
//! next write starts from the last deployed revision and prunes what any later one applied, so
//! it completes what was left.

use std::{
    cell::Cell,
    collections::{BTreeMap, BTreeSet},
    future::Future,
};

use futures::StreamExt;
use jiff::Timestamp;
use prefect_cluster::{
    access::Permission,
    objects::ApplyOptions,
    record::{PluginRecord, Revision, Status, version_key},
};
use prefect_manifest::{Graph, ResourceKey};
use prefect_plugin_abi::wire::DATA_ANNOTATION;
use serde_json::Value;

use crate::{
    cli::WriteArgs,
    failure::Failure,
    gates,
    plan::Plan,
    session::{Session, failure},
    wait,
};

/// How many revisions a release keeps (as Helm's `--history-max` does by default); older
/// records are deleted after a successful write.
pub const HISTORY_MAX: u32 = 10;

/// How many writes (applies, deletes) or server dry runs are under way at once: about what
/// one HTTP/2 connection to an API server carries at once (its streams), so that the server
/// (and etcd, which commits concurrent writes together) is kept busy; and a bound, so that a
/// failure stops the rest of a large wave.
pub const CONCURRENT_WRITES: usize = 250;

/// What the new revision records besides its objects.
pub struct Change {
    /// `Install complete`, `Upgrade complete`, `Rollback to 2`.
    pub description: String,
    /// The stack.
    pub plugins: Vec<PluginRecord>,
    /// The user's values.
    pub values: Value,
}

/// What a write did.
pub struct Written {
    /// The new revision.
    pub revision: u32,
    /// How many objects were applied.
    pub applied: usize,
    /// The objects deleted because this revision no longer has them.
    pub pruned: Vec<String>,
    /// The objects this revision no longer has but that were kept, being data.
    pub kept: Vec<String>,
}

/// The objects that earlier revisions applied and a write must consider pruning: those of the
/// last deployed revision and of every later one (failed or left pending).
pub fn previous_objects(history: &[Revision]) -> Vec<Value> {
    let start = history.iter().rposition(|r| r.status == Status::Deployed).unwrap_or(0);
    history[start..].iter().flat_map(|r| r.objects.iter().cloned()).collect()
}

/// `Upgrade` of `Upgrade complete`, `Rollback to 2` of itself.
fn verb(description: &str) -> &str {
    description.strip_suffix(" complete").unwrap_or(description)
}

/// The time now, to the second, as records show it.
pub(crate) fn now() -> String {
    Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| Timestamp::now().to_string())
}

/// Whether an object belongs with the release's data, which only `--delete-data` deletes.
pub fn is_data(object: &Value) -> bool {
    object["kind"] == "PersistentVolumeClaim"
        || object["metadata"]["annotations"][DATA_ANNOTATION] == "true"
}

/// Writes `plan` as the next revision after `history`.
pub fn write(
    session: &Session,
    plan: &Plan,
    history: &[Revision],
    change: Change,
    args: &WriteArgs,
) -> Result<Written, Failure> {
    let planned: BTreeSet<ResourceKey> =
        plan.graph.ordered().into_iter().map(|(key, _)| key.clone()).collect();
    let previous = previous_objects(history);
    let before: BTreeSet<ResourceKey> =
        previous.iter().filter_map(|o| ResourceKey::of(o).ok()).collect();
    let (mut doomed, mut kept) = (Vec::new(), Vec::new());
    let mut seen = BTreeSet::new();
    for object in &previous {
        let Ok(key) = ResourceKey::of(object) else { continue };
        if planned.contains(&key) || !seen.insert(key.clone()) {
            continue;
        }
        if is_data(object) { kept.push(key) } else { doomed.push((key, object.clone())) }
    }
    let doomed = deletion_waves(doomed);
    let doomed_keys: Vec<ResourceKey> = doomed.iter().flatten().cloned().collect();

    check_rights(session, plan, &planned, &before, &doomed_keys)?;
    session.step("checked your rights");

    let mut record = Revision {
        release: session.release.clone(),
        namespace: session.namespace.clone(),
        revision: history.last().map_or(1, |r| r.revision + 1),
        status: Status::Pending,
        time: now(),
        description: format!("{} started", verb(&change.description)),
        plugins: change.plugins,
        values: change.values,
        objects: plan.objects(),
        gate_logs: Default::default(),
        versions: BTreeMap::new(),
    };
    session.block_on(session.cluster.write_record(&record)).map_err(failure)?;
    session.interruptible(&record, format!("{} interrupted", verb(&change.description)));
    session.step("recorded the revision as pending");

    let mut versions = BTreeMap::new();
    let outcome = apply(session, plan, args, &mut record.gate_logs, &mut versions)
        .and_then(|applied| prune(session, plan, &doomed).map(|pruned| (applied, pruned)))
        .and_then(|done| {
            if args.wait {
                wait::until_ready(session, plan, args.timeout).map(|()| done)
            } else {
                Ok(done)
            }
        });
    session.settled();
    record.versions = versions;
    let (applied, pruned) = match outcome {
        Ok(done) => done,
        Err(failed) => {
            record.status = Status::Failed;
            record.description = format!("{} failed", verb(&change.description));
            // The failure is what the user needs to see; a record that cannot be written now
            // leaves the revision pending, which the next write handles the same way.
            let _ = session.block_on(session.cluster.write_record(&record));
            return Err(failed);
        }
    };

    record.status = Status::Deployed;
    record.description = change.description;
    record.time = now();
    let superseded: Vec<Revision> = history
        .iter()
        .filter(|r| matches!(r.status, Status::Deployed | Status::Pending))
        .map(|older| Revision { status: Status::Superseded, ..older.clone() })
        .collect();
    let records = std::iter::once(&record).chain(&superseded);
    let written = session
        .block_on(futures::future::join_all(records.map(|r| session.cluster.write_record(r))));
    written.into_iter().collect::<Result<Vec<()>, _>>().map_err(failure)?;
    // `history` may hold the open revisions only: the others are counted by their metadata,
    // when some may have expired.
    if record.revision > HISTORY_MAX {
        let numbers = session
            .block_on(session.cluster.revision_numbers(&session.namespace, &session.release))
            .map_err(failure)?;
        let expired = numbers.into_iter().filter(|n| n + HISTORY_MAX <= record.revision);
        let deleted = session.block_on(futures::future::join_all(
            expired.map(|n| session.cluster.delete_record(&session.namespace, &session.release, n)),
        ));
        deleted.into_iter().collect::<Result<Vec<()>, _>>().map_err(failure)?;
    }
    Ok(Written {
        revision: record.revision,
        applied,
        pruned,
        kept: kept.iter().map(ToString::to_string).collect(),
    })
}

/// Applies the plan wave by wave, noting each object's fingerprint in `versions`; a
/// failure stops the write before the next wave (and the rest of its own, see the module's
/// doc), and so does a gate Job that does not complete within `--timeout`.
fn apply(
    session: &Session,
    plan: &Plan,
    args: &WriteArgs,
    gate_logs: &mut BTreeMap<String, String>,
    versions: &mut BTreeMap<String, String>,
) -> Result<usize, Failure> {
    let options = ApplyOptions { force: args.force_conflicts, ..ApplyOptions::default() };
    let mut applied = 0;
    for wave in plan.graph.waves() {
        let gates = gates::of(plan, &wave);
        gates::replace_changed(session, plan, &gates)?;
        let objects = wave.iter().filter_map(|key| Some((*key, plan.graph.get(key)?)));
        let results = session.block_on(until_failure(objects.map(|(key, object)| async move {
            let applied = session.cluster.apply(plan.target(key), object, options).await?;
            Ok::<_, prefect_cluster::Error>((key, applied))
        })));
        let mut errors = Vec::new();
        for result in results {
            match result {
                Ok((key, applied)) => {
                    applied_version(versions, key, &applied);
                }
                Err(err) => errors.push(err.to_string()),
            }
        }
        if !errors.is_empty() {
            return Err(Failure::runtime(errors));
        }
        applied += wave.len();
        session.step(&format!("applied a wave of {}", wave.len()));
        if !gates.is_empty() {
            gates::run(session, plan, &gates, args.timeout, gate_logs)?;
            session.step(&format!("{} gate Job(s) completed", gates.len()));
        }
    }
    Ok(applied)
}

/// Notes the fingerprint of prefectctl's fields of `key` as the server applied them
/// ([`crate::changes::applied_fingerprint`]), which tells a later apply that they are unchanged.
fn applied_version(versions: &mut BTreeMap<String, String>, key: &ResourceKey, applied: &Value) {
    if let Some(fingerprint) = crate::changes::applied_fingerprint(applied) {
        let name = version_key(&key.api_version, &key.kind, key.namespace.as_deref(), &key.name);
        versions.insert(name, fingerprint);
    }
}

/// Runs `tasks`, at most [`CONCURRENT_WRITES`] at a time, and starts no more once one has
/// failed (those under way finish); their outcomes in the order of `tasks`, without those not
/// started.
pub(crate) async fn until_failure<T, E, F>(tasks: impl IntoIterator<Item = F>) -> Vec<Result<T, E>>
where
    F: Future<Output = Result<T, E>>,
{
    let failed = Cell::new(false);
    let mut done: Vec<(usize, Result<T, E>)> = futures::stream::iter(tasks.into_iter().enumerate())
        .take_while(|_| std::future::ready(!failed.get()))
        .map(|(index, task)| async move { (index, task.await) })
        .buffer_unordered(CONCURRENT_WRITES)
        .inspect(|(_, outcome)| {
            if outcome.is_err() {
                failed.set(true);
            }
        })
        .collect()
        .await;
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, outcome)| outcome).collect()
}

/// The objects to prune, in the order to delete them: the apply waves they would have in a
/// graph of their own, last first (workloads before the Services, configuration and accounts
/// they use), each in reverse apply order.
fn deletion_waves(doomed: Vec<(ResourceKey, Value)>) -> Vec<Vec<ResourceKey>> {
    let mut graph = Graph::new();
    let (keys, objects): (Vec<ResourceKey>, Vec<Value>) = doomed.into_iter().unzip();
    if graph.apply("previous revisions", objects, Vec::new()).is_err() {
        // Objects a graph refuses (written by an older prefectctl?): one at a time, in
        // reverse apply order.
        let mut keys = keys;
        prefect_manifest::order::sort(&mut keys, |key| key);
        return keys.into_iter().rev().map(|key| vec![key]).collect();
    }
    graph.waves().into_iter().rev().map(|wave| wave.into_iter().rev().cloned().collect()).collect()
}

/// Deletes `doomed`, wave by wave (see [`deletion_waves`]), each wave's objects concurrently.
fn prune(
    session: &Session,
    plan: &Plan,
    doomed: &[Vec<ResourceKey>],
) -> Result<Vec<String>, Failure> {
    let mut pruned = Vec::new();
    for wave in doomed {
        let mut targets = Vec::new();
        for key in wave {
            match plan.target_of(key) {
                Some(target) => targets.push((key, target)),
                None => eprintln!(
                    "warning: {key} cannot be pruned: the cluster no longer serves its kind"
                ),
            }
        }
        let results =
            session.block_on(until_failure(targets.into_iter().map(|(key, target)| async move {
                let deleted =
                    session.cluster.delete(target, key.namespace.as_deref(), &key.name).await?;
                Ok::<_, prefect_cluster::Error>((key, deleted))
            })));
        let mut errors = Vec::new();
        for result in results {
            match result {
                Ok((key, true)) => pruned.push(key.to_string()),
                Ok((_, false)) => {}
                Err(err) => errors.push(err.to_string()),
            }
        }
        if !errors.is_empty() {
            return Err(Failure::runtime(errors));
        }
    }
    Ok(pruned)
}

/// Fails, writing nothing, when the user may not do every write: patch (and create, for what
/// is new) each object, delete what is pruned, and write the release's records.
fn check_rights(
    session: &Session,
    plan: &Plan,
    planned: &BTreeSet<ResourceKey>,
    before: &BTreeSet<ResourceKey>,
    doomed: &[ResourceKey],
) -> Result<(), Failure> {
    let permission = |verb: &'static str, key: &ResourceKey| {
        plan.target_of(key).map(|target| Permission {
            verb,
            group: target.resource.group.clone(),
            resource: target.resource.plural.clone(),
            namespace: key.namespace.clone(),
        })
    };
    let mut needed: Vec<Permission> = Vec::new();
    for key in planned {
        needed.extend(permission("patch", key));
        if !before.contains(key) {
            needed.extend(permission("create", key));
        }
    }
    needed.extend(doomed.iter().filter_map(|key| permission("delete", key)));
    for verb in ["create", "patch"] {
        needed.push(Permission {
            verb,
            group: String::new(),
            resource: "secrets".to_owned(),
            namespace: Some(session.namespace.clone()),
        });
    }
    let missing =
        session.block_on(session.cluster.missing_permissions(&needed)).map_err(failure)?;
    if missing.is_empty() {
        return Ok(());
    }
    let mut messages: Vec<String> = missing.iter().map(|p| format!("you may not {p}")).collect();
    messages.push(format!(
        "nothing was changed in {}: ask your cluster administrator for these rights, or use a \
         kubeconfig (--kubeconfig, --kube-context) that has them",
        session.describe()
    ));
    Err(Failure::runtime(messages))
}

#[cfg(test)]
mod tests {
    use std::{cell::RefCell, time::Duration};

    use serde_json::json;

    use super::*;

    fn run<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
    }

    #[test]
    fn writes_run_concurrently_within_the_bound_and_none_starts_after_a_failure() {
        let (running, most, started) = (Cell::new(0), Cell::new(0), RefCell::new(Vec::new()));
        let failing = CONCURRENT_WRITES + 8;
        let tasks = (0..3 * CONCURRENT_WRITES).map(|i| {
            let (running, most, started) = (&running, &most, &started);
            async move {
                started.borrow_mut().push(i);
                running.set(running.get() + 1);
                most.set(most.get().max(running.get()));
                // One task fails at once; the others take a while.
                if i != failing {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                running.set(running.get() - 1);
                if i == failing { Err(format!("task {i} failed")) } else { Ok(i) }
            }
        });
        let outcomes = run(until_failure(tasks));
        assert_eq!(most.get(), CONCURRENT_WRITES, "not as concurrent as allowed");
        // Those under way when one failed finish (and the places freed before its failure
        // was seen, at most), and no later one starts.
        let started = started.into_inner();
        let most_started = failing + 1 + CONCURRENT_WRITES;
        assert!((failing + 1..=most_started).contains(&started.len()), "{started:?}");
        assert!(started.len() < 3 * CONCURRENT_WRITES);
        assert_eq!(outcomes.len(), started.len());
        assert_eq!(outcomes[failing], Err(format!("task {failing} failed")));
        let others_done = outcomes.iter().enumerate().all(|(i, o)| i == failing || *o == Ok(i));
        assert!(others_done, "{outcomes:?}");
    }

    #[test]
    fn pruning_goes_wave_by_wave_in_reverse_apply_order() {
        let object = |kind: &str, name: &str| {
            let api_version = if kind == "Deployment" { "apps/v1" } else { "v1" };
            json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": { "name": name, "namespace": "prefect" },
            })
        };
        let doomed: Vec<(ResourceKey, Value)> = [
            ("ConfigMap", "a"),
            ("Deployment", "worker"),
            ("Service", "worker"),
            ("ServiceAccount", "worker"),
            ("ConfigMap", "b"),
        ]
        .iter()
        .map(|(kind, name)| {
            let object = object(kind, name);
            (ResourceKey::of(&object).unwrap(), object)
        })
        .collect();
        let waves: Vec<Vec<String>> = deletion_waves(doomed)
            .iter()
            .map(|wave| wave.iter().map(ToString::to_string).collect())
            .collect();
        assert_eq!(
            waves,
            [
                vec!["Deployment/prefect/worker"],
                vec!["Service/prefect/worker"],
                vec!["ConfigMap/prefect/b", "ConfigMap/prefect/a", "ServiceAccount/prefect/worker"],
            ]
        );
    }
}
