//! Owns turning consent-service requests into service calls and pages.
//! It must not hold workflow logic (that is `service`) nor show internals to users.
//!
//! The consent service's handlers: plain async functions from request parts to a response.
//!
//! Every failure ends in a friendly page with a fitting status code, rendered by the theme; none
//! shows an internal error, a token or a stack trace.

use std::collections::HashMap;
use std::sync::Arc;

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use super::logins::{cookie_name, Intent, PendingLogin, StateError, LOGIN_TTL};
use super::App;
use crate::discord::client::DiscordError;
use crate::discord::models::Snowflake;
use crate::discord::scope::Scope;
use crate::publish::{Choices, Publish};
use crate::service::{ConsentError, SignInError, SignedIn};
use crate::site::model::{JoinOffer, LandingPage, Link, MessagePage};
use crate::store::unix_now;

/// A page for the user, with its status code.
pub(super) struct Page {
    status: StatusCode,
    /// Boxed: pages travel in `Result`s, both ways.
    message: Box<MessagePage>,
    /// Sign this user in (`/me`'s session cookie) with the answer.
    session: Option<Snowflake>,
    /// Answer with a redirect here (303) instead of the page.
    see_other: Option<&'static str>,
}

impl Page {
    pub(super) fn error(status: StatusCode, title: &str, message: impl Into<String>) -> Page {
        Page {
            status,
            message: Box::new(MessagePage {
                title: title.to_owned(),
                message: message.into(),
                link: None,
                edit_path: None,
                is_error: true,
            }),
            session: None,
            see_other: None,
        }
    }

    pub(super) fn success(title: &str, message: impl Into<String>, link: Option<Link>) -> Page {
        Page {
            status: StatusCode::OK,
            message: Box::new(MessagePage {
                title: title.to_owned(),
                message: message.into(),
                link,
                edit_path: None,
                is_error: false,
            }),
            session: None,
            see_other: None,
        }
    }

    /// The page with a link `text` to `href`.
    pub(super) fn with_link(mut self, text: &str, href: &str) -> Page {
        self.message.link = Some(Link {
            text: text.to_owned(),
            href: href.to_owned(),
        });
        self
    }

    /// The page, answered with a session for `user` (and a link to the edit page when
    /// self-service is on).
    fn signing_in(mut self, app: &App, user: Snowflake) -> Page {
        if app.service.config().self_service.enabled {
            self.session = Some(user);
            self.message.edit_path = Some(format!("/{}", crate::routes::ME));
        }
        self
    }

    /// The answer: the page (or its redirect), and whom it signs in.
    fn respond(self, app: &App) -> (Response, Option<Snowflake>) {
        let session = self.session;
        let response = match self.see_other {
            Some(to) => warp::redirect::see_other(warp::http::Uri::from_static(to)).into_response(),
            None => self.render(app),
        };
        (response, session)
    }

    pub(super) fn render(self, app: &App) -> Response {
        let body = match app.renderer.render_message(&self.message) {
            Ok(html) => html,
            Err(error) => {
                tracing::error!("cannot render the message page: {error}");
                return plain_text(self.status, &self.message.message);
            }
        };
        let mut response = warp::reply::html(body).into_response();
        *response.status_mut() = self.status;
        response
    }
}

fn plain_text(status: StatusCode, text: &str) -> Response {
    let mut response = warp::reply::with_status(text.to_owned(), status).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Splits a raw query string into its values by name (names may repeat).
fn query_values(raw: &str) -> HashMap<String, Vec<String>> {
    let mut values: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        values
            .entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    values
}

fn single<'a>(values: &'a HashMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    values.get(name).and_then(|v| v.first()).map(String::as_str)
}

/// `GET /`: what will be published and the opt-in form.
pub(crate) async fn landing(app: Arc<App>) -> Result<Response, std::convert::Infallible> {
    let page = LandingPage {
        login_path: "/login".to_owned(),
        delete_path: "/delete".to_owned(),
        offers_connections: app.service.config().discord.offers(Scope::Connections),
        offers_guilds: app.service.config().discord.offers(Scope::Guilds),
        join: app.service.community().map(|community| JoinOffer {
            name: community.guild.name.clone(),
            icon_url: community.icon_url.clone(),
        }),
    };
    Ok(match app.renderer.render_landing(&page) {
        Ok(html) => warp::reply::html(html).into_response(),
        Err(error) => {
            tracing::error!("cannot render the landing page: {error}");
            plain_text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered; the operator has been told.",
            )
        }
    })
}

