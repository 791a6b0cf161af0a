use super::sqlite::{published_rows_sql, NAME_HISTORY_IN_ID_ORDER};
use super::*;
use crate::config::DatabaseUrl;
use rusqlite::params;

fn snapshot(id: u64, username: &str) -> Snapshot {
    serde_json::from_value(serde_json::json!({
        "user": {"id": id.to_string(), "username": username, "discriminator": "0",
                 "global_name": null, "avatar": null, "public_flags": 0},
        "connections": null, "guilds": null
    }))
    .unwrap()
}

fn consent(id: u64, username: &str, refresh: &str) -> Consent {
    Consent {
        scopes: vec![Scope::Identify, Scope::Guilds],
        publish: Publish {
            connections: false,
            guilds: true,
        },
        tokens: Tokens {
            access_token: format!("access-{refresh}"),
            access_expires_at: 1_000,
            refresh_token: refresh.to_owned(),
        },
        snapshot: snapshot(id, username),
    }
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("strife.db")).unwrap();
    (dir, store)
}

fn page_ids(store: &Store) -> Vec<u64> {
    let mut ids = Vec::new();
    store
        .for_each_published(i64::MIN, |source| {
            ids.push(source.unwrap().id.0);
            true
        })
        .unwrap();
    ids
}

#[test]
fn migrations_set_the_schema_version_and_reopen_cleanly() {
    let (dir, store) = open();
    drop(store);
    let store = Store::open(&dir.path().join("strife.db")).unwrap();
    let version: i64 = store
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version as usize, sqlite::latest_version());
    let mode: String = store
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_store_from_a_newer_version_is_refused() {
    let (dir, store) = open();
    store
        .conn()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    drop(store);
    let error = Store::open(&dir.path().join("strife.db")).unwrap_err();
    assert!(
        matches!(error, StoreError::TooNew { found: 99, .. }),
        "{error}"
    );
}

#[test]
fn consent_round_trip_keeps_tokens_encrypted_on_disk() {
    let (dir, store) = open();
    let cipher = TokenCipher::random();
    store
        .record_consent(&consent(41, "ada", "refresh-secret-1"), &cipher, 100)
        .unwrap();

    let tokens = store.load_tokens(Snowflake(41), &cipher).unwrap().unwrap();
    assert_eq!(tokens.refresh_token, "refresh-secret-1");
    assert_eq!(tokens.access_token, "access-refresh-secret-1");

    let user = store.user(Snowflake(41)).unwrap().unwrap();
    assert_eq!(user.username, "ada");
    assert_eq!(user.status, UserStatus::Active);
    assert!(user.publish.guilds && !user.publish.connections);
    assert_eq!(user.scopes, [Scope::Identify, Scope::Guilds]);

    drop(store);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(14).any(|w| w == b"refresh-secret"),
            "a token was written to disk in the clear"
        );
    }
}

#[test]
fn rotated_tokens_replace_the_old_ones() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    store
        .record_consent(&consent(41, "ada", "r1"), &cipher, 100)
        .unwrap();
    let rotated = Tokens {
        access_token: "a2".into(),
        access_expires_at: 5_000,
        refresh_token: "r2".into(),
    };
    store
        .save_tokens(Snowflake(41), &rotated, &cipher, 200)
        .unwrap();
    assert_eq!(
        store.load_tokens(Snowflake(41), &cipher).unwrap(),
        Some(rotated)
    );
}

#[test]
fn a_wrong_key_is_detected_before_use() {
    let (_dir, store) = open();
    let right = TokenCipher::random();
    store.verify_key(&right).unwrap();
    store.verify_key(&right).unwrap();
    assert!(matches!(
        store.verify_key(&TokenCipher::random()),
        Err(StoreError::WrongKey)
    ));
}

#[test]
fn tokens_sealed_for_another_user_do_not_open() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    store
        .record_consent(&consent(1, "a", "r-a"), &cipher, 1)
        .unwrap();
    store
        .record_consent(&consent(2, "b", "r-b"), &cipher, 1)
        .unwrap();
    // Copy user 1's sealed refresh token into user 2's row, as an attacker with disk access might.
    store
        .conn()
        .execute_batch(
            "UPDATE tokens SET refresh_token = (SELECT refresh_token FROM tokens WHERE user_id = '1')
             WHERE user_id = '2'",
        )
        .unwrap();
    assert!(matches!(
        store.load_tokens(Snowflake(2), &cipher),
        Err(StoreError::Token { .. })
    ));
}

