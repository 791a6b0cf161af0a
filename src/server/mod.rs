//! Owns the consent service's routes, security headers and its run until a stop signal.
//! It must not do a workflow itself; handlers call the service.
//!
//! `strife-gen serve`: the consent service (warp) and the periodic refresh + rebuild.
//!
//! Routes, one filter each, composed in [`routes`]:
//! `GET /` landing page · `GET /login` start a consent · `GET /delete` start a deletion ·
//! `GET /callback` Discord's redirect back · `GET /healthz` probe · `GET /static/*` theme files ·
//! `GET /me`, `POST /me` a person edits their own page, `POST /logout` (see [`me`]) ·
//! `POST /webhooks/discord`, `POST /webhooks/refresh`, `GET /webhooks/jobs/<id>` (see [`webhooks`]).
//! Every `GET` route answers `HEAD` too, without side effects (`HEAD /callback` does none of the
//! sign-in's work).
//!
//! A route is reachable only when its first path segment is in [`ROUTE_SEGMENTS`], which is
//! also what keeps vanity URLs off the service's paths (see [`crate::site::vanity`]).
//!
//! There is no TLS here: run it behind a reverse proxy that terminates HTTPS. Connections are
//! served by [`crate::http_server`], which times out slow clients and caps connections.

mod handlers;
pub(crate) mod logins;
mod me;
mod session;
pub(crate) mod webhooks;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use warp::http::{header, HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::http_server::{self, get_or_head, without_body_for_head, ConnectionStats, Limits};
use crate::service::Service;
use crate::site::render::Renderer;
use crate::store::{unix_now, StoreError};
use crate::webhook::{DiscordVerifier, HmacVerifier};

use handlers::Page;
use logins::PendingLogins;
use session::Sessions;

/// What the handlers share: the service they call, and what only HTTP needs (the theme's
/// service pages, pending sign-ins, webhook verifiers, headers).
pub struct App {
    service: Arc<Service>,
    /// Renders the service's own pages (landing, messages) and serves the theme's static files.
    renderer: Arc<Renderer>,
    logins: PendingLogins,
    /// The sessions of people editing their page (`/me`), sealed with the site's key.
    sessions: Sessions,
    /// Checks Discord's webhook events; `None` (route disabled) without `discord.public_key`.
    discord_verifier: Option<DiscordVerifier>,
    /// Checks the refresh hook's HMAC; `None` (route disabled) without `STRIFE_WEBHOOK_SECRET`.
    refresh_verifier: Option<HmacVerifier>,
    /// Unix seconds now; replaceable so tests can check signed fixtures with fixed timestamps.
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Cookies get `Secure` when Discord sends users back over HTTPS.
    secure_cookies: bool,
    /// The `Content-Security-Policy` of every answer, made once from the config.
    content_security_policy: HeaderValue,
    /// The connections [`serve_until`] holds.
    connections: Arc<ConnectionStats>,
}

impl App {
    /// The HTTP side of `service`, whose pages `renderer` renders.
    pub fn new(service: Arc<Service>, renderer: Arc<Renderer>) -> App {
        let config = service.config().clone();
        let secure_cookies = config
            .discord
            .redirect_uri
            .as_ref()
            .is_some_and(|uri| uri.url().scheme() == "https");
        let discord_verifier = config.discord.public_key.map(|key| {
            DiscordVerifier::new(key.verifying_key(), config.webhooks.timestamp_tolerance)
        });
        let content_security_policy = content_security_policy(config.discord.authorize_url.url());
        // Read once, at start-up, on a thread of its own: this runs on the async executor,
        // where a blocking store call is refused (it would stall it on PostgreSQL).
        let store = service.store().clone();
        let ended = std::thread::scope(|scope| {
            let reading = scope.spawn(move || store.ended_sessions());
            reading
                .join()
                .unwrap_or_else(|_| Err(StoreError::Task("reading ended sessions panicked".into())))
        });
        let ended = ended.unwrap_or_else(|error| {
            // Sessions signed out before the restart may open again: say so, but serve.
            tracing::warn!("cannot read the signed-out sessions from the store: {error}");
            Vec::new()
        });
        let sessions = Sessions::new(service.discord().map(|d| d.cipher.clone())).with_ended(ended);
        App {
            service,
            renderer,
            logins: PendingLogins::default(),
            sessions,
            discord_verifier,
            refresh_verifier: None,
            clock: Arc::new(unix_now),
            secure_cookies,
            content_security_policy,
            connections: Arc::default(),
        }
    }

