//! The site plan: which files a site has and where they go (pages, JSON, index, host files, static
//! files, vanity URLs). It must not write files itself: every file goes through [`crate::staging`].
//!
//! Layout of a built site:
//!
//! - `index.html`: everyone, sorted by name; `404.html` for any missing path;
//! - `u/<id>/index.html` per profile (the stable URL) and `u/<id>.json`, the same data as JSON;
//!   beside the page, when the theme has them, its cards (`card.svg`, `card-dark.svg`) and its
//!   link preview (`og.png`); the site's own link preview is `og.png` at the top;
//! - `<username>/index.html`: vanity URLs ([`super::vanity`]), redirect pages to `u/<id>/`, also
//!   for names a user had before;
//! - `sitemap.xml`, `robots.txt`, `.nojekyll`, and `CNAME` when `site.cname` is set
//!   ([`super::conventions`]);
//! - `static/<name>.<hash>.<ext>` from the theme, and from the default theme for what it lacks
//!   ([`super::theme::assets`]);
//! - [`MARKER`], which tells strife-gen's output folders from anyone else's.
//!
//! Every file goes through the same staging, so unchanged ones keep their mtime, and those of
//! removed users disappear with the swap. Every file has a key, the digest of what it is made
//! from, so a build renders only what changed ([`SiteBuild`]): a profile's page and JSON from
//! the profile's source; an index page from the summaries it lists; the sitemap from the URLs
//! and dates; a vanity URL from its redirect page; and all of them from the site key (this
//! program, the theme, the site values and settings).

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::iter::{ParallelBridge, ParallelIterator};
use serde::{Deserialize, Serialize};

use super::card::{image_mime, Card};
use super::conventions::{self, Pagination, RedirectPage, Sitemap, SitemapIndex};
use super::model::ProfileSummary;
use super::profile::{page_path, Profile};
use super::render::{RenderError, Renderer, PREVIEW_FILE};
use super::theme::assets::content_hash;
use super::vanity::{self, Claimant, NameKind};
use crate::digest::{Digest, KeyBuilder};
use crate::discord::models::Snowflake;
use crate::staging::{describe_entries, Journal, Ownership, Staging, StagingError, Tally};

/// The file at the top of every output folder that marks it as strife-gen's, to be replaced
/// whole by the next build. Static hosts publish it, so it says nothing but that.
pub const MARKER: &str = ".strife-gen";

/// What [`MARKER`] holds.
const MARKER_TEXT: &str =
    "This folder is the output of strife-gen (https://github.com/strife-gen/strife-gen).\n\
Every build replaces it whole: files put here by hand are removed.\n";

/// How the engine tells strife-gen's output folders from anyone else's.
const OWNERSHIP: Ownership = Ownership {
    marker: MARKER,
    marker_text: MARKER_TEXT,
    written_before_markers: written_by_strife_gen,
};

/// Where to write the site.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    pub(crate) output_dir: PathBuf,
    /// Host name written to `CNAME` (GitHub Pages' custom domain); no `CNAME` when `None`.
    pub(crate) cname: Option<String>,
    /// Profiles per index page.
    pub(crate) page_size: NonZeroUsize,
    /// Most URLs per sitemap file ([`conventions::SITEMAP_URL_LIMIT`] but in tests).
    pub(crate) sitemap_limit: usize,
    /// Where the build manifest is kept ([`crate::layout::Layout`]); `None`: every build
    /// renders and checks every file.
    pub(crate) journal: Option<Journal>,
}

#[cfg(test)]
impl SiteSettings {
    /// Settings for a site in `output_dir` with the default page size, no `CNAME`, and a
    /// journal beside it.
    pub(crate) fn in_dir(output_dir: PathBuf) -> SiteSettings {
        let beside = |suffix: &str| {
            let name = output_dir.file_name().unwrap_or_default().to_string_lossy();
            output_dir.with_file_name(format!("{name}{suffix}"))
        };
        SiteSettings {
            journal: Some(Journal {
                manifest: beside(".manifest"),
                in_progress: beside(".building"),
            }),
            output_dir,
            cname: None,
            page_size: crate::config::site::DEFAULT_PAGE_SIZE,
            sitemap_limit: conventions::SITEMAP_URL_LIMIT,
        }
    }
}

