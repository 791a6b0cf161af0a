//! Writing the site: a complete new tree is staged beside the output folder and swapped in only
//! when every page rendered, so readers (and `git`) never see a half-built site.
//!
//! A staged file whose bytes equal the file already published is a hard link to the published
//! one (a copy with the old modification time where links are not possible), so unchanged pages
//! keep their mtime and inode and `git diff` shows only real changes.
//!
//! The tree is staged in `.output.spare`: the tree the previous build replaced, recycled rather
//! than deleted, because deleting (and recreating) thousands of folders on every build is what
//! made an incremental build slow on small machines. The spare's state is never trusted: every
//! file of the new tree is checked against the published one, anything else is removed, and
//! nothing is ever written into an existing file, since a spare's files are hard links shared
//! with the published site. A build that fails leaves the (partly reconciled) spare for the next.
//!
//! The swap is three renames: `output` → `.output.old-XXXX`, `.output.spare` → `output`, then the
//! old tree → `.output.spare`. A build that finds no `output` but an old tree (a crash between
//! the renames) uses the newest old tree as the previous output. Leftover old trees (and the
//! staging trees of older versions) are deleted after the next successful build, or one of them
//! becomes the spare when there is none, so only one build may run per output folder at a time.
//!
//! Beside the pages the tree has what static hosts expect (see [`super::conventions`]): vanity
//! URLs, `404.html`, `sitemap.xml`, `robots.txt`, `.nojekyll`, `CNAME`, and `u/<id>.json`.
//! Every one of them goes through the same staging, so unchanged ones keep their mtime too, and
//! those of removed users disappear with the swap.
//!
//! `.git` and `.gitkeep` at the top of the output folder are moved into the new tree untouched, so
//! the output folder can be a git checkout. Anything else in the output folder that the build does
//! not produce is removed.
//!
//! So a build never replaces a folder strife-gen did not write: every tree gets a marker file,
//! [`MARKER`], and an existing output folder without one is refused unless it is empty (nothing
//! but `.git` and `.gitkeep`) or was written by an earlier strife-gen, which wrote no marker but
//! always wrote `.nojekyll` and static files named by their own content's SHA-256 — a fingerprint
//! no other tool leaves ([`written_by_strife_gen`]).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::iter::{ParallelBridge, ParallelIterator};

use super::conventions::{self, RedirectPage, Sitemap};
use super::profile::{page_path, Profile};
use super::render::{ProfileSummary, RenderError, Renderer};
use super::vanity::{self, Claimant, NameKind};
use crate::discord::models::Snowflake;

/// Top-level entries of an existing output folder that are carried into every new tree.
const CARRIED_OVER: [&str; 2] = [".git", ".gitkeep"];

/// The file at the top of every output folder that marks it as strife-gen's, to be replaced
/// whole by the next build. Static hosts publish it, so it says nothing but that.
pub const MARKER: &str = ".strife-gen";

/// What [`MARKER`] holds.
const MARKER_TEXT: &str =
    "This folder is the output of strife-gen (https://github.com/strife-gen/strife-gen).\n\
Every build replaces it whole: files put here by hand are removed.\n";

/// Where to write the site and which theme to copy static files from.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    pub output_dir: PathBuf,
    /// Host name written to `CNAME` (GitHub Pages' custom domain); no `CNAME` when `None`.
    pub cname: Option<String>,
}

/// A profile and what the site needs beside its page.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileEntry {
    pub profile: Profile,
    /// Usernames the user had before, most recent first: their vanity URLs redirect here.
    pub old_names: Vec<String>,
    /// When the profile's data last changed (Unix seconds): the sitemap's `lastmod`.
    pub changed_at: Option<i64>,
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
    pub files_removed: usize,
}

/// Why a build failed. The previous output is untouched whenever one of these is returned (a
/// failure to keep the replaced tree as the spare after a successful swap is only logged).
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    #[error("rendering {page}: {error}")]
    Render { page: String, error: RenderError },
    #[error("profile id {0:?} is not a Discord id")]
    InvalidProfileId(String),
    #[error("the list of profiles could not be read: {0}")]
    Source(String),
    #[error("two profiles have the id {0}")]
    DuplicateProfile(String),
    #[error("output folder {} must be a folder with a name", .0.display())]
    BadOutputDir(PathBuf),
    #[error(
        "output folder {} was not written by strife-gen (it has no {MARKER}) and holds {}; every \
         build replaces the output folder whole, so it is left alone: remove it (or empty it), or \
         point site.output_dir at another folder",
        path.display(), describe_entries(entries)
    )]
    ForeignOutput {
        path: PathBuf,
        /// Some of what is in it, for the message.
        entries: Vec<String>,
    },
    #[error("writing {page}: {error}")]
    Json {
        page: String,
        error: serde_json::Error,
    },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SiteError {
    let path = path.to_path_buf();
    move |error| SiteError::Io {
        action,
        path,
        error,
    }
}

/// Renders every profile (in parallel), the index, and writes the renderer's static files under
/// their content-hashed names in `static/`, into a folder beside `output_dir` (the recycled spare
/// tree) that replaces it only when everything succeeded. On error the previous output is
/// untouched; the spare stays for the next build, which reconciles it.
///
/// `profiles` yields [`Profile`]s or [`ProfileEntry`]s (with old names and dates).
pub fn build_site<P: Into<ProfileEntry> + Send>(
    settings: &SiteSettings,
    renderer: &Renderer,
    profiles: impl Iterator<Item = Result<P, SiteError>> + Send,
) -> Result<SiteReport, SiteError> {
    build_site_with_progress(settings, renderer, profiles, &|| {})
}

