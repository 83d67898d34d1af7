//! Plugins from outside the repository: an executable plugin in Python (the same documents
//! over standard input and output), executables that misbehave, and checksum pins.

use expect_test::expect;

use crate::harness::{
    TempDir, built_by_cargo, cargo, examples_target, plugin_library, prefectctl, prefectctl_in,
    redact_paths, workspace,
};

fn team_labels() -> String {
    workspace().join("examples/team-labels/prefectctl-plugin-team-labels").display().to_string()
}

#[test]
fn a_python_plugin_labels_every_resource_and_pod() {
    let by_path = prefectctl(&[
        "--plugin",
        &team_labels(),
        "--plugin",
        "agent",
        "--set",
        "team-labels.labels.team=data",
        "render",
    ])
    .ok();
    let lines =
        |indent: &str| by_path.lines().filter(|l| *l == format!("{indent}team: data")).count();
    assert_eq!(lines("    "), 8, "every object:\n{by_path}");
    assert_eq!(lines("        "), 2, "the two pod templates:\n{by_path}");
    assert!(
        by_path.contains("# Source: added by agent; changed by team-labels (metadata.labels.team)"),
        "{by_path}"
    );

    // By name, from a plugin folder.
    let folder = workspace().join("examples/team-labels").display().to_string();
    let by_name = prefectctl(&[
        "--plugin-dir",
        &folder,
        "--plugin",
        "team-labels",
        "--plugin",
        "agent",
        "--set",
        "team-labels.labels.team=data",
        "render",
    ])
    .ok();
    assert_eq!(by_name, by_path);

    // Its values are validated against the schema its manifest declares, then by itself.
    let stderr =
        prefectctl(&["--plugin", &team_labels(), "--set", "team-labels.colour=red", "render"])
            .fails(2);
    assert!(
        stderr.contains("team-labels.colour: unknown key (keys are `labels`, `pods`)"),
        "{stderr}"
    );
    let stderr = prefectctl(&[
        "--plugin",
        &team_labels(),
        "--set",
        "team-labels.labels.team=not ok",
        "render",
    ])
    .fails(1);
    expect![[r#"
        error: plugin `team-labels`: --set team-labels.labels.team: team-labels.labels.team: a label value has at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit
    "#]].assert_eq(&stderr);
}

#[test]
fn executables_that_misbehave_are_clear_errors() {
    let dir = TempDir::new("executables");
    let failing = dir.write_executable(
        "prefectctl-plugin-failing",
        "#!/bin/sh\nif [ \"$1\" = manifest ]; then echo '{\"name\":\"failing\",\"version\":\"1\",\"protocolVersion\":1}'; exit 0; fi\necho 'cannot reach the vault' >&2\nexit 3\n",
    );
    let garbage = dir.write_executable("prefectctl-plugin-garbage", "#!/bin/sh\necho 'hello'\n");
    let not_executable = dir.write("prefectctl-plugin-plain", "#!/bin/sh\n");
    let mut errors = String::new();
    for path in [&failing, &garbage, &not_executable] {
        let stderr =
            prefectctl_in(dir.path(), &["--plugin", path.to_str().unwrap(), "render"]).fails(1);
        errors.push_str(&stderr.replace(&dir.path().display().to_string(), "$DIR"));
    }
    expect![[r#"
        error: plugin `failing` failed: `run` exited with status 3: cannot reach the vault
        error: $DIR/prefectctl-plugin-garbage: the plugin's manifest is not JSON (`manifest` must print the plugin's manifest; it printed "hello\n"): expected value at line 1 column 1
        error: $DIR/prefectctl-plugin-plain is neither a plugin library (*.so) nor an executable file: build the library, or make the program executable (chmod +x)
    "#]].assert_eq(&errors);
}

#[test]
fn pinned_checksums_are_checked_before_loading() {
    let server = plugin_library("server");
    let sha256 =
        std::process::Command::new("sha256sum").arg(&server).output().expect("sha256sum runs");
    let sha256 =
        String::from_utf8_lossy(&sha256.stdout).split_whitespace().next().unwrap().to_owned();
    prefectctl(&["--plugin-sha256", &format!("server={sha256}"), "render"]).ok();

    let wrong = "0".repeat(64);
    let stderr = prefectctl(&["--plugin-sha256", &format!("server={wrong}"), "render"]).fails(1);
    assert_eq!(
        redact_paths(&stderr).replace(&sha256, "$SHA256"),
        format!(
            "error: refusing to load plugin `server`: $TARGET/libprefectctl_plugin_server.so has SHA-256 $SHA256, but the release pins {wrong} (--plugin-sha256 or global.pluginSha256); check where this file came from, or update the pin if the plugin was upgraded on purpose\n"
        )
    );
    // The same pin in the values.
    let dir = TempDir::new("pins");
    dir.write("values.yaml", &format!("global:\n  pluginSha256:\n    server: \"{wrong}\"\n"));
    let stderr = prefectctl_in(dir.path(), &["-f", "values.yaml", "render"]).fails(1);
    assert!(stderr.contains("refusing to load plugin `server`"), "{stderr}");

    let stderr = prefectctl(&["--plugin-sha256", "server=abc", "render"]).fails(2);
    assert_eq!(
        stderr,
        "error: --plugin-sha256 server=abc: write it as NAME=HEX, with the 64 hex digits sha256sum prints\n"
    );
}

/// A plugin built outside this workspace, against the SDK only: loaded by path and, copied
/// into a plugin folder, by name.
#[test]
fn a_plugin_from_outside_the_repository_adds_and_changes_resources() {
    let library = crate::harness::example_plugin();
    let out =
        prefectctl(&["--plugin", library.to_str().unwrap(), "--plugin", "agent", "render"]).ok();
    assert!(out.contains("# Source: added by network-policy\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"), "{out}");
    assert!(out.contains("# Source: added by agent; changed by network-policy (spec.template.metadata.labels[\"prefectctl.io/prefect-api-client\"])"), "{out}");

    let folder = TempDir::new("plugin-folder");
    std::fs::copy(&library, folder.path().join(library.file_name().unwrap())).unwrap();
    let dir = folder.path().display().to_string();
    let by_name = prefectctl(&[
        "--plugin-dir",
        &dir,
        "--plugin",
        "network-policy",
        "--plugin",
        "agent",
        "render",
    ])
    .ok();
    assert_eq!(by_name, out);

    // Any file name, given as a path relative to the working directory, with or without `./`.
    std::fs::copy(&library, folder.path().join("libmy_plugin.so")).unwrap();
    for path in ["./libmy_plugin.so", "libmy_plugin.so"] {
        let by_path =
            prefectctl_in(folder.path(), &["--plugin", path, "--plugin", "agent", "render"]);
        assert_eq!(by_path.ok(), out, "--plugin {path}");
    }
}

#[test]
fn plugins_new_makes_a_crate_that_passes_its_tests_and_loads() {
    if !crate::tier::runs(&[crate::tier::Tier::Scaffold]) {
        return;
    }
    let home = TempDir::new("plugins-new");
    // As the tutorial says, with no flags: a build in a checkout takes the checkout's SDK.
    let made = prefectctl_in(home.path(), &["plugins", "new", "ops-notes"]).ok();
    let crates = workspace().join("crates").canonicalize().unwrap();
    assert!(
        made.starts_with(&format!(
            "Created the plugin `ops-notes` in prefectctl-plugin-ops-notes.\nIt takes the SDK \
             from {}.\n",
            crates.display()
        )),
        "{made}"
    );
    let crate_dir = home.path().join("prefectctl-plugin-ops-notes");
    // The dependency versions this workspace is tested with, not whatever crates.io has today.
    std::fs::copy(workspace().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    cargo(&crate_dir, &["fmt", "--", "--check"]);
    cargo(&crate_dir, &["test", "--quiet", "--target-dir", &examples_target()]);
    cargo(&crate_dir, &["build", "--quiet", "--target-dir", &examples_target()]);

    let library = built_by_cargo(std::path::Path::new(&examples_target()), "ops-notes");
    let values =
        ["--set", "ops-notes.data.owner=ops", "--set", "ops-notes.podAnnotations.team=ops"];
    let by_path =
        prefectctl(&[&["--plugin", library.to_str().unwrap(), "render"][..], &values].concat())
            .ok();
    assert!(
        by_path.contains(
            "# Source: added by ops-notes\napiVersion: v1\nkind: ConfigMap\ndata:\n  owner: ops\n"
        ),
        "{by_path}"
    );
    assert!(
        by_path.contains(
            "# Source: added by server; changed by ops-notes (spec.template.metadata.annotations)"
        ),
        "{by_path}"
    );

    let folder = TempDir::new("plugins-new-folder");
    std::fs::copy(&library, folder.path().join(library.file_name().unwrap())).unwrap();
    let dir = folder.path().display().to_string();
    let by_name = prefectctl(
        &[&["--plugin-dir", &dir, "--plugin", "ops-notes", "render"][..], &values].concat(),
    )
    .ok();
    assert_eq!(by_name, by_path);

    let again = prefectctl_in(home.path(), &["plugins", "new", "ops-notes"]).fails(2);
    assert_eq!(
        again,
        "error: prefectctl-plugin-ops-notes already exists and is not empty: give another folder with --path, or remove it\n"
    );
}
