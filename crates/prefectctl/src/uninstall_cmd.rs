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
    // Found before their StatefulSets go, though the claims outlive them.
    let made = made_claims(session, &history)?;

    let (mut deleted, mut kept) = (0, std::collections::BTreeSet::new());
    for (key, data) in &keys {
        let Some(target) = plan.target_of(key) else { continue };
        let namespace = key.namespace.as_deref();
        if *data && !delete_data {
            let live = session.block_on(session.cluster.get(target, namespace, &key.name));
            if live.map_err(failure)?.is_some() {
                kept.insert(key.to_string());
            }
            continue;
        }
        if session
            .block_on(session.cluster.delete(target, namespace, &key.name))
            .map_err(failure)?
        {
            deleted += 1;
        }
    }
    let claims = builtin("v1", "PersistentVolumeClaim", "persistentvolumeclaims", true);
    for key in made.iter().filter(|made| !keys.iter().any(|(key, _)| key == *made)) {
        if !delete_data {
            kept.insert(key.to_string());
            continue;
        }
        let namespace = key.namespace.as_deref();
        if session
            .block_on(session.cluster.delete(&claims, namespace, &key.name))
            .map_err(failure)?
        {
            deleted += 1;
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
        let kept: Vec<String> = kept.into_iter().collect();
        out.push_str(&format!(
            "; kept the data ({}): delete it with uninstall --delete-data",
            kept.join(", ")
        ));
    }
    out.push('\n');
    Ok(out)
}

/// The claims that StatefulSets of the release made from their `volumeClaimTemplates`, which
/// no record holds: named `<template>-<statefulset>-<ordinal>` and labelled with the template's
/// labels and the StatefulSet's selector, as the controller makes them. Another tool's claims
/// (a Helm release of the same name labels its claims with the same instance) are not these.
fn made_claims(session: &Session, history: &[Revision]) -> Result<Vec<ResourceKey>, Failure> {
    let claims = builtin("v1", "PersistentVolumeClaim", "persistentvolumeclaims", true);
    let mut made: Vec<ResourceKey> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let sets = history.iter().flat_map(|r| &r.objects).filter(|o| o["kind"] == "StatefulSet");
    for set in sets {
        let Ok(key) = ResourceKey::of(set) else { continue };
        if !seen.insert(key.clone()) {
            continue;
        }
        let namespace = key.namespace.as_deref().unwrap_or(&session.namespace);
        let selector = labels(&set["spec"]["selector"]["matchLabels"]);
        let selector: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let found = session
            .block_on(session.cluster.list(&claims, Some(namespace), &selector.join(",")))
            .map_err(failure)?;
        for template in set["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
            let Some(template_name) = template["metadata"]["name"].as_str() else { continue };
            let prefix = format!("{template_name}-{}-", key.name);
            let wanted = labels(&template["metadata"]["labels"]);
            for claim in &found {
                let name = claim["metadata"]["name"].as_str().unwrap_or_default();
                let ordinal = name.strip_prefix(&prefix).unwrap_or_default();
                let has = labels(&claim["metadata"]["labels"]);
                if !ordinal.is_empty()
                    && ordinal.bytes().all(|b| b.is_ascii_digit())
                    && wanted.iter().all(|(k, v)| has.get(k) == Some(v))
                {
                    let claim =
                        ResourceKey::new("v1", "PersistentVolumeClaim", Some(namespace), name);
                    if !made.contains(&claim) {
                        made.push(claim);
                    }
                }
            }
        }
    }
    Ok(made)
}

/// A label map as pairs (empty when there is none).
fn labels(map: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    map.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}
