//! What the CLI shows: the `check` client (progress, Ctrl-C, formats, exit
//! code) and the human renderings of `status`, `reload`, `cache` and `logs`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use owo_colors::OwoColorize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::cli::ExitCode;
use crate::client::{self, CallError, ConnectOptions};
use crate::paths::Layout;
use crate::protocol::{CheckReport, Record, StreamedOutcomes, Summary, WirePath, code, method, notification};
use verdict_actors::{Finding, Outcome, Severity, Verdict};

/// Output formats of `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Grouped by file, coloured on a terminal, with a summary.
    Human,
    /// The full report as JSON (schema in docs/protocol.md).
    Json,
    /// SARIF 2.1.0, as GitHub code scanning accepts it.
    Sarif,
}

/// When the human report is coloured (`--color`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (non-empty) or `TERM` is `dumb`.
    #[default]
    Auto,
    /// Always, even into a pipe or an `--output` file.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour a report going to stdout (`to_stdout`) or a file.
    pub fn colours(self, to_stdout: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                // NO_COLOR counts when set to something (no-color.org).
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
                to_stdout && std::io::stdout().is_terminal() && !no_color && !dumb
            }
        }
    }
}

/// The least severe finding that fails a check (`--fail-on`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Only errors fail the check.
    Error,
    /// Errors and warnings fail the check.
    Warning,
    /// Any finding fails the check.
    Note,
}

impl FailOn {
    /// Whether a finding of `severity` fails the check.
    fn fails(self, severity: Severity) -> bool {
        let least = match self {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Note => Severity::Note,
        };
        // Errors order first.
        severity <= least
    }
}

/// Arguments of `verdict check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files and directories to check (default: the current directory).
    #[arg(value_parser = crate::cli::PathArg)]
    pub paths: Vec<PathBuf>,
    /// Run only this validator (repeatable).
    #[arg(long = "validator", value_name = "NAME")]
    pub validators: Vec<String>,
    /// Run only validators of this dimension (repeatable).
    #[arg(long = "dimension", value_name = "D")]
    pub dimensions: Vec<String>,
    /// Output format [default: human; json with the global --json].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to this file instead of stdout (`-`: stdout). It is
    /// replaced only once the report is complete, keeping its mode (through
    /// a symbolic link, the file it names is replaced); a pipe, a device or
    /// /dev/stdout is written to as it is. The counts, and where the report
    /// went, are then said on stderr (not for stdout or stderr themselves).
    #[arg(long, short, value_name = "FILE", value_parser = crate::cli::PathArg)]
    pub output: Option<PathBuf>,
    /// Do not read cached results (fresh results are still written to the cache).
    #[arg(long)]
    pub no_cache: bool,
    /// Show passed outcomes too, and every file's errors and skips under
    /// it, not folded into one line for many files (human format).
    #[arg(long)]
    pub all: bool,
    /// The least severe finding that makes the check exit 1. Findings below
    /// it are still reported; with no other finding the check exits 0 (or 3
    /// when it is incomplete).
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t = FailOn::Note)]
    pub fail_on: FailOn,
    /// Colour the human report: on a terminal (auto: unless NO_COLOR is set
    /// or TERM is dumb), always, or never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Runs `verdict check` against the daemon.
