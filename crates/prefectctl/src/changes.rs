//! What a write would change, object by object: each planned object as the API server would
//! store it (a server-side dry run), next to the live object; and the objects earlier revisions
//! applied that the plan no longer has. `apply --dry-run=server` lists the changes and `diff`
//! shows them.
//!
//! Objects are compared without what the API server and its controllers keep on them and no
//! apply writes (`status`, `managedFields`, `resourceVersion`, `generation`): a controller
//! updating a Deployment's status between the live read and the dry run is not a change the
//! user makes. Secrets' values are never shown: each becomes `***`, or `*** (before)` and
//! `*** (after)` where it changes.

use std::collections::{BTreeMap, BTreeSet};

use prefect_cluster::{
    Cluster, ServerInfo, Target,
    objects::{ApplyOptions, FIELD_MANAGER},
    record::{PluginRecord, Revision, Status, version_key},
};
use prefect_manifest::ResourceKey;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::{
    failure::Failure,
    gates,
    plan::Plan,
    session::{Session, failure},
    write::{is_data, until_failure},
};

/// One object's change.
pub struct ObjectChange {
    /// Which object.
    pub key: ResourceKey,
    /// The live object, normalised; `None` when it does not exist.
    pub live: Option<Value>,
    /// The object as the write would leave it, normalised; `None` when pruned.
    pub planned: Option<Value>,
    /// An object earlier revisions applied that the plan drops but keeps, being data.
    pub kept: bool,
    /// A gate Job whose spec changed: the write deletes it and creates it again (its pod
    /// template cannot change in place), so `planned` is the object as planned, not as the
    /// server would store it.
    pub replaced: bool,
}

impl ObjectChange {
    /// `create`, `update`, `replace`, `unchanged`, `delete` or `keep`.
    pub fn verb(&self) -> &'static str {
        if self.replaced {
            return "replace";
        }
        match (&self.live, &self.planned) {
            (None, Some(_)) => "create",
            (Some(live), Some(planned)) if live == planned => "unchanged",
            (Some(_), Some(_)) => "update",
            (Some(_), None) if self.kept => "keep",
            (Some(_), None) => "delete",
            (None, None) => "unchanged",
        }
    }

    /// Whether the write changes the object.
    pub fn changes(&self) -> bool {
        !matches!(self.verb(), "unchanged" | "keep")
    }
}

/// The changes writing `plan` after `previous` (objects of earlier revisions) would make;
/// `force` takes over fields of other managers, as `--force-conflicts` does.
pub fn compute(
    session: &Session,
    plan: &Plan,
    previous: &[Value],
    force: bool,
) -> Result<Vec<ObjectChange>, Failure> {
    let planned = plan.graph.ordered();
    let mut changes = planned_changes(session, plan, &planned, force)?;

    let keys: BTreeSet<ResourceKey> = planned.iter().map(|(key, _)| (*key).clone()).collect();
    let mut seen = BTreeSet::new();
    for object in previous {
        let Ok(key) = ResourceKey::of(object) else { continue };
        if keys.contains(&key) || !seen.insert(key.clone()) {
            continue;
        }
        let Some(target) = plan.target_of(&key) else { continue };
        let live = session
            .block_on(session.cluster.get(target, key.namespace.as_deref(), &key.name))
            .map_err(failure)?;
        if let Some(live) = live {
            changes.push(ObjectChange {
                key,
                live: Some(normalize(live)),
                planned: None,
                kept: is_data(object),
                replaced: false,
            });
        }
    }
    Ok(changes)
}

/// The changes of `planned` (objects of `plan`): each one read live and applied in a server
/// dry run, at most [`crate::write::CONCURRENT_WRITES`] at a time.
fn planned_changes(
    session: &Session,
    plan: &Plan,
    planned: &[(&ResourceKey, &Value)],
    force: bool,
) -> Result<Vec<ObjectChange>, Failure> {
    let dry_run = ApplyOptions { dry_run: true, force };
    let results = session.block_on(until_failure(planned.iter().map(|(key, object)| async move {
        let target = plan.target(key);
        let live = session.cluster.get(target, key.namespace.as_deref(), &key.name).await?;
        // A server-side dry run of a changed pod template of a Job is refused (immutable):
        // the write replaces such a gate, so the change is the planned object itself.
        if let Some(live) = live.as_ref().filter(|live| gates::changed(key, object, live)) {
            let change = ((*key).clone(), Some(live.clone()), (*object).clone(), true);
            return Ok(change);
        }
        let would = session.cluster.apply(target, object, dry_run).await?;
        Ok::<_, prefect_cluster::Error>(((*key).clone(), live, would, false))
    })));
    let mut changes = Vec::new();
    for result in results {
        let (key, live, would, replaced) = result.map_err(failure)?;
        let live = live.map(normalize);
        let planned = Some(normalize(would));
        changes.push(ObjectChange { key, live, planned, kept: false, replaced });
    }
    Ok(changes)
}

