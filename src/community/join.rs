//! Owns joining the community's server after a consent, and the welcome message that follows:
//! `PUT /guilds/{id}/members/{user}` with the person's access token, what the success page says
//! about it, the retries of a join that failed for a passing reason, and the one welcome per
//! member. It must not fail or delay a consent beyond [`JOIN_PATIENCE`]: the consent is stored
//! before any of this starts, and every failure here is a line on the page and in the log.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Community;
use crate::crypto::TokenCipher;
use crate::discord::bot::Added;
use crate::discord::cdn::Cdn;
use crate::discord::client::DiscordError;
use crate::discord::models::Snowflake;
use crate::refresh::Backoff;
use crate::site::profile::Profile;
use crate::store::{
    unix_now, JoinState, Membership, Store, StoreError, WelcomeRetry, WelcomeState,
};

/// How long the success page waits for the join; past it the page says the join is on its way
/// and it goes on in the background.
pub(crate) const JOIN_PATIENCE: Duration = Duration::from_secs(5);

/// Discord's "The user is banned from this guild".
const BANNED: i64 = 40007;
/// Discord's "Maximum number of guilds reached".
const TOO_MANY_GUILDS: i64 = 30001;
/// Discord's "Invalid OAuth2 access token" (or one without `guilds.join`).
const INVALID_OAUTH_TOKEN: i64 = 50025;
/// Discord's "Cannot send messages to this user": they take no DMs from the server's members.
const CLOSED_DMS: i64 = 50007;

/// What the success page says about joining the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JoinNote {
    /// Discord answered 201.
    Joined { server: String },
    /// Discord answered 204, or an earlier consent made them a member.
    AlreadyMember { server: String },
    /// Not answered within [`JOIN_PATIENCE`]: it goes on in the background.
    OnItsWay { server: String },
    /// Failed for a passing reason: tried again in a while.
    Retrying { server: String, reason: String },
    /// Failed for good; `line` says why, for the person.
    Failed { line: String },
}

impl JoinNote {
    /// One sentence for the success page.
    pub(crate) fn line(&self) -> String {
        match self {
            JoinNote::Joined { server } => format!("You joined {server}."),
            JoinNote::AlreadyMember { server } => format!("You were already in {server}."),
            JoinNote::OnItsWay { server } => {
                format!("Joining {server} is on its way: you will see it in Discord shortly.")
            }
            JoinNote::Retrying { server, reason } => {
                format!("You are not in {server} yet ({reason}); it is tried again in a while.")
            }
            JoinNote::Failed { line } => line.clone(),
        }
    }
}

/// Why one attempt failed.
enum Failure {
    /// Trying again will not help (banned, too many servers, a token without `guilds.join`).
    Permanent { reason: String, line: String },
    /// Discord down or busy, or the bot lacking a permission the operator can give back.
    Transient { reason: String },
}

/// Joins people to the community's server and welcomes them. Clones share everything.
#[derive(Clone)]
pub(crate) struct Joiner {
    pub(crate) community: Arc<Community>,
    pub(crate) store: Store,
    /// Opens the stored tokens for a retry.
    pub(crate) cipher: TokenCipher,
    /// The refresh's backoff: the wait before retry `n` doubles with `n`.
    pub(crate) backoff: Backoff,
    /// For the profile the welcome message is rendered with.
    pub(crate) cdn: Cdn,
    pub(crate) base_url: url::Url,
    /// Users whose join is being tried right now: a scheduled retry and the refresh loop's must
    /// not both add them (the second would overwrite "joined" with "already").
    busy: Arc<Mutex<HashSet<Snowflake>>>,
}

/// A user claimed in [`Joiner::busy`] until dropped.
struct Claim {
    busy: Arc<Mutex<HashSet<Snowflake>>>,
    id: Snowflake,
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.busy).remove(&self.id);
    }
}

