//! `prefectctl`: deploys the Prefect workflow platform onto Kubernetes from plugins.
//!
//! `main` parses the command line and hands each subcommand to its module; see
//! `ARCHITECTURE.md` for the path from plugins through the manifest graph to the output.
#![forbid(unsafe_code)]

mod adopt_helm;
mod apply_cmd;
mod build;
mod capabilities;
mod changes;
mod cli;
mod complete;
mod diff_cmd;
mod doctor_cmd;
mod duration;
mod failure;
mod flags;
mod gates;
mod get_cmd;
mod helm_import;
mod inspect_cmd;
mod output;
mod plan;
mod plugins_cmd;
mod prefect;
mod release;
mod render;
mod rollback_cmd;
mod scaffold;
mod session;
mod stack;
mod uninstall_cmd;
mod values_cmd;
mod wait;
mod write;

use std::{io::Write, process::ExitCode};

use clap::{CommandFactory, Parser};

use crate::{
    cli::{Cli, Command, GetCommand},
    failure::Failure,
};

fn main() -> ExitCode {
    complete::from_env();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    flags::refuse_unused(&cli)?;
    let text = match &cli.command {
        Command::Render(args) => {
            // It writes as it goes: a large release is never held as one text.
            render::run(&cli.release, args)?;
            return Ok(());
        }
        Command::Plugins(command) => plugins_cmd::run(&cli.release, command)?,
        Command::Values(args) => values_cmd::run(&cli.release, args)?,
        Command::Apply(args) => apply_cmd::run(&cli.release, args)?,
        Command::Diff(args) => {
            // Like `kubectl diff`: 0 no differences, 1 differences, 2 trouble.
            let diff = diff_cmd::run(&cli.release, args).map_err(|f| f.with_code(2))?;
            print(&diff.text);
            return if diff.differs { Err(Failure::quiet(1)) } else { Ok(()) };
        }
        Command::Status(args) => inspect_cmd::status(&cli.release, args)?,
        Command::Doctor(args) => {
            let doctor = doctor_cmd::run(&cli.release, args)?;
            print(&doctor.text);
            return if doctor.failed { Err(Failure::quiet(1)) } else { Ok(()) };
        }
        Command::List { all_namespaces, output } => {
            inspect_cmd::list(&cli.release, *all_namespaces, *output)?
        }
        Command::History { output } => inspect_cmd::history(&cli.release, *output)?,
        Command::Get(GetCommand::Values(args)) => get_cmd::values(&cli.release, args)?,
        Command::Get(GetCommand::Manifest(args)) => get_cmd::manifest(&cli.release, args)?,
        Command::Rollback(args) => rollback_cmd::run(&cli.release, args)?,
        Command::Uninstall(args) => uninstall_cmd::run(&cli.release, args)?,
        Command::Completions { shell } => complete::registration(*shell)?,
        Command::Man { dir } => {
            let written = std::fs::create_dir_all(dir)
                .and_then(|()| clap_mangen::generate_to(Cli::command(), dir));
            written.map_err(|err| {
                Failure::runtime(vec![format!(
                    "cannot write the manual pages into {}: {err}",
                    dir.display()
                )])
            })?;
            String::new()
        }
    };
    print(&text);
    Ok(())
}

/// Writes `text` to standard output; a closed pipe (`prefectctl render | head`) is not an
/// error worth reporting.
fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}
