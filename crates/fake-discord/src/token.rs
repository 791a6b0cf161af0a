//! The server's side of Discord's OAuth2: `/oauth2/token` (code exchange, refresh with a rotated
//! refresh token) and `/oauth2/token/revoke`, with client authentication. No browser pages here.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::authorize::{is_pkce_string, pkce_challenge};
use crate::http::{oauth_error, pairs, param, random_token, Req, Resp};
use crate::state::{AccessToken, Authorization, State};
use crate::{CLIENT_ID, CLIENT_SECRET};

/// `text` with its percent-escapes decoded, as form-urlencoding does.
fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// HTTP Basic (id and secret form-urlencoded, RFC 6749 §2.3.1) or `client_id`/`client_secret` in
/// the form.
fn client_authenticated(req: &Req, form: &[(String, String)]) -> bool {
    if let Some(auth) = req.header("authorization") {
        let Some((scheme, encoded)) = auth.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((id, secret)) = decoded.split_once(':') else {
            return false;
        };
        return percent_decode(id) == CLIENT_ID && percent_decode(secret) == CLIENT_SECRET;
    }
    param(form, "client_id") == Some(CLIENT_ID)
        && param(form, "client_secret") == Some(CLIENT_SECRET)
}

/// Parses the form after checking the content type and the client; the `Err` is the answer.
fn oauth_form(req: &Req) -> Result<Vec<(String, String)>, Resp> {
    let form_type = req
        .header("content-type")
        .and_then(|ct| ct.split(';').next())
        .map(|ct| {
            ct.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
        .unwrap_or(false);
    if !form_type {
        return Err(oauth_error(
            400,
            "invalid_request",
            Some("Content-Type must be application/x-www-form-urlencoded"),
        ));
    }
    let Ok(body) = std::str::from_utf8(&req.body) else {
        return Err(oauth_error(
            400,
            "invalid_request",
            Some("Body is not UTF-8"),
        ));
    };
    let form = pairs(body);
    if !client_authenticated(req, &form) {
        return Err(oauth_error(401, "invalid_client", None));
    }
    Ok(form)
}

/// `POST /oauth2/token`: a code exchange or a refresh.
pub(crate) fn token_route(state: &mut State, req: &Req) -> Resp {
    let form = match oauth_form(req) {
        Ok(form) => form,
        Err(resp) => return resp,
    };
    match param(&form, "grant_type") {
        Some("authorization_code") => exchange_code(state, &form),
        Some("refresh_token") => refresh(state, &form),
        Some(_) => oauth_error(400, "unsupported_grant_type", None),
        None => oauth_error(
            400,
            "invalid_request",
            Some("Missing \"grant_type\" in request."),
        ),
    }
}

/// `grant_type=authorization_code`: a code, its redirect URI and its PKCE verifier buy tokens.
fn exchange_code(state: &mut State, form: &[(String, String)]) -> Resp {
    const BAD_CODE: &str = "Invalid \"code\" in request.";
    let Some(code) = param(form, "code") else {
        return oauth_error(400, "invalid_request", Some("Missing \"code\" in request."));
    };
    let Some(pending) = state.codes.get(code) else {
        return oauth_error(400, "invalid_grant", Some(BAD_CODE));
    };
    if pending.expires_at <= Instant::now() {
        state.codes.remove(code);
        return oauth_error(400, "invalid_grant", Some(BAD_CODE));
    }
    if param(form, "redirect_uri") != Some(pending.redirect_uri.as_str()) {
        return oauth_error(
            400,
            "invalid_grant",
            Some("Invalid \"redirect_uri\" in request."),
        );
    }
    let verified = param(form, "code_verifier")
        .is_some_and(|v| is_pkce_string(v) && pkce_challenge(v) == pending.code_challenge);
    if !verified {
        return oauth_error(400, "invalid_grant", Some(BAD_CODE));
    }
    let Some(pending) = state.codes.remove(code) else {
        return oauth_error(400, "invalid_grant", Some(BAD_CODE));
    };
    let access = new_access_token(state.access_lifetime);
    let refresh_token = random_token(30);
    let body = token_body(
        &access.0,
        state.access_lifetime,
        &refresh_token,
        &pending.scopes,
    );
    state.authorizations.push(Authorization {
        user_id: pending.user_id,
        scopes: pending.scopes,
        refresh_token,
        access: vec![access.1],
        alive: true,
    });
    Resp::json(200, &body)
}

/// `grant_type=refresh_token`: a new access token and a new refresh token (the old one dies).
fn refresh(state: &mut State, form: &[(String, String)]) -> Resp {
    let Some(token) = param(form, "refresh_token") else {
        return oauth_error(
            400,
            "invalid_request",
            Some("Missing \"refresh_token\" in request."),
        );
    };
    let lifetime = state.access_lifetime;
    let Some(auth) = state
        .authorizations
        .iter_mut()
        .find(|a| a.alive && a.refresh_token == token)
    else {
        return oauth_error(
            400,
            "invalid_grant",
            Some("Invalid \"refresh_token\" in request"),
        );
    };
    let (access_token, access) = new_access_token(lifetime);
    auth.refresh_token = random_token(30);
    auth.access.push(access);
    Resp::json(
        200,
        &token_body(&access_token, lifetime, &auth.refresh_token, &auth.scopes),
    )
}

/// A fresh access token living `lifetime` seconds.
fn new_access_token(lifetime: u64) -> (String, AccessToken) {
    let token = random_token(30);
    let expires_at = Instant::now()
        .checked_add(Duration::from_secs(lifetime))
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(10 * 365 * 86_400));
    (token.clone(), AccessToken { token, expires_at })
}

/// Discord's token response.
fn token_body(access: &str, expires_in: u64, refresh: &str, scopes: &[String]) -> Value {
    json!({
        "token_type": "Bearer",
        "access_token": access,
        "expires_in": expires_in,
        "refresh_token": refresh,
        "scope": scopes.join(" "),
    })
}

/// `POST /oauth2/token/revoke`: ends the whole authorization the token belongs to.
pub(crate) fn revoke_route(state: &mut State, req: &Req) -> Resp {
    let form = match oauth_form(req) {
        Ok(form) => form,
        Err(resp) => return resp,
    };
    let Some(token) = param(&form, "token") else {
        return oauth_error(
            400,
            "invalid_request",
            Some("Missing \"token\" in request."),
        );
    };
    // RFC 7009: unknown tokens are not an error.
    for auth in &mut state.authorizations {
        if auth.refresh_token == token || auth.access.iter().any(|a| a.token == token) {
            auth.alive = false;
        }
    }
    state.revoked += 1;
    Resp::json(200, &json!({}))
}
