//! Owns the stored self-service edits (`profile_edits`): what is on a person's page, and what
//! waits for an operator's approval. It must not check the values (that is [`crate::edits`]).

use sha2::{Digest, Sha256};

use super::StoreError;
use crate::discord::models::Snowflake;
use crate::edits::ProfileEdits;

/// A user's stored edits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StoredEdits {
    /// On their page.
    pub(crate) published: Option<ProfileEdits>,
    /// Waiting for `users approve` (moderation = "review").
    pub(crate) pending: Option<ProfileEdits>,
}

impl StoredEdits {
    /// What the person last saved: the pending edits, else the published ones.
    pub(crate) fn latest(&self) -> Option<&ProfileEdits> {
        self.pending.as_ref().or(self.published.as_ref())
    }
}

/// What [`Store::approve_edits`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Approval {
    /// The pending edits are now the published ones.
    Approved,
    /// The user has no edits waiting.
    NothingPending,
}

pub(super) fn encode(id: Snowflake, edits: &ProfileEdits) -> Result<(String, String), StoreError> {
    let json = serde_json::to_string(edits).map_err(|e| StoreError::Edits {
        user: id,
        detail: e.to_string(),
    })?;
    let key = key_of(&json);
    Ok((json, key))
}

pub(super) fn key_of(json: &str) -> String {
    hex::encode(Sha256::digest(json.as_bytes()))
}

pub(super) fn decode(id: Snowflake, json: &str) -> Result<ProfileEdits, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Edits {
        user: id,
        detail: e.to_string(),
    })
}
