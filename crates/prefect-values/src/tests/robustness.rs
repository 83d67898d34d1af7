//! Odd input never panics: every short string over the characters that matter is tried.

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
