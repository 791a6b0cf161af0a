//! Whole pages of the shipped themes: insta snapshots for a fixed set of people (the `.snap`
//! files in `snapshots/` are the reviewed output), HTML validity with `tidy`, and theme fallback.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::content::Content;
use crate::discord::cdn::Cdn;
use crate::discord::models::{
    AvatarDecoration, Collectibles, Connection, Guild, Nameplate, PrimaryGuild, Snapshot, Snowflake,
};
use crate::publish::Publish;

use super::card::Card;
use super::conventions::Pagination;
use super::fixtures::{connection, guild, site_info, theme, themes_dir, user};
use super::model::{FrontPage, LandingPage, Link, MessagePage, ProfileSummary, SiteInfo};
use super::profile::Profile;
use super::render::{RenderError, Renderer};
use super::theme::ThemeError;
use super::*;

const CONTENT_USER: &str = r#"+++
bio = "Writes <b>bots</b> & \"tools\""
pronouns = "they/them"
links = [
  { title = "Blog", url = "https://blog.example/?a=1&b=2" },
  { title = "Bad", url = "javascript:alert(1)" },
]
hide = ["banner", "guilds"]
+++
# Hello

I like <script>alert("x")</script> **Rust**.

[a trap](javascript:alert(1)) and [a site](https://ok.example/).

<div onclick="alert(1)">raw block</div>
"#;

/// The fixture people, in a fixed order, by name.
fn people() -> Vec<(&'static str, Snapshot)> {
    let mut migrated = user(80351110224678912, "nelly", "0", Some("Nelly"));
    migrated.avatar = Some("a_1269e74af4df7417b13759eae50c83dc".into());
    migrated.accent_color = Some(0x5865f2);
    migrated.public_flags = (1 << 22) | (1 << 9) | (1 << 7);
    // Today's profile: a decoration, a server tag she shows and a nameplate.
    migrated.avatar_decoration_data = Some(AvatarDecoration {
        asset: "a_d3c0".into(),
        sku_id: Some(Snowflake(1144058844004233369)),
    });
    migrated.primary_guild = Some(PrimaryGuild {
        identity_guild_id: Some(Snowflake(197038439483310086)),
        identity_enabled: true,
        tag: Some("TEST".into()),
        badge: Some("7d1734ae5a615e82bc7a4033b98fade8".into()),
    });
    migrated.collectibles = Some(Collectibles {
        nameplate: Some(Nameplate {
            asset: "nameplates/nameplates/twilight/".into(),
            sku_id: None,
            label: Some("Twilight".into()),
            palette: Some("violet".into()),
        }),
    });
    let migrated = Snapshot {
        user: migrated,
        connections: Some(vec![
            connection("github", "nelly-dev"),
            Connection {
                visibility: 0,
                ..connection("reddit", "secret-alt")
            },
        ]),
        guilds: Some(vec![
            Guild {
                banner: Some("5e4b".into()),
                owner: true,
                approximate_member_count: Some(12345),
                ..guild(197038439483310086, "Discord Testers", Some("b1e2"))
            },
            Guild {
                approximate_member_count: Some(1),
                ..guild(81384788765712384, "Discord API", None)
            },
        ]),
    };

    let legacy = Snapshot {
        user: user(53908232506183680, "Mason", "9999", None),
        connections: None,
        guilds: None,
    };

    // Markup, quotes and every kind of bidirectional control (override, isolate, mark) in names,
    // and connection types that are no class name.
    let mut hostile = user(
        175928847299117063,
        "\"quotes' & ampersands\u{200F}",
        "0",
        Some("<script>alert(1)</script>\u{202E}gpj.exe\u{2066}\u{061C}\u{2069}"),
    );
    hostile.avatar = Some("../../evil\"onerror=".into());
    hostile.banner = Some("0123456789abcdef".into());
    // A tag, a decoration and a nameplate made of markup, paths and bidi controls.
    hostile.primary_guild = Some(PrimaryGuild {
        identity_guild_id: Some(Snowflake(1)),
        identity_enabled: true,
        tag: Some("<b>\u{202E}".into()),
        badge: Some("../x\"".into()),
    });
    hostile.avatar_decoration_data = Some(AvatarDecoration {
        asset: "\"><script>".into(),
        sku_id: None,
    });
    hostile.collectibles = Some(Collectibles {
        nameplate: Some(Nameplate {
            asset: "../../../etc/".into(),
            sku_id: None,
            label: Some("\"><i>plate\u{202E}".into()),
            palette: Some("red;background:url(x)".into()),
        }),
    });
    let hostile = Snapshot {
        user: hostile,
        connections: Some(vec![
            connection("github", "<script>alert(1)</script>"),
            connection("domain", "evil\u{202E}gpj.exe"),
            connection("github\" onmouseover=\"x", "hostile-type"),
            connection("GitHub Ünïcode\u{202E}", "unicode-type"),
        ]),
        guilds: Some(vec![guild(
            1,
            "evil\u{202E}txt.exe",
            Some("\"><img src=x>"),
        )]),
    };

    let emoji = Snapshot {
        user: user(
            41771983423143937,
            "emoji",
            "0",
            Some("😀🎉🔥✨🐍🦀🌈🍕🎮🚀💜🌙⭐🍀🎧📚🧩🎨🐱🐶🦊🐼🐧🦄🍩🍓🥑🌵🌊🔮🎲🏆"),
        ),
        connections: Some(vec![]),
        guilds: Some(vec![]),
    };

    let services = [
        "battlenet",
        "bluesky",
        "domain",
        "ebay",
        "epicgames",
        "facebook",
        "github",
        "instagram",
        "mastodon",
        "paypal",
        "reddit",
        "roblox",
        "spotify",
        "steam",
        "tiktok",
        "twitch",
        "twitter",
        "xbox",
        "youtube",
        "someday-service",
    ];
    let busy = Snapshot {
        user: user(222222222222222222, "busy", "0", Some("Busy Bee")),
        connections: Some(
            services
                .iter()
                .map(|kind| connection(kind, &format!("busy-{kind}")))
                .collect(),
        ),
        guilds: Some(
            (0..213)
                .map(|i| {
                    let icon = (i % 3 == 0).then(|| format!("icon{i}"));
                    Guild {
                        banner: (i % 7 == 0).then(|| format!("banner{i}")),
                        owner: i % 50 == 0,
                        approximate_member_count: (i % 2 == 0).then_some(i * 1000),
                        ..guild(
                            300000000000000000 + i,
                            &format!("Server {i:03}"),
                            icon.as_deref(),
                        )
                    }
                })
                .collect(),
        ),
    };

    let mut with_content = user(333333333333333333, "writer", "0", Some("Writer"));
    with_content.banner = Some("a_banner".into());
    with_content.public_flags = 1 << 17;
    let with_content = Snapshot {
        user: with_content,
        connections: None,
        guilds: Some(vec![guild(2, "Hidden guild", None)]),
    };

    vec![
        ("migrated", migrated),
        ("legacy", legacy),
        ("hostile", hostile),
        ("emoji", emoji),
        ("busy", busy),
        ("content", with_content),
    ]
}

/// The people's page models, with `content/users/writer.md` applied.
fn profiles() -> Vec<(&'static str, Profile)> {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("users")).unwrap();
    fs::write(dir.path().join("users/writer.md"), CONTENT_USER).unwrap();
    let (content, warnings) = Content::load(dir.path()).unwrap();
    assert_eq!(warnings.len(), 1, "the javascript: link: {warnings:?}");
    let all = Publish {
        connections: true,
        guilds: true,
    };
    let profiles = people()
        .into_iter()
        .map(|(key, snapshot)| {
            let mut p = Profile::build(&snapshot, all, &Cdn::discord(), &site_info().base_url);
            content.apply(&mut p);
            (key, p)
        })
        .collect();
    assert!(content.finish().is_empty());
    profiles
}

fn front_page() -> FrontPage {
    let text = "Profiles of **our** people. <marquee>no</marquee>\n\nSecond paragraph.";
    FrontPage {
        html: crate::content::markdown::to_html(text, 1),
        description: crate::content::markdown::first_paragraph_text(text, 200),
    }
}

fn renderer(theme: &str) -> Renderer {
    Renderer::new(&themes_dir().join(theme), site_info())
        .unwrap()
        .with_front_page(Some(front_page()))
}

/// The page with the stylesheet's content hash replaced, so a CSS edit does not touch every
/// snapshot.
fn stable(renderer: &Renderer, html: String) -> String {
    let style = &renderer.assets().get("style.css").unwrap().hashed_name;
    html.replace(style.as_str(), "style.HASH.css")
}

#[test]
fn snapshots_of_every_page() {
    for theme in ["default", "minimal"] {
        let r = renderer(theme);
        let profiles = profiles();
        for (key, profile) in &profiles {
            let html = stable(&r, r.render_profile(profile).unwrap());
            insta::assert_snapshot!(format!("{theme}_profile_{key}"), html);
        }
        let mut summaries: Vec<ProfileSummary> = profiles
            .iter()
            .map(|(_, p)| ProfileSummary::from(p))
            .collect();
        summaries.sort_by_key(|s| s.display_name.to_lowercase());
        let html = stable(
            &r,
            r.render_index(&summaries, &Pagination::single(summaries.len()))
                .unwrap(),
        );
        insta::assert_snapshot!(format!("{theme}_index"), html);
    }
}

/// The card of every fixture person, light and dark, as the site with copies of every picture
/// renders it (a 1×1 PNG stands in for each).
fn cards(r: &Renderer) -> Vec<(String, String)> {
    let png = b"\x89PNG\r\n\x1a\n".to_vec();
    let copies = |_: &str| Some((png.clone(), "image/png"));
    let mut cards = Vec::new();
    for (key, profile) in profiles() {
        for dark in [false, true] {
            let card = Card::new(&profile, dark, &copies);
            let name = format!("card_{key}{}", if dark { "_dark" } else { "" });
            cards.push((name, r.render_card(&profile, &card).unwrap()));
        }
    }
    cards
}

#[test]
fn cards_are_self_contained_xml_with_everything_escaped() {
    let r = renderer("default");
    for (name, svg) in cards(&r) {
        insta::assert_snapshot!(name.clone(), svg);
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}: {e}\n{svg}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg", "{name}");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        for node in doc.descendants().filter(|n| n.is_element()) {
            let tag = node.tag_name().name();
            assert!(
                !["script", "foreignObject", "a", "style"].contains(&tag),
                "{name}: <{tag}>"
            );
            for attribute in node.attributes() {
                let value = attribute.value();
                assert!(
                    !attribute.name().starts_with("on"),
                    "{name}: {}",
                    attribute.name()
                );
                if attribute.name() == "href" {
                    assert!(
                        value.starts_with('#') || value.starts_with("data:image/png;base64,"),
                        "{name}: an external reference {value}"
                    );
                }
                assert!(!value.contains("url(http"), "{name}: {value}");
            }
        }
        // Names and the tag are text, never markup.
        if name.starts_with("card_hostile") {
            assert!(svg.contains("&lt;script&gt;"), "{svg}");
            let title = doc.descendants().find(|n| n.has_tag_name("title")).unwrap();
            assert!(title.text().unwrap().starts_with("<script>"), "{svg}");
        }
    }
    // Without copies, pictures are left out, not linked.
    let p = &profiles()[0].1;
    let svg = r.render_card(p, &Card::new(p, false, &|_| None)).unwrap();
    assert!(!svg.contains("<image"), "{svg}");
    assert!(!svg.contains("cdn.discordapp.com"), "{svg}");
}

