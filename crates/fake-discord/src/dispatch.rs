//! Routing of the fake Discord: one catch-all warp filter that records every request and hands
//! it to the route that answers it, after any failure a test injected. It owns no route's logic.

use std::sync::{Arc, Mutex};

use warp::http::{HeaderMap, Method};
use warp::Filter;

use crate::authorize::authorize_route;
use crate::bot::{bot_route, is_bot_request};
use crate::cdn::{cdn_delay, cdn_route};
use crate::http::{http_error, oauth_error, pairs, Req, Resp};
use crate::ratelimit::{rate_headers, route_limit, too_many_requests};
use crate::state::{lock, InjectionKind, State};
use crate::token::{revoke_route, token_route};
use crate::users::users_route;
use crate::RecordedRequest;

/// `retry_after` used when `fail_next(.., 429, ..)` is asked for.
const FAIL_NEXT_429_RETRY_AFTER: f64 = 0.1;

/// One catch-all filter: every request, whatever its route, is answered by [`handle`] and recorded.
pub(crate) fn routes(
    state: Arc<Mutex<State>>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection>
       + Clone
       + Send
       + Sync
       + 'static {
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .then(
            move |method: Method,
                  path: warp::path::FullPath,
                  query: String,
                  headers: HeaderMap,
                  body: warp::hyper::body::Bytes| {
                let req = Req {
                    method,
                    path: path.as_str().to_owned(),
                    query,
                    headers,
                    body: body.to_vec(),
                };
                let mut state = lock(&state);
                let delay = req
                    .path
                    .strip_prefix("/cdn/")
                    .and_then(|path| cdn_delay(&state, path));
                let resp = handle(&mut state, &req);
                state.requests.push(RecordedRequest {
                    method: req.method.as_str().to_owned(),
                    path: req.path.clone(),
                    query: req.query.clone(),
                    status: resp.status,
                });
                drop(state);
                async move {
                    // Held back after the lock is let go: a slow answer stalls no other request.
                    if let Some(delay) = delay {
                        tokio::time::sleep(delay).await;
                    }
                    resp.into_response()
                }
            },
        )
}

/// The route below the API prefix (`/api/v10`, `/api/v9` or unversioned `/api`).
fn api_route(path: &str) -> Option<&str> {
    for prefix in ["/api/v10/", "/api/v9/", "/api/"] {
        if path.starts_with(prefix) {
            return Some(&path[prefix.len() - 1..]);
        }
    }
    None
}

/// Answers one request: an injected failure when one is due, else the route's handler.
fn handle(state: &mut State, req: &Req) -> Resp {
    let authorize = req.path == "/oauth2/authorize" || req.path == "/api/oauth2/authorize";
    // The browser's visits, not the consent page's form posting the same query back.
    if authorize && req.method == Method::GET {
        state.authorize_params.push(pairs(&req.query));
    }
    if let Some(resp) = injected(state, req) {
        return resp;
    }
    if let Some(resp) = over_global_limit(state, req) {
        return resp;
    }
    if authorize {
        return match req.method {
            Method::GET => authorize_route(state, req),
            Method::POST if state.interactive => authorize_route(state, req),
            _ => http_error(405),
        };
    }
    if let Some(path) = req.path.strip_prefix("/cdn/") {
        return cdn_route(state, req, path);
    }
    let Some(route) = api_route(&req.path) else {
        return http_error(404);
    };
    match route {
        "/oauth2/token" | "/oauth2/token/revoke" if req.method != Method::POST => http_error(405),
        "/oauth2/token" => token_route(state, req),
        "/oauth2/token/revoke" => revoke_route(state, req),
        _ if is_bot_request(req) => bot_route(state, req, route),
        _ if route.starts_with("/users/") => users_route(state, req, route),
        _ => http_error(404),
    }
}

/// A global 429 when this REST request would be one too many within the last second (see
/// [`crate::FakeDiscord::set_global_limit`]); accepted requests are counted.
fn over_global_limit(state: &mut State, req: &Req) -> Option<Resp> {
    let (limit, recent) = state.global_limit.as_mut()?;
    if !api_route(&req.path).is_some_and(|route| route.starts_with("/users/")) {
        return None;
    }
    let now = std::time::Instant::now();
    let second = std::time::Duration::from_secs(1);
    while recent
        .front()
        .is_some_and(|at| now.duration_since(*at) >= second)
    {
        recent.pop_front();
    }
    if recent.len() < *limit as usize {
        recent.push_back(now);
        return None;
    }
    let retry_after = recent.front().map_or(0.0, |oldest| {
        (second - now.duration_since(*oldest)).as_secs_f64()
    });
    Some(too_many_requests(retry_after, true).header("x-ratelimit-global", "true"))
}

/// The answer of the first injected failure due for this request, using it up.
fn injected(state: &mut State, req: &Req) -> Option<Resp> {
    let kind = take_injection(state, &req.path)?;
    Some(injected_answer(state, req, kind))
}

/// Uses up one request of the first injection due for `path`: forced 429s first, then failures,
/// then malformed bodies.
fn take_injection(state: &mut State, path: &str) -> Option<InjectionKind> {
    let rank = |kind: &InjectionKind| match kind {
        InjectionKind::RateLimited { .. } => 0,
        InjectionKind::Status(_) => 1,
        InjectionKind::Malformed => 2,
    };
    let index = state
        .injections
        .iter()
        .enumerate()
        .filter(|(_, inj)| inj.remaining > 0 && path.ends_with(&inj.path))
        .min_by_key(|(i, inj)| (rank(&inj.kind), *i))
        .map(|(i, _)| i)?;
    let injection = &mut state.injections[index];
    injection.remaining -= 1;
    let kind = injection.kind;
    if injection.remaining == 0 {
        state.injections.remove(index);
    }
    Some(kind)
}

/// What an injected failure of `kind` answers, shaped like the route's real errors.
fn injected_answer(state: &mut State, req: &Req, kind: InjectionKind) -> Resp {
    let oauth = req.path.contains("/oauth2/token");
    match kind {
        InjectionKind::RateLimited {
            retry_after,
            global,
        } => {
            let resp = too_many_requests(retry_after, global);
            if global {
                resp.header("x-ratelimit-global", "true")
            } else {
                resp.with_headers(rate_headers(
                    &req.path,
                    route_limit(state, &req.path).0,
                    0,
                    retry_after,
                ))
            }
        }
        InjectionKind::Status(429) => too_many_requests(FAIL_NEXT_429_RETRY_AFTER, false),
        InjectionKind::Status(status) if oauth => {
            let error = match status {
                400 => "invalid_request",
                401 => "invalid_client",
                503 => "temporarily_unavailable",
                _ => "server_error",
            };
            oauth_error(status, error, None)
        }
        InjectionKind::Status(status) => http_error(status),
        InjectionKind::Malformed => malformed_body(state),
    }
}

/// A 200 the client cannot use: alternately truncated JSON and a JSON string.
fn malformed_body(state: &mut State) -> Resp {
    let n = state.malformed_served;
    state.malformed_served += 1;
    let body: &[u8] = if n.is_multiple_of(2) {
        b"{\"id\": \"80351110224678912\", \"username\": \"nel"
    } else {
        b"\"unexpected\""
    };
    Resp {
        status: 200,
        headers: Vec::new(),
        content_type: "application/json",
        body: body.to_vec(),
    }
}