#[test]
fn snapshots_report_changes_and_keep_name_history() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    store
        .record_consent(&consent(7, "old_name", "r"), &cipher, 100)
        .unwrap();
    assert!(!store.save_snapshot(&snapshot(7, "old_name"), 200).unwrap());
    assert!(store.save_snapshot(&snapshot(7, "new_name"), 300).unwrap());
    assert_eq!(
        store.user(Snowflake(7)).unwrap().unwrap().username,
        "new_name"
    );
    assert_eq!(
        store.name_history(Snowflake(7)).unwrap(),
        ["new_name", "old_name"]
    );
}

#[test]
fn each_published_user_gets_their_own_old_names_with_unpublished_users_in_between() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    // Ids whose text order differs from their number order (9 > 10 as text), every user
    // renamed once, and every other one not published: the histories must still line up.
    let ids = [9u64, 10, 11, 100, 2, 35];
    for (at, id) in ids.iter().enumerate() {
        let at = at as i64;
        store
            .record_consent(&consent(*id, &format!("old{id}"), "r"), &cipher, 100 + at)
            .unwrap();
        store
            .save_snapshot(&snapshot(*id, &format!("new{id}")), 200 + at)
            .unwrap();
        if at % 2 == 1 {
            store
                .set_status(Snowflake(*id), UserStatus::Revoked, None, 300)
                .unwrap();
        }
    }
    let mut seen = Vec::new();
    store
        .for_each_published(i64::MIN, |source| {
            let source = source.unwrap();
            seen.push((source.id.0, source.old_names));
            true
        })
        .unwrap();
    seen.sort();
    let expected: Vec<(u64, Vec<String>)> = [2u64, 9, 11]
        .iter()
        .map(|id| (*id, vec![format!("old{id}")]))
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn page_sources_carry_old_names_and_when_data_changed() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    store
        .record_consent(&consent(7, "first", "r"), &cipher, 100)
        .unwrap();
    store.save_snapshot(&snapshot(7, "second"), 200).unwrap();
    store
        .save_snapshot(&snapshot(7, "third\"quoted,"), 300)
        .unwrap();
    store
        .save_snapshot(&snapshot(7, "third\"quoted,"), 400)
        .unwrap();
    store
        .record_consent(&consent(8, "never_renamed", "r"), &cipher, 150)
        .unwrap();

    let mut sources = Vec::new();
    store
        .for_each_published(i64::MIN, |source| {
            sources.push(source.unwrap());
            true
        })
        .unwrap();
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0].snapshot.user.username, "third\"quoted,");
    assert_eq!(sources[0].old_names, ["second", "first"]);
    assert_eq!(sources[0].changed_at, 300, "unchanged data keeps the date");
    assert!(sources[1].old_names.is_empty());
    assert_eq!(sources[1].changed_at, 150);
    assert_eq!(store.count_published(i64::MIN).unwrap(), 2);

    store
        .set_status(Snowflake(8), UserStatus::Revoked, None, 500)
        .unwrap();
    assert_eq!(store.count_published(i64::MIN).unwrap(), 1);
}

#[test]
fn statuses_decide_who_is_refreshed_and_published() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    for (id, name) in [(1, "a"), (2, "b"), (3, "c")] {
        store
            .record_consent(&consent(id, name, "r"), &cipher, 1)
            .unwrap();
    }
    store
        .set_status(
            Snowflake(2),
            UserStatus::NeedsReconsent,
            Some("invalid_grant"),
            5,
        )
        .unwrap();
    store
        .set_status(Snowflake(3), UserStatus::Revoked, None, 5)
        .unwrap();

    assert_eq!(store.due_user_ids(i64::MAX).unwrap(), [Snowflake(1)]);
    assert_eq!(page_ids(&store), [1, 2]);
    let waiting = store.user(Snowflake(2)).unwrap().unwrap();
    assert_eq!(waiting.last_error.as_deref(), Some("invalid_grant"));
    assert_eq!(waiting.status_since, 5);
    assert_eq!(store.load_tokens(Snowflake(3), &cipher).unwrap(), None);

    // A new consent brings a user back.
    store
        .record_consent(&consent(2, "b", "r2"), &cipher, 9)
        .unwrap();
    assert_eq!(
        store.due_user_ids(i64::MAX).unwrap(),
        [Snowflake(1), Snowflake(2)]
    );
}

