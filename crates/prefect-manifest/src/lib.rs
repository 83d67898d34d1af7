//! The shared manifest graph that plugins build together.
//!
//! Each plugin's response is handed to [`Graph::apply`]: the resources it adds (`items`) and
//! the resources added by plugins before it that it changed (`changed`), and to
//! [`Graph::apply_with_removals`] when it also removes some (`removed`). The graph
//!
//! - checks every object ([`validate`]): a JSON object with `apiVersion`, `kind`, a valid
//!   `metadata.name`, a namespace exactly when the kind is namespaced, and valid labels;
//! - keys each resource by API group, kind, namespace and name ([`ResourceKey`]), so two plugins
//!   adding the same resource is a [`Error::Conflict`] rather than a silent overwrite;
//! - remembers who added each resource and which fields each later plugin changed
//!   ([`Provenance`], computed by a structural JSON diff), and who removed a resource
//!   ([`Graph::removed`]);
//! - writes the resources in one order that depends only on the resources ([`Graph::ordered`],
//!   [`Graph::waves`]; the order is described in [`order`]).
//!
//! A response is applied all or nothing: when anything in it is wrong, every problem is returned
//! and the graph stays as it was. Once every plugin has run, [`check::check`] finds what the API
//! server would refuse in the finished graph (a quantity, a name, a negative period), so that it
//! is refused before anything is written.
//!
//! ```
//! use prefect_manifest::Graph;
//! use serde_json::json;
//!
//! let mut graph = Graph::new();
//! let service = json!({
//!     "apiVersion": "v1",
//!     "kind": "Service",
//!     "metadata": { "name": "prefect-server", "namespace": "prefect" },
//!     "spec": { "ports": [{ "port": 4200 }] },
//! });
//! graph.apply("server", vec![service.clone()], vec![]).unwrap();
//!
//! let mut changed = service;
//! changed["spec"]["ports"][0]["port"] = json!(8080);
//! graph.apply("my-plugin", vec![], vec![changed]).unwrap();
//!
//! let (key, _) = graph.ordered()[0];
//! assert_eq!(key.to_string(), "Service/prefect/prefect-server");
//! assert_eq!(
//!     graph.provenance(key).unwrap().to_string(),
//!     "added by server; changed by my-plugin (spec.ports[0].port)",
//! );
//! ```
//!
//! This crate does no I/O and knows nothing of YAML, kube-rs, plugins' loading or the CLI.
#![forbid(unsafe_code)]

pub mod check;
pub mod diff;
mod error;
mod graph;
mod key;
pub mod order;
mod path;
mod provenance;
pub mod validate;

pub use error::{Error, Item, Result};
pub use graph::Graph;
pub use key::{LongForm, ResourceKey};
pub use provenance::{Change, Provenance};
pub use validate::{InvalidObject, is_cluster_scoped};
