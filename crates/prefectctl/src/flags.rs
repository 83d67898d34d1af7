//! Global flags a command does not use are refused, not ignored: `status -f values.yaml` would
//! otherwise look as if it showed the release with those values.
//!
//! clap cannot say per subcommand which global flags it takes, so this runs after parsing.

use crate::{
    cli::{Cli, Command, GetCommand, ValuesArgs, ValuesCommand},
    failure::Failure,
};

/// Which of the stack flags a command takes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Takes {
    /// None: it works on what the release recorded.
    Nothing,
    /// `--plugin-dir` and `--plugin-sha256`: it loads the plugins a release recorded.
    PluginFiles,
    /// Those and `--plugin`, `--without`: it loads a stack, but takes no values.
    Plugins,
    /// Every one: it builds a stack from values.
    Everything,
}

/// Refuses the stack flags given to a command that would ignore them.
pub fn refuse_unused(cli: &Cli) -> Result<(), Failure> {
    use Takes::*;
    let (name, takes, why) = match &cli.command {
        Command::Render(_) => ("render", Everything, ""),
        Command::Apply(_) => ("apply", Everything, ""),
        Command::Diff(_) => ("diff", Everything, ""),
        Command::Values(ValuesArgs { command: Some(ValuesCommand::Import(_)), .. }) => {
            ("values import", Plugins, "give prefect-helm's values files with --from-helm FILE")
        }
        Command::Values(_) => (
            "values",
            Plugins,
            "it prints the stack's default values; `render -f FILE` shows what yours make",
        ),
        Command::Plugins(_) => {
            ("plugins", Plugins, "values go to `render`, `apply` and `diff`, which run the plugins")
        }
        Command::Get(GetCommand::Values(_)) => ("get values", PluginFiles, READS_A_REVISION),
        Command::Get(GetCommand::Manifest(_)) => ("get manifest", Nothing, READS_A_REVISION),
        Command::Status(_) => ("status", Nothing, READS_THE_RECORD),
        Command::Doctor(_) => ("doctor", Nothing, READS_THE_RECORD),
        Command::List { .. } => ("list", Nothing, READS_THE_RECORD),
        Command::History { .. } => ("history", Nothing, READS_THE_RECORD),
        Command::Rollback(_) => (
            "rollback",
            Nothing,
            "it applies the revision's recorded objects again; to change them, run `apply`",
        ),
        Command::Uninstall(_) => ("uninstall", Nothing, "it deletes what the release recorded"),
        Command::Completions { .. } => ("completions", Nothing, "it prints a completion script"),
        Command::Man { .. } => ("man", Nothing, "it writes the manual pages"),
    };
    let release = &cli.release;
    let mut unused = Vec::new();
    if takes < Everything {
        unused.extend(release.values_flags_given());
    }
    if takes < Plugins {
        unused.extend(release.plugin_flags_given());
    }
    if takes < PluginFiles {
        unused.extend(release.plugin_file_flags_given());
    }
    if unused.is_empty() {
        return Ok(());
    }
    Err(Failure::input(vec![format!("`{name}` does not take {}: {why}", unused.join(", "))]))
}

/// Why the commands that read a release refuse values and plugins.
const READS_THE_RECORD: &str = "it reads the release as its revisions recorded it; give values and \
     plugins to `apply`; `get values` shows what the release has";

/// Why `get` refuses them.
const READS_A_REVISION: &str =
    "it prints what a revision recorded; give values and plugins to `apply`";
