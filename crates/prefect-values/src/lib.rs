//! The user's values: reading them, merging them, checking them and documenting the defaults.
//!
//! The values are one YAML tree whose top-level keys are sections: `global:` and one per plugin
//! (`server:`, `agent:`...). They come in layers, later ones winning:
//!
//! 1. values files (`-f/--values FILE`, repeatable): [`Layer::from_yaml_file`];
//! 2. then the flags, in Helm's syntax and Helm's order: `--set-json`
//!    ([`Layer::from_set_json`]), `--set` and `--set-string` ([`Layer::from_set`]), `--set-file`
//!    ([`Layer::from_set_file`]).
//!
//! [`merge`] merges the layers into [`Values`] that remember where each value came from
//! ([`Origin`]: a file and line, or a flag). [`validate`] checks them against the sections in
//! the stack and their JSON Schemas and returns every [`Problem`], each with its origin.
//! [`coalesce`] puts a section's values over its defaults, as Helm does (a user `null` removes
//! a default), and [`documented_yaml`] writes a section's defaults as a commented values file;
//! [`values_file_schema`] is the JSON Schema of a whole values file, for editors.
//! [`read_yaml11_booleans`] reads a values file's `yes` or `off` as Helm does where a section
//! expects a boolean.
//!
//! ```
//! use prefect_values::{Layer, Section, SetKind, coalesce, merge, validate};
//! use serde_json::json;
//!
//! let file = Layer::from_yaml_str("server:\n  replicas: 2\n  image:\n    tag: '3.1'\n", "values.yaml")?;
//! let flag = Layer::from_set("server.replicas=abc", SetKind::Typed)?;
//! let values = merge(&[file, flag]);
//!
//! let schema = json!({
//!     "type": "object",
//!     "properties": {
//!         "replicas": { "type": "integer" },
//!         "image": { "type": "object", "properties": { "tag": { "type": "string" } } },
//!     },
//!     "additionalProperties": false,
//! });
//! let sections = [Section { name: "server".into(), schema }];
//! let problems: Vec<String> = validate(&values, &sections).iter().map(|p| p.to_string()).collect();
//! assert_eq!(
//!     problems,
//!     [r#"--set server.replicas: server.replicas: expected integer, found string "abc""#],
//! );
//!
//! let defaults = json!({ "replicas": 1, "image": { "repository": "prefecthq/prefect", "tag": "3" } });
//! let server = coalesce(&defaults, values.section("server").unwrap_or(&json!(null)));
//! assert_eq!(server["image"], json!({ "repository": "prefecthq/prefect", "tag": "3.1" }));
//! # Ok::<(), prefect_values::Error>(())
//! ```
//!
//! This crate reads values files and does no other I/O; it knows nothing of plugins' loading,
//! Kubernetes or the CLI.
#![forbid(unsafe_code)]

mod coalesce;
mod compose;
mod describe;
mod docs;
mod emit;
mod error;
mod input;
mod layer;
mod merge;
mod origin;
mod path;
mod problem;
mod reference;
mod scalar;
pub mod schema;
pub mod set;
mod standard;
mod suggest;
mod validate;
mod values;
mod yaml;
mod yaml11;

#[cfg(test)]
mod tests;

pub use coalesce::coalesce;
pub use compose::values_file_schema;
pub use docs::documented_yaml;
pub use error::{Error, Result};
pub use input::{MAX_DEPTH, MAX_INPUT_BYTES, read_text, read_text_file};
pub use layer::Layer;
pub use merge::merge;
pub use origin::Origin;
pub use path::{Segment, ValuePath};
pub use problem::{Problem, Severity};
pub use set::SetKind;
pub use validate::{HELM_SECTIONS, Section, validate};
pub use values::Values;
pub use yaml11::read_yaml11_booleans;
