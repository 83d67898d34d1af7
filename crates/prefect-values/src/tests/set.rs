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
