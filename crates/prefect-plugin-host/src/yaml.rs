//! The graph as `prefectctl render` writes it: a YAML stream `kubectl apply -f -` reads. Here
//! rather than in the binary so that prefect-plugin-test's snapshots are exactly what users
//! see.
//!
//! YAML is written by serde-saphyr, which quotes strings that YAML 1.1 readers (kubectl) would
//! otherwise read as booleans or numbers (`"on"`, `"yes"`, `"0777"`).

use prefect_manifest::Graph;

/// The resources as a multi-document YAML stream, each document headed by a comment saying
/// which plugin added it and which changed it.
pub fn yaml_stream(graph: &Graph) -> Result<String, String> {
    let mut out = String::new();
    for (key, object) in graph.ordered() {
        out.push_str("---\n");
        if let Some(provenance) = graph.provenance(key) {
            out.push_str(&format!("# Source: {provenance}\n"));
        }
        let yaml = serde_saphyr::to_string_with_options(object, yaml_options())
            .map_err(|err| format!("could not write {key} as YAML: {err}"))?;
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
