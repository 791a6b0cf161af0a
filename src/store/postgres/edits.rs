//! The PostgreSQL statements of the self-service edits and the ended sessions (see
//! `store::edits`).

use super::Postgres;
use crate::discord::models::Snowflake;
use crate::edits::ProfileEdits;
use crate::store::edits::{decode, encode, key_of};
use crate::store::{Approval, StoreError, StoredEdits};

impl Postgres {
    /// See `Store::end_session`.
    pub(crate) fn end_session(
        &self,
        token_hash: [u8; 32],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.execute("DELETE FROM ended_sessions WHERE expires_at <= $1", &[&now])?;
        self.execute(
            "INSERT INTO ended_sessions (token_hash, expires_at) VALUES ($1, $2)
             ON CONFLICT (token_hash) DO NOTHING",
            &[&token_hash.as_slice(), &expires_at],
        )?;
        Ok(())
    }

    /// See `Store::ended_sessions`.
    pub(crate) fn ended_sessions(&self) -> Result<Vec<([u8; 32], i64)>, StoreError> {
        let mut ended = Vec::new();
        for row in self.query("SELECT token_hash, expires_at FROM ended_sessions", &[])? {
            let hash: Vec<u8> = row.try_get(0)?;
            // A hash of another length was not written by us: it can match no session.
            if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
                ended.push((hash, row.try_get(1)?));
            }
        }
        Ok(ended)
    }

    /// See `Store::publish_edits`.
    pub(crate) fn publish_edits(
        &self,
        id: Snowflake,
        edits: &ProfileEdits,
        now: i64,
    ) -> Result<(), StoreError> {
        let (json, key) = encode(id, edits)?;
        self.execute(
            "INSERT INTO profile_edits (user_id, published, published_key, pending, updated_at)
             VALUES ($1, $2, $3, NULL, $4)
             ON CONFLICT (user_id) DO UPDATE SET published = excluded.published,
                published_key = excluded.published_key, pending = NULL,
                updated_at = excluded.updated_at",
            &[&id.to_string(), &json, &key, &now],
        )?;
        Ok(())
    }

    /// See `Store::hold_edits`.
    pub(crate) fn hold_edits(
        &self,
        id: Snowflake,
        edits: &ProfileEdits,
        now: i64,
    ) -> Result<(), StoreError> {
        let (json, _) = encode(id, edits)?;
        self.execute(
            "INSERT INTO profile_edits (user_id, published, published_key, pending, updated_at)
             VALUES ($1, NULL, NULL, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET pending = excluded.pending,
                updated_at = excluded.updated_at",
            &[&id.to_string(), &json, &now],
        )?;
        Ok(())
    }

    /// See `Store::edits`.
    pub(crate) fn edits(&self, id: Snowflake) -> Result<StoredEdits, StoreError> {
        let row = self.query_opt(
            "SELECT published, pending FROM profile_edits WHERE user_id = $1",
            &[&id.to_string()],
        )?;
        let Some(row) = row else {
            return Ok(StoredEdits::default());
        };
        let (published, pending): (Option<String>, Option<String>) =
            (row.try_get(0)?, row.try_get(1)?);
        Ok(StoredEdits {
            published: published.map(|json| decode(id, &json)).transpose()?,
            pending: pending.map(|json| decode(id, &json)).transpose()?,
        })
    }

    /// See `Store::approve_edits`.
    pub(crate) fn approve_edits(&self, id: Snowflake, now: i64) -> Result<Approval, StoreError> {
        self.block(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let row = tx
                .query_opt(
                    "SELECT pending FROM profile_edits WHERE user_id = $1 FOR UPDATE",
                    &[&id.to_string()],
                )
                .await?;
            let pending: Option<String> = row.map(|row| row.try_get(0)).transpose()?.flatten();
            let Some(json) = pending else {
                return Ok(Approval::NothingPending);
            };
            // Decoded before it is published: what a build cannot read must not reach a page.
            decode(id, &json)?;
            tx.execute(
                "UPDATE profile_edits SET published = pending, published_key = $2, pending = NULL,
                                          updated_at = $3
                 WHERE user_id = $1",
                &[&id.to_string(), &key_of(&json), &now],
            )
            .await?;
            tx.commit().await?;
            Ok(Approval::Approved)
        })
    }
}

/// Published edits read by a build: an unreadable value is logged and left off the page.
pub(super) fn decode_published(id: Snowflake, json: &str) -> Option<ProfileEdits> {
    decode(id, json)
        .map_err(|error| tracing::warn!("page published without their edits: {error}"))
        .ok()
}
