//! A site in a temporary folder wired to the fake Discord, with the real service routes: what
//! the integration tests drive consents, builds and webhooks through.

use std::path::PathBuf;
use std::sync::Arc;

use fake_discord::{FakeDiscord, CLIENT_SECRET};
use strife_gen::build::{self, BuildError, BuildOptions, BuildSummary};
use strife_gen::community::Community;
use strife_gen::config::{Config, Secrets};
use strife_gen::crypto::TokenCipher;
use strife_gen::discord::client::{ClientOptions, DiscordClient};
use strife_gen::discord::models::Snowflake;
use strife_gen::refresh::Targets;
use strife_gen::server::{routes, App};
use strife_gen::service::Service;
use strife_gen::site::render::Renderer;
use strife_gen::store::{Store, UserStatus};
use warp::http::StatusCode;

use super::fixtures::{ada, discord_table, site_table, themes_dir, ADA, TOKEN_KEY};

/// The test secrets: the fake's client secret and the test token key.
fn secrets() -> Secrets {
    Secrets::new(Some(CLIENT_SECRET.into()), Some(TOKEN_KEY.into()))
}

/// A site folder wired to `fake`, its `strife.toml` changed by `edit_config`, and the service
/// opened on it.
fn open(
    fake: &FakeDiscord,
    edit_config: impl FnOnce(String) -> String,
) -> (tempfile::TempDir, Arc<Config>, Service) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let text = format!(
        "{site}\n{discord}\n[refresh]\nconcurrency = 3\n",
        site = site_table(
            "Test profiles",
            "https://profiles.example.org/",
            &[("themes_dir", &themes_dir())],
        ),
        discord = discord_table(
            fake,
            "https://profiles.example.org/callback",
            // The fake's CDN: builds mirror the images pages use, and tests talk to nobody else.
            Some(&fake.cdn_base()),
        ),
    );
    std::fs::write(root.join("strife.toml"), edit_config(text)).unwrap();
    let config = Arc::new(Config::load(&root.join("strife.toml")).unwrap());
    // The configured client, but retrying 5xx after milliseconds instead of seconds.
    let mut options = ClientOptions::new(config.discord.api_base.url().clone());
    options.backoff_base = std::time::Duration::from_millis(1);
    let service = Service::open(config.clone(), &secrets())
        .unwrap()
        .with_discord_client(DiscordClient::new(options).unwrap());
    (dir, config, service)
}

/// A site in a temporary folder: its config, store, refresher and service, and its fake Discord.
pub(crate) struct Site {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub config: Arc<Config>,
    pub service: Arc<Service>,
    pub app: Arc<App>,
    pub fake: FakeDiscord,
}

impl Site {
    /// A site whose fake Discord knows [`ada`] and signs the next authorize in as her.
    pub(crate) async fn with_ada() -> Site {
        let site = Site::new().await;
        site.fake.add_user(ada());
        site.fake.login_as(ADA);
        site
    }

    /// A site whose fake Discord knows nobody yet.
    pub(crate) async fn new() -> Site {
        Site::with(|config| config, |app| app).await
    }

    /// A site whose `strife.toml` is changed by `edit_config` (add sections, override keys) and
    /// whose HTTP side is adjusted by `edit_app` (webhook secret, clock).
    pub(crate) async fn with(
        edit_config: impl FnOnce(String) -> String,
        edit_app: impl FnOnce(App) -> App,
    ) -> Site {
        Site::with_service(edit_config, |service| service, edit_app).await
    }

    /// [`Site::with`], with the service adjusted by `edit_service` too (the revocation retry).
    pub(crate) async fn with_service(
        edit_config: impl FnOnce(String) -> String,
        edit_service: impl FnOnce(Service) -> Service,
        edit_app: impl FnOnce(App) -> App,
    ) -> Site {
        let fake = FakeDiscord::start().await;
        let (dir, config, service) = open(&fake, edit_config);
        Site::assemble(fake, dir, config, edit_service(service), edit_app)
    }

    /// A site that offers joining the community's server: `prepare` sets the fake Discord up
    /// (the server, the bot) before `serve`'s start-up check runs against it, as it does in
    /// `strife-gen serve`.
    pub(crate) async fn with_community(
        edit_config: impl FnOnce(String) -> String,
        prepare: impl FnOnce(&FakeDiscord),
    ) -> Site {
        Site::with_community_service(edit_config, prepare, |service| service).await
    }

    /// [`Site::with_community`], with the service adjusted by `edit_service` (the join's patience).
    pub(crate) async fn with_community_service(
        edit_config: impl FnOnce(String) -> String,
        prepare: impl FnOnce(&FakeDiscord),
        edit_service: impl FnOnce(Service) -> Service,
    ) -> Site {
        let fake = FakeDiscord::start().await;
        prepare(&fake);
        let (dir, config, service) = open(&fake, edit_config);
        let secrets = secrets().with_bot_token(fake_discord::BOT_TOKEN);
        let community = Community::check(&config, &secrets)
            .await
            .expect("the community check passes");
        assert!(community.is_some(), "joining is offered");
        let service = edit_service(service.with_community(community));
        Site::assemble(fake, dir, config, service, |app| app)
    }

