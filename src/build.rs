//! One build of the site as a list of named steps: lock, load inputs, refresh, render, deploy.
//! It must not open stores or clients itself (the service hands them in) nor know about HTTP.
//!
//! One build: optionally refresh everyone from Discord, then render every published user into
//! the output folder (swapped in whole, so a failed build leaves the previous site as it was).

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::build_pool::BuildPool;
use crate::config::site::ImageMode;
use crate::config::{Config, ConfigError};
use crate::content::{Content, ContentWarning};
use crate::deploy::{DeployError, DeployOutcome};
use crate::digest::KeyBuilder;
use crate::discord::cdn::Cdn;
use crate::discord::lenient::decode;
use crate::discord::models::Snapshot;
use crate::edits::ProfileEdits;
use crate::fault::Blame;
use crate::files::{Confined, FileError};
use crate::images::fetch::fetch_missing;
use crate::images::samples::{self, SampleImageError};
use crate::images::{image_urls, images_key, localise};
use crate::layout::Layout;
use crate::lock::{BuildLock, LockError};
use crate::progress::Progress;
use crate::publish::Publish;
use crate::refresh::{RefreshSummary, Refresher, Targets};
use crate::site::model::SiteInfo;
use crate::site::profile::Profile;
use crate::site::render::{RenderError, Renderer};
use crate::site::theme::ThemeError;
use crate::site::{
    ImageSource, ProfileEntry, ProfileInput, SiteBuild, SiteError, SiteReport, SiteSettings,
};
use crate::staging::Journal;
use crate::store::{PublishedRow, Store, StoreError};

/// How many rendered-but-unwritten profiles may wait between the store reader and the renderers:
/// it bounds memory whatever the number of users.
const PIPELINE_DEPTH: usize = 256;

/// Profiles cross to the renderers this many at a time: one hand-over per batch rather than per
/// user, since keeping an unchanged user costs less than waking a thread for it.
const BATCH: usize = 64;

/// Some profiles for the renderers, in the store's order.
type InputBatch = Vec<Result<ProfileInput, SiteError>>;

/// The reader's end of the channel: collects profiles and hands them over by the batch.
struct BatchSender<'s> {
    sender: &'s mpsc::SyncSender<InputBatch>,
    batch: InputBatch,
}

impl BatchSender<'_> {
    /// Queues `input`; `false` when the renderers have stopped (the build failed).
    fn send(&mut self, input: Result<ProfileInput, SiteError>) -> bool {
        self.batch.push(input);
        self.batch.len() < BATCH || self.flush()
    }

    /// Hands over what is queued.
    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.sender.send(full).is_ok()
    }
}

