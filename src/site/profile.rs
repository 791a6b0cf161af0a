//! Owns the page model of one profile, built from a snapshot and the consent.
//! It must not put in anything the user did not opt in to publish.
//!
//! The model of one profile page: exactly what a page shows, built from a [`Snapshot`] and the
//! user's opt-ins. Nothing that is not on the page is in here, so a theme cannot leak it.

use serde::Serialize;

use crate::discord::cdn::{self, Badge, Cdn};
use crate::discord::models::{Snapshot, Snowflake};
use crate::publish::Publish;

use super::text;

/// Avatar size on a profile page (CSS pixels × 2 for high-density screens).
const AVATAR_SIZE: u16 = 256;
/// Avatar size in lists (the index: 48 CSS pixels), and twice it for high-density screens.
const THUMB_SIZE: u16 = 64;
const THUMB_2X_SIZE: u16 = 128;
/// Banner width requested from the CDN.
const BANNER_SIZE: u16 = 1024;
/// Server icon size in the servers list.
const GUILD_ICON_SIZE: u16 = 64;
/// Server banner width in the servers list.
const GUILD_BANNER_SIZE: u16 = 512;

/// One profile page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Profile {
    /// The user's id (a decimal string in templates and JSON): the only thing page paths are made of.
    pub(crate) id: Snowflake,
    pub(crate) username: String,
    pub(crate) display_name: String,
    /// `name` or legacy `name#1234`.
    pub(crate) handle: String,
    pub(crate) avatar_url: String,
    pub(crate) avatar_animated: bool,
    /// A still PNG of the avatar (the first frame of an animated one): for link previews, which
    /// want PNG, and for readers who asked for reduced motion.
    pub(crate) avatar_still_url: String,
    /// The avatar at the size lists show it, and at twice that (`srcset`).
    pub(crate) avatar_thumb_url: String,
    pub(crate) avatar_thumb_2x_url: String,
    pub(crate) banner_url: Option<String>,
    /// The profile accent colour as `#rrggbb`.
    pub(crate) accent_color: Option<String>,
    /// The first letter of the display name: shown on the accent colour behind the avatar, so a
    /// missing image never looks broken.
    pub(crate) initial: String,
    /// Drawn over the avatar, slightly larger than it.
    pub(crate) decoration: Option<Decoration>,
    /// The server tag beside the name, only when the user chose to show it.
    pub(crate) server_tag: Option<ServerTag>,
    /// The picture behind the name block.
    pub(crate) nameplate: Option<ProfileNameplate>,
    pub(crate) badges: Vec<Badge>,
    /// Account creation date (UTC), `YYYY-MM-DD`, from the id.
    pub(crate) created: String,
    /// The same date as people read it: `Aug 10, 2015`.
    pub(crate) created_label: String,
    /// Public connections, only when the user opted in; `Some(vec![])` when they have none.
    pub(crate) connections: Option<Vec<ProfileConnection>>,
    /// Servers, only when the user opted in, sorted by name.
    pub(crate) guilds: Option<Vec<ProfileGuild>>,
    /// Path of the page relative to the site root: `u/<id>/`.
    pub(crate) path: String,
    /// Absolute URL of the page.
    pub(crate) url: String,
    /// From `content/users/<id>.md` (see [`crate::content`]): a one-line bio (plain text).
    pub(crate) bio: Option<String>,
    pub(crate) pronouns: Option<String>,
    /// Links (http/https only).
    pub(crate) links: Vec<ProfileLink>,
    /// The Markdown body as sanitised HTML (raw HTML escaped, unsafe links dropped): themes insert
    /// it with `|safe`.
    pub(crate) body_html: Option<String>,
    /// The avatar still as an absolute URL, for link previews (`og:image`): the site's copy when
    /// it has one, else the CDN's.
    pub(crate) share_image_url: String,
    /// The files under `img/` the page uses (`site.images = "mirror"`): published with it.
    #[serde(skip)]
    pub(crate) image_files: Vec<String>,
}

/// A link the user listed in their content file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ProfileLink {
    pub(crate) title: String,
    /// An absolute `http` or `https` URL.
    pub(crate) url: String,
}

/// An avatar decoration: an animated PNG, and its first frame for reduced motion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Decoration {
    pub(crate) url: String,
    pub(crate) still_url: String,
}

/// A server tag: up to four characters and the server's badge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ServerTag {
    pub(crate) tag: String,
    pub(crate) badge_url: Option<String>,
}

