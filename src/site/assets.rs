//! A theme's static files, named by content for cache busting.
//!
//! Every file under `static/` (of the fallback theme, then of the theme itself, which wins) is read
//! once when the [`Renderer`](super::Renderer) is built. It is published as
//! `static/<stem>.<hash>.<ext>` — `style.css` becomes `style.3f2a9c1b.css`, where the hash is the
//! first 8 hex digits of the SHA-256 of its bytes — so a static host may cache it forever and a
//! changed file gets a new name. Templates ask for a file by its plain name through
//! `static_url("style.css")`; the consent service serves the same names from memory.
//!
//! Names inside a stylesheet (`url(font.woff2)`) are not rewritten: reference such files from a
//! template with `static_url`, or inline them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::files::{is_ignored, Confined};

use super::render::RenderError;

/// One static file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// `/`-separated path below `static/`, as templates name it: `style.css`, `img/logo.svg`.
    pub name: String,
    /// The published path below `static/`: `style.3f2a9c1b.css`, `img/logo.0c1d2e3f.svg`.
    pub hashed_name: String,
    /// The file it was read from (in the theme or in the fallback theme).
    pub source: PathBuf,
    pub bytes: Vec<u8>,
}

/// All static files of a theme, by plain name and by published name.
#[derive(Debug, Default)]
pub struct Assets {
    by_name: BTreeMap<String, Asset>,
    /// Published name → plain name.
    by_hashed_name: HashMap<String, String>,
}

impl Assets {
    /// Reads the `static/` folder of each theme folder in `dirs`; a file of a later folder
    /// replaces the file of the same name of an earlier one. Missing `static/` folders are fine.
    /// Every file must resolve inside `themes` (the themes folder).
    pub fn load(themes: &Confined, theme_dirs: &[&Path]) -> Result<Assets, RenderError> {
        let mut by_name = BTreeMap::new();
        for dir in theme_dirs {
            let static_dir = dir.join("static");
            if themes
                .resolve(&static_dir)?
                .is_some_and(|real| real.is_dir())
            {
                collect(themes, &static_dir, &mut by_name)?;
            }
        }
        let by_hashed_name = by_name
            .values()
            .map(|asset: &Asset| (asset.hashed_name.clone(), asset.name.clone()))
            .collect();
        Ok(Assets {
            by_name,
            by_hashed_name,
        })
    }

    /// The file templates call `name`.
    pub fn get(&self, name: &str) -> Option<&Asset> {
        self.by_name.get(name)
    }

    /// The file published as `static/<hashed_name>`.
    pub fn by_hashed_name(&self, hashed_name: &str) -> Option<&Asset> {
        self.by_hashed_name
            .get(hashed_name)
            .and_then(|name| self.by_name.get(name))
    }

    /// Every file, sorted by plain name.
    pub fn iter(&self) -> impl Iterator<Item = &Asset> {
        self.by_name.values()
    }

    /// Plain names, for error messages.
    pub fn names(&self) -> Vec<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }
}

/// The first 8 hex digits of the SHA-256 of `bytes`: the hash in a published static file's name.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..4])
}

/// `dir/name.ext` → `dir/name.<hash>.ext` (`name.<hash>` without an extension); the hash goes
/// before the last extension so the file keeps its type (`app.min.js` → `app.min.<hash>.js`).
pub fn hashed_name(name: &str, bytes: &[u8]) -> String {
    let hash = content_hash(bytes);
    let (folder, file) = match name.rsplit_once('/') {
        Some((folder, file)) => (format!("{folder}/"), file),
        None => (String::new(), name),
    };
    match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{folder}{stem}.{hash}.{ext}"),
        _ => format!("{folder}{file}.{hash}"),
    }
}

