//! The graph as `prefectctl render` writes it: a YAML stream `kubectl apply -f -` reads. Here
//! rather than in the binary so that prefect-plugin-test's snapshots are exactly what users
//! see.
//!
//! YAML is written by serde-saphyr, which quotes strings that YAML 1.1 readers (kubectl) would
//! otherwise read as booleans or numbers (`"on"`, `"yes"`, `"0777"`).

use std::{fmt, io};

use prefect_manifest::Graph;

mod plain;

/// The resources as a multi-document YAML stream, each document headed by a comment saying
/// which plugin added it and which changed it, followed by a comment for each resource a
/// plugin removed (`# Removed: Service/prefect/x (added by server; removed by slim)`).
pub fn yaml_stream(graph: &Graph) -> Result<String, WriteError> {
    let mut out = Vec::new();
    write_yaml(graph, &mut out)?;
    String::from_utf8(out)
        .map_err(|err| WriteError::Output(io::Error::new(io::ErrorKind::InvalidData, err)))
}

/// Why [`write_yaml`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A resource could not be written as YAML.
    #[error("could not write {resource} as YAML")]
    Yaml {
        /// The resource, as `Kind/namespace/name`.
        resource: String,
        /// What the YAML writer said.
        #[source]
        source: serde_saphyr::SerializeError,
    },
    /// The output refused the bytes (a closed pipe, a full disk).
    #[error("could not write the output")]
    Output(#[source] io::Error),
}

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
        if plain::write(object, &mut yaml) {
            #[cfg(debug_assertions)]
            assert_eq!(yaml[start..], saphyr(object).unwrap_or_default(), "{key}");
        } else {
            serde_saphyr::to_fmt_writer_with_options(&mut yaml, object, yaml_options())
                .map_err(|source| WriteError::Yaml { resource: key.to_string(), source })?;
        }
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

/// `object` as serde-saphyr writes it, which [`plain::write`] must match.
#[cfg(debug_assertions)]
fn saphyr(object: &serde_json::Value) -> Option<String> {
    let mut out = String::new();
    serde_saphyr::to_fmt_writer_with_options(&mut out, object, yaml_options()).ok()?;
    Some(out)
}

/// Long one-line strings (URLs, commands) stay on one line rather than folded (`>-`), which
/// some readers and many people misread; strings with line breaks are literal blocks (`|`).
pub fn yaml_options() -> serde_saphyr::SerializerOptions {
    serde_saphyr::ser_options! { folded_wrap_chars: usize::MAX }
}
