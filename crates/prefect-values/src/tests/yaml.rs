//! Values files: YAML 1.2 scalars, the line of every key and item, and errors.

use expect_test::{Expect, expect};

use crate::{Layer, Origin};

/// The values as JSON, then each path with the line it came from.
fn check(text: &str, expect: Expect) {
    let actual = match Layer::from_yaml_str(text, "values.yaml") {
        Ok(layer) => {
            let mut lines = vec![layer.tree().to_string()];
            for (path, origin) in layer.origins() {
                match origin {
                    Origin::File { path: file, line } if file == "values.yaml" => {
                        lines.push(format!("{path} @ {line}"));
                    }
                    other => lines.push(format!("{path} @ {other}")),
                }
            }
            lines.join("\n")
        }
        Err(error) => format!("error: {error}"),
    };
    expect.assert_eq(&actual);
}

#[test]
fn nested_mappings() {
    check(
        "
server:
  replicas: 2
  image:
    repository: prefecthq/prefect   # a comment
    tag: \"3.1\"

global: {}
",
        expect![[r#"
            {"server":{"replicas":2,"image":{"repository":"prefecthq/prefect","tag":"3.1"}},"global":{}}
            global @ 8
            server @ 2
            server.image @ 4
            server.image.repository @ 5
            server.image.tag @ 6
            server.replicas @ 3"#]],
    );
}

#[test]
fn sequences() {
    check(
        "
server:
  tolerations:
    - key: a
      effect: NoSchedule
    -   key: b
  args:
  - --debug
  -
    - nested
",
        expect![[r#"
            {"server":{"tolerations":[{"key":"a","effect":"NoSchedule"},{"key":"b"}],"args":["--debug",["nested"]]}}
            server @ 2
            server.args @ 7
            server.args[0] @ 8
            server.args[1] @ 10
            server.args[1][0] @ 10
            server.tolerations @ 3
            server.tolerations[0] @ 4
            server.tolerations[0].effect @ 5
            server.tolerations[0].key @ 4
            server.tolerations[1] @ 6
            server.tolerations[1].key @ 6"#]],
    );
}

#[test]
fn flow_style() {
    check(
        "server: {replicas: 2, args: [a, b,
  c], env: {A: '1'}}
",
        expect![[r#"
            {"server":{"replicas":2,"args":["a","b","c"],"env":{"A":"1"}}}
            server @ 1
            server.args @ 1
            server.args[0] @ 1
            server.args[1] @ 1
            server.args[2] @ 2
            server.env @ 2
            server.env.A @ 2
            server.replicas @ 1"#]],
    );
}

#[test]
fn scalars() {
    check(
        "
a: on
b: yes
c: No
d: true
e: ~
f: null
g:
h: 0777
i: 1.0
j: -12
k: '12'
l: !!str 12
m: |
  line one
  line two
n: >-
  folded
  text
o: 0x1F
p: 1e3
",
        expect![[r#"
            {"a":"on","b":"yes","c":"No","d":true,"e":null,"f":null,"g":null,"h":777,"i":1.0,"j":-12,"k":"12","l":"12","m":"line one\nline two\n","n":"folded text","o":31,"p":1000.0}
            a @ 2
            b @ 3
            c @ 4
            d @ 5
            e @ 6
            f @ 7
            g @ 8
            h @ 9
            i @ 10
            j @ 11
            k @ 12
            l @ 13
            m @ 14
            n @ 17
            o @ 20
            p @ 21"#]],
    );
}

#[test]
fn empty_and_top_level() {
    check("", expect!["{}"]);
    check("# only a comment\n", expect!["{}"]);
    check("---\n", expect!["{}"]);
    check(
        "- a\n- b\n",
        expect![
            "error: values.yaml:1: the top level must be a mapping of sections such as `server:`, found list"
        ],
    );
    check(
        "just text\n",
        expect![[
            r#"error: values.yaml:1: the top level must be a mapping of sections such as `server:`, found string "just text""#
        ]],
    );
    check(
        "---\na: 1\n---\nb: 2\n",
        expect![
            "error: values.yaml:3: a values file holds one YAML document; move the others to files of their own"
        ],
    );
}

#[test]
fn keys() {
    check(
        "1: one\ntrue: yes\n\"a.b\": x\n",
        expect![[r#"
        {"1":"one","true":"yes","a.b":"x"}
        ["1"] @ 1
        ["a.b"] @ 3
        true @ 2"#]],
    );
    check(
        "a: 1\nb: 2\na: 3\n",
        expect!["error: values.yaml:3: key `a` is repeated (first on line 1); keep one of them"],
    );
    check(
        "? [a, b]\n: x\n",
        expect![
            "error: values.yaml:1: keys must be strings; a mapping, a sequence or an alias cannot be a key"
        ],
    );
    check(": x\n", expect!["error: values.yaml:1: empty key; write a key before `:`"]);
}

#[test]
fn anchors_and_merge_keys() {
    check(
        "
base: &base
  image: prefect
  replicas: 1
server:
  <<: *base
  replicas: 3
agent:
  replicas: 2
  <<: [*base, {extra: true}]
list: &list [1, 2]
again: *list
",
        expect![[r#"
            {"base":{"image":"prefect","replicas":1},"server":{"replicas":3,"image":"prefect"},"agent":{"replicas":2,"image":"prefect","extra":true},"list":[1,2],"again":[1,2]}
            again @ 12
            agent @ 8
            agent.extra @ 10
            agent.image @ 10
            agent.replicas @ 9
            base @ 2
            base.image @ 3
            base.replicas @ 4
            list @ 11
            list[0] @ 11
            list[1] @ 11
            server @ 5
            server.image @ 6
            server.replicas @ 7"#]],
    );
    check(
        "a: &a [*a]\n",
        expect!["error: values.yaml:1: an alias cannot refer to a value that contains it"],
    );
    check(
        "a:\n  <<: 1\n",
        expect!["error: values.yaml:2: a `<<` merge key takes a mapping or a list of mappings"],
    );
}

#[test]
fn syntax_errors() {
    check(
        "server:\n  replicas: 2\n bad: 3\n",
        expect![
            "error: values.yaml:3:2: invalid YAML: while parsing a block mapping, did not find expected key"
        ],
    );
    check("a: [1, 2\n", expect!["error: values.yaml:1:4: invalid YAML: unclosed bracket '['"]);
    check("a: 'unterminated\n", expect!["error: values.yaml:1:4: invalid YAML: unclosed quote"]);
    check(
        "a: *nowhere\n",
        expect!["error: values.yaml:1:4: invalid YAML: while parsing node, found unknown anchor"],
    );
    check(
        "a: .inf\n",
        expect![
            "error: values.yaml:1: .inf cannot be a value (JSON has no infinity or NaN); quote it to keep it as text"
        ],
    );
}

#[test]
fn file_errors() {
    let error = Layer::from_yaml_file("/nonexistent/values.yaml").unwrap_err();
    expect![[r#"cannot read values file /nonexistent/values.yaml: No such file or directory (os error 2) (check the path given to -f/--values)"#]]
    .assert_eq(&error.to_string());
    let error = Layer::from_yaml_file("/").unwrap_err();
    expect!["cannot read values file /: Is a directory (os error 21) (give a file, not a folder)"]
        .assert_eq(&error.to_string());
}
