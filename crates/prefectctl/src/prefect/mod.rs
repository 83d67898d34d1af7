//! What prefectctl knows of Prefect, for `status` and `doctor`: where a release's server and
//! workers are ([`stack`]: by the labels, names and settings the first-party plugins promise),
//! how their settings resolve ([`mod@env`]), how to ask a Prefect server inside the cluster
//! ([`api`]), and what it answers about itself, its work pools and its flow runs
//! ([`report`]); and for `rollback`, whether the target's Prefect can use the database a newer
//! one migrated ([`migrations`]); and after a first install, how to reach it ([`notes`]).
//!
//! This is the one place where the host knows Prefect; plugins stay the only authors of
//! objects.

pub mod api;
pub mod env;
pub mod migrations;
pub mod notes;
pub mod report;
pub mod stack;
