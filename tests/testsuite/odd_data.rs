//! Odd data from Discord: a field or list entry that does not parse loses only that detail. The
//! consent still succeeds, the refresh still publishes the rest (so the page is not frozen), the
//! JSON beside the page leaves out the same detail, and a warning names the user and the field.
//! The same rules apply to snapshots read back from the store and to sample users.

use crate::support::log;
use crate::support::site::Site;
use fake_discord::{connection, guild, FakeUser};
use serde_json::{json, Value};
use strife_gen::build;
use strife_gen::discord::models::Snowflake;
use strife_gen::store::UserStatus;
use warp::http::StatusCode;

/// Warning lines that mention `needle` (a user id, a file name).
fn warnings_about(needle: &str) -> Vec<String> {
    let text = log::global().text();
    text.lines()
        .filter(|line| line.contains("WARN") && line.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Asserts that a warning about `who` names `field`, and returns it.
fn assert_warned(who: &str, field: &str) -> String {
    let lines = warnings_about(who);
    lines
        .iter()
        .find(|line| line.contains(&format!("`{field}`")))
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no warning about {who} naming `{field}`:\n{}",
                lines.join("\n")
            )
        })
}

fn published_json(site: &Site, id: &str) -> Value {
    let text = std::fs::read_to_string(site.root.join(format!("output/u/{id}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn names(json: &Value, list: &str, key: &str) -> Vec<String> {
    json[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {json}"))
        .iter()
        .map(|entry| entry[key].as_str().unwrap().to_owned())
        .collect()
}

/// A site whose fake Discord knows Ada under `id` (each test has its own, so that tests running at
/// once never see each other's warnings) and signs the next authorize in as her.
async fn site_with_ada(id: &str) -> Site {
    let site = Site::new().await;
    let mut ada = FakeUser::new(id, "ada");
    ada.user["global_name"] = json!("Ada Lovelace");
    ada.connections = vec![connection("github", "ada-gh")];
    ada.guilds = vec![guild("300000000000000001", "Analytical Engines")];
    site.fake.add_user(ada);
    site.fake.login_as(id);
    site
}

/// Renders from the store only, as `build --offline` does.
async fn render_offline(site: &Site) -> build::BuildSummary {
    site.render_offline().await.unwrap()
}

/// Ada as Discord might send her on a bad day: odd values in the user object, and lists with
/// entries that are unusable as a whole next to ones that only lose a field.
fn make_ada_odd(site: &Site, id: &str) {
    site.fake.update_user(
        id,
        json!({
            "accent_color": 1u64 << 40,
            "public_flags": "lots",
            "banner": 42,
            "avatar_decoration_data": "sparkles",
            "discriminator": null,
            "a_field_from_the_future": {"nested": [1, 2, 3]},
        }),
    );
    site.fake.set_connections(
        id,
        vec![
            connection("github", "ada-gh"),
            json!({"id": "tw", "name": null, "type": "twitch", "verified": true, "visibility": 1}),
            json!({"id": "yt", "name": "ada-yt", "type": "youtube", "verified": "yes", "visibility": 1}),
            connection("github\" onmouseover=\"x", "ada-hostile"),
            connection("GitHub Ünïcode", "ada-unicode"),
            json!(17),
            json!({"id": 12345, "name": "ada-steam", "type": "steam", "verified": true, "visibility": 1}),
        ],
    );
    // Served sorted by id; the non-snowflake id sorts first.
    site.fake.set_guilds(
        id,
        vec![
            guild("300000000000000001", "Analytical Engines"),
            guild("not-a-snowflake", "Bad Id Guild"),
            json!({"id": "300000000000000003", "name": null, "icon": null}),
            json!({"id": "300000000000000004", "name": "Difference Engines", "icon": 12, "owner": "yes"}),
        ],
    );
}

/// What every odd detail of [`make_ada_odd`] left on (and off) Ada's published page and JSON.
fn assert_only_the_odd_details_are_missing(site: &Site, id: &str) {
    let page = site.page(id).expect("the page is published");
    assert!(page.contains("Ada Lovelace"), "{page}");
    for kept in [
        "ada-gh",
        "ada-hostile",
        "ada-unicode",
        "ada-steam",
        "Analytical Engines",
        "Difference Engines",
    ] {
        assert!(page.contains(kept), "{kept} is kept:\n{page}");
    }
    for dropped in [
        "ada-yt",
        "Bad Id Guild",
        "theme-color",
        "/banners/",
        "class=\"badges\"",
    ] {
        assert!(!page.contains(dropped), "{dropped} is left out:\n{page}");
    }
    // Class names made from connection types are reduced to [a-z0-9-].
    assert!(
        page.contains("class=\"connection connection-githubonmouseoverx\""),
        "{page}"
    );
    assert!(
        page.contains("class=\"connection connection-githubncode\""),
        "{page}"
    );
    assert!(!page.contains("onmouseover=\""), "{page}");

    let json = published_json(site, id);
    assert_eq!(json["display_name"], "Ada Lovelace");
    assert_eq!(json["accent_color"], Value::Null, "{json}");
    assert_eq!(json["banner_url"], Value::Null, "{json}");
    assert_eq!(json["badges"], json!([]), "{json}");
    assert_eq!(
        names(&json, "connections", "name"),
        ["ada-gh", "ada-hostile", "ada-unicode", "ada-steam"]
    );
    assert_eq!(
        names(&json, "connections", "kind"),
        ["github", "githubonmouseoverx", "githubncode", "steam"]
    );
    assert_eq!(
        names(&json, "guilds", "name"),
        ["Analytical Engines", "Difference Engines"]
    );
    assert_eq!(json["guilds"][1]["icon_url"], Value::Null, "{json}");
}

#[tokio::test]
async fn a_consent_with_odd_fields_succeeds_and_publishes_the_rest() {
    const ID: &str = "90000000000000001";
    log::global();
    let site = site_with_ada(ID).await;
    make_ada_odd(&site, ID);

    let (status, body) = site
        .sign_in("/login?publish=connections&publish=guilds")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(site.status(ID), UserStatus::Active);

    // The consent-time snapshot alone renders the page (no refresh yet).
    let summary = render_offline(&site).await;
    assert_eq!((summary.profiles, summary.skipped), (1, 0));
    assert_only_the_odd_details_are_missing(&site, ID);

    for field in [
        "user.accent_color",
        "user.public_flags",
        "user.banner",
        "user.avatar_decoration_data",
        "user.discriminator",
        "connections[1].name",
        "connections[2].verified",
        "connections[5]",
        "connections[6].id",
        "guilds[0].id",
        "guilds[2].name",
        "guilds[3].icon",
        "guilds[3].owner",
    ] {
        let line = assert_warned(ID, field);
        assert!(
            !line.contains("lots") && !line.contains("sparkles"),
            "values are not quoted: {line}"
        );
    }
    assert!(
        warnings_about(ID)
            .iter()
            .all(|line| !line.contains("a_field_from_the_future")),
        "unknown fields are ignored"
    );
}

#[tokio::test]
async fn a_refresh_with_odd_fields_publishes_the_rest_and_later_good_values() {
    const ID: &str = "90000000000000002";
    log::global();
    let site = site_with_ada(ID).await;
    site.sign_in("/login?publish=connections&publish=guilds")
        .await;
    site.fake.update_user(ID, json!({"accent_color": 0x12ab34}));
    site.build().await;
    assert!(site.page(ID).unwrap().contains("#12ab34"));

    // Discord starts sending odd data, and Ada changes her display name meanwhile.
    make_ada_odd(&site, ID);
    site.fake
        .update_user(ID, json!({"global_name": "Countess Lovelace"}));
    let summary = site.build().await;
    let refresh = summary.refresh.unwrap();
    assert_eq!((refresh.refreshed, refresh.failed), (1, 0), "{refresh:?}");
    let page = site.page(ID).unwrap();
    assert!(page.contains("Countess Lovelace"), "not frozen:\n{page}");
    assert!(
        !page.contains("#12ab34"),
        "the odd colour is left out:\n{page}"
    );
    assert_warned(ID, "user.accent_color");
    assert_warned(ID, "guilds[0].id");
    assert!(
        site.store()
            .user(Snowflake::parse(ID).unwrap())
            .unwrap()
            .unwrap()
            .last_error
            .is_none(),
        "a refresh that left out details did not fail"
    );

    // Discord sends good values again: they show up at the next build.
    site.fake.update_user(
        ID,
        json!({"accent_color": 0x00ff00, "public_flags": 1 << 22}),
    );
    site.fake
        .set_guilds(ID, vec![guild("300000000000000002", "Bad Id Guild, fixed")]);
    site.build().await;
    let page = site.page(ID).unwrap();
    for shown in ["#00ff00", "Active Developer", "Bad Id Guild, fixed"] {
        assert!(page.contains(shown), "{shown}:\n{page}");
    }
    let json = published_json(&site, ID);
    assert_eq!(json["accent_color"], "#00ff00");
    assert_eq!(names(&json, "guilds", "name"), ["Bad Id Guild, fixed"]);
}

#[tokio::test]
async fn a_user_object_without_a_usable_id_or_username_is_not_a_profile() {
    const ID: &str = "90000000000000003";
    log::global();
    let site = site_with_ada(ID).await;
    site.fake.update_user(ID, json!({"username": null}));
    let (status, body) = site.sign_in("/login").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        site.store().list_users().unwrap().is_empty(),
        "nothing stored"
    );

    // A known user whose username becomes blank: that refresh fails, the last page stays.
    site.fake.update_user(ID, json!({"username": "ada"}));
    site.sign_in("/login").await;
    site.build().await;
    site.fake
        .update_user(ID, json!({"username": "  ", "global_name": "Someone Else"}));
    let refresh = site.build().await.refresh.unwrap();
    assert_eq!(refresh.failed, 1, "{refresh:?}");
    let page = site.page(ID).unwrap();
    assert!(page.contains("Ada Lovelace") && !page.contains("Someone Else"));
    let error = site
        .store()
        .user(Snowflake::parse(ID).unwrap())
        .unwrap()
        .unwrap()
        .last_error
        .unwrap();
    assert!(error.contains("`user.username`"), "{error}");
}

#[tokio::test]
async fn a_stored_snapshot_with_odd_fields_renders_offline_with_the_same_leniency() {
    const ID: &str = "90000000000000004";
    log::global();
    let site = site_with_ada(ID).await;
    site.sign_in("/login?publish=connections&publish=guilds")
        .await;
    // The snapshot as Discord sent it, odd values, unknown fields and all (public_flags is
    // 2^64: past u64, so it is written out by hand).
    let odd = json!({
        "user": {
            "id": ID, "username": "ada", "global_name": "Ada Lovelace",
            "accent_color": -1, "public_flags": "PLACEHOLDER",
            "premium_type": 0, "collectibles": null,
        },
        "connections": [
            connection("github", "ada-gh"),
            {"id": "tw", "name": null, "type": "twitch", "verified": true, "visibility": 1},
        ],
        "guilds": [
            guild("not-a-snowflake", "Bad Id Guild"),
            guild("300000000000000001", "Analytical Engines"),
        ],
    })
    .to_string()
    .replace("\"PLACEHOLDER\"", "18446744073709551616");
    let conn = rusqlite::Connection::open(&site.config.store.path).unwrap();
    conn.execute(
        "UPDATE snapshots SET data = ?1 WHERE user_id = ?2",
        rusqlite::params![odd, ID],
    )
    .unwrap();

    let summary = render_offline(&site).await;
    assert_eq!((summary.profiles, summary.skipped), (1, 0), "{summary}");
    let page = site.page(ID).unwrap();
    assert!(
        page.contains("ada-gh") && page.contains("Analytical Engines"),
        "{page}"
    );
    assert!(
        !page.contains("Bad Id Guild") && !page.contains("theme-color"),
        "{page}"
    );
    let json = published_json(&site, ID);
    assert_eq!(json["accent_color"], Value::Null);
    assert_eq!(names(&json, "connections", "name"), ["ada-gh"]);
    for field in [
        "user.accent_color",
        "user.public_flags",
        "connections[1].name",
        "guilds[0].id",
    ] {
        assert_warned(ID, field);
    }
}

#[tokio::test]
async fn sample_users_get_the_same_leniency_and_a_warning_naming_the_file() {
    log::global();
    let site = Site::with(
        |text| text.replace("[site]\n", "[site]\nsample_users_dir = \"odd-samples\"\n"),
        |app| app,
    )
    .await;
    let samples = site.root.join("odd-samples");
    std::fs::create_dir_all(&samples).unwrap();
    let sample = json!({
        "user": {"id": "41771983423143937", "username": "sampled", "accent_color": "#ff0000"},
        "connections": [connection("github", "sample-gh"), {"type": "github"}],
        "guilds": null,
    });
    std::fs::write(samples.join("odd-sample.json"), sample.to_string()).unwrap();

    let summary = render_offline(&site).await;
    assert_eq!(summary.profiles, 1, "{summary}");
    let page = site.page("41771983423143937").unwrap();
    assert!(
        page.contains("sample-gh") && !page.contains("theme-color"),
        "{page}"
    );
    let line = assert_warned("odd-sample.json", "user.accent_color");
    assert!(line.contains("41771983423143937"), "{line}");
    assert_warned("odd-sample.json", "connections[1].name");

    // A sample that is not a profile at all fails the build, naming the file and the field.
    std::fs::write(
        samples.join("not-a-profile.json"),
        r#"{"user": {"id": "12"}}"#,
    )
    .unwrap();
    let error = site.render_offline().await.unwrap_err().to_string();
    assert!(
        error.contains("not-a-profile.json") && error.contains("`user.username`"),
        "{error}"
    );
}
