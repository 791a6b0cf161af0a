//! Owns the community's side of a consent: the server a person may choose to join (`[community]`),
//! the start-up check that the bot can add them, the join itself ([`join`]) and the welcome
//! message ([`welcome`]). It must not know about HTTP; the service calls it, the landing page
//! shows what it found.

pub(crate) mod join;
pub(crate) mod welcome;

use base64::Engine;

use crate::config::site::ImageMode;
use crate::config::{Config, ConfigError, Secrets, BOT_TOKEN_VAR};
use crate::discord::bot::{BotClient, BotToken, GuildInfo};
use crate::discord::cdn::Cdn;
use crate::discord::client::{ClientOptions, DiscordError};
use crate::discord::models::Snowflake;
use crate::fault::Blame;
use crate::images::sniff::{self, MAX_IMAGE_BYTES};
use welcome::{Welcome, WelcomeError};

/// The server icon's size on the landing page (twice its CSS size).
const ICON_SIZE: u16 = 64;

/// Discord's permission bit Create Instant Invite: adding members needs it.
const CREATE_INSTANT_INVITE: u64 = 1;
/// Discord's permission bit Manage Roles: giving roles on join needs it.
const MANAGE_ROLES: u64 = 1 << 28;

/// Retries of the start-up check: someone is watching `serve` start, so a Discord that is down
/// is reported within seconds rather than after the refresh's patience.
const STARTUP_RETRIES: u32 = 2;

