//! Writing the site: a complete new tree is staged beside the output folder and swapped in only
//! when every page rendered, so readers (and `git`) never see a half-built site.
//!
//! A staged file whose bytes equal the file already published is replaced by a hard link to the
//! published one (a copy with the old modification time where links are not possible), so
//! unchanged pages keep their mtime and inode and `git diff` shows only real changes.
//!
//! The swap is two renames: `output` → `.output.old-XXXX`, then `.output.staging-XXXX` → `output`,
//! then the old tree is deleted. A build that finds no `output` but an old tree (a crash between
//! the renames) uses the newest old tree as the previous output. Leftover staging and old trees of
//! crashed builds are deleted after the next successful build, so only one build may run per
//! output folder at a time.
//!
//! `.git` and `.gitkeep` at the top of the output folder are moved into the new tree untouched, so
//! the output folder can be a git checkout. Anything else in the output folder that the build does
//! not produce is removed.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::iter::{ParallelBridge, ParallelIterator};

use super::profile::{page_path, Profile};
use super::render::{ProfileSummary, RenderError, Renderer};
use crate::discord::models::Snowflake;

/// Top-level entries of an existing output folder that are carried into every new tree.
const CARRIED_OVER: [&str; 2] = [".git", ".gitkeep"];

/// Where to write the site and which theme to copy static files from.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    pub output_dir: PathBuf,
    pub theme_dir: PathBuf,
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
/// failure to delete the replaced tree after a successful swap is only logged).
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
/// their content-hashed names in `static/`, into a fresh folder beside `output_dir` that replaces
/// it only when everything succeeded. On error the previous output is untouched and the staging
/// folder is removed.
pub fn build_site(
    settings: &SiteSettings,
    renderer: &Renderer,
    profiles: impl Iterator<Item = Result<Profile, SiteError>> + Send,
) -> Result<SiteReport, SiteError> {
    let output = settings.output_dir.as_path();
    let Some(name) = output.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Err(SiteError::BadOutputDir(output.to_path_buf()));
    };
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_err("create folder", &parent))?;

    let leftovers = Leftovers::scan(&parent, &name)?;
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
    let previous: Option<PathBuf> = if output_exists {
        Some(output.to_path_buf())
    } else {
        let recovered = leftovers.newest_old();
        if let Some(old) = &recovered {
            tracing::warn!(old = %old.display(), "output folder missing: recovering the previous build");
        }
        recovered
    };

    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.staging-"))
        .tempdir_in(&parent)
        .map_err(io_err("create staging folder in", &parent))?;
    let stage = Stage {
        root: staging.path(),
        previous: previous.as_deref(),
    };

    // Profile pages, in parallel.
    let seen = Mutex::new(HashSet::new());
    let pages: Vec<(ProfileSummary, Outcome)> = profiles
        .par_bridge()
        .map(|profile| {
            // A source that fails part-way means pages are missing: abandon the whole build.
            let profile = profile?;
            let id = Snowflake::parse(&profile.id)
                .ok_or_else(|| SiteError::InvalidProfileId(profile.id.clone()))?;
            if !seen.lock().unwrap_or_else(|e| e.into_inner()).insert(id) {
                return Err(SiteError::DuplicateProfile(profile.id.clone()));
            }
            let path = page_path(id.0);
            let html = renderer
                .render_profile(&profile)
                .map_err(|error| SiteError::Render {
                    page: path.clone(),
                    error,
                })?;
            let outcome = stage.put(&format!("{path}index.html"), html.as_bytes())?;
            let mut summary = ProfileSummary::from(&profile);
            summary.path = path;
            Ok((summary, outcome))
        })
        .collect::<Result<_, SiteError>>()?;

    let mut report = SiteReport::default();
    let mut summaries = Vec::with_capacity(pages.len());
    for (summary, outcome) in pages {
        report.count(outcome);
        summaries.push(summary);
    }
    summaries.sort_by_cached_key(|s| (s.display_name.to_lowercase(), s.id.len(), s.id.clone()));

    let index = renderer
        .render_index(&summaries)
        .map_err(|error| SiteError::Render {
            page: "index.html".into(),
            error,
        })?;
    report.count(stage.put("index.html", index.as_bytes())?);

    // The theme's static files, under their content-hashed names (see `site::assets`).
    for asset in renderer.assets().iter() {
        let rel = format!("static/{}", asset.hashed_name);
        report.count(stage.put(&rel, &asset.bytes)?);
    }

    if let Some(previous) = &previous {
        report.files_removed = count_removed(previous, staging.path(), Path::new(""))?;
    }

    swap(
        output,
        staging,
        previous.as_deref(),
        output_exists,
        &leftovers,
    )?;
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