fn lock(busy: &Mutex<HashSet<Snowflake>>) -> std::sync::MutexGuard<'_, HashSet<Snowflake>> {
    busy.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Joiner {
    pub(crate) fn new(
        community: Arc<Community>,
        store: Store,
        cipher: TokenCipher,
        backoff: Backoff,
        cdn: Cdn,
        base_url: url::Url,
    ) -> Joiner {
        Joiner {
            community,
            store,
            cipher,
            backoff,
            cdn,
            base_url,
            busy: Arc::default(),
        }
    }

    fn server(&self) -> String {
        self.community.guild.name.clone()
    }

    fn claim(&self, id: Snowflake) -> Option<Claim> {
        lock(&self.busy).insert(id).then(|| Claim {
            busy: self.busy.clone(),
            id,
        })
    }

    /// The join of someone who just consented with `guilds.join` (their fresh `access_token`),
    /// then their welcome. A member from an earlier consent is neither added nor welcomed again.
    pub(crate) async fn after_consent(&self, id: Snowflake, access_token: &str) -> JoinNote {
        let Some(_claim) = self.claim(id) else {
            return JoinNote::OnItsWay {
                server: self.server(),
            };
        };
        let stored = self.stored(id).await;
        if stored.join.is_some_and(JoinState::is_member) {
            tracing::info!(user = %id, "community: already joined through an earlier consent; nothing sent");
            self.welcome(id).await;
            return JoinNote::AlreadyMember {
                server: self.server(),
            };
        }
        // A new consent starts the count anew: they asked again.
        self.attempt(id, access_token, 0).await
    }

    /// Tries again every pending join and welcome message that is due (after a restart too),
    /// and schedules the next check.
    pub(crate) async fn retry_due(&self) {
        let due = self
            .store
            .run(move |store| {
                let now = unix_now();
                Ok((store.due_joins(now)?, store.due_welcomes(now)?))
            })
            .await;
        let ((joins, next_join), (welcomes, next_welcome)) = match due {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!("community: cannot read the pending joins and welcomes: {error}");
                return;
            }
        };
        for id in joins {
            self.retry(id).await;
        }
        for id in welcomes {
            self.retry_welcome(id).await;
        }
        let next = [next_join, next_welcome].into_iter().flatten().min();
        if let Some(next) = next {
            let wait = u64::try_from(next - unix_now()).unwrap_or(0);
            self.schedule_check(Duration::from_secs(wait));
        }
    }

    /// One retry of user `id`'s pending join, with their stored access token.
    async fn retry(&self, id: Snowflake) {
        let Some(_claim) = self.claim(id) else {
            return;
        };
        let stored = self.stored(id).await;
        // Another check may have tried (and rescheduled) it since this one read what was due.
        let due = stored.next_at.is_none_or(|at| at <= unix_now());
        if stored.join != Some(JoinState::Pending) || !due {
            return;
        }
        let cipher = self.cipher.clone();
        let tokens = self
            .store
            .run(move |store| store.load_tokens(id, &cipher))
            .await;
        let token = match tokens {
            Ok(Some(tokens)) if tokens.access_expires_at > unix_now() => tokens.access_token,
            Ok(Some(_)) => {
                tracing::debug!(user = %id, "community: access token expired; the join is retried after the next refresh");
                return;
            }
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(user = %id, "community: cannot read the tokens for a join retry: {error}");
                return;
            }
        };
        self.attempt(id, &token, stored.attempts).await;
    }

    /// One retry of member `id`'s welcome message, when it is still due.
    async fn retry_welcome(&self, id: Snowflake) {
        let Some(_claim) = self.claim(id) else {
            return;
        };
        let stored = self.stored(id).await;
        let retry = &stored.welcome_retry;
        let due = retry.next_at.is_some_and(|at| at <= unix_now());
        if stored.welcome.is_some() || !due {
            return;
        }
        self.send_welcome(id, retry.attempts).await;
    }

    /// Runs [`Joiner::retry_due`] after `wait`.
    fn schedule_check(&self, wait: Duration) {
        let joiner = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            joiner.retry_due().await;
        });
    }

    /// One `PUT`, recorded; `failures` failed attempts came right before it.
    async fn attempt(&self, id: Snowflake, access_token: &str, failures: u32) -> JoinNote {
        let community = &self.community;
        let added = community
            .bot
            .add_member(community.guild.id, id, access_token, &community.roles)
            .await;
        let (membership, note) = match added {
            Ok(Added::Joined) => {
                tracing::info!(user = %id, guild = %community.guild.id, "community: joined the server");
                let server = self.server();
                (member(JoinState::Joined), JoinNote::Joined { server })
            }
            Ok(Added::AlreadyMember) => {
                tracing::info!(user = %id, guild = %community.guild.id, "community: already a member of the server");
                let server = self.server();
                (
                    member(JoinState::Already),
                    JoinNote::AlreadyMember { server },
                )
            }
            Err(error) => self.failed(id, failures, &error),
        };
        let joined = membership.join.is_some_and(JoinState::is_member);
        if let Err(error) = self.record(id, membership.clone()).await {
            tracing::warn!(user = %id, "community: cannot record how the join went: {error}");
        }
        if joined {
            self.welcome(id).await;
        } else if membership.join == Some(JoinState::Pending) {
            self.schedule_check(self.backoff.after(membership.attempts));
        }
        note
    }

    /// What a failed attempt is recorded as and what the page says.
    fn failed(&self, id: Snowflake, failures: u32, error: &DiscordError) -> (Membership, JoinNote) {
        let server = self.server();
        match classify(error, &server) {
            Failure::Permanent { reason, line } => {
                tracing::warn!(user = %id, "community: joining the server failed for good: {error}");
                let membership = Membership {
                    join: Some(JoinState::Failed),
                    reason: Some(reason),
                    attempts: failures + 1,
                    ..Membership::default()
                };
                (membership, JoinNote::Failed { line })
            }
            Failure::Transient { reason } => {
                let attempts = failures + 1;
                let retries = self.community.join_retries;
                if attempts > retries {
                    tracing::warn!(user = %id, retries, "community: joining the server failed, no retries left: {error}");
                    let membership = Membership {
                        join: Some(JoinState::Failed),
                        reason: Some(format!("{reason} (gave up after {retries} retries)")),
                        attempts,
                        ..Membership::default()
                    };
                    let line = format!("Joining {server} did not work out: {reason}. Sign in here again to try once more.");
                    return (membership, JoinNote::Failed { line });
                }
                let wait = self.backoff.after(attempts);
                tracing::warn!(user = %id, retry = attempts, of = retries, wait = ?wait, "community: joining the server failed, trying again later: {error}");
                let membership = Membership {
                    join: Some(JoinState::Pending),
                    reason: Some(reason.clone()),
                    attempts,
                    next_at: Some(unix_now() + secs(wait)),
                    ..Membership::default()
                };
                (membership, JoinNote::Retrying { server, reason })
            }
        }
    }

    async fn stored(&self, id: Snowflake) -> Membership {
        let stored = self.store.run(move |store| store.membership(id)).await;
        stored
            .unwrap_or_else(|error| {
                tracing::warn!(user = %id, "community: cannot read the join state: {error}");
                None
            })
            .unwrap_or_default()
    }

    async fn record(&self, id: Snowflake, membership: Membership) -> Result<(), StoreError> {
        self.store
            .run(move |store| store.record_join(id, &membership, unix_now()))
            .await
    }

    /// Welcomes member `id` after a join or a consent: a fresh ask, its failures counted anew.
    async fn welcome(&self, id: Snowflake) {
        self.send_welcome(id, 0).await;
    }

    /// Sends the welcome message to member `id`, once: a sent one, or closed DMs, is remembered
    /// and never tried again; any other failure is tried again with the backoff, at most
    /// `community.join_retries` times. `failures` failed attempts came right before this one.
    async fn send_welcome(&self, id: Snowflake, failures: u32) {
        let Some(welcome) = &self.community.welcome else {
            return;
        };
        if self.stored(id).await.welcome.is_some() {
            return;
        }
        let profile = self.store.run(move |store| store.member_profile(id)).await;
        let Ok(Some((publish, snapshot))) = profile else {
            let reason = "no readable profile to welcome them with";
            self.welcome_failed(id, failures, reason, &reason).await;
            return;
        };
        let profile = Profile::build(&snapshot, publish, &self.cdn, &self.base_url);
        let text = match welcome.message_for(&profile) {
            Ok(text) => text,
            Err(error) => {
                tracing::warn!(user = %id, "community: the welcome message did not render: {error:#}");
                return;
            }
        };
        let state = match self.community.bot.send_dm(id, &text).await {
            Ok(()) => {
                tracing::info!(user = %id, "community: welcome message sent");
                WelcomeState::Sent
            }
            Err(DiscordError::Forbidden {
                code: Some(CLOSED_DMS),
                ..
            }) => {
                tracing::info!(user = %id, "community: no welcome message: they take no direct messages from the server's members");
                WelcomeState::ClosedDms
            }
            Err(error) => {
                self.welcome_failed(id, failures, welcome_reason(&error), &error)
                    .await;
                return;
            }
        };
        let recorded = self
            .store
            .run(move |store| store.record_welcome(id, state, unix_now()))
            .await;
        if let Err(error) = recorded {
            tracing::warn!(user = %id, "community: cannot record the welcome message: {error}");
        }
    }
}

