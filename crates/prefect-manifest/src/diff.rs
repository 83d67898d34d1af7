//! A structural diff of two JSON values: the paths of the leaves that were added, removed or
//! changed, which [`Provenance`](crate::Provenance) records for each change.
//!
//! - Two maps are compared key by key; a key only one side has is reported at its own path,
//!   however much is below it (`spec.template.spec.initContainers`, not each of its fields).
//! - Two sequences of the same length are compared item by item (`containers[0].image`); when
//!   the length changed, the sequence's own path is reported, since items cannot be matched up.
//! - Anything else that differs (a scalar, or a value whose type changed) is reported at its path.
//!
//! Paths come in document order: the old value's keys first, then the keys only the new one has.

use serde_json::Value;

use crate::path::Path;

/// The paths that differ between `old` and `new`; empty when they are equal.
pub fn changed_paths(old: &Value, new: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    compare(&Path::Root, old, new, &mut paths);
    paths
}

// One walk: each value is visited once, and a path is written out only when it is reported
// (comparing whole subtrees for equality at every level went over deep objects once per
// level).
fn compare(at: &Path<'_>, old: &Value, new: &Value, paths: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            for (key, old_value) in old {
                match new.get(key) {
                    Some(new_value) => compare(&at.field(key), old_value, new_value, paths),
                    None => paths.push(at.field(key).to_string()),
                }
            }
            for key in new.keys() {
                if !old.contains_key(key) {
                    paths.push(at.field(key).to_string());
                }
            }
        }
        (Value::Array(old), Value::Array(new)) if old.len() == new.len() => {
            for (index, (old_item, new_item)) in old.iter().zip(new).enumerate() {
                compare(&at.index(index), old_item, new_item, paths);
            }
        }
        _ if old == new => {}
        _ => paths.push(at.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use serde_json::json;

    use super::*;

    fn check(old: Value, new: Value, expect: Expect) {
        expect.assert_debug_eq(&changed_paths(&old, &new));
    }

    #[test]
    fn equal_values_have_no_paths() {
        check(
            json!({"a": [1, {"b": null}]}),
            json!({"a": [1, {"b": null}]}),
            expect![[r#"
            []
        "#]],
        );
    }

    #[test]
    fn key_order_does_not_matter() {
        check(
            json!({"a": 1, "b": 2}),
            json!({"b": 2, "a": 1}),
            expect![[r#"
            []
        "#]],
        );
    }

    #[test]
    fn changed_scalar_deep_in_a_pod_template() {
        check(
            json!({"spec": {"template": {"spec": {"securityContext": {"runAsUser": 1000}}}}}),
            json!({"spec": {"template": {"spec": {"securityContext": {"runAsUser": 1001}}}}}),
            expect![[r#"
                [
                    "spec.template.spec.securityContext.runAsUser",
                ]
            "#]],
        );
    }

    #[test]
    fn added_and_removed_subtrees_are_reported_at_their_root() {
        check(
            json!({"spec": {"replicas": 1, "old": {"x": 1, "y": [true]}}}),
            json!({"spec": {"replicas": 1, "securityContext": {"runAsNonRoot": true, "runAsUser": 1000}, "empty": {}}}),
            expect![[r#"
                [
                    "spec.old",
                    "spec.securityContext",
                    "spec.empty",
                ]
            "#]],
        );
    }

    #[test]
    fn sequences_of_the_same_length_are_compared_by_index() {
        check(
            json!({"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}),
            json!({"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:2"}]}),
            expect![[r#"
                [
                    "containers[1].image",
                ]
            "#]],
        );
    }

    #[test]
    fn a_sequence_whose_length_changed_is_reported_itself() {
        check(
            json!({"spec": {"containers": [{"name": "a"}]}}),
            json!({"spec": {"containers": [{"name": "a"}, {"name": "sidecar"}]}}),
            expect![[r#"
                [
                    "spec.containers",
                ]
            "#]],
        );
    }

    #[test]
    fn a_changed_type_is_reported_at_its_path() {
        check(
            json!({"a": {"b": 1}}),
            json!({"a": "b"}),
            expect![[r#"
            [
                "a",
            ]
        "#]],
        );
    }

    #[test]
    fn label_keys_are_quoted() {
        check(
            json!({"metadata": {"labels": {"app": "x"}}}),
            json!({"metadata": {"labels": {"app": "x", "app.kubernetes.io/part-of": "prefect"}}}),
            expect![[r#"
                [
                    "metadata.labels[\"app.kubernetes.io/part-of\"]",
                ]
            "#]],
        );
    }
}
