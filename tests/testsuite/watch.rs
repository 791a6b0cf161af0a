//! `strife-gen watch` on a temporary site: edits show up on the preview, errors are shown there
//! and recover, bursts are debounced, editor temp files are ignored, and open pages are told to
//! reload. Every wait is a bounded poll; nothing asserts on timings.

use crate::support::fixtures::{binary, copy_dir, repo, sample_users_dir, site_table};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use strife_gen::watch::{self, WatchOptions, WatchStats};
use tokio::sync::oneshot;

/// How long any expected change may take to show before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// A site in a temporary folder with its own copy of the themes (so templates can be edited) and
/// the repository's example users (so pages exist without Discord).
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("themes"), &dir.path().join("themes"));
        copy_dir(&repo().join("content"), &dir.path().join("content"));
        let site = Site { dir };
        site.write_config("Watched people");
        site
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn config_path(&self) -> PathBuf {
        self.root().join("strife.toml")
    }

    fn write_config(&self, title: &str) {
        self.write_config_with(title, "https://example.org/people/", "");
    }

    /// The config with another `base_url` and `extra` TOML after the `[site]` table.
    fn write_config_with(&self, title: &str, base_url: &str, extra: &str) {
        let site = site_table(
            title,
            base_url,
            &[("sample_users_dir", &sample_users_dir())],
        );
        let config = format!("{site}{extra}");
        std::fs::write(self.config_path(), config).unwrap();
    }

    fn templates(&self) -> PathBuf {
        self.root().join("themes/default/templates")
    }

    fn template(&self, name: &str) -> String {
        std::fs::read_to_string(self.templates().join(name)).unwrap()
    }

    fn write_template(&self, name: &str, source: &str) {
        std::fs::write(self.templates().join(name), source).unwrap();
    }

    /// `base.html` with `marker` in its footer.
    fn base_with(&self, original: &str, marker: &str) -> String {
        let edited = original.replace(
            "<footer class=\"site-footer\">",
            &format!("<footer class=\"site-footer\"><p>{marker}</p>"),
        );
        assert_ne!(edited, original, "the default theme's footer moved");
        edited
    }
}

