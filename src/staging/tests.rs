//! The engine on plain folders: what a commit writes, keeps, removes and recovers from. These
//! tests must not need a site: files are plain strings at plain paths.

use std::collections::BTreeMap;

use super::fixtures::{age, folders, mtimes, same_inode, tree};
use super::swap::PLAIN_RENAMES;
use super::*;

const MARKER: &str = ".test-marker";
const MARKER_TEXT: &str = "written by the staging tests\n";

fn ownership() -> Ownership {
    Ownership {
        marker: MARKER,
        marker_text: MARKER_TEXT,
        written_before_markers: |_| false,
    }
}

struct Fixture {
    _root: tempfile::TempDir,
    parent: PathBuf,
    output: PathBuf,
}

fn fixture() -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let parent = root.path().join("public");
    Fixture {
        output: parent.join("output"),
        parent,
        _root: root,
    }
}

impl Fixture {
    /// Stages `files` and commits them.
    fn publish(&self, files: &[(&str, &str)]) -> Result<Tally, StagingError> {
        self.publish_as(files, ownership())
    }

    fn publish_as(&self, files: &[(&str, &str)], owner: Ownership) -> Result<Tally, StagingError> {
        let staging = Staging::begin(&self.output, owner)?;
        for (rel, text) in files {
            staging.put(rel, text.as_bytes())?;
        }
        staging.commit()
    }

    fn output(&self) -> &Path {
        &self.output
    }

    fn spare(&self) -> PathBuf {
        self.parent.join(".output.spare")
    }

