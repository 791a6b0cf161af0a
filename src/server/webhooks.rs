//! Owns the webhook routes: verify, refuse replays, queue work, report jobs.
//! It must not believe a body before its signature checked out, nor build in the request.
//!
//! The webhook routes, under `/webhooks`:
//!
//! - `POST /webhooks/discord`: Discord's signed events (Ed25519; needs `discord.public_key`).
//! - `POST /webhooks/refresh`: the operator's refresh hook (HMAC-SHA256 over a signed timestamp
//!   and the body; needs `STRIFE_WEBHOOK_SECRET`), answering 202 with a job id.
//! - `GET /webhooks/jobs/<id>` (and `HEAD`): the state of such a job.
//!
//! A body (at most [`MAX_BODY_BYTES`]) must arrive whole within `server.body_timeout`, or the
//! answer is 408 and the connection is closed.
//!
//! Both signed routes check signature and timestamp window first, then record the signature in
//! the store: a request whose signature is already recorded is a replay (refused with 401), in
//! this process or after a restart.
//!
//! Nothing here does the work: requests are checked, then queued on the one [`JobQueue`]
//! (crate::jobs::JobQueue), so Discord gets its answer within its time limit whatever a build
//! costs. Answers are small JSON documents (or empty), never theme pages.

use std::convert::Infallible;
use std::sync::Arc;

use serde::Deserialize;
use warp::http::StatusCode;
use warp::hyper::body::Bytes;
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

use super::App;
use crate::discord::models::Snowflake;
use crate::jobs::Trigger;
use crate::store::Sighting;
use crate::webhook::{
    DiscordWebhook, EventAction, SignatureError, Signed, WebhookType, HMAC_HEADER,
    HMAC_TIMESTAMP_HEADER, MAX_BODY_BYTES, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

/// Every route below `/webhooks`, with JSON answers for every failure.
pub(crate) fn routes(
    app: Arc<App>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let body = body_within(app.service.config().server.body_timeout);
    let with_app = warp::any().map(move || app.clone());
    let discord = warp::path!("discord")
        .and(warp::post())
        .and(warp::header::optional::<String>(SIGNATURE_HEADER))
        .and(warp::header::optional::<String>(TIMESTAMP_HEADER))
        .and(body.clone())
        .and(with_app.clone())
        .and_then(discord_event);
    let refresh = warp::path!("refresh")
        .and(warp::post())
        .and(warp::header::optional::<String>(HMAC_HEADER))
        .and(warp::header::optional::<String>(HMAC_TIMESTAMP_HEADER))
        .and(body)
        .and(with_app.clone())
        .and_then(refresh_hook);
    let job = warp::path!("jobs" / String)
        .and(crate::http_server::get_or_head())
        .and(with_app)
        .and_then(job_status);
    warp::path(super::WEBHOOKS).and(
        discord
            .or(refresh)
            .unify()
            .or(job)
            .unify()
            .recover(recover)
            .unify(),
    )
}

/// The request body, at most [`MAX_BODY_BYTES`] (announced by `Content-Length`, which hyper
/// holds the client to), and whole within `timeout`: a client trickling its body byte by byte
/// must not hold its connection, and a slot of the server, for ever.
pub(super) fn body_within(
    timeout: std::time::Duration,
) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::body::content_length_limit(MAX_BODY_BYTES)
        .and(warp::body::stream())
        .and_then(move |stream| async move {
            match tokio::time::timeout(timeout, collect_body(stream)).await {
                Ok(Ok(body)) => Ok(body),
                Ok(Err(error)) => {
                    tracing::debug!("webhook body unreadable: {error}");
                    Err(warp::reject::custom(BodyUnreadable))
                }
                Err(_) => Err(warp::reject::custom(BodyTooSlow)),
            }
        })
}

async fn collect_body(
    stream: impl futures_util::Stream<Item = Result<impl warp::Buf, warp::Error>>,
) -> Result<Bytes, warp::Error> {
    use futures_util::TryStreamExt;
    let mut stream = std::pin::pin!(stream);
    let mut body = Vec::new();
    while let Some(mut chunk) = stream.try_next().await? {
        while warp::Buf::has_remaining(&chunk) {
            let part = warp::Buf::chunk(&chunk);
            body.extend_from_slice(part);
            let read = part.len();
            warp::Buf::advance(&mut chunk, read);
        }
    }
    Ok(Bytes::from(body))
}

