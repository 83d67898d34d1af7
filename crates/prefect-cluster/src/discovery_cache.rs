//! The resources of each group version, kept on disk between commands, as kubectl keeps its
//! discovery (`~/.kube/cache/discovery`): one file per API server, in
//! `$PREFECTCTL_CACHE_DIR/discovery/` (else `$XDG_CACHE_HOME/prefectctl`, else
//! `~/.cache/prefectctl`; an empty `PREFECTCTL_CACHE_DIR` turns the cache off).
//!
//! It is read only as far as it can be trusted: written by a server of the same version, at
//! most [`TTL`] ago, and only for group versions the server still serves (read live, with its
//! version, on every command) whose every kind wanted is in it: a kind it lacks (a
//! CustomResourceDefinition installed since) has its group version read live again, as
//! kubectl does. A file that cannot be read or written is no cache; it never fails a command.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource;
use serde::{Deserialize, Serialize};

/// How long a file is trusted: kubectl's discovery cache's time (6 hours since 1.24).
pub(crate) const TTL: Duration = Duration::from_secs(6 * 60 * 60);

/// The cache of one API server.
#[derive(Debug, Clone)]
pub(crate) struct DiscoveryCache {
    file: Option<PathBuf>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cached {
    server_version: String,
    resources: BTreeMap<String, Vec<APIResource>>,
}

impl DiscoveryCache {
    /// The cache of the server at `url`, in `folder` (`--cache-dir`; empty: no cache) or, when
    /// none is given, the one the environment names.
    pub(crate) fn for_server(url: &str, folder: Option<&Path>) -> DiscoveryCache {
        let folder = match folder {
            Some(given) => (!given.as_os_str().is_empty()).then(|| given.to_path_buf()),
            None => default_folder(),
        };
        DiscoveryCache { file: folder.map(|folder| file_in(&folder, url)) }
    }

    /// The cache of the server at `url`, in `folder`.
    #[cfg(test)]
    fn in_folder(folder: &Path, url: &str) -> DiscoveryCache {
        DiscoveryCache { file: Some(file_in(folder, url)) }
    }

    /// What the file holds, if a server of `server_version` wrote it within [`TTL`].
    pub(crate) fn read(&self, server_version: &str) -> BTreeMap<String, Vec<APIResource>> {
        let fresh = |file: &Path| {
            let written = std::fs::metadata(file).and_then(|m| m.modified()).ok()?;
            let age = SystemTime::now().duration_since(written).unwrap_or_default();
            (age <= TTL).then_some(())
        };
        let read = |file: &Path| -> Option<Cached> {
            fresh(file)?;
            serde_json::from_slice(&std::fs::read(file).ok()?).ok()
        };
        match self.file.as_deref().and_then(read) {
            Some(cached) if cached.server_version == server_version => cached.resources,
            _ => BTreeMap::new(),
        }
    }

    /// Keeps `resources` as what a server of `server_version` serves; the file is replaced
    /// whole (written aside, then renamed), so that a command reading it meanwhile sees the
    /// old one or the new one.
    pub(crate) fn write(
        &self,
        server_version: &str,
        resources: &BTreeMap<String, Vec<APIResource>>,
    ) {
        let Some(file) = &self.file else { return };
        let cached =
            Cached { server_version: server_version.to_owned(), resources: resources.clone() };
        let Ok(text) = serde_json::to_vec(&cached) else { return };
        let aside = file.with_extension(format!("{}.tmp", std::process::id()));
        let written = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&aside, text))
            .and_then(|()| std::fs::rename(&aside, file));
        if written.is_err() {
            let _ = std::fs::remove_file(&aside);
        }
    }
}

/// The cache folder when `--cache-dir` is not given: `$PREFECTCTL_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/prefectctl`, else `$HOME/.cache/prefectctl`; `None` when
/// `PREFECTCTL_CACHE_DIR` is empty, or nothing says.
fn default_folder() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = std::env::var_os("PREFECTCTL_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    set("XDG_CACHE_HOME")
        .map(|dir| PathBuf::from(dir).join("prefectctl"))
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".cache").join("prefectctl")))
}

/// `FOLDER/discovery/<the URL, each character but letters, digits, `.` and `-` as `_`>.json`.
fn file_in(folder: &Path, url: &str) -> PathBuf {
    let name: String = url
        .trim_end_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    folder.join("discovery").join(format!("{name}.json"))
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;

    fn resource(kind: &str, plural: &str) -> APIResource {
        APIResource {
            kind: kind.to_owned(),
            name: plural.to_owned(),
            namespaced: true,
            ..APIResource::default()
        }
    }

    /// A fresh folder of the test `name`; tests run at once, so each clears only its own.
    fn folder(name: &str) -> PathBuf {
        let folder = std::env::temp_dir()
            .join(format!("prefect-cluster-discovery-cache-{}", std::process::id()))
            .join(name);
        let _ = std::fs::remove_dir_all(&folder);
        folder
    }

    #[test]
    fn what_a_server_of_the_same_version_wrote_lately_is_read_back() {
        let folder = folder("round-trip");
        let cache = DiscoveryCache::in_folder(&folder, "https://127.0.0.1:6443/");
        assert!(cache.read("1.20.2").is_empty(), "nothing written yet");
        let resources =
            BTreeMap::from([("apps/v1".to_owned(), vec![resource("Deployment", "deployments")])]);
        cache.write("1.20.2", &resources);
        assert!(folder.join("discovery/https___127.0.0.1_6443.json").is_file());
        let read = cache.read("1.20.2");
        assert_eq!(read.keys().collect::<Vec<_>>(), ["apps/v1"]);
        assert_eq!(read["apps/v1"][0].name, "deployments");
        // Another server version (an upgraded cluster) does not trust it.
        assert!(cache.read("1.21.0").is_empty());
        // Nor does another server.
        assert!(
            DiscoveryCache::in_folder(&folder, "https://127.0.0.1:6444").read("1.20.2").is_empty()
        );
        let _ = std::fs::remove_dir_all(&folder);
    }

    #[test]
    fn a_file_older_than_the_ttl_or_unreadable_is_no_cache() {
        let folder = folder("stale");
        let cache = DiscoveryCache::in_folder(&folder, "https://cluster.example:443");
        let resources = BTreeMap::from([("v1".to_owned(), vec![resource("Secret", "secrets")])]);
        cache.write("1.30.1", &resources);
        let file = folder.join("discovery/https___cluster.example_443.json");
        let old = SystemTime::now() - TTL - Duration::from_secs(60);
        File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
        assert!(cache.read("1.30.1").is_empty(), "older than the TTL");
        std::fs::write(&file, "{not json").unwrap();
        assert!(cache.read("1.30.1").is_empty(), "unreadable");
        // A folder that cannot be written is no error either.
        let blocked = DiscoveryCache::in_folder(&file.join("not-a-folder"), "https://x");
        blocked.write("1.30.1", &resources);
        assert!(blocked.read("1.30.1").is_empty());
        let _ = std::fs::remove_dir_all(&folder);
    }
}
