//! Where strife-gen keeps its files: the one place that names the output folder and every state
//! file beside it. It only computes paths; it must not create, open or delete anything.
//!
//! ```text
//! strife.db                 the store (store.path)
//! strife.db.key             the token key, when it is not in the environment
//! strife.db.deploy/         the git deploy's private repository
//! strife.db.deploy-pending  exists while a deploy has not yet succeeded
//! output/                   the published site (site.output_dir)
//! output.lock               the build lock: one build of output/ at a time
//! output.manifest           what the last build left in output/ and its spare (incremental builds)
//! output.building           exists while a build changes the spare; then the next checks everything
//! .output.spare/            the tree the next build is staged in (see crate::staging)
//! ```

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::staging::Journal;

/// The paths of one site's output and state files, worked out once from its [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The published site.
    pub output_dir: PathBuf,
    /// The SQLite store.
    pub(crate) store: PathBuf,
    /// The generated token key, used when `STRIFE_TOKEN_KEY` is not set.
    pub(crate) key_file: PathBuf,
    /// The build lock beside the output folder: held while the site is rendered and deployed.
    pub build_lock: PathBuf,
    /// The refresh lock beside the store: held while users are refreshed from Discord.
    pub refresh_lock: PathBuf,
    /// The build manifest and in-progress mark beside the output folder.
    pub(crate) journal: Journal,
    /// The git deploy's private repository.
    pub(crate) deploy_cache: PathBuf,
    /// Exists from the start of a deploy until it succeeded, so a failed deploy is retried.
    pub(crate) deploy_pending: PathBuf,
}

impl Layout {
    /// The layout of the site `config` describes (its paths are already absolute).
    pub(crate) fn of(config: &Config) -> Layout {
        let store = config.store.path.clone();
        let output_dir = config.site.output_dir.clone();
        Layout {
            key_file: with_suffix(&store, ".key"),
            deploy_cache: with_suffix(&store, ".deploy"),
            deploy_pending: with_suffix(&store, ".deploy-pending"),
            build_lock: sibling(&output_dir, ".lock"),
            refresh_lock: with_suffix(&store, ".refresh-lock"),
            journal: Journal {
                manifest: sibling(&output_dir, ".manifest"),
                in_progress: sibling(&output_dir, ".building"),
            },
            output_dir,
            store,
        }
    }
}

/// `strife.db` + `.key` → `strife.db.key`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `site/output` + `.lock` → `site/output.lock` (a trailing `/` makes no difference).
fn sibling(folder: &Path, suffix: &str) -> PathBuf {
    let mut name = folder
        .file_name()
        .unwrap_or(OsStr::new("output"))
        .to_owned();
    name.push(suffix);
    folder.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(extra: &str) -> Layout {
        let text = format!("[site]\ntitle = \"t\"\nbase_url = \"https://p.example/\"\n{extra}");
        Layout::of(&Config::from_toml(&text, Path::new("/srv/site/strife.toml")).unwrap())
    }

    #[test]
    fn state_files_sit_beside_the_store_and_the_output_folder() {
        let layout = layout("");
        assert_eq!(layout.output_dir, Path::new("/srv/site/output"));
        assert_eq!(layout.store, Path::new("/srv/site/strife.db"));
        assert_eq!(layout.key_file, Path::new("/srv/site/strife.db.key"));
        assert_eq!(layout.deploy_cache, Path::new("/srv/site/strife.db.deploy"));
        assert_eq!(
            layout.deploy_pending,
            Path::new("/srv/site/strife.db.deploy-pending")
        );
        assert_eq!(layout.build_lock, Path::new("/srv/site/output.lock"));
        assert_eq!(
            layout.refresh_lock,
            Path::new("/srv/site/strife.db.refresh-lock")
        );
        assert_eq!(
            layout.journal.manifest,
            Path::new("/srv/site/output.manifest")
        );
        assert_eq!(
            layout.journal.in_progress,
            Path::new("/srv/site/output.building")
        );
    }

    #[test]
    fn the_lock_follows_the_output_folder_wherever_it_is() {
        let layout = layout("output_dir = \"public/\"\n[store]\npath = \"/var/lib/strife/s.db\"");
        assert_eq!(layout.build_lock, Path::new("/srv/site/public.lock"));
        assert_eq!(layout.key_file, Path::new("/var/lib/strife/s.db.key"));
    }
}