/// Where the bytes of the images pages use (`img/<file>`) come from: the store's cache.
pub trait ImageSource: Sync {
    /// The bytes of `file`, when there is such a copy.
    fn image_bytes(&self, file: &str) -> Option<Vec<u8>>;
}

/// A profile and what the site needs beside its page.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileEntry {
    pub(crate) profile: Profile,
    /// Usernames the user had before, most recent first: their vanity URLs redirect here.
    pub(crate) old_names: Vec<String>,
    /// When the profile's data last changed (Unix seconds): the sitemap's `lastmod`.
    pub(crate) changed_at: Option<i64>,
}

impl From<Profile> for ProfileEntry {
    fn from(profile: Profile) -> Self {
        ProfileEntry {
            profile,
            old_names: Vec::new(),
            changed_at: None,
        }
    }
}

/// What a build did. Counts cover every file of the new tree: pages and static files.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SiteReport {
    /// Profiles whose page was rendered (the others were unchanged and kept unread).
    pub profiles_rendered: usize,
    /// Files that are new or whose content changed.
    pub pages_written: usize,
    /// Files whose content was the same as before: the previous file was kept.
    pub pages_unchanged: usize,
    /// Files of the previous output that the new one does not have.
    pub(crate) files_removed: usize,
    /// Link previews drawn (the site's included): the costly part of a profile, kept whenever
    /// what they show did not change.
    pub previews_drawn: usize,
}

impl SiteReport {
    /// Whether the output differs from the previous build's.
    pub(crate) fn changed(&self) -> bool {
        self.pages_written > 0 || self.files_removed > 0
    }
}

impl From<Tally> for SiteReport {
    fn from(tally: Tally) -> Self {
        SiteReport {
            profiles_rendered: 0,
            pages_written: tally.written,
            pages_unchanged: tally.unchanged,
            files_removed: tally.removed,
            previews_drawn: 0,
        }
    }
}

/// Why a build failed. The previous output is untouched whenever one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// Staging or swapping the output folder failed.
    #[error(transparent)]
    Output(StagingError),
    #[error("rendering {page}: {error}")]
    /// A template failed for one page.
    Render {
        /// The output path of the page.
        page: String,
        /// The underlying error.
        error: RenderError,
    },
    #[error("the list of profiles could not be read: {0}")]
    /// The list of profiles could not be read.
    Source(String),
    #[error("two profiles have the id {0}")]
    /// Two profiles have the same id.
    DuplicateProfile(Snowflake),
    #[error("profile {0} was sent as unchanged, but another build kept its files")]
    /// A source sent [`ProfileInput::Unchanged`] that another [`SiteBuild`] kept.
    NotUnchanged(Snowflake),
    #[error(
        "output folder {} was not written by strife-gen (it has no {MARKER}) and holds {}; every \
         build replaces the output folder whole, so it is left alone: remove it (or empty it), or \
         point site.output_dir at another folder",
        path.display(), describe_entries(entries)
    )]
    /// The output folder was not written by strife-gen.
    ForeignOutput {
        /// The file or folder concerned.
        path: PathBuf,
        /// Some of what is in it, for the message.
        entries: Vec<String>,
    },
    #[error("writing {page}: {error}")]
    /// A profile's JSON could not be written.
    Json {
        /// The output path of the page.
        page: String,
        /// The underlying error.
        error: serde_json::Error,
    },
}

impl From<StagingError> for SiteError {
    /// A folder the engine refuses is the site owner's to sort out, in the words of the config.
    fn from(error: StagingError) -> Self {
        match error {
            StagingError::Foreign { path, entries, .. } => {
                SiteError::ForeignOutput { path, entries }
            }
            other => SiteError::Output(other),
        }
    }
}

/// A profile for [`SiteBuild::publish`], as its source found it.
#[derive(Debug)]
pub enum ProfileInput {
    /// To render. `source` is the digest of everything the entry was made from (the source's
    /// data, not the entry: making one is what an unchanged profile saves).
    Changed {
        /// The page model and what goes beside it (boxed: the other variant is small).
        entry: Box<ProfileEntry>,
        /// What it was made from.
        source: Digest,
    },
    /// The source's inputs are those of the last build: its published files are already kept
    /// ([`SiteBuild::keep_if_unchanged`]).
    Unchanged(KeptProfile),
}

