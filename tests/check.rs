//! `verdict check` end to end: the built-ins, command validators, output
//! formats, filters, supervision (hangs, grandchildren, floods, quarantine),
//! cancellation, sharing between concurrent runs, and reload.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{
    Env, Raw, alive, files, memory_kb, pgrep, slow_tool, wait_for_first_mark, wait_for_text, wait_until,
};

/// A private key block, as `secrets` reports it.
const RSA_KEY: &str =
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----\n";

/// Runs `verdict check --format json ARGS` and returns (exit code, report).
fn check_json(env: &Env, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    let code = out.status.code().expect("exit code");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("no JSON report ({e}); exit {code}\nstderr: {}", String::from_utf8_lossy(&out.stderr))
    });
    (code, report)
}

fn outcome<'a>(report: &'a Value, file: &str, validator: &str) -> &'a Value {
    report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file"] == file && r["validator"] == validator)
        .map(|r| &r["outcome"])
        .unwrap_or_else(|| panic!("no outcome for {file} × {validator}"))
}

fn status_of(report: &Value, file: &str, validator: &str) -> String {
    outcome(report, file, validator)["status"].as_str().unwrap().to_string()
}

#[test]
fn builtins_find_real_problems_and_respect_gitignore() {
    let env = Env::new();
    env.write("clean.txt", "all good\n");
    env.write("ws.txt", "fine\ntrailing   \nok\n");
    env.write("nonl.txt", "no newline");
    env.write("bad.json", "{\"a\": 1,,}\n");
    env.write("good.json", "{\"a\": [1, 2]}\n");
    env.write("bad.yaml", "a: [1, 2\n");
    env.write("bad.toml", "a = \n");
    env.write("conflict.txt", "<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> branch\n");
    env.write("key.pem", RSA_KEY);
    env.write("script.sh", "#!/bin/sh\necho hi\n");
    env.write("blob.bin", b"\x00\x01\x02 trailing   \n".as_slice());
    env.write("ignored/skip.txt", "trailing   \n");
    env.write(".gitignore", "ignored/\n");
    let (code, r) = check_json(&env, &["."]);
    assert_eq!(code, 1, "findings exit 1: {r}");
    let finding = |file: &str, v: &str| outcome(&r, file, v)["findings"][0].clone();
    assert_eq!(finding("ws.txt", "trailing-whitespace")["line"], 2);
    assert_eq!(finding("ws.txt", "trailing-whitespace")["column"], 9);
    assert_eq!(status_of(&r, "nonl.txt", "final-newline"), "findings");
    assert_eq!(status_of(&r, "bad.json", "json"), "findings");
    assert_eq!(finding("bad.json", "json")["line"], 1);
    assert_eq!(status_of(&r, "bad.yaml", "yaml"), "findings");
    assert_eq!(status_of(&r, "bad.toml", "toml"), "findings");
    assert_eq!(status_of(&r, "conflict.txt", "merge-conflict"), "findings");
    assert_eq!(status_of(&r, "key.pem", "secrets"), "findings");
    assert!(!finding("key.pem", "secrets")["message"].as_str().unwrap().contains("MIIEow"), "secrets are not echoed");
    assert_eq!(status_of(&r, "script.sh", "shebang-executable"), "findings");
    assert_eq!(status_of(&r, "good.json", "json"), "passed");
    assert_eq!(status_of(&r, "clean.txt", "trailing-whitespace"), "passed");
    // Binary files are left out of text checks; ignored files entirely.
    let files: Vec<&str> = r["outcomes"].as_array().unwrap().iter().map(|o| o["file"].as_str().unwrap()).collect();
    assert!(!files.iter().any(|f| f.starts_with("ignored/")), "gitignored files were checked");
    assert!(
        !r["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["file"] == "blob.bin" && o["validator"] == "trailing-whitespace")
    );
    assert_eq!(r["summary"]["binary_files"], 1);
    // Every pair has exactly one outcome.
    let s = &r["summary"];
    let total: u64 = s["outcomes"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total, s["pairs"].as_u64().unwrap());
    assert_eq!(r["outcomes"].as_array().unwrap().len() as u64, total);
}

/// Markdown files get the trailing-whitespace check that lets their
/// two-space line breaks be, and templates are no broken YAML: out of the
/// box, through the real binary.
#[test]
fn markdown_line_breaks_and_helm_templates_pass_out_of_the_box() {
    let env = Env::new();
    let text = "Roses are red,  \nviolets are blue.   \n";
    env.write("README.md", text);
    env.write("notes.txt", text);
    env.write("chart/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n");
    env.write("chart/templates/svc.yaml", "metadata:\n  labels:\n    {{- include \"c.labels\" . | nindent 4 }}\n");
    env.write("broken.yaml", "a: 1\na: 2\n");
    let (code, r) = check_json(&env, &["."]);
    assert_eq!(code, 1, "{r}");
    let lines = |file: &str, v: &str| -> Vec<u64> {
        outcome(&r, file, v)["findings"].as_array().unwrap().iter().map(|f| f["line"].as_u64().unwrap()).collect()
    };
    assert_eq!(lines("README.md", "markdown-trailing-whitespace"), [2]);
    assert_eq!(lines("notes.txt", "trailing-whitespace"), [1, 2]);
    let checked = |file: &str, v: &str| {
        r["outcomes"].as_array().unwrap().iter().any(|o| o["file"] == file && o["validator"] == v)
    };
    assert!(!checked("README.md", "trailing-whitespace") && !checked("notes.txt", "markdown-trailing-whitespace"));
    assert_eq!(status_of(&r, "chart/templates/svc.yaml", "yaml"), "passed");
    assert_eq!(status_of(&r, "broken.yaml", "yaml"), "findings");
}

/// git's ignore rules stop at the repository: a `.gitignore` above the
/// repository (in a directory that is no repository) does not apply, nor
/// do the rules of a repository around a nested one (as git has it), while
/// the nested repository's own rules do.
#[test]
fn ignore_rules_from_outside_the_repository_do_not_apply() {
    let env = Env::new();
    std::fs::write(env.tmp.path().join(".gitignore"), "secret*.txt\n").unwrap();
    env.write("secret1.txt", "x\n");
    env.write(".gitignore", "*.gen\n");
    env.write(".git/info/exclude", "c2.txt\n");
    env.write("outer.gen", "x\n");
    env.write("c2.txt", "x\n");
    std::fs::create_dir_all(env.project.join("inner/.git")).unwrap();
    env.write("inner/.gitignore", "*.tmp\n");
    env.write("inner/a.gen", "x\n");
    env.write("inner/c2.txt", "x\n");
    env.write("inner/b.tmp", "x\n");
    let files = |args: &[&str]| {
        let (_, r) = check_json(&env, &[&["--all", "--validator", "final-newline"], args].concat());
        let mut files: Vec<String> =
            r["outcomes"].as_array().unwrap().iter().map(|o| o["file"].as_str().unwrap().to_string()).collect();
        files.sort();
        files
    };
    let expected = [".gitignore", "inner/.gitignore", "inner/a.gen", "inner/c2.txt", "secret1.txt"];
    assert_eq!(files(&["."]), expected);
    assert_eq!(files(&["inner"]), expected[1..4]);
}

#[test]
fn a_clean_tree_exits_0_with_a_human_summary() {
    let env = Env::new();
    env.write("a.txt", "hello\n");
    env.write("b/c.json", "{}\n");
    let out = env.run_ok(&["check", "."], 0);
    assert!(out.contains("2 files") && out.contains("0 errors"), "{out}");
    // Filters: only one validator, only one dimension.
    let (_, r) = check_json(&env, &["--validator", "json"]);
    assert_eq!(r["summary"]["pairs"], 1);
    let (_, r) = check_json(&env, &["--dimension", "security"]);
    assert!(r["outcomes"].as_array().unwrap().iter().all(|o| o["dimension"] == "security"));
    let out = env.run(&["check", "--validator", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope") && err.contains("(the validators are: final-newline, json, jsonc,"), "{err}");
    assert!(err.starts_with("verdict: error: --validator: no validator named"), "said as the option: {err}");
    // `.git` is never checked, named or not.
    env.write(".git/config", "[core]\n");
    let out = env.run(&["check", ".git"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inside .git"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.run(&["check", ".git/config"]).status.code(), Some(2));
    // A mistyped dimension is an error too, not a check of nothing.
    let out = env.run(&["check", "--dimension", "securty"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("securty") && err.contains("security"), "{err}");
    assert!(err.starts_with("verdict: error: --dimension: "), "said as the option: {err}");
    // So are filters that each match but together select no validator, and
    // an empty path.
    let out = env.run(&["check", "--validator", "json", "--dimension", "security"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("nothing would be checked"), "{err}");
    let (code, r) = check_json(&env, &["--validator", "json", "--validator", "secrets", "--dimension", "security"]);
    assert_eq!((code, r["summary"]["pairs"].as_u64()), (0, Some(2)), "{}", r["summary"]);
    let out = env.run(&["check", ""]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("an empty path names nothing (given for '[PATHS]...')"), "{err}");
    let out = env.run(&["check", "-o", "", "."]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("an empty path names nothing (given for '--output <FILE>')"), "{err}");
    // Paths that make the request longer than a request may be (each
    // control byte is six in JSON): said what to do instead.
    let long: Vec<String> = (0..10).map(|_| "\u{1}".repeat(120_000)).collect();
    let out = env.cmd().arg("check").args(&long).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("request too large") && err.contains("name the directories that hold them instead"), "{err}");
}

#[test]
fn sarif_output_has_results_and_notifications() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        r#"
[validators.hang]
kind = "command"
command = ["sh", "-c", "sleep 30", "sleep"]
mode = "per_file"
parser = "exit_code"
files = ["*.py"]
timeout = "300ms"
"#,
    );
    env.write("ws.txt", "x  \n");
    env.write("a.py", "print(1)\n");
    let out_file = env.tmp.path().join("out.sarif");
    let out = env.cmd().args(["check", "--format", "sarif", "--output"]).arg(&out_file).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The counts, and where the report went, on stderr; nothing on stdout.
    assert!(err.contains("3 files, 25 checks: ") && err.contains(" 1 timed out, "), "{err}");
    assert!(err.contains(&format!("verdict: the report is in {}", out_file.display())), "{err}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let sarif: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "verdict");
    let results = run["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "ws.txt"
        && r["locations"][0]["physicalLocation"]["region"]["startLine"] == 1));
    // The timeout is a tool execution notification, not a result.
    let notes = run["invocations"][0]["toolExecutionNotifications"].as_array().unwrap();
    assert!(notes.iter().any(|n| n["message"]["text"].as_str().unwrap().contains("timed out")), "{notes:?}");
    assert!(!results.iter().any(|r| r["ruleId"].as_str().unwrap().starts_with("hang")));
}

/// The global `--json` stands for `--format json`, and an explicit
/// `--format` wins over it.
#[test]
fn an_explicit_format_wins_over_the_global_json_flag() {
    let env = Env::new();
    env.write("a.txt", "a  \n");
    let out = env.run(&["--json", "check"]);
    assert!(serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|r| r["summary"]["files"] == 1));
    let out = String::from_utf8(env.run(&["--json", "check", "--format", "human"]).stdout).unwrap();
    assert!(out.starts_with("a.txt\n") && out.contains("trailing whitespace"), "{out}");
    let out = env.run(&["--json", "check", "--format", "sarif"]);
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["version"], "2.1.0");
}

/// The human report is coloured on a terminal, not into a pipe, not with
/// `NO_COLOR` or `TERM=dumb`; `--color` decides over all of that.
#[test]
fn colour_follows_the_terminal_no_color_term_and_the_color_flag() {
    use std::io::Read;
    let env = Env::new();
    env.write("a.txt", "a  \n");
    // stdout on a pseudo-terminal (stderr piped: no progress bar); what the
    // report printed, read until the terminal's last writer has gone.
    let on_terminal = |args: &[&str], vars: &[(&str, &str)]| -> String {
        use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
        let pty = nix::pty::openpty(None, None).expect("openpty");
        // Not inherited by what other tests start meanwhile (openpty does
        // not set close-on-exec); the reads below do not wait for the
        // terminal's last writer anyway, only for this child.
        for fd in [&pty.master, &pty.slave] {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).unwrap();
        }
        fcntl(&pty.master, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
        let mut child = {
            let mut cmd = env.cmd();
            cmd.args(["check"]).args(args).env_remove("NO_COLOR").env("TERM", "xterm");
            cmd.envs(vars.iter().copied());
            cmd.stdout(std::fs::File::from(pty.slave)).stderr(Stdio::null()).spawn().unwrap()
        };
        let mut master = std::fs::File::from(pty.master);
        let (mut text, mut buf) = (Vec::new(), [0u8; 4096]);
        let started = Instant::now();
        let status = loop {
            let exited = child.try_wait().unwrap();
            // Drain what is there; then stop once the child has exited.
            while let Ok(n @ 1..) = master.read(&mut buf) {
                text.extend_from_slice(&buf[..n]);
            }
            if let Some(status) = exited {
                break status;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the check did not end: {text:?}");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(1), "{args:?} {vars:?}: {:?}", String::from_utf8_lossy(&text));
        String::from_utf8(text).unwrap()
    };
    let coloured = |s: &str| s.contains("\u{1b}[");
    let out = on_terminal(&[], &[]);
    assert!(coloured(&out) && out.contains("trailing whitespace"), "{out:?}");
    for (args, vars) in [(&[][..], &[("NO_COLOR", "1")][..]), (&[], &[("TERM", "dumb")]), (&["--color", "never"], &[])]
    {
        let out = on_terminal(args, vars);
        assert!(!coloured(&out) && out.contains("trailing whitespace"), "{args:?} {vars:?}: {out:?}");
    }
    // An empty NO_COLOR is no NO_COLOR; --color always wins over it all.
    assert!(coloured(&on_terminal(&[], &[("NO_COLOR", "")])));
    assert!(coloured(&on_terminal(&["--color", "always"], &[("NO_COLOR", "1"), ("TERM", "dumb")])));
    // Into a pipe: plain, unless asked.
    let plain = env.run(&["check"]);
    assert!(!coloured(&String::from_utf8_lossy(&plain.stdout)));
    let forced = env.run(&["check", "--color", "always"]);
    assert!(coloured(&String::from_utf8_lossy(&forced.stdout)));
    let bad = env.run(&["check", "--color", "sometimes"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// A request the daemon refuses to read (over 4 MiB of paths) is a clear
/// error at once (1.8 MB of arguments, 10.8 MB as JSON): not a closed
/// connection taken for a daemon shutting down
/// (which the client would wait a minute to see exit).
#[test]
fn a_check_too_large_to_send_says_so() {
    let env = Env::new();
    env.start();
    let long = "\u{1}".repeat(120_000);
    let out = env.cmd().arg("check").args(std::iter::repeat_n(&long, 15)).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("request too large"), "{err}");
    env.run_ok(&["ping"], 0);
}

/// `--output` replaces its file only with a complete report, fails before/// `--output` replaces its file only with a complete report, fails before
/// the check when it cannot be written, and writes devices and `-` as they
/// are.
#[test]
fn the_output_file_is_checked_first_and_replaced_whole() {
    let env = Env::new();
    env.write("a.txt", "a  \n");
    let report = env.tmp.path().join("report.json");
    std::fs::write(&report, "old").unwrap();
    let out = env.cmd().args(["check", "--format", "json", "-o"]).arg(&report).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["summary"]["files"], 1);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&report).unwrap().permissions());
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let umask = status.lines().find_map(|l| l.strip_prefix("Umask:")).unwrap().trim();
    let umask = u32::from_str_radix(umask, 8).unwrap();
    assert_eq!(mode & 0o777, 0o666 & !umask, "a report has a new file's mode, not its temporary file's");
    // No temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(env.tmp.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(!left.iter().any(|n| n.to_string_lossy().starts_with(".verdict-report")), "{left:?}");
    // A report the user restricted stays restricted; through a symbolic
    // link, the file it names is replaced and the link kept.
    std::fs::set_permissions(&report, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let link = env.tmp.path().join("link.json");
    std::os::unix::fs::symlink("report.json", &link).unwrap();
    std::fs::write(&report, "old").unwrap();
    let out = env.cmd().args(["check", "--format", "json", "-o"]).arg(&link).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink(), "the link is kept");
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["summary"]["files"], 1, "written through the link");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&report).unwrap().permissions());
    assert_eq!(mode & 0o7777, 0o640);
    // A file the check reads (a named path, verdict.toml) is never
    // written over; a directory that does not exist is named as such.
    env.write("verdict.toml", "");
    for (target, says) in [("a.txt", "it is a file this check reads"), ("verdict.toml", "is verdict's configuration")] {
        let out = env.cmd().args(["check", "a.txt", "-o", target]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
    }
    let read = |f: &str| std::fs::read_to_string(env.project.join(f)).unwrap();
    assert_eq!((read("a.txt"), read("verdict.toml")), ("a  \n".to_owned(), String::new()));
    std::fs::remove_file(env.project.join("verdict.toml")).unwrap();
    // Nor a verdict.toml made by the report, which every later command
    // would read as the configuration: here or in a directory below.
    std::fs::create_dir(env.project.join("sub")).unwrap();
    for target in ["verdict.toml", "sub/verdict.toml"] {
        let out = env.cmd().args(["check", "a.txt", "-o", target]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("is verdict's configuration"), "{err}");
        assert!(!env.project.join(target).exists(), "{target} was written");
    }
    let out = env.cmd().args(["check", "-o", "nowhere/r.json"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(2) && err.contains("nowhere does not exist"), "{err}");
    // Links in a loop: refused, as opening the path would be, and kept.
    std::os::unix::fs::symlink("loop2", env.tmp.path().join("loop1")).unwrap();
    std::os::unix::fs::symlink("loop1", env.tmp.path().join("loop2")).unwrap();
    let out = env.cmd().args(["check", "-o"]).arg(env.tmp.path().join("loop1")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("too many levels of symbolic links"), "{err}");
    assert!(std::fs::symlink_metadata(env.tmp.path().join("loop1")).unwrap().is_symlink());
    // A chain of 40 links, as many as the system follows, is written through.
    for i in 1..40 {
        std::os::unix::fs::symlink(format!("chain{}", i + 1), env.tmp.path().join(format!("chain{i}"))).unwrap();
    }
    std::os::unix::fs::symlink("report.json", env.tmp.path().join("chain40")).unwrap();
    let out = env.cmd().args(["check", "--format", "json", "-o"]).arg(env.tmp.path().join("chain1")).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    // A directory that does not exist: refused before any check runs, and
    // said of the path given (not of a temporary file's).
    let out = env.cmd().args(["check", "-o"]).arg(env.tmp.path().join("missing/r.txt")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("missing/r.txt") && !err.contains(".verdict-report"), "{err}");
    let out = env.cmd().args(["check", "-o"]).arg(env.tmp.path()).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a directory"));
    // Written inside the project, its temporary file is not checked (it is
    // made once the report is in).
    let out = env.cmd().args(["check", "--format", "json", "--all", "-o", "in-project.json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&std::fs::read(env.project.join("in-project.json")).unwrap()).unwrap();
    let files: Vec<&str> = r["outcomes"].as_array().unwrap().iter().map(|o| o["file"].as_str().unwrap()).collect();
    assert!(!files.iter().any(|f| f.starts_with(".verdict-report")), "{files:?}");
    std::fs::remove_file(env.project.join("in-project.json")).unwrap();
    // `-` is stdout, and a device is written as it is.
    let out = env.cmd().args(["check", "--format", "json", "-o", "-"]).output().unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["summary"]["files"], 1);
    // With stdout discarded too (the same device): the counts are still
    // said on stderr.
    let out = env.cmd().args(["check", "-o", "/dev/null"]).stdout(std::process::Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("verdict: the report is in /dev/null"), "{out:?}");
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(&std::fs::metadata("/dev/null").unwrap().file_type()));
    // `-o /dev/stdout >> log`: written to the log as stdout would be, not
    // by replacing the file the shell opened (its earlier lines were lost).
    let log = env.tmp.path().join("ci.log");
    std::fs::write(&log, "before\n").unwrap();
    for named in ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"] {
        let stdout = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        let out = env.cmd().args(["check", "--format", "json", "-o", named]).stdout(stdout).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        // Nothing more said on stderr: the report went to a standard stream.
        assert!(!String::from_utf8_lossy(&out.stderr).contains("the report is in"), "{out:?}");
    }
    // Nor to stderr (by name, or as the file it is): a JSON report there
    // stays one document.
    for named in ["/dev/stderr", "/dev/fd/2"] {
        let out = env.cmd().args(["check", "--format", "json", "-o", named]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // The report, and after it no summary line of the human report's.
        let report = &err[err.find("{\n").unwrap_or_else(|| panic!("{named}: no report: {err}"))..];
        let mut rest = serde_json::Deserializer::from_str(report).into_iter::<Value>();
        assert!(rest.next().is_some_and(|r| r.is_ok_and(|r| r["summary"]["files"] == 1)), "{named}: {err}");
        assert!(!err.contains("the report is in") && !err.contains(" checks: "), "{named}: {err}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("before\n{"), "{text}");
    assert_eq!(text.matches("\"summary\"").count(), 3, "{text}");
    // A name ending in `/` that is no directory: refused before the check.
    let out = env.run(&["check", "-o", "missing-dir/"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write missing-dir/: a name ending in `/` names a directory"), "{err}");
    // Another descriptor that is a pipe (`-o >(gzip > r.gz)`): written to.
    // Its link names no path (`pipe:[123]`), which was followed before.
    let script = "exec \"$0\" check --format json -o /dev/fd/3 3>&1 >/dev/null";
    let out =
        env.cmd_of(std::path::Path::new("/bin/sh")).args(["-c", script]).arg(crate::support::bin()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["summary"]["files"], 1);
    // One the command was not started with is none of the user's (the CLI's
    // own, from its runtime or its connection, were opened again).
    let out = env.run(&["check", "-o", "/dev/fd/987"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("descriptor 987 was not open when verdict started"), "{err}");
    // Nor is the one that listing the open descriptors took (3, closed).
    let script = "exec 3>&- && exec \"$0\" check -o /dev/fd/3";
    let out = env.cmd_of(std::path::Path::new("/bin/sh")).args(["-c", script]).arg(crate::support::bin()).output();
    let err = String::from_utf8_lossy(&out.as_ref().unwrap().stderr).into_owned();
    assert!(err.contains("descriptor 3 was not open when verdict started"), "{err}");
    // A socket cannot be opened again by its name: said so.
    let (ours, _theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let script = "exec \"$0\" check -o /dev/fd/3 3<&0 </dev/null";
    let out = env
        .cmd_of(std::path::Path::new("/bin/sh"))
        .args(["-c", script])
        .arg(crate::support::bin())
        .stdin(std::os::fd::OwnedFd::from(ours))
        .output();
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write /dev/fd/3: it is a socket"), "{err}");
}

/// Names that are not UTF-8 and differ only in their invalid bytes are two
/// files everywhere: in the walk (even named twice), to a tool that judges
/// by path, and in every report (`file_bytes` in JSON, the bytes in SARIF's
/// URI, quoted escapes in the human report).
#[test]
fn names_that_are_not_utf8_are_reported_exactly() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    // Fails a file whose name holds the byte 0xFE, whatever its content.
    env.write(
        "verdict.toml",
        r#"
builtins = false
[validators.trailing-whitespace]
files = ["*.txt"]
[validators.byname]
kind = "command"
command = ["sh", "-c", 'case "$1" in *"$(printf "\376")"*) exit 1;; esac', "sh"]
mode = "per_file"
parser = "exit_code"
files = ["*.txt"]
"#,
    );
    let name = |b: &[u8]| env.project.join(std::ffi::OsStr::from_bytes(b));
    std::fs::write(name(b"a\xff.txt"), "same \n").unwrap();
    std::fs::write(name(b"a\xfe.txt"), "same \n").unwrap();
    let bytes_of = |r: &Value| {
        let mut names: Vec<(String, String, String)> = r["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let raw = o["file_bytes"].as_str().unwrap_or("-").to_string();
                (
                    raw,
                    o["validator"].as_str().unwrap().to_string(),
                    o["outcome"]["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        names.sort();
        names
    };
    // Named a second time beside its directory, a file is still listed once.
    let fe = name(b"a\xfe.txt");
    let fe = fe.to_str().map(String::from);
    assert!(fe.is_none(), "the name is not UTF-8");
    let out = env.cmd().args(["check", "--format", "json", "."]).arg(name(b"a\xfe.txt")).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    // base64 of a\xfe.txt and a\xff.txt.
    let expected = |status: &str| {
        vec![
            ("Yf4udHh0".to_string(), "byname".to_string(), "findings".to_string()),
            ("Yf4udHh0".into(), "trailing-whitespace".into(), status.into()),
            ("Yf8udHh0".into(), "byname".into(), "passed".into()),
            ("Yf8udHh0".into(), "trailing-whitespace".into(), status.into()),
        ]
    };
    assert_eq!(bytes_of(&r), expected("findings"), "{r}");
    assert!(r["outcomes"].as_array().unwrap().iter().all(|o| o["file"] == "a\u{fffd}.txt"), "{r}");
    // From the cache, the same.
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1);
    let cached: Vec<_> = bytes_of(&r).into_iter().map(|(b, v, _)| (b, v)).collect();
    let fresh: Vec<_> = expected("findings").into_iter().map(|(b, v, _)| (b, v)).collect();
    assert_eq!(cached, fresh, "{r}");
    assert!(r["outcomes"][0]["outcome"]["status"] == "cached", "{r}");
    let out = env.run(&["check", "--format", "sarif"]);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut uris: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap())
        .collect();
    uris.sort();
    assert_eq!(uris, ["a%FE.txt", "a%FE.txt", "a%FF.txt"], "{sarif}");
    let human = String::from_utf8(env.run(&["check"]).stdout).unwrap();
    let headers: Vec<&str> = human.lines().filter(|l| l.starts_with('"')).collect();
    assert_eq!(headers, ["\"a\\xFE.txt\"", "\"a\\xFF.txt\""], "{human}");
    // A glob's `?` matches a byte that is not UTF-8, as in an ignore file.
    env.write("verdict.toml", "[check]\nexclude = [\"a?.txt\"]\n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!((code, &r["summary"]["files"]), (0, &json!(1)), "{r}");
}

/// A batch whose tool fails on a header one of its files includes (a
/// file the validator does not check) passes none of its files without
/// findings of their own, and caches no such pass: the header's error came
/// through one of them.
#[test]
fn a_batch_with_findings_for_a_file_the_validator_does_not_check_passes_no_file() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        r#"builtins = false
[validators.cc]
kind = "command"
files = ["*.c"]
command = ["sh", "-c", "echo 'hdr.h:1:27: error: undeclared'; echo 'b.c:1:20: warning: parentheses'; exit 1", "cc"]
mode = "batch"
parser = "regex"
pattern = '^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<severity>\w+): (?P<message>.*)$'
"#,
    );
    env.write("a.c", "#include \"hdr.h\"\n");
    env.write("b.c", "int g;\n");
    env.write("hdr.h", "int x = undeclared;\n");
    for _ in 0..2 {
        let (code, r) = check_json(&env, &[]);
        assert_eq!(code, 1, "{r}");
        let a = outcome(&r, "a.c", "cc");
        // (In the second, a.c is alone: the cache answered for b.c.)
        assert!(a["status"] == "error" && a["reason"].as_str().unwrap().contains("hdr.h"), "{r}");
        assert_eq!(r["summary"]["outcomes"]["passed"], 0, "{r}");
    }
}

#[test]
fn command_validators_in_batch_mode_attribute_findings_to_files() {
    let env = Env::new();
    env.write(
        "tools/lint.sh",
        "#!/bin/sh\nfor f in \"$@\"; do grep -n BAD \"$f\" | while IFS=: read -r n _; do echo \"$f:$n:1: error: BAD found\"; done; done\nexit 0\n",
    );
    env.write(
        "verdict.toml",
        r#"
builtins = false
[validators.badword]
kind = "command"
dimension = "lint"
command = ["sh", "tools/lint.sh"]
mode = "batch"
batch_size = 2
parser = "regex"
pattern = '^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<severity>\w+): (?P<message>.*)$'
files = ["*.txt"]
"#,
    );
    for i in 0..5 {
        env.write(&format!("f{i}.txt"), if i % 2 == 0 { "ok\nBAD\n" } else { "ok\n" });
    }
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1);
    for i in 0..5 {
        let o = outcome(&r, &format!("f{i}.txt"), "badword");
        if i % 2 == 0 {
            assert_eq!(o["findings"][0]["line"], 2, "{o}");
        } else {
            assert_eq!(o["status"], "passed", "{o}");
        }
    }
}

/// A name with a line break cannot be read back from a line of a tool's
/// output: in a batch, the second half of its finding read as another
/// file's, and the file itself passed (and was cached). It runs alone.
#[test]
fn a_name_with_a_line_break_is_not_batched_with_others() {
    let env = Env::new();
    for name in ["new\nline.txt", "line.txt", "other.txt"] {
        env.write(name, "x\n");
    }
    // A tool that fails with its findings, and one that passes with them
    // (warnings): the file with the line break is never passed.
    for status in [1, 0] {
        env.write(
            "verdict.toml",
            format!(
                "builtins = false\n[validators.lint]\nkind = \"command\"\n\
                 command = [\"sh\", \"-c\", 'for f; do echo \"$f:1: bad content\"; done; exit {status}', \"lint\"]\n\
                 mode = \"batch\"\nparser = \"regex\"\npattern = '^(?P<file>.+):(?P<line>\\d+): (?P<message>.*)$'\n\
                 files = [\"*.txt\"]\n"
            ),
        );
        for round in 0..2 {
            let (code, r) = check_json(&env, &[]);
            assert_eq!(code, 1, "{r}");
            for name in ["line.txt", "other.txt"] {
                let o = outcome(&r, name, "lint");
                let o = if round == 1 { &o["verdict"] } else { o };
                assert_eq!(
                    o["findings"].as_array().map(Vec::len),
                    Some(1),
                    "exit {status}, round {round}, {name}: {o}"
                );
            }
            let o = outcome(&r, "new\nline.txt", "lint");
            assert_eq!(o["status"], "error", "exit {status}, round {round}: {o}");
        }
    }
}

/// A batch that times out: which of its files the tool was stuck on is
/// not known, and the reason of the jobs skipped after it says so.
#[test]
fn a_batch_that_times_out_is_named_as_a_batch() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        r#"
builtins = false
[validators.stuck]
kind = "command"
command = ["sh", "-c", "exec sleep 30", "stuck"]
mode = "batch"
batch_size = 2
concurrency = 1
parser = "regex"
pattern = '^(?P<file>[^:]+): (?P<message>.*)$'
files = ["*.txt"]
timeout = "500ms"
"#,
    );
    for i in 0..4 {
        env.write(&format!("f{i}.txt"), "x\n");
    }
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 3, "{}", r["summary"]);
    let statuses: Vec<&str> =
        (0..4).map(|i| outcome(&r, &format!("f{i}.txt"), "stuck")["status"].as_str().unwrap()).collect();
    // Either batch may be the first to run.
    let (first, skipped) = match statuses[..] {
        ["timed_out", "timed_out", "skipped", "skipped"] => ("f0.txt", "f2.txt"),
        ["skipped", "skipped", "timed_out", "timed_out"] => ("f2.txt", "f0.txt"),
        _ => panic!("one batch timed out, the other skipped: {r}"),
    };
    let reason = outcome(&r, skipped, "stuck")["reason"].as_str().unwrap().to_owned();
    assert_eq!(reason, format!("validator stuck timed out on a batch of 2 files from {first} earlier in this run"));
}

#[test]
fn a_hanging_tool_and_its_grandchildren_are_killed_and_the_rest_goes_on() {
    let env = Env::new();
    let pids = env.tmp.path().join("pids");
    env.write(
        "tools/hang.sh",
        format!("#!/bin/sh\ntrap '' TERM\nsleep 1000 &\necho $! >> {p}\necho $$ >> {p}\nwait\n", p = pids.display()),
    );
    env.write(
        "verdict.toml",
        r#"
[validators.hang]
kind = "command"
command = ["sh", "tools/hang.sh"]
mode = "per_file"
parser = "exit_code"
files = ["*.py"]
# Time for the tool to write its pids on a loaded machine.
timeout = "2s"
concurrency = 1
"#,
    );
    env.write("a.py", "1\n");
    env.write("b.py", "2\n");
    env.write("c.txt", "trailing \n");
    let started = Instant::now();
    let (code, r) = check_json(&env, &[]);
    assert!(started.elapsed() < Duration::from_secs(10), "the run did not end promptly");
    assert_eq!(code, 1, "trailing whitespace is still found: {r}");
    let statuses: Vec<String> = ["a.py", "b.py"].iter().map(|f| status_of(&r, f, "hang")).collect();
    assert!(statuses.contains(&"timed_out".to_string()), "{statuses:?}");
    // The other file of the hung validator is skipped, not left hanging.
    assert!(statuses.iter().all(|s| s == "timed_out" || s == "skipped"), "{statuses:?}");
    assert_eq!(status_of(&r, "c.txt", "trailing-whitespace"), "findings");
    // Every process the tool started is gone.
    let recorded = std::fs::read_to_string(&pids).unwrap();
    for pid in recorded.split_whitespace().map(|p| p.parse::<u32>().unwrap()) {
        wait_until(Duration::from_secs(5), "the tool's processes to die", || !alive(pid));
    }
    // The daemon is fine and says what happened.
    let s = env.json(&["status"]);
    let hang = s["validators"].as_array().unwrap().iter().find(|v| v["name"] == "hang").unwrap().clone();
    assert!(hang["restarts"].as_u64().unwrap() >= 1, "{hang}");
    assert!(s["events"].as_array().unwrap().iter().any(|e| e["event"] == "timed_out"));
}

/// Jobs started together time out together: the child killed for the
/// first deadline is not the end of the others, which timed out too
/// (not "restarted under"), and whose tools get SIGTERM and their grace.
#[test]
fn jobs_whose_deadlines_pass_together_all_time_out_with_their_grace() {
    let env = Env::new();
    let marks = env.tmp.path().join("marks");
    // The TERM trap runs between two short sleeps.
    env.write(
        "tools/hang.sh",
        format!(
            "#!/bin/sh\ntrap 'echo TERM >> {m}; exit 0' TERM\necho started >> {m}\nwhile :; do sleep 0.05; done\n",
            m = marks.display()
        ),
    );
    env.write(
        "verdict.toml",
        r#"
builtins = false
[validators.hang]
kind = "command"
command = ["sh", "tools/hang.sh"]
mode = "per_file"
parser = "exit_code"
files = ["*.py"]
timeout = "2s"
kill_after = "10s"
concurrency = 4
"#,
    );
    for f in ["a.py", "b.py", "c.py", "d.py"] {
        env.write(f, "1\n");
    }
    let (code, r) = check_json(&env, &["--no-cache"]);
    assert_eq!(code, 3, "{}", r["summary"]);
    let statuses: Vec<String> = ["a.py", "b.py", "c.py", "d.py"].iter().map(|f| status_of(&r, f, "hang")).collect();
    assert!(statuses.iter().all(|s| s == "timed_out"), "{statuses:?}");
    let lines = || std::fs::read_to_string(&marks).unwrap_or_default();
    assert_eq!(lines().matches("started").count(), 4, "{}", lines());
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines().matches("TERM").count() < 4 {
        assert!(Instant::now() < deadline, "not every tool got SIGTERM: {:?}\n{}", lines(), r["outcomes"]);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A project of one file, `a.py`, checked by `stuck`, a tool that hangs,
/// under a 1 s timeout and a restart backoff of `backoff`; its daemon
/// started, and a connection to it.
fn stuck_tool(backoff: &str) -> (Env, Raw) {
    let env = Env::new();
    env.write(
        "verdict.toml",
        format!(
            "builtins = false\n[validators.stuck]\nkind = \"command\"\n\
             command = [\"sh\", \"-c\", \"exec sleep 30\", \"stuck\"]\nmode = \"per_file\"\n\
             parser = \"exit_code\"\nfiles = [\"*.py\"]\ntimeout = \"1s\"\n\
             restart = {{ max_restarts = 20, backoff = \"{backoff}\" }}\n"
        ),
    );
    env.write("a.py", "1\n");
    env.start();
    let c = env.connect();
    (env, c)
}

/// The `timed_out` events `status` lists.
fn timed_out_events(env: &Env) -> usize {
    let status = env.json(&["status"]);
    status["events"].as_array().unwrap().iter().filter(|e| e["event"] == "timed_out").count()
}

/// A job that waits for its validator's child to restart (a backoff) has
/// its deadline counted from when it began to wait, so that a check still
/// ends within its timeouts; reaching it is not the tool's time-out (the
/// tool had only the rest), so the job is skipped and the child kept.
#[test]
fn a_job_that_waited_for_a_restart_ends_within_its_timeout() {
    let (env, mut c) = stuck_tool("600ms");
    // The first time-out restarts the child at once, the second after the
    // backoff (480 to 720 ms), which the third check meets.
    for _ in 0..2 {
        let r = c.call("check", json!({ "no_cache": true }));
        assert_eq!(r["result"]["summary"]["outcomes"]["timed_out"], 1, "{r}");
    }
    let r = c.call("check", json!({ "no_cache": true }));
    let o = &r["result"]["outcomes"][0]["outcome"];
    assert_eq!(o["status"], "skipped", "{r}");
    assert!(o["reason"].as_str().unwrap().starts_with("not run in time: validator stuck was restarting"), "{o}");
    // Its child was not killed for it: two time-outs, two restarts.
    assert_eq!(timed_out_events(&env), 2);
}

/// A job that waited for a restart only as long as a restart's first
/// backoffs (here 32 to 48 ms) gives its tool the whole timeout: a tool
/// that hangs through it timed out, and counts toward quarantine, rather
/// than be skipped for a wait of a few milliseconds.
#[test]
fn a_job_that_waited_a_moment_for_a_restart_still_times_out() {
    let (env, mut c) = stuck_tool("40ms");
    for _ in 0..3 {
        let r = c.call("check", json!({ "no_cache": true }));
        assert_eq!(r["result"]["summary"]["outcomes"]["timed_out"], 1, "{r}");
    }
    assert_eq!(timed_out_events(&env), 3);
}

/// Configures `slow`, a command validator whose tool writes `started` to
/// the file returned, one line a run, then sleeps `sleep` seconds, and
/// writes `files` files for it to check.
fn sleeping_tool(env: &Env, files: usize, sleep: &str, timeout: &str, concurrency: usize) -> std::path::PathBuf {
    let marks = env.tmp.path().join("marks");
    env.write(
        "verdict.toml",
        format!(
            "builtins = false\n[validators.slow]\nkind = \"command\"\nfiles = [\"*.txt\"]\n\
             command = [\"sh\", \"-c\", \"echo started >> {}; sleep {sleep}\", \"slow\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\ntimeout = \"{timeout}\"\nconcurrency = {concurrency}\n",
            marks.display()
        ),
    );
    for i in 0..files {
        env.write(&format!("f{i:02}.txt"), format!("{i}\n"));
    }
    marks
}

/// Jobs whose child is restarted under them (`verdict restart`) run again
/// on the next child at once, in the concurrency slots they had: the jobs
/// queued behind them do not take those, which left the two to wait their
/// turn past their deadlines and be skipped.
#[test]
fn jobs_run_again_after_a_restart_keep_their_concurrency_slots() {
    let env = Env::new();
    let marks = sleeping_tool(&env, 20, "0.5", "3s", 2);
    env.start();
    let mut check = env.cmd();
    check.args(["check", "--no-cache", "--format", "json"]).stdout(std::process::Stdio::piped());
    let check = check.spawn().unwrap();
    wait_for_text(&marks, "started");
    env.run_ok(&["restart", "slow"], 0);
    let out = check.wait_with_output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes = &r["summary"]["outcomes"];
    assert_eq!((outcomes["passed"].as_u64(), outcomes["skipped"].as_u64()), (Some(20), Some(0)), "{}", r["summary"]);
}

#[test]
fn a_validator_that_keeps_timing_out_is_quarantined_until_restarted() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        r#"
builtins = false
[validators.stuck]
kind = "command"
command = ["sh", "-c", "sleep 30", "sleep"]
mode = "per_file"
parser = "exit_code"
files = ["*.py"]
timeout = "200ms"
restart = { max_restarts = 1, window = "60s" }
"#,
    );
    env.write("a.py", "1\n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!((code, status_of(&r, "a.py", "stuck")), (3, "timed_out".into()));
    let (_, r) = check_json(&env, &[]);
    assert_eq!(status_of(&r, "a.py", "stuck"), "timed_out");
    // Two timeouts within the window, one restart allowed: quarantined.
    wait_until(Duration::from_secs(5), "quarantine", || {
        env.json(&["status"])["validators"][0]["state"] == "quarantined"
    });
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 3);
    let o = outcome(&r, "a.py", "stuck");
    assert_eq!(o["status"], "error");
    assert!(o["reason"].as_str().unwrap().contains("quarantined"), "{o}");
    let out = env.run_ok(&["restart", "stuck"], 0);
    assert!(out.contains("restarted stuck"), "{out}");
    assert_eq!(env.json(&["status"])["validators"][0]["state"], "running");
}

/// Starting a tool can fail for want of descriptors that the validator's
/// other tools hold (`concurrency` above what the limit of open files
/// allows): a transient fault, tried again with backoff as they end, not
/// an error for the file.
#[test]
fn a_tool_short_of_descriptors_is_started_once_others_end() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        "builtins = false\n[validators.slow]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"sleep 0.2\", \"slow\"]\n\
         mode = \"per_file\"\nparser = \"exit_code\"\nfiles = [\"*.txt\"]\nconcurrency = 150\n",
    );
    // About 60 at once: three rounds of 0.2 s, well within the 2 s for
    // which a start is tried again.
    for i in 0..150 {
        env.write(&format!("f{i}.txt"), "x\n");
    }
    // The daemon this command starts inherits a hard limit of 160 open
    // files (it raises its soft limit to its hard one): about 60 tools.
    let out = env
        .cmd_of(std::path::Path::new("prlimit"))
        .arg("--nofile=160:160")
        .arg("--")
        .arg(crate::support::bin())
        .args(["check", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("prlimit is needed (apt-get install util-linux): {e}"));
    let r: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(r["summary"]["outcomes"]["passed"], 150, "{}", r["summary"]);
    assert_eq!(out.status.code(), Some(0));
    env.run(&["stop"]);
}

/// A shortage of descriptors that no tool of the validator's can end (none
/// runs) is waited for once, not once per file: after the first start has
/// waited as long as it may, the others fail at once. Raising the limit
/// ends it: the next check's tools start.
#[test]
fn a_lasting_shortage_of_descriptors_is_waited_for_once_not_for_each_file() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        "builtins = false\n[validators.t]\nkind = \"command\"\ncommand = [\"true\"]\nmode = \"per_file\"\n\
         parser = \"exit_code\"\nfiles = [\"*.txt\"]\nconcurrency = 1\n",
    );
    for i in 0..6 {
        env.write(&format!("f{i}.txt"), "x\n");
    }
    env.start();
    assert_eq!(check_json(&env, &["--no-cache"]).0, 0);
    let pid = env.json(&["ping"])["pid"].as_u64().unwrap().to_string();
    let soft = |limit: &str| {
        let out = std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={limit}:")])
            .output()
            .unwrap_or_else(|e| panic!("prlimit is needed (apt-get install util-linux): {e}"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let before = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let before = before.lines().find(|l| l.starts_with("Max open files")).unwrap().split_whitespace().nth(3).unwrap();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    // The fewest descriptors above those open that let the files be read
    // but no tool start (a tool takes about six: its pipes, /dev/null).
    let mut seen = Vec::new();
    let reasons = (2..10)
        .find_map(|more| {
            soft(&(open + more).to_string());
            let (_, r) = check_json(&env, &["--no-cache"]);
            let reasons: Vec<String> = r["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["outcome"]["reason"].as_str().unwrap_or("passed").to_owned())
                .collect();
            seen.push(reasons.clone());
            reasons.iter().any(|r| r.starts_with("cannot run")).then_some(reasons)
        })
        .unwrap_or_else(|| panic!("no limit made the tools short of descriptors: {seen:#?}"));
    let waited = reasons.iter().filter(|r| r.contains("still after trying again")).count();
    let at_once = reasons.iter().filter(|r| r.contains("not tried again")).count();
    let unread = reasons.iter().filter(|r| r.starts_with("cannot read")).count();
    assert_eq!((waited, waited + at_once + unread), (1, 6), "{reasons:#?}");
    assert!(at_once >= 1, "{reasons:#?}");
    soft(before);
    let (code, r) = check_json(&env, &["--no-cache"]);
    assert_eq!((code, &r["summary"]["outcomes"]["passed"]), (0, &json!(6)), "{r}");
    env.run(&["stop"]);
}

/// A quarantined validator's files are answered at once: not after the
/// concurrency slot that its timed-out tool keeps through its grace.
#[test]
fn a_quarantined_validator_does_not_wait_for_a_slot_held_through_a_grace() {
    let env = Env::new();
    let pid_file = env.tmp.path().join("pid");
    env.write(
        "verdict.toml",
        format!(
            "builtins = false\n[validators.stuck]\nkind = \"command\"\n\
             command = [\"sh\", \"-c\", \"trap '' TERM; echo $$ > {}; while :; do sleep 1; done\", \"stuck\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\nfiles = [\"*.py\"]\ntimeout = \"300ms\"\n\
             kill_after = \"120s\"\nconcurrency = 1\nrestart = {{ max_restarts = 0 }}\n",
            pid_file.display()
        ),
    );
    env.write("a.py", "1\n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!((code, status_of(&r, "a.py", "stuck")), (3, "timed_out".into()));
    wait_until(Duration::from_secs(5), "quarantine", || {
        env.json(&["status"])["validators"][0]["state"] == "quarantined"
    });
    let tool: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let (_, r) = check_json(&env, &[]);
    let o = outcome(&r, "a.py", "stuck");
    assert!(o["status"] == "error" && o["reason"].as_str().unwrap().contains("quarantined"), "{o}");
    assert!(alive(tool as u32), "answered only once the grace was over and the tool killed");
    env.run(&["stop"]);
}

#[test]
fn a_tool_that_floods_stdout_is_bounded_and_the_daemon_survives() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        r#"
builtins = false
[validators.flood]
kind = "command"
command = ["sh", "-c", "head -c 300000000 /dev/zero; exit 1", "flood"]
mode = "per_file"
parser = "exit_code"
files = ["*.txt"]
timeout = "60s"
max_output = "64KiB"
"#,
    );
    env.write("a.txt", "x\n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "{r}");
    assert!(outcome(&r, "a.txt", "flood")["findings"][0]["message"].as_str().unwrap().contains("status 1"));
    let s = env.json(&["status"]);
    let pid = s["pid"].as_u64().unwrap();
    let (rss_kb, _) = memory_kb(pid);
    assert!(rss_kb < 200 * 1024, "the daemon's peak RSS grew to {rss_kb} kB reading a 300 MB flood");
}

#[test]
fn tool_failures_are_clear_outcomes() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        r#"
builtins = false
[validators.missing]
kind = "command"
command = ["definitely-not-a-real-tool-xyz"]
mode = "per_file"
parser = "exit_code"
files = ["*.txt"]
[validators.segv]
kind = "command"
command = ["sh", "-c", "kill -SEGV $$", "segv"]
mode = "per_file"
parser = "exit_code"
files = ["*.txt"]
"#,
    );
    env.write("a.txt", "x\n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 3);
    let m = outcome(&r, "a.txt", "missing");
    assert!(m["reason"].as_str().unwrap().contains("not found"), "{m}");
    let s = outcome(&r, "a.txt", "segv");
    assert!(s["reason"].as_str().unwrap().contains("SIGSEGV"), "{s}");
}

/// A project of one file, `a.txt`, checked by `slow`, which runs `sleep`
/// (`command`, say `sleep 77`: a name `pgrep` finds) under a 120 s
/// timeout; its daemon started.
fn sleeping_tool_project(command: &str) -> Env {
    let env = Env::new();
    env.write(
        "verdict.toml",
        format!(
            "builtins = false\n[validators.slow]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"{command}\", \"sleep\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\nfiles = [\"*.txt\"]\ntimeout = \"120s\"\n"
        ),
    );
    env.write("a.txt", "x\n");
    env.start();
    env
}

#[test]
fn ctrl_c_cancels_the_run_and_kills_its_tools() {
    let env = sleeping_tool_project("sleep 77");
    let child = env.cmd().args(["--json", "check", "."]).stdout(Stdio::piped()).spawn().unwrap();
    wait_until(Duration::from_secs(10), "the tool to start", || pgrep("sleep 77"));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // With --json, the cancelled check is said as JSON too.
    let said: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(said["error"]["code"], -32008, "{said}");
    wait_until(Duration::from_secs(5), "the tool to be killed", || !pgrep("sleep 77"));
    assert_eq!(env.json(&["ping"])["pong"], true);
}

/// A daemon that does not answer the first Ctrl-C's cancel (stopped here)
/// does not hold the CLI: a second Ctrl-C leaves at once, and the daemon,
/// once it runs again, cancels the check of the client gone.
#[test]
fn a_second_ctrl_c_stops_waiting_for_a_daemon_that_does_not_answer() {
    let env = sleeping_tool_project("sleep 76");
    let daemon = nix::unistd::Pid::from_raw(env.json(&["ping"])["pid"].as_u64().unwrap() as i32);
    let mut child = env.cmd().args(["check", "."]).stderr(Stdio::piped()).spawn().unwrap();
    let client = nix::unistd::Pid::from_raw(child.id() as i32);
    // The client's stderr, line by line, as it comes.
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    wait_until(Duration::from_secs(10), "the tool to start", || pgrep("sleep 76"));
    nix::sys::signal::kill(daemon, nix::sys::signal::Signal::SIGSTOP).unwrap();
    // Resumed whatever happens below, so that the test's end can stop it.
    struct Resume(nix::unistd::Pid);
    impl Drop for Resume {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGCONT);
        }
    }
    let resume = Resume(daemon);
    nix::sys::signal::kill(client, nix::sys::signal::Signal::SIGINT).unwrap();
    // The first is taken (its line is printed) before the second comes: two
    // signals the client has not yet read are one.
    let first = lines.recv_timeout(Duration::from_secs(10)).expect("the client to take the first Ctrl-C");
    assert!(first.contains("Ctrl-C again"), "{first}");
    nix::sys::signal::kill(client, nix::sys::signal::Signal::SIGINT).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait().unwrap());
    });
    let status = rx.recv_timeout(Duration::from_secs(10)).expect("the client to leave while the daemon is stopped");
    assert_eq!(status.code(), Some(2));
    let rest: Vec<String> = lines.iter().collect();
    assert!(rest.iter().any(|l| l.contains("interrupted again")), "{rest:?}");
    drop(resume);
    wait_until(Duration::from_secs(10), "the tool to be killed", || !pgrep("sleep 76"));
    assert_eq!(env.json(&["ping"])["pong"], true);
}

