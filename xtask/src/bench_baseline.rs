//! The recorded ratios (`xtask/bench-baseline.json`) that `--check` holds each bench to: a
//! ratio more than twice its recorded value fails the check (CI runs it). `--record` writes the
//! ratios just measured.
//!
//! The file holds one object per bench (`render`, `apply`), each a map from a scenario's name to
//! its ratio (prefectctl's median wall time over its peer's), and when they were recorded.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

/// How far past its recorded value a ratio may go before the check fails.
pub const TOLERANCE: f64 = 2.0;

fn file() -> PathBuf {
    crate::workspace().join("xtask/bench-baseline.json")
}

fn read() -> Result<Map<String, Value>, String> {
    let file = file();
    match std::fs::read_to_string(&file) {
        Ok(text) => match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(format!("{}: not a JSON object", file.display())),
            Err(err) => Err(format!("{}: {err}", file.display())),
        },
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(err) => Err(format!("cannot read {}: {err}", file.display())),
    }
}

/// Writes the ratios of `bench` (the other benches' stay as they are).
pub fn record(bench: &str, ratios: &[(&str, f64)], note: &str) -> Result<(), String> {
    let mut all = read()?;
    let scenarios: Map<String, Value> = ratios
        .iter()
        .map(|(name, ratio)| ((*name).to_owned(), json!((ratio * 10_000.0).round() / 10_000.0)))
        .collect();
    all.insert(bench.to_owned(), json!({ "recorded": note, "ratios": scenarios }));
    let file = file();
    let text = serde_json::to_string_pretty(&Value::Object(all)).map_err(|e| e.to_string())?;
    std::fs::write(&file, text + "\n")
        .map_err(|err| format!("cannot write {}: {err}", file.display()))?;
    println!("recorded the ratios of `{bench}` in {}", file.display());
    Ok(())
}

/// Compares each measured ratio with the recorded one: every scenario past [`TOLERANCE`] times
/// its recorded ratio is named in the error.
pub fn check(bench: &str, ratios: &[(&str, f64)]) -> Result<(), String> {
    let all = read()?;
    let file = file();
    let recorded = all.get(bench).and_then(|b| b.get("ratios")).ok_or_else(|| {
        format!(
            "{} records no ratios of `{bench}`: run `cargo xtask {bench} --record` and commit it",
            file.display()
        )
    })?;
    let mut failed = Vec::new();
    println!("check against {} (fails past {TOLERANCE}x the recorded ratio):", file.display());
    for (name, measured) in ratios {
        let Some(before) = recorded.get(*name).and_then(Value::as_f64) else {
            return Err(format!(
                "{} records no ratio for `{name}` of `{bench}`: run `cargo xtask {bench} --record`",
                file.display()
            ));
        };
        let ok = *measured <= before * TOLERANCE;
        println!(
            "  {name:<34} recorded {before:.3}x, measured {measured:.3}x: {}",
            if ok { "ok" } else { "REGRESSED" }
        );
        if !ok {
            failed.push(format!(
                "{name}: the ratio to its peer is {measured:.3}x, recorded {before:.3}x \
                 (more than {TOLERANCE}x that)"
            ));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "`{bench}` regressed:\n  {}\n(if the change is meant, run `cargo xtask {bench} --record` \
             and commit {})",
            failed.join("\n  "),
            file.display()
        ))
    }
}
