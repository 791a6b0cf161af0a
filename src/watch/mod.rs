//! Owns the watch loop: source changes in, rebuilds from snapshots out.
//! It must not refresh from Discord or write anything but the output folder.
//!
//! `strife-gen watch`: theme and content work with a live preview.
//!
//! Builds once from the stored snapshots (offline, like `build --offline`), serves the output
//! folder on `127.0.0.1`, and rebuilds whenever a theme, the content or `strife.toml` changes;
//! open pages reload after each rebuild. A failed build (a template error, a bad config) is
//! printed and shown on the preview instead of the pages, and the next good build clears it.
//!
//! One task owns the site: it waits for changes, then builds, then waits again, so two builds
//! never overlap; changes that arrive during a build are merged into the next one.
//!
//! Parts: [`watcher`] (notify), [`changes`] (what a change means), [`preview`] (the server).

mod changes;
mod preview;
mod watcher;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify_debouncer_full::notify;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::build::{self, BuildOptions, BuildSummary};
use crate::build_pool::{BuildPool, PoolError, Priority};
use crate::config::{Config, ConfigError};
use crate::fault::Blame;
use crate::http_server::{ConnectionStats, FileLimitError, Limits};
use crate::service::Service;

use changes::{Sources, Verdict};
use preview::Published;
pub use preview::{EVENTS_PATH, PREVIEW_PREFIX, PREVIEW_SEGMENT};
use watcher::{ChangeBatch, SourceWatcher};

/// How long the files must be quiet after a change before the rebuild starts.
const QUIET: Duration = Duration::from_millis(100);
/// A change never waits longer than this for its build, however busy the files are.
const MAX_SETTLE: Duration = Duration::from_secs(2);

/// The port `watch` serves on unless told otherwise.
pub(crate) const DEFAULT_PORT: u16 = 8000;

#[derive(Debug, Clone, PartialEq, Eq)]
/// How `strife-gen watch` runs.
pub struct WatchOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Open the preview in the default browser once it is ready.
    pub open_browser: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            port: DEFAULT_PORT,
            open_browser: true,
        }
    }
}

/// Why `watch` could not start. Build errors are not here: they are shown and watching goes on.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    /// The config is not valid.
    Config(#[from] ConfigError),
    #[error("cannot find the config file {}: {source}", path.display())]
    /// The config file's path cannot be resolved.
    ConfigPath {
        /// The file or folder concerned.
        path: PathBuf,
        /// What the system or library reported.
        source: std::io::Error,
    },
    #[error("cannot listen on {address}: {source} (choose another port with --port; 0 picks a free one)")]
    /// The preview server cannot listen.
    Listen {
        /// The address.
        address: SocketAddr,
        /// What the system or library reported.
        source: std::io::Error,
    },
    #[error("cannot watch the site's files: {0}")]
    /// The file watcher failed.
    Notify(#[from] notify::Error),
    #[error(transparent)]
    /// The process may not open enough files for the preview server.
    FileLimit(#[from] FileLimitError),
    #[error(transparent)]
    /// The build threads cannot be started.
    Pool(#[from] PoolError),
}

impl Blame for WatchError {
    /// A config that does not load is fixed in strife.toml; the rest are the machine's.
    fn is_users_fault(&self) -> bool {
        matches!(self, WatchError::Config(_))
    }
}

/// Counters of a running watch, for the curious and for tests.
#[derive(Debug, Default)]
pub struct WatchStats {
    builds: AtomicU64,
    failed_builds: AtomicU64,
    ignored_temp_files: AtomicU64,
}

impl WatchStats {
    /// Builds finished so far (the first one included), failed or not.
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::SeqCst)
    }

    /// How many rebuilds failed (the previous site stayed).
    pub fn failed_builds(&self) -> u64 {
        self.failed_builds.load(Ordering::SeqCst)
    }

    /// Changes to editor temp files (`.swp`, `~`, `.#*`, `4913`, ...) that were seen and ignored.
    pub fn ignored_temp_files(&self) -> u64 {
        self.ignored_temp_files.load(Ordering::SeqCst)
    }
}

/// Starts watching `config_path`'s site and serves the preview until `shutdown` completes.
pub(crate) async fn run(
    config_path: &Path,
    options: WatchOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), WatchError> {
    start(config_path, options).await?.run(shutdown).await;
    Ok(())
}

/// Loads the config, binds the port, starts the file watcher and builds the site once (a
/// failed build is shown on the preview, not returned). Then [`Session::run`] serves and watches.
pub async fn start(config_path: &Path, options: WatchOptions) -> Result<Session, WatchError> {
    // Absolute, so the paths notify reports compare equal to the configured ones.
    let config_path =
        std::path::absolute(config_path).map_err(|source| WatchError::ConfigPath {
            path: config_path.to_owned(),
            source,
        })?;
    let config = Config::load_for_command(&config_path)?;
    // The preview takes the same `[server]` limits as `serve`; they are fixed for the session.
    let limits = Limits::for_server(&config.server)?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| WatchError::Listen { address, source })?;
    let address = listener
        .local_addr()
        .map_err(|source| WatchError::Listen { address, source })?;

    let sources = Sources::of(&config);
    let (mut watcher, changes) = SourceWatcher::start()?;
    watcher.set_targets(&sources.targets())?;

    let (site, _) = watch::channel(published(&config, None, 0));
    let mut builder = SiteBuilder {
        config_path,
        config,
        config_error: None,
        sources,
        service: None,
        // Behind the preview server's requests (see crate::build_pool).
        pool: BuildPool::per_core(Priority::Background)?,
        site,
        stats: Arc::new(WatchStats::default()),
    };
    builder.rebuild().await;
    Ok(Session {
        address,
        options,
        limits,
        connections: Arc::default(),
        listener,
        builder,
        watcher,
        changes,
    })
}