#[test]
fn a_client_that_dies_without_ctrl_c_cancels_its_run_and_kills_its_tools() {
    for (signal, tool) in
        [(nix::sys::signal::Signal::SIGKILL, "sleep 78"), (nix::sys::signal::Signal::SIGHUP, "sleep 79")]
    {
        let env = Env::new();
        env.write(
            "verdict.toml",
            format!(
                r#"
builtins = false
[validators.slow]
kind = "command"
command = ["sh", "-c", "trap '' TERM INT; {tool}", "sleep"]
mode = "per_file"
parser = "exit_code"
files = ["*.txt"]
timeout = "10m"
"#
            ),
        );
        env.write("a.txt", "x\n");
        env.start();
        let mut child = env.cmd().args(["check", "."]).spawn().unwrap();
        wait_until(Duration::from_secs(10), "the tool to start", || pgrep(tool));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        child.wait().unwrap();
        // Its tools die long before their ten-minute timeout.
        wait_until(Duration::from_secs(20), "the tool to be killed", || !pgrep(tool));
        // No request is left (the status request does not count itself).
        let status = env.json(&["status"]);
        assert_eq!(status["requests_in_flight"], 0, "{status}");
    }
}

/// Configures one external tool, `counted`, over `*.txt`, that appends a
/// line to the returned file each time it runs (then runs `then`).
fn counted_tool(env: &Env, then: &str) -> std::path::PathBuf {
    let counter = env.tmp.path().join("count");
    env.write(
        "verdict.toml",
        format!(
            r#"
builtins = false
[validators.counted]
kind = "command"
command = ["sh", "-c", "echo x >> {}{then}", "counted"]
mode = "per_file"
parser = "exit_code"
files = ["*.txt"]
"#,
            counter.display()
        ),
    );
    counter
}

/// Three files for [`counted_tool`], each run taking 3 s, and the daemon
/// started: long runs, so that a second check claims or waits for its
/// pairs while the first's are still running (had they ended and been
/// cached after its lookup missed, it would compute them again), however
/// slow its start.
fn three_slow_counted_files(env: &Env) -> std::path::PathBuf {
    let counter = counted_tool(env, "; sleep 3");
    for i in 0..3 {
        env.write(&format!("f{i}.txt"), format!("{i}\n"));
    }
    env.start();
    counter
}

#[test]
fn a_pair_needed_by_two_concurrent_checks_is_computed_once() {
    let env = Env::new();
    let counter = three_slow_counted_files(&env);
    let mut a = env.connect();
    let mut b = env.connect();
    let ia = a.send("check", json!({}));
    let ib = b.send("check", json!({}));
    let (ra, _) = a.reply(ia);
    let (rb, _) = b.reply(ib);
    for r in [&ra, &rb] {
        assert_eq!(r["result"]["summary"]["pairs"], 3, "{r}");
        assert_eq!(r["result"]["summary"]["outcomes"]["error"], 0, "{r}");
    }
    let runs = std::fs::read_to_string(&counter).unwrap().lines().count();
    assert_eq!(runs, 3, "each file was validated {runs} times for two checks of three files");
}

/// What a new user gets wrong first is said plainly: a pattern the shell
/// did not expand, a link out of the project, a check refused for an
/// invalid verdict.toml, and `check --help` lists the exit codes.
#[test]
fn first_mistakes_are_told_plainly() {
    let env = Env::new();
    env.write("a.json", "{}\n");
    let stderr = |args: &[&str]| {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // A name mistyped gets the likeliest, and the list.
    let said = stderr(&["check", "--validator", "trailing-whitspace"]);
    assert!(said.contains("did you mean \"trailing-whitespace\"?") && said.contains("yaml"), "{said}");
    let said = stderr(&["check", "--dimension", "securty"]);
    assert!(said.contains("did you mean \"security\"?"), "{said}");
    let said = String::from_utf8_lossy(&env.run(&["restart", "jsn"]).stderr).into_owned();
    assert!(said.contains("did you mean \"json\"?") && said.contains("the validators are: "), "{said}");
    let said = stderr(&["check", "--validator", "zzzzzz"]);
    assert!(!said.contains("did you mean"), "{said}");
    let said = stderr(&["check", "*.json"]);
    assert!(said.contains("*.json: no such file or directory (verdict does not expand patterns"), "{said}");
    let said = stderr(&["check", "gone.txt"]);
    assert!(said.contains("gone.txt: no such file or directory") && !said.contains("expand"), "{said}");
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("x.txt"), "x\n").unwrap();
    std::os::unix::fs::symlink(elsewhere.path().join("x.txt"), env.project.join("link.txt")).unwrap();
    let said = stderr(&["check", "link.txt"]);
    assert!(said.contains("link.txt (a link to ") && said.contains("is outside the project root"), "{said}");
    env.write("verdict.toml", "[validators.x]\nkind = \"nope\"\n");
    let said = stderr(&["check", "."]);
    assert!(said.contains("invalid configuration, so nothing was checked"), "{said}");
    let help = env.run(&["check", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("Exit codes: 0 all passed; 1 findings"), "{help:?}");
    // A program a run would not find or could not start: a warning from
    // `config check`, which still says valid.
    env.write("tools/lint.sh", "#!/bin/sh\n");
    env.write(
        "verdict.toml",
        "[validators.ruff]\nkind = \"command\"\nfiles = [\"*.py\"]\ncommand = [\"ruff-not-installed\", \"check\"]\n\
         [validators.mine]\nkind = \"command\"\nfiles = [\"*.py\"]\ncommand = [\"./tools/lint.sh\"]\n\
         version = [\"tools/gone.sh\"]\n[validators.ok]\nkind = \"command\"\nfiles = [\"*.py\"]\ncommand = [\"sh\"]\n",
    );
    let out = env.run(&["config", "check"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("validators.ruff.command: \"ruff-not-installed\" is not found on PATH"), "{said}");
    assert!(said.contains("validators.mine.command: \"./tools/lint.sh\" is not executable (chmod +x"), "{said}");
    assert!(said.contains("validators.mine.version: \"tools/gone.sh\" does not exist"), "{said}");
    assert!(said.contains("tools/gone.sh): its results would not be cached"), "{said}");
    assert!(!said.contains("validators.ok"), "{said}");
    let doc = env.json(&["config", "check"]);
    assert_eq!(doc["warnings"].as_array().map(Vec::len), Some(3), "{doc}");
    // A program found through a relative PATH entry, the file named
    // relatively: found from the project root, as a run finds it.
    env.write("node_modules/.bin/mylint", "#!/bin/sh\n");
    std::fs::set_permissions(
        env.project.join("node_modules/.bin/mylint"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    env.write("mylint.toml", "[validators.m]\nkind = \"command\"\nfiles = [\"*.js\"]\ncommand = [\"mylint\"]\n");
    let path = format!("node_modules/.bin:{}", std::env::var("PATH").unwrap());
    let out = env
        .cmd()
        .env("PATH", path)
        .current_dir(&env.project)
        .args(["config", "check", "mylint.toml"])
        .output()
        .unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    // A validator whose `files` match nothing checks nothing: said, not
    // passed in silence.
    env.write(
        "verdict.toml",
        "builtins = false\n[validators.pyparse]\nkind = \"command\"\nfiles = [\"src/*.py\"]\ncommand = [\"true\"]\n",
    );
    env.write("src/pkg/bad.py", "def f(:\n");
    for args in [&["check", "--validator", "pyparse"][..], &["check"]] {
        let out = env.run(args);
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{said}");
        assert!(said.contains("none of the 6 files found was selected by") && said.contains("src/**/*.py"), "{said}");
    }
    // Not for files named one by one (a hook's), nor when every file found
    // is binary (selected, then left out by the text checks).
    let out = env.run(&["check", "--validator", "pyparse", "a.json"]);
    assert!(out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("none of"), "{out:?}");
    let binary = Env::new();
    binary.write("blob.bin", b"\x00\x01\x02");
    let out = binary.run(&["check", "--validator", "trailing-whitespace"]);
    assert!(out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("none of"), "{out:?}");
}

/// A verdict.toml below the root (a monorepo's package) is not applied,
/// and a check says so, warm or cold; a check run in its directory takes
/// it.
#[test]
fn a_verdict_toml_below_the_root_is_said_not_to_apply() {
    let env = Env::new();
    env.write("verdict.toml", "[validators.trailing-whitespace]\nenabled = false\n");
    env.write("packages/api/verdict.toml", "[validators.final-newline]\nenabled = false\n");
    env.write("packages/api/a.txt", "x  ");
    env.write("d/x.txt", "x\n");
    env.write("packages/api/src/b.txt", "b\n");
    // Cold, warm, and updated (only `d` walked again, after an edit there).
    for round in 0..3 {
        if round == 2 {
            env.write("d/x.txt", "y\n");
        }
        let out = env.run(&["check", "--format", "json"]);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("packages/api/verdict.toml is not applied to this check")
                && said.contains("a check run in packages/api takes it"),
            "round {round}: {said}"
        );
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        if round == 2 {
            assert_eq!(r["summary"]["incremental"], true, "{}", r["summary"]);
        }

        // The root's configuration, computed then cached.
        assert!(
            outcome(&r, "packages/api/a.txt", "final-newline").to_string().contains("does not end with a newline"),
            "{r}"
        );
    }
    // Named: a file below it, or a directory below it, whose walk does not
    // meet it.
    for named in ["packages/api/a.txt", "packages/api/src"] {
        let out = env.run(&["check", named]);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("packages/api/verdict.toml is not applied to this check"), "{named}: {said}");
    }
}

/// Progress is streamed while a job runs, not only as jobs end: a client
/// whose first job takes a minute is told the count at once.
#[test]
fn progress_is_told_while_the_first_job_runs() {
    let env = Env::new();
    let release = env.tmp.path().join("release");
    env.write(
        "verdict.toml",
        format!(
            "[validators.held]\nkind = \"command\"\nfiles = [\"*.txt\"]\nmode = \"per_file\"\nparser = \"exit_code\"\n\
             command = [\"sh\", \"-c\", \"while [ ! -e {} ]; do sleep 0.05; done\", \"held\"]\n",
            release.display()
        ),
    );
    env.write("a.txt", "a\n");
    env.start();
    let mut c = env.connect();
    let id = c.send("check", json!({}));
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        loop {
            let m = c.read().expect("a reply");
            let done = m["id"] == json!(id);
            let _ = tx.send(m);
            if done {
                break;
            }
        }
    });
    // With the tool held, a count of every pair (the built-ins' and the
    // held one's) that is not yet done.
    let counted = loop {
        let m = rx.recv_timeout(Duration::from_secs(10)).expect("progress with a count while the job runs");
        let p = &m["params"];
        if m["method"] == "check/progress" && p["total"].as_u64().unwrap_or(0) > 0 {
            break p.clone();
        }
    };
    assert!(counted["done"].as_u64() < counted["total"].as_u64(), "{counted}");
    std::fs::write(&release, "").unwrap();
    reader.join().unwrap();
}

