//! A dynamic provisioner for the default StorageClass, as a cluster's local-path provisioner
//! works: each claim of the class gets a PersistentVolume of its own, a folder on this machine
//! that outlives the pods using it; the controller manager binds the two. When the claim is
//! deleted the volume is released, and the provisioner deletes its folder and the volume.

use std::{
    collections::BTreeSet,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use anyhow::Result;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::{
    Api, Client,
    api::{DeleteParams, ListParams, PostParams},
};
use serde_json::json;

/// The StorageClass.
pub const CLASS: &str = "standard";
/// Its provisioner.
pub const PROVISIONER: &str = "prefectctl.test/stand-in";

/// Provisions what the claims of the class ask for, and deletes what they released.
pub async fn sync(client: &Client, dir: &Path) -> Result<()> {
    let volumes = Api::<PersistentVolume>::all(client.clone());
    let existing = volumes.list(&ListParams::default()).await?;
    let names: BTreeSet<String> =
        existing.items.iter().filter_map(|pv| pv.metadata.name.clone()).collect();
    for volume in &existing.items {
        let ours = volume
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("pv.kubernetes.io/provisioned-by"))
            .is_some_and(|p| p == PROVISIONER);
        let released = volume.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
        if ours && released {
            if let Some(path) = volume.spec.as_ref().and_then(|s| s.host_path.as_ref()) {
                let _ = std::fs::remove_dir_all(&path.path);
            }
            let name = volume.metadata.name.clone().unwrap_or_default();
            let _ = volumes.delete(&name, &DeleteParams::default()).await;
        }
    }
    let claims =
        Api::<PersistentVolumeClaim>::all(client.clone()).list(&ListParams::default()).await?;
    for claim in claims.items {
        let spec = claim.spec.clone().unwrap_or_default();
        let pending = claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending");
        if spec.storage_class_name.as_deref() != Some(CLASS)
            || spec.volume_name.is_some()
            || !pending
            || claim.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let uid = claim.metadata.uid.clone().unwrap_or_default();
        let name = format!("pvc-{uid}");
        if names.contains(&name) {
            continue;
        }
        let folder = folder(dir, &name)?;
        let size = spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .map(|q| q.0.clone())
            .unwrap_or_else(|| "1Gi".to_owned());
        let volume: PersistentVolume = serde_json::from_value(json!({
            "metadata": {
                "name": name,
                "annotations": { "pv.kubernetes.io/provisioned-by": PROVISIONER },
            },
            "spec": {
                "capacity": { "storage": size },
                "accessModes": spec.access_modes.clone().unwrap_or_else(|| vec!["ReadWriteOnce".to_owned()]),
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": CLASS,
                "volumeMode": "Filesystem",
                "hostPath": { "path": folder.display().to_string(), "type": "Directory" },
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": claim.metadata.namespace,
                    "name": claim.metadata.name,
                    "uid": uid,
                },
            },
        }))?;
        volumes.create(&PostParams::default(), &volume).await?;
    }
    Ok(())
}

/// The folder of volume `name`, made world-writable as a local-path provisioner makes it.
fn folder(dir: &Path, name: &str) -> Result<PathBuf> {
    let folder = dir.join("volumes").join(name);
    std::fs::create_dir_all(&folder)?;
    std::fs::set_permissions(&folder, PermissionsExt::from_mode(0o777))?;
    Ok(folder)
}
