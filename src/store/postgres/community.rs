//! The PostgreSQL statements of the community's per-user state (see `store::community`).

use std::collections::HashMap;

use tokio_postgres::Row;

use super::Postgres;
use crate::discord::lenient::decode;
use crate::discord::models::{Snapshot, Snowflake};
use crate::publish::Publish;
use crate::store::community::{split_due, PENDING_JOINS, PENDING_WELCOMES};
use crate::store::{JoinState, Membership, StoreError, WelcomeRetry, WelcomeState};

const COLUMNS: &str =
    "SELECT user_id, join_state, join_reason, join_attempts, join_next_at, welcome_state,
            welcome_attempts, welcome_reason, welcome_next_at FROM community_members";

impl Postgres {
    /// See `Store::membership`.
    pub(crate) fn membership(&self, id: Snowflake) -> Result<Option<Membership>, StoreError> {
        let row = self.query_opt(&format!("{COLUMNS} WHERE user_id = $1"), &[&id.to_string()])?;
        Ok(row
            .map(|row| read_membership(&row))
            .transpose()?
            .map(|(_, membership)| membership))
    }

    /// See `Store::memberships`.
    pub(crate) fn memberships(&self) -> Result<HashMap<Snowflake, Membership>, StoreError> {
        let mut all = HashMap::new();
        for row in self.query(COLUMNS, &[])? {
            let (id, membership) = read_membership(&row)?;
            if let Some(id) = Snowflake::parse(&id) {
                all.insert(id, membership);
            }
        }
        Ok(all)
    }

    /// See `Store::record_join`.
    pub(crate) fn record_join(
        &self,
        id: Snowflake,
        membership: &Membership,
        now: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO community_members
                 (user_id, join_state, join_reason, join_attempts, join_next_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (user_id) DO UPDATE SET
                 join_state = excluded.join_state, join_reason = excluded.join_reason,
                 join_attempts = excluded.join_attempts, join_next_at = excluded.join_next_at,
                 updated_at = excluded.updated_at",
            &[
                &id.to_string(),
                &membership.join.map(JoinState::as_str),
                &membership.reason,
                &i64::from(membership.attempts),
                &membership.next_at,
                &now,
            ],
        )?;
        Ok(())
    }

    /// See `Store::record_welcome`.
    pub(crate) fn record_welcome(
        &self,
        id: Snowflake,
        welcome: WelcomeState,
        now: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO community_members (user_id, welcome_state, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET welcome_state = excluded.welcome_state,
                 welcome_attempts = 0, welcome_reason = NULL, welcome_next_at = NULL,
                 updated_at = excluded.updated_at",
            &[&id.to_string(), &welcome.as_str(), &now],
        )?;
        Ok(())
    }

    /// See `Store::record_welcome_failure`.
    pub(crate) fn record_welcome_failure(
        &self,
        id: Snowflake,
        retry: &WelcomeRetry,
        now: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO community_members
                 (user_id, welcome_attempts, welcome_reason, welcome_next_at, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id) DO UPDATE SET
                 welcome_attempts = excluded.welcome_attempts,
                 welcome_reason = excluded.welcome_reason,
                 welcome_next_at = excluded.welcome_next_at, updated_at = excluded.updated_at",
            &[
                &id.to_string(),
                &i64::from(retry.attempts),
                &retry.reason,
                &retry.next_at,
                &now,
            ],
        )?;
        Ok(())
    }

    /// See `Store::due_joins`.
    pub(crate) fn due_joins(&self, now: i64) -> Result<(Vec<Snowflake>, Option<i64>), StoreError> {
        self.due(PENDING_JOINS, now)
    }

    /// See `Store::due_welcomes`.
    pub(crate) fn due_welcomes(
        &self,
        now: i64,
    ) -> Result<(Vec<Snowflake>, Option<i64>), StoreError> {
        self.due(PENDING_WELCOMES, now)
    }

    /// The users of `sql` (rows of id and when due) that are due at `now`, and the earliest
    /// time of the others ([`split_due`]).
    fn due(&self, sql: &str, now: i64) -> Result<(Vec<Snowflake>, Option<i64>), StoreError> {
        let rows = self
            .query(sql, &[])?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
        Ok(split_due(rows, now))
    }

    /// See `Store::member_profile`.
    pub(crate) fn member_profile(
        &self,
        id: Snowflake,
    ) -> Result<Option<(Publish, Snapshot)>, StoreError> {
        let row = self.query_opt(
            "SELECT u.publish_connections, u.publish_guilds, s.data
             FROM users u JOIN snapshots s ON s.user_id = u.id WHERE u.id = $1",
            &[&id.to_string()],
        )?;
        let Some(row) = row else {
            return Ok(None);
        };
        let publish = Publish {
            connections: row.try_get(0)?,
            guilds: row.try_get(1)?,
        };
        let data: String = row.try_get(2)?;
        Ok(decode::<Snapshot>(data.as_bytes())
            .ok()
            .map(|snapshot| (publish, snapshot.value)))
    }
}

fn read_membership(row: &Row) -> Result<(String, Membership), StoreError> {
    let join: Option<String> = row.try_get(1)?;
    let welcome: Option<String> = row.try_get(5)?;
    let attempts: i64 = row.try_get(3)?;
    let welcome_attempts: i64 = row.try_get(6)?;
    Ok((
        row.try_get(0)?,
        Membership {
            // The CHECK constraints allow nothing else; an unknown value reads as none.
            join: join.as_deref().and_then(JoinState::parse),
            reason: row.try_get(2)?,
            attempts: u32::try_from(attempts.max(0)).unwrap_or(u32::MAX),
            next_at: row.try_get(4)?,
            welcome: welcome.as_deref().and_then(WelcomeState::parse),
            welcome_retry: WelcomeRetry {
                attempts: u32::try_from(welcome_attempts.max(0)).unwrap_or(u32::MAX),
                reason: row.try_get(7)?,
                next_at: row.try_get(8)?,
            },
        },
    ))
}
