//! Shell completion that asks `prefectctl` at TAB time (clap_complete's dynamic engine): the
//! plugins where prefectctl searches for `--plugin`, `--without` and `plugins describe`, and
//! the release's revisions, read from the cluster, for `rollback`.
//!
//! The shell runs `COMPLETE=<shell> prefectctl -- <the words of the line>`; [`from_env`]
//! answers that before anything else runs. A completer sees only the word being completed, so
//! the flags it depends on (`--plugin-dir`, `-n`, `--release`, `--kubeconfig`,
//! `--kube-context`) are read from this process's arguments, which are the line's words.

use std::{
    ffi::{OsStr, OsString},
    io::Write as _,
    path::Path,
    sync::mpsc,
    time::Duration,
};

use clap::{CommandFactory, Parser};
use clap_complete::{
    CompleteEnv, Shell,
    engine::{CompletionCandidate, PathCompleter, ValueCompleter},
    env::Shells,
};
use prefect_plugin_host::name_of_file;

use crate::{
    cli::{Cli, ReleaseArgs},
    failure::Failure,
};

/// The variable that asks for completions, as clap_complete names it.
const VAR: &str = "COMPLETE";

/// How long `rollback <TAB>` waits for the cluster before it offers nothing.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers a completion request (`COMPLETE=bash prefectctl ...`) and exits; returns when the
/// process is an ordinary run.
pub fn from_env() {
    CompleteEnv::with_factory(Cli::command).var(VAR).complete();
}

/// `prefectctl completions SHELL`: the same registration script `COMPLETE=SHELL prefectctl`
/// prints, calling `prefectctl` by name, so that the file can be installed (the release
/// archive's `share/`) and keeps working wherever the binary is on the PATH.
pub fn registration(shell: Shell) -> Result<String, Failure> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let completer = shells.completer(&name).ok_or_else(|| {
        Failure::runtime(vec![format!(
            "no completion for shell `{name}`: use bash, elvish, fish, powershell or zsh"
        )])
    })?;
    let mut script = Vec::new();
    let written =
        completer.write_registration(VAR, "prefectctl", "prefectctl", "prefectctl", &mut script);
    if shell == Shell::Zsh {
        // Installed in $fpath as `_prefectctl`, the file runs on the first TAB: it registers
        // the completer, which must then also answer that first TAB.
        let _ = writeln!(
            script,
            "if [ \"$funcstack[1]\" = \"_prefectctl\" ]; then\n    \
             _clap_dynamic_completer_prefectctl \"$@\"\nfi"
        );
    }
    written.map_err(|err| {
        Failure::runtime(vec![format!("cannot write the {name} completion script: {err}")])
    })?;
    Ok(String::from_utf8_lossy(&script).into_owned())
}

/// `--plugin` and `plugins describe`: the plugins found where prefectctl searches, or library files when the word
/// looks like a path.
pub fn plugin(current: &OsStr) -> Vec<CompletionCandidate> {
    if looks_like_path(current) {
        let is_plugin_file = |path: &Path| {
            path.is_file()
                && (name_of_file(path).is_some()
                    || path.to_string_lossy().ends_with(std::env::consts::DLL_SUFFIX))
        };
        return PathCompleter::any().filter(is_plugin_file).complete(current);
    }
    plugin_names(current, &[])
}

/// `--without`: the default stack's plugins first, then every other plugin found (an
/// upgrade's stack is the release's, which may hold any of them).
pub fn without(current: &OsStr) -> Vec<CompletionCandidate> {
    plugin_names(current, crate::stack::DEFAULT_STACK)
}

/// `rollback`: the release's revisions, newest first, with their description; nothing when
/// the cluster does not answer within [`CLUSTER_TIMEOUT`].
pub fn revision(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(args) = release_args() else { return Vec::new() };
    let (sender, receiver) = mpsc::channel();
    // The thread is left behind on a timeout: the process exits once the candidates are out.
    std::thread::spawn(move || {
        let history = crate::session::Session::open(&args).and_then(|s| s.history());
        let _ = sender.send(history);
    });
    let Ok(Ok(history)) = receiver.recv_timeout(CLUSTER_TIMEOUT) else { return Vec::new() };
    let current = current.to_string_lossy();
    history
        .iter()
        .rev()
        .map(|r| (r.revision.to_string(), r))
        .filter(|(number, _)| number.starts_with(current.as_ref()))
        .map(|(number, r)| {
            let help = format!("{} ({}, {})", r.description, r.status.as_str(), r.time);
            CompletionCandidate::new(number).help(Some(help.into()))
        })
        .collect()
}

