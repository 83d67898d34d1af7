//! `status`, `list` and `history`: what the release records say, and (for `status`) whether
//! each of the current revision's objects is ready.

use prefect_cluster::{
    readiness::{Readiness, readiness},
    record::Revision,
};
use prefect_manifest::ResourceKey;

use crate::{
    cli::ReleaseArgs,
    failure::Failure,
    output::table,
    plan::{Plan, base_revision, recorded_graph},
    session::{Session, failure},
};

/// `prefectctl status`.
pub fn status(args: &ReleaseArgs) -> Result<String, Failure> {
    let session = Session::open(args)?;
    let history = session.history()?;
    let Some(current) = history.last() else { return Err(not_installed(&session)) };
    let deployed = base_revision(&history).unwrap_or(current);
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
    let info = session.block_on(session.cluster.server_info()).map_err(failure)?;
    let plan = Plan::new(&session, &info, recorded_graph(current)?, &[])?;
    let keys: Vec<ResourceKey> =
        plan.graph.ordered().into_iter().map(|(key, _)| key.clone()).collect();
    let states = session
        .block_on(futures::future::join_all(keys.iter().map(|key| {
            session.cluster.get(plan.target(key), key.namespace.as_deref(), &key.name)
        })));
    let mut rows = vec![["OBJECT".to_owned(), "READY".to_owned(), "DETAIL".to_owned()]];
    for (key, state) in keys.iter().zip(states) {
        let (ready, detail) = match state.map_err(failure)? {
            None => {
                ("missing".to_owned(), "not in the cluster: apply again to restore it".to_owned())
            }
            Some(object) => match readiness(&object) {
                Readiness::Ready => ("yes".to_owned(), String::new()),
                Readiness::Waiting(why) => ("no".to_owned(), why),
                Readiness::Failed(why) => ("failed".to_owned(), why),
            },
        };
        rows.push([key.to_string(), ready, detail]);
    }
    out.push_str(&table(&rows));
    Ok(out)
}

/// `prefectctl list`.
pub fn list(args: &ReleaseArgs, all_namespaces: bool) -> Result<String, Failure> {
    let session = Session::open(args)?;
    let namespace = (!all_namespaces).then_some(session.namespace.as_str());
    let releases = session.block_on(session.cluster.releases(namespace)).map_err(failure)?;
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
pub fn history(args: &ReleaseArgs) -> Result<String, Failure> {
    let session = Session::open(args)?;
    let history = session.history()?;
    if history.is_empty() {
        return Err(not_installed(&session));
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

/// The failure of a command about a release that has no record.
pub fn not_installed(session: &Session) -> Failure {
    Failure::runtime(vec![format!(
        "{} is not installed (no release record): check --release and -n, or install it with \
         prefectctl apply",
        session.describe()
    )])
}
