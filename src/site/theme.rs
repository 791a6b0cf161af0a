//! Loading a theme: its template sources and static files, with whatever it lacks taken from the
//! fallback theme, every file confined to the themes folder. It must not compile or render.
//!
//! A theme may hold only some templates and static files: whatever it lacks comes from the fallback
//! theme, the `default` folder beside it (`<themes_dir>/default`). Templates of the theme replace
//! the fallback's of the same name, so `{% extends "base.html" %}` in a fallback page uses the
//! theme's layout. Static files are published under content-hashed names ([`assets`]). Font files
//! (`fonts/*.ttf`, `*.otf`) are what the link preview is drawn with; they are not published.

pub(crate) mod assets;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::files::{is_ignored, Confined, FileError};

use self::assets::{Asset, Assets};

/// Templates every theme must have.
pub(crate) const REQUIRED_TEMPLATES: [&str; 6] = [
    "base.html",
    "profile.html",
    "index.html",
    "landing.html",
    "message.html",
    "404.html",
];

/// What is wrong with a theme's folders or files. Messages name the file.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("theme folder {} does not exist or is not a folder", path.display())]
    /// The theme folder does not exist.
    Missing {
        /// The file or folder concerned.
        path: PathBuf,
    },
    #[error("theme templates folder {} does not exist or is not a folder", path.display())]
    /// The theme has no `templates/` folder.
    TemplatesDirMissing {
        /// The file or folder concerned.
        path: PathBuf,
    },
    #[error("theme is missing the required template {}", path.display())]
    /// A template every theme needs is missing.
    TemplateMissing {
        /// The file or folder concerned.
        path: PathBuf,
    },
    #[error("cannot read template {}: {error}", path.display())]
    /// A theme file cannot be read.
    Read {
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A template, static file or theme folder that resolves outside `site.themes_dir`.
    #[error("{0}")]
    Outside(#[source] FileError),
}

impl From<FileError> for ThemeError {
    fn from(error: FileError) -> Self {
        match error {
            FileError::Read { path, source } => ThemeError::Read {
                path,
                error: source,
            },
            outside @ FileError::Outside { .. } => ThemeError::Outside(outside),
        }
    }
}

/// A theme as read from disk: template sources and static files.
#[derive(Debug)]
pub(crate) struct Theme {
    pub(crate) templates: Templates,
    pub(crate) assets: Assets,
    /// The font files of `fonts/`, by name.
    pub(crate) fonts: Vec<ThemeFont>,
}

/// One font file of a theme's `fonts/` folder.
#[derive(Debug, Clone)]
pub(crate) struct ThemeFont {
    pub(crate) path: PathBuf,
    pub(crate) bytes: Vec<u8>,
}

/// The extensions of the font files a theme's `fonts/` folder may hold (its licence text and
/// anything else there is left alone).
const FONT_EXTENSIONS: [&str; 3] = ["ttf", "otf", "ttc"];

/// A theme's template sources, by name.
#[derive(Debug)]
pub(crate) struct Templates {
    /// `<theme>/templates`, where a template the theme lacks is reported missing.
    pub(crate) dir: PathBuf,
    /// Name (`/`-separated, relative to a templates folder) → where it was read from (in the
    /// theme or the fallback theme) and its source.
    pub(crate) files: BTreeMap<String, TemplateFile>,
}

/// One template's file and source.
#[derive(Debug, Clone)]
pub(crate) struct TemplateFile {
    pub(crate) path: PathBuf,
    pub(crate) source: String,
}

impl Theme {
    /// Reads every template under `<theme_dir>/templates` and every file under
    /// `<theme_dir>/static`, and those of the fallback theme that the theme does not replace.
    /// Every file read (and the theme folders themselves) must resolve inside the themes folder,
    /// the theme folder's parent (`site.themes_dir`).
    pub(crate) fn load(theme_dir: &Path) -> Result<Theme, ThemeError> {
        if !theme_dir.is_dir() {
            return Err(ThemeError::Missing {
                path: theme_dir.to_path_buf(),
            });
        }
        let themes = themes_folder(theme_dir)?;
        themes.resolve(theme_dir)?;
        let fallback = fallback_theme(theme_dir);
        if let Some(fallback) = &fallback {
            themes.resolve(fallback)?;
        }
        let theme_dirs: Vec<&Path> = fallback
            .iter()
            .map(PathBuf::as_path)
            .chain([theme_dir])
            .collect();
        let templates = load_templates(&themes, theme_dir, &theme_dirs)?;
        let assets = load_assets(&themes, &theme_dirs)?;
        let fonts = load_fonts(&themes, &theme_dirs)?;
        Ok(Theme {
            templates,
            assets,
            fonts,
        })
    }
}

impl Templates {
    /// Fails on the first of [`REQUIRED_TEMPLATES`] that neither the theme nor the fallback has.
    pub(crate) fn check_required(&self) -> Result<(), ThemeError> {
        match REQUIRED_TEMPLATES
            .iter()
            .find(|name| !self.files.contains_key(**name))
        {
            Some(name) => Err(ThemeError::TemplateMissing {
                path: self.dir.join(name),
            }),
            None => Ok(()),
        }
    }

    /// The file the template `name` was read from; for a name the theme does not have, where it
    /// would be.
    pub(crate) fn path_of(&self, name: &str) -> PathBuf {
        self.files
            .get(name)
            .map(|file| file.path.clone())
            .unwrap_or_else(|| self.dir.join(name))
    }
}

/// The templates of each folder of `theme_dirs` (later ones replace earlier ones of the same name).
fn load_templates(
    themes: &Confined,
    theme_dir: &Path,
    theme_dirs: &[&Path],
) -> Result<Templates, ThemeError> {
    let dir = theme_dir.join("templates");
    let mut files = BTreeMap::new();
    for theme in theme_dirs {
        let templates = theme.join("templates");
        if themes
            .resolve(&templates)?
            .is_some_and(|real| real.is_dir())
        {
            collect_templates(themes, &templates, &mut files)?;
        }
    }
    if files.is_empty() && !dir.is_dir() {
        return Err(ThemeError::TemplatesDirMissing { path: dir });
    }
    Ok(Templates { dir, files })
}

/// Reads every template file below `dir`, named by its `/`-separated path relative to the
/// templates folder (replacing a template of the same name already in `out`).
fn collect_templates(
    themes: &Confined,
    dir: &Path,
    out: &mut BTreeMap<String, TemplateFile>,
) -> Result<(), ThemeError> {
    for (name, path) in theme_files(themes, dir)? {
        let source = themes.read_to_string(&path)?;
        out.insert(name, TemplateFile { path, source });
    }
    Ok(())
}

/// Reads the `static/` folder of each theme folder in `theme_dirs`; a file of a later folder
/// replaces the file of the same name of an earlier one. Missing `static/` folders are fine.
/// Every file must resolve inside `themes` (the themes folder).
fn load_assets(themes: &Confined, theme_dirs: &[&Path]) -> Result<Assets, ThemeError> {
    let mut by_name = BTreeMap::new();
    for dir in theme_dirs {
        let static_dir = dir.join("static");
        if themes
            .resolve(&static_dir)?
            .is_some_and(|real| real.is_dir())
        {
            for (name, path) in theme_files(themes, &static_dir)? {
                let bytes = themes.read(&path)?;
                by_name.insert(name.clone(), Asset::new(name, path, bytes));
            }
        }
    }
    Ok(Assets::new(by_name))
}

/// The font files of the `fonts/` folder of each theme folder in `theme_dirs`, sorted by name; a
/// file of a later folder replaces the file of the same name of an earlier one.
fn load_fonts(themes: &Confined, theme_dirs: &[&Path]) -> Result<Vec<ThemeFont>, ThemeError> {
    let mut by_name = BTreeMap::new();
    for dir in theme_dirs {
        let fonts_dir = dir.join("fonts");
        if !themes
            .resolve(&fonts_dir)?
            .is_some_and(|real| real.is_dir())
        {
            continue;
        }
        for (name, path) in theme_files(themes, &fonts_dir)? {
            let extension = name
                .rsplit_once('.')
                .map(|(_, ext)| ext.to_ascii_lowercase());
            if extension.is_some_and(|ext| FONT_EXTENSIONS.contains(&ext.as_str())) {
                let bytes = themes.read(&path)?;
                by_name.insert(name, ThemeFont { path, bytes });
            }
        }
    }
    Ok(by_name.into_values().collect())
}

/// The folder the theme folder is in (`site.themes_dir`): what every theme file must stay inside.
fn themes_folder(theme_dir: &Path) -> Result<Confined, ThemeError> {
    let parent = match theme_dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Confined::new("site.themes_dir", parent).map_err(|error| ThemeError::Read {
        path: parent.to_path_buf(),
        error,
    })
}

/// `<themes_dir>/default` for a theme at `<themes_dir>/<name>`, when it exists and is not the
/// theme itself.
fn fallback_theme(theme_dir: &Path) -> Option<PathBuf> {
    let fallback = theme_dir.parent()?.join("default");
    let same = match (fs::canonicalize(&fallback), fs::canonicalize(theme_dir)) {
        (Ok(a), Ok(b)) => a == b,
        _ => return None,
    };
    (!same && fallback.is_dir()).then_some(fallback)
}

/// The files below a theme's `templates/` or `static/` folder, each with its `/`-separated name
/// relative to `dir`, sorted. Hidden files and folders and editor temp files are skipped
/// ([`crate::files::is_ignored`]), and so are names that are not UTF-8 (a template could not name
/// them). A link counts as the file it points to, which must be inside `themes`; a link to a
/// folder is not followed, but one that points outside `themes` is an error all the same.
fn theme_files(themes: &Confined, dir: &Path) -> Result<Vec<(String, PathBuf)>, ThemeError> {
    let hidden = |entry: &walkdir::DirEntry| entry.depth() > 0 && is_ignored(entry.path());
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !hidden(e))
    {
        let entry = entry.map_err(|error| ThemeError::Read {
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
    use super::*;

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
        let assets = load_assets(&themes, &[fallback.path(), theme.path()]).unwrap();
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

        let none = load_assets(&themes, &[tempfile::tempdir().unwrap().path()]).unwrap();
        assert_eq!(none.iter().count(), 0);
    }
}