/// A profile whose last published files one [`SiteBuild`] kept: only
/// [`SiteBuild::keep_if_unchanged`] makes one, so an unchanged profile cannot be sent without
/// its files.
#[derive(Debug)]
pub struct KeptProfile {
    /// The build that kept the files.
    build: u64,
    published: Box<PublishedProfile>,
}

/// Tells builds apart, for [`KeptProfile`].
static BUILDS: AtomicU64 = AtomicU64::new(0);

/// Builds the site from `profiles` into a tree staged beside `settings.output_dir`, which
/// replaces it only when everything succeeded ([`SiteBuild`] for a source that can skip making
/// unchanged profiles; here each entry's digest is taken from the entry itself).
pub fn build_site(
    settings: &SiteSettings,
    renderer: &Renderer,
    profiles: impl Iterator<Item = Result<ProfileEntry, SiteError>> + Send,
    on_page: &(dyn Fn() + Sync),
) -> Result<SiteReport, SiteError> {
    let site = SiteBuild::begin(settings, renderer)?;
    let inputs = profiles.map(|entry| entry.map(|entry| site.input(entry)));
    let published = site.publish(inputs, on_page)?;
    site.commit(published)
}

/// One build of a site: begun before the profiles are read, so their source can ask which are
/// unchanged ([`SiteBuild::keep_if_unchanged`]) and skip reading those; finished with the profiles.
///
/// Every file has a key: the digest of everything it is made from (the profile's source, and the
/// site key: the program, the theme, the site values and settings). A file whose key is the one
/// in the last build's manifest, and that is still as published, is kept without being
/// rendered; the rest is rendered and written only where its bytes differ. So a build with
/// nothing changed renders nothing and writes nothing, and one user's change renders their page
/// and what lists them (index page, sitemap, vanity URLs).
pub struct SiteBuild<'a> {
    settings: &'a SiteSettings,
    renderer: &'a Renderer,
    staging: Staging,
    /// Of everything every file depends on.
    site_key: Digest,
    /// Of everything every profile's link preview depends on besides the profile: a theme change
    /// that leaves `og.svg`, its fonts and the site's values alone redraws no preview.
    preview_key: Digest,
    /// The profiles the last build published, by id, when its manifest is trusted.
    last: HashMap<Snowflake, PublishedProfile>,
    /// Profiles rendered (not kept).
    rendered: AtomicUsize,
    /// Link previews drawn (not kept).
    drawn: AtomicUsize,
    /// This build among others (see [`KeptProfile`]).
    id: u64,
    /// The bytes of the site's image copies, when pages use any.
    images: Option<&'a dyn ImageSource>,
}

