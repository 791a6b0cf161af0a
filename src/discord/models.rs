//! Owns Discord's objects as strife-gen reads them, and the Snowflake id type.
//! It must not know about pages, the store or HTTP.
//!
//! Discord's objects as strife-gen reads them, plus the CDN rules that turn hashes into URLs.
//!
//! Only the fields a profile page can use are modelled; unknown fields are ignored so that Discord
//! adding a field never breaks a build, and a field that does not parse loses only that detail
//! ([`super::lenient`] has the rules; the wire forms below apply them). Identifiers are [`Snowflake`]s: they are validated to be
//! plain decimal numbers, which is what makes them safe to use in file paths.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::lenient::{self, Document, Dropped, Expected, Field, Fields, FromWire, Unusable};

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
    pub(crate) fn timestamp_ms(self) -> u64 {
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
///
/// Decoded leniently (see [`super::lenient`]): only `id` and `username` must be usable; any other
/// field Discord sends in an unusable shape is left at its default and reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct User {
    pub(crate) id: Snowflake,
    /// Never blank.
    pub(crate) username: String,
    /// `"0"` for accounts migrated to unique usernames, four digits for legacy ones.
    pub(crate) discriminator: String,
    pub(crate) global_name: Option<String>,
    pub(crate) avatar: Option<String>,
    pub(crate) banner: Option<String>,
    /// `0xRRGGBB`: never more than 24 bits.
    pub(crate) accent_color: Option<u32>,
    pub(crate) public_flags: u64,
    pub(crate) avatar_decoration_data: Option<AvatarDecoration>,
    /// The server tag the user wears; shown only when `identity_enabled`.
    pub(crate) primary_guild: Option<PrimaryGuild>,
    /// Profile collectibles (today only the nameplate).
    pub(crate) collectibles: Option<Collectibles>,
}

fn migrated_discriminator() -> String {
    "0".to_owned()
}

/// `avatar_decoration_data` of a user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AvatarDecoration {
    pub(crate) asset: String,
    pub(crate) sku_id: Option<Snowflake>,
}

/// `primary_guild` of a user: the server tag shown beside their name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PrimaryGuild {
    pub(crate) identity_guild_id: Option<Snowflake>,
    /// Whether the user chose to show the tag: when false it is never published.
    pub(crate) identity_enabled: bool,
    /// Up to four characters, typed by the server's owner.
    pub(crate) tag: Option<String>,
    /// Hash of the tag's badge image.
    pub(crate) badge: Option<String>,
}

/// `collectibles` of a user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Collectibles {
    pub(crate) nameplate: Option<Nameplate>,
}

/// `collectibles.nameplate`: the picture behind the name block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Nameplate {
    /// A path such as `nameplates/nameplates/twilight/` (the CDN URL is best effort, see `cdn`).
    pub(crate) asset: String,
    pub(crate) sku_id: Option<Snowflake>,
    /// What the nameplate is called, e.g. `Twilight`.
    pub(crate) label: Option<String>,
    /// A named colour (`crimson`, `berry`, ...): the fallback when the image is missing.
    pub(crate) palette: Option<String>,
}

/// One entry of `GET /users/@me/connections`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connection {
    /// The account's id on the service; empty when Discord sent none that is usable.
    pub(crate) id: String,
    /// Never blank.
    pub(crate) name: String,
    /// The service, e.g. `github`, `twitch`, `steam`; never blank.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) verified: bool,
    /// 0: only the user can see it; 1: everyone.
    pub(crate) visibility: u8,
    pub(crate) revoked: bool,
}

/// One partial guild of `GET /users/@me/guilds`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Guild {
    pub(crate) id: Snowflake,
    /// Never blank.
    pub(crate) name: String,
    pub(crate) icon: Option<String>,
    pub(crate) banner: Option<String>,
    pub(crate) owner: bool,
    /// From `with_counts=true`.
    pub(crate) approximate_member_count: Option<u64>,
}

/// Everything fetched for one user in one refresh: what a profile page is rendered from.
///
/// `connections` and `guilds` are `None` when the user did not opt in to publishing them (or did
/// not grant the scope), so they were never fetched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub(crate) user: User,
    /// `GET /users/@me/connections`, when the user opted in to publishing them.
    pub connections: Option<Vec<Connection>>,
    pub(crate) guilds: Option<Vec<Guild>>,
}