/// Whether writing `plan` after `history` as `plugins` (asked for last) and `values` would
/// change nothing, so that `apply` records no revision: the latest revision is deployed (not
/// failed, pending or interrupted, which a write completes) with the same plugins, values and
/// objects, and every object is as that revision left it. An object whose resourceVersion is
/// still the one the revision recorded is ([`unchanged_since`], read by `meanwhile` while the
/// plugins ran when it could be); every other one is read live and applied in a server dry
/// run, without taking over any field, which must leave it as it is. A conflict, a missing
/// object, or any error of the dry run means there is something to write.
pub fn none<'a>(
    session: &Session,
    plan: &Plan,
    history: &[Revision],
    plugins: &dyn Fn() -> &'a [PluginRecord],
    values: &Value,
    meanwhile: ProvenMeanwhile,
) -> bool {
    let Some(latest) = history.last() else { return false };
    if latest.status != Status::Deployed
        || latest.values != *values
        || latest.objects != plan.objects()
    {
        return false;
    }
    // The objects are the latest revision's: what was proven of those holds for the plan.
    let proven = match meanwhile.take().map(|reading| session.block_on(reading)) {
        Some(Ok(Some(proven))) => proven,
        _ => {
            let objects = plan.graph.ordered();
            let (cluster, release) = (&session.cluster, &session.release);
            session.block_on(unchanged_since(cluster, release, &objects, plan.targets(), latest))
        }
    };
    // Last: the records wait for the plugins' checksums, worked out meanwhile.
    if latest.plugins != *plugins() {
        return false;
    }
    let rest: Vec<(&ResourceKey, &Value)> =
        plan.graph.ordered().into_iter().filter(|(key, _)| !proven.contains(*key)).collect();
    session.step(&format!(
        "{} objects as the last revision left them, {} to ask the server about",
        proven.len(),
        rest.len()
    ));
    planned_changes(session, plan, &rest, false)
        .is_ok_and(|changes| changes.iter().all(|change| !change.changes()))
}

/// The objects [`unchanged_since`] proves of the latest revision, read while the plugins run:
/// started when that revision is deployed with the values the plugins are given, which is when
/// [`none`] needs it (an upgrade with new values does not). Dropped unused, it stops.
#[derive(Default)]
pub struct ProvenMeanwhile(Option<JoinHandle<Option<BTreeSet<ResourceKey>>>>);

impl ProvenMeanwhile {
    /// Starts reading; the kinds of the latest revision's objects are resolved on the way,
    /// which the plan's resolution then finds known.
    pub fn start(
        session: &Session,
        info: &ServerInfo,
        history: &[Revision],
        values: &Value,
    ) -> ProvenMeanwhile {
        let Some(latest) = history.last() else { return ProvenMeanwhile::default() };
        if latest.status != Status::Deployed || latest.values != *values {
            return ProvenMeanwhile::default();
        }
        let (cluster, release) = (session.cluster.clone(), session.release.clone());
        let (info, latest) = (info.clone(), latest.clone());
        ProvenMeanwhile(Some(session.spawn(async move {
            let objects: Vec<(ResourceKey, &Value)> = latest
                .objects
                .iter()
                .filter_map(|object| Some((ResourceKey::of(object).ok()?, object)))
                .collect();
            let kinds = objects.iter().map(|(k, _)| (k.api_version.clone(), k.kind.clone()));
            let targets = cluster.resolve(&info, &kinds.collect()).await.ok()?.ok()?;
            let objects: Vec<(&ResourceKey, &Value)> =
                objects.iter().map(|(k, o)| (k, *o)).collect();
            Some(unchanged_since(&cluster, &release, &objects, &targets, &latest).await)
        })))
    }

