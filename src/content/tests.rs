use super::*;
use crate::site::fixtures::profile;

const ID: u64 = 80351110224678912;

/// A content folder with `files` (relative path → text).
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let path = dir.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

fn load(files: &[(&str, &str)]) -> (tempfile::TempDir, Content, Vec<String>) {
    let dir = folder(files);
    let (content, warnings) = Content::load(dir.path()).unwrap();
    let warnings = warnings.iter().map(ToString::to_string).collect();
    (dir, content, warnings)
}

const FULL: &str = r#"+++
bio = "  Rust & synths  "
pronouns = "she/her"
links = [
  { title = "Blog", url = "https://nelly.example/blog" },
  { title = "", url = "http://old.example" },
]
hide = ["guilds", "badges"]
+++
# About

I make <b>noise</b>. [Say hi](mailto:nelly@example.org).
"#;

#[test]
fn a_full_user_file() {
    let (_dir, content, warnings) = load(&[(&format!("users/{ID}.md"), FULL)]);
    assert_eq!(warnings, Vec::<String>::new());
    let user = content.for_user(Snowflake(ID), "whoever").unwrap();
    assert_eq!(user.bio.as_deref(), Some("Rust & synths"));
    assert_eq!(user.pronouns.as_deref(), Some("she/her"));
    assert_eq!(
        user.links,
        [
            ProfileLink {
                title: "Blog".into(),
                url: "https://nelly.example/blog".into()
            },
            ProfileLink {
                title: "http://old.example/".into(),
                url: "http://old.example/".into()
            }
        ]
    );
    assert_eq!(user.hide, [Hide::Guilds, Hide::Badges]);
    assert_eq!(
        user.body_html.as_deref(),
        Some(
            "<h3>About</h3>\n<p>I make &lt;b&gt;noise&lt;/b&gt;. <a href=\"mailto:nelly@example.org\">Say hi</a>.</p>\n"
        )
    );
    assert!(content.finish().is_empty());
}

#[test]
fn hide_removes_parts_from_the_model() {
    let (_dir, content, _) = load(&[(
        &format!("users/{ID}.md"),
        "+++\nhide = [\"banner\", \"accent_color\", \"badges\", \"connections\", \"guilds\",\n  \"server_tag\", \"decoration\", \"nameplate\"]\nbio = \"b\"\n+++\n",
    )]);
    let mut p = profile(ID, "Nelly");
    p.banner_url = Some("https://cdn.example/b.png".into());
    p.server_tag = Some(crate::site::profile::ServerTag {
        tag: "COBL".into(),
        badge_url: None,
    });
    p.decoration = Some(crate::site::profile::Decoration {
        url: "https://cdn.example/d.png".into(),
        still_url: "https://cdn.example/d.png?passthrough=false".into(),
    });
    p.nameplate = Some(crate::site::profile::ProfileNameplate {
        url: None,
        color: Some("#5a3296".into()),
        label: None,
    });
    assert!(p.connections.is_some() && p.guilds.is_some() && !p.badges.is_empty());
    content.apply(&mut p);
    assert_eq!(p.banner_url, None);
    assert_eq!(p.accent_color, None);
    assert!(p.badges.is_empty());
    assert_eq!(p.connections, None);
    assert_eq!(p.guilds, None);
    assert!(p.server_tag.is_none() && p.decoration.is_none() && p.nameplate.is_none());
    assert_eq!(p.bio.as_deref(), Some("b"));
    assert_eq!(p.body_html, None, "an empty body is no body");
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["guilds"], serde_json::Value::Null);
}

#[test]
fn matched_by_id_first_then_username() {
    let (_dir, content, warnings) = load(&[
        ("users/nelly.md", "by name"),
        (&format!("users/{ID}.md"), "by id"),
        ("users/Mason.md", "mason"),
        ("users/ghost.md", "nobody"),
        ("users/12345.md", "nobody either"),
        ("users/.nelly.md.swp", "editor junk"),
    ]);
    assert_eq!(warnings, Vec::<String>::new());
    let by_id = content.for_user(Snowflake(ID), "nelly").unwrap();
    assert!(by_id.body_html.as_deref().unwrap().contains("by id"));
    let by_name = content.for_user(Snowflake(1), "mason").unwrap();
    assert!(by_name.body_html.as_deref().unwrap().contains("mason"));
    assert!(content.for_user(Snowflake(2), "someone").is_none());

    let unused: Vec<String> = content.finish().iter().map(ToString::to_string).collect();
    assert_eq!(unused.len(), 3, "{unused:?}");
    for name in ["12345.md", "ghost.md", "nelly.md"] {
        assert!(
            unused
                .iter()
                .any(|w| w.contains(name) && w.contains("no published user")),
            "{name}: {unused:?}"
        );
    }
}

#[test]
fn toml_errors_name_the_file_and_line_and_skip_the_file() {
    let cases = [
        (
            "+++\nbio = \"ok\"\n\npronouns = 5\n+++\nbody",
            4,
            "invalid type",
        ),
        (
            "+++\nbio = \"ok\"\ncolour = \"red\"\n+++\n",
            3,
            "unknown field `colour`",
        ),
        ("+++\n\n\nbio = \"unclosed\n+++\n", 4, ""),
        (
            "+++\nlinks = [{ title = \"x\" }]\n+++\n",
            2,
            "missing field `url`",
        ),
        ("+++\nbio = \"never closed\"\n", 1, "never closed"),
    ];
    for (text, line, needle) in cases {
        let (dir, content, warnings) = load(&[("users/nelly.md", text)]);
        let path = dir.path().join("users/nelly.md");
        assert_eq!(warnings.len(), 1, "{text:?}: {warnings:?}");
        let expected = format!("{}:{line}: ", path.display());
        assert!(warnings[0].starts_with(&expected), "{text:?}: {warnings:?}");
        assert!(warnings[0].contains(needle), "{text:?}: {warnings:?}");
        assert!(
            content.for_user(Snowflake(1), "nelly").is_none(),
            "{text:?}"
        );
    }
}

