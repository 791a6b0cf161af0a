//! Owns vanity URLs: which user gets which `<slug>/`.
//! It must not build a path from a raw name: only from a sanitised slug.
//!
//! Vanity URLs: `<slug>/` for a user's username, beside the stable `u/<id>/`.
//!
//! A slug is the only part of an output path made from user input, so it is built from a short
//! allow-list of characters ([`slug`]) and must not shadow anything the site itself publishes
//! or a server answers beside it ([`reserved_names`], plus whatever the build already put at the
//! top of the tree).
//!
//! Names are claimed, and each slug goes to one user, deterministically, whatever order the
//! profiles arrived in: a current username beats a former one (a rename never takes a URL from
//! someone who has that name now); then a username that *is* the slug beats one that only
//! sanitises to it (`ab` beats `A!b`); then the older account (smaller id) wins.

use std::collections::{BTreeMap, HashSet};

use crate::discord::models::Snowflake;

/// Top-level names of the site a vanity URL never takes: the site's own files and folders and
/// files static hosts read (`CNAME`, `_headers`, `_redirects` of Netlify and Cloudflare Pages,
/// GitHub Pages' `_config.yml`). The servers' paths come from the servers themselves, see
/// [`reserved_names`]. Compared case-insensitively, since some file systems are.
pub(crate) const RESERVED: &[&str] = &[
    "u",
    "static",
    crate::site::conventions::INDEX_PAGES,
    "index.html",
    "404.html",
    "sitemap.xml",
    "robots.txt",
    crate::site::render::PREVIEW_FILE,
    // The site's copies of Discord's images: a vanity page there would be pruned with them.
    crate::site::conventions::IMAGE_DIR,
    "cname",
    "favicon.ico",
    "_headers",
    "_redirects",
    "_config.yml",
];

/// Every top-level name a vanity URL never takes: [`RESERVED`], the first path segment of every
/// route of `strife-gen serve` (in case it shares the site's host; its router answers no other
/// segment, see [`crate::routes::ROUTE_SEGMENTS`]) and the path of `watch`'s preview.
pub fn reserved_names() -> impl Iterator<Item = &'static str> {
    RESERVED
        .iter()
        .chain(crate::routes::ROUTE_SEGMENTS.iter())
        .chain(std::iter::once(&crate::routes::PREVIEW_SEGMENT))
        .copied()
}

/// Longest slug: far above Discord's 32-character names, far below file-name limits.
const MAX_SLUG_LEN: usize = 64;

/// The folder name for `name`: lower-cased, only `[a-z0-9_.-]` kept, everything else dropped.
/// `None` when nothing usable is left: empty, `.`, `..`, a leading dot (hidden files, which
/// static hosts do not serve), or too long. Reserved names are checked by [`resolve`].
pub(crate) fn slug(name: &str) -> Option<String> {
    let slug: String = name
        .to_lowercase()
        .chars()
        .filter(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '.' | '-'))
        .collect();
    let usable = !slug.is_empty() && !slug.starts_with('.') && slug.len() <= MAX_SLUG_LEN;
    usable.then_some(slug)
}

/// Whether `slug` may not be used: one of [`reserved_names`], or one of `taken` (lower-case
/// names the site already has at its top level).
pub fn is_reserved(slug: &str, taken: &HashSet<String>) -> bool {
    let lower = slug.to_lowercase();
    // `sitemap-<n>.xml` parts appear once a site outgrows one sitemap: keep them all free.
    let sitemap_part = lower.starts_with("sitemap") && lower.ends_with(".xml");
    lower.starts_with('.')
        || sitemap_part
        || reserved_names().any(|name| name.eq_ignore_ascii_case(&lower))
        || taken.contains(&lower)
}

/// A user asking for vanity URLs: their current username and the ones they had before.
#[derive(Debug, Clone)]
pub(crate) struct Claimant<'a> {
    pub(crate) id: Snowflake,
    pub(crate) username: &'a str,
    pub(crate) old_names: &'a [String],
}

