//! `cargo xtask bench-apply [--runs N] [--check | --record]`: `prefectctl apply` against a real
//! API server (kube-apiserver 1.20 from `../shared/k8s`), next to `kubectl apply --server-side
//! --validate=false` of the very same objects (a 1.32 kubectl would otherwise download the 1.20
//! server's whole OpenAPI document, which a matching server would not make it do), in one run:
//!
//! - the full stack (five plugins): first install and a re-apply that changes nothing;
//! - 1,000 ConfigMaps of `fixture-many-objects`: first install and no-op re-apply.
//!
//! Each round makes fresh namespaces, then runs every first install and then every no-op,
//! starting one command further along each round (interleaved). kubectl's discovery cache is
//! warm, as on a workstation. Also the API requests of each apply: prefectctl prints them;
//! kubectl's are counted once, from its `-v=6` log. And the CPU time kube-apiserver and etcd
//! spend on each of prefectctl's applies: spread over the cores, the floor of any client.

use std::path::Path;

use crate::{
    bench::{FIXTURE, FULL_STACK, Goal, Options, library_file},
    bench_measure::{
        Bench, Ms, Sample, Stats, TempDir, median, output, path, run_capturing, write,
    },
    bench_server::{Server, cores},
    ci::k8s_scripts,
    sh,
};

/// What the full stack sets: a fixed database password (so that kubectl gets the same Secret),
/// and no migration Job (no node runs its pod, and kubectl would not wait for it).
const FULL_STACK_VALUES: &str = "postgres.auth.password=bench-password,\
     agent.podDisruptionBudget.enabled=true,server.migrations.enabled=false";
/// ConfigMaps in the scale scenario.
const MANY: u32 = 1_000;

/// One workload applied by both tools.
struct Scenario {
    name: &'static str,
    /// prefectctl's stack flags.
    stack: Vec<String>,
    install_goal: Goal,
    noop_goal: Goal,
}

pub fn run(args: &[String]) -> Result<(), String> {
    // `--check`: three rounds, so that the median stands one slow apply.
    let options = Options::parse(args, "bench-apply", 5, 3)?;
    options.build()?;
    let scripts = k8s_scripts()?;
    let scripts = path(&scripts)?;
    sh("bash", &[&format!("{scripts}/build.sh")])?;
    let tmp = TempDir::new("prefectctl-bench-apply")?;
    let cluster = tmp.0.join("cluster");
    let start = format!("{scripts}/start.sh");
    let kubeconfig = output("bash", &[&start, path(&cluster)?])?.trim().to_owned();
    let result =
        Server::of(&cluster).and_then(|server| measure(&options, &kubeconfig, &server, &tmp.0));
    let _ = std::process::Command::new("bash").args([&start, path(&cluster)?, "stop"]).status();
    let ratios = result?;
    let ratios: Vec<(&str, f64)> = ratios.iter().map(|(n, r)| (n.as_str(), *r)).collect();
    options.conclude("bench-apply", &ratios)
}

