//! The command line: argument parsing and one function per command. This is the edge where
//! library errors get their context and become exit codes (see `main.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use crate::build;
use crate::config::{Config, Secrets};
use crate::crypto::{KeySource, TokenCipher};
use crate::discord::client::{ClientOptions, DiscordClient};
use crate::discord::models::Snowflake;
use crate::discord::oauth::{OAuthClient, OAuthSettings};
use crate::refresh::Refresher;
use crate::server::{self, App};
use crate::site::render::Renderer;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "strife-gen",
    version,
    about = "Public, static profile pages for Discord users who opt in"
)]
pub struct Cli {
    /// Path of the configuration file; relative paths inside it are relative to its folder.
    #[arg(
        long,
        short,
        global = true,
        default_value = "strife.toml",
        env = "STRIFE_CONFIG"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
pub enum UsersCommand {
    /// Show every user with their status, last refresh and last error.
    List,
    /// Delete a user and everything stored about them (and revoke our access when possible).
    Remove {
        /// The user's Discord id.
        #[arg(value_parser = parse_user_id)]
        id: Snowflake,
    },
}

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init { dir } => crate::init::init(&dir),
        Command::Build { offline, no_deploy } => {
            build_command(&cli.config, offline, no_deploy).await
        }
        Command::Serve => serve_command(&cli.config).await,
        Command::Watch { port, no_open } => watch_command(&cli.config, port, !no_open).await,
        Command::Users { command } => users_command(&cli.config, command).await,
    }
}

async fn watch_command(config_path: &Path, port: u16, open_browser: bool) -> Result<()> {
    let options = crate::watch::WatchOptions { port, open_browser };
    crate::watch::run(config_path, options, server::shutdown_signal())
        .await
        .map_err(|error| match error {
            // Keeps the config error findable for exit code 2.
            crate::watch::WatchError::Config(error) => anyhow::Error::from(error),
            other => anyhow::Error::from(other),
        })
}

async fn build_command(config_path: &Path, offline: bool, no_deploy: bool) -> Result<()> {
    let mut config = Config::load(config_path)?;
    if no_deploy {
        config.deploy = Default::default();
    }
    let secrets = Secrets::from_env(&config)?;
    // Everything that can be checked is checked before anything is created on disk.
    config.check_theme()?;
    if !offline {
        config.require_oauth()?;
        secrets.client_secret()?;
        check_token_key(&secrets)?;
    }
    let store = open_store(&config)?;
    let refresher = match offline {
        true => None,
        false => Some(refresher(&config, &secrets, &store)?),
    };
    let progress = Arc::new(crate::progress::Progress::for_stderr());
    let summary = build::build_with_progress(&config, &store, refresher.as_ref(), progress)
        .await
        .with_context(|| {
            format!(
                "building the site into {}",
                config.site.output_dir.display()
            )
        })?;
    tracing::info!("done: {summary}");
    if summary.profiles == 0 {
        tracing::info!(
            "no profiles yet: run `strife-gen serve` (with discord.client_id, discord.redirect_uri and {} set) and sign in at {}",
            crate::config::CLIENT_SECRET_VAR,
            config.server.bind
        );
    }
    Ok(())
}

async fn serve_command(config_path: &Path) -> Result<()> {
    let config = Arc::new(Config::load(config_path)?);
    let secrets = Secrets::from_env(&config)?;
    config.check_theme()?;
    config.require_oauth()?;
    secrets.client_secret()?;
    check_token_key(&secrets)?;
    let store = open_store(&config)?;
    let refresher = refresher(&config, &secrets, &store)?;
    let renderer = Renderer::new(&config.theme_dir(), build::site_info(&config))
        .context("loading the theme")?;
    let listener = tokio::net::TcpListener::bind(config.server.bind)
        .await
        .with_context(|| format!("cannot listen on {} (server.bind)", config.server.bind))?;
    let app = App::new(config.clone(), &refresher, Arc::new(renderer))
        .with_webhook_secret(secrets.webhook_secret().map(str::to_owned));
    let app = Arc::new(app);
    server::serve(app, refresher, listener).await?;
    Ok(())
}

