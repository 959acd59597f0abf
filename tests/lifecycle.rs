//! The daemon's life: start on demand, status, stop, single instance,
//! stale and live sockets, SIGKILL recovery, SIGTERM with a request in
//! flight, and replacement of a daemon built from another version.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Env, Raw, alive, error_code, pgrep, wait_until};

/// A daemon started on demand keeps none of its launcher's other
/// descriptors: `verdict check . 7>&1 >out | cat` ends when the check does.
#[test]
fn a_daemon_started_on_demand_keeps_no_descriptor_of_its_launcher() {
    use std::os::fd::AsFd;
    let env = Env::new();
    env.write("a.txt", "ok\n");
    // Close-on-exec here, so that no other test's process inherits it.
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let base = env.cmd();
    let mut cmd = std::process::Command::new("sh");
    cmd.current_dir(base.get_current_dir().unwrap());
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = env.tmp.path().join("out.txt");
    // The shell's standard output is the pipe; the client gets it as
    // descriptor 7, as from `7>&1`, and its own output goes to a file.
    cmd.args(["-c", "exec \"$0\" check . 7>&1 >\"$1\""]).arg(crate::support::bin()).arg(&out);
    cmd.stdout(std::process::Stdio::from(write));
    let status = cmd.status().unwrap();
    assert_eq!(status.code(), Some(0), "{}", std::fs::read_to_string(&out).unwrap_or_default());
    drop(cmd);
    let mut fds = [nix::poll::PollFd::new(read.as_fd(), nix::poll::PollFlags::POLLIN)];
    let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(10_000u16)).unwrap();
    assert_eq!(ready, 1, "10 s after the check, something (the daemon) still holds the pipe's write end");
    assert_eq!(nix::unistd::read(&read, &mut [0u8; 8]).unwrap(), 0, "the pipe is at its end");
    let pid = env.json(&["status"])["pid"].as_u64().unwrap() as u32;
    assert!(alive(pid));
}

#[test]
fn a_command_starts_the_daemon_on_demand_status_does_not_and_stop_removes_its_files() {
    let env = Env::new();
    assert!(!env.socket().exists());
    // Asked for, a status starts no daemon.
    assert_eq!(env.run(&["status"]).status.code(), Some(3));
    assert!(!env.socket().exists() && !env.pid_file().exists(), "status started a daemon");
    let ping = env.json(&["ping"]);
    let s = env.json(&["status"]);
    assert_eq!((&s["pid"], &s["running"]), (&ping["pid"], &json!(true)));
    let pid = s["pid"].as_u64().unwrap() as u32;
    assert!(alive(pid));
    assert_eq!(s["project_root"], json!(env.project));
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert!(s["uptime_ms"].as_u64().is_some());
    assert!(s["validators"].as_array().is_some_and(|v| !v.is_empty()), "built-ins run by default: {s}");
    assert!(s["connections"].as_u64().unwrap() >= 1);
    assert!(env.socket().exists() && env.pid_file().exists());
    // It works in `/` (docs/operations.md): it keeps no directory busy.
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(), std::path::Path::new("/"));
    // The inotify watch: there, and watching what a check walked.
    env.write("sub/a.txt", "a\n");
    env.run(&["check"]);
    let watch = &env.json(&["status"])["watch"];
    assert_eq!((watch["available"].as_bool(), watch["enabled"].as_bool()), (Some(true), Some(true)), "{watch}");
    assert!(watch["watches"].as_u64().unwrap() >= 2 && watch["failures"] == 0, "{watch}");
    let human = env.run_ok(&["status"], 0);
    assert!(human.contains(&format!("  watch:        {} directories", watch["watches"])), "{human}");

    let out = env.json(&["stop"]);
    assert_eq!(out["stopped"], true);
    // `stop` returns only once the daemon has exited.
    assert!(!alive(pid), "daemon still alive after stop returned");
    assert!(!env.socket().exists(), "socket left behind");
    assert!(!env.pid_file().exists(), "pid file left behind");
    // Every validator's stop is a supervision event, as every other one.
    let log = std::fs::read_to_string(env.log_file()).unwrap();
    let stopped = log.lines().filter(|l| l.contains("\"event\":\"stopped\"") && l.contains("shutting down")).count();
    assert_eq!(stopped, s["validators"].as_array().unwrap().len(), "{log}");
}

