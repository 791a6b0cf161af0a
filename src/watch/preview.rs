//! Owns the preview server of `watch` and its live-reload events.
//! It must not build the site: it only serves the output folder and announces rebuilds.
//!
//! The preview server of `watch`: serves the output folder, tells open pages to reload after each
//! rebuild, and shows the last build's error instead of the pages while it fails.
//!
//! Only the preview's responses carry the reload script: the files in the output folder are
//! exactly what `build` writes.
//!
//! Every route answers `GET` and `HEAD`. A redirect never leaves the preview's host: its
//! `Location` is always built as a [`LocalPath`], never copied from the request.

use std::convert::Infallible;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::stream::{self, Stream, StreamExt};
use minijinja::{context, Environment};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use tokio::sync::watch;
use warp::http::{header, HeaderValue, StatusCode};
use warp::path::FullPath;
use warp::reply::Response;
use warp::sse::Event;
use warp::{Filter, Reply};

use crate::http_server::{get_or_head, without_body_for_head};

pub use crate::routes::PREVIEW_SEGMENT;
/// Everything under this path belongs to the preview, never to the site.
pub const PREVIEW_PREFIX: &str = "/__strife/";
/// The server-sent events stream that tells preview pages to reload.
pub const EVENTS_PATH: &str = "/__strife/events";
const SCRIPT_PATH: &str = "/__strife/reload.js";

/// Reloads the page on a `reload` event, or when the first `ready` event shows that the site
/// changed since this page was served (a rebuild finished while the page was loading, or the
/// connection was lost across one). A separate file, so a `script-src 'self'` policy allows it.
const RELOAD_SCRIPT: &str = r#"// strife-gen watch: reload this page after each rebuild.
(function () {
  var served = new URL(document.currentScript.src).searchParams.get("v");
  var events = new EventSource("/__strife/events");
  events.addEventListener("ready", function (e) { if (e.data !== served) location.reload(); });
  events.addEventListener("reload", function () { location.reload(); });
})();
"#;

const ERROR_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Build failed · strife-gen watch</title>
<meta name="color-scheme" content="light dark">
</head>
<body>
<h1>The site did not build</h1>
<pre>{{ message }}</pre>
<p>strife-gen watch is still watching: save a fix and this page reloads by itself.</p>
</body>
</html>
"#;

/// What the preview serves now. Every new value makes open pages reload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Published {
    pub(crate) output_dir: PathBuf,
    /// The path of the site's base URL (`/` or `/prefix/`): the site is served under it, so its
    /// root-relative links work as they will when published.
    pub(crate) root: String,
    /// The last build's (or config reload's) error, shown instead of the site's pages.
    pub(crate) error: Option<String>,
    /// Counts finished builds; pages compare it to know whether they are stale.
    pub(crate) generation: u64,
}

/// The preview's routes. `session` tells this process's pages from an earlier run's.
pub(crate) fn routes(
    site: watch::Receiver<Published>,
    session: Arc<str>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let with_site = warp::any().map(move || site.clone());
    let with_session = warp::any().map(move || session.clone());
    let own = || warp::path(PREVIEW_SEGMENT);
    let events = own()
        .and(warp::path("events"))
        .and(warp::path::end())
        .and(get_or_head())
        .and(with_site.clone())
        .and(with_session.clone())
        .map(|site, session| {
            let stream = warp::sse::keep_alive().stream(reload_events(site, session));
            no_store(warp::sse::reply(stream).into_response())
        });
    let script = own()
        .and(warp::path("reload.js"))
        .and(warp::path::end())
        .and(get_or_head())
        .map(|| with_type(RELOAD_SCRIPT.into(), "text/javascript; charset=utf-8"));
    let pages = get_or_head()
        .and(warp::path::full())
        .and(with_site)
        .and(with_session)
        .then(serve_path);
    let answered = events
        .or(script)
        .unify()
        .or(pages)
        .unify()
        .recover(|_| async { Ok::<_, Infallible>(plain(StatusCode::METHOD_NOT_ALLOWED)) })
        .unify();
    without_body_for_head(answered)
}

/// `ready` with the current version first, then `reload` after every change; ends when watch
/// stops (the sender is dropped), which lets the server shut down with pages still open.
fn reload_events(
    mut site: watch::Receiver<Published>,
    session: Arc<str>,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let generation = site.borrow_and_update().generation;
    let ready = Event::default()
        .event("ready")
        .data(version(&session, generation));
    let reloads = stream::unfold((site, session), |(mut site, session)| async move {
        site.changed().await.ok()?;
        let generation = site.borrow_and_update().generation;
        let event = Event::default()
            .event("reload")
            .data(version(&session, generation));
        Some((Ok(event), (site, session)))
    });
    stream::once(async move { Ok(ready) }).chain(reloads)
}

