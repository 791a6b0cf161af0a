//! Owns the calls strife-gen makes as the application's bot (`Authorization: Bot <token>`): the
//! community's server. It must not decide who joins or store anything; `crate::community` does.
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
    describe_json_error, Call, ClientOptions, Credential, DiscordClient, DiscordError,
};
use super::models::Snowflake;

/// The rate-limit key of `GET /guilds/{guild.id}`.
const GET_GUILD: &str = "GET /guilds/{guild.id}";

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
