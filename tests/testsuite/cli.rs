//! The real `strife-gen` binary: first run, exit codes, and config errors that name the problem.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::fixtures::{binary, repo, sample_users_dir, site_table, stderr, themes_dir};

/// Runs the binary in `dir` with a clean environment as far as strife-gen is concerned.
fn strife(dir: &Path, args: &[&str]) -> Output {
    binary(dir, args).output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A site folder whose config uses the repository's themes and example users.
fn site_with(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let site = site_table(
        "CLI test",
        "https://example.org/people/",
        &[
            ("themes_dir", &themes_dir()),
            ("sample_users_dir", &sample_users_dir()),
        ],
    );
    std::fs::write(dir.path().join("strife.toml"), format!("{site}{extra}")).unwrap();
    let root = dir.path().to_owned();
    (dir, root)
}

#[test]
fn offline_build_renders_the_example_users_without_credentials() {
    let (_dir, root) = site_with("");
    let output = strife(&root, &["build", "--offline"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let index = std::fs::read_to_string(root.join("output/index.html")).unwrap();
    assert!(index.contains("Nelly"), "{index}");
    let page = std::fs::read_to_string(root.join("output/u/80351110224678912/index.html")).unwrap();
    assert!(page.contains("nelly-dev"), "public connection shown");
    assert!(
        !page.contains("secret-alt"),
        "private connection never shown"
    );
    assert!(
        stderr(&output).contains("pages written"),
        "{}",
        stderr(&output)
    );
}

/// The CDN URLs and other third-party addresses in `html`, besides links people follow.
fn loaded_from_elsewhere(html: &str) -> Vec<&str> {
    html.split(['"', ' ', ','])
        .filter(|v| v.starts_with("http") && !v.starts_with("https://example.org/"))
        .filter(|v| v.contains("discord") || v.ends_with(".png") || v.contains("/avatars/"))
        .collect()
}

#[test]
fn the_example_users_pictures_ship_with_them_so_an_offline_demo_needs_no_cdn() {
    let (_dir, root) = site_with("");
    let output = strife(&root, &["build", "--offline"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = root.join("output");
    let shipped = sample_users_dir().join("images");
    for (id, picture) in [
        (
            "80351110224678912",
            "avatars/80351110224678912/8f2c1d0e5b7a49c3a6e4d2b1c0f9e8d7.png",
        ),
        ("53908232506183680", "embed/avatars/4.png"),
    ] {
        let page = std::fs::read_to_string(out.join(format!("u/{id}/index.html"))).unwrap();
        assert_eq!(loaded_from_elsewhere(&page), Vec::<&str>::new(), "{page}");
        // The avatar is the site's copy of the shipped picture.
        let attribute = "class=\"avatar\" src=\"";
        let start = page.find(attribute).unwrap() + attribute.len();
        let copy = &page[start..start + page[start..].find('"').unwrap()];
        let file = copy.strip_prefix("/people/img/").expect("the site's copy");
        let bytes = std::fs::read(out.join("img").join(file)).unwrap();
        assert_eq!(
            bytes,
            std::fs::read(shipped.join(picture)).unwrap(),
            "{copy}"
        );
    }
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert_eq!(loaded_from_elsewhere(&index), Vec::<&str>::new(), "{index}");
}

#[test]
fn a_shipped_picture_that_is_no_image_stops_the_build_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("samples");
    crate::support::fixtures::copy_dir(&sample_users_dir(), &samples);
    let bad = samples.join("images/embed/avatars/4.png");
    std::fs::write(&bad, "<html>not a picture</html>").unwrap();
    let site = site_table(
        "CLI test",
        "https://example.org/people/",
        &[
            ("themes_dir", &themes_dir()),
            ("sample_users_dir", &samples),
        ],
    );
    std::fs::write(dir.path().join("strife.toml"), site).unwrap();
    let output = strife(dir.path(), &["build", "--offline"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains(&format!(
            "sample user {}: not a PNG, JPEG, WebP or GIF image",
            bad.display()
        )),
        "{message}"
    );
    assert!(!dir.path().join("output/index.html").exists(), "{message}");
}

#[test]
fn build_writes_static_host_files_and_reports_progress_and_a_summary() {
    let (_dir, root) = site_with("cname = \"people.example.org\"\n");
    let output = strife(&root, &["build", "--offline"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = root.join("output");
    let read = |rel: &str| std::fs::read_to_string(out.join(rel)).unwrap();
    assert_eq!(read("CNAME"), "people.example.org\n");
    assert!(out.join(".nojekyll").is_file());
    assert!(read("404.html").contains("href=\"/people/static/style."));
    assert!(read("robots.txt").contains("Sitemap: https://example.org/people/sitemap.xml"));
    assert!(
        read("sitemap.xml").contains("<loc>https://example.org/people/u/80351110224678912/</loc>")
    );
    assert!(read("nelly/index.html").contains("url=/people/u/80351110224678912/"));
    assert!(read("mason/index.html").contains("url=/people/u/53908232506183680/"));
    let json: serde_json::Value = serde_json::from_str(&read("u/80351110224678912.json")).unwrap();
    assert_eq!(json["id"], "80351110224678912");

    // Not a terminal: plain progress lines instead of a bar, then the summary.
    let log = stderr(&output);
    assert!(log.contains("writing pages: 0 of 2"), "{log}");
    assert!(log.contains("writing pages: 2 of 2"), "{log}");
    assert!(!log.contains('\r'), "no bar drawn: {log}");
    assert!(
        log.contains("2 profiles: pages written 23, unchanged 0, files removed 0"),
        "{log}"
    );

    let again = strife(&root, &["build", "--offline"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again)
            .contains("pages written 0, unchanged 23, files removed 0; profiles rendered 0"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn an_unknown_key_exits_2_naming_key_and_line_and_writes_nothing() {
    let (_dir, root) = site_with("colour = \"red\"\n");
    let output = strife(&root, &["build", "--offline"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("colour") && message.contains("line 6"),
        "{message}"
    );
    assert!(!root.join("output").exists(), "nothing was written");
    assert!(!root.join("strife.db").exists(), "no store was created");
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = strife(dir.path(), &["build", "--offline"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("strife.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_online_build_names_what_is_missing() {
    let (_dir, root) = site_with("");
    let output = strife(&root, &["build"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("discord.client_id"),
        "{}",
        stderr(&output)
    );

    let (_dir, root) = site_with(
        "[discord]\nclient_id = \"1234\"\nredirect_uri = \"http://127.0.0.1:8080/callback\"\n",
    );
    let output = strife(&root, &["build"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("STRIFE_DISCORD_CLIENT_SECRET"),
        "{}",
        stderr(&output)
    );
    assert!(!root.join("strife.db").exists(), "nothing was written");
    let output = strife(&root, &["serve"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("STRIFE_DISCORD_CLIENT_SECRET"));
}

#[test]
fn a_bad_token_key_is_a_configuration_error() {
    let (_dir, root) = site_with(
        "[discord]\nclient_id = \"1234\"\nredirect_uri = \"http://127.0.0.1:8080/callback\"\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_strife-gen"))
        .args(["build"])
        .current_dir(&root)
        .env("STRIFE_DISCORD_CLIENT_SECRET", "s")
        .env("STRIFE_TOKEN_KEY", "too-short")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("STRIFE_TOKEN_KEY"),
        "{}",
        stderr(&output)
    );
    assert!(!root.join("strife.db").exists(), "nothing was written");
}

#[test]
fn users_list_and_remove() {
    let (_dir, root) = site_with("");
    let output = strife(&root, &["users", "list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("no users yet"));

    let output = strife(&root, &["users", "remove", "../etc"]);
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(
        stderr(&output).contains("not a Discord user id"),
        "{}",
        stderr(&output)
    );
    let output = strife(&root, &["users", "remove", "12345"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no user 12345"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn init_creates_a_site_that_builds() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("my-site");
    let output = strife(dir.path(), &["init", "my-site"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = strife(&site, &["build", "--offline"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(site.join("output/index.html").is_file());
    assert!(
        stderr(&output).contains("no profiles yet"),
        "{}",
        stderr(&output)
    );

    // Two builds (the second one changes a page), so every state file exists: git sees
    // nothing a build wrote but the placeholder it keeps.
    std::fs::write(site.join("content/index.md"), "Changed.\n").unwrap();
    let output = strife(&site, &["build", "--offline"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&site)
            .output()
            .unwrap()
    };
    assert!(git(&["init", "-q"]).status.success());
    let status = git(&[
        "status",
        "--porcelain",
        "--untracked-files=all",
        "--ignored=no",
    ]);
    let untracked = String::from_utf8_lossy(&status.stdout).into_owned();
    let written_by_builds: Vec<&str> = untracked
        .lines()
        .filter(|line| {
            ![
                "strife.toml",
                ".gitignore",
                "content/",
                "themes/",
                "output/.gitkeep",
            ]
            .iter()
            .any(|shipped| line[3..].starts_with(shipped))
        })
        .collect();
    assert!(written_by_builds.is_empty(), "{untracked}");

    let output = strife(dir.path(), &["init", "my-site"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("not empty"));
}

#[test]
fn a_build_that_changed_something_is_deployed_to_a_git_branch() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    git(&["init", "--quiet", "--bare", "pages.git"]);
    let remote = dir.path().join("pages.git");
    let (_site, root) = site_with(&format!(
        "[deploy]\ngit = {{ remote = \"{}\" }}\n",
        remote.display()
    ));

    let output = strife(&root, &["build", "--offline"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let first = git(&["--git-dir", "pages.git", "rev-parse", "gh-pages"]);
    let files = git(&[
        "--git-dir",
        "pages.git",
        "ls-tree",
        "-r",
        "--name-only",
        "gh-pages",
    ]);
    assert!(files.contains("u/80351110224678912/index.html"), "{files}");

    // Nothing changed: no new commit.
    let output = strife(&root, &["build", "--offline"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        git(&["--git-dir", "pages.git", "rev-parse", "gh-pages"]),
        first
    );

    // A deploy that fails is retried by the next build, even one that changes nothing.
    std::fs::rename(dir.path().join("pages.git"), dir.path().join("away.git")).unwrap();
    std::fs::remove_dir_all(root.join("output")).unwrap();
    let output = strife(&root, &["build", "--offline"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("deploying it failed"),
        "{}",
        stderr(&output)
    );
    std::fs::rename(dir.path().join("away.git"), dir.path().join("pages.git")).unwrap();
    let output = strife(&root, &["build", "--offline"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("pages written 0"),
        "{}",
        stderr(&output)
    );
    let log = stderr(&output);
    assert!(
        log.contains("deployment already up to date") || log.contains("deployed as commit"),
        "the pending deploy ran: {log}"
    );

    // --no-deploy builds without publishing.
    std::fs::remove_dir_all(root.join("output")).unwrap();
    let output = strife(&root, &["build", "--offline", "--no-deploy"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        git(&["--git-dir", "pages.git", "rev-parse", "gh-pages"]),
        first
    );
}

#[test]
fn content_is_rendered_and_its_problems_are_warnings_naming_file_and_line() {
    let (_dir, root) = site_with("theme = \"minimal\"\n");
    let users = root.join("content/users");
    std::fs::create_dir_all(&users).unwrap();
    std::fs::write(root.join("content/index.md"), "Welcome, <b>friends</b>.\n").unwrap();
    std::fs::write(
        users.join("80351110224678912.md"),
        "+++\nbio = \"Synths.\"\nlinks = [{ title = \"Site\", url = \"https://nelly.example\" }]\n+++\nHi *there*.\n",
    )
    .unwrap();
    std::fs::write(
        users.join("mason.md"),
        "+++\nbio = \"x\"\n\nbio2 = 1\n+++\n",
    )
    .unwrap();
    std::fs::write(users.join("nobody.md"), "Who?").unwrap();

    let output = strife(&root, &["build", "--offline"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(log.contains("mason.md:4: unknown field `bio2`"), "{log}");
    assert!(log.contains("nobody.md: no published user"), "{log}");

    let page = std::fs::read_to_string(root.join("output/u/80351110224678912/index.html")).unwrap();
    assert!(page.contains("class=\"minimal\""), "the configured theme");
    assert!(
        page.contains("Synths.") && page.contains("<em>there</em>"),
        "{page}"
    );
    assert!(page.contains("href=\"https://nelly.example/\""), "{page}");
    let index = std::fs::read_to_string(root.join("output/index.html")).unwrap();
    assert!(
        index.contains("Welcome, &lt;b&gt;friends&lt;/b&gt;."),
        "{index}"
    );
    let mut statics: Vec<String> = std::fs::read_dir(root.join("output/static"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    statics.sort();
    assert_eq!(
        statics.len(),
        2,
        "the favicon and the stylesheet: {statics:?}"
    );
    for file in &statics {
        assert!(index.contains(&format!("/people/static/{file}")), "{index}");
    }
}

#[test]
fn an_unknown_theme_is_an_error_naming_its_folder() {
    let (_dir, root) = site_with("theme = \"fancy\"\n");
    let output = strife(&root, &["build", "--offline"]);
    assert_eq!(output.status.code(), Some(2), "a configuration error");
    let message = stderr(&output);
    assert!(
        message.contains(&repo().join("themes/fancy").display().to_string())
            && message.contains("site.theme"),
        "{message}"
    );
    assert!(!root.join("output").exists());
    assert!(!root.join("strife.db").exists(), "nothing was written");
}

/// With `DATABASE_URL` set, the commands keep everything in PostgreSQL (a throwaway cluster:
/// `test-postgres`; skipped with a note where PostgreSQL is not installed, except under CI):
/// `build --offline` renders the sample users and `users list` reads the store, and no SQLite
/// file appears. Before, both stopped: they called the store on the async executor.
#[test]
fn build_and_users_list_run_on_postgresql() {
    let Some(url) = test_postgres::database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let site = site_table(
        "On PostgreSQL",
        "https://profiles.example.org/",
        &[
            ("themes_dir", &themes_dir()),
            ("sample_users_dir", &sample_users_dir()),
        ],
    );
    std::fs::write(root.join("strife.toml"), site).unwrap();
    let built = binary(root, &["build", "--offline"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));
    assert!(root.join("output/u/80351110224678912/index.html").is_file());
    let listed = binary(root, &["users", "list"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("no users yet"));
    assert!(!root.join("strife.db").exists(), "nothing in SQLite");
}