#[test]
fn deleting_a_user_removes_all_their_rows() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    store
        .record_consent(&consent(5, "e", "r"), &cipher, 1)
        .unwrap();
    store
        .publish_edits(Snowflake(5), &edits("mine"), 2)
        .unwrap();
    assert!(store.delete_user(Snowflake(5)).unwrap());
    assert!(!store.delete_user(Snowflake(5)).unwrap());
    for table in [
        "users",
        "tokens",
        "snapshots",
        "name_history",
        "profile_edits",
    ] {
        let count: i64 = store
            .conn()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 0, "{table} still has rows");
    }
}

#[test]
fn a_corrupt_snapshot_is_reported_for_that_user_only() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    store
        .record_consent(&consent(1, "a", "r"), &cipher, 1)
        .unwrap();
    store
        .record_consent(&consent(2, "b", "r"), &cipher, 1)
        .unwrap();
    store
        .conn()
        .execute_batch("UPDATE snapshots SET data = '{\"user\": 5}' WHERE user_id = '1'")
        .unwrap();
    let mut results = Vec::new();
    store
        .for_each_published(i64::MIN, |source| {
            results.push(source.map(|s| s.id.0).map_err(|e| e.to_string()));
            true
        })
        .unwrap();
    assert!(results[0].as_ref().unwrap_err().contains("user 1"));
    assert_eq!(results[1], Ok(2));
}

#[test]
fn two_handles_can_write_at_the_same_time() {
    let (dir, first) = open();
    let second = Store::open(&dir.path().join("strife.db")).unwrap();
    let cipher = TokenCipher::random();
    let writer = {
        let cipher = cipher.clone();
        std::thread::spawn(move || {
            for id in 0..50 {
                first
                    .record_consent(&consent(id, "x", "r"), &cipher, 1)
                    .unwrap();
            }
        })
    };
    for id in 50..100 {
        second
            .record_consent(&consent(id, "y", "r"), &cipher, 1)
            .unwrap();
    }
    writer.join().unwrap();
    assert_eq!(second.list_users().unwrap().len(), 100);
}

#[test]
fn token_debug_output_is_redacted() {
    let tokens = consent(1, "a", "very-secret").tokens;
    let shown = format!("{tokens:?}");
    assert!(!shown.contains("very-secret"), "{shown}");
}

#[test]
fn failures_back_off_and_success_resets() {
    let (_dir, store) = open();
    let cipher = TokenCipher::from_key(&[9; 32]);
    store
        .record_consent(&consent(1, "ada", "r1"), &cipher, 100)
        .unwrap();
    store
        .record_consent(&consent(2, "bob", "r2"), &cipher, 100)
        .unwrap();
    let doubling = |count: u32| 60 * (1i64 << (count - 1));
    assert_eq!(
        store
            .record_failure(Snowflake(1), "boom", 1_000, doubling)
            .unwrap(),
        1
    );
    assert_eq!(
        store.retry_state(Snowflake(1)).unwrap(),
        Some((1, Some(1_060)))
    );
    assert_eq!(
        store
            .record_failure(Snowflake(1), "boom", 1_060, doubling)
            .unwrap(),
        2
    );
    assert_eq!(
        store.retry_state(Snowflake(1)).unwrap(),
        Some((2, Some(1_180)))
    );
    assert_eq!(store.due_user_ids(1_179).unwrap(), [Snowflake(2)]);
    assert_eq!(
        store.due_user_ids(1_180).unwrap(),
        [Snowflake(1), Snowflake(2)]
    );
    let record = store.user(Snowflake(1)).unwrap().unwrap();
    assert_eq!(record.last_error.as_deref(), Some("boom"));

    store.save_snapshot(&snapshot(1, "ada"), 1_200).unwrap();
    assert_eq!(store.retry_state(Snowflake(1)).unwrap(), Some((0, None)));
    assert_eq!(store.due_user_ids(0).unwrap(), [Snowflake(1), Snowflake(2)]);
    // Unknown users are not an error.
    assert_eq!(
        store
            .record_failure(Snowflake(9), "x", 1, doubling)
            .unwrap(),
        0
    );
}

