//! The journal of a tree: a manifest of what the last commit left in the output folder and its
//! spare, and a mark that exists while the spare is being changed. With both in order a
//! transaction trusts the two trees without reading them; otherwise it reconciles them file by
//! file. It must not decide what goes in a tree, only record what went in.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::error::{io_err, StagingError};
use super::tree::is_carried_over_name;
use crate::digest::Digest;

/// Changes whenever the manifest's meaning or encoding changes: an older manifest is not
/// trusted. The manifest is postcard (compact binary serde): tens of thousands of records load
/// in milliseconds, where JSON took the better part of a no-op build.
const FORMAT: u32 = 3;

/// The first bytes of a manifest, before its format number.
const MAGIC: &[u8] = b"strife-gen manifest\n";

/// Where a tree's journal is kept (beside the output folder, never inside it: a static host
/// would publish it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    /// The manifest of the last commit.
    pub manifest: PathBuf,
    /// Exists from the first change to the spare until the manifest of the commit is saved: a
    /// transaction that finds it knows the last one was interrupted.
    pub in_progress: PathBuf,
}

/// What identifies one state of a file or folder without reading it: a file edited in place
/// changes its size, modification time or change time; one replaced changes its inode; a folder
/// gains or loses an entry and changes its times. `ctime` cannot be set back by hand (`touch -d`
/// sets `mtime` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Stamp {
    #[serde(rename = "n")]
    len: u64,
    #[serde(rename = "m")]
    modified_ns: i64,
    #[serde(rename = "c")]
    changed_ns: i64,
    #[serde(rename = "i")]
    inode: u64,
    #[serde(rename = "d")]
    device: u64,
}

impl Stamp {
    #[cfg(unix)]
    fn of(meta: &fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: meta.len(),
            modified_ns: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
            changed_ns: meta.ctime().saturating_mul(1_000_000_000) + meta.ctime_nsec(),
            inode: meta.ino(),
            device: meta.dev(),
        }
    }

    /// Without inodes and change times only size and modification time tell.
    #[cfg(not(unix))]
    fn of(meta: &fs::Metadata) -> Stamp {
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64);
        Stamp {
            len: meta.len(),
            modified_ns,
            changed_ns: modified_ns,
            inode: 0,
            device: 0,
        }
    }

    // The field types differ between platforms (32-bit times, unsigned nanoseconds): the casts
    // are no-ops only on some.
    #[cfg(unix)]
    #[allow(clippy::unnecessary_cast)]
    fn of_stat(stat: &rustix::fs::Stat) -> Stamp {
        Stamp {
            len: u64::try_from(stat.st_size).unwrap_or(0),
            modified_ns: (stat.st_mtime as i64).saturating_mul(1_000_000_000)
                + stat.st_mtime_nsec as i64,
            changed_ns: (stat.st_ctime as i64).saturating_mul(1_000_000_000)
                + stat.st_ctime_nsec as i64,
            inode: stat.st_ino as u64,
            device: stat.st_dev as u64,
        }
    }

    /// The stamp of the regular file at `path`; `None` when it is missing or anything else.
    pub(super) fn of_file(path: &Path) -> Option<Stamp> {
        let meta = fs::symlink_metadata(path).ok()?;
        meta.is_file().then(|| Stamp::of(&meta))
    }

    /// The stamp of the folder at `path` (not through a link); `None` when it is not one.
    pub(super) fn of_folder(path: &Path) -> Option<Stamp> {
        let meta = fs::symlink_metadata(path).ok()?;
        meta.is_dir().then(|| Stamp::of(&meta))
    }
}

/// One file of the tree as the last commit left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct FileRecord {
    #[serde(rename = "s")]
    pub(super) stamp: Stamp,
    /// Of the file's bytes.
    #[serde(rename = "b")]
    pub(super) digest: Digest,
    /// Of what the caller made the file from, when it said.
    #[serde(rename = "k")]
    pub(super) key: Option<Digest>,
}

/// What the last commit left: the output folder, its spare, and where they differ.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Manifest {
    format: u32,
    /// The output folder itself: a folder replaced by hand is a different tree.
    pub(super) output: Stamp,
    /// The spare: recreated by hand, it is not the tree the manifest knows. `None` when there
    /// is none yet (after the first build): its debt is then every file.
    pub(super) spare: Option<Stamp>,
    /// Every file of the output folder (`/`-separated paths), the marker included.
    pub(super) files: FxHashMap<String, FileRecord>,
    /// Every folder of the output folder (`""` is the top).
    pub(super) folders: FxHashMap<String, Stamp>,
    /// The same folders in the spare, when it holds the output's tree (no debt): after the
    /// next swap they are the output's, and only the folders that commit changes need to be
    /// stamped again.
    pub(super) spare_folders: Option<FxHashMap<String, Stamp>>,
    /// Paths where the spare differs from the output: what the last commit wrote or removed.
    /// Everywhere else the spare's file is the output's (a hard link to the same inode).
    pub(super) debt: Vec<String>,
    /// The caller's own record of the build (opaque here). As bytes, not a sequence of numbers:
    /// the same encoding, read in one copy instead of a call per byte.
    #[serde(with = "serde_bytes")]
    pub(super) memo: Vec<u8>,
}

