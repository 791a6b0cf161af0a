//! Owns pacing requests to Discord's buckets and global limit.
//! It must not send requests itself; the client asks it when to.
//!
//! Client-side pacing for Discord's REST rate limits.
//!
//! Discord counts invalid requests (401/403/429) and bans IPs that send too many, so the point of
//! this module is to *avoid* 429s rather than to recover from them: a request waits before it is
//! sent when its bucket is known to be empty, and the background work is spaced to stay under
//! the global per-second limit. While a bucket's slots are all taken by requests in flight and
//! its next window is unknown, further requests wait for those to end: an answer tells the new
//! window, and a request that ends without one ([`Permit`] dropped) hands its slot back.
//!
//! Two [`Lane`]s share the buckets but not the global pace. Discord applies its global limit per
//! credential ("individuals are determined using a request's authentication"), so the limit
//! itself never binds one user's token; the shared pace is a budget for the refresh, which sends
//! many users' requests from one address without anyone waiting on it. A sign-in's requests are
//! made for a person looking at the page, with that person's fresh token, which nothing else
//! uses: they go in the [`Lane::Interactive`] lane, paced by their buckets only, and never queue
//! behind a refresh. They are few (a human clicks), so they cannot crowd the budget out either.
//!
//! State is keyed by the bucket id Discord sends (`X-RateLimit-Bucket`) *and* the access token,
//! because the `@me` routes are limited per user. Tokens are never stored: only a SHA-256
//! fingerprint ([`TokenKey`]) is.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

/// Longest wait we are willing to sleep for. Anything beyond is treated as an error by the client
/// (a stuck process is worse than a failed refresh that the next run retries).
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Header values above this are considered garbage and ignored.
const MAX_HEADER_SECS: f64 = 86_400.0;

/// Two observed reset times closer than this belong to the same rate-limit window.
const SAME_WINDOW: Duration = Duration::from_secs(1);

/// SHA-256 fingerprint (first 16 bytes) of an access token: identifies the per-user bucket without
/// keeping the token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey([u8; 16]);

impl TokenKey {
    pub(crate) fn of(token: &str) -> Self {
        let digest = Sha256::digest(token.as_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        TokenKey(key)
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenKey({}…)", hex::encode(&self.0[..4]))
    }
}

/// The rate-limit headers of one response. Every field is optional: a malformed or missing header
/// is simply `None` (Discord may omit them, e.g. on the OAuth token endpoint).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RateLimitHeaders {
    pub(crate) limit: Option<u32>,
    pub(crate) remaining: Option<u32>,
    /// `X-RateLimit-Reset`: when the bucket refills, seconds since the Unix epoch.
    pub(crate) reset_epoch: Option<f64>,
    /// `X-RateLimit-Reset-After`: seconds until the bucket refills.
    pub(crate) reset_after: Option<Duration>,
    pub(crate) bucket: Option<String>,
    /// `X-RateLimit-Global` on a 429.
    pub(crate) global: bool,
    /// `Retry-After` (seconds) on a 429.
    pub(crate) retry_after: Option<Duration>,
}

impl RateLimitHeaders {
    pub(crate) fn parse(headers: &HeaderMap) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        RateLimitHeaders {
            limit: text("x-ratelimit-limit").and_then(|v| v.parse().ok()),
            remaining: text("x-ratelimit-remaining").and_then(|v| v.parse().ok()),
            reset_epoch: text("x-ratelimit-reset")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0),
            reset_after: text("x-ratelimit-reset-after").and_then(parse_seconds),
            bucket: text("x-ratelimit-bucket")
                .filter(|v| is_bucket_id(v))
                .map(str::to_owned),
            global: text("x-ratelimit-global").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            retry_after: text("retry-after").and_then(parse_seconds),
        }
    }

    /// Time until the bucket refills: `Reset-After` when present (immune to clock skew), otherwise
    /// derived from the epoch `Reset` and our wall clock.
    pub(crate) fn reset_in(&self, now: SystemTime) -> Option<Duration> {
        if let Some(after) = self.reset_after {
            return Some(after);
        }
        let now_secs = now.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
        let reset = self.reset_epoch?;
        Some(Duration::from_secs_f64(
            (reset - now_secs).clamp(0.0, MAX_HEADER_SECS),
        ))
    }
}

