//! Writing the rendered graph: a YAML stream `kubectl apply -f -` reads, or one JSON `v1/List`.
//!
//! YAML is written by serde-saphyr, which quotes strings that YAML 1.1 readers (kubectl) would
//! otherwise read as booleans or numbers (`"on"`, `"yes"`, `"0777"`).

use std::fmt::Write as _;

use anyhow::{Context as _, Result};
use prefect_manifest::Graph;
use serde_json::{Value, json};

/// The resources as a multi-document YAML stream, each document headed by a comment saying
/// which plugin added it and which changed it.
pub fn yaml_stream(graph: &Graph) -> Result<String> {
    let mut out = String::new();
    for (key, object) in graph.ordered() {
        out.push_str("---\n");
        if let Some(provenance) = graph.provenance(key) {
            out.push_str(&format!("# Source: {provenance}\n"));
        }
        let yaml = serde_saphyr::to_string_with_options(object, yaml_options())
            .with_context(|| format!("could not write {key} as YAML"))?;
        out.push_str(&yaml);
        if !yaml.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Long one-line strings (URLs, commands) stay on one line rather than folded (`>-`), which
/// some readers and many people misread; strings with line breaks are literal blocks (`|`).
pub fn yaml_options() -> serde_saphyr::SerializerOptions {
    serde_saphyr::ser_options! { folded_wrap_chars: usize::MAX }
}

/// The resources as one `v1/List`, pretty-printed.
pub fn json_list(graph: &Graph) -> Result<String> {
    let items: Vec<Value> = graph.ordered().into_iter().map(|(_, object)| object.clone()).collect();
    let list = json!({ "apiVersion": "v1", "kind": "List", "items": items });
    let mut text = serde_json::to_string_pretty(&list)?;
    text.push('\n');
    Ok(text)
}

/// Left-aligned columns separated by three spaces, the last column unpadded.
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:<width$}   ", width = widths[i]);
            }
        }
        out.push('\n');
    }
    out
}