/// A watch running in this process on a free port.
struct Running {
    url: String,
    stats: Arc<WatchStats>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

impl Running {
    async fn start(site: &Site) -> Running {
        let options = WatchOptions {
            port: 0,
            open_browser: false,
        };
        let session = watch::start(&site.config_path(), options)
            .await
            .expect("watch starts");
        let url = session.url();
        let stats = session.stats();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(session.run(async {
            let _ = stopped.await;
        }));
        Running {
            url,
            stats,
            stop,
            task,
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Polls `path` until `ready` accepts the response; fails with the last response after
    /// [`PATIENCE`].
    async fn wait_for(&self, path: &str, what: &str, ready: impl Fn(u16, &str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (status, body) = self.get(path).await;
            if ready(status, &body) {
                return body;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("{what}: not within {PATIENCE:?}; last response {status}: {body}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("watch stops when asked")
            .unwrap();
    }
}

/// Calls `check` until it returns `Some`, for at most [`PATIENCE`].
async fn eventually<T, F: Future<Output = Option<T>>>(mut check: impl FnMut() -> F) -> Option<T> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn serves_the_site_with_the_reload_script_and_shows_template_edits() {
    let site = Site::new();
    let running = Running::start(&site).await;
    assert_eq!(running.stats.builds(), 1, "built once at start");

    let (status, index) = running.get("").await;
    assert_eq!(status, 200, "{index}");
    assert!(
        index.contains("Watched people") && index.contains("Nelly"),
        "{index}"
    );
    assert!(index.contains("/__strife/reload.js"), "{index}");
    let written = std::fs::read_to_string(site.root().join("output/index.html")).unwrap();
    assert!(
        !written.contains("__strife"),
        "the output folder stays as build writes it"
    );

    let (status, page) = running.get("u/80351110224678912/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("nelly-dev"), "{page}");
    // Theme files are published under content-hashed names.
    let stylesheet = std::fs::read_dir(site.root().join("output/static"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with("style.") && name.ends_with(".css"))
        .expect("a hashed stylesheet");
    let (status, css) = running.get(&format!("static/{stylesheet}")).await;
    assert_eq!(status, 200);
    assert!(!css.contains("__strife"), "only HTML gets the script");
    let (status, _) = running.get("no/such/page").await;
    assert_eq!(status, 404);

    let original = site.template("base.html");
    site.write_template("base.html", &site.base_with(&original, "first-edit-marker"));
    running
        .wait_for("", "the edit shows on the preview", |status, body| {
            status == 200 && body.contains("first-edit-marker")
        })
        .await;
    running.stop().await;
}

#[tokio::test]
async fn a_template_error_is_shown_on_the_preview_and_a_fix_recovers() {
    let site = Site::new();
    let running = Running::start(&site).await;
    let original = site.template("base.html");

    site.write_template("base.html", &format!("{original}\n{{% if %}}\n"));
    let page = running
        .wait_for("", "the preview shows the error", |status, _| status == 500)
        .await;
    assert!(page.contains("The site did not build"), "{page}");
    assert!(page.contains("base.html"), "names the template: {page}");
    assert!(
        page.contains("/__strife/reload.js"),
        "still reloads: {page}"
    );
    assert!(running.stats.failed_builds() >= 1);
    let kept = std::fs::read_to_string(site.root().join("output/index.html")).unwrap();
    assert!(kept.contains("Nelly"), "the last good site is kept on disk");

    site.write_template("base.html", &site.base_with(&original, "fixed-marker"));
    running
        .wait_for("", "fixing the template recovers", |status, body| {
            status == 200 && body.contains("fixed-marker")
        })
        .await;
    running.stop().await;
}

#[tokio::test]
async fn config_changes_reload_and_a_bad_config_is_shown_until_fixed() {
    let site = Site::new();
    let running = Running::start(&site).await;

    site.write_config("Renamed people");
    running
        .wait_for("", "the new title shows", |status, body| {
            status == 200 && body.contains("Renamed people")
        })
        .await;

    std::fs::write(
        site.config_path(),
        "[site]\ntitle = \"x\"\nbase_url = \"https://example.org/people/\"\ncolour = \"red\"\n",
    )
    .unwrap();
    let page = running
        .wait_for("", "the config error shows", |status, _| status == 500)
        .await;
    assert!(
        page.contains("strife.toml") && page.contains("colour"),
        "{page}"
    );

    site.write_config("Fixed people");
    running
        .wait_for("", "fixing the config recovers", |status, body| {
            status == 200 && body.contains("Fixed people")
        })
        .await;
    running.stop().await;
}

#[tokio::test]
async fn a_burst_of_saves_rebuilds_fewer_times_than_it_saves() {
    const SAVES: u64 = 20;
    let site = Site::new();
    let running = Running::start(&site).await;
    let before = running.stats.builds();
    let original = site.template("base.html");
    for n in 1..=SAVES {
        site.write_template(
            "base.html",
            &site.base_with(&original, &format!("burst-{n}-end")),
        );
        // Paced like a fast typist's saves: apart enough for a watcher without debouncing to
        // see each one, close enough for the debouncer to merge them.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running
        .wait_for("", "the last save shows", |status, body| {
            status == 200 && body.contains(&format!("burst-{SAVES}-end"))
        })
        .await;
    // One more change, in another file: builds run one after another, so once it shows, every
    // build the burst caused has finished and been counted.
    let index = site.template("index.html");
    site.write_template("index.html", &index.replace("<h1>", "<h1>sentinel "));
    running
        .wait_for("", "the sentinel change shows", |status, body| {
            status == 200 && body.contains("sentinel ")
        })
        .await;
    let rebuilds = running.stats.builds() - before;
    assert!(
        rebuilds < SAVES,
        "{SAVES} saves and a sentinel caused {rebuilds} rebuilds"
    );
    running.stop().await;
}

#[tokio::test]
async fn editor_temp_files_do_not_trigger_rebuilds() {
    let site = Site::new();
    let running = Running::start(&site).await;
    let builds = running.stats.builds();
    let temp_files = [".base.html.swp", "base.html~", ".#base.html", "4913"];
    for name in temp_files {
        std::fs::write(site.templates().join(name), "not a template {% if %}").unwrap();
    }
    let seen = eventually(|| async {
        (running.stats.ignored_temp_files() >= temp_files.len() as u64).then_some(())
    })
    .await;
    assert!(seen.is_some(), "the watcher saw the temp files");
    assert_eq!(running.stats.builds(), builds, "no rebuild for temp files");
    for name in temp_files {
        std::fs::remove_file(site.templates().join(name)).unwrap();
    }
    running.stop().await;
}

#[tokio::test]
async fn open_pages_get_a_reload_event_after_each_rebuild() {
    let site = Site::new();
    let running = Running::start(&site).await;
    let events = running
        .http
        .get(format!(
            "{}__strife/events",
            running.url.replace("/people/", "/")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status().as_u16(), 200);
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut stream = EventStream {
        response: events,
        received: String::new(),
    };
    stream.read_until("event:ready").await;
    assert!(
        !stream.received.contains("event:reload"),
        "{}",
        stream.received
    );

    let original = site.template("base.html");
    site.write_template("base.html", &site.base_with(&original, "sse-marker"));
    stream.read_until("event:reload").await;

    // Stopping closes the open event stream, so shutdown does not hang on it.
    running.stop().await;
}

/// An open `text/event-stream` response and what it sent so far.
struct EventStream {
    response: reqwest::Response,
    received: String,
}

impl EventStream {
    async fn read_until(&mut self, needle: &str) {
        let read = async {
            while !self.received.contains(needle) {
                let chunk = self.response.chunk().await.unwrap();
                let chunk = chunk.expect("the stream stays open");
                self.received.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        if tokio::time::timeout(PATIENCE, read).await.is_err() {
            panic!("no {needle:?} in {:?}", self.received);
        }
    }
}

/// The real binary: `watch --port 0 --no-open` says where it serves, serves, and stops cleanly
/// on Ctrl-C (SIGINT).
#[cfg(unix)]
#[tokio::test]
async fn the_binary_serves_and_stops_on_ctrl_c() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let site = Site::new();
    let mut child =
        tokio::process::Command::from(binary(site.root(), &["watch", "--port", "0", "--no-open"]))
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let find_url = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(at) = line.find("http://127.0.0.1:") {
                let url = line[at..].split_whitespace().next().unwrap().to_owned();
                return url;
            }
        }
        panic!("watch ended without saying where it serves");
    };
    let url = tokio::time::timeout(PATIENCE, find_url)
        .await
        .expect("watch logs its URL");
    assert!(url.ends_with("/people/"), "{url}");
    let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(body.contains("Watched people"), "{body}");

    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("watch stops on Ctrl-C")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn a_port_in_use_and_a_bad_config_are_errors_before_anything_runs() {
    let site = Site::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let options = WatchOptions {
        port: taken.local_addr().unwrap().port(),
        open_browser: false,
    };
    let error = watch::start(&site.config_path(), options.clone())
        .await
        .err()
        .expect("the port is taken");
    assert!(matches!(error, watch::WatchError::Listen { .. }), "{error}");
    assert!(error.to_string().contains("--port"), "{error}");

    std::fs::write(site.config_path(), "[site]\ntitle = \"x\"\n").unwrap();
    let error = watch::start(&site.config_path(), WatchOptions { port: 0, ..options })
        .await
        .err()
        .expect("the config is incomplete");
    assert!(matches!(error, watch::WatchError::Config(_)), "{error}");
    assert!(error.to_string().contains("base_url"), "{error}");
    assert!(!site.root().join("output").exists(), "nothing was built");
}

// --- Hostile clients ---------------------------------------------------------------------------

/// A client that never redirects, to see the preview's own answers.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_preview_never_redirects_to_another_host() {
    let site = Site::new();
    site.write_config_with("Watched people", "https://example.org/", "");
    let running = Running::start(&site).await;
    // A folder of that name, as a user called "evil.example" would have.
    let folder = site.root().join("output/evil.example");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("index.html"), "<body>hi</body>").unwrap();
    let base = running.url.trim_end_matches('/').to_owned();
    let http = no_redirects();
    for path in [
        "//evil.example",
        "///evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "/%2F%5Cevil.example",
    ] {
        let response = http.get(format!("{base}{path}")).send().await.unwrap();
        if let Some(location) = response.headers().get("location") {
            let location = location.to_str().unwrap();
            let target = reqwest::Url::parse(&running.url)
                .unwrap()
                .join(location)
                .unwrap();
            assert_eq!(
                target.host_str(),
                Some("127.0.0.1"),
                "{path} redirects to {location}"
            );
            assert_eq!(location, "/evil.example/", "{path}");
        }
    }
    // A backslash, which the URL parser would turn into a slash, sent as it is.
    let address = running
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let answer = raw_exchange(
        address,
        "GET /\\evil.example HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        !answer.to_ascii_lowercase().contains("location: //")
            && !answer.contains("evil.example/\r\n"),
        "{answer}"
    );
    running.stop().await;
}

/// Sends `request` as it is and reads the whole answer (the request should close the connection).
async fn raw_exchange(address: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, socket.read_to_end(&mut answer))
        .await
        .expect("the preview answers")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn head_on_the_preview_answers_like_get_without_a_body() {
    let site = Site::new();
    let running = Running::start(&site).await;
    let stylesheet = std::fs::read_dir(site.root().join("output/static"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with("style.") && name.ends_with(".css"))
        .expect("a hashed stylesheet");
    let events = running.url.replace("/people/", "/__strife/events");
    for url in [
        running.url.clone(),
        format!("{}u/80351110224678912/", running.url),
        format!("{}static/{stylesheet}", running.url),
        format!("{}no/such/page", running.url),
        running.url.replace("/people/", "/__strife/reload.js"),
        running.url.trim_end_matches('/').to_owned(),
    ] {
        let get = no_redirects().get(&url).send().await.unwrap();
        let head = no_redirects().head(&url).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "HEAD {url}");
        for name in ["content-type", "content-length", "location"] {
            assert_eq!(
                head.headers().get(name),
                get.headers().get(name),
                "HEAD {url}: {name}"
            );
        }
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {url}");
    }
    // The event stream's headers, and no stream to keep open.
    let head = no_redirects().head(&events).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "text/event-stream");
    let body = tokio::time::timeout(PATIENCE, head.bytes()).await;
    assert!(body.expect("HEAD ends at once").unwrap().is_empty());
    running.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed_but_open_event_streams_stay() {
    let site = Site::new();
    site.write_config_with(
        "Watched people",
        "https://example.org/people/",
        "[server]\nheader_timeout = \"300ms\"\n",
    );
    let running = Running::start(&site).await;
    let address = running
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/people/")
        .to_owned();

    // Connected and silent; then half a request.
    let mut silent = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut partial = tokio::net::TcpStream::connect(&address).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut partial, b"GET /people/ HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    for socket in [&mut silent, &mut partial] {
        let mut buffer = Vec::new();
        let read = tokio::io::AsyncReadExt::read_to_end(socket, &mut buffer);
        let closed = tokio::time::timeout(PATIENCE, read).await;
        assert!(closed.is_ok(), "an idle connection was not closed");
    }

    // An event stream finished its headers long ago: it is not idle, however quiet.
    let events = running
        .http
        .get(format!("http://{address}/__strife/events"))
        .send()
        .await
        .unwrap();
    let mut stream = EventStream {
        response: events,
        received: String::new(),
    };
    stream.read_until("event:ready").await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    let original = site.template("base.html");
    site.write_template("base.html", &site.base_with(&original, "still-open-marker"));
    stream.read_until("event:reload").await;
    running.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_content_file_linked_outside_is_shown_as_an_error_until_the_link_is_gone() {
    let site = Site::new();
    let secret = site.root().join("strife.db.key");
    std::fs::write(&secret, "watched-s3cr3t").unwrap();
    let running = Running::start(&site).await;

    let user = site.root().join("content/users/80351110224678912.md");
    let original = std::fs::read(&user).unwrap();
    std::fs::remove_file(&user).unwrap();
    std::os::unix::fs::symlink(&secret, &user).unwrap();
    let page = running
        .wait_for("", "the preview shows the error", |status, _| status == 500)
        .await;
    let target = std::fs::canonicalize(&secret).unwrap();
    // The error page escapes `/` too.
    let page = page.replace("&#x2f;", "/");
    assert!(
        page.contains("80351110224678912.md") && page.contains(&target.display().to_string()),
        "names the link and its target: {page}"
    );
    assert!(!page.contains("watched-s3cr3t"), "{page}");
    let published =
        std::fs::read_to_string(site.root().join("output/u/80351110224678912/index.html")).unwrap();
    assert!(
        !published.contains("watched-s3cr3t"),
        "the last good site is kept"
    );

    std::fs::remove_file(&user).unwrap();
    std::fs::write(&user, original).unwrap();
    running
        .wait_for("", "removing the link recovers", |status, body| {
            status == 200 && body.contains("Nelly")
        })
        .await;
    running.stop().await;
}