/// A `--no-cache` check computes its pairs again, but a check beside it
/// waits for its fresh verdicts rather than running the tools a second
/// time (an audit saw 12 jobs for 6 files).
#[test]
fn a_check_beside_a_no_cache_check_takes_its_verdicts() {
    let env = Env::new();
    let counter = three_slow_counted_files(&env);
    let mut a = env.connect();
    let mut b = env.connect();
    let ia = a.send("check", json!({ "no_cache": true }));
    wait_until(Duration::from_secs(10), "the no-cache check's tools to start", || {
        std::fs::read_to_string(&counter).is_ok_and(|c| c.lines().count() >= 1)
    });
    let ib = b.send("check", json!({}));
    let (ra, _) = a.reply(ia);
    let (rb, _) = b.reply(ib);
    for r in [&ra, &rb] {
        assert_eq!(r["result"]["summary"]["outcomes"]["passed"], 3, "{r}");
    }
    let runs = std::fs::read_to_string(&counter).unwrap().lines().count();
    assert_eq!(runs, 3, "each file was validated {runs} times for two checks of three files");
}

/// A check waiting for another check's run of the same pair waits within
/// its own timeout, and does not run again a job that timed out there:
/// either would have it take up to twice its timeout (an audit saw 6.5 s
/// for a 1 s timeout).
#[test]
fn a_check_waits_for_another_checks_job_within_its_timeout() {
    let env = Env::new();
    let marks = env.tmp.path().join("marks");
    let config = |timeout: &str| {
        format!(
            "builtins = false\n[validators.hang]\nkind = \"command\"\nfiles = [\"*.txt\"]\n\
             command = [\"sh\", \"-c\", \"echo run >> {}; exec sleep 30\", \"hang\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\ntimeout = \"{timeout}\"\n",
            marks.display()
        )
    };
    env.write("verdict.toml", config("2s"));
    env.write("h.txt", "h\n");
    env.start();
    let reason = |r: &Value| r["result"]["outcomes"][0]["outcome"]["reason"].as_str().unwrap_or_default().to_owned();
    // The first check's job times out: the second, waiting for it, is told
    // so, and the tool ran once.
    let (mut a, mut b) = (env.connect(), env.connect());
    let ia = a.send("check", json!({}));
    wait_for_text(&marks, "run");
    let ib = b.send("check", json!({}));
    let (ra, _) = a.reply(ia);
    assert_eq!(ra["result"]["summary"]["outcomes"]["timed_out"], 1, "{ra}");
    let (rb, _) = b.reply(ib);
    assert!(reason(&rb).contains("it timed out there"), "{rb}");
    assert_eq!(std::fs::read_to_string(&marks).unwrap().lines().count(), 1);
    // A shorter timeout (a reload between the two; the timeout is not part
    // of the pair's identity): the second stops waiting at its own.
    env.write("verdict.toml", config("8s"));
    env.json(&["reload"]);
    let ia = a.send("check", json!({}));
    wait_for_text(&marks, "run\nrun");
    env.write("verdict.toml", config("1s"));
    let ib = b.send("check", json!({}));
    let (rb, _) = b.reply(ib);
    assert!(reason(&rb).contains("did not end within the timeout of 1s"), "{rb}");
    let (ra, _) = a.reply(ia);
    assert_eq!(ra["result"]["summary"]["outcomes"]["timed_out"], 1, "{ra}");
}

/// The wait for another check's run of a pair counts its timeout from
/// when that run's job began, not while it queued for a concurrency slot:
/// five 0.4 s jobs one at a time, under a 1 s timeout, all reach the
/// second check (counted from the start of its wait, most were skipped).
#[test]
fn waiting_for_another_checks_queued_jobs_is_not_timed() {
    let env = Env::new();
    let counter = sleeping_tool(&env, 5, "0.4", "1s", 1);
    env.start();
    let (mut a, mut b) = (env.connect(), env.connect());
    let ia = a.send("check", json!({}));
    wait_for_text(&counter, "started");
    let ib = b.send("check", json!({}));
    let (ra, _) = a.reply(ia);
    let (rb, _) = b.reply(ib);
    for r in [&ra, &rb] {
        assert_eq!(r["result"]["summary"]["outcomes"]["passed"], 5, "{r}");
    }
    assert_eq!(std::fs::read_to_string(&counter).unwrap().lines().count(), 5, "each file run once");
}

/// A reload that changes only `concurrency` keeps the validator's identity
/// (its cached results stay good) but gives it a new limit. A check on the
/// new configuration does not wait for pairs still queued behind the old
/// limit in a check begun before the reload: it runs them itself, under its
/// own limit.
#[test]
fn a_check_after_a_concurrency_change_does_not_wait_behind_the_old_queue() {
    let env = Env::new();
    let marks = env.tmp.path().join("marks");
    // Each file's run lasts until a file of its name is in `release`.
    let release = env.tmp.path().join("release");
    std::fs::create_dir(&release).unwrap();
    let config = |concurrency: usize| {
        format!(
            "builtins = false\n[validators.gate]\nkind = \"command\"\nfiles = [\"*.txt\"]\n\
             command = [\"sh\", \"-c\", \"echo $1 >> {}; while [ ! -e {}/$1 ]; do sleep 0.05; done\", \"gate\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\ntimeout = \"60s\"\nconcurrency = {concurrency}\n",
            marks.display(),
            release.display()
        )
    };
    env.write("verdict.toml", config(1));
    for name in ["a.txt", "b.txt", "c.txt"] {
        env.write(name, format!("{name}\n"));
    }
    env.start();
    // The first check holds its only slot with one file; the other two
    // queue behind it.
    let (mut a, mut b) = (env.connect(), env.connect());
    let ia = a.send("check", json!({}));
    wait_for_text(&marks, ".txt");
    let first = std::fs::read_to_string(&marks).unwrap().lines().next().unwrap().to_owned();
    let queued: Vec<&str> = ["a.txt", "b.txt", "c.txt"].into_iter().filter(|n| *n != first).collect();
    for name in &queued {
        std::fs::write(release.join(name), "").unwrap();
    }
    env.write("verdict.toml", config(2));
    let reload = env.json(&["reload"]);
    assert_eq!(reload["changed"], json!(["gate"]), "{reload}");
    // Waiting behind the first check's queue, this reply would not come
    // until the first file is released (the connection's 30 s read
    // timeout fails it).
    let ib = b.send("check", json!({ "paths": queued }));
    let (rb, _) = b.reply(ib);
    assert_eq!(rb["result"]["summary"]["outcomes"]["passed"], 2, "{rb}");
    std::fs::write(release.join(&first), "").unwrap();
    let (ra, _) = a.reply(ia);
    assert_eq!(ra["result"]["summary"]["outcomes"]["passed"], 3, "{ra}");
}

/// Runs git in the project (with an identity for commits).
fn git(env: &Env, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(&env.project)
        .output()
        .unwrap_or_else(|e| panic!("cannot run git ({e}); install it: apt-get install git"));
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A file git tracks is checked though an ignore rule matches it, as git
/// does not ignore it: a `.env` committed before it was listed in
/// `.gitignore` still holds its secret. So is one in an ignored directory
/// (added with `git add -f`); an ignored file git does not track is not,
/// and `check.exclude` still takes a tracked one out.
#[test]
fn tracked_files_are_checked_though_an_ignore_rule_matches_them() {
    let env = Env::new();
    let secret = "AWS_SECRET_ACCESS_KEY=q9Fz3LmR7tVb2Nc8Hd4Jf6Gs1Wy5Za0Ue3Qo7/iK\n";
    env.write(".env", secret);
    env.write("README", "ok\n");
    env.write("build/kept.c", "int x; \n");
    env.write("build/out.o", "junk \n");
    env.write("local.env", secret);
    git(&env, &["init", "-q"]);
    git(&env, &["add", ".env", "README"]);
    git(&env, &["add", "-f", "build/kept.c"]);
    git(&env, &["commit", "-qm", "first"]);
    env.write(".gitignore", ".env\nbuild/\nlocal.env\n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "{}", r["summary"]);
    assert_eq!(files(&r), [".env", ".gitignore", "README", "build/kept.c"], "{}", r["summary"]);
    let secrets = outcome(&r, ".env", "secrets");
    assert_eq!(secrets["status"], "findings", "{secrets}");
    assert_eq!(outcome(&r, "build/kept.c", "trailing-whitespace")["status"], "findings");
    // Warm: the same, and an edit of the tracked file in the ignored
    // directory is seen.
    let (_, again) = check_json(&env, &[]);
    assert_eq!(files(&again), files(&r));
    env.write("build/kept.c", "int x;\n");
    let (_, edited) = check_json(&env, &[]);
    assert_eq!(outcome(&edited, "build/kept.c", "trailing-whitespace")["status"], "passed", "{}", edited["summary"]);
    // A file tracked since (`git add -f`) is checked by the next check: the
    // index is watched.
    let _ = check_json(&env, &[]);
    git(&env, &["add", "-f", "build/out.o"]);
    let (_, added) = check_json(&env, &[]);
    assert!(files(&added).contains(&"build/out.o".to_owned()), "{}", added["summary"]);
    // Named paths: only what is under them.
    let (_, named) = check_json(&env, &["README"]);
    assert_eq!(files(&named), ["README"]);
    // `check.exclude` takes a tracked file out as any.
    env.write("verdict.toml", "[check]\nexclude = [\".env\"]\n");
    let (_, excluded) = check_json(&env, &[]);
    assert!(!files(&excluded).contains(&".env".to_owned()), "{:?}", files(&excluded));
}

/// `.ignore` hides a tracked file whether or not a `.gitignore` matches it
/// too (git lists it then, not knowing `.ignore`): which files a check
/// takes does not hang on a `.gitignore` in a directory the walk does not
/// enter, which nothing watches (an audit found a warm check stale after
/// one was written there). A `!` rule of a deeper `.ignore` brings a file
/// back; the file directly named in a `.ignore` is hidden too.
#[test]
fn a_dot_ignore_hides_tracked_files_whatever_gitignore_says() {
    let env = Env::new();
    env.write("a/w.log", "x \n");
    env.write("b/kept.log", "x \n");
    env.write("b/.ignore", "!kept.log\n");
    env.write("c/one.log", "x \n");
    env.write(".ignore", "a/\n*.log\n");
    git(&env, &["init", "-q"]);
    git(&env, &["add", "-f", "a/w.log", "b/kept.log", "c/one.log", ".ignore", "b/.ignore"]);
    let (_, r) = check_json(&env, &[]);
    assert_eq!(files(&r), [".ignore", "b/.ignore", "b/kept.log"], "{}", r["summary"]);
    // Ignored by git as well: still not checked, before or after a
    // `.gitignore` appears in the hidden directory.
    env.write(".gitignore", "c/\n");
    let (_, r) = check_json(&env, &[]);
    assert_eq!(files(&r), [".gitignore", ".ignore", "b/.ignore", "b/kept.log"], "{}", r["summary"]);
    env.write("a/.gitignore", "*.log\n");
    let (_, warm) = check_json(&env, &[]);
    assert_eq!(files(&warm), files(&r), "{}", warm["summary"]);
    env.run_ok(&["stop"], 0);
    let (_, fresh) = check_json(&env, &["--no-cache"]);
    assert_eq!(files(&fresh), files(&r), "{}", fresh["summary"]);
    // A `.ignore` above the project counts as the walk honours it, and one
    // in a directory whose name is not UTF-8 (the review of the first fix
    // found both passed over).
    std::fs::write(env.tmp.path().join(".ignore"), "*.skip\n").unwrap();
    env.write("d.skip", "x \n");
    let odd = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"odd\xff");
    let odd_dir = env.project.join(odd);
    std::fs::create_dir(&odd_dir).unwrap();
    // (With a line that does not compile: the others still count.)
    std::fs::write(odd_dir.join(".ignore"), "{bad\nx.txt\n").unwrap();
    std::fs::write(odd_dir.join("x.txt"), "x \n").unwrap();
    env.write(".gitignore", "c/\n*.skip\nx.txt\n");
    git(&env, &["add", "-f", "."]);
    let (_, r) = check_json(&env, &[]);
    let listed = files(&r);
    assert!(!listed.iter().any(|f| f.ends_with(".skip") || f.ends_with("x.txt")), "{listed:?}");
}

/// An ignore file written through a hard link in another directory sends
/// no event to its own directory's watch: a check relying on it sees its
/// stamp moved and walks again. (git's `info/exclude`, and a `.gitignore`
/// that ignores itself, so that it is no checked file to be looked at.)
#[test]
fn ignore_files_written_through_another_link_are_seen() {
    let env = Env::new();
    git(&env, &["init", "-q"]);
    env.write("a/.gitignore", ".gitignore\n");
    env.write("a/x.txt", "x\n");
    env.write("a/y.txt", "y\n");
    std::fs::create_dir_all(env.project.join("rules")).unwrap();
    std::fs::hard_link(env.project.join("a/.gitignore"), env.project.join("rules/gi")).unwrap();
    let exclude = env.project.join(".git/info/exclude");
    std::fs::create_dir_all(exclude.parent().unwrap()).unwrap();
    std::fs::write(&exclude, "").unwrap();
    std::fs::hard_link(&exclude, env.project.join("rules/excl")).unwrap();
    let settled = || {
        let answer = (0..5).map(|_| check_json(&env, &[]).1).find(|r| r["summary"]["unchanged"] == true);
        files(&answer.expect("never answered unchanged"))
    };
    assert_eq!(settled(), ["a/x.txt", "a/y.txt", "rules/excl", "rules/gi"]);
    let append = |to: &str, line: &str| {
        let mut f = std::fs::OpenOptions::new().append(true).open(env.project.join(to)).unwrap();
        std::io::Write::write_all(&mut f, line.as_bytes()).unwrap();
    };
    append("rules/gi", "x.txt\n");
    let (_, r) = check_json(&env, &[]);
    assert_eq!(files(&r), ["a/y.txt", "rules/excl", "rules/gi"], "{}", r["summary"]);
    assert_eq!(settled(), ["a/y.txt", "rules/excl", "rules/gi"]);
    append("rules/excl", "y.txt\n");
    let (_, r) = check_json(&env, &[]);
    assert_eq!(files(&r), ["rules/excl", "rules/gi"], "{}", r["summary"]);
}

/// The files a nested repository or a submodule tracks that its ignore
/// rules match are checked too: git lists them only from inside (an audit
/// of the first fix found a submodule's committed `.env` unscanned). A
/// check that walks one of their directories again keeps them, and one made
/// after `git add -f` there finds the file added.
#[test]
fn tracked_ignored_files_of_nested_repositories_and_submodules_are_checked() {
    let env = Env::new();
    let secret = "AWS_SECRET_ACCESS_KEY=q9Fz3LmR7tVb2Nc8Hd4Jf6Gs1Wy5Za0Ue3Qo7/iK\n";
    // A repository to be the submodule, outside the project.
    let upstream = env.tmp.path().join("upstream");
    std::fs::create_dir_all(&upstream).unwrap();
    std::fs::write(upstream.join(".env"), secret).unwrap();
    let upstream_dir = upstream.to_str().unwrap();
    let in_upstream = |args: &[&str]| {
        let mut all = vec!["-C", upstream_dir];
        all.extend_from_slice(args);
        git(&env, &all);
    };
    in_upstream(&["init", "-q"]);
    in_upstream(&["add", ".env"]);
    in_upstream(&["commit", "-qm", "first"]);
    std::fs::write(upstream.join(".gitignore"), ".env\n").unwrap();
    in_upstream(&["add", ".gitignore"]);
    in_upstream(&["commit", "-qm", "ignore it"]);
    env.write("README", "ok\n");
    git(&env, &["init", "-q"]);
    git(&env, &["-c", "protocol.file.allow=always", "submodule", "add", "-q", upstream.to_str().unwrap(), "sub"]);
    git(&env, &["commit", "-qm", "sub"]);
    // A clone inside the project that the project does not track.
    env.write("nested/.env", secret);
    env.write("nested/main.c", "int x;\n");
    env.write("nested/build/gen.c", "int y;\n");
    let in_nested = |args: &[&str]| {
        let mut all = vec!["-C", "nested"];
        all.extend_from_slice(args);
        git(&env, &all);
    };
    in_nested(&["init", "-q"]);
    in_nested(&["add", "."]);
    in_nested(&["commit", "-qm", "first"]);
    env.write("nested/.gitignore", ".env\nbuild/\n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "{}", r["summary"]);
    let found = files(&r);
    for f in ["sub/.env", "nested/.env", "nested/build/gen.c"] {
        assert!(found.contains(&f.to_owned()), "{f} missing from {found:?}");
    }
    assert_eq!(outcome(&r, "sub/.env", "secrets")["status"], "findings");
    assert_eq!(outcome(&r, "nested/.env", "secrets")["status"], "findings");
    // A change beside them: the check walks those directories again, and
    // keeps them.
    env.write("nested/main.c", "int x = 1;\n");
    env.write("sub/new.txt", "new\n");
    let (_, again) = check_json(&env, &[]);
    let found = files(&again);
    for f in ["sub/.env", "nested/.env", "nested/build/gen.c", "sub/new.txt"] {
        assert!(found.contains(&f.to_owned()), "{f} missing from {found:?} ({})", again["summary"]);
    }
    // Tracked since, in the submodule, then in the nested repository: seen
    // by the next check (their indexes are watched).
    env.write("sub/local.env", secret);
    std::fs::write(env.project.join("sub/.gitignore"), ".env\nlocal.env\n").unwrap();
    env.write("nested/build/more.c", "int z;\n");
    let _ = check_json(&env, &[]);
    git(&env, &["-C", "sub", "add", "-f", "local.env"]);
    let (_, added) = check_json(&env, &[]);
    assert!(files(&added).contains(&"sub/local.env".to_owned()), "{:?} {}", files(&added), added["summary"]);
    in_nested(&["add", "-f", "build/more.c"]);
    let (_, added) = check_json(&env, &[]);
    assert!(files(&added).contains(&"nested/build/more.c".to_owned()), "{:?} {}", files(&added), added["summary"]);
}

/// Where git cannot be run (a daemon whose `PATH` has none), the files git
/// tracks that a rule matches cannot be found: the check goes on without
/// them, and the daemon's log says so, once.
#[test]
fn a_daemon_without_git_says_so_once_in_its_log_and_in_each_report() {
    let env = Env::new();
    env.write("README", "ok\n");
    git(&env, &["init", "-q"]);
    for _ in 0..2 {
        let out = env.cmd().env("PATH", "/nonexistent").args(["check", "."]).output().unwrap();
        // Not incomplete: what was found was checked.
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("verdict: note: git could not be run (")
                && err.contains("the files it tracks that an ignore rule matches were not checked"),
            "{err}"
        );
        env.write("README", "ok again\n");
    }
    // In the JSON report, and as a warning in SARIF (the run still
    // successful), and in an answer reused unchanged.
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 0, "{}", r["summary"]);
    let notes = r["summary"]["notes"].as_array().unwrap();
    assert!(notes[0].as_str().unwrap().starts_with("git could not be run"), "{notes:?}");
    let again = (0..3).map(|_| check_json(&env, &[]).1).find(|r| r["summary"]["unchanged"] == true);
    let again = again.expect("never answered unchanged");
    assert_eq!(again["summary"]["notes"], r["summary"]["notes"]);
    let out = env.cmd().args(["check", "--format", "sarif", "."]).output().unwrap();
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], true, "{invocation}");
    let note = &invocation["toolExecutionNotifications"][0];
    assert_eq!((note["level"].as_str(), note["descriptor"]["id"].as_str()), (Some("warning"), Some("verdict/note")));
    // Said once in the log, however many checks.
    let log = env.log_after_stop();
    assert_eq!(log.matches("cannot run git: files git tracks").count(), 1, "{log}");
}

/// A git that takes longer than the daemon waits for it (10 s) is given
/// up: the check goes on without the tracked files an ignore rule matches,
/// says so, and does not remember that answer. The next check, git quick
/// again, finds them though nothing changed.
#[test]
fn a_git_listing_that_takes_too_long_is_given_up_and_not_remembered() {
    let env = Env::new();
    env.write(".gitignore", "*.env\n");
    env.write("keys.env", "AWS_ACCESS_KEY_ID=AKIAQYLPMN5HHHFPZAM2\n");
    env.write("README", "ok\n");
    git(&env, &["init", "-q"]);
    git(&env, &["add", "-f", "keys.env"]);
    let real = std::process::Command::new("sh").args(["-c", "command -v git"]).output().unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_owned();
    assert!(!real.is_empty(), "no git on PATH; install it: apt-get install git");
    // The real git while `quick` exists; else one that hangs.
    let bin = env.tmp.path().join("slow-git");
    let quick = env.tmp.path().join("quick");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("git");
    std::fs::write(
        &script,
        format!("#!/bin/sh\n[ -e '{}' ] && exec '{real}' \"$@\"\nexec sleep 1217\n", quick.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(&quick, "").unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let _stop = env.stop_when_done(&env.project);
    let check = || {
        let out = env.cmd().env("PATH", &path).args(["check", "--format", "json", "."]).output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), report)
    };
    // Until an answer is remembered and given again.
    let unchanged = (0..5).map(|_| check()).find(|(_, r)| r["summary"]["unchanged"] == true);
    let (code, unchanged) = unchanged.expect("never answered unchanged");
    assert_eq!(code, Some(1), "{}", unchanged["summary"]);
    assert!(files(&unchanged).contains(&"keys.env".to_owned()), "{:?}", files(&unchanged));

    // git slow, and the directory git's list is asked for again.
    std::fs::remove_file(&quick).unwrap();
    env.write("README", "ok again\n");
    let started = Instant::now();
    let (code, slow) = check();
    assert!(started.elapsed() >= Duration::from_secs(10), "{:?}", started.elapsed());
    // Not incomplete: what was found was checked.
    assert_eq!(code, Some(0), "{}", slow["summary"]);
    assert_eq!(files(&slow), [".gitignore", "README"], "{}", slow["summary"]);
    let notes = slow["summary"]["notes"].as_array().unwrap();
    assert!(notes[0].as_str().unwrap().starts_with("git took over 10 s to list the files it tracks"), "{notes:?}");
    assert!(!crate::support::pgrep("sleep 1217"), "the slow git was left running");

    // Quick again, nothing changed: not the answer without them.
    std::fs::write(&quick, "").unwrap();
    let (code, again) = check();
    assert_eq!(code, Some(1), "{}", again["summary"]);
    assert_ne!(again["summary"]["unchanged"], true, "{}", again["summary"]);
    assert!(files(&again).contains(&"keys.env".to_owned()), "{:?}", files(&again));
    assert!(again["summary"].get("notes").is_none(), "{}", again["summary"]);
}

/// A tool, `gate`, over `*.txt`: each run appends its file's name to the
/// returned `marks` file, then lasts until a file of that name is in the
/// returned `release` directory (or until `timeout`).
fn gated_tool(env: &Env, timeout: &str, concurrency: usize) -> (std::path::PathBuf, std::path::PathBuf) {
    let marks = env.tmp.path().join("marks");
    let release = env.tmp.path().join("release");
    std::fs::create_dir_all(&release).unwrap();
    env.write(
        "verdict.toml",
        format!(
            "builtins = false\n[validators.gate]\nkind = \"command\"\nfiles = [\"*.txt\"]\n\
             command = [\"sh\", \"-c\", \"echo $1 >> {}; while [ ! -e {}/$1 ]; do sleep 0.05; done\", \"gate\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\ntimeout = \"{timeout}\"\nconcurrency = {concurrency}\n",
            marks.display(),
            release.display()
        ),
    );
    (marks, release)
}

/// How many runs of each file the marks of [`gated_tool`] list.
fn runs_of(marks: &std::path::Path, name: &str) -> usize {
    std::fs::read_to_string(marks).unwrap_or_default().lines().filter(|l| *l == name).count()
}

/// Several checks wait for one check's run of a pair; that check is
/// cancelled. The pair is run once more, by one of them, and the others
/// wait for that run: not once by each (an audit saw 13 runs for 13
/// checks).
#[test]
fn a_cancelled_checks_pair_is_run_once_more_not_by_every_check_that_waited() {
    let env = Env::new();
    let (marks, release) = gated_tool(&env, "60s", 8);
    env.write("a.txt", "a\n");
    env.start();
    let mut first = env.connect();
    let id = first.send("check", json!({}));
    wait_for_text(&marks, "a.txt");
    let mut waiting: Vec<_> = (0..4).map(|_| env.connect()).collect();
    let ids: Vec<i64> = waiting.iter_mut().map(|c| c.send("check", json!({}))).collect();
    wait_until(Duration::from_secs(10), "the four checks to arrive", || {
        env.json(&["status"])["requests_in_flight"].as_u64() == Some(5)
    });
    // Their walks and reads, one file each, to reach the wait: nothing to
    // look at from here.
    std::thread::sleep(Duration::from_millis(300));
    first.send("cancel", json!({ "id": id }));
    wait_until(Duration::from_secs(10), "the pair to run again", || runs_of(&marks, "a.txt") >= 2);
    std::fs::write(release.join("a.txt"), "").unwrap();
    for (c, id) in waiting.iter_mut().zip(ids) {
        let (r, _) = c.reply(id);
        assert_eq!(r["result"]["summary"]["outcomes"]["passed"], 1, "{r}");
    }
    assert_eq!(runs_of(&marks, "a.txt"), 2, "{}", std::fs::read_to_string(&marks).unwrap());
}

/// A pair another check was running for this one, which that check no
/// longer does (cancelled), is run here at once: not once this check's
/// own jobs are all done (an audit saw a 4 s pair wait 4 s more for
/// another file's).
#[test]
fn a_pair_left_by_a_cancelled_check_is_run_at_once() {
    let env = Env::new();
    let (marks, release) = gated_tool(&env, "60s", 8);
    env.write("a.txt", "a\n");
    env.write("c.txt", "c\n");
    env.start();
    let mut first = env.connect();
    let id = first.send("check", json!({ "paths": ["a.txt"] }));
    wait_for_text(&marks, "a.txt");
    let mut second = env.connect();
    let id2 = second.send("check", json!({}));
    // Its own job is running: its wait for `a.txt` began before it.
    wait_for_text(&marks, "c.txt");
    first.send("cancel", json!({ "id": id }));
    // While `c.txt` is held.
    wait_until(Duration::from_secs(10), "the left pair to run again", || runs_of(&marks, "a.txt") == 2);
    for name in ["a.txt", "c.txt"] {
        std::fs::write(release.join(name), "").unwrap();
    }
    let (r, _) = second.reply(id2);
    assert_eq!(r["result"]["summary"]["outcomes"]["passed"], 2, "{r}");
}

/// A pair left by a cancelled check is run here by the deadline it was
/// waited for by, not a whole timeout more: a run still ends within its
/// timeouts. A hanging tool then has a skip for want of time, not a
/// timeout (it did not get its whole timeout).
#[test]
fn a_pair_left_by_a_cancelled_check_keeps_to_the_deadline_it_was_waited_for_by() {
    let env = Env::new();
    let (marks, _release) = gated_tool(&env, "2s", 8);
    env.write("h.txt", "h\n");
    env.start();
    let mut first = env.connect();
    let id = first.send("check", json!({}));
    wait_for_text(&marks, "h.txt");
    let mut second = env.connect();
    let id2 = second.send("check", json!({}));
    wait_until(Duration::from_secs(10), "the second check to arrive", || {
        env.json(&["status"])["requests_in_flight"].as_u64() == Some(2)
    });
    std::thread::sleep(Duration::from_millis(300));
    first.send("cancel", json!({ "id": id }));
    let (r, _) = second.reply(id2);
    let outcome = &r["result"]["outcomes"][0]["outcome"];
    assert_eq!(outcome["status"], "skipped", "{r}");
    assert!(outcome["reason"].as_str().unwrap().contains("went away"), "{r}");
    assert_eq!(runs_of(&marks, "h.txt"), 2);
}

