//! Tests of object validation: one `check` per case, printing every problem.

use expect_test::{Expect, expect};
use serde_json::json;

use super::*;

/// Prints the key of a valid object, or one line per problem.
fn check(object: Value, expect: Expect) {
    let actual = match validate(&object) {
        Ok(key) => format!("ok: {}\n", key.long()),
        Err(problems) => problems.iter().map(|problem| format!("{problem}\n")).collect(),
    };
    expect.assert_eq(&actual);
}

fn with_metadata(kind: &str, metadata: Value) -> Value {
    json!({ "apiVersion": "v1", "kind": kind, "metadata": metadata })
}

#[test]
fn valid_objects() {
    check(
        with_metadata(
            "Service",
            json!({
                "name": "prefect-server.v2",
                "namespace": "prefect",
                "labels": { "app.kubernetes.io/name": "prefect-server", "tier": "", "A_b.c-D": "X_y" },
                "annotations": { "example.com/note": "anything goes: here!" },
            }),
        ),
        expect![[r#"
            ok: v1 Service prefect/prefect-server.v2
        "#]],
    );
    check(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "agent", "namespace": null}}),
        expect![[r#"
            ok: rbac.authorization.k8s.io/v1 ClusterRole agent
        "#]],
    );
}

#[test]
fn not_an_object() {
    check(
        json!(["a"]),
        expect![[r#"
        the item is a list, not a Kubernetes object: return each resource as a JSON object
    "#]],
    );
}

#[test]
fn missing_kind_and_api_version() {
    check(
        json!({"metadata": {"name": "x", "namespace": "p"}}),
        expect![[r#"
        apiVersion is missing: set it to the object's API version, such as "apps/v1"
        kind is missing: set it to the object's kind, such as "Deployment"
    "#]],
    );
    check(
        json!({"apiVersion": "apps/v1/x", "kind": 3, "metadata": {"name": "x"}}),
        expect![[r#"
        apiVersion "apps/v1/x" is not a valid API version: use "v1" for the core group or "group/version"
        kind is a number: make it a string
    "#]],
    );
    check(
        json!({"apiVersion": "v1", "kind": "service", "metadata": {"name": "x", "namespace": "p"}}),
        expect![[r#"
        kind "service" is not a valid kind: use the kind's CamelCase name, such as "Deployment"
    "#]],
    );
}

#[test]
fn missing_metadata_and_name() {
    check(
        json!({"apiVersion": "v1", "kind": "Service"}),
        expect![[r#"
        metadata is missing: set metadata.name and, for a namespaced kind, metadata.namespace
    "#]],
    );
    check(
        with_metadata("Service", json!({"namespace": "p"})),
        expect![[r#"
        metadata.name is missing: give the object a name
    "#]],
    );
    check(
        with_metadata("Service", json!({"name": "", "namespace": "p"})),
        expect![[r#"
        metadata.name is missing: give the object a name
    "#]],
    );
}

#[test]
fn bad_names() {
    let name = |name: &str| with_metadata("Service", json!({"name": name, "namespace": "p"}));
    check(
        name("Prefect_Server"),
        expect![[r#"
        metadata.name "Prefect_Server" is not a valid name: use lower-case letters, digits, '-' and '.'
    "#]],
    );
    check(
        name("-server"),
        expect![[r#"
        metadata.name "-server" is not a valid name: start and end it, and each part between dots, with a lower-case letter or digit
    "#]],
    );
    check(
        name("a..b"),
        expect![[r#"
        metadata.name "a..b" is not a valid name: start and end it, and each part between dots, with a lower-case letter or digit
    "#]],
    );
    let long = "a".repeat(254);
    let expected = format!(
        "metadata.name {long:?} is not a valid name: use at most 253 characters, not 254\n"
    );
    assert_eq!(validate(&name(&long)).unwrap_err()[0].to_string() + "\n", expected);
    assert!(validate(&name(&"a".repeat(253))).is_ok());
}

#[test]
fn bad_namespaces() {
    let namespace = |ns: Value| with_metadata("Service", json!({"name": "x", "namespace": ns}));
    check(
        namespace(json!("prefect.io")),
        expect![[r#"
        metadata.namespace "prefect.io" is not a valid namespace: use lower-case letters, digits and '-'
    "#]],
    );
    check(
        namespace(json!("p".repeat(64))),
        expect![[r#"
        metadata.namespace "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" is not a valid namespace: use at most 63 characters, not 64
    "#]],
    );
    check(
        namespace(json!(7)),
        expect![[r#"
        metadata.namespace is a number: make it a string
    "#]],
    );
}

#[test]
fn namespace_on_a_cluster_scoped_kind() {
    check(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "agent", "namespace": "prefect"}}),
        expect![[r#"
            metadata.namespace "prefect" is set, but kind ClusterRole is cluster-scoped: remove metadata.namespace
        "#]],
    );
}

#[test]
fn namespaced_kind_without_namespace() {
    check(
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "server"}}),
        expect![[r#"
            metadata.namespace is missing, but kind Deployment is namespaced: set metadata.namespace to the release namespace
        "#]],
    );
    check(
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": null}}),
        expect![[r#"
            metadata.namespace is missing, but kind Widget is namespaced: set metadata.namespace to the release namespace
        "#]],
    );
}

#[test]
fn bad_labels_are_all_reported() {
    check(
        with_metadata(
            "Service",
            json!({
                "name": "x",
                "namespace": "p",
                "labels": {
                    "ok": "fine",
                    "tier": "-front",
                    "version": "1.0 beta",
                    "long": "v".repeat(64),
                    "replicas": 3,
                    "Example.com/x": "a",
                    "/x": "a",
                    "a/b/c": "a",
                    "example.com/": "a",
                    "bad key": "a",
                },
            }),
        ),
        expect![[r#"
            metadata.labels.tier "-front" is not a valid label value: start and end it with a letter or digit
            metadata.labels.version "1.0 beta" is not a valid label value: use letters, digits, '-', '_' and '.'
            metadata.labels.long "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv" is not a valid label value: use at most 63 characters, not 64
            metadata.labels.replicas is a number: make it a string (quote it)
            metadata.labels has the key "Example.com/x", which is not a valid label key: in the prefix before '/', use lower-case letters, digits, '-' and '.'
            metadata.labels has the key "/x", which is not a valid label key: put a DNS prefix before '/', or remove the '/'
            metadata.labels has the key "a/b/c", which is not a valid label key: use at most one '/', between the prefix and the name
            metadata.labels has the key "example.com/", which is not a valid label key: put a name after the '/'
            metadata.labels has the key "bad key", which is not a valid label key: use letters, digits, '-', '_' and '.'
        "#]],
    );
}

#[test]
fn labels_and_annotations_must_be_maps_of_strings() {
    check(
        with_metadata(
            "Service",
            json!({"name": "x", "namespace": "p", "labels": ["a"], "annotations": {"note": true, "ok": "1"}}),
        ),
        expect![[r#"
            metadata.labels is a list: make it a map of strings
            metadata.annotations.note is a boolean: make it a string (quote it)
        "#]],
    );
}

#[test]
fn every_problem_of_an_object_is_reported() {
    check(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Bad", "namespace": "x", "labels": {"a": "-"}}}),
        expect![[r#"
            metadata.name "Bad" is not a valid name: use lower-case letters, digits, '-' and '.'
            metadata.namespace "x" is set, but kind Namespace is cluster-scoped: remove metadata.namespace
            metadata.labels.a "-" is not a valid label value: start and end it with a letter or digit
        "#]],
    );
}