#[test]
fn bad_links_and_hide_entries_are_left_out_with_a_warning() {
    let text = "+++\nlinks = [\n  { title = \"ok\", url = \"https://ok.example\" },\n  { title = \"js\", url = \"javascript:alert(1)\" },\n  { title = \"rel\", url = \"/relative\" },\n]\nhide = [\"guilds\",\n  \"conections\"]\n+++\n";
    let (dir, content, warnings) = load(&[("users/nelly.md", text)]);
    let path = dir.path().join("users/nelly.md").display().to_string();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&format!("{path}:4: links: \"javascript:alert(1)\"")),
        "{warnings:?}"
    );
    assert!(
        warnings[1].starts_with(&format!("{path}:5: links: \"/relative\" is not a URL")),
        "{warnings:?}"
    );
    assert!(
        warnings[2].starts_with(&format!("{path}:8: hide: unknown part \"conections\"")),
        "{warnings:?}"
    );
    let user = content.for_user(Snowflake(1), "nelly").unwrap();
    assert_eq!(user.links.len(), 1);
    assert_eq!(user.hide, [Hide::Guilds]);
}

#[test]
fn markdown_body_is_sanitised() {
    let text = "+++\n+++\n<script>alert(1)</script>\n\n[click](javascript:alert(1)) <iframe src=x>";
    let (_dir, content, warnings) = load(&[("users/nelly.md", text)]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let html = content
        .for_user(Snowflake(1), "nelly")
        .unwrap()
        .body_html
        .clone()
        .unwrap();
    assert!(
        !html.contains("<script") && !html.contains("<iframe"),
        "{html}"
    );
    assert!(!html.contains("href"), "{html}");
    assert!(
        html.contains("&lt;script&gt;") && html.contains("click"),
        "{html}"
    );
}

#[test]
fn front_page_and_odd_files() {
    let (_dir, content, warnings) = load(&[
        ("index.md", "# Welcome\n\nHello *friends* <b>!</b>\n\nMore."),
        ("users/notes.txt", "x"),
    ]);
    let front = content.front_page.clone().unwrap();
    assert_eq!(
        front.html,
        "<h2>Welcome</h2>\n<p>Hello <em>friends</em> &lt;b&gt;!&lt;/b&gt;</p>\n<p>More.</p>\n"
    );
    assert_eq!(front.description.as_deref(), Some("Hello friends <b>!</b>"));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("notes.txt: not a Markdown file"),
        "{warnings:?}"
    );

    let (content, warnings) = Content::load(Path::new("/nonexistent/content")).unwrap();
    assert!(content.front_page.is_none() && warnings.is_empty());
}

#[test]
fn front_matter_split() {
    let split = |front, body| Ok(Split { front, body });
    assert_eq!(split_front_matter("no front"), split(None, "no front"));
    assert_eq!(
        split_front_matter("\u{feff}+++\r\na = 1\r\n+++\r\nbody\n"),
        split(Some("a = 1\r\n"), "body\n")
    );
    assert_eq!(split_front_matter("+++\n+++"), split(Some(""), ""));
    assert_eq!(split_front_matter("+++\na = 1\n"), Err(1));
}

#[cfg(unix)]
#[test]
fn files_linked_from_outside_the_folder_are_errors_not_content() {
    use std::os::unix::fs::symlink;
    let outside = folder(&[
        ("strife.db.key", "s3cr3t-key"),
        ("private/users/nelly.md", "+++\nbio = \"private\"\n+++\n"),
    ]);
    let key = fs::canonicalize(outside.path().join("strife.db.key")).unwrap();
    let cases: [(&str, &Path, &str); 4] = [
        ("users/nelly.md", &key, "users/nelly.md"),
        ("index.md", &key, "index.md"),
        (
            "users/80351110224678912.md",
            Path::new("/etc/passwd"),
            "users/80351110224678912.md",
        ),
        ("users", &outside.path().join("private/users"), "users"),
    ];
    for (link, target, named) in cases {
        let dir = folder(&[("users/ok.md", "fine")]);
        let at = dir.path().join(link);
        if link == "users" {
            fs::remove_dir_all(&at).unwrap();
        }
        symlink(target, &at).unwrap();
        let error = Content::load(dir.path()).unwrap_err();
        assert!(
            matches!(error, FileError::Outside { .. }),
            "{link}: {error:?}"
        );
        let message = error.to_string();
        let real = fs::canonicalize(target).unwrap();
        assert!(
            message.contains(&dir.path().join(named).display().to_string())
                && message.contains(&real.display().to_string())
                && message.contains("site.content_dir"),
            "{message}"
        );
        assert!(!message.contains("s3cr3t"), "{message}");
    }
}

#[cfg(unix)]
#[test]
fn links_that_stay_inside_the_folder_are_content() {
    let dir = folder(&[("shared/nelly.md", "+++\nbio = \"shared bio\"\n+++\n")]);
    fs::create_dir(dir.path().join("users")).unwrap();
    std::os::unix::fs::symlink("../shared/nelly.md", dir.path().join("users/nelly.md")).unwrap();
    let (content, warnings) = Content::load(dir.path()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let user = content.for_user(Snowflake(1), "Nelly").unwrap();
    assert_eq!(user.bio.as_deref(), Some("shared bio"));
}
