//! `strife.toml`: the site's configuration, parsed and checked before anything is written.
//!
//! Most checks live in the types themselves (URLs, durations, non-zero numbers, known scopes), so
//! that a bad value is reported by the TOML parser together with its line and column. The few rules
//! that span several keys are checked afterwards and name the keys involved.
//!
//! Secrets never live in this file: they come from the environment (or a `.env` file beside the
//! config) when a command needs them, see [`Secrets`].

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use url::Url;

use crate::deploy::DeployConfig;
use crate::discord::models::Snowflake;
use crate::fault::Blame;

/// Environment variable holding the Discord application's client secret.
pub const CLIENT_SECRET_VAR: &str = "STRIFE_DISCORD_CLIENT_SECRET";
/// Environment variable holding the 32-byte token encryption key, base64.
pub const TOKEN_KEY_VAR: &str = "STRIFE_TOKEN_KEY";
/// Environment variable holding the shared secret of the signed refresh hook.
pub const WEBHOOK_SECRET_VAR: &str = "STRIFE_WEBHOOK_SECRET";

/// The scopes a deployment may offer. `identify` is the profile itself; `connections` and `guilds`
/// are what a user may opt in to publishing. Anything else (`email`, ...) is refused on purpose.
pub const KNOWN_SCOPES: [&str; 3] = ["identify", "connections", "guilds"];

/// A configuration problem: always names the file and, where it can, the key and line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config file {path}: `{key}` {problem}")]
    Invalid {
        path: PathBuf,
        key: &'static str,
        problem: String,
    },
    #[error("{what} is needed for this command: {hint}")]
    Missing { what: &'static str, hint: String },
    #[error("invalid environment file {path}: {message}")]
    EnvFile { path: PathBuf, message: String },
}

/// Every configuration error is fixed in strife.toml or the environment.
impl Blame for ConfigError {
    fn is_users_fault(&self) -> bool {
        true
    }
}

/// The whole `strife.toml`, with relative paths already resolved against the file's folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub site: SiteConfig,
    #[serde(default)]
    pub discord: DiscordConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub refresh: RefreshConfig,
    /// Where to publish after a build that changed something (off by default).
    #[serde(default)]
    pub deploy: DeployConfig,
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// The file this was read from.
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub title: String,
    /// Where the published site lives; page URLs and the consent page's links are built from it.
    pub base_url: HttpUrl,
    #[serde(default = "default_theme")]
    pub theme: String,
    #[serde(default = "default_output_dir")]
    pub output_dir: PathBuf,
    #[serde(default = "default_content_dir")]
    pub content_dir: PathBuf,
    #[serde(default = "default_themes_dir")]
    pub themes_dir: PathBuf,
    #[serde(default)]
    pub cname: Option<String>,
    /// Folder of example snapshots (`<id>.json`) rendered beside real users. Meant for a first run
    /// and for theme work; leave unset on a published site.
    #[serde(default)]
    pub sample_users_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// The application's id; needed by `serve` and by `build` without `--offline`.
    pub client_id: Option<Snowflake>,
    pub redirect_uri: Option<HttpUrl>,
    /// The scopes this deployment offers; users choose among them on the consent page.
    pub scopes: Vec<Scope>,
    pub api_base: HttpUrl,
    pub authorize_url: HttpUrl,
    pub cdn_base: HttpUrl,
    /// Hex Ed25519 key of the application, for verifying Discord's webhook events.
    pub public_key: Option<String>,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            client_id: None,
            redirect_uri: None,
            scopes: KNOWN_SCOPES.iter().map(|s| Scope(s.to_string())).collect(),
            api_base: HttpUrl::fixed("https://discord.com/api/v10"),
            authorize_url: HttpUrl::fixed("https://discord.com/oauth2/authorize"),
            cdn_base: HttpUrl::fixed("https://cdn.discordapp.com"),
            public_key: None,
        }
    }
}

impl DiscordConfig {
    /// `{api_base}/oauth2/token`.
    pub fn token_url(&self) -> Url {
        self.api_base.join_path("oauth2/token")
    }

