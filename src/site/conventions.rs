//! What static hosts and crawlers expect beside the pages: models and built-in templates of vanity
//! redirects, `sitemap.xml`, `robots.txt`, `CNAME` and JSON twins. It must not render or write files.
//!
//! The models here are what the built-in (theme-overridable) templates `redirect.html`,
//! `sitemap.xml` and `robots.txt` are rendered with; see [`BUILTIN_TEMPLATES`].

use std::num::NonZeroUsize;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::model::ProfileSummary;
use super::profile::{page_url, Profile};
use super::vanity::NameKind;
use crate::discord::models::Snowflake;

/// Templates strife-gen brings itself; a theme overrides one by having a file of the same name.
pub(crate) const BUILTIN_TEMPLATES: [(&str, &str); 4] = [
    ("redirect.html", include_str!("builtin/redirect.html")),
    ("sitemap.xml", include_str!("builtin/sitemap.xml")),
    (
        "sitemap_index.xml",
        include_str!("builtin/sitemap_index.xml"),
    ),
    ("robots.txt", include_str!("builtin/robots.txt")),
];

/// The source of the built-in template `name`.
pub(crate) fn builtin_template(name: &str) -> Option<&'static str> {
    BUILTIN_TEMPLATES
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(_, source)| *source)
}

/// A vanity URL: a tiny page that sends the browser on to the profile.
///
/// Why a redirect page and not a copy of the profile: every static host serves it (no server
/// rules needed), a page exists at exactly one address so search engines never see duplicates
/// (the canonical link points at the stable `u/<id>/`, and crawlers treat an immediate meta
/// refresh as a permanent redirect), and a rename only rewrites this small file. The page also
/// shows a plain link for browsers that do not follow refreshes.
///
/// A former name's page goes straight to the profile rather than through the new vanity URL:
/// one hop instead of two. It links the new vanity URL as well.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RedirectPage {
    /// This page's folder, relative to the site root: `nelly/`.
    pub(crate) path: String,
    /// Where it sends readers, relative to the site root: `u/<id>/`.
    pub(crate) target: String,
    /// The absolute URL of the target, for the canonical link.
    pub(crate) target_url: String,
    pub(crate) display_name: String,
    pub(crate) handle: String,
    /// Whether this is a name the user had before.
    pub(crate) former: bool,
    /// For a former name: the user's current vanity URL folder, when they have one.
    pub(crate) current_path: Option<String>,
}

impl RedirectPage {
    /// The page at `<slug>/` for the profile `target` (whose absolute URL is `target_url`);
    /// `current` is the user's current vanity slug, if any.
    pub(crate) fn new(
        slug: &str,
        kind: NameKind,
        target: &ProfileSummary,
        target_url: &str,
        current: Option<&str>,
    ) -> Self {
        RedirectPage {
            path: vanity_path(slug),
            target: target.path.clone(),
            target_url: target_url.to_owned(),
            display_name: target.display_name.clone(),
            handle: target.handle.clone(),
            former: kind == NameKind::Former,
            current_path: match kind {
                NameKind::Former => current.map(vanity_path),
                NameKind::Current => None,
            },
        }
    }
}

/// Where one index page stands among all of them, for `index.html`. Page 1 is the site's root;
/// page `n` lives at `page/<n>/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Pagination {
    /// This page's number, from 1.
    pub(crate) number: usize,
    /// How many index pages there are (at least 1, even with nobody published).
    pub(crate) count: usize,
    /// How many profiles are published in all.
    pub(crate) total: usize,
    /// This page's folder relative to the site root: `""` for page 1, `page/2/`, ...
    pub(crate) path: String,
    /// The previous page's folder, if there is one.
    pub(crate) prev: Option<String>,
    /// The next page's folder, if there is one.
    pub(crate) next: Option<String>,
}

impl Pagination {
    /// Cuts `items` into index pages of `size`; nobody published is one empty page.
    pub(crate) fn split<T>(items: &[T], size: NonZeroUsize) -> Vec<(Pagination, &[T])> {
        let chunks: Vec<&[T]> = if items.is_empty() {
            vec![items]
        } else {
            items.chunks(size.get()).collect()
        };
        let count = chunks.len();
        chunks
            .into_iter()
            .enumerate()
            .map(|(at, chunk)| {
                let number = at + 1;
                let pagination = Pagination {
                    number,
                    count,
                    total: items.len(),
                    path: index_page_path(number),
                    prev: (number > 1).then(|| index_page_path(number - 1)),
                    next: (number < count).then(|| index_page_path(number + 1)),
                };
                (pagination, chunk)
            })
            .collect()
    }
}

