//! Owns the SQLite side of the store: one file, its connection and every statement run on it.
//! It must not let a plaintext token reach disk, nor lose a rotated refresh token.
//!
//! One file, opened in WAL mode with a busy timeout, so `serve` and a `build` started by hand can use
//! it at the same time. All methods are blocking; async code calls them through `Store::run`,
//! which moves the work to tokio's blocking pool.

mod community;
mod edits;
mod images;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql};
use sha2::{Digest, Sha256};

use super::{
    parse_id, token_context, Consent, PublishedRow, Revocation, RowSource, Sighting, StoreError,
    Tokens, UserRecord, UserStatus, KEY_CHECK, PUBLISHED_STATUSES,
};
use crate::crypto::TokenCipher;
use crate::discord::lenient::decode;
use crate::discord::models::{Snapshot, Snowflake, User};
use crate::discord::scope::Scope;
use crate::publish::Publish;

pub(super) use edits::published_edits;
#[cfg(test)]
pub(super) use schema::latest_version;

/// How long a writer waits for another process's write to finish before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite store: one connection for writes and point reads, a connection of its own per
/// build scan.
pub(crate) struct Sqlite {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl ToSql for UserStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

/// Reading an unknown status is an error, never a guess: a guess of `Active` would publish a
/// user who may have been revoked by a newer strife-gen.
impl FromSql for UserStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e: super::UnknownStatus| FromSqlError::Other(Box::new(e)))
    }
}

impl Sqlite {
    /// Opens (creating if needed) and migrates the store at `path`.
    pub(crate) fn open(path: &Path) -> Result<Sqlite, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                path: path.to_owned(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        }
        create_private(path).map_err(|e| StoreError::Open {
            path: path.to_owned(),
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        })?;
        let mut conn = connect(path)?;
        schema::migrate(&mut conn)?;
        Ok(Sqlite {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll back),
        // so a poisoned lock is still safe to use.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Checks that `cipher` is the key this store's tokens were sealed with, recording it on first use.
    pub(crate) fn verify_key(&self, cipher: &TokenCipher) -> Result<(), StoreError> {
        let conn = self.conn();
        let stored: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match stored {
            Some(sealed) => match cipher.open(&sealed, "meta:key_check") {
                Ok(text) if text == KEY_CHECK => Ok(()),
                _ => Err(StoreError::WrongKey),
            },
            None => {
                // OR IGNORE: another process may record its key check at the same moment; then
                // ours must match the one that won.
                let sealed = cipher.seal(KEY_CHECK, "meta:key_check");
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('key_check', ?1)",
                    params![sealed],
                )?;
                drop(conn);
                self.verify_key(cipher)
            }
        }
    }

