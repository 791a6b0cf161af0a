//! Owns the PostgreSQL side of the store: a connection pool on a small runtime of its own, and
//! every statement run through it. It must not let a plaintext token reach the server, nor lose
//! a rotated refresh token, nor block an async worker thread.
//!
//! The store's interface is blocking (SQLite's is), so the pool and its connections live on a
//! dedicated one-worker tokio runtime and every method waits on it (`block_on`): allowed from
//! plain threads and from `Store::run`'s blocking-pool threads, refused with
//! [`StoreError::AsyncCaller`] on an async worker thread (see `store::thread`).
//!
//! Semantics follow SQLite's: each method is one statement or one transaction, committed before
//! it returns (a token rotation included); rows a method reads and then writes on are locked
//! (`FOR UPDATE`) where SQLite's single writer serialises them.

mod community;
mod edits;
mod images;
mod schema;

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Transaction};
use sha2::{Digest, Sha256};
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{IsolationLevel, NoTls, Row, Statement};

use super::{
    parse_id, parse_scopes, thread, token_context, Consent, PublishedRow, Revocation, RowSource,
    Sighting, StoreError, Tokens, UserRecord, UserStatus, KEY_CHECK, PUBLISHED_STATUSES,
};
use crate::config::DatabaseUrl;
use crate::crypto::TokenCipher;
use crate::discord::lenient::decode;
use crate::discord::models::{Snapshot, Snowflake};
use crate::edits::ProfileEdits;
use crate::publish::Publish;

/// Connections the pool keeps at most: enough for the refresh queue's concurrency, the web
/// handlers and a build's scan at once.
const POOL_SIZE: usize = 16;
/// How long a connection attempt may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows a build's scan fetches per round trip: memory stays flat whatever the number of users.
const SCAN_BATCH: i32 = 256;

/// Reading an unknown status is an error, never a guess (as in SQLite).
impl<'a> FromSql<'a> for UserStatus {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(<&str as FromSql>::from_sql(ty, raw)?.parse()?)
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}

/// The server and database a URL names, for messages: never the password (nor the user).
pub(super) fn describe(url: &DatabaseUrl) -> String {
    match tokio_postgres::Config::from_str(url.as_str()) {
        Ok(config) => describe_config(&config),
        Err(_) => "an invalid URL".to_owned(),
    }
}

