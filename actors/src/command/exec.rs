//! Spawning a tool and capturing its output, bounded.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::process::{self, ProcessRegistry};

/// How long to keep reading a tool's output after it exited and its group was
/// killed. Only matters when a process that left the group (`setsid`) still
/// holds the pipes open: what the tool wrote is in the pipe by then, and
/// takes no time to read. Never past [`ANSWER_MARGIN`] before the job's
/// deadline: a tool that exited in time is no timed-out one.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(250);

/// How long before its deadline a job whose tool exited stops waiting on
/// the tool's output, to parse it and answer in time.
const ANSWER_MARGIN: Duration = Duration::from_millis(50);

/// The least wait for a tool's output after it exited, however near the
/// deadline: time for the readiness of what is in the pipes to arrive.
const DRAIN_AT_LEAST: Duration = Duration::from_millis(10);

/// Size of the read buffer for each output stream.
const CHUNK: usize = 64 * 1024;

/// One output stream of a tool, bounded.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// The first `max_output` bytes.
    pub bytes: Vec<u8>,
    /// Every byte the tool wrote (as far as it was read).
    pub total: u64,
    /// Whether bytes were discarded past the bound.
    pub truncated: bool,
    /// Whether reading stopped before end of file on a read error.
    pub incomplete: bool,
    /// Whether the pipe was still held open, after the tool exited, by a
    /// process that left its group: what the tool wrote was all read, but
    /// what that process writes later is not waited for.
    pub held_open: bool,
}

/// What one run of a tool produced.
#[derive(Debug)]
pub(crate) struct Execution {
    pub status: ExitStatus,
    pub stdout: Captured,
    pub stderr: Captured,
}

impl Execution {
    /// The exit code, or `Err("killed by signal SIGX")`.
    pub fn exit_code(&self) -> Result<i32, String> {
        if let Some(code) = self.status.code() {
            return Ok(code);
        }
        let reason = match self.status.signal() {
            Some(raw) => match Signal::try_from(raw) {
                Ok(sig) => format!("killed by signal {}", sig.as_str()),
                Err(_) => format!("killed by signal {raw}"),
            },
            None => format!("ended abnormally ({})", self.status),
        };
        Err(reason)
    }

    /// Whether either stream lost bytes.
    pub fn truncated(&self) -> bool {
        self.stdout.truncated || self.stderr.truncated || self.stdout.incomplete || self.stderr.incomplete
    }

    /// A note for error reasons about lost output, or "".
    pub fn truncation_note(&self) -> String {
        let mut notes = Vec::new();
        for (name, c) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if c.truncated {
                notes.push(format!("{name} truncated to {} of {} bytes", c.bytes.len(), c.total));
            } else if c.incomplete {
                notes.push(format!("{name} incomplete"));
            }
        }
        if notes.is_empty() { String::new() } else { format!(" ({})", notes.join(", ")) }
    }
}

/// The character type (`LC_CTYPE`) a tool runs in unless its `env`
/// passes the daemon's through (lists a variable that decides it and the
/// daemon has): UTF-8, so that a tool printing a name that
/// is not ASCII does not fail on it (GHC's runtime, shellcheck's, exits 1
/// in the bare C locale, which reads as findings). Messages stay in the C
/// locale's words, which parsers' patterns match (`error`, not `Fehler`),
/// unless `env` passes a locale for them. Built into glibc since 2.35 and
/// into musl; where it is missing, programs fall back to C (some warn on
/// stderr).
pub(crate) const TOOL_CTYPE: &str = "C.UTF-8";

/// Whether an environment variable decides a program's character type:
/// `LC_ALL`, `LC_CTYPE` or `LANG`.
pub(crate) fn sets_the_ctype(name: &str) -> bool {
    matches!(name, "LC_ALL" | "LC_CTYPE" | "LANG")
}

/// Builds the command: no shell, cleared environment except `PATH` and the
/// listed names, `LC_CTYPE` set to [`TOOL_CTYPE`] unless a listed name
/// that decides it is passed (set in the daemon's environment), stdin from
/// /dev/null. [`process::spawn`] adds the rest (own
/// process group, the run's mark, killed on drop).
pub(crate) fn command(program: &Path, argv: &[String], extra_args: &[OsString], cwd: &Path, env: &[String]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(&argv[1..])
        .args(extra_args)
        .current_dir(cwd)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut ctype_passed = false;
    for name in std::iter::once("PATH").chain(env.iter().map(String::as_str)) {
        if name.is_empty() || name.contains('=') {
            continue;
        }
        if let Some(value) = std::env::var_os(name) {
            ctype_passed |= sets_the_ctype(name);
            cmd.env(name, value);
        }
    }
    if !ctype_passed {
        cmd.env("LC_CTYPE", TOOL_CTYPE);
    }
    cmd
}

