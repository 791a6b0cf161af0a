//! Test helpers for trees on disk: their files, mtimes and folders, shared by the engine's tests
//! and the site plan's. Test code only; it must not be used by shipped code.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Every file below `dir` (relative path → content), following nothing.
pub(crate) fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{rel}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.insert(name, fs::read(entry.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

/// The modification time of every file below `dir` (relative path → mtime).
pub(crate) fn mtimes(dir: &Path) -> BTreeMap<String, SystemTime> {
    tree(dir)
        .into_keys()
        .map(|rel| {
            let mtime = fs::metadata(dir.join(&rel)).unwrap().modified().unwrap();
            (rel, mtime)
        })
        .collect()
}

/// Sets every file's mtime to a fixed point in the past, so "unchanged" can be checked exactly.
pub(crate) fn age(dir: &Path) -> SystemTime {
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for rel in tree(dir).into_keys() {
        fs::File::options()
            .write(true)
            .open(dir.join(rel))
            .unwrap()
            .set_modified(past)
            .unwrap();
    }
    past
}

/// Every folder below `dir`, relative.
pub(crate) fn folders(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_dir())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

/// Whether `a` and `b` are the same file (hard links to one inode).
pub(crate) fn same_inode(a: &Path, b: &Path) -> bool {
    same_file::is_same_file(a, b).unwrap()
}
