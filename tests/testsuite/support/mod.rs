//! Shared helpers of the integration tests, compiled once into the one test binary: fixtures,
//! the consent service wired to the fake Discord, the real binary, a browser and a log sink.
//! They hold no test of their own and never change process-wide state.

pub(crate) mod browser;
pub(crate) mod fixtures;
pub(crate) mod log;
pub(crate) mod service;
pub(crate) mod site;
