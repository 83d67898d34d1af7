//! The release archive `cargo xtask dist` builds, unpacked and used as a user would.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use expect_test::expect;

use crate::harness::{TempDir, built_by_cargo, cargo, examples_target, prefectctl, workspace};

/// Runs `cargo xtask dist` and returns the archive's path (the last line it prints).
fn dist() -> PathBuf {
    xtask(&workspace(), &["dist"], &[])
}

/// Runs `cargo xtask args` in the checkout `checkout` with the variables `env`, and returns the
/// last line it prints (the path of what it made).
pub fn xtask(checkout: &Path, args: &[&str], env: &[(&str, &Path)]) -> PathBuf {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(checkout)
        .arg("xtask")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo xtask {} in {} failed:\n{}",
        args.join(" "),
        checkout.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(stdout.lines().last().expect("xtask prints the path of what it made"))
}

/// Unpacks the archive `tar_gz` into `dir` and returns the folder it holds.
pub fn unpack(tar_gz: &Path, dir: &Path) -> PathBuf {
    run(dir, Path::new("tar"), &["-xzf", tar_gz.to_str().unwrap()]);
    let name = tar_gz.file_name().unwrap().to_str().unwrap().trim_end_matches(".tar.gz");
    dir.join(name)
}

/// Runs `program args` in `dir` and returns its standard output, failing the test if it fails.
pub fn run(dir: &Path, program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .env_remove("PREFECTCTL_PLUGIN_PATH")
        .output()
        .unwrap_or_else(|err| panic!("{} runs: {err}", program.display()));
    assert!(
        out.status.success(),
        "`{} {}` failed:\n{}",
        program.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_release_archive_is_reproducible_and_renders_from_where_it_is_unpacked() {
    if !crate::tier::runs(&[crate::tier::Tier::Dist]) {
        return;
    }
    let archive = dist();
    let bytes = std::fs::read(&archive).unwrap();
    assert!(std::fs::read(dist()).unwrap() == bytes, "two builds of {} differ", archive.display());
    let distrib = archive.parent().unwrap();
    run(distrib, Path::new("sha256sum"), &["--check", "--quiet", "SHA256SUMS"]);

    let tar = Path::new("tar");
    let listing =
        run(distrib, tar, &["--numeric-owner", "--full-time", "-tvzf", archive.to_str().unwrap()]);
    let first_time = listing.split_whitespace().nth(3).unwrap().to_owned();
    for line in listing.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[1], "0/0", "owned by root, without names: {line}");
        assert_eq!(fields[3], first_time, "one timestamp for every entry: {line}");
        assert!(matches!(fields[0], "drwxr-xr-x" | "-rwxr-xr-x" | "-rw-r--r--"), "{line}");
    }

    let home = TempDir::new("dist");
    let root = unpack(&archive, home.path());
    let files = run(&root, Path::new("find"), &[".", "-type", "f"]);
    let mut files: Vec<&str> = files.lines().map(|f| f.trim_start_matches("./")).collect();
    files.sort();
    // The SDK's sources, by their manifests (the tutorial below builds them).
    let shown = |file: &str| {
        let inside = file.strip_prefix("share/prefectctl/crates/");
        inside.is_none_or(|inside| inside.split_once('/').is_some_and(|(_, f)| f == "Cargo.toml"))
    };
    expect![[r#"
        LICENSE
        README.md
        SHA256SUMS
        bin/prefectctl
        lib/prefectctl/plugins/libprefectctl_plugin_agent.so
        lib/prefectctl/plugins/libprefectctl_plugin_dask_rbac.so
        lib/prefectctl/plugins/libprefectctl_plugin_metrics.so
        lib/prefectctl/plugins/libprefectctl_plugin_network_policy.so
        lib/prefectctl/plugins/libprefectctl_plugin_openshift_security.so
        lib/prefectctl/plugins/libprefectctl_plugin_postgres.so
        lib/prefectctl/plugins/libprefectctl_plugin_redis.so
        lib/prefectctl/plugins/libprefectctl_plugin_server.so
        share/bash-completion/completions/prefectctl
        share/doc/prefectctl/values/README.md
        share/doc/prefectctl/values/agent.md
        share/doc/prefectctl/values/dask-rbac.md
        share/doc/prefectctl/values/global.md
        share/doc/prefectctl/values/metrics.md
        share/doc/prefectctl/values/network-policy.md
        share/doc/prefectctl/values/openshift-security.md
        share/doc/prefectctl/values/postgres.md
        share/doc/prefectctl/values/redis.md
        share/doc/prefectctl/values/server.md
        share/fish/vendor_completions.d/prefectctl.fish
        share/man/man1/prefectctl-apply.1
        share/man/man1/prefectctl-completions.1
        share/man/man1/prefectctl-diff.1
        share/man/man1/prefectctl-doctor.1
        share/man/man1/prefectctl-get-manifest.1
        share/man/man1/prefectctl-get-values.1
        share/man/man1/prefectctl-get.1
        share/man/man1/prefectctl-history.1
        share/man/man1/prefectctl-list.1
        share/man/man1/prefectctl-plugins-describe.1
        share/man/man1/prefectctl-plugins-list.1
        share/man/man1/prefectctl-plugins-new.1
        share/man/man1/prefectctl-plugins.1
        share/man/man1/prefectctl-render.1
        share/man/man1/prefectctl-rollback.1
        share/man/man1/prefectctl-status.1
        share/man/man1/prefectctl-uninstall.1
        share/man/man1/prefectctl-values-import.1
        share/man/man1/prefectctl-values.1
        share/man/man1/prefectctl.1
        share/prefectctl/crates/prefect-manifest/Cargo.toml
        share/prefectctl/crates/prefect-plugin-abi/Cargo.toml
        share/prefectctl/crates/prefect-plugin-host/Cargo.toml
        share/prefectctl/crates/prefect-plugin-sdk/Cargo.toml
        share/prefectctl/crates/prefect-plugin-test/Cargo.toml
        share/prefectctl/crates/prefect-values/Cargo.toml
        share/zsh/site-functions/_prefectctl
    "#]]
    .assert_eq(&(files.iter().copied().filter(|f| shown(f)).collect::<Vec<_>>().join("\n") + "\n"));
    run(&root, Path::new("sha256sum"), &["--check", "--quiet", "SHA256SUMS"]);

    // From another folder, with no flags and no plugin path: the host finds its plugins.
    let host = root.join("bin/prefectctl");
    let rendered = run(home.path(), &host, &["render"]);
    assert_eq!(rendered, prefectctl(&["render"]).ok(), "the archive renders what the build does");
    let stack = run(home.path(), &host, &["--plugin", "postgres", "--plugin", "agent", "render"]);
    assert!(stack.contains("# Source: added by postgres\n"), "{stack}");

    let sums = std::fs::read_to_string(root.join("SHA256SUMS")).unwrap();
    let listed = run(home.path(), &host, &["plugins", "list"]);
    for line in listed.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (sha256, path) = (fields[4], Path::new(fields[5]));
        let file = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(path.parent().unwrap(), root.join("bin/../lib/prefectctl/plugins"), "{line}");
        assert!(sums.contains(&format!("{sha256}  lib/prefectctl/plugins/{file}\n")), "{line}");
    }
    let libraries = files.iter().filter(|f| f.starts_with("lib/prefectctl/plugins/")).count();
    assert_eq!(listed.lines().count(), 1 + libraries, "every plugin of the archive:\n{listed}");

    let man = std::fs::read_to_string(root.join("share/man/man1/prefectctl-render.1")).unwrap();
    assert!(man.contains(".TH prefectctl-render 1"), "{man}");
    let bash =
        std::fs::read_to_string(root.join("share/bash-completion/completions/prefectctl")).unwrap();
    assert!(bash.contains("-F _clap_complete_prefectctl prefectctl"), "{bash}");
}

/// The plugin tutorial (README's "Writing plugins", the SDK's crate doc) as written, with the
/// `prefectctl` of the unpacked archive and no checkout: `plugins new` takes the SDK from the
/// sources the archive ships, the new crate's tests pass offline, and its library loads.
#[test]
fn the_plugin_tutorial_runs_from_the_unpacked_archive() {
    if !crate::tier::runs(&[crate::tier::Tier::Dist]) {
        return;
    }
    let archive = dist();
    let home = TempDir::new("tutorial");
    let root = unpack(&archive, home.path());
    let host = root.join("bin/prefectctl");
    let made = run(home.path(), &host, &["plugins", "new", "hello"]);
    let sources = root.join("share/prefectctl/crates").canonicalize().unwrap();
    assert!(made.contains(&format!("It takes the SDK from {}.\n", sources.display())), "{made}");

    // `cargo test`, as written; offline (the SDK is the archive's, its dependencies Cargo's
    // cache), in the target folder the examples share, whose dependencies are built.
    let crate_dir = home.path().join("prefectctl-plugin-hello");
    let target = examples_target();
    cargo(&crate_dir, &["test", "--offline", "--quiet", "--target-dir", &target]);
    cargo(&crate_dir, &["build", "--offline", "--quiet", "--target-dir", &target]);
    let library = built_by_cargo(Path::new(&target), "hello");
    let args = ["--plugin", library.to_str().unwrap(), "--set", "hello.data.greeting=hi", "render"];
    let rendered = run(home.path(), &host, &args);
    assert!(
        rendered.contains(
            "# Source: added by hello\napiVersion: v1\nkind: ConfigMap\ndata:\n  greeting: hi\n"
        ),
        "{rendered}"
    );
}
