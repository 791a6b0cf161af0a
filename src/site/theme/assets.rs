//! A theme's static files, named by content for cache busting: plain data built from bytes
//! already read. It must not read files (that is [`super`]'s job) or know about templates.
//!
//! Every file under `static/` (of the fallback theme, then of the theme itself, which wins) is read
//! once when the theme is loaded. It is published as `static/<stem>.<hash>.<ext>` — `style.css`
//! becomes `style.3f2a9c1b.css`, where the hash is the first 8 hex digits of the SHA-256 of its
//! bytes — so a static host may cache it forever and a changed file gets a new name. Templates
//! ask for a file by its plain name through `static_url("style.css")`; the consent service
//! serves the same names from memory.
//!
//! Names inside a stylesheet (`url(font.woff2)`) are not rewritten: reference such files from a
//! template with `static_url`, or inline them.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// One static file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// `/`-separated path below `static/`, as templates name it: `style.css`, `img/logo.svg`.
    pub name: String,
    /// The published path below `static/`: `style.3f2a9c1b.css`, `img/logo.0c1d2e3f.svg`.
    pub hashed_name: String,
    /// The file it was read from (in the theme or in the fallback theme).
    pub(crate) source: PathBuf,
    pub(crate) bytes: Vec<u8>,
}

impl Asset {
    /// The file `name` (below `static/`) read from `source`, with its published name.
    pub(crate) fn new(name: String, source: PathBuf, bytes: Vec<u8>) -> Asset {
        Asset {
            hashed_name: hashed_name(&name, &bytes),
            name,
            source,
            bytes,
        }
    }
}

/// All static files of a theme, by plain name and by published name.
#[derive(Debug, Default)]
pub struct Assets {
    by_name: BTreeMap<String, Asset>,
    /// Published name → plain name.
    by_hashed_name: HashMap<String, String>,
}

impl Assets {
    /// The files in `by_name` (plain name → file), found by either name.
    pub(crate) fn new(by_name: BTreeMap<String, Asset>) -> Assets {
        let by_hashed_name = by_name
            .values()
            .map(|asset: &Asset| (asset.hashed_name.clone(), asset.name.clone()))
            .collect();
        Assets {
            by_name,
            by_hashed_name,
        }
    }

    /// The file templates call `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Asset> {
        self.by_name.get(name)
    }

    /// The file published as `static/<hashed_name>`.
    pub(crate) fn by_hashed_name(&self, hashed_name: &str) -> Option<&Asset> {
        self.by_hashed_name
            .get(hashed_name)
            .and_then(|name| self.by_name.get(name))
    }

    /// Every file, sorted by plain name.
    pub fn iter(&self) -> impl Iterator<Item = &Asset> {
        self.by_name.values()
    }

    /// Plain names, for error messages.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }
}

/// The first 8 hex digits of the SHA-256 of `bytes`: the hash in a published static file's name.
pub(crate) fn content_hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..4])
}

/// `dir/name.ext` → `dir/name.<hash>.ext` (`name.<hash>` without an extension); the hash goes
/// before the last extension so the file keeps its type (`app.min.js` → `app.min.<hash>.js`).
pub(crate) fn hashed_name(name: &str, bytes: &[u8]) -> String {
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

#[cfg(test)]
mod tests {
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
}