/// The body did not arrive within `server.body_timeout`.
#[derive(Debug)]
struct BodyTooSlow;
impl warp::reject::Reject for BodyTooSlow {}

/// The body broke off (the client hung up, or sent less than it announced).
#[derive(Debug)]
struct BodyUnreadable;
impl warp::reject::Reject for BodyUnreadable {}

/// The answer to a body that came too slowly or broke off, when `rejection` is one.
pub(super) fn body_rejection(rejection: &Rejection) -> Option<Response> {
    if rejection.find::<BodyTooSlow>().is_some() {
        // The connection cannot be reused: the rest of the body may still be on its way.
        let mut response = json_error(StatusCode::REQUEST_TIMEOUT, "request body too slow");
        response.headers_mut().insert(
            warp::http::header::CONNECTION,
            warp::http::HeaderValue::from_static("close"),
        );
        Some(response)
    } else if rejection.find::<BodyUnreadable>().is_some() {
        Some(json_error(
            StatusCode::BAD_REQUEST,
            "request body incomplete",
        ))
    } else {
        None
    }
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body = warp::reply::json(&serde_json::json!({ "error": message }));
    warp::reply::with_status(body, status).into_response()
}

fn empty(status: StatusCode) -> Response {
    warp::reply::with_status(warp::reply(), status).into_response()
}

/// 401 with the reason, in the log and in the answer (neither ever holds the secret).
fn unauthorized(route: &str, error: SignatureError) -> Response {
    tracing::warn!("{route}: refused: {error}");
    let message = match error {
        // Callers written for the old contract (an HMAC of the body alone) land here: say what
        // changed rather than only "missing".
        SignatureError::MissingHeader(HMAC_TIMESTAMP_HEADER) => format!(
            "{error}: the refresh hook needs X-Strife-Timestamp (Unix seconds) and \
             X-Strife-Signature: sha256=<HMAC-SHA256 of timestamp \".\" body>; \
             an HMAC of the body alone is no longer accepted (see the README, Webhooks)"
        ),
        _ => error.to_string(),
    };
    json_error(StatusCode::UNAUTHORIZED, &message)
}

/// Accepts a request whose signature checked out (`verified`) and that is not a replay: a bad
/// signature or a replay gets 401. The signature is recorded only after it verified, so unsigned
/// garbage never reaches the store. Without the store we cannot tell a replay from a new request,
/// so the request is refused with 503 (senders retry later).
async fn accept_signed(
    app: &App,
    route: &'static str,
    verified: Result<Signed, SignatureError>,
) -> Result<(), Response> {
    let signed = verified.map_err(|error| unauthorized(route, error))?;
    let Signed {
        signature,
        signed_at,
        forget_before,
    } = signed;
    let sighting = app
        .service
        .store()
        .run(move |store| store.remember_signature(&signature, signed_at, forget_before))
        .await;
    match sighting {
        Ok(Sighting::First) => Ok(()),
        Ok(Sighting::Replay) => Err(unauthorized(route, SignatureError::Replay(signed_at))),
        Err(error) => {
            tracing::error!("{route}: refused, cannot check it for a replay: {error}");
            Err(json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot check this request for a replay now; try again later",
            ))
        }
    }
}

