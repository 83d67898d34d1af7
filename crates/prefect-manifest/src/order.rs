//! The order resources are rendered and applied in, which depends only on the resources.
//!
//! Resources are ranked by kind. The ranks follow Helm's install order, except that custom
//! resource definitions come right after namespaces (custom resources need them), persistent
//! volume claims come after RBAC, and pod disruption budgets come after the workloads they
//! protect. The ranks fall into five stages; [`Graph::waves`](crate::Graph::waves) returns one
//! group per stage, whose resources may be applied concurrently:
//!
//! 1. `Namespace`, `CustomResourceDefinition`;
//! 2. policy, identity, configuration, storage and RBAC: `NetworkPolicy`, `ResourceQuota`,
//!    `LimitRange`, `PriorityClass`, `ServiceAccount`, `Secret`, `ConfigMap`, `StorageClass`,
//!    `PersistentVolume`, `ClusterRole`, `ClusterRoleBinding`, `Role`, `RoleBinding`,
//!    `SecurityContextConstraints`, `PersistentVolumeClaim`;
//! 3. `Service`;
//! 4. workloads: `DaemonSet`, `Pod`, `ReplicationController`, `ReplicaSet`, `Deployment`,
//!    `StatefulSet`, `Job`, `CronJob`;
//! 5. everything after: `HorizontalPodAutoscaler`, `PodDisruptionBudget`, `IngressClass`,
//!    `Ingress`, `Route`, `APIService`, `MutatingWebhookConfiguration`,
//!    `ValidatingWebhookConfiguration`, then every other kind (custom resources, whose
//!    definitions came first).
//!
//! The rank depends on the kind alone, as in Helm. Resources of the same rank are sorted by
//! kind, namespace (cluster-scoped first), name and API group, so the order never depends on
//! the order plugins added them.

use crate::ResourceKey;

/// The known kinds, stage by stage, in install order.
const STAGES: &[&[&str]] = &[
    &["Namespace", "CustomResourceDefinition"],
    &[
        "NetworkPolicy",
        "ResourceQuota",
        "LimitRange",
        "PriorityClass",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "StorageClass",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "SecurityContextConstraints",
        "PersistentVolumeClaim",
    ],
    &["Service"],
    &[
        "DaemonSet",
        "Pod",
        "ReplicationController",
        "ReplicaSet",
        "Deployment",
        "StatefulSet",
        "Job",
        "CronJob",
    ],
    &[
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "IngressClass",
        "Ingress",
        "Route",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ],
];

/// Where a kind goes: its stage, then its position in the install order (unknown kinds last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rank {
    /// The index of the stage (the apply wave).
    pub(crate) stage: usize,
    position: usize,
}

/// The rank of `kind`.
pub(crate) fn rank(kind: &str) -> Rank {
    let mut position = 0;
    for (stage, kinds) in STAGES.iter().enumerate() {
        if let Some(index) = kinds.iter().position(|known| *known == kind) {
            return Rank { stage, position: position + index };
        }
        position += kinds.len();
    }
    Rank { stage: STAGES.len() - 1, position }
}

/// Sorts `items`, each of which has the key `key(item)`, into install order.
pub fn sort<T>(items: &mut [T], key: impl Fn(&T) -> &ResourceKey) {
    items.sort_by(|a, b| {
        let (a, b) = (key(a), key(b));
        (rank(&a.kind), &a.kind, &a.namespace, &a.name, a.group()).cmp(&(
            rank(&b.kind),
            &b.kind,
            &b.namespace,
            &b.name,
            b.group(),
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks() {
        assert!(rank("Namespace") < rank("CustomResourceDefinition"));
        assert!(rank("CustomResourceDefinition") < rank("NetworkPolicy"));
        assert!(rank("RoleBinding") < rank("PersistentVolumeClaim"));
        assert!(rank("CronJob") < rank("PodDisruptionBudget"));
        assert!(rank("ValidatingWebhookConfiguration") < rank("Widget"));
        assert_eq!(rank("Widget"), rank("Gadget"));
        assert_eq!(rank("Widget").stage, 4);
        assert_eq!(rank("Service").stage, 2);
    }
}
