//! The `verdict` binary: see [`verdict::cli`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    verdict::cli::main()
}