pub async fn run_check(opts: &ConnectOptions, args: CheckArgs, json_flag: bool) -> anyhow::Result<ExitCode> {
    // An explicit `--format` wins over the global `--json`.
    let format = args.format.unwrap_or(if json_flag { Format::Json } else { Format::Human });
    // The report's file is made beside its destination before the check
    // runs, so a path that cannot be written fails at once, not after the
    // whole check; it takes the destination's name once complete.
    let output_path = args.output.as_ref().filter(|p| p.as_os_str() != "-");
    // A device or a pipe (`/dev/stdout`, a FIFO) is written to as it is.
    let output = match output_path {
        Some(path) => 'output: {
            let cannot = || format!("cannot write {}", path.display());
            // Not even where none exists yet: a report named so would be
            // read as the configuration of the project (or of a new one
            // rooted in its directory) by every later command.
            let config_name = |p: &Path| p.file_name().is_some_and(|n| n == crate::paths::CONFIG_FILE);
            if config_name(path) || replaced_path(path).is_ok_and(|p| config_name(&p)) {
                anyhow::bail!(
                    "cannot write {}: a file named {} is verdict's configuration; give --output another file",
                    path.display(),
                    crate::paths::CONFIG_FILE
                );
            }
            // Not through another user's link in `/tmp`, to a file or a
            // device alike; nor into another user's FIFO there.
            let end = replaced_path(path)?;
            if let Some(why) = foreign_fifo(&end) {
                anyhow::bail!("cannot write {}: {why}", path.display());
            }
            let meta = std::fs::metadata(path);
            // Never over what is being checked (as `gcc -o a.c a.c` refuses).
            if let Ok(m) = &meta {
                use std::os::unix::fs::MetadataExt;
                let same = |p: &Path| std::fs::metadata(p).is_ok_and(|o| (o.dev(), o.ino()) == (m.dev(), m.ino()));
                if m.is_file()
                    && (args.paths.iter().any(|p| same(p)) || opts.layout.config.as_deref().is_some_and(same))
                {
                    anyhow::bail!(
                        "cannot write {}: it is a file this check reads (a named path or verdict.toml); give --output another file",
                        path.display()
                    );
                }
            }
            // One of our own descriptors (`/dev/stdout`, `/dev/fd/3`): written
            // to as it is, in its place, even when it is a regular file (a
            // shell's `>> ci.log`), which the name leads to through
            // `/proc/self/fd` and which must not be replaced.
            if let Some(fd) = descriptor_named(path) {
                use std::os::fd::AsFd;
                let own = match fd {
                    1 => Some(std::io::stdout().as_fd().try_clone_to_owned()),
                    2 => Some(std::io::stderr().as_fd().try_clone_to_owned()),
                    // Another one cannot be borrowed: it is opened again
                    // through `/proc/self/fd`, a regular file to append to
                    // it, a pipe (`-o >(gzip > r.gz)`) or a device to write
                    // to it. Its link there names no path (`pipe:[123]`), so
                    // it is not followed as links to a file are below.
                    // Not one it was started with: the command's own (or
                    // none).
                    n if INHERITED.get().is_some_and(|open| !open.contains(&n)) => {
                        anyhow::bail!(
                            "cannot write {}: descriptor {n} was not open when verdict started (give a file, or open \
                             the descriptor in the shell: `3> file`)",
                            path.display()
                        );
                    }
                    n => {
                        let own = std::path::PathBuf::from(format!("/proc/self/fd/{n}"));
                        let append = meta.as_ref().is_ok_and(std::fs::Metadata::is_file);
                        Some(std::fs::OpenOptions::new().write(true).append(append).open(own).map(Into::into))
                    }
                };
                if let Some(own) = own {
                    // A socket cannot be opened by a name (ENXIO); nor can
                    // what the command did not inherit there (its own
                    // event descriptors), which is no socket.
                    let socket = meta.as_ref().is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()));
                    let own = own.map_err(|e| match e.raw_os_error() {
                        Some(nix::libc::ENXIO) if socket => anyhow::anyhow!(
                            "cannot write {}: it is a socket, which cannot be opened again by its name; give a pipe \
                             or a file",
                            path.display()
                        ),
                        _ => anyhow::Error::new(e).context(cannot()),
                    })?;
                    break 'output Some(ReportFile::Direct(std::fs::File::from(own)));
                }
            }
            match meta {
                Ok(m) if m.is_dir() => anyhow::bail!("cannot write {}: it is a directory", path.display()),
                Ok(m) if !m.is_file() => {
                    // What the links were seen to lead to, opened without
                    // following another (one swapped in since the look is
                    // refused), and judged by what was opened.
                    let end = replaced_path(path)?;
                    let file = std::os::unix::fs::OpenOptionsExt::custom_flags(
                        std::fs::OpenOptions::new().write(true),
                        nix::libc::O_NOFOLLOW,
                    )
                    .open(&end)
                    .with_context(cannot)?;
                    let opened = file.metadata().with_context(cannot)?;
                    if opened.is_file() {
                        anyhow::bail!("cannot write {}: it was replaced while it was being opened", path.display());
                    }
                    if let Some(why) = foreign_fifo_of(&opened, &end) {
                        anyhow::bail!("cannot write {}: {why}", path.display());
                    }
                    Some(ReportFile::Direct(file))
                }
                existing => {
                    // Found now, not once the check has run.
                    if std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).ends_with(b"/") {
                        anyhow::bail!(
                            "cannot write {}: a name ending in `/` names a directory, and there is none",
                            path.display()
                        );
                    }
                    // Through a symbolic link, the file it names is replaced,
                    // not the link; an existing file keeps its mode.
                    let path = replaced_path(path)?;
                    let mode = existing.ok().map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()));
                    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                    if !dir.try_exists().with_context(cannot)? {
                        anyhow::bail!("cannot write {}: {} does not exist", path.display(), dir.display());
                    }
                    if !dir.is_dir() {
                        anyhow::bail!("cannot write {}: {} is not a directory", path.display(), dir.display());
                    }
                    // Its temporary file is made once the report is in:
                    // one made now, in the project, would be walked and
                    // checked, and would change the tree every time.
                    use nix::unistd::{AccessFlags, access};
                    access(dir, AccessFlags::W_OK | AccessFlags::X_OK)
                        .map_err(std::io::Error::from)
                        .with_context(cannot)?;
                    let dir = dir.to_path_buf();
                    Some(ReportFile::Replace(path, dir, mode))
                }
            }
        }
        None => None,
    };
    let cwd = std::env::current_dir()?;
    // Named files only, one by one (a hook's): see `nothing_selected_note`.
    let files_named = !args.paths.is_empty() && args.paths.iter().all(|p| !p.is_dir());
    let params = json!({
        "paths": args.paths.into_iter().map(WirePath).collect::<Vec<_>>(),
        "cwd": WirePath(cwd),
        // Left out (null) unless given: an empty list selects nothing.
        "validators": (!args.validators.is_empty()).then_some(&args.validators),
        "dimensions": (!args.dimensions.is_empty()).then_some(&args.dimensions),
        "no_cache": args.no_cache,
        // SARIF lists findings and failures only: passes are not sent.
        "all_outcomes": format == Format::Json || args.all,
        // Ahead of the reply, whose length is limited.
        "stream_outcomes": true,
    });
    // Ctrl-C is caught from before the check is sent: between the send and
    // the first wait below, it would otherwise kill the client and leave
    // the check running.
    let mut ctrl_c = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let bar = (std::io::stderr().is_terminal() && format == Format::Human).then(|| {
        let b = indicatif::ProgressBar::new(0);
        // Counts once the daemon has given a total: "0/0" meanwhile would
        // look stuck.
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} checking [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.enable_steady_tick(Duration::from_millis(120));
        b
    });
    let mut interrupted = false;
    let mut streamed: Vec<Record> = Vec::new();
    let mut retries = 0;
    // Ctrl-C is caught from here on: while connecting (starting a daemon,
    // waiting for one), it ends the command.
    let mut c = tokio::select! {
        c = client::connect_or_start(opts) => c?,
        _ = ctrl_c.recv() => anyhow::bail!("interrupted"),
    };
    let mut sent = c.send(method::CHECK, params.clone()).await;
    // Whether the daemon said anything of this check: then it had started.
    let mut heard = false;
    let reply = loop {
        let id = match sent {
            Ok(id) => id,
            // A daemon shutting down left the check undone: the next one is
            // asked, once this one has exited.
            Err(e)
                if e.undone_by_shutdown()
                    && !heard
                    && !interrupted
                    && retries < client::RETRIES_AFTER_SHUTDOWN
                    && (matches!(e, CallError::Rpc(_))
                        || client::going_away(&opts.layout.socket, c.hello.pid).await) =>
            {
                retries += 1;
                let (pid, grace) = (c.hello.pid, c.hello.grace());
                drop(c);
                tracing::debug!(pid, "the daemon shut down before starting the check; asking the next one");
                c = tokio::select! {
                    r = async {
                        client::wait_for_exit(pid, client::exit_patience(&opts.layout, grace)).await?;
                        client::connect_or_start(opts).await
                    } => r?,
                    _ = ctrl_c.recv() => anyhow::bail!("interrupted"),
                };
                sent = c.send(method::CHECK, params.clone()).await;
                continue;
            }
            // A daemon that refused the request (too large) wrote why and
            // closed, maybe while it was still being sent: its reason, not
            // the broken pipe.
            Err(e @ CallError::Io(_)) => {
                return Err(client::describe(
                    match tokio::time::timeout(Duration::from_secs(1), c.next_message()).await {
                        Ok(Ok(m)) if m.error.is_some() && matches!(m.id, None | Some(Value::Null)) => {
                            CallError::Rpc(m.error.expect("matched"))
                        }
                        _ => e,
                    },
                ));
            }
            Err(e) => return Err(client::describe(e)),
        };
        tokio::select! {
            m = c.next_message() => {
                let m = match m {
                    Ok(m) => m,
                    Err(e) => {
                        sent = Err(e);
                        continue;
                    }
                };
                if m.method.as_deref() == Some(notification::CHECK_PROGRESS) {
                    heard = true;
                    if let Some(b) = &bar {
                        let p = m.params_value();
                        let total = p["total"].as_u64().unwrap_or(0);
                        if total > 0 && b.length() == Some(0) {
                            b.set_style(
                                indicatif::ProgressStyle::with_template("{spinner} checking {pos}/{len} [{elapsed}]")
                                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                            );
                        }
                        b.set_length(total);
                        b.set_position(p["done"].as_u64().unwrap_or(0));
                    }
                    continue;
                }
                if m.method.as_deref() == Some(notification::CHECK_OUTCOMES) {
                    heard = true;
                    let some: StreamedOutcomes = serde_json::from_str(m.params.as_deref().map_or("null", RawValue::get))
                        .context("unreadable outcomes from the daemon")?;
                    if some.request.as_i64() == Some(id) {
                        streamed.extend(some.outcomes);
                    }
                    continue;
                }
                // An error for a request the daemon could not read (`"id":
                // null`: a request too large) is this one's.
                let unread = matches!(m.id, None | Some(Value::Null)) && m.error.is_some();
                if unread || m.id.as_ref().and_then(Value::as_i64) == Some(id) {
                    match m.error {
                        Some(e) if e.is_refused_shutting_down() => {
                            sent = Err(CallError::Rpc(e));
                            continue;
                        }
                        _ => break m,
                    }
                }
            }
            _ = ctrl_c.recv() => {
                if interrupted {
                    // The daemon did not answer the cancel (stopped, or
                    // stuck): no longer waited for. It cancels the check
                    // once it sees this client gone.
                    if let Some(b) = &bar {
                        b.finish_and_clear();
                    }
                    anyhow::bail!("interrupted again: not waiting for the daemon to cancel the check");
                }
                interrupted = true;
                // Above the progress line, not onto it.
                match &bar {
                    Some(b) => b.suspend(|| crate::errln!("verdict: interrupted; cancelling the check (Ctrl-C again to stop waiting)")),
                    None => crate::errln!("verdict: interrupted; cancelling the check (Ctrl-C again to stop waiting)"),
                }
                // A daemon that reads nothing may leave no room for it.
                match tokio::time::timeout(CANCEL_SEND, c.send(method::CANCEL, json!({ "id": id }))).await {
                    Ok(sent) => {
                        sent?;
                    }
                    Err(_) => anyhow::bail!("interrupted: the daemon took no cancel request in {CANCEL_SEND:?}"),
                }
            }
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(mut e) = reply.error {
        if e.code == code::CANCELLED {
            e.message = "the check was cancelled".into();
        }
        // Thousands of paths named: the request is longer than a request
        // line may be.
        if e.code == code::REQUEST_TOO_LARGE {
            e.message = format!(
                "{}: the paths named make the request too long; name the directories that hold them instead",
                e.message
            );
        }
        // The daemon's words fit a reload: a check that finds the file
        // invalid checks nothing at all.
        if e.code == code::INVALID_CONFIGURATION {
            e.message = e.message.replacen(
                "invalid configuration; the old one stays in force:",
                "invalid configuration, so nothing was checked (fix verdict.toml; `verdict config check` lists its \
                 errors):",
                1,
            );
        }
        // Started, then cut off by a shutdown whose grace period ended
        // first (one that refused it was made again of the next daemon).
        if e.code == code::SHUTTING_DOWN {
            e.message = "the daemon shut down before the check finished (its grace period, daemon.grace_period, \
                         ran out); run the check again"
                .into();
        }
        return Err(client::describe(CallError::Rpc(e)));
    }
    // Straight from the reply's text: a report listing every outcome of a
    // large tree is large, and a `Value` of it first would cost as much again.
    let mut report: CheckReport = serde_json::from_str(reply.result.as_deref().map_or("null", RawValue::get))
        .context("unreadable check report")?;
    if let Some(sent) = report.streamed_outcomes.take() {
        if sent != streamed.len() as u64 {
            anyhow::bail!("the daemon sent {sent} outcomes ahead of its report, and {} arrived", streamed.len());
        }
        report.outcomes = streamed;
    }
    let replacement = match &output {
        Some(ReportFile::Replace(path, dir, _)) => Some(
            tempfile::Builder::new()
                .prefix(".verdict-report")
                .tempfile_in(dir)
                .with_context(|| format!("cannot write {}", path.display()))?,
        ),
        _ => None,
    };
    let mut sink: Box<dyn Write> = match (&output, &replacement) {
        (Some(ReportFile::Direct(file)), _) => Box::new(std::io::BufWriter::new(file)),
        (_, Some(file)) => Box::new(std::io::BufWriter::new(file.as_file())),
        _ => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let colour = args.color.colours(output.is_none());
    let written = (|| -> std::io::Result<()> {
        match format {
            Format::Human => print_human(&report, colour, !args.all, &mut sink)?,
            Format::Json => {
                crate::json_out::to_writer(&mut sink, &report)?;
                writeln!(sink)?;
            }
            Format::Sarif => {
                crate::json_out::to_writer(&mut sink, &sarif(&report, Some(&opts.layout.root)))?;
                writeln!(sink)?;
            }
        }
        sink.flush()
    })();
    // Whether the whole report reached where it went.
    let delivered = written.is_ok();
    match written {
        Ok(()) => {}
        // The reader of the report went away (`verdict check | head`): the
        // verdict still decides the exit code, so a pipeline that checks
        // it (`set -o pipefail`) still sees findings.
        // The same for a pipe named by `--output` (`-o >(gzip > r.gz)`).
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe && !matches!(output, Some(ReportFile::Replace(..))) => {}
        // The unfinished file is removed with its handle.
        Err(e) => return Err(e).context("cannot write the report"),
    }
    drop(sink);
    if let (Some(ReportFile::Replace(path, _, mode)), Some(file)) = (output, replacement) {
        // The file's own mode, or the one a new file would have had; not
        // the temporary file's 0600.
        let mode = mode.map_or_else(
            || {
                let umask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
                nix::sys::stat::umask(umask);
                0o666 & !umask.bits()
            },
            |m| m & 0o7777,
        );
        std::fs::set_permissions(file.path(), std::os::unix::fs::PermissionsExt::from_mode(mode))
            .with_context(|| format!("cannot write {}", path.display()))?;
        // On disk before it takes the old file's place, and the rename
        // after it: a crash then leaves the old report or the new one,
        // not an empty file.
        // (A file system that cannot sync says EINVAL or ENOTSUP: nothing
        // more to do.)
        let cannot_sync = |e: &std::io::Error| {
            use nix::errno::Errno;
            e.raw_os_error().is_some_and(|n| [Errno::EINVAL as i32, Errno::ENOTSUP as i32].contains(&n))
        };
        match file.as_file().sync_all() {
            Err(e) if !cannot_sync(&e) => {
                return Err(e).with_context(|| format!("cannot write {}", path.display()));
            }
            _ => {}
        }
        // The error alone: its wrapper says it again.
        file.persist(&path).map_err(|e| e.error).with_context(|| format!("cannot write {}", path.display()))?;
        if let Some(dir) = path.parent().map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d }) {
            // The report is complete and in place; a directory that cannot
            // be opened to sync (no read permission) leaves only the rename
            // less durable.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
    }
    // A report written elsewhere (`-o report.sarif`) leaves the terminal,
    // or a CI log, with its counts, and where it went; not one written to
    // stdout or stderr themselves (`-o /dev/stderr`: a JSON report there
    // must stay one document), nor one a pipe's reader left unread.
    if let Some(path) = output_path.filter(|p| delivered && !to_standard_stream(p)) {
        let mut counts = Vec::new();
        let _ = print_summary(&report, false, &mut counts);
        let _ = std::io::stderr().write_all(&counts);
        crate::errln!("verdict: the report is in {}", visible(&path.display().to_string()));
    }
    if let Some(why) = &report.summary.cache_error {
        if report.summary.cache_used {
            // It was used, but a write failed (a full disk).
            crate::errln!("verdict: note: {}", visible_lines(why));
        } else {
            crate::errln!(
                "verdict: note: the result cache is unavailable, so nothing was read from or written to it: {}",
                visible_lines(why)
            );
        }
    }
    if let Some(note) = restart_note(&report.summary.restart_required) {
        crate::errln!("verdict: {note}");
    }
    for path in &report.summary.excluded_named {
        crate::errln!("verdict: note: {} is excluded by check.exclude, so it was not checked", visible(path));
    }
    for note in &report.summary.notes {
        crate::errln!("verdict: note: {}", visible_lines(note));
    }
    // Not for files named one by one (a hook's): which validators take
    // which is what it asks.
    if let Some(note) =
        nothing_selected_note(&report.summary, &args.validators, &args.dimensions).filter(|_| !files_named)
    {
        crate::errln!("verdict: note: {note}");
    }
    Ok(exit_code(&report, args.fail_on))
}

/// Files were found but no validator selected any: a `files` glob that
/// matches nothing passes everything, which a first configuration easily
/// does.
fn nothing_selected_note(summary: &Summary, validators: &[String], dimensions: &[String]) -> Option<String> {
    // Binary files are selected, then left out by the text checks.
    if summary.pairs > 0 || summary.files <= summary.binary_files {
        return None;
    }
    let plural = |list: &[String]| if list.len() == 1 { "" } else { "s" };
    let who = match (validators, dimensions) {
        ([], []) => "any validator".to_owned(),
        (names, []) => format!("the validator{} named ({})", plural(names), names.join(", ")),
        ([], d) => format!("any validator of the dimension{} named ({})", plural(d), d.join(", ")),
        (names, d) => format!("the validators named ({}) of the dimensions named ({})", names.join(", "), d.join(", ")),
    };
    Some(format!(
        "none of the {} found was selected by {who}, so nothing was checked: look at the `files` and `exclude` \
         globs (one holding `/` is anchored at the project root: `src/*.py` does not reach `src/pkg/a.py`, \
         `src/**/*.py` does)",
        counted(summary.files, "file")
    ))
}

/// Where `--output` writes: a file replaced once the report is complete, or
/// a device or pipe written to directly.
enum ReportFile {
    /// The path replaced, the directory of the file written first (made
    /// once the report is in), and the mode of the file it replaces, if
    /// there is one.
    Replace(PathBuf, PathBuf, Option<u32>),
    Direct(std::fs::File),
}

/// `path` and the paths its symbolic links lead to, in turn: at most 41
/// (40 links followed, as `open` follows them; more is a loop, or as good
/// as one).
fn link_chain(path: &Path) -> impl Iterator<Item = PathBuf> {
    std::iter::successors(Some(path.to_path_buf()), |at| {
        let target = std::fs::read_link(at).ok()?;
        Some(at.parent().map(Path::to_path_buf).unwrap_or_default().join(target))
    })
    .take(41)
}

/// The descriptors above standard error that the command was started
/// with, noted before it opens any of its own (`-o /dev/fd/N` names one of
/// those, never the runtime's or the daemon connection's).
static INHERITED: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();

/// Notes [`INHERITED`]; called first thing in `main`.
pub fn note_inherited_descriptors() {
    // Without `/proc`, nothing is noted, and nothing refused for it.
    let Ok(listed) = std::fs::read_dir("/proc/self/fd") else { return };
    let listed: Vec<u32> =
        listed.flatten().filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()).filter(|&n| n > 2).collect();
    // The listing's own descriptor is among them, closed now.
    let open = listed.into_iter().filter(|n| std::fs::symlink_metadata(format!("/proc/self/fd/{n}")).is_ok()).collect();
    let _ = INHERITED.set(open);
}

/// The descriptor of this process that `path` names, through any symbolic
/// links: `/dev/stdout` (1), `/dev/stderr` (2), `/dev/fd/N` or
/// `/proc/self/fd/N` (N).
/// Whether `path` is the command's stdout or stderr: by its name
/// (`/dev/stderr`, `/dev/fd/1`), or as the same file (a terminal's device
/// named `/dev/pts/3`, a file the shell redirected stderr to).
fn to_standard_stream(path: &Path) -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    if matches!(descriptor_named(path), Some(1 | 2)) {
        return true;
    }
    let end = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    // The process's terminal, whichever `/dev/pts/N` that is.
    if end == Path::new("/dev/tty") {
        return std::io::stdout().is_terminal() || std::io::stderr().is_terminal();
    }
    // Discarded, as stdout may be too: the counts still go to stderr.
    if end == Path::new("/dev/null") {
        return false;
    }
    let Ok(m) = std::fs::metadata(&end) else { return false };
    // A device is the same one by its number, not by its node's inode.
    let device = m.file_type().is_char_device();
    let same = |fd: std::os::fd::BorrowedFd<'_>| {
        nix::sys::stat::fstat(fd).is_ok_and(|s| match device {
            true => s.st_rdev == m.rdev() && s.st_mode & nix::libc::S_IFMT == nix::libc::S_IFCHR,
            false => (s.st_dev, s.st_ino) == (m.dev(), m.ino()),
        })
    };
    same(std::io::stdout().as_fd()) || same(std::io::stderr().as_fd())
}

