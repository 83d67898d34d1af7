//! Validation: every rule with its exact message, and all problems at once.

use expect_test::{Expect, expect};
use serde_json::{Value, json};

use crate::{Layer, Section, SetKind, Severity, merge, validate};

/// A schema shaped like `schemars` 1.x output (`inline_subschemas`) for a server section.
pub(super) fn server_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ServerValues",
        "type": "object",
        "properties": {
            "replicas": { "description": "Number of replicas.", "type": "integer", "format": "uint32", "minimum": 0 },
            "port": { "type": "integer", "format": "uint16", "minimum": 1, "maximum": 65535 },
            "cpu": { "type": "number", "exclusiveMinimum": 0 },
            "name": { "type": "string", "minLength": 1, "maxLength": 10 },
            "debug": { "type": "boolean" },
            "image": {
                "type": "object",
                "properties": {
                    "repository": { "type": "string" },
                    "tag": { "type": ["string", "null"] },
                    "pullPolicy": { "type": "string", "enum": ["Always", "IfNotPresent", "Never"] }
                },
                "additionalProperties": false
            },
            "ingress": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {
                            "host": { "type": "string" },
                            "tls": { "type": "boolean" }
                        },
                        "additionalProperties": false
                    },
                    { "type": "null" }
                ]
            },
            "logLevel": {
                "oneOf": [
                    { "type": "string", "const": "debug", "description": "Everything." },
                    { "type": "string", "const": "info", "description": "Less." }
                ]
            },
            "timeout": { "anyOf": [{ "type": "integer" }, { "type": "string" }] },
            "args": { "type": "array", "items": { "type": "string" }, "maxItems": 3 },
            "annotations": { "type": "object", "additionalProperties": { "type": "string" } },
            "tolerations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": { "key": { "type": "string" }, "effect": { "type": "string" } },
                    "additionalProperties": false
                }
            },
            "extra": true,
            "never": false,
            "password": { "type": "string", "minLength": 8, "writeOnly": true },
            "credentials": {
                "type": "object",
                "properties": { "token": { "type": "string" } },
                "additionalProperties": false,
                "writeOnly": true
            }
        },
        "additionalProperties": false
    })
}

fn sections() -> Vec<Section> {
    vec![
        Section {
            name: "global".to_owned(),
            schema: json!({
                "type": "object",
                "properties": { "namespace": { "type": "string" } },
                "additionalProperties": false
            }),
        },
        Section { name: "server".to_owned(), schema: server_schema() },
        Section { name: "agent".to_owned(), schema: json!(true) },
    ]
}

/// Every problem of a values file, one a line.
fn check(yaml: &str, expect: Expect) {
    let layer = Layer::from_yaml_str(yaml, "values.yaml").unwrap();
    check_layers(vec![layer], expect);
}

/// Every problem of some `--set` flags, one a line.
fn check_set(args: &[&str], expect: Expect) {
    let layers = args.iter().map(|arg| Layer::from_set(arg, SetKind::Typed).unwrap()).collect();
    check_layers(layers, expect);
}

fn check_layers(layers: Vec<Layer>, expect: Expect) {
    let problems = validate(&merge(&layers), &sections());
    let lines: Vec<String> = problems
        .iter()
        .map(|problem| {
            let severity = match problem.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            format!("{severity}: {problem}")
        })
        .collect();
    expect.assert_eq(&lines.join("\n"));
}

#[test]
fn valid_values() {
    check(
        "
global:
  namespace: prefect
server:
  replicas: 2
  port: 4200
  cpu: 0.5
  name: prefect
  debug: false
  image: {repository: prefecthq/prefect, tag: null, pullPolicy: IfNotPresent}
  ingress: {host: example.com, tls: true}
  logLevel: info
  timeout: 30s
  args: [--debug]
  annotations: {kubernetes.io/ingress.class: nginx}
  tolerations: [{key: a, effect: NoSchedule}]
  extra: {anything: [1, 2]}
agent: {whatever: 1}
",
        expect![[""]],
    );
}

#[test]
fn null_is_accepted_everywhere() {
    check(
        "server:\n  replicas: null\n  image: ~\n  ingress: null\n  args: [null]\n  never: null\n",
        expect![[""]],
    );
}

#[test]
fn unknown_sections() {
    check(
        "serer:\n  replicas: 1\n",
        expect!["error: values.yaml:1: serer: unknown section (did you mean `server`?)"],
    );
    check(
        "Server: {}\n",
        expect!["error: values.yaml:1: Server: unknown section (did you mean `server`?)"],
    );
    check(
        "database:\n  host: x\n",
        expect![
            "warning: values.yaml:1: database: unknown section (sections are `global`, `server`, `agent`; add --plugin NAME to use another plugin's section)"
        ],
    );
    let problems =
        validate(&merge(&[Layer::from_set("ui.enabled=true", SetKind::Typed).unwrap()]), &[]);
    expect!["--set ui.enabled: ui: unknown section (add --plugin NAME to use a plugin's section)"]
        .assert_eq(&problems[0].to_string());
}

