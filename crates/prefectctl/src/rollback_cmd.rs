//! `rollback [REVISION]`: applies the objects an earlier revision recorded again, as a new
//! revision with that revision's plugins and values (so a later `apply` continues from them).
//! The plugins do not run: the recorded objects are applied as they were, generated passwords
//! included. A target whose Prefect is older than the one that migrated the database is
//! refused (`prefect::migrations`) unless `--force`.

use prefect_cluster::record::{Revision, Status};

use crate::{
    cli::{ReleaseArgs, RollbackArgs},
    failure::Failure,
    inspect_cmd::not_installed,
    plan::{Plan, base_revision, recorded_graph},
    prefect::migrations,
    session::{Session, failure},
    write::{self, Change},
};

/// `prefectctl rollback`.
pub fn run(args: &ReleaseArgs, rollback: &RollbackArgs) -> Result<String, Failure> {
    let session = Session::open(args)?;
    session.take_lock()?;
    let result = roll_back(&session, rollback);
    session.release_lock();
    result
}

fn roll_back(session: &Session, rollback: &RollbackArgs) -> Result<String, Failure> {
    let history = session.history()?;
    let (Some(current), Some(latest)) = (base_revision(&history), history.last()) else {
        return Err(not_installed(session));
    };
    let wanted = match rollback.revision {
        Some(number) => history.iter().find(|r| r.revision == number),
        None => previous_good(&history),
    };
    let Some(target) = wanted else {
        let known: Vec<String> = history.iter().map(|r| r.revision.to_string()).collect();
        return Err(Failure::input(vec![match rollback.revision {
            Some(number) => format!(
                "{} has no revision {number}: its revisions are {} (prefectctl history)",
                session.describe(),
                known.join(", ")
            ),
            None => format!(
                "{} has no deployed revision before {} to go back to (prefectctl history)",
                session.describe(),
                latest.revision
            ),
        }]));
    };
    if !rollback.force
        && let Some(refusal) =
            migrations::rollback_refusal(&history, current, target, &session.namespace)
    {
        return Err(Failure::input(vec![refusal]));
    }
    let info = session.block_on(session.cluster.server_info()).map_err(failure)?;
    let plan =
        Plan::new(session, &info, recorded_graph(target)?, &write::previous_objects(&history))?;
    let change = Change {
        description: format!("Rollback to {}", target.revision),
        plugins: target.plugins.clone(),
        values: target.values.clone(),
    };
    let written = write::write(session, &plan, &history, change, &rollback.write)?;
    Ok(format!(
        "{}: rolled back to revision {} as revision {}: {} objects applied, {} pruned; {} API requests\n",
        session.describe(),
        target.revision,
        written.revision,
        written.applied,
        written.pruned.len(),
        session.cluster.requests()
    ))
}

/// The revision a bare `rollback` goes back to, as Helm's: the last good one before the latest
/// revision. After a failed (or killed) upgrade that is the one still deployed, whose objects
/// applied again undo what the failure left; counting from the deployed one instead would also
/// undo the last good change.
fn previous_good(history: &[Revision]) -> Option<&Revision> {
    let latest = history.last()?;
    history.iter().rev().find(|r| {
        r.revision < latest.revision && matches!(r.status, Status::Superseded | Status::Deployed)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn history(statuses: &[Status]) -> Vec<Revision> {
        statuses
            .iter()
            .zip(1..)
            .map(|(status, revision)| Revision {
                release: "prefect".to_owned(),
                namespace: "prefect".to_owned(),
                revision,
                status: *status,
                time: String::new(),
                description: String::new(),
                plugins: Vec::new(),
                values: json!({}),
                objects: Vec::new(),
                gate_logs: Default::default(),
                versions: Default::default(),
            })
            .collect()
    }

    fn target(statuses: &[Status]) -> Option<u32> {
        previous_good(&history(statuses)).map(|r| r.revision)
    }

    #[test]
    fn a_bare_rollback_goes_to_the_last_good_revision_before_the_latest() {
        use Status::*;
        assert_eq!(target(&[Superseded, Deployed]), Some(1));
        // After a failed upgrade: back to the deployed revision, not the one before it.
        assert_eq!(target(&[Superseded, Deployed, Failed]), Some(2));
        assert_eq!(target(&[Superseded, Deployed, Failed, Failed]), Some(2));
        assert_eq!(target(&[Superseded, Deployed, Pending]), Some(2));
        assert_eq!(target(&[Deployed]), None);
        assert_eq!(target(&[Failed]), None);
        assert_eq!(target(&[Failed, Deployed]), None);
    }
}
