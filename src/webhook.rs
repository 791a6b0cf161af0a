//! Checking incoming webhooks before anything in them is believed: Discord's Ed25519-signed
//! events and the operator's HMAC-signed refresh hook, both with a signed timestamp that must be
//! inside a time window. Also the shapes of Discord's event bodies. No I/O here: a request that
//! passes comes back as a [`Signed`], which the warp side (`server::webhooks`) records in the
//! store to refuse replays.

use std::time::Duration;

use ed25519_dalek::{Signature, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::discord::models::Snowflake;

/// Header carrying Discord's hex Ed25519 signature.
pub(crate) const SIGNATURE_HEADER: &str = "x-signature-ed25519";
/// Header carrying the timestamp (Unix seconds) Discord signed with the body.
pub(crate) const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
/// Header carrying `sha256=<hex HMAC of timestamp "." body>` on the refresh hook.
pub(crate) const HMAC_HEADER: &str = "x-strife-signature";
/// Header carrying the timestamp (Unix seconds) the refresh hook's HMAC covers.
pub(crate) const HMAC_TIMESTAMP_HEADER: &str = "x-strife-timestamp";
/// The largest webhook body accepted; Discord's events are a few hundred bytes.
pub(crate) const MAX_BODY_BYTES: u64 = 64 * 1024;

/// Why a signed request was refused. Every variant means "401". The text goes to the log and to
/// the caller: it names the problem, never the secret.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SignatureError {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the {0} header is malformed")]
    MalformedHeader(&'static str),
    #[error("the signature does not match the signed timestamp and body")]
    Mismatch,
    #[error("the timestamp is {0}s away from our clock, outside the allowed window")]
    Stale(i64),
    #[error("a replay: this signature (timestamp {0}) was already accepted")]
    Replay(i64),
}

/// The refresh hook's secret cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the refresh hook secret is empty or not usable as an HMAC-SHA256 key")]
pub(crate) struct BadSecret;

/// A request whose signature and timestamp checked out. It may still be a replay: the caller
/// records `signature` (see `Store::remember_signature`) and refuses it if it was seen before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signed {
    /// The signature's bytes (decoded from hex, so another spelling of it is the same key).
    pub(crate) signature: Vec<u8>,
    /// The signed timestamp, Unix seconds.
    pub(crate) signed_at: i64,
    /// Timestamps older than this were outside the window at the check: records of them are no
    /// longer needed to refuse a replay, the window refuses it by itself.
    pub(crate) forget_before: i64,
}

/// The allowed distance between a signed timestamp and our clock, either way.
#[derive(Debug, Clone, Copy)]
struct Window {
    tolerance: i64,
}

impl Window {
    fn new(tolerance: Duration) -> Window {
        Window {
            tolerance: i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// Parses the (already authenticated) timestamp and checks it against `now`.
    fn check(
        self,
        signature: Vec<u8>,
        timestamp: &str,
        header: &'static str,
        now: i64,
    ) -> Result<Signed, SignatureError> {
        let signed_at: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::MalformedHeader(header))?;
        let skew = now.saturating_sub(signed_at);
        if skew.saturating_abs() > self.tolerance {
            return Err(SignatureError::Stale(skew));
        }
        Ok(Signed {
            signature,
            signed_at,
            forget_before: now.saturating_sub(self.tolerance),
        })
    }
}

/// Verifies Discord's webhook requests: signature, then timestamp window.
pub(crate) struct DiscordVerifier {
    key: VerifyingKey,
    window: Window,
}

impl DiscordVerifier {
    pub(crate) fn new(key: VerifyingKey, tolerance: Duration) -> DiscordVerifier {
        DiscordVerifier {
            key,
            window: Window::new(tolerance),
        }
    }

    /// Checks the signature over `timestamp || body`, then the timestamp against `now` (Unix
    /// seconds, injected so tests can use fixed fixtures).
    pub(crate) fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Signed, SignatureError> {
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
        // slip past the replay records by presenting a second encoding of the same signature.
        self.key
            .verify_strict(&message, &signature)
            .map_err(|_| SignatureError::Mismatch)?;
        self.window
            .check(bytes.to_vec(), timestamp, TIMESTAMP_HEADER, now)
    }
}

/// Verifies (and, for callers and tests, makes) the refresh hook's signatures:
/// `X-Strife-Signature: sha256=<hex HMAC-SHA256 of timestamp "." body>` with the timestamp in
/// `X-Strife-Timestamp`. Signing the timestamp is what lets a captured request expire.
pub(crate) struct HmacVerifier {
    /// Keyed once; every check works on a clone.
    mac: Hmac<Sha256>,
    window: Window,
}

impl HmacVerifier {
    /// Refuses an empty secret: anyone could sign with it.
    pub(crate) fn new(secret: &str, tolerance: Duration) -> Result<HmacVerifier, BadSecret> {
        if secret.is_empty() {
            return Err(BadSecret);
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| BadSecret)?;
        Ok(HmacVerifier {
            mac,
            window: Window::new(tolerance),
        })
    }