fn descriptor_named(path: &Path) -> Option<u32> {
    link_chain(path).find_map(|at| match at.to_str()? {
        "/dev/stdout" => Some(1),
        "/dev/stderr" => Some(2),
        s => s.strip_prefix("/dev/fd/").or_else(|| s.strip_prefix("/proc/self/fd/")).and_then(|n| n.parse().ok()),
    })
}

/// A symbolic link on the way to `path` (itself or a directory above it)
/// that must not be followed, and why, by the rule of Linux's
/// `fs.protected_symlinks`: a link in a sticky directory anyone may write
/// to (`/tmp`) is followed only if it is the user's or the directory
/// owner's. verdict follows the links of `--output` itself (to replace the
/// file they name), so the kernel's own check would not apply: another
/// user's `/tmp/report.json` → `~/.ssh/authorized_keys` would be written.
fn foreign_link(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    path.ancestors().filter(|p| !p.as_os_str().is_empty()).find_map(|at| {
        let link = std::fs::symlink_metadata(at).ok().filter(|m| m.file_type().is_symlink())?;
        let dir = at.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let d = std::fs::metadata(dir).ok()?;
        let shared = d.mode() & 0o1002 == 0o1002;
        (shared && link.uid() != me && link.uid() != d.uid()).then(|| {
            format!(
                "{} is a symbolic link of uid {} in {}, a directory anyone may write to; verdict does not follow \
                 another user's link there (as the kernel's protected_symlinks does not)",
                at.display(),
                link.uid(),
                dir.display()
            )
        })
    })
}

/// Why the report must not go into the FIFO at `path`, if it is one: by
/// the rule of Linux's `fs.protected_fifos`, another user's FIFO in a
/// sticky directory anyone may write to (`/tmp`), unless the directory's
/// owner's, is not written to. (The kernel applies it only to an `open`
/// that may create the file, which a FIFO's is not: its reader would get
/// the report.)
fn foreign_fifo(path: &Path) -> Option<String> {
    foreign_fifo_of(&std::fs::symlink_metadata(path).ok()?, path)
}

/// [`foreign_fifo`] of what `path` named when it was opened (`m`, its
/// metadata from the descriptor): a FIFO put there between a look and the
/// open is caught too.
fn foreign_fifo_of(m: &std::fs::Metadata, path: &Path) -> Option<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = Some(m).filter(|m| m.file_type().is_fifo())?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let d = std::fs::metadata(dir).ok()?;
    let me = nix::unistd::geteuid().as_raw();
    (d.mode() & 0o1002 == 0o1002 && m.uid() != me && m.uid() != d.uid()).then(|| {
        format!(
            "it is a FIFO of uid {} in {}, a directory anyone may write to: its reader would get the report (the \
             kernel's protected_fifos rule)",
            m.uid(),
            dir.display()
        )
    })
}

/// The path a report at `path` replaces: `path`, or what its symbolic
/// links lead to (the target of a dangling link is created). Past 40 links
/// (a loop), an error, as `open` gives; through another user's link in a
/// shared directory (see [`foreign_link`]), an error.
fn replaced_path(path: &Path) -> anyhow::Result<PathBuf> {
    if let Some(why) = link_chain(path).find_map(|at| foreign_link(&at)) {
        anyhow::bail!("cannot write {}: {why}", path.display());
    }
    match link_chain(path).last().filter(|end| std::fs::read_link(end).is_err()) {
        Some(end) => Ok(end),
        None => anyhow::bail!("cannot write {}: too many levels of symbolic links", path.display()),
    }
}

/// The exit code a report earns: findings at or above `fail_on` → 1; else
/// errors, timeouts, skips, tools that failed or whose output was cut
/// (their notes are no findings of the file), or parts of the tree the
/// walk could not look at → 3; else 0.
pub fn exit_code(report: &CheckReport, fail_on: FailOn) -> ExitCode {
    use verdict_actors::outcome::{NOTICE_OUTPUT_CUT, NOTICE_TOOL_FAILED};
    let n = |k: &str| report.summary.outcomes.get(k).copied().unwrap_or(0);
    // Every outcome with findings is in the report, whatever its format.
    let (mut failing, mut cut_short) = (false, false);
    for f in report.outcomes.iter().flat_map(|r| r.outcome.findings()) {
        if matches!(f.rule.as_deref(), Some(NOTICE_TOOL_FAILED | NOTICE_OUTPUT_CUT)) {
            cut_short = true;
        } else if fail_on.fails(f.severity) {
            failing = true;
            break;
        }
    }
    if failing {
        ExitCode::Findings
    } else if n("error") + n("timed_out") + n("skipped") > 0 || cut_short || !report.summary.walk_errors.is_empty() {
        ExitCode::Incomplete
    } else {
        ExitCode::Ok
    }
}

/// `s` with its control characters written as escapes (`\u{1b}`, `\n`):
/// file names, tools' messages and reasons are printed for people, and a
/// name or a message must not move the cursor or recolour the terminal, nor
/// reorder what follows it on the line (the bidirectional controls a
/// "Trojan Source" name uses), nor hide characters (see [`is_unseen`]).
pub fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| c.is_control() || is_unseen(c);
    if !s.chars().any(hidden) {
        return s.into();
    }
    s.chars().map(|c| if hidden(c) { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// [`visible`] for a message that may span lines (an invalid
/// configuration's list of problems): tabs are kept, every other control
/// character is escaped, and each line after the first is indented, so
/// that a line feed in a quoted file name cannot make a line that passes
/// for one of verdict's own (`verdict: error: …`). For error messages and
/// log lines, which quote file names from the checked tree.
pub fn visible_lines(s: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| (c.is_control() && c != '\n' && c != '\t') || is_unseen(c);
    let body = s.strip_suffix('\n').unwrap_or(s);
    if !body.contains('\n') && !s.chars().any(hidden) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for (i, line) in body.split('\n').enumerate() {
        if i > 0 {
            out.push_str("\n  ");
        }
        for c in line.chars() {
            if hidden(c) {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
    }
    if body.len() < s.len() {
        out.push('\n');
    }
    out.into()
}

/// A file's name for people: as it is, or, if it holds a byte that is not
/// UTF-8, a character that is not seen (see [`is_unseen`]), or starts with
/// a quote, in double quotes with those escaped (`"a\xFF.txt"`,
/// `"a\u{1b}b"`, `"zw\u{200b}sp"`) and backslashes and quotes escaped too,
/// as git quotes such names; one that starts or ends with a blank, in
/// quotes. So a name cannot pass for another's escaped form, and only
/// names that differ in how their letters are composed (`é` as one
/// character or two), or in letters that look alike, look the same.
pub fn shown_name(name: &[u8]) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| c.is_control() || is_unseen(c);
    match std::str::from_utf8(name) {
        Ok(s)
            if !s.starts_with('"')
                && !s.starts_with(char::is_whitespace)
                && !s.ends_with(char::is_whitespace)
                && !s.chars().any(hidden) =>
        {
            return s.into();
        }
        _ => {}
    }
    let mut out = String::with_capacity(name.len() + 8);
    out.push('"');
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' | '"' => {
                    out.push('\\');
                    out.push(c);
                }
                c if hidden(c) => out.extend(c.escape_default()),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out.push('"');
    out.into()
}

/// The characters that are not seen but change what text shows: format
/// characters (Unicode's Cf: the bidirectional controls, which reorder the
/// text after them, zero-width spaces and joiners, the byte order mark, the
/// soft hyphen, tags) and the line and paragraph separators.
fn is_unseen(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    !c.is_ascii()
        && matches!(
            c.general_category(),
            GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
        )
}

/// An error or a skip said of this many files or more by one validator, in
/// the same words (a missing program, an open breaker), is said once in the
/// human report, with the files it was said of.
const FOLD_AT: usize = 3;
/// How many of a folded outcome's files are named.
const FOLD_NAMES: usize = 10;

/// What a record says that may be folded: its validator, and its outcome
/// when that is an error or a skip (a timeout is each file's own event).
fn fold_key(r: &Record) -> Option<FoldKey<'_>> {
    match &r.outcome {
        Outcome::Error { reason } => Some((&r.validator, true, reason)),
        Outcome::Skipped { reason } => Some((&r.validator, false, reason)),
        _ => None,
    }
}

/// A validator, whether it is an error (else a skip), and its reason.
type FoldKey<'a> = (&'a str, bool, &'a str);

/// The human report. With `fold`, an error or skip said alike of many files
/// (see [`FOLD_AT`]) is listed once after the files, not under each one.
fn print_human(report: &CheckReport, colour: bool, fold: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let paint = |s: &str, f: fn(&str) -> String| if colour { f(s) } else { s.to_string() };
    // The folded outcomes, in the order they were first met, with their
    // records.
    let mut folded: Vec<(FoldKey<'_>, Vec<&Record>)> = Vec::new();
    if fold {
        let mut at: std::collections::HashMap<FoldKey<'_>, usize> = std::collections::HashMap::new();
        for r in &report.outcomes {
            if let Some(key) = fold_key(r) {
                let i = *at.entry(key).or_insert_with(|| {
                    folded.push((key, Vec::new()));
                    folded.len() - 1
                });
                folded[i].1.push(r);
            }
        }
        folded.retain(|(_, records)| records.len() >= FOLD_AT);
    }
    let folded_keys: std::collections::HashSet<FoldKey<'_>> = folded.iter().map(|(k, _)| *k).collect();
    let is_folded = |r: &Record| fold_key(r).is_some_and(|key| folded_keys.contains(&key));
    // A file's records are consecutive. Its outcomes without findings come
    // first, then its findings, every validator's together, in the order
    // of their place in the file (those of no line first), as an editor
    // lists them, and last verdict's notes on them (`… more findings not
    // listed`, a tool's failure).
    for group in report.outcomes.chunk_by(|a, b| a.file_name_bytes() == b.file_name_bytes()) {
        let group: Vec<&Record> = group.iter().filter(|r| !is_folded(r)).collect();
        let Some(first) = group.first() else { continue };
        writeln!(out, "{}", paint(&shown_name(first.file_name_bytes()), |s| s.bold().underline().to_string()))?;
        let mut found: Vec<(&Record, &Finding)> = Vec::new();
        for r in group {
            match record_findings(r) {
                Some(findings) => found.extend(findings.iter().map(|f| (r, f))),
                None => print_record(r, colour, out)?,
            }
        }
        // Stable: one place's findings stay in validator order.
        found.sort_by_key(|(_, f)| (f.is_notice(), f.line.unwrap_or(0), f.column.unwrap_or(0)));
        for (r, f) in found {
            print_finding(r, f, colour, out)?;
        }
    }
    for ((validator, error, reason), records) in &folded {
        // As a file's line says it, with the files it was said of.
        let word = if *error { error_word("error", colour) } else { skipped_word(colour) };
        let tag = format!("[{}]", visible(validator));
        let tag = if colour { tag.dimmed().to_string() } else { tag };
        let files = counted(records.len() as u64, "file");
        writeln!(out, "{word} on {files}: {}  {tag}", visible(reason))?;
        for r in records.iter().take(FOLD_NAMES) {
            writeln!(out, "  {}", shown_name(r.file_name_bytes()))?;
        }
        if records.len() > FOLD_NAMES {
            writeln!(out, "  … and {} more (--all lists each file's outcomes)", records.len() - FOLD_NAMES)?;
        }
    }
    if !report.outcomes.is_empty() {
        writeln!(out)?;
    }
    print_summary(report, colour, out)
}

/// The end of the human report: what the walk could not check, and the
/// counts.
fn print_summary(report: &CheckReport, colour: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let s = &report.summary;
    let n = |k: &str| s.outcomes.get(k).copied().unwrap_or(0);
    for e in &s.walk_errors {
        let w = if colour { "not checked".red().bold().to_string() } else { "not checked".into() };
        writeln!(out, "{w}: {}", visible(e))?;
    }
    writeln!(
        out,
        "{}, {}: {} passed, {} with findings, {}, {} timed out, {} skipped; {} in all; {} computed, {} from cache in {:.2} s{}",
        counted(s.files, "file"),
        counted(s.pairs, "check"),
        // Computed or cached alike: how many came from the cache is said
        // at the end.
        n("passed") + n("cached").saturating_sub(s.cached_with_findings),
        n("findings") + s.cached_with_findings,
        counted(n("error"), "error"),
        n("timed_out"),
        n("skipped"),
        // Fresh and cached: apart from the counts of checks, which split them.
        counted(s.findings, "finding"),
        s.computed,
        s.from_cache,
        s.duration_ms as f64 / 1000.0,
        if s.unchanged {
            " (nothing changed since the last check)"
        } else if s.incremental {
            " (only the directories that changed since the last check were walked)"
        } else {
            ""
        }
    )
}

/// `1 file`, `2 files`.
fn counted(n: u64, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// The findings a record reports, fresh or cached; `None` for another
/// outcome.
fn record_findings(r: &Record) -> Option<&[Finding]> {
    match &r.outcome {
        Outcome::Findings { findings } | Outcome::Cached { verdict: Verdict::Findings { findings } } => Some(findings),
        _ => None,
    }
}

fn print_record(r: &Record, colour: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let tag = format!("[{}]", visible(&r.validator));
    let tag = if colour { tag.dimmed().to_string() } else { tag };
    match &r.outcome {
        Outcome::Findings { findings } | Outcome::Cached { verdict: Verdict::Findings { findings } } => {
            for f in findings {
                print_finding(r, f, colour, out)?;
            }
            Ok(())
        }
        Outcome::Passed => writeln!(out, "  passed  {tag}"),
        // Marked as cached findings are, as the summary counts it.
        Outcome::Cached { verdict: Verdict::Passed } => writeln!(out, "  passed  {tag} (cached)"),
        Outcome::Error { reason } => writeln!(out, "  {}: {}  {tag}", error_word("error", colour), visible(reason)),
        Outcome::TimedOut { after_ms } => {
            let w = error_word("timed out", colour);
            // Under a second in milliseconds ("0.0 s" said nothing).
            let after = match *after_ms {
                ms if ms < 1000 => format!("{ms} ms"),
                ms => format!("{:.1} s", ms as f64 / 1000.0),
            };
            writeln!(out, "  {w} after {after}  {tag}")
        }
        Outcome::Skipped { reason } => writeln!(out, "  {}: {}  {tag}", skipped_word(colour), visible(reason)),
    }
}

/// `error` or `timed out`, red and bold when coloured.
fn error_word(word: &str, colour: bool) -> String {
    if colour { word.red().bold().to_string() } else { word.to_owned() }
}

/// `skipped`, yellow when coloured.
fn skipped_word(colour: bool) -> String {
    if colour { "skipped".yellow().to_string() } else { "skipped".to_owned() }
}

/// One finding of `r`'s, on a line of its own.
fn print_finding(r: &Record, f: &Finding, colour: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let pos = match (f.line, f.column) {
        (Some(l), Some(c)) => format!("{l}:{c}"),
        (Some(l), None) => format!("{l}"),
        _ => "-".into(),
    };
    let sev = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    let sev = if colour {
        match f.severity {
            Severity::Error => sev.red().to_string(),
            Severity::Warning => sev.yellow().to_string(),
            Severity::Note => sev.blue().to_string(),
        }
    } else {
        sev.to_string()
    };
    // A tool's rule (`SC2086`, `F401`), which a built-in's name already is.
    let tag = match f.rule.as_deref().filter(|rule| *rule != r.validator && !f.is_notice()) {
        Some(rule) => format!("[{} {}]", visible(&r.validator), visible(rule)),
        None => format!("[{}]", visible(&r.validator)),
    };
    let tag = if colour { tag.dimmed().to_string() } else { tag };
    let cached = if matches!(r.outcome, Outcome::Cached { .. }) { " (cached)" } else { "" };
    writeln!(out, "  {pos:>8}  {sev}  {}  {tag}{cached}", visible(&f.message))
}

/// A relative path as the relative URI reference SARIF requires: every byte
/// that is not allowed in a URI path is percent-encoded (`a b#1?.txt` is
/// `a%20b%231%3F.txt`; `%` itself is `%25`), and `/` still separates.
fn uri(path: &[u8]) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, percent_encode};
    const PATH: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        // A colon in the first segment would read as a URI scheme.
        .add(b':')
        .add(b'[')
        .add(b'\\')
        .add(b']')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}');
    // Bytes past ASCII are encoded each: a UTF-8 name's as its characters'
    // bytes, another name's as they are (`a%FF.txt`).
    percent_encode(path, PATH).to_string()
}