#[derive(Debug, thiserror::Error)]
/// Why a build failed; the previous output is untouched.
pub enum BuildError {
    #[error(transparent)]
    /// The store could not be read or written.
    Store(#[from] StoreError),
    #[error(transparent)]
    /// The theme could not be loaded.
    Render(#[from] RenderError),
    #[error(transparent)]
    /// Planning or writing the site failed.
    Site(#[from] SiteError),
    #[error("sample user {path}: {detail}")]
    /// A sample user file (`examples/`, used while nobody has consented) is not valid.
    Sample {
        /// The file or folder concerned.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    #[error("the site was built, but deploying it failed: {0}")]
    /// The site was written but `[deploy]` failed.
    Deploy(#[from] DeployError),
    #[error("build task failed: {0}")]
    /// A build task panicked or was cancelled.
    Task(String),
    #[error(transparent)]
    /// The build lock could not be taken.
    Lock(#[from] LockError),
    /// A content file or sample user that resolves outside its folder.
    #[error("{0}")]
    Outside(#[source] FileError),
    /// The configuration no longer holds at build time (an output folder turned into a link).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A refresh was asked of a service opened without Discord credentials.
    #[error("cannot refresh from Discord: this build was opened offline")]
    Offline,
}

impl Blame for BuildError {
    /// Problems the site's owner fixes in the configuration or the site's folders, before
    /// anything was written.
    fn is_users_fault(&self) -> bool {
        matches!(
            self,
            BuildError::Outside(_)
                | BuildError::Config(_)
                | BuildError::Render(RenderError::Theme(ThemeError::Outside(_)))
                | BuildError::Site(SiteError::ForeignOutput { .. })
        )
    }
}

/// What a build did, for the closing summary line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BuildSummary {
    /// `None` for an offline build.
    pub refresh: Option<RefreshSummary>,
    /// Profiles rendered.
    pub profiles: usize,
    /// Users whose stored snapshot could not be read: left out, with a warning.
    pub skipped: usize,
    /// What the site engine wrote, kept and removed.
    pub site: SiteReport,
    /// What `[deploy]` did, when it ran.
    pub(crate) deployed: Option<DeployOutcome>,
    pub(crate) elapsed: Duration,
    /// Problems with `content/` files (already logged); the build went on without them.
    pub(crate) content_warnings: Vec<ContentWarning>,
}

impl std::fmt::Display for BuildSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(refresh) = &self.refresh {
            write!(
                f,
                "users refreshed {}, changed {}, need re-consent {}, failed {}; ",
                refresh.refreshed, refresh.changed, refresh.needs_reconsent, refresh.failed
            )?;
        }
        write!(
            f,
            "{} profiles: pages written {}, unchanged {}, files removed {}; profiles rendered {}",
            self.profiles,
            self.site.pages_written,
            self.site.pages_unchanged,
            self.site.files_removed,
            self.site.profiles_rendered
        )?;
        if self.skipped > 0 {
            write!(f, ", {} skipped (unreadable snapshot)", self.skipped)?;
        }
        match &self.deployed {
            Some(DeployOutcome::Pushed { commit }) => write!(f, ", deployed as commit {commit}")?,
            Some(DeployOutcome::CommandRan) => write!(f, ", deployed")?,
            Some(DeployOutcome::UpToDate) => write!(f, ", deployment already up to date")?,
            None => {}
        }
        write!(f, " in {:.1?}", self.elapsed)
    }
}

/// What a build is asked to do.
#[derive(Clone)]
pub struct BuildOptions {
    /// Who to refresh from Discord first; `None` renders from the stored snapshots only.
    pub refresh: Option<Targets>,
    /// Run `[deploy]` after a build that changed something (when it is configured).
    pub deploy: bool,
    /// Reports each refreshed user and each written page.
    pub progress: Arc<Progress>,
}

impl Default for BuildOptions {
    /// Offline, deploying when `[deploy]` says so, no progress shown.
    fn default() -> Self {
        BuildOptions {
            refresh: None,
            deploy: true,
            progress: Arc::new(Progress::hidden()),
        }
    }
}

/// One site's build: what it reads and where it writes. Made by the service for each build.
pub(crate) struct Build<'a> {
    /// The site's configuration.
    pub(crate) config: &'a Config,
    /// Where the output and the state files are.
    pub(crate) layout: &'a Layout,
    /// Users and their snapshots.
    pub(crate) store: &'a Store,
    /// The Discord side; required when the options ask for a refresh.
    pub(crate) refresher: Option<&'a Refresher>,
    /// Where the theme is compiled, pages rendered and the output deployed.
    pub(crate) pool: &'a BuildPool,
}

impl Build<'_> {
    /// The build, step by step. Two cross-process locks keep builds apart, each for the part
    /// that must never run twice at once: the refresh lock (beside the store) while Discord is
    /// asked, since two refreshes of one user would burn its rotated refresh token, and the
    /// build lock (beside the output folder) while the site is rendered and deployed. A build
    /// waits for a lock another holds. Only the render holds the build lock, so a render of a
    /// new consent in `serve` does not wait for a refresh of everyone, which takes minutes at
    /// Discord's pace.
    pub(crate) async fn run(&self, options: BuildOptions) -> Result<BuildSummary, BuildError> {
        let started = Instant::now();
        // The theme, content and sample users are loaded before anyone is refreshed: refreshing
        // rotates refresh tokens at Discord, and the new tokens of a build that fails afterwards
        // (a template syntax error) are lost wherever the store is kept only on success (CI jobs).
        let inputs = self.load_inputs().await?;
        self.seed_sample_images(&inputs.samples).await?;
        let refresh = match options.refresh {
            Some(targets) => {
                let lock = self.take_lock(&self.layout.refresh_lock).await?;
                let summary = self.refresh(targets, &options.progress).await?;
                self.fetch_images(&inputs.samples).await?;
                drop(lock);
                Some(summary)
            }
            None => None,
        };
        let lock = self.take_lock(&self.layout.build_lock).await?;
        let mut summary = self.render(inputs, options.progress).await?;
        summary.refresh = refresh;
        // Still under the lock: the next build must not change output/ while it is deployed.
        summary.deployed = self.deploy_if_changed(&summary, options.deploy).await?;
        drop(lock);
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    async fn take_lock(&self, lock: &Path) -> Result<BuildLock, BuildError> {
        let (lock, output) = (lock.to_owned(), self.layout.output_dir.clone());
        blocking(move || Ok(BuildLock::acquire(&lock, &output)?)).await
    }

    async fn load_inputs(&self) -> Result<RenderInputs, BuildError> {
        let config = self.config.clone();
        on_pool(self.pool, move || RenderInputs::load(&config)).await
    }

    /// Refreshes `targets` from Discord.
    async fn refresh(
        &self,
        targets: Targets,
        progress: &Progress,
    ) -> Result<RefreshSummary, BuildError> {
        let refresher = self.refresher.ok_or(BuildError::Offline)?;
        let summary = refresher.refresh(&targets, progress).await?;
        tracing::info!(
            "refreshed {} users ({} changed), {} need re-consent, {} failed",
            summary.refreshed,
            summary.changed,
            summary.needs_reconsent,
            summary.failed
        );
        Ok(summary)
    }

    /// With `site.images = "mirror"`, caches the sample users' shipped pictures the store lacks
    /// (see [`crate::images::samples`]): online or not, the demo then needs no CDN.
    async fn seed_sample_images(&self, samples: &[Snapshot]) -> Result<(), BuildError> {
        let Some(dir) = self.config.site.sample_users_dir.clone() else {
            return Ok(());
        };
        if self.config.site.images != ImageMode::Mirror || samples.is_empty() {
            return Ok(());
        }
        let cdn = Cdn::new(self.config.discord.cdn_base.url().clone());
        let samples = samples.to_vec();
        let seeded = self
            .store
            .run(move |store| Ok(samples::seed(store, &cdn, &dir, &samples)))
            .await?
            .map_err(|error| match error {
                SampleImageError::Store(error) => BuildError::Store(error),
                SampleImageError::File(outside @ FileError::Outside { .. }) => {
                    BuildError::Outside(outside)
                }
                SampleImageError::File(FileError::Read { path, source }) => BuildError::Sample {
                    path,
                    detail: source.to_string(),
                },
                SampleImageError::Bad { path, detail } => BuildError::Sample { path, detail },
            })?;
        if seeded > 0 {
            tracing::info!(seeded, "sample users' shipped pictures cached");
        }
        Ok(())
    }

    /// With `site.images = "mirror"`, downloads the images pages use that the store lacks (see
    /// [`crate::images::fetch`]); a failed image is a warning, never a failed build.
    async fn fetch_images(&self, samples: &[Snapshot]) -> Result<(), BuildError> {
        let Some(refresher) = self.refresher else {
            return Ok(());
        };
        if self.config.site.images != ImageMode::Mirror {
            return Ok(());
        }
        let cdn = Cdn::new(self.config.discord.cdn_base.url().clone());
        let cutoff = reconsent_cutoff(self.config);
        fetch_missing(self.store, &refresher.discord, &cdn, cutoff, samples).await?;
        Ok(())
    }

    async fn render(
        &self,
        inputs: RenderInputs,
        progress: Arc<Progress>,
    ) -> Result<BuildSummary, BuildError> {
        let (config, store) = (self.config.clone(), self.store.clone());
        let journal = self.layout.journal.clone();
        on_pool(self.pool, move || {
            render_locked(&config, &store, journal, inputs, &progress)
        })
        .await
    }

    /// Publishes the output as `[deploy]` says, when the build changed it. A deploy that failed
    /// before is retried even when this build changed nothing.
    async fn deploy_if_changed(
        &self,
        summary: &BuildSummary,
        wanted: bool,
    ) -> Result<Option<DeployOutcome>, BuildError> {
        let marker = &self.layout.deploy_pending;
        let enabled = wanted && self.config.deploy.is_enabled();
        if !enabled || !(summary.site.changed() || marker.exists()) {
            return Ok(None);
        }
        if let Err(error) = std::fs::write(marker, b"") {
            tracing::warn!(
                "cannot write {}: {error}; a failed deploy will not be retried by an unchanged build",
                marker.display()
            );
        }
        let deploy = self.config.deploy.clone();
        let (output, cache) = (
            self.layout.output_dir.clone(),
            self.layout.deploy_cache.clone(),
        );
        let root = self.config.root();
        let message = format!(
            "{} profiles, {} files written, {} removed",
            summary.profiles, summary.site.pages_written, summary.site.files_removed
        );
        let outcome = on_pool(self.pool, move || {
            Ok(deploy.run(&output, &root, &cache, &message)?)
        })
        .await?;
        tracing::info!("deployed: {outcome:?}");
        let _ = std::fs::remove_file(marker);
        Ok(Some(outcome))
    }
}

/// Runs a build's CPU work on its pool (see [`crate::build_pool`]).
async fn on_pool<T: Send + 'static>(
    pool: &BuildPool,
    work: impl FnOnce() -> Result<T, BuildError> + Send + 'static,
) -> Result<T, BuildError> {
    pool.run(work)
        .await
        .map_err(|e| BuildError::Task(e.to_string()))?
}

/// Runs blocking work that waits rather than computes (the build lock) off the async executor,
/// logging to the caller's subscriber (a thread-local one included, as the watch preview and
/// tests set).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BuildError> + Send + 'static,
) -> Result<T, BuildError> {
    let logs = tracing::dispatcher::get_default(Clone::clone);
    // Store calls in `work` are allowed to block: this is tokio's blocking pool.
    tokio::task::spawn_blocking(move || {
        tracing::dispatcher::with_default(&logs, || crate::store::allow_blocking(work))
    })
    .await
    .map_err(|e| BuildError::Task(e.to_string()))?
}

/// Everything a render reads besides the store, loaded (and the theme compiled) up front so
/// that a broken theme or sample user fails the build before it changes anything.
struct RenderInputs {
    renderer: Renderer,
    content: Arc<Content>,
    /// Problems found while loading `content/`; logged with the rest after the render.
    content_warnings: Vec<ContentWarning>,
    samples: Vec<Snapshot>,
}

impl RenderInputs {
    /// Reads the content folder and sample users and compiles the theme. Blocking. Checks the
    /// output folder again first: it may have become a link since the config was loaded.
    fn load(config: &Config) -> Result<RenderInputs, BuildError> {
        config.check_output_dir()?;
        let (content, content_warnings) =
            Content::load(&config.site.content_dir).map_err(BuildError::Outside)?;
        let renderer = Renderer::new(&config.theme_dir(), site_info(config))?
            .with_front_page(content.front_page.clone());
        let samples = match &config.site.sample_users_dir {
            Some(dir) => load_samples(dir)?,
            None => Vec::new(),
        };
        Ok(RenderInputs {
            renderer,
            content: Arc::new(content),
            content_warnings,
            samples,
        })
    }
}

/// [`Build::render`] for a caller that holds the build lock and loaded `inputs`.
fn render_locked(
    config: &Config,
    store: &Store,
    journal: Journal,
    inputs: RenderInputs,
    progress: &Progress,
) -> Result<BuildSummary, BuildError> {
    let RenderInputs {
        renderer,
        content,
        mut content_warnings,
        samples,
    } = inputs;
    let settings = SiteSettings {
        output_dir: config.site.output_dir.clone(),
        cname: config.site.cname.clone(),
        page_size: config.site.page_size,
        sitemap_limit: crate::site::conventions::SITEMAP_URL_LIMIT,
        journal: Some(journal),
    };
    let reconsent_cutoff = reconsent_cutoff(config);
    progress.start(
        "writing pages",
        (samples.len() + store.count_published(reconsent_cutoff)?) as u64,
    );
    let store_images = StoreImages(store);
    let mirror = config.site.images == ImageMode::Mirror;
    let site = match mirror {
        true => SiteBuild::begin(&settings, &renderer)?.with_images(&store_images),
        false => SiteBuild::begin(&settings, &renderer)?,
    };
    let info = site_info(config);
    let reader = ProfileReader {
        store,
        reconsent_cutoff,
        cdn: Cdn::new(config.discord.cdn_base.url().clone()),
        base_url: config.site.base_url.url().clone(),
        images: mirror.then(|| (info.root(), info.base())),
        content: &content,
        site: &site,
        self_service: config.self_service.enabled,
    };
    // The store is read on one thread and profiles flow to the renderers through a bounded
    // channel, so thousands of users never sit in memory at once.
    let (sender, receiver) = mpsc::sync_channel::<InputBatch>(PIPELINE_DEPTH / BATCH);
    let (published, counts) = std::thread::scope(|scope| {
        let logs = tracing::dispatcher::get_default(Clone::clone);
        let reading = scope.spawn(move || {
            let mut batches = BatchSender {
                sender: &sender,
                batch: Vec::with_capacity(BATCH),
            };
            tracing::dispatcher::with_default(&logs, || reader.send_all(samples, &mut batches))
        });
        let inputs = receiver.into_iter().flatten();
        let published = site.publish(inputs, &|| progress.tick());
        (published, reading.join())
    });
    progress.finish();
    let counts = counts.map_err(|_| BuildError::Task("the store reader panicked".into()))?;
    let report = site.commit(published?)?;
    content_warnings.extend(content.finish());
    for warning in &content_warnings {
        tracing::warn!("content: {warning}");
    }
    Ok(BuildSummary {
        refresh: None,
        profiles: counts.sent,
        skipped: counts.skipped,
        site: report,
        deployed: None,
        elapsed: Duration::ZERO,
        content_warnings,
    })
}

/// Users waiting for a new consent longer than the grace period are no longer published: the
/// time before which their wait began.
pub(crate) fn reconsent_cutoff(config: &Config) -> i64 {
    let grace = i64::try_from(config.refresh.grace_period.as_secs()).unwrap_or(i64::MAX);
    crate::store::unix_now().saturating_sub(grace)
}

/// The store's image cache, for the site plan.
struct StoreImages<'a>(&'a Store);

