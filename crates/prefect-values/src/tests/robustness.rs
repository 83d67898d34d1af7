//! Odd input never panics: every short string over the characters that matter is tried.

use expect_test::expect;
use serde_json::json;

use crate::{Layer, Section, SetKind, documented_yaml, merge, validate};

/// Every string of up to `max_len` characters of `alphabet`.
fn all_strings(alphabet: &[char], max_len: usize) -> Vec<String> {
    let mut all = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..max_len {
        last = last.iter().flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}"))).collect();
        all.extend(last.iter().cloned());
    }
    all
}

#[test]
fn set_never_panics() {
    let sections = [Section { name: "a".to_owned(), schema: json!({"type": "object"}) }];
    for arg in all_strings(&['a', '.', '=', '[', ']', '{', '}', ',', '\\', '1'], 5) {
        for kind in [SetKind::Typed, SetKind::String] {
            if let Ok(layer) = Layer::from_set(&arg, kind) {
                validate(&merge(&[layer]), &sections);
            }
        }
        let others =
            [Layer::from_set_json(&arg), Layer::from_set_file(&arg, |path| Ok(path.to_owned()))];
        for layer in others.into_iter().flatten() {
            validate(&merge(&[layer]), &sections);
        }
    }
}

#[test]
fn yaml_never_panics() {
    let alphabet = ['a', ':', ' ', '-', '\n', '[', '{', ',', '&', '*', '<', '\'', '?'];
    let sections = [Section { name: "a".to_owned(), schema: json!({"type": "object"}) }];
    for text in all_strings(&alphabet, 4) {
        if let Ok(layer) = Layer::from_yaml_str(&text, "x.yaml") {
            let values = merge(&[layer]);
            validate(&values, &sections);
            let yaml = documented_yaml("a", &json!(true), values.tree());
            let again = Layer::from_yaml_str(&yaml, "again.yaml").unwrap();
            assert_eq!(again.tree(), &json!({ "a": values.tree() }), "{text:?}\n{yaml}");
        }
    }
}

/// The first line of the error `layer` is, or what it holds.
fn outcome(layer: crate::Result<Layer>) -> String {
    match layer {
        Ok(layer) => format!("ok: {} values", layer.origins().count()),
        Err(err) => format!("error: {err}"),
    }
}

#[test]
fn limits_of_depth_and_size() {
    let long_key = format!("{}=1", vec!["a"; 20_000].join("."));
    let indexes = format!("a{}=1", "[65536]".repeat(30));
    let wide = format!("a{}=1", "[60000]".repeat(20));
    let one_long_segment = format!("{}=1", "k".repeat(5000));
    let deepest_allowed = format!("{}=1", vec!["a"; 100].join("."));
    let deep_json = format!("a={}{}", "[".repeat(10_000), "]".repeat(10_000));
    let results = [
        outcome(Layer::from_set(&long_key, SetKind::Typed)),
        outcome(Layer::from_set(&indexes, SetKind::String)),
        outcome(Layer::from_set(&wide, SetKind::Typed)),
        outcome(Layer::from_set(&one_long_segment, SetKind::Typed)),
        outcome(Layer::from_set(&deepest_allowed, SetKind::Typed)),
        outcome(Layer::from_set_json(&deep_json)),
        outcome(Layer::from_set_file(&long_key, |_| Ok(String::new()))),
    ];
    expect![[r#"
        error: --set a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.…: the key has more than 100 levels (keys and list indexes), the most values may nest: check the key (use --set KEY=VALUE)
        error: --set-string a[65536][65536][65536][65536][65536][65536][65536]: the list indexes of this flag make too many items (each index makes the items before it too): use smaller indexes, or give long lists in a values file
        error: --set a[60000][60000][60000][60000][60000][60000][60000]: the list indexes of this flag make too many items (each index makes the items before it too): use smaller indexes, or give long lists in a values file
        error: --set kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk…: the key is longer than 4096 characters: check the key (use --set KEY=VALUE)
        ok: 100 values
        error: --set-json a=…: invalid JSON after "=": recursion limit exceeded at line 1 column 128 (quote text as JSON does: KEY='"text"')
        error: --set-file a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.…: the key has more than 100 levels (keys and list indexes), the most values may nest: check the key (use --set-file KEY=PATH)"#]].assert_eq(&results.join("\n"));

    let deep_flow = format!("a: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let deep_block: String =
        (0..150).map(|depth| format!("{}k{depth}:\n", "  ".repeat(depth))).collect();
    let mut aliases = String::from("a0: &a0 [[[[[[[[[[1]]]]]]]]]]\n");
    for n in 1..30 {
        aliases.push_str(&format!("a{n}: &a{n} [[[[[[[[[[*a{}]]]]]]]]]]\n", n - 1));
    }
    let laughs: String =
        std::iter::once("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n".to_owned())
            .chain((1..9).map(|n| {
                format!("l{n}: &l{n} [{}]\n", vec![format!("*l{}", n - 1); 10].join(", "))
            }))
            .collect();
    let results: Vec<String> = [deep_flow, deep_block, aliases, laughs]
        .iter()
        .map(|text| outcome(Layer::from_yaml_str(text, "values.yaml")))
        .collect();
    expect![[r#"
        error: values.yaml:1:259: invalid YAML: recursion limit exceeded
        error: values.yaml:101: values nest more than 100 levels deep here, the most they may: is it the file you meant?
        error: values.yaml:10: values nest more than 100 levels deep here, the most they may: is it the file you meant?
        error: values.yaml:5: the file makes more than 100000 values (an alias counts every value it copies): use fewer aliases, or is it the file you meant?"#]].assert_eq(&results.join("\n"));
}
