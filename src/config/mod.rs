//! `strife.toml`: the site's configuration, parsed and checked before anything is written. Owns
//! the sections' types and rules; never reads a secret, never imports what uses the config.
//!
//! Most checks live in the types themselves (URLs, durations, non-zero numbers, known scopes, the
//! webhook key), so that a bad value is reported by the TOML parser together with its line and
//! column. The few rules that span several keys are checked afterwards and name the keys involved.
//!
//! One file per section (`site`, `discord`, `store`, `server` with `webhooks`, `refresh`,
//! `deploy`, `community`, `self_service`); secrets never live in `strife.toml`: they come from the environment (or a `.env`
//! file beside the config) when a command needs them, see [`Secrets`] in `env`.

mod community;
mod deploy;
mod discord;
mod env;
mod http_url;
mod refresh;
mod self_service;
mod server;
pub(crate) mod site;
mod store;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub(crate) use community::CommunityConfig;
pub(crate) use deploy::{DeployConfig, GitTarget};
pub(crate) use discord::DiscordConfig;
pub use env::Secrets;
pub(crate) use env::{
    BOT_TOKEN_VAR, CLIENT_SECRET_VAR, SECRET_VARS, TOKEN_KEY_VAR, WEBHOOK_SECRET_VAR,
};
pub(crate) use http_url::HttpUrl;
pub(crate) use refresh::RefreshConfig;
pub(crate) use self_service::{Moderation, SelfServiceConfig};
pub(crate) use server::{ServerConfig, WebhooksConfig};
pub(crate) use site::SiteConfig;
pub use store::DatabaseUrl;
pub(crate) use store::StoreConfig;

use crate::discord::models::Snowflake;