impl ImageSource for StoreImages<'_> {
    fn image_bytes(&self, file: &str) -> Option<Vec<u8>> {
        match self.0.image_bytes(file) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(file, "cannot read an image copy from the store: {error}");
                None
            }
        }
    }
}

#[derive(Default)]
struct ReadCounts {
    sent: usize,
    skipped: usize,
}

/// Feeds the renderers: sample users first, then every published user from the store, each with
/// their `content/users/` file applied. A user whose inputs are those of the last build is sent
/// as unchanged, without reading their snapshot.
struct ProfileReader<'a> {
    store: &'a Store,
    reconsent_cutoff: i64,
    cdn: Cdn,
    base_url: url::Url,
    /// With `site.images = "mirror"`: the site's root path and base URL, which the pages' image
    /// copies are addressed by.
    images: Option<(String, String)>,
    content: &'a Content,
    site: &'a SiteBuild<'a>,
    /// `self_service.enabled`: whether what people wrote on their page (`/me`) is on it.
    self_service: bool,
}

impl ProfileReader<'_> {
    /// Sends every profile. A user whose snapshot cannot be read is left out with a warning; a
    /// store that fails part-way sends an error, which abandons the build (publishing a site
    /// with users missing would delete their pages).
    fn send_all(&self, samples: Vec<Snapshot>, sender: &mut BatchSender<'_>) -> ReadCounts {
        let mut counts = ReadCounts::default();
        let everything = Publish {
            connections: true,
            guilds: true,
        };
        for snapshot in samples {
            let input = self
                .sample(snapshot, everything)
                .map_err(|e| SiteError::Source(e.to_string()));
            if !sender.send(input) {
                return counts;
            }
            counts.sent += 1;
        }
        let result = self
            .store
            .for_each_published_row(self.reconsent_cutoff, |row| {
                match row.and_then(|row| self.stored(row)) {
                    Ok(input) => {
                        counts.sent += 1;
                        sender.send(Ok(input))
                    }
                    Err(error) => {
                        tracing::warn!("left out of this build: {error}");
                        counts.skipped += 1;
                        true
                    }
                }
            });
        if let Err(error) = result {
            // The receiver may be gone already (the build failed first); nothing else to tell.
            let _ = sender.send(Err(SiteError::Source(error.to_string())));
        }
        sender.flush();
        counts
    }

    /// A stored user: unchanged when the digest of their inputs says so, else made from their
    /// snapshot.
    fn stored(&self, row: PublishedRow<'_>) -> Result<ProfileInput, StoreError> {
        let content = self.content.for_user(row.id, &row.username);
        let edits_key = row.edits_key.as_ref().filter(|_| self.self_service);
        let source = KeyBuilder::new("stored profile")
            .text(&self.cdn.url(""))
            .text(self.base_url.as_str())
            .text(&row.content_hash)
            .json(&row.publish)
            .json(&row.old_names)
            .json(&row.changed_at)
            .json(&content.map(|c| c.digest))
            .text(self.image_mode())
            .json(&row.images_key)
            .json(&edits_key)
            .finish();
        if let Some(kept) = self.site.keep_if_unchanged(row.id, source) {
            return Ok(ProfileInput::Unchanged(kept));
        }
        let page = row.page_source()?;
        let edits = page.edits.as_ref().filter(|_| self.self_service);
        let entry = ProfileEntry {
            profile: self.profile(&page.snapshot, page.publish, edits)?,
            old_names: page.old_names,
            changed_at: Some(page.changed_at),
        };
        Ok(ProfileInput::Changed {
            entry: Box::new(entry),
            source,
        })
    }

    /// A sample user (`examples/`): their snapshot is at hand, so its digest is taken whole.
    fn sample(&self, snapshot: Snapshot, publish: Publish) -> Result<ProfileInput, StoreError> {
        let content = self
            .content
            .for_user(snapshot.user.id, &snapshot.user.username);
        let images = match self.images {
            Some(_) => Some(images_key(
                self.store,
                &image_urls(&snapshot, publish, &self.cdn),
            )?),
            None => None,
        };
        let source = KeyBuilder::new("sample profile")
            .text(&self.cdn.url(""))
            .text(self.base_url.as_str())
            .json(&snapshot)
            .json(&content.map(|c| c.digest))
            .text(self.image_mode())
            .json(&images)
            .finish();
        if let Some(kept) = self.site.keep_if_unchanged(snapshot.user.id, source) {
            return Ok(ProfileInput::Unchanged(kept));
        }
        let entry = Box::new(self.profile(&snapshot, publish, None)?.into());
        Ok(ProfileInput::Changed { entry, source })
    }

    /// `site.images`, for the inputs of a page.
    fn image_mode(&self) -> &'static str {
        match self.images {
            Some(_) => "mirror",
            None => "link",
        }
    }

    /// The page model of `snapshot`, with the user's own `edits` and then their content file
    /// applied (the operator's file wins where both say something) and, when the site mirrors
    /// images, pointing at the copies it has.
    fn profile(
        &self,
        snapshot: &Snapshot,
        publish: Publish,
        edits: Option<&ProfileEdits>,
    ) -> Result<Profile, StoreError> {
        let mut profile = page_model(snapshot, publish, edits, &self.cdn, &self.base_url);
        self.content.apply(&mut profile);
        if let Some((root, base)) = &self.images {
            localise(&mut profile, self.store, root, base)?;
        }
        Ok(profile)
    }
}

