//! Nothing from outside the site's folders is ever read or published, and no folder strife-gen did
//! not write is ever replaced: links out of `content/`, the themes and the sample users, an output
//! folder that links back to the site, and a foreign output folder, through the real binary.
#![cfg(unix)]

use crate::support::fixtures::{binary, copy_dir, repo, site_table, stderr};
use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Output;
use strife_gen::fault::Blame;

const NELLY: &str = "80351110224678912";
/// Secrets beside the site that no build may publish.
const KEY_SECRET: &str = "key-file-s3cr3t";
const DOTENV_SECRET: &str = "dotenv-s3cr3t";
const ENV_SECRET: &str = "environment-s3cr3t";

/// `<tmp>/site`: strife.toml, its own copies of the themes, content and sample users, and the
/// secrets a link could leak (`strife.db.key`, `.env`) beside them. Nothing else is in `<tmp>`.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let site = Site {
            dir: tempfile::tempdir().unwrap(),
        };
        let root = site.root();
        copy_dir(&repo().join("themes"), &root.join("themes"));
        copy_dir(&repo().join("content"), &root.join("content"));
        copy_dir(&repo().join("examples/users"), &root.join("samples"));
        let config = site_table(
            "Paths",
            "https://example.org/",
            &[("sample_users_dir", Path::new("samples"))],
        );
        std::fs::write(root.join("strife.toml"), config).unwrap();
        std::fs::write(root.join("strife.db.key"), KEY_SECRET).unwrap();
        std::fs::write(
            root.join(".env"),
            format!("STRIFE_WEBHOOK_SECRET={DOTENV_SECRET}\n"),
        )
        .unwrap();
        site
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("site")
    }

    fn output(&self) -> PathBuf {
        self.root().join("output")
    }

    fn build(&self) -> Output {
        binary(&self.root(), &["build", "--offline"])
            .env("STRIFE_PATHS_TEST", ENV_SECRET)
            .output()
            .expect("the binary runs")
    }

    /// A first good build, whose output the refused builds must leave exactly as it is.
    fn built(&self) -> BTreeMap<String, Vec<u8>> {
        let output = self.build();
        assert!(output.status.success(), "{}", stderr(&output));
        tree(&self.output())
    }
}

/// Every file below `dir` (relative path → bytes), links not followed.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry.unwrap();
        if !entry.file_type().is_dir() {
            let rel = entry.path().strip_prefix(dir).unwrap();
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            files.insert(rel.display().to_string(), bytes);
        }
    }
    files
}

/// Names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The build was refused as a configuration error naming `link` and `target`, and changed nothing
/// in the output folder.
fn assert_refused(
    site: &Site,
    output: &Output,
    link: &Path,
    target: &str,
    before: &BTreeMap<String, Vec<u8>>,
) {
    let log = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{log}");
    // The binary runs in the site folder, so paths are named relative to it.
    let link = link.strip_prefix(site.root()).unwrap_or(link);
    assert!(
        log.contains(&link.display().to_string()),
        "names the link {}: {log}",
        link.display()
    );
    assert!(log.contains(target), "names the target {target}: {log}");
    assert_eq!(&tree(&site.output()), before, "nothing was written: {log}");
    for secret in [KEY_SECRET, DOTENV_SECRET, ENV_SECRET] {
        assert!(!log.contains(secret), "{log}");
    }
}

fn canonical(path: &Path) -> String {
    std::fs::canonicalize(path).unwrap().display().to_string()
}

#[test]
fn content_files_that_link_outside_the_content_folder_are_refused() {
    let site = Site::new();
    let before = site.built();
    let root = site.root();
    let link = root.join(format!("content/users/{NELLY}.md"));
    let targets = [
        (
            PathBuf::from("/etc/passwd"),
            canonical(Path::new("/etc/passwd")),
        ),
        (
            PathBuf::from("../../strife.db.key"),
            canonical(&root.join("strife.db.key")),
        ),
        (PathBuf::from("../../.env"), canonical(&root.join(".env"))),
        // The binary's own environment: resolves to /proc/<its pid>/environ.
        (PathBuf::from("/proc/self/environ"), "/proc/".to_owned()),
    ];
    for (target, resolved) in targets {
        std::fs::remove_file(&link).unwrap();
        symlink(&target, &link).unwrap();
        let output = site.build();
        assert_refused(&site, &output, &link, &resolved, &before);
        assert!(
            stderr(&output).contains("site.content_dir"),
            "{}",
            stderr(&output)
        );
    }

    // The front page's text too.
    std::fs::remove_file(&link).unwrap();
    std::fs::copy(repo().join(format!("content/users/{NELLY}.md")), &link).unwrap();
    let index = root.join("content/index.md");
    std::fs::remove_file(&index).unwrap();
    symlink("../strife.db.key", &index).unwrap();
    let output = site.build();
    assert_refused(
        &site,
        &output,
        &index,
        &canonical(&root.join("strife.db.key")),
        &before,
    );
}

#[test]
fn a_users_folder_that_links_outside_the_content_folder_is_refused() {
    let site = Site::new();
    let before = site.built();
    let root = site.root();
    let private = root.join("private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::write(
        private.join(format!("{NELLY}.md")),
        "+++\nbio = \"private\"\n+++\n",
    )
    .unwrap();
    let users = root.join("content/users");
    std::fs::remove_dir_all(&users).unwrap();
    symlink("../private", &users).unwrap();
    let output = site.build();
    assert_refused(&site, &output, &users, &canonical(&private), &before);
}