/// A started watch: the site is built and the port is bound.
pub struct Session {
    address: SocketAddr,
    options: WatchOptions,
    limits: Limits,
    connections: Arc<ConnectionStats>,
    listener: TcpListener,
    builder: SiteBuilder,
    watcher: SourceWatcher,
    changes: mpsc::UnboundedReceiver<ChangeBatch>,
}

impl Session {
    /// The URL of the site's front page on the preview.
    pub fn url(&self) -> String {
        let root = self.builder.site.borrow().root.clone();
        format!("http://{}{root}", self.address)
    }

    /// Counters of this session's rebuilds.
    pub fn stats(&self) -> Arc<WatchStats> {
        self.builder.stats.clone()
    }

    /// Serves the preview and rebuilds on changes until `shutdown` completes. A build that is
    /// running then is finished first, so the output folder is never left half-written.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let url = self.url();
        let Session {
            options,
            limits,
            connections,
            listener,
            builder,
            watcher,
            changes,
            ..
        } = self;
        let session_id: Arc<str> = format!("{:08x}", rand::random::<u32>()).into();
        let routes = preview::routes(builder.site.subscribe(), session_id);
        let (stop_server, server_stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(crate::http_server::serve(
            routes,
            listener,
            limits,
            connections,
            async {
                let _ = server_stopped.await;
            },
        ));
        tracing::info!(
            "previewing the site at {url} (watching {}; Ctrl-C stops)",
            watched_list(&builder.sources)
        );
        if options.open_browser {
            open_browser(url);
        }
        // Ends with the builder, whose sender closes the pages' event streams: the server can
        // then finish its open connections.
        builder.watch(watcher, changes, shutdown).await;
        let _ = stop_server.send(());
        if let Err(error) = server.await {
            tracing::warn!("preview server: {error}");
        }
        tracing::info!("stopped watching");
    }
}

fn watched_list(sources: &Sources) -> String {
    let mut shown: Vec<String> = sources
        .folders
        .iter()
        .map(|folder| format!("{}/", folder.display()))
        .collect();
    shown.push(sources.config_file.display().to_string());
    shown.join(", ")
}

fn open_browser(url: String) {
    tokio::task::spawn_blocking(move || {
        if let Err(error) = opener::open_browser(&url) {
            tracing::warn!("could not open a browser ({error}); open {url} yourself");
        }
    });
}

fn published(config: &Config, error: Option<String>, generation: u64) -> Published {
    Published {
        output_dir: config.site.output_dir.clone(),
        root: build::site_info(config).root(),
        error,
        generation,
    }
}

/// The one owner of the site's builds.
struct SiteBuilder {
    config_path: PathBuf,
    /// The last configuration that loaded.
    config: Config,
    /// Set while `strife.toml` does not load: no builds until it is fixed.
    config_error: Option<String>,
    sources: Sources,
    /// Opened (offline) for the first build after the config loaded, then kept.
    service: Option<Service>,
    /// Where every build of the session runs.
    pool: BuildPool,
    site: watch::Sender<Published>,
    stats: Arc<WatchStats>,
}

