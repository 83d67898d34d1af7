//! `cargo xtask`: the project's automation that `cargo build` and `cargo test` alone do not do.
//!
//! - `cargo xtask ci`: what CI runs — formatting, clippy with warnings denied, the build and
//!   every test (the integration tests start their own Kubernetes API server).
//! - `cargo xtask test [FILTER]`: the fast tier, every test but the slow tiers (see [`mod@test`]).
//! - `cargo xtask bench [--runs N] [--check | --record]`: the speed of `prefectctl render`
//!   (release build, whole processes) next to `helm template` and `cat`, in one run, with the
//!   goals of issue 13; `--check` fails on a ratio past twice the recorded one.
//! - `cargo xtask bench-apply [--runs N] [--check | --record]`: `prefectctl apply` against a real
//!   API server next to `kubectl apply --server-side` of the same objects: first install and
//!   no-op, of the full stack and of 1,000 ConfigMaps.
//! - `cargo xtask dist`: the release archive, reproducibly (see [`dist`]).
//! - `cargo xtask install --prefix DIR`: what the archive holds, installed into DIR (see
//!   [`install`]).
//! - `cargo xtask docs [--check]`: the values reference in `docs/values`, from the plugins' own
//!   schemas and defaults; `--check` fails when the committed pages are stale.
#![allow(missing_docs)]

mod archive;
mod bench;
mod bench_apply;
mod bench_baseline;
mod bench_helm;
mod bench_measure;
mod bench_server;
mod ci;
mod dist;
mod docs;
mod install;
mod project;
mod shipped;
mod test;
#[cfg(test)]
mod tidy;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("bench-apply") => bench_apply::run(&args[1..]),
        Some("bench-launch") => bench_measure::launch(&args[1..]),
        Some("dist") => dist::run(&args[1..]),
        Some("docs") => docs::run(&args[1..]),
        Some("install") => install::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | test [FILTER] | dist | install --prefix DIR | docs [--check] | bench [--runs N] [--check | --record] | bench-apply [--runs N] [--check | --record]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask's parent folder).
fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_path_buf()
}

/// Runs `program args` in the workspace, echoing it, and fails if it fails.
fn sh(program: &str, args: &[&str]) -> Result<(), String> {
    sh_with_env(program, args, &[])
}

/// [`sh`] with extra environment variables.
fn sh_with_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace())
        .status()
        .map_err(|err| format!("could not run {program}: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}