impl Joiner {
    /// Records a welcome that failed for `reason` (`error` in full, for the log) and schedules
    /// its retry, or gives it up (until their next consent) when the retries are used up.
    async fn welcome_failed(
        &self,
        id: Snowflake,
        failures: u32,
        reason: &str,
        error: &(dyn std::fmt::Display + Sync),
    ) {
        let attempts = failures + 1;
        let retries = self.community.join_retries;
        let next_at = if attempts > retries {
            tracing::warn!(user = %id, retries, "community: the welcome message was not sent, no retries left (tried again at their next consent): {error}");
            None
        } else {
            let wait = self.backoff.after(attempts);
            tracing::warn!(user = %id, retry = attempts, of = retries, wait = ?wait, "community: the welcome message was not sent, trying again later: {error}");
            self.schedule_check(wait);
            Some(unix_now() + secs(wait))
        };
        let retry = WelcomeRetry {
            attempts,
            reason: Some(reason.to_owned()),
            next_at,
        };
        let recorded = self
            .store
            .run(move |store| store.record_welcome_failure(id, &retry, unix_now()))
            .await;
        if let Err(error) = recorded {
            tracing::warn!(user = %id, "community: cannot record the failed welcome message: {error}");
        }
    }
}

/// `wait` in whole seconds, for adding to a Unix time.
fn secs(wait: Duration) -> i64 {
    i64::try_from(wait.as_secs()).unwrap_or(i64::MAX / 2)
}