    /// Stores a finished consent in one transaction: the user (active again, whatever they were),
    /// their tokens, their snapshot and their name.
    pub(crate) fn record_consent(
        &self,
        consent: &Consent,
        cipher: &TokenCipher,
        now: i64,
    ) -> Result<(), StoreError> {
        let user = &consent.snapshot.user;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.prepare_cached(
            "INSERT INTO users (id, username, scopes, publish_connections, publish_guilds, status,
                                status_since, created_at, updated_at, last_refresh_at, last_error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?6, ?6, ?6, ?6, NULL)
             ON CONFLICT (id) DO UPDATE SET
                username = excluded.username, scopes = excluded.scopes,
                publish_connections = excluded.publish_connections,
                publish_guilds = excluded.publish_guilds,
                status = excluded.status, status_since = excluded.status_since,
                updated_at = excluded.updated_at, last_refresh_at = excluded.last_refresh_at,
                last_error = NULL, failure_count = 0, next_attempt_at = NULL",
        )?
        .execute(params![
            user.id.to_string(),
            user.username,
            Scope::join(&consent.scopes),
            consent.publish.connections,
            consent.publish.guilds,
            now,
            UserStatus::Active
        ])?;
        write_tokens(&tx, user.id, &consent.tokens, cipher, now)?;
        write_snapshot(&tx, &consent.snapshot, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Commits a token response at once, in its own transaction: Discord may have rotated the
    /// refresh token, and the old one is already dead.
    pub(crate) fn save_tokens(
        &self,
        id: Snowflake,
        tokens: &Tokens,
        cipher: &TokenCipher,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        // A user revoked (or deleted) meanwhile, e.g. by `serve` while a manual build was
        // refreshing them, keeps no tokens.
        let revoked: bool = tx
            .query_row(
                "SELECT status = ?2 FROM users WHERE id = ?1",
                params![id.to_string(), UserStatus::Revoked],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(true);
        if revoked {
            tracing::info!(user = %id, "not storing new tokens: the user was revoked or deleted meanwhile");
            return Ok(());
        }
        write_tokens(&tx, id, tokens, cipher, now)?;
        tx.commit()?;
        Ok(())
    }

    /// The tokens of user `id`, opened; `None` when there are none.
    pub(crate) fn load_tokens(
        &self,
        id: Snowflake,
        cipher: &TokenCipher,
    ) -> Result<Option<Tokens>, StoreError> {
        let row: Option<(Vec<u8>, i64, Vec<u8>)> = self
            .conn()
            .query_row(
                "SELECT access_token, access_expires_at, refresh_token FROM tokens WHERE user_id = ?1",
                params![id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((access, access_expires_at, refresh)) = row else {
            return Ok(None);
        };
        let open = |sealed: &[u8], column: &str| {
            cipher
                .open(sealed, &token_context(id, column))
                .map_err(|source| StoreError::Token { user: id, source })
        };
        Ok(Some(Tokens {
            access_token: open(&access, "access")?,
            access_expires_at,
            refresh_token: open(&refresh, "refresh")?,
        }))
    }

    /// Stores a fresh snapshot after a successful refresh and clears the user's last error.
    /// Returns whether the Discord data changed since the previous snapshot.
    /// A user revoked or deleted meanwhile (by `serve`'s render queue while the refresh queue was
    /// fetching them, or by another process) gets no snapshot: nothing changed.
    pub(crate) fn save_snapshot(&self, snapshot: &Snapshot, now: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let id = snapshot.user.id;
        let status: Option<UserStatus> = tx
            .prepare_cached("SELECT status FROM users WHERE id = ?1")?
            .query_row(params![id.to_string()], |r| r.get(0))
            .optional()?;
        if status.is_none_or(|status| status == UserStatus::Revoked) {
            tracing::info!(user = %id, "not storing the snapshot: the user was revoked or deleted meanwhile");
            return Ok(false);
        }
        let changed = write_snapshot(&tx, snapshot, now)?;
        tx.prepare_cached(
            "UPDATE users SET username = ?2, last_refresh_at = ?3, updated_at = ?3, last_error = NULL,
                              failure_count = 0, next_attempt_at = NULL
             WHERE id = ?1",
        )?
        .execute(params![snapshot.user.id.to_string(), snapshot.user.username, now])?;
        tx.commit()?;
        Ok(changed)
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
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let count: Option<u32> = tx
            .query_row(
                "UPDATE users SET failure_count = failure_count + 1, last_error = ?2, updated_at = ?3
                 WHERE id = ?1 RETURNING failure_count",
                params![id.to_string(), error, now],
                |r| r.get(0),
            )
            .optional()?;
        let Some(count) = count else {
            return Ok(0);
        };
        tx.execute(
            "UPDATE users SET next_attempt_at = ?2 WHERE id = ?1",
            params![id.to_string(), now.saturating_add(backoff(count))],
        )?;
        tx.commit()?;
        Ok(count)
    }

    /// Failures in a row and the time of the next attempt (None: due now) of a user.
    pub(crate) fn retry_state(
        &self,
        id: Snowflake,
    ) -> Result<Option<(u32, Option<i64>)>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT failure_count, next_attempt_at FROM users WHERE id = ?1",
                params![id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Active users due for a refresh at `now`: those not waiting out a backoff after failures.
    pub(crate) fn due_user_ids(&self, now: i64) -> Result<Vec<Snowflake>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT id FROM users WHERE status = ?2
               AND (next_attempt_at IS NULL OR next_attempt_at <= ?1) ORDER BY id",
        )?;
        let ids =
            statement.query_map(params![now, UserStatus::Active], |r| r.get::<_, String>(0))?;
        ids.map(|id| parse_id(&id?)).collect()
    }

    /// Revokes a user after Discord told us they removed the app at `deauthorized_at` (Unix
    /// seconds, if known): their tokens are deleted and their page is no longer published.
    /// Events arrive late and out of order, so an event older than the user's latest consent is
    /// stale and changes nothing.
    pub(crate) fn revoke_authorization(
        &self,
        id: Snowflake,
        deauthorized_at: Option<i64>,
        now: i64,
    ) -> Result<Revocation, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let row: Option<(UserStatus, i64)> = tx
            .query_row(
                "SELECT status, status_since FROM users WHERE id = ?1",
                params![id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((status, since)) = row else {
            return Ok(Revocation::Unknown);
        };
        if status == UserStatus::Revoked {
            return Ok(Revocation::AlreadyRevoked);
        }
        if status == UserStatus::Active && deauthorized_at.is_some_and(|at| at < since) {
            return Ok(Revocation::Stale);
        }
        tx.execute(
            "UPDATE users SET status = ?3, status_since = ?2, updated_at = ?2,
                              last_error = 'removed the app at Discord'
             WHERE id = ?1",
            params![id.to_string(), now, UserStatus::Revoked],
        )?;
        tx.execute(
            "DELETE FROM tokens WHERE user_id = ?1",
            params![id.to_string()],
        )?;
        tx.commit()?;
        Ok(Revocation::Revoked)
    }

    /// Changes a user's status (and records why); tokens of revoked users are deleted with it.
    pub(crate) fn set_status(
        &self,
        id: Snowflake,
        status: UserStatus,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            // A revoked user stays revoked: only a new consent (`record_consent`) brings them
            // back, never a refresh that failed meanwhile in another process.
            "UPDATE users SET status = ?2, status_since = ?3, updated_at = ?3,
                              last_error = COALESCE(?4, last_error)
             WHERE id = ?1 AND status <> ?2 AND status <> ?5",
            params![id.to_string(), status, now, reason, UserStatus::Revoked],
        )?;
        if status == UserStatus::Revoked {
            tx.execute(
                "DELETE FROM tokens WHERE user_id = ?1",
                params![id.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes a user and everything stored about them. Returns whether they existed.
    pub(crate) fn delete_user(&self, id: Snowflake) -> Result<bool, StoreError> {
        let conn = self.conn();
        // ON DELETE CASCADE removes tokens, snapshot, name history, image records and profile
        // edits with the user.
        let deleted = conn.execute("DELETE FROM users WHERE id = ?1", params![id.to_string()])?;
        Ok(deleted > 0)
    }

    /// The row of user `id`, if there is one.
    pub(crate) fn user(&self, id: Snowflake) -> Result<Option<UserRecord>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!("{USER_COLUMNS} WHERE id = ?1"))?;
        let row = statement
            .query_row(params![id.to_string()], read_user)
            .optional()?;
        row.transpose()
    }

    /// The stored snapshot of user `id` (decoded leniently, as a build does), if there is one.
    pub(crate) fn snapshot(&self, id: Snowflake) -> Result<Option<Snapshot>, StoreError> {
        let data: Option<String> = self
            .conn()
            .prepare_cached("SELECT data FROM snapshots WHERE user_id = ?1")?
            .query_row(params![id.to_string()], |row| row.get(0))
            .optional()?;
        let Some(data) = data else {
            return Ok(None);
        };
        let decoded = decode::<Snapshot>(data.as_bytes()).map_err(|e| StoreError::Snapshot {
            user: id,
            detail: e.to_string(),
        })?;
        Ok(Some(decoded.value))
    }

    /// Every user, oldest consent first.
    pub(crate) fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let conn = self.conn();
        let mut statement =
            conn.prepare_cached(&format!("{USER_COLUMNS} ORDER BY created_at, id"))?;
        let rows = statement.query_map([], read_user)?;
        rows.map(|row| row?).collect()
    }

    /// [`Store::for_each_published`] without decoding snapshots: each user comes as a
    /// [`PublishedRow`], whose inputs digest is read first and whose snapshot is read only when
    /// asked for (an incremental build skips those of unchanged users).
    ///
    /// Reads through a connection of its own: WAL lets it read while others write.
    pub(crate) fn for_each_published_row(
        &self,
        reconsent_cutoff: i64,
        mut visit: impl FnMut(Result<PublishedRow<'_>, StoreError>) -> bool,
    ) -> Result<(), StoreError> {
        let conn = connect(&self.path)?;
        // One read transaction: the users, their name histories and the snapshots read on
        // request are of one moment, whatever is written meanwhile.
        let conn = conn.unchecked_transaction()?;
        let mut statement = conn.prepare(&published_rows_sql())?;
        let [active, waiting] = PUBLISHED_STATUSES;
        let mut rows = statement.query(params![reconsent_cutoff, active, waiting])?;
        let mut history = conn.prepare(NAME_HISTORY_IN_ID_ORDER)?;
        let mut history = NameHistory::new(history.query([])?);
        while let Some(row) = rows.next()? {
            if !visit(published_row(row, &conn, &mut history)) {
                break;
            }
        }
        Ok(())
    }

    /// How many pages [`Store::for_each_published`] would visit now (for progress bars).
    pub(crate) fn count_published(&self, reconsent_cutoff: i64) -> Result<usize, StoreError> {
        let conn = self.conn();
        let [active, waiting] = PUBLISHED_STATUSES;
        let count: i64 = conn.query_row(
            &format!(
                "SELECT count(*) FROM users u JOIN snapshots s ON s.user_id = u.id
                 WHERE {PUBLISHED}"
            ),
            params![reconsent_cutoff, active, waiting],
            |r| r.get(0),
        )?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// Records the signature of a verified webhook request, signed at `signed_at` (Unix
    /// seconds), unless it is already recorded: then the request is a replay. Only call it once
    /// the signature and the timestamp window have been checked, so nothing unsigned is stored.
    ///
    /// Records signed before `forget_before` are deleted first: the window refuses their
    /// replays by itself (the index on `signed_at` keeps that cheap). Both statements are plain
    /// SQL (`ON CONFLICT DO NOTHING` exists in PostgreSQL too); the primary key decides between
    /// two copies of one request arriving at once, here or in another process.
    pub(crate) fn remember_signature(
        &self,
        signature: &[u8],
        signed_at: i64,
        forget_before: i64,
    ) -> Result<Sighting, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.prepare_cached("DELETE FROM seen_signatures WHERE signed_at < ?1")?
            .execute(params![forget_before])?;
        let inserted = tx
            .prepare_cached(
                "INSERT INTO seen_signatures (signature, signed_at) VALUES (?1, ?2)
                 ON CONFLICT (signature) DO NOTHING",
            )?
            .execute(params![signature, signed_at])?;
        tx.commit()?;
        Ok(if inserted == 1 {
            Sighting::First
        } else {
            Sighting::Replay
        })
    }

    /// Past usernames of a user, newest first (for redirects from old vanity URLs).
    #[cfg(test)]
    pub(crate) fn name_history(&self, id: Snowflake) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT username FROM name_history WHERE user_id = ?1 ORDER BY last_seen DESC, username",
        )?;
        let names = statement.query_map(params![id.to_string()], |r| r.get(0))?;
        Ok(names.collect::<Result<_, _>>()?)
    }
}

/// Who is published (as `u`, with `?1` the re-consent cutoff, `?2` and `?3` the statuses of
/// [`PUBLISHED_STATUSES`]): active users, and users waiting for a new consent whose grace period
/// has not ended.
pub(super) const PUBLISHED: &str = "(u.status = ?2 OR (u.status = ?3 AND u.status_since >= ?1))";
/// The query of [`Store::for_each_published_row`]. Old names are read beside it
/// ([`NAME_HISTORY_IN_ID_ORDER`]), so there are two queries whatever the number of users.
/// Snapshots are not read here: the hash and date come from the covering index
/// `snapshots_heads` (named, since SQLite would otherwise pick the primary key and read each
/// row, whose snapshot comes before the hash: overflow pages and all), and
/// [`PublishedRow::page_source`] reads a snapshot when it is needed.
pub(in crate::store) fn published_rows_sql() -> String {
    format!(
        "SELECT u.id, u.publish_connections, u.publish_guilds, s.content_hash, s.changed_at,
                u.username, i.images_key, e.published_key
         FROM users u JOIN snapshots s INDEXED BY snapshots_heads ON s.user_id = u.id
              LEFT JOIN user_images i ON i.user_id = u.id
              LEFT JOIN profile_edits e ON e.user_id = u.id
         WHERE {PUBLISHED_IN_ID_ORDER}
         ORDER BY u.id"
    )
}

/// Every user's former names in the order of [`published_rows_sql`] (the primary key's): read
/// beside it and matched up in one pass ([`NameHistory`]). A subquery per user sorted each
/// user's names in a temporary tree and took most of the scan.
pub(in crate::store) const NAME_HISTORY_IN_ID_ORDER: &str =
    "SELECT user_id, username, last_seen FROM name_history ORDER BY user_id";

/// The name history, read alongside the published users in the same order.
struct NameHistory<'s> {
    /// Once they are exhausted, they stay so (rusqlite resets the statement and answers `None`).
    rows: rusqlite::Rows<'s>,
    /// A row read but not yet used: of a user after the one asked for.
    ahead: Option<(String, String, i64)>,
}

impl<'s> NameHistory<'s> {
    fn new(rows: rusqlite::Rows<'s>) -> Self {
        NameHistory { rows, ahead: None }
    }

    /// The former names of `id` (whose name is `current`), most recently used first. Users must
    /// be asked for in the order of the scan; names of users never asked for are skipped.
    fn old_names(&mut self, id: Snowflake, current: &str) -> Result<Vec<String>, StoreError> {
        let id = id.to_string();
        let mut names: Vec<(i64, String)> = Vec::new();
        while let Some((user, name, last_seen)) = self.next_row()? {
            match user.as_str().cmp(id.as_str()) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => {
                    if name != current {
                        names.push((last_seen, name));
                    }
                }
                std::cmp::Ordering::Greater => {
                    self.ahead = Some((user, name, last_seen));
                    break;
                }
            }
        }
        names.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        Ok(names.into_iter().map(|(_, name)| name).collect())
    }

    fn next_row(&mut self) -> Result<Option<(String, String, i64)>, StoreError> {
        if let Some(row) = self.ahead.take() {
            return Ok(Some(row));
        }
        match self.rows.next()? {
            Some(row) => Ok(Some((row.get(0)?, row.get(1)?, row.get(2)?))),
            None => Ok(None),
        }
    }
}

/// [`PUBLISHED`] for a scan in id order: `+` keeps SQLite from the status index, whose rows
/// come in another order and would be sorted in a temporary file, snapshots and all (tens of
/// megabytes written and read back on every build).
const PUBLISHED_IN_ID_ORDER: &str = "(+u.status = ?2 OR (+u.status = ?3 AND u.status_since >= ?1))";
const USER_COLUMNS: &str =
    "SELECT id, username, scopes, publish_connections, publish_guilds, status,
        status_since, created_at, updated_at, last_refresh_at, last_error,
        EXISTS (SELECT 1 FROM profile_edits e WHERE e.user_id = users.id AND e.pending IS NOT NULL)
     FROM users";

/// Creates the database file, empty and readable by its owner only (mode 0600, like the key
/// file), unless it exists. SQLite gives the `-wal` and `-shm` files it creates beside it the
/// database file's mode, so they are private too. An existing file is left as its owner set it,
/// with a warning when others may read it.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    // create_new: never truncates or changes a database that is already there.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            warn_if_others_can_read(path);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn warn_if_others_can_read(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "{} can be read by other users (mode {mode:o}); `chmod 600` it (and its -wal and -shm files): it holds everyone's profile data",
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_others_can_read(_: &Path) {}

/// How many prepared statements a connection keeps: more than the store's distinct cached
/// statements, so none is ever parsed twice.
const STATEMENT_CACHE: usize = 32;

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(open_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    set_wal_mode(&conn).map_err(open_error)?;
    // FULL: a committed token rotation must survive a power loss; with NORMAL, WAL commits
    // can be rolled back by one, and the old refresh token is already dead at Discord.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(open_error)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_error)?;
    // Consents and refreshes write through the same few statements thousands of times a run:
    // they are prepared once per connection (see `prepare_cached`), so room for all of them.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Switches the store to WAL. On a brand-new file, several processes opening it at once race to
/// convert it, and SQLite answers the losers `SQLITE_BUSY` at once instead of calling the busy
/// handler (it will not wait while holding the lock the winner needs), so retry within the busy
/// timeout; once the file is in WAL mode the pragma is a plain read.
fn set_wal_mode(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

fn write_tokens(
    conn: &Connection,
    id: Snowflake,
    tokens: &Tokens,
    cipher: &TokenCipher,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO tokens (user_id, access_token, access_expires_at, refresh_token, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (user_id) DO UPDATE SET
            access_token = excluded.access_token, access_expires_at = excluded.access_expires_at,
            refresh_token = excluded.refresh_token, updated_at = excluded.updated_at",
    )?
    .execute(params![
        id.to_string(),
        cipher.seal(&tokens.access_token, &token_context(id, "access")),
        tokens.access_expires_at,
        cipher.seal(&tokens.refresh_token, &token_context(id, "refresh")),
        now
    ])?;
    Ok(())
}

/// Upserts the snapshot and the name history; returns whether the data changed.
fn write_snapshot(conn: &Connection, snapshot: &Snapshot, now: i64) -> Result<bool, StoreError> {
    let user: &User = &snapshot.user;
    let id = user.id.to_string();
    let data = serde_json::to_string(snapshot).map_err(|e| StoreError::Snapshot {
        user: user.id,
        detail: e.to_string(),
    })?;
    let hash = hex::encode(Sha256::digest(data.as_bytes()));
    let previous: Option<String> = conn
        .prepare_cached("SELECT content_hash FROM snapshots WHERE user_id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()?;
    let changed = previous.as_deref() != Some(hash.as_str());
    conn.prepare_cached(
        "INSERT INTO snapshots (user_id, data, content_hash, fetched_at, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (user_id) DO UPDATE SET
            data = excluded.data, content_hash = excluded.content_hash,
            fetched_at = excluded.fetched_at,
            changed_at = CASE WHEN snapshots.content_hash = excluded.content_hash
                              THEN snapshots.changed_at ELSE excluded.changed_at END",
    )?
    .execute(params![id, data, hash, now])?;
    conn.prepare_cached(
        "INSERT INTO name_history (user_id, username, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (user_id, username) DO UPDATE SET last_seen = excluded.last_seen",
    )?
    .execute(params![id, user.username, now])?;
    Ok(changed)
}

fn read_user(row: &Row<'_>) -> rusqlite::Result<Result<UserRecord, StoreError>> {
    let id: String = row.get(0)?;
    let scopes: String = row.get(2)?;
    let record = UserRecord {
        id: Snowflake(0),
        username: row.get(1)?,
        scopes: Vec::new(),
        publish: Publish {
            connections: row.get(3)?,
            guilds: row.get(4)?,
        },
        status: row.get(5)?,
        status_since: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        last_refresh_at: row.get(9)?,
        last_error: row.get(10)?,
        edits_pending: row.get(11)?,
    };
    Ok(parse_id(&id).and_then(|id| {
        // Strict, unlike a token response: only strife-gen writes this column, from known scopes.
        let scopes = scopes
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|source| StoreError::Scope { user: id, source })?;
        Ok(UserRecord {
            id,
            scopes,
            ..record
        })
    }))
}

/// The user of `row` (of [`published_rows_sql`]), with their former names from `history` (read
/// in the same order); their snapshot is read through `conn` on request.
fn published_row<'r>(
    row: &Row<'_>,
    conn: &'r Connection,
    history: &mut NameHistory<'_>,
) -> Result<PublishedRow<'r>, StoreError> {
    let id = parse_id(&row.get::<_, String>(0)?)?;
    let username: String = row.get(5)?;
    Ok(PublishedRow {
        source: RowSource::Sqlite(conn),
        id,
        publish: Publish {
            connections: row.get(1)?,
            guilds: row.get(2)?,
        },
        content_hash: row.get(3)?,
        changed_at: row.get(4)?,
        images_key: row.get(6)?,
        edits_key: row.get(7)?,
        old_names: history.old_names(id, &username)?,
        username,
    })
}

/// The stored snapshot (JSON) of user `id`, read through a build's read transaction.
pub(super) fn snapshot_data(conn: &Connection, id: Snowflake) -> Result<String, StoreError> {
    Ok(conn
        .prepare_cached("SELECT data FROM snapshots WHERE user_id = ?1")?
        .query_row(params![id.to_string()], |row| row.get(0))?)
}
