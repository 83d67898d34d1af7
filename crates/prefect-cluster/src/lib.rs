//! Everything prefectctl says to a Kubernetes API server, and the only crate that links a
//! Kubernetes client (kube-rs, rustls with ring): connecting as the kubeconfig says
//! ([`Cluster::connect`]), discovery read once per command ([`Cluster::server_info`],
//! [`Cluster::resolve`]), server-side apply and deletes of any kind ([`objects`]), the release
//! records ([`record`]) and lock ([`lock`]), Helm's records ([`helm`]), the user's rights before
//! a write ([`access`]), readiness ([`readiness`]) and events; and, for `status` and `doctor`,
//! HTTP requests to services in the cluster ([`reach`]), pods, Jobs and logs.
//!
//! It knows nothing of plugins, values or the CLI: it is handed objects and answers with
//! objects. Every request goes through a counter ([`Cluster::requests`]), so that commands can
//! report how many they sent.
#![forbid(unsafe_code)]

pub mod access;
mod connect;
pub mod discovery;
mod discovery_cache;
mod error;
mod events;
mod first_answer;
pub mod helm;
pub mod lock;
pub mod objects;
pub mod reach;
pub mod readiness;
pub mod record;
mod transport;
mod workloads;

/// The Kubernetes types the pods, Jobs and StorageClasses are read as.
pub use k8s_openapi;

pub use connect::Cluster;
pub use discovery::{NotServed, ServerInfo, Target};
pub use error::{Conflict, Error, Result};
pub use events::ObjectEvent;
