//! Owns the display rules for Discord data: CDN image URLs, badges, links to accounts.
//! It must not fetch anything: it only turns ids and hashes into URLs and labels.
//!
//! Display facts about Discord data: CDN image URLs, badges and links to connected accounts.
//!
//! Everything Discord sends is untrusted. Image hashes only reach a URL when they look like a hash
//! (`[A-Za-z0-9_]`), and names of connected accounts are percent-encoded as path segments, so that
//! nothing a user typed on Discord can change the shape of a URL strife-gen publishes.
//!
//! The methods built on these helpers (`User::avatar_url`, `Connection::profile_url`, ...) live at
//! the end of [`super::models`].

use serde::Serialize;

/// Where Discord's images are served from, e.g. `https://cdn.discordapp.com`.
#[derive(Debug, Clone)]
pub(crate) struct Cdn {
    base: url::Url,
}

impl Cdn {
    /// The CDN at `base`; a path prefix (a caching proxy, say) is kept.
    pub(crate) fn new(base: url::Url) -> Self {
        Cdn { base }
    }

    /// `https://cdn.discordapp.com`.
    pub(crate) fn discord() -> Self {
        Cdn::new(url::Url::parse("https://cdn.discordapp.com").expect("static URL is valid"))
    }

    /// `<base>/<path>`; `path` must already be safe (built from snowflakes and checked hashes).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base.as_str().trim_end_matches('/'), path)
    }

    /// An image: `<base>/<dir>/<owner>/<hash>.webp?size=N`, animated hashes (`a_…`) as
    /// `.webp?animated=true&size=N` (animated WebP: one format for everything, smaller than GIF).
    /// `None` when the hash is missing or does not look like a hash.
    pub(crate) fn image(
        &self,
        dir: &str,
        owner: u64,
        hash: Option<&str>,
        size: u16,
    ) -> Option<String> {
        let hash = hash.filter(|h| is_safe_hash(h))?;
        let size = clamp_size(size);
        let query = if is_animated_hash(hash) {
            format!("animated=true&size={size}")
        } else {
            format!("size={size}")
        };
        Some(self.url(&format!("{dir}/{owner}/{hash}.webp?{query}")))
    }

    /// The same image as a still PNG (the first frame of an animated one): the format every link
    /// preview (Open Graph) understands.
    pub(crate) fn still_image(
        &self,
        dir: &str,
        owner: u64,
        hash: Option<&str>,
        size: u16,
    ) -> Option<String> {
        let hash = hash.filter(|h| is_safe_hash(h))?;
        let size = clamp_size(size);
        Some(self.url(&format!("{dir}/{owner}/{hash}.png?size={size}")))
    }
}

impl Cdn {
    /// An avatar decoration: an APNG at `avatar-decoration-presets/{asset}.png`; `still` asks
    /// for its first frame (`passthrough=false`), for readers who asked for reduced motion.
    pub(crate) fn decoration(&self, asset: &str, still: bool) -> Option<String> {
        let asset = Some(asset).filter(|a| is_safe_hash(a))?;
        let query = if still { "?passthrough=false" } else { "" };
        Some(self.url(&format!("avatar-decoration-presets/{asset}.png{query}")))
    }

    /// A server tag's badge: `guild-tag-badges/{guild}/{badge}.png` (PNG only).
    pub(crate) fn tag_badge(&self, guild: u64, badge: &str) -> Option<String> {
        let badge = Some(badge).filter(|b| is_safe_hash(b))?;
        Some(self.url(&format!("guild-tag-badges/{guild}/{badge}.png")))
    }

    /// A nameplate's still image, `assets/collectibles/{asset}static.png`. Not in Discord's
    /// official CDN table (community docs): best effort, and `None` for an asset that is not a
    /// plain relative folder path (`nameplates/nameplates/twilight/`).
    pub(crate) fn nameplate(&self, asset: &str) -> Option<String> {
        let folder = asset.strip_suffix('/')?;
        let plain = |segment: &str| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        let ok = asset.len() <= 256 && folder.split('/').all(plain);
        ok.then(|| self.url(&format!("assets/collectibles/{asset}static.png")))
    }
}

