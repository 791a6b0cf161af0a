//! Exercises the fake Discord itself with plain HTTP, so that the tests that use it can trust it.
//! It checks the fake only: nothing of strife-gen is used here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fake_discord::{CdnAnswer, FakeDiscord, FakeUser, CLIENT_ID, CLIENT_SECRET};
use rand::distributions::Alphanumeric;
use rand::Rng;
use reqwest::{redirect, Client, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ALICE: &str = "80351110224678912";
const BOB: &str = "80351110224678913";
const REDIRECT: &str = "http://127.0.0.1:9/callback?from=test";

fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// A PKCE pair: (verifier, S256 challenge).
fn pkce() -> (String, String) {
    let verifier: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(64)
        .map(char::from)
        .collect();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

async fn discord() -> FakeDiscord {
    let discord = FakeDiscord::start().await;
    discord.add_user(
        FakeUser::new(ALICE, "alice")
            .with_connection(fake_discord::connection("github", "alice-gh"))
            .with_guild(fake_discord::guild("300000000000000002", "Second"))
            .with_guild(fake_discord::guild("300000000000000001", "First")),
    );
    discord.add_user(FakeUser::new(BOB, "bob"));
    discord.login_as(ALICE);
    discord
}

fn authorize_query(scope: &str, challenge: &str, state: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", CLIENT_ID.to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("response_type", "code".to_owned()),
        ("scope", scope.to_owned()),
        ("state", state.to_owned()),
        ("code_challenge", challenge.to_owned()),
        ("code_challenge_method", "S256".to_owned()),
        ("prompt", "consent".to_owned()),
    ]
}

/// Follows the authorize step and returns the query of the redirect back.
async fn authorize(discord: &FakeDiscord, scope: &str, challenge: &str) -> Vec<(String, String)> {
    let resp = client()
        .get(discord.authorize_url())
        .query(&authorize_query(scope, challenge, "st@te/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let url = url::Url::parse(&location).unwrap();
    assert_eq!(
        &location[..location.find('?').unwrap()],
        "http://127.0.0.1:9/callback"
    );
    url.query_pairs().into_owned().collect()
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn exchange(discord: &FakeDiscord, code: &str, verifier: &str) -> Response {
    client()
        .post(format!("{}/oauth2/token", discord.api_base()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

async fn refresh(discord: &FakeDiscord, refresh_token: &str) -> Response {
    client()
        .post(format!("{}/oauth2/token", discord.api_base()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap()
}

/// A complete login: the token response.
async fn login(discord: &FakeDiscord, scope: &str) -> Value {
    let (verifier, challenge) = pkce();
    let back = authorize(discord, scope, &challenge).await;
    let code = get(&back, "code").unwrap().to_owned();
    let resp = exchange(discord, &code, &verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

async fn api(discord: &FakeDiscord, path: &str, token: &str) -> Response {
    client()
        .get(format!("{}{path}", discord.api_base()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn status_and_json(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn full_flow_with_pkce() {
    let discord = discord().await;
    let (verifier, challenge) = pkce();
    let back = authorize(&discord, "identify guilds", &challenge).await;
    assert_eq!(get(&back, "from"), Some("test"), "redirect_uri query kept");
    assert_eq!(get(&back, "state"), Some("st@te/1"), "state echoed");
    let code = get(&back, "code").unwrap().to_owned();

    let params = discord.authorize_params();
    assert_eq!(params.len(), 1);
    assert!(params[0].contains(&("code_challenge".into(), challenge.clone())));
    assert!(params[0].contains(&("scope".into(), "identify guilds".into())));

    let resp = exchange(&discord, &code, &verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        !resp.headers().contains_key("x-ratelimit-limit"),
        "token endpoint has no rate-limit headers"
    );
    let token: Value = resp.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 604800);
    assert_eq!(token["scope"], "identify guilds");
    let access = token["access_token"].as_str().unwrap();
    assert_eq!(
        discord.refresh_token_of(ALICE).as_deref(),
        token["refresh_token"].as_str()
    );

    let (status, me) = status_and_json(api(&discord, "/users/@me", access).await).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], ALICE);
    assert_eq!(me["username"], "alice");
    assert_eq!(me["global_name"], "Alice");
    assert_eq!(me["discriminator"], "0");
    assert_eq!(me["avatar"], Value::Null);

    assert_eq!(discord.count("/oauth2/authorize"), 1);
    assert_eq!(discord.count("/oauth2/token"), 1);
    assert_eq!(discord.count("/users/@me"), 1);
    let recorded = discord.requests();
    assert_eq!(recorded[0].method, "GET");
    assert_eq!(recorded[0].status, 302);
    assert!(recorded[0].query.contains("code_challenge_method=S256"));
}

#[tokio::test]
async fn authorize_validates_its_parameters() {
    let discord = discord().await;
    let (_, challenge) = pkce();
    let cases: Vec<(&str, Option<&str>)> = vec![
        ("client_id", Some("999")),
        ("client_id", None),
        ("redirect_uri", Some("not a url")),
        ("redirect_uri", None),
        ("response_type", Some("token")),
        ("scope", Some("identify bogus")),
        ("scope", Some("")),
        ("code_challenge", None),
        ("code_challenge", Some("short")),
        ("code_challenge_method", Some("plain")),
        ("code_challenge_method", None),
        ("prompt", Some("always")),
    ];
    for (name, value) in cases {
        let mut query = authorize_query("identify", &challenge, "s");
        query.retain(|(k, _)| *k != name);
        if let Some(value) = value {
            query.push((name_static(name), value.to_owned()));
        }
        let resp = client()
            .get(discord.authorize_url())
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{name}={value:?}");
        assert!(!resp.text().await.unwrap().is_empty());
    }

    // Nobody logged in.
    let fresh = FakeDiscord::start().await;
    let resp = client()
        .get(fresh.authorize_url())
        .query(&authorize_query("identify", &challenge, "s"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Garbage does not hurt the server.
    let resp = client()
        .get(format!("{}?%zz=%%&&=", fresh.authorize_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(fresh.count_status(400), 2);
}

fn name_static(name: &str) -> &'static str {
    [
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "code_challenge",
        "code_challenge_method",
        "prompt",
    ]
    .into_iter()
    .find(|n| *n == name)
    .unwrap()
}

#[tokio::test]
async fn denied_consent_redirects_with_error() {
    let discord = discord().await;
    discord.deny_next_authorize();
    let (_, challenge) = pkce();
    let back = authorize(&discord, "identify", &challenge).await;
    assert_eq!(get(&back, "error"), Some("access_denied"));
    assert!(get(&back, "error_description").is_some());
    assert_eq!(get(&back, "state"), Some("st@te/1"));
    assert_eq!(get(&back, "code"), None);
    // Only the next one.
    let back = authorize(&discord, "identify", &challenge).await;
    assert!(get(&back, "code").is_some());
}

/// The interactive consent page: what a browser test clicks through.
#[tokio::test]
async fn interactive_authorize_shows_a_page_whose_buttons_decide() {
    let discord = discord().await;
    discord.authorize_interactively();
    let (verifier, challenge) = pkce();
    let query = authorize_query("identify connections", &challenge, "st@te/1");
    let page = client()
        .get(discord.authorize_url())
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<strong id="user">Alice</strong>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<ul id="scopes"><li>identify</li><li>connections</li></ul>"#),
        "{html}"
    );
    // The action is the authorize route with the query, HTML-escaped (`/` too).
    assert!(
        html.contains(r#"<form method="post" action="&#x2f;oauth2&#x2f;authorize?client_id="#),
        "{html}"
    );
    assert!(html.contains(r#"name="decision" value="authorize""#));
    assert!(html.contains(r#"name="decision" value="cancel""#));
    assert!(
        html.contains("&amp;"),
        "the query is escaped in the form: {html}"
    );
    assert!(!html.contains("code="), "no code before the person decides");

    // The form posts the same query back: "Authorize" redirects with a working code...
    let decide = |decision: &'static str| {
        client()
            .post(discord.authorize_url())
            .query(&query)
            .form(&[("decision", decision)])
            .send()
    };
    let approved = decide("authorize").await.unwrap();
    assert_eq!(approved.status(), StatusCode::FOUND);
    let back = url::Url::parse(approved.headers()["location"].to_str().unwrap()).unwrap();
    let back: Vec<(String, String)> = back.query_pairs().into_owned().collect();
    assert_eq!(get(&back, "state"), Some("st@te/1"));
    let code = get(&back, "code").unwrap();
    let token = exchange(&discord, code, &verifier).await;
    assert_eq!(token.status(), StatusCode::OK);
    let token: Value = token.json().await.unwrap();
    assert_eq!(token["scope"], "identify connections");

    // ...and "Cancel" with access_denied; anything else is refused.
    let cancelled = decide("cancel").await.unwrap();
    let back = url::Url::parse(cancelled.headers()["location"].to_str().unwrap()).unwrap();
    let back: Vec<(String, String)> = back.query_pairs().into_owned().collect();
    assert_eq!(get(&back, "error"), Some("access_denied"));
    assert_eq!(get(&back, "code"), None);
    assert_eq!(decide("maybe").await.unwrap().status(), 400);
    // Only the visit counts as an authorize request, not the form posting it back.
    assert_eq!(discord.authorize_params().len(), 1);

    // Without interactive mode the route redirects at once, and a POST is not allowed.
    let plain = self::discord().await;
    let resp = client()
        .post(plain.authorize_url())
        .query(&query)
        .form(&[("decision", "authorize")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn the_cdn_serves_a_real_png_for_known_avatars_only() {
    let discord = discord().await;
    let mut carol = FakeUser::new("80351110224678914", "carol");
    carol.user["avatar"] = json!("0123abcd");
    discord.add_user(carol);
    let fetch = |path: &str| {
        client()
            .get(format!("{}/{path}", discord.cdn_base()))
            .send()
    };
    for path in [
        "avatars/80351110224678914/0123abcd.png?size=128",
        "avatars/80351110224678914/0123abcd.webp?size=256",
        "embed/avatars/3.png",
    ] {
        let resp = fetch(path).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.headers()["content-type"], "image/png");
        let bytes = resp.bytes().await.unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{path}");
    }
    for path in [
        "avatars/80351110224678914/ffff.png",
        "avatars/80351110224678914/0123abcd.gif",
        "avatars/1/0123abcd.png",
        // Alice has no avatar at all.
        &format!("avatars/{ALICE}/null.png"),
        "embed/avatars/6.png",
        "splashes/80351110224678914/0123abcd.png",
        "avatar-decoration-presets/a_1.gif",
    ] {
        assert_eq!(fetch(path).await.unwrap().status(), 404, "{path}");
    }
    assert_eq!(discord.count_status(200), 3);
}

#[tokio::test]
async fn the_cdn_serves_every_kind_of_image_and_the_odd_answers_a_test_asks_for() {
    let discord = discord().await;
    let fetch = |path: String| {
        client()
            .get(format!("{}/{path}", discord.cdn_base()))
            .send()
    };
    let is_apng = |bytes: &[u8]| {
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.windows(4).any(|w| w == b"acTL")
    };
    for (path, kind) in [
        (
            "avatar-decoration-presets/a_d3c0.png?passthrough=false",
            "apng",
        ),
        ("guild-tag-badges/42/beef.png", "png"),
        (
            "assets/collectibles/nameplates/nameplates/twilight/static.png",
            "png",
        ),
        ("banners/42/5e4b.webp?size=512", "webp"),
        ("icons/42/1c0n.webp?size=64", "gif"),
    ] {
        let resp = fetch(path.to_owned()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let bytes = resp.bytes().await.unwrap();
        let ok = match kind {
            "apng" => is_apng(&bytes),
            "png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n") && !is_apng(&bytes),
            "webp" => bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP",
            _ => bytes.starts_with(b"GIF89a"),
        };
        assert!(ok, "{path} is no {kind}");
    }
    let badge = "guild-tag-badges/42/beef.png";
    discord.set_cdn_answer(badge, CdnAnswer::NotAnImage);
    let resp = fetch(badge.to_owned()).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert!(resp.bytes().await.unwrap().starts_with(b"<!doctype html>"));
    discord.set_cdn_answer(badge, CdnAnswer::Oversized);
    let resp = fetch(badge.to_owned()).await.unwrap();
    assert!(resp.content_length().unwrap() > 8 * 1024 * 1024);
    for (answer, status) in [(CdnAnswer::NotFound, 404), (CdnAnswer::Unavailable, 503)] {
        discord.set_cdn_answer(badge, answer);
        assert_eq!(fetch(badge.to_owned()).await.unwrap().status(), status);
    }
    discord.clear_cdn_answer(badge);
    assert_eq!(fetch(badge.to_owned()).await.unwrap().status(), 200);
}

#[tokio::test]
async fn code_needs_the_right_verifier_and_is_single_use() {
    let discord = discord().await;
    let (verifier, challenge) = pkce();
    let back = authorize(&discord, "identify", &challenge).await;
    let code = get(&back, "code").unwrap().to_owned();

    let (other_verifier, _) = pkce();
    let (status, body) = status_and_json(exchange(&discord, &code, &other_verifier).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Invalid \"code\" in request."})
    );

    // A different redirect_uri is refused too.
    let resp = client()
        .post(format!("{}/oauth2/token", discord.api_base()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(resp).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let resp = exchange(&discord, &code, &verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);

    let (status, body) = status_and_json(exchange(&discord, &code, &verifier).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");

    let (status, body) = status_and_json(exchange(&discord, "made-up", &verifier).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn token_endpoint_checks_client_content_type_and_grant() {
    let discord = discord().await;
    let url = format!("{}/oauth2/token", discord.api_base());
    let form = [("grant_type", "refresh_token"), ("refresh_token", "x")];

    let resp = client()
        .post(&url)
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_json(resp).await,
        (401, json!({"error": "invalid_client"}))
    );

    let resp = client().post(&url).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "no client auth");

    // Credentials in the form are accepted.
    let resp = client()
        .post(&url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(resp).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let resp = client()
        .post(&url)
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .json(&json!({"grant_type": "refresh_token", "refresh_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "JSON body refused");

    let resp = client()
        .post(&url)
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(resp).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    let resp = client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token() {
    let discord = discord().await;
    discord.set_access_token_lifetime(3600);
    let first = login(&discord, "identify").await;
    assert_eq!(first["expires_in"], 3600);
    let old = first["refresh_token"].as_str().unwrap();

    let (status, second) = status_and_json(refresh(&discord, old).await).await;
    assert_eq!(status, 200);
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(second["scope"], "identify");
    let new = second["refresh_token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(discord.refresh_token_of(ALICE).as_deref(), Some(new));

    let (status, body) = status_and_json(refresh(&discord, old).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Invalid \"refresh_token\" in request"})
    );

    let access = second["access_token"].as_str().unwrap();
    assert_eq!(api(&discord, "/users/@me", access).await.status(), 200);
}

#[tokio::test]
async fn revoke_ends_the_authorization() {
    let discord = discord().await;
    let token = login(&discord, "identify").await;
    let access = token["access_token"].as_str().unwrap();
    let refresh_token = token["refresh_token"].as_str().unwrap();
    assert_eq!(api(&discord, "/users/@me", access).await.status(), 200);

    let resp = client()
        .post(format!("{}/oauth2/token/revoke", discord.api_base()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_json(resp).await, (200, json!({})));
    assert_eq!(discord.revoked_count(), 1);

    let (status, body) = status_and_json(api(&discord, "/users/@me", access).await).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"message": "401: Unauthorized", "code": 0}));
    let (status, body) = status_and_json(refresh(&discord, refresh_token).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(discord.refresh_token_of(ALICE), None);

    // Revoking by access token works the same way.
    let token = login(&discord, "identify").await;
    let access = token["access_token"].as_str().unwrap();
    let resp = client()
        .post(format!("{}/oauth2/token/revoke", discord.api_base()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let refresh_token = token["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&discord, refresh_token).await.status(), 400);
    assert_eq!(discord.revoked_count(), 2);
}

#[tokio::test]
async fn users_endpoints_need_a_token_and_scopes() {
    let discord = discord().await;
    let narrow = login(&discord, "identify").await;
    let narrow = narrow["access_token"].as_str().unwrap();
    let wide = login(&discord, "identify connections guilds").await;
    let wide = wide["access_token"].as_str().unwrap();

    let resp = client()
        .get(format!("{}/users/@me", discord.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_json(resp).await,
        (401, json!({"message": "401: Unauthorized", "code": 0}))
    );
    assert_eq!(api(&discord, "/users/@me", "garbage").await.status(), 401);

    for path in ["/users/@me/connections", "/users/@me/guilds"] {
        let (status, body) = status_and_json(api(&discord, path, narrow).await).await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(body, json!({"message": "Missing Access", "code": 50001}));
    }

    let (status, connections) =
        status_and_json(api(&discord, "/users/@me/connections", wide).await).await;
    assert_eq!(status, 200);
    assert_eq!(connections[0]["type"], "github");
    assert_eq!(connections[0]["visibility"], 1);

    let (status, guilds) = status_and_json(api(&discord, "/users/@me/guilds", wide).await).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = guilds
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["First", "Second"], "sorted by id");

    discord.update_user(ALICE, json!({"username": "alicia", "global_name": null}));
    discord.set_connections(ALICE, vec![]);
    let (_, me) = status_and_json(api(&discord, "/users/@me", wide).await).await;
    assert_eq!(me["username"], "alicia");
    assert_eq!(me["global_name"], Value::Null);
    assert_eq!(me["id"], ALICE);
    let (_, connections) =
        status_and_json(api(&discord, "/users/@me/connections", wide).await).await;
    assert_eq!(connections, json!([]));

    let resp = client()
        .get(format!("{}/users/@me/nothing", discord.api_base()))
        .bearer_auth(wide)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.headers().contains_key("x-ratelimit-bucket"));
    let resp = client()
        .delete(format!("{}/users/@me", discord.api_base()))
        .bearer_auth(wide)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let resp = client()
        .get(format!("{}/channels/1", discord.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_json(resp).await,
        (404, json!({"message": "404: Not Found", "code": 0}))
    );
}

#[tokio::test]
async fn guilds_paginate() {
    let discord = discord().await;
    let guilds = (0..250u64)
        .rev()
        .map(|i| fake_discord::guild(&(400000000000000000 + i).to_string(), &format!("g{i}")))
        .collect();
    discord.set_guilds(BOB, guilds);
    discord.login_as(BOB);
    let token = login(&discord, "identify guilds").await;
    let token = token["access_token"].as_str().unwrap();

    let (status, page) = status_and_json(api(&discord, "/users/@me/guilds", token).await).await;
    assert_eq!(status, 200);
    let page = page.as_array().unwrap();
    assert_eq!(page.len(), 200);
    assert_eq!(page[0]["id"], "400000000000000000");
    let last = page[199]["id"].as_str().unwrap();
    assert_eq!(last, "400000000000000199");

    let (_, next) =
        status_and_json(api(&discord, &format!("/users/@me/guilds?after={last}"), token).await)
            .await;
    let next = next.as_array().unwrap();
    assert_eq!(next.len(), 50);
    assert_eq!(next[0]["id"], "400000000000000200");

    let (_, before) = status_and_json(
        api(
            &discord,
            "/users/@me/guilds?before=400000000000000010&limit=3",
            token,
        )
        .await,
    )
    .await;
    let ids: Vec<&str> = before
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "400000000000000007",
            "400000000000000008",
            "400000000000000009"
        ]
    );

    let (_, counted) = status_and_json(
        api(
            &discord,
            "/users/@me/guilds?limit=1&with_counts=true",
            token,
        )
        .await,
    )
    .await;
    assert!(counted[0]["approximate_member_count"].is_number());

    for query in ["limit=0", "limit=201", "limit=abc", "after=xyz"] {
        let (status, body) =
            status_and_json(api(&discord, &format!("/users/@me/guilds?{query}"), token).await)
                .await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["code"], 50035);
        assert_eq!(body["message"], "Invalid Form Body");
    }
}

#[tokio::test]
async fn rate_limit_headers_and_429() {
    let discord = discord().await;
    let token = login(&discord, "identify connections").await;
    let token = token["access_token"].as_str().unwrap();

    let resp = api(&discord, "/users/@me/connections", token).await;
    let headers = resp.headers();
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-ratelimit-bucket",
    ] {
        assert!(headers.contains_key(name), "{name}");
    }
    assert_eq!(headers["x-ratelimit-limit"], "1000");
    assert_eq!(headers["x-ratelimit-remaining"], "999");
    let reset: f64 = headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > 1.6e9);

    discord.set_rate_limit("/users/@me", 2, 30.0);
    let first = api(&discord, "/users/@me", token).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ratelimit-limit"], "2");
    assert_eq!(first.headers()["x-ratelimit-remaining"], "1");
    let second = api(&discord, "/users/@me", token).await;
    assert_eq!(second.headers()["x-ratelimit-remaining"], "0");
    let third = api(&discord, "/users/@me", token).await;
    assert_eq!(third.status(), 429);
    assert_eq!(third.headers()["x-ratelimit-scope"], "user");
    assert!(!third.headers().contains_key("x-ratelimit-global"));
    let retry_header: u64 = third.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_header >= 1);
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["message"], "You are being rate limited.");
    assert_eq!(body["global"], false);
    assert!(body["retry_after"].as_f64().unwrap() > 0.0);

    // Other routes and other tokens have their own buckets.
    assert_eq!(
        api(&discord, "/users/@me/connections", token)
            .await
            .status(),
        200
    );
    let other = login(&discord, "identify").await;
    let other = other["access_token"].as_str().unwrap();
    assert_eq!(api(&discord, "/users/@me", other).await.status(), 200);

    // A short window really resets.
    discord.set_rate_limit("/users/@me", 1, 0.2);
    assert_eq!(api(&discord, "/users/@me", token).await.status(), 200);
    assert_eq!(api(&discord, "/users/@me", token).await.status(), 429);
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert_eq!(api(&discord, "/users/@me", token).await.status(), 200);
}

#[tokio::test]
async fn forced_429s() {
    let discord = discord().await;
    let token = login(&discord, "identify").await;
    let token = token["access_token"].as_str().unwrap();

    discord.force_429("/users/@me", 1, 2.5, true);
    let resp = api(&discord, "/users/@me", token).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["x-ratelimit-global"], "true");
    assert_eq!(resp.headers()["x-ratelimit-scope"], "global");
    assert_eq!(resp.headers()["retry-after"], "3");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["retry_after"], 2.5);
    assert_eq!(body["global"], true);

    discord.force_429("/users/@me", 1, 0.5, false);
    let resp = api(&discord, "/users/@me", token).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["x-ratelimit-scope"], "user");
    assert!(resp.headers().contains_key("x-ratelimit-bucket"));

    assert_eq!(api(&discord, "/users/@me", token).await.status(), 200);
    assert_eq!(discord.count_status(429), 2);
}

#[tokio::test]
async fn failure_injection() {
    let discord = discord().await;
    let token = login(&discord, "identify").await;
    let access = token["access_token"].as_str().unwrap();

    discord.fail_next("/users/@me", 502, 2);
    for _ in 0..2 {
        let (status, body) = status_and_json(api(&discord, "/users/@me", access).await).await;
        assert_eq!(status, 502);
        assert_eq!(body["code"], 0);
        assert!(body["message"].as_str().unwrap().starts_with("502"));
    }
    assert_eq!(api(&discord, "/users/@me", access).await.status(), 200);
    assert_eq!(discord.count_status(502), 2);

    discord.fail_next("/oauth2/token", 500, 1);
    let refresh_token = token["refresh_token"].as_str().unwrap();
    let (status, body) = status_and_json(refresh(&discord, refresh_token).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("server_error"))
    );
    // The failed attempt did not use up the refresh token.
    assert_eq!(refresh(&discord, refresh_token).await.status(), 200);

    discord.set_malformed_body("/users/@me", 2);
    for _ in 0..2 {
        let resp = api(&discord, "/users/@me", access).await;
        assert_eq!(resp.status(), 200);
        let parsed = resp.json::<Value>().await;
        assert!(parsed.map(|v| !v.is_object()).unwrap_or(true));
    }
    assert!(api(&discord, "/users/@me", access)
        .await
        .json::<Value>()
        .await
        .unwrap()
        .is_object());
}

#[tokio::test]
async fn deauthorize_and_expiry_kill_tokens() {
    let discord = discord().await;
    let token = login(&discord, "identify").await;
    let access = token["access_token"].as_str().unwrap();
    let refresh_token = token["refresh_token"].as_str().unwrap();

    discord.expire_access_tokens(ALICE);
    assert_eq!(api(&discord, "/users/@me", access).await.status(), 401);
    let (status, renewed) = status_and_json(refresh(&discord, refresh_token).await).await;
    assert_eq!(status, 200);
    let access = renewed["access_token"].as_str().unwrap();
    let refresh_token = renewed["refresh_token"].as_str().unwrap();
    assert_eq!(api(&discord, "/users/@me", access).await.status(), 200);

    discord.deauthorize(ALICE);
    assert_eq!(api(&discord, "/users/@me", access).await.status(), 401);
    let (status, body) = status_and_json(refresh(&discord, refresh_token).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(discord.refresh_token_of(ALICE), None);

    // A zero lifetime hands out tokens that are already expired.
    discord.set_access_token_lifetime(0);
    let token = login(&discord, "identify").await;
    assert_eq!(token["expires_in"], 0);
    let access = token["access_token"].as_str().unwrap();
    assert_eq!(api(&discord, "/users/@me", access).await.status(), 401);
}

#[tokio::test]
async fn serves_while_the_test_thread_blocks_and_stops_when_dropped() {
    use std::io::{Read, Write};

    let discord = discord().await;
    let addr = discord.base_url().trim_start_matches("http://").to_owned();
    // Blocking I/O on the (single) runtime thread: the fake has a thread of its own.
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /api/v10/users/@me HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("x-ratelimit-bucket"));

    let clone = discord.clone();
    drop(discord);
    assert_eq!(clone.count("/users/@me"), 1, "clones share the state");
    drop(clone);
    let mut stopped = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(&addr).is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        stopped,
        "server still listening after the last handle was dropped"
    );
}

/// The `oauth2` crate the service uses understands the fake's answers.
#[tokio::test]
async fn works_with_the_oauth2_crate() {
    use oauth2::basic::BasicClient;
    use oauth2::{
        AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
        RedirectUrl, RequestTokenError, RevocationUrl, Scope, TokenResponse, TokenUrl,
    };

    let discord = discord().await;
    let http = client();
    let oauth = BasicClient::new(ClientId::new(CLIENT_ID.to_owned()))
        .set_client_secret(ClientSecret::new(CLIENT_SECRET.to_owned()))
        .set_auth_uri(AuthUrl::new(discord.authorize_url()).unwrap())
        .set_token_uri(TokenUrl::new(format!("{}/oauth2/token", discord.api_base())).unwrap())
        .set_revocation_url(
            RevocationUrl::new(format!("{}/oauth2/token/revoke", discord.api_base())).unwrap(),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = oauth
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("identify".to_owned()))
        .add_scope(Scope::new("guilds".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let resp = http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let back: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert_eq!(get(&back, "state"), Some(csrf.secret().as_str()));
    let code = get(&back, "code").unwrap().to_owned();

    let token = oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(
        token.expires_in(),
        Some(std::time::Duration::from_secs(604800))
    );
    let scopes: Vec<String> = token
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["identify", "guilds"]);
    let old_refresh = token.refresh_token().unwrap().clone();

    let renewed = oauth
        .exchange_refresh_token(&old_refresh)
        .request_async(&http)
        .await
        .unwrap();
    let err = oauth
        .exchange_refresh_token(&old_refresh)
        .request_async(&http)
        .await
        .unwrap_err();
    match err {
        RequestTokenError::ServerResponse(e) => {
            assert_eq!(e.error().to_string(), "invalid_grant")
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }

    // oauth2 5 refuses a non-https revocation URL (RFC 7009), with no opt-out: against this
    // http fake, revoke with a plain form POST.
    let new_refresh = renewed.refresh_token().unwrap().clone();
    assert!(oauth.revoke_token(new_refresh.clone().into()).is_err());
    let resp = http
        .post(format!("{}/oauth2/token/revoke", discord.api_base()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("token", new_refresh.secret().as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(discord.revoked_count(), 1);
    let access = renewed.access_token().secret();
    assert_eq!(api(&discord, "/users/@me", access).await.status(), 401);
}

const GUILD: &str = "400000000000000001";

/// `method` on `path` of the API with `Authorization: Bot <token>`: status and body.
async fn bot_call(
    discord: &FakeDiscord,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = client()
        .request(method, format!("{}{path}", discord.api_base()))
        .header("authorization", format!("Bot {token}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, body, headers)
}

async fn join(discord: &FakeDiscord, access: &str, roles: &[&str]) -> (u16, Value) {
    let body = json!({ "access_token": access, "roles": roles });
    let path = format!("/guilds/{GUILD}/members/{ALICE}");
    let (status, body, _) = bot_call(
        discord,
        reqwest::Method::PUT,
        &path,
        fake_discord::BOT_TOKEN,
        Some(body),
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn the_bot_sees_its_server_with_its_own_token_and_buckets() {
    let discord = discord().await;
    discord.add_guild(GUILD, "Synth Club");
    let path = format!("/guilds/{GUILD}");
    let get = reqwest::Method::GET;
    let (status, body, headers) =
        bot_call(&discord, get.clone(), &path, fake_discord::BOT_TOKEN, None).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("Synth Club")));
    assert!(headers.contains_key("x-ratelimit-bucket"));
    let (status, body, _) = bot_call(&discord, get.clone(), &path, "wrong", None).await;
    assert_eq!((status, body["code"].as_u64()), (401, Some(0)));
    // A user's bearer token is not the bot's.
    let resp = api(&discord, &path, fake_discord::BOT_TOKEN).await;
    assert_eq!(resp.status().as_u16(), 404);
    let (status, body, _) = bot_call(
        &discord,
        get.clone(),
        "/guilds/1",
        fake_discord::BOT_TOKEN,
        None,
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (404, Some(10004)));
    discord.remove_bot(GUILD);
    let (status, body, _) = bot_call(&discord, get, &path, fake_discord::BOT_TOKEN, None).await;
    assert_eq!((status, body["code"].as_u64()), (403, Some(50001)));
}

#[tokio::test]
async fn the_bot_adds_a_member_once_with_their_guilds_join_token() {
    let discord = discord().await;
    discord.add_guild(GUILD, "Synth Club");
    let without = login(&discord, "identify").await;
    let (status, body) = join(&discord, without["access_token"].as_str().unwrap(), &[]).await;
    assert_eq!((status, body["code"].as_u64()), (403, Some(50025)));
    let with = login(&discord, "identify guilds.join").await;
    let access = with["access_token"].as_str().unwrap();
    let (status, body) = join(&discord, access, &["500"]).await;
    assert_eq!((status, body["user"]["id"].as_str()), (201, Some(ALICE)));
    assert_eq!(join(&discord, access, &["500"]).await.0, 204);
    assert_eq!(
        discord.joins(GUILD),
        vec![(ALICE.to_owned(), vec!["500".to_owned()])]
    );
}

#[tokio::test]
async fn adding_a_member_fails_with_discords_error_codes() {
    let discord = discord().await;
    discord.add_guild(GUILD, "Synth Club");
    let with = login(&discord, "identify guilds.join").await;
    let access = with["access_token"].as_str().unwrap();
    discord.fill_servers_of(ALICE, GUILD);
    assert_eq!(join(&discord, access, &[]).await.1["code"], 30001);
    discord.ban(GUILD, ALICE);
    let (status, body) = join(&discord, access, &[]).await;
    assert_eq!((status, body["code"].as_u64()), (403, Some(40007)));
    discord.revoke_manage_roles(GUILD);
    assert_eq!(join(&discord, access, &["500"]).await.1["code"], 50013);
    discord.revoke_invite_permission(GUILD);
    assert_eq!(join(&discord, access, &[]).await.1["code"], 50013);
    discord.remove_bot(GUILD);
    assert_eq!(join(&discord, access, &[]).await.1["code"], 50001);
    assert!(discord.joins(GUILD).is_empty());
}

#[tokio::test]
async fn the_bot_sends_direct_messages_unless_they_are_closed() {
    let discord = discord().await;
    let post = reqwest::Method::POST;
    let token = fake_discord::BOT_TOKEN;
    let open = |user: &str| json!({ "recipient_id": user });
    let (status, channel, headers) = bot_call(
        &discord,
        post.clone(),
        "/users/@me/channels",
        token,
        Some(open(ALICE)),
    )
    .await;
    assert_eq!(status, 200, "{channel}");
    assert!(headers.contains_key("x-ratelimit-bucket"));
    let id = channel["id"].as_str().unwrap().to_owned();
    let (_, again, _) = bot_call(
        &discord,
        post.clone(),
        "/users/@me/channels",
        token,
        Some(open(ALICE)),
    )
    .await;
    assert_eq!(again["id"].as_str(), Some(id.as_str()), "the same channel");
    let messages = format!("/channels/{id}/messages");
    let say = |content: &str| json!({ "content": content });
    let (status, _, _) = bot_call(&discord, post.clone(), &messages, token, Some(say("hi"))).await;
    assert_eq!(status, 200);
    let too_long = "x".repeat(2001);
    let (status, body, _) = bot_call(
        &discord,
        post.clone(),
        &messages,
        token,
        Some(say(&too_long)),
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(50035)));
    let (status, _, _) = bot_call(&discord, post.clone(), &messages, "wrong", Some(say("x"))).await;
    assert_eq!(status, 401);
    discord.close_dms(ALICE);
    let (status, body, _) =
        bot_call(&discord, post.clone(), &messages, token, Some(say("x"))).await;
    assert_eq!((status, body["code"].as_u64()), (403, Some(50007)));
    assert_eq!(discord.messages(), [(ALICE.to_owned(), "hi".to_owned())]);
    let (status, _, _) = bot_call(
        &discord,
        post,
        "/users/@me/channels",
        token,
        Some(open("1")),
    )
    .await;
    assert_eq!(status, 400, "no such user");
}