    /// Unix seconds now, by the app's clock (sessions expire by it).
    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// The service the handlers call.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// The theme the service's pages and static files come from.
    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// The service's connections: open now, at most at once, accepted so far.
    pub fn connections(&self) -> &ConnectionStats {
        &self.connections
    }

    /// Enables the signed refresh hook with this shared secret (`None` leaves it disabled, and
    /// so does an empty secret, with an error in the log: anyone could sign with it).
    pub fn with_webhook_secret(mut self, secret: Option<String>) -> App {
        let tolerance = self.service.config().webhooks.timestamp_tolerance;
        self.refresh_verifier = secret.and_then(|secret| {
            HmacVerifier::new(&secret, tolerance)
                .map_err(|error| tracing::error!("refresh hook disabled: {error}"))
                .ok()
        });
        self
    }

    /// Replaces the clock (Unix seconds) the webhook timestamp window and the sessions of `/me`
    /// are checked against.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> App {
        self.clock = Arc::new(clock);
        self
    }

    /// Says at startup which webhook routes are live, and why the others are not.
    pub(crate) fn log_webhook_setup(&self) {
        match &self.discord_verifier {
            Some(_) => tracing::info!("webhook events: POST /webhooks/discord is enabled"),
            None => tracing::info!("webhook events: POST /webhooks/discord is disabled (set discord.public_key to enable it)"),
        }
        match &self.refresh_verifier {
            Some(_) => tracing::info!("refresh hook: POST /webhooks/refresh is enabled"),
            None => tracing::info!(
                "refresh hook: POST /webhooks/refresh is disabled (set {} to enable it)",
                crate::config::WEBHOOK_SECRET_VAR
            ),
        }
    }

    /// How many sign-in states the service holds in memory (used ones, until they expire): only
    /// callbacks carrying a cookie this process sealed add to it, never a bare `/login`.
    pub fn remembered_login_states(&self) -> usize {
        self.logins.remembered()
    }
}

pub use crate::routes::ROUTE_SEGMENTS;
use crate::routes::{CALLBACK, DELETE, HEALTHZ, LOGIN, LOGOUT, ME, STATIC, WEBHOOKS};

/// Passes `/` and paths whose first segment is in [`ROUTE_SEGMENTS`]; rejects the rest as not
/// found before any route sees them.
fn listed_route() -> impl Filter<Extract = (), Error = Rejection> + Copy {
    warp::path::peek()
        .and_then(|rest: warp::path::Peek| async move {
            let first = rest.as_str().split('/').next().unwrap_or_default();
            match first.is_empty() || ROUTE_SEGMENTS.contains(&first) {
                true => Ok(()),
                false => Err(warp::reject::not_found()),
            }
        })
        .untuple_one()
}

/// All routes, with friendly error pages and security headers.
pub fn routes(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let with_app = {
        let app = app.clone();
        warp::any().map(move || app.clone())
    };
    // `warp::query::raw` rejects a request without a query string; treat that as empty.
    let raw_query = warp::query::raw().or(warp::any().map(String::new)).unify();
    // The raw header: the sign-in cookie's name depends on the state in the query.
    let cookies = warp::header::optional::<String>("cookie");

    let landing = warp::path::end()
        .and(with_app.clone())
        .and_then(handlers::landing);
    let login = warp::path(LOGIN)
        .and(warp::path::end())
        .and(raw_query)
        .and(with_app.clone())
        .and_then(handlers::login);
    let delete = warp::path(DELETE)
        .and(warp::path::end())
        .and(with_app.clone())
        .and_then(handlers::delete);
    // Before the GET route: a HEAD must not finish (and so use up) the sign-in.
    // The path first: a method rejection would otherwise win over every other route's "not found".
    let callback_head = warp::path(CALLBACK)
        .and(warp::path::end())
        .and(warp::head())
        .map(handlers::callback_head);
    let callback = warp::path(CALLBACK)
        .and(warp::path::end())
        .and(raw_query)
        .and(cookies)
        .and(with_app.clone())
        .and_then(handlers::callback);
    let edit = warp::path(ME)
        .and(warp::path::end())
        .and(cookies)
        .and(with_app.clone())
        .and_then(me::edit_page);
    let body = webhooks::body_within(app.service.config().server.body_timeout);
    let save = warp::path(ME)
        .and(warp::path::end())
        .and(warp::post())
        .and(cookies)
        .and(body.clone())
        .and(with_app.clone())
        .and_then(me::save);
    let logout = warp::path(LOGOUT)
        .and(warp::path::end())
        .and(warp::post())
        .and(cookies)
        .and(body)
        .and(with_app.clone())
        .and_then(me::logout);
    let healthz = warp::path(HEALTHZ)
        .and(warp::path::end())
        .map(|| "ok".into_response());
    let static_files = warp::path(STATIC)
        .and(warp::path::tail())
        .and(with_app.clone())
        .and_then(static_file);

    let pages = landing
        .or(login)
        .unify()
        .or(delete)
        .unify()
        .or(callback)
        .unify()
        .or(edit)
        .unify();
    let site = callback_head
        .or(save)
        .unify()
        .or(logout)
        .unify()
        .or(get_or_head().and(pages.or(healthz).unify().or(static_files).unify()))
        .unify();
    let recover_app = app.clone();
    let policy = app.content_security_policy.clone();
    let answered = listed_route()
        .and(webhooks::routes(app).or(site).unify())
        .recover(move |rejection| recover(rejection, recover_app.clone()))
        .unify();
    without_body_for_head(answered).map(move |response| with_security_headers(response, &policy))
}

