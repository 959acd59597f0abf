//! The client side of the command channel: connect (starting the daemon on
//! demand), greet, call methods, follow streamed notifications.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::paths::{self, Layout};
use crate::protocol::{
    Frame, HelloParams, HelloResult, MAX_REPLY_BYTES, Message, PROTOCOL_VERSION, Request, RpcError, VERSION, code,
    method, read_frame,
};

/// How long a client waits for a daemon it launched to accept connections.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many daemons one command launches at most while others keep
/// stopping them or going away as it starts them.
const MAX_LAUNCHES: u32 = 5;

/// [`CallError::Unresponsive`]'s words.
fn unresponsive_message(waited: &Duration, other: Option<&str>) -> String {
    match other {
        None => format!(
            "the daemon accepted the connection but did not answer within {waited:?}; it may be stopped or stuck (see \
             `verdict logs`)"
        ),
        Some(who) => format!(
            "the process serving the daemon's socket ({}) is not a verdict daemon: it accepted the connection but did \
             not answer within {waited:?}; stop it, or remove the socket",
            crate::report::visible(who)
        ),
    }
}

/// The pid and name of process `pid` when it is not a verdict daemon (its
/// name, as `/proc` gives it, has no `verdict` in it: a packager's wrapper,
/// `.verdict-daemon-wrapped`, still has); `None` when it may be, or cannot
/// be told.
fn not_a_daemon(pid: Option<i32>) -> Option<String> {
    let pid = pid?;
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let name = name.trim_end();
    // `comm` holds 15 bytes of the name: the executable's own name, where
    // it can be read, says the rest (`company-tools-verdict-daemon`).
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    let exe_name = exe.as_deref().and_then(std::path::Path::file_name).map(|n| n.to_string_lossy().into_owned());
    let verdict = name.contains("verdict") || exe_name.is_some_and(|n| n.contains("verdict"));
    (!verdict).then(|| format!("pid {pid}, {name}"))
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The daemon answered with an error.
    #[error("{}", .0.message)]
    Rpc(RpcError),
    /// The connection failed or closed. (Not the error's source: its text
    /// is in the message already.)
    #[error("connection to the daemon lost: {0}")]
    Io(std::io::Error),
    /// The daemon sent something that is not a reply.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The daemon accepted the connection but did not answer the handshake
    /// in time (stopped with SIGSTOP, or frozen); with the serving
    /// process's pid and name when it is not a verdict daemon (something
    /// else listening at the socket's path).
    #[error("{}", unresponsive_message(.0, .1.as_deref()))]
    Unresponsive(Duration, Option<String>),
    /// The socket, or a directory on the way to it, is not open to this
    /// user: another user's.
    #[error(
        "cannot connect to {socket}: {cause}: it, or a directory on the way to it, is not open to you (another \
         user's daemon, or runtime directory); pass another --socket, or use a runtime directory of your own",
        socket = .socket.display()
    )]
    Denied {
        /// The socket.
        socket: std::path::PathBuf,
        /// The error of `connect`.
        cause: std::io::Error,
    },
    /// The process serving the socket closed the connection, or said
    /// something unreadable, and is no verdict daemon (by its name): with
    /// its pid and name.
    #[error(
        "the process serving {socket} ({who}) is not a verdict daemon: something else listens at that path; stop \
         it or remove the socket, or pass another --socket",
        socket = .socket.display()
    )]
    NotADaemon {
        /// The socket.
        socket: std::path::PathBuf,
        /// Its pid and name.
        who: String,
    },
    /// The socket is served by a process of another user: nothing is sent
    /// to it, nothing it says is believed.
    #[error(
        "refusing the daemon at {socket}: the process serving it runs as uid {owner}, not as you (uid {me}), so another \
         user made this socket; remove it (or have root remove it), or use a runtime directory of your own \
         (XDG_RUNTIME_DIR, 0700) or --socket",
        socket = .socket.display()
    )]
    Foreign {
        /// The socket.
        socket: std::path::PathBuf,
        /// The uid of the process serving it.
        owner: u32,
        /// This process's effective uid.
        me: u32,
    },
}

impl CallError {
    /// Whether a daemon shutting down left the request undone: it refused
    /// it before starting it, or the connection closed (or was reset) before
    /// any answer. A daemon that shuts down answers the requests it started
    /// before it closes their connections, so the request may be made again
    /// of the next daemon. (A daemon killed mid-request also closes without
    /// answering: that request is made again too.)
    pub fn undone_by_shutdown(&self) -> bool {
        match self {
            CallError::Rpc(e) => e.is_refused_shutting_down(),
            CallError::Io(io) => matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            ),
            _ => false,
        }
    }
}

