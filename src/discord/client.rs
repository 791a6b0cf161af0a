//! Owns the REST calls for a user's own data, with retries and the rate limiter.
//! It must not store, log or return tokens, nor decide what a page shows.
//!
//! Discord REST client for the user's own data (`/users/@me…`), authorised by an OAuth2 bearer
//! token.
//!
//! Every request goes through the [`RateLimiter`] (pacing, so 429s stay rare) and a bounded retry
//! loop (429, 5xx and transport errors). Tokens only ever travel in the `Authorization` header:
//! errors and logs name the route (`GET /users/@me`), never the token or a URL carrying it.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::header::AUTHORIZATION;
use reqwest::{Response, StatusCode};
use serde::Deserialize;
use url::Url;

pub(crate) use super::lenient::describe_json_error;
use super::lenient::{decode, Decoded, Document};
use super::models::{Connection, Guild, Snowflake, User};
use super::ratelimit::{Lane, Permit, RateLimitHeaders, RateLimiter, TokenKey, MAX_WAIT};

/// Page size of `GET /users/@me/guilds` (Discord's maximum).
const GUILD_PAGE: usize = 200;
/// A user is in at most 200 servers (more with Nitro); a few pages is plenty and bounds the loop.
const MAX_GUILD_PAGES: usize = 10;
/// Longest error-body excerpt kept in [`DiscordError::Status`].
const MAX_MESSAGE_CHARS: usize = 200;
/// Upper bound of one backoff sleep, whatever `backoff_base` and the attempt number are.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The routes this client calls: a key for errors and rate limiting, and the path under the API base.
struct Route {
    key: &'static str,
    segments: &'static [&'static str],
}

const CURRENT_USER: Route = Route {
    key: "GET /users/@me",
    segments: &["users", "@me"],
};
const CONNECTIONS: Route = Route {
    key: "GET /users/@me/connections",
    segments: &["users", "@me", "connections"],
};
const GUILDS: Route = Route {
    key: "GET /users/@me/guilds",
    segments: &["users", "@me", "guilds"],
};

/// The rate limiter's key for CDN requests (one bucket for all images).
const CDN_ROUTE: &str = "GET cdn";

/// Why an image could not be fetched from the CDN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CdnError {
    /// Not a 2xx answer (redirects are not followed either).
    #[error("the CDN answered HTTP {0}")]
    Status(u16),
    /// The body is longer than allowed.
    #[error("larger than {} MB", .0 / (1024 * 1024))]
    TooLarge(usize),
    /// No answer (connection, timeout, a body cut short).
    #[error("{0}")]
    Transport(String),
}

impl CdnError {
    /// Whether trying again later may succeed (the CDN was unreachable or overloaded); a 404 or
    /// an oversized image stays what it is.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            CdnError::Status(status) => *status == 429 || *status >= 500,
            CdnError::TooLarge(_) => false,
            CdnError::Transport(_) => true,
        }
    }
}

/// Who a request is made as: the `Authorization` scheme and the token (never shown anywhere).
#[derive(Clone, Copy)]
pub(crate) enum Credential<'a> {
    /// A user's OAuth2 access token.
    Bearer(&'a str),
    /// The application's bot token.
    Bot(&'a str),
}

impl Credential<'_> {
    fn token(&self) -> &str {
        match self {
            Credential::Bearer(token) | Credential::Bot(token) => token,
        }
    }

    fn header(&self) -> String {
        match self {
            Credential::Bearer(token) => format!("Bearer {token}"),
            Credential::Bot(token) => format!("Bot {token}"),
        }
    }
}

/// One request: its route key (for errors, logs and rate limits), method, URL, credential and
/// JSON body.
pub(crate) struct Call<'a> {
    pub(crate) key: &'static str,
    pub(crate) method: reqwest::Method,
    pub(crate) url: Url,
    pub(crate) credential: Credential<'a>,
    pub(crate) body: Option<serde_json::Value>,
}

/// A 2xx answer's body.
pub(crate) struct Answer {
    /// 200, 201 (created: a member joined), 204 (nothing to say: already a member), ...
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// Settings of a [`DiscordClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// E.g. `https://discord.com/api/v10`; routes are appended to its path.
    pub(crate) api_base: Url,
    pub(crate) user_agent: String,
    /// Retries after the first attempt (429, 5xx, transport errors). Default 5.
    pub(crate) max_retries: u32,
    /// First backoff for 5xx/transport retries, doubled each time. Default 500 ms.
    pub backoff_base: Duration,
    /// Pace of all requests together. Default 50 (Discord's global limit).
    pub global_per_second: u32,
    /// Longest wait for one image from the CDN, answer and body. Default 10 s: a hanging CDN
    /// delays a build by about this much per image in flight, never more.
    pub cdn_timeout: Duration,
}

