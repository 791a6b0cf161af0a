//! Owns accepting HTTP/1 connections: timeouts, connection cap, HEAD handling.
//! It must not know any route; the consent service and the preview bring their own.
//!
//! The one HTTP server of strife-gen: `serve`'s consent service and `watch`'s preview both run
//! their warp filter through [`serve`], which is warp's filter as a hyper service behind our own
//! accept loop, because warp's server can neither time out slow clients nor cap connections.
//!
//! What a hostile or broken client can hold, and for how long ([`Limits`]):
//!
//! - a connection must send its request line and headers within `header_timeout`, counted from
//!   the connection's start and again after every response (an idle keep-alive connection is
//!   closed then too); a response that has started (an event stream of the preview) is not idle;
//! - at most `max_connections` are open at once, always below the process's open-file limit
//!   (`RLIMIT_NOFILE`) with room left for the store, the Discord client and a build's files.
//!   At the cap the server **stops accepting**: further clients wait in the kernel's listen
//!   backlog (which costs this process no file and no memory) and are taken as soon as a
//!   connection ends. Accepting and closing at once would also spend a file per attempt and turn
//!   every probe and visitor into an error while idle clients are being timed out, whereas
//!   waiting clients are served within about one `header_timeout`;
//! - a response the client stops reading is abandoned after `write_timeout` without progress;
//! - request bodies are read by the routes that want one, each with its own deadline (see the
//!   webhook routes); a route that reads no body gets its connection closed after answering.
//!
//! Only HTTP/1.1 is spoken: both servers sit behind a reverse proxy or a browser on 127.0.0.1,
//! and HTTP/2's connection preface would otherwise be read before any timeout applies.
//!
//! Stopping ([`serve`]'s `stop`): the listener closes at once, idle connections are closed, a
//! request in progress is answered, then its connection closes; after `drain_timeout` whatever is
//! still open is dropped, so one stuck client cannot hold a shutdown forever.
//!
//! HEAD: [`get_or_head`] lets a route answer both, and [`without_body_for_head`] turns a `GET`
//! answer into a `HEAD` answer (same headers and `Content-Length`, no body) before hyper sees it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Sleep;
use warp::http::{header, HeaderValue, Method};
use warp::hyper::body::Body as _;
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::config::ServerConfig;

/// How long a response may make no progress (the client reads nothing) before it is abandoned.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long open connections may take to finish after a stop.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The most connections [`serve`] can count.
const MAX_SLOTS: usize = u32::MAX as usize;

/// Open files the process keeps for itself besides connections: at least this many...
const MIN_FILE_RESERVE: u64 = 64;
/// ...or this share of the limit, whichever is more. The store (SQLite keeps several files per
/// connection), the Discord client's sockets, a build's staged files and folders, the deploy's
/// pipes, the file watcher and the runtime itself all come out of the same limit, and a build
/// that runs out of files fails.
const FILE_RESERVE_DIVISOR: u64 = 8;

/// What the server allows one client; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// How long a client may take to send its request headers.
    pub header_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long a client may take to read an answer.
    pub write_timeout: Duration,
    /// How long shutdown waits for open connections.
    pub drain_timeout: Duration,
    /// Set when `max_connections` is lower than configured because of the open-file limit:
    /// `(configured, open-file limit)`, for the start-up log.
    pub lowered_from: Option<(usize, u64)>,
}

/// The open-file limit leaves no room for connections.
#[derive(Debug, thiserror::Error)]
#[error(
    "the open-file limit of this process ({limit}) leaves no room for connections once {reserve} \
     files are kept for the store, Discord and builds: raise it (`ulimit -n`, or LimitNOFILE= in \
     a systemd unit) to at least {}",
    reserve + 16
)]
pub struct FileLimitError {
    pub(crate) limit: u64,
    pub(crate) reserve: u64,
}

impl Limits {
    /// The limits `[server]` asks for, with the connection cap lowered to fit this process's
    /// open-file limit.
    pub(crate) fn for_server(config: &ServerConfig) -> Result<Limits, FileLimitError> {
        Limits::fitted(config, open_file_limit())
    }