impl<'a> SiteBuild<'a> {
    /// Opens the output folder's transaction (see [`crate::staging`]).
    pub fn begin(
        settings: &'a SiteSettings,
        renderer: &'a Renderer,
    ) -> Result<SiteBuild<'a>, SiteError> {
        let started = std::time::Instant::now();
        let staging = match &settings.journal {
            Some(journal) => {
                Staging::begin_journaled(&settings.output_dir, OWNERSHIP, journal.clone())?
            }
            None => Staging::begin(&settings.output_dir, OWNERSHIP)?,
        };
        let last = staging.memo().map(read_memo).unwrap_or_default();
        tracing::debug!(elapsed = ?started.elapsed(), "output folder checked");
        Ok(SiteBuild {
            site_key: site_key(settings, renderer),
            preview_key: preview_site_key(renderer),
            settings,
            renderer,
            staging,
            last,
            rendered: AtomicUsize::new(0),
            drawn: AtomicUsize::new(0),
            id: BUILDS.fetch_add(1, Ordering::Relaxed),
            images: None,
        })
    }

    /// The same build, publishing the image copies pages use from `images`.
    pub fn with_images(mut self, images: &'a dyn ImageSource) -> SiteBuild<'a> {
        self.images = Some(images);
        self
    }

    /// `entry` as an input, its digest taken from the entry itself (for sources that make
    /// entries cheaply: tests, benchmarks).
    fn input(&self, entry: ProfileEntry) -> ProfileInput {
        let source = KeyBuilder::new("profile entry")
            .json(&entry.profile)
            .json(&entry.old_names)
            .json(&entry.changed_at)
            .finish();
        match self.keep_if_unchanged(entry.profile.id, source) {
            Some(kept) => ProfileInput::Unchanged(kept),
            None => ProfileInput::Changed {
                entry: Box::new(entry),
                source,
            },
        }
    }

    /// When the profile `id` made from `source` is published as it would be now, keeps its
    /// files in the new tree: its source then sends [`ProfileInput::Unchanged`] and need not make
    /// the entry. `None`: it must be rendered.
    pub fn keep_if_unchanged(&self, id: Snowflake, source: Digest) -> Option<KeptProfile> {
        let key = profile_key(self.site_key, source);
        let last = self.last.get(&id).filter(|last| last.key == key)?;
        let files = self.profile_files(id, source);
        // All or none: a profile half kept would be half rendered.
        if !files
            .iter()
            .all(|(file, key)| self.staging.is_current(file, *key))
        {
            return None;
        }
        for (file, key) in &files {
            if !self.staging.keep(file, *key).ok()? {
                return None;
            }
        }
        Some(KeptProfile {
            build: self.id,
            published: Box::new(last.clone()),
        })
    }

    /// The files of one profile made from `source`, each with its key: its page, its JSON and,
    /// when the theme has them, both cards (the page's key) and the link preview (its own). Only
    /// these are kept for an unchanged profile: one left out would vanish.
    fn profile_files(&self, id: Snowflake, source: Digest) -> Vec<(String, Digest)> {
        let key = profile_key(self.site_key, source);
        let mut files = vec![(page_file(id), key), (conventions::json_path(id), key)];
        if self.renderer.has_card() {
            files.extend(
                CARDS
                    .iter()
                    .map(|(name, _)| (format!("{}{name}", page_path(id)), key)),
            );
        }
        if self.renderer.has_preview() {
            files.push((preview_file(id), self.profile_preview_key(source)));
        }
        files
    }

    /// The key of the link preview of the profile made from `source`.
    fn profile_preview_key(&self, source: Digest) -> Digest {
        KeyBuilder::new("profile preview")
            .digest(self.preview_key)
            .digest(source)
            .finish()
    }

    /// Publishes every profile (rendered in parallel, calling `on_page` after each, from any
    /// thread), the index, host files, the theme's static files and vanity URLs into the staged
    /// tree. Nothing is visible until [`SiteBuild::commit`].
    pub fn publish(
        &self,
        profiles: impl Iterator<Item = Result<ProfileInput, SiteError>> + Send,
        on_page: &(dyn Fn() + Sync),
    ) -> Result<Published, SiteError> {
        let started = std::time::Instant::now();
        let pages = self.publish_profiles(profiles, on_page)?;
        tracing::debug!(elapsed = ?started.elapsed(), "profiles published");
        self.publish_index(&pages)?;
        self.publish_host_files(&pages)?;
        self.publish_site_preview(&pages)?;
        self.publish_static_files()?;
        self.publish_images(&pages)?;
        tracing::debug!(elapsed = ?started.elapsed(), "index, host files and images published");
        // Last: a vanity URL never takes a name the site already has at its top level.
        self.publish_vanity_urls(&pages)?;
        tracing::debug!(elapsed = ?started.elapsed(), "vanity URLs published");
        Ok(Published(pages))
    }

    /// Swaps the new tree in (when it differs) and records it for the next build. On error the
    /// previous output is untouched; the spare tree stays for the next build, which reconciles
    /// it.
    pub fn commit(self, published: Published) -> Result<SiteReport, SiteError> {
        // In a stable order (pages arrive in any): an unchanged site records the same memo.
        let mut profiles = published.0;
        profiles.sort_unstable_by_key(|p| p.id);
        let memo = postcard::to_stdvec(&(MEMO_FORMAT, Memo { profiles }))
            .map_err(|e| SiteError::Source(format!("cannot record the build: {e}")))?;
        let output = self.staging.output().to_path_buf();
        let profiles_rendered = self.rendered.into_inner();
        let previews_drawn = self.drawn.into_inner();
        tracing::debug!(bytes = memo.len(), "build recorded");
        let mut report = SiteReport::from(self.staging.commit_with_memo(memo)?);
        report.profiles_rendered = profiles_rendered;
        report.previews_drawn = previews_drawn;
        tracing::info!(
            rendered = report.profiles_rendered,
            previews = report.previews_drawn,
            written = report.pages_written,
            unchanged = report.pages_unchanged,
            removed = report.files_removed,
            output = %output.display(),
            "site built"
        );
        Ok(report)
    }

    /// Profile pages and their JSON, in parallel. A source that fails part-way means pages are
    /// missing: the whole build is abandoned.
    fn publish_profiles(
        &self,
        profiles: impl Iterator<Item = Result<ProfileInput, SiteError>> + Send,
        on_page: &(dyn Fn() + Sync),
    ) -> Result<Vec<PublishedProfile>, SiteError> {
        let seen = Mutex::new(HashSet::new());
        profiles
            .par_bridge()
            .map(|input| {
                let page = self.publish_profile(input?, &seen)?;
                on_page();
                Ok(page)
            })
            .collect()
    }

    /// Writes (or keeps) `u/<id>/index.html` and `u/<id>.json` for one profile.
    fn publish_profile(
        &self,
        input: ProfileInput,
        seen: &Mutex<HashSet<Snowflake>>,
    ) -> Result<PublishedProfile, SiteError> {
        let id = match &input {
            ProfileInput::Changed { entry, .. } => entry.profile.id,
            ProfileInput::Unchanged(kept) => kept.published.id,
        };
        if !seen.lock().unwrap_or_else(|e| e.into_inner()).insert(id) {
            return Err(SiteError::DuplicateProfile(id));
        }
        match input {
            ProfileInput::Changed { entry, source } => self.render_profile(*entry, source),
            ProfileInput::Unchanged(kept) if kept.build == self.id => Ok(*kept.published),
            ProfileInput::Unchanged(_) => Err(SiteError::NotUnchanged(id)),
        }
    }

    fn render_profile(
        &self,
        entry: ProfileEntry,
        source: Digest,
    ) -> Result<PublishedProfile, SiteError> {
        let key = profile_key(self.site_key, source);
        let ProfileEntry {
            profile,
            old_names,
            changed_at,
        } = entry;
        let id = profile.id;
        let path = page_path(id);
        let html = self
            .renderer
            .render_profile(&profile)
            .map_err(render_err(&path))?;
        self.staging
            .put_keyed(&page_file(id), Some(key), html.as_bytes())?;
        let json_path = conventions::json_path(id);
        let json = conventions::profile_json(&profile).map_err(|error| SiteError::Json {
            page: json_path.clone(),
            error,
        })?;
        self.staging.put_keyed(&json_path, Some(key), &json)?;
        if self.renderer.has_card() {
            self.render_cards(&profile, key)?;
        }
        if self.renderer.has_preview() {
            self.render_preview(&profile, self.profile_preview_key(source))?;
        }
        self.rendered.fetch_add(1, Ordering::Relaxed);
        let mut summary = ProfileSummary::from(&profile);
        summary.path = path;
        Ok(PublishedProfile {
            key,
            summary,
            id,
            images: profile.image_files,
            username: profile.username,
            old_names,
            url: profile.url,
            changed_at,
        })
    }

    /// `u/<id>/card.svg` and `card-dark.svg`, with the site's copies of the pictures inlined.
    fn render_cards(&self, profile: &Profile, key: Digest) -> Result<(), SiteError> {
        for (name, dark) in CARDS {
            let path = format!("{}{name}", page_path(profile.id));
            let card = self.card(profile, dark);
            let svg = self
                .renderer
                .render_card(profile, &card)
                .map_err(render_err(&path))?;
            self.staging.put_keyed(&path, Some(key), svg.as_bytes())?;
        }
        Ok(())
    }

    /// `u/<id>/og.png`, drawn from the light card's model. Drawing is the costly part of a
    /// profile, so it happens only with the page, and only when the preview's own key changed:
    /// a page re-rendered for a new stylesheet keeps its picture.
    fn render_preview(&self, profile: &Profile, key: Digest) -> Result<(), SiteError> {
        let path = preview_file(profile.id);
        if self.staging.keep(&path, key)? {
            return Ok(());
        }
        let card = self.card(profile, false);
        let png = self
            .renderer
            .render_preview(Some(profile), Some(&card), 1)
            .map_err(render_err(&path))?;
        self.drawn.fetch_add(1, Ordering::Relaxed);
        self.staging.put_keyed(&path, Some(key), &png)?;
        Ok(())
    }

    /// The card of `profile` (light or dark), with the site's copies of its pictures inlined.
    fn card<'p>(&self, profile: &'p Profile, dark: bool) -> Card<'p> {
        let copies = format!("{}{}/", self.renderer.root(), conventions::IMAGE_DIR);
        let bytes_of = |url: &str| {
            let file = url.strip_prefix(&copies)?;
            Some((self.images?.image_bytes(file)?, image_mime(file)?))
        };
        Card::new(profile, dark, &bytes_of)
    }

    /// `index.html` and, past `page_size` profiles, `page/<n>/index.html`: everyone, sorted by
    /// display name (then id, for the same names), `page_size` to a page.
    fn publish_index(&self, pages: &[PublishedProfile]) -> Result<(), SiteError> {
        let mut sorted: Vec<&PublishedProfile> = pages.iter().collect();
        sorted.sort_by_cached_key(|p| (p.summary.display_name.to_lowercase(), p.id));
        for (pagination, listed) in Pagination::split(&sorted, self.settings.page_size) {
            let path = format!("{}index.html", pagination.path);
            // Each profile's key stands for its summary.
            let key = listed
                .iter()
                .fold(self.key("index").json(&pagination), |key, p| {
                    key.digest(p.key)
                })
                .finish();
            self.publish_rendered(&path, key, || {
                let summaries: Vec<ProfileSummary> =
                    listed.iter().map(|p| p.summary.clone()).collect();
                self.renderer.render_index(&summaries, &pagination)
            })?;
        }
        Ok(())
    }

    /// `404.html`, `sitemap.xml`, `robots.txt`, `.nojekyll` (GitHub Pages would otherwise run
    /// Jekyll and hide `_`-prefixed files) and `CNAME` when configured.
    fn publish_host_files(&self, pages: &[PublishedProfile]) -> Result<(), SiteError> {
        let renderer = self.renderer;
        self.publish_rendered("404.html", self.key("404").finish(), || {
            renderer.render_not_found()
        })?;
        self.publish_sitemap(pages)?;
        self.publish_rendered("robots.txt", self.key("robots").finish(), || {
            renderer.render_robots()
        })?;
        self.staging.put(".nojekyll", b"")?;
        if let Some(host) = &self.settings.cname {
            self.staging
                .put("CNAME", conventions::cname_file(host).as_bytes())?;
        }
        Ok(())
    }

    /// `og.png`, the link preview of the index and the 404 page, when the theme has `og.svg`. It
    /// shows how many have published: it is drawn again only when that number changes.
    fn publish_site_preview(&self, pages: &[PublishedProfile]) -> Result<(), SiteError> {
        if !self.renderer.has_preview() {
            return Ok(());
        }
        let key = KeyBuilder::new("site preview")
            .digest(self.preview_key)
            .json(&pages.len())
            .finish();
        if self.staging.keep(PREVIEW_FILE, key)? {
            return Ok(());
        }
        let png = self
            .renderer
            .render_preview(None, None, pages.len())
            .map_err(render_err(PREVIEW_FILE))?;
        self.drawn.fetch_add(1, Ordering::Relaxed);
        self.staging.put_keyed(PREVIEW_FILE, Some(key), &png)?;
        Ok(())
    }

    /// `sitemap.xml`; past the sitemap limit, a sitemap index of `sitemap-<n>.xml` parts.
    fn publish_sitemap(&self, pages: &[PublishedProfile]) -> Result<(), SiteError> {
        let renderer = self.renderer;
        let sitemap = Sitemap::new(
            pages
                .iter()
                .map(|p| (p.url.clone(), p.changed_at))
                .collect(),
        );
        let parts = sitemap.split(self.settings.sitemap_limit);
        if let [sitemap] = parts.as_slice() {
            let key = self.key("sitemap").json(sitemap).finish();
            return self.publish_rendered("sitemap.xml", key, || renderer.render_sitemap(sitemap));
        }
        for (at, part) in parts.iter().enumerate() {
            let path = conventions::sitemap_part_path(at + 1);
            let key = self.key("sitemap part").json(part).finish();
            self.publish_rendered(&path, key, || renderer.render_sitemap(part))?;
        }
        let index = SitemapIndex::new(renderer.base_url(), &parts);
        let key = self.key("sitemap index").json(&index).finish();
        self.publish_rendered("sitemap.xml", key, || renderer.render_sitemap_index(&index))
    }

    /// The theme's static files, under their content-hashed names (see [`super::theme::assets`]).
    fn publish_static_files(&self) -> Result<(), SiteError> {
        for asset in self.renderer.assets().iter() {
            self.staging
                .put(&format!("static/{}", asset.hashed_name), &asset.bytes)?;
        }
        Ok(())
    }

    /// `img/<file>` for every image copy a page uses (once, however many pages share it). A copy
    /// is named by its content, so its name is its key; one that is no longer used is not
    /// published, so the swap removes it.
    fn publish_images(&self, pages: &[PublishedProfile]) -> Result<(), SiteError> {
        let Some(images) = self.images else {
            return Ok(());
        };
        let files: std::collections::BTreeSet<&str> = pages
            .iter()
            .flat_map(|p| p.images.iter().map(String::as_str))
            .collect();
        for file in files {
            let path = format!("{}/{file}", conventions::IMAGE_DIR);
            let key = self.key("image").text(file).finish();
            if self.staging.keep(&path, key)? {
                continue;
            }
            match images.image_bytes(file) {
                Some(bytes) => self.staging.put_keyed(&path, Some(key), &bytes)?,
                None => tracing::warn!(file, "image copy missing from the store: not published"),
            }
        }
        Ok(())
    }

    /// `<slug>/index.html` for every vanity URL: current usernames and former ones.
    fn publish_vanity_urls(&self, pages: &[PublishedProfile]) -> Result<(), SiteError> {
        let taken = self.staging.top_level_names();
        let claimants = pages.iter().map(|p| Claimant {
            id: p.id,
            username: &p.username,
            old_names: &p.old_names,
        });
        let urls = vanity::resolve(claimants, &taken);
        let by_id: HashMap<Snowflake, &PublishedProfile> =
            pages.iter().map(|p| (p.id, p)).collect();
        let current: HashMap<Snowflake, &str> = urls
            .iter()
            .filter(|url| url.kind == NameKind::Current)
            .map(|url| (url.id, url.slug.as_str()))
            .collect();
        for url in &urls {
            let profile = by_id[&url.id];
            let current = current.get(&url.id).copied();
            // The profile's key stands for everything the page shows of it (its summary and
            // URL are made from what the key is made from), so the page need not be built to be
            // kept.
            let key = self
                .key("redirect")
                .text(&url.slug)
                .text(match url.kind {
                    NameKind::Current => "current",
                    NameKind::Former => "former",
                })
                .json(&current)
                .digest(profile.key)
                .finish();
            let path = format!("{}index.html", conventions::vanity_path(&url.slug));
            self.publish_rendered(&path, key, || {
                let page =
                    RedirectPage::new(&url.slug, url.kind, &profile.summary, &profile.url, current);
                self.renderer.render_redirect(&page)
            })?;
        }
        Ok(())
    }

    /// A key for a file of `kind`, with the site key in it.
    fn key(&self, kind: &str) -> KeyBuilder {
        KeyBuilder::new(kind).digest(self.site_key)
    }

    /// Keeps `path` when it was made from `key`; otherwise renders it and puts it.
    fn publish_rendered(
        &self,
        path: &str,
        key: Digest,
        render: impl FnOnce() -> Result<String, RenderError>,
    ) -> Result<(), SiteError> {
        if self.staging.keep(path, key)? {
            return Ok(());
        }
        let text = render().map_err(render_err(path))?;
        self.staging.put_keyed(path, Some(key), text.as_bytes())?;
        Ok(())
    }
}