#[test]
fn grace_period_hides_users_waiting_too_long_for_reconsent() {
    let (_dir, store) = open();
    let cipher = TokenCipher::from_key(&[9; 32]);
    store
        .record_consent(&consent(1, "ada", "r1"), &cipher, 100)
        .unwrap();
    store
        .record_consent(&consent(2, "bob", "r2"), &cipher, 100)
        .unwrap();
    store
        .set_status(Snowflake(2), UserStatus::NeedsReconsent, Some("gone"), 500)
        .unwrap();
    let published = |cutoff| {
        let mut ids = Vec::new();
        store
            .for_each_published(cutoff, |source| {
                ids.push(source.unwrap().id.0);
                true
            })
            .unwrap();
        ids
    };
    assert_eq!(published(500), [1, 2], "still within the grace period");
    assert_eq!(published(501), [1], "grace period over");
    assert_eq!(page_ids(&store), [1, 2]);
    assert_eq!(store.list_users().unwrap().len(), 2, "still listed");
}

#[test]
fn deauthorization_revokes_unless_stale() {
    let (_dir, store) = open();
    let cipher = TokenCipher::from_key(&[9; 32]);
    store
        .record_consent(&consent(1, "ada", "r1"), &cipher, 1_000)
        .unwrap();
    // An event from before the latest consent is stale.
    assert_eq!(
        store
            .revoke_authorization(Snowflake(1), Some(999), 2_000)
            .unwrap(),
        Revocation::Stale
    );
    assert!(store.load_tokens(Snowflake(1), &cipher).unwrap().is_some());
    assert_eq!(
        store
            .revoke_authorization(Snowflake(1), Some(1_500), 2_000)
            .unwrap(),
        Revocation::Revoked
    );
    assert!(store.load_tokens(Snowflake(1), &cipher).unwrap().is_none());
    assert_eq!(
        store.user(Snowflake(1)).unwrap().unwrap().status,
        UserStatus::Revoked
    );
    assert!(page_ids(&store).is_empty());
    assert_eq!(
        store
            .revoke_authorization(Snowflake(1), None, 2_001)
            .unwrap(),
        Revocation::AlreadyRevoked
    );
    assert_eq!(
        store
            .revoke_authorization(Snowflake(7), None, 2_001)
            .unwrap(),
        Revocation::Unknown
    );
}

#[test]
fn a_revoked_user_is_not_brought_back_by_a_late_refresh() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    store
        .record_consent(&consent(8, "h", "r1"), &cipher, 1)
        .unwrap();
    store
        .set_status(Snowflake(8), UserStatus::Revoked, None, 2)
        .unwrap();
    // What a refresh in another process, started before the revocation, would do next.
    let late = Tokens {
        access_token: "a2".into(),
        access_expires_at: 9,
        refresh_token: "r2".into(),
    };
    store.save_tokens(Snowflake(8), &late, &cipher, 3).unwrap();
    store
        .set_status(
            Snowflake(8),
            UserStatus::NeedsReconsent,
            Some("invalid_grant"),
            3,
        )
        .unwrap();
    assert_eq!(
        store.user(Snowflake(8)).unwrap().unwrap().status,
        UserStatus::Revoked
    );
    assert_eq!(store.load_tokens(Snowflake(8), &cipher).unwrap(), None);
    // A new consent does bring them back.
    store
        .record_consent(&consent(8, "h", "r3"), &cipher, 4)
        .unwrap();
    assert_eq!(
        store.user(Snowflake(8)).unwrap().unwrap().status,
        UserStatus::Active
    );
}

#[test]
fn a_late_refresh_stores_no_snapshot_for_a_revoked_or_deleted_user() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    for id in [8, 9] {
        store
            .record_consent(&consent(id, "old", "r1"), &cipher, 1)
            .unwrap();
    }
    store
        .set_status(Snowflake(8), UserStatus::Revoked, None, 2)
        .unwrap();
    assert!(store.delete_user(Snowflake(9)).unwrap());
    // What a refresh that fetched them before would store next: nothing, and no error (a
    // deleted user's row is gone, so a snapshot would break the foreign key).
    for id in [8, 9] {
        assert!(!store.save_snapshot(&snapshot(id, "new"), 3).unwrap());
    }
    let snapshots: i64 = store
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM snapshots WHERE data LIKE '%\"new\"%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(snapshots, 0);
    assert_eq!(store.user(Snowflake(9)).unwrap(), None);
}

#[test]
fn processes_opening_a_new_store_at_once_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strife.db");
    let cipher = TokenCipher::random();
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let (path, cipher) = (path.clone(), cipher.clone());
            std::thread::spawn(move || {
                let store = Store::open(&path)?;
                store.verify_key(&cipher)
            })
        })
        .collect();
    for opener in openers {
        opener.join().unwrap().unwrap();
    }
}