/// Whether daemon `pid`, which just closed a connection without answering,
/// is going away: it no longer serves the socket, or another daemon does.
/// One that still serves it closed the connection for a reason of its own
/// (a request too large, say), and that is the error to report.
pub async fn going_away(socket: &std::path::Path, pid: u32) -> bool {
    match tokio::time::timeout(Duration::from_secs(2), Client::connect(socket)).await {
        Ok(Ok(c)) => c.hello.pid != pid,
        Ok(Err(_)) => true,
        // It accepts but does not answer: it is not going away cleanly, and
        // waiting for its exit would be long; report the error.
        Err(_) => false,
    }
}

/// A connection to daemon `pid` once it serves its socket (it is starting:
/// it holds its lock a moment before it binds), within `limit`; `None` if
/// it exits or does not serve by then.
pub async fn connect_when_serving(socket: &std::path::Path, pid: u32, limit: Duration) -> Option<Client> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && process_alive(pid) {
        if let Ok(Ok(c)) = tokio::time::timeout(Duration::from_secs(2), Client::connect(socket)).await
            && c.hello.pid == pid
        {
            return Some(c);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// How many times a request undone by a daemon's shutdown is made again.
pub const RETRIES_AFTER_SHUTDOWN: u32 = 3;

/// Calls `method` on the project's daemon, started if need be. A request a
/// daemon shutting down left undone ([`CallError::undone_by_shutdown`]) is
/// made again of the next daemon, once that one has exited.
pub async fn call_daemon(
    opts: &ConnectOptions,
    method: &str,
    params: Value,
) -> anyhow::Result<(Client, Result<Value, CallError>)> {
    let mut retries = 0;
    loop {
        let mut c = connect_or_start(opts).await?;
        let reply = c.call(method, params.clone()).await;
        let undone = match &reply {
            // A closed connection: only if the daemon is going away (not
            // one that closed it for a reason of its own).
            Err(e @ CallError::Io(_)) if e.undone_by_shutdown() => going_away(&opts.layout.socket, c.hello.pid).await,
            Err(e) => e.undone_by_shutdown(),
            Ok(_) => false,
        };
        match &reply {
            Err(_) if undone && retries < RETRIES_AFTER_SHUTDOWN => {
                retries += 1;
                let (pid, grace) = (c.hello.pid, c.hello.grace());
                drop(c);
                tracing::debug!(pid, "the daemon shut down before answering; asking the next one");
                wait_for_exit(pid, exit_patience(&opts.layout, grace)).await?;
            }
            _ => return Ok((c, reply)),
        }
    }
}

/// How long a client keeps trying a daemon that says it is `busy`.
pub const BUSY_PATIENCE: Duration = Duration::from_secs(5);

/// How long a client waits for the daemon's answer to `hello`: as long as a
/// daemon may take to start (it listens before it has opened its cache and
/// run its validators' version commands).
const HELLO_TIMEOUT: Duration = START_TIMEOUT;

/// One connection to a daemon.
pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_id: i64,
    line: Vec<u8>,
    /// What the daemon said in `hello`.
    pub hello: HelloResult,
}

impl Client {
    /// Connects and greets. Returns `Err(CallError::Rpc)` with
    /// `PROTOCOL_VERSION_MISMATCH` when the daemon speaks another protocol.
    /// A daemon at its `max_connections` (`busy`, a transient fault: a
    /// slot frees as soon as a connection closes) is tried again, with
    /// jittered backoff, for up to [`BUSY_PATIENCE`].
    pub async fn connect(socket: &std::path::Path) -> Result<Client, CallError> {
        Self::connect_within(socket, HELLO_TIMEOUT).await
    }

    /// [`connect`](Self::connect), each attempt's wait for the answer to
    /// `hello` bounded by `hello_timeout` (then `Unresponsive`).
    pub async fn connect_within(socket: &std::path::Path, hello_timeout: Duration) -> Result<Client, CallError> {
        let started = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(10);
        loop {
            let result = Self::connect_once(socket, hello_timeout).await;
            // A daemon past its connection limit answers 64 connections
            // `busy` and closes the others without a word: a connection
            // taken and closed before the answer to `hello` is that (one
            // shutting down no longer takes connections, and one that died
            // meanwhile takes none at the next try).
            let closed = |e: &std::io::Error| {
                use std::io::ErrorKind::{BrokenPipe, ConnectionReset, UnexpectedEof};
                matches!(e.kind(), UnexpectedEof | BrokenPipe | ConnectionReset)
            };
            let refused = |e: &CallError| match e {
                CallError::Rpc(e) => e.code == code::BUSY,
                CallError::Io(e) => closed(e),
                _ => false,
            };
            match result {
                Err(e) if refused(&e) && started.elapsed() + delay < BUSY_PATIENCE => {
                    tokio::time::sleep(delay.mul_f64(rand::random_range(0.5..1.5))).await;
                    delay = (delay * 2).min(Duration::from_millis(200));
                }
                Err(CallError::Io(e)) if closed(&e) => {
                    return Err(CallError::Rpc(RpcError::new(
                        code::BUSY,
                        "busy: the daemon closes connections without an answer (more clients than its max_connections and the 64 it answers `busy`)",
                    )));
                }
                other => return other,
            }
        }
    }

    async fn connect_once(socket: &std::path::Path, hello_timeout: Duration) -> Result<Client, CallError> {
        let mut peer_pid = None;
        let greeted = Self::greet(socket, hello_timeout, &mut peer_pid).await;
        // A connection closed, or a message that is no reply, from a
        // process that is no verdict daemon: said as such, not taken for
        // a busy or broken daemon.
        match greeted {
            Err(CallError::Io(_) | CallError::Protocol(_)) if let Some(who) = not_a_daemon(peer_pid) => {
                Err(CallError::NotADaemon { socket: socket.to_path_buf(), who })
            }
            other => other,
        }
    }

    /// Connects and says `hello`; `peer_pid` is set to the serving
    /// process's pid once it is known.
    async fn greet(
        socket: &std::path::Path,
        hello_timeout: Duration,
        peer_pid_out: &mut Option<i32>,
    ) -> Result<Client, CallError> {
        let stream = UnixStream::connect(socket).await.map_err(|cause| match cause.kind() {
            std::io::ErrorKind::PermissionDenied => CallError::Denied { socket: socket.to_path_buf(), cause },
            _ => CallError::Io(cause),
        })?;
        // Only a daemon of this user is talked to: another user's process
        // at the socket's path (made first in a shared `/tmp`) could
        // otherwise answer every check "passed", learn the project's
        // paths, and name a pid for us to signal.
        let me = nix::unistd::geteuid().as_raw();
        let peer = stream.peer_cred().map_err(CallError::Io)?;
        if peer.uid() != me {
            return Err(CallError::Foreign { socket: socket.to_path_buf(), owner: peer.uid(), me });
        }
        let peer_pid = peer.pid();
        *peer_pid_out = peer_pid;
        let (rd, writer) = stream.into_split();
        let mut c = Client {
            reader: BufReader::with_capacity(64 * 1024, rd),
            writer,
            next_id: 1,
            line: Vec::new(),
            hello: HelloResult {
                protocol: 0,
                version: String::new(),
                build: String::new(),
                pid: 0,
                data_dir: None,
                grace_ms: None,
            },
        };
        let params =
            HelloParams { protocol: PROTOCOL_VERSION.into(), version: VERSION.into(), build: paths::build_id() };
        let id = match c.send(method::HELLO, serde_json::to_value(params).expect("plain struct")).await {
            Ok(id) => id,
            Err(e) => {
                // A daemon that refuses us (`busy`, `permission denied`)
                // writes why and closes, maybe before our hello arrives:
                // report its reason rather than the broken pipe.
                return match tokio::time::timeout(Duration::from_secs(1), c.next_message()).await {
                    Ok(Ok(Message { error: Some(err), .. })) => Err(CallError::Rpc(with_peer_pid(err, peer_pid))),
                    _ => Err(e),
                };
            }
        };
        let v = match tokio::time::timeout(hello_timeout, c.wait_reply(id, &mut |_, _| {})).await {
            Ok(Err(CallError::Rpc(err))) => return Err(CallError::Rpc(with_peer_pid(err, peer_pid))),
            Ok(reply) => reply?,
            Err(_) => return Err(CallError::Unresponsive(hello_timeout, not_a_daemon(peer_pid))),
        };
        c.hello = serde_json::from_value(v).map_err(|e| CallError::Protocol(format!("bad hello reply: {e}")))?;
        Ok(c)
    }

    /// Sends a request and returns its id, without waiting for the reply.
    pub async fn send(&mut self, method: &str, params: Value) -> Result<i64, CallError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut line = serde_json::to_vec(&Request::new(id, method, params)).expect("plain struct");
        line.push(b'\n');
        self.writer.write_all(&line).await?;
        Ok(id)
    }

    /// Reads the next message from the daemon.
    pub async fn next_message(&mut self) -> Result<Message, CallError> {
        // Replies can be large (a whole check report); allow far more than
        // the request limit.
        match read_frame(&mut self.reader, &mut self.line, MAX_REPLY_BYTES).await? {
            Frame::Line => {
                let msg = serde_json::from_slice(&self.line).map_err(|e| {
                    // The daemon writes whole lines: one that ends within a
                    // value is the last of a connection cut short (the
                    // daemon killed while it wrote).
                    if e.is_eof() {
                        CallError::Io(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the daemon closed the connection in the middle of a message",
                        ))
                    } else {
                        CallError::Protocol(format!("unreadable message from the daemon: {e}"))
                    }
                });
                self.line.clear();
                msg
            }
            Frame::Eof => Err(CallError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            ))),
            Frame::TooLong => Err(CallError::Protocol("a message from the daemon was too long".into())),
        }
    }

    /// Calls a method and waits for its reply, passing notifications to
    /// `on_note` as they arrive.
    pub async fn call_streaming(
        &mut self,
        method: &str,
        params: Value,
        mut on_note: impl FnMut(&str, &Value),
    ) -> Result<Value, CallError> {
        let id = self.send(method, params).await?;
        self.wait_reply(id, &mut on_note).await
    }

    /// Waits for the reply to request `id`.
    pub async fn wait_reply(&mut self, id: i64, on_note: &mut impl FnMut(&str, &Value)) -> Result<Value, CallError> {
        loop {
            let msg = self.next_message().await?;
            if let Some(m) = &msg.method {
                on_note(m, &msg.params_value());
                continue;
            }
            match &msg.id {
                Some(Value::Number(n)) if n.as_i64() == Some(id) => {}
                // An error for a request the daemon could not read (id null),
                // e.g. `busy` or `permission denied` on connect.
                // (`"id": null` reads as `None`.)
                None | Some(Value::Null) if msg.error.is_some() => {}
                _ => continue,
            }
            return match (msg.result, msg.error) {
                (_, Some(e)) => Err(CallError::Rpc(e)),
                (Some(v), None) => serde_json::from_str(v.get())
                    .map_err(|e| CallError::Protocol(format!("unreadable reply from the daemon: {e}"))),
                (None, None) => Err(CallError::Protocol("a reply with neither result nor error".into())),
            };
        }
    }

    /// Calls a method and waits for its reply.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, CallError> {
        self.call_streaming(method, params, |_, _| {}).await
    }
}

