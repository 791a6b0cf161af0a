//! The core loop end to end, against the fake Discord: consent through the real warp routes, then
//! builds that refresh, rotate tokens, fetch and render — and what happens when things go wrong.

use crate::support::fixtures::{ada, themes_dir, ADA};
use crate::support::site::{header, Site};
use fake_discord::FakeUser;
use serde_json::json;
use strife_gen::discord::models::Snowflake;
use strife_gen::server::routes;
use strife_gen::store::UserStatus;
use warp::http::StatusCode;

#[tokio::test]
async fn consent_then_build_publishes_what_was_opted_in() {
    let site = Site::with_ada().await;

    let (status, body) = site.sign_in("/login?publish=guilds").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains(&format!("https://profiles.example.org/u/{ADA}/")),
        "{body}"
    );

    // Only what the opt-ins need was asked for, with PKCE.
    let params = site.fake.authorize_params().pop().unwrap();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("scope").as_deref(), Some("identify guilds"));
    assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(get("response_type").as_deref(), Some("code"));

    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap().refreshed, 1);
    let page = site.page(ADA).expect("profile page written");
    assert!(page.contains("Ada Lovelace"));
    assert!(
        page.contains("Analytical Engines"),
        "opted-in servers are shown"
    );
    assert!(!page.contains("ada-gh"), "connections were not opted in");
    assert!(!page.contains("ada-private"));
    let index = std::fs::read_to_string(site.root.join("output/index.html")).unwrap();
    assert!(index.contains("Ada Lovelace"));
    // Connections were never even fetched.
    assert_eq!(site.fake.count("/users/@me/connections"), 0);
}

#[tokio::test]
async fn rotated_refresh_tokens_keep_working_build_after_build() {
    let site = Site::with_ada().await;
    // Tokens that expire within the refresh margin: every build must rotate them.
    site.fake.set_access_token_lifetime(3600);
    site.sign_in("/login").await;

    let mut seen = Vec::new();
    for round in 0..3 {
        let summary = site.build().await;
        assert_eq!(
            summary.refresh.as_ref().unwrap().refreshed,
            1,
            "round {round}"
        );
        let current = site.fake.refresh_token_of(ADA).unwrap();
        let stored = site
            .store()
            .load_tokens(Snowflake::parse(ADA).unwrap(), site.cipher())
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.refresh_token, current,
            "the rotated token was stored (round {round})"
        );
        assert!(!seen.contains(&current), "Discord rotated the token");
        seen.push(current);
    }
    assert_eq!(site.status(ADA), UserStatus::Active);
}

#[tokio::test]
async fn a_broken_theme_fails_the_build_before_any_token_is_rotated() {
    let site = Site::with_ada().await;
    // Tokens that expire within the refresh margin: a build that refreshes must rotate them.
    site.fake.set_access_token_lifetime(3600);
    site.sign_in("/login").await;
    let token_before = site.fake.refresh_token_of(ADA).unwrap();
    let token_calls = site.fake.count("/oauth2/token");

    let themes = site.root.join("broken-themes");
    std::fs::create_dir_all(themes.join("broken/templates")).unwrap();
    std::fs::write(themes.join("broken/templates/profile.html"), "{% if %}").unwrap();
    let mut config = (*site.config).clone();
    config.site.themes_dir = themes;
    config.site.theme = "broken".into();
    let secrets = strife_gen::config::Secrets::new(
        Some(fake_discord::CLIENT_SECRET.into()),
        Some(crate::support::fixtures::TOKEN_KEY.into()),
    );
    let service = strife_gen::service::Service::open(config.into(), &secrets).unwrap();
    let options = strife_gen::build::BuildOptions {
        refresh: Some(strife_gen::refresh::Targets::everyone()),
        ..Default::default()
    };
    let error = service.build(options).await.unwrap_err();
    assert!(
        matches!(
            error,
            strife_gen::build::BuildError::Render(
                strife_gen::site::render::RenderError::Syntax { .. }
            )
        ),
        "{error}"
    );
    assert_eq!(site.fake.count("/oauth2/token"), token_calls, "no refresh");
    assert_eq!(site.fake.refresh_token_of(ADA).unwrap(), token_before);

    // The next build with the working theme still has a usable token and rotates it.
    assert_eq!(site.build().await.refresh.unwrap().refreshed, 1);
    assert_ne!(site.fake.refresh_token_of(ADA).unwrap(), token_before);
}

