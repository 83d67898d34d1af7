//! Prefect itself, for the tests that check the rendered manifests against the program that
//! will read them: the virtualenv of the kubelet stand-in's Prefect image (pinned packages from
//! PyPI, made once and reused: `kubelet_stand_in::python`), and a local Prefect server.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use crate::harness::TempDir;

/// The Prefect release the images of the rendered stacks run.
pub const VERSION: &str = "3.9.1";

/// The virtualenv's `bin` folder.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match kubelet_stand_in::python::prefect(VERSION) {
        Ok(venv) => venv.bin(),
        Err(err) => panic!("{err:#}"),
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