    fn take(mut self) -> Option<JoinHandle<Option<BTreeSet<ResourceKey>>>> {
        self.0.take()
    }
}

impl Drop for ProvenMeanwhile {
    fn drop(&mut self) {
        if let Some(reading) = &self.0 {
            reading.abort();
        }
    }
}

/// Of `objects` (those of `latest`, with their kinds' targets), the ones that are as the write
/// of `latest` left them, as far as prefectctl's fields go: their [`applied_fingerprint`] is
/// the one `latest` recorded, or (records written before fingerprints) their resourceVersion
/// is. Read with one metadata-only list per kind and namespace, all at once; a namespace's
/// objects of the release are picked by its `app.kubernetes.io/instance` label when the plan
/// puts it on each of them, and cluster-scoped objects only when it does. Objects of a list
/// that fails (a user who may not list them), or of a kind not resolved, are not proven here.
async fn unchanged_since(
    cluster: &Cluster,
    release: &str,
    objects: &[(&ResourceKey, &Value)],
    targets: &BTreeMap<(String, String), Target>,
    latest: &Revision,
) -> BTreeSet<ResourceKey> {
    type Group<'a> = (&'a Target, Vec<(&'a ResourceKey, &'a Value)>);
    let labelled = |object: &Value| object["metadata"]["labels"][INSTANCE_LABEL] == *release;
    let mut groups: BTreeMap<(&str, &str, Option<&str>), Group<'_>> = BTreeMap::new();
    for &(key, object) in objects {
        let Some(kind) = targets.get(&(key.api_version.clone(), key.kind.clone())) else {
            continue;
        };
        let namespace = key.namespace.as_deref().filter(|_| kind.namespaced);
        // A cluster-scoped kind is listed only by the release's label: all the cluster's
        // ClusterRoles would be a long read.
        if namespace.is_none() && !labelled(object) {
            continue;
        }
        let recorded = version_key(&key.api_version, &key.kind, namespace, &key.name);
        if latest.versions.contains_key(&recorded) {
            let group = groups.entry((&key.api_version, &key.kind, namespace));
            group.or_insert_with(|| (kind, Vec::new())).1.push((key, object));
        }
    }
    let lists =
        futures::future::join_all(groups.iter().map(|((_, _, namespace), (kind, objects))| {
            let all_labelled = objects.iter().all(|(_, object)| labelled(object));
            let selector =
                if all_labelled { format!("{INSTANCE_LABEL}={release}") } else { String::new() };
            async move { cluster.list_metadata(kind, *namespace, &selector).await }
        }))
        .await;
    let mut proven = BTreeSet::new();
    for ((_, objects), live) in groups.values().zip(lists) {
        let Ok(live) = live else { continue };
        let live: BTreeMap<&str, &Value> =
            live.iter().filter_map(|o| Some((o["metadata"]["name"].as_str()?, o))).collect();
        for (key, _) in objects {
            let recorded =
                version_key(&key.api_version, &key.kind, key.namespace.as_deref(), &key.name);
            let (Some(recorded), Some(live)) =
                (latest.versions.get(&recorded), live.get(key.name.as_str()))
            else {
                continue;
            };
            let as_left = match recorded.strip_prefix(FINGERPRINT_PREFIX) {
                Some(_) => applied_fingerprint(live).as_ref() == Some(recorded),
                None => live["metadata"]["resourceVersion"].as_str() == Some(recorded),
            };
            if as_left {
                proven.insert((*key).clone());
            }
        }
    }
    proven
}

/// How a fingerprint starts in [`Revision::versions`], where older records keep a
/// resourceVersion.
const FINGERPRINT_PREFIX: &str = "applied ";

/// What says that prefectctl's fields of `object` still hold what it applied: its field
/// manager's `Apply` entry in `managedFields`, the time it last changed and a digest of the
/// fields. Any other writer that changes one of those fields takes it over, which changes the
/// entry; what controllers write elsewhere (a Deployment's status, a ServiceAccount's token
/// Secrets) changes the resourceVersion but not the entry, so an apply with nothing new need
/// not ask the server about such an object. `None` when prefectctl never applied it.
pub fn applied_fingerprint(object: &Value) -> Option<String> {
    let entry = object["metadata"]["managedFields"].as_array()?.iter().find(|entry| {
        entry["manager"] == FIELD_MANAGER
            && entry["operation"] == "Apply"
            && entry.get("subresource").is_none_or(|s| s.as_str().is_none_or(str::is_empty))
    })?;
    let time = entry["time"].as_str()?;
    let digest = Sha256::digest(entry["fieldsV1"].to_string().as_bytes());
    let digest: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    Some(format!("{FINGERPRINT_PREFIX}{time} {digest}"))
}

