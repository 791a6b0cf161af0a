//! Owns the sessions of people editing their own page (`/me`): a sealed cookie bound to one
//! user id, expiring after an hour, with the CSRF token of that session inside.
//! It must not keep anything per session on the server but the ones ended early (`/logout`).
//!
//! The cookie is sealed (XChaCha20-Poly1305) with the site's key (the token key, see
//! [`crate::crypto`]), under associated data of its own: it opens for nothing else sealed with
//! that key, and a stored token cannot pass for a session. So sessions outlive a restart, while
//! a cookie sealed under another key, altered, or made up does not open, and one past its
//! expiry (sealed inside, so the browser cannot extend it) is no session either.
//!
//! The CSRF token is a random value inside the sealed cookie: the page's form repeats it, and a
//! site that makes a browser post to us cannot read it (the cookie is HttpOnly, the form page
//! is ours). Another session's token does not match.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::logins::cookie_value;
use crate::crypto::TokenCipher;
use crate::discord::models::Snowflake;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "strife_session";
/// How long a session lasts after signing in.
pub(crate) const SESSION_TTL: Duration = Duration::from_secs(60 * 60);
/// Associated data of a sealed session.
const SEAL_CONTEXT: &str = "session";

/// A signed-in person, from their cookie.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Session {
    /// Who signed in: the only page this session may change.
    pub(crate) user: Snowflake,
    /// The form's CSRF token (URL-safe base64 of 32 random bytes).
    csrf: String,
    /// Unix seconds.
    expires_at: i64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The CSRF token is a secret of the session: never in logs.
        f.debug_struct("Session")
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The CSRF token the session's forms carry.
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether `sent` is this session's CSRF token (compared in constant time).
    pub(crate) fn csrf_matches(&self, sent: Option<&str>) -> bool {
        sent.is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(self.csrf.as_bytes())))
    }
}

/// Opens and seals session cookies; remembers the sessions ended before their expiry.
pub(crate) struct Sessions {
    /// The site's key; `None` for a service without one (opened offline): no sessions.
    sealer: Option<TokenCipher>,
    /// Hashes of the CSRF tokens of sessions ended by `/logout`, with their expiry.
    ended: Mutex<HashMap<[u8; 32], i64>>,
}

impl Sessions {
    /// Sessions sealed with `sealer`.
    pub(crate) fn new(sealer: Option<TokenCipher>) -> Sessions {
        Sessions {
            sealer,
            ended: Mutex::default(),
        }
    }

    /// The same, with the sessions ended before a restart (the store's: token hash, expiry).
    pub(crate) fn with_ended(self, ended: impl IntoIterator<Item = ([u8; 32], i64)>) -> Sessions {
        self.lock().extend(ended);
        self
    }

