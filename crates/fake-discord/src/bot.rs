//! The bot-token routes of the fake Discord: the community's server (`GET /guilds/{id}`),
//! adding a member with their OAuth2 token (`PUT /guilds/{id}/members/{user_id}`) and a direct
//! message (`POST /users/@me/channels`, then `POST /channels/{id}/messages`), each behind
//! `Authorization: Bot <token>` and a rate-limit bucket of the bot's own, with Discord's error
//! codes for the ways they fail.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde_json::{json, Value};
use warp::http::Method;

use crate::http::{api_error, http_error, Req, Resp};
use crate::ratelimit::take_from_bucket;
use crate::state::State;
use crate::BOT_TOKEN;

/// Discord's "Unknown Guild".
const UNKNOWN_GUILD: u32 = 10004;
/// Discord's "Missing Access": the bot is not in that server.
pub(crate) const MISSING_ACCESS: u32 = 50001;
/// Discord's "Missing Permissions": the bot lacks Create Instant Invite (or Manage Roles).
pub(crate) const MISSING_PERMISSIONS: u32 = 50013;
/// Discord's "Invalid OAuth2 access token" (or one without `guilds.join`).
const INVALID_OAUTH_TOKEN: u32 = 50025;
/// Discord's "The user is banned from this guild".
const BANNED: u32 = 40007;
/// Discord's "Maximum number of guilds reached".
const TOO_MANY_GUILDS: u32 = 30001;
/// Discord's "Cannot send messages to this user".
const CLOSED_DMS: u32 = 50007;
/// Discord's "Invalid Form Body".
const INVALID_FORM_BODY: u32 = 50035;
/// Discord's limit on a message's `content`.
const MAX_CONTENT_CHARS: usize = 2000;
/// Where the fake's DM channel ids start (any snowflake would do).
const FIRST_CHANNEL: u64 = 900_000_000_000_000_000;

/// The bot's direct messages.
#[derive(Debug, Default)]
pub(crate) struct Dms {
    /// Channel id → the user it is with.
    pub(crate) channels: HashMap<String, String>,
    /// Users who take no DMs from the server's members: posting to them answers 403 (50007).
    pub(crate) closed: HashSet<String>,
    /// Every message the bot sent: the user and the content.
    pub(crate) sent: Vec<(String, String)>,
}

/// The community's server as the fake knows it.
#[derive(Debug, Clone)]
pub(crate) struct FakeGuild {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The icon's hash (served by the fake CDN at `icons/{id}/{hash}`).
    pub(crate) icon: Option<String>,
    /// Whether the bot was invited into it.
    pub(crate) bot_member: bool,
    /// Whether the bot holds Create Instant Invite there (needed to add members).
    pub(crate) can_invite: bool,
    /// Whether the bot holds Manage Roles there (needed to give roles on join).
    pub(crate) can_manage_roles: bool,
    pub(crate) members: HashSet<String>,
    pub(crate) banned: HashSet<String>,
    /// Users who are in as many servers as Discord allows.
    pub(crate) full: HashSet<String>,
    /// Every successful `PUT` member: the user id and the roles asked for.
    pub(crate) joins: Vec<(String, Vec<String>)>,
}

impl FakeGuild {
    /// A server with the bot in it, holding both permissions, and no members yet.
    pub(crate) fn new(id: &str, name: &str) -> Self {
        FakeGuild {
            id: id.to_owned(),
            name: name.to_owned(),
            icon: None,
            bot_member: true,
            can_invite: true,
            can_manage_roles: true,
            members: HashSet::new(),
            banned: HashSet::new(),
            full: HashSet::new(),
            joins: Vec::new(),
        }
    }
}

/// The token of an `Authorization: Bot ...` header.
fn bot_token(req: &Req) -> Option<&str> {
    let (scheme, token) = req.header("authorization")?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bot")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether this request is the bot's (its routes answer it, not the users' routes).
pub(crate) fn is_bot_request(req: &Req) -> bool {
    bot_token(req).is_some()
}

/// `GET /guilds/{id}` or `PUT /guilds/{id}/members/{user_id}`, with the bot's token.
pub(crate) fn bot_route(state: &mut State, req: &Req, route: &str) -> Resp {
    let token = bot_token(req).unwrap_or("");
    let headers = match take_from_bucket(state, token, &req.path) {
        Ok(headers) => headers,
        Err(resp) => return resp,
    };
    let resp = if token != BOT_TOKEN {
        api_error(401, "401: Unauthorized", 0)
    } else {
        let parts: Vec<&str> = route.trim_start_matches('/').split('/').collect();
        match (parts.as_slice(), &req.method) {
            (["guilds", guild], &Method::GET) => guild_route(state, guild),
            (["guilds", guild, "members", user], &Method::PUT) => {
                add_member(state, guild, user, &req.body)
            }
            (["guilds", ..], _) => http_error(405),
            (["users", "@me", "channels"], &Method::POST) => open_dm(state, &req.body),
            (["channels", channel, "messages"], &Method::POST) => {
                send_message(state, channel, &req.body)
            }
            (["users", ..] | ["channels", ..], _) => http_error(405),
            _ => http_error(404),
        }
    };
    resp.with_headers(headers)
}

/// The server, when the bot is in it.
fn guild_of<'a>(state: &'a mut State, id: &str) -> Result<&'a mut FakeGuild, Resp> {
    match state.guilds.iter_mut().find(|g| g.id == id) {
        None => Err(api_error(404, "Unknown Guild", UNKNOWN_GUILD)),
        Some(guild) if !guild.bot_member => Err(api_error(403, "Missing Access", MISSING_ACCESS)),
        Some(guild) => Ok(guild),
    }
}