/// What checking the output folder against the manifest found.
#[derive(Debug, Default)]
pub(super) struct Drift {
    /// Files of the manifest that are missing or hold other bytes (edited by hand): rewritten.
    pub(super) changed: FxHashSet<String>,
    /// Files whose stamp changed but whose bytes did not (touched, or copied over with the same
    /// content): kept, and stamped again.
    pub(super) touched: FxHashSet<String>,
    /// Entries in the output folder that the manifest does not have (added by hand): the spare
    /// does not have them, and after the swap they are its debt.
    pub(super) foreign: Vec<String>,
    /// Folders whose stamp changed (an entry added, removed or renamed in them).
    pub(super) folders: FxHashSet<String>,
}

/// What a commit knows of one tree's folders: stamps it may carry over instead of taking them
/// again (`None`: take every one), and the paths it changed in that tree since those stamps were
/// taken. A folder above or below a changed path, or one the carried stamps lack, is stamped
/// afresh, and so is the top (a swap renames it).
#[derive(Debug, Default)]
pub(super) struct FolderHistory {
    pub(super) carried: Option<FxHashMap<String, Stamp>>,
    pub(super) changed: FxHashSet<String>,
}

impl FolderHistory {
    /// Nothing known: every folder is stamped.
    pub(super) fn unknown() -> FolderHistory {
        FolderHistory::default()
    }

    /// `carried` stamps, valid but where `changed` paths were changed.
    pub(super) fn carried(
        carried: Option<FxHashMap<String, Stamp>>,
        changed: impl IntoIterator<Item = String>,
    ) -> FolderHistory {
        FolderHistory {
            carried,
            changed: changed.into_iter().collect(),
        }
    }

    /// The stamps of `folders` in `tree`: carried where nothing changed, taken otherwise.
    fn stamps(&self, tree: &Tree, folders: FxHashSet<String>) -> FxHashMap<String, Stamp> {
        let above_changed: FxHashSet<String> = self
            .changed
            .iter()
            .flat_map(|rel| folders_of(rel))
            .collect();
        let mut stamps = FxHashMap::with_capacity_and_hasher(folders.len(), Default::default());
        let mut unknown = Vec::new();
        for rel in folders {
            let carried = self.carried.as_ref().and_then(|c| c.get(&rel)).copied();
            let unchanged = !rel.is_empty()
                && !above_changed.contains(&rel)
                && !self_and_above(&rel).any(|at| self.changed.contains(at));
            match carried.filter(|_| unchanged) {
                Some(stamp) => {
                    stamps.insert(rel, stamp);
                }
                None => unknown.push(rel),
            }
        }
        let stamped: Vec<_> = unknown
            .into_par_iter()
            .filter_map(|rel| Some((tree.stamp(&rel, false)?, rel)))
            .collect();
        stamps.extend(stamped.into_iter().map(|(stamp, rel)| (rel, stamp)));
        stamps
    }
}

/// What a commit leaves, for [`Manifest::record`]: every file of the new tree (digest and key),
/// the stamps already known of some, what is known of both trees' folders (the spare's `None`
/// when it does not hold the new tree), and where the spare still differs.
pub(super) struct Commit<'a> {
    pub(super) files: FxHashMap<String, (Digest, Option<Digest>)>,
    pub(super) known: &'a FxHashMap<String, FileRecord>,
    pub(super) output_folders: FolderHistory,
    pub(super) spare_folders: Option<FolderHistory>,
    pub(super) debt: Vec<String>,
    pub(super) memo: Vec<u8>,
}

/// Stamps of entries below one folder, looked up relative to it (`fstatat` on an open folder
/// where the platform has it: the kernel walks only the relative part, which halves the cost of
/// checking tens of thousands of files).
struct Tree {
    root: PathBuf,
    #[cfg(unix)]
    folder: Option<rustix::fd::OwnedFd>,
}

