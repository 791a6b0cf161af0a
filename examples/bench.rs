//! `cargo run --release --example bench -- --users N`: strife-gen's whole build against Hugo's on
//! the same machine, with the same profiles.
//!
//! Generates N synthetic users (a few connections, forty servers each: the criterion benchmarks'
//! users, from `strife_gen::bench_support`) into a store, and the equivalent Hugo site (one
//! Markdown file per user with the same data in its front matter; templates with the same loops;
//! a JSON output per page; an alias per user, Hugo's redirect page, for strife-gen's vanity URL; a
//! paginated index and the sitemap). Then it runs both as child processes, on tmpfs (`/dev/shm`)
//! and on disk (the system's temporary folder):
//!
//! - cold: an empty output folder;
//! - warm: everything again over an existing site (strife-gen: a theme change; Hugo: a rebuild,
//!   which is always everything);
//! - one change: one user's data changed;
//! - no-op: nothing changed.
//!
//! and prints one table: seconds, profile pages per second, peak memory (the child's maximum
//! resident set) and the ratio of pages per second. Timings are printed, never asserted. Hugo is
//! found on `PATH` (or `--hugo PATH`); without it, its columns say so.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strife_gen::bench_support::{
    run_command, store_synthetic_users, synthetic_consent, synthetic_user_id,
};
use strife_gen::config::Config;
use strife_gen::crypto::TokenCipher;
use strife_gen::service::Service;

/// What one run of a tool cost.
#[derive(Clone, Copy)]
struct Run {
    elapsed: Duration,
    peak_kib: i64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__build") {
        // `strife-gen build --offline` of the site at that config (the child process).
        return run_command(Path::new(&args[2]), &["build", "--offline"]);
    }
    if args.get(1).map(String::as_str) == Some("--prepare") {
        // A site to profile by hand: `bench --prepare DIR --users N`, then
        // `strife-gen --config DIR/strife/strife.toml build --offline`.
        let dir = PathBuf::from(args.get(2).unwrap_or_else(|| usage("--prepare")));
        let options = Options::parse(&args[3..]);
        let (config, _) = strife_site(&dir, options.users);
        println!("{}", config.display());
        return;
    }
    if args.get(1).map(String::as_str) == Some("--rename") {
        // One change to profile by hand: `bench --rename DIR N` gives user N of a prepared site
        // another display name, as the "one change" case does.
        let dir = PathBuf::from(args.get(2).unwrap_or_else(|| usage("--rename")));
        let n = args
            .get(3)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| usage("--rename"));
        let config = Arc::new(Config::load(&dir.join("strife/strife.toml")).expect("config"));
        let service = Service::open_offline(config).expect("store");
        record(
            &service,
            &TokenCipher::random(),
            n,
            &format!("Renamed {}", unique_suffix()),
        );
        return;
    }
    let options = Options::parse(&args[1..]);
    let hugo = options.hugo.clone().or_else(|| find_on_path("hugo"));
    println!(
        "{} users; strife-gen {}; {}; {} cores",
        options.users,
        env!("CARGO_PKG_VERSION"),
        match &hugo {
            Some(hugo) => hugo_version(hugo),
            None =>
                "Hugo is not installed (Debian: apt install hugo): its columns are empty".into(),
        },
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| file system | case | strife-gen | pages/s | peak MB | Hugo | pages/s | peak MB | pages/s vs Hugo |"
    );
    let _ = writeln!(table, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, place) in places(&options) {
        let dir = tempfile::tempdir_in(&place).expect("a temporary folder");
        let strife = strife_cases(dir.path(), options.users);
        let hugo = hugo
            .as_ref()
            .map(|hugo| hugo_cases(hugo, dir.path(), options.users));
        for (at, (case, strife)) in strife.iter().enumerate() {
            let hugo = hugo.as_ref().map(|runs| runs[at].1);
            row(&mut table, name, case, *strife, hugo, options.users);
        }
    }
    println!("{table}");
}

/// `--users N`, `--hugo PATH`, `--only tmpfs|disk`.
struct Options {
    users: u64,
    hugo: Option<PathBuf>,
    only: Option<String>,
}

impl Options {
    fn parse(args: &[String]) -> Options {
        let mut options = Options {
            users: 10_000,
            hugo: None,
            only: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().cloned().unwrap_or_else(|| usage(arg));
            match arg.as_str() {
                "--users" => options.users = value().parse().unwrap_or_else(|_| usage(arg)),
                "--hugo" => options.hugo = Some(PathBuf::from(value())),
                "--only" => options.only = Some(value()),
                _ => usage(arg),
            }
        }
        options
    }
}

fn usage(arg: &str) -> ! {
    eprintln!("bad argument {arg:?}; usage: bench [--users N] [--hugo PATH] [--only tmpfs|disk]");
    std::process::exit(2)
}

