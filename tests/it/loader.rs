//! Plugin libraries that are broken in each way the loader must survive: each is a clear error
//! naming the library or plugin, exit code 1, never a crash.

use expect_test::{Expect, expect};

use crate::harness::{TempDir, plugin_library, prefectctl, redact_paths};

fn check_render_fails(plugins: &[&str], expect: Expect) {
    check_render_fails_with(plugins, 1, expect);
}

/// [`check_render_fails`] with exit code `code`.
fn check_render_fails_with(plugins: &[&str], code: i32, expect: Expect) {
    let mut args = Vec::new();
    for plugin in plugins {
        args.extend(["--plugin", plugin]);
    }
    args.push("render");
    let stderr = prefectctl(&args).fails(code);
    expect.assert_eq(&redact_paths(&stderr));
}

#[test]
fn a_library_that_is_not_a_plugin() {
    let lib = plugin_library("fixture-not-a-plugin");
    check_render_fails(
        &[lib.to_str().unwrap()],
        expect![[r#"
            error: $TARGET/libprefectctl_plugin_fixture_not_a_plugin.so is not a prefectctl plugin: it exports no plugin root module (a plugin crate calls `prefect_plugin_sdk::export_plugin!`)
        "#]],
    );
}

#[test]
fn a_file_that_is_not_a_library() {
    let dir = TempDir::new("not-a-library");
    let fake = dir.write("libprefectctl_plugin_fake.so", "this is text, not ELF\n");
    let stderr = prefectctl(&["--plugin", fake.to_str().unwrap(), "render"]).fails(1);
    let expected = format!("error: {} could not be loaded as a library: ", fake.display());
    assert!(stderr.starts_with(&expected), "{stderr}");
}

#[test]
fn a_plugin_speaking_a_newer_protocol() {
    let lib = plugin_library("fixture-wrong-protocol");
    check_render_fails(
        &[lib.to_str().unwrap()],
        expect![[r#"
            error: $TARGET/libprefectctl_plugin_fixture_wrong_protocol.so speaks plugin protocol 99, and this prefectctl speaks 1 to 1: upgrade prefectctl, or use a build of the plugin for this prefectctl
        "#]],
    );
}

#[test]
fn a_plugin_that_panics() {
    let lib = plugin_library("fixture-panics");
    check_render_fails(
        &[lib.to_str().unwrap()],
        expect![[r#"
            error: plugin `fixture-panics`: panicked at tests/fixtures/panics/src/lib.rs:30: the fixture panics on purpose
        "#]],
    );
}

#[test]
fn a_plugin_that_returns_invalid_items() {
    let lib = plugin_library("fixture-invalid-items");
    check_render_fails(
        &[lib.to_str().unwrap()],
        expect![[r#"
        error: plugin `fixture-invalid-items`: ConfigMap/default/Bad_Name (items[0]): metadata.name "Bad_Name" is not a valid name: use lower-case letters, digits, '-' and '.'
        error: plugin `fixture-invalid-items`: items[1]: kind is missing: set it to the object's kind, such as "Deployment"
        error: Service/default/prefect-server is added by both `server` and `fixture-invalid-items`: a plugin that means to change another's resource returns it in `changed`; otherwise rename one of them
    "#]],
    );
}

#[test]
fn unknown_plugin_names_and_broken_libraries_are_all_reported() {
    let lib = plugin_library("fixture-not-a-plugin");
    // Exit 2: a --plugin names nothing, a rejected flag, whatever else failed.
    check_render_fails_with(
        &["nope", lib.to_str().unwrap()],
        2,
        expect![[r#"
            error: $TARGET/libprefectctl_plugin_fixture_not_a_plugin.so is not a prefectctl plugin: it exports no plugin root module (a plugin crate calls `prefect_plugin_sdk::export_plugin!`)
            error: plugin `nope` not found: looked for libprefectctl_plugin_nope.so or prefectctl-plugin-nope in $TARGET, $TARGET/../lib/prefectctl/plugins; pass --plugin-dir DIR, set PREFECTCTL_PLUGIN_PATH, or give the plugin's path
        "#]],
    );
}

/// The compatibility promise: a plugin written for protocol 1 (by hand, without the SDK, its
/// source kept as it was) keeps loading and running, whatever the host sends beside what it
/// knows.
#[test]
fn a_plugin_built_for_protocol_1_keeps_working() {
    let lib = plugin_library("fixture-protocol-v1");
    let out = prefectctl(&[
        "--plugin",
        lib.to_str().unwrap(),
        "--set",
        "fixture-protocol-v1.greeting=hi",
        "render",
    ])
    .ok();
    assert!(
        out.contains("# Source: added by fixture-protocol-v1\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: prefect-protocol-v1\n  namespace: default\ndata:\n  greeting: hi\n"),
        "{out}"
    );
    let described = prefectctl(&["plugins", "describe", lib.to_str().unwrap()]).ok();
    assert!(described.contains("protocol:    1\n"), "{described}");
}

/// Removal is an optional field of the response: the protocol-1 plugin, which never sends it,
/// renders as before, and a later plugin (an executable transformer here) removes what the
/// protocol-1 plugin added; the output says which plugin removed what.
#[test]
fn a_later_plugin_removes_what_a_protocol_1_plugin_added() {
    let lib = plugin_library("fixture-protocol-v1");
    let dir = TempDir::new("removal");
    let slim = dir.write_executable(
        "prefectctl-plugin-slim",
        "#!/bin/sh\n\
         if [ \"$1\" = manifest ]; then\n\
         echo '{\"name\":\"slim\",\"version\":\"1\",\"protocolVersion\":1,\"kind\":\"transformer\"}'\n\
         exit 0\n\
         fi\n\
         cat >/dev/null\n\
         echo '{\"removed\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"namespace\":\"default\",\"name\":\"prefect-protocol-v1\"}]}'\n",
    );
    let out = prefectctl(&[
        "--plugin",
        lib.to_str().unwrap(),
        "--plugin",
        slim.to_str().unwrap(),
        "render",
    ])
    .ok();
    assert!(!out.contains("name: prefect-protocol-v1"), "{out}");
    assert!(
        out.ends_with(
            "\n# Removed: ConfigMap/default/prefect-protocol-v1 (added by fixture-protocol-v1; \
             removed by slim)\n"
        ),
        "{out}"
    );
}

#[test]
fn a_library_of_another_layout_is_refused_before_any_call() {
    let lib = plugin_library("fixture-wrong-layout");
    check_render_fails(
        &[lib.to_str().unwrap()],
        expect![[r#"
        error: $TARGET/libprefectctl_plugin_fixture_wrong_layout.so was built against an incompatible plugin ABI: the root module's layout differs from this host's; rebuild it against prefect-plugin-abi 1.x
    "#]],
    );
}