    /// Another service on this site's folder, as after a restart of `serve` (with the community
    /// checked again).
    pub(crate) async fn reopened(&self) -> Arc<Service> {
        let secrets = secrets().with_bot_token(fake_discord::BOT_TOKEN);
        let community = Community::check(&self.config, &secrets).await.unwrap();
        let service = Service::open(self.config.clone(), &secrets).unwrap();
        Arc::new(service.with_community(community))
    }

    fn assemble(
        fake: FakeDiscord,
        dir: tempfile::TempDir,
        config: Arc<Config>,
        service: Service,
        edit_app: impl FnOnce(App) -> App,
    ) -> Site {
        let service = Arc::new(service);
        let renderer = Renderer::new(&config.theme_dir(), build::site_info(&config)).unwrap();
        let app = Arc::new(edit_app(App::new(service.clone(), Arc::new(renderer))));
        Site {
            root: dir.path().to_owned(),
            _dir: dir,
            config,
            service,
            app,
            fake,
        }
    }

    /// The site's store.
    pub(crate) fn store(&self) -> &Store {
        self.service.store()
    }

    /// The key the site's tokens are sealed with.
    pub(crate) fn cipher(&self) -> &TokenCipher {
        &self.service.discord().unwrap().cipher
    }

    /// The whole browser round trip: our /login (or /delete), Discord's authorize, our /callback.
    /// The service's answer to `method path`, through the real routes (no socket).
    pub(crate) async fn request(
        &self,
        method: &str,
        path: &str,
    ) -> warp::http::Response<warp::hyper::body::Bytes> {
        warp::test::request()
            .method(method)
            .path(path)
            .reply(&routes(self.app.clone()))
            .await
    }

    /// The whole browser round trip: our /login (or /delete), Discord's authorize, our /callback.
    pub(crate) async fn sign_in(&self, start: &str) -> (StatusCode, String) {
        let answer = self.sign_in_reply(start).await;
        (
            answer.status(),
            String::from_utf8_lossy(answer.body()).into_owned(),
        )
    }

    /// [`Site::sign_in`], answering the callback's whole reply (its cookies too).
    pub(crate) async fn sign_in_reply(
        &self,
        start: &str,
    ) -> warp::http::Response<warp::hyper::body::Bytes> {
        let filter = routes(self.app.clone());
        let started = warp::test::request().path(start).reply(&filter).await;
        assert_eq!(started.status(), StatusCode::SEE_OTHER, "{start}");
        let authorize = header(&started, "location");
        let cookie = header(&started, "set-cookie");
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Secure"),
            "{cookie}"
        );
        let cookie = cookie.split(';').next().unwrap().to_owned();

        let back = self.discord_redirect(&authorize).await;
        let callback = back
            .strip_prefix("https://profiles.example.org")
            .expect("redirected to our callback");
        let answer = warp::test::request()
            .path(callback)
            .header("cookie", cookie)
            .reply(&filter)
            .await;
        // The consent's servers, connections and images are fetched after the answer.
        self.app.service().completions_done().await;
        answer
    }

    /// Follows the browser to the fake Discord's authorize page, which redirects right back.
    pub(crate) async fn discord_redirect(&self, authorize: &str) -> String {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let answer = client.get(authorize).send().await.unwrap();
        assert_eq!(
            answer.status().as_u16(),
            302,
            "{}",
            answer.text().await.unwrap()
        );
        answer.headers()["location"].to_str().unwrap().to_owned()
    }

    /// `strife-gen build`: everyone refreshed, then the site rendered.
    pub(crate) async fn build(&self) -> BuildSummary {
        let options = BuildOptions {
            refresh: Some(Targets::everyone()),
            ..BuildOptions::default()
        };
        self.service.build(options).await.unwrap()
    }

    /// `strife-gen build --offline`, of the site as its `strife.toml` says now.
    pub(crate) async fn render_offline(&self) -> Result<BuildSummary, BuildError> {
        render_offline(&self.config).await
    }

    /// The published page of the user `id`, if there is one.
    pub(crate) fn page(&self, id: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join("output/u").join(id).join("index.html")).ok()
    }

    /// Runs `statement` (SQL) on the site's store from a connection of its own, the way another
    /// process would (to break or inspect the store behind the service's back).
    pub(crate) fn sql(&self, statement: &str) {
        let conn = rusqlite::Connection::open(&self.config.store.path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        conn.execute_batch(statement).unwrap();
    }

    /// The stored status of the user `id`.
    pub(crate) fn status(&self, id: &str) -> UserStatus {
        self.store()
            .user(Snowflake::parse(id).unwrap())
            .unwrap()
            .unwrap()
            .status
    }
}

/// The header `name` of `reply`, as text.
pub(crate) fn header(reply: &warp::http::Response<warp::hyper::body::Bytes>, name: &str) -> String {
    reply.headers()[name].to_str().unwrap().to_owned()
}

/// `strife-gen build --offline` of the site `config` describes.
pub(crate) async fn render_offline(config: &Arc<Config>) -> Result<BuildSummary, BuildError> {
    let service = Service::open_offline(config.clone()).unwrap();
    let options = BuildOptions {
        deploy: false,
        ..BuildOptions::default()
    };
    service.build(options).await
}

/// [`render_offline`] from a thread outside any async runtime.
pub(crate) fn render_offline_blocking(config: &Arc<Config>) -> Result<BuildSummary, BuildError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(render_offline(config))
}
