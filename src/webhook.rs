//! Checking incoming webhooks before anything in them is believed: Discord's Ed25519-signed
//! events (with a timestamp window and a replay cache) and the operator's HMAC-signed refresh hook.
//! Also the shapes of Discord's event bodies. No I/O here; the warp side is `server::webhooks`.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use ed25519_dalek::{Signature, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::discord::models::Snowflake;

/// Header carrying Discord's hex Ed25519 signature.
pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
/// Header carrying the timestamp (Unix seconds) Discord signed with the body.
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
/// Header carrying `sha256=<hex HMAC of the body>` on the refresh hook.
pub const HMAC_HEADER: &str = "x-strife-signature";
/// The largest webhook body accepted; Discord's events are a few hundred bytes.
pub const MAX_BODY_BYTES: u64 = 64 * 1024;
/// How many signatures the replay cache holds at most. Only verified signatures enter it, so
/// only Discord's own traffic can fill it; when it is full of still-fresh entries new events are
/// refused (Discord retries later) rather than forgetting one and letting its replay through.
const REPLAY_CAPACITY: usize = 16_384;

/// Why a signed request was refused. Every variant means "401"; the text is for the log only.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the {0} header is malformed")]
    MalformedHeader(&'static str),
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the timestamp is {0}s away from our clock, outside the allowed window")]
    Stale(i64),
    #[error("this signature was already seen (a replay)")]
    Replay,
    #[error("too many recent events to remember; refusing until older ones expire")]
    CacheFull,
}

/// Parses a hex Ed25519 public key; `None` if it is not 32 bytes or not a point on the curve.
pub fn parse_public_key(hex_key: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(hex_key).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Verifies Discord's webhook requests and remembers their signatures for the time window.
pub struct DiscordVerifier {
    key: VerifyingKey,
    tolerance: i64,
    seen: Mutex<ReplayCache>,
}

impl DiscordVerifier {
    pub fn new(key: VerifyingKey, tolerance: Duration) -> DiscordVerifier {
        DiscordVerifier {
            key,
            tolerance: i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX),
            seen: Mutex::new(ReplayCache::default()),
        }
    }

    /// Checks the signature over `timestamp || body`, then the timestamp against `now` (Unix
    /// seconds, injected so tests can use fixed fixtures), then that the signature is new.
    pub fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let signature = signature.ok_or(SignatureError::MissingHeader(SIGNATURE_HEADER))?;
        let timestamp = timestamp.ok_or(SignatureError::MissingHeader(TIMESTAMP_HEADER))?;
        let bytes: [u8; 64] = hex::decode(signature.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(SignatureError::MalformedHeader(SIGNATURE_HEADER))?;
        let signature = Signature::from_bytes(&bytes);
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(body);
        // Strict verification refuses malleable (non-canonical) signatures, so a replay cannot
        // slip past the cache by presenting a second encoding of the same signature.
        self.key
            .verify_strict(&message, &signature)
            .map_err(|_| SignatureError::Mismatch)?;
        let signed_at: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::MalformedHeader(TIMESTAMP_HEADER))?;
        let skew = now.saturating_sub(signed_at);
        if skew.saturating_abs() > self.tolerance {
            return Err(SignatureError::Stale(skew));
        }
        let expires = signed_at.saturating_add(self.tolerance);
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(bytes, expires, now)
    }
}

/// Signatures seen recently, each kept until its timestamp leaves the window (after which the
/// window check alone refuses it).
#[derive(Default)]
struct ReplayCache {
    signatures: HashSet<[u8; 64]>,
    by_expiry: VecDeque<(i64, [u8; 64])>,
}

impl ReplayCache {
    fn insert(
        &mut self,
        signature: [u8; 64],
        expires: i64,
        now: i64,
    ) -> Result<(), SignatureError> {
        self.forget_expired(now);
        if self.signatures.contains(&signature) {
            return Err(SignatureError::Replay);
        }
        if self.signatures.len() >= REPLAY_CAPACITY {
            return Err(SignatureError::CacheFull);
        }
        self.signatures.insert(signature);
        // Keep the queue ordered by expiry: timestamps arrive roughly in order, so this walks
        // back a few entries at most.
        let at = self
            .by_expiry
            .iter()
            .rposition(|(e, _)| *e <= expires)
            .map_or(0, |i| i + 1);
        self.by_expiry.insert(at, (expires, signature));
        Ok(())
    }

