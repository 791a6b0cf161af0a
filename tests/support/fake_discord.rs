//! A fake Discord for hermetic tests: OAuth2 (authorize, token, refresh, revoke) and the
//! `/users/@me` family, with Discord's response shapes, status codes, error bodies and rate-limit
//! headers (see `/work/shared/discord-api.md`).
//!
//! ```ignore
//! let discord = FakeDiscord::start().await;
//! discord.add_user(FakeUser::new("80351110224678912", "nelly"));
//! discord.login_as("80351110224678912");
//! // point the code under test at discord.api_base() / discord.authorize_url()
//! ```
//!
//! For a real browser, [`FakeDiscord::authorize_interactively`] makes the authorize step a page
//! with buttons, and [`FakeDiscord::cdn_base`] serves real (PNG) images at Discord's CDN paths.
//!
//! The server binds `127.0.0.1:0` and runs as a task of the current tokio runtime; it stops with
//! the runtime. All state sits behind one `Arc<Mutex<..>>`, so `FakeDiscord` clones are cheap and
//! share everything. Handlers never panic on bad input: they answer 4xx like Discord does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use warp::http::header::{HeaderName, CONTENT_TYPE, LOCATION};
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::Filter;

/// The application's client id (a snowflake, like Discord's).
pub const CLIENT_ID: &str = "100000000000000001";
/// The application's client secret.
pub const CLIENT_SECRET: &str = "fake-client-secret";

/// Discord's default `expires_in` for access tokens (7 days).
const DEFAULT_ACCESS_TOKEN_LIFETIME: u64 = 604_800;
/// Authorization codes are single use and short lived.
const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// The default bucket of every `/users/...` route, per token: generous so that only tests that ask
/// for rate limiting ever see a 429.
const DEFAULT_RATE_LIMIT: u32 = 1000;
const DEFAULT_RATE_RESET_AFTER: f64 = 1.0;
/// `retry_after` used when `fail_next(.., 429, ..)` is asked for.
const FAIL_NEXT_429_RETRY_AFTER: f64 = 0.1;

/// Scopes Discord knows; anything else in `scope` makes the authorize request fail.
const KNOWN_SCOPES: &[&str] = &[
    "activities.read",
    "activities.write",
    "applications.builds.read",
    "applications.builds.upload",
    "applications.commands",
    "applications.commands.permissions.update",
    "applications.commands.update",
    "applications.entitlements",
    "applications.store.update",
    "bot",
    "connections",
    "dm_channels.read",
    "email",
    "gdm.join",
    "guilds",
    "guilds.channels.read",
    "guilds.join",
    "guilds.members.read",
    "identify",
    "messages.read",
    "openid",
    "relationships.read",
    "role_connections.write",
    "rpc",
    "rpc.activities.write",
    "rpc.notifications.read",
    "rpc.voice.read",
    "rpc.voice.write",
    "voice",
    "webhook.incoming",
];

// ===== test data =====

/// A Discord account known to the fake: the `/users/@me` object plus what the other routes return.
#[derive(Debug, Clone)]
pub struct FakeUser {
    /// A Discord user object; must contain `"id"`.
    pub user: Value,
    /// What `/users/@me/connections` returns.
    pub connections: Vec<Value>,
    /// What `/users/@me/guilds` pages through (sorted by id when served).
    pub guilds: Vec<Value>,
}

impl FakeUser {
    /// A migrated account (discriminator `"0"`), display name = the username with a capital
    /// first letter, no avatar, no connections, no guilds.
    pub fn new(id: &str, username: &str) -> Self {
        let mut chars = username.chars();
        let global_name: String = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
        FakeUser {
            user: json!({
                "id": id,
                "username": username,
                "discriminator": "0",
                "global_name": global_name,
                "avatar": null,
                "banner": null,
                "accent_color": null,
                "public_flags": 0,
                "flags": 0,
                "avatar_decoration_data": null,
                "primary_guild": null,
                "collectibles": null,
                "mfa_enabled": false,
                "locale": "en-US",
                "premium_type": 0,
            }),
            connections: Vec::new(),
            guilds: Vec::new(),
        }
    }

    /// Adds a guild (see [`guild`]).
    pub fn with_guild(mut self, guild: Value) -> Self {
        self.guilds.push(guild);
        self
    }

    /// Adds a connection (see [`connection`]).
    pub fn with_connection(mut self, connection: Value) -> Self {
        self.connections.push(connection);
        self
    }

