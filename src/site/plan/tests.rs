//! Plan and engine together: which files a build of profiles writes, keeps and removes, and what
//! host files and vanity URLs hold. Cases that need no site belong in `staging::tests`.

use std::collections::BTreeMap;
use std::fs;

use super::*;
use crate::site::fixtures::{default_theme, profile, site_info, theme, themes_dir};
use crate::site::model::SiteInfo;
use crate::staging::fixtures::{age, mtimes, tree};

mod incremental;

struct Fixture {
    _root: tempfile::TempDir,
    parent: PathBuf,
    settings: SiteSettings,
    renderer: Renderer,
}

fn fixture() -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let parent = root.path().join("public");
    let mut settings = SiteSettings::in_dir(parent.join("output"));
    // Beside the parent: its listing shows the trees only.
    settings.journal = Some(crate::staging::Journal {
        manifest: root.path().join("output.manifest"),
        in_progress: root.path().join("output.building"),
    });
    let renderer = Renderer::new(&default_theme(), site_info()).unwrap();
    Fixture {
        _root: root,
        parent,
        settings,
        renderer,
    }
}

impl Fixture {
    fn build(&self, profiles: Vec<Profile>) -> Result<SiteReport, SiteError> {
        build_site(
            &self.settings,
            &self.renderer,
            profiles.into_iter().map(|p| Ok(p.into())),
            &|| {},
        )
    }

    fn output(&self) -> &Path {
        &self.settings.output_dir
    }

    /// `static/style.<hash>.css`.
    fn favicon(&self) -> String {
        let asset = self.renderer.assets().get("favicon.svg").unwrap();
        format!("static/{}", asset.hashed_name)
    }

    fn style(&self) -> String {
        let asset = self.renderer.assets().get("style.css").unwrap();
        format!("static/{}", asset.hashed_name)
    }

