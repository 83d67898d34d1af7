//! Helm 3's release records, read so that `apply --adopt-helm` can take a prefect-helm release
//! over, and marked superseded once it has.
//!
//! Helm keeps one Secret per revision, `sh.helm.release.v1.<release>.v<version>`, labelled
//! `owner=helm`, `name=<release>`, `status=<status>` and `version=<version>`. Its `release`
//! key holds the release as JSON, gzip-compressed and base64-encoded (once more than Secret data
//! is): the chart's name and version, the values the user gave (`config`), the manifest Helm
//! applied, and the status. Helm's other storage drivers (ConfigMaps, SQL) are not read.

use std::io::{Read, Write};

use flate2::{Compression, read::GzDecoder, write::GzEncoder};
use serde_json::{Value, json};

use crate::{
    Cluster, Error, Result,
    objects::ApplyOptions,
    record::{base64, secrets},
};

/// A Helm release's revision as its record holds it.
#[derive(Debug, Clone)]
pub struct HelmRelease {
    /// The release's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The revision (Helm's `version`).
    pub version: u64,
    /// Helm's status of the revision (`deployed`, `superseded`, `failed`, `pending-upgrade`...).
    pub status: String,
    /// The chart's name (`prefect-server`).
    pub chart: String,
    /// The chart's version.
    pub chart_version: String,
    /// The values the user gave (`helm get values`), `{}` when none.
    pub config: Value,
    /// The objects Helm applied, as YAML documents (`helm get manifest`).
    pub manifest: String,
    /// The record's Secret.
    pub secret: String,
    /// The whole release, to write it back changed.
    document: Value,
}

impl HelmRelease {
    /// `prefect-server (revision 3, chart prefect-server 2025.9.1)`.
    pub fn describe(&self) -> String {
        format!(
            "Helm release {} (revision {}, chart {} {})",
            self.name, self.version, self.chart, self.chart_version
        )
    }
}

impl Cluster {
    /// Every revision Helm recorded of `release` in `namespace`, oldest first (one list
    /// request).
    pub async fn helm_history(&self, namespace: &str, release: &str) -> Result<Vec<HelmRelease>> {
        let selector = format!("owner=helm,name={release}");
        let mut found = Vec::new();
        for secret in self.list(&secrets(), Some(namespace), &selector).await? {
            let name = secret["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            let data = secret["data"]["release"].as_str().unwrap_or_default();
            let release = decode(data)
                .and_then(|document| read(document, &name))
                .map_err(|reason| Error::Record { name: name.clone(), reason })?;
            found.push(release);
        }
        found.sort_by_key(|release| release.version);
        Ok(found)
    }

    /// Marks `release`'s record superseded, in its label (which `helm list` reads) and its
    /// body (which `helm history` and `helm status` read), saying what superseded it: Helm
    /// then neither lists it as deployed nor upgrades from it. Nothing else of it changes.
    pub async fn supersede_helm_release(&self, release: &HelmRelease, by: &str) -> Result<()> {
        let mut document = release.document.clone();
        document["info"]["status"] = json!("superseded");
        document["info"]["description"] = json!(format!("Superseded by {by}"));
        let data = encode(&document)
            .map_err(|reason| Error::Record { name: release.secret.clone(), reason })?;
        let secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": release.secret,
                "namespace": release.namespace,
                "labels": { "status": "superseded" },
            },
            "data": { "release": base64::encode(data.as_bytes()) },
        });
        // Helm wrote these fields; taking them over is the point.
        self.apply(&secrets(), &secret, ApplyOptions { force: true, ..ApplyOptions::default() })
            .await?;
        Ok(())
    }
}

