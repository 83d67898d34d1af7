//! What a write will apply: the release prepared on top of what it recorded, its plugins run
//! with the cluster's capabilities and live objects, and every kind resolved on the cluster
//! before anything is written ([`Plan`]).

use std::collections::{BTreeMap, BTreeSet};

use prefect_cluster::{ServerInfo, Target, record::Revision};
use prefect_manifest::{Graph, ResourceKey};
use prefect_plugin_abi::wire::{Capabilities, ObjectRef};
use prefect_plugin_host::{Plugin, PluginSpec};
use prefect_values::Layer;
use serde_json::Value;

use crate::{
    build::{self, LiveObjects},
    cli::ReleaseArgs,
    failure::Failure,
    release::{self, Release},
    session::{Session, failure},
    stack::Base,
};

/// The objects to apply, with the kind of each resolved on the cluster.
pub struct Plan {
    /// The objects, with who added and changed them.
    pub graph: Graph,
    targets: BTreeMap<(String, String), Target>,
}

impl Plan {
    /// The plan of `graph`'s objects, with the kinds of `previous` (objects that earlier
    /// revisions applied, which may be pruned) resolved in the same pass; a kind of `graph` the
    /// cluster does not serve is an error naming the plugin that added it, before anything is
    /// written.
    pub fn new(
        session: &Session,
        info: &ServerInfo,
        graph: Graph,
        previous: &[Value],
    ) -> Result<Plan, Failure> {
        let kinds: BTreeSet<(String, String)> = graph
            .ordered()
            .iter()
            .map(|(key, _)| (key.api_version.clone(), key.kind.clone()))
            .collect();
        let mut all = kinds.clone();
        all.extend(
            previous
                .iter()
                .filter_map(|o| ResourceKey::of(o).ok())
                .map(|k| (k.api_version, k.kind)),
        );
        let resolved = session.block_on(session.cluster.resolve(info, &all)).map_err(failure)?;
        let resolved = match resolved {
            Ok(targets) => Ok(targets),
            // Kinds only earlier revisions had may be gone (a CRD uninstalled): resolve the
            // rest; their objects cannot be pruned.
            Err(missing)
                if missing
                    .iter()
                    .all(|m| !kinds.contains(&(m.api_version.clone(), m.kind.clone()))) =>
            {
                let served: BTreeSet<(String, String)> = all
                    .into_iter()
                    .filter(|k| !missing.iter().any(|m| m.api_version == k.0 && m.kind == k.1))
                    .collect();
                session.block_on(session.cluster.resolve(info, &served)).map_err(failure)?
            }
            Err(missing) => Err(missing
                .into_iter()
                .filter(|m| kinds.contains(&(m.api_version.clone(), m.kind.clone())))
                .collect()),
        };
        let targets = resolved.map_err(|missing: Vec<prefect_cluster::NotServed>| {
            let messages = missing
                .iter()
                .map(|kind| {
                    let by: Vec<String> = graph
                        .ordered()
                        .iter()
                        .filter(|(key, _)| {
                            key.api_version == kind.api_version && key.kind == kind.kind
                        })
                        .filter_map(|(key, _)| {
                            graph.provenance(key).map(|p| format!("`{}`", p.added_by))
                        })
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    format!(
                        "the cluster does not serve {} ({}), which plugin {} adds: install what \
                         serves it (its CustomResourceDefinition), or turn that option off; \
                         nothing was written",
                        kind.kind,
                        kind.api_version,
                        by.join(", ")
                    )
                })
                .collect();
            Failure::runtime(messages)
        })?;
        Ok(Plan { graph, targets })
    }

    /// The objects in apply order.
    pub fn objects(&self) -> Vec<Value> {
        self.graph.ordered().into_iter().map(|(_, object)| object.clone()).collect()
    }

    /// The target of an object of the plan.
    pub fn target(&self, key: &ResourceKey) -> &Target {
        &self.targets[&(key.api_version.clone(), key.kind.clone())]
    }

    /// The target of each kind the plan or an earlier revision has, by apiVersion and kind.
    pub fn targets(&self) -> &BTreeMap<(String, String), Target> {
        &self.targets
    }

    /// The target of an object the plan or an earlier revision has, if its kind is served.
    pub fn target_of(&self, key: &ResourceKey) -> Option<&Target> {
        self.targets.get(&(key.api_version.clone(), key.kind.clone()))
    }
}

/// The graph of objects a revision recorded (for `rollback`).
pub fn recorded_graph(revision: &Revision) -> Result<Graph, Failure> {
    let mut graph = Graph::new();
    let source = format!("revision {}", revision.revision);
    graph
        .apply(&source, revision.objects.clone(), Vec::new())
        .map_err(|errors| Failure::runtime(errors.iter().map(ToString::to_string).collect()))?;
    Ok(graph)
}

/// The revision whose plugins and values an upgrade starts from: the latest that was
/// deployed, else the latest at all (an install that failed).
pub fn base_revision(history: &[Revision]) -> Option<&Revision> {
    use prefect_cluster::record::Status;
    history.iter().rev().find(|r| r.status == Status::Deployed).or(history.last())
}

