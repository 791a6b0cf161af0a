//! Webhooks end to end through the real routes: Discord's signed events (checked against fixtures
//! signed by PyNaCl, see tests/fixtures/webhooks/make.py), the HMAC refresh hook and its jobs, the
//! one coalescing queue, the build lock, retry backoff and the re-consent grace period.

mod support;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use strife_gen::build;
use strife_gen::discord::models::Snowflake;
use strife_gen::jobs::Trigger;
use strife_gen::lock::BuildLock;
use strife_gen::server::{routes, serve_until, spawn_background_builds, App};
use strife_gen::store::UserStatus;
use strife_gen::webhook::hmac_header;
use support::fake_discord::FakeUser;
use support::site::{ada, Site, ADA};
use warp::http::StatusCode;

const SECRET: &str = "test-webhook-secret";

struct Fixture {
    public_key: String,
    timestamp: String,
    body: String,
    signature: String,
}

fn fixture(name: &str) -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webhooks")
        .join(format!("{name}.json"));
    let value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
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

/// A site with Discord events enabled (the fixtures' key), the refresh hook enabled, and the
/// clock at `now`.
async fn site_at(now: i64) -> Site {
    let key = fixture("ping").public_key;
    Site::with(
        |config| {
            config.replace(
                "[discord]\n",
                &format!("[discord]\npublic_key = \"{key}\"\n"),
            )
        },
        move |app| {
            app.with_webhook_secret(Some(SECRET.into()))
                .with_clock(move || now)
        },
    )
    .await
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

async fn post_refresh(app: &Arc<App>, body: &str, signature: Option<&str>) -> Reply {
    let mut request = warp::test::request()
        .method("POST")
        .path("/webhooks/refresh")
        .body(body);
    if let Some(signature) = signature {
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
    let job = app.jobs.submit(Trigger::Render);
    let status = wait_for_job(app, &job).await;
    assert_eq!(status["state"], "done", "{status}");
}

fn sql(site: &Site, statement: &str) {
    let conn = rusqlite::Connection::open(&site.config.store.path).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch(statement).unwrap();
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
    // The untampered request still passes: none of the above was remembered as seen.
    assert_eq!(
        post_discord(&site.app, &fixture("ping")).await.status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn stale_timestamps_and_replays_get_401() {
    let stale = site_at(fixture_time() + 301).await;
    assert_eq!(
        post_discord(&stale.app, &fixture("ping")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let early = site_at(fixture_time() - 301).await;
    assert_eq!(
        post_discord(&early.app, &fixture("ping")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let site = site_at(fixture_time() + 299).await;
    assert_eq!(
        post_discord(&site.app, &fixture("ping")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        post_discord(&site.app, &fixture("ping")).await.status(),
        StatusCode::UNAUTHORIZED,
        "the same signed request twice is a replay"
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
    let background = spawn_background_builds(&site.app, site.refresher.clone());
    settle(&site.app).await;
    assert!(site.page(ADA).is_some());
    // She consented before removing the app (the fixture's event is from 2026-01-01).
    sql(
        &site,
        &format!(
            "UPDATE users SET status_since = {} WHERE id = '{ADA}'",
            fixture_time() - 60
        ),
    );

    let reply = post_discord(&site.app, &fixture("deauthorized")).await;
    assert_eq!(reply.status(), StatusCode::NO_CONTENT);
    settle(&site.app).await;
    assert_eq!(site.status(ADA), UserStatus::Revoked);
    let id = Snowflake::parse(ADA).unwrap();
    assert!(site
        .store
        .load_tokens(id, &site.refresher.cipher)
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
    let background = spawn_background_builds(&site.app, site.refresher.clone());
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
    let background = spawn_background_builds(&site.app, site.refresher.clone());
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
    let site = Site::with(
        |config| config,
        |app| app.with_revoke_retry(Duration::from_millis(20)),
    )
    .await;
    site.fake.add_user(ada());
    site.fake.add_user(FakeUser::new(XENA, "xena"));
    site.fake.add_user(FakeUser::new(YURI, "yuri"));
    for id in [ADA, XENA, YURI] {
        site.fake.login_as(id);
        site.sign_in("/login").await;
    }
    let background = spawn_background_builds(&site.app, site.refresher.clone());
    settle(&site.app).await;
    assert!(site.page(XENA).is_some() && site.page(YURI).is_some());

    // Taking the lock waits for any build still running (the schedule's first may follow the
    // render just waited for); from here on, no build runs until the lock is released.
    let output_dir = site.config.site.output_dir.clone();
    let held = tokio::task::spawn_blocking(move || BuildLock::acquire(&output_dir))
        .await
        .unwrap()
        .unwrap();
    site.fake
        .update_user(ADA, json!({"global_name": "Countess Lovelace"}));
    sql(
        &site,
        &format!(
            "CREATE TRIGGER refuse_revoke BEFORE UPDATE OF status ON users
             WHEN NEW.id = '{XENA}' AND NEW.status = 'revoked'
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;"
        ),
    );
    // A render waits for the lock this test holds, so what follows coalesces into one batch.
    let builds = site.app.jobs.builds();
    let blocker = site.app.jobs.submit(Trigger::Render);
    wait_until("the render started", || site.app.jobs.builds() > builds).await;
    let first = site.app.jobs.submit(Trigger::Revoke {
        user: Snowflake::parse(XENA).unwrap(),
        at: None,
    });
    site.app.jobs.trigger(Trigger::Revoke {
        user: Snowflake::parse(YURI).unwrap(),
        at: None,
    });
    site.app
        .jobs
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
    sql(&site, "DROP TRIGGER refuse_revoke;");
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

// --- Stopping the service ----------------------------------------------------------------------

#[tokio::test]
async fn stopping_the_service_finishes_the_build_in_progress_and_starts_no_other() {
    let site = Site::with_ada().await;
    site.sign_in("/login").await;
    // Another build holds the output: the service's start-up build waits for it.
    let held = BuildLock::acquire(&site.config.site.output_dir).unwrap();
    let worker = spawn_background_builds(&site.app, site.refresher.clone());
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
    wait_until("the start-up build runs", || site.app.jobs.is_building()).await;

    stop.send(()).unwrap();
    wait_until("the service is stopping", || site.app.jobs.is_stopping()).await;
    let late = site.app.jobs.submit(Trigger::Render);
    drop(held);
    service.await.unwrap().expect("a clean stop");
    assert!(
        site.page(ADA).is_some(),
        "the build in progress was finished, not abandoned"
    );
    assert_eq!(site.app.jobs.builds(), 1, "no build after the stop");
    let late = site.app.jobs.status(&late).unwrap();
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
async fn the_refresh_hook_checks_its_hmac() {
    let site = site_at(fixture_time()).await;
    let good = hmac_header(SECRET, b"{}");
    let wrong = hmac_header("not-the-secret", b"{}");
    let cases = [
        (Some(wrong.as_str()), StatusCode::UNAUTHORIZED),
        (None, StatusCode::UNAUTHORIZED),
        (
            Some(good.trim_start_matches("sha256=")),
            StatusCode::UNAUTHORIZED,
        ),
        (Some("sha256=not-hex"), StatusCode::UNAUTHORIZED),
        (Some(good.as_str()), StatusCode::ACCEPTED),
    ];
    for (signature, expected) in cases {
        let reply = post_refresh(&site.app, "{}", signature).await;
        assert_eq!(reply.status(), expected, "{signature:?}");
    }
    // A valid signature over another body does not carry over.
    let reply = post_refresh(&site.app, "{ }", Some(&good)).await;
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_refresh_hook_queues_a_job_that_can_be_followed() {
    let site = site_at(fixture_time()).await;
    site.fake.add_user(ada());
    site.fake.login_as(ADA);
    site.sign_in("/login").await;

    let body = format!("{{\"user\": \"{ADA}\"}}");
    let reply = post_refresh(
        &site.app,
        &body,
        Some(&hmac_header(SECRET, body.as_bytes())),
    )
    .await;
    assert_eq!(reply.status(), StatusCode::ACCEPTED);
    let answer: Value = serde_json::from_slice(reply.body()).unwrap();
    let job = answer["job"].as_str().unwrap().to_owned();
    assert_eq!(answer["status_url"], format!("/webhooks/jobs/{job}"));
    let (status, queued) = get_json(&site.app, &format!("/webhooks/jobs/{job}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queued["state"], "queued", "no worker runs yet");
    assert_eq!(queued["user"], ADA);

    let background = spawn_background_builds(&site.app, site.refresher.clone());
    let done = wait_for_job(&site.app, &job).await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(done["build"].as_u64().unwrap() >= 1);
    assert_eq!(done["counts"]["refreshed"], 1, "{done}");
    assert!(done["started_at"].is_string() && done["finished_at"].is_string());
    background.abort();

    let (status, _) = get_json(&site.app, "/webhooks/jobs/0123456789abcdef").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unknown_user = r#"{"user": "42"}"#;
    let reply = post_refresh(
        &site.app,
        unknown_user,
        Some(&hmac_header(SECRET, unknown_user.as_bytes())),
    )
    .await;
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
    let nonsense = r#"{"users": "all"}"#;
    let reply = post_refresh(
        &site.app,
        nonsense,
        Some(&hmac_header(SECRET, nonsense.as_bytes())),
    )
    .await;
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn without_a_secret_the_refresh_hook_is_disabled() {
    let site = Site::new().await;
    let reply = post_refresh(&site.app, "{}", Some(&hmac_header("", b"{}"))).await;
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
    let held = BuildLock::acquire(&site.config.site.output_dir).unwrap();
    let background = spawn_background_builds(&site.app, site.refresher.clone());
    let good = hmac_header(SECRET, b"{}");
    let mut jobs = Vec::new();
    for _ in 0..1000 {
        let reply = post_refresh(&site.app, "{}", Some(&good)).await;
        assert_eq!(reply.status(), StatusCode::ACCEPTED);
        let answer: Value = serde_json::from_slice(reply.body()).unwrap();
        jobs.push(answer["job"].as_str().unwrap().to_owned());
    }
    drop(held);
    for job in &jobs {
        assert_eq!(wait_for_job(&site.app, job).await["state"], "done");
    }
    // The schedule's build at start, then one for the whole burst.
    assert!(
        site.app.jobs.builds() <= 2,
        "{} builds",
        site.app.jobs.builds()
    );
    background.abort();
}

// --- The build lock -----------------------------------------------------------------------------

/// A log sink shared between threads, to see what a blocked thread said.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn builds_on_one_output_never_overlap() {
    let site = Site::with_ada().await;
    site.sign_in("/login").await;

    // While a build holds the lock, a render waits for it, saying so, and runs after.
    let held = BuildLock::acquire(&site.config.site.output_dir).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = Log::default();
    let waiter = {
        let (config, store) = (site.config.clone(), site.store.clone());
        let (events, log) = (events.clone(), log.clone());
        std::thread::spawn(move || {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || log.clone())
                .with_ansi(false)
                .finish();
            let result =
                tracing::subscriber::with_default(subscriber, || build::render(&config, &store));
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
            let (config, store) = (site.config.clone(), site.store.clone());
            std::thread::spawn(move || build::render(&config, &store).map(|s| s.profiles))
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
    let (failures, next) = site.store.retry_state(id).unwrap().unwrap();
    assert_eq!(failures, 1);
    assert!(next.unwrap() > strife_gen::store::unix_now());

    // Not due yet: the next build leaves Discord alone for her.
    let fetched = site.fake.count("/users/@me");
    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap(), Default::default());
    assert_eq!(site.fake.count("/users/@me"), fetched);
    assert!(site.page(ADA).is_some(), "her last page stays meanwhile");

    // Once due (and Discord answers again), she is refreshed and the count resets.
    sql(
        &site,
        &format!("UPDATE users SET next_attempt_at = 0 WHERE id = '{ADA}'"),
    );
    site.fake
        .update_user(ADA, json!({"global_name": "Back Again"}));
    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap().refreshed, 1);
    assert_eq!(site.store.retry_state(id).unwrap(), Some((0, None)));
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
    sql(
        &site,
        &format!("UPDATE users SET status_since = {eight_days_ago} WHERE id = '{ADA}'"),
    );
    site.build().await;
    assert!(site.page(ADA).is_none(), "removed after the grace period");
    let listed = site.store.list_users().unwrap();
    assert_eq!(listed.len(), 1, "users list still shows her");
    assert_eq!(listed[0].status, UserStatus::NeedsReconsent);
}

#[test]
fn a_build_by_hand_waits_for_the_build_holding_the_lock() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[site]\ntitle = \"Lock test\"\nbase_url = \"https://example.org/\"\nthemes_dir = \"{}\"\n",
        support::site::themes_dir().display()
    );
    std::fs::write(dir.path().join("strife.toml"), config).unwrap();
    // This test process plays `serve` in the middle of a build.
    let held = BuildLock::acquire(&dir.path().join("output")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_strife-gen"))
        .args(["build", "--offline"])
        .current_dir(dir.path())
        .env_remove("STRIFE_CONFIG")
        .env("STRIFE_LOG", "info")
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