/// Parses a non-negative decimal number of seconds; `None` for garbage, negatives, NaN or values
/// over a day.
pub(crate) fn parse_seconds(text: &str) -> Option<Duration> {
    let secs: f64 = text.trim().parse().ok()?;
    if !(0.0..=MAX_HEADER_SECS).contains(&secs) {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

/// Bucket ids are opaque short hex strings; anything odd is ignored rather than used as a map key.
fn is_bucket_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_graphic())
}

/// Bucket id and the token it is counted for.
type BucketKey = (String, TokenKey);

#[derive(Debug, Clone)]
struct Bucket {
    limit: u32,
    remaining: u32,
    /// `None` after we refilled the bucket ourselves and no response has told us the new window yet.
    resets_at: Option<Instant>,
    /// How many times we refilled the bucket ourselves: tells which unknown window a slot was
    /// taken from.
    refills: u64,
}

impl Bucket {
    fn new(limit: u32, remaining: u32, resets_at: Option<Instant>) -> Self {
        Bucket {
            limit,
            remaining,
            resets_at,
            refills: 0,
        }
    }
}

/// A slot taken from a bucket whose window is unknown (we refilled it ourselves). Only a response
/// to that request can tell the bucket's new state, so if none comes the slot is handed back.
#[derive(Debug, Clone, PartialEq)]
struct Claim {
    key: BucketKey,
    refill: u64,
}

/// Whose request it is, which decides whether it takes a slot of the global pace (see the
/// module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Work nobody waits on (refreshes, builds): spaced to the global budget.
    Background,
    /// A sign-in a person waits on: its buckets only.
    Interactive,
}

/// What a request has to do before it may be sent.
#[derive(Debug, PartialEq)]
enum Step {
    /// Sleep until then and ask again.
    WaitUntil(Instant),
    /// The bucket's slots are all taken by requests still in flight; wait for one to report back
    /// (or to end without a response, which hands its slot back).
    WaitForUpdate,
    /// A slot was taken; send at that instant (global pacing).
    Go(Instant, Option<Claim>),
}

#[derive(Debug)]
struct State {
    /// Route key (e.g. `GET /users/@me`) → bucket id learnt from responses.
    routes: HashMap<String, String>,
    buckets: HashMap<BucketKey, Bucket>,
    /// Set by a global 429: nobody sends before this.
    global_until: Option<Instant>,
    /// Earliest instant the next request may be sent (global pacing).
    next_slot: Instant,
    /// Spacing between two requests: 1s / global_per_second.
    interval: Duration,
    /// The last `per_window` slots handed out, oldest first.
    recent: VecDeque<Instant>,
    /// The global limit: at most this many slots within any [`GLOBAL_WINDOW`].
    per_window: usize,
}

/// The window of Discord's global limit (one second) plus a margin for the requests' different
/// travel times, so that however they arrive, no second at Discord sees more than the limit.
/// Even spacing alone is not enough: a request sent late (a busy runtime) and its punctual
/// successor arrive closer together than the spacing, and a window can then hold one too many.
const GLOBAL_WINDOW: Duration = Duration::from_millis(1050);

impl State {
    fn bucket_id(&self, route: &str, bucket: Option<&str>) -> String {
        bucket
            .or_else(|| self.routes.get(route).map(String::as_str))
            .unwrap_or(route)
            .to_owned()
    }