    fn id(&self) -> String {
        match &self.user["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// A partial guild as `/users/@me/guilds` returns it (not owner, no permissions, no icon).
pub fn guild(id: &str, name: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "icon": null,
        "banner": null,
        "owner": false,
        "permissions": "0",
        "features": [],
    })
}

/// A verified, public (visibility 1), not revoked connection of type `kind` (`github`, ...).
pub fn connection(kind: &str, name: &str) -> Value {
    json!({
        "id": format!("{kind}-{name}"),
        "name": name,
        "type": kind,
        "verified": true,
        "visibility": 1,
        "friend_sync": false,
        "show_activity": true,
        "two_way_link": false,
        "metadata_visibility": 1,
    })
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?` (empty when there was none).
    pub query: String,
    pub status: u16,
}

// ===== state =====

#[derive(Debug)]
struct PendingCode {
    user_id: String,
    scopes: Vec<String>,
    redirect_uri: String,
    code_challenge: String,
    expires_at: Instant,
}

#[derive(Debug)]
struct AccessToken {
    token: String,
    expires_at: Instant,
}

/// One grant of the application by a user: a refresh token (rotated on every refresh) and the
/// access tokens issued under it. Revoking any of its tokens ends all of it.
#[derive(Debug)]
struct Authorization {
    user_id: String,
    scopes: Vec<String>,
    refresh_token: String,
    access: Vec<AccessToken>,
    alive: bool,
}

#[derive(Debug)]
struct Injection {
    path: String,
    remaining: usize,
    kind: InjectionKind,
}

#[derive(Debug, Clone, Copy)]
enum InjectionKind {
    Status(u16),
    RateLimited { retry_after: f64, global: bool },
    Malformed,
}

#[derive(Debug)]
struct Bucket {
    window_start: Instant,
    used: u32,
}

#[derive(Debug)]
struct State {
    users: HashMap<String, FakeUser>,
    login_as: Option<String>,
    deny_next: bool,
    /// `/oauth2/authorize` shows a consent page instead of redirecting at once.
    interactive: bool,
    codes: HashMap<String, PendingCode>,
    authorizations: Vec<Authorization>,
    access_lifetime: u64,
    /// Consulted in order: forced 429s, then failures, then malformed bodies.
    injections: Vec<Injection>,
    malformed_served: usize,
    rate_limits: HashMap<String, (u32, f64)>,
    buckets: HashMap<(String, String), Bucket>,
    requests: Vec<RecordedRequest>,
    revoked: usize,
    authorize_params: Vec<Vec<(String, String)>>,
}

impl State {
    fn new() -> Self {
        State {
            users: HashMap::new(),
            login_as: None,
            deny_next: false,
            interactive: false,
            codes: HashMap::new(),
            authorizations: Vec::new(),
            access_lifetime: DEFAULT_ACCESS_TOKEN_LIFETIME,
            injections: Vec::new(),
            malformed_served: 0,
            rate_limits: HashMap::new(),
            buckets: HashMap::new(),
            requests: Vec::new(),
            revoked: 0,
            authorize_params: Vec::new(),
        }
    }
}

// ===== the server handle =====

/// A running fake Discord. Clones share the server and its state.
#[derive(Clone)]
pub struct FakeDiscord {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _server: Arc<ServerGuard>,
}

/// Stops the server when the last `FakeDiscord` clone goes away.
struct ServerGuard(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if let Some(shutdown) = self.0.take() {
            let _ = shutdown.send(());
        }
    }
}

/// One catch-all filter: every request, whatever its route, is answered by [`handle`] and recorded.
fn routes(
    state: Arc<Mutex<State>>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection>
       + Clone
       + Send
       + Sync
       + 'static {
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .map(
            move |method: Method,
                  path: warp::path::FullPath,
                  query: String,
                  headers: HeaderMap,
                  body: warp::hyper::body::Bytes| {
                let req = Req {
                    method,
                    path: path.as_str().to_owned(),
                    query,
                    headers,
                    body: body.to_vec(),
                };
                let mut state = lock(&state);
                let resp = handle(&mut state, &req);
                state.requests.push(RecordedRequest {
                    method: req.method.as_str().to_owned(),
                    path: req.path.clone(),
                    query: req.query.clone(),
                    status: resp.status,
                });
                drop(state);
                resp.into_response()
            },
        )
}

impl std::fmt::Debug for FakeDiscord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeDiscord")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeDiscord {
    /// Binds `127.0.0.1:0` and starts serving.
    ///
    /// The server runs on a thread of its own (with its own small runtime), so a test may block
    /// its thread — for example on `std::process::Command::output()` running the binary against
    /// the fake — without stalling the fake. It shuts down when the last clone is dropped.
    pub async fn start() -> FakeDiscord {
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", 0)).expect("fake discord: bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("fake discord: set_nonblocking");
        let addr = listener.local_addr().expect("fake discord: local_addr");
        let state = Arc::new(Mutex::new(State::new()));
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("fake discord: runtime");
        let routes = routes(state.clone());
        std::thread::Builder::new()
            .name(format!("fake-discord-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("fake discord: listener");
                    warp::serve(routes)
                        .incoming(listener)
                        .graceful(async {
                            let _ = shutdown_rx.await;
                        })
                        .run()
                        .await;
                });
            })
            .expect("fake discord: spawn server thread");
        FakeDiscord {
            addr,
            state,
            _server: Arc::new(ServerGuard(Some(shutdown))),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/api/v10`
    pub fn api_base(&self) -> String {
        format!("{}/api/v10", self.base_url())
    }

    /// `http://127.0.0.1:PORT/oauth2/authorize`
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth2/authorize", self.base_url())
    }