#[cfg(test)]
impl Pagination {
    /// The one index page of a site with `total` profiles.
    pub(crate) fn single(total: usize) -> Pagination {
        Pagination {
            number: 1,
            count: 1,
            total,
            path: String::new(),
            prev: None,
            next: None,
        }
    }
}

/// The folder of index page `number`: the root for page 1, `page/<n>/` after it.
fn index_page_path(number: usize) -> String {
    if number <= 1 {
        String::new()
    } else {
        format!("{INDEX_PAGES}/{number}/")
    }
}

/// The top-level folder of index pages after the first.
pub(crate) const INDEX_PAGES: &str = "page";

/// The model of `sitemap.xml`: the index page (at `site.base_url`) and every profile's stable
/// URL. Vanity URLs are redirects and are left out, as sitemaps should.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Sitemap {
    /// When any profile last changed (W3C datetime).
    pub(crate) index_lastmod: Option<String>,
    /// Whether this file lists the index page itself (the first part of a split sitemap does).
    pub(crate) with_root: bool,
    pub(crate) pages: Vec<SitemapEntry>,
}

/// Most URLs one sitemap file may list (the sitemap protocol's limit); past it, `sitemap.xml`
/// becomes a sitemap index of `sitemap-<n>.xml` files.
pub(crate) const SITEMAP_URL_LIMIT: usize = 50_000;

/// The model of `sitemap.xml` when it is a sitemap index: one entry per part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SitemapIndex {
    /// The parts, `sitemap-1.xml` first.
    pub(crate) parts: Vec<SitemapEntry>,
}

/// One `<url>` of the sitemap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SitemapEntry {
    /// Absolute URL.
    pub(crate) loc: String,
    /// When the page's data last changed (W3C datetime), when known.
    pub(crate) lastmod: Option<String>,
}

impl Sitemap {
    /// Builds the sitemap from `(absolute url, changed_at)` pairs, sorted by URL so the file is
    /// the same whatever order pages were rendered in.
    pub(crate) fn new(mut pages: Vec<(String, Option<i64>)>) -> Self {
        pages.sort();
        let index_lastmod = pages.iter().filter_map(|(_, at)| *at).max();
        Sitemap {
            index_lastmod: index_lastmod.and_then(w3c_datetime),
            with_root: true,
            pages: pages
                .into_iter()
                .map(|(loc, at)| SitemapEntry {
                    loc,
                    lastmod: at.and_then(w3c_datetime),
                })
                .collect(),
        }
    }
}

impl Sitemap {
    /// Cuts the sitemap into files of at most `limit` URLs (the index page counts in the first):
    /// one file when it fits, which is then `sitemap.xml` itself.
    pub(crate) fn split(self, limit: usize) -> Vec<Sitemap> {
        let limit = limit.max(2);
        if self.pages.len() < limit {
            return vec![self];
        }
        let mut pages = self.pages.into_iter();
        let mut parts = Vec::new();
        let mut room = limit - 1; // the first part lists the index page too
        loop {
            let chunk: Vec<SitemapEntry> = pages.by_ref().take(room).collect();
            if chunk.is_empty() {
                break;
            }
            parts.push(Sitemap {
                index_lastmod: self.index_lastmod.clone(),
                with_root: parts.is_empty(),
                pages: chunk,
            });
            room = limit;
        }
        parts
    }

    /// The newest `lastmod` in this file, for its entry in the sitemap index.
    fn lastmod(&self) -> Option<String> {
        let pages = self.pages.iter().filter_map(|page| page.lastmod.as_ref());
        let root = self.index_lastmod.as_ref().filter(|_| self.with_root);
        pages.chain(root).max().cloned()
    }
}

impl SitemapIndex {
    /// The index of `parts`, which live at `<base_url>sitemap-<n>.xml`.
    pub(crate) fn new(base_url: &url::Url, parts: &[Sitemap]) -> SitemapIndex {
        SitemapIndex {
            parts: parts
                .iter()
                .enumerate()
                .map(|(at, part)| SitemapEntry {
                    loc: page_url(base_url, &sitemap_part_path(at + 1)),
                    lastmod: part.lastmod(),
                })
                .collect(),
        }
    }
}

