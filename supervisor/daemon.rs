//! The daemon's life: single-instance lock, socket binding, signals, the
//! method table, and graceful shutdown.
//!
//! Start-up order matters for safety: the pid-file lock is taken before the
//! socket is touched (so a live daemon's socket is never removed), and the
//! socket is bound with a umask that makes it 0600 from the moment it exists.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::engine::{Engine, EngineOptions};
use crate::paths::{self, Layout};
use crate::protocol::{PROTOCOL_VERSION, RpcError, VERSION, code, method};
use crate::server::{self, RequestCtx};

/// Limits of the control server.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections served at once; more get `busy`.
    pub max_connections: usize,
    /// A connection with nothing in flight is closed after this much silence.
    pub idle_timeout: Duration,
    /// How long shutdown waits for requests in flight before cancelling them.
    pub grace: Duration,
    /// The daemon exits after this long without a client (zero: never).
    pub exit_after_idle: Duration,
}

/// The running daemon, shared by every connection.
pub struct Daemon {
    /// Where its files are.
    pub layout: Layout,
    /// Its process id.
    pub pid: u32,
    /// Its build id (see [`paths::build_id`]).
    pub build: String,
    /// When it started.
    pub started: Instant,
    /// Server limits.
    pub limits: Limits,
    /// Open connections (for `status`).
    pub connections: AtomicUsize,
    /// When a connection last opened or closed (for `exit_after_idle`).
    pub last_active: std::sync::Mutex<tokio::time::Instant>,
    /// Cancelled when shutdown begins: stop accepting, refuse new requests.
    pub shutdown: CancellationToken,
    /// Cancelled when the grace period is over: every request still in
    /// flight is cancelled with `shutting down`.
    pub abort: CancellationToken,
    /// Requests in flight.
    pub requests: TaskTracker,
    /// Open connections' tasks, whose writers hold the replies not yet
    /// sent: shutdown waits for them after the requests, or a finished
    /// check's report would be cut off mid-line.
    pub connection_tasks: TaskTracker,
    /// Notified as each check ends, and each connection that ran one (see
    /// [`return_memory_when_quiet`]).
    pub work_ended: tokio::sync::Notify,
    /// How many times the allocator was asked to give memory back (for
    /// `status`).
    pub memory_returns: std::sync::atomic::AtomicU64,
    /// Validators, checks, cache.
    pub engine: Engine,
    /// Whether it logs to its log file (started detached) rather than to
    /// stderr.
    pub logs_to_file: bool,
}

impl Daemon {
    /// Serves one method call.
    pub async fn handle(
        &self,
        name: &str,
        params: Value,
        ctx: &RequestCtx,
    ) -> Result<Box<serde_json::value::RawValue>, RpcError> {
        if name == method::CHECK {
            // Its report, which may be large, goes into the reply as is.
            return self.engine.check(params, ctx).await;
        }
        let value = match name {
            method::PING => Ok(json!({ "pong": true })),
            method::STATUS => Ok(self.status().await),
            method::SHUTDOWN => {
                info!("shutdown requested over the socket");
                self.shutdown.cancel();
                // How long it may take: a client waits that long, and more.
                Ok(json!({ "stopping": true, "pid": self.pid, "grace_ms": self.limits.grace.as_millis() as u64 }))
            }
            method::RELOAD => self.engine.reload().await,
            method::RESTART => self.engine.restart(params).await,
            method::CONFIG_CHECK => self.engine.config_check(params).await,
            method::CACHE_STATS => self.engine.cache_stats().await,
            method::CACHE_CLEAR => self.engine.cache_clear(params).await,
            method::CACHE_PRUNE => self.engine.cache_prune().await,
            method::EXPLAIN => self.engine.explain(params).await,
            other => Err(RpcError::new(code::METHOD_NOT_FOUND, format!("method not found: {other}"))
                .with_data(json!({ "method": other }))),
        }?;
        Ok(serde_json::value::to_raw_value(&value).expect("a Value always serializes"))
    }

    async fn status(&self) -> Value {
        let engine = self.engine.status().await;
        json!({
            "pid": self.pid,
            "version": VERSION,
            "build": self.build,
            "protocol": PROTOCOL_VERSION,
            "uptime_ms": self.started.elapsed().as_millis() as u64,
            "project_root": self.layout.root.to_string_lossy(),
            "config_path": engine.config_path,
            "socket": self.layout.socket.to_string_lossy(),
            // A foreground daemon logs to stderr, not to the file.
            "log_file": self.logs_to_file.then(|| self.layout.log_file().to_string_lossy().into_owned()),
            "connections": self.connections.load(std::sync::atomic::Ordering::Relaxed),
            // Besides this one.
            "requests_in_flight": self.requests.len().saturating_sub(1),
            "validators": engine.validators,
            "retiring": engine.retiring,
            "breakers": engine.breakers,
            "cache": engine.cache,
            "watch": engine.watch,
            "memory": {
                "resident_bytes": resident_bytes(),
                "returns": self.memory_returns.load(std::sync::atomic::Ordering::Relaxed),
            },
            "events": engine.events,
        })
    }
}

