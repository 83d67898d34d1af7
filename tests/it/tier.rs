//! The slow tiers: the tests that need more than the built workspace (an API server,
//! PostgreSQL, Python tools from PyPI, a release build, a new crate's build, root to run pods)
//! start with [`runs`], which says whether they may run here.
//!
//! A slow test is skipped, with a line on standard error that says why and how to run it, when
//! `PREFECTCTL_FAST=1` (what `cargo xtask test` sets: the fast tier), when
//! `PREFECTCTL_SKIP_PODS=1` and it runs pods, or when a prerequisite of its tier is missing.
//! With `PREFECTCTL_REQUIRE_ALL=1` (what `cargo xtask ci`, and so CI, sets) nothing is skipped:
//! each of those reasons fails the test instead.

use std::path::PathBuf;

/// What a slow test needs beyond the built workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// A real kube-apiserver, started from the project's k8s scripts.
    ApiServer,
    /// Debian's PostgreSQL server.
    Postgres,
    /// Prefect or checkov in a virtualenv from PyPI (Debian's python3 with venv).
    Python,
    /// The release archive, built with the dist profile.
    Dist,
    /// A crate `plugins new` makes, built and tested by cargo (the plugin tutorial).
    Scaffold,
    /// Pods run by the kubelet stand-in (root, network namespaces, bubblewrap).
    Pods,
}

impl Tier {
    fn describe(self) -> &'static str {
        match self {
            Tier::ApiServer => "a Kubernetes API server",
            Tier::Postgres => "a PostgreSQL server",
            Tier::Python => "Python tools from PyPI (Prefect, checkov)",
            Tier::Dist => "the release archive (a dist build)",
            Tier::Scaffold => "a crate that `plugins new` makes, built by cargo",
            Tier::Pods => "pods run by the kubelet stand-in",
        }
    }

    /// Why this machine cannot run the tier, if it cannot.
    fn missing(self) -> Option<String> {
        match self {
            Tier::ApiServer => {
                let scripts = k8s_scripts();
                (!scripts.join("start.sh").is_file()).then(|| {
                    format!(
                        "no {}: set PREFECTCTL_K8S_SCRIPTS to the folder of the project's k8s \
                         start.sh (shared/k8s on the project's machines)",
                        scripts.join("start.sh").display()
                    )
                })
            }
            Tier::Postgres => postgres_missing(),
            Tier::Python => python_missing(),
            Tier::Dist | Tier::Scaffold => None,
            Tier::Pods => (!is_root()).then(|| {
                "the kubelet stand-in runs pods as root (network namespaces, bubblewrap): run \
                 the tests as root, or set PREFECTCTL_SKIP_PODS=1"
                    .to_owned()
            }),
        }
    }
}

/// Whether the calling test may run on `tiers`: `false` after saying why on standard error
/// (the test then returns at once); a panic instead when `PREFECTCTL_REQUIRE_ALL` is set.
#[must_use]
pub fn runs(tiers: &[Tier]) -> bool {
    let Some(reason) = tiers.iter().find_map(|tier| skipped(*tier)) else {
        return true;
    };
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    if set("PREFECTCTL_REQUIRE_ALL") {
        panic!("{test} may not be skipped (PREFECTCTL_REQUIRE_ALL is set): {reason}");
    }
    // Past the test harness's capture, which would show the line only for a failed test.
    let line = format!("skipped: {test}: {reason}; `cargo xtask ci` runs every tier\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    false
}

/// Why `tier` does not run here, if it does not.
fn skipped(tier: Tier) -> Option<String> {
    let what = tier.describe();
    if set("PREFECTCTL_FAST") {
        return Some(format!("PREFECTCTL_FAST is set (the fast tier), and it needs {what}"));
    }
    if tier == Tier::Pods && set("PREFECTCTL_SKIP_PODS") {
        return Some(format!("PREFECTCTL_SKIP_PODS is set, and it needs {what}"));
    }
    tier.missing().map(|missing| format!("it needs {what}, and {missing}"))
}

/// Whether the variable `name` is set to something other than empty or `0`.
fn set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The folder of the project's k8s scripts: `$PREFECTCTL_K8S_SCRIPTS` (which `cargo xtask ci`
/// sets), else `../shared/k8s` beside the workspace, as on the project's machines.
pub fn k8s_scripts() -> PathBuf {
    std::env::var_os("PREFECTCTL_K8S_SCRIPTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::harness::workspace().join("../shared/k8s"))
}

fn postgres_missing() -> Option<String> {
    let initdb = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .any(|version| version.path().join("bin/initdb").is_file());
    (!initdb).then(|| {
        "/usr/lib/postgresql has no server: install Debian's `postgresql` package \
         (`cargo xtask ci` does)"
            .to_owned()
    })
}

fn python_missing() -> Option<String> {
    let venv = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import ensurepip, venv"])
        .output()
        .is_ok_and(|out| out.status.success());
    (!venv).then(|| {
        "/usr/bin/python3 cannot make virtualenvs: install Debian's `python3-venv` package \
         (`cargo xtask ci` does)"
            .to_owned()
    })
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status.lines().any(|line| {
            line.strip_prefix("Uid:")
                .and_then(|ids| ids.split_whitespace().nth(1))
                .is_some_and(|effective| effective == "0")
        })
    })
}