/// Whether a vanity URL is for the name a user has now or one they had before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum NameKind {
    Current,
    Former,
}

/// A slug given to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VanityUrl {
    pub(crate) slug: String,
    pub(crate) id: Snowflake,
    pub(crate) kind: NameKind,
}

/// One user's claim on one slug; orders best first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Claim<'a> {
    kind: NameKind,
    /// `false` when the name is exactly the slug (sorts first).
    sanitised: bool,
    id: Snowflake,
    name: &'a str,
}

/// Gives every usable slug to one claimant (see the module docs for who wins). Returns the
/// vanity URLs sorted by slug; every name that got no URL is logged with the reason.
pub(crate) fn resolve<'a>(
    claimants: impl IntoIterator<Item = Claimant<'a>>,
    taken: &HashSet<String>,
) -> Vec<VanityUrl> {
    let mut claims: BTreeMap<String, Vec<Claim<'a>>> = BTreeMap::new();
    for claimant in claimants {
        let current = std::iter::once((NameKind::Current, claimant.username));
        let former = claimant
            .old_names
            .iter()
            .map(|name| (NameKind::Former, name.as_str()));
        for (kind, name) in current.chain(former) {
            let Some(slug) = slug(name) else {
                if kind == NameKind::Current {
                    tracing::info!(
                        user = %claimant.id,
                        name,
                        "no vanity URL: nothing usable in the name"
                    );
                }
                continue;
            };
            if is_reserved(&slug, taken) {
                if kind == NameKind::Current {
                    tracing::info!(
                        user = %claimant.id,
                        name,
                        "no vanity URL: /{slug}/ is reserved for the site"
                    );
                }
                continue;
            }
            let claim = Claim {
                kind,
                sanitised: name != slug,
                id: claimant.id,
                name,
            };
            let entry = claims.entry(slug).or_default();
            // A user whose names sanitise alike (`Foo`, `foo`) keeps only their best claim.
            match entry.iter_mut().find(|c| c.id == claim.id) {
                Some(existing) if claim < *existing => *existing = claim,
                Some(_) => {}
                None => entry.push(claim),
            }
        }
    }
    claims
        .into_iter()
        .map(|(slug, mut contenders)| {
            contenders.sort();
            let winner = &contenders[0];
            for loser in &contenders[1..] {
                tracing::info!(
                    "vanity URL /{slug}/ goes to user {} ({:?} name {:?}), not to user {} ({:?} name {:?})",
                    winner.id,
                    winner.kind,
                    winner.name,
                    loser.id,
                    loser.kind,
                    loser.name
                );
            }
            VanityUrl {
                id: winner.id,
                kind: winner.kind,
                slug,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimant<'a>(id: u64, username: &'a str, old_names: &'a [String]) -> Claimant<'a> {
        Claimant {
            id: Snowflake(id),
            username,
            old_names,
        }
    }

    fn urls(claimants: Vec<Claimant<'_>>) -> Vec<(String, u64, NameKind)> {
        resolve(claimants, &HashSet::new())
            .into_iter()
            .map(|v| (v.slug, v.id.0, v.kind))
            .collect()
    }

    #[test]
    fn slugs_keep_only_safe_characters() {
        assert_eq!(slug("nelly").as_deref(), Some("nelly"));
        assert_eq!(slug("Nelly.Dev_2").as_deref(), Some("nelly.dev_2"));
        assert_eq!(slug("my-name").as_deref(), Some("my-name"));
        assert_eq!(slug("A B/C\\D").as_deref(), Some("abcd"));
        assert_eq!(slug("../../etc/passwd").as_deref(), None, "leading dot");
        assert_eq!(slug("x/../../etc").as_deref(), Some("x....etc"));
        assert_eq!(slug("<script>").as_deref(), Some("script"));
        assert_eq!(slug("bad\0name\n").as_deref(), Some("badname"));
        assert_eq!(slug("Ñandú").as_deref(), Some("and"));
        assert_eq!(
            slug("ＡＢＣ").as_deref(),
            None,
            "full-width letters are not ASCII"
        );
        assert_eq!(slug("İstanbul").as_deref(), Some("istanbul"));
        assert_eq!(slug("😀🎉"), None);
        assert_eq!(slug("%2e%2e").as_deref(), Some("2e2e"));
    }

    #[test]
    fn unusable_slugs_are_refused() {
        for name in [
            "", ".", "..", "...", ".hidden", "./", "/", "🙂.", ".🙂x", "\u{202E}",
        ] {
            assert_eq!(slug(name), None, "{name:?}");
        }
        assert_eq!(slug(&"a".repeat(64)).map(|s| s.len()), Some(64));
        assert_eq!(slug(&"a".repeat(65)), None);
    }

    #[test]
    fn reserved_names_never_become_vanity_urls() {
        let taken: HashSet<String> = ["about".to_owned()].into();
        for name in [
            "u",
            "U",
            "static",
            "Static",
            "page",
            "Page",
            "index.html",
            "404.html",
            "sitemap.xml",
            "sitemap-2.xml",
            "Sitemap-10.XML",
            "robots.txt",
            "og.png",
            "OG.PNG",
            "CNAME",
            "cname",
            "favicon.ico",
            "_redirects",
            "login",
            "about",
        ] {
            let claimants = [claimant(1, name, &[])];
            assert_eq!(resolve(claimants, &taken), [], "{name:?}");
        }
        assert!(is_reserved(".nojekyll", &taken));
        assert!(!is_reserved("nelly", &taken));
    }

    #[test]
    fn the_services_the_previews_routes_and_the_image_folder_are_reserved() {
        let none = HashSet::new();
        for name in [
            "webhooks", "Webhooks", "__strife", "healthz", "callback", "img", "IMG",
        ] {
            assert!(is_reserved(name, &none), "{name}");
            assert_eq!(resolve([claimant(1, name, &[])], &none), [], "{name:?}");
        }
    }

    #[test]
    fn current_names_beat_former_names() {
        let old = ["nelly".to_owned()];
        // User 1 was "nelly", user 2 is "nelly" now: user 2 has the URL, whatever the order.
        let expected = vec![
            ("nelly".to_owned(), 2, NameKind::Current),
            ("nelly2".to_owned(), 1, NameKind::Current),
        ];
        assert_eq!(
            urls(vec![claimant(1, "nelly2", &old), claimant(2, "nelly", &[])]),
            expected
        );
        assert_eq!(
            urls(vec![claimant(2, "nelly", &[]), claimant(1, "nelly2", &old)]),
            expected
        );
    }

    #[test]
    fn exact_names_beat_sanitised_ones_then_older_accounts_win() {
        // "ab" is user 9's name; user 1's "A!b" only sanitises to it.
        assert_eq!(
            urls(vec![claimant(1, "A!b", &[]), claimant(9, "ab", &[])]),
            [("ab".to_owned(), 9, NameKind::Current)]
        );
        // Legacy names can be shared: the older account (smaller id) wins.
        assert_eq!(
            urls(vec![claimant(9, "Twin", &[]), claimant(3, "Twin", &[])]),
            [("twin".to_owned(), 3, NameKind::Current)]
        );
        // Two former owners: the older account.
        let old = ["gone".to_owned()];
        assert_eq!(
            urls(vec![claimant(9, "x9", &old), claimant(3, "x3", &old)])[0],
            ("gone".to_owned(), 3, NameKind::Former)
        );
    }

    #[test]
    fn a_users_own_former_spelling_does_not_compete_with_their_name() {
        let old = ["Nelly".to_owned(), "old".to_owned(), "..".to_owned()];
        assert_eq!(
            urls(vec![claimant(1, "nelly", &old)]),
            [
                ("nelly".to_owned(), 1, NameKind::Current),
                ("old".to_owned(), 1, NameKind::Former)
            ]
        );
    }
}
