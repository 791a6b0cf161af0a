//! Owns the `[server]` and `[webhooks]` sections and their rules.
//! It must not listen or check webhooks: that is `crate::server`'s work.
//!
//! `[server]` and `[webhooks]`: where `serve` listens, what one client may hold, and the time
//! window of signed webhooks. Only the sections and their rules: serving is `crate::server`.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use serde::Deserialize;

use super::{more_than_zero, SectionCheck};

/// `[server]`: where `serve` listens, and what one client may hold (`serve` and `watch`'s
/// preview; see [`crate::http_server`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ServerConfig {
    pub(crate) bind: SocketAddr,
    /// Time a client has to send a request's line and headers, from connecting and again after
    /// each answer; an idle connection is closed then.
    #[serde(with = "humantime_serde")]
    pub(crate) header_timeout: Duration,
    /// Time a client has to send a whole request body (the webhook routes).
    #[serde(with = "humantime_serde")]
    pub(crate) body_timeout: Duration,
    /// Connections open at once at most; lowered to fit the process's open-file limit.
    pub(crate) max_connections: NonZeroUsize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: NonZeroUsize::new(1024).expect("1024 is not zero"),
        }
    }
}

impl ServerConfig {
    /// Rules a single field's type cannot express; `Err` names the key.
    pub(super) fn check(&self) -> SectionCheck {
        more_than_zero("server.header_timeout", self.header_timeout)?;
        more_than_zero("server.body_timeout", self.body_timeout)
    }
}

/// `[webhooks]`: how signed webhook requests are checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct WebhooksConfig {
    /// How far a signed request's timestamp may be from our clock (either way); signatures seen
    /// within this window are remembered, so a replayed request is refused.
    #[serde(with = "humantime_serde")]
    pub(crate) timestamp_tolerance: Duration,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            timestamp_tolerance: Duration::from_secs(5 * 60),
        }
    }
}

impl WebhooksConfig {
    /// Rules a single field's type cannot express; `Err` names the key.
    pub(super) fn check(&self) -> SectionCheck {
        more_than_zero("webhooks.timestamp_tolerance", self.timestamp_tolerance)
    }
}
