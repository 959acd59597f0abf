//! verdict: a resilient, incremental validation daemon.
//!
//! This crate is the daemon and its client: the supervisor actor and check
//! runs ([`supervisor`], [`check`], [`engine`]), the daemon's life
//! ([`daemon`]), the command channel ([`protocol`], [`server`], [`client`]),
//! the command line ([`cli`], [`report`]) and the configuration ([`config`]).
#![forbid(unsafe_code)]

#[doc(hidden)]
pub mod bench_support;
pub mod check;
pub mod cli;
pub mod client;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod logging;
pub mod paths;
pub mod protocol;
pub mod report;
pub mod server;
pub mod supervisor;
