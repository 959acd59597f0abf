//! verdict: a resilient, incremental validation daemon.
//!
//! This crate is the daemon: the supervisor actor and check runs
//! ([`supervisor`], [`check`], [`engine`]), the daemon's life ([`daemon`])
//! and the command channel's server ([`server`]). The command line, the
//! client, the wire protocol and the configuration live in `verdict-cli`
//! (re-exported here), which the small `verdict` executable is built from.
// One call is unsafe, by its FFI signature only: `daemon`'s
// `return_free_memory` (glibc's malloc_trim).
#![deny(unsafe_code)]

pub use verdict_cli::{cli, client, config, paths, protocol, report};

#[doc(hidden)]
pub mod bench_support;
pub mod check;
pub mod daemon;
pub mod engine;
pub mod logging;
pub mod server;
pub mod supervisor;
pub mod watch;