/// `verdict-daemon`: the daemon's own executable. Users start it through
/// `verdict daemon [--foreground]` or let any client command start it; the
/// flags are the ones the client passes.
#[derive(Debug, clap::Parser)]
#[command(name = "verdict-daemon", version, about = "The verdict daemon (started by the verdict CLI)")]
struct DaemonCli {
    /// The socket to serve (default: $VERDICT_SOCKET if set and not empty, else derived from the project root).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Where to keep the result cache.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Started in the background by a client: leave the terminal's session
    /// and log to the log file.
    #[arg(long)]
    detached: bool,
    /// Report "already running" as JSON.
    #[arg(long)]
    json: bool,
}

/// Entry point of `verdict-daemon`: serves the project of the current
/// directory until told to stop. Exit codes as the CLI's: 0, or 2 when the
/// daemon could not start.
pub fn main() -> std::process::ExitCode {
    crate::allocator::limit_arenas();
    close_inherited_descriptors();
    let mut cli = <DaemonCli as clap::Parser>::parse();
    // As the client reads it: empty means unset.
    if cli.socket.is_none() {
        cli.socket = std::env::var_os("VERDICT_SOCKET").filter(|s| !s.is_empty()).map(PathBuf::from);
    }
    let result = (|| {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let layout = Layout::discover(&cwd, cli.socket.as_deref())?;
        if cli.detached {
            // Leave the launching terminal's session so its hangup and
            // job-control signals never reach us.
            let _ = nix::unistd::setsid();
        }
        // A relative data directory is the caller's: resolved here, before
        // anything compares it with the walk's absolute paths.
        let data_dir = cli.data_dir.map(|d| cwd.join(d));
        // Everything the daemon names from here on is absolute, but for one
        // thing it does not choose: the `ignore` crate opens a `.git` file's
        // relative `gitdir:` (`../.git/modules/sub`, a submodule's) from the
        // process's directory, not the `.git` file's. From the project
        // root, for a project in `/tmp`, that led to `/tmp/.git/...`, where
        // anyone may put a `commondir` and excludes of their own. From `/`,
        // `..` is `/`: what such a path names there only root can put. (And
        // a daemon keeps no directory busy, as daemons should not.)
        std::env::set_current_dir("/").context("cannot change to the root directory")?;
        match run(DaemonOptions { layout: layout.clone(), detached: cli.detached, data_dir })? {
            RunOutcome::Stopped => {}
            // Said, if anyone reads it: that it runs is no failure.
            RunOutcome::AlreadyRunning { pid } => {
                let _ = crate::report::print_running(&layout, pid, cli.json);
            }
        }
        anyhow::Ok(())
    })();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Not `eprintln!`, which panics (exit 101) when stderr cannot
            // be written: a full disk under `daemon.stderr`, `2>/dev/full`.
            // The exit status still says what happened.
            let _ = writeln!(std::io::stderr(), "verdict: error: {}", crate::report::visible_lines(&format!("{e:#}")));
            std::process::ExitCode::from(crate::cli::ExitCode::Failure as u8)
        }
    }
}

/// Closes every descriptor the daemon inherited but standard input, output
/// and error. A shell passes on whatever it holds open without
/// close-on-exec (`verdict check . 7>&1 | cat`): kept by a daemon that
/// lives for hours, the write end of a pipe would keep its reader waiting
/// for an end that never comes, and every tool would inherit it too.
fn close_inherited_descriptors() {
    // Called first thing in `main`, on its only thread: no descriptor above
    // 2 belongs to anything of this process yet. The listing's own is
    // closed by the time the others are (closing its number again fails
    // harmlessly).
    let fds: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).filter(|&fd| fd > 2).collect(),
        // Without `/proc`: every number the descriptor limit allows (one
        // failed call per number not open), up to a bound.
        Err(_) => {
            let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                .map_or(1024, |(soft, _)| soft.min(1 << 16));
            (3..limit as i32).collect()
        }
    };
    for fd in fds {
        let _ = nix::unistd::close(fd);
    }
}

/// How to run the daemon.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    /// Where its files go.
    pub layout: Layout,
    /// Started by a client in the background (logs go to a file, not stderr).
    pub detached: bool,
    /// `--data-dir`: overrides the cache location.
    pub data_dir: Option<PathBuf>,
}

/// What `run` ended with.
#[derive(Debug)]
pub enum RunOutcome {
    /// Served until shutdown.
    Stopped,
    /// Another daemon holds the lock.
    AlreadyRunning {
        /// Its pid, if the pid file could be read.
        pid: Option<u32>,
    },
}

/// A daemon that died without stopping its tools (`SIGKILL`, a crash, the
/// OOM killer) leaves them running. Every daemon writes the part of its
/// tools' marks that is its own (see `verdict_actors::process`) to a file
/// beside its pid file, and removes it when it exits cleanly; a successor
/// holding the same pid file's lock (so the other is gone) that finds the
/// file kills what carries those marks. A daemon of another pid file (one
/// given another `--socket`) has a file of its own and never reads this one.
/// Returns the file.
fn sweep_left_tools(layout: &Layout) -> PathBuf {
    let file = layout.pid_file.with_extension("tools");
    if let Ok(prefix) = fs::read_to_string(&file) {
        let killed = verdict_actors::process::kill_left_by(prefix.trim());
        if killed > 0 {
            warn!(processes = killed, "killed the tools a previous daemon left running when it died");
        }
    }
    // Private, as the pid file and the socket beside it are.
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&file)
        .and_then(|mut f| {
            // One an older daemon left may have been made 0644.
            f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            std::io::Write::write_all(&mut f, verdict_actors::process::mark_prefix().as_bytes())
        });
    match written {
        Ok(()) => keep_from_clean_up(&file),
        Err(e) => {
            warn!(error = %e, file = %file.display(), "cannot record this daemon's tool marks; a successor could not stop its tools if it died")
        }
    }
    file
}

