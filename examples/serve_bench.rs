//! The service under load: `cargo run --release --example serve_bench -- [--users N] [--consents C]`.
//!
//! A site of N stored users (default 10,000) is built once, then `strife-gen serve` (a child
//! process, its builds on background threads) runs against a fake Discord on loopback. The
//! benchmark measures, and prints (never asserts):
//!
//! - one consent on an idle service: the `/callback` and the time until the new page is on disk;
//! - C consents (default 300) whose callbacks arrive at once: `/callback` latencies, and the
//!   time from each answer until that user's page is on disk;
//! - `/healthz` latencies, probed every few milliseconds throughout;
//! - then `strife-gen build` refreshing those users against the fake's global limit of 50
//!   requests a second: the rate reached and the 429s collected.
//!
//! The authorize step (the browser at Discord) is done before the burst, one user at a time,
//! as the fake Discord signs in one user at a time; the burst is the part the service pays for.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_discord::{FakeDiscord, FakeUser, CLIENT_ID, CLIENT_SECRET};
use strife_gen::bench_support::{
    run_command, settle_images, store_synthetic_users, synthetic_user_id,
};
use strife_gen::config::Config;
use strife_gen::service::Service;

/// The token key of the benchmark's store (`STRIFE_TOKEN_KEY`), the same in the parent and the
/// service.
const TOKEN_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// The public address of the site (a reverse proxy would stand in front of the service).
const PUBLIC: &str = "https://bench.example";

struct Options {
    users: u64,
    consents: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__serve") {
        return child_serve(Path::new(&args[2]));
    }
    let options = parse(&args[1..]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench(options));
}

fn parse(args: &[String]) -> Options {
    let mut options = Options {
        users: 10_000,
        consents: 300,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (flag.as_str(), value) {
            ("--users", Some(n)) => options.users = n,
            ("--consents", Some(n)) => options.consents = n,
            _ => {
                eprintln!("usage: serve_bench [--users N] [--consents C]");
                std::process::exit(2);
            }
        }
    }
    options
}

