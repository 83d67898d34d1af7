//! The cluster capabilities `render` assumes offline, from `--kube-version`: which API versions a
//! Kubernetes release serves, as Helm's `.Capabilities.APIVersions` would report them.

use anyhow::{Context as _, Result, bail};
use prefect_plugin_abi::wire::Capabilities;

/// The Kubernetes version `render` assumes when `--kube-version` is not given.
pub const DEFAULT_KUBE_VERSION: &str = "1.33.0";

/// Group versions and the Kubernetes minor versions (of 1.x) that serve them: `(from, until)`,
/// `until` exclusive.
const GROUP_VERSIONS: &[(&str, u32, u32)] = &[
    ("v1", 0, u32::MAX),
    ("apps/v1", 9, u32::MAX),
    ("batch/v1", 0, u32::MAX),
    ("batch/v1beta1", 8, 25),
    ("autoscaling/v1", 0, u32::MAX),
    ("autoscaling/v2", 23, u32::MAX),
    ("autoscaling/v2beta2", 12, 26),
    ("policy/v1", 21, u32::MAX),
    ("policy/v1beta1", 5, 25),
    ("networking.k8s.io/v1", 8, u32::MAX),
    ("rbac.authorization.k8s.io/v1", 8, u32::MAX),
    ("storage.k8s.io/v1", 6, u32::MAX),
    ("apiextensions.k8s.io/v1", 16, u32::MAX),
    ("coordination.k8s.io/v1", 14, u32::MAX),
    ("discovery.k8s.io/v1", 21, u32::MAX),
    ("scheduling.k8s.io/v1", 14, u32::MAX),
];

/// The capabilities of a Kubernetes `version` (`1.20`, `v1.20.2`).
pub fn offline(version: &str) -> Result<Capabilities> {
    let (major, minor, patch) = parse(version).with_context(|| {
        format!("--kube-version {version:?} is not a Kubernetes version: use MAJOR.MINOR[.PATCH], e.g. 1.29")
    })?;
    if major != 1 {
        bail!("--kube-version {version}: only Kubernetes 1.x exists; use e.g. 1.29");
    }
    let api_versions = GROUP_VERSIONS
        .iter()
        .filter(|(_, from, until)| (*from..*until).contains(&minor))
        .map(|(gv, _, _)| (*gv).to_owned())
        .collect();
    Ok(Capabilities { kube_version: format!("{major}.{minor}.{patch}"), api_versions })
}

fn parse(version: &str) -> Option<(u32, u32, u32)> {
    let mut parts = version.strip_prefix('v').unwrap_or(version).splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = match parts.next() {
        Some(patch) => patch.split(['-', '+']).next()?.parse().ok()?,
        None => 0,
    };
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_follow_the_kubernetes_release() {
        let old = offline("v1.20.2").unwrap();
        assert_eq!(old.kube_version, "1.20.2");
        assert!(old.has("policy/v1beta1") && !old.has("policy/v1"));
        assert!(old.has("autoscaling/v2beta2") && !old.has("autoscaling/v2"));
        let new = offline("1.29").unwrap();
        assert!(new.has("policy/v1") && !new.has("policy/v1beta1"));
        assert!(new.has("autoscaling/v2") && !new.has("autoscaling/v2beta2"));
    }

    #[test]
    fn bad_versions_say_what_is_expected() {
        let err = offline("latest").unwrap_err().to_string();
        assert_eq!(
            err,
            "--kube-version \"latest\" is not a Kubernetes version: use MAJOR.MINOR[.PATCH], e.g. 1.29"
        );
        assert!(offline("2.0").is_err());
    }
}
