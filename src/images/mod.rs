//! Owns the site's own copies of Discord's images (`site.images = "mirror"`): which images a page
//! uses, fetching the missing ones into the store once ([`fetch`]), checking what they are
//! ([`sniff`]) and pointing a page at the copies ([`localise`]). It must not write output files
//! (the site plan publishes them) nor fail a build: an image that cannot be had stays a CDN URL,
//! with a warning. The sample users' pictures ship with them ([`samples`]).
//!
//! A CDN URL names one image for good (a new avatar has a new hash, so a new URL), which is why
//! the cache is keyed by URL and an image in it is never fetched again. Copies are named by their
//! content (`<hash>.<ext>`), so two URLs of the same bytes share one file.

pub(crate) mod fetch;
pub(crate) mod samples;
pub(crate) mod sniff;

use crate::digest::KeyBuilder;
use crate::discord::cdn::Cdn;
use crate::discord::models::Snapshot;
use crate::publish::Publish;
use crate::site::conventions::IMAGE_DIR;
use crate::site::profile::Profile;
use crate::store::{Store, StoreError};

/// The CDN URLs of every image the page of `snapshot` shows with `publish`, without duplicates.
pub(crate) fn image_urls(snapshot: &Snapshot, publish: Publish, cdn: &Cdn) -> Vec<String> {
    // Only the image URLs are used: the page's own URL does not matter here.
    let base = url::Url::parse("https://site.invalid/").expect("static URL is valid");
    let mut profile = Profile::build(snapshot, publish, cdn, &base);
    let mut urls: Vec<String> = profile
        .image_urls_mut()
        .into_iter()
        .map(|u| u.clone())
        .collect();
    urls.sort_unstable();
    urls.dedup();
    urls
}

/// Points every image of `profile` that the store has a copy of at `<root>img/<file>`, lists
/// the files in [`Profile::image_files`], and makes the link-preview image the copy's absolute
/// URL (`base`, ending with `/`). Images without a copy keep their CDN URL (the fetch warned).
pub(crate) fn localise(
    profile: &mut Profile,
    store: &Store,
    root: &str,
    base: &str,
) -> Result<(), StoreError> {
    let mut files = Vec::new();
    for url in profile.image_urls_mut() {
        if let Some(file) = store.image_file(url)? {
            *url = format!("{root}{IMAGE_DIR}/{file}");
            files.push(file);
        }
    }
    if let Some(path) = profile.avatar_still_url.strip_prefix(root) {
        profile.share_image_url = format!("{base}{path}");
    }
    files.sort_unstable();
    files.dedup();
    profile.image_files = files;
    Ok(())
}

/// The digest of which copies the page of `snapshot` uses: part of the page's inputs, so a copy
/// that arrives later re-renders the page and no-change builds render nothing.
pub(crate) fn images_key(store: &Store, urls: &[String]) -> Result<String, StoreError> {
    let mut key = KeyBuilder::new("images");
    for url in urls {
        key = key.text(url).json(&store.image_file(url)?);
    }
    Ok(key.finish().to_hex())
}
