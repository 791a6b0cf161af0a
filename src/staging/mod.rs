//! The filesystem engine: a whole new tree is written beside a live folder and swapped in only
//! when complete. It must not know what the files are (pages, profiles, themes): callers name them.
//!
//! A [`Staging`] is one transaction: [`Staging::begin`] prepares a tree beside the output folder,
//! [`Staging::put`] writes files into it (from any number of threads), and [`Staging::commit`]
//! swaps it in, so readers (and `git`) never see a half-written tree. Dropping a `Staging`
//! without committing leaves the live folder as it was.
//!
//! A staged file whose bytes equal the file already published is a hard link to the published
//! one (a copy with the old modification time where links are not possible), so unchanged files
//! keep their mtime and inode and `git diff` shows only real changes.
//!
//! The tree is staged in `.output.spare`: the tree the previous commit replaced, recycled rather
//! than deleted, because deleting (and recreating) thousands of folders every time is what
//! made an incremental build slow on small machines. The spare's state is never trusted: every
//! file of the new tree is checked against the published one, anything else is removed, and
//! nothing is ever written into an existing file, since a spare's files are hard links shared
//! with the published tree. A transaction that fails leaves the (partly reconciled) spare for
//! the next.
//!
//! The swap is one atomic exchange where the platform has one (`renameat2(RENAME_EXCHANGE)`),
//! otherwise three renames: `output` → `.output.old-XXXX`, `.output.spare` → `output`, then the
//! old tree → `.output.spare`. A transaction that finds no `output` but an old tree (a crash
//! between the renames) uses the newest old tree as the previous output. Leftover old trees (and
//! the staging trees of older versions) are deleted after the next successful commit, or one of
//! them becomes the spare when there is none, so only one transaction may run per output folder
//! at a time.
//!
//! `.git` and `.gitkeep` at the top of the output folder are moved into the new tree untouched, so
//! the output folder can be a git checkout. Anything else in the output folder that was not put
//! into the new tree is removed.
//!
//! So the engine never replaces a folder it did not write, every tree gets a marker file
//! ([`Ownership::marker`]), and an existing output folder without one is refused unless it is
//! empty (nothing but `.git` and `.gitkeep`) or the caller recognises it as its own
//! ([`Ownership::written_before_markers`]).

mod error;
#[cfg(test)]
pub(crate) mod fixtures;
mod leftovers;
mod ownership;
mod swap;
mod tree;

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

pub(crate) use self::error::describe_entries;
pub use self::error::StagingError;
pub(crate) use self::ownership::Ownership;

use self::error::io_err;
use self::leftovers::Leftovers;
use self::ownership::check_ours;
use self::swap::{recycle, swap};
use self::tree::{
    clear, count_removed, ensure_dir, prepare_spare, prune, reuse, same_content, write_new,
};

/// What a committed tree changed. Counts cover every file put, not the marker.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Files that are new or whose content changed.
    pub(crate) written: usize,
    /// Files whose content was the same as before: the previous file was kept.
    pub(crate) unchanged: usize,
    /// Files of the previous tree that the new one does not have.
    pub(crate) removed: usize,
}

/// A new tree being staged for an output folder (see the module docs).
#[derive(Debug)]
pub(crate) struct Staging {
    /// The output folder, where a symbolic link to it points.
    output: PathBuf,
    /// `.<name>.spare` beside the output: the tree being staged.
    spare: PathBuf,
    /// The tree whose identical files are reused: the output, or one recovered after a crash.
    previous: Option<PathBuf>,
    output_exists: bool,
    leftovers: Leftovers,
    ownership: Ownership,
    /// Every path put so far: the files of the new tree. Anything else in the spare is pruned.
    staged: Mutex<HashSet<PathBuf>>,
    written: AtomicUsize,
    unchanged: AtomicUsize,
}

/// What putting one file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Written,
    Unchanged,
}

impl Staging {
    /// Prepares a new tree for `output_dir` in the spare beside it, creating the folders above it
    /// when missing. Refuses an existing output folder that `ownership` does not recognise.
    pub(crate) fn begin(output_dir: &Path, ownership: Ownership) -> Result<Staging, StagingError> {
        // A symlinked output folder (say, a web server's document root) is updated where it
        // points; swapping the link itself would leave its target stale forever.
        let output = resolve_output_link(output_dir)?.unwrap_or_else(|| output_dir.to_path_buf());
        let (parent, name) = parent_and_name(&output)?;
        fs::create_dir_all(&parent).map_err(io_err("create folder", &parent))?;

        let mut leftovers = Leftovers::scan(&parent, &name)?;
        let output_exists = is_existing_folder(&output)?;
        if output_exists {
            check_ours(&output, &ownership)?;
        }
        let previous = if output_exists {
            Some(output.clone())
        } else {
            recover_previous(&leftovers)
        };

        let spare = parent.join(format!(".{name}.spare"));
        // With the output in place every leftover tree is garbage: one may as well be recycled.
        let adoptable = if output_exists && fs::symlink_metadata(&spare).is_err() {
            leftovers.take_one()
        } else {
            None
        };
        prepare_spare(&spare, adoptable)?;
        Ok(Staging {
            output,
            spare,
            previous,
            output_exists,
            leftovers,
            ownership,
            staged: Mutex::new(HashSet::new()),
            written: AtomicUsize::new(0),
            unchanged: AtomicUsize::new(0),
        })
    }

