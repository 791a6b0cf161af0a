//! Owns the `[deploy]` section and its rules.
//! It must not run the deploy: that is `crate::deploy`'s work.
//!
//! `[deploy]`: where a build that changed something is published (a command, or a git branch),
//! with its rules and path resolution. Only the section: running a deploy is `crate::deploy`.

use std::path::Path;

use serde::Deserialize;

use super::SectionCheck;

/// `[deploy]` in strife.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeployConfig {
    /// A program and its arguments, run in the config's folder with `STRIFE_OUTPUT_DIR` set.
    pub(crate) command: Option<Vec<String>>,
    /// Commit the output folder to a branch of a git remote.
    pub(crate) git: Option<GitTarget>,
}

/// `[deploy.git]`: the remote and branch a git deploy pushes to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GitTarget {
    /// A URL (`https://…`, `git@host:repo`) or a path; relative paths are relative to strife.toml.
    pub(crate) remote: String,
    #[serde(default = "default_branch")]
    pub(crate) branch: String,
}

fn default_branch() -> String {
    "gh-pages".to_owned()
}

impl DeployConfig {
    /// Checks the rules serde cannot express; `Err` names the key.
    pub(crate) fn check(&self) -> SectionCheck {
        match (&self.command, &self.git) {
            (Some(_), Some(_)) => Err(("deploy", "set either `command` or `git`, not both".into())),
            (Some(command), None) if command.first().is_none_or(|p| p.trim().is_empty()) => {
                Err(("deploy.command", "must name a program to run".into()))
            }
            (None, Some(git)) => git.check(),
            _ => Ok(()),
        }
    }

    /// Whether a deploy is configured at all.
    pub(crate) fn is_enabled(&self) -> bool {
        self.command.is_some() || self.git.is_some()
    }

    /// Resolves a path-like git remote against the config's folder.
    pub(crate) fn resolve_paths(&mut self, root: &Path) {
        if let Some(git) = &mut self.git {
            if git.is_local_path() && Path::new(&git.remote).is_relative() {
                git.remote = root.join(&git.remote).to_string_lossy().into_owned();
            }
        }
    }
}

impl GitTarget {
    fn check(&self) -> SectionCheck {
        // A value starting with '-' would be read by git as an option.
        if self.remote.trim().is_empty() || self.remote.starts_with('-') {
            return Err((
                "deploy.git.remote",
                format!("{:?} is not a git remote", self.remote),
            ));
        }
        let valid_branch = !self.branch.is_empty()
            && !self.branch.starts_with(['-', '/', '.'])
            && !self.branch.ends_with(['/', '.'])
            && !self.branch.contains("..")
            && !self.branch.ends_with(".lock")
            && self
                .branch
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        if !valid_branch {
            return Err((
                "deploy.git.branch",
                format!("{:?} is not a branch name", self.branch),
            ));
        }
        Ok(())
    }

    /// `https://…`, `ssh://…` and scp-like `user@host:path` are remotes; anything else is a path.
    fn is_local_path(&self) -> bool {
        !(self.remote.contains("://")
            || (self.remote.contains(':') && !self.remote.starts_with('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rules_name_the_key() {
        let both = DeployConfig {
            command: Some(vec!["true".into()]),
            git: Some(GitTarget {
                remote: "r".into(),
                branch: "b".into(),
            }),
        };
        assert_eq!(both.check().unwrap_err().0, "deploy");
        let empty = DeployConfig {
            command: Some(vec![]),
            git: None,
        };
        assert_eq!(empty.check().unwrap_err().0, "deploy.command");
        for (remote, branch, key) in [
            ("--upload-pack=x", "gh-pages", "deploy.git.remote"),
            ("r", "a..b", "deploy.git.branch"),
            ("r", "-x", "deploy.git.branch"),
        ] {
            let config = DeployConfig {
                command: None,
                git: Some(GitTarget {
                    remote: remote.into(),
                    branch: branch.into(),
                }),
            };
            assert_eq!(config.check().unwrap_err().0, key, "{remote} {branch}");
        }
    }
}
