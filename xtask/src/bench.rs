//! `cargo xtask bench [--runs N] [--check | --record]`: `prefectctl render` (release build, whole
//! processes, plugins loaded from disk) next to its peers, every scenario's commands interleaved
//! in one run (each round runs each command once, starting one further along each time), with
//! the median wall time and the peak RSS (MiB) of each command:
//!
//! - default render: the default stack next to `helm template` of a chart whose templates are
//!   that very output (static, the same objects);
//! - full stack render: five plugins next to `cat` of the same output, the floor;
//! - 10,000 ConfigMaps: the `fixture-many-objects` plugin alone next to `helm template` of a
//!   chart that makes the same ConfigMaps with a `range` loop;
//! - cold start of the first two: the first run after the binary and the plugin libraries were
//!   evicted from the page cache.
//!
//! Each scenario's goal (issue 13) is printed as met or MISSED. `--check` (CI) runs a few rounds
//! and fails when a ratio is past twice the one recorded in `xtask/bench-baseline.json`;
//! `--record` writes the ratios measured there.

use std::path::PathBuf;

use crate::{
    bench_baseline,
    bench_helm::{self, HELM_VERSION},
    bench_measure::{Bench, Ms, Stats, TempDir, cold, interleaved, output, path, verdict, write},
    project::first_party_plugins,
    sh,
};

/// The plugins of the full stack, besides the server.
pub const FULL_STACK: &[&str] = &[
    "--plugin",
    "agent",
    "--plugin",
    "postgres",
    "--plugin",
    "openshift-security",
    "--plugin",
    "dask-rbac",
];

/// The bench fixture's package and its number of ConfigMaps in the render bench.
pub const FIXTURE: &str = "prefectctl-plugin-fixture-many-objects";
const MANY: u32 = 10_000;
/// Keys per ConfigMap: the fixture's default.
const ENTRIES: u32 = 4;

/// How a bench runs, from its flags.
pub struct Options {
    pub runs: usize,
    /// The Cargo profile built and measured: `release`, or `dist` (the same settings, symbols
    /// stripped: what `cargo xtask dist` ships, and what CI has built anyway).
    pub profile: String,
    pub mode: Mode,
    /// Measure the build that is there (`--no-build`), as another change is being built.
    pub no_build: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Print the figures and the goals.
    Report,
    /// Also fail on a ratio past twice its recorded value.
    Check,
    /// Also write the ratios as the new baseline.
    Record,
}

impl Options {
    /// `[--runs N] [--check | --record] [--profile P]`; `--check` runs `check_runs` rounds
    /// unless told.
    pub fn parse(
        args: &[String],
        bench: &str,
        runs: usize,
        check_runs: usize,
    ) -> Result<Options, String> {
        let usage =
            || format!("usage: cargo xtask {bench} [--runs N] [--check | --record] [--profile P]");
        let (mut given, mut mode, mut profile) = (None, Mode::Report, "release".to_owned());
        let mut no_build = false;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--runs" => {
                    let n = args.next().ok_or_else(usage)?;
                    let n: usize = n.parse().map_err(|_| format!("--runs {n}: not a number"))?;
                    if n == 0 {
                        return Err("--runs 0: at least one run".to_owned());
                    }
                    given = Some(n);
                }
                "--no-build" => no_build = true,
                "--profile" => profile = args.next().ok_or_else(usage)?.clone(),
                "--check" if mode == Mode::Report => mode = Mode::Check,
                "--record" if mode == Mode::Report => mode = Mode::Record,
                _ => return Err(usage()),
            }
        }
        let runs = given.unwrap_or(if mode == Mode::Check { check_runs } else { runs });
        Ok(Options { runs, mode, profile, no_build })
    }

    /// Builds what the benches run, unless told not to.
    pub fn build(&self) -> Result<(), String> {
        if self.no_build { Ok(()) } else { build(&self.profile) }
    }

    /// The folder of the build measured: `prefectctl` and the plugin libraries.
    pub fn built(&self) -> PathBuf {
        crate::project::target_dir().join(&self.profile)
    }

    /// Checks or records the ratios, as the flags asked.
    pub fn conclude(&self, bench: &str, ratios: &[(&str, f64)]) -> Result<(), String> {
        match self.mode {
            Mode::Report => Ok(()),
            Mode::Check => bench_baseline::check(bench, ratios),
            Mode::Record => {
                let note = format!(
                    "{} runs on {} cores, `cargo xtask {bench} --record`",
                    self.runs,
                    std::thread::available_parallelism().map_or(0, |n| n.get())
                );
                bench_baseline::record(bench, ratios, &note)
            }
        }
    }
}

