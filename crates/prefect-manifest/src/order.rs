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
//!
//! One annotation splits the workloads: a Job with [`RUN_BEFORE_ANNOTATION`] (a database
//! migration, say) is a *gate* of the workloads it names. The workloads stage then falls into
//! three waves: every other workload, the gates, the workloads they gate. The host applies a gate
//! wave and waits until its Jobs complete before it goes on, so a failed gate leaves the gated
//! workloads as they were.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ResourceKey;

/// The annotation that makes a Job a gate: a comma-separated list of `Kind/name` of workloads
/// in the Job's namespace (`Deployment/prefect-server`) that are applied only once the Job has
/// completed. Names of objects the graph does not hold are ignored.
pub const RUN_BEFORE_ANNOTATION: &str = "prefectctl.io/run-before";

/// Where a workload goes among the workloads stage's waves; everything else is `Free`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Step {
    /// Applied with the other workloads, before any gate.
    #[default]
    Free,
    /// A Job that gates workloads: applied after the free ones, and waited for.
    Gate,
    /// A workload a gate names: applied once the gates completed.
    Gated,
}

/// The steps of the gates and of the workloads they name, among `resources`; resources not in
/// the map are [`Step::Free`].
pub fn steps<'a>(
    resources: impl IntoIterator<Item = (&'a ResourceKey, &'a Value)> + Clone,
) -> BTreeMap<&'a ResourceKey, Step> {
    let mut steps = BTreeMap::new();
    for (key, object) in resources.clone() {
        if let Some(named) = gated_names(key, object) {
            steps.insert(key, Step::Gate);
            for (other, _) in resources.clone() {
                let workload = rank(&other.kind).stage == WORKLOADS;
                let is_named =
                    named.iter().any(|(kind, name)| other.kind == *kind && other.name == *name);
                if workload && is_named && other.namespace == key.namespace && other != key {
                    steps.entry(other).or_insert(Step::Gated);
                }
            }
        }
    }
    steps
}

/// The `(kind, name)` pairs a gate Job names, or `None` when `object` is not a gate.
pub fn gated_names<'a>(key: &ResourceKey, object: &'a Value) -> Option<Vec<(&'a str, &'a str)>> {
    if key.kind != "Job" || key.group() != "batch" {
        return None;
    }
    let list = object["metadata"]["annotations"][RUN_BEFORE_ANNOTATION].as_str()?;
    Some(
        list.split(',')
            .filter_map(|item| item.trim().split_once('/'))
            .map(|(kind, name)| (kind.trim(), name.trim()))
            .collect(),
    )
}

/// The index of the workloads stage in [`STAGES`].
const WORKLOADS: usize = 3;

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
///
/// Each item's rank is worked out once, not at every comparison, and the items are then moved
/// into place once each.
pub fn sort<T>(items: &mut [T], key: impl Fn(&T) -> &ResourceKey) {
    let ranks: Vec<Rank> = items.iter().map(|item| rank(&key(item).kind)).collect();
    let mut order: Vec<usize> = (0..items.len()).collect();
    order
        .sort_unstable_by(|&a, &b| compare((ranks[a], key(&items[a])), (ranks[b], key(&items[b]))));
    permute(items, order);
}

/// The install order of two keys of known ranks: rank, kind, namespace, name, group. It is
/// total over keys that differ (their identities), so no two resources of a graph tie.
pub(crate) fn compare(
    (rank_a, a): (Rank, &ResourceKey),
    (rank_b, b): (Rank, &ResourceKey),
) -> std::cmp::Ordering {
    rank_a
        .cmp(&rank_b)
        .then_with(|| a.kind.cmp(&b.kind))
        .then_with(|| a.namespace.cmp(&b.namespace))
        .then_with(|| a.name.cmp(&b.name))
        .then_with(|| a.group().cmp(b.group()))
}

/// Puts `items[order[i]]` at `i`, for every `i`, by following the permutation's cycles.
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..items.len() {
        let mut current = start;
        while order[current] != start {
            let next = order[current];
            items.swap(current, next);
            order[current] = current;
            current = next;
        }
        order[current] = current;
    }
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

    #[test]
    fn permute_moves_each_item_to_its_place() {
        for order in [vec![2, 0, 3, 1, 4], vec![0, 1, 2], vec![4, 3, 2, 1, 0], vec![]] {
            let mut items: Vec<usize> = (0..order.len()).map(|i| i * 10).collect();
            let expected: Vec<usize> = order.iter().map(|&i| items[i]).collect();
            permute(&mut items, order);
            assert_eq!(items, expected);
        }
    }
}