/// The most results one SARIF run may hold for GitHub code scanning, which
/// rejects a log with more (and as many rules at most, which then holds).
pub const SARIF_MAX_RESULTS: usize = 25_000;

/// How long a Ctrl-C's `cancel` may wait for room on the connection.
const CANCEL_SEND: Duration = Duration::from_secs(2);

/// Whether `dir` is the top of a git repository, as git would have it: its
/// `.git` a directory holding a `HEAD`, or a file naming one (`gitdir:`, a
/// worktree's or a submodule's). An empty `.git`, or one of something else,
/// is not (git looks past it).
fn holds_repository(dir: &Path) -> bool {
    let dot_git = dir.join(".git");
    match std::fs::metadata(&dot_git) {
        Ok(m) if m.is_dir() => dot_git.join("HEAD").is_file(),
        Ok(m) if m.is_file() => {
            crate::paths::first_line(&dot_git).ok().flatten().is_some_and(|line| line.starts_with("gitdir: "))
        }
        _ => false,
    }
}

/// Builds a SARIF 2.1.0 log: findings are results; errors, timeouts and
/// skips are tool execution notifications, not results.
///
/// `project_root`, when given, places the files: their URIs are made
/// relative to the top of the git repository holding it (where code
/// scanning looks for them: a project in `sub/` of a repository gives
/// `sub/a.txt`), and `%SRCROOT%` is declared as that directory (outside a
/// repository: the project root, to which they are then relative). Past
/// [`SARIF_MAX_RESULTS`] findings, the most severe are kept (errors, then
/// warnings, then notes, each in report order) and a notification says
/// how many were left out.
pub fn sarif(report: &CheckReport, project_root: Option<&Path>) -> Value {
    let top = project_root.and_then(|root| root.ancestors().find(|a| holds_repository(a)).map(|top| (root, top)));
    let prefix: Vec<u8> = match top {
        Some((root, top)) => {
            let rel = root.strip_prefix(top).unwrap_or(Path::new(""));
            let mut p = rel.as_os_str().as_encoded_bytes().to_vec();
            if !p.is_empty() {
                p.push(b'/');
            }
            p
        }
        None => Vec::new(),
    };
    let located = |file: &[u8]| {
        let mut path = prefix.clone();
        path.extend_from_slice(file);
        uri(&path)
    };
    let mut notifications = Vec::new();
    // Something was not checked, or not wholly: a skip, or a tool that
    // failed or had its output cut after its findings (the check exits 3,
    // incomplete, for these as for errors).
    let mut incomplete = false;
    let mut candidates: Vec<(&crate::protocol::Record, &verdict_actors::Finding)> = Vec::new();
    for r in &report.outcomes {
        // About the validator's work on this file.
        let notify = |level: &str, text: &str| {
            json!({
                "level": level,
                "message": { "text": format!("{}: {text}", r.validator) },
                "locations": [{ "physicalLocation": { "artifactLocation": {
                    "uri": located(r.file_name_bytes()), "uriBaseId": "%SRCROOT%",
                } } }],
                "descriptor": { "id": r.validator },
            })
        };
        match &r.outcome {
            Outcome::Error { reason } => notifications.push(notify("error", reason)),
            Outcome::TimedOut { after_ms } => {
                notifications.push(notify("error", &format!("timed out after {after_ms} ms")))
            }
            Outcome::Skipped { reason } => {
                incomplete = true;
                notifications.push(notify("warning", reason))
            }
            _ => {}
        }
        // verdict's own notes on a list (more than are kept, output cut,
        // the tool failed after these) are about the run, not the file's
        // code: notifications.
        for f in r.outcome.findings() {
            if f.is_notice() {
                incomplete |= f.rule.as_deref() != Some(verdict_actors::NOTICE_MORE);
                let level = match f.severity {
                    _ if f.rule.as_deref() == Some(verdict_actors::NOTICE_MORE) => "note",
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                    Severity::Note => "note",
                };
                notifications.push(notify(level, &f.message));
            } else {
                candidates.push((r, f));
            }
        }
    }
    // The most severe first when they cannot all go; report order kept.
    let left_out = candidates.len().saturating_sub(SARIF_MAX_RESULTS);
    if left_out > 0 {
        let rank = |s: Severity| match s {
            Severity::Error => 0,
            Severity::Warning => 1,
            Severity::Note => 2,
        };
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.sort_by_key(|&i| (rank(candidates[i].1.severity), i));
        let mut kept = order[..SARIF_MAX_RESULTS].to_vec();
        kept.sort_unstable();
        candidates = kept.into_iter().map(|i| candidates[i]).collect();
        notifications.push(json!({
            "level": "warning",
            "message": { "text": format!(
                "{left_out} more findings are not in this SARIF log, which holds the {SARIF_MAX_RESULTS} most severe (GitHub code scanning takes no more in one run); `verdict check --format json` lists them all"
            ) },
            "descriptor": { "id": "verdict/results-left-out" },
        }));
    }
    // Each rule's id, with its descriptor (code scanning shows the full
    // description and the help with every alert).
    let mut rules: Vec<Value> = Vec::new();
    let mut known_rules: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut results = Vec::with_capacity(candidates.len());
    // How many results of each fingerprint so far.
    let mut seen: std::collections::HashMap<u128, u32> = std::collections::HashMap::new();
    // What a SARIF reader can hold: SARIF's integers are 32-bit in
    // Microsoft's SDK, and a line past them is no line.
    let position = |n: Option<u32>| n.filter(|&n| n <= i32::MAX as u32);
    for (r, f) in candidates {
        // `validator/rule`; the validator's name alone when the finding
        // names no rule (or an empty one) or the rule is the validator
        // (the built-ins).
        let rule = match f.rule.as_deref() {
            Some(rule) if !rule.is_empty() && rule != r.validator => format!("{}/{rule}", r.validator),
            _ => r.validator.clone(),
        };
        if known_rules.insert(rule.clone()) {
            let full = match f.rule.as_deref().filter(|own| !own.is_empty() && *own != r.validator) {
                Some(own) => format!("Rule {own} of the tool that verdict's {} validator runs.", r.validator),
                None => format!("verdict's {} validator ({} checks).", r.validator, r.dimension),
            };
            let help = format!(
                "Reported by verdict's {} validator (dimension {}); its configuration is the [validators.{}] table of verdict.toml (a built-in without one runs with its defaults).",
                r.validator, r.dimension, r.validator
            );
            // Code scanning takes at most 1,024 characters in each.
            let short: String = rule.chars().take(1024).collect();
            let full: String = full.chars().take(1024).collect();
            rules.push(json!({
                "id": rule,
                "shortDescription": { "text": short },
                "fullDescription": { "text": full },
                "help": { "text": help },
            }));
        }
        let mut region = serde_json::Map::new();
        let line = position(f.line);
        if let Some(l) = line {
            region.insert("startLine".into(), json!(l));
        }
        // SARIF has no region of a column alone.
        if let Some(c) = position(f.column).filter(|_| line.is_some()) {
            region.insert("startColumn".into(), json!(c));
        }
        // A finding about the whole file (`large-file`, an exit status) is
        // placed at its first line: code scanning requires a line, and
        // fingerprints a result by it.
        if region.is_empty() {
            region.insert("startLine".into(), json!(1));
        }
        let physical = json!({
            "artifactLocation": { "uri": located(r.file_name_bytes()), "uriBaseId": "%SRCROOT%" },
            "region": Value::Object(region),
        });
        // Code scanning refuses an empty text; other whitespace (a
        // no-break space) is kept, as in the JSON report.
        let text = if f.message.trim_ascii().is_empty() { "(no message)" } else { f.message.as_str() };
        // An identity across runs: the rule, the file and the message, and
        // which of its like this is in the file, not the line (an edit
        // above a finding moves it). GitHub's code scanning matches by its
        // own line-content hash, which its upload action adds.
        let fingerprint = {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            for part in [rule.as_bytes(), r.file_name_bytes(), text.as_bytes()] {
                h.update(&(part.len() as u64).to_le_bytes());
                h.update(part);
            }
            let digest = h.digest128();
            let nth = seen.entry(digest).or_insert(0u32);
            *nth += 1;
            format!("{digest:032x}:{nth}")
        };
        results.push(json!({
            "ruleId": rule,
            "level": match f.severity { Severity::Error => "error", Severity::Warning => "warning", Severity::Note => "note" },
            "message": { "text": text },
            "locations": [{ "physicalLocation": physical }],
            "partialFingerprints": { "verdictFinding/v1": fingerprint },
        }));
    }
    for e in &report.summary.walk_errors {
        notifications.push(json!({
            "level": "error",
            "message": { "text": format!("not checked: {e}") },
            "descriptor": { "id": "verdict/walk" },
        }));
    }
    for note in &report.summary.notes {
        notifications.push(json!({
            "level": "warning",
            "message": { "text": note },
            "descriptor": { "id": "verdict/note" },
        }));
    }
    let failed = incomplete || notifications.iter().any(|n| n["level"] == "error");
    // What each notification's descriptor names: a validator, the walk, or
    // the results left out.
    let mut described = std::collections::BTreeSet::new();
    for n in &notifications {
        if let Some(id) = n["descriptor"]["id"].as_str() {
            described.insert(id.to_owned());
        }
    }
    // Described in full, with help, as the rules are (SARIF's validator,
    // which GitHub's docs point to, asks it of every descriptor).
    let descriptors: Vec<Value> = described
        .into_iter()
        .map(|id| {
            let (text, help) = match id.as_str() {
                "verdict/walk" => (
                    "A part of the tree verdict could not look at: its files were not checked.".to_owned(),
                    "The message names the path and why; make it readable (or a regular file), or exclude it with check.exclude in verdict.toml.".to_owned(),
                ),
                "verdict/results-left-out" => (
                    "Findings left out of this log, past the most results code scanning takes in one run.".to_owned(),
                    "verdict check --format json lists the findings this log left out.".to_owned(),
                ),
                "verdict/note" => (
                    "Something the check could not do that does not leave it incomplete (git could not be run, so the files it tracks that an ignore rule matches were not checked).".to_owned(),
                    "The message says what was not done and why.".to_owned(),
                ),
                name => (
                    format!(
                        "verdict's {name} validator gave no verdict on a file (an error, a time-out, a skip), or a note on its run there."
                    ),
                    format!(
                        "The message says why. verdict status shows the {name} validator's state and last failure; verdict logs its supervision events."
                    ),
                ),
            };
            json!({
                "id": id,
                "shortDescription": { "text": text },
                "fullDescription": { "text": text },
                "help": { "text": help },
            })
        })
        .collect();
    let mut run = json!({
        "tool": { "driver": {
            "name": "verdict",
            "version": crate::protocol::VERSION,
            "rules": rules,
            "notifications": descriptors,
        }},
        // Columns count characters (code points), as in the JSON
        // report, not SARIF's default UTF-16 code units.
        "columnKind": "unicodeCodePoints",
        "invocations": [{
            "executionSuccessful": !failed,
            "toolExecutionNotifications": notifications,
        }],
        "results": results,
    });
    // Outside a repository the URIs are the project root's.
    if let Some(base) = top.map(|(_, top)| top).or(project_root) {
        let mut dir = uri(base.as_os_str().as_encoded_bytes());
        if !dir.ends_with('/') {
            dir.push('/');
        }
        run["originalUriBaseIds"] = json!({ "%SRCROOT%": { "uri": format!("file://{dir}") } });
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    })
}

