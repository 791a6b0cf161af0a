//! Owns the routes of people editing their own page: `GET /me` (the form, or a sign-in when
//! there is no session), `POST /me` (save) and `POST /logout`.
//! It must not let a session change any page but its own user's, nor save an unchecked value.
//!
//! Every change needs the session's cookie (sealed, bound to one user id, see [`super::session`])
//! and the CSRF token of that session in the form: a missing or wrong token is 403, and
//! nothing is changed. The form names no user: whose page changes is the session's user, always.

use std::sync::Arc;

use serde::Serialize;
use warp::http::{header, HeaderValue, StatusCode};
use warp::hyper::body::Bytes;
use warp::reply::{Reply, Response};

use super::handlers::{start_sign_in, Page};
use super::logins::Intent;
use super::session::{Session, SESSION_COOKIE, SESSION_TTL};
use super::App;
use crate::discord::models::Snowflake;
use crate::edits::{
    EditForm, FieldErrors, FormValues, Offers, ProfileEdits, ABOUT_CHARS, BIO_CHARS,
    LINK_TITLE_CHARS, MAX_LINKS, PRONOUNS_CHARS,
};
use crate::routes::{LOGOUT, ME};
use crate::service::{EditView, Saved};

/// The model of `edit.html` (see the template for what each field is for).
#[derive(Debug, Serialize)]
struct EditPage {
    action: String,
    logout_path: String,
    csrf: String,
    values: FormValues,
    errors: FieldErrors,
    offers: Offers,
    overridden: Vec<&'static str>,
    limits: Limits,
    notice: Option<String>,
    /// Edits wait for approval.
    pending: bool,
    /// `self_service.moderation = "review"`.
    review: bool,
    page_url: String,
}

/// The limits the form states (and the service enforces).
#[derive(Debug, Serialize)]
struct Limits {
    bio: usize,
    about: usize,
    pronouns: usize,
    links: usize,
    link_title: usize,
}

const LIMITS: Limits = Limits {
    bio: BIO_CHARS,
    about: ABOUT_CHARS,
    pronouns: PRONOUNS_CHARS,
    links: MAX_LINKS,
    link_title: LINK_TITLE_CHARS,
};

/// A `Set-Cookie` value for the session cookie; `max_age` 0 clears it.
pub(super) fn session_cookie(app: &App, value: &str, max_age: u64) -> HeaderValue {
    let secure = if app.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}"
    );
    // The value is base64url: always a valid header value.
    HeaderValue::from_str(&cookie).expect("session cookies are plain ASCII")
}