impl ClientOptions {
    /// Options with the defaults for `api_base`.
    pub fn new(api_base: Url) -> Self {
        ClientOptions {
            api_base,
            user_agent: format!("strife-gen/{}", env!("CARGO_PKG_VERSION")),
            max_retries: 5,
            backoff_base: Duration::from_millis(500),
            global_per_second: 50,
            cdn_timeout: Duration::from_secs(10),
        }
    }

    /// These options with the user agent Discord asks bots and apps to send:
    /// `DiscordBot (url, version)`.
    pub(crate) fn identified(mut self) -> Self {
        self.user_agent = format!(
            "DiscordBot ({}, {})",
            env!("CARGO_PKG_REPOSITORY"),
            env!("CARGO_PKG_VERSION")
        );
        self
    }
}

#[derive(Debug, thiserror::Error)]
/// Why a Discord REST call failed.
pub enum DiscordError {
    /// 401: the access token is invalid, expired or revoked.
    #[error("{route}: unauthorized (token invalid or revoked)")]
    Unauthorized {
        /// The route called, e.g. `GET /users/@me`.
        route: String,
    },
    /// 403, e.g. the token lacks the scope, or the bot a permission.
    #[error("{route}: forbidden ({message})")]
    Forbidden {
        /// The route called, e.g. `GET /users/@me`.
        route: String,
        /// Discord's error code (50001 Missing Access, 50013 Missing Permissions, ...).
        code: Option<i64>,
        /// Discord's message, or what a 403 usually means.
        message: String,
    },
    /// Any other non-success answer that is not worth retrying.
    #[error("{route}: HTTP {status}: {message}")]
    Status {
        /// The route called, e.g. `GET /users/@me`.
        route: String,
        /// The HTTP status.
        status: u16,
        /// Discord's error code (30001 Maximum number of guilds reached, ...), when it sent one.
        code: Option<i64>,
        /// The start of the answer's body.
        message: String,
    },
    #[error("{route}: gave up after retries, last HTTP status {last_status}")]
    /// 429 or 5xx answers until the retries ran out.
    RetriesExhausted {
        /// The route called, e.g. `GET /users/@me`.
        route: String,
        /// The HTTP status of the last attempt.
        last_status: u16,
    },
    /// The body is not what the route should return.
    #[error("{route}: unexpected response body: {detail}")]
    Decode {
        /// The route called, e.g. `GET /users/@me`.
        route: String,
        /// What is wrong.
        detail: String,
    },
    /// Connection, TLS or timeout trouble (after retries).
    #[error("{route}: {detail}")]
    Transport {
        /// The route called, e.g. `GET /users/@me`.
        route: String,
        /// What is wrong.
        detail: String,
    },
    #[error("Discord client configuration: {0}")]
    /// The client cannot be built from its options.
    Config(String),
}

/// Cheap to clone: all clones share one HTTP connection pool and one rate limiter.
#[derive(Clone)]
pub struct DiscordClient {
    inner: Arc<Inner>,
    /// The rate limiter's lane of this handle's requests: background unless made
    /// [`for_sign_in`](Self::for_sign_in).
    lane: Lane,
}

struct Inner {
    http: reqwest::Client,
    options: ClientOptions,
    limiter: RateLimiter,
}

impl std::fmt::Debug for DiscordClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordClient")
            .field("api_base", &self.inner.options.api_base.as_str())
            .finish()
    }
}

/// What one attempt led to.
enum Attempt {
    Success(Answer),
    Fatal(DiscordError),
    /// Worth another try after `wait`; `status` 0 means a transport error.
    Retry {
        wait: Duration,
        status: u16,
        detail: String,
    },
}

impl DiscordClient {
    /// A client with its own connection pool and rate limiter.
    pub fn new(options: ClientOptions) -> Result<Self, DiscordError> {
        check_base_url(&options.api_base)?;
        if options.global_per_second == 0 {
            return Err(DiscordError::Config(
                "global_per_second must be at least 1".into(),
            ));
        }
        let http = build_http(&options.user_agent)?;
        let limiter = RateLimiter::new(options.global_per_second);
        Ok(DiscordClient {
            inner: Arc::new(Inner {
                http,
                options,
                limiter,
            }),
            lane: Lane::Background,
        })
    }

    /// The same client for the requests of a sign-in someone is waiting on: they keep to their
    /// buckets but do not queue behind the refresh's global pace (see
    /// [`ratelimit`](super::ratelimit)). Only for requests with the signing-in user's token.
    pub(crate) fn for_sign_in(&self) -> DiscordClient {
        DiscordClient {
            inner: self.inner.clone(),
            lane: Lane::Interactive,
        }
    }

    /// The HTTP client used for Discord (no redirects, timeouts set); share it with
    /// [`OAuthClient`](super::oauth::OAuthClient).
    pub(crate) fn http(&self) -> reqwest::Client {
        self.inner.http.clone()
    }

