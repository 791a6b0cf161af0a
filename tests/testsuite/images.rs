//! The site's own copies of Discord's images (`site.images = "mirror"`, the default): a build
//! downloads every image a page uses from the (fake) CDN once, checks it by its bytes, and points
//! the page at `img/<hash>.<ext>`; an image that cannot be had stays a CDN URL, with a warning;
//! copies no page uses any more leave the output; `--offline` uses only what is cached; and
//! `"link"` keeps the CDN URLs. Also today's profile fields, end to end.

use std::path::Path;

use crate::support::log;
use crate::support::site::Site;
use fake_discord::{CdnAnswer, FakeUser};
use serde_json::{json, Value};

/// A user of today's Discord: avatar, banner, decoration, a server tag they show, a nameplate,
/// and a server they own with an icon, a banner and a member count.
const ID: &str = "90000000000000042";
const DECORATION: &str = "avatar-decoration-presets/a_d3c0.png";
const BADGE: &str = "guild-tag-badges/300000000000000042/7d17.png";
const NAMEPLATE: &str = "assets/collectibles/nameplates/nameplates/twilight/static.png";
const GUILD_BANNER: &str = "banners/300000000000000042/5e4b.webp";

fn todays_user(avatar: &str) -> FakeUser {
    let mut user = FakeUser::new(ID, "grace");
    let fields = json!({
        "global_name": "Grace Hopper",
        "avatar": avatar,
        "banner": "b4a7",
        "accent_color": 0x2b7a78,
        "public_flags": (1 << 22) | (1 << 9),
        "avatar_decoration_data": {"asset": "a_d3c0", "sku_id": "1144058844004233369"},
        "primary_guild": {"identity_guild_id": "300000000000000042", "identity_enabled": true,
                          "tag": "COBL", "badge": "7d17"},
        "collectibles": {"nameplate": {"asset": "nameplates/nameplates/twilight/",
                                       "sku_id": "1", "label": "Twilight", "palette": "violet"}},
    });
    if let (Some(target), Value::Object(fields)) = (user.user.as_object_mut(), fields) {
        target.extend(fields);
    }
    user.guilds = vec![json!({
        "id": "300000000000000042", "name": "Compilers Anonymous", "icon": "1c0n",
        "banner": "5e4b", "owner": true, "permissions": "0", "features": [],
        "approximate_member_count": 4321,
    })];
    user
}

async fn signed_up(site: &Site) {
    site.fake.add_user(todays_user("a7a7"));
    site.fake.login_as(ID);
    let (status, body) = site.sign_in("/login?publish=guilds").await;
    assert!(status.is_success(), "{status}: {body}");
}