async fn users_command(config_path: &Path, command: UsersCommand) -> Result<()> {
    let config = Config::load(config_path)?;
    let store = open_store(&config)?;
    match command {
        UsersCommand::List => {
            let users = store.list_users()?;
            print!("{}", crate::users::table(&users));
            Ok(())
        }
        UsersCommand::Remove { id } => {
            if store.user(id)?.is_none() {
                bail!("there is no user {id} in {}", store.path().display());
            }
            let secrets = Secrets::from_env(&config)?;
            revoke_if_possible(&config, &secrets, &store, id).await;
            store.delete_user(id)?;
            println!("removed user {id}; their page disappears with the next build");
            Ok(())
        }
    }
}

/// Revokes a user's authorization at Discord before they are removed, when credentials allow.
async fn revoke_if_possible(config: &Config, secrets: &Secrets, store: &Store, id: Snowflake) {
    let attempt = async {
        let cipher = load_cipher(config, secrets, store)?;
        let oauth = discord_clients(config, secrets)?.0;
        if let Some(tokens) = store.load_tokens(id, &cipher)? {
            oauth.revoke(&tokens.refresh_token).await?;
        }
        anyhow::Ok(())
    };
    if let Err(error) = attempt.await {
        tracing::warn!("user {id} was not revoked at Discord ({error:#}); they can remove the app in their Discord settings");
    }
}

/// A Discord user id on the command line (a usage error, exit code 2, otherwise).
fn parse_user_id(text: &str) -> Result<Snowflake, String> {
    Snowflake::parse(text).ok_or_else(|| format!("{text:?} is not a Discord user id (a number)"))
}

/// A malformed `STRIFE_TOKEN_KEY` is reported before the store is created or opened.
fn check_token_key(secrets: &Secrets) -> Result<()> {
    if let Some(key) = secrets.token_key() {
        TokenCipher::from_base64(key)?;
    }
    Ok(())
}

fn open_store(config: &Config) -> Result<Store> {
    Ok(Store::open(&config.store.path)?)
}

fn load_cipher(config: &Config, secrets: &Secrets, store: &Store) -> Result<TokenCipher> {
    let key_file = key_file_path(&config.store.path);
    let (cipher, source) = TokenCipher::load(secrets.token_key(), &key_file)?;
    if let KeySource::Generated(path) = &source {
        tracing::warn!(
            "generated a new token encryption key in {} (mode 0600); back it up, or set {} instead",
            path.display(),
            crate::config::TOKEN_KEY_VAR
        );
    }
    store.verify_key(&cipher)?;
    Ok(cipher)
}

/// `strife.db` → `strife.db.key`.
fn key_file_path(store_path: &Path) -> PathBuf {
    let mut name = store_path.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

fn discord_clients(config: &Config, secrets: &Secrets) -> Result<(OAuthClient, DiscordClient)> {
    let (client_id, redirect_uri) = config.require_oauth()?;
    let client_secret = secrets.client_secret()?.to_owned();
    let mut options = ClientOptions::new(config.discord.api_base.url().clone());
    // Discord asks bots and apps to identify themselves as `DiscordBot (url, version)`.
    options.user_agent = format!(
        "DiscordBot ({}, {})",
        env!("CARGO_PKG_REPOSITORY"),
        env!("CARGO_PKG_VERSION")
    );
    let discord = DiscordClient::new(options)?;
    let settings = OAuthSettings {
        client_id: client_id.to_string(),
        client_secret,
        authorize_url: config.discord.authorize_url.url().clone(),
        token_url: config.discord.token_url(),
        revoke_url: config.discord.revoke_url(),
        redirect_uri: redirect_uri.url().clone(),
    };
    let oauth = OAuthClient::new(settings, discord.http())?;
    Ok((oauth, discord))
}

/// Everything an online build or the service needs to talk to Discord.
pub fn refresher(config: &Config, secrets: &Secrets, store: &Store) -> Result<Refresher> {
    let (oauth, discord) = discord_clients(config, secrets)?;
    let cipher = load_cipher(config, secrets, store)?;
    Ok(Refresher {
        store: store.clone(),
        cipher,
        oauth,
        discord,
        concurrency: config.refresh.concurrency.get(),
        backoff: crate::refresh::Backoff {
            base: config.refresh.retry_backoff,
            max: config.refresh.retry_backoff_max,
        },
    })
}
