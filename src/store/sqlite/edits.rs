//! The SQLite statements of the self-service edits and the ended sessions (see `store::edits`).

use rusqlite::{params, Connection, OptionalExtension};

use super::Sqlite;
use crate::discord::models::Snowflake;
use crate::edits::ProfileEdits;
use crate::store::edits::{decode, encode, key_of};
use crate::store::{Approval, StoreError, StoredEdits};

impl Sqlite {
    /// Records that the session whose CSRF token hashes to `token_hash` ended (`POST /logout`)
    /// before `expires_at`, and forgets those already past their expiry at `now`.
    pub(crate) fn end_session(
        &self,
        token_hash: [u8; 32],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute("DELETE FROM ended_sessions WHERE expires_at <= ?1", [now])?;
        conn.execute(
            "INSERT OR IGNORE INTO ended_sessions (token_hash, expires_at) VALUES (?1, ?2)",
            params![token_hash.as_slice(), expires_at],
        )?;
        Ok(())
    }

    /// The sessions ended early (token hash and expiry); those expired are pruned by
    /// [`Store::end_session`], and refused by their expiry anyway.
    pub(crate) fn ended_sessions(&self) -> Result<Vec<([u8; 32], i64)>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare("SELECT token_hash, expires_at FROM ended_sessions")?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, i64>(1)?))
        })?;
        let mut ended = Vec::new();
        for row in rows {
            let (hash, expires_at) = row?;
            // A hash of another length was not written by us: it can match no session.
            if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
                ended.push((hash, expires_at));
            }
        }
        Ok(ended)
    }

    /// Puts `edits` on user `id`'s page (what waited for approval is dropped: these replace it).
    pub(crate) fn publish_edits(
        &self,
        id: Snowflake,
        edits: &ProfileEdits,
        now: i64,
    ) -> Result<(), StoreError> {
        let (json, key) = encode(id, edits)?;
        self.conn()
            .prepare_cached(
                "INSERT INTO profile_edits (user_id, published, published_key, pending, updated_at)
                 VALUES (?1, ?2, ?3, NULL, ?4)
                 ON CONFLICT (user_id) DO UPDATE SET published = excluded.published,
                    published_key = excluded.published_key, pending = NULL,
                    updated_at = excluded.updated_at",
            )?
            .execute(params![id.to_string(), json, key, now])?;
        Ok(())
    }

    /// Keeps `edits` for user `id` until an operator approves them; the page stays as it is.
    pub(crate) fn hold_edits(
        &self,
        id: Snowflake,
        edits: &ProfileEdits,
        now: i64,
    ) -> Result<(), StoreError> {
        let (json, _) = encode(id, edits)?;
        self.conn()
            .prepare_cached(
                "INSERT INTO profile_edits (user_id, published, published_key, pending, updated_at)
                 VALUES (?1, NULL, NULL, ?2, ?3)
                 ON CONFLICT (user_id) DO UPDATE SET pending = excluded.pending,
                    updated_at = excluded.updated_at",
            )?
            .execute(params![id.to_string(), json, now])?;
        Ok(())
    }

    /// User `id`'s edits, published and pending.
    pub(crate) fn edits(&self, id: Snowflake) -> Result<StoredEdits, StoreError> {
        let conn = self.conn();
        let row: Option<(Option<String>, Option<String>)> = conn
            .prepare_cached("SELECT published, pending FROM profile_edits WHERE user_id = ?1")?
            .query_row(params![id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((published, pending)) = row else {
            return Ok(StoredEdits::default());
        };
        Ok(StoredEdits {
            published: published.map(|json| decode(id, &json)).transpose()?,
            pending: pending.map(|json| decode(id, &json)).transpose()?,
        })
    }

    /// Publishes the edits user `id` has waiting.
    pub(crate) fn approve_edits(&self, id: Snowflake, now: i64) -> Result<Approval, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let pending: Option<String> = tx
            .query_row(
                "SELECT pending FROM profile_edits WHERE user_id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let Some(json) = pending else {
            return Ok(Approval::NothingPending);
        };
        // Decoded before it is published: what a build cannot read must not reach a page.
        decode(id, &json)?;
        tx.execute(
            "UPDATE profile_edits SET published = pending, published_key = ?2, pending = NULL,
                                      updated_at = ?3
             WHERE user_id = ?1",
            params![id.to_string(), key_of(&json), now],
        )?;
        tx.commit()?;
        Ok(Approval::Approved)
    }
}

/// The published edits of user `id` through `conn` (a build's read transaction); an
/// unreadable value is logged and left off the page, which is then published without it.
pub(in crate::store) fn published_edits(conn: &Connection, id: Snowflake) -> Option<ProfileEdits> {
    let row = conn
        .prepare_cached("SELECT published FROM profile_edits WHERE user_id = ?1")
        .and_then(|mut statement| {
            statement
                .query_row(params![id.to_string()], |r| r.get::<_, Option<String>>(0))
                .optional()
        });
    match row.map(Option::flatten) {
        Ok(json) => json.and_then(|json| {
            decode(id, &json)
                .map_err(|error| tracing::warn!("page published without their edits: {error}"))
                .ok()
        }),
        Err(error) => {
            tracing::warn!(user = %id, "page published without their edits: {error}");
            None
        }
    }
}
