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
//! made an incremental build slow on small machines. Nothing is ever written into an existing
//! file, since a spare's files are hard links shared with the published tree.
//!
//! How much of the spare is trusted depends on the journal ([`Journal`], kept beside the output
//! folder, never in it):
//!
//! - **Every file** (no journal, no manifest, a manifest of another version, an in-progress mark
//!   left by an interrupted transaction, leftover trees, or a spare or output folder that is not
//!   the one the manifest knows): every file of the new tree is checked against the published
//!   one by reading it, and anything else in the spare is removed. This is how any state, a
//!   `kill -9` at any point included, is repaired.
//! - **Differences only** (the manifest of the last commit describes both trees): the manifest
//!   has every published file's stamp (size, mtime, ctime, inode), the digest of its bytes and
//!   the key the caller made it from, and the spare's *debt*: the paths where it differs from
//!   the output (what the last commit wrote or removed). A file whose key is unchanged is kept
//!   without being made ([`Staging::keep`]); a file put with the digest on record is kept
//!   without being read; only a file that differs is written into the spare. At the commit the
//!   debt is settled (relinked from the output, or removed), the trees trade places, and the new
//!   debt is what this commit wrote or removed: the cost follows what changed, not the size of
//!   the site. When nothing differs, nothing at all is written: not the spare, not the manifest.
//!
//! Before trusting a manifest one `stat` per published file and folder tells what changed by
//! hand since: a file with another stamp is read, and rewritten when its bytes differ from the
//! record (kept, and stamped again, when only its times changed); a folder with another stamp
//! is listed, and entries the manifest does not have are removed from the next tree. A change
//! that keeps size, inode and both times (possible only within the file system's timestamp
//! granularity of the build) goes unnoticed until the next build that checks every file.
//!
//! The spare is marked as changing (the journal's in-progress file, synced) before its first
//! change, and the mark is removed only after the new manifest is saved, so a transaction that
//! finds the mark knows not to trust anything and checks every file. A transaction that fails
//! leaves the spare (partly reconciled) and the mark for the next.
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
mod journal;
mod leftovers;
mod ownership;
mod swap;
mod tree;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

pub(crate) use self::error::describe_entries;
pub use self::error::StagingError;
pub use self::journal::Journal;
pub(crate) use self::ownership::Ownership;

use self::error::io_err;
use self::journal::{folders_of, Commit, Drift, FileRecord, FolderHistory, Manifest};
use self::leftovers::Leftovers;
use self::ownership::check_ours;
use self::swap::{recycle, swap};
use self::tree::{
    clear, ensure_dir, prepare_spare, prune, relink, remove_empty_folders_above, removed_paths,
    reuse, same_content, write_new,
};
use crate::digest::Digest;

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
    /// Where the manifest is kept; `None`: every transaction reconciles every file.
    journal: Option<Journal>,
    /// The last commit's manifest when it still describes both trees: files are compared with
    /// it instead of being read, and the spare is trusted to differ only by its debt.
    trusted: Option<Trusted>,
    /// Whether the spare has been changed yet (so its in-progress mark is written).
    changing: Mutex<bool>,
    /// Every path put (or kept) so far: the files of the new tree.
    staged: Mutex<FxHashMap<String, Staged>>,
    written: AtomicUsize,
    unchanged: AtomicUsize,
}

/// A manifest that describes the trees, and how the output drifted from it since.
#[derive(Debug)]
struct Trusted {
    manifest: Manifest,
    drift: Drift,
}

impl Trusted {
    /// The manifest's record of `rel`, when the output's file is still as recorded.
    fn current(&self, rel: &str) -> Option<&FileRecord> {
        let record = self.manifest.files.get(rel)?;
        (!self.drift.changed.contains(rel)).then_some(record)
    }
}

/// One file of the new tree.
#[derive(Debug, Clone, Copy)]
struct Staged {
    digest: Digest,
    key: Option<Digest>,
    outcome: Outcome,
}

/// What putting one file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Written,
    Unchanged,
}

impl Staging {
    /// Prepares a new tree for `output_dir` in the spare beside it, creating the folders above it
    /// when missing, reconciling every file (no journal). Refuses an existing output folder that
    /// `ownership` does not recognise.
    pub(crate) fn begin(output_dir: &Path, ownership: Ownership) -> Result<Staging, StagingError> {
        Staging::open(output_dir, ownership, None)
    }

