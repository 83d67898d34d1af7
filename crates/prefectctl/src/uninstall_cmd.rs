//! `uninstall`: deletes the release's objects in reverse apply order, keeps its data
//! (PersistentVolumeClaims and what belongs with them, such as a generated database password)
//! unless `--delete-data`, and removes the release records last, so that an uninstall that
//! fails part-way can be run again.

use prefect_cluster::{
    discovery::builtin,
    record::{Revision, Status},
};
use prefect_manifest::{Graph, ResourceKey};

use crate::{
    cli::{ReleaseArgs, UninstallArgs},
    failure::Failure,
    inspect_cmd::not_installed,
    plan::Plan,
    session::{Session, failure},
    write::{is_data, previous_objects},
};

/// `prefectctl uninstall`.
pub fn run(args: &ReleaseArgs, uninstall: &UninstallArgs) -> Result<String, Failure> {
    let session = Session::open(args)?;
    session.take_lock()?;
    let result = remove(&session, uninstall.delete_data);
    session.release_lock();
    result
}

fn remove(session: &Session, delete_data: bool) -> Result<String, Failure> {
    let history = session.history()?;
    let Some(latest) = history.last() else { return Err(not_installed(session)) };
    let marked = Revision { status: Status::Uninstalling, ..latest.clone() };
    session.block_on(session.cluster.write_record(&marked)).map_err(failure)?;

    // What the release has now, and the data any revision ever had: an upgrade that dropped a
    // claim kept it, and it still belongs to the release.
    let mut objects = previous_objects(&history);
    objects.extend(history.iter().flat_map(|r| r.objects.iter()).filter(|o| is_data(o)).cloned());
    let info = session.block_on(session.cluster.server_info()).map_err(failure)?;
    let plan = Plan::new(session, &info, Graph::new(), &objects)?;
    let mut keys: Vec<(ResourceKey, bool)> = Vec::new();
    for object in &objects {
        let Ok(key) = ResourceKey::of(object) else { continue };
        if !keys.iter().any(|(k, _)| *k == key) {
            keys.push((key, is_data(object)));
        }
    }
    prefect_manifest::order::sort(&mut keys, |(key, _)| key);
    keys.reverse();

    let (mut deleted, mut kept) = (0, Vec::new());
    for (key, data) in &keys {
        if *data && !delete_data {
            kept.push(key.to_string());
            continue;
        }
        let Some(target) = plan.target_of(key) else { continue };
        if session
            .block_on(session.cluster.delete(target, key.namespace.as_deref(), &key.name))
            .map_err(failure)?
        {
            deleted += 1;
        }
    }
    if delete_data {
        // Claims made from StatefulSets' volumeClaimTemplates are in no record: find them by
        // the release's label.
        let claims = builtin("v1", "PersistentVolumeClaim", "persistentvolumeclaims", true);
        let selector = format!("app.kubernetes.io/instance={}", session.release);
        let found = session
            .block_on(session.cluster.list(&claims, Some(&session.namespace), &selector))
            .map_err(failure)?;
        for claim in found {
            let name = claim["metadata"]["name"].as_str().unwrap_or_default();
            if session
                .block_on(session.cluster.delete(&claims, Some(&session.namespace), name))
                .map_err(failure)?
            {
                deleted += 1;
            }
        }
    }
    for revision in &history {
        session
            .block_on(session.cluster.delete_record(
                &session.namespace,
                &session.release,
                revision.revision,
            ))
            .map_err(failure)?;
    }
    let mut out = format!("{}: uninstalled, {deleted} objects deleted", session.describe());
    if !kept.is_empty() {
        out.push_str(&format!(
            "; kept the data ({}): delete it with uninstall --delete-data",
            kept.join(", ")
        ));
    }
    out.push('\n');
    Ok(out)
}
