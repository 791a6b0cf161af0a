//! Discord's objects as strife-gen reads them, plus the CDN rules that turn hashes into URLs.
//!
//! Only the fields a profile page can use are modelled; unknown fields are ignored so that Discord
//! adding a field never breaks a build. Identifiers are [`Snowflake`]s: they are validated to be
//! plain decimal numbers, which is what makes them safe to use in file paths.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Discord's epoch (2015-01-01T00:00:00Z) in milliseconds since the Unix epoch.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// A Discord id: a 64-bit number sent as a decimal string.
///
/// Parsing rejects anything that is not 1–20 ASCII digits, so a snowflake can be put into a path or a
/// URL as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Snowflake(pub u64);

impl Snowflake {
    /// Parses the decimal form; `None` for anything else (signs, spaces, non-ASCII digits, overflow).
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok().map(Snowflake)
    }

    /// Creation time encoded in the id, in milliseconds since the Unix epoch.
    pub fn timestamp_ms(self) -> u64 {
        (self.0 >> 22) + DISCORD_EPOCH_MS
    }
}

impl fmt::Display for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Snowflake {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Snowflake::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid snowflake {text:?}: expected a decimal id"))
        })
    }
}

/// `GET /users/@me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Snowflake,
    pub username: String,
    /// `"0"` for accounts migrated to unique usernames, four digits for legacy ones.
    #[serde(default = "migrated_discriminator")]
    pub discriminator: String,
    #[serde(default)]
    pub global_name: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
    #[serde(default)]
    pub banner: Option<String>,
    #[serde(default)]
    pub accent_color: Option<u32>,
    #[serde(default)]
    pub public_flags: u64,
    #[serde(default)]
    pub avatar_decoration_data: Option<AvatarDecoration>,
}

fn migrated_discriminator() -> String {
    "0".to_owned()
}

/// `avatar_decoration_data` of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvatarDecoration {
    pub asset: String,
    #[serde(default)]
    pub sku_id: Option<Snowflake>,
}

/// One entry of `GET /users/@me/connections`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub name: String,
    /// The service, e.g. `github`, `twitch`, `steam`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub verified: bool,
    /// 0: only the user can see it; 1: everyone.
    #[serde(default)]
    pub visibility: u8,
    #[serde(default)]
    pub revoked: bool,
}

/// One partial guild of `GET /users/@me/guilds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guild {
    pub id: Snowflake,
    pub name: String,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default)]
    pub owner: bool,
}

/// Everything fetched for one user in one refresh: what a profile page is rendered from.
///
/// `connections` and `guilds` are `None` when the user did not opt in to publishing them (or did
/// not grant the scope), so they were never fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub user: User,
    #[serde(default)]
    pub connections: Option<Vec<Connection>>,
    #[serde(default)]
    pub guilds: Option<Vec<Guild>>,
}
