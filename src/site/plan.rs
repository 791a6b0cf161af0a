//! The site plan: which files a site has and where they go (pages, JSON, index, host files, static
//! files, vanity URLs). It must not write files itself: every file goes through [`crate::staging`].
//!
//! Layout of a built site:
//!
//! - `index.html`: everyone, sorted by name; `404.html` for any missing path;
//! - `u/<id>/index.html` per profile (the stable URL) and `u/<id>.json`, the same data as JSON;
//! - `<username>/index.html`: vanity URLs ([`super::vanity`]), redirect pages to `u/<id>/`, also
//!   for names a user had before;
//! - `sitemap.xml`, `robots.txt`, `.nojekyll`, and `CNAME` when `site.cname` is set
//!   ([`super::conventions`]);
//! - `static/<name>.<hash>.<ext>` from the theme, and from the default theme for what it lacks
//!   ([`super::theme::assets`]);
//! - [`MARKER`], which tells strife-gen's output folders from anyone else's.
//!
//! Every file goes through the same staging, so unchanged ones keep their mtime, and those of
//! removed users disappear with the swap.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::iter::{ParallelBridge, ParallelIterator};

use super::conventions::{self, Pagination, RedirectPage, Sitemap, SitemapIndex};
use super::model::ProfileSummary;
use super::profile::{page_path, Profile};
use super::render::{RenderError, Renderer};
use super::theme::assets::content_hash;
use super::vanity::{self, Claimant, NameKind};
use crate::discord::models::Snowflake;
use crate::staging::{describe_entries, Ownership, Staging, StagingError, Tally};

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
}

