//! A check run: walk → select → hash → cache look-up → jobs to validators →
//! outcomes.
//!
//! Every selected (file, validator) pair ends with exactly one outcome. The
//! run enforces each job's deadline itself: when it passes, the job's files
//! get `timed out`, the supervisor is told (it kills and restarts the child
//! and its processes), and the validator's remaining jobs in this run are
//! skipped, so a run whose validators all hang still ends within the longest
//! timeout plus a small margin.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use verdict_actors::validator::{Job, JobFile, ValidatorMessage};
use verdict_actors::{Outcome, OutcomeKind, StoredVerdict, Verdict};
use verdict_storage::{ResultKey, StatEntry, Store};

use crate::config::FileFilter;
use crate::engine::{CacheCounters, Engine};
use crate::protocol::{CheckParams, CheckReport, Record, RpcError, Summary, notification};
use crate::server::RequestCtx;
use crate::supervisor::{Slot, SupervisorMessage, ValidatorHandle};
use crate::watch::{IGNORE_FILES, TreeWatch, WalkWatch};

#[path = "attributes.rs"]
mod attributes;
#[path = "editorconfig.rs"]
mod editorconfig;
#[path = "explain.rs"]
mod explain;
#[path = "formatter_ignore.rs"]
pub(crate) mod formatter_ignore;
#[path = "package_vendor.rs"]
pub(crate) mod package_vendor;
#[path = "read_stage.rs"]
mod read_stage;
#[path = "readme_vendor.rs"]
pub(crate) mod readme_vendor;
#[path = "recipes.rs"]
pub(crate) mod recipes;
#[path = "select.rs"]
pub(crate) mod select;
#[path = "siblings.rs"]
mod siblings;

pub use explain::explain;

/// How often progress is streamed.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// (validator identity, content hash) → where the run computing it stands.
/// Lets two concurrent runs that need the same pair compute it once.
pub type Pending = Mutex<HashMap<PendingKey, watch::Receiver<Shared>>>;

/// A pair as claimed: the validator's identity, the content key, and the
/// concurrency limit its job queues behind (the address of its semaphore,
/// which each claim holds, so no other takes that address meanwhile). A
/// reload that changes only a validator's `concurrency` keeps its identity
/// but gives it a new limit: a run on the new configuration does not wait
/// behind the old one's queue, it computes the pair itself. Last, the
/// cache epoch the run began in: a run begun after a `cache clear` does not
/// take the verdict of one begun before it (its tool may have read a rule
/// file the clear was for), and would write it into the cleared cache.
type PendingKey = ([u8; 16], u128, usize, u64);

fn pending_key(s: &Selected, hash: u128, w: &Walked, epoch: u64) -> PendingKey {
    (s.handle.identity, command_key(hash, w), Arc::as_ptr(&s.handle.permits) as usize, epoch)
}

/// A claimed pair, as the runs waiting for it see it.
#[derive(Clone, Debug)]
pub enum Shared {
    /// Its job waits for a concurrency slot.
    Queued,
    /// Its job began (to wait for a running child) at this instant: the
    /// start of its deadline.
    Began(tokio::time::Instant),
    /// Its outcome.
    Done(Outcome),
    /// Not run there: the validator timed out on another file of that run,
    /// for this reason, and its later jobs there are skipped.
    Hung(String),
}

/// A pair a run waited for another run to compute, and now computes
/// itself (or waits for a third): the other run went away, or gave no
/// verdict. `cap`: the deadline it was waited for by, which its own job
/// keeps to, so that the run still ends within its timeouts.
struct Orphan {
    fi: usize,
    vi: usize,
    cap: Option<tokio::time::Instant>,
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

struct Selected {
    handle: Arc<ValidatorHandle>,
    filter: Arc<FileFilter>,
    counters: Arc<CacheCounters>,
    /// Whether this run has recorded whose results its identity's are
    /// (once a run is enough; see `put_validator_name`).
    named: AtomicBool,
}

/// A file found by the walk.
#[derive(Default)]
struct Walked {
    rel: String,
    /// Its path relative to the root as bytes, when that is not UTF-8
    /// (`rel` then has U+FFFD in place of each invalid sequence).
    raw: Option<Box<[u8]>>,
    abs: PathBuf,
    /// Its metadata: from the walk when the stat index can spare reads,
    /// else from the read stage (`fstat` of the opened file, which costs
    /// far less than the walk's `stat` of its path). Unset only for a file
    /// nothing selected or that could not be opened.
    meta: std::sync::OnceLock<std::fs::Metadata>,
    /// What its repository's `.gitattributes` and the `.editorconfig`
    /// files over it say of it (see [`crate::attributes`] and
    /// [`crate::editorconfig`]).
    marks: verdict_actors::builtin::FileMarks,
}

impl Walked {
    /// Its path relative to the root, exactly.
    fn name_bytes(&self) -> &[u8] {
        self.raw.as_deref().unwrap_or(self.rel.as_bytes())
    }

    fn meta(&self) -> Option<&std::fs::Metadata> {
        self.meta.get()
    }

    /// What the built-ins heed of it: its rules files' marks, and whether
    /// its name says it holds delimited records, or is a script or a
    /// style sheet, or is below a directory of tests.
    fn marks(&self) -> verdict_actors::builtin::FileMarks {
        use verdict_actors::builtin::{
            in_test_dir, is_batch_name, is_cirrus_name, is_delimited_name, is_js_or_css_name, is_tap_test,
        };
        let name = self.name_bytes();
        let (delimited, js_or_css) = (is_delimited_name(name), is_js_or_css_name(name));
        let in_tests = in_test_dir(name) || is_tap_test(name);
        let (cirrus_ci, batch) = (is_cirrus_name(name), is_batch_name(name));
        verdict_actors::builtin::FileMarks { delimited, js_or_css, in_tests, cirrus_ci, batch, ..self.marks }
    }

    /// Its size (0 while unknown).
    fn len(&self) -> u64 {
        self.meta().map_or(0, std::fs::Metadata::len)
    }

    /// Its owner's execute bit: what git records as the file's mode
    /// (100755), and so what makes it run after a clone.
    fn executable(&self) -> bool {
        self.meta().is_some_and(|m| m.permissions().mode() & 0o100 != 0)
    }
}

/// What the read stage learnt about a file.
#[derive(Default, Clone)]
struct Hashed {
    hash: Option<u128>,
    binary: bool,
    /// A verdict of the file was reached on other bytes than those hashed
    /// (a slow check detached from its chunk, whose continuation read the
    /// file again and found it changed): no content look can vouch for it.
    mixed: bool,
}

/// Shared state of one run, updated by its jobs.
struct RunState {
    /// The outcomes listed in the report: (file, validator, outcome), by
    /// index (the strings are borrowed when the report is written).
    records: Mutex<Vec<(usize, usize, Outcome)>>,
    /// Whether passed outcomes are listed; when not, they are only counted
    /// (a warm run of a large tree passes hundreds of thousands of pairs).
    keep_passed: bool,
    passed: AtomicU64,
    cached_passed: AtomicU64,
    done: AtomicU64,
    total: AtomicU64,
    /// Validators that timed out in this run: their later jobs are skipped.
    hung: Mutex<HashMap<String, String>>,
    /// Woken when a validator is added to `hung`: its jobs waiting for a
    /// concurrency permit (which the timed-out job keeps through its grace)
    /// are skipped at once.
    hung_added: tokio::sync::Notify,
    /// Per-file entries being assembled from the outcomes as they arrive.
    entries: Mutex<EntryCollector>,
    /// A cache write failed: a warm run would compute again, so this run's
    /// answer is not remembered.
    write_failed: std::sync::atomic::AtomicBool,
    /// A verdict of this run was reported but not cached (a tool's failed
    /// run, a file changed under its tool, a value too large to store): a
    /// warm run would compute it again, so this run's answer is not
    /// remembered either.
    not_stored: std::sync::atomic::AtomicBool,
    /// Why the first failed write failed, for the report.
    write_error: Mutex<Option<String>>,
    /// The engine's cache epoch, and its value when the run started: after
    /// a `cache clear` the run writes nothing more.
    cache_epoch: (Arc<crate::engine::CacheEpoch>, u64),
    /// When the walk began, before any file's `stat`: what a file's stamp
    /// is racy against.
    walk_started_ns: i128,
}

impl RunState {
    /// Records a cache write that failed (the first one's reason is
    /// reported) and logs it.
    pub(super) fn failed_write(&self, e: &dyn std::fmt::Display) {
        self.write_failed.store(true, Ordering::Relaxed);
        let mut first = self.write_error.lock().expect("write error");
        // Once per run as a warning (a full disk fails every write after
        // the first); the others at debug level.
        match &*first {
            None => {
                warn!(error = %e, "cannot write results to the cache (later failures of this check are logged at debug level)");
                *first = Some(e.to_string());
            }
            Some(_) => debug!(error = %e, "cannot write results to the cache"),
        }
    }

    /// Skips `validator`'s later jobs in this run, for `why`.
    fn set_hung(&self, validator: &str, why: String) {
        self.hung.lock().expect("hung").insert(validator.to_owned(), why);
        self.hung_added.notify_waiters();
    }

    /// Why `validator`'s jobs are skipped in this run, if they are.
    fn hung(&self, validator: &str) -> Option<String> {
        self.hung.lock().expect("hung").get(validator).cloned()
    }

    /// Whether the cache was cleared since the run started.
    fn cache_cleared(&self) -> bool {
        self.cache_epoch.0.current() != self.cache_epoch.1
    }

    /// Notes values a batch left out as too large to store.
    pub(super) fn note_skipped(&self, batch: &verdict_storage::StoreBatch<'_>) {
        if batch.skipped() > 0 {
            self.not_stored.store(true, Ordering::Relaxed);
        }
    }

    /// Runs a cache write unless the cache was cleared since the run
    /// started (see [`crate::engine::CacheEpoch`]); `None` if it was.
    pub(super) fn write_unless_cleared<T>(&self, write: impl FnOnce() -> T) -> Option<T> {
        self.cache_epoch.0.write_in(self.cache_epoch.1, write)
    }
}

impl RunState {
    /// Offers a member's outcome to its file's entry (`None`: not cacheable,
    /// so the file gets no entry).
    fn offer(&self, fi: usize, vi: usize, v: Option<StoredVerdict>) {
        self.entries.lock().expect("entries").offer(fi, vi, v);
    }
}

/// A clean run's answer, kept while nothing in the directories it walked
/// changes (see [`crate::watch`]): a re-check of the same tree with the same
/// validators returns it without walking.
pub struct Memo {
    key: MemoKey,
    /// The watch generation and the engine's memo epoch it is valid for.
    pub(crate) generation: u64,
    pub(crate) epoch: u64,
    /// Unix seconds when the first cached entry it relies on expires (0:
    /// never); past it, a warm run would recompute, so this answer is stale.
    pub(crate) expires_at: u64,
    /// Pairs per selected validator, for the cache counters.
    pairs_per_validator: Vec<u64>,
    /// The answer as a warm run gives it: every outcome cached.
    report: CheckReport,
    /// The directories the run walked, relative to the root (`""`: the root).
    dirs: HashSet<String>,
    /// The git directories watched for the excludes the walk read, with
    /// their device and inode (see [`crate::watch::WalkWatch::git_dirs`]).
    git_dirs: Vec<(PathBuf, u64, u64)>,
    /// The ignore files the walks read, as they were (see [`ReadStamp`]).
    ignore_files: Vec<(PathBuf, ReadStamp)>,
    /// Every file the run found, in the report's order.
    files: Vec<MemoFile>,
    /// The distinct lists of validators the files have pairs with.
    sets: Vec<Vec<usize>>,
    /// Whether the answer may be reused or updated: false if a checked file
    /// was not looked at, or had a racy stamp and no content hash to
    /// compare instead.
    updatable: bool,
    /// The directories (relative to the root) of the files with an outcome
    /// that is not cached (an error, a time-out, a skip, the findings of a
    /// tool that failed or whose output was cut): never reused as they
    /// are, but looked at again by the next run, which updates the rest of
    /// the answer (a tool missing for one file does not make every later
    /// check walk the whole tree). Only directories the run walked.
    redo: Vec<String>,
}

/// Numbers the distinct validator sets of a memo's files; consecutive files
/// mostly share one, which is then recognised without a look-up.
#[derive(Default)]
struct SetInterner {
    sets: Vec<Vec<usize>>,
    ids: HashMap<Vec<usize>, u32>,
    last: Option<u32>,
}

impl SetInterner {
    fn id(&mut self, set: impl Iterator<Item = usize> + Clone) -> u32 {
        if let Some(last) = self.last.filter(|&l| self.sets[l as usize].iter().copied().eq(set.clone())) {
            return last;
        }
        let set: Vec<usize> = set.collect();
        let id = match self.ids.get(&set) {
            Some(&id) => id,
            None => {
                self.sets.push(set.clone());
                let id = (self.sets.len() - 1) as u32;
                self.ids.insert(set, id);
                id
            }
        };
        self.last = Some(id);
        id
    }
}

/// A file of a remembered answer.
struct MemoFile {
    rel: String,
    /// Its name as bytes, when that is not UTF-8 (see [`Walked::raw`]).
    raw: Option<Box<[u8]>>,
    binary: bool,
    /// Its validators, in [`Memo::sets`].
    set: u32,
    /// Its outcomes in the report (those it lists).
    records: std::ops::Range<usize>,
    /// What its `stat` said when the run looked at it, for a file with
    /// pairs: looked at again before the answer is reused.
    stamp: Option<Stamp>,
    /// Its content hash, when its stamp was racy: a change within the tick
    /// of that `stat` may not show in it (a write through a hard link, in
    /// a directory whose watch is not this file's, say), so the content is
    /// hashed again before the answer is reused.
    hash: Option<u128>,
    /// Set once the content was found unchanged by a look that began past
    /// the racy margin after the file's times: a change hidden in their
    /// tick was made before that look and would have shown in the content;
    /// a later one moves the times. The stamp alone is compared from then.
    settled: AtomicBool,
}

/// The parts of a file's `stat` that any change of it moves: its content
/// (size, mtime), its mode and links (ctime, and the mode itself), its
/// replacement (inode).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    ino: u64,
    size: u64,
    mode: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            ino: m.ino(),
            size: m.size(),
            mode: m.mode(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    #[allow(clippy::unnecessary_cast)] // the field types differ between targets
    fn of_stat(st: &rustix::fs::Stat) -> Stamp {
        Stamp {
            ino: st.st_ino as u64,
            size: st.st_size as u64,
            mode: st.st_mode as u32,
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }

    /// Whether the file changed within the racy margin before `since_ns`
    /// (or later): times move by clock ticks, so a change within the tick
    /// of this `stat` may leave the same stamp (git's "racy git"; the stat
    /// index's rule).
    fn racy(&self, since_ns: i128) -> bool {
        let ns = |(s, n): (i64, i64)| i128::from(s) * 1_000_000_000 + i128::from(n);
        ns(self.mtime).max(ns(self.ctime)) >= since_ns - verdict_storage::RACY_MARGIN_NS
    }
}

/// Whether every stamped file of `memo` (but those in the directories
/// `relisted`, which the run lists again) is as
/// its stamp says. The watch sees what happens in the directories a run
/// walked, but not a write, `chmod` or new link through another hard link
/// to a file from a directory it does not watch (made after the run), nor
/// a write through a shared memory map: each moves the file's `ctime` or
/// `mtime`. One `lstat` per file, on every core, off the runtime.
async fn stamps_hold(root: &Path, memo: &Arc<Memo>, relisted: Option<HashSet<String>>) -> bool {
    let (root, memo) = (root.to_path_buf(), memo.clone());
    let check = move || {
        // The git directories whose excludes the answer relied on are still
        // the ones at their paths.
        let same = |(path, dev, ino): &(PathBuf, u64, u64)| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(path).is_ok_and(|m| m.dev() == *dev && m.ino() == *ino)
        };
        if !memo.git_dirs.iter().all(same) {
            return false;
        }
        // Nor were the ignore files it read written to, through another
        // link or otherwise.
        let unchanged =
            |(path, was): &(PathBuf, ReadStamp)| std::fs::metadata(path).is_ok_and(|m| ReadStamp::of(&m) == *was);
        if !memo.ignore_files.iter().all(unchanged) {
            return false;
        }
        let files: Vec<&MemoFile> = memo
            .files
            .iter()
            .filter(|f| f.stamp.is_some() && relisted.as_ref().is_none_or(|r| !f.dir().is_some_and(|d| r.contains(d))))
            .collect();
        files_hold(&root, &files, verdict_storage::unix_now_ns)
    };
    // The turn goes with the work: a cancelled check's look still running
    // keeps it until it ends.
    let turn = core_turn().await;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        check()
    })
    .await
    .unwrap_or(false)
}

/// The largest file whose racy stamp a remembered answer vouches for by
/// hashing its content again at each reuse (until settled); a larger one
/// makes the answer not reusable (the next run walks, and its stamp is
/// older by then).
const RACY_LOOK_MAX: u64 = 16 << 20;

/// [`stamps_hold`]'s look at `files` (relative to `root`), on every core;
/// `now` is the clock a content look is timed by.
fn files_hold(root: &Path, files: &[&MemoFile], now: fn() -> i128) -> bool {
    // Each file by its name in its directory, opened once for the run of
    // its files (they come in path order): no path walk per file.
    let holds = |dir: &mut Option<(Vec<u8>, rustix::fd::OwnedFd)>, f: &MemoFile| -> bool {
        use rustix::fs::{AtFlags, Mode, OFlags};
        let rel: &[u8] = f.raw.as_deref().unwrap_or(f.rel.as_bytes());
        let (parent, name) = match memchr::memrchr(b'/', rel) {
            Some(i) => (&rel[..i], &rel[i + 1..]),
            None => (&b""[..], rel),
        };
        if dir.as_ref().is_none_or(|(p, _)| p.as_slice() != parent) {
            let path =
                if parent.is_empty() { root.to_path_buf() } else { root.join(std::ffi::OsStr::from_bytes(parent)) };
            match rustix::fs::open(&path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) {
                Ok(fd) => *dir = Some((parent.to_vec(), fd)),
                Err(_) => return false,
            }
        }
        let Some((_, fd)) = dir.as_ref() else { return false };
        let name = std::ffi::OsStr::from_bytes(name);
        if !rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| Some(Stamp::of_stat(&st)) == f.stamp)
        {
            return false;
        }
        let Some(hash) = f.hash.filter(|_| !f.settled.load(Ordering::Relaxed)) else { return true };
        // A racy stamp: the content too (no symbolic link, nothing that
        // blocks; streamed: at most `RACY_LOOK_MAX`, see where the memo is
        // made).
        let before = now();
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let same = rustix::fs::openat(fd, name, flags, Mode::empty())
            .is_ok_and(|file| racy_look(file.into(), f.stamp.map_or(0, |st| st.size)) == Some(hash));
        if same && f.stamp.is_some_and(|st| !st.racy(before)) {
            f.settled.store(true, Ordering::Relaxed);
        }
        same
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(8);
    let chunk = files.len().div_ceil(threads).max(1024);
    let failed = AtomicBool::new(false);
    let run = |part: &[&MemoFile]| {
        let mut dir = None;
        for f in part {
            if failed.load(Ordering::Relaxed) {
                return;
            }
            if !holds(&mut dir, f) {
                failed.store(true, Ordering::Relaxed);
            }
        }
    };
    if files.len() <= chunk {
        run(files);
    } else {
        std::thread::scope(|scope| {
            for part in files.chunks(chunk) {
                scope.spawn(|| run(part));
            }
        });
    }
    !failed.load(Ordering::Relaxed)
}

/// A file of a run's report: one the run found, or one of the remembered
/// answer it updates (in a directory where nothing changed).
#[derive(Clone, Copy)]
enum Row {
    New(usize),
    Remembered(usize),
}

/// The remembered answer a run can update instead of walking the tree, and
/// the directories (relative to the root) to look at again: only files
/// changed since, in directories it walked, and not too many of them.
fn incremental(engine: &Engine, key: &MemoKey, epoch: u64, root: &Path, now: u64) -> Option<(Arc<Memo>, Vec<String>)> {
    let memo = engine.memo()?;
    if memo.key != *key || memo.epoch != epoch || (memo.expires_at != 0 && now >= memo.expires_at) || !memo.updatable {
        return None;
    }
    // A file named on the command line is listed even if ignored; a walk of
    // its directory would leave it out.
    if !key.targets.iter().all(|t| t.is_dir()) {
        return None;
    }
    let changed = engine.watch.changed_since(memo.generation)?;
    let mut dirs = Vec::with_capacity(changed.len() + memo.redo.len());
    for dir in changed {
        let rel = dir.strip_prefix(root).ok()?.to_str()?;
        if !memo.dirs.contains(rel) {
            return None;
        }
        dirs.push(rel.to_owned());
    }
    // And those of the files whose outcomes were no verdicts, if the run
    // walked them (a file git tracks in a directory an ignore rule takes
    // out whole was found by git's list, not by a walk of its directory,
    // which would find the untracked files beside it too).
    if !memo.redo.iter().all(|d| memo.dirs.contains(d)) {
        return None;
    }
    dirs.extend(memo.redo.iter().cloned());
    dirs.sort_unstable();
    dirs.dedup();
    // Past a quarter of the tree's directories, walking it all costs little
    // more.
    if dirs.is_empty() || dirs.len() > (memo.dirs.len() / 4).max(64) {
        return None;
    }
    Some((memo, dirs))
}

/// Turns on the cores for a check's long phases that run as threads of
/// their own, not as tasks: its walk, its look at a remembered answer's
/// files, its whole report's serialization. As many at once as there are
/// cores, across all checks: sixty-four checks at once each walking (two
/// threads apiece), looking (a thread per core apiece) or serializing
/// (tens of MB) crowded the cores and the allocator's locks, and the
/// runtime's own threads, with little to do, got their turn late (another
/// connection's `ping` waited seconds; docs/performance.md).
static CORE_TURNS: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> = std::sync::LazyLock::new(|| {
    Arc::new(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get)))
});

/// A turn of [`CORE_TURNS`], to be held by the work it is for (moved into
/// its blocking closure: a cancelled check's walk still running keeps it
/// until it ends, or lets it go where it only waits).
async fn core_turn() -> tokio::sync::OwnedSemaphorePermit {
    CORE_TURNS.clone().acquire_owned().await.expect("never closed")
}

/// The directory `rel` (relative to `root`; `""` is the root itself).
fn in_root(root: &Path, rel: &str) -> PathBuf {
    if rel.is_empty() { root.to_path_buf() } else { root.join(rel) }
}

/// The files git tracks that its ignore rules match (`git ls-files
/// --cached --ignored --exclude-standard`), which git checks in and so does
/// a check: an ignore rule keeps out only what git does not track (a `.env`
/// committed before it was listed in `.gitignore` still holds its
/// secrets). The walk goes by the rules alone, so these are added after it.
///
/// Asked of the repository the project is in, while the walk runs, and of
/// every repository the walk found nested in the project (a submodule, a
/// clone inside it), after it: git lists no file of those from outside
/// (`--recurse-submodules` lists none with `--ignored`). Nothing when the
/// project is in no repository, or git cannot be run.
struct TrackedIgnored {
    /// The top of the repository the project is in, if any.
    top: Option<PathBuf>,
    /// Repositories to list, in order: the project's, then nested ones.
    tops: Vec<PathBuf>,
    /// git, started for the project's repository while the walk runs.
    first: Option<std::process::Child>,
    /// Why git could not be started, if it could not.
    unavailable: Option<std::io::Error>,
}

/// How long git may take to list them, all repositories together, before
/// the check goes on without the ones not listed yet.
const TRACKED_IGNORED_WAIT: Duration = Duration::from_secs(10);

/// How many repositories git lists at once (a project holding hundreds of
/// clones runs as many gits one after another, not all together).
const TRACKED_IGNORED_LANES: usize = 4;

impl TrackedIgnored {
    /// Starts git in the repository `root` is in (its nearest ancestor, or
    /// itself, holding `.git`).
    fn ask(root: &Path) -> TrackedIgnored {
        let top = root.ancestors().find(|d| d.join(".git").symlink_metadata().is_ok()).map(Path::to_path_buf);
        let (first, unavailable) = match top.as_deref().map(Self::spawn) {
            Some(Ok(child)) => (Some(child), None),
            Some(Err(e)) => (None, Some(e)),
            None => (None, None),
        };
        TrackedIgnored { tops: top.iter().cloned().collect(), top, first, unavailable }
    }

    /// Adds the repositories the walk found in the project at `root`
    /// (directories holding a `.git`; the walk's hazards collect them, with
    /// those above it) of which `keep` says yes.
    fn and_nested(&mut self, root: &Path, repos: &[PathBuf], keep: impl Fn(&Path) -> bool) {
        let mut nested: Vec<&PathBuf> = repos
            .iter()
            .filter(|d| d.starts_with(root) && Some(d.as_path()) != self.top.as_deref() && keep(d))
            .collect();
        nested.sort_unstable();
        nested.dedup();
        self.tops.extend(nested.into_iter().cloned());
    }