    /// Names in the output's parent folder: only `output` after a first commit, and the spare
    /// after the next ones.
    fn siblings(&self) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(&self.parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.output().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
}

/// The output's parent folder after a commit that replaced an output.
const WITH_SPARE: [&str; 2] = [".output.spare", "output"];

/// A tree shaped like a site: files at the top, in folders and nested folders, and an empty one.
const FILES: [(&str, &str); 9] = [
    ("index.html", "index"),
    ("empty", ""),
    ("a/index.html", "a"),
    ("b/index.html", "b"),
    ("u/1/index.html", "one"),
    ("u/1.json", "{1}"),
    ("u/2/index.html", "two"),
    ("u/2.json", "{2}"),
    ("static/style.css", "css"),
];

/// Files of [`FILES`].
const ALL_FILES: usize = 9;

/// [`FILES`] without `b/` and `u/2`.
fn without_two() -> Vec<(&'static str, &'static str)> {
    FILES
        .into_iter()
        .filter(|(rel, _)| !rel.starts_with("b/") && !rel.starts_with("u/2"))
        .collect()
}

/// [`FILES`] with `index.html` and `u/2` changed and `b/` moved to `c/`: 4 files written.
fn changed() -> Vec<(&'static str, &'static str)> {
    FILES
        .into_iter()
        .map(|(rel, text)| match rel {
            "index.html" => (rel, "index, changed"),
            "b/index.html" => ("c/index.html", text),
            "u/2/index.html" => (rel, "two, changed"),
            "u/2.json" => (rel, "{2, changed}"),
            _ => (rel, text),
        })
        .collect()
}

#[test]
fn writes_the_files_put_and_the_marker() {
    let f = fixture();
    let tally = f.publish(&FILES).unwrap();
    assert_eq!(
        tally,
        Tally {
            written: ALL_FILES,
            unchanged: 0,
            removed: 0
        }
    );
    let mut expected: BTreeMap<String, Vec<u8>> = FILES
        .iter()
        .map(|(rel, text)| (rel.to_string(), text.as_bytes().to_vec()))
        .collect();
    expected.insert(MARKER.into(), MARKER_TEXT.into());
    assert_eq!(tree(f.output()), expected);
    assert_eq!(f.siblings(), ["output"]);
}

#[test]
fn the_marker_is_written_every_time_and_never_counted() {
    let f = fixture();
    assert_eq!(f.publish(&FILES).unwrap().written, ALL_FILES);
    assert_eq!(f.read(MARKER), MARKER_TEXT);
    assert_eq!(f.publish(&FILES).unwrap().unchanged, ALL_FILES);
    assert_eq!(f.read(MARKER), MARKER_TEXT);
    // A marker that says something else is put right, and still not counted.
    fs::remove_file(f.output().join(MARKER)).unwrap();
    fs::write(f.output().join(MARKER), "stale").unwrap();
    assert_eq!(f.publish(&FILES).unwrap().written, 0);
    assert_eq!(f.read(MARKER), MARKER_TEXT);
}

#[test]
fn without_an_atomic_exchange_plain_renames_give_the_same_result() {
    PLAIN_RENAMES.with(|plain| plain.set(true));
    let f = fixture();
    f.publish(&FILES).unwrap();
    let past = age(f.output());
    let before = tree(f.output());
    let tally = f.publish(&FILES).unwrap();
    assert_eq!(tally.written, 0);
    assert_eq!(tree(f.output()), before);
    assert!(mtimes(f.output()).values().all(|m| *m == past));
    assert_eq!(f.siblings(), WITH_SPARE);
    let tally = f.publish(&without_two()).unwrap();
    assert!(tally.removed > 0);
    assert!(!f.output().join("u/2").exists());
    PLAIN_RENAMES.with(|plain| plain.set(false));
}

#[cfg(unix)]
#[test]
fn a_symlinked_output_folder_is_updated_where_it_points() {
    let f = fixture();
    let www = f.parent.join("www");
    fs::create_dir_all(&www).unwrap();
    std::os::unix::fs::symlink(&www, f.output()).unwrap();
    f.publish(&FILES).unwrap();
    f.publish(&without_two()).unwrap();
    let meta = fs::symlink_metadata(f.output()).unwrap();
    assert!(meta.file_type().is_symlink(), "the link stays a link");
    assert!(www.join("u/1/index.html").is_file());
    assert!(!www.join("u/2").exists(), "the target follows every commit");

    let dangling = f.parent.join("gone");
    fs::remove_file(f.output()).unwrap();
    std::os::unix::fs::symlink(&dangling, f.output()).unwrap();
    let error = f.publish(&FILES).unwrap_err().to_string();
    assert!(error.contains("link"), "{error}");
}

#[test]
fn an_identical_build_changes_nothing() {
    let f = fixture();
    f.publish(&FILES).unwrap();
    let past = age(f.output());
    let before = tree(f.output());

    let tally = f.publish(&FILES).unwrap();
    assert_eq!(
        tally,
        Tally {
            written: 0,
            unchanged: ALL_FILES,
            removed: 0
        }
    );
    assert_eq!(tree(f.output()), before);
    assert!(
        mtimes(f.output()).values().all(|m| *m == past),
        "{:?}",
        mtimes(f.output())
    );
    assert_eq!(
        f.siblings(),
        WITH_SPARE,
        "the replaced tree is kept as the spare"
    );
}

#[test]
fn files_that_are_not_put_again_are_removed() {
    let f = fixture();
    f.publish(&FILES).unwrap();
    fs::write(f.output().join("stray.txt"), "not ours").unwrap();
    let tally = f.publish(&without_two()).unwrap();
    // b/index.html, u/2/index.html, u/2.json and the stray.
    assert_eq!(
        tally,
        Tally {
            written: 0,
            unchanged: ALL_FILES - 3,
            removed: 4
        }
    );
    for gone in ["b", "u/2", "u/2.json", "stray.txt"] {
        assert!(!f.output().join(gone).exists(), "{gone}");
    }
    assert_eq!(f.publish(&[]).unwrap().removed, ALL_FILES - 3);
    assert_eq!(tree(f.output()).into_keys().collect::<Vec<_>>(), [MARKER]);
}

#[test]
fn paths_that_leave_the_tree_are_refused() {
    let f = fixture();
    let staging = Staging::begin(f.output(), ownership()).unwrap();
    for rel in [
        "../escape",
        "/etc/passwd",
        "a/../../b",
        "",
        ".",
        "a/./b",
        "a//b",
        "a/",
        "a\\..\\b",
    ] {
        let err = staging.put(rel, b"x").unwrap_err();
        assert!(matches!(err, StagingError::BadPath(_)), "{rel}: {err:?}");
    }
    assert!(!f.parent.join("escape").exists());
}

#[test]
fn git_checkout_is_carried_over() {
    let f = fixture();
    fs::create_dir_all(f.output().join(".git/refs")).unwrap();
    fs::write(f.output().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    fs::write(f.output().join(".gitkeep"), "").unwrap();

    let tally = f.publish(&FILES).unwrap();
    assert_eq!(tally.removed, 0);
    let tally = f.publish(&FILES).unwrap();
    assert_eq!(
        tally,
        Tally {
            written: 0,
            unchanged: ALL_FILES,
            removed: 0
        }
    );
    assert_eq!(
        fs::read_to_string(f.output().join(".git/HEAD")).unwrap(),
        "ref: refs/heads/main\n"
    );
    assert!(f.output().join(".git/refs").is_dir());
    assert!(f.output().join(".gitkeep").is_file());
    assert!(!f.spare().join(".git").exists());
    assert_eq!(f.siblings(), WITH_SPARE);
}

#[test]
fn recovers_from_a_crash_between_the_renames() {
    let f = fixture();
    fs::create_dir_all(f.output().join(".git")).unwrap();
    fs::write(f.output().join(".git/HEAD"), "x").unwrap();
    f.publish(&FILES).unwrap();
    let past = age(f.output());
    // Crash after "output → old", before "staging → output".
    fs::rename(f.output(), f.parent.join(".output.old-crashed")).unwrap();
    fs::create_dir(f.parent.join(".output.staging-crashed")).unwrap();

    let tally = f.publish(&FILES).unwrap();
    assert_eq!(
        tally,
        Tally {
            written: 0,
            unchanged: ALL_FILES,
            removed: 0
        }
    );
    assert!(
        mtimes(f.output()).values().filter(|m| **m != past).count() <= 1,
        "only .git/HEAD was not aged"
    );
    assert_eq!(
        fs::read_to_string(f.output().join(".git/HEAD")).unwrap(),
        "x"
    );
    assert_eq!(
        f.siblings(),
        WITH_SPARE,
        "leftovers are cleaned up, the recovered tree is the spare"
    );
}

#[test]
fn recovers_git_from_a_crashed_staging_tree() {
    let f = fixture();
    f.publish(&FILES).unwrap();
    // Crash after `.git` moved into staging, before staging → output.
    fs::rename(f.output(), f.parent.join(".output.old-crashed")).unwrap();
    fs::create_dir_all(f.parent.join(".output.staging-crashed/.git")).unwrap();
    fs::write(f.parent.join(".output.staging-crashed/.git/HEAD"), "y").unwrap();

    f.publish(&FILES).unwrap();
    assert_eq!(
        fs::read_to_string(f.output().join(".git/HEAD")).unwrap(),
        "y"
    );
    assert_eq!(f.siblings(), WITH_SPARE);
}

#[test]
fn recycled_spares_keep_unchanged_files_mtimes_and_inodes() {
    let f = fixture();
    f.publish(&FILES).unwrap();
    f.publish(&FILES).unwrap();
    let past = age(f.output());
    let page = "u/1/index.html";
    let published = fs::File::open(f.output().join(page)).unwrap();

    for _ in 0..3 {
        let tally = f.publish(&FILES).unwrap();
        assert_eq!(tally.written, 0, "{tally:?}");
        assert!(mtimes(f.output()).values().all(|m| *m == past));
        assert!(
            same_file::Handle::from_path(f.output().join(page)).unwrap()
                == same_file::Handle::from_file(published.try_clone().unwrap()).unwrap()
        );
        assert_eq!(f.siblings(), WITH_SPARE);
    }

    // A change after several recyclings rewrites only what changed.
    let tally = f.publish(&changed()).unwrap();
    assert_eq!(tally.written, 4, "{tally:?}");
    let mtimes = mtimes(f.output());
    assert_eq!(mtimes[page], past);
    assert_eq!(mtimes["empty"], past);
    assert_ne!(mtimes["u/2/index.html"], past);
    assert!(!f.output().join("b").exists());
    let fresh = fixture();
    fresh.publish(&changed()).unwrap();
    assert_eq!(
        tree(f.output()),
        tree(fresh.output()),
        "same tree as a commit from scratch"
    );
}

#[test]
fn a_spare_file_linked_to_a_published_one_is_never_written_into() {
    let f = fixture();
    f.publish(&FILES).unwrap();
    f.publish(&FILES).unwrap();
    let page = "u/1/index.html";
    assert!(
        same_inode(&f.output().join(page), &f.spare().join(page)),
        "the spare shares the unchanged file with the output"
    );
    let before = tree(f.output());
    let past = age(f.output());

    // Every file changes, then the transaction is abandoned: it never swaps.
    let staging = Staging::begin(f.output(), ownership()).unwrap();
    for (rel, _) in FILES {
        staging.put(rel, b"changed").unwrap();
    }
    drop(staging);

    assert_eq!(tree(f.output()), before, "the published tree is untouched");
    assert!(mtimes(f.output()).values().all(|m| *m == past));
    let staged = fs::read_to_string(f.spare().join(page)).unwrap();
    assert_eq!(staged, "changed", "the new file was staged at that path");
    assert!(!same_inode(&f.output().join(page), &f.spare().join(page)));
    assert_eq!(f.siblings(), WITH_SPARE);

    // The next commit reconciles the spare from the published tree.
    let tally = f.publish(&FILES).unwrap();
    assert_eq!(tally.written, 0, "{tally:?}");
    assert_eq!(tree(f.output()), before);
    assert!(mtimes(f.output()).values().all(|m| *m == past));
}

#[test]
fn an_abandoned_first_transaction_leaves_only_the_spare() {
    let f = fixture();
    let staging = Staging::begin(f.output(), ownership()).unwrap();
    staging.put("index.html", b"never served").unwrap();
    drop(staging);
    assert!(!f.output().exists());
    assert_eq!(
        f.siblings(),
        [".output.spare"],
        "only the spare, never served"
    );
}

#[test]
fn a_foreign_spare_is_reconciled() {
    let f = fixture();
    f.publish(&FILES).unwrap();
    let before = tree(f.output());
    let past = age(f.output());
    let outside = f.parent.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("keep.txt"), "mine").unwrap();

    let spare = f.spare();
    fs::create_dir_all(spare.join("deep/er/still")).unwrap();
    fs::write(spare.join("deep/er/still/x"), "x").unwrap();
    fs::write(spare.join("stray.txt"), "stray").unwrap();
    fs::write(spare.join("u"), "a file where a folder belongs").unwrap();
    fs::write(spare.join("a"), "another one").unwrap();
    fs::create_dir_all(spare.join("index.html/inside")).unwrap();
    fs::write(
        spare.join("index.html/inside/y"),
        "a folder where a file belongs",
    )
    .unwrap();
    fs::write(spare.join(".git"), "a stale .git the output does not have").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, spare.join("static")).unwrap();