    /// Decides whether a request on `route` for `token` may go now, taking a slot if so.
    /// `ignore_bucket` skips the bucket check: the last resort after waiting [`MAX_WAIT`] in vain.
    fn reserve(
        &mut self,
        route: &str,
        token: TokenKey,
        lane: Lane,
        now: Instant,
        ignore_bucket: bool,
    ) -> Step {
        if let Some(until) = self.global_until.filter(|until| *until > now) {
            return Step::WaitUntil(until);
        }
        let key = (self.bucket_id(route, None), token);
        let mut claim = None;
        if let Some(bucket) = self.buckets.get_mut(&key).filter(|_| !ignore_bucket) {
            if bucket.resets_at.is_some_and(|at| at <= now) {
                bucket.remaining = bucket.limit;
                bucket.resets_at = None;
                bucket.refills += 1;
            }
            match (bucket.remaining, bucket.resets_at) {
                (0, Some(at)) => return Step::WaitUntil(at),
                (0, None) => return Step::WaitForUpdate,
                // Optimistic: concurrent requests must not all believe they have the last slot.
                (_, resets_at) => {
                    bucket.remaining -= 1;
                    if resets_at.is_none() {
                        claim = Some(Claim {
                            refill: bucket.refills,
                            key,
                        });
                    }
                }
            }
        }
        if lane == Lane::Interactive {
            return Step::Go(now, claim);
        }
        let mut slot = self.next_slot.max(now);
        if self.recent.len() >= self.per_window {
            let oldest = self.recent[self.recent.len() - self.per_window];
            slot = slot.max(oldest + GLOBAL_WINDOW);
        }
        self.recent.push_back(slot);
        while self.recent.len() > self.per_window {
            self.recent.pop_front();
        }
        self.next_slot = slot + self.interval;
        Step::Go(slot, claim)
    }

    /// A request that took `claim` ended without telling us the bucket's state (transport error,
    /// no rate-limit headers). Its slot goes back to the bucket, unless a response or a reset has
    /// moved the bucket on since. Returns whether a slot was freed.
    fn hand_back(&mut self, claim: &Claim) -> bool {
        match self.buckets.get_mut(&claim.key) {
            Some(bucket)
                if bucket.resets_at.is_none()
                    && bucket.refills == claim.refill
                    && bucket.remaining < bucket.limit =>
            {
                bucket.remaining += 1;
                true
            }
            _ => false,
        }
    }

    /// Folds one response's headers into the bucket state. Returns whether they told the bucket's
    /// state (remaining count and reset).
    fn record(
        &mut self,
        route: &str,
        token: TokenKey,
        headers: &RateLimitHeaders,
        now: Instant,
    ) -> bool {
        if let Some(bucket) = &headers.bucket {
            self.routes.insert(route.to_owned(), bucket.clone());
        }
        let (Some(remaining), Some(reset_in)) =
            (headers.remaining, headers.reset_in(SystemTime::now()))
        else {
            return false;
        };
        if reset_in > MAX_WAIT {
            tracing::warn!(route, reset_in = ?reset_in, "ignoring absurd rate-limit reset");
            return false;
        }
        let resets_at = now + reset_in;
        let key = (self.bucket_id(route, headers.bucket.as_deref()), token);
        let limit = headers
            .limit
            .unwrap_or(remaining.saturating_add(1))
            .max(remaining);
        let bucket = self
            .buckets
            .entry(key)
            .or_insert_with(|| Bucket::new(limit, remaining, None));
        bucket.remaining = merged_remaining(bucket, remaining, resets_at, now);
        bucket.limit = limit;
        bucket.resets_at = Some(resets_at);
        true
    }
}

/// Within one window, keep the lower count: our optimistic decrements may know of requests the
/// server has not answered yet, and a late response must not give slots back. A new window starts
/// from what the server says.
fn merged_remaining(old: &Bucket, remaining: u32, resets_at: Instant, now: Instant) -> u32 {
    let same_window = match old.resets_at {
        None => true,
        Some(old_at) if old_at <= now => false,
        Some(old_at) => old_at.max(resets_at) - old_at.min(resets_at) < SAME_WINDOW,
    };
    if same_window {
        old.remaining.min(remaining)
    } else {
        remaining
    }
}

