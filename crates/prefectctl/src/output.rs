//! Writing the rendered graph: a YAML stream `kubectl apply -f -` reads
//! (`prefect_plugin_host::write_yaml`), or one JSON `v1/List`; and tables.

use std::{fmt::Write as _, io};

use prefect_manifest::Graph;
use serde::Serialize;
use serde_json::Value;

/// The resources as one `v1/List`, pretty-printed, written to `out` as it is serialized,
/// without copying the resources; `out` should be buffered.
pub fn write_json_list(graph: &Graph, out: &mut dyn io::Write) -> serde_json::Result<()> {
    /// A `v1/List` of borrowed items: the same bytes as the `Value` of one.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct List<'a> {
        api_version: &'static str,
        kind: &'static str,
        items: Vec<&'a Value>,
    }
    let items = graph.ordered().into_iter().map(|(_, object)| object).collect();
    let list = List { api_version: "v1", kind: "List", items };
    serde_json::to_writer_pretty(&mut *out, &list)?;
    out.write_all(b"\n").map_err(serde_json::Error::io)
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
