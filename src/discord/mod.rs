//! Everything that talks to Discord or describes what it sends: models, OAuth2 and the REST client.

pub mod client;
pub mod models;
pub mod oauth;
mod ratelimit;

#[cfg(test)]
mod fake_server;
