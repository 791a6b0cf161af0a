//! strife-gen: public, static profile pages for Discord users who opted in.
//!
//! Data flows one way: config → store / Discord → profile model → render → output.

pub mod config;
pub mod crypto;
pub mod discord;
pub mod publish;
pub mod store;
pub mod build;
pub mod cli;
pub mod init;
pub mod refresh;
pub mod server;
pub mod users;
