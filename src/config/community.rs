//! Owns the `[community]` section and its rules: the community's Discord server, whether the
//! landing page offers to join it, and the roles a member gets. It must not talk to Discord:
//! the bot's calls are `crate::discord::bot`'s work.

use serde::Deserialize;

use super::SectionCheck;
use crate::discord::models::Snowflake;

/// `[community]` in strife.toml: the server a signed-in person may choose to join.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CommunityConfig {
    /// The community's server (its id: Developer Mode → right-click the server → Copy Server ID).
    pub(crate) guild_id: Option<Snowflake>,
    /// Whether the landing page offers to join it.
    pub(crate) join: JoinMode,
    /// Roles given to whoever joins through strife-gen (the bot needs Manage Roles).
    pub(crate) roles: Vec<Snowflake>,
    /// How many times a join (or a welcome message) that failed for a passing reason (Discord down, rate limited) is
    /// tried again, with the refresh's backoff.
    pub(crate) join_retries: u32,
    /// A template in the theme's `templates/` (plain text) sent once to each new member as a
    /// direct message from the bot.
    pub(crate) welcome_message: Option<String>,
}

impl Default for CommunityConfig {
    fn default() -> Self {
        CommunityConfig {
            guild_id: None,
            join: JoinMode::Off,
            roles: Vec::new(),
            join_retries: DEFAULT_JOIN_RETRIES,
            welcome_message: None,
        }
    }
}

/// `community.join_retries` by default.
const DEFAULT_JOIN_RETRIES: u32 = 3;
/// Past this many retries the backoff is days: a join that still fails needs a person.
const MAX_JOIN_RETRIES: u32 = 10;

/// `community.join`: nobody is ever added to a server without ticking the box for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum JoinMode {
    /// No offer; `guilds.join` is never requested.
    #[default]
    Off,
    /// The landing page offers "Join <server>", unticked.
    Offer,
}

impl CommunityConfig {
    /// The server to offer, when joining is offered at all.
    pub(crate) fn offered_guild(&self) -> Option<Snowflake> {
        match self.join {
            JoinMode::Offer => self.guild_id,
            JoinMode::Off => None,
        }
    }

    /// Rules a single field's type cannot express; `Err` names the key.
    pub(super) fn check(&self) -> SectionCheck {
        if self.join == JoinMode::Offer && self.guild_id.is_none() {
            return Err((
                "community.guild_id",
                "is needed with join = \"offer\": set it to your server's id".into(),
            ));
        }
        if !self.roles.is_empty() && self.guild_id.is_none() {
            return Err((
                "community.roles",
                "needs community.guild_id: roles belong to a server".into(),
            ));
        }
        if self.join_retries > MAX_JOIN_RETRIES {
            return Err((
                "community.join_retries",
                format!(
                    "is {}: at most {MAX_JOIN_RETRIES} (each retry waits twice as long as the one before)",
                    self.join_retries
                ),
            ));
        }
        self.check_welcome_message()
    }

    /// `welcome_message` names a file right in the theme's `templates/`, and the bot that sends
    /// it is there only with the offer.
    fn check_welcome_message(&self) -> SectionCheck {
        let Some(name) = &self.welcome_message else {
            return Ok(());
        };
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && !name.contains(['/', '\\'])
            && name != "..";
        if !plain {
            return Err((
                "community.welcome_message",
                format!("is {name:?}: name a file in the theme's templates/ folder, e.g. \"welcome.txt\""),
            ));
        }
        if self.join != JoinMode::Offer {
            return Err((
                "community.welcome_message",
                "needs community.join = \"offer\": the bot of the community's server sends it"
                    .into(),
            ));
        }
        Ok(())
    }
}