/// The page model of `snapshot` with the user's own `edits` on it: what a page shows before the
/// operator's content file is applied.
pub(crate) fn page_model(
    snapshot: &Snapshot,
    publish: Publish,
    edits: Option<&ProfileEdits>,
    cdn: &Cdn,
    base_url: &url::Url,
) -> Profile {
    let mut profile = Profile::build(snapshot, publish, cdn, base_url);
    if let Some(edits) = edits {
        edits.apply(&mut profile);
    }
    profile
}

/// What every page knows about the site (title, base URL, service URL), from the config.
pub fn site_info(config: &Config) -> SiteInfo {
    SiteInfo {
        title: config.site.title.clone(),
        base_url: config.site.base_url.url().clone(),
        service_url: service_url(config),
    }
}

/// The consent service's landing page: its `redirect_uri` without the final `callback`.
fn service_url(config: &Config) -> Option<String> {
    let mut url = config.discord.redirect_uri.as_ref()?.url().clone();
    let path = url.path();
    let folder = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let folder = if folder.is_empty() { "/" } else { folder }.to_owned();
    url.set_path(&folder);
    url.set_query(None);
    Some(url.to_string())
}

/// Reads every `*.json` in `dir` as a snapshot, sorted by file name for stable output. Each must
/// resolve inside `dir`.
fn load_samples(dir: &Path) -> Result<Vec<Snapshot>, BuildError> {
    let sample_error = |path: &Path, detail: String| BuildError::Sample {
        path: path.to_owned(),
        detail,
    };
    let folder = Confined::new("site.sample_users_dir", dir)
        .map_err(|e| sample_error(dir, e.to_string()))?;
    let entries = std::fs::read_dir(dir).map_err(|e| sample_error(dir, e.to_string()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = folder.read_to_string(path).map_err(|e| match e {
                FileError::Read { source, .. } => sample_error(path, source.to_string()),
                outside @ FileError::Outside { .. } => BuildError::Outside(outside),
            })?;
            // The same leniency as for Discord's answers: an odd field is left out, with a
            // warning naming the file; only a sample that is no profile at all stops the build.
            let decoded = decode::<Snapshot>(text.as_bytes())
                .map_err(|e| sample_error(path, e.to_string()))?;
            decoded.warn(decoded.value.user.id, &format!("sample {}", path.display()));
            Ok(decoded.value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(discord: &str) -> Config {
        let text = format!(
            "[site]\ntitle = \"t\"\nbase_url = \"https://people.example/\"\n[discord]\n{discord}\n"
        );
        Config::from_toml(&text, Path::new("/srv/strife.toml")).unwrap()
    }

    #[test]
    fn pages_link_the_consent_service_when_one_is_configured() {
        let at_root = config("redirect_uri = \"https://join.example/callback\"");
        assert_eq!(
            service_url(&at_root).as_deref(),
            Some("https://join.example/")
        );
        let below = config("redirect_uri = \"https://example.org/strife/callback?x=1\"");
        assert_eq!(
            service_url(&below).as_deref(),
            Some("https://example.org/strife/")
        );
        assert_eq!(service_url(&config("")), None);
    }
}