#[tokio::test]
async fn a_dead_access_token_is_refreshed_once_and_the_build_goes_on() {
    let site = Site::with_ada().await;
    site.sign_in("/login").await;
    site.fake.expire_access_tokens(ADA);
    site.fake
        .update_user(ADA, json!({"global_name": "Countess Lovelace"}));
    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap().refreshed, 1);
    assert!(site.page(ADA).unwrap().contains("Countess Lovelace"));
}

#[tokio::test]
async fn a_user_who_removed_the_app_needs_reconsent_and_keeps_their_last_page() {
    let site = Site::with_ada().await;
    site.sign_in("/login").await;
    site.build().await;
    site.fake.deauthorize(ADA);
    site.fake.expire_access_tokens(ADA);

    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap().needs_reconsent, 1);
    assert_eq!(site.status(ADA), UserStatus::NeedsReconsent);
    let record = site
        .store()
        .user(Snowflake::parse(ADA).unwrap())
        .unwrap()
        .unwrap();
    assert!(record.last_error.unwrap().contains("authorization ended"));
    assert!(
        site.page(ADA).is_some(),
        "the last page stays until a grace period ends"
    );

    // Consenting again brings them back.
    site.sign_in("/login").await;
    assert_eq!(site.status(ADA), UserStatus::Active);
}

#[tokio::test]
async fn discord_failures_keep_the_previous_snapshot_and_record_the_error() {
    let site = Site::with_ada().await;
    site.sign_in("/login").await;
    site.build().await;
    // More 5xx than the client retries.
    site.fake.fail_next("/users/@me", 502, 50);
    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap().failed, 1);
    assert!(site.page(ADA).unwrap().contains("Ada Lovelace"));
    let record = site
        .store()
        .user(Snowflake::parse(ADA).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(record.status, UserStatus::Active);
    assert!(record.last_error.is_some());
}

#[tokio::test]
async fn rate_limits_are_respected_by_pacing() {
    let site = Site::new().await;
    for n in 0..6u64 {
        let id = (90_000_000_000_000_000u64 + n).to_string();
        site.fake.add_user(FakeUser::new(&id, &format!("user{n}")));
        site.fake.login_as(&id);
        site.sign_in("/login").await;
    }
    // One request per window and token, and back-to-back builds that each need one: only a client
    // that reads the headers and waits for the reset avoids 429s.
    site.fake.set_rate_limit("/users/@me", 1, 0.3);
    for _ in 0..3 {
        let summary = site.build().await;
        assert_eq!(summary.refresh.unwrap().refreshed, 6);
    }
    assert_eq!(site.fake.count_status(429), 0);
    // A 429 Discord sends anyway (shared or global limit) is waited out and retried.
    site.fake.force_429("/users/@me", 2, 0.05, true);
    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap().refreshed, 6);
}

#[tokio::test]
async fn denied_and_replayed_callbacks_get_friendly_pages() {
    let site = Site::with_ada().await;
    site.fake.deny_next_authorize();
    let (status, body) = site.sign_in("/login").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("nothing was stored"), "{body}");
    assert!(site.store().list_users().unwrap().is_empty());

    // A callback with a state nobody issued, and one from another browser.
    let filter = routes(site.app.clone());
    let forged = warp::test::request()
        .path("/callback?code=abc&state=made-up")
        .reply(&filter)
        .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let started = warp::test::request().path("/login").reply(&filter).await;
    let back = site.discord_redirect(&header(&started, "location")).await;
    let callback = back.strip_prefix("https://profiles.example.org").unwrap();
    let stolen = warp::test::request()
        .path(callback)
        .header("cookie", "strife_login=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .reply(&filter)
        .await;
    assert_eq!(stolen.status(), StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(stolen.body()).contains("another browser"));
    // The other browser's own sign-in cookie does not open this state either.
    let own = warp::test::request().path("/login").reply(&filter).await;
    let stolen = warp::test::request()
        .path(callback)
        .header("cookie", cookie_pair(&own))
        .reply(&filter)
        .await;
    assert_eq!(stolen.status(), StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(stolen.body()).contains("another browser"));
    assert!(site.store().list_users().unwrap().is_empty());
}

