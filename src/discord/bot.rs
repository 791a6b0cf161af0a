//! Owns the calls strife-gen makes as the application's bot (`Authorization: Bot <token>`): the
//! community's server, adding a member to it, and a direct message. It must not decide who joins
//! or store anything; `crate::community` does.
//!
//! The bot's requests go through the same client code as a user's (pacing, retries, errors that
//! name the route and never the token), on a [`DiscordClient`] of their own: Discord gives a bot
//! its own buckets and its own global limit of 50 requests a second, so the bot gets its own
//! rate limiter, in the background lane (nobody waits on it as they wait on a sign-in), and
//! neither slows the refresh down nor is slowed by it. Its buckets are keyed by the bot token's
//! fingerprint like every token's.

use std::fmt;

use serde::Deserialize;

use super::client::{
    describe_json_error, Call, CdnError, ClientOptions, Credential, DiscordClient, DiscordError,
};
use super::models::Snowflake;

/// The rate-limit key of `GET /guilds/{guild.id}`.
const GET_GUILD: &str = "GET /guilds/{guild.id}";
/// The rate-limit key of `PUT /guilds/{guild.id}/members/{user.id}`.
const ADD_MEMBER: &str = "PUT /guilds/{guild.id}/members/{user.id}";
/// The rate-limit key of `POST /users/@me/channels`.
const OPEN_DM: &str = "POST /users/@me/channels";
/// The rate-limit key of `POST /channels/{channel.id}/messages`.
const SEND_MESSAGE: &str = "POST /channels/{channel.id}/messages";

/// What `PUT /guilds/{id}/members/{user}` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// 201: they are a member now.
    Joined,
    /// 204: they were one already.
    AlreadyMember,
}

/// A direct-message channel, as `POST /users/@me/channels` answers it.
#[derive(Debug, Deserialize)]
struct DmChannel {
    id: Snowflake,
}

/// The application's bot token: kept out of every `Debug`, log line and error.
#[derive(Clone)]
pub(crate) struct BotToken(String);

impl BotToken {
    pub(crate) fn new(token: &str) -> Self {
        BotToken(token.trim().to_owned())
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BotToken(<redacted>)")
    }
}

/// A server as the bot sees it: what the landing page shows of it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct GuildInfo {
    pub(crate) id: Snowflake,
    pub(crate) name: String,
    /// The icon's hash, when it has one.
    #[serde(default)]
    pub(crate) icon: Option<String>,
}

/// The client for the bot's calls.
#[derive(Debug, Clone)]
pub(crate) struct BotClient {
    client: DiscordClient,
    token: BotToken,
}

impl BotClient {
    /// A bot client with its own connection pool and rate limiter (see the module
    /// documentation).
    pub(crate) fn new(options: ClientOptions, token: BotToken) -> Result<Self, DiscordError> {
        Ok(BotClient {
            client: DiscordClient::new(options)?,
            token,
        })
    }

    /// `GET /guilds/{id}`: answers only when the bot is in that server.
    pub(crate) async fn guild(&self, id: Snowflake) -> Result<GuildInfo, DiscordError> {
        let call = Call {
            key: GET_GUILD,
            method: reqwest::Method::GET,
            url: self.client.api_url(&["guilds".to_owned(), id.to_string()]),
            credential: Credential::Bot(&self.token.0),
            body: None,
        };
        let answer = self.client.send(&call).await?;
        serde_json::from_slice(&answer.body).map_err(|e| DiscordError::Decode {
            route: GET_GUILD.to_owned(),
            detail: describe_json_error("guild", &e),
        })
    }

    /// An image on Discord's CDN (the server's icon), through the bot's rate limiter; no token
    /// is sent (the CDN is public).
    pub(crate) async fn cdn_get(&self, url: &url::Url, limit: usize) -> Result<Vec<u8>, CdnError> {
        self.client.cdn_get(url, limit).await
    }