    /// git listing the repository at `top`.
    fn spawn(top: &Path) -> std::io::Result<std::process::Child> {
        let mut git = git_in(top);
        git.args(["ls-files", "-z", "--cached", "--ignored", "--exclude-standard"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        git.spawn().inspect_err(|e| {
            // Said once a daemon: every check in a repository meets it (and
            // its report says so).
            static SAID: AtomicBool = AtomicBool::new(false);
            if !SAID.swap(true, Ordering::Relaxed) {
                warn!(error = %e, "cannot run git: files git tracks that an ignore rule matches are not checked");
            } else {
                debug!(error = %e, "cannot run git to list the tracked files that ignore rules match");
            }
        })
    }

    /// What git listed for each repository (its top, and the names
    /// relative to it, NUL-separated), at most [`TRACKED_IGNORED_LANES`]
    /// at a time, all within [`TRACKED_IGNORED_WAIT`] of the call. A
    /// repository git could not list, or not in time, is left out; the
    /// second list says so for the report, where git could not be run or
    /// took too long (git refusing a repository is git's view of it).
    fn listings(mut self) -> (Vec<(PathBuf, Vec<u8>)>, TrackedListing) {
        let mut said = TrackedListing::default();
        let cannot_run = |e: &std::io::Error| {
            format!("git could not be run ({e}): the files it tracks that an ignore rule matches were not checked")
        };
        if let Some(e) = &self.unavailable {
            said.notes.push(cannot_run(e));
            return (Vec::new(), said);
        }
        let deadline = Instant::now() + TRACKED_IGNORED_WAIT;
        let (tx, rx) = std::sync::mpsc::channel::<(usize, std::io::Result<Vec<u8>>)>();
        let mut running: HashMap<usize, std::process::Child> = HashMap::new();
        let mut listed = Vec::new();
        let mut first = self.first.take();
        let mut next = 0;
        // A thread reads each git's list; one that cannot be started (the
        // limit of processes reached) loses that repository's list.
        let start = |i: usize, mut child: std::process::Child, running: &mut HashMap<usize, std::process::Child>| {
            let Some(mut stdout) = child.stdout.take() else { return Ok(()) };
            let tx = tx.clone();
            let reader = std::thread::Builder::new().name("verdict-git-list".into()).spawn(move || {
                let mut out = Vec::new();
                let read = std::io::Read::read_to_end(&mut stdout, &mut out);
                let _ = tx.send((i, read.map(|_| out)));
            });
            if let Err(e) = reader {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
            running.insert(i, child);
            Ok(())
        };
        loop {
            while running.len() < TRACKED_IGNORED_LANES && next < self.tops.len() {
                let child = match if next == 0 { first.take() } else { None } {
                    Some(child) => Ok(child),
                    None => Self::spawn(&self.tops[next]),
                };
                match child {
                    Ok(child) => {
                        if let Err(e) = start(next, child, &mut running) {
                            warn!(error = %e, "cannot start a thread to read git's list of tracked ignored files");
                            said.notes.push(format!(
                                "git's list of the files it tracks that an ignore rule matches could not be read (no \
                                 thread could be started: {e}): those of {} were not checked",
                                self.tops[next].display()
                            ));
                            // Files may be missing: not remembered.
                            said.timed_out = true;
                        }
                    }
                    // Nested repositories in a project in none: said once.
                    Err(e) if !said.notes.iter().any(|n| n.starts_with("git could not be run")) => {
                        said.notes.push(cannot_run(&e))
                    }
                    Err(_) => {}
                }
                next += 1;
            }
            if running.is_empty() {
                break;
            }
            let Ok((i, read)) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
                let left = running.len() + self.tops.len() - next;
                warn!(
                    "git took over {TRACKED_IGNORED_WAIT:?} to list the tracked files that ignore rules match; checking \
                     without those of {left} repositories"
                );
                said.notes.push(format!(
                    "git took over {} s to list the files it tracks that an ignore rule matches: those of {left} {} \
                     were not checked",
                    TRACKED_IGNORED_WAIT.as_secs(),
                    if left == 1 { "repository" } else { "repositories" }
                ));
                said.timed_out = true;
                for (_, mut child) in running {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                break;
            };
            let Some(mut child) = running.remove(&i) else { continue };
            let ok = match read {
                Ok(out) => child.wait().is_ok_and(|status| status.success()).then_some(out),
                Err(e) => {
                    debug!(error = %e, "cannot read git's list of tracked files that ignore rules match");
                    let _ = child.kill();
                    let _ = child.wait();
                    None
                }
            };
            match ok {
                Some(out) => listed.push((self.tops[i].clone(), out)),
                None => {
                    debug!(repository = %self.tops[i].display(), "git could not list the tracked files that ignore rules match");
                    // Most likely git's refusal of a repository another
                    // user owns (its `safe.directory`), which verdict was
                    // told to trust (`VERDICT_SAFE_DIRECTORIES`, or root's
                    // checkout): said, not left to pass for a clean check.
                    if let Some(owner) = foreign_owner(&self.tops[i])
                        && git_refuses_as_dubious(&self.tops[i])
                    {
                        said.notes.push(format!(
                            "git refused to list the files of {top} (owned by uid {owner}, not by this user: git's \
                             safe.directory rule), so the files it tracks that an ignore rule matches were not checked; \
                             `git config --global --add safe.directory {top}` lets it",
                            top = self.tops[i].display()
                        ));
                    }
                }
            }
        }
        (listed, said)
    }

    /// Adds to `files` (sorted, as the walks leave them) the regular files
    /// git listed that are in the project, not verdict's own, not in a
    /// directory `check.exclude` takes out whole, not found already, and of
    /// which `wanted` (given the path relative to the root) says yes, nor
    /// `dot_ignore` hides (in the project at its root).
    /// Returns what the report says of it (see [`TrackedIgnored::listings`]).
    fn add_to(
        self,
        files: &mut Vec<Walked>,
        mut dot_ignore: DotIgnore<'_>,
        own: &[PathBuf],
        excluded_dirs: &globset::GlobSet,
        stat: bool,
        wanted: impl Fn(&str) -> bool,
    ) -> TrackedListing {
        let mut added = Vec::new();
        let root = dot_ignore.root;
        let (listings, mut said) = self.listings();
        for (top, listed) in listings {
            for name in listed.split(|&b| b == 0).filter(|n| !n.is_empty()) {
                let abs = top.join(std::ffi::OsStr::from_bytes(name));
                let Ok(path) = abs.strip_prefix(root) else { continue };
                let (rel, raw) = match path.to_str() {
                    Some(s) => (s.to_owned(), None),
                    None => (path.to_string_lossy().into_owned(), Some(path.as_os_str().as_bytes().into())),
                };
                // A rules file rules the files below it whatever path is
                // checked: one is kept even where the check does not look.
                let rules = abs.file_name().is_some_and(|n| n == attributes::FILE_NAME || n == editorconfig::FILE_NAME);
                let wanted = wanted(&rel);
                if !(wanted || rules)
                    || own.iter().any(|o| abs.starts_with(o))
                    || dir_excluded(excluded_dirs, Path::new(parent(&rel)))
                    || dot_ignore.hides(path)
                {
                    continue;
                }
                if rules {
                    said.rules_files.push(abs.clone());
                }
                if !wanted || files.binary_search_by(|w| w.rel.as_str().cmp(&rel).then_with(|| w.raw.cmp(&raw))).is_ok()
                {
                    continue;
                }
                // A regular file, not a link (as the walk takes none), and
                // not one deleted since it was added to the index.
                let Ok(meta) = abs.symlink_metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                let lock = std::sync::OnceLock::new();
                if stat {
                    let _ = lock.set(meta);
                }
                added.push(Walked { rel, raw, abs, meta: lock, ..Walked::default() });
            }
        }
        said.added_dirs = added.iter().filter_map(|w| w.abs.parent().map(Path::to_path_buf)).collect();
        said.added_dirs.sort_unstable();
        said.added_dirs.dedup();
        if !added.is_empty() {
            files.append(&mut added);
            files.sort_unstable_by(|a, b| a.rel.cmp(&b.rel).then_with(|| a.raw.cmp(&b.raw)));
            // A file the repository around tracks, in a directory that was
            // made a repository of its own since, is listed by both.
            files.dedup_by(|a, b| a.rel == b.rel && a.raw == b.raw);
        }
        said
    }
}

impl Drop for TrackedIgnored {
    /// A git started for the project's repository and never waited for (a
    /// walk that panicked): ended, not left a zombie.
    fn drop(&mut self) {
        if let Some(mut child) = self.first.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether a `.ignore` hides a file git tracks: git knows only its own
/// ignore files, so it lists a tracked file that a `.gitignore` matches
/// even where a `.ignore` hides the file or a directory above it, which the
/// walk then did not enter. `.ignore` is the walk's own say ("not this,
/// tracked or not"), so such a file is not checked, as a tracked file that
/// only a `.ignore` hides is not (git does not list it). The `.ignore`
/// files are those the walk read (it records each, with its stamp): of the
/// directories it entered and of every directory above where it started,
/// up to `/`, as the walker honours them; those are watched or stamped.
struct DotIgnore<'a> {
    root: &'a Path,
    /// What the walk recorded of the ignore files it read.
    record: &'a Mutex<Vec<(PathBuf, ReadStamp)>>,
    /// The directories whose `.ignore` the walk read (from `record`, on
    /// first use: most checks list nothing git tracks and ignores).
    read: Option<HashSet<PathBuf>>,
    /// Those `.ignore` files compiled, by their directory (`None`: it could
    /// not be read now).
    rules: HashMap<PathBuf, Option<ignore::gitignore::Gitignore>>,
    /// Whether a directory of the project is hidden, by its path: the
    /// files git lists come many to a directory.
    hidden_dirs: HashMap<PathBuf, bool>,
}

impl<'a> DotIgnore<'a> {
    fn new(root: &'a Path, record: &'a Mutex<Vec<(PathBuf, ReadStamp)>>) -> Self {
        DotIgnore { root, record, read: None, rules: HashMap::new(), hidden_dirs: HashMap::new() }
    }

    /// The rules of the `.ignore` in `dir` (absolute), if the walk read one.
    fn of(&mut self, dir: &Path) -> Option<&ignore::gitignore::Gitignore> {
        let record = self.record;
        let read = self.read.get_or_insert_with(|| {
            let record = record.lock().expect("ignore files");
            record
                .iter()
                .filter(|(p, _)| p.file_name() == Some(".ignore".as_ref()))
                .filter_map(|(p, _)| p.parent())
                .map(Path::to_path_buf)
                .collect()
        });
        if !read.contains(dir) {
            return None;
        }
        if !self.rules.contains_key(dir) {
            let mut builder = ignore::gitignore::GitignoreBuilder::new(dir);
            // A line that does not compile is left out, the others kept,
            // as the walker does.
            let _ = builder.add(dir.join(".ignore"));
            let compiled = builder.build().ok();
            self.rules.insert(dir.to_path_buf(), compiled);
        }
        self.rules.get(dir).and_then(Option::as_ref)
    }

    /// Whether the nearest `.ignore` above `path` (absolute) with a say on
    /// it says to ignore it.
    fn says_ignore(&mut self, path: &Path, is_dir: bool) -> bool {
        for above in path.ancestors().skip(1) {
            let Some(rules) = self.of(above) else { continue };
            match rules.matched(path, is_dir) {
                ignore::Match::Ignore(_) => return true,
                ignore::Match::Whitelist(_) => return false,
                ignore::Match::None => {}
            }
        }
        false
    }

    /// Whether directory `dir` (absolute, in the project) or one above it
    /// in the project is hidden.
    fn dir_hidden(&mut self, dir: &Path) -> bool {
        // The directories below the root down to `dir` not looked at yet,
        // looked at from the top: a directory hidden hides all below it.
        let mut unknown: Vec<&Path> = Vec::new();
        let mut hidden = false;
        for d in dir.ancestors().take_while(|d| *d != self.root && d.starts_with(self.root)) {
            if let Some(&known) = self.hidden_dirs.get(d) {
                hidden = known;
                break;
            }
            unknown.push(d);
        }
        for d in unknown.into_iter().rev() {
            hidden = hidden || self.says_ignore(d, true);
            self.hidden_dirs.insert(d.to_path_buf(), hidden);
        }
        hidden
    }

    /// Whether `rel` (relative to the root), or a directory above it, is
    /// hidden by a `.ignore`.
    fn hides(&mut self, rel: &Path) -> bool {
        let abs = self.root.join(rel);
        abs.parent().is_some_and(|d| self.dir_hidden(d)) || self.says_ignore(&abs, false)
    }
}

/// What the listing of tracked files that ignore rules match tells the
/// report.
#[derive(Default)]
struct TrackedListing {
    /// Notes for the report's summary (git could not be run, or took too
    /// long).
    notes: Vec<String>,
    /// The directories of the files added (absolute).
    added_dirs: Vec<PathBuf>,
    /// The rules files (`.gitattributes`, `.editorconfig`) git tracks that
    /// the ignore rules hide, wherever they are in the project (absolute):
    /// they count for a check of any path below them, as for one of the
    /// whole tree.
    rules_files: Vec<PathBuf>,
    /// git took too long, or its list could not be read: files may be
    /// missing, so the answer is not remembered.
    timed_out: bool,
}

/// The names of the files directly in `dir` that git tracks though an
/// ignore rule matches them (none where `dir` is in no repository, or git
/// cannot be run). Asked only for the directories of files named alone
/// whose pair is on disk: one git a directory.
fn tracked_ignored_in(dir: &Path) -> Vec<Vec<u8>> {
    let out = git_in(dir)
        .args(["ls-files", "-z", "--cached", "--ignored", "--exclude-standard", "--", "."])
        .stderr(std::process::Stdio::null())
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else { return Vec::new() };
    out.stdout.split(|&b| b == 0).filter(|n| !n.is_empty() && !n.contains(&b'/')).map(<[u8]>::to_vec).collect()
}

/// The directory of a path relative to the root (`""`: the root).
fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(d, _)| d)
}

impl MemoFile {
    /// Its directory, relative to the root, exactly: `None` if that name is
    /// not UTF-8 (its lossy form may be another directory's name, and
    /// only directories named in UTF-8 are walked again by an update).
    fn dir(&self) -> Option<&str> {
        match &self.raw {
            None => Some(parent(&self.rel)),
            Some(raw) => {
                let dir = memchr::memrchr(b'/', raw).map_or(&raw[..0], |i| &raw[..i]);
                std::str::from_utf8(dir).ok()
            }
        }
    }
}

/// The rows of a report: the run's files, merged by path with the files of
/// `memo` outside the directories the run looked at again.
fn rows(walked: &[Walked], increment: Option<&(Arc<Memo>, Vec<String>)>) -> Vec<Row> {
    let Some((memo, dirty)) = increment else { return (0..walked.len()).map(Row::New).collect() };
    let dirty: HashSet<&str> = dirty.iter().map(String::as_str).collect();
    let kept = memo.files.iter().enumerate().filter(|(_, f)| !f.dir().is_some_and(|d| dirty.contains(d)));
    let mut rows = Vec::with_capacity(memo.files.len() + walked.len());
    let mut new = (0..walked.len()).peekable();
    for (i, f) in kept {
        while let Some(&fi) = new.peek().filter(|&&fi| walked[fi].rel < f.rel) {
            rows.push(Row::New(fi));
            new.next();
        }
        rows.push(Row::Remembered(i));
    }
    rows.extend(new.map(Row::New));
    rows
}

impl Memo {
    /// Whether this answer is the one a run with `key` would give now.
    pub(crate) fn answers(&self, key: &MemoKey, generation: u64, epoch: u64, now: u64) -> bool {
        &self.key == key
            && self.generation == generation
            && self.epoch == epoch
            && (self.expires_at == 0 || now < self.expires_at)
            // Every checked file can be looked at again (its stamp, or its
            // content).
            && self.updatable
            // Every outcome is a verdict: nothing to do again.
            && self.redo.is_empty()
    }
}

/// What a remembered answer was computed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemoKey {
    /// The canonical paths walked.
    targets: Vec<PathBuf>,
    /// The selected validators and their identities (configuration, tool
    /// version).
    validators: Vec<(String, [u8; 16])>,
    /// Whether passes are listed.
    all_outcomes: bool,
}

/// The report a warm run gives for the same outcomes: every outcome cached.
fn as_warm(mut warm: CheckReport) -> CheckReport {
    let mut with_findings = 0;
    for r in &mut warm.outcomes {
        r.outcome = match std::mem::replace(&mut r.outcome, Outcome::Passed) {
            Outcome::Passed => Outcome::Cached { verdict: Verdict::Passed },
            Outcome::Findings { findings } => Outcome::Cached { verdict: Verdict::Findings { findings } },
            other => other,
        };
        if !r.outcome.findings().is_empty() {
            with_findings += 1;
        }
    }
    let s = &mut warm.summary;
    for (kind, n) in s.outcomes.iter_mut() {
        *n = if kind == OutcomeKind::Cached.as_str() { s.pairs } else { 0 };
    }
    s.cached_with_findings = with_findings;
    s.files_read = 0;
    s.computed = 0;
    s.from_cache = s.pairs;
    s.cache_used = true;
    s.incremental = false;
    warm
}

fn soonest(a: u64, b: u64) -> u64 {
    match (a, b) {
        (0, x) | (x, 0) => x,
        (a, b) => a.min(b),
    }
}

/// How many complete per-file entries, or how long, a run lets wait before
/// writing them: a run killed midway keeps what it finished.
const ENTRY_FLUSH_COUNT: usize = 512;
const ENTRY_FLUSH_EVERY: Duration = Duration::from_millis(100);

/// A per-file entry ready to write: key, verdicts in set order, TTL.
type Entry = (ResultKey, Vec<StoredVerdict>, u64);

/// Assembles per-file entries as outcomes arrive and hands out the
/// complete ones for writing.
struct EntryCollector {
    /// Indexed by file.
    pending: Vec<Option<PendingEntry>>,
    ready: Vec<Entry>,
    last_flush: Instant,
}

struct PendingEntry {
    set: Arc<FileSet>,
    key: ResultKey,
    /// The key of the entry of the set's built-ins alone, written should a
    /// command member get no verdict to cache (`None`: not to be written,
    /// as they came from it).
    inline_key: Option<ResultKey>,
    slots: Vec<Option<StoredVerdict>>,
    missing: usize,
    /// When the oldest verdict taken from a per-pair result expires (0:
    /// none taken, or never): the entry may not outlive it.
    expires_at: u64,
}

impl EntryCollector {
    fn new() -> EntryCollector {
        EntryCollector { pending: Vec::new(), ready: Vec::new(), last_flush: Instant::now() }
    }

    /// Starts assembling the entry of file `fi` (see
    /// [`PendingEntry::inline_key`]).
    fn expect(&mut self, fi: usize, set: Arc<FileSet>, key: ResultKey, inline_key: Option<ResultKey>) {
        let n = set.members.len();
        if self.pending.len() <= fi {
            self.pending.resize_with(fi + 1, || None);
        }
        self.pending[fi] = Some(PendingEntry { set, key, inline_key, slots: vec![None; n], missing: n, expires_at: 0 });
    }

    /// Offers a verdict read from a per-pair result expiring at `expires_at`
    /// (0: never): the file's entry expires no later.
    fn offer_cached(&mut self, fi: usize, vi: usize, v: StoredVerdict, expires_at: u64) {
        if let Some(Some(p)) = self.pending.get_mut(fi) {
            p.expires_at = soonest(p.expires_at, expires_at);
        }
        self.offer(fi, vi, Some(v));
    }

    fn offer(&mut self, fi: usize, vi: usize, v: Option<StoredVerdict>) {
        let Some(slot) = self.pending.get_mut(fi) else { return };
        let Some(p) = slot else { return };
        let Some(pos) = p.set.members.iter().position(|&m| m == vi) else { return };
        let Some(v) = v else {
            // No entry for the set; one for its built-ins, if they all
            // answered already.
            let p = slot.take().expect("present");
            if let (Some(part), Some(key)) = (&p.set.inline_part, p.inline_key) {
                let verdict = |m: &usize| p.set.members.iter().position(|x| x == m).and_then(|at| p.slots[at].clone());
                if let Some(verdicts) = part.members.iter().map(verdict).collect::<Option<Vec<_>>>() {
                    self.ready.push((key, verdicts, part.ttl));
                }
            }
            return;
        };
        if p.slots[pos].is_none() {
            p.missing -= 1;
        }
        p.slots[pos] = Some(v);
        if p.missing == 0 {
            let p = slot.take().expect("present");
            let verdicts = p.slots.into_iter().map(|v| v.expect("complete")).collect();
            self.ready.push((p.key, verdicts, entry_ttl(&p.set, p.expires_at)));
        }
    }

    /// The entry of a file whose every member's verdict is at hand, one
    /// offer per member (validator, verdict, expiry of a verdict taken from
    /// a per-pair result), built as the collector would build it.
    fn complete(set: &FileSet, key: ResultKey, offers: &mut Vec<(usize, Option<StoredVerdict>, Option<u64>)>) -> Entry {
        let mut expires_at = 0;
        let verdicts = set
            .members
            .iter()
            .map(|&m| {
                let at = offers.iter().position(|o| o.0 == m).expect("every member offered");
                let (_, v, cached) = offers.swap_remove(at);
                if let Some(cached) = cached {
                    expires_at = soonest(expires_at, cached);
                }
                v.expect("every verdict cacheable")
            })
            .collect();
        (key, verdicts, entry_ttl(set, expires_at))
    }

    /// The entry of the built-ins of a file whose set has command members
    /// too, one of which got no verdict to cache (see
    /// [`FileSet::inline_part`]): built when every built-in answered, one
    /// offer each (validator, verdict, expiry of a verdict taken from a
    /// per-pair result), as [`EntryCollector::offer`] would build it.
    fn inline_only(
        set: &FileSet,
        key: ResultKey,
        offers: &[(usize, Option<StoredVerdict>, Option<u64>)],
    ) -> Option<Entry> {
        let part = set.inline_part.as_deref()?;
        let verdicts = part
            .members
            .iter()
            .map(|&m| offers.iter().find(|o| o.0 == m).and_then(|o| o.1.clone()))
            .collect::<Option<Vec<_>>>()?;
        Some((key, verdicts, part.ttl))
    }

    /// The complete entries, if enough are waiting (or `all`).
    fn take_ready(&mut self, all: bool) -> Vec<Entry> {
        let due = self.ready.len() >= ENTRY_FLUSH_COUNT || self.last_flush.elapsed() >= ENTRY_FLUSH_EVERY;
        if self.ready.is_empty() || !(all || due) {
            return Vec::new();
        }
        self.last_flush = Instant::now();
        std::mem::take(&mut self.ready)
    }
}

/// The TTL of a per-file entry of `set` whose oldest verdict taken from a
/// per-pair result expires at `expires_at` (0: none, or never).
fn entry_ttl(set: &FileSet, expires_at: u64) -> u64 {
    match expires_at {
        0 => set.ttl,
        // The store adds a second to a TTL (for the part of the current
        // second already gone): one less, so the entry ends with the result.
        at => soonest(set.ttl, at.saturating_sub(now_secs()).saturating_sub(1).max(1)),
    }
}

/// The cacheable validators one file gets an outcome from, whose outcomes
/// are kept together in one per-file entry.
struct FileSet {
    /// Selected validators, ordered by identity (the entry's order).
    members: Vec<usize>,
    /// xxh3-128 of the members' identities: the entry's key prefix.
    id: [u8; 16],
    /// The shortest of the members' TTLs (0 = never expires).
    ttl: u64,
    /// A member's verdict depends on the file's executable bit, not only on
    /// its bytes (`shebang-executable`): the bit is part of the key. (An
    /// external tool's is: see [`command_key`].)
    mode_dependent: bool,
    /// A member is an external tool, which is given the file's path and may
    /// judge by it: the path is part of the key (see [`command_key`]).
    path_dependent: bool,
    /// The built-ins among the members, as a set of their own, when there
    /// are external tools among them too. A file whose tool got no verdict
    /// to cache (a tool that is missing, crashed or timed out) has no entry
    /// for this set; one for this part keeps its built-ins' verdicts, looked
    /// up when the set's entry is missing (the tools' own verdicts are kept
    /// per pair).
    inline_part: Option<Arc<FileSet>>,
}

/// The content half of the key of an external tool's verdict on a file: its
/// bytes' hash and its path. A tool may judge a file by its path as well as
/// by its bytes (per-file ignores, overrides by directory), so files of the
/// same bytes at two paths do not share a verdict, nor wait for each other's.
/// And by its executable bit (pre-commit's `check-executables-have-shebangs`):
/// `chmod +x` is a new key.
fn command_key(hash: u128, w: &Walked) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&hash.to_be_bytes());
    h.update(w.name_bytes());
    h.update(&[u8::from(w.executable())]);
    h.digest128()
}

/// Interns the sets of a run: files share a handful of them.
#[derive(Default)]
struct FileSets(HashMap<Vec<usize>, Arc<FileSet>>);

impl FileSets {
    /// The set of `members`, indices into `handles` (the run's selected
    /// validators, then, in a filtered run, the others: see
    /// [`read_stage::Stage::others`]).
    fn get(&mut self, members: Vec<usize>, handles: &[&ValidatorHandle]) -> Arc<FileSet> {
        if let Some(set) = self.0.get(&members) {
            return set.clone();
        }
        let mut ordered = members.clone();
        ordered.sort_by_key(|&vi| handles[vi].identity);
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(b"verdict per-file entry v1\0");
        for &vi in &ordered {
            h.update(&handles[vi].identity);
        }
        let ttl = ordered.iter().map(|&vi| handles[vi].config.cache_ttl.as_secs()).filter(|&t| t > 0).min();
        let mode_dependent = ordered.iter().any(|&vi| {
            matches!(
                handles[vi].config.kind,
                crate::config::ValidatorKind::Builtin {
                    kind: verdict_actors::builtin::BuiltinKind::ShebangExecutable,
                    ..
                }
            )
        });
        let path_dependent = ordered.iter().any(|&vi| runs_a_command(handles[vi]));
        let inline: Vec<usize> = ordered.iter().copied().filter(|&vi| handles[vi].inline.is_some()).collect();
        let inline_part = (!inline.is_empty() && inline.len() < ordered.len()).then(|| self.get(inline, handles));
        let set = Arc::new(FileSet {
            members: ordered,
            id: h.digest128().to_be_bytes(),
            ttl: ttl.unwrap_or(0),
            mode_dependent,
            path_dependent,
            inline_part,
        });
        self.0.insert(members, set.clone());
        set
    }
}

/// Adds per-file entries to a batch of cache writes.
fn add_entries(
    batch: &mut verdict_storage::StoreBatch<'_>,
    entries: &[Entry],
    now: u64,
) -> Result<(), verdict_storage::StorageError> {
    let refs: Vec<(ResultKey, &Vec<StoredVerdict>, u64)> = entries.iter().map(|(k, v, ttl)| (*k, v, *ttl)).collect();
    batch.put_file_results(&refs, now)
}

fn write_entries(
    run: &RunState,
    store: &Store,
    entries: &[Entry],
    now: u64,
) -> Result<(), verdict_storage::StorageError> {
    let mut batch = store.batch();
    add_entries(&mut batch, entries, now)?;
    run.note_skipped(&batch);
    batch.commit()
}

/// The key of a file's entry: its set and its content (and, for a set whose
/// verdicts depend on them, its path and its executable bit; and the marks
/// its git attributes and its name give it, which the built-ins heed; and,
/// below a directory of tests, the project's `.prettierignore`, whose say
/// is asked only where a whitespace check finds something: `formatter`,
/// its digest, if there is one).
fn file_key(set: &FileSet, hash: Option<u128>, w: &Walked, formatter: Option<u64>) -> ResultKey {
    let hash = hash.unwrap_or(0);
    let content = if set.path_dependent { command_key(hash, w) } else { hash }.to_be_bytes();
    let marks = w.marks();
    let bits = marks.bits();
    if !set.mode_dependent && bits == 0 {
        return ResultKey { validator: set.id, content };
    }
    // A file nothing marks keeps the key it had before marks were read
    // (its cached verdicts stay good).
    // (And one with marks of the first byte only keeps the key it had
    // before there were more.)
    // (And one with marks of the first 32 bits only keeps the key it had
    // before there were more.)
    let width = if bits > u64::from(u32::MAX) { 8 } else { 4 };
    let mut keyed = [0u8; 33];
    keyed[..16].copy_from_slice(&content);
    keyed[16] = u8::from(set.mode_dependent && w.executable());
    keyed[17..17 + width].copy_from_slice(&bits.to_le_bytes()[..width]);
    let keyed = match (bits, formatter.filter(|_| marks.in_tests)) {
        (_, Some(digest)) => {
            keyed[17 + width..25 + width].copy_from_slice(&digest.to_le_bytes());
            &keyed[..25 + width]
        }
        (0, None) => &keyed[..17],
        (1..=0xff, None) => &keyed[..18],
        (0x100..=0xffff, None) => &keyed[..19],
        (_, None) => &keyed[..17 + width],
    };
    ResultKey { validator: set.id, content: xxhash_rust::xxh3::xxh3_128(keyed).to_be_bytes() }
}