/// `--json`: one JSON document on stdout, for a failure too, with the
/// daemon's error code and data when the daemon refused the request.
#[test]
fn json_output_has_one_shape_for_successes_and_failures() {
    let env = Env::new();
    let parse = |out: &std::process::Output| -> Value {
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {:?} {:?}", String::from_utf8_lossy(&out.stdout), out.stderr))
    };
    // Nothing running: no daemon to stop, none to ask.
    let none = env.json(&["stop"]);
    assert_eq!(none, json!({ "stopped": false, "running": false, "pid": null }));
    // Nor where no socket could be: its directory under a `TMPDIR` that is
    // a file (without `XDG_RUNTIME_DIR`).
    let file = env.tmp.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let out = env.cmd().env_remove("XDG_RUNTIME_DIR").env("TMPDIR", &file).args(["--json", "stop"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(parse(&out), json!({ "stopped": false, "running": false, "pid": null }));
    // Asking for the status starts none: none runs is its answer.
    let out = env.run(&["--json", "status"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let root = std::fs::canonicalize(&env.project).unwrap();
    assert_eq!(
        parse(&out),
        json!({
            "running": false,
            "project_root": root.display().to_string(),
            "socket": env.socket().display().to_string(),
        })
    );
    let human = env.run(&["status"]);
    assert_eq!(human.status.code(), Some(3), "{human:?}");
    assert!(String::from_utf8_lossy(&human.stdout).starts_with("no verdict daemon is running for "), "{human:?}");
    assert!(!env.socket().exists() && !env.pid_file().exists(), "status started a daemon");
    let out = env.run(&["--json", "--no-start", "ping"]);
    assert_eq!(out.status.code(), Some(2));
    let e = parse(&out);
    assert!(e["error"]["message"].as_str().is_some_and(|m| m.contains("no daemon is running")), "{e}");
    assert!(e["error"].get("code").is_none(), "{e}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("verdict: error: no daemon is running"));
    // Refused by the daemon: its code, and the message for people.
    let pid = env.start();
    let out = env.run(&["--json", "restart", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let e = parse(&out);
    assert_eq!(e["error"]["code"], -32009, "not found: {e}");
    assert!(e["error"]["message"].as_str().is_some_and(|m| m.contains("\"nope\"")), "{e}");
    // A check that cannot run, in the same shape.
    let out = env.run(&["--json", "check", "missing-path"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(parse(&out)["error"]["message"].as_str().is_some_and(|m| m.contains("missing-path")));
    // An invalid configuration: its problems listed in `data`.
    env.write("verdict.toml", "[validators.x]\nkind = \"nonsense\"\n");
    let out = env.run(&["--json", "reload"]);
    assert_eq!(out.status.code(), Some(2));
    let e = parse(&out);
    assert!(e["error"]["data"]["errors"].as_array().is_some_and(|v| !v.is_empty()), "{e}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("verdict: error: ") && err.contains("\n  ") && err.contains("kind"), "{err}");
    let stopped = env.json(&["stop"]);
    assert_eq!(stopped, json!({ "stopped": true, "running": false, "pid": pid }));
}

#[test]
fn no_start_fails_clearly_when_no_daemon_runs() {
    let env = Env::new();
    let out = env.run(&["ping", "--no-start"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no daemon is running") && err.contains("verdict daemon"), "{err}");
    assert!(!env.socket().exists());
}

/// A daemon that cannot start (here: an invalid verdict.toml) says why and
/// leaves neither its socket nor its pid file behind.
#[test]
fn a_daemon_that_fails_to_start_leaves_no_files() {
    let env = Env::new();
    env.write("verdict.toml", "[daemon]\nidle_timeout = \"5 minuts\"\n");
    let out = env.run(&["ping"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("idle_timeout"), "{err}");
    assert!(!env.socket().exists());
    assert!(!env.pid_file().exists(), "pid file left behind");
    // A socket path too long to bind is refused before any daemon starts
    // (it failed at the bind): nothing is made beside it, and the message
    // says what to do, for every command.
    env.write("verdict.toml", "");
    let dir = env.tmp.path().join("s");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let long = dir.join(format!("{}.sock", "x".repeat(120)));
    for command in ["ping", "stop"] {
        let out = env.cmd().arg("--socket").arg(&long).arg(command).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("and a Unix socket's path may have at most 107"), "{err}");
    }
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_second_start_reports_the_running_daemon() {
    let env = Env::new();
    let first = env.json(&["daemon"]);
    assert_eq!((first["running"].as_bool(), first["started"].as_bool()), (Some(true), Some(true)), "{first}");
    let pid = first["pid"].as_u64().unwrap() as u32;
    let again = env.json(&["daemon"]);
    assert_eq!((again["running"].as_bool(), again["started"].as_bool()), (Some(true), Some(false)), "{again}");
    assert_eq!(again["pid"].as_u64(), Some(pid as u64));
    assert_eq!(again["socket"], first["socket"]);
    // Also in the foreground: the lock is held, it says so and exits 0.
    let out = env.run_ok(&["daemon", "--foreground"], 0);
    assert!(out.contains("already running") && out.contains(&pid.to_string()), "{out}");
    assert!(alive(pid));
}

#[test]
fn clients_racing_to_start_the_daemon_all_get_an_answer() {
    // Eight first commands at once, several times: one daemon wins the pid
    // lock, the others' daemons exit, and their clients wait for the winner
    // (one of them used to give up before it listened).
    let env = Env::new();
    env.write("a.txt", "x\n");
    for round in 0..6 {
        let children: Vec<_> = (0..8)
            .map(|_| {
                env.cmd()
                    .args(["check", "."])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "round {round}: {err}");
        }
        assert!(env.run(&["stop"]).status.success());
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    // Runs `verdict ARGS` whose reader is gone before anything is written.
    let closed_reader = |env: &Env, args: &[&str]| {
        let mut child = env
            .cmd()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // `verdict status | head -1`: the command ends without an error message.
    let env = Env::new();
    env.start();
    let (code, err) = closed_reader(&env, &["status"]);
    assert!(!err.contains("error"), "{err}");
    assert_eq!(code, Some(0), "{err}");
    // `verdict check | head`: the findings still decide the exit code.
    env.write("a.txt", "trailing \n");
    let (code, err) = closed_reader(&env, &["check", "--format", "json"]);
    assert_eq!(code, Some(1), "{err}");
    // The same for a pipe named by `--output` (`-o >(…)`): its reader opens
    // it and goes away before the report is written.
    let fifo = env.tmp.path().join("report.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || drop(std::fs::File::open(fifo).unwrap())
    });
    let out = env.cmd().args(["check", "--format", "json", "-o"]).arg(&fifo).output().unwrap();
    // Had verdict not opened the pipe, the reader would still wait for a
    // writer: this one lets it go (and otherwise finds no reader).
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new().write(true).custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits()).open(&fifo);
    reader.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    // `verdict --json config check | true` of an invalid file: still 2.
    env.write("verdict.toml", "builtins = yes\n");
    let (code, err) = closed_reader(&env, &["--json", "config", "check"]);
    assert_eq!(code, Some(2), "{err}");
    std::fs::remove_file(env.project.join("verdict.toml")).unwrap();
    // `verdict stop | true`: no panic (a println! did), and it is stopped.
    let pid = env.json(&["status"])["pid"].as_u64().unwrap() as u32;
    let (code, err) = closed_reader(&env, &["stop"]);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(code, Some(0), "{err}");
    wait_until(Duration::from_secs(10), "the daemon to exit", || !alive(pid));
}

#[test]
fn stop_finds_a_daemon_whose_socket_was_removed() {
    let env = Env::new();
    let pid = env.start();
    std::fs::remove_file(env.socket()).unwrap();
    let out = env.run_ok(&["stop"], 0);
    // Stopped by the command, or (on a slow machine) by itself a moment
    // before: a daemon without its socket shuts down within seconds.
    assert!(
        out.contains(&format!("verdict daemon stopped (pid {pid}")) || out.contains("no verdict daemon is running"),
        "{out}"
    );
    wait_until(Duration::from_secs(10), "the daemon to exit", || !alive(pid));
    // And the next command starts a fresh one.
    assert_ne!(env.json(&["ping"])["pid"].as_u64(), Some(u64::from(pid)));
}

/// A daemon whose socket and pid file are removed (by hand, by a clean-up
/// of the runtime directory) cannot be reached: it shuts down, leaving alone
/// the files the next daemon made at the same paths meanwhile.
#[test]
fn a_daemon_whose_files_are_removed_gives_way_to_the_next_one() {
    let env = Env::new();
    let old = env.start();
    std::fs::remove_file(env.socket()).unwrap();
    // Gone already if the daemon looked in between and shut down.
    if let Err(e) = std::fs::remove_file(env.pid_file()) {
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    }
    let new = env.json(&["ping"])["pid"].as_u64().unwrap() as u32;
    assert_ne!(new, old);
    wait_until(Duration::from_secs(15), "the unreachable daemon to shut down", || !alive(old));
    assert_eq!(env.json(&["ping"])["pid"].as_u64(), Some(u64::from(new)), "the new daemon's socket is kept");
    assert_eq!(std::fs::read_to_string(env.pid_file()).unwrap().trim(), new.to_string(), "and its pid file");
    let log = std::fs::read_to_string(env.log_file()).unwrap();
    assert!(log.contains("was removed or replaced: no client can reach this daemon"), "{log}");
}

/// A removed pid file is written again; the socket and pid file carry the
/// sticky bit that spares them a periodic clean-up of the runtime directory.
#[test]
fn a_removed_pid_file_is_written_again() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let pid = env.start();
    for f in [env.socket(), env.pid_file()] {
        let mode = std::fs::symlink_metadata(&f).unwrap().permissions().mode();
        assert_eq!(mode & 0o1777, 0o1600, "{}: {mode:o}", f.display());
    }
    std::fs::remove_file(env.pid_file()).unwrap();
    wait_until(Duration::from_secs(15), "the pid file to be written again", || {
        std::fs::read_to_string(env.pid_file()).is_ok_and(|p| p.trim() == pid.to_string())
    });
    // Locked again: a second daemon reports this one.
    let out = env.run_ok(&["daemon"], 0);
    assert!(out.contains(&pid.to_string()), "{out}");
    assert_eq!(env.json(&["ping"])["pid"].as_u64(), Some(u64::from(pid)));
}

#[test]
fn a_stale_socket_is_replaced() {
    let env = Env::new();
    std::fs::create_dir_all(env.socket().parent().unwrap()).unwrap();
    std::fs::set_permissions(env.socket().parent().unwrap(), std::fs::Permissions::from_mode(0o700)).unwrap();
    // A socket file nobody listens on, as a crashed daemon leaves it.
    drop(std::os::unix::net::UnixListener::bind(env.socket()).unwrap());
    assert!(env.socket().exists());
    let v = env.json(&["ping"]);
    assert_eq!(v["pong"], true);
}

#[test]
fn a_live_socket_is_never_stolen() {
    let env = Env::new();
    let dir = env.tmp.path().join("private");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let other = dir.join("other.sock");
    let listener = std::os::unix::net::UnixListener::bind(&other).unwrap();
    let out = env.cmd().args(["daemon", "--foreground", "--socket"]).arg(&other).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another process"), "{err}");
    // The owner still has its socket.
    assert!(other.exists());
    let _c = std::os::unix::net::UnixStream::connect(&other).unwrap();
    listener.accept().unwrap();
    // A regular file named as the socket is never deleted.
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "mine\n").unwrap();
    let out = env.cmd().args(["daemon", "--foreground", "--socket"]).arg(&notes).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "mine\n");
    // Nor the files of the user's where the daemon's pid and tool marks
    // would go beside it: not truncated, not deleted (a refused start
    // destroyed `notes.pid`; a clean stop, an `app.pid` of the user's).
    let pid = dir.join("notes.pid");
    std::fs::write(&pid, "precious\n").unwrap();
    let out = env.cmd().args(["daemon", "--foreground", "--socket"]).arg(&notes).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&pid).unwrap(), "precious\n");
    for (name, content) in [("app.pid", "mine\n"), ("app.tools", "mine\n")] {
        let file = dir.join(name);
        std::fs::write(&file, content).unwrap();
        let out = env.cmd().args(["daemon", "--foreground", "--socket"]).arg(dir.join("app.sock")).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("holds something else; verdict will not overwrite it"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), content);
        std::fs::remove_file(&file).unwrap();
    }
}

/// Something else at a socket's path that closes each connection, or
/// answers with what is no message, is named as no verdict daemon (it was
/// called a busy daemon, or a protocol error). The listener is this test
/// process, whose name has no `verdict` in it.
#[test]
fn a_listener_that_is_no_verdict_daemon_is_named_whatever_it_does() {
    use std::io::Write as _;
    let env = Env::new();
    let dir = env.tmp.path().join("private");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    for garbage in [false, true] {
        let socket = dir.join(if garbage { "garbage.sock" } else { "close.sock" });
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                if garbage {
                    let _ = stream.write_all(b"nonsense\n");
                }
            }
        });
        let started = std::time::Instant::now();
        let out = env.cmd().args(["--no-start", "--socket"]).arg(&socket).arg("ping").output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("(pid {}, ", std::process::id())), "{err}");
        assert!(err.contains("is not a verdict daemon: something else listens at that path"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(4), "tried again as busy: {:?}", started.elapsed());
    }
}

#[test]
fn after_sigkill_the_next_command_starts_a_fresh_daemon() {
    let env = Env::new();
    let pid = env.start();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_until(Duration::from_secs(5), "the daemon to die", || !alive(pid));
    assert!(env.socket().exists(), "SIGKILL leaves the socket behind");
    // Its leftovers are no daemon to a status.
    assert_eq!(env.run(&["status"]).status.code(), Some(3));
    let s = env.json(&["ping"]);
    let new_pid = s["pid"].as_u64().unwrap() as u32;
    assert_ne!(new_pid, pid);
    assert!(alive(new_pid));
}

/// A daemon whose check runs a tool, `sleep SECONDS` (a duration no other
/// process on the machine is likely to sleep for: the process table is
/// looked at), that has started: the project, the daemon's pid, the
/// connection and the check's id.
fn slow_check_running(seconds: &str, grace: &str) -> (Env, u32, Raw, i64) {
    let env = Env::with_slow_validator(seconds, grace);
    let pid = env.start();
    let mut c = env.connect();
    let id = c.send("check", json!({ "paths": ["."] }));
    wait_until(Duration::from_secs(10), "the tool to start", || sleeping(seconds));
    (env, pid, c, id)
}

/// Whether a `sleep SECONDS` runs.
fn sleeping(seconds: &str) -> bool {
    pgrep(&format!("^sleep {}$", seconds.replace('.', r"\.")))
}

/// A check cut off by a shutdown whose grace period ran out says so, and
/// that it can be run again (it said only `shutting down`).
#[test]
fn a_check_cut_off_by_the_grace_period_says_so() {
    let env = Env::with_slow_validator("30.0518", "1s");
    env.start();
    let mut check = env.cmd();
    check.args(["check", "."]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    let check = check.spawn().unwrap();
    wait_until(Duration::from_secs(10), "the tool to start", || sleeping("30.0518"));
    env.run_ok(&["stop"], 0);
    let out = check.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the daemon shut down before the check finished"), "{err}");
    assert!(err.contains("run the check again"), "{err}");
}

/// A daemon started while the running one's pid file is missing finds its
/// live socket and gives up, leaving the running check's tool alone.
#[test]
fn a_daemon_started_while_the_pid_file_is_missing_leaves_the_running_tools_alone() {
    // Long enough for the process table to be seen holding the tool on a
    // loaded machine.
    let (env, pid, mut c, id) = slow_check_running("6.0437", "10s");
    std::fs::remove_file(env.pid_file()).unwrap();
    let out = env.cmd().args(["daemon", "--foreground"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Refused at the live socket, or (had the pid file been written again
    // already) told that the daemon runs.
    assert!(
        err.contains("in use by another process") || String::from_utf8_lossy(&out.stdout).contains(&pid.to_string()),
        "{err}"
    );
    let (reply, _) = c.reply(id);
    assert_eq!(reply["result"]["summary"]["outcomes"]["passed"], 1, "the tool ran to its end: {reply}");
    assert_eq!(env.json(&["ping"])["pid"].as_u64(), Some(u64::from(pid)));
}

/// While another process holds a new pid file's lock (a daemon starting,
/// which will find the socket alive and give up), the running daemon keeps
/// running, and writes its pid file again once the lock is free: shutting
/// down would let the starting one find the socket dead and kill its tools.
#[test]
fn a_daemon_whose_new_pid_file_is_locked_by_another_keeps_running() {
    let env = Env::new();
    let pid = env.start();
    // Locked before it takes the pid file's place: the daemon looks every
    // 2 s and could write a removed pid file again between a removal and a
    // creation (as it did once in CI).
    let staged = env.pid_file().with_extension("staged");
    let held = std::fs::File::create(&staged).unwrap();
    held.try_lock().unwrap();
    std::fs::rename(&staged, env.pid_file()).unwrap();
    env.wait_for_log("the pid file is locked by another process");
    assert_eq!(env.json(&["ping"])["pid"].as_u64(), Some(u64::from(pid)), "still serving");
    drop(held);
    wait_until(Duration::from_secs(10), "the pid file to be written again", || {
        std::fs::read_to_string(env.pid_file()).is_ok_and(|p| p.trim() == pid.to_string())
    });
    assert!(alive(pid));
}

/// A daemon killed with SIGKILL cannot stop its tools; the next daemon of
/// the project kills what they left running.
#[test]
fn the_next_daemon_kills_the_tools_a_killed_one_left_running() {
    let (env, pid, _c, _check) = slow_check_running("30.0421", "300ms");
    let tool_runs = || sleeping("30.0421");
    // A second daemon of the project, on another socket (so another pid
    // file), leaves the first one's tools alone.
    let dir = env.tmp.path().join("other");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let other = dir.join("other.sock");
    let other_s = other.to_str().unwrap();
    env.json(&["--socket", other_s, "ping"]);
    assert!(tool_runs(), "a daemon on another socket killed the first one's tool");
    env.run_ok(&["--socket", other_s, "stop"], 0);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_until(Duration::from_secs(5), "the daemon to die", || !alive(pid));
    assert!(tool_runs(), "SIGKILL leaves the tool running");
    env.json(&["ping"]);
    wait_until(Duration::from_secs(5), "the left tool to be killed", || !tool_runs());
    env.wait_for_log("killed the tools a previous daemon left running");
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_or_answers_shutting_down() {
    let (env, pid, mut c, id) = slow_check_running("30.0417", "300ms");
    let tool_runs = || sleeping("30.0417");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let (reply, _) = c.reply(id);
    // The check takes 30 s, the grace period 300 ms: it is cancelled.
    assert_eq!(error_code(&reply), Some(verdict::protocol::code::SHUTTING_DOWN), "{reply}");
    // It had started: not one to make again.
    assert!(reply["error"]["data"]["started"].is_null(), "{reply}");
    wait_until(Duration::from_secs(10), "the daemon to exit", || !alive(pid));
    assert!(!env.socket().exists() && !env.pid_file().exists());
    // And the tool it was running is gone too (the daemon sent the signal
    // before it exited; the tool's own exit may come a moment later).
    wait_until(Duration::from_secs(5), "the tool to die", || !tool_runs());
}

/// A command that finds the daemon shutting down (its socket gone, its
/// lock still held while a tool runs out its grace) waits for it to exit
/// and starts a new one, instead of waiting for a socket that never comes
/// and failing after 30 s.
#[test]
fn a_command_during_a_shutdown_starts_the_next_daemon() {
    let (env, pid, _c, _check) = slow_check_running("30.0419", "2s");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    wait_until(Duration::from_secs(5), "the daemon to stop accepting", || {
        std::os::unix::net::UnixStream::connect(env.socket()).is_err()
    });
    assert!(alive(pid), "still in its grace period");
    let started = std::time::Instant::now();
    let s = env.json(&["ping"]);
    let new_pid = s["pid"].as_u64().unwrap() as u32;
    assert_ne!(new_pid, pid);
    assert!(!alive(pid));
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

/// A status asked while the daemon shuts down (its socket refusing, its
/// lock held through a tool's grace period) says so at once, rather than
/// wait for a daemon that will not serve again; one asked while a daemon
/// starts (its `version` command running) waits for it, and answers.
#[test]
fn status_says_a_daemon_is_shutting_down_and_waits_for_one_starting() {
    let (env, pid, _c, _check) = slow_check_running("30.0523", "20s");
    status_while_shutting_down(&env, pid, r"^sleep 30\.0523$");

    let env = Env::new();
    let Gated { started, gate, .. } = gated_version(&env);
    let mut starting = env.cmd().args(["daemon"]).spawn().unwrap();
    wait_until(Duration::from_secs(20), "the version command to run at start-up", || started.exists());
    let mut status = env.cmd();
    status.args(["--json", "status"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let status = status.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(&gate, "").unwrap();
    let out = status.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["running"], true, "{s}");
    assert!(starting.wait().unwrap().success());
    assert_eq!(std::fs::read_to_string(env.pid_file()).unwrap().trim(), s["pid"].to_string());
}

/// A daemon whose pid file was removed writes it again, and then touches
/// its socket, which a status tells from a dead daemon's by its being no
/// older than the pid file: shutting down, it is still said to be.
#[test]
fn status_says_shutting_down_after_the_pid_file_was_written_again() {
    let (env, pid, _c, _check) = slow_check_running("30.0529", "20s");
    std::fs::remove_file(env.pid_file()).unwrap();
    env.wait_for_log("it is written again");
    status_while_shutting_down(&env, pid, r"^sleep 30\.0529$");
}

/// SIGTERMs daemon `pid`, whose check runs a tool (`tool`: its `pkill -f`
/// pattern) longer than its grace period, and asks for the status once it
/// stops accepting: it must be said to be shutting down, with its pid, and
/// its grace not waited out. Then the tool's end ends the check, and the
/// daemon's shutdown.
fn status_while_shutting_down(env: &Env, pid: u32, tool: &str) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    wait_until(Duration::from_secs(5), "the daemon to stop accepting", || {
        std::os::unix::net::UnixStream::connect(env.socket()).is_err()
    });
    let started = std::time::Instant::now();
    let out = env.run(&["--json", "status"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&s["running"], &s["shutting_down"], &s["pid"]), (&json!(false), &json!(true), &json!(pid)), "{s}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(alive(pid), "still in its grace period");
    assert!(env.run_ok(&["status"], 3).contains(&format!("(pid {pid}) is shutting down")));
    std::process::Command::new("pkill").args(["-f", tool]).status().unwrap();
    wait_until(Duration::from_secs(10), "the daemon to exit", || !alive(pid));
}

/// Between taking its lock and binding its socket a daemon serves nothing
/// (it replaces a dead one's socket and stops the tools it left, which on
/// a busy machine takes long): a status waits for it rather than call it
/// shutting down. A process of the test's holding the pid file's lock
/// stands in for such a daemon (a real one binds too soon to be caught
/// there), and exits without ever serving: then none runs.
#[test]
fn status_waits_for_a_lock_holder_that_has_not_bound_its_socket() {
    let env = Env::new();
    let pid_file = env.pid_file();
    std::fs::create_dir_all(pid_file.parent().unwrap()).unwrap();
    std::fs::set_permissions(pid_file.parent().unwrap(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    std::fs::write(&pid_file, "").unwrap();
    let mut holder = std::process::Command::new("flock").arg("-x").arg(&pid_file).args(["sleep", "4"]).spawn().unwrap();
    std::fs::write(&pid_file, format!("{}\n", holder.id())).unwrap();
    wait_until(Duration::from_secs(5), "the lock to be taken", || {
        verdict::paths::locked_daemon_pid(&pid_file) == Some(holder.id())
    });
    let out = env.run(&["--json", "status"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["running"], false, "{s}");
    assert!(s.get("shutting_down").is_none(), "taken for a daemon shutting down: {s}");
    assert!(holder.wait().unwrap().success());
}

/// A second `stop` during the first one's grace period finds the socket
/// refusing connections (the daemon stopped listening): it says so, rather
/// than call the socket gone, and its SIGTERM does not cut the first
/// one's grace short.
#[test]
fn a_second_stop_during_the_grace_says_so_and_does_not_cut_it_short() {
    let (env, pid, mut c, id) = slow_check_running("4.0561", "30s");
    let first = env.cmd().arg("stop").stdout(std::process::Stdio::piped()).spawn().unwrap();
    wait_until(Duration::from_secs(10), "the daemon to stop listening", || {
        std::os::unix::net::UnixStream::connect(env.socket())
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
    });
    let out = env.run_ok(&["stop"], 0);
    assert!(out.contains(&format!("pid {pid}; it was not taking connections: shutting down")), "{out}");
    let (reply, _) = c.reply(id);
    assert_eq!(reply["result"]["summary"]["outcomes"]["passed"], 1, "the tool ran to its end: {reply}");
    assert!(first.wait_with_output().unwrap().status.success());
    assert!(!alive(pid));
}

#[test]
fn sigterm_with_a_short_request_lets_it_complete() {
    let env = Env::with_slow_validator("2", "10s");
    let pid = env.start();
    let mut c = env.connect();
    let id = c.send("check", json!({ "paths": ["."] }));
    // SIGTERM once the check is in flight.
    let mut other = env.connect();
    wait_until(Duration::from_secs(10), "the check to be in flight", || {
        other.call("status", json!({}))["result"]["requests_in_flight"].as_u64() >= Some(1)
    });
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let (reply, _) = c.reply(id);
    assert_eq!(reply["result"]["summary"]["outcomes"]["passed"], 1, "{reply}");
    // New requests during the grace period are refused.
    wait_until(Duration::from_secs(10), "the daemon to exit", || !alive(pid));
    assert!(!env.socket().exists());
}

#[test]
fn a_daemon_from_another_build_is_replaced() {
    let env = Env::new();
    let old = env.start();
    // A copy of the executables has another build id (the daemon's mtime).
    let copy = crate::support::another_build(&env, "other-build");
    let out = crate::support::output_of_fresh_copy(env.cmd_of(&copy).args(["--json", "ping"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let new = v["pid"].as_u64().unwrap() as u32;
    assert_ne!(new, old, "the old daemon still answered");
    assert!(!alive(old), "the old daemon was not stopped");
    // Hand the project back to the binary under test (replacing again),
    // by `verdict daemon`, which does not take the other build's daemon
    // for its own.
    let back = env.json(&["daemon"]);
    assert_eq!(back["started"], true, "{back}");
    assert_ne!(back["pid"].as_u64().unwrap() as u32, new);
    assert!(!alive(new), "the other build's daemon was not stopped");
}

#[test]
fn logs_are_written_and_printed() {
    let env = Env::new();
    // None yet: said so, not as an OS error.
    let out = env.run(&["logs"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no daemon log at") && err.contains("no daemon has run detached here"), "{err}");
    assert!(!err.contains("os error"), "{err}");
    env.start();
    env.json(&["ping"]);
    env.wait_for_log("daemon ready");
    let out = env.run_ok(&["logs"], 0);
    assert!(out.contains("daemon ready"), "{out}");
    let raw = env.run_ok(&["logs", "--json", "-n", "1"], 0);
    let last: serde_json::Value = serde_json::from_str(raw.trim()).expect("a JSON log line");
    assert!(last.get("level").is_some());
    assert!(env.log_file().exists());
}

#[test]
fn a_raw_client_can_drive_the_whole_lifecycle() {
    let env = Env::new();
    let pid = env.start();
    let mut c = Raw::connect(&env.socket());
    let r = c.call("ping", json!({}));
    assert_eq!(error_code(&r), Some(verdict::protocol::code::HELLO_REQUIRED));
    let h = c.call("hello", crate::support::hello_params());
    assert_eq!(h["result"]["pid"].as_u64(), Some(pid as u64));
    assert_eq!(h["result"]["grace_ms"], 10_000, "what a client waits for, at least: {h}");
    let r = c.call("shutdown", json!({}));
    assert_eq!(r["result"]["stopping"], true);
    wait_until(Duration::from_secs(10), "exit", || !alive(pid));
}

/// A log whose last line was cut off (the daemon killed mid-write) still
/// shows that line, as it is (with `--json`, as a JSON string).
#[test]
fn logs_show_an_unfinished_last_line() {
    let env = Env::new();
    let log = env.log_file();
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    // The blank line, as after a record a full disk cut short, is none.
    std::fs::write(
        &log,
        "{\"level\":\"INFO\",\"fields\":{\"message\":\"first\"}}\n\n{\"level\":\"INFO\",\"fields\":{\"message\":\"cut",
    )
    .unwrap();
    let out = env.run_ok(&["logs"], 0);
    assert!(out.ends_with("INFO first\n{\"level\":\"INFO\",\"fields\":{\"message\":\"cut\n"), "{out}");
    // With `--json`, still one JSON document per line: the unfinished one
    // as a string.
    let out = env.run_ok(&["logs", "--json"], 0);
    assert_eq!(
        out,
        "{\"level\":\"INFO\",\"fields\":{\"message\":\"first\"}}\n\"{\\\"level\\\":\\\"INFO\\\",\\\"fields\\\":{\\\"message\\\":\\\"cut\"\n"
    );
    let out = env.run_ok(&["logs", "--json", "-n", "1"], 0);
    assert!(out.ends_with("cut\"\n"), "{out}");
    assert_eq!(env.run_ok(&["logs", "-n", "2"], 0).lines().count(), 2);
}

/// `verdict logs -f -n 0`, started once the daemon's ready line is in the
/// log (the line `-n 0` must not print), and the lines it prints.
fn follow_logs(env: &Env) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    env.wait_for_log("daemon ready");
    let mut follower = env.cmd().args(["logs", "-f", "-n", "0"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    (follower, rx)
}

/// Reloads until the follower prints a reload's line ("configuration
/// applied"): until then it may not have reached the end of the file.
/// Returns the lines it printed before, or `Err` with them when none came
/// within 20 s.
fn reload_until_followed(env: &Env, rx: &std::sync::mpsc::Receiver<String>) -> Result<Vec<String>, Vec<String>> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        env.run_ok(&["reload"], 0);
        let round = std::time::Instant::now() + Duration::from_millis(1000);
        while std::time::Instant::now() < round {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
                if l.contains("configuration applied") {
                    return Ok(seen);
                }
                seen.push(l);
            }
        }
    }
    Err(seen)
}

#[test]
fn logs_follow_prints_new_lines_as_they_are_written() {
    let env = Env::new();
    env.start();
    let (mut follower, rx) = follow_logs(&env);
    let followed = reload_until_followed(&env, &rx);
    let _ = follower.kill();
    let _ = follower.wait();
    let seen = followed.unwrap_or_else(|seen| panic!("no new log line followed; saw {seen:?}"));
    assert!(!seen.iter().any(|l| l.contains("daemon ready")), "-n 0 printed old lines: {seen:?}");
}

/// A follower keeps every line across rotations, however many happen
/// between two of its looks: each reload logs one "configuration applied",
/// and a 4 KiB log rotates every few reloads.
#[test]
fn logs_follow_loses_no_line_across_rotations() {
    let env = Env::new();
    env.write("verdict.toml", "[daemon]\nlog_max_size = \"4KiB\"\nlog_keep = 1000\n");
    env.start();
    let (mut follower, rx) = follow_logs(&env);
    // What the follower shows from the first reload line on is counted.
    if let Err(seen) = reload_until_followed(&env, &rx) {
        let _ = follower.kill();
        panic!("no reload's line was followed; saw {seen:?}");
    }
    // Lines of reloads made before the follower caught up may still come.
    while rx.recv_timeout(Duration::from_millis(500)).is_ok() {}
    const RELOADS: usize = 120;
    for _ in 0..RELOADS {
        env.run_ok(&["reload"], 0);
    }
    let mut followed = 0;
    while followed < RELOADS {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) => followed += usize::from(l.contains("configuration applied")),
            Err(_) => break,
        }
    }
    let _ = follower.kill();
    let _ = follower.wait();
    let rotated = (std::fs::read_dir(env.log_file().parent().unwrap()).unwrap())
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("daemon.log."))
        .count();
    assert!(rotated >= 5, "the log rotated too seldom to test anything ({rotated} times)");
    assert_eq!(followed, RELOADS, "lines lost across rotations");
}

/// `logs -n N` reaches back into the rotated files when the current one
/// holds fewer than N lines.
#[test]
fn logs_n_reaches_into_rotated_files() {
    let env = Env::new();
    env.write("verdict.toml", "[daemon]\nlog_max_size = \"4KiB\"\nlog_keep = 1000\n");
    env.start();
    for _ in 0..40 {
        env.run_ok(&["reload"], 0);
    }
    // Stopped: the log is complete and rotates no more.
    env.run_ok(&["stop"], 0);
    let current = std::fs::read_to_string(env.log_file()).unwrap().lines().count();
    let want = current + 20;
    let out = env.run_ok(&["--json", "logs", "-n", &want.to_string()], 0);
    let printed: Vec<&str> = out.lines().collect();
    assert_eq!(printed.len(), want, "{out}");
    // Oldest first, ending with the current file's lines.
    let log = std::fs::read_to_string(env.log_file()).unwrap();
    let rotated = std::fs::read_to_string(format!("{}.1", env.log_file().display())).unwrap();
    assert!(log.lines().all(|l| printed[20..].contains(&l)), "{out}");
    assert_eq!(printed[19], rotated.lines().last().unwrap(), "the rotated file's last line just before");
}

/// `status` names the log file of a daemon that writes one (started
/// detached), and none for one in the foreground, which logs to stderr and
/// so needs no state directory (a service's home may be read-only).
#[test]
fn status_names_the_log_file_only_when_there_is_one() {
    let env = Env::new();
    env.start();
    let detached = env.json(&["status"]);
    assert_eq!(detached["log_file"].as_str(), Some(env.log_file().to_str().unwrap()), "{detached}");
    env.run_ok(&["stop"], 0);
    let unusable = env.tmp.path().join("a-file");
    std::fs::write(&unusable, "").unwrap();
    let mut foreground = env
        .cmd()
        .env("XDG_STATE_HOME", &unusable)
        .args(["daemon", "--foreground"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(20), "the foreground daemon to serve", || {
        env.cmd().args(["--no-start", "ping"]).output().unwrap().status.success()
    });
    let status = env.json(&["status"]);
    assert!(status["log_file"].is_null(), "{status}");
    assert!(env.run_ok(&["status"], 0).contains("stderr (a foreground daemon)"));
    env.run_ok(&["stop"], 0);
    foreground.wait().unwrap();
}

/// An invalid `VERDICT_LOG` filter is said in the log, which goes on at
/// `info`, rather than ignored in silence.
#[test]
fn an_invalid_log_filter_is_said_in_the_log() {
    let env = Env::new();
    let out = env.cmd().env("VERDICT_LOG", "bogus[[").args(["ping"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // Said before the daemon was ready, through the same writer.
    let log = env.wait_for_log("daemon ready");
    assert!(log.contains(r#"VERDICT_LOG=\"bogus[[\" is not a valid filter"#), "{log}");
}

/// An empty `VERDICT_SOCKET` counts as unset; a set one is the socket.
#[test]
fn verdict_socket_names_the_socket_unless_empty() {
    let env = Env::new();
    // Starting the daemon with it empty (the daemon reads it too).
    let out = env.cmd().env("VERDICT_SOCKET", "").args(["ping"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let pid = env.start();
    let out = env.cmd().env("VERDICT_SOCKET", "").args(["--json", "ping"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["pid"].as_u64(), Some(u64::from(pid)));
    let elsewhere = env.tmp.path().join("nowhere.sock");
    let out = env.cmd().env("VERDICT_SOCKET", &elsewhere).args(["--no-start", "ping"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("nowhere.sock"), "{err}");
}

#[test]
fn a_client_without_its_daemon_executable_says_how_to_fix_it() {
    let env = Env::new();
    let dir = env.tmp.path().join("client-only");
    std::fs::create_dir(&dir).unwrap();
    let copy = dir.join("verdict");
    std::fs::copy(crate::support::bin(), &copy).unwrap();
    for args in [&["ping"][..], &["daemon", "--foreground"][..]] {
        let out = crate::support::output_of_fresh_copy(
            std::process::Command::new(&copy)
                .args(args)
                .current_dir(&env.project)
                .env("XDG_RUNTIME_DIR", &env.runtime)
                .env("XDG_STATE_HOME", &env.state)
                .env("XDG_CACHE_HOME", &env.cache),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("verdict-daemon") && err.contains("install"), "{args:?}: {err}");
    }
}

/// `verdict ping` must start fast: the client executable may not carry
/// RocksDB (its C++ costs milliseconds of relocations at every start). The
/// daemon's executable does carry it, which shows the probe can see it.
#[test]
fn the_client_executable_does_not_link_rocksdb() {
    let marker = b"rocksdb.block.cache";
    let client = std::fs::read(crate::support::bin()).unwrap();
    let daemon = std::fs::read(crate::support::daemon_bin()).unwrap();
    assert!(memchr::memmem::find(&daemon, marker).is_some(), "the probe no longer finds RocksDB in the daemon");
    assert!(
        memchr::memmem::find(&client, marker).is_none(),
        "the client links RocksDB: something in the `verdict` binary reaches the daemon's modules"
    );
}

/// Commands racing `verdict stop` (a check, a status, another stop) are
/// never refused for it: a daemon that shuts down before it starts their
/// request (it refuses it, or closes a connection it had not read) is
/// waited for, and the next one asked. Before, a quarter to a half of
/// such races failed with `shutting down` or a reset connection.
#[test]
fn commands_racing_stop_are_answered_by_the_next_daemon() {
    let env = Env::new();
    env.write("a.txt", "ok\n");
    for round in 0..8 {
        env.run_ok(&["ping"], 0);
        let mut stops: Vec<_> = (0..2)
            .map(|_| {
                let mut stop = env.cmd();
                stop.arg("stop").stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
                stop.spawn().unwrap()
            })
            .collect();
        let mut status = env.cmd();
        status.arg("status").stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let status = status.spawn().unwrap();
        let check = env.cmd().args(["check", "--no-cache", "a.txt"]).output().unwrap();
        let ping = env.cmd().arg("ping").output().unwrap();
        for (what, out) in [("check", check), ("ping", ping)] {
            assert_eq!(out.status.code(), Some(0), "round {round}: {what}: {}", String::from_utf8_lossy(&out.stderr));
        }
        // A status racing the stop answers from the daemon, or that none
        // runs; it does not fail.
        let status = status.wait_with_output().unwrap();
        assert!(matches!(status.status.code(), Some(0 | 3)), "round {round}: status: {status:?}");
        for stop in stops.drain(..) {
            let out = stop.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "round {round}: stop: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    // A stop racing a command that is starting the daemon: the command
    // starts the next one (it failed about once in seven before).
    for round in 0..12 {
        env.run_ok(&["stop"], 0);
        let mut ping = env.cmd();
        ping.arg("ping").stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let ping = ping.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(round * 3));
        let stop = env.run(&["stop"]);
        assert_eq!(stop.status.code(), Some(0), "round {round}: stop: {}", String::from_utf8_lossy(&stop.stderr));
        let out = ping.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "round {round}: ping: {}", String::from_utf8_lossy(&out.stderr));
    }
    env.run_ok(&["stop"], 0);
}

/// The files of a `version` command that holds up its caller.
struct Gated {
    /// Made when the command starts.
    started: std::path::PathBuf,
    /// Waited for (at most 60 s) before it prints its version.
    gate: std::path::PathBuf,
    /// A line per run.
    runs: std::path::PathBuf,
}

/// Configures one command validator whose `version` command says it
/// started, then waits for the test to open the gate: the daemon's start,
/// and each reload, wait with it.
fn gated_version(env: &Env) -> Gated {
    let g = Gated {
        started: env.tmp.path().join("started"),
        gate: env.tmp.path().join("gate"),
        runs: env.tmp.path().join("runs"),
    };
    let version = format!(
        "touch {s}; echo run >> {r}; i=0; while [ ! -e {g} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo v1",
        s = g.started.display(),
        r = g.runs.display(),
        g = g.gate.display()
    );
    env.write(
        "verdict.toml",
        format!(
            "builtins = false\n[validators.slow]\nkind = \"command\"\nfiles = [\"*.txt\"]\ncommand = [\"true\"]\nversion = [\"sh\", \"-c\", {}]\n",
            serde_json::to_string(&version).unwrap()
        ),
    );
    g
}

/// A signal at a bad moment: SIGHUP while the daemon starts (its `version`
/// commands running) is a reload once it is ready, not its death by the
/// signal's default action; SIGTERM while a SIGHUP's reload waits on a slow
/// `version` command stops the daemon without waiting for that command.
#[test]
fn signals_while_starting_or_reloading_are_acted_on_at_once() {
    use nix::sys::signal::{Signal, kill};
    let env = Env::new();
    let Gated { started, gate, runs } = gated_version(&env);
    let version_runs = || std::fs::read_to_string(&runs).unwrap_or_default().lines().count();
    let mut starting = env.cmd().args(["daemon"]).spawn().unwrap();
    wait_until(Duration::from_secs(20), "the version command to run at start-up", || started.exists());
    let pid: i32 = std::fs::read_to_string(env.pid_file()).unwrap().trim().parse().unwrap();
    let signal = |s| kill(nix::unistd::Pid::from_raw(pid), s).unwrap();
    signal(Signal::SIGHUP);
    std::fs::write(&gate, "").unwrap();
    assert!(starting.wait().unwrap().success(), "the daemon started");
    assert!(alive(pid as u32), "SIGHUP while starting killed the daemon");
    let log = || std::fs::read_to_string(env.log_file()).unwrap_or_default();
    wait_until(Duration::from_secs(20), "the SIGHUP's reload once ready", || {
        log().rsplit_once("daemon ready").is_some_and(|(_, after)| after.contains("configuration reloaded"))
    });

    // SIGHUPs while a reload runs make one more reload, not one each: the
    // `verdict reload` after them is the third (the turns are first come,
    // first served, so reloads queued one per signal would come before it).
    std::fs::remove_file(&gate).unwrap();
    std::fs::remove_file(&started).unwrap();
    let before = version_runs();
    signal(Signal::SIGHUP);
    wait_until(Duration::from_secs(20), "the reload's version command", || started.exists());
    let hups = || log().rsplit_once("daemon ready").map_or(0, |(_, after)| after.matches("SIGHUP: reloading").count());
    for _ in 0..5 {
        // One at a time: signals sent at once may arrive as one.
        let seen = hups();
        signal(Signal::SIGHUP);
        wait_until(Duration::from_secs(20), "the SIGHUP to be logged", || hups() > seen);
    }
    std::fs::write(&gate, "").unwrap();
    wait_until(Duration::from_secs(20), "the pending reload", || version_runs() == before + 2);
    env.json(&["reload"]);
    assert_eq!(version_runs(), before + 3, "SIGHUPs while a reload ran were not coalesced");

    // A reload held up by its `version` command, then SIGTERM.
    std::fs::remove_file(&gate).unwrap();
    std::fs::remove_file(&started).unwrap();
    signal(Signal::SIGHUP);
    wait_until(Duration::from_secs(20), "the reload's version command", || started.exists());
    signal(Signal::SIGTERM);
    // Well before the version command's 60 s (or its 10 s limit).
    wait_until(Duration::from_secs(8), "the daemon to stop during the reload", || !alive(pid as u32));
    std::fs::write(&gate, "").unwrap();
    assert!(log().contains("reload abandoned: shutting down"), "{}", log());
}

/// A daemon no client has used for `daemon.exit_after_idle` exits on its
/// own, cleanly (its socket and pid file removed), and the next command
/// starts another.
#[test]
fn an_idle_daemon_exits_and_the_next_command_starts_another() {
    let env = Env::new();
    env.write("verdict.toml", "[daemon]\nexit_after_idle = \"1s\"\n");
    let pid = env.json(&["ping"])["pid"].as_u64().unwrap() as u32;
    wait_until(Duration::from_secs(20), "the idle daemon to exit", || !alive(pid));
    assert!(!env.socket().exists() && !env.pid_file().exists(), "files left behind");
    let log = std::fs::read_to_string(env.log_file()).unwrap();
    assert!(log.contains("no client for daemon.exit_after_idle: shutting down"), "{log}");
    // The next one is not to exit a second after this test's command.
    env.write("verdict.toml", "");
    let again = env.json(&["ping"])["pid"].as_u64().unwrap() as u32;
    assert_ne!(again, pid);
    assert!(alive(again));
}

/// `verdict stop` while the daemon is still starting (a `version` command
/// holding it up) stops it once it has given no hello for 3 s, rather than
/// wait for it to serve.
#[test]
fn stop_stops_a_daemon_still_starting_at_once() {
    let env = Env::new();
    let Gated { started, gate, .. } = gated_version(&env);
    let mut starting = env.cmd().args(["daemon"]).spawn().unwrap();
    wait_until(Duration::from_secs(20), "the version command to run at start-up", || started.exists());
    let pid: u32 = std::fs::read_to_string(env.pid_file()).unwrap().trim().parse().unwrap();
    let t = std::time::Instant::now();
    let out = env.json(&["stop"]);
    // The version command would hold the start for 60 s (10 s at most by
    // its own limit).
    assert!(t.elapsed() < Duration::from_secs(8), "stop took {:?}", t.elapsed());
    assert_eq!((out["stopped"].as_bool(), out["pid"].as_u64()), (Some(true), Some(u64::from(pid))), "{out}");
    assert!(!alive(pid));
    std::fs::write(&gate, "").unwrap();
    // The command that was starting it starts another (as any command a
    // stop races with does), which runs.
    assert!(starting.wait().unwrap().success());
    let again = env.json(&["status"])["pid"].as_u64().unwrap() as u32;
    assert_ne!(again, pid);
}

/// A second daemon of the project, on a socket of its own, writes a log of
/// its own: two writing one file, each rotating it under the other, lost
/// lines and killed one's logging for good.
#[test]
fn a_daemon_on_another_socket_has_a_log_of_its_own() {
    let env = Env::new();
    env.write("verdict.toml", "[daemon]\nlog_max_size = \"4KiB\"\nlog_keep = 50\n");
    env.start();
    let dir = env.tmp.path().join("other");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let other = dir.join("other.sock");
    let other_s = other.to_str().unwrap();
    let first = env.json(&["status"]);
    env.json(&["--socket", other_s, "ping"]);
    let second = env.json(&["--socket", other_s, "status"]);
    let (a, b) = (first["log_file"].as_str().unwrap(), second["log_file"].as_str().unwrap());
    assert_ne!(a, b, "both daemons log to {a}");
    // Each is rotated many times, and each keeps every line it wrote.
    for _ in 0..20 {
        env.json(&["reload"]);
        env.json(&["--socket", other_s, "reload"]);
    }
    env.run_ok(&["--socket", other_s, "stop"], 0);
    env.run_ok(&["stop"], 0);
    for log in [a, b] {
        let base = std::path::Path::new(log);
        let mut text = String::new();
        for n in 0..=50 {
            let path = if n == 0 { base.to_path_buf() } else { base.with_extension(format!("log.{n}")) };
            text += &std::fs::read_to_string(path).unwrap_or_default();
        }
        assert!(base.with_extension("log.2").exists(), "{log} was rotated");
        assert_eq!(text.matches("configuration applied").count(), 20, "{log}");
        assert_eq!(text.matches("daemon stopped").count(), 1, "{log}");
    }
}

/// Without `HOME`, and with no home in the password database (a uid of a
/// container, say), the state and cache directories go under a private
/// `verdict-<uid>` in the temporary directory, never the shared directory
/// itself; one someone else made first is refused.
#[test]
fn without_a_home_the_directories_are_private_to_the_user() {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs verdict as another user: run the suite as root (scripts/test does, on a fresh machine)"
    );
    let t = tempfile::tempdir().unwrap();
    let (project, tmp) = (t.path().join("project"), t.path().join("tmp"));
    std::fs::create_dir(&project).unwrap();
    std::fs::create_dir(&tmp).unwrap();
    for (dir, mode) in [(t.path(), 0o755), (project.as_path(), 0o755), (tmp.as_path(), 0o1777)] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    // A uid no password database names, running a copy it can reach.
    let uid = 54_321;
    let exe = t.path().join("verdict");
    std::fs::copy(crate::support::bin(), &exe).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(&exe)
            .current_dir(&project)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("TMPDIR", &tmp)
            // As `sudo -u nobody` leaves it: not a directory to write in.
            .env("HOME", "/nonexistent")
            .uid(uid)
            .gid(uid)
            .args(args)
            .output()
            .unwrap()
    };
    let logs = || run(&["logs"]);
    let out = logs();
    let err = String::from_utf8_lossy(&out.stderr);
    let own = tmp.join(format!("verdict-{uid}"));
    assert!(err.contains(&format!("{}/.local/state/verdict/", own.display())), "{err}");
    let meta = std::fs::metadata(&own).unwrap();
    assert_eq!((meta.uid(), meta.permissions().mode() & 0o777), (uid, 0o700));
    // Made by someone else first: refused, nothing written in it.
    std::fs::remove_dir(&own).unwrap();
    std::fs::create_dir(&own).unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = logs();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("refusing to use") && err.contains("owned by uid 0") && err.contains("set HOME"), "{err}");
    assert_eq!(std::fs::read_dir(&own).unwrap().count(), 0);
    // What needs no such directory still works.
    let out = run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The daemon gives its free memory back once a check is over and 2 s
/// have passed, not for `status` or `ping`; `status` says how often, and
/// how much it holds. (Real time: the daemon is another process.)
#[test]
fn memory_is_given_back_after_a_check_and_not_for_status() {
    let env = Env::new();
    std::fs::write(env.project.join("a.txt"), "hello\n").unwrap();
    env.start();
    for _ in 0..3 {
        env.run_ok(&["ping"], 0);
        env.json(&["status"]);
    }
    std::thread::sleep(Duration::from_millis(2600));
    let status = env.json(&["status"]);
    assert_eq!(status["memory"]["returns"], 0, "{status}");
    assert!(status["memory"]["resident_bytes"].as_u64().is_some_and(|b| b > 1 << 20), "{status}");
    env.run_ok(&["check", "."], 0);
    wait_until(Duration::from_secs(20), "the memory to be given back after the check", || {
        env.json(&["status"])["memory"]["returns"] == 1
    });
    assert!(env.run_ok(&["status"], 0).contains("free memory given back 1 time)"));
    env.run_ok(&["stop"], 0);
}

/// A daemon that cannot start (an invalid `verdict.toml`) and cannot write
/// why (stderr on a full disk: `/dev/full`) still exits with the documented
/// status 2, not a panic's 101.
#[test]
fn a_daemon_that_cannot_say_why_it_failed_still_exits_2() {
    let env = Env::new();
    env.write("verdict.toml", "[validators.x]\ntimeout = 5\n");
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = env.cmd().args(["daemon", "--foreground"]).stderr(full).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// A check that ends within the grace period of a shutdown is answered
/// whole, though its client reads the reply only after the daemon has
/// begun to exit: the connections send what is queued before it does
/// (before, the runtime ended under a 1 MB reply, cut off mid-line).
#[test]
fn a_check_ending_in_the_grace_period_is_answered_whole() {
    let env = Env::new();
    for d in 0..20 {
        for f in 0..100 {
            env.write(&format!("d{d}/f{f}.json"), format!("{{\"a\": {f}}}\n"));
        }
    }
    let pid = env.start();
    let mut client = env.connect();
    let id = client.send("check", json!({ "all_outcomes": true, "no_cache": true }));
    // Begun before the shutdown (one begun after is refused, `started:
    // false`): its first word, a progress notification, says so.
    let first = client.read().expect("the check's first notification");
    assert_eq!((&first["method"], &first["params"]["request"]), (&json!("check/progress"), &json!(id)), "{first}");
    // Read nothing more yet: the reply (megabytes) waits in the daemon's
    // queue.
    let mut other = env.connect();
    assert!(other.call("shutdown", json!({})).get("result").is_some());
    env.wait_for_log("all requests finished within the grace period");
    // The daemon waits for the reply to be read; it exited at once before.
    // (Polls a process: paused time cannot stand in.)
    let waited = std::time::Instant::now();
    while alive(pid) && waited.elapsed() < Duration::from_millis(1500) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (reply, _) = client.reply(id);
    let outcomes = reply["result"]["outcomes"].as_array().unwrap_or_else(|| panic!("{reply}"));
    assert!(outcomes.len() >= 2000, "{}", outcomes.len());
    assert_eq!(outcomes.len() as u64, reply["result"]["summary"]["pairs"].as_u64().unwrap());
}

/// The CLI on a stderr it cannot write (`2>/dev/full`, `2>&1 | head` after
/// the reader left) keeps its documented exit status, for a note (1, with
/// the finding) and for an error (2, with `--json`'s document on stdout),
/// where a panic would exit 101.
#[test]
fn a_cli_that_cannot_write_its_notes_or_errors_keeps_its_exit_status() {
    let env = Env::new();
    env.write("a.txt", "x  \n");
    env.write("skip.txt", "x\n");
    env.write("verdict.toml", "[check]\nexclude = [\"skip.txt\"]\n");
    let _stop = env.stop_when_done(&env.project);
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = env.cmd().args(["check", "a.txt", "skip.txt"]).stderr(full()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = env.cmd().args(["--json", "check", "missing"]).stderr(full()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["error"]["message"].as_str().unwrap().contains("no such file or directory"), "{doc}");
}

/// A session without `XDG_RUNTIME_DIR` (cron, a bare ssh login) finds no
/// daemon at the socket of one with it: it starts a second daemon for the
/// project, at the socket under the temporary directory. That daemon keeps
/// a log of its own: two daemons writing and rotating one file lose lines.
#[test]
fn daemons_of_one_project_in_two_runtime_directories_keep_their_own_logs() {
    let env = Env::new();
    env.start();
    let tmp = env.tmp.path().join("tmpdir");
    std::fs::create_dir(&tmp).unwrap();
    let bare = |args: &[&str]| {
        let out = env.cmd().env_remove("XDG_RUNTIME_DIR").env("TMPDIR", &tmp).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out
    };
    bare(&["ping"]);
    let theirs: Value = serde_json::from_slice(&bare(&["--json", "status"]).stdout).unwrap();
    let mine = env.json(&["status"]);
    assert_ne!(theirs["pid"], mine["pid"], "{theirs} {mine}");
    let (a, b) = (theirs["log_file"].as_str().unwrap(), mine["log_file"].as_str().unwrap());
    assert_ne!(a, b);
    assert!(std::path::Path::new(a).exists() && std::path::Path::new(b).exists());
    bare(&["stop"]);
}

/// A relative `TMPDIR` (with no `XDG_RUNTIME_DIR`) is not taken: the
/// client would have read it against its working directory and the daemon
/// against `/`, waiting 30 s for a daemon serving elsewhere.
#[test]
fn a_relative_tmpdir_is_not_taken_for_the_runtime_directory() {
    let env = Env::new();
    std::fs::create_dir_all(env.project.join("sub")).unwrap();
    let bare = |args: &[&str]| {
        let mut cmd = env.cmd();
        cmd.env_remove("XDG_RUNTIME_DIR").env("TMPDIR", "relative/tmp").current_dir(env.project.join("sub"));
        cmd.args(args).output().unwrap()
    };
    let started = std::time::Instant::now();
    let out = bare(&["--json", "ping"]);
    let stopped = bare(&["stop"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    assert!(stopped.status.success(), "{}", String::from_utf8_lossy(&stopped.stderr));
    assert!(!env.project.join("sub/relative").exists());
    assert!(!std::path::Path::new("/relative").exists());
}

/// A daemon stopped (SIGSTOP, a frozen cgroup) past its jobs' deadlines
/// while their tools ran on and ended in time: resumed, it finds the
/// deadlines long past, and gives the jobs a moment to deliver what the
/// tools did, rather than timing them out (and skipping the validator's
/// other files, and restarting it). The stop is a real one, of another
/// process: paused time cannot stand in.
#[test]
fn jobs_whose_tools_ended_while_the_daemon_was_stopped_are_not_timed_out() {
    let env = Env::new();
    let marks = env.tmp.path().join("marks");
    env.write(
        "verdict.toml",
        format!(
            "builtins = false\n[validators.s]\nkind = \"command\"\nfiles = [\"*.txt\"]\ntimeout = \"1s\"\n\
             command = [\"sh\", \"-c\", \"echo x >> '{}'; sleep 0.2\", \"sh\"]\n",
            marks.display()
        ),
    );
    for i in 0..8 {
        env.write(&format!("f{i}.txt"), "x\n");
    }
    let pid = env.start();
    let mut check = env.cmd();
    check.args(["check", "--format", "json", "."]).stdout(std::process::Stdio::piped());
    let check = check.spawn().unwrap();
    wait_until(Duration::from_secs(10), "a tool to start", || marks.exists());
    let daemon = nix::unistd::Pid::from_raw(pid as i32);
    nix::sys::signal::kill(daemon, nix::sys::signal::Signal::SIGSTOP).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    nix::sys::signal::kill(daemon, nix::sys::signal::Signal::SIGCONT).unwrap();
    let out = check.wait_with_output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["summary"]["outcomes"]["passed"], 8, "{}", r["summary"]);
    assert_eq!(out.status.code(), Some(0));
}

/// A file larger than the memory the daemon may take (an address-space
/// limit: `ulimit -v`) is that file's error, and the daemon goes on (it
/// aborted on the allocation, every check, until the file was cached).
/// The file is sparse: 64 GiB that take no disk, against a limit of 16 GB,
/// which a daemon on a machine of many cores (more threads, more arenas)
/// still starts under.
#[test]
fn a_file_too_large_for_the_daemons_memory_limit_is_its_error_not_an_abort() {
    let env = Env::new();
    env.write("verdict.toml", "[check]\nmax_file_size = \"100GiB\"\n");
    env.write("small.txt", "fine\n");
    let big = std::fs::File::create(env.project.join("big.txt")).unwrap();
    big.set_len(64 << 30).unwrap();
    let _stop = env.stop_when_done(&env.project);
    let script = "ulimit -v 16000000 && exec \"$0\" check --format json .";
    let out = env.cmd_of(std::path::Path::new("/bin/sh")).args(["-c", script]).arg(crate::support::bin()).output();
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let big: Vec<&Value> = r["outcomes"].as_array().unwrap().iter().filter(|o| o["file"] == "big.txt").collect();
    assert!(!big.is_empty());
    for o in big {
        let reason = o["outcome"]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("cannot hold its 68719476736 bytes in memory"), "{o}");
    }
    assert_eq!(env.json(&["ping"])["pong"], true);
}

/// A log the daemon cannot open (a directory in its place), or a start-up
/// stderr file the CLI cannot make, does not keep the daemon from starting
/// (an audit saw every command fail with exit 2): its records are lost
/// until the log can be opened, and each says why where it can.
#[test]
fn a_daemon_starts_though_its_log_or_start_up_file_cannot_be_opened() {
    let env = Env::new();
    env.write("a.txt", "fine\n");
    let log = env.log_file();
    std::fs::create_dir_all(&log).unwrap();
    let out = env.cmd().args(["check", "."]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let startup = std::fs::read_to_string(log.with_file_name("daemon.stderr")).unwrap();
    assert!(startup.contains("cannot open the log") && startup.contains("Is a directory"), "{startup}");
    // `verdict logs` names the path.
    let out = env.cmd().arg("logs").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("daemon.log") && err.contains("not a regular file"), "{err}");
    // A start-up file that cannot be made: said, and the daemon starts,
    // logging to its log again.
    env.run(&["stop"]);
    std::fs::remove_dir(&log).unwrap();
    let stderr = log.with_file_name("daemon.stderr");
    std::fs::remove_file(&stderr).unwrap();
    std::fs::create_dir(&stderr).unwrap();
    let out = env.cmd().args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("daemon.stderr") && err.contains("start-up errors are not kept"), "{err}");
    assert!(std::fs::read_to_string(&log).unwrap().contains("daemon ready"));
}

/// A state directory that cannot be made (`XDG_STATE_HOME` read-only, or,
/// here, under a file) does not keep the daemon from starting: only its log
/// and start-up errors are lost, which the check says once.
#[test]
fn a_state_directory_that_cannot_be_made_loses_only_the_log() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let file = env.tmp.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let out = env.cmd().env("XDG_STATE_HOME", file.join("state")).args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("cannot make") && err.contains("the daemon's log and start-up errors are not kept"), "{err}");
    assert_eq!(err.matches("verdict: note:").count(), 1, "{err}");
    let out = env.cmd().env("XDG_STATE_HOME", file.join("state")).args(["logs"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("keeps no log") && said.contains("XDG_STATE_HOME"), "{said}");
    env.run_ok(&["stop"], 0);
    // A daemon that then fails to start still says why.
    env.write("verdict.toml", "builtins = 3\n");
    let out = env.cmd().env("XDG_STATE_HOME", file.join("state")).args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the daemon failed to start") && err.contains("builtins"), "{err}");
}
