//! Plugins' JSON Schemas: every keyword enforced with the usual messages (a plugin whose
//! hand-written schema uses `$defs` and `$ref`, `pattern`, `format`, `required` and
//! `writeOnly`), and `values --schema` as standard validators read it (the `jsonschema` crate,
//! and Python's `jsonschema`, which editors' language servers follow).

use std::path::PathBuf;

use expect_test::expect;
use serde_json::{Value, json};

use crate::harness::{TempDir, prefectctl, prefectctl_in};

/// The first-party plugins.
// tidy: every plugin
const PLUGINS: [&str; 8] = [
    "agent",
    "postgres",
    "redis",
    "metrics",
    "network-policy",
    "openshift-security",
    "dask-rbac",
    "server",
];

/// An executable plugin, `contacts`, that adds nothing; what matters is its schema.
fn contacts_plugin(dir: &TempDir) -> PathBuf {
    let manifest = json!({
        "name": "contacts",
        "version": "1.0.0",
        "protocolVersion": 1,
        "description": "who to call about the release",
        "valuesSchema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "contact": {
                    "type": "object",
                    "properties": {
                        "name": { "type": "string", "description": "Their name." },
                        "email": { "type": "string", "format": "email", "description": "Their address." }
                    },
                    "required": ["email"],
                    "additionalProperties": false
                },
                "duration": { "type": "string", "pattern": "^[0-9]+(s|m|h)$" }
            },
            "properties": {
                "team": { "type": "string", "pattern": "^[a-z][a-z0-9-]*$", "description": "The team." },
                "owner": { "$ref": "#/$defs/contact", "description": "Who owns the release." },
                "oncall": { "type": "array", "items": { "$ref": "#/$defs/contact" }, "default": [] },
                "interval": { "$ref": "#/$defs/duration", "default": "30s" },
                "webhook": { "type": "string", "format": "uri", "writeOnly": true }
            },
            "required": ["team"],
            "additionalProperties": false
        },
        "valuesDefaults": { "oncall": [], "interval": "30s" }
    });
    let response = json!({ "apiVersion": "prefectctl.io/v1", "kind": "ResourceList", "items": [] });
    dir.write_executable(
        "prefectctl-plugin-contacts",
        &format!(
            "#!/bin/sh\nif [ \"$1\" = manifest ]; then cat <<'EOF'\n{manifest}\nEOF\nexit 0; fi\ncat >/dev/null\necho '{response}'\n"
        ),
    )
}