/// The release as the flags make it on top of what `history` recorded: its plugins (less
/// `--without`, plus `--plugin`) and its values (unless `reset_values`, or the base revision
/// failed) under the new ones.
pub fn prepare(
    session: &Session,
    args: &ReleaseArgs,
    history: &[Revision],
    reset_values: bool,
) -> Result<Release, Failure> {
    let Some(base) = base_revision(history) else {
        return release::prepare_on(args, &session.namespace, &Base::default_stack(), None);
    };
    let plugins =
        base.plugins.iter().map(|p| (p.name.clone(), PluginSpec::parse(&p.spec))).collect();
    let base_stack = Base { plugins, what: session.describe() };
    let source = format!("release {} revision {}", session.release, base.revision);
    // A failed revision's values may be what the API server refused (only a failed install
    // leaves one as the base): the next apply starts from what the user gives now.
    let failed = base.status == prefect_cluster::record::Status::Failed;
    if failed && !reset_values && base.values.as_object().is_some_and(|v| !v.is_empty()) {
        eprintln!(
            "warning: revision {} failed and none was deployed: its values are not reused, only \
             those given now",
            base.revision
        );
    }
    let recorded =
        (!reset_values && !failed).then(|| Layer::recorded(base.values.clone(), &source));
    let release = release::prepare_on(args, &session.namespace, &base_stack, recorded)?;
    warn_changed_files(base, &release);
    Ok(release)
}

/// Takes each plugin's checksum from the latest revision's record when its file is the one
/// recorded and has not been written since (the same [`prefect_plugin_host::stamp`]), which
/// saves reading every library again on each apply.
pub fn reuse_checksums(history: &[Revision], release: &Release) {
    let Some(latest) = history.last() else { return };
    for recorded in &latest.plugins {
        let (Some(path), Some(sha256), Some(stamp)) =
            (&recorded.path, &recorded.sha256, &recorded.stamp)
        else {
            continue;
        };
        let same_file = |plugin: &&Plugin| {
            plugin.name() == recorded.name
                && std::fs::canonicalize(&plugin.path).is_ok_and(|p| p.as_os_str() == path.as_str())
        };
        if let Some(plugin) = release.plugins.iter().find(same_file) {
            plugin.knows_sha256_if_unchanged(sha256, stamp);
        }
    }
}

/// Warns about each plugin the release recorded by path whose file has changed since: the
/// upgrade runs the file as it is now.
fn warn_changed_files(base: &Revision, release: &Release) {
    for recorded in &base.plugins {
        let (Some(path), Some(then)) = (&recorded.path, &recorded.sha256) else { continue };
        let Some(plugin) = release.plugins.iter().find(|p| p.name() == recorded.name) else {
            continue;
        };
        let same_file =
            std::fs::canonicalize(&plugin.path).is_ok_and(|p| p.as_os_str() == path.as_str());
        if !plugin.given_by_path() || !same_file {
            continue;
        }
        if let Some(now) = plugin.sha256()
            && now != then
        {
            eprintln!(
                "warning: plugin `{}`: {path} has changed since revision {} recorded it \
                 (SHA-256 {then}, now {now}); this upgrade runs it as it is now",
                recorded.name, base.revision
            );
        }
    }
}

/// The cluster's capabilities, as plugins see them.
pub fn capabilities(info: &ServerInfo) -> Capabilities {
    Capabilities { kube_version: info.version.clone(), api_versions: info.group_versions.clone() }
}

/// Runs the release's plugins against the cluster: its capabilities, and live objects for
/// their lookups; then refuses what the API server would refuse, before anything is written.
pub fn graph(session: &Session, info: &ServerInfo, release: &Release) -> Result<Graph, Failure> {
    let mut live = ClusterObjects { session, info, targets: BTreeMap::new() };
    let graph = build::graph(release, &capabilities(info), &mut live, session.debug)?;
    release::check_graph(&graph)?;
    Ok(graph)
}

/// Answers lookups from the cluster.
struct ClusterObjects<'a> {
    session: &'a Session,
    info: &'a ServerInfo,
    targets: BTreeMap<(String, String), Option<Target>>,
}

impl LiveObjects for ClusterObjects<'_> {
    fn available(&self) -> bool {
        true
    }

    fn read(
        &mut self,
        reference: &ObjectRef,
    ) -> Result<Option<Value>, prefect_plugin_host::turn::Cause> {
        let kind = (reference.api_version.clone(), reference.kind.clone());
        if !self.targets.contains_key(&kind) {
            let kinds = BTreeSet::from([kind.clone()]);
            let resolved =
                self.session.block_on(self.session.cluster.resolve(self.info, &kinds))?;
            self.targets.insert(kind.clone(), resolved.ok().and_then(|mut t| t.remove(&kind)));
        }
        // A kind the cluster does not serve has no objects.
        let Some(target) = &self.targets[&kind] else { return Ok(None) };
        self.session
            .block_on(self.session.cluster.get(
                target,
                reference.namespace.as_deref(),
                &reference.name,
            ))
            .map_err(Into::into)
    }
}