    /// `{api_base}/oauth2/token/revoke`.
    pub fn revoke_url(&self) -> Url {
        self.api_base.join_path("oauth2/token/revoke")
    }

    pub fn offers(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s.0 == scope)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("strife.db"),
        }
    }
}

/// `[server]`: where `serve` listens, and what one client may hold (`serve` and `watch`'s
/// preview; see [`crate::http_server`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// Time a client has to send a request's line and headers, from connecting and again after
    /// each answer; an idle connection is closed then.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Time a client has to send a whole request body (the webhook routes).
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
    /// Connections open at once at most; lowered to fit the process's open-file limit.
    pub max_connections: NonZeroUsize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: NonZeroUsize::new(1024).expect("1024 is not zero"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RefreshConfig {
    /// How often `serve` refreshes everyone and rebuilds, e.g. "6h".
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How many users are fetched from Discord at the same time.
    pub concurrency: NonZeroUsize,
    /// Wait before retrying a user whose refresh failed; doubles with each failure in a row.
    #[serde(with = "humantime_serde")]
    pub retry_backoff: Duration,
    /// The longest wait between retries of a failing user.
    #[serde(with = "humantime_serde")]
    pub retry_backoff_max: Duration,
    /// How long a user waiting for a new consent keeps their last page before it is removed.
    #[serde(with = "humantime_serde")]
    pub grace_period: Duration,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            interval: Duration::from_secs(6 * 3600),
            concurrency: NonZeroUsize::new(4).expect("4 is not zero"),
            retry_backoff: Duration::from_secs(15 * 60),
            retry_backoff_max: Duration::from_secs(24 * 3600),
            grace_period: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// How far a signed request's timestamp may be from our clock (either way); signatures seen
    /// within this window are remembered, so a replayed request is refused.
    #[serde(with = "humantime_serde")]
    pub timestamp_tolerance: Duration,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            timestamp_tolerance: Duration::from_secs(5 * 60),
        }
    }
}

fn default_theme() -> String {
    "default".to_owned()
}
fn default_output_dir() -> PathBuf {
    PathBuf::from("output")
}
fn default_content_dir() -> PathBuf {
    PathBuf::from("content")
}
fn default_themes_dir() -> PathBuf {
    PathBuf::from("themes")
}

/// An absolute `http` or `https` URL (anything else is refused while parsing).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl(Url);

impl HttpUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = Url::parse(text).map_err(|e| format!("{text:?} is not a valid URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!("{text:?} must be an http:// or https:// URL"));
        }
        Ok(HttpUrl(url))
    }

    fn fixed(text: &str) -> Self {
        HttpUrl::parse(text).expect("built-in URL is valid")
    }

    pub fn url(&self) -> &Url {
        &self.0
    }

    /// This URL with `path` appended below its own path, whether or not it ends with a slash.
    pub fn join_path(&self, path: &str) -> Url {
        let mut url = self.0.clone();
        let joined = format!("{}/{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        HttpUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One of [`KNOWN_SCOPES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(pub String);

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if KNOWN_SCOPES.contains(&text.as_str()) {
            Ok(Scope(text))
        } else {
            Err(serde::de::Error::custom(format!(
                "unsupported scope {text:?}: expected one of {KNOWN_SCOPES:?}"
            )))
        }
    }
}