    /// Names in the output's parent folder: only `output` after a first build, and the spare
    /// after the next ones.
    fn siblings(&self) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(&self.parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// The output's parent folder after a build that replaced an output.
const WITH_SPARE: [&str; 2] = [".output.spare", "output"];

/// Files of a build of [`people`]: 2 × (page, json, two cards, link preview, vanity URL), index,
/// 404, sitemap, robots.txt, .nojekyll, style.css, favicon.svg, the site's link preview.
const ALL_FILES: usize = 20;

const A: u64 = 80351110224678912;
const B: u64 = 175928847299117063;

fn people() -> Vec<Profile> {
    vec![profile(A, "Nelly"), profile(B, "Alice")]
}

#[test]
fn writes_the_expected_tree() {
    let f = fixture();
    let report = f.build(people()).unwrap();
    let files: Vec<_> = tree(f.output()).into_keys().collect();
    let style = f.style();
    assert!(style.starts_with("static/style.") && style.ends_with(".css"));
    assert_eq!(
        files,
        [
            ".nojekyll",
            MARKER,
            "404.html",
            "alice/index.html",
            "index.html",
            "nelly/index.html",
            "og.png",
            "robots.txt",
            "sitemap.xml",
            &f.favicon(),
            &style,
            &format!("u/{B}.json"),
            &format!("u/{B}/card-dark.svg"),
            &format!("u/{B}/card.svg"),
            &format!("u/{B}/index.html"),
            &format!("u/{B}/og.png"),
            &format!("u/{A}.json"),
            &format!("u/{A}/card-dark.svg"),
            &format!("u/{A}/card.svg"),
            &format!("u/{A}/index.html"),
            &format!("u/{A}/og.png")
        ]
    );
    assert_eq!(
        report,
        SiteReport {
            profiles_rendered: 2,
            pages_written: ALL_FILES,
            pages_unchanged: 0,
            files_removed: 0,
            previews_drawn: 3,
        }
    );
    assert_eq!(f.siblings(), ["output"]);

    let index = fs::read_to_string(f.output().join("index.html")).unwrap();
    let (alice, nelly) = (index.find("Alice").unwrap(), index.find("Nelly").unwrap());
    assert!(alice < nelly, "index is sorted by display name");
    let page = fs::read_to_string(f.output().join(format!("u/{A}/index.html"))).unwrap();
    assert!(page.contains("<bdi>Nelly</bdi>"));
    assert_eq!(
        fs::read(f.output().join(&style)).unwrap(),
        fs::read(default_theme().join("static/style.css")).unwrap()
    );
    assert!(page.contains(&format!("href=\"/{style}\"")), "{page}");
}

#[test]
fn only_changed_pages_are_rewritten() {
    let f = fixture();
    f.build(people()).unwrap();
    let past = age(f.output());

    let report = f
        .build(vec![profile(A, "Nelly"), profile(B, "Alicia")])
        .unwrap();
    // Alice's page, JSON, cards, link preview and vanity URL (now `alicia/`) and the index
    // changed; the site's preview shows as many people as before.
    assert_eq!(
        report,
        SiteReport {
            profiles_rendered: 1,
            pages_written: 7,
            pages_unchanged: ALL_FILES - 7,
            files_removed: 1,
            previews_drawn: 1,
        }
    );
    let mtimes = mtimes(f.output());
    for unchanged in [
        format!("u/{A}/index.html"),
        format!("u/{A}.json"),
        format!("u/{A}/card.svg"),
        format!("u/{A}/og.png"),
        "og.png".into(),
        "nelly/index.html".into(),
        f.style(),
        "sitemap.xml".into(),
        "404.html".into(),
    ] {
        assert_eq!(mtimes[&unchanged], past, "{unchanged}");
    }
    for changed in [
        format!("u/{B}/index.html"),
        format!("u/{B}.json"),
        format!("u/{B}/card-dark.svg"),
        format!("u/{B}/og.png"),
        "alicia/index.html".into(),
        "index.html".into(),
    ] {
        assert_ne!(mtimes[&changed], past, "{changed}");
    }
    assert!(!mtimes.contains_key("alice/index.html"));
}

#[test]
fn a_theme_change_outside_og_svg_redraws_no_link_preview() {
    let mut f = fixture();
    f.build(people()).unwrap();
    let past = age(f.output());
    // The minimal theme: another stylesheet and profile template, the default's og.svg and
    // fonts. Every page is rendered again; no preview is drawn again.
    f.renderer = Renderer::new(&themes_dir().join("minimal"), site_info()).unwrap();
    let report = f.build(people()).unwrap();
    assert_eq!(report.profiles_rendered, 2, "{report:?}");
    assert_eq!(report.previews_drawn, 0, "{report:?}");
    let mtimes = mtimes(f.output());
    for id in [A, B] {
        assert_ne!(mtimes[&format!("u/{id}/index.html")], past, "{id}");
        assert_eq!(mtimes[&format!("u/{id}/og.png")], past, "{id}");
    }
    // A new site title is drawn on every preview: each is drawn again.
    let retitled = SiteInfo {
        title: "Other profiles".into(),
        ..site_info()
    };
    f.renderer = Renderer::new(&themes_dir().join("minimal"), retitled).unwrap();
    let report = f.build(people()).unwrap();
    assert_eq!(report.previews_drawn, 3, "{report:?}");
    let mtimes = crate::staging::fixtures::mtimes(f.output());
    for id in [A, B] {
        assert_ne!(mtimes[&format!("u/{id}/og.png")], past, "{id}");
    }
}

#[test]
fn removed_users_disappear() {
    let f = fixture();
    f.build(people()).unwrap();
    fs::write(f.output().join("stray.txt"), "not ours").unwrap();

    let report = f.build(vec![profile(A, "Nelly")]).unwrap();
    // Written: index, sitemap and the site's preview (one person fewer). Removed: Alice's page,
    // JSON, cards, link preview, vanity URL, and the stray.
    assert_eq!(
        report,
        SiteReport {
            profiles_rendered: 0,
            pages_written: 3,
            pages_unchanged: ALL_FILES - 9,
            files_removed: 7,
            previews_drawn: 1,
        }
    );
    assert!(!f.output().join(format!("u/{B}")).exists());
    assert!(!f.output().join(format!("u/{B}.json")).exists());
    assert!(!f.output().join("alice").exists());
    assert!(f.output().join("nelly/index.html").is_file());
    assert!(!f.output().join("stray.txt").exists());
    for file in ["index.html", "sitemap.xml"] {
        let text = fs::read_to_string(f.output().join(file)).unwrap();
        assert!(
            !text.contains("Alice") && !text.contains(&B.to_string()),
            "{text}"
        );
    }

    let report = f.build(vec![]).unwrap();
    assert_eq!(report.files_removed, 6);
    assert!(!f.output().join("u").exists());
    assert!(!f.output().join("nelly").exists());
}

#[test]
fn a_failing_render_leaves_the_previous_output_intact() {
    let f = fixture();
    f.build(people()).unwrap();
    let before = tree(f.output());
    let past = age(f.output());

    let broken = theme(&[(
        "profile.html",
        "{% if profile.display_name == \"Alice\" %}\n{{ profile.oops }}\n{% endif %}",
    )]);
    let renderer = Renderer::new(broken.path(), site_info()).unwrap();
    let err = build_site(
        &f.settings,
        &renderer,
        people().into_iter().map(|p| Ok(p.into())),
        &|| {},
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, SiteError::Render { .. }), "{err:?}");
    assert!(message.contains(&format!("u/{B}/")), "{message}");
    assert!(message.contains("profile.html:2"), "{message}");

    assert_eq!(tree(f.output()), before);
    assert!(mtimes(f.output()).values().all(|m| *m == past));
    assert_eq!(
        f.siblings(),
        WITH_SPARE,
        "the spare is kept for the next build"
    );
}

#[test]
fn every_output_is_marked_as_strife_gens_and_the_marker_is_not_a_page() {
    let f = fixture();
    let report = f.build(people()).unwrap();
    assert_eq!(report.pages_written, ALL_FILES, "{report:?}");
    assert_eq!(read(&f, MARKER), MARKER_TEXT);
    let report = f.build(people()).unwrap();
    assert_eq!(report.pages_unchanged, ALL_FILES, "{report:?}");
    assert_eq!(read(&f, MARKER), MARKER_TEXT);
}

#[test]
fn a_folder_strife_gen_did_not_write_is_never_replaced() {
    let f = fixture();
    fs::create_dir_all(f.output().join("photos")).unwrap();
    fs::write(f.output().join("notes.txt"), "mine").unwrap();
    fs::write(f.output().join("photos/cat.jpg"), "meow").unwrap();
    let before = tree(f.output());
    let check = |f: &Fixture, before: &BTreeMap<String, Vec<u8>>| {
        let err = f.build(people()).unwrap_err();
        assert!(matches!(err, SiteError::ForeignOutput { .. }), "{err:?}");
        let message = err.to_string();
        for part in [
            &f.output().display().to_string(),
            "notes.txt",
            "photos",
            MARKER,
            "remove it",
            "site.output_dir",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
        assert_eq!(&tree(f.output()), before, "nothing in it changed");
        assert_eq!(f.siblings(), ["output"], "nothing was staged beside it");
    };
    check(&f, &before);

    // Lookalikes of an old strife-gen output: the names are right, the content hash is not.
    fs::write(f.output().join(".nojekyll"), "").unwrap();
    fs::create_dir_all(f.output().join("static")).unwrap();
    fs::write(f.output().join("static/style.css"), "body{}").unwrap();
    fs::write(f.output().join("static/app.3f2a9c1b.js"), "x").unwrap();
    fs::write(f.output().join("index.html"), "<h1>my site</h1>").unwrap();
    check(&f, &tree(f.output()));
}

#[test]
fn an_output_written_before_markers_existed_is_replaced() {
    let f = fixture();
    f.build(people()).unwrap();
    // What the previous version left: the same tree without the marker.
    fs::remove_file(f.output().join(MARKER)).unwrap();
    fs::write(f.output().join("stray.txt"), "x").unwrap();

    let report = f.build(vec![profile(A, "Nelly")]).unwrap();
    assert!(report.files_removed > 0, "{report:?}");
    assert_eq!(read(&f, MARKER), MARKER_TEXT);
    assert!(!f.output().join("stray.txt").exists());
    assert!(!f.output().join(format!("u/{B}")).exists());

    // Without its .nojekyll, the same tree is not recognised.
    fs::remove_file(f.output().join(MARKER)).unwrap();
    fs::remove_file(f.output().join(".nojekyll")).unwrap();
    let err = f.build(people()).unwrap_err();
    assert!(matches!(err, SiteError::ForeignOutput { .. }), "{err:?}");
}

#[test]
fn bad_profiles_fail_the_build() {
    let f = fixture();
    let err = f
        .build(vec![profile(A, "Nelly"), profile(A, "Nelly again")])
        .unwrap_err();
    assert!(matches!(err, SiteError::DuplicateProfile(_)), "{err:?}");
    assert!(!f.output().exists());
    assert_eq!(
        f.siblings(),
        [".output.spare"],
        "only the spare, never served"
    );
}

fn read(f: &Fixture, rel: &str) -> String {
    fs::read_to_string(f.output().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn entry(id: u64, name: &str, old_names: &[&str], changed_at: Option<i64>) -> ProfileEntry {
    ProfileEntry {
        profile: profile(id, name),
        old_names: old_names.iter().map(|n| n.to_string()).collect(),
        changed_at,
    }
}

fn build_entries(f: &Fixture, entries: Vec<ProfileEntry>) -> SiteReport {
    build_site(
        &f.settings,
        &f.renderer,
        entries.into_iter().map(Ok),
        &|| {},
    )
    .unwrap()
}

#[test]
fn vanity_urls_redirect_to_the_stable_page() {
    let f = fixture();
    f.build(people()).unwrap();
    let html = read(&f, "nelly/index.html");
    assert!(
        html.contains(&format!(
            "<meta http-equiv=\"refresh\" content=\"0; url=/u/{A}/\">"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<link rel=\"canonical\" href=\"https://people.example/u/{A}/\">"
        )),
        "{html}"
    );
    assert!(html.contains(&format!("<a href=\"/u/{A}/\">")), "{html}");
    assert!(!html.contains("moved"), "{html}");
}

#[test]
fn a_renamed_user_keeps_their_old_vanity_url_as_a_redirect() {
    let f = fixture();
    build_entries(&f, vec![entry(A, "Nelly", &[], Some(100))]);
    let past = age(f.output());

    // Nelly is now "nell"; "nelly" redirects to her page and names her new URL.
    let renamed = || vec![entry(A, "Nell", &["nelly"], Some(200))];
    build_entries(&f, renamed());
    let html = read(&f, "nelly/index.html");
    assert!(html.contains(&format!("url=/u/{A}/")), "{html}");
    assert!(html.contains("moved to <a href=\"/nell/\">"), "{html}");
    assert!(read(&f, "nell/index.html").contains(&format!("url=/u/{A}/")));
    assert_ne!(mtimes(f.output())["nelly/index.html"], past);

    // Nothing changed: nothing is rewritten, redirects included.
    let past = age(f.output());
    let report = build_entries(&f, renamed());
    assert_eq!(report.pages_written, 0, "{report:?}");
    assert!(mtimes(f.output()).values().all(|m| *m == past));

    // Someone else is called "nelly" now: the URL is theirs, not a redirect to Nell.
    build_entries(
        &f,
        vec![
            entry(A, "Nell", &["nelly"], Some(200)),
            entry(B, "nelly", &[], None),
        ],
    );
    let html = read(&f, "nelly/index.html");
    assert!(html.contains(&format!("url=/u/{B}/")), "{html}");
    assert!(!html.contains("moved"), "{html}");

    // A user who leaves takes their former names with them.
    build_entries(&f, vec![entry(B, "Alice", &[], None)]);
    assert!(!f.output().join("nelly").exists());
    assert!(!f.output().join("nell").exists());
    assert!(f.output().join("alice/index.html").is_file());
}

#[test]
fn colliding_names_go_to_the_older_account_whatever_the_order() {
    let f = fixture();
    let (older, newer) = (B.min(A), B.max(A));
    f.build(vec![profile(newer, "Twin"), profile(older, "Twin")])
        .unwrap();
    let first = tree(f.output());
    assert!(read(&f, "twin/index.html").contains(&format!("url=/u/{older}/")));
    f.build(vec![profile(older, "Twin"), profile(newer, "Twin")])
        .unwrap();
    assert_eq!(tree(f.output()), first, "the build is deterministic");
}

#[test]
fn vanity_urls_never_shadow_the_sites_own_files() {
    let f = fixture();
    let f_style = f.style();
    let names = [
        "static",
        "U",
        "index.html",
        "sitemap.xml",
        "404.html",
        "robots.txt",
        "CNAME",
    ];
    let hostile = ["../../escape", "..", ".nojekyll", "a/b", "<script>x"];
    let profiles: Vec<Profile> = names
        .iter()
        .chain(&hostile)
        .enumerate()
        .map(|(i, name)| {
            let mut p = profile(1000 + i as u64, "x");
            p.username = (*name).to_owned();
            p
        })
        .collect();
    f.build(profiles).unwrap();
    let files: Vec<String> = tree(f.output()).into_keys().collect();
    let top: std::collections::BTreeSet<&str> =
        files.iter().map(|f| f.split('/').next().unwrap()).collect();
    assert_eq!(
        top.into_iter().collect::<Vec<_>>(),
        [
            ".nojekyll",
            MARKER,
            "404.html",
            "ab",
            "index.html",
            "og.png",
            "robots.txt",
            "scriptx",
            "sitemap.xml",
            "static",
            "u"
        ]
    );
    let favicon = format!(
        "static/{}",
        f.renderer.assets().get("favicon.svg").unwrap().hashed_name
    );
    assert!(files
        .iter()
        .all(|f| !f.starts_with("static/") || *f == f_style || *f == favicon));
    assert!(read(&f, "sitemap.xml").starts_with("<?xml"));
    assert!(read(&f, "404.html").contains("Page not found"));
    assert_eq!(
        f.siblings(),
        ["output"],
        "nothing escaped the output folder"
    );
}

#[test]
fn host_files() {
    let mut f = fixture();
    f.build(people()).unwrap();
    assert_eq!(read(&f, ".nojekyll"), "");
    assert!(!f.output().join("CNAME").exists());
    assert_eq!(
        read(&f, "robots.txt"),
        "User-agent: *\nDisallow:\n\nSitemap: https://people.example/sitemap.xml\n"
    );
    let not_found = read(&f, "404.html");
    assert!(
        not_found.contains(&format!("href=\"/{}\"", f.style())),
        "{not_found}"
    );
    assert!(not_found.contains("noindex"), "{not_found}");

    f.settings.cname = Some("people.example".into());
    let past = age(f.output());
    let report = f.build(people()).unwrap();
    assert_eq!(read(&f, "CNAME"), "people.example\n");
    assert_eq!(report.pages_written, 1, "only CNAME is new: {report:?}");
    assert_eq!(mtimes(f.output())[".nojekyll"], past);

    f.settings.cname = None;
    let report = f.build(people()).unwrap();
    assert_eq!(report.files_removed, 1);
    assert!(!f.output().join("CNAME").exists());
}

#[test]
fn the_404_page_links_root_relative_under_a_path_prefix() {
    let mut f = fixture();
    let info = SiteInfo {
        title: "t".into(),
        base_url: url::Url::parse("https://x.example/people").unwrap(),
        service_url: None,
    };
    f.renderer = Renderer::new(&default_theme(), info).unwrap();
    f.build(people()).unwrap();
    let html = read(&f, "404.html");
    let links: Vec<&str> = html
        .split(['"'])
        .skip(1)
        .step_by(2)
        .filter(|v| v.starts_with('/') || v.starts_with("http") || v.contains(".css"))
        .collect();
    assert!(!links.is_empty(), "{html}");
    for link in links {
        // Absolute only where they must be: the canonical link and Open Graph's URL.
        let inside = link.starts_with("/people/") || link.starts_with("https://x.example/people/");
        assert!(inside, "{link} in {html}");
    }
    assert!(read(&f, "robots.txt").contains("https://x.example/people/sitemap.xml"));
}

#[test]
fn the_sitemap_is_well_formed_absolute_and_escaped() {
    let mut f = fixture();
    let base = url::Url::parse("https://people.example/a&b'c<d/").unwrap();
    let info = SiteInfo {
        title: "t".into(),
        base_url: base.clone(),
        service_url: None,
    };
    f.renderer = Renderer::new(&default_theme(), info).unwrap();
    let with_base = |mut e: ProfileEntry| {
        e.profile.url = crate::site::profile::page_url(&base, &e.profile.path);
        e
    };
    build_entries(
        &f,
        vec![
            with_base(entry(A, "Nelly", &["old"], Some(1_714_564_800))),
            with_base(entry(B, "Alice", &[], None)),
        ],
    );
    let xml = read(&f, "sitemap.xml");
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let ns = "http://www.sitemaps.org/schemas/sitemap/0.9";
    assert_eq!(doc.root_element().tag_name().name(), "urlset");
    assert_eq!(doc.root_element().tag_name().namespace(), Some(ns));
    let urls: Vec<(String, Option<String>)> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name((ns, "url")))
        .map(|url| {
            let text = |tag: &str| {
                url.children()
                    .find(|n| n.has_tag_name((ns, tag)))
                    .and_then(|n| n.text())
                    .map(str::to_owned)
            };
            (text("loc").unwrap(), text("lastmod"))
        })
        .collect();
    let base = base.as_str();
    assert!(base.contains('&') && base.contains('\''), "{base}");
    assert_eq!(
        urls,
        [
            (base.to_owned(), Some("2024-05-01T12:00:00Z".to_owned())),
            (format!("{base}u/{B}/"), None),
            (
                format!("{base}u/{A}/"),
                Some("2024-05-01T12:00:00Z".to_owned())
            ),
        ]
    );
    assert!(!xml.contains("/old/"), "redirects are not in the sitemap");
}

#[test]
fn json_holds_exactly_what_the_page_shows() {
    use crate::discord::cdn::Cdn;
    use crate::publish::Publish;
    use crate::site::fixtures::snapshot;

    let f = fixture();
    let publish = Publish {
        connections: true,
        guilds: false,
    };
    let p = Profile::build(
        &snapshot(A, "Nelly"),
        publish,
        &Cdn::discord(),
        &site_info().base_url,
    );
    f.build(vec![p.clone()]).unwrap();
    let text = read(&f, &format!("u/{A}.json"));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json, serde_json::to_value(&p).unwrap());
    assert_eq!(
        json["guilds"],
        serde_json::Value::Null,
        "servers not opted in"
    );
    for private in ["hidden", "unverified", "revoked", "Alpha", "beta", "zeta"] {
        assert!(!text.contains(private), "{private} leaked: {text}");
    }
    let page = read(&f, &format!("u/{A}/index.html"));
    for shown in ["octocat", "Gamer Tag", "Nelly", "2015-08-10"] {
        assert!(text.contains(shown) && page.contains(shown), "{shown}");
    }
}

/// Profiles `Person 0`, `Person 1`, ... (sorted by name as numbered, below ten).
fn numbered(count: u64) -> Vec<Profile> {
    (0..count)
        .map(|n| profile(1_000 + n, &format!("Person {n}")))
        .collect()
}

/// The `href`s of the index page at `rel` that lead to profiles, in page order.
fn listed(f: &Fixture, rel: &str) -> Vec<String> {
    read(f, rel)
        .split("<a href=\"/u/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[test]
fn the_index_is_paginated_with_prev_and_next_links() {
    let mut f = fixture();
    f.settings.page_size = NonZeroUsize::new(2).unwrap();
    f.build(numbered(5)).unwrap();

    assert_eq!(listed(&f, "index.html"), ["1000/", "1001/"]);
    assert_eq!(listed(&f, "page/2/index.html"), ["1002/", "1003/"]);
    assert_eq!(listed(&f, "page/3/index.html"), ["1004/"]);
    assert!(!f.output().join("page/1").exists(), "page 1 is the root");
    assert!(!f.output().join("page/4").exists());

    let first = read(&f, "index.html");
    assert!(
        first.contains("<link rel=\"next\" href=\"/page/2/\">"),
        "{first}"
    );
    assert!(!first.contains("rel=\"prev\""), "{first}");
    assert!(
        first.contains("5 people have published a profile."),
        "{first}"
    );
    assert!(first.contains("Page 1 of 3"), "{first}");
    let middle = read(&f, "page/2/index.html");
    assert!(
        middle.contains("<link rel=\"prev\" href=\"/\">"),
        "{middle}"
    );
    assert!(
        middle.contains("<link rel=\"next\" href=\"/page/3/\">"),
        "{middle}"
    );
    assert!(
        middle.contains("<title>People &amp; Friends · page 2</title>"),
        "{middle}"
    );
    assert!(
        middle.contains("<link rel=\"canonical\" href=\"https://people.example/page/2/\">"),
        "{middle}"
    );
    let last = read(&f, "page/3/index.html");
    assert!(
        last.contains("<link rel=\"prev\" href=\"/page/2/\">"),
        "{last}"
    );
    assert!(!last.contains("rel=\"next\""), "{last}");

    // Fewer people later: the extra pages go, and a single page has no pagination at all.
    f.build(numbered(2)).unwrap();
    assert!(!f.output().join("page").exists());
    let only = read(&f, "index.html");
    assert!(
        !only.contains("rel=\"next\"") && !only.contains("Page 1 of"),
        "{only}"
    );
}

#[test]
fn nobody_published_is_one_empty_index_page() {
    let mut f = fixture();
    f.settings.page_size = NonZeroUsize::new(2).unwrap();
    f.build(Vec::new()).unwrap();
    assert!(read(&f, "index.html").contains("Nobody has published"));
    assert!(!f.output().join("page").exists());
}

/// The `<loc>`s of the sitemap file at `rel`, with the name of its root element.
fn sitemap_locs(f: &Fixture, rel: &str) -> (String, Vec<String>) {
    let text = read(f, rel);
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{rel}: {e}\n{text}"));
    let locs = doc
        .descendants()
        .filter(|n| n.has_tag_name("loc"))
        .map(|n| n.text().unwrap_or_default().to_owned())
        .collect();
    (doc.root_element().tag_name().name().to_owned(), locs)
}

#[test]
fn a_sitemap_past_the_limit_becomes_an_index_of_parts() {
    let mut f = fixture();
    f.settings.sitemap_limit = 3;
    f.build(numbered(5)).unwrap();

    let (root, parts) = sitemap_locs(&f, "sitemap.xml");
    assert_eq!(root, "sitemapindex");
    assert_eq!(
        parts,
        [
            "https://people.example/sitemap-1.xml",
            "https://people.example/sitemap-2.xml"
        ]
    );
    let (root, first) = sitemap_locs(&f, "sitemap-1.xml");
    assert_eq!(root, "urlset");
    assert_eq!(
        first,
        [
            "https://people.example/",
            "https://people.example/u/1000/",
            "https://people.example/u/1001/"
        ]
    );
    let (_, second) = sitemap_locs(&f, "sitemap-2.xml");
    assert_eq!(
        second,
        [
            "https://people.example/u/1002/",
            "https://people.example/u/1003/",
            "https://people.example/u/1004/"
        ]
    );
    assert!(!f.output().join("sitemap-3.xml").exists());

    // Back under the limit: one plain sitemap, and the parts are gone.
    f.build(numbered(2)).unwrap();
    let (root, all) = sitemap_locs(&f, "sitemap.xml");
    assert_eq!(root, "urlset");
    assert_eq!(all.len(), 3);
    assert!(!f.output().join("sitemap-1.xml").exists());
}