/// Runs a check.
/// `restart_required`: the sections a reload of verdict.toml just before
/// this check found changed, which wait for a restart (said in its summary).
pub async fn run(
    engine: &Engine,
    params: CheckParams,
    restart_required: Vec<String>,
    started: Instant,
    ctx: &RequestCtx,
) -> Result<Box<serde_json::value::RawValue>, RpcError> {
    // Before the configuration is read: a reload after this point makes
    // whatever this run remembers unusable.
    let epoch = engine.memo_epoch.load(Ordering::SeqCst);
    let cache_epoch = engine.cache_epoch.current();
    let (config, globs) = engine.config_and_globs();
    let root = engine.layout().root.clone();
    let handles = ractor::call!(engine.supervisor(), SupervisorMessage::GetHandles)
        .map_err(|e| RpcError::new(crate::protocol::code::INTERNAL_ERROR, e.to_string()))?;

    // What there is to choose from, for the message.
    let known = |of: fn(&ValidatorHandle) -> &str, what: &str| {
        let mut known: Vec<&str> = handles.iter().map(|h| of(h)).collect();
        known.sort_unstable();
        known.dedup();
        if known.is_empty() {
            "no validator is configured".to_owned()
        } else {
            format!("the {what} are: {}", known.join(", "))
        }
    };
    // A filter given as an empty list selects nothing: a client whose
    // computed filter came out empty, not one that wants everything.
    let filter = |list: Option<Vec<String>>, field: &'static str| match list {
        Some(l) if l.is_empty() => Err(RpcError::invalid_params(
            field,
            format!("an empty list selects no validator (leave `{field}` out, or null, for all)"),
        )),
        l => Ok(l.unwrap_or_default()),
    };
    let validators = filter(params.validators, "validators")?;
    let dimensions = filter(params.dimensions, "dimensions")?;
    for name in &validators {
        if !handles.iter().any(|h| &h.config.name == name) {
            let names = known(|h| &h.config.name, "validators");
            let like = did_you_mean(name, handles.iter().map(|h| h.config.name.as_str()));
            return Err(RpcError::invalid_params("validators", format!("no validator named {name:?}{like} ({names})")));
        }
    }
    for dimension in &dimensions {
        if !handles.iter().any(|h| &h.config.dimension == dimension) {
            let dimensions = known(|h| &h.config.dimension, "dimensions");
            let like = did_you_mean(dimension, handles.iter().map(|h| h.config.dimension.as_str()));
            return Err(RpcError::invalid_params(
                "dimensions",
                format!("no validator has the dimension {dimension:?}{like} ({dimensions})"),
            ));
        }
    }
    let global_exclude = globs.exclude.clone().map_err(|e| RpcError::invalid_params("exclude", e))?;
    // Directories the walk does not enter: all they hold is excluded.
    // Shared by every walker a run makes (one per changed directory).
    let excluded_dirs = globs.excluded_dirs.clone();
    let mut selected = Vec::new();
    // The validators a filter leaves out, with their globs: a file's entry
    // from an unfiltered check names them too, and answers for the
    // selected ones (see `read_stage::Stage::others`).
    let mut others: Vec<(Arc<ValidatorHandle>, Arc<FileFilter>)> = Vec::new();
    let mut others_known = true;
    for h in handles {
        if (!validators.is_empty() && !validators.contains(&h.config.name))
            || (!dimensions.is_empty() && !dimensions.contains(&h.config.dimension))
        {
            match h.filter.clone() {
                Ok(filter) => others.push((h, filter)),
                Err(_) => others_known = false,
            }
            continue;
        }
        // The globs were validated with the configuration.
        let filter = h.filter.clone().map_err(|e| RpcError::invalid_params("files", e))?;
        let counters = engine.counters_for(&h.config.name);
        selected.push(Selected { handle: h, filter, counters, named: AtomicBool::new(false) });
    }
    // Filters that each match but together leave nothing would check
    // nothing and pass: in CI, a green build with nothing checked.
    if selected.is_empty() && !validators.is_empty() && !dimensions.is_empty() {
        return Err(RpcError::invalid_params(
            "dimensions",
            format!(
                "no validator among {} has the dimension {}: nothing would be checked",
                validators.join(", "),
                dimensions.join(" or ")
            ),
        ));
    }

    let mut targets = resolve_targets(&root, params.cwd.as_ref(), &params.paths)?;
    // Paths named on their own that `check.exclude` takes out whole (a
    // file, or a directory and all in it): the report says so, or naming
    // one would check nothing without a word.
    let excluded_whole = |t: &Path| {
        t.strip_prefix(&root).is_ok_and(|rel| {
            !rel.as_os_str().is_empty()
                && (global_exclude.is_match(rel) || (t.is_dir() && dir_excluded(&excluded_dirs, rel)))
        })
    };
    let excluded_named: Vec<String> = targets
        .iter()
        .filter(|t| excluded_whole(t))
        // Written exactly, as the walk's errors are.
        .filter_map(|t| {
            Some(crate::report::shown_name(t.strip_prefix(&root).ok()?.as_os_str().as_bytes()).into_owned())
        })
        .collect();
    // The files named, not excluded whole: each validator named is asked
    // whether it selects them.
    let named_files: Vec<(PathBuf, String)> = (targets.iter())
        .filter(|t| !validators.is_empty() && !excluded_whole(t) && t.is_file())
        .filter_map(|t| {
            let rel = t.strip_prefix(&root).ok()?;
            Some((rel.to_path_buf(), crate::report::shown_name(rel.as_os_str().as_bytes()).into_owned()))
        })
        .collect();
    // Nor is such a path walked (or its directories watched). The paths as
    // named stay what a remembered answer is for.
    let named = targets.clone();
    targets.retain(|t| !excluded_whole(t));

    // A clean earlier run over the same tree, validators and configuration
    // answers at once if no directory it walked changed since (see
    // crate::watch).
    let write_store = engine.store();
    let store = if params.no_cache { None } else { write_store.clone() };
    let watching = config.check.watch && engine.watch.available();
    let memo_key = MemoKey {
        targets: named,
        validators: selected.iter().map(|s| (s.handle.config.name.clone(), s.handle.identity)).collect(),
        all_outcomes: params.all_outcomes,
    };
    let generation = engine.watch.drain();
    let memo_usable = watching && store.is_some() && selected.iter().all(|s| s.handle.cacheable);
    let remembered = if memo_usable { engine.remembered(&memo_key, generation, epoch, now_secs()) } else { None };
    // A file changed through a way no watch sees: the answer is not
    // reused, nor updated; the tree is walked.
    let stale = match &remembered {
        Some(answer) => !stamps_hold(&root, answer, None).await,
        None => false,
    };
    if stale {
        debug!("a checked file changed where no watch sees it; walking the tree");
    }
    if !stale && let Some(answer) = remembered {
        for (s, n) in selected.iter().zip(&answer.pairs_per_validator) {
            s.counters.hits.fetch_add(*n, Ordering::Relaxed);
        }
        let report = &answer.report;
        let summary = Summary {
            unchanged: true,
            duration_ms: started.elapsed().as_millis() as u64,
            restart_required,
            ..report.summary.clone()
        };
        debug!(files = summary.files, "answered from the previous run: nothing changed");
        let (reply, _) =
            deliver(ctx, params.stream_outcomes, &summary, report.outcomes.iter(), &report.validators).await?;
        return Ok(reply);
    }
    // Or it is updated: only the directories where files changed are looked
    // at again.
    let mut increment =
        if memo_usable && !stale { incremental(engine, &memo_key, epoch, &root, now_secs()) } else { None };
    // The files it keeps (in directories where nothing changed) must be as
    // they were.
    if let Some((memo, dirty)) = &increment
        && !stamps_hold(&root, memo, Some(dirty.iter().cloned().collect())).await
    {
        debug!("a checked file changed where no watch sees it; walking the tree");
        increment = None;
    }
    let walk_watch = Arc::new(WalkWatch::default());

    // Each phase's wall time and the daemon's CPU time (every thread) in it:
    // their ratio is how many cores the phase kept busy.
    let mut phases: Vec<(&str, Duration, Duration)> = vec![("prepare", started.elapsed(), Duration::ZERO)];
    let mut cpu_since = process_cpu();
    let mut mark = |name, since: &mut Instant| {
        let cpu = process_cpu();
        phases.push((name, since.elapsed(), cpu.saturating_sub(cpu_since)));
        cpu_since = cpu;
        *since = Instant::now();
    };
    let mut since = Instant::now();
    // Before any file's `stat`: what a stamp is racy against.
    let walk_started_ns = verdict_storage::unix_now_ns();
    // Walk.
    let walk_root = root.clone();
    let watch = watching.then(|| (engine.watch.clone(), walk_watch.clone()));
    // verdict's own directories, when inside the project, are not
    // validated (and their writes would look like changes to the tree):
    // the cache in use, the one the configuration names (`--data-dir` may
    // have put the one in use elsewhere), and, for a project at `$HOME`,
    // the per-user roots of the caches, of the logs and of the sockets and
    // pid files (every project's; `$TMPDIR` may be under `$HOME`). Never
    // the project itself, or what holds it. A cache directory verdict
    // refused (it holds the user's files and no cache) is walked as any.
    let own = own_dirs(engine, &config);
    let stat_store = store.clone();
    let dirty = increment.as_ref().map(|(_, dirs)| dirs.clone());
    let walk_exclude = global_exclude.clone();
    let memo_exclude = global_exclude.clone();
    // A path named below the root is walked without the verdict.toml files
    // of the directories above it, which are looked for on their own.
    let above_named = match targets.iter().all(|t| *t == root) {
        true => Vec::new(),
        false => {
            let (root, targets) = (root.clone(), targets.clone());
            tokio::task::spawn_blocking(move || configs_above(&root, &targets))
                .await
                .map_err(|e| RpcError::new(crate::protocol::code::INTERNAL_ERROR, e.to_string()))?
        }
    };
    // The rules files an answer being updated relied on: the walk of some
    // directories does not list those of the others.
    let remembered_rules: Vec<PathBuf> = increment.as_ref().map_or_else(Vec::new, |(memo, _)| {
        let rules = |n: &std::ffi::OsStr| n == attributes::FILE_NAME || n == editorconfig::FILE_NAME;
        (memo.ignore_files.iter())
            .map(|(p, _)| p)
            .filter(|p| p.file_name().is_some_and(rules) || p.ends_with("info/attributes"))
            .cloned()
            .collect()
    });
    let walk_turn = core_turn().await;
    let read_by_walk = walk_watch.clone();
    // The project's `.prettierignore`, as the walk read it.
    let formatter_list: Arc<std::sync::OnceLock<Arc<formatter_ignore::FormatterList>>> = Arc::default();
    let formatter_slot = Arc::clone(&formatter_list);
    let walked = tokio::task::spawn_blocking(move || {
        // Held while the walk runs; given back before git's listing is
        // waited for (up to 10 s of waiting, not of work).
        let walk_turn = walk_turn;
        // The walk's `stat` of every file serves only the stat index: with
        // nothing there to compare with, the read stage `fstat`s what it
        // opens.
        let stat = stat_store.is_some_and(|s| !s.stat_index_is_empty());
        let hazards = Hazards::for_root(&walk_root);
        // Asked of git while the walk runs.
        let mut tracked = TrackedIgnored::ask(&walk_root);
        // A file there with another link, written through it, is an event
        // in that directory only; the remembered files elsewhere that share
        // its inode passed the `stat` look above (and, with a racy stamp,
        // the content's: see `MemoFile::hash`).
        let walked_again = dirty.clone();
        let walked = match dirty {
            Some(dirs) => {
                if let Some((watch, walk)) = &watch {
                    for d in &dirs {
                        watch.watch_dir(&in_root(&walk_root, d), walk);
                    }
                }
                let mut files = walk_dirs(&walk_root, &dirs, &own, &excluded_dirs, stat, &hazards);
                // The repositories around the directories walked again (not
                // those in them: their files are in directories not walked).
                let around = |repo: &Path| dirs.iter().any(|d| in_root(&walk_root, d).starts_with(repo));
                tracked.and_nested(&walk_root, &hazards.repos.lock().expect("repos"), around);
                let dirty: HashSet<&str> = dirs.iter().map(String::as_str).collect();
                drop(walk_turn);
                // The files added are in directories walked again, and
                // so are the directories above them.
                let dot_ignore = DotIgnore::new(&walk_root, &hazards.ignore_files);
                let listing = tracked
                    .add_to(&mut files, dot_ignore, &own, &excluded_dirs, stat, |rel| dirty.contains(parent(rel)));
                (files, Vec::new(), false, stat, listing)
            }
            None => {
                let (mut files, dirs, linked) =
                    walk(&walk_root, &targets, &own, &excluded_dirs, watch.clone(), stat, &hazards);
                tracked.and_nested(&walk_root, &hazards.repos.lock().expect("repos"), |_| true);
                let under = |rel: &str| {
                    let abs = in_root(&walk_root, rel);
                    targets.iter().any(|t| abs.starts_with(t))
                };
                drop(walk_turn);
                let dot_ignore = DotIgnore::new(&walk_root, &hazards.ignore_files);
                let listing = tracked.add_to(&mut files, dot_ignore, &own, &excluded_dirs, stat, under);
                (files, dirs, linked, stat, listing)
            }
        };
        let mut walked = walked;
        {
            let walked_dirs: HashSet<&str> =
                walked_again.as_ref().unwrap_or(&walked.1).iter().map(String::as_str).collect();
            // Those a walk of their directory lists (one not ignored), and
            // those git tracks.
            let tracked = (walked.4.added_dirs.as_slice(), Some(&walked_dirs));
            let rules = RulesWalk {
                root: &walk_root,
                own: &own,
                excluded_dirs: &excluded_dirs,
                hazards: &hazards,
                sources: None,
            };
            let tracked_rules = &walked.4.rules_files;
            let (notes, unwalked, list) =
                rules.mark(&mut walked.0, &targets, tracked_rules, tracked, &remembered_rules);
            if let Some(list) = list {
                let _ = formatter_slot.set(Arc::new(list));
            }
            // One made there later must be seen by the next check too.
            if let Some((watch, walk)) = &watch {
                for dir in &unwalked {
                    watch.watch_ancestor(dir, walk);
                }
            }
            walked.4.notes.extend(notes);
        }
        read_by_walk
            .ignore_files
            .lock()
            .expect("ignore files")
            .append(&mut hazards.ignore_files.lock().expect("ignore files"));
        hazards.error().map_or(Ok((walked, hazards.missed_all(&walk_root, &walk_exclude, &excluded_dirs))), Err)
    })
    .await
    .map_err(|e| RpcError::new(crate::protocol::code::INTERNAL_ERROR, e.to_string()))??;
    let ((walked, walked_dirs, linked_ignore_file, stat, listing), walk_errors) = walked;
    let TrackedListing { mut notes, timed_out: listing_timed_out, .. } = listing;
    // One verdict.toml configures a project, its root's: one found deeper
    // (a monorepo's package) is not applied, which is said, not left to
    // be found out.
    let nested_suffix = format!("/{}", crate::paths::CONFIG_FILE);
    let mut nested: Vec<&str> = walked.iter().map(|w| w.rel.as_str()).filter(|r| r.ends_with(&nested_suffix)).collect();
    // An updated answer walked the changed directories only: the files it
    // keeps are the rest of the tree.
    if let Some((memo, dirty)) = &increment {
        let dirty: HashSet<&str> = dirty.iter().map(String::as_str).collect();
        nested.extend(
            (memo.files.iter())
                .filter(|f| f.rel.ends_with(&nested_suffix) && !f.dir().is_some_and(|d| dirty.contains(d)))
                .map(|f| f.rel.as_str()),
        );
    }
    nested.extend(above_named.iter().map(String::as_str));
    nested.sort_unstable();
    nested.dedup();
    let root_config = root.join(crate::paths::CONFIG_FILE);
    // Looked at only when there is something to say (one `stat`).
    let absent = match nested.is_empty() || root_config.exists() {
        true => "",
        false => ", absent: the defaults apply",
    };
    for rel in nested.iter().take(3) {
        let dir = &rel[..rel.len() - nested_suffix.len()];
        notes.push(format!(
            "{rel} is not applied to this check: one verdict.toml configures a project, the one at its root ({}{absent}); \
             a check run in {dir} takes it, as the root of a project of its own",
            root_config.display()
        ));
    }
    if nested.len() > 3 {
        notes.push(format!("and {} more verdict.toml files below the root are not applied", nested.len() - 3));
    }
    // What of .pre-commit-config.yaml or .gitleaks.toml is not applied (a
    // pattern verdict cannot compile): its built-ins check more files than
    // the project meant.
    notes.extend(config.notes());
    // A file named, with a validator named whose `exclude` takes it out,
    // would get no outcome from it without a word (as a file
    // `check.exclude` takes out is listed): the pattern is said.
    if !validators.is_empty() {
        const SAID: usize = 10;
        let mut unselected = (named_files.iter())
            .flat_map(|(rel, shown)| {
                selected.iter().filter_map(move |s| {
                    let why = s.handle.config.excluded_because(rel)?;
                    Some(format!("{shown} is not checked by {}: {why}", s.handle.config.name))
                })
            })
            .collect::<Vec<_>>();
        if unselected.len() > SAID {
            let more = unselected.len() - SAID;
            unselected.truncate(SAID);
            unselected.push(format!("and {more} more (a file named that a validator named excludes)"));
        }
        notes.extend(unselected);
    }

    mark("walk", &mut since);
    if !others_known {
        others.clear();
    }
    // Select, on every core: for the selected validators, and in a
    // filtered run for the others too (what an unfiltered check selects).
    let filters: Vec<Arc<FileFilter>> =
        selected.iter().map(|s| s.filter.clone()).chain(others.iter().map(|(_, f)| f.clone())).collect();
    let n_selected = selected.len();
    let filter_set = engine.filter_set(&filters, walked.len());
    let selectors = engine.selectors.clone();
    let (walked, pairs, full_pairs, excluded) = tokio::task::spawn_blocking(move || {
        let walked = Arc::new(walked);
        let all = selectors.select(&walked, &global_exclude, &filter_set);
        let (pairs, full_pairs) = if filters.len() > n_selected {
            let pairs = all.iter().map(|vis| vis.iter().copied().filter(|&vi| vi < n_selected).collect()).collect();
            (pairs, Some(all))
        } else {
            (all, None)
        };
        // `check.exclude` takes files out as if the walk had not found them.
        let excluded = if global_exclude.is_empty() {
            0
        } else {
            walked.iter().filter(|w| global_exclude.is_match(std::ffi::OsStr::from_bytes(w.name_bytes()))).count()
        };
        (walked, pairs, full_pairs, excluded)
    })
    .await
    .map_err(|e| RpcError::new(crate::protocol::code::INTERNAL_ERROR, e.to_string()))?;

    let run = Arc::new(RunState {
        records: Mutex::new(Vec::new()),
        keep_passed: params.all_outcomes,
        passed: AtomicU64::new(0),
        cached_passed: AtomicU64::new(0),
        done: AtomicU64::new(0),
        total: AtomicU64::new(pairs.iter().map(|p| p.len() as u64).sum()),
        hung: Mutex::new(HashMap::new()),
        hung_added: tokio::sync::Notify::new(),
        entries: Mutex::new(EntryCollector::new()),
        write_failed: std::sync::atomic::AtomicBool::new(false),
        not_stored: std::sync::atomic::AtomicBool::new(false),
        write_error: Mutex::new(None),
        cache_epoch: (engine.cache_epoch.clone(), cache_epoch),
        walk_started_ns,
    });
    mark("select", &mut since);

    // Read, hash, look up, and run the built-ins on what the cache lacks.
    let cancel = ctx.cancel.child_token();
    let _cancel_on_drop = cancel.clone().drop_guard();
    let selected = Arc::new(selected);
    let now = now_secs();
    let stage = Arc::new(read_stage::Stage {
        formatter_list: formatter_list.get().cloned(),
        walked: walked.clone(),
        pairs: Arc::new(pairs),
        selected: selected.clone(),
        others: others.into_iter().map(|(h, _)| h).collect(),
        full_pairs: full_pairs.map(Arc::new),
        store: store.clone(),
        write_store: write_store.clone(),
        max_size: config.check.max_file_size,
        walk_stat: stat,
        chunks: AtomicU64::new(0),
        now,
        run: run.clone(),
        sets: Mutex::new(FileSets::default()),
        supervisor: engine.supervisor().clone(),
        cancel: cancel.clone(),
        hung: selected.iter().map(|_| std::sync::atomic::AtomicBool::new(false)).collect(),
        detached: selected.iter().map(|_| std::sync::atomic::AtomicBool::new(false)).collect(),
        out: Mutex::new(read_stage::StageOut {
            hashed: vec![Hashed::default(); walked.len()],
            work: vec![Vec::new(); selected.len()],
            ..Default::default()
        }),
        lanes: read_stage::Lanes::new(),
        writer: read_stage::Writer::start(
            write_store.clone(),
            walked.clone(),
            run.clone(),
            now,
            engine.cache_writers.clone(),
        ),
    });
    let writer_finish = stage.writer.finish_on_drop();
    read_stage::read_stage(&stage, &ctx.notifier).await;
    // Everything the read stage found is in the cache before the run
    // answers (a check right after this one finds it), cancelled or not.
    stage.writer.finish().await;
    drop(writer_finish);
    if ctx.cancel.is_cancelled() {
        return Err(RpcError::cancelled());
    }
    let out = std::mem::take(&mut *stage.out.lock().expect("stage out"));
    let chunks = stage.chunks.load(Ordering::Relaxed);
    engine.read_chunks.fetch_add(chunks, Ordering::Relaxed);
    let from_disk = stage.lanes.widened();
    if from_disk {
        engine.disk_read_runs.fetch_add(1, Ordering::Relaxed);
    }
    let lanes = stage.lanes.most();
    engine.read_lanes_most.fetch_max(lanes as u64, Ordering::Relaxed);
    let pairs = stage.pairs.clone();
    let now = stage.now;
    drop(stage);
    let mut summary = Summary {
        files: (walked.len() - excluded) as u64,
        cache_used: store.is_some(),
        cache_error: if params.no_cache { None } else { engine.store_error() },
        pairs: out.pairs,
        from_cache: out.from_cache,
        binary_files: out.hashed.iter().filter(|h| h.binary).count() as u64,
        files_read: out.files_read,
        walk_errors: walk_errors.clone(),
        excluded_named,
        restart_required,
        notes,
        ..Summary::default()
    };
    let soonest_expiry = out.soonest_expiry;
    let mut work = out.work;
    for files in &mut work {
        files.sort_unstable();
    }
    let hashed = Arc::new(out.hashed);

    mark("read+built-ins", &mut since);
    // Jobs for the command validators.
    let mut jobs = JoinSet::new();
    let spawn = |jobs: &mut JoinSet<Option<Orphan>>, vi: usize, batch: Vec<usize>, claims: Vec<Claim>, cap| {
        let (s, w, h) = (&selected, &walked, &hashed);
        spawn_job(jobs, engine, &run, s, vi, batch, claims, w, h, &cancel, write_store.clone(), cap);
    };
    for (vi, files) in work.iter().enumerate() {
        let s = &selected[vi];
        // Pairs some other run is computing right now: wait for theirs.
        // The others are claimed at once, under the same lock, so two runs
        // never both decide to compute a pair.
        // Only other runs' claims are waited for: two files of one run
        // never share a key (it has their paths), and one listed twice is
        // computed once.
        let mut own = Vec::new();
        let mut claims = HashMap::new();
        let mut ours = std::collections::HashSet::new();
        for &fi in files {
            let key = pending_key(s, hashed[fi].hash.unwrap_or(0), &walked[fi], cache_epoch);
            if hashed[fi].hash.is_none() || !s.handle.cacheable || !is_command(s) || ours.contains(&key) {
                own.push(fi);
                continue;
            }
            let mut pending = engine.pending.lock().expect("pending");
            if let Some(rx) = pending.get(&key).filter(|rx| rx.has_changed().is_ok()).cloned() {
                drop(pending);
                // A `--no-cache` run computes it again; its own claims are
                // taken, so that other runs wait for its fresh verdicts.
                if params.no_cache {
                    own.push(fi);
                } else {
                    spawn_waiter(&mut jobs, rx, &run, s, fi, vi, None);
                }
            } else {
                if let Some(c) = Claim::take(&engine.pending, &mut pending, fi, key, &s.handle.permits) {
                    claims.insert(fi, c);
                }
                ours.insert(key);
                own.push(fi);
            }
        }
        for batch in batches(s, &own, &walked) {
            let claims = batch.iter().filter_map(|fi| claims.remove(fi)).collect();
            spawn(&mut jobs, vi, batch, claims, None);
        }
    }

    // Progress while jobs run: on a timer, not only as jobs end (a first
    // job of a minute would leave the client with no count for a minute),
    // and only when it moved.
    let notifier = ctx.notifier.clone();
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut told = None;
    loop {
        let res = tokio::select! {
            res = jobs.join_next() => match res {
                Some(res) => res,
                None => break,
            },
            _ = tick.tick() => {
                let now = (run.done.load(Ordering::Relaxed), run.total.load(Ordering::Relaxed));
                if told != Some(now) {
                    told = Some(now);
                    notifier.notify(notification::CHECK_PROGRESS, json!({ "done": now.0, "total": now.1 }));
                }
                continue;
            }
        };
        if let Ok(Some(Orphan { fi, vi, cap })) = res {
            // The run that was computing this pair for us went away, or gave
            // no verdict: it is waited for again if a third run claimed it
            // meanwhile, else computed here, at once, by the deadline it
            // was waited for by.
            let s = &selected[vi];
            let key = pending_key(s, hashed[fi].hash.unwrap_or(0), &walked[fi], cache_epoch);
            let mut pending = engine.pending.lock().expect("pending");
            match pending.get(&key).filter(|rx| rx.has_changed().is_ok()).cloned() {
                // Still to come, or a verdict to take over.
                Some(rx) if worth_waiting_for(&rx.borrow()) => {
                    drop(pending);
                    spawn_waiter(&mut jobs, rx, &run, s, fi, vi, cap);
                }
                // The outcome that made this an orphan (an error, a skip),
                // its claim not yet dropped (its run is writing the cache):
                // waiting on it again would only find it again.
                Some(_) => {
                    drop(pending);
                    spawn(&mut jobs, vi, vec![fi], Vec::new(), cap);
                }
                None => {
                    let claims: Vec<Claim> =
                        Claim::take(&engine.pending, &mut pending, fi, key, &s.handle.permits).into_iter().collect();
                    drop(pending);
                    spawn(&mut jobs, vi, vec![fi], claims, cap);
                }
            }
        }
    }

    if ctx.cancel.is_cancelled() {
        // Jobs noticed the cancellation before the server did: answer the
        // same way either way.
        return Err(RpcError::cancelled());
    }

    mark("jobs", &mut since);
    // The last word on progress: every pair done.
    notifier.notify(
        notification::CHECK_PROGRESS,
        json!({ "done": run.done.load(Ordering::Relaxed), "total": run.total.load(Ordering::Relaxed) }),
    );
    // Write the per-file entries still waiting (the read stage and the jobs
    // wrote the others as they went).
    if let Some(store) = write_store.clone().filter(|_| !run.cache_cleared()) {
        let entries = run.entries.lock().expect("entries").take_ready(true);
        if !entries.is_empty() {
            let run = run.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(Err(e)) = run.write_unless_cleared(|| write_entries(&run, &store, &entries, now)) {
                    run.failed_write(&e);
                }
            })
            .await;
        }
    }

    mark("write", &mut since);
    // By file, then validator name: the walk sorted the files by path.
    let mut records = std::mem::take(&mut *run.records.lock().expect("records"));
    let mut by_name: Vec<usize> = (0..selected.len()).collect();
    by_name.sort_by(|&a, &b| selected[a].handle.config.name.cmp(&selected[b].handle.config.name));
    let mut rank = vec![0; selected.len()];
    for (r, &vi) in by_name.iter().enumerate() {
        rank[vi] = r;
    }
    records.sort_unstable_by_key(|&(fi, vi, _)| (fi, rank[vi]));
    for (_, _, outcome) in &records {
        *summary.outcomes.entry(outcome.kind().as_str().to_string()).or_default() += 1;
        summary.findings += verdict_actors::count_findings(outcome.findings());
        if matches!(outcome, Outcome::Cached { verdict: Verdict::Findings { .. } }) {
            summary.cached_with_findings += 1;
        }
    }
    *summary.outcomes.entry(OutcomeKind::Passed.as_str().to_string()).or_default() +=
        run.passed.load(Ordering::Relaxed);
    *summary.outcomes.entry(OutcomeKind::Cached.as_str().to_string()).or_default() +=
        run.cached_passed.load(Ordering::Relaxed);
    for k in OutcomeKind::ALL {
        summary.outcomes.entry(k.as_str().to_string()).or_default();
    }
    // The files of the remembered answer this run updates: every outcome
    // cached.
    let rows = rows(&walked, increment.as_ref());
    if let Some((memo, _)) = &increment {
        let mut hits = vec![0u64; selected.len()];
        let mut kept = 0;
        for row in &rows {
            let Row::Remembered(i) = *row else { continue };
            let f = &memo.files[i];
            // Counted as a full walk counts it: not when `exclude` takes it out.
            let name = f.raw.as_deref().unwrap_or(f.rel.as_bytes());
            kept += u64::from(memo_exclude.is_empty() || !memo_exclude.is_match(std::ffi::OsStr::from_bytes(name)));
            for &vi in &memo.sets[f.set as usize] {
                hits[vi] += 1;
            }
            summary.binary_files += u64::from(f.binary);
            for r in &memo.report.outcomes[f.records.clone()] {
                summary.findings += verdict_actors::count_findings(r.outcome.findings());
                summary.cached_with_findings += u64::from(!r.outcome.findings().is_empty());
            }
        }
        let pairs: u64 = hits.iter().sum();
        summary.incremental = true;
        summary.files += kept;
        summary.pairs += pairs;
        summary.from_cache += pairs;
        *summary.outcomes.entry(OutcomeKind::Cached.as_str().to_string()).or_default() += pairs;
        for (s, n) in selected.iter().zip(hits) {
            s.counters.hits.fetch_add(n, Ordering::Relaxed);
        }
        debug!(dirs = ?increment.as_ref().map(|(_, d)| d), files = walked.len(), kept, "updated the previous run's answer");
    }
    summary.computed = summary.pairs - summary.from_cache;
    summary.duration_ms = started.elapsed().as_millis() as u64;
    let validators: Vec<(String, String)> =
        selected.iter().map(|s| (s.handle.config.name.clone(), s.handle.config.dimension.clone())).collect();
    // Each row's records: a new file's are together in `records`, which is
    // sorted by file.
    let mut spans = Vec::with_capacity(rows.len());
    let mut next = 0;
    for row in &rows {
        spans.push(match *row {
            Row::New(fi) => {
                let start = next;
                while next < records.len() && records[next].0 == fi {
                    next += 1;
                }
                start..next
            }
            Row::Remembered(i) => {
                increment.as_ref().expect("remembered rows come from a memo").0.files[i].records.clone()
            }
        });
    }
    let listed = Listing {
        rows: rows.iter().zip(&spans),
        new: [].iter(),
        remembered: [].iter(),
        records: &records,
        memo: increment.as_ref().map(|(memo, _)| memo.report.outcomes.as_slice()),
        walked: &walked,
        selected: &selected,
    };
    // Serialized once, straight into the reply (no `Value` of it first, no
    // strings of its own for each outcome).
    // A write that failed in this run is said by this run's report.
    if summary.cache_error.is_none()
        && let Some(e) = run.write_error.lock().expect("write error").as_ref()
    {
        summary.cache_error = Some(format!("some of this check's results could not be written to the cache: {e}"));
    }
    let delivered = deliver(ctx, params.stream_outcomes, &summary, listed, &validators).await;
    mark("report", &mut since);
    // Room for the reply's envelope: its id may be as long as a request.
    let max_report = crate::protocol::MAX_REPLY_BYTES - crate::protocol::MAX_LINE_BYTES;
    let report_len = delivered.as_ref().map_or(0, |(_, len)| *len);
    let too_large = !params.stream_outcomes && report_len > max_report;
    let summary_files = walked.len();

    // Remember the answer if nothing changed while the run looked, and
    // every directory it walked was already watched when it started; with
    // the directories of its outcomes that are no verdicts to look at
    // again, where an update can (every path named a directory, each such
    // directory named in UTF-8).
    // (An outcome that is not cached: an error, a time-out, a skip, the
    // findings of a tool that failed or whose output was cut.)
    let redo: Option<Vec<String>> = {
        let mut dirs = Vec::new();
        let mut updatable = true;
        for (fi, _, o) in &records {
            if o.is_verdict() || matches!(o, Outcome::Cached { .. }) {
                continue;
            }
            let w = &walked[*fi];
            match w.raw {
                None => dirs.push(parent(&w.rel).to_owned()),
                Some(_) => updatable = false,
            }
        }
        dirs.sort_unstable();
        dirs.dedup();
        (updatable && (dirs.is_empty() || memo_key.targets.iter().all(|t| t.is_dir()))).then_some(dirs)
    };
    if run.write_failed.load(Ordering::Relaxed) {
        engine.store_suspect.store(true, Ordering::SeqCst);
    }
    if watching && memo_key.targets == [root.clone()] && increment.is_none() {
        engine.watch.forget_unwalked(&walk_watch);
    }
    if params.no_cache && write_store.is_some() {
        // It rewrote cache entries: an answer remembered before may no
        // longer be what the cache says.
        engine.forget_answers();
    }
    if too_large {
        let mb = |n: usize| n.div_ceil(1024 * 1024);
        let cached = if write_store.is_some() && !run.write_failed.load(Ordering::Relaxed) {
            "its results are cached: "
        } else {
            ""
        };
        return Err(RpcError::new(
            crate::protocol::code::REPORT_TOO_LARGE,
            format!(
                "the report of this check is {} MiB, more than the {} MiB a reply may be; {cached}\
                 ask for its outcomes to be streamed (`stream_outcomes`, as the verdict CLI does), \
                 or check fewer paths or validators to see them",
                mb(report_len),
                mb(max_report)
            ),
        )
        .with_data(serde_json::json!({ "bytes": report_len, "max_bytes": max_report })));
    }
    // Sent, or the client is gone.
    let (reply, _) = delivered?;
    // A remembered answer is sent in its warm form, every outcome `cached`
    // and so longer: one that could not be sent is not remembered.
    if let Some(redo) = redo.filter(|_| memo_usable)
        && report_len <= max_report / 2
        && walk_errors.is_empty()
        && !listing_timed_out
        && !linked_ignore_file
        && !run.write_failed.load(Ordering::Relaxed)
        && !run.not_stored.load(Ordering::Relaxed)
        && !walk_watch.fresh.load(Ordering::Relaxed)
        && engine.watch.drain() == generation
        && engine.memo_epoch.load(Ordering::SeqCst) == epoch
    {
        let ttl = selected.iter().map(|s| s.handle.config.cache_ttl.as_secs()).filter(|&t| t > 0).min();
        // As the store counts a TTL: at least `t` whole seconds.
        let mut expires_at = soonest(soonest_expiry, ttl.map_or(0, |t| now + t + 1));
        let remembered = increment.as_ref().map(|(memo, _)| memo.as_ref());
        if let Some(memo) = remembered {
            expires_at = soonest(expires_at, memo.expires_at);
        }
        // Checked files not looked at: nothing to compare with before a
        // reuse; nor is there for one judged on two contents. (A file with
        // a racy stamp whose content was not hashed, or is too large to be
        // hashed again at each reuse, counts the same; see below.)
        let mut unverifiable = walked
            .iter()
            .zip(pairs.iter())
            .zip(hashed.iter())
            .any(|((w, vs), h)| !vs.is_empty() && (w.meta().is_none() || h.mixed));
        let remembered_updatable = remembered.is_none_or(|m| m.updatable);
        // The paths are moved into the memo when nothing else holds them.
        let mut walked = Arc::try_unwrap(walked);
        let mut sets = SetInterner::default();
        let mut files = Vec::with_capacity(rows.len());
        let mut outcomes: Vec<Record> = Vec::new();
        let mut records = records.into_iter().peekable();
        for (row, span) in rows.iter().zip(spans) {
            let start = outcomes.len();
            let (rel, raw, binary, set, stamp, hash) = match *row {
                Row::New(fi) => {
                    let stamp = match &walked {
                        Ok(owned) => owned[fi].meta(),
                        Err(shared) => shared[fi].meta(),
                    }
                    .filter(|_| !pairs[fi].is_empty())
                    .map(Stamp::of);
                    // Sampled before any `stat` of the run.
                    let hash = match stamp {
                        Some(st) if st.racy(walk_started_ns) => {
                            unverifiable |= hashed[fi].hash.is_none() || st.size > RACY_LOOK_MAX;
                            hashed[fi].hash
                        }
                        _ => None,
                    };
                    let size = match &walked {
                        Ok(owned) => owned[fi].len(),
                        Err(shared) => shared[fi].len(),
                    };
                    let mut copy;
                    let w: &mut Walked = match &mut walked {
                        Ok(owned) => &mut owned[fi],
                        Err(shared) => {
                            copy = Walked {
                                rel: shared[fi].rel.clone(),
                                raw: shared[fi].raw.clone(),
                                ..Walked::default()
                            };
                            &mut copy
                        }
                    };
                    while let Some((_, vi, outcome)) = records.next_if(|r| r.0 == fi) {
                        outcomes.push(Record {
                            file: w.rel.clone(),
                            file_bytes: w.raw.as_deref().map(<[u8]>::to_vec),
                            validator: selected[vi].handle.config.name.clone(),
                            dimension: selected[vi].handle.config.dimension.clone(),
                            outcome,
                        });
                    }
                    let binary = hashed[fi].binary;
                    let max_size = config.check.max_file_size;
                    let set = pairs[fi]
                        .iter()
                        .copied()
                        .filter(|&vi| !read_stage::leaves_out(&selected[vi].handle, binary, size, max_size));
                    (std::mem::take(&mut w.rel), w.raw.take(), binary, sets.id(set), stamp, hash)
                }
                Row::Remembered(i) => {
                    let memo = remembered.expect("remembered rows come from a memo");
                    let f = &memo.files[i];
                    outcomes.extend_from_slice(&memo.report.outcomes[span]);
                    (
                        f.rel.clone(),
                        f.raw.clone(),
                        f.binary,
                        sets.id(memo.sets[f.set as usize].iter().copied()),
                        f.stamp,
                        f.hash.filter(|_| !f.settled.load(Ordering::Relaxed)),
                    )
                }
            };
            let settled = AtomicBool::new(false);
            files.push(MemoFile { rel, raw, binary, set, records: start..outcomes.len(), stamp, hash, settled });
        }
        let updatable = !unverifiable && remembered_updatable;
        let sets = sets.sets;
        let mut pairs_per_validator = vec![0u64; selected.len()];
        for f in &files {
            for &vi in &sets[f.set as usize] {
                pairs_per_validator[vi] += 1;
            }
        }
        let dirs = match remembered {
            Some(memo) => memo.dirs.clone(),
            None => walked_dirs.into_iter().collect(),
        };
        let mut git_dirs = std::mem::take(&mut *walk_watch.git_dirs.lock().expect("git dirs"));
        if let Some(memo) = remembered {
            git_dirs.extend(memo.git_dirs.iter().cloned());
        }
        git_dirs.sort_unstable();
        git_dirs.dedup();
        // This run's stamps first, so that they are the ones kept of a
        // file an update walked again.
        let mut ignore_files = std::mem::take(&mut *walk_watch.ignore_files.lock().expect("ignore files"));
        if let Some(memo) = remembered {
            ignore_files.extend(memo.ignore_files.iter().cloned());
        }
        ignore_files.sort_by(|a, b| a.0.cmp(&b.0));
        ignore_files.dedup_by(|later, first| later.0 == first.0);
        let replaced = engine.remember(Memo {
            key: memo_key,
            generation,
            epoch,
            expires_at,
            pairs_per_validator,
            report: as_warm(CheckReport { summary, outcomes, validators, streamed_outcomes: None }),
            dirs,
            git_dirs,
            ignore_files,
            files,
            sets,
            updatable,
            redo,
        });
        // Freeing a large tree's answer is no reason to make a client wait.
        if let Some(old) = replaced {
            tokio::task::spawn_blocking(move || drop(old));
        }
    }
    mark("remember", &mut since);
    debug!(files = summary_files, chunks, lanes, from_disk, ?phases, "check run phases");
    Ok(reply)
}