/// The colour of a nameplate's `palette` (Discord names them), as `#rrggbb`: the background
/// shown when the image cannot be had. `None` for a palette strife-gen does not know.
pub(crate) fn palette_color(palette: &str) -> Option<&'static str> {
    Some(match palette {
        "crimson" => "#8c1c2c",
        "berry" => "#8a2a6b",
        "sky" => "#1f5f99",
        "teal" => "#146b6b",
        "forest" => "#27603a",
        "bubble_gum" => "#b0457f",
        "violet" => "#5a3296",
        "cobalt" => "#23409a",
        "clover" => "#3c7a2a",
        "lemon" => "#8a7a10",
        "white" => "#7c8088",
        _ => return None,
    })
}

impl Default for Cdn {
    fn default() -> Self {
        Cdn::discord()
    }
}

/// A hash Discord sent is only put into a URL when it is non-empty `[A-Za-z0-9_]`.
pub(crate) fn is_safe_hash(hash: &str) -> bool {
    !hash.is_empty()
        && hash.len() <= 128
        && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Animated images have hashes starting with `a_`.
pub(crate) fn is_animated_hash(hash: &str) -> bool {
    hash.starts_with("a_")
}

/// Image sizes the CDN accepts: a power of two from 16 to 4096 (rounded up, then clamped).
pub(crate) fn clamp_size(size: u16) -> u16 {
    size.clamp(16, 4096).next_power_of_two()
}

/// One public badge of a user, from `public_flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Badge {
    /// Stable machine name, e.g. `early_supporter`: a theme may use it as a CSS class or icon name.
    pub(crate) key: &'static str,
    /// Human label, e.g. `Early Supporter`: what screen readers and tooltips say.
    pub(crate) label: &'static str,
}

/// The public flags worth showing, in Discord's own order. Internal flags (team pseudo-user, HTTP
/// interactions bot, spammer, ...) are deliberately absent.
const BADGES: &[(u64, Badge)] = &[
    (
        1 << 0,
        Badge {
            key: "staff",
            label: "Discord Staff",
        },
    ),
    (
        1 << 1,
        Badge {
            key: "partner",
            label: "Partnered Server Owner",
        },
    ),
    (
        1 << 2,
        Badge {
            key: "hypesquad",
            label: "HypeSquad Events Member",
        },
    ),
    (
        1 << 3,
        Badge {
            key: "bug_hunter_level_1",
            label: "Bug Hunter",
        },
    ),
    (
        1 << 6,
        Badge {
            key: "hypesquad_bravery",
            label: "HypeSquad Bravery",
        },
    ),
    (
        1 << 7,
        Badge {
            key: "hypesquad_brilliance",
            label: "HypeSquad Brilliance",
        },
    ),
    (
        1 << 8,
        Badge {
            key: "hypesquad_balance",
            label: "HypeSquad Balance",
        },
    ),
    (
        1 << 9,
        Badge {
            key: "early_supporter",
            label: "Early Supporter",
        },
    ),
    (
        1 << 14,
        Badge {
            key: "bug_hunter_level_2",
            label: "Bug Hunter Gold",
        },
    ),
    (
        1 << 16,
        Badge {
            key: "verified_bot",
            label: "Verified Bot",
        },
    ),
    (
        1 << 17,
        Badge {
            key: "verified_developer",
            label: "Early Verified Bot Developer",
        },
    ),
    (
        1 << 18,
        Badge {
            key: "certified_moderator",
            label: "Moderator Programs Alumni",
        },
    ),
    (
        1 << 22,
        Badge {
            key: "active_developer",
            label: "Active Developer",
        },
    ),
];