/// Why the community's server cannot be offered. Each says what to fix, never the token.
#[derive(Debug, thiserror::Error)]
pub enum CommunityError {
    /// strife.toml or the environment lacks something (the bot token).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Discord refused the bot token.
    #[error("Discord refused the bot token in {BOT_TOKEN_VAR} (GET /guilds/{guild}: 401): copy the current token from the Developer Portal (your application → Bot → Reset Token)")]
    BotTokenRefused {
        /// The configured server.
        guild: Snowflake,
    },
    /// The bot is not in the server (or the id is not a server's).
    #[error("the bot is not in server {guild} (community.guild_id; Discord answered: {answer}): check the id, and invite the bot with the Create Instant Invite{roles} permission: {invite}")]
    BotNotInServer {
        /// The configured server.
        guild: Snowflake,
        /// What Discord said, e.g. `Missing Access (code 50001)`.
        answer: String,
        /// `" and Manage Roles"` when roles are configured.
        roles: &'static str,
        /// The invite URL with the permissions the bot needs.
        invite: String,
    },
    /// Discord could not be asked (down, unreachable, rate limited for too long).
    #[error("cannot check the community server {guild} with the bot: {source}")]
    Discord {
        /// The configured server.
        guild: Snowflake,
        /// What went wrong.
        source: DiscordError,
    },
    /// `community.welcome_message` cannot be used.
    #[error(transparent)]
    Welcome(#[from] WelcomeError),
}

/// A refused token or a missing bot are fixed at Discord or in the environment (exit 2); a
/// Discord that cannot be reached is the run's failure (exit 1).
impl Blame for CommunityError {
    fn is_users_fault(&self) -> bool {
        match self {
            CommunityError::Config(error) => error.is_users_fault(),
            CommunityError::BotTokenRefused { .. }
            | CommunityError::BotNotInServer { .. }
            | CommunityError::Welcome(_) => true,
            CommunityError::Discord { .. } => false,
        }
    }
}

/// The community's server, checked at start-up: the bot is in it. Fetched once, then cached for
/// the landing page; with the bot that adds members and the welcome message.
#[derive(Debug)]
pub struct Community {
    pub(crate) guild: GuildInfo,
    /// The server's icon for the landing page, by the site's image rules: the site's own copy
    /// as a `data:` URI (`site.images = "mirror"`: the visitor's browser asks Discord for
    /// nothing), or the CDN's URL (`"link"`). `None` without an icon, or when it could not be had.
    pub(crate) icon_url: Option<String>,
    pub(crate) bot: BotClient,
    /// Given to whoever joins (`community.roles`).
    pub(crate) roles: Vec<Snowflake>,
    /// `community.join_retries`.
    pub(crate) join_retries: u32,
    /// `community.welcome_message`, checked.
    pub(crate) welcome: Option<Welcome>,
}

impl Community {
    /// With `join = "offer"`: checks with the bot token that the bot is in the configured server
    /// (`GET /guilds/{id}`) and returns it; `None` when joining is not offered.
    pub async fn check(
        config: &Config,
        secrets: &Secrets,
    ) -> Result<Option<Community>, CommunityError> {
        let Some(guild) = config.community.offered_guild() else {
            return Ok(None);
        };
        let token = BotToken::new(secrets.bot_token()?);
        let options = ClientOptions {
            max_retries: STARTUP_RETRIES,
            ..ClientOptions::new(config.discord.api_base.url().clone()).identified()
        };
        let bot = BotClient::new(options, token)
            .map_err(|source| CommunityError::Discord { guild, source })?;
        let info = match bot.guild(guild).await {
            Ok(info) => info,
            Err(error) => return Err(refusal(config, guild, error)),
        };
        let welcome = Welcome::load(config, &info.name)?;
        let icon_url = icon_url(config, &bot, &info).await;
        Ok(Some(Community {
            guild: info,
            icon_url,
            bot,
            roles: config.community.roles.clone(),
            join_retries: config.community.join_retries,
            welcome,
        }))
    }
}

/// The server icon's URL for the landing page (see [`Community::icon_url`]). A copy that cannot
/// be had leaves the page without an icon and a warning: it is no reason not to start.
async fn icon_url(config: &Config, bot: &BotClient, guild: &GuildInfo) -> Option<String> {
    let cdn = Cdn::new(config.discord.cdn_base.url().clone());
    let url = cdn.image("icons", guild.id.0, guild.icon.as_deref(), ICON_SIZE)?;
    if config.site.images == ImageMode::Link {
        return Some(url);
    }
    let fetched = match url::Url::parse(&url) {
        Ok(parsed) => bot
            .cdn_get(&parsed, MAX_IMAGE_BYTES)
            .await
            .map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    let copied = fetched.and_then(|bytes| {
        let extension = sniff::image_extension(&bytes).map_err(|e| e.to_string())?;
        Ok(data_uri(extension, &bytes))
    });
    copied
        .map_err(|error| {
            tracing::warn!(guild = %guild.id, %url, "community: the server's icon could not be copied, the landing page shows none: {error}");
        })
        .ok()
}

/// `data:image/<type>;base64,...` for an image of `extension` (as [`sniff`] names them).
fn data_uri(extension: &str, bytes: &[u8]) -> String {
    let mime = match extension {
        "jpg" => "jpeg",
        other => other,
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!("data:image/{mime};base64,{encoded}")
}

/// What a failed `GET /guilds/{id}` means for the person setting strife-gen up.
fn refusal(config: &Config, guild: Snowflake, error: DiscordError) -> CommunityError {
    let answer = match &error {
        DiscordError::Unauthorized { .. } => return CommunityError::BotTokenRefused { guild },
        DiscordError::Forbidden { message, .. } => message.clone(),
        DiscordError::Status {
            status: 404,
            message,
            ..
        } => message.clone(),
        _ => {
            return CommunityError::Discord {
                guild,
                source: error,
            }
        }
    };
    let with_roles = !config.community.roles.is_empty();
    CommunityError::BotNotInServer {
        guild,
        answer,
        roles: if with_roles { " and Manage Roles" } else { "" },
        invite: invite_url(config, guild, with_roles),
    }
}

/// The authorize URL that adds the bot to `guild` with the permissions it needs.
fn invite_url(config: &Config, guild: Snowflake, with_roles: bool) -> String {
    let permissions = match with_roles {
        true => CREATE_INSTANT_INVITE | MANAGE_ROLES,
        false => CREATE_INSTANT_INVITE,
    };
    let mut url = config.discord.authorize_url.url().clone();
    url.query_pairs_mut()
        .append_pair(
            "client_id",
            &config
                .discord
                .client_id
                .map_or_else(|| "<discord.client_id>".to_owned(), |id| id.to_string()),
        )
        .append_pair("scope", "bot")
        .append_pair("permissions", &permissions.to_string())
        .append_pair("guild_id", &guild.to_string())
        .append_pair("disable_guild_select", "true");
    url.to_string()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use fake_discord::{FakeDiscord, BOT_TOKEN};

    const GUILD: &str = "400000000000000001";

    fn config(discord: &FakeDiscord, extra: &str) -> Config {
        let text = format!(
            "[site]\ntitle = \"t\"\nbase_url = \"https://example.org/\"\n[discord]\nclient_id = \"{}\"\napi_base = \"{}\"\n[community]\nguild_id = \"{GUILD}\"\njoin = \"offer\"\n{extra}",
            fake_discord::CLIENT_ID,
            discord.api_base()
        );
        Config::from_toml(&text, Path::new("/srv/site/strife.toml")).unwrap()
    }

    fn secrets(token: &str) -> Secrets {
        Secrets::new(None, None).with_bot_token(token)
    }

    async fn check(config: &Config, token: &str) -> Result<Option<Community>, CommunityError> {
        Community::check(config, &secrets(token)).await
    }

    #[tokio::test]
    async fn the_server_is_fetched_once_with_the_bot_token() {
        let discord = FakeDiscord::start().await;
        discord.add_guild(GUILD, "Synth Club");
        let community = check(&config(&discord, ""), BOT_TOKEN).await.unwrap();
        assert_eq!(community.unwrap().guild.name, "Synth Club");
        assert_eq!(discord.count(&format!("/guilds/{GUILD}")), 1);
    }

    #[tokio::test]
    async fn nothing_is_asked_when_joining_is_not_offered() {
        let discord = FakeDiscord::start().await;
        let mut off = config(&discord, "");
        off.community = Default::default();
        // Without the offer no bot token is needed, even with a server configured.
        off.community.guild_id = Some(Snowflake(400));
        let none = Community::check(&off, &Secrets::new(None, None)).await;
        assert!(none.unwrap().is_none());
        assert!(discord.requests().is_empty());
    }

    #[tokio::test]
    async fn each_refusal_names_what_to_fix_and_never_the_token() {
        let discord = FakeDiscord::start().await;
        discord.add_guild(GUILD, "Synth Club");
        let plain = config(&discord, "");
        let missing = Community::check(&plain, &Secrets::new(None, None)).await;
        let missing = missing.unwrap_err();
        assert!(missing.to_string().contains(BOT_TOKEN_VAR) && missing.is_users_fault());

        let refused = check(&plain, "not-the-bot-token").await.unwrap_err();
        let shown = format!("{refused} {refused:?}");
        assert!(
            shown.contains(BOT_TOKEN_VAR) && refused.is_users_fault(),
            "{shown}"
        );
        assert!(!shown.contains("not-the-bot-token"), "{shown}");

        discord.remove_bot(GUILD);
        let with_roles = config(&discord, "roles = [\"500\"]\n");
        let absent = check(&with_roles, BOT_TOKEN).await.unwrap_err();
        let shown = format!("{absent} {absent:?}");
        assert!(absent.is_users_fault(), "{shown}");
        for part in [
            "the bot is not in server 400000000000000001",
            "Missing Access (code 50001)",
            "Create Instant Invite and Manage Roles",
            "scope=bot&permissions=268435457&guild_id=400000000000000001",
        ] {
            assert!(shown.contains(part), "{part}: {shown}");
        }
        assert!(!shown.contains(BOT_TOKEN), "{shown}");

        let mut unknown = config(&discord, "");
        unknown.community.guild_id = Some(Snowflake(1));
        let err = check(&unknown, BOT_TOKEN).await.unwrap_err().to_string();
        assert!(
            err.contains("Unknown Guild (code 10004)") && err.contains("permissions=1&"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn discord_down_is_the_runs_failure() {
        let discord = FakeDiscord::start().await;
        discord.add_guild(GUILD, "Synth Club");
        discord.fail_next(&format!("/guilds/{GUILD}"), 503, 100);
        let config = config(&discord, "");
        let err = check(&config, BOT_TOKEN).await.unwrap_err();
        assert!(!err.is_users_fault(), "{err}");
        assert!(err.to_string().contains("503"), "{err}");
    }
}
