//! Shared helpers for strife-gen's integration tests.
//!
//! Each test binary includes this with `mod support;` and uses only a part of it.
#![allow(dead_code)]

pub mod fake_discord;
pub mod log;
pub mod service;
pub mod site;
