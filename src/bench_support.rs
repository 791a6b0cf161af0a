//! Owns what the benchmarks need from inside the crate: the synthetic users and thin wrappers
//! over crate-private pieces. It exists for `benches/` and `examples/` only; it must not
//! be used by shipped code, nor grow logic of its own (every wrapper calls what a build calls).
//!
//! Benchmarks can only use the public API, and the pieces worth timing alone (a page model, the
//! CDN rules, the Markdown renderer) are rightly `pub(crate)`: this one hidden module reaches them,
//! so that nothing else has to be made public for the benchmarks' sake.

use std::ffi::OsString;
use std::path::Path;

use crate::build::site_info;
use crate::config::Config;
use crate::content::{markdown, USER_HEADING_OFFSET};
use crate::crypto::TokenCipher;
use crate::discord::cdn::Cdn;
use crate::discord::models::{Connection, Guild, Snapshot, Snowflake, User};
use crate::discord::scope::Scope;
use crate::publish::Publish;
use crate::service::Service;
use crate::site::profile::Profile;
use crate::site::render::{RenderError, Renderer};
use crate::store::{Consent, Tokens};

/// Connected accounts of every synthetic user: a few, as most people have.
const CONNECTIONS: usize = 4;
/// Servers of every synthetic user: a few dozen, a long list on a page.
const GUILDS: u64 = 40;
/// The avatar hash of every synthetic user (a still image).
const AVATAR: &str = "a1b2c3d4e5f6";

/// The id of synthetic user `n`: distinct for every `n`, with a creation date that moves on with
/// `n` (the low 22 bits of a snowflake are not its time).
pub fn synthetic_user_id(n: u64) -> u64 {
    100_000_000_000_000_000 + n * 4_194_304
}

/// Synthetic user `n` as Discord would send them: `user<n>` called `display_name`, with a still
/// avatar, one badge, four public GitHub accounts and forty servers without icons.
pub fn synthetic_snapshot(n: u64, display_name: &str) -> Snapshot {
    Snapshot {
        user: synthetic_user(n, display_name),
        connections: Some((0..CONNECTIONS).map(|c| github(n, c)).collect()),
        guilds: Some((0..GUILDS).map(server).collect()),
    }
}

/// The consent of synthetic user `n`, publishing everything, with tokens that do not expire
/// during a benchmark (an offline build never sends them anywhere).
pub fn synthetic_consent(n: u64, display_name: &str) -> Consent {
    Consent {
        scopes: Scope::ALL.to_vec(),
        publish: Publish {
            connections: true,
            guilds: true,
        },
        tokens: Tokens {
            access_token: "bench-access".into(),
            access_expires_at: i64::MAX / 2,
            refresh_token: "bench-refresh".into(),
        },
        snapshot: synthetic_snapshot(n, display_name),
    }
}

/// Stores synthetic users `0..users`, user `n` called `User <n>`, their tokens sealed with a
/// fresh key: a benchmark's builds are offline, so nothing ever opens them.
pub fn store_synthetic_users(service: &Service, users: u64) {
    let cipher = TokenCipher::random();
    for n in 0..users {
        service
            .store()
            .record_consent(&synthetic_consent(n, &format!("User {n}")), &cipher, 0)
            .expect("a synthetic consent is stored");
    }
}

/// Records every stored user's images as settled without fetching any, as a backfill would
/// leave them had the CDN had none of them (the fake CDN does not know synthetic users): a
/// benchmark then measures a site that has been running, not its first mirroring. Pages link
/// Discord's CDN for these images.
pub fn settle_images(service: &Service) {
    let store = service.store();
    let cdn = Cdn::new(service.config().discord.cdn_base.url().clone());
    let pending = store
        .images_pending(i64::MIN, None)
        .expect("pending images");
    for user in pending {
        let urls = crate::images::image_urls(&user.snapshot, user.publish, &cdn);
        let key = crate::images::images_key(store, &urls).expect("an images key");
        store
            .record_images(user.id, Some(&user.content_hash), &key)
            .expect("images recorded");
    }
}

/// Runs `strife-gen --config <config> <command>` in this process, as the binary would, and
/// exits with status 1 (the error described) when it fails: the child processes of the
/// whole-program benchmarks, which time the real command without needing the binary built.
pub fn run_command(config: &Path, command: &[&str]) {
    let mut args: Vec<OsString> = vec!["strife-gen".into(), "--config".into(), config.into()];
    args.extend(command.iter().map(OsString::from));
    let cli = <crate::cli::Cli as clap::Parser>::parse_from(args);
    let runtime = tokio::runtime::Runtime::new().expect("an async runtime");
    if let Err(report) = runtime.block_on(crate::cmd::run(cli)) {
        eprintln!("error: {}", report.describe());
        std::process::exit(1);
    }
}

