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

// --- Display facts: names, CDN URLs, public connections (see `super::cdn`). ---

use super::cdn::{self, Cdn};

impl User {
    /// What Discord shows as the name: `global_name` when set and not blank, else `username`.
    pub fn display_name(&self) -> &str {
        match self.global_name.as_deref() {
            Some(name) if !name.trim().is_empty() => name,
            _ => &self.username,
        }
    }

    /// A legacy (not yet migrated) account still has a real discriminator.
    pub fn is_legacy(&self) -> bool {
        !matches!(self.discriminator.as_str(), "" | "0" | "0000")
    }

    /// `name` for migrated accounts, `name#1234` for legacy ones.
    pub fn handle(&self) -> String {
        if self.is_legacy() {
            format!("{}#{}", self.username, self.discriminator)
        } else {
            self.username.clone()
        }
    }

    /// The avatar as WebP (animated avatars as animated WebP), or Discord's default avatar
    /// (`embed/avatars/{index}.png`) when there is none or its hash is not a plain hash.
    pub fn avatar_url(&self, cdn: &Cdn, size: u16) -> String {
        if let Some(url) = cdn.image("avatars", self.id.0, self.avatar.as_deref(), size) {
            return url;
        }
        let index = if self.is_legacy() {
            self.discriminator.parse::<u64>().map_or(0, |d| d % 5)
        } else {
            (self.id.0 >> 22) % 6
        };
        cdn.url(&format!("embed/avatars/{index}.png"))
    }

    /// Whether the (usable) avatar is animated.
    pub fn has_animated_avatar(&self) -> bool {
        self.avatar
            .as_deref()
            .is_some_and(|h| cdn::is_safe_hash(h) && cdn::is_animated_hash(h))
    }

    /// The profile banner, if the user has one (and its hash is a plain hash).
    pub fn banner_url(&self, cdn: &Cdn, size: u16) -> Option<String> {
        cdn.image("banners", self.id.0, self.banner.as_deref(), size)
    }

    /// The avatar decoration (`avatar-decoration-presets/{asset}.png`), if any.
    pub fn avatar_decoration_url(&self, cdn: &Cdn) -> Option<String> {
        let asset = &self.avatar_decoration_data.as_ref()?.asset;
        cdn::is_safe_hash(asset).then(|| cdn.url(&format!("avatar-decoration-presets/{asset}.png")))
    }
}

impl Connection {
    /// Only connections the user made visible to everyone, verified and not revoked, are published.
    pub fn is_public(&self) -> bool {
        self.verified && !self.revoked && self.visibility == 1
    }

    /// Human name of the service (`GitHub`, `Twitch`, ...); the raw type for unknown services.
    pub fn service_label(&self) -> &str {
        cdn::service_label(&self.kind).unwrap_or(&self.kind)
    }

    /// Link to the account's public page, for services that have one and when the name/id is safe.
    pub fn profile_url(&self) -> Option<String> {
        cdn::connection_url(&self.kind, &self.id, &self.name)
    }
}

impl Guild {
    /// The server icon, if it has one (and its hash is a plain hash).
    pub fn icon_url(&self, cdn: &Cdn, size: u16) -> Option<String> {
        cdn.image("icons", self.id.0, self.icon.as_deref(), size)
    }
}

#[cfg(test)]
mod display_tests {
    use super::*;

    fn user(id: u64, discriminator: &str) -> User {
        User {
            id: Snowflake(id),
            username: "nelly".into(),
            discriminator: discriminator.into(),
            global_name: None,
            avatar: None,
            banner: None,
            accent_color: None,
            public_flags: 0,
            avatar_decoration_data: None,
        }
    }

    const ID: u64 = 80351110224678912;

    #[test]
    fn names_and_handles() {
        let mut u = user(ID, "0");
        assert_eq!(u.display_name(), "nelly");
        assert_eq!(u.handle(), "nelly");
        assert!(!u.is_legacy());
        u.global_name = Some("  ".into());
        assert_eq!(u.display_name(), "nelly");
        u.global_name = Some("Nelly ✨".into());
        assert_eq!(u.display_name(), "Nelly ✨");
        u.discriminator = "1337".into();
        assert!(u.is_legacy());
        assert_eq!(u.handle(), "nelly#1337");
        u.discriminator = "0000".into();
        assert!(!u.is_legacy());
        u.discriminator = String::new();
        assert!(!u.is_legacy());
    }

