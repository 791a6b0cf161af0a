//! The SQLite statements of the community's per-user state (see `store::community`).

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Row};

use super::Sqlite;
use crate::discord::lenient::decode;
use crate::discord::models::{Snapshot, Snowflake};
use crate::publish::Publish;
use crate::store::community::{split_due, PENDING_JOINS, PENDING_WELCOMES};
use crate::store::{JoinState, Membership, StoreError, WelcomeRetry, WelcomeState};

const COLUMNS: &str =
    "SELECT user_id, join_state, join_reason, join_attempts, join_next_at, welcome_state,
            welcome_attempts, welcome_reason, welcome_next_at FROM community_members";

impl Sqlite {
    /// User `id`'s row, if the community ever did anything with them.
    pub(crate) fn membership(&self, id: Snowflake) -> Result<Option<Membership>, StoreError> {
        let conn = self.conn();
        let row = conn
            .prepare_cached(&format!("{COLUMNS} WHERE user_id = ?1"))?
            .query_row(params![id.to_string()], read_membership)
            .optional()?;
        Ok(row.map(|(_, membership)| membership))
    }

    /// Every user's row, by id (for `users list`).
    pub(crate) fn memberships(&self) -> Result<HashMap<Snowflake, Membership>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(COLUMNS)?;
        let rows = statement.query_map([], read_membership)?;
        let mut all = HashMap::new();
        for row in rows {
            let (id, membership) = row?;
            if let Some(id) = Snowflake::parse(&id) {
                all.insert(id, membership);
            }
        }
        Ok(all)
    }

    /// Records how joining went for user `id` (`membership`'s join fields; its welcome is left
    /// as stored).
    pub(crate) fn record_join(
        &self,
        id: Snowflake,
        membership: &Membership,
        now: i64,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO community_members
                 (user_id, join_state, join_reason, join_attempts, join_next_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (user_id) DO UPDATE SET
                 join_state = excluded.join_state, join_reason = excluded.join_reason,
                 join_attempts = excluded.join_attempts, join_next_at = excluded.join_next_at,
                 updated_at = excluded.updated_at",
        )?
        .execute(params![
            id.to_string(),
            membership.join.map(JoinState::as_str),
            membership.reason,
            membership.attempts,
            membership.next_at,
            now
        ])?;
        Ok(())
    }

    /// Records that the welcome message to user `id` was sent (or could not be: closed DMs);
    /// the retries of earlier failures end with it.
    pub(crate) fn record_welcome(
        &self,
        id: Snowflake,
        welcome: WelcomeState,
        now: i64,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO community_members (user_id, welcome_state, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE SET welcome_state = excluded.welcome_state,
                 welcome_attempts = 0, welcome_reason = NULL, welcome_next_at = NULL,
                 updated_at = excluded.updated_at",
        )?
        .execute(params![id.to_string(), welcome.as_str(), now])?;
        Ok(())
    }

    /// Records that the welcome message to user `id` failed for a passing reason (`retry`).
    pub(crate) fn record_welcome_failure(
        &self,
        id: Snowflake,
        retry: &WelcomeRetry,
        now: i64,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO community_members
                 (user_id, welcome_attempts, welcome_reason, welcome_next_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (user_id) DO UPDATE SET
                 welcome_attempts = excluded.welcome_attempts,
                 welcome_reason = excluded.welcome_reason,
                 welcome_next_at = excluded.welcome_next_at, updated_at = excluded.updated_at",
        )?
        .execute(params![
            id.to_string(),
            retry.attempts,
            retry.reason,
            retry.next_at,
            now
        ])?;
        Ok(())
    }

    /// Active users whose pending join is due at `now`, and when the next one after that is.
    pub(crate) fn due_joins(&self, now: i64) -> Result<(Vec<Snowflake>, Option<i64>), StoreError> {
        self.due(PENDING_JOINS, now)
    }

    /// Active members whose welcome message is due to be tried again at `now`, and when the
    /// next one after that is.
    pub(crate) fn due_welcomes(
        &self,
        now: i64,
    ) -> Result<(Vec<Snowflake>, Option<i64>), StoreError> {
        self.due(PENDING_WELCOMES, now)
    }

    /// The users of `sql` (rows of id and when due) that are due at `now`, and the earliest
    /// time of the others ([`split_due`]).
    fn due(&self, sql: &str, now: i64) -> Result<(Vec<Snowflake>, Option<i64>), StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(sql)?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(split_due(rows, now))
    }
}