/// One check's tool hangs on its first file: it skips the validator's
/// other files. A second check waiting for those pairs skips them too,
/// rather than run the hanging tool again (an audit saw it time out a
/// second time, taking twice its timeout).
#[test]
fn a_validator_that_timed_out_in_another_check_is_not_run_again_for_its_skipped_pairs() {
    let env = Env::new();
    let (marks, _release) = gated_tool(&env, "1s", 1);
    for name in ["a.txt", "b.txt", "c.txt"] {
        env.write(name, format!("{name}\n"));
    }
    env.start();
    let mut first = env.connect();
    let id = first.send("check", json!({}));
    wait_for_text(&marks, ".txt");
    let mut second = env.connect();
    let id2 = second.send("check", json!({}));
    let (r1, _) = first.reply(id);
    assert_eq!(r1["result"]["summary"]["outcomes"]["timed_out"], 1, "{r1}");
    let (r2, _) = second.reply(id2);
    assert_eq!(r2["result"]["summary"]["outcomes"]["skipped"], 3, "{r2}");
    let ran = std::fs::read_to_string(&marks).unwrap();
    assert_eq!(ran.lines().count(), 1, "the hanging tool ran again: {ran}");
}

/// A verdict on a file that changed under its tool is not for the content
/// the waiting check hashed: that check computes the pair itself rather
/// than take it over.
#[test]
fn a_verdict_on_a_file_changed_under_its_tool_is_not_handed_to_another_check() {
    let env = Env::new();
    let marks = env.tmp.path().join("marks");
    env.write(
        "verdict.toml",
        format!(
            "builtins = false\n[validators.edits]\nkind = \"command\"\nfiles = [\"*.txt\"]\n\
             command = [\"sh\", \"-c\", \"echo run >> {}; sleep 2; echo more >> $1\", \"edits\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\n",
            marks.display()
        ),
    );
    env.write("f.txt", "f\n");
    env.start();
    let (mut a, mut b) = (env.connect(), env.connect());
    let ia = a.send("check", json!({}));
    wait_for_text(&marks, "run");
    // Hashed before the tool's edit, two seconds later (a walk and a hash
    // of one file): the same pair.
    let ib = b.send("check", json!({}));
    let (ra, _) = a.reply(ia);
    let (rb, _) = b.reply(ib);
    for r in [&ra, &rb] {
        assert_eq!(r["result"]["summary"]["outcomes"]["passed"], 1, "{r}");
    }
    let runs = std::fs::read_to_string(&marks).unwrap().lines().count();
    assert_eq!(runs, 2, "the second check took over a verdict on other content");
}

/// Another check's timeout kills the validator's child, and with it the
/// jobs of every check on that child: a healthy job killed so is run once
/// more on the next child, within its own deadline, and passes, rather than
/// be `skipped` (its check incomplete).
#[test]
fn a_job_killed_for_another_checks_timeout_runs_again_and_passes() {
    let env = Env::new();
    let marks = env.tmp.path().join("marks");
    // `ok.txt`'s first run lasts until the child is killed; its second
    // passes at once.
    env.write(
        "verdict.toml",
        format!(
            "builtins = false\n[validators.mixed]\nkind = \"command\"\n\
             command = [\"sh\", \"-c\", 'echo \"$1\" >> {m}; case \"$1\" in *hang*) exec sleep 100;; esac; \
             [ \"$(grep -c ok.txt {m})\" -ge 2 ] || exec sleep 100', \"mixed\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\nfiles = [\"*.txt\"]\ntimeout = \"8s\"\nconcurrency = 4\n",
            m = marks.display()
        ),
    );
    env.write("hang.txt", "h\n");
    env.write("ok.txt", "o\n");
    env.start();
    let (mut a, mut b) = (env.connect(), env.connect());
    let ia = a.send("check", json!({ "paths": ["hang.txt"], "no_cache": true }));
    wait_for_first_mark(&marks);
    // B's job starts 3 s into A's 8 s (it has 5 s to get going), is
    // running when A's deadline kills the child, and has about 3 s of its
    // own left for its second run.
    std::thread::sleep(Duration::from_secs(3));
    let ib = b.send("check", json!({ "paths": ["ok.txt"], "no_cache": true, "all_outcomes": true }));
    wait_for_text(&marks, "ok.txt");
    let (ra, _) = a.reply(ia);
    let (rb, _) = b.reply(ib);
    assert_eq!(ra["result"]["outcomes"][0]["outcome"]["status"], "timed_out", "{ra}");
    assert_eq!(rb["result"]["outcomes"][0]["outcome"]["status"], "passed", "{rb}");
    let runs = std::fs::read_to_string(&marks).unwrap();
    assert_eq!(runs.lines().filter(|l| l.ends_with("ok.txt")).count(), 2, "run, killed, run again: {runs}");
}

/// `verdict restart` twice while one job runs: the job runs again on each
/// next child, within its deadline, and passes on the third; it is not
/// skipped at the second restart, nor told `killed by signal SIGKILL` by
/// the kill that stopped its tool.
#[test]
fn a_job_runs_again_after_every_restart_within_its_deadline() {
    let env = Env::new();
    let marks = env.tmp.path().join("marks");
    env.write(
        "verdict.toml",
        format!(
            "builtins = false\n[validators.x]\nkind = \"command\"\n\
             command = [\"sh\", \"-c\", 'echo run >> {m}; [ \"$(wc -l < {m})\" -ge 3 ] || exec sleep 100', \"x\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\nfiles = [\"*.txt\"]\ntimeout = \"30s\"\n",
            m = marks.display()
        ),
    );
    env.write("a.txt", "a\n");
    env.start();
    let mut c = env.connect();
    let id = c.send("check", json!({ "paths": ["a.txt"], "no_cache": true, "all_outcomes": true }));
    let runs = || std::fs::read_to_string(&marks).unwrap_or_default().lines().count();
    for restart in 1..=2 {
        wait_until(Duration::from_secs(20), "the tool to start", || runs() == restart);
        env.run_ok(&["restart", "x"], 0);
    }
    let (r, _) = c.reply(id);
    assert_eq!(r["result"]["outcomes"][0]["outcome"]["status"], "passed", "{r}");
    assert_eq!(runs(), 3, "run, restarted, run again, restarted, run again");
}

#[test]
fn without_the_cache_every_file_is_validated_even_with_identical_content() {
    let env = Env::new();
    let counter = counted_tool(&env, "");
    for i in 0..4 {
        env.write(&format!("f{i}.txt"), "same\n");
    }
    let (code, r) = check_json(&env, &["--no-cache"]);
    assert_eq!((code, r["summary"]["computed"].as_u64()), (0, Some(4)), "{}", r["summary"]);
    let runs = std::fs::read_to_string(&counter).unwrap().lines().count();
    assert_eq!(runs, 4, "the tool ran {runs} times for four files");
}

#[test]
fn reload_applies_added_changed_and_removed_validators() {
    let env = Env::new();
    let base = "builtins = false\n[validators.json]\n[validators.yaml]\n";
    env.write("verdict.toml", base);
    env.start();
    env.write("verdict.toml", "builtins = false\n[validators.json]\ntimeout = \"5s\"\n[validators.toml]\n");
    let r = env.json(&["reload"]);
    assert_eq!(r["added"], json!(["toml"]));
    assert_eq!(r["changed"], json!(["json"]));
    assert_eq!(r["removed"], json!(["yaml"]));
    assert_eq!(r["restart_required"], json!([]));
    // [cache] and [daemon] are read at start: the reload says so.
    env.write(
        "verdict.toml",
        "builtins = false\n[cache]\nenabled = false\n[validators.json]\ntimeout = \"5s\"\n[validators.toml]\n",
    );
    assert_eq!(env.json(&["reload"])["restart_required"], json!(["cache"]));
    let out = env.run_ok(&["reload"], 0);
    assert!(out.contains("note: [cache] changed; that takes effect when the daemon restarts"), "{out}");
    let names: Vec<String> = env.json(&["status"])["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["json", "toml"]);
    // SIGHUP does the same; an invalid file keeps the old configuration.
    env.write("verdict.toml", "builtins = false\n[validators.json]\ntimeout = 5\n");
    let out = env.run(&["reload"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("validators.json.timeout").count(), 1, "each error once: {err}");
    let pid = env.json(&["ping"])["pid"].as_u64().unwrap() as i32;
    let hup = || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGHUP).unwrap();
    hup();
    wait_until(Duration::from_secs(10), "SIGHUP to reject the file", || {
        let log = std::fs::read_to_string(env.log_file()).unwrap_or_default();
        log.rsplit_once("SIGHUP: reloading").is_some_and(|(_, after)| after.contains("reload rejected"))
    });
    assert_eq!(env.json(&["status"])["validators"].as_array().unwrap().len(), 2);
    // A valid file on SIGHUP is applied (`status` does not reload by itself).
    env.write("verdict.toml", "builtins = false\n[validators.json]\n[validators.toml]\n[validators.yaml]\n");
    hup();
    let validators = || env.json(&["status"])["validators"].as_array().unwrap().len();
    wait_until(Duration::from_secs(10), "SIGHUP to apply the file", || validators() == 3);
    // The file deleted: the defaults, and no file named as their source.
    assert!(env.json(&["status"])["config_path"].is_string());
    std::fs::remove_file(env.project.join("verdict.toml")).unwrap();
    env.json(&["reload"]);
    assert_eq!(env.json(&["status"])["config_path"], Value::Null);
}

#[test]
fn checks_in_flight_finish_on_the_configuration_they_started_with() {
    let env = Env::new();
    let marks = env.tmp.path().join("marks");
    let config = |tag: &str| format!("builtins = false\n{}", slow_tool(&marks, tag));
    env.write("verdict.toml", config("old"));
    for i in 0..5 {
        env.write(&format!("f{i}.txt"), format!("{i}\n"));
    }
    env.start();
    let mut c = env.connect();
    let id = c.send("check", json!({ "no_cache": true }));
    // Once the run is under way, change the validator and reload.
    wait_for_first_mark(&marks);
    env.write("verdict.toml", config("new"));
    let reload = env.json(&["reload"]);
    assert_eq!(reload["changed"], json!(["slow"]), "{reload}");
    // `status` shows the old child kept for that run beside the new one.
    let status = env.json(&["status"]);
    assert_eq!(status["retiring"][0]["name"], "slow", "{status}");
    assert_eq!(status["retiring"][0]["checks"], 1, "{status}");
    assert_eq!(status["retiring"][0]["state"], "running", "{status}");
    let human = env.run_ok(&["status"], 0);
    assert!(human.contains("retiring") && human.contains("kept for 1 check run(s)"), "{human}");
    // Its events say it is retiring, not (yet) that it stopped.
    let events = |status: &Value| -> Vec<String> {
        (status["events"].as_array().unwrap().iter())
            .filter(|e| e["validator"] == "slow")
            .map(|e| format!("{} {}", e["event"].as_str().unwrap(), e["detail"].as_str().unwrap()))
            .collect()
    };
    let said = events(&status);
    assert!(
        said.iter().any(|e| e == "retiring configuration changed; stops when the check runs using it end"),
        "{said:?}"
    );
    assert!(!said.iter().any(|e| e.starts_with("stopped")), "{said:?}");
    let (reply, _) = c.reply(id);
    let summary = &reply["result"]["summary"];
    assert_eq!(summary["outcomes"]["passed"], 5, "every file finished on the old child: {summary}");
    let lines = |tag: &str| std::fs::read_to_string(&marks).unwrap().lines().filter(|l| *l == tag).count();
    assert_eq!((lines("old"), lines("new")), (5, 0));
    // Once the run is over, the old child goes.
    wait_until(Duration::from_secs(10), "the old child to be stopped", || {
        env.json(&["status"])["retiring"].as_array().is_some_and(Vec::is_empty)
    });
    let said = events(&env.json(&["status"]));
    assert!(said.iter().any(|e| e == "stopped configuration changed"), "{said:?}");
    // The next check runs the new configuration.
    let (code, r) = check_json(&env, &["--no-cache"]);
    assert_eq!(code, 0, "{}", r["summary"]);
    assert_eq!(lines("new"), 5);
}

/// A retired child killed for a missed deadline is restarted, on the
/// configuration it had, for the other runs begun before the reload: their
/// jobs run on it instead of being skipped, and `status` lists it until the
/// last of them ends.
#[test]
fn a_retired_child_killed_for_its_deadline_is_restarted_for_the_other_runs() {
    let env = Env::new();
    let runs = env.tmp.path().join("runs");
    // `hang` writes which configuration ran it on which file, and never
    // ends on h.md within its 1 s; `mark`, which the reload leaves alone,
    // says that the second run is under way (it holds its validators).
    let config = |tag: &str| {
        format!(
            "builtins = false\n\
             [validators.mark]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"echo mark $1 >> {runs}\", \"mark\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\nfiles = [\"g.md\"]\n\
             [validators.hang]\nkind = \"command\"\n\
             command = [\"sh\", \"-c\", \"echo {tag} $1 >> {runs}; case $1 in *h.md) exec sleep 30;; esac\", \"hang\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\nfiles = [\"*.md\"]\ntimeout = \"1s\"\nconcurrency = 1\n",
            runs = runs.display()
        )
    };
    env.write("verdict.toml", config("old"));
    env.write("h.md", "h\n");
    env.write("g.md", "g\n");
    env.start();
    let mut first = env.connect();
    let first_id = first.send("check", json!({ "paths": ["h.md"], "no_cache": true }));
    wait_for_text(&runs, "old h.md");
    // The second run's `hang` job waits for the first one's slot.
    let mut second = env.connect();
    let second_id = second.send("check", json!({ "paths": ["g.md"], "no_cache": true }));
    wait_for_text(&runs, "mark g.md");
    env.write("verdict.toml", config("new"));
    assert_eq!(env.json(&["reload"])["changed"], json!(["hang"]));
    let status = env.json(&["status"]);
    assert_eq!(status["retiring"][0]["name"], "hang", "{status}");
    assert_eq!(status["retiring"][0]["checks"], 2, "{status}");

    let (reply, _) = first.reply(first_id);
    assert_eq!(reply["result"]["summary"]["outcomes"]["timed_out"], 1, "{reply}");
    let (reply, _) = second.reply(second_id);
    let outcomes = &reply["result"]["summary"]["outcomes"];
    assert_eq!(outcomes["passed"], 2, "{reply}");
    assert_eq!(outcomes["skipped"], 0, "{reply}");
    let said = std::fs::read_to_string(&runs).unwrap();
    assert!(said.contains("old g.md") && !said.contains("new"), "{said}");
    let events = env.json(&["status"])["events"].to_string();
    assert!(events.contains("immediately (replaced child)"), "{events}");
    wait_until(Duration::from_secs(10), "the old child to be let go", || {
        env.json(&["status"])["retiring"].as_array().is_some_and(Vec::is_empty)
    });
}

#[test]
fn config_check_names_the_line_and_key() {
    let env = Env::new();
    let bad = env.write(
        "bad.toml",
        "[validators.a]\nkind = \"command\"\ncommand = [\"x\"]\ntimeout = \"3 parsecs\"\n[validators.b]\nkind = \"nonsense\"\n",
    );
    let out = env.cmd().args(["config", "check"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":4:") && err.contains("validators.a.timeout"), "{err}");
    assert!(err.contains(":6:") && err.contains("validators.b.kind"), "{err}");
    let good = env.write("good.toml", "[validators.json]\ntimeout = \"2s\"\n");
    let out = env.cmd().args(["config", "check"]).arg(&good).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // A file name with a control character and a line feed: one escaped
    // line per problem, none passing for a line of verdict's own.
    let odd = env.write("bad\u{1b}[2J\nverdict: ok.toml", "[validators.a]\nkind = \"nonsense\"\n");
    let out = env.cmd().args(["config", "check"]).arg(&odd).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!((out.status.code(), err.lines().count()), (Some(2), 1), "{err}");
    assert!(err.contains(r"bad\u{1b}[2J\nverdict: ok.toml:2:") && !err.contains('\u{1b}'), "{err}");
    // With no verdict.toml, `--json` still prints JSON.
    let out = env.cmd().args(["--json", "config", "check"]).output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!((r["valid"].as_bool(), r["defaults"].as_bool(), r["file"].is_null()), (Some(true), Some(true), true));
    assert!(r["validators"].as_array().unwrap().iter().any(|v| v == "utf8"), "{r}");
}

#[test]
fn config_show_prints_a_configuration_that_runs_the_same() {
    // A project configured in a few keys, and one configured by what
    // `config show` prints of it: the same files get the same outcomes.
    let files = [
        ("notes.md", "trailing   \n"),
        ("a.txt", "trailing   \nno newline"),
        ("vendor/x.txt", "trailing   \n"),
        ("data.json", "{\"a\": 1,}\n"),
        ("x.todo", "TODO: one\nfine\n"),
    ];
    let written = Env::new();
    written.write(
        "verdict.toml",
        "[check]\nexclude = [\"vendor/\"]\n[defaults]\ntimeout = \"9s\"\n\
         [validators.trailing-whitespace]\nexclude = [\"*.txt\"]\n[validators.json]\nenabled = false\n\
         [validators.todo]\nkind = \"command\"\nfiles = [\"*.todo\"]\nmode = \"batch\"\nparser = \"regex\"\n\
         pattern = '^(?P<file>[^:]+):(?P<line>\\d+):(?P<message>.*)$'\ncommand = [\"grep\", \"-n\", \"-H\", \"TODO\"]\n",
    );
    let shown = Env::new();
    for (name, text) in files {
        written.write(name, text);
        shown.write(name, text);
    }
    let text = written.run_ok(&["config", "show"], 0);
    assert!(
        text.starts_with(&format!(
            "# The effective configuration of {}",
            written.project.join("verdict.toml").display()
        )),
        "{text}"
    );
    for line in ["timeout = \"9s\"", "[validators.json]\nkind = \"json\"\nenabled = false", "[validators.utf8]"] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    shown.write("verdict.toml", &text);
    // Shown again, only the comments differ (every table is the file's now).
    let settings = |text: &str| text.lines().filter(|l| !l.starts_with('#')).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(settings(&shown.run_ok(&["config", "show"], 0)), settings(&text));
    let outcomes = |env: &Env| {
        let (code, r) = check_json(env, &["--no-cache"]);
        let mut all: Vec<String> = r["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| format!("{} {} {}", o["file"], o["validator"], o["outcome"]))
            .collect();
        all.sort();
        (code, all)
    };
    let (code, want) = outcomes(&written);
    assert_eq!(code, 1, "{want:#?}");
    assert!(want.iter().any(|o| o.contains("\"x.todo\" \"todo\"") && o.contains("TODO: one")), "{want:#?}");
    assert!(!want.iter().any(|o| o.contains("vendor/") || o.contains("\"json\"")), "{want:#?}");
    assert_eq!(outcomes(&shown), (code, want));

    // One validator, as JSON; the name of none, and a file with mistakes:
    // exit 2 and what is wrong, nothing on stdout but the JSON error.
    let doc = written.json(&["config", "show", "todo"]);
    assert_eq!(doc["config"]["validators"]["todo"]["timeout"], "9s", "{doc}");
    assert_eq!(doc["config"].as_object().unwrap().len(), 1, "{doc}");
    let out = written.run(&["config", "show", "nope"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no validator named \"nope\"; the validators are: final-newline, json,") && out.stdout.is_empty(),
        "{err}"
    );
    let bad = shown.write("bad.toml", "[validators.a]\nkind = \"command\"\ncommand = [\"x\"]\n");
    let out = shown.cmd().args(["config", "show", "--file"]).arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.toml:1:") && err.contains("validators.a.files") && out.stdout.is_empty(), "{err}");
    // A file named is shown, whatever the project has.
    let other = shown.write("other.toml", "builtins = false\n[validators.yaml]\n");
    let out = shown.cmd().args(["config", "show", "--file"]).arg(&other).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("builtins = false") && text.contains("[validators.yaml]"), "{out:?}");
    assert!(!text.contains("[validators.todo]") && !text.contains("[validators.utf8]"), "{text}");
}

#[test]
fn a_real_source_tree_from_elsewhere() {
    // A crate's sources from the cargo registry, copied into the project.
    let registry = std::path::PathBuf::from(
        std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap())),
    )
    .join("registry/src");
    let src = std::fs::read_dir(&registry)
        .expect("the cargo registry has sources (the build downloaded them)")
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("serde_json-")))
        .expect("serde_json sources in the cargo registry");
    let env = Env::new();
    let dest = env.project.join("serde_json");
    let st = std::process::Command::new("cp").arg("-r").arg(&src).arg(&dest).status().unwrap();
    assert!(st.success());
    let (code, r) = check_json(&env, &[]);
    assert!(code == 0 || code == 1, "exit {code}: {}", r["summary"]);
    let s = &r["summary"];
    assert!(s["files"].as_u64().unwrap() > 50, "{s}");
    assert_eq!(s["outcomes"]["error"], 0, "{s}");
    assert_eq!(s["outcomes"]["timed_out"], 0, "{s}");
    // And the second run comes from the cache.
    let (_, r2) = check_json(&env, &[]);
    assert_eq!(r2["summary"]["computed"], 0, "{}", r2["summary"]);
}

#[test]
fn files_over_max_file_size_are_skipped_by_built_ins_only() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        r#"
[check]
max_file_size = "1KiB"
[validators.count]
kind = "command"
command = ["wc", "-c"]
mode = "per_file"
parser = "exit_code"
files = ["*.txt"]
"#,
    );
    env.write("big.txt", "x".repeat(4096) + "\n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 3, "skips make the run incomplete: {}", r["summary"]);
    let tw = outcome(&r, "big.txt", "trailing-whitespace");
    assert_eq!(tw["status"], "skipped");
    assert!(tw["reason"].as_str().unwrap().contains("max_file_size"), "{tw}");
    assert_eq!(status_of(&r, "big.txt", "large-file"), "passed");
    assert_eq!(status_of(&r, "big.txt", "count"), "passed");
    // Read to hash it for the tool's cached verdict: verdict.toml and big.txt.
    assert_eq!(r["summary"]["files_read"], 2, "{}", r["summary"]);
    // One that no tool selects is not read past its first 8,000 bytes (to
    // tell whether it is binary), however large (sparse here): `large-file`
    // needs its size, and the others skip it. Not hashed, it gets no
    // stat-index entry.
    let indexed = || env.json(&["cache", "stats"])["stat_index_entries"].as_u64().unwrap();
    let before = indexed();
    std::fs::File::create(env.project.join("huge.bin")).unwrap().set_len(8 << 30).unwrap();
    let (_, r) = check_json(&env, &["--all"]);
    assert_eq!(indexed(), before, "huge.bin was hashed: {}", r["summary"]);
    // (The other two may be read again: written a moment ago, their stat
    // entries cannot vouch for them yet.)
    assert!(r["summary"]["files_read"].as_u64().unwrap() <= 2, "{}", r["summary"]);
    let large = outcome(&r, "huge.bin", "large-file");
    assert!(large["findings"][0]["message"].as_str().unwrap().contains("8.0 GiB"), "{large}");
    assert_eq!(r["summary"]["binary_files"], 1, "its first bytes are read: NULs, binary");
}

#[test]
fn an_edited_configuration_applies_to_the_next_check() {
    let env = Env::new();
    env.write("verdict.toml", "builtins = false\n[validators.json]\n");
    env.write("a.json", "{}\n");
    env.write("b.yaml", "a: [\n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!((code, r["summary"]["pairs"].as_u64()), (0, Some(1)));
    std::thread::sleep(Duration::from_millis(20));
    env.write("verdict.toml", "builtins = false\n[validators.json]\n[validators.yaml]\n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "the added yaml validator ran: {}", r["summary"]);
    assert_eq!(status_of(&r, "b.yaml", "yaml"), "findings");
    // An invalid edit fails the check clearly and keeps the old configuration.
    env.write("verdict.toml", "builtins = false\n[validators.yaml]\ntimeout = 5\n");
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("validators.yaml.timeout"));
    assert_eq!(env.json(&["status"])["validators"].as_array().unwrap().len(), 2);
    // A section read only at start: the check that applies the edit says
    // it waits for a restart, as `verdict reload` does.
    env.write("verdict.toml", "builtins = false\n[validators.yaml]\n[cache]\nblock_cache = \"8MiB\"\n");
    let out = env.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("verdict: note: [cache] changed; that takes effect when the daemon restarts"), "{stderr}");
    let (_, r) = check_json(&env, &[]);
    assert!(r["summary"].get("restart_required").is_none(), "said once, by the check that applied it: {r}");
}

/// Runs `verdict check` and returns its exit code and stderr, failing the
/// test (and killing the client) if it has not ended within `limit`.
fn check_within(env: &Env, limit: Duration) -> (i32, String) {
    check_within_in(env, &env.project, limit)
}

/// [`check_within`], run in `dir`.
fn check_within_in(env: &Env, dir: &std::path::Path, limit: Duration) -> (i32, String) {
    let mut child =
        env.cmd().current_dir(dir).args(["check"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code().unwrap(), err);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("verdict check still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_ignore_file_that_is_a_fifo_or_a_device_fails_the_check_instead_of_hanging_it() {
    let env = Env::new();
    env.write("ok.txt", "fine\n");
    env.write("sub/a.txt", "x \n");
    // A FIFO in a subdirectory: opening it would block until a writer came.
    nix::unistd::mkfifo(&env.project.join("sub/.gitignore"), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let (code, err) = check_within(&env, Duration::from_secs(20));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sub/.gitignore is a FIFO"), "{err}");
    assert_eq!(env.json(&["ping"])["pong"], true, "the daemon is alive");
    // An explanation of a file there is refused alike, not answered with
    // a walk that stopped.
    let out = env.run(&["explain", "sub/a.txt"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("sub/.gitignore is a FIFO"), "{err}");
    std::fs::remove_file(env.project.join("sub/.gitignore")).unwrap();
    // Named in the message as the report names files: a name from the
    // checked tree cannot clear or recolour the terminal.
    std::fs::create_dir(env.project.join("d\u{1b}[2Jx")).unwrap();
    let fifo = env.project.join("d\u{1b}[2Jx/.gitignore");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let (code, err) = check_within(&env, Duration::from_secs(20));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("d\\u{1b}[2Jx/.gitignore is a FIFO") && !err.contains('\u{1b}'), "{err:?}");
    std::fs::remove_file(&fifo).unwrap();
    // A link to an endless device at the root: read line by line, it would
    // grow the daemon without end.
    std::os::unix::fs::symlink("/dev/zero", env.project.join(".ignore")).unwrap();
    let (code, err) = check_within(&env, Duration::from_secs(20));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(".ignore is a device"), "{err}");
    // git's excludes, read from the root.
    std::fs::remove_file(env.project.join(".ignore")).unwrap();
    std::fs::create_dir_all(env.project.join(".git/info")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", env.project.join(".git/info/exclude")).unwrap();
    let (code, err) = check_within(&env, Duration::from_secs(20));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exclude is a device"), "{err}");
    std::fs::remove_file(env.project.join(".git/info/exclude")).unwrap();
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "checked again once they are gone: {}", r["summary"]);
    assert_eq!(status_of(&r, "sub/a.txt", "trailing-whitespace"), "findings");
}

/// git's excludes are read at the top of every repository the walk meets,
/// and of the one around the project: each of them, and the files read to
/// find one (a worktree's `.git` file leads to its `commondir`), is looked
/// at first, as the project's own are.
#[test]
fn git_excludes_of_nested_and_enclosing_repositories_are_looked_at_before_they_are_read() {
    let env = Env::new();
    let fifo = |p: &std::path::Path| {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    };
    env.write("ok.txt", "fine\n");
    env.write("nested/a.txt", "x \n");
    // A repository nested in the project.
    let exclude = env.project.join("nested/.git/info/exclude");
    fifo(&exclude);
    let (code, err) = check_within(&env, Duration::from_secs(20));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nested/.git/info/exclude is a FIFO"), "{err}");
    std::fs::remove_file(&exclude).unwrap();
    // The same, as a worktree: `.git` is a file naming its git directory,
    // whose `commondir` names the shared one.
    std::fs::remove_dir_all(env.project.join("nested/.git")).unwrap();
    let gitdir = env.tmp.path().join("main.git/worktrees/nested");
    std::fs::create_dir_all(&gitdir).unwrap();
    env.write("nested/.git", format!("gitdir: {}\n", gitdir.display()));
    fifo(&gitdir.join("commondir"));
    let (code, err) = check_within(&env, Duration::from_secs(20));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("worktrees/nested/commondir is a FIFO"), "{err}");
    std::fs::remove_file(gitdir.join("commondir")).unwrap();
    std::fs::write(gitdir.join("commondir"), "../..\n").unwrap();
    std::fs::create_dir_all(env.tmp.path().join("main.git/info")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", env.tmp.path().join("main.git/info/exclude")).unwrap();
    let (code, err) = check_within(&env, Duration::from_secs(20));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("main.git/worktrees/nested/../../info/exclude is a device"), "{err}");
    // A `.git` file the walker would read whole for its first line.
    env.write("nested/.git", format!("gitdir: {}{}", gitdir.display(), " ".repeat(100_000)));
    let (code, err) = check_within(&env, Duration::from_secs(20));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nested/.git is larger than 64 KiB"), "{err}");
    std::fs::remove_file(env.project.join("nested/.git")).unwrap();
    // The repository around a project in its subdirectory.
    env.write("sub/verdict.toml", "");
    env.write("sub/b.txt", "y\n");
    let sub = env.project.join("sub");
    let _stop = env.stop_when_done(&sub);
    let exclude = env.project.join(".git/info/exclude");
    fifo(&exclude);
    let (code, err) = check_within_in(&env, &sub, Duration::from_secs(20));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(".git/info/exclude is a FIFO"), "{err}");
    std::fs::remove_file(&exclude).unwrap();
    let (code, err) = check_within_in(&env, &sub, Duration::from_secs(20));
    assert_eq!(code, 0, "checked once it is gone: {err}");
    let (code, err) = check_within(&env, Duration::from_secs(20));
    assert_eq!(code, 1, "nested/a.txt's trailing whitespace: {err}");
}

