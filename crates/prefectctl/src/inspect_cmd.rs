//! `status`, `list` and `history`: what the release records say, and (for `status`) whether
//! each of the current revision's objects is ready and what its Prefect server says. Each
//! prints a table or text for people, or one JSON or YAML document (`-o`), with Helm's field
//! names where they fit (`plugins` where Helm has `chart`).

use std::{collections::BTreeMap, fmt::Write as _};

use prefect_cluster::{
    readiness::{Readiness, readiness},
    record::{Revision, Status},
};
use prefect_manifest::ResourceKey;

use serde_json::{Value, json};

use crate::{
    cli::{ReleaseArgs, StatusFormat, StatusOutputArgs, TableFormat},
    failure::Failure,
    output::table,
    plan::{Plan, base_revision, recorded_graph},
    prefect::{
        report,
        stack::{Stack, image_version},
    },
    session::{Session, failure},
};

/// The current revision of a release and its objects as they are in the cluster, read
/// once for `status` and `doctor`.
pub struct Live {
    /// The release's revisions, oldest first (never empty).
    pub history: Vec<Revision>,
    /// Each object of the current revision, with its live state (`None`: missing). An
    /// object the user may not read (the `view` role reads no RBAC objects) is the one the
    /// revision recorded, and its key is in `unreadable` with the reason.
    pub objects: Vec<(ResourceKey, Option<Value>)>,
    /// The objects that could not be read, and why.
    pub unreadable: BTreeMap<ResourceKey, String>,
}

impl Live {
    /// Reads the release named by the flags.
    pub fn read(session: &Session) -> Result<Live, Failure> {
        let history = session.history()?;
        let Some(current) = history.last() else { return Err(not_installed(session)) };
        let info = session.block_on(session.cluster.server_info()).map_err(failure)?;
        let plan = Plan::new(session, &info, recorded_graph(current)?, &[])?;
        let keys: Vec<ResourceKey> =
            plan.graph.ordered().into_iter().map(|(key, _)| key.clone()).collect();
        let states = session.block_on(futures::future::join_all(keys.iter().map(|key| {
            session.cluster.get(plan.target(key), key.namespace.as_deref(), &key.name)
        })));
        let mut objects = Vec::with_capacity(keys.len());
        let mut unreadable = BTreeMap::new();
        for (key, state) in keys.into_iter().zip(states) {
            match state {
                Ok(state) => objects.push((key, state)),
                Err(err) if err.status() == Some(403) => {
                    let recorded = plan.graph.get(&key).cloned();
                    unreadable.insert(key.clone(), "you may not read it".to_owned());
                    objects.push((key, recorded));
                }
                Err(err) => return Err(failure(err)),
            }
        }
        Ok(Live { history, objects, unreadable })
    }

    /// The latest revision.
    pub fn current(&self) -> &Revision {
        self.history.last().expect("a release has a revision")
    }
}

