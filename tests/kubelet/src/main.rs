//! `kubelet-stand-in --kubeconfig FILE --state DIR`: runs the pods of a test API server until
//! it gets SIGTERM or SIGINT (or, with `--exit-with-stdin`, its standard input closes: the
//! test that started it ended, however it ended).
#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::Parser;

/// Runs the pods of a test API server as a kubelet would, without a container runtime.
#[derive(Parser)]
struct Args {
    /// The API server's admin kubeconfig.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Where pods, volumes and logs are kept.
    #[arg(long)]
    state: PathBuf,
    /// The Node's name.
    #[arg(long, default_value = "stand-in")]
    node_name: String,
    /// Stop when standard input closes.
    #[arg(long)]
    exit_with_stdin: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let settings = kubelet_stand_in::Settings {
        kubeconfig: args.kubeconfig,
        node_name: args.node_name.clone(),
        state: args.state.clone(),
    };
    match kubelet_stand_in::run(settings, shutdown(args.exit_with_stdin)).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kubelet stand-in: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// SIGTERM, SIGINT, or the end of standard input.
async fn shutdown(with_stdin: bool) {
    use tokio::{
        io::AsyncReadExt,
        signal::unix::{SignalKind, signal},
    };
    let (Ok(mut term), Ok(mut interrupt)) =
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        return;
    };
    let stdin_closed = async {
        if !with_stdin {
            return std::future::pending().await;
        }
        let mut stdin = tokio::io::stdin();
        let mut buffer = [0u8; 64];
        while matches!(stdin.read(&mut buffer).await, Ok(n) if n > 0) {}
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = interrupt.recv() => {}
        _ = stdin_closed => {}
    }
}
