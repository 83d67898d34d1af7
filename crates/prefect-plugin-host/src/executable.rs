//! Executable plugins, in any language: the same JSON documents as library plugins, over
//! standard input and output, in the manner of Kustomize's KRM functions.
//!
//! - `PROGRAM manifest` prints the plugin's manifest;
//! - `PROGRAM run` reads a run request on standard input and prints the response.
//!
//! Each call must exit with status 0 within [`TIMEOUT`] and print at most [`MAX_OUTPUT`]; the
//! end of what the program writes to standard error is shown in the error when it fails. A
//! call runs in a process group of its own, ended when the program exits, so that a process
//! it started and left behind (holding the output pipe open) cannot keep prefectctl waiting;
//! on Linux the program is also ended when prefectctl dies first.

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc::{self, Receiver, RecvTimeoutError},
    time::{Duration, Instant},
};

use crate::{Error, Result};

/// How long one call may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The most a call may print on standard output: far more than any stack's response.
pub const MAX_OUTPUT: usize = 64 << 20;

/// How much of the end of standard error is kept for the error message.
const STDERR_KEPT: usize = 4096;

/// The longest line of standard error an error message quotes.
const LINE_SHOWN: usize = 300;

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
        let mut command = Command::new(&self.path);
        command.arg(verb).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        // In a group of its own the program no longer gets the terminal's Ctrl-C: when
        // prefectctl dies before it (a second signal, SIGKILL), the kernel ends it instead.
        #[cfg(target_os = "linux")]
        #[allow(unsafe_code)]
        // SAFETY: the closure runs in the forked child before exec and makes one system call
        // (prctl), which is async-signal-safe; it allocates nothing and takes no lock.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                let kill = Some(rustix::process::Signal::KILL);
                rustix::process::set_parent_process_death_signal(kill).map_err(Into::into)
            });
        }
        let mut child = command.spawn().map_err(|err| format!("could not be started: {err}"))?;
        let deadline = Instant::now() + TIMEOUT;
        // Write and read on threads, so that a program that prints before it reads cannot
        // deadlock; none is joined, so that one blocked on a pipe that a stray process holds
        // cannot block this one.
        let mut stdin = child.stdin.take().ok_or("has no standard input")?;
        let input = input.to_owned();
        std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let stdout = read_on_thread(child.stdout.take().ok_or("has no standard output")?, |out| {
            let mut bytes = Vec::new();
            out.take(MAX_OUTPUT as u64 + 1).read_to_end(&mut bytes).map(|_| bytes)
        });
        let stderr = read_on_thread(child.stderr.take().ok_or("has no standard error")?, tail);

        let mut out = None;
        let status = loop {
            if out.is_none() {
                out = stdout.try_recv().ok();
            }
            if let Some(Ok(bytes)) = &out
                && bytes.len() > MAX_OUTPUT
            {
                end(&mut child);
                return Err(format!(
                    "`{verb}` printed more than {} MiB and was stopped",
                    MAX_OUTPUT >> 20
                ));
            }
            if let Some(status) = exited(&mut child)? {
                break status;
            }
            if Instant::now() >= deadline {
                end(&mut child);
                return Err(timed_out(verb));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let out = match out {
            Some(out) => out,
            None => match stdout.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(out) => out,
                Err(RecvTimeoutError::Timeout) => return Err(stray_output(verb)),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("its output could not be read".into());
                }
            },
        };
        let out = out.map_err(|err| format!("its output could not be read: {err}"))?;
        if !status.success() {
            // The pipe may still be held by a process that left the group: wait no longer.
            let (kept, total) =
                stderr.recv_timeout(Duration::from_secs(1)).unwrap_or((Vec::new(), 0));
            let code = status.code().map_or_else(|| status.to_string(), |c| format!("status {c}"));
            return Err(format!("`{verb}` exited with {code}: {}", last_lines(&kept, total)));
        }
        if out.len() > MAX_OUTPUT {
            return Err(format!("`{verb}` printed more than {} MiB", MAX_OUTPUT >> 20));
        }
        String::from_utf8(out).map_err(|err| {
            format!(
                "`{verb}` printed something that is not UTF-8 text (at byte {}); {}",
                err.utf8_error().valid_up_to(),
                crate::load::first_bytes(&String::from_utf8_lossy(err.as_bytes()))
            )
        })
    }
}