#[test]
fn prefect_helm_sections_are_errors_that_name_values_import() {
    check(
        "worker:\n  config:\n    workPool: k8s\n",
        expect![
            "error: values.yaml:1: worker: `worker` is a section of prefect-helm's values, not prefectctl's (here: agent): convert the file with `prefectctl values import --from-helm FILE`"
        ],
    );
    check(
        "postgresql:\n  enabled: true\n",
        expect![
            "error: values.yaml:1: postgresql: `postgresql` is a section of prefect-helm's values, not prefectctl's (here: postgres (--plugin postgres)): convert the file with `prefectctl values import --from-helm FILE`"
        ],
    );
}

#[test]
fn unknown_keys() {
    check(
        "server:\n  ingres: {}\n",
        expect!["error: values.yaml:2: server.ingres: unknown key (did you mean `ingress`?)"],
    );
    check(
        "server:\n  image:\n    pullpolicy: Always\n",
        expect![
            "error: values.yaml:3: server.image.pullpolicy: unknown key (did you mean `pullPolicy`?)"
        ],
    );
    check(
        "server:\n  image:\n    digest: sha256:abc\n",
        expect![
            "error: values.yaml:3: server.image.digest: unknown key (keys are `repository`, `tag`, `pullPolicy`)"
        ],
    );
    check(
        "server:\n  ingress:\n    hots: example.com\n",
        expect!["error: values.yaml:3: server.ingress.hots: unknown key (did you mean `host`?)"],
    );
    check(
        "server:\n  tolerations:\n    - key: a\n      efect: NoSchedule\n",
        expect![
            "error: values.yaml:4: server.tolerations[0].efect: unknown key (did you mean `effect`?)"
        ],
    );
}

