//! One fake Discord for strife-gen's tests: the full fake ([`FakeDiscord`]: OAuth2, the
//! `/users/@me` family, the CDN, an interactive authorize page, rate limits) and a scripted
//! responder ([`scripted::FakeServer`]) for unit tests that set every answer by hand.
//!
//! It owns test doubles only: it must not depend on `strife-gen` (which uses it as a
//! dev-dependency) and it never reaches the network beyond `127.0.0.1`.
//!
//! ```no_run
//! # use fake_discord::{FakeDiscord, FakeUser};
//! # async fn example() {
//! let discord = FakeDiscord::start().await;
//! discord.add_user(FakeUser::new("80351110224678912", "nelly"));
//! discord.login_as("80351110224678912");
//! // point the code under test at discord.api_base() / discord.authorize_url()
//! # }
//! ```
//!
//! The fake answers with Discord's response shapes, status codes, error bodies and rate-limit
//! headers; the crate's README lists the facts about Discord it reproduces. For a real browser,
//! [`FakeDiscord::authorize_interactively`] makes the authorize step a page with buttons, and
//! [`FakeDiscord::cdn_base`] serves real (PNG) images at Discord's CDN paths.
//!
//! The server binds `127.0.0.1:0` and runs on threads of its own, so a test may block its own
//! thread; it stops when the last `FakeDiscord` clone is dropped. All state sits behind one
//! `Arc<Mutex<..>>`, so clones are cheap and share everything. Handlers never panic on bad input:
//! they answer 4xx like Discord does.

mod accounts;
mod authorize;
mod bot;
mod cdn;
mod dispatch;
mod http;
mod ratelimit;
pub mod scripted;
mod state;
mod token;
mod users;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::Value;

pub use accounts::{connection, guild, FakeUser};
pub use cdn::CdnAnswer;
use state::{lock, Injection, InjectionKind, State};

/// The application's client id (a snowflake, like Discord's).
pub const CLIENT_ID: &str = "100000000000000001";
/// The application's client secret.
pub const CLIENT_SECRET: &str = "fake-client-secret";

/// The application's bot token (`Authorization: Bot <token>` on the bot routes).
pub const BOT_TOKEN: &str = "fake-bot-token.Zm9vYmFy.c2VjcmV0";

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The HTTP method (`GET`, `POST`, ...).
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, without `?` (empty when there was none).
    pub query: String,
    /// The status the fake answered with.
    pub status: u16,
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
    /// The server runs on threads of its own (with its own small runtime), so a test may block
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
        // Two workers: Discord answers many clients at once, and a fake that served one request
        // at a time would be what a benchmark of a burst of sign-ins measured.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("fake discord: runtime");
        let routes = dispatch::routes(state.clone());
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
    /// (`embed/avatars/{0-5}.png`); an APNG at every `avatar-decoration-presets/{asset}.png`,
    /// PNGs at `guild-tag-badges/{guild}/{badge}.png` and `assets/collectibles/…/static.png`, a
    /// WebP at every `banners/{id}/{hash}.*` and a GIF at every `icons/{id}/{hash}.*`; 404 for
    /// anything else.
    pub fn cdn_base(&self) -> String {
        format!("{}/cdn", self.base_url())
    }

    /// From now on the CDN answers `answer` for `path` (below `/cdn/`, without the query).
    pub fn set_cdn_answer(&self, path: &str, answer: CdnAnswer) {
        self.state().cdn_answers.insert(path.to_owned(), answer);
    }

    /// The CDN answers `path` as usual again.
    pub fn clear_cdn_answer(&self, path: &str) {
        self.state().cdn_answers.remove(path);
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

    /// Enforces Discord's global limit on the REST routes (`/users/…`): more than `per_second`
    /// requests within any one second get a global 429 (`retry_after` until the oldest of them is
    /// a second old), as the real API does at 50 per second.
    pub fn set_global_limit(&self, per_second: u32) {
        self.state().global_limit = Some((per_second.max(1), std::collections::VecDeque::new()));
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

    /// A server the bot is in (with Create Instant Invite and Manage Roles) and nobody else yet:
    /// `GET /guilds/{id}` answers it, `PUT /guilds/{id}/members/{user}` adds members to it.
    pub fn add_guild(&self, id: &str, name: &str) {
        let mut state = self.state();
        state.guilds.retain(|g| g.id != id);
        state.guilds.push(bot::FakeGuild::new(id, name));
    }

    fn guild(&self, id: &str, change: impl FnOnce(&mut bot::FakeGuild)) {
        let mut state = self.state();
        let guild = state
            .guilds
            .iter_mut()
            .find(|g| g.id == id)
            .unwrap_or_else(|| panic!("fake discord: no guild {id}"));
        change(guild);
    }

    /// The bot leaves (or is kicked from) the server: its routes answer 403 Missing Access (50001).
    pub fn remove_bot(&self, guild: &str) {
        self.guild(guild, |g| g.bot_member = false);
    }

    /// The bot loses Create Instant Invite there: adding a member answers 403 (50013).
    pub fn revoke_invite_permission(&self, guild: &str) {
        self.guild(guild, |g| g.can_invite = false);
    }

    /// The bot loses Manage Roles there: adding a member with roles answers 403 (50013).
    pub fn revoke_manage_roles(&self, guild: &str) {
        self.guild(guild, |g| g.can_manage_roles = false);
    }

    /// The user is banned from the server: adding them answers 403 (40007).
    pub fn ban(&self, guild: &str, user: &str) {
        self.guild(guild, |g| {
            g.banned.insert(user.to_owned());
        });
    }

    /// The user is in as many servers as Discord allows: adding them answers 400 (30001).
    pub fn fill_servers_of(&self, user: &str, guild: &str) {
        self.guild(guild, |g| {
            g.full.insert(user.to_owned());
        });
    }

    /// The user is already a member: adding them answers 204.
    pub fn add_member(&self, guild: &str, user: &str) {
        self.guild(guild, |g| {
            g.members.insert(user.to_owned());
        });
    }

    /// The server gets an icon (`hash`): `GET /guilds/{id}` names it, the CDN serves it at
    /// `icons/{id}/{hash}.webp`.
    pub fn set_guild_icon(&self, guild: &str, hash: &str) {
        self.guild(guild, |g| g.icon = Some(hash.to_owned()));
    }

    /// The user takes no direct messages from the server's members: the bot's message to them
    /// answers 403 (50007).
    pub fn close_dms(&self, user: &str) {
        self.state().dms.closed.insert(user.to_owned());
    }

    /// Every direct message the bot sent: the user and the content, in order.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.state().dms.sent.clone()
    }

    /// Every member the bot added to the server (answered 201), with the roles asked for.
    pub fn joins(&self, guild: &str) -> Vec<(String, Vec<String>)> {
        let state = self.state();
        state
            .guilds
            .iter()
            .find(|g| g.id == guild)
            .map(|g| g.joins.clone())
            .unwrap_or_default()
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
