//! `[community]`: the start-up check of `serve` with `join = "offer"` (the bot token, and the bot
//! in the server) through the real binary; joining the server on consent (only when ticked),
//! each way it fails, its retries and the welcome message, through the real routes; and that
//! the bot token reaches no log, file or page.

use std::path::Path;

use crate::browser_flow::screenshot_path;
use crate::support::browser::Browser;
use crate::support::fixtures::{
    ada, copy_dir, discord_table, site_table, stderr, themes_dir, walk, ADA, SERVE_ON_ANY_PORT,
};
use crate::support::service::{strife, Service};
use crate::support::site::Site;
use fake_discord::{FakeDiscord, BOT_TOKEN};
use strife_gen::store::UserStatus;

const GUILD: &str = "400000000000000001";

fn write_config(root: &Path, fake: &FakeDiscord) {
    let text = format!(
        "{site}\n{discord}\n{SERVE_ON_ANY_PORT}\n[community]\nguild_id = \"{GUILD}\"\njoin = \"offer\"\nroles = [\"500\"]\n",
        site = site_table(
            "Community test",
            "https://profiles.example.org/",
            &[("themes_dir", &themes_dir())],
        ),
        discord = discord_table(fake, "https://profiles.example.org/callback", None),
    );
    std::fs::write(root.join("strife.toml"), text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_does_not_start_until_the_bot_can_add_members() {
    let fake = FakeDiscord::start().await;
    fake.add_guild(GUILD, "Synth Club");
    fake.remove_bot(GUILD);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &fake);

    let missing = strife(dir.path(), &["serve"]).output().unwrap();
    let log = stderr(&missing);
    assert_eq!(missing.status.code(), Some(2), "{log}");
    assert!(log.contains("STRIFE_DISCORD_BOT_TOKEN"), "{log}");

    let refused = strife(dir.path(), &["serve"])
        .env("STRIFE_DISCORD_BOT_TOKEN", "an-old-bot-token")
        .output()
        .unwrap();
    let log = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{log}");
    assert!(log.contains("Discord refused the bot token"), "{log}");
    assert!(!log.contains("an-old-bot-token"), "{log}");

    let absent = strife(dir.path(), &["serve"])
        .env("STRIFE_DISCORD_BOT_TOKEN", BOT_TOKEN)
        .output()
        .unwrap();
    let log = stderr(&absent);
    assert_eq!(absent.status.code(), Some(2), "{log}");
    for part in [
        "the bot is not in server 400000000000000001",
        "Create Instant Invite and Manage Roles",
        "scope=bot",
    ] {
        assert!(log.contains(part), "{part}: {log}");
    }
    assert!(!log.contains(BOT_TOKEN), "{log}");
    assert!(
        !dir.path().join("strife.db").exists(),
        "nothing is written before the check"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_checks_the_server_with_the_bot_token_from_dot_env() {
    let fake = FakeDiscord::start().await;
    fake.add_guild(GUILD, "Synth Club");
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &fake);
    std::fs::write(
        dir.path().join(".env"),
        format!("STRIFE_DISCORD_BOT_TOKEN={BOT_TOKEN}\n"),
    )
    .unwrap();

    let service = Service::start(dir.path());
    let landing = reqwest::get(service.url("/")).await.unwrap();
    assert_eq!(landing.status(), 200);
    let log = service.stop();
    assert!(log.contains("joining the server is offered"), "{log}");
    assert!(log.contains("Synth Club"), "{log}");
    assert_eq!(fake.count(&format!("/guilds/{GUILD}")), 1);
    // The bot token is in no log line and in no file strife-gen wrote.
    assert!(!log.contains(BOT_TOKEN), "{log}");
    for entry in walk(dir.path()) {
        if entry.ends_with(".env") {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap_or_default();
        let needle = BOT_TOKEN.as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "bot token in {}",
            entry.display()
        );
    }
}

/// `[community]` offering `GUILD` with a role and the default theme's welcome message; `extra`
/// adds keys to it, and what follows a `[refresh]` line in it goes to that table.
fn community_config(extra: &str) -> impl FnOnce(String) -> String + '_ {
    move |text| {
        let (community, refresh) = extra.split_once("[refresh]\n").unwrap_or((extra, ""));
        let text = text.replace("[refresh]\n", &format!("[refresh]\n{refresh}"));
        format!(
            "{text}\n[community]\nguild_id = \"{GUILD}\"\njoin = \"offer\"\nroles = [\"500\"]\nwelcome_message = \"welcome.txt\"\n{community}"
        )
    }
}

/// A site offering "Synth Club", with Ada at the fake Discord; `prepare` changes the fake
/// before the start-up check.
async fn community_site(extra: &str, prepare: impl FnOnce(&FakeDiscord)) -> Site {
    Site::with_community(community_config(extra), |fake| {
        fake.add_guild(GUILD, "Synth Club");
        fake.add_user(ada());
        fake.login_as(ADA);
        prepare(fake);
    })
    .await
}

/// The `scope` of the last authorize request.
fn last_scope(fake: &FakeDiscord) -> String {
    let params = fake.authorize_params().pop().unwrap();
    params
        .into_iter()
        .find(|(key, _)| key == "scope")
        .map(|(_, value)| value)
        .unwrap()
}

/// A row of `community_members`: join state, reason, attempts, welcome state.
type Row = (Option<String>, Option<String>, u32, Option<String>);

/// The user's row of `community_members`.
fn membership(site: &Site, id: &str) -> Option<Row> {
    let conn = rusqlite::Connection::open(&site.config.store.path).unwrap();
    conn.query_row(
        "SELECT join_state, join_reason, join_attempts, welcome_state FROM community_members WHERE user_id = ?1",
        [id],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
    )
    .ok()
}

/// PUTs of Ada to the server so far.
fn join_requests(fake: &FakeDiscord) -> usize {
    fake.count(&format!("/guilds/{GUILD}/members/{ADA}"))
}

/// Waits (a minute at most) until `done` holds: background retries take their backoff.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ticked_join_adds_them_and_welcomes_them_once() {
    let site = community_site("", |_| {}).await;
    let landing = site.request("GET", "/").await;
    let landing = String::from_utf8_lossy(landing.body()).into_owned();
    assert!(
        landing.contains("name=\"join\" value=\"1\"") && landing.contains("Join Synth Club"),
        "{landing}"
    );
    assert!(
        !landing.contains("name=\"join\" value=\"1\" checked"),
        "unticked by default"
    );

    let (status, body) = site.sign_in("/login?publish=guilds&join=1").await;
    assert_eq!(status.as_u16(), 200, "{body}");
    assert!(body.contains("You joined Synth Club."), "{body}");
    assert_eq!(last_scope(&site.fake), "identify guilds guilds.join");
    assert_eq!(
        site.fake.joins(GUILD),
        [(ADA.to_owned(), vec!["500".to_owned()])]
    );
    let messages = site.fake.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].0, ADA);
    assert!(
        messages[0]
            .1
            .starts_with("Welcome to Synth Club, Ada Lovelace!"),
        "{messages:?}"
    );
    assert!(
        messages[0]
            .1
            .contains(&format!("https://profiles.example.org/u/{ADA}/")),
        "{messages:?}"
    );
    let stored = membership(&site, ADA).unwrap();
    assert_eq!(stored.0.as_deref(), Some("joined"));
    assert_eq!(stored.3.as_deref(), Some("sent"));

    // Signing in again (ticked again) sends nothing to Discord's bot routes.
    let puts = join_requests(&site.fake);
    let (_, again) = site.sign_in("/login?publish=guilds&join=1").await;
    assert!(again.contains("You were already in Synth Club."), "{again}");
    assert_eq!(join_requests(&site.fake), puts, "no second PUT");
    assert_eq!(site.fake.messages().len(), 1, "no second welcome");
    assert_eq!(site.fake.count("/users/@me/channels"), 1);

    // `users list` says so.
    let listed = strife(&site.root, &["users", "list"]).output().unwrap();
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let row = table.lines().find(|l| l.starts_with(ADA)).unwrap();
    assert!(row.contains("joined") && row.contains("sent"), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn guilds_join_is_asked_for_only_when_ticked_and_offered() {
    let site = community_site("", |_| {}).await;
    let (_, body) = site.sign_in("/login?publish=connections").await;
    assert!(!body.contains("Synth Club"), "{body}");
    assert_eq!(last_scope(&site.fake), "identify connections");
    assert_eq!(join_requests(&site.fake), 0);
    assert!(
        site.fake.messages().is_empty(),
        "no welcome without joining"
    );
    // Anything but 1 is not a tick.
    site.sign_in("/login?join=yes").await;
    assert_eq!(last_scope(&site.fake), "identify");

    // A site that does not offer joining ignores the field.
    let plain = Site::with(
        |text| format!("{text}\n[community]\nguild_id = \"{GUILD}\"\njoin = \"off\"\n"),
        |app| app,
    )
    .await;
    plain.fake.add_user(ada());
    plain.fake.login_as(ADA);
    let landing = plain.request("GET", "/").await;
    assert!(!String::from_utf8_lossy(landing.body()).contains("name=\"join\""));
    let (status, body) = plain.sign_in("/login?join=1").await;
    assert_eq!(status.as_u16(), 200, "{body}");
    assert_eq!(last_scope(&plain.fake), "identify");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_failure_is_a_line_on_the_page_and_never_fails_the_consent() {
    type Prepare = fn(&FakeDiscord);
    let cases: [(&str, Prepare, &str, &str); 4] = [
        (
            "banned",
            |fake| fake.ban(GUILD, ADA),
            "You could not join Synth Club: this account is banned there.",
            "failed",
        ),
        (
            "too many servers",
            |fake| fake.fill_servers_of(ADA, GUILD),
            "your account is in as many servers as Discord allows",
            "failed",
        ),
        (
            "missing permission",
            |fake| fake.revoke_invite_permission(GUILD),
            "You are not in Synth Club yet (the server&#x27;s bot lacks a permission)",
            "pending",
        ),
        (
            "Discord down",
            |fake| fake.fail_next(&format!("/guilds/{GUILD}/members/{ADA}"), 503, 100),
            "You are not in Synth Club yet (Discord is not answering)",
            "pending",
        ),
    ];
    for (case, prepare, line, state) in cases {
        // A backoff of an hour: the pending ones are not retried during the test.
        let site = community_site("[refresh]\nretry_backoff = \"1h\"\n", prepare).await;
        let (status, body) = site.sign_in("/login?join=1").await;
        assert_eq!(status.as_u16(), 200, "{case}: {body}");
        assert!(body.contains(line), "{case}: {body}");
        assert!(body.contains(&format!("/u/{ADA}/")), "{case}: {body}");
        assert_eq!(site.status(ADA), UserStatus::Active, "{case}");
        let stored = membership(&site, ADA).unwrap();
        assert_eq!(stored.0.as_deref(), Some(state), "{case}: {stored:?}");
        assert_eq!(stored.3, None, "{case}: nobody welcomed");
        assert!(site.fake.messages().is_empty(), "{case}");
        site.build().await;
        assert!(site.page(ADA).is_some(), "{case}: the page is published");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_join_that_keeps_failing_is_retried_up_to_the_limit() {
    let site = community_site(
        "join_retries = 2\n[refresh]\nretry_backoff = \"1s\"\n",
        |fake| fake.fail_next(&format!("/guilds/{GUILD}/members/{ADA}"), 503, 1000),
    )
    .await;
    let (_, body) = site.sign_in("/login?join=1").await;
    assert!(body.contains("Discord is not answering"), "{body}");
    eventually("the join is given up", || {
        membership(&site, ADA).is_some_and(|m| m.0.as_deref() == Some("failed"))
    })
    .await;
    let stored = membership(&site, ADA).unwrap();
    assert_eq!(stored.2, 3, "the first attempt and two retries: {stored:?}");
    assert!(
        stored.1.unwrap().contains("gave up after 2 retries"),
        "{:?}",
        membership(&site, ADA)
    );
    // Each attempt is one request and the bot client's own two quick retries.
    assert_eq!(join_requests(&site.fake), 9);
    // A build (which retries what is due) does not start again what was given up.
    site.build().await;
    assert_eq!(join_requests(&site.fake), 9);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_join_is_picked_up_after_a_restart() {
    let site = community_site("[refresh]\nretry_backoff = \"1h\"\n", |fake| {
        fake.fail_next(&format!("/guilds/{GUILD}/members/{ADA}"), 503, 3)
    })
    .await;
    site.sign_in("/login?join=1").await;
    assert_eq!(
        membership(&site, ADA).unwrap().0.as_deref(),
        Some("pending")
    );
    assert!(site.fake.joins(GUILD).is_empty());
    // As if the hour had passed while serve was down: the next start's first batch retries.
    site.sql("UPDATE community_members SET join_next_at = 0");
    // Its first batch (a refresh of everyone at start) retries what is due.
    let restarted = site.reopened().await;
    let worker = restarted.spawn_background_builds();
    eventually("the pending join is retried", || {
        membership(&site, ADA).is_some_and(|m| m.0.as_deref() == Some("joined"))
    })
    .await;
    assert_eq!(site.fake.joins(GUILD).len(), 1);
    worker.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_join_slower_than_the_patience_goes_on_after_the_answer() {
    let member = format!("/guilds/{GUILD}/members/{ADA}");
    let site = Site::with_community_service(
        community_config(""),
        |fake| {
            fake.add_guild(GUILD, "Synth Club");
            fake.add_user(ada());
            fake.login_as(ADA);
            // Two 503s: the bot client's backoff (0.5 s, then 1 s) outlasts the patience.
            fake.fail_next(&member, 503, 2);
        },
        |service| service.with_join_patience(std::time::Duration::from_millis(50)),
    )
    .await;
    let (status, body) = site.sign_in("/login?join=1").await;
    assert_eq!(status.as_u16(), 200, "{body}");
    assert!(body.contains("Joining Synth Club is on its way"), "{body}");
    // `sign_in` waited for the consent's background work: the join has finished by now.
    assert_eq!(membership(&site, ADA).unwrap().0.as_deref(), Some("joined"));
    assert_eq!(site.fake.joins(GUILD).len(), 1);
    assert_eq!(site.fake.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_dms_are_remembered_and_not_tried_again() {
    let site = community_site("", |fake| fake.close_dms(ADA)).await;
    let (_, body) = site.sign_in("/login?join=1").await;
    assert!(body.contains("You joined Synth Club."), "{body}");
    assert!(site.fake.messages().is_empty());
    assert_eq!(membership(&site, ADA).unwrap().3.as_deref(), Some("closed"));
    let posts = site.fake.count("/users/@me/channels");
    assert_eq!(posts, 1);
    site.sign_in("/login?join=1").await;
    assert_eq!(site.fake.count("/users/@me/channels"), posts, "not retried");
    let listed = strife(&site.root, &["users", "list"]).output().unwrap();
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(table.contains("closed DMs"), "{table}");
}

/// The user's welcome retries: failed attempts in a row and when the next one is.
fn welcome_retry(site: &Site, id: &str) -> Option<(u32, Option<i64>)> {
    let conn = rusqlite::Connection::open(&site.config.store.path).unwrap();
    conn.query_row(
        "SELECT welcome_attempts, welcome_next_at FROM community_members WHERE user_id = ?1",
        [id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_welcome_that_failed_for_a_passing_reason_is_sent_later_once() {
    // An attempt is one request and the bot client's two quick retries: the first one fails.
    let site = community_site("[refresh]\nretry_backoff = \"1s\"\n", |fake| {
        fake.fail_next("/users/@me/channels", 503, 3)
    })
    .await;
    let (_, body) = site.sign_in("/login?join=1").await;
    assert!(body.contains("You joined Synth Club."), "{body}");
    assert!(site.fake.messages().is_empty(), "the first attempt failed");
    assert!(
        welcome_retry(&site, ADA).is_some_and(|(attempts, next)| attempts == 1 && next.is_some()),
        "{:?}",
        welcome_retry(&site, ADA)
    );
    eventually("the welcome is sent by a retry", || {
        membership(&site, ADA).is_some_and(|m| m.3.as_deref() == Some("sent"))
    })
    .await;
    assert_eq!(site.fake.messages().len(), 1);
    assert_eq!(welcome_retry(&site, ADA), Some((0, None)), "retries end");
    site.sign_in("/login?join=1").await;
    site.build().await;
    assert_eq!(site.fake.messages().len(), 1, "sent once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_welcome_that_keeps_failing_is_given_up_after_the_retries() {
    let site = community_site(
        "join_retries = 1\n[refresh]\nretry_backoff = \"1s\"\n",
        |fake| fake.fail_next("/users/@me/channels", 503, 1000),
    )
    .await;
    site.sign_in("/login?join=1").await;
    eventually("the welcome is given up", || {
        welcome_retry(&site, ADA) == Some((2, None))
    })
    .await;
    // The first attempt and one retry, three requests each.
    let posts = site.fake.count("/users/@me/channels");
    assert_eq!(posts, 6);
    let listed = strife(&site.root, &["users", "list"]).output().unwrap();
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(
        table.contains("failed: Discord is not answering"),
        "{table}"
    );
    // A build (which retries what is due) does not start it again; a new consent does.
    site.build().await;
    assert_eq!(site.fake.count("/users/@me/channels"), posts);
    site.sign_in("/login?join=1").await;
    assert_eq!(site.fake.count("/users/@me/channels"), posts + 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_token_is_in_no_log_file_or_page() {
    // Installed before anything is logged: it only sees what comes after.
    let log = crate::support::log::global();
    let site = community_site("", |fake| fake.ban(GUILD, ADA)).await;
    let (_, refused) = site.sign_in("/login?join=1").await;
    let other = community_site("", |fake| fake.revoke_invite_permission(GUILD)).await;
    let (_, pending) = other.sign_in("/login?join=1").await;
    let happy = community_site("", |_| {}).await;
    let (_, joined) = happy.sign_in("/login?join=1").await;
    for site in [&site, &other, &happy] {
        site.build().await;
    }
    let landing = happy.request("GET", "/").await;
    let landing = String::from_utf8_lossy(landing.body()).into_owned();
    let log = log.text();
    for (what, text) in [
        ("a page", &refused),
        ("a page", &pending),
        ("a page", &joined),
        ("the landing page", &landing),
        ("the log", &log),
    ] {
        assert!(!text.contains(BOT_TOKEN), "bot token in {what}");
    }
    assert!(
        log.contains("community: joining the server failed"),
        "{log}"
    );
    for site in [&site, &other, &happy] {
        for entry in walk(&site.root) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            let needle = BOT_TOKEN.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "bot token in {}",
                entry.display()
            );
        }
    }
}

/// A person on the landing page of the real `serve`, in headless Chromium: the box is unticked
/// at first and asks for nothing more; ticked, Discord is asked for `guilds.join` and the
/// success page says they joined. The server's icon is the site's own copy.
#[tokio::test(flavor = "multi_thread")]
async fn a_person_ticks_join_on_the_landing_page() {
    const HOST: &str = "profiles.test";
    let fake = FakeDiscord::start().await;
    fake.add_guild(GUILD, "Synth Club");
    fake.set_guild_icon(GUILD, "a1b2c3");
    fake.add_user(ada());
    fake.login_as(ADA);
    fake.authorize_interactively();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{site}\n{discord}\n{SERVE_ON_ANY_PORT}\n[community]\nguild_id = \"{GUILD}\"\njoin = \"offer\"\n",
        site = site_table(
            "Community test",
            "https://profiles.example.org/",
            &[("themes_dir", &themes_dir())],
        ),
        discord = discord_table(
            &fake,
            &format!("http://{HOST}/callback"),
            Some(&fake.cdn_base())
        ),
    );
    std::fs::write(dir.path().join("strife.toml"), text).unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!("STRIFE_DISCORD_BOT_TOKEN={BOT_TOKEN}\n"),
    )
    .unwrap();
    let service = Service::start(dir.path());
    let map = format!("--host-resolver-rules=MAP {HOST} {}", service.address);
    let Some(browser) = Browser::launch(&[map]).await else {
        return;
    };
    let tab = browser.new_tab().await;
    let landing = format!("http://{HOST}/");
    let scopes = "[...document.querySelectorAll('#scopes li')].map(li => li.innerText)";

    tab.goto(&landing).await;
    let label = tab.text("fieldset.join label").await;
    assert!(label.contains("Join Synth Club"), "{label}");
    let ticked: bool = tab
        .eval("document.querySelector('input[name=join]').checked")
        .await;
    assert!(!ticked, "unticked by default");
    tab.wait_for(
        "the server icon to load",
        "document.querySelector('img.server-icon').complete && document.querySelector('img.server-icon').naturalWidth > 0",
    )
    .await;
    let icon: String = tab
        .eval("document.querySelector('img.server-icon').src")
        .await;
    assert!(icon.starts_with("data:image/gif;base64,"), "{icon}");
    tab.screenshot(&screenshot_path("landing-join.png")).await;
    tab.assert_accessible("on the landing page with the join box")
        .await;
    tab.click("form button[type=submit]").await;
    tab.wait_for_url(&fake.authorize_url()).await;
    let asked: Vec<String> = tab.eval(scopes).await;
    assert_eq!(asked, ["identify"], "nothing ticked, nothing more asked");

    tab.goto(&landing).await;
    tab.click("input[name=join]").await;
    tab.click("form button[type=submit]").await;
    let authorize = tab.wait_for_url(&fake.authorize_url()).await;
    let asked: Vec<String> = tab.eval(scopes).await;
    assert_eq!(asked, ["identify", "guilds.join"], "{authorize}");
    tab.click("#authorize").await;
    tab.wait_for_url(&format!("http://{HOST}/callback")).await;
    assert_eq!(tab.text("h1").await, "You're in");
    let said = tab.text("main").await;
    assert!(said.contains("You joined Synth Club."), "{said}");
    tab.screenshot(&screenshot_path("joined.png")).await;
    tab.assert_accessible("on the joined page").await;
    assert_eq!(fake.joins(GUILD).len(), 1);
    tab.assert_no_problems("while joining");
    drop(tab);
    browser.close().await;
    let log = service.stop();
    assert!(!log.contains(BOT_TOKEN), "{log}");
}

/// Runs `command` to its end; one still running after a minute (a `serve` that started when it
/// should not have) is killed and fails the test instead of hanging it.
fn output_within_a_minute(mut command: std::process::Command) -> std::process::Output {
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!("still running after a minute:\n{}", stderr(&output));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_does_not_start_with_a_welcome_message_it_cannot_send() {
    let fake = FakeDiscord::start().await;
    fake.add_guild(GUILD, "Synth Club");
    let dir = tempfile::tempdir().unwrap();
    let themes = dir.path().join("themes");
    copy_dir(&themes_dir(), &themes);
    let welcome = themes.join("default/templates/welcome.txt");
    let text = format!(
        "{site}\n{discord}\n{SERVE_ON_ANY_PORT}\n[community]\nguild_id = \"{GUILD}\"\njoin = \"offer\"\nwelcome_message = \"welcome.txt\"\n",
        site = site_table(
            "Community test",
            "https://profiles.example.org/",
            &[("themes_dir", &themes)],
        ),
        discord = discord_table(&fake, "https://profiles.example.org/callback", None),
    );
    std::fs::write(dir.path().join("strife.toml"), text).unwrap();
    for (source, expected) in [
        ("Hi {{ profile.nickname }}", "welcome.txt"),
        (
            "{% for i in range(100) %}{{ profile.display_name }}{% endfor %}",
            "3200 characters",
        ),
    ] {
        std::fs::write(&welcome, source).unwrap();
        let mut serve = strife(dir.path(), &["serve"]);
        serve.env("STRIFE_DISCORD_BOT_TOKEN", BOT_TOKEN);
        let run = output_within_a_minute(serve);
        let log = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{log}");
        assert!(
            log.contains(&welcome.display().to_string()) && log.contains(expected),
            "{expected}: {log}"
        );
        assert!(!log.contains(BOT_TOKEN), "{log}");
    }
}
