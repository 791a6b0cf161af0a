//! The real `strife-gen` binary, end to end: `serve` takes a consent through a browser-like round
//! trip against the fake Discord and renders the page; then `build` and `users list` run on the
//! same store, the way an operator would use them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::fixtures::{discord_table, site_table, themes_dir, walk, SERVE_ON_ANY_PORT};
use crate::support::service::{strife, Service};
use fake_discord::{FakeDiscord, FakeUser};
use serde_json::json;

const USER: &str = "81384788765712384";
const PUBLIC_HOST: &str = "https://profiles.example.org";

fn write_config(root: &Path, fake: &FakeDiscord) {
    let text = format!(
        "{site}\n{discord}\n{SERVE_ON_ANY_PORT}",
        site = site_table(
            "Binary test",
            &format!("{PUBLIC_HOST}/"),
            &[("themes_dir", &themes_dir())],
        ),
        discord = discord_table(
            fake,
            &format!("{PUBLIC_HOST}/callback"),
            Some(&fake.cdn_base()),
        ),
    );
    std::fs::write(root.join("strife.toml"), text).unwrap();
}

/// Polls (at most 10 s) until `path` exists.
fn wait_for(path: &Path) -> bool {
    for _ in 0..200 {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_takes_a_consent_and_build_keeps_the_page_fresh() {
    let fake = FakeDiscord::start().await;
    let mut user = FakeUser::new(USER, "ada");
    user.user["global_name"] = json!("Ada Lovelace");
    fake.add_user(user);
    fake.login_as(USER);
    let dir = tempfile::tempdir().unwrap();
    let root: PathBuf = dir.path().to_owned();
    write_config(&root, &fake);

    let service = Service::start(&root);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let landing = browser.get(service.url("/")).send().await.unwrap();
    assert_eq!(landing.status(), 200);
    let login = browser.get(service.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let authorize = login.headers()["location"].to_str().unwrap().to_owned();
    let back = browser.get(&authorize).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    // The public host is a reverse proxy in front of the service: send the path to the service.
    let path = callback
        .strip_prefix(PUBLIC_HOST)
        .expect("redirected to the registered URI");
    let done = browser
        .get(service.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done
        .text()
        .await
        .unwrap()
        .contains(&format!("{PUBLIC_HOST}/u/{USER}/")));

    let page = root.join("output/u").join(USER).join("index.html");
    assert!(wait_for(&page), "the service rendered the new page");
    let service_log = service.stop();

    // An operator's `build` on the same store refreshes from Discord.
    fake.update_user(USER, json!({"global_name": "Countess Lovelace"}));
    let build = strife(&root, &["build"]).output().unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    assert!(std::fs::read_to_string(&page)
        .unwrap()
        .contains("Countess Lovelace"));

    let output = strife(&root, &["users", "list"]).output().unwrap();
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(
        listing.contains(USER) && listing.contains("active"),
        "{listing}"
    );

    // No token ever reaches the published site or the logs.
    let token = fake.refresh_token_of(USER).unwrap();
    for entry in walk(&root.join("output")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(!text.contains(&token), "token in {}", entry.display());
    }
    let logs = [
        service_log,
        String::from_utf8_lossy(&build.stderr).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ];
    assert!(
        logs[0].contains("consent stored"),
        "the service log was captured"
    );
    for log in logs {
        assert!(!log.contains(&token), "a refresh token was logged");
    }
}

/// A thousand idle sockets against a service whose open-file limit is far below that: it keeps
/// answering probes (idle clients are closed after `server.header_timeout`, and the connections it
/// holds at once stay below its file limit, leaving room for its store and builds).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn idle_sockets_cannot_make_the_service_stop_answering() {
    const FILE_LIMIT: u32 = 256;
    const IDLE: usize = 1000;
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let root: PathBuf = dir.path().to_owned();
    write_config(&root, &fake);
    let config = std::fs::read_to_string(root.join("strife.toml")).unwrap();
    std::fs::write(
        root.join("strife.toml"),
        format!("{config}header_timeout = \"1s\"\n"),
    )
    .unwrap();
    let service = Service::start_with_file_limit(&root, FILE_LIMIT);
    let pid = service.pid();
    let open_files = || std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());

    let mut idle = Vec::new();
    for _ in 0..IDLE {
        let connect = tokio::net::TcpStream::connect(&service.address);
        match tokio::time::timeout(Duration::from_secs(5), connect).await {
            Ok(Ok(socket)) => idle.push(socket),
            // The listen backlog is full: as many as that are waiting already.
            _ => break,
        }
    }
    assert!(
        idle.len() > FILE_LIMIT as usize,
        "only {} idle sockets",
        idle.len()
    );

    let probe = tokio::spawn({
        let url = service.url("/healthz");
        async move { reqwest::get(url).await?.text().await }
    });
    let mut most_open = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !probe.is_finished() {
        most_open = most_open.max(open_files());
        assert!(
            tokio::time::Instant::now() < deadline,
            "/healthz did not answer; the service has {} files open",
            open_files()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(probe.await.unwrap().unwrap(), "ok");
    assert!(
        most_open + 16 < FILE_LIMIT as usize,
        "the service had {most_open} of its {FILE_LIMIT} files open"
    );
    drop(idle);
    let log = service.log();
    assert!(
        log.contains("connections at once"),
        "the limits are logged: {log}"
    );
}
