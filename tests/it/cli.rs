//! The command line as a user meets it: bad values, bad flags, flag order, and the commands
//! that describe the stack.

use expect_test::{Expect, expect};

use crate::harness::{TempDir, prefectctl, prefectctl_env, prefectctl_in, redact_paths};

/// Runs `prefectctl ARGS` in a folder holding `files`, expects exit code `code` and compares
/// standard error.
fn check_error(files: &[(&str, &str)], args: &[&str], code: i32, expect: Expect) {
    let dir = TempDir::new("cli");
    for (name, text) in files {
        dir.write(name, text);
    }
    let stderr = prefectctl_in(dir.path(), args).fails(code);
    expect.assert_eq(&redact_paths(&stderr));
}

#[test]
fn values_file_problems_are_all_reported_with_file_line_and_path() {
    check_error(
        &[(
            "values.yaml",
            "server:\n  replicaCount: many\n  ingres:\n    enabled: true\nglobal:\n  prefect:\n    image:\n      pullPolicy: sometimes\n",
        )],
        &["-f", "values.yaml", "render"],
        2,
        expect![[r#"
            error: values.yaml:2: server.replicaCount: expected integer, found string "many"
            error: values.yaml:3: server.ingres: unknown key (did you mean `ingress`?)
            error: values.yaml:8: global.prefect.image.pullPolicy: expected one of "Always", "IfNotPresent", "Never", found "sometimes"
        "#]],
    );
}

#[test]
fn a_misspelt_section_gets_a_suggestion() {
    check_error(
        &[("v.yaml", "sever:\n  replicaCount: 1\n")],
        &["render", "-f", "v.yaml"],
        2,
        expect![[r#"
        error: v.yaml:1: sever: unknown section (did you mean `server`?)
    "#]],
    );
}

#[test]
fn yaml_syntax_errors_name_the_file_and_line() {
    check_error(
        &[("bad.yaml", "server:\n  replicaCount: [1\n")],
        &["-f", "bad.yaml", "render"],
        2,
        expect![[r#"
        error: bad.yaml:2:17: invalid YAML: unclosed bracket '['
    "#]],
    );
}

#[test]
fn a_missing_values_file_is_an_input_error() {
    check_error(
        &[],
        &["-f", "missing.yaml", "render"],
        2,
        expect![[r#"
            error: cannot read values file missing.yaml: No such file or directory (os error 2) (check the path given to -f/--values)
        "#]],
    );
}

#[test]
fn bad_set_arguments_are_input_errors() {
    check_error(
        &[],
        &["render", "--set", "server.replicaCount", "--set", "server.image[x]=1"],
        2,
        expect![[r#"
            error: --set server.replicaCount: missing "=" (use --set KEY=VALUE)
            error: --set server.image[x]: bad list index "x" in "server.image[x]" (use a number such as KEY[0]=VALUE)
        "#]],
    );
}

#[test]
fn set_values_are_validated_and_named_by_their_flag() {
    check_error(
        &[],
        &["render", "--set", "server.replicaCount=abc"],
        2,
        expect![[r#"
            error: --set server.replicaCount: server.replicaCount: expected integer, found string "abc"
        "#]],
    );
}

#[test]
fn bad_release_and_namespace_names() {
    check_error(
        &[],
        &["render", "--release", "Prefect_1", "--namespace=-bad"],
        2,
        expect![[r#"
            error: --release "Prefect_1" is not a valid release name: use at most 53 lower-case letters, digits and '-', starting with a letter and ending with a letter or digit
            error: --namespace "-bad" is not a valid namespace: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit
        "#]],
    );
}

#[test]
fn unknown_plugin_name() {
    // Exit 2 like any other rejected flag, as the README promises.
    let stderr = prefectctl(&["--plugin", "no-such-plugin", "render"]).fails(2);
    expect![[r#"
        error: plugin `no-such-plugin` not found: looked for libprefectctl_plugin_no_such_plugin.so or prefectctl-plugin-no-such-plugin in $TARGET, $TARGET/../lib/prefectctl/plugins; pass --plugin-dir DIR, set PREFECTCTL_PLUGIN_PATH, or give the plugin's path
    "#]].assert_eq(&redact_paths(&stderr));
}

#[test]
fn a_misspelt_plugin_name_gets_a_suggestion() {
    let stderr = prefectctl(&["--plugin", "sevrer", "render"]).fails(2);
    expect![[r#"
        error: plugin `sevrer` not found (did you mean `server`?): looked for libprefectctl_plugin_sevrer.so or prefectctl-plugin-sevrer in $TARGET, $TARGET/../lib/prefectctl/plugins; pass --plugin-dir DIR, set PREFECTCTL_PLUGIN_PATH, or give the plugin's path
    "#]].assert_eq(&redact_paths(&stderr));
}

#[test]
fn without_leaves_a_default_plugin_out() {
    let run = prefectctl(&["--without", "server", "render"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    expect![[r#"
        warning: the stack is empty (--without server): add plugins with --plugin NAME
    "#]]
    .assert_eq(&run.stderr);

    let stderr =
        prefectctl(&["--without", "agent", "--plugin", "server", "--without", "server", "render"])
            .fails(2);
    expect![[r#"
        error: --plugin server and --without server contradict each other: keep one
        error: --without agent: `agent` is not in the default stack (server); leave the flag out
    "#]]
    .assert_eq(&stderr);
}

#[test]
fn secrets_never_appear_in_errors() {
    let dir = TempDir::new("secrets");
    dir.write("values.yaml", "server:\n  basicAuth:\n    enabled: true\n    authString: 1234\n");
    let runs = [
        vec![
            "render",
            "--set",
            "server.externalDatabase.connectionUrl=postgresql://u:hunter2@db/p",
        ],
        vec!["render", "--set", "server.externalDatabase.connectionUrl=1234,server.replicaCount=x"],
        vec![
            "render",
            "--set",
            "server.basicAuth.enabled=true,server.basicAuth.authString=hunter2",
        ],
        vec!["render", "-f", "values.yaml"],
        vec!["render", "--set", "server.basicAuth.authString={hunter2"],
    ];
    let mut all = String::new();
    for args in runs {
        let stderr = prefectctl_in(dir.path(), &args).fails_with_any();
        assert!(!stderr.contains("hunter2") && !stderr.contains("1234"), "{stderr}");
        all.push_str(&stderr);
    }
    expect![[r#"
        error: plugin `server`: --set server.externalDatabase.connectionUrl: server.externalDatabase.connectionUrl: Prefect needs the asyncpg driver: the URL must start with `postgresql+asyncpg://`
        error: --set server.externalDatabase.connectionUrl: server.externalDatabase.connectionUrl: expected string, found integer (the value is secret, so it is not shown)
        error: --set server.replicaCount: server.replicaCount: expected integer, found string "x"
        error: plugin `server`: --set server.basicAuth.authString: server.basicAuth.authString: write the credentials as USER:PASSWORD
        error: values.yaml:4: server.basicAuth.authString: expected string, found integer (the value is secret, so it is not shown)
        error: --set server.basicAuth.authString=…: unclosed "{" in a list value (write a list as KEY={A,B})
    "#]].assert_eq(&all);
}

#[test]
fn flags_work_before_and_after_the_subcommand() {
    let dir = TempDir::new("order");
    dir.write("a.yaml", "server:\n  replicaCount: 1\n  service:\n    port: 4201\n");
    dir.write("b.yaml", "server:\n  service:\n    port: 4202\n");
    let run = |args: &[&str]| prefectctl_in(dir.path(), args).ok();
    let before = run(&[
        "-f",
        "a.yaml",
        "-f",
        "b.yaml",
        "--set",
        "server.service.type=NodePort",
        "-n",
        "prefect",
        "render",
    ]);
    let after = run(&[
        "render",
        "-n",
        "prefect",
        "--set",
        "server.service.type=NodePort",
        "-f",
        "a.yaml",
        "-f",
        "b.yaml",
    ]);
    let mixed = run(&[
        "-n",
        "prefect",
        "render",
        "-f",
        "a.yaml",
        "--set",
        "server.service.type=NodePort",
        "-f",
        "b.yaml",
    ]);
    assert_eq!(before, after);
    assert_eq!(before, mixed);
    // Later files win, --set wins over files.
    assert!(before.contains("port: 4202"), "{before}");
    assert!(before.contains("type: NodePort"), "{before}");
    assert!(before.contains("namespace: prefect"), "{before}");
    let reversed = run(&["-f", "b.yaml", "-f", "a.yaml", "-n", "prefect", "render"]);
    assert!(reversed.contains("port: 4201"), "{reversed}");
}

#[test]
fn strings_that_yaml_1_1_reads_as_booleans_stay_strings() {
    let out = prefectctl(&[
        "render",
        "--set-string",
        "global.commonAnnotations.feature=on",
        "--set-string",
        "global.commonLabels.flag=yes",
    ])
    .ok();
    assert!(out.contains("feature: \"on\""), "{out}");
    assert!(out.contains("flag: \"yes\""), "{out}");
}

#[test]
fn default_values_round_trip_through_a_values_file() {
    let dir = TempDir::new("values");
    let defaults = prefectctl_in(dir.path(), &["values"]).ok();
    assert!(defaults.starts_with("global:\n") || defaults.starts_with("# "), "{defaults}");
    assert!(defaults.contains("\nserver:\n"), "{defaults}");
    dir.write("defaults.yaml", &defaults);
    let plain = prefectctl_in(dir.path(), &["render"]).ok();
    let with_defaults = prefectctl_in(dir.path(), &["render", "-f", "defaults.yaml"]).ok();
    assert_eq!(plain, with_defaults);
}

#[test]
fn each_plugins_documented_defaults_render_the_same_as_no_values() {
    let dir = TempDir::new("plugin-values");
    // tidy: every plugin but server
    for plugin in [
        "agent",
        "postgres",
        "redis",
        "openshift-security",
        "dask-rbac",
        "metrics",
        "network-policy",
    ] {
        let defaults = prefectctl_in(dir.path(), &["values", "--plugin", plugin]).ok();
        assert!(defaults.contains(&format!("\n{plugin}:\n")), "{defaults}");
        dir.write("defaults.yaml", &defaults);
        let plain = prefectctl_in(dir.path(), &["render", "--plugin", plugin]).ok();
        let with_defaults =
            prefectctl_in(dir.path(), &["render", "--plugin", plugin, "-f", "defaults.yaml"]).ok();
        assert_eq!(plain, with_defaults, "{plugin}");
    }
}

#[test]
fn values_schema_describes_every_section() {
    let schema: serde_json::Value =
        serde_json::from_str(&prefectctl(&["values", "--schema"]).ok()).unwrap();
    let sections: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    assert_eq!(sections, ["global", "server"]);
    assert_eq!(schema["additionalProperties"], false);
    assert!(
        schema["properties"]["server"]["properties"]["replicaCount"]["description"].is_string()
    );
}

#[test]
fn every_documented_default_is_what_values_prints() {
    // tidy: every plugin
    const PLUGINS: [&str; 8] = [
        "agent",
        "postgres",
        "redis",
        "metrics",
        "network-policy",
        "openshift-security",
        "dask-rbac",
        "server",
    ];
    let mut args = Vec::new();
    for plugin in PLUGINS {
        args.extend(["--plugin", plugin]);
    }
    let schema: serde_json::Value =
        serde_json::from_str(&prefectctl(&[&args[..], &["values", "--schema"]].concat()).ok())
            .unwrap();
    // `values --plugin ...` prints the sections named; `values` alone adds `global`.
    let mut values: serde_json::Value =
        serde_saphyr::from_str(&prefectctl(&[&args[..], &["values"]].concat()).ok()).unwrap();
    let global: serde_json::Value = serde_saphyr::from_str(&prefectctl(&["values"]).ok()).unwrap();
    values["global"] = global["global"].clone();

    /// Every key whose schema `default` differs from what `values` shows, as `path: a != b`.
    fn walk(
        schema: &serde_json::Value,
        values: &serde_json::Value,
        path: &str,
        out: &mut Vec<String>,
    ) {
        let Some(properties) = schema["properties"].as_object() else { return };
        for (key, property) in properties {
            let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            let shown = values.get(key).unwrap_or(&serde_json::Value::Null);
            if let Some(default) = property.get("default")
                && default != shown
            {
                out.push(format!("{at}: documented {default}, values prints {shown}"));
            }
            walk(property, shown, &at, out);
        }
    }
    let mut wrong = Vec::new();
    walk(&schema, &values, "", &mut wrong);
    assert_eq!(wrong, Vec::<String>::new());
    // The check can fail: it reads the defaults the plugins render, not the shared types'.
    assert_eq!(
        schema["properties"]["server"]["properties"]["resources"]["default"]["requests"]["cpu"],
        "500m"
    );
    assert_eq!(
        schema["properties"]["postgres"]["properties"]["podSecurityContext"]["default"]["runAsUser"],
        999
    );
}

#[test]
fn plugins_list_shows_name_version_protocol_and_path() {
    let out = redact_paths(&prefectctl(&["plugins", "list"]).ok());
    let server = out.lines().find(|l| l.starts_with("server ")).unwrap_or_else(|| panic!("{out}"));
    let columns: Vec<&str> = server.split_whitespace().collect();
    assert_eq!(columns[0], "server");
    assert_eq!(columns[2], "1");
    assert_eq!(columns[3], "library");
    let sha256 = std::process::Command::new("sha256sum")
        .arg(crate::harness::plugin_library("server"))
        .output()
        .expect("sha256sum runs");
    assert_eq!(
        columns[4],
        String::from_utf8_lossy(&sha256.stdout).split_whitespace().next().unwrap()
    );
    assert_eq!(columns[5], "$TARGET/libprefectctl_plugin_server.so");
    assert!(out.starts_with("NAME "), "{out}");
}

#[test]
fn plugins_describe_shows_the_values_it_accepts() {
    let out = redact_paths(&prefectctl(&["plugins", "describe", "server"]).ok());
    assert!(out.starts_with("name:        server\n"), "{out}");
    assert!(out.contains("path:        $TARGET/libprefectctl_plugin_server.so"), "{out}");
    assert!(out.contains("\n  replicaCount "), "{out}");
}

#[test]
fn completions_are_generated() {
    let out = prefectctl(&["completions", "bash"]).ok();
    assert!(out.contains("-F _clap_complete_prefectctl prefectctl"), "{out}");
}

#[test]
fn json_output_is_one_list() {
    let list: serde_json::Value =
        serde_json::from_str(&prefectctl(&["render", "-o", "json"]).ok()).unwrap();
    assert_eq!(list["kind"], "List");
    let kinds: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"Deployment"), "{kinds:?}");
}

#[test]
fn api_versions_are_checked_and_only_render_takes_them() {
    check_error(
        &[],
        &[
            "render",
            "--kube-version",
            "1.x",
            "-a",
            "monitoring.coreos.com/v1,Monitoring/v1",
            "-a",
            "a/b/c/d",
        ],
        2,
        expect![[r#"
            error: --kube-version "1.x" is not a Kubernetes version: use MAJOR.MINOR[.PATCH], e.g. 1.29
            error: --api-versions "Monitoring/v1" is not an API version: use GROUP/VERSION (such as monitoring.coreos.com/v1), VERSION for the core group (v1), or either followed by /KIND
            error: --api-versions "a/b/c/d" is not an API version: use GROUP/VERSION (such as monitoring.coreos.com/v1), VERSION for the core group (v1), or either followed by /KIND
        "#]],
    );
    // On a cluster, discovery says what is served: apply and diff do not take the flag.
    for command in ["apply", "diff"] {
        let stderr = prefectctl(&[command, "--api-versions", "monitoring.coreos.com/v1"]).fails(2);
        assert!(stderr.contains("unexpected argument '--api-versions'"), "{stderr}");
    }
}

#[test]
fn prefect_helm_chart_names_point_at_their_plugin() {
    let stderr = prefectctl(&["--plugin", "worker", "render"]).fails(2);
    assert!(
        stderr.starts_with(
            "error: plugin `worker` not found (did you mean `agent`? prefect-helm's worker chart \
             is the `agent` plugin): looked for"
        ),
        "{stderr}"
    );
}

#[test]
fn commands_refuse_the_stack_flags_they_would_ignore() {
    check_error(
        &[("v.yaml", "server: {}\n")],
        &["status", "-f", "v.yaml", "--set", "server.replicaCount=2", "--plugin", "agent"],
        2,
        expect![[r#"
            error: `status` does not take -f/--values, --set, --plugin: it reads the release as its revisions recorded it; give values and plugins to `apply`; `get values` shows what the release has
        "#]],
    );
    check_error(
        &[],
        &["rollback", "--without", "server"],
        2,
        expect![[r#"
            error: `rollback` does not take --without: it applies the revision's recorded objects again; to change them, run `apply`
        "#]],
    );
    check_error(
        &[],
        &["--set", "a=b", "uninstall"],
        2,
        expect![[r#"
            error: `uninstall` does not take --set: it deletes what the release recorded
        "#]],
    );
    // `get values` loads the recorded plugins, so it takes where to find them, but not others.
    check_error(
        &[],
        &["get", "values", "--plugin-dir", ".", "--plugin", "agent"],
        2,
        expect![[r#"
            error: `get values` does not take --plugin: it prints what a revision recorded; give values and plugins to `apply`
        "#]],
    );
    // `values` finds plugins but takes no values.
    check_error(
        &[],
        &["values", "--plugin", "agent", "--set-string", "a=b"],
        2,
        expect![[r#"
            error: `values` does not take --set-string: it prints the stack's default values; `render -f FILE` shows what yours make
        "#]],
    );
    assert!(prefectctl(&["values", "--plugin", "agent"]).ok().contains("agent:"));
}

#[test]
fn help_shows_a_commands_own_flags_apart_from_the_global_ones() {
    let help = prefectctl(&["apply", "--help"]).ok();
    let headings: Vec<&str> =
        help.lines().filter(|l| l.ends_with(':') && !l.starts_with(' ')).collect();
    assert_eq!(
        headings,
        [
            "Options:",
            "Stack options (render, apply, diff; --plugin* also values, plugins):",
            "Global options:",
        ]
    );
    let own = &help[help.find("Options:").unwrap()..help.find("Stack options").unwrap()];
    assert!(own.contains("--dry-run [<MODE>]") && own.contains("--timeout <DURATION>"), "{own}");
    assert!(!own.contains("--namespace") && !own.contains("--plugin"), "{own}");
    let global = &help[help.find("Global options:").unwrap()..];
    assert!(global.contains("[env: PREFECTCTL_NAMESPACE=]"), "{global}");
    assert!(global.contains("[env: PREFECTCTL_RELEASE=]"), "{global}");
    assert!(global.contains("[alias: --context]"), "{global}");
}

#[test]
fn release_and_namespace_default_from_the_environment_and_flags_win() {
    let dir = TempDir::new("env");
    let env = [("PREFECTCTL_NAMESPACE", "flows"), ("PREFECTCTL_RELEASE", "orion")];
    let out = prefectctl_env(dir.path(), &["render"], None, &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("name: orion-server\n"), "{}", out.stdout);
    assert!(out.stdout.contains("namespace: flows\n"), "{}", out.stdout);
    let out = prefectctl_env(dir.path(), &["render", "-n", "other", "--release", "x"], None, &env);
    assert!(out.stdout.contains("name: x-server\n") && out.stdout.contains("namespace: other\n"));
}

#[test]
fn a_kubeconfig_that_cannot_be_read_is_named_once_with_the_reason() {
    let dir = TempDir::new("kubeconfig");
    let missing = dir.path().join("absent").join("config");
    let missing = missing.display().to_string();
    let out = prefectctl_env(dir.path(), &["status"], None, &[("KUBECONFIG", &missing)]);
    let stderr = out.fails_with_any();
    assert!(
        stderr.contains(&format!(
            "error: no cluster to talk to: cannot read {missing}: No such file or directory"
        )) && stderr.contains("pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config"),
        "{stderr}"
    );
    let stderr = prefectctl_in(dir.path(), &["status", "--kubeconfig", &missing]).fails_with_any();
    assert!(
        stderr.contains(&format!(
            "error: cannot read the kubeconfig {missing}: No such file or directory"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.matches(missing.as_str()).count(), 1, "{stderr}");
}

#[test]
fn timeouts_are_go_durations() {
    // Accepted values reach the command (which then fails on the missing cluster, not the flag).
    for timeout in ["500ms", "1.5h", "2m30s", "90"] {
        let stderr = prefectctl(&["apply", "--timeout", timeout, "--kubeconfig", "/nonexistent"])
            .fails_with_any();
        assert!(!stderr.contains("is not a duration"), "{timeout}: {stderr}");
    }
    let stderr = prefectctl(&["apply", "--timeout", "soon"]).fails(2);
    assert!(
        stderr.contains(
            "invalid value 'soon' for '--timeout <DURATION>': \"soon\" is not a duration ("
        ) && stderr.contains("write it as 500ms, 90s, 5m, 1h30m or 1.5h"),
        "{stderr}"
    );
    let stderr = prefectctl(&["apply", "--timeout=-5m"]).fails(2);
    assert!(stderr.contains("it is negative"), "{stderr}");
}
