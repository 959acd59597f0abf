//! Security: the runtime directory is private, the socket is 0600, an
//! insecure directory is refused, and another uid is turned away.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use crate::support::Env;

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

#[test]
fn a_connection_from_another_uid_is_refused() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root to run a client as `nobody`; run the suite as root (as CI does)"
    );
    let setpriv = which("setpriv").expect("setpriv is missing: apt-get install util-linux");
    let env = Env::new();
    env.start();
    // Let `nobody` reach the socket at the file-system level, so that the
    // daemon's own peer-credential check is what refuses it.
    let mut p = env.socket();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
    while let Some(parent) = p.parent() {
        let m = std::fs::metadata(parent).unwrap().permissions().mode();
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(m | 0o011)).unwrap();
        if parent == env.tmp.path() || parent == std::path::Path::new("/") {
            break;
        }
        p = parent.to_path_buf();
    }
    let client = env.tmp.path().join("verdict-client");
    std::fs::copy(crate::support::bin(), &client).unwrap();
    std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = crate::support::output_of_fresh_copy(
        Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&client)
            .args(["ping", "--no-start", "--socket"])
            .arg(env.socket())
            .current_dir("/")
            .env("HOME", "/nonexistent"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("permission denied"), "{err}");
    // The daemon is unaffected.
    assert_eq!(env.json(&["ping"])["pong"], true);
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
    assert!(!marks.exists(), "a command of the file ran: {:?}", std::fs::read_to_string(&marks));
    // Trusted by name, it is applied.
    let out = env.cmd().env("VERDICT_SAFE_DIRECTORIES", &env.project).args(["check", "."]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&marks).unwrap().contains("tool"));
    env.run_ok(&["stop"], 0);

    // A file of one's own, replaced by another's, is not applied by a
    // reload: the configuration in force stays.
    std::fs::remove_file(&marks).unwrap();
    std::fs::remove_file(&path).unwrap();
    env.write("verdict.toml", config("mine"));
    env.run_ok(&["check", "."], 0);
    std::fs::write(&path, config("replaced")).unwrap();
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    let out = env.run(&["reload"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("owned by uid 65534"), "{err}");
    let status = env.json(&["status"]);
    let names: Vec<&str> = status["validators"].as_array().unwrap().iter().filter_map(|v| v["name"].as_str()).collect();
    assert!(names.contains(&"mine") && !names.contains(&"replaced"), "{names:?}");
    env.run_ok(&["stop"], 0);
}