    /// Adds (or replaces) a user.
    pub fn add_user(&self, user: FakeUser) {
        let id = user.id();
        self.state().users.insert(id, user);
    }

    /// Shallow-merges the fields of `patch` (an object) into the user object.
    pub fn update_user(&self, id: &str, patch: Value) {
        let mut state = self.state();
        let user = state
            .users
            .get_mut(id)
            .unwrap_or_else(|| panic!("fake discord: update_user: no user {id}"));
        if let (Some(target), Value::Object(fields)) = (user.user.as_object_mut(), patch) {
            target.extend(fields);
        }
    }

    /// Replaces the user's connections.
    pub fn set_connections(&self, id: &str, connections: Vec<Value>) {
        let mut state = self.state();
        let user = state
            .users
            .get_mut(id)
            .unwrap_or_else(|| panic!("fake discord: set_connections: no user {id}"));
        user.connections = connections;
    }

    /// Replaces the user's guilds.
    pub fn set_guilds(&self, id: &str, guilds: Vec<Value>) {
        let mut state = self.state();
        let user = state
            .users
            .get_mut(id)
            .unwrap_or_else(|| panic!("fake discord: set_guilds: no user {id}"));
        user.guilds = guilds;
    }

    /// The browser "session": every following `/oauth2/authorize` approves as this user.
    pub fn login_as(&self, id: &str) {
        self.state().login_as = Some(id.to_owned());
    }

    /// From now on `/oauth2/authorize` answers with a consent page (HTML, like Discord's) naming
    /// the signed-in user and the scopes, with an "Authorize" and a "Cancel" button, instead of
    /// redirecting at once. The buttons POST back to the same address, which then redirects like
    /// the non-interactive route does. For tests that drive a real browser.
    pub fn authorize_interactively(&self) {
        self.state().interactive = true;
    }

    /// `http://127.0.0.1:PORT/cdn`: Discord's CDN for `discord.cdn_base`. It serves a real PNG
    /// for the avatar of every user whose `avatar` hash matches
    /// (`avatars/{id}/{hash}.{png|webp}`) and for the default avatars
    /// (`embed/avatars/{0-5}.png`), 404 for anything else.
    pub fn cdn_base(&self) -> String {
        format!("{}/cdn", self.base_url())
    }

    /// The next `/oauth2/authorize` redirects back with `error=access_denied`.
    pub fn deny_next_authorize(&self) {
        self.state().deny_next = true;
    }

    /// The user removed the app: all their tokens die.
    pub fn deauthorize(&self, id: &str) {
        let mut state = self.state();
        for auth in state.authorizations.iter_mut().filter(|a| a.user_id == id) {
            auth.alive = false;
        }
        state.codes.retain(|_, code| code.user_id != id);
    }

    /// `expires_in` (and the real lifetime) of access tokens issued from now on.
    pub fn set_access_token_lifetime(&self, secs: u64) {
        self.state().access_lifetime = secs;
    }

    /// The user's current access tokens expire now (their refresh tokens keep working).
    pub fn expire_access_tokens(&self, id: &str) {
        let now = Instant::now();
        let mut state = self.state();
        for auth in state.authorizations.iter_mut().filter(|a| a.user_id == id) {
            for token in &mut auth.access {
                token.expires_at = token.expires_at.min(now);
            }
        }
    }

    /// The next `count` requests whose path ends with `path` answer `status` with a Discord-shaped
    /// error body (`{"message","code"}` on the API, `{"error",..}` on `/oauth2/token*`).
    pub fn fail_next(&self, path: &str, status: u16, count: usize) {
        self.inject(path, count, InjectionKind::Status(status));
    }

    /// A real bucket for routes whose path ends with `path`: `limit` requests per token per window
    /// of `reset_after_secs`, then 429 until the window ends.
    pub fn set_rate_limit(&self, path: &str, limit: u32, reset_after_secs: f64) {
        let mut state = self.state();
        state
            .rate_limits
            .insert(path.to_owned(), (limit, clamp_secs(reset_after_secs)));
        state.buckets.clear();
    }

    /// The next `count` requests whose path ends with `path` answer 429 with `retry_after`.
    pub fn force_429(&self, path: &str, count: usize, retry_after_secs: f64, global: bool) {
        self.inject(
            path,
            count,
            InjectionKind::RateLimited {
                retry_after: clamp_secs(retry_after_secs),
                global,
            },
        );
    }

    /// The next `count` requests whose path ends with `path` answer 200 with a body the client
    /// cannot use: alternately truncated JSON and a JSON string (wrong shape for every route).
    pub fn set_malformed_body(&self, path: &str, count: usize) {
        self.inject(path, count, InjectionKind::Malformed);
    }