    /// [`Staging::begin`] with a journal: when its manifest still describes the output and the
    /// spare, nothing is read or written until a file differs (see the module docs).
    pub(crate) fn begin_journaled(
        output_dir: &Path,
        ownership: Ownership,
        journal: Journal,
    ) -> Result<Staging, StagingError> {
        Staging::open(output_dir, ownership, Some(journal))
    }

    fn open(
        output_dir: &Path,
        ownership: Ownership,
        journal: Option<Journal>,
    ) -> Result<Staging, StagingError> {
        // A symlinked output folder (say, a web server's document root) is updated where it
        // points; swapping the link itself would leave its target stale forever.
        let output = resolve_output_link(output_dir)?.unwrap_or_else(|| output_dir.to_path_buf());
        let (parent, name) = parent_and_name(&output)?;
        fs::create_dir_all(&parent).map_err(io_err("create folder", &parent))?;

        let leftovers = Leftovers::scan(&parent, &name)?;
        let output_exists = is_existing_folder(&output)?;
        if output_exists {
            check_ours(&output, &ownership)?;
        }
        let spare = parent.join(format!(".{name}.spare"));
        let trusted = journal
            .as_ref()
            .filter(|_| output_exists && leftovers.is_empty())
            .and_then(|journal| trust(journal, &output, &spare));
        let previous = if output_exists {
            Some(output.clone())
        } else {
            recover_previous(&leftovers)
        };
        let mut staging = Staging {
            output,
            spare,
            previous,
            output_exists,
            leftovers,
            ownership,
            journal,
            changing: Mutex::new(false),
            staged: Mutex::new(FxHashMap::default()),
            written: AtomicUsize::new(0),
            unchanged: AtomicUsize::new(0),
            trusted,
        };
        if staging.trusted.is_none() {
            staging.prepare_for_every_file()?;
        }
        Ok(staging)
    }

    /// Without a trusted manifest the spare's state is unknown: it is marked as changing and
    /// prepared to be reconciled file by file.
    fn prepare_for_every_file(&mut self) -> Result<(), StagingError> {
        self.begin_changes()?;
        // With the output in place every leftover tree is garbage: one may as well be recycled.
        let adoptable = if self.output_exists && fs::symlink_metadata(&self.spare).is_err() {
            self.leftovers.take_one()
        } else {
            None
        };
        prepare_spare(&self.spare, adoptable)
    }

    /// The output folder the tree will replace (where a link to it points).
    pub(crate) fn output(&self) -> &Path {
        &self.output
    }

    /// What the caller kept with the last commit ([`Staging::commit_with_memo`]), when its
    /// manifest is trusted; `None` otherwise.
    pub(crate) fn memo(&self) -> Option<&[u8]> {
        self.trusted.as_ref().map(|t| t.manifest.memo.as_slice())
    }

    /// Puts `bytes` at `rel` (a `/`-separated path relative to the tree), reusing the previous
    /// file when its content is the same.
    pub(crate) fn put(&self, rel: &str, bytes: &[u8]) -> Result<(), StagingError> {
        self.put_keyed(rel, None, bytes)
    }

