//! Webhooks end to end through the real routes: Discord's signed events (checked against fixtures
//! signed by PyNaCl, see tests/fixtures/webhooks/make.py), the HMAC refresh hook (fixtures signed
//! by Python's hmac module, see tests/fixtures/webhooks/make_refresh.py; rerun it after changing
//! the hook's contract) and its jobs, replays (in one process and after a restart), the README's
//! curl recipe, the one coalescing queue, the build lock, retry backoff and the re-consent grace
//! period.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::fixtures::{ada, binary, site_table, themes_dir, ADA, TOKEN_KEY};
use crate::support::log::Log;
use crate::support::site::Site;
use fake_discord::{FakeUser, CLIENT_SECRET};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use strife_gen::build;
use strife_gen::config::Secrets;
use strife_gen::discord::models::Snowflake;
use strife_gen::jobs::Trigger;
use strife_gen::layout::Layout;
use strife_gen::lock::BuildLock;
use strife_gen::server::{routes, serve_until, App};
use strife_gen::service::Service;
use strife_gen::site::render::Renderer;
use strife_gen::store::{unix_now, UserStatus};
use warp::http::StatusCode;

const SECRET: &str = "test-webhook-secret";

struct Fixture {
    public_key: String,
    timestamp: String,
    body: String,
    signature: String,
}

fn fixture_json(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webhooks")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn fixture(name: &str) -> Fixture {
    let value = fixture_json(name);
    let field = |key: &str| value[key].as_str().unwrap().to_owned();
    Fixture {
        public_key: field("public_key"),
        timestamp: field("timestamp"),
        body: field("body"),
        signature: field("signature"),
    }
}

/// The fixtures' signing instant, as our injected clock sees it.
fn fixture_time() -> i64 {
    fixture("ping").timestamp.parse().unwrap()
}

/// A clock the test moves: what [`App::with_clock`] reads.
#[derive(Clone)]
struct Clock(Arc<AtomicI64>);

impl Clock {
    fn at(now: i64) -> Clock {
        Clock(Arc::new(AtomicI64::new(now)))
    }
    fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
    fn reader(&self) -> impl Fn() -> i64 + Send + Sync + 'static {
        let now = self.0.clone();
        move || now.load(Ordering::SeqCst)
    }
}

/// The config edit that enables Discord events with the fixtures' key.
fn with_public_key(config: String) -> String {
    let key = fixture("ping").public_key;
    config.replace(
        "[discord]\n",
        &format!("[discord]\npublic_key = \"{key}\"\n"),
    )
}

/// A site with Discord events enabled (the fixtures' key), the refresh hook enabled, and the
/// clock at `now`.
async fn site_at(now: i64) -> Site {
    site_with_clock(&Clock::at(now)).await
}

/// [`site_at`], with a clock the test can move.
async fn site_with_clock(clock: &Clock) -> Site {
    let clock = clock.reader();
    Site::with(with_public_key, move |app| {
        app.with_webhook_secret(Some(SECRET.into()))
            .with_clock(clock)
    })
    .await
}

/// The service of `site` started again: a new [`App`] on a new connection to the same store
/// file, sharing nothing in memory with the first one.
fn restart(site: &Site, clock: &Clock) -> Arc<App> {
    let secrets = Secrets::new(Some(CLIENT_SECRET.into()), Some(TOKEN_KEY.into()));
    let service = Arc::new(Service::open(site.config.clone(), &secrets).unwrap());
    let renderer = Renderer::new(&site.config.theme_dir(), build::site_info(&site.config)).unwrap();
    let app = App::new(service, Arc::new(renderer))
        .with_webhook_secret(Some(SECRET.into()))
        .with_clock(clock.reader());
    Arc::new(app)
}

/// What a caller of the refresh hook sends.
#[derive(Clone)]
struct Hook {
    timestamp: Option<String>,
    body: String,
    signature: Option<String>,
}

/// A refresh-hook fixture (tests/fixtures/webhooks/make_refresh.py).
fn hook_fixture(name: &str) -> Hook {
    let fixture = fixture_json(name);
    let field = |key: &str| fixture[key].as_str().unwrap().to_owned();
    Hook {
        timestamp: Some(field("timestamp")),
        body: field("body"),
        signature: Some(field("signature")),
    }
}

/// `body` signed at `timestamp` the way the README tells callers to: HMAC-SHA256 of
/// `timestamp "." body`, computed here rather than with strife-gen's own code.
fn signed_hook(timestamp: i64, body: &str) -> Hook {
    signed_hook_text(&timestamp.to_string(), body)
}

/// `signed_hook` with any timestamp text, signed as given.
fn signed_hook_text(timestamp: &str, body: &str) -> Hook {
    Hook {
        timestamp: Some(timestamp.to_owned()),
        body: body.to_owned(),
        signature: Some(hmac_hex(SECRET, &format!("{timestamp}.{body}"))),
    }
}

fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The `error` text of a JSON error answer.
fn error_text(reply: &Reply) -> String {
    let value: Value = serde_json::from_slice(reply.body()).unwrap_or(Value::Null);
    value["error"].as_str().unwrap_or_default().to_owned()
}

/// How many replay records the store holds.
fn seen_signatures(site: &Site) -> i64 {
    let conn = rusqlite::Connection::open(&site.config.store.path).unwrap();
    conn.query_row("SELECT count(*) FROM seen_signatures", [], |r| r.get(0))
        .unwrap()
}

