//! Running `prefectctl` in a temporary folder and reading what it printed.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::OnceLock,
};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The folder Cargo builds into for this test's profile (`target/debug`): the test binary lives
/// in its `deps/` subfolder.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .to_path_buf()
}

/// Builds the whole workspace once per test run, so the binary and every plugin library are
/// those of the sources under test.
fn built() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = target_dir();
        if std::env::var_os("PREFECTCTL_TESTS_SKIP_BUILD").is_none() {
            let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            cargo.current_dir(workspace()).args(["build", "--workspace", "--quiet"]);
            if dir.file_name().is_some_and(|p| p == "release") {
                cargo.arg("--release");
            }
            let status = cargo.status().expect("cargo runs");
            assert!(status.success(), "cargo build --workspace failed");
        }
        dir
    })
}

/// The library of the example plugin `examples/network-policy`, a crate of its own workspace
/// built against the SDK as a plugin outside this repository is (once per test run).
pub fn example_plugin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let example = workspace().join("examples/network-policy");
            cargo(&example, &["build", "--quiet", "--target-dir", &examples_target()]);
            built_by_cargo(Path::new(&examples_target()), "network-policy")
        })
        .clone()
}

/// Where crates outside the workspace (the examples, scaffolded plugins) build, together so
/// that they share their dependencies' builds: `target/examples`.
pub fn examples_target() -> String {
    workspace().join("target/examples").display().to_string()
}

/// The debug library Cargo built under `target` from the package `prefectctl-plugin-<name>`.
pub fn built_by_cargo(target: &Path, name: &str) -> PathBuf {
    target.join("debug").join(prefect_plugin_abi::library_file_name(name))
}

/// Runs `cargo args` in `dir`, failing the test with what cargo printed if it fails.
pub fn cargo(dir: &Path, args: &[&str]) {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "`cargo {}` in {} failed:\n{}{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The path of a library Cargo built from package `prefectctl-plugin-<name>`.
pub fn plugin_library(name: &str) -> PathBuf {
    built().join(prefect_plugin_abi::library_file_name(name))
}

/// A temporary folder, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("prefectctl-it-{}-{label}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `name` in the folder and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write temp file");
        path
    }

    /// Writes `text` to `name` in the folder as an executable (mode 755): an executable
    /// plugin, or a script a test runs. Returns its path.
    pub fn write_executable(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.write(name, text);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("make the temp file executable");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a `prefectctl` run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns standard output.
    #[track_caller]
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "prefectctl failed:\n{}", self.stderr);
        self.stdout
    }

    /// Asserts exit code `code` and returns standard error.
    #[track_caller]
    pub fn fails(self, code: i32) -> String {
        assert_eq!(
            self.code, code,
            "expected exit code {code}; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.stderr
    }
}

impl Run {
    /// Asserts failure (exit code 1 or 2) and returns standard error.
    #[track_caller]
    pub fn fails_with_any(self) -> String {
        assert!(
            matches!(self.code, 1 | 2),
            "expected a failure; exit code {}, stderr:\n{}",
            self.code,
            self.stderr
        );
        self.stderr
    }
}

/// The built `prefectctl` binary.
pub fn built_binary() -> PathBuf {
    built_program("prefectctl")
}

/// A program the workspace builds (`prefectctl`, `kubelet-stand-in`).
pub fn built_program(name: &str) -> PathBuf {
    built().join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Runs `prefectctl ARGS` in `cwd`, with no plugin path from the environment, so only the
/// installation's folder (next to the binary) and flags find plugins.
pub fn prefectctl_in(cwd: &Path, args: &[&str]) -> Run {
    prefectctl_with(cwd, args, None)
}

/// Like [`prefectctl_in`], with `stdin` fed to the process.
pub fn prefectctl_with(cwd: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    prefectctl_env(cwd, args, stdin, &[])
}

/// Like [`prefectctl_with`], with the variables `env` set (and none of prefectctl's own or of
/// the colour conventions inherited from the test's environment).
pub fn prefectctl_env(cwd: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    let bin = built().join(format!("prefectctl{}", std::env::consts::EXE_SUFFIX));
    let mut command = Command::new(bin);
    command.current_dir(cwd).args(args);
    for inherited in [
        "PREFECTCTL_PLUGIN_PATH",
        "PREFECTCTL_NAMESPACE",
        "PREFECTCTL_RELEASE",
        "NO_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
    ] {
        command.env_remove(inherited);
    }
    command.envs(env.iter().copied()).stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let Output { status, stdout, stderr } = match stdin {
        None => command.output().expect("prefectctl runs"),
        Some(text) => {
            use std::io::Write;
            let mut child = command
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("prefectctl runs");
            child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
            child.wait_with_output().expect("prefectctl runs")
        }
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs `prefectctl ARGS` in a fresh temporary folder.
pub fn prefectctl(args: &[&str]) -> Run {
    let dir = TempDir::new("run");
    prefectctl_in(dir.path(), args)
}

/// Replaces the build folder's path in `text` with `$TARGET`, so messages can be compared.
pub fn redact_paths(text: &str) -> String {
    text.replace(&built().display().to_string(), "$TARGET")
}

/// The bytes of standard base64 `text` (Secret data), for tests that read Secrets.
pub fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET.iter().position(|a| *a == byte).expect("base64") as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}
