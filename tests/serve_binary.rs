//! The real `strife-gen` binary, end to end: `serve` takes a consent through a browser-like round
//! trip against the fake Discord and renders the page; then `build` and `users list` run on the
//! same store, the way an operator would use them.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::fake_discord::{FakeDiscord, FakeUser, CLIENT_ID, CLIENT_SECRET};

const USER: &str = "81384788765712384";
const TOKEN_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const PUBLIC_HOST: &str = "https://profiles.example.org";

fn strife(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strife-gen"));
    command.args(args);
    with_env(command, root)
}

/// Runs in `root` with the secrets and log level every test's service uses.
fn with_env(mut command: Command, root: &Path) -> Command {
    command
        .current_dir(root)
        .env("STRIFE_DISCORD_CLIENT_SECRET", CLIENT_SECRET)
        .env("STRIFE_TOKEN_KEY", TOKEN_KEY)
        .env("STRIFE_LOG", "info");
    command
}

fn write_config(root: &Path, fake: &FakeDiscord) {
    let themes = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes");
    let text = format!(
        r#"[site]
title = "Binary test"
base_url = "{PUBLIC_HOST}/"
themes_dir = "{themes}"

[discord]
client_id = "{CLIENT_ID}"
redirect_uri = "{PUBLIC_HOST}/callback"
api_base = "{api}"
authorize_url = "{authorize}"

[server]
bind = "127.0.0.1:0"
"#,
        themes = themes.display(),
        api = fake.api_base(),
        authorize = fake.authorize_url(),
    );
    std::fs::write(root.join("strife.toml"), text).unwrap();
}

/// A running `strife-gen serve`, stopped with SIGTERM when dropped.
struct Service {
    child: Child,
    address: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Service {
    fn start(root: &Path) -> Service {
        Service::spawn(strife(root, &["serve"]))
    }

    /// `serve` with its open-file limit (`RLIMIT_NOFILE`) lowered to `limit`, through the shell's
    /// `ulimit`, the way an operator's service manager sets it.
    fn start_with_file_limit(root: &Path, limit: u32) -> Service {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" serve"))
            .arg(env!("CARGO_BIN_EXE_strife-gen"));
        Service::spawn(with_env(shell, root))
    }

    fn spawn(mut command: Command) -> Service {
        let mut child = command
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let stderr = child.stderr.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let kept = log.clone();
        // Keep draining the log so the service never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                kept.lock().unwrap().push_str(&line);
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = sender.send(rest.trim().to_owned());
                }
            }
        });
        let address = receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("serve logs the address it listens on");
        Service {
            child,
            address,
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

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
    let service_log = service.log.clone();
    drop(service);

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
        service_log.lock().unwrap().clone(),
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
    let pid = service.child.id();
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
    let log = service.log.lock().unwrap().clone();
    assert!(
        log.contains("connections at once"),
        "the limits are logged: {log}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
