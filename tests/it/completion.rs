//! Shell completion as a shell asks for it: `COMPLETE=<shell> prefectctl -- prefectctl WORDS`
//! with the index of the word being completed, as clap_complete's registration scripts call
//! the binary; and the script `completions bash` prints, run by bash itself.

use std::{
    ffi::OsStr,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use crate::{
    cluster::Cluster,
    harness::{TempDir, built_binary, prefectctl},
};

// tidy: every plugin
const FIRST_PARTY: [&str; 8] = [
    "agent",
    "dask-rbac",
    "metrics",
    "network-policy",
    "openshift-security",
    "postgres",
    "redis",
    "server",
];

/// The candidates for `words[index]` in `shell`'s format, one a line (fish: `value\thelp`).
/// Standard error must stay empty: it would land on the user's prompt.
fn complete_at(
    shell: &str,
    cwd: &Path,
    env: &[(&str, &OsStr)],
    words: &[&str],
    index: usize,
) -> Vec<String> {
    let mut command = Command::new(built_binary());
    command
        .current_dir(cwd)
        .env_remove("PREFECTCTL_PLUGIN_PATH")
        .env_remove("KUBECONFIG")
        .env("COMPLETE", shell)
        .env("_CLAP_IFS", "\n")
        // Counted from the command's name, as bash's COMP_CWORD is.
        .env("_CLAP_COMPLETE_INDEX", (index + 1).to_string())
        .args(["--", "prefectctl"])
        .args(words);
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().expect("prefectctl runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{words:?}: {:?}\n{stderr}", out.status);
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// The candidates that are not flags: clap offers the options too where a positional
/// argument's word is still empty.
fn values(candidates: Vec<String>) -> Vec<String> {
    candidates.into_iter().filter(|c| !c.starts_with('-')).collect()
}

/// The bash candidates for the last word of `words`.
fn complete(cwd: &Path, env: &[(&str, &OsStr)], words: &[&str]) -> Vec<String> {
    complete_at("bash", cwd, env, words, words.len() - 1)
}

#[test]
fn plugins_complete_from_the_plugin_folders_and_paths_from_the_line() {
    let cwd = TempDir::new("complete-cwd");
    // The working directory is never searched: these must not turn into names.
    cwd.write("libprefectctl_plugin_local.so", "");
    cwd.write("notes.txt", "");
    std::fs::create_dir(cwd.path().join("sub")).unwrap();
    let extra = TempDir::new("complete-dir");
    extra.write("prefectctl-plugin-team-labels", "#!/bin/sh\n");
    let dir = extra.path().display().to_string();
    let at = cwd.path();

    let all = complete(at, &[], &["--plugin", ""]);
    for name in FIRST_PARTY {
        assert!(all.iter().any(|c| c == name), "{name} missing from {all:?}");
    }
    assert!(
        all.iter().all(|c| !c.contains(['/', '.']) && c != "local" && c != "team-labels"),
        "{all:?}"
    );
    assert_eq!(complete(at, &[], &["--plugin", "po"]), ["postgres"]);
    assert_eq!(complete(at, &[], &["-n", "x", "render", "--plugin", "o"]), ["openshift-security"]);
    assert_eq!(complete(at, &[], &["plugins", "describe", "se"]), ["server"]);
    let without = complete(at, &[], &["--without", ""]);
    assert_eq!(without.first().map(String::as_str), Some("server"), "{without:?}");
    assert!(without.iter().any(|c| c == "agent"), "{without:?}");

    // --plugin-dir given earlier on the line, in either spelling, and $PREFECTCTL_PLUGIN_PATH.
    assert_eq!(complete(at, &[], &["--plugin-dir", &dir, "--plugin", "te"]), ["team-labels"]);
    let joined = format!("--plugin-dir={dir}");
    assert_eq!(complete(at, &[], &[&joined, "plugins", "list", "--plugin", "t"]), ["team-labels"]);
    let env = [("PREFECTCTL_PLUGIN_PATH", extra.path().as_os_str())];
    assert_eq!(complete(at, &env, &["--plugin", "te"]), ["team-labels"]);
    assert_eq!(complete(at, &[], &["--plugin", "te"]), Vec::<String>::new());

    // A word with a slash is a library path: plugin files and folders, nothing else.
    assert_eq!(
        complete(at, &[], &["--plugin", "./"]),
        ["./libprefectctl_plugin_local.so", "./sub/"]
    );
    assert_eq!(
        complete(at, &[], &["--plugin", &format!("{dir}/")]),
        [format!("{dir}/prefectctl-plugin-team-labels")]
    );
}

#[test]
fn rollback_offers_nothing_quickly_and_silently_when_the_cluster_does_not_answer() {
    // Accepts connections (the kernel does) and never answers the TLS handshake.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = TempDir::new("complete-silent");
    let kubeconfig = dir.write(
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    \
             server: https://{}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: c\n  \
             context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user: {{token: t}}\n",
            silent.local_addr().unwrap()
        ),
    );
    let started = Instant::now();
    let env = [("KUBECONFIG", kubeconfig.as_os_str())];
    assert_eq!(values(complete(dir.path(), &env, &["rollback", ""])), Vec::<String>::new());
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let missing = ["--kubeconfig", "/nonexistent/kubeconfig", "rollback", ""];
    assert_eq!(values(complete(dir.path(), &[], &missing)), Vec::<String>::new());
}

#[test]
fn rollback_completes_the_revisions_of_the_release_on_the_line() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", "prefect"], None).ok();
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let ctl = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", kubeconfig.as_str(), "-n", "prefect"];
        all.extend_from_slice(args);
        prefectctl(&all).ok()
    };
    ctl(&["apply"]);
    ctl(&["apply", "--set", "server.revisionHistoryLimit=5"]);
    let cwd = TempDir::new("complete-rollback");
    let at = cwd.path();

    // Newest first, with what each revision was (fish shows the text after the tab).
    let fish = complete_at(
        "fish",
        at,
        &[],
        &["--kubeconfig", &kubeconfig, "-n", "prefect", "rollback", ""],
        5,
    );
    let (revisions, helps): (Vec<&str>, Vec<&str>) = fish
        .iter()
        .filter(|l| !l.starts_with('-'))
        .map(|line| line.split_once('\t').expect("value\\thelp"))
        .unzip();
    assert_eq!(revisions, ["2", "1"], "{fish:?}");
    assert!(helps[0].starts_with("Upgrade complete (deployed, "), "{fish:?}");
    assert!(helps[1].starts_with("Install complete (superseded, "), "{fish:?}");

    // Flags after the word being completed count, and $KUBECONFIG stands in for the flag.
    let words = ["rollback", "", "-n", "prefect", "--release", "prefect"];
    let env = [("KUBECONFIG", cluster.kubeconfig().as_os_str())];
    assert_eq!(values(complete_at("bash", at, &env, &words, 1)), ["2", "1"]);
    assert_eq!(complete(at, &env, &["-n", "prefect", "rollback", "1"]), ["1"]);
    // Another namespace, another release: nothing to offer, and nothing said.
    let elsewhere = ["-n", "default", "rollback", ""];
    assert_eq!(values(complete(at, &env, &elsewhere)), Vec::<String>::new());
    assert_eq!(
        values(complete(at, &env, &["-n", "prefect", "--release", "other", "rollback", ""])),
        Vec::<String>::new()
    );
}