impl SiteReport {
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

/// The tree being built, and the previous tree whose identical files are reused.
struct Stage<'a> {
    root: &'a Path,
    previous: Option<&'a Path>,
}

impl Stage<'_> {
    /// Writes `bytes` at `rel` (a `/`-separated relative path made by this module), reusing the
    /// previous file when its content is the same.
    fn put(&self, rel: &str, bytes: &[u8]) -> Result<Outcome, SiteError> {
        let target = self.root.join(rel);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir).map_err(io_err("create folder", dir))?;
        }
        if let Some(previous) = self.previous {
            let old = previous.join(rel);
            if same_content(&old, bytes) && reuse(&old, &target).is_ok() {
                return Ok(Outcome::Unchanged);
            }
        }
        fs::write(&target, bytes).map_err(io_err("write", &target))?;
        Ok(Outcome::Written)
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

/// Puts the previous file at `target` without touching the previous tree: a hard link, or a copy
/// that keeps the old modification time.
fn reuse(old: &Path, target: &Path) -> io::Result<()> {
    if fs::hard_link(old, target).is_ok() {
        return Ok(());
    }
    let modified = fs::metadata(old)?.modified()?;
    fs::copy(old, target)?;
    fs::File::options()
        .write(true)
        .open(target)?
        .set_modified(modified)
}