impl Cluster {
    /// Hands the fields Helm set on a live object to prefectctl's server-side apply, as
    /// `kubectl apply --server-side` does with the fields of a client-side apply: its entry in
    /// the object's managed fields becomes prefectctl's (one merge patch, conditional on the
    /// object being as read). The next apply then removes what Helm set and prefectctl does
    /// not, instead of leaving Helm's ports, variables and labels behind. `Ok(false)` when the
    /// object is gone or Helm owns nothing of it.
    pub async fn take_helm_fields(
        &self,
        target: &crate::Target,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<bool> {
        let Some(live) = self.get(target, namespace, name).await? else { return Ok(false) };
        let mut fields = live["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
        let mut taken = false;
        for entry in &mut fields {
            if entry["manager"] == HELM_MANAGER && entry.get("subresource").is_none() {
                entry["manager"] = json!(crate::objects::FIELD_MANAGER);
                entry["operation"] = json!("Apply");
                taken = true;
            }
        }
        if !taken {
            return Ok(false);
        }
        let patch = json!({
            "metadata": {
                "resourceVersion": live["metadata"]["resourceVersion"],
                "managedFields": fields,
            }
        });
        self.merge_patch(target, namespace, name, &patch).await?;
        Ok(true)
    }
}

/// The field manager Helm 3 writes as.
pub const HELM_MANAGER: &str = "helm";

/// The release in a record's `release` data.
fn decode(data: &str) -> std::result::Result<Value, String> {
    let once = base64::decode(data).ok_or("its release data is not base64")?;
    let twice = base64::decode(std::str::from_utf8(&once).map_err(|err| err.to_string())?)
        .ok_or("its release is not base64")?;
    let mut json = Vec::new();
    // Helm compresses unless told not to; both are read.
    if twice.starts_with(&[0x1f, 0x8b]) {
        GzDecoder::new(twice.as_slice())
            .read_to_end(&mut json)
            .map_err(|err| format!("its release is not gzip: {err}"))?;
    } else {
        json = twice;
    }
    serde_json::from_slice(&json).map_err(|err| format!("its release is not Helm's JSON: {err}"))
}

/// The release as Helm writes it: gzip-compressed JSON, base64 once (Secret data adds the
/// second).
fn encode(document: &Value) -> std::result::Result<String, String> {
    let json = serde_json::to_vec(document).map_err(|err| err.to_string())?;
    let mut gzip = GzEncoder::new(Vec::new(), Compression::best());
    gzip.write_all(&json).map_err(|err| err.to_string())?;
    let compressed = gzip.finish().map_err(|err| err.to_string())?;
    Ok(base64::encode(&compressed))
}

fn read(document: Value, secret: &str) -> std::result::Result<HelmRelease, String> {
    let text = |pointer: &str| document.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    let name = text("/name").ok_or("its release has no name")?;
    Ok(HelmRelease {
        namespace: text("/namespace").unwrap_or_default(),
        version: document["version"].as_u64().ok_or("its release has no version")?,
        status: text("/info/status").unwrap_or_default(),
        chart: text("/chart/metadata/name").unwrap_or_default(),
        chart_version: text("/chart/metadata/version").unwrap_or_default(),
        config: match &document["config"] {
            Value::Null => json!({}),
            config => config.clone(),
        },
        manifest: text("/manifest").unwrap_or_default(),
        secret: secret.to_owned(),
        name,
        document,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let document = json!({
            "name": "prefect-server", "namespace": "prefect", "version": 2,
            "info": { "status": "deployed" },
            "chart": { "metadata": { "name": "prefect-server", "version": "2025.9.1" } },
            "config": { "sqlite": { "enabled": true } },
            "manifest": "---\nkind: Service\n",
        });
        let data = base64::encode(encode(&document).unwrap().as_bytes());
        let release = read(decode(&data).unwrap(), "sh.helm.release.v1.prefect-server.v2").unwrap();
        assert_eq!(
            release.describe(),
            "Helm release prefect-server (revision 2, chart prefect-server 2025.9.1)"
        );
        assert_eq!(release.config, json!({ "sqlite": { "enabled": true } }));
        assert_eq!(release.status, "deployed");
        assert_eq!(release.manifest, "---\nkind: Service\n");
    }

    #[test]
    fn a_record_that_is_not_helms_says_so() {
        let data = base64::encode(base64::encode(b"not json").as_bytes());
        assert!(decode(&data).unwrap_err().starts_with("its release is not Helm's JSON"));
        assert_eq!(decode("%%%").unwrap_err(), "its release data is not base64");
    }
}