#[test]
fn completions_bash_prints_a_script_that_bash_runs_to_complete() {
    let script = prefectctl(&["completions", "bash"]).ok();
    let dir = TempDir::new("complete-script");
    let file = dir.write("prefectctl.bash", &script);
    let syntax = Command::new("bash").arg("-n").arg(&file).output().expect("bash runs");
    assert!(syntax.status.success(), "{}\n{script}", String::from_utf8_lossy(&syntax.stderr));

    // What bash does on `prefectctl --plugin po<TAB>`, with prefectctl on the PATH.
    let bin_dir = built_binary().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let tab = "source \"$1\"\n\
               COMP_WORDS=(prefectctl --plugin po); COMP_CWORD=2; COMP_TYPE=9\n\
               _clap_complete_prefectctl prefectctl po --plugin\n\
               printf '%s\\n' \"${COMPREPLY[@]}\"";
    let out = Command::new("bash")
        .args(["-c", tab, "bash"])
        .arg(&file)
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("PREFECTCTL_PLUGIN_PATH")
        .output()
        .expect("bash runs");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!((stdout.as_ref(), stderr.as_ref()), ("postgres\n", ""));

    for shell in ["zsh", "fish"] {
        let script = prefectctl(&["completions", shell]).ok();
        let call = format!("COMPLETE={shell} prefectctl --");
        let quoted = format!("COMPLETE=\"{shell}\"");
        assert!(script.contains(&call) || script.contains(&quoted), "{shell}:\n{script}");
    }
}