fn version(session: &str, generation: u64) -> String {
    format!("{session}-{generation}")
}

async fn serve_path(
    path: FullPath,
    site: watch::Receiver<Published>,
    session: Arc<str>,
) -> Response {
    let published = site.borrow().clone();
    let page = Page {
        published: &published,
        version: version(&session, published.generation),
    };
    match resolve(&published, path.as_str()) {
        Resolved::Redirect(location) => redirect(&location),
        Resolved::NotFound => page.not_found().await,
        Resolved::File(file) => match tokio::fs::read(&file).await {
            Ok(bytes) => page.file(&file, bytes),
            Err(error) if is_not_found(&error) => page.not_found().await,
            Err(error) => {
                tracing::warn!("preview: cannot read {}: {error}", file.display());
                plain(StatusCode::INTERNAL_SERVER_ERROR)
            }
        },
    }
}

fn is_not_found(error: &std::io::Error) -> bool {
    matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

/// Responses for one request, knowing the site's state.
struct Page<'a> {
    published: &'a Published,
    version: String,
}

impl Page<'_> {
    fn file(&self, path: &Path, bytes: Vec<u8>) -> Response {
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        if mime.essence_str() != "text/html" {
            let content_type = match mime.type_() == mime_guess::mime::TEXT {
                true => format!("{}; charset=utf-8", mime.essence_str()),
                false => mime.essence_str().to_owned(),
            };
            return with_type(bytes, &content_type);
        }
        self.html(StatusCode::OK, bytes)
    }

    /// The site's own `404.html` when it has one.
    async fn not_found(&self) -> Response {
        let custom = self.published.output_dir.join("404.html");
        let body = match tokio::fs::read(&custom).await {
            Ok(bytes) => bytes,
            Err(_) => b"<!doctype html>\n<title>Not found</title>\n<h1>Not found</h1>\n".to_vec(),
        };
        self.html(StatusCode::NOT_FOUND, body)
    }

    /// An HTML response with the reload script; the error page instead while the build fails.
    fn html(&self, status: StatusCode, body: Vec<u8>) -> Response {
        let (status, body) = match &self.published.error {
            Some(message) => (StatusCode::INTERNAL_SERVER_ERROR, error_page(message)),
            None => (status, body),
        };
        let body = inject_script(body, &self.version);
        let mut response = with_type(body, "text/html; charset=utf-8");
        *response.status_mut() = status;
        response
    }
}

fn error_page(message: &str) -> Vec<u8> {
    let mut env = Environment::new();
    // Named `.html`, so minijinja escapes the message.
    let rendered = env
        .add_template("error.html", ERROR_PAGE)
        .and_then(|()| env.get_template("error.html"))
        .and_then(|template| template.render(context! { message }));
    match rendered {
        Ok(html) => html.into_bytes(),
        Err(error) => format!("build failed (and so did the error page: {error})").into_bytes(),
    }
}

/// Puts the reload script before the last `</body>`, or at the end when there is none.
pub(crate) fn inject_script(mut html: Vec<u8>, version: &str) -> Vec<u8> {
    let tag = format!("<script src=\"{SCRIPT_PATH}?v={version}\"></script>\n");
    let lower = html.to_ascii_lowercase();
    let needle = b"</body>";
    let at = lower
        .windows(needle.len())
        .rposition(|window| window == needle)
        .unwrap_or(html.len());
    html.splice(at..at, tag.into_bytes());
    html
}

#[derive(Debug, PartialEq)]
enum Resolved {
    File(PathBuf),
    Redirect(LocalPath),
    NotFound,
}

/// What a path segment keeps of itself in a [`LocalPath`]: everything but the characters that
/// end or split a segment (`/`, `\`, `?`, `#`), that a browser drops or rewrites (controls,
/// space) or that are not allowed in a URL path; non-ASCII is always encoded.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A folder's path on the preview's own host, as a `Location`: `/` and percent-encoded,
/// non-empty segments, each followed by `/`. Built only from decoded segments, so it starts
/// with exactly one `/` and holds no backslash, control character or scheme: a browser cannot
/// read it as another host (`//evil.example`, `/\evil.example`), whatever the request was.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LocalPath(String);

impl LocalPath {
    fn folder<S: AsRef<str>>(segments: impl IntoIterator<Item = S>) -> LocalPath {
        let mut path = String::from("/");
        for segment in segments {
            let segment = segment.as_ref();
            if segment.is_empty() {
                continue;
            }
            path.extend(utf8_percent_encode(segment, SEGMENT));
            path.push('/');
        }
        LocalPath(path)
    }