/// Shared limiter of one [`DiscordClient`](super::client::DiscordClient).
#[derive(Debug)]
pub(crate) struct RateLimiter {
    state: Mutex<State>,
    /// Woken whenever a bucket may have room again (a response, a 429, a slot handed back), for
    /// requests in [`Step::WaitForUpdate`]. Shared by all buckets: a waiter just re-checks its own
    /// bucket, and nothing it waits for is restarted by a wake-up.
    updated: Notify,
}

impl RateLimiter {
    /// `global_per_second` must be at least 1.
    pub(crate) fn new(global_per_second: u32) -> Self {
        let interval = Duration::from_secs(1) / global_per_second.max(1);
        RateLimiter {
            state: Mutex::new(State {
                routes: HashMap::new(),
                buckets: HashMap::new(),
                global_until: None,
                next_slot: Instant::now(),
                interval,
                recent: VecDeque::new(),
                per_window: global_per_second.max(1) as usize,
            }),
            updated: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a cache: a panic elsewhere cannot leave it dangerously inconsistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until a request on `route` with this token may be sent, and takes its slot. Hold the
    /// permit while the request is in flight and [record](Permit::record) its response on it.
    pub(crate) async fn acquire<'a>(
        &'a self,
        route: &'a str,
        token: TokenKey,
        lane: Lane,
    ) -> Permit<'a> {
        // Only a backstop: in-flight requests end (answer, error or timeout) long before, and each
        // end wakes the waiters. Fixed up front so that wake-ups never push it back.
        let deadline = Instant::now() + MAX_WAIT;
        loop {
            let now = Instant::now();
            // Register for wake-ups before releasing the lock so an update cannot slip in between.
            let updated = self.updated.notified();
            tokio::pin!(updated);
            updated.as_mut().enable();
            let step = self
                .lock()
                .reserve(route, token, lane, now, now >= deadline);
            match step {
                Step::Go(slot, claim) => {
                    // Built before the sleep: a request dropped while paced still hands back.
                    let permit = Permit {
                        limiter: self,
                        route,
                        token,
                        claim,
                        answered: false,
                    };
                    if slot > now {
                        tokio::time::sleep_until(slot.into()).await;
                    }
                    return permit;
                }
                Step::WaitUntil(until) => {
                    tracing::debug!(route, wait = ?(until - now), "rate limit: waiting for bucket reset");
                    tokio::time::sleep_until(until.into()).await;
                }
                Step::WaitForUpdate => {
                    tracing::debug!(route, "rate limit: bucket slots in flight, waiting");
                    if tokio::time::timeout_at(deadline.into(), updated)
                        .await
                        .is_err()
                    {
                        tracing::warn!(
                            route,
                            "rate limit: in-flight requests never reported back; sending anyway"
                        );
                    }
                }
            }
        }
    }

    /// Records the rate-limit headers of a response (any status); whether they told the state.
    fn record(&self, route: &str, token: TokenKey, headers: &RateLimitHeaders) -> bool {
        let told = self.lock().record(route, token, headers, Instant::now());
        self.updated.notify_waiters();
        told
    }

    /// After a 429 on a bucket: nothing more on it for `wait`.
    pub(crate) fn penalize(&self, route: &str, token: TokenKey, wait: Duration) {
        let mut state = self.lock();
        let until = Instant::now() + wait;
        let key = (state.bucket_id(route, None), token);
        let bucket = state
            .buckets
            .entry(key)
            .or_insert_with(|| Bucket::new(1, 0, None));
        bucket.remaining = 0;
        bucket.resets_at = Some(bucket.resets_at.map_or(until, |at| at.max(until)));
        drop(state);
        self.updated.notify_waiters();
    }