fn seen_count(store: &Store) -> i64 {
    store
        .conn()
        .query_row("SELECT count(*) FROM seen_signatures", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_signature_is_seen_once_then_is_a_replay_even_after_reopening() {
    let (dir, store) = open();
    assert_eq!(
        store.remember_signature(&[1; 64], 1000, 700).unwrap(),
        Sighting::First
    );
    assert_eq!(
        store.remember_signature(&[1; 64], 1000, 701).unwrap(),
        Sighting::Replay
    );
    assert_eq!(
        store.remember_signature(&[2; 32], 1000, 701).unwrap(),
        Sighting::First,
        "another signature is not a replay"
    );
    drop(store);
    let store = Store::open(&dir.path().join("strife.db")).unwrap();
    assert_eq!(
        store.remember_signature(&[1; 64], 1000, 702).unwrap(),
        Sighting::Replay,
        "a restart forgets nothing"
    );
}

#[test]
fn signatures_are_forgotten_once_their_timestamp_leaves_the_window() {
    let (_dir, store) = open();
    store.remember_signature(&[1; 64], 1000, 0).unwrap();
    store.remember_signature(&[2; 64], 1200, 0).unwrap();
    // A timestamp from the future (inside the window) is kept until it too is old.
    store.remember_signature(&[3; 64], 1600, 0).unwrap();
    assert_eq!(seen_count(&store), 3);
    store.remember_signature(&[4; 64], 1300, 1001).unwrap();
    assert_eq!(
        seen_count(&store),
        3,
        "only [1] (signed at 1000) was forgotten"
    );
    // Exactly at the edge of the window a record is still needed.
    store.remember_signature(&[5; 64], 1500, 1200).unwrap();
    assert_eq!(seen_count(&store), 4);
    assert_eq!(
        store.remember_signature(&[2; 64], 1200, 1200).unwrap(),
        Sighting::Replay
    );
    store.remember_signature(&[6; 64], 1700, 1550).unwrap();
    let left: Vec<i64> = store
        .conn()
        .prepare("SELECT signed_at FROM seen_signatures ORDER BY signed_at")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(left, [1600, 1700]);
}

#[test]
fn of_two_copies_of_one_request_at_once_exactly_one_is_first() {
    let (dir, store) = open();
    let path = dir.path().join("strife.db");
    // Separate handles are separate connections, like two processes on one file.
    let handles: Vec<Store> = (0..8).map(|_| Store::open(&path).unwrap()).collect();
    let barrier = Arc::new(std::sync::Barrier::new(handles.len()));
    let racers: Vec<_> = handles
        .into_iter()
        .map(|handle| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                handle.remember_signature(&[9; 64], 1000, 700).unwrap()
            })
        })
        .collect();
    let sightings: Vec<Sighting> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let first = sightings.iter().filter(|s| **s == Sighting::First).count();
    assert_eq!(first, 1, "{sightings:?}");
    assert_eq!(seen_count(&store), 1);
}

#[test]
fn a_store_from_before_the_replay_records_gains_them() {
    let (dir, store) = open();
    store
        .record_consent(&consent(42, "ada", "r1"), &TokenCipher::random(), 100)
        .unwrap();
    // What strife-gen wrote before migration 3.
    store
        .conn()
        .execute_batch(
            "DROP TABLE seen_signatures; DROP INDEX snapshots_heads; DROP TABLE images;
             DROP TABLE user_images; DROP TABLE profile_edits; DROP TABLE community_members;
             DROP TABLE ended_sessions;
             PRAGMA user_version = 2;",
        )
        .unwrap();
    drop(store);
    let store = Store::open(&dir.path().join("strife.db")).unwrap();
    assert_eq!(store.list_users().unwrap().len(), 1, "data kept");
    assert_eq!(
        store.remember_signature(&[1; 64], 1000, 700).unwrap(),
        Sighting::First
    );
}

#[cfg(unix)]
#[test]
fn the_database_and_its_wal_and_shm_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, store) = open();
    store
        .record_consent(&consent(1, "nelly", "r1"), &TokenCipher::random(), 100)
        .unwrap();
    // While the connection is open, the written transaction sits in the WAL.
    for name in ["strife.db", "strife.db-wal", "strife.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
    }
}