/// Why a welcome message failed, in a few words for `users list` (the log has the error).
fn welcome_reason(error: &DiscordError) -> &'static str {
    match error {
        DiscordError::Forbidden { .. } => "the bot may not message them",
        DiscordError::Unauthorized { .. } => "Discord refused the server's bot",
        DiscordError::RetriesExhausted { .. }
        | DiscordError::Transport { .. }
        | DiscordError::Status { status: 429, .. } => "Discord is not answering",
        DiscordError::Status { .. } | DiscordError::Decode { .. } | DiscordError::Config(_) => {
            "Discord refused"
        }
    }
}

fn member(state: JoinState) -> Membership {
    Membership {
        join: Some(state),
        ..Membership::default()
    }
}

/// Sorts a failed `PUT` into what retrying may fix and what it will not.
fn classify(error: &DiscordError, server: &str) -> Failure {
    let permanent = |reason: &str, line: String| Failure::Permanent {
        reason: reason.to_owned(),
        line,
    };
    match error {
        DiscordError::Forbidden {
            code: Some(BANNED), ..
        } => permanent(
            "banned from the server",
            format!("You could not join {server}: this account is banned there."),
        ),
        DiscordError::Status {
            code: Some(TOO_MANY_GUILDS),
            ..
        } => permanent(
            "in too many servers",
            format!("You could not join {server}: your account is in as many servers as Discord allows. Leave one, then sign in here again."),
        ),
        DiscordError::Forbidden {
            code: Some(INVALID_OAUTH_TOKEN),
            ..
        } => permanent(
            "Discord did not accept the sign-in for joining",
            format!("You could not join {server}: Discord did not let this sign-in add you. Sign in here again to try once more."),
        ),
        DiscordError::Forbidden { .. } => Failure::Transient {
            reason: "the server's bot lacks a permission".to_owned(),
        },
        DiscordError::Unauthorized { .. } => Failure::Transient {
            reason: "Discord refused the server's bot".to_owned(),
        },
        DiscordError::RetriesExhausted { .. }
        | DiscordError::Transport { .. }
        | DiscordError::Status { status: 429, .. } => Failure::Transient {
            reason: "Discord is not answering".to_owned(),
        },
        DiscordError::Status { .. } | DiscordError::Decode { .. } | DiscordError::Config(_) => {
            permanent(
                "Discord refused",
                format!("You could not join {server}: Discord refused. Sign in here again to try once more."),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(code: i64) -> DiscordError {
        DiscordError::Forbidden {
            route: "PUT".into(),
            code: Some(code),
            message: String::new(),
        }
    }

    fn is_permanent(error: &DiscordError) -> bool {
        matches!(classify(error, "S"), Failure::Permanent { .. })
    }

    #[test]
    fn only_what_retrying_cannot_fix_is_final() {
        let too_many = DiscordError::Status {
            route: "PUT".into(),
            status: 400,
            code: Some(TOO_MANY_GUILDS),
            message: String::new(),
        };
        for final_error in [forbidden(BANNED), forbidden(INVALID_OAUTH_TOKEN), too_many] {
            assert!(is_permanent(&final_error), "{final_error:?}");
        }
        let down = [
            forbidden(50013),
            forbidden(50001),
            DiscordError::Unauthorized {
                route: "PUT".into(),
            },
            DiscordError::RetriesExhausted {
                route: "PUT".into(),
                last_status: 503,
            },
            DiscordError::Transport {
                route: "PUT".into(),
                detail: "timed out".into(),
            },
            DiscordError::Status {
                route: "PUT".into(),
                status: 429,
                code: None,
                message: String::new(),
            },
        ];
        for passing in down {
            assert!(!is_permanent(&passing), "{passing:?}");
        }
    }

    #[test]
    fn the_page_says_how_it_went_in_one_sentence() {
        let server = || "Synth Club".to_owned();
        assert_eq!(
            JoinNote::Joined { server: server() }.line(),
            "You joined Synth Club."
        );
        assert_eq!(
            JoinNote::AlreadyMember { server: server() }.line(),
            "You were already in Synth Club."
        );
        let line = JoinNote::OnItsWay { server: server() }.line();
        assert!(
            line.starts_with("Joining Synth Club is on its way"),
            "{line}"
        );
    }
}