impl Tree {
    fn open(root: &Path) -> Tree {
        Tree {
            root: root.to_path_buf(),
            #[cfg(unix)]
            folder: rustix::fs::open(
                root,
                rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .ok(),
        }
    }

    /// The stamp of `rel` when it is a regular file (`file`) or a folder (`!file`).
    fn stamp(&self, rel: &str, file: bool) -> Option<Stamp> {
        #[cfg(unix)]
        if let Some(folder) = &self.folder {
            use rustix::fs::{statat, AtFlags, FileType};
            let at = if rel.is_empty() { "." } else { rel };
            let stat = statat(folder, at, AtFlags::SYMLINK_NOFOLLOW).ok()?;
            let kind = FileType::from_raw_mode(stat.st_mode);
            let wanted = if file {
                FileType::RegularFile
            } else {
                FileType::Directory
            };
            return (kind == wanted).then(|| Stamp::of_stat(&stat));
        }
        let path = self.root.join(rel);
        if file {
            Stamp::of_file(&path)
        } else {
            Stamp::of_folder(&path)
        }
    }
}

impl Journal {
    /// The manifest of the last commit, when there is one this version can trust.
    pub(super) fn load(&self) -> Option<Manifest> {
        let text = match fs::read(&self.manifest) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(manifest = %self.manifest.display(), error = %e, "cannot read the build manifest: checking every file");
                return None;
            }
        };
        let Some(body) = text.strip_prefix(MAGIC) else {
            tracing::warn!(manifest = %self.manifest.display(), "not a build manifest: checking every file");
            return None;
        };
        let format: Result<(u32, &[u8]), _> = postcard::take_from_bytes(body);
        match format {
            Ok((FORMAT, _)) => {}
            _ => {
                tracing::info!("the build manifest is from another version: checking every file");
                return None;
            }
        }
        match postcard::from_bytes::<Manifest>(body) {
            Ok(manifest) => Some(manifest),
            Err(e) => {
                tracing::warn!(manifest = %self.manifest.display(), error = %e, "the build manifest is damaged: checking every file");
                None
            }
        }
    }

    /// Whether an earlier transaction was interrupted while changing the spare.
    pub(super) fn interrupted(&self) -> bool {
        fs::symlink_metadata(&self.in_progress).is_ok()
    }

    /// Marks the spare as being changed, durably, before anything in it is.
    pub(super) fn begin_changes(&self) -> Result<(), StagingError> {
        let mark = &self.in_progress;
        let mut file = fs::File::create(mark).map_err(io_err("create", mark))?;
        file.write_all(b"a build is changing the spare tree; if no build is running, the next one checks every file\n")
            .and_then(|()| file.sync_all())
            .map_err(io_err("write", mark))?;
        sync_parent(mark);
        Ok(())
    }

    /// Saves `manifest` (atomically: a crash leaves the old one or the new one), then removes
    /// the in-progress mark.
    pub(super) fn save(&self, manifest: &Manifest) -> Result<(), StagingError> {
        let path = &self.manifest;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut file = tempfile::NamedTempFile::new_in(parent).map_err(io_err("write", path))?;
        // Streamed to the file: a 100,000-profile manifest is tens of MB, and a copy of it in
        // memory would set the build's peak.
        let mut out = io::BufWriter::new(file.as_file_mut());
        out.write_all(MAGIC).map_err(io_err("write", path))?;
        postcard::to_io(manifest, &mut out)
            .map_err(|e| io_err("write", path)(io::Error::other(e)))?;
        out.flush().map_err(io_err("write", path))?;
        drop(out);
        file.as_file().sync_all().map_err(io_err("write", path))?;
        file.persist(path)
            .map_err(|e| io_err("write", path)(e.error))?;
        sync_parent(path);
        match fs::remove_file(&self.in_progress) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove", &self.in_progress)(e)),
        }
    }
}