/// Reads every file below `dir` into `out`, named by its path relative to the static folder.
fn collect(
    themes: &Confined,
    dir: &Path,
    out: &mut BTreeMap<String, Asset>,
) -> Result<(), RenderError> {
    for (name, path) in theme_files(themes, dir)? {
        let bytes = themes.read(&path)?;
        let asset = Asset {
            hashed_name: hashed_name(&name, &bytes),
            name: name.clone(),
            source: path,
            bytes,
        };
        out.insert(name, asset);
    }
    Ok(())
}

/// The files below a theme's `templates/` or `static/` folder, each with its `/`-separated name
/// relative to `dir`, sorted. Hidden files and folders and editor temp files are skipped
/// ([`crate::files::is_ignored`]), and so are names that are not UTF-8 (a template could not name
/// them). A link counts as the file it points to, which must be inside `themes`; a link to a
/// folder is not followed, but one that points outside `themes` is an error all the same.
pub(super) fn theme_files(
    themes: &Confined,
    dir: &Path,
) -> Result<Vec<(String, PathBuf)>, RenderError> {
    let hidden = |entry: &walkdir::DirEntry| entry.depth() > 0 && is_ignored(entry.path());
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !hidden(e))
    {
        let entry = entry.map_err(|error| RenderError::Read {
            path: error.path().unwrap_or(dir).to_owned(),
            error: error.into(),
        })?;
        // walkdir does not follow links by itself (it does follow `dir`, checked by the caller).
        let is_file = if entry.depth() > 0 && entry.path_is_symlink() {
            themes
                .resolve(entry.path())?
                .is_some_and(|real| real.is_file())
        } else {
            entry.file_type().is_file()
        };
        if !is_file {
            continue;
        }
        let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        match relative.to_str() {
            Some(name) => files.push((
                name.replace(std::path::MAIN_SEPARATOR, "/"),
                entry.into_path(),
            )),
            None => {
                tracing::warn!(path = %entry.path().display(), "skipping a theme file whose name is not UTF-8")
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn hash_goes_before_the_last_extension() {
        let bytes = b"body{}";
        let hash = &hex::encode(Sha256::digest(bytes))[..8];
        assert_eq!(hashed_name("style.css", bytes), format!("style.{hash}.css"));
        assert_eq!(
            hashed_name("js/app.min.js", bytes),
            format!("js/app.min.{hash}.js")
        );
        assert_eq!(hashed_name("LICENSE", bytes), format!("LICENSE.{hash}"));
        assert_eq!(hashed_name("a.b/.x", bytes), format!("a.b/.x.{hash}"));
        assert_ne!(
            hashed_name("style.css", b"other"),
            hashed_name("style.css", bytes)
        );
    }

    #[test]
    fn later_themes_win_and_names_resolve_both_ways() {
        let fallback = tempfile::tempdir().unwrap();
        let theme = tempfile::tempdir().unwrap();
        let write = |dir: &Path, rel: &str, text: &str| {
            let path = dir.join("static").join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write(fallback.path(), "style.css", "fallback");
        write(fallback.path(), "img/logo.svg", "<svg/>");
        write(fallback.path(), ".style.css.swp", "junk");
        write(theme.path(), "style.css", "theme");

        let themes = Confined::new("site.themes_dir", &std::env::temp_dir()).unwrap();
        let assets = Assets::load(&themes, &[fallback.path(), theme.path()]).unwrap();
        assert_eq!(assets.names(), ["img/logo.svg", "style.css"]);
        let style = assets.get("style.css").unwrap();
        assert_eq!(style.bytes, b"theme");
        assert_eq!(style.source, theme.path().join("static/style.css"));
        assert_eq!(assets.by_hashed_name(&style.hashed_name), Some(style));
        assert!(assets
            .get("img/logo.svg")
            .unwrap()
            .hashed_name
            .starts_with("img/logo."));
        assert_eq!(assets.by_hashed_name("style.css"), None);

        let none = Assets::load(&themes, &[tempfile::tempdir().unwrap().path()]).unwrap();
        assert_eq!(none.iter().count(), 0);
    }
}
