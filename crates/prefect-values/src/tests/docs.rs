//! `documented_yaml`: the layout a user copies, quoting, and the round trip through the reader.

use expect_test::{Expect, expect};
use serde_json::{Value, json};

use crate::{Layer, documented_yaml};

/// The documented YAML, after checking that reading it back gives `{section: defaults}`.
fn check(schema: Value, defaults: Value, expect: Expect) {
    let yaml = documented_yaml("server", &schema, &defaults);
    let read = Layer::from_yaml_str(&yaml, "documented.yaml")
        .unwrap_or_else(|error| panic!("{error}\n{yaml}"));
    assert_eq!(read.tree(), &json!({ "server": defaults }), "{yaml}");
    expect.assert_eq(&yaml);
}

fn server_schema() -> Value {
    json!({
        "description": "The Prefect server.",
        "type": "object",
        "properties": {
            "replicas": { "description": "Number of replicas.", "type": "integer" },
            "image": {
                "description": "The container image.",
                "type": "object",
                "properties": {
                    "repository": { "description": "Image repository.", "type": "string" },
                    "tag": { "description": "Image tag; the chart's version when unset.", "type": ["string", "null"] },
                    "pullPolicy": { "type": "string", "enum": ["Always", "IfNotPresent", "Never"] }
                }
            },
            "ingress": {
                "description": "Expose the server outside the cluster. This is a long description that has to be wrapped because it goes on for more than ninety-six columns, which is the width we keep to.\n\nA second paragraph.",
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {
                            "host": { "description": "Ingress host name.", "type": "string" },
                            "tls": { "description": "Serve HTTPS.", "type": "boolean" }
                        }
                    },
                    { "type": "null" }
                ]
            },
            "securityContext": {
                "type": "object",
                "properties": { "runAsUser": { "description": "User id.", "type": ["integer", "null"] } }
            },
            "env": { "description": "Extra environment variables.", "type": "object", "additionalProperties": { "type": "string" } },
            "args": { "description": "Extra arguments.", "type": "array", "items": { "type": "string" } },
            "tolerations": { "type": "array" },
            "nodeName": { "description": "Pin the server to a node.", "type": ["string", "null"] }
        }
    })
}

