//! Owns the `[community]` section and its rules: the community's Discord server, whether the
//! landing page offers to join it, and the roles a member gets. It must not talk to Discord:
//! the bot's calls are `crate::discord::bot`'s work.

use serde::Deserialize;

use super::SectionCheck;
use crate::discord::models::Snowflake;

/// `[community]` in strife.toml: the server a signed-in person may choose to join.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CommunityConfig {
    /// The community's server (its id: Developer Mode → right-click the server → Copy Server ID).
    pub(crate) guild_id: Option<Snowflake>,
    /// Whether the landing page offers to join it.
    pub(crate) join: JoinMode,
    /// Roles given to whoever joins through strife-gen (the bot needs Manage Roles).
    pub(crate) roles: Vec<Snowflake>,
}

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
        Ok(())
    }
}
