//! Running the real binary's `serve`, and a static web server for the built site: what the
//! end-to-end tests point a browser at.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::fixtures::{binary, in_site, with_secrets};

/// `strife-gen <args>` in `root`, with the secrets the fake Discord and the test store expect.
pub(crate) fn strife(root: &Path, args: &[&str]) -> Command {
    let mut command = binary(root, args);
    with_secrets(&mut command);
    command
}

/// A running `strife-gen serve` (its `strife.toml` binds `127.0.0.1:0`), stopped with SIGTERM
/// and waited for when dropped.
pub(crate) struct Service {
    child: Child,
    /// `127.0.0.1:PORT`, from the "listening on" log line.
    pub address: SocketAddr,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
    /// Waited for already: its pid may belong to another process by now.
    ended: bool,
}

impl Service {
    /// Starts `serve` in `root` and waits (at most 30 s) until it says where it listens.
    pub(crate) fn start(root: &Path) -> Service {
        Service::spawn(strife(root, &["serve"]))
    }

    /// `serve` with its open-file limit (`RLIMIT_NOFILE`) lowered to `limit`, through the shell's
    /// `ulimit`, the way an operator's service manager sets it.
    #[cfg(target_os = "linux")]
    pub(crate) fn start_with_file_limit(root: &Path, limit: u32) -> Service {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" serve"))
            .arg(env!("CARGO_BIN_EXE_strife-gen"));
        with_secrets(in_site(&mut shell, root));
        Service::spawn(shell)
    }

    /// Runs `command` (a `serve`) and waits (at most 30 s) until it says where it listens.
    fn spawn(mut command: Command) -> Service {
        let mut child = command
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let stderr = child.stderr.take().expect("serve's stderr is piped");
        let (sender, receiver) = std::sync::mpsc::channel();
        let log = Arc::new(Mutex::new(String::new()));
        let kept = log.clone();
        // Keep draining the log so the service never blocks on a full pipe.
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = kept.lock().unwrap_or_else(|p| p.into_inner());
                log.push_str(&line);
                log.push('\n');
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = sender.send(rest.trim().to_owned());
                }
            }
        });
        let address = match receiver.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve did not log its address within 30 s; its log:\n{}",
                    log.lock().unwrap_or_else(|p| p.into_inner())
                );
            }
        };
        Service {
            child,
            address: address.parse().expect("serve logs a socket address"),
            log,
            reader: Some(reader),
            ended: false,
        }
    }

    /// `http://127.0.0.1:PORT{path}`
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The service's process id.
    #[cfg(target_os = "linux")]
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the service logged so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops the service (SIGTERM) and returns everything it logged, to its last line.
    pub(crate) fn stop(mut self) -> String {
        self.terminate();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.log()
    }

    /// SIGTERM, then waits for the process to end (once).
    fn terminate(&mut self) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A folder served over HTTP on `127.0.0.1:0` the way a static host does: `index.html` for a
/// folder, 404 for anything missing. It runs on a thread of its own (so a test may block), and
/// stops taking connections when dropped (not waiting for a browser's keep-alive ones).
pub(crate) struct StaticSite {
    pub address: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl StaticSite {
    /// Serves `folder` (which need not exist yet: each request looks it up anew).
    pub(crate) fn serve(folder: &Path) -> StaticSite {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("set_nonblocking");
        let address = listener.local_addr().expect("local_addr");
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("static site: runtime");
        let files = warp::fs::dir(folder.to_owned());
        std::thread::Builder::new()
            .name(format!("static-site-{}", address.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("static site: listener");
                    warp::serve(files)
                        .incoming(listener)
                        .graceful(async {
                            let _ = stopped.await;
                        })
                        .run()
                        .await;
                });
            })
            .expect("static site: spawn server thread");
        StaticSite {
            address,
            shutdown: Some(shutdown),
        }
    }

    /// `http://127.0.0.1:PORT/`
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}/", self.address)
    }
}

impl Drop for StaticSite {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