/// The named badges set in `public_flags`, in a stable order; unknown and internal bits are ignored.
pub(crate) fn badges(public_flags: u64) -> Vec<Badge> {
    BADGES
        .iter()
        .filter(|(bit, _)| public_flags & bit != 0)
        .map(|(_, badge)| *badge)
        .collect()
}

/// Human name of a connection type; `None` for types strife-gen does not know.
pub(crate) fn service_label(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "amazon-music" => "Amazon Music",
        "battlenet" => "Battle.net",
        "bluesky" => "Bluesky",
        "bungie" => "Bungie.net",
        "crunchyroll" => "Crunchyroll",
        "domain" => "Domain",
        "ebay" => "eBay",
        "epicgames" => "Epic Games",
        "facebook" => "Facebook",
        "github" => "GitHub",
        "instagram" => "Instagram",
        "leagueoflegends" => "League of Legends",
        "mastodon" => "Mastodon",
        "paypal" => "PayPal",
        "playstation" => "PlayStation Network",
        "reddit" => "Reddit",
        "riotgames" => "Riot Games",
        "roblox" => "Roblox",
        "skype" => "Skype",
        "spotify" => "Spotify",
        "steam" => "Steam",
        "tiktok" => "TikTok",
        "twitch" => "Twitch",
        "twitter" => "X",
        "xbox" => "Xbox",
        "youtube" => "YouTube",
        _ => return None,
    })
}

/// The public profile page of a connected account, for services that have one.
///
/// Names are percent-encoded as one path segment; ids that are meant to be opaque tokens must be
/// `[A-Za-z0-9_-]` (Steam and Roblox ids: digits). Anything else gives `None` rather than a guess.
pub(crate) fn connection_url(kind: &str, id: &str, name: &str) -> Option<String> {
    match kind {
        "github" => https("github.com", &[safe_name(name)?]),
        "twitch" => https("www.twitch.tv", &[safe_name(name)?]),
        "youtube" => https("www.youtube.com", &["channel", token(id)?]),
        "steam" => https("steamcommunity.com", &["profiles", digits(id)?]),
        "reddit" => https("www.reddit.com", &["user", safe_name(name)?]),
        "twitter" => https("x.com", &[safe_name(name)?]),
        "spotify" => https("open.spotify.com", &["user", token(id)?]),
        "tiktok" => https("www.tiktok.com", &[&format!("@{}", safe_name(name)?)]),
        "bluesky" => https("bsky.app", &["profile", safe_name(name)?]),
        "instagram" => https("www.instagram.com", &[safe_name(name)?]),
        "ebay" => https("www.ebay.com", &["usr", safe_name(name)?]),
        "roblox" => https("www.roblox.com", &["users", digits(id)?, "profile"]),
        "domain" => domain_url(name),
        // xbox, battlenet, playstation, riotgames, leagueoflegends, epicgames, skype, paypal,
        // facebook (name is a display name), crunchyroll, ...: no public profile URL.
        _ => None,
    }
}

/// `https://<host>/<segment>/...` with every segment percent-encoded.
fn https(host: &str, segments: &[&str]) -> Option<String> {
    let mut url = url::Url::parse(&format!("https://{host}/")).ok()?;
    url.path_segments_mut().ok()?.clear().extend(segments);
    Some(url.into())
}

/// A user-chosen account name usable as a path segment: not empty, not `.`/`..`, no control
/// characters, not absurdly long. Everything else is left to percent-encoding.
fn safe_name(name: &str) -> Option<&str> {
    let ok = !name.is_empty()
        && name.len() <= 256
        && name != "."
        && name != ".."
        && !name.chars().any(char::is_control);
    ok.then_some(name)
}

/// An opaque id: `[A-Za-z0-9_-]`, 1–128 bytes.
fn token(id: &str) -> Option<&str> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then_some(id)
}

/// A numeric id: ASCII digits, 1–32 of them.
fn digits(id: &str) -> Option<&str> {
    let ok = !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(id)
}

