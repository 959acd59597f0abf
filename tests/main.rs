//! verdict's integration tests: one binary, driving the real `verdict`
//! executable against real sockets, directories and processes.
#![forbid(unsafe_code)]

mod support;

mod cache;
mod check;
mod lifecycle;
mod protocol;
mod security;