/// What the rest of the site needs from a published profile page, kept with the manifest for
/// the next build.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PublishedProfile {
    /// What the page was made from.
    key: Digest,
    summary: ProfileSummary,
    id: Snowflake,
    /// The image copies (`img/<file>`) its pages use.
    images: Vec<String>,
    username: String,
    old_names: Vec<String>,
    url: String,
    changed_at: Option<i64>,
}

/// Everything [`SiteBuild::publish`] put in the tree, for [`SiteBuild::commit`].
pub struct Published(Vec<PublishedProfile>);

/// Changes whenever [`Memo`] does: a memo of another version is not read (its profiles are
/// rendered again), and says so as such rather than as damage.
const MEMO_FORMAT: u32 = 2;

/// What a build keeps with its manifest: the profiles it published.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Memo {
    profiles: Vec<PublishedProfile>,
}

/// The last build's profiles from its memo; none when it cannot be read (then every profile is
/// rendered).
fn read_memo(memo: &[u8]) -> HashMap<Snowflake, PublishedProfile> {
    if memo.is_empty() {
        return HashMap::new();
    }
    match postcard::take_from_bytes::<u32>(memo) {
        Ok((MEMO_FORMAT, _)) => {}
        _ => {
            tracing::info!("the last build was made by another version: rendering every profile");
            return HashMap::new();
        }
    }
    match postcard::from_bytes::<(u32, Memo)>(memo) {
        Ok((_, memo)) => memo.profiles.into_iter().map(|p| (p.id, p)).collect(),
        Err(error) => {
            tracing::warn!(%error, "the last build's record is damaged: rendering every profile");
            HashMap::new()
        }
    }
}

