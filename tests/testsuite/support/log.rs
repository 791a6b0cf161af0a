//! Log sinks the tests read back: what a service or a build logged, from every thread. It owns the
//! process's one global subscriber; no test may install another (they share one process).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Bytes written by a `tracing_subscriber` writer, shared between threads.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// Everything written so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Everything logged at `INFO` and above in this process, from every thread and every test
/// (store reads and page rendering run on threads of their own, so a per-thread subscriber would
/// miss them). Installed as the global subscriber on first use; tests running at once share it,
/// so each picks its own lines out by something only it logs (a user id, a file name).
pub(crate) fn global() -> &'static Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in the test binary");
        log
    })
}
