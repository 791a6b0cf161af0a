//! The `strife-gen` binary: parse arguments, set up logging, run the command, print its error.
//! Exit codes: 0 success, 1 failure while running, 2 bad configuration or usage (see `fault`).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use strife_gen::cli::Cli;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(strife_gen::cmd::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(report) => {
            eprintln!("error: {}", report.describe());
            ExitCode::from(report.exit_code())
        }
    }
}

/// Logs go to stderr (around `build`'s progress bar); `STRIFE_LOG` (or `RUST_LOG`) sets the level, `info` by default.
fn init_logging() {
    let filter = EnvFilter::try_from_env("STRIFE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(strife_gen::progress::stderr_log_writer)
        // Colours only on a terminal: CI logs and cron mails get plain lines.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
