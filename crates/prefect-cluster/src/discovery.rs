//! What the API server serves, read once per command: its version and group versions (three
//! requests), and the resources of just the group versions a plan uses (one request each, or
//! none when the disk cache, `discovery_cache`, holds them).
//! Plugins pick API versions from the first; writes need the second (a kind's resource name
//! and scope), and a kind the server does not serve is found before anything is written.

use std::collections::{BTreeMap, BTreeSet};

use kube::discovery::ApiResource;

use crate::{Cluster, Error, Result};

/// The server's version and the group versions it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `MAJOR.MINOR.PATCH`, without a `v` or build suffix.
    pub version: String,
    /// Every served group version: `v1`, `apps/v1`, `policy/v1beta1`...
    pub group_versions: Vec<String>,
}

/// How to address one kind: its resource and whether it is namespaced.
#[derive(Debug, Clone)]
pub struct Target {
    /// The resource (group, version, kind, plural).
    pub resource: ApiResource,
    /// Whether objects of the kind live in a namespace.
    pub namespaced: bool,
}

/// A kind a plan uses that the server does not serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotServed {
    /// `route.openshift.io/v1`.
    pub api_version: String,
    /// `Route`.
    pub kind: String,
}

/// The target of a built-in kind, without discovery (for the kinds prefectctl itself uses:
/// Secrets for records, Namespaces).
pub fn builtin(api_version: &str, kind: &str, plural: &str, namespaced: bool) -> Target {
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group.to_owned(), version.to_owned()),
        None => (String::new(), api_version.to_owned()),
    };
    Target {
        resource: ApiResource {
            group,
            version,
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
        },
        namespaced,
    }
}

impl Cluster {
    /// The server's version and served group versions.
    pub async fn server_info(&self) -> Result<ServerInfo> {
        let (version, core, groups) = tokio::join!(
            self.client.apiserver_version(),
            self.client.list_core_api_versions(),
            self.client.list_api_groups()
        );
        let version =
            version.map_err(|err| self.unreachable_or("read the server's version", err))?;
        let core = core.map_err(|err| Error::api("discover the core API", err))?;
        let groups = groups.map_err(|err| Error::api("discover the API groups", err))?;
        let mut group_versions: Vec<String> = core.versions;
        for group in groups.groups {
            group_versions.extend(group.versions.into_iter().map(|v| v.group_version));
        }
        Ok(ServerInfo {
            version: plain_version(&version.git_version, &version.major, &version.minor),
            group_versions,
        })
    }

    /// The targets of every `(apiVersion, kind)` in `kinds`, reading each group version's
    /// resources once; the kinds the server does not serve, all of them, otherwise.
    pub async fn resolve(
        &self,
        info: &ServerInfo,
        kinds: &BTreeSet<(String, String)>,
    ) -> Result<std::result::Result<BTreeMap<(String, String), Target>, Vec<NotServed>>> {
        let wanted: BTreeSet<&String> = {
            let known = self.resources.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            kinds
                .iter()
                .map(|(api_version, _)| api_version)
                .filter(|gv| info.group_versions.contains(gv) && !known.contains_key(gv.as_str()))
                .collect()
        };
        // What the disk cache holds of a group version is taken when it has every kind
        // wanted of it; the others are read live, and kept there for the next command.
        let cached = if wanted.is_empty() {
            BTreeMap::new()
        } else {
            self.discovery_cache.read(&info.version)
        };
        let has_every_kind = |api_version: &&String| {
            cached.get(api_version.as_str()).is_some_and(|list| {
                kinds
                    .iter()
                    .filter(|(v, _)| v == *api_version)
                    .all(|(_, kind)| list.iter().any(|r| r.kind == *kind && !r.name.contains('/')))
            })
        };
        let (from_disk, live): (Vec<&String>, Vec<&String>) =
            wanted.into_iter().partition(has_every_kind);
        let lists = futures::future::join_all(live.into_iter().map(|api_version| async move {
            let list = if api_version.contains('/') {
                self.client.list_api_group_resources(api_version).await
            } else {
                self.client.list_core_api_resources(api_version).await
            };
            list.map(|list| (api_version.clone(), list.resources))
                .map_err(|err| Error::api(format!("discover the resources of {api_version}"), err))
        }))
        .await;
        let read_live = !lists.is_empty();
        let resources = {
            let mut known = self.resources.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for api_version in from_disk {
                known.insert(api_version.clone(), cached[api_version.as_str()].clone());
            }
            let mut keep = cached;
            for list in lists {
                let (api_version, resources) = list?;
                keep.insert(api_version.clone(), resources.clone());
                known.insert(api_version, resources);
            }
            if read_live {
                self.discovery_cache.write(&info.version, &keep);
            }
            known.clone()
        };
        let mut targets = BTreeMap::new();
        let mut missing = Vec::new();
        for (api_version, kind) in kinds {
            let found = resources
                .get(api_version.as_str())
                .and_then(|list| list.iter().find(|r| r.kind == *kind && !r.name.contains('/')));
            match found {
                Some(resource) => {
                    let (group, version) = match api_version.split_once('/') {
                        Some((group, version)) => (group.to_owned(), version.to_owned()),
                        None => (String::new(), api_version.clone()),
                    };
                    let target = Target {
                        resource: ApiResource {
                            group,
                            version,
                            api_version: api_version.clone(),
                            kind: kind.clone(),
                            plural: resource.name.clone(),
                        },
                        namespaced: resource.namespaced,
                    };
                    targets.insert((api_version.clone(), kind.clone()), target);
                }
                None => {
                    missing.push(NotServed { api_version: api_version.clone(), kind: kind.clone() })
                }
            }
        }
        Ok(if missing.is_empty() { Ok(targets) } else { Err(missing) })
    }

    /// A transport failure as [`Error::NoAnswer`] (else [`Error::Unreachable`]), anything else
    /// as [`Error::Api`].
    pub(crate) fn unreachable_or(&self, action: &str, err: kube::Error) -> Error {
        match err {
            kube::Error::Api(_) => Error::api(action, err),
            kube::Error::Service(ref cause) if cause.is::<crate::transport::NoAnswer>() => {
                Error::api(action, err)
            }
            other => Error::Unreachable {
                server: self.server().to_owned(),
                reason: crate::error::one_line(&other.to_string()),
            },
        }
    }
}

/// `1.20.2` from `v1.20.2-gke.100` (or from major and minor when the git version is odd).
fn plain_version(git_version: &str, major: &str, minor: &str) -> String {
    let trimmed = git_version.trim_start_matches('v');
    let core: String = trimmed.split(['-', '+']).next().unwrap_or_default().to_owned();
    if core.split('.').count() == 3 && core.split('.').all(|p| p.parse::<u32>().is_ok()) {
        return core;
    }
    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    format!("{major}.{minor}.0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_without_prefix_or_vendor_suffix() {
        assert_eq!(plain_version("v1.20.2", "1", "20"), "1.20.2");
        assert_eq!(plain_version("v1.29.4-gke.1043002", "1", "29"), "1.29.4");
        assert_eq!(plain_version("v1.28.3+k3s1", "1", "28"), "1.28.3");
        assert_eq!(plain_version("weird", "1", "27+"), "1.27.0");
    }
}
