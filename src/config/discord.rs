//! `[discord]`: the application's id, redirect URI, offered scopes, endpoints and webhook public
//! key. Only the section and its rules: talking to Discord is `crate::discord`'s work.

use std::fmt;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Deserializer};
use url::Url;

use super::{HttpUrl, SectionCheck};
use crate::discord::models::Snowflake;
use crate::discord::scope::Scope;

/// `[discord]` in strife.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// The application's id; needed by `serve` and by `build` without `--offline`.
    pub(crate) client_id: Option<Snowflake>,
    pub(crate) redirect_uri: Option<HttpUrl>,
    /// The scopes this deployment offers; users choose among them on the consent page.
    pub(crate) scopes: Vec<Scope>,
    pub api_base: HttpUrl,
    pub(crate) authorize_url: HttpUrl,
    pub(crate) cdn_base: HttpUrl,
    /// The application's Ed25519 key, for verifying Discord's webhook events.
    pub(crate) public_key: Option<PublicKey>,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            client_id: None,
            redirect_uri: None,
            scopes: Scope::ALL.to_vec(),
            api_base: HttpUrl::fixed("https://discord.com/api/v10"),
            authorize_url: HttpUrl::fixed("https://discord.com/oauth2/authorize"),
            cdn_base: HttpUrl::fixed("https://cdn.discordapp.com"),
            public_key: None,
        }
    }
}

impl DiscordConfig {
    /// `{api_base}/oauth2/token`.
    pub(crate) fn token_url(&self) -> Url {
        self.api_base.join_path("oauth2/token")
    }

    /// `{api_base}/oauth2/token/revoke`.
    pub(crate) fn revoke_url(&self) -> Url {
        self.api_base.join_path("oauth2/token/revoke")
    }

    /// Whether this deployment offers `scope`.
    pub(crate) fn offers(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Rules a single field's type cannot express; `Err` names the key.
    pub(super) fn check(&self) -> SectionCheck {
        if !self.offers(Scope::Identify) {
            return Err((
                "discord.scopes",
                "must include \"identify\": a profile page needs the user".into(),
            ));
        }
        if self.offers(Scope::GuildsJoin) {
            return Err((
                "discord.scopes",
                "must not list \"guilds.join\": it is asked for only from those who tick \"Join\" on the landing page, with community.join = \"offer\"".into(),
            ));
        }
        Ok(())
    }
}

/// `discord.public_key`: the application's Ed25519 public key, parsed (and checked to be a point
/// on the curve) when the config is read, so `serve` never meets a key it cannot use.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses the hex form the Developer Portal shows; `Err` says what is wrong with it.
    pub(crate) fn parse(hex_key: &str) -> Result<PublicKey, &'static str> {
        let bytes: [u8; 32] = hex::decode(hex_key)
            .ok()
            .filter(|_| hex_key.len() == 64)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or("must be 64 hex characters")?;
        VerifyingKey::from_bytes(&bytes).map(PublicKey).map_err(|_| {
            "is not a valid Ed25519 public key (copy it from the Developer Portal's General Information page)"
        })
    }

    /// The key, for checking signatures.
    pub(crate) fn verifying_key(&self) -> VerifyingKey {
        self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.0.as_bytes()))
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PublicKey::parse(&text)
            .map_err(|problem| serde::de::Error::custom(format!("`discord.public_key` {problem}")))
    }
}
