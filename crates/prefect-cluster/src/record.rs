//! The release record: one Secret per revision in the release namespace, holding what that
//! revision applied (plugins and versions, the user's values, every object, status, time) as
//! gzip-compressed JSON, so that a large stack stays far below the 1 MiB object limit.
//!
//! Records are Secrets because they hold the user's values and the applied objects, which may
//! include credentials. They are named `prefectctl.release.<release>.v<revision>` and labelled
//! so that one list request finds a release's history, or every release of a namespace; their
//! status label lets a write read only the revisions it works from ([`Cluster::open_history`]),
//! and their revision label lets it count them without reading any
//! ([`Cluster::revision_numbers`]).

use std::io::{Read, Write};

use flate2::{Compression, read::GzDecoder, write::GzEncoder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use kube::{
    Api,
    api::{DynamicObject, ListParams},
};

use crate::{Cluster, Error, Result, Target, objects::ApplyOptions};

/// Label every record carries (value `prefectctl`).
const OWNER_LABEL: &str = "owner";
/// Label with the release's name.
const RELEASE_LABEL: &str = "prefectctl.io/release";
/// Label with the revision's number.
const REVISION_LABEL: &str = "prefectctl.io/revision";
/// Label with the revision's status ([`Status::as_str`]).
const STATUS_LABEL: &str = "prefectctl.io/status";
/// The Secret type of records.
const RECORD_TYPE: &str = "prefectctl.io/release.v1";
/// The Secret key of the compressed record.
const DATA_KEY: &str = "release";

/// One revision of a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// The release's name.
    pub release: String,
    /// Its namespace.
    pub namespace: String,
    /// 1 for the install, then one more for every apply, rollback or uninstall attempt.
    pub revision: u32,
    /// Where the revision stands.
    pub status: Status,
    /// When it was written, RFC 3339.
    pub time: String,
    /// What happened: `Install complete`, `Rollback to 2`...
    pub description: String,
    /// The plugins of the stack, in run order.
    pub plugins: Vec<PluginRecord>,
    /// The user's values (all files and flags merged; defaults are not stored, so that an
    /// upgrade with newer plugins gets their new defaults).
    pub values: Value,
    /// Every object applied, in apply order.
    pub objects: Vec<Value>,
    /// The last log lines of each gate Job once it completed, by `Job/<namespace>/<name>`
    /// (a database migration says there which revision the database is at).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub gate_logs: std::collections::BTreeMap<String, String>,
    /// What each object's fields were once this revision applied it, by [`version_key`]:
    /// a fingerprint of prefectctl's field manager entry (`applied <time> <digest>`), or in
    /// records written before those, the resourceVersion (empty while pending, and in records
    /// older still). An object that still matches is as the write left it, so that an apply
    /// of the same objects need not ask the server whether it would change it.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub versions: std::collections::BTreeMap<String, String>,
}

/// How [`Revision::versions`] names an object: `apps/v1 Deployment prefect/prefect-server`
/// (its apiVersion, kind, namespace if any, and name).
pub fn version_key(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{api_version} {kind} {namespace}/{name}"),
        None => format!("{api_version} {kind} {name}"),
    }
}

/// A plugin as a revision recorded it. Two records are the same plugin when all but their
/// `stamp` agree: the stamp only saves reading the file again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginRecord {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// How it was selected: its name, or the library's path (`--plugin ./lib.so`), which
    /// the next upgrade loads it from.
    pub spec: String,
    /// The file it was loaded from, as an absolute path (not in records written before
    /// prefectctl kept it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The SHA-256 of that file, in lower-case hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The file's identity when it was hashed (`prefect_plugin_host::checksum::stamp`): the
    /// next apply that finds the same one takes `sha256` from here instead of reading the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<String>,
}

impl PartialEq for PluginRecord {
    fn eq(&self, other: &PluginRecord) -> bool {
        let PluginRecord { name, version, spec, path, sha256, stamp: _ } = self;
        (name, version, spec, path, sha256)
            == (&other.name, &other.version, &other.spec, &other.path, &other.sha256)
    }
}

impl Eq for PluginRecord {}

