//! `cargo xtask dist`: the release archive `target/distrib/prefectctl-<version>-<target>.tar.gz`
//! and `target/distrib/SHA256SUMS`.
//!
//! The archive holds one folder, laid out as an installation prefix (see [`crate::shipped`]),
//! so that the host finds its plugins and `plugins new` the SDK's sources with no flags, and
//! beside it `README.md`, `LICENSE` and `SHA256SUMS` (of every file in the archive).
//!
//! The build is reproducible across machines (paths remapped, [`crate::shipped::rustflags`]).
//! Entries are written by [`crate::archive`], so building twice gives the same bytes; the time
//! stamped on them is `$SOURCE_DATE_EPOCH`, else the time of the commit being built.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use sha2::{Digest, Sha256};

use crate::{
    project::{package_field, target_dir},
    shipped::{self, read},
    workspace,
};

pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask dist".to_owned());
    }
    let version = package_field(&workspace().join("crates/prefectctl/Cargo.toml"), "version")?;
    let target = host_target()?;
    let built = shipped::build()?;
    let mut archive = shipped::prefix_files(&built)?;
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

/// Writes `bytes` to `path` through a file of this process beside it, renamed over it: two
/// `dist` runs at once (the tests start several) never read each other's half-written archive.
fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let partial = path.with_file_name(format!(".{name}.{}", std::process::id()));
    std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, path)).map_err(|err| {
        let _ = std::fs::remove_file(&partial);
        format!("cannot write {}: {err}", path.display())
    })
}
