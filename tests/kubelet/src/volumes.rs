//! A pod's volumes, made as the kubelet makes them before any container starts: `emptyDir`
//! (a folder that lives as long as the pod), `persistentVolumeClaim` (the folder of the bound
//! PersistentVolume, which outlives the pod), `secret`, `configMap`, `downwardAPI` and
//! `projected` (files with `items`, `defaultMode` and per-item `mode`, the ServiceAccount token
//! from the TokenRequest API). With `fsGroup`, every volume's files belong to that group and
//! writable ones are group-writable with setgid folders, as `SetVolumeOwnership` leaves them.
//! A volume that cannot be made yet (an unbound claim, a missing Secret) fails the mount, and
//! the pod waits, as on a node.

use std::{
    collections::BTreeMap,
    os::unix::fs::{PermissionsExt, chown},
    path::{Path, PathBuf},
};

use k8s_openapi::api::{
    authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec},
    core::v1::{
        ConfigMap, KeyToPath, PersistentVolume, PersistentVolumeClaim, Pod, Secret, ServiceAccount,
        Volume,
    },
};
use kube::{Api, Client, api::PostParams};

use crate::env::{self, PodFacts};

/// A made volume.
#[derive(Debug, Clone)]
pub struct Made {
    /// Its folder on this machine.
    pub path: PathBuf,
    /// Whether containers may only read it, whatever their mount says.
    pub read_only: bool,
}

/// Why a volume could not be made.
#[derive(Debug)]
pub enum Failure {
    /// Not yet: the kubelet retries (`FailedMount`).
    Wait(String),
    /// Never: this stand-in does not run such a volume.
    Unsupported(String),
}

/// Makes every volume of `pod` under `dir`.
pub async fn make(
    client: &Client,
    pod: &Pod,
    dir: &Path,
    facts: &PodFacts,
) -> Result<BTreeMap<String, Made>, Failure> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let spec = pod.spec.as_ref();
    let fs_group = spec.and_then(|s| s.security_context.as_ref()?.fs_group).map(|g| g as u32);
    let mut made = BTreeMap::new();
    for volume in spec.and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
        let path = dir.join(&volume.name);
        let one = make_one(client, pod, namespace, volume, &path, facts).await?;
        if let Some(group) = fs_group {
            set_ownership(&one.path, group, !one.read_only)
                .map_err(|err| Failure::Wait(format!("volume {}: fsGroup: {err}", volume.name)))?;
        }
        made.insert(volume.name.clone(), one);
    }
    Ok(made)
}