/// A report as sent: the same JSON as [`CheckReport`], from borrowed parts.
#[derive(serde::Serialize)]
struct ReportView<'a, O: serde::Serialize> {
    summary: &'a Summary,
    outcomes: O,
    validators: &'a [(String, String)],
    #[serde(skip_serializing_if = "Option::is_none")]
    streamed_outcomes: Option<u64>,
}

/// Outcomes streamed ahead of a check's reply go in notifications of about
/// this many bytes each.
const STREAM_CHUNK_BYTES: usize = 1 << 20;

/// Serializes a check's report, once. Without `stream` it is the reply,
/// outcomes and all; with it, the outcomes go first, in `check/outcomes`
/// notifications of about [`STREAM_CHUNK_BYTES`] each (waiting while the
/// client is slow to read them), and the reply carries the rest and how
/// many were sent. Returns the reply and the report's length in bytes,
/// outcomes included; `cancelled` if the client went away or cancelled the
/// check meanwhile.
async fn deliver<T: serde::Serialize>(
    ctx: &RequestCtx,
    stream: bool,
    summary: &Summary,
    outcomes: impl Iterator<Item = T> + Clone,
    validators: &[(String, String)],
) -> Result<(Box<serde_json::value::RawValue>, usize), RpcError> {
    if !stream {
        let view = ReportView { summary, outcomes: Listed(outcomes), validators, streamed_outcomes: None };
        // Tens of MB take tens of ms: in a turn, and off the worker thread,
        // whose other tasks move to another meanwhile.
        let _turn = core_turn().await;
        let reply = off_the_worker(|| serde_json::value::to_raw_value(&view).expect("plain data"));
        let len = reply.get().len();
        return Ok((reply, len));
    }
    const HEAD: &[u8] = br#""outcomes":["#;
    let mut chunk = Vec::with_capacity(STREAM_CHUNK_BYTES + (64 << 10));
    let (mut sent, mut count) = (0usize, 0u64);
    let mut outcomes = outcomes.peekable();
    while let Some(o) = outcomes.next() {
        chunk.extend_from_slice(if chunk.is_empty() { HEAD } else { b"," });
        serde_json::to_writer(&mut chunk, &o).expect("plain data");
        count += 1;
        if chunk.len() >= STREAM_CHUNK_BYTES || outcomes.peek().is_none() {
            chunk.push(b']');
            if !ctx.notifier.deliver(notification::CHECK_OUTCOMES, &chunk, &ctx.cancel).await {
                return Err(RpcError::cancelled());
            }
            sent += chunk.len();
            chunk.clear();
        }
    }
    let view = ReportView { summary, outcomes: [(); 0], validators, streamed_outcomes: Some(count) };
    let reply = serde_json::value::to_raw_value(&view).expect("plain data");
    let len = sent + reply.get().len();
    Ok((reply, len))
}

/// Runs `work` (long, and not async) where it holds no worker thread of
/// the runtime: the worker's queued tasks go to another one meanwhile
/// (`block_in_place`). On a runtime of one thread (unit tests), in place.
fn off_the_worker<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// A [`Record`] as sent, borrowing its strings.
#[derive(serde::Serialize)]
struct RecordView<'a> {
    file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "crate::protocol::base64_bytes::serialize")]
    file_bytes: Option<&'a [u8]>,
    validator: &'a str,
    dimension: &'a str,
    outcome: &'a Outcome,
}

/// A run's report's records in order, borrowed: each row's, a new file's
/// from the run's records, a remembered one's from the answer it updates.
/// (A type of its own: an iterator of closures that borrow is not general
/// enough to be held across the awaits of a streamed report.)
#[derive(Clone)]
struct Listing<'a> {
    rows: std::iter::Zip<std::slice::Iter<'a, Row>, std::slice::Iter<'a, std::ops::Range<usize>>>,
    /// The rest of the current row's records.
    new: std::slice::Iter<'a, (usize, usize, Outcome)>,
    remembered: std::slice::Iter<'a, Record>,
    records: &'a [(usize, usize, Outcome)],
    /// The remembered answer's records.
    memo: Option<&'a [Record]>,
    walked: &'a [Walked],
    selected: &'a [Selected],
}

impl<'a> Iterator for Listing<'a> {
    type Item = RecordView<'a>;

    fn next(&mut self) -> Option<RecordView<'a>> {
        loop {
            if let Some((fi, vi, outcome)) = self.new.next() {
                let config = &self.selected[*vi].handle.config;
                return Some(RecordView {
                    file: &self.walked[*fi].rel,
                    file_bytes: self.walked[*fi].raw.as_deref(),
                    validator: &config.name,
                    dimension: &config.dimension,
                    outcome,
                });
            }
            if let Some(r) = self.remembered.next() {
                return Some(RecordView {
                    file: &r.file,
                    file_bytes: r.file_bytes.as_deref(),
                    validator: &r.validator,
                    dimension: &r.dimension,
                    outcome: &r.outcome,
                });
            }
            let (row, span) = self.rows.next()?;
            match row {
                Row::New(_) => self.new = self.records[span.clone()].iter(),
                Row::Remembered(_) => {
                    self.remembered = self.memo.expect("remembered rows come from a memo")[span.clone()].iter();
                }
            }
        }
    }
}

/// Serializes the records an iterator yields, as a list.
struct Listed<I>(I);

impl<I: Iterator<Item: serde::Serialize> + Clone> serde::Serialize for Listed<I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

fn push(run: &RunState, fi: usize, vi: usize, outcome: Outcome) {
    push_all(run, fi, std::iter::once((vi, outcome)));
}

/// [`push`] of several outcomes of file `fi`: the run's shared counters are
/// updated once.
fn push_all(run: &RunState, fi: usize, outcomes: impl Iterator<Item = (usize, Outcome)>) {
    let mut records = Vec::new();
    tally(run, fi, outcomes, &mut records);
    if !records.is_empty() {
        run.records.lock().expect("records").append(&mut records);
    }
}

/// Counts outcomes of file `fi` in the run's shared counters, and appends
/// those the report lists to `records`, for the caller to hand to the run.
fn tally(
    run: &RunState,
    fi: usize,
    outcomes: impl Iterator<Item = (usize, Outcome)>,
    records: &mut Vec<(usize, usize, Outcome)>,
) {
    let (mut done, mut passed, mut cached_passed) = (0, 0, 0);
    for (vi, outcome) in outcomes {
        done += 1;
        if !run.keep_passed {
            match outcome {
                Outcome::Passed => {
                    passed += 1;
                    continue;
                }
                Outcome::Cached { verdict: Verdict::Passed } => {
                    cached_passed += 1;
                    continue;
                }
                _ => {}
            }
        }
        records.push((fi, vi, outcome));
    }
    for (n, counter) in [(passed, &run.passed), (cached_passed, &run.cached_passed), (done, &run.done)] {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }
}

fn is_command(s: &Selected) -> bool {
    runs_a_command(&s.handle)
}

/// Whether the validator runs an external command (not a built-in).
fn runs_a_command(h: &ValidatorHandle) -> bool {
    matches!(h.config.kind, crate::config::ValidatorKind::Command(_))
}

