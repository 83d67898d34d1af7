//! `--wait`: following the Deployments, StatefulSets, Jobs and claims of a write until they are
//! ready, with a live display on a terminal and a line per change otherwise (CI logs); on
//! timeout or failure, what the cluster says about what is not ready (conditions and latest
//! events), below the state the display left.

use std::{
    collections::BTreeMap,
    io::IsTerminal,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use prefect_cluster::readiness::{Readiness, is_followed, readiness};
use prefect_manifest::ResourceKey;
use serde_json::Value;

use crate::{failure::Failure, plan::Plan, session::Session};

/// How often objects are read again.
const POLL: Duration = Duration::from_secs(2);

/// How often the live display redraws its clock between reads.
const TICK: Duration = Duration::from_secs(1);

/// How long the API server may go without answering before `--wait` gives up on it: long
/// enough for a restart behind a load balancer, far shorter than a `--timeout`.
const OUTAGE: Duration = Duration::from_secs(15);

/// Waits until every followed object of `plan` is ready, at most `timeout`.
pub fn until_ready(session: &Session, plan: &Plan, timeout: Duration) -> Result<(), Failure> {
    let followed: Vec<&ResourceKey> = plan
        .graph
        .ordered()
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| is_followed(&key.kind))
        .collect();
    follow(session, plan, &followed, timeout)
}

/// A followed object as last read: its readiness, and the object when it could be read.
struct Observed {
    readiness: Readiness,
    live: Option<Value>,
}

/// Waits until each of `followed` is ready (a Job: complete), at most `timeout`; fails as soon
/// as one of them fails.
pub fn follow(
    session: &Session,
    plan: &Plan,
    followed: &[&ResourceKey],
    timeout: Duration,
) -> Result<(), Failure> {
    if followed.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let deadline = started + timeout;
    let mut display = Display::new(followed, started, timeout);
    let mut answered = started;
    loop {
        let (states, no_answer) = observe(session, plan, followed);
        display.show(&states);
        match no_answer {
            None => answered = Instant::now(),
            Some(err) if answered.elapsed() >= OUTAGE => {
                display.finish(&states);
                return Err(lost(session, &err, answered.elapsed()));
            }
            Some(_) => {}
        }
        let failed: Vec<&ResourceKey> = states
            .iter()
            .filter(|(_, seen)| matches!(seen.readiness, Readiness::Failed(_)))
            .map(|(key, _)| key)
            .collect();
        if !failed.is_empty() {
            display.finish(&states);
            let named: Vec<String> = failed.iter().map(ToString::to_string).collect();
            let head = format!("{} will not get ready by waiting", named.join(", "));
            return Err(Failure::runtime(vec![said(session, &head, &failed, &states)]));
        }
        if states.values().all(|seen| seen.readiness.is_ready()) {
            display.finish(&states);
            return Ok(());
        }
        if Instant::now() >= deadline {
            display.finish(&states);
            return Err(timed_out(session, &states, timeout));
        }
        std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
    }
}

/// Reads every followed object once, together; and when no read got an answer from the API
/// server, why.
fn observe(
    session: &Session,
    plan: &Plan,
    followed: &[&ResourceKey],
) -> (BTreeMap<ResourceKey, Observed>, Option<prefect_cluster::Error>) {
    let reads =
        session.block_on(futures::future::join_all(followed.iter().map(|key| async move {
            let live =
                session.cluster.get(plan.target(key), key.namespace.as_deref(), &key.name).await;
            (key, live)
        })));
    let mut no_answer = None;
    let mut answered = false;
    let mut states = BTreeMap::new();
    for (key, live) in reads {
        answered |= !matches!(&live, Err(err) if err.is_no_answer());
        let seen = match live {
            Ok(Some(object)) => Observed { readiness: readiness(&object), live: Some(object) },
            Ok(None) => Observed {
                readiness: Readiness::Waiting(
                    "it does not exist (deleted by someone else?)".to_owned(),
                ),
                live: None,
            },
            Err(err) if err.is_no_answer() => {
                let seen = Observed {
                    readiness: Readiness::Waiting("the API server does not answer".to_owned()),
                    live: None,
                };
                no_answer.get_or_insert(err);
                seen
            }
            Err(err) => Observed {
                readiness: Readiness::Waiting(format!("cannot read it: {err}")),
                live: None,
            },
        };
        states.insert((*key).clone(), seen);
    }
    (states, if answered { None } else { no_answer })
}