    /// A new session for `user` and the cookie value that carries it; `None` without a key.
    pub(crate) fn start(&self, user: Snowflake, now: i64) -> Option<(Session, String)> {
        let sealer = self.sealer.as_ref()?;
        let mut token = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut token);
        let session = Session {
            user,
            csrf: URL_SAFE_NO_PAD.encode(token),
            expires_at: now + SESSION_TTL.as_secs() as i64,
        };
        let json = serde_json::to_string(&session).ok()?;
        let value = URL_SAFE_NO_PAD.encode(sealer.seal(&json, SEAL_CONTEXT));
        Some((session, value))
    }

    /// The session in the raw `Cookie` header, if it is one we sealed, not expired at `now`
    /// and not ended.
    pub(crate) fn find(&self, cookie_header: Option<&str>, now: i64) -> Option<Session> {
        let sealer = self.sealer.as_ref()?;
        let value = cookie_value(cookie_header?, SESSION_COOKIE)?;
        let sealed = URL_SAFE_NO_PAD.decode(value).ok()?;
        let json = sealer.open(&sealed, SEAL_CONTEXT).ok()?;
        let session: Session = serde_json::from_str(&json).ok()?;
        if session.expires_at <= now || self.lock().contains_key(&hash(&session.csrf)) {
            return None;
        }
        Some(session)
    }

    /// Ends `session` before its expiry: its cookie opens no more in this process. Returns
    /// what the store keeps so that it opens no more after a restart either (see
    /// [`Sessions::with_ended`]): the token's hash and the session's expiry.
    pub(crate) fn end(&self, session: &Session, now: i64) -> ([u8; 32], i64) {
        let mut ended = self.lock();
        // Those past their expiry are refused anyway: forget them.
        ended.retain(|_, expiry| *expiry > now);
        let token = hash(&session.csrf);
        ended.insert(token, session.expires_at);
        (token, session.expires_at)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], i64>> {
        self.ended.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;
    const TTL: i64 = SESSION_TTL.as_secs() as i64;

    fn header(value: &str) -> String {
        format!("other=1; {SESSION_COOKIE}={value}")
    }

    #[test]
    fn a_session_opens_for_its_user_until_it_expires() {
        let sessions = Sessions::new(Some(TokenCipher::random()));
        let (session, value) = sessions.start(Snowflake(7), NOW).unwrap();
        let found = sessions.find(Some(&header(&value)), NOW).unwrap();
        assert_eq!(found, session);
        assert_eq!(found.user, Snowflake(7));
        assert!(sessions
            .find(Some(&header(&value)), NOW + TTL - 1)
            .is_some());
        assert!(sessions.find(Some(&header(&value)), NOW + TTL).is_none());
        assert!(sessions.find(None, NOW).is_none());
    }

    #[test]
    fn forged_altered_or_foreign_cookies_are_no_session() {
        let key = TokenCipher::random();
        let sessions = Sessions::new(Some(key.clone()));
        let (_, value) = sessions.start(Snowflake(7), NOW).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&value).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let altered = URL_SAFE_NO_PAD.encode(&bytes);
        let other_key = Sessions::new(Some(TokenCipher::random()))
            .start(Snowflake(7), NOW)
            .unwrap()
            .1;
        // Sealed with the site's key, but for something else (a token's context).
        let json = r#"{"user":"7","csrf":"x","expires_at":9999999999}"#;
        let other_context = URL_SAFE_NO_PAD.encode(key.seal(json, "tokens:7:access"));
        let plain = URL_SAFE_NO_PAD.encode(json);
        for forged in [
            altered,
            other_key,
            other_context,
            plain,
            "!".into(),
            String::new(),
        ] {
            assert!(
                sessions.find(Some(&header(&forged)), NOW).is_none(),
                "{forged}"
            );
        }
        assert!(Sessions::new(None).start(Snowflake(7), NOW).is_none());
        assert!(Sessions::new(None)
            .find(Some(&header(&value)), NOW)
            .is_none());
    }

    #[test]
    fn the_csrf_token_is_the_sessions_own() {
        let sessions = Sessions::new(Some(TokenCipher::random()));
        let (mine, _) = sessions.start(Snowflake(7), NOW).unwrap();
        let (theirs, _) = sessions.start(Snowflake(8), NOW).unwrap();
        assert!(mine.csrf_matches(Some(mine.csrf())));
        assert!(!mine.csrf_matches(Some(theirs.csrf())));
        assert!(!mine.csrf_matches(None));
        assert!(!mine.csrf_matches(Some("")));
        assert!(!format!("{mine:?}").contains(mine.csrf()));
    }

    #[test]
    fn an_ended_session_opens_no_more() {
        let sessions = Sessions::new(Some(TokenCipher::random()));
        let (session, value) = sessions.start(Snowflake(7), NOW).unwrap();
        let (_, other) = sessions.start(Snowflake(7), NOW).unwrap();
        sessions.end(&session, NOW);
        assert!(sessions.find(Some(&header(&value)), NOW).is_none());
        assert!(sessions.find(Some(&header(&other)), NOW).is_some());
    }
}