/// A scenario's goal (issue 13): at most this ratio to the peer, at most this peak RSS.
#[derive(Clone, Copy)]
pub struct Goal {
    pub ratio: Option<f64>,
    pub rss_mib: Option<f64>,
}

impl Goal {
    pub const NONE: Goal = Goal { ratio: None, rss_mib: None };

    /// `≤ 3x: met, ≤ 12 MiB: MISSED`, or `—`.
    pub fn judge(&self, ratio: f64, ours: Option<&Stats>) -> String {
        let mut parts = Vec::new();
        if let Some(max) = self.ratio {
            parts.push(format!("≤ {max}x: {}", verdict(ratio <= max)));
        }
        if let (Some(max), Some(ours)) = (self.rss_mib, ours) {
            parts.push(format!("≤ {max} MiB: {}", verdict(ours.rss_mib() <= max)));
        }
        if parts.is_empty() { "—".to_owned() } else { parts.join(", ") }
    }
}

struct Scenario {
    name: &'static str,
    ours: Bench,
    peer: Bench,
    goal: Goal,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args, "bench", 20, 7)?;
    options.build()?;
    let helm = bench_helm::helm()?;
    let helm = path(&helm)?;

    let release = options.built();
    let prefectctl = release.join("prefectctl");
    let prefectctl = path(&prefectctl)?;
    let fixture = release.join(library_file(FIXTURE));
    let fixture = path(&fixture)?;
    let tmp = TempDir::new("prefectctl-bench")?;
    let dir = |name: &str| tmp.0.join(name).display().to_string();

    // a. The default stack, and a chart whose template is its output.
    let default = output(prefectctl, &["render"])?;
    bench_helm::static_chart(&tmp.0.join("default-chart"), &default)?;
    let default_chart = dir("default-chart");
    let helm_default = ["template", "prefect", &default_chart, "--namespace", "default"];
    same_objects("default render", &default, &output(helm, &helm_default)?)?;

    // b. The full stack, and its output saved for `cat`.
    let full: Vec<&str> = [&["render"], FULL_STACK].concat();
    let full_file = dir("full-stack.yaml");
    write(&tmp.0.join("full-stack.yaml"), &output(prefectctl, &full)?)?;

    // c. 10,000 ConfigMaps from the fixture alone, and a chart with the same ConfigMaps.
    let many = ["render", "--without", "server", "--plugin", fixture];
    let many_out = output(prefectctl, &many)?;
    let many_chart = dir("many-chart");
    bench_helm::configmaps_chart(&tmp.0.join("many-chart"), MANY, ENTRIES, &labels(&many_out))?;
    let helm_many = ["template", "prefect", &many_chart, "--namespace", "default"];
    let objects = same_objects("10,000 ConfigMaps", &many_out, &output(helm, &helm_many)?)?;
    if objects != MANY as usize {
        return Err(format!("{fixture} rendered {objects} objects, not {MANY}"));
    }

    let scenarios = [
        Scenario {
            name: "default render",
            ours: Bench::new("prefectctl render", &[prefectctl, "render"]),
            peer: Bench::new("helm template", &[&[helm], &helm_default[..]].concat()),
            goal: Goal::NONE,
        },
        Scenario {
            name: "full stack render (5 plugins)",
            ours: Bench::new("prefectctl render (full)", &[&[prefectctl], &full[..]].concat()),
            peer: Bench::new("cat (the floor)", &["cat", &full_file]),
            goal: Goal { ratio: Some(3.0), rss_mib: Some(12.0) },
        },
        Scenario {
            name: "10,000 ConfigMaps from a plugin",
            ours: Bench::new("prefectctl render (many)", &[&[prefectctl], &many[..]].concat()),
            peer: Bench::new("helm template (range)", &[&[helm], &helm_many[..]].concat()),
            goal: Goal { ratio: Some(0.15), rss_mib: Some(40.0) },
        },
    ];
    let benches: Vec<Bench> =
        scenarios.iter().flat_map(|s| [s.ours.clone(), s.peer.clone()]).collect();
    eprintln!(
        "measuring {} commands, {} rounds (plus one warm-up round), interleaved...",
        benches.len(),
        options.runs
    );
    let stats = interleaved(&benches, options.runs)?;

    // d. Cold starts: the binary and every plugin library evicted from the page cache first.
    let mut files = vec![PathBuf::from(prefectctl)];
    for plugin in first_party_plugins()? {
        files.push(release.join(plugin.library));
    }
    let cold_runs = options.runs.clamp(3, 10);
    let cold_default = cold(&scenarios[0].ours, &files, cold_runs)?;
    let cold_full = cold(&scenarios[1].ours, &files, cold_runs)?;

    println!(
        "\n`cargo xtask bench`: {} rounds, commands interleaved, release build, whole processes; \
         median wall, peak RSS",
        options.runs
    );
    println!("{:<32} {:<22} {:<40} {:>8}  goal", "work", "prefectctl", "peer", "ratio");
    let mut ratios = Vec::new();
    for (i, scenario) in scenarios.iter().enumerate() {
        let (ours, peer) = (&stats[2 * i], &stats[2 * i + 1]);
        let ratio = ours.median.as_secs_f64() / peer.median.as_secs_f64();
        ratios.push((scenario.name, ratio));
        println!(
            "{:<32} {:<22} {:<40} {:>7.3}x  {}",
            scenario.name,
            ours.to_string(),
            format!("{} {peer}", scenario.peer.label),
            ratio,
            scenario.goal.judge(ratio, Some(ours))
        );
    }
    println!(
        "cold start (first run after evicting prefectctl and the plugin libraries from the page \
         cache, median of {cold_runs}): default render {}, full stack render {}",
        Ms(cold_default.median),
        Ms(cold_full.median)
    );
    println!("commands (helm {HELM_VERSION}):");
    for scenario in &scenarios {
        println!("  {}: {}", scenario.name, scenario.ours.shown());
        println!("  {:>w$}  {}", "vs", scenario.peer.shown(), w = scenario.name.len());
    }
    options.conclude("bench", &ratios)
}