/// A program named with a relative path containing `/` is resolved against
/// `cwd` (the project root), not against the daemon's working directory.
pub(crate) fn program_path(program: &str, cwd: &Path) -> PathBuf {
    let p = Path::new(program);
    if p.is_relative() && program.contains('/') {
        return cwd.join(p);
    }
    if !program.contains('/') {
        // Resolve a bare name ourselves: std falls back from posix_spawn to
        // fork+exec when it must search a PATH that the command overrides,
        // and forking the daemon (hundreds of MB, many threads) costs
        // milliseconds per tool run.
        if let Some(found) = std::env::var_os("PATH").and_then(|path| which::which_in(program, Some(path), cwd).ok()) {
            return found;
        }
    }
    p.to_path_buf()
}

/// Whether the bare name `program` names nothing in any directory of
/// `search` (a PATH; relative ones from `cwd`), so that no start could find
/// it. A name with a `/`, or no PATH (the system's default search), is not
/// judged here; nor is a file there that is not executable, which the
/// start reports as such.
pub(crate) fn absent_from(program: &str, search: Option<&std::ffi::OsStr>, cwd: &Path) -> bool {
    !program.contains('/')
        && search.is_some_and(|paths| {
            !std::env::split_paths(paths).any(|dir| cwd.join(dir).join(program).symlink_metadata().is_ok())
        })
}

/// Why a script that exists could not be started: its `#!` line names a
/// program that does not (`None` when `path` has no `#!` line).
fn interpreter(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = &line[..memchr::memchr(b'\n', line).unwrap_or(line.len())];
    let line = String::from_utf8_lossy(line);
    let interp = line.trim_start_matches([' ', '\t']).split([' ', '\t']).next().filter(|s| !s.is_empty())?;
    // `#!/bin/sh\r`: the kernel looks for a program named `sh\r`.
    Some(match interp.strip_suffix('\r') {
        Some(name) => format!(
            "its #! line ends with a carriage return (Windows line endings), so its interpreter is taken to be {name:?} followed by one, which does not exist"
        ),
        None => format!("its interpreter {interp} (its #! line) was not found"),
    })
}

/// Why a tool could not be started, as an outcome reason.
pub(crate) fn spawn_error(program: &str, cwd: &Path, err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound if !cwd.is_dir() => {
            format!("working directory not found: {}", cwd.display())
        }
        io::ErrorKind::NotFound => {
            match Some(program_path(program, cwd)).filter(|p| p.is_absolute()).and_then(|p| interpreter(&p)) {
                // The script is there: what is missing is what its `#!` names.
                Some(why) => format!("cannot run {program}: {why}"),
                None => format!("executable not found: {program}"),
            }
        }
        io::ErrorKind::PermissionDenied if program_path(program, cwd).is_dir() => {
            format!("cannot run {program}: it is a directory")
        }
        io::ErrorKind::PermissionDenied => format!("permission denied: {program}"),
        _ if short_of_resources(err) => format!(
            "cannot run {program}: {err}, still after trying again for a while: more tools at once than the daemon's limits allow (lower the validator's concurrency, or raise the limit of open files or processes)"
        ),
        _ => format!("cannot run {program}: {err}"),
    }
}

/// How often a program found busy (being written) is tried again, after
/// 20 ms, 40 ms, … (620 ms in all).
const BUSY_RETRIES: u32 = 5;

/// How long a start that failed for want of a resource other runs are
/// holding (descriptors: `EMFILE`, `ENFILE`; processes: `EAGAIN`) is tried
/// again by default: after 20 ms, 40 ms, … up to 500 ms, each jittered by
/// ±50 % (so that the jobs that failed together do not all try again
/// together), while the waits add up to less than this. Past it the job is
/// an error. A validator's own patience is shorter with a short `timeout`
/// (see `CommandSpec::start_patience`): a job whose deadline passed while
/// it waited would be taken for a hung tool.
pub const START_PATIENCE: Duration = Duration::from_secs(2);

/// Whether starting a program failed for want of a resource that the
/// daemon's other tools hold and give back as they end.
fn short_of_resources(e: &io::Error) -> bool {
    use nix::errno::Errno;
    e.raw_os_error().is_some_and(|n| [Errno::EMFILE, Errno::ENFILE, Errno::EAGAIN].contains(&Errno::from_raw(n)))
}