/// Where to build: tmpfs (when there is one) and the disk.
fn places(options: &Options) -> Vec<(&'static str, PathBuf)> {
    let mut places = Vec::new();
    if Path::new("/dev/shm").is_dir() {
        places.push(("tmpfs", PathBuf::from("/dev/shm")));
    }
    places.push(("disk", std::env::temp_dir()));
    places.retain(|(name, _)| options.only.as_deref().is_none_or(|only| only == *name));
    places
}

fn row(table: &mut String, place: &str, case: &str, strife: Run, hugo: Option<Run>, users: u64) {
    let rate = |run: Run| users as f64 / run.elapsed.as_secs_f64();
    let (hugo_time, hugo_rate, hugo_peak, ratio) = match hugo {
        Some(hugo) => (
            format!("{:.2} s", hugo.elapsed.as_secs_f64()),
            format!("{:.0}", rate(hugo)),
            format!("{:.0}", hugo.peak_kib as f64 / 1024.0),
            format!("{:.1}×", rate(strife) / rate(hugo)),
        ),
        None => ("–".into(), "–".into(), "–".into(), "–".into()),
    };
    let _ = writeln!(
        table,
        "| {place} | {case} | {:.2} s | {:.0} | {:.0} | {hugo_time} | {hugo_rate} | {hugo_peak} | {ratio} |",
        strife.elapsed.as_secs_f64(),
        rate(strife),
        strife.peak_kib as f64 / 1024.0,
    );
}

// ===== strife-gen =====

/// A strife-gen site in `dir/strife` with `users` stored: its config file and its open store.
fn strife_site(dir: &Path, users: u64) -> (PathBuf, Service) {
    let site = dir.join("strife");
    let themes = site.join("themes");
    copy_dir(&repo().join("themes"), &themes);
    let config_path = site.join("strife.toml");
    std::fs::write(
        &config_path,
        format!(
            "[site]\ntitle = \"Bench\"\nbase_url = \"https://bench.example/\"\nthemes_dir = \"{}\"\n",
            themes.display()
        ),
    )
    .expect("config");
    let config = Arc::new(Config::load(&config_path).expect("config"));
    let service = Service::open_offline(config).expect("store");
    let started = Instant::now();
    store_synthetic_users(&service, users);
    eprintln!("stored {users} users in {:.1?}", started.elapsed());
    (config_path, service)
}

/// The four cases for strife-gen in `dir/strife`.
fn strife_cases(dir: &Path, users: u64) -> Vec<(&'static str, Run)> {
    let (config_path, service) = strife_site(dir, users);
    let themes = dir.join("strife/themes");
    let cipher = TokenCipher::random();
    let build = || {
        measure(
            Command::new(std::env::current_exe().expect("self"))
                .args(["__build".as_ref(), config_path.as_os_str()]),
        )
    };
    let cold = build();
    // A theme change: the style sheet's hashed name is in every page, so every page is
    // rendered again and replaces the old one.
    let style = themes.join("default/static/style.css");
    let mut text = std::fs::read_to_string(&style).expect("theme");
    text.push_str("\n/* changed */\n");
    std::fs::write(&style, text).expect("theme");
    let warm = build();
    record(&service, &cipher, users / 2, "Someone Else");
    let one = build();
    let noop = build();
    vec![
        ("cold", cold),
        ("warm", warm),
        ("one change", one),
        ("no-op", noop),
    ]
}

/// A different text on every call (the time in nanoseconds).
fn unique_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Stores synthetic user `n` (four connections, forty servers) called `display_name`.
fn record(service: &Service, cipher: &TokenCipher, n: u64, display_name: &str) {
    service
        .store()
        .record_consent(&synthetic_consent(n, display_name), cipher, 0)
        .expect("consent");
}

// ===== Hugo =====

/// The same four cases for Hugo in `dir/hugo`.
fn hugo_cases(hugo: &Path, dir: &Path, users: u64) -> Vec<(&'static str, Run)> {
    let site = dir.join("hugo");
    write_hugo_site(&site, users);
    let build = || {
        measure(
            Command::new(hugo)
                .arg("--quiet")
                .arg("--source")
                .arg(&site)
                .arg("--destination")
                .arg(site.join("public")),
        )
    };
    let cold = build();
    let warm = build();
    std::fs::write(
        site.join(format!("content/u/{}.md", synthetic_user_id(users / 2))),
        hugo_page(users / 2, "Someone Else"),
    )
    .expect("content");
    let one = build();
    let noop = build();
    vec![
        ("cold", cold),
        ("warm", warm),
        ("one change", one),
        ("no-op", noop),
    ]
}

