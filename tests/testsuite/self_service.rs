//! People editing their own page (`/me`): stored edits are part of the page's inputs, the
//! operator's content files win field by field, and the edit form through the real routes.

use std::sync::Arc;

use fake_discord::FakeUser;

use strife_gen::server::{routes, App};
use strife_gen::site::render::Renderer;
use warp::http::StatusCode;

use crate::support::fixtures::{stderr, ADA};
use crate::support::service::strife;
use crate::support::site::{header, render_offline, Site};

const GRACE: &str = "81384788765712385";

/// Ada and Grace signed in and built once.
async fn two_users() -> Site {
    let site = Site::with_ada().await;
    site.sign_in("/login?publish=connections&publish=guilds")
        .await;
    site.fake.add_user(FakeUser::new(GRACE, "grace"));
    site.fake.login_as(GRACE);
    site.sign_in("/login").await;
    site.build().await;
    site
}

/// Stores `json` as `id`'s published edits behind the service's back (with a key of its own),
/// as an approved edit would leave them.
fn store_edits(site: &Site, id: &str, json: &str, key: &str) {
    site.sql(&format!(
        "INSERT INTO profile_edits (user_id, published, published_key, pending, updated_at)
         VALUES ('{id}', '{json}', '{key}', NULL, 1)
         ON CONFLICT (user_id) DO UPDATE SET published = excluded.published,
            published_key = excluded.published_key"
    ));
}

