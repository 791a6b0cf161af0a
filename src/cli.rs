//! The command line's shape: clap's definitions of the commands and their arguments. It must
//! not do any work; each command runs in its own file under `src/cmd/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::discord::models::Snowflake;

#[derive(Debug, Parser)]
#[command(
    name = "strife-gen",
    version,
    about = "Public, static profile pages for Discord users who opt in"
)]
/// The command line: `strife-gen [--config FILE] <command>`.
pub struct Cli {
    /// Path of the configuration file; relative paths inside it are relative to its folder.
    #[arg(
        long,
        short,
        global = true,
        default_value = "strife.toml",
        env = "STRIFE_CONFIG"
    )]
    pub(crate) config: PathBuf,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a starter strife.toml, the default theme and content/ into an empty folder.
    Init {
        /// The folder to create the site in.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Refresh every user from Discord and render the site into the output folder.
    Build {
        /// Render from the stored snapshots only, without talking to Discord.
        #[arg(long)]
        offline: bool,
        /// Do not run `[deploy]` after this build.
        #[arg(long)]
        no_deploy: bool,
    },
    /// Run the consent service, refreshing and rebuilding in the background.
    Serve,
    /// Build offline, serve the site on 127.0.0.1 and rebuild + reload pages when the theme,
    /// content or config changes.
    Watch {
        /// Port of the preview on 127.0.0.1; 0 picks a free one.
        #[arg(long, default_value_t = crate::watch::DEFAULT_PORT)]
        port: u16,
        /// Do not open the preview in a browser.
        #[arg(long)]
        no_open: bool,
    },
    /// Inspect or remove users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Show every user with their status, last refresh, edits waiting for approval and last error.
    List,
    /// Publish the edits a user made to their page (`/me`) that wait for review
    /// (`self_service.moderation = "review"`).
    Approve {
        /// The user's Discord id.
        #[arg(value_parser = parse_user_id)]
        id: Snowflake,
    },
    /// Delete a user and everything stored about them (and revoke our access when possible).
    Remove {
        /// The user's Discord id.
        #[arg(value_parser = parse_user_id)]
        id: Snowflake,
    },
}

/// A Discord user id on the command line (a usage error, exit code 2, otherwise).
fn parse_user_id(text: &str) -> Result<Snowflake, String> {
    Snowflake::parse(text).ok_or_else(|| format!("{text:?} is not a Discord user id (a number)"))
}
