//! Merging layers: later wins, mappings merge deeply, and each value keeps its origin.

use expect_test::{Expect, expect};

use crate::{Layer, SetKind, ValuePath, merge};

/// A layer per source: `-f NAME` with YAML after a newline, or `--set ARG`/`--set-string ARG`.
fn layer(source: &str) -> Layer {
    if let Some(arg) = source.strip_prefix("--set-string ") {
        Layer::from_set(arg, SetKind::String).unwrap()
    } else if let Some(arg) = source.strip_prefix("--set ") {
        Layer::from_set(arg, SetKind::Typed).unwrap()
    } else {
        let (name, text) = source.split_once('\n').unwrap();
        Layer::from_yaml_str(text, name.trim_start_matches("-f ")).unwrap()
    }
}

/// The merged values as JSON, then the origin of every path of the tree.
fn check(sources: &[&str], expect: Expect) {
    let values = merge(&sources.iter().map(|s| layer(s)).collect::<Vec<_>>());
    let mut lines = vec![values.tree().to_string()];
    walk(values.tree(), &ValuePath::root(), &mut |path| {
        let origin = values.origin(path).map_or("none".to_owned(), |o| o.to_string());
        lines.push(format!("{path} <- {origin}"));
    });
    expect.assert_eq(&lines.join("\n"));
}

fn walk(value: &serde_json::Value, path: &ValuePath, f: &mut dyn FnMut(&ValuePath)) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                let child_path = path.key(key);
                f(&child_path);
                walk(child, &child_path, f);
            }
        }
        serde_json::Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let child_path = path.index(index);
                f(&child_path);
                walk(child, &child_path, f);
            }
        }
        _ => {}
    }
}

#[test]
fn later_files_win_and_mappings_merge() {
    check(
        &[
            "-f base.yaml\nserver:\n  replicas: 1\n  image:\n    tag: '3'\n    pullPolicy: Always\n",
            "-f prod.yaml\nserver:\n  image:\n    tag: '3.1'\nagent:\n  enabled: true\n",
        ],
        expect![[r#"
            {"server":{"replicas":1,"image":{"tag":"3.1","pullPolicy":"Always"}},"agent":{"enabled":true}}
            server <- prod.yaml:1
            server.replicas <- base.yaml:2
            server.image <- prod.yaml:2
            server.image.tag <- prod.yaml:3
            server.image.pullPolicy <- base.yaml:5
            agent <- prod.yaml:4
            agent.enabled <- prod.yaml:5"#]],
    );
}

#[test]
fn sequences_and_scalars_replace() {
    check(
        &[
            "-f a.yaml\nserver:\n  args: [a, b, c]\n  env: {A: '1'}\n",
            "-f b.yaml\nserver:\n  args: [d]\n  env: none\n",
        ],
        expect![[r#"
            {"server":{"args":["d"],"env":"none"}}
            server <- b.yaml:1
            server.args <- b.yaml:2
            server.args[0] <- b.yaml:2
            server.env <- b.yaml:3"#]],
    );
    // A mapping over a scalar replaces it too.
    check(
        &["-f a.yaml\nserver: off\n", "--set server.replicas=2"],
        expect![[r#"
            {"server":{"replicas":2}}
            server <- --set server.replicas
            server.replicas <- --set server.replicas"#]],
    );
}

#[test]
fn flags_after_files() {
    check(
        &[
            "-f values.yaml\nserver:\n  replicas: 1\n  tolerations:\n    - key: a\n",
            "--set server.replicas=abc",
            "--set server.tolerations[1].key=b",
            "--set-string server.image.tag=3.10",
        ],
        expect![[r#"
            {"server":{"replicas":"abc","tolerations":[{"key":"a"},{"key":"b"}],"image":{"tag":"3.10"}}}
            server <- --set-string server.image.tag
            server.replicas <- --set server.replicas
            server.tolerations <- --set server.tolerations[1].key
            server.tolerations[0] <- values.yaml:4
            server.tolerations[0].key <- values.yaml:4
            server.tolerations[1] <- --set server.tolerations[1].key
            server.tolerations[1].key <- --set server.tolerations[1].key
            server.image <- --set-string server.image.tag
            server.image.tag <- --set-string server.image.tag"#]],
    );
}

/// Helm applies each `--set` to the values so far: two flags build one list item, and an
/// index changes the item a file gave instead of replacing the list.
#[test]
fn flags_edit_lists_item_by_item() {
    check(
        &[
            "-f values.yaml\nenv:\n  - {name: A, value: a}\n  - {name: B, value: b}\n",
            "--set env[1].value=changed",
            "--set env[2].name=C",
            "--set env[2].value=c",
        ],
        expect![[r#"
            {"env":[{"name":"A","value":"a"},{"name":"B","value":"changed"},{"name":"C","value":"c"}]}
            env <- --set env[2].value
            env[0] <- values.yaml:2
            env[0].name <- values.yaml:2
            env[0].value <- values.yaml:2
            env[1] <- --set env[1].value
            env[1].name <- values.yaml:3
            env[1].value <- --set env[1].value
            env[2] <- --set env[2].value
            env[2].name <- --set env[2].name
            env[2].value <- --set env[2].value"#]],
    );
    // A whole list, `{...}`, still replaces.
    check(
        &["-f values.yaml\nargs: [a, b, c]\n", "--set args={x}"],
        expect![[r#"
            {"args":["x"]}
            args <- --set args
            args[0] <- --set args"#]],
    );
}

#[test]
fn null_is_kept_to_remove_defaults() {
    check(
        &[
            "-f values.yaml\nserver:\n  securityContext:\n    runAsUser: 1000\n",
            "--set server.securityContext.runAsUser=null",
        ],
        expect![[r#"
            {"server":{"securityContext":{"runAsUser":null}}}
            server <- --set server.securityContext.runAsUser
            server.securityContext <- --set server.securityContext.runAsUser
            server.securityContext.runAsUser <- --set server.securityContext.runAsUser"#]],
    );
}

#[test]
fn aliased_values_take_the_alias_origin() {
    let values = merge(&[layer("-f a.yaml\nbase: &b {x: {y: 1}}\nserver: *b\n")]);
    let path = ValuePath::root().key("server").key("x").key("y");
    expect!["a.yaml:2"].assert_eq(&values.origin(&path).unwrap().to_string());
}

#[test]
fn recorded_values_are_a_layer_that_new_flags_override() {
    let recorded = Layer::recorded(
        serde_json::json!({ "server": { "replicaCount": 2, "env": [{ "name": "A" }] } }),
        "release prefect revision 3",
    );
    let flag = Layer::from_set("server.replicaCount=3", SetKind::Typed).unwrap();
    let values = merge(&[recorded, flag]);
    assert_eq!(values.tree()["server"]["replicaCount"], 3);
    let origin = |path: ValuePath| values.origin(&path).map(ToString::to_string);
    let server = ValuePath::root().key("server");
    assert_eq!(origin(server.key("replicaCount")).as_deref(), Some("--set server.replicaCount"));
    assert_eq!(
        origin(server.key("env").index(0).key("name")).as_deref(),
        Some("release prefect revision 3")
    );
}
