//! The browser's side of Discord's OAuth2: `/oauth2/authorize`, its checks of the query, the
//! interactive consent page, and the redirect back with a code or an error. Tokens live elsewhere.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use warp::http::Method;

use crate::http::{pairs, param, random_token, Req, Resp};
use crate::state::{PendingCode, State};
use crate::{FakeUser, CLIENT_ID};

/// Authorization codes are single use and short lived.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// Scopes Discord knows; anything else in `scope` makes the authorize request fail.
const KNOWN_SCOPES: &[&str] = &[
    "activities.read",
    "activities.write",
    "applications.builds.read",
    "applications.builds.upload",
    "applications.commands",
    "applications.commands.permissions.update",
    "applications.commands.update",
    "applications.entitlements",
    "applications.store.update",
    "bot",
    "connections",
    "dm_channels.read",
    "email",
    "gdm.join",
    "guilds",
    "guilds.channels.read",
    "guilds.join",
    "guilds.members.read",
    "identify",
    "messages.read",
    "openid",
    "relationships.read",
    "role_connections.write",
    "rpc",
    "rpc.activities.write",
    "rpc.notifications.read",
    "rpc.voice.read",
    "rpc.voice.write",
    "voice",
    "webhook.incoming",
];

/// A checked `/oauth2/authorize` request.
struct AuthorizeRequest {
    /// The `redirect_uri`, where the browser is sent back with a code or an error.
    location: url::Url,
    redirect_uri: String,
    scopes: Vec<String>,
    code_challenge: String,
    state: Option<String>,
}

/// Discord's checks of an authorize query; the `Err` is the 400 page.
fn parse_authorize(params: &[(String, String)]) -> Result<AuthorizeRequest, Resp> {
    check_client_id(params)?;
    let (location, redirect_uri) = redirect_location(params)?;
    check_response_type(params)?;
    let scopes = requested_scopes(params)?;
    let code_challenge = code_challenge(params)?;
    check_prompt(params)?;
    Ok(AuthorizeRequest {
        location,
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        code_challenge: code_challenge.to_owned(),
        state: param(params, "state").map(str::to_owned),
    })
}

/// `client_id` must be the fake application's.
fn check_client_id(params: &[(String, String)]) -> Result<(), Resp> {
    match param(params, "client_id") {
        Some(CLIENT_ID) => Ok(()),
        Some(_) => Err(Resp::text(400, "Unknown Application: invalid client_id")),
        None => Err(Resp::text(400, "Missing client_id")),
    }
}

/// `redirect_uri`, parsed (an http(s) URL with a host and no fragment) and as sent.
fn redirect_location(params: &[(String, String)]) -> Result<(url::Url, &str), Resp> {
    let Some(redirect_uri) = param(params, "redirect_uri") else {
        return Err(Resp::text(400, "Missing redirect_uri"));
    };
    match url::Url::parse(redirect_uri) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.has_host()
                && url.fragment().is_none() =>
        {
            Ok((url, redirect_uri))
        }
        _ => Err(Resp::text(400, "Invalid OAuth2 redirect_uri")),
    }
}

/// Only the authorization-code flow is offered.
fn check_response_type(params: &[(String, String)]) -> Result<(), Resp> {
    match param(params, "response_type") {
        Some("code") => Ok(()),
        Some(other) => Err(Resp::text(
            400,
            format!("Unsupported response_type {other:?}"),
        )),
        None => Err(Resp::text(400, "Missing response_type")),
    }
}

/// The space-separated `scope`: at least one, every one known to Discord.
fn requested_scopes(params: &[(String, String)]) -> Result<Vec<String>, Resp> {
    let scopes: Vec<String> = param(params, "scope")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err(Resp::text(400, "Missing scope"));
    }
    if let Some(bad) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(Resp::text(400, format!("Invalid scope: {bad}")));
    }
    Ok(scopes)
}

/// The PKCE `code_challenge`, which this fake requires, with method S256.
fn code_challenge(params: &[(String, String)]) -> Result<&str, Resp> {
    let Some(code_challenge) = param(params, "code_challenge") else {
        return Err(Resp::text(
            400,
            "Missing code_challenge (this fake requires PKCE)",
        ));
    };
    if !is_pkce_string(code_challenge) {
        return Err(Resp::text(400, "Invalid code_challenge"));
    }
    match param(params, "code_challenge_method") {
        Some("S256") => Ok(code_challenge),
        Some(other) => Err(Resp::text(
            400,
            format!("Unsupported code_challenge_method {other:?}: use S256"),
        )),
        None => Err(Resp::text(
            400,
            "Missing code_challenge_method (must be S256)",
        )),
    }
}

