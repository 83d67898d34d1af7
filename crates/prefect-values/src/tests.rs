//! Data-driven tests of what users see; `UPDATE_EXPECT=1 cargo test -p prefect-values` updates
//! the expectations.

mod coalesce;
mod docs;
mod fuzz;
mod merge;
mod robustness;
mod set;
mod standard;
mod validate;
mod yaml;
mod yaml11;
