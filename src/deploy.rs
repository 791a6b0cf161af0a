//! Running a deploy after a build that changed something: the user's command (`rsync`, `netlify
//! deploy`, ...) or a commit of `output/` to a git branch. Never changes `output/` or the config.
//!
//! The git deploy never rewrites history: each deploy is one commit whose parent is the branch's
//! current head at the remote, pushed without force. Its tree is exactly the output folder, built
//! with a private index in a cache repository, so neither the output folder nor any checkout of
//! the user's is touched.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::config::{DeployConfig, GitTarget, SECRET_VARS};

#[derive(Debug, thiserror::Error)]
/// Why `[deploy]` failed (the site itself is built).
pub enum DeployError {
    #[error("deploy command {program:?} could not be started: {source}")]
    /// The deploy command could not be started.
    Spawn {
        /// The command.
        program: String,
        /// What the system or library reported.
        source: std::io::Error,
    },
    #[error("deploy command {program:?} failed ({status}): {stderr}")]
    /// The deploy command exited with an error.
    CommandFailed {
        /// The command.
        program: String,
        /// How the command ended.
        status: String,
        /// The end of what it wrote to stderr.
        stderr: String,
    },
    #[error("git deploy to {remote} ({branch}): `git {step}` failed: {stderr}")]
    /// A git step of a git deploy failed.
    Git {
        /// The remote with any credentials replaced by `***`.
        remote: String,
        /// The branch pushed to.
        branch: String,
        /// The git command that failed.
        step: String,
        /// The end of what it wrote to stderr.
        stderr: String,
    },
    #[error("git deploy: cannot prepare {path}: {source}")]
    /// The git deploy's working copy cannot be prepared.
    Cache {
        /// The file or folder concerned.
        path: PathBuf,
        /// What the system or library reported.
        source: std::io::Error,
    },
}

/// What a deploy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeployOutcome {
    CommandRan,
    /// A new commit was pushed.
    Pushed {
        commit: String,
    },
    /// The branch already holds exactly this site.
    UpToDate,
}

/// Running a deploy. [`DeployConfig`] is the `[deploy]` section (`crate::config`); how it is
/// carried out lives here, so the configuration never depends on git or on processes.
impl DeployConfig {
    /// Publishes `output_dir`. `cache_dir` holds the git deploy's private repository.
    pub(crate) fn run(
        &self,
        output_dir: &Path,
        config_root: &Path,
        cache_dir: &Path,
        summary: &str,
    ) -> Result<DeployOutcome, DeployError> {
        if let Some(command) = &self.command {
            run_command(command, output_dir, config_root)?;
            return Ok(DeployOutcome::CommandRan);
        }
        match &self.git {
            Some(git) => git.publish(output_dir, cache_dir, summary),
            None => Ok(DeployOutcome::UpToDate),
        }
    }
}

impl GitTarget {
    fn publish(
        &self,
        output_dir: &Path,
        cache_dir: &Path,
        summary: &str,
    ) -> Result<DeployOutcome, DeployError> {
        let git = Git::new(self, cache_dir)?;
        // git resolves a relative work tree against the repository: hand it an absolute one.
        let output_dir = std::path::absolute(output_dir).map_err(|source| DeployError::Cache {
            path: output_dir.to_owned(),
            source,
        })?;
        let output_dir = output_dir.as_path();
        let parent = git.fetch_branch()?;
        let tree = git.tree_of(output_dir)?;
        if let Some(parent) = &parent {
            if git.run(["rev-parse", &format!("{parent}^{{tree}}")])? == tree {
                return Ok(DeployOutcome::UpToDate);
            }
        }
        let message = format!("Publish profiles: {summary}\n\nBuilt by strife-gen.");
        let mut args = vec!["commit-tree".to_owned(), tree, "-m".into(), message];
        if let Some(parent) = parent {
            args.extend(["-p".into(), parent]);
        }
        let commit = git.run(&args)?;
        // No force: if the branch moved at the remote meanwhile, the push is refused and the
        // next build deploys on top of the new head.
        git.run([
            "push",
            "--quiet",
            "origin",
            &format!("{commit}:refs/heads/{}", self.branch),
        ])?;
        Ok(DeployOutcome::Pushed { commit })
    }
}

/// A private repository used only to build and push deploy commits.
struct Git<'a> {
    target: &'a GitTarget,
    dir: PathBuf,
}

