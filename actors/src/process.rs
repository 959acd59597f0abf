//! Process groups of external tools (being written).