/// `sitemap-<n>.xml`: part `n` (from 1) of a split sitemap.
pub(crate) fn sitemap_part_path(number: usize) -> String {
    format!("sitemap-{number}.xml")
}

/// Unix seconds as a W3C datetime in UTC (`2024-05-01T12:00:00Z`), the format sitemaps use.
pub(crate) fn w3c_datetime(unix_seconds: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// `u/<id>.json`: the profile page's own model, so it holds exactly what the page shows (and
/// nothing the user did not publish). Pretty-printed with a final newline, for readable diffs.
pub(crate) fn profile_json(profile: &Profile) -> Result<Vec<u8>, serde_json::Error> {
    let mut json = serde_json::to_vec_pretty(profile)?;
    json.push(b'\n');
    Ok(json)
}

/// The folder of the vanity URL `slug`, relative to the site root: `nelly/`.
pub(crate) fn vanity_path(slug: &str) -> String {
    format!("{slug}/")
}

/// The folder of the site's copies of Discord's images (`site.images = "mirror"`):
/// `img/<content hash>.<ext>`.
pub(crate) const IMAGE_DIR: &str = "img";

/// Path of a profile's JSON twin: `u/<id>.json`.
pub(crate) fn json_path(id: Snowflake) -> String {
    format!("u/{id}.json")
}

/// `CNAME` for GitHub Pages (and hosts that copied it): the bare host name and a newline.
pub(crate) fn cname_file(host: &str) -> String {
    format!("{}\n", host.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_w3c_utc() {
        assert_eq!(w3c_datetime(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            w3c_datetime(1_714_564_800).as_deref(),
            Some("2024-05-01T12:00:00Z")
        );
        assert_eq!(w3c_datetime(i64::MAX), None);
    }

    #[test]
    fn sitemap_is_sorted_and_the_index_carries_the_latest_change() {
        let sitemap = Sitemap::new(vec![
            ("https://x.example/u/2/".into(), Some(200)),
            ("https://x.example/u/1/".into(), None),
            ("https://x.example/u/3/".into(), Some(100)),
        ]);
        let locs: Vec<_> = sitemap.pages.iter().map(|p| p.loc.as_str()).collect();
        assert_eq!(
            locs,
            [
                "https://x.example/u/1/",
                "https://x.example/u/2/",
                "https://x.example/u/3/"
            ]
        );
        assert_eq!(sitemap.pages[0].lastmod, None);
        assert_eq!(sitemap.index_lastmod, w3c_datetime(200));
        assert_eq!(Sitemap::new(vec![]).index_lastmod, None);
    }

    #[test]
    fn cname_is_one_line() {
        assert_eq!(cname_file("people.example.org"), "people.example.org\n");
    }
}

#[cfg(test)]
mod sitemap_tests {
    use super::*;

    fn sitemap(urls: usize) -> Sitemap {
        Sitemap::new(
            (0..urls)
                .map(|n| (format!("https://p.example/u/{n:03}/"), Some(n as i64 * 60)))
                .collect(),
        )
    }

    #[test]
    fn a_sitemap_that_fits_stays_whole() {
        let whole = sitemap(4).split(5);
        assert_eq!(whole.len(), 1);
        assert!(whole[0].with_root);
        assert_eq!(whole[0].pages.len(), 4);
    }

    #[test]
    fn parts_hold_at_most_the_limit_counting_the_root_in_the_first() {
        let parts = sitemap(5).split(5);
        let sizes: Vec<(bool, usize)> =
            parts.iter().map(|p| (p.with_root, p.pages.len())).collect();
        assert_eq!(sizes, [(true, 4), (false, 1)]);
        let index = SitemapIndex::new(&url::Url::parse("https://p.example/").unwrap(), &parts);
        assert_eq!(index.parts[1].loc, "https://p.example/sitemap-2.xml");
        // A part's lastmod is its newest page's (the first part also counts the root's).
        assert_eq!(index.parts[0].lastmod, w3c_datetime(4 * 60));
        assert_eq!(index.parts[1].lastmod, w3c_datetime(4 * 60));
        assert_eq!(sitemap(7).split(3).len(), 3, "2 + 3 + 2");
    }
}