async fn bench(options: Options) {
    let dir = tempfile::tempdir_in(shm_or_temp()).expect("a temporary folder");
    let fake = FakeDiscord::start().await;
    let port = free_port();
    let config = write_config(dir.path(), &fake, port);
    store_users(&config, options.users);
    prebuild(&config);
    let service = Stopped(start_service(&config, port));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1000)
        .build()
        .expect("client");
    wait_until_idle(&client, &base).await;
    let output = dir.path().join("output");
    println!(
        "{} stored users, {} consents at once, {} cores",
        options.users,
        options.consents,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // One consent on an idle service.
    let ready = authorize(&fake, &client, &base, options.users).await;
    let (callback, live) = consent(&client, &base, &output, ready).await;
    println!(
        "idle: /callback {:.1} ms, page live {:.0} ms after the answer",
        ms(callback),
        ms(live)
    );

    // The burst, with /healthz probed throughout.
    let mut pending = Vec::new();
    for n in 0..options.consents {
        pending.push(authorize(&fake, &client, &base, options.users + 1 + n).await);
    }
    if std::env::var_os("SERVE_BENCH_MARK").is_some() {
        // For a profiler started by hand: the burst begins now.
        use std::io::Write;
        println!("burst starts");
        std::io::stdout().flush().ok();
    }
    let probing = Arc::new(AtomicBool::new(true));
    // The probe has a thread and runtime of its own: on the bench's runtime it would wait behind
    // the 300 clients and the fake Discord, and measure them rather than the service.
    let probe = {
        let (base, probing) = (base.clone(), probing.clone());
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the probe's runtime")
                .block_on(probe_healthz(base, probing))
        })
    };
    // One watcher for all the pages: a poll per waiting consent would itself load the machine.
    let (answered_tx, answered_rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = tokio::spawn(watch_pages(answered_rx, output.clone()));
    let burst: Vec<_> = pending
        .into_iter()
        .map(|ready| {
            let (client, base, answered) = (client.clone(), base.clone(), answered_tx.clone());
            tokio::spawn(async move {
                let id = ready.id.clone();
                let took = self::callback(&client, &base, ready).await;
                answered.send((id, Instant::now())).expect("the watcher");
                took
            })
        })
        .collect();
    drop(answered_tx);
    let mut callbacks = Vec::new();
    for task in burst {
        callbacks.push(task.await.expect("a consent"));
    }
    let lives = watcher.await.expect("the page watcher");
    probing.store(false, Ordering::Relaxed);
    let healthz = probe.join().expect("the probe");
    println!("| what | n | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    row("/callback during the burst", callbacks);
    row("answer → page live", lives);
    row("/healthz during the burst", healthz);
    drop(service);
    refresh(&fake, &config).await;
}

/// `strife-gen build` refreshing the users who consented above (the stored ones are not due),
/// with the fake Discord enforcing the global limit of 50 requests a second: the rate reached
/// and the global 429s collected.
async fn refresh(fake: &FakeDiscord, config: &Path) {
    const LIMIT: u32 = 50;
    fake.set_global_limit(LIMIT);
    let before = fake.requests().len();
    let mut build = Command::new(std::env::current_exe().expect("self"))
        .args(["__serve".as_ref(), config.as_os_str()])
        .env("STRIFE_BENCH_REFRESH", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("build");
    // The fake runs in this process: watch its log for the first and last request to the API.
    let (mut first, mut last) = (None, None);
    let mut seen = 0;
    while build.try_wait().expect("the build").is_none() {
        let api = api_requests(fake, before);
        if api > seen {
            seen = api;
            first.get_or_insert_with(Instant::now);
            last = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sent: Vec<_> = fake.requests().into_iter().skip(before).collect();
    let api = sent.iter().filter(|r| r.path.contains("/users/")).count();
    let limited = sent.iter().filter(|r| r.status == 429).count();
    let seconds = match (first, last) {
        (Some(first), Some(last)) => (last - first).as_secs_f64(),
        _ => 0.0,
    };
    // n requests span n - 1 intervals.
    let rate = if seconds > 0.0 {
        (api.saturating_sub(1)) as f64 / seconds
    } else {
        0.0
    };
    println!(
        "refresh: {api} API requests in {seconds:.1} s: {rate:.1} req/s ({:.0}% of {LIMIT}), {limited} answered 429",
        rate * 100.0 / f64::from(LIMIT)
    );
}

/// Requests to the REST API (`/users/…`) the fake answered since the first `before`.
fn api_requests(fake: &FakeDiscord, before: usize) -> usize {
    fake.requests()
        .iter()
        .skip(before)
        .filter(|r| r.path.contains("/users/"))
        .count()
}

/// A sign-in up to Discord's redirect back: the callback path and the cookie that goes with it.
struct Ready {
    id: String,
    callback: String,
    cookie: String,
}

/// Adds user `n` to the fake Discord and takes them through `/login` and the authorize page.
async fn authorize(fake: &FakeDiscord, client: &reqwest::Client, base: &str, n: u64) -> Ready {
    let id = synthetic_user_id(n).to_string();
    fake.add_user(FakeUser::new(&id, &format!("new{n}")));
    fake.login_as(&id);
    let login = client
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("/login");
    let cookie = header(&login, "set-cookie")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let at_discord = client
        .get(header(&login, "location"))
        .send()
        .await
        .expect("authorize");
    let back = header(&at_discord, "location");
    let callback = back
        .strip_prefix(PUBLIC)
        .expect("redirected to the registered URI")
        .to_owned();
    Ready {
        id,
        callback,
        cookie,
    }
}

/// The callback of `ready`: how long it took, and how long after its answer the page appeared.
async fn consent(
    client: &reqwest::Client,
    base: &str,
    output: &Path,
    ready: Ready,
) -> (Duration, Duration) {
    let page = page_of(output, &ready.id);
    let took = callback(client, base, ready).await;
    let answered = Instant::now();
    while !page.exists() {
        assert!(
            answered.elapsed() < Duration::from_secs(120),
            "the page appears"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    (took, answered.elapsed())
}

/// Sends the callback of `ready`: how long the answer took.
async fn callback(client: &reqwest::Client, base: &str, ready: Ready) -> Duration {
    let started = Instant::now();
    let answer = client
        .get(format!("{base}{}", ready.callback))
        .header("cookie", &ready.cookie)
        .send()
        .await
        .expect("/callback");
    assert_eq!(answer.status(), 200, "the consent was taken");
    started.elapsed()
}

/// Waits for the page of every answered consent (user id, when answered) until the sender
/// closes: how long after its answer each page appeared. Polls every 2 ms.
async fn watch_pages(
    mut answered: tokio::sync::mpsc::UnboundedReceiver<(String, Instant)>,
    output: PathBuf,
) -> Vec<Duration> {
    let mut waiting: Vec<(PathBuf, Instant)> = Vec::new();
    let mut lives = Vec::new();
    let mut open = true;
    while open || !waiting.is_empty() {
        loop {
            match answered.try_recv() {
                Ok((id, at)) => waiting.push((page_of(&output, &id), at)),
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        waiting.retain(|(page, at)| {
            assert!(at.elapsed() < Duration::from_secs(120), "the page appears");
            let live = page.exists();
            if live {
                lives.push(at.elapsed());
            }
            !live
        });
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    lives
}

fn page_of(output: &Path, id: &str) -> PathBuf {
    output.join("u").join(id).join("index.html")
}

/// `/healthz` every 5 ms until `probing` is cleared: each answer's latency.
async fn probe_healthz(base: String, probing: Arc<AtomicBool>) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let mut latencies = Vec::new();
    while probing.load(Ordering::Relaxed) {
        let started = Instant::now();
        let answer = client.get(format!("{base}/healthz")).send().await;
        assert!(answer.is_ok_and(|a| a.status().is_success()), "/healthz");
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    latencies
}

fn row(what: &str, mut values: Vec<Duration>) {
    values.sort();
    let at = |q: f64| values[((values.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "| {what} | {} | {:.1} | {:.1} | {:.1} |",
        values.len(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0))
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_owned()
}

/// Waits until the service answers and its build at start is over (a no-op: the site was
/// built before).
async fn wait_until_idle(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    loop {
        if let Ok(answer) = client.get(format!("{base}/healthz")).send().await {
            if answer.status().is_success() {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the service starts"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The refresh and build at start find nobody due and nothing changed.
    tokio::time::sleep(Duration::from_secs(3)).await;
}

fn write_config(dir: &Path, fake: &FakeDiscord, port: u16) -> PathBuf {
    let themes = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes");
    let text = format!(
        "[site]\ntitle = \"Bench\"\nbase_url = \"{PUBLIC}/\"\nthemes_dir = \"{themes}\"\n\
         images = \"{images}\"\n\n\
         [discord]\nclient_id = \"{CLIENT_ID}\"\nredirect_uri = \"{PUBLIC}/callback\"\n\
         api_base = \"{api}\"\nauthorize_url = \"{authorize}\"\ncdn_base = \"{cdn}\"\n\n\
         [server]\nbind = \"127.0.0.1:{port}\"\n",
        themes = themes.display(),
        api = fake.api_base(),
        authorize = fake.authorize_url(),
        cdn = fake.cdn_base(),
        // SERVE_BENCH_IMAGES=link compares with pages that link Discord's CDN.
        images = std::env::var("SERVE_BENCH_IMAGES").unwrap_or_else(|_| "mirror".into()),
    );
    let path = dir.join("strife.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// Stores `users` users, none of them due for a refresh (as if refreshed a moment ago: the
/// service's refresh at start must not turn the benchmark into a refresh benchmark).
fn store_users(config_path: &Path, users: u64) {
    let config = Arc::new(Config::load(config_path).expect("config"));
    let service = Service::open_offline(config).expect("store");
    let started = Instant::now();
    // Their tokens are never opened (nobody is due), so the fresh key that seals them will do.
    store_synthetic_users(&service, users);
    settle_images(&service);
    let store = service.config().store.path.clone();
    let conn = rusqlite::Connection::open(store).expect("store");
    conn.execute("UPDATE users SET next_attempt_at = 4102444800", [])
        .expect("not due");
    eprintln!("stored {users} users in {:.1?}", started.elapsed());
}

/// The site built once before the service starts, so its build at start changes nothing.
fn prebuild(config: &Path) {
    let started = Instant::now();
    let status = Command::new(std::env::current_exe().expect("self"))
        .args(["__serve".as_ref(), config.as_os_str()])
        .env("STRIFE_BENCH_BUILD_ONLY", "1")
        .status()
        .expect("build");
    assert!(status.success(), "the first build");
    eprintln!("built the site in {:.1?}", started.elapsed());
}

/// The service's process, stopped when this is dropped: also when the benchmark panics, so no
/// service is left running to load the machine of the next run.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn start_service(config: &Path, port: u16) -> Child {
    // SERVE_BENCH_LOG=<file> keeps the service's log, for when a run goes wrong.
    let log = match std::env::var_os("SERVE_BENCH_LOG") {
        Some(path) => Stdio::from(std::fs::File::create(path).expect("the log file")),
        None => Stdio::null(),
    };
    let child = Command::new(std::env::current_exe().expect("self"))
        .args(["__serve".as_ref(), config.as_os_str()])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve");
    eprintln!("service on port {port} (pid {})", child.id());
    child
}

/// `strife-gen serve` (or, with `STRIFE_BENCH_BUILD_ONLY`, `build --offline`; with
/// `STRIFE_BENCH_REFRESH`, `build`) of `config`, in this child process, with the secrets in its
/// environment.
fn child_serve(config: &Path) {
    // SAFETY: set before the runtime or any other thread starts.
    unsafe {
        std::env::set_var("STRIFE_DISCORD_CLIENT_SECRET", CLIENT_SECRET);
        std::env::set_var("STRIFE_TOKEN_KEY", TOKEN_KEY);
    }
    if std::env::var_os("SERVE_BENCH_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .init();
    }
    let command: &[&str] = if std::env::var_os("STRIFE_BENCH_BUILD_ONLY").is_some() {
        &["build", "--offline"]
    } else if std::env::var_os("STRIFE_BENCH_REFRESH").is_some() {
        &["build"]
    } else {
        &["serve"]
    };
    run_command(config, command);
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

fn shm_or_temp() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}