/// The files under `output/img/`, sorted.
fn copies(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("output/img"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// CDN requests the fake has answered so far.
fn cdn_requests(site: &Site) -> usize {
    site.fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .count()
}

fn warnings_about(needle: &str) -> Vec<String> {
    log::global()
        .text()
        .lines()
        .filter(|line| line.contains("WARN") && line.contains(needle))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_mirrored_page_shows_todays_profile_from_the_sites_own_copies() {
    let site = Site::new().await;
    signed_up(&site).await;
    site.build().await;
    let page = site.page(ID).unwrap();
    // Nothing of the CDN is left in the page, and every image is a checked copy.
    assert!(!page.contains(&site.fake.cdn_base()), "{page}");
    assert!(!page.contains(&site.fake.base_url()), "{page}");
    let files = copies(&site.root);
    // Avatar (its WebP and still PNG URLs), banners (the user's and the server's), decoration
    // (animated and still), badge, nameplate and server icon: the fake serves one file per kind,
    // and the same bytes share one copy.
    assert_eq!(files.len(), 6, "{files:?}");
    for file in &files {
        assert!(page.contains(&format!("/img/{file}")), "{file} unused");
        let bytes = std::fs::read(site.root.join("output/img").join(file)).unwrap();
        let magic_ok = match file.rsplit_once('.').unwrap().1 {
            "png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "webp" => bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP",
            "gif" => bytes.starts_with(b"GIF89a"),
            other => panic!("unexpected kind {other}"),
        };
        assert!(magic_ok, "{file}");
    }
    // Today's profile, in the page and in its JSON.
    for needle in [
        "class=\"server-tag\"",
        "<bdi>COBL</bdi>",
        "class=\"decoration\"",
        "has-nameplate",
        "--nameplate: #5a3296",
        "4,321 members",
        "class=\"owner\"",
        "aria-label=\"Active Developer\"",
        "aria-label=\"Early Supporter\"",
    ] {
        assert!(page.contains(needle), "{needle} missing:\n{page}");
    }
    // The link preview is the site's own picture, as an absolute URL.
    assert!(
        page.contains(&format!(
            "<meta property=\"og:image\" content=\"https://profiles.example.org/u/{ID}/og.png\">"
        )),
        "{page}"
    );
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(site.root.join(format!("output/u/{ID}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(json["server_tag"]["tag"], "COBL");
    assert_eq!(json["nameplate"]["label"], "Twilight");
    assert_eq!(json["guilds"][0]["member_count"], 4321);
    assert_eq!(json["guilds"][0]["owner"], true);
    assert!(json["decoration"]["url"]
        .as_str()
        .unwrap()
        .starts_with("/img/"));
}

#[tokio::test]
async fn images_are_fetched_once_and_a_build_with_nothing_new_writes_nothing() {
    let site = Site::new().await;
    signed_up(&site).await;
    site.build().await;
    let fetched = cdn_requests(&site);
    assert!(fetched >= 5, "{fetched}");
    let summary = site.build().await;
    assert_eq!(
        cdn_requests(&site),
        fetched,
        "an unchanged image was fetched again"
    );
    assert_eq!(summary.site.pages_written, 0, "{summary:?}");
    assert_eq!(summary.site.profiles_rendered, 0, "{summary:?}");

    // A new avatar: one new image, the old copy leaves the output, the page points at the new.
    let before = copies(&site.root);
    site.fake.update_user(ID, json!({"avatar": "0b0b"}));
    site.build().await;
    assert_eq!(
        cdn_requests(&site),
        fetched + 4,
        "avatar WebP, still PNG and the two list sizes"
    );
    let after = copies(&site.root);
    // The fake serves the same avatar bytes for every hash: same copy, different URLs.
    assert_eq!(before, after);
    let page = site.page(ID).unwrap();
    assert!(!page.contains(&site.fake.cdn_base()), "{page}");

    // The user drops their decoration: its copy is no longer published.
    site.fake
        .update_user(ID, json!({"avatar_decoration_data": null}));
    site.build().await;
    let fewer = copies(&site.root);
    assert_eq!(fewer.len(), after.len() - 1, "{fewer:?} after {after:?}");
}

#[tokio::test]
async fn an_image_that_cannot_be_had_stays_a_cdn_url_with_a_warning_and_never_fails_the_build() {
    // Installed before anything logs.
    log::global();
    let site = Site::new().await;
    let fake = &site.fake;
    fake.set_cdn_answer(DECORATION, CdnAnswer::NotAnImage);
    fake.set_cdn_answer(NAMEPLATE, CdnAnswer::NotFound);
    fake.set_cdn_answer(GUILD_BANNER, CdnAnswer::Oversized);
    fake.set_cdn_answer(BADGE, CdnAnswer::Unavailable);
    signed_up(&site).await;
    let summary = site.build().await;
    assert_eq!(summary.refresh.unwrap().failed, 0);
    let page = site.page(ID).unwrap();
    let cdn = fake.cdn_base();
    for path in [DECORATION, NAMEPLATE, GUILD_BANNER, BADGE] {
        assert!(page.contains(&format!("{cdn}/{path}")), "{path}:\n{page}");
    }
    // The rest is mirrored.
    assert!(page.contains("class=\"avatar\" src=\"/img/"), "{page}");
    let warnings = warnings_about(ID);
    for (path, why) in [
        (DECORATION, "not a PNG, JPEG, WebP or GIF image"),
        (NAMEPLATE, "HTTP 404"),
        (GUILD_BANNER, "larger than 8 MB"),
        (BADGE, "HTTP 503"),
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(path) && w.contains(why)),
            "no warning for {path} ({why}):\n{}",
            warnings.join("\n")
        );
    }

    // The CDN recovers. The overloaded badge makes the next build try the missing images again
    // (without it, a 404, a non-image or an oversized file would wait for the profile to
    // change), and the page re-renders with the copies though the profile did not change.
    for path in [DECORATION, NAMEPLATE, GUILD_BANNER, BADGE] {
        fake.clear_cdn_answer(path);
    }
    let asked = |path: &str| {
        fake.requests()
            .iter()
            .filter(|r| r.path == format!("/cdn/{path}"))
            .count()
    };
    let summary = site.build().await;
    // Asked at the consent, by the first build (the badge's 503 left the page unsettled) and now.
    assert_eq!((asked(BADGE), asked(NAMEPLATE)), (3, 3));
    assert_eq!(summary.site.profiles_rendered, 1, "{summary:?}");
    let page = site.page(ID).unwrap();
    assert!(!page.contains(&cdn), "{page}");
    // Settled: the next build asks the CDN nothing.
    let before = cdn_requests(&site);
    site.build().await;
    assert_eq!(cdn_requests(&site), before);
}

#[tokio::test]
async fn a_new_page_has_the_sites_copies_from_its_first_render_and_offline_builds_fetch_nothing() {
    let site = Site::new().await;
    signed_up(&site).await;
    // The consent fetched the new page's images (the person is waiting for their page; builds
    // fetch only when they refresh).
    let fetched = cdn_requests(&site);
    assert!(fetched >= 5, "{fetched}");
    site.render_offline().await.unwrap();
    assert_eq!(cdn_requests(&site), fetched, "an offline build fetched");
    let page = site.page(ID).unwrap();
    assert!(!page.contains(&site.fake.cdn_base()), "{page}");
    assert_eq!(copies(&site.root).len(), 6);

    // Without a cache an offline build links the CDN, and still fetches nothing.
    site.sql("DELETE FROM images; DELETE FROM user_images;");
    site.render_offline().await.unwrap();
    assert_eq!(cdn_requests(&site), fetched, "an offline build fetched");
    let page = site.page(ID).unwrap();
    assert!(page.contains(&site.fake.cdn_base()), "{page}");
    assert!(copies(&site.root).is_empty());
}

#[tokio::test]
async fn link_mode_keeps_the_cdn_urls_and_fetches_nothing() {
    let site = Site::with(
        |config| config.replacen("[site]\n", "[site]\nimages = \"link\"\n", 1),
        |app| app,
    )
    .await;
    signed_up(&site).await;
    site.build().await;
    assert_eq!(cdn_requests(&site), 0);
    let page = site.page(ID).unwrap();
    assert!(
        page.contains(&format!("{}/{DECORATION}", site.fake.cdn_base())),
        "{page}"
    );
    assert!(copies(&site.root).is_empty());
}

#[tokio::test]
async fn a_hidden_server_tag_is_not_published() {
    let site = Site::new().await;
    let mut user = todays_user("a7a7");
    user.user["primary_guild"]["identity_enabled"] = json!(false);
    site.fake.add_user(user);
    site.fake.login_as(ID);
    site.sign_in("/login").await;
    site.build().await;
    let page = site.page(ID).unwrap();
    assert!(!page.contains("COBL"), "{page}");
    assert!(!page.contains("server-tag"), "{page}");
    let json = std::fs::read_to_string(site.root.join(format!("output/u/{ID}.json"))).unwrap();
    assert!(!json.contains("COBL"), "{json}");
}

/// Every published file under `output/` but the copies themselves, as text where it is text.
fn published_text(root: &Path) -> String {
    let mut text = String::new();
    for entry in walkdir(root.join("output")) {
        if entry.starts_with(root.join("output/img")) {
            continue;
        }
        text.push_str(&String::from_utf8_lossy(&std::fs::read(&entry).unwrap()));
    }
    text
}

fn walkdir(dir: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walkdir(path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn what_a_content_file_hides_is_not_published_and_nor_are_its_image_copies() {
    let site = Site::new().await;
    signed_up(&site).await;
    site.build().await;
    let shown = copies(&site.root);
    let users = site.root.join("content/users");
    std::fs::create_dir_all(&users).unwrap();
    std::fs::write(
        users.join(format!("{ID}.md")),
        "+++\nhide = [\"server_tag\", \"decoration\", \"nameplate\"]\n+++\n",
    )
    .unwrap();
    site.render_offline().await.unwrap();
    let page = site.page(ID).unwrap();
    for gone in [
        "COBL",
        "server-tag",
        "class=\"decoration\"",
        "has-nameplate",
        "Twilight",
    ] {
        assert!(!page.contains(gone), "{gone} still shown:\n{page}");
    }
    // The copies left are exactly those something published still uses: the hidden pictures'
    // copies went with them (the tag's badge, the decoration's two frames, the nameplate).
    let left = copies(&site.root);
    assert!(left.len() < shown.len(), "{shown:?} → {left:?}");
    let published = published_text(&site.root);
    for file in &left {
        assert!(published.contains(&format!("/img/{file}")), "{file} unused");
    }
    for gone in [
        "COBL",
        "Twilight",
        "guild-tag-badges",
        "avatar-decoration",
        "nameplates",
    ] {
        assert!(!published.contains(gone), "{gone} published");
    }
    // Shown again when the file stops hiding them.
    std::fs::remove_file(users.join(format!("{ID}.md"))).unwrap();
    site.render_offline().await.unwrap();
    assert_eq!(copies(&site.root), shown);
}

/// `output/<rel>`'s bytes and modification time.
fn file_state(site: &Site, rel: &str) -> (Vec<u8>, std::time::SystemTime) {
    let path = site.root.join("output").join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    (bytes, std::fs::metadata(&path).unwrap().modified().unwrap())
}

#[tokio::test]
async fn link_previews_are_drawn_once_and_kept_by_builds_that_change_nothing() {
    let site = Site::new().await;
    signed_up(&site).await;
    site.build().await;
    let profile_preview = format!("u/{ID}/og.png");
    let first = file_state(&site, &profile_preview);
    let site_preview = file_state(&site, "og.png");
    for png in [&first.0, &site_preview.0] {
        let pixmap = resvg::tiny_skia::Pixmap::decode_png(png).expect("a PNG");
        assert_eq!((pixmap.width(), pixmap.height()), (1200, 630));
    }
    let page = site.page(ID).unwrap();
    let url = format!("https://profiles.example.org/u/{ID}/og.png");
    assert!(
        page.contains(&format!("<meta property=\"og:image\" content=\"{url}\">")),
        "{page}"
    );
    let index = std::fs::read_to_string(site.root.join("output/index.html")).unwrap();
    assert!(
        index.contains("content=\"https://profiles.example.org/og.png\""),
        "{index}"
    );

    // Nothing changed: both previews are still there, not drawn nor written again.
    let summary = site.build().await;
    assert_eq!(summary.site.profiles_rendered, 0, "{summary:?}");
    assert_eq!(file_state(&site, &profile_preview), first);
    assert_eq!(file_state(&site, "og.png"), site_preview);
    // And a third time, from the spare tree the second build left.
    site.build().await;
    assert_eq!(file_state(&site, &profile_preview), first);

    // A new name: the preview is drawn again.
    site.fake
        .update_user(ID, json!({"global_name": "Rear Admiral Hopper"}));
    site.build().await;
    assert_ne!(file_state(&site, &profile_preview).0, first.0);
}

#[tokio::test]
async fn a_cdn_that_hangs_delays_the_build_by_its_timeout_and_the_image_stays_a_cdn_url() {
    log::global();
    const TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);
    let site = Site::with_service(
        |config| config,
        |service| {
            // The site's client, waiting at most TIMEOUT for an image.
            let api = service.config().discord.api_base.url().clone();
            let mut options = strife_gen::discord::client::ClientOptions::new(api);
            options.backoff_base = std::time::Duration::from_millis(1);
            options.cdn_timeout = TIMEOUT;
            let client = strife_gen::discord::client::DiscordClient::new(options).unwrap();
            service.with_discord_client(client)
        },
        |app| app,
    )
    .await;
    // Far longer than the timeout: a build that waited for it would take a minute.
    site.fake.set_cdn_answer(
        DECORATION,
        CdnAnswer::Slow(std::time::Duration::from_secs(60)),
    );
    signed_up(&site).await;
    let started = std::time::Instant::now();
    let summary = site.build().await;
    let took = started.elapsed();
    assert!(took < TIMEOUT * 8, "the build took {took:?}");
    assert_eq!(summary.refresh.unwrap().failed, 0);
    let page = site.page(ID).unwrap();
    assert!(
        page.contains(&format!("{}/{DECORATION}", site.fake.cdn_base())),
        "{page}"
    );
    // The rest is the site's own.
    assert!(page.contains("class=\"avatar\" src=\"/img/"), "{page}");
    assert!(
        warnings_about(ID)
            .iter()
            .any(|w| w.contains(DECORATION) && w.contains("image not mirrored")),
        "no warning for the slow image"
    );
}
