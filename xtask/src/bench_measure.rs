//! What the benches share: whole processes timed with `wait4` (wall time and the child's own peak
//! RSS), commands interleaved in rounds, files evicted from the page cache for a cold start, and
//! the figures as they are printed.

use std::{
    fmt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// One command measured: what it is called in the report and what runs.
#[derive(Clone)]
pub struct Bench {
    /// Its name in the report (`prefectctl render`).
    pub label: String,
    /// The program and its arguments.
    pub argv: Vec<String>,
}

impl Bench {
    pub fn new(label: &str, argv: &[&str]) -> Bench {
        Bench { label: label.to_owned(), argv: argv.iter().map(|a| (*a).to_owned()).collect() }
    }

    /// The command as a shell would show it, with the workspace's and the temporary folder's
    /// paths shortened so that it reads in a report.
    pub fn shown(&self) -> String {
        let workspace = crate::workspace().display().to_string();
        let temp = std::env::temp_dir().display().to_string();
        self.argv
            .iter()
            .map(|arg| arg.replace(&format!("{workspace}/"), "").replace(&temp, "$TMP"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One run of a command: its wall time and its peak RSS in KiB (`ru_maxrss`).
#[derive(Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    pub rss_kib: i64,
}

/// A command's figures over its runs.
#[derive(Clone, Copy)]
pub struct Stats {
    /// The median wall time.
    pub median: Duration,
    /// The largest peak RSS of any run, in KiB.
    pub peak_rss_kib: i64,
}

impl Stats {
    pub fn of(samples: &[Sample]) -> Stats {
        let walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
        Stats {
            median: median(&walls),
            peak_rss_kib: samples.iter().map(|s| s.rss_kib).max().unwrap_or(0),
        }
    }

    pub fn rss_mib(&self) -> f64 {
        self.peak_rss_kib as f64 / 1024.0
    }
}

/// `3.2 ms, 9.9 MiB`.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {:.1} MiB", Ms(self.median), self.rss_mib())
    }
}

/// A duration in milliseconds, with as many decimals as its size needs.
pub struct Ms(pub Duration);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_secs_f64() * 1000.0;
        if ms < 10.0 {
            write!(f, "{ms:.2} ms")
        } else if ms < 100.0 {
            write!(f, "{ms:.1} ms")
        } else {
            write!(f, "{ms:.0} ms")
        }
    }
}

pub fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

/// Runs every command `rounds` times, interleaved: each round runs each command once, and each
/// round starts one command further along, so that no command always follows the same one. One
/// warm-up round first (not counted), so that every command starts with its files cached.
/// The figures come back in the order of `benches`.
pub fn interleaved(benches: &[Bench], rounds: usize) -> Result<Vec<Stats>, String> {
    for bench in benches {
        run_once(&bench.argv)?;
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::with_capacity(rounds); benches.len()];
    for round in 0..rounds {
        for step in 0..benches.len() {
            let at = (round + step) % benches.len();
            samples[at].push(run_once(&benches[at].argv)?);
        }
    }
    Ok(samples.iter().map(|s| Stats::of(s)).collect())
}

/// Runs the command once with its output discarded: its wall time and peak RSS.
pub fn run_once(argv: &[String]) -> Result<Sample, String> {
    run_capturing(argv, None)
}

/// Runs the command once, its standard output written to `stdout` (a file, so that a large
/// output never blocks it) or discarded: its wall time and peak RSS.
///
/// The command is started by a launcher (this program again, `xtask bench-launch`), not by the
/// bench itself: a child's `ru_maxrss` includes the memory of the process it was forked from
/// (Linux keeps the old image's high-water mark at `exec`), and the bench holds megabytes of
/// rendered output, while the launcher holds next to nothing. The launcher times the child.
pub fn run_capturing(argv: &[String], stdout: Option<&Path>) -> Result<Sample, String> {
    let out = match stdout {
        Some(file) => Stdio::from(
            std::fs::File::create(file)
                .map_err(|err| format!("cannot create {}: {err}", file.display()))?,
        ),
        None => Stdio::null(),
    };
    // /proc/self/exe, not current_exe(): `cargo xtask ci` rebuilds xtask with the workspace's
    // features while it runs, and the path of a replaced binary no longer exists.
    let ran = Command::new("/proc/self/exe")
        .arg("bench-launch")
        .args(argv)
        .env_remove("PREFECTCTL_PLUGIN_PATH")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| format!("could not run the bench launcher: {err}"))?;
    let said = String::from_utf8_lossy(&ran.stderr);
    let (first, rest) = said.split_once('\n').unwrap_or((&said, ""));
    let figures: Vec<i64> = first.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    let [nanos, rss_kib, status] = figures[..] else {
        return Err(format!("the bench launcher failed on `{}`: {said}", argv.join(" ")));
    };
    if status != 0 {
        return Err(format!("`{}` exited with {status}: {}", argv.join(" "), rest.trim_end()));
    }
    Ok(Sample { wall: Duration::from_nanos(nanos as u64), rss_kib })
}

