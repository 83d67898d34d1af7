//! The Python virtualenvs that stand in for the Prefect images: one per Prefect release the
//! tests know, with pinned packages from PyPI, made once and reused. Several test processes may
//! ask at once: a file lock makes one of them build it.
//!
//! They are made from Debian's `/usr/bin/python3` and kept in `/var/cache/prefectctl-tests`
//! (as root; `~/.cache/prefectctl-tests` otherwise, `$PREFECTCTL_TESTS_CACHE` if set): a
//! sandbox mounts a virtualenv at its own path, and every user of a pod must be able to reach
//! it, which a folder under `/root` would forbid.

use std::{
    collections::BTreeMap,
    fs::File,
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
};

use anyhow::{Context as _, Result, bail};

/// The Prefect releases with a stand-in, and what their `-kubernetes` image holds: Prefect, the
/// Kubernetes worker, the driver the server uses for PostgreSQL, and prefect-redis (the image
/// installs `prefect[redis]`), the server's Redis messaging. A virtualenv made with fewer of
/// them gets the others added; one with other versions is made again.
pub const PREFECT_RELEASES: &[(&str, &[&str])] = &[
    (
        "3.9.1",
        &[
            "prefect==3.9.1",
            "prefect-kubernetes==0.8.0",
            "asyncpg==0.31.0",
            "prefect-redis==0.3.0",
            "fastapi==0.150.0",
        ],
    ),
    // An older release, for upgrades: its database migrations stop before 3.9.1's. Its
    // server does not start with FastAPI 0.165 (`Body(min_items=)`), which pip would pick; the
    // image pins what it was released with.
    (
        "3.8.8",
        &[
            "prefect==3.8.8",
            "prefect-kubernetes==0.8.0",
            "asyncpg==0.31.0",
            "prefect-redis==0.3.0",
            "fastapi==0.150.0",
        ],
    ),
];

/// The Python the virtualenvs are made from, where it exists.
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// A virtualenv with one Prefect release.
#[derive(Debug, Clone)]
pub struct Virtualenv {
    /// The virtualenv's folder; its scripts name it in their `#!` lines, so a sandbox mounts it
    /// at this same path.
    pub root: PathBuf,
    /// The Python installation it was made from (`sys.base_prefix`), which its `bin/python`
    /// links into: a sandbox mounts it too.
    pub base_prefix: PathBuf,
    /// That Python's version, such as `3.11.7`.
    pub python_version: String,
}

impl Virtualenv {
    /// Its `bin` folder.
    pub fn bin(&self) -> PathBuf {
        self.root.join("bin")
    }
}

/// The virtualenv of Prefect `version`, built on first use (about a minute, PyPI must be
/// reachable); known to this process after its first look.
pub fn prefect(version: &str) -> Result<Virtualenv> {
    static KNOWN: Mutex<BTreeMap<String, Virtualenv>> = Mutex::new(BTreeMap::new());
    let mut known = KNOWN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(venv) = known.get(version) {
        return Ok(venv.clone());
    }
    let venv = find_or_build(version)?;
    known.insert(version.to_owned(), venv.clone());
    Ok(venv)
}

fn find_or_build(version: &str) -> Result<Virtualenv> {
    let Some((_, packages)) = PREFECT_RELEASES.iter().find(|(known, _)| *known == version) else {
        let known: Vec<&str> = PREFECT_RELEASES.iter().map(|(v, _)| *v).collect();
        bail!(
            "no Prefect {version} stand-in: the tests pin Prefect {} (tests/kubelet/src/python.rs)",
            known.join(", ")
        );
    };
    let root = tool(&format!("prefect-{version}"), packages)?;
    let python = root.join("bin/python");
    let out = Command::new(&python)
        .args([
            "-c",
            "import sys, platform; print(sys.base_prefix); print(platform.python_version())",
        ])
        .output()
        .with_context(|| format!("run {}", python.display()))?;
    let printed = String::from_utf8_lossy(&out.stdout);
    let mut lines = printed.lines();
    let (Some(base_prefix), Some(python_version)) = (lines.next(), lines.next()) else {
        bail!("{} did not say where its Python lives", python.display());
    };
    Ok(Virtualenv {
        root,
        base_prefix: PathBuf::from(base_prefix),
        python_version: python_version.to_owned(),
    })
}

/// The virtualenv `python-NAME` in the tests' cache with exactly `packages` (pinned
/// requirements), built or completed on first use; returns its folder. The Prefect stand-ins
/// are such virtualenvs, and so are tools the tests run, such as checkov.
pub fn tool(name: &str, packages: &[&str]) -> Result<PathBuf> {
    let cache = cache_dir()?;
    let root = cache.join(format!("python-{name}"));
    let lock = File::create(cache.join(format!("python-{name}.lock")))
        .context("create the virtualenv's lock file")?;
    lock.lock().context("lock the virtualenv")?;
    let ready = root.join("installed.txt");
    let wanted = packages.join("\n");
    let installed = std::fs::read_to_string(&ready).unwrap_or_default();
    if installed != wanted {
        let installed: Vec<&str> = installed.lines().collect();
        if installed.is_empty() || installed.iter().any(|p| !packages.contains(p)) {
            build(&root, packages)?;
        } else {
            // Only additions: the others keep their files, which other tests may be running.
            let missing: Vec<&str> =
                packages.iter().copied().filter(|p| !installed.contains(p)).collect();
            pip_install(&root, &missing)?;
        }
        std::fs::write(&ready, &wanted).context("record the installed packages")?;
    }
    Ok(root)
}

fn cache_dir() -> Result<PathBuf> {
    let dir = if let Some(dir) = std::env::var_os("PREFECTCTL_TESTS_CACHE") {
        PathBuf::from(dir)
    } else if rustix::process::getuid().is_root() {
        PathBuf::from("/var/cache/prefectctl-tests")
    } else {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        home.join(".cache/prefectctl-tests")
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

fn build(root: &Path, packages: &[&str]) -> Result<()> {
    let python = if Path::new(DEBIAN_PYTHON).is_file() { DEBIAN_PYTHON } else { "python3" };
    let made = Command::new(python).args(["-m", "venv", "--clear"]).arg(root).status();
    if !made.is_ok_and(|s| s.success()) {
        bail!("python3 -m venv {} failed", root.display());
    }
    pip_install(root, packages)
}

/// `pip install PACKAGES` into the virtualenv at `root`.
fn pip_install(root: &Path, packages: &[&str]) -> Result<()> {
    let installed = Command::new(root.join("bin/python"))
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(packages)
        .status();
    if !installed.is_ok_and(|s| s.success()) {
        bail!("pip install {} failed (PyPI must be reachable)", packages.join(" "));
    }
    Ok(())
}