/// A nameplate: its image when the asset looks usable, and a colour for when it is not there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ProfileNameplate {
    pub(crate) url: Option<String>,
    /// `#rrggbb` from the palette, when strife-gen knows it.
    pub(crate) color: Option<String>,
    /// What the nameplate is called (for a tooltip), without bidirectional controls.
    pub(crate) label: Option<String>,
}

/// A connected account shown on a page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ProfileConnection {
    /// Service type as Discord names it (`github`), reduced to `[a-z0-9-]` (`other` when nothing
    /// is left, see [`text::css_class`]): safe as a CSS class whatever Discord sent.
    pub(crate) kind: String,
    /// Service name for people (`GitHub`); for a service strife-gen does not know, Discord's type
    /// without bidirectional controls (it is also used in `title` attributes).
    pub(crate) label: String,
    /// Account name on that service.
    pub(crate) name: String,
    /// Link to the account's public page, when the service has one.
    pub(crate) url: Option<String>,
}

/// A server shown on a page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ProfileGuild {
    pub(crate) id: Snowflake,
    pub(crate) name: String,
    pub(crate) icon_url: Option<String>,
    pub(crate) banner_url: Option<String>,
    /// Whether the user owns the server.
    pub(crate) owner: bool,
    /// Discord's approximate member count, when it sent one.
    pub(crate) member_count: Option<u64>,
    /// The same count for people: `1,234 members`.
    pub(crate) members_label: Option<String>,
    /// Up to two letters standing in for a missing icon: the first letters of the first words.
    pub(crate) initials: String,
    /// A hue (0–359) from the id, so tiles without an icon differ from each other.
    pub(crate) hue: u16,
}

impl Profile {
    /// Builds the page model. `publish` decides whether connections and servers appear at all;
    /// connections are further limited to the ones the user made public on Discord.
    pub(crate) fn build(
        snapshot: &Snapshot,
        publish: Publish,
        cdn: &Cdn,
        base_url: &url::Url,
    ) -> Profile {
        let user = &snapshot.user;
        let path = page_path(user.id);
        let connections = match (&snapshot.connections, publish.connections) {
            (Some(connections), true) => Some(
                connections
                    .iter()
                    .filter(|c| c.is_public())
                    .map(|c| ProfileConnection {
                        kind: text::css_class(&c.kind),
                        label: text::strip_bidi(c.service_label()).into_owned(),
                        name: c.name.clone(),
                        url: c.profile_url(),
                    })
                    .collect(),
            ),
            _ => None,
        };
        let guilds = match (&snapshot.guilds, publish.guilds) {
            (Some(guilds), true) => {
                let mut guilds: Vec<ProfileGuild> = guilds
                    .iter()
                    .map(|g| ProfileGuild {
                        id: g.id,
                        name: g.name.clone(),
                        icon_url: g.icon_url(cdn, GUILD_ICON_SIZE),
                        banner_url: g.banner_url(cdn, GUILD_BANNER_SIZE),
                        owner: g.owner,
                        member_count: g.approximate_member_count,
                        members_label: g.approximate_member_count.map(members_label),
                        initials: text::initials(&g.name, 2),
                        hue: (g.id.0 % 360) as u16,
                    })
                    .collect();
                guilds.sort_by_cached_key(|g| (g.name.to_lowercase(), g.id));
                Some(guilds)
            }
            _ => None,
        };
        let mut profile = Profile {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name().to_owned(),
            handle: user.handle(),
            avatar_url: user.avatar_url(cdn, AVATAR_SIZE),
            avatar_animated: user.has_animated_avatar(),
            avatar_still_url: cdn
                .still_image("avatars", user.id.0, user.avatar.as_deref(), AVATAR_SIZE)
                .unwrap_or_else(|| user.avatar_url(cdn, AVATAR_SIZE)),
            avatar_thumb_url: user.avatar_url(cdn, THUMB_SIZE),
            avatar_thumb_2x_url: user.avatar_url(cdn, THUMB_2X_SIZE),
            banner_url: user.banner_url(cdn, BANNER_SIZE),
            accent_color: user
                .accent_color
                .map(|c| format!("#{:06x}", c & 0x00ff_ffff)),
            initial: text::initials(user.display_name(), 1),
            decoration: user
                .avatar_decoration_data
                .as_ref()
                .and_then(|d| decoration(cdn, &d.asset)),
            server_tag: user.shown_tag().and_then(|tag| {
                Some(ServerTag {
                    tag: text::strip_bidi(tag.tag.as_deref()?).into_owned(),
                    badge_url: tag.badge_url(cdn),
                })
            }),
            nameplate: user.nameplate().map(|plate| ProfileNameplate {
                url: cdn.nameplate(&plate.asset),
                color: plate
                    .palette
                    .as_deref()
                    .and_then(cdn::palette_color)
                    .map(str::to_owned),
                label: plate
                    .label
                    .as_deref()
                    .map(|l| text::strip_bidi(l).into_owned()),
            }),
            badges: cdn::badges(user.public_flags),
            created: cdn::utc_date(user.id.timestamp_ms()),
            created_label: cdn::readable_date(user.id.timestamp_ms()),
            connections,
            guilds,
            url: page_url(base_url, &path),
            path,
            bio: None,
            pronouns: None,
            links: Vec::new(),
            body_html: None,
            share_image_url: String::new(),
            image_files: Vec::new(),
        };
        profile.share_image_url = profile.avatar_still_url.clone();
        profile
    }