/// The failure when the API server has not answered for `since`: the objects were written, and
/// what they are now is for a later command to read.
fn lost(session: &Session, err: &prefect_cluster::Error, since: Duration) -> Failure {
    Failure::runtime(vec![format!(
        "stopped waiting: the API server has not answered for {} ({err})",
        duration(since)
    )])
    .and(format!(
        "what was applied stays applied; once the server answers again, `prefectctl -n {} \
         status` shows whether it got ready, and the same command with --wait waits again",
        session.namespace
    ))
}

/// The failure after `timeout`. The display above it already shows each object's state, so it
/// names no object again but adds what the cluster says about those not ready.
fn timed_out(
    session: &Session,
    states: &BTreeMap<ResourceKey, Observed>,
    timeout: Duration,
) -> Failure {
    let waiting: Vec<&ResourceKey> = states
        .iter()
        .filter(|(_, seen)| matches!(seen.readiness, Readiness::Waiting(_)))
        .map(|(key, _)| key)
        .collect();
    let head = format!(
        "not ready after {} (--timeout): {} of the {} objects above",
        duration(timeout),
        waiting.len(),
        states.len()
    );
    Failure::runtime(vec![said(session, &head, &waiting, states)]).and(format!(
        "to wait longer, run the command again with a larger --timeout; to see what the pods \
         wait for: kubectl -n {} describe pods",
        session.namespace
    ))
}

/// `head`, then the conditions of each of `keys` that do not hold and the latest events of it,
/// its ReplicaSets and its pods, each line naming its object.
fn said(
    session: &Session,
    head: &str,
    keys: &[&ResourceKey],
    states: &BTreeMap<ResourceKey, Observed>,
) -> String {
    let events = session.block_on(session.cluster.events(&session.namespace)).unwrap_or_default();
    let mut lines = Vec::new();
    for key in keys {
        let conditions = states[*key]
            .live
            .as_ref()
            .and_then(|live| live["status"]["conditions"].as_array().cloned())
            .unwrap_or_default();
        for condition in conditions.iter().filter(|c| c["status"] != "True") {
            let text = |field: &str| condition[field].as_str().unwrap_or_default().to_owned();
            lines.push(format!(
                "  {}/{} condition {}={} {}: {}",
                key.kind,
                key.name,
                text("type"),
                text("status"),
                text("reason"),
                text("message")
            ));
        }
        // A workload's pods and ReplicaSets are named after it; a claim's namesake pods are not
        // its own.
        let owned = format!("{}-", key.name);
        let workload = matches!(key.kind.as_str(), "Deployment" | "StatefulSet" | "Job");
        let related: Vec<String> = events
            .iter()
            .filter(|e| {
                (e.kind == key.kind && e.name == key.name)
                    || (workload
                        && matches!(e.kind.as_str(), "Pod" | "ReplicaSet")
                        && e.name.starts_with(&owned))
            })
            .map(|e| format!("  {}/{} {} {}: {}", e.kind, e.name, e.severity, e.reason, e.message))
            .collect();
        let start = related.len().saturating_sub(3);
        lines.extend(related.into_iter().skip(start));
    }
    if lines.is_empty() {
        format!("{head}; the cluster reports no events or failing conditions for them yet")
    } else {
        let them = if keys.len() == 1 { "it" } else { "them" };
        format!("{head}; what the cluster says about {them}:\n{}", lines.join("\n"))
    }
}

/// `d` as Go writes durations, to the second: `45s`, `1m5s`, `1h30m`.
fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut text = String::new();
    if h > 0 {
        text.push_str(&format!("{h}h"));
    }
    if m > 0 {
        text.push_str(&format!("{m}m"));
    }
    if s > 0 || text.is_empty() {
        text.push_str(&format!("{s}s"));
    }
    text
}

/// The progress line of `key`.
fn line(key: &ResourceKey, state: &Readiness) -> String {
    match state {
        Readiness::Ready => format!("ready    {key}"),
        Readiness::Waiting(why) => format!("waiting  {key}: {why}"),
        Readiness::Failed(why) => format!("failed   {key}: {why}"),
    }
}

/// The clock line: how many are ready, time elapsed and left, in whole seconds that add up to
/// the timeout.
fn clock(ready: usize, total: usize, elapsed: Duration, timeout: Duration) -> String {
    let elapsed = Duration::from_secs(elapsed.as_secs());
    format!(
        "{ready} of {total} ready, {} elapsed, {} left (--timeout {})",
        duration(elapsed),
        duration(Duration::from_secs(timeout.as_secs()).saturating_sub(elapsed)),
        duration(timeout)
    )
}

