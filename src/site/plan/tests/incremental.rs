//! Incremental builds: what a build renders and writes when little or nothing changed, and that
//! whatever happened to the output, the spare and the manifest in between, the site it leaves is
//! the one a fresh build would write.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::super::*;
use super::{entry, fixture, Fixture};
use crate::site::fixtures::{profile, site_info, theme};
use crate::staging::fixtures::{same_inode, tree};

/// What a fresh build (no journal, empty folder) of `entries` writes.
fn fresh(f: &Fixture, entries: &[ProfileEntry]) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = f.settings.clone();
    settings.output_dir = dir.path().join("output");
    settings.journal = None;
    let entries = entries.iter().cloned().map(Ok);
    build_site(&settings, &f.renderer, entries, &|| {}).unwrap();
    tree(&settings.output_dir)
}

fn build(f: &Fixture, entries: &[ProfileEntry]) -> SiteReport {
    build_with(f, &f.renderer, entries)
}

fn build_with(f: &Fixture, renderer: &Renderer, entries: &[ProfileEntry]) -> SiteReport {
    let entries = entries.iter().cloned().map(Ok);
    build_site(&f.settings, renderer, entries, &|| {}).unwrap()
}

/// Everything below `root` as the file system sees it: a changed inode, size, mtime or ctime
/// anywhere (a folder's included: creating or removing an entry changes it) means a write.
fn fs_state(root: &Path) -> BTreeMap<PathBuf, (u64, u64, i64, i64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| {
            let m = e.path().symlink_metadata().unwrap();
            let stamp = (
                m.ino(),
                m.len(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
            );
            (e.path().to_path_buf(), stamp)
        })
        .collect()
}

fn journal(f: &Fixture) -> Journal {
    f.settings.journal.clone().unwrap()
}

fn spare(f: &Fixture) -> PathBuf {
    f.parent.join(".output.spare")
}

const A: u64 = 80351110224678912;
const B: u64 = 175928847299117063;
const C: u64 = 222222222222222222;

fn three() -> Vec<ProfileEntry> {
    vec![
        entry(A, "Nelly", &[], Some(100)),
        entry(B, "Alice", &["alicia"], Some(200)),
        entry(C, "Carol", &[], None),
    ]
}

/// A site of [`three`] built twice: the first build writes it, the second leaves a spare and a
/// manifest that describes both trees, where every later build of a running site starts.
fn built_twice() -> Fixture {
    let f = fixture();
    build(&f, &three());
    build(&f, &three());
    f
}

/// [`three`] with Alice's display name changed (her page, JSON, vanity pages and the index).
fn alice_renamed() -> Vec<ProfileEntry> {
    let mut changed = three();
    changed[1].profile.display_name = "Alice B.".into();
    changed
}

#[test]
fn a_build_with_nothing_changed_renders_nothing_and_writes_nothing() {
    // The third and fourth builds change nothing.
    let f = built_twice();
    let report = build(&f, &three());
    assert_eq!(report.profiles_rendered, 0, "{report:?}");
    assert_eq!((report.pages_written, report.files_removed), (0, 0));
    let root = f.parent.parent().unwrap();
    let before = fs_state(root);
    let report = build(&f, &three());
    assert_eq!(report.profiles_rendered, 0, "{report:?}");
    assert_eq!(report.pages_unchanged, fresh(&f, &three()).len() - 1);
    assert_eq!(fs_state(root), before, "a no-op build wrote something");
    assert!(!journal(&f).in_progress.exists());
}

#[test]
fn one_changed_profile_renders_that_profile_and_only_what_lists_it() {
    let f = built_twice();
    let changed = alice_renamed();
    let report = build(&f, &changed);
    assert_eq!(report.profiles_rendered, 1, "{report:?}");
    // Her page, JSON, two cards, link preview and two vanity URLs (all show her name), and the
    // index that lists her.
    assert_eq!(report.pages_written, 8, "{report:?}");
    assert_eq!(tree(f.output()), fresh(&f, &changed));

    // Back again: the spare still had her old files, and the site is the old one again.
    let report = build(&f, &three());
    assert_eq!(report.profiles_rendered, 1, "{report:?}");
    assert_eq!(tree(f.output()), fresh(&f, &three()));
}

