//! Owns everything about talking to Discord: models, CDN rules, OAuth2, REST, rate limits.
//! It must not touch the store or the site.
//!
//! Everything that talks to Discord or describes what it sends: models, CDN rules, OAuth2 and the
//! REST client with its rate limiter.

pub(crate) mod bot;
pub(crate) mod cdn;
pub mod client;
pub(crate) mod lenient;
pub mod models;
pub mod oauth;
mod ratelimit;
pub mod scope;
