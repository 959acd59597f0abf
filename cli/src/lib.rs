//! The `verdict` command line and what it shares with the daemon.
//!
//! The `verdict` executable is built from this crate alone, so it does not
//! carry RocksDB (the daemon's crate does): short commands such as
//! `verdict ping` start in a few milliseconds. Modules: the command line
//! ([`cli`], [`report`]), the command-channel client ([`client`]), the wire
//! protocol ([`protocol`]), where a project's files live ([`paths`]) and the
//! configuration ([`config`]), which the daemon uses too.
#![forbid(unsafe_code)]

/// `println!` for a command's output that hands a failed write back with
/// `?` (the reader went away: `verdict stop | true`), which `main` takes
/// as a quiet end, rather than panicking as `println!` does.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

/// `eprintln!` that ignores a failed write (`2>/dev/full`, a closed pipe)
/// rather than panicking with exit 101: the exit status still says what
/// happened, and a `--json` error document still reaches stdout.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod cli;
pub mod client;
pub mod config;
pub mod config_show;
pub mod explain;
pub mod gitleaks;
pub mod json_out;
pub mod paths;
pub mod pre_commit;
pub mod protocol;
pub mod report;
pub mod scope;