/// Every file of `root`, relative to it.
fn files_below(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(root).unwrap().to_path_buf())
        .collect()
}

#[test]
fn after_a_build_that_changed_files_the_spare_is_the_output_again() {
    let f = built_twice();
    let mut changed = alice_renamed();
    changed.pop();
    let report = build(&f, &changed);
    assert!(
        report.pages_written > 0 && report.files_removed > 0,
        "{report:?}"
    );
    // Settled right after the swap: the next build owes nothing for this one's changes.
    let mut published = files_below(f.output());
    let mut spared = files_below(&spare(&f));
    published.sort();
    spared.sort();
    assert_eq!(published, spared);
    for rel in &published {
        assert!(
            same_inode(&f.output().join(rel), &spare(&f).join(rel)),
            "{}",
            rel.display()
        );
    }
}

#[test]
fn users_who_arrive_and_leave_change_only_their_files_and_the_lists() {
    let f = fixture();
    build(&f, &three()[..2]);
    let report = build(&f, &three());
    assert_eq!(report.profiles_rendered, 1, "{report:?}");
    assert_eq!(tree(f.output()), fresh(&f, &three()));
    let report = build(&f, &three()[1..]);
    assert_eq!(report.profiles_rendered, 0, "{report:?}");
    // Nelly's page, JSON, cards, link preview and vanity URL.
    assert_eq!(report.files_removed, 6, "{report:?}");
    assert_eq!(tree(f.output()), fresh(&f, &three()[1..]));
    let report = build(&f, &[]);
    assert_eq!(tree(f.output()), fresh(&f, &[]), "{report:?}");
    let report = build(&f, &three());
    assert_eq!(report.profiles_rendered, 3, "{report:?}");
    assert_eq!(tree(f.output()), fresh(&f, &three()));
}

/// Sets `path`'s mtime back to `mtime` (what an editor that preserves times, or `touch -d`,
/// leaves).
fn set_mtime(path: &Path, mtime: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

#[test]
fn files_edited_deleted_or_added_by_hand_are_noticed_and_put_right() {
    let f = built_twice();
    let page = f.output().join(format!("u/{A}/index.html"));
    let mtime = fs::metadata(&page).unwrap().modified().unwrap();
    // The same size, the same mtime: only the change time tells.
    let text = fs::read_to_string(&page).unwrap();
    fs::write(&page, text.replace("Nelly", "Xelly")).unwrap();
    set_mtime(&page, mtime);
    fs::remove_file(f.output().join(format!("u/{B}.json"))).unwrap();
    fs::write(f.output().join(format!("u/{C}/notes.txt")), "mine").unwrap();
    fs::create_dir_all(f.output().join("junk/deeper")).unwrap();
    fs::write(f.output().join("junk/deeper/x.html"), "junk").unwrap();

    let report = build(&f, &three());
    assert_eq!(report.profiles_rendered, 2, "{report:?}");
    assert_eq!(tree(f.output()), fresh(&f, &three()));
    // And the spare did not keep them for later either.
    for _ in 0..2 {
        build(&f, &three());
        assert_eq!(tree(f.output()), fresh(&f, &three()));
    }
}

#[test]
fn a_file_slipped_into_the_spare_is_removed_once_the_spare_is_published() {
    let f = built_twice();
    // Two changing builds: each swap makes the spare the output, so both trees have been
    // through a commit that brought the other's folder stamps along.
    build(&f, &alice_renamed());
    build(&f, &three());
    // Someone writes into the hidden spare, in a folder the next build does not touch.
    let slipped = format!("u/{C}/slipped.html");
    fs::write(spare(&f).join(&slipped), "not ours").unwrap();
    build(&f, &alice_renamed());
    // That build published the spare; the next one notices the stranger and removes it.
    build(&f, &alice_renamed());
    assert!(
        !f.output().join(&slipped).exists(),
        "{slipped} is still published"
    );
    assert_eq!(tree(f.output()), fresh(&f, &alice_renamed()));
}

#[test]
fn a_touched_file_is_kept_as_it_is() {
    let f = built_twice();
    let page = f.output().join("index.html");
    set_mtime(
        &page,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000),
    );
    let copy = f.parent.join("index.copy");
    fs::hard_link(&page, &copy).unwrap();
    let report = build(&f, &three());
    assert_eq!((report.pages_written, report.profiles_rendered), (0, 0));
    assert!(same_inode(&page, &copy));
    assert_eq!(tree(f.output()), fresh(&f, &three()));
}