// --- Lenient decoding: the wire forms of the models (see `super::lenient`). ---
//
// Each model has a wire struct with the same fields as `Field`s, and the rules of what may be left
// out live in its `into_model`. A new model field goes into both.

/// Deserializing a user or a snapshot follows the lenient rules, but forgets what was left out:
/// shipped code decodes with [`super::lenient::decode`], which reports it.
impl<'de> Deserialize<'de> for User {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        lenient::deserialize(deserializer)
    }
}

impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        lenient::deserialize(deserializer)
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireUser {
    id: Field<Snowflake>,
    username: Field<String>,
    discriminator: Field<String>,
    global_name: Field<Option<String>>,
    avatar: Field<Option<String>>,
    banner: Field<Option<String>>,
    accent_color: Field<Option<u32>>,
    public_flags: Field<u64>,
    avatar_decoration_data: Field<Option<WireAvatarDecoration>>,
    primary_guild: Field<Option<WirePrimaryGuild>>,
    collectibles: Field<Option<WireCollectibles>>,
}

impl Expected for WireUser {}

impl FromWire for WireUser {
    type Model = User;

    fn into_model(self, fields: &mut Fields<'_>) -> Result<User, Unusable> {
        Ok(User {
            id: fields.required("id", self.id)?,
            username: fields.required("username", not_blank(self.username))?,
            discriminator: fields.or(
                "discriminator",
                self.discriminator.check(
                    |d| (1..=4).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()),
                    "a string that is not 1 to 4 digits",
                ),
                migrated_discriminator(),
            ),
            global_name: fields.optional("global_name", self.global_name),
            avatar: fields.optional("avatar", self.avatar),
            banner: fields.optional("banner", self.banner),
            accent_color: fields.optional(
                "accent_color",
                self.accent_color.check(
                    |c| c.is_none_or(|c| c <= 0x00ff_ffff),
                    "a number out of range",
                ),
            ),
            public_flags: fields.or_default("public_flags", self.public_flags),
            avatar_decoration_data: fields
                .nested("avatar_decoration_data", self.avatar_decoration_data),
            primary_guild: fields.nested("primary_guild", self.primary_guild),
            collectibles: fields.nested("collectibles", self.collectibles),
        })
    }
}

impl Document for User {
    type Wire = WireUser;

