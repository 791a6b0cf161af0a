//! Owns the store's one interface: users, sealed tokens, snapshots, name history, replay guards,
//! profile edits, community state, the image cache. It must not let a plaintext token reach the
//! database, nor lose a rotated refresh token.
//!
//! [`Store`] is what every caller uses; behind it sits one backend per database, with the same
//! semantics: [`sqlite`] (the default, one file beside `strife.toml`) and [`postgres`] (a server
//! named by `store.url` or `DATABASE_URL`). Each has its own ordered list of migrations, the two
//! kept in step: a new migration is appended to both.
//!
//! All methods are blocking; async code calls them through [`Store::run`], which moves the work
//! to tokio's blocking pool (the PostgreSQL backend refuses to block an async worker thread).
//!
//! Tokens are sealed with [`TokenCipher`] before they reach either database: the plaintext never
//! leaves memory.

mod community;
mod edits;
mod images;
mod postgres;
mod sqlite;
mod thread;

pub(crate) use community::{JoinState, Membership, WelcomeRetry, WelcomeState};
pub(crate) use edits::{Approval, StoredEdits};
pub(crate) use images::ImagesPending;
pub use thread::allow_blocking;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rusqlite::Connection;

use crate::config::DatabaseUrl;
use crate::crypto::{CryptoError, TokenCipher};
use crate::discord::lenient::decode;
use crate::discord::models::{Snapshot, Snowflake};
use crate::discord::scope::{Scope, UnknownScope};
use crate::edits::ProfileEdits;
use crate::fault::Blame;
use crate::publish::Publish;

/// Plaintext sealed into `meta.key_check`: proves the configured key is the store's key.
const KEY_CHECK: &str = "strife-gen token key check";

#[derive(Debug, thiserror::Error)]
/// Why a store operation failed.
pub enum StoreError {
    #[error("cannot open the store {path}: {source}")]
    /// The store file cannot be opened or migrated.
    Open {
        /// The file or folder concerned.
        path: PathBuf,
        /// What the system or library reported.
        source: rusqlite::Error,
    },
    #[error("the store was written by a newer strife-gen (schema {found}, this one knows {known}); upgrade strife-gen")]
    /// The store was written by a newer strife-gen.
    TooNew {
        /// The schema version found.
        found: usize,
        /// The newest schema version this strife-gen knows.
        known: usize,
    },
    #[error("store error: {0}")]
    /// An SQLite error.
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot reach the PostgreSQL store ({target}, from {setting}): {detail}")]
    /// The PostgreSQL server cannot be reached, refuses the login, or the URL is not valid.
    /// Names the setting and the host, never the password.
    Connect {
        /// Where the URL came from: `store.url` in strife.toml or `DATABASE_URL`.
        setting: &'static str,
        /// The host, port and database (or why the URL does not parse).
        target: String,
        /// What the driver or the server reported.
        detail: String,
    },
    #[error("store error: {0}")]
    /// A PostgreSQL error.
    Postgres(#[from] tokio_postgres::Error),
    #[error("the PostgreSQL store was called from async code outside Store::run; it would block the executor")]
    /// A PostgreSQL store method was called on an async worker thread.
    AsyncCaller,
    #[error("the token key does not match the one this store was written with (check STRIFE_TOKEN_KEY or the key file)")]
    /// The token key is not the store's key.
    WrongKey,
    #[error("stored tokens of user {user} cannot be read: {source}")]
    /// A user's sealed tokens do not open.
    Token {
        /// The user concerned.
        user: Snowflake,
        /// What the system or library reported.
        source: CryptoError,
    },
    #[error("stored snapshot of user {user} is not valid: {detail}")]
    /// A stored snapshot is not valid.
    Snapshot {
        /// The user concerned.
        user: Snowflake,
        /// What is wrong.
        detail: String,
    },
    #[error("stored profile edits of user {user} are not valid: {detail}")]
    /// A user's stored self-service edits do not decode.
    Edits {
        /// The user concerned.
        user: Snowflake,
        /// What is wrong.
        detail: String,
    },
    #[error("stored scopes of user {user}: {source}")]
    /// A stored list of scopes names one strife-gen does not know.
    Scope {
        /// The user concerned.
        user: Snowflake,
        /// What the system or library reported.
        source: UnknownScope,
    },
    #[error("stored user id {0:?} is not a snowflake")]
    /// A stored user id is not a snowflake.
    BadId(String),
    #[error("store task failed: {0}")]
    /// A blocking store task panicked or was cancelled.
    Task(String),
}

impl Blame for StoreError {
    /// A key that does not match the store is fixed in the environment or the key file.
    fn is_users_fault(&self) -> bool {
        matches!(self, StoreError::WrongKey)
    }
}

/// Where a user stands with us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Refreshed and published.
    Active,
    /// Discord refused their refresh token; their last page stays until they consent again (or a
    /// grace period ends).
    NeedsReconsent,
    /// They removed the app or asked for deletion: never published again.
    Revoked,
}