/// This daemon's tool-marks file (see [`sweep_left_tools`]), removed when
/// the daemon exits or fails to start (not when it panics): its tools are stopped, so there is
/// nothing for a successor to look for. Left alone if it is a successor's
/// already (this daemon's pid file was removed and another daemon took the
/// project).
struct OwnMarks(PathBuf);

impl Drop for OwnMarks {
    fn drop(&mut self) {
        // Not on a panic: its tools may not have been stopped.
        if !std::thread::panicking()
            && fs::read_to_string(&self.0).is_ok_and(|m| m.trim() == verdict_actors::process::mark_prefix())
        {
            let _ = fs::remove_file(&self.0);
        }
    }
}

/// Holds the pid file's exclusive lock for the daemon's life. Dropped, it
/// removes the file while still holding the lock, however start-up or the
/// daemon's life ended (an invalid configuration, a path that is not a
/// socket), so no stale pid file is left; but only while the path is still
/// this file (removed by hand, it may since be another daemon's).
struct PidLock {
    /// Open for the lock it holds, never read.
    _file: File,
    path: PathBuf,
    id: FileId,
}

impl Drop for PidLock {
    fn drop(&mut self) {
        if FileId::of(&self.path) == Some(self.id) {
            let _ = fs::remove_file(&self.path);
        }
        // `_file` closes after this, releasing the lock.
    }
}

impl PidLock {
    /// Takes the lock, or reports the pid of the holder.
    fn acquire(path: &Path) -> anyhow::Result<Result<PidLock, Option<u32>>> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)
            .with_context(|| format!("cannot open the pid file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Ok(Err(read_pid(&mut file))),
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock the pid file {}", path.display()));
            }
        }
        let written =
            file.set_len(0).and_then(|()| writeln!(file, "{}", std::process::id())).and_then(|()| file.sync_all());
        if let Err(e) = written {
            // Ours to remove (its lock is held), while the path is still
            // this file: not left empty behind.
            let ours = file.metadata().ok().map(|m| FileId::from(&m));
            if ours.is_some() && FileId::of(path) == ours {
                let _ = fs::remove_file(path);
            }
            return Err(e).with_context(|| format!("cannot write the pid file {}", path.display()));
        }
        keep_from_clean_up(path);
        let id = FileId::from(&file.metadata()?);
        Ok(Ok(PidLock { _file: file, path: path.to_path_buf(), id }))
    }

    /// Whether the path is still this file.
    fn in_place(&self) -> bool {
        FileId::of(&self.path) == Some(self.id)
    }
}

/// Which file a path names (device and inode), to tell this daemon's
/// socket and pid file from ones made at the same paths since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileId(u64, u64);

impl FileId {
    fn from(meta: &fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId(meta.dev(), meta.ino())
    }

    /// What `path` names now (not following a link), if anything.
    fn of(path: &Path) -> Option<FileId> {
        fs::symlink_metadata(path).ok().map(|m| FileId::from(&m))
    }
}

/// Sets the sticky bit on one of the daemon's files in the runtime
/// directory: the XDG base directory specification lets the system clean
/// up `$XDG_RUNTIME_DIR` periodically, sparing files with that bit.
fn keep_from_clean_up(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // Never through a link: the mode read is the link's own, and setting
    // it would set it on whatever the link leads to.
    if let Some(meta) = fs::symlink_metadata(path).ok().filter(|m| !m.file_type().is_symlink()) {
        let mode = meta.permissions().mode() & 0o7777;
        if let Err(e) = fs::set_permissions(path, fs::Permissions::from_mode(mode | 0o1000)) {
            warn!(error = %e, file = %path.display(), "cannot set the sticky bit; a periodic clean-up of the runtime directory could remove the file");
        }
    }
}

/// The daemon's socket and pid file, looked at every [`OWN_FILES_CHECK`]
/// while it runs: a socket removed or replaced (by hand, by a clean-up)
/// leaves the daemon unreachable, so it shuts down, as gpg-agent does, and
/// the next command starts a fresh one; a pid file removed is written
/// again. One that another process has locked meanwhile (a daemon
/// starting, which will find this one's socket alive and give up) is tried
/// again at the next look: shutting down then would let that daemon find
/// the socket dead and kill this one's tools. Either way the files at those
/// paths are left alone if they are no longer this daemon's.
struct OwnFiles {
    pid: std::sync::Mutex<PidLock>,
    socket: PathBuf,
    socket_id: FileId,
    /// Why the pid file could not be written again, once said.
    pid_error: std::sync::Mutex<Option<String>>,
}

/// How often the daemon looks at its socket and pid file.
const OWN_FILES_CHECK: Duration = Duration::from_secs(2);

