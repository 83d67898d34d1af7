//! `prefectctl`: deploys the Prefect workflow platform onto Kubernetes from plugins.
//!
//! `main` parses the command line and hands each subcommand to its module; see
//! `ARCHITECTURE.md` for the path from plugins through the manifest graph to the output.
#![forbid(unsafe_code)]

mod capabilities;
mod cli;
mod failure;
mod output;
mod plugins_cmd;
mod release;
mod render;
mod stack;
mod values_cmd;

use std::{io::Write, process::ExitCode};

use clap::{CommandFactory, Parser};

use crate::{
    cli::{Cli, Command},
    failure::Failure,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let text = match &cli.command {
        Command::Render(args) => render::run(&cli.release, args)?,
        Command::Plugins(command) => plugins_cmd::run(&cli.release, command)?,
        Command::Values(args) => values_cmd::run(&cli.release, args)?,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "prefectctl", &mut script);
            String::from_utf8_lossy(&script).into_owned()
        }
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`prefectctl render | head`) is not an error worth reporting.
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
    Ok(())
}
