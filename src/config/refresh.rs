//! Owns the `[refresh]` section and its rules.
//! It must not refresh anyone: that is `crate::refresh`'s work.
//!
//! `[refresh]`: how often `serve` refreshes everyone, how many at once, and how failures are
//! retried. Only the section and its rules: refreshing is `crate::refresh`.

use std::num::NonZeroUsize;
use std::time::Duration;

use serde::Deserialize;

use super::{more_than_zero, SectionCheck};

/// `[refresh]` in strife.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RefreshConfig {
    /// How often `serve` refreshes everyone and rebuilds, e.g. "6h" (and how far apart scheduled
    /// `build`s are): access tokens that outlive the next run are not refreshed.
    #[serde(with = "humantime_serde")]
    pub(crate) interval: Duration,
    /// How many users are fetched from Discord at the same time.
    pub(crate) concurrency: NonZeroUsize,
    /// Wait before retrying a user whose refresh failed; doubles with each failure in a row.
    #[serde(with = "humantime_serde")]
    pub(crate) retry_backoff: Duration,
    /// The longest wait between retries of a failing user.
    #[serde(with = "humantime_serde")]
    pub(crate) retry_backoff_max: Duration,
    /// How long a user waiting for a new consent keeps their last page before it is removed.
    #[serde(with = "humantime_serde")]
    pub(crate) grace_period: Duration,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            interval: Duration::from_secs(6 * 3600),
            concurrency: NonZeroUsize::new(4).expect("4 is not zero"),
            retry_backoff: Duration::from_secs(15 * 60),
            retry_backoff_max: Duration::from_secs(24 * 3600),
            grace_period: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl RefreshConfig {
    /// Rules a single field's type cannot express; `Err` names the key.
    pub(super) fn check(&self) -> SectionCheck {
        more_than_zero("refresh.interval", self.interval)?;
        more_than_zero("refresh.retry_backoff", self.retry_backoff)?;
        if self.retry_backoff_max < self.retry_backoff {
            return Err((
                "refresh.retry_backoff_max",
                "must not be shorter than refresh.retry_backoff".into(),
            ));
        }
        Ok(())
    }
}
