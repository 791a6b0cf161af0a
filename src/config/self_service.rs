//! Owns the `[self_service]` section: whether people may edit their own page (`/me`) and
//! whether their edits wait for an operator. It must not know how edits are checked or stored.

use serde::Deserialize;

/// `[self_service]` in strife.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SelfServiceConfig {
    /// Whether `/me` is open and saved edits are on the pages. Off: `/me` answers 404 and pages
    /// are built without anyone's edits (they stay stored).
    pub(crate) enabled: bool,
    /// What happens to a saved edit.
    pub(crate) moderation: Moderation,
}

impl Default for SelfServiceConfig {
    fn default() -> Self {
        SelfServiceConfig {
            enabled: true,
            moderation: Moderation::Publish,
        }
    }
}

/// `self_service.moderation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Moderation {
    /// Edits are on the page with the next render.
    #[default]
    Publish,
    /// Edits wait until `strife-gen users approve ID`.
    Review,
}