#[test]
fn xml_forbidden_characters_are_dropped_from_cards_only() {
    let r = renderer("default");
    let mut p = profiles()[0].1.clone();
    p.display_name = "bell\u{7}and\u{1b}escape".into();
    let svg = r.render_card(&p, &Card::new(&p, false, &|_| None)).unwrap();
    roxmltree::Document::parse(&svg).unwrap();
    assert!(svg.contains("bellandescape"), "{svg}");
    assert!(r.render_profile(&p).unwrap().contains("bell\u{7}and"));
}

#[test]
fn profile_pages_unfurl_and_hide_what_content_hides() {
    let r = renderer("default");
    let profiles = profiles();
    let page = |key: &str| {
        let p = &profiles.iter().find(|(k, _)| *k == key).unwrap().1;
        r.render_profile(p).unwrap()
    };
    let migrated = page("migrated");
    for tag in [
        "<meta property=\"og:type\" content=\"profile\">",
        "<meta property=\"og:title\" content=\"Nelly (nelly)\">",
        "<meta property=\"og:site_name\" content=\"People &amp; Friends\">",
        "<meta property=\"og:url\" content=\"https://people.example/u/80351110224678912/\">",
        // The link preview drawn beside the page, not the avatar.
        "<meta property=\"og:image\" content=\"https://people.example/u/80351110224678912/og.png\">",
        "<meta name=\"twitter:card\" content=\"summary_large_image\">",
        "<meta name=\"theme-color\" content=\"#5865f2\">",
        // The animated avatar, with a still one for reduced motion.
        "a_1269e74af4df7417b13759eae50c83dc.webp?animated=true&amp;size=256",
        "media=\"(prefers-reduced-motion: reduce)\"",
    ] {
        assert!(migrated.contains(tag), "{tag}\n{migrated}");
    }
    assert!(!migrated.contains("secret-alt"), "private connection");

    let legacy = page("legacy");
    assert!(
        legacy.contains("embed/avatars/4.png"),
        "default avatar: {legacy}"
    );
    assert!(legacy.contains("<bdi>Mason#9999</bdi>") && !legacy.contains("@<bdi>Mason"));

    let content = page("content");
    assert!(content.contains("<meta name=\"description\" content=\"Writes &lt;b&gt;bots&lt;/b&gt; &amp; &quot;tools&quot;\">"), "{content}");
    assert!(
        !content.contains("<b>")
            && !content.contains("<script")
            && !content.contains("<div onclick")
    );
    assert!(!content.contains("javascript:"), "{content}");
    assert!(content.contains("<a href=\"https://ok.example/\">a site</a>"));
    assert!(content.contains("href=\"https://blog.example/?a=1&amp;b=2\""));
    assert!(
        !content.contains("Hidden guild") && !content.contains("banners/"),
        "hidden"
    );
    assert!(content.contains("<h3>Hello</h3>"));
}

