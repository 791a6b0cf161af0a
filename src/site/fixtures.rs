//! Shared test data for the site's unit tests: users, snapshots, profiles and themes. Test code
//! only; it must not be used by shipped code.

use std::path::PathBuf;

use crate::discord::cdn::Cdn;
use crate::discord::models::{Connection, Guild, Snapshot, Snowflake, User};
use crate::publish::Publish;

use super::model::SiteInfo;
use super::profile::Profile;

/// The shipped themes folder (`themes/` of the repository).
pub(crate) fn themes_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("themes")
}

/// The shipped default theme.
pub(crate) fn default_theme() -> PathBuf {
    themes_dir().join("default")
}

/// A user with nothing optional: no avatar, banner, accent colour or badges.
pub(crate) fn user(
    id: u64,
    username: &str,
    discriminator: &str,
    global_name: Option<&str>,
) -> User {
    User {
        id: Snowflake(id),
        username: username.into(),
        discriminator: discriminator.into(),
        global_name: global_name.map(Into::into),
        avatar: None,
        banner: None,
        accent_color: None,
        public_flags: 0,
        avatar_decoration_data: None,
        primary_guild: None,
        collectibles: None,
    }
}

/// A verified, public connection whose id is its name.
pub(crate) fn connection(kind: &str, name: &str) -> Connection {
    Connection {
        id: name.into(),
        name: name.into(),
        kind: kind.into(),
        verified: true,
        visibility: 1,
        revoked: false,
    }
}

/// A server the user does not own.
pub(crate) fn guild(id: u64, name: &str, icon: Option<&str>) -> Guild {
    Guild {
        id: Snowflake(id),
        name: name.into(),
        icon: icon.map(Into::into),
        banner: None,
        owner: false,
        approximate_member_count: None,
    }
}

/// A user with an animated avatar, an accent colour and one badge; connections of every kind
/// that must stay private (hidden, unverified, revoked) beside public ones; three servers out of
/// order.
pub(crate) fn snapshot(id: u64, name: &str) -> Snapshot {
    // (type, name, verified, visibility, revoked)
    let connections = [
        ("github", "octocat", true, 1, false),
        ("twitch", "hidden", true, 0, false),
        ("reddit", "unverified", false, 1, false),
        ("steam", "revoked", true, 1, true),
        ("xbox", "Gamer Tag", true, 1, false),
    ];
    Snapshot {
        user: User {
            avatar: Some("a_abc".into()),
            accent_color: Some(0x5865f2),
            public_flags: 1 << 22,
            ..user(id, &name.to_lowercase(), "0", Some(name))
        },
        connections: Some(
            connections
                .into_iter()
                .map(|(kind, name, verified, visibility, revoked)| Connection {
                    id: "1".into(),
                    verified,
                    visibility,
                    revoked,
                    ..connection(kind, name)
                })
                .collect(),
        ),
        guilds: Some(vec![
            guild(3, "zeta", None),
            guild(1, "Alpha", Some("abc")),
            guild(2, "beta", None),
        ]),
    }
}

/// The site the fixtures' pages belong to: `https://people.example/`.
pub(crate) fn site_info() -> SiteInfo {
    SiteInfo {
        title: "People & Friends".into(),
        base_url: url::Url::parse("https://people.example/").unwrap(),
        service_url: None,
    }
}

/// A profile with everything published.
pub(crate) fn profile(id: u64, name: &str) -> Profile {
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

/// A minimal theme in a temporary folder; `overrides` replace or add templates.
pub(crate) fn theme(overrides: &[(&str, &str)]) -> tempfile::TempDir {
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