/// The same user with other image hashes, for the CDN's other paths (an `a_` avatar is
/// animated; a banner is not part of the usual synthetic user).
pub fn with_images(mut snapshot: Snapshot, avatar: &str, banner: &str) -> Snapshot {
    snapshot.user.avatar = Some(avatar.into());
    snapshot.user.banner = Some(banner.into());
    snapshot
}

fn synthetic_user(n: u64, display_name: &str) -> User {
    User {
        id: Snowflake(synthetic_user_id(n)),
        username: format!("user{n}"),
        discriminator: "0".into(),
        global_name: Some(display_name.into()),
        avatar: Some(AVATAR.into()),
        banner: None,
        accent_color: None,
        // HypeSquad Bravery.
        public_flags: 1 << 6,
        avatar_decoration_data: None,
        primary_guild: None,
        collectibles: None,
    }
}

/// Public GitHub account `c` of user `n`.
fn github(n: u64, c: usize) -> Connection {
    Connection {
        id: format!("c{c}"),
        name: format!("user{n}-{c}"),
        kind: "github".into(),
        verified: true,
        visibility: 1,
        revoked: false,
    }
}

/// Server `g`, the same for every user, as on a real site where people share servers.
fn server(g: u64) -> Guild {
    Guild {
        id: Snowflake(200_000_000_000_000_000 + g),
        name: format!("Server {g}"),
        icon: None,
        banner: None,
        owner: false,
        approximate_member_count: None,
    }
}

/// One profile page ready to render: the theme compiled and the page model built, as a build
/// has them before it renders a page, so that timing [`ProfilePage::render`] times the template.
pub struct ProfilePage {
    renderer: Renderer,
    profile: Profile,
}

impl ProfilePage {
    /// The page of `snapshot` (everything published) in the theme and site of `config`.
    pub fn new(config: &Config, snapshot: &Snapshot) -> Result<ProfilePage, RenderError> {
        let renderer = Renderer::new(&config.theme_dir(), site_info(config))?;
        let publish = Publish {
            connections: true,
            guilds: true,
        };
        let cdn = Cdn::new(config.discord.cdn_base.url().clone());
        let profile = Profile::build(snapshot, publish, &cdn, config.site.base_url.url());
        Ok(ProfilePage { renderer, profile })
    }

    /// The theme's `profile.html` for this page.
    pub fn render(&self) -> Result<String, RenderError> {
        self.renderer.render_profile(&self.profile)
    }
}

/// Discord's CDN, for the image URLs every page links to.
pub struct CdnUrls {
    cdn: Cdn,
}

impl CdnUrls {
    /// `https://cdn.discordapp.com`, the default `discord.cdn_base`.
    pub fn discord() -> CdnUrls {
        CdnUrls {
            cdn: Cdn::discord(),
        }
    }

    /// The avatar URL of the user of `snapshot` at `size` pixels.
    pub fn avatar(&self, snapshot: &Snapshot, size: u16) -> String {
        snapshot.user.avatar_url(&self.cdn, size)
    }

    /// The banner URL of the user of `snapshot` at `size` pixels, when they have one.
    pub fn banner(&self, snapshot: &Snapshot, size: u16) -> Option<String> {
        snapshot.user.banner_url(&self.cdn, size)
    }
}

/// The Markdown body of a `content/users/*.md` file as the sanitised HTML a page shows.
pub fn user_markdown(body: &str) -> String {
    markdown::to_html(body, USER_HEADING_OFFSET)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored snapshot is read back through Discord's (lenient) decoding: the synthetic user
    /// must be exactly what that decoding makes of Discord's JSON for them.
    #[test]
    fn synthetic_snapshot_is_what_discord_json_decodes_to() {
        let connections: Vec<_> = (0..4)
            .map(|c| serde_json::json!({"id": format!("c{c}"), "name": format!("user7-{c}"), "type": "github", "verified": true, "visibility": 1}))
            .collect();
        let guilds: Vec<_> = (0..40u64)
            .map(|g| serde_json::json!({"id": (200_000_000_000_000_000 + g).to_string(), "name": format!("Server {g}"), "icon": null}))
            .collect();
        let json = serde_json::json!({
            "user": {"id": synthetic_user_id(7).to_string(), "username": "user7", "global_name": "User 7",
                     "avatar": "a1b2c3d4e5f6", "discriminator": "0", "public_flags": 64},
            "connections": connections,
            "guilds": guilds,
        });
        let decoded: Snapshot = serde_json::from_value(json).unwrap();
        assert_eq!(decoded, synthetic_snapshot(7, "User 7"));
    }

    #[test]
    fn synthetic_profile_shows_every_connection_and_server() {
        let consent = synthetic_consent(3, "User 3");
        let profile = Profile::build(
            &consent.snapshot,
            consent.publish,
            &Cdn::discord(),
            &url::Url::parse("https://bench.example/").unwrap(),
        );
        assert_eq!(profile.connections.map(|c| c.len()), Some(CONNECTIONS));
        assert_eq!(profile.guilds.map(|g| g.len()), Some(GUILDS as usize));
        assert_eq!(profile.badges.len(), 1);
    }
}