    fn from_wire(wire: WireUser, dropped: &mut Vec<Dropped>) -> Result<User, Unusable> {
        wire.into_model(&mut Fields::new("user", None, dropped))
            .map_err(|unusable| Unusable {
                path: format!("user.{}", unusable.path),
                found: unusable.found,
            })
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireAvatarDecoration {
    asset: Field<String>,
    sku_id: Field<Option<Snowflake>>,
}

impl Expected for WireAvatarDecoration {}

impl FromWire for WireAvatarDecoration {
    type Model = AvatarDecoration;

    fn into_model(self, fields: &mut Fields<'_>) -> Result<AvatarDecoration, Unusable> {
        Ok(AvatarDecoration {
            asset: fields.required("asset", not_blank(self.asset))?,
            sku_id: fields.optional("sku_id", self.sku_id),
        })
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct WirePrimaryGuild {
    identity_guild_id: Field<Option<Snowflake>>,
    identity_enabled: Field<Option<bool>>,
    tag: Field<Option<String>>,
    badge: Field<Option<String>>,
}

impl Expected for WirePrimaryGuild {}

impl FromWire for WirePrimaryGuild {
    type Model = PrimaryGuild;

    /// Whether the tag may be shown is never guessed: an unreadable `identity_enabled` counts as
    /// off (Discord sends `null` for users who never picked a tag).
    fn into_model(self, fields: &mut Fields<'_>) -> Result<PrimaryGuild, Unusable> {
        Ok(PrimaryGuild {
            identity_guild_id: fields.optional("identity_guild_id", self.identity_guild_id),
            identity_enabled: fields
                .optional("identity_enabled", self.identity_enabled)
                .unwrap_or(false),
            tag: fields.optional("tag", not_blank_option(self.tag)),
            badge: fields.optional("badge", self.badge),
        })
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireCollectibles {
    nameplate: Field<Option<WireNameplate>>,
}

impl Expected for WireCollectibles {}

impl FromWire for WireCollectibles {
    type Model = Collectibles;

    fn into_model(self, fields: &mut Fields<'_>) -> Result<Collectibles, Unusable> {
        Ok(Collectibles {
            nameplate: fields.nested("nameplate", self.nameplate),
        })
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireNameplate {
    asset: Field<String>,
    sku_id: Field<Option<Snowflake>>,
    label: Field<Option<String>>,
    palette: Field<Option<String>>,
}

impl Expected for WireNameplate {}

impl FromWire for WireNameplate {
    type Model = Nameplate;

    fn into_model(self, fields: &mut Fields<'_>) -> Result<Nameplate, Unusable> {
        Ok(Nameplate {
            asset: fields.required("asset", not_blank(self.asset))?,
            sku_id: fields.optional("sku_id", self.sku_id),
            label: fields.optional("label", not_blank_option(self.label)),
            palette: fields.optional("palette", self.palette),
        })
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireConnection {
    id: Field<String>,
    name: Field<String>,
    #[serde(rename = "type")]
    kind: Field<String>,
    verified: Field<bool>,
    visibility: Field<u8>,
    revoked: Field<bool>,
}

impl Expected for WireConnection {}

impl FromWire for WireConnection {
    type Model = Connection;

    /// The name and the service are what is shown: without them the entry is left out. So is an
    /// entry whose `verified`, `visibility` or `revoked` is unreadable: whether a connection may
    /// be published is never guessed.
    fn into_model(self, fields: &mut Fields<'_>) -> Result<Connection, Unusable> {
        Ok(Connection {
            id: fields.or_default("id", self.id),
            name: fields.required("name", not_blank(self.name))?,
            kind: fields.required("type", not_blank(self.kind))?,
            verified: fields.required_if_present("verified", self.verified, false)?,
            visibility: fields.required_if_present("visibility", self.visibility, 0)?,
            revoked: fields.required_if_present("revoked", self.revoked, false)?,
        })
    }
}

impl Document for Vec<Connection> {
    type Wire = Vec<Field<WireConnection>>;

    fn from_wire(wire: Self::Wire, dropped: &mut Vec<Dropped>) -> Result<Self, Unusable> {
        Ok(lenient::entries("connections", wire, dropped))
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireGuild {
    id: Field<Snowflake>,
    name: Field<String>,
    icon: Field<Option<String>>,
    banner: Field<Option<String>>,
    owner: Field<bool>,
    approximate_member_count: Field<Option<u64>>,
}

impl Expected for WireGuild {}

impl FromWire for WireGuild {
    type Model = Guild;

    fn into_model(self, fields: &mut Fields<'_>) -> Result<Guild, Unusable> {
        Ok(Guild {
            id: fields.required("id", self.id)?,
            name: fields.required("name", not_blank(self.name))?,
            icon: fields.optional("icon", self.icon),
            banner: fields.optional("banner", self.banner),
            owner: fields.or_default("owner", self.owner),
            approximate_member_count: fields
                .optional("approximate_member_count", self.approximate_member_count),
        })
    }
}

impl Document for Vec<Guild> {
    type Wire = Vec<Field<WireGuild>>;

    fn from_wire(wire: Self::Wire, dropped: &mut Vec<Dropped>) -> Result<Self, Unusable> {
        Ok(lenient::entries("guilds", wire, dropped))
    }
}

/// A stored snapshot or sample user: `{"user": {..}, "connections": [..], "guilds": [..]}`.
#[derive(Deserialize)]
pub(crate) struct WireSnapshot {
    user: WireUser,
    #[serde(default)]
    connections: Field<Option<Vec<Field<WireConnection>>>>,
    #[serde(default)]
    guilds: Field<Option<Vec<Field<WireGuild>>>>,
}

impl Document for Snapshot {
    type Wire = WireSnapshot;

    fn from_wire(wire: WireSnapshot, dropped: &mut Vec<Dropped>) -> Result<Snapshot, Unusable> {
        Ok(Snapshot {
            user: User::from_wire(wire.user, dropped)?,
            connections: lenient::optional_list("connections", wire.connections, dropped),
            guilds: lenient::optional_list("guilds", wire.guilds, dropped),
        })
    }
}

/// A string that must say something: blank ones are unusable.
fn not_blank(field: Field<String>) -> Field<String> {
    field.check(|text| !text.trim().is_empty(), "a blank string")
}

/// [`not_blank`] for a string that may be null.
fn not_blank_option(field: Field<Option<String>>) -> Field<Option<String>> {
    field.check(
        |text| text.as_ref().is_none_or(|t| !t.trim().is_empty()),
        "a blank string",
    )
}

// --- Display facts: names, CDN URLs, public connections (see `super::cdn`). ---

use super::cdn::{self, Cdn};

impl User {
    /// What Discord shows as the name: `global_name` when set and not blank, else `username`.
    pub(crate) fn display_name(&self) -> &str {
        match self.global_name.as_deref() {
            Some(name) if !name.trim().is_empty() => name,
            _ => &self.username,
        }
    }

    /// A legacy (not yet migrated) account still has a real discriminator.
    pub(crate) fn is_legacy(&self) -> bool {
        !matches!(self.discriminator.as_str(), "" | "0" | "0000")
    }

    /// `name` for migrated accounts, `name#1234` for legacy ones.
    pub(crate) fn handle(&self) -> String {
        if self.is_legacy() {
            format!("{}#{}", self.username, self.discriminator)
        } else {
            self.username.clone()
        }
    }

    /// The avatar as WebP (animated avatars as animated WebP), or Discord's default avatar
    /// (`embed/avatars/{index}.png`) when there is none or its hash is not a plain hash.
    pub(crate) fn avatar_url(&self, cdn: &Cdn, size: u16) -> String {
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
    pub(crate) fn has_animated_avatar(&self) -> bool {
        self.avatar
            .as_deref()
            .is_some_and(|h| cdn::is_safe_hash(h) && cdn::is_animated_hash(h))
    }

    /// The profile banner, if the user has one (and its hash is a plain hash).
    pub(crate) fn banner_url(&self, cdn: &Cdn, size: u16) -> Option<String> {
        cdn.image("banners", self.id.0, self.banner.as_deref(), size)
    }

    /// The server tag the user chose to show: only when `identity_enabled` and it has text.
    pub(crate) fn shown_tag(&self) -> Option<&PrimaryGuild> {
        self.primary_guild
            .as_ref()
            .filter(|tag| tag.identity_enabled && tag.tag.is_some())
    }

    /// The nameplate, when the user has one.
    pub(crate) fn nameplate(&self) -> Option<&Nameplate> {
        self.collectibles.as_ref()?.nameplate.as_ref()
    }
}

impl PrimaryGuild {
    /// The tag's badge image, when the server and badge are known and look safe.
    pub(crate) fn badge_url(&self, cdn: &Cdn) -> Option<String> {
        cdn.tag_badge(self.identity_guild_id?.0, self.badge.as_deref()?)
    }
}

impl Connection {
    /// Only connections the user made visible to everyone, verified and not revoked, are published.
    pub(crate) fn is_public(&self) -> bool {
        self.verified && !self.revoked && self.visibility == 1
    }

    /// Human name of the service (`GitHub`, `Twitch`, ...); the raw type for unknown services.
    pub(crate) fn service_label(&self) -> &str {
        cdn::service_label(&self.kind).unwrap_or(&self.kind)
    }

    /// Link to the account's public page, for services that have one and when the name/id is safe.
    pub(crate) fn profile_url(&self) -> Option<String> {
        cdn::connection_url(&self.kind, &self.id, &self.name)
    }
}

impl Guild {
    /// The server icon, if it has one (and its hash is a plain hash).
    pub(crate) fn icon_url(&self, cdn: &Cdn, size: u16) -> Option<String> {
        cdn.image("icons", self.id.0, self.icon.as_deref(), size)
    }

    /// The server banner, if it has one (guild banners live beside user banners).
    pub(crate) fn banner_url(&self, cdn: &Cdn, size: u16) -> Option<String> {
        cdn.image("banners", self.id.0, self.banner.as_deref(), size)
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
            primary_guild: None,
            collectibles: None,
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
    }

    #[test]
    fn guild_icons() {
        let cdn = Cdn::discord();
        let mut g = Guild {
            id: Snowflake(42),
            name: "G".into(),
            icon: None,
            banner: None,
            owner: false,
            approximate_member_count: None,
        };
        assert_eq!(g.icon_url(&cdn, 64), None);
        assert_eq!(g.banner_url(&cdn, 600), None);
        g.banner = Some("bb".into());
        assert_eq!(
            g.banner_url(&cdn, 600).unwrap(),
            "https://cdn.discordapp.com/banners/42/bb.webp?size=1024"
        );
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

#[cfg(test)]
mod lenient_tests {
    use serde_json::json;

    use super::*;
    use crate::discord::lenient::{decode, DecodeError};

    fn user(fields: serde_json::Value) -> lenient::Decoded<User> {
        let mut object = json!({"id": "80351110224678912", "username": "nelly"});
        if let (Some(object), serde_json::Value::Object(fields)) = (object.as_object_mut(), fields)
        {
            object.extend(fields);
        }
        decode::<User>(object.to_string().as_bytes()).unwrap()
    }

    fn dropped_paths<T>(decoded: &lenient::Decoded<T>) -> Vec<String> {
        decoded.dropped.iter().map(Dropped::path).collect()
    }

    #[test]
    fn a_clean_user_loses_nothing_and_unknown_fields_are_ignored() {
        let decoded = user(json!({
            "discriminator": "1337", "global_name": "Nelly", "avatar": "a_1", "banner": null,
            "accent_color": 0x00ff_ffff, "public_flags": u64::MAX,
            "avatar_decoration_data": {"asset": "deco", "sku_id": "42"},
            "primary_guild": {"identity_guild_id": "7", "identity_enabled": true, "tag": "ABC", "badge": "beef"},
            "collectibles": {"nameplate": {"asset": "nameplates/x/", "sku_id": "9", "label": "X", "palette": "sky"}},
            "premium_type": 2,
        }));
        assert!(decoded.dropped.is_empty(), "{:?}", decoded.dropped);
        let u = decoded.value;
        assert_eq!(u.discriminator, "1337");
        assert_eq!(u.accent_color, Some(0x00ff_ffff));
        assert_eq!(u.public_flags, u64::MAX);
        assert_eq!(
            u.avatar_decoration_data,
            Some(AvatarDecoration {
                asset: "deco".into(),
                sku_id: Some(Snowflake(42))
            })
        );
        assert_eq!(u.shown_tag().and_then(|t| t.tag.as_deref()), Some("ABC"));
        assert_eq!(
            u.nameplate().map(|n| n.asset.as_str()),
            Some("nameplates/x/")
        );
        // Absent optional fields are defaults, silently.
        let decoded = user(json!({}));
        assert!(decoded.dropped.is_empty());
        assert_eq!(decoded.value.discriminator, "0");
        assert_eq!(decoded.value.public_flags, 0);
    }

    #[test]
    fn each_odd_user_field_is_left_out_alone() {
        for (field, value) in [
            ("accent_color", json!(-1)),
            ("accent_color", json!(1u64 << 40)),
            ("accent_color", json!(0x0100_0000)),
            ("accent_color", json!("#ff0000")),
            ("accent_color", json!(1.5)),
            ("public_flags", json!(-4)),
            ("public_flags", json!("lots")),
            ("public_flags", json!(null)),
            ("discriminator", json!(1337)),
            ("discriminator", json!("12345")),
            ("discriminator", json!("<b>")),
            ("global_name", json!(["Nelly"])),
            ("avatar", json!(7)),
            ("banner", json!({"hash": "x"})),
            ("avatar_decoration_data", json!("sparkles")),
            ("primary_guild", json!(7)),
            ("collectibles", json!("shiny")),
        ] {
            let mut fields = serde_json::Map::new();
            fields.insert(field.to_owned(), value.clone());
            fields.insert("a_field_from_the_future".to_owned(), json!(1));
            let decoded = user(serde_json::Value::Object(fields));
            assert_eq!(
                dropped_paths(&decoded),
                [format!("user.{field}")],
                "{field}: {value}"
            );
            let u = decoded.value;
            assert_eq!(u.username, "nelly", "the rest is kept");
            assert_eq!(u.accent_color, None);
            assert_eq!(u.public_flags, 0);
            assert_eq!(u.discriminator, "0");
        }
        // 2^64 is past u64 (serde_json reads it as a float).
        let decoded = decode::<User>(
            br#"{"id": "1", "username": "n", "public_flags": 18446744073709551616}"#,
        )
        .unwrap();
        assert_eq!(dropped_paths(&decoded), ["user.public_flags"]);
    }

    #[test]
    fn a_nested_object_without_what_it_needs_is_left_out() {
        let decoded = user(json!({"avatar_decoration_data": {"asset": null, "sku_id": "1"}}));
        assert_eq!(decoded.value.avatar_decoration_data, None);
        assert_eq!(
            dropped_paths(&decoded),
            ["user.avatar_decoration_data.asset"]
        );
        assert_eq!(decoded.dropped[0].found, "null");
        let decoded = user(json!({"avatar_decoration_data": {"asset": "deco", "sku_id": "x"}}));
        assert_eq!(
            decoded.value.avatar_decoration_data,
            Some(AvatarDecoration {
                asset: "deco".into(),
                sku_id: None
            })
        );
        assert_eq!(
            dropped_paths(&decoded),
            ["user.avatar_decoration_data.sku_id"]
        );
    }

    #[test]
    fn a_server_tag_is_shown_only_when_enabled_and_odd_parts_are_left_out() {
        let tag = |fields: serde_json::Value| user(json!({ "primary_guild": fields }));
        let hidden =
            tag(json!({"identity_guild_id": "7", "identity_enabled": false, "tag": "ABC"}));
        assert!(hidden.dropped.is_empty());
        assert_eq!(hidden.value.shown_tag(), None);
        let never_chosen = tag(
            json!({"identity_guild_id": null, "identity_enabled": null, "tag": null, "badge": null}),
        );
        assert!(never_chosen.dropped.is_empty());
        assert_eq!(never_chosen.value.shown_tag(), None);
        let odd = tag(
            json!({"identity_guild_id": "x", "identity_enabled": "yes", "tag": "ABC", "badge": 3}),
        );
        assert_eq!(
            dropped_paths(&odd),
            [
                "user.primary_guild.identity_guild_id",
                "user.primary_guild.identity_enabled",
                "user.primary_guild.badge"
            ]
        );
        assert_eq!(odd.value.shown_tag(), None, "an unreadable switch is off");
        let plate = user(json!({"collectibles": {"nameplate": {"asset": "", "palette": "sky"}}}));
        assert_eq!(dropped_paths(&plate), ["user.collectibles.nameplate.asset"]);
        assert_eq!(plate.value.nameplate(), None);
    }

    #[test]
    fn a_user_without_a_usable_id_or_username_is_not_a_profile() {
        for (json, path, found) in [
            (r#"{"username": "n"}"#, "user.id", "missing"),
            (
                r#"{"id": "-1", "username": "n"}"#,
                "user.id",
                "a string that is not a decimal id",
            ),
            (r#"{"id": 1, "username": "n"}"#, "user.id", "a number"),
            (r#"{"id": "1"}"#, "user.username", "missing"),
            (r#"{"id": "1", "username": null}"#, "user.username", "null"),
            (
                r#"{"id": "1", "username": " "}"#,
                "user.username",
                "a blank string",
            ),
        ] {
            let error = decode::<User>(json.as_bytes()).unwrap_err();
            assert_eq!(
                error,
                DecodeError::NotAProfile {
                    path: path.into(),
                    found
                },
                "{json}"
            );
            assert!(error.to_string().contains(&format!("`{path}`")), "{error}");
        }
        assert!(matches!(
            decode::<User>(br#""nelly""#).unwrap_err(),
            DecodeError::Shape(_)
        ));
    }

    #[test]
    fn connections_lose_odd_fields_or_whole_entries() {
        let json = json!([
            {"id": "1", "name": "ok", "type": "github", "verified": true, "visibility": 1},
            {"id": "2", "name": null, "type": "github", "verified": true, "visibility": 1},
            {"id": "3", "name": "no type", "verified": true, "visibility": 1},
            {"id": "4", "name": "blank type", "type": "", "verified": true, "visibility": 1},
            {"id": 5, "name": "numeric id", "type": "steam", "verified": true, "visibility": 1},
            {"id": "6", "name": "odd visibility", "type": "x", "verified": true, "visibility": "1"},
            {"id": "7", "name": "odd revoked", "type": "x", "verified": true, "visibility": 1, "revoked": "no"},
            {"id": "8", "name": "minimal", "type": "twitch"},
            "not an object",
        ]);
        let decoded = decode::<Vec<Connection>>(json.to_string().as_bytes()).unwrap();
        let names: Vec<&str> = decoded.value.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ok", "numeric id", "minimal"]);
        assert_eq!(decoded.value[1].id, "", "an unusable id is absent");
        assert!(decoded.value[0].is_public());
        assert!(
            !decoded.value[2].is_public(),
            "missing gates default to private"
        );
        assert_eq!(
            dropped_paths(&decoded),
            [
                "connections[1].name",
                "connections[2].type",
                "connections[3].type",
                "connections[4].id",
                "connections[5].visibility",
                "connections[6].revoked",
                "connections[8]",
            ]
        );
        let left_out: Vec<bool> = decoded.dropped.iter().map(|d| d.entry_left_out).collect();
        assert_eq!(left_out, [true, true, true, false, true, true, true]);
    }

    #[test]
    fn guilds_lose_odd_fields_or_whole_entries() {
        let json = json!([
            {"id": "not-a-snowflake", "name": "bad id"},
            {"id": "2", "name": null},
            {"id": "3", "name": "odd icon and owner", "icon": 12, "owner": "yes"},
            {"id": "4", "name": "fine", "icon": "abc", "banner": "bb", "owner": true, "permissions": "8", "features": [], "approximate_member_count": 1234},
        ]);
        let decoded = decode::<Vec<Guild>>(json.to_string().as_bytes()).unwrap();
        assert_eq!(
            decoded.value,
            [
                Guild {
                    id: Snowflake(3),
                    name: "odd icon and owner".into(),
                    icon: None,
                    banner: None,
                    owner: false,
                    approximate_member_count: None,
                },
                Guild {
                    id: Snowflake(4),
                    name: "fine".into(),
                    icon: Some("abc".into()),
                    banner: Some("bb".into()),
                    owner: true,
                    approximate_member_count: Some(1234),
                },
            ]
        );
        assert_eq!(
            dropped_paths(&decoded),
            [
                "guilds[0].id",
                "guilds[1].name",
                "guilds[2].icon",
                "guilds[2].owner"
            ]
        );
    }

    #[test]
    fn snapshots_round_trip_and_decode_with_the_same_rules() {
        let snapshot = crate::site::fixtures::snapshot(80351110224678912, "Nelly");
        let stored = serde_json::to_string(&snapshot).unwrap();
        let decoded = decode::<Snapshot>(stored.as_bytes()).unwrap();
        assert_eq!(decoded.value, snapshot);
        assert!(decoded.dropped.is_empty());

        let odd = json!({
            "user": {"id": "1", "username": "n", "accent_color": -1},
            "connections": "not a list",
            "guilds": [{"id": "x", "name": "g"}, {"id": "2", "name": "ok"}],
        });
        let decoded = decode::<Snapshot>(odd.to_string().as_bytes()).unwrap();
        assert_eq!(decoded.value.connections, None);
        assert_eq!(decoded.value.guilds.as_ref().map(Vec::len), Some(1));
        assert_eq!(
            dropped_paths(&decoded),
            ["user.accent_color", "connections", "guilds[0].id"]
        );
        // `serde::Deserialize` applies the same rules (and forgets what was left out).
        let direct: Snapshot = serde_json::from_value(odd).unwrap();
        assert_eq!(direct, decoded.value);

        let none = decode::<Snapshot>(br#"{"user": {"id": "1", "username": "n"}, "guilds": null}"#)
            .unwrap();
        assert_eq!((none.value.connections, none.value.guilds), (None, None));
        assert!(none.dropped.is_empty());
        let error = decode::<Snapshot>(br#"{"user": {"id": "1"}}"#).unwrap_err();
        assert!(error.to_string().contains("`user.username`"), "{error}");
        assert!(matches!(
            decode::<Snapshot>(br#"{"connections": []}"#).unwrap_err(),
            DecodeError::Shape(_)
        ));
    }
}