    let tally = f.publish(&FILES).unwrap();
    assert_eq!(
        tally,
        Tally {
            written: 0,
            unchanged: ALL_FILES,
            removed: 0
        }
    );
    assert_eq!(tree(f.output()), before);
    assert!(mtimes(f.output()).values().all(|m| *m == past));
    assert!(!f.output().join(".git").exists());
    assert_eq!(
        tree(&outside).len(),
        1,
        "nothing was written through the link"
    );
    assert_eq!(
        fs::read_to_string(outside.join("keep.txt")).unwrap(),
        "mine"
    );

    // A spare that is a file, or a link to a folder, is replaced by a folder.
    fs::remove_dir_all(f.spare()).unwrap();
    fs::write(f.spare(), "not a folder").unwrap();
    f.publish(&FILES).unwrap();
    fs::remove_dir_all(f.spare()).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, f.spare()).unwrap();
    f.publish(&FILES).unwrap();
    assert_eq!(tree(f.output()), before);
    assert_eq!(tree(&outside).len(), 1);
    assert!(f.spare().is_dir() && !f.spare().is_symlink());
}

/// Was `removed_users_folders_are_gone_from_recycled_trees` of the site's output tests.
#[test]
fn removed_files_folders_are_gone_from_recycled_trees() {
    let f = fixture();
    f.publish(&FILES).unwrap();
    f.publish(&FILES).unwrap();
    let removed = ["u/2", "u/2.json", "b"];

    for _ in 0..2 {
        f.publish(&without_two()).unwrap();
        for gone in &removed {
            assert!(!f.output().join(gone).exists(), "{gone}");
        }
        assert!(f.output().join("a/index.html").is_file());
    }
    let top_and_static = [("index.html", "index"), ("static/style.css", "css")];
    for _ in 0..2 {
        f.publish(&top_and_static).unwrap();
        let mut left = folders(f.output());
        left.sort();
        assert_eq!(left, ["static"], "no empty folders are published");
        // At most the folders of the tree before: a, static, u and u/1.
        assert!(folders(&f.spare()).len() <= 4, "pruned too");
    }
}

