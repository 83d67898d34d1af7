//! Prefect itself, for the tests that check the rendered manifests against the program that
//! will read them: a Python virtualenv with pinned Prefect packages from PyPI (made once in
//! `~/.cache` and reused), and a local Prefect server.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use crate::harness::TempDir;

/// The packages, pinned: the Prefect release the image defaults to, the Kubernetes worker of
/// the `-kubernetes` image, and the driver the server uses for PostgreSQL.
const PACKAGES: &[&str] = &["prefect==3.9.1", "prefect-kubernetes==0.8.0", "asyncpg==0.31.0"];

/// The virtualenv's `bin` folder.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        let venv = home.join(".cache/prefectctl-tests/python-prefect");
        let bin = venv.join("bin");
        let ready = venv.join("installed.txt");
        let wanted = PACKAGES.join("\n");
        if std::fs::read_to_string(&ready).ok().as_deref() != Some(wanted.as_str()) {
            let made = Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv).status();
            assert!(made.is_ok_and(|s| s.success()), "python3 -m venv {} failed", venv.display());
            let installed = Command::new(bin.join("python"))
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                .args(PACKAGES)
                .status();
            assert!(
                installed.is_ok_and(|s| s.success()),
                "pip install {} failed (PyPI must be reachable)",
                PACKAGES.join(" ")
            );
            std::fs::write(&ready, &wanted).expect("record the installed packages");
        }
        bin
    })
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// A Prefect server on 127.0.0.1 with SQLite in a temporary folder, stopped when dropped.
pub struct Server {
    child: Child,
    /// Its API URL, `http://127.0.0.1:PORT/api`.
    pub api_url: String,
    _home: TempDir,
}

impl Server {
    pub fn start() -> Server {
        let home = TempDir::new("prefect-server");
        let port = free_port();
        let child = Command::new(bin().join("prefect"))
            .args(["server", "start", "--host", "127.0.0.1", "--port", &port.to_string()])
            .env("PREFECT_HOME", home.path())
            .env("PREFECT_UI_ENABLED", "false")
            .env("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prefect server starts");
        let server = Server { child, api_url: format!("http://127.0.0.1:{port}/api"), _home: home };
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let health =
                Command::new("curl").args(["-sf", &format!("{}/health", server.api_url)]).output();
            if health.is_ok_and(|out| out.status.success()) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("the Prefect server at {} did not become healthy in 120 s", server.api_url);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
