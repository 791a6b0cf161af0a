//! The build step that fetches what the cache lacks: for every published user whose current
//! snapshot's images were not all settled, and for the sample users, each image URL not in the
//! store is downloaded once, checked and cached. Online builds only: `build --offline` uses what
//! is cached.

use futures_util::stream::{self, StreamExt};

use super::sniff::{self, MAX_IMAGE_BYTES};
use super::{image_urls, images_key};
use crate::discord::cdn::Cdn;
use crate::discord::client::DiscordClient;
use crate::discord::models::{Snapshot, Snowflake};
use crate::publish::Publish;
use crate::store::{unix_now, ImagesPending, Store, StoreError};

/// Downloads of one user in flight at once (the rate limiter paces them all anyway).
const IN_FLIGHT: usize = 4;

/// What the step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FetchSummary {
    /// Images downloaded and cached.
    pub(crate) fetched: usize,
    /// Images that could not be had: their pages use the CDN URL.
    pub(crate) failed: usize,
}

/// How one URL went.
enum Fetched {
    /// In the cache already, or now.
    Cached { new: bool },
    /// Not to be had; `transient` when trying again later may help.
    Failed { transient: bool },
}

/// Fetches what the pages of the published users (and `samples`, shown with everything) use and
/// the cache lacks. Store errors stop the step; a failed image never does.
pub(crate) async fn fetch_missing(
    store: &Store,
    discord: &DiscordClient,
    cdn: &Cdn,
    reconsent_cutoff: i64,
    samples: &[Snapshot],
) -> Result<FetchSummary, StoreError> {
    let mut summary = FetchSummary::default();
    let everything = Publish {
        connections: true,
        guilds: true,
    };
    for sample in samples {
        let urls = image_urls(sample, everything, cdn);
        fetch_urls(store, discord, sample.user.id, &urls, &mut summary).await?;
    }
    let pending = store
        .run(move |store| store.images_pending(reconsent_cutoff, None))
        .await?;
    for user in pending {
        fetch_user(store, discord, cdn, user, &mut summary).await?;
    }
    log(summary);
    Ok(summary)
}

/// The images of one user who just consented (their page is about to be rendered for the first
/// time), so that it shows the site's copies from the start rather than after the next refresh.
/// `discord` is the sign-in's lane: the person is waiting for this page.
pub(crate) async fn fetch_user_now(
    store: &Store,
    discord: &DiscordClient,
    cdn: &Cdn,
    reconsent_cutoff: i64,
    id: Snowflake,
) -> Result<FetchSummary, StoreError> {
    let mut summary = FetchSummary::default();
    let pending = store
        .run(move |store| store.images_pending(reconsent_cutoff, Some(id)))
        .await?;
    for user in pending {
        fetch_user(store, discord, cdn, user, &mut summary).await?;
    }
    log(summary);
    Ok(summary)
}

fn log(summary: FetchSummary) {
    if summary.fetched + summary.failed > 0 {
        tracing::info!(
            fetched = summary.fetched,
            failed = summary.failed,
            "images mirrored"
        );
    }
}

/// One user's images, then what their page uses recorded; the snapshot counts as settled unless
/// a failure was transient (then the next build tries again).
async fn fetch_user(
    store: &Store,
    discord: &DiscordClient,
    cdn: &Cdn,
    user: ImagesPending,
    summary: &mut FetchSummary,
) -> Result<(), StoreError> {
    let urls = image_urls(&user.snapshot, user.publish, cdn);
    let settled = fetch_urls(store, discord, user.id, &urls, summary).await?;
    let (id, hash) = (user.id, user.content_hash);
    store
        .run(move |store| {
            let key = images_key(store, &urls)?;
            store.record_images(id, settled.then_some(hash.as_str()), &key)
        })
        .await
}

/// Fetches the URLs the cache lacks; `true` when none failed in a way worth retrying.
async fn fetch_urls(
    store: &Store,
    discord: &DiscordClient,
    user: Snowflake,
    urls: &[String],
    summary: &mut FetchSummary,
) -> Result<bool, StoreError> {
    // Owned items and clones (both handles are shared pointers): a stream borrowing them would
    // not be `Send` for every lifetime, which the service's background task needs.
    let outcomes: Vec<Result<Fetched, StoreError>> = stream::iter(urls.to_vec())
        .map(|url| fetch_one(store.clone(), discord.clone(), user, url))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut settled = true;
    for outcome in outcomes {
        match outcome? {
            Fetched::Cached { new } => summary.fetched += usize::from(new),
            Fetched::Failed { transient } => {
                summary.failed += 1;
                settled &= !transient;
            }
        }
    }
    Ok(settled)
}

/// One URL: from the cache, or downloaded, checked and cached.
async fn fetch_one(
    store: Store,
    discord: DiscordClient,
    user: Snowflake,
    url: String,
) -> Result<Fetched, StoreError> {
    let owned = url.clone();
    if store.run(move |s| s.image_file(&owned)).await?.is_some() {
        return Ok(Fetched::Cached { new: false });
    }
    let Ok(parsed) = url::Url::parse(&url) else {
        return Ok(Fetched::Failed { transient: false });
    };
    let (bytes, extension) = match download(&discord, &parsed).await {
        Ok(found) => found,
        Err((problem, transient)) => {
            tracing::warn!(user = %user, url = %url, "image not mirrored ({problem}); the page links Discord's CDN for it");
            return Ok(Fetched::Failed { transient });
        }
    };
    let file = sniff::file_name(&bytes, extension);
    store
        .run(move |s| s.save_image(&url, &file, &bytes, unix_now()))
        .await?;
    Ok(Fetched::Cached { new: true })
}

/// The bytes at `url` and their extension, or what was wrong and whether it may pass.
async fn download(
    discord: &DiscordClient,
    url: &url::Url,
) -> Result<(Vec<u8>, &'static str), (String, bool)> {
    let bytes = discord
        .cdn_get(url, MAX_IMAGE_BYTES)
        .await
        .map_err(|e| (e.to_string(), e.is_transient()))?;
    let extension = sniff::image_extension(&bytes).map_err(|e| (e.to_string(), false))?;
    Ok((bytes, extension))
}