    fn as_str(&self) -> &str {
        &self.0
    }
}

/// The decoded segments of the site's root (`/people/` → `people`).
fn root_segments(root: &str) -> Vec<String> {
    root.split('/')
        .map(|segment| percent_encoding::percent_decode_str(segment).decode_utf8_lossy())
        .map(|segment| segment.into_owned())
        .collect()
}

/// Maps a request path to a file of the output folder: only under the site's root, never
/// outside the folder (`..` and the like are refused), `index.html` for folders (which need
/// their trailing `/`, so relative links work).
fn resolve(published: &Published, request_path: &str) -> Resolved {
    let root = &published.root;
    if root != "/" && (request_path == "/" || request_path == root.trim_end_matches('/')) {
        return Resolved::Redirect(LocalPath::folder(root_segments(root)));
    }
    let Some(rest) = request_path.strip_prefix(root.as_str()) else {
        return Resolved::NotFound;
    };
    let Ok(decoded) = percent_encoding::percent_decode_str(rest).decode_utf8() else {
        return Resolved::NotFound;
    };
    let mut file = published.output_dir.clone();
    let segments: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();
    for segment in &segments {
        let unsafe_segment = *segment == "." || *segment == ".." || segment.contains(['\\', '\0']);
        if unsafe_segment {
            return Resolved::NotFound;
        }
        file.push(segment);
    }
    if file.is_dir() {
        if !request_path.ends_with('/') {
            let mut folder = root_segments(root);
            folder.extend(segments.iter().map(|s| s.to_string()));
            return Resolved::Redirect(LocalPath::folder(folder));
        }
        file.push("index.html");
    }
    Resolved::File(file)
}

fn redirect(location: &LocalPath) -> Response {
    let mut response = plain(StatusCode::FOUND);
    match HeaderValue::from_str(location.as_str()) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => plain(StatusCode::NOT_FOUND),
    }
}

fn plain(status: StatusCode) -> Response {
    let text = status.canonical_reason().unwrap_or("error");
    let mut response = with_type(text.as_bytes().to_vec(), "text/plain; charset=utf-8");
    *response.status_mut() = status;
    response
}

fn with_type(body: Vec<u8>, content_type: &str) -> Response {
    let mut response = body.into_response();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    no_store(response)
}