#[test]
fn documented_defaults() {
    check(
        server_schema(),
        json!({
            "replicas": 1,
            "image": { "repository": "prefecthq/prefect", "tag": null, "pullPolicy": "IfNotPresent" },
            "ingress": { "host": "prefect.example.com", "tls": false },
            "securityContext": { "runAsUser": 1000 },
            "env": {},
            "args": [],
            "tolerations": [
                { "key": "dedicated", "operator": "Equal", "value": "prefect", "effect": "NoSchedule" },
                { "key": "spot", "nested": { "a": [1, { "b": 2 }] } },
                [1, 2],
                "yes"
            ]
        }),
        expect![[r##"
            # The Prefect server.
            server:
              # Number of replicas.
              replicas: 1

              # The container image.
              image:
                # Image repository.
                repository: prefecthq/prefect
                # Image tag; the chart's version when unset.
                tag: null
                pullPolicy: IfNotPresent

              # Expose the server outside the cluster. This is a long description that has to be wrapped
              # because it goes on for more than ninety-six columns, which is the width we keep to.
              #
              # A second paragraph.
              ingress:
                # Ingress host name.
                host: prefect.example.com
                # Serve HTTPS.
                tls: false

              securityContext:
                # User id.
                runAsUser: 1000

              # Extra environment variables.
              env: {}

              # Extra arguments.
              args: []

              tolerations:
                - key: dedicated
                  operator: Equal
                  value: prefect
                  effect: NoSchedule
                - key: spot
                  nested:
                    a:
                      - 1
                      - b: 2
                - - 1
                  - 2
                - "yes"

              # Pin the server to a node.
              # nodeName:
        "##]],
    );
}

#[test]
fn properties_without_defaults_are_commented_out() {
    check(
        server_schema(),
        json!({ "replicas": 1, "ingress": null, "image": { "repository": "prefecthq/prefect" } }),
        expect![[r#"
            # The Prefect server.
            server:
              # Number of replicas.
              replicas: 1

              # Expose the server outside the cluster. This is a long description that has to be wrapped
              # because it goes on for more than ninety-six columns, which is the width we keep to.
              #
              # A second paragraph.
              ingress: null

              # The container image.
              image:
                # Image repository.
                repository: prefecthq/prefect
                # Image tag; the chart's version when unset.
                # tag:
                # pullPolicy:

              # securityContext:

              # Extra environment variables.
              # env:

              # Extra arguments.
              # args:

              # tolerations:

              # Pin the server to a node.
              # nodeName:
        "#]],
    );
    check(
        json!({}),
        json!({}),
        expect![[r#"
        server: {}
    "#]],
    );
}

#[test]
fn quoting() {
    let strings = [
        "on",
        "yes",
        "No",
        "OFF",
        "y",
        "n",
        "true",
        "null",
        "~",
        "",
        "1.0",
        "0777",
        "12",
        "1e3",
        ".5",
        ".inf",
        "-1",
        "- item",
        "a: b",
        "a #b",
        "key:",
        "*alias",
        "&anchor",
        "!tag",
        "%x",
        "@x",
        "'q'",
        "\"q\"",
        "{x}",
        "[x]",
        "|",
        " padded ",
        "a\nb",
        "a\tb",
        "a\\b",
        "héllo wörld",
        "\u{7}",
        "2024-01-01",
        "12:30",
        "https://example.com/a#b",
        "/var/lib",
        "<<",
        "a.b",
        "kubernetes.io/name",
        "x: y",
        "...",
        "---",
        "=",
    ];
    // Each string as a key and as a value.
    let mut defaults: serde_json::Map<String, Value> =
        strings.iter().map(|s| (s.to_string(), json!(s))).collect();
    for (key, value) in [
        ("float", json!(1.5)),
        ("whole_float", json!(2.0)),
        ("big", json!(u64::MAX)),
        ("negative", json!(-3)),
        ("bool", json!(true)),
        ("null", Value::Null),
    ] {
        defaults.insert(key.to_owned(), value);
    }
    check(
        json!(true),
        Value::Object(defaults),
        expect![[r#"
            server:
              "on": "on"

              "yes": "yes"

              "No": "No"

              "OFF": "OFF"

              "y": "y"

              "n": "n"

              "true": "true"

              "null": null

              "~": "~"

              "": ""

              "1.0": "1.0"

              "0777": "0777"

              "12": "12"

              "1e3": "1e3"

              ".5": ".5"

              ".inf": ".inf"

              "-1": "-1"

              "- item": "- item"

              "a: b": "a: b"

              "a #b": "a #b"

              "key:": "key:"

              "*alias": "*alias"

              "&anchor": "&anchor"

              "!tag": "!tag"

              "%x": "%x"

              "@x": "@x"

              "'q'": "'q'"

              "\"q\"": "\"q\""

              "{x}": "{x}"

              "[x]": "[x]"

              "|": "|"

              " padded ": " padded "

              "a\nb": "a\nb"

              "a\tb": "a\tb"

              a\b: a\b

              héllo wörld: héllo wörld

              "\u0007": "\u0007"

              "2024-01-01": "2024-01-01"

              "12:30": "12:30"

              https://example.com/a#b: https://example.com/a#b

              /var/lib: /var/lib

              "<<": "<<"

              a.b: a.b

              kubernetes.io/name: kubernetes.io/name

              "x: y": "x: y"

              "...": "..."

              "---": "---"

              "=": "="

              float: 1.5

              whole_float: 2.0

              big: 18446744073709551615

              negative: -3

              bool: true
        "#]],
    );
}
