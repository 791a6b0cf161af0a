//! A person in a real (headless) Chromium: signs up on the landing page of the real binary's
//! `serve`, approves at the fake Discord, sees their published page after `build`, then removes
//! it again. Console errors, uncaught exceptions and CSP violations fail the test.
//!
//! The consent service is reached as `http://profiles.test` (Chromium maps that name to the
//! service's port), so that, as in production, it is a different site from Discord's authorize
//! page and from the static host the pages are published on.
//!
//! Needs Debian's `chromium` (`apt-get install chromium`); skipped with a note where it is
//! missing, except under CI.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::browser::{self, Browser, WAIT};
use crate::support::fixtures::{
    ada, discord_table, site_table, themes_dir, ADA, SERVE_ON_ANY_PORT,
};
use crate::support::service::{strife, Service, StaticSite};
use fake_discord::FakeDiscord;
use serde_json::json;

/// The consent service's public name; Chromium resolves it to the service.
/// The service's host name in the browser tests (mapped to its loopback address).
pub(super) const SERVICE_HOST: &str = "profiles.test";
const AVATAR: &str = "5f4dcc3b5aa765d61d8327deb882cf99";

/// A browser test's `strife.toml`: the static `site`, `fake` Discord and its CDN, the service at
/// [`SERVICE_HOST`].
pub(super) fn write_config(root: &Path, fake: &FakeDiscord, site: &StaticSite) {
    let text = format!(
        "{site}\n{discord}\n{SERVE_ON_ANY_PORT}",
        site = site_table(
            "Browser test",
            &site.base_url(),
            &[("themes_dir", &themes_dir())],
        ),
        discord = discord_table(
            fake,
            &format!("http://{SERVICE_HOST}/callback"),
            Some(&fake.cdn_base()),
        ),
    );
    std::fs::write(root.join("strife.toml"), text).expect("write strife.toml");
}

/// `strife-gen build` in `root`, off the async threads (the browser's connection runs there).
async fn build(root: &Path) {
    build_with(root, &["build"]).await;
}

