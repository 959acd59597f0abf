//! Supervision of the built-ins in the read stage, with test doubles for the
//! faults no real built-in can be made to show on demand (a panic inside
//! verdict's own code, a check that never returns), run through a real
//! engine: real cache, real supervisor and children.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use verdict_actors::validator::doubles::{HangingInlineDouble, PanickingInlineDouble};
use verdict_actors::validator::{BuiltinCheck, InlineWork, ValidatorWork};

use crate::config::{Config, RestartPolicy, ValidatorConfig};
use crate::engine::{Engine, EngineOptions};
use crate::server::{Notifier, RequestCtx};
use crate::supervisor::{SupervisorMessage, ValidatorSpec};

use super::{DISK_BLOCKS, DISK_LANES, LANES_PER_CORE, SMALL_FILE, blocks_read};

struct Project {
    _dir: tempfile::TempDir,
    engine: Engine,
}

/// An engine over a project with these files, running exactly `specs`.
async fn project(files: &[(&str, &str)], specs: Vec<ValidatorSpec>) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap().join("project");
    for (name, content) in files {
        std::fs::create_dir_all(root.join(name).parent().unwrap()).unwrap();
        std::fs::write(root.join(name), content).unwrap();
    }
    let state = dir.path().join("state");
    let layout = crate::test_layout(root, &state);
    let engine = Engine::start(EngineOptions {
        layout,
        config: Config::default(),
        data_dir: None,
        config_stamp: None,
        tool_files_stamp: Default::default(),
    })
    .await
    .unwrap();
    if !specs.is_empty() {
        let report = ractor::call!(engine.supervisor(), SupervisorMessage::Apply, specs).unwrap();
        assert!(!report.added.is_empty() || !report.changed.is_empty(), "{report:?}");
    }
    Project { _dir: dir, engine }
}

/// A built-in's configuration under another name, with this timeout and
/// restart policy.
fn builtin_spec(
    name: &str,
    work: std::sync::Arc<dyn InlineWork>,
    timeout: Duration,
    restart: RestartPolicy,
) -> ValidatorSpec {
    let mut config: ValidatorConfig = Config::default()
        .validators()
        .into_iter()
        .find(|v| v.name == "trailing-whitespace")
        .expect("a default built-in");
    config.name = name.into();
    config.timeout = timeout;
    config.restart = restart;
    let identity = xxhash_rust::xxh3::xxh3_128(name.as_bytes()).to_be_bytes();
    ValidatorSpec {
        identity,
        work: ValidatorWork::Inline(work),
        needs_content: true,
        text_only: true,
        not_cached: None,
        config,
    }
}

fn final_newline() -> std::sync::Arc<dyn InlineWork> {
    std::sync::Arc::new(BuiltinCheck {
        kind: verdict_actors::builtin::BuiltinKind::FinalNewline,
        settings: Default::default(),
    })
}

async fn check(p: &Project) -> Value {
    let ctx = RequestCtx { cancel: CancellationToken::new(), notifier: Notifier::discarding() };
    let raw = p.engine.check(json!({ "paths": ["."], "all_outcomes": true }), &ctx).await.unwrap();
    serde_json::from_str(raw.get()).unwrap()
}

/// The outcomes of one validator, by file.
fn outcomes(report: &Value, validator: &str) -> Vec<(String, Value)> {
    report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["validator"] == validator)
        .map(|r| (r["file"].as_str().unwrap().to_string(), r["outcome"].clone()))
        .collect()
}

/// `"file status"` for each of a validator's outcomes, by file.
fn statuses(report: &Value, validator: &str) -> Vec<String> {
    outcomes(report, validator).into_iter().map(|(f, o)| format!("{f} {}", o["status"].as_str().unwrap())).collect()
}

async fn events(p: &Project, validator: &str) -> Vec<String> {
    let status = p.engine.status().await;
    status
        .events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["validator"] == validator)
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

