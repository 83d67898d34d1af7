//! What ships to users, the same whether as the release archive (`dist`) or into a folder
//! (`install`): the build, and the files of an installation prefix.
//!
//! The build is one build for both, and for `bench --profile dist`: the dist profile, with the
//! paths of this machine (the checkout, `$CARGO_HOME`, the Rust toolchain, the target folder)
//! remapped to fixed names, so that panic messages and `file!()`s do not carry them and two
//! machines build the same bytes. A build with other flags would rebuild every crate, so every
//! task that builds the dist profile builds it through [`rustflags`].
//!
//! ```text
//! bin/prefectctl
//! lib/prefectctl/plugins/libprefectctl_plugin_<name>.so   (every crate under plugins/)
//! share/bash-completion/completions/prefectctl
//! share/zsh/site-functions/_prefectctl
//! share/fish/vendor_completions.d/prefectctl.fish
//! share/man/man1/prefectctl.1, prefectctl-<subcommand>.1, ...
//! share/doc/prefectctl/values/<plugin>.md                 (the values reference, docs/values)
//! share/prefectctl/crates/<crate>/...                     (the SDK's sources, packaged)
//! ```
//!
//! The host finds its plugins in `../lib/prefectctl/plugins` beside its executable, and
//! `plugins new` the SDK in `../share/prefectctl/crates`: the folder can be anywhere.

use std::{
    io::Read as _,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    archive::Archive,
    project::{first_party_plugins, host_output, published_crates, target_dir},
    sh_with_env, workspace,
};

/// The Cargo profile of what ships (a release build without symbol tables).
pub const PROFILE: &str = "dist";

/// Builds prefectctl and every first-party plugin (not the test fixtures) with the dist
/// profile; returns the folder they are in.
pub fn build() -> Result<PathBuf, String> {
    let mut args = vec!["build", "--locked", "--profile", PROFILE, "-p", "prefectctl"];
    let plugins = first_party_plugins()?;
    for plugin in &plugins {
        args.extend(["-p", &plugin.package]);
    }
    cargo_build(&args)?;
    Ok(target_dir().join(PROFILE))
}

/// Runs `cargo args` (a build of the dist profile) with [`rustflags`].
pub fn cargo_build(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let flags = rustflags()?;
    sh_with_env(&cargo, args, &[("CARGO_ENCODED_RUSTFLAGS", &flags)])
}

/// `CARGO_ENCODED_RUSTFLAGS` for the dist build: the user's `RUSTFLAGS`, then a
/// `--remap-path-prefix` for each folder of this machine that sources are compiled from, the
/// longest last (rustc applies the last that matches).
pub fn rustflags() -> Result<String, String> {
    let mut flags: Vec<String> = match std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        Ok(encoded) if !encoded.is_empty() => encoded.split('\x1f').map(str::to_owned).collect(),
        _ => std::env::var("RUSTFLAGS")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    };
    for (from, to) in remapped_folders()? {
        let from = from.to_str().ok_or_else(|| format!("{}: not UTF-8", from.display()))?;
        flags.push(format!("--remap-path-prefix={from}={to}"));
    }
    Ok(flags.join("\x1f"))
}

/// The folders whose paths a build would embed, and the fixed names they become: `$CARGO_HOME`
/// (registry sources), the toolchain (`rustc --print sysroot`; the name its standard library is
/// already remapped to), the checkout and the target folder. Each as given and as resolved,
/// sorted by length.
fn remapped_folders() -> Result<Vec<(PathBuf, String)>, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let sysroot = rustc_output(&rustc, &["--print", "sysroot"])?;
    let commit = rustc_output(&rustc, &["-vV"])?
        .lines()
        .find_map(|line| line.strip_prefix("commit-hash: ").map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let mut folders = vec![
        (PathBuf::from(sysroot), format!("/rustc/{commit}")),
        (workspace(), "/prefectctl".to_owned()),
        (target_dir(), "/prefectctl/target".to_owned()),
    ];
    folders.extend(cargo_home.map(|home| (home, "/cargo".to_owned())));
    let resolved: Vec<(PathBuf, String)> = folders
        .iter()
        .filter_map(|(path, to)| Some((path.canonicalize().ok()?, to.clone())))
        .collect();
    folders.extend(resolved);
    folders.sort_by_key(|(path, _)| path.as_os_str().len());
    folders.dedup();
    Ok(folders)
}