/// Splits a command validator's files into jobs: one per file, or batches
/// of `batch_size`, each also cut where its file arguments would pass
/// [`arg_budget`].
fn batches(s: &Selected, files: &[usize], walked: &[Walked]) -> Vec<Vec<usize>> {
    let size = s.handle.config.batch_size.max(1);
    let crate::config::ValidatorKind::Command(c) = &s.handle.config.kind else {
        return files.chunks(size).map(<[usize]>::to_vec).collect();
    };
    if c.mode == crate::config::CommandMode::PerFile {
        return files.iter().map(|&fi| vec![fi]).collect();
    }
    // Each argument costs its bytes, its NUL and its pointer.
    let cost = |arg: usize| arg + 1 + std::mem::size_of::<usize>();
    let budget = arg_budget().saturating_sub(c.command.iter().map(|a| cost(a.len())).sum());
    let mut out = Vec::new();
    let mut batch = Vec::new();
    let mut used = 0;
    // A line-by-line parser cannot read back a name with a line break: its
    // finding would be split in two, the second half read as another
    // file's (`new\nline.txt:1: …` as `line.txt`'s), and the file itself
    // would pass. Such a file is run in a batch of its own, where what
    // the tool says of it cannot land on another file.
    let alone = |fi: usize| {
        c.parser == crate::config::ParserKind::Regex && walked[fi].rel.bytes().any(|b| b == b'\n' || b == b'\r')
    };
    for &fi in files {
        if alone(fi) {
            out.push(vec![fi]);
            continue;
        }
        // `./` before a name that starts with `-`.
        let arg = cost(walked[fi].rel.len() + 2);
        if !batch.is_empty() && (batch.len() >= size || used + arg > budget) {
            out.push(std::mem::take(&mut batch));
            used = 0;
        }
        batch.push(fi);
        used += arg;
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    out
}

/// How many bytes of arguments one run of a batch tool is given at most:
/// the kernel refuses to start a program whose arguments and environment
/// pass `ARG_MAX` ("Argument list too long"), so batches are cut to fit, as
/// `xargs` cuts its command lines. Half of it: the tool's environment and
/// what it passes on to programs it starts need room too.
fn arg_budget() -> usize {
    static BUDGET: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(|| {
        let arg_max = nix::unistd::sysconf(nix::unistd::SysconfVar::ARG_MAX).ok().flatten();
        // POSIX guarantees 4096; Linux gives at least 128 KiB, and however
        // large the stack limit (glibc says a quarter of it, unlimited
        // included), at most 6 MiB (three quarters of its 8 MiB default
        // stack limit).
        arg_max.and_then(|n| usize::try_from(n).ok()).unwrap_or(128 * 1024).clamp(8192, 6 << 20) / 2
    })
}

/// A pair this run computes for every concurrent run that needs it. The
/// claim is withdrawn when it is dropped (published, or its job aborted by a
/// cancellation), and only if the pending entry is still this claim's.
struct Claim {
    fi: usize,
    key: PendingKey,
    tx: watch::Sender<Shared>,
    pending: Arc<Pending>,
    /// The concurrency limit the key names by address: alive while the
    /// claim is.
    _limit: Arc<tokio::sync::Semaphore>,
}

impl Claim {
    /// Claims `key` unless another live claim holds it.
    fn take(
        pending: &Arc<Pending>,
        map: &mut HashMap<PendingKey, watch::Receiver<Shared>>,
        fi: usize,
        key: PendingKey,
        limit: &Arc<tokio::sync::Semaphore>,
    ) -> Option<Claim> {
        if map.get(&key).is_some_and(|rx| rx.has_changed().is_ok()) {
            return None;
        }
        let (tx, rx) = watch::channel(Shared::Queued);
        map.insert(key, rx);
        Some(Claim { fi, key, tx, pending: pending.clone(), _limit: limit.clone() })
    }

    /// Hands the outcome to the runs waiting for it (the claim stays, for
    /// runs that find it until it is dropped).
    fn publish(&self, outcome: Outcome) {
        self.tx.send_replace(Shared::Done(outcome));
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut map = self.pending.lock().expect("pending");
        if map.get(&self.key).is_some_and(|rx| rx.same_channel(&self.tx.subscribe())) {
            map.remove(&self.key);
        }
    }
}

/// Whether a claim in this state is worth waiting for: its outcome still
/// to come, or in and a verdict (taken over at once).
fn worth_waiting_for(state: &Shared) -> bool {
    match state {
        Shared::Queued | Shared::Began(_) | Shared::Hung(_) => true,
        Shared::Done(o) => o.cacheable().is_some(),
    }
}

/// Waits, as a job of this run, for the pair (`fi`, `vi`) that another run
/// claimed: for a concurrency slot without limit, then within this
/// validator's timeout from when that run's job began (and by `cap`, if
/// this run waited for the pair before). Takes over its verdict; an
/// [`Orphan`] if the other run went away or gave none.
fn spawn_waiter(
    jobs: &mut JoinSet<Option<Orphan>>,
    mut rx: watch::Receiver<Shared>,
    run: &Arc<RunState>,
    s: &Selected,
    fi: usize,
    vi: usize,
    cap: Option<tokio::time::Instant>,
) {
    let run = run.clone();
    let (name, timeout) = (s.handle.config.name.clone(), s.handle.config.timeout);
    jobs.spawn(async move {
        let mut until = cap;
        let got = loop {
            let began = match rx.borrow_and_update().clone() {
                Shared::Done(o) => break Some(o),
                Shared::Hung(why) => {
                    // As that run skips the validator's later jobs, so does
                    // this one: its tool hangs.
                    let why = format!("not run: in another check running at the same time, {why}");
                    run.set_hung(&name, why.clone());
                    push(&run, fi, vi, Outcome::skipped(why));
                    return None;
                }
                Shared::Began(at) => Some(at),
                Shared::Queued => None,
            };
            // With a moment more: with the same timeout, the other run's
            // time-out arrives just after it.
            until = match (began.map(|at| at + timeout + DEADLINES_TOGETHER), cap) {
                (Some(theirs), Some(cap)) => Some(theirs.min(cap)),
                (theirs, cap) => theirs.or(cap),
            };
            let changed = match until {
                Some(at) => tokio::time::timeout_at(at, rx.changed()).await,
                None => Ok(rx.changed().await),
            };
            match changed {
                Ok(Ok(())) => continue,
                // Withdrawn without an outcome (its run was cancelled).
                Ok(Err(_)) => return Some(Orphan { fi, vi, cap: until }),
                Err(_) => {
                    let why = format!(
                        "not run in time: another check was running validator {name} on this file, and it did not \
                         end within the timeout of {timeout:?}"
                    );
                    push(&run, fi, vi, Outcome::skipped(why));
                    return None;
                }
            }
        };
        // Only a verdict is taken over: the other run's errors and skips are
        // its own (this run computes the pair itself then). Its time-out is
        // this run's too: the validator's later jobs here are skipped, as
        // they are there.
        match got.as_ref().and_then(Outcome::cacheable) {
            Some(v) => {
                run.offer(fi, vi, Some(StoredVerdict::from(&v)));
                push(&run, fi, vi, got.expect("some"));
                None
            }
            None if matches!(got, Some(Outcome::TimedOut { after_ms }) if u128::from(after_ms) >= timeout.as_millis()) => {
                run.set_hung(
                    &name,
                    format!("not run: validator {name} timed out in another check running at the same time; check again to run it"),
                );
                let why = format!(
                    "not run: another check was running validator {name} on this file at the same time, and it \
                     timed out there; check again to run it"
                );
                push(&run, fi, vi, Outcome::skipped(why));
                None
            }
            None => Some(Orphan { fi, vi, cap: until }),
        }
    });
}

#[allow(clippy::too_many_arguments)]
fn spawn_job(
    jobs: &mut JoinSet<Option<Orphan>>,
    engine: &Engine,
    run: &Arc<RunState>,
    selected: &Arc<Vec<Selected>>,
    vi: usize,
    batch: Vec<usize>,
    mut claims: Vec<Claim>,
    walked: &Arc<Vec<Walked>>,
    hashed: &Arc<Vec<Hashed>>,
    cancel: &CancellationToken,
    store: Option<Arc<Store>>,
    cap: Option<tokio::time::Instant>,
) {
    let (run, selected, walked, hashed, cancel) =
        (run.clone(), selected.clone(), walked.clone(), hashed.clone(), cancel.clone());
    let supervisor = engine.supervisor().clone();
    let tool_stamps = engine.tool_stamps();
    jobs.spawn(async move {
        let s = &selected[vi];
        // Runs waiting for these pairs count their timeout from here.
        let began = |at| {
            for c in &claims {
                c.tx.send_replace(Shared::Began(at));
            }
        };
        let outcomes = run_job(s, &batch, &walked, &run, &cancel, &supervisor, &began, cap).await;
        // An external tool read the file itself, at job time: if it changed
        // since it was hashed, its verdict is not for that hash, so it is
        // reported but not cached. A change shows in the file's stamp,
        // unless it came within the clock tick of the stamp the walk saw:
        // a file whose stamp was racy then is hashed again.
        let racy: Vec<usize> = match is_command(s) && s.handle.cacheable {
            true => (batch.iter().zip(&outcomes))
                .filter(|&(&fi, o)| {
                    o.is_verdict()
                        && hashed[fi].hash.is_some()
                        && changed_within_racy_margin(&walked[fi], run.walk_started_ns)
                })
                .map(|(&fi, _)| fi)
                .collect(),
            false => Vec::new(),
        };
        let rehashed = match racy.is_empty() {
            true => Vec::new(),
            false => {
                let (walked, hashed, racy) = (walked.clone(), hashed.clone(), racy.clone());
                // Not looked at (the task failed): taken for changed.
                tokio::task::spawn_blocking(move || content_changed(&racy, &walked, &hashed)).await
            }
            .unwrap_or(racy),
        };
        // Nor if the tool itself (a file that stands for it) changed since
        // its identity was taken: replaced while this check ran, the new
        // one's verdicts would be kept as the old one's, and served when
        // the old one is back.
        let tool_moved = is_command(s) && s.handle.cacheable && tool_stamps.moved(&s.handle.config.name);
        let verdicts: Vec<Option<StoredVerdict>> = batch
            .iter()
            .zip(outcomes.iter())
            .map(|(&fi, o)| {
                let changed =
                    || is_command(s) && (tool_moved || changed_since_walk(&walked[fi]) || rehashed.contains(&fi));
                o.cacheable().filter(|_| !changed()).map(|v| StoredVerdict::from(&v))
            })
            .collect();
        // The runs waiting for these pairs get them now, not after the cache
        // write (which a stalled store can make slow: past their wait); the
        // claims are withdrawn once it is done, so that a run starting
        // meanwhile takes the outcome from them rather than compute it. A
        // verdict not for the content they hashed is not handed over: its
        // claim is withdrawn, and they compute the pair themselves.
        let mut withheld = Vec::new();
        for ((&fi, o), v) in batch.iter().zip(outcomes.iter()).zip(&verdicts) {
            if let Some(c) = claims.iter().find(|c| c.fi == fi) {
                let hung = run.hung(&s.handle.config.name);
                match o {
                    // Skipped because the validator timed out on another
                    // file: said as such, so that waiting runs skip it too
                    // rather than run the hanging tool again.
                    Outcome::Skipped { reason } if hung.as_ref() == Some(reason) => {
                        c.tx.send_replace(Shared::Hung(reason.clone()));
                    }
                    _ if v.is_some() || !o.is_verdict() => c.publish(o.clone()),
                    _ => withheld.push(fi),
                }
            }
        }
        // Withdrawn now, not after the cache write: the waiters compute
        // them at once.
        claims.retain(|c| !withheld.contains(&c.fi));
        // Cache what may be cached, then release the claims.
        let mut to_store = Vec::new();
        let entries = {
            let mut entries = run.entries.lock().expect("entries");
            for ((&fi, v), o) in batch.iter().zip(verdicts).zip(outcomes.iter()) {
                // (An outcome that is no verdict is looked at again by the
                // next run: see `Memo::redo`.)
                if v.is_none() && o.is_verdict() {
                    run.not_stored.store(true, Ordering::Relaxed);
                }
                if let (Some(v), Some(h), true) = (&v, hashed[fi].hash, s.handle.cacheable && is_command(s)) {
                    let content = command_key(h, &walked[fi]).to_be_bytes();
                    to_store.push((ResultKey { validator: s.handle.identity, content }, v.clone()));
                }
                entries.offer(fi, vi, v);
            }
            entries.take_ready(false)
        };
        if let (Some(store), false) = (store, to_store.is_empty() && entries.is_empty() || run.cache_cleared()) {
            let ttl = s.handle.config.cache_ttl.as_secs();
            let now = now_secs();
            let writer = run.clone();
            // Whose the results are, for `cache clear --validator`: with
            // the run's first write of them.
            let name = (!to_store.is_empty() && !s.named.swap(true, Ordering::Relaxed))
                .then(|| (s.handle.identity, s.handle.config.name.clone()));
            let naming = name.is_some();
            let res = tokio::task::spawn_blocking(move || {
                let results: Vec<(ResultKey, &StoredVerdict, u64)> =
                    to_store.iter().map(|(k, v)| (*k, v, ttl)).collect();
                // One write for the tool's results and the entries they
                // complete.
                writer
                    .write_unless_cleared(|| {
                        let mut batch = store.batch();
                        batch.put_results(&results, now)?;
                        if let Some((identity, name)) = &name {
                            batch.put_validator_name(identity, name);
                        }
                        add_entries(&mut batch, &entries, now)?;
                        writer.note_skipped(&batch);
                        batch.commit()
                    })
                    .unwrap_or(Ok(()))
            })
            .await;
            let failed = match res {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(e) = failed {
                run.failed_write(&e);
                if naming {
                    // Left to the run's next write.
                    s.named.store(false, Ordering::Relaxed);
                }
            }
        }
        drop(claims);
        for (&fi, o) in batch.iter().zip(outcomes) {
            push(&run, fi, vi, o);
        }
        None
    });
}

/// Why a job is skipped whose validator's child was stopped under it: the
/// daemon is shutting down. (A child a reload retired is kept, and
/// restarted when it fails, while any run begun before the reload holds it.)
pub(crate) const STOPPED: &str = "not run: the validator's child was stopped (the daemon is shutting down)";

/// Runs one job on a validator's child, enforcing the deadline. A job
/// whose child dies under it (killed for another job's deadline, another
/// check's say, a sibling's crash, or a restart) is run again on the next
/// child, as often as that happens, within its own deadline. `cap`: a
/// deadline the job must keep to even if it leaves the tool less than its
/// timeout (a pair this run waited for another run to compute until then).
#[allow(clippy::too_many_arguments)]
async fn run_job(
    s: &Selected,
    batch: &[usize],
    walked: &[Walked],
    run: &RunState,
    cancel: &CancellationToken,
    supervisor: &ractor::ActorRef<SupervisorMessage>,
    began: &(dyn Fn(tokio::time::Instant) + Sync),
    cap: Option<tokio::time::Instant>,
) -> Vec<Outcome> {
    let name = &s.handle.config.name;
    let n = batch.len();
    let timeout = s.handle.config.timeout;
    // Set when the job first starts: a rerun must end by it too, so
    // that a check still ends within its timeouts.
    let mut deadline: Option<tokio::time::Instant> = None;
    // The child that died under the job's last run: until the supervisor
    // has heard of its end, the slot still names it, and the job waits.
    let mut dead: Option<ractor::ActorId> = None;
    // The concurrency slot, kept for a rerun: queued jobs must not
    // take it while this one is between children.
    let mut held: Option<Arc<tokio::sync::OwnedSemaphorePermit>> = None;
    // Looked at while waiting for a slot: a quarantined or stopped
    // validator answers at once, not once a slot is free (a timed-out
    // tool keeps its slot through its grace, `kill_after`).
    let mut state = s.handle.slot.clone();
    loop {
        // One request, kept across the looks: the job keeps its place in
        // the queue for a slot while it wakes up to look.
        let acquire = s.handle.permits.clone().acquire_owned();
        tokio::pin!(acquire);
        let permit = loop {
            if let Some(p) = &held {
                break p.clone();
            }
            let hung = run.hung_added.notified();
            tokio::pin!(hung);
            // Registered before looking, so that no addition goes unseen.
            hung.as_mut().enable();
            if let Some(why) = run.hung(name) {
                return vec![Outcome::skipped(why); n];
            }
            match &*state.borrow_and_update() {
                Slot::Quarantined(why) => return vec![Outcome::error(format!("quarantined: {why}")); n],
                Slot::Stopped => return vec![Outcome::skipped(STOPPED); n],
                Slot::Running(_) | Slot::Restarting => {}
            }
            tokio::select! {
                p = &mut acquire => break Arc::new(p.expect("never closed")),
                _ = &mut hung => {}
                r = state.changed() => if r.is_err() {
                    return vec![Outcome::skipped("the validator was removed"); n];
                },
                _ = cancel.cancelled() => return vec![Outcome::skipped("the check was cancelled"); n],
            }
        };
        if let Some(why) = run.hung(name) {
            return vec![Outcome::skipped(why); n];
        }
        // Wait (within the deadline) for a child that accepts jobs. The
        // deadline counts from here: a run ends within its timeouts even
        // when a child was restarting.
        let mut slot = s.handle.slot.clone();
        // Whether the cap leaves the tool less than its timeout.
        let mut capped = false;
        let asked = tokio::time::Instant::now();
        let wait_until = deadline.unwrap_or_else(|| {
            let now = tokio::time::Instant::now();
            began(now);
            match cap {
                Some(cap) if cap < now + timeout => {
                    capped = true;
                    cap.max(now)
                }
                _ => now + timeout,
            }
        });
        let mut waited = false;
        let actor = loop {
            let current = slot.borrow_and_update().clone();
            match current {
                Slot::Running(a) if Some(a.get_id()) != dead => break a,
                Slot::Quarantined(why) => return vec![Outcome::error(format!("quarantined: {why}")); n],
                Slot::Stopped => return vec![Outcome::skipped(STOPPED); n],
                Slot::Running(_) | Slot::Restarting => {
                    waited = true;
                    tokio::select! {
                        r = tokio::time::timeout_at(wait_until, slot.changed()) => match r {
                            Ok(Ok(())) => continue,
                            Ok(Err(_)) => return vec![Outcome::skipped("the validator was removed"); n],
                            // The job never ran: not `timed out`. Its later jobs
                            // in this run are skipped too, so the run still ends
                            // within its timeouts.
                            Err(_) if deadline.is_none() => {
                                let why = format!(
                                    "not run: validator {name} was still restarting (restart backoff) after its timeout of {timeout:?}"
                                );
                                run.set_hung(name, why.clone());
                                return vec![Outcome::skipped(why); n];
                            }
                            Err(_) => return vec![Outcome::skipped(restarted_under(name)); n],
                        },
                        _ = cancel.cancelled() => return vec![Outcome::skipped("the check was cancelled"); n],
                    }
                }
            }
        };
        let second = deadline.is_some();
        if !second && waited && !capped && asked.elapsed() <= RESTART_WAIT_GRACE {
            // A restart's first backoffs are this short: the tool still gets
            // its whole timeout (the run ends that little later), and
            // reaching it is the tool's time-out, not a skip.
            waited = false;
            // No later than runs waiting for the pair allow (they count
            // from the wait's start, a moment more).
            deadline = Some((tokio::time::Instant::now() + timeout).min(asked + RESTART_WAIT_GRACE + timeout));
        }
        let until = *deadline.get_or_insert(wait_until);
        // Less than its whole timeout left, part of it spent waiting for a
        // restart or for another run computing the pair: reaching the
        // deadline then says nothing of the tool.
        let shortened = !second && (waited || capped);

        let files = batch
            .iter()
            .map(|&fi| {
                let w = &walked[fi];
                JobFile { rel: w.rel.clone(), abs: w.abs.clone(), size: w.len(), executable: w.executable() }
            })
            .collect();
        // The job is cancelled (its tools SIGKILLed at once) when this run is
        // cancelled or ends, or this call is dropped; once it timed out it is
        // terminated instead (SIGTERM, a grace, SIGKILL), which the supervisor
        // killing its child (`JobTimedOut`) does not cut short, nor does a
        // reload or a restart of the validator (they kill every other tool);
        // the daemon stopping does.
        let job_cancel = CancellationToken::new();
        let job_guard = job_cancel.clone().drop_guard();
        // The job holds the validator's concurrency slot until it is done: a
        // timed-out one, through its grace too.
        let permit_kept = permit.clone();
        let job = Job::new(files, job_cancel).holding(permit).due(until);
        let terminate = job.terminate.clone();
        let call = actor.call(|reply| ValidatorMessage::Validate(job, reply), None);
        return tokio::select! {
            r = answered_by(until, call) => match r {
                Ok(Ok(ractor::rpc::CallResult::Success(outcomes))) if outcomes.len() == n => outcomes,
                Ok(Ok(ractor::rpc::CallResult::Success(outcomes))) => {
                    warn!(validator = %name, expected = n, got = outcomes.len(), "a validator answered the wrong number of outcomes");
                    vec![Outcome::error("the validator answered the wrong number of outcomes"); n]
                }
                // The child died with the job (a sibling job's timeout or
                // crash, a restart) before its deadline: again, on the next
                // child, as often as that happens within the deadline.
                // Within moments of it, the job timed out as well (below):
                // its deadline and a sibling's passed together, and a run
                // on the next child would have no time left.
                Ok(_) if tokio::time::Instant::now() + DEADLINES_TOGETHER < until => {
                    debug!(validator = %name, "the child died under a job; running it again on the next one");
                    dead = Some(actor.get_id());
                    held = Some(permit_kept);
                    continue;
                }
                // A rerun whose child died too, with no time left.
                Ok(_) if second => vec![Outcome::skipped(restarted_under(name)); n],
                // A rerun cut short by the first run's deadline: its
                // tools are killed with the job (the guard); the child, which
                // did nothing wrong, is not.
                Err(_) if second => vec![Outcome::skipped(restarted_under(name)); n],
                // The same for a job that waited for a restart: not a
                // time-out of the tool. Its later jobs in this run are
                // skipped, so that the run still ends within its timeouts.
                Err(_) if shortened => {
                    let first = walked[batch[0]].rel.clone();
                    let (earlier, part) = match capped {
                        true => (
                            "was run here after another check that was running it on the same file went away",
                            format!("another check was running validator {name} on this file and went away; this job had the rest of the {timeout:?} timeout waited for it"),
                        ),
                        false => (
                            "was restarting",
                            format!("validator {name} was restarting for part of this job's timeout of {timeout:?}"),
                        ),
                    };
                    run.set_hung(
                        name,
                        format!("not run: validator {name} {earlier}, and its job on {first} did not end in time earlier in this run"),
                    );
                    let why = format!("not run in time: {part}, and the job did not end in the rest");
                    vec![Outcome::skipped(why); n]
                }
                _ => {
                    job_guard.disarm();
                    terminate.cancel();
                    // Which file of a batch the tool was stuck on is not
                    // known.
                    let first = match batch.len() {
                        1 => walked[batch[0]].rel.clone(),
                        n => format!("a batch of {n} files from {}", walked[batch[0]].rel),
                    };
                    run.set_hung(name, format!("validator {name} timed out on {first} earlier in this run"));
                    let _ = supervisor.cast(SupervisorMessage::JobTimedOut {
                        name: name.clone(),
                        actor: actor.get_id(),
                        file: first,
                        after: timeout,
                    });
                    vec![Outcome::TimedOut { after_ms: timeout.as_millis() as u64 }; n]
                }
            },
            _ = cancel.cancelled() => {
                vec![Outcome::skipped("the check was cancelled"); n]
            }
        };
    }
}

/// `call`'s output if it comes by `until`, as `timeout_at` gives it, but
/// for a deadline found passed long after it passed: the daemon did not run
/// meanwhile (stopped with SIGSTOP, a frozen cgroup, `docker pause`), while
/// its tools did, and a tool that ended in time had its end not seen yet.
/// Such a call has [`SEEN_LATE`] more to deliver it (a tool that is still
/// running is then timed out, that much later).
async fn answered_by<F: std::future::Future>(
    until: tokio::time::Instant,
    call: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::pin!(call);
    match tokio::time::timeout_at(until, &mut call).await {
        Err(_) if tokio::time::Instant::now().saturating_duration_since(until) >= NOT_RUNNING => {
            tokio::time::timeout(SEEN_LATE, &mut call).await
        }
        r => r,
    }
}

/// How late a deadline must be seen for the daemon to have been stopped
/// rather than busy (its timers fire within milliseconds when it runs).
const NOT_RUNNING: Duration = Duration::from_secs(1);

/// How long a job whose deadline passed while the daemon was stopped has to
/// deliver what its tool did meanwhile.
const SEEN_LATE: Duration = Duration::from_secs(1);

/// How close to its deadline a job whose child died under it counts as
/// timed out with the sibling whose deadline had the child killed.
const DEADLINES_TOGETHER: Duration = Duration::from_millis(100);

/// The longest wait for a restarting child after which a job still gives
/// its tool the whole timeout. No longer than [`DEADLINES_TOGETHER`]: runs
/// waiting for the job's pair allow it that much past its timeout.
const RESTART_WAIT_GRACE: Duration = DEADLINES_TOGETHER;

/// Why a job whose child died under it has no verdict: its runs on the
/// next children gave none by the job's deadline (the last child died too
/// close to it, was still restarting, or the run did not end in time).
fn restarted_under(name: &str) -> String {
    format!(
        "validator {name} was restarted while this job was running (another job's timeout, a crash, or `verdict \
         restart`), and it got no verdict on the next child by the job's deadline"
    )
}

/// The selected validators of each file (indices into `filters`), computed
/// on every core.
/// The paths a request names, resolved against the client's directory
/// `cwd` (default: the root) to real paths in the project, sorted, each
/// once (`.` when none is named). A path outside the root, or in `.git`,
/// is refused.
pub(crate) fn resolve_targets(
    root: &Path,
    cwd: Option<&crate::protocol::WirePath>,
    paths: &[crate::protocol::WirePath],
) -> Result<Vec<PathBuf>, RpcError> {
    let cwd = cwd.map_or_else(|| root.to_path_buf(), |c| c.0.clone());
    if !cwd.is_absolute() {
        // It would be taken relative to the daemon's own directory.
        return Err(RpcError::invalid_params("cwd", format!("{} is not an absolute path", cwd.display())));
    }
    if let Err(e) = std::fs::metadata(&cwd)
        .and_then(|m| m.is_dir().then_some(()).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotADirectory)))
    {
        return Err(RpcError::invalid_params("cwd", format!("{}: {e}", cwd.display())));
    }
    let paths: Vec<PathBuf> =
        if paths.is_empty() { vec![".".into()] } else { paths.iter().map(|p| p.0.clone()).collect() };
    let mut targets = Vec::new();
    for p in &paths {
        if p.as_os_str().is_empty() {
            return Err(RpcError::invalid_params("paths", "an empty path names nothing (use \".\" for the directory)"));
        }
        let abs = cwd.join(p);
        let canon = std::fs::canonicalize(&abs).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
                _ => e.to_string(),
            };
            // A pattern the shell did not expand (it was quoted, or matched
            // nothing) reaches verdict as it is.
            let glob = p.as_os_str().as_bytes().iter().any(|b| matches!(b, b'*' | b'?' | b'['));
            let hint = if glob && e.kind() == std::io::ErrorKind::NotFound {
                " (verdict does not expand patterns: name files or directories, or let the shell expand it)"
            } else {
                ""
            };
            RpcError::invalid_params("paths", format!("{}: {why}{hint}", abs.display()))
        })?;
        if !canon.starts_with(root) {
            // Named by a link: say which, and where it leads.
            let through = if canon != abs && abs.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
                format!("{} (a link to {})", abs.display(), canon.display())
            } else {
                canon.display().to_string()
            };
            return Err(RpcError::invalid_params(
                "paths",
                format!("{through} is outside the project root {}", root.display()),
            ));
        }
        // The walk leaves `.git` out wherever it meets it; a path that
        // names it (or something in it) is refused alike.
        if canon.strip_prefix(root).is_ok_and(|rel| rel.components().any(|c| c.as_os_str() == ".git")) {
            return Err(RpcError::invalid_params(
                "paths",
                format!("{} is inside .git, which verdict never checks", canon.display()),
            ));
        }
        targets.push(canon);
    }
    // The same path named many times is walked once (a request of 100,000
    // `.` walked the tree 100,000 times).
    targets.sort_unstable();
    targets.dedup();
    Ok(targets)
}

/// What marking walked files with their rules files' say needs of the
/// walk: its root, what it leaves out and what it met.
struct RulesWalk<'a> {
    root: &'a Path,
    own: &'a Arc<[PathBuf]>,
    excluded_dirs: &'a Arc<globset::GlobSet>,
    hazards: &'a Hazards,
    /// Where to say which rules set each file's marks (`explain`; a check
    /// keeps none).
    sources: Option<&'a Sources>,
}

/// The rules that set each file's marks, by its path, in words: a
/// `.gitattributes` line, an `.editorconfig` section.
type Sources = Mutex<HashMap<PathBuf, Vec<String>>>;

/// The regular files' names of directories read on disk (not walked: those
/// of files named alone, and those above a check's targets), each read
/// once a check, for the rules looked for by name there (a README, a
/// release's licence, a package recipe): one listing a directory, where a
/// look-up of each name would be one `stat` each.
#[derive(Default)]
struct Listings(HashMap<PathBuf, std::collections::HashSet<Vec<u8>>>);

impl Listings {
    /// The names of the regular files in `dir` (not through links; none if
    /// it cannot be read).
    fn files(&mut self, dir: &Path) -> &std::collections::HashSet<Vec<u8>> {
        self.0.entry(dir.to_path_buf()).or_insert_with(|| {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| std::os::unix::ffi::OsStringExt::into_vec(e.file_name()))
                .collect()
        })
    }
}

impl RulesWalk<'_> {
    /// Gives `files` (walked for `targets`) the marks the `.gitattributes`
    /// and `.editorconfig` files over them set: those the walk listed,
    /// those above the targets that a walk of the root lists or that git
    /// tracks (`tracked_rules`), those of the directories not walked that
    /// hold files git tracks (`tracked`, see [`attributes::unlisted`]), and
    /// `remembered` (an earlier walk's). The files read are recorded with
    /// the walk's ignore files. Returns the notes for the report, the
    /// directories not walked whose rules files were looked for, and, for
    /// a check, the project's `.prettierignore`, which the read stage asks
    /// about the files it must (with `sources`, for `explain`, every file
    /// gets its `kept_from_formatter` mark here instead).
    fn mark(
        &self,
        files: &mut [Walked],
        targets: &[PathBuf],
        tracked_rules: &[PathBuf],
        tracked: (&[PathBuf], Option<&HashSet<&str>>),
        remembered: &[PathBuf],
    ) -> (Vec<String>, Vec<PathBuf>, Option<formatter_ignore::FormatterList>) {
        let RulesWalk { root, own, excluded_dirs, hazards, sources } = *self;
        let listed = |found: Vec<PathBuf>| {
            let listed_in = |path: &PathBuf| {
                if tracked_rules.contains(path) {
                    return true;
                }
                let Some(dir) = path.parent().filter(|d| hazards.allows_from(d, root)) else { return false };
                let mut builder = walker(root, dir, own, excluded_dirs, None, hazards);
                builder.max_depth(Some(1));
                builder.build().flatten().any(|e| e.path() == path && e.file_type().is_some_and(|t| t.is_file()))
            };
            found.into_iter().filter(listed_in).collect()
        };
        let names = [attributes::FILE_NAME, editorconfig::FILE_NAME];
        let (mut unlisted, unwalked) = attributes::unlisted(root, listed, targets, tracked, &names);
        unlisted.extend(remembered.iter().cloned());
        let (real_root, trusted) = &*hazards.root;
        let repos = hazards.repos.lock().expect("repos").clone();
        let mut read = Vec::new();
        let (gitattributes, editorconfigs): (Vec<PathBuf>, Vec<PathBuf>) =
            unlisted.into_iter().partition(|p| p.file_name().is_none_or(|n| n != editorconfig::FILE_NAME));
        // EditorConfig first: git's `text` and `eol` are looked up only
        // where an `end_of_line` is set for some file.
        let notes = editorconfig::mark(root, (real_root, trusted), files, &editorconfigs, &mut read, sources);
        let heed_eol = files.iter().any(|w| w.marks.eol.is_some());
        attributes::mark(root, (real_root, trusted), &repos, files, &gitattributes, heed_eol, (&mut read, sources));
        package_vendor::mark(root, (real_root, trusted), files, &mut read, sources);
        // The directories of a check's targets are walked whole (`explain`
        // walks its files one by one): a sibling there is among `files`.
        let whole_dirs: Vec<&PathBuf> = targets.iter().filter(|t| sources.is_none() && t.is_dir()).collect();
        let alone = |dir: &Path| !whole_dirs.iter().any(|t| dir.starts_with(t));
        let some_alone = sources.is_some() || whole_dirs.len() < targets.len();
        let whole = |dir: &Path| !alone(dir);
        let mut listings = Listings::default();
        readme_vendor::mark(
            root,
            files,
            targets,
            some_alone.then_some(&whole as &dyn Fn(&Path) -> bool),
            (&mut read, &mut listings),
            sources,
        );
        let walked = |dir: &Path| -> Vec<PathBuf> {
            if !hazards.allows_from(dir, root) {
                return Vec::new();
            }
            let mut builder = walker(root, dir, own, excluded_dirs, None, hazards);
            builder.max_depth(Some(1));
            let mut listed: Vec<PathBuf> = builder
                .build()
                .flatten()
                .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
                .map(|e| e.into_path())
                .collect();
            // And those git tracks there that an ignore file names, as a
            // check of the directory reads them (see `TrackedIgnored`).
            let mut dot_ignore = DotIgnore::new(root, &hazards.ignore_files);
            for name in tracked_ignored_in(dir) {
                let path = dir.join(std::ffi::OsStr::from_bytes(&name));
                let shown = path.strip_prefix(root).is_ok_and(|rel| !dot_ignore.hides(rel));
                if shown && !listed.contains(&path) && path.symlink_metadata().is_ok_and(|m| m.is_file()) {
                    listed.push(path);
                }
            }
            listed
        };
        let alone_dirs = some_alone.then_some(&alone as &dyn Fn(&Path) -> bool);
        siblings::mark(files, alone_dirs, walked, sources);
        recipes::mark(root, files, targets, alone_dirs, &mut listings, sources);
        let formatter_list = match sources {
            Some(_) => {
                formatter_ignore::mark(root, (real_root, trusted), files, &mut read, sources);
                None
            }
            None => formatter_ignore::FormatterList::load(root, (real_root, trusted), &mut read),
        };
        hazards.ignore_files.lock().expect("ignore files").append(&mut read);
        (notes, unwalked, formatter_list)
    }
}