/// `GET /static/<hashed name>`: the theme's static files under the same content-hashed names as
/// on the published site, from the renderer's memory. The name changes with the content, so the
/// answer may be cached forever.
async fn static_file(tail: warp::path::Tail, app: Arc<App>) -> Result<Response, Rejection> {
    let asset = app
        .renderer
        .assets()
        .by_hashed_name(tail.as_str())
        .ok_or_else(warp::reject::not_found)?;
    let mime = mime_guess::from_path(&asset.name).first_or_octet_stream();
    let mut response = Response::new(asset.bytes.clone().into());
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}

async fn recover(rejection: Rejection, app: Arc<App>) -> Result<Response, Infallible> {
    let page = if rejection.is_not_found() {
        Page::error(StatusCode::NOT_FOUND, "Not found", "There is no page here.")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        Page::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too much",
            "This form sent more than the service accepts. Nothing was saved.",
        )
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        Page::error(
            StatusCode::LENGTH_REQUIRED,
            "Bad request",
            "This request did not say how long it is.",
        )
    } else if let Some(response) = webhooks::body_rejection(&rejection) {
        return Ok(response);
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        Page::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Not allowed",
            "This address only answers GET and HEAD requests.",
        )
    } else {
        tracing::debug!("request rejected: {rejection:?}");
        Page::error(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "This request could not be understood.",
        )
    };
    Ok(page.render(&app))
}

/// The Content Security Policy of an answer, but for the origin of Discord's authorize page: the
/// theme's own styles, its images and https/data images, nothing else loaded, no framing, no
/// `<base>`, and forms only to this service.
/// How long a stopping service waits for consents still completing (a few Discord round trips).
const COMPLETIONS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

const STRICT_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// [`STRICT_POLICY`] with forms also allowed to go to the origin (scheme, host and port) of
/// Discord's authorize page, and nowhere wider: the landing form's `/login` answers with a
/// redirect there, and browsers apply `form-action` to the redirect too.
fn content_security_policy(authorize_url: &url::Url) -> HeaderValue {
    // An http(s) URL's origin is never opaque; its default port is left out, as browsers do.
    let discord = authorize_url.origin().ascii_serialization();
    let policy = STRICT_POLICY.replace(
        "form-action 'self';",
        &format!("form-action 'self' {discord};"),
    );
    // An origin's ASCII serialization is always a valid header value. Should it ever not be,
    // the strict policy stays: sign-in breaks, but nothing is opened up.
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        tracing::error!("the authorize URL's origin {discord:?} cannot be put in a header");
        HeaderValue::from_static(STRICT_POLICY)
    })
}