fn quick_policy() -> RestartPolicy {
    RestartPolicy {
        max_restarts: 2,
        window: Duration::from_secs(60),
        backoff: Duration::from_millis(10),
        backoff_max: Duration::from_millis(10),
        reset_after: Duration::from_secs(60),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_built_in_fails_its_child_until_quarantined_and_nothing_else() {
    let files: Vec<(String, String)> = (0..5).map(|i| (format!("f{i}.txt"), format!("line {i}\n"))).collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let specs = vec![
        builtin_spec("crasher", std::sync::Arc::new(PanickingInlineDouble), Duration::from_secs(30), quick_policy()),
        builtin_spec("newline", final_newline(), Duration::from_secs(30), quick_policy()),
    ];
    let p = project(&files, specs).await;

    let first = check(&p).await;
    let crashed = outcomes(&first, "crasher");
    assert_eq!(crashed.len(), 5, "every pair gets an outcome: {first}");
    assert!(
        crashed.iter().all(|(_, o)| o["status"] == "error"),
        "a panic is an error outcome, never a verdict: {crashed:?}"
    );
    assert!(crashed.iter().any(|(_, o)| o["reason"].as_str().unwrap().contains("validator crashed")), "{crashed:?}");
    let fine = outcomes(&first, "newline");
    assert_eq!(fine.len(), 5);
    assert!(fine.iter().all(|(_, o)| o["status"] == "passed"), "the other built-in is unaffected: {fine:?}");

    // Each crash fails the child; past two restarts it is quarantined.
    let mut quarantined = false;
    for _ in 0..50 {
        if events(&p, "crasher").await.iter().any(|e| e == "quarantined") {
            quarantined = true;
            break;
        }
        check(&p).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(quarantined, "events: {:?}", events(&p, "crasher").await);
    let ev = events(&p, "crasher").await;
    assert!(ev.iter().filter(|e| *e == "failed").count() >= 3 && ev.contains(&"restarted".to_string()), "{ev:?}");

    // Quarantined: not run at all, every pair says so; the other is still fine.
    let later = check(&p).await;
    let q = outcomes(&later, "crasher");
    assert!(
        q.iter().all(|(_, o)| o["status"] == "error" && o["reason"].as_str().unwrap().starts_with("quarantined:")),
        "{q:?}"
    );
    // (Recomputed: a file's entry needs every member's verdict.)
    assert!(outcomes(&later, "newline").iter().all(|(_, o)| o["status"] == "passed"), "{later}");

    // A restart brings it back: it runs (and crashes) again.
    ractor::call!(p.engine.supervisor(), SupervisorMessage::Restart, "crasher".to_string()).unwrap().unwrap();
    let again = check(&p).await;
    assert!(
        outcomes(&again, "crasher").iter().any(|(_, o)| o["reason"].as_str().unwrap().contains("validator crashed")),
        "{again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_dropped_while_a_built_in_hangs_leaves_no_cache_writer_behind() {
    let files = [("a.txt", "fine\n"), ("b.txt", "HANG\n"), ("c.txt", "fine too\n")];
    let hanging = std::sync::Arc::new(HangingInlineDouble::default());
    let _release = ReleaseOnDrop(hanging.release.clone());
    // A long timeout: the stuck check is detached after 250 ms, and its
    // thread holds the run's stage (and the writer's channel) until it is
    // released.
    let specs = vec![builtin_spec("hanger", hanging.clone(), Duration::from_secs(60), RestartPolicy::default())];
    let p = project(&files, specs).await;
    let writers = || p.engine.cache_writers.load(std::sync::atomic::Ordering::SeqCst);

    // Dropped midway, as the server drops a run whose client cancels or
    // goes away: long after the stuck check was detached (250 ms) and the
    // others were checked, however loaded the machine.
    let dropped = tokio::time::timeout(Duration::from_secs(3), check(&p)).await;
    assert!(dropped.is_err(), "the run should still wait for the stuck check");
    for _ in 0..200 {
        if writers() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(writers(), 0, "the dropped run's cache writer still runs");
    assert!(!hanging.release.load(std::sync::atomic::Ordering::SeqCst), "the check is still stuck");

    // A run that ends normally waits for its writer, which has ended too.
    hanging.release.store(true, std::sync::atomic::Ordering::SeqCst);
    let report = tokio::time::timeout(Duration::from_secs(10), check(&p)).await.expect("the run hung");
    assert_eq!(report["summary"]["pairs"], 3, "{report}");
    // What the dropped run had finished was written before its writer
    // ended: a and c, not the stuck b.
    assert_eq!(statuses(&report, "hanger"), ["a.txt cached", "b.txt findings", "c.txt cached"], "{report}");
    assert_eq!(writers(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_ins_that_never_return_time_out_side_by_side_and_the_run_goes_on_without_them() {
    // c's bytes differ from a's: a's entry is written once the watchdog
    // gives up on the chunk, and the continuation would find c's verdicts
    // under it.
    let files = [("a.txt", "fine\n"), ("b.txt", "HANG\n"), ("c.txt", "fine too\n"), ("d.txt", "no newline")];
    // Long enough for c and d to be checked after b's check is detached
    // (at 250 ms) on a loaded machine.
    let timeout = Duration::from_secs(3);
    let hanging = std::sync::Arc::new(HangingInlineDouble::default());
    let _release = ReleaseOnDrop(hanging.release.clone());
    let specs = vec![
        // Two built-ins stuck on the same file.
        builtin_spec("hanger", hanging.clone(), timeout, RestartPolicy::default()),
        builtin_spec("hanger2", hanging.clone(), timeout, RestartPolicy::default()),
        builtin_spec("newline", final_newline(), Duration::from_secs(30), RestartPolicy::default()),
    ];
    let p = project(&files, specs).await;

    let started = std::time::Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(10), check(&p)).await.expect("the run hung");
    let took = started.elapsed();
    // Each is detached after 250 ms, so their deadlines run side by side:
    // the run ends within the timeout plus 250 ms per stuck check, not
    // after two timeouts (which is all a loaded machine lets this assert).
    assert!(took >= timeout, "{took:?}");
    assert!(took < 2 * timeout, "the run ended {took:?} after it started");
    for hanger in ["hanger", "hanger2"] {
        // c and d were checked while b's check was detached, before it timed out.
        assert_eq!(
            statuses(&report, hanger),
            ["a.txt passed", "b.txt timed_out", "c.txt passed", "d.txt passed"],
            "{hanger}: {report}"
        );
    }
    // The other built-in checked every file, the hung one's too.
    assert_eq!(statuses(&report, "newline"), ["a.txt passed", "b.txt passed", "c.txt passed", "d.txt findings"]);
    assert_eq!(report["summary"]["pairs"], 12);
    assert_eq!(report["summary"]["outcomes"]["timed_out"], 2, "{report}");

    // The supervisor heard of it: the child was killed and restarted.
    let mut ev = Vec::new();
    for _ in 0..100 {
        ev = events(&p, "hanger").await;
        if ev.contains(&"restarted".to_string()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ev.contains(&"timed_out".to_string()) && ev.contains(&"restarted".to_string()), "{ev:?}");

    // Nothing of the hung pairs was cached; the next run times out on them
    // again; the others' entries were written.
    let again = tokio::time::timeout(Duration::from_secs(10), check(&p)).await.expect("run 2 hung");
    assert_eq!(
        statuses(&again, "hanger"),
        ["a.txt cached", "b.txt timed_out", "c.txt cached", "d.txt cached"],
        "{again}"
    );

    // Released, the stuck checks return to waiters that gave up: they add
    // nothing to anything, and nothing of theirs is cached.
    let jobs_before = jobs_done(&p, "hanger").await;
    hanging.release.store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let last = tokio::time::timeout(Duration::from_secs(10), check(&p)).await.expect("run 3 hung");
    let b = outcomes(&last, "hanger").into_iter().find(|(f, _)| f == "b.txt").unwrap();
    assert_eq!(b.1["status"], "findings", "computed afresh, not taken from an abandoned chunk: {last}");
    assert_eq!(last["summary"]["pairs"], 12);
    // This run checked b only (the others are cached); the released threads
    // count nothing.
    assert_eq!(jobs_done(&p, "hanger").await - jobs_before, 1, "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_built_in_stuck_on_every_file_gets_one_detached_check_and_the_run_still_ends_in_time() {
    let files = [("a.txt", "fine\n"), ("b.txt", "HANG 1\n"), ("c.txt", "HANG 2\n"), ("d.txt", "fine too\n")];
    let timeout = Duration::from_secs(3);
    let hanging = std::sync::Arc::new(HangingInlineDouble::default());
    let _release = ReleaseOnDrop(hanging.release.clone());
    let specs = vec![
        builtin_spec("hanger", hanging.clone(), timeout, RestartPolicy::default()),
        builtin_spec("newline", final_newline(), Duration::from_secs(30), RestartPolicy::default()),
    ];
    let p = project(&files, specs).await;
    let started = std::time::Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(10), check(&p)).await.expect("the run hung");
    let took = started.elapsed();
    // b's check is detached; c's, the validator's second slow one, is
    // waited for in place, and answered (skipped, below) as soon as b's
    // timed out: the run ends in time, not after one timeout per stuck file.
    assert!(took < 2 * timeout, "the run ended {took:?} after it started");
    assert_eq!(
        statuses(&report, "hanger"),
        ["a.txt passed", "b.txt timed_out", "c.txt skipped", "d.txt skipped"],
        "{report}"
    );
    let got = outcomes(&report, "hanger");
    for (_, o) in &got[2..] {
        assert!(o["reason"].as_str().unwrap().contains("timed out on b.txt earlier in this run"), "{o}");
    }
    assert_eq!(outcomes(&report, "newline").len(), 4);
    assert_eq!(report["summary"]["pairs"], 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_built_in_with_too_many_stuck_checks_is_not_run_until_they_return() {
    let files = [("a.txt", "HANG\n"), ("b.txt", "fine\n")];
    let hanging = std::sync::Arc::new(HangingInlineDouble::default());
    let _release = ReleaseOnDrop(hanging.release.clone());
    // A generous restart policy: the runs would otherwise quarantine it.
    let policy = RestartPolicy { max_restarts: 100, ..RestartPolicy::default() };
    let specs = vec![
        builtin_spec("hanger", hanging.clone(), Duration::from_millis(200), policy),
        builtin_spec("newline", final_newline(), Duration::from_secs(30), policy),
    ];
    let p = project(&files, specs).await;
    // Each run leaves one check stuck on a.txt.
    for run in 0..4 {
        let report = tokio::time::timeout(Duration::from_secs(10), check(&p)).await.expect("the run hung");
        assert_eq!(outcomes(&report, "hanger")[0].1["status"], "timed_out", "run {run}: {report}");
    }
    let report = tokio::time::timeout(Duration::from_secs(10), check(&p)).await.expect("the run hung");
    let got = outcomes(&report, "hanger");
    assert_eq!(got[0].1["status"], "error", "{report}");
    let reason = got[0].1["reason"].as_str().unwrap();
    assert!(reason.contains("4 earlier checks of this validator timed out"), "{reason}");
    assert_eq!(got[1].1["status"], "cached", "b.txt's verdict stands: {report}");
    assert_eq!(outcomes(&report, "newline")[0].1["status"], "passed", "the other built-in runs: {report}");
    // Once they return, it runs again.
    hanging.release.store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let report = check(&p).await;
    assert_eq!(outcomes(&report, "hanger")[0].1["status"], "findings", "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_built_in_is_detached_and_its_verdict_still_counts() {
    // Slow, not stuck: released after 400 ms, well within its 5 s timeout.
    let files = [("a.txt", "HANG\n"), ("b.txt", "fine\n")];
    let hanging = std::sync::Arc::new(HangingInlineDouble::default());
    let _release = ReleaseOnDrop(hanging.release.clone());
    let specs = vec![
        builtin_spec("slow", hanging.clone(), Duration::from_secs(5), RestartPolicy::default()),
        builtin_spec("newline", final_newline(), Duration::from_secs(30), RestartPolicy::default()),
    ];
    let p = project(&files, specs).await;
    let release = hanging.release.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        release.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let report = tokio::time::timeout(Duration::from_secs(10), check(&p)).await.expect("the run hung");
    assert_eq!(statuses(&report, "slow"), ["a.txt findings", "b.txt passed"], "{report}");
    assert_eq!(report["summary"]["pairs"], 4);
    assert!(events(&p, "slow").await.iter().all(|e| e != "timed_out"));
    // Its verdict completed a's entry: the next run answers a from the cache.
    let again = check(&p).await;
    assert_eq!(statuses(&again, "slow"), ["a.txt cached", "b.txt cached"], "{again}");
}

/// Lets stuck checks return when the test ends, even by a failed assertion:
/// the test runtime's shutdown waits for its blocking threads.
struct ReleaseOnDrop(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn jobs_done(p: &Project, validator: &str) -> u64 {
    let status = p.engine.status().await;
    status.validators.as_array().unwrap().iter().find(|v| v["name"] == validator).unwrap()["jobs_done"]
        .as_u64()
        .unwrap()
}

/// Rewrites its file with `replacement` as soon as it is given the file's
/// `HANG` content, then does not return until `release` is set: a file
/// edited while a slow check of it runs. A double: no real built-in can be
/// made to do this on demand.
struct FileRewritingHangDouble {
    path: std::path::PathBuf,
    replacement: &'static [u8],
    release: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl InlineWork for FileRewritingHangDouble {
    fn check(&self, input: &verdict_actors::builtin::BuiltinInput<'_>) -> Vec<verdict_actors::Finding> {
        if !input.content.starts_with(b"HANG") {
            return Vec::new();
        }
        std::fs::write(&self.path, self.replacement).unwrap();
        while !self.release.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::park_timeout(Duration::from_millis(10));
        }
        vec![verdict_actors::Finding {
            line: None,
            column: None,
            severity: verdict_actors::Severity::Error,
            rule: Some("hang".into()),
            message: "released".into(),
        }]
    }
}

/// A project whose `a.txt` (`HANG`) is rewritten with `replacement` by a
/// slow check (released after 600 ms, within its 5 s timeout), beside the
/// real final-newline built-in.
async fn rewritten_while_detached(replacement: &'static [u8]) -> (Project, ReleaseOnDrop) {
    let release = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The double needs the file's path: make the project first, then apply.
    let p = project(&[("a.txt", "HANG\n"), ("b.txt", "fine\n")], Vec::new()).await;
    let path = p.engine.layout().root.join("a.txt");
    let double = FileRewritingHangDouble { path, replacement, release: release.clone() };
    let specs = vec![
        builtin_spec("slow", std::sync::Arc::new(double), Duration::from_secs(5), RestartPolicy::default()),
        builtin_spec("newline", final_newline(), Duration::from_secs(30), RestartPolicy::default()),
    ];
    ractor::call!(p.engine.supervisor(), SupervisorMessage::Apply, specs).unwrap();
    let r = release.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        r.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    (p, ReleaseOnDrop(release))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_pair_gets_one_outcome_even_if_its_file_turns_binary_meanwhile() {
    let (p, _release) = rewritten_while_detached(b"\0binary now").await;
    let report = tokio::time::timeout(Duration::from_secs(10), check(&p)).await.expect("the run hung");
    let slow = outcomes(&report, "slow");
    assert_eq!(slow.len(), 2, "one outcome per pair: {report}");
    assert_eq!(slow[0].1["status"], "findings", "a's: the detached check's verdict: {report}");
    // a.txt is binary on the continuation's read: newline (text-only) has
    // no pair there; the detached one still counts once.
    let outcomes_total = report["outcomes"].as_array().unwrap().len() as u64;
    assert_eq!(report["summary"]["pairs"].as_u64().unwrap(), outcomes_total, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_verdict_on_earlier_bytes_is_reported_but_never_cached_for_the_new_ones() {
    let (p, _release) = rewritten_while_detached(b"other text\n").await;
    let first = tokio::time::timeout(Duration::from_secs(10), check(&p)).await.expect("the run hung");
    assert_eq!(outcomes(&first, "slow")[0].1["status"], "findings", "{first}");
    // The file now holds other bytes: their verdict is computed, not the
    // detached check's taken from the cache.
    let second = tokio::time::timeout(Duration::from_secs(10), check(&p)).await.expect("the run hung");
    assert_eq!(outcomes(&second, "slow")[0].1["status"], "passed", "{second}");
}

/// A test double: a check that takes 30 ms and counts how many of its
/// checks run at once (a stand-in for a check of a large file, to see the
/// work spread over the cores).
#[derive(Default)]
struct ConcurrencyProbeDouble {
    running: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl InlineWork for ConcurrencyProbeDouble {
    fn check(&self, _: &verdict_actors::builtin::BuiltinInput<'_>) -> Vec<verdict_actors::Finding> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.running.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        std::thread::sleep(Duration::from_millis(30));
        self.running.fetch_sub(1, SeqCst);
        Vec::new()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_whose_sizes_the_walk_did_not_take_spreads_what_it_has_not_begun_over_the_cores() {
    // Twelve files of 3 MiB: one chunk by number of files, 36 MiB once read.
    // Each its own content, so that none is answered from another's cache
    // entry whatever the timing.
    let names: Vec<String> = (0..12).map(|i| format!("big{i:02}.txt")).collect();
    let contents: Vec<String> = (0..12).map(|i| format!("{i}\n") + &"x".repeat(3 << 20) + "\n").collect();
    let files: Vec<(&str, &str)> = names.iter().zip(&contents).map(|(n, c)| (n.as_str(), c.as_str())).collect();
    let probe = std::sync::Arc::new(ConcurrencyProbeDouble::default());
    let specs = vec![builtin_spec("probe", probe.clone(), Duration::from_secs(30), RestartPolicy::default())];
    let p = project(&files, specs).await;
    let chunks = || p.engine.read_chunks.load(std::sync::atomic::Ordering::Relaxed);

    // The first run has no stat index: the walk takes no sizes.
    let report = check(&p).await;
    let all: Vec<String> = names.iter().map(|n| format!("{n} passed")).collect();
    assert_eq!(statuses(&report, "probe"), all, "{report}");
    assert_eq!(report["summary"]["files_read"], 12);
    // 9 MiB read (three files) is past the 8 MiB a chunk holds: the other
    // nine went to three chunks of three at once, which ran side by side.
    assert_eq!(chunks(), 4);
    assert!(probe.most.load(std::sync::atomic::Ordering::SeqCst) >= 2, "the rest ran on one core");

    // Now the walk takes the sizes, and chunks hold 8 MiB from the start:
    // two files each.
    let warm = check(&p).await;
    let cached: Vec<String> = names.iter().map(|n| format!("{n} cached")).collect();
    assert_eq!(statuses(&warm, "probe"), cached, "{warm}");
    assert_eq!(chunks(), 4 + 6);
}

#[tokio::test]
async fn bytes_read_late_are_looked_at_again_before_a_text_only_check_trusts_a_stat_entry() {
    // A binary file whose stat-index entry says text, as entries of files
    // too large to read whole said before their first bytes were looked at:
    // its bytes are read late (the entry answers the walk, the cache has no
    // verdicts), and a text-only check must still treat them as binary.
    let content = "\0 binary bytes with a trailing blank \n";
    let p = project(&[("blob.dat", content)], vec![]).await;
    let path = p.engine.layout().root.join("blob.dat");
    let meta = std::fs::symlink_metadata(&path).unwrap();
    let recorded = verdict_storage::unix_now_ns() + 10_000_000_000;
    let entry =
        verdict_storage::StatEntry::from_metadata(&meta, verdict_storage::content_hash(content.as_bytes()), recorded);
    assert!(!entry.binary);
    p.engine.store().unwrap().put_stat_index(&[(b"blob.dat".as_slice(), entry)]).unwrap();
    let report = check(&p).await;
    assert_eq!(statuses(&report, "trailing-whitespace"), ["blob.dat passed"], "{report}");
    assert_eq!(statuses(&report, "utf8"), ["blob.dat passed"]);
}

/// Drops `path`'s pages from the page cache (written back first), so that
/// the next read of it comes from the disk.
fn evict(path: &std::path::Path) {
    let f = std::fs::File::open(path).unwrap();
    f.sync_all().unwrap();
    rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed).unwrap();
}

/// `len` bytes of text that no file system compresses: lines of letters
/// from a generator seeded with `seed`.
fn incompressible(seed: u64, len: usize) -> String {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut text = String::with_capacity(len);
    while text.len() < len {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        text.push(if text.len() % 80 == 79 { '\n' } else { char::from(b'a' + (state >> 59) as u8 % 26) });
    }
    text.truncate(len - 1);
    text.push('\n');
    text
}

/// Fails, saying what to do, unless `dir`'s files can be dropped from the
/// page cache and read back from storage (not on tmpfs, say).
fn assert_reads_can_come_from_disk(dir: &std::path::Path) {
    let probe = dir.join("probe");
    std::fs::write(&probe, incompressible(7, 1 << 20)).unwrap();
    evict(&probe);
    let before = blocks_read();
    std::fs::read(&probe).unwrap();
    assert!(
        blocks_read() - before >= DISK_BLOCKS,
        "{} keeps its files in memory (tmpfs?): run the tests with TMPDIR on a disk",
        dir.display()
    );
    std::fs::remove_file(&probe).unwrap();
}

/// A project of `n` files of `size` bytes each, checked once from the page
/// cache and once (`no_cache`) after its files were evicted: the runs that
/// widened, the most chunks that ran at once in the second run, and the
/// most checks of a probe built-in (30 ms each) that ran at once in it.
async fn checked_from_disk(n: usize, size: usize) -> (u64, u64, usize) {
    let names: Vec<String> = (0..n).map(|i| format!("d{}/f{i:03}.txt", i % 4)).collect();
    let contents: Vec<String> = (0..n).map(|i| incompressible(i as u64, size)).collect();
    let files: Vec<(&str, &str)> = names.iter().zip(&contents).map(|(n, c)| (n.as_str(), c.as_str())).collect();
    let probe = std::sync::Arc::new(ConcurrencyProbeDouble::default());
    let specs = vec![builtin_spec("probe", probe.clone(), Duration::from_secs(30), RestartPolicy::default())];
    let p = project(&files, specs).await;
    let root = p.engine.layout().root.clone();
    assert_reads_can_come_from_disk(&root);
    let relaxed = std::sync::atomic::Ordering::Relaxed;

    // Just written: every read comes from memory.
    let report = check(&p).await;
    assert_eq!(report["summary"]["files_read"], n, "{report}");
    assert_eq!(p.engine.disk_read_runs.load(relaxed), 0, "reads from memory widened the read stage");

    for name in &names {
        evict(&root.join(name));
    }
    p.engine.read_lanes_most.store(0, relaxed);
    probe.most.store(0, std::sync::atomic::Ordering::SeqCst);
    let ctx = RequestCtx { cancel: CancellationToken::new(), notifier: Notifier::discarding() };
    let params = json!({ "paths": ["."], "all_outcomes": true, "no_cache": true });
    let raw = p.engine.check(params, &ctx).await.unwrap();
    let report: Value = serde_json::from_str(raw.get()).unwrap();
    assert_eq!(report["summary"]["files_read"], n, "{report}");
    (
        p.engine.disk_read_runs.load(relaxed),
        p.engine.read_lanes_most.load(relaxed),
        probe.most.load(std::sync::atomic::Ordering::SeqCst),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_that_wait_for_the_disk_run_more_chunks_at_once() {
    let base = std::thread::available_parallelism().unwrap().get() * LANES_PER_CORE;
    // With `no_cache` the walk takes no sizes: a chunk of up to 256 files
    // splits once it has read 8 MiB, into pieces of as many files as it
    // read, spread over the lanes. 48 files of 1 MiB: the first chunk
    // reads 8, then hands five pieces of 8 over, which all start at once
    // once the lanes are widened.
    let (from_disk, lanes, _) = checked_from_disk(48, SMALL_FILE as usize).await;
    assert_eq!(from_disk, 1, "reads from the disk did not widen the read stage");
    let pieces = 5;
    assert!(lanes >= pieces.min(DISK_LANES) as u64, "{lanes} chunks ran at once, not all {pieces} pieces");
    if base < pieces {
        assert!(lanes > base as u64, "no more chunks than the {base} base lanes ran at once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_that_wait_for_the_disk_hold_no_more_large_files_at_once() {
    let base = std::thread::available_parallelism().unwrap().get() * LANES_PER_CORE;
    // Files of 2 MiB: pieces of four, more pieces than base lanes, all
    // started at once. Each large file is held only with a big read, of
    // which there are as many as base lanes.
    let n = 4 * (base + 2) + 4;
    let (from_disk, lanes, most) = checked_from_disk(n, 2 << 20).await;
    assert_eq!(from_disk, 1, "reads from the disk did not widen the read stage");
    assert!(lanes > base as u64 || base >= DISK_LANES, "only {lanes} chunks ran at once: the test proves nothing");
    assert!(most <= base, "large files were checked {most} at a time, more than the {base} base lanes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_stuck_on_large_files_give_their_big_reads_back() {
    // One large file on which as many built-ins as there are big reads
    // never return. Each is detached in turn, and the rest of the chunk
    // goes on on a fresh thread, which reads the file again: each stuck
    // check must give its big read back when it is given up on, or the
    // last fresh thread (and the large files after it) would wait for one
    // for ever.
    let base = std::thread::available_parallelism().unwrap().get() * LANES_PER_CORE;
    let big =
        |i: usize, hang: bool| format!("{}{i}\n", if hang { "HANG " } else { "fine " }) + &"x".repeat(2 << 20) + "\n";
    let names: Vec<String> = (0..=base).map(|i| format!("f{i:02}.txt")).collect();
    let contents: Vec<String> = (0..=base).map(|i| big(i, i == 0)).collect();
    let files: Vec<(&str, &str)> = names.iter().zip(&contents).map(|(n, c)| (n.as_str(), c.as_str())).collect();
    let hanging = std::sync::Arc::new(HangingInlineDouble::default());
    let _release = ReleaseOnDrop(hanging.release.clone());
    let mut specs: Vec<ValidatorSpec> = (0..base)
        .map(|i| builtin_spec(&format!("hanger{i}"), hanging.clone(), Duration::from_secs(1), RestartPolicy::default()))
        .collect();
    specs.push(builtin_spec("newline", final_newline(), Duration::from_secs(30), RestartPolicy::default()));
    let p = project(&files, specs).await;
    // Each built-in is detached in turn, 250 ms apart, then times out.
    let within = Duration::from_secs(10) + Duration::from_millis(250) * base as u32;
    let report = tokio::time::timeout(within, check(&p)).await.expect("the run hung");
    let passed: Vec<String> = names.iter().map(|n| format!("{n} passed")).collect();
    assert_eq!(statuses(&report, "newline"), passed, "{report}");
    assert_eq!(report["summary"]["outcomes"]["timed_out"], base, "{report}");
}