/// The objects of `plan` that exist but are not the release's, each with who has it; empty
/// when every object is new or the release's. An object is the release's when an earlier
/// revision recorded it, when its labels say so (`app.kubernetes.io/managed-by=prefectctl`
/// and `app.kubernetes.io/instance=<release>`), or when prefectctl's field manager writes it
/// and no other release is named on it: what a release that was uninstalled keeps (its data)
/// is still its own.
pub fn foreign(
    session: &Session,
    plan: &Plan,
    history: &[Revision],
) -> Result<Vec<(ResourceKey, String)>, Failure> {
    let recorded: BTreeSet<ResourceKey> = history
        .iter()
        .flat_map(|revision| &revision.objects)
        .filter_map(|object| ResourceKey::of(object).ok())
        .collect();
    let unknown: Vec<&ResourceKey> = plan
        .graph
        .ordered()
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| !recorded.contains(*key))
        .collect();
    // Many objects of one kind in one namespace (a first install) are found with one list of
    // their metadata (all `owner` reads); a few, or those a user may not list, one by one.
    let mut groups: BTreeMap<(&str, &str, &str), Vec<&ResourceKey>> = BTreeMap::new();
    let mut single = Vec::new();
    for key in unknown {
        match key.namespace.as_deref().filter(|_| plan.target(key).namespaced) {
            Some(namespace) => {
                groups.entry((&key.api_version, &key.kind, namespace)).or_default().push(key)
            }
            None => single.push(key),
        }
    }
    let mut lists = Vec::new();
    for ((_, _, namespace), keys) in groups {
        if keys.len() <= LIST_FROM {
            single.extend(keys);
        } else {
            lists.push((namespace, keys));
        }
    }
    let listed =
        session.block_on(futures::future::join_all(lists.iter().map(|(namespace, keys)| {
            session.cluster.list_metadata(plan.target(keys[0]), Some(namespace), "")
        })));
    let mut found = Vec::new();
    for ((_, keys), live) in lists.into_iter().zip(listed) {
        let live = match live {
            Ok(live) => live,
            Err(err) if err.status() == Some(403) => {
                single.extend(keys);
                continue;
            }
            Err(err) => return Err(failure(err)),
        };
        let live: BTreeMap<&str, &Value> =
            live.iter().filter_map(|o| Some((o["metadata"]["name"].as_str()?, o))).collect();
        for key in keys {
            if let Some(owner) =
                live.get(key.name.as_str()).and_then(|o| owner(o, &session.release))
            {
                found.push((key.clone(), owner));
            }
        }
    }
    let lives = session.block_on(until_failure(single.iter().map(|key| async move {
        match session.cluster.get(plan.target(key), key.namespace.as_deref(), &key.name).await {
            // Not readable, so not checkable: a user without `get` rarely has `patch`, and
            // the check of the rights a write needs, which comes next, names what is missing.
            Err(err) if err.status() == Some(403) => Ok(None),
            other => other,
        }
    })));
    for (key, live) in single.into_iter().zip(lives) {
        if let Some(owner) = live.map_err(failure)?.and_then(|live| owner(&live, &session.release))
        {
            found.push((key.clone(), owner));
        }
    }
    prefect_manifest::order::sort(&mut found, |(key, _)| key);
    Ok(found)
}

/// From how many objects of one kind in one namespace [`foreign`] lists them rather than reads
/// each.
const LIST_FROM: usize = 4;

/// The `app.kubernetes.io/managed-by` label the SDK's labels put on every object.
const MANAGED_BY: &str = "prefectctl";

/// The label the SDK's labels set to the release's name on every object.
const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";

