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
    crate::docs::run(&["--check".to_owned()])?;
    // The short benches: a ratio past twice its recorded value fails (issue 13). They build the
    // dist profile, which `dist` below then finds built.
    let short = ["--check", "--profile", "dist"].map(str::to_owned);
    twice(|| crate::bench::run(&short))?;
    // Plugin authors get the published crates from a registry, not this workspace: package
    // them together and build each from its package alone.
    let published = crate::project::published_crates()?;
    forget_earlier_packaging(&published);
    let mut package =
        ["package", "--allow-dirty", "--target-dir", PACKAGE_TARGET].map(str::to_owned).to_vec();
    for name in published {
        package.extend(["-p".to_owned(), name]);
    }
    sh(&cargo, &package.iter().map(String::as_str).collect::<Vec<_>>())?;
    // The release archive's test unpacks it; its release build is better done here, before
    // the cluster tests run, than beside them.
    crate::dist::run(&[])?;
    // The cluster tests start a real kube-apiserver; building it the first time takes about ten
    // minutes, better spent here than hidden inside one test.
    ensure_packages()?;
    let k8s = k8s_scripts()?;
    let k8s_str = k8s.to_str().ok_or("the path of the k8s scripts is not UTF-8")?;
    sh("bash", &[&format!("{k8s_str}/build.sh")])?;
    twice(|| crate::bench_apply::run(&short))?;
    // Every tier: a slow test whose prerequisites are missing (or that PREFECTCTL_FAST or
    // PREFECTCTL_SKIP_PODS would skip) fails here instead of skipping (`tests/it/tier.rs`).
    sh_with_env(
        &cargo,
        &["test", "--workspace"],
        &[("PREFECTCTL_K8S_SCRIPTS", k8s_str), ("PREFECTCTL_REQUIRE_ALL", "1")],
    )?;
    examples(&cargo)
}

/// Runs a short bench again when it fails: on a shared 2-core machine one slow round can double
/// a ratio, and a regression that is real fails the second run too.
fn twice(bench: impl Fn() -> Result<(), String>) -> Result<(), String> {
    bench().or_else(|first| {
        eprintln!("{first}\nmeasuring again: a regression must show in two runs");
        bench()
    })
}

/// The example plugins are their own workspaces, written as an outside author would: the same
/// checks, with their own lock files, in a target folder of their own.
fn examples(cargo: &str) -> Result<(), String> {
    for manifest in example_manifests()? {
        let manifest = manifest.to_str().ok_or("an example's path is not UTF-8")?;
        let at = ["--manifest-path", manifest, "--target-dir", EXAMPLES_TARGET];
        sh(cargo, &["fmt", "--manifest-path", manifest, "--", "--check"])?;
        sh(cargo, &[&["clippy", "--all-targets"], &at[..], &["--", "-D", "warnings"]].concat())?;
        sh(cargo, &[&["test", "--locked"], &at[..]].concat())?;
    }
    Ok(())
}

/// Where the examples build: the integration tests load the network-policy example from here.
pub const EXAMPLES_TARGET: &str = "target/examples";

/// `examples/*/Cargo.toml`, sorted.
fn example_manifests() -> Result<Vec<PathBuf>, String> {
    let dir = workspace().join("examples");
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|err| format!("cannot list {}: {err}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("Cargo.toml"))
        .filter(|manifest| manifest.is_file())
        .collect();
    manifests.sort();
    Ok(manifests)
}

/// Where `cargo package` verifies the published crates.
const PACKAGE_TARGET: &str = "target/package-verify";

/// `cargo package` verifies each crate against its siblings as if from a registry: unpacked into
/// `$CARGO_HOME/registry/src` and built like any registry crate, which Cargo takes to be
/// immutable for a version. Both copies from an earlier run would be reused, and a crate
/// verified against yesterday's siblings; forget them (only ours, in a target of their own).
fn forget_earlier_packaging(crates: &[String]) {
    let is_ours = |file: &str| {
        crates.iter().any(|krate| {
            let stem = file.strip_prefix("lib").unwrap_or(file);
            [krate.clone(), krate.replace('-', "_")].iter().any(|name| {
                stem.strip_prefix(name.as_str()).is_some_and(|rest| rest.starts_with('-'))
            })
        })
    };
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let mut dirs: Vec<PathBuf> = home
        .and_then(|home| std::fs::read_dir(home.join("registry/src")).ok())
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|registry| registry.path())
        .collect();
    let built = workspace().join(PACKAGE_TARGET).join("debug");
    dirs.extend([built.join(".fingerprint"), built.join("deps")]);
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(Result::ok) {
            if is_ours(&entry.file_name().to_string_lossy()) {
                let path = entry.path();
                let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
            }
        }
    }
}

/// What the tests run that Cargo does not build: Debian's packages, each known by a file it
/// installs. PostgreSQL for the database tests and the postgres image's stand-in; the kubelet
/// stand-in's sandbox (bubblewrap, util-linux's setpriv and nsenter, iproute2), the
/// Prefect image's init (tini), the postgres image's nss_wrapper, Python's venv for the
/// Prefect virtualenvs, curl for the requests the tests send into the pod network, and Redis
/// for the redis image's stand-in (and the `redis-cli` the tests ask it with; the tests never
/// use a Redis the package may have started as a service).
const PACKAGES: &[(&str, &str)] = &[
    ("/usr/lib/postgresql", "postgresql"),
    ("/usr/bin/bwrap", "bubblewrap"),
    ("/usr/bin/setpriv", "util-linux"),
    ("/usr/bin/nsenter", "util-linux"),
    ("/usr/sbin/ip", "iproute2"),
    ("/usr/bin/tini", "tini"),
    ("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so", "libnss-wrapper"),
    ("/usr/bin/curl", "curl"),
    ("/usr/bin/redis-server", "redis-server"),
];

fn ensure_packages() -> Result<(), String> {
    let mut missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(file, _)| !std::path::Path::new(file).exists())
        .map(|(_, package)| *package)
        .collect();
    // Debian's python3 makes virtualenvs only with its venv module.
    let venv = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import ensurepip, venv"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !venv {
        missing.push("python3-venv");
    }
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    sh_with_env("apt-get", &["update", "-qq"], &[])?;
    let mut install = vec!["install", "-y", "-qq"];
    install.extend(&missing);
    sh_with_env("apt-get", &install, &[("DEBIAN_FRONTEND", "noninteractive")])
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
