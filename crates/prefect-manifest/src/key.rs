//! [`ResourceKey`]: which Kubernetes object a resource is.

use std::{
    cmp::Ordering,
    fmt,
    hash::{Hash, Hasher},
};

use serde_json::Value;

use crate::validate::{self, InvalidObject};

/// Which Kubernetes object a resource is: API group, kind, namespace and name.
///
/// The key keeps the whole `apiVersion`, but its identity (equality, hashing and ordering)
/// ignores the version, as the API server does: `policy/v1` and `policy/v1beta1`
/// `PodDisruptionBudget`s of the same name and namespace are the same object, served in two
/// versions. Two objects of the same kind and name in different groups are different objects.
///
/// It displays as `Deployment/prefect/prefect-server` (kind/namespace/name), or
/// `ClusterRole/prefect-agent` for a cluster-scoped object; [`ResourceKey::long`] adds the
/// `apiVersion` for messages where the group matters.
///
/// Build keys with [`ResourceKey::new`] or [`ResourceKey::of`]: the length of the group is
/// worked out once there, so that comparing and hashing keys (every lookup in a graph of
/// thousands of resources) never splits the `apiVersion` again. Change a key's fields only
/// through a new key.
#[derive(Debug, Clone)]
pub struct ResourceKey {
    /// The object's `apiVersion`: `v1` for the core group, otherwise `group/version`.
    pub api_version: String,
    /// The object's `kind`, such as `Deployment`.
    pub kind: String,
    /// `metadata.namespace`; `None` for a cluster-scoped object.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// The length of the group at the start of `api_version` (0 for the core group).
    group_len: usize,
}

impl ResourceKey {
    /// A key from its parts.
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        namespace: Option<&str>,
        name: impl Into<String>,
    ) -> ResourceKey {
        let api_version = api_version.into();
        let group_len = api_version.rfind('/').unwrap_or(0);
        ResourceKey {
            api_version,
            kind: kind.into(),
            namespace: namespace.map(str::to_owned),
            name: name.into(),
            group_len,
        }
    }

    /// The key of `object`, after checking the fields the key is made of: `apiVersion`, `kind`,
    /// `metadata.name` and `metadata.namespace` (present exactly when the kind is namespaced).
    ///
    /// Returns the first problem found; [`validate::validate`] checks the whole object and
    /// returns every problem.
    pub fn of(object: &Value) -> Result<ResourceKey, InvalidObject> {
        let mut problems = Vec::new();
        match validate::identity(object, &mut problems) {
            Some(key) if problems.is_empty() => Ok(key),
            _ => Err(problems.swap_remove(0)),
        }
    }

    /// The API group: the part of `apiVersion` before `/`, and `""` for the core group (`v1`).
    pub fn group(&self) -> &str {
        // `get`: a key whose `api_version` was replaced since (the fields are public) still
        // answers without a panic; keys are meant to be made anew.
        self.api_version.get(..self.group_len).unwrap_or_default()
    }

    /// The API version within the group: `v1` of `apps/v1`.
    pub fn version(&self) -> &str {
        self.api_version.rsplit_once('/').map_or(&self.api_version, |(_, version)| version)
    }

    /// The long form, with the `apiVersion`: `policy/v1 PodDisruptionBudget prefect/prefect-server`.
    pub fn long(&self) -> LongForm<'_> {
        LongForm(self)
    }

    fn identity(&self) -> (&str, &str, Option<&str>, &str) {
        (self.group(), &self.kind, self.namespace.as_deref(), &self.name)
    }
}

impl PartialEq for ResourceKey {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for ResourceKey {}

impl Hash for ResourceKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

impl PartialOrd for ResourceKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Orders by group, kind, namespace and name; [`crate::Graph::ordered`] has the apply order.
impl Ord for ResourceKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.identity().cmp(&other.identity())
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{}/{}/{}", self.kind, namespace, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// A [`ResourceKey`] displayed with its `apiVersion`, from [`ResourceKey::long`]:
/// `apps/v1 Deployment prefect/prefect-server`, `rbac.authorization.k8s.io/v1 ClusterRole prefect-agent`.
#[derive(Debug, Clone, Copy)]
pub struct LongForm<'a>(&'a ResourceKey);

impl fmt::Display for LongForm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.0;
        write!(f, "{} {} ", key.api_version, key.kind)?;
        if let Some(namespace) = &key.namespace {
            write!(f, "{namespace}/")?;
        }
        f.write_str(&key.name)
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use serde_json::json;

    use super::*;

    fn pdb(api_version: &str) -> ResourceKey {
        ResourceKey::of(&json!({
            "apiVersion": api_version,
            "kind": "PodDisruptionBudget",
            "metadata": { "name": "prefect-server", "namespace": "prefect" },
        }))
        .unwrap()
    }

    #[test]
    fn the_version_is_not_part_of_the_identity() {
        let v1 = pdb("policy/v1");
        let v1beta1 = pdb("policy/v1beta1");
        assert_eq!(v1, v1beta1);
        assert_eq!(v1.cmp(&v1beta1), Ordering::Equal);
        let hash = |key: &ResourceKey| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut hasher);
            hasher.finish()
        };
        assert_eq!(hash(&v1), hash(&v1beta1));
        expect![[r#"
            PodDisruptionBudget/prefect/prefect-server
            policy/v1 PodDisruptionBudget prefect/prefect-server
            policy/v1beta1 PodDisruptionBudget prefect/prefect-server
        "#]]
        .assert_eq(&format!("{v1}\n{}\n{}\n", v1.long(), v1beta1.long()));
    }

    #[test]
    fn the_group_is_part_of_the_identity() {
        let networking = ResourceKey::new("networking.k8s.io/v1", "Ingress", Some("p"), "ui");
        let extensions = ResourceKey::new("extensions/v1beta1", "Ingress", Some("p"), "ui");
        assert_ne!(networking, extensions);
        assert_eq!(networking.group(), "networking.k8s.io");
        assert_eq!(networking.version(), "v1");
    }

    #[test]
    fn core_group_and_cluster_scoped_display() {
        let service = ResourceKey::new("v1", "Service", Some("prefect"), "prefect-server");
        assert_eq!(service.group(), "");
        assert_eq!(service.version(), "v1");
        let role = ResourceKey::new("rbac.authorization.k8s.io/v1", "ClusterRole", None, "agent");
        expect![[r#"
            Service/prefect/prefect-server
            v1 Service prefect/prefect-server
            ClusterRole/agent
            rbac.authorization.k8s.io/v1 ClusterRole agent
        "#]]
        .assert_eq(&format!("{service}\n{}\n{role}\n{}\n", service.long(), role.long()));
    }

    #[test]
    fn of_reports_the_first_problem() {
        let err = ResourceKey::of(&json!({"apiVersion": "v1", "metadata": {"name": "x"}}));
        expect![[r#"kind is missing: set it to the object's kind, such as "Deployment""#]]
            .assert_eq(&err.unwrap_err().to_string());
    }
}
