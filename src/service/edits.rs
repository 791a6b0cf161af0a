//! Owns the workflows of people editing their own page (`/me`): what the edit page shows,
//! saving an edit (on the page with the next render, or held for review), approving one.
//! It must not check form values (that is [`crate::edits`]) nor know about HTTP.

use super::Service;
use crate::build::page_model;
use crate::config::Moderation;
use crate::content::Content;
use crate::discord::cdn::Cdn;
use crate::discord::models::Snowflake;
use crate::discord::scope::Scope;
use crate::edits::{Offers, ProfileEdits};
use crate::site::profile::Profile;
use crate::store::{unix_now, Approval, StoreError, StoredEdits, UserStatus};

/// What the edit page of one person shows.
#[derive(Debug, Clone)]
pub(crate) struct EditView {
    pub(crate) stored: StoredEdits,
    /// The "show" choices their grant allows.
    pub(crate) offers: Offers,
    /// The form's fields the operator's content file decides (see
    /// [`crate::content::UserContent::overridden_fields`]).
    pub(crate) overridden: Vec<&'static str>,
    /// Their page as it would be with the edits shown (the draft's, else the latest saved),
    /// pictures from Discord's CDN (the service does not serve the site's copies).
    pub(crate) preview: Profile,
}

/// What [`Service::save_edits`] did with an edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Saved {
    /// On the page with the render it queued.
    Published,
    /// Waiting for `strife-gen users approve`.
    Held,
}

impl Service {
    /// The edit page of user `id` with `draft` (else what they saved last) in its preview;
    /// `None` when they have no page here (never consented, revoked, deleted).
    pub(crate) async fn edit_view(
        &self,
        id: Snowflake,
        draft: Option<ProfileEdits>,
    ) -> Result<Option<EditView>, StoreError> {
        let config = self.config.clone();
        self.store
            .run(move |store| {
                let Some(record) = store.user(id)?.filter(|r| r.status != UserStatus::Revoked)
                else {
                    return Ok(None);
                };
                let Some(snapshot) = store.snapshot(id)? else {
                    return Ok(None);
                };
                let stored = store.edits(id)?;
                let content = match Content::load(&config.site.content_dir) {
                    Ok((content, _)) => content,
                    Err(error) => {
                        tracing::warn!("the edit page shows no content file: {error}");
                        Content::default()
                    }
                };
                let user_content = content.for_user(id, &record.username);
                let overridden = user_content
                    .map(|c| c.overridden_fields())
                    .unwrap_or_default();
                let edits = draft.or_else(|| stored.latest().cloned());
                let cdn = Cdn::new(config.discord.cdn_base.url().clone());
                let base_url = config.site.base_url.url();
                let mut preview =
                    page_model(&snapshot, record.publish, edits.as_ref(), &cdn, base_url);
                if let Some(user_content) = user_content {
                    user_content.apply(&mut preview);
                }
                let offers = Offers {
                    connections: record.publish.connections
                        && record.scopes.contains(&Scope::Connections),
                    guilds: record.publish.guilds && record.scopes.contains(&Scope::Guilds),
                };
                Ok(Some(EditView {
                    stored,
                    offers,
                    overridden,
                    preview,
                }))
            })
            .await
    }

    /// Saves what user `id` wrote on their page: with `self_service.moderation = "publish"` it
    /// is on the page with the render this queues; with `"review"` it waits for approval.
    pub(crate) async fn save_edits(
        &self,
        id: Snowflake,
        edits: ProfileEdits,
    ) -> Result<Saved, StoreError> {
        let moderation = self.config.self_service.moderation;
        self.store
            .run(move |store| match moderation {
                Moderation::Publish => store.publish_edits(id, &edits, unix_now()),
                Moderation::Review => store.hold_edits(id, &edits, unix_now()),
            })
            .await?;
        match moderation {
            Moderation::Publish => {
                tracing::info!(user = %id, "profile edits saved; rendering their page");
                self.request_render();
                Ok(Saved::Published)
            }
            Moderation::Review => {
                tracing::info!(user = %id, "profile edits saved; waiting for `users approve {id}`");
                Ok(Saved::Held)
            }
        }
    }

    /// Publishes the edits user `id` has waiting (`strife-gen users approve`): they are on the
    /// page from the next build on.
    pub(crate) async fn approve_edits(&self, id: Snowflake) -> Result<Approval, StoreError> {
        let approval = self
            .store
            .run(move |store| store.approve_edits(id, unix_now()))
            .await?;
        if approval == Approval::Approved {
            tracing::info!(user = %id, "profile edits approved");
            self.request_render();
        }
        Ok(approval)
    }
}
