//! The cluster capabilities `render` assumes offline, from `--kube-version`: which API versions a
//! Kubernetes release serves, as Helm's `.Capabilities.APIVersions` would report them, and the
//! extra ones `--api-versions` names (the custom resources of an operator, as Helm's
//! `template --api-versions`). On a cluster, discovery says what is served instead.

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

/// The capabilities of a Kubernetes `version` (`1.20`, `v1.20.2`) with `api_versions` added
/// (`--api-versions`); every problem with either, as a message.
pub fn offline(version: &str, api_versions: &[String]) -> Result<Capabilities, Vec<String>> {
    let served = kube_version(version).map_err(|err| vec![format!("{err:#}")]);
    let mut extra = Vec::new();
    let mut errors = Vec::new();
    for api_version in api_versions {
        if is_api_version(api_version) {
            extra.push(api_version.clone());
        } else {
            errors.push(format!(
                "--api-versions {api_version:?} is not an API version: use GROUP/VERSION (such as \
                 monitoring.coreos.com/v1), VERSION for the core group (v1), or either followed by \
                 /KIND"
            ));
        }
    }
    match served {
        Ok(mut capabilities) if errors.is_empty() => {
            for api_version in extra {
                if !capabilities.has(&api_version) {
                    capabilities.api_versions.push(api_version);
                }
            }
            Ok(capabilities)
        }
        Ok(_) => Err(errors),
        Err(mut first) => {
            first.extend(errors);
            Err(first)
        }
    }
}

/// The capabilities of a Kubernetes `version`: the API versions it serves.
fn kube_version(version: &str) -> Result<Capabilities> {
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

/// `VERSION`, `GROUP/VERSION`, `VERSION/KIND` or `GROUP/VERSION/KIND`, as Kubernetes spells
/// them: the group a DNS subdomain, the version a DNS label that starts with a letter, the kind
/// a CamelCase name.
fn is_api_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('/').collect();
    let is_kind = |part: &str| {
        part.starts_with(|c: char| c.is_ascii_uppercase())
            && part.chars().all(|c| c.is_ascii_alphanumeric())
    };
    match parts.as_slice() {
        [version] => is_version(version),
        [version, kind] if is_kind(kind) => is_version(version),
        [group, version] => is_group(group) && is_version(version),
        [group, version, kind] => is_group(group) && is_version(version) && is_kind(kind),
        _ => false,
    }
}

fn is_label(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= 63
        && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !part.starts_with('-')
        && !part.ends_with('-')
}

fn is_version(part: &str) -> bool {
    is_label(part) && part.starts_with(|c: char| c.is_ascii_lowercase())
}

fn is_group(part: &str) -> bool {
    part.len() <= 253 && part.split('.').all(is_label)
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
        let old = offline("v1.20.2", &[]).unwrap();
        assert_eq!(old.kube_version, "1.20.2");
        assert!(old.has("policy/v1beta1") && !old.has("policy/v1"));
        assert!(old.has("autoscaling/v2beta2") && !old.has("autoscaling/v2"));
        let new = offline("1.29", &[]).unwrap();
        assert!(new.has("policy/v1") && !new.has("policy/v1beta1"));
        assert!(new.has("autoscaling/v2") && !new.has("autoscaling/v2beta2"));
    }

    #[test]
    fn bad_versions_say_what_is_expected() {
        let err = offline("latest", &[]).unwrap_err();
        assert_eq!(
            err[0],
            "--kube-version \"latest\" is not a Kubernetes version: use MAJOR.MINOR[.PATCH], e.g. 1.29"
        );
        assert!(offline("2.0", &[]).is_err());
    }

    #[test]
    fn api_versions_are_added_once_and_checked() {
        let served = offline("1.29", &[]).unwrap().api_versions.len();
        let extra = ["monitoring.coreos.com/v1", "apps/v1", "v1/Pod", "example.com/v1alpha1/Thing"];
        let capabilities = offline("1.29", &extra.map(str::to_owned)).unwrap();
        assert!(capabilities.has("monitoring.coreos.com/v1"));
        assert!(capabilities.has("v1/Pod") && capabilities.has("example.com/v1alpha1/Thing"));
        assert_eq!(capabilities.api_versions.len(), served + 3);

        let bad = ["Monitoring.coreos.com/v1", "monitoring.coreos.com/", "a/b/c/d", "/v1", "1"];
        let errors = offline("latest", &bad.map(str::to_owned)).unwrap_err();
        assert_eq!(errors.len(), 1 + bad.len(), "{errors:?}");
        assert_eq!(
            errors[1],
            "--api-versions \"Monitoring.coreos.com/v1\" is not an API version: use GROUP/VERSION \
             (such as monitoring.coreos.com/v1), VERSION for the core group (v1), or either \
             followed by /KIND"
        );
    }
}
