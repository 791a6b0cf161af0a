//! Owns what the store keeps about the community's server, per user: how joining it went and
//! whether the welcome message went out. It must not call Discord nor decide when to retry
//! (that is [`crate::community`]); it only remembers, so that both happen once, across restarts.

use crate::discord::models::Snowflake;

/// Rows of (user id, when due) of active users whose pending join waits for its retry; the
/// same SQL on both backends.
pub(in crate::store) const PENDING_JOINS: &str =
    "SELECT c.user_id, c.join_next_at FROM community_members c
         JOIN users u ON u.id = c.user_id
     WHERE c.join_state = 'pending' AND u.status = 'active' ORDER BY 2";

/// Rows of (user id, when due) of active members whose welcome message waits for its retry.
pub(in crate::store) const PENDING_WELCOMES: &str =
    "SELECT c.user_id, c.welcome_next_at FROM community_members c
         JOIN users u ON u.id = c.user_id
     WHERE c.welcome_state IS NULL AND c.welcome_next_at IS NOT NULL
       AND c.join_state IN ('joined', 'already') AND u.status = 'active' ORDER BY 2";

/// Of `rows` (user id, when due; none: now), the users due at `now` and the earliest time of
/// the others.
pub(in crate::store) fn split_due(
    rows: impl IntoIterator<Item = (String, Option<i64>)>,
    now: i64,
) -> (Vec<Snowflake>, Option<i64>) {
    let (mut due, mut next) = (Vec::new(), None);
    for (id, at) in rows {
        let at = at.unwrap_or(now);
        match Snowflake::parse(&id) {
            Some(id) if at <= now => due.push(id),
            Some(_) => next = Some(next.map_or(at, |next: i64| next.min(at))),
            None => {}
        }
    }
    (due, next)
}

/// Where a user's joining of the community's server stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinState {
    /// Failed for a passing reason; tried again at `next_at`.
    Pending,
    /// Discord answered 201: they joined through strife-gen.
    Joined,
    /// Discord answered 204: they were a member already.
    Already,
    /// Failed for good (banned, too many servers, out of retries): not tried again until they
    /// consent again.
    Failed,
}

impl JoinState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JoinState::Pending => "pending",
            JoinState::Joined => "joined",
            JoinState::Already => "already",
            JoinState::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<JoinState> {
        [
            JoinState::Pending,
            JoinState::Joined,
            JoinState::Already,
            JoinState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }

    /// In the server (whoever put them there): nothing left to do.
    pub(crate) fn is_member(self) -> bool {
        matches!(self, JoinState::Joined | JoinState::Already)
    }
}

/// Whether the welcome message went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WelcomeState {
    Sent,
    /// Discord refused: they take no direct messages from the server's members (code 50007).
    ClosedDms,
}

impl WelcomeState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WelcomeState::Sent => "sent",
            WelcomeState::ClosedDms => "closed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<WelcomeState> {
        [WelcomeState::Sent, WelcomeState::ClosedDms]
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

/// One user's row: what `users list` shows and what the join and welcome check first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Membership {
    pub(crate) join: Option<JoinState>,
    /// Why the last attempt failed, when it did.
    pub(crate) reason: Option<String>,
    /// Failed attempts in a row.
    pub(crate) attempts: u32,
    /// Unix seconds: when a pending join is tried again.
    pub(crate) next_at: Option<i64>,
    pub(crate) welcome: Option<WelcomeState>,
    /// Where a welcome that failed for a passing reason stands (all zero while it never failed).
    pub(crate) welcome_retry: WelcomeRetry,
}

/// A welcome message that failed for a passing reason and is tried again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WelcomeRetry {
    /// Failed attempts in a row.
    pub(crate) attempts: u32,
    /// Why the last one failed.
    pub(crate) reason: Option<String>,
    /// Unix seconds: when it is tried again; `None` once given up (until their next consent).
    pub(crate) next_at: Option<i64>,
}
