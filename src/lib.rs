//! strife-gen: public, static profile pages for Discord users who opted in.
//! The library behind the binary; see the README's "How it is built" for the modules.
//!
//! Data flows one way: config → store / Discord → profile model → render → output.

/// For the benchmarks only (`benches/`, `examples/bench.rs`): thin wrappers over crate-private
/// items, so that none of them is made public for a benchmark's sake. Not part of the API.
#[doc(hidden)]
pub mod bench_support;
pub mod build;
pub mod build_pool;
pub mod cli;
pub mod cmd;
pub mod community;
pub mod config;
pub(crate) mod content;
pub mod crypto;
pub mod deploy;
pub mod digest;
pub mod discord;
pub(crate) mod edits;
pub mod fault;
pub mod files;
pub mod http_server;
pub(crate) mod images;
pub(crate) mod init;
pub mod jobs;
pub mod layout;
pub mod lock;
pub mod progress;
pub mod publish;
pub mod refresh;
pub(crate) mod routes;
pub mod server;
pub mod service;
pub mod site;
pub mod staging;
pub mod store;
pub(crate) mod users;
pub mod watch;
pub(crate) mod webhook;
