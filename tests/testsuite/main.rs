//! strife-gen's integration tests, as one test binary (so the support code compiles once): one
//! module per area, all driving the real library, routes or binary against the one fake Discord.
//! Tests here share one process: none may change process-wide state (environment, current folder,
//! a global log sink of its own); they share `support::log::global` instead.

mod support;

mod browser_edit;
mod browser_flow;
mod browser_look;
mod cli;
mod community;
mod consent_flow;
mod head_requests;
mod images;
mod incremental;
mod odd_data;
mod paths;
mod rate_limits;
mod reserved_names;
mod security_headers;
mod self_service;
mod serve_binary;
mod slow_clients;
mod watch;
mod webhooks;
