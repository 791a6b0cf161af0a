//! Owns the `[site]` section and its rules.
//! It must not read the folders it names: the build does.
//!
//! `[site]`: the site's title and public URL, its theme, and the folders a build reads and writes.
//! Only the section and its own rules: resolving and comparing the paths is `config`'s work.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use serde::Deserialize;

use super::{HttpUrl, SectionCheck};

/// `[site]` in strife.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub(crate) title: String,
    /// Where the published site lives; page URLs and the consent page's links are built from it.
    pub(crate) base_url: HttpUrl,
    #[serde(default = "default_theme")]
    pub theme: String,
    #[serde(default = "default_output_dir")]
    pub output_dir: PathBuf,
    #[serde(default = "default_content_dir")]
    pub(crate) content_dir: PathBuf,
    #[serde(default = "default_themes_dir")]
    pub themes_dir: PathBuf,
    #[serde(default)]
    pub(crate) cname: Option<String>,
    /// Folder of example snapshots (`<id>.json`) rendered beside real users. Meant for a first run
    /// and for theme work; leave unset on a published site.
    #[serde(default)]
    pub(crate) sample_users_dir: Option<PathBuf>,
    /// Profiles per index page: `/` has the first ones, `/page/2/` the next, and so on.
    #[serde(default = "default_page_size")]
    pub(crate) page_size: NonZeroUsize,
    /// Where pages take Discord's images from: the site's own copies (the default) or the CDN.
    #[serde(default)]
    pub(crate) images: ImageMode,
}

/// `site.images`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ImageMode {
    /// Every image a page uses is downloaded at build time into `output/img/` and the pages point
    /// there: a visitor's browser sends nothing to Discord, and pages survive CDN URL changes.
    #[default]
    Mirror,
    /// Pages point at Discord's CDN.
    Link,
}

impl SiteConfig {
    /// Rules a single field's type cannot express; `Err` names the key.
    pub(super) fn check(&self) -> SectionCheck {
        if self.title.trim().is_empty() {
            return Err(("site.title", "must not be empty".into()));
        }
        let theme = &self.theme;
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if theme.is_empty() || !theme.chars().all(plain) {
            return Err((
                "site.theme",
                format!("{theme:?} must be a folder name (letters, digits, - and _)"),
            ));
        }
        if let Some(cname) = &self.cname {
            let host_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
            if cname.is_empty() || !cname.chars().all(host_char) {
                return Err(("site.cname", format!("{cname:?} is not a host name")));
            }
        }
        Ok(())
    }
}

/// `site.page_size` when strife.toml does not set it.
pub(crate) const DEFAULT_PAGE_SIZE: NonZeroUsize = NonZeroUsize::new(100).unwrap();

fn default_page_size() -> NonZeroUsize {
    DEFAULT_PAGE_SIZE
}
fn default_theme() -> String {
    "default".to_owned()
}
fn default_output_dir() -> PathBuf {
    PathBuf::from("output")
}
fn default_content_dir() -> PathBuf {
    PathBuf::from("content")
}
fn default_themes_dir() -> PathBuf {
    PathBuf::from("themes")
}
