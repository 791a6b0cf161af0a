//! The image cache of `site.images = "mirror"`: Discord's images by URL, and per user which
//! snapshot's images were fetched. It must not fetch anything nor decide which images a page
//! uses (that is [`crate::images`]).

use crate::discord::models::{Snapshot, Snowflake};
use crate::publish::Publish;

/// A published user whose images were not (all) fetched for their current snapshot.
#[derive(Debug, Clone)]
pub(crate) struct ImagesPending {
    pub(crate) id: Snowflake,
    pub(crate) publish: Publish,
    pub(crate) snapshot: Snapshot,
    /// The stored snapshot's hash: what [`Store::record_images`] marks as done.
    pub(crate) content_hash: String,
}
