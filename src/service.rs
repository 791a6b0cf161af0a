//! The workflows of strife-gen — consent, delete, revoke, refresh, build — and the parts they use:
//! the store, the token cipher, the Discord clients and the job queue. The commands and the HTTP
//! handlers call these methods; this module must not know about HTTP or the command line.

mod edits;

use std::sync::Arc;
use std::time::Duration;

use crate::build::{reconsent_cutoff, Build, BuildError, BuildOptions, BuildSummary};
use crate::build_pool::BuildPool;
use crate::community::join::{JoinNote, Joiner, JOIN_PATIENCE};
use crate::community::Community;
use crate::config::site::ImageMode;
use crate::config::{Config, ConfigError, Secrets, TOKEN_KEY_VAR};
use crate::crypto::{CryptoError, KeySource, TokenCipher};
use crate::discord::cdn::Cdn;
use crate::discord::client::{ClientOptions, DiscordClient, DiscordError};
use crate::discord::lenient::Decoded;
use crate::discord::models::{Snapshot, Snowflake, User};
use crate::discord::oauth::{AuthorizeRequest, OAuthClient, OAuthError, OAuthSettings, TokenSet};
use crate::discord::scope::Scope;
use crate::fault::Blame;
use crate::images::fetch::fetch_user_now;
use crate::jobs::{Batch, JobQueue, Trigger};
use crate::layout::Layout;
use crate::publish::{Choices, Publish};
use crate::refresh::{tokens_from, Backoff, Refresher, Targets};
use crate::store::{unix_now, Consent, Revocation, Store, StoreError, StoreLocation};

pub(crate) use edits::{EditView, Saved};

/// Wait before the background worker retries a batch whose revocation the store refused.
const REVOKE_RETRY: Duration = Duration::from_secs(30);