/// Starts a session for `user` on `response` (after a consent or an edit sign-in); nothing
/// when self-service is off or the service has no key.
pub(super) fn start_session(app: &App, user: Snowflake, response: &mut Response) {
    if !app.service.config().self_service.enabled {
        return;
    }
    if let Some((_, value)) = app.sessions.start(user, app.now()) {
        let cookie = session_cookie(app, &value, SESSION_TTL.as_secs());
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

/// Self-service turned off: `/me` is not there.
fn disabled(app: &App) -> Option<Response> {
    (!app.service.config().self_service.enabled).then(|| {
        Page::error(StatusCode::NOT_FOUND, "Not found", "There is no page here.").render(app)
    })
}

/// `GET /me`: the edit form of the signed-in person, or a sign-in (identify only) first.
pub(crate) async fn edit_page(
    cookies: Option<String>,
    app: Arc<App>,
) -> Result<Response, std::convert::Infallible> {
    if let Some(response) = disabled(&app) {
        return Ok(response);
    }
    let Some(session) = app.sessions.find(cookies.as_deref(), app.now()) else {
        return Ok(start_sign_in(&app, Intent::Edit));
    };
    Ok(match app.service.edit_view(session.user, None).await {
        Ok(Some(view)) => {
            let values = FormValues::from(view.stored.latest().unwrap_or(&ProfileEdits::default()));
            form_page(&app, &session, &view, values, FieldErrors::new(), None)
        }
        Ok(None) => no_page(&app),
        Err(error) => store_down(&app, session.user, &error),
    })
}

/// `POST /me`: checks the session, its CSRF token and every field, then saves.
pub(crate) async fn save(
    cookies: Option<String>,
    body: Bytes,
    app: Arc<App>,
) -> Result<Response, std::convert::Infallible> {
    if let Some(response) = disabled(&app) {
        return Ok(response);
    }
    let Some(session) = app.sessions.find(cookies.as_deref(), app.now()) else {
        // Signed out or expired: sign in again (the form's values are lost, as with any
        // expired session; nothing is saved without one).
        return Ok(warp::redirect::see_other(warp::http::Uri::from_static("/me")).into_response());
    };
    let form = match EditForm::parse(&body) {
        Ok(form) => form,
        Err(error) => {
            tracing::info!(user = %session.user, "edit form refused: {error}");
            return Ok(Page::error(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "This form could not be understood. Please edit your page from its form.",
            )
            .render(&app));
        }
    };
    if !session.csrf_matches(form.csrf()) {
        return Ok(forbidden(&app, session.user));
    }
    let view = match app.service.edit_view(session.user, None).await {
        Ok(Some(view)) => view,
        Ok(None) => return Ok(no_page(&app)),
        Err(error) => return Ok(store_down(&app, session.user, &error)),
    };
    let previous = view.stored.latest().cloned().unwrap_or_default();
    let edits = match form.validate(view.offers, &previous) {
        Ok(edits) => edits,
        Err(errors) => {
            let values = form.values(view.offers, &previous);
            let mut response = form_page(&app, &session, &view, values, errors, None);
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    Ok(save_valid(&app, &session, edits).await)
}

/// Saves checked edits and shows the form again with what became of them.
async fn save_valid(app: &App, session: &Session, edits: ProfileEdits) -> Response {
    let notice = match app.service.save_edits(session.user, edits.clone()).await {
        Ok(Saved::Published) => "Saved. Your page is being rebuilt and shows this in a moment.",
        Ok(Saved::Held) => "Saved. The site's moderators review changes before they are published.",
        Err(error) => return store_down(app, session.user, &error),
    };
    match app.service.edit_view(session.user, None).await {
        Ok(Some(view)) => {
            let values = FormValues::from(&edits);
            form_page(
                app,
                session,
                &view,
                values,
                FieldErrors::new(),
                Some(notice),
            )
        }
        Ok(None) => no_page(app),
        Err(error) => store_down(app, session.user, &error),
    }
}

/// `POST /logout`: ends the session (its token must come with it) and clears the cookie.
pub(crate) async fn logout(
    cookies: Option<String>,
    body: Bytes,
    app: Arc<App>,
) -> Result<Response, std::convert::Infallible> {
    let now = app.now();
    if let Some(session) = app.sessions.find(cookies.as_deref(), now) {
        let sent = url::form_urlencoded::parse(&body)
            .find(|(name, _)| name == crate::edits::CSRF_FIELD)
            .map(|(_, value)| value.into_owned());
        if !session.csrf_matches(sent.as_deref()) {
            return Ok(forbidden(&app, session.user));
        }
        let (token, expires_at) = app.sessions.end(&session, now);
        let stored = app
            .service
            .store()
            .run(move |store| store.end_session(token, expires_at, now))
            .await;
        if let Err(error) = stored {
            // Ended in this process all the same; only a restart within the hour would forget.
            tracing::warn!(user = %session.user, "cannot record the sign-out in the store: {error}");
        }
        tracing::info!(user = %session.user, "signed out");
    }
    let mut response = Page::success("Signed out", "You are signed out.", None).render(&app);
    response
        .headers_mut()
        .append(header::SET_COOKIE, session_cookie(&app, "", 0));
    Ok(response)
}

fn form_page(
    app: &App,
    session: &Session,
    view: &EditView,
    values: FormValues,
    errors: FieldErrors,
    notice: Option<&str>,
) -> Response {
    let page = EditPage {
        action: format!("/{ME}"),
        logout_path: format!("/{LOGOUT}"),
        csrf: session.csrf().to_owned(),
        values,
        errors,
        offers: view.offers,
        overridden: view.overridden.clone(),
        limits: LIMITS,
        notice: notice.map(str::to_owned),
        pending: view.stored.pending.is_some(),
        review: app.service.config().self_service.moderation == crate::config::Moderation::Review,
        page_url: app.service.profile_url(session.user),
    };
    match app.renderer.render_edit(&page, &view.preview) {
        Ok(html) => warp::reply::html(html).into_response(),
        Err(error) => {
            tracing::error!("cannot render the edit page: {error}");
            Page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The edit page could not be shown; the operator has been told.",
            )
            .render(app)
        }
    }
}

fn forbidden(app: &App, user: Snowflake) -> Response {
    tracing::warn!(user = %user, "a form without this session's CSRF token was refused");
    Page::error(
        StatusCode::FORBIDDEN,
        "Not allowed",
        "This form did not come from your edit page. Nothing was changed; please open the edit page again.",
    )
    .render(app)
}

/// Signed in, but nothing of theirs is published here: they consent first.
fn no_page(app: &App) -> Response {
    let mut response = Page::error(
        StatusCode::NOT_FOUND,
        "No page yet",
        "You have no page on this site yet. Publish one first, then come back to edit it.",
    )
    .with_link("Publish your page", "/")
    .render(app);
    response
        .headers_mut()
        .append(header::SET_COOKIE, session_cookie(app, "", 0));
    response
}

fn store_down(app: &App, user: Snowflake, error: &crate::store::StoreError) -> Response {
    tracing::error!(user = %user, "the edit page failed: {error}");
    Page::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Not available",
        "Your page cannot be edited right now. Please try again later.",
    )
    .render(app)
}
