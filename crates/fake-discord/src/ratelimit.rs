//! Discord's rate limits as the fake applies them: per-token buckets per route with the
//! `X-RateLimit-*` headers, and the 429 answer. It decides limits only: no route answers here.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::http::Resp;
use crate::state::{Bucket, State};

/// The default bucket of every `/users/...` route, per token: generous so that only tests that ask
/// for rate limiting ever see a 429.
const DEFAULT_RATE_LIMIT: u32 = 1000;
/// The window of the default bucket, in seconds.
const DEFAULT_RATE_RESET_AFTER: f64 = 1.0;

/// Limit and window of the route: the longest `set_rate_limit` suffix that matches, else the
/// default bucket.
pub(crate) fn route_limit(state: &State, path: &str) -> (u32, f64) {
    state
        .rate_limits
        .iter()
        .filter(|(suffix, _)| path.ends_with(suffix.as_str()))
        .max_by_key(|(suffix, _)| suffix.len())
        .map(|(_, limit)| *limit)
        .unwrap_or((DEFAULT_RATE_LIMIT, DEFAULT_RATE_RESET_AFTER))
}

/// An opaque bucket id, the same for every request of a route (as `X-RateLimit-Bucket` is).
fn bucket_id(path: &str) -> String {
    let digest = Sha256::digest(format!("bucket:{path}").as_bytes());
    let mut id = String::with_capacity(32);
    for byte in &digest[..16] {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

/// The `X-RateLimit-*` headers of a bucket with `remaining` of `limit` left.
pub(crate) fn rate_headers(
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
pub(crate) fn take_from_bucket(
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

/// A 429 with Discord's body, `Retry-After` and `X-RateLimit-Scope`.
pub(crate) fn too_many_requests(retry_after: f64, global: bool) -> Resp {
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
