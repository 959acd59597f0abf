//! The `verdict-daemon` binary: see [`verdict::daemon::main`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    verdict::daemon::main()
}