/// Runs `tidy -q -e` over every page of a site built with each shipped theme. Skipped (with a
/// note) where tidy is not installed; fails on any error and on any warning but the ones about
/// HTML newer than tidy knows.
#[test]
fn built_sites_pass_tidy() {
    if Command::new("tidy").arg("-v").output().is_err() {
        eprintln!("note: `tidy` is not installed; skipping the HTML validity check (apt-get install tidy)");
        return;
    }
    // tidy 5.6 predates these valid HTML attributes.
    const TOO_NEW_FOR_TIDY: [&str; 1] = ["proprietary attribute \"loading\""];
    for theme in ["default", "minimal"] {
        let root = tempfile::tempdir().unwrap();
        let settings = SiteSettings::in_dir(root.path().join("output"));
        let r = renderer(theme);
        let pages = profiles().into_iter().map(|(_, p)| Ok(p.into()));
        build_site(&settings, &r, pages, &|| {}).unwrap();
        let mut extra = vec![
            (
                "landing.html",
                r.render_landing(&LandingPage::default()).unwrap(),
            ),
            (
                "message.html",
                r.render_message(&MessagePage {
                    title: "Oops <1>".into(),
                    message: "Something & nothing".into(),
                    link: Some(Link {
                        href: "/".into(),
                        text: "Back".into(),
                    }),
                    edit_path: None,
                    is_error: true,
                })
                .unwrap(),
            ),
        ];
        for (name, html) in extra.drain(..) {
            fs::write(settings.output_dir.join(name), html).unwrap();
        }
        let mut checked = 0;
        for page in html_files(&settings.output_dir) {
            let out = Command::new("tidy")
                .args(["-q", "-e"])
                .arg(&page)
                .output()
                .unwrap();
            let report = String::from_utf8_lossy(&out.stderr).into_owned();
            let problems: Vec<&str> = report
                .lines()
                .filter(|l| l.contains("Warning:") || l.contains("Error:"))
                .filter(|l| !TOO_NEW_FOR_TIDY.iter().any(|known| l.contains(known)))
                .collect();
            assert!(
                out.status.code() != Some(2) && problems.is_empty(),
                "{theme}: tidy found problems in {}:\n{report}",
                page.display()
            );
            checked += 1;
        }
        // Six profiles and their six vanity redirects, the index, 404, landing and message pages.
        assert_eq!(
            checked,
            6 + 6 + 1 + 1 + 2,
            "{theme}: every page was checked"
        );
    }
}