/// The rounds and the report; the ratios by scenario name.
fn measure(
    options: &Options,
    kubeconfig: &str,
    server: &Server,
    dir: &Path,
) -> Result<Vec<(String, f64)>, String> {
    let prefectctl = options.built().join("prefectctl");
    let prefectctl = path(&prefectctl)?;
    let fixture = options.built().join(library_file(FIXTURE));
    let mut full: Vec<String> = FULL_STACK.iter().map(|s| (*s).to_owned()).collect();
    full.extend(["--set".to_owned(), FULL_STACK_VALUES.to_owned()]);
    let scenarios = [
        Scenario {
            name: "full stack (5 plugins)",
            stack: full,
            install_goal: Goal::NONE,
            noop_goal: Goal { ratio: Some(0.3), rss_mib: None },
        },
        Scenario {
            name: "1,000 ConfigMaps",
            stack: [
                "--without",
                "server",
                "--plugin",
                path(&fixture)?,
                "--set",
                &format!("fixture-many-objects.count={MANY}"),
            ]
            .map(str::to_owned)
            .to_vec(),
            install_goal: Goal { ratio: Some(0.1), rss_mib: None },
            noop_goal: Goal { ratio: Some(0.1), rss_mib: None },
        },
    ];
    let kubectl = |args: &[&str]| -> Result<String, String> {
        output("kubectl", &[&["--kubeconfig", kubeconfig], args].concat())
    };
    // Warm kubectl's discovery cache, as it is on a workstation.
    kubectl(&["api-resources"])?;

    // The commands of one round: prefectctl's and kubectl's apply of each scenario, each into
    // its own fresh namespace, the manifests kubectl applies rendered for its namespace.
    let round_commands = |round: &str| -> Result<Vec<(Bench, String)>, String> {
        let mut benches = Vec::new();
        for (s, scenario) in scenarios.iter().enumerate() {
            let (ours, theirs) = (format!("p{s}-{round}"), format!("k{s}-{round}"));
            let stack: Vec<&str> = scenario.stack.iter().map(String::as_str).collect();
            let render = [&["render", "-n", &theirs, "--kube-version", "1.20.2"], &stack[..]];
            let manifests = dir.join(format!("{theirs}.yaml"));
            write(&manifests, &output(prefectctl, &render.concat())?)?;
            let apply =
                [&[prefectctl, "--kubeconfig", kubeconfig, "-n", &ours, "apply"], &stack[..]];
            benches.push((Bench::new("prefectctl apply", &apply.concat()), ours));
            let server_side = [
                "kubectl",
                "--kubeconfig",
                kubeconfig,
                "apply",
                "--server-side",
                "--validate=false",
                "-f",
                path(&manifests)?,
            ];
            benches.push((Bench::new("kubectl apply --server-side", &server_side), theirs));
        }
        let namespaces: String = benches
            .iter()
            .map(|(_, ns)| {
                format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n")
            })
            .collect();
        let file = dir.join(format!("namespaces-{round}.yaml"));
        write(&file, &namespaces)?;
        kubectl(&["create", "-f", path(&file)?])?;
        Ok(benches)
    };

    // A warm-up round (not timed), in which kubectl's requests are counted from its log.
    let counted = round_commands("warm-up")?;
    let mut kubectl_requests = Vec::new();
    for pair in counted.chunks(2) {
        run_capturing(&pair[0].0.argv, None)?;
        run_capturing(&pair[0].0.argv, None)?;
        let install = kubectl_request_count(&pair[1].0.argv)?;
        let noop = kubectl_request_count(&pair[1].0.argv)?;
        kubectl_requests.push((install, noop));
    }

    let n = 2 * scenarios.len();
    let mut installs: Vec<Vec<Sample>> = vec![Vec::new(); n];
    let mut noops: Vec<Vec<Sample>> = vec![Vec::new(); n];
    let mut requests = vec![(0, 0); scenarios.len()];
    // The server's CPU time during each of prefectctl's applies, by phase and scenario.
    let mut server_cpu = vec![vec![Vec::new(); scenarios.len()]; 2];
    eprintln!(
        "measuring {n} applies, first install and no-op, {} rounds, interleaved...",
        options.runs
    );
    let said = dir.join("prefectctl-output.txt");
    for round in 0..options.runs {
        let benches = round_commands(&round.to_string())?;
        for (phase, samples) in [&mut installs, &mut noops].into_iter().enumerate() {
            for step in 0..n {
                let at = (round + step) % n;
                let ours = at.is_multiple_of(2);
                let argv = benches[at].0.argv.clone();
                let cpu_before = server.cpu()?;
                let sample = run_capturing(&argv, ours.then_some(said.as_path()))?;
                samples[at].push(sample);
                if ours {
                    server_cpu[phase][at / 2].push(server.cpu()? - cpu_before);
                    let count = prefectctl_requests(&said)?;
                    let slot = &mut requests[at / 2];
                    if phase == 0 { slot.0 = count } else { slot.1 = count }
                }
            }
        }
    }

    let installs: Vec<Stats> = installs.iter().map(|s| Stats::of(s)).collect();
    let noops: Vec<Stats> = noops.iter().map(|s| Stats::of(s)).collect();
    println!(
        "\n`cargo xtask bench-apply`: {} rounds, commands interleaved, release build, against \
         kube-apiserver 1.20 on this machine; median wall, peak RSS",
        options.runs
    );
    println!("{:<40} {:<22} {:<22} {:>8}  goal", "work", "prefectctl", "kubectl", "ratio");
    let cores = cores();
    let mut ratios = Vec::new();
    let mut floors = Vec::new();
    for (s, scenario) in scenarios.iter().enumerate() {
        for (phase, name, stats, goal) in [
            (0, "first install", &installs, scenario.install_goal),
            (1, "no-op re-apply", &noops, scenario.noop_goal),
        ] {
            let (ours, theirs) = (&stats[2 * s], &stats[2 * s + 1]);
            let ratio = ours.median.as_secs_f64() / theirs.median.as_secs_f64();
            let cpu = median(&server_cpu[phase][s]);
            let floor = cpu / cores;
            let floor_ratio = floor.as_secs_f64() / theirs.median.as_secs_f64();
            let mut verdict = goal.judge(ratio, Some(ours));
            if goal.ratio.is_some_and(|max| max < floor_ratio) {
                verdict.push_str(" (below the server's floor)");
            }
            let name = format!("{}, {name}", scenario.name);
            println!(
                "{name:<40} {:<22} {:<22} {ratio:>7.3}x  {verdict}",
                ours.to_string(),
                theirs.to_string(),
            );
            floors.push(format!(
                "  {name:<40} {} CPU, {} wall at best: {floor_ratio:.3}x",
                Ms(cpu),
                Ms(floor)
            ));
            ratios.push((name, ratio));
        }
    }
    println!("API requests per apply (first install / no-op):");
    for (s, scenario) in scenarios.iter().enumerate() {
        println!(
            "  {:<24} prefectctl {} / {}, kubectl {} / {}",
            scenario.name,
            requests[s].0,
            requests[s].1,
            kubectl_requests[s].0,
            kubectl_requests[s].1
        );
    }
    println!(
        "the server's floor: CPU time of kube-apiserver and etcd during prefectctl's apply \
         (median), spread over {cores} cores, as a ratio to kubectl's median wall:"
    );
    for line in floors {
        println!("{line}");
    }
    println!("commands:");
    let example = &counted;
    for (s, scenario) in scenarios.iter().enumerate() {
        println!("  {}: {}", scenario.name, example[2 * s].0.shown());
        println!("  {:>w$}  {}", "vs", example[2 * s + 1].0.shown(), w = scenario.name.len());
    }
    Ok(ratios)
}

/// The number in prefectctl's "...; N API requests" line, in its output saved in `file`.
fn prefectctl_requests(file: &Path) -> Result<usize, String> {
    let out = std::fs::read_to_string(file)
        .map_err(|err| format!("cannot read {}: {err}", file.display()))?;
    out.lines()
        .filter_map(|line| line.strip_suffix(" API requests"))
        .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
        .next_back()
        .ok_or_else(|| format!("prefectctl printed no \"N API requests\": {out}"))
}

/// Runs kubectl once with `-v=6`, which logs one line per request (`GET https://... 200 OK in
/// 3 milliseconds`): their number.
fn kubectl_request_count(argv: &[String]) -> Result<usize, String> {
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .arg("-v=6")
        .output()
        .map_err(|err| format!("could not run kubectl: {err}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{} -v=6` failed: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|line| line.contains(" milliseconds") && line.contains("https://"))
        .count())
}