    /// The output folder the tree will replace (where a link to it points).
    pub(crate) fn output(&self) -> &Path {
        &self.output
    }

    /// Puts `bytes` at `rel` (a `/`-separated path relative to the tree), reusing the previous
    /// file when its content is the same.
    pub(crate) fn put(&self, rel: &str, bytes: &[u8]) -> Result<(), StagingError> {
        let counter = match self.stage(rel, bytes)? {
            Outcome::Written => &self.written,
            Outcome::Unchanged => &self.unchanged,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Lower-cased names of everything at the top of the new tree so far. Read from what was put,
    /// not from the folder, which may still hold the previous tree's files.
    pub(crate) fn top_level_names(&self) -> HashSet<String> {
        self.staged_paths()
            .iter()
            .filter_map(|rel| rel.components().next())
            .map(|first| first.as_os_str().to_string_lossy().to_lowercase())
            .collect()
    }

    /// Writes the marker, removes from the tree everything that was not put, and swaps it in
    /// place of the output folder; the replaced tree becomes the next spare. On error the output
    /// folder is as it was.
    pub(crate) fn commit(self) -> Result<Tally, StagingError> {
        // Bookkeeping, not one of the caller's files: not counted.
        self.stage(self.ownership.marker, self.ownership.marker_text.as_bytes())?;
        let Staging {
            output,
            spare,
            previous,
            output_exists,
            leftovers,
            staged,
            written,
            unchanged,
            ..
        } = self;
        let staged = staged.into_inner().unwrap_or_else(|e| e.into_inner());
        prune(&spare, &staged)?;
        let removed = match &previous {
            Some(previous) => count_removed(previous, &staged, Path::new(""))?,
            None => 0,
        };
        let replaced = swap(
            &output,
            &spare,
            previous.as_deref(),
            output_exists,
            &leftovers,
        )?;
        if let Some(replaced) = replaced.filter(|replaced| *replaced != spare) {
            recycle(&replaced, &spare);
        }
        leftovers.remove();
        Ok(Tally {
            written: written.into_inner(),
            unchanged: unchanged.into_inner(),
            removed,
        })
    }

    /// Puts one file (see [`Staging::put`]) and says whether the previous one was kept.
    fn stage(&self, rel: &str, bytes: &[u8]) -> Result<Outcome, StagingError> {
        let relative = Path::new(rel);
        let plain = relative.components().next().is_some()
            && relative
                .components()
                .all(|part| matches!(part, Component::Normal(_)));
        if !plain {
            return Err(StagingError::BadPath(rel.to_owned()));
        }
        self.staged_paths().insert(PathBuf::from(rel));
        let target = self.spare.join(rel);
        if let Some(dir) = target.parent() {
            ensure_dir(&self.spare, dir)?;
        }
        if let Some(previous) = &self.previous {
            let old = previous.join(rel);
            if same_content(&old, bytes) && reuse(&old, &target).is_ok() {
                return Ok(Outcome::Unchanged);
            }
        }
        clear(&target).map_err(io_err("remove", &target))?;
        write_new(&target, bytes).map_err(io_err("write", &target))?;
        Ok(Outcome::Written)
    }

    /// The paths put so far. A thread that panicked while holding the lock left the set whole
    /// (inserting is one step), so a poisoned lock is used as it is.
    fn staged_paths(&self) -> MutexGuard<'_, HashSet<PathBuf>> {
        self.staged.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The target of `output` when it is a symbolic link; `None` when it is not one (or is missing).
fn resolve_output_link(output: &Path) -> Result<Option<PathBuf>, StagingError> {
    match fs::symlink_metadata(output) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(output)
            .map(Some)
            .map_err(io_err("follow the output folder's link", output)),
        _ => Ok(None),
    }
}

/// The folder `output` is in (`.` for a bare name) and its own name.
fn parent_and_name(output: &Path) -> Result<(PathBuf, String), StagingError> {
    let Some(name) = output.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Err(StagingError::Unnamed(output.to_path_buf()));
    };
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

/// Whether `output` is a folder (or a link to one); missing is `false`, anything else an error.
fn is_existing_folder(output: &Path) -> Result<bool, StagingError> {
    match fs::symlink_metadata(output) {
        Ok(meta) if meta.is_dir() || fs::metadata(output).is_ok_and(|m| m.is_dir()) => Ok(true),
        Ok(_) => {
            let error = io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a folder");
            Err(StagingError::Io {
                action: "use output folder",
                path: output.to_path_buf(),
                error,
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("read", output)(e)),
    }
}

/// With no output folder in place, the newest old tree (left by a crash between the renames)
/// stands in for it.
fn recover_previous(leftovers: &Leftovers) -> Option<PathBuf> {
    let recovered = leftovers.newest_old();
    if let Some(old) = &recovered {
        tracing::warn!(old = %old.display(), "output folder missing: recovering the previous build");
    }
    recovered
}

#[cfg(test)]
mod tests;
