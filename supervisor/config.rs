//! verdict.toml (being written).