#[test]
fn an_unknown_stored_status_is_an_error_not_a_guess() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    store
        .record_consent(&consent(41, "ada", "refresh-1"), &cipher, 100)
        .unwrap();
    // As a newer strife-gen with a fourth status might have written it (the CHECK is bypassed).
    store
        .conn()
        .execute_batch(
            "PRAGMA ignore_check_constraints = ON;
             UPDATE users SET status = 'frozen' WHERE id = '41';",
        )
        .unwrap();
    let error = store.user(Snowflake(41)).unwrap_err();
    assert!(
        error.to_string().contains("unknown user status \"frozen\""),
        "{error}"
    );
    let mut pages = Vec::new();
    store
        .for_each_published(i64::MIN, |source| {
            pages.push(source.map(|s| s.id));
            true
        })
        .unwrap();
    assert!(
        pages.is_empty(),
        "not published under any status: {pages:?}"
    );
    assert!(store
        .revoke_authorization(Snowflake(41), None, 200)
        .is_err());
}

#[test]
fn statuses_round_trip_through_their_names() {
    for status in UserStatus::ALL {
        assert_eq!(status.as_str().parse::<UserStatus>().unwrap(), status);
    }
    assert!("Active".parse::<UserStatus>().is_err());
}

#[test]
fn published_users_stream_in_id_order_without_a_sort_on_disk() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    for id in [30u64, 10, 20] {
        store
            .record_consent(&consent(id, &format!("u{id}"), "r"), &cipher, 5)
            .unwrap();
    }
    assert_eq!(page_ids(&store), [10, 20, 30]);
    // The plan walks the users' primary key: no temporary B-tree for the outer ORDER BY, which
    // would copy every snapshot into a temporary file on each build.
    let conn = store.conn();
    let mut plan = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", published_rows_sql()))
        .unwrap();
    let steps: Vec<(i64, String)> = plan
        .query_map(params![0, "active", "needs_reconsent"], |r| {
            Ok((r.get(1)?, r.get(3)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        !steps
            .iter()
            .any(|(parent, step)| *parent == 0 && step.contains("TEMP B-TREE")),
        "{steps:?}"
    );
    // And snapshots are not read: the covering index has what is needed.
    assert!(
        steps
            .iter()
            .any(|(_, step)| step.contains("COVERING INDEX snapshots_heads")),
        "{steps:?}"
    );
    // The name histories come in the same order from their primary key, unsorted.
    let mut plan = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {NAME_HISTORY_IN_ID_ORDER}"))
        .unwrap();
    let steps: Vec<String> = plan
        .query_map([], |r| r.get(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        !steps.iter().any(|step| step.contains("TEMP B-TREE")),
        "{steps:?}"
    );
}

fn edits(bio: &str) -> ProfileEdits {
    ProfileEdits {
        bio: Some(bio.into()),
        ..ProfileEdits::default()
    }
}

/// The published edits and their key, as a build reads them.
fn published_edits(store: &Store, id: u64) -> (Option<String>, Option<ProfileEdits>) {
    let mut found = None;
    store
        .for_each_published_row(i64::MIN, |row| {
            let row = row.unwrap();
            if row.id.0 == id {
                let key = row.edits_key.clone();
                found = Some((key, row.page_source().unwrap().edits));
            }
            true
        })
        .unwrap();
    found.expect("the user is published")
}

#[test]
fn published_edits_reach_the_page_source_and_change_its_key() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    store
        .record_consent(&consent(5, "e", "r"), &cipher, 1)
        .unwrap();
    store
        .record_consent(&consent(6, "f", "r"), &cipher, 1)
        .unwrap();
    assert_eq!(published_edits(&store, 5), (None, None));
    assert_eq!(store.edits(Snowflake(5)).unwrap(), StoredEdits::default());

    store.publish_edits(Snowflake(5), &edits("one"), 2).unwrap();
    let (first_key, source) = published_edits(&store, 5);
    assert_eq!(source, Some(edits("one")));
    store.publish_edits(Snowflake(5), &edits("two"), 3).unwrap();
    let (second_key, source) = published_edits(&store, 5);
    assert_eq!(source, Some(edits("two")));
    assert!(first_key.is_some() && second_key.is_some() && first_key != second_key);
    // Nobody else's page changed.
    assert_eq!(published_edits(&store, 6), (None, None));
    // Edits of someone who never consented have nowhere to go.
    assert!(store.publish_edits(Snowflake(7), &edits("x"), 3).is_err());
}

#[test]
fn held_edits_wait_for_approval() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    store
        .record_consent(&consent(5, "e", "r"), &cipher, 1)
        .unwrap();
    assert_eq!(
        store.approve_edits(Snowflake(5), 2).unwrap(),
        Approval::NothingPending
    );
    store
        .publish_edits(Snowflake(5), &edits("live"), 2)
        .unwrap();
    store
        .hold_edits(Snowflake(5), &edits("waiting"), 3)
        .unwrap();
    let stored = store.edits(Snowflake(5)).unwrap();
    assert_eq!(stored.published, Some(edits("live")));
    assert_eq!(stored.pending, Some(edits("waiting")));
    assert_eq!(stored.latest(), Some(&edits("waiting")));
    assert_eq!(published_edits(&store, 5).1, Some(edits("live")));
    assert!(store.user(Snowflake(5)).unwrap().unwrap().edits_pending);
    assert!(store.list_users().unwrap()[0].edits_pending);

    assert_eq!(
        store.approve_edits(Snowflake(5), 4).unwrap(),
        Approval::Approved
    );
    let stored = store.edits(Snowflake(5)).unwrap();
    assert_eq!(stored.published, Some(edits("waiting")));
    assert_eq!(stored.pending, None);
    assert_eq!(published_edits(&store, 5).1, Some(edits("waiting")));
    assert!(!store.user(Snowflake(5)).unwrap().unwrap().edits_pending);
    assert_eq!(
        store.approve_edits(Snowflake(5), 5).unwrap(),
        Approval::NothingPending
    );
}

#[test]
fn unreadable_edits_leave_the_page_without_them() {
    let (_dir, store) = open();
    let cipher = TokenCipher::random();
    store
        .record_consent(&consent(5, "e", "r"), &cipher, 1)
        .unwrap();
    store.publish_edits(Snowflake(5), &edits("one"), 2).unwrap();
    store
        .conn()
        .execute_batch("UPDATE profile_edits SET published = '{\"bio\": 5}'")
        .unwrap();
    let (key, source) = published_edits(&store, 5);
    assert!(key.is_some());
    assert_eq!(
        source, None,
        "the page is still published, without the edits"
    );
    let error = store.edits(Snowflake(5)).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Edits {
                user: Snowflake(5),
                ..
            }
        ),
        "{error}"
    );
}

