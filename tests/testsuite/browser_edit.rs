//! A person in a real (headless) Chromium edits their own page: publishes it on the real
//! binary's `serve`, follows "edit your page", types a bio and a link, is told what is wrong
//! with a `javascript:` link, fixes it, saves, and sees the built page change. Console
//! errors, uncaught exceptions and CSP violations fail the test.
//!
//! Needs Debian's `chromium`; skipped with a note where it is missing, except under CI.

use crate::browser_flow::{build_with, screenshot_path, write_config, SERVICE_HOST};
use crate::support::browser::{Browser, WAIT};
use crate::support::fixtures::{ada, ADA};
use crate::support::service::{Service, StaticSite};
use fake_discord::FakeDiscord;

#[tokio::test(flavor = "multi_thread")]
async fn a_person_edits_their_page_in_the_browser() {
    let fake = FakeDiscord::start().await;
    fake.add_user(ada());
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
    let me = format!("http://{SERVICE_HOST}/me");
    let profile = format!("{}u/{ADA}/", site.base_url());

    // Publish first: the landing page, Discord's consent, the success page.
    tab.goto(&format!("http://{SERVICE_HOST}/")).await;
    tab.click("form button[type=submit]").await;
    tab.wait_for_url(&fake.authorize_url()).await;
    tab.click("#authorize").await;
    tab.wait_for_url(&format!("http://{SERVICE_HOST}/callback"))
        .await;
    assert_eq!(tab.text("h1").await, "You're in");

    // "Edit your page": the consent signed them in.
    tab.click("a[href='/me']").await;
    tab.wait_for_url(&me).await;
    assert_eq!(tab.text("h1").await, "Edit your page");
    tab.type_into("#bio", "Poet of <b>numbers</b>").await;
    tab.type_into("#link_title_1", "Notes").await;
    tab.type_into("#link_url_1", "javascript:alert(1)").await;
    tab.click("form[action='/me'] button[type=submit]").await;
    // The form comes back with 400, which the browser reports: that one answer is expected.
    let started = std::time::Instant::now();
    while tab.problems().is_empty() {
        assert!(started.elapsed() < WAIT, "the refused form never came back");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let problems = tab.take_problems();
    assert!(
        problems.len() == 1 && problems[0].contains("400") && problems[0].ends_with("/me"),
        "{problems:?}"
    );
    tab.wait_for_selector("#link_url_1-error").await;
    tab.screenshot(&screenshot_path("edit-refused.png")).await;
    tab.assert_accessible("on the refused form").await;
    assert!(tab.text("#link_url_1-error").await.contains("https://"));
    // The form keeps what was typed; nothing was saved.
    let kept: String = tab.eval("document.querySelector('#bio').value").await;
    assert_eq!(kept, "Poet of <b>numbers</b>");

    let _: bool = tab
        .eval("(document.querySelector('#link_url_1').value = '', true)")
        .await;
    tab.type_into("#link_url_1", "https://ada.example/notes")
        .await;
    tab.click("form[action='/me'] button[type=submit]").await;
    tab.wait_for(
        "the saved notice",
        "document.body.innerText.includes('Saved.')",
    )
    .await;
    assert!(tab
        .text(".preview")
        .await
        .contains("Poet of <b>numbers</b>"));
    tab.screenshot(&screenshot_path("edit-saved.png")).await;
    tab.assert_accessible("on the saved form").await;
    tab.assert_no_problems("while editing");

    // The built page says it, as text.
    build_with(root, &["build", "--offline"]).await;
    tab.goto(&profile).await;
    assert_eq!(tab.text("p.bio").await, "Poet of <b>numbers</b>");
    let link: String = tab.eval("document.querySelector('ul.links a').href").await;
    tab.screenshot(&screenshot_path("edited-profile.png")).await;
    assert_eq!(link, "https://ada.example/notes");
    tab.assert_no_problems("on the built page");

    // Signing out ends it: /me asks Discord again.
    tab.goto(&me).await;
    tab.click("form[action='/logout'] button[type=submit]")
        .await;
    tab.wait_for(
        "the signed-out page",
        "document.body.innerText.includes('signed out')",
    )
    .await;
    tab.goto(&me).await;
    tab.wait_for_url(&fake.authorize_url()).await;
    tab.assert_no_problems("at the end");
    drop(tab);
    browser.close().await;
}