impl UserStatus {
    const ALL: [UserStatus; 3] = [
        UserStatus::Active,
        UserStatus::NeedsReconsent,
        UserStatus::Revoked,
    ];

    /// The name stored in `users.status` (the schema's CHECK lists the same three).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::NeedsReconsent => "needs_reconsent",
            UserStatus::Revoked => "revoked",
        }
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `users.status` value this strife-gen does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown user status {0:?} (known: active, needs_reconsent, revoked)")]
pub struct UnknownStatus(String);

impl FromStr for UserStatus {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        UserStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UnknownStatus(text.to_owned()))
    }
}

/// A row of `users`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub(crate) id: Snowflake,
    pub(crate) username: String,
    pub(crate) scopes: Vec<Scope>,
    pub(crate) publish: Publish,
    /// Where they stand.
    pub status: UserStatus,
    pub(crate) status_since: i64,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) last_refresh_at: Option<i64>,
    /// Why their last refresh failed or their status changed.
    pub last_error: Option<String>,
    /// Whether they saved edits that wait for `users approve` (moderation = "review").
    pub edits_pending: bool,
}

/// A user's OAuth tokens, in the clear: only ever in memory.
#[derive(Clone, PartialEq)]
pub struct Tokens {
    /// The bearer token for Discord's REST API.
    pub access_token: String,
    /// Unix seconds.
    pub access_expires_at: i64,
    /// The token that gets new tokens; Discord rotates it on every refresh.
    pub refresh_token: String,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"<redacted>")
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_token", &"<redacted>")
            .finish()
    }
}

/// What a finished consent carries into the store.
#[derive(Debug, Clone)]
pub struct Consent {
    /// The scopes Discord granted.
    pub scopes: Vec<Scope>,
    /// What they opted in to publishing (already limited to the granted scopes).
    pub publish: Publish,
    /// The tokens of the consent.
    pub tokens: Tokens,
    /// Their Discord data at consent time.
    pub snapshot: Snapshot,
}

/// Everything a page is rendered from.
#[derive(Debug, Clone)]
pub struct PageSource {
    /// The user.
    pub id: Snowflake,
    pub(crate) publish: Publish,
    /// Their latest Discord data.
    pub snapshot: Snapshot,
    /// Past usernames, most recently used first, without the current one: their vanity URLs
    /// redirect to the page.
    pub(crate) old_names: Vec<String>,
    /// When the snapshot's data last changed (Unix seconds).
    pub(crate) changed_at: i64,
    /// What they wrote on their page themselves (`/me`), as published.
    pub(crate) edits: Option<ProfileEdits>,
}

/// What [`Store::revoke_authorization`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revocation {
    Revoked,
    AlreadyRevoked,
    /// The user consented again after the event: nothing changed.
    Stale,
    /// No such user (never consented, or deleted on request).
    Unknown,
}

/// What [`Store::remember_signature`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sighting {
    /// Never seen (inside the window): the request may be acted on.
    First,
    /// Already recorded: the request is a replay.
    Replay,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Where the store lives: which backend, and its file or server.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// An SQLite file (`store.path`).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`store.url` or `DATABASE_URL`).
    Postgres(DatabaseUrl),
}

impl fmt::Display for StoreLocation {
    /// The file, or the server and database (never the password).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StoreLocation::Postgres(url) => f.write_str(&postgres::describe(url)),
        }
    }
}

