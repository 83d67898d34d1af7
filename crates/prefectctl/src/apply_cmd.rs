//! `apply`: installs or upgrades the release. On an installed release it starts from the
//! plugins and values the last revision recorded, with the flags on top; see [`crate::write`]
//! for what a write does, and [`crate::changes`] for `--dry-run=server`.

use std::fmt::Write as _;

use prefect_cluster::{
    discovery::builtin,
    record::{PluginRecord, Status},
};
use prefect_plugin_host::checksum;
use serde_json::json;

use crate::{
    changes,
    cli::{ApplyArgs, ReleaseArgs},
    failure::Failure,
    plan::{self, Plan},
    prefect::notes,
    release::Release,
    session::{Session, failure},
    write::{self, Change},
};

/// `prefectctl apply`.
pub fn run(args: &ReleaseArgs, apply: &ApplyArgs) -> Result<String, Failure> {
    let session = Session::open(args)?;
    if apply.dry_run.is_some() {
        return dry_run(&session, args, apply);
    }
    if apply.create_namespace && !namespace_exists(&session)? {
        // A new namespace holds no release to lock or to start from; the plugins see the
        // values first, so that values they refuse leave no namespace behind.
        check_plugins(&session, args, apply)?;
        create_namespace(&session)?;
    }
    session.take_lock()?;
    session.step("took the release lock");
    let result = install_or_upgrade(&session, args, apply);
    session.release_lock();
    result
}

fn install_or_upgrade(
    session: &Session,
    args: &ReleaseArgs,
    apply: &ApplyArgs,
) -> Result<String, Failure> {
    let (history, info) = session.history_and_server()?;
    session.step("read the release's history and the server's API versions");
    let release = plan::prepare(session, args, &history, apply.reset_values)?;
    let graph = plan::graph(session, &info, &release)?;
    session.step("ran the plugins");
    let plan = Plan::new(session, &info, graph, &write::previous_objects(&history))?;
    session.step("resolved every kind");
    let upgrade = history.iter().any(|r| r.status == Status::Deployed);
    let change = Change {
        description: if upgrade { "Upgrade complete" } else { "Install complete" }.to_owned(),
        plugins: plugin_records(&release),
        values: release.values.tree().clone(),
    };
    let written = write::write(session, &plan, &history, change, &apply.write)?;
    let mut out = format!(
        "{}: revision {} deployed: {} objects applied",
        session.describe(),
        written.revision,
        written.applied
    );
    if !written.pruned.is_empty() {
        let _ = write!(out, ", {} pruned ({})", written.pruned.len(), written.pruned.join(", "));
    }
    if !written.kept.is_empty() {
        let _ = write!(out, "; kept, being data: {}", written.kept.join(", "));
    }
    let _ = writeln!(out, "; {} API requests", session.cluster.requests());
    if !upgrade {
        let objects: Vec<_> =
            plan.graph.ordered().into_iter().map(|(k, o)| (k.clone(), o.clone())).collect();
        out.push_str(&notes::after_install(&session.namespace, &session.release, &objects));
    }
    Ok(out)
}

/// `apply --dry-run=server`: every object checked by the API server, nothing stored, and what
/// would change listed.
fn dry_run(session: &Session, args: &ReleaseArgs, apply: &ApplyArgs) -> Result<String, Failure> {
    let (history, info) = session.history_and_server()?;
    let release = plan::prepare(session, args, &history, apply.reset_values)?;
    let graph = plan::graph(session, &info, &release)?;
    let previous = write::previous_objects(&history);
    let plan = Plan::new(session, &info, graph, &previous)?;
    let changes = changes::compute(session, &plan, &previous, apply.write.force_conflicts)?;
    let mut out = format!("{}: server dry run, nothing was stored\n", session.describe());
    for change in &changes {
        let _ = writeln!(out, "{:<10}{}", change.verb(), change.key);
    }
    let count = |verb: &str| changes.iter().filter(|c| c.verb() == verb).count();
    // Replacements are rare (a gate Job whose spec changed): named only when there are some.
    let replace = match count("replace") {
        0 => String::new(),
        n => format!("{n} to replace, "),
    };
    let _ = writeln!(
        out,
        "{} to create, {} to update, {replace}{} to delete, {} unchanged; {} API requests",
        count("create"),
        count("update"),
        count("delete"),
        count("unchanged"),
        session.cluster.requests()
    );
    Ok(out)
}

/// How each plugin was selected, for the record: by name, or by its file's full path (when
/// given by path, on the command line or by the release's record), which the next upgrade
/// loads it from; and the file it was loaded from and its SHA-256 either way.
pub fn plugin_records(release: &Release) -> Vec<PluginRecord> {
    release
        .plugins
        .iter()
        .map(|plugin| {
            let canonical =
                std::fs::canonicalize(&plugin.path).unwrap_or_else(|_| plugin.path.clone());
            let path = canonical.display().to_string();
            PluginRecord {
                name: plugin.name().to_owned(),
                version: plugin.manifest.version.clone(),
                spec: if plugin.given_by_path() { path.clone() } else { plugin.name().to_owned() },
                sha256: checksum(&plugin.path).ok(),
                path: Some(path),
            }
        })
        .collect()
}

/// Whether the release namespace exists.
fn namespace_exists(session: &Session) -> Result<bool, Failure> {
    let target = builtin("v1", "Namespace", "namespaces", false);
    let live = session.block_on(session.cluster.get(&target, None, &session.namespace));
    Ok(live.map_err(failure)?.is_some())
}

/// Runs the plugins on a release without history, writing nothing.
fn check_plugins(session: &Session, args: &ReleaseArgs, apply: &ApplyArgs) -> Result<(), Failure> {
    let (history, info) = session.history_and_server()?;
    let release = plan::prepare(session, args, &history, apply.reset_values)?;
    let graph = plan::graph(session, &info, &release)?;
    Plan::new(session, &info, graph, &[])?;
    session.step("checked the plugins before creating the namespace");
    Ok(())
}

/// Creates the release namespace unless it exists.
fn create_namespace(session: &Session) -> Result<(), Failure> {
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": session.namespace },
    });
    let target = builtin("v1", "Namespace", "namespaces", false);
    session.block_on(session.cluster.create(&target, &namespace)).map_err(failure)?;
    Ok(())
}
