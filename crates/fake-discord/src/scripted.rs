//! A scripted HTTP server for unit tests of a Discord client: it records every request and answers
//! with whatever the test's responder returns. It knows nothing of Discord: no state, no routes.
//!
//! It listens on `127.0.0.1:0` as a task of the current tokio runtime and stops with it. Nothing
//! leaves the machine.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use warp::http::{HeaderMap, Method, Response, StatusCode};
use warp::hyper::body::Bytes;
use warp::Filter;

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The HTTP method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, without `?` (empty when there was none).
    pub query: String,
    /// Every header as sent.
    pub headers: HeaderMap,
    /// The body, read as UTF-8 (lossily).
    pub body: String,
}

impl Recorded {
    /// The header `name`, when it is there and readable as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Decoded `application/x-www-form-urlencoded` body (or query) as pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }

    /// The first value of `key` in the form body.
    pub fn form_value(&self, key: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The first value of `key` in the query.
    pub fn query_value(&self, key: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// What a responder returns: status, extra headers, body.
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Headers besides the content type, in order.
    pub headers: Vec<(String, String)>,
    /// The body, as is.
    pub body: String,
}

impl Reply {
    /// `body` (JSON or not: tests send broken bodies too) labelled `application/json`.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    /// Adds the header `name`.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// Called with the request and its 0-based index among all requests the server got.
type Responder = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

/// A running scripted server.
pub struct FakeServer {
    /// `127.0.0.1:PORT`.
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeServer {
    /// Starts serving on a free loopback port; the server lives as long as the test runtime.
    pub async fn start(
        responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let responder: Arc<Responder> = Arc::new(responder);
        let log = requests.clone();
        let route = warp::method()
            .and(warp::path::full())
            .and(warp::query::raw().or(warp::any().map(String::new)).unify())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .and_then(
                move |method, path: warp::path::FullPath, query, headers, body: Bytes| {
                    let recorded = Recorded {
                        method,
                        path: path.as_str().to_owned(),
                        query,
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    };
                    let index = {
                        let mut log = log.lock().unwrap();
                        log.push(recorded.clone());
                        log.len() - 1
                    };
                    let reply = responder(&recorded, index);
                    async move { Ok::<_, Infallible>(to_response(reply)) }
                },
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        FakeServer { addr, requests }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{}", self.addr, path)).unwrap()
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

/// The HTTP response of a test's [`Reply`].
fn to_response(reply: Reply) -> Response<Vec<u8>> {
    let mut builder = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(reply.body.into_bytes()).unwrap()
}