/// The optimised build of what the benches run: prefectctl, every first-party plugin and the
/// bench fixture.
pub fn build(profile: &str) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = ["build", "--profile", profile, "-p", "prefectctl"].map(str::to_owned).to_vec();
    for plugin in first_party_plugins()? {
        build.extend(["-p".to_owned(), plugin.package]);
    }
    build.extend(["-p".to_owned(), FIXTURE.to_owned()]);
    let build: Vec<&str> = build.iter().map(String::as_str).collect();
    if profile == crate::shipped::PROFILE {
        // The flags of `dist` and `install`: other flags would rebuild every crate.
        return crate::shipped::cargo_build(&build);
    }
    sh(&cargo, &build)
}

/// `libprefectctl_plugin_fixture_many_objects.so` of a package.
pub fn library_file(package: &str) -> String {
    format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    )
}

/// Fails unless both streams hold the same objects; their number.
fn same_objects(scenario: &str, ours: &str, helm: &str) -> Result<usize, String> {
    let (ours, theirs) = (bench_helm::objects(ours), bench_helm::objects(helm));
    if ours == theirs {
        return Ok(ours.len());
    }
    let differs = ours.iter().zip(&theirs).find(|(a, b)| a != b);
    Err(format!(
        "{scenario}: helm's chart does not make the objects prefectctl renders ({} and {} \
         objects){}",
        ours.len(),
        theirs.len(),
        differs.map_or(String::new(), |(a, b)| format!(":\n{a}\n--- helm:\n{b}"))
    ))
}

/// The labels prefectctl put on the first ConfigMap, as YAML lines (`key: value`), for the
/// chart that makes the same ones; none when it has none.
fn labels(rendered: &str) -> String {
    let first = rendered.split("\n---").find(|doc| doc.contains("kind: ConfigMap"));
    let Some(at) = first.and_then(|doc| doc.find("\n  labels:\n").map(|at| (doc, at))) else {
        return String::new();
    };
    let (doc, at) = at;
    doc[at + "\n  labels:\n".len()..]
        .lines()
        .take_while(|line| line.starts_with("    "))
        .map(|line| format!("{}\n", &line[4..]))
        .collect()
}
