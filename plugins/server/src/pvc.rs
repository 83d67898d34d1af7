//! The PersistentVolumeClaim that holds the SQLite database, when SQLite is the database and
//! its persistence is on.

use prefect_plugin_sdk::{
    Context, k8s_openapi::api::core::v1::PersistentVolumeClaim, workload::claim_spec,
};

use crate::{COMPONENT, database::Database, values::Persistence};

/// The claim's name, which the Deployment mounts: the existing claim named, else the
/// server's full name.
pub fn claim_name(ctx: &Context, persistence: &Persistence) -> String {
    match persistence.existing_claim.trim() {
        "" => ctx.full_name(COMPONENT),
        existing => existing.to_owned(),
    }
}

/// The claim, if the database needs one.
pub fn build(
    ctx: &Context,
    persistence: &Persistence,
    database: &Database,
) -> Option<PersistentVolumeClaim> {
    if *database != (Database::Sqlite { persistent: true })
        || !persistence.existing_claim.trim().is_empty()
    {
        return None;
    }
    if persistence.size.trim().is_empty() {
        ctx.error(
            "sqlite.persistence.size",
            "give the size of the database volume as a Kubernetes quantity, such as `1Gi`",
        );
    }
    Some(PersistentVolumeClaim {
        metadata: ctx.metadata(&claim_name(ctx, persistence), COMPONENT),
        spec: Some(claim_spec(&persistence.size, &persistence.storage_class_name)),
        ..PersistentVolumeClaim::default()
    })
}
