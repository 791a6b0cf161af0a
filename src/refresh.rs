//! Owns refreshing users: token rotation (committed first), refetching, marking re-consent.
//! It must not render or publish anything, nor ever delete a user.
//!
//! Keeping users' data fresh: refresh their tokens when needed, refetch what they opted in to, and
//! store the snapshot their page is rendered from.
//!
//! The rule that matters most here: when Discord answers a refresh grant, the new tokens are
//! committed to the store before anything else happens, because the old refresh token is already
//! dead. A user whose refresh token is refused is marked as needing a new consent, never deleted.

use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use crate::crypto::TokenCipher;
use crate::discord::client::{DiscordClient, DiscordError};
use crate::discord::lenient::Decoded;
use crate::discord::models::{Snapshot, Snowflake};
use crate::discord::oauth::{OAuthClient, OAuthError, TokenSet};
use crate::progress::Progress;
use crate::publish::Publish;
use crate::store::{unix_now, Store, StoreError, Tokens, UserRecord, UserStatus};

/// How often committing rotated tokens is tried before giving up.
const TOKEN_COMMIT_ATTEMPTS: u64 = 4;

/// How long a refresh run may take, beyond the interval between runs: an access token must
/// outlive the next run's use of it.
const RUN_SLACK: Duration = Duration::from_secs(15 * 60);

/// Why refreshing one user failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RefreshError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Discord: {0}")]
    Discord(#[from] DiscordError),
    #[error("token refresh: {0}")]
    OAuth(#[from] OAuthError),
    #[error("Discord answered for user {got} when asked about user {expected}")]
    WrongUser { expected: Snowflake, got: Snowflake },
    #[error("no tokens are stored for this user")]
    NoTokens,
}

/// What happened to one user.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Fresh data stored; `changed` says whether it differs from the previous snapshot.
    Refreshed { changed: bool },
    /// Discord no longer accepts their authorization; they must consent again.
    NeedsReconsent,
    /// Something went wrong this time; their previous snapshot stays.
    Failed,
}

/// Totals of one refresh run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefreshSummary {
    /// Users refreshed.
    pub refreshed: usize,
    pub(crate) changed: usize,
    /// Users whose authorization ended: they must consent again.
    pub needs_reconsent: usize,
    /// Users whose refresh failed this time (retried later).
    pub failed: usize,
}

impl RefreshSummary {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Refreshed { changed } => {
                self.refreshed += 1;
                self.changed += usize::from(*changed);
            }
            Outcome::NeedsReconsent => self.needs_reconsent += 1,
            Outcome::Failed => self.failed += 1,
        }
    }
}

/// Who a refresh run is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// Every active user who is due (not waiting out a backoff after failures).
    pub(crate) everyone: bool,
    /// These users as well, due or not (asked for by name, e.g. by a webhook); only active users
    /// are refreshed, the others are skipped.
    pub(crate) users: Vec<Snowflake>,
}

impl Targets {
    /// Everyone who is due.
    pub fn everyone() -> Targets {
        Targets {
            everyone: true,
            users: Vec::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        !self.everyone && self.users.is_empty()
    }
}

/// How long to wait before retrying a user after `failures` failed refreshes in a row: `base`
/// doubled for each failure after the first, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) base: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    pub(crate) fn after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(32);
        self.base
            .checked_mul(1u32 << doublings.min(31))
            .unwrap_or(self.max)
            .min(self.max)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        let defaults = crate::config::RefreshConfig::default();
        Backoff {
            base: defaults.retry_backoff,
            max: defaults.retry_backoff_max,
        }
    }
}

/// Everything needed to talk to Discord on users' behalf.
#[derive(Clone)]
pub struct Refresher {
    pub(crate) store: Store,
    /// Seals and opens the stored tokens.
    pub cipher: TokenCipher,
    pub(crate) oauth: OAuthClient,
    pub(crate) discord: DiscordClient,
    pub(crate) concurrency: usize,
    /// Waits between retries of a user whose refreshes keep failing.
    pub(crate) backoff: Backoff,
    /// Access tokens that expire sooner than this are refreshed before use
    /// ([`Refresher::access_margin`]).
    pub(crate) access_margin: Duration,
}

impl Refresher {
    /// The access-token margin for runs `interval` apart: a token is refreshed only when it
    /// expires before the next run is over. Every refresh grant rotates the refresh token, and a
    /// rotation lost in a crash costs the user their authorization, so none is done early;
    /// Discord's access tokens live a week, so runs every few hours refresh each user weekly.
    pub(crate) fn access_margin(interval: Duration) -> Duration {
        interval.saturating_add(RUN_SLACK)
    }

