//! Owns the cross-process locks of a site: the build lock of one output folder and the refresh
//! lock of one store (the same kind of lock on another file).
//! It must not decide where the lock files are (that is `Layout`) nor ever delete them.
//!
//! The build lock: one build at a time per output folder, across processes. The refresh lock
//! works the same way for the refresh from Discord, so that no user is refreshed by two
//! processes at once (see [`crate::build`]).
//!
//! An OS advisory lock (`flock` on Unix, `LockFileEx` on Windows, through `std::fs::File::lock`)
//! on `<output_dir>.lock` beside the output folder. `serve`'s background builds and a
//! `strife-gen build` started by hand both take it, so they never write the same site at once.
//! A second build **waits** for the first (logging that it does) rather than failing: a build by
//! hand during a scheduled one then simply runs right after it. The OS releases the lock when the
//! holder exits, even after a crash, so a stale lock file is harmless and is never deleted.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::fault::Blame;

#[derive(Debug, thiserror::Error)]
/// Why the build lock could not be taken.
pub enum LockError {
    #[error("cannot open the build lock {path}: {source}")]
    /// The lock file cannot be opened or created.
    Open {
        /// The file or folder concerned.
        path: PathBuf,
        /// What the system or library reported.
        source: std::io::Error,
    },
    #[error("cannot take the build lock {path}: {source}")]
    /// The lock cannot be taken (other than by waiting).
    Lock {
        /// The file or folder concerned.
        path: PathBuf,
        /// What the system or library reported.
        source: std::io::Error,
    },
}

/// The lock file cannot be opened or locked: the machine's fault, not the configuration's.
impl Blame for LockError {
    fn is_users_fault(&self) -> bool {
        false
    }
}

/// Held while a build writes the output folder; released on drop.
#[derive(Debug)]
pub struct BuildLock {
    // Closing the file releases the lock.
    _file: File,
}

impl BuildLock {
    /// Takes the lock file `path` (see [`crate::layout::Layout::build_lock`] and
    /// [`crate::layout::Layout::refresh_lock`]) for a build of `output_dir`, waiting (blocking the thread) while another build holds it. Logs once when
    /// it has to wait.
    pub fn acquire(path: &Path, output_dir: &Path) -> Result<BuildLock, LockError> {
        let file = open(path)?;
        let path = path.to_owned();
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                tracing::info!(
                    "waiting for another build of {} to let go of {}…",
                    output_dir.display(),
                    path.display()
                );
                file.lock().map_err(|source| LockError::Lock {
                    path: path.clone(),
                    source,
                })?;
                tracing::info!("the other build let go of {}; going on", path.display());
            }
            Err(TryLockError::Error(source)) => return Err(LockError::Lock { path, source }),
        }
        Ok(BuildLock { _file: file })
    }
}

fn open(path: &Path) -> Result<File, LockError> {
    let open_error = |source| LockError::Open {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(open_error)?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(open_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether another process could take the lock now.
    fn is_free(path: &Path) -> bool {
        let file = File::open(path).unwrap();
        match file.try_lock() {
            Ok(()) => true,
            Err(TryLockError::WouldBlock) => false,
            Err(TryLockError::Error(error)) => panic!("{error}"),
        }
    }

    #[test]
    fn a_held_lock_excludes_others_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (path, output) = (dir.path().join("output.lock"), dir.path().join("output"));
        let held = BuildLock::acquire(&path, &output).unwrap();
        assert!(!is_free(&path));
        drop(held);
        assert!(is_free(&path), "free again once the holder is gone");
    }

    #[test]
    fn a_waiting_build_gets_the_lock_when_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let (path, output) = (dir.path().join("output.lock"), dir.path().join("output"));
        let held = BuildLock::acquire(&path, &output).unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let lock = BuildLock::acquire(&path, &output).unwrap();
            sender.send("acquired").unwrap();
            drop(lock);
        });
        // The waiter cannot have the lock while we hold it.
        assert!(receiver.try_recv().is_err());
        drop(held);
        assert_eq!(receiver.recv().unwrap(), "acquired");
        waiter.join().unwrap();
    }
}