async fn make_one(
    client: &Client,
    pod: &Pod,
    namespace: &str,
    volume: &Volume,
    path: &Path,
    facts: &PodFacts,
) -> Result<Made, Failure> {
    let io = |err: std::io::Error| Failure::Wait(format!("volume {}: {err}", volume.name));
    if volume.empty_dir.is_some() {
        if !path.exists() {
            std::fs::create_dir_all(path).map_err(io)?;
            std::fs::set_permissions(path, PermissionsExt::from_mode(0o777)).map_err(io)?;
        }
        return Ok(Made { path: path.to_owned(), read_only: false });
    }
    if let Some(claim) = &volume.persistent_volume_claim {
        let folder = claimed_folder(client, namespace, &claim.claim_name).await?;
        return Ok(Made { path: folder, read_only: claim.read_only.unwrap_or(false) });
    }
    let mut files: Vec<(String, Vec<u8>, u32)> = Vec::new();
    let default_mode;
    if let Some(source) = &volume.secret {
        let name = source.secret_name.clone().unwrap_or_default();
        default_mode = source.default_mode.unwrap_or(0o644) as u32;
        let data = secret_data(client, namespace, &name, source.optional.unwrap_or(false)).await?;
        files.extend(project(&data, source.items.as_deref(), default_mode, "Secret", &name)?);
    } else if let Some(source) = &volume.config_map {
        let name = source.name.clone();
        default_mode = source.default_mode.unwrap_or(0o644) as u32;
        let data =
            config_map_data(client, namespace, &name, source.optional.unwrap_or(false)).await?;
        files.extend(project(&data, source.items.as_deref(), default_mode, "ConfigMap", &name)?);
    } else if let Some(source) = &volume.downward_api {
        default_mode = source.default_mode.unwrap_or(0o644) as u32;
        for item in source.items.iter().flatten() {
            let value = downward(pod, facts, item)?;
            let mode = item.mode.map(|m| m as u32).unwrap_or(default_mode);
            files.push((item.path.clone(), value.into_bytes(), mode));
        }
    } else if let Some(source) = &volume.projected {
        default_mode = source.default_mode.unwrap_or(0o644) as u32;
        for part in source.sources.iter().flatten() {
            if let Some(s) = &part.secret {
                let name = s.name.clone();
                let data =
                    secret_data(client, namespace, &name, s.optional.unwrap_or(false)).await?;
                files.extend(project(&data, s.items.as_deref(), default_mode, "Secret", &name)?);
            } else if let Some(c) = &part.config_map {
                let name = c.name.clone();
                let data =
                    config_map_data(client, namespace, &name, c.optional.unwrap_or(false)).await?;
                files.extend(project(&data, c.items.as_deref(), default_mode, "ConfigMap", &name)?);
            } else if let Some(d) = &part.downward_api {
                for item in d.items.iter().flatten() {
                    let mode = item.mode.map(|m| m as u32).unwrap_or(default_mode);
                    files.push((item.path.clone(), downward(pod, facts, item)?.into_bytes(), mode));
                }
            } else if let Some(t) = &part.service_account_token {
                let token = service_account_token(client, pod, namespace, t).await?;
                files.push((t.path.clone(), token.into_bytes(), default_mode));
            } else {
                return Err(Failure::Unsupported(format!(
                    "volume {}: a projected source the stand-in does not know",
                    volume.name
                )));
            }
        }
    } else {
        return Err(Failure::Unsupported(format!(
            "volume {}: only emptyDir, persistentVolumeClaim, secret, configMap, downwardAPI and \
             projected volumes run here (tests/kubelet/src/volumes.rs)",
            volume.name
        )));
    }
    let _ = std::fs::remove_dir_all(path);
    std::fs::create_dir_all(path).map_err(io)?;
    std::fs::set_permissions(path, PermissionsExt::from_mode(0o755)).map_err(io)?;
    for (relative, bytes, mode) in files {
        if relative.split('/').any(|part| part == "..") || relative.starts_with('/') {
            return Err(Failure::Wait(format!("volume {}: invalid path {relative}", volume.name)));
        }
        let file = path.join(&relative);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&file, bytes).map_err(io)?;
        std::fs::set_permissions(&file, PermissionsExt::from_mode(mode)).map_err(io)?;
    }
    Ok(Made { path: path.to_owned(), read_only: true })
}

/// The files of `data` that `items` select (every key when there are none).
fn project(
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    default_mode: u32,
    kind: &str,
    name: &str,
) -> Result<Vec<(String, Vec<u8>, u32)>, Failure> {
    match items {
        None => Ok(data.iter().map(|(k, v)| (k.clone(), v.clone(), default_mode)).collect()),
        Some(items) => items
            .iter()
            .map(|item| {
                let value = data.get(&item.key).ok_or_else(|| {
                    Failure::Wait(format!("couldn't find key {} in {kind} {name}", item.key))
                })?;
                let mode = item.mode.map(|m| m as u32).unwrap_or(default_mode);
                Ok((item.path.clone(), value.clone(), mode))
            })
            .collect(),
    }
}

async fn secret_data(
    client: &Client,
    namespace: &str,
    name: &str,
    optional: bool,
) -> Result<BTreeMap<String, Vec<u8>>, Failure> {
    let found = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|err| Failure::Wait(format!("secret \"{name}\": {err}")))?;
    match found {
        Some(secret) => {
            Ok(secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect())
        }
        None if optional => Ok(BTreeMap::new()),
        None => Err(Failure::Wait(format!("secret \"{name}\" not found"))),
    }
}