    /// Every image URL of the page, to fetch or to point at the site's copy: avatar (both
    /// forms), banner, decoration, tag badge, nameplate, server icons and banners.
    pub(crate) fn image_urls_mut(&mut self) -> Vec<&mut String> {
        let mut urls = vec![
            &mut self.avatar_url,
            &mut self.avatar_still_url,
            &mut self.avatar_thumb_url,
            &mut self.avatar_thumb_2x_url,
        ];
        urls.extend(self.banner_url.as_mut());
        if let Some(decoration) = &mut self.decoration {
            urls.extend([&mut decoration.url, &mut decoration.still_url]);
        }
        urls.extend(self.server_tag.as_mut().and_then(|t| t.badge_url.as_mut()));
        urls.extend(self.nameplate.as_mut().and_then(|n| n.url.as_mut()));
        for guild in self.guilds.iter_mut().flatten() {
            urls.extend(guild.icon_url.as_mut());
            urls.extend(guild.banner_url.as_mut());
        }
        urls
    }
}

/// Both forms of a decoration, or none when its asset does not look like one.
fn decoration(cdn: &Cdn, asset: &str) -> Option<Decoration> {
    Some(Decoration {
        url: cdn.decoration(asset, false)?,
        still_url: cdn.decoration(asset, true)?,
    })
}