    /// `PUT /guilds/{guild}/members/{user}` with the user's access token (scope `guilds.join`),
    /// giving them `roles` when they join.
    pub(crate) async fn add_member(
        &self,
        guild: Snowflake,
        user: Snowflake,
        access_token: &str,
        roles: &[Snowflake],
    ) -> Result<Added, DiscordError> {
        let mut body = serde_json::json!({ "access_token": access_token });
        if !roles.is_empty() {
            let roles: Vec<String> = roles.iter().map(ToString::to_string).collect();
            body["roles"] = roles.into();
        }
        let segments = ["guilds", &guild.to_string(), "members", &user.to_string()];
        let call = Call {
            key: ADD_MEMBER,
            method: reqwest::Method::PUT,
            url: self.client.api_url(&segments),
            credential: Credential::Bot(&self.token.0),
            body: Some(body),
        };
        let answer = self.client.send(&call).await?;
        Ok(match answer.status {
            201 => Added::Joined,
            _ => Added::AlreadyMember,
        })
    }

    /// Sends `content` to `user` as a direct message: opens (or finds) the DM channel, then
    /// posts to it. A user who does not take messages from the server's members makes Discord
    /// answer 403 with code 50007.
    pub(crate) async fn send_dm(&self, user: Snowflake, content: &str) -> Result<(), DiscordError> {
        let open = Call {
            key: OPEN_DM,
            method: reqwest::Method::POST,
            url: self.client.api_url(&["users", "@me", "channels"]),
            credential: Credential::Bot(&self.token.0),
            body: Some(serde_json::json!({ "recipient_id": user.to_string() })),
        };
        let answer = self.client.send(&open).await?;
        let channel: DmChannel =
            serde_json::from_slice(&answer.body).map_err(|e| DiscordError::Decode {
                route: OPEN_DM.to_owned(),
                detail: describe_json_error("channel", &e),
            })?;
        let post = Call {
            key: SEND_MESSAGE,
            method: reqwest::Method::POST,
            url: self
                .client
                .api_url(&["channels", &channel.id.to_string(), "messages"]),
            credential: Credential::Bot(&self.token.0),
            body: Some(serde_json::json!({
                "content": content,
                // A welcome names the user; it must not ping @everyone or a role.
                "allowed_mentions": { "parse": [] },
            })),
        };
        self.client.send(&post).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use fake_discord::scripted::{FakeServer, Reply};

    fn bot(server: &FakeServer) -> BotClient {
        let options = ClientOptions {
            backoff_base: Duration::from_millis(1),
            ..ClientOptions::new(server.url("/api/v10"))
        };
        BotClient::new(options, BotToken::new("bot-T0KEN\n")).unwrap()
    }

    #[tokio::test]
    async fn the_guild_is_asked_for_with_the_bot_token() {
        let server = FakeServer::start(|_, _| {
            Reply::json(
                200,
                r#"{"id":"400","name":"Synth Club","icon":"abc","x":1}"#,
            )
        })
        .await;
        let guild = bot(&server).guild(Snowflake(400)).await.unwrap();
        assert_eq!(guild.name, "Synth Club");
        assert_eq!(guild.icon.as_deref(), Some("abc"));
        let requests = server.requests();
        assert_eq!(requests[0].path, "/api/v10/guilds/400");
        assert_eq!(requests[0].header("authorization"), Some("Bot bot-T0KEN"));
    }

    #[tokio::test]
    async fn errors_carry_discords_code_and_never_the_token() {
        let server = FakeServer::start(|_, index| match index {
            0 => Reply::json(403, r#"{"message":"Missing Access","code":50001}"#),
            _ => Reply::json(200, r#"{"id":"400"}"#),
        })
        .await;
        let client = bot(&server);
        let err = client.guild(Snowflake(400)).await.unwrap_err();
        assert!(
            matches!(
                err,
                DiscordError::Forbidden {
                    code: Some(50001),
                    ..
                }
            ),
            "{err:?}"
        );
        let undecodable = client.guild(Snowflake(400)).await.unwrap_err();
        for shown in [
            format!("{err} {err:?}"),
            format!("{undecodable} {undecodable:?} {client:?}"),
        ] {
            assert!(!shown.contains("T0KEN"), "{shown}");
        }
        assert!(matches!(undecodable, DiscordError::Decode { .. }));
    }
}