/// How a client reaches its daemon.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// The project's layout.
    pub layout: Layout,
    /// Never start a daemon.
    pub no_start: bool,
    /// `--data-dir` to pass to a daemon this client starts.
    pub data_dir: Option<PathBuf>,
}

/// An error the daemon answered a hello with, its `pid` (which a client
/// may signal: a daemon of another protocol version is stopped so) the one
/// the kernel gives for the socket's server, not the one it says.
fn with_peer_pid(mut err: RpcError, peer_pid: Option<i32>) -> RpcError {
    if let Some(data) = err.data.as_mut().and_then(Value::as_object_mut)
        && data.contains_key("pid")
    {
        data.insert("pid".into(), json!(peer_pid.filter(|&p| p > 1)));
    }
    err
}

/// Connects to the project's daemon, starting it if none runs (unless
/// `no_start`), and replacing it if it was built from another version.
pub async fn connect_or_start(opts: &ConnectOptions) -> anyhow::Result<Client> {
    let socket = &opts.layout.socket;
    match Client::connect(socket).await {
        Ok(c) if same_build(&c.hello) => {
            same_data_dir(opts, &c.hello)?;
            return Ok(c);
        }
        Ok(mut c) => {
            if opts.no_start {
                same_data_dir(opts, &c.hello)?;
                return Ok(c);
            }
            tracing::info!(daemon = %c.hello.version, "the daemon was built from another version; replacing it");
            let pid = c.hello.pid;
            let told = c.call(method::SHUTDOWN, json!({})).await.ok().and_then(|r| r["grace_ms"].as_u64());
            let grace = told.map(Duration::from_millis).or(c.hello.grace());
            wait_for_exit(pid, exit_patience(&opts.layout, grace)).await?;
        }
        Err(CallError::Rpc(e)) if e.code == code::PROTOCOL_VERSION_MISMATCH && !opts.no_start => {
            // Never 1 or a negative pid (`kill(-1)` signals every process
            // of the user): only one the kernel named as the server.
            let pid = e.data.as_ref().and_then(|d| d["pid"].as_u64()).filter(|&p| p > 1 && p <= i32::MAX as u64);
            let pid = pid.unwrap_or(0) as u32;
            let grace = e.data.as_ref().and_then(|d| d["grace_ms"].as_u64()).map(Duration::from_millis);
            tracing::info!("the daemon speaks another protocol version; replacing it");
            if pid != 0 {
                let _ =
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
                wait_for_exit(pid, exit_patience(&opts.layout, grace)).await?;
            }
        }
        Err(e @ CallError::Rpc(_)) => return Err(describe(e)),
        Err(CallError::Io(e)) if opts.no_start => {
            bail!(
                "no daemon is running for {} (socket {}: {e}); start one with `verdict daemon`",
                opts.layout.root.display(),
                socket.display()
            )
        }
        Err(CallError::Io(_)) => {}
        Err(e) => return Err(e.into()),
    }
    // The connection that saw it serve is this command's: there is no gap
    // for a `verdict stop` to slip into, nor a second connection slot to
    // find taken.
    let c = start_detached(opts).await?;
    // Another client may have started it first, with another cache.
    same_data_dir(opts, &c.hello)?;
    Ok(c)
}