/// Why the service could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// strife.toml or the environment lacks something the service needs.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The token key is malformed, or the key file cannot be read or written.
    #[error(transparent)]
    Key(#[from] CryptoError),
    #[error(transparent)]
    /// The store could not be opened or read.
    Store(#[from] StoreError),
    #[error("cannot set up the Discord client: {0}")]
    /// The Discord client cannot be built.
    Discord(#[from] DiscordError),
    #[error("cannot set up the OAuth client: {0}")]
    /// The OAuth client cannot be built.
    OAuth(#[from] OAuthError),
}

impl Blame for ServiceError {
    fn is_users_fault(&self) -> bool {
        match self {
            ServiceError::Config(error) => error.is_users_fault(),
            ServiceError::Key(error) => error.is_users_fault(),
            ServiceError::Store(error) => error.is_users_fault(),
            ServiceError::Discord(_) | ServiceError::OAuth(_) => false,
        }
    }
}

/// Why signing someone in at the end of the OAuth round trip failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SignInError {
    /// The service was opened without Discord credentials ([`Service::open_offline`]).
    #[error("this service was opened without Discord credentials")]
    Offline,
    /// Discord refused the authorization code.
    #[error("code exchange failed: {0}")]
    Exchange(#[source] OAuthError),
    /// `GET /users/@me` failed, or its answer is no usable account.
    #[error("fetching the signed-in user failed: {0}")]
    User(#[source] DiscordError),
}

/// Why a background batch failed; the job status shows the message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BatchError {
    /// The batch stopped before building: a revoked user must never be published. The rest of
    /// the batch is queued again.
    #[error("revoking user {user} failed (retrying): {source}")]
    Revoke { user: Snowflake, source: StoreError },
    #[error(transparent)]
    Build(BuildError),
}

/// Why a consent was not stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConsentError {
    /// The service was opened without Discord credentials ([`Service::open_offline`]).
    #[error("this service was opened without Discord credentials")]
    Offline,
    /// Discord granted access without a refresh token: the page could never be refreshed.
    #[error("Discord sent no refresh token with the authorization")]
    NoRefreshToken,
    #[error("storing the consent failed: {0}")]
    Store(#[from] StoreError),
}

/// A stored consent: whose, and how joining the community's server went (`None`: not asked).
#[derive(Debug)]
pub(crate) struct Consented {
    pub(crate) id: Snowflake,
    pub(crate) join: Option<JoinNote>,
}

/// A user who signed in at Discord: their tokens and their account.
pub(crate) struct SignedIn {
    /// What the code exchange returned.
    pub(crate) tokens: TokenSet,
    /// `GET /users/@me`, with whatever odd fields had to be left out.
    pub(crate) user: Decoded<User>,
}

/// strife-gen at work on one site: what every workflow needs, opened once.
pub struct Service {
    config: Arc<Config>,
    layout: Layout,
    store: Store,
    /// The Discord side; `None` for a service opened offline (renders from snapshots only).
    discord: Option<Refresher>,
    /// The one queue of background builds (`serve` runs its worker).
    jobs: JobQueue,
    /// Wait before a batch whose revocation failed runs again.
    revoke_retry: Duration,
    /// Where builds do their CPU work; `None`: the process's shared pool, started by the first
    /// build (so `serve`, which brings its own, never starts it).
    pool: Option<BuildPool>,
    /// Consents whose completion (connections, servers, images, page) is still running.
    completions: InFlight,
    /// Joins the community's server for those who tick it (`community.join = "offer"`).
    joiner: Option<Joiner>,
    /// How long a consent's answer waits for the join.
    join_patience: Duration,
}

/// Where the site's store is: the PostgreSQL database `store.url` (or `DATABASE_URL`) names,
/// else the SQLite file.
pub(crate) fn store_location(config: &Config, layout: &Layout) -> StoreLocation {
    match &config.store.url {
        Some(url) => StoreLocation::Postgres(url.clone()),
        None => StoreLocation::Sqlite(layout.store.clone()),
    }
}

impl Service {
    /// [`Service::open`] (with `secrets`) or [`Service::open_offline`], from async code: opening
    /// reads the store (the key check, the migrations), which must not block an async worker
    /// (the PostgreSQL store refuses it), so it runs on tokio's blocking pool.
    pub async fn open_from_async(
        config: Arc<Config>,
        secrets: Option<Secrets>,
    ) -> Result<Service, ServiceError> {
        tokio::task::spawn_blocking(move || {
            crate::store::allow_blocking(|| match &secrets {
                Some(secrets) => Service::open(config, secrets),
                None => Service::open_offline(config),
            })
        })
        .await
        .map_err(|e| ServiceError::Store(StoreError::Task(e.to_string())))?
    }

    /// The full service: the store, its token key, and clients for Discord. Everything that can
    /// be checked (OAuth settings, the client secret, the key's form) is checked before the
    /// store is created on disk.
    pub fn open(config: Arc<Config>, secrets: &Secrets) -> Result<Service, ServiceError> {
        // The clients check the OAuth settings and the client secret, and create no files.
        let (oauth, discord) = discord_clients(&config, secrets)?;
        if let Some(key) = secrets.token_key() {
            TokenCipher::from_base64(key)?;
        }
        let mut service = Service::open_offline(config)?;
        let cipher = load_cipher(&service.layout, secrets, &service.store)?;
        service.discord = Some(Refresher {
            store: service.store.clone(),
            cipher,
            oauth,
            discord,
            concurrency: service.config.refresh.concurrency.get(),
            backoff: Backoff {
                base: service.config.refresh.retry_backoff,
                max: service.config.refresh.retry_backoff_max,
            },
            access_margin: Refresher::access_margin(service.config.refresh.interval),
        });
        Ok(service)
    }

    /// The store alone: enough to render the site from stored snapshots and to manage users,
    /// without Discord credentials.
    pub fn open_offline(config: Arc<Config>) -> Result<Service, ServiceError> {
        let layout = Layout::of(&config);
        let store = Store::open_at(&store_location(&config, &layout))?;
        Ok(Service {
            config,
            layout,
            store,
            discord: None,
            jobs: JobQueue::new(),
            revoke_retry: REVOKE_RETRY,
            pool: None,
            completions: InFlight::default(),
            joiner: None,
            join_patience: JOIN_PATIENCE,
        })
    }

    /// Offers joining `community`'s server (checked by [`Community::check`]) to those who sign
    /// in. Needs the Discord side: an offline service never joins anyone.
    pub fn with_community(mut self, community: Option<Community>) -> Service {
        let (Some(community), Some(refresher)) = (community, &self.discord) else {
            return self;
        };
        self.joiner = Some(Joiner::new(
            Arc::new(community),
            self.store.clone(),
            refresher.cipher.clone(),
            refresher.backoff,
            Cdn::new(self.config.discord.cdn_base.url().clone()),
            self.config.site.base_url.url().clone(),
        ));
        self
    }

    /// Replaces how long a consent's answer waits for the join (tests use milliseconds).
    pub fn with_join_patience(mut self, wait: Duration) -> Service {
        self.join_patience = wait;
        self
    }

    /// The community's server, when joining it is offered.
    pub(crate) fn community(&self) -> Option<&Community> {
        self.joiner.as_ref().map(|joiner| &*joiner.community)
    }

    /// Replaces the Discord REST client (tests use one that retries after milliseconds).
    pub fn with_discord_client(mut self, client: DiscordClient) -> Service {
        if let Some(refresher) = &mut self.discord {
            refresher.discord = client;
        }
        self
    }

    /// Runs builds on `pool`: `serve` and `watch` give one of
    /// [`crate::build_pool::Priority::Background`] threads, so that requests are answered while
    /// a build runs.
    pub fn with_build_pool(mut self, pool: BuildPool) -> Service {
        self.pool = Some(pool);
        self
    }

    /// Replaces the wait before a batch whose revocation the store refused runs again.
    pub fn with_revoke_retry(mut self, wait: Duration) -> Service {
        self.revoke_retry = wait;
        self
    }

    /// The configuration the service was opened with.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Where the site's files are.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The store of users, tokens and snapshots.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The queue of background builds.
    pub fn jobs(&self) -> &JobQueue {
        &self.jobs
    }

    /// The Discord side, when the service was opened online.
    pub fn discord(&self) -> Option<&Refresher> {
        self.discord.as_ref()
    }

    /// Builds the site: refreshes `options.refresh` from Discord (an offline service cannot),
    /// renders, deploys. See [`Build::run`] for the steps.
    pub async fn build(&self, options: BuildOptions) -> Result<BuildSummary, BuildError> {
        let refresher = match &options.refresh {
            Some(_) => Some(self.discord.as_ref().ok_or(BuildError::Offline)?),
            None => None,
        };
        let pool = match &self.pool {
            Some(pool) => pool.clone(),
            None => BuildPool::shared().map_err(|e| BuildError::Task(e.to_string()))?,
        };
        let build = Build {
            config: &self.config,
            layout: &self.layout,
            store: &self.store,
            refresher,
            pool: &pool,
        };
        build.run(options).await
    }

    /// Asks the background worker to re-render the site from the stored snapshots as soon as
    /// it is free. Requests made while it is busy coalesce into one more render.
    pub(crate) fn request_render(&self) {
        self.jobs.trigger(Trigger::Render);
    }

    /// The public URL of a user's page.
    pub(crate) fn profile_url(&self, id: Snowflake) -> String {
        let base = self.config.site.base_url.url().as_str();
        format!("{}/u/{id}/", base.trim_end_matches('/'))
    }

    /// The start of the OAuth round trip: Discord's authorize URL for `scopes`, with a fresh
    /// `state` and PKCE verifier for the caller to keep until the browser comes back.
    pub(crate) fn authorize(&self, scopes: &[Scope]) -> Result<AuthorizeRequest, SignInError> {
        let discord = self.discord.as_ref().ok_or(SignInError::Offline)?;
        Ok(discord.oauth.authorize(scopes))
    }

    /// The end of the OAuth round trip: trades Discord's `code` for tokens and fetches who
    /// signed in.
    pub(crate) async fn sign_in(
        &self,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<SignedIn, SignInError> {
        let discord = self.discord.as_ref().ok_or(SignInError::Offline)?;
        let tokens = discord
            .oauth
            .exchange_code(code, pkce_verifier)
            .await
            .map_err(SignInError::Exchange)?;
        let user = discord
            .discord
            .for_sign_in()
            .current_user(&tokens.access_token)
            .await
            .map_err(SignInError::User)?;
        Ok(SignedIn { tokens, user })
    }

    /// Stores a consent and its tokens, then the first full snapshot, and queues the page;
    /// joins the community's server when they ticked it (waiting [`JOIN_PATIENCE`] at most, by
    /// default).
    pub(crate) async fn consent(
        &self,
        signed_in: SignedIn,
        choices: Choices,
    ) -> Result<Consented, ConsentError> {
        let wanted = choices.publish;
        let SignedIn { tokens, user } = signed_in;
        // Odd details are left out of the page; they are no reason to refuse the consent.
        user.warn(user.value.id, "Discord");
        let user = user.value;
        if tokens.refresh_token.is_none() {
            tracing::warn!(user = %user.id, "Discord sent no refresh token with the authorization");
            return Err(ConsentError::NoRefreshToken);
        }
        let cipher = self
            .discord
            .as_ref()
            .ok_or(ConsentError::Offline)?
            .cipher
            .clone();
        let scopes = tokens.scopes.clone();
        // Discord may grant less than asked: only a granted `guilds.join` lets the bot add them.
        let joins = choices.join && scopes.contains(&Scope::GuildsJoin);
        let publish = wanted.limited_to(&scopes);
        let access_token = tokens.access_token.clone();
        let id = user.id;
        // The grant is stored before any further Discord call: those are retried and
        // rate-limited, and a restart meanwhile must not lose an authorization Discord made.
        let consent = Consent {
            scopes,
            publish,
            tokens: tokens_from(tokens, None, unix_now()),
            snapshot: Snapshot {
                user,
                connections: None,
                guilds: None,
            },
        };
        let snapshot = consent.snapshot.clone();
        self.store
            .run(move |store| store.record_consent(&consent, &cipher, unix_now()))
            .await?;
        tracing::info!(user = %id, "consent stored");
        let join_token = joins.then(|| access_token.clone());
        self.spawn_completion(access_token, publish, snapshot);
        let join = match join_token {
            Some(token) => self.join(id, token).await,
            None => None,
        };
        Ok(Consented { id, join })
    }

    /// Joins user `id` to the community's server in a task of its own (so that it finishes
    /// whatever the browser does), waiting for it `join_patience` at most.
    async fn join(&self, id: Snowflake, access_token: String) -> Option<JoinNote> {
        let joiner = self.joiner.clone()?;
        let server = joiner.community.guild.name.clone();
        let (answer, answered) = tokio::sync::oneshot::channel();
        let running = self.completions.start();
        tokio::spawn(async move {
            let note = joiner.after_consent(id, &access_token).await;
            let _ = answer.send(note);
            drop(running);
        });
        match tokio::time::timeout(self.join_patience, answered).await {
            Ok(Ok(note)) => Some(note),
            Ok(Err(_)) | Err(_) => {
                tracing::info!(user = %id, "community: the join takes longer; it goes on in the background");
                Some(JoinNote::OnItsWay { server })
            }
        }
    }

    /// The rest of a consent, after its answer: the opted-in connections and servers, the
    /// page's images, then the page. The consent is stored, so the person need not wait for
    /// more round trips to Discord (the success page says the page is on its way); none of this
    /// is fatal, as the next refresh fetches whatever fails here.
    fn spawn_completion(&self, access_token: String, publish: Publish, snapshot: Snapshot) {
        let Some(refresher) = self.discord.as_ref() else {
            return;
        };
        let completion = Completion {
            store: self.store.clone(),
            // Someone is waiting on the page: the sign-in's lane.
            discord: refresher.discord.for_sign_in(),
            cdn: (self.config.site.images == ImageMode::Mirror)
                .then(|| Cdn::new(self.config.discord.cdn_base.url().clone())),
            reconsent_cutoff: reconsent_cutoff(&self.config),
            jobs: self.jobs.clone(),
        };
        let running = self.completions.start();
        tokio::spawn(async move {
            completion.run(&access_token, publish, snapshot).await;
            drop(running);
        });
    }

    /// Waits until the completions of the consents stored so far are done (their pages
    /// queued): for a clean stop, and for tests.
    pub async fn completions_done(&self) {
        self.completions.wait().await;
    }

    /// Deletes everything stored about user `id`, then revokes our access at Discord: the
    /// stored refresh token and any `extra_tokens` (the access token of the sign-in that asked
    /// for the deletion). Returns whether anything was stored.
    ///
    /// The order is the safe one: deleting first means a failure leaves the user as they were,
    /// able to try again. Had revoking come first and the deletion then failed, the user would
    /// stay active with a dead grant, and their page would stay up through the re-consent grace
    /// period. Revoking is best effort: the data is gone either way, and the user can remove the
    /// app in their Discord settings.
    pub(crate) async fn delete(
        &self,
        id: Snowflake,
        extra_tokens: Vec<String>,
    ) -> Result<bool, StoreError> {
        let stored = match &self.discord {
            Some(discord) => {
                let cipher = discord.cipher.clone();
                self.store
                    .run(move |store| store.load_tokens(id, &cipher))
                    .await
                    .unwrap_or_else(|error| {
                        tracing::warn!(user = %id, "stored tokens unreadable, deleting anyway: {error}");
                        None
                    })
            }
            None => None,
        };
        let existed = self.store.run(move |store| store.delete_user(id)).await?;
        tracing::info!(user = %id, existed, "user deleted on request");
        self.request_render();
        let tokens = extra_tokens
            .into_iter()
            .chain(stored.map(|t| t.refresh_token));
        self.revoke_at_discord(id, tokens).await;
        Ok(existed)
    }

    /// Revokes each token at Discord (either kind ends the whole authorization); failures are
    /// logged, since the caller has already deleted what we stored.
    async fn revoke_at_discord(&self, id: Snowflake, tokens: impl Iterator<Item = String>) {
        let Some(discord) = &self.discord else {
            tracing::warn!(user = %id, "not revoked at Discord (no Discord credentials); they can remove the app in their Discord settings");
            return;
        };
        for token in tokens {
            if let Err(error) = discord.oauth.revoke(&token).await {
                tracing::warn!(user = %id, "revoking at Discord failed: {error}; they can remove the app in their Discord settings");
            }
        }
    }

    /// Records that user `id` removed the app at Discord at `at` (Unix seconds, when known):
    /// their tokens are deleted and their page leaves the site with the next build.
    pub(crate) async fn revoke(
        &self,
        id: Snowflake,
        at: Option<i64>,
    ) -> Result<Revocation, StoreError> {
        let revocation = self
            .store
            .run(move |store| store.revoke_authorization(id, at, unix_now()))
            .await?;
        match revocation {
            Revocation::Revoked => {
                tracing::info!(user = %id, "revoked: tokens deleted, page removed with this build")
            }
            Revocation::AlreadyRevoked => tracing::debug!(user = %id, "already revoked"),
            Revocation::Stale => {
                tracing::info!(user = %id, "deauthorization predates their latest consent; ignored")
            }
            Revocation::Unknown => {
                tracing::info!(user = %id, "deauthorization of a user we do not know; nothing stored")
            }
        }
        Ok(revocation)
    }

    /// The one task that writes the site in this process: the worker of [`Service::jobs`]. It
    /// runs a full refresh + build at start and every `refresh.interval`, and a build for
    /// whatever webhooks and [`Service::request_render`] queued. Being one loop, two builds of
    /// this process never overlap (and the build lock keeps a `strife-gen build` by hand from
    /// overlapping with it). It returns after [`JobQueue::shutdown`], once the build in progress
    /// is done.
    pub fn spawn_background_builds(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let every = service.config.refresh.interval;
            service
                .jobs
                .run(Some(every), |batch| service.run_batch(batch))
                .await
        })
    }

    /// One build for a batch of queued work: revocations first (so a revoked user is neither
    /// refreshed nor published), then the refreshes asked for, then the render.
    async fn run_batch(&self, batch: Batch) -> Result<BuildSummary, BatchError> {
        for (failed_at, &(user, at)) in batch.revoke.iter().enumerate() {
            if let Err(error) = self.revoke(user, at).await {
                // A build must not publish a user whose revocation failed: give up on this
                // batch and run the rest of it again a little later (the store may be down).
                let remaining = Batch {
                    revoke: batch.revoke[failed_at..].to_vec(),
                    ..batch
                };
                let (jobs, wait) = (self.jobs.clone(), self.revoke_retry);
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    jobs.requeue(remaining);
                });
                return Err(BatchError::Revoke {
                    user,
                    source: error,
                });
            }
        }
        if let Some(joiner) = self.joiner.clone() {
            // After a restart, or once the refresh renewed an expired access token.
            tokio::spawn(async move { joiner.retry_due().await });
        }
        let targets = Targets {
            everyone: batch.everyone,
            users: batch.refresh,
        };
        let options = BuildOptions {
            refresh: (!targets.is_empty()).then_some(targets),
            ..BuildOptions::default()
        };
        match self.build(options).await {
            Ok(summary) => {
                tracing::info!("background build: {summary}");
                Ok(summary)
            }
            Err(error) => {
                tracing::error!("background build failed, the previous site stays: {error}");
                Err(BatchError::Build(error))
            }
        }
    }
}