/// Walks the targets honouring .gitignore and .ignore; hidden files are
/// included, `.git` is not. With `stat`, each file's metadata is taken
/// here (for the stat index); without, the read stage takes it.
fn walk(
    root: &Path,
    targets: &[PathBuf],
    own: &Arc<[PathBuf]>,
    excluded_dirs: &Arc<globset::GlobSet>,
    watch: Option<(Arc<TreeWatch>, Arc<WalkWatch>)>,
    stat: bool,
    hazards: &Hazards,
) -> (Vec<Walked>, Vec<String>, bool) {
    let Some((first, rest)) = targets.split_first() else { return (Vec::new(), Vec::new(), false) };
    hazards.foreign_above(root);
    let mut safe = hazards.error().is_none();
    for t in targets {
        let start = if t.is_dir() { Some(t.as_path()) } else { t.parent() };
        safe &= start.is_none_or(|s| hazards.allows_from(s, root));
    }
    if !safe {
        return (Vec::new(), Vec::new(), false);
    }
    // An ignore file (or `.git`) that is a symbolic link: its target may be
    // edited where no watch sees it.
    let linked_ignore_file = Arc::new(AtomicBool::new(false));
    if let Some((watch, walk)) = &watch {
        // The walk's roots (a file target: its directory) and every
        // directory up to the project root, whose .gitignore files the walk
        // honours too, and git's excludes.
        for t in targets {
            let mut dir = if t.is_dir() { Some(t.as_path()) } else { t.parent() };
            while let Some(d) = dir.filter(|d| d.starts_with(root)) {
                watch.watch_dir(d, walk);
                // Read by the walk, but not walked: a link's target could
                // change unseen.
                if IGNORE_FILES.iter().any(|f| d.join(f).symlink_metadata().is_ok_and(|m| m.is_symlink())) {
                    linked_ignore_file.store(true, Ordering::Relaxed);
                }
                dir = d.parent();
            }
        }
        // git's excludes: those of the project's repository, or else of
        // the repository it sits in (the walker applies no others).
        let linked = &linked_ignore_file;
        let in_repository = root.join(".git").symlink_metadata().is_ok();
        if in_repository {
            watch_git_excludes(root, watch, walk, linked);
        }
        // Above the root: the ignore files of every directory up to `/`.
        let mut repository_met = in_repository;
        for a in root.ancestors().skip(1) {
            watch.watch_ancestor(a, walk);
            if !repository_met && a.join(".git").symlink_metadata().is_ok() {
                repository_met = true;
                watch_git_excludes(a, watch, walk, linked);
            }
        }
    }
    // verdict's own cache, when configured inside the project, is not
    // validated (and its writes would look like changes to the tree).
    let mut builder = walker(root, first, own, excluded_dirs, Some(linked_ignore_file.clone()), hazards);
    for t in rest {
        builder.add(t);
    }
    let out: Arc<Mutex<(Vec<Walked>, Vec<String>)>> = Arc::default();
    // On a thread of its own, which a walk that cannot end is left to (see
    // `WalkThreads`).
    let threads = WalkThreads::default();
    let (done_tx, done) = std::sync::mpsc::channel::<Result<(), String>>();
    let walk = {
        let (out, threads) = (out.clone(), threads.clone());
        let (root, hazards, watch, linked_ignore_file) =
            (root.to_path_buf(), hazards.clone(), watch.clone(), linked_ignore_file.clone());
        move || {
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                builder.build_parallel().run(|| {
                    // Each walker thread collects on its own and hands its
                    // files over when it finishes.
                    let mut local = Collect { files: Vec::new(), dirs: Vec::new(), out: out.clone() };
                    let mut started = threads.worker();
                    let (root, hazards, watch, linked_ignore_file) =
                        (&root, &hazards, watch.clone(), &linked_ignore_file);
                    Box::new(move |entry| {
                        if !started.visited() {
                            return ignore::WalkState::Quit;
                        }
                        let entry = match entry {
                            Ok(entry) => entry,
                            Err(e) => {
                                hazards.walker_error(&e);
                                return ignore::WalkState::Continue;
                            }
                        };
                        named_but_not_walkable(&entry, hazards);
                        if entry.path_is_symlink() && IGNORE_FILES.iter().any(|f| entry.file_name() == *f) {
                            linked_ignore_file.store(true, Ordering::Relaxed);
                        }
                        if entry.file_type().is_some_and(|t| t.is_dir()) {
                            if let Some((watch, walk)) = &watch {
                                watch.watch_dir(entry.path(), walk);
                            }
                            // Named in UTF-8 only: a change in any other makes
                            // the next run walk the tree (see `incremental`),
                            // and its lossy name may be another directory's.
                            if let Some(rel) = entry.path().strip_prefix(root).ok().and_then(Path::to_str) {
                                local.dirs.push(rel.to_owned());
                            }
                        }
                        if let Some(w) = walked(root, entry, stat) {
                            local.files.push(w);
                        }
                        ignore::WalkState::Continue
                    })
                })
            }));
            threads.ended();
            let _ = done_tx.send(run.map_err(|panic| verdict_actors::validator::panic_message(&panic)));
        }
    };
    let failed = match std::thread::Builder::new().name("verdict-walk".into()).spawn(walk) {
        Err(e) => Some(e.to_string()),
        Ok(_) => threads.wait(&done),
    };
    if let Some(why) = failed {
        let spawning = why.starts_with("failed to spawn thread")
            || why == WALK_THREAD_MISSING
            || why.contains("Resource temporarily unavailable");
        hazards.failed(if spawning {
            format!(
                "the daemon could not start the threads that walk the tree ({why}): its limit of processes and \
                 threads (RLIMIT_NPROC, `ulimit -u`) may be reached; the check was not run"
            )
        } else {
            format!("the walk of the tree failed ({why}); the check was not run")
        });
        return (Vec::new(), Vec::new(), false);
    }
    let (mut v, mut dirs) = std::mem::take(&mut *out.lock().expect("out"));
    // Repositories and worktrees nested in the project: the walker read
    // their excludes too.
    if let Some((watch, walk)) = &watch {
        let nested: Vec<PathBuf> = hazards.repos.lock().expect("repos").clone();
        for repo in nested.iter().filter(|d| d.starts_with(root) && d.as_path() != root) {
            match git_dirs(repo) {
                // Where the walker reads excludes, and a worktree's index.
                Ok(Some(found @ GitDirs { common: Some(_), .. })) => {
                    watch_git_dirs(found, watch, walk, &linked_ignore_file);
                }
                // A submodule: no excludes read (no `commondir`), but its
                // index says what it tracks, in the git directory its `.git`
                // file names relative to it (the walker reads such a
                // `gitdir:` from the daemon's working directory instead).
                Ok(Some(GitDirs { named: Some(named), common: None })) => {
                    let found = GitDirs { named: Some(repo.join(named)), common: None };
                    watch_git_dirs(found, watch, walk, &linked_ignore_file);
                }
                _ => {}
            }
        }
    }
    v.sort_unstable_by(|a, b| a.rel.cmp(&b.rel).then_with(|| a.raw.cmp(&b.raw)));
    // Overlapping targets (`verdict check src src/lib.rs`) find a file twice.
    if !rest.is_empty() {
        v.dedup_by(|a, b| a.rel == b.rel && a.raw == b.raw);
        dirs.sort_unstable();
        dirs.dedup();
    }
    (v, dirs, linked_ignore_file.load(Ordering::Relaxed))
}

/// `; did you mean "NAME"?` for the known name most like `given` (a typo:
/// `trailing-whitspace`), if one is close; empty otherwise.
pub(crate) fn did_you_mean<'a>(given: &str, known: impl Iterator<Item = &'a str>) -> String {
    let best =
        known.map(|k| (strsim::jaro(given, k), k)).filter(|(score, _)| *score > 0.8).max_by(|a, b| a.0.total_cmp(&b.0));
    best.map_or_else(String::new, |(_, k)| format!("; did you mean {k:?}?"))
}

/// Whether `rel` (a directory, relative to the root) holds only excluded
/// files: it or a directory above it is taken out whole by `check.exclude`.
fn dir_excluded(excluded_dirs: &globset::GlobSet, rel: &Path) -> bool {
    !excluded_dirs.is_empty() && rel.ancestors().any(|a| !a.as_os_str().is_empty() && excluded_dirs.is_match(a))
}

/// The walker configured as every walk of a check is: ignore files
/// honoured, hidden files included, `.git` and verdict's own cache left out.
///
/// In a project inside a git repository, git's ignore rules are the
/// repository's own, as git has them: the walker looks for ignore files
/// above its start only up to the repository's top level, and a nested
/// repository is not ruled by the one around it. A project in no repository
/// still honours its `.gitignore` files (and those of every directory above
/// it, as there is no top level to stop at).
fn walker(
    root: &Path,
    start: &Path,
    own: &Arc<[PathBuf]>,
    excluded_dirs: &Arc<globset::GlobSet>,
    linked: Option<Arc<AtomicBool>>,
    hazards: &Hazards,
) -> ignore::WalkBuilder {
    let mut builder = ignore::WalkBuilder::new(start);
    let own = own.clone();
    let hazards = hazards.clone();
    // `check.exclude` takes every file below these out: not entered, so not
    // listed, nor watched (`exclude = ["target"]` spares a build tree).
    let excluded = (!excluded_dirs.is_empty()).then(|| (excluded_dirs.clone(), root.to_path_buf()));
    let in_repository = root.ancestors().any(|a| a.join(".git").exists());
    builder.hidden(false).require_git(in_repository).filter_entry(move |e| {
        if e.file_name() == ".git" {
            if let Some(linked) = linked.as_ref().filter(|_| e.path_is_symlink()) {
                linked.store(true, Ordering::Relaxed);
            }
            return false;
        }
        // The walker reads a directory's ignore files as it enters it: one
        // that is a FIFO or a device must keep it out.
        if e.file_type().is_some_and(|t| t.is_dir()) {
            if let Some((dirs, root)) = &excluded
                && let Ok(rel) = e.path().strip_prefix(root)
                && !rel.as_os_str().is_empty()
                && dirs.is_match(rel)
            {
                return false;
            }
            if !hazards.allows(e.path()) {
                return false;
            }
        }
        !own.iter().any(|o| o == e.path())
    });
    builder
}

/// A file as a `stat` saw it: which file (device, inode), its size and its
/// modification and change times. An ignore file written through a hard
/// link from another directory sends no event to its own directory's
/// watch, but moves these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl ReadStamp {
    fn of(m: &std::fs::Metadata) -> ReadStamp {
        use std::os::unix::fs::MetadataExt;
        ReadStamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// Ignore files the walk would have to read but must not: FIFOs (opening
/// one blocks until a writer comes) and devices (`/dev/zero` never ends, and
/// the walker reads an ignore file line by line into memory). The `ignore`
/// crate opens any that exists, so each directory is looked at before the
/// walker enters it; a check that meets one fails and names it.
///
/// It also collects what the walk could not look at (a directory it cannot
/// list, a named path that is neither a file nor a directory): those do not
/// stop a check, but its report lists them and it counts as incomplete.
#[derive(Clone, Default)]
struct Hazards {
    /// Ignore files that are FIFOs or devices, described.
    unsafe_files: Arc<Mutex<Vec<String>>>,
    /// Why the walk itself failed, if it did.
    failed: Arc<Mutex<Option<String>>>,
    /// What the walk could not look at: the path, if known, and why.
    missed: Arc<Mutex<Vec<Missed>>>,
    /// The directories above the walk's roots already looked at: a check of
    /// 20,000 named files climbs from each, and stops where one has been.
    looked_at: Arc<Mutex<std::collections::HashSet<PathBuf>>>,
    /// The directories looked at that hold a `.git` (the walker reads
    /// their excludes: nested repositories and worktrees are watched for
    /// them after the walk).
    repos: Arc<Mutex<Vec<PathBuf>>>,
    /// The ignore files the walker reads (`.gitignore`, `.ignore`, git's
    /// `info/exclude`), as they were when looked at.
    ignore_files: Arc<Mutex<Vec<(PathBuf, ReadStamp)>>>,
    /// The project root (its real path), and the owners whose files outside
    /// it the walk may read for ignore rules: the user, root and the root
    /// directory's owner. Empty: nothing is outside (tests).
    root: Arc<(PathBuf, [u32; 3])>,
}

impl Hazards {
    /// The hazards of a walk of the project at `root`.
    fn for_root(root: &Path) -> Hazards {
        use std::os::unix::fs::MetadataExt;
        let me = nix::unistd::geteuid().as_raw();
        let owner = std::fs::metadata(root).map_or(me, |m| m.uid());
        let real = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        Hazards { root: Arc::new((real, [me, 0, owner])), ..Hazards::default() }
    }

    /// Whether the walker may read the ignore files of `dir` (recording the
    /// first that it may not).
    fn allows(&self, dir: &Path) -> bool {
        let mut repo = false;
        let mut read = Vec::new();
        let found = special_ignore_file(dir, &mut repo, &mut read);
        if !read.is_empty() {
            self.ignore_files.lock().expect("ignore files").append(&mut read);
        }
        if repo {
            self.repos.lock().expect("repos").push(dir.to_path_buf());
            self.foreign_git_files(dir);
        }
        match found {
            None => true,
            Some(problem) => {
                self.unsafe_files.lock().expect("hazards").push(format!(
                    "{problem}, which the walk would read for ignore rules; reading it could block forever, never \
                     end or take without bound. Replace it with a small regular file or remove it"
                ));
                false
            }
        }
    }

    /// Looks at `start` (a directory the walk starts from, or a file's
    /// directory) and every directory above it, whose ignore files (git's
    /// excludes of a repository around the project included) the walker
    /// reads too.
    fn allows_from(&self, start: &Path, root: &Path) -> bool {
        let mut dir = Some(start);
        while let Some(d) = dir {
            // Looked at already, and so was everything above it.
            if !self.looked_at.lock().expect("looked at").insert(d.to_path_buf()) {
                break;
            }
            self.allows(d);
            // Above the root, `foreign_above` looks.
            if d.starts_with(root) {
                self.shared_dir(d);
            }
            dir = d.parent();
        }
        // Any unsafe ignore file fails the whole check.
        self.unsafe_files.lock().expect("hazards").is_empty()
    }

    /// Records something the walk could not look at: its path, if known,
    /// and why (without the path, which the report writes exactly).
    fn missed(&self, path: Option<PathBuf>, why: String) {
        self.missed.lock().expect("walk errors").push((path, why));
    }

    /// Records an error of the walker. Only a directory it could not list
    /// counts: an ignore file it could not read or parse (a glob git
    /// accepts and the crate does not, in a `.gitignore` above the project)
    /// is logged, as it would otherwise make every check incomplete.
    fn walker_error(&self, e: &ignore::Error) {
        let path = walk_error_path(e).map(Path::to_path_buf);
        let about_ignore_file = path
            .as_deref()
            .and_then(Path::file_name)
            .is_some_and(|n| IGNORE_FILES.iter().any(|f| n == *f) || n == "exclude");
        if e.is_io() && !about_ignore_file {
            let why = if path.is_some() { walk_error_reason(e) } else { e.to_string() };
            self.missed(path, why);
        } else {
            warn!(error = %e, "an ignore file could not be read or parsed; its rules are not applied");
        }
    }

    /// What the walk could not look at, sorted, less what `exclude` takes
    /// out (a directory of the project nobody may read, excluded for that
    /// reason, is not an incomplete check).
    fn missed_all(&self, root: &Path, exclude: &globset::GlobSet, excluded_dirs: &globset::GlobSet) -> Vec<String> {
        let found = std::mem::take(&mut *self.missed.lock().expect("walk errors"));
        let excluded = |p: &Path| {
            let Ok(rel) = p.strip_prefix(root) else { return false };
            // The path itself, or everything in it.
            exclude.is_match(rel) || dir_excluded(excluded_dirs, rel)
        };
        // Paths relative to the root, as everywhere else in the report, and
        // written exactly (two names that are not UTF-8 must not read as
        // one: see `shown_name`).
        let prefix = format!("{}/", root.display());
        let mut v: Vec<String> = found
            .into_iter()
            .filter(|(p, _)| !p.as_deref().is_some_and(excluded))
            .map(|(p, why)| match p {
                Some(p) => {
                    let rel = p.strip_prefix(root).ok().filter(|r| !r.as_os_str().is_empty()).unwrap_or(&p);
                    format!("{}: {why}", crate::report::shown_name(rel.as_os_str().as_bytes()))
                }
                None => why.replace(&prefix, ""),
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The ignore files above the project that another user owns (not
    /// root, nor the owner of the project's directory: root checking a
    /// user's checkout reads the repository's own `.gitignore`), which the
    /// walker would read: their rules would decide what is checked, and
    /// another user could have every file skipped with a `*` in
    /// `/tmp/.ignore`. `.ignore` files are read up to `/`, `.gitignore`
    /// files up to the top of the repository the project is in (or up to
    /// `/`, in none). Recorded as unsafe: the check fails, unless the
    /// file's directory is listed in `VERDICT_SAFE_DIRECTORIES`.
    fn foreign_above(&self, root: &Path) {
        use std::os::unix::fs::MetadataExt;
        let me = nix::unistd::geteuid().as_raw();
        let root_owner = std::fs::metadata(root).map_or(me, |m| m.uid());
        let flag = |path: &Path, dir: &Path| {
            let Ok(m) = path.symlink_metadata() else { return };
            let whose = if ![me, 0, root_owner].contains(&m.uid()) {
                format!("belongs to uid {}, not to you, root or the project's owner,", m.uid())
            } else if let Some(why) = path
                .parent()
                .and_then(|d| d.metadata().ok())
                .and_then(|d| crate::paths::owner_says_nothing(&m, crate::paths::shared_mode(&d)))
            {
                // Its owner says nothing where anyone may have linked it.
                format!(
                    "is in a directory others may write to and {why}, so its owner says nothing of who put it there,"
                )
            } else {
                return;
            };
            if crate::config::listed_safe(dir) {
                return;
            }
            self.unsafe_files.lock().expect("hazards").push(format!(
                "{} {whose} and is above the project, whose walk would read it for ignore rules: another user's \
                 rules would decide what is checked (a `*` there skips every file). Remove it (or have it removed), \
                 move the project where no one else writes, or, if you trust it, list {} in \
                 VERDICT_SAFE_DIRECTORIES where the daemon starts",
                path.display(),
                dir.display()
            ));
        };
        let mut past_repository = root.join(".git").symlink_metadata().is_ok();
        for dir in root.ancestors().skip(1) {
            flag(&dir.join(".ignore"), dir);
            if past_repository {
                continue;
            }
            flag(&dir.join(".gitignore"), dir);
            // The repository the project is in: the walker reads its
            // excludes (`info/exclude`) too.
            if dir.join(".git").symlink_metadata().is_ok() {
                past_repository = true;
                flag(&dir.join(".git"), dir);
                if let Ok(Some(GitDirs { common: Some(common), .. })) = git_dirs(dir) {
                    flag(&common.join("info/exclude"), dir);
                }
            }
        }
    }

    /// Where `dir`'s `.git` is a file (a submodule, a worktree), the files its
    /// `gitdir:` line leads the walker to, its `commondir` and the excludes
    /// file that one names, if they are outside the project: an absolute
    /// `gitdir:` (a worktree's) as it is, a relative one (a submodule's)
    /// from the process's working directory, as the `ignore` crate takes it
    /// (the daemon's is `/`, so `/.git/modules/sub`: root's to make; from
    /// a project root in `/tmp` it would be `/tmp/.git/modules/sub`, which
    /// anyone may make). Another user's there would choose what is checked, as an
    /// ignore file of theirs above the project would: recorded as unsafe
    /// if someone other than the user, root or the project's owner may
    /// have chosen what it holds (see [`untrusted_file`]), unless a
    /// directory it is in is listed in `VERDICT_SAFE_DIRECTORIES`.
    fn foreign_git_files(&self, dir: &Path) {
        let (root, trusted) = &*self.root;
        if root.as_os_str().is_empty() {
            return;
        }
        let Ok(Some(GitDirs { named: Some(named), common })) = git_dirs(dir) else { return };
        for file in std::iter::once(named.join("commondir")).chain(common.map(|c| c.join("info/exclude"))) {
            // As the walker takes a relative one: from the process's
            // working directory (the daemon's is `/`, whose `..` is itself).
            let Ok(file) = std::path::absolute(&file).map(|f| lexically_normal(&f)) else { continue };
            // Listed, a directory is trusted with everything below it.
            if file.starts_with(root) || file.ancestors().skip(1).any(crate::config::listed_safe) {
                continue;
            }
            let Some(why) = untrusted_file(&file, trusted) else { continue };
            self.unsafe_files.lock().expect("hazards").push(format!(
                "{why}; the walk would read it for ignore rules, led there by {}, whose `gitdir:` leads \
                 outside the project: another user's rules would decide what is checked. Remove it (or have it \
                 removed), move the project where no one else writes, or, if you trust it, list its directory \
                 in VERDICT_SAFE_DIRECTORIES where the daemon starts",
                dir.join(".git").display()
            ));
        }
    }

    /// In a directory anyone may write to (a sticky one such as `/tmp`: a
    /// project rooted there, `cd /tmp && verdict check unpacked/`), the
    /// ignore files another user put there, unless it is the directory's
    /// owner (the kernel's `protected_*` rules): recorded as unsafe. Only
    /// the directories a walk starts from and those above them are looked
    /// at (a project's own subdirectories are seldom so shared).
    fn shared_dir(&self, dir: &Path) {
        use std::os::unix::fs::MetadataExt;
        let Ok(d) = std::fs::metadata(dir) else { return };
        if d.mode() & 0o1002 != 0o1002 || crate::config::listed_safe(dir) {
            return;
        }
        let me = nix::unistd::geteuid().as_raw();
        for name in [".ignore", ".gitignore"] {
            let path = dir.join(name);
            let Ok(m) = path.symlink_metadata() else { continue };
            let whose = if m.uid() != me && m.uid() != d.uid() {
                format!("belongs to uid {}, not to you,", m.uid())
            } else if let Some(why) = crate::paths::owner_says_nothing(&m, crate::paths::shared_mode(&d)) {
                // Anyone may have linked a file of yours or root's there.
                format!("{why}, so its owner says nothing of who put it there,")
            } else {
                continue;
            };
            self.unsafe_files.lock().expect("hazards").push(format!(
                "{} {whose} in {}, a directory anyone may write to, and the walk would read it for ignore rules: \
                 another user's rules would decide what is checked. Remove it (or have it removed), check from a \
                 directory of your own, or, if you trust it, list {} in VERDICT_SAFE_DIRECTORIES where the daemon \
                 starts",
                path.display(),
                dir.display(),
                dir.display()
            ));
        }
    }

    /// The error of a check that met any.
    /// Records why the walk failed.
    fn failed(&self, why: String) {
        warn!(error = %why, "a walk failed");
        self.failed.lock().expect("failed").get_or_insert(why);
    }

    fn error(&self) -> Option<RpcError> {
        if let Some(why) = self.failed.lock().expect("failed").clone() {
            return Some(RpcError::new(crate::protocol::code::INTERNAL_ERROR, format!("cannot check: {why}")));
        }
        let found = self.unsafe_files.lock().expect("hazards");
        let first = found.first()?;
        let more = if found.len() > 1 { format!(" (and {} more)", found.len() - 1) } else { String::new() };
        Some(RpcError::new(crate::protocol::code::UNSAFE_IGNORE_FILE, format!("cannot check: {first}{more}")))
    }
}

/// The path a walker error is about, if it names one.
fn walk_error_path(e: &ignore::Error) -> Option<&Path> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => walk_error_path(err),
        ignore::Error::Partial(errs) => errs.iter().find_map(walk_error_path),
        _ => None,
    }
}

/// git, about the repository at `top`: nothing run on the repository's say
/// (no fsmonitor), no lock taken, and only this repository (none named by
/// the daemon's environment); nothing to read on its stdin.
fn git_in(top: &Path) -> std::process::Command {
    let mut git = std::process::Command::new("git");
    git.arg("-C")
        .arg(top)
        .args(["-c", "core.fsmonitor=false"])
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(std::process::Stdio::null());
    for name in
        ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE"]
    {
        git.env_remove(name);
    }
    git
}

/// Whether git refuses the repository at `top` for its owner (git's
/// `safe.directory` rule), as it says in its own words (in English, asked
/// for). Looked at only after a listing failed: another failure (a `.git`
/// that is no repository, a damaged index) is not this one.
fn git_refuses_as_dubious(top: &Path) -> bool {
    let out = git_in(top)
        .args(["rev-parse", "--git-dir"])
        .env("LC_ALL", "C")
        .env_remove("LANGUAGE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output();
    out.is_ok_and(|o| !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("dubious ownership"))
}

/// The owner of the repository at `top` (its top directory, or its `.git`),
/// when that is not the user the daemon runs as: git refuses such a
/// repository unless its `safe.directory` names it.
fn foreign_owner(top: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    [top.to_path_buf(), top.join(".git")]
        .iter()
        .filter_map(|p| std::fs::symlink_metadata(p).ok())
        .map(|m| m.uid())
        .find(|&uid| uid != me)
}

/// The verdict.toml files (relative to `root`) in the directories between
/// the root and each named path, which a walk of the paths does not find:
/// the directories above a named file, or above a named directory.
fn configs_above(root: &Path, targets: &[PathBuf]) -> Vec<String> {
    let mut seen: HashSet<&Path> = HashSet::new();
    let mut found = Vec::new();
    for target in targets {
        let mut dir = target.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(root) && *d != root) {
            // Looked at already, and so was everything above it.
            if !seen.insert(d) {
                break;
            }
            // A regular file (through a link), as the walk would list it.
            let file = d.join(crate::paths::CONFIG_FILE);
            if std::fs::metadata(&file).is_ok_and(|m| m.is_file())
                && let Ok(rel) = file.strip_prefix(root)
            {
                found.push(rel.to_string_lossy().into_owned());
            }
            dir = d.parent();
        }
    }
    found
}

/// Records a path named on the command line (depth 0) that the walk skips
/// because it is neither a regular file nor a directory: a FIFO, a socket, a
/// device, a dangling link.
fn named_but_not_walkable(entry: &ignore::DirEntry, hazards: &Hazards) {
    if entry.depth() == 0 && !entry.file_type().is_some_and(|t| t.is_file() || t.is_dir()) {
        hazards.missed(Some(entry.path().to_path_buf()), "not a regular file or a directory".to_owned());
    }
}

/// A walker's error without the path it names (see [`walk_error_path`]).
fn walk_error_reason(e: &ignore::Error) -> String {
    match e {
        ignore::Error::WithPath { err, .. } | ignore::Error::WithDepth { err, .. } => walk_error_reason(err),
        other => other.to_string(),
    }
}

/// Something the walk could not look at: its path, if known, and why.
type Missed = (Option<PathBuf>, String);

/// `dir`'s `.gitignore` or `.ignore`, if one is a FIFO or a device (or a
/// link to one), described.
fn special_ignore_file(dir: &Path, repo: &mut bool, read: &mut Vec<(PathBuf, ReadStamp)>) -> Option<String> {
    for name in [".gitignore", ".ignore"] {
        let path = dir.join(name);
        if let Some(problem) = special_or_read(&path, read) {
            return Some(problem);
        }
    }
    special_git_exclude(dir, repo, read)
}

/// Why the ignore file `path` must not be read (see [`special_kind_of`]);
/// else, if it is there, its stamp added to `read`.
fn special_or_read(path: &Path, read: &mut Vec<(PathBuf, ReadStamp)>) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    if let Some(kind) = special_kind_of(&m) {
        return Some(format!("{} is {kind}", path.display()));
    }
    if m.is_file() {
        read.push((path.to_path_buf(), ReadStamp::of(&m)));
    }
    None
}

/// git's excludes file read on entering `dir` (the top of a repository,
/// nested or around the project), found as the `ignore` crate finds it,
/// and the file read on the way there, if either is a FIFO or a device:
/// `.git/info/exclude`, or, where `.git` is a file (a worktree, a
/// submodule), the `info/exclude` of the `commondir` that its `gitdir:`
/// line leads to.
fn special_git_exclude(dir: &Path, repo: &mut bool, read: &mut Vec<(PathBuf, ReadStamp)>) -> Option<String> {
    let common = match git_dirs(dir) {
        Ok(found) => {
            *repo = found.is_some();
            found?.common?
        }
        Err(problem) => {
            *repo = true;
            return Some(problem);
        }
    };
    special_or_read(&common.join("info/exclude"), read)
}

/// Watches what holds git's excludes for the repository at `dir` (`.git/info`,
/// or the git directory itself until it has one; for a `.git` file, the git
/// directory it names, whose `commondir` says where they are, and that
/// one's `info`), for those entries only (git's own work in there is no
/// change of the tree). What cannot be read or watched makes the run not
/// reusable, and so does an excludes file that is a link (its target may be
/// edited where no watch sees it).
///
/// A git directory the walk walks too (one inside the project: `git init
/// --separate-git-dir=.repo`) is also watched as the tree is, by the walk,
/// and then every change there counts (see [`TreeWatch::watch_dir`]).
fn watch_git_excludes(dir: &Path, watch: &TreeWatch, walk: &WalkWatch, linked: &AtomicBool) {
    match git_dirs(dir) {
        Ok(Some(found)) => watch_git_dirs(found, watch, walk, linked),
        // A `.git` gone meanwhile, or unsafe: the run vouches for nothing.
        Ok(None) | Err(_) => walk.fresh.store(true, Ordering::Relaxed),
    }
}

/// [`watch_git_excludes`] of git directories already found.
fn watch_git_dirs(found: GitDirs, watch: &TreeWatch, walk: &WalkWatch, linked: &AtomicBool) {
    // As the walker finds them (a relative `gitdir:` from the daemon's
    // working directory), by their real paths (a mount over one is then
    // seen). One that is not there may appear unseen (moved back, mounted):
    // the run vouches for nothing; but a path through a file (a relative
    // `gitdir:` of a submodule's subdirectory, read from elsewhere: the
    // `.git` file it passes through is watched) leads nowhere the walker
    // can read either.
    let real = |d: &Path| match std::fs::canonicalize(d) {
        Ok(d) if d.is_dir() => Some(Some(d)),
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTDIR) => Some(None),
        _ => None,
    };
    let resolve = |d: Option<&Path>| match d.map(real) {
        None => None,
        Some(Some(found)) => found,
        Some(None) => {
            walk.fresh.store(true, Ordering::Relaxed);
            None
        }
    };
    // Looked at before the watch is added: a directory put in its place
    // in between makes the next look differ, to the safe side.
    let watched = |d: &Path| {
        use std::os::unix::fs::MetadataExt;
        let Ok(m) = std::fs::metadata(d) else {
            walk.fresh.store(true, Ordering::Relaxed);
            return;
        };
        walk.git_dirs.lock().expect("git dirs").push((d.to_path_buf(), m.dev(), m.ino()));
        watch.watch_ancestor(d, walk);
    };
    if let Some(named) = resolve(found.named.as_deref()) {
        watched(&named);
        // Its `info/attributes`, read when there is no common directory
        // (`git init --separate-git-dir`, a submodule).
        let info = named.join("info");
        if found.common.is_none() && info.is_dir() {
            watched(&info);
        }
    }
    let Some(common) = resolve(found.common.as_deref()) else { return };
    let info = common.join("info");
    if info.join("exclude").symlink_metadata().is_ok_and(|m| m.is_symlink()) {
        linked.store(true, Ordering::Relaxed);
    }
    watched(&common);
    if info.is_dir() {
        watched(&info);
    }
}

/// Where the `ignore` crate finds git's excludes on entering `dir`.
struct GitDirs {
    /// The git directory a `.git` file names (a worktree's, a submodule's).
    named: Option<PathBuf>,
    /// The directory whose `info/exclude` is read: `.git`, or the
    /// `commondir` a `.git` file's git directory names (none: nothing read,
    /// as for a submodule).
    common: Option<PathBuf>,
}

/// [`GitDirs`] of `dir` (`None`: it has no `.git`), read as the `ignore`
/// crate reads them; `Err`: a file on the way is unsafe to read (see
/// [`first_line`]).
fn git_dirs(dir: &Path) -> Result<Option<GitDirs>, String> {
    let dot_git = dir.join(".git");
    let Ok(meta) = std::fs::metadata(&dot_git) else { return Ok(None) };
    if !meta.is_file() {
        return Ok(Some(GitDirs { named: None, common: Some(dot_git) }));
    }
    let named = crate::paths::first_line(&dot_git)?.and_then(|line| line.strip_prefix("gitdir: ").map(PathBuf::from));
    let Some(named) = named else { return Ok(Some(GitDirs { named: None, common: None })) };
    let common = crate::paths::first_line(&named.join("commondir"))?
        .map(|line| if line.starts_with('.') { named.join(line) } else { PathBuf::from(line) });
    Ok(Some(GitDirs { named: Some(named), common }))
}

/// The largest ignore file the walk reads (git's own excludes included):
/// the walker reads one whole into memory, line by line, and builds a
/// matcher of every line, which takes far more than the file (an audit's
/// 16 MiB of short patterns took 6 GiB and 28 s; a sparse file of gigabytes
/// takes no disk). Git reads up to 100 MiB; ignore files of people are a
/// few KiB.
const IGNORE_FILE_LIMIT: u64 = 1 << 20;

/// What the file `m` describes is (after links), if it is a FIFO, a device, or a file
/// larger than [`IGNORE_FILE_LIMIT`].
fn special_kind_of(m: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_char_device() || t.is_block_device() {
        Some("a device")
    } else if t.is_file() && m.len() > IGNORE_FILE_LIMIT {
        Some("a file over 1 MiB")
    } else {
        None
    }
}

/// Why `file` (absolute), which the walk would read, might hold what
/// someone not `trusted` chose, if it might: they own it or a link to it, or
/// its owner says nothing of who put it there (see
/// [`crate::paths::owner_says_nothing`]), or they could change the way to
/// it (see [`crate::paths::way_open_to_others`]), or it is not there and
/// they may make it (the deepest directory of the way that is there lets
/// its group or anyone write in it): it could be there when the walker
/// looks, a moment later.
fn untrusted_file(file: &Path, trusted: &[u32]) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    if let Some(why) = crate::paths::way_open_to_others(file, trusted) {
        return Some(format!("{} is reached through a way others may change: {why}", file.display()));
    }
    let Ok(link) = file.symlink_metadata() else {
        let there = file.ancestors().skip(1).find_map(|d| d.metadata().ok().map(|m| (d, m)));
        return there.filter(|(_, m)| crate::paths::shared_mode(m) & 0o022 != 0).map(|(d, _)| {
            format!(
                "{} is not there, but others may make it: {} lets its group or anyone write in it",
                file.display(),
                d.display()
            )
        });
    };
    let target = file.metadata().ok();
    if let Some(owner) =
        [Some(&link), target.as_ref()].into_iter().flatten().map(|m| m.uid()).find(|o| !trusted.contains(o))
    {
        return Some(format!("{} belongs to uid {owner}, not to you, root or the project's owner", file.display()));
    }
    let dir_mode = file.parent().and_then(|d| d.metadata().ok()).map_or(0, |m| crate::paths::shared_mode(&m));
    let why = target.as_ref().and_then(|m| crate::paths::owner_says_nothing(m, dir_mode))?;
    Some(format!("{} is in a directory others may write to and {why}", file.display()))
}

