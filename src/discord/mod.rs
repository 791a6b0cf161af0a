//! Everything that talks to Discord or describes what it sends: models, OAuth2 and the REST client.

pub mod cdn;
pub mod models;
