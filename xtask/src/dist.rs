//! `cargo xtask dist`: the release archive `target/distrib/prefectctl-<version>-<target>.tar.gz`
//! and `target/distrib/SHA256SUMS`.
//!
//! The archive holds one folder, laid out as an installation prefix, so that the host finds its
//! plugins with no flags (`../lib/prefectctl/plugins` beside the executable):
//!
//! ```text
//! prefectctl-0.1.0-x86_64-unknown-linux-gnu/
//!   bin/prefectctl
//!   lib/prefectctl/plugins/libprefectctl_plugin_<name>.so   (every crate under plugins/)
//!   share/bash-completion/completions/prefectctl
//!   share/zsh/site-functions/_prefectctl
//!   share/fish/vendor_completions.d/prefectctl.fish
//!   share/man/man1/prefectctl.1, prefectctl-<subcommand>.1, ...
//!   share/doc/prefectctl/values/<plugin>.md                 (the values reference, docs/values)
//!   README.md, LICENSE
//!   SHA256SUMS                                              (of every file above)
//! ```
//!
//! Entries are written by [`crate::archive`], so building twice gives the same bytes; the time
//! stamped on them is `$SOURCE_DATE_EPOCH`, else the time of the commit being built.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use sha2::{Digest, Sha256};

use crate::{
    archive::Archive,
    project::{first_party_plugins, host_output, package_field, target_dir},
    sh, workspace,
};

/// The Cargo profile the archive is built with (a release build without symbol tables).
const PROFILE: &str = "dist";

pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask dist".to_owned());
    }
    let version = package_field(&workspace().join("crates/prefectctl/Cargo.toml"), "version")?;
    let target = host_target()?;
    let plugins = first_party_plugins()?;

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = vec!["build", "--locked", "--profile", PROFILE, "-p", "prefectctl"];
    for plugin in &plugins {
        build.extend(["-p", &plugin.package]);
    }
    sh(&cargo, &build)?;

    let built = target_dir().join(PROFILE);
    let mut archive = Archive::default();
    let host = built.join("prefectctl");
    archive.add("bin/prefectctl", read(&host)?, true);
    for plugin in &plugins {
        let library = read(&built.join(&plugin.library))?;
        archive.add(&format!("lib/prefectctl/plugins/{}", plugin.library), library, true);
    }
    add_completions(&mut archive, &host)?;
    add_manual_pages(&mut archive, &host)?;
    add_values_reference(&mut archive)?;
    archive.add("README.md", read(&workspace().join("README.md"))?, false);
    archive.add("LICENSE", read(&workspace().join("LICENSE"))?, false);
    let sums: String = archive.files().map(|(path, bytes)| sum_line(bytes, path)).collect();
    archive.add("SHA256SUMS", sums.into_bytes(), false);

    let name = format!("prefectctl-{version}-{target}");
    let tar_gz = archive
        .to_tar_gz(&name, source_date_epoch()?)
        .map_err(|err| format!("cannot write the archive: {err}"))?;
    let out = target_dir().join("distrib");
    std::fs::create_dir_all(&out)
        .map_err(|err| format!("cannot create {}: {err}", out.display()))?;
    let path = out.join(format!("{name}.tar.gz"));
    write(&path, &tar_gz)?;
    write_sums(&out)?;
    eprintln!("{} bytes, sha256 {}", tar_gz.len(), hex_sha256(&tar_gz));
    println!("{}", path.display());
    Ok(())
}

/// The target triple rustc builds for by default (`x86_64-unknown-linux-gnu`).
fn host_target() -> Result<String, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .map_err(|err| format!("could not run {rustc}: {err}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| format!("`{rustc} -vV` does not say its host target"))
}

fn add_completions(archive: &mut Archive, host: &Path) -> Result<(), String> {
    for (shell, path) in [
        ("bash", "share/bash-completion/completions/prefectctl"),
        ("zsh", "share/zsh/site-functions/_prefectctl"),
        ("fish", "share/fish/vendor_completions.d/prefectctl.fish"),
    ] {
        archive.add(path, host_output(host, &["completions", shell])?, false);
    }
    Ok(())
}

fn add_manual_pages(archive: &mut Archive, host: &Path) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("prefectctl-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.to_str().ok_or("the temporary folder's path is not UTF-8")?;
    host_output(host, &["man", "--dir", dir_arg])?;
    let added = add_folder(archive, &dir, "share/man/man1");
    let _ = std::fs::remove_dir_all(&dir);
    added
}

/// The values reference `cargo xtask docs` keeps in `docs/values`.
fn add_values_reference(archive: &mut Archive) -> Result<(), String> {
    add_folder(archive, &workspace().join("docs/values"), "share/doc/prefectctl/values")
}

/// Adds the files of `dir` (not its subfolders) under `prefix`.
fn add_folder(archive: &mut Archive, dir: &Path, prefix: &str) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|err| format!("cannot list {}: {err}", dir.display()))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_file() {
            let name = entry.file_name();
            let name = name.to_str().ok_or_else(|| format!("{}: not UTF-8", path.display()))?;
            archive.add(&format!("{prefix}/{name}"), read(&path)?, false);
        }
    }
    Ok(())
}

/// `$SOURCE_DATE_EPOCH` (the reproducible-builds convention), else the commit time of `HEAD`,
/// else 0.
fn source_date_epoch() -> Result<u64, String> {
    if let Ok(text) = std::env::var("SOURCE_DATE_EPOCH") {
        return text
            .trim()
            .parse()
            .map_err(|_| format!("SOURCE_DATE_EPOCH={text}: not a number of seconds"));
    }
    let commit_time = Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .current_dir(workspace())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok());
    Ok(commit_time.unwrap_or(0))
}

/// `target/distrib/SHA256SUMS`: one line per archive in the folder, as `sha256sum -c` reads.
fn write_sums(dir: &Path) -> Result<(), String> {
    let mut archives: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|err| format!("cannot list {}: {err}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_str().is_some_and(|p| p.ends_with(".tar.gz")))
        .collect();
    archives.sort();
    let mut sums = String::new();
    for path in archives {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        sums.push_str(&sum_line(&read(&path)?, &name));
    }
    write(&dir.join("SHA256SUMS"), sums.as_bytes())
}

fn sum_line(bytes: &[u8], name: &str) -> String {
    format!("{}  {name}\n", hex_sha256(bytes))
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|err| format!("cannot write {}: {err}", path.display()))
}