#[test]
fn an_interrupted_build_is_repaired_by_the_next() {
    let f = fixture();
    // A build that changes something leaves a spare.
    build(&f, &three()[..2]);
    build(&f, &three());
    assert!(spare(&f).is_dir());
    // What a `kill -9` while staging leaves: the mark, and a spare changed half-way (files
    // replaced, added and removed, never written into: they are the output's too).
    fs::write(&journal(&f).in_progress, "").unwrap();
    let spare = spare(&f);
    let spare_page = spare.join(format!("u/{A}/index.html"));
    fs::remove_file(&spare_page).unwrap();
    fs::write(&spare_page, "half").unwrap();
    fs::write(spare.join("stray.html"), "stray").unwrap();
    fs::remove_file(spare.join(format!("u/{B}.json"))).unwrap();

    let report = build(&f, &three());
    assert_eq!(
        report.profiles_rendered, 3,
        "everything is checked: {report:?}"
    );
    assert_eq!(tree(f.output()), fresh(&f, &three()));
    assert!(!journal(&f).in_progress.exists());
    for _ in 0..2 {
        build(&f, &three());
        assert_eq!(tree(f.output()), fresh(&f, &three()));
    }
}

#[test]
fn a_missing_spare_or_a_damaged_manifest_means_checking_every_file() {
    let f = fixture();
    // A build that changes something leaves a spare.
    build(&f, &three()[..2]);
    build(&f, &three());
    assert!(spare(&f).is_dir());
    fs::remove_dir_all(spare(&f)).unwrap();
    let report = build(&f, &three());
    assert_eq!(report.profiles_rendered, 3, "{report:?}");
    assert_eq!(tree(f.output()), fresh(&f, &three()));

    fs::write(&journal(&f).manifest, "{ not json").unwrap();
    let report = build(&f, &three());
    assert_eq!(report.profiles_rendered, 3, "{report:?}");
    assert_eq!(tree(f.output()), fresh(&f, &three()));

    // A spare replaced by hand (a copy) is another tree too.
    fs::remove_dir_all(spare(&f)).unwrap();
    fs::create_dir(spare(&f)).unwrap();
    let report = build(&f, &three());
    assert_eq!(report.profiles_rendered, 3, "{report:?}");
    assert_eq!(tree(f.output()), fresh(&f, &three()));
}

#[test]
fn a_theme_or_settings_change_renders_everything_that_depends_on_it() {
    let f = fixture();
    build(&f, &three());
    let restyled = theme(&[("profile.html", "new look {{ profile.display_name }}")]);
    let renderer = Renderer::new(restyled.path(), site_info()).unwrap();
    let report = build_with(&f, &renderer, &three());
    assert_eq!(report.profiles_rendered, 3, "{report:?}");
    let page = fs::read_to_string(f.output().join(format!("u/{A}/index.html"))).unwrap();
    assert!(page.starts_with("new look"), "{page}");

    let mut settings = f.settings.clone();
    settings.cname = Some("people.example".into());
    let entries = three().into_iter().map(Ok);
    let report = build_site(&settings, &renderer, entries, &|| {}).unwrap();
    assert_eq!(report.profiles_rendered, 3, "{report:?}");
    assert!(f.output().join("CNAME").is_file());
}

