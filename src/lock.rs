//! The build lock: one build at a time per output folder, across processes.
//!
//! An OS advisory lock (`flock` on Unix, `LockFileEx` on Windows, through `std::fs::File::lock`)
//! on `<output_dir>.lock` beside the output folder. `serve`'s background builds and a
//! `strife-gen build` started by hand both take it, so they never write the same site at once.
//! A second build **waits** for the first (logging that it does) rather than failing: a build by
//! hand during a scheduled one then simply runs right after it. The OS releases the lock when the
//! holder exits, even after a crash, so a stale lock file is harmless and is never deleted.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open the build lock {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot take the build lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held while a build writes the output folder; released on drop.
#[derive(Debug)]
pub struct BuildLock {
    // Closing the file releases the lock.
    _file: File,
    path: PathBuf,
}

impl BuildLock {
    /// `<parent>/<output folder name>.lock`, e.g. `site/output` → `site/output.lock`.
    pub fn path_for(output_dir: &Path) -> PathBuf {
        let mut name = output_dir
            .file_name()
            .map(|n| n.to_owned())
            .unwrap_or_else(|| "output".into());
        name.push(".lock");
        output_dir.with_file_name(name)
    }

    /// Takes the lock for `output_dir`, waiting (blocking the thread) while another build holds
    /// it. Logs once when it has to wait.
    pub fn acquire(output_dir: &Path) -> Result<BuildLock, LockError> {
        let path = BuildLock::path_for(output_dir);
        let file = open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                tracing::info!(
                    "waiting for another build of {} to finish (lock {})…",
                    output_dir.display(),
                    path.display()
                );
                file.lock().map_err(|source| LockError::Lock {
                    path: path.clone(),
                    source,
                })?;
                tracing::info!("the other build finished; building now");
            }
            Err(TryLockError::Error(source)) => return Err(LockError::Lock { path, source }),
        }
        Ok(BuildLock { _file: file, path })
    }

    /// Takes the lock if nobody holds it; `None` if a build is running.
    pub fn try_acquire(output_dir: &Path) -> Result<Option<BuildLock>, LockError> {
        let path = BuildLock::path_for(output_dir);
        let file = open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(BuildLock { _file: file, path })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(source)) => Err(LockError::Lock { path, source }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    #[test]
    fn lock_file_sits_beside_the_output_folder() {
        assert_eq!(
            BuildLock::path_for(Path::new("/srv/site/output")),
            Path::new("/srv/site/output.lock")
        );
        assert_eq!(
            BuildLock::path_for(Path::new("/srv/site/output/")),
            Path::new("/srv/site/output.lock")
        );
    }

    #[test]
    fn a_held_lock_excludes_others_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("output");
        let held = BuildLock::acquire(&output).unwrap();
        assert!(held.path().exists());
        assert!(BuildLock::try_acquire(&output).unwrap().is_none());
        drop(held);
        let again = BuildLock::try_acquire(&output).unwrap();
        assert!(again.is_some(), "free again once the holder is gone");
    }

    #[test]
    fn a_waiting_build_gets_the_lock_when_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("output");
        let held = BuildLock::acquire(&output).unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let waiter = {
            let output = output.clone();
            std::thread::spawn(move || {
                let lock = BuildLock::acquire(&output).unwrap();
                sender.send("acquired").unwrap();
                drop(lock);
            })
        };
        // The waiter cannot have the lock while we hold it.
        assert!(receiver.try_recv().is_err());
        drop(held);
        assert_eq!(receiver.recv().unwrap(), "acquired");
        waiter.join().unwrap();
    }
}