/// What the completion of one consent needs, owned, for its task.
struct Completion {
    store: Store,
    discord: DiscordClient,
    /// `Some` with `site.images = "mirror"`.
    cdn: Option<Cdn>,
    reconsent_cutoff: i64,
    jobs: JobQueue,
}

impl Completion {
    async fn run(self, access_token: &str, publish: Publish, mut snapshot: Snapshot) {
        let id = snapshot.user.id;
        let connections = self.discord.connections(access_token);
        snapshot.connections = fetch_optional(id, publish.connections, connections).await;
        let guilds = self.discord.guilds(access_token);
        snapshot.guilds = fetch_optional(id, publish.guilds, guilds).await;
        if snapshot.connections.is_some() || snapshot.guilds.is_some() {
            let saved = self
                .store
                .run(move |store| store.save_snapshot(&snapshot, unix_now()))
                .await;
            if let Err(error) = saved {
                tracing::warn!(user = %id, "saving the consent-time snapshot failed, the next build retries: {error}");
            }
        }
        // Builds fetch images only when they refresh: without this, the first page would link
        // Discord's CDN until the next scheduled refresh.
        if let Some(cdn) = &self.cdn {
            let fetched =
                fetch_user_now(&self.store, &self.discord, cdn, self.reconsent_cutoff, id).await;
            if let Err(error) = fetched {
                tracing::warn!(user = %id, "mirroring the images of a new page failed, the next refresh retries: {error}");
            }
        }
        self.jobs.trigger(Trigger::Render);
    }
}