/// `strife-gen <args>` in `root`, off the async threads; it must succeed.
pub(super) async fn build_with(root: &Path, args: &'static [&'static str]) {
    let root = root.to_owned();
    let output = tokio::task::spawn_blocking(move || strife(&root, args).output())
        .await
        .expect("the build thread")
        .expect("strife-gen build runs");
    assert!(
        output.status.success(),
        "strife-gen build failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Where a browser test keeps a screenshot for a person to look at (under target/tmp/browser).
pub(super) fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("browser")
        .join(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_publishes_their_page_and_removes_it_again() {
    let fake = FakeDiscord::start().await;
    let mut user = ada();
    user.user["avatar"] = json!(AVATAR);
    fake.add_user(user);
    fake.login_as(ADA);
    fake.authorize_interactively();
    let dir = tempfile::tempdir().expect("a temporary site");
    let root = dir.path();
    let site = StaticSite::serve(&root.join("output"));
    write_config(root, &fake, &site);
    let service = Service::start(root);
    let map = format!(
        "--host-resolver-rules=MAP {SERVICE_HOST} {}",
        service.address
    );
    let Some(browser) = Browser::launch(&[map]).await else {
        return;
    };
    let tab = browser.new_tab().await;
    let landing = format!("http://{SERVICE_HOST}/");
    let callback = format!("http://{SERVICE_HOST}/callback");
    let profile = format!("{}u/{ADA}/", site.base_url());

    // The landing page: tick "connections" (not the servers) and sign in.
    tab.goto(&landing).await;
    assert_eq!(tab.text("h1").await, "Publish your Discord profile");
    tab.assert_accessible("on the landing page").await;
    tab.click("input[name=publish][value=connections]").await;
    let ticked: Vec<String> = tab
        .eval("[...document.querySelectorAll('input[name=publish]:checked')].map(i => i.value)")
        .await;
    assert_eq!(ticked, ["connections"]);
    tab.click("form button[type=submit]").await;

    // Discord asks; the person reads who they are and what is asked for, and approves.
    tab.wait_for_url(&fake.authorize_url()).await;
    assert_eq!(tab.text("#user").await, "Ada Lovelace");
    let scopes: Vec<String> = tab
        .eval("[...document.querySelectorAll('#scopes li')].map(li => li.innerText)")
        .await;
    assert_eq!(scopes, ["identify", "connections"]);
    tab.click("#authorize").await;

    // Back at the service: the consent is stored and the page's address is shown.
    tab.wait_for_url(&callback).await;
    assert_eq!(tab.text("h1").await, "You're in");
    assert_eq!(tab.text("a.button").await, profile);
    tab.assert_accessible("on the success page").await;
    tab.assert_no_problems("while signing up");

    build(root).await;
    tab.click("a.button").await;
    tab.wait_for_url(&profile).await;
    see_the_published_page(&tab, &fake).await;

    // Changed their mind: from the page's footer to the landing page, then "Remove your page".
    tab.click(&format!("footer a[href='{landing}']")).await;
    tab.wait_for_url(&landing).await;
    tab.click("a[href='/delete']").await;
    tab.wait_for_url(&fake.authorize_url()).await;
    let scopes: Vec<String> = tab
        .eval("[...document.querySelectorAll('#scopes li')].map(li => li.innerText)")
        .await;
    assert_eq!(scopes, ["identify"], "deleting asks for nothing more");
    tab.click("#authorize").await;
    tab.wait_for_url(&callback).await;
    assert_eq!(tab.text("h1").await, "Deleted");
    tab.assert_accessible("on the deleted page").await;
    tab.assert_no_problems("while removing the page");

    build(root).await;
    let gone = reqwest::get(&profile)
        .await
        .expect("the static site answers");
    assert_eq!(gone.status().as_u16(), 404, "{profile} is gone");
    assert!(
        !root.join("output/u").join(ADA).exists(),
        "no file of the page is left in output/"
    );
    assert!(
        service.log().contains("user deleted on request"),
        "{}",
        service.log()
    );
    tab.assert_no_problems("at the end");
    drop(tab);
    browser.close().await;
}

/// What a person sees on their page: name, avatar (fetched from the CDN by the build, loaded
/// from the site's own copy: `site.images = "mirror"`), the connection they chose to publish and
/// nothing they did not.
async fn see_the_published_page(tab: &browser::Tab, fake: &FakeDiscord) {
    assert_eq!(tab.text("h1").await, "Ada Lovelace");
    tab.wait_for(
        "the avatar to load",
        "document.querySelector('img.avatar').complete",
    )
    .await;
    let width: u32 = tab
        .eval("document.querySelector('img.avatar').naturalWidth")
        .await;
    assert!(width > 0, "the avatar image did not load");
    // Nothing is painted over it: the top of the avatar, where it overlaps the banner, is the
    // avatar itself.
    let on_top: bool = tab
        .eval(
            "(() => { const a = document.querySelector('img.avatar'); const r = a.getBoundingClientRect(); \
             return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 5) === a; })()",
        )
        .await;
    assert!(on_top, "the avatar is covered where it overlaps the banner");
    let source: String = tab
        .eval("document.querySelector('img.avatar').currentSrc")
        .await;
    let avatar_path = format!("/cdn/avatars/{ADA}/{AVATAR}.");
    let origin: String = tab.eval("location.origin").await;
    assert!(source.starts_with(&format!("{origin}/img/")), "{source}");
    // The visitor's browser asks nothing of Discord: no image, and no CDN URL in the page.
    let all_local: bool = tab
        .eval(
            "[...document.querySelectorAll('img[src], source[srcset]')].every(e => \
             new URL(e.getAttribute('src') || e.getAttribute('srcset'), location.href).origin === location.origin)",
        )
        .await;
    assert!(all_local, "an image of the page is not the site's own");
    // The embeddable card, as an <img> (as a README shows it): it loads, with nothing outside it.
    let _: bool = tab
        .eval("(document.querySelector('img.card-image').scrollIntoView(), true)")
        .await;
    tab.wait_for(
        "the card to load",
        "document.querySelector('img.card-image').complete && document.querySelector('img.card-image').naturalWidth > 0",
    )
    .await;
    let card_width: u32 = tab
        .eval("document.querySelector('img.card-image').naturalWidth")
        .await;
    assert_eq!(card_width, 500, "the card's own size");
    let html: String = tab.eval("document.documentElement.outerHTML").await;
    assert!(
        !html.contains(&fake.cdn_base()),
        "a CDN URL in the page:\n{html}"
    );
    let served: Vec<u16> = fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with(&avatar_path))
        .map(|r| r.status)
        .collect();
    assert!(
        !served.is_empty() && served.iter().all(|&s| s == 200),
        "{served:?}"
    );

    let connections = tab.text("section.connections").await;
    assert!(connections.contains("ada-gh"), "{connections}");
    assert!(
        !connections.contains("ada-private"),
        "a private connection was published: {connections}"
    );
    let servers: bool = tab
        .eval("document.querySelector('section.guilds') !== null")
        .await;
    assert!(!servers, "servers were published without being ticked");

    let shot = screenshot_path("profile.png");
    tab.screenshot(&shot).await;
    println!("screenshot of the profile page: {}", shot.display());
    tab.assert_no_problems("on the profile page");
}

/// The collector itself: a test that can only pass proves nothing, so check that each kind of
/// problem really reaches it from this Chromium.
#[tokio::test(flavor = "multi_thread")]
async fn the_browser_reports_console_errors_exceptions_and_csp_violations() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    // A form whose submission `form-action` blocks, as the landing page's was.
    let form = r#"<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="form-action 'self'">
<title>form</title></head>
<body><form method="get" action="http://127.0.0.1:9/elsewhere"><button type="submit">Go</button></form></body></html>
"#;
    // A blocked image, a missing script, a console error and an uncaught exception.
    let broken = r#"<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="img-src 'none'">
<title>broken</title></head>
<body>
<img src="/blocked.png" alt="">
<script src="/missing.js"></script>
<script>console.error("deliberate console error"); setTimeout(() => { throw new Error("deliberate exception"); }, 0);</script>
</body></html>
"#;
    std::fs::write(dir.path().join("form.html"), form).expect("write the form page");
    std::fs::write(dir.path().join("broken.html"), broken).expect("write the broken page");
    let site = StaticSite::serve(dir.path());
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let tab = browser.new_tab().await;

    tab.goto(&format!("{}form.html", site.base_url())).await;
    tab.click("button").await;
    // Chromium's own report (a log entry) and the page's `securitypolicyviolation` event.
    let problems = wait_for_problems(
        &tab,
        &[
            "violates the following Content Security Policy directive: \"form-action 'self'\"",
            "console.error: CSP violation: form-action blocked http://127.0.0.1:9/elsewhere",
        ],
    )
    .await;
    // Taken, they no longer fail the waits on the next page.
    assert!(tab.take_problems().len() >= problems.len());

    tab.goto(&format!("{}broken.html", site.base_url())).await;
    wait_for_problems(
        &tab,
        &[
            "deliberate console error",
            "deliberate exception",
            "img-src",
            "missing.js",
        ],
    )
    .await;
    drop(tab);
    browser.close().await;
}

/// Waits (bounded) until every one of `expected` is part of some reported problem.
async fn wait_for_problems(tab: &browser::Tab, expected: &[&str]) -> Vec<String> {
    let started = Instant::now();
    loop {
        let problems = tab.problems();
        if expected
            .iter()
            .all(|e| problems.iter().any(|p| p.contains(e)))
        {
            return problems;
        }
        assert!(
            started.elapsed() < WAIT,
            "not all of {expected:?} were reported, only: {problems:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
