//! The environment side of the configuration: the names of strife-gen's secret variables and
//! [`Secrets`], read from them (and `.env`). Never reads `strife.toml`, never logs a value.

use std::fmt;
use std::path::Path;

use super::store::DATABASE_URL_VAR;
use super::{Config, ConfigError};

/// Environment variable holding the Discord application's client secret.
pub(crate) const CLIENT_SECRET_VAR: &str = "STRIFE_DISCORD_CLIENT_SECRET";
/// Environment variable holding the 32-byte token encryption key, base64.
pub(crate) const TOKEN_KEY_VAR: &str = "STRIFE_TOKEN_KEY";
/// Environment variable holding the shared secret of the signed refresh hook.
pub(crate) const WEBHOOK_SECRET_VAR: &str = "STRIFE_WEBHOOK_SECRET";

/// Environment variable holding the application's bot token (`[community]`).
pub(crate) const BOT_TOKEN_VAR: &str = "STRIFE_DISCORD_BOT_TOKEN";

/// Every secret variable: what a child process (a deploy, its git hooks) must not inherit
/// (`DATABASE_URL` may carry the database's password).
pub(crate) const SECRET_VARS: [&str; 5] = [
    CLIENT_SECRET_VAR,
    TOKEN_KEY_VAR,
    WEBHOOK_SECRET_VAR,
    BOT_TOKEN_VAR,
    DATABASE_URL_VAR,
];

/// Loads `<config folder>/.env` into the environment if present (real variables win over it).
fn load_env_file(config: &Config) -> Result<(), ConfigError> {
    let env_file = config.root().join(".env");
    if env_file.exists() {
        dotenvy::from_path(&env_file).map_err(|e| ConfigError::EnvFile {
            path: env_file.clone(),
            message: e.to_string(),
        })?;
    }
    Ok(())
}

impl Config {
    /// Reads `path` as [`Config::load`] does, then lets the environment (and `.env` beside it)
    /// name the store: `DATABASE_URL` wins over `[store]`. What the commands use; tests and
    /// embedders that load a config never pick up a database from the environment.
    pub fn load_for_command(path: &Path) -> Result<Config, ConfigError> {
        let mut config = Config::load(path)?;
        load_env_file(&config)?;
        config.store = config
            .store
            .clone()
            .with_database_url(std::env::var(DATABASE_URL_VAR).ok());
        config
            .store
            .check()
            .map_err(|(key, problem)| config.invalid(key, problem))?;
        Ok(config)
    }
}

/// Secrets read from the environment, after loading `.env` beside the config (real environment
/// variables win over the file).
#[derive(Clone)]
pub struct Secrets {
    client_secret: Option<String>,
    token_key: Option<String>,
    webhook_secret: Option<String>,
    bot_token: Option<String>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("token_key", &self.token_key.as_ref().map(|_| "<redacted>"))
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("bot_token", &self.bot_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Secrets {
    /// Loads `<config folder>/.env` if present, then reads the variables.
    pub(crate) fn from_env(config: &Config) -> Result<Secrets, ConfigError> {
        load_env_file(config)?;
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Ok(Secrets {
            client_secret: read(CLIENT_SECRET_VAR),
            token_key: read(TOKEN_KEY_VAR),
            webhook_secret: read(WEBHOOK_SECRET_VAR),
            bot_token: read(BOT_TOKEN_VAR),
        })
    }

    /// Secrets given directly (tests, embedding).
    pub fn new(client_secret: Option<String>, token_key: Option<String>) -> Secrets {
        Secrets {
            client_secret,
            token_key,
            webhook_secret: None,
            bot_token: None,
        }
    }

    /// These secrets with the bot token set (tests, embedding).
    pub fn with_bot_token(mut self, token: impl Into<String>) -> Secrets {
        self.bot_token = Some(token.into());
        self
    }

    /// The application's bot token, which `[community]` needs to add members and send DMs.
    pub(crate) fn bot_token(&self) -> Result<&str, ConfigError> {
        self.bot_token.as_deref().ok_or_else(|| ConfigError::Missing {
            what: BOT_TOKEN_VAR,
            hint: "set it in the environment or in a .env file beside strife.toml to your application's bot token (Developer Portal → Bot → Reset Token); [community] join = \"offer\" needs it".to_owned(),
        })
    }

    /// These secrets with the refresh hook's shared secret set.
    #[cfg(test)]
    pub(crate) fn with_webhook_secret(mut self, secret: impl Into<String>) -> Secrets {
        self.webhook_secret = Some(secret.into());
        self
    }

    /// The refresh hook's shared secret; without it `POST /webhooks/refresh` is disabled.
    pub(crate) fn webhook_secret(&self) -> Option<&str> {
        self.webhook_secret.as_deref()
    }

    /// The Discord application's client secret, which `serve` and an online `build` need.
    pub(crate) fn client_secret(&self) -> Result<&str, ConfigError> {
        self.client_secret
            .as_deref()
            .ok_or_else(|| ConfigError::Missing {
                what: CLIENT_SECRET_VAR,
                hint: "set it in the environment or in a .env file beside strife.toml to your Discord application's client secret".to_owned(),
            })
    }

    /// The base64 token key, if one is set; without it a key file beside the database is used.
    pub(crate) fn token_key(&self) -> Option<&str> {
        self.token_key.as_deref()
    }
}