/// verdict's own directories, which a walk leaves out (see `run`).
fn own_dirs(engine: &Engine, config: &crate::config::Config) -> Arc<[PathBuf]> {
    let (layout, root) = (engine.layout(), &engine.layout().root);
    let store_open = config.cache.enabled && engine.store_error().is_none();
    [
        Some(engine.store_path().to_path_buf()).filter(|d| store_open || cache_or_none(d)),
        config.cache.dir.as_ref().map(|d| root.join(d)).filter(|d| cache_or_none(d)),
        layout.state_dir.parent().map(Path::to_path_buf),
        layout.data_dir.parent().map(Path::to_path_buf),
        layout.socket.parent().filter(|_| layout.default_socket).map(Path::to_path_buf),
    ]
    .into_iter()
    .flatten()
    .filter(|o| !root.starts_with(o))
    .collect()
}

/// Whether `dir` is verdict's cache (its marker is there) or nothing yet:
/// not a directory of the user's files that verdict refused as a cache.
fn cache_or_none(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir).is_err() || dir.join(verdict_storage::MARKER_FILE).is_file()
}

/// `path` with its `.` and `..` parts taken away, without looking at the
/// file system.
fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A file the walk found, with its metadata if `stat`; `None` for anything
/// else (or a file gone before its `stat`).
fn walked(root: &Path, entry: ignore::DirEntry, stat: bool) -> Option<Walked> {
    if !entry.file_type().is_some_and(|t| t.is_file()) {
        return None;
    }
    let path = entry.path().strip_prefix(root).ok()?;
    let (rel, raw) = match path.to_str() {
        Some(s) => (s.to_owned(), None),
        None => (path.to_string_lossy().into_owned(), Some(path.as_os_str().as_bytes().into())),
    };
    let meta = std::sync::OnceLock::new();
    // A file the walk cannot `stat` is kept without its metadata: the read
    // stage then opens it and reports why it cannot, as a walk that does
    // not `stat` does (dropping it made a cached answer differ from a fresh
    // one).
    if stat && let Ok(m) = entry.metadata() {
        let _ = meta.set(m);
    }
    Some(Walked { rel, raw, abs: entry.into_path(), meta, ..Walked::default() })
}

/// The files directly in each of `dirs` (relative to `root`), as a walk of
/// the whole tree finds them there (the ignore files of the directories
/// above count just the same), sorted by path.
fn walk_dirs(
    root: &Path,
    dirs: &[String],
    own: &Arc<[PathBuf]>,
    excluded_dirs: &Arc<globset::GlobSet>,
    stat: bool,
    hazards: &Hazards,
) -> Vec<Walked> {
    let mut v = Vec::new();
    for d in dirs {
        let dir = in_root(root, d);
        if !hazards.allows_from(&dir, root) {
            continue;
        }
        let mut builder = walker(root, &dir, own, excluded_dirs, None, hazards);
        builder.max_depth(Some(1));
        for entry in builder.build() {
            match entry {
                Ok(e) => v.extend(walked(root, e, stat)),
                Err(e) => hazards.walker_error(&e),
            }
        }
    }
    v.sort_unstable_by(|a, b| a.rel.cmp(&b.rel).then_with(|| a.raw.cmp(&b.raw)));
    v
}

/// How a parallel walk's threads fare. The `ignore` crate starts them in a
/// scope and counts them all as working: one that cannot be started (the
/// limit of processes reached) panics the scope, which then waits for the
/// others, and they wait, idle, for the one that never started, for ever.
/// Each worker's visitor is made before its thread starts and dropped
/// with it, unused, when it cannot: that says a thread is missing; a walk
/// that then visits nothing more for [`WALK_STALLED`] is given up (its
/// thread left to wait; it sleeps a millisecond at a time), and the check
/// fails saying why.
#[derive(Clone, Default)]
struct WalkThreads(Arc<WalkThreadsInner>);

#[derive(Default)]
struct WalkThreadsInner {
    /// Visitors made so far.
    made: std::sync::atomic::AtomicUsize,
    visits: AtomicU64,
    missing: AtomicBool,
    ended: AtomicBool,
}

/// A walker thread's visitor's look-out: whether it visited anything.
struct WalkWorker {
    threads: WalkThreads,
    ran: bool,
}

impl WalkWorker {
    /// Counts a visit; false once a thread is known missing: the walk is
    /// then told to quit, so that its threads end rather than wait for the
    /// missing one (those already idle still do, asleep).
    fn visited(&mut self) -> bool {
        self.ran = true;
        // Counted only once a thread is known missing: a shared counter
        // written by every visit of every thread would cost the walk.
        if self.threads.0.missing.load(Ordering::Relaxed) {
            self.threads.0.visits.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }
}

impl Drop for WalkWorker {
    fn drop(&mut self) {
        // (A worker that found nothing to do is dropped unused too, as the
        // walk ends: the walk's end follows at once.)
        if !self.ran && !self.threads.0.ended.load(Ordering::Relaxed) {
            self.threads.0.missing.store(true, Ordering::Relaxed);
        }
    }
}

/// Why a walk missing a thread was given up.
const WALK_THREAD_MISSING: &str = "a walker thread could not be started";

/// How long a walk missing a thread may visit nothing before it is given up.
const WALK_STALLED: Duration = Duration::from_millis(500);

impl WalkThreads {
    fn worker(&self) -> WalkWorker {
        // The first visitor the walk makes is for errors about its roots,
        // made and dropped before any worker starts (ignore 0.4's
        // `WalkParallel::visit`): no worker's, so never a missing one.
        let first = self.0.made.fetch_add(1, Ordering::Relaxed) == 0;
        WalkWorker { threads: self.clone(), ran: first }
    }

    fn ended(&self) {
        self.0.ended.store(true, Ordering::Relaxed);
    }

    /// Waits for the walk's end; why it failed, if it did.
    fn wait(&self, done: &std::sync::mpsc::Receiver<Result<(), String>>) -> Option<String> {
        let mut seen = (self.0.visits.load(Ordering::Relaxed), Instant::now());
        loop {
            match done.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(())) => return None,
                Ok(Err(panic)) => return Some(panic),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Some("the walk ended".into()),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let visits = self.0.visits.load(Ordering::Relaxed);
                    if visits != seen.0 {
                        seen = (visits, Instant::now());
                    } else if self.0.missing.load(Ordering::Relaxed) && seen.1.elapsed() >= WALK_STALLED {
                        return Some(WALK_THREAD_MISSING.into());
                    }
                }
            }
        }
    }
}

struct Collect {
    files: Vec<Walked>,
    dirs: Vec<String>,
    out: Arc<Mutex<(Vec<Walked>, Vec<String>)>>,
}

impl Drop for Collect {
    fn drop(&mut self) {
        let mut out = self.out.lock().expect("out");
        out.0.append(&mut self.files);
        out.1.append(&mut self.dirs);
    }
}

/// Whether a file's stamp (inode, size, mode, modification or change time)
/// differs from when the walk or the read stage looked at it (or it is
/// gone, or was never looked at).
fn changed_since_walk(w: &Walked) -> bool {
    match (std::fs::symlink_metadata(&w.abs), w.meta()) {
        (Ok(m), Some(seen)) => Stamp::of(&m) != Stamp::of(seen),
        _ => true,
    }
}

/// Whether the walk's `stat` of a file may not show a change made after
/// it: the file's times were within the racy margin of the walk's start.
fn changed_within_racy_margin(w: &Walked, walk_started_ns: i128) -> bool {
    w.meta().is_none_or(|m| Stamp::of(m).racy(walk_started_ns))
}

/// Those of `files` whose content is no longer the one hashed (or can no
/// longer be read, or is over [`RACY_LOOK_MAX`]: such a verdict is simply
/// not cached; the next run, past the racy margin, caches it).
fn content_changed(files: &[usize], walked: &[Walked], hashed: &[Hashed]) -> Vec<usize> {
    files
        .iter()
        .copied()
        .filter(|&fi| {
            use rustix::fs::{Mode, OFlags};
            // Nothing that blocks or follows a link; a regular file only.
            let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
            let same = rustix::fs::open(&walked[fi].abs, flags, Mode::empty()).is_ok_and(|fd| {
                let file = std::fs::File::from(fd);
                file.metadata().is_ok_and(|m| m.is_file() && m.len() <= RACY_LOOK_MAX)
                    && racy_look(file, walked[fi].len()) == hashed[fi].hash
            });
            !same
        })
        .collect()
}

/// The content hash of a racy file, opened already (`size`: what its
/// stamp says), read to one byte past [`RACY_LOOK_MAX`] at most (a file
/// growing meanwhile differs); `None` if it cannot be read.
fn racy_look(file: std::fs::File, size: u64) -> Option<u128> {
    use std::io::Read;
    stream_hash(file.take(RACY_LOOK_MAX + 1), size).ok().map(|(h, _, _)| h)
}

/// Opens a file the walk found, refusing whatever is no longer a regular
/// file: it may have been replaced since the walk, and a FIFO would block
/// the read forever, a device could be endless, a symlink could lead
/// anywhere. Opened through a chunk's [`DirCache`].
fn open_regular_in(dirs: &mut DirCache, path: &Path) -> std::io::Result<(std::fs::File, std::fs::Metadata)> {
    let f = dirs.open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "no longer a regular file"));
    }
    Ok((f, meta))
}

/// Opens the files of a chunk relative to their directory, which it keeps
/// open while consecutive files (in walk order, most of a chunk) share it:
/// the kernel then resolves one path component per file instead of the
/// whole path, which cost about a quarter of every open.
///
/// Files are opened read-only, without blocking (a FIFO put in a file's
/// place must not block the read) and without following a symbolic link in
/// their last component, as opening by path did.
///
/// What a held directory changes, against opening by path:
/// - a file not found through it (its directory was removed, or replaced,
///   say by a `git checkout`) is looked for again through its path, so a
///   file that exists is never reported missing;
/// - a directory renamed while it is held is still read from. That is one
///   of the outcomes of a race the path could also have lost; the stat index
///   compares inodes and the directory watches see the rename, so nothing
///   stale is trusted by later checks;
/// - a check that never returns keeps its chunk's directory handle (an
///   `O_PATH` descriptor, one per stuck thread, at most `MAX_STUCK`).
#[derive(Default)]
pub(super) struct DirCache {
    dir: Option<(Vec<u8>, rustix::fd::OwnedFd)>,
}

impl DirCache {
    fn open(&mut self, path: &Path) -> std::io::Result<std::fs::File> {
        use rustix::fs::{Mode, OFlags};
        use std::ffi::OsStr;
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        // Split at the last separator by its byte (`Path::parent` parses
        // every component, about 1 % of a cold check). The walk's paths never
        // end in one; a path without a directory part is opened as it is.
        let bytes = path.as_os_str().as_bytes();
        let Some(i) = memchr::memrchr(b'/', bytes).filter(|&i| i > 0 && i + 1 < bytes.len()) else {
            return Ok(rustix::fs::open(path, flags, Mode::empty())?.into());
        };
        let (parent, name) = (&bytes[..i], &bytes[i + 1..]);
        if self.dir.as_ref().is_none_or(|(d, _)| d.as_slice() != parent) {
            self.dir = None;
            let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let fd = rustix::fs::open(OsStr::from_bytes(parent), dir_flags, Mode::empty())?;
            self.dir = Some((parent.to_vec(), fd));
        }
        let (_, dir) = self.dir.as_ref().expect("set above");
        match rustix::fs::openat(dir, OsStr::from_bytes(name), flags, Mode::empty()) {
            Ok(fd) => Ok(fd.into()),
            // The held directory may be gone while the path leads to a new
            // one: drop it and ask the path.
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::STALE) => {
                self.dir = None;
                Ok(rustix::fs::open(path, flags, Mode::empty())?.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Reads a file the walk found with size `expected`, appending at most
/// `limit` bytes to `buf`: a file that grows past it while being read is an
/// error, not an endless read.
///
/// The common case costs one `read`: the file is opened without following a
/// symlink and without blocking, and read into room for one byte more than
/// expected. Only when the size differs from the walk's is the file looked
/// at again (it may have been replaced: a FIFO, a device, a directory) and
/// read to its end. (A device node put in place of a regular file of the
/// same size would be read once before that look; only root can make one.)
fn read_regular_into(
    dirs: &mut DirCache,
    path: &Path,
    expected: u64,
    limit: u64,
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    read_open_into(dirs.open(path)?, expected, limit, buf)
}

/// [`read_regular_into`] of a file already opened (without following a
/// symlink, without blocking).
fn read_open_into(f: std::fs::File, expected: u64, limit: u64, buf: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Read;
    let start = buf.len();
    // Read into the buffer's spare capacity, not into room zeroed first
    // (zeroing cost as much as a tenth of the copy itself). That capacity is
    // at least `room` but may be more (at most the thread's buffer, 16 MiB
    // kept between chunks): a file that grew since its `fstat` may be read
    // past `room` by this one read, and is then refused below.
    let room = expected.min(limit) as usize + 1;
    // A file too large for the memory the daemon may take (an address-space
    // limit, `ulimit -v`) is that file's error, not the daemon's abort.
    buf.try_reserve(room).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::OutOfMemory,
            format!("cannot hold its {} bytes in memory (the daemon's limit of memory, or the machine's)", room - 1),
        )
    })?;
    let n = loop {
        match rustix::io::read(&f, rustix::buffer::spare_capacity(buf)) {
            Ok(n) => break n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                buf.truncate(start);
                return Err(e.into());
            }
        }
    };
    if n as u64 == expected {
        return Ok(());
    }
    if !f.metadata()?.is_file() {
        buf.truncate(start);
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "no longer a regular file"));
    }
    // Changed since the walk: read on to the end, within the limit.
    let res = f.take(limit.saturating_add(1).saturating_sub(n as u64)).read_to_end(buf);
    if let Err(e) = res {
        buf.truncate(start);
        return Err(e);
    }
    if (buf.len() - start) as u64 > limit {
        buf.truncate(start);
        return Err(std::io::Error::other(format!("grew past {limit} bytes while being read")));
    }
    Ok(())
}

/// CPU time (user and system) of every thread of this process so far.
fn process_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID).map_or(Duration::ZERO, Duration::from)
}

/// Whether an open file is binary, reading only the bytes
/// `verdict_actors::builtin::is_binary` looks at.
fn sniff_open(f: std::fs::File) -> std::io::Result<bool> {
    use std::io::Read;
    let mut head = Vec::with_capacity(verdict_actors::builtin::BINARY_SNIFF_LEN);
    f.take(verdict_actors::builtin::BINARY_SNIFF_LEN as u64).read_to_end(&mut head)?;
    Ok(verdict_actors::builtin::is_binary(&head))
}