/// One backend per database; [`Store`]'s methods pick it with one `match` per call.
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// Calls the same method, with the same arguments, on whichever backend the store has.
macro_rules! dispatch {
    ($store:ident . $method:ident ( $($arg:expr),* )) => {
        match &*$store.backend {
            Backend::Sqlite(db) => db.$method($($arg),*),
            Backend::Postgres(db) => db.$method($($arg),*),
        }
    };
}

/// A handle on the store; clones share one backend (one SQLite connection, or one pool).
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = match &*self.backend {
            Backend::Sqlite(db) => db.path().display().to_string(),
            Backend::Postgres(db) => db.target().to_owned(),
        };
        f.debug_struct("Store").field("at", &location).finish()
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the SQLite store at `path`.
    pub(crate) fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store::with(Backend::Sqlite(sqlite::Sqlite::open(path)?)))
    }

    /// Opens the store at `location`, migrating it (a PostgreSQL server must be reachable).
    pub fn open_at(location: &StoreLocation) -> Result<Store, StoreError> {
        match location {
            StoreLocation::Sqlite(path) => Store::open(path),
            StoreLocation::Postgres(url) => Ok(Store::with(Backend::Postgres(
                postgres::Postgres::open(url)?,
            ))),
        }
    }

    fn with(backend: Backend) -> Store {
        Store {
            backend: Arc::new(backend),
        }
    }

    /// The SQLite connection, for tests that read or damage rows by hand.
    #[cfg(test)]
    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        match &*self.backend {
            Backend::Sqlite(db) => db.conn(),
            Backend::Postgres(_) => panic!("an SQLite-only test was given a PostgreSQL store"),
        }
    }

    /// Runs blocking store work off the async executor.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || allow_blocking(|| work(&store)))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Checks that `cipher` is the key this store's tokens were sealed with, recording it on first use.
    pub(crate) fn verify_key(&self, cipher: &TokenCipher) -> Result<(), StoreError> {
        dispatch!(self.verify_key(cipher))
    }

    /// Stores a finished consent in one transaction: the user (active again, whatever they were),
    /// their tokens, their snapshot and their name.
    pub fn record_consent(
        &self,
        consent: &Consent,
        cipher: &TokenCipher,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self.record_consent(consent, cipher, now))
    }

    /// Commits a token response at once, in its own transaction: Discord may have rotated the
    /// refresh token, and the old one is already dead. A user revoked or deleted meanwhile keeps
    /// no tokens.
    pub(crate) fn save_tokens(
        &self,
        id: Snowflake,
        tokens: &Tokens,
        cipher: &TokenCipher,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self.save_tokens(id, tokens, cipher, now))
    }

    /// The tokens of user `id`, opened; `None` when there are none.
    pub fn load_tokens(
        &self,
        id: Snowflake,
        cipher: &TokenCipher,
    ) -> Result<Option<Tokens>, StoreError> {
        dispatch!(self.load_tokens(id, cipher))
    }

    /// Stores a fresh snapshot after a successful refresh and clears the user's last error.
    /// Returns whether the Discord data changed since the previous snapshot. A user revoked or
    /// deleted meanwhile gets no snapshot: nothing changed.
    pub(crate) fn save_snapshot(&self, snapshot: &Snapshot, now: i64) -> Result<bool, StoreError> {
        dispatch!(self.save_snapshot(snapshot, now))
    }

    /// Records a failed refresh: the error, one more failure in a row, and when to try again
    /// (`backoff(failures in a row)` seconds from `now`). Returns the new failure count.
    pub(crate) fn record_failure(
        &self,
        id: Snowflake,
        error: &str,
        now: i64,
        backoff: impl FnOnce(u32) -> i64,
    ) -> Result<u32, StoreError> {
        dispatch!(self.record_failure(id, error, now, backoff))
    }

    /// Failures in a row and the time of the next attempt (None: due now) of a user.
    pub fn retry_state(&self, id: Snowflake) -> Result<Option<(u32, Option<i64>)>, StoreError> {
        dispatch!(self.retry_state(id))
    }

    /// Active users due for a refresh at `now`: those not waiting out a backoff after failures.
    pub(crate) fn due_user_ids(&self, now: i64) -> Result<Vec<Snowflake>, StoreError> {
        dispatch!(self.due_user_ids(now))
    }

    /// Revokes a user after Discord told us they removed the app at `deauthorized_at` (Unix
    /// seconds, if known): their tokens are deleted and their page is no longer published.
    /// An event older than the user's latest consent is stale and changes nothing.
    pub(crate) fn revoke_authorization(
        &self,
        id: Snowflake,
        deauthorized_at: Option<i64>,
        now: i64,
    ) -> Result<Revocation, StoreError> {
        dispatch!(self.revoke_authorization(id, deauthorized_at, now))
    }

    /// Changes a user's status (and records why); tokens of revoked users are deleted with it.
    /// A revoked user stays revoked: only a new consent brings them back.
    pub(crate) fn set_status(
        &self,
        id: Snowflake,
        status: UserStatus,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self.set_status(id, status, reason, now))
    }

    /// Deletes a user and everything stored about them (ON DELETE CASCADE on both backends).
    /// Returns whether they existed.
    pub(crate) fn delete_user(&self, id: Snowflake) -> Result<bool, StoreError> {
        dispatch!(self.delete_user(id))
    }

    /// The row of user `id`, if there is one.
    pub fn user(&self, id: Snowflake) -> Result<Option<UserRecord>, StoreError> {
        dispatch!(self.user(id))
    }

    /// The stored snapshot of user `id` (decoded leniently, as a build does), if there is one.
    pub(crate) fn snapshot(&self, id: Snowflake) -> Result<Option<Snapshot>, StoreError> {
        dispatch!(self.snapshot(id))
    }

    /// Every user, oldest consent first.
    pub fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        dispatch!(self.list_users())
    }

    /// Streams the users whose page is published (active, or waiting for a new consent) with
    /// their snapshot, one at a time, so memory does not grow with the number of users.
    ///
    /// Users waiting for a new consent since before `reconsent_cutoff` (Unix seconds) are left
    /// out: their grace period is over.
    pub fn for_each_published(
        &self,
        reconsent_cutoff: i64,
        mut visit: impl FnMut(Result<PageSource, StoreError>) -> bool,
    ) -> Result<(), StoreError> {
        self.for_each_published_row(reconsent_cutoff, |row| {
            visit(row.and_then(|row| row.page_source()))
        })
    }

    /// [`Store::for_each_published`] without decoding snapshots: each user comes as a
    /// [`PublishedRow`], whose inputs digest is read first and whose snapshot is read only when
    /// asked for (an incremental build skips those of unchanged users). One read transaction:
    /// the users and the snapshots read on request are of one moment.
    pub(crate) fn for_each_published_row(
        &self,
        reconsent_cutoff: i64,
        visit: impl FnMut(Result<PublishedRow<'_>, StoreError>) -> bool,
    ) -> Result<(), StoreError> {
        dispatch!(self.for_each_published_row(reconsent_cutoff, visit))
    }

    /// How many pages [`Store::for_each_published`] would visit now (for progress bars).
    pub(crate) fn count_published(&self, reconsent_cutoff: i64) -> Result<usize, StoreError> {
        dispatch!(self.count_published(reconsent_cutoff))
    }

    /// Records the signature of a verified webhook request, signed at `signed_at` (Unix
    /// seconds), unless it is already recorded: then the request is a replay. Only call it once
    /// the signature and the timestamp window have been checked, so nothing unsigned is stored.
    /// Records signed before `forget_before` are deleted first. The primary key decides between
    /// two copies of one request arriving at once, here or in another process.
    pub(crate) fn remember_signature(
        &self,
        signature: &[u8],
        signed_at: i64,
        forget_before: i64,
    ) -> Result<Sighting, StoreError> {
        dispatch!(self.remember_signature(signature, signed_at, forget_before))
    }

    /// Past usernames of a user, newest first (for redirects from old vanity URLs).
    #[cfg(test)]
    pub(crate) fn name_history(&self, id: Snowflake) -> Result<Vec<String>, StoreError> {
        dispatch!(self.name_history(id))
    }

    /// User `id`'s community row, if the community ever did anything with them.
    pub(crate) fn membership(&self, id: Snowflake) -> Result<Option<Membership>, StoreError> {
        dispatch!(self.membership(id))
    }

    /// Every user's community row, by id (for `users list`).
    pub(crate) fn memberships(&self) -> Result<HashMap<Snowflake, Membership>, StoreError> {
        dispatch!(self.memberships())
    }

    /// Records how joining went for user `id` (`membership`'s join fields; its welcome is left
    /// as stored).
    pub(crate) fn record_join(
        &self,
        id: Snowflake,
        membership: &Membership,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self.record_join(id, membership, now))
    }

    /// Records that the welcome message to user `id` was sent (or could not be: closed DMs);
    /// the retries of earlier failures end with it.
    pub(crate) fn record_welcome(
        &self,
        id: Snowflake,
        welcome: WelcomeState,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self.record_welcome(id, welcome, now))
    }

    /// Active users whose pending join is due at `now`, and when the next one after that is.
    pub(crate) fn due_joins(&self, now: i64) -> Result<(Vec<Snowflake>, Option<i64>), StoreError> {
        dispatch!(self.due_joins(now))
    }

    /// Records that the welcome message to user `id` failed for a passing reason (`retry`).
    pub(crate) fn record_welcome_failure(
        &self,
        id: Snowflake,
        retry: &WelcomeRetry,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self.record_welcome_failure(id, retry, now))
    }

    /// Active members whose welcome message is due to be tried again at `now`, and when the
    /// next one after that is.
    pub(crate) fn due_welcomes(
        &self,
        now: i64,
    ) -> Result<(Vec<Snowflake>, Option<i64>), StoreError> {
        dispatch!(self.due_welcomes(now))
    }

    /// What the welcome message of user `id` is rendered from: their opt-ins and stored
    /// snapshot (`None` without a readable one).
    pub(crate) fn member_profile(
        &self,
        id: Snowflake,
    ) -> Result<Option<(Publish, Snapshot)>, StoreError> {
        dispatch!(self.member_profile(id))
    }

    /// Records that the session whose CSRF token hashes to `token_hash` ended (`POST /logout`)
    /// before `expires_at`, and forgets those already past their expiry at `now`.
    pub(crate) fn end_session(
        &self,
        token_hash: [u8; 32],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self.end_session(token_hash, expires_at, now))
    }

    /// The sessions ended early (token hash and expiry).
    pub(crate) fn ended_sessions(&self) -> Result<Vec<([u8; 32], i64)>, StoreError> {
        dispatch!(self.ended_sessions())
    }

    /// Puts `edits` on user `id`'s page (what waited for approval is dropped: these replace it).
    pub(crate) fn publish_edits(
        &self,
        id: Snowflake,
        edits: &ProfileEdits,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self.publish_edits(id, edits, now))
    }

    /// Keeps `edits` for user `id` until an operator approves them; the page stays as it is.
    pub(crate) fn hold_edits(
        &self,
        id: Snowflake,
        edits: &ProfileEdits,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self.hold_edits(id, edits, now))
    }

    /// User `id`'s edits, published and pending.
    pub(crate) fn edits(&self, id: Snowflake) -> Result<StoredEdits, StoreError> {
        dispatch!(self.edits(id))
    }

    /// Publishes the edits user `id` has waiting.
    pub(crate) fn approve_edits(&self, id: Snowflake, now: i64) -> Result<Approval, StoreError> {
        dispatch!(self.approve_edits(id, now))
    }

    /// The file name (`<hash>.<ext>`) of the cached copy of `url`, if there is one.
    pub(crate) fn image_file(&self, url: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self.image_file(url))
    }

    /// The bytes of the cached file `file` (any URL it was fetched from: the name is its hash).
    pub(crate) fn image_bytes(&self, file: &str) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self.image_bytes(file))
    }

    /// Caches the image fetched from `url`.
    pub(crate) fn save_image(
        &self,
        url: &str,
        file: &str,
        bytes: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self.save_image(url, file, bytes, now))
    }

    /// Published users whose current snapshot's images have not all been fetched (`only`: of
    /// that user alone). Users whose snapshot cannot be read are left out with a warning.
    pub(crate) fn images_pending(
        &self,
        reconsent_cutoff: i64,
        only: Option<Snowflake>,
    ) -> Result<Vec<ImagesPending>, StoreError> {
        dispatch!(self.images_pending(reconsent_cutoff, only))
    }

    /// Records which files the page of `id` uses (`images_key`, a digest of them) and, when
    /// every image was settled, that the snapshot `content_hash` needs no more fetching.
    pub(crate) fn record_images(
        &self,
        id: Snowflake,
        content_hash: Option<&str>,
        images_key: &str,
    ) -> Result<(), StoreError> {
        dispatch!(self.record_images(id, content_hash, images_key))
    }
}