/// Builds the fixture people's site with each shipped theme and checks every page: no
/// bidirectional control in `<head>` (title, description, Open Graph and Twitter tags, vanity
/// redirects) or in any attribute value, while body text keeps them inside `<bdi>`; and class
/// names made from connection types are plain `[a-z0-9-]`.
#[test]
fn bidi_controls_never_reach_titles_meta_or_attributes() {
    let has_control = |text: &str| text.contains(text::is_bidi_control);
    for theme in ["default", "minimal"] {
        let root = tempfile::tempdir().unwrap();
        let settings = SiteSettings::in_dir(root.path().join("output"));
        let r = renderer(theme);
        let pages = profiles().into_iter().map(|(_, p)| Ok(p.into()));
        build_site(&settings, &r, pages, &|| {}).unwrap();
        for page in html_files(&settings.output_dir) {
            let html = fs::read_to_string(&page).unwrap();
            let (head, body) = html.split_once("</head>").unwrap();
            assert!(!has_control(head), "{theme}: {}:\n{head}", page.display());
            for value in attribute_values(body) {
                assert!(
                    !has_control(value),
                    "{theme}: {}: {value:?}",
                    page.display()
                );
            }
        }
        let hostile =
            fs::read_to_string(settings.output_dir.join("u/175928847299117063/index.html"))
                .unwrap();
        let (head, body) = hostile.split_once("</head>").unwrap();
        assert!(
            head.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt;gpj.exe"),
            "{theme}: {head}"
        );
        assert!(
            body.contains("<bdi>&lt;script&gt;alert(1)&lt;/script&gt;\u{202E}gpj.exe\u{2066}\u{061C}\u{2069}</bdi>"),
            "{theme}: body text keeps its controls, isolated: {body}"
        );
        if theme == "default" {
            assert!(body.contains("class=\"connection connection-githubonmouseoverx\""));
            assert!(body.contains("class=\"connection connection-githubncode\""));
            assert!(
                body.contains("title=\"Verified on GitHub Ünïcode\""),
                "{body}"
            );
        }
        assert!(!body.contains("onmouseover=\""), "{theme}: {body}");
    }
}