/// Who has `live`, as a message says it; `None` when it is `release`'s.
fn owner(live: &Value, release: &str) -> Option<String> {
    let labels = &live["metadata"]["labels"];
    let label = |name: &str| labels[name].as_str();
    let managed_by = label("app.kubernetes.io/managed-by");
    let instance = label("app.kubernetes.io/instance");
    let mut managers: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["manager"].as_str())
        .collect();
    managers.sort_unstable();
    managers.dedup();
    let ours = managed_by == Some(MANAGED_BY) || managers.contains(&FIELD_MANAGER);
    if ours && instance.is_none_or(|name| name == release) {
        return None;
    }
    let mut said = Vec::new();
    if let Some(tool) = managed_by {
        said.push(format!("managed-by {tool}"));
    }
    if let Some(name) = instance {
        said.push(format!("instance {name}"));
    }
    if let Some(name) = live["metadata"]["annotations"]["meta.helm.sh/release-name"].as_str() {
        said.push(format!("Helm release {name}"));
    }
    if !managers.is_empty() {
        said.push(format!("field managers {}", managers.join(", ")));
    }
    if said.is_empty() {
        said.push("no label or field manager says who made it".to_owned());
    }
    Some(said.join("; "))
}

/// The object without what the server and its controllers keep on it and no apply writes:
/// its status and the bookkeeping in its metadata.
fn normalize(mut object: Value) -> Value {
    let Some(fields) = object.as_object_mut() else { return object };
    fields.remove("status");
    if let Some(metadata) = fields.get_mut("metadata").and_then(Value::as_object_mut) {
        for server_set in ["managedFields", "resourceVersion", "generation"] {
            metadata.remove(server_set);
        }
    }
    object
}