/// Where a revision stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Being applied; an apply that was killed leaves this, which the next one completes.
    Pending,
    /// Applied and current.
    Deployed,
    /// Applied, then replaced by a later revision.
    Superseded,
    /// The apply failed part-way.
    Failed,
    /// The command was stopped part-way (SIGINT, SIGTERM); the next write completes it.
    Interrupted,
    /// Being uninstalled.
    Uninstalling,
}

impl Status {
    /// The lower-case name, as `history` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Deployed => "deployed",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
            Status::Uninstalling => "uninstalling",
        }
    }
}

/// The Secret kind, addressed without discovery.
pub(crate) fn secrets() -> Target {
    crate::discovery::builtin("v1", "Secret", "secrets", true)
}

/// The record Secret's name.
pub fn record_name(release: &str, revision: u32) -> String {
    format!("prefectctl.release.{release}.v{revision}")
}

impl Cluster {
    /// Every revision of `release` in `namespace`, oldest first (one list request).
    pub async fn history(&self, namespace: &str, release: &str) -> Result<Vec<Revision>> {
        let selector = format!("{OWNER_LABEL}=prefectctl,{RELEASE_LABEL}={release}");
        let mut revisions = self.read_records(Some(namespace), &selector).await?;
        revisions.sort_by_key(|revision| revision.revision);
        Ok(revisions)
    }

    /// The revisions of `release` a write works from, oldest first (one list request): every
    /// one but those superseded. That is the latest revision, the last deployed one and every
    /// later one (failed, pending or interrupted), which is all an upgrade starts from and
    /// prunes after; and the few failed ones left before the deployed one. A record written
    /// before its status was a label is read too.
    pub async fn open_history(&self, namespace: &str, release: &str) -> Result<Vec<Revision>> {
        let selector = format!(
            "{OWNER_LABEL}=prefectctl,{RELEASE_LABEL}={release},{STATUS_LABEL}!={}",
            Status::Superseded.as_str()
        );
        let mut revisions = self.read_records(Some(namespace), &selector).await?;
        revisions.sort_by_key(|revision| revision.revision);
        Ok(revisions)
    }

    /// The numbers of every revision of `release`, in order, read from the records' metadata
    /// only (one list request, whatever their size).
    pub async fn revision_numbers(&self, namespace: &str, release: &str) -> Result<Vec<u32>> {
        let selector = format!("{OWNER_LABEL}=prefectctl,{RELEASE_LABEL}={release}");
        let params = ListParams::default().labels(&selector);
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &secrets().resource);
        let list = api
            .list_metadata(&params)
            .await
            .map_err(|err| Error::api("list the release records", err))?;
        let prefix = format!("prefectctl.release.{release}.v");
        let mut numbers: Vec<u32> = list
            .items
            .iter()
            .filter_map(|secret| {
                let labels = secret.metadata.labels.as_ref();
                let label = labels.and_then(|labels| labels.get(REVISION_LABEL));
                let name = secret.metadata.name.as_deref().unwrap_or_default();
                label.map(String::as_str).or_else(|| name.strip_prefix(&prefix))?.parse().ok()
            })
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        Ok(numbers)
    }

    /// The latest revision of every release in `namespace` (every namespace when `None`),
    /// by namespace and name.
    pub async fn releases(&self, namespace: Option<&str>) -> Result<Vec<Revision>> {
        let mut all = self.read_records(namespace, &format!("{OWNER_LABEL}=prefectctl")).await?;
        all.sort_by(|a, b| {
            (&a.namespace, &a.release, b.revision).cmp(&(&b.namespace, &b.release, a.revision))
        });
        all.dedup_by(|later, first| {
            later.namespace == first.namespace && later.release == first.release
        });
        Ok(all)
    }

    /// Writes (or rewrites) the record of `revision`.
    pub async fn write_record(&self, revision: &Revision) -> Result<()> {
        let name = record_name(&revision.release, revision.revision);
        let data =
            encode(revision).map_err(|reason| Error::Record { name: name.clone(), reason })?;
        let secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": RECORD_TYPE,
            "metadata": {
                "name": name,
                "namespace": revision.namespace,
                "labels": {
                    OWNER_LABEL: "prefectctl",
                    RELEASE_LABEL: revision.release,
                    REVISION_LABEL: revision.revision.to_string(),
                    STATUS_LABEL: revision.status.as_str(),
                },
            },
            "data": { DATA_KEY: data },
        });
        self.apply(&secrets(), &secret, ApplyOptions { force: true, ..ApplyOptions::default() })
            .await?;
        Ok(())
    }

    /// Deletes the record of one revision.
    pub async fn delete_record(&self, namespace: &str, release: &str, revision: u32) -> Result<()> {
        self.delete(&secrets(), Some(namespace), &record_name(release, revision)).await?;
        Ok(())
    }

    async fn read_records(&self, namespace: Option<&str>, selector: &str) -> Result<Vec<Revision>> {
        let secrets = self.list(&secrets(), namespace, selector).await?;
        secrets
            .iter()
            .map(|secret| {
                let name = secret["metadata"]["name"].as_str().unwrap_or_default().to_owned();
                let encoded = secret["data"][DATA_KEY].as_str().unwrap_or_default();
                decode(encoded).map_err(|reason| Error::Record { name, reason })
            })
            .collect()
    }
}

