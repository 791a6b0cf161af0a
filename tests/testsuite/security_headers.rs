//! The consent service's security headers, on every kind of answer.
//!
//! The landing page's form goes to `/login`, which redirects to Discord's authorize page, and
//! browsers check `form-action` against that redirect too: the policy must name exactly the
//! authorize URL's origin (and nothing wider), or signing in does nothing.

use crate::support::site::Site;
use warp::http::StatusCode;

/// The policy with `form_action` as its `form-action` sources; every other directive is fixed.
fn policy(form_action: &str) -> String {
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action {form_action}; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// The site with `authorize_url` set to `url` (or left at Discord's default for `None`).
async fn site_authorizing_at(url: Option<&str>) -> Site {
    Site::with(
        |text| {
            let kept: Vec<&str> = text
                .lines()
                .filter(|line| !line.starts_with("authorize_url"))
                .collect();
            let mut text = kept.join("\n");
            if let Some(url) = url {
                text = text.replace(
                    "[discord]\n",
                    &format!("[discord]\nauthorize_url = \"{url}\"\n"),
                );
            }
            text
        },
        |app| app,
    )
    .await
}

async fn csp(site: &Site, path: &str) -> (StatusCode, String) {
    let filter = strife_gen::server::routes(site.app.clone());
    let reply = warp::test::request().path(path).reply(&filter).await;
    let header = reply
        .headers()
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"))
        .to_str()
        .unwrap()
        .to_owned();
    (reply.status(), header)
}

#[tokio::test]
async fn form_action_allows_exactly_the_authorize_origin() {
    let site = site_authorizing_at(Some(
        "https://auth.example.org:8443/oauth2/authorize?locale=en#top",
    ))
    .await;
    let expected = policy("'self' https://auth.example.org:8443");
    for (path, status) in [
        ("/", StatusCode::OK),
        ("/login?publish=connections", StatusCode::SEE_OTHER),
        ("/delete", StatusCode::SEE_OTHER),
        ("/callback?state=nope&code=x", StatusCode::BAD_REQUEST),
        ("/healthz", StatusCode::OK),
        ("/no-such-page", StatusCode::NOT_FOUND),
    ] {
        assert_eq!(csp(&site, path).await, (status, expected.clone()), "{path}");
    }
    let filter = strife_gen::server::routes(site.app.clone());
    let login = warp::test::request().path("/login").reply(&filter).await;
    let location = login.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://auth.example.org:8443/"),
        "the redirect goes where the policy allows: {location}"
    );
}

#[tokio::test]
async fn the_origin_follows_the_configured_authorize_url() {
    // Discord's own (the default): the default port is not written.
    let discord = site_authorizing_at(None).await;
    assert_eq!(
        csp(&discord, "/").await.1,
        policy("'self' https://discord.com")
    );
    // The fake Discord of the other tests: plain HTTP on a loopback port.
    let fake = Site::new().await;
    let origin = fake.fake.base_url();
    assert!(origin.starts_with("http://127.0.0.1:"), "{origin}");
    assert_eq!(csp(&fake, "/").await.1, policy(&format!("'self' {origin}")));
    // An explicit default port is the same origin; an IPv6 host keeps its brackets.
    let explicit = site_authorizing_at(Some("https://discord.com:443/oauth2/authorize")).await;
    assert_eq!(
        csp(&explicit, "/").await.1,
        policy("'self' https://discord.com")
    );
    let ipv6 = site_authorizing_at(Some("http://[::1]:9000/authorize")).await;
    assert_eq!(csp(&ipv6, "/").await.1, policy("'self' http://[::1]:9000"));
}
