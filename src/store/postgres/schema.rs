//! Owns the PostgreSQL schema and its ordered migrations, tracked in `strife_migrations`.
//! It must not change a released migration: new ones are appended, here and in
//! `store::sqlite::schema` alike (migration N is the same change on both backends).
//!
//! The types follow SQLite's: INTEGER becomes BIGINT (Unix seconds, counts), 0/1 flags become
//! BOOLEAN, BLOB becomes BYTEA. User ids are TEXT with the "C" collation, so rows come in the
//! same (byte) order as SQLite's, whatever the database's default collation.

use deadpool_postgres::Object;

use super::super::StoreError;

/// Migration `i` brings the store from version i to i + 1 (the same steps as SQLite's list).
const MIGRATIONS: &[&str] = &[
    // 1: users, their encrypted tokens, their latest snapshot, their past usernames.
    r#"
    CREATE TABLE users (
        id               TEXT COLLATE "C" PRIMARY KEY NOT NULL,
        username         TEXT NOT NULL,
        scopes           TEXT NOT NULL,
        publish_connections BOOLEAN NOT NULL DEFAULT FALSE,
        publish_guilds   BOOLEAN NOT NULL DEFAULT FALSE,
        status           TEXT NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'needs_reconsent', 'revoked')),
        status_since     BIGINT NOT NULL,
        created_at       BIGINT NOT NULL,
        updated_at       BIGINT NOT NULL,
        last_refresh_at  BIGINT,
        last_error       TEXT
    );
    CREATE TABLE tokens (
        user_id          TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        access_token     BYTEA NOT NULL,
        access_expires_at BIGINT NOT NULL,
        refresh_token    BYTEA NOT NULL,
        updated_at       BIGINT NOT NULL
    );
    CREATE TABLE snapshots (
        user_id          TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        data             TEXT NOT NULL,
        content_hash     TEXT NOT NULL,
        fetched_at       BIGINT NOT NULL,
        changed_at       BIGINT NOT NULL
    );
    CREATE TABLE name_history (
        user_id          TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        username         TEXT NOT NULL,
        first_seen       BIGINT NOT NULL,
        last_seen        BIGINT NOT NULL,
        PRIMARY KEY (user_id, username)
    );
    CREATE TABLE meta (
        key              TEXT PRIMARY KEY NOT NULL,
        value            BYTEA NOT NULL
    );
    CREATE INDEX users_status ON users(status);
    "#,
    // 2: retry with backoff.
    r#"
    ALTER TABLE users ADD COLUMN failure_count BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN next_attempt_at BIGINT;
    "#,
    // 3: signatures of webhook requests already accepted; the primary key makes "insert if
    // absent" atomic between concurrent copies of one request.
    r#"
    CREATE TABLE seen_signatures (
        signature        BYTEA PRIMARY KEY NOT NULL,
        signed_at        BIGINT NOT NULL
    );
    CREATE INDEX seen_signatures_signed_at ON seen_signatures(signed_at);
    "#,
    // 4: what a build needs to tell whether a page changed, without the snapshot.
    r#"
    CREATE INDEX snapshots_heads ON snapshots(user_id, content_hash, changed_at);
    "#,
    // 5: the site's own copies of Discord's images, and per user which snapshot's were fetched.
    r#"
    CREATE TABLE images (
        url              TEXT PRIMARY KEY NOT NULL,
        file             TEXT NOT NULL,
        bytes            BYTEA NOT NULL,
        fetched_at       BIGINT NOT NULL
    );
    CREATE INDEX images_file ON images(file);
    CREATE TABLE user_images (
        user_id          TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        mirrored_hash    TEXT,
        images_key       TEXT NOT NULL
    );
    "#,
    // 6: self-service profile edits (`/me`), published and pending.
    r#"
    CREATE TABLE profile_edits (
        user_id          TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        published        TEXT,
        published_key    TEXT,
        pending          TEXT,
        updated_at       BIGINT NOT NULL
    );
    "#,
    // 7: community join and welcome state, per user.
    r#"
    CREATE TABLE community_members (
        user_id          TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        join_state       TEXT CHECK (join_state IN ('pending', 'joined', 'already', 'failed')),
        join_reason      TEXT,
        join_attempts    BIGINT NOT NULL DEFAULT 0,
        join_next_at     BIGINT,
        welcome_state    TEXT CHECK (welcome_state IN ('sent', 'closed')),
        updated_at       BIGINT NOT NULL
    );
    CREATE INDEX community_members_pending ON community_members(join_state, join_next_at);
    "#,
    // 8: sessions ended by `POST /logout` before their expiry, by the SHA-256 of their CSRF token.
    r#"
    CREATE TABLE ended_sessions (
        token_hash       BYTEA PRIMARY KEY NOT NULL,
        expires_at       BIGINT NOT NULL
    );
    "#,
    // 9: a welcome message that failed for a passing reason is tried again, like a join.
    r#"
    ALTER TABLE community_members ADD COLUMN welcome_attempts BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE community_members ADD COLUMN welcome_reason TEXT;
    ALTER TABLE community_members ADD COLUMN welcome_next_at BIGINT;
    "#,
];

/// The advisory lock key held while migrating: two processes opening a new database at once
/// apply each step once (the second waits, then finds it applied). "strifemg" in ASCII.
const MIGRATION_LOCK: i64 = 0x7374_7269_6665_6d67;

/// Brings the database up to the newest schema, one transaction per step; refuses a database
/// from a newer strife-gen.
pub(super) async fn migrate(client: &mut Object) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS strife_migrations (
                 version    INTEGER PRIMARY KEY NOT NULL,
                 applied_at BIGINT NOT NULL
             )",
        )
        .await
        .or_else(ignore_concurrent_create)?;
    loop {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        let version: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM strife_migrations",
                &[],
            )
            .await?
            .try_get(0)?;
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
        tx.batch_execute(sql).await?;
        let next = i32::try_from(version + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO strife_migrations (version, applied_at) VALUES ($1, $2)",
            &[&next, &crate::store::unix_now()],
        )
        .await?;
        tx.commit().await?;
    }
}

/// `CREATE TABLE IF NOT EXISTS` is not atomic in PostgreSQL: of two processes creating the
/// table at once, one may fail on the catalog's unique index. The table is there either way.
fn ignore_concurrent_create(error: tokio_postgres::Error) -> Result<(), tokio_postgres::Error> {
    match error.code() {
        Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => Ok(()),
        _ => Err(error),
    }
}
