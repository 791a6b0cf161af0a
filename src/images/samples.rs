//! The sample users' own pictures, shipped beside them (`<sample_users_dir>/images/`), put in the
//! image cache as if the CDN had sent them: so the demo site built offline on a fresh clone shows
//! its people as they are meant to look, and asks no one for anything. It must not fetch.
//!
//! A picture's file is named by the CDN URL it stands for: the URL's path below the CDN, without
//! its extension and query, plus the extension of the file (`avatars/<id>/<hash>.png` stands for
//! `…/avatars/<id>/<hash>.webp?size=256` and every other size and format of that avatar).

use std::path::{Path, PathBuf};

use super::image_urls;
use super::sniff::{self, MAX_IMAGE_BYTES};
use crate::discord::cdn::Cdn;
use crate::discord::models::Snapshot;
use crate::files::{Confined, FileError};
use crate::publish::Publish;
use crate::store::{unix_now, Store, StoreError};

/// The folder beside the samples that holds their pictures.
const SAMPLE_IMAGES: &str = "images";

/// The extensions a sample's picture may have, in the order they are looked for.
const EXTENSIONS: [&str; 4] = ["png", "webp", "jpg", "gif"];

/// Why a sample's picture could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SampleImageError {
    /// The file is not a picture strife-gen publishes, or is too large.
    #[error("{}: {detail}", path.display())]
    Bad { path: PathBuf, detail: String },
    /// The file cannot be read, or resolves outside the samples' folder.
    #[error(transparent)]
    File(#[from] FileError),
    /// The cache could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Caches the shipped picture of every image URL of `samples` (shown with everything) that the
/// cache lacks; `dir` is the samples' folder. Returns how many were cached. Blocking.
pub(crate) fn seed(
    store: &Store,
    cdn: &Cdn,
    dir: &Path,
    samples: &[Snapshot],
) -> Result<usize, SampleImageError> {
    let images = dir.join(SAMPLE_IMAGES);
    if !images.is_dir() {
        return Ok(0);
    }
    let folder = Confined::new("site.sample_users_dir", dir).map_err(|source| FileError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let everything = Publish {
        connections: true,
        guilds: true,
    };
    let mut cached = 0;
    for sample in samples {
        for url in image_urls(sample, everything, cdn) {
            if store.image_file(&url)?.is_some() {
                continue;
            }
            let Some(path) = shipped_file(&folder, &images, cdn, &url)? else {
                continue;
            };
            let bytes = folder.read(&path)?;
            let file = checked_name(&path, &bytes)?;
            store.save_image(&url, &file, &bytes, unix_now())?;
            cached += 1;
        }
    }
    Ok(cached)
}

/// The shipped file that stands for `url`, when there is one.
fn shipped_file(
    folder: &Confined,
    images: &Path,
    cdn: &Cdn,
    url: &str,
) -> Result<Option<PathBuf>, FileError> {
    let Some(path) = url.strip_prefix(&cdn.url("")) else {
        return Ok(None);
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let stem = path.rsplit_once('.').map_or(path, |(stem, _)| stem);
    // A CDN path is made of ids, hashes and fixed words; anything else is not looked for.
    if stem
        .split('/')
        .any(|part| part.is_empty() || part.starts_with('.'))
    {
        return Ok(None);
    }
    for extension in EXTENSIONS {
        let candidate = images.join(format!("{stem}.{extension}"));
        if folder
            .resolve(&candidate)?
            .is_some_and(|real| real.is_file())
        {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// The copy's name for the picture at `path`, checked as a downloaded one is.
fn checked_name(path: &Path, bytes: &[u8]) -> Result<String, SampleImageError> {
    let bad = |detail: String| SampleImageError::Bad {
        path: path.to_owned(),
        detail,
    };
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(bad("larger than 8 MB".into()));
    }
    let extension = sniff::image_extension(bytes).map_err(|e| bad(e.to_string()))?;
    Ok(sniff::file_name(bytes, extension))
}
