//! Sign-ins in progress: the OAuth `state` values handed out by `/login` and `/delete`, waiting for
//! Discord to send the browser back to `/callback`.
//!
//! A state is single use (taken out of the map when it comes back), expires after ten minutes, and
//! is bound to the browser that started it through a random cookie: a callback URL that leaks or is
//! forged into another browser is refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::publish::Publish;

/// How long a sign-in may take between `/login` and `/callback`.
pub const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
/// Upper bound on sign-ins in progress, so a flood of `/login` requests cannot exhaust memory.
const MAX_PENDING: usize = 10_000;
/// Name of the cookie that binds a state to a browser.
pub const BROWSER_COOKIE: &str = "strife_login";

/// What the user is signing in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Publish (or update) their profile with these opt-ins.
    Publish(Publish),
    /// Prove who they are, then delete everything about them.
    Delete,
}

/// A sign-in waiting for its callback.
pub struct PendingLogin {
    pub intent: Intent,
    pub pkce_verifier: String,
    browser: String,
    expires_at: Instant,
}

/// Why a callback's state was refused; each gets its own explanation for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateError {
    /// Unknown, already used, or from before a restart.
    Unknown,
    Expired,
    /// The callback arrived in a browser other than the one that started the sign-in.
    OtherBrowser,
}

#[derive(Default)]
pub struct PendingLogins {
    pending: Mutex<HashMap<String, PendingLogin>>,
}

impl PendingLogins {
    /// Remembers a sign-in. Returns `false` (and remembers nothing) when too many are in progress.
    pub fn insert(
        &self,
        state: String,
        browser: &str,
        intent: Intent,
        pkce_verifier: String,
        now: Instant,
    ) -> bool {
        let mut pending = self.lock();
        pending.retain(|_, login| login.expires_at > now);
        if pending.len() >= MAX_PENDING {
            return false;
        }
        pending.insert(
            state,
            PendingLogin {
                intent,
                pkce_verifier,
                browser: browser.to_owned(),
                expires_at: now + LOGIN_TTL,
            },
        );
        true
    }

    /// Takes the sign-in for `state` out (whatever the outcome: a state is never accepted twice)
    /// and checks it belongs to this browser and is still fresh.
    pub fn take(
        &self,
        state: &str,
        browser: Option<&str>,
        now: Instant,
    ) -> Result<PendingLogin, StateError> {
        let login = self.lock().remove(state).ok_or(StateError::Unknown)?;
        if login.expires_at <= now {
            return Err(StateError::Expired);
        }
        if browser != Some(login.browser.as_str()) {
            return Err(StateError::OtherBrowser);
        }
        Ok(login)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingLogin>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A new random browser id for the cookie.
pub fn new_browser_id() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// Accepts a cookie value as a browser id only if it looks like one we issued.
pub fn valid_browser_id(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(logins: &PendingLogins, state: &str, now: Instant) {
        assert!(logins.insert(
            state.into(),
            "browser-a",
            Intent::Delete,
            "verifier".into(),
            now
        ));
    }

    #[test]
    fn a_state_is_accepted_once() {
        let logins = PendingLogins::default();
        let now = Instant::now();
        login(&logins, "s1", now);
        let taken = logins.take("s1", Some("browser-a"), now).unwrap();
        assert_eq!(taken.pkce_verifier, "verifier");
        assert_eq!(
            logins.take("s1", Some("browser-a"), now).err(),
            Some(StateError::Unknown)
        );
    }

    #[test]
    fn a_state_expires() {
        let logins = PendingLogins::default();
        let now = Instant::now();
        login(&logins, "s1", now);
        let later = now + LOGIN_TTL + Duration::from_secs(1);
        assert_eq!(
            logins.take("s1", Some("browser-a"), later).err(),
            Some(StateError::Expired)
        );
    }

    #[test]
    fn a_state_is_bound_to_its_browser() {
        let logins = PendingLogins::default();
        let now = Instant::now();
        login(&logins, "s1", now);
        login(&logins, "s2", now);
        assert_eq!(
            logins.take("s1", Some("browser-b"), now).err(),
            Some(StateError::OtherBrowser)
        );
        assert_eq!(
            logins.take("s2", None, now).err(),
            Some(StateError::OtherBrowser)
        );
        // A refused attempt burns the state too: it cannot be retried from the right browser.
        assert_eq!(
            logins.take("s1", Some("browser-a"), now).err(),
            Some(StateError::Unknown)
        );
    }

    #[test]
    fn pending_sign_ins_are_bounded() {
        let logins = PendingLogins::default();
        let now = Instant::now();
        for i in 0..MAX_PENDING {
            login(&logins, &format!("s{i}"), now);
        }
        assert!(!logins.insert("one-more".into(), "b", Intent::Delete, "v".into(), now));
        // Expired ones make room again.
        let later = now + LOGIN_TTL + Duration::from_secs(1);
        assert!(logins.insert("one-more".into(), "b", Intent::Delete, "v".into(), later));
    }

    #[test]
    fn browser_ids_look_like_what_we_issue() {
        assert!(valid_browser_id(&new_browser_id()));
        assert!(!valid_browser_id("short"));
        assert!(!valid_browser_id(&"é".repeat(16)));
    }
}
