//! Slow, idle and stuck clients against the real service and the shared HTTP server, on real TCP
//! sockets on 127.0.0.1: none of them can keep `/healthz` from answering, hold a connection
//! forever, or hold up a shutdown. Limits are set short for the tests; every wait is a generous
//! bound, never a timing being asserted.

use std::sync::Arc;
use std::time::Duration;

use crate::support::site::Site;
use strife_gen::http_server::{self, ConnectionStats, Limits};
use strife_gen::server::serve_until;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use warp::Filter;

/// How long anything expected may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// The real service on a free port, stopped when [`Running::stop`] is called.
struct Running {
    address: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    service: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(site: &Site) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let worker = site.service.spawn_background_builds();
        let (stop, stopped) = oneshot::channel::<()>();
        let service = tokio::spawn(serve_until(
            site.app.clone(),
            listener,
            worker,
            async move {
                let _ = stopped.await;
            },
        ));
        Running {
            address,
            stop,
            service,
        }
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(PATIENCE, self.service)
            .await
            .expect("the service stops")
            .unwrap()
            .expect("a clean stop");
    }
}

/// A site whose service has `server_settings` in its `[server]` table.
async fn site_with(server_settings: &str) -> Site {
    let settings = server_settings.to_owned();
    Site::with(
        move |config| format!("{config}\n[server]\n{settings}"),
        |app| app,
    )
    .await
}

/// Reads until the peer closes (or resets) the connection; fails after [`PATIENCE`].
async fn until_closed(socket: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0u8; 4096];
        loop {
            match socket.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the connection was not closed");
    received
}

#[tokio::test]
async fn idle_connections_beyond_the_cap_cannot_lock_out_a_probe() {
    const CAP: usize = 4;
    let site = site_with(&format!(
        "header_timeout = \"300ms\"\nmax_connections = {CAP}\n"
    ))
    .await;
    let running = Running::start(&site).await;
    let mut idle = Vec::new();
    for _ in 0..CAP * 5 {
        idle.push(TcpStream::connect(running.address).await.unwrap());
    }
    let probe = reqwest::get(format!("http://{}/healthz", running.address));
    let answer = tokio::time::timeout(PATIENCE, probe)
        .await
        .expect("/healthz answers")
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "ok");
    let connections = site.app.connections();
    assert!(
        connections.peak() <= CAP,
        "{} connections were open at once",
        connections.peak()
    );
    assert!(connections.accepted() > CAP as u64, "idle ones were let go");
    drop(idle);
    running.stop().await;
}

#[tokio::test]
async fn idle_and_half_sent_requests_are_closed_after_the_header_timeout() {
    let site = site_with("header_timeout = \"300ms\"\n").await;
    let running = Running::start(&site).await;

    let mut silent = TcpStream::connect(running.address).await.unwrap();
    until_closed(&mut silent).await;

    let mut partial = TcpStream::connect(running.address).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let answer = until_closed(&mut partial).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "half a request was answered"
    );

    // Kept alive after an answer, then silent: idle again, closed again.
    let mut kept = TcpStream::connect(running.address).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&until_closed(&mut kept).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    running.stop().await;
}

#[tokio::test]
async fn a_trickled_webhook_body_gets_408_and_its_connection_closed() {
    let site = site_with("header_timeout = \"60s\"\nbody_timeout = \"500ms\"\n").await;
    let running = Running::start(&site).await;
    let socket = TcpStream::connect(running.address).await.unwrap();
    let (mut reader, mut writer) = socket.into_split();
    writer
        .write_all(b"POST /webhooks/refresh HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n{")
        .await
        .unwrap();
    // One byte now and then: the body would take 40 s to arrive.
    let trickle = tokio::spawn(async move {
        for _ in 0..199 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0u8; 4096];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the trickling connection was closed");
    trickle.abort();
    let answer = String::from_utf8_lossy(&received);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request body too slow"), "{answer}");
    running.stop().await;
}

/// Limits for a server under test: short timeouts, room for `connections`.
fn limits(connections: usize) -> Limits {
    Limits {
        header_timeout: Duration::from_secs(60),
        max_connections: connections,
        write_timeout: Duration::from_millis(300),
        drain_timeout: Duration::from_secs(60),
        lowered_from: None,
    }
}

/// Waits until `check` holds, for at most [`PATIENCE`].
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_an_answer_is_let_go() {
    // Far more than the socket buffers of both ends hold.
    let big = warp::path!("big").map(|| warp::reply::Response::new(vec![b'x'; 64 << 20].into()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stats = Arc::new(ConnectionStats::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(http_server::serve(
        big.recover(|_| async {
            Ok::<_, std::convert::Infallible>(warp::reply::Response::default())
        })
        .unify(),
        listener,
        limits(4),
        stats.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut socket = TcpStream::connect(address).await.unwrap();
    socket
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    eventually("the connection is served", || stats.accepted() == 1).await;
    eventually("the stuck answer is abandoned", || stats.open() == 0).await;
    drop(socket);
    stop.send(()).unwrap();
    tokio::time::timeout(PATIENCE, server)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn stopping_answers_the_request_in_progress_then_closes() {
    let entered = Arc::new(tokio::sync::Notify::new());
    let (release, released) = tokio::sync::watch::channel(false);
    let slow = {
        let entered = entered.clone();
        warp::path!("slow").then(move || {
            let entered = entered.clone();
            let mut released = released.clone();
            async move {
                entered.notify_one();
                let _ = released.wait_for(|go| *go).await;
                warp::reply::Response::new("finished".into())
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stats = Arc::new(ConnectionStats::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let filter = slow
        .recover(|_| async { Ok::<_, std::convert::Infallible>(warp::reply::Response::default()) })
        .unify();
    let server = tokio::spawn(http_server::serve(
        filter,
        listener,
        limits(4),
        stats.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut idle = TcpStream::connect(address).await.unwrap();
    let request = tokio::spawn(async move {
        let answer = reqwest::get(format!("http://{address}/slow")).await?;
        answer.text().await
    });
    entered.notified().await;
    eventually("both connections are open", || stats.open() == 2).await;

    stop.send(()).unwrap();
    // The idle connection is closed at once, long before its header timeout.
    until_closed(&mut idle).await;
    eventually("the listener is closed", || {
        std::net::TcpStream::connect(address).is_err()
    })
    .await;
    assert!(
        !server.is_finished(),
        "the request in progress is waited for"
    );
    release.send(true).unwrap();
    assert_eq!(request.await.unwrap().unwrap(), "finished");
    tokio::time::timeout(PATIENCE, server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.open(), 0);
}

#[tokio::test]
async fn a_request_that_never_finishes_cannot_hold_up_a_stop() {
    let stuck = warp::path!("stuck").then(|| async {
        std::future::pending::<()>().await;
        warp::reply::Response::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stats = Arc::new(ConnectionStats::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let filter = stuck
        .recover(|_| async { Ok::<_, std::convert::Infallible>(warp::reply::Response::default()) })
        .unify();
    let server = tokio::spawn(http_server::serve(
        filter,
        listener,
        Limits {
            drain_timeout: Duration::from_millis(200),
            ..limits(4)
        },
        stats.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut socket = TcpStream::connect(address).await.unwrap();
    socket
        .write_all(b"GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    eventually("the request is in progress", || stats.open() == 1).await;
    stop.send(()).unwrap();
    tokio::time::timeout(PATIENCE, server)
        .await
        .expect("the stop is not held up")
        .unwrap();
    until_closed(&mut socket).await;
}
