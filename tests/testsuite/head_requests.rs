//! `HEAD` is answered like `GET` without a body on every page route of the consent service, and
//! never does what only a real visit may do: `HEAD /callback` (a link prefetcher, a chat client's
//! preview) must not burn a sign-in.

use crate::support::site::{header, Site};
use strife_gen::jobs::Trigger;
use strife_gen::server::routes;
use warp::http::StatusCode;

/// `HEAD path` answers what `GET path` answers, without the body but with its length.
async fn assert_head_like_get(site: &Site, path: &str) {
    let get = site.request("GET", path).await;
    let head = site.request("HEAD", path).await;
    assert_eq!(head.status(), get.status(), "HEAD {path}");
    assert!(head.body().is_empty(), "HEAD {path} sent a body");
    assert_eq!(
        head.headers()
            .get("content-length")
            .map(|v| v.to_str().unwrap()),
        Some(get.body().len().to_string().as_str()),
        "HEAD {path}: the length of the GET body"
    );
    for name in ["content-type", "cache-control", "x-content-type-options"] {
        assert_eq!(
            head.headers().get(name),
            get.headers().get(name),
            "HEAD {path}: {name}"
        );
    }
}

/// The hashed name of the theme's stylesheet, as the landing page links it.
async fn stylesheet(site: &Site) -> String {
    let landing = site.request("GET", "/").await;
    let html = String::from_utf8_lossy(landing.body()).into_owned();
    let at = html
        .find("/static/")
        .expect("the landing page links a stylesheet");
    html[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn head_answers_like_get_on_every_page_route() {
    let site = Site::with_ada().await;
    let job = site.app.service().jobs().submit(Trigger::Render);
    let static_file = stylesheet(&site).await;
    for path in [
        "/",
        "/login",
        "/login?publish=guilds",
        "/login?publish=email",
        "/delete",
        "/healthz",
        static_file.as_str(),
        "/static/missing.0000.css",
        &format!("/webhooks/jobs/{job}"),
        "/webhooks/jobs/unknown",
        "/no/such/page",
    ] {
        assert_head_like_get(&site, path).await;
    }
    assert_eq!(site.request("HEAD", "/healthz").await.status(), 200);
    assert_eq!(site.request("HEAD", &static_file).await.status(), 200);
}

#[tokio::test]
async fn head_on_a_post_route_is_still_not_allowed() {
    let site = Site::new().await;
    for path in ["/webhooks/discord", "/webhooks/refresh"] {
        let head = site.request("HEAD", path).await;
        assert_eq!(head.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert!(head.body().is_empty());
    }
}

#[tokio::test]
async fn head_on_the_callback_does_not_use_up_the_sign_in() {
    let site = Site::with_ada().await;
    let started = site.request("GET", "/login").await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let cookie = header(&started, "set-cookie");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let back = site.discord_redirect(&header(&started, "location")).await;
    let callback = back
        .strip_prefix("https://profiles.example.org")
        .expect("redirected to our callback")
        .to_owned();

    // A prefetcher follows the link first, with the browser's cookie even.
    let filter = routes(site.app.clone());
    let head = warp::test::request()
        .method("HEAD")
        .path(&callback)
        .header("cookie", &cookie)
        .reply(&filter)
        .await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.body().is_empty());
    assert_eq!(
        header(&head, "content-type"),
        "text/html; charset=utf-8",
        "the type a GET answers with"
    );
    assert!(
        head.headers().get("content-length").is_none(),
        "the length of a page that was not made is not known"
    );
    assert!(
        head.headers().get("set-cookie").is_none(),
        "the sign-in cookie is kept"
    );
    assert_eq!(site.fake.count("/oauth2/token"), 0, "no code exchange");
    assert_eq!(site.app.remembered_login_states(), 0, "the state is unused");

    // The browser's own visit still completes the sign-in.
    let answer = warp::test::request()
        .path(&callback)
        .header("cookie", &cookie)
        .reply(&filter)
        .await;
    let body = String::from_utf8_lossy(answer.body());
    assert_eq!(answer.status(), StatusCode::OK, "{body}");
    assert!(body.contains("/u/81384788765712384/"), "{body}");
    assert_eq!(site.fake.count("/oauth2/token"), 1);
}

/// Through hyper on a real socket: the length of a `HEAD` answer is the `GET` body's, and no
/// body bytes follow the headers (the next answer on the connection starts right after them).
#[tokio::test]
async fn head_over_tcp_sends_headers_only() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let site = Site::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let worker = site.service.spawn_background_builds();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(strife_gen::server::serve_until(
        site.app.clone(),
        listener,
        worker,
        async move {
            let _ = stopped.await;
        },
    ));
    let get = reqwest::get(format!("http://{address}/")).await.unwrap();
    let length = get.bytes().await.unwrap().len();
    assert!(length > 0);

    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    socket
        .write_all(
            b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut received = Vec::new();
    socket.read_to_end(&mut received).await.unwrap();
    let received = String::from_utf8_lossy(&received).into_owned();
    let (head, rest) = received.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{received}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {length}")),
        "{head}"
    );
    assert!(
        rest.starts_with("HTTP/1.1 200"),
        "no body after HEAD: {rest}"
    );
    assert!(rest.ends_with("ok"), "{rest}");
    stop.send(()).unwrap();
    service.await.unwrap().expect("a clean stop");
}