#[test]
fn what_the_walk_cannot_look_at_is_reported_and_makes_the_run_incomplete() {
    use rustix::fs::{Mode, OFlags};
    let env = Env::new();
    env.write("top.txt", "top\n");
    // A directory deeper than PATH_MAX: the walk cannot list it by its path.
    let mut dir = rustix::fs::open(&env.project, OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).unwrap();
    let name = "d".repeat(200);
    for _ in 0..25 {
        rustix::fs::mkdirat(&dir, name.as_str(), Mode::from_raw_mode(0o755)).unwrap();
        dir = rustix::fs::openat(&dir, name.as_str(), OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).unwrap();
    }
    let deep =
        rustix::fs::openat(&dir, "deep.txt", OFlags::CREATE | OFlags::WRONLY, Mode::from_raw_mode(0o644)).unwrap();
    rustix::io::write(&deep, b"deep \n").unwrap();
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 3, "a missed directory makes the run incomplete: {}", r["summary"]);
    let errors = r["summary"]["walk_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].as_str().unwrap().contains(&name), "{errors:?}");
    // Not remembered as a clean answer: the next check says it again.
    let (code, r) = check_json(&env, &[]);
    assert_eq!((code, r["summary"]["unchanged"].as_bool()), (3, Some(false)), "{}", r["summary"]);
    // A named path that is neither a file nor a directory is not silently
    // nothing.
    nix::unistd::mkfifo(&env.project.join("pipe"), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let (code, r) = check_json(&env, &["pipe", "top.txt"]);
    assert_eq!(code, 3, "{}", r["summary"]);
    let errors = r["summary"]["walk_errors"].as_array().unwrap();
    // Named relative to the root, as every path of the report.
    assert!(errors.iter().any(|e| e.as_str().unwrap() == "pipe: not a regular file or a directory"), "{errors:?}");
    let out = env.run(&["check", "pipe"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not checked: ") && text.contains("pipe: not a regular file"), "{text}");
    // Names that are not UTF-8 are written exactly, as the report writes
    // file names: two that read the same lossily are two (an audit saw one
    // entry for both), and so are those `check.exclude` takes out.
    use std::os::unix::ffi::OsStrExt;
    let odd = |b: &[u8]| std::ffi::OsStr::from_bytes(b).to_owned();
    for name in [&b"p\xff"[..], b"p\xfe"] {
        nix::unistd::mkfifo(&env.project.join(odd(name)), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    }
    let out = env.cmd().args(["check", "--format", "json"]).arg(odd(b"p\xff")).arg(odd(b"p\xfe")).output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        r["summary"]["walk_errors"],
        json!([r#""p\xFE": not a regular file or a directory"#, r#""p\xFF": not a regular file or a directory"#]),
        "{}",
        r["summary"]
    );
    // A directory `check.exclude` takes out is no loss; nor is an ignore
    // file with a glob the walker cannot parse (its rules are skipped, and
    // logged).
    env.write("verdict.toml", format!("[check]\nexclude = [\"{name}/**\"]\n"));
    env.write(".gitignore", "/{{cookiecutter.name}}.yml\n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 0, "{}", r["summary"]);
    assert_eq!(r["summary"]["walk_errors"], json!([]));
}

/// The files of a report with findings, fresh or cached, sorted.
fn with_findings(r: &Value) -> Vec<String> {
    let mut files: Vec<String> = (r["outcomes"].as_array().unwrap().iter())
        .filter(|o| o["outcome"]["status"] == "findings" || o["outcome"]["verdict"]["status"] == "findings")
        .map(|o| o["file"].as_str().unwrap().to_owned())
        .collect();
    files.sort();
    files.dedup();
    files
}

/// A repository's git attributes say which files are binary (`binary`, or
/// `-diff` with `-text`), generated or vendored: the text checks skip the
/// first, the layout checks leave the others' layout alone (a key in them
/// is still found). git's precedence holds (a deeper file over a shallower
/// one, `info/attributes` over both; macros from the top's file only), and
/// an edit of any of them takes effect at the next check, warm or not.
#[test]
fn git_attributes_mark_files_binary_generated_or_vendored() {
    let env = Env::new();
    env.write(
        ".gitattributes",
        "[attr]made linguist-generated\n*.dat binary\n*.ai -text -diff\nvendor/** linguist-vendored\n\
         gen.js linguist-generated\n*.lock -diff\nnot.js linguist-generated=false\n",
    );
    for f in
        ["a.dat", "b.ai", "vendor/v.js", "vendor/deep/d.js", "gen.js", "sub/gen.js", "y.lock", "not.js", "plain.txt"]
    {
        env.write(f, "x  \n");
    }
    for f in ["sub/sub.txt", "sub/made.txt", "sub/local.txt"] {
        env.write(f, "x  \n");
    }
    env.write("sub/.gitattributes", "[attr]local linguist-generated\nsub.txt binary\nmade.txt made\nlocal.txt local\n");
    env.write("vendor/key.pem", RSA_KEY);
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "{}", r["summary"]);
    let expected = ["not.js", "plain.txt", "sub/local.txt", "vendor/key.pem", "y.lock"];
    assert_eq!(with_findings(&r), expected, "{}", r["summary"]);
    assert_eq!(status_of(&r, "vendor/key.pem", "secrets"), "findings");
    assert_eq!(r["summary"]["binary_files"], 3, "a.dat, b.ai, sub/sub.txt: {}", r["summary"]);
    assert_eq!(with_findings(&check_json(&env, &["sub"]).1), ["sub/local.txt"], "the top's macro rules below");
    // Warm: the same answer.
    let warm = (0..3).map(|_| check_json(&env, &[]).1).find(|r| r["summary"]["unchanged"] == true);
    let warm = warm.expect("an unchanged tree was never answered from the previous run");
    assert_eq!(with_findings(&warm), expected);
    // A deeper file's edit.
    env.write("sub/.gitattributes", "made.txt made\n");
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), ["not.js", "plain.txt", "sub/local.txt", "sub/sub.txt", "vendor/key.pem", "y.lock"]);
    // git's own, over every `.gitattributes`.
    env.write(".git/info/attributes", "*.txt linguist-generated\n*.lock binary\n");
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), ["not.js", "vendor/key.pem"], "{}", r["summary"]);
    // One gone; a new one in a directory, which rules the directories
    // below it too.
    std::fs::remove_file(env.project.join(".git/info/attributes")).unwrap();
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), ["not.js", "plain.txt", "sub/local.txt", "sub/sub.txt", "vendor/key.pem", "y.lock"]);
    env.write("vendor/.gitattributes", "* -linguist-vendored\n");
    let r = check_json(&env, &[]).1;
    let all =
        ["not.js", "plain.txt", "sub/local.txt", "sub/sub.txt", "vendor/deep/d.js", "vendor/key.pem", "vendor/v.js"];
    assert_eq!(with_findings(&r), [&all[..], &["y.lock"]].concat(), "{}", r["summary"]);
    // The top's file rules the directories below it: an edit there is not
    // an edit of its directory's files alone (a warm answer is not updated
    // by walking that directory again).
    assert!((0..3).any(|_| check_json(&env, &[]).1["summary"]["unchanged"] == true), "never answered unchanged");
    let top = std::fs::read_to_string(env.project.join(".gitattributes")).unwrap();
    env.write(".gitattributes", format!("{top}sub/** linguist-generated\n"));
    let r = check_json(&env, &[]).1;
    assert_eq!(
        with_findings(&r),
        ["not.js", "plain.txt", "vendor/deep/d.js", "vendor/key.pem", "vendor/v.js", "y.lock"]
    );
}

/// A Go module's `vendor` directory, as `go mod vendor` fills it (a
/// `modules.txt` listing the modules, beside a `go.mod`): someone else's
/// code, whose layout, size and mode are left alone (a key in it is still
/// found). The mark follows `modules.txt` and `go.mod` appearing, changing
/// and going, warm or not, including in a deep directory whose own walk
/// would not list them.
#[test]
fn a_go_module_s_vendor_directory_keeps_its_layout_while_go_says_so() {
    let env = Env::new();
    env.write("go.mod", "module example.com/m\n\ngo 1.22\n");
    env.write("main.go", "package main  \n");
    env.write("vendor/example.com/x/x.go", "package x  \n");
    env.write("vendor/example.com/x/deep/README.md", "no newline");
    env.write("vendor/example.com/x/mkall.sh", "#!/bin/sh\necho\n");
    env.write("vendor/example.com/x/key.pem", RSA_KEY);
    let vendored =
        ["vendor/example.com/x/deep/README.md", "vendor/example.com/x/mkall.sh", "vendor/example.com/x/x.go"];
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "{}", r["summary"]);
    let mut unmarked = [&["main.go", "vendor/example.com/x/key.pem"][..], &vendored[..]].concat();
    unmarked.sort_unstable();
    assert_eq!(with_findings(&r), unmarked, "no modules.txt yet: a directory named vendor says nothing");
    assert!((0..3).any(|_| check_json(&env, &[]).1["summary"]["unchanged"] == true), "never answered unchanged");
    // `go mod vendor` writes its list: the next check sees it.
    env.write("vendor/modules.txt", "# example.com/x v1.0.0\n## explicit; go 1.21\nexample.com/x\n");
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), ["main.go", "vendor/example.com/x/key.pem"], "{}", r["summary"]);
    assert_eq!(status_of(&r, "vendor/example.com/x/key.pem", "secrets"), "findings");
    // Warm, then an edit deep below: the answer updated from that
    // directory alone keeps the mark.
    assert!((0..3).any(|_| check_json(&env, &[]).1["summary"]["unchanged"] == true), "never answered unchanged");
    env.write("vendor/example.com/x/deep/README.md", "still no newline");
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), ["main.go", "vendor/example.com/x/key.pem"], "{}", r["summary"]);
    // Checked by itself (afresh), the deep directory is marked all the
    // same.
    let r = check_json(&env, &["--no-cache", "vendor/example.com/x/deep"]).1;
    assert_eq!(status_of(&r, "vendor/example.com/x/deep/README.md", "final-newline"), "passed");
    // A list that is not the go command's: no mark.
    env.write("vendor/modules.txt", "example.com/x\n");
    assert_eq!(with_findings(&check_json(&env, &[]).1), unmarked);
    env.write("vendor/modules.txt", "# example.com/x v1.0.0\n");
    assert_eq!(with_findings(&check_json(&env, &[]).1), ["main.go", "vendor/example.com/x/key.pem"]);
    // go.mod gone: no module, no mark; back as go.work, a workspace's.
    std::fs::remove_file(env.project.join("go.mod")).unwrap();
    assert_eq!(with_findings(&check_json(&env, &[]).1), unmarked);
    env.write("go.work", "go 1.22\n\nuse .\n");
    assert_eq!(with_findings(&check_json(&env, &[]).1), ["main.go", "vendor/example.com/x/key.pem"]);
    // explain says what marks it.
    let out = env.run(&["explain", "vendor/example.com/x/mkall.sh"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("vendor/modules.txt: `go mod vendor` copied the modules it lists"), "{text}");
    assert!(text.contains("without execute bits"), "{text}");
}

/// Composer's `vendor` directory, committed (phpunit's `tools/.phpstan/`):
/// its `autoload.php`, as Composer generates it, beside a `composer.json`,
/// marks what is below as someone else's code. The mark follows the
/// autoloader appearing and changing and `composer.json` going, warm or
/// not.
/// A directory lowRISC's `util/vendor.py` filled keeps its layout while
/// its lock file says the tool wrote it; warm, the lock file appearing and
/// going is seen.
#[test]
fn a_directory_lowriscs_vendor_tool_filled_keeps_its_layout_while_its_lock_file_is_there() {
    let env = Env::new();
    env.write(
        "vendor/riscv_isa_sim.vendor.hjson",
        "{\n  name: \"riscv_isa_sim\",\n  target_dir: \"riscv-isa-sim\",\n}\n",
    );
    env.write("vendor/riscv-isa-sim/riscv/decode.h", "int x;  \n");
    env.write("vendor/patches/riscv_isa_sim/0001.patch", "x\n\n");
    env.write("rtl/core.sv", "module core; \n");
    let every = ["rtl/core.sv", "vendor/patches/riscv_isa_sim/0001.patch", "vendor/riscv-isa-sim/riscv/decode.h"];
    assert_eq!(with_findings(&check_json(&env, &[]).1), every);
    assert!((0..3).any(|_| check_json(&env, &[]).1["summary"]["unchanged"] == true), "never answered unchanged");
    let lock = "// This file is generated by the util/vendor script. Please do not modify it\n// manually.\n{\n}\n";
    env.write("vendor/riscv_isa_sim.lock.hjson", lock);
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), ["rtl/core.sv", "vendor/patches/riscv_isa_sim/0001.patch"], "{}", r["summary"]);
    let out = env.run(&["explain", "vendor/riscv-isa-sim/riscv/decode.h"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("vendor/riscv_isa_sim.lock.hjson: lowRISC's `util/vendor.py` copied"), "{text}");
    std::fs::remove_file(env.project.join("vendor/riscv_isa_sim.lock.hjson")).unwrap();
    assert_eq!(with_findings(&check_json(&env, &[]).1), every);
}

/// A directory whose README says it holds someone else's code (klipper's
/// `lib/README`) keeps its files' layout and encoding; warm, the README
/// appearing and changing is seen; a check of a directory below it reads
/// it too, and `explain` quotes it.
#[test]
fn a_directory_whose_readme_says_it_is_external_code_keeps_its_layout() {
    let env = Env::new();
    env.write("lib/stm32/system.c", "int x;  \n");
    env.write("lib/st.h", b"// \xa9 ST\n");
    env.write("src/main.c", "int main; \n");
    let every = ["lib/st.h", "lib/stm32/system.c", "src/main.c"];
    assert_eq!(with_findings(&check_json(&env, &[]).1), every);
    assert!((0..3).any(|_| check_json(&env, &[]).1["summary"]["unchanged"] == true), "never answered unchanged");
    env.write("lib/README", "This directory contains external library code.\n\nstm32: from ST's SDK.\n");
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), ["src/main.c"], "{}", r["summary"]);
    let (_, below) = check_json(&env, &["lib/stm32"]);
    assert_eq!(with_findings(&below), Vec::<&str>::new(), "{below:#}");
    let out = env.run(&["explain", "lib/stm32/system.c"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("lib/README: \"This directory contains external library code.\""), "{text}");
    // Said further down, it is the project's own code.
    env.write("lib/README", "# lib\n\nOur board support. This directory contains external library code too.\n");
    assert_eq!(with_findings(&check_json(&env, &[]).1), every);
}

/// A release's directory (sonic-pi's `app/external/aubio-0.4.9/`) keeps its
/// files' layout while it holds its licence: warm, the licence appearing
/// and going is seen deep below it, and `explain` names it.
#[test]
fn a_release_s_directory_with_its_licence_keeps_its_layout() {
    let env = Env::new();
    env.write("external/aubio-0.4.9/src/pitch/yin.c", "int x;  \n");
    env.write("external/aubio-0.4.9/wscript", "def build(ctx): \n");
    env.write("src/main.c", "int main; \n");
    let every = ["external/aubio-0.4.9/src/pitch/yin.c", "external/aubio-0.4.9/wscript", "src/main.c"];
    assert_eq!(with_findings(&check_json(&env, &[]).1), every);
    assert!((0..3).any(|_| check_json(&env, &[]).1["summary"]["unchanged"] == true), "never answered unchanged");
    env.write("external/aubio-0.4.9/COPYING", "GNU GENERAL PUBLIC LICENSE\n");
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), ["src/main.c"], "{}", r["summary"]);
    let (_, below) = check_json(&env, &["external/aubio-0.4.9/src"]);
    assert_eq!(with_findings(&below), Vec::<&str>::new(), "{below:#}");
    let out = env.run(&["explain", "external/aubio-0.4.9/src/pitch/yin.c"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("external/aubio-0.4.9/COPYING: a release's directory"), "{text}");
    std::fs::remove_file(env.project.join("external/aubio-0.4.9/COPYING")).unwrap();
    assert_eq!(with_findings(&check_json(&env, &[]).1), every);
}

/// A distribution's package recipe (a BitBake recipe, OpenWrt's `files/`
/// beside its `Makefile`) installs the scripts below it with its own
/// modes: warm, the recipe appearing and going is seen, an edit of one
/// walks only its directory again, and `explain` names it.
#[test]
fn a_package_recipe_installs_its_scripts_with_its_own_modes() {
    let env = Env::new();
    env.write("meta/recipes-x/app/files/run-ptest", "#!/bin/sh\nmake check\n");
    env.write("net/frp/files/frpc.init", "#!/bin/sh /etc/rc.common\nSTART=99\n");
    env.write("net/frp/test.sh", "#!/bin/sh\nfrpc --version\n");
    env.write("scripts/run.sh", "#!/bin/sh\necho hi\n");
    let shebang = ["--validator", "shebang-executable"];
    let every = ["meta/recipes-x/app/files/run-ptest", "net/frp/files/frpc.init", "net/frp/test.sh", "scripts/run.sh"];
    assert_eq!(with_findings(&check_json(&env, &shebang).1), every);
    assert!((0..3).any(|_| check_json(&env, &shebang).1["summary"]["unchanged"] == true), "never answered unchanged");
    env.write("meta/recipes-x/app/app_1.0.bb", "SRC_URI = \"file://run-ptest\"\n");
    env.write("net/frp/Makefile", "include $(TOPDIR)/rules.mk\n");
    let r = check_json(&env, &shebang).1;
    assert_eq!(with_findings(&r), ["net/frp/test.sh", "scripts/run.sh"], "{}", r["summary"]);
    assert_eq!(r["summary"]["incremental"], false, "{}", r["summary"]);
    // Edited, still a recipe: only its directory is walked again.
    env.write("meta/recipes-x/app/app_1.0.bb", "SRC_URI = \"file://run-ptest file://init\"\n");
    let r = check_json(&env, &shebang).1;
    assert_eq!(with_findings(&r), ["net/frp/test.sh", "scripts/run.sh"], "{}", r["summary"]);
    assert_eq!(r["summary"]["incremental"], true, "{}", r["summary"]);
    // Below the recipe's directory, and a file alone.
    let (_, below) = check_json(&env, &["--validator", "shebang-executable", "net/frp/files"]);
    assert_eq!(with_findings(&below), Vec::<&str>::new(), "{below:#}");
    let out = env.run(&["explain", "meta/recipes-x/app/files/run-ptest"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("meta/recipes-x/app/app_1.0.bb: a package recipe installs"), "{text}");
    assert!(text.contains("installed by a package recipe"), "{text}");
    std::fs::remove_file(env.project.join("meta/recipes-x/app/app_1.0.bb")).unwrap();
    std::fs::remove_file(env.project.join("net/frp/Makefile")).unwrap();
    assert_eq!(with_findings(&check_json(&env, &shebang).1), every);
}

#[test]
fn composer_s_vendor_directory_keeps_its_layout_while_composer_says_so() {
    let env = Env::new();
    env.write("tools/composer.json", "{\"require-dev\": {\"phpstan/phpstan\": \"^2\"}}\n");
    env.write("tools/vendor/phpstan/phpstan/README.md", "no newline");
    env.write("tools/vendor/phpstan/phpstan/phpstan", "#!/usr/bin/env php\n<?php\n");
    env.write("tools/vendor/composer/installed.php", "<?php return array(  \n);\n");
    env.write("tools/vendor/key.pem", RSA_KEY);
    env.write("src/a.php", "<?php  \n");
    let vendored = [
        "tools/vendor/composer/installed.php",
        "tools/vendor/phpstan/phpstan/README.md",
        "tools/vendor/phpstan/phpstan/phpstan",
    ];
    let mut unmarked = [&["src/a.php", "tools/vendor/key.pem"][..], &vendored[..]].concat();
    unmarked.sort_unstable();
    assert_eq!(with_findings(&check_json(&env, &[]).1), unmarked, "no autoload.php yet");
    assert!((0..3).any(|_| check_json(&env, &[]).1["summary"]["unchanged"] == true), "never answered unchanged");
    // A hand-written autoloader says nothing.
    env.write("tools/vendor/autoload.php", "<?php\nrequire __DIR__ . '/x.php';\n");
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), unmarked, "{}", r["summary"]);
    // Composer's: the next check sees it.
    env.write(
        "tools/vendor/autoload.php",
        "<?php\n\n// autoload.php @generated by Composer\n\nrequire_once __DIR__ . '/composer/autoload_real.php';\n",
    );
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), ["src/a.php", "tools/vendor/key.pem"], "{}", r["summary"]);
    assert_eq!(status_of(&r, "tools/vendor/key.pem", "secrets"), "findings");
    let out = env.run(&["explain", "tools/vendor/phpstan/phpstan/phpstan"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("tools/vendor/autoload.php: Composer installed the packages"), "{text}");
    assert!(text.contains("Composer's `vendor` directory"), "{text}");
    // composer.json gone: no project, no mark.
    std::fs::remove_file(env.project.join("tools/composer.json")).unwrap();
    assert_eq!(with_findings(&check_json(&env, &[]).1), unmarked);
}

/// A large asset of a Godot project, beside the `NAME.import` its editor
/// writes, is large on purpose; without the sidecar it is reported. The
/// mark follows the sidecar appearing and going, warm.
#[test]
fn a_large_asset_godot_imported_passes_while_its_import_file_is_there() {
    let env = Env::new();
    env.write("verdict.toml", "[validators.large-file]\nmax_size = \"1KiB\"\n");
    env.write("art/goblin.png", "x".repeat(4096));
    env.write("art/notes.txt", "y\n".repeat(2048));
    let (code, r) = check_json(&env, &["--validator", "large-file"]);
    assert_eq!(code, 1, "{}", r["summary"]);
    assert_eq!(with_findings(&r), ["art/goblin.png", "art/notes.txt"]);
    assert!((0..3).any(|_| check_json(&env, &["--validator", "large-file"]).1["summary"]["unchanged"] == true));
    env.write("art/goblin.png.import", "[remap]\n\nimporter=\"texture\"\ntype=\"CompressedTexture2D\"\n");
    let r = check_json(&env, &["--validator", "large-file"]).1;
    assert_eq!(with_findings(&r), ["art/notes.txt"], "{}", r["summary"]);
    let out = env.run(&["explain", "art/goblin.png"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("goblin.png.import: Godot's editor imported it"), "{text}");
    // Named alone, it is judged the same; a sidecar the walk leaves out
    // (ignored) does not count.
    let r = check_json(&env, &["--validator", "large-file", "--no-cache", "art/goblin.png"]).1;
    assert_eq!(status_of(&r, "art/goblin.png", "large-file"), "passed", "{}", r["summary"]);
    env.write(".ignore", "*.import\n");
    let r = check_json(&env, &["--validator", "large-file", "--no-cache", "art/goblin.png"]).1;
    assert_eq!(status_of(&r, "art/goblin.png", "large-file"), "findings", "{}", r["summary"]);
    let r = check_json(&env, &["--validator", "large-file"]).1;
    assert_eq!(with_findings(&r), ["art/goblin.png", "art/notes.txt"], "{}", r["summary"]);
    std::fs::remove_file(env.project.join(".ignore")).unwrap();
    let r = check_json(&env, &["--validator", "large-file"]).1;
    assert_eq!(with_findings(&r), ["art/notes.txt"], "{}", r["summary"]);
    std::fs::remove_file(env.project.join("art/goblin.png.import")).unwrap();
    let r = check_json(&env, &["--validator", "large-file"]).1;
    assert_eq!(with_findings(&r), ["art/goblin.png", "art/notes.txt"], "{}", r["summary"]);
}

/// A test's input and expected output side by side keep their bytes; the
/// same names alone, and the test's source beside an expected output, are
/// checked. The mark follows the sibling appearing and going, warm.
#[test]
fn a_tests_pair_of_files_keeps_its_bytes_while_both_are_there() {
    let env = Env::new();
    // Vim's indent test, Verilator's lint test and its driver, autoconf's
    // template, a log.
    env.write("indent/python.in", "if x:\n    y  \n");
    env.write("indent/python.ok", "if x:\n  y  \n");
    env.write("t/t_bad.v", "module t;  \nendmodule\n");
    env.write("t/t_bad.out", "%Error: t/t_bad.v:1:7: here  \n  1 | module t;  \n<<<<<<< HEAD\n");
    env.write("build/Makefile.in", "all:  \n");
    env.write("logs/run.out", "done  \n");
    // The pairs' layout is the test's; a conflict committed into an
    // expected output is still one.
    let paired = ["build/Makefile.in", "logs/run.out", "t/t_bad.out", "t/t_bad.v"];
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "{}", r["summary"]);
    assert_eq!(with_findings(&r), paired, "{}", r["summary"]);
    assert_eq!(status_of(&r, "t/t_bad.out", "trailing-whitespace"), "passed");
    assert_eq!(status_of(&r, "t/t_bad.out", "merge-conflict"), "findings");
    assert_eq!(status_of(&r, "t/t_bad.v", "trailing-whitespace"), "findings");
    let out = env.run(&["explain", "indent/python.in"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("python.ok: the test's expected output for it"), "{text}");
    assert!(text.contains("a test's input"), "{text}");
    // Named alone, judged the same.
    let r = check_json(&env, &["--no-cache", "indent/python.ok", "logs/run.out"]).1;
    assert_eq!(with_findings(&r), ["logs/run.out"], "{}", r["summary"]);
    // Warm: the output's pair gone, then back.
    assert!((0..3).any(|_| check_json(&env, &[]).1["summary"]["unchanged"] == true), "never answered unchanged");
    std::fs::remove_file(env.project.join("indent/python.in")).unwrap();
    let r = check_json(&env, &[]).1;
    assert_eq!(status_of(&r, "indent/python.ok", "trailing-whitespace"), "findings", "{}", r["summary"]);
    env.write("indent/python.in", "if x:\n    y  \n");
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), paired, "{}", r["summary"]);
}

/// An expected output git tracks though a `.gitignore` names it pairs its
/// input whether the input's directory is walked or the input is named
/// alone (as pre-commit names files).
#[test]
fn a_tests_pair_counts_a_partner_git_tracks_that_an_ignore_file_names() {
    let env = Env::new();
    git(&env, &["init", "-q"]);
    env.write(".gitignore", "*.out\n");
    env.write("t/x.in", "x  \n");
    env.write("t/x.out", "x\n");
    env.write("t/y.in", "y  \n");
    env.write("t/y.out", "y\n");
    git(&env, &["add", "-f", "t/x.out"]);
    let r = check_json(&env, &["--no-cache"]).1;
    assert_eq!(with_findings(&r), ["t/y.in"], "{}", r["summary"]);
    let r = check_json(&env, &["--no-cache", "t/x.in", "t/y.in"]).1;
    assert_eq!(with_findings(&r), ["t/y.in"], "{}", r["summary"]);
}

/// A Perl test in the TAP layout (`t/**/*.t`) is a test's source: its
/// heredocs are the test's data and keep their blanks; the same script
/// elsewhere is judged.
#[test]
fn a_tap_test_s_heredocs_keep_their_blanks() {
    let env = Env::new();
    let script = "use Test::More;\nmy $config = <<'EOT';\noutput anything \nEOT\nok(1);\n";
    for f in ["testcases/t/317-bar.t", "lib/317-bar.t", "t/helper.pl"] {
        env.write(f, script);
    }
    let r = check_json(&env, &["--no-cache"]).1;
    assert_eq!(with_findings(&r), ["lib/317-bar.t", "t/helper.pl"], "{}", r["summary"]);
}