/// A preview must never be cached: after a rebuild the browser reloads stylesheets too.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(root: &str, output_dir: &Path) -> Published {
        Published {
            output_dir: output_dir.to_owned(),
            root: root.into(),
            error: None,
            generation: 1,
        }
    }

    #[test]
    fn the_script_goes_before_the_last_closing_body() {
        let html = b"<html><body><p>&lt;/body&gt;</p></BODY></html>".to_vec();
        let out = String::from_utf8(inject_script(html, "s-1")).unwrap();
        assert_eq!(
            out,
            "<html><body><p>&lt;/body&gt;</p><script src=\"/__strife/reload.js?v=s-1\"></script>\n</BODY></html>"
        );
        let out = String::from_utf8(inject_script(b"<p>hi</p>".to_vec(), "s-1")).unwrap();
        assert!(out.starts_with("<p>hi</p><script"));
    }

    #[test]
    fn paths_resolve_inside_the_output_folder_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("u/1")).unwrap();
        let site = published("/", dir.path());
        assert_eq!(
            resolve(&site, "/"),
            Resolved::File(dir.path().join("index.html"))
        );
        assert_eq!(
            resolve(&site, "/u/1"),
            Resolved::Redirect(LocalPath("/u/1/".into()))
        );
        assert_eq!(
            resolve(&site, "/u/1/"),
            Resolved::File(dir.path().join("u/1/index.html"))
        );
        assert_eq!(
            resolve(&site, "/static/a%20b.css"),
            Resolved::File(dir.path().join("static/a b.css"))
        );
        assert_eq!(resolve(&site, "/../secret"), Resolved::NotFound);
        assert_eq!(resolve(&site, "/u/%2e%2e/%2e%2e/x"), Resolved::NotFound);
        assert_eq!(resolve(&site, "/a%5c..%5cb"), Resolved::NotFound);
    }

    #[test]
    fn a_site_under_a_path_is_served_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let site = published("/people/", dir.path());
        assert_eq!(
            resolve(&site, "/"),
            Resolved::Redirect(LocalPath("/people/".into()))
        );
        assert_eq!(
            resolve(&site, "/people"),
            Resolved::Redirect(LocalPath("/people/".into()))
        );
        assert_eq!(
            resolve(&site, "/people/"),
            Resolved::File(dir.path().join("index.html"))
        );
        assert_eq!(resolve(&site, "/other/x.html"), Resolved::NotFound);
    }

    /// Request paths that try to make a folder redirect (`/x` → `/x/`) leave the host: doubled
    /// slashes, backslashes (browsers read `\` as `/`), their encodings, and the tab and newline
    /// characters browsers drop from URLs.
    const HOSTILE_PATHS: &[&str] = &[
        "//evil.example",
        "///evil.example",
        "////evil.example",
        "/\\evil.example",
        "/\\\\evil.example",
        "/\\/evil.example",
        "/%2F%2Fevil.example",
        "/%2f/evil.example",
        "/%2F%5Cevil.example",
        "/%5Cevil.example",
        "/%5C%5Cevil.example",
        "/%09/evil.example",
        "/\t/evil.example",
        "/%0d%0a/evil.example",
        "/%0A/evil.example",
        "/.//evil.example",
        "//evil.example%2F",
        "/%2F%2Fevil.example/..",
        "/%2F%2Fevil.example%3F",
        "/https:%2F%2Fevil.example",
        "/%68ttps://evil.example",
    ];

    /// Where a browser on the preview goes with `location`.
    fn followed(location: &str) -> url::Url {
        url::Url::parse("http://127.0.0.1:8000/page")
            .unwrap()
            .join(location)
            .unwrap()
    }

    fn redirect_of(resolved: Resolved) -> Option<String> {
        match resolved {
            Resolved::Redirect(location) => Some(location.as_str().to_owned()),
            _ => None,
        }
    }

    #[test]
    fn redirects_never_leave_the_preview_host() {
        let dir = tempfile::tempdir().unwrap();
        for folder in ["evil.example", "people/evil.example", "https:/evil.example"] {
            std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        }
        for root in ["/", "/people/"] {
            let site = published(root, dir.path());
            let prefix = root.trim_end_matches('/');
            for path in HOSTILE_PATHS {
                let request = format!("{prefix}{path}");
                let Some(location) = redirect_of(resolve(&site, &request)) else {
                    continue;
                };
                let target = followed(&location);
                assert_eq!(
                    target.host_str(),
                    Some("127.0.0.1"),
                    "{request:?} redirects to {location:?}"
                );
                assert!(
                    location.starts_with('/')
                        && !location[1..].starts_with(['/', '\\'])
                        && !location.contains('\\')
                        && !location.chars().any(|c| c.is_ascii_control() || c == ' '),
                    "{request:?} redirects to {location:?}"
                );
            }
        }
        // The folder is still reached, at its one canonical address.
        let site = published("/", dir.path());
        assert_eq!(
            redirect_of(resolve(&site, "//evil.example")).as_deref(),
            Some("/evil.example/")
        );
        assert_eq!(
            redirect_of(resolve(&site, "/%2F%2Fevil.example")).as_deref(),
            Some("/evil.example/")
        );
    }

    #[test]
    fn redirect_locations_encode_what_the_folder_name_holds() {
        let dir = tempfile::tempdir().unwrap();
        for folder in ["a b", "a?b", "a#b", "ü"] {
            std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        }
        let site = published("/", dir.path());
        for (request, expected) in [
            ("/a%20b", "/a%20b/"),
            ("/a%3Fb", "/a%3Fb/"),
            ("/a%23b", "/a%23b/"),
            ("/%C3%BC", "/%C3%BC/"),
        ] {
            assert_eq!(
                redirect_of(resolve(&site, request)).as_deref(),
                Some(expected),
                "{request}"
            );
        }
    }

    #[tokio::test]
    async fn unknown_paths_get_the_sites_own_404_page_with_the_script() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("404.html"), "<body>our 404</body>").unwrap();
        let (_sender, site) = watch::channel(published("/", dir.path()));
        let routes = routes(site, "s".into());
        let response = warp::test::request()
            .path("/missing/page")
            .reply(&routes)
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = String::from_utf8_lossy(response.body());
        assert!(
            body.starts_with("<body>our 404<script src=\"/__strife/reload.js?v=s-1\">"),
            "{body}"
        );
        let response = warp::test::request()
            .method("POST")
            .path("/")
            .reply(&routes)
            .await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn the_error_page_escapes_the_message() {
        let page = String::from_utf8(error_page("bad <script> in base.html:3")).unwrap();
        assert!(page.contains("bad &lt;script&gt; in base.html:3"), "{page}");
    }
}