    /// `GET /users/@me`, decoded leniently: what had to be left out is in `dropped`.
    pub(crate) async fn current_user(
        &self,
        access_token: &str,
    ) -> Result<Decoded<User>, DiscordError> {
        self.get_json(&CURRENT_USER, self.url(&CURRENT_USER), access_token)
            .await
    }

    /// `GET /users/@me/connections` (scope `connections`), decoded leniently.
    pub(crate) async fn connections(
        &self,
        access_token: &str,
    ) -> Result<Decoded<Vec<Connection>>, DiscordError> {
        self.get_json(&CONNECTIONS, self.url(&CONNECTIONS), access_token)
            .await
    }

    /// `GET /users/@me/guilds` (scope `guilds`), following `after` only while full pages come
    /// back; decoded leniently, with entries numbered across pages in what was left out.
    pub(crate) async fn guilds(
        &self,
        access_token: &str,
    ) -> Result<Decoded<Vec<Guild>>, DiscordError> {
        let mut all = Decoded {
            value: Vec::new(),
            dropped: Vec::new(),
        };
        // Entries Discord sent so far, usable or not: where the next page's entries start.
        let mut sent = 0;
        let mut after: Option<Snowflake> = None;
        for _ in 0..MAX_GUILD_PAGES {
            let mut url = self.url(&GUILDS);
            url.query_pairs_mut()
                .append_pair("limit", &GUILD_PAGE.to_string())
                // The member counts shown beside each server.
                .append_pair("with_counts", "true");
            if let Some(after) = after {
                url.query_pairs_mut()
                    .append_pair("after", &after.to_string());
            }
            let page: Decoded<Vec<Guild>> = self.get_json(&GUILDS, url, access_token).await?;
            let left_out = page.dropped.iter().filter(|d| d.entry_left_out).count();
            // Left-out entries count: a full page with one odd entry is still a full page.
            let full = page.value.len() + left_out >= GUILD_PAGE;
            let last = page.value.iter().map(|g| g.id).max();
            all.dropped
                .extend(page.dropped.into_iter().map(|mut dropped| {
                    dropped.entry = dropped.entry.map(|index| index + sent);
                    dropped
                }));
            sent += page.value.len() + left_out;
            all.value.extend(page.value);
            // Stop on a short page, and never ask for the same page twice.
            match last {
                Some(last) if full && after.is_none_or(|prev| last > prev) => after = Some(last),
                _ => return Ok(all),
            }
        }
        tracing::warn!(
            pages = MAX_GUILD_PAGES,
            "GET /users/@me/guilds: page cap reached, list may be incomplete"
        );
        Ok(all)
    }

