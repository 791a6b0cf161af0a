//! strife-gen: public, static profile pages for Discord users who opted in.
//!
//! Data flows one way: config → store / Discord → profile model → render → output.

pub mod discord;
pub mod publish;
pub mod site;