/// Test files the project keeps from its formatter (its root
/// `.prettierignore`) keep their blanks and their end; the same file
/// elsewhere, or re-included, is checked. The mark follows the file
/// appearing, changing and going, warm or not.
#[test]
fn test_files_kept_from_the_formatter_keep_their_whitespace() {
    let env = Env::new();
    for f in ["test/fixtures/a.js", "test/cases/b.md", "test/run.js", "docs/c.md", "src/d.js"] {
        env.write(f, "x  \ny");
    }
    env.write("test/fixtures/mixed.js", "a\r\nb\n");
    let every =
        ["docs/c.md", "src/d.js", "test/cases/b.md", "test/fixtures/a.js", "test/fixtures/mixed.js", "test/run.js"];
    assert_eq!(with_findings(&check_json(&env, &[]).1), every);
    assert!((0..3).any(|_| check_json(&env, &[]).1["summary"]["unchanged"] == true), "never answered unchanged");
    // webpack's way: every test file, but the harness.
    env.write(".prettierignore", "docs/\ntest/**/*.*\n!test/*.js\n");
    let r = check_json(&env, &[]).1;
    // A mix of line endings is still one.
    assert_eq!(
        with_findings(&r),
        ["docs/c.md", "src/d.js", "test/fixtures/mixed.js", "test/run.js"],
        "{}",
        r["summary"]
    );
    assert_eq!(status_of(&r, "test/fixtures/mixed.js", "mixed-line-endings"), "findings");
    let out = env.run(&["explain", "test/fixtures/a.js"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(".prettierignore: `test/**/*.*`, below a directory of tests"), "{text}");
    assert!(
        text.contains("not judged: it is below a directory of tests and the project's `.prettierignore`"),
        "{text}"
    );
    // Edited: one directory only.
    env.write(".prettierignore", "test/fixtures\n");
    let r = check_json(&env, &[]).1;
    let fixtures_kept = ["docs/c.md", "src/d.js", "test/cases/b.md", "test/fixtures/mixed.js", "test/run.js"];
    assert_eq!(with_findings(&r), fixtures_kept, "{}", r["summary"]);
    // Gone.
    std::fs::remove_file(env.project.join(".prettierignore")).unwrap();
    assert_eq!(with_findings(&check_json(&env, &[]).1), every);
}

/// git's own whitespace policy: `-whitespace` (git's tests' expected
/// outputs), `whitespace=-blank-at-eof`, and `conflict-marker-size` (a
/// document showing a sample conflict). The verdicts follow an edit of the
/// attributes at once: the marks are in the cached verdicts' key.
#[test]
fn git_s_whitespace_and_conflict_marker_size_attributes_are_heeded() {
    let env = Env::new();
    env.write(
        ".gitattributes",
        "*.expect -whitespace\n*.log whitespace=-blank-at-eof\nguide.adoc conflict-marker-size=32\n",
    );
    env.write("t/out.expect", "N  1 \nN  2\n\n");
    env.write("run.log", "done\n\n\n");
    env.write("bad.log", "done \n");
    let sample = "<<<<<<< ours\nmine\n=======\ntheirs\n>>>>>>> theirs\n";
    env.write("guide.adoc", format!("An example:\n\n{sample}"));
    env.write("other.adoc", sample);
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "{}", r["summary"]);
    assert_eq!(with_findings(&r), ["bad.log", "other.adoc"], "{}", r["summary"]);
    assert_eq!(status_of(&r, "bad.log", "trailing-whitespace"), "findings");
    // A merge of the guide writes markers of 32: those are conflicts.
    let wide = sample.replace("<<<<<<<", &"<".repeat(32)).replace("=======", &"=".repeat(32));
    env.write("guide.adoc", wide.replace(">>>>>>>", &">".repeat(32)));
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), ["bad.log", "guide.adoc", "other.adoc"], "{}", r["summary"]);
    // Without the attributes, the same bytes are judged as any file's.
    env.write(".gitattributes", "");
    env.write("guide.adoc", format!("An example:\n\n{sample}"));
    let r = check_json(&env, &[]).1;
    assert_eq!(
        with_findings(&r),
        ["bad.log", "guide.adoc", "other.adoc", "run.log", "t/out.expect"],
        "{}",
        r["summary"]
    );
}

/// A spreadsheet's CSV export ends its records with CRLF and the line
/// breaks within a cell with LF: `mixed-line-endings` reads a `.csv` or
/// `.tsv` file as records. The same bytes under another name are mixed,
/// and the two verdicts are cached apart (the name's mark is part of the
/// file's key): copies made later get their own kind of name's verdict.
#[test]
fn csv_records_may_quote_line_breaks_in_their_fields() {
    let env = Env::new();
    let excel = "id,note\r\n1,\"two\nlines\"\r\n2,plain\r\n";
    env.write("export.CSV", excel);
    env.write("export.txt", excel);
    env.write("bad.csv", "a,b\r\nc,d\r\ne,f\n");
    let only = ["--validator", "mixed-line-endings"];
    let (code, r) = check_json(&env, &only);
    assert_eq!(code, 1, "{}", r["summary"]);
    assert_eq!(with_findings(&r), ["bad.csv", "export.txt"], "{}", r["summary"]);
    env.write("later.tsv", excel);
    env.write("later.md", excel);
    let (_, r) = check_json(&env, &only);
    assert_eq!(with_findings(&r), ["bad.csv", "export.txt", "later.md"], "{}", r["summary"]);
    // Each copy is answered from the entry of its kind of name.
    assert_eq!(r["summary"]["outcomes"]["cached"], 5, "{}", r["summary"]);
    assert_eq!(outcome(&r, "later.tsv", "mixed-line-endings")["verdict"]["status"], "passed", "{}", r["summary"]);
}

/// A project's EditorConfig settings are its rules where they say a
/// check's is not: `trim_trailing_whitespace = false` and
/// `insert_final_newline = false` waive the checks they name, `charset =
/// latin1` waives `utf8`, and a UTF-16 file is binary to the text checks.
/// Nearer files and later sections rule; files above the project root
/// count up to one that says `root = true`; the same whatever path is
/// checked; a line that is not EditorConfig is said in the summary's notes;
/// and an edit, or a new file above the root, takes effect at the next
/// check, warm or not.
#[test]
fn editorconfig_settings_waive_the_checks_they_name() {
    let env = Env::new();
    env.write(
        ".editorconfig",
        "[*]\ninsert_final_newline = true\n\n[*.md]\ntrim_trailing_whitespace = false\n\n\
         [legacy/**]\ncharset = latin1\ninsert_final_newline = false\n\n[*.ps1]\ncharset = utf-16le\n",
    );
    env.write("docs/guide.md", "three blanks   \nend\n");
    env.write("docs/.editorconfig", "[keep.md]\ntrim_trailing_whitespace = true\n");
    env.write("docs/keep.md", "three blanks   \nend\n");
    env.write("a.txt", "x  \n");
    env.write("b.txt", "no newline");
    std::fs::create_dir_all(env.project.join("legacy/deep")).unwrap();
    std::fs::write(env.project.join("legacy/deep/caf\u{e9}.txt"), b"caf\xe9 au lait").unwrap();
    // UTF-16LE with a BOM, `中文`: no zero byte to say it is not text.
    std::fs::write(env.project.join("w.ps1"), b"\xff\xfe\x2d\x4e\x87\x65").unwrap();
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "{}", r["summary"]);
    let expected = ["a.txt", "b.txt", "docs/keep.md"];
    assert_eq!(with_findings(&r), expected, "{}", r["summary"]);
    assert_eq!(status_of(&r, "docs/guide.md", "markdown-trailing-whitespace"), "passed");
    assert_eq!(status_of(&r, "legacy/deep/caf\u{e9}.txt", "utf8"), "passed");
    assert_eq!(r["summary"]["binary_files"], 1, "w.ps1: {}", r["summary"]);
    assert!(r["summary"]["notes"].is_null(), "no notes: {}", r["summary"]);
    // A path below the root: the root's file still counts.
    for path in ["docs", "legacy/deep", "w.ps1"] {
        let r = check_json(&env, &["--no-cache", path]).1;
        assert!(with_findings(&r).iter().all(|f| f == "docs/keep.md"), "{path}: {}", r["summary"]);
    }
    // Warm: the same answer.
    let warm = (0..3).map(|_| check_json(&env, &[]).1).find(|r| r["summary"]["unchanged"] == true);
    assert_eq!(with_findings(&warm.expect("never answered unchanged")), expected);
    // A file above the project root counts, while no file says `root =
    // true` (where a nearer one says nothing of the property): made while
    // the daemon watches, it rules the next check.
    let above = env.project.parent().unwrap().join(".editorconfig");
    std::fs::write(&above, "[*.txt]\ntrim_trailing_whitespace = false\n").unwrap();
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), ["b.txt", "docs/keep.md"], "{}", r["summary"]);
    env.write(
        ".editorconfig",
        format!("root = true\n{}", std::fs::read_to_string(env.project.join(".editorconfig")).unwrap()),
    );
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), expected, "{}", r["summary"]);
    // A line that is not EditorConfig ends the file, and is said.
    env.write(
        "docs/.editorconfig",
        "[keep.md]\ntrim_trailing_whitespace = true\noops\n[*.md]\ninsert_final_newline = false\n",
    );
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), expected, "{}", r["summary"]);
    let notes = r["summary"]["notes"].to_string();
    assert!(notes.contains("docs/.editorconfig: line 3 is not a section header"), "{notes}");
    // The markdown section gone: its file is judged again.
    env.write(".editorconfig", "root = true\n[legacy/**]\ncharset = latin1\ninsert_final_newline = false\n");
    let r = check_json(&env, &[]).1;
    assert_eq!(with_findings(&r), ["a.txt", "b.txt", "docs/guide.md", "docs/keep.md", "w.ps1"], "{}", r["summary"]);
}

/// EditorConfig's `end_of_line` asks for one ending on every line, even in
/// a file that uses one other kind only; git's `eol` attribute decides
/// where it names another (it is what a checkout writes), an `end_of_line
/// = crlf` gives way where git writes this machine's ending, and an edit of
/// either file rules the next check.
#[test]
fn end_of_line_asks_for_the_ending_it_names() {
    let env = Env::new();
    env.write(".editorconfig", "root = true\n[*.{txt,sln}]\nend_of_line = lf\n[*.{bat,cs}]\nend_of_line = crlf\n");
    env.write(".gitattributes", "*.sln text eol=crlf\n*.cs text=auto\n");
    // git writes LF here for a file it normalizes: `crlf` is for the
    // machines whose git writes that.
    env.write("a.cs", "class A {}\n");
    env.write("unix.txt", "a\nb\n");
    env.write("dos.txt", "a\r\nb\r\n");
    env.write("run.bat", "@echo off\r\nexit\r\n");
    env.write("lf.bat", "@echo off\nexit\n");
    env.write("x.sln", "a\r\nb\r\n");
    env.write("y.sln", "a\nb\n");
    let only = ["--validator", "mixed-line-endings"];
    let (code, r) = check_json(&env, &only);
    assert_eq!(code, 1, "{}", r["summary"]);
    let expected = ["dos.txt", "lf.bat", "y.sln"];
    assert_eq!(with_findings(&r), expected, "{}", r["summary"]);
    let said =
        |r: &Value, file| outcome(r, file, "mixed-line-endings")["findings"][0]["message"].as_str().map(str::to_owned);
    let said_of = |r: &Value, file| {
        let o = outcome(r, file, "mixed-line-endings");
        o["findings"][0]["message"].as_str().or(o["verdict"]["findings"][0]["message"].as_str()).map(str::to_owned)
    };
    assert_eq!(said(&r, "dos.txt").unwrap(), "CRLF line ending, where .editorconfig sets end_of_line = lf (2 CRLF)");
    assert_eq!(said(&r, "y.sln").unwrap(), "LF line ending, where git's attributes give it eol=crlf (2 LF)");
    assert_eq!(said(&r, "lf.bat").unwrap(), "LF line ending, where .editorconfig sets end_of_line = crlf (2 LF)");
    // Warm, and from the cache: the same.
    let warm = (0..3).map(|_| check_json(&env, &only).1).find(|r| r["summary"]["unchanged"] == true);
    let warm = warm.expect("never answered unchanged");
    assert_eq!(with_findings(&warm), expected);
    assert_eq!(said_of(&warm, "dos.txt").unwrap(), said(&r, "dos.txt").unwrap());
    // The setting changed: the files it names are judged again.
    env.write(".editorconfig", "root = true\n[*.txt]\nend_of_line = crlf\n");
    let r = check_json(&env, &only).1;
    assert_eq!(with_findings(&r), ["unix.txt"], "{}", r["summary"]);
    // Unset (or gone), only a mix is a finding.
    env.write(".editorconfig", "root = true\n[*.txt]\nend_of_line = unset\n");
    env.write("mixed.bat", "a\r\nb\r\nc\n");
    let r = check_json(&env, &only).1;
    assert_eq!(with_findings(&r), ["mixed.bat"], "{}", r["summary"]);
    assert!(said(&r, "mixed.bat").unwrap().starts_with("mixed line endings (1 LF, 2 CRLF)"), "{}", r["summary"]);
}

/// A minified script or style sheet (lines averaging over 110 bytes, as
/// Linguist judges) keeps the minifier's layout; the same bytes under
/// another name are judged, and cached apart.
#[test]
fn minified_bundles_keep_their_layout() {
    let env = Env::new();
    let bundle = format!("/*! v1 */\n{}let t=`a \nb`", "var e=Object.defineProperty;".repeat(40));
    for name in ["dist/app.js", "dist/app.css", "notes.txt", "small.js"] {
        env.write(name, if name == "small.js" { "let a = 1; \n" } else { &bundle });
    }
    let only = ["--validator", "trailing-whitespace", "--validator", "final-newline"];
    let (code, r) = check_json(&env, &only);
    assert_eq!(code, 1, "{}", r["summary"]);
    assert_eq!(with_findings(&r), ["notes.txt", "small.js"], "{}", r["summary"]);
    let warm = (0..3).map(|_| check_json(&env, &only).1).find(|r| r["summary"]["unchanged"] == true);
    assert_eq!(with_findings(&warm.expect("never answered unchanged")), ["notes.txt", "small.js"]);
    // Renamed: judged by its new name, not answered from the old one's.
    std::fs::rename(env.project.join("notes.txt"), env.project.join("notes.js")).unwrap();
    std::fs::rename(env.project.join("dist/app.js"), env.project.join("dist/app.txt")).unwrap();
    let r = check_json(&env, &only).1;
    assert_eq!(with_findings(&r), ["dist/app.txt", "small.js"], "{}", r["summary"]);
}