#[cfg(test)]
impl SiteSettings {
    /// Settings for a site in `output_dir` with the default page size and no `CNAME`.
    pub(crate) fn in_dir(output_dir: PathBuf) -> SiteSettings {
        SiteSettings {
            output_dir,
            cname: None,
            page_size: crate::config::site::DEFAULT_PAGE_SIZE,
            sitemap_limit: conventions::SITEMAP_URL_LIMIT,
        }
    }
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
    /// Files that are new or whose content changed.
    pub pages_written: usize,
    /// Files whose content was the same as before: the previous file was kept.
    pub pages_unchanged: usize,
    /// Files of the previous output that the new one does not have.
    pub(crate) files_removed: usize,
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
            pages_written: tally.written,
            pages_unchanged: tally.unchanged,
            files_removed: tally.removed,
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

/// Builds the site from `profiles` into a tree staged beside `settings.output_dir`, which
/// replaces it only when everything succeeded: every profile page (rendered in parallel, calling
/// `on_page` after each, from any thread), the index, host files, the theme's static files and
/// vanity URLs. On error the previous output is untouched; the spare tree stays for the next
/// build, which reconciles it.
pub fn build_site(
    settings: &SiteSettings,
    renderer: &Renderer,
    profiles: impl Iterator<Item = Result<ProfileEntry, SiteError>> + Send,
    on_page: &(dyn Fn() + Sync),
) -> Result<SiteReport, SiteError> {
    let staging = Staging::begin(&settings.output_dir, OWNERSHIP)?;
    let pages = publish_profiles(&staging, renderer, profiles, on_page)?;
    publish_index(&staging, renderer, settings.page_size, &pages)?;
    publish_host_files(&staging, renderer, settings, &pages)?;
    publish_static_files(&staging, renderer)?;
    // Last: a vanity URL never takes a name the site already has at its top level.
    publish_vanity_urls(&staging, renderer, &pages)?;
    let output = staging.output().to_path_buf();
    let report = SiteReport::from(staging.commit()?);
    tracing::info!(
        written = report.pages_written,
        unchanged = report.pages_unchanged,
        removed = report.files_removed,
        output = %output.display(),
        "site built"
    );
    Ok(report)
}

/// What the rest of the site needs from a published profile page.
struct PublishedProfile {
    summary: ProfileSummary,
    id: Snowflake,
    username: String,
    old_names: Vec<String>,
    url: String,
    changed_at: Option<i64>,
}

/// Profile pages and their JSON, in parallel. A source that fails part-way means pages are
/// missing: the whole build is abandoned.
fn publish_profiles(
    staging: &Staging,
    renderer: &Renderer,
    profiles: impl Iterator<Item = Result<ProfileEntry, SiteError>> + Send,
    on_page: &(dyn Fn() + Sync),
) -> Result<Vec<PublishedProfile>, SiteError> {
    let seen = Mutex::new(HashSet::new());
    profiles
        .par_bridge()
        .map(|entry| {
            let page = publish_profile(staging, renderer, entry?, &seen)?;
            on_page();
            Ok(page)
        })
        .collect()
}

/// A closure that turns a render error of `page` into [`SiteError::Render`].
fn render_err(page: &str) -> impl FnOnce(RenderError) -> SiteError {
    let page = page.to_owned();
    move |error| SiteError::Render { page, error }
}

/// Writes `u/<id>/index.html` and `u/<id>.json` for one profile.
fn publish_profile(
    staging: &Staging,
    renderer: &Renderer,
    entry: ProfileEntry,
    seen: &Mutex<HashSet<Snowflake>>,
) -> Result<PublishedProfile, SiteError> {
    let ProfileEntry {
        profile,
        old_names,
        changed_at,
    } = entry;
    let id = profile.id;
    if !seen.lock().unwrap_or_else(|e| e.into_inner()).insert(id) {
        return Err(SiteError::DuplicateProfile(id));
    }
    let path = page_path(id);
    let html = renderer
        .render_profile(&profile)
        .map_err(render_err(&path))?;
    staging.put(&format!("{path}index.html"), html.as_bytes())?;
    let json_path = conventions::json_path(id);
    let json = conventions::profile_json(&profile).map_err(|error| SiteError::Json {
        page: json_path.clone(),
        error,
    })?;
    staging.put(&json_path, &json)?;
    let mut summary = ProfileSummary::from(&profile);
    summary.path = path;
    Ok(PublishedProfile {
        summary,
        id,
        username: profile.username,
        old_names,
        url: profile.url,
        changed_at,
    })
}

/// `index.html` and, past `page_size` profiles, `page/<n>/index.html`: everyone, sorted by
/// display name (then id, for the same names), `page_size` to a page.
fn publish_index(
    staging: &Staging,
    renderer: &Renderer,
    page_size: NonZeroUsize,
    pages: &[PublishedProfile],
) -> Result<(), SiteError> {
    let mut summaries: Vec<ProfileSummary> = pages.iter().map(|p| p.summary.clone()).collect();
    summaries.sort_by_cached_key(|s| (s.display_name.to_lowercase(), s.id));
    for (pagination, profiles) in Pagination::split(&summaries, page_size) {
        let path = format!("{}index.html", pagination.path);
        let index = renderer
            .render_index(profiles, &pagination)
            .map_err(render_err(&path))?;
        staging.put(&path, index.as_bytes())?;
    }
    Ok(())
}

/// `404.html`, `sitemap.xml`, `robots.txt`, `.nojekyll` (GitHub Pages would otherwise run Jekyll
/// and hide `_`-prefixed files) and `CNAME` when configured.
fn publish_host_files(
    staging: &Staging,
    renderer: &Renderer,
    settings: &SiteSettings,
    pages: &[PublishedProfile],
) -> Result<(), SiteError> {
    let not_found = renderer
        .render_not_found()
        .map_err(render_err("404.html"))?;
    staging.put("404.html", not_found.as_bytes())?;

    let sitemap = Sitemap::new(
        pages
            .iter()
            .map(|p| (p.url.clone(), p.changed_at))
            .collect(),
    );
    let parts = sitemap.split(settings.sitemap_limit);
    if let [sitemap] = parts.as_slice() {
        let sitemap = renderer
            .render_sitemap(sitemap)
            .map_err(render_err("sitemap.xml"))?;
        staging.put("sitemap.xml", sitemap.as_bytes())?;
    } else {
        for (at, part) in parts.iter().enumerate() {
            let path = conventions::sitemap_part_path(at + 1);
            let xml = renderer.render_sitemap(part).map_err(render_err(&path))?;
            staging.put(&path, xml.as_bytes())?;
        }
        let index = SitemapIndex::new(renderer.base_url(), &parts);
        let xml = renderer
            .render_sitemap_index(&index)
            .map_err(render_err("sitemap.xml"))?;
        staging.put("sitemap.xml", xml.as_bytes())?;
    }

    let robots = renderer.render_robots().map_err(render_err("robots.txt"))?;
    staging.put("robots.txt", robots.as_bytes())?;

    staging.put(".nojekyll", b"")?;
    if let Some(host) = &settings.cname {
        staging.put("CNAME", conventions::cname_file(host).as_bytes())?;
    }
    Ok(())
}

/// The theme's static files, under their content-hashed names (see [`super::theme::assets`]).
fn publish_static_files(staging: &Staging, renderer: &Renderer) -> Result<(), SiteError> {
    for asset in renderer.assets().iter() {
        staging.put(&format!("static/{}", asset.hashed_name), &asset.bytes)?;
    }
    Ok(())
}

/// `<slug>/index.html` for every vanity URL: current usernames and former ones.
fn publish_vanity_urls(
    staging: &Staging,
    renderer: &Renderer,
    pages: &[PublishedProfile],
) -> Result<(), SiteError> {
    let taken = staging.top_level_names();
    let claimants = pages.iter().map(|p| Claimant {
        id: p.id,
        username: &p.username,
        old_names: &p.old_names,
    });
    let urls = vanity::resolve(claimants, &taken);
    let by_id: HashMap<Snowflake, &PublishedProfile> = pages.iter().map(|p| (p.id, p)).collect();
    let current: HashMap<Snowflake, &str> = urls
        .iter()
        .filter(|url| url.kind == NameKind::Current)
        .map(|url| (url.id, url.slug.as_str()))
        .collect();
    for url in &urls {
        let profile = by_id[&url.id];
        let page = RedirectPage::new(
            &url.slug,
            url.kind,
            &profile.summary,
            &profile.url,
            current.get(&url.id).copied(),
        );
        let html = renderer
            .render_redirect(&page)
            .map_err(render_err(&page.path))?;
        staging.put(&format!("{}index.html", page.path), html.as_bytes())?;
    }
    Ok(())
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