#[test]
fn a_plugins_schema_is_enforced_keyword_by_keyword() {
    let dir = TempDir::new("schemas");
    let plugin = contacts_plugin(&dir);
    let plugin = plugin.to_str().unwrap();
    dir.write(
        "values.yaml",
        "contacts:
  team: Data Platform
  owner:
    name: Ada
    emial: ada@example.com
  oncall:
    - name: Bob
    - email: not-an-address
  interval: 5 minutes
  webhook: hooks.example.com/t0ps3cret
",
    );
    let run = prefectctl_in(dir.path(), &["--plugin", plugin, "-f", "values.yaml", "render"]);
    let stderr = run.fails(2);
    assert!(!stderr.contains("t0ps3cret"), "a secret was shown:\n{stderr}");
    expect![[r#"
        error: values.yaml:2: contacts.team: expected text matching `^[a-z][a-z0-9-]*$`, found "Data Platform"
        error: values.yaml:5: contacts.owner.emial: unknown key (did you mean `email`?)
        error: values.yaml:7: contacts.oncall[0]: missing `email`
        error: values.yaml:8: contacts.oncall[1].email: expected text in the `email` format, found "not-an-address"
        error: values.yaml:9: contacts.interval: expected text matching `^[0-9]+(s|m|h)$`, found "5 minutes"
        error: values.yaml:10: contacts.webhook: expected text in the `uri` format, found string (the value is secret, so it is not shown)
    "#]]
    .assert_eq(&stderr);

    // A required key without a default must be given, even with no section at all.
    let stderr = prefectctl_in(dir.path(), &["--plugin", plugin, "render"]).fails(2);
    expect![[r#"
        error: contacts: missing `team`
    "#]]
    .assert_eq(&stderr);

    dir.write(
        "good.yaml",
        "contacts:\n  team: data\n  owner: {email: ada@example.com}\n  interval: 5m\n  webhook: https://hooks.example.com/x\n",
    );
    prefectctl_in(dir.path(), &["--plugin", plugin, "-f", "good.yaml", "render"]).ok();
}

#[test]
fn a_first_party_pattern_is_enforced() {
    let args = ["--plugin", "metrics", "--set", "metrics.serviceMonitor.interval=often", "render"];
    expect![[r#"
        error: --set metrics.serviceMonitor.interval: metrics.serviceMonitor.interval: expected text matching `^([0-9]+(ms|s|m|h|d|w|y))+$`, found "often"
    "#]]
    .assert_eq(&prefectctl(&args).fails(2));
}

/// Every `$ref` in `schema`, with where it is.
fn references(schema: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => out.push((at.to_owned(), target.clone())),
                    ("default" | "const" | "enum" | "examples", _) => {}
                    _ => references(value, &format!("{at}/{key}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                references(item, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// `values --schema` of every plugin and `contacts`, what `values` prints (every default, with
/// the one value that has none), and those values with two mistakes.
struct Composed {
    dir: TempDir,
    schema: Value,
    defaults: Value,
    wrong: Value,
}

fn composed() -> Composed {
    let dir = TempDir::new("values-schema");
    let plugin = contacts_plugin(&dir);
    let mut args: Vec<&str> = vec!["--plugin", plugin.to_str().unwrap()];
    for plugin in PLUGINS {
        args.extend(["--plugin", plugin]);
    }
    let text = prefectctl(&[&args[..], &["values", "--schema"]].concat()).ok();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let mut defaults: Value =
        serde_saphyr::from_str(&prefectctl(&[&args[..], &["values"]].concat()).ok()).unwrap();
    let global: Value = serde_saphyr::from_str(&prefectctl(&["values"]).ok()).unwrap();
    defaults["global"] = global["global"].clone();
    defaults["contacts"]["team"] = json!("data");
    let mut wrong = defaults.clone();
    wrong["contacts"]["oncall"] = json!([{ "name": "Bob" }]);
    wrong["metrics"]["serviceMonitor"]["interval"] = json!("often");
    Composed { dir, schema, defaults, wrong }
}

#[test]
fn values_schema_is_valid_2020_12_and_every_reference_resolves() {
    let Composed { schema, defaults, wrong, .. } = composed();
    if let Err(err) = jsonschema::meta::validate(&schema) {
        panic!("not a valid 2020-12 schema: {err} at {}", err.instance_path());
    }
    let mut refs = Vec::new();
    references(&schema, "", &mut refs);
    assert_eq!(refs.len(), 3, "the contacts plugin's: {refs:?}");
    for (at, target) in &refs {
        let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("{at}: {target}"));
        assert!(schema.pointer(pointer).is_some(), "{at}: {target} does not resolve");
    }
    let validator = jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .build(&schema)
        .expect("every reference resolves, offline");

    let errors: Vec<String> = validator
        .iter_errors(&defaults)
        .map(|e| format!("{}: {}", e.instance_path(), e.masked()))
        .collect();
    assert_eq!(errors, Vec::<String>::new());
    let mut errors: Vec<String> = validator
        .iter_errors(&wrong)
        .map(|e| format!("{} {}", e.instance_path(), e.kind().keyword()))
        .collect();
    errors.sort();
    assert_eq!(errors, ["/contacts/oncall/0 required", "/metrics/serviceMonitor/interval pattern"]);
}

/// Python's `jsonschema` (the reference implementation, which editors' language servers
/// follow), in a virtualenv of its own: the schema passes the metaschema, the defaults are
/// valid and the wrong values are wrong in the same places.
#[test]
fn values_schema_is_read_alike_by_pythons_jsonschema() {
    if !crate::tier::runs(&[crate::tier::Tier::Python]) {
        return;
    }
    let Composed { dir, schema, defaults, wrong } = composed();
    const PACKAGES: &[&str] = &[
        "jsonschema==4.26.0",
        "jsonschema-specifications==2025.9.1",
        "referencing==0.37.0",
        "rpds-py==2026.9.1",
        "attrs==26.1.0",
    ];
    let venv = match kubelet_stand_in::python::tool("jsonschema-4.26.0", PACKAGES) {
        Ok(root) => root,
        Err(err) => panic!("Python's jsonschema could not be installed from PyPI: {err:#}"),
    };
    dir.write("schema.json", &schema.to_string());
    dir.write("good.json", &defaults.to_string());
    dir.write("wrong.json", &wrong.to_string());
    let script = "
import json
from jsonschema import Draft202012Validator
schema = json.load(open('schema.json'))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
for name in ['good', 'wrong']:
    for error in sorted(validator.iter_errors(json.load(open(name + '.json'))), key=lambda e: e.json_path):
        print(name, error.json_path, error.validator)
";
    let out = std::process::Command::new(venv.join("bin/python"))
        .args(["-c", script])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    expect![[r#"
        wrong $.contacts.oncall[0] required
        wrong $.metrics.serviceMonitor.interval pattern
    "#]]
    .assert_eq(&String::from_utf8_lossy(&out.stdout));
}
