//! Whether a rollback would start an older Prefect on a database that a newer one migrated.
//!
//! Prefect migrates its database forward only when it starts (or in the server plugin's
//! migration Job); an older Prefect does not know the newer revisions and will not start on
//! them. The migration Job prints the revision it leaves the database at
//! ([`REVISION_MARKER`]); the release records that line with each revision (gate logs), so a
//! rollback knows both the revision the database is at and the one the older Prefect expects,
//! and can name the exact downgrade to run first.

use prefect_cluster::record::Revision;

use super::stack::image_version;

/// What the migration Job prints after an upgrade, before the revision.
pub const REVISION_MARKER: &str = "prefect database revision: ";

/// The server of a revision: its Deployment's name and its Prefect version.
struct Server {
    deployment: String,
    version: String,
}

/// `None` when rolling back from `current` to `target` keeps a database the target's Prefect
/// can use; otherwise why not and what to run first. `history` is every revision, oldest first.
pub fn rollback_refusal(
    history: &[Revision],
    current: &Revision,
    target: &Revision,
    namespace: &str,
) -> Option<String> {
    let (now, then) = (server(current)?, server(target)?);
    if !older(&then.version, &now.version) {
        return None;
    }
    let migrated = database_revision(history, history.last().map_or(0, |r| r.revision));
    let expected = database_revision(history, target.revision);
    let Some(migrated) = migrated else {
        // No migration Job recorded a revision (SQLite, or migrations on start): nothing known
        // says the database moved, and guessing would refuse rollbacks that work.
        return None;
    };
    if expected.as_deref() == Some(migrated.as_str()) {
        return None;
    }
    let downgrade = match &expected {
        Some(expected) => format!(
            "kubectl -n {namespace} exec deployment/{} -c prefect-server -- prefect server \
             database downgrade -y -r {expected}",
            now.deployment
        ),
        None => format!(
            "kubectl -n {namespace} exec deployment/{} -c prefect-server -- prefect server \
             database downgrade -y -r <the revision Prefect {} expects; no record of this \
             release has it>",
            now.deployment, then.version
        ),
    };
    Some(format!(
        "revision {} runs Prefect {}, older than Prefect {}, which migrated the database to \
         revision {migrated}{}; the older server would not start on it. Downgrade the database \
         first, with the Prefect that migrated it:\n  {downgrade}\nthen roll back again. \
         --force rolls back without it (the rollback's migration Job then fails and the \
         running server stays as it is)",
        target.revision,
        then.version,
        now.version,
        expected
            .as_deref()
            .map(|e| format!(" (Prefect {} expects {e})", then.version))
            .unwrap_or_default(),
    ))
}

/// The server Deployment of a revision (component `server`, container `prefect-server`) and
/// the Prefect version its image's tag says.
fn server(revision: &Revision) -> Option<Server> {
    revision.objects.iter().find_map(|object| {
        let is_server = object["kind"] == "Deployment"
            && object["metadata"]["labels"]["app.kubernetes.io/component"] == "server";
        if !is_server {
            return None;
        }
        let containers = object["spec"]["template"]["spec"]["containers"].as_array()?;
        let container = containers.iter().find(|c| c["name"] == "prefect-server")?;
        Some(Server {
            deployment: object["metadata"]["name"].as_str()?.to_owned(),
            version: image_version(container["image"].as_str()?)?,
        })
    })
}

/// The database revision the newest migration Job of the release recorded.
pub fn recorded(history: &[Revision]) -> Option<String> {
    database_revision(history, history.last()?.revision)
}

/// The database revision the newest migration Job recorded up to revision `upto`.
fn database_revision(history: &[Revision], upto: u32) -> Option<String> {
    history.iter().rev().filter(|r| r.revision <= upto).find_map(|r| {
        r.gate_logs.values().flat_map(|log| log.lines()).rev().find_map(|line| {
            let (_, revision) = line.split_once(REVISION_MARKER)?;
            let revision = revision.trim();
            (!revision.is_empty() && revision != "None").then(|| revision.to_owned())
        })
    })
}

/// Whether version `a` is older than `b` (numeric parts compared in order).
fn older(a: &str, b: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parts(a) < parts(b)
}

#[cfg(test)]
mod tests {
    use prefect_cluster::record::Status;
    use serde_json::{Value, json};

    use super::*;

    fn revision(number: u32, version: &str, migrated: Option<&str>) -> Revision {
        let server = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "prefect-server", "labels": { "app.kubernetes.io/component": "server" } },
            "spec": { "template": { "spec": { "containers": [
                { "name": "prefect-server", "image": format!("prefecthq/prefect:{version}-python3.12") }
            ] } } },
        });
        Revision {
            release: "prefect".to_owned(),
            namespace: "prefect".to_owned(),
            revision: number,
            status: Status::Superseded,
            time: String::new(),
            description: String::new(),
            plugins: Vec::new(),
            values: Value::Null,
            objects: vec![server],
            gate_logs: migrated
                .map(|m| {
                    [(
                        "Job/prefect/prefect-db-migrations".to_owned(),
                        format!("  Migrating\n  {REVISION_MARKER}{m}"),
                    )]
                    .into()
                })
                .unwrap_or_default(),
            versions: Default::default(),
        }
    }

    #[test]
    fn an_older_prefect_on_a_migrated_database_is_refused_with_the_exact_downgrade() {
        let history = [revision(1, "3.8.0", Some("aaa111")), revision(2, "3.9.1", Some("bbb222"))];
        let refusal = rollback_refusal(&history, &history[1], &history[0], "prefect").unwrap();
        assert!(refusal.starts_with("revision 1 runs Prefect 3.8.0, older than Prefect 3.9.1"));
        assert!(refusal.contains(
            "kubectl -n prefect exec deployment/prefect-server -c prefect-server -- prefect \
             server database downgrade -y -r aaa111"
        ));
    }

    #[test]
    fn the_revision_comes_from_the_newest_record_that_ran_the_migration() {
        // Revision 2 changed nothing of the Job, so it did not record; 3 upgraded Prefect.
        let history = [
            revision(1, "3.8.0", Some("aaa111")),
            revision(2, "3.8.0", None),
            revision(3, "3.9.1", Some("bbb222")),
        ];
        let refusal = rollback_refusal(&history, &history[2], &history[1], "ns").unwrap();
        assert!(refusal.contains("-r aaa111"), "{refusal}");
    }

    #[test]
    fn same_or_newer_versions_and_unknown_migrations_pass() {
        let history = [revision(1, "3.9.1", Some("bbb222")), revision(2, "3.9.1", Some("bbb222"))];
        assert_eq!(rollback_refusal(&history, &history[1], &history[0], "ns"), None);
        let history = [revision(1, "3.9.1", Some("bbb222")), revision(2, "3.8.0", Some("aaa"))];
        assert_eq!(rollback_refusal(&history, &history[1], &history[0], "ns"), None);
        let history = [revision(1, "3.8.0", None), revision(2, "3.9.1", None)];
        assert_eq!(rollback_refusal(&history, &history[1], &history[0], "ns"), None);
        assert!(older("3.9.1", "3.10.0"));
        assert!(!older("3.10.0", "3.9.1"));
    }
}
