//! `--set` and `--set-string`: every form of Helm's syntax, and its errors.

use expect_test::{Expect, expect};

use crate::{Layer, SetKind};

fn check(arg: &str, expect: Expect) {
    check_kind(arg, SetKind::Typed, expect);
}

fn check_string(arg: &str, expect: Expect) {
    check_kind(arg, SetKind::String, expect);
}

fn check_kind(arg: &str, kind: SetKind, expect: Expect) {
    let actual = match Layer::from_set(arg, kind) {
        Ok(layer) => layer.tree().to_string(),
        Err(error) => format!("error: {error}"),
    };
    expect.assert_eq(&actual);
}

/// The origin of each path the flag sets.
fn check_origins(arg: &str, expect: Expect) {
    let layer = Layer::from_set(arg, SetKind::Typed).unwrap();
    let lines: Vec<String> =
        layer.origins().map(|(path, origin)| format!("{path} <- {origin}")).collect();
    expect.assert_eq(&lines.join("\n"));
}

#[test]
fn keys() {
    check("a=b", expect![[r#"{"a":"b"}"#]]);
    check("a.b.c=d", expect![[r#"{"a":{"b":{"c":"d"}}}"#]]);
    check("a=1,b=2", expect![[r#"{"a":1,"b":2}"#]]);
    check("a.b=1,a.c=2", expect![[r#"{"a":{"b":1,"c":2}}"#]]);
    check("a=1,a=2", expect![[r#"{"a":2}"#]]);
    check("a=1,a.b=2", expect![[r#"{"a":{"b":2}}"#]]);
    check("a.b=2,a=1", expect![[r#"{"a":1}"#]]);
    check("a=1,", expect![[r#"{"a":1}"#]]);
    check("name with spaces=x", expect![[r#"{"name with spaces":"x"}"#]]);
}

#[test]
fn escapes() {
    check(r"a=x\,y", expect![[r#"{"a":"x,y"}"#]]);
    check(
        r"annotations.kubernetes\.io/ingress\.class=nginx",
        expect![[r#"{"annotations":{"kubernetes.io/ingress.class":"nginx"}}"#]],
    );
    check(r"a\=b=c", expect![[r#"{"a=b":"c"}"#]]);
    check(r"a=x\\y", expect![[r#"{"a":"x\\y"}"#]]);
    check(r"a=x\", expect![[r#"{"a":"x\\"}"#]]);
    check("a=b=c", expect![[r#"{"a":"b=c"}"#]]);
    check("a=x.y[0]", expect![[r#"{"a":"x.y[0]"}"#]]);
}

#[test]
fn typed_values() {
    check(
        "a=true,b=FALSE,c=null,d=0,e=42,f=-7,g=+3,h=0777,i=1.5,j=1e3,k=yes,l=,m=9223372036854775808",
        expect![[
            r#"{"a":true,"b":false,"c":null,"d":0,"e":42,"f":-7,"g":3,"h":"0777","i":"1.5","j":"1e3","k":"yes","l":"","m":"9223372036854775808"}"#
        ]],
    );
    check_string(
        "a=true,b=null,c=42,d={1,x}",
        expect![[r#"{"a":"true","b":"null","c":"42","d":["1","x"]}"#]],
    );
}

#[test]
fn lists() {
    check("a[0]=x", expect![[r#"{"a":["x"]}"#]]);
    check("a[2]=x", expect![[r#"{"a":[null,null,"x"]}"#]]);
    check("a[1].b=y", expect![[r#"{"a":[null,{"b":"y"}]}"#]]);
    check("a[0].b=1,a[0].c=2", expect![[r#"{"a":[{"b":1,"c":2}]}"#]]);
    check("a[0][1]=x", expect![[r#"{"a":[[null,"x"]]}"#]]);
    check("a.b[0].c[1]=x", expect![[r#"{"a":{"b":[{"c":[null,"x"]}]}}"#]]);
    check("a={x,y,z}", expect![[r#"{"a":["x","y","z"]}"#]]);
    check("a={1,true,null}", expect![[r#"{"a":[1,true,null]}"#]]);
    check("a={}", expect![[r#"{"a":[]}"#]]);
    check("a={x},b=1", expect![[r#"{"a":["x"],"b":1}"#]]);
    check(r"a={x\,y,z}", expect![[r#"{"a":["x,y","z"]}"#]]);
    check("a={x,y},a[1]=w", expect![[r#"{"a":["x","w"]}"#]]);
    check("a[3]=x,a[1]=y", expect![[r#"{"a":[null,"y",null,"x"]}"#]]);
}

#[test]
fn errors() {
    check(
        "server.replicas",
        expect![[r#"error: --set server.replicas: missing "=" (use --set KEY=VALUE)"#]],
    );
    check_string(
        "server.replicas",
        expect![[
            r#"error: --set-string server.replicas: missing "=" (use --set-string KEY=VALUE)"#
        ]],
    );
    check("a=1,b", expect![[r#"error: --set b: missing "=" after "b" (use --set KEY=VALUE)"#]]);
    check("a,b=1", expect![[r#"error: --set a: missing "=" after "a" (use --set KEY=VALUE)"#]]);
    check("a[0]", expect![[r#"error: --set a[0]: missing "=" (use --set KEY=VALUE)"#]]);
    check("", expect![[r#"error: --set "": empty argument (use --set KEY=VALUE)"#]]);
    check("=1", expect![[r#"error: --set =: empty key in "=" (use --set KEY=VALUE)"#]]);
    check(
        "a..b=1",
        expect![[
            r#"error: --set a..: empty key in "a.." (separate keys with one dot; escape a dot inside a key as \.)"#
        ]],
    );
    check(
        "a.=1",
        expect![[
            r#"error: --set a.: empty key in "a.=" (separate keys with one dot; escape a dot inside a key as \.)"#
        ]],
    );
    check("[0]=1", expect![[r#"error: --set [: empty key in "[" (use --set KEY=VALUE)"#]]);
    check(
        "a[0=1",
        expect![[
            r#"error: --set a[0=1: unclosed "[" in "a[0=1" (write a list index as KEY[0]=VALUE)"#
        ]],
    );
    check(
        "a[x]=1",
        expect![[
            r#"error: --set a[x]: bad list index "x" in "a[x]" (use a number such as KEY[0]=VALUE)"#
        ]],
    );
    check(
        "a[-1]=1",
        expect![[
            r#"error: --set a[-1]: bad list index "-1" in "a[-1]" (use a number such as KEY[0]=VALUE)"#
        ]],
    );
    check(
        "a[]=1",
        expect![[
            r#"error: --set a[]: bad list index "" in "a[]" (use a number such as KEY[0]=VALUE)"#
        ]],
    );
    check(
        "a[0]b=1",
        expect![[
            r#"error: --set a[0]b: unexpected "b" after "a[0]" (use KEY[0]=VALUE or KEY[0].NAME=VALUE)"#
        ]],
    );
    check(
        "a[70000]=1",
        expect![
            "error: --set a[70000]: list index 70000 is too large (at most 65536); set the whole list with KEY={A,B} or use a values file"
        ],
    );
    check(
        "a={x,y",
        expect![[r#"error: --set a=…: unclosed "{" in a list value (write a list as KEY={A,B})"#]],
    );
    check(
        "a={x}y",
        expect![[
            r#"error: --set a=…: unexpected "y" after the list's "}" (separate assignments with ",")"#
        ]],
    );
}

#[test]
fn origins() {
    check_origins(
        "a.b=1,c[1].d=x",
        expect![[r#"
            a <- --set a.b
            a.b <- --set a.b
            c <- --set c[1].d
            c[0] <- --set c[1].d
            c[1] <- --set c[1].d
            c[1].d <- --set c[1].d"#]],
    );
    // A later assignment that replaces a mapping forgets the origins of its old keys.
    check_origins(
        "a.b=1,a={x,y}",
        expect![[r#"
            a <- --set a
            a[0] <- --set a
            a[1] <- --set a"#]],
    );
}

fn check_json(arg: &str, expect: Expect) {
    let actual = match Layer::from_set_json(arg) {
        Ok(layer) => {
            let mut lines = vec![layer.tree().to_string()];
            lines.extend(layer.origins().map(|(path, origin)| format!("{path} <- {origin}")));
            lines.join("\n")
        }
        Err(error) => format!("error: {error}"),
    };
    expect.assert_eq(&actual);
}

#[test]
fn json_values() {
    check_json(
        r#"a.b={"c":[1,2.5,"x",null,true]}"#,
        expect![[r#"
            {"a":{"b":{"c":[1,2.5,"x",null,true]}}}
            a <- --set-json a.b
            a.b <- --set-json a.b"#]],
    );
    check_json(
        r#"a=1,d=,e"#,
        expect![[r#"error: --set-json e: missing "=" after "e" (use --set-json KEY=JSON)"#]],
    );
    // Blanks after a value are skipped; an empty value is null, as in Helm.
    check_json(
        r#"a=1 ,b=[],c= "x,y",d="#,
        expect![[r#"
            {"a":1,"b":[],"c":"x,y","d":null}
            a <- --set-json a
            b <- --set-json b
            c <- --set-json c
            d <- --set-json d"#]],
    );
    check_json(
        r#"list[1]={"name":"x"},annotations.kubernetes\.io/x="y""#,
        expect![[r#"
            {"list":[null,{"name":"x"}],"annotations":{"kubernetes.io/x":"y"}}
            annotations <- --set-json annotations.kubernetes\.io/x
            annotations["kubernetes.io/x"] <- --set-json annotations.kubernetes\.io/x
            list <- --set-json list[1]
            list[0] <- --set-json list[1]
            list[1] <- --set-json list[1]"#]],
    );
    // A JSON object as the whole argument merges at the top, as in Helm 3.18.
    check_json(
        r#" {"server": {"replicaCount": 2, "args": ["a"]}} "#,
        expect![[r#"
            {"server":{"replicaCount":2,"args":["a"]}}
            server <- --set-json {…}
            server.args <- --set-json {…}
            server.args[0] <- --set-json {…}
            server.replicaCount <- --set-json {…}"#]],
    );
}

#[test]
fn json_errors_say_where() {
    check_json(
        "server.image.tag=3.1.0",
        expect![[
            r#"error: --set-json server.image.tag=…: invalid JSON after "=": trailing characters at line 1 column 4 (quote text as JSON does: KEY='"text"')"#
        ]],
    );
    check_json(
        "server.image.tag=latest",
        expect![[
            r#"error: --set-json server.image.tag=…: invalid JSON after "=": expected value at line 1 column 1 (quote text as JSON does: KEY='"text"')"#
        ]],
    );
    check_json(
        r#"a={"b": 1,}"#,
        expect![[
            r#"error: --set-json a=…: invalid JSON after "=": trailing comma at line 1 column 9 (quote text as JSON does: KEY='"text"')"#
        ]],
    );
    check_json(
        r#"a=[1] b=2"#,
        expect![[
            r#"error: --set-json a=…: unexpected "b" after the JSON value (separate assignments with ",")"#
        ]],
    );
    check_json(
        "{\"server\":\n  {\"replicaCount\": 2,}}",
        expect![[
            r#"error: --set-json {…}: invalid JSON object: trailing comma at line 2 column 22 (give one JSON object, or use --set-json KEY=JSON)"#
        ]],
    );
    check_json("", expect![[r#"error: --set-json "": empty argument (use --set-json KEY=JSON)"#]]);
}

fn check_file(arg: &str, expect: Expect) {
    let read = |path: &str| match path {
        "template.json" => Ok("{\"variables\": {}}\n".to_owned()),
        "a,b.txt" => Ok("comma".to_owned()),
        _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    };
    let actual = match Layer::from_set_file(arg, read) {
        Ok(layer) => {
            let mut lines = vec![layer.tree().to_string()];
            lines.extend(layer.origins().map(|(path, origin)| format!("{path} <- {origin}")));
            lines.join("\n")
        }
        Err(error) => format!("error: {error}"),
    };
    expect.assert_eq(&actual);
}

#[test]
fn file_values() {
    check_file(
        "agent.config.baseJobTemplate.configuration=template.json",
        expect![[r#"
            {"agent":{"config":{"baseJobTemplate":{"configuration":"{\"variables\": {}}\n"}}}}
            agent <- --set-file agent.config.baseJobTemplate.configuration
            agent.config <- --set-file agent.config.baseJobTemplate.configuration
            agent.config.baseJobTemplate <- --set-file agent.config.baseJobTemplate.configuration
            agent.config.baseJobTemplate.configuration <- --set-file agent.config.baseJobTemplate.configuration"#]],
    );
    check_file(
        r"a=template.json,b[0]=a\,b.txt",
        expect![[r#"
            {"a":"{\"variables\": {}}\n","b":["comma"]}
            a <- --set-file a
            b <- --set-file b[0]
            b[0] <- --set-file b[0]"#]],
    );
    check_file(
        "a.b=missing.json",
        expect![[
            r#"error: --set-file a.b: cannot read "missing.json": entity not found (check the path after "=")"#
        ]],
    );
    check_file("a=", expect![[r#"error: --set-file a=…: empty path (use --set-file KEY=PATH)"#]]);
    check_file("a", expect![[r#"error: --set-file a: missing "=" (use --set-file KEY=PATH)"#]]);
}
