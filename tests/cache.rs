//! The result cache end to end: warm runs, edits, `--no-cache`, the cache
//! commands, corruption, a second daemon on the same data directory, and
//! SIGKILL during heavy writing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Env, alive, files, wait_until};

fn check(env: &Env, args: &[&str]) -> Value {
    check_in(env, &env.project, args)
}

/// [`check`], run in `dir` (another project inside this one, say).
fn check_in(env: &Env, dir: &std::path::Path, args: &[&str]) -> Value {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let out = env.cmd().current_dir(dir).args(&all).output().expect("run verdict");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tree(env: &Env, n: usize) {
    for i in 0..n {
        let ws = if i % 7 == 0 { "  " } else { "" };
        env.write(&format!("d{}/f{i}.txt", i % 10), format!("line {i}{ws}\nmore\n"));
    }
    env.write("data.json", "{\"k\": 1}\n");
}

#[test]
fn an_unchanged_tree_is_answered_from_the_cache_and_an_edit_recomputes_only_it() {
    let env = Env::new();
    tree(&env, 60);
    let cold = check(&env, &[]);
    let pairs = cold["summary"]["pairs"].as_u64().unwrap();
    assert_eq!(cold["summary"]["from_cache"], 0);
    let warm = check(&env, &[]);
    assert_eq!(warm["summary"]["pairs"].as_u64().unwrap(), pairs);
    assert_eq!(warm["summary"]["from_cache"].as_u64().unwrap(), pairs);
    assert_eq!(warm["summary"]["computed"], 0);
    // Cached findings are still reported (and still fail the run).
    assert_eq!(warm["summary"]["findings"], cold["summary"]["findings"]);
    // Edit one file: only its pairs are computed.
    std::thread::sleep(Duration::from_millis(20));
    env.write("d3/f3.txt", "changed   \n");
    let after = check(&env, &[]);
    let computed = after["summary"]["computed"].as_u64().unwrap();
    let validators_on_txt = warm["outcomes"].as_array().unwrap().iter().filter(|o| o["file"] == "d0/f0.txt").count();
    assert!(computed > 0 && computed <= validators_on_txt as u64 + 1, "computed {computed}");
    // Touching a file without changing it does not invalidate its results.
    let f = std::fs::OpenOptions::new().append(true).open(env.project.join("d4/f4.txt")).unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
    let touched = check(&env, &[]);
    assert_eq!(touched["summary"]["computed"], 0, "{}", touched["summary"]);
    // A copy or rename inside the project reuses the results: the key is the
    // content, not the path.
    std::fs::copy(env.project.join("d5/f5.txt"), env.project.join("copy-of-f5.txt")).unwrap();
    std::fs::rename(env.project.join("d6/f6.txt"), env.project.join("moved-f6.txt")).unwrap();
    let copied = check(&env, &[]);
    assert_eq!(copied["summary"]["computed"], 0, "{}", copied["summary"]);
    // --no-cache computes everything again.
    let fresh = check(&env, &["--no-cache"]);
    assert_eq!(fresh["summary"]["from_cache"], 0);
    assert_eq!(fresh["summary"]["computed"].as_u64().unwrap(), copied["summary"]["pairs"].as_u64().unwrap());
}

#[test]
fn a_walking_check_reads_only_the_files_that_changed() {
    let env = Env::new();
    // Every check walks (no answer from the directory watches).
    env.write("verdict.toml", "[check]\nwatch = false\n");
    tree(&env, 40);
    let files = 40 + 2; // and data.json, verdict.toml
    let read = |r: &Value| r["summary"]["files_read"].as_u64().unwrap();
    let cold = check(&env, &[]);
    assert_eq!(read(&cold), files, "{}", cold["summary"]);
    // Files written less than 2 s before their stat-index entry was
    // recorded are read again (git's racy-clean rule); then none is.
    let mut warm = Value::Null;
    wait_until(Duration::from_secs(10), "a check that reads nothing", || {
        std::thread::sleep(Duration::from_millis(200));
        warm = check(&env, &[]);
        read(&warm) == 0
    });
    assert_eq!(warm["summary"]["computed"], 0, "{}", warm["summary"]);
    assert_eq!(warm["summary"]["from_cache"], cold["summary"]["pairs"]);
    env.write("d3/f3.txt", "changed\n");
    let edited = check(&env, &[]);
    assert_eq!(read(&edited), 1, "{}", edited["summary"]);
    // After `cache clear` the stat index is empty: every file is read (and
    // the walk does not stat them: the read stage does), and the index is
    // filled again.
    env.json(&["cache", "clear"]);
    assert_eq!(env.json(&["cache", "stats"])["stat_index_entries"], 0);
    let cleared = check(&env, &[]);
    assert_eq!(read(&cleared), files, "{}", cleared["summary"]);
    assert_eq!(cleared["summary"]["from_cache"], 0);
    wait_until(Duration::from_secs(10), "a check that reads nothing after the clear", || {
        std::thread::sleep(Duration::from_millis(200));
        read(&check(&env, &[])) == 0
    });
    // --no-cache reads everything.
    assert_eq!(read(&check(&env, &["--no-cache"])), files);
}

#[test]
fn cache_commands() {
    let env = Env::new();
    // Two external tools beside the built-ins: clearing one must not make
    // the other run again.
    env.write(
        "verdict.toml",
        r#"
[validators.count-a]
kind = "command"
command = ["sh", "-c", "exit 0", "count-a"]
mode = "per_file"
parser = "exit_code"
files = ["*.txt"]

[validators.count-b]
kind = "command"
command = ["sh", "-c", "exit 0", "count-b"]
mode = "per_file"
parser = "exit_code"
files = ["*.txt"]
"#,
    );
    tree(&env, 20);
    check(&env, &[]);
    let warm = check(&env, &[]);
    assert_eq!(warm["summary"]["computed"], 0, "{}", warm["summary"]);
    let stats = env.json(&["cache", "stats"]);
    // One entry per file, and one per (file, external tool).
    assert!(stats["file_entries"].as_u64().unwrap() >= 21, "{stats}");
    assert!(stats["stat_index_entries"].as_u64().unwrap() >= 21, "{stats}");
    let validator =
        |name: &str| stats["validators"].as_array().unwrap().iter().find(|v| v["name"] == name).unwrap().clone();
    let a = validator("count-a");
    assert!(a["entries"].as_u64().unwrap() >= 20 && a["hits"].as_u64().unwrap() >= 20, "{a}");
    assert!(validator("trailing-whitespace")["hits"].as_u64().unwrap() >= 20, "{stats}");

    let cleared = env.json(&["cache", "clear", "--validator", "count-a"]);
    assert!(cleared["deleted"].as_u64().unwrap() >= 20);
    let r = check(&env, &[]);
    let computed = |name: &str| {
        r["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["validator"] == name && o["outcome"]["status"] != "cached")
            .count()
    };
    assert!(computed("count-a") >= 20, "the cleared tool runs again");
    assert_eq!(computed("count-b"), 0, "the other tool's results are kept");
    let again = check(&env, &[]);
    assert_eq!(again["summary"]["computed"], 0, "{}", again["summary"]);

    let pruned = env.json(&["cache", "prune"]);
    assert_eq!(pruned["deleted"], 0, "nothing has expired");
    assert_eq!(pruned["stat_index_deleted"], 0, "no file is gone");
    // Files renamed: their old names' stat-index entries go at the next
    // prune, and only theirs.
    let before = env.json(&["cache", "stats"])["stat_index_entries"].as_u64().unwrap();
    for i in 0..5 {
        let old = format!("d{}/f{i}.txt", i % 10);
        std::fs::rename(env.project.join(&old), env.project.join(format!("{old}.moved"))).unwrap();
    }
    check(&env, &[]);
    let grown = env.json(&["cache", "stats"])["stat_index_entries"].as_u64().unwrap();
    assert_eq!(grown, before + 5, "the new names are indexed");
    let pruned = env.json(&["cache", "prune"]);
    assert_eq!(pruned["stat_index_deleted"], 5, "{pruned}");
    assert_eq!(env.json(&["cache", "stats"])["stat_index_entries"].as_u64().unwrap(), before);
    let all = env.json(&["cache", "clear"]);
    assert!(all["deleted"].as_u64().unwrap() > 0);
    let empty = env.json(&["cache", "stats"]);
    assert_eq!((empty["entries"].as_u64(), empty["file_entries"].as_u64()), (Some(0), Some(0)), "{empty}");
}

/// Clearing a validator's results clears those of its earlier
/// configurations too: a reload back to one of them does not bring its
/// results back.
#[test]
fn clearing_a_validator_clears_its_results_under_earlier_configurations() {
    let env = Env::new();
    let config = |flavour: &str| {
        format!(
            "builtins = false\n[validators.tool]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"exit 0\", \"{flavour}\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\nfiles = [\"*.txt\"]\n\
             [validators.other]\nkind = \"command\"\ncommand = [\"true\"]\nmode = \"per_file\"\n\
             parser = \"exit_code\"\nfiles = [\"*.txt\"]\n"
        )
    };
    tree(&env, 10);
    let from_cache = |r: &Value| r["summary"]["from_cache"].as_u64().unwrap();
    env.write("verdict.toml", config("a"));
    assert_eq!(from_cache(&check(&env, &[])), 0);
    env.write("verdict.toml", config("b"));
    env.json(&["reload"]);
    assert_eq!(from_cache(&check(&env, &[])), 10, "only `other` is cached");
    let cleared = env.json(&["cache", "clear", "--validator", "tool"]);
    // Both configurations' results, and the files' entries under each.
    assert_eq!(cleared["deleted"], 40, "{cleared}");
    env.write("verdict.toml", config("a"));
    env.json(&["reload"]);
    let r = check(&env, &[]);
    assert_eq!(from_cache(&r), 10, "`tool` runs again, `other` is kept: {}", r["summary"]);
}

#[test]
fn a_changed_setting_never_serves_the_old_verdict() {
    let env = Env::new();
    let limit = |size: &str| format!("[validators.large-file]\nmax_size = \"{size}\"\n");
    env.write("verdict.toml", limit("1000KiB"));
    env.write("big.txt", "x".repeat(4000) + "\n");
    env.write("small.txt", "y\n");
    check(&env, &[]);
    let warm = check(&env, &[]);
    assert_eq!(warm["summary"]["computed"], 0, "{}", warm["summary"]);
    // A stricter limit changes large-file's identity: every file's entry
    // misses, and big.txt now fails.
    env.write("verdict.toml", limit("1KiB"));
    let stricter = check(&env, &[]);
    assert_eq!(stricter["summary"]["from_cache"], 0, "{}", stricter["summary"]);
    let big: Vec<&Value> = stricter["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["file"] == "big.txt" && o["validator"] == "large-file")
        .collect();
    assert_eq!(big.len(), 1);
    assert_eq!(big[0]["outcome"]["status"], "findings", "{}", big[0]);
    // And back: the first configuration's entries are still there.
    env.write("verdict.toml", limit("1000KiB"));
    let back = check(&env, &[]);
    assert_eq!(back["summary"]["computed"], 0, "{}", back["summary"]);
}

#[test]
fn garbage_in_the_database_is_a_miss_not_a_crash() {
    let (env, data) = with_data_dir(10);
    let data_s = data.to_str().unwrap();
    let first = check(&env, &["--data-dir", data_s]);
    env.run_ok(&["stop"], 0);
    // Overwrite every cached result with garbage, straight into RocksDB.
    {
        let store = verdict_storage::Store::open(&data, &verdict_storage::StoreOptions::default()).unwrap();
        let n = store.corrupt_all_results_for_tests(b"\xde\xad\xbe\xef garbage").unwrap();
        assert!(n > 0);
    }
    let again = check(&env, &["--data-dir", data_s]);
    assert_eq!(again["summary"]["from_cache"], 0, "garbage must never be served");
    assert_eq!(again["summary"]["findings"], first["summary"]["findings"]);
    let third = check(&env, &["--data-dir", data_s]);
    assert_eq!(third["summary"]["computed"], 0, "the bad entries were replaced");
}

#[test]
fn a_second_daemon_on_the_same_data_directory_gets_a_clear_error() {
    let a = Env::new();
    let b = Env::new();
    let data = a.tmp.path().join("shared-data");
    let data_s = data.to_str().unwrap();
    a.write("x.txt", "x\n");
    b.write("y.txt", "y\n");
    check(&a, &["--data-dir", data_s]);
    let out = b.run(&["cache", "stats", "--data-dir", data_s]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(data_s) && err.contains("in use"), "{err}");
    // Checks still work there, without the cache.
    let r = check(&b, &["--no-cache"]);
    assert_eq!(r["summary"]["outcomes"]["error"], 0);
    let st = b.json(&["status"]);
    assert_eq!(st["cache"]["available"], false);
}

#[test]
fn sigkill_during_heavy_writing_never_loses_the_database() {
    let env = Env::new();
    for i in 0..3000 {
        env.write(&format!("t{}/f{i}.txt", i % 30), format!("{i} {}\n", "word ".repeat(i % 50)));
    }
    let data = env.tmp.path().join("data");
    let data_s = data.to_str().unwrap().to_string();
    let mut kills = 0;
    while kills < 20 {
        let _ = env.run(&["cache", "clear", "--data-dir", &data_s]);
        let pid = env.json(&["ping", "--data-dir", &data_s])["pid"].as_u64().unwrap() as i32;
        let mut c = env.connect();
        c.send("check", json!({}));
        // The last run's writes are what the end checks: it is killed only
        // once the cache holds some of them.
        if kills == 19 {
            wait_until(Duration::from_secs(20), "a first write to the cache", || {
                let stats = env.json(&["cache", "stats", "--data-dir", &data_s]);
                stats["entries"].as_u64() > Some(0) || stats["file_entries"].as_u64() > Some(0)
            });
        }
        // Let it write for a while, then kill it mid-run.
        std::thread::sleep(Duration::from_millis(150 + 37 * kills as u64 % 200));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
        wait_until(Duration::from_secs(5), "death", || !alive(pid as u32));
        kills += 1;
    }
    // The database reopens; every cached outcome decodes and equals a fresh computation.
    let cached = check(&env, &["--data-dir", &data_s]);
    let fresh = check(&env, &["--data-dir", &data_s, "--no-cache"]);
    let key = |o: &Value| (o["file"].as_str().unwrap().to_string(), o["validator"].as_str().unwrap().to_string());
    let fresh_map: std::collections::HashMap<_, _> =
        fresh["outcomes"].as_array().unwrap().iter().map(|o| (key(o), o["outcome"].clone())).collect();
    let mut compared = 0;
    for o in cached["outcomes"].as_array().unwrap() {
        if o["outcome"]["status"] == "cached" {
            let mut expect = fresh_map[&key(o)].clone();
            let got = o["outcome"]["verdict"].clone();
            if expect["status"] == "passed" {
                expect = json!({ "status": "passed" });
            }
            assert_eq!(got, expect, "{:?}", key(o));
            compared += 1;
        }
    }
    assert!(compared > 0, "nothing survived 20 kills: the cache never acknowledged anything");
    assert_eq!(cached["summary"]["outcomes"]["error"], 0);
}

#[test]
fn an_incompatible_database_is_reported_and_cache_clear_recreates_it() {
    let (env, data) = with_data_dir(5);
    let data_s = data.to_str().unwrap();
    check(&env, &["--data-dir", data_s]);
    env.run_ok(&["stop"], 0);
    {
        let store = verdict_storage::Store::open(&data, &verdict_storage::StoreOptions::default()).unwrap();
        store.set_schema_version_for_tests(99).unwrap();
    }
    // Checks still run, without the cache; status says why.
    let r = check(&env, &["--data-dir", data_s]);
    assert_eq!(r["summary"]["cache_used"], false);
    assert_eq!(r["summary"]["outcomes"]["error"], 0);
    let st = env.json(&["status"]);
    assert_eq!(st["cache"]["available"], false);
    let why = st["cache"]["error"].as_str().unwrap();
    assert!(why.contains(data_s) && why.contains("cache clear"), "{why}");
    // The fix the message gives works.
    let cleared = env.json(&["cache", "clear"]);
    assert_eq!(cleared["recreated"], true);
    check(&env, &[]);
    let warm = check(&env, &[]);
    assert_eq!(warm["summary"]["computed"], 0, "{}", warm["summary"]);
}

/// Damaged data blocks in a database that still opens: every read of them
/// is a miss (the results are computed again, and right), one warning is
/// logged, `status` counts the failures, and `cache clear`, which the
/// message advises, deletes the database and starts an empty one (its
/// deletes could not get past the damage before).
#[test]
fn cache_clear_starts_afresh_from_damaged_data_blocks() {
    let (env, data) = with_data_dir(0);
    tree(&env, 600);
    let data_s = data.to_str().unwrap();
    let fresh = check(&env, &["--data-dir", data_s, "--no-cache", "--all"]);
    env.run_ok(&["stop"], 0);
    // Every 7th byte of the first third of each table file flipped: its
    // data blocks, not the footer and index it opens with.
    let mut damaged = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let len = std::fs::metadata(&path).unwrap().len();
        if path.extension().is_some_and(|e| e == "sst") && len > 4000 {
            let mut bytes = std::fs::read(&path).unwrap();
            for i in (0..bytes.len() / 3).step_by(7) {
                bytes[i] ^= 0x5a;
            }
            std::fs::write(&path, bytes).unwrap();
            damaged += 1;
        }
    }
    assert!(damaged > 0, "no table file to damage in {data_s}");
    let r = check(&env, &["--data-dir", data_s, "--all"]);
    assert_eq!(r["summary"]["cache_used"], true, "{}", r["summary"]);
    assert_eq!(verdicts(&r), verdicts(&fresh), "damaged entries are misses, computed again");
    let failures = env.json(&["status"])["cache"]["read_failures"].as_u64().unwrap();
    assert!(failures > 0, "status counts the failed reads");
    let cleared = env.json(&["cache", "clear"]);
    assert_eq!(cleared["recreated"], true, "{cleared}");
    assert_eq!(env.json(&["status"])["cache"]["read_failures"], 0);
    check(&env, &[]);
    let warm = check(&env, &[]);
    assert_eq!(warm["summary"]["computed"], 0, "{}", warm["summary"]);
    env.run_ok(&["cache", "stats"], 0);
    let log = env.log_after_stop();
    assert_eq!(log.matches("cache read failed; treating as a miss").count(), 1, "one warning, not one per key");
}

/// verdict's own directories inside the project are never checked: the
/// cache in use, the one the configuration names when `--data-dir` puts
/// the one in use elsewhere, and the logs' (a project at `$HOME`); and a
/// cache directory that holds the project (`--data-dir .`) is refused
/// (checks run without it, and `cache clear` leaves the project alone).
#[test]
fn verdicts_own_directories_are_not_checked_and_the_project_cannot_hold_its_cache() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    env.write("verdict.toml", "[cache]\ndir = \".verdict-cache\"\n");
    let state = env.project.join(".local/state");
    // The sockets' and pid files' directory too (`$TMPDIR` under `$HOME`).
    let runtime = env.project.join("tmp/run");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let cmd = || {
        let mut c = env.cmd();
        c.env("XDG_STATE_HOME", &state).env("XDG_RUNTIME_DIR", &runtime);
        c
    };
    let run = |args: &[&str]| {
        let out = cmd().args(["check", "--format", "json", "--all"]).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        (serde_json::from_slice::<Value>(&out.stdout).unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (r, _) = run(&[]);
    assert!(env.project.join(".verdict-cache/CURRENT").exists());
    assert_eq!(files(&r), ["a.txt", "verdict.toml"], "the cache or the log was checked");
    // Logged in the project, then the configured cache left behind.
    assert!(state.join("verdict").is_dir(), "the logs are not in the project");
    assert!(runtime.join("verdict").is_dir(), "the socket is not in the project");
    let (r, _) = run(&[]);
    assert_eq!(files(&r), ["a.txt", "verdict.toml"]);
    cmd().arg("stop").output().unwrap();
    let elsewhere = env.tmp.path().join("elsewhere");
    let (r, _) = run(&["--data-dir", elsewhere.to_str().unwrap()]);
    assert_eq!(files(&r), ["a.txt", "verdict.toml"], "the configured cache was checked");
    cmd().arg("stop").output().unwrap();
    // The project in the cache directory.
    let (r, stderr) = run(&["--data-dir", "."]);
    assert_eq!(r["summary"]["cache_used"], false, "{}", r["summary"]);
    assert!(stderr.contains("the cache cannot be kept in") && stderr.contains("is inside it"), "{stderr}");
    let out = cmd().args(["cache", "clear"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(env.project.join("a.txt").exists() && !env.project.join("CURRENT").exists());
    cmd().arg("stop").output().unwrap();
}

/// A `[cache] dir` that is a link to the user's documents (or a mistyped
/// `--data-dir`): a directory with files in it and no cache of verdict's
/// is not written into, and `cache clear` deletes nothing there, not even
/// files with RocksDB's names (before, the check renamed the user's `LOG`,
/// called the directory corrupted, and `cache clear` deleted `LOG`,
/// `CURRENT` and `000001.log`).
#[test]
fn a_cache_directory_holding_other_files_is_left_alone() {
    let env = Env::new();
    env.write(
        "a.txt", "a
",
    );
    let docs = env.tmp.path().join("Documents");
    std::fs::create_dir(&docs).unwrap();
    let names = ["000001.log", "CURRENT", "LOG", "thesis.txt"];
    for name in names {
        std::fs::write(docs.join(name), format!("the user's {name}")).unwrap();
    }
    std::os::unix::fs::symlink(&docs, env.project.join(".verdict-cache")).unwrap();
    env.write("verdict.toml", "[cache]\ndir = \".verdict-cache\"\n");
    let out = env.run(&["check", "."]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("holds files but no verdict cache") && err.contains("--data-dir"), "{err}");
    let out = env.run(&["cache", "clear"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("holds files but no verdict cache"), "{err}");
    let mut left: Vec<String> =
        std::fs::read_dir(&docs).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, names);
    for name in names {
        assert_eq!(std::fs::read_to_string(docs.join(name)).unwrap(), format!("the user's {name}"));
    }
    env.run_ok(&["stop"], 0);
}

/// A `[cache] dir` naming a directory of the project's own files, which
/// verdict refuses as a cache: its files are checked all the same (they
/// were left out of the walk as the cache's, and a finding there went
/// unseen with exit 0).
#[test]
fn a_refused_cache_directory_inside_the_project_is_checked() {
    let env = Env::new();
    env.write("docs/readme.txt", "bad  \n");
    env.write("verdict.toml", "[cache]\ndir = \"docs\"\n");
    let out = env.run(&["check", "."]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("holds files but no verdict cache"), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("docs/readme.txt"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A cache in use there is left out, as before.
    std::fs::remove_file(env.project.join("docs/readme.txt")).unwrap();
    env.run_ok(&["stop"], 0);
    env.write("other.txt", "fine\n");
    let out = env.run(&["check", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(env.project.join("docs/VERDICT-CACHE").is_file(), "an empty directory becomes the cache");
    let listed = env.json(&["check", "--format", "json", "--all", "."]);
    let files: Vec<&str> = listed["outcomes"].as_array().unwrap().iter().map(|o| o["file"].as_str().unwrap()).collect();
    assert!(files.iter().all(|f| !f.starts_with("docs/")), "{files:?}");
    env.run_ok(&["stop"], 0);
}

/// The cache directory deleted under a running daemon: `cache clear`
/// starts an empty cache there (RocksDB could not create its next files in
/// the deleted directory), and later checks are cached again.
#[test]
fn cache_clear_recreates_a_cache_whose_directory_was_deleted() {
    let (env, data) = with_data_dir(5);
    let data_s = data.to_str().unwrap();
    check(&env, &["--data-dir", data_s]);
    std::fs::remove_dir_all(&data).unwrap();
    let cleared = env.json(&["cache", "clear"]);
    assert_eq!(cleared["recreated"], true, "{cleared}");
    assert!(data.join("CURRENT").is_file(), "no database in {data_s}");
    cold_then_warm(&env);
    assert_eq!(env.json(&["status"])["cache"]["available"], true);
}

/// The cache directory deleted under a running daemon, with no `cache
/// clear`: the next check notices and creates the cache again, so what it
/// computes is cached (before, every later result went to the deleted
/// directory and was lost, with the reports saying the cache was used).
#[test]
fn a_check_recreates_a_cache_whose_directory_was_deleted() {
    let (env, data) = with_data_dir(5);
    let data_s = data.to_str().unwrap();
    check(&env, &["--data-dir", data_s]);
    std::fs::remove_dir_all(&data).unwrap();
    cold_then_warm(&env);
    assert!(data.join("CURRENT").is_file(), "no database in {data_s}");
}

/// A file system whose times are whole seconds (ext4 with 128-byte
/// inodes), mounted at the project: a change within the second of a
/// remembered `stat` leaves the same stamp.
fn coarse_fs_at_project(env: &Env) -> Mounted {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root to mount a file system; run the suite as root");
    let image = env.tmp.path().join("coarse.img");
    std::fs::File::create(&image).unwrap().set_len(16 << 20).unwrap();
    let made = std::process::Command::new("mkfs.ext4").args(["-q", "-F", "-I", "128"]).arg(&image).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfs.ext4 failed (Debian: apt-get install e2fsprogs)");
    let st = std::process::Command::new("mount").args(["-o", "loop"]).arg(&image).arg(&env.project).status();
    assert!(st.is_ok_and(|s| s.success()), "mount -o loop failed");
    Mounted(env.project.clone())
}

/// A file remembered with a racy stamp (written within the racy margin
/// before the check) is changed within the same second through a hard link
/// made, written and removed in another directory: its own directory's
/// watch sees nothing, and its stamp is the same. Its content is compared
/// before the answer is reused, so the change is seen.
#[test]
fn a_change_within_the_tick_of_a_remembered_stat_is_seen_in_the_content() {
    let env = Env::new();
    let _fs = coarse_fs_at_project(&env);
    env.write("d/keep.txt", "k\n");
    env.write("e/keep.txt", "k\n");
    settled(&env);
    let stamp = |p: &str| {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(env.project.join(p)).unwrap();
        (m.ino(), m.size(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec())
    };
    // Until the changes fall in one second (a second boundary between them
    // moves the times, which shows them anyway).
    for _ in 0..10 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        std::thread::sleep(Duration::from_millis(1050) - Duration::from_nanos(u64::from(now.subsec_nanos())));
        env.write("e/b.txt", "ok\n");
        let before = stamp("e/b.txt");
        check(&env, &[]);
        std::fs::hard_link(env.project.join("e/b.txt"), env.project.join("d/a.txt")).unwrap();
        std::fs::write(env.project.join("d/a.txt"), "x \n").unwrap();
        std::fs::remove_file(env.project.join("d/a.txt")).unwrap();
        if stamp("e/b.txt") != before {
            continue;
        }
        let r = check(&env, &[]);
        assert!(finding(&r, "e/b.txt", "trailing-whitespace"), "a stale answer: {r}");
        return;
    }
    panic!("the changes never fell within one second");
}

/// `cp -a FROM TO`: a directory copied with its files' times.
fn copy(from: &std::path::Path, to: &std::path::Path) {
    assert!(std::process::Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap().success());
}

/// The cache directory replaced under a running daemon (a backup copied
/// back over it): the daemon's open database no longer owns the files at
/// that path, and must neither write there nor delete what it finds there
/// (it would have named its next files as the copy's, corrupting it). The
/// next check opens the copy; the daemon stops cleanly, and the cache
/// opens again with what it was given.
#[test]
fn a_check_opens_the_cache_directory_put_in_place_of_the_open_one() {
    let (env, data) = with_data_dir(20);
    let data_s = data.to_str().unwrap();
    check(&env, &["--data-dir", data_s]);
    env.run_ok(&["stop"], 0);
    let backup = env.tmp.path().join("backup");
    copy(&data, &backup);
    // A new, empty cache (its file numbers are the backup's too).
    std::fs::remove_dir_all(&data).unwrap();
    check(&env, &["--data-dir", data_s]);
    // The backup put back.
    std::fs::remove_dir_all(&data).unwrap();
    copy(&backup, &data);
    // Edited files: results to write, with the memtables to flush at the
    // stop.
    for i in 0..20 {
        env.write(&format!("src/edited{i}.txt"), format!("edited {i}  \n"));
    }
    let after = check(&env, &[]);
    assert_eq!(after["summary"]["cache_used"], true, "{}", after["summary"]);
    env.wait_for_log("replaced while it was open");
    env.run_ok(&["stop"], 0);
    let out = env.cmd().args(["check", "--format", "json", "--data-dir", data_s]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("unavailable") && !stderr.contains("corrupt"), "{stderr}");
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["summary"]["cache_used"], true, "{}", again["summary"]);
    assert_eq!(
        again["summary"]["computed"], 0,
        "what the check after the copy computed was kept: {}",
        again["summary"]
    );

    // The cache commands too act on the database now at the path: a clear
    // of one validator's results, the copy put back once more.
    std::fs::remove_dir_all(&data).unwrap();
    copy(&backup, &data);
    env.run_ok(&["cache", "clear", "--validator", "trailing-whitespace"], 0);
    let r = check(&env, &[]);
    assert_eq!(r["summary"]["cache_used"], true, "{}", r["summary"]);
    let computed: std::collections::BTreeSet<&str> = r["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["outcome"]["status"] != "cached")
        .map(|o| o["validator"].as_str().unwrap())
        .collect();
    assert!(computed.contains("trailing-whitespace"), "the clear reached the database in use: {}", r["summary"]);
}

/// A file changed just before a check (a racy stamp) is hashed again at
/// each reuse of the answer, unless it is too large for that: then the
/// answer is not reused, and the next check walks (by when its stamp is
/// older).
#[test]
fn a_large_file_changed_just_before_the_check_is_not_vouched_for_by_its_content() {
    let env = Env::new();
    env.write("small.txt", "ok\n");
    env.write("big.txt", "x\n".repeat(9 << 20));
    let first = check(&env, &[]);
    assert_eq!(first["summary"]["unchanged"], false);
    let again = check(&env, &[]);
    assert_eq!(again["summary"]["unchanged"], false, "{}", again["summary"]);
    // Small racy files only: reused (their content looked at).
    std::fs::remove_file(env.project.join("big.txt")).unwrap();
    settled(&env);
}

/// The cache directory replaced while a check still uses the old database:
/// the cache commands refuse to act on the old one (it cannot be closed
/// yet), and act on the new one once the check is done.
#[test]
fn cache_commands_refuse_a_replaced_database_a_check_still_uses() {
    let (env, data) = with_data_dir(3);
    let data_s = data.to_str().unwrap();
    let started = env.tmp.path().join("started");
    env.write(
        "verdict.toml",
        format!(
            "[validators.slow]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"touch {}; sleep 2\", \"slow\"]\n\
             mode = \"per_file\"\nparser = \"exit_code\"\nfiles = [\"data.json\"]\n",
            started.display()
        ),
    );
    check(&env, &["--data-dir", data_s, "--validator", "json"]);
    let backup = env.tmp.path().join("backup");
    copy(&data, &backup);
    let mut c = env.connect();
    let id = c.send("check", json!({ "no_cache": true, "validators": ["slow"] }));
    wait_until(Duration::from_secs(10), "the slow tool to start", || started.exists());
    std::fs::rename(&data, env.tmp.path().join("old")).unwrap();
    copy(&backup, &data);
    for args in [&["cache", "clear", "--validator", "json"][..], &["cache", "stats"], &["cache", "prune"]] {
        let out = env.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("is still using the old one"), "{args:?}: {err}");
    }
    let (reply, _) = c.reply(id);
    assert!(reply.get("result").is_some(), "{reply}");
    env.run_ok(&["cache", "clear", "--validator", "json"], 0);
}

/// A cache that cannot be opened when the daemon starts (here: another
/// process holds its lock) is tried again by each check, and used as soon
/// as it can be.
#[test]
fn a_cache_that_could_not_be_opened_at_start_is_tried_again_by_each_check() {
    let (env, data) = with_data_dir(5);
    let data_s = data.to_str().unwrap();
    let holder = verdict_storage::Store::open(&data, &verdict_storage::StoreOptions::default()).unwrap();
    let without = check(&env, &["--data-dir", data_s]);
    assert_eq!(without["summary"]["cache_used"], false, "{}", without["summary"]);
    for _ in 0..3 {
        let again = check(&env, &[]);
        assert_eq!(again["summary"]["cache_used"], false, "still held: {}", again["summary"]);
    }
    // Said once (at start), not again at each check while the cause lasts.
    env.wait_for_log("is in use by another process");
    let log = env.run_ok(&["logs", "-n", "1000"], 0);
    let said = log
        .lines()
        .filter(|l| (l.contains(" WARN ") || l.contains(" ERROR ")) && l.contains("is in use by another process"))
        .count();
    assert_eq!(said, 1, "{log}");
    drop(holder);
    cold_then_warm(&env);
    assert_eq!(env.json(&["status"])["cache"]["available"], true);
}

/// A project of `files` files, and where its cache will be (given to the
/// first check as `--data-dir`).
fn with_data_dir(files: usize) -> (Env, std::path::PathBuf) {
    let env = Env::new();
    tree(&env, files);
    let data = env.tmp.path().join("data");
    (env, data)
}

/// A check that computes, then one that takes every result from the cache:
/// the cache is in use and keeps what it is given.
fn cold_then_warm(env: &Env) {
    let cold = check(env, &[]);
    assert!(cold["summary"]["computed"].as_u64() > Some(0), "{}", cold["summary"]);
    assert_eq!(cold["summary"]["cache_used"], true, "{}", cold["summary"]);
    let warm = check(env, &[]);
    assert_eq!(warm["summary"]["computed"], 0, "{}", warm["summary"]);
}

/// Checks until one is answered from the previous run: a run that had to
/// watch a new directory never leaves a reusable answer, the one after it
/// does. Returns that answer.
fn settled(env: &Env) -> Value {
    settled_with(env, &[])
}

#[test]
fn an_unchanged_tree_is_answered_from_the_previous_run_and_every_change_is_seen() {
    let env = Env::new();
    tree(&env, 30);
    env.write(".gitignore", "*.log\n");
    let first = check(&env, &[]);
    assert_eq!(first["summary"]["unchanged"], false);
    let same = settled(&env);
    assert_eq!(same["summary"]["pairs"], first["summary"]["pairs"]);
    assert_eq!(same["summary"]["findings"], first["summary"]["findings"]);
    assert_eq!(same["summary"]["computed"], 0);
    assert_eq!(files(&same), files(&first), "the same outcomes, all cached");

    // Each change is seen by the very next check.
    type Change = (&'static str, Box<dyn Fn(&Env)>, Box<dyn Fn(&Value)>);
    let changes: Vec<Change> = vec![
        (
            "an edited file",
            Box::new(|e| {
                e.write("d1/f1.txt", "now with trailing space   \n");
            }),
            Box::new(|r| {
                let hit = r["outcomes"].as_array().unwrap().iter().any(|o| {
                    o["file"] == "d1/f1.txt"
                        && o["validator"] == "trailing-whitespace"
                        && o["outcome"]["status"] == "findings"
                });
                assert!(hit, "{r}");
            }),
        ),
        (
            "a new file in a new directory",
            Box::new(|e| {
                e.write("brand/new/g.txt", "tab\there   \n");
            }),
            Box::new(|r| assert!(files(r).contains(&"brand/new/g.txt".to_string()), "{r}")),
        ),
        (
            "a file added to that new directory",
            Box::new(|e| {
                e.write("brand/new/h.txt", "x  \n");
            }),
            Box::new(|r| assert!(files(r).contains(&"brand/new/h.txt".to_string()), "{r}")),
        ),
        (
            "a deleted file",
            Box::new(|e| std::fs::remove_file(e.project.join("brand/new/g.txt")).unwrap()),
            Box::new(|r| assert!(!files(r).contains(&"brand/new/g.txt".to_string()), "{r}")),
        ),
        (
            "a renamed directory",
            Box::new(|e| std::fs::rename(e.project.join("brand"), e.project.join("moved")).unwrap()),
            Box::new(|r| assert!(files(r).contains(&"moved/new/h.txt".to_string()), "{r}")),
        ),
        (
            "an edited .gitignore",
            Box::new(|e| {
                e.write(".gitignore", "*.log\nmoved/\n");
            }),
            Box::new(|r| assert!(!files(r).iter().any(|f| f.starts_with("moved/")), "{r}")),
        ),
        (
            "an executable bit",
            Box::new(|e| {
                use std::os::unix::fs::PermissionsExt;
                let p = e.write("run.sh", "#!/bin/sh\n");
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
                settled(e);
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            }),
            Box::new(|r| {
                let hit = r["outcomes"].as_array().unwrap().iter().any(|o| {
                    o["file"] == "run.sh"
                        && o["validator"] == "shebang-executable"
                        && o["outcome"]["status"] == "findings"
                });
                assert!(hit, "{r}");
            }),
        ),
    ];
    for (what, change, expect) in changes {
        settled(&env);
        change(&env);
        let r = check(&env, &[]);
        assert_eq!(r["summary"]["unchanged"], false, "{what}: the previous answer was reused");
        expect(&r);
    }
}

/// Every outcome as (file, validator, verdict), cached or not.
fn verdicts(r: &Value) -> Vec<(String, String, Value)> {
    r["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let outcome = &o["outcome"];
            let verdict = if outcome["status"] == "cached" { outcome["verdict"].clone() } else { outcome.clone() };
            (o["file"].as_str().unwrap().to_string(), o["validator"].as_str().unwrap().to_string(), verdict)
        })
        .collect()
}

#[test]
fn after_files_change_only_their_directories_are_walked_and_the_answer_is_a_full_walks() {
    let env = Env::new();
    env.write(".gitignore", "*.log\n/c/skip.txt\n");
    env.write("a/.gitignore", "ignored.txt\n");
    for (i, dir) in ["a", "a/b", "c", "d"].iter().enumerate() {
        for j in 0..4 {
            env.write(&format!("{dir}/f{j}.txt"), format!("file {i} {j}\n"));
        }
    }
    env.write("top.txt", "top\n");
    // Each change touches files only: the next check walks just the
    // directories it touched, and answers as a check of the whole tree does.
    type Change = (&'static str, Box<dyn Fn(&Env)>);
    let changes: Vec<Change> = vec![
        ("an edited file", Box::new(|e| drop(e.write("a/b/f1.txt", "trailing   \n")))),
        ("a new file", Box::new(|e| drop(e.write("c/new.txt", "tab\there \n")))),
        (
            "new files the ignore files of the directory and of the root leave out",
            Box::new(|e| {
                e.write("a/ignored.txt", "x  \n");
                e.write("c/skip.txt", "x  \n");
                e.write("a/b/y.log", "x  \n");
            }),
        ),
        ("a deleted file", Box::new(|e| std::fs::remove_file(e.project.join("a/b/f1.txt")).unwrap())),
        (
            "a renamed file",
            Box::new(|e| std::fs::rename(e.project.join("c/new.txt"), e.project.join("c/renamed.txt")).unwrap()),
        ),
        (
            "files in two directories and at the root",
            Box::new(|e| {
                e.write("d/f0.txt", "no final newline");
                e.write("a/f2.txt", "{ not json\n");
                e.write("top.txt", "top  \n");
            }),
        ),
    ];
    for (what, change) in changes {
        settled(&env);
        change(&env);
        let r = check(&env, &[]);
        assert_eq!(r["summary"]["incremental"], true, "{what}: {}", r["summary"]);
        assert_eq!(r["summary"]["unchanged"], false, "{what}");
        // A check that walks the whole tree (--no-cache: nothing reused).
        let full = check(&env, &["--no-cache"]);
        assert_eq!(full["summary"]["incremental"], false, "{what}");
        let (got, want) = (verdicts(&r), verdicts(&full));
        let extra: Vec<_> = got.iter().filter(|v| !want.contains(v)).collect();
        let missing: Vec<_> = want.iter().filter(|v| !got.contains(v)).collect();
        assert!(got == want, "{what}: listed but not by a full walk {extra:?}; missing {missing:?}");
        for field in ["files", "pairs", "findings", "binary_files"] {
            assert_eq!(r["summary"][field], full["summary"][field], "{what}: {field}");
        }
        assert_eq!(
            r["summary"]["from_cache"].as_u64().unwrap() + r["summary"]["computed"].as_u64().unwrap(),
            full["summary"]["pairs"].as_u64().unwrap(),
            "{what}"
        );
    }
    let listed = files(&check(&env, &[]));
    for gone in ["a/ignored.txt", "c/skip.txt", "a/b/y.log", "a/b/f1.txt", "c/new.txt"] {
        assert!(!listed.contains(&gone.to_string()), "{gone} is listed: {listed:?}");
    }
    assert!(listed.contains(&"c/renamed.txt".to_string()), "{listed:?}");

    // Anything but files changing: the whole tree is walked again.
    type Walked = (&'static str, Box<dyn Fn(&Env)>);
    let structural: Vec<Walked> = vec![
        ("a new directory", Box::new(|e| drop(e.write("c/sub/g.txt", "g\n")))),
        ("an edited .gitignore", Box::new(|e| drop(e.write("a/.gitignore", "ignored.txt\nf3.txt\n")))),
        ("a removed directory", Box::new(|e| std::fs::remove_dir_all(e.project.join("c/sub")).unwrap())),
    ];
    for (what, change) in structural {
        settled(&env);
        change(&env);
        let r = check(&env, &[]);
        assert_eq!(r["summary"]["incremental"], false, "{what}: {}", r["summary"]);
        assert_eq!(r["summary"]["unchanged"], false, "{what}");
    }
    assert!(!files(&check(&env, &[])).contains(&"a/f3.txt".to_string()), "the new ignore rule holds");
}

/// A directory whose name is not UTF-8 (`a\xff`) and one named by its
/// lossy form (`a\u{FFFD}`): a change in the second is an update of that
/// directory alone, and the first one's files stay in the answer.
#[test]
fn an_update_tells_a_directory_from_one_named_by_its_lossy_form() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let raw = env.project.join(std::ffi::OsStr::from_bytes(b"a\xff"));
    std::fs::create_dir(&raw).unwrap();
    std::fs::write(raw.join("x.txt"), "trailing \n").unwrap();
    env.write("a\u{FFFD}/y.txt", "ok\n");
    let whole = |r: &Value| {
        assert_eq!(r["summary"]["files"], 2, "{}", r["summary"]);
        assert_eq!(r["summary"]["findings"], 1, "{}", r["summary"]);
    };
    whole(&settled(&env));
    env.write("a\u{FFFD}/y.txt", "ok, edited\n");
    let r = check(&env, &[]);
    assert_eq!(r["summary"]["incremental"], true, "{}", r["summary"]);
    whole(&r);
    whole(&settled(&env));
}

/// [`settled`] for a check with these arguments.
fn settled_with(env: &Env, args: &[&str]) -> Value {
    settled_in(env, &env.project, args)
}

/// [`settled_with`], run in `dir`.
fn settled_in(env: &Env, dir: &std::path::Path, args: &[&str]) -> Value {
    for _ in 0..3 {
        let r = check_in(env, dir, args);
        if r["summary"]["unchanged"] == true {
            return r;
        }
    }
    panic!("three checks {args:?} of an unchanged tree were never answered from the previous run");
}

fn finding(r: &Value, file: &str, validator: &str) -> bool {
    r["outcomes"].as_array().unwrap().iter().any(|o| {
        let outcome = &o["outcome"];
        o["file"] == file
            && o["validator"] == validator
            && !(outcome["findings"].is_null() && outcome["verdict"]["findings"].is_null())
    })
}

#[test]
fn incremental_answers_build_on_each_other_and_are_not_used_where_a_change_could_be_missed() {
    let env = Env::new();
    for d in ["a", "b", "shared"] {
        env.write(&format!("{d}/f1.txt"), "one\n");
        env.write(&format!("{d}/f2.txt"), "two\n");
    }
    // Two edits, one check after each: the second builds on the first's
    // answer.
    settled(&env);
    env.write("a/f1.txt", "one  \n");
    let first = check(&env, &[]);
    assert_eq!(first["summary"]["incremental"], true, "{}", first["summary"]);
    env.write("b/f2.txt", "two  \n");
    let second = check(&env, &[]);
    assert_eq!(second["summary"]["incremental"], true, "{}", second["summary"]);
    assert!(finding(&second, "a/f1.txt", "trailing-whitespace") && finding(&second, "b/f2.txt", "trailing-whitespace"));
    assert_eq!(verdicts(&second), verdicts(&check(&env, &["--no-cache"])));

    // A file named on the command line is checked even where ignored; a
    // walk of its directory would leave it out.
    env.write(".gitignore", "*.log\n");
    env.write("a/x.log", "log  \n");
    let args = [".", "a/x.log"];
    settled_with(&env, &args);
    env.write("a/f2.txt", "edited\n");
    let r = check(&env, &args);
    assert!(finding(&r, "a/x.log", "trailing-whitespace"), "{r}");

    // A write through a hard link is seen only in the directory written in:
    // the answer is reused while the linked file is as it was (its stamp;
    // its content too, as the link just moved its change time), and a write
    // through one link is seen by the other's `stat` look.
    std::fs::hard_link(env.project.join("a/f2.txt"), env.project.join("b/linked.txt")).unwrap();
    settled(&env);
    env.write("a/f2.txt", "edited through a  \n");
    let r = check(&env, &[]);
    assert_eq!(r["summary"]["incremental"], false, "{}", r["summary"]);
    assert!(finding(&r, "b/linked.txt", "trailing-whitespace"), "{r}");
    std::fs::remove_file(env.project.join("b/linked.txt")).unwrap();

    // The same with a link made after the answer was remembered: the
    // directories where files changed hold a file with another link.
    env.write("a/h.txt", "fine\n");
    settled(&env);
    std::fs::hard_link(env.project.join("a/h.txt"), env.project.join("b/h2.txt")).unwrap();
    env.write("b/h2.txt", "edited through b  \n");
    let r = check(&env, &[]);
    assert_eq!(r["summary"]["incremental"], false, "{}", r["summary"]);
    assert!(finding(&r, "a/h.txt", "trailing-whitespace"), "{r}");
    std::fs::remove_file(env.project.join("b/h2.txt")).unwrap();
    settled(&env);

    // An ignore file that is a symbolic link changes when its target does,
    // which may be where no watch sees it: nothing is remembered.
    env.write("shared/rules", "f1.txt\n");
    std::os::unix::fs::symlink("../shared/rules", env.project.join("b/.gitignore")).unwrap();
    for _ in 0..3 {
        let r = check(&env, &[]);
        assert_eq!(r["summary"]["unchanged"], false, "{}", r["summary"]);
        assert!(files(&r).contains(&"b/f2.txt".to_string()));
    }
    env.write("shared/rules", "f1.txt\nf2.txt\n");
    let r = check(&env, &[]);
    assert_eq!(r["summary"]["incremental"], false, "{}", r["summary"]);
    assert!(!files(&r).contains(&"b/f2.txt".to_string()), "{r}");
}

#[test]
fn a_reused_answer_is_dropped_by_cache_commands_a_reload_and_no_cache() {
    let env = Env::new();
    tree(&env, 10);
    check(&env, &[]);
    settled(&env);
    env.json(&["cache", "clear"]);
    let r = check(&env, &[]);
    assert_eq!(r["summary"]["unchanged"], false);
    assert!(r["summary"]["computed"].as_u64().unwrap() > 0, "{}", r["summary"]);

    settled(&env);
    env.json(&["cache", "prune"]);
    assert_eq!(check(&env, &[])["summary"]["unchanged"], false, "after a prune");

    settled(&env);
    env.json(&["reload"]);
    assert_eq!(check(&env, &[])["summary"]["unchanged"], false, "after a reload");

    settled(&env);
    let fresh = check(&env, &["--no-cache"]);
    assert_eq!(fresh["summary"]["unchanged"], false, "--no-cache computes");
    assert_eq!(fresh["summary"]["from_cache"], 0);
    // It rewrote the cache: the answer remembered before it is gone too.
    assert_eq!(check(&env, &[])["summary"]["unchanged"], false, "after --no-cache");
}

/// An answer is remembered only if a warm run would give it: not when a
/// verdict in it was reported but not cached. A tool's failed run (its
/// findings carry `verdict:tool-failed`) is run again at the next check,
/// and a verdict too large to store is computed again, not shown `cached`.
#[test]
fn an_answer_with_a_verdict_the_cache_did_not_keep_is_not_remembered() {
    let env = Env::new();
    let flag = env.tmp.path().join("fail");
    env.write(
        "verdict.toml",
        format!(
            r#"
builtins = false
[validators.flaky]
kind = "command"
command = ["sh", "-c", "if [ -e {flag} ]; then echo \"$1:1: cannot reach the service\"; exit 2; fi", "flaky"]
mode = "per_file"
files = ["*.src"]
parser = "regex"
pattern = '^(?P<file>[^:]+):(?P<line>\d+): (?P<message>.*)$'

[validators.loud]
kind = "command"
command = ["sh", "-c", "awk -v f=\"$1\" 'BEGIN {{ s = \"x\"; while (length(s) < 12000) s = s s; for (i = 1; i <= 1000; i++) printf \"%s:%d: %s\\n\", f, i, s }}'", "loud"]
mode = "per_file"
files = ["*.big"]
parser = "regex"
max_output = "64MiB"
pattern = '^(?P<file>[^:]+):(?P<line>\d+): (?P<message>.*)$'
"#,
            flag = flag.display()
        ),
    );
    env.write("a.src", "one\n");
    settled(&env);
    // The tool fails on a.src: its findings say so.
    std::fs::write(&flag, "").unwrap();
    env.write("a.src", "two\n");
    let failed = check(&env, &["--validator", "flaky"]);
    let text = failed["outcomes"][0]["outcome"].to_string();
    assert!(text.contains("verdict:tool-failed"), "{failed}");
    // The service is back: the next check runs the tool again.
    std::fs::remove_file(&flag).unwrap();
    let again = check(&env, &["--validator", "flaky"]);
    assert_eq!(again["summary"]["unchanged"], false, "{}", again["summary"]);
    assert_eq!(again["summary"]["outcomes"]["passed"], 1, "{}", again["summary"]);

    // A verdict of 1,000 findings of 16 KiB each is larger than the
    // cache stores.
    env.write("x.big", "x\n");
    let loud = |r: &Value| r["summary"]["outcomes"].clone();
    let first = check(&env, &["--validator", "loud"]);
    assert_eq!(loud(&first)["findings"], 1, "{}", first["summary"]);
    for _ in 0..2 {
        let next = check(&env, &["--validator", "loud"]);
        assert_eq!(next["summary"]["unchanged"], false, "{}", next["summary"]);
        assert_eq!(
            (loud(&next)["findings"].as_u64(), loud(&next)["cached"].as_u64()),
            (Some(1), Some(0)),
            "{}",
            next["summary"]
        );
    }
}

/// A file whose tool gets no verdict to cache (it crashed, is missing or
/// timed out) keeps its built-ins' verdicts: they have an entry of their
/// own, and once the tool answers, the file's entry holds every verdict.
#[test]
fn a_files_built_ins_stay_cached_while_its_tool_fails() {
    let env = Env::new();
    let flag = env.tmp.path().join("fail");
    env.write(
        "verdict.toml",
        format!(
            r#"
[validators.tool]
kind = "command"
command = ["sh", "-c", "if [ -e {flag} ]; then kill -KILL $$; fi", "tool"]
mode = "per_file"
files = ["*.src"]
parser = "exit_code"
"#,
            flag = flag.display()
        ),
    );
    env.write("a.src", "trailing \n");
    env.write("b.txt", "fine\n");
    std::fs::write(&flag, "").unwrap();
    let run = || {
        let out = env.cmd().args(["check", "--format", "json", "."]).output().expect("run verdict");
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let status = |r: &Value, file: &str, validator: &str| {
        let o = r["outcomes"].as_array().unwrap().iter().find(|o| o["file"] == file && o["validator"] == validator);
        o.unwrap_or_else(|| panic!("no {file} {validator}: {r}"))["outcome"]["status"].as_str().unwrap().to_owned()
    };
    let builtins = |r: &Value| -> Vec<String> {
        r["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["file"] == "a.src" && o["validator"] != "tool")
            .map(|o| o["outcome"]["status"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = run();
    assert_eq!(status(&first, "a.src", "tool"), "error", "{first}");
    assert!(builtins(&first).iter().all(|s| s != "cached") && builtins(&first).len() >= 7, "{first}");
    for _ in 0..2 {
        let again = run();
        assert_eq!(status(&again, "a.src", "tool"), "error", "{again}");
        assert!(builtins(&again).iter().all(|s| s == "cached"), "built-ins recomputed: {again}");
        assert_eq!(again["summary"]["computed"], 1, "only the tool runs: {}", again["summary"]);
    }
    // The tool answers, and the next check takes every verdict from the
    // cache: only the new file's are computed.
    std::fs::remove_file(&flag).unwrap();
    let back = run();
    assert_eq!(status(&back, "a.src", "tool"), "passed", "{back}");
    assert_eq!(back["summary"]["computed"], 1, "{}", back["summary"]);
    env.write("c.txt", "new\n");
    let settled = run();
    assert_eq!(status(&settled, "a.src", "tool"), "cached", "{settled}");
    assert!(builtins(&settled).iter().all(|s| s == "cached"), "{settled}");
    let new = settled["outcomes"].as_array().unwrap().iter().filter(|o| o["file"] == "c.txt").count();
    assert_eq!(settled["summary"]["computed"], new, "{}", settled["summary"]);
}

/// A check filtered by `--validator` or `--dimension` takes its
/// validators' verdicts from the entries an unfiltered check keeps (with a
/// tool among their members, whose key holds the path), rather than
/// computing them again.
#[test]
fn a_filtered_check_is_answered_from_an_unfiltered_checks_entries() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        "[validators.t]\nkind = \"command\"\ncommand = [\"true\"]\nmode = \"per_file\"\nfiles = [\"*.txt\"]\nparser = \"exit_code\"\n",
    );
    for i in 0..5 {
        env.write(&format!("d/{i}.json"), format!("{{\"a\": {i}}}\n"));
        env.write(&format!("d/{i}.txt"), format!("line {i} \n"));
    }
    settled(&env);
    for filter in
        [&["--validator", "json"][..], &["--dimension", "format"], &["--validator", "utf8", "--validator", "t"]]
    {
        let r = check(&env, filter);
        let s = &r["summary"];
        assert!(s["pairs"].as_u64().unwrap() > 0, "{filter:?}: {s}");
        assert_eq!(
            (s["computed"].as_u64(), s["from_cache"].as_u64()),
            (Some(0), s["pairs"].as_u64()),
            "{filter:?}: {s}"
        );
    }
    // Its verdicts are the unfiltered check's: the findings too.
    let r = check(&env, &["--validator", "trailing-whitespace"]);
    assert_eq!(r["summary"]["outcomes"]["cached"], r["summary"]["pairs"], "{}", r["summary"]);
    assert_eq!(r["summary"]["cached_with_findings"], 5, "{}", r["summary"]);
    // A file changed since is computed (for the filter's validators alone).
    env.write("d/0.json", "{\"a\": 10}\n");
    let r = check(&env, &["--validator", "json"]);
    assert_eq!(r["summary"]["computed"], 1, "{}", r["summary"]);
}

/// A worktree's `.git` is a file naming its git directory, whose
/// `commondir` names the repository's, where git's excludes are: those are
/// watched, so an unchanged worktree is answered from before and an edit of
/// the excludes is seen, for a project at the worktree's top or in a
/// subdirectory of it.
#[test]
fn a_worktrees_excludes_are_watched_where_its_git_file_leads() {
    let env = Env::new();
    let main = env.tmp.path().join("main.git");
    let named = main.join("worktrees/wt");
    std::fs::create_dir_all(&named).unwrap();
    std::fs::create_dir_all(main.join("info")).unwrap();
    std::fs::write(named.join("commondir"), "../..\n").unwrap();
    let _ = std::fs::remove_dir_all(env.project.join(".git"));
    env.write(".git", format!("gitdir: {}\n", named.display()));
    tree(&env, 3);
    env.write("inner/verdict.toml", "");
    env.write("inner/a.txt", "a\n");
    env.write("inner/b.log", "b\n");
    let inner = env.project.join("inner");
    let _stop = env.stop_when_done(&inner);
    let files_of = |r: &Value| files(r).len();
    for dir in [&env.project, &inner] {
        let before = files_of(&settled_in(&env, dir, &[]));
        // git's own work in its directories is no change of the tree.
        std::fs::write(named.join("HEAD"), "ref: refs/heads/x\n").unwrap();
        std::fs::write(main.join("packed-refs"), "x").unwrap();
        assert_eq!(check_in(&env, dir, &[])["summary"]["unchanged"], true, "{}", dir.display());
        // But for its index, which says which ignored files git tracks
        // (and a check covers).
        std::fs::write(named.join("index"), "x").unwrap();
        assert_eq!(check_in(&env, dir, &[])["summary"]["unchanged"], false, "{}", dir.display());
        // Its excludes are.
        std::fs::write(main.join("info/exclude"), "*.log\n").unwrap();
        let r = check_in(&env, dir, &[]);
        assert_eq!(r["summary"]["unchanged"], false, "{}", dir.display());
        assert_eq!(files_of(&r), before - 1, "b.log is excluded now: {}", dir.display());
        std::fs::write(main.join("info/exclude"), "").unwrap();
    }
    // A git directory inside the project (`git init --separate-git-dir`),
    // which the walk walks too: its files are the tree's, and a new one is
    // seen.
    let inside = env.project.join("repo-dir");
    std::fs::create_dir_all(inside.join("info")).unwrap();
    env.write(".git", format!("gitdir: {}\n", inside.display()));
    std::fs::write(inside.join("commondir"), ".\n").unwrap();
    settled(&env);
    env.write("repo-dir/new.txt", "new  \n");
    let r = check(&env, &[]);
    assert_eq!(r["summary"]["unchanged"], false, "{}", r["summary"]);
    assert!(files(&r).contains(&"repo-dir/new.txt".to_string()), "{:?}", files(&r));
    // Ignored, as git's own directory usually is, it is watched for the
    // excludes and the index only: git's other work there changes nothing.
    env.write(".gitignore", "/repo-dir/\n");
    settled(&env);
    env.write("repo-dir/packed-refs", "rewritten by git gc");
    assert_eq!(check(&env, &[])["summary"]["unchanged"], true);
    // A `.git` file naming a git directory that is not there (it may come
    // back, moved or mounted, unseen): nothing is reused.
    env.write(".git", "gitdir: /somewhere/else\n");
    for dir in [&env.project, &inner] {
        for _ in 0..4 {
            assert_eq!(check_in(&env, dir, &[])["summary"]["unchanged"], false);
        }
    }
}

/// Git directories whose excludes the walk reads, found by an audit's
/// differential fuzzing to leave stale answers: one moved or replaced by a
/// copy (no event reaches the watches inside it), one inside the project
/// that the walk walks too (its excludes edited: an ignore rule, not a file
/// of the tree), and a worktree nested in the project (the popular bare
/// repository with worktrees beside it).
#[test]
fn excludes_of_moved_walked_and_nested_git_directories_are_seen() {
    let env = Env::new();
    let _ = std::fs::remove_dir_all(env.project.join(".git"));
    env.write("a/x.txt", "ok\n");
    env.write("top.txt", "ok\n");
    let listed = |r: &Value, f: &str| files(r).contains(&f.to_string());
    // A worktree of a repository elsewhere, whose git directory is then
    // replaced by a copy with other excludes.
    let main = env.tmp.path().join("main.git");
    let named = main.join("worktrees/wt");
    std::fs::create_dir_all(&named).unwrap();
    std::fs::create_dir_all(main.join("info")).unwrap();
    std::fs::write(named.join("commondir"), "../..\n").unwrap();
    std::fs::write(main.join("info/exclude"), "a/\n").unwrap();
    env.write(".git", format!("gitdir: {}\n", named.display()));
    assert!(!listed(&settled(&env), "a/x.txt"));
    let copy = env.tmp.path().join("copy.git");
    assert!(std::process::Command::new("cp").arg("-a").arg(&main).arg(&copy).status().unwrap().success());
    std::fs::write(copy.join("info/exclude"), "").unwrap();
    std::fs::rename(&main, env.tmp.path().join("old.git")).unwrap();
    std::fs::rename(&copy, &main).unwrap();
    let r = check(&env, &[]);
    assert!(listed(&r, "a/x.txt"), "the new git directory excludes nothing: {}", r["summary"]);
    // A bare repository inside the project, walked, and a worktree of it
    // nested in the project.
    std::fs::remove_file(env.project.join(".git")).unwrap();
    let bare = env.project.join("bare");
    std::fs::create_dir_all(bare.join("info")).unwrap();
    std::fs::create_dir_all(bare.join("worktrees/main")).unwrap();
    std::fs::write(bare.join("worktrees/main/commondir"), "../..\n").unwrap();
    env.write("main/.git", format!("gitdir: {}\n", bare.join("worktrees/main").display()));
    env.write("main/b/y.txt", "ok\n");
    assert!(listed(&settled(&env), "main/b/y.txt"));
    std::fs::write(bare.join("info/exclude"), "y.txt\n").unwrap();
    let r = check(&env, &[]);
    assert!(!listed(&r, "main/b/y.txt"), "excluded now: {}", r["summary"]);
    // The same, with the bare repository ignored (not walked).
    env.write(".gitignore", "/bare/\n");
    std::fs::write(bare.join("info/exclude"), "").unwrap();
    assert!(listed(&settled(&env), "main/b/y.txt"));
    std::fs::write(bare.join("info/exclude"), "y.txt\n").unwrap();
    let r = check(&env, &[]);
    assert!(!listed(&r, "main/b/y.txt"), "excluded again: {}", r["summary"]);
    // A submodule in the project: its `.git` file's relative `gitdir:` is
    // read from the daemon's working directory, where it leads nowhere, and
    // its git directory has no `commondir`: the walker reads no excludes
    // there, and answers are reused.
    std::fs::create_dir_all(env.project.join("modules/sub")).unwrap();
    env.write("sub/.git", "gitdir: ../modules/sub\n");
    env.write("sub/s.txt", "ok\n");
    assert!(listed(&settled(&env), "sub/s.txt"));
}

#[test]
fn with_watch_off_every_check_walks() {
    let env = Env::new();
    env.write("verdict.toml", "[check]\nwatch = false\n");
    tree(&env, 10);
    for _ in 0..4 {
        assert_eq!(check(&env, &[])["summary"]["unchanged"], false);
    }
}

#[test]
fn the_executable_bit_is_part_of_the_key_where_a_verdict_depends_on_it() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.write("verdict.toml", "[check]\nwatch = false\n");
    let script = env.write("run.sh", "#!/bin/sh\n");
    let status = |r: &Value| {
        r["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["file"] == "run.sh" && o["validator"] == "shebang-executable")
            .map(|o| o["outcome"].clone())
            .unwrap()
    };
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(status(&check(&env, &[]))["status"], "passed");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(status(&check(&env, &[]))["status"], "findings", "same bytes, no longer executable");
    // Only the owner's bit counts, as git records only that one.
    // Mode 655 is keyed as 644 was: its verdict comes from the cache.
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o655)).unwrap();
    let group = status(&check(&env, &[]));
    assert_eq!((&group["status"], &group["verdict"]["status"]), (&json!("cached"), &json!("findings")), "{group}");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let back = check(&env, &[]);
    assert_eq!(status(&back)["status"], "cached");
    assert_eq!(status(&back)["verdict"]["status"], "passed");
}

/// A file system mounted for the test's life, unmounted after: a small
/// tmpfs (a disk that is, nearly, full, or one that cannot be written at
/// all), or one with coarse times.
struct Mounted(std::path::PathBuf);

impl Mounted {
    fn mount(at: std::path::PathBuf) -> Mounted {
        Mounted::mount_sized(at, "64k")
    }

    fn mount_sized(at: std::path::PathBuf, size: &str) -> Mounted {
        Mounted::mount_with(at, &format!("size={size}"))
    }

    fn mount_with(at: std::path::PathBuf, options: &str) -> Mounted {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test needs root to mount a small tmpfs; run the suite as root (as CI does)"
        );
        std::fs::create_dir_all(&at).unwrap();
        let st = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(&at).status();
        assert!(st.is_ok_and(|s| s.success()), "mount -t tmpfs failed (util-linux's mount is needed)");
        Mounted(at)
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_checks_still_run() {
    let env = Env::new();
    tree(&env, 5);
    let disk = Mounted::mount(env.tmp.path().join("tiny"));
    let data = disk.0.join("data");
    let data_s = data.to_str().unwrap();
    let r = check(&env, &["--data-dir", data_s]);
    assert_eq!(r["summary"]["cache_used"], false);
    assert_eq!(r["summary"]["outcomes"]["error"], 0, "{}", r["summary"]);
    let why = env.json(&["status"])["cache"]["error"].as_str().unwrap().to_string();
    assert!(why.contains("no space left") && why.contains(data_s), "{why}");
    let out = env.run(&["cache", "stats"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no space left"));
    env.run_ok(&["stop"], 0);
}

/// A project of 20 files whose cache (the returned directory, for
/// `--data-dir`) is on an 8 MiB file system of its own, with small
/// memtables, so that RocksDB's preallocated log runs out soon.
fn on_a_small_disk() -> (Env, Mounted, std::path::PathBuf) {
    let env = Env::new();
    env.write("verdict.toml", "[cache]\nwrite_buffer = \"64KiB\"\n");
    tree(&env, 20);
    let disk = Mounted::mount_sized(env.tmp.path().join("small"), "8m");
    let data = disk.0.join("data");
    (env, disk, data)
}

/// Fills a mounted file system to its last byte; returns the filler file.
fn fill(disk: &Mounted) -> std::path::PathBuf {
    use std::io::Write;
    let filler = disk.0.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    filler
}

/// 2,000 new files, each with a finding, for a check to cache.
fn new_content(env: &Env) {
    for i in 0..2000 {
        env.write(&format!("new/n{i}.txt"), format!("fresh {i}   \n"));
    }
}

/// `cache clear` on a disk the cache filled, after a check whose writes
/// failed: the database takes no deletes then, so it is made anew, which
/// gives the disk its room back (it said to run `cache clear` and then
/// failed itself).
#[test]
fn cache_clear_on_a_full_disk_makes_the_cache_anew_and_frees_it() {
    let (env, disk, data) = on_a_small_disk();
    let data_s = data.to_str().unwrap();
    check(&env, &["--data-dir", data_s]);
    fill(&disk);
    new_content(&env);
    let full = check(&env, &["--data-dir", data_s]);
    assert!(
        full["summary"]["cache_error"].as_str().is_some_and(|e| e.contains("no space left")),
        "{}",
        full["summary"]
    );
    let free = || nix::sys::statvfs::statvfs(&disk.0).map(|s| s.blocks_available() * s.fragment_size()).unwrap();
    let before = free();
    let out = env.run_ok(&["--json", "cache", "clear", "--data-dir", data_s], 0);
    let reply: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(reply["recreated"], true, "{reply}");
    assert!(free() > before, "no room given back: {before} -> {}", free());
    let status = env.json(&["status", "--data-dir", data_s]);
    assert_eq!((&status["cache"]["available"], &status["cache"]["writes_failed"]), (&json!(true), &json!(false)));
    env.run_ok(&["stop"], 0);
}

#[test]
fn a_disk_that_fills_up_loses_only_new_results_and_the_daemon_goes_on() {
    let (env, disk, data) = on_a_small_disk();
    let data_s = data.to_str().unwrap();
    let first = check(&env, &["--data-dir", data_s]);
    assert_eq!(first["summary"]["cache_used"], true);
    check(&env, &["--data-dir", data_s]);
    // Fill the disk to the last byte.
    let filler = fill(&disk);
    // New content cannot be cached: the check still answers, and the cached
    // answers are still served.
    new_content(&env);
    let full = check(&env, &["--data-dir", data_s]);
    assert_eq!(full["summary"]["outcomes"]["error"], 0, "{}", full["summary"]);
    assert!(full["summary"]["from_cache"].as_u64().unwrap() > 0, "{}", full["summary"]);
    assert!(full["summary"]["findings"].as_u64().unwrap() > first["summary"]["findings"].as_u64().unwrap());
    assert_eq!(env.json(&["ping", "--data-dir", data_s])["pong"], true);
    // The run whose writes failed says so itself.
    let why = full["summary"]["cache_error"].as_str().unwrap_or_default();
    assert!(why.contains("could not be written to the cache") && why.contains("no space left"), "{}", full["summary"]);
    assert_eq!(full["summary"]["cache_used"], true);
    let status = env.json(&["status", "--data-dir", data_s]);
    assert_eq!(status["cache"]["writes_failed"], true, "{status}");
    // A run whose writes failed is not remembered: a warm run would compute.
    let again = check(&env, &["--data-dir", data_s]);
    assert_eq!(again["summary"]["unchanged"], false, "{}", again["summary"]);
    // The failure was real, and logged with what to do.
    let log = env.wait_for_log("cannot write results to the cache");
    assert!(log.contains("cannot write results to the cache") && log.contains("no space left"), "{log}");
    // Once per check that failed (the full one, and the one after), not
    // once per failed write.
    let log = env.run_ok(&["logs", "-n", "100000"], 0);
    let warned =
        log.lines().filter(|l| l.contains(" WARN ") && l.contains("cannot write results to the cache")).count();
    assert!((1..=2).contains(&warned), "{warned} warnings:\n{log}");
    // Space again: the next run caches what the full disk could not take.
    std::fs::remove_file(&filler).unwrap();
    check(&env, &["--data-dir", data_s]);
    let r = check(&env, &["--data-dir", data_s]);
    assert_eq!(r["summary"]["computed"], 0, "{}", r["summary"]);
    let status = env.json(&["status", "--data-dir", data_s]);
    assert_eq!(status["cache"]["writes_failed"], false, "reopened: {status}");
    env.run_ok(&["stop"], 0);
}

#[test]
fn a_cache_directory_that_cannot_be_written_is_a_clear_error() {
    // Root may write anywhere its permissions allow; a read-only file system
    // is what refuses root too (the same error class as EACCES).
    let env = Env::new();
    tree(&env, 3);
    let disk = Mounted::mount_with(env.tmp.path().join("ro"), "size=1m,ro");
    let data = disk.0.join("data");
    let data_s = data.to_str().unwrap();
    let r = check(&env, &["--data-dir", data_s]);
    assert_eq!(r["summary"]["cache_used"], false);
    assert_eq!(r["summary"]["outcomes"]["error"], 0, "{}", r["summary"]);
    let why = env.json(&["status"])["cache"]["error"].as_str().unwrap().to_string();
    assert!(why.contains("permission denied") && why.contains(data_s) && why.contains("--data-dir"), "{why}");
    env.run_ok(&["stop"], 0);
}

#[test]
fn checking_a_subdirectory_sees_an_edited_gitignore_above_it() {
    let env = Env::new();
    env.write("sub/a.txt", "a\n");
    env.write("sub/b.log", "b\n");
    let sub = env.project.join("sub");
    let check_sub = || {
        let out = env.cmd().args(["check", "--format", "json", "."]).current_dir(&sub).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let before = check_sub();
    assert_eq!(before["summary"]["files"], 2);
    let mut settled = false;
    for _ in 0..3 {
        if check_sub()["summary"]["unchanged"] == true {
            settled = true;
            break;
        }
    }
    assert!(settled, "an unchanged subdirectory was never answered from the previous run");
    // The root's .gitignore applies to sub/ too.
    env.write(".gitignore", "*.log\n");
    let after = check_sub();
    assert_eq!(after["summary"]["unchanged"], false);
    assert_eq!(after["summary"]["files"], 1, "{}", after["summary"]);
}

#[test]
fn a_cache_inside_the_project_is_neither_checked_nor_a_change() {
    let env = Env::new();
    env.write("verdict.toml", "[cache]\ndir = \"cache-here\"\n");
    tree(&env, 5);
    let first = check(&env, &[]);
    assert!(env.project.join("cache-here/CURRENT").exists(), "the cache is where the configuration says");
    assert!(!files(&first).iter().any(|f| f.starts_with("cache-here/")), "{:?}", files(&first));
    // Its own writes do not count as changes to the tree.
    let again = settled(&env);
    assert_eq!(again["summary"]["files"], first["summary"]["files"]);
}

#[test]
fn a_run_in_flight_writes_nothing_after_a_cache_clear() {
    let env = Env::new();
    let marks = env.tmp.path().join("marks");
    env.write("verdict.toml", crate::support::slow_tool(&marks, "x"));
    for i in 0..5 {
        env.write(&format!("f{i}.txt"), format!("{i}\n"));
    }
    env.start();
    let mut c = env.connect();
    let id = c.send("check", json!({}));
    crate::support::wait_for_first_mark(&marks);
    env.json(&["cache", "clear"]);
    let (reply, _) = c.reply(id);
    assert_eq!(reply["result"]["summary"]["outcomes"]["error"], 0, "{reply}");
    let stats = env.json(&["cache", "stats"]);
    assert_eq!((stats["entries"].as_u64(), stats["file_entries"].as_u64()), (Some(0), Some(0)), "{stats}");
    let next = check(&env, &[]);
    assert_eq!(next["summary"]["from_cache"], 0, "{}", next["summary"]);
}

/// A check begun after a `cache clear` (or with `--no-cache`) does not take
/// over the verdict of a check begun before it, still computing the same
/// pair: that tool read its rules before the clear, which was made to be
/// rid of them. (Before, the later check reported the old verdict and
/// wrote it into the cleared cache, where every later check found it.)
#[test]
fn a_check_after_a_cache_clear_does_not_take_a_verdict_computed_before_it() {
    let env = Env::new();
    let (rule, marks, release) =
        (env.tmp.path().join("rule"), env.tmp.path().join("marks"), env.tmp.path().join("release"));
    std::fs::write(&rule, "nothing-matches\n").unwrap();
    // Reads its rule, says it started, waits to be let go, then reports
    // a finding if the file matches the rule it read.
    let tool = format!(
        "r=$(cat {rule}); echo run >> {marks}; while [ ! -e {release} ]; do sleep 0.02; done; \
         if grep -q \"$r\" \"$1\"; then echo \"$1:1:1: error: matched $r\"; exit 1; fi",
        rule = rule.display(),
        marks = marks.display(),
        release = release.display()
    );
    env.write(
        "verdict.toml",
        format!(
            "[validators.rule]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", {tool:?}, \"rule\"]\nmode = \"per_file\"\n\
             parser = \"regex\"\npattern = '^(?P<file>[^:]+):(?P<line>\\d+):(?P<column>\\d+): (?P<severity>\\w+): (?P<message>.*)$'\n\
             files = [\"*.txt\"]\n"
        ),
    );
    env.write("a.txt", "hello world\n");
    env.start();
    let runs = || std::fs::read_to_string(&marks).map_or(0, |m| m.lines().count());
    // The clear last: two `--no-cache` checks both write what they
    // computed, in whichever order they end, and only a clear's writes
    // are ordered (the earlier check writes nothing after it).
    for no_cache in [true, false] {
        let _ = std::fs::remove_file(&release);
        let _ = std::fs::remove_file(&marks);
        std::fs::write(&rule, "nothing-matches\n").unwrap();
        if !no_cache {
            env.run_ok(&["cache", "clear"], 0);
        }
        let mut first = env.connect();
        let first_id = first.send("check", json!({ "paths": ["a.txt"], "validators": ["rule"], "no_cache": no_cache }));
        wait_until(Duration::from_secs(10), "the first check's tool to start", || runs() == 1);
        // The rule changes; the user clears the cache (or asks for no cache).
        std::fs::write(&rule, "world\n").unwrap();
        if !no_cache {
            env.run_ok(&["cache", "clear"], 0);
        }
        let mut second = env.connect();
        let second_id =
            second.send("check", json!({ "paths": ["a.txt"], "validators": ["rule"], "no_cache": no_cache }));
        let ran_twice = std::panic::catch_unwind(|| {
            wait_until(Duration::from_secs(10), "the second check to run the tool itself", || runs() == 2)
        });
        std::fs::write(&release, "").unwrap();
        let (a, _) = first.reply(first_id);
        let (b, _) = second.reply(second_id);
        assert!(ran_twice.is_ok(), "no_cache {no_cache}: the second check waited for the first's verdict: {b}");
        assert_eq!(a["result"]["summary"]["outcomes"]["passed"], 1, "{a}");
        assert_eq!(b["result"]["summary"]["outcomes"]["findings"], 1, "no_cache {no_cache}: {b}");
    }
    // What the cache holds now is the new rule's verdict, not the one
    // computed before the clear.
    let next = check(&env, &["--validator", "rule", "a.txt"]);
    assert_eq!(next["summary"]["cached_with_findings"], 1, "{}", next["summary"]);
    env.run_ok(&["stop"], 0);
}

#[test]
fn a_new_build_of_verdict_does_not_reuse_its_built_ins_results() {
    let env = Env::new();
    tree(&env, 20);
    let cold = check(&env, &[]);
    let pairs = cold["summary"]["pairs"].as_u64().unwrap();
    assert_eq!(check(&env, &[])["summary"]["from_cache"].as_u64().unwrap(), pairs);
    // Another build of verdict (its daemon replaces the running one), whose
    // built-ins may check otherwise.
    let client = crate::support::another_build(&env, "new-build");
    let run = |exe: &std::path::Path| -> Value {
        let out = crate::support::output_of_fresh_copy(env.cmd_of(exe).args(["check", "--format", "json"]));
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let upgraded = run(&client);
    assert_eq!(upgraded["summary"]["pairs"].as_u64().unwrap(), pairs);
    assert_eq!(upgraded["summary"]["from_cache"], 0, "the new build's built-ins start afresh");
    assert_eq!(run(&client)["summary"]["from_cache"].as_u64().unwrap(), pairs, "and then cache their own");
}

/// A relative `--data-dir` is the caller's, as any relative path on a
/// command line is: the daemon starts in the project root, but the cache
/// goes where the command was run, and the walk leaves it out.
#[test]
fn a_relative_data_dir_is_resolved_where_the_command_runs_and_never_checked() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    env.write("sub/b.txt", "b\n");
    let in_sub = |args: &[&str]| {
        let out = env.cmd().current_dir(env.project.join("sub")).args(args).output().unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let first = in_sub(&["--data-dir", "rel-cache", "check", "--format", "json", "."]);
    assert!(env.project.join("sub/rel-cache").is_dir(), "the cache is not in sub/rel-cache");
    assert!(!env.project.join("rel-cache").exists(), "the cache went to the project root");
    assert_eq!(first["summary"]["files"], 1, "{}", first["summary"]);
    // Its own files are never checked: the whole project is still two files.
    let all = check(&env, &[]);
    assert_eq!(all["summary"]["files"], 2, "{}", all["summary"]);
    let status = env.json(&["status"]);
    assert_eq!(status["cache"]["path"].as_str(), env.project.join("sub/rel-cache").to_str(), "{status}");
}

/// A check run without the cache it is configured to use says so: in the
/// report's summary, and on stderr; a cache turned off is not an error.
#[test]
fn a_check_without_its_cache_says_why() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    // A file of the user's, refused as the cache: checked as any (clean).
    env.write("not-a-dir", "x\n");
    env.write("verdict.toml", "[cache]\ndir = \"not-a-dir\"\n");
    let out = env.run(&["check", "--format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["summary"]["cache_used"], false);
    assert!(r["summary"]["cache_error"].is_string(), "{}", r["summary"]);
    assert!(err.contains("result cache is unavailable"), "{err}");
    env.run_ok(&["stop"], 0);
    env.write("verdict.toml", "[cache]\nenabled = false\n");
    let out = env.run(&["check", "--format", "json"]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["summary"].get("cache_error"), None, "{}", r["summary"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("unavailable"));
}

/// `--data-dir` naming another cache than the running daemon's is refused
/// (exit 2, naming both), not silently ignored; naming the same one, or
/// none, is fine.
#[test]
fn a_data_dir_the_running_daemon_does_not_use_is_refused() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let mine = env.project.join("mine");
    let mine_arg = mine.to_str().unwrap();
    env.run_ok(&["--data-dir", mine_arg, "check"], 0);
    for args in
        [&["--data-dir", "other", "check"][..], &["--data-dir", "other", "daemon"], &["--data-dir", "other", "status"]]
    {
        let out = env.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("cannot use --data-dir") && err.contains(mine_arg), "{args:?}: {err}");
    }
    assert!(!env.project.join("other").exists(), "a refused --data-dir was created");
    // The same directory by another name, and no --data-dir at all.
    env.run_ok(&["--data-dir", "./mine/../mine", "check"], 0);
    env.run_ok(&["check"], 0);
    let status = env.json(&["status"]);
    assert_eq!(status["cache"]["path"].as_str(), Some(mine_arg), "{status}");
}

/// A tool that judges files by their path (as per-file ignores do): files
/// with the same bytes get each their own verdict, cold and warm alike, and
/// a renamed file is checked again.
#[test]
fn a_tool_that_judges_by_path_gets_the_same_verdicts_cold_and_warm() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        r#"
builtins = false
[validators.by-path]
kind = "command"
command = ["sh", "-c", "for f; do [ \"$f\" = b.txt ] && echo \"$f:only b is bad\"; done; exit 0", "by-path"]
mode = "batch"
parser = "regex"
pattern = '^(?P<file>[^:]+):(?P<message>.*)$'
files = ["*.txt"]
"#,
    );
    for name in ["a.txt", "b.txt", "c.txt"] {
        env.write(name, "same\n");
    }
    let with_findings = |r: &Value| {
        let mut v: Vec<String> = (r["outcomes"].as_array().unwrap().iter())
            .filter(|o| {
                !o["outcome"]["findings"].as_array().is_none_or(Vec::is_empty)
                    || !o["outcome"]["verdict"]["findings"].as_array().is_none_or(Vec::is_empty)
            })
            .map(|o| o["file"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let cold = check(&env, &[]);
    assert_eq!(with_findings(&cold), ["b.txt"], "{cold}");
    let warm = check(&env, &[]);
    assert_eq!(warm["summary"]["computed"], 0, "{}", warm["summary"]);
    assert_eq!(with_findings(&warm), ["b.txt"], "{warm}");
    // A file renamed onto another's bytes is checked again by the tool.
    std::fs::rename(env.project.join("c.txt"), env.project.join("d.txt")).unwrap();
    let renamed = check(&env, &[]);
    assert_eq!(renamed["summary"]["computed"], 1, "{}", renamed["summary"]);
    assert_eq!(with_findings(&renamed), ["b.txt"], "{renamed}");
}

/// Changes a warm check must see, though no watch does: `verdict.toml`
/// edited with its size and modification time kept; the target of a
/// symlinked `.git/info/exclude` edited; a checked file written through a
/// hard link in an ignored directory. Each time the warm answer is the
/// fresh one.
#[test]
fn changes_no_watch_sees_are_not_answered_from_the_previous_run() {
    let env = Env::new();
    env.write("a.txt", "bad  \n");
    env.write("b.txt", "ok\n");
    env.write("verdict.toml", "[validators.trailing-whitespace]\nenabled = true \n");
    settled(&env);
    // verdict.toml: same size, modification time put back.
    let toml = env.project.join("verdict.toml");
    let mtime = std::fs::metadata(&toml).unwrap().modified().unwrap();
    std::fs::write(&toml, "[validators.trailing-whitespace]\nenabled = false\n").unwrap();
    std::fs::File::options().write(true).open(&toml).unwrap().set_modified(mtime).unwrap();
    let r = check(&env, &[]);
    assert!(!finding(&r, "a.txt", "trailing-whitespace"), "the old configuration is in force: {r}");
    env.write("verdict.toml", "");

    // A symlinked .git/info/exclude whose target is edited.
    let shared = env.tmp.path().join("shared-exclude");
    std::fs::write(&shared, "").unwrap();
    std::fs::create_dir_all(env.project.join(".git/info")).unwrap();
    std::os::unix::fs::symlink(&shared, env.project.join(".git/info/exclude")).unwrap();
    check(&env, &[]);
    check(&env, &[]);
    std::fs::write(&shared, "a.txt\n").unwrap();
    let r = check(&env, &[]);
    assert_eq!(files(&r), ["b.txt", "verdict.toml"], "{r}");
    std::fs::remove_file(env.project.join(".git/info/exclude")).unwrap();

    // A hard link in an ignored directory, written through.
    env.write(".gitignore", "build/\n");
    env.write("src/c.txt", "ok\n");
    std::fs::create_dir_all(env.project.join("build")).unwrap();
    std::fs::hard_link(env.project.join("src/c.txt"), env.project.join("build/c.txt")).unwrap();
    for _ in 0..3 {
        check(&env, &[]);
    }
    std::fs::write(env.project.join("build/c.txt"), "bad   \n").unwrap();
    let r = check(&env, &[]);
    assert!(finding(&r, "src/c.txt", "trailing-whitespace"), "{r}");

    use std::os::unix::fs::PermissionsExt;
    // A hard link made after the check, outside the tree, written
    // through: nothing in a watched directory moves, the file's ctime does.
    std::fs::remove_file(env.project.join("build/c.txt")).unwrap();
    env.write("src/c.txt", "ok\n");
    env.write("src/s.sh", "#!/bin/sh\n");
    std::fs::set_permissions(env.project.join("src/s.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    env.write("other/d.txt", "ok\n");
    settled(&env);
    let outside = env.tmp.path().join("outside");
    std::fs::hard_link(env.project.join("src/c.txt"), &outside).unwrap();
    std::fs::write(&outside, "bad   \n").unwrap();
    let r = check(&env, &[]);
    assert!(finding(&r, "src/c.txt", "trailing-whitespace"), "a write through a new link: {r}");
    // The same for an answer updated after an edit elsewhere: the files it
    // keeps are looked at too.
    std::fs::remove_file(&outside).unwrap();
    env.write("src/c.txt", "ok\n");
    settled(&env);
    let outside_sh = env.tmp.path().join("outside.sh");
    std::fs::hard_link(env.project.join("src/s.sh"), &outside_sh).unwrap();
    std::fs::set_permissions(&outside_sh, std::fs::Permissions::from_mode(0o644)).unwrap();
    env.write("other/d.txt", "still ok\n");
    let r = check(&env, &[]);
    assert!(finding(&r, "src/s.sh", "shebang-executable"), "a chmod through the new link: {r}");
}

/// A `verdict.toml` project inside a larger directory: the walk honours the
/// ignore files above it (a `.ignore` there, the enclosing repository's
/// excludes), so a change to one is seen by the next check, not answered
/// from before; other changes up there do not stop an unchanged answer.
#[test]
fn ignore_files_above_the_project_root_are_watched() {
    let env = Env::new();
    env.write("inner/verdict.toml", "");
    env.write("inner/a.txt", "bad  \n");
    env.write("inner/b.txt", "ok\n");
    let inner = env.project.join("inner");
    let _stop = env.stop_when_done(&inner);
    let check_inner = || check_in(&env, &inner, &[]);
    let settle = || settled_in(&env, &inner, &[]);
    settle();
    // Not an ignore file: still unchanged.
    env.write("unrelated.txt", "x\n");
    assert_eq!(check_inner()["summary"]["unchanged"], true);
    // A .ignore above the root.
    env.write(".ignore", "a.txt\n");
    let r = check_inner();
    assert_eq!(files(&r), ["b.txt", "verdict.toml"], "{r}");
    std::fs::remove_file(env.project.join(".ignore")).unwrap();
    assert!(files(&check_inner()).contains(&"a.txt".to_string()));
    settle();
    // The enclosing repository's excludes.
    env.write(".git/info/exclude", "a.txt\n");
    let r = check_inner();
    assert_eq!(files(&r), ["b.txt", "verdict.toml"], "{r}");
}

/// The status of `file`'s outcome from `validator`, and for a cached one
/// the status of the verdict it carries.
fn status_of(r: &Value, file: &str, validator: &str) -> (String, String) {
    let o = r["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["file"] == file && o["validator"] == validator)
        .unwrap_or_else(|| panic!("no outcome of {validator} for {file}: {r}"));
    let status = o["outcome"]["status"].as_str().unwrap().to_owned();
    let verdict = o["outcome"]["verdict"]["status"].as_str().unwrap_or(&status).to_owned();
    (status, verdict)
}

/// A tool may judge a file by its executable bit (pre-commit's
/// `check-executables-have-shebangs`): `chmod +x` is not answered with the
/// verdict on the file as it was.
#[test]
fn a_tools_verdict_is_not_reused_across_a_chmod() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.write(
        "verdict.toml",
        "builtins = false\n[validators.exec]\nkind = \"command\"\nmode = \"per_file\"\nfiles = [\"*.txt\"]\n\
         command = [\"sh\", \"-c\", \"if [ -x \\\"$1\\\" ]; then echo executable; exit 1; fi\", \"exec\"]\n",
    );
    let file = env.write("a.txt", "text\n");
    assert_eq!(status_of(&check(&env, &[]), "a.txt", "exec").1, "passed");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(status_of(&check(&env, &[]), "a.txt", "exec"), ("findings".into(), "findings".into()));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(status_of(&check(&env, &[]), "a.txt", "exec"), ("cached".into(), "passed".into()));
    env.run_ok(&["stop"], 0);
}

/// A tool replaced while a check runs (a branch switched, an upgrade):
/// the verdicts of the jobs that ran the new one are not kept as the
/// identified tool's, so when the old one is back its own verdicts are
/// computed, not the other's served. Here the two print the same version,
/// so only the tool's file tells them apart.
#[test]
fn verdicts_of_a_tool_replaced_during_a_check_are_not_cached_as_the_old_tools() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        "builtins = false\n[validators.lint]\nkind = \"command\"\nmode = \"per_file\"\nconcurrency = 1\n\
         files = [\"src/*.txt\"]\ncommand = [\"sh\", \"tools/lint.sh\"]\n\
         version = [\"sh\", \"tools/lint.sh\", \"--version\"]\n",
    );
    // The strict tool flags every file; on its first run it is replaced
    // by the lenient one, which passes every file.
    let strict = "if [ \"$1\" = --version ]; then echo 1.0; exit 0; fi\n\
                  if [ -f tools/lenient.sh ]; then mv tools/lenient.sh tools/lint.sh; fi\n\
                  echo bad; exit 1\n";
    env.write("tools/lint.sh", strict);
    env.write("tools/lenient.sh", "if [ \"$1\" = --version ]; then echo 1.0; exit 0; fi\nexit 0\n");
    for i in 0..4 {
        env.write(&format!("src/f{i}.txt"), "x\n");
    }
    let files: Vec<String> = (0..4).map(|i| format!("src/f{i}.txt")).collect();
    let first = check(&env, &[]);
    let passed = files.iter().filter(|f| status_of(&first, f, "lint").1 == "passed").count();
    assert!(passed >= 1, "the lenient tool ran some jobs: {first}");
    // The strict tool back in place (`git checkout`).
    env.write("tools/lint.sh", strict);
    let again = check(&env, &[]);
    for f in &files {
        assert_eq!(status_of(&again, f, "lint").1, "findings", "{f}: {again}");
    }
    env.run_ok(&["stop"], 0);
}

/// A script given to an interpreter, identified by a `version` command
/// that prints its hash (as the configuration reference advises): an edit
/// of the script is noticed at the next check, without a reload.
#[test]
fn an_edit_of_a_script_a_version_command_hashes_is_noticed_at_the_next_check() {
    let env = Env::new();
    env.write(
        "verdict.toml",
        "builtins = false\n[validators.lint]\nkind = \"command\"\nmode = \"per_file\"\nfiles = [\"*.txt\"]\n\
         command = [\"sh\", \"tools/lint.sh\"]\nversion = [\"sha256sum\", \"tools/lint.sh\"]\n",
    );
    env.write("tools/lint.sh", "exit 0\n");
    env.write("a.txt", "x\n");
    assert_eq!(status_of(&check(&env, &[]), "a.txt", "lint").1, "passed");
    env.write("tools/lint.sh", "echo no; exit 1\n");
    assert_eq!(status_of(&check(&env, &[]), "a.txt", "lint"), ("findings".into(), "findings".into()));
    env.run_ok(&["stop"], 0);
}
