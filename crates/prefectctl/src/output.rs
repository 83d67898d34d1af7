//! Writing the rendered graph: a YAML stream `kubectl apply -f -` reads
//! (`prefect_plugin_host::yaml_stream`), or one JSON `v1/List`; and tables.

use std::fmt::Write as _;

use anyhow::Result;
use prefect_manifest::Graph;
use serde_json::{Value, json};

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
