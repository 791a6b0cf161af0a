//! The `/users/@me` family of the fake Discord: the user, their connections and their guilds
//! (paged like Discord), each behind a bearer token with the right scope and a rate-limit bucket.

use std::time::Instant;

use serde_json::{json, Value};
use warp::http::Method;

use crate::http::{api_error, form_body_error, http_error, pairs, param, Req, Resp};
use crate::ratelimit::take_from_bucket;
use crate::state::State;
use crate::FakeUser;

/// The token of an `Authorization: Bearer ...` header.
fn bearer(req: &Req) -> Option<&str> {
    let (scheme, token) = req.header("authorization")?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// `GET /users/@me`, `/users/@me/connections` or `/users/@me/guilds`.
pub(crate) fn users_route(state: &mut State, req: &Req, route: &str) -> Resp {
    let token = bearer(req).unwrap_or("");
    let headers = match take_from_bucket(state, token, &req.path) {
        Ok(headers) => headers,
        Err(resp) => return resp,
    };
    if !matches!(
        route,
        "/users/@me" | "/users/@me/connections" | "/users/@me/guilds"
    ) {
        return http_error(404).with_headers(headers);
    }
    if req.method != Method::GET {
        return http_error(405).with_headers(headers);
    }
    let now = Instant::now();
    let auth = state.authorizations.iter().find(|a| {
        a.alive
            && a.access
                .iter()
                .any(|t| t.token == token && t.expires_at > now)
    });
    let unauthorized = || api_error(401, "401: Unauthorized", 0);
    let Some(auth) = auth.filter(|_| !token.is_empty()) else {
        return unauthorized().with_headers(headers);
    };
    let Some(user) = state.users.get(&auth.user_id) else {
        return unauthorized().with_headers(headers);
    };
    let has = |scope: &str| auth.scopes.iter().any(|s| s == scope);
    let resp = match route {
        "/users/@me" if !has("identify") => unauthorized(),
        "/users/@me" => {
            let mut body = user.user.clone();
            if !has("email") {
                if let Some(fields) = body.as_object_mut() {
                    fields.remove("email");
                    fields.remove("verified");
                }
            }
            Resp::json(200, &body)
        }
        "/users/@me/connections" if !has("connections") => api_error(403, "Missing Access", 50001),
        "/users/@me/connections" => Resp::json(200, &Value::Array(user.connections.clone())),
        _ if !has("guilds") => api_error(403, "Missing Access", 50001),
        _ => guilds_page(user, &pairs(&req.query)),
    };
    resp.with_headers(headers)
}

/// The optional snowflake `name` of the query; the `Err` is Discord's form-body error.
fn snowflake_param(params: &[(String, String)], name: &str) -> Result<Option<u64>, Resp> {
    match param(params, name) {
        None => Ok(None),
        Some(text) => match text.parse::<u64>() {
            Ok(n) if !text.starts_with('+') => Ok(Some(n)),
            _ => Err(form_body_error(
                name,
                "NUMBER_TYPE_COERCE",
                &format!("Value \"{text}\" is not snowflake."),
            )),
        },
    }
}

/// One page of the user's guilds (`before`, `after`, `limit`, `with_counts`), sorted by id.
fn guilds_page(user: &FakeUser, params: &[(String, String)]) -> Resp {
    match guilds_query(params) {
        Ok(query) => Resp::json(200, &Value::Array(query.page(&user.guilds))),
        Err(resp) => resp,
    }
}

/// The paging query of `/users/@me/guilds`, checked.
struct GuildsQuery {
    limit: usize,
    after: Option<u64>,
    before: Option<u64>,
    with_counts: bool,
}

/// Reads the paging query; the `Err` is Discord's form-body error.
fn guilds_query(params: &[(String, String)]) -> Result<GuildsQuery, Resp> {
    Ok(GuildsQuery {
        limit: page_limit(params)?,
        after: snowflake_param(params, "after")?,
        before: snowflake_param(params, "before")?,
        with_counts: param(params, "with_counts") == Some("true"),
    })
}

/// `limit`: 1 to 200, 200 when missing.
fn page_limit(params: &[(String, String)]) -> Result<usize, Resp> {
    let Some(text) = param(params, "limit") else {
        return Ok(200);
    };
    match text.parse::<i64>() {
        Ok(n) if n > 200 => Err(form_body_error(
            "limit",
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 200.",
        )),
        Ok(n) if n < 1 => Err(form_body_error(
            "limit",
            "NUMBER_TYPE_MIN",
            "int value should be greater than or equal to 1.",
        )),
        Ok(n) => Ok(n as usize),
        Err(_) => Err(form_body_error(
            "limit",
            "NUMBER_TYPE_COERCE",
            &format!("Value \"{text}\" is not int."),
        )),
    }
}

impl GuildsQuery {
    /// The guilds of this page, in ascending id order.
    fn page(&self, guilds: &[Value]) -> Vec<Value> {
        let guild_id = |g: &Value| g["id"].as_str().and_then(|s| s.parse::<u64>().ok());
        let mut guilds: Vec<&Value> = guilds
            .iter()
            .filter(|g| {
                let id = guild_id(g).unwrap_or(0);
                self.after.is_none_or(|a| id > a) && self.before.is_none_or(|b| id < b)
            })
            .collect();
        guilds.sort_by_key(|g| guild_id(g).unwrap_or(0));
        let page: Vec<&Value> = if self.before.is_some() && self.after.is_none() {
            // The guilds right before `before`, still in ascending order.
            let skip = guilds.len().saturating_sub(self.limit);
            guilds.into_iter().skip(skip).collect()
        } else {
            guilds.into_iter().take(self.limit).collect()
        };
        page.into_iter().map(|g| self.counted(g)).collect()
    }

    /// The guild with the approximate counts when they were asked for, without them otherwise.
    fn counted(&self, guild: &Value) -> Value {
        let mut guild = guild.clone();
        if let Some(fields) = guild.as_object_mut() {
            if self.with_counts {
                fields.entry("approximate_member_count").or_insert(json!(1));
                fields
                    .entry("approximate_presence_count")
                    .or_insert(json!(0));
            } else {
                fields.remove("approximate_member_count");
                fields.remove("approximate_presence_count");
            }
        }
        guild
    }
}