/// The progress display: live on a terminal, a line per change otherwise.
struct Display {
    order: Vec<ResourceKey>,
    started: Instant,
    timeout: Duration,
    live: Option<Live>,
    /// Off a terminal: the line last printed for each object.
    printed: BTreeMap<ResourceKey, String>,
}

/// The live display: a row per object, cut to the terminal's width so that no row wraps, and
/// the clock below them, redrawn every [`TICK`].
struct Live {
    multi: MultiProgress,
    rows: Vec<ProgressBar>,
    clock: ProgressBar,
    /// How many are ready, for the clock.
    ready: Arc<AtomicUsize>,
}

impl Display {
    fn new(order: &[&ResourceKey], started: Instant, timeout: Duration) -> Display {
        let order: Vec<ResourceKey> = order.iter().map(|key| (*key).clone()).collect();
        // A dumb terminal cannot move the cursor: it gets the lines a log gets.
        let capable = std::io::stderr().is_terminal()
            && std::env::var_os("TERM").is_none_or(|term| term != "dumb");
        let live = capable.then(|| Live::new(&order, started, timeout));
        Display { order, started, timeout, live, printed: BTreeMap::new() }
    }

    fn show(&mut self, states: &BTreeMap<ResourceKey, Observed>) {
        let ready = states.values().filter(|seen| seen.readiness.is_ready()).count();
        match &self.live {
            Some(live) => {
                let width = console::Term::stderr()
                    .size_checked()
                    .map_or(usize::MAX, |(_, columns)| usize::from(columns));
                for (row, key) in live.rows.iter().zip(&self.order) {
                    let text = line(key, &states[key].readiness);
                    row.set_message(console::truncate_str(&text, width, "…").into_owned());
                }
                live.ready.store(ready, Ordering::Relaxed);
                live.clock.tick();
            }
            None => {
                let stamp = duration(self.started.elapsed());
                for key in &self.order {
                    let text = line(key, &states[key].readiness);
                    if self.printed.get(key) != Some(&text) {
                        eprintln!("{stamp:>6} {text}");
                        self.printed.insert(key.clone(), text);
                    }
                }
            }
        }
    }

    /// Ends the display. On a terminal, the live rows give way to the final state printed once
    /// in full (wrapped by the terminal if need be, never redrawn), with the clock; off a
    /// terminal, the lines printed are already that state.
    fn finish(self, states: &BTreeMap<ResourceKey, Observed>) {
        let Some(live) = self.live else { return };
        for bar in live.rows.iter().chain([&live.clock]) {
            bar.finish_and_clear();
        }
        let _ = live.multi.clear();
        drop(live);
        for key in &self.order {
            eprintln!("{}", line(key, &states[key].readiness));
        }
        let ready = states.values().filter(|seen| seen.readiness.is_ready()).count();
        eprintln!("{}", clock(ready, self.order.len(), self.started.elapsed(), self.timeout));
    }
}

impl Live {
    fn new(order: &[ResourceKey], started: Instant, timeout: Duration) -> Live {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let row = ProgressStyle::with_template("{wide_msg}").expect("a valid template");
        let rows = order
            .iter()
            .map(|key| {
                let bar = ProgressBar::new_spinner()
                    .with_style(row.clone())
                    .with_message(format!("reading  {key}"));
                multi.add(bar)
            })
            .collect();
        let ready = Arc::new(AtomicUsize::new(0));
        let (count, total) = (ready.clone(), order.len());
        let style = ProgressStyle::with_template("{clock}").expect("a valid template").with_key(
            "clock",
            move |_: &ProgressState, out: &mut dyn std::fmt::Write| {
                let ready = count.load(Ordering::Relaxed);
                let _ = out.write_str(&clock(ready, total, started.elapsed(), timeout));
            },
        );
        let clock = multi.add(ProgressBar::new_spinner().with_style(style));
        clock.enable_steady_tick(TICK);
        Live { multi, rows, clock, ready }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_writes_them() {
        let cases =
            [(0, "0s"), (6, "6s"), (65, "1m5s"), (300, "5m"), (5400, "1h30m"), (3605, "1h5s")];
        for (secs, text) in cases {
            assert_eq!(duration(Duration::from_secs(secs)), text);
        }
        assert_eq!(
            clock(1, 3, Duration::from_millis(4500), Duration::from_secs(6)),
            "1 of 3 ready, 4s elapsed, 2s left (--timeout 6s)"
        );
        assert_eq!(
            clock(0, 2, Duration::from_millis(7100), Duration::from_secs(6)),
            "0 of 2 ready, 7s elapsed, 0s left (--timeout 6s)"
        );
    }
}
