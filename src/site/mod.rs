//! The static site: page models ([`profile`]), templates ([`render`]), the theme's static files
//! ([`assets`]) and writing the output folder ([`output`]).
//!
//! Layout of a built site ([`output`]):
//!
//! - `index.html`: everyone, sorted by name; `404.html` for any missing path;
//! - `u/<id>/index.html` per profile (the stable URL) and `u/<id>.json`, the same data as JSON;
//! - `<username>/index.html`: vanity URLs ([`vanity`]), redirect pages to `u/<id>/`, also for
//!   names a user had before;
//! - `sitemap.xml`, `robots.txt`, `.nojekyll`, and `CNAME` when `site.cname` is set
//!   ([`conventions`]);
//! - `static/<name>.<hash>.<ext>` from the theme, and from the default theme for what it lacks
//!   ([`assets`]).

pub mod assets;
pub mod conventions;
pub mod output;
pub mod profile;
pub mod render;
pub mod text;
pub mod vanity;

pub use assets::{Asset, Assets};
pub use output::{build_site, SiteError, SiteReport, SiteSettings};
pub use profile::{Profile, ProfileConnection, ProfileGuild, ProfileLink};
pub use render::{
    FrontPage, LandingPage, Link, MessagePage, ProfileSummary, RenderError, Renderer, SiteInfo,
};

#[cfg(test)]
mod page_tests;

#[cfg(test)]
pub(crate) mod fixtures {
    //! Shared test data: snapshots, profiles and the default theme.

    use std::path::PathBuf;

    use crate::discord::cdn::Cdn;
    use crate::discord::models::{Connection, Guild, Snapshot, Snowflake, User};
    use crate::publish::Publish;

    use super::{Profile, SiteInfo};

    pub fn snapshot(id: u64, name: &str) -> Snapshot {
        Snapshot {
            user: User {
                id: Snowflake(id),
                username: name.to_lowercase(),
                discriminator: "0".into(),
                global_name: Some(name.into()),
                avatar: Some("a_abc".into()),
                banner: None,
                accent_color: Some(0x5865f2),
                public_flags: 1 << 22,
                avatar_decoration_data: None,
            },
            connections: Some(vec![
                conn("github", "octocat", true, 1, false),
                conn("twitch", "hidden", true, 0, false),
                conn("reddit", "unverified", false, 1, false),
                conn("steam", "revoked", true, 1, true),
                conn("xbox", "Gamer Tag", true, 1, false),
            ]),
            guilds: Some(vec![
                guild(3, "zeta", None),
                guild(1, "Alpha", Some("abc")),
                guild(2, "beta", None),
            ]),
        }
    }

    fn conn(kind: &str, name: &str, verified: bool, visibility: u8, revoked: bool) -> Connection {
        Connection {
            id: "1".into(),
            name: name.into(),
            kind: kind.into(),
            verified,
            visibility,
            revoked,
        }
    }

    fn guild(id: u64, name: &str, icon: Option<&str>) -> Guild {
        Guild {
            id: Snowflake(id),
            name: name.into(),
            icon: icon.map(Into::into),
            owner: false,
        }
    }

    pub fn site_info() -> SiteInfo {
        SiteInfo {
            title: "People & Friends".into(),
            base_url: url::Url::parse("https://people.example/").unwrap(),
            service_url: None,
        }
    }

    /// A profile with everything published.
    pub fn profile(id: u64, name: &str) -> Profile {
        let all = Publish {
            connections: true,
            guilds: true,
        };
        Profile::build(
            &snapshot(id, name),
            all,
            &Cdn::discord(),
            &site_info().base_url,
        )
    }

    pub fn default_theme() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("themes/default")
    }

    /// A minimal theme in a temporary folder; `overrides` replace or add templates.
    pub fn theme(overrides: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let templates = dir.path().join("templates");
        std::fs::create_dir_all(&templates).unwrap();
        let defaults = [
            ("base.html", "<title>{{ site.title }}</title>\n{% block content %}{% endblock %}\n"),
            ("profile.html", "{% extends \"base.html\" %}{% block content %}{{ profile.display_name }}{% endblock %}"),
            ("index.html", "{% for p in profiles %}{{ p.path }} {% endfor %}"),
            ("landing.html", "{{ page.login_path }}"),
            ("message.html", "{{ page.title }}"),
            ("404.html", "not found {{ site.root }}"),
        ];
        for (name, source) in defaults.iter().chain(overrides) {
            let path = templates.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, source).unwrap();
        }
        dir
    }
}