    #[test]
    fn default_avatars() {
        let cdn = Cdn::discord();
        let migrated = user(ID, "0");
        let index = (ID >> 22) % 6;
        assert_eq!(
            migrated.avatar_url(&cdn, 128),
            format!("https://cdn.discordapp.com/embed/avatars/{index}.png")
        );
        let legacy = user(ID, "1337");
        assert_eq!(
            legacy.avatar_url(&cdn, 128),
            "https://cdn.discordapp.com/embed/avatars/2.png"
        );
        assert!(!legacy.has_animated_avatar());
    }

    #[test]
    fn avatars_and_banners() {
        let cdn = Cdn::discord();
        let mut u = user(ID, "0");
        u.avatar = Some("8342729096ea3675442027381ff50dfe".into());
        assert_eq!(
            u.avatar_url(&cdn, 100),
            format!("https://cdn.discordapp.com/avatars/{ID}/8342729096ea3675442027381ff50dfe.webp?size=128")
        );
        assert!(!u.has_animated_avatar());
        u.avatar = Some("a_1269e74af4df7417b13759eae50c83dc".into());
        assert!(u.has_animated_avatar());
        assert_eq!(
            u.avatar_url(&cdn, 9000),
            format!(
                "https://cdn.discordapp.com/avatars/{ID}/a_1269e74af4df7417b13759eae50c83dc.webp?animated=true&size=4096"
            )
        );
        // A hostile hash falls back to the default avatar.
        u.avatar = Some("a_../../x\"><script>".into());
        assert!(!u.has_animated_avatar());
        assert!(u.avatar_url(&cdn, 64).contains("/embed/avatars/"));

        assert_eq!(u.banner_url(&cdn, 600), None);
        u.banner = Some("abc_123".into());
        assert_eq!(
            u.banner_url(&cdn, 600).unwrap(),
            format!("https://cdn.discordapp.com/banners/{ID}/abc_123.webp?size=1024")
        );
        u.banner = Some("abc/123".into());
        assert_eq!(u.banner_url(&cdn, 600), None);

        assert_eq!(u.avatar_decoration_url(&cdn), None);
        u.avatar_decoration_data = Some(AvatarDecoration {
            asset: "a_deco1".into(),
            sku_id: None,
        });
        assert_eq!(
            u.avatar_decoration_url(&cdn).unwrap(),
            "https://cdn.discordapp.com/avatar-decoration-presets/a_deco1.png"
        );
        u.avatar_decoration_data = Some(AvatarDecoration {
            asset: "x.png?".into(),
            sku_id: None,
        });
        assert_eq!(u.avatar_decoration_url(&cdn), None);
    }

    #[test]
    fn guild_icons() {
        let cdn = Cdn::discord();
        let mut g = Guild {
            id: Snowflake(42),
            name: "G".into(),
            icon: None,
            owner: false,
        };
        assert_eq!(g.icon_url(&cdn, 64), None);
        g.icon = Some("a_ff".into());
        assert_eq!(
            g.icon_url(&cdn, 64).unwrap(),
            "https://cdn.discordapp.com/icons/42/a_ff.webp?animated=true&size=64"
        );
        g.icon = Some("ff ff".into());
        assert_eq!(g.icon_url(&cdn, 64), None);
    }

    #[test]
    fn connections() {
        let mut c = Connection {
            id: "583231".into(),
            name: "octo cat".into(),
            kind: "github".into(),
            verified: true,
            visibility: 1,
            revoked: false,
        };
        assert!(c.is_public());
        assert_eq!(c.service_label(), "GitHub");
        assert_eq!(c.profile_url().unwrap(), "https://github.com/octo%20cat");
        c.visibility = 0;
        assert!(!c.is_public());
        c.visibility = 1;
        c.revoked = true;
        assert!(!c.is_public());
        c.revoked = false;
        c.verified = false;
        assert!(!c.is_public());
        c.kind = "somethingnew".into();
        assert_eq!(c.service_label(), "somethingnew");
        assert_eq!(c.profile_url(), None);
    }
}