    fn inject(&self, path: &str, count: usize, kind: InjectionKind) {
        if count == 0 {
            return;
        }
        self.state().injections.push(Injection {
            path: path.to_owned(),
            remaining: count,
            kind,
        });
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// Requests whose path ends with `path`.
    pub fn count(&self, path: &str) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| r.path.ends_with(path))
            .count()
    }

    /// Requests answered with `status`.
    pub fn count_status(&self, status: u16) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| r.status == status)
            .count()
    }

    /// The refresh token of the user's newest live authorization.
    pub fn refresh_token_of(&self, id: &str) -> Option<String> {
        self.state()
            .authorizations
            .iter()
            .rev()
            .find(|a| a.alive && a.user_id == id)
            .map(|a| a.refresh_token.clone())
    }

    /// The access token issued last to the user (live or not), for tests that call the API directly.
    pub fn access_token_of(&self, id: &str) -> Option<String> {
        self.state()
            .authorizations
            .iter()
            .rev()
            .find(|a| a.user_id == id)
            .and_then(|a| a.access.last())
            .map(|t| t.token.clone())
    }

    /// `/oauth2/token/revoke` calls answered 200.
    pub fn revoked_count(&self) -> usize {
        self.state().revoked
    }

    /// The decoded query of every `/oauth2/authorize` request, in order.
    pub fn authorize_params(&self) -> Vec<Vec<(String, String)>> {
        self.state().authorize_params.clone()
    }
}