#[test]
fn wrong_types() {
    check_set(
        &["server.replicas=abc"],
        expect![[
            r#"error: --set server.replicas: server.replicas: expected integer, found string "abc""#
        ]],
    );
    check(
        "server:\n  replicas: 1.5\n",
        expect!["error: values.yaml:2: server.replicas: expected integer, found number 1.5"],
    );
    check("server:\n  replicas: 2.0\n", expect![[""]]);
    check("server:\n  cpu: 1\n", expect![[""]]);
    check(
        "server:\n  debug: yes\n",
        expect![[r#"error: values.yaml:2: server.debug: expected boolean, found string "yes""#]],
    );
    check(
        "server:\n  name: 12\n",
        expect!["error: values.yaml:2: server.name: expected string, found integer 12"],
    );
    check(
        "server:\n  image: prefecthq/prefect:3\n",
        expect![[
            r#"error: values.yaml:2: server.image: expected mapping, found string "prefecthq/prefect:3""#
        ]],
    );
    check(
        "server:\n  args: --debug\n",
        expect![[r#"error: values.yaml:2: server.args: expected list, found string "--debug""#]],
    );
    check(
        "server:\n  args: [1, true]\n",
        expect![[r#"
        error: values.yaml:2: server.args[0]: expected string, found integer 1
        error: values.yaml:2: server.args[1]: expected string, found boolean true"#]],
    );
    check(
        "server:\n  image:\n    tag: [3]\n",
        expect!["error: values.yaml:3: server.image.tag: expected string, found list"],
    );
    check(
        "server:\n  ingress: example.com\n",
        expect![[
            r#"error: values.yaml:2: server.ingress: expected mapping, found string "example.com""#
        ]],
    );
    check(
        "server:\n  timeout: [1]\n",
        expect!["error: values.yaml:2: server.timeout: expected integer or string, found list"],
    );
    check(
        "server:\n  annotations: {a: 1}\n",
        expect!["error: values.yaml:2: server.annotations.a: expected string, found integer 1"],
    );
    check(
        "server: 3\n",
        expect!["error: values.yaml:1: server: expected mapping, found integer 3"],
    );
    check(
        "server:\n  never: 1\n",
        expect!["error: values.yaml:2: server.never: no value is allowed here"],
    );
    check(
        "server:\n  name: this is a very long string that goes on and on and on and on\n",
        expect![[
            r#"error: values.yaml:2: server.name: expected at most 10 characters, found "this is a very long string that goes..." (60 characters)"#
        ]],
    );
}

#[test]
fn bad_enum_values() {
    check(
        "server:\n  image:\n    pullPolicy: Sometimes\n",
        expect![[
            r#"error: values.yaml:3: server.image.pullPolicy: expected one of "Always", "IfNotPresent", "Never", found "Sometimes""#
        ]],
    );
    check(
        "server:\n  image:\n    pullPolicy: ifnotpresent\n",
        expect![[
            r#"error: values.yaml:3: server.image.pullPolicy: expected one of "Always", "IfNotPresent", "Never", found "ifnotpresent" (did you mean "IfNotPresent"?)"#
        ]],
    );
    check(
        "server:\n  image:\n    pullPolicy: Alway\n",
        expect![[
            r#"error: values.yaml:3: server.image.pullPolicy: expected one of "Always", "IfNotPresent", "Never", found "Alway" (did you mean "Always"?)"#
        ]],
    );
    check(
        "server:\n  logLevel: Debug\n",
        expect![[
            r#"error: values.yaml:2: server.logLevel: expected one of "debug", "info", found "Debug" (did you mean "debug"?)"#
        ]],
    );
    check(
        "server:\n  logLevel: warning\n",
        expect![[
            r#"error: values.yaml:2: server.logLevel: expected one of "debug", "info", found "warning""#
        ]],
    );
}

#[test]
fn bounds() {
    check(
        "server:\n  replicas: -1\n",
        expect!["error: values.yaml:2: server.replicas: expected at least 0, found -1"],
    );
    check(
        "server:\n  replicas: 5000000000\n",
        expect![
            "error: values.yaml:2: server.replicas: expected at most 4294967295, found 5000000000"
        ],
    );
    check(
        "server:\n  port: 0\n",
        expect!["error: values.yaml:2: server.port: expected at least 1, found 0"],
    );
    check(
        "server:\n  port: 70000\n",
        expect!["error: values.yaml:2: server.port: expected at most 65535, found 70000"],
    );
    check(
        "server:\n  cpu: 0\n",
        expect!["error: values.yaml:2: server.cpu: expected more than 0, found 0"],
    );
    check(
        "server:\n  name: ''\n",
        expect![[r#"error: values.yaml:2: server.name: expected at least 1 character, found """#]],
    );
    check(
        "server:\n  name: prefect-server\n",
        expect![[
            r#"error: values.yaml:2: server.name: expected at most 10 characters, found "prefect-server""#
        ]],
    );
    check(
        "server:\n  args: [a, b, c, d]\n",
        expect!["error: values.yaml:2: server.args: expected at most 3 items, found 4"],
    );
}

#[test]
fn all_problems_at_once() {
    check(
        "
serer: {}
database: {}
global:
  namespace: 1
server:
  replicas: abc
  ingres: {}
  image:
    pullPolicy: sometimes
    tag: 3
  tolerations:
    - key: 1
    - effect: 2
      extra: x
",
        expect![[r#"
            error: values.yaml:2: serer: unknown section (did you mean `server`?)
            warning: values.yaml:3: database: unknown section (sections are `global`, `server`, `agent`; add --plugin NAME to use another plugin's section)
            error: values.yaml:5: global.namespace: expected string, found integer 1
            error: values.yaml:7: server.replicas: expected integer, found string "abc"
            error: values.yaml:8: server.ingres: unknown key (did you mean `ingress`?)
            error: values.yaml:10: server.image.pullPolicy: expected one of "Always", "IfNotPresent", "Never", found "sometimes"
            error: values.yaml:11: server.image.tag: expected string, found integer 3
            error: values.yaml:13: server.tolerations[0].key: expected string, found integer 1
            error: values.yaml:14: server.tolerations[1].effect: expected string, found integer 2
            error: values.yaml:15: server.tolerations[1].extra: unknown key (keys are `key`, `effect`)"#]],
    );
}

#[test]
fn origins_of_problems() {
    // The last layer to set a value is blamed; flags show their whole argument.
    check_layers(
        vec![
            Layer::from_yaml_str("server:\n  replicas: 1\n  port: 80\n", "prod.yaml").unwrap(),
            Layer::from_set("server.replicas=abc,server.port=0", SetKind::Typed).unwrap(),
            Layer::from_set("server.debug=on", SetKind::String).unwrap(),
        ],
        expect![[r#"
            error: --set server.replicas: server.replicas: expected integer, found string "abc"
            error: --set server.port: server.port: expected at least 1, found 0
            error: --set-string server.debug: server.debug: expected boolean, found string "on""#]],
    );
    // Values copied by a YAML alias take the alias's line.
    check(
        "base: &b {tag: [1]}\nserver:\n  image: *b\n",
        expect![[r#"
        warning: values.yaml:1: base: unknown section (sections are `global`, `server`, `agent`; add --plugin NAME to use another plugin's section)
        error: values.yaml:3: server.image.tag: expected string, found list"#]],
    );
}

#[test]
fn secrets_are_never_shown() {
    check_set(
        &[
            "server.password=12345678",
            "server.credentials.tokn=hunter2",
            "server.credentials.token=1",
        ],
        expect![[r#"
            error: --set server.password: server.password: expected string, found integer (the value is secret, so it is not shown)
            error: --set server.credentials.tokn: server.credentials.tokn: unknown key (did you mean `token`?)
            error: --set server.credentials.token: server.credentials: not a valid value here (the value is secret, so it is not shown): see `prefectctl values` for its form"#]],
    );
    check(
        "server:\n  password: hunter2\n",
        expect![
            "error: values.yaml:2: server.password: not a valid value here (the value is secret, so it is not shown): see `prefectctl values` for its form"
        ],
    );
}