impl OwnFiles {
    /// Why the daemon should shut down, if it should; writes its pid file
    /// again if it is gone.
    fn look(&self) -> Option<String> {
        if FileId::of(&self.socket) != Some(self.socket_id) {
            return Some(format!(
                "the socket {} was removed or replaced: no client can reach this daemon",
                self.socket.display()
            ));
        }
        let mut pid = self.pid.lock().expect("pid lock");
        if pid.in_place() {
            return None;
        }
        match PidLock::acquire(&pid.path) {
            Ok(Ok(again)) => {
                warn!(file = %again.path.display(), "the pid file was removed or replaced; it is written again");
                // The old one's drop leaves the path alone: it is not its file.
                *pid = again;
                // A client tells this daemon's socket from a dead one's by
                // its being newer than the pid file (`verdict status`, to
                // say a daemon that refuses is shutting down, not
                // starting): it is touched after the pid file, while it is
                // still this daemon's.
                if FileId::of(&self.socket) == Some(self.socket_id) {
                    let now = nix::sys::time::TimeSpec::UTIME_NOW;
                    let _ = nix::sys::stat::utimensat(
                        nix::fcntl::AT_FDCWD,
                        &self.socket,
                        &now,
                        &now,
                        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                    );
                }
                *self.pid_error.lock().expect("pid error") = None;
                None
            }
            Ok(Err(holder)) => {
                debug!(?holder, file = %pid.path.display(), "the pid file is locked by another process; tried again at the next look");
                None
            }
            Err(e) => {
                // Said once per cause, not every 2 s while it lasts.
                let why = format!("{e:#}");
                let mut said = self.pid_error.lock().expect("pid error");
                if said.as_deref() != Some(why.as_str()) {
                    warn!(error = %why, "the pid file was removed and cannot be written again; retried every 2 s");
                    *said = Some(why);
                }
                None
            }
        }
    }

    /// Removes the socket if it is still this daemon's.
    fn remove_socket(&self) {
        if FileId::of(&self.socket) == Some(self.socket_id) {
            let _ = fs::remove_file(&self.socket);
        }
    }
}

/// Shuts the daemon down once [`OwnFiles::look`] says it should.
async fn guard_own_files(own: Arc<OwnFiles>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(OWN_FILES_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Some(why) = own.look() {
            warn!("{why}: shutting down");
            shutdown.cancel();
            return;
        }
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut s = String::new();
    file.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

/// Fails if what is at the socket's path is no socket, or at the pid or
/// tool-marks file's path is no file a daemon wrote (a pid; hexadecimal
/// marks): `--socket notes.txt` must not truncate, then delete, a
/// `notes.pid` or `notes.tools` of the user's beside it. (What a daemon
/// wrote is at most a line of digits or hexadecimal digits.)
fn not_the_users(layout: &Layout) -> anyhow::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = fs::symlink_metadata(&layout.socket)
        && !meta.file_type().is_socket()
    {
        bail!(
            "{} exists and is not a socket; verdict will not replace it: remove it or pass another --socket",
            layout.socket.display()
        );
    }
    let tools = layout.pid_file.with_extension("tools");
    for (path, what, ours) in [
        (&layout.pid_file, "pid file", u8::is_ascii_digit as fn(&u8) -> bool),
        (&tools, "tool-marks file", u8::is_ascii_hexdigit as fn(&u8) -> bool),
    ] {
        let Ok(meta) = fs::symlink_metadata(path) else { continue };
        let written_by_a_daemon =
            meta.is_file() && meta.len() <= 64 && fs::read(path).is_ok_and(|b| b.trim_ascii().iter().all(ours));
        if !written_by_a_daemon {
            bail!(
                "{} is where this daemon's {what} goes, and holds something else; verdict will not overwrite it: \
                 remove it or pass another --socket",
                path.display()
            );
        }
    }
    Ok(())
}

/// Binds the socket with umask 0177 so it is 0600 from the moment it exists.
/// Runs before the async runtime starts: umask is process-wide and no other
/// thread may create files meanwhile.
fn bind_private(path: &Path) -> io::Result<StdUnixListener> {
    use nix::sys::stat::{Mode, umask};
    let old = umask(Mode::from_bits_truncate(0o177));
    let r = StdUnixListener::bind(path);
    umask(old);
    r
}

/// Runs the daemon in this process until it is told to stop. Start-up errors
/// (an insecure runtime directory, an invalid configuration, a live socket
/// owned by someone else) are returned before anything is served.
/// Raises the soft limit on open files to the hard limit (at most
/// [`OPEN_FILES_WANTED`]): the daemon holds a descriptor per connection,
/// RocksDB's files, the read stage's files and every tool's pipes, and the
/// common soft limit of 1,024 is a few hundred connections away (a flood of
/// refused connections reached it in an audit, and a check then could not
/// open files).
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else { return };
    let wanted = hard.min(OPEN_FILES_WANTED);
    if wanted > soft {
        match setrlimit(Resource::RLIMIT_NOFILE, wanted, hard) {
            Ok(()) => tracing::debug!(from = soft, to = wanted, "raised the open-files limit"),
            Err(e) => tracing::warn!(error = %e, soft, "cannot raise the open-files limit"),
        }
    }
}

/// The open-files limit the daemon asks for, when the hard limit allows.
const OPEN_FILES_WANTED: u64 = 65_536;

