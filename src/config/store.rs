//! `[store]`: where the store lives, an SQLite file (`path`) or a PostgreSQL database (`url`,
//! or the `DATABASE_URL` environment variable, which wins). Only the section: opening the store
//! is `crate::store`'s work, and the paths beside it are worked out elsewhere.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// The environment variable naming a PostgreSQL store (12-factor style); it wins over
/// `store.url` and `store.path`.
pub(crate) const DATABASE_URL_VAR: &str = "DATABASE_URL";

/// `[store]` in strife.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The SQLite database file (relative to strife.toml unless absolute), used unless `url`
    /// (or `DATABASE_URL`) names a PostgreSQL database.
    pub path: PathBuf,
    /// A PostgreSQL database: `postgres://user:password@host:port/database`.
    pub url: Option<DatabaseUrl>,
}

impl StoreConfig {
    /// `url` must name PostgreSQL: a typo (or an SQLite path put there) is reported here, not
    /// as a connection failure.
    pub(super) fn check(&self) -> super::SectionCheck {
        match &self.url {
            Some(url) if !url.is_postgres() => Err((
                url.setting(),
                "must be a postgres:// or postgresql:// URL (an SQLite file goes in store.path)"
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    /// This section with `DATABASE_URL` applied: when it is set (and not blank) it names the
    /// store, whatever `url` and `path` say.
    pub(crate) fn with_database_url(mut self, database_url: Option<String>) -> StoreConfig {
        if let Some(text) = database_url.filter(|text| !text.trim().is_empty()) {
            self.url = Some(DatabaseUrl::from_env(text));
        }
        self
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("strife.db"),
            url: None,
        }
    }
}

/// A PostgreSQL URL and the setting it came from. It may hold a password: its `Debug` shows
/// neither, and messages name the host through `crate::store`, never the URL.
#[derive(Clone)]
pub struct DatabaseUrl {
    text: String,
    setting: &'static str,
}

impl From<String> for DatabaseUrl {
    /// A URL read from `store.url`.
    fn from(text: String) -> DatabaseUrl {
        DatabaseUrl {
            text,
            setting: "store.url",
        }
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(DatabaseUrl::from)
    }
}

impl DatabaseUrl {
    /// A URL read from the `DATABASE_URL` environment variable.
    pub(crate) fn from_env(text: String) -> DatabaseUrl {
        DatabaseUrl {
            text,
            setting: DATABASE_URL_VAR,
        }
    }

    /// The URL itself, for the driver only.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// Where it came from: `store.url` or `DATABASE_URL`.
    pub(crate) fn setting(&self) -> &'static str {
        self.setting
    }

    /// Whether it names PostgreSQL at all (`postgres://` or `postgresql://`).
    pub(crate) fn is_postgres(&self) -> bool {
        ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| self.text.starts_with(scheme))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl(<redacted>, from {})", self.setting)
    }
}