/// Whether the project's daemon runs, for a command that must not start one.
pub enum Running {
    /// It serves: a connection to it (of this build or another).
    Serving(Client),
    /// Its process holds its lock but does not serve its socket: it is
    /// shutting down (it stops listening first and exits last).
    ShuttingDown(u32),
    /// None runs.
    No,
}

/// Whether the project's daemon runs; never starts one. A daemon that
/// holds its lock is shutting down when its socket refuses connections at
/// two looks [`REFUSALS_APART`] apart and is its own (no older than its pid
/// file, which the daemon keeps so: it stops listening first and removes
/// its socket as it exits); otherwise it is starting (no socket yet, or a
/// dead daemon's left over, which it replaces before it binds its own), and
/// is waited for until it answers, until `deadline` (a start may take
/// [`START_TIMEOUT`]).
pub async fn connect_running(opts: &ConnectOptions, deadline: Instant) -> anyhow::Result<Running> {
    let socket = &opts.layout.socket;
    let mut holder = None;
    // The socket (device, inode) that refused at the last look, its own.
    let mut refused: Option<(u64, u64)> = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let error = match tokio::time::timeout(left, Client::connect(socket)).await {
            Ok(Ok(c)) => {
                same_data_dir(opts, &c.hello)?;
                return Ok(Running::Serving(c));
            }
            Ok(Err(CallError::Io(e))) if nothing_listens(&e) => e,
            Ok(Err(e)) => return Err(describe(e)),
            Err(_) => match holder {
                Some(pid) => bail!("the daemon (pid {pid}) did not answer in time (starting, or stuck)"),
                None => bail!("no answer at {} in time", socket.display()),
            },
        };
        let Some(pid) = paths::signallable_daemon_pid(&opts.layout.pid_file) else {
            return Ok(Running::No);
        };
        holder = Some(pid);
        let own = if error.kind() == std::io::ErrorKind::ConnectionRefused {
            use std::os::unix::fs::MetadataExt;
            let (socket, pid_file) = (std::fs::symlink_metadata(socket), std::fs::metadata(&opts.layout.pid_file));
            match (socket, pid_file) {
                (Ok(s), Ok(p)) if (s.mtime(), s.mtime_nsec()) >= (p.mtime(), p.mtime_nsec()) => {
                    Some((s.dev(), s.ino()))
                }
                _ => None,
            }
        } else {
            None
        };
        // Twice, the same socket: not one in the moment between its bind
        // and its listen, nor a dead one's that a start is replacing.
        if own.is_some() && own == refused {
            return Ok(Running::ShuttingDown(pid));
        }
        refused = own;
        if Instant::now() >= deadline {
            let what = if own.is_some() { "refuses connections at" } else { "has not bound" };
            bail!("the daemon (pid {pid}) holds its lock but {what} {} (starting, or stuck)", socket.display());
        }
        tokio::time::sleep(if own.is_some() { REFUSALS_APART } else { Duration::from_millis(20) }).await;
    }
}

