//! Property tests of the readers users feed: arbitrary `--set`, `--set-json`, `--set-file`
//! arguments and values files never panic, and what they accept survives merge, validation and
//! a round trip through the documented YAML. `PROPTEST_CASES=100000` runs a longer search than
//! the default 256 cases (see the README's tests section).

use proptest::prelude::*;
use serde_json::json;

use crate::{Layer, Section, SetKind, documented_yaml, merge, read_text, validate};

/// Text of the characters that matter to a reader, and any character now and then.
fn text_of(alphabet: &'static [char], max: usize) -> impl Strategy<Value = String> {
    let char = prop_oneof![9 => proptest::sample::select(alphabet), 1 => any::<char>()];
    proptest::collection::vec(char, 0..max).prop_map(|chars| chars.into_iter().collect())
}

const SET: &[char] =
    &['a', 'b', '.', '=', '[', ']', '{', '}', ',', '\\', '0', '1', '9', '"', ':', ' ', '-', 'n'];

const YAML: &[char] = &[
    'a', 'b', ':', ' ', ' ', '-', '\n', '\n', '[', ']', '{', '}', ',', '&', '*', '<', '\'', '"',
    '?', '!', '#', '|', '>', '1', '~', '%', '@', '\t', '.',
];

fn sections() -> [Section; 2] {
    [
        Section { name: "a".to_owned(), schema: json!({"type": "object"}) },
        Section {
            name: "b".to_owned(),
            schema: json!({
                "type": "object",
                "properties": { "n": { "type": "integer" }, "l": { "type": "array" } },
                "additionalProperties": false,
            }),
        },
    ]
}

proptest! {
    #[test]
    fn set_arguments_never_panic(arg in text_of(SET, 40)) {
        let layers = [
            Layer::from_set(&arg, SetKind::Typed),
            Layer::from_set(&arg, SetKind::String),
            Layer::from_set_json(&arg),
            Layer::from_set_file(&arg, |path| Ok(path.to_owned())),
        ];
        for layer in layers {
            match layer {
                Ok(layer) => {
                    let values = merge(&[layer.clone(), layer]);
                    validate(&values, &sections());
                }
                Err(err) => prop_assert!(err.to_string().starts_with("--set"), "{err}"),
            }
        }
    }

    #[test]
    fn values_files_never_panic_and_round_trip(text in text_of(YAML, 60)) {
        if let Ok(layer) = Layer::from_yaml_str(&text, "x.yaml") {
            let values = merge(&[layer]);
            validate(&values, &sections());
            let yaml = documented_yaml("a", &json!(true), values.tree());
            let again = Layer::from_yaml_str(&yaml, "again.yaml");
            prop_assert!(again.is_ok(), "{text:?} wrote {yaml}");
            let again = again.unwrap();
            prop_assert_eq!(again.tree(), &json!({ "a": values.tree() }));
        }
    }

    #[test]
    fn files_then_flags_merge_in_order(
        text in text_of(YAML, 40),
        arg in text_of(SET, 30),
    ) {
        let file = Layer::from_yaml_str(&text, "x.yaml");
        let flag = Layer::from_set(&arg, SetKind::Typed);
        if let (Ok(file), Ok(flag)) = (file, flag) {
            validate(&merge(&[file, flag]), &sections());
        }
    }

    #[test]
    fn any_bytes_read_or_say_why(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        match read_text(&bytes[..]) {
            Ok(text) => prop_assert_eq!(text.as_bytes(), &bytes[..]),
            Err(err) => prop_assert!(err.to_string().contains("UTF-")),
        }
    }
}
