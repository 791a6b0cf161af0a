//! Putting a staged tree in place of the live one (one atomic exchange, or three renames), with
//! `.git` carried over and everything undone on failure. It must not write files inside the trees.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::{io_err, StagingError};
use super::leftovers::Leftovers;
use super::tree::{clear, CARRIED_OVER};

#[cfg(test)]
thread_local! {
    /// Makes this thread's swaps use plain renames, as on systems without `RENAME_EXCHANGE`, so
    /// that path stays tested too.
    pub(super) static PLAIN_RENAMES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Moves the staged tree into place and returns where the replaced tree is now (to be recycled).
/// On failure everything is put back as it was.
pub(super) fn swap(
    output: &Path,
    staged: &Path,
    previous: Option<&Path>,
    output_exists: bool,
    leftovers: &Leftovers,
) -> Result<Option<PathBuf>, StagingError> {
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
    let put_back_output = || {
        if let Some(old) = &old {
            let _ = fs::rename(old, output);
        }
    };
    // Where the previous tree is now: the renamed output, or a recovered old tree.
    let previous_now: Option<PathBuf> = old.clone().or_else(|| previous.map(Path::to_path_buf));

    // 2. Carry `.git` and `.gitkeep` over.
    let moves = carry_over_all(staged, previous_now.as_deref(), output_exists, leftovers)
        .inspect_err(|_| put_back_output())?;

    // 3. Put the new tree in place.
    if let Err(error) = fs::rename(staged, output) {
        moves.undo();
        put_back_output();
        return Err(StagingError::Io {
            action: "move the new site into",
            path: output.to_path_buf(),
            error,
        });
    }
    Ok(previous_now)
}

/// Carries `.git`/`.gitkeep` over from the output in place and swaps the staged tree with it
/// atomically (`renameat2(RENAME_EXCHANGE)`). Returns where the replaced tree is now (the staged
/// path), or `None`, with nothing changed, where the platform or file system cannot exchange.
fn exchange_with_output(
    output: &Path,
    staged: &Path,
    leftovers: &Leftovers,
) -> Result<Option<PathBuf>, StagingError> {
    let moves = carry_over_all(staged, Some(output), true, leftovers)?;
    match exchange(staged, output) {
        Ok(()) => Ok(Some(staged.to_path_buf())),
        Err(error) if exchange_unsupported(&error) => {
            moves.undo();
            Ok(None)
        }
        Err(error) => {
            moves.undo();
            Err(StagingError::Io {
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
    if PLAIN_RENAMES.with(std::cell::Cell::get) {
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    use rustix::io::Errno;
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(|errno| match errno {
        Errno::INVAL | Errno::NOSYS => io::Error::from(io::ErrorKind::Unsupported),
        other => io::Error::from(other),
    })
}

/// Elsewhere there is no atomic exchange: the caller swaps with plain renames.
#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Whether [`exchange`] failed only because the platform cannot do it.
fn exchange_unsupported(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::Unsupported
}

/// Renames the output folder to a new `.<name>.old-XXXX` beside it and returns that path.
fn move_aside(output: &Path) -> Result<PathBuf, StagingError> {
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
        return Err(StagingError::Io {
            action: "move the output folder to",
            path: old,
            error,
        });
    }
    fs::rename(output, &old).map_err(io_err("move the output folder aside to", &old))?;
    Ok(old)
}

/// Renames done to carry `.git`/`.gitkeep` over, `(from, to)` in order: what to undo when the
/// swap fails after them.
struct Moves(Vec<(PathBuf, PathBuf)>);

impl Moves {
    /// Moves everything back, last move first. Best effort: this runs on the way out of a
    /// failure that is already being reported.
    fn undo(&self) {
        for (from, to) in self.0.iter().rev() {
            let _ = fs::rename(to, from);
        }
    }
}

/// Carries every entry of [`CARRIED_OVER`] into the staged tree ([`carry_over`]). When one fails,
/// the ones already moved are moved back before the error is returned.
fn carry_over_all(
    staged: &Path,
    previous: Option<&Path>,
    output_exists: bool,
    leftovers: &Leftovers,
) -> Result<Moves, StagingError> {
    let mut moves = Moves(Vec::new());
    for entry in CARRIED_OVER {
        match carry_over(entry, staged, previous, output_exists, leftovers) {
            Ok(Some(step)) => moves.0.push(step),
            Ok(None) => {}
            Err(error) => {
                moves.undo();
                return Err(error);
            }
        }
    }
    Ok(moves)
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
) -> Result<Option<(PathBuf, PathBuf)>, StagingError> {
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
    fs::rename(&source, &target).map_err(|error| StagingError::Io {
        action: "carry over",
        path: source.clone(),
        error,
    })?;
    Ok(Some((source, target)))
}

/// Keeps the replaced tree as the next build's spare. The new tree is already in place, so
/// failing here only warns (and the tree is deleted, or left for the next build to clean up).
pub(super) fn recycle(replaced: &Path, spare: &Path) {
    if let Err(error) = fs::rename(replaced, spare) {
        tracing::warn!(path = %replaced.display(), %error, "cannot keep the replaced output as the spare");
        if let Err(error) = fs::remove_dir_all(replaced) {
            tracing::warn!(path = %replaced.display(), %error, "cannot delete the replaced output");
        }
    }
}
