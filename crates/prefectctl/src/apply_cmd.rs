//! `apply`: installs or upgrades the release. On an installed release it starts from the
//! plugins and values the last revision recorded, with the flags on top; see [`crate::write`]
//! for what a write does, and [`crate::changes`] for `--dry-run=server`.

use std::{collections::BTreeSet, fmt::Write as _};

use prefect_cluster::{
    ServerInfo,
    discovery::builtin,
    record::{PluginRecord, Revision, Status},
};
use prefect_manifest::ResourceKey;
use prefect_plugin_host::Plugin;
use serde_json::{Value, json};

use crate::{
    adopt_helm::Adoption,
    changes,
    cli::{ApplyArgs, ReleaseArgs},
    failure::Failure,
    plan::{self, Plan},
    prefect::{env, notes},
    release::Release,
    session::{Session, failure},
    wait,
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
    session.read_server_meanwhile();
    let result = install_or_upgrade(&session, args, apply);
    session.release_lock();
    result
}

/// An apply reads and plans before it takes the release's lock, so that one with nothing to
/// write (the no-op check) writes nothing, not even the lock. The lock is read with the
/// records: when another command holds it, it is taken first (which says who holds it, or
/// takes over from a holder that is gone) and the records are read under it. Otherwise it is
/// taken once there is something to write, and the records read again: when another command
/// wrote since, the apply plans again from those.
fn install_or_upgrade(
    session: &Session,
    args: &ReleaseArgs,
    apply: &ApplyArgs,
) -> Result<String, Failure> {
    // The revisions a write works from; the superseded ones only if the foreign check needs
    // them.
    let (mut history, info, lock) = session.open_history_server_and_lock()?;
    session.step("read the release's open revisions, its lock and the server's API versions");
    let adoption = adoption(session, args, apply)?;
    // Taking over a Helm release is done under the lock from the start.
    if lock.is_some() || adoption.is_some() {
        session.take_lock()?;
        session.step("took the release lock");
        history = session.open_history()?;
    }
    loop {
        match plan_and_write(session, args, apply, &history, &info, adoption.as_ref())? {
            Planned::Done(out) => return Ok(out),
            Planned::Again(now) => history = now,
        }
    }
}

/// What [`plan_and_write`] came to.
enum Planned {
    /// The apply is done; what it says.
    Done(String),
    /// Another command wrote the release between the first reading of its records and the
    /// lock: plan again from them (now under the lock).
    Again(Vec<Revision>),
}