fn json_of(site: &Site, id: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(site.root.join(format!("output/u/{id}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn a_changed_edit_renders_only_that_users_page_and_its_json() {
    let site = two_users().await;
    let summary = site.render_offline().await.unwrap();
    assert_eq!(summary.site.profiles_rendered, 0, "{summary}");

    store_edits(
        &site,
        ADA,
        r#"{"bio":"Poet of numbers","pronouns":"she/her","about":"**Notes** on the engine",
            "links":[{"title":"Notes","url":"https://ada.example/"}],
            "show_connections":false,"show_guilds":true}"#,
        "k1",
    );
    let summary = site.render_offline().await.unwrap();
    assert_eq!(summary.site.profiles_rendered, 1, "{summary}");
    let page = site.page(ADA).unwrap();
    assert!(page.contains("Poet of numbers"), "{page}");
    assert!(
        page.contains("<strong>Notes</strong> on the engine"),
        "{page}"
    );
    assert!(page.contains("https://ada.example/"), "{page}");
    assert!(!page.contains("ada-gh"), "connections not shown");
    assert!(page.contains("Analytical Engines"), "servers still shown");
    let json = json_of(&site, ADA);
    assert_eq!(json["bio"], "Poet of numbers");
    assert_eq!(json["pronouns"], "she/her");
    assert_eq!(json["links"][0]["url"], "https://ada.example/");
    assert!(json["connections"].is_null());
    assert!(json_of(&site, GRACE)["bio"].is_null());

    // Unchanged edits: nothing rendered again.
    let summary = site.render_offline().await.unwrap();
    assert_eq!(summary.site.profiles_rendered, 0, "{summary}");
}

#[tokio::test]
async fn the_operators_content_file_wins_field_by_field() {
    let site = two_users().await;
    store_edits(
        &site,
        ADA,
        r#"{"bio":"Her own words","pronouns":"she/her","about":"Her own about"}"#,
        "k1",
    );
    let users = site.root.join("content/users");
    std::fs::create_dir_all(&users).unwrap();
    std::fs::write(
        users.join(format!("{ADA}.md")),
        "+++\nbio = \"The operator's words\"\nhide = [\"guilds\"]\n+++\n",
    )
    .unwrap();
    site.render_offline().await.unwrap();
    let json = json_of(&site, ADA);
    assert_eq!(json["bio"], "The operator's words");
    assert_eq!(
        json["pronouns"], "she/her",
        "the file says nothing about pronouns"
    );
    assert!(json["body_html"]
        .as_str()
        .unwrap()
        .contains("Her own about"));
    assert!(json["guilds"].is_null(), "the file hides the servers");
}

#[tokio::test]
async fn self_service_turned_off_builds_pages_without_edits() {
    let site = two_users().await;
    store_edits(&site, ADA, r#"{"bio":"Her own words"}"#, "k1");
    site.render_offline().await.unwrap();
    assert!(site.page(ADA).unwrap().contains("Her own words"));

    let path = site.root.join("strife.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\n[self_service]\nenabled = false\n")).unwrap();
    let config = strife_gen::config::Config::load(&path).unwrap();
    let summary = render_offline(&Arc::new(config)).await.unwrap();
    assert_eq!(summary.site.profiles_rendered, 1, "{summary}");
    assert!(!site.page(ADA).unwrap().contains("Her own words"));
}

type Reply = warp::http::Response<warp::hyper::body::Bytes>;

/// The `strife_session=...` pair a reply sets, if it sets one with a value.
fn session_of(reply: &Reply) -> Option<String> {
    reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("strife_session=") && !c.starts_with("strife_session=;"))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

fn body(reply: &Reply) -> String {
    String::from_utf8_lossy(reply.body()).into_owned()
}

/// The CSRF token in an edit page's form.
fn csrf_of(page: &str) -> String {
    let at = page
        .find(r#"name="csrf" value=""#)
        .expect("the form has a csrf field");
    let rest = &page[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

async fn get(site: &Site, path: &str, cookie: Option<&str>) -> Reply {
    let mut request = warp::test::request().path(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.reply(&routes(site.app.clone())).await
}

async fn post(site: &Site, path: &str, cookie: Option<&str>, form: &str) -> Reply {
    let mut request = warp::test::request()
        .method("POST")
        .path(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.reply(&routes(site.app.clone())).await
}

/// Signs `id` in through `/me` (identify only) and answers their session cookie and CSRF token.
async fn edit_session(site: &Site, id: &str) -> (String, String) {
    site.fake.login_as(id);
    let reply = site.sign_in_reply("/me").await;
    assert_eq!(reply.status(), StatusCode::SEE_OTHER, "{}", body(&reply));
    assert_eq!(header(&reply, "location"), "/me");
    let cookie = session_of(&reply).expect("a session cookie");
    let page = get(site, "/me", Some(&cookie)).await;
    assert_eq!(page.status(), StatusCode::OK, "{}", body(&page));
    let csrf = csrf_of(&body(&page));
    (cookie, csrf)
}

fn form(csrf: &str, fields: &str) -> String {
    format!("csrf={csrf}&{fields}")
}

#[tokio::test]
async fn a_consent_signs_in_and_the_edit_form_changes_the_built_page() {
    let site = Site::with_ada().await;
    let reply = site.sign_in_reply("/login?publish=connections").await;
    assert!(body(&reply).contains(r#"href="/me""#), "{}", body(&reply));
    let set = reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("strife_session="))
        .unwrap();
    for flag in [
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
        "Max-Age=3600",
        "Path=/",
    ] {
        assert!(set.contains(flag), "{set}");
    }
    let cookie = session_of(&reply).unwrap();
    site.fake.add_user(FakeUser::new(GRACE, "grace"));
    site.fake.login_as(GRACE);
    site.sign_in("/login").await;
    site.build().await;

    let page = get(&site, "/me", Some(&cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = body(&page);
    assert!(
        html.contains(r#"name="show_connections""#),
        "granted: offered"
    );
    assert!(
        !html.contains(r#"name="show_guilds""#),
        "not granted: not offered"
    );
    assert!(html.contains(r#"name="link_url_8""#) && !html.contains("link_url_9"));
    assert!(
        !html.contains("<script") && !html.contains(" style="),
        "CSP: {html}"
    );
    assert!(header(&page, "content-security-policy").contains("default-src 'none'"));

    let csrf = csrf_of(&html);
    let saved = post(
        &site,
        "/me",
        Some(&cookie),
        &form(
            &csrf,
            "bio=Poet+of+numbers&pronouns=she%2Fher&about=I+wrote+*the*+notes\
             &link_title_1=Notes&link_url_1=https%3A%2F%2Fada.example%2F&show_connections=1",
        ),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::OK, "{}", body(&saved));
    assert!(body(&saved).contains("Saved."), "{}", body(&saved));
    assert!(
        body(&saved).contains("Poet of numbers"),
        "the preview shows it"
    );

    let summary = site.render_offline().await.unwrap();
    assert_eq!(
        summary.site.profiles_rendered, 1,
        "only Ada's page: {summary}"
    );
    let built = site.page(ADA).unwrap();
    assert!(built.contains("Poet of numbers"), "{built}");
    assert!(built.contains("<em>the</em> notes"), "{built}");
    assert!(built.contains(r#"href="https://ada.example/""#), "{built}");
    assert!(built.contains("ada-gh"), "connections still shown");
    assert!(!site.page(GRACE).unwrap().contains("Poet of numbers"));
}

#[tokio::test]
async fn me_without_a_session_signs_in_with_identify_only() {
    let site = two_users().await;
    let reply = get(&site, "/me", None).await;
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    let (cookie, _) = edit_session(&site, GRACE).await;
    let params = site.fake.authorize_params().pop().unwrap();
    let scope = params.iter().find(|(k, _)| k == "scope").unwrap();
    assert_eq!(scope.1, "identify");
    let page = body(&get(&site, "/me", Some(&cookie)).await);
    assert!(page.contains(&format!("/u/{GRACE}/")), "{page}");

    // Someone without a page here is told to publish first, and gets no session.
    site.fake
        .add_user(FakeUser::new("81384788765712399", "nobody"));
    site.fake.login_as("81384788765712399");
    let reply = site.sign_in_reply("/me").await;
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
    assert!(body(&reply).contains("no page on this site yet"));
    assert_eq!(session_of(&reply), None);
}

#[tokio::test]
async fn hostile_values_are_refused_or_neutralised() {
    let site = two_users().await;
    let (cookie, csrf) = edit_session(&site, ADA).await;
    let cookie = Some(cookie.as_str());

    // A javascript: link and a two-line bio: the form again, a message per field, nothing saved.
    let refused = post(
        &site,
        "/me",
        cookie,
        &form(
            &csrf,
            "bio=one%0Atwo&link_title_1=x&link_url_1=javascript%3Aalert(1)",
        ),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let html = body(&refused);
    assert!(html.contains("must be one line"), "{html}");
    assert!(
        html.contains("must be an https:// address, not javascript:"),
        "{html}"
    );
    assert!(html.contains(r#"id="link_url_1-error""#), "{html}");
    assert!(html.contains("Nothing was saved"), "{html}");
    assert_eq!(edit_rows(&site), 0, "nothing saved");
    site.render_offline().await.unwrap();
    assert!(!site.page(ADA).unwrap().contains("javascript:alert"));

    // Script tags are text; bidi overrides are removed.
    let saved = post(
        &site,
        "/me",
        cookie,
        &form(
            &csrf,
            "bio=%3Cscript%3Ealert(1)%3C%2Fscript%3E&pronouns=she%E2%80%AEher\
             &about=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E",
        ),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::OK, "{}", body(&saved));
    site.render_offline().await.unwrap();
    let page = site.page(ADA).unwrap();
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        !page.contains("<script>alert") && !page.contains("<img src=x"),
        "{page}"
    );
    assert!(
        page.contains("sheher") && !page.contains('\u{202e}'),
        "{page}"
    );

    // Unknown fields, a 100 KB body: refused whole.
    let unknown = post(&site, "/me", cookie, &form(&csrf, "user=81384788765712385")).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let huge = form(&csrf, &format!("about={}", "a".repeat(100 * 1024)));
    assert_eq!(
        post(&site, "/me", cookie, &huge).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn a_session_changes_only_its_own_page_and_needs_its_own_csrf() {
    let site = two_users().await;
    let (ada_cookie, ada_csrf) = edit_session(&site, ADA).await;
    let (grace_cookie, grace_csrf) = edit_session(&site, GRACE).await;

    for (cookie, sent) in [
        (&ada_cookie, form(&grace_csrf, "bio=Hijacked")),
        (&ada_cookie, "bio=Hijacked".to_owned()),
        (&ada_cookie, form("", "bio=Hijacked")),
    ] {
        let reply = post(&site, "/me", Some(cookie), &sent).await;
        assert_eq!(reply.status(), StatusCode::FORBIDDEN, "{sent}");
    }
    let saved = post(
        &site,
        "/me",
        Some(&grace_cookie),
        &form(&grace_csrf, "bio=Grace+herself"),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::OK);
    site.render_offline().await.unwrap();
    assert!(site.page(GRACE).unwrap().contains("Grace herself"));
    let ada = site.page(ADA).unwrap();
    assert!(!ada.contains("Grace herself") && !ada.contains("Hijacked"));

    // A forged cookie is no session: back to signing in, nothing saved.
    let forged = "strife_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let reply = post(&site, "/me", Some(forged), &form(&ada_csrf, "bio=Forged")).await;
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&reply, "location"), "/me");
    let reply = get(&site, "/me", Some(forged)).await;
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    assert!(header(&reply, "location").contains("oauth2/authorize"));

    // Signing out ends the session: its cookie saves nothing after.
    let out = post(&site, "/logout", Some(&ada_cookie), &form(&ada_csrf, "")).await;
    assert_eq!(out.status(), StatusCode::OK);
    assert!(header(&out, "set-cookie").contains("Max-Age=0"));
    let reply = post(
        &site,
        "/me",
        Some(&ada_cookie),
        &form(&ada_csrf, "bio=After"),
    )
    .await;
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    // Nor after a restart: the service started again on the same store knows it ended.
    let renderer = Renderer::new(
        &site.config.theme_dir(),
        strife_gen::build::site_info(&site.config),
    )
    .unwrap();
    let restarted = Arc::new(App::new(site.service.clone(), Arc::new(renderer)));
    let reply = warp::test::request()
        .method("POST")
        .path("/me")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", ada_cookie.as_str())
        .body(form(&ada_csrf, "bio=After"))
        .reply(&routes(restarted))
        .await;
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    site.render_offline().await.unwrap();
    let page = site.page(ADA).unwrap();
    assert!(
        !page.contains("Forged") && !page.contains("After"),
        "{page}"
    );
}

#[tokio::test]
async fn a_session_expires_after_an_hour() {
    let later = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let offset = later.clone();
    let site = Site::with(
        |config| config,
        move |app| {
            app.with_clock(move || {
                strife_gen::store::unix_now() + offset.load(std::sync::atomic::Ordering::SeqCst)
            })
        },
    )
    .await;
    site.fake.add_user(crate::support::fixtures::ada());
    site.fake.login_as(ADA);
    site.sign_in("/login").await;
    let (cookie, csrf) = edit_session(&site, ADA).await;
    later.store(59 * 60, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        get(&site, "/me", Some(&cookie)).await.status(),
        StatusCode::OK
    );
    later.store(61 * 60, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        get(&site, "/me", Some(&cookie)).await.status(),
        StatusCode::SEE_OTHER
    );
    let reply = post(&site, "/me", Some(&cookie), &form(&csrf, "bio=Late")).await;
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    assert_eq!(edit_rows(&site), 0, "nothing saved");
}

/// How many users have edits stored.
fn edit_rows(site: &Site) -> i64 {
    let conn = rusqlite::Connection::open(&site.config.store.path).unwrap();
    conn.query_row("SELECT COUNT(*) FROM profile_edits", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn review_mode_holds_edits_until_approved() {
    let site = Site::with(
        |config| format!("{config}\n[self_service]\nmoderation = \"review\"\n"),
        |app| app,
    )
    .await;
    site.fake.add_user(crate::support::fixtures::ada());
    site.fake.login_as(ADA);
    site.sign_in("/login").await;
    site.build().await;
    let (cookie, csrf) = edit_session(&site, ADA).await;
    let saved = post(
        &site,
        "/me",
        Some(&cookie),
        &form(&csrf, "bio=Waiting+words"),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let html = body(&saved);
    assert!(html.contains("moderators review"), "{html}");
    assert!(html.contains("Waiting words"), "the form shows what waits");
    site.render_offline().await.unwrap();
    assert!(
        !site.page(ADA).unwrap().contains("Waiting words"),
        "held back"
    );

    let list = strife(&site.root, &["users", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(list.contains("EDITS") && list.contains("pending"), "{list}");
    let approved = strife(&site.root, &["users", "approve", ADA])
        .output()
        .unwrap();
    assert!(approved.status.success(), "{}", stderr(&approved));
    site.render_offline().await.unwrap();
    assert!(site.page(ADA).unwrap().contains("Waiting words"));
    let again = strife(&site.root, &["users", "approve", ADA])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("no edits waiting"),
        "{}",
        stderr(&again)
    );
}

#[tokio::test]
async fn deleting_removes_the_edits() {
    let site = two_users().await;
    let (cookie, csrf) = edit_session(&site, ADA).await;
    post(&site, "/me", Some(&cookie), &form(&csrf, "bio=Gone+soon")).await;
    assert_eq!(edit_rows(&site), 1);
    site.fake.login_as(ADA);
    let (status, _) = site.sign_in("/delete").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(edit_rows(&site), 0);
    // Their session finds no page any more.
    let reply = get(&site, "/me", Some(&cookie)).await;
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn self_service_turned_off_has_no_me_and_no_sessions() {
    let site = Site::with(
        |config| format!("{config}\n[self_service]\nenabled = false\n"),
        |app| app,
    )
    .await;
    site.fake.add_user(crate::support::fixtures::ada());
    site.fake.login_as(ADA);
    let reply = site.sign_in_reply("/login").await;
    assert_eq!(session_of(&reply), None);
    assert!(!body(&reply).contains(r#"href="/me""#));
    assert_eq!(
        get(&site, "/me", None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&site, "/me", None, "bio=x").await.status(),
        StatusCode::NOT_FOUND
    );
}