/// `GET /login?publish=connections&publish=guilds&join=1`: starts a sign-in for publishing (and
/// joining the community's server, when that is offered and ticked).
pub(crate) async fn login(
    raw_query: String,
    app: Arc<App>,
) -> Result<Response, std::convert::Infallible> {
    let values = query_values(&raw_query);
    // Without the offer the field is ignored: `guilds.join` is never asked for then.
    let join = single(&values, "join") == Some("1") && app.service.community().is_some();
    let mut publish = Publish::default();
    for choice in values.get("publish").into_iter().flatten() {
        // Only the opt-in scopes name a choice; `identify` is always asked for.
        let offered = choice
            .parse()
            .ok()
            .filter(|scope| app.service.config().discord.offers(*scope));
        match offered {
            Some(Scope::Connections) => publish.connections = true,
            Some(Scope::Guilds) => publish.guilds = true,
            Some(Scope::Identify | Scope::GuildsJoin) | None => {
                let message =
                    format!("\u{201c}{choice}\u{201d} is not something this site can publish.");
                return Ok(
                    Page::error(StatusCode::BAD_REQUEST, "Unknown choice", message).render(&app),
                );
            }
        }
    }
    Ok(start_sign_in(
        &app,
        Intent::Publish(Choices { publish, join }),
    ))
}

/// `GET /delete`: starts a sign-in whose only purpose is proving who asks for deletion.
pub(crate) async fn delete(app: Arc<App>) -> Result<Response, std::convert::Infallible> {
    Ok(start_sign_in(&app, Intent::Delete))
}

/// Sends the browser to Discord, with the pending sign-in sealed in a cookie of its own: the
/// server remembers nothing about sign-ins it starts.
pub(super) fn start_sign_in(app: &App, intent: Intent) -> Response {
    let scopes = match intent {
        Intent::Publish(choices) => choices.scopes(),
        Intent::Delete | Intent::Edit => vec![Scope::Identify],
    };
    let request = match app.service.authorize(&scopes) {
        Ok(request) => request,
        Err(error) => {
            tracing::error!("cannot start a sign-in: {error}");
            return discord_down_page().render(app);
        }
    };
    let cookie = app
        .logins
        .start(request.state, intent, request.pkce_verifier, unix_now());
    let mut response = warp::redirect::see_other(
        warp::http::Uri::try_from(request.url.as_str())
            .unwrap_or_else(|_| warp::http::Uri::from_static("/")),
    )
    .into_response();
    let set_cookie = login_cookie(app, &cookie.name, &cookie.value, LOGIN_TTL.as_secs());
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie);
    response
}

/// A `Set-Cookie` value for a sign-in cookie; `max_age` 0 clears it.
fn login_cookie(app: &App, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if app.secure_cookies { "; Secure" } else { "" };
    let cookie =
        format!("{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}");
    // The name is hex and the value base64url: always a valid header value.
    HeaderValue::from_str(&cookie).expect("sign-in cookies are plain ASCII")
}

/// `GET /callback`: Discord sends the browser back here with `code` and `state` (or an error).
/// `cookies` is the raw `Cookie` header, which holds the sealed sign-in for this state.
pub(crate) async fn callback(
    raw_query: String,
    cookies: Option<String>,
    app: Arc<App>,
) -> Result<Response, std::convert::Infallible> {
    let values = query_values(&raw_query);
    let state = single(&values, "state").unwrap_or_default();
    let page = match finish_sign_in(&values, state, cookies.as_deref(), &app).await {
        Ok(page) | Err(page) => page,
    };
    let (mut response, session) = page.respond(&app);
    // Whatever the outcome, this sign-in's cookie has served its purpose.
    if !state.is_empty() {
        let clear = login_cookie(&app, &cookie_name(state), "", 0);
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    if let Some(user) = session {
        super::me::start_session(&app, user, &mut response);
    }
    Ok(response)
}

/// `HEAD /callback`: only the headers of the page a `GET` would show, and none of its work. A
/// `GET` uses the single-use state up, exchanges Discord's single-use code and stores a consent;
/// a link prefetcher or preview bot that sends `HEAD` first must not do any of that, or the
/// browser's own visit right after would find its sign-in spent. Whether that visit will
/// succeed is not known without doing it, so this answers 200 with the page's type and no
/// length, and leaves the sign-in cookie alone.
pub(crate) fn callback_head() -> Response {
    let mut response = warp::reply::html(String::new()).into_response();
    response
        .extensions_mut()
        .insert(crate::http_server::LengthUnknown);
    response
}

async fn finish_sign_in(
    values: &HashMap<String, Vec<String>>,
    state: &str,
    cookies: Option<&str>,
    app: &Arc<App>,
) -> Result<Page, Page> {
    // Whatever happens next, this state has been used.
    let login = app.logins.finish(state, cookies, unix_now());
    if let Some(error) = single(values, "error") {
        return Err(denied_page(error));
    }
    let login = login.map_err(state_error_page)?;
    let code = single(values, "code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            Page::error(
                StatusCode::BAD_REQUEST,
                "Sign-in incomplete",
                "Discord did not send an authorization code. Please start again.",
            )
        })?;
    // From the code exchange on, the work runs in a task of its own: hyper drops this handler
    // when the browser disconnects, and that must not cancel it half-way (a grant Discord made
    // that we never stored, a deletion whose revocation never happened).
    let work = tokio::spawn(complete_sign_in(app.clone(), code.to_owned(), login));
    work.await.unwrap_or_else(|error| {
        tracing::error!("a sign-in failed unexpectedly: {error}");
        Err(Page::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "This sign-in could not be completed. Please try again later.",
        ))
    })
}