fn rustc_output(rustc: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(rustc)
        .args(args)
        .output()
        .map_err(|err| format!("could not run {rustc}: {err}"))?;
    if !out.status.success() {
        return Err(format!("`{rustc} {}` failed", args.join(" ")));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The files of an installation prefix, from the dist build in `built`.
pub fn prefix_files(built: &Path) -> Result<Archive, String> {
    let mut files = Archive::default();
    let host = built.join("prefectctl");
    files.add("bin/prefectctl", read(&host)?, true);
    for plugin in first_party_plugins()? {
        let library = read(&built.join(&plugin.library))?;
        files.add(&format!("lib/prefectctl/plugins/{}", plugin.library), library, true);
    }
    add_completions(&mut files, &host)?;
    add_manual_pages(&mut files, &host)?;
    add_folder(&mut files, &workspace().join("docs/values"), "share/doc/prefectctl/values")?;
    add_sdk_sources(&mut files)?;
    Ok(files)
}

/// Where the SDK's sources go in a prefix: `plugins new` looks for them there.
pub const SDK_SOURCES: &str = "share/prefectctl/crates";

/// The crates plugin authors depend on, as `cargo package` writes them for a registry (every
/// manifest whole, asking for its siblings by version), one folder each; `plugins new` patches
/// crates.io's with them.
fn add_sdk_sources(files: &mut Archive) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // A folder of this process's own: `cargo package` of several crates keeps the ones it made
    // as a local registry there while it works, and a second `dist` running at once (the tests
    // start several) removing or rewriting it made the first one fail to find its siblings.
    // Fresh each time, so that no older version's packages are found beside this build's.
    let out = target_dir().join("sdk-sources").join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&out);
    let out_arg = out.to_str().ok_or("the target folder's path is not UTF-8")?;
    let crates = published_crates()?;
    let mut args =
        vec!["package", "--quiet", "--no-verify", "--allow-dirty", "--target-dir", out_arg];
    for name in &crates {
        args.extend(["-p", name]);
    }
    sh_with_env(&cargo, &args, &[])?;
    for name in &crates {
        let dir = out.join("package");
        let crate_file = std::fs::read_dir(&dir)
            .map_err(|err| format!("cannot list {}: {err}", dir.display()))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| is_package_of(path, name))
            .ok_or_else(|| format!("cargo package wrote no {name}-<version>.crate"))?;
        add_package(files, &crate_file, name)?;
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(())
}

/// Whether `path` is `<name>-<version>.crate`.
fn is_package_of(path: &Path, name: &str) -> bool {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or_default();
    file.strip_suffix(".crate")
        .and_then(|stem| stem.strip_prefix(name))
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
}

/// The files of the package `crate_file` under `share/prefectctl/crates/<name>/`, but its
/// `Cargo.lock`: a dependency's lock file is not read, and the versions it names are whatever
/// the registry's index held when it was written.
fn add_package(files: &mut Archive, crate_file: &Path, name: &str) -> Result<(), String> {
    let gz = read(crate_file)?;
    let mut package = tar::Archive::new(flate2::read::GzDecoder::new(gz.as_slice()));
    let unreadable = |err: std::io::Error| format!("cannot read {}: {err}", crate_file.display());
    for entry in package.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(unreadable)?.to_string_lossy().into_owned();
        let Some((_, inside)) = path.split_once('/') else { continue };
        if inside == "Cargo.lock" {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(unreadable)?;
        files.add(&format!("{SDK_SOURCES}/{name}/{inside}"), bytes, false);
    }
    Ok(())
}

fn add_completions(files: &mut Archive, host: &Path) -> Result<(), String> {
    for (shell, path) in [
        ("bash", "share/bash-completion/completions/prefectctl"),
        ("zsh", "share/zsh/site-functions/_prefectctl"),
        ("fish", "share/fish/vendor_completions.d/prefectctl.fish"),
    ] {
        files.add(path, host_output(host, &["completions", shell])?, false);
    }
    Ok(())
}

fn add_manual_pages(files: &mut Archive, host: &Path) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("prefectctl-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.to_str().ok_or("the temporary folder's path is not UTF-8")?;
    host_output(host, &["man", "--dir", dir_arg])?;
    let added = add_folder(files, &dir, "share/man/man1");
    let _ = std::fs::remove_dir_all(&dir);
    added
}

/// Adds the files of `dir` (not its subfolders) under `prefix`.
pub fn add_folder(files: &mut Archive, dir: &Path, prefix: &str) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|err| format!("cannot list {}: {err}", dir.display()))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_file() {
            let name = entry.file_name();
            let name = name.to_str().ok_or_else(|| format!("{}: not UTF-8", path.display()))?;
            files.add(&format!("{prefix}/{name}"), read(&path)?, false);
        }
    }
    Ok(())
}

pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_told_by_name_and_version() {
        assert!(is_package_of(Path::new("p/prefect-plugin-sdk-0.1.0.crate"), "prefect-plugin-sdk"));
        assert!(!is_package_of(Path::new("prefect-plugin-sdk-0.1.0.crate"), "prefect-plugin"));
        assert!(!is_package_of(Path::new("prefect-plugin-sdk-0.1.0.tar"), "prefect-plugin-sdk"));
    }

    #[test]
    fn every_folder_of_this_machine_is_remapped_the_longest_last() {
        let flags = rustflags().unwrap();
        let flags: Vec<&str> = flags.split('\x1f').filter(|f| f.starts_with("--remap")).collect();
        let from = |flag: &str| flag.split_once('=').unwrap().1.rsplit_once('=').unwrap().0.len();
        assert!(flags.windows(2).all(|pair| from(pair[0]) <= from(pair[1])), "{flags:?}");
        let workspace = format!("--remap-path-prefix={}=/prefectctl", workspace().display());
        assert!(flags.contains(&workspace.as_str()), "{flags:?}");
        assert!(flags.iter().any(|f| f.ends_with("=/cargo")), "{flags:?}");
        assert!(flags.iter().any(|f| f.contains("=/rustc/")), "{flags:?}");
    }
}