#[test]
fn a_theme_change_that_renders_the_same_bytes_is_recorded_once() {
    let f = fixture();
    build(&f, &three());
    // Text outside the blocks of a child template renders nowhere.
    let default = crate::site::fixtures::default_theme();
    let copy = tempfile::tempdir().unwrap();
    let theme = copy.path().join("default");
    for entry in walkdir::WalkDir::new(&default) {
        let entry = entry.unwrap();
        let target = theme.join(entry.path().strip_prefix(&default).unwrap());
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).unwrap();
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
    let profile_html = theme.join("templates/profile.html");
    let mut text = fs::read_to_string(&profile_html).unwrap();
    text.push_str("<!-- outside every block -->\n");
    fs::write(&profile_html, text).unwrap();
    let renderer = Renderer::new(&theme, site_info()).unwrap();
    let report = build_with(&f, &renderer, &three());
    assert_eq!((report.profiles_rendered, report.pages_written), (3, 0));
    let report = build_with(&f, &renderer, &three());
    assert_eq!(
        report.profiles_rendered, 0,
        "the new keys were recorded: {report:?}"
    );
}

#[test]
fn a_profile_kept_by_another_build_fails_the_build() {
    let f = fixture();
    build(&f, &three());
    let before = tree(f.output());
    let first = SiteBuild::begin(&f.settings, &f.renderer).unwrap();
    let ProfileInput::Unchanged(kept) = first.input(three().remove(0)) else {
        panic!("the last build published this profile as it is");
    };
    drop(first);
    let second = SiteBuild::begin(&f.settings, &f.renderer).unwrap();
    let inputs = std::iter::once(Ok(ProfileInput::Unchanged(kept)));
    let err = second.publish(inputs, &|| {}).err().unwrap();
    assert!(
        matches!(err, SiteError::NotUnchanged(id) if id == Snowflake(A)),
        "{err}"
    );
    assert_eq!(tree(f.output()), before);
}

/// A step of [`successive_builds_write_what_a_fresh_build_writes`]: which of five people are
/// published, and under which of their names.
fn people(step: &[Option<u8>]) -> Vec<ProfileEntry> {
    const NAMES: [&str; 3] = ["Ann", "Bea", "Cy"];
    step.iter()
        .enumerate()
        .filter_map(|(at, name)| {
            let name = NAMES[usize::from((*name)?) % NAMES.len()];
            let id = 100_000_000_000_000_000 + at as u64;
            // Same names on several people: vanity URLs move between them.
            let mut entry: ProfileEntry = profile(id, &format!("{name}{}", at % 2)).into();
            entry.changed_at = Some(at as i64);
            Some(entry)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn successive_builds_write_what_a_fresh_build_writes(
        steps in proptest::collection::vec(
            proptest::collection::vec(proptest::option::of(0u8..3), 5),
            2..6,
        ),
        edit in proptest::option::of(0usize..4),
    ) {
        let f = fixture();
        for (at, step) in steps.iter().enumerate() {
            let entries = people(step);
            if edit == Some(at) && f.output().join("index.html").exists() {
                // Someone edits the published index in between.
                fs::write(f.output().join("index.html"), "edited").unwrap();
            }
            build(&f, &entries);
            prop_assert_eq!(tree(f.output()), fresh(&f, &entries));
        }
    }
}

#[test]
fn a_memo_of_another_version_is_not_read_and_a_damaged_one_neither() {
    let f = fixture();
    let site = SiteBuild::begin(&f.settings, &f.renderer).unwrap();
    let inputs = three().into_iter().map(|e| Ok(site.input(e)));
    let Published(profiles) = site.publish(inputs, &|| {}).unwrap();
    let memo = |format: u32| {
        let memo = Memo {
            profiles: profiles.clone(),
        };
        postcard::to_stdvec(&(format, memo)).unwrap()
    };
    assert_eq!(read_memo(&memo(MEMO_FORMAT)).len(), 3);
    assert!(read_memo(&memo(MEMO_FORMAT + 1)).is_empty());
    let mut damaged = memo(MEMO_FORMAT);
    damaged.truncate(damaged.len() / 2);
    assert!(read_memo(&damaged).is_empty());
}
