//! The commands, one file each, as thin as mdBook's: load the configuration, open the
//! [`Service`](crate::service::Service), call one workflow, say what happened. They must not hold
//! workflow logic; that belongs to the service.

mod build;
mod init;
mod serve;
mod users;
mod watch;

use crate::cli::{Cli, Command};
use crate::fault::Report;

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> Result<(), Report> {
    match cli.command {
        Command::Init { dir } => init::run(&dir),
        Command::Build { offline, no_deploy } => build::run(&cli.config, offline, no_deploy).await,
        Command::Serve => serve::run(&cli.config).await,
        Command::Watch { port, no_open } => watch::run(&cli.config, port, !no_open).await,
        Command::Users { command } => users::run(&cli.config, command).await,
    }
}
