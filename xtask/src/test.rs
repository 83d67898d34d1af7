//! `cargo xtask test`: the fast tier, for everyday work. Every unit test, the CLI, snapshot and
//! loader tests of `tests/it`, and the tidy checks; the slow tiers (API server, PostgreSQL,
//! Python tools from PyPI, the release archive, a scaffolded crate, pods) are skipped with a line each saying so
//! (`PREFECTCTL_FAST=1`, read by `tests/it/tier.rs`). The doc tests are left out too: rustdoc
//! compiles each example of the SDK's tutorial anew on every run, a minute of the two
//! (`cargo test --doc` runs them). `cargo xtask ci` runs them all.

use std::time::Instant;

use crate::sh_with_env;

/// Runs the fast tier; `args` go to the test binaries (a filter such as `cli::`).
pub fn run(args: &[String]) -> Result<(), String> {
    if std::env::var_os("PREFECTCTL_REQUIRE_ALL").is_some_and(|v| !v.is_empty() && v != "0") {
        return Err("PREFECTCTL_REQUIRE_ALL is set, and the fast tier skips the slow tiers: \
                    unset it, or run every tier with `cargo xtask ci`"
            .to_owned());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut test = vec!["test", "--workspace", "--lib", "--bins", "--tests", "--quiet"];
    if !args.is_empty() {
        test.push("--");
        test.extend(args.iter().map(String::as_str));
    }
    let started = Instant::now();
    sh_with_env(&cargo, &test, &[("PREFECTCTL_FAST", "1")])?;
    eprintln!(
        "the fast tier passed in {} s; the slow tiers were skipped (each said so above): \
         `cargo xtask ci` runs them",
        started.elapsed().as_secs()
    );
    Ok(())
}