impl Manifest {
    /// A manifest of `output` (and its spare) as they are now: every file of the commit and every
    /// folder above them stamped, stamps known or carried over where nothing changed.
    pub(super) fn record(
        output: &Path,
        spare: &Path,
        commit: Commit<'_>,
    ) -> Result<Manifest, StagingError> {
        let stamp_of_tree = |tree: &Path| {
            Stamp::of_folder(tree).ok_or_else(|| {
                io_err("read", tree)(io::Error::new(io::ErrorKind::NotFound, "not a folder"))
            })
        };
        let (output_stamp, spare_stamp) = (stamp_of_tree(output)?, Stamp::of_folder(spare));
        let Commit {
            files,
            known,
            output_folders,
            spare_folders,
            debt,
            memo,
        } = commit;
        let folders: FxHashSet<String> = files.keys().flat_map(|rel| folders_of(rel)).collect();
        let tree = Tree::open(output);
        // Most stamps are known: only the others are taken, in parallel. (Collecting every record
        // through rayon would cost more than the few stats it spreads.)
        let (known_files, unknown): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|(rel, _)| known.contains_key(rel));
        let stamped = unknown
            .into_par_iter()
            .map(|(rel, (digest, key))| {
                let stamp = tree.stamp(&rel, true).ok_or_else(|| {
                    let missing = io::Error::new(io::ErrorKind::NotFound, "missing after the swap");
                    io_err("read", &output.join(&rel))(missing)
                })?;
                Ok((rel, FileRecord { stamp, digest, key }))
            })
            .collect::<Result<Vec<_>, StagingError>>()?;
        let mut files = FxHashMap::with_capacity_and_hasher(
            known_files.len() + stamped.len(),
            Default::default(),
        );
        files.extend(stamped);
        for (rel, (digest, key)) in known_files {
            let stamp = known[&rel].stamp;
            files.insert(rel, FileRecord { stamp, digest, key });
        }
        let spare_folders = spare_folders
            .filter(|_| spare_stamp.is_some())
            .map(|history| history.stamps(&Tree::open(spare), folders.clone()));
        let folders = output_folders.stamps(&tree, folders);
        Ok(Manifest {
            format: FORMAT,
            output: output_stamp,
            spare: spare_stamp,
            files,
            folders,
            spare_folders,
            debt,
            memo,
        })
    }

    /// Whether `output` and `spare` are still the trees this manifest describes. The spare's
    /// whole stamp must match (a folder deleted and made again may get the same inode); the
    /// output's top folder is checked with the others ([`Manifest::drift`]).
    pub(super) fn describes(&self, output: &Path, spare: &Path) -> bool {
        let same_output = Stamp::of_folder(output)
            .is_some_and(|now| now.inode == self.output.inode && now.device == self.output.device);
        let same_spare = match &self.spare {
            Some(then) => Stamp::of_folder(spare) == Some(*then),
            None => fs::symlink_metadata(spare).is_err(),
        };
        same_output && same_spare
    }

    /// Compares the output folder with the manifest: one `stat` per file and folder, in parallel,
    /// a read of each file whose stamp changed, and a listing of each folder whose stamp did.
    pub(super) fn drift(&self, output: &Path) -> Drift {
        let tree = Tree::open(output);
        let drifted: Vec<(String, bool)> = self
            .files
            .par_iter()
            .filter(|(rel, record)| tree.stamp(rel, true) != Some(record.stamp))
            .map(|(rel, record)| {
                let same =
                    fs::read(output.join(rel)).is_ok_and(|b| Digest::of(&b) == record.digest);
                (rel.clone(), same)
            })
            .collect();
        let (touched, changed): (Vec<_>, Vec<_>) = drifted.into_iter().partition(|(_, same)| *same);
        let folders: FxHashSet<String> = self
            .folders
            .par_iter()
            .filter(|(rel, stamp)| tree.stamp(rel, false) != Some(**stamp))
            .map(|(rel, _)| rel.clone())
            .collect();
        let foreign = folders
            .par_iter()
            .flat_map_iter(|rel| self.unknown_entries(output, rel))
            .collect();
        Drift {
            changed: changed.into_iter().map(|(rel, _)| rel).collect(),
            touched: touched.into_iter().map(|(rel, _)| rel).collect(),
            foreign,
            folders,
        }
    }

    /// Entries of the folder `rel` that the manifest has neither as a file nor as a folder.
    fn unknown_entries(&self, output: &Path, rel: &str) -> Vec<String> {
        let Ok(entries) = fs::read_dir(output.join(rel)) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| !(rel.is_empty() && is_carried_over_name(name)))
            .map(|name| join(rel, &name))
            .filter(|child| !self.files.contains_key(child) && !self.folders.contains_key(child))
            .collect()
    }
}

/// `rel`'s folders, the top (`""`) included: `a/b/c` → `a/b`, `a`, `""`.
pub(super) fn folders_of(rel: &str) -> impl Iterator<Item = String> + '_ {
    let mut rest = Some(rel);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.rfind('/') {
            Some(at) => {
                rest = Some(&current[..at]);
                Some(current[..at].to_owned())
            }
            None => {
                rest = None;
                Some(String::new())
            }
        }
    })
}

/// `rel` and its folders but the top, without copying: `a/b/c` → `a/b/c`, `a/b`, `a`.
fn self_and_above(rel: &str) -> impl Iterator<Item = &str> {
    let ends = rel.match_indices('/').map(|(at, _)| at);
    std::iter::once(rel).chain(ends.map(|at| &rel[..at]))
}

/// `folder/name`, or `name` at the top.
fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_owned()
    } else {
        format!("{folder}/{name}")
    }
}

/// Makes a rename or removal in `path`'s folder durable (best effort: not every platform can).
fn sync_parent(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = fs::File::open(parent) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_a_path_go_up_to_the_top() {
        let all: Vec<String> = folders_of("a/b/c.html").collect();
        assert_eq!(all, ["a/b", "a", ""]);
        assert_eq!(folders_of("top.txt").collect::<Vec<_>>(), [""]);
    }
}