/// Runs a tool to completion, capturing stdout and stderr concurrently, each
/// bounded to `max_output` bytes (the rest is read and discarded so the tool
/// never blocks on a full pipe). The tool's process group is registered in
/// `registry` while it runs and killed when it exits (leftover background
/// processes) or when this future is dropped. A start short of resources
/// is tried again for `patience` (see [`START_PATIENCE`]).
pub(crate) async fn execute(
    argv: &[String],
    extra_args: &[OsString],
    cwd: &Path,
    env: &[String],
    max_output: usize,
    registry: &ProcessRegistry,
    patience: Duration,
) -> Result<Execution, String> {
    let Some(program) = argv.first() else {
        return Err("empty command".to_owned());
    };
    let path = program_path(program, cwd);
    // Said without starting anything: a start that searches the PATH
    // itself forks the daemon, about a millisecond each, for every file of
    // a validator whose tool is not installed.
    if path.as_os_str() == program.as_str() && absent_from(program, std::env::var_os("PATH").as_deref(), cwd) {
        return Err(format!("executable not found: {program}"));
    }
    let mut cmd = command(&path, argv, extra_args, cwd, env);
    let (mut tries, mut short, mut waited) = (0, 0u32, Duration::ZERO);
    let (mut child, group) = loop {
        match process::spawn(&mut cmd, registry) {
            // The program is open for writing somewhere: an editor saving
            // it, or a fork of the process that just wrote it, which holds
            // its descriptor until its own exec. A moment later it is not.
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy && tries < BUSY_RETRIES => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(10 << tries)).await;
            }
            // Too many tools at once for the descriptor or process limit:
            // transient, as the others end (unless none runs, and the
            // shortage already outlasted a start's patience).
            Err(e)
                if short_of_resources(&e) && waited < patience && !crate::process::shortage_lasts(START_PATIENCE) =>
            {
                short += 1;
                let step =
                    Duration::from_millis((10u64 << short.min(6)).min(500)).mul_f64(rand::random_range(0.5..1.5));
                // The last wait ends at the patience, not past it.
                let step = step.min(patience - waited);
                tracing::debug!(program, error = %e, try_again_in = ?step, "cannot start the tool yet");
                tokio::time::sleep(step).await;
                waited += step;
            }
            Err(e) if short_of_resources(&e) => {
                if waited >= patience {
                    crate::process::note_shortage_outlasted();
                    return Err(spawn_error(program, cwd, &e));
                }
                // Not waited for: the shortage lasts (see `shortage_lasts`).
                return Err(format!(
                    "cannot run {program}: {e}, not tried again: another start waited as long as it could for the \
                     shortage to end, moments ago, and no tool of the daemon's runs to end it (raise the limit of open \
                     files or processes)"
                ));
            }
            spawned => break spawned.map_err(|e| spawn_error(program, cwd, &e))?,
        }
    };
    let pid = group.pgid().as_raw();
    tracing::debug!(program, pid, args = extra_args.len(), "started tool");

    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut out = Captured::default();
    let mut err = Captured::default();
    let status = {
        let readers = async {
            tokio::join!(read_bounded(stdout, max_output, &mut out), read_bounded(stderr, max_output, &mut err))
        };
        tokio::pin!(readers);
        let mut drained = false;
        let mut held_open = false;
        let waited = tokio::select! {
            status = child.wait() => status,
            _ = &mut readers => {
                drained = true;
                child.wait().await
            }
        };
        // The tool is done: whatever it left running in its group goes too
        // (and stops holding the pipes).
        group.kill();
        let drain = registry.deadline().map_or(DRAIN_AFTER_EXIT, |d| {
            let room = d.saturating_duration_since(tokio::time::Instant::now()).saturating_sub(ANSWER_MARGIN);
            room.clamp(DRAIN_AT_LEAST, DRAIN_AFTER_EXIT)
        });
        if !drained && tokio::time::timeout(drain, &mut readers).await.is_err() {
            tracing::warn!(
                program,
                "tool exited but a process it left outside its group holds its output open; keeping what was read"
            );
            held_open = true;
        }
        (waited, held_open)
    };
    let (status, held_open) = status;
    if held_open {
        // Cut short by the wait above, not by a read error.
        for c in [&mut out, &mut err].into_iter().filter(|c| c.incomplete) {
            c.incomplete = false;
            c.held_open = true;
        }
    }
    drop(group);
    let status = status.map_err(|e| format!("cannot wait for {program}: {e}"))?;
    tracing::debug!(program, %status, stdout = out.total, stderr = err.total, "tool finished");
    Ok(Execution { status, stdout: out, stderr: err })
}

/// Reads `r` to end of file into `into`, keeping the first `max` bytes.
/// `into.incomplete` stays set unless end of file is reached.
async fn read_bounded(mut r: impl AsyncRead + Unpin, max: usize, into: &mut Captured) {
    into.incomplete = true;
    let mut buf = vec![0u8; CHUNK];
    loop {
        match r.read(&mut buf).await {
            Ok(0) => {
                into.incomplete = false;
                return;
            }
            Ok(n) => {
                into.total += n as u64;
                let room = max.saturating_sub(into.bytes.len());
                let keep = room.min(n);
                into.bytes.extend_from_slice(&buf[..keep]);
                if keep < n {
                    into.truncated = true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot read tool output");
                return;
            }
        }
    }
}
