//! Owns the SQLite schema and its ordered migrations.
//! It must not change a released migration: new ones are appended.
//!
//! The SQLite schema, as an ordered list of migrations tracked in `PRAGMA user_version`.
//!
//! Migrations are only ever appended: a store written by version N opens with every later
//! strife-gen, which applies the missing steps, each in its own transaction.

use rusqlite::Connection;

use super::StoreError;

/// Migration `i` brings the store from `user_version` i to i + 1.
const MIGRATIONS: &[&str] = &[
    // 1: users, their encrypted tokens, their latest snapshot, their past usernames.
    r#"
    CREATE TABLE users (
        id               TEXT PRIMARY KEY NOT NULL,
        username         TEXT NOT NULL,
        scopes           TEXT NOT NULL,            -- granted, space-separated
        publish_connections INTEGER NOT NULL DEFAULT 0,
        publish_guilds   INTEGER NOT NULL DEFAULT 0,
        status           TEXT NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'needs_reconsent', 'revoked')),
        status_since     INTEGER NOT NULL,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        last_refresh_at  INTEGER,
        last_error       TEXT
    );
    CREATE TABLE tokens (
        user_id          TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        access_token     BLOB NOT NULL,            -- nonce || XChaCha20-Poly1305 ciphertext
        access_expires_at INTEGER NOT NULL,
        refresh_token    BLOB NOT NULL,            -- nonce || XChaCha20-Poly1305 ciphertext
        updated_at       INTEGER NOT NULL
    );
    CREATE TABLE snapshots (
        user_id          TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        data             TEXT NOT NULL,            -- the Discord JSON, as a strife Snapshot
        content_hash     TEXT NOT NULL,            -- sha256 of data
        fetched_at       INTEGER NOT NULL,
        changed_at       INTEGER NOT NULL
    );
    CREATE TABLE name_history (
        user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        username         TEXT NOT NULL,
        first_seen       INTEGER NOT NULL,
        last_seen        INTEGER NOT NULL,
        PRIMARY KEY (user_id, username)
    );
    CREATE TABLE meta (
        key              TEXT PRIMARY KEY NOT NULL,
        value            BLOB NOT NULL
    );
    CREATE INDEX users_status ON users(status);
    "#,
    // 2: retry with backoff: how many refreshes failed in a row, and when to try again.
    r#"
    ALTER TABLE users ADD COLUMN failure_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN next_attempt_at INTEGER;
    "#,
    // 3: signatures of webhook requests already accepted (both routes), kept while their
    // timestamp is inside the window, so a replay is refused even after a restart. The primary
    // key makes "insert if absent" atomic: of two copies of one request, one insert wins.
    r#"
    CREATE TABLE seen_signatures (
        signature        BLOB PRIMARY KEY NOT NULL,  -- the decoded Ed25519 signature or HMAC tag
        signed_at        INTEGER NOT NULL            -- the signed timestamp, Unix seconds
    );
    CREATE INDEX seen_signatures_signed_at ON seen_signatures(signed_at);
    "#,
    // 4: what a build needs to tell whether a page changed, without the snapshot: the
    // covering index answers it from a few pages, where the table's rows hold whole snapshots.
    r#"
    CREATE INDEX snapshots_heads ON snapshots(user_id, content_hash, changed_at);
    "#,
    // 5: the site's own copies of Discord's images (`site.images = "mirror"`), by URL (a CDN URL
    // names one image for good: a changed avatar gets a new hash), and per user which snapshot's
    // images were fetched (`mirrored_hash`, NULL while a fetch must be retried) and the digest
    // of the files their page uses (`images_key`: part of the page's inputs).
    r#"
    CREATE TABLE images (
        url              TEXT PRIMARY KEY NOT NULL,
        file             TEXT NOT NULL,              -- <sha-256 prefix>.<ext>, under output/img/
        bytes            BLOB NOT NULL,
        fetched_at       INTEGER NOT NULL
    );
    CREATE INDEX images_file ON images(file);
    CREATE TABLE user_images (
        user_id          TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        mirrored_hash    TEXT,
        images_key       TEXT NOT NULL
    );
    "#,
    // 6: self-service profile edits (`/me`): what a person wrote on their page, as JSON
    // (`crate::edits::ProfileEdits`). `published` is on the page (its SHA-256 in `published_key`,
    // part of the page's inputs); `pending` waits for `users approve` when moderation = "review".
    // Deleted with the user.
    r#"
    CREATE TABLE profile_edits (
        user_id          TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        published        TEXT,
        published_key    TEXT,
        pending          TEXT,
        updated_at       INTEGER NOT NULL
    );
    "#,
    // 7: community join and welcome state, per user: how their joining the community's server
    // went (`pending` while a passing failure is retried, at `join_next_at`), and whether the
    // welcome message was sent (or their DMs were closed): each happens once per user.
    r#"
    CREATE TABLE community_members (
        user_id          TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        join_state       TEXT CHECK (join_state IN ('pending', 'joined', 'already', 'failed')),
        join_reason      TEXT,                       -- why it failed (or is retried), for users list
        join_attempts    INTEGER NOT NULL DEFAULT 0, -- failed attempts in a row
        join_next_at     INTEGER,                    -- Unix seconds, while pending
        welcome_state    TEXT CHECK (welcome_state IN ('sent', 'closed')),
        updated_at       INTEGER NOT NULL
    );
    CREATE INDEX community_members_pending ON community_members(join_state, join_next_at);
    "#,
    // 8: sessions (`/me`) ended by `POST /logout` before their expiry, by the SHA-256 of their
    // CSRF token: a cookie copied before signing out must not open again after a restart.
    // Kept until the session would have expired anyway.
    r#"
    CREATE TABLE ended_sessions (
        token_hash       BLOB PRIMARY KEY NOT NULL,
        expires_at       INTEGER NOT NULL
    );
    "#,
    // 9: a welcome message that failed for a passing reason is tried again with the refresh's
    // backoff, like a join: failed attempts in a row, why, and when next (NULL once sent, or
    // given up until the person's next consent).
    r#"
    ALTER TABLE community_members ADD COLUMN welcome_attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE community_members ADD COLUMN welcome_reason TEXT;
    ALTER TABLE community_members ADD COLUMN welcome_next_at INTEGER;
    "#,
];

/// Brings the store up to the newest schema; refuses a store from a newer strife-gen.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    loop {
        // IMMEDIATE: two processes opening a new store at once must not both apply a step; the
        // second one waits (busy timeout), then reads the version the first one left.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > MIGRATIONS.len() {
            return Err(StoreError::TooNew {
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        let Some(sql) = MIGRATIONS.get(version) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        // PRAGMA takes no parameters; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))?;
        tx.commit()?;
    }
}

#[cfg(test)]
pub(crate) fn latest_version() -> usize {
    MIGRATIONS.len()
}
