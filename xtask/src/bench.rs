//! `cargo xtask bench`: `prefectctl render` of the default stack, release build, the whole
//! process (start, plugin loading from disk, render, exit), next to `kubectl kustomize` of the
//! very same manifests, both measured in this one run.
//!
//! Wall time is the median of N runs; peak RSS is the largest `ru_maxrss` that `wait4` reports
//! for any of the runs.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::{sh, workspace};

/// The targets the project holds `render` to (issue: under 10 ms wall and 20 MB peak RSS).
const WALL_TARGET: Duration = Duration::from_millis(10);
const RSS_TARGET_KIB: i64 = 20 * 1024;

pub fn run(args: &[String]) -> Result<(), String> {
    let runs: usize = match args {
        [] => 50,
        [flag, n] if flag == "--runs" => {
            n.parse().map_err(|_| format!("--runs {n}: not a number"))?
        }
        _ => return Err("usage: cargo xtask bench [--runs N]".to_owned()),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    sh(&cargo, &["build", "--release", "-p", "prefectctl", "-p", "prefectctl-plugin-server"])?;

    let prefectctl = workspace().join("target/release/prefectctl");
    let render = vec![prefectctl.display().to_string(), "render".to_owned()];
    let out = Command::new(&prefectctl)
        .arg("render")
        .env_remove("PREFECTCTL_PLUGIN_PATH")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("prefectctl render failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let dir = std::env::temp_dir().join(format!("prefectctl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("stack.yaml"), &out.stdout).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("kustomization.yaml"), "resources:\n- stack.yaml\n")
        .map_err(|e| e.to_string())?;
    let kustomize = vec!["kubectl".to_owned(), "kustomize".to_owned(), dir.display().to_string()];

    let ours = measure(&render, runs)?;
    let theirs = measure(&kustomize, runs)?;
    let _ = std::fs::remove_dir_all(&dir);

    println!("{runs} runs each, release build, whole process, on this machine:");
    println!("{:<28} {:>12} {:>12} {:>14}", "command", "median wall", "min wall", "peak RSS");
    for (name, m) in [("prefectctl render", &ours), ("kubectl kustomize (same)", &theirs)] {
        println!(
            "{name:<28} {:>12.2?} {:>12.2?} {:>11.1} MB",
            m.median,
            m.min,
            m.peak_rss_kib as f64 / 1024.0
        );
    }
    println!(
        "ratio prefectctl / kubectl kustomize: wall {:.2}x, peak RSS {:.2}x",
        ours.median.as_secs_f64() / theirs.median.as_secs_f64(),
        ours.peak_rss_kib as f64 / theirs.peak_rss_kib as f64
    );
    let wall_ok = ours.median < WALL_TARGET;
    let rss_ok = ours.peak_rss_kib < RSS_TARGET_KIB;
    println!(
        "target: under {WALL_TARGET:?} wall ({}) and 20 MB peak RSS ({})",
        if wall_ok { "met" } else { "MISSED" },
        if rss_ok { "met" } else { "MISSED" }
    );
    Ok(())
}

struct Measurement {
    median: Duration,
    min: Duration,
    peak_rss_kib: i64,
}

fn measure(command: &[String], runs: usize) -> Result<Measurement, String> {
    let mut walls = Vec::with_capacity(runs);
    let mut peak = 0;
    // One warm-up run, so that both commands start with their files in the page cache.
    run_once(command)?;
    for _ in 0..runs {
        let (wall, rss) = run_once(command)?;
        walls.push(wall);
        peak = peak.max(rss);
    }
    walls.sort();
    Ok(Measurement { median: walls[walls.len() / 2], min: walls[0], peak_rss_kib: peak })
}

/// Runs the command once with output discarded; its wall time and peak RSS (KiB).
fn run_once(command: &[String]) -> Result<(Duration, i64), String> {
    let started = Instant::now();
    let child = Command::new(&command[0])
        .args(&command[1..])
        .env_remove("PREFECTCTL_PLUGIN_PATH")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| format!("could not run {}: {err}", command[0]))?;
    let (status, rss) = wait_with_rusage(child.id())?;
    let wall = started.elapsed();
    if status != 0 {
        return Err(format!("`{}` exited with {status}", command.join(" ")));
    }
    Ok((wall, rss))
}

/// `wait4` for one child: its exit status and its own peak RSS, which `std` does not expose.
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