fn write_hugo_site(site: &Path, users: u64) {
    let layouts = site.join("layouts/_default");
    std::fs::create_dir_all(&layouts).expect("layouts");
    std::fs::create_dir_all(site.join("content/u")).expect("content");
    std::fs::create_dir_all(site.join("static/static")).expect("static");
    std::fs::copy(
        repo().join("themes/default/static/style.css"),
        site.join("static/static/style.css"),
    )
    .expect("style");
    std::fs::write(
        site.join("hugo.toml"),
        "baseURL = \"https://bench.example/\"\ntitle = \"Bench\"\n\
         disableKinds = [\"taxonomy\", \"term\", \"RSS\", \"section\"]\n\
         [outputs]\npage = [\"HTML\", \"JSON\"]\nhome = [\"HTML\"]\n",
    )
    .expect("config");
    let files = [
        ("baseof.html", HUGO_BASE),
        ("single.html", HUGO_SINGLE),
        ("single.json", HUGO_JSON),
    ];
    for (name, text) in files {
        std::fs::write(layouts.join(name), text).expect("layout");
    }
    std::fs::write(site.join("layouts/index.html"), HUGO_INDEX).expect("layout");
    for n in 0..users {
        std::fs::write(
            site.join(format!("content/u/{}.md", synthetic_user_id(n))),
            hugo_page(n, &format!("User {n}")),
        )
        .expect("content");
    }
}

/// User `n`'s page: the data strife-gen renders, as front matter.
fn hugo_page(n: u64, display_name: &str) -> String {
    let id = synthetic_user_id(n);
    let mut page = format!(
        "+++\ntitle = \"{display_name}\"\nid = \"{id}\"\nusername = \"user{n}\"\n\
         avatar = \"https://cdn.discordapp.com/avatars/{id}/a1b2c3d4e5f6.webp?size=256\"\n\
         created = \"2020-01-01\"\nbadges = [\"HypeSquad Bravery\"]\naliases = [\"/user{n}/\"]\n"
    );
    for c in 0..4 {
        let _ = write!(
            page,
            "[[connections]]\ntype = \"github\"\nname = \"user{n}-{c}\"\nurl = \"https://github.com/user{n}-{c}\"\n"
        );
    }
    for g in 0..40 {
        let _ = write!(
            page,
            "[[guilds]]\nid = \"{}\"\nname = \"Server {g}\"\n",
            200_000_000_000_000_000u64 + g
        );
    }
    page.push_str("+++\n");
    page
}

const HUGO_BASE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ block "title" . }}{{ .Site.Title }}{{ end }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:title" content="{{ .Title }}">
<meta property="og:url" content="{{ .Permalink }}">
<link rel="canonical" href="{{ .Permalink }}">
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<header><a href="/">{{ .Site.Title }}</a></header>
<main>{{ block "main" . }}{{ end }}</main>
</body>
</html>
"#;

const HUGO_SINGLE: &str = r#"{{ define "title" }}{{ .Title }} (@{{ .Params.username }}) · {{ .Site.Title }}{{ end }}
{{ define "main" }}
<article class="profile">
<div class="identity">
<img class="avatar" src="{{ .Params.avatar }}" alt="" width="128" height="128">
<h1><bdi>{{ .Title }}</bdi></h1>
<p class="handle">@{{ .Params.username }}</p>
<ul class="badges">{{ range .Params.badges }}<li class="badge">{{ . }}</li>{{ end }}</ul>
<p class="created">On Discord since <time datetime="{{ .Params.created }}">{{ .Params.created }}</time></p>
</div>
<section class="connections"><h2>Connections</h2><ul>
{{ range .Params.connections }}<li class="connection connection-{{ .type }}"><span class="service">GitHub</span> <a href="{{ .url }}" rel="me noopener"><bdi>{{ .name }}</bdi></a></li>
{{ end }}</ul></section>
<section class="guilds"><h2>Servers</h2><ul>
{{ range .Params.guilds }}<li class="guild"><span class="initials" aria-hidden="true">{{ substr .name 0 1 }}</span><bdi>{{ .name }}</bdi></li>
{{ end }}</ul></section>
</article>
{{ end }}
"#;

const HUGO_JSON: &str = r#"{{ dict "id" .Params.id "username" .Params.username "display_name" .Title "avatar_url" .Params.avatar "badges" .Params.badges "created" .Params.created "connections" .Params.connections "guilds" .Params.guilds | jsonify }}"#;

const HUGO_INDEX: &str = r#"{{ define "main" }}
<ul class="people">
{{ $pages := .Paginate (where .Site.RegularPages "Section" "u") 100 }}
{{ range $pages.Pages }}<li><a href="{{ .RelPermalink }}"><img src="{{ .Params.avatar }}" alt="" width="48" height="48"><bdi>{{ .Title }}</bdi></a></li>
{{ end }}</ul>
{{ if $pages.HasNext }}<a rel="next" href="{{ $pages.Next.URL }}">Next</a>{{ end }}
{{ end }}
"#;

fn hugo_version(hugo: &Path) -> String {
    Command::new(hugo)
        .arg("version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("{} does not run: {e}", hugo.display()))
}

// ===== helpers =====

/// Runs `command` to its end and returns its wall time and peak memory (`wait4`'s rusage).
fn measure(command: &mut Command) -> Run {
    let started = Instant::now();
    let child = command
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the command starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value, and wait4 fills it for the child we started.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; the pointers are to live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    assert!(
        waited == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed"
    );
    std::mem::forget(child);
    Run {
        elapsed,
        peak_kib: usage.ru_maxrss,
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("theme file");
        let target = to.join(entry.path().strip_prefix(from).expect("below"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("folder");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