/// The record as Secret data: gzip-compressed JSON, base64 (as Secret `data` is).
fn encode(revision: &Revision) -> std::result::Result<String, String> {
    let json = serde_json::to_vec(revision).map_err(|err| err.to_string())?;
    let mut gzip = GzEncoder::new(Vec::new(), Compression::best());
    gzip.write_all(&json).map_err(|err| err.to_string())?;
    let compressed = gzip.finish().map_err(|err| err.to_string())?;
    Ok(base64::encode(&compressed))
}

fn decode(encoded: &str) -> std::result::Result<Revision, String> {
    let compressed = base64::decode(encoded).ok_or("its data is not base64")?;
    let mut json = Vec::new();
    GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut json)
        .map_err(|err| format!("its data is not gzip: {err}"))?;
    serde_json::from_slice(&json).map_err(|err| format!("it is not a prefectctl record: {err}"))
}

/// Standard base64, which Secret data is; small enough not to need a crate.
pub(crate) mod base64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len() / 4 * 3);
        let (mut bits, mut count) = (0u32, 0);
        for byte in text.bytes().filter(|b| *b != b'=' && !b.is_ascii_whitespace()) {
            let value = ALPHABET.iter().position(|a| *a == byte)? as u32;
            bits = (bits << 6) | value;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision() -> Revision {
        Revision {
            release: "prefect".to_owned(),
            namespace: "prefect".to_owned(),
            revision: 3,
            status: Status::Deployed,
            time: "2026-11-24T10:00:00Z".to_owned(),
            description: "Upgrade complete".to_owned(),
            plugins: vec![PluginRecord {
                name: "server".to_owned(),
                version: "0.1.0".to_owned(),
                spec: "server".to_owned(),
                path: Some("/opt/prefectctl/lib/libprefectctl_plugin_server.so".to_owned()),
                sha256: Some("ab".repeat(32)),
                stamp: None,
            }],
            values: json!({ "server": { "replicaCount": 1 } }),
            objects: (0..200)
                .map(|i| json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": format!("c{i}") }, "data": { "k": "v".repeat(100) } }))
                .collect(),
            gate_logs: Default::default(),
            versions: [("v1 ConfigMap c0".to_owned(), "42".to_owned())].into(),
        }
    }

    #[test]
    fn a_plugin_recorded_before_its_path_and_checksum_were_kept_still_reads() {
        let old: PluginRecord =
            serde_json::from_str(r#"{"name":"mine","version":"1","spec":"/p/libmine.so"}"#)
                .unwrap();
        assert_eq!((old.path, old.sha256), (None, None));
    }

    #[test]
    fn records_round_trip_and_compress() {
        let record = revision();
        let encoded = encode(&record).unwrap();
        assert_eq!(decode(&encoded).unwrap(), record);
        let plain = serde_json::to_vec(&record).unwrap().len();
        assert!(encoded.len() * 10 < plain, "{} of {plain} bytes", encoded.len());
    }

    #[test]
    fn base64_matches_the_standard() {
        for (plain, encoded) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64::encode(plain.as_bytes()), encoded);
            assert_eq!(base64::decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(decode("not base64!"), Err("its data is not base64".to_owned()));
    }
}