/// `prefectctl status`.
pub fn status(args: &ReleaseArgs, status_args: &StatusOutputArgs) -> Result<String, Failure> {
    let session = Session::open(args)?;
    let live = Live::read(&session)?;
    let current = live.current();
    let deployed = base_revision(&live.history).unwrap_or(current);
    let objects: Vec<(String, &'static str, String)> = live
        .objects
        .iter()
        .map(|(key, state)| {
            if let Some(why) = live.unreadable.get(key) {
                return (key.to_string(), "unknown", why.clone());
            }
            let (ready, detail) = match state {
                None => ("missing", "not in the cluster: apply again to restore it".to_owned()),
                Some(object) => match readiness(object) {
                    Readiness::Ready => ("yes", String::new()),
                    Readiness::Waiting(why) => ("no", why),
                    Readiness::Failed(why) => ("failed", why),
                },
            };
            (key.to_string(), ready, detail)
        })
        .collect();
    let stack = Stack::find(&session.namespace, &live.objects);
    let mut prefect = report::gather(&session, &stack);
    if let Some(server) = prefect.servers.iter_mut().find(|server| server.own) {
        server.migration = crate::prefect::migrations::recorded(&live.history);
    }
    let format = match status_args.output {
        StatusFormat::Text => None,
        StatusFormat::Json => Some(DocumentFormat::Json),
        StatusFormat::Yaml => Some(DocumentFormat::Yaml),
    };
    if let Some(format) = format {
        let status = json!({
            "release": session.release,
            "namespace": session.namespace,
            "revision": current.revision,
            "status": current.status.as_str(),
            "updated": current.time,
            "lastDeployed": deployed.revision,
            "plugins": current.plugins.iter().map(|p| json!({ "name": p.name, "version": p.version })).collect::<Vec<_>>(),
            "objects": objects.iter().map(|(object, ready, detail)| json!({ "object": object, "ready": ready, "detail": detail })).collect::<Vec<_>>(),
            "gateLogs": current.gate_logs,
            "prefect": prefect,
        });
        return document(&status, format);
    }
    let mut out = format!(
        "release:   {}\nnamespace: {}\nrevision:  {} ({}, {}){}\nplugins:   {}\n\n",
        session.release,
        session.namespace,
        current.revision,
        current.status.as_str(),
        current.time,
        if deployed.revision != current.revision {
            format!("; last deployed: revision {}", deployed.revision)
        } else {
            String::new()
        },
        plugins(current),
    );
    if current.status == Status::Failed {
        // Why a gate Job (a database migration) stopped the revision, as it said it.
        for (job, tail) in &current.gate_logs {
            let _ = writeln!(out, "the last log lines of {job} in this failed revision:\n{tail}\n");
        }
    }
    let mut rows = vec![["OBJECT".to_owned(), "READY".to_owned(), "DETAIL".to_owned()]];
    rows.extend(
        objects.into_iter().map(|(object, ready, detail)| [object, ready.to_owned(), detail]),
    );
    out.push_str(&table(&rows));
    out.push('\n');
    out.push_str(&report::text(&prefect));
    Ok(out)
}

/// `prefectctl list`.
pub fn list(
    args: &ReleaseArgs,
    all_namespaces: bool,
    output: TableFormat,
) -> Result<String, Failure> {
    let session = Session::open(args)?;
    let namespace = (!all_namespaces).then_some(session.namespace.as_str());
    let releases = session.block_on(session.cluster.releases(namespace)).map_err(failure)?;
    if let Some(format) = output.document() {
        let releases: Vec<Value> = releases
            .iter()
            .map(|release| {
                json!({
                    "name": release.release,
                    "namespace": release.namespace,
                    "revision": release.revision,
                    "updated": release.time,
                    "status": release.status.as_str(),
                    "plugins": plugin_list(release),
                    "app_version": app_version(release),
                })
            })
            .collect();
        return document(&Value::Array(releases), format);
    }
    let mut rows =
        vec![["NAME", "NAMESPACE", "REVISION", "STATUS", "UPDATED", "PLUGINS"].map(str::to_owned)];
    for release in &releases {
        rows.push([
            release.release.clone(),
            release.namespace.clone(),
            release.revision.to_string(),
            release.status.as_str().to_owned(),
            release.time.clone(),
            plugins(release),
        ]);
    }
    Ok(table(&rows))
}

/// `prefectctl history`.
pub fn history(args: &ReleaseArgs, output: TableFormat) -> Result<String, Failure> {
    let session = Session::open(args)?;
    let history = session.history()?;
    if history.is_empty() {
        return Err(not_installed(&session));
    }
    if let Some(format) = output.document() {
        let revisions: Vec<Value> = history
            .iter()
            .map(|revision| {
                json!({
                    "revision": revision.revision,
                    "updated": revision.time,
                    "status": revision.status.as_str(),
                    "plugins": plugin_list(revision),
                    "app_version": app_version(revision),
                    "description": revision.description,
                })
            })
            .collect();
        return document(&Value::Array(revisions), format);
    }
    let mut rows =
        vec![["REVISION", "UPDATED", "STATUS", "PLUGINS", "DESCRIPTION"].map(str::to_owned)];
    for revision in &history {
        rows.push([
            revision.revision.to_string(),
            revision.time.clone(),
            revision.status.as_str().to_owned(),
            plugins(revision),
            revision.description.clone(),
        ]);
    }
    Ok(table(&rows))
}

/// `server 0.1.0, agent 0.1.0`.
fn plugins(revision: &Revision) -> String {
    revision
        .plugins
        .iter()
        .map(|p| format!("{} {}", p.name, p.version))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `[{"name": "server", "version": "0.1.0"}]`, as `status -o json` lists them.
fn plugin_list(revision: &Revision) -> Vec<Value> {
    revision.plugins.iter().map(|p| json!({ "name": p.name, "version": p.version })).collect()
}

/// Helm's `app_version`: the Prefect version the tag of the revision's server image says, else
/// a worker's (a worker-only release); empty when no tag says it (`latest`, a digest).
fn app_version(revision: &Revision) -> String {
    let version = |component: &str, container: &str| {
        revision.objects.iter().find_map(|object| {
            let labels = &object["metadata"]["labels"];
            if object["kind"] != "Deployment" || labels["app.kubernetes.io/component"] != component
            {
                return None;
            }
            let containers = object["spec"]["template"]["spec"]["containers"].as_array()?;
            let found = containers.iter().find(|c| c["name"] == container)?;
            image_version(found["image"].as_str()?)
        })
    };
    version("server", "prefect-server")
        .or_else(|| version("worker", "prefect-worker"))
        .unwrap_or_default()
}

/// How a command prints one document for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentFormat {
    /// Pretty-printed JSON.
    Json,
    /// YAML, as `render` writes it.
    Yaml,
}

impl TableFormat {
    /// The document format, or `None` for a table.
    fn document(self) -> Option<DocumentFormat> {
        match self {
            TableFormat::Table => None,
            TableFormat::Json => Some(DocumentFormat::Json),
            TableFormat::Yaml => Some(DocumentFormat::Yaml),
        }
    }
}

/// `value` as one document, ending with a line break.
pub fn document(value: &Value, format: DocumentFormat) -> Result<String, Failure> {
    let mut text = match format {
        DocumentFormat::Json => serde_json::to_string_pretty(value).map_err(anyhow::Error::from)?,
        DocumentFormat::Yaml => {
            serde_saphyr::to_string_with_options(value, prefect_plugin_host::yaml_options())
                .map_err(|err| Failure::runtime(vec![format!("cannot write YAML: {err}")]))?
        }
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// The failure of a command about a release that has no record.
pub fn not_installed(session: &Session) -> Failure {
    Failure::runtime(vec![format!(
        "{} is not installed (no release record): check --release and -n, or install it with \
         prefectctl apply",
        session.describe()
    )])
}