    /// Refreshes `targets`, `concurrency` at a time, ticking `progress` once per user.
    pub(crate) async fn refresh(
        &self,
        targets: &Targets,
        progress: &Progress,
    ) -> Result<RefreshSummary, StoreError> {
        let ids = self.ids_of(targets).await?;
        progress.start("refreshing users", ids.len() as u64);
        let summary = stream::iter(ids)
            .map(|id| async move { self.refresh_user(id).await })
            .buffer_unordered(self.concurrency.max(1))
            .fold(
                RefreshSummary::default(),
                |mut summary, outcome| async move {
                    summary.add(&outcome);
                    progress.tick();
                    summary
                },
            )
            .await;
        progress.finish();
        Ok(summary)
    }

    async fn ids_of(&self, targets: &Targets) -> Result<Vec<Snowflake>, StoreError> {
        let targets = targets.clone();
        self.store
            .run(move |store| {
                let mut ids = match targets.everyone {
                    true => store.due_user_ids(unix_now())?,
                    false => Vec::new(),
                };
                for id in targets.users {
                    match store.user(id)? {
                        Some(user) if user.status == UserStatus::Active => ids.push(id),
                        Some(user) => tracing::info!(user = %id, "not refreshed: {}", user.status),
                        None => tracing::info!(user = %id, "not refreshed: unknown user"),
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                Ok(ids)
            })
            .await
    }

    /// Refreshes one user and records the result in the store; never panics, never deletes.
    pub(crate) async fn refresh_user(&self, id: Snowflake) -> Outcome {
        let outcome = match self.try_refresh(id).await {
            Ok(changed) => Outcome::Refreshed { changed },
            Err(RefreshError::OAuth(OAuthError::InvalidGrant { description })) => {
                tracing::warn!(user = %id, "Discord refused the refresh token ({description}); the user must consent again");
                let reason = format!("authorization ended at Discord: {description}");
                self.needs_reconsent(id, reason).await
            }
            Err(RefreshError::NoTokens) => {
                self.needs_reconsent(id, "no stored tokens".to_owned())
                    .await
            }
            Err(error) => {
                let message = error.to_string();
                let backoff = self.backoff;
                let recorded = self
                    .store
                    .run(move |store| {
                        store.record_failure(id, &message, unix_now(), |failures| {
                            backoff.after(failures).as_secs() as i64
                        })
                    })
                    .await;
                match recorded {
                    Ok(failures) => tracing::warn!(
                        user = %id,
                        "refresh failed ({failures} in a row, next try in {}): {error}",
                        humantime::format_duration(self.backoff.after(failures))
                    ),
                    Err(e) => {
                        tracing::error!(user = %id, "refresh failed: {error}; cannot record it: {e}")
                    }
                }
                Outcome::Failed
            }
        };
        outcome
    }

    /// Records that user `id` must consent again, and why.
    async fn needs_reconsent(&self, id: Snowflake, reason: String) -> Outcome {
        let status = UserStatus::NeedsReconsent;
        let marked = self
            .store
            .run(move |store| store.set_status(id, status, Some(&reason), unix_now()))
            .await;
        match marked {
            Ok(()) => Outcome::NeedsReconsent,
            Err(e) => {
                tracing::error!(user = %id, "cannot record that the user must consent again: {e}");
                Outcome::Failed
            }
        }
    }

    async fn try_refresh(&self, id: Snowflake) -> Result<bool, RefreshError> {
        let (record, tokens) = self.load(id).await?;
        let (access_token, fresh) = if self.expires_soon(&tokens) {
            (self.rotate(id, &tokens).await?.access_token, true)
        } else {
            (tokens.access_token.clone(), false)
        };
        let fetched = match self.fetch(&record, &access_token).await {
            // The access token died early (revoked, or Discord reset it): one refresh, one retry
            // with the new token. The dead one is never sent again (every 401 counts towards
            // Discord's limit of invalid requests), and a 401 with a fresh token ends the run
            // for this user.
            Err(RefreshError::Discord(DiscordError::Unauthorized { .. })) if !fresh => {
                let rotated = self.rotate(id, &tokens).await?;
                self.fetch(&record, &rotated.access_token).await?
            }
            other => other?,
        };
        if fetched.value.user.id != id {
            return Err(RefreshError::WrongUser {
                expected: id,
                got: fetched.value.user.id,
            });
        }
        // Odd details are left out of the snapshot, not a reason to keep the old one.
        fetched.warn(id, "Discord");
        let snapshot = fetched.value;
        let changed = self
            .store
            .run(move |store| store.save_snapshot(&snapshot, unix_now()))
            .await?;
        Ok(changed)
    }

    async fn load(&self, id: Snowflake) -> Result<(UserRecord, Tokens), RefreshError> {
        let cipher = self.cipher.clone();
        let (record, tokens) = self
            .store
            .run(move |store| Ok((store.user(id)?, store.load_tokens(id, &cipher)?)))
            .await?;
        match (record, tokens) {
            (Some(record), Some(tokens)) => Ok((record, tokens)),
            _ => Err(RefreshError::NoTokens),
        }
    }

    /// Runs the refresh grant and commits the answer before returning it.
    ///
    /// If Discord refuses the token, the store is read again: another process (a `serve` beside a
    /// manual `build`) may have rotated it meanwhile, and then the newer token is tried once.
    async fn rotate(&self, id: Snowflake, tokens: &Tokens) -> Result<Tokens, RefreshError> {
        match self.rotate_once(id, tokens).await {
            Err(RefreshError::OAuth(OAuthError::InvalidGrant { description })) => {
                let (_, current) = self.load(id).await?;
                if current.refresh_token == tokens.refresh_token {
                    return Err(OAuthError::InvalidGrant { description }.into());
                }
                tracing::info!(user = %id, "refresh token was rotated by another process; using the new one");
                if !self.expires_soon(&current) {
                    return Ok(current);
                }
                self.rotate_once(id, &current).await
            }
            other => other,
        }
    }

    async fn rotate_once(&self, id: Snowflake, tokens: &Tokens) -> Result<Tokens, RefreshError> {
        let answer = self.oauth.refresh(&tokens.refresh_token).await?;
        let rotated = tokens_from(answer, Some(&tokens.refresh_token), unix_now());
        self.commit_tokens(id, &rotated).await?;
        Ok(rotated)
    }

    /// Stores rotated tokens, trying a few times: the old refresh token is already dead at
    /// Discord, so giving up here costs the user their authorization.
    async fn commit_tokens(&self, id: Snowflake, tokens: &Tokens) -> Result<(), StoreError> {
        let mut attempt = 1;
        loop {
            let (cipher, to_store) = (self.cipher.clone(), tokens.clone());
            let saved = self
                .store
                .run(move |store| store.save_tokens(id, &to_store, &cipher, unix_now()))
                .await;
            match saved {
                Ok(()) => return Ok(()),
                Err(error) if attempt < TOKEN_COMMIT_ATTEMPTS => {
                    tracing::warn!(user = %id, "storing rotated tokens failed (attempt {attempt}), retrying: {error}");
                    tokio::time::sleep(Duration::from_secs(attempt)).await;
                    attempt += 1;
                }
                Err(error) => {
                    tracing::error!(user = %id, "rotated tokens could not be stored; the user will have to consent again: {error}");
                    return Err(error);
                }
            }
        }
    }

    /// Fetches the user and whatever they opted in to (and granted).
    async fn fetch(
        &self,
        record: &UserRecord,
        access_token: &str,
    ) -> Result<Decoded<Snapshot>, RefreshError> {
        fetch_snapshot(
            &self.discord,
            access_token,
            record.publish.limited_to(&record.scopes),
        )
        .await
    }
}

/// `GET /users/@me`, then connections and guilds when `publish` asks for them; what had to be
/// left out of any of them is in `dropped`.
pub(crate) async fn fetch_snapshot(
    discord: &DiscordClient,
    access_token: &str,
    publish: Publish,
) -> Result<Decoded<Snapshot>, RefreshError> {
    let mut dropped = Vec::new();
    let user = discord
        .current_user(access_token)
        .await?
        .into_value(&mut dropped);
    let connections = match publish.connections {
        true => Some(
            discord
                .connections(access_token)
                .await?
                .into_value(&mut dropped),
        ),
        false => None,
    };
    let guilds = match publish.guilds {
        true => Some(discord.guilds(access_token).await?.into_value(&mut dropped)),
        false => None,
    };
    Ok(Decoded {
        value: Snapshot {
            user,
            connections,
            guilds,
        },
        dropped,
    })
}

/// Turns a token response into stored tokens. Discord may omit the refresh token when it did not
/// rotate it; then the one we used stays valid.
pub(crate) fn tokens_from(answer: TokenSet, previous_refresh: Option<&str>, now: i64) -> Tokens {
    let expires_in = i64::try_from(answer.expires_in.as_secs()).unwrap_or(i64::MAX / 2);
    Tokens {
        access_token: answer.access_token,
        access_expires_at: now.saturating_add(expires_in),
        refresh_token: answer
            .refresh_token
            .or_else(|| previous_refresh.map(str::to_owned))
            .unwrap_or_default(),
    }
}

impl Refresher {
    /// Whether the access token expires before the next run is over.
    fn expires_soon(&self, tokens: &Tokens) -> bool {
        let margin = i64::try_from(self.access_margin.as_secs()).unwrap_or(i64::MAX);
        tokens.access_expires_at.saturating_sub(unix_now()) < margin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let backoff = Backoff {
            base: Duration::from_secs(60),
            max: Duration::from_secs(600),
        };
        let waits: Vec<u64> = (1..=6).map(|n| backoff.after(n).as_secs()).collect();
        assert_eq!(waits, [60, 120, 240, 480, 600, 600]);
        assert_eq!(backoff.after(u32::MAX).as_secs(), 600);
        assert_eq!(backoff.after(0).as_secs(), 60);
    }
}
