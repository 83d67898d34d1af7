//! `cargo xtask bench-apply`: `prefectctl apply` of the full stack against a real API server
//! (`../shared/k8s`), next to `kubectl apply --server-side` of the very same objects, both in
//! this one run: a first install into a fresh namespace, then a re-apply that changes nothing.
//! Also the API requests each `apply` sent (prefectctl prints them).
//!
//! Each run uses fresh namespaces; kubectl's discovery cache is warm, as on a workstation.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use crate::{ci::k8s_scripts, sh, workspace};

/// The stack measured: every first-party plugin but the OpenShift one (no Route on a plain
/// API server), with a fixed database password so that kubectl gets the same Secret, and no
/// migration Job (no node runs its pod, and kubectl would not wait for it).
const STACK: &[&str] = &[
    "--plugin",
    "agent",
    "--plugin",
    "postgres",
    "--plugin",
    "dask-rbac",
    "--set",
    "postgres.auth.password=bench-password,agent.podDisruptionBudget.enabled=true,\
     server.migrations.enabled=false",
];

pub fn run(args: &[String]) -> Result<(), String> {
    let runs: usize = match args {
        [] => 5,
        [flag, n] if flag == "--runs" => {
            n.parse().map_err(|_| format!("--runs {n}: not a number"))?
        }
        _ => return Err("usage: cargo xtask bench-apply [--runs N]".to_owned()),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    sh(&cargo, &["build", "--release", "--workspace"])?;
    let prefectctl = workspace().join("target/release/prefectctl");
    let scripts = k8s_scripts()?;
    let scripts = scripts.to_str().ok_or("the path of the k8s scripts is not UTF-8")?;
    sh("bash", &[&format!("{scripts}/build.sh")])?;
    let dir = std::env::temp_dir().join(format!("prefectctl-bench-apply-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let started = output("bash", &[&format!("{scripts}/start.sh"), path(&dir)?])?;
    let kubeconfig = started.trim().to_owned();
    let result = measure(&prefectctl, &kubeconfig, &dir, runs);
    let _ =
        Command::new("bash").args([&format!("{scripts}/start.sh"), path(&dir)?, "stop"]).status();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(prefectctl: &Path, kubeconfig: &str, dir: &Path, runs: usize) -> Result<(), String> {
    let kubectl = |args: &[&str]| -> Result<String, String> {
        let mut all = vec!["--kubeconfig", kubeconfig];
        all.extend_from_slice(args);
        output("kubectl", &all)
    };
    // Warm kubectl's discovery cache, as it is on a workstation.
    kubectl(&["api-resources"])?;
    let (mut ours_install, mut theirs_install, mut ours_noop, mut theirs_noop) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut install_requests, mut noop_requests) = (0, 0);
    let mut objects = 0;
    for run in 0..runs {
        let (mine, kubectls) = (format!("bench-p-{run}"), format!("bench-k-{run}"));
        kubectl(&["create", "namespace", &mine])?;
        kubectl(&["create", "namespace", &kubectls])?;
        let mut render = vec!["render", "-n", kubectls.as_str(), "--kube-version", "1.20.2"];
        render.extend_from_slice(STACK);
        let manifests = dir.join(format!("{kubectls}.yaml"));
        std::fs::write(&manifests, output(path(prefectctl)?, &render)?)
            .map_err(|e| e.to_string())?;
        objects = std::fs::read_to_string(&manifests)
            .map_err(|e| e.to_string())?
            .matches("\n---")
            .count()
            + 1;

        let mut apply = vec!["--kubeconfig", kubeconfig, "-n", mine.as_str(), "apply"];
        apply.extend_from_slice(STACK);
        let server_side =
            ["--kubeconfig", kubeconfig, "apply", "--server-side", "-f", path(&manifests)?];

        let (wall, out) = timed(path(prefectctl)?, &apply)?;
        ours_install.push(wall);
        install_requests = requests(&out)?;
        theirs_install.push(timed("kubectl", &server_side)?.0);
        let (wall, out) = timed(path(prefectctl)?, &apply)?;
        ours_noop.push(wall);
        noop_requests = requests(&out)?;
        theirs_noop.push(timed("kubectl", &server_side)?.0);
    }
    let ratio = |ours: &[Duration], theirs: &[Duration]| {
        median(ours).as_secs_f64() / median(theirs).as_secs_f64()
    };
    println!(
        "{runs} runs each, release build, against kube-apiserver 1.20 on this machine, {objects} objects:"
    );
    println!("{:<34} {:>14} {:>14} {:>8}", "", "prefectctl", "kubectl", "ratio");
    for (name, ours, theirs, target) in [
        ("first install (median wall)", &ours_install, &theirs_install, 1.0),
        ("no-op re-apply (median wall)", &ours_noop, &theirs_noop, 0.5),
    ] {
        let r = ratio(ours, theirs);
        println!(
            "{name:<34} {:>14.1?} {:>14.1?} {:>7.2}x  (target at most {target}x: {})",
            median(ours),
            median(theirs),
            r,
            if r <= target { "met" } else { "MISSED" }
        );
    }
    println!(
        "API requests per prefectctl apply: {install_requests} (first install), {noop_requests} (no-op re-apply); discovery read once per apply"
    );
    Ok(())
}

/// The number in prefectctl's "...; N API requests" line.
fn requests(out: &str) -> Result<usize, String> {
    out.rsplit("; ")
        .next()
        .and_then(|tail| tail.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("prefectctl printed no request count: {out}"))
}

fn timed(program: &str, args: &[&str]) -> Result<(Duration, String), String> {
    let started = Instant::now();
    let out = output(program, args)?;
    Ok((started.elapsed(), out))
}

fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("could not run {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn path(p: &Path) -> Result<&str, String> {
    p.to_str().ok_or_else(|| format!("{} is not UTF-8", p.display()))
}
