//! The graph as `prefectctl render` writes it: a YAML stream `kubectl apply -f -` reads. Here
//! rather than in the binary so that prefect-plugin-test's snapshots are exactly what users
//! see.
//!
//! YAML is written by serde-saphyr, which quotes strings that YAML 1.1 readers (kubectl) would
//! otherwise read as booleans or numbers (`"on"`, `"yes"`, `"0777"`).

use std::{fmt, io};

use prefect_manifest::Graph;

/// The resources as a multi-document YAML stream, each document headed by a comment saying
/// which plugin added it and which changed it, followed by a comment for each resource a
/// plugin removed (`# Removed: Service/prefect/x (added by server; removed by slim)`).
pub fn yaml_stream(graph: &Graph) -> Result<String, String> {
    let mut out = Vec::new();
    write_yaml(graph, &mut out).map_err(|err| err.to_string())?;
    String::from_utf8(out).map_err(|err| err.to_string())
}

/// Why [`write_yaml`] stopped.
#[derive(Debug)]
pub enum WriteError {
    /// A resource could not be written as YAML (the message names it).
    Yaml(String),
    /// The output refused the bytes (a closed pipe, a full disk).
    Output(io::Error),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Yaml(message) => f.write_str(message),
            WriteError::Output(err) => write!(f, "could not write the output: {err}"),
        }
    }
}

impl std::error::Error for WriteError {}

/// [`yaml_stream`] written to `out` one resource at a time, as each is serialized, so that a
/// large release is never held as one text; `out` should be buffered.
pub fn write_yaml(graph: &Graph, out: &mut dyn io::Write) -> Result<(), WriteError> {
    let mut yaml = String::new();
    for (key, object, provenance) in graph.ordered_with_provenance() {
        use fmt::Write as _;
        yaml.clear();
        yaml.push_str("---\n");
        let _ = writeln!(yaml, "# Source: {provenance}");
        let start = yaml.len();
        serde_saphyr::to_fmt_writer_with_options(&mut yaml, object, yaml_options())
            .map_err(|err| WriteError::Yaml(format!("could not write {key} as YAML: {err}")))?;
        if yaml.len() == start || !yaml.ends_with('\n') {
            yaml.push('\n');
        }
        out.write_all(yaml.as_bytes()).map_err(WriteError::Output)?;
    }
    for (key, provenance) in graph.removed() {
        writeln!(out, "# Removed: {key} ({provenance})").map_err(WriteError::Output)?;
    }
    Ok(())
}

/// Long one-line strings (URLs, commands) stay on one line rather than folded (`>-`), which
/// some readers and many people misread; strings with line breaks are literal blocks (`|`).
pub fn yaml_options() -> serde_saphyr::SerializerOptions {
    serde_saphyr::ser_options! { folded_wrap_chars: usize::MAX }
}