/// The statuses of published users: active ones, and those waiting for a new consent whose
/// grace period has not ended.
const PUBLISHED_STATUSES: [UserStatus; 2] = [UserStatus::Active, UserStatus::NeedsReconsent];

fn token_context(id: Snowflake, column: &str) -> String {
    format!("tokens:{id}:{column}")
}

fn parse_id(text: &str) -> Result<Snowflake, StoreError> {
    Snowflake::parse(text).ok_or_else(|| StoreError::BadId(text.to_owned()))
}

/// The stored scopes of user `id`, strictly, unlike a token response: only strife-gen writes
/// this column, from known scopes.
fn parse_scopes(id: Snowflake, text: &str) -> Result<Vec<Scope>, StoreError> {
    text.split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|source| StoreError::Scope { user: id, source })
}

/// Where a [`PublishedRow`] reads its snapshot and edits: the scan's own read transaction.
#[derive(Clone, Copy)]
pub(crate) enum RowSource<'r> {
    Sqlite(&'r Connection),
    Postgres(&'r postgres::Scan<'r>),
}

/// One published user of [`Store::for_each_published_row`]: what their page is made from, and
/// their snapshot on request.
pub(crate) struct PublishedRow<'r> {
    /// The read transaction the row was read through.
    source: RowSource<'r>,
    /// The user.
    pub(crate) id: Snowflake,
    pub(crate) publish: Publish,
    /// The SHA-256 of the stored snapshot (hex): changes exactly when the snapshot does.
    pub(crate) content_hash: String,
    /// Their current username (the snapshot's; both are written together).
    pub(crate) username: String,
    /// Past usernames, most recently used first, without the current one.
    pub(crate) old_names: Vec<String>,
    /// When the snapshot's data last changed (Unix seconds).
    pub(crate) changed_at: i64,
    /// Of the site's copies of the images the page uses ([`Store::record_images`]); `None`
    /// before any were fetched.
    pub(crate) images_key: Option<String>,
    /// The SHA-256 of their published edits (`/me`); `None` without any.
    pub(crate) edits_key: Option<String>,
}

