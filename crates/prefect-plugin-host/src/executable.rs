//! Executable plugins, in any language: the same JSON documents as library plugins, over
//! standard input and output, in the manner of Kustomize's KRM functions.
//!
//! - `PROGRAM manifest` prints the plugin's manifest;
//! - `PROGRAM run` reads a run request on standard input and prints the response.
//!
//! Each call must exit with status 0 within [`TIMEOUT`]; what the program writes to standard
//! error is shown in the error when it fails.

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::{Error, Result};

/// How long one call may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// An executable plugin.
#[derive(Clone)]
pub(crate) struct Executable {
    path: PathBuf,
}

impl Executable {
    /// Checks that `path` is an executable file.
    pub(crate) fn open(path: &Path) -> Result<Executable> {
        let metadata =
            std::fs::metadata(path).map_err(|_| Error::MissingFile { path: path.to_path_buf() })?;
        if !metadata.is_file() || !is_executable(&metadata) {
            return Err(Error::NotExecutable { path: path.to_path_buf() });
        }
        Ok(Executable { path: path.to_path_buf() })
    }

    /// The manifest it prints for `manifest`.
    pub(crate) fn manifest(&self) -> Result<String> {
        self.call("manifest", "")
            .map_err(|reason| Error::Failed { plugin: self.path.display().to_string(), reason })
    }

    /// Its response to `request`.
    pub(crate) fn run(&self, name: &str, request: &str) -> Result<String> {
        self.call("run", request)
            .map_err(|reason| Error::Failed { plugin: name.to_owned(), reason })
    }

    /// Runs `PROGRAM verb` with `input` on standard input; its standard output, or why not.
    fn call(&self, verb: &str, input: &str) -> std::result::Result<String, String> {
        let mut child = Command::new(&self.path)
            .arg(verb)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("could not be started: {err}"))?;
        // Write on a thread, so that a program that prints before it reads cannot deadlock.
        let mut stdin = child.stdin.take().ok_or("has no standard input")?;
        let input = input.to_owned();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let mut stdout = child.stdout.take().ok_or("has no standard output")?;
        let mut stderr = child.stderr.take().ok_or("has no standard error")?;
        let reader = std::thread::spawn(move || {
            let mut out = String::new();
            stdout.read_to_string(&mut out).map(|_| out)
        });
        let errors = std::thread::spawn(move || {
            let mut err = String::new();
            let _ = stderr.read_to_string(&mut err);
            err
        });
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            match child.try_wait().map_err(|err| err.to_string())? {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "`{verb}` did not finish within {}s and was stopped",
                        TIMEOUT.as_secs()
                    ));
                }
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let _ = writer.join();
        let out = reader
            .join()
            .map_err(|_| "its output could not be read")?
            .map_err(|err| err.to_string())?;
        let err = errors.join().unwrap_or_default();
        if !status.success() {
            let last: Vec<&str> =
                err.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
            let code = status.code().map_or_else(|| status.to_string(), |c| format!("status {c}"));
            return Err(format!("`{verb}` exited with {code}: {}", last.join(" | ")));
        }
        Ok(out)
    }
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    true
}