/// A configuration problem: always names the file and, where it can, the key and line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    /// The config file cannot be read.
    Read {
        /// The file or folder concerned.
        path: PathBuf,
        /// What the system or library reported.
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    /// The config file is not valid TOML, or a value has the wrong type.
    Parse {
        /// The file or folder concerned.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    #[error("invalid config file {path}: `{key}` {problem}")]
    /// A value breaks a rule its type cannot express.
    Invalid {
        /// The file or folder concerned.
        path: PathBuf,
        /// The config key, e.g. `site.base_url`.
        key: &'static str,
        /// What is wrong with the value.
        problem: String,
    },
    #[error("{what} is needed for this command: {hint}")]
    /// Something this command needs is not configured.
    Missing {
        /// What is missing.
        what: &'static str,
        /// How to provide it.
        hint: String,
    },
    #[error("invalid environment file {path}: {message}")]
    /// The `.env` file beside the config cannot be read.
    EnvFile {
        /// The file or folder concerned.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Every configuration error is fixed in strife.toml or the environment.
impl crate::fault::Blame for ConfigError {
    fn is_users_fault(&self) -> bool {
        true
    }
}

/// What a section's own rules say: `Err` holds the key that breaks one and what is wrong with it.
type SectionCheck = Result<(), (&'static str, String)>;

/// The rule shared by every duration that paces something: zero would spin or refuse everything.
fn more_than_zero(key: &'static str, value: Duration) -> SectionCheck {
    match value.is_zero() {
        true => Err((key, "must be more than 0s".into())),
        false => Ok(()),
    }
}

/// The whole `strife.toml`, with relative paths already resolved against the file's folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[site]`: what is published and where.
    pub site: SiteConfig,
    #[serde(default)]
    /// `[discord]`: the application and its endpoints.
    pub discord: DiscordConfig,
    #[serde(default)]
    /// `[store]`: where the SQLite store lives.
    pub store: StoreConfig,
    #[serde(default)]
    pub(crate) server: ServerConfig,
    #[serde(default)]
    pub(crate) refresh: RefreshConfig,
    /// Where to publish after a build that changed something (off by default).
    #[serde(default)]
    pub(crate) deploy: DeployConfig,
    #[serde(default)]
    pub(crate) webhooks: WebhooksConfig,
    /// The community's server, joined on consent by those who tick it (off by default).
    #[serde(default)]
    pub(crate) community: CommunityConfig,
    /// People editing their own page (`/me`; on by default).
    #[serde(default)]
    pub(crate) self_service: SelfServiceConfig,
    /// The file this was read from.
    #[serde(skip)]
    pub(crate) path: PathBuf,
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
    pub(crate) fn root(&self) -> PathBuf {
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

    /// Each section's own rules, in the order of the file's documentation.
    fn check(&self) -> Result<(), ConfigError> {
        self.site
            .check()
            .and_then(|()| self.discord.check())
            .and_then(|()| self.server.check())
            .and_then(|()| self.webhooks.check())
            .and_then(|()| self.refresh.check())
            .and_then(|()| self.deploy.check())
            .and_then(|()| self.community.check())
            .and_then(|()| self.store.check())
            .map_err(|(key, problem)| self.invalid(key, problem))
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
    pub(crate) fn check_output_dir(&self) -> Result<(), ConfigError> {
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
    pub(crate) fn check_theme(&self) -> Result<(), ConfigError> {
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
    pub(crate) fn require_oauth(&self) -> Result<(Snowflake, &HttpUrl), ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::community::JoinMode;
    use super::Moderation;
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
    fn the_index_page_size_is_positive() {
        let message = error_of(&format!("{MINIMAL}page_size = 0\n"));
        assert!(message.contains("page_size"), "{message}");
        let config = parse(&format!("{MINIMAL}page_size = 25\n")).unwrap();
        assert_eq!(config.site.page_size.get(), 25);
        assert_eq!(parse(MINIMAL).unwrap().site.page_size.get(), 100);
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
    fn bot_token_is_redacted_in_debug_and_named_when_missing() {
        let secrets = Secrets::new(None, None).with_bot_token("bot-s3cr3t");
        assert_eq!(secrets.bot_token().ok(), Some("bot-s3cr3t"));
        assert!(!format!("{secrets:?}").contains("bot-s3cr3t"));
        let message = Secrets::new(None, None)
            .bot_token()
            .unwrap_err()
            .to_string();
        assert!(message.contains(BOT_TOKEN_VAR), "{message}");
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
    fn community_join_is_off_by_default_and_checked() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.community.join, JoinMode::Off);
        assert_eq!(config.community.offered_guild(), None);
        let text = format!("{MINIMAL}[community]\nguild_id = \"400\"\n");
        assert_eq!(parse(&text).unwrap().community.offered_guild(), None);
        let text = format!(
            "{MINIMAL}[community]\nguild_id = \"400\"\njoin = \"offer\"\nroles = [\"500\"]\n"
        );
        let community = parse(&text).unwrap().community;
        assert_eq!(community.offered_guild(), Some(Snowflake(400)));
        assert_eq!(community.roles, [Snowflake(500)]);
        let message = error_of(&format!("{MINIMAL}[community]\njoin = \"offer\"\n"));
        assert!(message.contains("community.guild_id"), "{message}");
        let message = error_of(&format!("{MINIMAL}[community]\nroles = [\"500\"]\n"));
        assert!(message.contains("community.roles"), "{message}");
        let message = error_of(&format!("{MINIMAL}[community]\njoin = \"always\"\n"));
        assert!(
            message.contains("always") && message.contains("line 6"),
            "{message}"
        );
        let message = error_of(&format!("{MINIMAL}[community]\nguild_id = \"my server\"\n"));
        assert!(message.contains("guild_id"), "{message}");
    }

    #[test]
    fn self_service_is_on_and_publishes_by_default() {
        let config = parse(MINIMAL).unwrap();
        assert!(config.self_service.enabled);
        assert_eq!(config.self_service.moderation, Moderation::Publish);
        let text = format!("{MINIMAL}[self_service]\nenabled = false\nmoderation = \"review\"\n");
        let self_service = parse(&text).unwrap().self_service;
        assert!(!self_service.enabled);
        assert_eq!(self_service.moderation, Moderation::Review);
        let message = error_of(&format!(
            "{MINIMAL}[self_service]\nmoderation = \"later\"\n"
        ));
        assert!(
            message.contains("later") && message.contains("line 6"),
            "{message}"
        );
        let message = error_of(&format!("{MINIMAL}[self_service]\nopen = true\n"));
        assert!(message.contains("open"), "{message}");
    }

    #[test]
    fn join_retries_and_the_welcome_message_are_checked() {
        let offer = format!("{MINIMAL}[community]\nguild_id = \"400\"\njoin = \"offer\"\n");
        let community = parse(&offer).unwrap().community;
        assert_eq!(community.join_retries, 3);
        assert_eq!(community.welcome_message, None);
        let message = error_of(&format!("{offer}join_retries = 11\n"));
        assert!(
            message.contains("community.join_retries") && message.contains("at most 10"),
            "{message}"
        );
        let message = error_of(&format!("{offer}join_retries = -1\n"));
        assert!(message.contains("join_retries"), "{message}");
        for bad in ["../secret.txt", "sub/welcome.txt", ".hidden", ""] {
            let message = error_of(&format!("{offer}welcome_message = \"{bad}\"\n"));
            assert!(
                message.contains("community.welcome_message"),
                "{bad}: {message}"
            );
        }
        let message = error_of(&format!(
            "{MINIMAL}[community]\nguild_id = \"400\"\nwelcome_message = \"welcome.txt\"\n"
        ));
        assert!(
            message.contains("community.welcome_message") && message.contains("join = \"offer\""),
            "{message}"
        );
        let ok = parse(&format!("{offer}welcome_message = \"welcome.txt\"\n")).unwrap();
        assert_eq!(ok.community.welcome_message.as_deref(), Some("welcome.txt"));
    }

    #[test]
    fn guilds_join_is_not_a_scope_to_offer() {
        let message = error_of(&format!(
            "{MINIMAL}[discord]\nscopes = [\"identify\", \"guilds.join\"]\n"
        ));
        assert!(
            message.contains("discord.scopes") && message.contains("community.join"),
            "{message}"
        );
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