/// A `--plugin` value that names a file rather than a plugin: what `PluginSpec::parse` takes
/// for a path, and the starts of one (`.`, `~`).
fn looks_like_path(current: &OsStr) -> bool {
    let text = current.to_string_lossy();
    text.contains('/')
        || text.contains(std::path::MAIN_SEPARATOR)
        || text.starts_with('.')
        || text.starts_with('~')
}

/// The plugin names starting with `current` that the line's `--plugin-dir`,
/// `$PREFECTCTL_PLUGIN_PATH` and the installation's folders hold, `first` ahead of them.
fn plugin_names(current: &OsStr, first: &[&str]) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    let found = release_args().map(|args| crate::release::locator(&args).discover());
    let mut candidates: Vec<CompletionCandidate> = first
        .iter()
        .map(|name| CompletionCandidate::new(*name).help(Some("in the default stack".into())))
        .collect();
    for (name, path) in found.unwrap_or_default() {
        if !first.contains(&name.as_str()) {
            let help = path.display().to_string();
            candidates.push(CompletionCandidate::new(name).help(Some(help.into())));
        }
    }
    candidates.retain(|c| c.get_value().to_string_lossy().starts_with(current.as_ref()));
    candidates
}

/// The flags a completer depends on, as given on the line being completed (with clap's
/// defaults and environment variables for the rest); `None` when even those do not parse.
fn release_args() -> Option<ReleaseArgs> {
    let words = line_words(std::env::args_os());
    let wanted = ["release", "namespace", "kubeconfig", "kube_context", "plugin_dirs"];
    let flags = flags_on_line(&Cli::command(), &words, &wanted);
    let parse = |flags: &[OsString]| {
        let argv = std::iter::once(OsString::from("prefectctl"))
            .chain(flags.iter().cloned())
            .chain([OsString::from("history")]);
        Cli::try_parse_from(argv).ok().map(|cli| cli.release)
    };
    parse(&flags).or_else(|| parse(&[]))
}

/// The words of the line being completed: the arguments after the first `--`, less the
/// command's own name.
fn line_words(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args = args.into_iter().skip_while(|a| a != "--");
    args.next();
    args.skip(1).collect()
}

/// The occurrences on the line of the root command's options whose id is in `wanted`, each as
/// `--long=value`, in their order; other words are skipped (a value-taking option skips its
/// value too), and anything clap would not recognise is left out rather than refused.
fn flags_on_line(command: &clap::Command, words: &[OsString], wanted: &[&str]) -> Vec<OsString> {
    let mut found = Vec::new();
    let mut words = words.iter().map(|w| w.to_string_lossy());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        let (arg, inline) = if let Some(long) = word.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (long, None),
            };
            let arg = command.get_arguments().find(|a| {
                a.get_long_and_visible_aliases().is_some_and(|longs| longs.contains(&name))
            });
            (arg, value)
        } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = shorts.chars();
            let short = chars.next();
            let rest = chars.as_str();
            let arg = command.get_arguments().find(|a| {
                a.get_short_and_visible_aliases()
                    .is_some_and(|list| short.is_some_and(|s| list.contains(&s)))
            });
            let value =
                (!rest.is_empty()).then(|| rest.strip_prefix('=').unwrap_or(rest).to_owned());
            (arg, value)
        } else {
            continue;
        };
        let Some(arg) = arg else { continue };
        if !arg.get_action().takes_values() {
            continue;
        }
        let Some(value) = inline.or_else(|| words.next().map(|w| w.into_owned())) else {
            break;
        };
        if let Some(long) = arg.get_long().filter(|_| wanted.contains(&arg.get_id().as_str())) {
            found.push(OsString::from(format!("--{long}={value}")));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn the_line_is_what_follows_the_separator_and_the_command_name() {
        let args = words("/bin/prefectctl -- prefectctl -n x rollback");
        assert_eq!(line_words(args), words("-n x rollback"));
    }

    #[test]
    fn only_the_wanted_flags_are_kept_in_every_spelling() {
        let line = words(
            "--plugin agent -nspace --set a=b --release=r rollback --kubeconfig k --debug \
             -f v.yaml --plugin-dir d 3",
        );
        let wanted = ["release", "namespace", "kubeconfig", "plugin_dirs"];
        let found: Vec<String> = flags_on_line(&Cli::command(), &line, &wanted)
            .into_iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect();
        assert_eq!(found, ["--namespace=space", "--release=r", "--kubeconfig=k", "--plugin-dir=d"]);
    }

    #[test]
    fn a_flag_missing_its_value_ends_the_scan() {
        let found = flags_on_line(&Cli::command(), &words("-n"), &["namespace"]);
        assert!(found.is_empty(), "{found:?}");
    }
}