fn timed_out(verb: &str) -> String {
    format!("`{verb}` did not finish within {}s and was stopped", TIMEOUT.as_secs())
}

fn stray_output(verb: &str) -> String {
    format!(
        "`{verb}` exited, but a process it started outside its process group kept its standard \
         output open for {}s: a plugin must not leave processes behind",
        TIMEOUT.as_secs()
    )
}

/// Runs `read` on `pipe` on a thread of its own; its result arrives on the receiver.
fn read_on_thread<P, T>(mut pipe: P, read: fn(&mut P) -> T) -> Receiver<T>
where
    P: Read + Send + 'static,
    T: Send + 'static,
{
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || send.send(read(&mut pipe)));
    receive
}

/// Reads `pipe` to its end, keeping only the last [`STDERR_KEPT`] bytes; those and how many
/// were read in all.
fn tail(pipe: &mut impl Read) -> (Vec<u8>, usize) {
    let mut kept = Vec::with_capacity(2 * STDERR_KEPT);
    let mut total = 0;
    let mut buffer = [0; 8192];
    while let Ok(read @ 1..) = pipe.read(&mut buffer) {
        total += read;
        kept.extend_from_slice(&buffer[..read]);
        if kept.len() > 2 * STDERR_KEPT {
            kept.drain(..kept.len() - STDERR_KEPT);
        }
    }
    if kept.len() > STDERR_KEPT {
        kept.drain(..kept.len() - STDERR_KEPT);
    }
    (kept, total)
}

/// The last five lines of `kept` (the end of `total` bytes), each cut to [`LINE_SHOWN`]
/// characters, joined with ` | `.
fn last_lines(kept: &[u8], total: usize) -> String {
    let text = String::from_utf8_lossy(kept);
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // The first line kept is only the end of a longer one when bytes were dropped before it.
    let cut_first = total > kept.len() && !text.starts_with('\n');
    let start = lines.len().saturating_sub(5);
    let cut_first = cut_first && start == 0;
    lines.drain(..start);
    let shown: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let line = line.trim_end();
            let end = line.char_indices().nth(LINE_SHOWN).map_or(line.len(), |(at, _)| at);
            let mut shown = String::new();
            if i == 0 && cut_first {
                shown.push('…');
            }
            shown.push_str(&line[..end]);
            if end < line.len() {
                shown.push('…');
            }
            shown
        })
        .collect();
    if shown.is_empty() {
        "it wrote nothing to standard error".to_owned()
    } else {
        shown.join(" | ")
    }
}

/// The program's status once it has exited, without reaping it: its process ID stays taken,
/// so that ending its process group afterwards cannot reach an unrelated process.
#[cfg(unix)]
fn exited(child: &mut Child) -> std::result::Result<Option<ExitStatus>, String> {
    use rustix::process::{Pid, WaitId, WaitIdOptions, kill_process_group, waitid};
    let pid = Pid::from_child(child);
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    match waitid(WaitId::Pid(pid), options) {
        Ok(None) => Ok(None),
        Ok(Some(_)) => {
            // What it started and left running may hold its output open: end them too.
            let _ = kill_process_group(pid, rustix::process::Signal::KILL);
            child.wait().map(Some).map_err(|err| err.to_string())
        }
        Err(err) => Err(err.to_string()),
    }
}

#[cfg(not(unix))]
fn exited(child: &mut Child) -> std::result::Result<Option<ExitStatus>, String> {
    child.try_wait().map_err(|err| err.to_string())
}

/// Ends the program and every process of its group, and reaps it.
fn end(child: &mut Child) {
    #[cfg(unix)]
    {
        let pid = rustix::process::Pid::from_child(child);
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_error_is_quoted_by_its_last_lines_each_cut_short() {
        assert_eq!(last_lines(b"", 0), "it wrote nothing to standard error");
        assert_eq!(last_lines(b"a\n\nb\nc\nd\ne\nf\n", 14), "b | c | d | e | f");
        let long = "x".repeat(1000);
        let shown = last_lines(long.as_bytes(), 100_000_000);
        assert_eq!(shown, format!("…{}…", "x".repeat(LINE_SHOWN)));
    }

    #[test]
    fn only_the_end_of_standard_error_is_kept() {
        let mut input: &[u8] = &[b'y'; 100_000];
        let (kept, total) = tail(&mut input);
        assert_eq!((kept.len(), total), (STDERR_KEPT, 100_000));
    }
}