/// `live` and `planned` with Secret values hidden: `***` where equal, `*** (before)` and
/// `*** (after)` where they differ, so that a diff shows which keys change but never a value.
pub fn redact(live: Option<&Value>, planned: Option<&Value>) -> (Option<Value>, Option<Value>) {
    let is_secret = |v: Option<&Value>| v.is_some_and(|v| v["kind"] == "Secret");
    if !is_secret(live) && !is_secret(planned) {
        return (live.cloned(), planned.cloned());
    }
    let data = |v: Option<&Value>, field: &str| {
        v.and_then(|v| v.get(field)).and_then(Value::as_object).cloned().unwrap_or_default()
    };
    let mut live = live.cloned();
    let mut planned = planned.cloned();
    for field in ["data", "stringData"] {
        let (before, after) = (data(live.as_ref(), field), data(planned.as_ref(), field));
        let mask = |own: &Map<String, Value>,
                    other: &Map<String, Value>,
                    suffix: &str|
         -> Map<String, Value> {
            own.iter()
                .map(|(key, value)| {
                    let text = if other.get(key) == Some(value) {
                        "***".to_owned()
                    } else {
                        format!("*** ({suffix})")
                    };
                    (key.clone(), Value::String(text))
                })
                .collect()
        };
        if let Some(live) =
            live.as_mut().and_then(Value::as_object_mut).filter(|o| o.contains_key(field))
        {
            live.insert(field.to_owned(), Value::Object(mask(&before, &after, "before")));
        }
        if let Some(planned) =
            planned.as_mut().and_then(Value::as_object_mut).filter(|o| o.contains_key(field))
        {
            planned.insert(field.to_owned(), Value::Object(mask(&after, &before, "after")));
        }
    }
    (live, planned)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_object_is_the_releases_by_its_labels_or_field_manager_unless_another_is_named() {
        let object = |labels: Value, managers: &[&str]| {
            let fields: Vec<Value> = managers.iter().map(|m| json!({ "manager": m })).collect();
            json!({ "metadata": { "labels": labels, "managedFields": fields } })
        };
        let ours = json!({
            "app.kubernetes.io/managed-by": "prefectctl",
            "app.kubernetes.io/instance": "prefect",
        });
        assert_eq!(owner(&object(ours.clone(), &[]), "prefect"), None);
        assert_eq!(owner(&object(json!({}), &["prefectctl", "kubectl"]), "prefect"), None);
        assert_eq!(
            owner(&object(ours, &["prefectctl"]), "other").as_deref(),
            Some("managed-by prefectctl; instance prefect; field managers prefectctl")
        );
        let helm = json!({
            "metadata": {
                "labels": {
                    "app.kubernetes.io/managed-by": "Helm",
                    "app.kubernetes.io/instance": "prefect",
                },
                "annotations": { "meta.helm.sh/release-name": "prefect" },
                "managedFields": [{ "manager": "helm" }, { "manager": "kube-controller-manager" }],
            }
        });
        assert_eq!(
            owner(&helm, "prefect").as_deref(),
            Some(
                "managed-by Helm; instance prefect; Helm release prefect; field managers helm, \
                 kube-controller-manager"
            )
        );
        assert_eq!(
            owner(&json!({ "metadata": {} }), "prefect").as_deref(),
            Some("no label or field manager says who made it")
        );
    }

    #[test]
    fn status_and_server_bookkeeping_written_between_the_reads_are_no_change() {
        let deployment = |replicas: u64, status: Value, version: &str, generation: u64| {
            json!({
                "kind": "Deployment",
                "metadata": {
                    "name": "prefect-server",
                    "resourceVersion": version,
                    "generation": generation,
                    "managedFields": [{ "manager": "prefectctl" }],
                },
                "spec": { "replicas": replicas },
                "status": status,
            })
        };
        let change = |live: Value, planned: Value| ObjectChange {
            key: ResourceKey::of(&json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": { "name": "prefect-server", "namespace": "default" },
            }))
            .unwrap(),
            live: Some(normalize(live)),
            planned: Some(normalize(planned)),
            kept: false,
            replaced: false,
        };
        // The Deployment controller updated the status after the live read.
        let live = deployment(1, json!({ "observedGeneration": 1 }), "100", 1);
        let would = deployment(1, json!({ "observedGeneration": 1, "readyReplicas": 1 }), "101", 1);
        assert_eq!(change(live.clone(), would).verb(), "unchanged");
        let scaled = deployment(2, json!({ "observedGeneration": 1 }), "102", 2);
        assert_eq!(change(live, scaled).verb(), "update");
    }

    #[test]
    fn the_fingerprint_is_prefectctls_apply_entry_and_nothing_else() {
        let object = |entries: Value| json!({ "metadata": { "managedFields": entries } });
        let ours = |fields: Value| {
            json!({
                "manager": "prefectctl", "operation": "Apply", "time": "2026-12-02T17:00:00Z",
                "fieldsV1": fields,
            })
        };
        let status = json!({
            "manager": "kube-controller-manager", "operation": "Update",
            "subresource": "status", "time": "2026-12-02T17:00:05Z",
            "fieldsV1": { "f:status": { "f:replicas": {} } },
        });
        let applied = object(json!([ours(json!({ "f:spec": { "f:replicas": {} } }))]));
        let fingerprint = applied_fingerprint(&applied).unwrap();
        assert!(fingerprint.starts_with("applied 2026-12-02T17:00:00Z "), "{fingerprint}");
        // A controller's status update since: the same.
        let with_status =
            object(json!([ours(json!({ "f:spec": { "f:replicas": {} } })), status.clone()]));
        assert_eq!(applied_fingerprint(&with_status), Some(fingerprint.clone()));
        // Someone took `spec.replicas` over: prefectctl's entry lost it.
        let taken = object(json!([ours(json!({ "f:spec": {} })), status]));
        assert_ne!(applied_fingerprint(&taken), Some(fingerprint));
        // An object prefectctl never applied, or updated without apply, has none.
        let updated = json!([{ "manager": "prefectctl", "operation": "Update", "time": "t" }]);
        assert_eq!(applied_fingerprint(&object(updated)), None);
        assert_eq!(applied_fingerprint(&json!({ "metadata": {} })), None);
    }

    #[test]
    fn secret_values_are_never_shown_but_changes_are() {
        let live = json!({ "kind": "Secret", "data": { "same": "c2FtZQ==", "old": "b2xk" } });
        let planned = json!({ "kind": "Secret", "data": { "same": "c2FtZQ==", "old": "bmV3" } });
        let (live, planned) = redact(Some(&live), Some(&planned));
        assert_eq!(live.unwrap()["data"], json!({ "same": "***", "old": "*** (before)" }));
        assert_eq!(planned.unwrap()["data"], json!({ "same": "***", "old": "*** (after)" }));
        let config = json!({ "kind": "ConfigMap", "data": { "a": "visible" } });
        assert_eq!(redact(Some(&config), None).0.unwrap(), config);
    }
}