    /// [`Staging::put`], recording `key` (what the caller made the file from) for
    /// [`Staging::keep`] in the next transaction.
    pub(crate) fn put_keyed(
        &self,
        rel: &str,
        key: Option<Digest>,
        bytes: &[u8],
    ) -> Result<(), StagingError> {
        let counter = match self.stage(rel, key, bytes)? {
            Outcome::Written => &self.written,
            Outcome::Unchanged => &self.unchanged,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Whether the published `rel` was made from `key` and is still as published, so it needs no
    /// new content. Reads nothing but what [`Staging::begin_journaled`] checked.
    pub(crate) fn is_current(&self, rel: &str, key: Digest) -> bool {
        self.trusted
            .as_ref()
            .and_then(|trusted| trusted.current(rel))
            .is_some_and(|record| record.key == Some(key))
    }

    /// Keeps the published `rel` in the new tree as it is, when it [`is_current`] for `key`;
    /// `false` (nothing kept) otherwise: then the caller puts the file.
    ///
    /// [`is_current`]: Staging::is_current
    pub(crate) fn keep(&self, rel: &str, key: Digest) -> Result<bool, StagingError> {
        check_plain(rel)?;
        let Some(record) = self.trusted.as_ref().and_then(|t| t.current(rel)) else {
            return Ok(false);
        };
        if record.key != Some(key) {
            return Ok(false);
        }
        let staged = Staged {
            digest: record.digest,
            key: Some(key),
            outcome: Outcome::Unchanged,
        };
        self.staged_paths().insert(rel.to_owned(), staged);
        self.unchanged.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Lower-cased names of everything at the top of the new tree so far. Read from what was put,
    /// not from the folder, which may still hold the previous tree's files.
    pub(crate) fn top_level_names(&self) -> std::collections::HashSet<String> {
        self.staged_paths()
            .keys()
            .filter_map(|rel| rel.split('/').next())
            .map(str::to_lowercase)
            .collect()
    }

    /// [`Staging::commit_with_memo`] with nothing to remember.
    #[cfg(test)]
    pub(crate) fn commit(self) -> Result<Tally, StagingError> {
        self.commit_with_memo(Vec::new())
    }

    /// Writes the marker, removes from the tree everything that was not put, and swaps it in
    /// place of the output folder; the replaced tree becomes the next spare. With a journal, the
    /// manifest of the new tree is saved with `memo` (any bytes), handed back by the next
    /// transaction's [`Staging::memo`]. When nothing differs from the trusted manifest, nothing
    /// at all is written. On error the output folder is as it was.
    pub(crate) fn commit_with_memo(mut self, memo: Vec<u8>) -> Result<Tally, StagingError> {
        // Bookkeeping, not one of the caller's files: not counted.
        self.stage(
            self.ownership.marker,
            None,
            self.ownership.marker_text.as_bytes(),
        )?;
        match self.trusted.take() {
            Some(trusted) => self.commit_differences(trusted, memo),
            None => self.commit_every_file(memo),
        }
    }

    /// Swaps the spare in place of the output folder and keeps the replaced tree as the next
    /// spare.
    fn swap_in(&self) -> Result<(), StagingError> {
        let replaced = swap(
            &self.output,
            &self.spare,
            self.previous.as_deref(),
            self.output_exists,
            &self.leftovers,
        )?;
        if let Some(replaced) = replaced.filter(|replaced| *replaced != self.spare) {
            recycle(&replaced, &self.spare);
        }
        Ok(())
    }

    /// The commit of a transaction that reconciled every file: the spare is pruned to what was
    /// put, and the debt is everything written or removed.
    fn commit_every_file(mut self, memo: Vec<u8>) -> Result<Tally, StagingError> {
        let staged = take(std::mem::take(&mut self.staged));
        let paths: FxHashSet<PathBuf> = staged.keys().map(PathBuf::from).collect();
        prune(&self.spare, &paths)?;
        let mut removed = Vec::new();
        if let Some(previous) = &self.previous {
            removed_paths(previous, &paths, Path::new(""), &mut removed)?;
        }
        self.swap_in()?;
        self.leftovers.remove();
        let tally = Tally {
            written: self.written.into_inner(),
            unchanged: self.unchanged.into_inner(),
            removed: removed.len(),
        };
        if let Some(journal) = &self.journal {
            let known = FxHashMap::default();
            let commit = Commit {
                debt: written_paths(&staged).chain(removed).collect(),
                files: files_of(staged),
                known: &known,
                output_folders: FolderHistory::unknown(),
                // The replaced tree, as it was: not the new one.
                spare_folders: None,
                memo,
            };
            save_manifest(journal, &self.output, &self.spare, commit);
        }
        Ok(tally)
    }

    /// The commit of a transaction that trusted the manifest: only the files that differ are
    /// touched, in the spare, which then trades places with the output. Nothing differs:
    /// nothing is touched at all.
    fn commit_differences(
        mut self,
        trusted: Trusted,
        memo: Vec<u8>,
    ) -> Result<Tally, StagingError> {
        let Trusted {
            mut manifest,
            drift,
        } = trusted;
        let staged = take(std::mem::take(&mut self.staged));
        let removed: Vec<String> = manifest
            .files
            .keys()
            .filter(|rel| !staged.contains_key(*rel))
            .cloned()
            .collect();
        let written: Vec<String> = written_paths(&staged).collect();
        let tally = Tally {
            written: self.written.load(Ordering::Relaxed),
            unchanged: self.unchanged.load(Ordering::Relaxed),
            // Entries added by hand go too.
            removed: removed.len() + drift.foreign.len(),
        };
        if written.is_empty() && removed.is_empty() && drift.foreign.is_empty() {
            self.record_unchanged_tree(manifest, drift, staged, memo);
            return Ok(tally);
        }
        self.begin_changes()?;
        // The first build leaves no spare: its debt is every file, settled into a new one.
        fs::create_dir_all(&self.spare).map_err(io_err("create folder", &self.spare))?;
        let before = manifest.debt.iter().chain(&removed);
        settle(
            &self.spare,
            &self.output,
            before,
            &staged,
            Settle::BeforeSwap,
        )?;
        // What changed in the spare, which the swap makes the output.
        let output_folders = FolderHistory::carried(
            manifest.spare_folders.take(),
            manifest
                .debt
                .iter()
                .chain(&removed)
                .chain(&written)
                .cloned(),
        );
        self.swap_in()?;
        // Files the spare had as they are published (not its debt, not touched by anyone since)
        // keep their stamps.
        let debt_before: FxHashSet<&String> = manifest.debt.iter().collect();
        let known: FxHashMap<String, FileRecord> = staged
            .iter()
            .filter(|(rel, s)| s.outcome == Outcome::Unchanged && !debt_before.contains(rel))
            .filter(|(rel, _)| !drift.touched.contains(*rel))
            .filter_map(|(rel, _)| Some((rel.clone(), *manifest.files.get(rel)?)))
            .collect();
        let debt: Vec<String> = written
            .into_iter()
            .chain(removed)
            .chain(drift.foreign)
            .collect();
        // Settled now, so the next build pays only for its own changes. Should that fail the
        // site is live all the same: the debt is recorded and settled by the next build.
        let (debt, spare_folders) = match settle(
            &self.spare,
            &self.output,
            &debt,
            &staged,
            Settle::AfterSwap,
        ) {
            // The replaced tree (the last output, folders changed by hand included) is the
            // new tree now, but where it was just settled.
            Ok(()) => {
                let changed = drift.folders.into_iter().chain(debt);
                let folders = std::mem::take(&mut manifest.folders);
                (
                    Vec::new(),
                    Some(FolderHistory::carried(Some(folders), changed)),
                )
            }
            Err(error) => {
                tracing::warn!(%error, "cannot bring the spare tree up to date: the next build will");
                (debt, None)
            }
        };
        if let Some(journal) = &self.journal {
            let commit = Commit {
                files: files_of(staged),
                known: &known,
                output_folders,
                spare_folders,
                debt,
                memo,
            };
            save_manifest(journal, &self.output, &self.spare, commit);
        }
        Ok(tally)
    }

    /// A commit that changed no file leaves both trees as they are. Its manifest is saved only
    /// when what it records changed: keys or memo (a theme change that renders the same bytes),
    /// or stamps (files touched by hand). A build with nothing changed writes nothing at all.
    fn record_unchanged_tree(
        &self,
        manifest: Manifest,
        drift: Drift,
        staged: FxHashMap<String, Staged>,
        memo: Vec<u8>,
    ) {
        let keys_changed = staged
            .iter()
            .any(|(rel, s)| manifest.files.get(rel).is_none_or(|r| r.key != s.key));
        let memo_changed = memo != manifest.memo;
        let restamp = !drift.touched.is_empty() || !drift.folders.is_empty();
        let (Some(journal), true) = (&self.journal, keys_changed || memo_changed || restamp) else {
            return;
        };
        let known = staged
            .keys()
            .filter(|rel| !drift.touched.contains(*rel))
            .filter_map(|rel| Some((rel.clone(), *manifest.files.get(rel)?)))
            .collect();
        let commit = Commit {
            files: files_of(staged),
            known: &known,
            // Neither tree was changed: only what someone else changed is stamped again.
            output_folders: FolderHistory::carried(Some(manifest.folders), drift.folders),
            spare_folders: manifest
                .spare_folders
                .map(|folders| FolderHistory::carried(Some(folders), [])),
            debt: manifest.debt,
            memo,
        };
        save_manifest(journal, &self.output, &self.spare, commit);
    }

    /// Puts one file (see [`Staging::put`]) and says whether the previous one was kept.
    fn stage(&self, rel: &str, key: Option<Digest>, bytes: &[u8]) -> Result<Outcome, StagingError> {
        check_plain(rel)?;
        let digest = Digest::of(bytes);
        let outcome = match &self.trusted {
            Some(trusted) => match trusted.current(rel) {
                Some(record) if record.digest == digest => Outcome::Unchanged,
                _ => {
                    self.begin_changes()?;
                    self.write(rel, bytes)?;
                    Outcome::Written
                }
            },
            None => self.reconcile(rel, bytes)?,
        };
        let staged = Staged {
            digest,
            key,
            outcome,
        };
        self.staged_paths().insert(rel.to_owned(), staged);
        Ok(outcome)
    }

    /// Makes the spare's `rel` hold `bytes`, reusing the previous file when it holds them.
    fn reconcile(&self, rel: &str, bytes: &[u8]) -> Result<Outcome, StagingError> {
        if let Some(previous) = &self.previous {
            let (old, target) = (previous.join(rel), self.spare.join(rel));
            if let Some(dir) = target.parent() {
                ensure_dir(&self.spare, dir)?;
            }
            if same_content(&old, bytes) && reuse(&old, &target).is_ok() {
                return Ok(Outcome::Unchanged);
            }
        }
        self.write(rel, bytes)?;
        Ok(Outcome::Written)
    }

    /// Writes a new file at the spare's `rel`, replacing whatever is there.
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), StagingError> {
        let target = self.spare.join(rel);
        if let Some(dir) = target.parent() {
            ensure_dir(&self.spare, dir)?;
        }
        clear(&target).map_err(io_err("remove", &target))?;
        write_new(&target, bytes).map_err(io_err("write", &target))
    }

    /// Marks the spare as changing (once) before its first change, creating it when the first
    /// build left none.
    fn begin_changes(&self) -> Result<(), StagingError> {
        let mut changing = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        if !*changing {
            if let Some(journal) = &self.journal {
                journal.begin_changes()?;
            }
            if self.trusted.is_some() {
                fs::create_dir_all(&self.spare).map_err(io_err("create folder", &self.spare))?;
            }
            *changing = true;
        }
        Ok(())
    }

    /// The paths put so far. A thread that panicked while holding the lock left the map whole
    /// (inserting is one step), so a poisoned lock is used as it is.
    fn staged_paths(&self) -> MutexGuard<'_, FxHashMap<String, Staged>> {
        self.staged.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The manifest in `journal`, when it still describes `output` and `spare` and no transaction
/// was interrupted since: then with how the output drifted from it (files edited or added by
/// hand).
fn trust(journal: &Journal, output: &Path, spare: &Path) -> Option<Trusted> {
    if journal.interrupted() {
        tracing::info!("the last build was interrupted: checking every file");
        return None;
    }
    let started = std::time::Instant::now();
    let manifest = journal.load()?;
    tracing::debug!(elapsed = ?started.elapsed(), files = manifest.files.len(), "build manifest loaded");
    if !manifest.describes(output, spare) {
        tracing::info!(
            "the output folder or its spare changed since the last build: checking every file"
        );
        return None;
    }
    let drift = manifest.drift(output);
    tracing::debug!(elapsed = ?started.elapsed(), "output folder compared with the manifest");
    if !drift.changed.is_empty() || !drift.foreign.is_empty() {
        tracing::info!(
            changed = drift.changed.len(),
            added = drift.foreign.len(),
            "files in the output folder changed since the last build: they are rewritten"
        );
    }
    Some(Trusted { manifest, drift })
}

/// When [`settle`] runs: before the swap this transaction's written files are in the spare
/// already; after it the spare is the replaced tree and every staged file comes from the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settle {
    BeforeSwap,
    AfterSwap,
}

/// Makes the spare hold the new tree at `paths` (where it differs from the output): a staged file
/// is linked from the output, a folder of the new tree is pruned to it, anything else removed.
/// In parallel: each path once (the last commit's debt and this one's removals may share some),
/// and a folder the new tree has is never removed.
fn settle<'p>(
    spare: &Path,
    output: &Path,
    paths: impl IntoIterator<Item = &'p String>,
    staged: &FxHashMap<String, Staged>,
    when: Settle,
) -> Result<(), StagingError> {
    let mut paths: Vec<&String> = paths.into_iter().collect();
    paths.sort_unstable();
    paths.dedup();
    if paths.is_empty() {
        return Ok(());
    }
    let folders: FxHashSet<String> = staged.keys().flat_map(|rel| folders_of(rel)).collect();
    paths
        .into_par_iter()
        .try_for_each(|rel| match staged.get(rel) {
            Some(s) if when == Settle::BeforeSwap && s.outcome == Outcome::Written => Ok(()),
            Some(_) => relink(spare, &output.join(rel), &spare.join(rel)),
            // A folder the new tree has (a file or a foreign entry became one): only what the new
            // tree does not have goes.
            None if folders.contains(rel) => prune_below(spare, rel, staged, &folders),
            None => {
                let target = spare.join(rel);
                clear(&target).map_err(io_err("remove", &target))?;
                remove_empty_folders_above(spare, rel, &folders);
                Ok(())
            }
        })
}

/// Removes below the spare's folder `rel` everything the new tree does not have.
fn prune_below(
    spare: &Path,
    rel: &str,
    staged: &FxHashMap<String, Staged>,
    folders: &FxHashSet<String>,
) -> Result<(), StagingError> {
    let dir = spare.join(rel);
    if !dir.is_dir() {
        return clear(&dir).map_err(io_err("remove", &dir));
    }
    for entry in fs::read_dir(&dir).map_err(io_err("read folder", &dir))? {
        let entry = entry.map_err(io_err("read folder", &dir))?;
        let child = format!("{rel}/{}", entry.file_name().to_string_lossy());
        if folders.contains(&child) {
            prune_below(spare, &child, staged, folders)?;
        } else if !staged.contains_key(&child) {
            clear(&entry.path()).map_err(io_err("remove", &entry.path()))?;
        }
    }
    Ok(())
}

/// Saves the manifest of a committed tree. The new tree is already in place, so failing here
/// only warns: the in-progress mark stays, and the next transaction checks every file.
fn save_manifest(journal: &Journal, output: &Path, spare: &Path, commit: Commit<'_>) {
    let started = std::time::Instant::now();
    let saved = Manifest::record(output, spare, commit).and_then(|manifest| {
        tracing::debug!(elapsed = ?started.elapsed(), "new tree stamped");
        journal.save(&manifest)
    });
    tracing::debug!(elapsed = ?started.elapsed(), "build manifest saved");
    if let Err(error) = saved {
        tracing::warn!(%error, "cannot save the build manifest: the next build checks every file");
    }
}

/// The map of a mutex that is no longer shared.
fn take(staged: Mutex<FxHashMap<String, Staged>>) -> FxHashMap<String, Staged> {
    staged.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// The paths of `staged` that were written.
fn written_paths(staged: &FxHashMap<String, Staged>) -> impl Iterator<Item = String> + '_ {
    staged
        .iter()
        .filter(|(_, s)| s.outcome == Outcome::Written)
        .map(|(rel, _)| rel.clone())
}

/// What the manifest records of each staged file.
fn files_of(staged: FxHashMap<String, Staged>) -> FxHashMap<String, (Digest, Option<Digest>)> {
    staged
        .into_iter()
        .map(|(rel, s)| (rel, (s.digest, s.key)))
        .collect()
}

/// Refuses anything but a plain relative path: `/`-separated names, none of them empty, `.` or
/// `..`, no backslash (not absolute, nothing that leaves the tree). A string scan, not a parse
/// into path components: it runs for every file of every build.
fn check_plain(rel: &str) -> Result<(), StagingError> {
    let plain = !rel.contains('\\')
        && rel
            .split('/')
            .all(|name| !name.is_empty() && name != "." && name != "..");
    if plain {
        Ok(())
    } else {
        Err(StagingError::BadPath(rel.to_owned()))
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
