//! Owns sign-ins in progress: sealed state cookies, single use, expiring.
//! It must not keep server memory for a sign-in nobody finished with its cookie.
//!
//! Sign-ins in progress: the OAuth `state` values handed out by `/login` and `/delete`, waiting for
//! Discord to send the browser back to `/callback`.
//!
//! The server keeps nothing per sign-in it starts: the pending record (state, intent, PKCE
//! verifier, expiry) travels in an HttpOnly cookie, sealed (XChaCha20-Poly1305) under a random key
//! of this process. The cookie's name is derived from the state, so sign-ins in several tabs do not
//! overwrite each other, and a callback URL that leaks or is forged into another browser finds no
//! cookie there and is refused. A flood of unauthenticated `/login` requests therefore costs no
//! server memory and cannot block real sign-ins.
//!
//! A state is single use: once a callback has opened its cookie, the state (hashed) is remembered
//! until the cookie would have expired. Only sealed cookies we issued get that far, so nobody
//! without the key can add entries by sending made-up ones. The key dies with the process: a
//! sign-in started before a restart is refused as unknown.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::TokenCipher;
use crate::publish::Choices;

/// How long a sign-in may take between `/login` and `/callback`.
pub(crate) const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
/// Start of every sign-in cookie's name; the rest is derived from the state.
pub(crate) const COOKIE_PREFIX: &str = "strife_login_";
/// Associated data of the sealed cookies: they open for nothing else sealed with the same key.
const SEAL_CONTEXT: &str = "login-state";
/// How often the used states are swept for expired ones (sweeping is linear in their number).
const SWEEP_EVERY_SECS: i64 = 10;

/// What the user is signing in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Intent {
    /// Publish (or update) their profile with these opt-ins (and join the community's server
    /// if they ticked that).
    Publish(Choices),
    /// Prove who they are, then delete everything about them.
    Delete,
    /// Prove who they are, then edit their page (`/me`): an identify-only sign-in of someone
    /// already published.
    Edit,
}

/// A sign-in waiting for its callback: what the sealed cookie holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct PendingLogin {
    state: String,
    pub(crate) intent: Intent,
    pub(crate) pkce_verifier: String,
    /// Unix seconds.
    expires_at: i64,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The state and the verifier are secrets of the sign-in: never in logs.
        f.debug_struct("PendingLogin")
            .field("intent", &self.intent)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why a callback's state was refused; each gets its own explanation for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateError {
    /// Already used, from before a restart, or a cookie that does not open.
    Unknown,
    Expired,
    /// The browser has no sign-in cookie for this state (another browser started it), or the
    /// cookie under its name holds another state.
    OtherBrowser,
}

/// The cookie that carries one pending sign-in.
pub(crate) struct LoginCookie {
    pub(crate) name: String,
    pub(crate) value: String,
}

pub(crate) struct PendingLogins {
    sealer: TokenCipher,
    used: Mutex<UsedStates>,
}

/// Hashes of the states whose callback came back, with when their cookie expires (Unix seconds).
#[derive(Default)]
struct UsedStates {
    expiry_by_hash: HashMap<[u8; 32], i64>,
    swept_at: i64,
}

impl Default for PendingLogins {
    fn default() -> Self {
        PendingLogins {
            sealer: TokenCipher::random(),
            used: Mutex::default(),
        }
    }
}

impl PendingLogins {
    /// Seals a new sign-in into the cookie the browser keeps until its callback. `now` is Unix
    /// seconds.
    pub(crate) fn start(
        &self,
        state: String,
        intent: Intent,
        pkce_verifier: String,
        now: i64,
    ) -> LoginCookie {
        let name = cookie_name(&state);
        let login = PendingLogin {
            state,
            intent,
            pkce_verifier,
            expires_at: now + LOGIN_TTL.as_secs() as i64,
        };
        let json = serde_json::to_string(&login).expect("a pending sign-in always serialises");
        let value = URL_SAFE_NO_PAD.encode(self.sealer.seal(&json, SEAL_CONTEXT));
        LoginCookie { name, value }
    }

