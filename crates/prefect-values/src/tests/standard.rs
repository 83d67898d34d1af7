//! The keywords past [`crate::schema`]'s own rules (`pattern`, `format`, `required`, `$ref`
//! into `$defs`, `patternProperties`), as a third-party plugin's schema uses them: each with
//! the message users read.

use expect_test::{Expect, expect};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::{Layer, Section, ValuePath, merge, schema, standard, validate, values_file_schema};

/// A plugin's schema written by hand, with definitions it refers to.
fn labels_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "duration": { "type": "string", "pattern": "^[0-9]+(s|m|h)$" },
            "contact": {
                "type": "object",
                "properties": {
                    "name": { "type": "string" },
                    "email": { "type": "string", "format": "email" }
                },
                "required": ["email"],
                "additionalProperties": false
            },
            "token": { "type": "string", "pattern": "^tok_", "writeOnly": true }
        },
        "properties": {
            "team": { "type": "string", "minLength": 1 },
            "interval": { "$ref": "#/$defs/duration", "default": "30s" },
            "owner": { "$ref": "#/$defs/contact" },
            "contacts": { "type": "array", "items": { "$ref": "#/$defs/contact" } },
            "token": { "$ref": "#/$defs/token" },
            "site": { "type": "string", "format": "uri" },
            "image": {
                "type": "object",
                "properties": { "repository": { "type": "string" }, "tag": { "type": "string" } },
                "required": ["repository", "tag"],
                "additionalProperties": false,
                "default": { "repository": "prefecthq/prefect", "tag": "3" }
            },
            "labels": {
                "type": "object",
                "patternProperties": { "^[a-z]+$": { "type": "string" } },
                "additionalProperties": false
            }
        },
        "required": ["team"],
        "additionalProperties": false
    })
}

fn sections() -> Vec<Section> {
    vec![Section { name: "labels".to_owned(), schema: labels_schema() }]
}

/// Every problem of a values file, one a line.
fn check(yaml: &str, expect: Expect) {
    let values = merge(&[Layer::from_yaml_str(yaml, "values.yaml").unwrap()]);
    let lines: Vec<String> = validate(&values, &sections()).iter().map(|p| p.to_string()).collect();
    expect.assert_eq(&lines.join("\n"));
}

#[test]
fn valid_values_through_references() {
    check(
        "
labels:
  team: data
  interval: 5m
  owner: {name: Ada, email: ada@example.com}
  contacts: [{email: bob@example.com}]
  token: tok_123
  site: https://example.com/team
  image: {tag: '3.1'}
  labels: {cost: '42'}
",
        expect![""],
    );
}