/// [`build_site`], calling `on_page` after each profile page is written (from any thread).
pub fn build_site_with_progress<P: Into<ProfileEntry> + Send>(
    settings: &SiteSettings,
    renderer: &Renderer,
    profiles: impl Iterator<Item = Result<P, SiteError>> + Send,
    on_page: &(dyn Fn() + Sync),
) -> Result<SiteReport, SiteError> {
    // A symlinked output folder (say, a web server's document root) is updated where it points;
    // swapping the link itself would leave its target stale forever.
    let resolved = resolve_output_link(&settings.output_dir)?;
    let output = resolved.as_deref().unwrap_or(&settings.output_dir);
    let Some(name) = output.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Err(SiteError::BadOutputDir(output.to_path_buf()));
    };
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_err("create folder", &parent))?;

    let mut leftovers = Leftovers::scan(&parent, &name)?;
    let output_exists = match fs::symlink_metadata(output) {
        Ok(meta) if meta.is_dir() || fs::metadata(output).is_ok_and(|m| m.is_dir()) => true,
        Ok(_) => {
            let error = io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a folder");
            return Err(SiteError::Io {
                action: "use output folder",
                path: output.to_path_buf(),
                error,
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(io_err("read", output)(e)),
    };
    if output_exists {
        check_ours(output)?;
    }
    let previous: Option<PathBuf> = if output_exists {
        Some(output.to_path_buf())
    } else {
        let recovered = leftovers.newest_old();
        if let Some(old) = &recovered {
            tracing::warn!(old = %old.display(), "output folder missing: recovering the previous build");
        }
        recovered
    };

    let spare = parent.join(format!(".{name}.spare"));
    // With the output in place every leftover tree is garbage: one may as well be recycled.
    let adoptable = if output_exists && fs::symlink_metadata(&spare).is_err() {
        leftovers.take_one()
    } else {
        None
    };
    prepare_spare(&spare, adoptable)?;
    let stage = Stage {
        root: &spare,
        previous: previous.as_deref(),
        staged: Mutex::new(HashSet::new()),
    };

    // Profile pages and their JSON, in parallel.
    let seen = Mutex::new(HashSet::new());
    let pages: Vec<PublishedProfile> = profiles
        .par_bridge()
        .map(|entry| {
            // A source that fails part-way means pages are missing: abandon the whole build.
            let page = publish_profile(&stage, renderer, entry?.into(), &seen)?;
            on_page();
            Ok(page)
        })
        .collect::<Result<_, SiteError>>()?;

    let mut report = SiteReport::default();
    let mut summaries = Vec::with_capacity(pages.len());
    for page in &pages {
        page.outcomes.iter().for_each(|o| report.count(*o));
        summaries.push(page.summary.clone());
    }
    summaries.sort_by_cached_key(|s| (s.display_name.to_lowercase(), s.id.len(), s.id.clone()));

    let index = renderer
        .render_index(&summaries)
        .map_err(render_err("index.html"))?;
    report.count(stage.put("index.html", index.as_bytes())?);
    write_host_files(&stage, renderer, settings, &pages, &mut report)?;

    // The theme's static files, under their content-hashed names (see `site::assets`).
    for asset in renderer.assets().iter() {
        let rel = format!("static/{}", asset.hashed_name);
        report.count(stage.put(&rel, &asset.bytes)?);
    }

    // Last: a vanity URL never takes a name the site already has at its top level.
    write_vanity_urls(&stage, renderer, &pages, &mut report)?;
    // Bookkeeping, not a page: not counted.
    stage.put(MARKER, MARKER_TEXT.as_bytes())?;

    let staged = stage.into_staged();
    prune(&spare, &staged)?;
    if let Some(previous) = &previous {
        report.files_removed = count_removed(previous, &staged, Path::new(""))?;
    }

    let replaced = swap(
        output,
        &spare,
        previous.as_deref(),
        output_exists,
        &leftovers,
    )?;
    if let Some(replaced) = replaced.filter(|replaced| *replaced != spare) {
        recycle(&replaced, &spare);
    }
    leftovers.remove();
    tracing::info!(
        written = report.pages_written,
        unchanged = report.pages_unchanged,
        removed = report.files_removed,
        output = %output.display(),
        "site built"
    );
    Ok(report)
}

/// Refuses an existing output folder that strife-gen did not write (see the module docs): one
/// without [`MARKER`] that holds more than `.git` and `.gitkeep` and does not carry an earlier
/// strife-gen's fingerprint.
fn check_ours(output: &Path) -> Result<(), SiteError> {
    if fs::symlink_metadata(output.join(MARKER)).is_ok_and(|meta| meta.is_file()) {
        return Ok(());
    }
    let mut entries = Vec::new();
    for entry in fs::read_dir(output).map_err(io_err("read folder", output))? {
        let entry = entry.map_err(io_err("read folder", output))?;
        if !is_carried_over(Path::new(""), &entry) {
            entries.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    if entries.is_empty() {
        return Ok(());
    }
    if written_by_strife_gen(output) {
        tracing::info!(output = %output.display(), "output folder written by an earlier strife-gen: replacing it");
        return Ok(());
    }
    entries.sort();
    Err(SiteError::ForeignOutput {
        path: output.to_path_buf(),
        entries,
    })
}

/// `"a, b and 3 more"`: the first few names.
fn describe_entries(entries: &[String]) -> String {
    const SHOWN: usize = 5;
    let shown = entries
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    match entries.len().saturating_sub(SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// Whether `output` (without a marker) carries what every strife-gen build wrote before markers
/// existed: an empty `.nojekyll` and a static file whose name holds the first 8 hex digits of its
/// own content's SHA-256 (`static/style.3f2a9c1b.css`). Asset pipelines that hash names use other
/// hashes, folders and separators, so a folder of someone else's files does not pass by chance.
fn written_by_strife_gen(output: &Path) -> bool {
    let nojekyll = fs::symlink_metadata(output.join(".nojekyll"));
    if !nojekyll.is_ok_and(|meta| meta.is_file() && meta.len() == 0) {
        return false;
    }
    walkdir::WalkDir::new(output.join("static"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .any(|entry| {
            let name = entry.file_name().to_string_lossy();
            fs::read(entry.path()).is_ok_and(|bytes| {
                let hash = super::assets::content_hash(&bytes);
                name.contains(&format!(".{hash}.")) || name.ends_with(&format!(".{hash}"))
            })
        })
}

/// What the rest of the site needs from a published profile page.
struct PublishedProfile {
    summary: ProfileSummary,
    id: u64,
    username: String,
    old_names: Vec<String>,
    url: String,
    changed_at: Option<i64>,
    /// Of the page and of its JSON.
    outcomes: [Outcome; 2],
}

fn render_err(page: &str) -> impl FnOnce(RenderError) -> SiteError {
    let page = page.to_owned();
    move |error| SiteError::Render { page, error }
}

/// Writes `u/<id>/index.html` and `u/<id>.json` for one profile.
fn publish_profile(
    stage: &Stage<'_>,
    renderer: &Renderer,
    entry: ProfileEntry,
    seen: &Mutex<HashSet<Snowflake>>,
) -> Result<PublishedProfile, SiteError> {
    let ProfileEntry {
        profile,
        old_names,
        changed_at,
    } = entry;
    let id = Snowflake::parse(&profile.id)
        .ok_or_else(|| SiteError::InvalidProfileId(profile.id.clone()))?;
    if !seen.lock().unwrap_or_else(|e| e.into_inner()).insert(id) {
        return Err(SiteError::DuplicateProfile(profile.id.clone()));
    }
    let path = page_path(id.0);
    let html = renderer
        .render_profile(&profile)
        .map_err(render_err(&path))?;
    let page = stage.put(&format!("{path}index.html"), html.as_bytes())?;
    let json_path = conventions::json_path(id.0);
    let json = conventions::profile_json(&profile).map_err(|error| SiteError::Json {
        page: json_path.clone(),
        error,
    })?;
    let json = stage.put(&json_path, &json)?;
    let mut summary = ProfileSummary::from(&profile);
    summary.path = path;
    Ok(PublishedProfile {
        summary,
        id: id.0,
        username: profile.username,
        old_names,
        url: profile.url,
        changed_at,
        outcomes: [page, json],
    })
}

/// `404.html`, `sitemap.xml`, `robots.txt`, `.nojekyll` (GitHub Pages would otherwise run Jekyll
/// and hide `_`-prefixed files) and `CNAME` when configured.
fn write_host_files(
    stage: &Stage<'_>,
    renderer: &Renderer,
    settings: &SiteSettings,
    pages: &[PublishedProfile],
    report: &mut SiteReport,
) -> Result<(), SiteError> {
    let not_found = renderer
        .render_not_found()
        .map_err(render_err("404.html"))?;
    report.count(stage.put("404.html", not_found.as_bytes())?);

    let sitemap = Sitemap::new(
        pages
            .iter()
            .map(|p| (p.url.clone(), p.changed_at))
            .collect(),
    );
    let sitemap = renderer
        .render_sitemap(&sitemap)
        .map_err(render_err("sitemap.xml"))?;
    report.count(stage.put("sitemap.xml", sitemap.as_bytes())?);

    let robots = renderer.render_robots().map_err(render_err("robots.txt"))?;
    report.count(stage.put("robots.txt", robots.as_bytes())?);

    report.count(stage.put(".nojekyll", b"")?);
    if let Some(host) = &settings.cname {
        report.count(stage.put("CNAME", conventions::cname_file(host).as_bytes())?);
    }
    Ok(())
}

/// `<slug>/index.html` for every vanity URL: current usernames and former ones.
fn write_vanity_urls(
    stage: &Stage<'_>,
    renderer: &Renderer,
    pages: &[PublishedProfile],
    report: &mut SiteReport,
) -> Result<(), SiteError> {
    let taken = stage.top_level_names()?;
    let claimants = pages.iter().map(|p| Claimant {
        id: p.id,
        username: &p.username,
        old_names: &p.old_names,
    });
    let urls = vanity::resolve(claimants, &taken);
    let by_id: HashMap<u64, &PublishedProfile> = pages.iter().map(|p| (p.id, p)).collect();
    let current: HashMap<u64, &str> = urls
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
        report.count(stage.put(&format!("{}index.html", page.path), html.as_bytes())?);
    }
    Ok(())
}

impl SiteReport {
    /// Whether the output differs from the previous build's.
    pub fn changed(&self) -> bool {
        self.pages_written > 0 || self.files_removed > 0
    }

    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Written => self.pages_written += 1,
            Outcome::Unchanged => self.pages_unchanged += 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Written,
    Unchanged,
}

/// The tree being built (in the spare), and the previous tree whose identical files are reused.
struct Stage<'a> {
    root: &'a Path,
    previous: Option<&'a Path>,
    /// Every path put so far: the files of the new tree. Anything else in the spare is pruned.
    staged: Mutex<HashSet<PathBuf>>,
}

impl Stage<'_> {
    /// Puts `bytes` at `rel` (a `/`-separated relative path made by this module), reusing the
    /// previous file when its content is the same.
    fn put(&self, rel: &str, bytes: &[u8]) -> Result<Outcome, SiteError> {
        self.staged_paths().insert(PathBuf::from(rel));
        let target = self.root.join(rel);
        if let Some(dir) = target.parent() {
            ensure_dir(self.root, dir)?;
        }
        if let Some(previous) = self.previous {
            let old = previous.join(rel);
            if same_content(&old, bytes) && reuse(&old, &target).is_ok() {
                return Ok(Outcome::Unchanged);
            }
        }
        clear(&target).map_err(io_err("remove", &target))?;
        write_new(&target, bytes).map_err(io_err("write", &target))?;
        Ok(Outcome::Written)
    }

    /// Lower-cased names of everything at the top of the new tree so far. Read from what was put,
    /// not from the folder, which may still hold last build's files.
    fn top_level_names(&self) -> Result<HashSet<String>, SiteError> {
        let names = self
            .staged_paths()
            .iter()
            .filter_map(|rel| rel.components().next())
            .map(|first| first.as_os_str().to_string_lossy().to_lowercase())
            .collect();
        Ok(names)
    }

    fn staged_paths(&self) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
        self.staged.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn into_staged(self) -> HashSet<PathBuf> {
        self.staged.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

/// Makes `spare` a folder to stage into: the recycled tree as it is (any state will do, it is
/// reconciled file by file), `adoptable` (a leftover tree) when there is none, or a new folder.
/// Only symbolic links and other special files are removed up front: creating folders through a
/// link could write outside the tree.
fn prepare_spare(spare: &Path, adoptable: Option<PathBuf>) -> Result<(), SiteError> {
    match fs::symlink_metadata(spare) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            fs::remove_file(spare).map_err(io_err("remove", spare))?;
            fs::create_dir(spare).map_err(io_err("create folder", spare))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let adopted = adoptable.is_some_and(|tree| fs::rename(&tree, spare).is_ok());
            if !adopted {
                fs::create_dir(spare).map_err(io_err("create folder", spare))?;
            }
        }
        Err(e) => return Err(io_err("read", spare)(e)),
    }
    remove_special_files(spare, Path::new(""))
}

/// Removes everything below `root/rel` that is neither a regular file nor a folder.
fn remove_special_files(root: &Path, rel: &Path) -> Result<(), SiteError> {
    let dir = root.join(rel);
    for entry in fs::read_dir(&dir).map_err(io_err("read folder", &dir))? {
        let entry = entry.map_err(io_err("read folder", &dir))?;
        if is_carried_over(rel, &entry) {
            continue;
        }
        let kind = entry.file_type().map_err(io_err("read", &entry.path()))?;
        if kind.is_dir() {
            remove_special_files(root, &rel.join(entry.file_name()))?;
        } else if !kind.is_file() {
            fs::remove_file(entry.path()).map_err(io_err("remove", &entry.path()))?;
        }
    }
    Ok(())
}

/// `.git` and `.gitkeep` at the top of a tree: the swap moves them, nothing else touches them.
fn is_carried_over(rel: &Path, entry: &fs::DirEntry) -> bool {
    rel.as_os_str().is_empty() && CARRIED_OVER.iter().any(|c| entry.file_name() == *c)
}

/// Creates `dir` below `root`, replacing files that stand where its folders belong (a spare is
/// never trusted to have the right shape).
fn ensure_dir(root: &Path, dir: &Path) -> Result<(), SiteError> {
    if fs::create_dir_all(dir).is_ok() {
        return Ok(());
    }
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let mut path = root.to_path_buf();
    for part in rel.components() {
        path.push(part);
        let is_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        if !is_dir {
            clear(&path).map_err(io_err("remove", &path))?;
            // Other threads may be creating the same folder: `create_dir_all` does not mind.
            fs::create_dir_all(&path).map_err(io_err("create folder", &path))?;
        }
    }
    Ok(())
}

/// Removes whatever is at `path` (a file, or a whole folder where a file belongs); nothing there
/// is fine.
fn clear(path: &Path) -> io::Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    result.or_else(ignore_not_found)
}

/// Writes a new file at `path`, failing if anything is there: a file in the spare may be a hard
/// link to a published one, so writing into it would change the live site.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    fs::File::options()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(bytes)
}

fn ignore_not_found(error: io::Error) -> io::Result<()> {
    match error.kind() {
        io::ErrorKind::NotFound => Ok(()),
        _ => Err(error),
    }
}

/// Whether the regular file at `path` holds exactly `bytes` (any error reads as "no").
fn same_content(path: &Path, bytes: &[u8]) -> bool {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() == bytes.len() as u64 => {
            fs::read(path).is_ok_and(|old| old == bytes)
        }
        _ => false,
    }
}

/// Makes `target` the previous file without touching the previous tree. Usually it already is (a
/// recycled tree's unchanged files are hard links to the published ones); otherwise whatever is
/// there is replaced by a hard link, or by a copy that keeps the old modification time.
fn reuse(old: &Path, target: &Path) -> io::Result<()> {
    if same_file::is_same_file(old, target).unwrap_or(false) {
        return Ok(());
    }
    clear(target)?;
    if fs::hard_link(old, target).is_ok() {
        return Ok(());
    }
    let modified = fs::metadata(old)?.modified()?;
    let mut copy = fs::File::options()
        .write(true)
        .create_new(true)
        .open(target)?;
    io::copy(&mut fs::File::open(old)?, &mut copy)?;
    copy.set_modified(modified)
}

/// Removes from the spare every file the new tree does not have, and the folders left empty.
fn prune(spare: &Path, staged: &HashSet<PathBuf>) -> Result<(), SiteError> {
    let folders: HashSet<&Path> = staged.iter().flat_map(|rel| rel.ancestors()).collect();
    prune_folder(spare, Path::new(""), staged, &folders)
}

fn prune_folder(
    root: &Path,
    rel: &Path,
    staged: &HashSet<PathBuf>,
    folders: &HashSet<&Path>,
) -> Result<(), SiteError> {
    let dir = root.join(rel);
    for entry in fs::read_dir(&dir).map_err(io_err("read folder", &dir))? {
        let entry = entry.map_err(io_err("read folder", &dir))?;
        if is_carried_over(rel, &entry) {
            continue;
        }
        let child = rel.join(entry.file_name());
        let path = entry.path();
        if entry.file_type().map_err(io_err("read", &path))?.is_dir() {
            prune_folder(root, &child, staged, folders)?;
            if !folders.contains(child.as_path()) {
                fs::remove_dir(&path).map_err(io_err("remove folder", &path))?;
            }
        } else if !staged.contains(&child) {
            fs::remove_file(&path).map_err(io_err("remove", &path))?;
        }
    }
    Ok(())
}

/// Files below `previous/rel` that the new tree does not have; top-level carried-over entries
/// excluded.
fn count_removed(
    previous: &Path,
    staged: &HashSet<PathBuf>,
    rel: &Path,
) -> Result<usize, SiteError> {
    let dir = previous.join(rel);
    let mut removed = 0;
    for entry in fs::read_dir(&dir).map_err(io_err("read folder", &dir))? {
        let entry = entry.map_err(io_err("read folder", &dir))?;
        if is_carried_over(rel, &entry) {
            continue;
        }
        let child = rel.join(entry.file_name());
        let is_dir = entry
            .file_type()
            .map_err(io_err("read", &entry.path()))?
            .is_dir();
        if is_dir {
            removed += count_removed(previous, staged, &child)?;
        } else if !staged.contains(&child) {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Moves the staged tree into place and returns where the replaced tree is now (to be recycled).
/// On failure everything is put back as it was.
fn swap(
    output: &Path,
    staged: &Path,
    previous: Option<&Path>,
    output_exists: bool,
    leftovers: &Leftovers,
) -> Result<Option<PathBuf>, SiteError> {
    // Where the platform can, the two trees trade places in one atomic step, so `output/` is
    // never missing, not even for a moment, not even if the process dies mid-swap.
    if output_exists {
        if let Some(replaced) = exchange_with_output(output, staged, leftovers)? {
            return Ok(Some(replaced));
        }
    }

    // 1. Move the published tree aside (when there is one in place).
    let old = if output_exists {
        Some(move_aside(output)?)
    } else {
        None
    };
    let undo_aside = |moved: &[(PathBuf, PathBuf)]| {
        for (from, to) in moved.iter().rev() {
            let _ = fs::rename(to, from);
        }
        if let Some(old) = &old {
            let _ = fs::rename(old, output);
        }
    };
    // Where the previous tree is now: the renamed output, or a recovered old tree.
    let previous_now: Option<PathBuf> = old.clone().or_else(|| previous.map(Path::to_path_buf));

    // 2. Carry `.git` and `.gitkeep` over.
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    for entry in CARRIED_OVER {
        let carried = carry_over(
            entry,
            staged,
            previous_now.as_deref(),
            output_exists,
            leftovers,
        );
        match carried {
            Ok(Some(step)) => moved.push(step),
            Ok(None) => {}
            Err(error) => {
                undo_aside(&moved);
                return Err(error);
            }
        }
    }

    // 3. Put the new tree in place.
    if let Err(error) = fs::rename(staged, output) {
        undo_aside(&moved);
        return Err(SiteError::Io {
            action: "move the new site into",
            path: output.to_path_buf(),
            error,
        });
    }
    Ok(previous_now)
}

/// The target of `output` when it is a symbolic link; `None` when it is not one (or is missing).
fn resolve_output_link(output: &Path) -> Result<Option<PathBuf>, SiteError> {
    match fs::symlink_metadata(output) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(output)
            .map(Some)
            .map_err(io_err("follow the output folder's link", output)),
        _ => Ok(None),
    }
}

/// Carries `.git`/`.gitkeep` over from the output in place and swaps the staged tree with it
/// atomically (`renameat2(RENAME_EXCHANGE)`). Returns where the replaced tree is now (the staged
/// path), or `None`, with nothing changed, where the platform or file system cannot exchange.
fn exchange_with_output(
    output: &Path,
    staged: &Path,
    leftovers: &Leftovers,
) -> Result<Option<PathBuf>, SiteError> {
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    let undo = |moved: &[(PathBuf, PathBuf)]| {
        for (from, to) in moved.iter().rev() {
            let _ = fs::rename(to, from);
        }
    };
    for entry in CARRIED_OVER {
        match carry_over(entry, staged, Some(output), true, leftovers) {
            Ok(Some(step)) => moved.push(step),
            Ok(None) => {}
            Err(error) => {
                undo(&moved);
                return Err(error);
            }
        }
    }
    match exchange(staged, output) {
        Ok(()) => Ok(Some(staged.to_path_buf())),
        Err(error) if exchange_unsupported(&error) => {
            undo(&moved);
            Ok(None)
        }
        Err(error) => {
            undo(&moved);
            Err(SiteError::Io {
                action: "swap the new site into",
                path: output.to_path_buf(),
                error,
            })
        }
    }
}

/// Kernels or file systems without `RENAME_EXCHANGE` answer EINVAL (or ENOSYS): reported as
/// `Unsupported`, so the caller swaps with plain renames instead.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    #[cfg(test)]
    if tests::PLAIN_RENAMES.with(std::cell::Cell::get) {
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    use rustix::io::Errno;
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(|errno| match errno {
        Errno::INVAL | Errno::NOSYS => io::Error::from(io::ErrorKind::Unsupported),
        other => io::Error::from(other),
    })
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

fn exchange_unsupported(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::Unsupported
}

/// Renames the output folder to a new `.<name>.old-XXXX` beside it and returns that path.
fn move_aside(output: &Path) -> Result<PathBuf, SiteError> {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let suffix = format!("{}-{nanos}", std::process::id());
    let old = output.with_file_name(format!(".{name}.old-{suffix}"));
    if fs::symlink_metadata(&old).is_ok() {
        let error = io::Error::new(io::ErrorKind::AlreadyExists, "already exists");
        return Err(SiteError::Io {
            action: "move the output folder to",
            path: old,
            error,
        });
    }
    fs::rename(output, &old).map_err(io_err("move the output folder aside to", &old))?;
    Ok(old)
}

/// Moves `entry` (`.git`, `.gitkeep`) from the previous tree into the staged one and returns the
/// move (to undo it). Whatever the spare had there is stale when the previous tree has its own
/// or the published output has none; when the output is missing (a crash during the swap) the
/// spare's or a crashed staging tree's is the one to keep.
fn carry_over(
    entry: &str,
    staged: &Path,
    previous: Option<&Path>,
    output_exists: bool,
    leftovers: &Leftovers,
) -> Result<Option<(PathBuf, PathBuf)>, SiteError> {
    let target = staged.join(entry);
    let in_spare = fs::symlink_metadata(&target).is_ok();
    let in_previous = previous
        .map(|p| p.join(entry))
        .filter(|p| fs::symlink_metadata(p).is_ok());
    let source = match in_previous {
        Some(source) => Some(source),
        None if output_exists || in_spare => None,
        None => leftovers.staged_entry(entry),
    };
    let stale = in_spare && (source.is_some() || output_exists);
    if stale {
        clear(&target).map_err(io_err("remove", &target))?;
    }
    let Some(source) = source else {
        return Ok(None);
    };
    fs::rename(&source, &target).map_err(|error| SiteError::Io {
        action: "carry over",
        path: source.clone(),
        error,
    })?;
    Ok(Some((source, target)))
}

/// Keeps the replaced tree as the next build's spare. The site is already published, so failing
/// here only warns (and the tree is deleted, or left for the next build to clean up).
fn recycle(replaced: &Path, spare: &Path) {
    if let Err(error) = fs::rename(replaced, spare) {
        tracing::warn!(path = %replaced.display(), %error, "cannot keep the replaced output as the spare");
        if let Err(error) = fs::remove_dir_all(replaced) {
            tracing::warn!(path = %replaced.display(), %error, "cannot delete the replaced output");
        }
    }
}

/// Old and staging trees left beside the output folder by builds that crashed (staging trees
/// only by versions that staged into a fresh folder).
struct Leftovers {
    old: Vec<PathBuf>,
    staging: Vec<PathBuf>,
}

impl Leftovers {
    fn scan(parent: &Path, name: &str) -> Result<Leftovers, SiteError> {
        let old_prefix = format!(".{name}.old-");
        let staging_prefix = format!(".{name}.staging-");
        let mut leftovers = Leftovers {
            old: Vec::new(),
            staging: Vec::new(),
        };
        for entry in fs::read_dir(parent).map_err(io_err("read folder", parent))? {
            let entry = entry.map_err(io_err("read folder", parent))?;
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                continue;
            };
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if file_name.starts_with(&old_prefix) {
                leftovers.old.push(entry.path());
            } else if file_name.starts_with(&staging_prefix) {
                leftovers.staging.push(entry.path());
            }
        }
        Ok(leftovers)
    }

    /// The most recently modified old tree.
    fn newest_old(&self) -> Option<PathBuf> {
        self.old
            .iter()
            .filter_map(|p| Some((fs::metadata(p).ok()?.modified().ok()?, p)))
            .max()
            .map(|(_, p)| p.clone())
    }

    /// `entry` in a crashed build's staging tree, if one has it.
    fn staged_entry(&self, entry: &str) -> Option<PathBuf> {
        self.staging
            .iter()
            .map(|s| s.join(entry))
            .find(|p| fs::symlink_metadata(p).is_ok())
    }

    /// Takes one of them out of the list (to be recycled as the spare instead of deleted).
    fn take_one(&mut self) -> Option<PathBuf> {
        self.old.pop().or_else(|| self.staging.pop())
    }

    /// Deletes them all (after a successful build). One that is gone was recovered as the
    /// previous output and is the spare now.
    fn remove(&self) {
        for path in self.old.iter().chain(&self.staging) {
            let result = fs::remove_dir_all(path);
            if let Err(error) = result.or_else(ignore_not_found) {
                tracing::warn!(path = %path.display(), %error, "cannot delete a leftover build folder");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::site::fixtures::{default_theme, profile, site_info, theme};
    use crate::site::SiteInfo;

    struct Fixture {
        _root: tempfile::TempDir,
        parent: PathBuf,
        settings: SiteSettings,
        renderer: Renderer,
    }

    fn fixture() -> Fixture {
        let root = tempfile::tempdir().unwrap();
        let parent = root.path().join("public");
        let settings = SiteSettings {
            output_dir: parent.join("output"),
            cname: None,
        };
        let renderer = Renderer::new(&default_theme(), site_info()).unwrap();
        Fixture {
            _root: root,
            parent,
            settings,
            renderer,
        }
    }

    impl Fixture {
        fn build(&self, profiles: Vec<Profile>) -> Result<SiteReport, SiteError> {
            build_site(&self.settings, &self.renderer, profiles.into_iter().map(Ok))
        }

        fn output(&self) -> &Path {
            &self.settings.output_dir
        }

        /// `static/style.<hash>.css`.
        fn style(&self) -> String {
            let asset = self.renderer.assets().get("style.css").unwrap();
            format!("static/{}", asset.hashed_name)
        }

        fn spare(&self) -> PathBuf {
            self.parent.join(".output.spare")
        }

        /// Names in the output's parent folder: only `output` after a first build, and the spare
        /// after the next ones.
        fn siblings(&self) -> Vec<String> {
            let mut names: Vec<_> = fs::read_dir(&self.parent)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    /// Every file below `dir` (relative path → content), following nothing.
    fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
            for entry in fs::read_dir(dir).unwrap() {
                let entry = entry.unwrap();
                let name = format!("{rel}{}", entry.file_name().to_string_lossy());
                if entry.file_type().unwrap().is_dir() {
                    walk(&entry.path(), &format!("{name}/"), out);
                } else {
                    out.insert(name, fs::read(entry.path()).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(dir, "", &mut out);
        out
    }

    fn mtimes(dir: &Path) -> BTreeMap<String, SystemTime> {
        tree(dir)
            .into_keys()
            .map(|rel| {
                let mtime = fs::metadata(dir.join(&rel)).unwrap().modified().unwrap();
                (rel, mtime)
            })
            .collect()
    }

    /// Sets every file's mtime to a fixed point in the past, so "unchanged" can be checked exactly.
    fn age(dir: &Path) -> SystemTime {
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        for rel in tree(dir).into_keys() {
            fs::File::options()
                .write(true)
                .open(dir.join(rel))
                .unwrap()
                .set_modified(past)
                .unwrap();
        }
        past
    }

    /// The output's parent folder after a build that replaced an output.
    const WITH_SPARE: [&str; 2] = [".output.spare", "output"];

    /// Files of a build of [`people`]: 2 × (page, json, vanity URL), index, 404, sitemap,
    /// robots.txt, .nojekyll, style.css.
    const ALL_FILES: usize = 12;

    const A: u64 = 80351110224678912;
    const B: u64 = 175928847299117063;

    fn people() -> Vec<Profile> {
        vec![profile(A, "Nelly"), profile(B, "Alice")]
    }

    #[test]
    fn writes_the_expected_tree() {
        let f = fixture();
        let report = f.build(people()).unwrap();
        let files: Vec<_> = tree(f.output()).into_keys().collect();
        let style = f.style();
        assert!(style.starts_with("static/style.") && style.ends_with(".css"));
        assert_eq!(
            files,
            [
                ".nojekyll",
                MARKER,
                "404.html",
                "alice/index.html",
                "index.html",
                "nelly/index.html",
                "robots.txt",
                "sitemap.xml",
                &style,
                &format!("u/{B}.json"),
                &format!("u/{B}/index.html"),
                &format!("u/{A}.json"),
                &format!("u/{A}/index.html")
            ]
        );
        assert_eq!(
            report,
            SiteReport {
                pages_written: ALL_FILES,
                pages_unchanged: 0,
                files_removed: 0
            }
        );
        assert_eq!(f.siblings(), ["output"]);

        let index = fs::read_to_string(f.output().join("index.html")).unwrap();
        let (alice, nelly) = (index.find("Alice").unwrap(), index.find("Nelly").unwrap());
        assert!(alice < nelly, "index is sorted by display name");
        let page = fs::read_to_string(f.output().join(format!("u/{A}/index.html"))).unwrap();
        assert!(page.contains("<bdi>Nelly</bdi>"));
        assert_eq!(
            fs::read(f.output().join(&style)).unwrap(),
            fs::read(default_theme().join("static/style.css")).unwrap()
        );
        assert!(page.contains(&format!("href=\"/{style}\"")), "{page}");
    }

    thread_local! {
        /// Makes this thread's builds swap with plain renames, as on systems without
        /// `RENAME_EXCHANGE`, so that path stays tested too.
        pub(super) static PLAIN_RENAMES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    #[test]
    fn without_an_atomic_exchange_plain_renames_give_the_same_result() {
        PLAIN_RENAMES.with(|plain| plain.set(true));
        let f = fixture();
        f.build(people()).unwrap();
        let past = age(f.output());
        let before = tree(f.output());
        let report = f.build(people()).unwrap();
        assert_eq!(report.pages_written, 0);
        assert_eq!(tree(f.output()), before);
        assert!(mtimes(f.output()).values().all(|m| *m == past));
        assert_eq!(f.siblings(), WITH_SPARE);
        let report = f.build(vec![profile(A, "Nelly")]).unwrap();
        assert!(report.files_removed > 0);
        assert!(!f.output().join(format!("u/{B}")).exists());
        PLAIN_RENAMES.with(|plain| plain.set(false));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_output_folder_is_updated_where_it_points() {
        let f = fixture();
        let www = f.parent.join("www");
        fs::create_dir_all(&www).unwrap();
        std::os::unix::fs::symlink(&www, f.output()).unwrap();
        f.build(people()).unwrap();
        f.build(vec![profile(A, "Nelly")]).unwrap();
        let meta = fs::symlink_metadata(f.output()).unwrap();
        assert!(meta.file_type().is_symlink(), "the link stays a link");
        assert!(www.join(format!("u/{A}/index.html")).is_file());
        assert!(
            !www.join(format!("u/{B}")).exists(),
            "the target follows every build"
        );

        let dangling = f.parent.join("gone");
        fs::remove_file(f.output()).unwrap();
        std::os::unix::fs::symlink(&dangling, f.output()).unwrap();
        let error = f.build(people()).unwrap_err().to_string();
        assert!(error.contains("link"), "{error}");
    }

    #[test]
    fn an_identical_build_changes_nothing() {
        let f = fixture();
        f.build(people()).unwrap();
        let past = age(f.output());
        let before = tree(f.output());

        let report = f.build(people()).unwrap();
        assert_eq!(
            report,
            SiteReport {
                pages_written: 0,
                pages_unchanged: ALL_FILES,
                files_removed: 0
            }
        );
        assert_eq!(tree(f.output()), before);
        assert!(
            mtimes(f.output()).values().all(|m| *m == past),
            "{:?}",
            mtimes(f.output())
        );
        assert_eq!(
            f.siblings(),
            WITH_SPARE,
            "the replaced tree is kept as the spare"
        );
    }

    #[test]
    fn only_changed_pages_are_rewritten() {
        let f = fixture();
        f.build(people()).unwrap();
        let past = age(f.output());

        let report = f
            .build(vec![profile(A, "Nelly"), profile(B, "Alicia")])
            .unwrap();
        // Alice's page, JSON and vanity URL (now `alicia/`) and the index changed.
        assert_eq!(
            report,
            SiteReport {
                pages_written: 4,
                pages_unchanged: ALL_FILES - 4,
                files_removed: 1
            }
        );
        let mtimes = mtimes(f.output());
        for unchanged in [
            format!("u/{A}/index.html"),
            format!("u/{A}.json"),
            "nelly/index.html".into(),
            f.style(),
            "sitemap.xml".into(),
            "404.html".into(),
        ] {
            assert_eq!(mtimes[&unchanged], past, "{unchanged}");
        }
        for changed in [
            format!("u/{B}/index.html"),
            format!("u/{B}.json"),
            "alicia/index.html".into(),
            "index.html".into(),
        ] {
            assert_ne!(mtimes[&changed], past, "{changed}");
        }
        assert!(!mtimes.contains_key("alice/index.html"));
    }

    #[test]
    fn removed_users_disappear() {
        let f = fixture();
        f.build(people()).unwrap();
        fs::write(f.output().join("stray.txt"), "not ours").unwrap();

        let report = f.build(vec![profile(A, "Nelly")]).unwrap();
        // Written: index and sitemap. Removed: Alice's page, JSON, vanity URL, and the stray.
        assert_eq!(
            report,
            SiteReport {
                pages_written: 2,
                pages_unchanged: ALL_FILES - 5,
                files_removed: 4
            }
        );
        assert!(!f.output().join(format!("u/{B}")).exists());
        assert!(!f.output().join(format!("u/{B}.json")).exists());
        assert!(!f.output().join("alice").exists());
        assert!(f.output().join("nelly/index.html").is_file());
        assert!(!f.output().join("stray.txt").exists());
        for file in ["index.html", "sitemap.xml"] {
            let text = fs::read_to_string(f.output().join(file)).unwrap();
            assert!(
                !text.contains("Alice") && !text.contains(&B.to_string()),
                "{text}"
            );
        }

        let report = f.build(vec![]).unwrap();
        assert_eq!(report.files_removed, 3);
        assert!(!f.output().join("u").exists());
        assert!(!f.output().join("nelly").exists());
    }

    #[test]
    fn a_failing_render_leaves_the_previous_output_intact() {
        let f = fixture();
        f.build(people()).unwrap();
        let before = tree(f.output());
        let past = age(f.output());

        let broken = theme(&[(
            "profile.html",
            "{% if profile.display_name == \"Alice\" %}\n{{ profile.oops }}\n{% endif %}",
        )]);
        let renderer = Renderer::new(broken.path(), site_info()).unwrap();
        let err = build_site(&f.settings, &renderer, people().into_iter().map(Ok)).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, SiteError::Render { .. }), "{err:?}");
        assert!(message.contains(&format!("u/{B}/")), "{message}");
        assert!(message.contains("profile.html:2"), "{message}");

        assert_eq!(tree(f.output()), before);
        assert!(mtimes(f.output()).values().all(|m| *m == past));
        assert_eq!(
            f.siblings(),
            WITH_SPARE,
            "the spare is kept for the next build"
        );
    }

    #[test]
    fn git_checkout_is_carried_over() {
        let f = fixture();
        fs::create_dir_all(f.output().join(".git/refs")).unwrap();
        fs::write(f.output().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::write(f.output().join(".gitkeep"), "").unwrap();

        let report = f.build(people()).unwrap();
        assert_eq!(report.files_removed, 0);
        let report = f.build(people()).unwrap();
        assert_eq!(
            report,
            SiteReport {
                pages_written: 0,
                pages_unchanged: ALL_FILES,
                files_removed: 0
            }
        );
        assert_eq!(
            fs::read_to_string(f.output().join(".git/HEAD")).unwrap(),
            "ref: refs/heads/main\n"
        );
        assert!(f.output().join(".git/refs").is_dir());
        assert!(f.output().join(".gitkeep").is_file());
        assert!(!f.spare().join(".git").exists());
        assert_eq!(f.siblings(), WITH_SPARE);
    }

    #[test]
    fn recovers_from_a_crash_between_the_renames() {
        let f = fixture();
        fs::create_dir_all(f.output().join(".git")).unwrap();
        fs::write(f.output().join(".git/HEAD"), "x").unwrap();
        f.build(people()).unwrap();
        let past = age(f.output());
        // Crash after "output → old", before "staging → output".
        fs::rename(f.output(), f.parent.join(".output.old-crashed")).unwrap();
        fs::create_dir(f.parent.join(".output.staging-crashed")).unwrap();

        let report = f.build(people()).unwrap();
        assert_eq!(
            report,
            SiteReport {
                pages_written: 0,
                pages_unchanged: ALL_FILES,
                files_removed: 0
            }
        );
        assert!(
            mtimes(f.output()).values().filter(|m| **m != past).count() <= 1,
            "only .git/HEAD was not aged"
        );
        assert_eq!(
            fs::read_to_string(f.output().join(".git/HEAD")).unwrap(),
            "x"
        );
        assert_eq!(
            f.siblings(),
            WITH_SPARE,
            "leftovers are cleaned up, the recovered tree is the spare"
        );
    }

    #[test]
    fn recovers_git_from_a_crashed_staging_tree() {
        let f = fixture();
        f.build(people()).unwrap();
        // Crash after `.git` moved into staging, before staging → output.
        fs::rename(f.output(), f.parent.join(".output.old-crashed")).unwrap();
        fs::create_dir_all(f.parent.join(".output.staging-crashed/.git")).unwrap();
        fs::write(f.parent.join(".output.staging-crashed/.git/HEAD"), "y").unwrap();

        f.build(people()).unwrap();
        assert_eq!(
            fs::read_to_string(f.output().join(".git/HEAD")).unwrap(),
            "y"
        );
        assert_eq!(f.siblings(), WITH_SPARE);
    }

    /// Every folder below `dir`, relative.
    fn folders(dir: &Path) -> Vec<String> {
        walkdir::WalkDir::new(dir)
            .min_depth(1)
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_dir())
            .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
            .collect()
    }

    fn same_inode(a: &Path, b: &Path) -> bool {
        same_file::is_same_file(a, b).unwrap()
    }

    #[test]
    fn recycled_spares_keep_unchanged_files_mtimes_and_inodes() {
        let f = fixture();
        f.build(people()).unwrap();
        f.build(people()).unwrap();
        let past = age(f.output());
        let page = format!("u/{A}/index.html");
        let published = fs::File::open(f.output().join(&page)).unwrap();

        for _ in 0..3 {
            let report = f.build(people()).unwrap();
            assert_eq!(report.pages_written, 0, "{report:?}");
            assert!(mtimes(f.output()).values().all(|m| *m == past));
            assert!(
                same_file::Handle::from_path(f.output().join(&page)).unwrap()
                    == same_file::Handle::from_file(published.try_clone().unwrap()).unwrap()
            );
            assert_eq!(f.siblings(), WITH_SPARE);
        }

        // A change after several recyclings rewrites only what changed.
        let report = f
            .build(vec![profile(A, "Nelly"), profile(B, "Alicia")])
            .unwrap();
        assert_eq!(report.pages_written, 4, "{report:?}");
        let mtimes = mtimes(f.output());
        assert_eq!(mtimes[&page], past);
        assert_eq!(mtimes[".nojekyll"], past);
        assert_ne!(mtimes[&format!("u/{B}/index.html")], past);
        assert!(!f.output().join("alice").exists());
        let fresh = fixture();
        fresh
            .build(vec![profile(A, "Nelly"), profile(B, "Alicia")])
            .unwrap();
        assert_eq!(
            tree(f.output()),
            tree(fresh.output()),
            "same tree as a build from scratch"
        );
    }

    #[test]
    fn a_spare_file_linked_to_a_published_one_is_never_written_into() {
        let f = fixture();
        let plain = theme(&[]);
        let renderer = Renderer::new(plain.path(), site_info()).unwrap();
        let build = |r: &Renderer| build_site(&f.settings, r, people().into_iter().map(Ok));
        build(&renderer).unwrap();
        build(&renderer).unwrap();
        let page = format!("u/{A}/index.html");
        assert!(
            same_inode(&f.output().join(&page), &f.spare().join(&page)),
            "the spare shares the unchanged page with the output"
        );
        let before = tree(f.output());
        let past = age(f.output());

        // Every profile page changes, then the index fails: the build never swaps.
        let changed = theme(&[
            ("profile.html", "changed {{ profile.display_name }}"),
            ("index.html", "{{ profile.oops.oops }}"),
        ]);
        let renderer = Renderer::new(changed.path(), site_info()).unwrap();
        let err = build(&renderer).unwrap_err();
        assert!(matches!(err, SiteError::Render { .. }), "{err:?}");

        assert_eq!(tree(f.output()), before, "the published site is untouched");
        assert!(mtimes(f.output()).values().all(|m| *m == past));
        let staged = fs::read_to_string(f.spare().join(&page)).unwrap();
        assert_eq!(
            staged, "changed Nelly",
            "the new page was staged at that path"
        );
        assert!(!same_inode(&f.output().join(&page), &f.spare().join(&page)));
        assert_eq!(f.siblings(), WITH_SPARE);

        // The next good build reconciles the spare from the published site.
        let report = build(&Renderer::new(plain.path(), site_info()).unwrap()).unwrap();
        assert_eq!(report.pages_written, 0, "{report:?}");
        assert_eq!(tree(f.output()), before);
        assert!(mtimes(f.output()).values().all(|m| *m == past));
    }

    #[test]
    fn a_foreign_spare_is_reconciled() {
        let f = fixture();
        f.build(people()).unwrap();
        let before = tree(f.output());
        let past = age(f.output());
        let outside = f.parent.join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("keep.txt"), "mine").unwrap();

        let spare = f.spare();
        fs::create_dir_all(spare.join("deep/er/still")).unwrap();
        fs::write(spare.join("deep/er/still/x"), "x").unwrap();
        fs::write(spare.join("stray.txt"), "stray").unwrap();
        fs::write(spare.join("u"), "a file where a folder belongs").unwrap();
        fs::write(spare.join("nelly"), "another one").unwrap();
        fs::create_dir_all(spare.join("index.html/inside")).unwrap();
        fs::write(
            spare.join("index.html/inside/y"),
            "a folder where a file belongs",
        )
        .unwrap();
        fs::write(spare.join(".git"), "a stale .git the output does not have").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&outside, spare.join("static")).unwrap();

        let report = f.build(people()).unwrap();
        assert_eq!(
            report,
            SiteReport {
                pages_written: 0,
                pages_unchanged: ALL_FILES,
                files_removed: 0
            }
        );
        assert_eq!(tree(f.output()), before);
        assert!(mtimes(f.output()).values().all(|m| *m == past));
        assert!(!f.output().join(".git").exists());
        assert_eq!(
            tree(&outside).len(),
            1,
            "nothing was written through the link"
        );
        assert_eq!(
            fs::read_to_string(outside.join("keep.txt")).unwrap(),
            "mine"
        );

        // A spare that is a file, or a link to a folder, is replaced by a folder.
        fs::remove_dir_all(f.spare()).unwrap();
        fs::write(f.spare(), "not a folder").unwrap();
        f.build(people()).unwrap();
        fs::remove_dir_all(f.spare()).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&outside, f.spare()).unwrap();
        f.build(people()).unwrap();
        assert_eq!(tree(f.output()), before);
        assert_eq!(tree(&outside).len(), 1);
        assert!(f.spare().is_dir() && !f.spare().is_symlink());
    }

    #[test]
    fn removed_users_folders_are_gone_from_recycled_trees() {
        let f = fixture();
        f.build(people()).unwrap();
        f.build(people()).unwrap();
        let alice = [format!("u/{B}"), format!("u/{B}.json"), "alice".into()];

        for _ in 0..2 {
            f.build(vec![profile(A, "Nelly")]).unwrap();
            for gone in &alice {
                assert!(!f.output().join(gone).exists(), "{gone}");
            }
            assert!(f.output().join("nelly/index.html").is_file());
        }
        for _ in 0..2 {
            f.build(vec![]).unwrap();
            let mut left = folders(f.output());
            left.sort();
            assert_eq!(left, ["static"], "no empty folders are published");
            assert!(folders(&f.spare()).len() <= 1 + 2 + 2, "pruned too");
        }
    }

    #[test]
    fn a_leftover_old_tree_becomes_the_spare() {
        let f = fixture();
        f.build(people()).unwrap();
        f.build(people()).unwrap();
        let past = age(f.output());
        // Crash after the new tree went in place, before the old one became the spare.
        fs::rename(f.spare(), f.parent.join(".output.old-crashed")).unwrap();

        let report = f.build(people()).unwrap();
        assert_eq!(report.pages_written, 0, "{report:?}");
        assert!(mtimes(f.output()).values().all(|m| *m == past));
        assert_eq!(f.siblings(), WITH_SPARE);
    }

    #[test]
    fn recovers_git_moved_into_the_spare() {
        let f = fixture();
        fs::create_dir_all(f.output().join(".git")).unwrap();
        fs::write(f.output().join(".git/HEAD"), "z").unwrap();
        f.build(people()).unwrap();
        f.build(people()).unwrap();
        // Crash after `.git` moved into the spare, before the spare → output.
        let old = f.parent.join(".output.old-crashed");
        fs::rename(f.output(), &old).unwrap();
        fs::rename(old.join(".git"), f.spare().join(".git")).unwrap();

        let report = f.build(people()).unwrap();
        assert_eq!(report.pages_written, 0, "{report:?}");
        assert_eq!(
            fs::read_to_string(f.output().join(".git/HEAD")).unwrap(),
            "z"
        );
        assert_eq!(f.siblings(), WITH_SPARE);
    }

    #[test]
    fn every_output_is_marked_as_strife_gens_and_the_marker_is_not_a_page() {
        let f = fixture();
        let report = f.build(people()).unwrap();
        assert_eq!(report.pages_written, ALL_FILES, "{report:?}");
        assert_eq!(read(&f, MARKER), MARKER_TEXT);
        let report = f.build(people()).unwrap();
        assert_eq!(report.pages_unchanged, ALL_FILES, "{report:?}");
        assert_eq!(read(&f, MARKER), MARKER_TEXT);
    }

    #[test]
    fn a_folder_strife_gen_did_not_write_is_never_replaced() {
        let f = fixture();
        fs::create_dir_all(f.output().join("photos")).unwrap();
        fs::write(f.output().join("notes.txt"), "mine").unwrap();
        fs::write(f.output().join("photos/cat.jpg"), "meow").unwrap();
        let before = tree(f.output());
        let check = |f: &Fixture, before: &BTreeMap<String, Vec<u8>>| {
            let err = f.build(people()).unwrap_err();
            assert!(matches!(err, SiteError::ForeignOutput { .. }), "{err:?}");
            let message = err.to_string();
            for part in [
                &f.output().display().to_string(),
                "notes.txt",
                "photos",
                MARKER,
                "remove it",
                "site.output_dir",
            ] {
                assert!(message.contains(part), "{part}: {message}");
            }
            assert_eq!(&tree(f.output()), before, "nothing in it changed");
            assert_eq!(f.siblings(), ["output"], "nothing was staged beside it");
        };
        check(&f, &before);

        // Lookalikes of an old strife-gen output: the names are right, the content hash is not.
        fs::write(f.output().join(".nojekyll"), "").unwrap();
        fs::create_dir_all(f.output().join("static")).unwrap();
        fs::write(f.output().join("static/style.css"), "body{}").unwrap();
        fs::write(f.output().join("static/app.3f2a9c1b.js"), "x").unwrap();
        fs::write(f.output().join("index.html"), "<h1>my site</h1>").unwrap();
        check(&f, &tree(f.output()));
    }

    #[test]
    fn an_empty_output_folder_or_a_fresh_clones_is_used() {
        let f = fixture();
        fs::create_dir_all(f.output()).unwrap();
        f.build(people()).unwrap();
        assert_eq!(read(&f, MARKER), MARKER_TEXT);

        let f = fixture();
        fs::create_dir_all(f.output().join(".git")).unwrap();
        fs::write(f.output().join(".gitkeep"), "").unwrap();
        f.build(people()).unwrap();
        assert!(f.output().join(".gitkeep").is_file() && f.output().join(".git").is_dir());
        assert_eq!(read(&f, MARKER), MARKER_TEXT);
    }

    #[test]
    fn an_output_written_before_markers_existed_is_replaced() {
        let f = fixture();
        f.build(people()).unwrap();
        // What the previous version left: the same tree without the marker.
        fs::remove_file(f.output().join(MARKER)).unwrap();
        fs::write(f.output().join("stray.txt"), "x").unwrap();

        let report = f.build(vec![profile(A, "Nelly")]).unwrap();
        assert!(report.files_removed > 0, "{report:?}");
        assert_eq!(read(&f, MARKER), MARKER_TEXT);
        assert!(!f.output().join("stray.txt").exists());
        assert!(!f.output().join(format!("u/{B}")).exists());

        // Without its .nojekyll, the same tree is not recognised.
        fs::remove_file(f.output().join(MARKER)).unwrap();
        fs::remove_file(f.output().join(".nojekyll")).unwrap();
        let err = f.build(people()).unwrap_err();
        assert!(matches!(err, SiteError::ForeignOutput { .. }), "{err:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_output_folder_pointing_at_foreign_files_is_refused() {
        let f = fixture();
        let www = f.parent.join("www");
        fs::create_dir_all(&www).unwrap();
        fs::write(www.join("index.php"), "<?php").unwrap();
        std::os::unix::fs::symlink(&www, f.output()).unwrap();
        let err = f.build(people()).unwrap_err();
        assert!(matches!(err, SiteError::ForeignOutput { .. }), "{err:?}");
        assert_eq!(tree(&www).len(), 1);
    }

    #[test]
    fn first_build_creates_missing_folders() {
        let f = fixture();
        assert!(!f.parent.exists());
        f.build(vec![]).unwrap();
        assert!(f.output().join("index.html").is_file());
    }

    #[test]
    fn bad_profiles_fail_the_build() {
        let f = fixture();
        let err = f
            .build(vec![profile(A, "Nelly"), profile(A, "Nelly again")])
            .unwrap_err();
        assert!(matches!(err, SiteError::DuplicateProfile(_)), "{err:?}");
        let mut p = profile(A, "Nelly");
        p.id = "../../etc".into();
        let err = f.build(vec![p]).unwrap_err();
        assert!(matches!(err, SiteError::InvalidProfileId(_)), "{err:?}");
        assert!(!f.output().exists());
        assert_eq!(
            f.siblings(),
            [".output.spare"],
            "only the spare, never served"
        );
    }

    #[test]
    fn an_output_that_is_a_file_is_an_error_naming_it() {
        let f = fixture();
        fs::create_dir_all(&f.parent).unwrap();
        fs::write(f.output(), "file").unwrap();
        let err = f.build(vec![]).unwrap_err();
        assert!(
            err.to_string().contains(&f.output().display().to_string()),
            "{err}"
        );
        assert_eq!(fs::read_to_string(f.output()).unwrap(), "file");
    }

    fn read(f: &Fixture, rel: &str) -> String {
        fs::read_to_string(f.output().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn entry(id: u64, name: &str, old_names: &[&str], changed_at: Option<i64>) -> ProfileEntry {
        ProfileEntry {
            profile: profile(id, name),
            old_names: old_names.iter().map(|n| n.to_string()).collect(),
            changed_at,
        }
    }

    fn build_entries(f: &Fixture, entries: Vec<ProfileEntry>) -> SiteReport {
        build_site(&f.settings, &f.renderer, entries.into_iter().map(Ok)).unwrap()
    }

    #[test]
    fn vanity_urls_redirect_to_the_stable_page() {
        let f = fixture();
        f.build(people()).unwrap();
        let html = read(&f, "nelly/index.html");
        assert!(
            html.contains(&format!(
                "<meta http-equiv=\"refresh\" content=\"0; url=/u/{A}/\">"
            )),
            "{html}"
        );
        assert!(
            html.contains(&format!(
                "<link rel=\"canonical\" href=\"https://people.example/u/{A}/\">"
            )),
            "{html}"
        );
        assert!(html.contains(&format!("<a href=\"/u/{A}/\">")), "{html}");
        assert!(!html.contains("moved"), "{html}");
    }

    #[test]
    fn a_renamed_user_keeps_their_old_vanity_url_as_a_redirect() {
        let f = fixture();
        build_entries(&f, vec![entry(A, "Nelly", &[], Some(100))]);
        let past = age(f.output());

        // Nelly is now "nell"; "nelly" redirects to her page and names her new URL.
        let renamed = || vec![entry(A, "Nell", &["nelly"], Some(200))];
        build_entries(&f, renamed());
        let html = read(&f, "nelly/index.html");
        assert!(html.contains(&format!("url=/u/{A}/")), "{html}");
        assert!(html.contains("moved to <a href=\"/nell/\">"), "{html}");
        assert!(read(&f, "nell/index.html").contains(&format!("url=/u/{A}/")));
        assert_ne!(mtimes(f.output())["nelly/index.html"], past);

        // Nothing changed: nothing is rewritten, redirects included.
        let past = age(f.output());
        let report = build_entries(&f, renamed());
        assert_eq!(report.pages_written, 0, "{report:?}");
        assert!(mtimes(f.output()).values().all(|m| *m == past));

        // Someone else is called "nelly" now: the URL is theirs, not a redirect to Nell.
        build_entries(
            &f,
            vec![
                entry(A, "Nell", &["nelly"], Some(200)),
                entry(B, "nelly", &[], None),
            ],
        );
        let html = read(&f, "nelly/index.html");
        assert!(html.contains(&format!("url=/u/{B}/")), "{html}");
        assert!(!html.contains("moved"), "{html}");

        // A user who leaves takes their former names with them.
        build_entries(&f, vec![entry(B, "Alice", &[], None)]);
        assert!(!f.output().join("nelly").exists());
        assert!(!f.output().join("nell").exists());
        assert!(f.output().join("alice/index.html").is_file());
    }

    #[test]
    fn colliding_names_go_to_the_older_account_whatever_the_order() {
        let f = fixture();
        let (older, newer) = (B.min(A), B.max(A));
        f.build(vec![profile(newer, "Twin"), profile(older, "Twin")])
            .unwrap();
        let first = tree(f.output());
        assert!(read(&f, "twin/index.html").contains(&format!("url=/u/{older}/")));
        f.build(vec![profile(older, "Twin"), profile(newer, "Twin")])
            .unwrap();
        assert_eq!(tree(f.output()), first, "the build is deterministic");
    }

    #[test]
    fn vanity_urls_never_shadow_the_sites_own_files() {
        let f = fixture();
        let f_style = f.style();
        let names = [
            "static",
            "U",
            "index.html",
            "sitemap.xml",
            "404.html",
            "robots.txt",
            "CNAME",
        ];
        let hostile = ["../../escape", "..", ".nojekyll", "a/b", "<script>x"];
        let profiles: Vec<Profile> = names
            .iter()
            .chain(&hostile)
            .enumerate()
            .map(|(i, name)| {
                let mut p = profile(1000 + i as u64, "x");
                p.username = (*name).to_owned();
                p
            })
            .collect();
        f.build(profiles).unwrap();
        let files: Vec<String> = tree(f.output()).into_keys().collect();
        let top: std::collections::BTreeSet<&str> =
            files.iter().map(|f| f.split('/').next().unwrap()).collect();
        assert_eq!(
            top.into_iter().collect::<Vec<_>>(),
            [
                ".nojekyll",
                MARKER,
                "404.html",
                "ab",
                "index.html",
                "robots.txt",
                "scriptx",
                "sitemap.xml",
                "static",
                "u"
            ]
        );
        assert!(files
            .iter()
            .all(|f| !f.starts_with("static/") || *f == f_style));
        assert!(read(&f, "sitemap.xml").starts_with("<?xml"));
        assert!(read(&f, "404.html").contains("Page not found"));
        assert_eq!(
            f.siblings(),
            ["output"],
            "nothing escaped the output folder"
        );
    }

    #[test]
    fn host_files() {
        let mut f = fixture();
        f.build(people()).unwrap();
        assert_eq!(read(&f, ".nojekyll"), "");
        assert!(!f.output().join("CNAME").exists());
        assert_eq!(
            read(&f, "robots.txt"),
            "User-agent: *\nDisallow:\n\nSitemap: https://people.example/sitemap.xml\n"
        );
        let not_found = read(&f, "404.html");
        assert!(
            not_found.contains(&format!("href=\"/{}\"", f.style())),
            "{not_found}"
        );
        assert!(not_found.contains("noindex"), "{not_found}");

        f.settings.cname = Some("people.example".into());
        let past = age(f.output());
        let report = f.build(people()).unwrap();
        assert_eq!(read(&f, "CNAME"), "people.example\n");
        assert_eq!(report.pages_written, 1, "only CNAME is new: {report:?}");
        assert_eq!(mtimes(f.output())[".nojekyll"], past);

        f.settings.cname = None;
        let report = f.build(people()).unwrap();
        assert_eq!(report.files_removed, 1);
        assert!(!f.output().join("CNAME").exists());
    }

    #[test]
    fn the_404_page_links_root_relative_under_a_path_prefix() {
        let mut f = fixture();
        let info = SiteInfo {
            title: "t".into(),
            base_url: url::Url::parse("https://x.example/people").unwrap(),
            service_url: None,
        };
        f.renderer = Renderer::new(&default_theme(), info).unwrap();
        f.build(people()).unwrap();
        let html = read(&f, "404.html");
        let links: Vec<&str> = html
            .split(['"'])
            .skip(1)
            .step_by(2)
            .filter(|v| v.starts_with('/') || v.starts_with("http") || v.contains(".css"))
            .collect();
        assert!(!links.is_empty(), "{html}");
        for link in links {
            assert!(link.starts_with("/people/"), "{link} in {html}");
        }
        assert!(read(&f, "robots.txt").contains("https://x.example/people/sitemap.xml"));
    }

    #[test]
    fn the_sitemap_is_well_formed_absolute_and_escaped() {
        let mut f = fixture();
        let base = url::Url::parse("https://people.example/a&b'c<d/").unwrap();
        let info = SiteInfo {
            title: "t".into(),
            base_url: base.clone(),
            service_url: None,
        };
        f.renderer = Renderer::new(&default_theme(), info).unwrap();
        let with_base = |mut e: ProfileEntry| {
            e.profile.url = crate::site::profile::page_url(&base, &e.profile.path);
            e
        };
        build_entries(
            &f,
            vec![
                with_base(entry(A, "Nelly", &["old"], Some(1_714_564_800))),
                with_base(entry(B, "Alice", &[], None)),
            ],
        );
        let xml = read(&f, "sitemap.xml");
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
        let ns = "http://www.sitemaps.org/schemas/sitemap/0.9";
        assert_eq!(doc.root_element().tag_name().name(), "urlset");
        assert_eq!(doc.root_element().tag_name().namespace(), Some(ns));
        let urls: Vec<(String, Option<String>)> = doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name((ns, "url")))
            .map(|url| {
                let text = |tag: &str| {
                    url.children()
                        .find(|n| n.has_tag_name((ns, tag)))
                        .and_then(|n| n.text())
                        .map(str::to_owned)
                };
                (text("loc").unwrap(), text("lastmod"))
            })
            .collect();
        let base = base.as_str();
        assert!(base.contains('&') && base.contains('\''), "{base}");
        assert_eq!(
            urls,
            [
                (base.to_owned(), Some("2024-05-01T12:00:00Z".to_owned())),
                (format!("{base}u/{B}/"), None),
                (
                    format!("{base}u/{A}/"),
                    Some("2024-05-01T12:00:00Z".to_owned())
                ),
            ]
        );
        assert!(!xml.contains("/old/"), "redirects are not in the sitemap");
    }

    #[test]
    fn json_holds_exactly_what_the_page_shows() {
        use crate::discord::cdn::Cdn;
        use crate::publish::Publish;
        use crate::site::fixtures::snapshot;

        let f = fixture();
        let publish = Publish {
            connections: true,
            guilds: false,
        };
        let p = Profile::build(
            &snapshot(A, "Nelly"),
            publish,
            &Cdn::discord(),
            &site_info().base_url,
        );
        f.build(vec![p.clone()]).unwrap();
        let text = read(&f, &format!("u/{A}.json"));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json, serde_json::to_value(&p).unwrap());
        assert_eq!(
            json["guilds"],
            serde_json::Value::Null,
            "servers not opted in"
        );
        for private in ["hidden", "unverified", "revoked", "Alpha", "beta", "zeta"] {
            assert!(!text.contains(private), "{private} leaked: {text}");
        }
        let page = read(&f, &format!("u/{A}/index.html"));
        for shown in ["octocat", "Gamer Tag", "Nelly", "2015-08-10"] {
            assert!(text.contains(shown) && page.contains(shown), "{shown}");
        }
    }
}