impl<'a> Git<'a> {
    fn new(target: &'a GitTarget, cache_dir: &Path) -> Result<Self, DeployError> {
        std::fs::create_dir_all(cache_dir).map_err(|source| DeployError::Cache {
            path: cache_dir.to_owned(),
            source,
        })?;
        let dir = std::path::absolute(cache_dir).map_err(|source| DeployError::Cache {
            path: cache_dir.to_owned(),
            source,
        })?;
        let git = Git { target, dir };
        if !git.dir.join("HEAD").exists() {
            git.run(["init", "--quiet", "--bare"])?;
        }
        // The remote may have changed in strife.toml since the cache was made.
        let _ = git.run(["remote", "remove", "origin"]);
        git.run(["remote", "add", "origin", &target.remote])?;
        Ok(git)
    }

    /// The branch's head at the remote, or `None` when the branch does not exist yet.
    fn fetch_branch(&self) -> Result<Option<String>, DeployError> {
        let branch = &self.target.branch;
        let heads = self.run([
            "ls-remote",
            "--heads",
            "origin",
            &format!("refs/heads/{branch}"),
        ])?;
        if heads.is_empty() {
            return Ok(None);
        }
        let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
        self.run(["fetch", "--quiet", "--no-tags", "origin", &refspec])?;
        self.run(["rev-parse", &format!("refs/remotes/origin/{branch}")])
            .map(Some)
    }

    /// Writes the output folder as a tree object, with an index of our own.
    fn tree_of(&self, output_dir: &Path) -> Result<String, DeployError> {
        let index = self.dir.join("strife-deploy.index");
        let _ = std::fs::remove_file(&index);
        let mut add = self.command([
            "--work-tree".as_ref(),
            output_dir.as_os_str(),
            "add".as_ref(),
            "--all".as_ref(),
            "--force".as_ref(),
            ".".as_ref(),
        ]);
        add.env("GIT_INDEX_FILE", &index);
        self.check("add", add.output())?;
        let mut write = self.command(["write-tree"]);
        write.env("GIT_INDEX_FILE", &index);
        self.check("write-tree", write.output())
    }

    fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new("git");
        without_secrets(&mut command)
            .arg("--git-dir")
            .arg(&self.dir)
            .args(args)
            // Deploys must not depend on (or be changed by) the user's global git settings.
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "strife-gen")
            .env("GIT_AUTHOR_EMAIL", "strife-gen@localhost")
            .env("GIT_COMMITTER_NAME", "strife-gen")
            .env("GIT_COMMITTER_EMAIL", "strife-gen@localhost")
            .env("GIT_TERMINAL_PROMPT", "0");
        command
    }

    fn run<I, S>(&self, args: I) -> Result<String, DeployError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<S> = args.into_iter().collect();
        let step = args
            .first()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .unwrap_or_default();
        self.check(&step, self.command(args).output())
    }

    fn check(&self, step: &str, output: std::io::Result<Output>) -> Result<String, DeployError> {
        // git may quote the remote (credentials and all) in its messages.
        let error = |stderr: String| DeployError::Git {
            remote: redact_credentials(&self.target.remote),
            branch: self.target.branch.clone(),
            step: step.to_owned(),
            stderr: redact_credentials(&stderr),
        };
        let output = output.map_err(|e| error(format!("cannot run git: {e}")))?;
        if !output.status.success() {
            return Err(error(tail(&output.stderr)));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }
}

fn run_command(
    command: &[String],
    output_dir: &Path,
    config_root: &Path,
) -> Result<(), DeployError> {
    let program = command[0].clone();
    let output = without_secrets(&mut Command::new(&program))
        .args(&command[1..])
        .current_dir(config_root)
        .env("STRIFE_OUTPUT_DIR", output_dir)
        .output()
        .map_err(|source| DeployError::Spawn {
            program: program.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(DeployError::CommandFailed {
            program,
            status: output.status.to_string(),
            stderr: tail(&output.stderr),
        });
    }
    Ok(())
}

/// `command` with strife-gen's own secrets removed from the environment it inherits.
fn without_secrets(command: &mut Command) -> &mut Command {
    for name in SECRET_VARS {
        command.env_remove(name);
    }
    command
}

/// `scheme://user:token@host/…` → `scheme://***@host/…` wherever a URL occurs in `text`, so a
/// remote's credentials never reach an error message or a log.
pub(crate) fn redact_credentials(text: &str) -> String {
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + "://".len());
        redacted.push_str(before);
        let authority_end = after
            .find(|c: char| "/?#'\"<>`".contains(c) || c.is_whitespace())
            .unwrap_or(after.len());
        let (authority, after) = after.split_at(authority_end);
        match authority.rfind('@') {
            Some(end_of_userinfo) => {
                redacted.push_str("***");
                redacted.push_str(&authority[end_of_userinfo..]);
            }
            None => redacted.push_str(authority),
        }
        rest = after;
    }
    redacted.push_str(rest);
    redacted
}

