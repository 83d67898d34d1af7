//! The workspace's integration tests, one binary: they run the built `prefectctl` and plugin
//! libraries as a user would, from a temporary folder.
//!
//! The harness builds the workspace first (`cargo build --workspace`, a no-op when it is fresh):
//! Cargo cannot make a cdylib a test dependency, and a stale plugin library would test old code.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

mod adopt_helm;
mod bad_inputs;
mod checkov;
mod cli;
mod cluster;
mod completion;
mod database;
mod dist;
mod doctor;
mod get;
mod habits;
mod harness;
mod helm_import;
mod inputs;
mod install;
mod lifecycle;
mod loader;
mod locking;
mod network_policy;
mod networking;
mod node;
mod outage;
mod plugin_hardening;
mod prefect;
mod progress;
mod reproducible;
mod running;
mod safety;
mod scale;
mod schemas;
mod snapshots;
mod stacks;
mod stand_in;
mod third_party;
mod tier;
mod worker;
