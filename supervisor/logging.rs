//! Logging: human lines on stderr in the foreground, JSON lines in a
//! size-rotated file when detached. `VERDICT_LOG` takes a tracing filter
//! (default `info`).

use std::io::Write;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tracing_subscriber::field::MakeExt;

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
        // Every field with its control characters escaped, as the CLI
        // prints what it quotes: a path (the project root, a file of the
        // tree) may hold a terminal's escape sequences, and tracing
        // escapes only the message.
        let fields = tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
            let text = format!("{value:?}");
            // A message of several lines (a reload's list of problems)
            // keeps them, indented.
            if field.name() == "message" {
                write!(w, "{}", crate::report::visible_lines(&text))
            } else {
                write!(w, "{field}={}", crate::report::visible(&text))
            }
        })
        .delimited(" ");
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .fmt_fields(fields)
            .try_init();
        said(invalid);
        return Ok(None);
    }
    let path = layout.log_file();
    // A log that cannot be opened does not keep the daemon from starting,
    // as it does not stop a running one: its records are lost (and then
    // counted in the file) until it can be, which every record tries. Said
    // on stderr (`daemon.stderr`).
    let (file, failed) = LogFile::open(&path, settings.log_max_size, settings.log_keep);
    if let Some(e) = failed {
        verdict_cli::errln!(
            "verdict-daemon: cannot open the log {}: {e}; its records are lost until it can be opened",
            crate::report::visible(&path.display().to_string())
        );
    }
    let writer = Records::new(file);
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

/// The daemon's log file, rotated by file-rotate, which is opened afresh
/// when it fails or the file is gone:
/// - file-rotate panics in a rotation when a rotated file it knew of was
///   removed or moved meanwhile (`daemon.log.1` deleted by hand, say: its
///   issue #17), which would end the log writer's thread and every later
///   record with it;
/// - a log file (or state directory) removed while the daemon runs would
///   be written on unseen until the next rotation;
/// - a rotation that cannot make its new file (a full disk) leaves
///   file-rotate dropping every record without an error.
struct LogFile {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    /// None after a failure, until the next write opens it again.
    file: Option<FileRotate<AppendCount>>,
    /// When the file was last looked for, and how often it is.
    looked: Instant,
    look_every: Duration,
}

impl LogFile {
    /// The log at `path`, and why it could not be opened, if it could not
    /// (then each write tries again).
    fn open(path: &Path, max_bytes: u64, keep: usize) -> (LogFile, Option<std::io::Error>) {
        let (file, failed) = match Self::rotating(path, max_bytes, keep) {
            Ok(file) => (Some(file), None),
            Err(e) => (None, Some(e)),
        };
        let log = LogFile {
            path: path.to_path_buf(),
            max_bytes,
            keep,
            file,
            looked: Instant::now(),
            look_every: Duration::from_secs(1),
        };
        (log, failed)
    }