/// Seconds a test can ask for: finite, from 1 ms to a day.
fn clamp_secs(secs: f64) -> f64 {
    if secs.is_finite() {
        secs.clamp(0.001, 86_400.0)
    } else {
        86_400.0
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A test that panicked while holding the lock must not take the whole server down with it.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ===== requests and responses =====

struct Req {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Resp {
    status: u16,
    headers: Vec<(&'static str, String)>,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Resp {
    fn json(status: u16, body: &Value) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            content_type: "application/json",
            body: body.to_string().into_bytes(),
        }
    }

    fn text(status: u16, body: impl Into<String>) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            content_type: "text/plain; charset=utf-8",
            body: body.into().into_bytes(),
        }
    }

    fn redirect(location: String) -> Resp {
        Resp {
            status: 302,
            headers: vec![("location", location)],
            content_type: "text/plain; charset=utf-8",
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Resp {
        self.headers.push((name, value.into()));
        self
    }

    fn with_headers(mut self, headers: Vec<(&'static str, String)>) -> Resp {
        self.headers.extend(headers);
        self
    }

    fn into_response(self) -> warp::reply::Response {
        let mut resp = warp::reply::Response::new(self.body.into());
        *resp.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        for (name, value) in self.headers {
            let name = if name == "location" {
                LOCATION
            } else {
                HeaderName::from_static(name)
            };
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(name, value);
            }
        }
        resp
    }
}

/// `{"message": "401: Unauthorized", "code": 0}` and friends.
fn api_error(status: u16, message: &str, code: u32) -> Resp {
    Resp::json(status, &json!({ "message": message, "code": code }))
}

fn http_error(status: u16) -> Resp {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    api_error(status, &format!("{status}: {reason}"), 0)
}

fn oauth_error(status: u16, error: &str, description: Option<&str>) -> Resp {
    let body = match description {
        Some(d) => json!({ "error": error, "error_description": d }),
        None => json!({ "error": error }),
    };
    Resp::json(status, &body)
}

fn form_body_error(field: &str, code: &str, message: &str) -> Resp {
    Resp::json(
        400,
        &json!({
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": { field: { "_errors": [ { "code": code, "message": message } ] } },
        }),
    )
}

fn too_many_requests(retry_after: f64, global: bool) -> Resp {
    let retry_after = (retry_after * 1000.0).round() / 1000.0;
    Resp::json(
        429,
        &json!({
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": global,
        }),
    )
    .header(
        "retry-after",
        format!("{}", retry_after.ceil().max(0.0) as u64),
    )
    .header("x-ratelimit-scope", if global { "global" } else { "user" })
}

fn pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636: 43–128 characters of `[A-Za-z0-9-._~]`.
fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The route below the API prefix (`/api/v10`, `/api/v9` or unversioned `/api`).
fn api_route(path: &str) -> Option<&str> {
    for prefix in ["/api/v10/", "/api/v9/", "/api/"] {
        if path.starts_with(prefix) {
            return Some(&path[prefix.len() - 1..]);
        }
    }
    None
}

// ===== dispatch =====

fn handle(state: &mut State, req: &Req) -> Resp {
    let authorize = req.path == "/oauth2/authorize" || req.path == "/api/oauth2/authorize";
    // The browser's visits, not the consent page's form posting the same query back.
    if authorize && req.method == Method::GET {
        state.authorize_params.push(pairs(&req.query));
    }
    if let Some(resp) = injected(state, req) {
        return resp;
    }
    if authorize {
        return match req.method {
            Method::GET => authorize_route(state, req),
            Method::POST if state.interactive => authorize_route(state, req),
            _ => http_error(405),
        };
    }
    if let Some(path) = req.path.strip_prefix("/cdn/") {
        return cdn_route(state, req, path);
    }
    let Some(route) = api_route(&req.path) else {
        return http_error(404);
    };
    match route {
        "/oauth2/token" | "/oauth2/token/revoke" if req.method != Method::POST => http_error(405),
        "/oauth2/token" => token_route(state, req),
        "/oauth2/token/revoke" => revoke_route(state, req),
        _ if route.starts_with("/users/") => users_route(state, req, route),
        _ => http_error(404),
    }
}

fn injected(state: &mut State, req: &Req) -> Option<Resp> {
    // Forced 429s first, then failures, then malformed bodies.
    let rank = |kind: &InjectionKind| match kind {
        InjectionKind::RateLimited { .. } => 0,
        InjectionKind::Status(_) => 1,
        InjectionKind::Malformed => 2,
    };
    let index = state
        .injections
        .iter()
        .enumerate()
        .filter(|(_, inj)| inj.remaining > 0 && req.path.ends_with(&inj.path))
        .min_by_key(|(i, inj)| (rank(&inj.kind), *i))
        .map(|(i, _)| i)?;
    let injection = &mut state.injections[index];
    injection.remaining -= 1;
    let kind = injection.kind;
    if injection.remaining == 0 {
        state.injections.remove(index);
    }
    let oauth = req.path.contains("/oauth2/token");
    Some(match kind {
        InjectionKind::RateLimited {
            retry_after,
            global,
        } => {
            let resp = too_many_requests(retry_after, global);
            if global {
                resp.header("x-ratelimit-global", "true")
            } else {
                resp.with_headers(rate_headers(
                    &req.path,
                    route_limit(state, &req.path).0,
                    0,
                    retry_after,
                ))
            }
        }
        InjectionKind::Status(429) => too_many_requests(FAIL_NEXT_429_RETRY_AFTER, false),
        InjectionKind::Status(status) if oauth => {
            let error = match status {
                400 => "invalid_request",
                401 => "invalid_client",
                503 => "temporarily_unavailable",
                _ => "server_error",
            };
            oauth_error(status, error, None)
        }
        InjectionKind::Status(status) => http_error(status),
        InjectionKind::Malformed => {
            let n = state.malformed_served;
            state.malformed_served += 1;
            let body: &[u8] = if n.is_multiple_of(2) {
                b"{\"id\": \"80351110224678912\", \"username\": \"nel"
            } else {
                b"\"unexpected\""
            };
            Resp {
                status: 200,
                headers: Vec::new(),
                content_type: "application/json",
                body: body.to_vec(),
            }
        }
    })
}

// ===== CDN =====

/// The image every CDN route serves: a real 64×64 PNG, so that a browser shows it.
const AVATAR_PNG: &[u8] = include_bytes!("../fixtures/cdn/avatar.png");

/// `GET /cdn/<path>`: a user's avatar when the hash is theirs, a default avatar, else 404. Every
/// format gets the same PNG (browsers go by the bytes, not the extension; there is no WebP
/// encoder here).
fn cdn_route(state: &State, req: &Req, path: &str) -> Resp {
    if req.method != Method::GET {
        return Resp::text(405, "405: Method Not Allowed");
    }
    let segments: Vec<&str> = path.split('/').collect();
    let found = match segments.as_slice() {
        ["avatars", user, file] => file
            .rsplit_once('.')
            .filter(|(_, ext)| matches!(*ext, "png" | "webp"))
            .and_then(|(hash, _)| {
                let user = state.users.get(*user)?;
                (user.user["avatar"].as_str() == Some(hash)).then_some(())
            })
            .is_some(),
        ["embed", "avatars", file] => {
            matches!(
                *file,
                "0.png" | "1.png" | "2.png" | "3.png" | "4.png" | "5.png"
            )
        }
        _ => false,
    };
    if !found {
        return Resp::text(404, "404: Not Found");
    }
    Resp {
        status: 200,
        headers: Vec::new(),
        content_type: "image/png",
        body: AVATAR_PNG.to_vec(),
    }
}

// ===== OAuth2 =====

/// A checked `/oauth2/authorize` request.
struct AuthorizeRequest {
    /// The `redirect_uri`, where the browser is sent back with a code or an error.
    location: url::Url,
    redirect_uri: String,
    scopes: Vec<String>,
    code_challenge: String,
    state: Option<String>,
}

/// Discord's checks of an authorize query; the `Err` is the 400 page.
fn parse_authorize(params: &[(String, String)]) -> Result<AuthorizeRequest, Resp> {
    match param(params, "client_id") {
        Some(CLIENT_ID) => {}
        Some(_) => return Err(Resp::text(400, "Unknown Application: invalid client_id")),
        None => return Err(Resp::text(400, "Missing client_id")),
    }
    let Some(redirect_uri) = param(params, "redirect_uri") else {
        return Err(Resp::text(400, "Missing redirect_uri"));
    };
    let location = match url::Url::parse(redirect_uri) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.has_host()
                && url.fragment().is_none() =>
        {
            url
        }
        _ => return Err(Resp::text(400, "Invalid OAuth2 redirect_uri")),
    };
    match param(params, "response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(Resp::text(
                400,
                format!("Unsupported response_type {other:?}"),
            ))
        }
        None => return Err(Resp::text(400, "Missing response_type")),
    }
    let scopes: Vec<String> = param(params, "scope")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err(Resp::text(400, "Missing scope"));
    }
    if let Some(bad) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(Resp::text(400, format!("Invalid scope: {bad}")));
    }
    let Some(code_challenge) = param(params, "code_challenge") else {
        return Err(Resp::text(
            400,
            "Missing code_challenge (this fake requires PKCE)",
        ));
    };
    if !is_pkce_string(code_challenge) {
        return Err(Resp::text(400, "Invalid code_challenge"));
    }
    match param(params, "code_challenge_method") {
        Some("S256") => {}
        Some(other) => {
            return Err(Resp::text(
                400,
                format!("Unsupported code_challenge_method {other:?}: use S256"),
            ))
        }
        None => {
            return Err(Resp::text(
                400,
                "Missing code_challenge_method (must be S256)",
            ))
        }
    }
    match param(params, "prompt") {
        None | Some("consent") | Some("none") => {}
        Some(other) => return Err(Resp::text(400, format!("Invalid prompt {other:?}"))),
    }
    Ok(AuthorizeRequest {
        location,
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        code_challenge: code_challenge.to_owned(),
        state: param(params, "state").map(str::to_owned),
    })
}