fn guild_route(state: &mut State, id: &str) -> Resp {
    match guild_of(state, id) {
        Ok(guild) => Resp::json(
            200,
            &json!({ "id": guild.id, "name": guild.name, "icon": guild.icon, "features": [] }),
        ),
        Err(resp) => resp,
    }
}

/// The user whose live access token `token` is, when it carries `guilds.join`.
fn joiner_of(state: &State, token: &str) -> Option<String> {
    let now = Instant::now();
    state
        .authorizations
        .iter()
        .find(|a| {
            a.alive
                && a.scopes.iter().any(|s| s == "guilds.join")
                && a.access
                    .iter()
                    .any(|t| t.token == token && t.expires_at > now)
        })
        .map(|a| a.user_id.clone())
}

/// `PUT /guilds/{id}/members/{user_id}` `{"access_token", "roles"?}`: 201 joined, 204 already in.
fn add_member(state: &mut State, guild_id: &str, user_id: &str, body: &[u8]) -> Resp {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return api_error(400, "400: Bad Request", 50109);
    };
    let access = body["access_token"].as_str().unwrap_or("");
    let roles: Vec<String> = body["roles"]
        .as_array()
        .map(|roles| {
            roles
                .iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let joiner = joiner_of(state, access);
    let guild = match guild_of(state, guild_id) {
        Ok(guild) => guild,
        Err(resp) => return resp,
    };
    if !guild.can_invite || (!roles.is_empty() && !guild.can_manage_roles) {
        return api_error(403, "Missing Permissions", MISSING_PERMISSIONS);
    }
    if joiner.as_deref() != Some(user_id) {
        return api_error(403, "Invalid OAuth2 access token", INVALID_OAUTH_TOKEN);
    }
    if guild.banned.contains(user_id) {
        return api_error(403, "The user is banned from this guild.", BANNED);
    }
    if guild.members.contains(user_id) {
        return Resp::empty(204);
    }
    if guild.full.contains(user_id) {
        return api_error(
            400,
            "Maximum number of guilds reached (100)",
            TOO_MANY_GUILDS,
        );
    }
    guild.members.insert(user_id.to_owned());
    guild.joins.push((user_id.to_owned(), roles.clone()));
    Resp::json(
        201,
        &json!({ "user": { "id": user_id }, "roles": roles, "nick": null, "deaf": false, "mute": false }),
    )
}

/// `POST /users/@me/channels` `{"recipient_id"}`: the DM channel with that user (the same one
/// each time).
fn open_dm(state: &mut State, body: &[u8]) -> Resp {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Some(user) = body["recipient_id"].as_str().map(str::to_owned) else {
        return api_error(400, "Invalid Form Body", INVALID_FORM_BODY);
    };
    if !state.users.contains_key(&user) {
        return api_error(400, "Invalid Recipient(s)", INVALID_FORM_BODY);
    }
    let dms = &mut state.dms;
    let existing = dms
        .channels
        .iter()
        .find(|(_, with)| **with == user)
        .map(|(id, _)| id.clone());
    let id = existing.unwrap_or_else(|| {
        let id = (FIRST_CHANNEL + dms.channels.len() as u64).to_string();
        dms.channels.insert(id.clone(), user.clone());
        id
    });
    Resp::json(
        200,
        &json!({ "id": id, "type": 1, "recipients": [{ "id": user }] }),
    )
}

/// `POST /channels/{id}/messages` `{"content"}` to a DM channel: 403 (50007) for a user with
/// closed DMs, 400 (50035) for no content or more than 2,000 characters.
fn send_message(state: &mut State, channel: &str, body: &[u8]) -> Resp {
    let Some(user) = state.dms.channels.get(channel).cloned() else {
        return api_error(404, "Unknown Channel", 10003);
    };
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let content = body["content"].as_str().unwrap_or("");
    if content.is_empty() || content.chars().count() > MAX_CONTENT_CHARS {
        return api_error(400, "Invalid Form Body", INVALID_FORM_BODY);
    }
    if state.dms.closed.contains(&user) {
        return api_error(403, "Cannot send messages to this user", CLOSED_DMS);
    }
    state.dms.sent.push((user, content.to_owned()));
    let id = (FIRST_CHANNEL * 2 + state.dms.sent.len() as u64).to_string();
    Resp::json(
        200,
        &json!({ "id": id, "channel_id": channel, "content": content }),
    )
}