/// A key kept in a UTF-16 script (Windows PowerShell 5's `>` writes one)
/// is found at its line, though the file is binary to git and to the
/// layout checks; other binary files pass `secrets` and `merge-conflict`.
#[test]
fn a_key_in_a_utf16_script_is_found() {
    let env = Env::new();
    let script = "# deploy\r\n$k = @'\r\n-----BEGIN RSA PRIVATE KEY-----\r\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\r\n\
                  -----END RSA PRIVATE KEY-----\r\n'@  \r\n";
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(script.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(env.project.join("deploy.ps1"), bytes).unwrap();
    std::fs::write(env.project.join("image.bin"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "{}", r["summary"]);
    assert_eq!(with_findings(&r), ["deploy.ps1"], "{}", r["summary"]);
    let found = &outcome(&r, "deploy.ps1", "secrets")["findings"][0];
    assert_eq!((found["line"].as_u64(), found["column"].as_u64()), (Some(3), Some(1)), "{found}");
    assert_eq!(r["summary"]["binary_files"], 2, "{}", r["summary"]);
    // Its trailing blanks are not judged, as in any binary file.
    let pairs = r["outcomes"].as_array().unwrap();
    let judged = |v: &str| pairs.iter().any(|o| o["file"] == "deploy.ps1" && o["validator"] == v);
    assert!(!judged("trailing-whitespace") && judged("secrets"), "{}", r["summary"]);
    assert_eq!(status_of(&r, "image.bin", "secrets"), "passed");
    assert_eq!(status_of(&r, "image.bin", "merge-conflict"), "passed");
}

/// `secrets` and `merge-conflict` read a binary file only for the text it
/// may hold: one too big to read whole (over `check.max_file_size`) is left
/// out of them, as out of the text-only checks, not skipped by them (only
/// `shebang-executable`, which judges any file, says it skipped it).
#[test]
fn a_binary_file_too_big_to_read_is_no_skip_of_the_text_checks() {
    let env = Env::new();
    env.write("verdict.toml", "[check]\nmax_file_size = \"1KiB\"\n");
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.resize(4096, 7);
    std::fs::write(env.project.join("big.png"), &png).unwrap();
    std::fs::write(env.project.join("small.png"), &png[..512]).unwrap();
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 3, "{}", r["summary"]);
    assert_eq!(r["summary"]["outcomes"]["skipped"], 1, "{}", r["summary"]);
    assert_eq!(status_of(&r, "big.png", "shebang-executable"), "skipped");
    let pairs = r["outcomes"].as_array().unwrap();
    let judged = |f: &str, v: &str| pairs.iter().any(|o| o["file"] == f && o["validator"] == v);
    assert!(!judged("big.png", "secrets") && !judged("big.png", "merge-conflict"), "{}", r["summary"]);
    assert!(judged("small.png", "secrets") && judged("big.png", "large-file"), "{}", r["summary"]);
    // The same pairs again (from the cache: a skipped outcome keeps the
    // answer from being remembered whole).
    for _ in 0..2 {
        let (code, again) = check_json(&env, &[]);
        let files = |r: &Value| {
            r["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| (o["file"].to_string(), o["validator"].to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!((code, files(&again)), (3, files(&r)), "{}", again["summary"]);
    }
}

/// Which attributes files count does not depend on the path checked: one
/// the walk does not list (a link, which git does not follow either; one an
/// ignore rule matches) counts for no check, while one beside a file git
/// tracks in an ignored directory counts for every check, as git reads it.
/// And a file that only sets `text` still undoes another's `-text`.
#[test]
fn git_attributes_are_the_same_whatever_path_is_checked() {
    let env = Env::new();
    std::fs::remove_dir_all(env.project.join(".git")).unwrap();
    git(&env, &["init", "-q"]);
    env.write(".gitignore", "ign/.gitattributes\nbuild/\ntrk/.gitattributes\ntrk/.editorconfig\n");
    env.write(".gitattributes", "*.y -diff -text\n");
    for dir in ["sub", "ign", "build", "text", "trk"] {
        env.write(&format!("{dir}/a.x"), "x  \n");
    }
    env.write("realga", "a.x binary\n");
    std::os::unix::fs::symlink("../realga", env.project.join("sub/.gitattributes")).unwrap();
    env.write("ign/.gitattributes", "a.x binary\n");
    env.write("build/.gitattributes", "a.x binary\n");
    env.write("text/a.y", "y  \n");
    env.write("text/.gitattributes", "a.y text\n");
    env.write("build/sub/b.x", "x  \n");
    // Ignored, but tracked: git reads it, and so does every check.
    env.write("trk/.gitattributes", "a.x binary\n");
    env.write("trk/.editorconfig", "[b.txt]\ninsert_final_newline = false\n");
    env.write("trk/b.txt", "no newline");
    git(&env, &["add", "-f", "build/a.x", "build/sub/b.x", "trk/.gitattributes", "trk/.editorconfig"]);
    // Binary: the text checks have no pair with it (and it has others).
    let binary = |r: &Value, file: &str| {
        let pairs: Vec<&Value> = r["outcomes"].as_array().unwrap().iter().filter(|o| o["file"] == file).collect();
        assert!(!pairs.is_empty(), "{file} was not checked: {}", r["summary"]);
        !pairs.iter().any(|o| o["validator"] == "trailing-whitespace")
    };
    let files = ["sub/a.x", "ign/a.x", "build/a.x", "text/a.y", "trk/a.x"];
    let whole = check_json(&env, &[]).1;
    let seen: Vec<bool> = files.iter().map(|f| binary(&whole, f)).collect();
    assert_eq!(seen, [false, false, true, false, true], "{}", whole["summary"]);
    for path in [&[][..], &["trk"], &["trk/b.txt"]] {
        let r = check_json(&env, &[&["--no-cache"], path].concat()).1;
        assert_eq!(status_of(&r, "trk/b.txt", "final-newline"), "passed", "{path:?}: {}", r["summary"]);
    }
    for (file, expected) in files.iter().zip(seen) {
        let dir = &file[..file.find('/').unwrap()];
        for path in [*file, dir] {
            let r = check_json(&env, &["--no-cache", path]).1;
            assert_eq!(binary(&r, file), expected, "{file}, checked as {path}: {}", r["summary"]);
        }
    }
    // In a directory whose name is not UTF-8, likewise.
    use std::os::unix::ffi::OsStrExt;
    let odd = std::ffi::OsStr::from_bytes(b"d\xff");
    std::fs::create_dir(env.project.join(odd)).unwrap();
    std::fs::write(env.project.join(odd).join(".gitattributes"), "*.x binary\n").unwrap();
    std::fs::write(env.project.join(odd).join("a.x"), "x  \n").unwrap();
    let (whole, named) = (check_json(&env, &["--no-cache"]).1, {
        let out =
            env.cmd().args(["check", "--no-cache", "--format", "json"]).arg(env.project.join(odd).join("a.x")).output();
        serde_json::from_slice::<Value>(&out.unwrap().stdout).unwrap()
    });
    let count = |r: &Value| r["summary"]["binary_files"].as_u64().unwrap();
    assert_eq!((count(&whole), count(&named)), (3, 1), "build/a.x, trk/a.x and d\\xff/a.x; then d\\xff/a.x");
    // A `.gitattributes` made later beside a tracked file in an ignored
    // directory rules it at the next check, warm or not.
    assert!((0..3).any(|_| check_json(&env, &[]).1["summary"]["unchanged"] == true), "never answered unchanged");
    assert!(!binary(&check_json(&env, &[]).1, "build/sub/b.x"));
    env.write("build/sub/.gitattributes", "b.x binary\n");
    let r = check_json(&env, &[]).1;
    assert!(binary(&r, "build/sub/b.x"), "{}", r["summary"]);
}

#[test]
fn check_exclude_takes_files_out_as_if_the_walk_had_not_found_them() {
    let env = Env::new();
    env.write("verdict.toml", "[check]\nexclude = [\"gen/**\"]\n");
    env.write("a.txt", "fine\n");
    env.write("gen/out.txt", "generated \n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 0, "the excluded file's trailing blank is not reported: {}", r["summary"]);
    assert_eq!(r["summary"]["files"], 2, "a.txt and verdict.toml: {}", r["summary"]);
    assert!(r["outcomes"].as_array().unwrap().iter().all(|o| o["file"] != "gen/out.txt"));
    // The same count when only the edited directory is walked again (once
    // a check has been answered from the previous run's answer).
    let unchanged = (0..3).any(|_| check_json(&env, &[]).1["summary"]["unchanged"] == true);
    assert!(unchanged, "an unchanged tree was never answered from the previous run");
    env.write("a.txt", "edited\n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 0, "{}", r["summary"]);
    assert_eq!(r["summary"]["incremental"], true, "{}", r["summary"]);
    assert_eq!(r["summary"]["files"], 2, "{}", r["summary"]);
    // Named on its own, an excluded file is still not checked, and the
    // report says why rather than nothing.
    let (code, r) = check_json(&env, &["gen/out.txt", "a.txt"]);
    assert_eq!(code, 0, "{}", r["summary"]);
    assert_eq!(r["summary"]["excluded_named"], json!(["gen/out.txt"]), "{}", r["summary"]);
    let out = env.run(&["check", "gen/out.txt"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("note: gen/out.txt is excluded by check.exclude, so it was not checked"), "{err}");
    assert!(check_json(&env, &["a.txt"]).1["summary"].get("excluded_named").is_none());
    // A directory all of which is excluded, likewise, and one below it.
    let (_, r) = check_json(&env, &["gen/"]);
    assert_eq!(r["summary"]["excluded_named"], json!(["gen"]), "{}", r["summary"]);
    env.write("gen/deep/more.txt", "generated \n");
    let (code, r) = check_json(&env, &["gen/deep"]);
    assert_eq!((code, &r["summary"]["excluded_named"]), (0, &json!(["gen/deep"])), "{}", r["summary"]);
    // A name that is not UTF-8 is written exactly, as the report writes file
    // names (an audit saw `"ex/\u{fffd}"` for two of them).
    use std::os::unix::ffi::OsStrExt;
    let odd = std::ffi::OsStr::from_bytes(b"gen/\xff.txt");
    std::fs::write(env.project.join(odd), "x\n").unwrap();
    let out = env.cmd().args(["check", "--format", "json"]).arg(odd).output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["summary"]["excluded_named"], json!([r#""gen/\xFF.txt""#]), "{}", r["summary"]);
    let out = env.cmd().arg("check").arg(odd).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(r#"note: "gen/\xFF.txt" is excluded by check.exclude"#), "{err}");
}

/// A file named with a validator named whose `exclude` takes it out gets a
/// note naming the pattern, not silence; a file its `files` do not take,
/// or a check that names no validator, gets none (a hook's list of files).
#[test]
fn a_named_file_a_named_validator_excludes_is_said_so() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        "[validators.lint]\nkind = \"command\"\nfiles = [\"*.txt\"]\nexclude = [\"legacy/\"]\ncommand = [\"true\"]\n",
    );
    env.write("testdata/in.txt", "kept as is \n");
    env.write("legacy/old.txt", "old\n");
    env.write("a.txt", "fine\n");
    let notes = |args: &[&str]| {
        let (code, r) = check_json(&env, args);
        (
            code,
            r["summary"]["notes"]
                .as_array()
                .map(|n| n.iter().map(|n| n.as_str().unwrap().to_owned()).collect::<Vec<_>>())
                .unwrap_or_default(),
        )
    };
    let (code, said) = notes(&[
        "--validator",
        "trailing-whitespace",
        "--validator",
        "lint",
        "--validator",
        "json",
        "testdata/in.txt",
        "legacy/old.txt",
        "a.txt",
    ]);
    assert_eq!(code, 0, "{said:?}");
    assert_eq!(
        said,
        [
            "legacy/old.txt is not checked by lint: its exclude has \"legacy/\"",
            "testdata/in.txt is not checked by trailing-whitespace: its default exclude has \"testdata/\" \
             (`verdict config show trailing-whitespace` prints the list, to set in its table)",
        ]
    );
    // The human report says it on stderr; answered from the previous run's
    // answer, too.
    let out = env.run(&["check", "--validator", "trailing-whitespace", "testdata/in.txt"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            && err.contains(
                "note: testdata/in.txt is not checked by trailing-whitespace: its default exclude has \"testdata/\""
            ),
        "{err}"
    );
    // Without a validator named, or a directory named: nothing to say.
    assert_eq!(notes(&["testdata/in.txt", "legacy/old.txt"]).1, Vec::<String>::new());
    assert_eq!(notes(&["--validator", "lint", "legacy"]).1, Vec::<String>::new());
    // Many: ten said, then how many more.
    for i in 0..12 {
        env.write(&format!("legacy/f{i}.txt"), "x\n");
    }
    let mut args = vec!["--validator", "lint"];
    let names: Vec<String> = (0..12).map(|i| format!("legacy/f{i}.txt")).collect();
    args.extend(names.iter().map(String::as_str));
    let said = notes(&args).1;
    assert_eq!(
        (said.len(), said[10].as_str()),
        (11, "and 2 more (a file named that a validator named excludes)"),
        "{said:?}"
    );
}

/// An excluded directory is not entered: not listed, not watched. A build
/// tree under `exclude = ["target"]` costs no inotify watches, and a write
/// in it does not make the next check walk the tree again. A name excluded
/// as a file (`x`) does not pass for a directory holding one.
#[test]
fn an_excluded_directory_is_neither_walked_nor_watched() {
    let env = Env::new();
    env.write("verdict.toml", "[check]\nexclude = [\"target\", \"x\", \"out/*\"]\n");
    env.write("a.txt", "fine\n");
    for i in 0..40 {
        env.write(&format!("target/d{i}/out.txt"), "built \n");
    }
    env.write("sub/x", "a file named x \n");
    env.write("out/deep/o.txt", "out \n");
    env.write("sub/y.txt", "y \n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "sub/y.txt has a trailing blank: {}", r["summary"]);
    assert!(r["outcomes"].as_array().unwrap().iter().all(|o| !o["file"].as_str().unwrap().starts_with("target/")));
    let watches = inotify_watches(&env);
    assert!(watches < 10, "{watches} watches: the excluded directories were watched");
    assert!((0..3).any(|_| check_json(&env, &[]).1["summary"]["unchanged"] == true), "never answered unchanged");
    env.write("target/d3/out.txt", "rebuilt \n");
    let (_, r) = check_json(&env, &[]);
    assert_eq!(r["summary"]["unchanged"], true, "a write in an excluded directory is no change: {}", r["summary"]);
    // `sub` holds a file named `x`, excluded; `sub` itself is not.
    let (_, r) = check_json(&env, &["sub"]);
    assert!(r["summary"].get("excluded_named").is_none(), "{}", r["summary"]);
    assert_eq!(status_of(&r, "sub/y.txt", "trailing-whitespace"), "cached");
    // `out/*` takes out all of `out`; named, it is said so and not walked,
    // as a named excluded file is not.
    let before = inotify_watches(&env);
    for named in ["out", "target/d5", "target/d7/out.txt"] {
        let (code, r) = check_json(&env, &[named]);
        assert_eq!((code, &r["summary"]["excluded_named"]), (0, &json!([named])), "{}", r["summary"]);
        assert_eq!(r["summary"]["files"], 0, "{}", r["summary"]);
    }
    assert_eq!(inotify_watches(&env), before, "a named excluded path's directories were watched");
}

/// The daemon's inotify watches, from its inotify descriptor's `fdinfo`.
fn inotify_watches(env: &Env) -> usize {
    let pid = std::fs::read_to_string(env.pid_file()).unwrap();
    let pid = pid.trim();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap();
    let inotify = fds
        .flatten()
        .find(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy().contains("inotify")))
        .expect("the daemon holds an inotify descriptor");
    let info =
        std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", inotify.file_name().to_string_lossy())).unwrap();
    info.lines().filter(|l| l.starts_with("inotify wd:")).count()
}

/// A tool without a `version` command reached through a link: pointed at
/// another tool, it is another program (its identity is the link's
/// target), so neither the old tool's cached passes are given for it nor
/// its findings stored under the old tool's identity.
#[test]
fn a_tool_link_pointed_at_another_tool_is_another_program() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    for (name, body) in [("v1.sh", "exit 0\n"), ("v2.sh", "echo \"v2 rejects $1\" >&2; exit 1\n")] {
        let tool = env.write(&format!("tools/{name}"), format!("#!/bin/sh\n{body}"));
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let link = env.project.join("tools/lint");
    let point = |to: &str| {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(to, &link).unwrap();
    };
    point("v1.sh");
    env.write(
        "verdict.toml",
        "builtins = false\n[validators.t]\nkind = \"command\"\nfiles = [\"*.txt\"]\ncommand = [\"tools/lint\"]\n",
    );
    env.write("a.txt", "hello\n");
    let status = |r: &Value| outcome(r, "a.txt", "t")["status"].as_str().unwrap().to_owned();
    assert_eq!(check_json(&env, &[]).0, 0);
    point("v2.sh");
    let (code, r) = check_json(&env, &[]);
    assert_eq!((code, status(&r)), (1, "findings".to_owned()), "{}", r["summary"]);
    // Back: v1's own verdict, from the cache, not v2's.
    env.write("b.txt", "hello2\n");
    assert_eq!(check_json(&env, &[]).0, 1);
    point("v1.sh");
    env.run_ok(&["stop"], 0);
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 0, "{}", r["outcomes"]);
}

/// A project's only validator, `t`, over `*.txt` (with an `a.txt`), a tool
/// that counts its runs in a file.
struct CountedTool {
    counter: std::path::PathBuf,
}

impl CountedTool {
    fn in_project(env: &Env) -> CountedTool {
        let tool = CountedTool { counter: env.tmp.path().join("count") };
        env.write("verdict.toml", tool.config(""));
        env.write("a.txt", "a\n");
        tool
    }

    /// Its `verdict.toml`, with `extra` (whole lines) in its table.
    fn config(&self, extra: &str) -> String {
        format!(
            "builtins = false\n[validators.t]\nkind = \"command\"\nfiles = [\"*.txt\"]\n{extra}\
             command = [\"sh\", \"-c\", \"echo x >> '{}'\", \"sh\"]\n",
            self.counter.display()
        )
    }

    fn runs(&self) -> usize {
        std::fs::read_to_string(&self.counter).map_or(0, |s| s.lines().count())
    }
}

/// A `cache_ttl` lowered by a reload applies to the results already cached
/// (an entry's own expiry is set when it is written: before, results written
/// under the 24 h default were served for a day after `cache_ttl = "1s"`).
#[test]
fn a_lowered_cache_ttl_applies_to_results_already_cached() {
    let env = Env::new();
    let tool = CountedTool::in_project(&env);
    let runs = || tool.runs();
    assert_eq!(check_json(&env, &[]).0, 0);
    assert_eq!(check_json(&env, &[]).0, 0);
    assert_eq!(runs(), 1, "the second check was answered from the cache");
    env.write("verdict.toml", tool.config("cache_ttl = \"1s\"\n"));
    // The entry is 1 s old within two seconds (the store counts whole
    // seconds); it must not be served for the 24 h it was written with.
    // (Wall-clock seconds of another process: paused time cannot stand in.)
    let waited = Instant::now();
    while runs() < 2 && waited.elapsed() < Duration::from_secs(6) {
        assert_eq!(check_json(&env, &[]).0, 0);
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(runs(), 2, "the result written under the old TTL was still served");
}

/// The answer a check remembers after a TTL was lowered is good only
/// until its oldest result reaches the new TTL, not for the new TTL from
/// when it was remembered (the review of the first fix saw it given
/// `unchanged` seconds past that). Result written at T0 under the 24 h
/// default; `cache_ttl = "3s"` at T0 + 2.5 s: due again at T0 + 4 s at the
/// latest, and remembered it would have lasted to T0 + 6.5 s.
/// (Wall-clock seconds of another process: paused time cannot stand in.)
#[test]
fn an_answer_remembered_under_a_lowered_ttl_expires_with_its_oldest_result() {
    let env = Env::new();
    let tool = CountedTool::in_project(&env);
    env.start();
    let runs = || tool.runs();
    let written = Instant::now();
    assert_eq!(check_json(&env, &[]).0, 0);
    assert_eq!(runs(), 1);
    while written.elapsed() < Duration::from_millis(2500) {
        std::thread::sleep(Duration::from_millis(50));
    }
    env.write("verdict.toml", tool.config("cache_ttl = \"3s\"\n"));
    // Within the new TTL: from the cache, and remembered.
    assert_eq!(check_json(&env, &[]).0, 0);
    assert_eq!(runs(), 1, "a result 2.5 s old is within a 3 s TTL");
    while runs() < 2 && written.elapsed() < Duration::from_secs(8) {
        assert_eq!(check_json(&env, &[]).0, 0);
        std::thread::sleep(Duration::from_millis(200));
    }
    let due = written.elapsed();
    assert_eq!(runs(), 2);
    assert!(due < Duration::from_millis(5500), "the remembered answer outlived the result's TTL: {due:?}");
}

#[test]
fn a_tool_upgraded_under_a_running_daemon_is_run_again() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let counter = env.tmp.path().join("count");
    let install = |version: &str| {
        // As a package manager does: a new file renamed over the old one.
        let new = env.write("tools/tool.new", format!("#!/bin/sh\n# {version}\necho x >> {}\n", counter.display()));
        std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&new, env.project.join("tools/tool")).unwrap();
    };
    install("1.0");
    env.write(
        "verdict.toml",
        r#"
builtins = false
[validators.tool]
kind = "command"
command = ["./tools/tool"]
version = ["sh", "-c", "sed -n 2p tools/tool"]
mode = "per_file"
parser = "exit_code"
files = ["*.txt"]
"#,
    );
    env.write("a.txt", "a\n");
    let runs = || std::fs::read_to_string(&counter).map_or(0, |s| s.lines().count());
    assert_eq!(check_json(&env, &[]).0, 0);
    assert_eq!(check_json(&env, &[]).0, 0);
    assert_eq!(runs(), 1, "the second check was answered from the cache");
    install("2.0");
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 0, "{}", r["summary"]);
    assert_eq!(runs(), 2, "the upgraded tool ran again: {}", r["summary"]);
    assert_eq!(env.json(&["status"])["validators"][0]["not_cached"], Value::Null);
    // A version command that fails: nothing is cached, and `status` says why.
    env.write(
        "verdict.toml",
        std::fs::read_to_string(env.project.join("verdict.toml")).unwrap().replace("sed -n 2p", "exit 3; "),
    );
    check_json(&env, &[]);
    check_json(&env, &[]);
    assert_eq!(runs(), 4, "run at every check");
    let status = env.json(&["status"]);
    let why = status["validators"][0]["not_cached"].as_str().unwrap_or_default();
    assert!(why.starts_with("its version command failed (") && why.contains("status 3"), "{status}");
    let text = env.run_ok(&["status"], 0);
    assert!(text.contains("results not cached: its version command failed"), "{text}");
}

/// A tool is the program a run finds: one installed earlier on `PATH`
/// is another tool (without a version command too), whose verdicts are
/// not the old one's and do not replace them; and two projects sharing a
/// cache directory do not share the verdicts of their own `tools/lint`.
#[test]
fn a_tool_found_elsewhere_is_another_tool() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let (early, late) = (env.tmp.path().join("early"), env.tmp.path().join("late"));
    let install = |dir: &std::path::Path, says: &str| {
        std::fs::create_dir_all(dir).unwrap();
        let tool = dir.join("mylint");
        std::fs::write(&tool, format!("#!/bin/sh\necho \"$1:1: {says}\"\n")).unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let config = |command: &str| {
        format!(
            "builtins = false\n[validators.lint]\nkind = \"command\"\ncommand = [\"{command}\"]\nmode = \"per_file\"\n\
             parser = \"regex\"\npattern = '^(?P<file>[^:]+):(?P<line>\\d+): (?P<message>.*)$'\nfiles = [\"*.txt\"]\n"
        )
    };
    env.write("verdict.toml", config("mylint"));
    env.write("a.txt", "a\n");
    install(&late, "old");
    let path = format!("{}:{}:{}", early.display(), late.display(), std::env::var("PATH").unwrap());
    let check = |extra: &[&str]| {
        let out = env.cmd().env("PATH", &path).args(["check", "--format", "json"]).args(extra).output().unwrap();
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        let o = outcome(&r, "a.txt", "lint").clone();
        let said = o["findings"][0]["message"].as_str().or(o["verdict"]["findings"][0]["message"].as_str());
        (said.unwrap_or_default().to_string(), o["status"].as_str().unwrap().to_string())
    };
    assert_eq!(check(&[]), ("old".into(), "findings".into()));
    assert_eq!(check(&[]), ("old".into(), "cached".into()));
    install(&early, "new");
    assert_eq!(check(&[]), ("new".into(), "findings".into()), "the tool first on PATH runs");
    std::fs::remove_dir_all(&early).unwrap();
    // The old one's verdict is still its own.
    assert_eq!(check(&[]), ("old".into(), "cached".into()));
    env.run_ok(&["stop"], 0);

    // Two projects, one cache directory, each its own tools/lint.
    let shared = env.tmp.path().join("shared-cache");
    let shared = shared.to_str().unwrap();
    let other = env.tmp.path().join("other");
    std::fs::create_dir_all(other.join(".git")).unwrap();
    for (project, says) in [(&env.project, "mine"), (&other, "theirs")] {
        install(&project.join("tools"), says);
        std::fs::write(project.join("verdict.toml"), config("tools/mylint")).unwrap();
        std::fs::write(project.join("a.txt"), "a\n").unwrap();
    }
    for (project, says) in [(&env.project, "mine"), (&other, "theirs")] {
        let out = env
            .cmd()
            .current_dir(project)
            .args(["check", "--format", "json", "--data-dir", shared, "a.txt"])
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        let o = outcome(&r, "a.txt", "lint");
        assert_eq!((o["status"].as_str(), o["findings"][0]["message"].as_str()), (Some("findings"), Some(says)), "{r}");
        env.cmd().current_dir(project).arg("stop").output().unwrap();
    }
}

#[test]
fn a_job_whose_validator_is_still_restarting_at_its_deadline_is_skipped_not_timed_out() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        r#"
builtins = false
[validators.hang]
kind = "command"
command = ["sh", "-c", "sleep 61", "hang"]
mode = "per_file"
parser = "exit_code"
files = ["*.txt"]
timeout = "1s"
concurrency = 1
restart = { max_restarts = 5, backoff = "30s", backoff_max = "60s" }
"#,
    );
    env.write("f1.txt", "1\n");
    env.write("f2.txt", "2\n");
    // First run: f1 times out and the child restarts at once; second run: it
    // times out again and the next restart waits out a backoff of 24-36 s,
    // which the third run falls within however slow the machine.
    let statuses = |r: &Value| {
        let mut v = vec![status_of(r, "f1.txt", "hang"), status_of(r, "f2.txt", "hang")];
        v.sort();
        v
    };
    for _ in 0..2 {
        let (code, r) = check_json(&env, &[]);
        assert_eq!(code, 3, "{}", r["summary"]);
        assert_eq!(statuses(&r), ["skipped", "timed_out"], "one times out, the other is skipped");
    }
    // Third run, within the backoff: nothing ran, so nothing timed out.
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 3, "{}", r["summary"]);
    assert_eq!(statuses(&r), ["skipped", "skipped"]);
    let reasons = [outcome(&r, "f1.txt", "hang"), outcome(&r, "f2.txt", "hang")].map(|o| o["reason"].to_string());
    assert!(reasons.iter().all(|w| w.contains("still restarting")), "{reasons:?}");
    // Measured by the daemon: it did not wait for the child.
    let took = r["summary"]["duration_ms"].as_u64().unwrap();
    assert!(took < 4000, "the run ended within its timeout: {took} ms");
}

/// A file the walk lists but cannot `stat` (its directory may be read but
/// not searched) is an error outcome in a cold run and in a warm one alike:
/// the warm run's walk, which `stat`s every file for the stat index, keeps
/// it too. Root may stat anything, so as root verdict runs as `nobody`
/// (through util-linux's `setpriv`).
#[test]
fn a_file_the_walk_cannot_stat_is_an_error_cold_and_warm_alike() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.write("verdict.toml", "[check]\nwatch = false\n");
    env.write("a.txt", "ok\n");
    env.write("locked/f.txt", "hi\n");
    let set_mode =
        |p: &std::path::Path, mode: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    let as_root = nix::unistd::geteuid().is_root();
    // `nobody`'s runtime directory is its own (verdict takes no other's
    // XDG_RUNTIME_DIR): in the test's directory, whose removal at the end
    // stops the daemon.
    let runtime = env.tmp.path().join("run-nobody");
    let client = if as_root {
        let client = crate::support::another_build(&env, "for-nobody");
        // Sticky, as `/tmp` is: a directory above a project that anyone
        // may rename entries in is refused.
        for dir in [env.tmp.path(), client.parent().unwrap()] {
            set_mode(dir, 0o1777);
        }
        std::fs::create_dir(&runtime).unwrap();
        set_mode(&runtime, 0o700);
        std::os::unix::fs::chown(&runtime, Some(65534), Some(65534)).unwrap();
        client
    } else {
        std::fs::create_dir(&runtime).unwrap();
        crate::support::bin()
    };
    // Readable (its names are listed), not searchable (they cannot be
    // `stat`ed or opened).
    let locked = env.project.join("locked");
    set_mode(&locked, if as_root { 0o744 } else { 0o644 });
    // Statable, not readable: `large-file` needs only its size.
    env.write("unreadable.txt", "hidden\n");
    set_mode(&env.project.join("unreadable.txt"), 0o000);
    let run = || -> Value {
        let mut cmd = if as_root {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--"]).arg(&client);
            c
        } else {
            std::process::Command::new(&client)
        };
        cmd.args(["check", "--format", "json", "."])
            .current_dir(&env.project)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("XDG_STATE_HOME", &env.state)
            .env("XDG_CACHE_HOME", &env.cache);
        let out = crate::support::output_of_fresh_copy(&mut cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("setpriv:"), "setpriv (Debian: apt-get install util-linux) failed: {stderr}");
        assert_eq!(out.status.code(), Some(3), "incomplete: {stderr}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let cold = run();
    let warm = run();
    set_mode(&locked, 0o755);
    for (which, report) in [("cold", &cold), ("warm", &warm)] {
        let locked: Vec<&Value> =
            report["outcomes"].as_array().unwrap().iter().filter(|o| o["file"] == "locked/f.txt").collect();
        assert!(!locked.is_empty(), "{which}: the file is kept: {report}");
        for o in locked {
            assert_eq!(o["outcome"]["status"], "error", "{which}: {o}");
            assert!(o["outcome"]["reason"].as_str().unwrap().contains("Permission denied"), "{which}: {o}");
        }
        assert_eq!(status_of(report, "a.txt", "utf8"), if which == "cold" { "passed" } else { "cached" });
        assert_eq!(status_of(report, "unreadable.txt", "large-file"), "passed", "{which}");
        let o = outcome(report, "unreadable.txt", "utf8");
        assert_eq!(o["status"], "error", "{which}: {o}");
        assert!(o["reason"].as_str().unwrap().contains("Permission denied"), "{which}: {o}");
    }
    assert_eq!(cold["summary"]["pairs"], warm["summary"]["pairs"]);
}

/// How a test ends a running tool.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Ctrl-C in the client.
    CtrlC,
    /// The job's deadline.
    Timeout,
    /// `verdict stop` while the check runs.
    Stop,
    /// `verdict stop` right after the job's deadline, during its grace.
    StopInGrace,
}

/// A tool with two processes outside its process group, both ignoring
/// SIGTERM: a child in a session of its own (`setsid`) and a daemon it
/// started by a double fork (whose parent is gone, so only the run's mark
/// leads to it). verdict ends the tool while it runs: both die with it,
/// however the end comes. A timeout gives the tool SIGTERM and a grace
/// period first: its TERM trap starts one more such process and exits at
/// once, and that one dies too. The daemon stopping during the grace still
/// kills them, which nothing but the terminating job knows of any more.
#[test]
fn a_running_tools_processes_outside_its_group_die_with_the_tool() {
    for ending in [Ending::CtrlC, Ending::Timeout, Ending::Stop, Ending::StopInGrace] {
        let env = Env::new();
        let file = |name: &str| env.tmp.path().join(name);
        let (pids, daemon, late, term) = (file("pids"), file("daemon"), file("late"), file("term"));
        env.write(
            "tools/escape.sh",
            format!(
                "#!/bin/sh\n\
                 trap 'trap \"\" TERM HUP; setsid sh -c \"echo \\$\\$ > {late}; exec sleep 1000\" &\n\
                 while [ ! -e {late} ]; do sleep 0.01; done; echo TERM >> {term}; exit 0' TERM\n\
                 setsid sh -c \"trap '' TERM HUP; exec sleep 1000\" &\necho $! >> {pids}\n\
                 (setsid sh -c \"trap '' TERM HUP; echo \\$\\$ > {daemon}.tmp; mv {daemon}.tmp {daemon}; exec sleep 1000\" &)\n\
                 while [ ! -e {daemon} ]; do sleep 0.01; done\n\
                 echo $$ >> {pids}\nsleep 1000 &\nwait\n",
                term = term.display(),
                pids = pids.display(),
                daemon = daemon.display(),
                late = late.display(),
            ),
        );
        let timed_out = matches!(ending, Ending::Timeout | Ending::StopInGrace);
        // Time for the tool to start its processes before its timeout, and
        // for its TERM trap to start one more before the SIGKILL.
        let timeout = if timed_out { "3s" } else { "10m" };
        env.write(
            "verdict.toml",
            format!(
                "builtins = false\n[daemon]\ngrace_period = \"200ms\"\n[validators.escape]\nkind = \"command\"\n\
                 command = [\"sh\", \"tools/escape.sh\"]\nmode = \"per_file\"\nparser = \"exit_code\"\n\
                 files = [\"*.txt\"]\ntimeout = \"{timeout}\"\nkill_after = \"3s\"\n"
            ),
        );
        env.write("a.txt", "x\n");
        env.start();
        let client = env.cmd().args(["check", "--format", "json", "."]).stdout(Stdio::piped()).spawn().unwrap();
        let read = |path: &std::path::Path| -> Vec<i32> {
            std::fs::read_to_string(path).unwrap_or_default().split_whitespace().map(|p| p.parse().unwrap()).collect()
        };
        wait_until(Duration::from_secs(10), "the tool to start its child", || read(&pids).len() == 2);
        let (escapee, tool, daemon) = (read(&pids)[0], read(&pids)[1], read(&daemon)[0]);
        let pgid = |pid: i32| nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pid))).ok();
        wait_until(Duration::from_secs(10), "the child to leave the tool's group", || {
            pgid(escapee).is_some_and(|g| Some(g) != pgid(tool))
        });
        match ending {
            Ending::CtrlC => {
                let pid = nix::unistd::Pid::from_raw(client.id() as i32);
                nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
                assert_eq!(client.wait_with_output().unwrap().status.code(), Some(2), "{ending:?}");
            }
            Ending::Timeout => {
                let out = client.wait_with_output().unwrap();
                let report: Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(status_of(&report, "a.txt", "escape"), "timed_out", "{report}");
            }
            Ending::Stop => {
                env.run_ok(&["stop"], 0);
                client.wait_with_output().unwrap();
            }
            Ending::StopInGrace => {
                let out = client.wait_with_output().unwrap();
                // The tool obeyed SIGTERM; the processes it left, which
                // ignore it, have the rest of the grace to go.
                wait_for_text(&term, "TERM");
                env.run_ok(&["stop"], 0);
                let report: Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(status_of(&report, "a.txt", "escape"), "timed_out", "{report}");
            }
        }
        let mut outside = vec![("its setsid child", escapee), ("its daemon", daemon)];
        if timed_out {
            wait_until(Duration::from_secs(5), "the TERM trap's process", || read(&late).len() == 1);
            outside.push(("its TERM trap's process", read(&late)[0]));
        }
        wait_until(Duration::from_secs(5), &format!("the tool to die ({ending:?})"), || !alive(tool as u32));
        let lived: Vec<&str> = (outside.iter())
            .filter(|&&(_, pid)| {
                // Past the 3 s grace, with room for a loaded machine.
                let gone = (0..1000).any(|_| {
                    std::thread::sleep(Duration::from_millis(10));
                    !alive(pid as u32)
                });
                if !gone {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                }
                !gone
            })
            .map(|&(what, _)| what)
            .collect();
        assert_eq!(lived, Vec::<&str>::new(), "outlived the tool ({ending:?})");
        if timed_out {
            let trapped = std::fs::read_to_string(&term).unwrap_or_default();
            assert_eq!(trapped.trim(), "TERM", "a timed-out tool gets SIGTERM and a grace period before SIGKILL");
        }
    }
}

/// A timed-out tool in its grace still holds its validator's concurrency
/// slot: with `concurrency = 1`, the next check's job for that validator
/// starts only once the timed-out tool (which ignores SIGTERM) is dead,
/// though the validator's new child is up long before. The timed-out run's
/// own jobs waiting for that slot are skipped at once, not after the grace.
#[test]
fn a_timed_out_job_keeps_its_concurrency_slot_through_its_grace() {
    let env = Env::new();
    let hung = env.tmp.path().join("hung");
    let log = env.tmp.path().join("log");
    env.write(
        "tools/t.sh",
        format!(
            "#!/bin/sh\ncase \"$1\" in\n\
             a.txt|c.txt) trap '' TERM; echo $$ > {hung}.tmp; mv {hung}.tmp {hung}; exec sleep 1000;;\n\
             *) state=$(cut -d' ' -f3 /proc/$(cat {hung})/stat 2>/dev/null); echo \"${{state:-gone}}\" >> {log};;\n\
             esac\n",
            hung = hung.display(),
            log = log.display()
        ),
    );
    env.write(
        "verdict.toml",
        "builtins = false\n[validators.t]\nkind = \"command\"\ncommand = [\"sh\", \"tools/t.sh\"]\n\
         mode = \"per_file\"\nfiles = [\"*.txt\"]\ntimeout = \"1s\"\nkill_after = \"4s\"\nconcurrency = 1\n\
         restart = { backoff = \"10ms\", backoff_max = \"10ms\" }\n",
    );
    for name in ["a.txt", "b.txt", "c.txt"] {
        env.write(name, "x\n");
    }
    env.start();
    let (code, report) = check_json(&env, &["a.txt", "c.txt"]);
    // One of the two timed out; the other was skipped while the first's
    // tool still had its grace to go: the run, timed by the daemon, ended
    // well before the timeout (1 s) and the grace (4 s) were over.
    let took = report["summary"]["duration_ms"].as_u64().unwrap();
    let mut statuses = [status_of(&report, "a.txt", "t"), status_of(&report, "c.txt", "t")];
    statuses.sort();
    assert_eq!((code, statuses), (3, ["skipped".to_owned(), "timed_out".to_owned()]), "{report}");
    assert!(took < 4000, "the run waited for the timed-out tool's grace before skipping its other job: {took} ms");
    // Within that grace.
    let (code, report) = check_json(&env, &["b.txt"]);
    assert_eq!((code, status_of(&report, "b.txt", "t")), (0, "passed".to_owned()), "{report}");
    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(matches!(seen.trim(), "gone" | "Z"), "b's tool ran while the timed-out one lived (its state: {seen:?})");
}

/// A reload that changes a validator whose timed-out tool is in its
/// `kill_after` grace leaves it that grace: a reload is no reason to cut a
/// tool's clean-up short.
#[test]
fn a_reload_leaves_a_timed_out_tool_its_grace() {
    let env = Env::new();
    let log = env.tmp.path().join("log");
    env.write(
        "tools/slow.sh",
        format!(
            "#!/bin/sh\ntrap 'echo TERM >> {log}; sleep 2; echo CLEANED >> {log}; exit 0' TERM\n\
             echo started >> {log}\nsleep 100 &\nwait\n",
            log = log.display()
        ),
    );
    let config = |kill_after: &str| {
        format!(
            "builtins = false\n[validators.slow]\nkind = \"command\"\ncommand = [\"sh\", \"tools/slow.sh\"]\n\
             files = [\"*.txt\"]\ntimeout = \"1s\"\nkill_after = \"{kill_after}\"\n"
        )
    };
    env.write("verdict.toml", config("8s"));
    env.write("a.txt", "x\n");
    env.start();
    let (code, report) = check_json(&env, &["--no-cache"]);
    assert_eq!((code, status_of(&report, "a.txt", "slow")), (3, "timed_out".to_owned()), "{report}");
    wait_for_text(&log, "TERM");
    env.write("verdict.toml", config("9s"));
    let reload = env.json(&["reload"]);
    assert_eq!(reload["changed"], json!(["slow"]), "{reload}");
    wait_for_text(&log, "CLEANED");
}

/// `concurrency` holds across a reload that changes the validator but not
/// its limit: a job of the old configuration still running counts.
#[test]
fn concurrency_holds_across_a_reload() {
    // The validator changed by a reload, or removed by one and added back
    // by the next, while a check still runs its old configuration's job.
    for removed_and_back in [false, true] {
        let env = Env::new();
        let log = env.tmp.path().join("log");
        env.write(
            "tools/one.sh",
            format!("#!/bin/sh\necho \"start $1\" >> {log}\nsleep 2\necho \"end $1\" >> {log}\n", log = log.display()),
        );
        let config = |timeout: &str, enabled: bool| {
            format!(
                "builtins = false\n[validators.one]\nkind = \"command\"\ncommand = [\"sh\", \"tools/one.sh\"]\n\
                 files = [\"*.txt\"]\ntimeout = \"{timeout}\"\nconcurrency = 1\nenabled = {enabled}\n"
            )
        };
        env.write("verdict.toml", config("30s", true));
        env.write("a.txt", "a\n");
        env.write("b.txt", "b\n");
        env.start();
        let (mut a, mut b) = (env.connect(), env.connect());
        let ia = a.send("check", json!({ "paths": ["a.txt"], "no_cache": true }));
        wait_for_text(&log, "start");
        if removed_and_back {
            env.write("verdict.toml", config("30s", false));
            assert_eq!(env.json(&["reload"])["removed"], json!(["one"]));
            env.write("verdict.toml", config("30s", true));
            assert_eq!(env.json(&["reload"])["added"], json!(["one"]));
        } else {
            env.write("verdict.toml", config("31s", true));
            assert_eq!(env.json(&["reload"])["changed"], json!(["one"]));
        }
        let ib = b.send("check", json!({ "paths": ["b.txt"], "no_cache": true }));
        let (ra, _) = a.reply(ia);
        let (rb, _) = b.reply(ib);
        assert!(ra.get("result").is_some() && rb.get("result").is_some(), "{ra} {rb}");
        let runs = std::fs::read_to_string(&log).unwrap();
        let kinds: Vec<&str> = runs.lines().map(|l| l.split(' ').next().unwrap()).collect();
        assert_eq!(kinds, ["start", "end", "start", "end"], "two jobs at once ({removed_and_back}): {runs}");
    }
}