impl Sqlite {
    /// What the welcome message of user `id` is rendered from: their opt-ins and stored
    /// snapshot (`None` without a readable one).
    pub(crate) fn member_profile(
        &self,
        id: Snowflake,
    ) -> Result<Option<(Publish, Snapshot)>, StoreError> {
        let conn = self.conn();
        let row = conn
            .prepare_cached(
                "SELECT u.publish_connections, u.publish_guilds, s.data
                 FROM users u JOIN snapshots s ON s.user_id = u.id WHERE u.id = ?1",
            )?
            .query_row(params![id.to_string()], |row| {
                Ok((
                    Publish {
                        connections: row.get(0)?,
                        guilds: row.get(1)?,
                    },
                    row.get::<_, String>(2)?,
                ))
            })
            .optional()?;
        Ok(row.and_then(|(publish, data)| {
            decode::<Snapshot>(data.as_bytes())
                .ok()
                .map(|snapshot| (publish, snapshot.value))
        }))
    }
}

fn read_membership(row: &Row<'_>) -> rusqlite::Result<(String, Membership)> {
    let join: Option<String> = row.get(1)?;
    let welcome: Option<String> = row.get(5)?;
    Ok((
        row.get(0)?,
        Membership {
            // The CHECK constraints allow nothing else; an unknown value reads as none.
            join: join.as_deref().and_then(JoinState::parse),
            reason: row.get(2)?,
            attempts: row.get(3)?,
            next_at: row.get(4)?,
            welcome: welcome.as_deref().and_then(WelcomeState::parse),
            welcome_retry: WelcomeRetry {
                attempts: row.get(6)?,
                reason: row.get(7)?,
                next_at: row.get(8)?,
            },
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn store_with_user(id: Snowflake) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("strife.db")).unwrap();
        store
            .conn()
            .execute(
                "INSERT INTO users (id, username, scopes, status_since, created_at, updated_at)
                 VALUES (?1, 'ada', 'identify guilds.join', 0, 0, 0)",
                params![id.to_string()],
            )
            .unwrap();
        (dir, store)
    }

    #[test]
    fn join_and_welcome_are_remembered_apart() {
        let id = Snowflake(42);
        let (_dir, store) = store_with_user(id);
        assert_eq!(store.membership(id).unwrap(), None);
        let pending = Membership {
            join: Some(JoinState::Pending),
            reason: Some("HTTP 503".into()),
            attempts: 1,
            next_at: Some(100),
            ..Membership::default()
        };
        store.record_join(id, &pending, 10).unwrap();
        store
            .record_welcome(id, WelcomeState::ClosedDms, 11)
            .unwrap();
        let stored = store.membership(id).unwrap().unwrap();
        assert_eq!(stored.join, Some(JoinState::Pending));
        assert_eq!(stored.welcome, Some(WelcomeState::ClosedDms));
        assert_eq!(store.due_joins(99).unwrap(), (vec![], Some(100)));
        assert_eq!(store.due_joins(100).unwrap(), (vec![id], None));

        let joined = Membership {
            join: Some(JoinState::Joined),
            ..Membership::default()
        };
        store.record_join(id, &joined, 12).unwrap();
        let stored = store.membership(id).unwrap().unwrap();
        assert_eq!(stored.join, Some(JoinState::Joined));
        assert_eq!(stored.welcome, Some(WelcomeState::ClosedDms), "kept");
        assert_eq!(store.due_joins(1000).unwrap(), (vec![], None));
        assert_eq!(store.memberships().unwrap()[&id], stored);

        // A welcome that failed is due when its time comes; sending it ends the retries.
        let retry = WelcomeRetry {
            attempts: 1,
            reason: Some("Discord is not answering".into()),
            next_at: Some(200),
        };
        store
            .conn()
            .execute("UPDATE community_members SET welcome_state = NULL", [])
            .unwrap();
        store.record_welcome_failure(id, &retry, 13).unwrap();
        assert_eq!(store.membership(id).unwrap().unwrap().welcome_retry, retry);
        assert_eq!(store.due_welcomes(199).unwrap(), (vec![], Some(200)));
        assert_eq!(store.due_welcomes(200).unwrap(), (vec![id], None));
        store.record_welcome(id, WelcomeState::Sent, 14).unwrap();
        let stored = store.membership(id).unwrap().unwrap();
        assert_eq!(stored.welcome, Some(WelcomeState::Sent));
        assert_eq!(stored.welcome_retry, WelcomeRetry::default());
        assert_eq!(store.due_welcomes(1000).unwrap(), (vec![], None));
        // Given up (no next time): never due.
        let given_up = WelcomeRetry {
            next_at: None,
            ..retry
        };
        store
            .conn()
            .execute("UPDATE community_members SET welcome_state = NULL", [])
            .unwrap();
        store.record_welcome_failure(id, &given_up, 15).unwrap();
        assert_eq!(store.due_welcomes(1000).unwrap(), (vec![], None));

        // Deleting the user deletes their row with them.
        store.delete_user(id).unwrap();
        assert_eq!(store.membership(id).unwrap(), None);
    }
}