fn plan_and_write(
    session: &Session,
    args: &ReleaseArgs,
    apply: &ApplyArgs,
    history: &[Revision],
    info: &ServerInfo,
    adoption: Option<&Adoption>,
) -> Result<Planned, Failure> {
    let release = match adoption {
        Some(adoption) => adoption.prepare(session, args, history)?,
        None => plan::prepare(session, args, history, apply.reset_values)?,
    };
    // The record names each plugin's checksum: the last record's, for a file not written
    // since; else worked out on another core while the plugins run and the kinds are resolved.
    plan::reuse_checksums(history, &release);
    Plugin::hash_in_background(&release.plugins);
    // What the no-op check reads of the cluster does not wait for the plugins either.
    let proven = match adoption {
        None => changes::ProvenMeanwhile::start(session, info, history, release.values.tree()),
        Some(_) => changes::ProvenMeanwhile::default(),
    };
    let graph = plan::graph(session, info, &release)?;
    session.step("ran the plugins");
    let mut previous = write::previous_objects(history);
    // Helm's kinds resolved too: those prefectctl does not make are deleted after the write.
    let helm_objects = adoption.map(Adoption::objects).unwrap_or_default();
    previous.extend(helm_objects.iter().cloned());
    let plan = Plan::new(session, info, graph, &previous)?;
    previous.truncate(previous.len() - helm_objects.len());
    session.step("resolved every kind");
    let upgrade = history.iter().any(|r| r.status == Status::Deployed);
    let description = match adoption {
        Some(adoption) => format!("Took over {}", adoption.describe()),
        None if upgrade => "Upgrade complete".to_owned(),
        None => "Install complete".to_owned(),
    };
    // The plugins' records wait for their checksums, still being worked out: the no-op
    // check asks for them last, after its reads.
    let records = std::cell::OnceCell::new();
    let plugins = || records.get_or_init(|| plugin_records(&release)).as_slice();
    if adoption.is_none()
        && changes::none(session, &plan, history, &plugins, release.values.tree(), proven)
    {
        return unchanged(session, &plan, history, apply).map(Planned::Done);
    }
    if !session.holds_lock() {
        session.take_lock()?;
        session.step("took the release lock");
        let now = session.open_history()?;
        if now != history {
            session.step(
                "another command wrote the release since its records were read: planning again \
                 from its revision, under the lock",
            );
            return Ok(Planned::Again(now));
        }
    }
    let change =
        Change { description, plugins: plugins().to_vec(), values: release.values.tree().clone() };
    if !apply.adopt {
        let helm = adoption.map(Adoption::keys).unwrap_or_default();
        refuse_foreign(session, &plan, history, &helm)?;
    }
    let mut write_args = apply.write.clone();
    if let Some(adoption) = adoption {
        adoption.clear_the_way(session, &plan, apply.write.timeout)?;
        // Helm's fields are prefectctl's now, except where another manager shares them.
        write_args.force_conflicts = true;
    }
    let written = write::write(session, &plan, history, change, &write_args)?;
    let adopted = match adoption {
        Some(adoption) => Some(adoption.finish(session, &plan, written.revision)?),
        None => None,
    };
    for warning in left_data(&previous, &plan) {
        eprintln!("warning: {warning}");
    }
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
    out.push_str(adopted.as_deref().unwrap_or_default());
    if !upgrade {
        let objects: Vec<_> =
            plan.graph.ordered().into_iter().map(|(k, o)| (k.clone(), o.clone())).collect();
        out.push_str(&notes::after_install(&session.namespace, &session.release, &objects));
    }
    Ok(Planned::Done(out))
}

