//! The first path segments the consent service and the watch preview answer on: the names the
//! published site must leave free. It owns only these names and must not import anything, so
//! the servers and the site (vanity URLs) can both use it without importing each other.

/// `GET /login`: start a consent.
pub(crate) const LOGIN: &str = "login";
/// `GET /delete`: start a deletion.
pub(crate) const DELETE: &str = "delete";
/// `GET /callback`: Discord's redirect back.
pub(crate) const CALLBACK: &str = "callback";
/// `GET /healthz`: the probe.
pub(crate) const HEALTHZ: &str = "healthz";
/// `GET /static/*`: the theme's files.
pub(crate) const STATIC: &str = "static";
/// `GET /me` the edit form, `POST /me` save it: people editing their own page.
pub(crate) const ME: &str = "me";
/// `POST /logout`: end the edit session.
pub(crate) const LOGOUT: &str = "logout";
/// `/webhooks/*`: see `server::webhooks`.
pub(crate) const WEBHOOKS: &str = "webhooks";

/// The first path segment of every route of `strife-gen serve` besides `/`. Its router answers
/// nothing else, so a route added without its segment here cannot be reached (and its author
/// notices at once), rather than be reachable yet missing from the names vanity URLs must not
/// take.
pub const ROUTE_SEGMENTS: [&str; 8] = [
    LOGIN, DELETE, CALLBACK, HEALTHZ, STATIC, WEBHOOKS, ME, LOGOUT,
];

/// The first path segment of everything the watch preview serves itself.
pub const PREVIEW_SEGMENT: &str = "__strife";
