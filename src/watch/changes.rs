//! Owns what a batch of changed paths means for the site (rebuild, reload config, ignore).
//! It must not watch or build; it only classifies.
//!
//! What a batch of changed paths means for the site: which folders and files are watched for a
//! configuration, and whether a batch asks for a config reload, a rebuild, or nothing.

use std::path::{Path, PathBuf};

use crate::config::Config;

use super::watcher::{ChangeBatch, Target};
use crate::files::is_editor_temp_file;

/// The inputs of a build, from one configuration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sources {
    pub(crate) config_file: PathBuf,
    /// Folders whose every file is an input: themes, content, sample users.
    pub(crate) folders: Vec<PathBuf>,
    /// The output folder: our own writes there (and to its staging and old siblings) are ignored.
    pub(crate) output_dir: PathBuf,
}

impl Sources {
    pub(crate) fn of(config: &Config) -> Sources {
        let mut folders = vec![
            config.site.themes_dir.clone(),
            config.site.content_dir.clone(),
        ];
        folders.extend(config.site.sample_users_dir.clone());
        folders.dedup();
        Sources {
            config_file: config.path.clone(),
            folders,
            output_dir: config.site.output_dir.clone(),
        }
    }

    /// The folders recursively, and the config file's folder on its own: editors replace a file
    /// by renaming over it, which a watch on the file itself would not survive.
    pub(crate) fn targets(&self) -> Vec<Target> {
        let mut targets: Vec<Target> = self
            .folders
            .iter()
            .map(|path| Target {
                path: path.clone(),
                recursive: true,
            })
            .collect();
        if let Some(config_dir) = self.config_file.parent() {
            let covered = self.folders.iter().any(|f| config_dir.starts_with(f));
            if !covered {
                targets.push(Target {
                    path: config_dir.to_owned(),
                    recursive: false,
                });
            }
        }
        targets
    }

    /// Sorts a batch into what watch must do about it.
    pub(crate) fn classify(&self, batch: &ChangeBatch) -> Verdict {
        let mut verdict = Verdict {
            sources_changed: batch.rescan,
            config_changed: batch.rescan,
            ..Verdict::default()
        };
        let mut paths: Vec<&PathBuf> = batch.paths.iter().collect();
        paths.sort();
        paths.dedup();
        for path in paths {
            if is_editor_temp_file(path) {
                verdict.ignored_temp_files += 1;
            } else if *path == self.config_file {
                verdict.config_changed = true;
            } else if self.is_output(path) {
                continue;
            } else if self.folders.iter().any(|folder| path.starts_with(folder)) {
                verdict.sources_changed = true;
                verdict.example.get_or_insert_with(|| path.clone());
            }
        }
        verdict
    }

    /// `output/...`, `.output.staging-*/...`, `.output.old-*/...` and `.output.spare/...` (see
    /// `staging`).
    fn is_output(&self, path: &Path) -> bool {
        if path.starts_with(&self.output_dir) {
            return true;
        }
        let (Some(parent), Some(name)) = (self.output_dir.parent(), self.output_dir.file_name())
        else {
            return false;
        };
        let Ok(relative) = path.strip_prefix(parent) else {
            return false;
        };
        let Some(first) = relative.components().next() else {
            return false;
        };
        let first = first.as_os_str().to_string_lossy();
        let name = name.to_string_lossy();
        first.starts_with(&format!(".{name}.staging-"))
            || first.starts_with(&format!(".{name}.old-"))
            || first == format!(".{name}.spare")
    }
}

/// What one batch of changes asks for.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Verdict {
    pub(crate) config_changed: bool,
    pub(crate) sources_changed: bool,
    /// Editor temp files that changed and were ignored.
    pub(crate) ignored_temp_files: u64,
    /// One of the changed source files, for the log.
    pub(crate) example: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources() -> Sources {
        Sources {
            config_file: PathBuf::from("/site/strife.toml"),
            folders: vec![
                PathBuf::from("/site/themes"),
                PathBuf::from("/site/content"),
            ],
            output_dir: PathBuf::from("/site/output"),
        }
    }

    fn batch(paths: &[&str]) -> ChangeBatch {
        ChangeBatch {
            paths: paths.iter().map(PathBuf::from).collect(),
            rescan: false,
        }
    }

    #[test]
    fn the_config_folder_is_watched_on_its_own() {
        let targets = sources().targets();
        assert_eq!(targets.len(), 3);
        assert!(targets.contains(&Target {
            path: PathBuf::from("/site"),
            recursive: false
        }));
        assert!(targets.contains(&Target {
            path: PathBuf::from("/site/themes"),
            recursive: true
        }));
    }

    #[test]
    fn changes_are_sorted_into_config_sources_and_noise() {
        let s = sources();
        let v = s.classify(&batch(&["/site/themes/default/templates/base.html"]));
        assert!(v.sources_changed && !v.config_changed);
        assert_eq!(
            v.example,
            Some(PathBuf::from("/site/themes/default/templates/base.html"))
        );
        let v = s.classify(&batch(&["/site/strife.toml"]));
        assert!(v.config_changed && !v.sources_changed);
        let v = s.classify(&batch(&[
            "/site/output/index.html",
            "/site/.output.staging-abc/u/1/index.html",
            "/site/.output.old-abc",
            "/site/.output.spare/u/1/index.html",
            "/site/strife.db-journal",
        ]));
        assert_eq!(v, Verdict::default());
    }

    #[test]
    fn editor_temp_files_are_counted_and_ignored() {
        let v = sources().classify(&batch(&[
            "/site/themes/default/templates/.base.html.swp",
            "/site/themes/default/templates/4913",
            "/site/strife.toml~",
        ]));
        assert_eq!(
            v,
            Verdict {
                ignored_temp_files: 3,
                ..Verdict::default()
            }
        );
    }

    #[test]
    fn a_rescan_means_everything_may_have_changed() {
        let v = sources().classify(&ChangeBatch {
            paths: Vec::new(),
            rescan: true,
        });
        assert!(v.config_changed && v.sources_changed);
    }
}