/// Whether a connection to a daemon's socket failed as it does where no
/// daemon listens: no socket, one nobody listens at (a daemon shutting
/// down, or a dead one's), or a path no daemon could bind either (too long
/// to connect to, or under a file, as a `TMPDIR` that names a file makes).
pub fn nothing_listens(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionRefused, InvalidInput, NotADirectory, NotFound};
    matches!(e.kind(), NotFound | ConnectionRefused | InvalidInput | NotADirectory)
}

/// How far apart the two refusals are that tell a daemon shutting down.
pub const REFUSALS_APART: Duration = Duration::from_millis(50);

/// Whether the daemon that said `hello` is this client's build.
pub fn same_build(hello: &HelloResult) -> bool {
    hello.build == paths::build_id() && hello.version == VERSION
}

/// Fails when `--data-dir` names another cache than the one the running
/// daemon uses: the command would otherwise read and write a cache its user
/// did not ask for. (A daemon too old to say which it uses is let be.)
pub fn same_data_dir(opts: &ConnectOptions, hello: &HelloResult) -> anyhow::Result<()> {
    let (Some(wanted), Some(used)) = (&opts.data_dir, &hello.data_dir) else { return Ok(()) };
    let same = match (std::fs::canonicalize(wanted), std::fs::canonicalize(used)) {
        (Ok(a), Ok(b)) => a == b,
        _ => wanted == used,
    };
    if same {
        return Ok(());
    }
    bail!(
        "cannot use --data-dir {}: the daemon already running for {} (pid {}) keeps its cache in {}; \
         stop it first (`verdict stop`), or leave --data-dir out",
        wanted.display(),
        opts.layout.root.display(),
        hello.pid,
        used.display()
    )
}

