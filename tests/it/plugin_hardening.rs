//! Plugins that misbehave or are ambiguous (issue 12): an executable that leaves a process
//! holding its output, floods it or prints something else than the document; a library cut
//! short; an executable named like a first-party plugin; a plugin given by path that the
//! release must keep finding, or say clearly that it is gone.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use prefect_plugin_abi::library_file_name;

use crate::{
    cluster::Cluster,
    harness::{Run, TempDir, built_binary, plugin_library, prefectctl_in},
};

const MANIFEST: &str = r#"{"name":"NAME","version":"1","protocolVersion":1}"#;

/// Writes an executable plugin `prefectctl-plugin-NAME` into `dir`: a shell script that prints
/// its manifest for `manifest` and runs `run` for `run`.
fn script(dir: &Path, name: &str, run: &str) -> PathBuf {
    let manifest = MANIFEST.replace("NAME", name);
    let text =
        format!("#!/bin/sh\nif [ \"$1\" = manifest ]; then echo '{manifest}'; exit 0; fi\n{run}\n");
    let path = dir.join(format!("prefectctl-plugin-{name}"));
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Runs `prefectctl ARGS` in `cwd` as [`prefectctl_in`] does, but fails the test instead of
/// waiting when it runs longer than `limit`; also how long it took.
fn within(limit: Duration, cwd: &Path, args: &[&str]) -> (Run, Duration) {
    let dir = TempDir::new("within");
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new(built_binary())
        .current_dir(cwd)
        .args(args)
        .env_remove("PREFECTCTL_PLUGIN_PATH")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("prefectctl runs");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("prefectctl {} still ran after {limit:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(out).unwrap(),
        stderr: std::fs::read_to_string(err).unwrap(),
    };
    (run, start.elapsed())
}

/// `check` until it gives something, for at most 10 seconds.
fn poll<T>(check: impl Fn() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Some(found) = check() {
            return Some(found);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Whether process `pid` runs (a zombie does not).
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}

#[test]
fn executables_that_misbehave_end_quickly_with_short_clear_errors() {
    let dir = TempDir::new("misbehave");
    let limit = Duration::from_secs(30);
    let pids = dir.path().join("pids");
    let config_map = r#"{"apiVersion":"prefectctl.io/v1","kind":"ResourceList","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"lingering","namespace":"default"},"data":{"a":"b"}}]}"#;
    // Each call leaves a process behind that holds standard output and error open.
    let lingering =
        script(dir.path(), "lingering", &format!("cat > /dev/null\necho '{config_map}'"));
    let text = std::fs::read_to_string(&lingering).unwrap().replacen(
        "#!/bin/sh\n",
        &format!("#!/bin/sh\nsleep 300 &\necho $! >> {}\n", pids.display()),
        1,
    );
    std::fs::write(&lingering, text).unwrap();
    let (run, took) =
        within(limit, dir.path(), &["--plugin", lingering.to_str().unwrap(), "render"]);
    let out = run.ok();
    assert!(out.contains("kind: ConfigMap\nmetadata:\n  name: lingering\n"), "{out}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let left: Vec<String> =
        std::fs::read_to_string(&pids).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(left.len(), 2, "one for `manifest`, one for `run`: {left:?}");
    assert!(!left.iter().any(|pid| running(pid)), "the plugin's processes still run: {left:?}");

    // prefectctl killed while a plugin runs: the plugin does not live on.
    let stuck_pid = dir.path().join("stuck.pid");
    let stuck =
        script(dir.path(), "stuck", &format!("echo $$ > {}\nexec sleep 300", stuck_pid.display()));
    let mut host = Command::new(built_binary())
        .current_dir(dir.path())
        .args(["--plugin", stuck.to_str().unwrap(), "render"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = poll(|| std::fs::read_to_string(&stuck_pid).ok().filter(|p| p.ends_with('\n')));
    host.kill().unwrap();
    host.wait().unwrap();
    let pid = pid.expect("the stuck plugin started").trim().to_owned();
    assert!(poll(|| (!running(&pid)).then_some(())).is_some(), "plugin {pid} outlived prefectctl");

    // 100 MB of standard error on one line, then the reason: the error quotes the line's
    // beginning (of what was kept) cut short, and the reason.
    let noisy = script(
        dir.path(),
        "noisy",
        "head -c 100000000 /dev/zero | tr '\\0' x >&2\necho >&2\necho 'the vault is sealed' >&2\nexit 4",
    );
    let (run, took) = within(limit, dir.path(), &["--plugin", noisy.to_str().unwrap(), "render"]);
    let stderr = run.fails(1);
    assert_eq!(
        stderr,
        format!(
            "error: plugin `noisy` failed: `run` exited with status 4: …{}… | the vault is sealed\n",
            "x".repeat(300)
        )
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");

    // Standard output without end: stopped at the cap, not when memory runs out.
    let flood = script(dir.path(), "flood", "exec cat /dev/zero");
    let (run, took) = within(limit, dir.path(), &["--plugin", flood.to_str().unwrap(), "render"]);
    assert_eq!(
        run.fails(1),
        "error: plugin `flood` failed: `run` printed more than 64 MiB and was stopped\n"
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");

    // Something else than the document: its first bytes are shown.
    let chatty = script(
        dir.path(),
        "chatty",
        "echo 'Traceback (most recent call last):'\necho '  File \"plugin.py\", line 3'",
    );
    let (run, _) = within(limit, dir.path(), &["--plugin", chatty.to_str().unwrap(), "render"]);
    assert_eq!(
        run.fails(1),
        "error: plugin `chatty` returned a response that is not a valid protocol document (it \
         printed \"Traceback (most recent call last):\\n  File \\\"plugin.py\\\", line \
         3\\n\"): expected value at line 1 column 1\n"
    );
}

#[test]
fn a_library_cut_short_is_named_not_a_crash() {
    let dir = TempDir::new("cut-short");
    let whole = std::fs::read(plugin_library("fixture-protocol-v1")).unwrap();
    let cuts =
        [whole.len() - 1, whole.len() * 9 / 10, whole.len() / 2, whole.len() / 10, 4096, 100, 20];
    for cut in cuts {
        let path = dir.path().join(format!("libprefectctl_plugin_cut_{cut}.so"));
        std::fs::write(&path, &whole[..cut]).unwrap();
        let (run, _) = within(
            Duration::from_secs(30),
            dir.path(),
            &["--plugin", path.to_str().unwrap(), "render"],
        );
        let stderr = run.fails(1);
        let expected = format!(
            "error: {} could not be loaded as a library: it is cut short: ",
            path.display()
        );
        assert!(stderr.starts_with(&expected), "cut at {cut} of {}:\n{stderr}", whole.len());
        assert!(
            stderr.ends_with(&format!(
                "but the file has {cut} bytes (a partial copy or download?): copy or build the \
                 library again\n"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn an_executable_named_like_a_first_party_plugin_is_refused() {
    let dir = TempDir::new("first-party-name");
    let folder = dir.path().join("plugins");
    std::fs::create_dir(&folder).unwrap();
    let impostor = script(
        &folder,
        "server",
        r#"cat > /dev/null; echo '{"items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"not-the-server","namespace":"default"}}]}'"#,
    );
    let folder_arg = folder.display().to_string();
    let stderr = prefectctl_in(dir.path(), &["--plugin-dir", &folder_arg, "render"]).fails(1);
    let library = plugin_library("server");
    assert_eq!(
        stderr,
        format!(
            "error: plugin `server` is both the executable {} and the library {}: prefectctl \
             will not choose between them; remove or rename one (an executable plugin is called \
             prefectctl-plugin-NAME and names itself NAME in its manifest), or give the one you \
             mean by its path (--plugin PATH, with --without server when the release has \
             `server`)\n",
            impostor.display(),
            library.display()
        )
    );
    // Chosen by its path in place of the first-party one, it is what the user asked for.
    let out = prefectctl_in(
        dir.path(),
        &["--without", "server", "--plugin", impostor.to_str().unwrap(), "render"],
    )
    .ok();
    assert!(out.contains("name: not-the-server"), "{out}");
}

const NAMESPACE: &str = "prefect";

/// The plugins revision `revision` of release `prefect` recorded.
fn recorded_plugins(cluster: &Cluster, revision: u32) -> serde_json::Value {
    recorded_plugins_in(cluster, NAMESPACE, revision)
}

/// The plugins revision `revision` of release `prefect` in `namespace` recorded.
fn recorded_plugins_in(cluster: &Cluster, namespace: &str, revision: u32) -> serde_json::Value {
    let name = format!("prefectctl.release.prefect.v{revision}");
    let data = cluster
        .kubectl(&["get", "secret", &name, "-n", namespace, "-o", "jsonpath={.data.release}"], None)
        .ok();
    let mut decode = Command::new("sh")
        .args(["-c", "base64 -d | gzip -dc"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    decode.stdin.take().unwrap().write_all(data.as_bytes()).unwrap();
    let out = decode.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "record {name} decodes: {}; its data begins {:?}",
        String::from_utf8_lossy(&out.stderr),
        &data[..data.len().min(80)]
    );
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    record["plugins"].clone()
}

/// A plugin given by path at install is kept by its path and checksum through upgrades run
/// from other folders; once its file is gone, the error names the file the release recorded
/// and how to drop the plugin.
#[test]
fn a_plugin_given_by_path_is_kept_and_its_absence_explained() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", NAMESPACE], None).ok();
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let ctl = |cwd: &Path, args: &[&str]| {
        let all = [&["--kubeconfig", kubeconfig.as_str(), "-n", NAMESPACE][..], args].concat();
        prefectctl_in(cwd, &all)
    };
    let (home, elsewhere) = (TempDir::new("by-path-home"), TempDir::new("by-path-elsewhere"));
    let library = home.path().join("libmine.so");
    std::fs::copy(plugin_library("fixture-protocol-v1"), &library).unwrap();
    let library = std::fs::canonicalize(&library).unwrap();
    let sha256 = sha256sum(&library);

    ctl(home.path(), &["--plugin", "./libmine.so", "apply"]).ok();
    // Two upgrades from another folder, neither naming the plugin.
    for (value, revision) in [("a", 2), ("b", 3)] {
        let set = format!("fixture-protocol-v1.greeting={value}");
        ctl(elsewhere.path(), &["--set", &set, "apply"]).ok();
        let plugins = recorded_plugins(&cluster, revision);
        let mine = plugins
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "fixture-protocol-v1")
            .unwrap_or_else(|| panic!("revision {revision} keeps the plugin: {plugins}"));
        assert_eq!(mine["spec"], library.display().to_string(), "{plugins}");
        assert_eq!(mine["path"], library.display().to_string(), "{plugins}");
        assert_eq!(mine["sha256"], sha256.as_str(), "{plugins}");
        let greeting = cluster
            .kubectl(
                &[
                    "get",
                    "configmap",
                    "prefect-protocol-v1",
                    "-n",
                    NAMESPACE,
                    "-o",
                    "jsonpath={.data.greeting}",
                ],
                None,
            )
            .ok();
        assert_eq!(greeting, value);
    }

    // Changed in place (rebuilt): loaded, with a warning naming both checksums.
    let mut bytes = std::fs::read(&library).unwrap();
    bytes.push(0);
    std::fs::write(&library, bytes).unwrap();
    let run = ctl(elsewhere.path(), &["--set", "fixture-protocol-v1.greeting=d", "apply"]);
    let changed = sha256sum(&library);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "warning: plugin `fixture-protocol-v1`: {} has changed since revision 3 recorded it \
             (SHA-256 {sha256}, now {changed}); this upgrade runs it as it is now\n",
            library.display()
        )),
        "{}",
        run.stderr
    );

    // Gone: the error says which file the release recorded, and how to go on.
    let moved = elsewhere.path().join("libmine-moved.so");
    std::fs::rename(&library, &moved).unwrap();
    let stderr = ctl(elsewhere.path(), &["apply"]).fails(1);
    assert_eq!(
        stderr,
        format!(
            "error: plugin `fixture-protocol-v1`: release prefect in namespace prefect recorded \
             it as {}, which does not exist any more: put the file back, give its new place with \
             --plugin PATH, or drop it from the release with --without fixture-protocol-v1\n",
            library.display()
        )
    );
    // Its new place, given once, is what the release records from then on.
    let set = "fixture-protocol-v1.greeting=c";
    ctl(elsewhere.path(), &["--plugin", moved.to_str().unwrap(), "--set", set, "apply"]).ok();
    let plugins = recorded_plugins(&cluster, 5);
    let moved = std::fs::canonicalize(&moved).unwrap();
    assert!(
        plugins.as_array().unwrap().iter().any(|p| p["spec"] == moved.display().to_string()),
        "{plugins}"
    );
    // Found by name in a plugin folder from now on.
    let folder = TempDir::new("by-path-folder");
    std::fs::rename(&moved, folder.path().join(library_file_name("fixture-protocol-v1"))).unwrap();
    let dir = folder.path().display().to_string();
    let args = [
        "--plugin-dir",
        &dir,
        "--plugin",
        "fixture-protocol-v1",
        "--set",
        "fixture-protocol-v1.greeting=e",
        "apply",
    ];
    ctl(elsewhere.path(), &args).ok();
    let plugins = recorded_plugins(&cluster, 6);
    assert!(
        plugins.as_array().unwrap().iter().any(|p| p["spec"] == "fixture-protocol-v1"),
        "{plugins}"
    );

    // Dropped: the upgrade goes on without it and prunes what it made.
    ctl(elsewhere.path(), &["--without", "fixture-protocol-v1", "apply"]).ok();
    let left = cluster.kubectl(&["get", "configmap", "prefect-protocol-v1", "-n", NAMESPACE], None);
    assert_ne!(left.code, 0, "the plugin's ConfigMap is pruned: {}", left.stdout);
}

#[test]
fn a_recorded_checksum_is_taken_again_only_for_a_file_not_written_since() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    let namespace = "stamped";
    cluster.kubectl(&["create", "namespace", namespace], None).ok();
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let home = TempDir::new("stamped-home");
    let ctl = |args: &[&str]| {
        let all = [&["--kubeconfig", kubeconfig.as_str(), "-n", namespace][..], args].concat();
        prefectctl_in(home.path(), &all)
    };
    let library = home.path().join("libmine.so");
    std::fs::copy(plugin_library("fixture-protocol-v1"), &library).unwrap();
    // A library as installed: written a while ago (its change time settles in two seconds).
    let then = std::time::SystemTime::now() - Duration::from_secs(3600);
    let settle = |library: &Path| {
        std::fs::File::options().write(true).open(library).unwrap().set_modified(then).unwrap();
        std::thread::sleep(Duration::from_millis(2100));
    };
    settle(&library);
    let record = |revision: u32| {
        let plugins = recorded_plugins_in(&cluster, namespace, revision);
        let mine = plugins.as_array().unwrap().iter().find(|p| p["name"] == "fixture-protocol-v1");
        mine.unwrap_or_else(|| panic!("revision {revision} keeps the plugin: {plugins}")).clone()
    };

    ctl(&["--plugin", "./libmine.so", "apply"]).ok();
    let first = record(1);
    assert_eq!(first["sha256"], sha256sum(&library).as_str(), "{first}");
    assert!(first["stamp"].is_string(), "a settled file is stamped: {first}");
    ctl(&["--set", "fixture-protocol-v1.greeting=a", "apply"]).ok();
    let second = record(2);
    assert_eq!((&second["sha256"], &second["stamp"]), (&first["sha256"], &first["stamp"]));

    // Rewritten in place, the same size and modification time: the stamp differs (the change
    // time moved), so the file is read again and its new checksum recorded.
    let mut bytes = std::fs::read(&library).unwrap();
    let at = bytes.windows(13).position(|w| w == b"rustc version").expect("a .comment section");
    bytes[at] = b'R';
    std::fs::write(&library, &bytes).unwrap();
    settle(&library);
    let run = ctl(&["--set", "fixture-protocol-v1.greeting=b", "apply"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let third = record(3);
    let now = sha256sum(&library);
    assert_ne!(third["sha256"], first["sha256"], "{third}");
    assert_eq!(third["sha256"], now.as_str(), "{third}");
    assert_ne!(third["stamp"], first["stamp"], "{third}");
    assert!(run.stderr.contains(&format!("now {now}); this upgrade runs it")), "{}", run.stderr);
}

/// The SHA-256 of `path`, as sha256sum prints it.
fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum runs");
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_owned()
}