fn describe_config(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let host = if hosts.is_empty() {
        "localhost".to_owned()
    } else {
        hosts.join(",")
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("database {database} on {host} port {port}")
}

/// The PostgreSQL store.
pub(crate) struct Postgres {
    /// Always `Some` until dropped (see [`Drop`]).
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    /// The server and database, for messages.
    target: String,
    /// Where the URL came from, for messages.
    setting: &'static str,
}

impl Drop for Postgres {
    /// A runtime dropped the usual way blocks, which panics on an async thread (the last store
    /// handle may well go there): shut it down in the background instead.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Postgres {
    /// Connects to `url` (one connection at once, so a bad URL, an unreachable server or a wrong
    /// password is reported now, naming the setting and the host) and migrates the database.
    pub(crate) fn open(url: &DatabaseUrl) -> Result<Postgres, StoreError> {
        thread::check()?;
        let setting = url.setting();
        let mut config =
            tokio_postgres::Config::from_str(url.as_str()).map_err(|e| StoreError::Connect {
                setting,
                target: "an invalid URL".to_owned(),
                detail: e.to_string(),
            })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let target = describe_config(&config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("strife-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Connect {
                setting,
                target: target.clone(),
                detail: format!("cannot start the runtime of its connections: {e}"),
            })?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Connect {
                setting,
                target: target.clone(),
                detail: e.to_string(),
            })?;
        let store = Postgres {
            runtime: Some(runtime),
            pool,
            target,
            setting,
        };
        store.block(async {
            let mut client = store.client().await?;
            schema::migrate(&mut client).await
        })?;
        Ok(store)
    }

    /// The server and database (no password).
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        // Only `drop` takes it.
        match &self.runtime {
            Some(runtime) => runtime,
            None => unreachable!("the runtime is only taken on drop"),
        }
    }

    /// Waits for `work` on the store's runtime, where allowed (see `store::thread`).
    fn block<T>(&self, work: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        thread::check()?;
        self.runtime().block_on(work)
    }

    /// A connection of the pool; a failure to get one names the server.
    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| StoreError::Connect {
            setting: self.setting,
            target: self.target.clone(),
            detail: match e {
                deadpool_postgres::PoolError::Backend(e) => e.to_string(),
                other => other.to_string(),
            },
        })
    }

    /// Runs one statement on its own (autocommit); returns the rows it changed.
    fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        self.block(async {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql).await?;
            Ok(client.execute(&statement, params).await?)
        })
    }

    /// The rows of one query.
    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        self.block(async {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql).await?;
            Ok(client.query(&statement, params).await?)
        })
    }

    /// The row of one query, if any.
    fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        self.block(async {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql).await?;
            Ok(client.query_opt(&statement, params).await?)
        })
    }

    /// Checks that `cipher` is the key this store's tokens were sealed with, recording it on first use.
    pub(crate) fn verify_key(&self, cipher: &TokenCipher) -> Result<(), StoreError> {
        // ON CONFLICT DO NOTHING: another process may record its key check at the same moment;
        // then ours must match the one that won.
        let sealed = cipher.seal(KEY_CHECK, "meta:key_check");
        self.execute(
            "INSERT INTO meta (key, value) VALUES ('key_check', $1) ON CONFLICT (key) DO NOTHING",
            &[&sealed],
        )?;
        let row = self.query_opt("SELECT value FROM meta WHERE key = 'key_check'", &[])?;
        let stored: Vec<u8> = match row {
            Some(row) => row.try_get(0)?,
            None => return Err(StoreError::WrongKey),
        };
        match cipher.open(&stored, "meta:key_check") {
            Ok(text) if text == KEY_CHECK => Ok(()),
            _ => Err(StoreError::WrongKey),
        }
    }

    /// See `Store::record_consent`.
    pub(crate) fn record_consent(
        &self,
        consent: &Consent,
        cipher: &TokenCipher,
        now: i64,
    ) -> Result<(), StoreError> {
        let user = &consent.snapshot.user;
        self.block(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let upsert = tx
                .prepare_cached(
                    "INSERT INTO users (id, username, scopes, publish_connections, publish_guilds,
                                        status, status_since, created_at, updated_at,
                                        last_refresh_at, last_error)
                     VALUES ($1, $2, $3, $4, $5, $7, $6, $6, $6, $6, NULL)
                     ON CONFLICT (id) DO UPDATE SET
                        username = excluded.username, scopes = excluded.scopes,
                        publish_connections = excluded.publish_connections,
                        publish_guilds = excluded.publish_guilds,
                        status = excluded.status, status_since = excluded.status_since,
                        updated_at = excluded.updated_at, last_refresh_at = excluded.last_refresh_at,
                        last_error = NULL, failure_count = 0, next_attempt_at = NULL",
                )
                .await?;
            tx.execute(
                &upsert,
                &[
                    &user.id.to_string(),
                    &user.username,
                    &Scope::join(&consent.scopes),
                    &consent.publish.connections,
                    &consent.publish.guilds,
                    &now,
                    &UserStatus::Active.as_str(),
                ],
            )
            .await?;
            write_tokens(&tx, user.id, &consent.tokens, cipher, now).await?;
            write_snapshot(&tx, &consent.snapshot, now).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// See `Store::save_tokens`: committed, in its own transaction, before it returns.
    pub(crate) fn save_tokens(
        &self,
        id: Snowflake,
        tokens: &Tokens,
        cipher: &TokenCipher,
        now: i64,
    ) -> Result<(), StoreError> {
        self.block(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            // FOR UPDATE: a revocation (which updates the row) waits for this transaction, or
            // this one sees it: a revoked user keeps no tokens either way.
            let row = tx
                .query_opt(
                    "SELECT status FROM users WHERE id = $1 FOR UPDATE",
                    &[&id.to_string()],
                )
                .await?;
            let status: Option<UserStatus> = row.map(|row| row.try_get(0)).transpose()?;
            if status.is_none_or(|status| status == UserStatus::Revoked) {
                tracing::info!(user = %id, "not storing new tokens: the user was revoked or deleted meanwhile");
                return Ok(());
            }
            write_tokens(&tx, id, tokens, cipher, now).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// See `Store::load_tokens`.
    pub(crate) fn load_tokens(
        &self,
        id: Snowflake,
        cipher: &TokenCipher,
    ) -> Result<Option<Tokens>, StoreError> {
        let Some(row) = self.query_opt(
            "SELECT access_token, access_expires_at, refresh_token FROM tokens WHERE user_id = $1",
            &[&id.to_string()],
        )?
        else {
            return Ok(None);
        };
        let (access, access_expires_at, refresh): (Vec<u8>, i64, Vec<u8>) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
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

    /// See `Store::save_snapshot`.
    pub(crate) fn save_snapshot(&self, snapshot: &Snapshot, now: i64) -> Result<bool, StoreError> {
        let id = snapshot.user.id;
        self.block(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let row = tx
                .query_opt(
                    "SELECT status FROM users WHERE id = $1 FOR UPDATE",
                    &[&id.to_string()],
                )
                .await?;
            let status: Option<UserStatus> = row.map(|row| row.try_get(0)).transpose()?;
            if status.is_none_or(|status| status == UserStatus::Revoked) {
                tracing::info!(user = %id, "not storing the snapshot: the user was revoked or deleted meanwhile");
                return Ok(false);
            }
            let changed = write_snapshot(&tx, snapshot, now).await?;
            tx.execute(
                "UPDATE users SET username = $2, last_refresh_at = $3, updated_at = $3,
                                  last_error = NULL, failure_count = 0, next_attempt_at = NULL
                 WHERE id = $1",
                &[&id.to_string(), &snapshot.user.username, &now],
            )
            .await?;
            tx.commit().await?;
            Ok(changed)
        })
    }

    /// See `Store::record_failure`.
    pub(crate) fn record_failure(
        &self,
        id: Snowflake,
        error: &str,
        now: i64,
        backoff: impl FnOnce(u32) -> i64,
    ) -> Result<u32, StoreError> {
        self.block(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let row = tx
                .query_opt(
                    "UPDATE users SET failure_count = failure_count + 1, last_error = $2,
                                      updated_at = $3
                     WHERE id = $1 RETURNING failure_count",
                    &[&id.to_string(), &error, &now],
                )
                .await?;
            let Some(row) = row else {
                return Ok(0);
            };
            let count = count_of(row.try_get(0)?);
            tx.execute(
                "UPDATE users SET next_attempt_at = $2 WHERE id = $1",
                &[&id.to_string(), &now.saturating_add(backoff(count))],
            )
            .await?;
            tx.commit().await?;
            Ok(count)
        })
    }

    /// See `Store::retry_state`.
    pub(crate) fn retry_state(
        &self,
        id: Snowflake,
    ) -> Result<Option<(u32, Option<i64>)>, StoreError> {
        let row = self.query_opt(
            "SELECT failure_count, next_attempt_at FROM users WHERE id = $1",
            &[&id.to_string()],
        )?;
        row.map(|row| Ok((count_of(row.try_get(0)?), row.try_get(1)?)))
            .transpose()
    }

    /// See `Store::due_user_ids`.
    pub(crate) fn due_user_ids(&self, now: i64) -> Result<Vec<Snowflake>, StoreError> {
        let rows = self.query(
            "SELECT id FROM users WHERE status = $2
               AND (next_attempt_at IS NULL OR next_attempt_at <= $1) ORDER BY id",
            &[&now, &UserStatus::Active.as_str()],
        )?;
        rows.iter().map(|row| parse_id(row.try_get(0)?)).collect()
    }

    /// See `Store::revoke_authorization`.
    pub(crate) fn revoke_authorization(
        &self,
        id: Snowflake,
        deauthorized_at: Option<i64>,
        now: i64,
    ) -> Result<Revocation, StoreError> {
        self.block(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let row = tx
                .query_opt(
                    "SELECT status, status_since FROM users WHERE id = $1 FOR UPDATE",
                    &[&id.to_string()],
                )
                .await?;
            let Some(row) = row else {
                return Ok(Revocation::Unknown);
            };
            let (status, since): (UserStatus, i64) = (row.try_get(0)?, row.try_get(1)?);
            if status == UserStatus::Revoked {
                return Ok(Revocation::AlreadyRevoked);
            }
            if status == UserStatus::Active && deauthorized_at.is_some_and(|at| at < since) {
                return Ok(Revocation::Stale);
            }
            tx.execute(
                "UPDATE users SET status = $3, status_since = $2, updated_at = $2,
                                  last_error = 'removed the app at Discord'
                 WHERE id = $1",
                &[&id.to_string(), &now, &UserStatus::Revoked.as_str()],
            )
            .await?;
            tx.execute("DELETE FROM tokens WHERE user_id = $1", &[&id.to_string()])
                .await?;
            tx.commit().await?;
            Ok(Revocation::Revoked)
        })
    }

    /// See `Store::set_status`.
    pub(crate) fn set_status(
        &self,
        id: Snowflake,
        status: UserStatus,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.block(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            tx.execute(
                // A revoked user stays revoked: only a new consent brings them back.
                "UPDATE users SET status = $2, status_since = $3, updated_at = $3,
                                  last_error = COALESCE($4, last_error)
                 WHERE id = $1 AND status <> $2 AND status <> $5",
                &[
                    &id.to_string(),
                    &status.as_str(),
                    &now,
                    &reason,
                    &UserStatus::Revoked.as_str(),
                ],
            )
            .await?;
            if status == UserStatus::Revoked {
                tx.execute("DELETE FROM tokens WHERE user_id = $1", &[&id.to_string()])
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// See `Store::delete_user`: ON DELETE CASCADE removes everything else with the user.
    pub(crate) fn delete_user(&self, id: Snowflake) -> Result<bool, StoreError> {
        let deleted = self.execute("DELETE FROM users WHERE id = $1", &[&id.to_string()])?;
        Ok(deleted > 0)
    }

    /// See `Store::user`.
    pub(crate) fn user(&self, id: Snowflake) -> Result<Option<UserRecord>, StoreError> {
        let row = self.query_opt(&format!("{USER_COLUMNS} WHERE id = $1"), &[&id.to_string()])?;
        row.map(|row| read_user(&row)).transpose()
    }

    /// See `Store::snapshot`.
    pub(crate) fn snapshot(&self, id: Snowflake) -> Result<Option<Snapshot>, StoreError> {
        let row = self.query_opt(
            "SELECT data FROM snapshots WHERE user_id = $1",
            &[&id.to_string()],
        )?;
        let Some(row) = row else {
            return Ok(None);
        };
        let data: String = row.try_get(0)?;
        let decoded = decode::<Snapshot>(data.as_bytes()).map_err(|e| StoreError::Snapshot {
            user: id,
            detail: e.to_string(),
        })?;
        Ok(Some(decoded.value))
    }

    /// See `Store::list_users`.
    pub(crate) fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rows = self.query(&format!("{USER_COLUMNS} ORDER BY created_at, id"), &[])?;
        rows.iter().map(read_user).collect()
    }

    /// See `Store::for_each_published_row`: one read-only REPEATABLE READ transaction, its rows
    /// fetched through a portal [`SCAN_BATCH`] at a time, snapshots read on request inside it.
    pub(crate) fn for_each_published_row(
        &self,
        reconsent_cutoff: i64,
        mut visit: impl FnMut(Result<PublishedRow<'_>, StoreError>) -> bool,
    ) -> Result<(), StoreError> {
        thread::check()?;
        let runtime = self.runtime();
        let mut client = runtime.block_on(self.client())?;
        let tx = runtime.block_on(
            client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start(),
        )?;
        let scan = Scan::new(runtime, &tx)?;
        let [active, waiting] = PUBLISHED_STATUSES.map(UserStatus::as_str);
        let portal =
            runtime.block_on(tx.bind(PUBLISHED_ROWS, &[&reconsent_cutoff, &active, &waiting]))?;
        loop {
            let rows = runtime.block_on(tx.query_portal(&portal, SCAN_BATCH))?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                if !visit(published_row(row, &scan)) {
                    return Ok(());
                }
            }
        }
        drop(scan);
        runtime.block_on(tx.commit())?;
        Ok(())
    }

    /// See `Store::count_published`.
    pub(crate) fn count_published(&self, reconsent_cutoff: i64) -> Result<usize, StoreError> {
        let [active, waiting] = PUBLISHED_STATUSES.map(UserStatus::as_str);
        let rows = self.query(
            &format!(
                "SELECT count(*) FROM users u JOIN snapshots s ON s.user_id = u.id WHERE {PUBLISHED}"
            ),
            &[&reconsent_cutoff, &active, &waiting],
        )?;
        let count: i64 = match rows.first() {
            Some(row) => row.try_get(0)?,
            None => 0,
        };
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// See `Store::remember_signature`. Under READ COMMITTED, of two copies inserted at once the
    /// second waits for the first to commit, then inserts nothing: exactly one is first.
    pub(crate) fn remember_signature(
        &self,
        signature: &[u8],
        signed_at: i64,
        forget_before: i64,
    ) -> Result<Sighting, StoreError> {
        let inserted = self.block(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let forget = tx
                .prepare_cached("DELETE FROM seen_signatures WHERE signed_at < $1")
                .await?;
            tx.execute(&forget, &[&forget_before]).await?;
            let insert = tx
                .prepare_cached(
                    "INSERT INTO seen_signatures (signature, signed_at) VALUES ($1, $2)
                     ON CONFLICT (signature) DO NOTHING",
                )
                .await?;
            let inserted = tx.execute(&insert, &[&signature, &signed_at]).await?;
            tx.commit().await?;
            Ok(inserted)
        })?;
        Ok(if inserted == 1 {
            Sighting::First
        } else {
            Sighting::Replay
        })
    }

    /// See `Store::name_history`.
    #[cfg(test)]
    pub(crate) fn name_history(&self, id: Snowflake) -> Result<Vec<String>, StoreError> {
        let rows = self.query(
            "SELECT username FROM name_history WHERE user_id = $1
             ORDER BY last_seen DESC, username COLLATE \"C\"",
            &[&id.to_string()],
        )?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }
}

use crate::discord::scope::Scope;

/// Who is published (as `u`; `$1` the re-consent cutoff, `$2` and `$3` the statuses of
/// [`PUBLISHED_STATUSES`]).
const PUBLISHED: &str = "(u.status = $2 OR (u.status = $3 AND u.status_since >= $1))";

/// The scan of a build: each published user with what tells whether their page changed, and
/// their former names (newest first, without the current one) gathered by the server from the
/// primary key of `name_history`. Ids sort in byte order (their "C" collation), as in SQLite.
const PUBLISHED_ROWS: &str = "SELECT u.id, u.publish_connections, u.publish_guilds, s.content_hash,
        s.changed_at, u.username, i.images_key, e.published_key,
        ARRAY(SELECT n.username FROM name_history n
              WHERE n.user_id = u.id AND n.username <> u.username
              ORDER BY n.last_seen DESC, n.username COLLATE \"C\") AS old_names
     FROM users u JOIN snapshots s ON s.user_id = u.id
          LEFT JOIN user_images i ON i.user_id = u.id
          LEFT JOIN profile_edits e ON e.user_id = u.id
     WHERE (u.status = $2 OR (u.status = $3 AND u.status_since >= $1))
     ORDER BY u.id";

const USER_COLUMNS: &str =
    "SELECT id, username, scopes, publish_connections, publish_guilds, status,
        status_since, created_at, updated_at, last_refresh_at, last_error,
        EXISTS (SELECT 1 FROM profile_edits e WHERE e.user_id = users.id AND e.pending IS NOT NULL)
     FROM users";

/// A stored count (BIGINT, never negative as written) as the store's `u32`.
fn count_of(stored: i64) -> u32 {
    u32::try_from(stored.max(0)).unwrap_or(u32::MAX)
}

fn read_user(row: &Row) -> Result<UserRecord, StoreError> {
    let id = parse_id(row.try_get(0)?)?;
    Ok(UserRecord {
        id,
        username: row.try_get(1)?,
        scopes: parse_scopes(id, row.try_get(2)?)?,
        publish: Publish {
            connections: row.try_get(3)?,
            guilds: row.try_get(4)?,
        },
        status: row.try_get(5)?,
        status_since: row.try_get(6)?,
        created_at: row.try_get(7)?,
        updated_at: row.try_get(8)?,
        last_refresh_at: row.try_get(9)?,
        last_error: row.try_get(10)?,
        edits_pending: row.try_get(11)?,
    })
}

async fn write_tokens(
    tx: &Transaction<'_>,
    id: Snowflake,
    tokens: &Tokens,
    cipher: &TokenCipher,
    now: i64,
) -> Result<(), StoreError> {
    let statement = tx
        .prepare_cached(
            "INSERT INTO tokens (user_id, access_token, access_expires_at, refresh_token, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id) DO UPDATE SET
                access_token = excluded.access_token,
                access_expires_at = excluded.access_expires_at,
                refresh_token = excluded.refresh_token, updated_at = excluded.updated_at",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &id.to_string(),
            &cipher.seal(&tokens.access_token, &token_context(id, "access")),
            &tokens.access_expires_at,
            &cipher.seal(&tokens.refresh_token, &token_context(id, "refresh")),
            &now,
        ],
    )
    .await?;
    Ok(())
}

/// Upserts the snapshot and the name history; returns whether the data changed.
async fn write_snapshot(
    tx: &Transaction<'_>,
    snapshot: &Snapshot,
    now: i64,
) -> Result<bool, StoreError> {
    let user = &snapshot.user;
    let id = user.id.to_string();
    let data = serde_json::to_string(snapshot).map_err(|e| StoreError::Snapshot {
        user: user.id,
        detail: e.to_string(),
    })?;
    let hash = hex::encode(Sha256::digest(data.as_bytes()));
    let previous = tx
        .query_opt(
            "SELECT content_hash FROM snapshots WHERE user_id = $1",
            &[&id],
        )
        .await?;
    let previous: Option<String> = previous.map(|row| row.try_get(0)).transpose()?;
    let changed = previous.as_deref() != Some(hash.as_str());
    let upsert = tx
        .prepare_cached(
            "INSERT INTO snapshots (user_id, data, content_hash, fetched_at, changed_at)
             VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (user_id) DO UPDATE SET
                data = excluded.data, content_hash = excluded.content_hash,
                fetched_at = excluded.fetched_at,
                changed_at = CASE WHEN snapshots.content_hash = excluded.content_hash
                                  THEN snapshots.changed_at ELSE excluded.changed_at END",
        )
        .await?;
    tx.execute(&upsert, &[&id, &data, &hash, &now]).await?;
    let names = tx
        .prepare_cached(
            "INSERT INTO name_history (user_id, username, first_seen, last_seen)
             VALUES ($1, $2, $3, $3)
             ON CONFLICT (user_id, username) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .await?;
    tx.execute(&names, &[&id, &user.username, &now]).await?;
    Ok(changed)
}

/// A build's scan in progress: its read transaction, where [`PublishedRow::page_source`] reads
/// snapshots and edits (between two batches of the portal, so nothing interleaves).
pub(crate) struct Scan<'r> {
    runtime: &'r tokio::runtime::Runtime,
    tx: &'r Transaction<'r>,
    snapshot: Statement,
    edits: Statement,
}

impl<'r> Scan<'r> {
    fn new(
        runtime: &'r tokio::runtime::Runtime,
        tx: &'r Transaction<'r>,
    ) -> Result<Scan<'r>, StoreError> {
        let snapshot =
            runtime.block_on(tx.prepare_cached("SELECT data FROM snapshots WHERE user_id = $1"))?;
        let edits = runtime.block_on(
            tx.prepare_cached("SELECT published FROM profile_edits WHERE user_id = $1"),
        )?;
        Ok(Scan {
            runtime,
            tx,
            snapshot,
            edits,
        })
    }

    /// The stored snapshot (JSON) of user `id`.
    pub(crate) fn snapshot_data(&self, id: Snowflake) -> Result<String, StoreError> {
        let row = self
            .runtime
            .block_on(self.tx.query_one(&self.snapshot, &[&id.to_string()]))?;
        Ok(row.try_get(0)?)
    }

    /// The published edits of user `id`; an unreadable value is logged and left off the page,
    /// which is then published without it (as with SQLite).
    pub(crate) fn published_edits(&self, id: Snowflake) -> Option<ProfileEdits> {
        let row = self
            .runtime
            .block_on(self.tx.query_opt(&self.edits, &[&id.to_string()]));
        let json = row.and_then(|row| {
            row.map(|row| row.try_get::<_, Option<String>>(0))
                .transpose()
        });
        match json.map(Option::flatten) {
            Ok(json) => json.and_then(|json| edits::decode_published(id, &json)),
            Err(error) => {
                tracing::warn!(user = %id, "page published without their edits: {error}");
                None
            }
        }
    }
}

/// The user of `row` (of [`PUBLISHED_ROWS`]).
fn published_row<'r>(row: &Row, scan: &'r Scan<'r>) -> Result<PublishedRow<'r>, StoreError> {
    let id = parse_id(row.try_get(0)?)?;
    Ok(PublishedRow {
        source: RowSource::Postgres(scan),
        id,
        publish: Publish {
            connections: row.try_get(1)?,
            guilds: row.try_get(2)?,
        },
        content_hash: row.try_get(3)?,
        changed_at: row.try_get(4)?,
        username: row.try_get(5)?,
        images_key: row.try_get(6)?,
        edits_key: row.try_get(7)?,
        old_names: row.try_get(8)?,
    })
}