/// The same store semantics on PostgreSQL, against a throwaway cluster (`test-postgres`), one
/// fresh database per test; skipped with a note where PostgreSQL is not installed (not in CI).
mod on_postgres {
    use super::*;

    fn open_pg() -> Option<Store> {
        let url = test_postgres::database()?;
        Some(Store::open_at(&StoreLocation::Postgres(DatabaseUrl::from(url))).unwrap())
    }

    #[test]
    fn consent_rotation_and_deletion_round_trip() {
        let Some(store) = open_pg() else { return };
        let cipher = TokenCipher::random();
        store.verify_key(&cipher).unwrap();
        assert!(matches!(
            store.verify_key(&TokenCipher::random()),
            Err(StoreError::WrongKey)
        ));
        store
            .record_consent(&consent(41, "ada", "r1"), &cipher, 100)
            .unwrap();
        let rotated = Tokens {
            access_token: "a2".into(),
            access_expires_at: 5_000,
            refresh_token: "r2".into(),
        };
        store
            .save_tokens(Snowflake(41), &rotated, &cipher, 200)
            .unwrap();
        assert_eq!(
            store.load_tokens(Snowflake(41), &cipher).unwrap(),
            Some(rotated)
        );
        assert!(store.save_snapshot(&snapshot(41, "ada2"), 300).unwrap());
        assert_eq!(store.name_history(Snowflake(41)).unwrap(), ["ada2", "ada"]);
        assert_eq!(page_ids(&store), [41]);
        let user = store.user(Snowflake(41)).unwrap().unwrap();
        assert_eq!(user.scopes, [Scope::Identify, Scope::Guilds]);
        assert!(store.delete_user(Snowflake(41)).unwrap());
        assert_eq!(store.load_tokens(Snowflake(41), &cipher).unwrap(), None);
        assert_eq!(store.snapshot(Snowflake(41)).unwrap(), None);
    }