impl Config {
    /// Reads, parses and checks `path`; relative paths inside resolve against its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    /// Parses `text` as if it had been read from `path`.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config.path = path.to_owned();
        config.check()?;
        config.resolve_paths();
        config.check_output_dir()?;
        Ok(config)
    }

    /// The folder the config file is in; relative paths are relative to it.
    pub fn root(&self) -> PathBuf {
        match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    /// `themes_dir/theme`.
    pub fn theme_dir(&self) -> PathBuf {
        self.site.themes_dir.join(&self.site.theme)
    }

    fn invalid(&self, key: &'static str, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            key,
            problem: problem.into(),
        }
    }

    /// Rules a single field's type cannot express.
    fn check(&self) -> Result<(), ConfigError> {
        if self.site.title.trim().is_empty() {
            return Err(self.invalid("site.title", "must not be empty"));
        }
        let theme = &self.site.theme;
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if theme.is_empty() || !theme.chars().all(plain) {
            return Err(self.invalid(
                "site.theme",
                format!("{theme:?} must be a folder name (letters, digits, - and _)"),
            ));
        }
        if let Some(cname) = &self.site.cname {
            let host_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
            if cname.is_empty() || !cname.chars().all(host_char) {
                return Err(self.invalid("site.cname", format!("{cname:?} is not a host name")));
            }
        }
        if !self.discord.offers("identify") {
            return Err(self.invalid(
                "discord.scopes",
                "must include \"identify\": a profile page needs the user",
            ));
        }
        if let Some(key) = &self.discord.public_key {
            let valid = key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit());
            if !valid {
                return Err(self.invalid("discord.public_key", "must be 64 hex characters"));
            }
            if crate::webhook::parse_public_key(key).is_none() {
                return Err(self.invalid(
                    "discord.public_key",
                    "is not a valid Ed25519 public key (copy it from the Developer Portal's General Information page)",
                ));
            }
        }
        if self.server.header_timeout.is_zero() {
            return Err(self.invalid("server.header_timeout", "must be more than 0s"));
        }
        if self.server.body_timeout.is_zero() {
            return Err(self.invalid("server.body_timeout", "must be more than 0s"));
        }
        if self.webhooks.timestamp_tolerance.is_zero() {
            return Err(self.invalid("webhooks.timestamp_tolerance", "must be more than 0s"));
        }
        if self.refresh.interval.is_zero() {
            return Err(self.invalid("refresh.interval", "must be more than 0s"));
        }
        if self.refresh.retry_backoff.is_zero() {
            return Err(self.invalid("refresh.retry_backoff", "must be more than 0s"));
        }
        if self.refresh.retry_backoff_max < self.refresh.retry_backoff {
            return Err(self.invalid(
                "refresh.retry_backoff_max",
                "must not be shorter than refresh.retry_backoff",
            ));
        }
        if let Err((key, problem)) = self.deploy.check() {
            return Err(self.invalid(key, problem));
        }
        Ok(())
    }

    fn resolve_paths(&mut self) {
        let root = self.root();
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = root.join(&*p);
            }
        };
        resolve(&mut self.site.output_dir);
        resolve(&mut self.site.content_dir);
        resolve(&mut self.site.themes_dir);
        resolve(&mut self.store.path);
        if let Some(dir) = &mut self.site.sample_users_dir {
            resolve(dir);
        }
        self.deploy.resolve_paths(&root);
    }

    /// The output folder is replaced whole by every build: it must not hold anything else the
    /// site needs (the config, the store and its key, themes, content), or a build would delete it.
    /// Paths are compared with links resolved as far as they exist, so an `output` that links to
    /// the site's own folder is refused like `output_dir = "."` (while one linking to a separate
    /// folder is fine: builds update it where it points). Builds check again before writing.
    pub fn check_output_dir(&self) -> Result<(), ConfigError> {
        let output = resolve_links(&self.site.output_dir);
        let mut precious = vec![
            ("the folder of the config file", self.root()),
            ("store.path", self.store.path.clone()),
            ("site.themes_dir", self.site.themes_dir.clone()),
            ("site.content_dir", self.site.content_dir.clone()),
        ];
        if let Some(dir) = &self.site.sample_users_dir {
            precious.push(("site.sample_users_dir", dir.clone()));
        }
        for (what, path) in precious {
            if resolve_links(&path).starts_with(&output) {
                let resolved = match normalize(&self.site.output_dir) == output {
                    true => String::new(),
                    false => format!(" (which resolves to {})", output.display()),
                };
                return Err(self.invalid(
                    "site.output_dir",
                    format!(
                        "{}{resolved} contains {what} ({}); every build replaces the output folder, so it must be a folder of its own",
                        self.site.output_dir.display(),
                        path.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks that the configured theme exists, before a command writes anything.
    pub fn check_theme(&self) -> Result<(), ConfigError> {
        let dir = self.theme_dir();
        if dir.is_dir() {
            return Ok(());
        }
        Err(self.invalid(
            "site.theme",
            format!(
                "{:?}: there is no theme folder {}",
                self.site.theme,
                dir.display()
            ),
        ))
    }

    /// What `serve` and an online `build` need: the application id and redirect URI.
    pub fn require_oauth(&self) -> Result<(Snowflake, &HttpUrl), ConfigError> {
        let client_id = self.discord.client_id.ok_or_else(|| ConfigError::Missing {
            what: "discord.client_id",
            hint: format!(
                "set it in {} to your Discord application's id (Developer Portal → OAuth2)",
                self.path.display()
            ),
        })?;
        let redirect = self
            .discord
            .redirect_uri
            .as_ref()
            .ok_or_else(|| ConfigError::Missing {
                what: "discord.redirect_uri",
                hint: format!(
                    "set it in {} to the public URL of `strife-gen serve` + /callback, and register the same URI in the Developer Portal",
                    self.path.display()
                ),
            })?;
        Ok((client_id, redirect))
    }
}

/// An absolute path with `.` and `..` folded away, without touching the file system (the paths
/// compared need not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` made absolute with its links resolved as far as it exists: the longest existing
/// ancestor is resolved by the file system (so `..` after a link means what the kernel means),
/// and the rest, which does not exist yet, is folded lexically.
fn resolve_links(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    for existing in absolute.ancestors() {
        if let Ok(real) = std::fs::canonicalize(existing) {
            let rest = absolute.strip_prefix(existing).unwrap_or(Path::new(""));
            return normalize(&real.join(rest));
        }
    }
    normalize(&absolute)
}

/// Secrets read from the environment, after loading `.env` beside the config (real environment
/// variables win over the file).
pub struct Secrets {
    client_secret: Option<String>,
    token_key: Option<String>,
    webhook_secret: Option<String>,
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
            .finish()
    }
}

impl Secrets {
    /// Loads `<config folder>/.env` if present, then reads the variables.
    pub fn from_env(config: &Config) -> Result<Secrets, ConfigError> {
        let env_file = config.root().join(".env");
        if env_file.exists() {
            dotenvy::from_path(&env_file).map_err(|e| ConfigError::EnvFile {
                path: env_file.clone(),
                message: e.to_string(),
            })?;
        }
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Ok(Secrets {
            client_secret: read(CLIENT_SECRET_VAR),
            token_key: read(TOKEN_KEY_VAR),
            webhook_secret: read(WEBHOOK_SECRET_VAR),
        })
    }

    /// Secrets given directly (tests, embedding).
    pub fn new(client_secret: Option<String>, token_key: Option<String>) -> Secrets {
        Secrets {
            client_secret,
            token_key,
            webhook_secret: None,
        }
    }

    /// These secrets with the refresh hook's shared secret set.
    pub fn with_webhook_secret(mut self, secret: impl Into<String>) -> Secrets {
        self.webhook_secret = Some(secret.into());
        self
    }

    /// The refresh hook's shared secret; without it `POST /webhooks/refresh` is disabled.
    pub fn webhook_secret(&self) -> Option<&str> {
        self.webhook_secret.as_deref()
    }

    pub fn client_secret(&self) -> Result<&str, ConfigError> {
        self.client_secret
            .as_deref()
            .ok_or_else(|| ConfigError::Missing {
                what: CLIENT_SECRET_VAR,
                hint: "set it in the environment or in a .env file beside strife.toml to your Discord application's client secret".to_owned(),
            })
    }

    /// The base64 token key, if one is set; without it a key file beside the database is used.
    pub fn token_key(&self) -> Option<&str> {
        self.token_key.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[site]
title = "Profiles"
base_url = "https://example.org/profiles/"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("/srv/site/strife.toml"))
    }

    fn error_of(text: &str) -> String {
        parse(text)
            .expect_err("config should be refused")
            .to_string()
    }

    #[test]
    fn minimal_config_gets_defaults_and_resolved_paths() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.site.theme, "default");
        assert_eq!(config.site.output_dir, Path::new("/srv/site/output"));
        assert_eq!(config.store.path, Path::new("/srv/site/strife.db"));
        assert_eq!(config.theme_dir(), Path::new("/srv/site/themes/default"));
        assert_eq!(config.refresh.interval, Duration::from_secs(6 * 3600));
        assert_eq!(config.refresh.concurrency.get(), 4);
        assert_eq!(config.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.discord.token_url().as_str(),
            "https://discord.com/api/v10/oauth2/token"
        );
        assert_eq!(
            config.discord.revoke_url().as_str(),
            "https://discord.com/api/v10/oauth2/token/revoke"
        );
    }

    #[test]
    fn server_limits_have_defaults_and_must_not_be_zero() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.server.header_timeout, Duration::from_secs(10));
        assert_eq!(config.server.body_timeout, Duration::from_secs(10));
        assert_eq!(config.server.max_connections.get(), 1024);
        let text = format!(
            "{MINIMAL}[server]\nheader_timeout = \"2s\"\nbody_timeout = \"500ms\"\nmax_connections = 50\n"
        );
        let server = parse(&text).unwrap().server;
        assert_eq!(server.header_timeout, Duration::from_secs(2));
        assert_eq!(server.body_timeout, Duration::from_millis(500));
        assert_eq!(server.max_connections.get(), 50);
        for (key, value) in [
            ("header_timeout", "\"0s\""),
            ("body_timeout", "\"0s\""),
            ("max_connections", "0"),
        ] {
            let message = error_of(&format!("{MINIMAL}[server]\n{key} = {value}\n"));
            assert!(message.contains(key), "{message}");
        }
    }

    #[test]
    fn absolute_paths_stay_as_they_are() {
        let text = format!("{MINIMAL}output_dir = \"/var/www/out\"\n");
        assert_eq!(
            parse(&text).unwrap().site.output_dir,
            Path::new("/var/www/out")
        );
    }

    #[test]
    fn config_in_current_folder_resolves_against_dot() {
        let config = Config::from_toml(MINIMAL, Path::new("strife.toml")).unwrap();
        assert_eq!(config.site.output_dir, Path::new("./output"));
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let message = error_of(&format!("{MINIMAL}colour = \"red\"\n"));
        assert!(message.contains("colour"), "{message}");
        assert!(message.contains("line 5"), "{message}");
        assert!(message.contains("/srv/site/strife.toml"), "{message}");
    }

    #[test]
    fn unknown_section_is_refused() {
        let message = error_of(&format!("{MINIMAL}[sever]\nbind = \"x\"\n"));
        assert!(message.contains("sever"), "{message}");
    }

    #[test]
    fn wrong_type_is_named_with_its_line() {
        let message = error_of(&format!("{MINIMAL}[refresh]\nconcurrency = \"lots\"\n"));
        assert!(message.contains("concurrency"), "{message}");
        assert!(message.contains("line 6"), "{message}");
    }

    #[test]
    fn zero_concurrency_is_refused() {
        let message = error_of(&format!("{MINIMAL}[refresh]\nconcurrency = 0\n"));
        assert!(message.contains("concurrency"), "{message}");
    }

    #[test]
    fn bad_urls_are_refused_with_their_line() {
        let message = error_of("[site]\ntitle = \"x\"\nbase_url = \"not a url\"\n");
        assert!(message.contains("base_url"), "{message}");
        assert!(message.contains("line 3"), "{message}");
        let message = error_of(&format!("{MINIMAL}[discord]\napi_base = \"ftp://x.org\"\n"));
        assert!(message.contains("http:// or https://"), "{message}");
    }

    #[test]
    fn bad_interval_is_refused() {
        let message = error_of(&format!("{MINIMAL}[refresh]\ninterval = \"soon\"\n"));
        assert!(message.contains("interval"), "{message}");
    }

    #[test]
    fn interval_is_human_readable() {
        let text = format!("{MINIMAL}[refresh]\ninterval = \"90m\"\n");
        assert_eq!(
            parse(&text).unwrap().refresh.interval,
            Duration::from_secs(5400)
        );
    }

    #[test]
    fn scopes_are_checked() {
        let message = error_of(&format!(
            "{MINIMAL}[discord]\nscopes = [\"identify\", \"email\"]\n"
        ));
        assert!(message.contains("email"), "{message}");
        let message = error_of(&format!("{MINIMAL}[discord]\nscopes = [\"guilds\"]\n"));
        assert!(message.contains("discord.scopes"), "{message}");
    }

    #[test]
    fn client_id_must_be_a_snowflake() {
        let message = error_of(&format!("{MINIMAL}[discord]\nclient_id = \"abc\"\n"));
        assert!(message.contains("client_id"), "{message}");
    }

    #[test]
    fn theme_must_be_a_plain_folder_name() {
        let message = error_of(&MINIMAL.replace("[site]", "[site]\ntheme = \"../etc\""));
        assert!(message.contains("site.theme"), "{message}");
    }

    #[test]
    fn missing_oauth_settings_name_the_key() {
        let config = parse(MINIMAL).unwrap();
        let message = config.require_oauth().unwrap_err().to_string();
        assert!(message.contains("discord.client_id"), "{message}");
        let text = format!("{MINIMAL}[discord]\nclient_id = \"123\"\n");
        let message = parse(&text)
            .unwrap()
            .require_oauth()
            .unwrap_err()
            .to_string();
        assert!(message.contains("discord.redirect_uri"), "{message}");
    }

    #[test]
    fn missing_client_secret_names_the_variable() {
        let secrets = Secrets::new(None, None);
        let message = secrets.client_secret().unwrap_err().to_string();
        assert!(message.contains(CLIENT_SECRET_VAR), "{message}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let secrets = Secrets::new(Some("hunter2".into()), Some("a2V5".into()));
        let shown = format!("{secrets:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("a2V5"),
            "{shown}"
        );
    }

    #[test]
    fn deploy_settings_are_checked_and_resolved() {
        let text = format!("{MINIMAL}[deploy]\ngit = {{ remote = \"pages.git\" }}\n");
        let git = parse(&text).unwrap().deploy.git.unwrap();
        assert_eq!(git.remote, "/srv/site/pages.git");
        assert_eq!(git.branch, "gh-pages");
        let text =
            format!("{MINIMAL}[deploy]\ngit = {{ remote = \"git@github.com:me/site.git\" }}\n");
        assert_eq!(
            parse(&text).unwrap().deploy.git.unwrap().remote,
            "git@github.com:me/site.git"
        );
        let message = error_of(&format!("{MINIMAL}[deploy]\ncommand = []\n"));
        assert!(message.contains("deploy.command"), "{message}");
        let message = error_of(&format!("{MINIMAL}[deploy]\nscript = \"x\"\n"));
        assert!(message.contains("script"), "{message}");
    }

    #[test]
    fn webhook_and_retry_settings_have_defaults_and_are_checked() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(
            config.webhooks.timestamp_tolerance,
            Duration::from_secs(300)
        );
        assert_eq!(config.refresh.grace_period, Duration::from_secs(7 * 86400));
        let text = format!("{MINIMAL}[webhooks]\ntimestamp_tolerance = \"0s\"\n");
        assert!(error_of(&text).contains("webhooks.timestamp_tolerance"));
        let text =
            format!("{MINIMAL}[refresh]\nretry_backoff = \"1h\"\nretry_backoff_max = \"10m\"\n");
        assert!(error_of(&text).contains("refresh.retry_backoff_max"));
        let text = format!("{MINIMAL}[webhooks]\nsecret = \"x\"\n");
        assert!(error_of(&text).contains("secret"));
    }

    #[test]
    fn public_key_must_be_a_curve_point() {
        // 64 hex characters, but not a point on the curve.
        let bad = "02".repeat(32);
        let message = error_of(&format!("{MINIMAL}[discord]\npublic_key = \"{bad}\"\n"));
        assert!(message.contains("discord.public_key"), "{message}");
        let good = "0b703b23f4e6a3316f2272b97588a38b3e83907b082adcb9ff012dac871e1e8c";
        let text = format!("{MINIMAL}[discord]\npublic_key = \"{good}\"\n");
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn webhook_secret_is_redacted_in_debug() {
        let secrets = Secrets::new(None, None).with_webhook_secret("s3cr3t-hook");
        assert_eq!(secrets.webhook_secret(), Some("s3cr3t-hook"));
        assert!(!format!("{secrets:?}").contains("s3cr3t-hook"));
    }

    #[test]
    fn an_output_folder_holding_the_site_itself_is_refused() {
        for output in [".", "..", "/srv", "./", "/srv/site/./"] {
            let text = MINIMAL.replace("[site]", &format!("[site]\noutput_dir = \"{output}\""));
            let message = error_of(&text);
            assert!(message.contains("site.output_dir"), "{output}: {message}");
        }
        let text = format!("{MINIMAL}[store]\npath = \"out/strife.db\"\n")
            .replace("[site]", "[site]\noutput_dir = \"out\"");
        assert!(error_of(&text).contains("store.path"));
        let text = MINIMAL.replace("[site]", "[site]\noutput_dir = \"public\"");
        assert!(parse(&text).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn an_output_folder_linked_to_the_site_itself_is_refused() {
        use std::os::unix::fs::symlink;
        let site = tempfile::tempdir().unwrap();
        let config_path = site.path().join("strife.toml");
        let load = || Config::from_toml(MINIMAL, &config_path);
        symlink(".", site.path().join("output")).unwrap();
        let message = load().unwrap_err().to_string();
        assert!(
            message.contains("site.output_dir")
                && message.contains("resolves to")
                && message.contains("the folder of the config file"),
            "{message}"
        );

        // Linked to a folder above the site: the same.
        std::fs::remove_file(site.path().join("output")).unwrap();
        symlink("..", site.path().join("output")).unwrap();
        assert!(load().unwrap_err().to_string().contains("site.output_dir"));

        // Linked into the content folder: the content would be replaced.
        std::fs::remove_file(site.path().join("output")).unwrap();
        std::fs::create_dir(site.path().join("content")).unwrap();
        symlink("content", site.path().join("output")).unwrap();
        let message = load().unwrap_err().to_string();
        assert!(message.contains("site.content_dir"), "{message}");

        // Linked to a separate folder: supported, builds update it where it points.
        std::fs::remove_file(site.path().join("output")).unwrap();
        let www = tempfile::tempdir().unwrap();
        symlink(www.path(), site.path().join("output")).unwrap();
        assert!(load().is_ok());
        // A link that makes the store path land in the output is caught too.
        let text = format!("{MINIMAL}[store]\npath = \"db-link/strife.db\"\n");
        symlink("output", site.path().join("db-link")).unwrap();
        let message = Config::from_toml(&text, &config_path)
            .unwrap_err()
            .to_string();
        assert!(message.contains("store.path"), "{message}");
    }

    #[test]
    fn zero_interval_is_refused() {
        let message = error_of(&format!("{MINIMAL}[refresh]\ninterval = \"0s\"\n"));
        assert!(message.contains("refresh.interval"), "{message}");
    }

    #[test]
    fn a_missing_theme_is_named() {
        let config = parse(MINIMAL).unwrap();
        let message = config.check_theme().unwrap_err().to_string();
        assert!(
            message.contains("site.theme") && message.contains("/srv/site/themes/default"),
            "{message}"
        );
    }

    #[test]
    fn join_path_handles_trailing_slashes() {
        let with = HttpUrl::parse("http://127.0.0.1:1/api/v10/").unwrap();
        let without = HttpUrl::parse("http://127.0.0.1:1/api/v10").unwrap();
        assert_eq!(
            with.join_path("oauth2/token"),
            without.join_path("oauth2/token")
        );
    }
}

#[cfg(test)]
mod proptests;