async fn config_map_data(
    client: &Client,
    namespace: &str,
    name: &str,
    optional: bool,
) -> Result<BTreeMap<String, Vec<u8>>, Failure> {
    let found = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|err| Failure::Wait(format!("configmap \"{name}\": {err}")))?;
    match found {
        Some(map) => {
            let mut data: BTreeMap<String, Vec<u8>> = map
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect();
            data.extend(map.binary_data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)));
            Ok(data)
        }
        None if optional => Ok(BTreeMap::new()),
        None => Err(Failure::Wait(format!("configmap \"{name}\" not found"))),
    }
}

fn downward(
    pod: &Pod,
    facts: &PodFacts,
    item: &k8s_openapi::api::core::v1::DownwardAPIVolumeFile,
) -> Result<String, Failure> {
    if let Some(field) = &item.field_ref {
        return env::field(pod, facts, &field.field_path).map_err(Failure::Unsupported);
    }
    if let Some(resource) = &item.resource_field_ref {
        let container =
            pod.spec.as_ref().and_then(|s| s.containers.first()).cloned().unwrap_or_default();
        return env::resource_field(pod, &container, resource).map_err(Failure::Unsupported);
    }
    Err(Failure::Unsupported(format!("downwardAPI item {} without a source", item.path)))
}

async fn service_account_token(
    client: &Client,
    pod: &Pod,
    namespace: &str,
    projection: &k8s_openapi::api::core::v1::ServiceAccountTokenProjection,
) -> Result<String, Failure> {
    let account = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .unwrap_or_else(|| "default".to_owned());
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: projection.audience.clone().into_iter().collect(),
            expiration_seconds: Some(projection.expiration_seconds.unwrap_or(3600)),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Pod".to_owned()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
        },
        ..TokenRequest::default()
    };
    let answered = Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(&account, &PostParams::default(), &request)
        .await
        .map_err(|err| Failure::Wait(format!("token of ServiceAccount {account}: {err}")))?;
    answered
        .status
        .map(|s| s.token)
        .ok_or_else(|| Failure::Wait(format!("no token for ServiceAccount {account}")))
}

/// The folder of the PersistentVolume bound to claim `name`.
async fn claimed_folder(client: &Client, namespace: &str, name: &str) -> Result<PathBuf, Failure> {
    let claim = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|err| Failure::Wait(format!("persistentvolumeclaim \"{name}\": {err}")))?
        .ok_or_else(|| Failure::Wait(format!("persistentvolumeclaim \"{name}\" not found")))?;
    let volume = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .filter(|_| claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
        .ok_or_else(|| {
            Failure::Wait(format!("pod has unbound PersistentVolumeClaim \"{name}\""))
        })?;
    let pv = Api::<PersistentVolume>::all(client.clone())
        .get(&volume)
        .await
        .map_err(|err| Failure::Wait(format!("persistentvolume \"{volume}\": {err}")))?;
    let path =
        pv.spec.and_then(|s| s.host_path).map(|h| PathBuf::from(h.path)).ok_or_else(|| {
            Failure::Unsupported(format!(
                "persistentvolume \"{volume}\" is not one the stand-in provisioned (no hostPath)"
            ))
        })?;
    if !path.is_dir() {
        return Err(Failure::Wait(format!("the folder of persistentvolume {volume} is missing")));
    }
    Ok(path)
}

/// `SetVolumeOwnership`: every file of the volume in group `group`, group-readable (and
/// group-writable for writable volumes), folders setgid.
fn set_ownership(root: &Path, group: u32, writable: bool) -> std::io::Result<()> {
    let mut stack = vec![root.to_owned()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            continue;
        }
        chown(&path, None, Some(group))?;
        let mut mode = meta.permissions().mode() & 0o7777;
        mode |= if writable { 0o060 } else { 0o040 };
        if meta.is_dir() {
            mode |= 0o2010;
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        } else if mode & 0o100 != 0 {
            mode |= 0o010;
        }
        std::fs::set_permissions(&path, PermissionsExt::from_mode(mode))?;
    }
    Ok(())
}