/// A verified domain connection links to the domain itself, when the name is a plain host name.
fn domain_url(name: &str) -> Option<String> {
    let plain = !name.is_empty()
        && name.len() <= 253
        && name.contains('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !name.starts_with(['.', '-'])
        && !name.contains("..");
    if !plain {
        return None;
    }
    let url = url::Url::parse(&format!("https://{name}/")).ok()?;
    (url.host_str()? == name.to_ascii_lowercase()).then(|| url.into())
}

/// `YYYY-MM-DD` (UTC) of a Unix timestamp in milliseconds.
pub(crate) fn utc_date(unix_ms: u64) -> String {
    let nanos = i128::from(unix_ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// A date as people read it, `Aug 10, 2015` (UTC), of a Unix timestamp in milliseconds.
pub(crate) fn readable_date(unix_ms: u64) -> String {
    let format = time::macros::format_description!("[month repr:short] [day padding:none], [year]");
    let nanos = i128::from(unix_ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_powers_of_two_in_range() {
        assert_eq!(clamp_size(0), 16);
        assert_eq!(clamp_size(16), 16);
        assert_eq!(clamp_size(100), 128);
        assert_eq!(clamp_size(128), 128);
        assert_eq!(clamp_size(4096), 4096);
        assert_eq!(clamp_size(5000), 4096);
        assert_eq!(clamp_size(u16::MAX), 4096);
    }

    #[test]
    fn hashes_are_checked() {
        assert!(is_safe_hash("a_1269e74af4df7417b13759eae50c83dc"));
        assert!(is_safe_hash("8342729096ea3675442027381ff50dfe"));
        assert!(!is_safe_hash(""));
        assert!(!is_safe_hash("../../evil"));
        assert!(!is_safe_hash("abc?x=1"));
        assert!(!is_safe_hash("abc def"));
        assert!(!is_safe_hash("é"));
    }

    #[test]
    fn cdn_keeps_a_path_prefix() {
        let cdn = Cdn::new(url::Url::parse("https://proxy.example/discord/").unwrap());
        assert_eq!(
            cdn.url("embed/avatars/0.png"),
            "https://proxy.example/discord/embed/avatars/0.png"
        );
        assert_eq!(Cdn::discord().url("x"), "https://cdn.discordapp.com/x");
    }

    #[test]
    fn badges_follow_flags() {
        assert!(badges(0).is_empty());
        let keys: Vec<_> = badges(1 << 0 | 1 << 9 | 1 << 22)
            .iter()
            .map(|b| b.key)
            .collect();
        assert_eq!(keys, ["staff", "early_supporter", "active_developer"]);
        // TEAM_PSEUDO_USER (1<<10), BOT_HTTP_INTERACTIONS (1<<19), SPAMMER (1<<20) are not badges.
        assert!(badges(1 << 10 | 1 << 19 | 1 << 20).is_empty());
        let houses: Vec<_> = badges(0b111 << 6).iter().map(|b| b.label).collect();
        assert_eq!(
            houses,
            [
                "HypeSquad Bravery",
                "HypeSquad Brilliance",
                "HypeSquad Balance"
            ]
        );
        assert!(badges(u64::MAX).iter().all(|b| !b.label.is_empty()));
        assert_eq!(badges(u64::MAX).len(), BADGES.len());
    }

    #[test]
    fn connection_urls() {
        assert_eq!(
            connection_url("github", "1", "octocat").unwrap(),
            "https://github.com/octocat"
        );
        assert_eq!(
            connection_url("twitter", "1", "jack").unwrap(),
            "https://x.com/jack"
        );
        assert_eq!(
            connection_url("steam", "76561197960287930", "gabe").unwrap(),
            "https://steamcommunity.com/profiles/76561197960287930"
        );
        assert_eq!(connection_url("steam", "7656/../x", "gabe"), None);
        assert_eq!(
            connection_url("youtube", "UC_x5XG1OV2P6uZZ5FSM9Ttw", "Google").unwrap(),
            "https://www.youtube.com/channel/UC_x5XG1OV2P6uZZ5FSM9Ttw"
        );
        assert_eq!(connection_url("youtube", "UC x", "Google"), None);
        assert_eq!(
            connection_url("tiktok", "1", "someone").unwrap(),
            "https://www.tiktok.com/@someone"
        );
        assert_eq!(
            connection_url("bluesky", "did:plc:abc", "alice.bsky.social").unwrap(),
            "https://bsky.app/profile/alice.bsky.social"
        );
        assert_eq!(connection_url("xbox", "1", "Gamer"), None);
        assert_eq!(connection_url("battlenet", "1", "Gamer#1234"), None);
        assert_eq!(connection_url("nonsense", "1", "x"), None);
    }

    #[test]
    fn connection_names_are_percent_encoded() {
        let url = connection_url("reddit", "1", "a/../b?c=d#e f").unwrap();
        assert_eq!(url, "https://www.reddit.com/user/a%2F..%2Fb%3Fc=d%23e%20f");
        let url = connection_url("github", "1", "<script>\"").unwrap();
        assert!(!url.contains('<') && !url.contains('"'), "{url}");
        assert_eq!(connection_url("github", "1", ".."), None);
        assert_eq!(connection_url("github", "1", ""), None);
        assert_eq!(connection_url("github", "1", "a\nb"), None);
        let url = connection_url("twitch", "1", "ünïcødé").unwrap();
        assert_eq!(url, "https://www.twitch.tv/%C3%BCn%C3%AFc%C3%B8d%C3%A9");
    }

    #[test]
    fn domain_connections() {
        assert_eq!(
            connection_url("domain", "1", "example.com").unwrap(),
            "https://example.com/"
        );
        assert_eq!(connection_url("domain", "1", "evil.com/path"), None);
        assert_eq!(connection_url("domain", "1", "user@evil.com"), None);
        assert_eq!(connection_url("domain", "1", "localhost"), None);
    }

    #[test]
    fn labels() {
        assert_eq!(service_label("github"), Some("GitHub"));
        assert_eq!(service_label("twitter"), Some("X"));
        assert_eq!(service_label("zzz"), None);
    }

    #[test]
    fn decoration_tag_and_nameplate_urls() {
        let cdn = Cdn::discord();
        assert_eq!(
            cdn.decoration("a_5087", false).unwrap(),
            "https://cdn.discordapp.com/avatar-decoration-presets/a_5087.png"
        );
        assert_eq!(
            cdn.decoration("a_5087", true).unwrap(),
            "https://cdn.discordapp.com/avatar-decoration-presets/a_5087.png?passthrough=false"
        );
        assert_eq!(cdn.decoration("../x", false), None);
        assert_eq!(
            cdn.tag_badge(42, "beef").unwrap(),
            "https://cdn.discordapp.com/guild-tag-badges/42/beef.png"
        );
        assert_eq!(cdn.tag_badge(42, "a/b"), None);
        assert_eq!(
            cdn.nameplate("nameplates/nameplates/twilight/").unwrap(),
            "https://cdn.discordapp.com/assets/collectibles/nameplates/nameplates/twilight/static.png"
        );
        for odd in ["", "/", "twilight", "a//", "../x/", "a/./", "x?y/", "/abs/"] {
            assert_eq!(cdn.nameplate(odd), None, "{odd:?}");
        }
        assert_eq!(palette_color("crimson"), Some("#8c1c2c"));
        assert_eq!(palette_color("<script>"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_420_070_400_000), "2015-01-01");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(utc_date(1_709_164_800_000), "2024-02-29");
        assert_eq!(utc_date(1_735_689_599_999), "2024-12-31");
        assert_eq!(readable_date(1_439_164_800_000), "Aug 10, 2015");
        assert_eq!(readable_date(1_735_689_599_999), "Dec 31, 2024");
    }
}