#[test]
fn patterns_and_formats() {
    check(
        "labels:\n  team: data\n  interval: 5 minutes\n  site: not a uri\n  owner: {email: nobody}\n",
        expect![[r#"
            values.yaml:3: labels.interval: expected text matching `^[0-9]+(s|m|h)$`, found "5 minutes"
            values.yaml:4: labels.site: expected text in the `uri` format, found "not a uri"
            values.yaml:5: labels.owner.email: expected text in the `email` format, found "nobody""#]],
    );
}

#[test]
fn required_keys_count_their_defaults_as_given() {
    // `team` has no default: the user must set it, even with no `labels:` at all.
    check("labels:\n  interval: 1h\n", expect!["values.yaml:1: labels: missing `team`"]);
    check("{}\n", expect!["labels: missing `team`"]);
    // `image` has a default with both keys; a user `null` removes one.
    check("labels:\n  team: data\n  image: {tag: '3.1'}\n", expect![""]);
    check(
        "labels:\n  team: data\n  image:\n    repository: null\n",
        expect!["values.yaml:3: labels.image: missing `repository`"],
    );
    // A mapping of the user's own, in a list or not, must have its required keys.
    check(
        "labels:\n  team: data\n  owner: {name: Ada}\n  contacts:\n    - name: Bob\n",
        expect![[r#"
            values.yaml:3: labels.owner: missing `email`
            values.yaml:5: labels.contacts[0]: missing `email`"#]],
    );
}

#[test]
fn references_keep_the_usual_messages() {
    check(
        "labels:\n  team: data\n  interval: 5\n  owner: {emial: ada@example.com}\n",
        expect![[r#"
            values.yaml:3: labels.interval: expected string, found integer 5
            values.yaml:4: labels.owner.emial: unknown key (did you mean `email`?)"#]],
    );
}

#[test]
fn keys_that_must_match_a_pattern() {
    check(
        "labels:\n  team: data\n  labels: {Cost: '42', team: 7}\n",
        expect![[r#"
            values.yaml:3: labels.labels.Cost: unknown key (a key must match `^[a-z]+$`)
            values.yaml:3: labels.labels.team: expected string, found integer 7"#]],
    );
}

#[test]
fn null_still_removes_a_default() {
    check("labels:\n  team: data\n  interval: null\n  contacts: [null]\n", expect![""]);
}

#[test]
fn secrets_are_never_shown() {
    let values = "labels:\n  team: data\n  token: hunter2-secret\n";
    check(
        values,
        expect![
            "values.yaml:3: labels.token: expected text matching `^tok_`, found string (the value is secret, so it is not shown)"
        ],
    );
}

#[test]
fn what_the_defaults_alone_get_wrong_is_not_the_users() {
    let sections = [Section {
        name: "p".to_owned(),
        schema: json!({
            "type": "object",
            "properties": { "interval": { "type": "string", "pattern": "^[0-9]+s$", "default": "soon" } }
        }),
    }];
    let problems = |yaml: &str| -> Vec<String> {
        let values = merge(&[Layer::from_yaml_str(yaml, "values.yaml").unwrap()]);
        validate(&values, &sections).iter().map(|p| p.to_string()).collect()
    };
    assert_eq!(problems("p: {}\n"), Vec::<String>::new());
    assert_eq!(
        problems("p:\n  interval: later\n"),
        [r#"values.yaml:2: p.interval: expected text matching `^[0-9]+s$`, found "later""#]
    );
}

#[test]
fn a_schema_that_cannot_be_used_is_an_error() {
    let sections = [
        Section { name: "dangling".to_owned(), schema: json!({ "$ref": "#/$defs/missing" }) },
        Section { name: "regex".to_owned(), schema: json!({ "pattern": "([a-z]" }) },
        Section { name: "none".to_owned(), schema: Value::Null },
    ];
    let values = merge(&[Layer::from_yaml_str("none: 1\nregex: x\n", "values.yaml").unwrap()]);
    let problems: Vec<String> =
        validate(&values, &sections).iter().map(|p| p.to_string()).collect();
    expect![[r#"
        values.yaml:2: regex: the plugin's values schema cannot be used (at /pattern: value is not a "regex"), so these values cannot be checked: tell the plugin's authors
        dangling: the plugin's values schema cannot be used (Pointer '/$defs/missing' does not exist), so these values cannot be checked: tell the plugin's authors"#]]
    .assert_eq(&problems.join("\n"));
}

#[test]
fn the_values_file_schema_is_valid_and_its_references_resolve() {
    let sections = [
        Section {
            name: "global".to_owned(),
            schema: json!({ "type": "object", "properties": { "namespace": { "type": "string" } } }),
        },
        Section { name: "labels".to_owned(), schema: labels_schema() },
    ];
    let document = values_file_schema(&sections);
    jsonschema::meta::validate(&document).expect("a valid draft 2020-12 schema");
    assert_eq!(document["properties"]["labels"].get("$schema"), None);
    assert_eq!(
        document["properties"]["labels"]["properties"]["owner"]["$ref"],
        "#/properties/labels/$defs/contact"
    );
    // Compiling resolves every reference, offline.
    let validator = jsonschema::options().offline().build(&document).expect("references resolve");
    let good = json!({ "labels": { "team": "data", "owner": { "email": "ada@example.com" } } });
    assert!(validator.is_valid(&good));
    let bad = json!({ "labels": { "team": "data", "interval": "soon", "owner": {} } });
    let mut errors: Vec<String> = validator
        .iter_errors(&bad)
        .map(|e| format!("{} {}", e.instance_path(), e.kind().keyword()))
        .collect();
    errors.sort();
    assert_eq!(errors, ["/labels/interval pattern", "/labels/owner required"]);
}

/// Any value of the shapes `server_schema` describes, right and wrong (no `null`, which the
/// rules accept everywhere, and integers within the formats' ranges, which only they check).
fn server_values() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        (-2i64..70_000).prop_map(Value::from),
        proptest::sample::select(vec![0.5, 1.5, 2.0]).prop_map(Value::from),
        proptest::sample::select(vec![
            "",
            "a",
            "Always",
            "ifnotpresent",
            "debug",
            "30s",
            "prefect-server",
            "12345678",
        ])
        .prop_map(Value::from),
    ];
    let keys = proptest::sample::select(vec![
        "replicas",
        "port",
        "cpu",
        "name",
        "debug",
        "image",
        "repository",
        "tag",
        "pullPolicy",
        "ingress",
        "host",
        "tls",
        "logLevel",
        "timeout",
        "args",
        "annotations",
        "tolerations",
        "key",
        "effect",
        "extra",
        "never",
        "password",
        "credentials",
        "token",
        "x",
    ]);
    let tree = leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(keys.clone(), inner, 0..4).prop_map(|map| {
                Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    });
    tree.prop_map(|value| match value {
        Value::Object(_) => value,
        other => json!({ "replicas": other }),
    })
}

proptest! {
    /// Where the rules cover a schema, the complete check is not compiled: they must agree on
    /// what is valid.
    #[test]
    fn the_rules_agree_with_the_complete_check_where_they_cover_the_schema(value in server_values()) {
        let schema = super::validate::server_schema();
        prop_assert!(schema::covers(&schema));
        let mut found = Vec::new();
        schema::check(&value, &schema, &ValuePath::root(), &mut found);
        let valid = standard::compile(&schema).unwrap().is_valid(&value);
        prop_assert_eq!(found.is_empty(), valid, "{} {:?}", value, found);
    }
}

#[test]
fn alternatives_say_what_the_closest_one_wants() {
    let sections = [Section {
        name: "p".to_owned(),
        schema: json!({
            "type": "object",
            "properties": {
                "schedule": {
                    "anyOf": [
                        { "type": "string", "pattern": "^@(hourly|daily)$" },
                        { "type": "object", "properties": { "cron": { "type": "string" } }, "required": ["cron"] }
                    ]
                }
            }
        }),
    }];
    let problems = |yaml: &str| -> Vec<String> {
        let values = merge(&[Layer::from_yaml_str(yaml, "values.yaml").unwrap()]);
        validate(&values, &sections).iter().map(|p| p.to_string()).collect()
    };
    assert_eq!(
        problems("p:\n  schedule: '@weekly'\n"),
        [
            r#"values.yaml:2: p.schedule: expected text matching `^@(hourly|daily)$`, found "@weekly""#
        ]
    );
    assert_eq!(problems("p:\n  schedule: {}\n"), ["values.yaml:2: p.schedule: missing `cron`"]);
    assert_eq!(problems("p:\n  schedule: {cron: '0 * * * *'}\n"), Vec::<String>::new());
}
