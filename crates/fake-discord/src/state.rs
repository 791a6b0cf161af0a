//! What the fake Discord remembers between requests: users, codes, authorizations, injected
//! failures, rate-limit buckets and the request log. Plain data: no HTTP and no routing here.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::bot::FakeGuild;
use crate::{FakeUser, RecordedRequest};

/// Discord's default `expires_in` for access tokens (7 days).
const DEFAULT_ACCESS_TOKEN_LIFETIME: u64 = 604_800;

/// An authorization code handed out by `/oauth2/authorize`, waiting to be exchanged.
#[derive(Debug)]
pub(crate) struct PendingCode {
    pub(crate) user_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    pub(crate) expires_at: Instant,
}

/// One access token and when it stops working.
#[derive(Debug)]
pub(crate) struct AccessToken {
    pub(crate) token: String,
    pub(crate) expires_at: Instant,
}

/// One grant of the application by a user: a refresh token (rotated on every refresh) and the
/// access tokens issued under it. Revoking any of its tokens ends all of it.
#[derive(Debug)]
pub(crate) struct Authorization {
    pub(crate) user_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) refresh_token: String,
    pub(crate) access: Vec<AccessToken>,
    pub(crate) alive: bool,
}

/// A failure a test asked for: the next `remaining` requests whose path ends with `path`.
#[derive(Debug)]
pub(crate) struct Injection {
    pub(crate) path: String,
    pub(crate) remaining: usize,
    pub(crate) kind: InjectionKind,
}

/// What an injected failure answers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum InjectionKind {
    Status(u16),
    RateLimited { retry_after: f64, global: bool },
    Malformed,
}

/// One rate-limit window of a (token, route) pair.
#[derive(Debug)]
pub(crate) struct Bucket {
    pub(crate) window_start: Instant,
    pub(crate) used: u32,
}

/// Everything the fake knows, behind the one mutex its clones share.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) users: HashMap<String, FakeUser>,
    pub(crate) login_as: Option<String>,
    pub(crate) deny_next: bool,
    /// `/oauth2/authorize` shows a consent page instead of redirecting at once.
    pub(crate) interactive: bool,
    pub(crate) codes: HashMap<String, PendingCode>,
    pub(crate) authorizations: Vec<Authorization>,
    pub(crate) access_lifetime: u64,
    /// Consulted in order: forced 429s, then failures, then malformed bodies.
    pub(crate) injections: Vec<Injection>,
    pub(crate) malformed_served: usize,
    pub(crate) rate_limits: HashMap<String, (u32, f64)>,
    pub(crate) buckets: HashMap<(String, String), Bucket>,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) revoked: usize,
    pub(crate) authorize_params: Vec<Vec<(String, String)>>,
    /// Discord's global limit, when asked for: at most this many `/users/…` requests in any
    /// second, and the times of those accepted in the last second.
    pub(crate) global_limit: Option<(u32, std::collections::VecDeque<std::time::Instant>)>,
    /// Odd CDN answers a test asked for, by path below `/cdn/`.
    pub(crate) cdn_answers: HashMap<String, crate::CdnAnswer>,
    /// The servers the bot routes know (see [`crate::FakeDiscord::add_guild`]).
    pub(crate) guilds: Vec<FakeGuild>,
    /// The bot's direct messages.
    pub(crate) dms: crate::bot::Dms,
}

impl State {
    /// No users, nobody signed in, no failures asked for.
    pub(crate) fn new() -> Self {
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
            global_limit: None,
            cdn_answers: HashMap::new(),
            guilds: Vec::new(),
            dms: crate::bot::Dms::default(),
        }
    }
}

/// The state behind `state`, even when a test panicked while holding it: one failed test must not
/// take the whole server down with it.
pub(crate) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
