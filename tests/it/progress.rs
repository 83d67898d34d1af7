//! The `--wait` display as users see it, against a real API server whose pods stay Pending (no
//! kubelet): on a terminal of 60 columns (a pseudo-terminal whose bytes a terminal emulator
//! turns into the final screen) and in a log (standard error piped).

use std::{
    io::Read,
    os::unix::fs::OpenOptionsExt,
    process::{Command, Stdio},
};

use rustix::{
    fs::OFlags,
    pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt},
    termios::{Winsize, tcsetwinsize},
};

use crate::{
    cluster::Cluster,
    harness::{TempDir, built_binary, prefectctl},
};

const NAMESPACE: &str = "prefect";
const ROWS: u16 = 40;
const COLUMNS: u16 = 60;

/// The objects of the default stack that `--wait` follows.
const FOLLOWED: [&str; 2] =
    ["PersistentVolumeClaim/prefect/prefect-server", "Deployment/prefect/prefect-server"];

/// The lines of the final screen after `prefectctl ARGS` ran on a terminal of [`ROWS`] x
/// [`COLUMNS`], each row the terminal wrapped joined to the next; its exit code; and every byte
/// it wrote.
fn on_terminal(args: &[&str]) -> (i32, Vec<String>, String) {
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("open a pseudo-terminal");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let size = Winsize { ws_row: ROWS, ws_col: COLUMNS, ws_xpixel: 0, ws_ypixel: 0 };
    tcsetwinsize(&master, size).expect("size the pseudo-terminal");
    let path = ptsname(&master, Vec::new()).expect("ptsname");
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(OFlags::NOCTTY.bits() as i32)
        .open(path.to_str().expect("a UTF-8 path"))
        .expect("open the terminal side");
    let dir = TempDir::new("progress");
    let mut child = Command::new(built_binary())
        .current_dir(dir.path())
        .args(args)
        .env_remove("PREFECTCTL_PLUGIN_PATH")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null())
        .stdout(terminal.try_clone().expect("dup the terminal"))
        .stderr(terminal)
        .spawn()
        .expect("prefectctl runs");
    // The terminal side is open only in the child now: reading ends when it exits.
    let mut master = std::fs::File::from(master);
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut chunk = [0; 4096];
        // Linux answers EIO once the last process with the terminal side open has exited.
        while let Ok(n @ 1..) = master.read(&mut chunk) {
            bytes.extend_from_slice(&chunk[..n]);
        }
        bytes
    });
    let code = child.wait().expect("prefectctl exits").code().unwrap_or(-1);
    let bytes = reader.join().expect("the reader");
    let size = |n| std::num::NonZeroU16::new(n).expect("a terminal has rows and columns");
    let mut parser = vt100::Parser::new(size(ROWS), size(COLUMNS), 0);
    parser.process(&bytes);
    let screen = parser.screen();
    let mut lines = Vec::new();
    let mut current = String::new();
    for (row, text) in screen.rows(0, COLUMNS).enumerate() {
        current.push_str(&text);
        if !screen.row_wrapped(row as u16) {
            lines.push(std::mem::take(&mut current).trim_end().to_owned());
        }
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    (code, lines, String::from_utf8_lossy(&bytes).into_owned())
}

/// Whether `line` is the clock: "N of 2 ready, Ns elapsed, Ns left (--timeout 6s)".
fn is_clock(line: &str) -> bool {
    line.starts_with("0 of 2 ready, ")
        && line.contains(" elapsed, ")
        && line.ends_with(" left (--timeout 6s)")
}