/// The project's configuration as the daemon starts with it, and the stamp
/// of its file taken before it was read: a file written while it is read,
/// or made or edited before the engine is up, differs from the stamp, and
/// the next check applies it. Whether there is a file at all is decided
/// again after the stamp (`layout.config`, looked at by the discovery of
/// the layout, before the lock was taken): one made since is read now.
fn read_config_at_start(layout: &mut Layout) -> anyhow::Result<(StartStamps, Config)> {
    let path = layout.root.join(crate::paths::CONFIG_FILE);
    let stamp = crate::engine::file_stamp(&path);
    let pre_commit = crate::engine::tool_files_stamp(&layout.root);
    layout.config = Some(path).filter(|p| crate::config::config_present(p));
    let config = match &layout.config {
        Some(path) => Config::load_to_apply(path).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?,
        None => Config::default(),
    };
    Ok(((stamp, pre_commit), config.with_project_files(&layout.root)))
}

/// The stamps of verdict.toml and of the pre-commit and gitleaks files taken
/// before they were read.
type StartStamps = (Option<crate::engine::FileStamp>, crate::engine::ToolFilesStamp);

pub fn run(opts: DaemonOptions) -> anyhow::Result<RunOutcome> {
    let mut layout = opts.layout.clone();
    if layout.default_socket {
        paths::ensure_private_dir(layout.socket_dir())?;
    } else {
        paths::check_private_dir(layout.socket_dir())?;
    }
    // Only a detached daemon writes there (its log); one in the foreground
    // logs to stderr, and may run where the home is read-only (a service).
    if opts.detached {
        paths::refused(&layout.state_dir)?;
        // One that cannot be made only loses the log (see `logging`); one
        // that is not the user's is refused.
        match paths::ensure_state_dir(&layout.state_dir) {
            Ok(()) | Err(paths::PathError::Io { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("verdict-worker")
        .build()
        .context("cannot start the async runtime")?;
    // Taken before the pid file names this process (`kill -HUP $(cat
    // pidfile)` must not kill it by the signal's default action), and so
    // before the engine starts (opening the cache, running `version`
    // commands: up to 10 s). A SIGHUP then reloads once the daemon is
    // ready; SIGTERM or SIGINT stops the start.
    let signals = {
        let _runtime = runtime.enter();
        Signals::install()
    };

    // Files of the user's where the daemon's would go (beside a socket
    // given with `--socket`) are left alone: looked at before anything is
    // written, so that a refused start destroys nothing.
    not_the_users(&layout)?;
    let lock = match PidLock::acquire(&layout.pid_file)? {
        Ok(lock) => lock,
        Err(pid) => return Ok(RunOutcome::AlreadyRunning { pid }),
    };

    // The configuration is read before the socket exists: an invalid file
    // stops start-up with every problem listed.
    let ((config_stamp, tool_files_stamp), config) = read_config_at_start(&mut layout)?;

    let _log_guard = crate::logging::init(&layout, opts.detached, &config.daemon)?;
    raise_open_files_limit();

    // We hold the lock, so no daemon of ours serves this socket. Something
    // else might (a daemon with another pid file): never steal a live socket.
    if let Ok(meta) = fs::symlink_metadata(&layout.socket) {
        // Only a socket is ever replaced: a file of the user's named by
        // mistake (`--socket notes.txt`) is not deleted.
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            bail!(
                "{} exists and is not a socket; verdict will not replace it: remove it or pass another --socket",
                layout.socket.display()
            );
        }
        if std::os::unix::net::UnixStream::connect(&layout.socket).is_ok() {
            bail!(
                "{} is in use by another process: this project's daemon whose pid file was removed (it writes it again within 2 s; `verdict stop` stops it), or another program's (then remove the socket or pass --socket)",
                layout.socket.display()
            );
        }
        info!(socket = %layout.socket.display(), "replacing a stale socket");
        fs::remove_file(&layout.socket)
            .with_context(|| format!("cannot remove the stale socket {}", layout.socket.display()))?;
    }
    // Only now, with no live socket: a daemon whose pid file was removed
    // still runs its tools, and must not lose them to this one.
    let tool_marks = OwnMarks(sweep_left_tools(&layout));
    let listener =
        bind_private(&layout.socket).with_context(|| format!("cannot bind the socket {}", layout.socket.display()))?;
    listener.set_nonblocking(true)?;
    keep_from_clean_up(&layout.socket);
    let socket_id = FileId::of(&layout.socket).context("the socket vanished as it was bound")?;
    let own = Arc::new(OwnFiles {
        pid: std::sync::Mutex::new(lock),
        socket: layout.socket.clone(),
        socket_id,
        pid_error: Default::default(),
    });

    let started =
        EngineOptions { layout: layout.clone(), config, data_dir: opts.data_dir, config_stamp, tool_files_stamp };
    let result = runtime.block_on(serve(listener, started, opts.detached, own.clone(), signals));

    // Remove the socket before the pid file: a successor can only lock a new
    // pid file after ours is gone, and so only bind after our socket is gone.
    own.remove_socket();
    drop(tool_marks);
    drop(own);
    runtime.shutdown_timeout(Duration::from_secs(1));
    result.map(|()| RunOutcome::Stopped)
}

async fn serve(
    listener: StdUnixListener,
    started: EngineOptions,
    detached: bool,
    own: Arc<OwnFiles>,
    mut signals: Signals,
) -> anyhow::Result<()> {
    let listener = tokio::net::UnixListener::from_std(listener)?;
    let daemon_settings = &started.config.daemon;
    let limits = Limits {
        max_connections: daemon_settings.max_connections,
        idle_timeout: daemon_settings.idle_timeout,
        grace: daemon_settings.grace_period,
        exit_after_idle: daemon_settings.exit_after_idle,
    };
    let layout = started.layout.clone();
    let engine = tokio::select! {
        engine = Engine::start(started) => engine?,
        name = signals.stop() => {
            info!(signal = name, "stopped while starting");
            return Ok(());
        }
    };
    let daemon = Arc::new(Daemon {
        pid: std::process::id(),
        build: paths::build_id(),
        started: Instant::now(),
        limits,
        connections: AtomicUsize::new(0),
        last_active: std::sync::Mutex::new(tokio::time::Instant::now()),
        shutdown: CancellationToken::new(),
        abort: CancellationToken::new(),
        requests: TaskTracker::new(),
        connection_tasks: TaskTracker::new(),
        work_ended: tokio::sync::Notify::new(),
        memory_returns: std::sync::atomic::AtomicU64::new(0),
        engine,
        layout,
        logs_to_file: detached,
    });
    info!(pid = daemon.pid, socket = %daemon.layout.socket.display(), root = %daemon.layout.root.display(), version = VERSION, "daemon ready");

    let server = tokio::spawn(server::serve(listener, daemon.clone()));
    tokio::spawn(guard_own_files(own, daemon.shutdown.clone()));
    tokio::spawn(return_memory_when_quiet(daemon.clone()));
    if !daemon.limits.exit_after_idle.is_zero() {
        let d = daemon.clone();
        tokio::spawn(async move {
            let after = d.limits.exit_after_idle;
            let busy = || d.connections.load(std::sync::atomic::Ordering::Relaxed) > 0 || !d.requests.is_empty();
            let last_active = || *d.last_active.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            tokio::select! {
                _ = d.shutdown.cancelled() => {}
                _ = idle_for(after, busy, last_active) => {
                    info!(exit_after_idle = ?after, "no client for daemon.exit_after_idle: shutting down");
                    d.shutdown.cancel();
                }
            }
        });
    }
    signals.serve(&daemon).await;

    // Shutdown: stop accepting, give requests in flight the grace period,
    // then cancel the rest, stop the actor tree and flush storage.
    let _ = server.await;
    let grace_over = tokio::time::Instant::now() + daemon.limits.grace;
    daemon.requests.close();
    let in_flight = daemon.requests.len();
    if in_flight > 0 {
        info!(in_flight, grace = ?daemon.limits.grace, "waiting for requests in flight");
    }
    if tokio::time::timeout_at(grace_over, daemon.requests.wait()).await.is_ok() {
        info!("all requests finished within the grace period");
    } else {
        warn!(remaining = daemon.requests.len(), "grace period over: cancelling the remaining requests");
        daemon.abort.cancel();
        if tokio::time::timeout(Duration::from_secs(5), daemon.requests.wait()).await.is_err() {
            error!("requests did not end after cancellation; exiting anyway");
        }
    }
    // Every connection stops reading and sends what its requests left in
    // its queue (a check's whole report, the `shutting down` errors), for
    // the rest of the grace period, or at least a few seconds.
    daemon.abort.cancel();
    daemon.connection_tasks.close();
    let drained = grace_over.max(tokio::time::Instant::now() + REPLIES_DRAIN_AT_LEAST);
    if tokio::time::timeout_at(drained, daemon.connection_tasks.wait()).await.is_err() {
        warn!(
            connections = daemon.connections.load(std::sync::atomic::Ordering::Relaxed),
            "clients did not read their last replies in time; closing their connections"
        );
    }
    daemon.engine.stop().await;
    info!("daemon stopped");
    Ok(())
}

/// How long connections may take to send their last replies at shutdown
/// when the grace period has (nearly) run out.
const REPLIES_DRAIN_AT_LEAST: Duration = Duration::from_secs(2);

/// Returns once nothing has happened for `after`: no connection open and no
/// request running (`busy`), and none opened or closed (`last_active`)
/// within `after`. While a client holds a connection open, looks again
/// every minute at most.
async fn idle_for(after: Duration, busy: impl Fn() -> bool, last_active: impl Fn() -> tokio::time::Instant) {
    loop {
        let due = last_active() + after;
        if tokio::time::Instant::now() < due {
            tokio::time::sleep_until(due).await;
        } else if busy() {
            tokio::time::sleep(after.min(Duration::from_secs(60))).await;
        } else {
            return;
        }
    }
}

/// The daemon's resident memory (`VmRSS`), if `/proc` says.
fn resident_bytes() -> Option<u64> {
    let kib = procfs::process::Process::myself().ok()?.status().ok()?.vmrss?;
    Some(kib * 1024)
}

/// How long the daemon must have had no check end, and no request in
/// flight, before it gives the allocator's free memory back.
const QUIET: Duration = Duration::from_secs(2);

/// Gives the allocator's free memory back to the system once checks (or
/// connections that ran one) have ended and nothing has ended for
/// [`QUIET`], with no request in flight. glibc keeps what a large check or
/// report freed for later use: after twelve clients that never read the
/// reports they asked for (a 20,000-file tree), the daemon stayed at
/// 240 MiB, 143 MiB with this (30 MiB with `allocator::limit_arenas`
/// too). An idle daemon does not wake for it, nor does one that answers
/// only `status` or `ping`.
async fn return_memory_when_quiet(daemon: Arc<Daemon>) {
    let busy = || !daemon.requests.is_empty();
    let trim = || async {
        let _ = tokio::task::spawn_blocking(crate::allocator::return_free_memory).await;
        daemon.memory_returns.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    after_each_quiet(&daemon.work_ended, busy, &daemon.shutdown, trim).await;
}

/// Runs `act` each time, after `ended` was notified, it has not been for
/// [`QUIET`] and nothing is `busy`; until `stop`.
async fn after_each_quiet<F: Future<Output = ()>>(
    ended: &tokio::sync::Notify,
    busy: impl Fn() -> bool,
    stop: &CancellationToken,
    act: impl Fn() -> F,
) {
    loop {
        tokio::select! {
            () = ended.notified() => {}
            () = stop.cancelled() => return,
        }
        loop {
            let mut again = std::pin::pin!(ended.notified());
            again.as_mut().enable();
            tokio::select! {
                () = again => continue,
                () = tokio::time::sleep(QUIET) => {}
                () = stop.cancelled() => return,
            }
            if !busy() {
                break;
            }
        }
        act().await;
    }
}

/// The daemon's signal handlers, installed as it starts.
struct Signals(Option<[tokio::signal::unix::Signal; 3]>);

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup())) {
            (Ok(term), Ok(int), Ok(hup)) => Signals(Some([term, int, hup])),
            _ => {
                error!("cannot install signal handlers; only `verdict stop` will stop this daemon");
                Signals(None)
            }
        }
    }

    /// Waits for SIGTERM or SIGINT (forever without handlers); its name.
    async fn stop(&mut self) -> &'static str {
        match &mut self.0 {
            Some([term, int, _]) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            None => std::future::pending().await,
        }
    }

    /// Waits for SIGTERM, SIGINT or a `shutdown` request; SIGHUP reloads the
    /// configuration meanwhile. Reloads run beside this loop, one at a
    /// time, and SIGHUPs that arrive while one waits to run make no more
    /// (a storm of them is one reload, each re-running the `version`
    /// commands); one in progress is abandoned when the daemon stops, so a
    /// signal to stop is acted on at once.
    async fn serve(mut self, daemon: &Arc<Daemon>) {
        let Some([term, int, hup]) = &mut self.0 else {
            daemon.shutdown.cancelled().await;
            return;
        };
        let wanted = Arc::new(tokio::sync::Notify::new());
        let reloader = {
            let (d, wanted) = (daemon.clone(), wanted.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = d.shutdown.cancelled() => return,
                        _ = wanted.notified() => {}
                    }
                    tokio::select! {
                        result = d.engine.reload() => match result {
                            Ok(diff) => info!(%diff, "configuration reloaded"),
                            // An invalid or half-written file: logged by the engine.
                            Err(e) if e.code == code::INVALID_CONFIGURATION => {}
                            Err(e) => error!(error = %e.message, "reload failed; the old configuration stays in force"),
                        },
                        // Not worth the grace requests get: the daemon that
                        // would apply it is stopping.
                        _ = d.shutdown.cancelled() => {
                            info!("reload abandoned: shutting down");
                            return;
                        }
                    }
                }
            })
        };
        loop {
            tokio::select! {
                _ = daemon.shutdown.cancelled() => break,
                _ = term.recv() => { info!("SIGTERM: shutting down"); daemon.shutdown.cancel(); break; }
                _ = int.recv() => { info!("SIGINT: shutting down"); daemon.shutdown.cancel(); break; }
                _ = hup.recv() => {
                    info!("SIGHUP: reloading the configuration");
                    // At most one pending: `notify_one` keeps one permit.
                    wanted.notify_one();
                }
            }
        }
        // Gone before the engine stops.
        let _ = reloader.await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// A verdict.toml made after the layout was discovered without one is
    /// read at start (the layout's look came before the lock); its stamp
    /// is the one taken before the read, so an edit after it is seen.
    #[test]
    fn the_configuration_is_looked_for_again_at_start_and_stamped_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let state = root.join("state");
        let mut layout = crate::test_layout(root.clone(), &state);
        let ((stamp, pre_commit), config) = read_config_at_start(&mut layout).unwrap();
        assert_eq!((stamp, layout.config.clone(), pre_commit), (None, None, [None, None, None]));
        assert!(config.builtins);
        assert_eq!(config.pre_commit, None);
        let path = root.join(crate::paths::CONFIG_FILE);
        std::fs::write(&path, "builtins = false\n").unwrap();
        // Read with verdict.toml, and stamped with it.
        let pre_commit_path = root.join(".pre-commit-config.yaml");
        std::fs::write(&pre_commit_path, "exclude: ^vendor/\nrepos: []\n").unwrap();
        let ((stamp, pre_commit), config) = read_config_at_start(&mut layout).unwrap();
        assert_eq!(layout.config.as_deref(), Some(path.as_path()));
        assert!(!config.builtins, "the file made after discovery was not read");
        assert_eq!(stamp, crate::engine::file_stamp(&path));
        assert_eq!(pre_commit, [crate::engine::file_stamp(&pre_commit_path), None, None]);
        assert_eq!(config.pre_commit.as_ref().map(|p| p.global.exclude.is_some()), Some(true));
    }

    /// A pid file that cannot be written (its file system is full) stops
    /// start-up with its path in the error, and is not left behind empty.
    #[test]
    fn a_pid_file_on_a_full_disk_is_an_error_naming_it_and_is_removed() {
        crate::watch::tests::in_namespaces_of_its_own("daemon::tests::full_disk_in_a_namespace_of_its_own");
    }

    /// Run by [`a_pid_file_on_a_full_disk_is_an_error_naming_it_and_is_removed`]
    /// in a mount namespace, where it mounts a small tmpfs and fills it.
    #[test]
    #[ignore = "run by a_pid_file_on_a_full_disk_is_an_error_naming_it_and_is_removed in a mount namespace of its own"]
    fn full_disk_in_a_namespace_of_its_own() {
        use nix::mount::{MsFlags, mount};
        let t = tempfile::tempdir().unwrap();
        mount(Some("none"), t.path(), Some("tmpfs"), MsFlags::empty(), Some("size=16k")).expect("mount a tmpfs");
        // Filled: the write stops at the end of the file system.
        let filler = std::fs::write(t.path().join("filler"), vec![0u8; 1 << 20]);
        assert_eq!(filler.unwrap_err().raw_os_error(), Some(nix::errno::Errno::ENOSPC as i32));
        let path = t.path().join("x.pid");
        let err = match PidLock::acquire(&path) {
            Err(e) => format!("{e:#}"),
            Ok(_) => panic!("a pid file was written on a full disk"),
        };
        assert!(err.starts_with(&format!("cannot write the pid file {}: ", path.display())), "{err}");
        assert!(err.contains("No space left on device"), "{err}");
        assert!(!path.exists(), "left behind");
    }

    /// The daemon is idle once no client has been seen for the whole time:
    /// an open connection, or one that closed within it, keeps it up.
    #[tokio::test(start_paused = true)]
    async fn idle_means_no_client_for_the_whole_time() {
        let after = Duration::from_secs(3600);
        let start = tokio::time::Instant::now();
        let busy = Arc::new(AtomicBool::new(false));
        let last = Arc::new(Mutex::new(start));
        let (b, l) = (busy.clone(), last.clone());
        let idle = tokio::spawn(async move {
            idle_for(after, || b.load(Ordering::Relaxed), || *l.lock().unwrap()).await;
            tokio::time::Instant::now()
        });
        // A client at 30 minutes holds its connection for two hours.
        tokio::time::sleep(Duration::from_secs(1800)).await;
        busy.store(true, Ordering::Relaxed);
        *last.lock().unwrap() = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(7200)).await;
        assert!(!idle.is_finished(), "idle while a connection is open");
        busy.store(false, Ordering::Relaxed);
        *last.lock().unwrap() = tokio::time::Instant::now();
        let closed = tokio::time::Instant::now();
        let at = idle.await.unwrap();
        assert!(at >= closed + after, "idle {:?} after the connection closed", at - closed);
        assert!(at <= closed + after + Duration::from_secs(60), "noticed {:?} late", at - closed - after);
    }

    /// Memory is given back once work has ended and nothing has happened
    /// for `QUIET`: not while work goes on, not while a request runs, and
    /// not again while nothing happens.
    #[tokio::test(start_paused = true)]
    async fn memory_is_given_back_once_after_each_quiet_spell() {
        let ended = Arc::new(tokio::sync::Notify::new());
        let busy = Arc::new(AtomicBool::new(false));
        let stop = CancellationToken::new();
        let acts = Arc::new(Mutex::new(Vec::new()));
        let start = tokio::time::Instant::now();
        let task = tokio::spawn({
            let (ended, busy, stop, acts) = (ended.clone(), busy.clone(), stop.clone(), acts.clone());
            async move {
                let act = || async { acts.lock().unwrap().push(start.elapsed()) };
                after_each_quiet(&ended, || busy.load(Ordering::Relaxed), &stop, act).await;
            }
        });
        let at = |secs: u64| tokio::time::sleep_until(start + Duration::from_secs(secs));
        // Nothing ended: nothing done, however long.
        at(60).await;
        assert!(acts.lock().unwrap().is_empty());
        // Work ends every second for five seconds, then stops.
        for s in 61..=65 {
            at(s).await;
            ended.notify_one();
        }
        at(100).await;
        assert_eq!(*acts.lock().unwrap(), [QUIET + Duration::from_secs(65)]);
        // Work ends while a request still runs: not until it is over.
        ended.notify_one();
        busy.store(true, Ordering::Relaxed);
        at(130).await;
        assert_eq!(acts.lock().unwrap().len(), 1, "a request is in flight");
        busy.store(false, Ordering::Relaxed);
        at(140).await;
        assert_eq!(acts.lock().unwrap().len(), 2);
        // Stopped: the task ends.
        stop.cancel();
        task.await.unwrap();
    }
}
