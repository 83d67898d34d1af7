//! `cargo xtask ci`: the whole check, in the order that fails fastest.

use std::path::PathBuf;

use crate::{sh, sh_with_env, workspace};

pub fn run() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    sh(&cargo, &["fmt", "--all", "--", "--check"])?;
    sh(&cargo, &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    // The SDK's crate documentation is the plugin authors' tutorial: no broken links in it.
    sh_with_env(
        &cargo,
        &["doc", "--workspace", "--no-deps", "--quiet"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    // The integration tests load the plugin libraries: build them before the tests run.
    sh(&cargo, &["build", "--workspace"])?;
    // The cluster tests start a real kube-apiserver; building it the first time takes about ten
    // minutes, better spent here than hidden inside one test.
    ensure_postgres()?;
    let k8s = k8s_scripts()?;
    let k8s_str = k8s.to_str().ok_or("the path of the k8s scripts is not UTF-8")?;
    sh("bash", &[&format!("{k8s_str}/build.sh")])?;
    sh_with_env(&cargo, &["test", "--workspace"], &[("PREFECTCTL_K8S_SCRIPTS", k8s_str)])
}

/// The database tests start a real PostgreSQL server from Debian's `postgresql` package.
fn ensure_postgres() -> Result<(), String> {
    let installed = std::fs::read_dir("/usr/lib/postgresql")
        .map(|versions| {
            versions.filter_map(Result::ok).any(|v| v.path().join("bin/initdb").is_file())
        })
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    sh_with_env("apt-get", &["update", "-qq"], &[])?;
    sh_with_env(
        "apt-get",
        &["install", "-y", "-qq", "postgresql"],
        &[("DEBIAN_FRONTEND", "noninteractive")],
    )
}

/// The folder of the project's Kubernetes scripts (`build.sh`, `start.sh`):
/// `$PREFECTCTL_K8S_SCRIPTS`, else `../shared/k8s` beside the workspace.
pub fn k8s_scripts() -> Result<PathBuf, String> {
    let dir = match std::env::var_os("PREFECTCTL_K8S_SCRIPTS") {
        Some(dir) => PathBuf::from(dir),
        None => workspace().join("../shared/k8s"),
    };
    if dir.join("build.sh").is_file() && dir.join("start.sh").is_file() {
        return Ok(dir);
    }
    Err(format!(
        "the cluster tests need the project's k8s scripts, and {} has no build.sh and start.sh: \
         set PREFECTCTL_K8S_SCRIPTS to their folder (shared/k8s on the project's machines)",
        dir.display()
    ))
}
