//! Logging: human lines on stderr in the foreground, JSON lines in a
//! size-rotated file when detached. `VERDICT_LOG` takes a tracing filter
//! (default `info`).

use std::path::Path;

use anyhow::Context;
use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::config::DaemonSettings;
use crate::paths::Layout;

/// The environment variable holding the log filter.
pub const LOG_ENV: &str = "VERDICT_LOG";

fn filter() -> EnvFilter {
    EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber. Keep the guard alive until exit: dropping
/// it flushes the file writer.
pub fn init(layout: &Layout, detached: bool, settings: &DaemonSettings) -> anyhow::Result<Option<WorkerGuard>> {
    if !detached {
        // Coloured only on a terminal, not into a file or a pipe.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let _ =
            tracing_subscriber::fmt().with_env_filter(filter()).with_writer(std::io::stderr).with_ansi(ansi).try_init();
        return Ok(None);
    }
    let path = layout.log_file();
    let writer = open_rotating(&path, settings.log_max_size, settings.log_keep)?;
    let (writer, guard) = tracing_appender::non_blocking(writer);
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_env_filter(filter())
        .with_writer(writer)
        .try_init();
    Ok(Some(guard))
}

fn open_rotating(path: &Path, max_bytes: u64, keep: usize) -> anyhow::Result<FileRotate<AppendCount>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(FileRotate::new(
        path,
        AppendCount::new(keep.max(1)),
        ContentLimit::BytesSurpassed(max_bytes.max(4096) as usize),
        Compression::None,
        None,
    ))
}
