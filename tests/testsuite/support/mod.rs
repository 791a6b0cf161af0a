//! Shared helpers of the integration tests, compiled once into the one test binary: fixtures,
//! the consent service wired to the fake Discord, the real binary, a browser and a log sink.
//! They hold no test of their own and never change process-wide state.

pub mod browser;
pub mod fixtures;
pub mod log;
pub mod service;
pub mod site;