/// `GET /oauth2/authorize`: the redirect back at once, or (interactive) the consent page.
/// `POST` is that page's form: `decision=authorize` or `decision=cancel`.
fn authorize_route(state: &mut State, req: &Req) -> Resp {
    let request = match parse_authorize(&pairs(&req.query)) {
        Ok(request) => request,
        Err(resp) => return resp,
    };
    if std::mem::take(&mut state.deny_next) {
        return deny(request);
    }
    let user_id = match &state.login_as {
        Some(id) if state.users.contains_key(id) => id.clone(),
        Some(id) => {
            return Resp::text(
                400,
                format!("fake discord: login_as user {id} was never added (add_user)"),
            )
        }
        None => {
            return Resp::text(
                400,
                "fake discord: nobody is logged in (call FakeDiscord::login_as)",
            )
        }
    };
    if req.method == Method::GET {
        return if state.interactive {
            consent_page(&state.users[&user_id], &request, &req.query)
        } else {
            grant(state, user_id, request)
        };
    }
    let form = std::str::from_utf8(&req.body)
        .map(pairs)
        .unwrap_or_default();
    match param(&form, "decision") {
        Some("authorize") => grant(state, user_id, request),
        Some("cancel") => deny(request),
        _ => Resp::text(
            400,
            "fake discord: the form needs decision=authorize|cancel",
        ),
    }
}

/// Back to the application with `error=access_denied`.
fn deny(request: AuthorizeRequest) -> Resp {
    let mut location = request.location;
    {
        let mut query = location.query_pairs_mut();
        query.append_pair("error", "access_denied");
        query.append_pair(
            "error_description",
            "The resource owner or authorization server denied the request",
        );
        if let Some(s) = &request.state {
            query.append_pair("state", s);
        }
    }
    Resp::redirect(location.into())
}

/// Back to the application with a fresh authorization code for `user_id`.
fn grant(state: &mut State, user_id: String, request: AuthorizeRequest) -> Resp {
    let code = random_token(30);
    let now = Instant::now();
    state.codes.retain(|_, c| c.expires_at > now);
    state.codes.insert(
        code.clone(),
        PendingCode {
            user_id,
            scopes: request.scopes,
            redirect_uri: request.redirect_uri,
            code_challenge: request.code_challenge,
            expires_at: now + CODE_LIFETIME,
        },
    );
    let mut location = request.location;
    {
        let mut query = location.query_pairs_mut();
        query.append_pair("code", &code);
        if let Some(s) = &request.state {
            query.append_pair("state", s);
        }
    }
    Resp::redirect(location.into())
}

/// Discord's "An external application wants to access your account" page, reduced to what a
/// person reads and clicks. The form posts the same query back, so the request is checked again.
fn consent_page(user: &FakeUser, request: &AuthorizeRequest, raw_query: &str) -> Resp {
    use minijinja::HtmlEscape;
    let name = user.user["global_name"]
        .as_str()
        .or(user.user["username"].as_str())
        .unwrap_or("someone");
    let scopes: String = request
        .scopes
        .iter()
        .map(|scope| format!("<li>{}</li>", HtmlEscape(scope)))
        .collect();
    let action = format!("/oauth2/authorize?{raw_query}");
    let body = format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Discord | Authorize access to your account</title></head>
<body>
<h1>An external application wants to access your Discord account</h1>
<p>Signed in as <strong id="user">{name}</strong>.</p>
<p>This will allow the developer to:</p>
<ul id="scopes">{scopes}</ul>
<p>Once you authorize, you will be redirected to {redirect}.</p>
<form method="post" action="{action}">
<button type="submit" name="decision" value="cancel" id="cancel">Cancel</button>
<button type="submit" name="decision" value="authorize" id="authorize">Authorize</button>
</form>
</body>
</html>
"#,
        name = HtmlEscape(name),
        redirect = HtmlEscape(request.location.origin().ascii_serialization().as_str()),
        action = HtmlEscape(&action),
    );
    Resp {
        status: 200,
        headers: Vec::new(),
        content_type: "text/html; charset=utf-8",
        body: body.into_bytes(),
    }
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// HTTP Basic (id and secret form-urlencoded, RFC 6749 §2.3.1) or `client_id`/`client_secret` in
/// the form.
fn client_authenticated(req: &Req, form: &[(String, String)]) -> bool {
    if let Some(auth) = req.header("authorization") {
        let Some((scheme, encoded)) = auth.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((id, secret)) = decoded.split_once(':') else {
            return false;
        };
        return percent_decode(id) == CLIENT_ID && percent_decode(secret) == CLIENT_SECRET;
    }
    param(form, "client_id") == Some(CLIENT_ID)
        && param(form, "client_secret") == Some(CLIENT_SECRET)
}