/// Of everything every file of the site depends on: this program (its version and its own
/// file, so a rebuilt binary with changed built-in templates counts), the theme and site values
/// ([`Renderer::fingerprint`]) and the site settings.
fn site_key(settings: &SiteSettings, renderer: &Renderer) -> Digest {
    KeyBuilder::new("site")
        .text(env!("CARGO_PKG_VERSION"))
        .json(&program_stamp())
        .digest(renderer.fingerprint())
        .json(&settings.cname)
        .json(&settings.page_size)
        .json(&settings.sitemap_limit)
        .finish()
}

/// The size and modification time of the running program's file, when it can be read.
fn program_stamp() -> Option<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// Of everything every profile's link preview depends on but the profile: this program (as in
/// [`site_key`]: the drawing is its code) and [`Renderer::preview_fingerprint`].
fn preview_site_key(renderer: &Renderer) -> Digest {
    KeyBuilder::new("previews")
        .text(env!("CARGO_PKG_VERSION"))
        .json(&program_stamp())
        .digest(renderer.preview_fingerprint())
        .finish()
}

/// The key of a profile's page and JSON.
fn profile_key(site_key: Digest, source: Digest) -> Digest {
    KeyBuilder::new("profile")
        .digest(site_key)
        .digest(source)
        .finish()
}