/// Counts the consent completions in flight, so that they can be waited for.
#[derive(Clone, Default)]
struct InFlight {
    inner: Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>,
}

/// One completion in flight, until dropped (also when its task panics).
struct Running(InFlight);

impl Drop for Running {
    fn drop(&mut self) {
        let (count, done) = &*self.0.inner;
        if count.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            done.notify_waiters();
        }
    }
}

impl InFlight {
    fn start(&self) -> Running {
        self.inner
            .0
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Running(self.clone())
    }

    async fn wait(&self) {
        let (count, done) = &*self.inner;
        loop {
            // Registered before the check, so a completion ending in between is not missed.
            let notified = done.notified();
            if count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Connections or guilds of user `id` at consent time; a failure here is not fatal, the next
/// build fetches them.
async fn fetch_optional<T>(
    id: Snowflake,
    wanted: bool,
    fetch: impl std::future::Future<Output = Result<Decoded<Vec<T>>, DiscordError>>,
) -> Option<Vec<T>> {
    if !wanted {
        return None;
    }
    match fetch.await {
        Ok(items) => {
            items.warn(id, "Discord");
            Some(items.value)
        }
        Err(error) => {
            tracing::warn!("fetching at consent time failed, the next build retries: {error}");
            None
        }
    }
}

/// The token key from the environment, or from the key file (generated on first use), checked
/// against the store: a key that does not open the stored tokens is refused.
fn load_cipher(
    layout: &Layout,
    secrets: &Secrets,
    store: &Store,
) -> Result<TokenCipher, ServiceError> {
    let (cipher, source) = TokenCipher::load(secrets.token_key(), &layout.key_file)?;
    if let KeySource::Generated(path) = &source {
        tracing::warn!(
            "generated a new token encryption key in {} (mode 0600); back it up, or set {TOKEN_KEY_VAR} instead",
            path.display(),
        );
    }
    store.verify_key(&cipher)?;
    Ok(cipher)
}

/// The OAuth and REST clients for the configured application, sharing one HTTP client.
fn discord_clients(
    config: &Config,
    secrets: &Secrets,
) -> Result<(OAuthClient, DiscordClient), ServiceError> {
    let (client_id, redirect_uri) = config.require_oauth()?;
    let client_secret = secrets.client_secret()?.to_owned();
    let options = ClientOptions::new(config.discord.api_base.url().clone()).identified();
    let discord = DiscordClient::new(options)?;
    let settings = OAuthSettings {
        client_id: client_id.to_string(),
        client_secret,
        authorize_url: config.discord.authorize_url.url().clone(),
        token_url: config.discord.token_url(),
        revoke_url: config.discord.revoke_url(),
        redirect_uri: redirect_uri.url().clone(),
    };
    let oauth = OAuthClient::new(settings, discord.http())?;
    Ok((oauth, discord))
}