    #[test]
    fn joins_and_welcome_retries_are_remembered_and_deleted_with_the_user() {
        use crate::store::{JoinState, Membership, WelcomeRetry, WelcomeState};
        let Some(store) = open_pg() else { return };
        let cipher = TokenCipher::random();
        store
            .record_consent(&consent(9, "ada", "r1"), &cipher, 100)
            .unwrap();
        let id = Snowflake(9);
        let pending = Membership {
            join: Some(JoinState::Pending),
            reason: Some("HTTP 503".into()),
            attempts: 1,
            next_at: Some(100),
            ..Membership::default()
        };
        store.record_join(id, &pending, 10).unwrap();
        assert_eq!(store.due_joins(99).unwrap(), (vec![], Some(100)));
        assert_eq!(store.due_joins(100).unwrap(), (vec![id], None));
        let joined = Membership {
            join: Some(JoinState::Joined),
            ..Membership::default()
        };
        store.record_join(id, &joined, 11).unwrap();
        let retry = WelcomeRetry {
            attempts: 2,
            reason: Some("Discord is not answering".into()),
            next_at: Some(200),
        };
        store.record_welcome_failure(id, &retry, 12).unwrap();
        let stored = store.membership(id).unwrap().unwrap();
        assert_eq!(
            (stored.join, stored.welcome_retry),
            (Some(JoinState::Joined), retry)
        );
        assert_eq!(store.due_welcomes(199).unwrap(), (vec![], Some(200)));
        assert_eq!(store.due_welcomes(200).unwrap(), (vec![id], None));
        store.record_welcome(id, WelcomeState::Sent, 13).unwrap();
        let stored = store.memberships().unwrap()[&id].clone();
        assert_eq!(stored.welcome, Some(WelcomeState::Sent));
        assert_eq!(stored.welcome_retry, WelcomeRetry::default());
        assert_eq!(store.due_welcomes(1000).unwrap(), (vec![], None));
        assert!(store.delete_user(id).unwrap());
        assert_eq!(store.membership(id).unwrap(), None);
    }

    #[test]
    fn a_revoked_user_keeps_no_rotated_tokens() {
        let Some(store) = open_pg() else { return };
        let cipher = TokenCipher::random();
        store
            .record_consent(&consent(7, "b", "r1"), &cipher, 100)
            .unwrap();
        store
            .set_status(Snowflake(7), UserStatus::Revoked, None, 150)
            .unwrap();
        let late = Tokens {
            access_token: "a".into(),
            access_expires_at: 1,
            refresh_token: "late".into(),
        };
        store
            .save_tokens(Snowflake(7), &late, &cipher, 200)
            .unwrap();
        assert_eq!(store.load_tokens(Snowflake(7), &cipher).unwrap(), None);
    }

    #[test]
    fn of_two_copies_of_one_request_at_once_exactly_one_is_first() {
        let Some(store) = open_pg() else { return };
        let sightings: Vec<Sighting> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| store.remember_signature(b"sig", 100, 0).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let first = sightings.iter().filter(|s| **s == Sighting::First).count();
        assert_eq!(first, 1, "{sightings:?}");
    }

    #[test]
    fn many_published_users_stream_in_id_order_in_batches() {
        let Some(store) = open_pg() else { return };
        let cipher = TokenCipher::random();
        // More users than one batch of the portal, ids whose text order is not their number order.
        for id in 1..=600u64 {
            store
                .record_consent(&consent(id, &format!("u{id}"), "r"), &cipher, 100)
                .unwrap();
        }
        let mut expected: Vec<u64> = (1..=600).collect();
        expected.sort_by_key(|id| id.to_string());
        assert_eq!(page_ids(&store), expected);
        assert_eq!(store.count_published(i64::MIN).unwrap(), 600);
    }

    #[tokio::test]
    async fn a_call_from_async_code_outside_run_is_an_error_not_a_hang() {
        let Some(store) = tokio::task::spawn_blocking(|| allow_blocking(open_pg))
            .await
            .unwrap()
        else {
            return;
        };
        assert!(matches!(store.list_users(), Err(StoreError::AsyncCaller)));
        assert!(store.run(|s| s.list_users()).await.unwrap().is_empty());
        // Dropped on an async thread: no panic from the store's runtime.
        drop(store);
    }

    #[test]
    fn a_wrong_password_names_the_setting_and_host_never_the_password() {
        let Some(url) = test_postgres::database() else {
            return;
        };
        let wrong = test_postgres::url_with_password(&url, "not-the-password-42");
        let error = Store::open_at(&StoreLocation::Postgres(DatabaseUrl::from(wrong)))
            .unwrap_err()
            .to_string();
        assert!(error.contains("store.url"), "{error}");
        assert!(error.contains("database test_"), "{error}");
        assert!(!error.contains("not-the-password-42"), "{error}");
    }
}
