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

/// The filter `VERDICT_LOG` gives (`info` when it is unset or empty), and
/// why it was not taken when it is invalid: said in the log once it is
/// set up, not ignored in silence.
fn filter() -> (EnvFilter, Option<String>) {
    match std::env::var(LOG_ENV) {
        Ok(v) if !v.trim().is_empty() => match EnvFilter::try_new(&v) {
            Ok(f) => (f, None),
            Err(e) => {
                (EnvFilter::new("info"), Some(format!("{LOG_ENV}={v:?} is not a valid filter ({e}): logging at info")))
            }
        },
        Ok(_) => (EnvFilter::new("info"), None),
        Err(std::env::VarError::NotPresent) => (EnvFilter::new("info"), None),
        Err(e) => (EnvFilter::new("info"), Some(format!("{LOG_ENV} cannot be read ({e}): logging at info"))),
    }
}

/// Installs the global subscriber. Keep the guard alive until exit: dropping
/// it flushes the file writer.
pub fn init(layout: &Layout, detached: bool, settings: &DaemonSettings) -> anyhow::Result<Option<WorkerGuard>> {
    let (filter, invalid) = filter();
    let said = |invalid: Option<String>| {
        if let Some(why) = invalid {
            tracing::warn!("{why}");
        }
    };
    if !detached {
        // Coloured only on a terminal, not into a file or a pipe.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let _ =
            tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
        said(invalid);
        return Ok(None);
    }
    let path = layout.log_file();
    let writer = open_rotating(&path, settings.log_max_size, settings.log_keep)?;
    let (writer, guard) = tracing_appender::non_blocking(writer);
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .try_init();
    said(invalid);
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