/// `--fail-on` sets the least severe finding that fails a check; findings
/// below it are still reported, computed or cached.
#[test]
fn fail_on_sets_which_findings_fail_the_check() {
    let env = Env::new();
    env.write("verdict.toml", "builtins = false\n[validators.json]\n");
    // Valid JSON with a number past f64: a warning.
    env.write("big.json", "[1e400]\n");
    for _ in 0..2 {
        // The second round answers from the cache.
        let (code, r) = check_json(&env, &["--fail-on", "error"]);
        assert_eq!(code, 0, "{r}");
        assert_eq!(outcome(&r, "big.json", "json").to_string().matches("\"warning\"").count(), 1, "{r}");
        assert_eq!(check_json(&env, &[]).0, 1);
        assert_eq!(check_json(&env, &["--fail-on", "warning"]).0, 1);
    }
    let out = env.run(&["check", "--fail-on", "error"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("big.json"), "the warning is still shown");
    env.write("bad.json", "[1,]\n");
    assert_eq!(check_json(&env, &["--fail-on", "error"]).0, 1);
    let out = env.run(&["check", "--fail-on", "fatal"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

/// One job's deadline ends that job's tools, SIGTERM first; another job of
/// the same validator, running beside it, is not sent SIGTERM, so its
/// tool's answer to the signal is never taken for a verdict (here, `exit 0`
/// on SIGTERM would have read as `passed`, and been cached).
#[test]
fn a_deadline_terminates_only_its_own_jobs_tools() {
    let env = Env::new();
    env.write(
        "tools/t.sh",
        "#!/bin/sh\ntrap 'exit 0' TERM\ncase \"$1\" in\n  a.txt) echo up > started; sleep 1000 & wait ;;\n  *) sleep 3 & wait; exit 1 ;;\nesac\n",
    );
    env.write(
        "verdict.toml",
        "builtins = false\n[validators.t]\nkind = \"command\"\ncommand = [\"sh\", \"tools/t.sh\"]\nmode = \"per_file\"\n\
         parser = \"exit_code\"\nfiles = [\"*.txt\"]\ntimeout = \"1s\"\nconcurrency = 2\n",
    );
    env.write("a.txt", "a\n");
    env.write("b.txt", "b\n");
    env.start();
    let first = env.cmd().args(["check", "--format", "json", "a.txt"]).stdout(Stdio::piped()).spawn().unwrap();
    wait_until(Duration::from_secs(10), "a.txt's tool to start", || env.project.join("started").exists());
    let (_, second) = check_json(&env, &["b.txt"]);
    let first: Value = serde_json::from_slice(&first.wait_with_output().unwrap().stdout).unwrap();
    assert_eq!(status_of(&first, "a.txt", "t"), "timed_out", "{first}");
    // b.txt's tool was killed with the child (the run says so), ran to its
    // real answer, or met its own deadline first (a loaded machine can start
    // it late enough); it never passes.
    let b = status_of(&second, "b.txt", "t");
    assert!(matches!(b.as_str(), "skipped" | "findings" | "timed_out"), "{second}");
    let (_, again) = check_json(&env, &["b.txt"]);
    assert_ne!(outcome(&again, "b.txt", "t")["verdict"]["status"], "passed", "{again}");
}

/// A batch whose file names are longer, all together, than the kernel lets
/// a program be given is cut into several runs, as xargs does, instead of
/// failing every file with "Argument list too long". The daemon runs with a
/// 512 KiB stack limit, which makes ARG_MAX its 128 KiB floor.
#[test]
fn batches_are_cut_to_what_the_kernel_lets_a_program_be_given() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        r#"
builtins = false
[validators.long]
kind = "command"
command = ["sh", "-c", "echo run >> runs.log; for f; do echo \"$f:seen\"; done; exit 0", "long"]
mode = "batch"
batch_size = 100000
parser = "regex"
pattern = '^(?P<file>[^:]+):(?P<message>.*)$'
files = ["*.txt"]
"#,
    );
    let dir = "d".repeat(100);
    let n = 2000;
    for i in 0..n {
        env.write(&format!("{dir}/{i:0>60}.txt"), "x\n");
    }
    // The daemon this check starts inherits the limit.
    let out = (env.cmd_of(std::path::Path::new("/bin/sh")))
        .args(["-c", "ulimit -s 512 && exec \"$0\" check --format json"])
        .arg(crate::support::bin())
        .output()
        .unwrap();
    let r: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(r["summary"]["outcomes"]["findings"], n, "{}", r["summary"]);
    let runs = std::fs::read_to_string(env.project.join("runs.log")).unwrap().lines().count();
    assert!(runs > 1, "one run: the batch was not cut");
}

/// The summary counts the findings a capped list left out: 150 lines with
/// trailing blanks are 150 findings (100 listed and "… and 50 more"), cold,
/// cached, through the remembered answer of an unchanged tree, and through
/// an updated one (another directory edited) alike.
#[test]
fn the_summary_counts_the_findings_a_capped_list_left_out() {
    let env = Env::new();
    env.write("ws.txt", "x \n".repeat(150));
    env.write("d/other.txt", "a\n");
    for round in ["cold", "warm", "unchanged", "updated"] {
        if round == "updated" {
            env.write("d/other.txt", "b\n");
        }
        let (code, r) = check_json(&env, &["."]);
        assert_eq!(code, 1, "{r}");
        let listed = outcome(&r, "ws.txt", "trailing-whitespace");
        let listed = listed["findings"].as_array().or(listed["verdict"]["findings"].as_array()).unwrap().clone();
        assert_eq!(listed.len(), 101, "{round}");
        assert_eq!(listed[100]["message"], "… and 50 more trailing-whitespace findings not listed", "{round}");
        assert_eq!(r["summary"]["findings"], 150, "{round}: {}", r["summary"]);
        assert_eq!(r["summary"]["unchanged"], (round == "unchanged"), "{round}: {}", r["summary"]);
        assert_eq!(r["summary"]["incremental"], (round == "updated"), "{round}: {}", r["summary"]);
    }
}

/// A check with an outcome that is no verdict (a tool failing on one file)
/// is remembered all the same: the next check looks again at that file's
/// directory only (an update, not a walk of the tree), runs its failed
/// pair again, and answers the rest from the remembered answer; once the
/// failure is gone, the answer is reused whole.
#[test]
fn a_failure_in_one_directory_is_looked_at_again_without_walking_the_tree() {
    let env = Env::new();
    let marks = env.tmp.path().join("runs");
    env.write(
        "verdict.toml",
        format!(
            "[validators.t]\nkind = \"command\"\nfiles = [\"*.txt\"]\nmode = \"per_file\"\nparser = \"exit_code\"\n\
             findings_exit_codes = [1]\n\
             command = [\"sh\", \"-c\", \"echo \\\"$1\\\" >> {}; ! grep -q broken \\\"$1\\\" || exit 7\", \"t\"]\n",
            marks.display()
        ),
    );
    for i in 0..5 {
        env.write(&format!("a/f{i}.txt"), "fine\n");
    }
    env.write("b/bad.txt", "broken\n");
    let runs = || std::fs::read_to_string(&marks).unwrap_or_default().lines().map(str::to_owned).collect::<Vec<_>>();
    // The first check watches the tree as it walks it (and is not
    // remembered: see `WalkWatch::fresh`); the second is.
    for n in [6, 7] {
        let (code, r) = check_json(&env, &["."]);
        assert_eq!(code, 3, "{r}");
        assert_eq!(status_of(&r, "b/bad.txt", "t"), "error");
        assert_eq!(runs().len(), n);
    }
    for round in 1..3 {
        let (code, r) = check_json(&env, &["."]);
        assert_eq!(code, 3, "round {round}: {r}");
        assert_eq!(
            (r["summary"]["incremental"].as_bool(), r["summary"]["unchanged"].as_bool()),
            (Some(true), Some(false))
        );
        assert_eq!(status_of(&r, "b/bad.txt", "t"), "error");
        assert_eq!(status_of(&r, "a/f0.txt", "t"), "cached");
        // Only the failed pair ran again.
        assert_eq!(runs().len(), 7 + round, "{:?}", runs());
        assert_eq!(runs().last().map(String::as_str), Some("b/bad.txt"));
    }
    env.write("b/bad.txt", "mended\n");
    let (code, r) = check_json(&env, &["."]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["summary"]["incremental"], true, "{}", r["summary"]);
    let (code, r) = check_json(&env, &["."]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["summary"]["unchanged"], true, "{}", r["summary"]);
}

/// A failed pair of a file git tracks in a directory an ignore rule takes
/// out whole (found by git's list, not by a walk of its directory) is not
/// looked at again by walking that directory, which would list the
/// untracked files beside it (a fuzzer's find): the tree is walked.
#[test]
fn a_failed_tracked_file_in_an_ignored_directory_does_not_bring_its_neighbours_in() {
    let env = Env::new();
    git(&env, &["init", "-q"]);
    env.write("verdict.toml", "builtins = false\n[validators.missing]\nkind = \"command\"\nfiles = [\"d2/*\"]\ncommand = [\"verdict-no-such-tool\"]\n");
    env.write("d2/tracked.txt", "tracked\n");
    git(&env, &["add", "-A"]);
    git(&env, &["commit", "-qm", "init"]);
    env.write(".gitignore", "d2/\n");
    env.write("d2/untracked.txt", "untracked\n");
    for round in 0..4 {
        let (code, r) = check_json(&env, &["."]);
        assert_eq!(code, 3, "round {round}: {r}");
        let files: Vec<&str> = r["outcomes"].as_array().unwrap().iter().map(|o| o["file"].as_str().unwrap()).collect();
        assert_eq!(files, ["d2/tracked.txt"], "round {round}: {}", r["summary"]);
    }
}

/// A failed pair of a file whose name is not UTF-8 (which an update cannot
/// name a directory by) leaves the answer unremembered: it is never given
/// back unchanged, and the tool runs again (a fuzzer's find).
#[test]
fn a_failed_pair_of_a_file_named_in_no_utf8_is_run_again() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let flag = env.tmp.path().join("broken");
    env.write(
        "verdict.toml",
        format!(
            "builtins = false\n[validators.flaky]\nkind = \"command\"\nfiles = [\"*.txt\"]\nfindings_exit_codes = [1]\n\
             command = [\"sh\", \"-c\", \"if [ -e {} ]; then exit 3; fi; exit 0\", \"sh\"]\n",
            flag.display()
        ),
    );
    std::fs::create_dir_all(env.project.join("d2")).unwrap();
    std::fs::write(env.project.join("d2").join(std::ffi::OsStr::from_bytes(b"b\xff.txt")), "ok\n").unwrap();
    std::fs::write(&flag, "").unwrap();
    for round in 0..3 {
        let (code, r) = check_json(&env, &["."]);
        assert_eq!(code, 3, "round {round}: {r}");
        assert_eq!(r["summary"]["unchanged"], false, "round {round}: {}", r["summary"]);
    }
    std::fs::remove_file(&flag).unwrap();
    let (code, r) = check_json(&env, &["."]);
    assert_eq!(code, 0, "{r}");
}

/// An `.editorconfig` git tracks that a `.gitignore` hides (doomemacs
/// ignores `.*` and adds its templates' one by force) rules its files in
/// a check, and so in an explanation; one a `.ignore` hides rules
/// neither.
#[test]
fn explain_reads_the_rules_files_git_tracks_that_an_ignore_file_hides_as_a_check_does() {
    let env = Env::new();
    git(&env, &["init", "-q"]);
    env.write(".gitignore", ".*\n");
    env.write("sub/.editorconfig", "[*]\ninsert_final_newline = false\n");
    env.write("sub/x.txt", "abc");
    env.write("other/.editorconfig", "[*]\ninsert_final_newline = false\n");
    env.write("other/y.txt", "abc");
    env.write(".ignore", "other/.editorconfig\n");
    git(&env, &["add", "-f", "sub/.editorconfig", "other/.editorconfig"]);
    let r = check_json(&env, &["--validator", "final-newline"]).1;
    assert_eq!(status_of(&r, "sub/x.txt", "final-newline"), "passed", "{}", r["summary"]);
    assert_eq!(status_of(&r, "other/y.txt", "final-newline"), "findings", "{}", r["summary"]);
    let doc = env.json(&["explain", "sub/x.txt", "other/y.txt"]);
    let files = doc["files"].as_array().unwrap();
    let file = |name: &str| files.iter().find(|f| f["file"] == name).unwrap_or_else(|| panic!("{name} in {doc:#}"));
    let result = |name: &str| {
        let v = file(name)["validators"].as_array().unwrap().iter().find(|v| v["validator"] == "final-newline");
        v.unwrap()["result"].clone()
    };
    assert_eq!(result("sub/x.txt"), "not judged", "{doc:#}");
    assert_eq!(file("sub/x.txt")["rules"], json!(["sub/.editorconfig line 1: `[*]` insert_final_newline = false"]));
    assert_eq!(result("other/y.txt"), "findings", "{doc:#}");
}

#[test]
fn explain_says_what_a_check_makes_of_a_file_and_why() {
    let env = Env::new();
    git(&env, &["init", "-q"]);
    env.write(".gitignore", "*.log\nbuild/\n");
    env.write(".gitattributes", "keep/*.txt -whitespace\n*.dat binary\n*.txt !eol\n");
    env.write(".editorconfig", "root = true\n\n[*.md]\ninsert_final_newline = false\n[keep/*]\nend_of_line = lf\n");
    env.write(".ignore", "hidden.txt\n");
    env.write("sub/.gitignore", "!hidden.txt\n");
    env.write("sub/hidden.txt", "x\n");
    env.write("excl.txt", "x\n");
    env.write("data.dat", "a \n");
    env.write("big.bin", [0u8; 300]);
    let config = "[check]\nexclude = [\"skip/\", \"excl.txt\"]\nmax_file_size = 200\n\
                  [validators.trailing-whitespace]\nexclude = [\"*.md\"]\n";
    env.write("verdict.toml", config);
    env.write("keep/a.txt", "kept  \n");
    env.write("debug.log", "noise \n");
    env.write("tracked.log", "x\n");
    env.write("build/out.txt", "x\n");
    env.write("gen.go", "// Code generated by stringer. DO NOT EDIT.\n\nvar x = 1 \n");
    env.write("notes.md", "a  \n");
    env.write("skip/s.txt", "x\n");
    env.write("plain.txt", "bad \n");
    git(&env, &["add", "-f", "tracked.log"]);
    let doc = env.json(&[
        "explain",
        "keep/a.txt",
        "debug.log",
        "tracked.log",
        "build/out.txt",
        "gen.go",
        "notes.md",
        "skip/s.txt",
        "plain.txt",
        "sub/hidden.txt",
        "excl.txt",
        "data.dat",
        "big.bin",
    ]);
    let files = doc["files"].as_array().unwrap();
    let file = |name: &str| files.iter().find(|f| f["file"] == name).unwrap_or_else(|| panic!("{name} in {doc:#}"));
    let entry = |name: &str, validator: &str| {
        let f = file(name);
        f["validators"].as_array().unwrap().iter().find(|v| v["validator"] == validator).cloned().unwrap()
    };
    // What the project's files say: git's `-whitespace` waives the trailing
    // blanks, and what would be reported is said.
    let ws = entry("keep/a.txt", "trailing-whitespace");
    assert_eq!((&ws["selected"], &ws["result"]), (&json!(true), &json!("not judged")), "{ws:#}");
    assert!(ws["why"].as_str().unwrap().contains("`whitespace` attribute unset"), "{ws:#}");
    assert_eq!(ws["would_find"][0]["line"], 1, "{ws:#}");
    assert!(file("keep/a.txt")["marks"][0].as_str().unwrap().starts_with("keeps trailing blanks"), "{doc:#}");
    // And which line of which file says so.
    assert_eq!(
        file("keep/a.txt")["rules"],
        json!([
            ".editorconfig line 5: `[keep/*]` end_of_line = lf",
            ".gitattributes line 1: `keep/*.txt -whitespace`",
            ".gitattributes line 3: `*.txt !eol`"
        ])
    );
    assert_eq!(file("notes.md")["rules"], json!([".editorconfig line 3: `[*.md]` insert_final_newline = false"]));
    assert_eq!(entry("notes.md", "final-newline")["result"], "not judged");
    assert_eq!(file("gen.go")["rules"], json!([]));
    // Where no `end_of_line` is set, git's line-ending attributes make no
    // mark, and are not said.
    assert_eq!(file("plain.txt")["rules"], json!([]));
    // A macro's line, as written, with what it sets.
    assert_eq!(file("data.dat")["rules"], json!([".gitattributes line 2: `*.dat binary` (which sets -diff -text)"]));
    let binary = entry("data.dat", "trailing-whitespace");
    assert_eq!(binary["result"], "not judged");
    assert!(binary["why"].as_str().unwrap().starts_with("it is binary by its marks"), "{binary:#}");
    // Larger than check.max_file_size: read only as far as binary content
    // shows, as a check reads it.
    assert_eq!(file("big.bin")["binary"], true, "{doc:#}");
    let secrets = entry("big.bin", "secrets");
    assert!(
        secrets["why"]
            .as_str()
            .unwrap()
            .ends_with("larger than check.max_file_size, so the text in it is not looked for"),
        "{secrets:#}"
    );
    assert_eq!(entry("big.bin", "large-file")["result"], "passed");
    assert_eq!(entry("big.bin", "shebang-executable")["result"], "skipped");
    // A check of the tree: what keeps a file out, by file and pattern.
    assert_eq!(file("debug.log")["reached"], false);
    assert_eq!(file("debug.log")["unreached_because"], ".gitignore ignores it (\"*.log\")");
    assert_eq!(file("build/out.txt")["unreached_because"], ".gitignore ignores its directory build/ (\"build/\")");
    assert_eq!(file("tracked.log")["reached"], true, "{doc:#}");
    assert!(file("tracked.log")["reach_note"].as_str().unwrap().contains("but git tracks it"), "{doc:#}");
    assert_eq!(file("skip/s.txt")["unreached_because"], "check.exclude takes out its directory skip/");
    // A `.ignore` rules before any `.gitignore`, the nearest too.
    assert_eq!(file("sub/hidden.txt")["unreached_because"], ".ignore ignores it (\"hidden.txt\")", "{doc:#}");
    // A file pattern of check.exclude keeps a check from the file as a
    // directory's does.
    assert_eq!(file("excl.txt")["reached"], false);
    assert_eq!(file("excl.txt")["unreached_because"], "check.exclude has \"excl.txt\"");
    let skipped = entry("skip/s.txt", "utf8");
    assert_eq!((&skipped["selected"], &skipped["why"]), (&json!(false), &json!("check.exclude has \"skip/\"")));
    // Named, an ignored file is checked: its outcome is the check's.
    let found = entry("debug.log", "trailing-whitespace");
    assert_eq!((&found["result"], &found["findings"][0]["column"]), (&json!("findings"), &json!(6)), "{found:#}");
    // A generated file: found, then dropped, and why.
    let generated = entry("gen.go", "trailing-whitespace");
    assert_eq!(generated["result"], "not judged");
    assert!(generated["why"].as_str().unwrap().contains("says a tool writes it"), "{generated:#}");
    assert_eq!(generated["would_find"][0]["line"], 3);
    // A validator's own patterns.
    let md = entry("notes.md", "trailing-whitespace");
    assert_eq!((&md["selected"], &md["why"]), (&json!(false), &json!("its exclude has \"*.md\"")), "{md:#}");
    assert_eq!(entry("notes.md", "markdown-trailing-whitespace")["selected"], true);
    assert!(entry("plain.txt", "json")["why"].as_str().unwrap().starts_with("its files (\"*.json\""));
    assert_eq!(entry("plain.txt", "trailing-whitespace")["result"], "findings");
    // An explanation agrees with the check: the same findings for the same file.
    let (_, report) = check_json(&env, &["--no-cache", "plain.txt", "gen.go", "keep/a.txt"]);
    let found: Vec<&Value> =
        report["outcomes"].as_array().unwrap().iter().filter(|o| o["outcome"]["status"] != "passed").collect();
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!((&found[0]["file"], &found[0]["validator"]), (&json!("plain.txt"), &json!("trailing-whitespace")));
    assert_eq!(found[0]["outcome"]["findings"], entry("plain.txt", "trailing-whitespace")["findings"]);

    // People's form: the same, in sentences.
    let text = env.run_ok(&["explain", "--validator", "trailing-whitespace", "keep/a.txt", "debug.log"], 0);
    for line in [
        "keep/a.txt: 7 bytes, text\n  a check of the project reaches it\n  marks:\n    keeps trailing blanks:",
        "  set by:\n    .editorconfig line 5: `[keep/*]` end_of_line = lf\n    .gitattributes line 1: `keep/*.txt -whitespace`\n",
        "    trailing-whitespace  not judged: the project keeps trailing blanks in it",
        "                         it would report otherwise:\n                           1:5  trailing whitespace (2 spaces)",
        "debug.log: 7 bytes, text\n  a check of the project does not reach it: .gitignore ignores it (\"*.log\") (named, it is checked)",
        "    trailing-whitespace  findings\n                         1:6  trailing whitespace (1 space)",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    assert!(!text.contains("utf8"), "{text}");
    // A verdict.toml below the root configures nothing, as a check says.
    env.write("sub/verdict.toml", "[check]\nexclude = [\"*\"]\n");
    let notes = &env.json(&["explain", "--validator", "utf8", "sub/hidden.txt"])["notes"];
    assert!(
        notes[0].as_str().unwrap().starts_with("sub/verdict.toml is not applied: one verdict.toml configures"),
        "{notes}"
    );
    let text = env.run_ok(&["explain", "--validator", "utf8", "excl.txt"], 0);
    assert!(
        text.contains("does not reach it: check.exclude has \"excl.txt\" (named, it is not checked either)"),
        "{text}"
    );
    // An edited verdict.toml is applied first, as a check applies it.
    let tool = "[validators.tool]\nkind = \"command\"\nfiles = [\"*.txt\"]\ncommand = [\"true\", \"--x\"]\n";
    env.write("verdict.toml", format!("{config}[validators.utf8]\nenabled = false\n{tool}"));
    let doc = env.json(&["explain", "--validator", "utf8", "--validator", "tool", "plain.txt"]);
    let [tool, utf8] = [0, 1].map(|i| &doc["files"][0]["validators"][i]);
    assert_eq!((&utf8["selected"], &utf8["why"]), (&json!(false), &json!("it is disabled (`enabled = false`)")));
    // A command validator is said, not run.
    assert_eq!(
        (&tool["validator"], &tool["selected"], &tool["result"]),
        (&json!("tool"), &json!(true), &json!("not run"))
    );
    assert!(tool["why"].as_str().unwrap().contains("runs \"true --x\" on it"), "{tool:#}");
    // Bad requests: a directory, no file, a validator that is not there.
    for (args, said) in [
        (&["explain", "keep"][..], "is a directory: explain takes files"),
        (&["explain", "nope.txt"][..], "no such file or directory"),
        (
            &["explain", "--validator", "trailing-whitespac", "plain.txt"][..],
            "no validator named \"trailing-whitespac\"",
        ),
        (&["explain"][..], "required"),
    ] {
        let out = env.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(said), "{args:?}: {said:?} in {err}");
    }
}

/// The pip layout of `.pre-commit-config.yaml` (a global `exclude`, a
/// hook's own, a list closed at its key's column): the built-ins keep to
/// the files the project's pre-commit hooks take.
const PRE_COMMIT: &str = "exclude: ^vendor/\nrepos:\n- repo: https://github.com/pre-commit/pre-commit-hooks\n  rev: v6.0.0\n  hooks:\n  - id: trailing-whitespace\n    exclude: ^tests/fixtures/\n    additional_dependencies: [\n    ]\n";

fn has_outcome(report: &Value, file: &str, validator: &str) -> bool {
    report["outcomes"].as_array().unwrap().iter().any(|r| r["file"] == file && r["validator"] == validator)
}

#[test]
fn the_pre_commit_configuration_narrows_the_builtins_and_is_read_again_when_edited() {
    let env = Env::new();
    let _stop = env.stop_when_done(&env.project);
    env.write(".pre-commit-config.yaml", PRE_COMMIT);
    env.write("tests/fixtures/a.py", "kept  \n");
    env.write("vendor/lib.txt", "theirs \n");
    env.write("vendor/key.pem", RSA_KEY);
    env.write("src/a.txt", "ours \n");
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(status_of(&r, "src/a.txt", "trailing-whitespace"), "findings");
    assert!(!has_outcome(&r, "tests/fixtures/a.py", "trailing-whitespace"), "{r:#}");
    assert_eq!(status_of(&r, "tests/fixtures/a.py", "final-newline"), "passed", "only the hook's built-in");
    assert!(!has_outcome(&r, "vendor/lib.txt", "trailing-whitespace") && !has_outcome(&r, "vendor/lib.txt", "utf8"));
    // The project does not run detect-private-key: its scope for linters
    // is no reason to stop looking for keys.
    assert_eq!(status_of(&r, "vendor/key.pem", "secrets"), "findings");
    assert_eq!(r["summary"]["notes"], Value::Null, "no notes: {r:#}");

    // Why, by line.
    let text = env.run_ok(&["explain", "--validator", "trailing-whitespace", "tests/fixtures/a.py"], 0);
    assert!(
        text.contains(
            "trailing-whitespace  .pre-commit-config.yaml leaves it out: hook trailing-whitespace (line 6): its exclude \"^tests/fixtures/\" (line 7) matches it"
        ),
        "{text}"
    );
    let shown = env.run_ok(&["config", "show", "trailing-whitespace"], 0);
    assert!(
        shown.contains("# Its files are narrowed by .pre-commit-config.yaml: the global exclude \"^vendor/\" (line 1); hook trailing-whitespace (line 6): exclude \"^tests/fixtures/\" (line 7).\n[validators.trailing-whitespace]"),
        "{shown}"
    );

    // An edit is applied by the next check, without a reload.
    env.write(".pre-commit-config.yaml", PRE_COMMIT.replace("    exclude: ^tests/fixtures/\n", ""));
    let (_, r) = check_json(&env, &[]);
    assert_eq!(status_of(&r, "tests/fixtures/a.py", "trailing-whitespace"), "findings", "{r:#}");
    assert!(!has_outcome(&r, "vendor/lib.txt", "trailing-whitespace"));

    // A file verdict cannot read narrows nothing, and every check says so.
    env.write(".pre-commit-config.yaml", "repos: [\n");
    let out = env.run(&["check", "--format", "json"]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status_of(&r, "vendor/lib.txt", "trailing-whitespace"), "findings", "{r:#}");
    let note = ".pre-commit-config.yaml is not applied: line 2:";
    assert!(r["summary"]["notes"][0].as_str().unwrap().starts_with(note), "{r:#}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(note), "{out:?}");
    let out = env.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("warning: {note}")), "{out:?}");

    // And the project may turn it off.
    env.write(".pre-commit-config.yaml", PRE_COMMIT);
    env.write("verdict.toml", "[check]\npre_commit = false\n");
    let (_, r) = check_json(&env, &[]);
    // (Both judged by the checks above: from the cache.)
    for file in ["tests/fixtures/a.py", "vendor/lib.txt"] {
        let o = outcome(&r, file, "trailing-whitespace");
        assert_eq!((&o["status"], &o["verdict"]["status"]), (&json!("cached"), &json!("findings")), "{file}: {r:#}");
    }
}

/// gitleaks' own layout of `.gitleaks.toml`: its allowlist's paths keep
/// `secrets` (and no other check) off its test data.
const GITLEAKS: &str = "title = \"dev\"\n[extend]\nuseDefault = true\n\n[allowlist]\npaths = [\n  '''testdata''',\n  '''.*_test\\.go''',\n]\n";

#[test]
fn the_gitleaks_allowlist_keeps_secrets_off_its_paths_and_is_read_again_when_edited() {
    let env = Env::new();
    let _stop = env.stop_when_done(&env.project);
    env.write(".gitleaks.toml", GITLEAKS);
    env.write("testdata/key.pem", RSA_KEY);
    env.write("detect/detect_test.go", "var id = \"AKIAQYLPMN5HHHFPZAM2\" \n");
    env.write("src/key.pem", RSA_KEY);
    let (code, r) = check_json(&env, &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(status_of(&r, "src/key.pem", "secrets"), "findings");
    assert!(!has_outcome(&r, "testdata/key.pem", "secrets"), "{r:#}");
    assert!(!has_outcome(&r, "detect/detect_test.go", "secrets"), "{r:#}");
    // The other checks are not narrowed.
    assert_eq!(status_of(&r, "detect/detect_test.go", "trailing-whitespace"), "findings", "{r:#}");
    assert_eq!(r["summary"]["notes"], Value::Null, "no notes: {r:#}");

    // Why, by line.
    let text = env.run_ok(&["explain", "--validator", "secrets", "testdata/key.pem"], 0);
    assert!(text.contains("secrets  .gitleaks.toml's allowlist path \"testdata\" (line 7) matches it"), "{text}");
    let shown = env.run_ok(&["config", "show", "secrets"], 0);
    assert!(
        shown.contains("# Its files are narrowed by .gitleaks.toml: the allowlists' paths \"testdata\" (line 7), \".*_test\\\\.go\" (line 8).\n[validators.secrets]"),
        "{shown}"
    );
    let shown: Value = serde_json::from_str(&env.run_ok(&["config", "show", "--json"], 0)).unwrap();
    assert_eq!(shown["gitleaks"]["paths"][0], json!({ "path": "testdata", "line": 7 }), "{shown:#}");

    // An edit is applied by the next check, without a reload.
    env.write(".gitleaks.toml", GITLEAKS.replace("  '''testdata''',\n", ""));
    let (_, r) = check_json(&env, &[]);
    assert_eq!(status_of(&r, "testdata/key.pem", "secrets"), "findings", "{r:#}");
    assert!(!has_outcome(&r, "detect/detect_test.go", "secrets"), "{r:#}");

    // A file verdict cannot read narrows nothing, and every check says so.
    env.write(".gitleaks.toml", "[allowlist]\npaths = [\n");
    let out = env.run(&["check", "--format", "json"]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status_of(&r, "detect/detect_test.go", "secrets"), "findings", "{r:#}");
    let note = ".gitleaks.toml is not applied: line ";
    assert!(r["summary"]["notes"][0].as_str().unwrap().starts_with(note), "{r:#}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(note), "{out:?}");

    // And the project may turn it off.
    env.write(".gitleaks.toml", GITLEAKS);
    env.write("verdict.toml", "[check]\ngitleaks = false\n");
    let (_, r) = check_json(&env, &[]);
    assert_eq!(outcome(&r, "testdata/key.pem", "secrets")["status"], "cached", "{r:#}");
    assert_eq!(outcome(&r, "detect/detect_test.go", "secrets")["verdict"]["status"], "findings", "{r:#}");
}

/// `git lfs track` writes `filter=lfs`: the large file is Git LFS's to
/// hold, and says so in `explain`.
#[test]
fn a_large_file_git_lfs_keeps_passes_and_explain_says_why() {
    let env = Env::new();
    let _stop = env.stop_when_done(&env.project);
    env.write(".gitattributes", "*.psd filter=lfs diff=lfs merge=lfs -text\n");
    env.write("art.psd", vec![b'x'; 600 * 1024]);
    env.write("dump.bin", vec![b'x'; 600 * 1024]);
    let (code, r) = check_json(&env, &["--validator", "large-file"]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(status_of(&r, "art.psd", "large-file"), "passed", "{r:#}");
    assert_eq!(status_of(&r, "dump.bin", "large-file"), "findings", "{r:#}");
    let text = env.run_ok(&["explain", "--validator", "large-file", "art.psd"], 0);
    assert!(text.contains("kept by Git LFS: git's `filter=lfs` attribute"), "{text}");
    assert!(text.contains(".gitattributes line 1: `*.psd filter=lfs`"), "{text}");
    assert!(text.contains("git's `filter=lfs` attribute says Git LFS keeps it"), "{text}");
}

/// `check-added-large-files --maxkb` is the project's limit for
/// `large-file`, unless verdict.toml sets one.
#[test]
fn the_pre_commit_maxkb_is_large_file_s_limit_unless_verdict_toml_sets_one() {
    let env = Env::new();
    let _stop = env.stop_when_done(&env.project);
    env.write(
        ".pre-commit-config.yaml",
        "repos:\n- repo: https://github.com/pre-commit/pre-commit-hooks\n  hooks:\n  - id: check-added-large-files\n    args: ['--maxkb=1000']\n",
    );
    env.write("model.bin", vec![b'x'; 600 * 1024]);
    env.write("huge.bin", vec![b'x'; 1001 * 1024]);
    let (_, r) = check_json(&env, &["--validator", "large-file"]);
    assert_eq!(status_of(&r, "model.bin", "large-file"), "passed", "{r:#}");
    let huge = outcome(&r, "huge.bin", "large-file");
    assert!(huge["findings"][0]["message"].as_str().unwrap().contains("limit of 1024000 bytes"), "{r:#}");
    let shown = env.run_ok(&["config", "show", "large-file"], 0);
    assert!(
        shown.contains("# Its max_size is check-added-large-files' --maxkb in .pre-commit-config.yaml (line 5).\n"),
        "{shown}"
    );
    assert!(shown.contains("max_size = \"1000KiB\""), "{shown}");
    env.write("verdict.toml", "[validators.large-file]\nmax_size = \"512KiB\"\n");
    let (_, r) = check_json(&env, &["--validator", "large-file"]);
    assert_eq!(status_of(&r, "model.bin", "large-file"), "findings", "{r:#}");
}
