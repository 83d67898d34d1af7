//! `cargo xtask dist` as two machines run it: two checkouts of `HEAD`, in folders of different
//! lengths, the second with a `$CARGO_HOME` of its own, build byte-identical archives, and no
//! file in them holds a path of either machine. The first is this checkout when it is clean
//! (in CI), else a clone: one or two dist builds from scratch, the slowest test of the dist
//! tier.

use std::path::{Path, PathBuf};

use crate::{
    dist::{run, unpack, xtask},
    harness::{TempDir, workspace},
};

/// Cargo's home on this machine: `$CARGO_HOME`, else `~/.cargo`.
fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cargo")
    })
}

/// Every file under `dir` that holds one of `paths`, with the path it holds.
fn files_holding(dir: &Path, paths: &[&Path]) -> Vec<String> {
    let listing = run(dir, Path::new("find"), &[".", "-type", "f"]);
    let mut found = Vec::new();
    for file in listing.lines() {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        for path in paths {
            let needle = path.to_str().unwrap().as_bytes();
            if bytes.windows(needle.len()).any(|window| window == needle) {
                found.push(format!("{file}: {}", path.display()));
            }
        }
    }
    found
}

#[test]
fn two_checkouts_in_different_folders_build_the_same_archive() {
    if !crate::tier::runs(&[crate::tier::Tier::Dist]) {
        return;
    }
    let machines = TempDir::new("reproducible");
    let one = machines.path().join("one/prefectctl");
    let two = machines.path().join("second-machine/home/builder/src/prefectctl");
    // The second machine's Cargo home holds the same registry (no download), under its own path.
    let home_two = machines.path().join("second-machine/home/builder/.cargo");
    std::fs::create_dir_all(&home_two).unwrap();
    std::os::unix::fs::symlink(cargo_home().join("registry"), home_two.join("registry")).unwrap();

    // The first machine is this checkout when it is HEAD as committed (CI's clean clone, whose
    // dist build the archive step already made): one build from scratch instead of two.
    let status = run(&workspace(), Path::new("git"), &["status", "--porcelain"]);
    let mut archives = Vec::new();
    if status.trim().is_empty() {
        archives.push(xtask(&workspace(), &["dist"], &[]));
    }
    let checkouts = [(&one, cargo_home()), (&two, home_two.clone())];
    for (checkout, home) in &checkouts[archives.len()..] {
        let from = workspace();
        let args = ["clone", "--quiet", "--shared", from.to_str().unwrap()];
        run(
            machines.path(),
            Path::new("git"),
            &[&args[..], &[checkout.to_str().unwrap()]].concat(),
        );
        let target = checkout.join("target");
        let env = [("CARGO_HOME", home.as_path()), ("CARGO_TARGET_DIR", target.as_path())];
        archives.push(xtask(checkout, &["dist"], &env));
    }
    let (bytes_one, bytes_two) =
        (std::fs::read(&archives[0]).unwrap(), std::fs::read(&archives[1]).unwrap());

    let unpacked = [machines.path().join("unpacked-one"), machines.path().join("unpacked-two")];
    let roots: Vec<PathBuf> = archives
        .iter()
        .zip(&unpacked)
        .map(|(archive, dir)| {
            std::fs::create_dir_all(dir).unwrap();
            unpack(archive, dir)
        })
        .collect();
    if bytes_one != bytes_two {
        let differ = std::process::Command::new("diff")
            .args(["-rq", roots[0].to_str().unwrap(), roots[1].to_str().unwrap()])
            .output()
            .unwrap();
        panic!("the two checkouts' archives differ:\n{}", String::from_utf8_lossy(&differ.stdout));
    }
    let (home_one, here) = (cargo_home(), workspace());
    let paths =
        [here.as_path(), one.as_path(), two.as_path(), home_one.as_path(), home_two.as_path()];
    let holding = files_holding(&roots[0], &paths);
    assert!(holding.is_empty(), "files that hold a path of the build machine:\n{holding:#?}");
}
