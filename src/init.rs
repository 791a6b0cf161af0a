//! A new site from the files shipped inside the binary: config, themes, content, `.gitignore`.
//! It writes only into an empty folder and must never overwrite anything.

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir, DirEntry};

use crate::fault::Blame;

/// The shipped themes, embedded at compile time.
static THEMES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/themes");
/// The shipped configuration; its demo block is left out of a new site (see [`starter_config`]).
const SHIPPED_CONFIG: &str = include_str!("../strife.toml");
const DEMO_START: &str = "# --- demo:";
const DEMO_END: &str = "# --- end demo ---";
const STARTER_INDEX: &str = include_str!("../content/index.md");

/// Why a new site could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InitError {
    #[error("{} is not empty: `strife-gen init` only writes into an empty folder", .0.display())]
    NotEmpty(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Blame for InitError {
    /// A failed run (exit code 1), as `init` has always reported them.
    fn is_users_fault(&self) -> bool {
        false
    }
}

/// Writes `strife.toml`, `themes/`, `content/` and an empty `output/` into `dir`, which must be
/// empty (or not exist yet): init never overwrites anything.
pub(crate) fn init(dir: &Path) -> Result<(), InitError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|source| InitError::Read {
            path: dir.to_owned(),
            source,
        })?;
        if entries.next().is_some() {
            return Err(InitError::NotEmpty(dir.to_owned()));
        }
    }
    write(dir, "strife.toml", starter_config().as_bytes())?;
    write(dir, "content/index.md", STARTER_INDEX.as_bytes())?;
    write(dir, "output/.gitkeep", b"")?;
    write(
        dir,
        ".gitignore",
        b"/output/*\n!/output/.gitkeep\n/.output.*\n/output.lock\n/output.manifest\n/output.building\n/strife.db*\n/.env\n",
    )?;
    write_tree(&dir.join("themes"), &THEMES)
}

/// The shipped config without its demo block (example users are for this repository only).
pub(crate) fn starter_config() -> String {
    let mut in_demo = false;
    let mut out = String::with_capacity(SHIPPED_CONFIG.len());
    for line in SHIPPED_CONFIG.lines() {
        if line.starts_with(DEMO_START) {
            in_demo = true;
        } else if line.starts_with(DEMO_END) {
            in_demo = false;
        } else if !in_demo {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn write(dir: &Path, relative: &str, contents: &[u8]) -> Result<(), InitError> {
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| InitError::Write {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::write(&path, contents).map_err(|source| InitError::Write { path, source })
}

fn write_tree(target: &Path, dir: &Dir<'_>) -> Result<(), InitError> {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(sub) => write_tree(target, sub)?,
            DirEntry::File(file) => {
                let relative = file.path().to_string_lossy();
                write(target, &relative, file.contents())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn starter_config_parses_and_has_no_demo_users() {
        let text = starter_config();
        assert!(!text.contains("sample_users_dir"), "{text}");
        let config = Config::from_toml(&text, Path::new("/tmp/site/strife.toml")).unwrap();
        assert!(config.site.sample_users_dir.is_none());
    }

    #[test]
    fn shipped_config_parses() {
        let config = Config::from_toml(SHIPPED_CONFIG, Path::new("strife.toml")).unwrap();
        assert!(config.site.sample_users_dir.is_some());
    }

    #[test]
    fn init_writes_a_site_that_loads_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        init(&site).unwrap();
        let config = Config::load(&site.join("strife.toml")).unwrap();
        assert!(config.theme_dir().join("templates/profile.html").is_file());
        assert!(site.join("content/index.md").is_file());
        let error = init(&site).unwrap_err().to_string();
        assert!(error.contains("not empty"), "{error}");
    }
}