    fn mac_of(&self, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `X-Strife-Signature` value for `body` sent with `X-Strife-Timestamp: <timestamp>`.
    #[cfg(test)]
    pub(crate) fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let tag = self.mac_of(timestamp, body).finalize().into_bytes();
        format!("sha256={}", hex::encode(tag))
    }

    /// Checks the HMAC (in constant time) over `timestamp "." body`, then the timestamp against
    /// `now` (Unix seconds).
    pub(crate) fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Signed, SignatureError> {
        let signature = signature.ok_or(SignatureError::MissingHeader(HMAC_HEADER))?;
        let timestamp = timestamp.ok_or(SignatureError::MissingHeader(HMAC_TIMESTAMP_HEADER))?;
        let tag = signature
            .trim()
            .strip_prefix("sha256=")
            .and_then(|hex_tag| hex::decode(hex_tag).ok())
            .ok_or(SignatureError::MalformedHeader(HMAC_HEADER))?;
        self.mac_of(timestamp, body)
            .verify_slice(&tag)
            .map_err(|_| SignatureError::Mismatch)?;
        self.window
            .check(tag, timestamp, HMAC_TIMESTAMP_HEADER, now)
    }
}

/// The envelope of every Discord webhook request.
#[derive(Debug, Deserialize)]
pub(crate) struct DiscordWebhook {
    pub(crate) version: u32,
    pub(crate) application_id: Snowflake,
    #[serde(rename = "type")]
    pub(crate) kind: WebhookType,
    #[serde(default)]
    pub(crate) event: Option<DiscordEvent>,
}

/// The `type` of a webhook request.
///
/// A type Discord adds later is kept as [`WebhookType::Other`] rather than refused: Discord
/// disables an endpoint that keeps failing, so an unknown type is acknowledged and logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(from = "u8")]
pub(crate) enum WebhookType {
    /// 0: Discord checks that the endpoint is alive.
    Ping,
    /// 1: an event in `event`.
    Event,
    /// Any other number.
    Other(u8),
}

impl From<u8> for WebhookType {
    fn from(number: u8) -> Self {
        match number {
            0 => WebhookType::Ping,
            1 => WebhookType::Event,
            other => WebhookType::Other(other),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct DiscordEvent {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// ISO 8601, e.g. `2024-10-18T14:42:53.064834` (UTC, sometimes without an offset).
    #[serde(default)]
    pub(crate) timestamp: Option<String>,
    #[serde(default)]
    pub(crate) data: serde_json::Value,
}

/// What an event asks strife-gen to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EventAction {
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
    integration_type: Option<IntegrationType>,
    user: EventUser,
}

/// Where an application was installed (`integration_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(from = "u8")]
enum IntegrationType {
    /// 0: to a server.
    Guild,
    /// 1: to a user account.
    User,
    /// A kind Discord added later.
    Other(u8),
}

impl IntegrationType {
    /// The number Discord sent, for logs.
    fn number(self) -> u8 {
        match self {
            IntegrationType::Guild => 0,
            IntegrationType::User => 1,
            IntegrationType::Other(number) => number,
        }
    }
}

impl From<u8> for IntegrationType {
    fn from(number: u8) -> Self {
        match number {
            0 => IntegrationType::Guild,
            1 => IntegrationType::User,
            other => IntegrationType::Other(other),
        }
    }
}

#[derive(Deserialize)]
struct EventUser {
    id: Snowflake,
}

impl DiscordEvent {
    /// Interprets the event; `Err` when a handled event type lacks the fields it must have.
    pub(crate) fn action(&self) -> Result<EventAction, String> {
        let data =
            || EventData::deserialize(&self.data).map_err(|e| format!("{} event: {e}", self.kind));
        match self.kind.as_str() {
            "APPLICATION_AUTHORIZED" => {
                let data = data()?;
                // Installed to a user account; a server install has nothing to do with pages.
                if data.integration_type == Some(IntegrationType::User) {
                    Ok(EventAction::Authorized { user: data.user.id })
                } else {
                    Ok(EventAction::Ignored(format!(
                        "APPLICATION_AUTHORIZED with integration_type {:?} (not a user install)",
                        data.integration_type.map(IntegrationType::number)
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
pub(crate) fn parse_event_time(text: &str) -> Option<i64> {
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
    fn a_valid_signature_comes_back_with_what_the_replay_check_records() {
        let (key, verifier) = keypair();
        let signature = sign(&key, "1000", "{}");
        let signed = verifier
            .verify(Some(&signature), Some("1000"), b"{}", 1010)
            .unwrap();
        assert_eq!(signed.signature, hex::decode(&signature).unwrap());
        assert_eq!(signed.signed_at, 1000);
        assert_eq!(signed.forget_before, 1010 - 300);
        // Upper-case hex is the same signature, so it is the same replay record.
        let upper = verifier
            .verify(Some(&signature.to_uppercase()), Some("1000"), b"{}", 1010)
            .unwrap();
        assert_eq!(upper, signed);
    }

    #[test]
    fn window_is_checked_both_ways() {
        let (key, verifier) = keypair();
        let signature = sign(&key, "1000", "{}");
        let check = |now| {
            verifier
                .verify(Some(&signature), Some("1000"), b"{}", now)
                .map(|_| ())
        };
        assert_eq!(check(1301), Err(SignatureError::Stale(301)));
        assert_eq!(check(699), Err(SignatureError::Stale(-301)));
        assert_eq!(check(1300), Ok(()));
        assert_eq!(check(700), Ok(()));
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

    fn hook() -> HmacVerifier {
        HmacVerifier::new("secret", Duration::from_secs(300)).unwrap()
    }

    #[test]
    fn hmac_covers_timestamp_dot_body() {
        // Computed independently: printf '%s' '1000.{}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            hook().sign("1000", b"{}"),
            "sha256=026360fb6284f077f1148b1ae7c62679730497810a6a0321574de01e8b009e7a"
        );
        let header = hook().sign("1000", b"{}");
        let signed = hook()
            .verify(Some(&header), Some("1000"), b"{}", 1000)
            .unwrap();
        assert_eq!(signed.signed_at, 1000);
        assert_eq!(signed.signature.len(), 32);
        assert_eq!(signed.forget_before, 700);
    }

    #[test]
    fn hmac_failures() {
        let header = hook().sign("1000", b"{}");
        let check = |verifier: &HmacVerifier, signature, timestamp, body: &[u8]| {
            verifier
                .verify(signature, timestamp, body, 1000)
                .map(|_| ())
        };
        let other = HmacVerifier::new("other", Duration::from_secs(300)).unwrap();
        assert_eq!(
            check(&other, Some(&header), Some("1000"), b"{}"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&hook(), Some(&header), Some("1000"), b"{ }"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&hook(), Some(&header), Some("1001"), b"{}"),
            Err(SignatureError::Mismatch),
            "the timestamp is signed"
        );
        assert_eq!(
            check(&hook(), None, Some("1000"), b"{}"),
            Err(SignatureError::MissingHeader(HMAC_HEADER))
        );
        assert_eq!(
            check(&hook(), Some(&header), None, b"{}"),
            Err(SignatureError::MissingHeader(HMAC_TIMESTAMP_HEADER))
        );
        let bare = header.trim_start_matches("sha256=");
        assert_eq!(
            check(&hook(), Some(bare), Some("1000"), b"{}"),
            Err(SignatureError::MalformedHeader(HMAC_HEADER))
        );
        assert_eq!(
            check(&hook(), Some("sha256=xyz"), Some("1000"), b"{}"),
            Err(SignatureError::MalformedHeader(HMAC_HEADER))
        );
        // A truncated tag is a mismatch, not a prefix match.
        assert_eq!(
            check(&hook(), Some(&header[..23]), Some("1000"), b"{}"),
            Err(SignatureError::Mismatch)
        );
        // The old contract (HMAC of the body alone) no longer passes, with or without a timestamp.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"{}");
        let old = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(
            check(&hook(), Some(&old), None, b"{}"),
            Err(SignatureError::MissingHeader(HMAC_TIMESTAMP_HEADER))
        );
        assert_eq!(
            check(&hook(), Some(&old), Some("1000"), b"{}"),
            Err(SignatureError::Mismatch)
        );
        // Signed, but not a number.
        let soon = hook().sign("soon", b"{}");
        assert_eq!(
            check(&hook(), Some(&soon), Some("soon"), b"{}"),
            Err(SignatureError::MalformedHeader(HMAC_TIMESTAMP_HEADER))
        );
    }

    #[test]
    fn hmac_window_is_checked_both_ways() {
        let header = hook().sign("1000", b"{}");
        let check = |now| {
            hook()
                .verify(Some(&header), Some("1000"), b"{}", now)
                .map(|_| ())
        };
        assert_eq!(check(1301), Err(SignatureError::Stale(301)));
        assert_eq!(check(699), Err(SignatureError::Stale(-301)));
        assert_eq!(check(1300), Ok(()));
        assert_eq!(check(700), Ok(()));
    }

    #[test]
    fn an_empty_secret_is_refused() {
        assert!(HmacVerifier::new("", Duration::from_secs(300)).is_err());
    }

    #[test]
    fn errors_never_quote_the_secret() {
        let verifier = HmacVerifier::new("s3cr3t-hook", Duration::from_secs(300)).unwrap();
        let header = verifier.sign("1000", b"{}");
        let errors = [
            verifier.verify(Some(&header), Some("1000"), b"{ }", 1000),
            verifier.verify(Some(&header), Some("1000"), b"{}", 5000),
            verifier.verify(None, None, b"{}", 1000),
        ];
        for error in errors {
            let text = error.unwrap_err().to_string();
            assert!(!text.contains("s3cr3t"), "{text}");
        }
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

#[cfg(test)]
mod proptests;
