//! Reconciling a tree file by file: preparing the spare, writing a file without touching a
//! linked one, reusing an identical published file, pruning. It must not swap trees into place.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rustc_hash::FxHashSet;

use super::error::{io_err, StagingError};

/// Top-level entries of an existing output folder that are carried into every new tree.
pub(super) const CARRIED_OVER: [&str; 2] = [".git", ".gitkeep"];

/// Makes `spare` a folder to stage into: the recycled tree as it is (any state will do, it is
/// reconciled file by file), `adoptable` (a leftover tree) when there is none, or a new folder.
/// Only symbolic links and other special files are removed up front: creating folders through a
/// link could write outside the tree.
pub(super) fn prepare_spare(spare: &Path, adoptable: Option<PathBuf>) -> Result<(), StagingError> {
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
fn remove_special_files(root: &Path, rel: &Path) -> Result<(), StagingError> {
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
pub(super) fn is_carried_over(rel: &Path, entry: &fs::DirEntry) -> bool {
    rel.as_os_str().is_empty() && CARRIED_OVER.iter().any(|c| entry.file_name() == *c)
}

/// Whether a top-level entry named `name` is carried over ([`CARRIED_OVER`]).
pub(super) fn is_carried_over_name(name: &str) -> bool {
    CARRIED_OVER.contains(&name)
}

/// Creates `dir` below `root`, replacing files that stand where its folders belong (a spare is
/// never trusted to have the right shape).
pub(super) fn ensure_dir(root: &Path, dir: &Path) -> Result<(), StagingError> {
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
pub(super) fn clear(path: &Path) -> io::Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    result.or_else(ignore_not_found)
}

/// Writes a new file at `path`, failing if anything is there: a file in the spare may be a hard
/// link to a published one, so writing into it would change the live site.
pub(super) fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    fs::File::options()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(bytes)
}

/// Treats "nothing there" as done: for removals that may find nothing to remove.
pub(super) fn ignore_not_found(error: io::Error) -> io::Result<()> {
    match error.kind() {
        io::ErrorKind::NotFound => Ok(()),
        _ => Err(error),
    }
}

/// Whether the regular file at `path` holds exactly `bytes` (any error reads as "no").
pub(super) fn same_content(path: &Path, bytes: &[u8]) -> bool {
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
pub(super) fn reuse(old: &Path, target: &Path) -> io::Result<()> {
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

/// Makes `target` (below `root`) a hard link to `old` (a copy that keeps the old modification
/// time where links are not possible), replacing whatever is there. For files known to differ:
/// it does not first check whether they are the same, which costs two opens.
pub(super) fn relink(root: &Path, old: &Path, target: &Path) -> Result<(), StagingError> {
    match fs::remove_file(target) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        // A folder (or something unremovable) where the file belongs.
        Err(_) => clear(target).map_err(io_err("remove", target))?,
    }
    match fs::hard_link(old, target) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = target.parent() {
                ensure_dir(root, dir)?;
            }
        }
        Err(_) => {}
    }
    reuse(old, target).map_err(io_err("link", target))
}

/// Removes from the spare every file the new tree does not have, and the folders left empty.
pub(super) fn prune(spare: &Path, staged: &FxHashSet<PathBuf>) -> Result<(), StagingError> {
    let folders: FxHashSet<&Path> = staged.iter().flat_map(|rel| rel.ancestors()).collect();
    prune_folder(spare, Path::new(""), staged, &folders)
}

/// [`prune`] below `root/rel`: `folders` are those the new tree has (ancestors of `staged`).
fn prune_folder(
    root: &Path,
    rel: &Path,
    staged: &FxHashSet<PathBuf>,
    folders: &FxHashSet<&Path>,
) -> Result<(), StagingError> {
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

/// Files below `previous/rel` that the new tree does not have (`/`-separated paths); top-level
/// carried-over entries excluded.
pub(super) fn removed_paths(
    previous: &Path,
    staged: &FxHashSet<PathBuf>,
    rel: &Path,
    removed: &mut Vec<String>,
) -> Result<(), StagingError> {
    let dir = previous.join(rel);
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
            removed_paths(previous, staged, &child, removed)?;
        } else if !staged.contains(&child) {
            removed.push(slashed(&child));
        }
    }
    Ok(())
}

/// `rel` with `/` between its parts, as callers name files.
pub(super) fn slashed(rel: &Path) -> String {
    let parts: Vec<String> = rel
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Removes the folders above `rel` in `root` that are empty and that the new tree does not have.
pub(super) fn remove_empty_folders_above(root: &Path, rel: &str, keep: &FxHashSet<String>) {
    for folder in super::journal::folders_of(rel) {
        if folder.is_empty() || keep.contains(&folder) {
            return;
        }
        // Fails when the folder is not empty (or gone): then neither are those above it.
        if fs::remove_dir(root.join(&folder)).is_err() {
            return;
        }
    }
}
