//! Facts about the workspace that several tasks need.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::workspace;

/// Where Cargo builds: `$CARGO_TARGET_DIR`, else `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from)
}

/// A first-party plugin: a crate under `plugins/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FirstParty {
    /// The name users select it by (`agent`).
    pub name: String,
    /// Its package (`prefectctl-plugin-agent`).
    pub package: String,
    /// The file name of its library (`libprefectctl_plugin_agent.so`).
    pub library: String,
}

/// The first-party plugins, sorted by name.
pub fn first_party_plugins() -> Result<Vec<FirstParty>, String> {
    let dir = workspace().join("plugins");
    let entries =
        std::fs::read_dir(&dir).map_err(|err| format!("cannot list {}: {err}", dir.display()))?;
    let mut plugins = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let manifest = entry.path().join("Cargo.toml");
        if manifest.is_file() {
            let package = package_field(&manifest, "name")?;
            let library = format!(
                "{}{}{}",
                std::env::consts::DLL_PREFIX,
                package.replace('-', "_"),
                std::env::consts::DLL_SUFFIX
            );
            let name = package.strip_prefix("prefectctl-plugin-").ok_or_else(|| {
                format!("{}: a plugin package is called prefectctl-plugin-NAME", manifest.display())
            })?;
            plugins.push(FirstParty { name: name.to_owned(), package, library });
        }
    }
    plugins.sort();
    Ok(plugins)
}

/// `field = "value"` of the `[package]` table of a Cargo manifest.
pub fn package_field(manifest: &Path, field: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|err| format!("cannot read {}: {err}", manifest.display()))?;
    let package =
        text.split("\n[").find(|table| table.trim_start_matches('[').starts_with("package]"));
    package
        .into_iter()
        .flat_map(str::lines)
        .find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == field).then(|| value.trim().trim_matches('"').to_owned())
        })
        .ok_or_else(|| format!("{} has no package.{field}", manifest.display()))
}

/// The crates under `crates/` that are published for plugin authors (those without
/// `publish = false`), sorted.
pub fn published_crates() -> Result<Vec<String>, String> {
    let dir = workspace().join("crates");
    let entries =
        std::fs::read_dir(&dir).map_err(|err| format!("cannot list {}: {err}", dir.display()))?;
    let mut crates = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let manifest = entry.path().join("Cargo.toml");
        if manifest.is_file() && package_field(&manifest, "publish").as_deref() != Ok("false") {
            crates.push(package_field(&manifest, "name")?);
        }
    }
    crates.sort();
    Ok(crates)
}

/// Standard output of `host args` (a built `prefectctl`), which must succeed; plugins come
/// from the build's own folder, not `$PREFECTCTL_PLUGIN_PATH`.
pub fn host_output(host: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new(host)
        .args(args)
        .env_remove("PREFECTCTL_PLUGIN_PATH")
        .output()
        .map_err(|err| format!("could not run {}: {err}", host.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`prefectctl {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}
