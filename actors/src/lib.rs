//! verdict's actors crate: the validator actors and what they run (built-in
//! checks, external commands), and every message type that crosses a crate
//! boundary.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod outcome;

pub use outcome::{
    Finding, NOTICE_MORE, NOTICE_OUTPUT_CUT, NOTICE_TOOL_FAILED, Outcome, OutcomeKind, Severity, StoredFinding,
    StoredVerdict, Verdict, count_findings,
};
pub mod builtin;
pub mod command;
pub mod process;
pub mod validator;
