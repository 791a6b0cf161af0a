//! Trees that crashed builds left beside the output folder: found, recovered from, recycled and
//! deleted. It must not decide when: that is the transaction's ([`super::Staging`]) job.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::{io_err, StagingError};
use super::tree::ignore_not_found;

/// Old and staging trees left beside the output folder by builds that crashed (staging trees
/// only by versions that staged into a fresh folder).
#[derive(Debug)]
pub(super) struct Leftovers {
    old: Vec<PathBuf>,
    staging: Vec<PathBuf>,
}

impl Leftovers {
    /// The old (`.<name>.old-*`) and staging (`.<name>.staging-*`) trees in `parent`.
    pub(super) fn scan(parent: &Path, name: &str) -> Result<Leftovers, StagingError> {
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

    /// Whether there are none: no build crashed since the last successful one.
    pub(super) fn is_empty(&self) -> bool {
        self.old.is_empty() && self.staging.is_empty()
    }

    /// The most recently modified old tree.
    pub(super) fn newest_old(&self) -> Option<PathBuf> {
        self.old
            .iter()
            .filter_map(|p| Some((fs::metadata(p).ok()?.modified().ok()?, p)))
            .max()
            .map(|(_, p)| p.clone())
    }

    /// `entry` in a crashed build's staging tree, if one has it.
    pub(super) fn staged_entry(&self, entry: &str) -> Option<PathBuf> {
        self.staging
            .iter()
            .map(|s| s.join(entry))
            .find(|p| fs::symlink_metadata(p).is_ok())
    }

    /// Takes one of them out of the list (to be recycled as the spare instead of deleted).
    pub(super) fn take_one(&mut self) -> Option<PathBuf> {
        self.old.pop().or_else(|| self.staging.pop())
    }

    /// Deletes them all (after a successful build). One that is gone was recovered as the
    /// previous output and is the spare now.
    pub(super) fn remove(&self) {
        for path in self.old.iter().chain(&self.staging) {
            let result = fs::remove_dir_all(path);
            if let Err(error) = result.or_else(ignore_not_found) {
                tracing::warn!(path = %path.display(), %error, "cannot delete a leftover build folder");
            }
        }
    }
}
