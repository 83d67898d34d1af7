//! `cargo xtask install --prefix DIR`, as the README tells users to install: the installed
//! `prefectctl` finds its plugins from anywhere, through a link too, and sees no test fixture.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    dist::{run, xtask},
    harness::{TempDir, prefectctl, workspace},
};

/// The first-party plugins' names: the folders under `plugins/`.
fn first_party() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join("plugins"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// `plugins list` of `host`, run from `dir` with no plugin path: the names it lists, failing
/// if it warns about anything.
fn listed(host: &Path, dir: &Path) -> Vec<String> {
    let out = Command::new(host)
        .current_dir(dir)
        .args(["plugins", "list"])
        .env_remove("PREFECTCTL_PLUGIN_PATH")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{}: {stderr}", host.display());
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().skip(1).map(|line| line.split_whitespace().next().unwrap().to_owned()).collect()
}

#[test]
fn an_installed_prefectctl_finds_its_plugins_and_no_fixtures() {
    if !crate::tier::runs(&[crate::tier::Tier::Dist]) {
        return;
    }
    let prefix = TempDir::new("install");
    let installed =
        xtask(&workspace(), &["install", "--prefix", prefix.path().to_str().unwrap()], &[]);
    assert_eq!(installed, prefix.path().join("bin/prefectctl"));
    let libraries: Vec<String> = std::fs::read_dir(prefix.path().join("lib/prefectctl/plugins"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(libraries.len(), first_party().len(), "{libraries:?}");

    // From another folder, by its path and through a link in a folder of PATH's kind.
    let elsewhere = TempDir::new("install-elsewhere");
    let link: PathBuf = elsewhere.path().join("prefectctl");
    std::os::unix::fs::symlink(&installed, &link).unwrap();
    let default_render = prefectctl(&["render"]).ok();
    for host in [&installed, &link] {
        assert_eq!(listed(host, elsewhere.path()), first_party(), "{}", host.display());
        assert_eq!(run(elsewhere.path(), host, &["render"]), default_render, "{}", host.display());
    }

    // `plugins new` takes the installed SDK.
    let made = run(elsewhere.path(), &link, &["plugins", "new", "hello"]);
    let sources = prefix.path().join("share/prefectctl/crates").canonicalize().unwrap();
    assert!(made.contains(&format!("It takes the SDK from {}.\n", sources.display())), "{made}");

    // Installing again replaces what is there.
    let again = xtask(&workspace(), &["install", "--prefix", prefix.path().to_str().unwrap()], &[]);
    assert_eq!(listed(&again, elsewhere.path()), first_party());
}
