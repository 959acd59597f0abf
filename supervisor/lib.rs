//! verdict: the supervisor, daemon, control channel and CLI.
#![forbid(unsafe_code)]

pub mod config;
