//! The models of the pages templates are given: site-wide values, index lines, the consent
//! service's pages and the front-page text. Plain data; it must not read files or render.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::profile::Profile;
use crate::discord::models::Snowflake;

/// Site-wide values, available to every template as `site`:
/// `site.title`, `site.base_url` (absolute, ends with `/`) and `site.root` (the path part of the
/// base URL, ends with `/`). The default theme links its own files root-relative through
/// `site.root` (`{{ site.root }}static/style.css`), which works at every page depth, under a path
/// prefix, and on a local preview server; `site.base_url` is for canonical links.
#[derive(Debug, Clone)]
pub struct SiteInfo {
    pub(crate) title: String,
    pub(crate) base_url: url::Url,
    /// Where the consent service lives (its landing page), when one is configured: pages link
    /// there to publish or remove a profile.
    pub(crate) service_url: Option<String>,
}

impl SiteInfo {
    /// The base URL as a folder: always ending with `/`.
    pub(crate) fn base(&self) -> String {
        let base = self.base_url.as_str();
        if base.ends_with('/') {
            base.to_owned()
        } else {
            format!("{base}/")
        }
    }

    /// The path of the base URL, always ending with `/`.
    pub(crate) fn root(&self) -> String {
        let path = self.base_url.path();
        if path.ends_with('/') {
            path.to_owned()
        } else {
            format!("{path}/")
        }
    }
}

impl Serialize for SiteInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("SiteInfo", 4)?;
        s.serialize_field("title", &self.title)?;
        s.serialize_field("base_url", &self.base())?;
        s.serialize_field("root", &self.root())?;
        s.serialize_field("service_url", &self.service_url)?;
        s.end()
    }
}

/// A line of the index page.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct ProfileSummary {
    pub(crate) id: Snowflake,
    pub(crate) display_name: String,
    pub(crate) handle: String,
    /// The avatar at the size the index shows it, and twice that for `srcset`.
    pub(crate) avatar_url: String,
    pub(crate) avatar_2x_url: String,
    /// Shown on `accent_color` behind the avatar, so a missing image never looks broken.
    pub(crate) initial: String,
    pub(crate) accent_color: Option<String>,
    /// `u/<id>/`, relative to the site root.
    pub(crate) path: String,
}

impl From<&Profile> for ProfileSummary {
    fn from(p: &Profile) -> Self {
        ProfileSummary {
            id: p.id,
            display_name: p.display_name.clone(),
            handle: p.handle.clone(),
            avatar_url: p.avatar_thumb_url.clone(),
            avatar_2x_url: p.avatar_thumb_2x_url.clone(),
            initial: p.initial.clone(),
            accent_color: p.accent_color.clone(),
            path: p.path.clone(),
        }
    }
}

/// The consent page of the web service (`landing.html`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct LandingPage {
    /// Where the consent form is sent (GET), e.g. `/login`.
    pub(crate) login_path: String,
    /// Where a user removes their page, e.g. `/delete`.
    pub(crate) delete_path: String,
    /// Whether this site offers publishing connected accounts (`discord.scopes`).
    pub(crate) offers_connections: bool,
    /// Whether this site offers publishing servers (`discord.scopes`).
    pub(crate) offers_guilds: bool,
    /// The community's server the person may tick to join (`community.join = "offer"`).
    pub(crate) join: Option<JoinOffer>,
}

/// "Join <server>" on the landing page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct JoinOffer {
    /// The server's name, as Discord has it.
    pub(crate) name: String,
    /// Its icon (a `data:` URI or a CDN URL, see [`crate::community::Community::icon_url`]).
    pub(crate) icon_url: Option<String>,
}

impl Default for LandingPage {
    fn default() -> Self {
        LandingPage {
            login_path: "/login".into(),
            delete_path: "/delete".into(),
            offers_connections: true,
            offers_guilds: true,
            join: None,
        }
    }
}

/// A result or error page of the web service (`message.html`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MessagePage {
    pub(crate) title: String,
    pub(crate) message: String,
    pub(crate) link: Option<Link>,
    /// After a sign-in, when people may edit their page: where (`/me`).
    pub(crate) edit_path: Option<String>,
    pub(crate) is_error: bool,
}

/// A link on a message page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Link {
    pub(crate) href: String,
    pub(crate) text: String,
}

/// The front page's text, rendered from Markdown by [`crate::content`].
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct FrontPage {
    /// Sanitised HTML: inserted into the page as is.
    pub(crate) html: String,
    /// Plain text of its first paragraph, for `<meta name="description">` and Open Graph.
    pub(crate) description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::fixtures::site_info;

    #[test]
    fn site_info_normalises_the_base() {
        let info = SiteInfo {
            title: "t".into(),
            base_url: url::Url::parse("https://x.example/people").unwrap(),
            service_url: None,
        };
        assert_eq!(info.base(), "https://x.example/people/");
        assert_eq!(info.root(), "/people/");
        assert_eq!(site_info().root(), "/");
    }
}
