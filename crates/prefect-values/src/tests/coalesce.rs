//! Coalescing defaults with user values, Helm's way.

use expect_test::{Expect, expect};
use serde_json::{Value, json};

use crate::coalesce;

fn check(defaults: Value, user: Value, expect: Expect) {
    expect.assert_eq(&coalesce(&defaults, &user).to_string());
}

#[test]
fn user_wins_and_mappings_merge() {
    check(
        json!({"replicas": 1, "image": {"repository": "prefecthq/prefect", "tag": "3"}}),
        json!({"image": {"tag": "3.1"}, "replicas": 2}),
        expect![[r#"{"replicas":2,"image":{"repository":"prefecthq/prefect","tag":"3.1"}}"#]],
    );
}

#[test]
fn null_removes_a_default() {
    check(
        json!({"securityContext": {"runAsUser": 1000, "runAsNonRoot": true}}),
        json!({"securityContext": {"runAsUser": null}}),
        expect![[r#"{"securityContext":{"runAsNonRoot":true}}"#]],
    );
    check(json!({"ingress": {"host": "x"}}), json!({"ingress": null}), expect!["{}"]);
    // Also for keys without a default, at any depth, but not inside lists.
    check(
        json!({}),
        json!({"extra": null, "env": {"A": null, "B": "b"}, "l": [null]}),
        expect![[r#"{"env":{"B":"b"},"l":[null]}"#]],
    );
}

#[test]
fn sequences_and_scalars_replace() {
    check(json!({"args": ["a", "b"]}), json!({"args": ["c"]}), expect![[r#"{"args":["c"]}"#]]);
    check(json!({"env": {"A": "1"}}), json!({"env": "none"}), expect![[r#"{"env":"none"}"#]]);
    check(json!({"tag": "3"}), json!({"tag": {"x": 1}}), expect![[r#"{"tag":{"x":1}}"#]]);
}

#[test]
fn key_order_and_nothing_set() {
    check(json!({"b": 1, "a": 2}), json!({"c": 3, "a": 4}), expect![[r#"{"b":1,"a":4,"c":3}"#]]);
    check(json!({"a": 1}), Value::Null, expect![[r#"{"a":1}"#]]);
    check(json!({"a": null}), json!({}), expect![[r#"{"a":null}"#]]);
}