/// Parses the form after checking the content type and the client; the `Err` is the answer.
fn oauth_form(req: &Req) -> Result<Vec<(String, String)>, Resp> {
    let form_type = req
        .header("content-type")
        .and_then(|ct| ct.split(';').next())
        .map(|ct| {
            ct.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
        .unwrap_or(false);
    if !form_type {
        return Err(oauth_error(
            400,
            "invalid_request",
            Some("Content-Type must be application/x-www-form-urlencoded"),
        ));
    }
    let Ok(body) = std::str::from_utf8(&req.body) else {
        return Err(oauth_error(
            400,
            "invalid_request",
            Some("Body is not UTF-8"),
        ));
    };
    let form = pairs(body);
    if !client_authenticated(req, &form) {
        return Err(oauth_error(401, "invalid_client", None));
    }
    Ok(form)
}

fn token_route(state: &mut State, req: &Req) -> Resp {
    let form = match oauth_form(req) {
        Ok(form) => form,
        Err(resp) => return resp,
    };
    match param(&form, "grant_type") {
        Some("authorization_code") => exchange_code(state, &form),
        Some("refresh_token") => refresh(state, &form),
        Some(_) => oauth_error(400, "unsupported_grant_type", None),
        None => oauth_error(
            400,
            "invalid_request",
            Some("Missing \"grant_type\" in request."),
        ),
    }
}

fn exchange_code(state: &mut State, form: &[(String, String)]) -> Resp {
    const BAD_CODE: &str = "Invalid \"code\" in request.";
    let Some(code) = param(form, "code") else {
        return oauth_error(400, "invalid_request", Some("Missing \"code\" in request."));
    };
    let Some(pending) = state.codes.get(code) else {
        return oauth_error(400, "invalid_grant", Some(BAD_CODE));
    };
    if pending.expires_at <= Instant::now() {
        state.codes.remove(code);
        return oauth_error(400, "invalid_grant", Some(BAD_CODE));
    }
    if param(form, "redirect_uri") != Some(pending.redirect_uri.as_str()) {
        return oauth_error(
            400,
            "invalid_grant",
            Some("Invalid \"redirect_uri\" in request."),
        );
    }
    let verified = param(form, "code_verifier")
        .is_some_and(|v| is_pkce_string(v) && pkce_challenge(v) == pending.code_challenge);
    if !verified {
        return oauth_error(400, "invalid_grant", Some(BAD_CODE));
    }
    let Some(pending) = state.codes.remove(code) else {
        return oauth_error(400, "invalid_grant", Some(BAD_CODE));
    };
    let access = new_access_token(state.access_lifetime);
    let refresh_token = random_token(30);
    let body = token_body(
        &access.0,
        state.access_lifetime,
        &refresh_token,
        &pending.scopes,
    );
    state.authorizations.push(Authorization {
        user_id: pending.user_id,
        scopes: pending.scopes,
        refresh_token,
        access: vec![access.1],
        alive: true,
    });
    Resp::json(200, &body)
}

fn refresh(state: &mut State, form: &[(String, String)]) -> Resp {
    let Some(token) = param(form, "refresh_token") else {
        return oauth_error(
            400,
            "invalid_request",
            Some("Missing \"refresh_token\" in request."),
        );
    };
    let lifetime = state.access_lifetime;
    let Some(auth) = state
        .authorizations
        .iter_mut()
        .find(|a| a.alive && a.refresh_token == token)
    else {
        return oauth_error(
            400,
            "invalid_grant",
            Some("Invalid \"refresh_token\" in request"),
        );
    };
    let (access_token, access) = new_access_token(lifetime);
    auth.refresh_token = random_token(30);
    auth.access.push(access);
    Resp::json(
        200,
        &token_body(&access_token, lifetime, &auth.refresh_token, &auth.scopes),
    )
}

fn new_access_token(lifetime: u64) -> (String, AccessToken) {
    let token = random_token(30);
    let expires_at = Instant::now()
        .checked_add(Duration::from_secs(lifetime))
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(10 * 365 * 86_400));
    (token.clone(), AccessToken { token, expires_at })
}

fn token_body(access: &str, expires_in: u64, refresh: &str, scopes: &[String]) -> Value {
    json!({
        "token_type": "Bearer",
        "access_token": access,
        "expires_in": expires_in,
        "refresh_token": refresh,
        "scope": scopes.join(" "),
    })
}

fn revoke_route(state: &mut State, req: &Req) -> Resp {
    let form = match oauth_form(req) {
        Ok(form) => form,
        Err(resp) => return resp,
    };
    let Some(token) = param(&form, "token") else {
        return oauth_error(
            400,
            "invalid_request",
            Some("Missing \"token\" in request."),
        );
    };
    // RFC 7009: unknown tokens are not an error.
    for auth in &mut state.authorizations {
        if auth.refresh_token == token || auth.access.iter().any(|a| a.token == token) {
            auth.alive = false;
        }
    }
    state.revoked += 1;
    Resp::json(200, &json!({}))
}

// ===== users =====

fn bearer(req: &Req) -> Option<&str> {
    let (scheme, token) = req.header("authorization")?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// Limit and window of the route: the longest `set_rate_limit` suffix that matches, else the
/// default bucket.
fn route_limit(state: &State, path: &str) -> (u32, f64) {
    state
        .rate_limits
        .iter()
        .filter(|(suffix, _)| path.ends_with(suffix.as_str()))
        .max_by_key(|(suffix, _)| suffix.len())
        .map(|(_, limit)| *limit)
        .unwrap_or((DEFAULT_RATE_LIMIT, DEFAULT_RATE_RESET_AFTER))
}

fn bucket_id(path: &str) -> String {
    let digest = Sha256::digest(format!("bucket:{path}").as_bytes());
    let mut id = String::with_capacity(32);
    for byte in &digest[..16] {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

fn rate_headers(
    path: &str,
    limit: u32,
    remaining: u32,
    reset_after: f64,
) -> Vec<(&'static str, String)> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    vec![
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", format!("{:.3}", now + reset_after)),
        ("x-ratelimit-reset-after", format!("{reset_after:.3}")),
        ("x-ratelimit-bucket", bucket_id(path)),
    ]
}

/// Takes one request from the (token, route) bucket: the rate-limit headers, or the 429.
fn take_from_bucket(
    state: &mut State,
    token: &str,
    path: &str,
) -> Result<Vec<(&'static str, String)>, Resp> {
    let (limit, window) = route_limit(state, path);
    let now = Instant::now();
    let bucket = state
        .buckets
        .entry((token.to_owned(), path.to_owned()))
        .or_insert(Bucket {
            window_start: now,
            used: 0,
        });
    let window_len = Duration::from_secs_f64(window);
    if now >= bucket.window_start + window_len {
        bucket.window_start = now;
        bucket.used = 0;
    }
    let reset_after = (bucket.window_start + window_len - now).as_secs_f64();
    if bucket.used >= limit {
        return Err(
            too_many_requests(reset_after.max(0.001), false).with_headers(rate_headers(
                path,
                limit,
                0,
                reset_after,
            )),
        );
    }
    bucket.used += 1;
    Ok(rate_headers(path, limit, limit - bucket.used, reset_after))
}

fn users_route(state: &mut State, req: &Req, route: &str) -> Resp {
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

fn guilds_page(user: &FakeUser, params: &[(String, String)]) -> Resp {
    let limit = match param(params, "limit") {
        None => 200,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n > 200 => {
                return form_body_error(
                    "limit",
                    "NUMBER_TYPE_MAX",
                    "int value should be less than or equal to 200.",
                )
            }
            Ok(n) if n < 1 => {
                return form_body_error(
                    "limit",
                    "NUMBER_TYPE_MIN",
                    "int value should be greater than or equal to 1.",
                )
            }
            Ok(n) => n as usize,
            Err(_) => {
                return form_body_error(
                    "limit",
                    "NUMBER_TYPE_COERCE",
                    &format!("Value \"{text}\" is not int."),
                )
            }
        },
    };
    let after = match snowflake_param(params, "after") {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let before = match snowflake_param(params, "before") {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let with_counts = param(params, "with_counts") == Some("true");

    let guild_id = |g: &Value| g["id"].as_str().and_then(|s| s.parse::<u64>().ok());
    let mut guilds: Vec<&Value> = user
        .guilds
        .iter()
        .filter(|g| {
            let id = guild_id(g).unwrap_or(0);
            after.is_none_or(|a| id > a) && before.is_none_or(|b| id < b)
        })
        .collect();
    guilds.sort_by_key(|g| guild_id(g).unwrap_or(0));
    let page: Vec<&Value> = if before.is_some() && after.is_none() {
        // The guilds right before `before`, still in ascending order.
        let skip = guilds.len().saturating_sub(limit);
        guilds.into_iter().skip(skip).collect()
    } else {
        guilds.into_iter().take(limit).collect()
    };
    let page: Vec<Value> = page
        .into_iter()
        .map(|g| {
            let mut g = g.clone();
            if let Some(fields) = g.as_object_mut() {
                if with_counts {
                    fields.entry("approximate_member_count").or_insert(json!(1));
                    fields
                        .entry("approximate_presence_count")
                        .or_insert(json!(0));
                } else {
                    fields.remove("approximate_member_count");
                    fields.remove("approximate_presence_count");
                }
            }
            g
        })
        .collect();
    Resp::json(200, &Value::Array(page))
}