impl PublishedRow<'_> {
    /// Reads and decodes the snapshot and the edits: everything the page is rendered from.
    pub(crate) fn page_source(self) -> Result<PageSource, StoreError> {
        let id = self.id;
        let data = match self.source {
            RowSource::Sqlite(conn) => sqlite::snapshot_data(conn, id)?,
            RowSource::Postgres(scan) => scan.snapshot_data(id)?,
        };
        // Decoded with the same leniency as Discord's answers: a snapshot written by another
        // version (or by hand) with an odd field loses that detail, not the page.
        let decoded = decode::<Snapshot>(data.as_bytes()).map_err(|e| StoreError::Snapshot {
            user: id,
            detail: e.to_string(),
        })?;
        decoded.warn(id, "the stored snapshot");
        let snapshot = decoded.value;
        // `users.username` follows the snapshot, but the page is made from the snapshot: trust it.
        let old_names = self
            .old_names
            .into_iter()
            .filter(|name| *name != snapshot.user.username)
            .collect();
        let edits = match (self.edits_key, self.source) {
            (None, _) => None,
            (Some(_), RowSource::Sqlite(conn)) => sqlite::published_edits(conn, id),
            (Some(_), RowSource::Postgres(scan)) => scan.published_edits(id),
        };
        Ok(PageSource {
            id,
            publish: self.publish,
            snapshot,
            old_names,
            changed_at: self.changed_at,
            edits,
        })
    }
}

#[cfg(test)]
mod tests;