type Reply = warp::http::Response<warp::hyper::body::Bytes>;

async fn post_discord(app: &Arc<App>, fixture: &Fixture) -> Reply {
    warp::test::request()
        .method("POST")
        .path("/webhooks/discord")
        .header("x-signature-ed25519", &fixture.signature)
        .header("x-signature-timestamp", &fixture.timestamp)
        .body(fixture.body.clone())
        .reply(&routes(app.clone()))
        .await
}

async fn post_refresh(app: &Arc<App>, hook: &Hook) -> Reply {
    let mut request = warp::test::request()
        .method("POST")
        .path("/webhooks/refresh")
        .body(hook.body.clone());
    if let Some(timestamp) = &hook.timestamp {
        request = request.header("x-strife-timestamp", timestamp);
    }
    if let Some(signature) = &hook.signature {
        request = request.header("x-strife-signature", signature);
    }
    request.reply(&routes(app.clone())).await
}

async fn get_json(app: &Arc<App>, path: &str) -> (StatusCode, Value) {
    let reply = warp::test::request()
        .path(path)
        .reply(&routes(app.clone()))
        .await;
    let value = serde_json::from_slice(reply.body()).unwrap_or(Value::Null);
    (reply.status(), value)
}

/// Polls (bounded) until the job is finished; returns its last status.
async fn wait_for_job(app: &Arc<App>, job: &str) -> Value {
    for _ in 0..400 {
        let (status, value) = get_json(app, &format!("/webhooks/jobs/{job}")).await;
        assert_eq!(status, StatusCode::OK, "{value}");
        if value["state"] == "done" || value["state"] == "failed" {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {job} did not finish");
}

/// Queues a render and waits for it: everything queued before has then been built.
async fn settle(app: &Arc<App>) {
    let job = app.service().jobs().submit(Trigger::Render);
    let status = wait_for_job(app, &job).await;
    assert_eq!(status["state"], "done", "{status}");
    // A render does not wait for the refresh queue: wait for that too.
    wait_until("the refresh queue is idle", || {
        app.service().jobs().is_idle()
    })
    .await;
}

// --- Discord events: signatures ----------------------------------------------------------------

#[tokio::test]
async fn a_ping_signed_by_pynacl_is_answered_with_204_and_no_body() {
    let site = site_at(fixture_time() + 10).await;
    let reply = post_discord(&site.app, &fixture("ping")).await;
    assert_eq!(reply.status(), StatusCode::NO_CONTENT);
    assert!(reply.body().is_empty());
}

#[tokio::test]
async fn tampered_unsigned_or_foreign_requests_get_401() {
    let site = site_at(fixture_time()).await;
    // One flipped bit in the body.
    let mut flipped = fixture("ping");
    let mut bytes = flipped.body.into_bytes();
    bytes[2] ^= 0x01;
    flipped.body = String::from_utf8(bytes).unwrap();
    assert_eq!(
        post_discord(&site.app, &flipped).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // One flipped bit in the signature.
    let mut bad_signature = fixture("ping");
    let last = bad_signature.signature.pop().unwrap();
    bad_signature
        .signature
        .push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        post_discord(&site.app, &bad_signature).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Signed with another key.
    assert_eq!(
        post_discord(&site.app, &fixture("wrong_key"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // No signature headers at all.
    let bare = warp::test::request()
        .method("POST")
        .path("/webhooks/discord")
        .body(fixture("ping").body)
        .reply(&routes(site.app.clone()))
        .await;
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    // Another timestamp than the signed one (a captured request dressed up as fresh).
    for timestamp in [fixture_time() + 1, fixture_time() - 1] {
        let mut moved = fixture("ping");
        moved.timestamp = timestamp.to_string();
        let reply = post_discord(&site.app, &moved).await;
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
        assert!(error_text(&reply).contains("does not match"), "{reply:?}");
    }
    // Nothing unverified reached the replay records...
    assert_eq!(seen_signatures(&site), 0);
    // ...so the untampered request still passes.
    assert_eq!(
        post_discord(&site.app, &fixture("ping")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(seen_signatures(&site), 1);
}

#[tokio::test]
async fn stale_timestamps_and_replays_get_401() {
    let clock = Clock::at(fixture_time() + 301);
    let site = site_with_clock(&clock).await;
    for (now, skew) in [
        (fixture_time() + 301, "301s"),
        (fixture_time() - 301, "-301s"),
    ] {
        clock.set(now);
        let reply = post_discord(&site.app, &fixture("ping")).await;
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
        let error = error_text(&reply);
        assert!(error.contains(skew) && error.contains("window"), "{error}");
    }
    assert_eq!(seen_signatures(&site), 0, "stale requests are not recorded");
    clock.set(fixture_time() + 299);
    assert_eq!(
        post_discord(&site.app, &fixture("ping")).await.status(),
        StatusCode::NO_CONTENT
    );
    let replay = post_discord(&site.app, &fixture("ping")).await;
    assert_eq!(
        replay.status(),
        StatusCode::UNAUTHORIZED,
        "the same signed request twice is a replay"
    );
    assert!(error_text(&replay).contains("replay"), "{replay:?}");
    // Another spelling of the same signature is the same signature.
    let mut upper = fixture("ping");
    upper.signature = upper.signature.to_uppercase();
    assert_eq!(
        post_discord(&site.app, &upper).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Once outside the window it is refused as stale; its record is no longer needed.
    clock.set(fixture_time() + 301);
    let late = post_discord(&site.app, &fixture("ping")).await;
    assert!(error_text(&late).contains("window"), "{late:?}");
}

#[tokio::test]
async fn replays_are_refused_after_a_restart_on_both_routes() {
    let clock = Clock::at(fixture_time() + 10);
    let site = site_with_clock(&clock).await;
    assert_eq!(
        post_discord(&site.app, &fixture("ping")).await.status(),
        StatusCode::NO_CONTENT
    );
    let hook = hook_fixture("refresh_everyone");
    assert_eq!(
        post_refresh(&site.app, &hook).await.status(),
        StatusCode::ACCEPTED
    );

    clock.set(fixture_time() + 20);
    let restarted = restart(&site, &clock);
    let replay = post_discord(&restarted, &fixture("ping")).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert!(error_text(&replay).contains("replay"), "{replay:?}");
    let replay = post_refresh(&restarted, &hook).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert!(error_text(&replay).contains("replay"), "{replay:?}");

    // Requests never seen before are still welcome after the restart.
    assert_eq!(
        post_discord(&restarted, &fixture("unknown_event"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let fresh = signed_hook(fixture_time() + 20, "{}");
    assert_eq!(
        post_refresh(&restarted, &fresh).await.status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn without_the_store_a_signed_request_is_refused_not_accepted_unchecked() {
    let site = site_at(fixture_time()).await;
    site.sql(
        "CREATE TRIGGER refuse_records BEFORE INSERT ON seen_signatures
         BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
    );
    let discord = post_discord(&site.app, &fixture("ping")).await;
    assert_eq!(discord.status(), StatusCode::SERVICE_UNAVAILABLE);
    let hook = post_refresh(&site.app, &hook_fixture("refresh_everyone")).await;
    assert_eq!(hook.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(error_text(&hook).contains("try again"), "{hook:?}");
    // Nothing was recorded: once the store works again, the same requests pass (once).
    site.sql("DROP TRIGGER refuse_records;");
    assert_eq!(
        post_discord(&site.app, &fixture("ping")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        post_refresh(&site.app, &hook_fixture("refresh_everyone"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn the_tolerance_is_configurable() {
    let key = fixture("ping").public_key;
    let now = fixture_time() + 3600;
    let site = Site::with(
        |config| {
            let config = config.replace(
                "[discord]\n",
                &format!("[discord]\npublic_key = \"{key}\"\n"),
            );
            format!("{config}\n[webhooks]\ntimestamp_tolerance = \"2h\"\n")
        },
        move |app| app.with_clock(move || now),
    )
    .await;
    assert_eq!(
        post_discord(&site.app, &fixture("ping")).await.status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn without_a_public_key_the_discord_route_is_disabled() {
    let site = Site::new().await;
    let reply = post_discord(&site.app, &fixture("ping")).await;
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn malformed_oversized_and_unknown_bodies() {
    let site = site_at(fixture_time()).await;
    assert_eq!(
        post_discord(&site.app, &fixture("malformed"))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post_discord(&site.app, &fixture("unknown_event"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let mut huge = fixture("ping");
    huge.body = " ".repeat(65 * 1024);
    let reply = post_discord(&site.app, &huge).await;
    assert_eq!(reply.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let get = warp::test::request()
        .path("/webhooks/discord")
        .reply(&routes(site.app.clone()))
        .await;
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
}

// --- Discord events: what they do --------------------------------------------------------------

#[tokio::test]
async fn deauthorize_revokes_deletes_tokens_and_removes_the_page() {
    let site = site_at(fixture_time()).await;
    site.fake.add_user(ada());
    site.fake.login_as(ADA);
    site.sign_in("/login").await;
    let background = site.service.spawn_background_builds();
    settle(&site.app).await;
    assert!(site.page(ADA).is_some());
    // She consented before removing the app (the fixture's event is from 2026-01-01).
    site.sql(&format!(
        "UPDATE users SET status_since = {} WHERE id = '{ADA}'",
        fixture_time() - 60
    ));

    let reply = post_discord(&site.app, &fixture("deauthorized")).await;
    assert_eq!(reply.status(), StatusCode::NO_CONTENT);
    settle(&site.app).await;
    assert_eq!(site.status(ADA), UserStatus::Revoked);
    let id = Snowflake::parse(ADA).unwrap();
    assert!(site
        .store()
        .load_tokens(id, site.cipher())
        .unwrap()
        .is_none());
    assert!(site.page(ADA).is_none(), "the page is removed");

    // Discord may deliver the event again: nothing changes, nothing breaks.
    let mut again = fixture("deauthorized");
    again.timestamp = fixture_time().to_string();
    assert_eq!(
        post_discord(&site.app, &again).await.status(),
        StatusCode::UNAUTHORIZED,
        "the identical delivery is a replay"
    );
    assert_eq!(site.status(ADA), UserStatus::Revoked);
    background.abort();
}

#[tokio::test]
async fn a_late_deauthorize_does_not_undo_a_newer_consent() {
    let site = site_at(fixture_time()).await;
    site.fake.add_user(ada());
    site.fake.login_as(ADA);
    // The consent is "now", after the event's timestamp: the event arrived out of order.
    site.sign_in("/login").await;
    let background = site.service.spawn_background_builds();
    let reply = post_discord(&site.app, &fixture("deauthorized")).await;
    assert_eq!(reply.status(), StatusCode::NO_CONTENT);
    settle(&site.app).await;
    assert_eq!(site.status(ADA), UserStatus::Active);
    assert!(site.page(ADA).is_some());
    background.abort();
}

#[tokio::test]
async fn authorize_of_a_known_user_refreshes_them_soon() {
    let site = site_at(fixture_time()).await;
    site.fake.add_user(ada());
    site.fake.login_as(ADA);
    site.sign_in("/login").await;
    let background = site.service.spawn_background_builds();
    settle(&site.app).await;
    assert!(site.page(ADA).unwrap().contains("Ada Lovelace"));

    site.fake
        .update_user(ADA, json!({"global_name": "Countess Lovelace"}));
    let fetched = site.fake.count("/users/@me");
    let reply = post_discord(&site.app, &fixture("authorized")).await;
    assert_eq!(reply.status(), StatusCode::NO_CONTENT);
    settle(&site.app).await;
    assert!(site.fake.count("/users/@me") > fetched, "refetched");
    assert!(site.page(ADA).unwrap().contains("Countess Lovelace"));
    background.abort();
}

/// Bounded polling until `done` holds.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn a_failed_revocation_retries_its_whole_batch() {
    const XENA: &str = "100000000000000001";
    const YURI: &str = "100000000000000002";
    let site = Site::with_service(
        |config| config,
        |service| service.with_revoke_retry(Duration::from_millis(20)),
        |app| app,
    )
    .await;
    site.fake.add_user(ada());
    site.fake.add_user(FakeUser::new(XENA, "xena"));
    site.fake.add_user(FakeUser::new(YURI, "yuri"));
    for id in [ADA, XENA, YURI] {
        site.fake.login_as(id);
        site.sign_in("/login").await;
    }
    let background = site.service.spawn_background_builds();
    settle(&site.app).await;
    assert!(site.page(XENA).is_some() && site.page(YURI).is_some());

    // Taking the lock waits for any build still running (the schedule's first may follow the
    // render just waited for); from here on, no build runs until the lock is released.
    let layout = site.service.layout().clone();
    let held = tokio::task::spawn_blocking(move || hold_build_lock(&layout))
        .await
        .unwrap()
        .unwrap();
    site.fake
        .update_user(ADA, json!({"global_name": "Countess Lovelace"}));
    site.sql(&format!(
        "CREATE TRIGGER refuse_revoke BEFORE UPDATE OF status ON users
             WHEN NEW.id = '{XENA}' AND NEW.status = 'revoked'
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;"
    ));
    // A render waits for the lock this test holds, so what follows coalesces into one batch.
    let builds = site.app.service().jobs().builds();
    let blocker = site.app.service().jobs().submit(Trigger::Render);
    wait_until("the render started", || {
        site.app.service().jobs().builds() > builds
    })
    .await;
    let first = site.app.service().jobs().submit(Trigger::Revoke {
        user: Snowflake::parse(XENA).unwrap(),
        at: None,
    });
    site.app.service().jobs().trigger(Trigger::Revoke {
        user: Snowflake::parse(YURI).unwrap(),
        at: None,
    });
    site.app
        .service()
        .jobs()
        .trigger(Trigger::Refresh(Snowflake::parse(ADA).unwrap()));
    drop(held);
    assert_eq!(wait_for_job(&site.app, &blocker).await["state"], "done");
    let failed = wait_for_job(&site.app, &first).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("retrying"),
        "{failed}"
    );

    // Once the store takes writes again, the whole batch runs: both revocations, the refresh and
    // the render.
    site.sql("DROP TRIGGER refuse_revoke;");
    wait_until("the failed revocation was retried", || {
        site.status(XENA) == UserStatus::Revoked
    })
    .await;
    settle(&site.app).await;
    assert_eq!(site.status(YURI), UserStatus::Revoked);
    assert!(site.page(XENA).is_none() && site.page(YURI).is_none());
    assert!(site.page(ADA).unwrap().contains("Countess Lovelace"));
    background.abort();
}

#[tokio::test]
async fn a_consent_is_published_while_a_refresh_waits() {
    let site = Site::with_ada().await;
    // A refresh in another process (a `strife-gen build` by hand) holds the refresh lock: the
    // service's start-up refresh waits for it, as a refresh of everyone would take minutes.
    let layout = site.service.layout();
    let held = BuildLock::acquire(&layout.refresh_lock, &layout.output_dir).unwrap();
    let background = site.service.spawn_background_builds();
    wait_until("the start-up refresh runs", || {
        site.app.service().jobs().is_building()
    })
    .await;
    site.sign_in("/login").await;
    wait_until("the consent's page is published", || {
        site.page(ADA).is_some()
    })
    .await;
    assert!(
        !site.app.service().jobs().is_idle(),
        "the refresh is still waiting"
    );
    drop(held);
    settle(&site.app).await;
    background.abort();
}

// --- Stopping the service ----------------------------------------------------------------------

#[tokio::test]
async fn stopping_the_service_finishes_the_build_in_progress_and_starts_no_other() {
    let site = Site::with_ada().await;
    site.sign_in("/login").await;
    // Another build holds the output: the service's start-up build waits for it.
    let held = hold_build_lock(site.service.layout()).unwrap();
    let worker = site.service.spawn_background_builds();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(serve_until(
        site.app.clone(),
        listener,
        worker,
        async move {
            let _ = stopped.await;
        },
    ));
    wait_until("the start-up build runs", || {
        site.app.service().jobs().is_building()
    })
    .await;

    stop.send(()).unwrap();
    wait_until("the service is stopping", || {
        site.app.service().jobs().is_stopping()
    })
    .await;
    // From now on no batch starts: the start-up refresh (and the sign-in's render, each in its
    // queue) are all there will be.
    let started = site.app.service().jobs().builds();
    let late = site.app.service().jobs().submit(Trigger::Render);
    drop(held);
    service.await.unwrap().expect("a clean stop");
    assert!(
        site.page(ADA).is_some(),
        "the build in progress was finished, not abandoned"
    );
    assert_eq!(
        site.app.service().jobs().builds(),
        started,
        "no build after the stop"
    );
    let late = site.app.service().jobs().status(&late).unwrap();
    assert_eq!(late.state, strife_gen::jobs::JobState::Queued);
}

#[tokio::test]
async fn a_dead_build_worker_stops_the_service_with_an_error() {
    let site = Site::new().await;
    let worker = tokio::spawn(async { panic!("the worker broke") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let result = serve_until(site.app.clone(), listener, worker, std::future::pending()).await;
    let error = result.expect_err("the service must not go on without its worker");
    assert!(error.to_string().contains("panicked"), "{error}");
}

// --- The refresh hook ---------------------------------------------------------------------------

#[tokio::test]
async fn a_refresh_hook_signed_by_python_is_accepted_once() {
    let site = site_at(fixture_time() + 10).await;
    let hook = hook_fixture("refresh_everyone");
    assert_eq!(
        post_refresh(&site.app, &hook).await.status(),
        StatusCode::ACCEPTED
    );
    let replay = post_refresh(&site.app, &hook).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert!(error_text(&replay).contains("replay"), "{replay:?}");
    // Upper-case hex is the same signature: still a replay.
    let hex = hook
        .signature
        .as_deref()
        .unwrap()
        .trim_start_matches("sha256=");
    let upper = Hook {
        signature: Some(format!("sha256={}", hex.to_uppercase())),
        ..hook.clone()
    };
    assert_eq!(
        post_refresh(&site.app, &upper).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_refresh_hook_checks_its_signature_and_timestamp() {
    let now = fixture_time();
    let site = site_at(now).await;
    let good = signed_hook(now, "{}");
    let with = |edit: &dyn Fn(&mut Hook)| {
        let mut hook = good.clone();
        edit(&mut hook);
        hook
    };
    let cases: [(&str, Hook, &str); 8] = [
        (
            "wrong secret",
            with(&|h| h.signature = Some(hmac_hex("not-the-secret", &format!("{now}.{{}}")))),
            "does not match",
        ),
        (
            "no signature",
            with(&|h| h.signature = None),
            "x-strife-signature header is missing",
        ),
        (
            "no sha256= prefix",
            with(&|h| {
                h.signature = h
                    .signature
                    .as_deref()
                    .map(|s| s.trim_start_matches("sha256=").into())
            }),
            "x-strife-signature header is malformed",
        ),
        (
            "not hex",
            with(&|h| h.signature = Some("sha256=not-hex".into())),
            "malformed",
        ),
        (
            "another body",
            with(&|h| h.body = "{ }".into()),
            "does not match",
        ),
        (
            "a moved timestamp",
            with(&|h| h.timestamp = Some((now + 1).to_string())),
            "does not match",
        ),
        (
            "a signed timestamp that is not a number",
            signed_hook_text("soon", "{}"),
            "x-strife-timestamp header is malformed",
        ),
        (
            "no timestamp",
            with(&|h| h.timestamp = None),
            "X-Strife-Timestamp",
        ),
    ];
    for (what, hook, reason) in cases {
        let reply = post_refresh(&site.app, &hook).await;
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED, "{what}");
        let error = error_text(&reply);
        assert!(error.contains(reason), "{what}: {error}");
        assert!(!error.contains(SECRET), "{what}: {error}");
    }
    assert_eq!(seen_signatures(&site), 0, "nothing unverified is recorded");
    assert_eq!(
        post_refresh(&site.app, &good).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(seen_signatures(&site), 1);
}

#[tokio::test]
async fn the_old_contract_is_refused_saying_what_changed() {
    let site = site_at(fixture_time()).await;
    // A caller from before: the HMAC of the body alone, no timestamp.
    let old = Hook {
        timestamp: None,
        ..hook_fixture("refresh_old_contract")
    };
    let reply = post_refresh(&site.app, &old).await;
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    let error = error_text(&reply);
    assert!(
        error.contains("X-Strife-Timestamp") && error.contains("no longer accepted"),
        "{error}"
    );
    // Adding a timestamp to an old signature does not make it valid.
    let reply = post_refresh(&site.app, &hook_fixture("refresh_old_contract")).await;
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    assert!(error_text(&reply).contains("does not match"), "{reply:?}");
}

#[tokio::test]
async fn stale_refresh_hooks_get_401_on_either_side_of_the_window() {
    let clock = Clock::at(fixture_time());
    let site = site_with_clock(&clock).await;
    let hook = hook_fixture("refresh_everyone");
    for (now, skew) in [
        (fixture_time() + 301, "301s"),
        (fixture_time() - 301, "-301s"),
    ] {
        clock.set(now);
        let reply = post_refresh(&site.app, &hook).await;
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
        let error = error_text(&reply);
        assert!(error.contains(skew) && error.contains("window"), "{error}");
    }
    // The edges of the window are inside it.
    clock.set(fixture_time() - 300);
    assert_eq!(
        post_refresh(&site.app, &hook).await.status(),
        StatusCode::ACCEPTED
    );
    clock.set(fixture_time() + 300);
    let replay = post_refresh(&site.app, &hook).await;
    assert!(error_text(&replay).contains("replay"), "{replay:?}");
}

#[tokio::test]
async fn the_tolerance_applies_to_the_refresh_hook_too() {
    let now = fixture_time() + 3600;
    let site = Site::with(
        |config| format!("{config}\n[webhooks]\ntimestamp_tolerance = \"2h\"\n"),
        move |app| {
            app.with_webhook_secret(Some(SECRET.into()))
                .with_clock(move || now)
        },
    )
    .await;
    assert_eq!(
        post_refresh(&site.app, &hook_fixture("refresh_everyone"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn two_copies_of_one_request_at_once_pass_once() {
    let site = site_at(fixture_time()).await;
    let hook = hook_fixture("refresh_everyone");
    let (first, second) = tokio::join!(
        post_refresh(&site.app, &hook),
        post_refresh(&site.app, &hook)
    );
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::ACCEPTED, StatusCode::UNAUTHORIZED]);
}

#[tokio::test]
async fn the_refresh_hook_queues_a_job_that_can_be_followed() {
    let now = fixture_time();
    let site = site_at(now).await;
    site.fake.add_user(ada());
    site.fake.login_as(ADA);
    site.sign_in("/login").await;

    let reply = post_refresh(&site.app, &hook_fixture("refresh_ada")).await;
    assert_eq!(reply.status(), StatusCode::ACCEPTED);
    let answer: Value = serde_json::from_slice(reply.body()).unwrap();
    let job = answer["job"].as_str().unwrap().to_owned();
    assert_eq!(answer["status_url"], format!("/webhooks/jobs/{job}"));
    let (status, queued) = get_json(&site.app, &format!("/webhooks/jobs/{job}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queued["state"], "queued", "no worker runs yet");
    assert_eq!(queued["user"], ADA);

    let background = site.service.spawn_background_builds();
    let done = wait_for_job(&site.app, &job).await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(done["build"].as_u64().unwrap() >= 1);
    assert_eq!(done["counts"]["refreshed"], 1, "{done}");
    assert!(done["started_at"].is_string() && done["finished_at"].is_string());
    background.abort();

    let (status, _) = get_json(&site.app, "/webhooks/jobs/0123456789abcdef").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let reply = post_refresh(&site.app, &signed_hook(now, r#"{"user": "42"}"#)).await;
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
    let reply = post_refresh(&site.app, &signed_hook(now, r#"{"users": "all"}"#)).await;
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn without_a_secret_the_refresh_hook_is_disabled() {
    let site = Site::new().await;
    let reply = post_refresh(&site.app, &hook_fixture("refresh_everyone")).await;
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
    // An empty secret would let anyone sign: it leaves the hook disabled too.
    let site = Site::with(
        |config| config,
        |app| app.with_webhook_secret(Some(String::new())),
    )
    .await;
    let now = unix_now();
    let empty = Hook {
        signature: Some(hmac_hex("", &format!("{now}.{{}}"))),
        ..signed_hook(now, "{}")
    };
    let reply = post_refresh(&site.app, &empty).await;
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_thousand_hooks_make_a_bounded_number_of_builds() {
    let site = site_at(fixture_time()).await;
    site.fake.add_user(ada());
    site.fake.login_as(ADA);
    site.sign_in("/login").await;
    // Another build holds the output: the worker's first build waits on the lock while the burst
    // arrives, so the outcome does not depend on how fast anything runs.
    let held = hold_build_lock(site.service.layout()).unwrap();
    let background = site.service.spawn_background_builds();
    let mut jobs = Vec::new();
    for n in 0..1000 {
        // A thousand distinct requests (one sent twice would be a replay): `{}` with n spaces.
        let hook = signed_hook(fixture_time(), &format!("{{}}{}", " ".repeat(n)));
        let reply = post_refresh(&site.app, &hook).await;
        assert_eq!(reply.status(), StatusCode::ACCEPTED);
        let answer: Value = serde_json::from_slice(reply.body()).unwrap();
        jobs.push(answer["job"].as_str().unwrap().to_owned());
    }
    drop(held);
    let mut builds = std::collections::BTreeSet::new();
    for job in &jobs {
        let status = wait_for_job(&site.app, job).await;
        assert_eq!(status["state"], "done", "{status}");
        builds.insert(status["build"].as_u64().unwrap());
    }
    // The whole burst went into at most two builds (one waiting on the lock as it began, one for
    // the rest). Other builds (the schedule's first tick, the render after the sign-in) may come
    // before or after it, in either order: each request now awaits the store, so the worker runs
    // while the burst is still arriving.
    assert!(builds.len() <= 2, "the burst took builds {builds:?}");
    background.abort();
}

// --- The README's recipe ------------------------------------------------------------------------

/// The shell lines of the README's refresh-hook recipe: its first `sh` block after
/// "**Refresh hook**", up to the first `# →` (the answers shown after it are not commands).
fn readme_recipe() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme
        .find("**Refresh hook**")
        .expect("a Refresh hook section")..];
    let block = &section[section.find("```sh\n").expect("an sh block") + "```sh\n".len()..];
    let block = &block[..block.find("```").unwrap()];
    block
        .lines()
        .take_while(|line| !line.starts_with("# →"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `recipe` in `sh` with `curl` replaced by a function that writes its arguments (NUL
/// separated) to stdout; `openssl` is the real one when installed, otherwise a function that
/// saves what it was asked to sign (and how) and prints a placeholder signature.
fn run_recipe(recipe: &str, dir: &Path, real_openssl: bool) -> Vec<String> {
    let mut script =
        String::from("set -eu\ncurl() { for arg in \"$@\"; do printf '%s\\0' \"$arg\"; done; }\n");
    if !real_openssl {
        script.push_str(
            "openssl() { printf '%s\\n' \"$@\" > \"$RECIPE_DIR/openssl-args\"; \
             cat > \"$RECIPE_DIR/signed\"; echo 'placeholder *stdin'; }\n",
        );
    }
    script.push_str(recipe);
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("STRIFE_WEBHOOK_SECRET", SECRET)
        .env("RECIPE_DIR", dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect()
}

/// The request curl would send for these arguments (only the flags the recipe may use).
fn curl_request(args: &[String]) -> warp::test::RequestBuilder {
    let mut request = warp::test::request();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-sS" => {}
            "-X" => request = request.method(args.next().unwrap()),
            "-H" => {
                let (name, value) = args.next().unwrap().split_once(": ").unwrap();
                request = request.header(name, value);
            }
            "-d" => request = request.body(args.next().unwrap().clone()),
            url => {
                let path = url
                    .strip_prefix("https://profiles.example.org")
                    .unwrap_or_else(|| {
                        panic!("the recipe has an argument curl_request does not know: {url}")
                    });
                request = request.path(path);
            }
        }
    }
    request
}

#[tokio::test]
async fn the_readme_recipe_is_accepted_and_its_replay_is_not() {
    // Without openssl the recipe is checked against an HMAC computed in Rust; that path runs
    // everywhere, so it is known to work where openssl is missing.
    recipe_round_trip(false).await;
    let has_openssl = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|out| out.status.success());
    if has_openssl {
        recipe_round_trip(true).await;
    } else {
        eprintln!("openssl is not installed: the recipe was checked with an HMAC computed in Rust");
    }
}

/// Runs the README's recipe (with the real `openssl` or a stand-in) against a fresh service.
async fn recipe_round_trip(real_openssl: bool) {
    // The real clock: the recipe signs `date +%s`.
    let site = Site::with(with_public_key, |app| {
        app.with_webhook_secret(Some(SECRET.into()))
    })
    .await;
    site.fake.add_user(ada());
    site.fake.login_as(ADA);
    site.sign_in("/login").await;
    let dir = tempfile::tempdir().unwrap();
    let mut args = run_recipe(&readme_recipe(), dir.path(), real_openssl);
    let header = |args: &[String], name: &str| -> String {
        args.iter()
            .find_map(|arg| arg.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("the recipe sends no {name} header: {args:?}"))
            .to_owned()
    };
    let timestamp = header(&args, "X-Strife-Timestamp");
    let body = args[args.iter().position(|arg| arg == "-d").unwrap() + 1].clone();
    if !real_openssl {
        // Without openssl: check that the recipe asks it for HMAC-SHA256 under the secret, of
        // exactly `timestamp "." body`, and put in the signature it would have printed.
        let how = std::fs::read_to_string(dir.path().join("openssl-args")).unwrap();
        assert_eq!(
            how.lines().collect::<Vec<_>>(),
            ["dgst", "-sha256", "-hmac", SECRET, "-r"]
        );
        let signed = std::fs::read_to_string(dir.path().join("signed")).unwrap();
        assert_eq!(signed, format!("{timestamp}.{body}"));
        let placeholder = "X-Strife-Signature: sha256=placeholder";
        let at = args.iter().position(|arg| arg == placeholder).unwrap();
        args[at] = format!("X-Strife-Signature: {}", hmac_hex(SECRET, &signed));
    }
    assert_eq!(
        header(&args, "X-Strife-Signature"),
        hmac_hex(SECRET, &format!("{timestamp}.{body}")),
        "the recipe's signature is the HMAC of timestamp.body"
    );
    let reply = curl_request(&args).reply(&routes(site.app.clone())).await;
    assert_eq!(reply.status(), StatusCode::ACCEPTED, "{reply:?}");
    let answer: Value = serde_json::from_slice(reply.body()).unwrap();
    assert!(answer["job"].is_string(), "{answer}");
    // The same captured request again is a replay.
    let replay = curl_request(&args).reply(&routes(site.app.clone())).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

// --- The build lock -----------------------------------------------------------------------------

#[tokio::test]
async fn builds_on_one_output_never_overlap() {
    let site = Site::with_ada().await;
    site.sign_in("/login").await;

    // While a build holds the lock, a render waits for it, saying so, and runs after.
    let held = hold_build_lock(site.service.layout()).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = Log::default();
    let waiter = {
        let config = site.config.clone();
        let (events, log) = (events.clone(), log.clone());
        std::thread::spawn(move || {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || log.clone())
                .with_ansi(false)
                .finish();
            let result = tracing::subscriber::with_default(subscriber, || {
                crate::support::site::render_offline_blocking(&config)
            });
            events.lock().unwrap().push("render finished");
            result.map(|summary| summary.profiles)
        })
    };
    let mut polls = 0;
    while !log.text().contains("waiting for another build") {
        polls += 1;
        assert!(polls < 400, "the second build never waited: {}", log.text());
        std::thread::sleep(Duration::from_millis(25));
    }
    events.lock().unwrap().push("lock released");
    drop(held);
    assert_eq!(waiter.join().unwrap().unwrap(), 1);
    assert_eq!(
        *events.lock().unwrap(),
        ["lock released", "render finished"]
    );

    // Two renders at once both succeed, one after the other, and leave a whole site.
    let renders: Vec<_> = (0..2)
        .map(|_| {
            let config = site.config.clone();
            std::thread::spawn(move || {
                crate::support::site::render_offline_blocking(&config).map(|s| s.profiles)
            })
        })
        .collect();
    for render in renders {
        assert_eq!(render.join().unwrap().unwrap(), 1);
    }
    assert!(site.page(ADA).unwrap().contains("Ada Lovelace"));
}

// --- Backoff and grace period -------------------------------------------------------------------

#[tokio::test]
async fn a_failing_user_is_not_retried_before_their_next_attempt() {
    let site = Site::with_ada().await;
    site.sign_in("/login").await;
    let id = Snowflake::parse(ADA).unwrap();
    // Exactly as many 5xx as the client tries (1 + 5 retries): this refresh fails.
    site.fake.fail_next("/users/@me", 502, 6);
    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap().failed, 1);
    let (failures, next) = site.store().retry_state(id).unwrap().unwrap();
    assert_eq!(failures, 1);
    assert!(next.unwrap() > strife_gen::store::unix_now());

    // Not due yet: the next build leaves Discord alone for her.
    let fetched = site.fake.count("/users/@me");
    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap(), Default::default());
    assert_eq!(site.fake.count("/users/@me"), fetched);
    assert!(site.page(ADA).is_some(), "her last page stays meanwhile");

    // Once due (and Discord answers again), she is refreshed and the count resets.
    site.sql(&format!(
        "UPDATE users SET next_attempt_at = 0 WHERE id = '{ADA}'"
    ));
    site.fake
        .update_user(ADA, json!({"global_name": "Back Again"}));
    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap().refreshed, 1);
    assert_eq!(site.store().retry_state(id).unwrap(), Some((0, None)));
    assert!(site.page(ADA).unwrap().contains("Back Again"));
}

#[tokio::test]
async fn after_the_grace_period_a_user_waiting_for_reconsent_loses_their_page() {
    let site = Site::with_ada().await;
    site.sign_in("/login").await;
    site.build().await;
    site.fake.deauthorize(ADA);
    site.fake.expire_access_tokens(ADA);
    site.build().await;
    assert_eq!(site.status(ADA), UserStatus::NeedsReconsent);
    assert!(site.page(ADA).is_some(), "within the grace period");

    let eight_days_ago = strife_gen::store::unix_now() - 8 * 86400;
    site.sql(&format!(
        "UPDATE users SET status_since = {eight_days_ago} WHERE id = '{ADA}'"
    ));
    site.build().await;
    assert!(site.page(ADA).is_none(), "removed after the grace period");
    let listed = site.store().list_users().unwrap();
    assert_eq!(listed.len(), 1, "users list still shows her");
    assert_eq!(listed[0].status, UserStatus::NeedsReconsent);
}

#[test]
fn a_build_by_hand_waits_for_the_build_holding_the_lock() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let config = site_table(
        "Lock test",
        "https://example.org/",
        &[("themes_dir", &themes_dir())],
    );
    std::fs::write(dir.path().join("strife.toml"), config).unwrap();
    // This test process plays `serve` in the middle of a build.
    let (lock, output) = (dir.path().join("output.lock"), dir.path().join("output"));
    let held = BuildLock::acquire(&lock, &output).unwrap();
    let mut child = binary(dir.path(), &["build", "--offline"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let log = Log::default();
    let reader = {
        let mut stderr = child.stderr.take().unwrap();
        let mut log = log.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 1024];
            while let Ok(read) = stderr.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                log.write_all(&buffer[..read]).unwrap();
            }
        })
    };
    let mut polls = 0;
    while !log.text().contains("waiting for another build") {
        polls += 1;
        assert!(polls < 800, "the build did not wait: {}", log.text());
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        !dir.path().join("output/index.html").exists(),
        "nothing written while the lock is held"
    );
    drop(held);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(status.success(), "{}", log.text());
    assert!(dir.path().join("output/index.html").exists());
}

/// Takes the build lock of the site `layout` describes, as a build would.
fn hold_build_lock(layout: &Layout) -> Result<BuildLock, strife_gen::lock::LockError> {
    BuildLock::acquire(&layout.build_lock, &layout.output_dir)
}
