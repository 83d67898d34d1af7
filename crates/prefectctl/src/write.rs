//! Writing a plan as a new revision of the release, as `apply` and `rollback` do:
//!
//! 1. check that the user may do every write (and nothing is written when not);
//! 2. record the revision as pending;
//! 3. apply the objects wave by wave (each wave at once, in the graph's order), running gate
//!    Jobs to completion before the workloads they gate (`gates`);
//! 4. prune what earlier revisions applied and this one does not, keeping the data;
//! 5. with `--wait`, wait until the workloads are ready;
//! 6. record the revision as deployed, and the one it replaces as superseded.
//!
//! A failure part-way records the revision as failed; a command stopped by SIGINT or SIGTERM
//! records it as interrupted (`Session`); one killed part-way leaves it pending. Either way the
//! next write starts from the last deployed revision and prunes what any later one applied, so
//! it completes what was left.

use std::collections::BTreeSet;

use jiff::Timestamp;
use prefect_cluster::{
    access::Permission,
    objects::ApplyOptions,
    record::{PluginRecord, Revision, Status},
};
use prefect_manifest::ResourceKey;
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
        if is_data(object) { kept.push(key) } else { doomed.push(key) }
    }
    prefect_manifest::order::sort(&mut doomed, |key| key);
    doomed.reverse();

    check_rights(session, plan, &planned, &before, &doomed)?;
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
    };
    session.block_on(session.cluster.write_record(&record)).map_err(failure)?;
    session.interruptible(&record, format!("{} interrupted", verb(&change.description)));
    session.step("recorded the revision as pending");

    let outcome = apply(session, plan, args.force_conflicts, args.timeout, &mut record.gate_logs)
        .and_then(|applied| prune(session, plan, &doomed).map(|pruned| (applied, pruned)))
        .and_then(|done| {
            if args.wait {
                wait::until_ready(session, plan, args.timeout).map(|()| done)
            } else {
                Ok(done)
            }
        });
    session.settled();
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
    let expired = history.iter().map(|r| r.revision).filter(|n| n + HISTORY_MAX <= record.revision);
    let deleted = session.block_on(futures::future::join_all(
        expired.map(|n| session.cluster.delete_record(&session.namespace, &session.release, n)),
    ));
    deleted.into_iter().collect::<Result<Vec<()>, _>>().map_err(failure)?;
    Ok(Written {
        revision: record.revision,
        applied,
        pruned,
        kept: kept.iter().map(ToString::to_string).collect(),
    })
}

/// Applies the plan wave by wave; a wave's failures stop the write before the next wave, and
/// so does a gate Job that does not complete within `timeout`.
fn apply(
    session: &Session,
    plan: &Plan,
    force: bool,
    timeout: std::time::Duration,
    gate_logs: &mut std::collections::BTreeMap<String, String>,
) -> Result<usize, Failure> {
    let options = ApplyOptions { force, ..ApplyOptions::default() };
    let mut applied = 0;
    for wave in plan.graph.waves() {
        let gates = gates::of(plan, &wave);
        gates::replace_changed(session, plan, &gates)?;
        let objects = wave.iter().filter_map(|key| Some((*key, plan.graph.get(key)?)));
        let results =
            session
                .block_on(futures::future::join_all(objects.map(|(key, object)| {
                    session.cluster.apply(plan.target(key), object, options)
                })));
        let errors: Vec<String> =
            results.iter().filter_map(|r| r.as_ref().err()).map(ToString::to_string).collect();
        if !errors.is_empty() {
            return Err(Failure::runtime(errors));
        }
        applied += wave.len();
        session.step(&format!("applied a wave of {}", wave.len()));
        if !gates.is_empty() {
            gates::run(session, plan, &gates, timeout, gate_logs)?;
            session.step(&format!("{} gate Job(s) completed", gates.len()));
        }
    }
    Ok(applied)
}

/// Deletes `doomed`, in reverse apply order.
fn prune(session: &Session, plan: &Plan, doomed: &[ResourceKey]) -> Result<Vec<String>, Failure> {
    let mut pruned = Vec::new();
    for key in doomed {
        let Some(target) = plan.target_of(key) else {
            eprintln!("warning: {key} cannot be pruned: the cluster no longer serves its kind");
            continue;
        };
        if session
            .block_on(session.cluster.delete(target, key.namespace.as_deref(), &key.name))
            .map_err(failure)?
        {
            pruned.push(key.to_string());
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