    /// After a global 429: every request waits `wait`.
    pub(crate) fn block_global(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut state = self.lock();
        state.global_until = Some(state.global_until.map_or(until, |at| at.max(until)));
    }

    fn hand_back(&self, claim: &Claim) {
        if self.lock().hand_back(claim) {
            self.updated.notify_waiters();
        }
    }

    /// Whether a global 429 was ever recorded (tests).
    #[cfg(test)]
    pub(crate) fn saw_global_block(&self) -> bool {
        self.lock().global_until.is_some()
    }
}

/// One request's slot, from [`RateLimiter::acquire`] until it is dropped. Dropped without a
/// response that told the bucket's state (transport error, no rate-limit headers), it hands a slot
/// taken from an unknown window back, so the next queued request — one, not all — may go.
#[must_use = "the slot is handed back as soon as the permit is dropped"]
pub(crate) struct Permit<'a> {
    limiter: &'a RateLimiter,
    route: &'a str,
    token: TokenKey,
    claim: Option<Claim>,
    answered: bool,
}

impl Permit<'_> {
    /// Records the rate-limit headers of this request's response (any status).
    pub(crate) fn record(&mut self, headers: &RateLimitHeaders) {
        let told = self.limiter.record(self.route, self.token, headers);
        self.answered |= told;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(claim) = self.claim.take().filter(|_| !self.answered) {
            self.limiter.hand_back(&claim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn state(per_second: u32) -> State {
        State {
            routes: HashMap::new(),
            buckets: HashMap::new(),
            global_until: None,
            next_slot: Instant::now(),
            interval: Duration::from_secs(1) / per_second,
            recent: VecDeque::new(),
            per_window: per_second as usize,
        }
    }

    #[test]
    fn no_window_of_the_global_limit_holds_more_than_the_limit() {
        let mut s = state(10);
        let start = Instant::now();
        // Everyone asks at once, then again after a pause; every slot is checked against the
        // slot ten before it, so late senders can never crowd one second.
        let mut slots = Vec::new();
        for n in 0..35u32 {
            let now = start + Duration::from_millis(if n < 20 { 0 } else { 3_000 });
            match s.reserve(
                "GET /users/@me",
                TokenKey([n as u8; 16]),
                Lane::Background,
                now,
                false,
            ) {
                Step::Go(at, _) => slots.push(at),
                other => panic!("{other:?}"),
            }
        }
        for pair in slots.windows(11) {
            assert!(
                pair[10] - pair[0] >= GLOBAL_WINDOW,
                "{:?}",
                pair[10] - pair[0]
            );
        }
        for pair in slots.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(100));
        }
    }

    #[test]
    fn parses_all_headers() {
        let parsed = RateLimitHeaders::parse(&headers(&[
            ("x-ratelimit-limit", "5"),
            ("x-ratelimit-remaining", "4"),
            ("x-ratelimit-reset", "1470173023.123"),
            ("x-ratelimit-reset-after", "64.57"),
            ("x-ratelimit-bucket", "abcd1234"),
            ("x-ratelimit-global", "true"),
            ("retry-after", "3"),
        ]));
        assert_eq!(parsed.limit, Some(5));
        assert_eq!(parsed.remaining, Some(4));
        assert_eq!(parsed.reset_epoch, Some(1470173023.123));
        assert_eq!(parsed.reset_after, Some(Duration::from_millis(64_570)));
        assert_eq!(parsed.bucket.as_deref(), Some("abcd1234"));
        assert!(parsed.global);
        assert_eq!(parsed.retry_after, Some(Duration::from_secs(3)));
    }

    #[test]
    fn malformed_headers_are_ignored() {
        let parsed = RateLimitHeaders::parse(&headers(&[
            ("x-ratelimit-limit", "-1"),
            ("x-ratelimit-remaining", "lots"),
            ("x-ratelimit-reset", "NaN"),
            ("x-ratelimit-reset-after", "-3"),
            ("x-ratelimit-bucket", ""),
            ("x-ratelimit-global", "yes please"),
            ("retry-after", "1e300"),
        ]));
        assert_eq!(parsed, RateLimitHeaders::default());
        assert_eq!(
            RateLimitHeaders::parse(&HeaderMap::new()),
            RateLimitHeaders::default()
        );
        // Non-UTF-8 bytes must not panic either.
        let mut map = HeaderMap::new();
        map.insert(
            "x-ratelimit-remaining",
            HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        );
        assert_eq!(RateLimitHeaders::parse(&map).remaining, None);
        assert_eq!(parse_seconds("inf"), None);
        assert_eq!(parse_seconds(" 0.5 "), Some(Duration::from_millis(500)));
    }

    #[test]
    fn reset_falls_back_to_epoch() {
        let headers = RateLimitHeaders {
            reset_epoch: Some(1_000.5),
            ..Default::default()
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(headers.reset_in(now), Some(Duration::from_millis(500)));
        // A reset in the past means "now".
        let later = UNIX_EPOCH + Duration::from_secs(2_000);
        assert_eq!(headers.reset_in(later), Some(Duration::ZERO));
    }

    #[test]
    fn token_key_is_a_fingerprint() {
        let key = TokenKey::of("secret-token");
        assert_eq!(key, TokenKey::of("secret-token"));
        assert_ne!(key, TokenKey::of("other-token"));
        assert!(!format!("{key:?}").contains("secret"));
    }

    fn seen(remaining: u32, reset_after_ms: u64) -> RateLimitHeaders {
        RateLimitHeaders {
            limit: Some(2),
            remaining: Some(remaining),
            reset_after: Some(Duration::from_millis(reset_after_ms)),
            bucket: Some("b1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn empty_bucket_waits_for_reset_and_slots_are_taken_optimistically() {
        let mut state = state(1_000_000);
        let token = TokenKey::of("t");
        let now = Instant::now();
        // Unknown bucket: go.
        assert!(matches!(
            state.reserve("GET /a", token, Lane::Background, now, false),
            Step::Go(..)
        ));
        state.record("GET /a", token, &seen(1, 500), now);
        // One slot left: the first request takes it, the second must wait for the reset.
        assert!(matches!(
            state.reserve("GET /a", token, Lane::Background, now, false),
            Step::Go(..)
        ));
        assert_eq!(
            state.reserve("GET /a", token, Lane::Background, now, false),
            Step::WaitUntil(now + Duration::from_millis(500))
        );
        // A late response claiming more room does not give the slot back within the window.
        state.record("GET /a", token, &seen(1, 500), now);
        assert!(matches!(
            state.reserve("GET /a", token, Lane::Background, now, false),
            Step::WaitUntil(_)
        ));
        // Another user's token has its own bucket.
        assert!(matches!(
            state.reserve("GET /a", TokenKey::of("u"), Lane::Background, now, false),
            Step::Go(..)
        ));
        // After the reset the bucket refills to its limit, then waits for news of the new window.
        let later = now + Duration::from_millis(600);
        assert!(matches!(
            state.reserve("GET /a", token, Lane::Background, later, false),
            Step::Go(..)
        ));
        assert!(matches!(
            state.reserve("GET /a", token, Lane::Background, later, false),
            Step::Go(..)
        ));
        assert_eq!(
            state.reserve("GET /a", token, Lane::Background, later, false),
            Step::WaitForUpdate
        );
        assert!(matches!(
            state.reserve("GET /a", token, Lane::Background, later, true),
            Step::Go(..)
        ));
    }

    #[test]
    fn routes_share_a_learnt_bucket() {
        let mut state = state(1_000_000);
        let token = TokenKey::of("t");
        let now = Instant::now();
        state.record("GET /a", token, &seen(0, 500), now);
        state.routes.insert("GET /b".into(), "b1".into());
        assert!(matches!(
            state.reserve("GET /b", token, Lane::Background, now, false),
            Step::WaitUntil(_)
        ));
    }

    #[test]
    fn global_pacing_spaces_requests() {
        let mut state = state(50);
        let token = TokenKey::of("t");
        let now = Instant::now();
        let first = state.reserve("GET /a", token, Lane::Background, now, false);
        let second = state.reserve("GET /b", token, Lane::Background, now, false);
        assert_eq!(first, Step::Go(now, None));
        assert_eq!(second, Step::Go(now + Duration::from_millis(20), None));
    }

    #[test]
    fn a_sign_in_does_not_queue_behind_the_background_pace() {
        let mut state = state(50);
        let now = Instant::now();
        // A refresh has booked the global pace two seconds ahead.
        for n in 0..100u8 {
            state.reserve("GET /a", TokenKey([n; 16]), Lane::Background, now, false);
        }
        let signing_in = TokenKey::of("fresh");
        assert_eq!(
            state.reserve("GET /a", signing_in, Lane::Interactive, now, false),
            Step::Go(now, None)
        );
        // It took no slot of the budget: the next background request goes where it would have.
        let Step::Go(next, _) =
            state.reserve("GET /a", TokenKey::of("b"), Lane::Background, now, false)
        else {
            panic!("a background request must be paced, not refused");
        };
        assert!(next >= now + Duration::from_secs(2));
    }

    #[test]
    fn a_sign_in_still_waits_for_its_own_bucket_and_a_global_block() {
        let mut state = state(50);
        let token = TokenKey::of("t");
        let now = Instant::now();
        state.record("GET /a", token, &seen(0, 500), now);
        assert!(matches!(
            state.reserve("GET /a", token, Lane::Interactive, now, false),
            Step::WaitUntil(at) if at > now
        ));
        let limiter = RateLimiter::new(50);
        limiter.block_global(Duration::from_secs(60));
        let step =
            limiter
                .lock()
                .reserve("GET /a", TokenKey::of("x"), Lane::Interactive, now, false);
        assert!(matches!(step, Step::WaitUntil(until) if until > now));
    }

    #[test]
    fn global_block_stops_everyone() {
        let limiter = RateLimiter::new(50);
        limiter.block_global(Duration::from_secs(60));
        assert!(limiter.saw_global_block());
        let now = Instant::now();
        let step = limiter.lock().reserve(
            "GET /other",
            TokenKey::of("x"),
            Lane::Background,
            now,
            false,
        );
        assert!(matches!(step, Step::WaitUntil(until) if until > now));
    }

    /// Headers of an answer on `bucket` with room for one request per window.
    fn solo(bucket: &str, remaining: u32, reset_after_ms: u64) -> RateLimitHeaders {
        RateLimitHeaders {
            limit: Some(1),
            remaining: Some(remaining),
            reset_after: Some(Duration::from_millis(reset_after_ms)),
            bucket: Some(bucket.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_slot_lost_in_flight_is_handed_back_one_at_a_time() {
        let mut state = state(1_000_000);
        let token = TokenKey::of("t");
        let now = Instant::now();
        // A window that is already over: we refill ourselves and its next window is unknown.
        state.record("GET /a", token, &solo("s", 0, 0), now);
        let Step::Go(_, Some(claim)) = state.reserve("GET /a", token, Lane::Background, now, false)
        else {
            panic!("the only slot of an unknown window must be claimed");
        };
        assert_eq!(
            state.reserve("GET /a", token, Lane::Background, now, false),
            Step::WaitForUpdate
        );
        assert_eq!(
            state.reserve("GET /a", token, Lane::Background, now, false),
            Step::WaitForUpdate
        );
        // That request dies without an answer: one waiter may go, the other still waits.
        assert!(state.hand_back(&claim));
        let Step::Go(_, Some(second)) =
            state.reserve("GET /a", token, Lane::Background, now, false)
        else {
            panic!("the handed-back slot must be taken");
        };
        assert_eq!(
            state.reserve("GET /a", token, Lane::Background, now, false),
            Step::WaitForUpdate
        );
        // Once an answer has told the bucket's window, a lost request gives nothing back.
        state.record("GET /a", token, &solo("s", 0, 500), now);
        assert!(!state.hand_back(&second));
        assert!(matches!(
            state.reserve("GET /a", token, Lane::Background, now, false),
            Step::WaitUntil(_)
        ));
    }

    /// Stands in for Discord: counts the requests it is answering at once.
    #[derive(Default)]
    struct CountingServer {
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
    }

    impl CountingServer {
        async fn answer(&self, delay: Duration) -> RateLimitHeaders {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            solo("s", 0, 5)
        }
    }

    async fn request(limiter: &RateLimiter, server: &CountingServer, delay: Duration) {
        let mut permit = limiter
            .acquire("GET /a", TokenKey::of("t"), Lane::Background)
            .await;
        permit.record(&server.answer(delay).await);
    }

    #[tokio::test]
    async fn a_bucket_of_one_sends_one_request_at_a_time_however_slow_the_answers() {
        let limiter = RateLimiter::new(1000);
        let server = CountingServer::default();
        // Learn the bucket; its window is over, so the next one is unknown until an answer.
        let mut first = limiter
            .acquire("GET /a", TokenKey::of("t"), Lane::Background)
            .await;
        first.record(&solo("s", 0, 0));
        drop(first);
        // The first answer takes longer than any grace period; the others must queue behind it.
        let slow = Duration::from_millis(1500);
        let quick = Duration::from_millis(1);
        let all = async {
            tokio::join!(
                request(&limiter, &server, slow),
                request(&limiter, &server, quick),
                request(&limiter, &server, quick),
                request(&limiter, &server, quick),
            )
        };
        tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .expect("queued requests must all be sent in the end");
        assert_eq!(server.most_in_flight.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_waiter_is_released_while_other_buckets_stay_busy() {
        let limiter = RateLimiter::new(1000);
        let token = TokenKey::of("t");
        let mut learn = limiter.acquire("GET /x", token, Lane::Background).await;
        learn.record(&solo("x", 0, 0));
        drop(learn);
        // Takes bucket x's only slot; its window is unknown, so the waiter below must wait for it.
        let in_flight = limiter.acquire("GET /x", token, Lane::Background).await;
        let stop = AtomicBool::new(false);
        let waiter = async {
            let released = tokio::time::timeout(
                Duration::from_secs(30),
                limiter.acquire("GET /x", token, Lane::Background),
            )
            .await
            .is_ok();
            stop.store(true, Ordering::SeqCst);
            released
        };
        // Steady answers on bucket y wake every waiter, again and again.
        let other_traffic = async {
            while !stop.load(Ordering::SeqCst) {
                let mut permit = limiter.acquire("GET /y", token, Lane::Background).await;
                permit.record(&RateLimitHeaders {
                    limit: Some(50),
                    ..solo("y", 49, 10)
                });
                drop(permit);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        // The request on x dies without an answer (transport error) while y stays busy.
        let dies = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(in_flight);
        };
        let (released, (), ()) = tokio::join!(waiter, other_traffic, dies);
        assert!(released, "the waiter on x was held up by traffic on y");
    }

    #[test]
    fn absurd_reset_is_ignored() {
        let mut state = state(50);
        let token = TokenKey::of("t");
        let now = Instant::now();
        state.record("GET /a", token, &seen(0, 7_200_000), now);
        assert!(matches!(
            state.reserve("GET /a", token, Lane::Background, now, false),
            Step::Go(..)
        ));
    }
}
