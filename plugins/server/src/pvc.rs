//! The PersistentVolumeClaim that holds the SQLite database, when SQLite is the database and
//! its persistence is on.

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    Context, Problems,
    k8s_openapi::{
        api::core::v1::{
            PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
        },
        apimachinery::pkg::api::resource::Quantity,
    },
};

use crate::{COMPONENT, database::Database, values::Persistence};

/// The claim's name, which the Deployment mounts: the server's full name.
pub fn claim_name(ctx: &Context) -> String {
    ctx.full_name(COMPONENT)
}

/// The claim, if the database needs one.
pub fn build(
    ctx: &Context,
    persistence: &Persistence,
    database: &Database,
    problems: &mut Problems,
) -> Option<PersistentVolumeClaim> {
    if *database != (Database::Sqlite { persistent: true }) {
        return None;
    }
    if persistence.size.trim().is_empty() {
        problems.error(
            "sqlite.persistence.size",
            "give the size of the database volume as a Kubernetes quantity, such as `1Gi`",
        );
    }
    let storage_class_name = match persistence.storage_class_name.as_str() {
        "" => None,
        // As in Bitnami charts: `-` asks for no class at all, which disables dynamic
        // provisioning (the claim binds to a pre-created volume).
        "-" => Some(String::new()),
        class => Some(class.to_owned()),
    };
    Some(PersistentVolumeClaim {
        metadata: ctx.metadata(&claim_name(ctx), COMPONENT),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name,
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(persistence.size.clone()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    })
}
