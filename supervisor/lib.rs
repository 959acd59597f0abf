//! verdict: a resilient, incremental validation daemon.
//!
//! This crate is the daemon: the supervisor actor and check runs
//! ([`supervisor`], [`check`], [`engine`]), the daemon's life ([`daemon`])
//! and the command channel's server ([`server`]). The command line, the
//! client, the wire protocol and the configuration live in `verdict-cli`
//! (re-exported here), which the small `verdict` executable is built from.
// Denied, not forbidden: `allocator` allows it for two glibc calls
// (`scripts/test` fails if any other place does).
#![deny(unsafe_code)]

pub use verdict_cli::{cli, client, config, paths, protocol, report};

pub mod allocator;
#[doc(hidden)]
pub mod bench_support;
pub mod check;
pub mod daemon;
pub mod engine;
pub mod logging;
pub mod server;
pub mod supervisor;
pub mod watch;