/// `prompt` is optional; Discord knows `consent` and `none`.
fn check_prompt(params: &[(String, String)]) -> Result<(), Resp> {
    match param(params, "prompt") {
        None | Some("consent") | Some("none") => Ok(()),
        Some(other) => Err(Resp::text(400, format!("Invalid prompt {other:?}"))),
    }
}

/// `GET /oauth2/authorize`: the redirect back at once, or (interactive) the consent page.
/// `POST` is that page's form: `decision=authorize` or `decision=cancel`.
pub(crate) fn authorize_route(state: &mut State, req: &Req) -> Resp {
    let request = match parse_authorize(&pairs(&req.query)) {
        Ok(request) => request,
        Err(resp) => return resp,
    };
    if std::mem::take(&mut state.deny_next) {
        return deny(request);
    }
    let user_id = match &state.login_as {
        Some(id) if state.users.contains_key(id) => id.clone(),
        Some(id) => {
            return Resp::text(
                400,
                format!("fake discord: login_as user {id} was never added (add_user)"),
            )
        }
        None => {
            return Resp::text(
                400,
                "fake discord: nobody is logged in (call FakeDiscord::login_as)",
            )
        }
    };
    if req.method == Method::GET {
        return if state.interactive {
            consent_page(&state.users[&user_id], &request, &req.query)
        } else {
            grant(state, user_id, request)
        };
    }
    let form = std::str::from_utf8(&req.body)
        .map(pairs)
        .unwrap_or_default();
    match param(&form, "decision") {
        Some("authorize") => grant(state, user_id, request),
        Some("cancel") => deny(request),
        _ => Resp::text(
            400,
            "fake discord: the form needs decision=authorize|cancel",
        ),
    }
}

/// Back to the application with `error=access_denied`.
fn deny(request: AuthorizeRequest) -> Resp {
    let mut location = request.location;
    {
        let mut query = location.query_pairs_mut();
        query.append_pair("error", "access_denied");
        query.append_pair(
            "error_description",
            "The resource owner or authorization server denied the request",
        );
        if let Some(s) = &request.state {
            query.append_pair("state", s);
        }
    }
    Resp::redirect(location.into())
}

/// Back to the application with a fresh authorization code for `user_id`.
fn grant(state: &mut State, user_id: String, request: AuthorizeRequest) -> Resp {
    let code = random_token(30);
    let now = Instant::now();
    state.codes.retain(|_, c| c.expires_at > now);
    state.codes.insert(
        code.clone(),
        PendingCode {
            user_id,
            scopes: request.scopes,
            redirect_uri: request.redirect_uri,
            code_challenge: request.code_challenge,
            expires_at: now + CODE_LIFETIME,
        },
    );
    let mut location = request.location;
    {
        let mut query = location.query_pairs_mut();
        query.append_pair("code", &code);
        if let Some(s) = &request.state {
            query.append_pair("state", s);
        }
    }
    Resp::redirect(location.into())
}

/// Discord's "An external application wants to access your account" page, reduced to what a
/// person reads and clicks. The form posts the same query back, so the request is checked again.
fn consent_page(user: &FakeUser, request: &AuthorizeRequest, raw_query: &str) -> Resp {
    use minijinja::HtmlEscape;
    let name = user.user["global_name"]
        .as_str()
        .or(user.user["username"].as_str())
        .unwrap_or("someone");
    let scopes: String = request
        .scopes
        .iter()
        .map(|scope| format!("<li>{}</li>", HtmlEscape(scope)))
        .collect();
    let action = format!("/oauth2/authorize?{raw_query}");
    let body = format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Discord | Authorize access to your account</title></head>
<body>
<h1>An external application wants to access your Discord account</h1>
<p>Signed in as <strong id="user">{name}</strong>.</p>
<p>This will allow the developer to:</p>
<ul id="scopes">{scopes}</ul>
<p>Once you authorize, you will be redirected to {redirect}.</p>
<form method="post" action="{action}">
<button type="submit" name="decision" value="cancel" id="cancel">Cancel</button>
<button type="submit" name="decision" value="authorize" id="authorize">Authorize</button>
</form>
</body>
</html>
"#,
        name = HtmlEscape(name),
        redirect = HtmlEscape(request.location.origin().ascii_serialization().as_str()),
        action = HtmlEscape(&action),
    );
    Resp {
        status: 200,
        headers: Vec::new(),
        content_type: "text/html; charset=utf-8",
        body: body.into_bytes(),
    }
}

/// The S256 challenge of a PKCE `verifier` (RFC 7636 §4.2).
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636: 43–128 characters of `[A-Za-z0-9-._~]`.
pub(crate) fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}
