//! Vanity URLs never shadow a path the service, the preview or the site itself has: the
//! reserved names come from the routes and outputs that really exist, checked here against the
//! real router and a real build.

use std::collections::{BTreeSet, HashSet};

use crate::support::fixtures::themes_dir;
use crate::support::site::Site;
use strife_gen::config::Config;
use strife_gen::server::ROUTE_SEGMENTS;
use strife_gen::site::vanity::{is_reserved, reserved_names};

type Reply = warp::http::Response<warp::hyper::body::Bytes>;

/// What the service answers where it has no route: the site's not-found page.
fn is_no_route(reply: &Reply, nothing: &Reply) -> bool {
    reply.status() == nothing.status()
        && reply.headers().get("content-type") == nothing.headers().get("content-type")
        && reply.body() == nothing.body()
}

#[tokio::test]
async fn every_listed_route_segment_answers_and_others_do_not() {
    let site = Site::new().await;
    let nothing = site.request("GET", "/zq8v1x-not-a-route").await;
    assert_eq!(nothing.status(), 404);
    let stylesheet = site
        .app
        .renderer()
        .assets()
        .iter()
        .find(|asset| asset.name == "style.css")
        .map(|asset| asset.hashed_name.clone())
        .expect("the theme has a stylesheet");
    // One request each route answers; a segment added to ROUTE_SEGMENTS needs one here.
    let probes = [
        ("login", "GET", "/login".to_owned()),
        ("delete", "GET", "/delete".to_owned()),
        ("callback", "GET", "/callback".to_owned()),
        ("healthz", "GET", "/healthz".to_owned()),
        ("static", "GET", format!("/static/{stylesheet}")),
        ("webhooks", "POST", "/webhooks/refresh".to_owned()),
        ("me", "GET", "/me".to_owned()),
        ("logout", "POST", "/logout".to_owned()),
    ];
    let probed: BTreeSet<&str> = probes.iter().map(|(segment, ..)| *segment).collect();
    assert_eq!(probed, ROUTE_SEGMENTS.into_iter().collect());
    for (segment, method, path) in &probes {
        let reply = site.request(method, path).await;
        assert!(
            !is_no_route(&reply, &nothing),
            "{method} {path}: the {segment} route does not answer"
        );
    }
    // Anything else at the top is nobody's: the router refuses unlisted segments outright.
    for path in [
        "/webhook",
        "/__strife/events",
        "/u/1/",
        "/nelly/",
        "/logins",
    ] {
        for method in ["GET", "POST", "HEAD"] {
            let reply = site.request(method, path).await;
            assert_eq!(reply.status(), 404, "{method} {path}");
        }
    }
}

#[test]
fn the_servers_paths_are_reserved() {
    let none = HashSet::new();
    for segment in ROUTE_SEGMENTS {
        assert!(is_reserved(segment, &none), "{segment}");
        assert!(is_reserved(&segment.to_uppercase(), &none), "{segment}");
    }
    let preview = strife_gen::watch::PREVIEW_SEGMENT;
    assert_eq!(strife_gen::watch::PREVIEW_PREFIX, format!("/{preview}/"));
    assert!(strife_gen::watch::EVENTS_PATH.starts_with(strife_gen::watch::PREVIEW_PREFIX));
    assert!(is_reserved(preview, &none));
    assert!(!is_reserved("nelly", &none));
}

/// Everything a build puts at the top of the site, with every optional part switched on, is a
/// reserved name: a site output added later cannot be taken by a user whose build came first.
#[test]
fn every_top_level_output_of_a_build_is_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[site]\ntitle = \"Reserved\"\nbase_url = \"https://example.org/\"\nthemes_dir = \"{}\"\ncname = \"people.example.org\"\n",
        themes_dir().display()
    );
    std::fs::write(dir.path().join("strife.toml"), text).unwrap();
    let config = std::sync::Arc::new(Config::load(&dir.path().join("strife.toml")).unwrap());
    crate::support::site::render_offline_blocking(&config).unwrap();
    let none = HashSet::new();
    let mut outputs = Vec::new();
    for entry in std::fs::read_dir(&config.site.output_dir).unwrap() {
        outputs.push(entry.unwrap().file_name().to_string_lossy().into_owned());
    }
    // Profiles live under the folder of `page_path`, whether anyone is published or not.
    let profiles = strife_gen::site::profile::page_path(strife_gen::discord::models::Snowflake(1));
    outputs.push(profiles.split('/').next().unwrap().to_owned());
    assert!(outputs.iter().any(|name| name == "CNAME"), "{outputs:?}");
    for name in &outputs {
        assert!(is_reserved(name, &none), "{name} is not reserved");
    }
    assert!(reserved_names().count() > outputs.len());
}
