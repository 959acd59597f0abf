//! Test support: a throw-away project with its own runtime, state and cache
//! directories, the real `verdict` binary pointed at them, and a raw socket
//! client for protocol tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The verdict binary under test (the client).
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_verdict"))
}

/// The daemon's executable, which the client finds beside itself.
pub fn daemon_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_verdict-daemon"))
}

/// One isolated project and the directories of its daemon.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub project: PathBuf,
    pub runtime: PathBuf,
    pub state: PathBuf,
    pub cache: PathBuf,
}

impl Env {
    /// A new empty project (with a `.git` directory so it is its own root).
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().expect("tempdir");
        let base = std::fs::canonicalize(tmp.path()).expect("canonical tempdir");
        let project = base.join("project");
        std::fs::create_dir_all(project.join(".git")).unwrap();
        let env = Env { runtime: base.join("run"), state: base.join("state"), cache: base.join("cache"), project, tmp };
        std::fs::create_dir_all(&env.runtime).unwrap();
        env
    }

    /// A `verdict` command for this project.
    pub fn cmd(&self) -> Command {
        self.cmd_of(&bin())
    }

    /// The command of the `verdict` executable `exe` for this project.
    pub fn cmd_of(&self, exe: &Path) -> Command {
        let mut c = Command::new(exe);
        c.current_dir(&self.project)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("XDG_STATE_HOME", &self.state)
            .env("XDG_CACHE_HOME", &self.cache)
            .env_remove("VERDICT_SOCKET")
            .env("VERDICT_LOG", "debug");
        c
    }

    /// Stops the daemon of the project at `dir` (one inside this one)
    /// when the guard is dropped, however the test ends.
    pub fn stop_when_done<'a>(&'a self, dir: &'a Path) -> impl Drop + 'a {
        struct Stop<'a>(&'a Env, &'a Path);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                let _ = self.0.cmd().current_dir(self.1).args(["stop"]).output();
            }
        }
        Stop(self, dir)
    }

    /// Runs `verdict ARGS` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run verdict")
    }

    /// Runs `verdict ARGS`, asserting exit code `code`, and returns stdout.
    pub fn run_ok(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "verdict {args:?} exited {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs `verdict --json ARGS` expecting success and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run_ok(&all, 0);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from {args:?}: {e}\n{out}"))
    }

    /// The default socket path of this project's daemon.
    pub fn socket(&self) -> PathBuf {
        self.runtime.join("verdict").join(format!("{}.sock", verdict::paths::root_key(&self.project)))
    }

    /// The pid file beside the socket.
    pub fn pid_file(&self) -> PathBuf {
        self.socket().with_extension("pid")
    }

    /// The daemon's log file.
    pub fn log_file(&self) -> PathBuf {
        self.state.join("verdict").join(verdict::paths::root_key(&self.project)).join("daemon.log")
    }

    /// Starts the daemon (detached) and returns its pid.
    pub fn start(&self) -> u32 {
        let v = self.json(&["daemon"]);
        v["pid"].as_u64().expect("pid") as u32
    }

    /// A project whose only validator, `slow`, sleeps `seconds` on every
    /// `*.txt` file, with one such file and the given shutdown grace period.
    pub fn with_slow_validator(seconds: &str, grace: &str) -> Env {
        let env = Env::new();
        env.write(
            "verdict.toml",
            format!(
                "builtins = false\n[daemon]\ngrace_period = \"{grace}\"\n[validators.slow]\nkind = \"command\"\n\
                 command = [\"sh\", \"-c\", \"sleep {seconds}\", \"sleep\"]\nmode = \"per_file\"\n\
                 parser = \"exit_code\"\nfiles = [\"*.txt\"]\ntimeout = \"60s\"\n"
            ),
        );
        env.write("a.txt", "a\n");
        env
    }

    /// Writes a file in the project.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.project.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Waits until the daemon's log file holds `text`: the log is written by
    /// a background thread, so a line logged before a reply may reach the
    /// file after it.
    pub fn wait_for_log(&self, text: &str) -> String {
        let mut log = String::new();
        wait_until(Duration::from_secs(10), &format!("{text:?} in the daemon's log"), || {
            log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            // Or in a file rotated out since (a test's small `log_max_size`
            // rotates during the start-up lines): then all of them.
            if !log.contains(text) && self.rotated_logs().iter().any(|l| l.contains(text)) {
                log = self.rotated_logs().concat() + &log;
            }
            log.contains(text)
        });
        log
    }

    /// The daemon's whole log, rotated files included, once it has
    /// stopped: `verdict stop` returns when the daemon has exited, which
    /// writes out every line it logged first. (While it runs, a line may
    /// still be on its way to the file: see [`wait_for_log`](Self::wait_for_log).)
    pub fn log_after_stop(&self) -> String {
        self.run_ok(&["stop"], 0);
        self.rotated_logs().concat() + &std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// The daemon's rotated log files' contents (`daemon.log.N`).
    fn rotated_logs(&self) -> Vec<String> {
        let log = self.log_file();
        let (Some(dir), Some(name)) = (log.parent(), log.file_name()) else { return Vec::new() };
        let prefix = format!("{}.", name.to_string_lossy());
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A raw protocol connection to the daemon (already greeted).
    pub fn connect(&self) -> Raw {
        let mut r = Raw::connect(&self.socket());
        let hello = r.call("hello", hello_params());
        assert!(hello.get("result").is_some(), "hello failed: {hello}");
        r
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // A failing test shows the end of its daemon's log.
        if std::thread::panicking()
            && let Ok(log) = std::fs::read_to_string(self.log_file())
        {
            let lines: Vec<&str> = log.lines().collect();
            eprintln!("--- last lines of {} ---", self.log_file().display());
            for l in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{l}");
            }
        }
        // Stop the daemon; if it does not go, kill it.
        let pid = std::fs::read_to_string(self.pid_file()).ok().and_then(|s| s.trim().parse::<i32>().ok());
        let _ = self.cmd().args(["stop", "--no-start"]).output();
        if let Some(pid) = pid
            && alive(pid as u32)
        {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// The daemon's peak and current resident memory, in KiB.
pub fn memory_kb(pid: u64) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// `hello` params of this build's protocol.
pub fn hello_params() -> Value {
    json!({ "protocol": verdict::protocol::PROTOCOL_VERSION, "version": verdict::protocol::VERSION, "build": "test" })
}

/// Whether a process whose command line matches `pattern` (`pgrep -f`) runs.
pub fn pgrep(pattern: &str) -> bool {
    !std::process::Command::new("pgrep").args(["-f", pattern]).output().unwrap().stdout.is_empty()
}

/// True while `pid` is a live (non-zombie) process.
pub fn alive(pid: u32) -> bool {
    verdict::client::process_alive(pid)
}

/// Waits until `cond` holds, failing after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A raw line-oriented JSON-RPC connection.
pub struct Raw {
    pub stream: UnixStream,
    reader: BufReader<UnixStream>,
    next: i64,
    /// Replies that arrived while waiting for another one (replies come in
    /// completion order, not request order).
    early: Vec<Value>,
}

impl Raw {
    pub fn connect(path: &Path) -> Raw {
        let stream = UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Raw { stream, reader, next: 1, early: Vec::new() }
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends a request and returns its id.
    pub fn send(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next;
        self.next += 1;
        let mut line =
            serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).unwrap();
        line.push(b'\n');
        self.send_raw(&line);
        id
    }

    /// Reads one message (None at EOF).
    pub fn read(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"))),
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// Whether the daemon has closed the connection: EOF, or a reset (the
    /// kernel resets a Unix socket closed with unread input in it, as when
    /// the daemon drops a client that is still sending).
    pub fn is_closed(&mut self) -> bool {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => true,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
            Ok(_) => panic!("expected the connection to be closed, got {line:?}"),
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// Reads until the reply to `id`, skipping notifications (returned too).
    pub fn reply(&mut self, id: i64) -> (Value, Vec<Value>) {
        let mut notes = Vec::new();
        if let Some(pos) = self.early.iter().position(|m| m["id"] == json!(id)) {
            return (self.early.remove(pos), notes);
        }
        loop {
            let m = self.read().expect("connection closed before the reply");
            if m.get("method").is_some() {
                notes.push(m);
                continue;
            }
            if m["id"] == json!(id) {
                return (m, notes);
            }
            self.early.push(m);
        }
    }

    /// Calls and returns the reply message.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        self.reply(id).0
    }
}

/// The error code of a reply, if it is an error.
pub fn error_code(reply: &Value) -> Option<i64> {
    reply.get("error").and_then(|e| e["code"].as_i64())
}

/// A `[validators.slow]` table: an external tool over `*.txt`, one file at
/// a time, that takes 0.2 s and then appends `tag` to `marks`.
pub fn slow_tool(marks: &Path, tag: &str) -> String {
    format!(
        "[validators.slow]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"sleep 0.2; echo {tag} >> {}\", \"slow\"]\n\
         mode = \"per_file\"\nparser = \"exit_code\"\nfiles = [\"*.txt\"]\nconcurrency = 1\n",
        marks.display()
    )
}

/// Waits (10 s at most) until the file at `path` holds `text`: what a
/// test's tool writes as it goes.
pub fn wait_for_text(path: &Path, text: &str) {
    wait_until(Duration::from_secs(10), &format!("{text:?} in {}", path.display()), || {
        std::fs::read_to_string(path).is_ok_and(|t| t.contains(text))
    });
}

/// Waits until the slow tool has validated its first file.
pub fn wait_for_first_mark(marks: &Path) {
    wait_until(Duration::from_secs(10), "the first file to be validated", || {
        std::fs::read_to_string(marks).is_ok_and(|m| !m.is_empty())
    });
}

/// A copy of both executables in a directory of the project's temporary
/// directory, the daemon's modification time moved on: another build of
/// verdict as the client sees it (its build id differs). Returns the copied
/// client; run it with [`output_of_fresh_copy`].
pub fn another_build(env: &Env, dir: &str) -> PathBuf {
    let dir = env.tmp.path().join(dir);
    std::fs::create_dir(&dir).unwrap();
    let client = dir.join("verdict");
    std::fs::copy(bin(), &client).unwrap();
    std::fs::copy(daemon_bin(), dir.join("verdict-daemon")).unwrap();
    let daemon = std::fs::OpenOptions::new().append(true).open(dir.join("verdict-daemon")).unwrap();
    daemon.set_modified(std::time::SystemTime::now() + Duration::from_secs(60)).unwrap();
    client
}

/// Another test thread may fork while the copy's write descriptor is open,
/// and its child holds that descriptor until it execs, which makes our exec
/// fail with "Text file busy" for a moment: retry that, nothing else.
pub fn output_of_fresh_copy(cmd: &mut Command) -> Output {
    for _ in 0..250 {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(nix::libc::ETXTBSY) => {}
            Ok(out) if String::from_utf8_lossy(&out.stderr).contains("Text file busy") => {}
            other => return other.expect("run the copied executable"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the copied executable stayed busy");
}

/// The files a JSON report has outcomes for, in its order, each once.
pub fn files(r: &Value) -> Vec<String> {
    let mut f: Vec<String> =
        r["outcomes"].as_array().unwrap().iter().map(|o| o["file"].as_str().unwrap().to_owned()).collect();
    f.dedup();
    f
}