/// Files below `previous/rel` that do not exist in `new`; top-level carried-over entries excluded.
fn count_removed(previous: &Path, new: &Path, rel: &Path) -> Result<usize, SiteError> {
    let dir = previous.join(rel);
    let mut removed = 0;
    for entry in fs::read_dir(&dir).map_err(io_err("read folder", &dir))? {
        let entry = entry.map_err(io_err("read folder", &dir))?;
        let name = entry.file_name();
        if rel.as_os_str().is_empty() && CARRIED_OVER.iter().any(|c| name == *c) {
            continue;
        }
        let child = rel.join(&name);
        let is_dir = entry
            .file_type()
            .map_err(io_err("read", &entry.path()))?
            .is_dir();
        if is_dir {
            removed += count_removed(previous, new, &child)?;
        } else if fs::symlink_metadata(new.join(&child)).is_err() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Moves the staged tree into place. On failure everything is put back as it was.
fn swap(
    output: &Path,
    staging: tempfile::TempDir,
    previous: Option<&Path>,
    output_exists: bool,
    leftovers: &Leftovers,
) -> Result<(), SiteError> {
    let staged = staging.path().to_path_buf();
    let parent = staged.parent().unwrap_or(Path::new("."));
    let suffix = staged
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.rsplit_once(".staging-"))
        .map_or("x", |(_, s)| s)
        .to_owned();

    // 1. Move the published tree aside (when there is one in place).
    let old = if output_exists {
        let name = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let old = parent.join(format!(".{name}.old-{suffix}"));
        if fs::symlink_metadata(&old).is_ok() {
            let error = io::Error::new(io::ErrorKind::AlreadyExists, "already exists");
            return Err(SiteError::Io {
                action: "move the output folder to",
                path: old,
                error,
            });
        }
        fs::rename(output, &old).map_err(io_err("move the output folder aside to", &old))?;
        Some(old)
    } else {
        None
    };
    // Where the previous tree is now: the renamed output, or a recovered old tree.
    let previous_now: Option<PathBuf> = old.clone().or_else(|| previous.map(Path::to_path_buf));
    let undo_aside = |moved: &[(PathBuf, PathBuf)]| {
        for (from, to) in moved.iter().rev() {
            let _ = fs::rename(to, from);
        }
        if let Some(old) = &old {
            let _ = fs::rename(old, output);
        }
    };

    // 2. Carry `.git` and `.gitkeep` over (from a crashed build's staging tree if need be).
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    for entry in CARRIED_OVER {
        let source = previous_now
            .as_ref()
            .map(|p| p.join(entry))
            .filter(|p| fs::symlink_metadata(p).is_ok())
            .or_else(|| {
                if output_exists {
                    None
                } else {
                    leftovers.staged_entry(entry)
                }
            });
        let Some(source) = source else { continue };
        let target = staged.join(entry);
        if let Err(error) = fs::rename(&source, &target) {
            undo_aside(&moved);
            return Err(SiteError::Io {
                action: "carry over",
                path: source,
                error,
            });
        }
        moved.push((source, target));
    }

    // 3. Put the new tree in place.
    if let Err(error) = fs::rename(&staged, output) {
        undo_aside(&moved);
        return Err(SiteError::Io {
            action: "move the new site into",
            path: output.to_path_buf(),
            error,
        });
    }
    let _ = staging.keep();

    // 4. Delete the replaced tree; the site is already published, so failing here only warns.
    if let Some(old) = old {
        if let Err(error) = fs::remove_dir_all(&old) {
            tracing::warn!(path = %old.display(), %error, "cannot delete the replaced output");
        }
    }
    Ok(())
}

/// Staging and old trees left beside the output folder by builds that crashed.
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

    /// Deletes them all (after a successful build).
    fn remove(&self) {
        for path in self.old.iter().chain(&self.staging) {
            if let Err(error) = fs::remove_dir_all(path) {
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
            theme_dir: default_theme(),
        };
        let renderer = Renderer::new(&settings.theme_dir, site_info()).unwrap();
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

        /// Names in the output's parent folder: only `output` after a clean build.
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
                "index.html",
                &style,
                &format!("u/{B}/index.html"),
                &format!("u/{A}/index.html")
            ]
        );
        assert_eq!(
            report,
            SiteReport {
                pages_written: 4,
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
                pages_unchanged: 4,
                files_removed: 0
            }
        );
        assert_eq!(tree(f.output()), before);
        assert!(
            mtimes(f.output()).values().all(|m| *m == past),
            "{:?}",
            mtimes(f.output())
        );
        assert_eq!(f.siblings(), ["output"]);
    }

    #[test]
    fn only_changed_pages_are_rewritten() {
        let f = fixture();
        f.build(people()).unwrap();
        let past = age(f.output());

        let report = f
            .build(vec![profile(A, "Nelly"), profile(B, "Alicia")])
            .unwrap();
        assert_eq!(
            report,
            SiteReport {
                pages_written: 2,
                pages_unchanged: 2,
                files_removed: 0
            }
        );
        let mtimes = mtimes(f.output());
        assert_eq!(mtimes[&format!("u/{A}/index.html")], past);
        assert_eq!(mtimes[&f.style()], past);
        assert_ne!(mtimes[&format!("u/{B}/index.html")], past);
        assert_ne!(mtimes["index.html"], past);
    }

    #[test]
    fn removed_users_disappear() {
        let f = fixture();
        f.build(people()).unwrap();
        fs::write(f.output().join("stray.txt"), "not ours").unwrap();

        let report = f.build(vec![profile(A, "Nelly")]).unwrap();
        assert_eq!(
            report,
            SiteReport {
                pages_written: 1,
                pages_unchanged: 2,
                files_removed: 2
            }
        );
        assert!(!f.output().join(format!("u/{B}")).exists());
        assert!(!f.output().join("stray.txt").exists());
        assert!(!fs::read_to_string(f.output().join("index.html"))
            .unwrap()
            .contains("Alice"));

        let report = f.build(vec![]).unwrap();
        assert_eq!(report.files_removed, 1);
        assert!(!f.output().join("u").exists());
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
        assert_eq!(f.siblings(), ["output"], "the staging folder is removed");
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
                pages_unchanged: 4,
                files_removed: 0
            }
        );
        assert_eq!(
            fs::read_to_string(f.output().join(".git/HEAD")).unwrap(),
            "ref: refs/heads/main\n"
        );
        assert!(f.output().join(".git/refs").is_dir());
        assert!(f.output().join(".gitkeep").is_file());
        assert_eq!(f.siblings(), ["output"]);
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
                pages_unchanged: 4,
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
        assert_eq!(f.siblings(), ["output"], "leftovers are cleaned up");
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
        assert_eq!(f.siblings(), ["output"]);
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
        assert_eq!(f.siblings(), Vec::<String>::new());
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
}