    /// [`Limits::for_server`] for a given open-file limit (`None`: unlimited or unknown).
    pub(crate) fn fitted(
        config: &ServerConfig,
        file_limit: Option<u64>,
    ) -> Result<Limits, FileLimitError> {
        // Past u32::MAX permits the slot semaphore cannot count; no machine gets near it.
        let configured = config.max_connections.get().min(MAX_SLOTS);
        let (max_connections, lowered_from) = match file_limit {
            None => (configured, None),
            Some(limit) => {
                let reserve = MIN_FILE_RESERVE.max(limit / FILE_RESERVE_DIVISOR);
                let room = limit.saturating_sub(reserve);
                if room == 0 {
                    return Err(FileLimitError { limit, reserve });
                }
                let room = usize::try_from(room).unwrap_or(usize::MAX);
                match room < configured {
                    true => (room, Some((configured, limit))),
                    false => (configured, None),
                }
            }
        };
        Ok(Limits {
            header_timeout: config.header_timeout,
            max_connections,
            write_timeout: WRITE_TIMEOUT,
            drain_timeout: DRAIN_TIMEOUT,
            lowered_from,
        })
    }
}

/// The soft `RLIMIT_NOFILE` of this process: what `accept` and every `open` count against.
#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

/// Connections of one server, for logs and tests.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    open: AtomicUsize,
    peak: AtomicUsize,
    accepted: AtomicU64,
}