async fn complete_sign_in(app: Arc<App>, code: String, login: PendingLogin) -> Result<Page, Page> {
    let signed_in = app
        .service
        .sign_in(&code, &login.pkce_verifier)
        .await
        .map_err(|error| {
            tracing::warn!("{error}");
            match error {
                SignInError::Exchange(_) => Page::error(
                    StatusCode::BAD_GATEWAY,
                    "Discord said no",
                    "Discord did not accept this sign-in. Please start again.",
                ),
                SignInError::User(DiscordError::Decode { .. }) => unusable_account_page(),
                SignInError::User(_) | SignInError::Offline => discord_down_page(),
            }
        })?;
    match login.intent {
        Intent::Publish(choices) => publish_consent(&app, signed_in, choices).await,
        Intent::Delete => delete_user(&app, signed_in).await,
        Intent::Edit => edit_sign_in(&app, signed_in).await,
    }
}

/// An identify-only sign-in to edit one's page: someone with a page here gets a session and
/// the edit form; anyone else is told to publish first. Their sign-in's token is left alone:
/// revoking it would end the grant their page is refreshed with.
async fn edit_sign_in(app: &App, signed_in: SignedIn) -> Result<Page, Page> {
    let id = signed_in.user.value.id;
    match app.service.edit_view(id, None).await {
        Ok(Some(_)) => {
            tracing::info!(user = %id, "signed in to edit their page");
            let mut page = Page::success("Signed in", "You are signed in.", None);
            page.see_other = Some("/me");
            Ok(page.signing_in(app, id))
        }
        Ok(None) => Err(Page::error(
            StatusCode::NOT_FOUND,
            "No page yet",
            "You have no page on this site yet. Publish one first, then come back to edit it.",
        )
        .with_link("Publish your page", "/")),
        Err(error) => {
            tracing::error!(user = %id, "cannot look up who signed in to edit: {error}");
            Err(Page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Not available",
                "Your page cannot be edited right now. Please try again later.",
            ))
        }
    }
}

/// Stores the consent and tells the user where their page will be (and how joining the
/// community's server went).
async fn publish_consent(app: &App, signed_in: SignedIn, choices: Choices) -> Result<Page, Page> {
    let consented = app
        .service
        .consent(signed_in, choices)
        .await
        .map_err(|error| match error {
            ConsentError::NoRefreshToken | ConsentError::Offline => discord_down_page(),
            ConsentError::Store(error) => {
                tracing::error!("storing a consent failed: {error}");
                Page::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Not saved",
                    "Your consent could not be saved. Please try again later.",
                )
            }
        })?;
    let url = app.service.profile_url(consented.id);
    let mut message = "Your profile page is being generated and will be at this address as soon as the site is published.".to_owned();
    if let Some(join) = &consented.join {
        message.push(' ');
        message.push_str(&join.line());
    }
    Ok(Page::success(
        "You're in",
        message,
        Some(Link {
            text: url.clone(),
            href: url,
        }),
    )
    .signing_in(app, consented.id))
}

/// Deletes everything stored about the signed-in user and revokes our access (see
/// [`crate::service::Service::delete`] for the order).
async fn delete_user(app: &App, signed_in: SignedIn) -> Result<Page, Page> {
    let id = signed_in.user.value.id;
    let sign_in_token = vec![signed_in.tokens.access_token];
    let existed = app
        .service
        .delete(id, sign_in_token)
        .await
        .map_err(|error| {
            tracing::error!(user = %id, "deleting failed: {error}");
            Page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Not deleted",
                "Your data could not be deleted right now. Please try again later.",
            )
        })?;
    let message = if existed {
        "Everything we stored about you is deleted and this site's access to your Discord account is revoked. Your page is being removed from the site."
    } else {
        "We had nothing stored about you. This site's access to your Discord account is revoked."
    };
    Ok(Page::success("Deleted", message, None))
}

fn denied_page(error: &str) -> Page {
    if error == "access_denied" {
        Page::error(
            StatusCode::FORBIDDEN,
            "Nothing was shared",
            "You cancelled on Discord, so nothing was stored or published.",
        )
    } else {
        Page::error(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "Discord could not complete the sign-in. Please start again.",
        )
    }
}

fn state_error_page(error: StateError) -> Page {
    let message = match error {
        StateError::Unknown => {
            "This sign-in link is unknown or was already used. Please start again."
        }
        StateError::Expired => "This sign-in took too long and expired. Please start again.",
        StateError::OtherBrowser => {
            "This sign-in was started in another browser. Please start again here."
        }
    };
    Page::error(StatusCode::BAD_REQUEST, "Sign-in expired", message)
}

/// Discord's answer about the account cannot be used (not JSON, or no usable id or username):
/// there is nothing to publish.
fn unusable_account_page() -> Page {
    Page::error(
        StatusCode::BAD_GATEWAY,
        "Discord sent an unusable answer",
        "Discord's answer about your account lacks what a profile needs (such as a usable username), so nothing was stored. Please try again later.",
    )
}

pub(super) fn discord_down_page() -> Page {
    Page::error(
        StatusCode::BAD_GATEWAY,
        "Discord is not answering",
        "Discord could not be reached just now. Please try again in a minute.",
    )
}