    fn forget_expired(&mut self, now: i64) {
        while let Some((expires, signature)) = self.by_expiry.front().copied() {
            if expires >= now {
                break;
            }
            self.by_expiry.pop_front();
            self.signatures.remove(&signature);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.signatures.len()
    }
}

/// Checks the refresh hook's `X-Strife-Signature: sha256=<hex>` in constant time.
pub fn verify_hmac(secret: &str, header: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::MissingHeader(HMAC_HEADER))?;
    let tag = header
        .trim()
        .strip_prefix("sha256=")
        .and_then(|hex_tag| hex::decode(hex_tag).ok())
        .ok_or(SignatureError::MalformedHeader(HMAC_HEADER))?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// `sha256=<hex>` for `body` under `secret`: what a caller of the refresh hook sends.
pub fn hmac_header(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The envelope of every Discord webhook request.
#[derive(Debug, Deserialize)]
pub struct DiscordWebhook {
    pub version: u32,
    pub application_id: Snowflake,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub event: Option<DiscordEvent>,
}

/// Type 0: Discord checks that the endpoint is alive.
pub const WEBHOOK_PING: u8 = 0;
/// Type 1: an event in `event`.
pub const WEBHOOK_EVENT: u8 = 1;

#[derive(Debug, Deserialize)]
pub struct DiscordEvent {
    #[serde(rename = "type")]
    pub kind: String,
    /// ISO 8601, e.g. `2024-10-18T14:42:53.064834` (UTC, sometimes without an offset).
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// What an event asks strife-gen to do.
#[derive(Debug, PartialEq, Eq)]
pub enum EventAction {
    /// A user installed the app to their account: refresh them if we know them.
    Authorized { user: Snowflake },
    /// A user removed the app: revoke them, unless they consented again after `at`.
    Deauthorized { user: Snowflake, at: Option<i64> },
    /// Nothing to do (a guild install, an event type we do not handle); the text says why.
    Ignored(String),
}

#[derive(Deserialize)]
struct EventData {
    #[serde(default)]
    integration_type: Option<u8>,
    user: EventUser,
}

#[derive(Deserialize)]
struct EventUser {
    id: Snowflake,
}

impl DiscordEvent {
    /// Interprets the event; `Err` when a handled event type lacks the fields it must have.
    pub fn action(&self) -> Result<EventAction, String> {
        let data =
            || EventData::deserialize(&self.data).map_err(|e| format!("{} event: {e}", self.kind));
        match self.kind.as_str() {
            "APPLICATION_AUTHORIZED" => {
                let data = data()?;
                // 1 = installed to a user account; 0 = to a server, nothing to do with pages.
                if data.integration_type == Some(1) {
                    Ok(EventAction::Authorized { user: data.user.id })
                } else {
                    Ok(EventAction::Ignored(format!(
                        "APPLICATION_AUTHORIZED with integration_type {:?} (not a user install)",
                        data.integration_type
                    )))
                }
            }
            "APPLICATION_DEAUTHORIZED" => Ok(EventAction::Deauthorized {
                user: data()?.user.id,
                at: self.timestamp.as_deref().and_then(parse_event_time),
            }),
            other => Ok(EventAction::Ignored(format!(
                "unhandled event type {other}"
            ))),
        }
    }
}

/// Unix seconds of an event timestamp: RFC 3339, or ISO 8601 without an offset read as UTC.
pub fn parse_event_time(text: &str) -> Option<i64> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    if let Ok(at) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at.unix_timestamp());
    }
    time::PrimitiveDateTime::parse(text, &Iso8601::DEFAULT)
        .ok()
        .map(|at| at.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn keypair() -> (SigningKey, DiscordVerifier) {
        let signing = SigningKey::from_bytes(&[7u8; 32]);
        let verifier = DiscordVerifier::new(signing.verifying_key(), Duration::from_secs(300));
        (signing, verifier)
    }

    fn sign(key: &SigningKey, timestamp: &str, body: &str) -> String {
        let message = format!("{timestamp}{body}");
        hex::encode(key.sign(message.as_bytes()).to_bytes())
    }

    #[test]
    fn valid_signature_passes_once_then_is_a_replay() {
        let (key, verifier) = keypair();
        let signature = sign(&key, "1000", "{}");
        let check = |now| verifier.verify(Some(&signature), Some("1000"), b"{}", now);
        assert_eq!(check(1000), Ok(()));
        assert_eq!(check(1001), Err(SignatureError::Replay));
    }

    #[test]
    fn window_is_checked_both_ways() {
        let (key, verifier) = keypair();
        let signature = sign(&key, "1000", "{}");
        let check = |now| verifier.verify(Some(&signature), Some("1000"), b"{}", now);
        assert_eq!(check(1301), Err(SignatureError::Stale(301)));
        assert_eq!(check(699), Err(SignatureError::Stale(-301)));
        assert_eq!(check(1300), Ok(()));
    }

    #[test]
    fn bad_headers_are_refused() {
        let (key, verifier) = keypair();
        let signature = sign(&key, "1000", "{}");
        assert_eq!(
            verifier.verify(None, Some("1000"), b"{}", 1000),
            Err(SignatureError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verifier.verify(Some(&signature), None, b"{}", 1000),
            Err(SignatureError::MissingHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verifier.verify(Some("zz"), Some("1000"), b"{}", 1000),
            Err(SignatureError::MalformedHeader(SIGNATURE_HEADER))
        );
        // The timestamp is part of what was signed: changing it breaks the signature.
        assert_eq!(
            verifier.verify(Some(&signature), Some("1001"), b"{}", 1000),
            Err(SignatureError::Mismatch)
        );
        // A signed but non-numeric timestamp is malformed, not stale.
        let odd = sign(&key, "soon", "{}");
        assert_eq!(
            verifier.verify(Some(&odd), Some("soon"), b"{}", 1000),
            Err(SignatureError::MalformedHeader(TIMESTAMP_HEADER))
        );
    }

    #[test]
    fn replay_cache_forgets_what_the_window_refuses_anyway() {
        let mut cache = ReplayCache::default();
        cache.insert([1; 64], 1300, 1000).unwrap();
        cache.insert([2; 64], 1200, 1000).unwrap();
        cache.insert([3; 64], 1400, 1000).unwrap();
        assert_eq!(
            cache.insert([2; 64], 1200, 1100),
            Err(SignatureError::Replay)
        );
        cache.insert([4; 64], 1500, 1250).unwrap();
        assert_eq!(cache.len(), 3, "[2] expired at 1200");
        cache.insert([5; 64], 1600, 1450).unwrap();
        assert_eq!(cache.len(), 2, "only [4] and [5] are left");
    }

    #[test]
    fn replay_cache_is_bounded() {
        let mut cache = ReplayCache::default();
        for n in 0..REPLAY_CAPACITY {
            let mut signature = [0u8; 64];
            signature[..8].copy_from_slice(&(n as u64).to_le_bytes());
            cache.insert(signature, 2000, 1000).unwrap();
        }
        assert_eq!(
            cache.insert([0xff; 64], 2000, 1000),
            Err(SignatureError::CacheFull)
        );
        // Once they expire there is room again.
        assert_eq!(cache.insert([0xff; 64], 3000, 2001), Ok(()));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn hmac_round_trip_and_failures() {
        let header = hmac_header("secret", b"{}");
        assert_eq!(verify_hmac("secret", Some(&header), b"{}"), Ok(()));
        assert_eq!(
            verify_hmac("other", Some(&header), b"{}"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_hmac("secret", Some(&header), b"{ }"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_hmac("secret", None, b"{}"),
            Err(SignatureError::MissingHeader(HMAC_HEADER))
        );
        let bare = header.trim_start_matches("sha256=");
        assert_eq!(
            verify_hmac("secret", Some(bare), b"{}"),
            Err(SignatureError::MalformedHeader(HMAC_HEADER))
        );
        assert_eq!(
            verify_hmac("secret", Some("sha256=xyz"), b"{}"),
            Err(SignatureError::MalformedHeader(HMAC_HEADER))
        );
        // A truncated tag is a mismatch, not a prefix match.
        assert_eq!(
            verify_hmac("secret", Some(&header[..23]), b"{}"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn events_are_interpreted() {
        let event = |kind: &str, data: serde_json::Value| DiscordEvent {
            kind: kind.into(),
            timestamp: Some("2024-10-18T14:42:53.064834".into()),
            data,
        };
        let user = serde_json::json!({"id": "42", "username": "x"});
        assert_eq!(
            event(
                "APPLICATION_AUTHORIZED",
                serde_json::json!({"integration_type": 1, "user": user})
            )
            .action(),
            Ok(EventAction::Authorized {
                user: Snowflake(42)
            })
        );
        assert!(matches!(
            event(
                "APPLICATION_AUTHORIZED",
                serde_json::json!({"integration_type": 0, "user": user})
            )
            .action(),
            Ok(EventAction::Ignored(_))
        ));
        assert_eq!(
            event(
                "APPLICATION_DEAUTHORIZED",
                serde_json::json!({"user": user})
            )
            .action(),
            Ok(EventAction::Deauthorized {
                user: Snowflake(42),
                at: Some(1729262573)
            })
        );
        assert!(event("APPLICATION_DEAUTHORIZED", serde_json::json!({}))
            .action()
            .is_err());
        assert!(matches!(
            event("QUEST_USER_ENROLLMENT", serde_json::json!({})).action(),
            Ok(EventAction::Ignored(_))
        ));
    }

    #[test]
    fn event_times_with_and_without_offset() {
        assert_eq!(parse_event_time("2024-10-18T14:42:53Z"), Some(1729262573));
        assert_eq!(
            parse_event_time("2024-10-18T16:42:53+02:00"),
            Some(1729262573)
        );
        assert_eq!(parse_event_time("2024-10-18T14:42:53"), Some(1729262573));
        assert_eq!(parse_event_time("yesterday"), None);
    }
}