#[test]
fn the_wait_display_leaves_one_clean_final_state_on_a_narrow_terminal_and_in_logs() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", NAMESPACE], None).ok();
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let base = ["--kubeconfig", kubeconfig.as_str(), "-n", NAMESPACE];

    // On a terminal: install and wait; the pods stay Pending, the claim unbound.
    let (code, screen, bytes) =
        on_terminal(&[&base[..], &["apply", "--wait", "--timeout", "6s"]].concat());
    let shown = screen.join("\n");
    assert_eq!(code, 1, "{shown}");
    // It was live: redrawn in place (cursor up), its rows cut to 60 columns, the clock ticking.
    assert!(bytes.contains("\x1b[1A"), "no redraw in place:\n{bytes:?}");
    assert!(bytes.contains('…'), "no row was cut to the width:\n{bytes:?}");
    assert!(bytes.matches(" elapsed, ").count() >= 3, "the clock did not tick:\n{bytes:?}");

    // The final screen: each object once, in full (wrapped, not cut), then the clock, then the
    // error, which adds what the cluster says and repeats none of the lines above.
    for key in FOLLOWED {
        let rows = screen.iter().filter(|line| line.contains(key)).count();
        assert_eq!(rows, 1, "{key} is on {rows} lines of the screen:\n{shown}");
    }
    let claim =
        "waiting  PersistentVolumeClaim/prefect/prefect-server: Pending, not bound to a volume";
    let server = "waiting  Deployment/prefect/prefect-server: 0 of 1 pods available";
    let first = screen.iter().position(|line| line == claim).unwrap_or_else(|| {
        panic!("no line {claim:?} on the screen:\n{shown}");
    });
    assert_eq!(screen[first + 1], server, "{shown}");
    assert!(is_clock(&screen[first + 2]), "no clock below the objects:\n{shown}");
    assert!(
        screen[first + 3].starts_with(
            "error: not ready after 6s (--timeout): 2 of the 2 objects above; what the cluster \
             says about them:"
        ),
        "{shown}"
    );
    assert!(
        screen.iter().any(|line| line
            == "  Deployment/prefect-server condition Available=False \
                MinimumReplicasUnavailable: Deployment does not have minimum availability."),
        "{shown}"
    );
    assert!(
        screen.iter().any(|line| line
            == "error: to wait longer, run the command again with a \
             larger --timeout; to see what the pods wait for: kubectl -n prefect describe pods"),
        "{shown}"
    );
    // Nothing else of the live display is left: no cut row, no second clock, no fragment.
    let clocks = screen.iter().filter(|line| line.contains(" elapsed, ")).count();
    assert_eq!(clocks, 1, "{shown}");
    assert!(!shown.contains('…'), "a cut row was left:\n{shown}");
    assert!(!shown.contains("reading  "), "{shown}");
    assert!(!shown.contains(" old "), "Pending pods are not old pods:\n{shown}");
    for line in &screen[first + 3..] {
        assert!(!line.contains("waiting  "), "the error repeats {line:?}:\n{shown}");
        assert!(!line.contains("pods available"), "the error repeats {line:?}:\n{shown}");
    }

    // In a log: a line per object when its state changes, stamped with the time elapsed; no
    // terminal control, no clock; the error as on a terminal.
    let run = prefectctl(&[&base[..], &["apply", "--wait", "--timeout", "3s"]].concat());
    assert_eq!(run.code, 1, "{}", run.stderr);
    let log = run.stderr;
    assert!(!log.contains('\x1b'), "terminal control in a log:\n{log}");
    assert!(!log.contains(" elapsed, "), "{log}");
    for (key, why) in
        [(FOLLOWED[0], "Pending, not bound to a volume"), (FOLLOWED[1], "0 of 1 pods available")]
    {
        let line = format!("waiting  {key}: {why}");
        let count = log.lines().filter(|l| l.ends_with(&line)).count();
        assert_eq!(count, 1, "{line:?} is printed {count} times, not once per change:\n{log}");
        let printed = log.lines().find(|l| l.ends_with(&line)).unwrap_or_default();
        let stamp = printed.strip_suffix(&line).unwrap_or_default().trim();
        assert!(
            stamp.ends_with('s') && stamp[..stamp.len() - 1].parse::<u64>().is_ok(),
            "no elapsed time before {line:?}:\n{log}"
        );
    }
    let error = log.find("error: not ready after 3s (--timeout): 2 of the 2 objects above;");
    let error = error.unwrap_or_else(|| panic!("no timeout error:\n{log}"));
    assert!(!log[error..].contains("waiting  "), "the error repeats the lines:\n{log}");
}