/// The values of the quoted attributes in `html` (every shipped template quotes with `"`).
fn attribute_values(html: &str) -> Vec<&str> {
    let mut values = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("=\"") {
        let value = &rest[start + 2..];
        let Some(end) = value.find('"') else { break };
        values.push(&value[..end]);
        rest = &value[end + 1..];
    }
    values
}

fn html_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(html_files(&path));
        } else if path.extension().is_some_and(|e| e == "html") {
            out.push(path);
        }
    }
    out
}

/// `<root>/default` (the fixture theme plus `static/`) and `<root>/custom` with `files`.
fn themes_with_custom(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let default = theme(&[("base.html", "<link href=\"{{ static_url(\"style.css\") }}\">[default base]{% block content %}{% endblock %}")]);
    copy_tree(default.path(), &root.path().join("default"));
    for (rel, text) in [
        ("static/style.css", "default css"),
        ("static/img/logo.svg", "<svg/>"),
    ] {
        let path = root.path().join("default").join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    let custom = root.path().join("custom");
    fs::create_dir_all(&custom).unwrap();
    for (rel, text) in files {
        let path = custom.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    (root, custom)
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        } else {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn a_theme_overrides_some_templates_and_static_files_and_falls_back_for_the_rest() {
    let (_root, custom) = themes_with_custom(&[
        ("templates/base.html", "<link href=\"{{ static_url(\"style.css\") }}\"><img src=\"{{ static_url(\"img/logo.svg\") }}\">[custom base]{% block content %}{% endblock %}"),
        ("static/style.css", "custom css"),
    ]);
    let r = Renderer::new(&custom, site_info()).unwrap();
    // profile.html comes from the default theme and is drawn in the custom layout.
    let html = r
        .render_profile(&super::fixtures::profile(1, "Nelly"))
        .unwrap();
    assert!(html.contains("[custom base]Nelly"), "{html}");
    let style = r.assets().get("style.css").unwrap();
    assert_eq!(style.bytes, b"custom css");
    assert_eq!(
        style.hashed_name,
        theme::assets::hashed_name("style.css", b"custom css")
    );
    let logo = r.assets().get("img/logo.svg").unwrap();
    assert_eq!(
        logo.source,
        custom.parent().unwrap().join("default/static/img/logo.svg")
    );
    assert!(
        html.contains(&format!("href=\"/static/{}\"", style.hashed_name)),
        "{html}"
    );
    assert!(
        html.contains(&format!("src=\"/static/{}\"", logo.hashed_name)),
        "{html}"
    );

    // The build publishes both, under their hashed names only.
    let out = tempfile::tempdir().unwrap();
    let settings = SiteSettings::in_dir(out.path().join("output"));
    build_site(&settings, &r, std::iter::empty(), &|| {}).unwrap();
    let published = |rel: &str| settings.output_dir.join("static").join(rel);
    assert_eq!(
        fs::read(published(&style.hashed_name)).unwrap(),
        b"custom css"
    );
    assert_eq!(fs::read(published(&logo.hashed_name)).unwrap(), b"<svg/>");
    assert!(!published("style.css").exists());
}

#[test]
fn errors_in_fallback_templates_name_the_fallback_file() {
    let (root, custom) = themes_with_custom(&[(
        "templates/index.html",
        "{% extends \"base.html\" %}{% block content %}ok{% endblock %}",
    )]);
    fs::write(
        root.path().join("default/templates/profile.html"),
        "line 1\n{{ profile.nope }}",
    )
    .unwrap();
    let r = Renderer::new(&custom, site_info()).unwrap();
    assert!(r
        .render_index(&[], &Pagination::single(0))
        .unwrap()
        .contains("[default base]ok"));
    let message = r
        .render_profile(&super::fixtures::profile(1, "N"))
        .unwrap_err()
        .to_string();
    let expected = root.path().join("default/templates/profile.html:2");
    assert!(
        message.contains(&expected.display().to_string()),
        "{message}"
    );
}

#[test]
fn an_unknown_static_file_is_an_error_naming_template_and_line() {
    let (_root, custom) = themes_with_custom(&[(
        "templates/profile.html",
        "{% extends \"base.html\" %}{% block content %}\n\n{{ static_url(\"app.js\") }}{% endblock %}",
    )]);
    let r = Renderer::new(&custom, site_info()).unwrap();
    let err = r
        .render_profile(&super::fixtures::profile(1, "N"))
        .unwrap_err();
    let message = err.to_string();
    let expected = custom.join("templates/profile.html:3");
    assert!(matches!(err, RenderError::Render { .. }), "{err:?}");
    assert!(
        message.contains(&expected.display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("\"app.js\"") && message.contains("style.css"),
        "{message}"
    );
}

#[test]
fn a_missing_theme_folder_is_an_error_naming_it() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("nope");
    let err = Renderer::new(&missing, site_info()).unwrap_err();
    assert!(
        matches!(err, RenderError::Theme(ThemeError::Missing { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
}

#[test]
fn the_minimal_theme_changes_the_look_without_code() {
    let default = renderer("default");
    let minimal = renderer("minimal");
    let p = super::fixtures::profile(80351110224678912, "Nelly");
    let a = default.render_profile(&p).unwrap();
    let b = minimal.render_profile(&p).unwrap();
    assert!(b.contains("<body class=\"minimal\">") && !a.contains("class=\"minimal\""));
    let css = |r: &Renderer| r.assets().get("style.css").unwrap().bytes.clone();
    assert_ne!(css(&default), css(&minimal));
    assert_eq!(
        css(&minimal),
        fs::read(themes_dir().join("minimal/static/style.css")).unwrap()
    );
    // index.html is the default theme's, in the minimal layout.
    let index = minimal
        .render_index(&[ProfileSummary::from(&p)], &Pagination::single(1))
        .unwrap();
    assert!(index.contains("<body class=\"minimal\">") && index.contains("1 person has"));
    assert!(index.contains("<strong>our</strong>") && index.contains("&lt;marquee&gt;"));
}

/// A real 8×8 PNG of one colour, as a copy of a picture would be.
fn solid_png(rgb: (u8, u8, u8)) -> Vec<u8> {
    let mut pixmap = resvg::tiny_skia::Pixmap::new(8, 8).unwrap();
    pixmap.fill(resvg::tiny_skia::Color::from_rgba8(
        rgb.0, rgb.1, rgb.2, 255,
    ));
    pixmap.encode_png().unwrap()
}

fn decoded(png: &[u8]) -> resvg::tiny_skia::Pixmap {
    resvg::tiny_skia::Pixmap::decode_png(png).expect("og.png is a PNG")
}

#[test]
fn link_previews_are_pngs_of_1200_by_630_drawn_the_same_every_time() {
    let r = renderer("default");
    let green = solid_png((0, 200, 0));
    let copies = |_: &str| Some((green.clone(), "image/png"));
    for (key, profile) in profiles() {
        let card = Card::new(&profile, false, &copies);
        let png = r.render_preview(Some(&profile), Some(&card), 1).unwrap();
        let pixmap = decoded(&png);
        assert_eq!((pixmap.width(), pixmap.height()), (1200, 630), "{key}");
        assert_eq!(
            r.render_preview(Some(&profile), Some(&card), 1).unwrap(),
            png,
            "{key}: drawn twice, two pictures"
        );
        // The avatar copy is drawn, inlined, in the avatar's circle.
        let centre = pixmap.pixel(220, 300).unwrap();
        assert_eq!(
            (centre.red(), centre.green(), centre.blue()),
            (0, 200, 0),
            "{key}"
        );
        // Without copies, the initial on the accent colour.
        let bare = r
            .render_preview(
                Some(&profile),
                Some(&Card::new(&profile, false, &|_| None)),
                1,
            )
            .unwrap();
        assert_ne!(bare, png, "{key}");
    }
    let site = decoded(&r.render_preview(None, None, 3).unwrap());
    assert_eq!((site.width(), site.height()), (1200, 630));
    assert_ne!(
        r.render_preview(None, None, 3).unwrap(),
        r.render_preview(None, None, 4).unwrap(),
        "the site's preview shows how many have published"
    );
}

/// Whether every pixel of the rows `ys` right of `x` is `rgb` (the picture's background there).
fn only_background_right_of(
    pixmap: &resvg::tiny_skia::Pixmap,
    x: u32,
    ys: std::ops::Range<u32>,
    rgb: (u8, u8, u8),
) -> bool {
    ys.flat_map(|y| (x..pixmap.width()).map(move |x| (x, y)))
        .all(|(x, y)| {
            let p = pixmap.pixel(x, y).unwrap();
            (p.red(), p.green(), p.blue()) == rgb
        })
}

#[test]
fn text_a_preview_cannot_hold_is_cut_and_glyphs_its_fonts_lack_are_left_out() {
    let long_title = "The very long name of a community that runs a profile site for its members";
    let r = Renderer::new(
        &themes_dir().join("default"),
        SiteInfo {
            title: long_title.into(),
            ..site_info()
        },
    )
    .unwrap();
    // The site's title runs to the picture's right margin at most (white on the accent).
    let site = decoded(&r.render_preview(None, None, 3).unwrap());
    let accent = (0x58, 0x65, 0xf2);
    assert!(only_background_right_of(&site, 1121, 200..300, accent));
    // A profile's long name stops before the margin, and so does the footer's title before
    // "Member since".
    let (_, mut p) = profiles().remove(0);
    p.display_name = "Nelly With A Display Name Far Longer Than Any Picture Holds".into();
    let bare = Card::new(&p, false, &|_| None);
    let png = decoded(&r.render_preview(Some(&p), Some(&bare), 1).unwrap());
    assert!(only_background_right_of(
        &png,
        1121,
        240..300,
        (255, 255, 255)
    ));
    // Emoji and scripts the theme's fonts lack are not drawn as empty boxes: a name of only
    // those is drawn as the handle, and one with some is drawn without them.
    let as_handle = |name: &str| {
        let mut q = p.clone();
        q.display_name = name.into();
        let card = Card::new(&q, false, &|_| None);
        r.render_preview(Some(&q), Some(&card), 1).unwrap()
    };
    let handle = p.handle.clone();
    assert_eq!(as_handle("🦊✨"), as_handle(&handle));
    assert_eq!(as_handle("山田 太郎"), as_handle(&handle));
    assert_eq!(as_handle("Nelly 🦊"), as_handle("Nelly"));
    assert_ne!(as_handle("Nelly"), as_handle(&handle));
}

#[test]
fn pages_point_their_link_previews_at_the_absolute_og_png() {
    let r = renderer("default");
    let (_, p) = &profiles()[0];
    let page = r.render_profile(p).unwrap();
    for tag in [
        format!("<meta property=\"og:image\" content=\"{}og.png\">", p.url),
        "<meta property=\"og:image:width\" content=\"1200\">".into(),
        "<meta property=\"og:image:height\" content=\"630\">".into(),
        "<meta name=\"twitter:card\" content=\"summary_large_image\">".into(),
        format!("<meta name=\"twitter:image\" content=\"{}og.png\">", p.url),
    ] {
        assert!(page.contains(&tag), "{tag}\n{page}");
    }
    let site_image = "<meta property=\"og:image\" content=\"https://people.example/og.png\">";
    let index = r.render_index(&[], &Pagination::single(0)).unwrap();
    let not_found = r.render_not_found().unwrap();
    for html in [&index, &not_found] {
        assert!(html.contains(site_image), "{html}");
        assert!(html.contains("content=\"summary_large_image\""), "{html}");
    }
    assert!(not_found.contains("<link rel=\"canonical\" href=\"https://people.example/404.html\">"));
}

#[test]
fn a_broken_og_svg_is_an_error_naming_the_template() {
    let (_root, custom) = themes_with_custom(&[
        ("templates/og.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1200\" height=\"630\"><text>{{ site.title }}</svg>"),
        ("fonts/Inter-Regular.otf", ""),
    ]);
    fs::copy(
        themes_dir().join("default/fonts/Inter-Regular.otf"),
        custom.join("fonts/Inter-Regular.otf"),
    )
    .unwrap();
    let r = Renderer::new(&custom, site_info()).unwrap();
    let err = r.render_preview(None, None, 0).unwrap_err();
    let message = err.to_string();
    let template = custom.join("templates/og.svg");
    assert!(
        message.starts_with(&format!(
            "drawing {} as a PNG: not a valid SVG",
            template.display()
        )),
        "{message}"
    );
    // The build stops on it, naming the file it was drawing, and leaves no site behind.
    let out = tempfile::tempdir().unwrap();
    let settings = SiteSettings::in_dir(out.path().join("output"));
    let err = build_site(&settings, &r, std::iter::empty(), &|| {}).unwrap_err();
    assert!(
        err.to_string().starts_with("rendering og.png: drawing"),
        "{err}"
    );
    assert!(!settings.output_dir.join("index.html").exists());

    // An og.svg with no font to draw its text: said at once, not a preview without text.
    let (_root, custom) = themes_with_custom(&[("templates/og.svg", "<svg/>")]);
    let err = Renderer::new(&custom, site_info()).unwrap_err();
    assert!(
        err.to_string()
            .contains("but no font file (.ttf, .otf) in a fonts/ folder"),
        "{err}"
    );
    // A font file that is not one is named.
    let (_root, custom) = themes_with_custom(&[("fonts/Broken.ttf", "not a font")]);
    let err = Renderer::new(&custom, site_info()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "theme font: {} is not a font file resvg can read",
            custom.join("fonts/Broken.ttf").display()
        )
    );
}

#[test]
fn every_connection_has_an_icon_the_page_carries() {
    let r = renderer("default");
    for (key, profile) in profiles() {
        let page = r.render_profile(&profile).unwrap();
        let used: Vec<&str> = page
            .split("<use href=\"#service-")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect();
        let connections = profile.connections.as_deref().unwrap_or_default();
        assert_eq!(used.len(), connections.len(), "{key}");
        for (kind, connection) in used.iter().zip(connections) {
            assert!(
                page.contains(&format!("<symbol id=\"service-{kind}\"")),
                "{key}: no icon {kind}"
            );
            assert!(
                *kind == connection.kind || *kind == "other",
                "{key}: {kind}"
            );
        }
        if key == "busy" {
            assert!(
                used.contains(&"github") && used.contains(&"other"),
                "{used:?}"
            );
        }
    }
}
