//! Whose folder the output is: the marker file every staged tree gets, and the check that refuses
//! to replace a folder this program did not write. It must not write or move anything.

use std::fs;
use std::path::Path;

use super::error::{io_err, StagingError};
use super::tree::is_carried_over;

/// How the engine tells its own output folders from anyone else's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ownership {
    /// The file at the top of every tree the engine writes. Static hosts publish it, so it
    /// should say nothing but whose tree this is.
    pub(crate) marker: &'static str,
    /// What the marker file holds.
    pub(crate) marker_text: &'static str,
    /// Whether a folder without the marker, holding more than `.git` and `.gitkeep`, was still
    /// written by this program (a version from before markers): such a folder is replaced too.
    pub(crate) written_before_markers: fn(&Path) -> bool,
}

/// Refuses an existing output folder this program did not write: one without the marker that
/// holds more than `.git` and `.gitkeep` and is not recognised by
/// [`Ownership::written_before_markers`].
pub(super) fn check_ours(output: &Path, ownership: &Ownership) -> Result<(), StagingError> {
    if fs::symlink_metadata(output.join(ownership.marker)).is_ok_and(|meta| meta.is_file()) {
        return Ok(());
    }
    let mut entries = Vec::new();
    for entry in fs::read_dir(output).map_err(io_err("read folder", output))? {
        let entry = entry.map_err(io_err("read folder", output))?;
        if !is_carried_over(Path::new(""), &entry) {
            entries.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    if entries.is_empty() || (ownership.written_before_markers)(output) {
        return Ok(());
    }
    entries.sort();
    Err(StagingError::Foreign {
        path: output.to_path_buf(),
        marker: ownership.marker,
        entries,
    })
}
