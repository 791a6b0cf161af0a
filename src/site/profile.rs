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
/// Banner width requested from the CDN.
const BANNER_SIZE: u16 = 1024;
/// Server icon size in the servers list.
const GUILD_ICON_SIZE: u16 = 64;

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
    pub(crate) banner_url: Option<String>,
    /// The profile accent colour as `#rrggbb`.
    pub(crate) accent_color: Option<String>,
    pub(crate) badges: Vec<Badge>,
    /// Account creation date (UTC), `YYYY-MM-DD`, from the id.
    pub(crate) created: String,
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
}

/// A link the user listed in their content file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ProfileLink {
    pub(crate) title: String,
    /// An absolute `http` or `https` URL.
    pub(crate) url: String,
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
                    })
                    .collect();
                guilds.sort_by_cached_key(|g| (g.name.to_lowercase(), g.id));
                Some(guilds)
            }
            _ => None,
        };
        Profile {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name().to_owned(),
            handle: user.handle(),
            avatar_url: user.avatar_url(cdn, AVATAR_SIZE),
            avatar_animated: user.has_animated_avatar(),
            avatar_still_url: cdn
                .still_image("avatars", user.id.0, user.avatar.as_deref(), AVATAR_SIZE)
                .unwrap_or_else(|| user.avatar_url(cdn, AVATAR_SIZE)),
            banner_url: user.banner_url(cdn, BANNER_SIZE),
            accent_color: user
                .accent_color
                .map(|c| format!("#{:06x}", c & 0x00ff_ffff)),
            badges: cdn::badges(user.public_flags),
            created: cdn::utc_date(user.id.timestamp_ms()),
            connections,
            guilds,
            url: page_url(base_url, &path),
            path,
            bio: None,
            pronouns: None,
            links: Vec::new(),
            body_html: None,
        }
    }
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