/// Waits until process `pid` has exited (or is a zombie).
pub async fn wait_for_exit(pid: u32, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while process_alive(pid) {
        if Instant::now() > deadline {
            bail!(
                "the daemon (pid {pid}) did not exit within {limit:?}: it may still be stopping its tools, or be \
                 stuck (`kill -KILL {pid}` ends it)"
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// How long a daemon of `layout`'s project is given to exit once asked to:
/// its grace period (`told` by it, or in the project's configuration,
/// whichever is longer; requests in flight may take all of it), and a
/// minute to cancel the rest, stop its tools and flush its cache.
pub fn exit_patience(layout: &Layout, told: Option<Duration>) -> Duration {
    let configured = layout
        .config
        .as_deref()
        .and_then(|path| crate::config::Config::load_to_apply(path).ok())
        .map_or_else(|| crate::config::Config::default().daemon.grace_period, |c| c.daemon.grace_period);
    configured.max(told.unwrap_or_default()).saturating_add(Duration::from_secs(60))
}

/// True while `pid` names a running (not zombie) process.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Launches `verdict-daemon --detached` in the background and
/// waits until it accepts connections. A daemon that fails to start has its
/// error (from its start-up stderr file) reported here. Returns the
/// connection that found it serving (its `hello` says its pid), for the
/// caller's request: a second connection could find the first one's slot
/// still taken (`daemon.max_connections = 1`).
pub async fn start_detached(opts: &ConnectOptions) -> anyhow::Result<Client> {
    let layout = &opts.layout;
    paths::refused(&layout.state_dir)?;
    // One that cannot be made (`XDG_STATE_HOME` read-only) does not keep the
    // daemon from starting, as a log that cannot be opened does not: its
    // log and start-up errors are then not kept. One that is not the
    // user's is refused.
    let state_dir_made = match paths::ensure_state_dir(&layout.state_dir) {
        Ok(()) => true,
        Err(paths::PathError::Io { path, cause }) => {
            crate::errln!(
                "verdict: note: cannot make {}: {cause}; the daemon's log and start-up errors are not kept (set \
                 XDG_STATE_HOME to a directory you can write)",
                crate::report::visible(&path.display().to_string())
            );
            false
        }
        Err(e) => return Err(e.into()),
    };
    let startup = layout.startup_file();
    // Not through a link (which would truncate what it leads to).
    let create = |path: &std::path::Path| {
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            std::fs::OpenOptions::new().write(true).create(true).truncate(true),
            nix::libc::O_NOFOLLOW,
        )
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
    };
    // One that cannot be made (a directory in its place) does not keep the
    // daemon from starting: its start-up errors are then not kept.
    let stderr_to = |path: &std::path::Path| match create(path) {
        Ok(file) => Stdio::from(file),
        Err(e) => {
            crate::errln!(
                "verdict: note: {}; the daemon's start-up errors are not kept",
                crate::report::visible(&format!("{e:#}"))
            );
            Stdio::null()
        }
    };
    // Without a state directory, the start-up errors go to a file of no
    // name, read through its handle if the start fails.
    let unnamed: std::cell::RefCell<Option<std::fs::File>> = std::cell::RefCell::new(None);
    let startup_stderr = || {
        if state_dir_made {
            return stderr_to(&startup);
        }
        let file = tempfile::tempfile().and_then(|f| Ok((f.try_clone()?, f)));
        match file {
            Ok((given, kept)) => {
                *unnamed.borrow_mut() = Some(kept);
                Stdio::from(given)
            }
            Err(_) => Stdio::null(),
        }
    };
    let stderr = startup_stderr();
    let exe = paths::daemon_exe().context("cannot find the verdict executable")?;
    let mut cmd = tokio::process::Command::new(&exe);
    cmd.args(crate::cli::daemon_args(layout, opts.data_dir.as_deref(), true, false));
    cmd.current_dir(&layout.root).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
    let launch = |cmd: &mut tokio::process::Command| {
        cmd.spawn().with_context(|| {
            format!(
                "cannot launch the daemon {} (install it beside verdict: `cargo install` installs both)",
                exe.display()
            )
        })
    };
    let mut child = launch(&mut cmd)?;
    // Launches the next one, its start-up errors in a fresh file.
    let relaunch = |cmd: &mut tokio::process::Command| {
        cmd.stderr(startup_stderr());
        launch(cmd)
    };
    let deadline = Instant::now() + START_TIMEOUT;
    // Set when the daemon launched here found another one starting or
    // running (clients racing to start one): wait for that one instead,
    // whose pid the lock file holds.
    let mut lost_race = false;
    let mut holder = None;
    let mut launches = 1;
    // What became of each daemon launched here, for the message if none
    // serves in time.
    let mut history: Vec<String> = Vec::new();
    let mut pid = child.id();
    loop {
        if !lost_race && let Some(status) = child.try_wait()? {
            let stopped = std::os::unix::process::ExitStatusExt::signal(&status)
                == Some(nix::sys::signal::Signal::SIGTERM as i32);
            history.push(format!(
                "pid {}: {}",
                pid.unwrap_or_default(),
                if stopped {
                    "stopped by SIGTERM".to_owned()
                } else if status.success() {
                    "found another daemon holding the lock".to_owned()
                } else {
                    status.to_string()
                }
            ));
            // Stopped while it started (`verdict stop` racing this command,
            // which SIGTERMs a daemon it finds holding its lock): the next
            // one is started.
            if stopped && launches < MAX_LAUNCHES {
                child = relaunch(&mut cmd)?;
                (pid, launches) = (child.id(), launches + 1);
                continue;
            }
            if status.success() {
                lost_race = true;
                holder = std::fs::read_to_string(&layout.pid_file).ok().and_then(|p| p.trim().parse::<u32>().ok());
                continue;
            }
            let msg = match unnamed.borrow_mut().as_mut() {
                Some(file) => {
                    use std::io::{Read, Seek};
                    let mut msg = String::new();
                    let _ = file.seek(std::io::SeekFrom::Start(0)).and_then(|_| file.read_to_string(&mut msg));
                    msg
                }
                None => std::fs::read_to_string(&startup).unwrap_or_default(),
            };
            // The daemon's own "verdict: error: " is said by this one.
            let msg = msg.trim().trim_start_matches("verdict: error: ");
            let sep = if msg.is_empty() {
                ""
            } else if msg.contains('\n') {
                ":\n"
            } else {
                ": "
            };
            bail!("the daemon failed to start ({status}){sep}{msg}");
        }
        if let Ok(mut c) = Client::connect(&layout.socket).await
            && c.call(method::PING, json!({})).await.is_ok()
        {
            return Ok(c);
        }
        // The pid file may have been read while it was being written (or
        // after the holder removed it): read it again.
        if lost_race && holder.is_none() {
            holder = std::fs::read_to_string(&layout.pid_file).ok().and_then(|p| p.trim().parse::<u32>().ok());
        }
        // That one went away without serving (it was shutting down, or its
        // socket was removed and it is gone now; its pid file goes with it):
        // start one again.
        let gone = holder.map_or(!layout.pid_file.exists(), |pid| !process_alive(pid));
        if lost_race && gone && launches < MAX_LAUNCHES {
            child = relaunch(&mut cmd)?;
            (lost_race, holder, pid, launches) = (false, None, child.id(), launches + 1);
            continue;
        }
        if Instant::now() > deadline {
            if let Some(pid) = holder.filter(|_| lost_race) {
                bail!(
                    "the daemon for {} (pid {pid}) holds its lock but does not accept connections on {} (it may be \
                     shutting down, or its socket was removed); wait for it to exit, or end it with `kill {pid}`",
                    layout.root.display(),
                    layout.socket.display()
                );
            }
            if !lost_race {
                history.push(format!("pid {}: still running", pid.unwrap_or_default()));
            }
            bail!(
                "the daemon did not accept connections within {START_TIMEOUT:?}; see {} (daemons launched: {})",
                layout.log_file().display(),
                history.join("; ")
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl From<std::io::Error> for CallError {
    fn from(e: std::io::Error) -> Self {
        CallError::Io(e)
    }
}

/// Converts a call error into a one-line message.
pub fn describe(e: CallError) -> anyhow::Error {
    match e {
        CallError::Rpc(r) => anyhow::Error::new(DaemonError(r)),
        other => anyhow!(other),
    }
}

/// An error the daemon answered a request with: said to people in their
/// words, kept whole (code, data) for `--json`.
#[derive(Debug)]
pub struct DaemonError(pub RpcError);

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.0;
        // The protocol's words are not the user's: a named path that does
        // not exist is said as such.
        // The filters' fields are said as the options that set them.
        let message: std::borrow::Cow<'_, str> = match r.code {
            crate::protocol::code::INVALID_PARAMS => {
                let message = r.message.strip_prefix("invalid params: ").unwrap_or(&r.message);
                let message = message.strip_prefix("paths: ").unwrap_or(message);
                match [("validators: ", "--validator: "), ("dimensions: ", "--dimension: ")]
                    .into_iter()
                    .find_map(|(field, option)| message.strip_prefix(field).map(|rest| format!("{option}{rest}")))
                {
                    Some(said) => said.into(),
                    None => message.into(),
                }
            }
            _ => r.message.as_str().into(),
        };
        // A message that a list in `data.errors` details (an invalid
        // configuration) repeats the list: its first line, then the list.
        match r.data.as_ref().and_then(|d| d.get("errors")).and_then(Value::as_array) {
            Some(errors) => {
                write!(f, "{}", message.lines().next().unwrap_or_default())?;
                for e in errors {
                    write!(f, "\n{}", e.as_str().unwrap_or_default())?;
                }
                Ok(())
            }
            None => f.write_str(&message),
        }
    }
}

impl std::error::Error for DaemonError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client waits for a daemon's exit through its whole grace period
    /// (a fixed minute gave up on a daemon with a longer one, still
    /// finishing its requests), as configured or as the daemon says.
    #[test]
    fn a_daemon_is_waited_for_through_its_grace_period_and_a_minute() {
        let dir = tempfile::tempdir().unwrap();
        // Its own project, whatever is above it.
        std::fs::write(dir.path().join("verdict.toml"), "").unwrap();
        let layout = Layout::discover(dir.path(), None).unwrap();
        assert_eq!(exit_patience(&layout, None), Duration::from_secs(70), "the default 10 s");
        std::fs::write(dir.path().join("verdict.toml"), "[daemon]\ngrace_period = \"75s\"\n").unwrap();
        let layout = Layout::discover(dir.path(), None).unwrap();
        assert_eq!(exit_patience(&layout, None), Duration::from_secs(135));
        assert_eq!(exit_patience(&layout, Some(Duration::from_secs(300))), Duration::from_secs(360), "as it says");
    }

    #[tokio::test(start_paused = true)]
    async fn a_daemon_that_never_answers_the_handshake_is_an_error_not_a_hang() {
        // A socket that takes connections (into its backlog) and never
        // answers, as a daemon stopped with SIGSTOP does.
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("frozen.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let started = tokio::time::Instant::now();
        let err = Client::connect(&socket).await.err().expect("no answer is an error");
        assert!(matches!(err, CallError::Unresponsive(..)), "{err}");
        assert!(err.to_string().contains("did not answer within 30s"), "{err}");
        // The listener is this test, whose name has `verdict` in it: taken
        // for a daemon that may be stuck.
        assert!(err.to_string().starts_with("the daemon accepted the connection"), "{err}");
        assert_eq!(started.elapsed(), HELLO_TIMEOUT);
    }

    /// Something else at the socket's path is named as what it is: a
    /// process whose name has no `verdict` in it.
    #[test]
    fn a_process_that_is_no_verdict_daemon_is_named() {
        let mut sleep = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = sleep.id() as i32;
        // Named so once it has run `sleep` (a moment after the fork).
        let comm = format!("/proc/{pid}/comm");
        for _ in 0..200 {
            if std::fs::read_to_string(&comm).is_ok_and(|c| c.trim_end() == "sleep") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(not_a_daemon(Some(pid)), Some(format!("pid {pid}, sleep")));
        let _ = sleep.kill();
        let _ = sleep.wait();
        assert_eq!(not_a_daemon(Some(std::process::id() as i32)), None, "this test's name holds `verdict`");
        let said = CallError::Unresponsive(Duration::from_secs(30), Some(format!("pid {pid}, python3"))).to_string();
        assert!(said.contains(&format!("(pid {pid}, python3) is not a verdict daemon")), "{said}");
    }

    /// A stand-in for a daemon killed while it wrote a reply (when the kill
    /// lands cannot be chosen with a real one): the cut message is said as
    /// a lost connection, not as a protocol error.
    #[tokio::test]
    async fn a_reply_cut_short_by_the_daemon_dying_is_a_lost_connection() {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("dying.sock");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        let fake_dying_daemon = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (rd, mut wr) = stream.into_split();
            let mut lines = tokio::io::BufReader::new(rd).lines();
            lines.next_line().await.unwrap();
            let hello = json!({"jsonrpc": "2.0", "id": 1, "result": {
                "protocol": PROTOCOL_VERSION, "version": VERSION, "build": "", "pid": 1, "data_dir": null}});
            wr.write_all(format!("{hello}\n").as_bytes()).await.unwrap();
            lines.next_line().await.unwrap();
            wr.write_all(br#"{"jsonrpc":"2.0","id":2,"result":{"outcomes":[{"file":"a"#).await.unwrap();
        });
        let mut c = Client::connect(&socket).await.unwrap();
        let err = c.call(method::PING, json!({})).await.unwrap_err();
        fake_dying_daemon.await.unwrap();
        assert!(matches!(err, CallError::Io(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "connection to the daemon lost: the daemon closed the connection in the middle of a message"
        );
    }
}
