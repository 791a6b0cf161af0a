//! `[store]`: where the SQLite store lives. Only the section: opening the store is
//! `crate::store`'s work, and the paths beside it are worked out elsewhere.

use std::path::PathBuf;

use serde::Deserialize;

/// `[store]` in strife.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The database file (relative to strife.toml unless absolute).
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("strife.db"),
        }
    }
}