/// `apply --dry-run=server`: every object checked by the API server, nothing stored, and what
/// would change listed.
fn dry_run(session: &Session, args: &ReleaseArgs, apply: &ApplyArgs) -> Result<String, Failure> {
    let (history, info) = session.history_and_server()?;
    let adoption = adoption(session, args, apply)?;
    let release = match &adoption {
        Some(adoption) => adoption.prepare(session, args, &history)?,
        None => plan::prepare(session, args, &history, apply.reset_values)?,
    };
    let graph = plan::graph(session, &info, &release)?;
    let previous = write::previous_objects(&history);
    let mut resolve = previous.clone();
    resolve.extend(adoption.as_ref().map(Adoption::objects).unwrap_or_default().iter().cloned());
    let plan = Plan::new(session, &info, graph, &resolve)?;
    if !apply.adopt {
        let helm = adoption.as_ref().map(Adoption::keys).unwrap_or_default();
        refuse_foreign(session, &plan, &history, &helm)?;
    }
    if let Some(adoption) = &adoption {
        // Replacing a workload cannot be tried without doing it: the dry run says what the
        // adoption would do to Helm's objects, and what prefectctl would apply.
        let mut out = format!("{}: dry run, nothing was changed\n", session.describe());
        for (key, _) in plan.graph.ordered() {
            let _ = writeln!(out, "{:<10}{key}", "apply");
        }
        let by = format!("prefectctl release {}", session.release);
        out.push_str(
            &adoption.report(&adoption.fates(&plan), &by).replace(" marked", " would be marked"),
        );
        return Ok(out);
    }
    for warning in left_data(&previous, &plan) {
        eprintln!("warning: {warning}");
    }
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

/// An apply that would change nothing writes nothing, not even a revision (which would push
/// a real one out of those kept); `--wait` waits all the same.
fn unchanged(
    session: &Session,
    plan: &Plan,
    history: &[Revision],
    apply: &ApplyArgs,
) -> Result<String, Failure> {
    session.step("nothing to change");
    if apply.write.wait {
        wait::until_ready(session, plan, apply.write.timeout)?;
    }
    let revision = history.last().map_or(0, |r| r.revision);
    Ok(format!(
        "{}: no changes: revision {revision} stays deployed, nothing was written; {} API requests\n",
        session.describe(),
        session.cluster.requests()
    ))
}

/// Fails, writing nothing, when objects of the plan exist but are not the release's: a write
/// would take them over silently wherever their fields happen to match.
fn refuse_foreign(
    session: &Session,
    plan: &Plan,
    history: &[Revision],
    helm: &BTreeSet<ResourceKey>,
) -> Result<(), Failure> {
    let mut foreign = changes::foreign(session, plan, history)?;
    // The Helm release being taken over made them.
    foreign.retain(|(key, _)| !helm.contains(key));
    if foreign.is_empty() {
        return Ok(());
    }
    // `history` may be the open revisions only: one that was superseded may have recorded
    // them.
    let all = session.history()?;
    let recorded: BTreeSet<ResourceKey> = all
        .iter()
        .flat_map(|revision| &revision.objects)
        .filter_map(|object| ResourceKey::of(object).ok())
        .collect();
    foreign.retain(|(key, _)| !recorded.contains(key));
    if foreign.is_empty() {
        return Ok(());
    }
    let mut messages: Vec<String> = foreign
        .iter()
        .map(|(key, owner)| format!("{key} exists and is not this release's ({owner})"))
        .collect();
    messages.push(format!(
        "nothing was changed in {}: take these objects over with --adopt, delete them, or \
         install under another --release",
        session.describe()
    ));
    Err(Failure::runtime(messages))
}

/// What a user must know when a workload that mounted a claim in `previous` no longer does in
/// `plan`: the claim is kept, but the workload starts without its data. The Prefect server
/// moved from SQLite to PostgreSQL starts on an empty database, which is said as such.
fn left_data(previous: &[Value], plan: &Plan) -> BTreeSet<String> {
    let claims = |workload: &Value| -> BTreeSet<String> {
        let volumes = workload["spec"]["template"]["spec"]["volumes"].as_array();
        volumes
            .into_iter()
            .flatten()
            .filter_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
            .map(str::to_owned)
            .collect()
    };
    let on_sqlite = |workload: &Value| {
        let containers = workload["spec"]["template"]["spec"]["containers"].as_array();
        containers.into_iter().flatten().any(|container| {
            ["PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL"]
                .iter()
                .any(|name| {
                    matches!(env::source(container, name),
                        Some(env::Source::Literal(url)) if url.starts_with("sqlite"))
                })
        })
    };
    let mut warnings = BTreeSet::new();
    for old in previous {
        let Ok(key) = ResourceKey::of(old) else { continue };
        let Some(new) = plan.graph.get(&key) else { continue };
        let namespace = key.namespace.as_deref().unwrap_or_default();
        for claim in claims(old).difference(&claims(new)) {
            let claim = format!("PersistentVolumeClaim/{namespace}/{claim}");
            warnings.insert(if on_sqlite(old) && !on_sqlite(new) {
                format!(
                    "{key} no longer uses its SQLite database ({claim}, kept): the Prefect \
                     server starts on an empty database, without the deployments, flow runs, \
                     blocks, variables and work pools it had. Prefect cannot copy a SQLite \
                     database into PostgreSQL: `prefectctl rollback` goes back to it; create \
                     what you need on the new one (`prefect deploy` for deployments, your code \
                     for blocks, variables and work pools); `uninstall --delete-data` deletes \
                     the old database"
                )
            } else {
                format!(
                    "{key} no longer mounts {claim}, which is kept: it starts without that \
                     data; `prefectctl rollback` goes back to it"
                )
            });
        }
    }
    warnings
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
                sha256: plugin.sha256().map(str::to_owned),
                stamp: plugin.stamp().map(str::to_owned),
                path: Some(path),
            }
        })
        .collect()
}

/// The Helm releases `--adopt-helm` names, read and converted; `None` without the flag.
fn adoption(
    session: &Session,
    args: &ReleaseArgs,
    apply: &ApplyArgs,
) -> Result<Option<Adoption>, Failure> {
    if apply.adopt_helm.is_empty() {
        return Ok(None);
    }
    if apply.reset_values {
        return Err(Failure::input(vec![
            "--adopt-helm with --reset-values: the adopted values are the release's values; \
             drop --reset-values"
                .to_owned(),
        ]));
    }
    let adoption = Adoption::read(session, args, &apply.adopt_helm)?;
    session.step("read and converted the Helm releases");
    Ok(Some(adoption))
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
