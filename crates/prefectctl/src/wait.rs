//! `--wait`: following the Deployments, StatefulSets, Jobs and claims of a write until they are
//! ready, with a live display on a terminal and plain lines otherwise (CI logs); on timeout,
//! what is not ready and why (its conditions and latest events).

use std::{
    collections::BTreeMap,
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

use prefect_cluster::readiness::{Readiness, is_followed, readiness};
use prefect_manifest::ResourceKey;

use crate::{failure::Failure, plan::Plan, session::Session};

/// How often objects are read again.
const POLL: Duration = Duration::from_secs(2);

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
    let deadline = Instant::now() + timeout;
    let mut display = Display::new(std::io::stderr().is_terminal());
    loop {
        let states =
            session.block_on(futures::future::join_all(followed.iter().map(|key| async {
                let live = session
                    .cluster
                    .get(plan.target(key), key.namespace.as_deref(), &key.name)
                    .await;
                let state = match live {
                    Ok(Some(object)) => readiness(&object),
                    Ok(None) => Readiness::Waiting(
                        "it does not exist (deleted by someone else?)".to_owned(),
                    ),
                    Err(err) => Readiness::Waiting(format!("cannot read it: {err}")),
                };
                ((*key).clone(), state)
            })));
        let states: BTreeMap<ResourceKey, Readiness> = states.into_iter().collect();
        display.show(followed, &states);
        let failed: Vec<String> = states
            .iter()
            .filter_map(|(key, state)| match state {
                Readiness::Failed(why) => Some(format!("{key} will not get ready: {why}")),
                _ => None,
            })
            .collect();
        if !failed.is_empty() {
            return Err(Failure::runtime(failed));
        }
        if states.values().all(Readiness::is_ready) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(timed_out(session, &states, timeout));
        }
        std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
    }
}

/// The failure after `timeout`: each object not ready, what it waits for, and its latest
/// events (those of its pods included).
fn timed_out(
    session: &Session,
    states: &BTreeMap<ResourceKey, Readiness>,
    timeout: Duration,
) -> Failure {
    let events = session.block_on(session.cluster.events(&session.namespace)).unwrap_or_default();
    let mut messages = vec![format!("not ready after {}s (--timeout):", timeout.as_secs())];
    for (key, state) in states {
        let Readiness::Waiting(why) = state else { continue };
        messages.push(format!("  {key}: {why}"));
        let pods = format!("{}-", key.name);
        let related: Vec<String> = events
            .iter()
            .filter(|e| {
                (e.kind == key.kind && e.name == key.name)
                    || (e.kind == "Pod" && e.name.starts_with(&pods))
            })
            .map(|e| {
                format!("    {} {} {}/{}: {}", e.severity, e.reason, e.kind, e.name, e.message)
            })
            .collect();
        let start = related.len().saturating_sub(3);
        messages.extend(related.into_iter().skip(start));
    }
    Failure::runtime(vec![messages.join("\n")])
}

/// The progress display: redrawn in place on a terminal, a line per change otherwise.
struct Display {
    terminal: bool,
    drawn: usize,
    last: BTreeMap<ResourceKey, String>,
}

impl Display {
    fn new(terminal: bool) -> Display {
        Display { terminal, drawn: 0, last: BTreeMap::new() }
    }

    fn show(&mut self, order: &[&ResourceKey], states: &BTreeMap<ResourceKey, Readiness>) {
        let lines: Vec<(ResourceKey, String)> = order
            .iter()
            .map(|key| {
                let text = match &states[*key] {
                    Readiness::Ready => format!("ready    {key}"),
                    Readiness::Waiting(why) => format!("waiting  {key}: {why}"),
                    Readiness::Failed(why) => format!("failed   {key}: {why}"),
                };
                ((*key).clone(), text)
            })
            .collect();
        let mut err = std::io::stderr().lock();
        if self.terminal {
            if self.drawn > 0 {
                // Up to the first line drawn, then clear to the end of the screen.
                let _ = write!(err, "\x1b[{}A\x1b[J", self.drawn);
            }
            for (_, text) in &lines {
                let _ = writeln!(err, "{text}");
            }
            self.drawn = lines.len();
        } else {
            for (key, text) in lines {
                if self.last.get(&key) != Some(&text) {
                    let _ = writeln!(err, "{text}");
                    self.last.insert(key, text);
                }
            }
        }
    }
}
