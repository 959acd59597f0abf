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

pub use verdict_cli::{cli, client, config, gitleaks, paths, pre_commit, protocol, report, scope};

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

/// A layout for tests: the project at `root`, the daemon's files under
/// `state`, its cache in `state/cache`, no configuration file known.
#[cfg(test)]
pub(crate) fn test_layout(root: std::path::PathBuf, state: &std::path::Path) -> paths::Layout {
    paths::Layout {
        root,
        config: None,
        socket: state.join("sock"),
        pid_file: state.join("pid"),
        state_dir: state.to_path_buf(),
        data_dir: state.join("cache"),
        default_socket: false,
    }
}
