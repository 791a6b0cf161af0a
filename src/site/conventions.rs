//! What static hosts and crawlers expect beside the pages: models and built-in templates of vanity
//! redirects, `sitemap.xml`, `robots.txt`, `CNAME` and JSON twins. It must not render or write files.
//!
//! The models here are what the built-in (theme-overridable) templates `redirect.html`,
//! `sitemap.xml` and `robots.txt` are rendered with; see [`BUILTIN_TEMPLATES`].

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::model::ProfileSummary;
use super::profile::Profile;
use super::vanity::NameKind;
use crate::discord::models::Snowflake;

/// Templates strife-gen brings itself; a theme overrides one by having a file of the same name.
pub(crate) const BUILTIN_TEMPLATES: [(&str, &str); 3] = [
    ("redirect.html", include_str!("builtin/redirect.html")),
    ("sitemap.xml", include_str!("builtin/sitemap.xml")),
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
            path: format!("{slug}/"),
            target: target.path.clone(),
            target_url: target_url.to_owned(),
            display_name: target.display_name.clone(),
            handle: target.handle.clone(),
            former: kind == NameKind::Former,
            current_path: match kind {
                NameKind::Former => current.map(|slug| format!("{slug}/")),
                NameKind::Current => None,
            },
        }
    }
}

/// The model of `sitemap.xml`: the index page (at `site.base_url`) and every profile's stable
/// URL. Vanity URLs are redirects and are left out, as sitemaps should.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Sitemap {
    /// When any profile last changed (W3C datetime).
    pub(crate) index_lastmod: Option<String>,
    pub(crate) pages: Vec<SitemapEntry>,
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