/// The last lines of a program's error output, enough to see what went wrong.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    struct Fixture {
        dir: tempfile::TempDir,
        deploy: DeployConfig,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            git(dir.path(), &["init", "--quiet", "--bare", "remote.git"]);
            std::fs::create_dir_all(dir.path().join("output/u/1")).unwrap();
            let mut deploy = DeployConfig {
                command: None,
                git: Some(GitTarget {
                    remote: "remote.git".into(),
                    branch: "gh-pages".into(),
                }),
            };
            deploy.resolve_paths(dir.path());
            deploy.check().unwrap();
            Fixture { dir, deploy }
        }

        fn write(&self, path: &str, text: &str) {
            std::fs::write(self.dir.path().join("output").join(path), text).unwrap();
        }

        fn deploy(&self) -> DeployOutcome {
            let root = self.dir.path();
            self.deploy
                .run(&root.join("output"), root, &root.join("cache"), "test")
                .unwrap()
        }

        fn remote(&self, args: &[&str]) -> String {
            git(&self.dir.path().join("remote.git"), args)
        }
    }

    #[test]
    fn first_deploy_creates_the_branch_with_exactly_the_output() {
        let f = Fixture::new();
        f.write("index.html", "<h1>hi</h1>");
        f.write("u/1/index.html", "one");
        let DeployOutcome::Pushed { commit } = f.deploy() else {
            panic!("expected a push")
        };
        assert_eq!(f.remote(&["rev-parse", "gh-pages"]), commit);
        let files = f.remote(&["ls-tree", "-r", "--name-only", "gh-pages"]);
        assert_eq!(files, "index.html\nu/1/index.html");
        assert_eq!(f.remote(&["show", "gh-pages:u/1/index.html"]), "one");
    }

    #[test]
    fn unchanged_output_makes_no_commit_and_changes_stack_on_history() {
        let f = Fixture::new();
        f.write("index.html", "v1");
        let DeployOutcome::Pushed { commit: first } = f.deploy() else {
            panic!()
        };
        assert_eq!(f.deploy(), DeployOutcome::UpToDate);
        f.write("index.html", "v2");
        let DeployOutcome::Pushed { commit: second } = f.deploy() else {
            panic!()
        };
        // The new commit sits on top of the old one: no history was rewritten.
        assert_eq!(f.remote(&["rev-parse", &format!("{second}^")]), first);
    }

    #[test]
    fn existing_branches_and_history_are_kept() {
        let f = Fixture::new();
        // Someone else's history on gh-pages and another branch on the remote.
        let work = f.dir.path().join("work");
        git(f.dir.path(), &["clone", "--quiet", "remote.git", "work"]);
        std::fs::write(work.join("README"), "old site").unwrap();
        git(&work, &["add", "README"]);
        git(&work, &["commit", "--quiet", "-m", "old site"]);
        git(
            &work,
            &["push", "--quiet", "origin", "HEAD:refs/heads/gh-pages"],
        );
        git(
            &work,
            &["push", "--quiet", "origin", "HEAD:refs/heads/main"],
        );
        let old = f.remote(&["rev-parse", "gh-pages"]);

        f.write("index.html", "new");
        let DeployOutcome::Pushed { commit } = f.deploy() else {
            panic!()
        };
        assert_eq!(f.remote(&["rev-parse", &format!("{commit}^")]), old);
        assert_eq!(
            f.remote(&["rev-parse", "main"]),
            old,
            "other branches untouched"
        );
        assert_eq!(
            f.remote(&["ls-tree", "--name-only", "gh-pages"]),
            "index.html"
        );
    }

    #[test]
    fn an_unreachable_remote_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("output")).unwrap();
        let deploy = DeployConfig {
            command: None,
            git: Some(GitTarget {
                remote: dir
                    .path()
                    .join("missing.git")
                    .to_string_lossy()
                    .into_owned(),
                branch: "gh-pages".into(),
            }),
        };
        let error = deploy
            .run(
                &dir.path().join("output"),
                dir.path(),
                &dir.path().join("cache"),
                "x",
            )
            .unwrap_err()
            .to_string();
        assert!(error.contains("missing.git"), "{error}");
    }

    #[test]
    fn the_command_gets_the_output_dir_and_failures_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("deployed-from");
        let deploy = DeployConfig {
            command: Some(vec![
                "sh".into(),
                "-c".into(),
                format!("printf %s \"$STRIFE_OUTPUT_DIR\" > {}", marker.display()),
            ]),
            git: None,
        };
        let out = dir.path().join("output");
        assert_eq!(
            deploy.run(&out, dir.path(), dir.path(), "x").unwrap(),
            DeployOutcome::CommandRan
        );
        assert_eq!(
            std::fs::read_to_string(&marker).unwrap(),
            out.to_string_lossy()
        );

        let failing = DeployConfig {
            command: Some(vec![
                "sh".into(),
                "-c".into(),
                "echo nope >&2; exit 3".into(),
            ]),
            git: None,
        };
        let error = failing
            .run(&out, dir.path(), dir.path(), "x")
            .unwrap_err()
            .to_string();
        assert!(error.contains("nope") && error.contains('3'), "{error}");
    }

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact_credentials("https://user:ghp_secret@github.com/me/site.git"),
            "https://***@github.com/me/site.git"
        );
        assert_eq!(
            redact_credentials("fatal: unable to access 'https://x-access-token:t0k@h/x/': 403"),
            "fatal: unable to access 'https://***@h/x/': 403"
        );
        assert_eq!(
            redact_credentials("ssh://git@host:22/x"),
            "ssh://***@host:22/x"
        );
        // Nothing to hide: no URL userinfo (scp-like `user@host:` names no secret).
        for unchanged in [
            "https://github.com/me/site.git",
            "git@github.com:me/site.git",
            "/srv/pages.git",
            "see https://example.org/a@b for details",
        ] {
            assert_eq!(redact_credentials(unchanged), unchanged);
        }
    }

    #[test]
    fn git_errors_never_show_the_remote_s_credentials() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("output")).unwrap();
        // Port 1 on the loopback: refused at once, no network needed.
        let deploy = DeployConfig {
            command: None,
            git: Some(GitTarget {
                remote: "https://deployer:s3cr3t-t0ken@127.0.0.1:1/me/site.git".into(),
                branch: "gh-pages".into(),
            }),
        };
        let error = deploy
            .run(
                &dir.path().join("output"),
                dir.path(),
                &dir.path().join("cache"),
                "x",
            )
            .unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("s3cr3t-t0ken"), "{shown}");
        assert!(!shown.contains("deployer"), "{shown}");
        assert!(
            shown.contains("https://***@127.0.0.1:1/me/site.git"),
            "{shown}"
        );
    }

    /// Set (with the secrets) only in the copy of this test binary that
    /// [`deploy_children_do_not_inherit_secrets`] starts.
    const CHILD_MARKER: &str = "STRIFE_TEST_DEPLOY_CHILD";

    #[cfg(unix)]
    #[test]
    fn deploy_children_do_not_inherit_secrets() {
        if std::env::var_os(CHILD_MARKER).is_none() {
            // The secrets are given to a child copy of the test binary, not set in this process,
            // where other tests run concurrently.
            let name = "deploy::tests::deploy_children_do_not_inherit_secrets";
            let mut child = Command::new(std::env::current_exe().unwrap());
            child.args(["--exact", name, "--nocapture", "--test-threads=1"]);
            child.env(CHILD_MARKER, "1");
            for var in SECRET_VARS {
                child.env(var, format!("secret-value-of-{var}"));
            }
            let output = child.output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains("1 passed"),
                "{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            return;
        }
        for var in SECRET_VARS {
            assert!(std::env::var_os(var).is_some(), "the parent set {var}");
        }
        let assert_clean = |env_dump: &Path| {
            let env = std::fs::read_to_string(env_dump).unwrap();
            assert!(env.contains(&format!("{CHILD_MARKER}=1")), "{env}");
            for var in SECRET_VARS {
                assert!(!env.contains(var), "{var} leaked: {env}");
            }
            assert!(!env.contains("secret-value-of"), "{env}");
        };

        // The user's command.
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("command-env");
        let command = DeployConfig {
            command: Some(vec![
                "sh".into(),
                "-c".into(),
                format!("env > '{}'", dump.display()),
            ]),
            git: None,
        };
        command
            .run(&dir.path().join("output"), dir.path(), dir.path(), "x")
            .unwrap();
        assert_clean(&dump);

        // git, and what git starts: a hook of the receiving repository runs during the push.
        let f = Fixture::new();
        let dump = f.dir.path().join("hook-env");
        let hook = f.dir.path().join("remote.git/hooks/pre-receive");
        std::fs::write(&hook, format!("#!/bin/sh\nenv > '{}'\n", dump.display())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        f.write("index.html", "hi");
        assert!(matches!(f.deploy(), DeployOutcome::Pushed { .. }));
        assert_clean(&dump);
    }
}