impl SiteBuilder {
    async fn watch(
        mut self,
        mut watcher: SourceWatcher,
        mut changes: mpsc::UnboundedReceiver<ChangeBatch>,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let mut batch = tokio::select! {
                () = &mut shutdown => return,
                batch = changes.recv() => match batch {
                    Some(batch) => batch,
                    None => return,
                },
            };
            settle(&mut batch, &mut changes).await;
            self.on_change(&batch, &mut watcher).await;
        }
    }

    async fn on_change(&mut self, batch: &ChangeBatch, watcher: &mut SourceWatcher) {
        let verdict = self.sources.classify(batch);
        self.act_on(&verdict, watcher).await;
        // Counted once the batch is fully handled, so whoever sees the count also sees any
        // build the batch caused.
        self.stats
            .ignored_temp_files
            .fetch_add(verdict.ignored_temp_files, Ordering::SeqCst);
    }

    async fn act_on(&mut self, verdict: &Verdict, watcher: &mut SourceWatcher) {
        let appeared = watcher.retry_missing();
        let mut wanted = verdict.sources_changed || appeared;
        if verdict.config_changed {
            wanted |= self.reload_config(watcher);
        }
        if !wanted {
            return;
        }
        if self.config_error.is_some() {
            tracing::info!(
                "not rebuilding until {} loads again",
                self.config_path.display()
            );
            return;
        }
        match &verdict.example {
            Some(path) => tracing::info!("{} changed, rebuilding", path.display()),
            None => tracing::info!("rebuilding"),
        }
        self.rebuild().await;
    }

    /// Loads the changed config: true when it loaded (rebuild), false when it failed (the
    /// error is shown and the last good config stays).
    fn reload_config(&mut self, watcher: &mut SourceWatcher) -> bool {
        match Config::load_for_command(&self.config_path) {
            Ok(config) => {
                tracing::info!("reloaded {}", self.config_path.display());
                let sources = Sources::of(&config);
                if sources != self.sources {
                    if let Err(error) = watcher.set_targets(&sources.targets()) {
                        tracing::error!("{}", WatchError::Notify(error));
                    }
                    self.sources = sources;
                }
                self.config = config;
                self.service = None;
                self.config_error = None;
                true
            }
            Err(error) => {
                let message = error.to_string();
                tracing::error!("{message}; still watching with the last good configuration");
                self.config_error = Some(message.clone());
                self.publish(Some(message));
                false
            }
        }
    }

    /// One offline build; its result is published either way.
    async fn rebuild(&mut self) {
        let started = Instant::now();
        let result = match self.service() {
            Ok(service) => service
                .build(BuildOptions {
                    deploy: false,
                    ..BuildOptions::default()
                })
                .await
                .map(|summary| BuildSummary {
                    elapsed: started.elapsed(),
                    ..summary
                })
                .map_err(|error| error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        self.stats.builds.fetch_add(1, Ordering::SeqCst);
        match result {
            Ok(summary) => {
                tracing::info!("built: {summary}");
                self.publish(None);
            }
            Err(message) => {
                self.stats.failed_builds.fetch_add(1, Ordering::SeqCst);
                tracing::error!("build failed: {message}");
                self.publish(Some(message));
            }
        }
    }

    /// The offline service of the current config, opened on first use after a (re)load.
    fn service(&mut self) -> Result<&Service, crate::service::ServiceError> {
        let service = match self.service.take() {
            Some(service) => service,
            None => Service::open_offline(Arc::new(self.config.clone()))?
                .with_build_pool(self.pool.clone()),
        };
        Ok(self.service.insert(service))
    }

    /// Shows the new state on the preview and makes open pages reload.
    fn publish(&self, error: Option<String>) {
        let generation = self.site.borrow().generation + 1;
        self.site
            .send_replace(published(&self.config, error, generation));
    }
}

/// Merges into `batch` everything that arrives until the files are quiet for [`QUIET`] (at
/// most [`MAX_SETTLE`]): the debouncer delivers per file, so a burst of saves, a `git checkout`
/// or a theme copied in would otherwise come as several batches, and several builds.
async fn settle(batch: &mut ChangeBatch, changes: &mut mpsc::UnboundedReceiver<ChangeBatch>) {
    let deadline = tokio::time::Instant::now() + MAX_SETTLE;
    loop {
        let wait = QUIET.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        match tokio::time::timeout(wait, changes.recv()).await {
            Ok(Some(more)) => batch.merge(more),
            Ok(None) | Err(_) => return,
        }
    }
}