#[test]
fn a_leftover_old_tree_becomes_the_spare() {
    let f = fixture();
    f.publish(&FILES).unwrap();
    f.publish(&FILES).unwrap();
    let past = age(f.output());
    // Crash after the new tree went in place, before the old one became the spare.
    fs::rename(f.spare(), f.parent.join(".output.old-crashed")).unwrap();

    let tally = f.publish(&FILES).unwrap();
    assert_eq!(tally.written, 0, "{tally:?}");
    assert!(mtimes(f.output()).values().all(|m| *m == past));
    assert_eq!(f.siblings(), WITH_SPARE);
}

#[test]
fn recovers_git_moved_into_the_spare() {
    let f = fixture();
    fs::create_dir_all(f.output().join(".git")).unwrap();
    fs::write(f.output().join(".git/HEAD"), "z").unwrap();
    f.publish(&FILES).unwrap();
    f.publish(&FILES).unwrap();
    // Crash after `.git` moved into the spare, before the spare → output.
    let old = f.parent.join(".output.old-crashed");
    fs::rename(f.output(), &old).unwrap();
    fs::rename(old.join(".git"), f.spare().join(".git")).unwrap();

    let tally = f.publish(&FILES).unwrap();
    assert_eq!(tally.written, 0, "{tally:?}");
    assert_eq!(
        fs::read_to_string(f.output().join(".git/HEAD")).unwrap(),
        "z"
    );
    assert_eq!(f.siblings(), WITH_SPARE);
}