/// `verdict --json daemon`'s answer: the daemon runs, started by this
/// command (`started`) or already.
pub fn running_json(layout: &Layout, pid: Option<u32>, started: bool) -> Value {
    json!({ "running": true, "started": started, "pid": pid, "socket": layout.socket.to_string_lossy() })
}

/// Says that a daemon already runs for this project.
pub fn print_running(layout: &Layout, pid: Option<u32>, as_json: bool) -> std::io::Result<()> {
    let pid_s = pid.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into());
    if as_json {
        outln!("{}", crate::json_out::line(&running_json(layout, pid, false)));
    } else {
        outln!(
            "verdict daemon already running (pid {pid_s}, socket {})",
            visible(&layout.socket.display().to_string())
        );
    }
    Ok(())
}

/// Prints `verdict status`.
pub fn print_status(s: &Value, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "verdict daemon {} (pid {}, protocol {})",
        visible(s["version"].as_str().unwrap_or("?")),
        s["pid"],
        s["protocol"]
    )?;
    writeln!(out, "  project root: {}", visible(s["project_root"].as_str().unwrap_or("?")))?;
    writeln!(out, "  config:       {}", visible(s["config_path"].as_str().unwrap_or("(none: built-in defaults)")))?;
    writeln!(out, "  socket:       {}", visible(s["socket"].as_str().unwrap_or("?")))?;
    writeln!(out, "  log:          {}", s["log_file"].as_str().map_or("stderr (a foreground daemon)".into(), visible))?;
    writeln!(
        out,
        "  uptime:       {}",
        humantime::format_duration(Duration::from_secs(s["uptime_ms"].as_u64().unwrap_or(0) / 1000))
    )?;
    writeln!(out, "  connections:  {} (requests in flight: {})", s["connections"], s["requests_in_flight"])?;
    let cache = &s["cache"];
    if cache["available"].as_bool() == Some(true) {
        writeln!(
            out,
            "  cache:        {} (hits {}, misses {})",
            visible(cache["path"].as_str().unwrap_or("?")),
            cache["hits"],
            cache["misses"]
        )?;
        if let Some(n) = cache["read_failures"].as_u64().filter(|&n| n > 0) {
            writeln!(
                out,
                "                {n} reads failed (damaged data, each one a miss): `verdict cache clear` starts it afresh"
            )?;
        }
        if cache["writes_failed"].as_bool() == Some(true) {
            writeln!(out, "                a write failed (a full disk?): the next check reopens it (see the log)")?;
        }
    } else {
        writeln!(out, "  cache:        unavailable: {}", visible(cache["error"].as_str().unwrap_or("?")))?;
    }
    let watch = &s["watch"];
    if watch["enabled"].as_bool() == Some(false) {
        writeln!(out, "  watch:        off (check.watch = false): every check walks the tree")?;
    } else if watch["available"].as_bool() == Some(false) {
        writeln!(
            out,
            "  watch:        unavailable: {}; every check walks the tree",
            visible(watch["error"].as_str().unwrap_or("?"))
        )?;
    } else if watch.is_object() {
        writeln!(out, "  watch:        {} directories", watch["watches"])?;
        if let Some(n) = watch["failures"].as_u64().filter(|&n| n > 0) {
            writeln!(
                out,
                "                {n} could not be watched, so checks walk the tree; latest: {}",
                visible(watch["last_failure"].as_str().unwrap_or("?"))
            )?;
        }
    }
    if let Some(bytes) = s["memory"]["resident_bytes"].as_u64() {
        let returns = s["memory"]["returns"].as_u64().unwrap_or(0);
        writeln!(
            out,
            "  memory:       {} resident (free memory given back {returns} time{})",
            bytesize::ByteSize::b(bytes).display().iec(),
            if returns == 1 { "" } else { "s" }
        )?;
    }
    writeln!(out, "  validators:")?;
    for v in s["validators"].as_array().into_iter().flatten() {
        write!(
            out,
            "    {:<22} {:<12} {:<28} restarts {:<3} jobs {}",
            v["name"].as_str().unwrap_or("?"),
            v["state"].as_str().unwrap_or("?"),
            v["kind"].as_str().unwrap_or("?"),
            v["restarts"],
            v["jobs_done"]
        )?;
        match v["last_failure"].as_str() {
            // It may quote a file name or a tool's words.
            Some(f) => writeln!(out, "  last failure: {}", visible(f))?,
            None => writeln!(out)?,
        }
        if let Some(why) = v["not_cached"].as_str() {
            writeln!(out, "      results not cached: {}", visible(why))?;
        }
    }
    for r in s["retiring"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "    {:<22} {:<12} {:<28} jobs {}; kept for {} check run(s) that started before a reload{}",
            r["name"].as_str().unwrap_or("?"),
            "retiring",
            r["kind"].as_str().unwrap_or("?"),
            r["jobs_done"],
            r["checks"],
            match r["state"].as_str() {
                Some("restarting") => " (its child is restarting)",
                Some("quarantined") => " (quarantined: they get an error for its other jobs)",
                Some("stopped") => " (its child is stopped)",
                _ => "",
            }
        )?;
    }
    let breakers = s["breakers"].as_array().map(Vec::len).unwrap_or(0);
    writeln!(
        out,
        "  breakers:     {}",
        if breakers == 0 { "none configured".to_string() } else { breakers.to_string() }
    )?;
    let events = s["events"].as_array().cloned().unwrap_or_default();
    if !events.is_empty() {
        // When, as how long ago (the daemon's clock is this machine's).
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        writeln!(out, "  recent supervision events, newest first:")?;
        for e in events.iter().rev().take(10) {
            let ago = match e["at_ms"].as_u64() {
                Some(at) => {
                    let secs = now.saturating_sub(u128::from(at)) / 1000;
                    let secs = u64::try_from(secs).unwrap_or(u64::MAX);
                    format!("{} ago", humantime::format_duration(Duration::from_secs(secs)))
                }
                None => String::new(),
            };
            let detail = e["detail"].as_str().unwrap_or("");
            writeln!(
                out,
                "    {ago:>12}  {} {}{}{}",
                visible(e["validator"].as_str().unwrap_or("?")),
                e["event"].as_str().unwrap_or("?").replace('_', " "),
                // A detail that is only a remark, `(replaced child)`, is
                // set off as one.
                match detail {
                    "" => "",
                    d if d.starts_with('(') => " ",
                    _ => ": ",
                },
                visible(detail)
            )?;
        }
    }
    Ok(())
}

/// Renders a reload report.
pub fn print_reload(v: &Value, out: &mut dyn Write) -> std::io::Result<()> {
    for (key, word) in [("added", "added"), ("changed", "changed"), ("removed", "removed")] {
        for name in v[key].as_array().into_iter().flatten() {
            writeln!(out, "{}: {word}", name.as_str().unwrap_or("?"))?;
        }
    }
    let n = v["unchanged"].as_array().map(Vec::len).unwrap_or(0);
    writeln!(out, "{n} unchanged")?;
    let later: Vec<&str> = v["restart_required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if let Some(note) = restart_note(&later) {
        writeln!(out, "{note}")?;
    }
    Ok(())
}

/// The note on sections of verdict.toml whose change waits for a restart
/// (`None` when there are none).
fn restart_note(sections: &[impl AsRef<str>]) -> Option<String> {
    let named: Vec<String> = sections.iter().map(|s| format!("[{}]", s.as_ref())).collect();
    (!named.is_empty()).then(|| {
        format!(
            "note: {} changed; that takes effect when the daemon restarts (`verdict stop`, then any command)",
            named.join(" and ")
        )
    })
}

/// Renders cache command replies.
pub fn print_cache(v: &Value, out: &mut dyn Write) -> std::io::Result<()> {
    if v["recreated"] == true {
        return writeln!(out, "the cache could not be used: it was deleted and created again, empty");
    }
    if let Some(d) = v.get("deleted") {
        return match v["stat_index_deleted"].as_u64() {
            // `cache prune`: and the stat index's entries of files gone.
            Some(n) => writeln!(out, "deleted {d} cached results, and {n} stat-index entries of files gone"),
            None => writeln!(out, "deleted {d} cached results"),
        };
    }
    writeln!(out, "cache at {}", v["path"].as_str().unwrap_or("?"))?;
    writeln!(
        out,
        "  results: {}, per-file entries: {}, stat index: {}, bytes on disk: {}",
        v["entries"], v["file_entries"], v["stat_index_entries"], v["bytes_on_disk"]
    )?;
    for val in v["validators"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  {:<22} entries {:<8} hits {:<8} misses {}",
            val["name"].as_str().unwrap_or("?"),
            val["entries"],
            val["hits"],
            val["misses"]
        )?;
    }
    Ok(())
}