impl ConnectionStats {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// The most connections that were open at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    fn opened(&self) {
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(open, Ordering::SeqCst);
        self.accepted.fetch_add(1, Ordering::SeqCst);
    }

    fn closed(&self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves `filter` on `listener` within `limits` until `stop` completes, then stops as the
/// module docs say and returns once every connection is closed (or dropped after
/// `drain_timeout`).
pub async fn serve<F>(
    filter: F,
    listener: TcpListener,
    limits: Limits,
    stats: Arc<ConnectionStats>,
    stop: impl Future<Output = ()>,
) where
    F: Filter<Extract = (Response,), Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    F::Future: Send,
{
    log_limits(&limits);
    let max_connections = limits.max_connections.clamp(1, MAX_SLOTS);
    let slots = Arc::new(Semaphore::new(max_connections));
    let (stopping, stopped) = watch::channel(false);
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = next_connection(&listener, &slots) => accepted,
        };
        let Some((stream, slot)) = accepted else {
            continue;
        };
        let connection = Connection {
            stream,
            limits: limits.clone(),
            stats: stats.clone(),
            stopped: stopped.clone(),
        };
        let filter = filter.clone();
        tokio::spawn(async move {
            connection.run(filter).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    // Every connection holds one slot until it ends: all slots back means all closed.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

fn log_limits(limits: &Limits) {
    tracing::info!(
        "at most {} connections at once; request headers within {}",
        limits.max_connections,
        humantime::format_duration(limits.header_timeout)
    );
    if let Some((configured, file_limit)) = limits.lowered_from {
        tracing::warn!(
            "server.max_connections is {configured}, but the open-file limit ({file_limit}) \
             allows {}: raise the limit (`ulimit -n`) to serve more",
            limits.max_connections
        );
    }
}

/// Waits for a free slot, then for a client. `None` when accepting failed; errors that mean
/// the process is out of files are waited out, since connections and builds give them back.
async fn next_connection(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(TcpStream, tokio::sync::OwnedSemaphorePermit)> {
    // The semaphore is never closed, so acquiring only waits.
    let slot = slots.clone().acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, _)) => Some((stream, slot)),
        Err(error) if is_per_connection(&error) => None,
        Err(error) => {
            tracing::warn!("cannot accept connections: {error}; trying again shortly");
            tokio::time::sleep(Duration::from_millis(250)).await;
            None
        }
    }
}

/// Accept errors about one client that gave up, not about the server.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

/// One accepted client.
struct Connection {
    stream: TcpStream,
    limits: Limits,
    stats: Arc<ConnectionStats>,
    stopped: watch::Receiver<bool>,
}

impl Connection {
    async fn run<F>(mut self, filter: F)
    where
        F: Filter<Extract = (Response,), Error = std::convert::Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        F::Future: Send,
    {
        self.stats.opened();
        let io = WriteDeadline::new(self.stream, self.limits.write_timeout);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .keep_alive(true);
        let connection = builder.serve_connection(
            hyper_util::rt::TokioIo::new(io),
            hyper_util::service::TowerToHyperService::new(warp::service(filter)),
        );
        let mut connection = std::pin::pin!(connection);
        let ended = tokio::select! {
            ended = connection.as_mut() => Some(ended),
            _ = self.stopped.wait_for(|stopped| *stopped) => None,
        };
        let ended = match ended {
            Some(ended) => Some(ended),
            None => {
                connection.as_mut().graceful_shutdown();
                tokio::time::timeout(self.limits.drain_timeout, connection)
                    .await
                    .ok()
            }
        };
        match ended {
            // Timeouts, resets and clients that hang up are a client's business, not an error.
            Some(Err(error)) => tracing::debug!("connection ended: {error}"),
            Some(Ok(())) => {}
            None => tracing::debug!("connection dropped: still busy when the server stopped"),
        }
        self.stats.closed();
    }
}

/// A stream whose writes fail once they have made no progress for `timeout`: a client that
/// stops reading an answer cannot keep its connection (and the answer's memory) forever. Reads
/// are untouched; how long a request may take to arrive is hyper's and the routes' business.
struct WriteDeadline<T> {
    inner: T,
    timeout: Duration,
    /// Running while a write waits; reset by every write that makes progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteDeadline<T> {
    fn new(inner: T, timeout: Duration) -> Self {
        WriteDeadline {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// Passes `result` on, or turns a wait that has lasted too long into an error.
    fn check<R>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if result.is_ready() {
            self.stalled = None;
            return result;
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading the answer",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.check(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.check(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.check(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.check(cx, result)
    }
}

/// Matches `GET` and `HEAD`: every page route answers both (see [`without_body_for_head`]).
pub(crate) fn get_or_head() -> impl Filter<Extract = (), Error = Rejection> + Copy {
    warp::get().or(warp::head()).unify()
}

/// Marks an answer to `HEAD` whose `GET` body is not known without doing what only a `GET` may
/// do: [`without_body_for_head`] then sends no `Content-Length` rather than a wrong one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LengthUnknown;

/// Wraps `filter` so that answers to `HEAD` keep their status and headers, gain the
/// `Content-Length` of the body they would have had, and lose the body (a stream, such as the
/// preview's events, is never started).
pub(crate) fn without_body_for_head<F>(
    filter: F,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone
where
    F: Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone + Send + Sync,
{
    warp::method()
        .and(filter)
        .map(
            |method: Method, response: Response| match method == Method::HEAD {
                true => strip_body(response),
                false => response,
            },
        )
}

fn strip_body(mut response: Response) -> Response {
    let known = response.extensions().get::<LengthUnknown>().is_none();
    if let Some(length) = response.body().size_hint().exact().filter(|_| known) {
        response
            .headers_mut()
            .entry(header::CONTENT_LENGTH)
            .or_insert_with(|| HeaderValue::from(length));
    }
    *response.body_mut() = warp::hyper::body::Bytes::new().into();
    response
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use super::*;

    fn server(max_connections: usize) -> ServerConfig {
        ServerConfig {
            max_connections: NonZeroUsize::new(max_connections).unwrap(),
            ..ServerConfig::default()
        }
    }

    #[test]
    fn the_connection_cap_leaves_room_below_the_open_file_limit() {
        // The common soft limit: an eighth stays free.
        let limits = Limits::fitted(&server(1024), Some(1024)).unwrap();
        assert_eq!(limits.max_connections, 896);
        assert_eq!(limits.lowered_from, Some((1024, 1024)));
        // Small limits keep at least 64 files free.
        assert_eq!(
            Limits::fitted(&server(1024), Some(256))
                .unwrap()
                .max_connections,
            192
        );
        // A cap that fits is kept, and nothing is said about it.
        let limits = Limits::fitted(&server(100), Some(65536)).unwrap();
        assert_eq!((limits.max_connections, limits.lowered_from), (100, None));
        // No limit known: the configured cap.
        let limits = Limits::fitted(&server(5000), None).unwrap();
        assert_eq!((limits.max_connections, limits.lowered_from), (5000, None));
        assert_eq!(
            limits.header_timeout,
            ServerConfig::default().header_timeout
        );
    }

    #[test]
    fn an_open_file_limit_with_no_room_for_connections_is_an_error() {
        for limit in [0, 1, 64] {
            let error = Limits::fitted(&server(1024), Some(limit)).unwrap_err();
            let message = error.to_string();
            assert!(message.contains("ulimit -n"), "{message}");
            assert!(message.contains(&format!("({limit})")), "{message}");
        }
        assert_eq!(
            Limits::fitted(&server(1024), Some(65))
                .unwrap()
                .max_connections,
            1
        );
    }

    #[test]
    fn head_answers_keep_the_length_and_lose_the_body() {
        let get = Response::new("twelve bytes".into());
        let head = strip_body(get);
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "12");
        assert_eq!(head.body().size_hint().exact(), Some(0));
        let mut unknown = Response::new("whatever".into());
        unknown.extensions_mut().insert(LengthUnknown);
        assert!(strip_body(unknown)
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_none());
    }
}
