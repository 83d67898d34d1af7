//! YAML 1.1 booleans in values files: read as Helm reads them where a boolean is expected, with
//! a warning; kept as strings elsewhere.

use expect_test::{Expect, expect};
use serde_json::json;

use crate::{Layer, Section, SetKind, merge, read_yaml11_booleans, validate};

/// The values after reading YAML 1.1 booleans, then the warnings, then validation's problems.
fn check(layers: Vec<Layer>, expect: Expect) {
    let schema = json!({
        "type": "object",
        "properties": {
            "enabled": { "type": "boolean" },
            "debug": { "anyOf": [{ "type": "boolean" }, { "type": "null" }] },
            "tag": { "type": "string" },
            "either": { "type": ["boolean", "string"] },
            "extra": true,
            "flags": { "type": "array", "items": { "type": "boolean" } },
            "ingress": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": { "tls": { "type": "boolean" } },
                        "additionalProperties": false
                    },
                    { "type": "null" }
                ]
            },
            "labels": { "type": "object", "additionalProperties": { "type": "boolean" } }
        },
        "additionalProperties": false
    });
    let sections = [Section { name: "server".to_owned(), schema }];
    let mut values = merge(&layers);
    let warnings = read_yaml11_booleans(&mut values, &sections);
    let mut lines = vec![values.tree().to_string()];
    lines.extend(warnings.iter().map(|w| format!("warning: {w}")));
    lines.extend(validate(&values, &sections).iter().map(|p| format!("problem: {p}")));
    expect.assert_eq(&lines.join("\n"));
}

fn file(text: &str) -> Layer {
    Layer::from_yaml_str(text, "values.yaml").unwrap()
}

#[test]
fn booleans_where_the_schema_expects_one() {
    check(
        vec![file(
            "server:\n  enabled: yes\n  debug: Off\n  flags: [y, N, true]\n  ingress:\n    tls: ON\n  labels:\n    a: no\n",
        )],
        expect![[r#"
            {"server":{"enabled":true,"debug":false,"flags":[true,false,true],"ingress":{"tls":true},"labels":{"a":false}}}
            warning: values.yaml:3: server.debug: read `Off` as false, as Helm (YAML 1.1) does; write `false` (YAML 1.2 reads `Off` as a string)
            warning: values.yaml:2: server.enabled: read `yes` as true, as Helm (YAML 1.1) does; write `true` (YAML 1.2 reads `yes` as a string)
            warning: values.yaml:4: server.flags[0]: read `y` as true, as Helm (YAML 1.1) does; write `true` (YAML 1.2 reads `y` as a string)
            warning: values.yaml:4: server.flags[1]: read `N` as false, as Helm (YAML 1.1) does; write `false` (YAML 1.2 reads `N` as a string)
            warning: values.yaml:6: server.ingress.tls: read `ON` as true, as Helm (YAML 1.1) does; write `true` (YAML 1.2 reads `ON` as a string)
            warning: values.yaml:8: server.labels.a: read `no` as false, as Helm (YAML 1.1) does; write `false` (YAML 1.2 reads `no` as a string)"#]],
    );
}

#[test]
fn strings_stay_strings() {
    // Where a string is accepted, anything goes, or the key is unknown, the string is kept;
    // so is a quoted or tagged `yes`, a form YAML 1.1 does not know, and a `--set` value.
    check(
        vec![
            file(
                "server:\n  tag: yes\n  either: on\n  extra: {a: off}\n  unknown: no\n  debug: 'yes'\n  flags: [!!str n, yEs]\n",
            ),
            Layer::from_set("server.enabled=yes", SetKind::Typed).unwrap(),
        ],
        expect![[r#"
            {"server":{"tag":"yes","either":"on","extra":{"a":"off"},"unknown":"no","debug":"yes","flags":["n","yEs"],"enabled":"yes"}}
            problem: values.yaml:5: server.unknown: unknown key (keys are `enabled`, `debug`, `tag`, `either`, `extra`, `flags`, `ingress`, `labels`)
            problem: values.yaml:6: server.debug: expected boolean, found string "yes"
            problem: values.yaml:7: server.flags[0]: expected boolean, found string "n"
            problem: values.yaml:7: server.flags[1]: expected boolean, found string "yEs"
            problem: --set server.enabled: server.enabled: expected boolean, found string "yes""#]],
    );
}

#[test]
fn a_later_layer_decides() {
    // A later file's quoted "on" replaces an earlier plain `yes`; a later plain `off` replaces
    // an earlier quoted string.
    check(
        vec![
            file("server:\n  enabled: yes\n  debug: 'x'\n"),
            file("server:\n  enabled: 'on'\n  debug: off\n"),
        ],
        expect![[r#"
            {"server":{"enabled":"on","debug":false}}
            warning: values.yaml:3: server.debug: read `off` as false, as Helm (YAML 1.1) does; write `false` (YAML 1.2 reads `off` as a string)
            problem: values.yaml:2: server.enabled: expected boolean, found string "on""#]],
    );
}