/// `POST /webhooks/discord`: signature first, then the body.
async fn discord_event(
    signature: Option<String>,
    timestamp: Option<String>,
    body: Bytes,
    app: Arc<App>,
) -> Result<Response, Infallible> {
    let Some(verifier) = &app.discord_verifier else {
        tracing::warn!("POST /webhooks/discord refused: discord.public_key is not set in the config, so events cannot be verified");
        return Ok(json_error(
            StatusCode::NOT_FOUND,
            "webhook events are not enabled",
        ));
    };
    const ROUTE: &str = "POST /webhooks/discord";
    let verified = verifier.verify(
        signature.as_deref(),
        timestamp.as_deref(),
        &body,
        (app.clock)(),
    );
    if let Err(refused) = accept_signed(&app, ROUTE, verified).await {
        return Ok(refused);
    }
    let webhook: DiscordWebhook = match serde_json::from_slice(&body) {
        Ok(webhook) => webhook,
        Err(error) => {
            tracing::warn!("POST /webhooks/discord: signed but malformed body: {error}");
            return Ok(json_error(StatusCode::BAD_REQUEST, "malformed body"));
        }
    };
    if app
        .service
        .config()
        .discord
        .client_id
        .is_some_and(|id| id != webhook.application_id)
    {
        tracing::warn!(
            "Discord event for application {} ignored: discord.client_id is another application",
            webhook.application_id
        );
        return Ok(empty(StatusCode::NO_CONTENT));
    }
    match (webhook.kind, webhook.event) {
        (WebhookType::Ping, _) => tracing::info!("Discord webhook PING answered"),
        (WebhookType::Event, Some(event)) => match event.action() {
            Ok(action) => queue_event(&app, action),
            Err(problem) => {
                tracing::warn!("Discord event not understood: {problem}");
                return Ok(json_error(StatusCode::BAD_REQUEST, "malformed event"));
            }
        },
        (WebhookType::Event, None) => {
            return Ok(json_error(StatusCode::BAD_REQUEST, "event missing"));
        }
        (WebhookType::Other(other), _) => tracing::info!(
            version = webhook.version,
            "Discord webhook of unknown type {other} acknowledged"
        ),
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

fn queue_event(app: &App, action: EventAction) {
    match action {
        EventAction::Authorized { user } => {
            tracing::info!(user = %user, "Discord: the app was authorized; refreshing the user if they have a page");
            app.service.jobs().trigger(Trigger::Refresh(user));
        }
        EventAction::Deauthorized { user, at } => {
            tracing::info!(user = %user, "Discord: the app was deauthorized; revoking the user and removing their page");
            app.service.jobs().trigger(Trigger::Revoke { user, at });
        }
        EventAction::Ignored(why) => tracing::info!("Discord event acknowledged: {why}"),
    }
}

/// What the refresh hook accepts: `{}` for everyone, `{"user": "<id>"}` for one user.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    #[serde(default)]
    user: Option<Snowflake>,
}

/// `POST /webhooks/refresh`.
async fn refresh_hook(
    signature: Option<String>,
    timestamp: Option<String>,
    body: Bytes,
    app: Arc<App>,
) -> Result<Response, Infallible> {
    const ROUTE: &str = "POST /webhooks/refresh";
    let Some(verifier) = &app.refresh_verifier else {
        tracing::warn!(
            "POST /webhooks/refresh refused: {} is not set",
            crate::config::WEBHOOK_SECRET_VAR
        );
        return Ok(json_error(
            StatusCode::NOT_FOUND,
            "the refresh hook is not enabled",
        ));
    };
    let verified = verifier.verify(
        signature.as_deref(),
        timestamp.as_deref(),
        &body,
        (app.clock)(),
    );
    if let Err(refused) = accept_signed(&app, ROUTE, verified).await {
        return Ok(refused);
    }
    let request: RefreshRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let message = format!("expected {{}} or {{\"user\": \"<id>\"}}: {error}");
            return Ok(json_error(StatusCode::BAD_REQUEST, &message));
        }
    };
    let trigger = match request.user {
        Some(id) => match app.service.store().run(move |store| store.user(id)).await {
            Ok(Some(_)) => Trigger::Refresh(id),
            Ok(None) => return Ok(json_error(StatusCode::NOT_FOUND, "unknown user")),
            Err(error) => {
                tracing::error!("refresh hook: store error: {error}");
                return Ok(json_error(StatusCode::INTERNAL_SERVER_ERROR, "store error"));
            }
        },
        None => Trigger::Everyone,
    };
    let job = app.service.jobs().submit(trigger);
    tracing::info!(job = %job, "refresh hook: queued {trigger:?}");
    let body = warp::reply::json(&serde_json::json!({
        "job": job,
        "status_url": format!("/webhooks/jobs/{job}"),
    }));
    Ok(warp::reply::with_status(body, StatusCode::ACCEPTED).into_response())
}

/// `GET /webhooks/jobs/<id>`.
async fn job_status(id: String, app: Arc<App>) -> Result<Response, Infallible> {
    Ok(match app.service.jobs().status(&id) {
        Some(status) => warp::reply::json(&status).into_response(),
        None => json_error(StatusCode::NOT_FOUND, "unknown job"),
    })
}

async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    Ok(if rejection.is_not_found() {
        json_error(StatusCode::NOT_FOUND, "not found")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        json_error(StatusCode::PAYLOAD_TOO_LARGE, "body too large")
    } else if let Some(response) = body_rejection(&rejection) {
        response
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        json_error(StatusCode::LENGTH_REQUIRED, "content-length required")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        json_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else {
        tracing::debug!("webhook request rejected: {rejection:?}");
        json_error(StatusCode::BAD_REQUEST, "bad request")
    })
}