/// `xtask bench-launch PROGRAM ARGS...`: runs the program (standard output inherited, standard
/// error discarded) and says on standard error its wall time in nanoseconds, its peak RSS in KiB
/// and its exit status.
pub fn launch(argv: &[String]) -> Result<(), String> {
    let program = argv.first().ok_or("usage: xtask bench-launch PROGRAM [ARGS...]")?;
    let said = std::env::temp_dir().join(format!("xtask-bench-launch-{}", std::process::id()));
    let errors = std::fs::File::create(&said)
        .map_err(|err| format!("cannot create {}: {err}", said.display()))?;
    let started = Instant::now();
    let child = Command::new(program)
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stderr(errors)
        .spawn()
        .map_err(|err| format!("could not run {program}: {err}"))?;
    let (status, rss_kib) = wait_with_rusage(child.id())?;
    let wall = started.elapsed();
    eprintln!("{} {rss_kib} {status}", wall.as_nanos());
    if status != 0 {
        eprint!("{}", std::fs::read_to_string(&said).unwrap_or_default());
    }
    let _ = std::fs::remove_file(&said);
    Ok(())
}

/// `wait4` for one child: its exit status and its own peak RSS in KiB (Linux's `ru_maxrss`
/// unit), which `std` does not expose.
#[allow(unsafe_code)]
fn wait_with_rusage(pid: u32) -> Result<(i32, i64), String> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for the child we spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, status and usage are valid for writes.
    let got = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if got < 0 {
        return Err(format!("wait4 failed: {}", std::io::Error::last_os_error()));
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Ok((code, usage.ru_maxrss))
}

/// Drops the files' pages from the page cache (after `sync`, so that none is dirty), so that the
/// next run reads them from disk as after a reboot: `posix_fadvise(POSIX_FADV_DONTNEED)` on each,
/// which needs no privilege and leaves every other file cached.
#[allow(unsafe_code)]
pub fn evict(files: &[PathBuf]) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    // SAFETY: sync takes no arguments and cannot fail.
    unsafe { libc::sync() };
    for file in files {
        let opened = std::fs::File::open(file)
            .map_err(|err| format!("cannot open {} to evict it: {err}", file.display()))?;
        // SAFETY: the descriptor is open for the duration of the call; offset 0 and length 0
        // mean the whole file.
        let got =
            unsafe { libc::posix_fadvise(opened.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if got != 0 {
            return Err(format!(
                "posix_fadvise on {}: {}",
                file.display(),
                std::io::Error::from_raw_os_error(got)
            ));
        }
    }
    Ok(())
}

/// Runs the command `runs` times, each time right after evicting `files` from the page cache:
/// its cold-start figures.
pub fn cold(bench: &Bench, files: &[PathBuf], runs: usize) -> Result<Stats, String> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        evict(files)?;
        samples.push(run_once(&bench.argv)?);
    }
    Ok(Stats::of(&samples))
}

/// `met` or `MISSED`.
pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// Standard output of `program args`, which must succeed.
pub fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .env_remove("PREFECTCTL_PLUGIN_PATH")
        .output()
        .map_err(|err| format!("could not run {program}: {err}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    String::from_utf8(out.stdout)
        .map_err(|_| format!("`{program} {}` printed non-UTF-8", args.join(" ")))
}

pub fn path(p: &Path) -> Result<&str, String> {
    p.to_str().ok_or_else(|| format!("{} is not UTF-8", p.display()))
}

pub fn write(file: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|err| format!("cannot create {}: {err}", parent.display()))?;
    }
    std::fs::write(file, text).map_err(|err| format!("cannot write {}: {err}", file.display()))
}

/// A temporary folder removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Result<TempDir, String> {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