/// `verdict logs`: prints the daemon's log, optionally following it across
/// rotations.
pub fn print_logs(path: &Path, follow: bool, lines: Option<usize>, raw: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut said = false;
    let mut file = loop {
        match std::fs::File::open(path) {
            Ok(f) => break f,
            Err(e) if follow && e.kind() == std::io::ErrorKind::NotFound => {
                if !std::mem::replace(&mut said, true) {
                    crate::errln!(
                        "verdict: no daemon log at {} yet (no daemon has run detached here); waiting for one",
                        visible(&path.display().to_string())
                    );
                }
                std::thread::sleep(Duration::from_millis(200))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
                "no daemon log at {} (no daemon has run detached here; one in the foreground logs to its \
                 stderr; `verdict logs -f` waits for one)",
                visible(&path.display().to_string())
            ),
            // Its directory cannot be there (`XDG_STATE_HOME` under a file):
            // nor could the daemon make it.
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => anyhow::bail!(
                "no daemon log at {}: a part of its path is not a directory, so the daemon could not make it \
                 either and keeps no log (set XDG_STATE_HOME to a directory you can write)",
                visible(&path.display().to_string())
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot read the daemon log {}", path.display())),
        }
    };
    // A directory opens, and fails at the first read with no path named.
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        anyhow::bail!(
            "cannot read the daemon log {}: it is not a regular file (the daemon cannot write it either; remove it)",
            visible(&path.display().to_string())
        );
    }
    let mut reader = std::io::BufReader::new(file.try_clone()?);
    let mut all = Vec::new();
    // A line the daemon is still writing stays in `partial` until its end
    // arrives, so a follower never prints one line as two.
    let mut partial = Vec::new();
    // Blank lines (one may follow a record a full disk cut short) are not
    // lines of the log: not counted by `-n` either.
    read_complete_lines(&mut reader, &mut partial, |l| {
        if !l.trim().is_empty() {
            all.push(l.to_owned());
        }
        Ok(())
    })?;
    if !follow && !partial.is_empty() {
        // The last line, unfinished (the daemon was killed mid-write, or is
        // writing it now): shown as it is.
        all.push(format!("{}\n", String::from_utf8_lossy(&partial)));
    }
    // Fewer lines than asked for: the rest from the files rotated out
    // before, newest first (`.1`, `.2`, …). A rotation meanwhile can show a
    // file a second time (the one just read, now `.1`), skipped by its
    // inode, or leave one number free, gone past.
    if let Some(n) = lines {
        let mut seen = std::collections::HashSet::from([std::os::unix::fs::MetadataExt::ino(&file.metadata()?)]);
        let (mut earlier, mut missing, mut have) = (1, 0, all.len());
        let mut chunks: Vec<Vec<String>> = Vec::new();
        while have < n && missing < 2 {
            let mut name = path.as_os_str().to_owned();
            name.push(format!(".{earlier}"));
            earlier += 1;
            let Ok(rotated) = std::fs::File::open(&name) else {
                missing += 1;
                continue;
            };
            missing = 0;
            if !seen.insert(std::os::unix::fs::MetadataExt::ino(&rotated.metadata()?)) {
                continue;
            }
            let mut lines_of = Vec::new();
            let mut cut = Vec::new();
            read_complete_lines(&mut std::io::BufReader::new(rotated), &mut cut, |l| {
                if !l.trim().is_empty() {
                    lines_of.push(l.to_owned());
                }
                Ok(())
            })?;
            if !cut.is_empty() {
                lines_of.push(format!("{}\n", String::from_utf8_lossy(&cut)));
            }
            let keep = lines_of.len().saturating_sub(n - have);
            lines_of.drain(..keep);
            have += lines_of.len();
            chunks.push(lines_of);
        }
        if !chunks.is_empty() {
            chunks.reverse();
            chunks.push(std::mem::take(&mut all));
            all = chunks.concat();
        }
    }
    let skip = lines.map(|n| all.len().saturating_sub(n)).unwrap_or(0);
    for l in &all[skip..] {
        print_log_line(l, raw, &mut out)?;
    }
    if !follow {
        return Ok(());
    }
    let mut inode = std::os::unix::fs::MetadataExt::ino(&file.metadata()?);
    loop {
        out.flush()?;
        std::thread::sleep(Duration::from_millis(200));
        // Rotation renames the file and starts a new one: reopen it when
        // the path names another inode.
        if let Ok(m) = std::fs::metadata(path) {
            let ino = std::os::unix::fs::MetadataExt::ino(&m);
            if ino != inode {
                // The old file's last lines first: a line is never split
                // across a rotation, so what is unfinished was finished
                // there. Only a line it still lacks the end of is shown
                // as it is.
                read_complete_lines(&mut reader, &mut partial, |l| print_log_line(l, raw, &mut out))?;
                if !partial.is_empty() {
                    partial.push(b'\n');
                    print_log_line(&String::from_utf8_lossy(&std::mem::take(&mut partial)), raw, &mut out)?;
                }
                // Then the files rotated out since, oldest first, up to the
                // file now at `path`, opened first so that a rotation
                // meanwhile cannot slip a file between the two.
                let new = match std::fs::File::open(path) {
                    Ok(new) => new,
                    // Renamed away by a rotation since the look above, its
                    // successor not made yet: the next look finds it.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                let new_inode = std::os::unix::fs::MetadataExt::ino(&new.metadata()?);
                for rotated in rotated_since(path, inode, new_inode)? {
                    let mut reader = std::io::BufReader::new(rotated);
                    read_complete_lines(&mut reader, &mut partial, |l| print_log_line(l, raw, &mut out))?;
                    if !partial.is_empty() {
                        partial.push(b'\n');
                        print_log_line(&String::from_utf8_lossy(&std::mem::take(&mut partial)), raw, &mut out)?;
                    }
                }
                file = new;
                inode = new_inode;
                reader = std::io::BufReader::new(file.try_clone()?);
            }
        }
        read_complete_lines(&mut reader, &mut partial, |l| print_log_line(l, raw, &mut out))?;
    }
}

/// The log files rotated out after the one whose inode is `followed` and
/// before the one whose inode is `current` (opened already), oldest first,
/// opened: a rotation renames `daemon.log` to `daemon.log.1` and each `.N`
/// to `.N+1`, so those newer than the followed file are the ones numbered
/// below it (all of them when it was rotated out of those kept). Several
/// rotations can happen between two looks of a follower. One under way
/// during a scan renames from the top down, so it leaves one number free
/// at a time (`.2` already renamed to `.3`, `.1` not yet to `.2`) and can
/// show a file twice, which is skipped: a scan goes past one missing
/// number, and ends at two in a row. A scan that did not reach the
/// followed file (a rotation may have been under way) is made again, until
/// two agree.
fn rotated_since(path: &Path, followed: u64, current: u64) -> std::io::Result<Vec<std::fs::File>> {
    let mut last: Option<Vec<u64>> = None;
    for _ in 0..20 {
        let (newer, inodes, reached) = scan_rotated(path, followed, current)?;
        if reached || last.as_ref() == Some(&inodes) {
            return Ok(newer);
        }
        last = Some(inodes);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(scan_rotated(path, followed, current)?.0)
}

/// One scan of [`rotated_since`]: the files, oldest first, their inodes,
/// and whether the followed file was reached.
fn scan_rotated(path: &Path, followed: u64, current: u64) -> std::io::Result<(Vec<std::fs::File>, Vec<u64>, bool)> {
    let mut newer = Vec::new();
    let mut inodes = Vec::new();
    let mut seen = std::collections::HashSet::from([current]);
    let mut missing = 0;
    let mut reached = false;
    for n in 1.. {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        let file = match std::fs::File::open(&name) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing += 1;
                if missing == 2 {
                    break;
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        missing = 0;
        let ino = std::os::unix::fs::MetadataExt::ino(&file.metadata()?);
        if ino == followed {
            reached = true;
            break;
        }
        if seen.insert(ino) {
            newer.push(file);
            inodes.push(ino);
        }
    }
    newer.reverse();
    inodes.reverse();
    Ok((newer, inodes, reached))
}

/// Hands every complete line `reader` has to `each`; an unfinished last
/// line is kept in `partial` and completed by the next call. Lines are cut
/// as bytes, so a read that ends inside a character loses nothing.
fn read_complete_lines(
    reader: &mut impl BufRead,
    partial: &mut Vec<u8>,
    mut each: impl FnMut(&str) -> std::io::Result<()>,
) -> std::io::Result<()> {
    while reader.read_until(b'\n', partial)? > 0 {
        if partial.last() != Some(&b'\n') {
            break;
        }
        each(&String::from_utf8_lossy(partial))?;
        partial.clear();
    }
    Ok(())
}

fn print_log_line(line: &str, raw: bool, out: &mut dyn Write) -> std::io::Result<()> {
    // A blank line is none: the daemon writes one after a record a full
    // disk cut short, when the record was not cut but lost whole.
    if line.trim().is_empty() {
        return Ok(());
    }
    if raw {
        // One JSON document per line: the part of a record a full disk
        // cut short is given as a JSON string.
        if serde_json::from_str::<serde::de::IgnoredAny>(line).is_ok() {
            return write!(out, "{}", crate::json_out::escape_c1(line));
        }
        let part = serde_json::to_string(line.trim_end_matches(['\n', '\r'])).map_err(std::io::Error::other)?;
        return writeln!(out, "{part}");
    }
    match serde_json::from_str::<Value>(line) {
        Ok(v) => {
            let mut fields = String::new();
            if let Some(map) = v["fields"].as_object() {
                for (k, val) in map {
                    // An empty field (a supervision event's `detail` when
                    // there is none) says nothing.
                    if k != "message" && val.as_str() != Some("") {
                        fields.push_str(&format!(
                            " {k}={}",
                            val.as_str().map(str::to_string).unwrap_or_else(|| val.to_string())
                        ));
                    }
                }
            }
            // One line each, whatever a file name in it holds.
            let text = format!(
                "{} {:>5} {}{}",
                v["timestamp"].as_str().unwrap_or(""),
                v["level"].as_str().unwrap_or(""),
                v["fields"]["message"].as_str().unwrap_or(""),
                fields
            );
            writeln!(out, "{}", visible(&text))
        }
        Err(_) => write!(out, "{}", visible_lines(line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Summary;

    /// A rotation under way leaves one number free at a time: the scan goes
    /// past it to the files above, and ends at two free numbers in a row.
    #[test]
    fn a_scan_of_rotated_logs_goes_past_the_number_a_rotation_left_free() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("daemon.log");
        let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        let at = |n: u32| dir.path().join(format!("daemon.log.{n}"));
        std::fs::write(&log, "current\n").unwrap();
        // .1 renamed to .2 already, daemon.log not yet to .1; the followed
        // file is .3; .5 is past two free numbers.
        for (n, text) in [(2, "newer\n"), (3, "followed\n"), (5, "unrelated\n")] {
            std::fs::write(at(n), text).unwrap();
        }
        let (files, inodes, reached) = scan_rotated(&log, ino(&at(3)), ino(&log)).unwrap();
        assert!(reached);
        assert_eq!((files.len(), inodes), (1, vec![ino(&at(2))]));
        // The followed file gone (rotated out of those kept): everything
        // up to two free numbers in a row, oldest first.
        std::fs::remove_file(at(3)).unwrap();
        std::fs::write(at(1), "newest\n").unwrap();
        let (_, inodes, reached) = scan_rotated(&log, 1, ino(&log)).unwrap();
        assert!(!reached);
        assert_eq!(inodes, vec![ino(&at(2)), ino(&at(1))]);
        let got = rotated_since(&log, 1, ino(&log)).unwrap();
        assert_eq!(got.len(), 2, "two scans agree");
    }

    #[test]
    fn a_cached_pass_is_marked_as_cached_findings_are() {
        let record = |outcome| Record {
            file: "a.txt".into(),
            file_bytes: None,
            validator: "utf8".into(),
            dimension: "encoding".into(),
            outcome,
        };
        let mut out = Vec::new();
        print_record(&record(Outcome::Cached { verdict: Verdict::Passed }), false, &mut out).unwrap();
        print_record(&record(Outcome::Passed), false, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "  passed  [utf8] (cached)\n  passed  [utf8]\n");
    }

    /// An error said alike of three files or more by one validator is said
    /// once, after the files, naming at most ten of them; two files, another
    /// validator's same words, another reason or `--all` (no folding) keep
    /// it under each file.
    #[test]
    fn an_error_said_alike_of_many_files_is_said_once() {
        let record = |file: String, validator: &str, outcome: Outcome| Record {
            file,
            file_bytes: None,
            validator: validator.into(),
            dimension: "lint".into(),
            outcome,
        };
        let missing = || Outcome::error("executable not found: tool");
        let mut outcomes = Vec::new();
        for i in 0..12 {
            outcomes.push(record(format!("f{i:02}.py"), "lint", missing()));
            if i < 2 {
                // The same words from another validator, of two files only.
                outcomes.push(record(format!("f{i:02}.py"), "other", missing()));
            }
            if i == 5 {
                outcomes.push(record(format!("f{i:02}.py"), "lint2", Outcome::skipped("breaker open")));
            }
        }
        for i in 0..3 {
            outcomes.push(record(format!("g{i}.py"), "style", Outcome::skipped("the breaker of mcp is open")));
        }
        outcomes.push(record("h.py".into(), "lint", Outcome::error("exit code 9")));
        let report =
            CheckReport { summary: Summary::default(), outcomes, validators: Vec::new(), streamed_outcomes: None };
        let print = |fold| {
            let mut out = Vec::new();
            print_human(&report, false, fold, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let text = print(true);
        let listed: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
        assert_eq!(
            listed,
            [
                "f00.py",
                "  error: executable not found: tool  [other]",
                "f01.py",
                "  error: executable not found: tool  [other]",
                "f05.py",
                "  skipped: breaker open  [lint2]",
                "h.py",
                "  error: exit code 9  [lint]",
                "error on 12 files: executable not found: tool  [lint]",
                "  f00.py",
                "  f01.py",
                "  f02.py",
                "  f03.py",
                "  f04.py",
                "  f05.py",
                "  f06.py",
                "  f07.py",
                "  f08.py",
                "  f09.py",
                "  … and 2 more (--all lists each file's outcomes)",
                "skipped on 3 files: the breaker of mcp is open  [style]",
                "  g0.py",
                "  g1.py",
                "  g2.py",
            ]
        );
        let all = print(false);
        assert_eq!(all.matches("  error: executable not found: tool  [lint]").count(), 12, "{all}");
        assert!(!all.contains(" on 12 files"), "{all}");
    }

    /// A file's findings are listed by their place in the file, whichever
    /// validator reported them, after its outcomes without findings; the
    /// next file starts its own list.
    #[test]
    fn a_files_findings_are_in_the_order_of_their_place_in_it() {
        use verdict_actors::Finding;
        let record = |file: &str, validator: &str, outcome: Outcome| Record {
            file: file.into(),
            file_bytes: None,
            validator: validator.into(),
            dimension: "lint".into(),
            outcome,
        };
        let findings = |f: Vec<Finding>| Outcome::Findings { findings: f };
        let report = CheckReport {
            summary: Summary::default(),
            outcomes: vec![
                record("a.json", "final-newline", findings(vec![Finding::error(Some(9), Some(2), "no newline")])),
                record("a.json", "json", findings(vec![Finding::error(Some(1), Some(7), "trailing comma")])),
                record("a.json", "lint", Outcome::TimedOut { after_ms: 20 }),
                record(
                    "a.json",
                    "style",
                    Outcome::Cached {
                        verdict: Verdict::Findings {
                            findings: vec![
                                Finding::error(Some(9), Some(2), "same place"),
                                Finding::error(None, None, "whole file"),
                                Finding::error(Some(1), Some(3), "early"),
                                Finding::error(None, None, "and 5 more").with_rule(verdict_actors::NOTICE_MORE),
                            ],
                        },
                    },
                ),
                record("b.json", "json", findings(vec![Finding::error(Some(1), Some(1), "b's")])),
            ],
            validators: Vec::new(),
            streamed_outcomes: None,
        };
        let mut out = Vec::new();
        print_human(&report, false, true, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let listed: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
        assert_eq!(
            listed,
            [
                "a.json",
                "  timed out after 20 ms  [lint]",
                "         -  error  whole file  [style] (cached)",
                "       1:3  error  early  [style] (cached)",
                "       1:7  error  trailing comma  [json]",
                "       9:2  error  no newline  [final-newline]",
                "       9:2  error  same place  [style] (cached)",
                "         -  error  and 5 more  [style] (cached)",
                "b.json",
                "       1:1  error  b's  [json]",
            ]
        );
    }

    /// A tool's rule is shown beside the validator's name; a built-in's,
    /// which is its name, is not repeated.
    #[test]
    fn a_findings_rule_is_shown_unless_it_is_the_validators_name() {
        let record = |validator: &str, rule: &str| Record {
            file: "a.sh".into(),
            file_bytes: None,
            validator: validator.into(),
            dimension: "lint".into(),
            outcome: Outcome::Findings {
                findings: vec![verdict_actors::Finding::error(Some(3), Some(7), "quote this").with_rule(rule)],
            },
        };
        let mut out = Vec::new();
        print_record(&record("shellcheck", "SC2086"), false, &mut out).unwrap();
        print_record(&record("utf8", "utf8"), false, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "       3:7  error  quote this  [shellcheck SC2086]\n       3:7  error  quote this  [utf8]\n"
        );
    }

    #[test]
    fn log_lines_and_error_messages_escape_control_characters() {
        let line = r#"{"timestamp":"t","level":"INFO","fields":{"message":"supervision event","detail":"job on e\u001b[2Jx.stub timed out"}}"#;
        let mut out = Vec::new();
        print_log_line(line, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "t  INFO supervision event detail=job on e\\u{1b}[2Jx.stub timed out\n");
        let mut out = Vec::new();
        print_log_line(
            r#"{"timestamp":"t","level":"INFO","fields":{"message":"m","detail":"","event":"started"}}"#,
            false,
            &mut out,
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "t  INFO m event=started\n");
        let mut out = Vec::new();
        print_log_line("not json \u{1b}]0;x\u{7}\n", false, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "not json \\u{1b}]0;x\\u{7}\n");
        assert_eq!(visible_lines("invalid:\n\ta\u{202e}b"), "invalid:\n  \ta\\u{202e}b");
        // A line feed in a name cannot start a line of verdict's own.
        assert_eq!(visible_lines("x\nverdict: error: forged\n"), "x\n  verdict: error: forged\n");
    }

    /// What a full disk leaves in the log (part of a record on a line of
    /// its own, a blank line): with `--json`, still one JSON document per
    /// line; blank lines are nothing in either view.
    #[test]
    fn a_torn_log_line_is_a_json_string_with_json_and_a_blank_line_nothing() {
        let print = |line: &str, raw: bool| {
            let mut out = Vec::new();
            print_log_line(line, raw, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            print("{\"timestamp\":\"t\",\"fields\":{\"mess\n", true),
            "\"{\\\"timestamp\\\":\\\"t\\\",\\\"fields\\\":{\\\"mess\"\n"
        );
        let whole = "{\"timestamp\":\"t\",\"level\":\"INFO\",\"fields\":{\"message\":\"m\"}}\n";
        assert_eq!(print(whole, true), whole);
        for raw in [true, false] {
            assert_eq!(print("\n", raw), "");
            assert_eq!(print("  \r\n", raw), "");
        }
    }

    fn summary_line(summary: Summary) -> String {
        let report = CheckReport { summary, outcomes: Vec::new(), validators: Vec::new(), streamed_outcomes: None };
        let mut out = Vec::new();
        print_human(&report, false, true, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_followed_line_is_printed_once_it_is_complete() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        let mut writer = std::fs::File::create(&path).unwrap();
        // "é" is two bytes: the first read ends between them.
        writer.write_all(b"one\ntwo \xc3").unwrap();
        let mut reader = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let mut partial = Vec::new();
        let mut lines = Vec::new();
        read_complete_lines(&mut reader, &mut partial, |l| {
            lines.push(l.to_owned());
            Ok(())
        })
        .unwrap();
        assert_eq!(lines, ["one\n"]);
        writer.write_all(b"\xa9 three\nfour").unwrap();
        read_complete_lines(&mut reader, &mut partial, |l| {
            lines.push(l.to_owned());
            Ok(())
        })
        .unwrap();
        assert_eq!(lines, ["one\n", "two \u{e9} three\n"]);
        assert_eq!(partial, b"four");
    }

    #[test]
    fn a_recreated_cache_is_said_so() {
        let text = |v: Value| {
            let mut out = Vec::new();
            print_cache(&v, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(json!({ "deleted": 3, "validator": null })), "deleted 3 cached results\n");
        assert_eq!(
            text(json!({ "deleted": 3, "stat_index_deleted": 2 })),
            "deleted 3 cached results, and 2 stat-index entries of files gone\n"
        );
        let recreated = text(json!({ "deleted": 0, "validator": null, "recreated": true }));
        assert!(recreated.contains("deleted and created again"), "{recreated}");
    }

    #[test]
    fn the_summary_counts_in_words() {
        let one = summary_line(Summary { files: 1, pairs: 1, findings: 1, ..Summary::default() });
        assert!(one.starts_with("1 file, 1 check: "), "{one}");
        assert!(one.contains("; 1 finding in all;") && one.contains(", 0 errors,"), "{one}");
        let many = summary_line(Summary { files: 3, pairs: 26, findings: 2, ..Summary::default() });
        assert!(many.starts_with("3 files, 26 checks: ") && many.contains("; 2 findings in all;"), "{many}");
        // Every check counted once, a cached one as what it was.
        let outcomes = [("passed", 2), ("findings", 1), ("cached", 5)].map(|(k, v)| (k.to_string(), v)).into();
        let mixed = summary_line(Summary {
            files: 1,
            pairs: 8,
            findings: 3,
            outcomes,
            cached_with_findings: 2,
            ..Summary::default()
        });
        assert!(mixed.contains(": 5 passed, 3 with findings, 0 errors, "), "{mixed}");
        assert!(mixed.contains("; 3 findings in all; "), "{mixed}");
    }

    #[test]
    fn names_and_messages_cannot_drive_the_terminal() {
        let record = |file: &str, outcome: Outcome| Record {
            file: file.into(),
            file_bytes: None,
            validator: "v".into(),
            dimension: "lint".into(),
            outcome,
        };
        let report = CheckReport {
            summary: Summary::default(),
            outcomes: vec![
                record("evil\u{1b}[2J\nname.txt", Outcome::Error { reason: "tool said \u{1b}]0;title\u{7}".into() }),
                record("ok.txt", Outcome::Skipped { reason: "line\nbreak".into() }),
                // Shown as "txt.exe" without the escape: an override reverses
                // what follows it.
                record("trojan\u{202e}exe.txt", Outcome::Skipped { reason: "isolate \u{2066}x\u{2069}".into() }),
            ],
            validators: Vec::new(),
            streamed_outcomes: None,
        };
        let mut out = Vec::new();
        print_human(&report, false, true, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");
        assert!(text.starts_with("\"evil\\u{1b}[2J\\nname.txt\"\n"), "{text:?}");
        assert!(text.contains("tool said \\u{1b}]0;title\\u{7}") && text.contains("line\\nbreak"), "{text:?}");
        assert!(!text.contains(['\u{202e}', '\u{2066}', '\u{2069}']), "{text:?}");
        assert!(
            text.contains("\"trojan\\u{202e}exe.txt\"") && text.contains("isolate \\u{2066}x\\u{2069}"),
            "{text:?}"
        );
    }

    #[test]
    fn status_shows_failures_and_events_escaped() {
        let status = serde_json::json!({
            "cache": { "available": true, "path": "/c", "hits": 0, "misses": 0 },
            "validators": [{ "name": "v", "state": "running", "kind": "builtin", "restarts": 1, "jobs_done": 2,
                             "last_failure": "validator crashed: boom (checking a\u{1b}[2Jb.txt)" }],
            "events": [{ "validator": "v", "event": "failed", "detail": "checking trojan\u{202e}exe.txt" }],
        });
        let mut out = Vec::new();
        print_status(&status, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains(['\u{1b}', '\u{202e}']), "{text:?}");
        assert!(text.contains("(checking a\\u{1b}[2Jb.txt)") && text.contains("trojan\\u{202e}exe.txt"), "{text:?}");
        // With when, said as how long ago, and the detail set off.
        let at =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64 - 75_400;
        let status = serde_json::json!({
            "cache": { "available": true, "path": "/c", "hits": 0, "misses": 0 },
            "validators": [],
            "events": [{ "at_ms": at, "validator": "slow", "event": "timed_out", "detail": "job on f7.txt timed out after 1s" }],
        });
        let mut out = Vec::new();
        print_status(&status, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("recent supervision events, newest first:"), "{text}");
        assert!(text.contains("1m 15s ago  slow timed out: job on f7.txt timed out after 1s"), "{text}");
        // A detail that is only a remark is no detail after a colon.
        let status = serde_json::json!({
            "cache": { "available": true, "path": "/c", "hits": 0, "misses": 0 },
            "validators": [],
            "events": [{ "at_ms": at, "validator": "mixed", "event": "started", "detail": "(replaced child)" }],
        });
        let mut out = Vec::new();
        print_status(&status, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("ago  mixed started (replaced child)\n"), "{text}");
    }

    #[test]
    fn sarif_columns_are_code_points_as_in_the_json_report() {
        let report = CheckReport {
            summary: Summary::default(),
            outcomes: Vec::new(),
            validators: Vec::new(),
            streamed_outcomes: None,
        };
        assert_eq!(sarif(&report, None)["runs"][0]["columnKind"], "unicodeCodePoints");
    }

    #[test]
    fn a_sarif_region_never_has_a_column_without_a_line() {
        let finding = |line, column| verdict_actors::Finding::error(line, column, "x");
        let record = crate::protocol::Record {
            file: "a.txt".into(),
            file_bytes: None,
            validator: "t".into(),
            dimension: "lint".into(),
            outcome: Outcome::Findings {
                findings: vec![finding(None, Some(5)), finding(Some(2), Some(5)), finding(None, None)],
            },
        };
        let report = CheckReport {
            summary: Summary::default(),
            outcomes: vec![record],
            validators: Vec::new(),
            streamed_outcomes: None,
        };
        let log = sarif(&report, None);
        let regions: Vec<Value> = (log["runs"][0]["results"].as_array().unwrap().iter())
            .map(|r| r["locations"][0]["physicalLocation"]["region"].clone())
            .collect();
        // A finding without a line is placed at the first (code scanning
        // requires one).
        assert_eq!(
            regions,
            [json!({ "startLine": 1 }), json!({ "startLine": 2, "startColumn": 5 }), json!({ "startLine": 1 })]
        );
    }

    #[test]
    fn sarif_rule_ids_name_the_validator_once() {
        let finding = |rule: Option<&str>| verdict_actors::Finding {
            rule: rule.map(str::to_string),
            ..verdict_actors::Finding::error(Some(1), None, "x")
        };
        let record = |validator: &str, rule| crate::protocol::Record {
            file: "a.txt".into(),
            file_bytes: None,
            validator: validator.into(),
            dimension: "lint".into(),
            outcome: Outcome::Findings { findings: vec![finding(rule)] },
        };
        let outcomes = vec![
            record("trailing-whitespace", Some("trailing-whitespace")),
            record("shellcheck", Some("SC2086")),
            record("mytool", None),
        ];
        let log = sarif(
            &CheckReport { summary: Summary::default(), outcomes, validators: Vec::new(), streamed_outcomes: None },
            None,
        );
        let ids: Vec<&str> =
            (log["runs"][0]["results"].as_array().unwrap().iter()).map(|r| r["ruleId"].as_str().unwrap()).collect();
        assert_eq!(ids, ["trailing-whitespace", "shellcheck/SC2086", "mytool"]);
        let rules: Vec<&str> = (log["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().iter())
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(rules, ids);
        // Each with the descriptions code scanning shows with an alert.
        let described: Vec<&str> = (log["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().iter())
            .map(|r| r["fullDescription"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            described,
            [
                "verdict's trailing-whitespace validator (lint checks).",
                "Rule SC2086 of the tool that verdict's shellcheck validator runs.",
                "verdict's mytool validator (lint checks).",
            ]
        );
        let help = log["runs"][0]["tool"]["driver"]["rules"][1]["help"]["text"].as_str().unwrap();
        assert!(help.contains("[validators.shellcheck]"), "{help}");
    }

    /// A time-out under a second is said in milliseconds.
    #[test]
    fn a_short_timeout_is_said_in_milliseconds() {
        let line = |after_ms| {
            let record = crate::protocol::Record {
                file: "a".into(),
                file_bytes: None,
                validator: "t".into(),
                dimension: "lint".into(),
                outcome: Outcome::TimedOut { after_ms },
            };
            let mut out = Vec::new();
            print_record(&record, false, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(line(2), "  timed out after 2 ms  [t]\n");
        assert_eq!(line(1500), "  timed out after 1.5 s  [t]\n");
    }

    /// A report of one file's findings from validator `t`.
    fn findings_of(file: &str, findings: Vec<verdict_actors::Finding>) -> CheckReport {
        let record = crate::protocol::Record {
            file: file.into(),
            file_bytes: None,
            validator: "t".into(),
            dimension: "lint".into(),
            outcome: Outcome::Findings { findings },
        };
        CheckReport {
            summary: Summary::default(),
            outcomes: vec![record],
            validators: Vec::new(),
            streamed_outcomes: None,
        }
    }

    /// What GitHub code scanning refuses or misplaces is not written: more
    /// than 25,000 results in a run (the most severe are kept, and a
    /// notification says how many were left out), an empty message, a line
    /// past 32 bits; and files are placed from the top of the repository.
    #[test]
    fn sarif_holds_what_code_scanning_takes_placed_from_the_repository_top() {
        let finding = |severity, line| verdict_actors::Finding {
            severity,
            ..verdict_actors::Finding::error(Some(line), None, "x")
        };
        let mut findings: Vec<_> = (1..=SARIF_MAX_RESULTS as u32).map(|l| finding(Severity::Note, l)).collect();
        findings.insert(10, finding(Severity::Error, 7));
        findings.push(verdict_actors::Finding { message: " ".into(), ..finding(Severity::Warning, u32::MAX) });
        let report = findings_of("a b.txt", findings);
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(repo.path().join(".git")).unwrap();
        std::fs::create_dir_all(repo.path().join("sub")).unwrap();
        // An empty `.git` is no repository (git looks past it): relative to
        // the project root (an audit saw `sub/…`).
        let log = sarif(&report, Some(&repo.path().join("sub")));
        let location = &log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(location["uri"], "a%20b.txt");
        std::fs::write(repo.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        let log = sarif(&report, Some(&repo.path().join("sub")));
        let run = &log["runs"][0];
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), SARIF_MAX_RESULTS);
        // The error and the warning are kept, in report order; two notes go.
        assert_eq!(results[10]["level"], "error");
        let last = &results[SARIF_MAX_RESULTS - 1];
        assert_eq!((last["level"].as_str(), last["message"]["text"].as_str()), (Some("warning"), Some("(no message)")));
        assert_eq!(last["locations"][0]["physicalLocation"]["region"], json!({ "startLine": 1 }), "{last}");
        let said = run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"].as_str().unwrap();
        assert!(said.starts_with("2 more findings are not in this SARIF log"), "{said}");
        let location = &results[0]["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(location["uri"], "sub/a%20b.txt");
        let top = format!("file://{}/", repo.path().display());
        assert_eq!(run["originalUriBaseIds"]["%SRCROOT%"]["uri"].as_str(), Some(top.as_str()));
        // Outside a repository: relative to the project root, declared.
        let plain = tempfile::tempdir().unwrap();
        let log = sarif(&report, Some(plain.path()));
        let run = &log["runs"][0];
        let location = &run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(location["uri"], "a%20b.txt");
        let root = format!("file://{}/", plain.path().display());
        assert_eq!(run["originalUriBaseIds"]["%SRCROOT%"]["uri"].as_str(), Some(root.as_str()));
    }

    /// verdict's own notes on a list of findings are notifications, not
    /// alerts: a tool that failed after these findings makes the run's
    /// execution unsuccessful; more findings than are kept does not.
    #[test]
    fn sarif_writes_verdicts_own_notes_as_notifications() {
        let findings = vec![
            verdict_actors::Finding::error(Some(3), None, "real"),
            verdict_actors::Finding::error(None, None, "… and 5 more").with_rule(verdict_actors::NOTICE_MORE),
            verdict_actors::Finding::error(None, None, "the tool failed").with_rule(verdict_actors::NOTICE_TOOL_FAILED),
        ];
        let log = sarif(&findings_of("a.txt", findings), None);
        let run = &log["runs"][0];
        assert_eq!(run["results"].as_array().unwrap().len(), 1);
        let notes: Vec<(&str, &str)> = (run["invocations"][0]["toolExecutionNotifications"].as_array().unwrap().iter())
            .map(|n| (n["level"].as_str().unwrap(), n["message"]["text"].as_str().unwrap()))
            .collect();
        assert_eq!(notes, [("note", "t: … and 5 more"), ("error", "t: the tool failed")]);
        assert_eq!(run["invocations"][0]["executionSuccessful"], false);
        let rules: Vec<&str> =
            (run["tool"]["driver"]["rules"].as_array().unwrap().iter()).map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(rules, ["t"]);
        // Each notification's descriptor is one of the driver's.
        let described: Vec<&str> = (run["tool"]["driver"]["notifications"].as_array().unwrap().iter())
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(described, ["t"]);
        // Described in full and with help, as every rule is (SARIF
        // Multitool's GH2012 otherwise).
        let d = &run["tool"]["driver"]["notifications"][0];
        assert!(d["fullDescription"]["text"].as_str().unwrap().contains("verdict's t validator"), "{d}");
        assert!(d["help"]["text"].as_str().unwrap().contains("verdict status"), "{d}");
        // A message of a no-break space is kept, as in the JSON report.
        let nbsp = vec![verdict_actors::Finding::error(Some(1), None, "\u{a0}")];
        let log = sarif(&findings_of("a.txt", nbsp), None);
        assert_eq!(log["runs"][0]["results"][0]["message"]["text"], "\u{a0}");
    }

    /// A skip leaves the check incomplete (exit 3): the run's execution is
    /// not successful either, though a skip is a warning.
    #[test]
    fn sarif_execution_is_unsuccessful_when_a_pair_was_skipped() {
        let mut report = findings_of("a.txt", vec![verdict_actors::Finding::error(Some(1), None, "x")]);
        let log = sarif(&report, None);
        assert_eq!(log["runs"][0]["invocations"][0]["executionSuccessful"], true);
        report.outcomes[0].outcome = Outcome::Skipped { reason: "file is larger than check.max_file_size".into() };
        let log = sarif(&report, None);
        let invocation = &log["runs"][0]["invocations"][0];
        assert_eq!(invocation["toolExecutionNotifications"][0]["level"], "warning");
        assert_eq!(invocation["executionSuccessful"], false);
    }

    /// Each result has a fingerprint that stays across commits: not its
    /// line (an edit above moves it), but its rule, file, message and which
    /// of its like it is in the file.
    #[test]
    fn sarif_results_are_fingerprinted_by_rule_file_and_message_not_line() {
        let print = |line| verdict_actors::Finding::error(Some(line), None, "x");
        let fingerprints = |report: &CheckReport| -> Vec<String> {
            (sarif(report, None)["runs"][0]["results"].as_array().unwrap().iter())
                .map(|r| r["partialFingerprints"]["verdictFinding/v1"].as_str().unwrap().to_owned())
                .collect()
        };
        let before = fingerprints(&findings_of("a.txt", vec![print(3), print(9)]));
        let after = fingerprints(&findings_of("a.txt", vec![print(5), print(11)]));
        assert_eq!(before, after, "moved by an edit above them");
        assert_ne!(before[0], before[1], "two alike in one file are two alerts");
        assert!(before[0].ends_with(":1") && before[1].ends_with(":2"), "{before:?}");
        let elsewhere = fingerprints(&findings_of("b.txt", vec![print(3)]));
        assert_ne!(elsewhere[0], before[0]);
        let other = fingerprints(&findings_of("a.txt", vec![verdict_actors::Finding::error(Some(3), None, "y")]));
        assert_ne!(other[0], before[0]);
    }

    /// Code scanning takes at most 1,024 characters in a rule's short and
    /// full descriptions; a tool's rule id can be longer.
    #[test]
    fn sarif_rule_descriptions_are_cut_at_1024_characters() {
        let long = "r".repeat(1500);
        let finding = verdict_actors::Finding::error(Some(1), None, "x").with_rule(&long);
        let log = sarif(&findings_of("a.txt", vec![finding]), None);
        let rule = &log["runs"][0]["tool"]["driver"]["rules"][0];
        assert_eq!(rule["id"].as_str().unwrap().len(), 1502, "the id itself is kept whole");
        for text in ["shortDescription", "fullDescription"] {
            assert_eq!(rule[text]["text"].as_str().unwrap().chars().count(), 1024, "{text}");
        }
    }

    /// verdict's notes that a tool failed or that its output was cut are no
    /// findings of the file: with `--fail-on error` and only warnings
    /// beside them, the check is incomplete (3), not failed (1).
    #[test]
    fn a_tools_failure_note_makes_a_check_incomplete_not_failed() {
        let warning = verdict_actors::Finding {
            severity: Severity::Warning,
            ..verdict_actors::Finding::error(Some(1), None, "w")
        };
        for notice in [verdict_actors::NOTICE_TOOL_FAILED, verdict_actors::NOTICE_OUTPUT_CUT] {
            let note = verdict_actors::Finding::error(None, None, "the tool failed").with_rule(notice);
            let report = findings_of("a.txt", vec![warning.clone(), note.clone()]);
            assert_eq!(exit_code(&report, FailOn::Error), ExitCode::Incomplete, "{notice}");
            assert_eq!(exit_code(&report, FailOn::Warning), ExitCode::Findings, "{notice}");
            // With nothing else: incomplete whatever `--fail-on` says.
            assert_eq!(exit_code(&findings_of("a.txt", vec![note]), FailOn::Note), ExitCode::Incomplete, "{notice}");
        }
        // More errors than are listed still fail it.
        let more = verdict_actors::Finding::error(None, None, "… and 5 more").with_rule(verdict_actors::NOTICE_MORE);
        assert_eq!(exit_code(&findings_of("a.txt", vec![warning, more]), FailOn::Error), ExitCode::Findings);
    }

    #[test]
    fn sarif_uris_are_percent_encoded_relative_references() {
        assert_eq!(uri("src/lib.rs".as_bytes()), "src/lib.rs");
        assert_eq!(uri("a b#c?.txt".as_bytes()), "a%20b%23c%3F.txt");
        assert_eq!(uri("100%.txt".as_bytes()), "100%25.txt");
        assert_eq!(uri("notes:todo.md".as_bytes()), "notes%3Atodo.md");
        assert_eq!(uri("d\u{e9}j\u{e0}/x\ny.txt".as_bytes()), "d%C3%A9j%C3%A0/x%0Ay.txt");
        // A name that is not UTF-8: its own bytes, not U+FFFD's.
        assert_eq!(uri(b"a\xff/b\xfe.txt"), "a%FF/b%FE.txt");
    }

    #[test]
    fn file_names_are_shown_as_they_are_or_quoted_with_escapes() {
        assert_eq!(shown_name(b"src/lib.rs"), "src/lib.rs");
        assert_eq!(shown_name("d\u{e9}j\u{e0} vu.txt".as_bytes()), "d\u{e9}j\u{e0} vu.txt");
        // A backslash alone needs nothing: quoted names are the escaped ones.
        assert_eq!(shown_name(br"a\xFF.txt"), r"a\xFF.txt");
        assert_eq!(shown_name(b"a\xff.txt"), r#""a\xFF.txt""#);
        assert_eq!(shown_name(b"a\xff\\b\".txt"), r#""a\xFF\\b\".txt""#);
        assert_eq!(shown_name(b"x\x1b[2Jy"), r#""x\u{1b}[2Jy""#);
        assert_eq!(shown_name("a\u{202e}b".as_bytes()), r#""a\u{202e}b""#);
        // A name that starts with a quote is quoted, or it could pass for
        // another's quoted form.
        assert_eq!(shown_name(br#""a\xFF.txt""#), r#""\"a\\xFF.txt\"""#);
        // Characters that are not seen, or a blank at either end: two names
        // would look the same (an audit's `zwsp.txt` and `zw\u{200b}sp.txt`).
        assert_eq!(shown_name("zw\u{200b}sp.txt".as_bytes()), r#""zw\u{200b}sp.txt""#);
        assert_eq!(shown_name("\u{feff}a".as_bytes()), r#""\u{feff}a""#);
        assert_eq!(shown_name("soft\u{ad}hyphen".as_bytes()), r#""soft\u{ad}hyphen""#);
        assert_eq!(shown_name("line\u{2028}sep".as_bytes()), r#""line\u{2028}sep""#);
        assert_eq!(shown_name("tag\u{e0041}".as_bytes()), r#""tag\u{e0041}""#);
        assert_eq!(shown_name(b"d/tr .txt "), r#""d/tr .txt ""#);
        assert_eq!(shown_name(b" lead"), r#"" lead""#);
        // A letter composed of two characters is letters, shown as it is.
        assert_eq!(shown_name("cafe\u{301}.txt".as_bytes()), "cafe\u{301}.txt");
        assert_eq!(visible("a\u{200b}b"), r"a\u{200b}b");
    }
}