/// `1 member`, `12,345 members`.
fn members_label(count: u64) -> String {
    let digits = count.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (at, digit) in digits.chars().enumerate() {
        if at > 0 && (digits.len() - at).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let noun = if count == 1 { "member" } else { "members" };
    format!("{grouped} {noun}")
}

/// `u/<id>/`: pages are addressed by the numeric id only, never by a name.
pub fn page_path(id: Snowflake) -> String {
    format!("u/{id}/")
}

/// `base_url` joined with a site-relative path; the base is treated as a folder even without a
/// trailing slash (`https://example.org/people` → `https://example.org/people/u/1/`).
pub(crate) fn page_url(base_url: &url::Url, path: &str) -> String {
    format!("{}/{}", base_url.as_str().trim_end_matches('/'), path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::fixtures::snapshot;

    fn base() -> url::Url {
        url::Url::parse("https://people.example/").unwrap()
    }

    #[test]
    fn nothing_optional_without_opt_ins() {
        let p = Profile::build(
            &snapshot(80351110224678912, "Nelly"),
            Publish::default(),
            &Cdn::discord(),
            &base(),
        );
        assert_eq!(p.connections, None);
        assert_eq!(p.guilds, None);
        assert_eq!(p.id, Snowflake(80351110224678912));
        assert_eq!(p.display_name, "Nelly");
        assert_eq!(p.handle, "nelly");
        assert_eq!(p.path, "u/80351110224678912/");
        assert_eq!(p.url, "https://people.example/u/80351110224678912/");
        assert_eq!(p.accent_color.as_deref(), Some("#5865f2"));
        assert_eq!(p.created, "2015-08-10");
        assert!(p.avatar_animated);
        assert_eq!(
            p.avatar_still_url,
            "https://cdn.discordapp.com/avatars/80351110224678912/a_abc.png?size=256"
        );
        assert_eq!(p.badges.len(), 1);
    }

    #[test]
    fn only_public_connections() {
        let publish = Publish {
            connections: true,
            guilds: false,
        };
        let p = Profile::build(&snapshot(1, "N"), publish, &Cdn::discord(), &base());
        let connections = p.connections.unwrap();
        let names: Vec<_> = connections.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["octocat", "Gamer Tag"]);
        assert_eq!(
            connections[0].url.as_deref(),
            Some("https://github.com/octocat")
        );
        assert_eq!(connections[1].url, None);
        assert_eq!(connections[1].label, "Xbox");
        assert_eq!(p.guilds, None);
    }

    #[test]
    fn opted_in_but_not_fetched() {
        let mut s = snapshot(1, "N");
        s.connections = None;
        s.guilds = None;
        let p = Profile::build(
            &s,
            Publish {
                connections: true,
                guilds: true,
            },
            &Cdn::discord(),
            &base(),
        );
        assert_eq!(p.connections, None);
        assert_eq!(p.guilds, None);
    }

    #[test]
    fn guilds_sorted_case_insensitively() {
        let publish = Publish {
            connections: false,
            guilds: true,
        };
        let p = Profile::build(&snapshot(1, "N"), publish, &Cdn::discord(), &base());
        assert_eq!(p.connections, None);
        let guilds = p.guilds.unwrap();
        let names: Vec<_> = guilds.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["Alpha", "beta", "zeta"]);
        assert_eq!(
            guilds[0].icon_url.as_deref(),
            Some("https://cdn.discordapp.com/icons/1/abc.webp?size=64")
        );
    }

    #[test]
    fn member_counts_read_as_people_write_them() {
        assert_eq!(members_label(0), "0 members");
        assert_eq!(members_label(1), "1 member");
        assert_eq!(members_label(999), "999 members");
        assert_eq!(members_label(1000), "1,000 members");
        assert_eq!(members_label(1_234_567), "1,234,567 members");
    }

    #[test]
    fn todays_profile_fields() {
        use crate::discord::models::{AvatarDecoration, Collectibles, Nameplate, PrimaryGuild};
        let mut s = snapshot(1, "Nelly");
        let p = Profile::build(&s, Publish::default(), &Cdn::discord(), &base());
        assert_eq!(
            (p.decoration, p.server_tag, p.nameplate),
            (None, None, None)
        );
        assert_eq!(p.initial, "N");
        s.user.avatar_decoration_data = Some(AvatarDecoration {
            asset: "a_deco".into(),
            sku_id: None,
        });
        s.user.primary_guild = Some(PrimaryGuild {
            identity_guild_id: Some(Snowflake(7)),
            identity_enabled: true,
            tag: Some("RUST".into()),
            badge: Some("beef".into()),
        });
        s.user.collectibles = Some(Collectibles {
            nameplate: Some(Nameplate {
                asset: "nameplates/x/".into(),
                sku_id: None,
                label: Some("Twilight".into()),
                palette: Some("violet".into()),
            }),
        });
        let p = Profile::build(&s, Publish::default(), &Cdn::discord(), &base());
        let cdn = "https://cdn.discordapp.com";
        let decoration = p.decoration.unwrap();
        assert_eq!(
            decoration.url,
            format!("{cdn}/avatar-decoration-presets/a_deco.png")
        );
        assert!(decoration.still_url.ends_with("?passthrough=false"));
        let tag = p.server_tag.unwrap();
        assert_eq!(tag.tag, "RUST");
        assert_eq!(
            tag.badge_url.unwrap(),
            format!("{cdn}/guild-tag-badges/7/beef.png")
        );
        let plate = p.nameplate.unwrap();
        assert_eq!(
            plate.url.unwrap(),
            format!("{cdn}/assets/collectibles/nameplates/x/static.png")
        );
        assert_eq!(plate.color.as_deref(), Some("#5a3296"));
        // A tag the user hides is not published.
        if let Some(tag) = s.user.primary_guild.as_mut() {
            tag.identity_enabled = false;
        }
        let p = Profile::build(&s, Publish::default(), &Cdn::discord(), &base());
        assert_eq!(p.server_tag, None);
    }

    #[test]
    fn base_url_with_a_path() {
        let base = url::Url::parse("https://example.org/people").unwrap();
        let p = Profile::build(
            &snapshot(7, "N"),
            Publish::default(),
            &Cdn::discord(),
            &base,
        );
        assert_eq!(p.url, "https://example.org/people/u/7/");
    }
}