    /// Finds the sign-in for `state` in the raw `Cookie` header, checks it is ours, fresh and for
    /// this state, and marks the state used (a state is never accepted twice).
    pub(crate) fn finish(
        &self,
        state: &str,
        cookie_header: Option<&str>,
        now: i64,
    ) -> Result<PendingLogin, StateError> {
        if state.is_empty() {
            return Err(StateError::Unknown);
        }
        let value = cookie_value(cookie_header.unwrap_or_default(), &cookie_name(state))
            .ok_or(StateError::OtherBrowser)?;
        let login = self.open(value).ok_or(StateError::Unknown)?;
        if login.state != state {
            return Err(StateError::OtherBrowser);
        }
        if login.expires_at <= now {
            return Err(StateError::Expired);
        }
        if !self
            .lock()
            .mark_used(state_hash(state), login.expires_at, now)
        {
            return Err(StateError::Unknown);
        }
        Ok(login)
    }

    /// How many used states are remembered: the only memory sign-ins take on the server.
    pub(crate) fn remembered(&self) -> usize {
        self.lock().expiry_by_hash.len()
    }

    fn open(&self, value: &str) -> Option<PendingLogin> {
        let sealed = URL_SAFE_NO_PAD.decode(value).ok()?;
        let json = self.sealer.open(&sealed, SEAL_CONTEXT).ok()?;
        serde_json::from_str(&json).ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, UsedStates> {
        self.used.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl UsedStates {
    /// Remembers a state until `expires_at`; `false` when it was already used.
    fn mark_used(&mut self, hash: [u8; 32], expires_at: i64, now: i64) -> bool {
        if now - self.swept_at >= SWEEP_EVERY_SECS {
            self.expiry_by_hash.retain(|_, expiry| *expiry > now);
            self.swept_at = now;
        }
        match self.expiry_by_hash.get(&hash) {
            Some(expiry) if *expiry > now => false,
            _ => {
                self.expiry_by_hash.insert(hash, expires_at);
                true
            }
        }
    }
}

fn state_hash(state: &str) -> [u8; 32] {
    Sha256::digest(state.as_bytes()).into()
}

/// The name of the cookie for `state`: a hash, so the name tells nothing about the state and
/// is always a valid cookie name.
pub(crate) fn cookie_name(state: &str) -> String {
    let hash = hex::encode(state_hash(state));
    format!("{COOKIE_PREFIX}{}", &hash[..16])
}

/// The value of cookie `name` in a raw `Cookie` header (`a=1; b=2`).
pub(crate) fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;
    const TTL: i64 = LOGIN_TTL.as_secs() as i64;

    fn start(logins: &PendingLogins, state: &str) -> String {
        let cookie = logins.start(state.into(), Intent::Delete, "verifier".into(), NOW);
        format!("{}={}", cookie.name, cookie.value)
    }

    #[test]
    fn a_state_is_accepted_once() {
        let logins = PendingLogins::default();
        let cookie = start(&logins, "s1");
        let taken = logins.finish("s1", Some(&cookie), NOW).unwrap();
        assert_eq!(taken.pkce_verifier, "verifier");
        assert_eq!(taken.intent, Intent::Delete);
        assert_eq!(logins.remembered(), 1);
        assert_eq!(
            logins.finish("s1", Some(&cookie), NOW + 1).err(),
            Some(StateError::Unknown)
        );
    }

    #[test]
    fn the_intent_and_opt_ins_survive_the_cookie() {
        let logins = PendingLogins::default();
        let choices = Choices {
            publish: crate::publish::Publish {
                connections: true,
                guilds: false,
            },
            join: true,
        };
        let cookie = logins.start("s1".into(), Intent::Publish(choices), "v".into(), NOW);
        let header = format!("other=1; {}={}; last=2", cookie.name, cookie.value);
        let taken = logins.finish("s1", Some(&header), NOW).unwrap();
        assert_eq!(taken.intent, Intent::Publish(choices));
    }

    #[test]
    fn a_state_expires_and_used_ones_are_forgotten_after() {
        let logins = PendingLogins::default();
        let late = start(&logins, "late");
        assert_eq!(
            logins.finish("late", Some(&late), NOW + TTL).err(),
            Some(StateError::Expired)
        );
        let used = start(&logins, "used");
        logins.finish("used", Some(&used), NOW).unwrap();
        assert_eq!(logins.remembered(), 1);
        // A later sign-in's callback sweeps the expired entry out.
        let fresh = logins.start("fresh".into(), Intent::Delete, "v".into(), NOW + TTL);
        let fresh = format!("{}={}", fresh.name, fresh.value);
        logins.finish("fresh", Some(&fresh), NOW + TTL).unwrap();
        assert_eq!(logins.remembered(), 1);
    }

    #[test]
    fn a_state_is_bound_to_its_browser() {
        let logins = PendingLogins::default();
        let first = start(&logins, "s1");
        let second = start(&logins, "s2");
        // No cookie at all, or only another sign-in's cookie: started in another browser.
        assert_eq!(
            logins.finish("s1", None, NOW).err(),
            Some(StateError::OtherBrowser)
        );
        assert_eq!(
            logins.finish("s1", Some(&second), NOW).err(),
            Some(StateError::OtherBrowser)
        );
        // Another state's sealed value put under this state's name.
        let value = second.split_once('=').unwrap().1;
        let renamed = format!("{}={value}", cookie_name("s1"));
        assert_eq!(
            logins.finish("s1", Some(&renamed), NOW).err(),
            Some(StateError::OtherBrowser)
        );
        // None of that used the state up; nothing is remembered for refused attempts.
        assert_eq!(logins.remembered(), 0);
        let header = format!("{second}; {first}");
        assert!(logins.finish("s1", Some(&header), NOW).is_ok());
        assert!(logins.finish("s2", Some(&header), NOW).is_ok());
    }

    #[test]
    fn a_tampered_cookie_does_not_open() {
        let logins = PendingLogins::default();
        let cookie = start(&logins, "s1");
        let (name, value) = cookie.split_once('=').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(value).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{name}={}", URL_SAFE_NO_PAD.encode(&bytes));
        for header in [tampered, format!("{name}=not base64!"), format!("{name}=")] {
            assert_eq!(
                logins.finish("s1", Some(&header), NOW).err(),
                Some(StateError::Unknown),
                "{header}"
            );
        }
        assert_eq!(logins.remembered(), 0);
    }

    #[test]
    fn a_cookie_from_another_process_does_not_open() {
        let before_restart = PendingLogins::default();
        let cookie = start(&before_restart, "s1");
        let after_restart = PendingLogins::default();
        assert_eq!(
            after_restart.finish("s1", Some(&cookie), NOW).err(),
            Some(StateError::Unknown)
        );
        assert_eq!(after_restart.remembered(), 0);
    }

    #[test]
    fn the_cookie_keeps_secrets_out_of_sight() {
        let logins = PendingLogins::default();
        let cookie = logins.start(
            "the-state".into(),
            Intent::Delete,
            "the-verifier".into(),
            NOW,
        );
        assert!(cookie.name.starts_with(COOKIE_PREFIX));
        assert_eq!(cookie.name.len(), COOKIE_PREFIX.len() + 16);
        for shown in [&cookie.name, &cookie.value] {
            assert!(!shown.contains("the-state") && !shown.contains("the-verifier"));
        }
        let header = format!("{}={}", cookie.name, cookie.value);
        let login = logins.finish("the-state", Some(&header), NOW).unwrap();
        let debug = format!("{login:?}");
        assert!(!debug.contains("the-state") && !debug.contains("the-verifier"));
    }
}