#[test]
fn theme_files_that_link_outside_the_themes_folder_are_refused() {
    let site = Site::new();
    let before = site.built();
    let root = site.root();
    let key = canonical(&root.join("strife.db.key"));
    let template = root.join("themes/default/templates/404.html");
    let original = std::fs::read(&template).unwrap();
    std::fs::remove_file(&template).unwrap();
    symlink("../../../strife.db.key", &template).unwrap();
    let output = site.build();
    assert_refused(&site, &output, &template, &key, &before);
    assert!(
        stderr(&output).contains("site.themes_dir"),
        "{}",
        stderr(&output)
    );
    std::fs::remove_file(&template).unwrap();
    std::fs::write(&template, original).unwrap();

    // A static file is published as it is: a linked key file would be served to anyone.
    let asset = root.join("themes/default/static/key.txt");
    symlink(root.join("strife.db.key"), &asset).unwrap();
    let output = site.build();
    assert_refused(&site, &output, &asset, &key, &before);
    std::fs::remove_file(&asset).unwrap();

    // A linked folder of static files that points outside.
    let fonts = root.join("themes/default/static/fonts");
    symlink("/etc", &fonts).unwrap();
    let output = site.build();
    assert_refused(
        &site,
        &output,
        &fonts,
        &canonical(Path::new("/etc")),
        &before,
    );
}

#[test]
fn a_sample_user_that_links_outside_its_folder_is_refused() {
    let site = Site::new();
    let before = site.built();
    let root = site.root();
    let outside = root.join("outside.json");
    std::fs::copy(
        repo().join(format!("examples/users/{NELLY}.json")),
        &outside,
    )
    .unwrap();
    let sample = root.join(format!("samples/{NELLY}.json"));
    std::fs::remove_file(&sample).unwrap();
    symlink("../outside.json", &sample).unwrap();
    let output = site.build();
    assert_refused(&site, &output, &sample, &canonical(&outside), &before);
    assert!(
        stderr(&output).contains("site.sample_users_dir"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn links_that_stay_inside_their_folder_are_followed() {
    let site = Site::new();
    let root = site.root();
    std::fs::create_dir_all(root.join("content/shared")).unwrap();
    std::fs::write(
        root.join("content/shared/nelly.md"),
        "+++\nbio = \"A bio kept in a shared file.\"\n+++\n",
    )
    .unwrap();
    let user = root.join(format!("content/users/{NELLY}.md"));
    std::fs::remove_file(&user).unwrap();
    symlink("../shared/nelly.md", &user).unwrap();
    let minimal_css = root.join("themes/minimal/static/style.css");
    std::fs::remove_file(&minimal_css).unwrap();
    symlink("../../default/static/style.css", &minimal_css).unwrap();

    let output = site.build();
    assert!(output.status.success(), "{}", stderr(&output));
    let page =
        std::fs::read_to_string(site.output().join(format!("u/{NELLY}/index.html"))).unwrap();
    assert!(page.contains("A bio kept in a shared file."), "{page}");
}

#[test]
fn an_output_folder_that_links_to_the_site_itself_is_refused() {
    let site = Site::new();
    let root = site.root();
    symlink(".", site.output()).unwrap();
    let site_before = names(&root);
    let output = site.build();
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{log}");
    assert!(
        log.contains("site.output_dir") && log.contains("the folder of the config file"),
        "{log}"
    );
    assert_eq!(names(&root), site_before, "nothing moved: {log}");
    assert_eq!(
        names(site.dir.path()),
        ["site"],
        "nothing staged beside the site: {log}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("strife.db.key")).unwrap(),
        KEY_SECRET
    );

    // A link to a separate folder is fine: the site is written where it points.
    std::fs::remove_file(site.output()).unwrap();
    let www = site.dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    symlink(&www, site.output()).unwrap();
    let output = site.build();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(www.join("index.html").is_file());
}

#[test]
fn an_output_folder_that_becomes_a_link_to_the_site_after_loading_is_refused_at_build_time() {
    let site = Site::new();
    let config = strife_gen::config::Config::load(&site.root().join("strife.toml")).unwrap();
    symlink(".", site.output()).unwrap();
    let error = crate::support::site::render_offline_blocking(&config.into()).unwrap_err();
    assert!(error.is_users_fault(), "{error:?}");
    assert!(error.to_string().contains("site.output_dir"), "{error}");
    assert!(site.root().join("strife.toml").is_file());
}

#[test]
fn a_foreign_output_folder_is_never_replaced() {
    let site = Site::new();
    std::fs::create_dir_all(site.output().join("drafts")).unwrap();
    std::fs::write(site.output().join("notes.txt"), "my notes").unwrap();
    std::fs::write(site.output().join("drafts/a.md"), "draft").unwrap();
    let before = tree(&site.output());
    let output = site.build();
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{log}");
    assert!(
        log.contains("output folder ./output")
            && log.contains("notes.txt")
            && log.contains("remove it")
            && log.contains("site.output_dir"),
        "{log}"
    );
    assert_eq!(tree(&site.output()), before, "{log}");
    assert!(
        names(&site.root())
            .iter()
            .all(|name| !name.starts_with(".output.")),
        "nothing staged beside it: {:?}",
        names(&site.root())
    );
}

#[test]
fn a_fresh_clones_output_folder_and_an_earlier_versions_output_are_built_into() {
    let site = Site::new();
    std::fs::create_dir_all(site.output()).unwrap();
    std::fs::write(site.output().join(".gitkeep"), "").unwrap();
    let output = site.build();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(site.output().join(".gitkeep").is_file());
    let marker = site.output().join(strife_gen::site::MARKER);
    assert!(marker.is_file());

    // What an earlier strife-gen left: its output without a marker.
    std::fs::remove_file(&marker).unwrap();
    let output = site.build();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(marker.is_file());
}