/// xxh3-128 of what `f` reads (a regular file already opened), in pieces
/// of at most 1 MiB, its length, and whether it is binary (a NUL among its first
/// [`BINARY_SNIFF_LEN`](verdict_actors::builtin::BINARY_SNIFF_LEN) bytes, as
/// [`is_binary`](verdict_actors::builtin::is_binary) decides for the files
/// that are read whole); `size_hint`, the size it is expected to have,
/// sizes the buffer.
fn stream_hash(mut f: impl std::io::Read, size_hint: u64) -> std::io::Result<(u128, u64, bool)> {
    let sniff = verdict_actors::builtin::BINARY_SNIFF_LEN as u64;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    // As large as the file (and one byte to see its end in one read), up
    // to 1 MiB: zeroing a 1 MiB buffer for a small file costs more than
    // reading it.
    let mut buf = vec![0u8; usize::try_from(size_hint).unwrap_or(usize::MAX).saturating_add(1).clamp(4096, 1 << 20)];
    let (mut len, mut binary) = (0u64, false);
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok((h.digest128(), len, binary));
        }
        if len < sniff {
            let head = (sniff - len).min(n as u64) as usize;
            binary |= memchr::memchr(0, &buf[..head]).is_some();
        }
        len += n as u64;
        h.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::select::{select, select_with};
    use super::*;
    use crate::config::FilterSet;

    /// With the `ignore` crate's own walk, every thread started: nothing
    /// says a thread is missing while it runs (the first visitor it makes,
    /// for its roots' errors, is dropped unused before any worker starts).
    #[test]
    fn a_real_parallel_walk_is_missing_no_thread_while_it_runs() {
        let t = tempfile::tempdir().unwrap();
        for d in 0..20 {
            std::fs::create_dir_all(t.path().join(format!("d{d}"))).unwrap();
            std::fs::write(t.path().join(format!("d{d}/f")), "x").unwrap();
        }
        let threads = WalkThreads::default();
        let missing_seen = AtomicBool::new(false);
        ignore::WalkBuilder::new(t.path()).threads(2).build_parallel().run(|| {
            let mut worker = threads.worker();
            let (threads, missing_seen) = (&threads, &missing_seen);
            Box::new(move |_| {
                worker.visited();
                missing_seen.fetch_or(threads.0.missing.load(Ordering::Relaxed), Ordering::Relaxed);
                ignore::WalkState::Continue
            })
        });
        assert!(!missing_seen.load(Ordering::Relaxed), "a thread was taken for missing during the walk");
        assert_eq!(threads.0.made.load(Ordering::Relaxed), 3, "the roots' visitor and one per thread");
    }

    /// A stand-in for the `ignore` crate's walk with a thread that could not
    /// be started (the limit of processes cannot be reached as root, which
    /// the tests run as): its visitor is dropped unused, and the others go
    /// idle for ever. The wait gives it up once nothing is visited for
    /// `WALK_STALLED`; a walk that keeps visiting, or ends, is waited for.
    #[test]
    fn a_walk_missing_a_thread_is_given_up_once_it_stalls() {
        let threads = WalkThreads::default();
        let (tx, done) = std::sync::mpsc::channel::<Result<(), String>>();
        // The roots' visitor, made and dropped first, unused: no worker's.
        drop(threads.worker());
        assert!(!threads.0.missing.load(Ordering::Relaxed));
        let mut working = threads.worker();
        drop(threads.worker());
        // Visiting for a while, then stalled.
        let visiting = {
            let stop = std::time::Instant::now() + Duration::from_millis(700);
            std::thread::spawn(move || {
                while std::time::Instant::now() < stop {
                    working.visited();
                    std::thread::sleep(Duration::from_millis(5));
                }
                working
            })
        };
        let started = std::time::Instant::now();
        let why = threads.wait(&done);
        assert_eq!(why.as_deref(), Some("a walker thread could not be started"));
        assert!(started.elapsed() >= Duration::from_millis(700) + WALK_STALLED, "{:?}", started.elapsed());
        drop(visiting.join().unwrap());
        drop(tx);
        // A walk whose every thread ran, and ended: no missing thread.
        let threads = WalkThreads::default();
        let (tx, done) = std::sync::mpsc::channel::<Result<(), String>>();
        drop(threads.worker());
        let mut w = threads.worker();
        w.visited();
        drop(w);
        threads.ended();
        drop(threads.worker());
        tx.send(Ok(())).unwrap();
        assert_eq!(threads.wait(&done), None);
        assert!(!threads.0.missing.load(Ordering::Relaxed));
    }

    /// A remembered file whose stamp was racy is compared by content, until
    /// a look that began past the racy margin after its times found it
    /// unchanged; from then on by its stamp alone.
    #[test]
    fn a_racy_file_is_compared_by_content_until_a_late_enough_look_settles_it() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("a.txt"), "x\n").unwrap();
        let stamp = Stamp::of(&std::fs::symlink_metadata(t.path().join("a.txt")).unwrap());
        let file = |hash: u128| MemoFile {
            rel: "a.txt".into(),
            raw: None,
            binary: false,
            set: 0,
            records: 0..0,
            stamp: Some(stamp),
            hash: Some(hash),
            settled: AtomicBool::new(false),
        };
        let right = verdict_storage::content_hash(b"x\n");
        // Looked at now: within the margin, so not settled.
        let f = file(right);
        assert!(files_hold(t.path(), &[&f], verdict_storage::unix_now_ns));
        assert!(!f.settled.load(Ordering::Relaxed));
        // Content that differs under the same stamp (as a change within the
        // tick leaves it): not the same.
        assert!(!files_hold(t.path(), &[&file(right ^ 1)], verdict_storage::unix_now_ns));
        // A look past the margin settles it; the stamp alone is compared
        // from then on (a wrong hash no longer matters).
        fn later() -> i128 {
            verdict_storage::unix_now_ns() + 2 * verdict_storage::RACY_MARGIN_NS
        }
        assert!(files_hold(t.path(), &[&f], later));
        assert!(f.settled.load(Ordering::Relaxed));
        let settled = file(right ^ 1);
        settled.settled.store(true, Ordering::Relaxed);
        assert!(files_hold(t.path(), &[&settled], verdict_storage::unix_now_ns));
        // A stamp that moved fails, settled or not.
        std::fs::write(t.path().join("a.txt"), "longer\n").unwrap();
        assert!(!files_hold(t.path(), &[&f], later));
    }

    /// Makes the files `names` (each holding a line) below `root`, and
    /// walks it.
    fn walked_files(root: &Path, names: &[&str]) -> Vec<Walked> {
        for name in names {
            std::fs::create_dir_all(root.join(name).parent().unwrap()).unwrap();
            std::fs::write(root.join(name), "x\n").unwrap();
        }
        walked(root)
    }

    fn filter(files: &[&str], exclude: &[&str]) -> Arc<FileFilter> {
        let s = |v: &[&str]| v.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        Arc::new(FileFilter::new(&s(files), &s(exclude)).unwrap())
    }

    fn walked(root: &Path) -> Vec<Walked> {
        walked_with(root, true)
    }

    fn walked_with(root: &Path, stat: bool) -> Vec<Walked> {
        walk(
            root,
            &[root.to_path_buf()],
            &Arc::from([]),
            &Arc::new(globset::GlobSet::empty()),
            None,
            stat,
            &Hazards::default(),
        )
        .0
    }

    /// Both ways of walking: with each file's metadata, and without (the
    /// read stage then takes it from the opened file).
    const STAT: [bool; 2] = [true, false];

    #[test]
    fn a_file_that_vanishes_or_turns_into_a_directory_after_the_walk_is_an_error_outcome() {
        for stat in STAT {
            vanishes_or_turns_into_a_directory(stat);
        }
    }

    fn vanishes_or_turns_into_a_directory(stat: bool) {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        for name in ["gone.txt", "dir.txt", "kept.txt"] {
            std::fs::write(root.join(name), "x\n").unwrap();
        }
        let w = walked_with(&root, stat);
        assert_eq!(w.iter().all(|w| w.meta().is_some()), stat);
        assert_eq!(w.iter().map(|f| f.rel.as_str()).collect::<Vec<_>>(), ["dir.txt", "gone.txt", "kept.txt"]);
        std::fs::remove_file(root.join("gone.txt")).unwrap();
        std::fs::remove_file(root.join("dir.txt")).unwrap();
        std::fs::create_dir(root.join("dir.txt")).unwrap();
        let mut buf = b"earlier file".to_vec();
        let mut dirs = DirCache::default();
        let read: Vec<_> = w.iter().map(|w| read_stage::read_one(w, None, u64::MAX, &mut dirs, &mut buf)).collect();
        let err = |i: usize| read[i].error.clone().unwrap_or_default();
        assert!(err(0).contains("cannot read dir.txt"), "{}", err(0));
        assert!(err(1).contains("cannot read gone.txt"), "{}", err(1));
        assert!(read[2].error.is_none() && read[2].hash == Some(verdict_storage::content_hash(b"x\n")));
        let bytes = read[2].bytes.clone().expect("read");
        assert_eq!(&buf[bytes], b"x\n", "built-ins get the bytes read once");
        assert_eq!(buf.len(), b"earlier file".len() + 2, "failed reads leave nothing behind in the buffer");
        assert_eq!(w[2].len(), 2, "the read stage took the metadata the walk did not");
        let fresh = read[2].fresh.expect("a stat-index entry for the file read");
        assert!(fresh.matches(&std::fs::symlink_metadata(root.join("kept.txt")).unwrap()));
    }

    #[test]
    fn a_dir_cache_opens_each_file_in_its_own_directory_and_follows_no_last_symlink() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        for dir in ["a", "b", "b/c"] {
            std::fs::create_dir(root.join(dir)).unwrap();
            std::fs::write(root.join(dir).join("same.txt"), format!("{dir}\n")).unwrap();
        }
        std::os::unix::fs::symlink(root.join("a/same.txt"), root.join("b/link.txt")).unwrap();
        let read = |dirs: &mut DirCache, rel: &str| {
            use std::io::Read;
            let mut s = String::new();
            dirs.open(&root.join(rel)).and_then(|mut f| f.read_to_string(&mut s)).map(|_| s)
        };
        let mut dirs = DirCache::default();
        // Back and forth between directories, and into a subdirectory.
        for (rel, want) in
            [("a/same.txt", "a\n"), ("b/same.txt", "b\n"), ("b/c/same.txt", "b/c\n"), ("a/same.txt", "a\n")]
        {
            assert_eq!(read(&mut dirs, rel).unwrap(), want, "{rel}");
        }
        assert_eq!(read(&mut dirs, "b/same.txt").unwrap(), "b\n");
        let err = read(&mut dirs, "b/link.txt").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::ELOOP), "a symlink is not followed: {err}");
        // The directory it holds is renamed and another takes its name: the
        // held one is read from (what opening by path could not do), which
        // shows that it is held.
        std::fs::rename(root.join("b"), root.join("b.old")).unwrap();
        std::fs::create_dir(root.join("b")).unwrap();
        std::fs::write(root.join("b/same.txt"), "new b\n").unwrap();
        std::fs::write(root.join("b/only-new.txt"), "only new\n").unwrap();
        assert_eq!(read(&mut dirs, "b/same.txt").unwrap(), "b\n");
        // A file only the new directory has is found through its path.
        assert_eq!(read(&mut dirs, "b/only-new.txt").unwrap(), "only new\n");
        // The directory it holds is removed and made again (a `git
        // checkout`): its files are found through their paths, not reported
        // missing.
        assert_eq!(read(&mut dirs, "a/same.txt").unwrap(), "a\n");
        std::fs::remove_dir_all(root.join("a")).unwrap();
        std::fs::create_dir(root.join("a")).unwrap();
        std::fs::write(root.join("a/same.txt"), "a again\n").unwrap();
        assert_eq!(read(&mut dirs, "a/same.txt").unwrap(), "a again\n");
        // Gone for good: not found.
        std::fs::remove_dir_all(root.join("a")).unwrap();
        let err = read(&mut dirs, "a/same.txt").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
        assert_eq!(read(&mut dirs, "b.old/c/same.txt").unwrap(), "b/c\n");
    }

    #[test]
    fn a_file_replaced_by_a_fifo_or_a_device_link_after_the_walk_is_an_error_not_a_hang() {
        for stat in STAT {
            replaced_by_a_fifo_or_a_device_link(stat);
        }
    }

    fn replaced_by_a_fifo_or_a_device_link(stat: bool) {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        for name in ["fifo.txt", "dev.txt", "big.txt", "grown.txt", "shrunk.txt"] {
            std::fs::write(root.join(name), "x\n").unwrap();
        }
        std::fs::write(root.join("shrunk.txt"), "a longer line\n").unwrap();
        let w = walked_with(&root, stat);
        std::fs::write(root.join("grown.txt"), "1234567\n").unwrap();
        std::fs::write(root.join("shrunk.txt"), "short\n").unwrap();
        std::fs::remove_file(root.join("fifo.txt")).unwrap();
        nix::unistd::mkfifo(&root.join("fifo.txt"), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        std::fs::remove_file(root.join("dev.txt")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("dev.txt")).unwrap();
        std::fs::write(root.join("big.txt"), "grown well past the limit\n").unwrap();
        // On a thread, so that a hang fails the test instead of stalling it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut buf, mut dirs) = (Vec::new(), DirCache::default());
            let _ =
                tx.send(w.iter().map(|w| read_stage::read_one(w, None, 10, &mut dirs, &mut buf)).collect::<Vec<_>>());
        });
        let read = rx.recv_timeout(Duration::from_secs(20)).expect("reading a replaced file hung");
        let err = |i: usize| read[i].error.clone().unwrap_or_default();
        // The walk sorts: big.txt, dev.txt, fifo.txt, grown.txt, shrunk.txt.
        if stat {
            assert!(err(0).contains("cannot read big.txt") && err(0).contains("grew past"), "{}", err(0));
        } else {
            // Its size is first seen over the limit: hashed, not kept.
            assert_eq!(read[0].hash, Some(verdict_storage::content_hash(b"grown well past the limit\n")));
            assert!(read[0].bytes.is_none() && read[0].error.is_none(), "{:?}", read[0]);
        }
        // Regular files that changed size since the walk are read whole.
        assert_eq!(read[3].hash, Some(verdict_storage::content_hash(b"1234567\n")), "{:?}", read[3]);
        assert_eq!(read[4].hash, Some(verdict_storage::content_hash(b"short\n")), "{:?}", read[4]);
        assert_eq!((read[3].size, read[4].size), (8, 6), "the size of what was read, not the walk's");
        assert!(err(1).contains("cannot read dev.txt"), "{}", err(1));
        assert!(err(2).contains("cannot read fifo.txt") && err(2).contains("regular file"), "{}", err(2));
    }

    #[test]
    fn a_claim_whose_outcome_is_in_is_waited_for_again_only_for_a_verdict() {
        // An orphan of an error or a skip finds the same claim still live
        // while its run writes the cache: it must compute the pair, not
        // wait again (and be an orphan again, round and round).
        assert!(worth_waiting_for(&Shared::Queued));
        assert!(worth_waiting_for(&Shared::Began(tokio::time::Instant::now())));
        assert!(worth_waiting_for(&Shared::Done(Outcome::Passed)));
        assert!(!worth_waiting_for(&Shared::Done(Outcome::error("the tool failed"))));
        assert!(!worth_waiting_for(&Shared::Done(Outcome::skipped("not run"))));
        assert!(!worth_waiting_for(&Shared::Done(Outcome::TimedOut { after_ms: 1 })));
    }

    #[test]
    fn a_claim_is_withdrawn_when_dropped_and_never_withdraws_another() {
        let pending: Arc<Pending> = Arc::default();
        let limit = Arc::new(tokio::sync::Semaphore::new(1));
        let key = ([7; 16], 42u128, Arc::as_ptr(&limit) as usize, 0);
        let first = Claim::take(&pending, &mut pending.lock().unwrap(), 0, key, &limit).expect("free");
        assert!(Claim::take(&pending, &mut pending.lock().unwrap(), 1, key, &limit).is_none(), "a live claim is kept");
        let mut waiter = pending.lock().unwrap().get(&key).cloned().unwrap();
        first.publish(Outcome::Passed);
        drop(first);
        assert!(pending.lock().unwrap().is_empty(), "published and withdrawn");
        assert!(
            matches!(waiter.borrow_and_update().clone(), Shared::Done(Outcome::Passed)),
            "the waiter still gets it"
        );

        // A claim dropped unpublished (its job aborted) is withdrawn too, and
        // a stale entry left by anything else is replaced, not waited on.
        let aborted = Claim::take(&pending, &mut pending.lock().unwrap(), 0, key, &limit).unwrap();
        drop(aborted);
        assert!(pending.lock().unwrap().is_empty());
        let (dead_tx, dead_rx) = watch::channel(Shared::Queued);
        drop(dead_tx);
        pending.lock().unwrap().insert(key, dead_rx);
        let fresh =
            Claim::take(&pending, &mut pending.lock().unwrap(), 0, key, &limit).expect("a dead entry is replaced");
        // An older claim of the same key going away leaves the new one alone.
        let (old_tx, _) = watch::channel(Shared::Queued);
        drop(Claim { fi: 9, key, tx: old_tx, pending: pending.clone(), _limit: limit.clone() });
        assert!(pending.lock().unwrap().contains_key(&key), "not ours to withdraw");
        drop(fresh);
        assert!(pending.lock().unwrap().is_empty());
    }

    #[test]
    fn a_file_entry_is_complete_only_with_every_verdict_and_never_outlives_one() {
        let set = Arc::new(FileSet {
            members: vec![3, 5],
            id: [1; 16],
            ttl: 3600,
            mode_dependent: false,
            path_dependent: false,
            inline_part: None,
        });
        let key = ResultKey { validator: [1; 16], content: [2; 16] };
        let pass = StoredVerdict(Vec::new());
        let mut c = EntryCollector::new();
        c.expect(0, set.clone(), key, None);
        c.expect(1, set.clone(), key, None);
        c.expect(2, set, key, None);
        // File 0: one verdict from a per-pair result that expires in 100 s.
        c.offer_cached(0, 3, pass.clone(), now_secs() + 100);
        assert!(c.take_ready(true).is_empty(), "one member still missing");
        c.offer(0, 5, Some(pass.clone()));
        // File 1: computed fresh. File 2: a member without a verdict.
        c.offer(1, 5, Some(pass.clone()));
        c.offer(1, 3, Some(pass.clone()));
        c.offer(2, 3, Some(pass.clone()));
        c.offer(2, 5, None);
        let ready = c.take_ready(true);
        assert_eq!(ready.len(), 2, "file 2 gets no entry");
        assert!((99..=100).contains(&ready[0].2), "file 0's entry expires with its oldest verdict: {}", ready[0].2);
        assert_eq!(ready[1].2, 3600);
    }

    #[test]
    fn a_file_whose_tool_has_no_verdict_to_cache_gets_an_entry_of_its_built_ins() {
        // Members 3 and 5 are built-ins, 8 a tool.
        let part = Arc::new(FileSet {
            members: vec![5, 3],
            id: [7; 16],
            ttl: 60,
            mode_dependent: false,
            path_dependent: false,
            inline_part: None,
        });
        let set = Arc::new(FileSet {
            members: vec![3, 8, 5],
            id: [1; 16],
            ttl: 60,
            mode_dependent: false,
            path_dependent: true,
            inline_part: Some(part),
        });
        let (key, inline_key) =
            (ResultKey { validator: [1; 16], content: [2; 16] }, ResultKey { validator: [7; 16], content: [2; 16] });
        let verdict = |n: u32| {
            StoredVerdict(vec![verdict_actors::outcome::StoredFinding {
                line: Some(n),
                column: None,
                severity: verdict_actors::outcome::Severity::Error,
                rule: None,
                message: n.to_string(),
            }])
        };
        let mut c = EntryCollector::new();
        // File 0: the tool fails after the built-ins answered. File 1: the
        // same, but the built-ins' verdicts came from their entry. File 2:
        // a built-in has none to cache either.
        for (fi, inline) in [(0, Some(inline_key)), (1, None), (2, Some(inline_key))] {
            c.expect(fi, set.clone(), key, inline);
            c.offer(fi, 3, Some(verdict(3)));
        }
        c.offer(0, 5, Some(verdict(5)));
        c.offer(1, 5, Some(verdict(5)));
        c.offer(2, 5, None);
        for fi in 0..3 {
            c.offer(fi, 8, None);
        }
        let ready = c.take_ready(true);
        assert_eq!(ready, vec![(inline_key, vec![verdict(5), verdict(3)], 60)], "the part's entry, in its order");
        // At commit, as the collector would build it; not without every
        // built-in's verdict.
        let offers = vec![(8, None, None), (3, Some(verdict(3)), None), (5, Some(verdict(5)), None)];
        assert_eq!(EntryCollector::inline_only(&set, inline_key, &offers), ready.into_iter().next());
        assert_eq!(EntryCollector::inline_only(&set, inline_key, &offers[..2]), None);
    }

    #[test]
    fn an_entry_complete_at_commit_is_the_one_the_collector_would_build() {
        let set = Arc::new(FileSet {
            members: vec![5, 3, 8],
            id: [1; 16],
            ttl: 3600,
            mode_dependent: false,
            path_dependent: false,
            inline_part: None,
        });
        let key = ResultKey { validator: [1; 16], content: [2; 16] };
        let verdict = |rule: &str| {
            StoredVerdict(vec![verdict_actors::outcome::StoredFinding {
                line: Some(1),
                column: None,
                severity: verdict_actors::outcome::Severity::Error,
                rule: Some(rule.into()),
                message: rule.into(),
            }])
        };
        // Offered in the file's pair order, not the set's; one verdict from
        // a per-pair result that expires in 100 s.
        let offers = vec![
            (3, Some(verdict("three")), None),
            (8, Some(verdict("eight")), Some(now_secs() + 100)),
            (5, Some(verdict("five")), None),
        ];
        let mut c = EntryCollector::new();
        c.expect(0, set.clone(), key, None);
        for (vi, v, at) in offers.clone() {
            match at {
                Some(at) => c.offer_cached(0, vi, v.unwrap(), at),
                None => c.offer(0, vi, v),
            }
        }
        let collected = c.take_ready(true).pop().expect("complete");
        let complete = EntryCollector::complete(&set, key, &mut offers.clone());
        assert_eq!((complete.0, &complete.1), (collected.0, &collected.1));
        assert_eq!(complete.1, vec![verdict("five"), verdict("three"), verdict("eight")], "in the set's order");
        assert!((99..=100).contains(&complete.2), "expires with its oldest verdict: {}", complete.2);
        assert!(collected.2.abs_diff(complete.2) <= 1);
    }

    #[test]
    fn a_file_changed_after_the_walk_is_noticed() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::write(root.join("a"), "one\n").unwrap();
        let w = walked(&root);
        assert!(!changed_since_walk(&w[0]));
        std::fs::write(root.join("a"), "two, longer\n").unwrap();
        assert!(changed_since_walk(&w[0]));
        std::fs::remove_file(root.join("a")).unwrap();
        assert!(changed_since_walk(&w[0]));
    }

    /// A command tool's verdict is cached under the hash the read stage
    /// took; a change within the clock tick of the walk's `stat` leaves the
    /// stamp unchanged, so a file racy then is hashed again after the run.
    #[test]
    fn a_racy_file_is_hashed_again_before_a_tools_verdict_is_cached() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::write(root.join("a"), "one\n").unwrap();
        let w = walked(&root);
        let now = verdict_storage::unix_now_ns();
        assert!(changed_within_racy_margin(&w[0], now), "just written");
        assert!(!changed_within_racy_margin(&w[0], now + 3_000_000_000), "a walk begun past the margin");
        let hashed = [Hashed { hash: Some(xxhash_rust::xxh3::xxh3_128(b"one\n")), binary: false, mixed: false }];
        assert!(content_changed(&[0], &w, &hashed).is_empty());
        // Same size: a change in the same tick would keep the stamp.
        std::fs::write(root.join("a"), "two\n").unwrap();
        assert_eq!(content_changed(&[0], &w, &hashed), vec![0]);
        // Back to the hashed content, through a symbolic link: not followed.
        std::fs::write(root.join("b"), "one\n").unwrap();
        std::fs::remove_file(root.join("a")).unwrap();
        std::os::unix::fs::symlink(root.join("b"), root.join("a")).unwrap();
        assert_eq!(content_changed(&[0], &w, &hashed), vec![0]);
        std::fs::remove_file(root.join("a")).unwrap();
        std::fs::write(root.join("a"), "one\n").unwrap();
        assert!(content_changed(&[0], &w, &hashed).is_empty());
    }

    #[test]
    fn files_over_the_size_limit_are_hashed_as_a_stream_but_not_kept() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| i as u8).collect();
        std::fs::write(root.join("big"), &big).unwrap();
        for stat in STAT {
            let w = walked_with(&root, stat);
            let mut buf = Vec::new();
            let read = read_stage::read_one(&w[0], None, 99, &mut DirCache::default(), &mut buf);
            assert!(read.error.is_none());
            assert_eq!(read.hash, Some(verdict_storage::content_hash(&big)));
            assert_eq!((read.size, w[0].len()), (3_000_000, 3_000_000));
            assert!(read.bytes.is_none() && buf.is_empty(), "the bytes are not held for the built-ins");
            assert!(read.binary && read.fresh.unwrap().binary, "a NUL in its first bytes: binary, as if read whole");
        }
        // Text, and a NUL past the bytes `is_binary` looks at: not binary.
        let mut late = vec![b'x'; 9000];
        late[8500] = 0;
        for (name, content) in [("text", vec![b'x'; 3000]), ("late-nul", late)] {
            std::fs::remove_dir_all(&root).unwrap();
            std::fs::create_dir(&root).unwrap();
            std::fs::write(root.join(name), &content).unwrap();
            let w = walked(&root);
            let read = read_stage::read_one(&w[0], None, 99, &mut DirCache::default(), &mut Vec::new());
            assert_eq!(read.hash, Some(verdict_storage::content_hash(&content)), "{name}");
            assert!(!read.binary && !read.fresh.unwrap().binary, "{name}");
        }
    }

    #[test]
    fn a_stat_entry_taken_from_the_opened_file_spares_the_next_walks_read() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::write(root.join("a.txt"), "settled\n").unwrap();
        // Cold: the walk does not stat; the read stage takes the metadata.
        let cold = walked_with(&root, false);
        let mut buf = Vec::new();
        let first = read_stage::read_one(&cold[0], None, u64::MAX, &mut DirCache::default(), &mut buf);
        let mut entry = first.fresh.expect("an entry for the stat index");
        // Warm: the walk stats, and the entry matches what it sees.
        let warm = walked_with(&root, true);
        assert!(entry.matches(warm[0].meta().unwrap()), "{entry:?}");
        // Recorded long after the file was written (a file written just now
        // is racy, whatever its entry says): nothing is read.
        entry.recorded_at_ns += 10_000_000_000;
        buf.clear();
        let second = read_stage::read_one(&warm[0], Some(entry), u64::MAX, &mut DirCache::default(), &mut buf);
        assert_eq!(second.hash, first.hash);
        assert!(second.bytes.is_none() && buf.is_empty(), "read again: {second:?}");
    }

    #[test]
    fn a_report_sent_from_borrowed_parts_is_the_report() {
        let outcomes = vec![
            Record {
                file: "a \"b\".rs".into(),
                file_bytes: None,
                validator: "secrets".into(),
                dimension: "security".into(),
                outcome: Outcome::Findings {
                    findings: vec![verdict_actors::Finding {
                        line: Some(3),
                        column: None,
                        severity: verdict_actors::Severity::Warning,
                        rule: Some("aws".into()),
                        message: "AWS key".into(),
                    }],
                },
            },
            Record {
                file: "c\u{fffd}.rs".into(),
                file_bytes: Some(b"c\xff.rs".to_vec()),
                validator: "utf8".into(),
                dimension: "encoding".into(),
                outcome: Outcome::TimedOut { after_ms: 5 },
            },
        ];
        let mut summary = Summary { files: 2, pairs: 4, findings: 1, files_read: 2, ..Summary::default() };
        summary.outcomes.insert("findings".into(), 1);
        let validators = vec![("secrets".to_string(), "security".to_string()), ("utf8".into(), "encoding".into())];
        let report = CheckReport {
            summary: summary.clone(),
            outcomes: outcomes.clone(),
            validators: validators.clone(),
            streamed_outcomes: None,
        };
        let expected = serde_json::to_string(&report).unwrap();
        let listed = outcomes.iter().map(|r| RecordView {
            file: &r.file,
            file_bytes: r.file_bytes.as_deref(),
            validator: &r.validator,
            dimension: &r.dimension,
            outcome: &r.outcome,
        });
        let view = ReportView {
            summary: &summary,
            outcomes: Listed(listed),
            validators: &validators,
            streamed_outcomes: None,
        };
        assert_eq!(serde_json::value::to_raw_value(&view).unwrap().get(), expected);
        let remembered = ReportView {
            summary: &summary,
            outcomes: &report.outcomes,
            validators: &validators,
            streamed_outcomes: None,
        };
        assert_eq!(serde_json::to_string(&remembered).unwrap(), expected);
    }

    #[test]
    fn directory_patterns_are_answered_per_directory_as_per_file() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let names = [
            "a.js",
            "a.min.js",
            "lib/b.rs",
            "lib/gen/c.rs",
            "lib/gen/d.min.js/e.txt",
            "src/lib/f.rs",
            "src/x.min.js/g.js",
            "src/y.rs",
            "vendor/h.js",
            "z/{{cookiecutter.name}}/i.json",
        ];
        let w = walked_files(&root, &names);
        let f = filter;
        let filters = [
            f(&["*"], &["*.min.js", "gen/", "vendor"]),
            f(&["lib/", "*.json"], &[]),
            f(&["*.rs", "/src/"], &["lib"]),
            f(&["*"], &["*\\{\\{*\\}\\}*/"]),
            f(&["*"], &[]),
        ];
        let got = select(&w, &globset::GlobSet::empty(), &filters);
        let one_by_one: Vec<Vec<usize>> =
            w.iter().map(|w| (0..filters.len()).filter(|&i| filters[i].is_match(&w.rel)).collect()).collect();
        assert_eq!(got, one_by_one);
        // The filters compiled together select the same.
        assert_eq!(select_with(&w, &globset::GlobSet::empty(), &FilterSet::new(&filters)), got);
        let of = |name: &str| got[w.iter().position(|w| w.rel == name).unwrap()].clone();
        assert_eq!(of("a.min.js"), [3, 4]);
        assert_eq!(of("lib/gen/c.rs"), [1, 3, 4], "excluded below gen/, included below lib/, lib excluded");
        assert_eq!(of("lib/gen/d.min.js/e.txt"), [1, 3, 4]);
        assert_eq!(of("src/x.min.js/g.js"), [2, 3, 4], "below a directory `*.min.js` matches");
        assert_eq!(of("src/lib/f.rs"), [0, 1, 3, 4], "`lib/` at any depth; `lib` excluded at any depth");
        assert_eq!(of("z/{{cookiecutter.name}}/i.json"), [0, 1, 4]);
    }

    #[test]
    fn validators_with_the_same_patterns_are_matched_once_and_select_alike() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let w = walked_files(&root, &["a.rs", "b.json", "vendor/c.rs", ".env"]);
        let f = filter;
        let filters =
            [f(&["*"], &[]), f(&["*.rs"], &["vendor"]), f(&["*"], &[]), f(&["*.json"], &[]), f(&["*.rs"], &["vendor"])];
        let exclude = globset::GlobSet::empty();
        let got = select(&w, &exclude, &filters);
        // The walk sorts: .env, a.rs, b.json, vendor/c.rs.
        assert_eq!(got, [vec![0, 2], vec![0, 1, 2, 4], vec![0, 2, 3], vec![0, 2]]);
        assert_eq!(select_with(&w, &exclude, &FilterSet::new(&filters)), got, "compiled together");
        let one_by_one: Vec<Vec<usize>> =
            w.iter().map(|w| (0..filters.len()).filter(|&i| filters[i].is_match(&w.rel)).collect()).collect();
        assert_eq!(got, one_by_one);
    }

    /// The project's scopes narrow the globs' selection, each searched once
    /// a file for every filter sharing it, as one filter alone would.
    #[test]
    fn project_scopes_narrow_the_selection_as_each_filter_alone_does() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let w = walked_files(&root, &["a.rs", "tests/fixtures/b.rs", "vendor/c.json", "d.toml"]);
        let pc = crate::pre_commit::PreCommit::parse(
            "exclude: ^vendor/\nrepos:\n- repo: builtin\n  hooks:\n  - id: end-of-file-fixer\n    exclude: ^tests/fixtures/\n",
            ".pre-commit-config.yaml",
        );
        let gitleaks = Arc::new(crate::gitleaks::Allowlist::parse("[allowlist]\npaths = ['''fixtures/''']\n"));
        use crate::scope::ProjectScope;
        use verdict_actors::builtin::BuiltinKind;
        let narrowed =
            |f: Arc<FileFilter>, kind| Arc::new((*f).clone().narrowed(ProjectScope::of(pc.scope_for(kind), None)));
        let allowed = |f: Arc<FileFilter>| {
            Arc::new(
                (*f).clone().narrowed(ProjectScope::of(pc.scope_for(BuiltinKind::Secrets), Some(gitleaks.clone()))),
            )
        };
        let filters = [
            narrowed(filter(&["*"], &[]), BuiltinKind::FinalNewline),
            narrowed(filter(&["*"], &["*.toml"]), BuiltinKind::FinalNewline),
            narrowed(filter(&["*"], &[]), BuiltinKind::Utf8),
            narrowed(filter(&["*.json"], &[]), BuiltinKind::Json),
            narrowed(filter(&["*"], &[]), BuiltinKind::Secrets),
            filter(&["*"], &[]),
            allowed(filter(&["*"], &[])),
        ];
        assert!(filters[4].scope().is_none(), "detect-private-key is not run");
        let got = select(&w, &globset::GlobSet::empty(), &filters);
        let one_by_one: Vec<Vec<usize>> =
            w.iter().map(|w| (0..filters.len()).filter(|&i| filters[i].is_match(&w.rel)).collect()).collect();
        assert_eq!(got, one_by_one);
        // The walk sorts: a.rs, d.toml, tests/fixtures/b.rs, vendor/c.json.
        assert_eq!(got, [vec![0, 1, 2, 4, 5, 6], vec![0, 2, 4, 5, 6], vec![2, 4, 5], vec![4, 5, 6]]);
        assert_eq!(select_with(&w, &globset::GlobSet::empty(), &FilterSet::new(&filters)), got, "compiled together");
    }

    #[test]
    fn the_walk_honours_gitignore_and_skips_dot_git() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join(".git/config"), "x").unwrap();
        std::fs::write(root.join(".gitignore"), "*.log\n").unwrap();
        std::fs::write(root.join("a.log"), "x").unwrap();
        std::fs::write(root.join(".hidden"), "x").unwrap();
        let names: Vec<String> = walked(&root).into_iter().map(|f| f.rel).collect();
        assert_eq!(names, [".gitignore", ".hidden"]);
    }
}