/// Headers every answer carries: the Content Security `policy`, no framing, no sniffing, no
/// referrer (a callback URL holds an authorization code), and nothing cached (pages depend on
/// the signed-in user).
fn with_security_headers(mut response: Response, policy: &HeaderValue) -> Response {
    let headers: &mut HeaderMap = response.headers_mut();
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Serves until Ctrl-C / SIGTERM, with the background builds running beside it. The first signal
/// stops the service gracefully (see [`serve_until`]); a second one exits at once.
pub(crate) async fn serve(app: Arc<App>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let address: SocketAddr = listener.local_addr()?;
    // Before the first build starts: a process that cannot take connections should not run one.
    let limits = Limits::for_server(&app.service.config().server).map_err(std::io::Error::other)?;
    tracing::info!("consent service listening on http://{address}");
    app.log_webhook_setup();
    let worker = app.service.spawn_background_builds();
    serve_within(app, listener, limits, worker, first_of_two_signals()).await
}

/// Serves `app` on `listener` until `stop` completes, beside `worker` (the task of
/// [`Service::spawn_background_builds`]). Then the server stops taking requests, the worker starts no
/// further build, and this waits for the build in progress to finish: abandoning it half-way
/// would release the build lock while its render still writes, or lose a refresh token Discord
/// has just rotated. A worker that ends by itself (it panicked) stops the service with an error:
/// answering consents that no build will ever publish would only hide the failure.
///
/// Connections get the limits of `[server]` (see [`crate::http_server`]); an open-file limit
/// too low for any connection is an error before anything is served.
pub async fn serve_until(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    worker: tokio::task::JoinHandle<()>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = match Limits::for_server(&app.service.config().server) {
        Ok(limits) => limits,
        Err(error) => {
            worker.abort();
            return Err(std::io::Error::other(error));
        }
    };
    serve_within(app, listener, limits, worker, stop).await
}

/// [`serve_until`] with the limits already worked out.
async fn serve_within(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    limits: Limits,
    mut worker: tokio::task::JoinHandle<()>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let jobs = app.service.jobs().clone();
    let server = http_server::serve(
        routes(app.clone()),
        listener,
        limits,
        app.connections.clone(),
        async move {
            stop.await;
            tracing::info!("stopping: no new requests, no new builds");
            jobs.shutdown();
        },
    );
    let mut server = std::pin::pin!(server);
    tokio::select! {
        () = &mut server => {}
        ended = &mut worker => {
            // Once a stop was asked for, the worker ending is expected: it may well finish
            // before the server has answered its last requests. Before that, it is a failure.
            if !(app.service.jobs().is_stopping() && ended.is_ok()) {
                let error = worker_ended(ended);
                tracing::error!("{error}; stopping the service");
                return Err(error);
            }
            server.await;
            tracing::info!("stopped");
            return Ok(());
        }
    }
    app.service.jobs().shutdown();
    // Consents answered just now are still fetching their servers and images: let their store
    // writes land (their pages are rendered by the next start's build), within reason.
    let settle = app.service.completions_done();
    if tokio::time::timeout(COMPLETIONS_PATIENCE, settle)
        .await
        .is_err()
    {
        tracing::warn!("stopping with consents whose servers or images were not fetched yet; the next refresh fetches them");
    }
    if app.service.jobs().is_building() {
        tracing::info!("finishing the current build before stopping");
    }
    worker.await.map_err(|error| worker_ended(Err(error)))?;
    tracing::info!("stopped");
    Ok(())
}

fn worker_ended(ended: Result<(), tokio::task::JoinError>) -> std::io::Error {
    let why = match ended {
        Ok(()) => "stopped unexpectedly".to_owned(),
        Err(error) if error.is_panic() => "panicked".to_owned(),
        Err(error) => format!("failed: {error}"),
    };
    std::io::Error::other(format!("the background build worker {why}"))
}

/// Completes on the first Ctrl-C / SIGTERM; a second one exits the process at once (the build
/// in progress is abandoned: the output writer's staging keeps the published site whole).
fn first_of_two_signals() -> impl std::future::Future<Output = ()> {
    let (first, received) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = first.send(());
        shutdown_signal().await;
        tracing::warn!("second stop signal: exiting at once");
        std::process::exit(1);
    });
    async move {
        // The sender is only dropped with the runtime; treat that as a stop too.
        let _ = received.await;
    }
}

/// Completes on Ctrl-C or SIGTERM (the signals a terminal or a service manager sends). The
/// handlers are installed when this is called, not when it is first awaited: a signal sent while
/// the caller is still starting up (watch's first build, its server) stops it as asked instead of
/// killing the process.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind| match signal(kind) {
            Ok(signal) => Some(signal),
            Err(error) => {
                tracing::error!("cannot listen for stop signals: {error}");
                None
            }
        };
        let mut interrupt = listen(SignalKind::interrupt());
        let mut terminate = listen(SignalKind::terminate());
        async move {
            tokio::select! {
                _ = next_signal(interrupt.as_mut()) => {},
                _ = next_signal(terminate.as_mut()) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {error}");
            std::future::pending::<()>().await;
        }
    }
}

/// The next delivery of `signal`; never, without one.
#[cfg(unix)]
async fn next_signal(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