    /// `GET` of an image on Discord's CDN (no token: the CDN is public), through the rate
    /// limiter like every request, tried once (a failed image is fetched again at the next
    /// build). A body longer than `limit` bytes is refused as soon as that is known: from
    /// `Content-Length`, or while it streams in.
    pub(crate) async fn cdn_get(&self, url: &Url, limit: usize) -> Result<Vec<u8>, CdnError> {
        let mut permit = self
            .inner
            .limiter
            .acquire(CDN_ROUTE, TokenKey::of(CDN_ROUTE), self.lane)
            .await;
        let mut response = self
            .inner
            .http
            .get(url.clone())
            .timeout(self.inner.options.cdn_timeout)
            .send()
            .await
            .map_err(|e| CdnError::Transport(describe_reqwest(e)))?;
        permit.record(&RateLimitHeaders::parse(response.headers()));
        let status = response.status();
        if !status.is_success() {
            return Err(CdnError::Status(status.as_u16()));
        }
        let too_large = response
            .content_length()
            .is_some_and(|length| length > limit as u64);
        if too_large {
            return Err(CdnError::TooLarge(limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| CdnError::Transport(describe_reqwest(e)))?
        {
            if body.len() + chunk.len() > limit {
                return Err(CdnError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// API base + route path. `Url::join` would drop the base's last segment (`v10`), so segments
    /// are appended instead.
    fn url(&self, route: &Route) -> Url {
        self.api_url(route.segments)
    }

    /// API base + `segments`, each one escaped as a path segment.
    pub(crate) fn api_url<S: AsRef<str>>(&self, segments: &[S]) -> Url {
        let mut url = self.inner.options.api_base.clone();
        url.set_query(None);
        url.set_fragment(None);
        // check_base_url made sure the base can have path segments.
        if let Ok(mut segments_mut) = url.path_segments_mut() {
            segments_mut
                .pop_if_empty()
                .extend(segments.iter().map(AsRef::as_ref));
        }
        url
    }

    async fn get_json<T: Document>(
        &self,
        route: &Route,
        url: Url,
        token: &str,
    ) -> Result<Decoded<T>, DiscordError> {
        let call = Call {
            key: route.key,
            method: reqwest::Method::GET,
            url,
            credential: Credential::Bearer(token),
            body: None,
        };
        let body = self.send(&call).await?.body;
        decode(&body).map_err(|e| DiscordError::Decode {
            route: route.key.to_owned(),
            detail: e.to_string(),
        })
    }

    /// Sends `call` with retries (429, 5xx, transport errors, at most `max_retries`); returns
    /// the first 2xx answer.
    pub(crate) async fn send(&self, call: &Call<'_>) -> Result<Answer, DiscordError> {
        let route = &Route {
            key: call.key,
            segments: &[],
        };
        let key = TokenKey::of(call.credential.token());
        let max_retries = self.inner.options.max_retries;
        let mut retries = 0;
        loop {
            let permit = self.inner.limiter.acquire(route.key, key, self.lane).await;
            let outcome = self.attempt(call, key, permit, retries).await;
            let (wait, status, detail) = match outcome {
                Attempt::Success(body) => return Ok(body),
                Attempt::Fatal(err) => return Err(err),
                Attempt::Retry {
                    wait,
                    status,
                    detail,
                } => (wait, status, detail),
            };
            if retries >= max_retries {
                return Err(exhausted(route, status, detail, retries));
            }
            retries += 1;
            tracing::warn!(route = route.key, status, retry = retries, wait = ?wait, "{detail}; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
        key: TokenKey,
        // Held until the attempt is over: a 429's penalty lands before the slot is handed back.
        mut permit: Permit<'_>,
        retries: u32,
    ) -> Attempt {
        let route = &Route {
            key: call.key,
            segments: &[],
        };
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone())
            .header(AUTHORIZATION, call.credential.header());
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return self.transport_retry(err, retries),
        };
        let status = response.status();
        let limits = RateLimitHeaders::parse(response.headers());
        permit.record(&limits);
        let body = match read_body(response).await {
            Ok(body) => body,
            Err(err) => return self.transport_retry(err, retries),
        };
        if status.is_success() {
            return Attempt::Success(Answer {
                status: status.as_u16(),
                body,
            });
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return self.rate_limited(route, key, &limits, &body, retries);
        }
        if status.is_server_error() {
            let wait = backoff(self.inner.options.backoff_base, retries);
            return Attempt::Retry {
                wait,
                status: status.as_u16(),
                detail: format!("HTTP {status}"),
            };
        }
        Attempt::Fatal(client_error(route, status, &body))
    }

    fn transport_retry(&self, err: reqwest::Error, retries: u32) -> Attempt {
        let wait = backoff(self.inner.options.backoff_base, retries);
        Attempt::Retry {
            wait,
            status: 0,
            detail: describe_reqwest(err),
        }
    }

    /// A 429: wait as long as Discord says (globally if it says so), unless that is absurd.
    fn rate_limited(
        &self,
        route: &Route,
        key: TokenKey,
        limits: &RateLimitHeaders,
        body: &[u8],
        retries: u32,
    ) -> Attempt {
        let body: TooManyRequests = serde_json::from_slice(body).unwrap_or_default();
        let global = body.global || limits.global;
        let wait = body
            .retry_after
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .map(|secs| Duration::from_secs_f64(secs.min(MAX_WAIT.as_secs_f64() * 2.0)))
            .or(limits.retry_after)
            .or(limits.reset_after)
            .unwrap_or_else(|| backoff(self.inner.options.backoff_base, retries));
        if wait > MAX_WAIT {
            let message = format!(
                "rate limited for {}s, more than we are willing to wait",
                wait.as_secs()
            );
            return Attempt::Fatal(DiscordError::Status {
                route: route.key.to_owned(),
                status: 429,
                code: None,
                message,
            });
        }
        if global {
            self.inner.limiter.block_global(wait);
        } else {
            self.inner.limiter.penalize(route.key, key, wait);
        }
        let scope = if global { "global" } else { "bucket" };
        Attempt::Retry {
            wait,
            status: 429,
            detail: format!("rate limited ({scope})"),
        }
    }
}

/// Body of a 429.
#[derive(Debug, Default, Deserialize)]
struct TooManyRequests {
    #[serde(default)]
    retry_after: Option<f64>,
    #[serde(default)]
    global: bool,
}

/// Body of Discord's JSON errors.
#[derive(Debug, Deserialize)]
struct ApiError {
    message: String,
    #[serde(default)]
    code: Option<i64>,
}

fn check_base_url(base: &Url) -> Result<(), DiscordError> {
    if base.cannot_be_a_base() {
        return Err(DiscordError::Config(format!(
            "api_base {base} cannot have a path"
        )));
    }
    if !is_secure_url(base) {
        return Err(DiscordError::Config(format!(
            "api_base {base} must be https (plain http only for loopback test servers)"
        )));
    }
    Ok(())
}

/// Bearer tokens and client secrets only go over https, except to a loopback server (tests, local
/// fakes).
pub(crate) fn is_secure_url(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(host)) => host == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

fn build_http(user_agent: &str) -> Result<reqwest::Client, DiscordError> {
    reqwest::Client::builder()
        // No redirects: a redirect would carry our Authorization header or client secret elsewhere
        // (and oauth2's UPGRADE notes require it against SSRF).
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(user_agent)
        .build()
        .map_err(|e| {
            DiscordError::Config(format!("building the HTTP client: {}", describe_reqwest(e)))
        })
}

async fn read_body(response: Response) -> Result<Vec<u8>, reqwest::Error> {
    Ok(response.bytes().await?.to_vec())
}

/// 4xx (and odd 1xx/3xx) answers: not retried.
fn client_error(route: &Route, status: StatusCode, body: &[u8]) -> DiscordError {
    let route = route.key.to_owned();
    match status {
        StatusCode::UNAUTHORIZED => DiscordError::Unauthorized { route },
        StatusCode::FORBIDDEN => DiscordError::Forbidden {
            route,
            code: error_code(body),
            message: match body.is_empty() {
                true => "missing scope?".to_owned(),
                false => error_message(body),
            },
        },
        // Only error answers are quoted; the body of anything else is not meant as a message.
        _ if status.is_client_error() => DiscordError::Status {
            route,
            status: status.as_u16(),
            code: error_code(body),
            message: error_message(body),
        },
        _ => DiscordError::Status {
            route,
            status: status.as_u16(),
            code: None,
            message: "unexpected status (body not shown)".to_owned(),
        },
    }
}

/// Discord's error code (`{"code": 50013, ...}`), when the body has one.
pub(crate) fn error_code(body: &[u8]) -> Option<i64> {
    serde_json::from_slice::<ApiError>(body).ok()?.code
}

/// Discord's `{"message", "code"}` when present, else a truncated excerpt of the body.
fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<ApiError>(body) {
        Ok(ApiError {
            message,
            code: Some(code),
        }) => truncate(&format!("{message} (code {code})")),
        Ok(ApiError {
            message,
            code: None,
        }) => truncate(&message),
        Err(_) if body.is_empty() => "(empty body)".to_owned(),
        Err(_) => truncate(&String::from_utf8_lossy(body)),
    }
}

pub(crate) fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn exhausted(route: &Route, status: u16, detail: String, retries: u32) -> DiscordError {
    let route = route.key.to_owned();
    if status == 0 {
        let detail = format!("{detail} (gave up after {} attempts)", retries + 1);
        DiscordError::Transport { route, detail }
    } else {
        DiscordError::RetriesExhausted {
            route,
            last_status: status,
        }
    }
}

/// `base * 2^retries` plus up to 25 % jitter, capped at [`MAX_BACKOFF`].
fn backoff(base: Duration, retries: u32) -> Duration {
    let exp = base
        .saturating_mul(1u32 << retries.min(16))
        .min(MAX_BACKOFF);
    let jitter_ms = (exp.as_millis() as u64 / 4).max(1);
    exp + Duration::from_millis(rand::thread_rng().gen_range(0..=jitter_ms))
}

/// reqwest error text without the URL, with its causes (e.g. "connection refused").
pub(crate) fn describe_reqwest(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::Instant;

    use super::*;
    use fake_discord::scripted::{FakeServer, Reply};

    const USER: &str = r#"{"id":"80351110224678912","username":"nelly","discriminator":"0","global_name":"Nelly","avatar":null}"#;

    fn options(server: &FakeServer) -> ClientOptions {
        ClientOptions {
            max_retries: 3,
            backoff_base: Duration::from_millis(1),
            global_per_second: 1000,
            ..ClientOptions::new(server.url("/api/v10"))
        }
    }

    fn client(server: &FakeServer) -> DiscordClient {
        DiscordClient::new(options(server)).unwrap()
    }

    fn guilds_json(from: u64, count: u64) -> String {
        let items: Vec<String> = (from..from + count)
            .map(|id| format!(r#"{{"id":"{id}","name":"g{id}"}}"#))
            .collect();
        format!("[{}]", items.join(","))
    }

    #[tokio::test]
    async fn current_user_sends_bearer_token_under_the_base_path() {
        let server = FakeServer::start(|_, _| Reply::json(200, USER)).await;
        let user = client(&server).current_user("tok-123").await.unwrap();
        assert_eq!(user.value.username, "nelly");
        assert!(user.dropped.is_empty());
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].path, "/api/v10/users/@me");
        assert_eq!(requests[0].header("authorization"), Some("Bearer tok-123"));
        assert!(requests[0]
            .header("user-agent")
            .unwrap()
            .starts_with("strife-gen/"));
    }

    #[tokio::test]
    async fn base_with_trailing_slash_and_connections_route() {
        let server = FakeServer::start(|_, _| {
            Reply::json(
                200,
                r#"[{"id":"1","name":"octo","type":"github","verified":true,"visibility":1}]"#,
            )
        })
        .await;
        let options = ClientOptions {
            api_base: server.url("/api/v10/"),
            ..options(&server)
        };
        let connections = DiscordClient::new(options)
            .unwrap()
            .connections("t")
            .await
            .unwrap();
        assert_eq!(connections.value[0].kind, "github");
        assert_eq!(server.requests()[0].path, "/api/v10/users/@me/connections");
    }

    #[tokio::test]
    async fn rejects_insecure_or_odd_configuration() {
        let plain = ClientOptions::new(Url::parse("http://discord.com/api/v10").unwrap());
        assert!(matches!(
            DiscordClient::new(plain),
            Err(DiscordError::Config(_))
        ));
        let odd = ClientOptions::new(Url::parse("mailto:someone@example.com").unwrap());
        assert!(matches!(
            DiscordClient::new(odd),
            Err(DiscordError::Config(_))
        ));
        let mut zero = ClientOptions::new(Url::parse("https://discord.com/api/v10").unwrap());
        zero.global_per_second = 0;
        assert!(matches!(
            DiscordClient::new(zero),
            Err(DiscordError::Config(_))
        ));
    }

    /// A server enforcing a real bucket of `LIMIT` requests per window: it answers 429 whenever the
    /// client overshoots, so zero 429s proves the client paced itself.
    #[tokio::test]
    async fn paces_on_empty_bucket_without_hitting_429() {
        const LIMIT: u32 = 2;
        const WINDOW: Duration = Duration::from_millis(50);
        let window: Mutex<(Instant, u32)> = Mutex::new((Instant::now(), 0));
        let too_many = Arc::new(AtomicUsize::new(0));
        let counter = too_many.clone();
        let server = FakeServer::start(move |_, _| {
            let mut window = window.lock().unwrap();
            let now = Instant::now();
            if now >= window.0 + WINDOW {
                *window = (now, 0);
            }
            window.1 += 1;
            // Round up so the client never comes back before the window has really ended.
            let reset_ms = (window.0 + WINDOW - now).as_micros().div_ceil(1000);
            let reset = format!("{:.3}", reset_ms as f64 / 1000.0);
            if window.1 > LIMIT {
                counter.fetch_add(1, Ordering::SeqCst);
                return Reply::json(
                    429,
                    format!(r#"{{"message":"slow down","retry_after":{reset},"global":false}}"#),
                );
            }
            Reply::json(200, USER)
                .header("x-ratelimit-limit", LIMIT.to_string())
                .header("x-ratelimit-remaining", (LIMIT - window.1).to_string())
                .header("x-ratelimit-reset-after", reset)
                .header("x-ratelimit-bucket", "me-bucket")
        })
        .await;
        let client = client(&server);
        // Learn the bucket first; then a burst of concurrent requests must queue behind it.
        client.current_user("tok").await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let client = client.clone();
            tasks.spawn(async move { client.current_user("tok").await });
        }
        while let Some(result) = tasks.join_next().await {
            result.unwrap().unwrap();
        }
        assert_eq!(
            too_many.load(Ordering::SeqCst),
            0,
            "the client overshot the bucket"
        );
        assert_eq!(server.requests().len(), 7);
    }

    #[tokio::test]
    async fn a_sign_in_is_answered_while_the_refresh_waits_for_its_pace() {
        let server = FakeServer::start(|_, _| Reply::json(200, USER)).await;
        // One request a second: the four background requests take three seconds to go out.
        let background = DiscordClient::new(ClientOptions {
            global_per_second: 1,
            ..options(&server)
        })
        .unwrap();
        let sign_in = background.for_sign_in();
        let mut refresh = tokio::task::JoinSet::new();
        for n in 0..4 {
            let client = background.clone();
            refresh.spawn(async move { client.current_user(&format!("old-{n}")).await });
        }
        while server.requests().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sign_in.current_user("fresh").await.unwrap();
        let sent: Vec<_> = server
            .requests()
            .iter()
            .filter_map(|r| r.header("authorization").map(str::to_owned))
            .collect();
        assert!(sent.contains(&"Bearer fresh".to_owned()));
        assert!(
            sent.len() < 5,
            "the sign-in waited for the background requests: {sent:?}"
        );
        refresh.abort_all();
    }

    #[tokio::test]
    async fn retries_after_429_with_retry_after() {
        let server = FakeServer::start(|_, index| match index {
            0 => Reply::json(
                429,
                r#"{"message":"You are being rate limited.","retry_after":0.01,"global":false}"#,
            )
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset-after", "0.01")
            .header("x-ratelimit-scope", "user"),
            _ => Reply::json(200, USER),
        })
        .await;
        client(&server).current_user("tok").await.unwrap();
        assert_eq!(server.requests().len(), 2);
    }

    #[tokio::test]
    async fn global_429_blocks_the_whole_client() {
        let server = FakeServer::start(|_, index| match index {
            0 => Reply::json(
                429,
                r#"{"message":"global","retry_after":0.01,"global":true}"#,
            )
            .header("x-ratelimit-global", "true")
            .header("retry-after", "1"),
            _ => Reply::json(200, USER),
        })
        .await;
        let client = client(&server);
        client.current_user("tok").await.unwrap();
        assert!(client.inner.limiter.saw_global_block());
        assert_eq!(server.requests().len(), 2);
    }

    #[tokio::test]
    async fn retry_after_header_is_used_when_body_has_none() {
        let server = FakeServer::start(|_, index| match index {
            0 => Reply::json(429, "not json").header("retry-after", "0"),
            _ => Reply::json(200, USER),
        })
        .await;
        client(&server).current_user("tok").await.unwrap();
        assert_eq!(server.requests().len(), 2);
    }

    #[tokio::test]
    async fn absurd_retry_after_is_an_error_not_a_sleep() {
        let server =
            FakeServer::start(|_, _| Reply::json(429, r#"{"retry_after":86400.0,"global":false}"#))
                .await;
        let err = client(&server).current_user("tok").await.unwrap_err();
        assert!(
            matches!(err, DiscordError::Status { status: 429, .. }),
            "{err:?}"
        );
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn server_errors_are_retried_then_succeed() {
        let server = FakeServer::start(|_, index| match index {
            0 => Reply::json(502, "<html>bad gateway</html>"),
            1 => Reply::json(500, r#"{"message":"oops"}"#),
            _ => Reply::json(200, USER),
        })
        .await;
        client(&server).current_user("tok").await.unwrap();
        assert_eq!(server.requests().len(), 3);
    }

    #[tokio::test]
    async fn server_errors_exhaust_retries() {
        let server = FakeServer::start(|_, _| Reply::json(503, "")).await;
        let err = client(&server).current_user("tok").await.unwrap_err();
        match err {
            DiscordError::RetriesExhausted { route, last_status } => {
                assert_eq!(route, "GET /users/@me");
                assert_eq!(last_status, 503);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(server.requests().len(), 4, "1 attempt + max_retries 3");
    }

    #[tokio::test]
    async fn transport_errors_are_retried_then_reported() {
        // A port nobody listens on: connection refused, quickly.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let mut options = ClientOptions::new(Url::parse(&format!("http://{addr}/api")).unwrap());
        options.max_retries = 1;
        options.backoff_base = Duration::from_millis(1);
        let err = DiscordClient::new(options)
            .unwrap()
            .current_user("tok-secret")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, DiscordError::Transport { .. }), "{err:?}");
        assert!(
            text.contains("2 attempts") && !text.contains("tok-secret"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn unauthorized_is_not_retried_and_hides_the_token() {
        let server = FakeServer::start(|_, _| {
            Reply::json(401, r#"{"message":"401: Unauthorized","code":0}"#)
        })
        .await;
        let err = client(&server)
            .current_user("tok-secret")
            .await
            .unwrap_err();
        assert!(matches!(&err, DiscordError::Unauthorized { route } if route == "GET /users/@me"));
        assert!(!format!("{err} {err:?}").contains("tok-secret"));
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn forbidden_and_other_statuses() {
        let server = FakeServer::start(|_, index| match index {
            0 => Reply::json(403, r#"{"message":"Missing Access","code":50001}"#),
            _ => Reply::json(404, r#"{"message":"Unknown User","code":10013}"#),
        })
        .await;
        let client = client(&server);
        let err = client.connections("tok").await.unwrap_err();
        assert!(
            matches!(&err, DiscordError::Forbidden { route, .. } if route == "GET /users/@me/connections")
        );
        match client.current_user("tok").await.unwrap_err() {
            DiscordError::Status {
                status, message, ..
            } => {
                assert_eq!(status, 404);
                assert_eq!(message, "Unknown User (code 10013)");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn long_error_bodies_are_truncated() {
        let message = error_message("x".repeat(10_000).as_bytes());
        assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1);
        assert_eq!(error_message(b""), "(empty body)");
    }

    #[tokio::test]
    async fn an_odd_field_is_left_out_and_reported_without_quoting_it() {
        let server = FakeServer::start(|_, _| {
            Reply::json(
                200,
                r#"{"id":"1","username":"ada","accent_color":"ada-PRIVATE"}"#,
            )
        })
        .await;
        let user = client(&server).current_user("tok").await.unwrap();
        assert_eq!(
            (user.value.username.as_str(), user.value.accent_color),
            ("ada", None)
        );
        let shown = format!("{:?} {}", user.dropped, user.dropped[0]);
        assert_eq!(user.dropped.len(), 1, "{shown}");
        assert_eq!(user.dropped[0].path(), "user.accent_color");
        assert!(!shown.contains("PRIVATE"), "{shown}");
    }

    #[tokio::test]
    async fn decode_errors_name_the_field_but_never_quote_the_body() {
        let server = FakeServer::start(|_, index| match index {
            0 => Reply::json(200, r#"{"id":"1","username":{"secret":"ada-PRIVATE"}}"#),
            _ => Reply::json(200, r#"{"id":"1","username":"ada-PRIVATE""#),
        })
        .await;
        let client = client(&server);
        let err = client.current_user("tok").await.unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(
            matches!(&err, DiscordError::Decode { detail, .. } if detail.contains("`user.username` is an object")),
            "{shown}"
        );
        assert!(!shown.contains("PRIVATE"), "{shown}");
        let truncated = client.current_user("tok").await.unwrap_err();
        let shown = format!("{truncated} {truncated:?}");
        assert!(matches!(truncated, DiscordError::Decode { .. }), "{shown}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
    }

    #[tokio::test]
    async fn unexpected_body_is_a_decode_error_naming_the_field() {
        let server = FakeServer::start(|_, _| Reply::json(200, r#"{"id":"1"}"#)).await;
        let err = client(&server).current_user("tok").await.unwrap_err();
        match err {
            DiscordError::Decode { route, detail } => {
                assert_eq!(route, "GET /users/@me");
                assert!(detail.contains("username"), "{detail}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn full_guild_page_fetches_the_next_one() {
        let server = FakeServer::start(|request, _| match request.query_value("after") {
            None => Reply::json(200, guilds_json(1000, 200)),
            Some(_) => Reply::json(200, guilds_json(2000, 150)),
        })
        .await;
        let guilds = client(&server).guilds("tok").await.unwrap();
        assert_eq!(guilds.value.len(), 350);
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].path, "/api/v10/users/@me/guilds");
        assert_eq!(requests[0].query_value("limit").as_deref(), Some("200"));
        assert_eq!(
            requests[0].query_value("with_counts").as_deref(),
            Some("true")
        );
        assert_eq!(requests[1].query_value("after").as_deref(), Some("1199"));
        assert_eq!(requests[1].query_value("limit").as_deref(), Some("200"));
    }

    #[tokio::test]
    async fn odd_guilds_are_left_out_but_still_count_towards_a_full_page() {
        // A full first page whose first entry has no usable id, and a second page with a null name.
        let server = FakeServer::start(|request, _| match request.query_value("after") {
            None => {
                let mut page: Vec<String> = (1001..1200)
                    .map(|id| format!(r#"{{"id":"{id}","name":"g{id}"}}"#))
                    .collect();
                page.insert(0, r#"{"id":"not-a-snowflake","name":"odd"}"#.into());
                Reply::json(200, format!("[{}]", page.join(",")))
            }
            Some(_) => Reply::json(
                200,
                r#"[{"id":"2000","name":"ok"},{"id":"2001","name":null}]"#,
            ),
        })
        .await;
        let guilds = client(&server).guilds("tok").await.unwrap();
        assert_eq!(
            server.requests().len(),
            2,
            "the odd entry still made the page full"
        );
        assert_eq!(guilds.value.len(), 199 + 1);
        let paths: Vec<String> = guilds.dropped.iter().map(|d| d.path()).collect();
        assert_eq!(paths, ["guilds[0].id", "guilds[201].name"]);
        assert!(guilds.dropped.iter().all(|d| d.entry_left_out));
    }

    #[tokio::test]
    async fn short_guild_page_is_the_last() {
        let server = FakeServer::start(|_, _| Reply::json(200, guilds_json(1, 150))).await;
        let guilds = client(&server).guilds("tok").await.unwrap();
        assert_eq!(guilds.value.len(), 150);
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn guild_pages_are_capped() {
        // A misbehaving server that always sends full pages with growing ids.
        let server = FakeServer::start(|_, index| {
            Reply::json(200, guilds_json(1 + 200 * index as u64, 200))
        })
        .await;
        let guilds = client(&server).guilds("tok").await.unwrap();
        assert_eq!(server.requests().len(), MAX_GUILD_PAGES);
        assert_eq!(guilds.value.len(), 200 * MAX_GUILD_PAGES);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_millis(100);
        assert!(backoff(base, 0) >= base && backoff(base, 0) <= base + base / 4);
        assert!(backoff(base, 3) >= base * 8);
        assert!(backoff(base, 1000) <= MAX_BACKOFF + MAX_BACKOFF / 4);
    }
}