    fn rotating(path: &Path, max_bytes: u64, keep: usize) -> std::io::Result<FileRotate<AppendCount>> {
        if let Some(dir) = path.parent() {
            // As the daemon makes it at start-up: private, and the user's.
            crate::paths::ensure_state_dir(dir).map_err(std::io::Error::other)?;
        }
        // file-rotate ignores a failure to open the file (and panics on
        // one to make its directory): open it first, for the error. Not
        // through a link, which would lead the log elsewhere.
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            std::fs::OpenOptions::new().create(true).append(true),
            nix::libc::O_NOFOLLOW,
        )
        .open(path)?;
        std::panic::catch_unwind(|| {
            FileRotate::new(
                path,
                AppendCount::new(keep.max(1)),
                ContentLimit::BytesSurpassed(max_bytes.max(4096) as usize),
                Compression::None,
                None,
            )
        })
        .map_err(|_| std::io::Error::other("the log rotation could not be set up"))
    }

    /// The rotating file, opened again if it is not open or its file is
    /// gone.
    fn file(&mut self) -> std::io::Result<&mut FileRotate<AppendCount>> {
        if self.looked.elapsed() >= self.look_every {
            self.looked = Instant::now();
            let gone = |e: std::io::Error| {
                matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory)
            };
            if std::fs::symlink_metadata(&self.path).is_err_and(gone) {
                self.file = None;
            }
        }
        if self.file.is_none() {
            self.file = Some(Self::rotating(&self.path, self.max_bytes, self.keep)?);
        }
        Ok(self.file.as_mut().expect("opened just above"))
    }

    fn write_once(&mut self, buf: &[u8]) -> Result<std::io::Result<usize>, ()> {
        let file = match self.file() {
            Ok(file) => file,
            Err(e) => return Ok(Err(e)),
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| file.write(buf))).map_err(|_| {
            // Its idea of the rotated files is wrong: a new one looks again.
            self.file = None;
        })
    }
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A rotation panics before it writes anything of `buf`: once more
        // on a file-rotate that has looked at the files anew.
        match self.write_once(buf) {
            Ok(written) => written,
            Err(()) => match self.write_once(buf) {
                Ok(written) => written,
                Err(()) => Err(std::io::Error::other("the log could not be rotated")),
            },
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// The daemon log's writer, between the non-blocking worker (one
/// `write_all` per record, and nothing said when it fails) and the file.
/// A write that fails (a full disk) loses its record and may leave part of
/// it in the file; the next write that can be made first ends that part
/// with a line break and writes a record of its own saying how many were
/// lost, so every later record is a JSON line again.
struct Records<W: Write> {
    inner: W,
    /// Records lost since the last written one.
    lost: u64,
    /// Why the last of them was.
    why: String,
}

impl<W: Write> Records<W> {
    fn new(inner: W) -> Self {
        Records { inner, lost: 0, why: String::new() }
    }

    fn failed(&mut self, e: std::io::Error) -> std::io::Error {
        self.lost += 1;
        self.why = e.to_string();
        e
    }
}

impl<W: Write> Write for Records<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.lost > 0 {
            let note = serde_json::json!({
                "timestamp": humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string(),
                "level": "WARN",
                "fields": {
                    "message": format!("{} log records could not be written ({}) and are lost", self.lost, self.why),
                    "lost": self.lost,
                },
                "target": module_path!(),
            });
            // The line break ends what a failed write left (or makes a
            // blank line, which `verdict logs` skips).
            if let Err(e) = self.inner.write_all(format!("\n{note}\n").as_bytes()) {
                return Err(self.failed(e));
            }
            self.lost = 0;
        }
        self.inner.write(buf).map_err(|e| self.failed(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file on a disk that fills up: takes `room` more bytes, the last
    /// write that does not fit only in part, then fails with "No space
    /// left on device" until given room again.
    struct FullDiskDouble {
        written: Vec<u8>,
        room: usize,
    }

    impl Write for FullDiskDouble {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            let n = buf.len().min(self.room);
            self.written.extend_from_slice(&buf[..n]);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn log_lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_rotated_log_removed_by_hand_does_not_end_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        let (mut log, _) = LogFile::open(&path, 4096, 2);
        let line = |n: u32| format!("{{\"record\":{n},\"pad\":\"{}\"}}\n", "x".repeat(80));
        let mut n = 0;
        while !dir.path().join("daemon.log.2").exists() {
            n += 1;
            log.write_all(line(n).as_bytes()).unwrap();
        }
        // file-rotate knows of `.1` and `.2`; the next rotation moves `.1`.
        std::fs::remove_file(dir.path().join("daemon.log.1")).unwrap();
        for _ in 0..200 {
            n += 1;
            log.write_all(line(n).as_bytes()).expect("every record is written");
        }
        log.flush().unwrap();
        assert_eq!(log_lines(&path).last().unwrap(), line(n).trim_end());
        // Rotated since, and as many files kept as asked.
        assert!(dir.path().join("daemon.log.1").exists());
        assert!(!dir.path().join("daemon.log.4").exists());
    }

    #[test]
    fn a_log_directory_removed_while_running_is_made_again_and_the_records_lost_meanwhile_are_counted() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let state = root.path().join("state");
        let path = state.join("daemon.log");
        let (mut log, _) = LogFile::open(&path, 1 << 20, 2);
        log.look_every = Duration::ZERO;
        let mut w = Records::new(log);
        w.write_all(b"{\"record\":1}\n").unwrap();
        std::fs::remove_dir_all(&state).unwrap();
        // A file where the directory was: nothing can be written.
        std::fs::write(&state, b"").unwrap();
        assert!(w.write_all(b"{\"record\":2}\n").is_err());
        std::fs::remove_file(&state).unwrap();
        w.write_all(b"{\"record\":3}\n").unwrap();
        w.flush().unwrap();
        assert_eq!(std::fs::metadata(&state).unwrap().permissions().mode() & 0o777, 0o700);
        let lines = log_lines(&path);
        // A blank line (the note cannot know whether a record was torn),
        // the note, the record.
        assert_eq!(lines.len(), 3, "{lines:?}");
        let note: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(note["fields"]["lost"], 1, "{note}");
        assert_eq!(lines[2], "{\"record\":3}");
    }

    #[test]
    fn records_lost_on_a_full_disk_leave_every_later_line_json_and_are_counted() {
        let mut w = Records::new(FullDiskDouble { written: Vec::new(), room: 40 });
        let record = |n: u32| format!("{{\"fields\":{{\"message\":\"record {n}\"}}}}\n");
        w.write_all(record(1).as_bytes()).unwrap();
        // The second record does not fit: part of it is written.
        assert!(w.write_all(record(2).as_bytes()).is_err());
        assert!(w.write_all(record(3).as_bytes()).is_err());
        w.inner.room = 10_000;
        w.write_all(record(4).as_bytes()).unwrap();
        w.write_all(record(5).as_bytes()).unwrap();
        let text = String::from_utf8(w.inner.written).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // The first record, the torn part of the second on its own line,
        // the note, the later records.
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(lines[0], record(1).trim_end());
        assert!(record(2).starts_with(lines[1]) && lines[1].len() < record(2).len() - 1, "{text}");
        let note: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(note["level"], "WARN");
        assert_eq!(note["fields"]["lost"], 2);
        assert!(note["fields"]["message"].as_str().unwrap().contains("No space left on device"), "{note}");
        assert!(note["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(lines[3..], [record(4).trim_end(), record(5).trim_end()]);
    }
}
