//! The `strife-gen` binary: parse arguments, set up logging, run the command, map errors to exit
//! codes. Exit codes: 0 success, 1 failure while running, 2 bad configuration or usage.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use strife_gen::build::BuildError;
use strife_gen::cli::{self, Cli};
use strife_gen::config::ConfigError;
use strife_gen::crypto::CryptoError;
use strife_gen::files::FileError;
use strife_gen::store::StoreError;
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
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            if is_configuration_error(&error) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The error and its causes on one line. Many of our errors already quote their cause in their
/// own message, so a cause whose text is already there is not repeated.
fn describe(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

/// Problems the user fixes in strife.toml, the environment or the site's folders (exit code 2).
fn is_configuration_error(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.is::<ConfigError>()
            || matches!(cause.downcast_ref(), Some(CryptoError::BadKey { .. }))
            || matches!(cause.downcast_ref(), Some(StoreError::WrongKey))
            || matches!(cause.downcast_ref(), Some(FileError::Outside { .. }))
            || cause
                .downcast_ref::<BuildError>()
                .is_some_and(BuildError::is_configuration_error)
    })
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
