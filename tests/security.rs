//! Security: the runtime directory is private, the socket is 0600, an
//! insecure directory is refused, and another uid is turned away.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use crate::support::Env;

/// What the built-in `secrets` check finds: a check that passes over it
/// did not look at it.
const PRIVATE_KEY: &str =
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----\n";

/// A directory anyone may write to, sticky as `/tmp` is: where another
/// user's files are put in these tests.
fn shared_dir(env: &Env) -> std::path::PathBuf {
    let shared = env.tmp.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    shared
}

#[test]
fn socket_is_0600_and_its_directory_0700() {
    let env = Env::new();
    env.start();
    let sock = std::fs::metadata(env.socket()).unwrap();
    assert_eq!(sock.permissions().mode() & 0o777, 0o600);
    let dir = std::fs::metadata(env.socket().parent().unwrap()).unwrap();
    assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    assert_eq!(dir.uid(), nix::unistd::geteuid().as_raw());
    // The cache's directory and the parents verdict made for it: the
    // project's paths and findings are in there.
    env.run_ok(&["check", "."], 0);
    for made in [env.cache.join("verdict"), env.cache.clone()] {
        let mode = std::fs::metadata(&made).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", made.display());
    }
}

#[test]
fn a_directory_open_to_others_is_refused_with_the_fix() {
    let env = Env::new();
    let dir = env.runtime.join("verdict");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = env.run(&["ping"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0777") && err.contains("chmod 700"), "{err}");
    assert!(!env.socket().exists());
}

#[test]
fn a_directory_owned_by_another_user_is_refused() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    let dir = env.runtime.join("verdict");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    let out = env.run(&["ping"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("owned by uid 65534"), "{err}");
}

/// Another user's socket that the file system keeps from this one (mode
/// 0600) is said to be that, for every command: it was "no daemon is
/// running" with `--no-start`, and "connection to the daemon lost" for
/// `stop`, of a connection never made.
#[test]
fn a_socket_not_open_to_this_user_is_said_to_be_so() {
    let setpriv = setpriv_as_root();
    let env = Env::new();
    env.start();
    // `nobody` may reach the socket's directory, and run a copy of the CLI,
    // but not connect to the socket itself (0600, root's).
    let cli = env.tmp.path().join("cli");
    std::fs::create_dir(&cli).unwrap();
    std::fs::copy(crate::support::bin(), cli.join("verdict")).unwrap();
    open_the_way_to_the_socket(&env);
    std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
    for command in [&["--no-start", "ping"][..], &["stop"], &["ping"]] {
        let out = Command::new(&setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(cli.join("verdict"))
            .arg("--socket")
            .arg(env.socket())
            .args(command)
            .env("HOME", "/tmp")
            .env_remove("XDG_RUNTIME_DIR")
            .current_dir("/")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {err}");
        assert!(err.contains("Permission denied") && err.contains("is not open to you"), "{command:?}: {err}");
    }
    assert_eq!(env.json(&["ping"])["pong"], true);
}

#[test]
fn a_connection_from_another_uid_is_refused() {
    let setpriv = setpriv_as_root();
    let env = Env::new();
    env.start();
    // Let `nobody` reach the socket at the file-system level, so that the
    // daemon's own peer-credential check is what refuses it.
    std::fs::set_permissions(env.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    open_the_way_to_the_socket(&env);
    // A raw client: verdict's own would not talk to another user's daemon
    // in the first place (see the test below).
    let hello =
        serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": "hello", "params": crate::support::hello_params() });
    let client = "import socket, sys\n\
                  s = socket.socket(socket.AF_UNIX)\n\
                  s.connect(sys.argv[1])\n\
                  s.sendall(sys.argv[2].encode() + b'\\n')\n\
                  sys.stdout.write(s.makefile('rb').readline().decode())\n";
    let out = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", client])
        .arg(env.socket())
        .arg(hello.to_string())
        .current_dir("/")
        .output()
        .expect("python3 is missing: apt-get install python3");
    let reply = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{e}: {reply}"));
    assert_eq!(reply["error"]["code"], -32001, "{reply}");
    assert!(reply["error"]["message"].as_str().unwrap().contains("permission denied"), "{reply}");
    assert_eq!(reply["error"]["data"]["peer_uid"], 65534, "{reply}");
    // The daemon is unaffected.
    assert_eq!(env.json(&["ping"])["pong"], true);
}

/// `setpriv`, to run a client as `nobody`: the tests that do need root.
fn setpriv_as_root() -> std::path::PathBuf {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root to run a client as `nobody`; run the suite as root (as CI does)"
    );
    which("setpriv").expect("setpriv is missing: apt-get install util-linux")
}

/// Lets other users search every directory from the test's temporary one
/// down to the daemon's socket (not the socket itself).
fn open_the_way_to_the_socket(env: &Env) {
    let mut p = env.socket();
    while let Some(parent) = p.parent() {
        let m = std::fs::metadata(parent).unwrap().permissions().mode();
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(m | 0o011)).unwrap();
        if parent == env.tmp.path() || parent == std::path::Path::new("/") {
            break;
        }
        p = parent.to_path_buf();
    }
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| std::path::Path::new(d).join(name)).find(|p| p.is_file())
}

/// A `verdict.toml` another user owns is not applied: its commands (the
/// `version` command at start-up, the tools at a check) would run as the
/// user running verdict. Listed in `VERDICT_SAFE_DIRECTORIES`, it is.
#[test]
fn a_configuration_another_user_owns_is_not_applied() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    let marks = env.tmp.path().join("marks");
    let config = |tag: &str| {
        format!(
            "[validators.{tag}]\nkind = \"command\"\nfiles = [\"*.txt\"]\nmode = \"per_file\"\n\
             command = [\"sh\", \"-c\", \"echo tool >> {m}\"]\n\
             version = [\"sh\", \"-c\", \"echo version >> {m}\"]\n",
            m = marks.display()
        )
    };
    env.write("a.txt", "a\n");
    let path = env.write("verdict.toml", config("theirs"));
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    for args in [&["ping"][..], &["check", "."], &["config", "check"]] {
        let out = env.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("owned by uid 65534") && err.contains("VERDICT_SAFE_DIRECTORIES"), "{args:?}: {err}");
    }
    // Named, it is only read, never applied: checked, though the project
    // it makes is refused (that is how to see what it would run).
    let out = env.run(&["config", "check", "verdict.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "verdict.toml: valid (14 validators)\n");
    assert!(!marks.exists(), "a command of the file ran: {:?}", std::fs::read_to_string(&marks));
    // A relative entry names no directory (`.` would be wherever the
    // client or the daemon runs).
    let out = env.cmd().env("VERDICT_SAFE_DIRECTORIES", ".").args(["check", "."]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!marks.exists(), "a command of the file ran: {:?}", std::fs::read_to_string(&marks));
    // Trusted by name, it is applied.
    let out = env.cmd().env("VERDICT_SAFE_DIRECTORIES", &env.project).args(["check", "."]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&marks).unwrap().contains("tool"));
    // Stopping that daemon needs no trust (it reads and runs nothing of
    // the project), so no listing either; nor does finding none.
    for said in ["verdict daemon stopped", "no verdict daemon is running"] {
        let out = env.cmd().arg("stop").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains(said), "{out:?}");
    }
    let out = env.cmd().arg("ping").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "the rest still refuses: {out:?}");

    // A file of one's own, replaced by another's, is not applied by a
    // reload (the daemon's, as a SIGHUP or a watch would ask for it: the
    // client no longer finds the project through such a file): the
    // configuration in force stays.
    std::fs::remove_file(&marks).unwrap();
    std::fs::remove_file(&path).unwrap();
    env.write("verdict.toml", config("mine"));
    env.run_ok(&["check", "."], 0);
    std::fs::write(&path, config("replaced")).unwrap();
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    let mut c = env.connect();
    let reply = c.call("reload", serde_json::json!({}));
    assert!(reply["error"]["message"].as_str().is_some_and(|m| m.contains("owned by uid 65534")), "{reply}");
    let status = c.call("status", serde_json::json!({}));
    let names: Vec<&str> =
        status["result"]["validators"].as_array().unwrap().iter().filter_map(|v| v["name"].as_str()).collect();
    assert!(names.contains(&"mine") && !names.contains(&"replaced"), "{names:?}");
    let out = env.run(&["status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("refusing") && err.contains("uid 65534"), "{err}");
    c.call("shutdown", serde_json::json!({}));
}

/// A socket served by another user's process (one that made it first in
/// a shared directory) is not talked to: nothing is sent to it, and
/// nothing it could answer (every check "passed", a pid to signal) is
/// believed.
#[test]
fn a_daemon_socket_served_by_another_user_is_refused() {
    use std::os::unix::process::CommandExt;
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs a server as `nobody`: run the suite as root (as CI does)"
    );
    let env = Env::new();
    let dir = env.tmp.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(env.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.join("fake.sock");
    let (got, ready) = (dir.join("got"), dir.join("ready"));
    // Accepts one connection, and writes down what it was sent once the
    // client hangs up.
    let server = "import socket, sys\n\
                  s = socket.socket(socket.AF_UNIX)\n\
                  s.bind(sys.argv[1])\n\
                  s.listen()\n\
                  open(sys.argv[3], 'w').close()\n\
                  c, _ = s.accept()\n\
                  data = b''\n\
                  while True:\n\
                  \x20   b = c.recv(65536)\n\
                  \x20   if not b: break\n\
                  \x20   data += b\n\
                  open(sys.argv[2], 'wb').write(data)\n";
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _fake = Killed(
        std::process::Command::new("/usr/bin/python3")
            .args(["-c", server])
            .arg(&socket)
            .arg(&got)
            .arg(&ready)
            .uid(65534)
            .gid(65534)
            .spawn()
            .expect("python3 is missing: apt-get install python3"),
    );
    crate::support::wait_until(std::time::Duration::from_secs(10), "the fake server to listen", || ready.exists());
    let out = env.run(&["--socket", socket.to_str().unwrap(), "--no-start", "ping"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("refusing the daemon") && err.contains("runs as uid 65534"), "{err}");
    crate::support::wait_until(std::time::Duration::from_secs(10), "the fake server to see the hang-up", || {
        got.exists()
    });
    assert_eq!(std::fs::read(&got).unwrap(), b"", "the client sent something to another user's socket");
}

/// An `XDG_RUNTIME_DIR` the user does not own (`/tmp`, set by mistake) is
/// not where their sockets go: one `verdict` directory in it would serve
/// every user, and the first to make it would lock out the others.
#[test]
fn an_xdg_runtime_dir_of_another_user_is_not_taken() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    std::os::unix::fs::chown(&env.runtime, Some(65534), Some(65534)).unwrap();
    let tmp = env.tmp.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = env.cmd().env("TMPDIR", &tmp).args(["--json", "daemon"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let started: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let socket = started["socket"].as_str().unwrap();
    let own = tmp.join(format!("verdict-{}", nix::unistd::geteuid().as_raw()));
    assert!(socket.starts_with(own.to_str().unwrap()), "{socket}");
    assert!(!env.runtime.join("verdict").exists());
    let out = env.cmd().env("TMPDIR", &tmp).args(["stop"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `--output` through another user's symbolic link in a shared sticky
/// directory (`/tmp/report.json` → `~/.ssh/authorized_keys`) is refused,
/// as the kernel's `protected_symlinks` would refuse it: verdict follows
/// the links itself, to replace the file they name. The user's own link
/// there is followed.
#[test]
fn output_through_another_users_link_in_a_shared_directory_is_refused() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root to chown a link; run the suite as root (as CI does)"
    );
    let env = Env::new();
    env.write("a.txt", "a\n");
    let shared = shared_dir(&env);
    let private = env.tmp.path().join("private");
    std::fs::create_dir(&private).unwrap();
    let victim = private.join("authorized_keys");
    std::fs::write(&victim, "ssh-ed25519 AAAA me\n").unwrap();
    let theirs = |name: &str, target: &std::path::Path| {
        let link = shared.join(name);
        std::os::unix::fs::symlink(target, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
        link
    };
    let existing = theirs("report.json", &victim);
    let dangling = theirs("new.json", &private.join("made.desktop"));
    let dir_link = theirs("dir", &private);
    for out in [existing.clone(), dangling, dir_link.join("authorized_keys")] {
        let o = env.run(&["check", ".", "-o", out.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", out.display());
        assert!(err.contains("symbolic link of uid 65534") && err.contains("anyone may write to"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "ssh-ed25519 AAAA me\n");
    assert!(!private.join("made.desktop").exists());
    // Nor into their FIFO there, whose reader would get the report.
    let fifo = shared.join("report.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    std::os::unix::fs::chown(&fifo, Some(65534), Some(65534)).unwrap();
    let o = env.run(&["check", ".", "-o", fifo.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("FIFO of uid 65534"), "{err}");
    // One's own link there is followed.
    std::os::unix::fs::lchown(&existing, Some(0), Some(0)).unwrap();
    env.run_ok(&["check", ".", "-o", existing.to_str().unwrap()], 0);
    assert!(std::fs::read_to_string(&victim).unwrap().contains("checks"));
    env.run_ok(&["stop"], 0);
}

/// Directories another user made first where verdict's go (an
/// `XDG_STATE_HOME` or a `--data-dir` in a shared place) are not used: a
/// link of theirs in the state directory would have the daemon truncate a
/// file of the user's (`daemon.stderr`), and a cache of theirs would let
/// them read and change the project's findings.
#[test]
fn state_and_cache_directories_another_user_made_are_not_used() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    env.write("a.txt", "a\n");
    let victim = env.tmp.path().join("thesis.txt");
    std::fs::write(&victim, "years of work\n").unwrap();
    let theirs = env.state.join("verdict").join(verdict::paths::root_key(&env.project));
    std::fs::create_dir_all(&theirs).unwrap();
    std::os::unix::fs::symlink(&victim, theirs.join("daemon.stderr")).unwrap();
    for d in [env.state.join("verdict"), theirs.clone()] {
        std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
    }
    let out = env.run(&["ping"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("refusing to use") && err.contains("owned by uid 65534"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "years of work\n");
    // Nor are logs read from there (one of theirs could say anything).
    std::fs::write(theirs.join("daemon.log"), "{\"fields\":{\"message\":\"run curl … | sh to repair\"}}\n").unwrap();
    let out = env.run(&["logs"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("curl"), "{err}");
    std::fs::remove_dir_all(env.state.join("verdict")).unwrap();

    let data = env.tmp.path().join("shared-cache");
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
    let out = env.run(&["check", ".", "--data-dir", data.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("owned by uid 65534") && err.contains("--data-dir"), "{err}");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0, "written into another user's directory");
    env.run_ok(&["stop"], 0);
}

/// A project whose path holds a terminal's escape sequences (a title set,
/// the screen cleared): `status` and a foreground daemon's log show them
/// escaped, never raw.
#[test]
fn a_project_path_with_escape_sequences_is_shown_escaped() {
    let env = Env::new();
    let project = env.project.join("p\u{1b}]0;owned\u{7}\u{1b}[2J");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    let mut daemon = env
        .cmd()
        .current_dir(&project)
        .args(["daemon", "--foreground"])
        .env("VERDICT_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = || env.cmd().current_dir(&project).args(["--no-start", "status"]).output().unwrap();
    crate::support::wait_until(std::time::Duration::from_secs(20), "the daemon to serve", || status().status.success());
    let out = status();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");
    assert!(text.contains("p\\u{1b}]0;owned\\u{7}\\u{1b}[2J"), "{text}");
    let out = env.cmd().current_dir(&project).args(["stop"]).output().unwrap();
    assert!(out.status.success());
    let mut log = String::new();
    std::io::Read::read_to_string(daemon.stderr.as_mut().unwrap(), &mut log).unwrap();
    daemon.wait().unwrap();
    assert!(log.contains("daemon ready"), "{log}");
    assert!(!log.contains('\u{1b}') && !log.contains('\u{7}'), "{log:?}");
}

/// A file name with C1 control characters in it (U+009B, which some
/// terminals take for the start of a control sequence, and U+009D, an OSC):
/// the JSON and SARIF reports, `status --json` and `logs --raw` carry them
/// escaped, so showing a report on a terminal cannot act on it, and the
/// reports still name the file exactly.
#[test]
fn c1_control_characters_reach_machine_readable_output_escaped() {
    let env = Env::new();
    let project = env.project.join("p\u{9b}2J");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    let name = "c\u{9b}2J\u{9d}0;t\u{7}.txt";
    std::fs::write(project.join(name), "trailing \u{9b}31m\n").unwrap();
    // A tool whose message quotes the line: the SARIF report's text.
    std::fs::write(
        project.join("verdict.toml"),
        "[validators.quote]\nkind = \"command\"\ncommand = [\"grep\", \"-Hn\", \"trailing\"]\nfiles = [\"*.txt\"]\n\
         parser = \"regex\"\npattern = '^(?P<file>[^:]+):(?P<line>\\d+):(?P<message>.*)$'\nmode = \"batch\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| env.cmd().current_dir(&project).args(args).output().unwrap();
    let c1 = |s: &str| s.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c));
    for format in ["json", "sarif"] {
        let out = run(&["check", "--format", format]);
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(!c1(&text) && text.contains(r"trailing \u009b31m"), "{format}: {text}");
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        if format == "json" {
            assert!(text.contains(r"c\u009b2J\u009d0;t\u0007.txt"), "{text}");
            let files: Vec<_> = report["outcomes"].as_array().unwrap().iter().map(|o| &o["file"]).collect();
            assert!(files.iter().any(|f| *f == name), "the file is named exactly: {files:?}");
        }
    }
    // The project's path is in `status` and in the daemon's log.
    for args in [&["--json", "status"][..], &["--json", "logs", "-n", "1000"]] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(!c1(&text) && text.contains(r"p\u009b2J"), "{args:?}: {text}");
    }
    assert!(run(&["stop"]).status.success());
}

/// An ignore file above the project that another user owns (a `*` in
/// `/tmp/.ignore`) would decide what is checked: the check fails, naming
/// it, rather than pass an empty tree. One of root's is honoured.
#[test]
fn an_ignore_file_of_another_user_above_the_project_fails_the_check() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    env.write("key.pem", PRIVATE_KEY);
    let above = env.tmp.path().join(".ignore");
    std::fs::write(&above, "*\n").unwrap();
    std::os::unix::fs::chown(&above, Some(65534), Some(65534)).unwrap();
    let out = env.run(&["check", "."]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{} belongs to uid 65534", above.display())), "{err}");
    // A .gitignore above the repository is not read by the walk: not asked about.
    std::fs::rename(&above, env.tmp.path().join(".gitignore")).unwrap();
    env.run_ok(&["check", "."], 1);
    std::fs::rename(env.tmp.path().join(".gitignore"), &above).unwrap();
    // Root's (or one's own) is honoured, as before.
    std::os::unix::fs::chown(&above, Some(0), Some(0)).unwrap();
    let out = env.run_ok(&["check", "."], 0);
    assert!(out.contains("0 files"), "{out}");
    env.run_ok(&["stop"], 0);
}

/// What makes the project root (a `verdict.toml`, a `.git`) put in a
/// shared directory by another user, above a project that has neither:
/// refused, rather than taken as the root (its `.ignore` would then be
/// the project's, and its configuration's relative commands would run
/// there). A link of theirs to a file of the user's counts as theirs.
#[test]
fn a_project_root_another_user_made_is_refused() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    let shared = shared_dir(&env);
    let project = shared.join("mine");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("key.pem"), PRIVATE_KEY).unwrap();
    let theirs = |path: &std::path::Path| std::os::unix::fs::lchown(path, Some(65534), Some(65534)).unwrap();
    let check = || env.cmd().current_dir(&project).args(["check", "."]).output().unwrap();
    // A `.git` of theirs, with a `*` in their `.ignore` beside it.
    std::fs::write(shared.join(".git"), "gitdir: /nowhere\n").unwrap();
    std::fs::write(shared.join(".ignore"), "*\n").unwrap();
    theirs(&shared.join(".git"));
    theirs(&shared.join(".ignore"));
    let out = check();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("refusing {}", shared.join(".git").display())) && err.contains("uid 65534"), "{err}");
    std::fs::remove_file(shared.join(".git")).unwrap();
    // A link of theirs, named verdict.toml, to a configuration of the user's.
    let mine = env.tmp.path().join("my-verdict.toml");
    std::fs::write(&mine, "builtins = true\n").unwrap();
    std::os::unix::fs::symlink(&mine, shared.join("verdict.toml")).unwrap();
    theirs(&shared.join("verdict.toml"));
    let out = check();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("verdict.toml") && err.contains("uid 65534"), "{err}");
    // The project's own `.git` makes it the root: their files above are
    // not its (the `.ignore` fails the check, as any of theirs above does).
    std::fs::remove_file(shared.join("verdict.toml")).unwrap();
    std::fs::remove_file(shared.join(".ignore")).unwrap();
    std::fs::create_dir(project.join(".git")).unwrap();
    let out = check();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = env.cmd().current_dir(&project).arg("stop").output();
}

/// A pid file another user made in a runtime directory they made first
/// (`XDG_RUNTIME_DIR` unset, `/tmp/verdict-<uid>`), locked and naming a
/// process of the user's: `verdict stop` does not signal it.
#[test]
fn a_pid_file_another_user_made_is_not_believed() {
    use std::os::unix::fs::MetadataExt;
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    let tmp = env.tmp.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let run_dir = tmp.join(format!("verdict-{}", nix::unistd::geteuid().as_raw()));
    std::fs::create_dir(&run_dir).unwrap();
    let key = verdict::paths::root_key(&env.project);
    let mut innocent = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let pid_file = run_dir.join(format!("{key}.pid"));
    std::fs::write(&pid_file, format!("{}\n", innocent.id())).unwrap();
    let held = std::fs::File::open(&pid_file).unwrap();
    held.lock().unwrap();
    for p in [&run_dir, &pid_file] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    }
    assert_eq!(std::fs::metadata(&pid_file).unwrap().uid(), 65534);
    let out = env.cmd().env_remove("XDG_RUNTIME_DIR").env("TMPDIR", &tmp).args(["stop"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(innocent.try_wait().unwrap().is_none(), "verdict stop signalled pid {}: {stderr}", innocent.id());
    let _ = innocent.kill();
    let _ = innocent.wait();
    drop(held);
}

/// Root checking a user's project whose `verdict.toml` is the user's link
/// to a configuration of root's: the project, being the user's, is refused
/// (as git refuses a repository of dubious ownership), and a link of
/// another user's on the way to a configuration is judged as the file is,
/// so the configuration is not applied from their directory, where its
/// relative commands are theirs.
#[test]
fn a_link_of_another_user_to_a_trusted_configuration_is_not_applied() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    let marks = env.tmp.path().join("marks");
    let roots = env.tmp.path().join("roots-config");
    std::fs::create_dir(&roots).unwrap();
    std::fs::write(
        roots.join("verdict.toml"),
        "[validators.lint]\nkind = \"command\"\nfiles = [\"*.txt\"]\nmode = \"per_file\"\ncommand = [\"./lint.sh\"]\n",
    )
    .unwrap();
    let theirs = env.tmp.path().join("theirs");
    std::fs::create_dir_all(theirs.join(".git")).unwrap();
    std::fs::write(theirs.join("a.txt"), "a\n").unwrap();
    std::fs::write(theirs.join("lint.sh"), format!("#!/bin/sh\nid -u >> {}\n", marks.display())).unwrap();
    std::fs::set_permissions(theirs.join("lint.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(roots.join("verdict.toml"), theirs.join("verdict.toml")).unwrap();
    for entry in ["", ".git", "a.txt", "lint.sh", "verdict.toml"] {
        std::os::unix::fs::lchown(theirs.join(entry), Some(65534), Some(65534)).unwrap();
    }
    // A user's project is no project root checks: the user could change
    // it under the check (swap it for a link to a directory of root's).
    let out = env.cmd().current_dir(&theirs).args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("refusing {}", theirs.display())) && err.contains("uid 65534"), "{err}");
    // Root's project, whose verdict.toml is root's link through another
    // user's link to a configuration of root's: that link is refused.
    let mine = env.tmp.path().join("mine");
    std::fs::create_dir_all(mine.join(".git")).unwrap();
    std::fs::write(mine.join("a.txt"), "a\n").unwrap();
    std::fs::copy(theirs.join("lint.sh"), mine.join("lint.sh")).unwrap();
    let shared = shared_dir(&env);
    std::os::unix::fs::symlink(roots.join("verdict.toml"), shared.join("their-link.toml")).unwrap();
    std::os::unix::fs::lchown(shared.join("their-link.toml"), Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::symlink(shared.join("their-link.toml"), mine.join("verdict.toml")).unwrap();
    let out = env.cmd().current_dir(&mine).args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is a symbolic link") && err.contains("uid 65534"), "{err}");
    assert!(!marks.exists(), "a script ran through another user's link");
}

/// Another user's ignore rules where a check would read them: git's
/// excludes of a repository they made above a project that has none of
/// its own, and a `.ignore` of theirs in a shared directory the check
/// runs in (`cd /tmp && verdict check unpacked/`).
#[test]
fn another_users_ignore_rules_in_git_excludes_or_a_shared_root_fail_the_check() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    let shared = shared_dir(&env);
    let project = shared.join("mine");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("verdict.toml"), "builtins = true\n").unwrap();
    std::fs::write(project.join("key.pem"), PRIVATE_KEY).unwrap();
    std::fs::create_dir_all(shared.join(".git/info")).unwrap();
    std::fs::write(shared.join(".git/info/exclude"), "*\n").unwrap();
    for p in [".git", ".git/info", ".git/info/exclude"] {
        std::os::unix::fs::chown(shared.join(p), Some(65534), Some(65534)).unwrap();
    }
    let out = env.cmd().current_dir(&project).args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("uid 65534") && err.contains(".git"), "{err}");
    let _ = env.cmd().current_dir(&project).arg("stop").output();
    std::fs::remove_dir_all(shared.join(".git")).unwrap();
    std::fs::remove_file(project.join("verdict.toml")).unwrap();
    // Checked from the shared directory, which is then the project.
    std::fs::write(shared.join(".ignore"), "*.pem\n").unwrap();
    std::os::unix::fs::chown(shared.join(".ignore"), Some(65534), Some(65534)).unwrap();
    let out = env.cmd().current_dir(&shared).args(["check", "mine"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{} belongs to uid 65534", shared.join(".ignore").display())), "{err}");
    let _ = env.cmd().current_dir(&shared).arg("stop").output();
}

/// A linked worktree (a `.git` file) under another user's `verdict.toml`
/// in a shared directory is its own project, not refused.
#[test]
fn a_worktree_under_another_users_configuration_is_its_own_project() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    let shared = shared_dir(&env);
    let worktree = shared.join("wt");
    std::fs::create_dir_all(&worktree).unwrap();
    std::fs::write(worktree.join(".git"), "gitdir: /nowhere/.git/worktrees/wt\n").unwrap();
    std::fs::write(worktree.join("a.txt"), "a\n").unwrap();
    std::fs::write(shared.join("verdict.toml"), "builtins = false\n").unwrap();
    std::os::unix::fs::chown(shared.join("verdict.toml"), Some(65534), Some(65534)).unwrap();
    let out = env.cmd().current_dir(&worktree).args(["--json", "check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["files"], 1, "{report}");
    let _ = env.cmd().current_dir(&worktree).arg("stop").output();
}

/// A project in a directory others may rename entries in (a team
/// directory writable by its group, without the sticky bit): another user
/// could swap the project for one of theirs while a check runs, so it is
/// refused; listed in `VERDICT_SAFE_DIRECTORIES`, it is checked.
#[test]
fn a_project_in_a_directory_others_can_change_is_refused() {
    let env = Env::new();
    let team = env.tmp.path().join("team");
    let project = team.join("proj");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    std::fs::write(project.join("a.txt"), "a\n").unwrap();
    std::fs::set_permissions(&team, std::fs::Permissions::from_mode(0o2775)).unwrap();
    // A group others are in (root's own, the user's private group, would
    // let no one else in).
    std::os::unix::fs::chown(&team, None, Some(65534)).unwrap();
    let check = |safe: Option<&std::path::Path>| {
        let mut c = env.cmd();
        c.current_dir(&project).args(["check", "."]);
        if let Some(dir) = safe {
            c.env("VERDICT_SAFE_DIRECTORIES", dir);
        }
        c.output().unwrap()
    };
    let out = check(None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{} is on the way to it", team.display())) && err.contains("2775"), "{err}");
    let out = check(Some(&project));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = env.cmd().current_dir(&project).env("VERDICT_SAFE_DIRECTORIES", &project).arg("stop").output();
    // Sticky, as `/tmp` is, others may rename only their own entries.
    std::fs::set_permissions(&team, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let out = check(None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = env.cmd().current_dir(&project).arg("stop").output();
    // The team directory as the project itself: a member could move your
    // verdict.toml in from a project below and put programs beside it.
    std::fs::set_permissions(&team, std::fs::Permissions::from_mode(0o2775)).unwrap();
    std::fs::write(team.join("verdict.toml"), "builtins = true\n").unwrap();
    let out = env.cmd().current_dir(&team).args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("refusing {} as the project root", team.display())) && err.contains("2775"), "{err}");
    // The user's private group (root's, here) lets no one else in.
    std::os::unix::fs::chown(&team, None, Some(0)).unwrap();
    let out = env.cmd().current_dir(&team).args(["check", "."]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = env.cmd().current_dir(&team).arg("stop").output();
}

/// A socket the user chose (`--socket`) in a directory whose way another
/// user could change: the daemon makes its socket, pid file and tools file
/// there by name, so whoever could swap a directory on the way (or their
/// link on it) while it starts would choose which files it truncates and
/// writes. Refused before anything is made there; the user's own link on
/// the way is fine.
#[test]
fn a_chosen_socket_directory_others_could_swap_is_refused() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    let private = |dir: &std::path::Path| {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    };
    let run =
        |socket: &std::path::Path, args: &[&str]| env.cmd().arg("--socket").arg(socket).args(args).output().unwrap();
    // Anyone may rename what is in `open` (0777, no sticky bit).
    let open = env.tmp.path().join("open");
    private(&open.join("mine"));
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(&open.join("mine/s.sock"), &["check", "."]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{} is on the way to it and its mode is 0777", open.display())), "{err}");
    assert!(!err.contains("chown"), "no advice to give a directory away: {err}");
    assert_eq!(std::fs::read_dir(open.join("mine")).unwrap().count(), 0, "a file was made there");
    // Another user's link, in a shared directory, to a private directory
    // of the user's: they may point it elsewhere at any time.
    let shared = shared_dir(&env);
    let real = env.tmp.path().join("real");
    private(&real);
    std::os::unix::fs::symlink(&real, shared.join("theirs")).unwrap();
    std::os::unix::fs::lchown(shared.join("theirs"), Some(65534), Some(65534)).unwrap();
    let out = run(&shared.join("theirs/s.sock"), &["check", "."]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    // Where `fs.protected_symlinks` is on, the kernel refuses to follow it
    // first.
    let kernel = err.contains("theirs: Permission denied");
    assert!(kernel || err.contains("is a link on the way to it owned by uid 65534"), "{err}");
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0, "a file was made there");
    // A `..` that climbs out of another user's directory: they may swap
    // what it climbs from for a link while the daemon starts.
    let theirs = env.tmp.path().join("theirs");
    std::fs::create_dir_all(theirs.join("a")).unwrap();
    for d in [&theirs, &theirs.join("a")] {
        std::os::unix::fs::chown(d, Some(65534), Some(65534)).unwrap();
    }
    let out = run(&theirs.join("a/../../real/s.sock"), &["check", "."]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{} is on the way to it and is owned by uid 65534", theirs.display())), "{err}");
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0, "a file was made there");
    // The user's own link there is theirs: only they (and root) can change it.
    std::os::unix::fs::symlink(&real, shared.join("mine")).unwrap();
    let socket = shared.join("mine/s.sock");
    let out = run(&socket, &["check", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(run(&socket, &["stop"]).status.success());
}

/// A `verdict.toml` (or `.git` file) with other hard links, in a directory
/// anyone may write to: where `fs.protected_hardlinks` is off anyone may
/// link one of the user's own files there, whose owner then says nothing of
/// who put it there, and make that directory the project, where relative
/// commands are theirs. It makes no project root, whoever owns it.
#[test]
fn a_hard_linked_marker_in_a_shared_directory_makes_no_project_root() {
    let env = Env::new();
    let shared = shared_dir(&env);
    let own = env.write("verdict.toml", "builtins = true\n");
    std::fs::hard_link(&own, shared.join("verdict.toml")).unwrap();
    let unpacked = shared.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    std::fs::write(unpacked.join("a.txt"), "a\n").unwrap();
    for (cwd, path) in [(&unpacked, "."), (&shared, "unpacked")] {
        let out = env.cmd().current_dir(cwd).args(["check", path]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cwd:?}: {err}");
        assert!(
            err.contains(&format!("refusing {} as what makes the project root", shared.join("verdict.toml").display())),
            "{err}"
        );
        assert!(err.contains("it is in a directory others may write to and has 2 hard links"), "{err}");
    }
    // So in a directory its group may write to (a team's, 2775).
    let team = env.tmp.path().join("team");
    std::fs::create_dir_all(&team).unwrap();
    std::fs::set_permissions(&team, std::fs::Permissions::from_mode(0o2775)).unwrap();
    std::os::unix::fs::chown(&team, None, Some(65534)).unwrap();
    std::fs::hard_link(&own, team.join("verdict.toml")).unwrap();
    let out = env.cmd().current_dir(&team).args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("it is in a directory others may write to and has 3 hard links"), "{err}");
    std::fs::remove_file(team.join("verdict.toml")).unwrap();
    // With one name it is still in a directory anyone may write to, where
    // anyone may put programs beside it for its relative commands: a
    // shared directory is nobody's project.
    std::fs::remove_file(&own).unwrap();
    let out = env.cmd().current_dir(&unpacked).args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("refusing {} as the project root", shared.display())) && err.contains("1777"),
        "{err}"
    );
    // Without it, the directory checked is the project.
    std::fs::remove_file(shared.join("verdict.toml")).unwrap();
    let out = env.cmd().current_dir(&unpacked).args(["check", "."]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = env.cmd().current_dir(&shared).arg("stop").output();
}

/// An ignore file with other hard links in a directory anyone may write to,
/// above the project or where a check starts: its owner (the user, root)
/// says nothing of who linked it there, and its rules would decide what is
/// checked (a `.gitignore` of the user's listing `*.pem`).
#[test]
fn a_hard_linked_ignore_file_in_a_shared_directory_fails_the_check() {
    let env = Env::new();
    let shared = shared_dir(&env);
    let project = shared.join("proj");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    std::fs::write(project.join("key.pem"), PRIVATE_KEY).unwrap();
    let rules = env.write("elsewhere/.gitignore", "*.pem\n");
    std::fs::hard_link(&rules, shared.join(".ignore")).unwrap();
    for (cwd, path) in [(&project, "."), (&shared, "proj")] {
        let out = env.cmd().current_dir(cwd).args(["check", path]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cwd:?}: {err}");
        assert!(
            err.contains(&format!("{} ", shared.join(".ignore").display())) && err.contains("has 2 hard links"),
            "{err}"
        );
        let _ = env.cmd().current_dir(cwd).arg("stop").output();
    }
    std::fs::remove_file(&rules).unwrap();
    let out = env.cmd().current_dir(&project).args(["check", "."]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the file, with one name, is the user's: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = env.cmd().current_dir(&project).arg("stop").output();
}

/// A submodule's relative `gitdir:` (`../.git/modules/sub`, as `git
/// submodule add` writes it) is taken by the walker from the process's
/// working directory. The daemon's is `/`, so for a project in a shared
/// directory another user's `commondir` and excludes above the project
/// (`*`: the submodule's files skipped, a secret scan clean) are not read
/// and nothing is refused. A `.git` file's absolute `gitdir:` (a
/// worktree's) leads where it says: another user's files there fail the
/// check, named, there or not yet there.
#[test]
fn another_users_git_files_fail_the_check_only_where_a_gitdir_really_leads() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    let shared = shared_dir(&env);
    let project = shared.join("proj");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    std::fs::create_dir_all(project.join("sub")).unwrap();
    std::fs::write(project.join("sub/.git"), "gitdir: ../.git/modules/sub\n").unwrap();
    std::fs::write(project.join("sub/key.pem"), PRIVATE_KEY).unwrap();
    let theirs = [shared.join(".git/modules/sub"), shared.join("wt"), shared.join("evil/info")];
    for d in &theirs {
        std::fs::create_dir_all(d).unwrap();
    }
    let commondir = format!("{}\n", shared.join("evil").display());
    std::fs::write(shared.join(".git/modules/sub/commondir"), &commondir).unwrap();
    std::fs::write(shared.join("wt/commondir"), &commondir).unwrap();
    std::fs::write(shared.join("evil/info/exclude"), "*\n").unwrap();
    for p in [
        ".git",
        ".git/modules",
        ".git/modules/sub",
        ".git/modules/sub/commondir",
        "wt",
        "wt/commondir",
        "evil",
        "evil/info",
        "evil/info/exclude",
    ] {
        std::os::unix::fs::chown(shared.join(p), Some(65534), Some(65534)).unwrap();
    }
    let out = env.cmd().current_dir(&project).args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the submodule's relative gitdir leads to `/.git/...`: {err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("sub/key.pem"), "their `*` is not read");
    let _ = env.cmd().current_dir(&project).arg("stop").output();

    std::fs::write(project.join("sub/.git"), format!("gitdir: {}\n", shared.join("wt").display())).unwrap();
    let out = env.cmd().current_dir(&project).args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is on the way to it and is owned by uid 65534"), "{err}");
    assert!(err.contains("sub/.git, whose `gitdir:` leads outside the project"), "{err}");
    // Not there at the look, it may be there a moment later, when the
    // walker looks: renamed in by its owner, or made in the shared directory.
    std::fs::rename(shared.join("wt/commondir"), shared.join("wt/off")).unwrap();
    let out = env.cmd().current_dir(&project).args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is on the way to it and is owned by uid 65534"), "{err}");
    std::fs::remove_dir_all(shared.join("wt")).unwrap();
    let out = env.cmd().current_dir(&project).args(["check", "."]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("is not there, but others may make it: {} lets", shared.display())), "{err}");
    let _ = env.cmd().current_dir(&project).arg("stop").output();
    // Trusted by name, the shared directory's are read (and the
    // submodule's files checked, none of those being there).
    let out =
        env.cmd().current_dir(&project).env("VERDICT_SAFE_DIRECTORIES", &shared).args(["check", "."]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sub/key.pem"));
    let _ = env.cmd().current_dir(&project).arg("stop").output();
}

/// An ignore file too large to read (a sparse file of gigabytes takes no
/// disk, and the walker reads an ignore file whole into memory): the check
/// fails, naming it, and the daemon stays well.
#[test]
fn an_ignore_file_too_large_to_read_fails_the_check() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let big = std::fs::File::create(env.project.join(".gitignore")).unwrap();
    big.set_len((1 << 20) + 1).unwrap();
    let out = env.run(&["check", "."]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(".gitignore is a file over 1 MiB"), "{err}");
    assert_eq!(env.json(&["ping"])["pong"], true, "the daemon is alive");
    big.set_len(1 << 20).unwrap();
    std::fs::write(env.project.join(".gitignore"), "*.log\n").unwrap();
    env.run_ok(&["check", "."], 0);
    env.run_ok(&["stop"], 0);
}

/// A checkout another user owns, trusted by `VERDICT_SAFE_DIRECTORIES` (a
/// CI job as root over a runner's checkout): git refuses to list its files
/// (its own `safe.directory` rule), so the files it tracks that an ignore
/// rule matches cannot be checked, and the report says so instead of
/// passing them in silence.
#[test]
fn git_refusing_a_checkout_another_user_owns_is_said() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to chown; run the suite as root (as CI does)");
    let env = Env::new();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(&env.project)
            .output()
            .unwrap_or_else(|e| panic!("cannot run git ({e}); install it: apt-get install git"));
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q"]);
    env.write(".gitignore", "*.gen\n");
    env.write("t.gen", "tracked \n");
    git(&["add", ".gitignore"]);
    git(&["add", "-f", "t.gen"]);
    // No user or system git configuration (one naming the checkout in
    // `safe.directory` would let git list it).
    let home = env.tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    // The project given to uid 65534, trusted, checked, and its daemon
    // stopped: what the check said on stderr.
    let checked_as_theirs = |env: &Env| {
        let chown = std::process::Command::new("chown").args(["-R", "65534:65534"]).arg(&env.project).status().unwrap();
        assert!(chown.success());
        let trusted = |args: &[&str]| {
            (env.cmd().env("VERDICT_SAFE_DIRECTORIES", &env.project).env("HOME", &home))
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .args(args)
                .output()
                .unwrap()
        };
        let out = trusted(&["check", "."]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{err}");
        let stopped = trusted(&["stop"]);
        assert_eq!(stopped.status.code(), Some(0), "{}", String::from_utf8_lossy(&stopped.stderr));
        err
    };
    let err = checked_as_theirs(&env);
    assert!(
        err.contains(&format!("git refused to list the files of {}", env.project.display()))
            && err.contains("owned by uid 65534")
            && err.contains("safe.directory"),
        "{err}"
    );
    // Another failure of git's in such a checkout (its `.git` empty: no
    // repository) is not blamed on ownership.
    let other = Env::new();
    other.write("a.txt", "a\n");
    let err = checked_as_theirs(&other);
    assert!(!err.contains("git refused"), "{err}");
}

/// A submodule of another user's superproject that has a `verdict.toml`:
/// its daemon's root is the superproject's when that was listed in
/// `VERDICT_SAFE_DIRECTORIES`, its own when only it was. `verdict stop` in
/// the submodule, without the listing, stops the nearest that runs.
#[test]
fn stop_in_a_submodule_of_another_users_superproject_stops_the_nearest_daemon() {
    let env = Env::new();
    let top = env.tmp.path().join("super");
    let sub = top.join("sub");
    std::fs::create_dir_all(top.join(".git/modules/sub")).unwrap();
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(top.join("verdict.toml"), "").unwrap();
    std::fs::write(sub.join(".git"), "gitdir: ../.git/modules/sub\n").unwrap();
    std::fs::write(sub.join("f.txt"), "x\n").unwrap();
    for path in [&top, &top.join("verdict.toml"), &top.join(".git"), &sub, &sub.join(".git"), &sub.join("f.txt")] {
        std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
    }
    let pid = |dir: &std::path::Path, listed: &std::path::Path| -> u64 {
        let out = env.cmd().current_dir(dir).env("VERDICT_SAFE_DIRECTORIES", listed).args(["--json", "ping"]).output();
        let out = out.unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["pid"].as_u64().unwrap()
    };
    let (of_top, of_sub) = (pid(&top, &top), pid(&sub, &sub));
    assert_ne!(of_top, of_sub);
    let _stop_top = env.stop_when_done(&top);
    let stop = || {
        let out = env.cmd().current_dir(&sub).arg("stop").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(stop().contains(&format!("(pid {of_sub})")), "the submodule's first");
    assert!(stop().contains(&format!("(pid {of_top})")), "then the superproject's");
    assert!(stop().contains("no verdict daemon is running"));
}
