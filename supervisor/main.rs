//! The `verdict` binary, the client: see [`verdict_cli::cli`]. It is built
//! from `verdict-cli` alone, so it does not carry RocksDB.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    verdict_cli::cli::main()
}