/// The `name=value` part of the sign-in cookie a `/login` or `/delete` answer sets.
fn cookie_pair(started: &warp::http::Response<warp::hyper::body::Bytes>) -> String {
    let cookie = header(started, "set-cookie");
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_flood_of_logins_keeps_no_server_memory_and_blocks_no_one() {
    let site = Site::with_ada().await;
    let filter = routes(site.app.clone());
    for _ in 0..20_000 {
        let started = warp::test::request().path("/login").reply(&filter).await;
        assert_eq!(started.status(), StatusCode::SEE_OTHER);
        assert!(header(&started, "set-cookie").starts_with("strife_login_"));
    }
    assert_eq!(site.app.remembered_login_states(), 0);

    let (status, body) = site.sign_in("/login?publish=guilds").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(site.store().list_users().unwrap().len(), 1);
    assert_eq!(site.app.remembered_login_states(), 1);
}

#[tokio::test]
async fn sign_ins_in_two_tabs_both_work_once_and_clear_their_cookies() {
    let site = Site::with_ada().await;
    let filter = routes(site.app.clone());
    let first = warp::test::request().path("/login").reply(&filter).await;
    let second = warp::test::request()
        .path("/login?publish=guilds")
        .reply(&filter)
        .await;
    let (first_cookie, second_cookie) = (cookie_pair(&first), cookie_pair(&second));
    assert_ne!(
        first_cookie.split('=').next(),
        second_cookie.split('=').next(),
        "each sign-in has a cookie of its own"
    );
    // The browser sends both cookies with every callback.
    let cookies = format!("{first_cookie}; {second_cookie}");
    for started in [&second, &first] {
        let back = site.discord_redirect(&header(started, "location")).await;
        let callback = back.strip_prefix("https://profiles.example.org").unwrap();
        let done = warp::test::request()
            .path(callback)
            .header("cookie", &cookies)
            .reply(&filter)
            .await;
        assert_eq!(done.status(), StatusCode::OK);
        let name = cookie_pair(started).split('=').next().unwrap().to_owned();
        let cleared = header(&done, "set-cookie");
        assert!(
            cleared.starts_with(&format!("{name}=;")) && cleared.contains("Max-Age=0"),
            "{cleared}"
        );

        let replayed = warp::test::request()
            .path(callback)
            .header("cookie", &cookies)
            .reply(&filter)
            .await;
        assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
        assert!(String::from_utf8_lossy(replayed.body()).contains("already used"));
    }
    assert_eq!(site.app.remembered_login_states(), 2);
}

#[tokio::test]
async fn bad_requests_get_pages_not_panics() {
    let site = Site::new().await;
    let filter = routes(site.app.clone());
    let unknown = warp::test::request()
        .path("/login?publish=email")
        .reply(&filter)
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let missing = warp::test::request().path("/nope").reply(&filter).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let post = warp::test::request()
        .method("POST")
        .path("/login")
        .reply(&filter)
        .await;
    assert!(post.status().is_client_error());
    let health = warp::test::request().path("/healthz").reply(&filter).await;
    assert_eq!(health.status(), StatusCode::OK);
    let landing = warp::test::request().path("/").reply(&filter).await;
    assert_eq!(landing.status(), StatusCode::OK);
    let body = String::from_utf8_lossy(landing.body());
    assert!(body.contains("name=\"publish\""), "{body}");
    assert_eq!(landing.headers()["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn delete_revokes_and_removes_the_page_on_the_next_build() {
    let site = Site::with_ada().await;
    site.sign_in("/login?publish=connections").await;
    site.build().await;
    assert!(site.page(ADA).unwrap().contains("ada-gh"));

    let (status, body) = site.sign_in("/delete").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(site.fake.revoked_count() >= 1);
    assert!(site.store().list_users().unwrap().is_empty());
    site.build().await;
    assert!(
        site.page(ADA).is_none(),
        "the page is gone after the next build"
    );
}

#[tokio::test]
async fn a_deletion_that_fails_revokes_nothing_and_can_be_retried() {
    let site = Site::with_ada().await;
    site.sign_in("/login").await;
    site.sql(
        "CREATE TRIGGER refuse_delete BEFORE DELETE ON users
         BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
    );

    let (status, body) = site.sign_in("/delete").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body.contains("could not be deleted"), "{body}");
    // Her data is still here, so her grant must still work: nothing was revoked at Discord.
    assert_eq!(site.fake.revoked_count(), 0);
    assert_eq!(site.status(ADA), UserStatus::Active);
    let id = Snowflake::parse(ADA).unwrap();
    let stored = site.store().load_tokens(id, site.cipher()).unwrap();
    assert!(stored.is_some());

    site.sql("DROP TRIGGER refuse_delete;");
    let (status, body) = site.sign_in("/delete").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(site.store().list_users().unwrap().is_empty());
    assert!(site.fake.revoked_count() >= 1, "revoked once deleted");
}

/// The snapshot stored for a user, if any.
fn stored_snapshot(site: &Site, id: Snowflake) -> Option<strife_gen::discord::models::Snapshot> {
    let mut found = None;
    site.store()
        .for_each_published(i64::MIN, |source| {
            let source = source.unwrap();
            if source.id == id {
                found = Some(source.snapshot);
            }
            true
        })
        .unwrap();
    found
}

#[tokio::test]
async fn the_grant_is_stored_before_fetching_more_and_survives_a_disconnect() {
    let site = std::sync::Arc::new(Site::new().await);
    site.fake.add_user(ada());
    site.fake.login_as(ADA);
    // Discord makes the consent-time fetch of her connections wait.
    site.fake.force_429("/users/@me/connections", 1, 1.0, false);
    let signing_in = {
        let site = site.clone();
        tokio::spawn(async move { site.sign_in("/login?publish=connections").await })
    };
    let mut polls = 0;
    while site.fake.count("/users/@me/connections") == 0 {
        polls += 1;
        assert!(polls < 400, "connections were never fetched");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    // The grant is already stored while Discord still holds back the connections.
    let id = Snowflake::parse(ADA).unwrap();
    assert_eq!(site.status(ADA), UserStatus::Active);
    let stored = site.store().load_tokens(id, site.cipher()).unwrap();
    assert!(stored.is_some());
    assert_eq!(stored_snapshot(&site, id).unwrap().connections, None);

    // The browser goes away mid-request: the consent still completes with its connections.
    signing_in.abort();
    let _ = signing_in.await;
    let mut polls = 0;
    while stored_snapshot(&site, id).unwrap().connections.is_none() {
        polls += 1;
        assert!(polls < 400, "the full snapshot was never saved");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let connections = stored_snapshot(&site, id).unwrap().connections.unwrap();
    assert!(!connections.is_empty());
    assert!(
        site.fake.count("/users/@me/connections") >= 2,
        "fetched again after the 429"
    );
}

#[tokio::test]
async fn the_service_renders_a_new_consent_without_waiting_for_the_schedule() {
    let site = Site::with_ada().await;
    let background = site.service.spawn_background_builds();
    site.sign_in("/login").await;
    // The schedule is hours away; the consent itself must trigger the render. Poll for it, bounded.
    let mut waited = 0;
    while site.page(ADA).is_none() && waited < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    assert!(site.page(ADA).unwrap().contains("Ada Lovelace"));

    site.sign_in("/delete").await;
    let mut waited = 0;
    while site.page(ADA).is_some() && waited < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    assert!(
        site.page(ADA).is_none(),
        "a deletion removes the page without waiting for the schedule"
    );
    background.abort();
}

#[tokio::test]
async fn a_rename_keeps_the_old_vanity_url_and_deletion_removes_every_file() {
    let site = Site::with_ada().await;
    site.sign_in("/login?publish=connections").await;
    site.build().await;
    let out = site.root.join("output");
    let read = |rel: &str| std::fs::read_to_string(out.join(rel)).unwrap_or_default();
    assert!(read("ada/index.html").contains(&format!("url=/u/{ADA}/")));

    site.fake.update_user(ADA, json!({"username": "countess"}));
    site.build().await;
    let old = read("ada/index.html");
    assert!(old.contains(&format!("url=/u/{ADA}/")), "{old}");
    assert!(old.contains("moved to <a href=\"/countess/\">"), "{old}");
    assert!(read("countess/index.html").contains(&format!("url=/u/{ADA}/")));

    let json = read(&format!("u/{ADA}.json"));
    assert!(json.contains("\"username\": \"countess\""), "{json}");
    assert!(
        json.contains("ada-gh") && !json.contains("ada-private"),
        "{json}"
    );
    assert!(
        !json.contains("Analytical Engines"),
        "servers not opted in: {json}"
    );
    let sitemap = read("sitemap.xml");
    assert!(
        sitemap.contains(&format!(
            "<loc>https://profiles.example.org/u/{ADA}/</loc><lastmod>"
        )),
        "{sitemap}"
    );

    site.sign_in("/delete").await;
    site.build().await;
    for gone in [
        "ada",
        "countess",
        &format!("u/{ADA}"),
        &format!("u/{ADA}.json"),
    ] {
        assert!(!out.join(gone).exists(), "{gone} is still there");
    }
    assert!(!read("sitemap.xml").contains(ADA));
}

#[tokio::test]
async fn the_service_serves_the_theme_files_under_their_hashed_names() {
    let site = Site::new().await;
    let filter = routes(site.app.clone());
    let landing = warp::test::request().path("/").reply(&filter).await;
    let body = String::from_utf8_lossy(landing.body()).into_owned();
    let href = body
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no stylesheet link: {body}"))
        .to_owned();
    assert!(
        href.starts_with("/static/style.") && href.ends_with(".css") && href.len() > 22,
        "{href}"
    );

    let css = warp::test::request().path(&href).reply(&filter).await;
    assert_eq!(css.status(), StatusCode::OK, "{href}");
    assert_eq!(header(&css, "content-type"), "text/css");
    assert!(header(&css, "cache-control").contains("immutable"));
    assert_eq!(
        css.body().as_ref(),
        std::fs::read(themes_dir().join("default/static/style.css")).unwrap()
    );

    for path in ["/static/style.css", "/static/../strife.toml", "/static/"] {
        let reply = warp::test::request().path(path).reply(&filter).await;
        assert_eq!(reply.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn an_access_token_is_refreshed_only_when_it_expires_before_the_next_run() {
    // Half a day of life left, runs every six hours (the default): used as it is.
    let site = Site::with_ada().await;
    site.fake.set_access_token_lifetime(12 * 3600);
    site.sign_in("/login").await;
    let grants = site.fake.count("/oauth2/token");
    assert_eq!(site.build().await.refresh.unwrap().refreshed, 1);
    assert_eq!(site.fake.count("/oauth2/token"), grants, "no refresh grant");

    // Runs a day apart: the token would die before the next one, so it is refreshed now.
    let daily = Site::with(
        |config| config.replace("[refresh]\n", "[refresh]\ninterval = \"1d\"\n"),
        |app| app,
    )
    .await;
    daily.fake.add_user(ada());
    daily.fake.login_as(ADA);
    daily.fake.set_access_token_lifetime(12 * 3600);
    daily.sign_in("/login").await;
    let grants = daily.fake.count("/oauth2/token");
    assert_eq!(daily.build().await.refresh.unwrap().refreshed, 1);
    assert_eq!(daily.fake.count("/oauth2/token"), grants + 1);
}

#[tokio::test]
async fn a_token_that_got_401_is_never_sent_again_in_that_run() {
    let site = Site::with_ada().await;
    site.sign_in("/login?publish=connections").await;
    // Discord ends the access token early: every use of it from now on is a 401. The run
    // refreshes after the first 401 and fetches the user and the connections with the new one.
    site.fake.expire_access_tokens(ADA);
    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap().refreshed, 1);
    assert_eq!(site.fake.count_status(401), 1, "{:?}", site.fake.requests());
    assert_eq!(
        site.fake.count("/users/@me/connections"),
        2,
        "fetched once at consent, once now"
    );

    // A refused access token and a refused refresh: one 401, one 400, and the user waits for
    // a new consent instead of being retried.
    site.fake.deauthorize(ADA);
    let before = site.fake.count_status(401);
    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap().needs_reconsent, 1);
    assert_eq!(site.fake.count_status(401), before + 1);
    site.build().await;
    assert_eq!(site.fake.count_status(401), before + 1, "not retried");
}