/// The cards of a profile, in its folder: light, and dark (for `prefers-color-scheme`).
const CARDS: [(&str, bool); 2] = [("card.svg", false), ("card-dark.svg", true)];

/// `u/<id>/index.html`.
fn page_file(id: Snowflake) -> String {
    format!("{}index.html", page_path(id))
}

/// `u/<id>/og.png`.
fn preview_file(id: Snowflake) -> String {
    format!("{}{PREVIEW_FILE}", page_path(id))
}

/// A closure that turns a render error of `page` into [`SiteError::Render`].
fn render_err(page: &str) -> impl FnOnce(RenderError) -> SiteError {
    let page = page.to_owned();
    move |error| SiteError::Render { page, error }
}

/// Whether `output` (without a marker) carries what every strife-gen build wrote before markers
/// existed: an empty `.nojekyll` and a static file whose name holds the first 8 hex digits of its
/// own content's SHA-256 (`static/style.3f2a9c1b.css`). Asset pipelines that hash names use other
/// hashes, folders and separators, so a folder of someone else's files does not pass by chance.
fn written_by_strife_gen(output: &Path) -> bool {
    let nojekyll = std::fs::symlink_metadata(output.join(".nojekyll"));
    if !nojekyll.is_ok_and(|meta| meta.is_file() && meta.len() == 0) {
        return false;
    }
    let recognised = walkdir::WalkDir::new(output.join("static"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .any(|entry| {
            let name = entry.file_name().to_string_lossy();
            std::fs::read(entry.path()).is_ok_and(|bytes| {
                let hash = content_hash(&bytes);
                name.contains(&format!(".{hash}.")) || name.ends_with(&format!(".{hash}"))
            })
        });
    if recognised {
        tracing::info!(output = %output.display(), "output folder written by an earlier strife-gen: replacing it");
    }
    recognised
}

#[cfg(test)]
mod tests;