#[test]
fn a_folder_without_the_marker_is_never_replaced() {
    let f = fixture();
    fs::create_dir_all(f.output().join("photos")).unwrap();
    fs::write(f.output().join("notes.txt"), "mine").unwrap();
    fs::write(f.output().join("photos/cat.jpg"), "meow").unwrap();
    let before = tree(f.output());
    let err = f.publish(&FILES).unwrap_err();
    let StagingError::Foreign {
        path,
        marker,
        entries,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(path, f.output());
    assert_eq!(*marker, MARKER);
    assert_eq!(entries, &["notes.txt", "photos"]);
    let message = err.to_string();
    for part in [
        &f.output().display().to_string(),
        "notes.txt",
        "photos",
        MARKER,
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert_eq!(tree(f.output()), before, "nothing in it changed");
    assert_eq!(f.siblings(), ["output"], "nothing was staged beside it");
}

#[test]
fn an_unmarked_folder_the_owner_recognises_is_replaced() {
    let f = fixture();
    fs::create_dir_all(f.output()).unwrap();
    fs::write(
        f.output().join("old-version.txt"),
        "ours, from before markers",
    )
    .unwrap();
    let recognising = Ownership {
        written_before_markers: |output| output.join("old-version.txt").is_file(),
        ..ownership()
    };
    let tally = f.publish_as(&FILES, recognising).unwrap();
    assert_eq!(tally.removed, 1, "{tally:?}");
    assert!(!f.output().join("old-version.txt").exists());
    assert_eq!(f.read(MARKER), MARKER_TEXT);
}

#[test]
fn an_empty_output_folder_or_a_fresh_clones_is_used() {
    let f = fixture();
    fs::create_dir_all(f.output()).unwrap();
    f.publish(&FILES).unwrap();
    assert_eq!(f.read(MARKER), MARKER_TEXT);

    let f = fixture();
    fs::create_dir_all(f.output().join(".git")).unwrap();
    fs::write(f.output().join(".gitkeep"), "").unwrap();
    f.publish(&FILES).unwrap();
    assert!(f.output().join(".gitkeep").is_file() && f.output().join(".git").is_dir());
    assert_eq!(f.read(MARKER), MARKER_TEXT);
}

#[cfg(unix)]
#[test]
fn a_symlinked_output_folder_pointing_at_foreign_files_is_refused() {
    let f = fixture();
    let www = f.parent.join("www");
    fs::create_dir_all(&www).unwrap();
    fs::write(www.join("index.php"), "<?php").unwrap();
    std::os::unix::fs::symlink(&www, f.output()).unwrap();
    let err = f.publish(&FILES).unwrap_err();
    assert!(matches!(err, StagingError::Foreign { .. }), "{err:?}");
    assert_eq!(tree(&www).len(), 1);
}

#[test]
fn first_build_creates_missing_folders() {
    let f = fixture();
    assert!(!f.parent.exists());
    f.publish(&FILES).unwrap();
    assert!(f.output().join("index.html").is_file());
}

#[test]
fn an_output_that_is_a_file_is_an_error_naming_it() {
    let f = fixture();
    fs::create_dir_all(&f.parent).unwrap();
    fs::write(f.output(), "file").unwrap();
    let err = f.publish(&[]).unwrap_err();
    assert!(
        err.to_string().contains(&f.output().display().to_string()),
        "{err}"
    );
    assert_eq!(fs::read_to_string(f.output()).unwrap(), "file");
}

#[test]
fn an_output_folder_without_a_name_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let err = Staging::begin(&root.path().join(".."), ownership()).unwrap_err();
    assert!(matches!(err, StagingError::Unnamed(_)), "{err:?}");
}

#[test]
fn describes_a_few_entries() {
    let names = |n: usize| (0..n).map(|i| format!("f{i}")).collect::<Vec<_>>();
    assert_eq!(describe_entries(&names(2)), "f0, f1");
    assert_eq!(describe_entries(&names(7)), "f0, f1, f2, f3, f4 and 2 more");
}
