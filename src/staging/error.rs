//! Why staging or swapping a tree failed. It must not name anything but paths and folders: what
//! the files mean is the caller's business.

use std::io;
use std::path::{Path, PathBuf};

/// Why a tree could not be staged or swapped in. The live folder is untouched whenever one of
/// these is returned (a failure to keep the replaced tree as the spare after a successful swap is
/// only logged).
#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("cannot {action} {}: {error}", path.display())]
    /// A file system operation failed.
    Io {
        /// What was being done, e.g. `create`.
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying error.
        error: io::Error,
    },
    #[error("output folder {} must be a folder with a name", .0.display())]
    /// The output folder has no name (`/`, `..`).
    Unnamed(PathBuf),
    /// A path to stage that is not a plain relative path (`..`, absolute, empty).
    #[error("cannot stage {0:?}: not a relative path inside the tree")]
    BadPath(String),
    #[error(
        "output folder {} has no {marker} and holds {}: it was not written by this program, so it \
         is left alone",
        path.display(), describe_entries(entries)
    )]
    /// The folder was not written by this program.
    Foreign {
        /// The file or folder concerned.
        path: PathBuf,
        /// The marker file it lacks.
        marker: &'static str,
        /// Some of what is in it, sorted, for the message.
        entries: Vec<String>,
    },
}

/// A closure that turns an I/O error on `path` into [`StagingError::Io`].
pub(super) fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StagingError {
    let path = path.to_path_buf();
    move |error| StagingError::Io {
        action,
        path,
        error,
    }
}

/// `"a, b and 3 more"`: the first few names.
pub(crate) fn describe_entries(entries: &[String]) -> String {
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
