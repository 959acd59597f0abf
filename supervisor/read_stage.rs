//! The read stage of a check run.
//!
//! Every file with a selected validator is read once (or known from the stat
//! index), hashed and looked up in the cache. On a miss its built-ins run
//! right there, on the bytes just read, one after the other while they are
//! still in the CPU's cache; command validators' work is handed back to the
//! run, which sends it to their children as jobs.
//!
//! Files go in chunks (at most [`CHUNK_FILES`] files or [`CHUNK_BYTES`]
//! bytes) to tokio's blocking pool, two chunks per core at a time (for all
//! runs together: [`SHARED_LANES`]), more
//! once reads are seen waiting for the disk ([`Lanes`]). Each
//! thread reads into one buffer it keeps, so a cold run of a large tree
//! neither holds the tree in memory nor pays for fresh pages per file.
//! When the walk did not stat the files, their sizes are learnt as they are
//! read: a chunk that has read [`CHUNK_BYTES`] hands the files it has not
//! begun to new chunks of as many files as it read, which the other cores
//! take.
//!
//! # Supervision of the built-ins
//!
//! A built-in runs only while its child is not quarantined or removed. A
//! check that panics gives its pair an error outcome and is reported to the
//! child, which fails, so the restart policy applies (backoff, quarantine).
//! Each chunk is watched. A check running longer than [`SLOW`] is detached:
//! the chunk goes on without it on a fresh thread, and the pair is answered
//! on its own, by the check's verdict if it returns by its deadline, else
//! `timed out`; then the supervisor is told (it restarts the child; this
//! counts toward its intensity) and the validator's later pairs in this run
//! are skipped. Detaching lets the deadlines of several stuck checks run side
//! by side: a run whose built-ins all hang ends within the longest timeout
//! plus [`SLOW`] per built-in. A validator gets at most one detached check
//! per run; a second slow one is waited for in place, up to its deadline.
//! A stuck thread is abandoned: a thread cannot be killed, but when its
//! check returns it stops without committing or checking anything more.
//!
//! # Commits
//!
//! A file's outcomes reach the run all at once, when all its built-ins are
//! done (its commit), under the chunk's lock. A chunk given up by the
//! watchdog commits nothing more, so every pair gets exactly one outcome:
//! the files after the last commit are done again by the continuation,
//! except the pairs an earlier run of the chunk left (a detached pair is
//! answered by its waiter, a timed-out one is answered `timed out`),
//! whatever the file looks like when it is read again.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::atomic::AtomicBool;

use super::*;
use verdict_actors::builtin::BuiltinInput;

/// Most files in one chunk.
const CHUNK_FILES: usize = 256;
/// Most bytes of the files in one chunk (a larger file is a chunk of its own).
const CHUNK_BYTES: u64 = 8 << 20;
/// A chunk is processed in batches of at most this many bytes (or one
/// larger file), so that a file's bytes are still in the core's cache when
/// its last check runs.
const BATCH_BYTES: u64 = 256 << 10;
/// A thread keeps its read buffer between chunks up to this capacity.
const KEEP_BUFFER: usize = 16 << 20;
/// The longest a chunk's watchdog sleeps. It sleeps no longer than the
/// shortest time a built-in may run before it is detached either, so that
/// its first look at a check comes before that, and the next lands on it.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// A check running this long (or a quarter of its timeout, if shorter) is
/// detached from its chunk, which goes on without it: the deadlines of
/// several stuck checks then run side by side instead of one after another.
const SLOW: Duration = Duration::from_millis(250);
/// Chunks run at a time per core while reads come from memory: the checks
/// keep both busy.
const LANES_PER_CORE: usize = 2;
/// Chunks run at a time once reads wait for the disk (or two per core, if
/// more): the threads then mostly wait, and a disk serves more reads in
/// flight faster. Reading a 20,000-file tree from the disk of this
/// project's reference machine took 1.25-1.6 s on 2 threads, 0.7-0.9 s on
/// 8 and 0.46-0.59 s on 64 (docs/performance.md).
const DISK_LANES: usize = 64;
/// A file larger than this is read only while its batch holds one of the
/// [`Lanes`]' big reads, of which there are as many as base lanes: a chunk
/// holds at most about `BATCH_BYTES + SMALL_FILE` without one, so a tree of
/// large files read from the disk takes no more memory than from the page
/// cache, however many lanes are open.
const SMALL_FILE: u64 = 1 << 20;
/// A batch whose reads had this many 512-byte blocks fetched from storage
/// (the thread's `ru_inblock`), and at least half of its bytes, shows that
/// the files are not in memory.
const DISK_BLOCKS: u64 = 64;
/// A built-in with this many checks still stuck (timed out or detached, not
/// returned) is not run: each holds one of the blocking pool's threads, and
/// a built-in that hangs in every run, with runs too far apart for its
/// restarts to quarantine it, would take them all in the end.
const MAX_STUCK: u64 = 4;

thread_local! {
    /// The bytes of the chunk being processed on this thread.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// What a run's read stage works with.
pub(super) struct Stage {
    /// The project's `.prettierignore`, asked about a file below a
    /// directory of tests that a whitespace check finds something in (see
    /// [`super::formatter_ignore`]).
    pub formatter_list: Option<Arc<super::formatter_ignore::FormatterList>>,
    pub walked: Arc<Vec<Walked>>,
    /// The selected validators of each file.
    pub pairs: Arc<Vec<Vec<usize>>>,
    pub selected: Arc<Vec<Selected>>,
    /// In a check filtered by `--validator` or `--dimension`, the
    /// validators it leaves out, numbered after the selected ones: with
    /// them, a file's set is the one an unfiltered check keeps its entry
    /// under, which is looked up where the filtered set's is missing.
    pub others: Vec<Arc<ValidatorHandle>>,
    /// Then every validator of each file, selected or not.
    pub full_pairs: Option<Arc<Vec<Vec<usize>>>>,
    /// Where to look results up (`None` with `--no-cache`).
    pub store: Option<Arc<Store>>,
    /// Where to write them.
    pub write_store: Option<Arc<Store>>,
    pub max_size: u64,
    /// The walk took each file's metadata (see `check::walk`).
    pub walk_stat: bool,
    /// Chunks started (see [`Engine::read_chunks`](crate::engine::Engine)).
    pub chunks: AtomicU64,
    pub now: u64,
    pub run: Arc<RunState>,
    pub sets: Mutex<FileSets>,
    pub supervisor: ractor::ActorRef<SupervisorMessage>,
    pub cancel: CancellationToken,
    /// Per selected validator: it timed out in this run.
    pub hung: Vec<AtomicBool>,
    /// Per selected validator: one of its checks was detached in this run
    /// (one at most, so a validator stuck on every file does not get a
    /// thread per file).
    pub detached: Vec<AtomicBool>,
    pub out: Mutex<StageOut>,
    pub lanes: Lanes,
    /// Writes what the chunks complete to the cache.
    pub writer: Writer,
}

/// The read stage's cache writes, made on one thread of their own. A chunk
/// hands its per-file entries and stat-index entries over and goes on: the
/// chunks' threads never wait for one another in RocksDB's write queue (with
/// four of them writing, they slept there for about 200 ms per cold check
/// of a 20,000-file tree, summed over threads), and what several chunks
/// hand over while a write is under way goes in the next write, as one
/// batch.
pub(super) struct Writer {
    /// `None` when the run writes nothing.
    tx: Option<std::sync::mpsc::Sender<ToWrite>>,
    done: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// What the [`Writer`] is handed.
enum ToWrite {
    /// A chunk's per-file and stat-index entries.
    Entries { entries: Vec<Entry>, fresh: Vec<(usize, StatEntry)> },
    /// Write what came before, then stop.
    Finish,
}

impl Writer {
    /// Starts the writer of a run (with no store, one that writes nothing).
    /// Nothing is written once the run's cache was cleared.
    /// `running` counts the writers whose thread has not ended.
    pub fn start(
        store: Option<Arc<Store>>,
        walked: Arc<Vec<Walked>>,
        run: Arc<RunState>,
        now: u64,
        running: Arc<AtomicU64>,
    ) -> Writer {
        let Some(store) = store else { return Writer { tx: None, done: Mutex::new(None) } };
        let (tx, rx) = std::sync::mpsc::channel::<ToWrite>();
        running.fetch_add(1, Ordering::SeqCst);
        let done = tokio::task::spawn_blocking(move || {
            struct Ended(Arc<AtomicU64>);
            impl Drop for Ended {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, Ordering::SeqCst);
                }
            }
            let _ended = Ended(running);
            let mut finished = false;
            while !finished && let Ok(first) = rx.recv() {
                let all: Vec<ToWrite> = std::iter::once(first).chain(rx.try_iter()).collect();
                // Whatever happens to the write: a run waits for this.
                finished = all.iter().any(|w| matches!(w, ToWrite::Finish));
                if run.cache_cleared() {
                    continue;
                }
                // In key order: RocksDB inserts a batch into its memtable
                // key by key, each search starting where the last one
                // ended, so keys in order cost much less than keys in the
                // order the chunks completed them.
                let mut entries: Vec<(ResultKey, &Vec<StoredVerdict>, u64)> = Vec::new();
                let mut stats: Vec<(&[u8], StatEntry)> = Vec::new();
                for w in &all {
                    let ToWrite::Entries { entries: e, fresh } = w else { continue };
                    entries.extend(e.iter().map(|(k, v, ttl)| (*k, v, *ttl)));
                    stats.extend(fresh.iter().map(|(fi, e)| (walked[*fi].name_bytes(), *e)));
                }
                entries.sort_unstable_by_key(|e| e.0);
                stats.sort_unstable_by_key(|s| s.0);
                let written = run.write_unless_cleared(|| {
                    let mut batch = store.batch();
                    batch.put_file_results(&entries, now).and_then(|()| batch.put_stat_index(&stats))?;
                    run.note_skipped(&batch);
                    batch.commit()
                });
                if let Some(Err(e)) = written {
                    run.failed_write(&e);
                }
            }
        });
        Writer { tx: Some(tx), done: Mutex::new(Some(done)) }
    }

    /// Hands entries over to be written (dropped once the writer has
    /// finished).
    fn send(&self, entries: Vec<Entry>, fresh: Vec<(usize, StatEntry)>) {
        if let Some(tx) = self.tx.as_ref().filter(|_| !(entries.is_empty() && fresh.is_empty())) {
            let _ = tx.send(ToWrite::Entries { entries, fresh });
        }
    }

    /// Returns once everything handed over so far is written; what is
    /// handed over once the writer has finished is dropped.
    pub async fn finish(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(ToWrite::Finish);
        }
        let done = self.done.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(done) = done {
            let _ = done.await;
        }
    }

    /// A guard that tells the writer to finish when dropped, without
    /// waiting for it: a run dropped midway (cancelled, its client gone)
    /// never reaches [`finish`](Self::finish), and threads the run gave up
    /// on may hold the stage, and so the writer's channel, for ever. The
    /// writer's thread ends on `Finish`, not when the channel closes.
    pub fn finish_on_drop(&self) -> FinishOnDrop {
        FinishOnDrop(self.tx.clone())
    }
}

/// See [`Writer::finish_on_drop`].
pub(super) struct FinishOnDrop(Option<std::sync::mpsc::Sender<ToWrite>>);

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(ToWrite::Finish);
        }
    }
}

/// Chunks reading from memory, all runs together: as many as one run's
/// lanes ([`LANES_PER_CORE`] per core). More would only take turns on the
/// cores, and many more stall the whole daemon: 64 checks at once each ran
/// their own lanes, 256 threads of tokio's blocking pool for 2 cores, and
/// the workers starting chunks spun on the pool's lock, held by threads
/// the kernel had preempted, so that every connection's requests (a
/// `ping`) waited for seconds. A run whose reads wait for the disk
/// (widened) does not take these: its threads wait, they do not compute.
static SHARED_LANES: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(memory_lanes())));

/// Chunks at a time while reads come from memory: [`LANES_PER_CORE`] per
/// core.
fn memory_lanes() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * LANES_PER_CORE
}

/// How many chunks run at a time: [`LANES_PER_CORE`] per core, and, once a
/// batch's reads had to fetch from storage, for the rest of the run,
/// [`DISK_LANES`]; and how many files larger than [`SMALL_FILE`] are held at
/// a time: as many as the lanes were before widening.
pub(super) struct Lanes {
    permits: Arc<tokio::sync::Semaphore>,
    /// How many lanes widening adds.
    extra: usize,
    widened: AtomicBool,
    big: Arc<BigReads>,
    /// Chunks running now, and the most that ran at once (a diagnostic).
    running: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

/// The big reads of a run not taken, and a signal when one is given back.
struct BigReads {
    free: Mutex<usize>,
    freed: std::sync::Condvar,
    /// How many there are.
    lanes: usize,
}

/// The buffers big reads read into, kept between them and between runs
/// (so that a large file's pages are not faulted in afresh each time, and
/// the allocator does not spread them over its arenas): at most as many as
/// there are big reads in a run, each up to `KEEP_BUFFER`, and
/// [`BIG_BUFFERS_KEPT`] bytes in all.
static BIG_BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// The most bytes of buffers [`BIG_BUFFERS`] keeps, whatever the number of
/// cores: what an idle daemon holds for its next large files.
const BIG_BUFFERS_KEPT: usize = 64 << 20;

fn big_buffers() -> std::sync::MutexGuard<'static, Vec<Vec<u8>>> {
    BIG_BUFFERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One big read, taken until dropped. While its batch reads into the big
/// buffer, `parked` holds the thread's own; once the batch has swapped the
/// big buffer back in, dropping the read keeps it in [`BIG_BUFFERS`].
pub(super) struct BigRead {
    reads: Arc<BigReads>,
    parked: Vec<u8>,
}

impl Drop for BigRead {
    fn drop(&mut self) {
        let mut buffer = std::mem::take(&mut self.parked);
        // Kept as a thread keeps its own: up to `KEEP_BUFFER`.
        if buffer.capacity() <= KEEP_BUFFER && buffer.capacity() > 0 {
            buffer.clear();
            let mut kept = big_buffers();
            let bytes: usize = kept.iter().map(Vec::capacity).sum();
            if kept.len() < self.reads.lanes && bytes + buffer.capacity() <= BIG_BUFFERS_KEPT {
                kept.push(buffer);
            }
        }
        *self.reads.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) += 1;
        self.reads.freed.notify_one();
    }
}

impl Lanes {
    pub fn new() -> Self {
        let lanes = memory_lanes();
        Lanes {
            permits: Arc::new(tokio::sync::Semaphore::new(lanes)),
            extra: DISK_LANES.saturating_sub(lanes),
            widened: AtomicBool::new(false),
            big: Arc::new(BigReads { free: Mutex::new(lanes), freed: std::sync::Condvar::new(), lanes }),
            running: Default::default(),
            most: Default::default(),
        }
    }

    /// Waits (blocking the thread) for a big read, or until `cancel` fires
    /// (`None`). A batch takes one at most, and gives it back when it ends
    /// or its chunk is given up on, so none is waited for forever.
    fn big_read(&self, cancel: &CancellationToken) -> Option<BigRead> {
        let mut free = self.big.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            if *free > 0 {
                *free -= 1;
                drop(free);
                let parked = big_buffers().pop().unwrap_or_default();
                return Some(BigRead { reads: self.big.clone(), parked });
            }
            if cancel.is_cancelled() {
                return None;
            }
            free = (self.big.freed.wait_timeout(free, Duration::from_millis(50)))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Lets more chunks run at once: reads wait for the disk.
    fn widen(&self) {
        if !self.widened.swap(true, Ordering::Relaxed) {
            debug!("reads wait for the disk: more chunks at a time");
            self.permits.add_permits(self.extra);
        }
    }

    /// Whether reads were seen waiting for the disk in this run.
    pub fn widened(&self) -> bool {
        self.widened.load(Ordering::Relaxed)
    }

    /// The most chunks that ran at once in this run.
    pub fn most(&self) -> usize {
        self.most.load(Ordering::Relaxed)
    }
}

/// 512-byte blocks this thread has had fetched from storage so far.
fn blocks_read() -> u64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_THREAD).map_or(0, |usage| u64::try_from(usage.block_reads()).unwrap_or(0))
}

/// What the read stage learnt, for the rest of the run.
#[derive(Default)]
pub(super) struct StageOut {
    /// By file.
    pub hashed: Vec<Hashed>,
    /// By validator: the files its jobs must do.
    pub work: Vec<Vec<usize>>,
    /// When the first cached result used expires (0: never).
    pub soonest_expiry: u64,
    /// Selected pairs (binary files' text-only pairs left out).
    pub pairs: u64,
    /// Pairs answered from the cache.
    pub from_cache: u64,
    /// Files read (not known from the stat index).
    pub files_read: u64,
}

/// What a chunk's committed files contribute.
#[derive(Default)]
struct ChunkOut {
    hashed: Vec<(usize, Hashed)>,
    work: Vec<(usize, usize)>,
    fresh: Vec<(usize, StatEntry)>,
    /// Per-file entries complete at commit (every member a built-in, or
    /// cached), written with `fresh`: they never go through the run's
    /// collector.
    entries: Vec<Entry>,
    /// Outcomes to report (passed ones only counted, unless kept), handed
    /// to the run when the chunk ends instead of file by file.
    records: Vec<(usize, usize, Outcome)>,
    soonest_expiry: u64,
    pairs: u64,
    from_cache: u64,
    files_read: u64,
    counts: Counts,
}

/// A chunk's state, shared by its thread and its watchdog.
#[derive(Default)]
struct Progress {
    /// The check running now: the file's position in the chunk, the
    /// validator, since when, and the hash of the bytes it checks.
    current: Option<(usize, usize, Instant, Option<u128>)>,
    /// The watchdog gave up on the chunk: its thread commits nothing more.
    abandoned: bool,
    /// How many leading files of the chunk are committed.
    committed: usize,
    out: ChunkOut,
    /// Set when the running check was detached: where its outcome goes
    /// when it returns.
    detach: Option<tokio::sync::oneshot::Sender<Outcome>>,
    /// The thread read `CHUNK_BYTES` and stopped after its last commit:
    /// the files after it go to a new chunk.
    split: bool,
    /// The big read the current batch holds, if it read a large file.
    big: Option<BigRead>,
}

/// How a chunk's run ended, as its watchdog saw it.
enum Ended {
    /// The thread finished (or failed), or the run was cancelled.
    Finished,
    /// The check of file `pos` by validator `vi` timed out (`report`: the
    /// supervisor is still to be told).
    TimedOut { pos: usize, vi: usize, report: bool },
    /// The check of file `pos` by validator `vi`, on bytes with hash
    /// `hash`, is slow: it was detached.
    Detached {
        pos: usize,
        vi: usize,
        since: Instant,
        hash: Option<u128>,
        outcome: tokio::sync::oneshot::Receiver<Outcome>,
    },
}

/// What the thread is to do with a pair its chunk's earlier run left.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Left {
    /// It timed out: answer `timed out`.
    TimedOut,
    /// It was detached while checking bytes with this hash: its outcome
    /// comes on its own; do not answer it.
    Detached(Option<u128>),
}

/// What running one built-in on one file came to.
enum Ran {
    /// The outcome, and whether the check actually ran.
    Done(Outcome, bool),
    /// The chunk was given up on while the check ran: stop.
    Stop,
}

/// One file as read: its hash, and where its bytes are in the buffer.
#[derive(Debug, Default)]
pub(super) struct FileRead {
    pub hash: Option<u128>,
    pub binary: bool,
    pub error: Option<String>,
    /// Its bytes in the buffer, if they were read (not known from the stat
    /// index, and not over the size limit).
    pub bytes: Option<Range<usize>>,
    /// A fresh stat-index entry to record.
    pub fresh: Option<StatEntry>,
    /// The size of the content hashed (which may differ from the walk's if
    /// the file changed since).
    pub size: u64,
    /// The error was a refusal to open or read it (`EACCES`, `EPERM`): its
    /// size may still be known.
    pub denied: bool,
}

/// Runs the read stage over every file that has a selected validator;
/// streams progress while it goes.
pub(super) async fn read_stage(stage: &Arc<Stage>, notifier: &crate::server::Notifier) {
    // The files a chunk that split did not begin.
    let (rest_tx, mut rest_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut chunks = JoinSet::new();
    let permits = stage.lanes.permits.clone();
    let mut chunk = Vec::new();
    let mut bytes = 0u64;
    for fi in (0..stage.walked.len()).filter(|&fi| !stage.pairs[fi].is_empty()) {
        // Unknown until read when the walk did not stat: chunks then split
        // as they read (see `process_with`).
        let len = stage.walked[fi].len();
        if !chunk.is_empty() && (chunk.len() >= CHUNK_FILES || bytes + len > CHUNK_BYTES) {
            chunks.spawn(run_chunk(stage.clone(), std::mem::take(&mut chunk), permits.clone(), rest_tx.clone()));
            bytes = 0;
        }
        bytes += len;
        chunk.push(fi);
    }
    if !chunk.is_empty() {
        chunks.spawn(run_chunk(stage.clone(), chunk, permits.clone(), rest_tx.clone()));
    }
    let mut last = Instant::now();
    loop {
        tokio::select! {
            biased;
            Some(rest) = rest_rx.recv() => {
                chunks.spawn(run_chunk(stage.clone(), rest, permits.clone(), rest_tx.clone()));
                continue;
            }
            done = chunks.join_next() => {
                if done.is_none() {
                    // Every chunk ended; one that split sent its rest
                    // before it did.
                    match rest_rx.try_recv() {
                        Ok(rest) => {
                            chunks.spawn(run_chunk(stage.clone(), rest, permits.clone(), rest_tx.clone()));
                            continue;
                        }
                        Err(_) => break,
                    }
                }
            }
        }
        if last.elapsed() >= PROGRESS_EVERY {
            last = Instant::now();
            let run = &stage.run;
            notifier.notify(
                notification::CHECK_PROGRESS,
                json!({ "done": run.done.load(Ordering::Relaxed), "total": run.total.load(Ordering::Relaxed) }),
            );
        }
    }
}

/// Processes one chunk on the blocking pool, watching its deadlines; after a
/// time-out, goes on with the rest of the chunk on a fresh thread.
async fn run_chunk(
    st: Arc<Stage>,
    mut files: Vec<usize>,
    permits: Arc<tokio::sync::Semaphore>,
    rest: tokio::sync::mpsc::UnboundedSender<Vec<usize>>,
) {
    let Ok(permit) = permits.acquire_owned().await else { return };
    // And one of the daemon's, unless this run's reads wait for the disk.
    let _shared = match st.lanes.widened() {
        true => None,
        false => SHARED_LANES.clone().acquire_owned().await.ok(),
    };
    let running = st.lanes.running.fetch_add(1, Ordering::Relaxed) + 1;
    st.lanes.most.fetch_max(running, Ordering::Relaxed);
    let poll = st
        .selected
        .iter()
        .filter(|s| s.handle.inline.is_some())
        .map(|s| slow(s.handle.config.timeout))
        .fold(IDLE_POLL, Duration::min);
    // Pairs an earlier, abandoned run of this chunk left.
    let mut left: Vec<(usize, usize, Left)> = Vec::new();
    // Detached checks, answered on their own.
    let mut detached = JoinSet::new();
    loop {
        let progress = Arc::new(Mutex::new(Progress::default()));
        st.chunks.fetch_add(1, Ordering::Relaxed);
        let task = {
            let (st, files, progress, left) = (st.clone(), files.clone(), progress.clone(), left.clone());
            tokio::task::spawn_blocking(move || process(&st, &files, &left, &progress))
        };
        tokio::pin!(task);
        let ended = loop {
            // The running check's next milestone (detach, deadline), or
            // sooner: a check that starts meanwhile is looked at within
            // `poll`, which is no longer than its timeout.
            let next = Instant::now() + poll;
            let wake = match lock(&progress).current {
                Some((_, vi, since, _)) => next.min(since + st.milestone(vi)),
                None => next,
            };
            tokio::select! {
                _ = &mut task => break Ended::Finished,
                _ = tokio::time::sleep_until(wake.into()) => {}
                _ = st.cancel.cancelled() => break Ended::Finished,
            }
            let mut p = lock(&progress);
            let Some((pos, vi, since, hash)) = p.current else { continue };
            let timeout = st.selected[vi].handle.config.timeout;
            if st.hung[vi].load(Ordering::SeqCst) {
                // It timed out elsewhere in this run: this check of it is
                // not waited for either.
                abandon(&st, &mut p);
                break Ended::TimedOut { pos, vi, report: false };
            }
            if since.elapsed() >= timeout {
                abandon(&st, &mut p);
                break Ended::TimedOut { pos, vi, report: true };
            }
            if since.elapsed() >= slow(timeout) && !st.detached[vi].swap(true, Ordering::SeqCst) {
                let (tx, rx) = tokio::sync::oneshot::channel();
                abandon(&st, &mut p);
                p.detach = Some(tx);
                break Ended::Detached { pos, vi, since, hash, outcome: rx };
            }
        };
        let (committed, out, split) = {
            let mut p = lock(&progress);
            abandon(&st, &mut p);
            (p.committed, std::mem::take(&mut p.out), p.split)
        };
        // What the thread committed but will not write itself (it was
        // given up on, cancelled, or failed); nothing if it wrote it.
        let (entries, fresh) = st.merge(out);
        st.writer.send(entries, fresh);
        let pos = match ended {
            Ended::Finished if split && !st.cancel.is_cancelled() => {
                // The read stage gives them to new chunks, each of as many
                // files as this one read in its share, to run side by side.
                for piece in files[committed..].chunks(committed.max(1)) {
                    let _ = rest.send(piece.to_vec());
                }
                break;
            }
            Ended::Finished => {
                if committed < files.len() && !st.cancel.is_cancelled() {
                    // Only a bug in verdict can get here (the checks' panics
                    // are caught): still, every pair gets its outcome.
                    warn!(files = files.len() - committed, "a read-stage task failed");
                    st.fail(&files[committed..], &left, "internal error: the read stage failed on this file");
                }
                break;
            }
            Ended::TimedOut { pos, vi, report: true } => {
                st.report_timeout(files[pos], vi);
                left.push((files[pos], vi, Left::TimedOut));
                pos
            }
            // Known hung: the continuation answers the pair `skipped`, as
            // the validator's other pairs in this run.
            Ended::TimedOut { pos, report: false, .. } => pos,
            Ended::Detached { pos, vi, since, hash, outcome } => {
                let fi = files[pos];
                left.push((fi, vi, Left::Detached(hash)));
                detached.spawn(await_detached(st.clone(), fi, vi, since, outcome));
                pos
            }
        };
        files.drain(..pos);
    }
    st.lanes.running.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
    while detached.join_next().await.is_some() {}
}

/// Answers a detached check's pair: its outcome if it returns by its
/// deadline, `timed out` otherwise.
async fn await_detached(
    st: Arc<Stage>,
    fi: usize,
    vi: usize,
    since: Instant,
    outcome: tokio::sync::oneshot::Receiver<Outcome>,
) {
    let s = &st.selected[vi];
    let deadline = since + s.handle.config.timeout;
    let outcome = tokio::select! {
        r = tokio::time::timeout_at(deadline.into(), outcome) => match r {
            Ok(Ok(outcome)) => {
                // Slow but in time: it counts, and the validator may be
                // detached again.
                s.handle.jobs_done.fetch_add(1, Ordering::Relaxed);
                st.detached[vi].store(false, Ordering::SeqCst);
                outcome
            }
            // Timed out, or its thread went away without an answer.
            _ => {
                st.report_timeout(fi, vi);
                Outcome::TimedOut { after_ms: s.handle.config.timeout.as_millis() as u64 }
            }
        },
        _ = st.cancel.cancelled() => return,
    };
    let verdict = outcome.cacheable().map(|v| StoredVerdict::from(&v));
    st.run.entries.lock().expect("entries").offer(fi, vi, verdict);
    push(&st.run, fi, vi, outcome);
}

/// Whether a cached result written at `created_at` (Unix seconds) is still
/// young enough for the TTL in force now (`ttl` seconds, 0: forever), as the
/// store counts one (see `Store::put_results`): its own expiry was set by
/// the TTL when it was written, and a TTL lowered since applies at once.
fn within_ttl(created_at: u64, ttl: u64, now: u64) -> bool {
    ttl == 0 || created_at.saturating_add(ttl).saturating_add(1) > now
}

/// When a cached result expires under the TTL in force (`ttl`, 0: forever):
/// the sooner of its stored expiry and its age reaching `ttl`, as
/// [`within_ttl`] counts it. What a run reports and remembers is good until
/// then (a remembered answer would otherwise outlive a lowered TTL).
fn expiry_in_force(expires_at: u64, created_at: u64, ttl: u64) -> u64 {
    if ttl == 0 { expires_at } else { soonest(expires_at, created_at.saturating_add(ttl).saturating_add(1)) }
}

/// How long a check of validator `vi` may run before it is detached (if
/// none of the validator's is yet) or times out.
fn slow(timeout: Duration) -> Duration {
    SLOW.min(timeout / 4).max(Duration::from_millis(1))
}

/// Gives up on a chunk: its thread commits nothing more. The check it is
/// running, if any, now holds its thread for nothing until it returns.
fn abandon(st: &Stage, p: &mut Progress) {
    // Whatever the stuck thread holds, the others may read on.
    p.big = None;
    if !p.abandoned {
        p.abandoned = true;
        if let Some((_, vi, _, _)) = p.current {
            st.selected[vi].handle.stuck.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A chunk's progress, even if its thread panicked holding it (a bug in
/// the stage itself; the checks' panics are caught): the watchdog must
/// still answer the chunk's files.
fn lock(progress: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Stage {
    /// When the watchdog next needs to look at a check of validator `vi`
    /// (counted from its start).
    fn milestone(&self, vi: usize) -> Duration {
        let timeout = self.selected[vi].handle.config.timeout;
        if self.hung[vi].load(Ordering::Relaxed) {
            Duration::ZERO
        } else if self.detached[vi].load(Ordering::Relaxed) {
            timeout
        } else {
            slow(timeout)
        }
    }

    /// Takes in a chunk's committed files; hands back their per-file and
    /// fresh stat-index entries (written by the chunk's thread unless it was
    /// abandoned).
    fn merge(&self, mut out: ChunkOut) -> (Vec<Entry>, Vec<(usize, StatEntry)>) {
        if !out.records.is_empty() {
            self.run.records.lock().expect("records").append(&mut out.records);
        }
        let mut o = self.out.lock().expect("stage out");
        for (fi, h) in out.hashed {
            o.hashed[fi] = h;
        }
        for (vi, fi) in out.work {
            o.work[vi].push(fi);
        }
        o.soonest_expiry = soonest(o.soonest_expiry, out.soonest_expiry);
        o.pairs += out.pairs;
        o.from_cache += out.from_cache;
        o.files_read += out.files_read;
        out.counts.add_to(&self.selected);
        (out.entries, out.fresh)
    }

    /// A built-in's check ran past its timeout on file `fi`.
    fn report_timeout(&self, fi: usize, vi: usize) {
        if self.hung[vi].swap(true, Ordering::SeqCst) {
            return; // told already
        }
        let s = &self.selected[vi];
        let (name, file) = (&s.handle.config.name, &self.walked[fi].rel);
        self.run
            .hung
            .lock()
            .expect("hung")
            .insert(name.clone(), format!("validator {name} timed out on {file} earlier in this run"));
        if let Slot::Running(actor) = &*s.handle.slot.borrow() {
            let _ = self.supervisor.cast(SupervisorMessage::JobTimedOut {
                name: name.clone(),
                actor: actor.get_id(),
                file: file.clone(),
                after: s.handle.config.timeout,
            });
        }
    }

    /// Answers every pair of these files with an error.
    fn fail(&self, files: &[usize], left: &[(usize, usize, Left)], why: &str) {
        let mut out = ChunkOut::default();
        for &fi in files {
            for &vi in &self.pairs[fi] {
                out.pairs += 1;
                // A detached pair is answered by its waiter.
                if !left.iter().any(|&(f, v, l)| (f, v) == (fi, vi) && matches!(l, Left::Detached(_))) {
                    push(&self.run, fi, vi, Outcome::error(why));
                }
            }
        }
        self.merge(out);
    }
}

/// Reads a file the walk found into `buf` (appending), unless the stat
/// index already knows its content or it is over `max_size` (then it is
/// hashed as a stream and its bytes are not kept).
#[cfg(test)]
pub(super) fn read_one(
    w: &Walked,
    known: Option<StatEntry>,
    max_size: u64,
    dirs: &mut DirCache,
    buf: &mut Vec<u8>,
) -> FileRead {
    read_one_gated(w, known, max_size, true, dirs, buf, &mut |_, _| true)
}

/// [`read_one`], calling `before_read` with the file's size and `buf` right
/// before the file's bytes go into `buf` (which it may swap for another
/// holding the same bytes); the file is not read if it returns `false`.
/// A file over `max_size` is hashed only with `hash_big` (a tool, whose
/// verdict is cached by the hash, gets it): else only its first bytes are
/// read, to tell whether it is binary, as the built-ins skip it and
/// `large-file` needs its size alone (a sparse 10 GiB file took 46 s).
fn read_one_gated(
    w: &Walked,
    known: Option<StatEntry>,
    max_size: u64,
    hash_big: bool,
    dirs: &mut DirCache,
    buf: &mut Vec<u8>,
    before_read: &mut dyn FnMut(u64, &mut Vec<u8>) -> bool,
) -> FileRead {
    if let (Some(e), Some(meta)) = (known, w.meta())
        && e.matches(meta)
        && !e.is_racy()
    {
        return FileRead { hash: Some(e.content_hash), binary: e.binary, size: meta.len(), ..FileRead::default() };
    }
    let cannot = |e: std::io::Error| {
        debug!(file = %w.rel, error = %e, "cannot read");
        let denied = e.kind() == std::io::ErrorKind::PermissionDenied;
        FileRead { error: Some(format!("cannot read {}: {e}", w.rel)), denied, ..FileRead::default() }
    };
    // Sampled before the metadata and the read: a write that lands after it
    // makes the entry racy, never silently stale.
    let recorded_at = verdict_storage::unix_now_ns();
    // Not taken by the walk: take it from the opened file.
    let opened = match w.meta() {
        Some(_) => None,
        None => match open_regular_in(dirs, &w.abs) {
            Ok((f, meta)) => {
                let _ = w.meta.set(meta);
                Some(f)
            }
            Err(e) => return cannot(e),
        },
    };
    let meta = w.meta().expect("taken by the walk or just now");
    if meta.len() > max_size && !hash_big {
        let opened = match opened {
            Some(f) => Ok(f),
            None => open_regular_in(dirs, &w.abs).map(|(f, _)| f),
        };
        return match opened.and_then(super::sniff_open) {
            Ok(binary) => FileRead { binary, size: meta.len(), ..FileRead::default() },
            Err(e) => cannot(e),
        };
    }
    if meta.len() > max_size {
        let hashed = match opened {
            Some(f) => stream_hash(f, meta.len()),
            None => open_regular_in(dirs, &w.abs).and_then(|(f, _)| stream_hash(f, meta.len())),
        };
        return match hashed {
            Ok((hash, size, binary)) => {
                let mut fresh = StatEntry::from_metadata(meta, hash, recorded_at);
                fresh.binary = binary;
                FileRead { hash: Some(hash), binary, fresh: Some(fresh), size, ..FileRead::default() }
            }
            Err(e) => cannot(e),
        };
    }
    if !before_read(meta.len(), buf) {
        return FileRead { error: Some("the check was cancelled".to_owned()), ..FileRead::default() };
    }
    let start = buf.len();
    let read = match opened {
        Some(f) => read_open_into(f, meta.len(), max_size, buf),
        None => read_regular_into(dirs, &w.abs, meta.len(), max_size, buf),
    };
    match read {
        Ok(()) => {
            let bytes = &buf[start..];
            let hash = verdict_storage::content_hash(bytes);
            let binary = verdict_actors::builtin::is_binary(bytes);
            let mut fresh = StatEntry::from_metadata(meta, hash, recorded_at);
            fresh.binary = binary;
            let size = (buf.len() - start) as u64;
            FileRead {
                hash: Some(hash),
                binary,
                error: None,
                bytes: Some(start..buf.len()),
                fresh: Some(fresh),
                size,
                denied: false,
            }
        }
        Err(e) => {
            buf.truncate(start);
            cannot(e)
        }
    }
}

/// Processes a chunk with this thread's buffer.
fn process(st: &Stage, files: &[usize], left: &[(usize, usize, Left)], progress: &Mutex<Progress>) {
    BUFFER.with_borrow_mut(|buf| {
        buf.clear();
        // Directories are held for one chunk only.
        process_with(st, files, left, progress, &mut DirCache::default(), buf);
        if buf.capacity() > KEEP_BUFFER {
            *buf = Vec::new();
        }
    });
}

fn process_with(
    st: &Stage,
    files: &[usize],
    left: &[(usize, usize, Left)],
    progress: &Mutex<Progress>,
    dirs: &mut DirCache,
    buf: &mut Vec<u8>,
) {
    let mut start = 0;
    let mut read = 0u64;
    while start < files.len() {
        // By the sizes the walk saw, if it looked (the batch's stat-index
        // look-up is one multi-get); the reads end a batch early once it
        // holds `BATCH_BYTES`.
        let mut end = start + 1;
        let mut bytes = st.walked[files[start]].len();
        while end < files.len() && bytes + st.walked[files[end]].len() <= BATCH_BYTES {
            bytes += st.walked[files[end]].len();
            end += 1;
        }
        buf.clear();
        let batch = process_batch(st, &files[start..end], start, left, progress, dirs, buf);
        read += buf.len() as u64;
        // A big read is given back with its buffer; the thread's own comes
        // back out of it.
        if let Some(mut big) = lock(progress).big.take() {
            std::mem::swap(buf, &mut big.parked);
        }
        let Some(n) = batch else { return };
        start += n;
        // The walk did not know the sizes: a chunk that has read its share
        // hands the rest over, to be spread over the cores (never a file an
        // earlier, abandoned run of this chunk left pairs of).
        if !st.walk_stat
            && read >= CHUNK_BYTES
            && start < files.len()
            && !left.iter().any(|(f, ..)| files[start..].contains(f))
        {
            let mut p = progress.lock().expect("progress");
            if p.abandoned {
                return;
            }
            p.split = true;
            break;
        }
    }

    // Write what the chunk completed.
    let (mut entries, fresh) = {
        let mut p = progress.lock().expect("progress");
        if p.abandoned {
            return;
        }
        (std::mem::take(&mut p.out.entries), std::mem::take(&mut p.out.fresh))
    };
    if st.write_store.is_none() || st.run.cache_cleared() {
        return;
    }
    entries.append(&mut st.run.entries.lock().expect("entries").take_ready(false));
    st.writer.send(entries, fresh);
}

/// Before a batch reads a file of `size` bytes into `buf`: a large one
/// waits for a big read, which the batch keeps until it ends (see
/// `process_with`), and is read into the big read's buffer, to which the
/// batch's bytes so far are copied, at the same offsets.
/// Returns `false` if the run was cancelled while it waited: the file is
/// then not to be read.
fn before_read(st: &Stage, progress: &Mutex<Progress>, size: u64, buf: &mut Vec<u8>) -> bool {
    if size > SMALL_FILE && lock(progress).big.is_none() {
        let Some(mut big) = st.lanes.big_read(&st.cancel) else { return false };
        std::mem::swap(buf, &mut big.parked);
        buf.extend_from_slice(&big.parked);
        big.parked.clear();
        lock(progress).big = Some(big);
    }
    true
}

/// Processes files `offset..` of a chunk, few enough that their bytes stay
/// in the core's cache from the read to the last check: the leading ones
/// whose bytes fit in `BATCH_BYTES` (at least one). Returns how many, or
/// `None` if the run was cancelled or the chunk abandoned.
fn process_batch(
    st: &Stage,
    files: &[usize],
    offset: usize,
    left: &[(usize, usize, Left)],
    progress: &Mutex<Progress>,
    dirs: &mut DirCache,
    buf: &mut Vec<u8>,
) -> Option<usize> {
    let (walked, selected) = (&*st.walked, &*st.selected);
    // The stat index, if the walk took each file's metadata to compare its
    // entries with (else it had none).
    let known: Vec<Option<StatEntry>> = match &st.store {
        Some(store) if st.walk_stat => {
            store.get_stats_index(&files.iter().map(|&fi| walked[fi].name_bytes()).collect::<Vec<_>>())
        }
        _ => vec![None; files.len()],
    };
    let mut reads = Vec::with_capacity(files.len());
    let blocks = (!st.lanes.widened()).then(blocks_read);
    let mut gate = |size: u64, buf: &mut Vec<u8>| before_read(st, progress, size, buf);
    for (&fi, known) in files.iter().zip(known) {
        if st.cancel.is_cancelled() {
            return None;
        }
        if buf.len() as u64 >= BATCH_BYTES {
            break;
        }
        let hash_big = st.pairs[fi].iter().any(|&vi| selected[vi].handle.cacheable && super::is_command(&selected[vi]));
        let mut read = read_one_gated(&walked[fi], known, st.max_size, hash_big, dirs, buf, &mut gate);
        // Binary by its git attributes: the text checks skip it as they
        // skip content that looks binary (the stat index keeps what the
        // content says).
        read.binary |= walked[fi].marks.binary;
        reads.push(read);
    }
    // Most of the batch's bytes came from storage (not a directory block or
    // an inode now and then).
    if let Some(before) = blocks {
        let fetched = blocks_read().saturating_sub(before);
        if fetched >= DISK_BLOCKS && fetched * 512 * 2 >= buf.len() as u64 {
            st.lanes.widen();
        }
    }
    let files = &files[..reads.len()];

    // The per-file sets, and what the cache has for them.
    let handles: Vec<&ValidatorHandle> =
        selected.iter().map(|s| &*s.handle).chain(st.others.iter().map(|h| &**h)).collect();
    let set_of = |interned: &mut FileSets, pairs: &[usize], fi: usize, r: &FileRead| {
        let members: Vec<usize> =
            pairs.iter().copied().filter(|&vi| member(handles[vi], &walked[fi], r, st.max_size)).collect();
        (!members.is_empty()).then(|| interned.get(members, &handles))
    };
    let sets: Vec<Option<Arc<FileSet>>> = {
        let mut interned = st.sets.lock().expect("sets");
        files.iter().zip(&reads).map(|(&fi, r)| set_of(&mut interned, &st.pairs[fi], fi, r)).collect()
    };
    let formatter = st.formatter_list.as_ref().map(|list| list.digest());
    let keys: Vec<Option<ResultKey>> = files
        .iter()
        .zip(&reads)
        .zip(&sets)
        .map(|((&fi, r), set)| set.as_deref().map(|set| file_key(set, r.hash, &walked[fi], formatter)))
        .collect();
    let mut entries: Vec<Option<verdict_storage::Cached<Vec<StoredVerdict>>>> = vec![None; files.len()];
    // The keys of the entries of the sets' built-ins alone (see
    // `FileSet::inline_part`), and those found for files without an entry.
    let inline_keys: Vec<Option<ResultKey>> = sets
        .iter()
        .zip(&reads)
        .zip(files.iter())
        .map(|((set, r), &fi)| {
            let part = set.as_deref()?.inline_part.as_deref()?;
            Some(file_key(part, r.hash, &walked[fi], formatter))
        })
        .collect();
    let mut inline_entries: Vec<Option<verdict_storage::Cached<Vec<StoredVerdict>>>> = vec![None; files.len()];
    let mut pair_cached: HashMap<(usize, usize), verdict_storage::Cached<StoredVerdict>> = HashMap::new();
    if let Some(store) = &st.store {
        let with_key: Vec<(usize, ResultKey)> =
            keys.iter().enumerate().filter_map(|(pos, k)| k.map(|k| (pos, k))).collect();
        let found =
            store.get_file_results::<Vec<StoredVerdict>>(&with_key.iter().map(|(_, k)| *k).collect::<Vec<_>>(), st.now);
        for ((pos, _), got) in with_key.into_iter().zip(found) {
            let set = sets[pos].as_deref().expect("keyed");
            entries[pos] =
                got.filter(|e| e.value.len() == set.members.len() && within_ttl(e.created_at, set.ttl, st.now));
        }
        // A filtered check: the entry an unfiltered one keeps, in the set's
        // order.
        if let Some(full_pairs) = &st.full_pairs {
            let wanted: Vec<(usize, Arc<FileSet>)> = {
                let mut interned = st.sets.lock().expect("sets");
                (0..files.len())
                    .filter(|&pos| entries[pos].is_none() && sets[pos].is_some())
                    .filter_map(|pos| {
                        let full = set_of(&mut interned, &full_pairs[files[pos]], files[pos], &reads[pos])?;
                        (full.id != sets[pos].as_ref()?.id).then_some((pos, full))
                    })
                    .collect()
            };
            if !wanted.is_empty() {
                let keys: Vec<ResultKey> = wanted
                    .iter()
                    .map(|(pos, full)| file_key(full, reads[*pos].hash, &walked[files[*pos]], formatter))
                    .collect();
                for ((pos, full), got) in
                    wanted.into_iter().zip(store.get_file_results::<Vec<StoredVerdict>>(&keys, st.now))
                {
                    let set = sets[pos].as_deref().expect("wanted");
                    entries[pos] = got
                        .filter(|e| e.value.len() == full.members.len() && within_ttl(e.created_at, full.ttl, st.now))
                        .and_then(|e| {
                            let at = |m: &usize| full.members.iter().position(|x| x == m);
                            let value =
                                set.members.iter().map(|m| Some(e.value[at(m)?].clone())).collect::<Option<_>>()?;
                            Some(verdict_storage::Cached { value, created_at: e.created_at, expires_at: e.expires_at })
                        });
                }
            }
        }
        // Files without an entry: their built-ins' own entry, ...
        let with_key: Vec<(usize, ResultKey)> = (0..files.len())
            .filter(|&pos| entries[pos].is_none())
            .filter_map(|pos| inline_keys[pos].map(|k| (pos, k)))
            .collect();
        if !with_key.is_empty() {
            let keys: Vec<ResultKey> = with_key.iter().map(|(_, k)| *k).collect();
            for ((pos, _), got) in with_key.into_iter().zip(store.get_file_results::<Vec<StoredVerdict>>(&keys, st.now))
            {
                let part = sets[pos].as_deref().and_then(|s| s.inline_part.as_deref()).expect("keyed");
                inline_entries[pos] =
                    got.filter(|e| e.value.len() == part.members.len() && within_ttl(e.created_at, part.ttl, st.now));
            }
        }
        // ... and their command validators' own results.
        let wanted: Vec<(usize, usize)> = (0..files.len())
            .filter(|&pos| entries[pos].is_none())
            .flat_map(|pos| {
                let members = sets[pos].as_deref().map(|s| s.members.as_slice()).unwrap_or(&[]);
                members.iter().filter(|&&vi| selected[vi].handle.inline.is_none()).map(move |&vi| (pos, vi))
            })
            .collect();
        if !wanted.is_empty() {
            let keys: Vec<ResultKey> = wanted
                .iter()
                .map(|&(pos, vi)| ResultKey {
                    validator: selected[vi].handle.identity,
                    content: command_key(reads[pos].hash.unwrap_or(0), &walked[files[pos]]).to_be_bytes(),
                })
                .collect();
            for (pair, got) in wanted.into_iter().zip(store.get_results::<StoredVerdict>(&keys, st.now)) {
                let ttl = selected[pair.1].handle.config.cache_ttl.as_secs();
                if let Some(got) = got.filter(|e| within_ttl(e.created_at, ttl, st.now)) {
                    pair_cached.insert(pair, got);
                }
            }
        }
    }

    // Per file, kept between files.
    let mut outcomes: Vec<(usize, Outcome)> = Vec::new();
    // Verdicts for the file's entry; the expiry of a cached one.
    let mut offers: Vec<(usize, Option<StoredVerdict>, Option<u64>)> = Vec::new();
    let mut work = Vec::new();
    // Cache hits and misses per validator, counted once committed.
    let mut tally: Vec<(usize, bool)> = Vec::new();
    // The checks run, counted once committed.
    let mut ran = Vec::new();
    for (i, &fi) in files.iter().enumerate() {
        if st.cancel.is_cancelled() {
            return None;
        }
        let pos = offset + i;
        let w = &walked[fi];
        // What the built-ins heed of its name and rules, for each of them.
        let marks = w.marks();
        let r = &mut reads[i];
        let set = sets[i].as_deref();
        let entry = entries[i].take();
        outcomes.clear();
        offers.clear();
        work.clear();
        tally.clear();
        ran.clear();
        let (mut pairs, mut from_cache, mut expiry) = (0u64, 0u64, 0u64);
        let mut content_ok = None;
        // Known from the stat index, but read for a built-in all the same.
        let mut read_late = false;
        // Whether the project keeps the file from its formatter, once asked.
        let mut formatter_keeps: Option<bool> = None;
        if let Some(e) = &entry {
            expiry = expiry_in_force(e.expires_at, e.created_at, set.map_or(0, |s| s.ttl));
        }
        let mut cached_verdicts = entry
            .map(|e| set.expect("an entry has a set").members.iter().copied().zip(e.value).collect::<HashMap<_, _>>());
        // Or the verdicts of the entry of its built-ins alone, and when the
        // entry expires.
        let mut inline_cached = inline_entries[i].take().map(|e| {
            let part = set.and_then(|s| s.inline_part.as_deref()).expect("an entry has a set");
            let at = expiry_in_force(e.expires_at, e.created_at, part.ttl);
            (part.members.iter().copied().zip(e.value).collect::<HashMap<_, _>>(), at)
        });
        // Whether that entry is to be written: its verdicts were computed.
        let inline_fresh = inline_cached.is_none();
        let mut excluded = 0u64;
        // A pair detached from an earlier run of this chunk on other bytes
        // than these: the file gets no entry (the pair's verdict is not
        // about these bytes).
        let mut other_bytes = false;
        for &vi in &st.pairs[fi] {
            let s = &selected[vi];
            // What an earlier, abandoned run of this chunk left, whatever
            // this read of the file says.
            match left.iter().find(|&&(f, v, _)| (f, v) == (fi, vi)).map(|&(_, _, l)| l) {
                Some(Left::Detached(hash)) => {
                    // Counted here, answered by its waiter.
                    pairs += 1;
                    other_bytes |= hash != r.hash;
                    continue;
                }
                Some(Left::TimedOut) => {
                    pairs += 1;
                    offers.push((vi, None, None));
                    outcomes.push((vi, Outcome::TimedOut { after_ms: s.handle.config.timeout.as_millis() as u64 }));
                    continue;
                }
                None => {}
            }
            if leaves_out(&s.handle, r.binary, w.len(), st.max_size) {
                excluded += 1;
                continue;
            }
            pairs += 1;
            if let Some(err) = &r.error {
                // A built-in that needs only the size (`large-file`) still
                // answers for a file it may stat but not read (no other
                // failure: a file gone or replaced since the walk is not
                // judged by what is there now, nor by a link's target).
                let size = match (&s.handle.inline, s.handle.needs_content, r.denied) {
                    (Some(_), false, true) => w
                        .meta()
                        .map(|m| m.len())
                        .or_else(|| std::fs::symlink_metadata(&w.abs).ok().filter(|m| m.is_file()).map(|m| m.len())),
                    _ => None,
                };
                let (Some(size), Some(inline)) = (size, &s.handle.inline) else {
                    outcomes.push((vi, Outcome::error(err.clone())));
                    continue;
                };
                let input = BuiltinInput { content: &[], size, executable: w.executable(), binary: false, marks };
                match run_inline(st, progress, (pos, fi, vi), inline.as_ref(), &input, None) {
                    Ran::Done(outcome, done) => {
                        if done {
                            ran.push(vi);
                        }
                        outcomes.push((vi, outcome));
                    }
                    Ran::Stop => return None,
                }
                continue;
            }
            if s.handle.needs_content && w.len() > st.max_size {
                let why = format!("file is larger than check.max_file_size ({} bytes)", st.max_size);
                outcomes.push((vi, Outcome::skipped(why)));
                continue;
            }
            if let Some(v) = cached_verdicts.as_mut().and_then(|c| c.remove(&vi)) {
                tally.push((vi, true));
                from_cache += 1;
                outcomes.push((vi, Outcome::Cached { verdict: v.into() }));
                continue;
            }
            if let Some((v, at)) = inline_cached.as_mut().and_then(|(c, at)| Some((c.remove(&vi)?, *at))) {
                tally.push((vi, true));
                from_cache += 1;
                expiry = soonest(expiry, at);
                offers.push((vi, Some(v.clone()), Some(at)));
                outcomes.push((vi, Outcome::Cached { verdict: v.into() }));
                continue;
            }
            let in_set = set.is_some_and(|set| set.members.contains(&vi));
            let Some(inline) = &s.handle.inline else {
                match pair_cached.remove(&(i, vi)) {
                    Some(c) => {
                        tally.push((vi, true));
                        from_cache += 1;
                        let at = expiry_in_force(c.expires_at, c.created_at, s.handle.config.cache_ttl.as_secs());
                        expiry = soonest(expiry, at);
                        offers.push((vi, Some(c.value.clone()), Some(at)));
                        outcomes.push((vi, Outcome::Cached { verdict: c.value.into() }));
                    }
                    None => {
                        if st.store.is_some() && in_set {
                            tally.push((vi, false));
                        }
                        work.push(vi);
                    }
                }
                continue;
            };
            if st.store.is_some() && in_set {
                tally.push((vi, false));
            }
            // The bytes, read now if the stat index knew the file, and only
            // if they still hash to its key.
            if s.handle.needs_content && content_ok.is_none() {
                content_ok = Some(match &r.bytes {
                    Some(_) => true,
                    None => {
                        let start = buf.len();
                        read_late = before_read(st, progress, w.len(), buf)
                            && read_regular_into(dirs, &w.abs, w.len(), w.len(), buf).is_ok();
                        let ok = read_late && Some(verdict_storage::content_hash(&buf[start..])) == r.hash;
                        if ok {
                            r.bytes = Some(start..buf.len());
                        } else {
                            buf.truncate(start);
                        }
                        ok
                    }
                });
            }
            let outcome = if s.handle.needs_content && content_ok == Some(false) {
                Outcome::error("the file changed or could not be read during the check")
            } else {
                let content = r.bytes.clone().map(|b| &buf[b]).unwrap_or(&[]);
                // Bytes read late belong to a file the stat index knew: its
                // entry's binary flag may be older than this code (or come
                // from a build that did not look), so look again; it is rare.
                let binary = r.binary || (read_late && verdict_actors::builtin::is_binary(content));
                // The size of the bytes hashed, which the verdict is cached under.
                let mut input = BuiltinInput { content, size: r.size, executable: w.executable(), binary, marks };
                let mut judged = run_inline(st, progress, (pos, fi, vi), inline.as_ref(), &input, r.hash);
                // Something found below a directory of tests: if the
                // project keeps the file from its formatter, judged again
                // with the mark (a whitespace check then passes it; the
                // others do not heed it). Asked once a file, and only here.
                if let (Ran::Done(Outcome::Findings { .. }, true), Some(list)) = (&judged, &st.formatter_list)
                    && input.marks.in_tests
                    && *formatter_keeps.get_or_insert_with(|| list.keeps(w.name_bytes()))
                {
                    input.marks.kept_from_formatter = true;
                    judged = run_inline(st, progress, (pos, fi, vi), inline.as_ref(), &input, r.hash);
                }
                match judged {
                    Ran::Done(outcome, true) => {
                        ran.push(vi);
                        outcome
                    }
                    Ran::Done(outcome, false) => outcome,
                    Ran::Stop => return None,
                }
            };
            if in_set {
                offers.push((vi, outcome.cacheable().map(|v| StoredVerdict::from(&v)), None));
            }
            outcomes.push((vi, outcome));
        }

        // Commit.
        let mut p = progress.lock().expect("progress");
        if p.abandoned {
            return None;
        }
        p.current = None;
        p.committed = pos + 1;
        let run = &st.run;
        run.total.fetch_sub(excluded, Ordering::Relaxed);
        for &(vi, hit) in &tally {
            Counts::bump(if hit { &mut p.out.counts.hits } else { &mut p.out.counts.misses }, vi);
        }
        for &vi in &ran {
            Counts::bump(&mut p.out.counts.checked, vi);
        }
        if let (Some(set), Some(key), true, None, false) =
            (&sets[i], keys[i], st.write_store.is_some(), &cached_verdicts, other_bytes)
        {
            let inline_key = inline_keys[i].filter(|_| inline_fresh);
            if offers.iter().any(|(_, v, _)| v.is_none()) {
                // An outcome that is not cached: the file gets no entry;
                // its built-ins get theirs if they all answered.
                if let Some(entry) = inline_key.and_then(|k| EntryCollector::inline_only(set, k, &offers)) {
                    p.out.entries.push(entry);
                }
            } else if offers.len() == set.members.len() {
                // Every member answered (each offers once): no need to wait
                // for command validators' jobs in the run's collector.
                p.out.entries.push(EntryCollector::complete(set, key, &mut offers));
            } else {
                let mut collector = run.entries.lock().expect("entries");
                collector.expect(fi, Arc::clone(set), key, inline_key);
                for (vi, v, expires_at) in offers.drain(..) {
                    match (v, expires_at) {
                        (Some(v), Some(at)) => collector.offer_cached(fi, vi, v, at),
                        (v, _) => collector.offer(fi, vi, v),
                    }
                }
            }
        }
        super::tally(run, fi, outcomes.drain(..), &mut p.out.records);
        p.out.hashed.push((fi, Hashed { hash: r.hash, binary: r.binary, mixed: other_bytes }));
        p.out.work.extend(work.iter().map(|&vi| (vi, fi)));
        // A file read (or hashed as a stream) has a fresh entry.
        if r.fresh.is_some() || read_late {
            p.out.files_read += 1;
        }
        if let Some(fresh) = r.fresh.take() {
            p.out.fresh.push((fi, fresh));
        }
        p.out.pairs += pairs;
        p.out.from_cache += from_cache;
        p.out.soonest_expiry = soonest(p.out.soonest_expiry, expiry);
    }
    Some(files.len())
}

/// What a chunk's committed files add to each validator's counters (by
/// validator): added once per chunk, as counters every thread adds to are
/// slow to update once per pair.
#[derive(Default)]
struct Counts {
    hits: Vec<u64>,
    misses: Vec<u64>,
    /// Checks run (the validator's `jobs_done`).
    checked: Vec<u64>,
}

impl Counts {
    fn bump(counts: &mut Vec<u64>, vi: usize) {
        if counts.len() <= vi {
            counts.resize(vi + 1, 0);
        }
        counts[vi] += 1;
    }

    fn add_to(&self, selected: &[Selected]) {
        for (vi, s) in selected.iter().enumerate() {
            let n = |counts: &Vec<u64>| counts.get(vi).copied().unwrap_or(0);
            for (n, counter) in [
                (n(&self.hits), &s.counters.hits),
                (n(&self.misses), &s.counters.misses),
                (n(&self.checked), &s.handle.jobs_done),
            ] {
                if n > 0 {
                    counter.fetch_add(n, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Whether validator `h` leaves a file out of its selection: a binary one
/// (`binary`) if it is text-only, or if it reads binary files only for the
/// text in them and this one is too big to read whole (over `max_size`).
pub(super) fn leaves_out(h: &ValidatorHandle, binary: bool, size: u64, max_size: u64) -> bool {
    let for_text = || match &h.config.kind {
        crate::config::ValidatorKind::Builtin { kind, .. } => kind.reads_binary_for_text(),
        _ => false,
    };
    binary && (h.text_only || (h.needs_content && size > max_size && for_text()))
}

/// Whether validator `h`'s outcome for the file goes into the file's entry.
fn member(h: &ValidatorHandle, w: &Walked, r: &FileRead, max_size: u64) -> bool {
    !leaves_out(h, r.binary, w.len(), max_size)
        && r.error.is_none()
        && r.hash.is_some()
        && h.cacheable
        && !(h.needs_content && w.len() > max_size)
}

/// Runs one built-in on one file, unless its child is quarantined or
/// removed or it timed out earlier in the run; a panic is an error outcome
/// and a failure of its child. `None`: the watchdog gave up on the chunk
/// while the check ran, and this thread must stop.
fn run_inline(
    st: &Stage,
    progress: &Mutex<Progress>,
    (pos, fi, vi): (usize, usize, usize),
    inline: &dyn verdict_actors::validator::InlineWork,
    input: &BuiltinInput<'_>,
    hash: Option<u128>,
) -> Ran {
    let s = &st.selected[vi];
    if st.hung[vi].load(Ordering::Relaxed) {
        let why = st.run.hung.lock().expect("hung").get(&s.handle.config.name).cloned();
        let why = why.unwrap_or_else(|| "the validator timed out earlier in this run".into());
        return Ran::Done(Outcome::skipped(why), false);
    }
    let stuck = s.handle.stuck.load(Ordering::SeqCst);
    if stuck >= MAX_STUCK {
        let why = format!(
            "not run: {stuck} earlier checks of this validator timed out and have not returned (each holds a thread; restarting the daemon frees them)"
        );
        return Ran::Done(Outcome::error(why), false);
    }
    match &*s.handle.slot.borrow() {
        Slot::Quarantined(why) => return Ran::Done(Outcome::error(format!("quarantined: {why}")), false),
        Slot::Stopped => return Ran::Done(Outcome::skipped(crate::check::STOPPED), false),
        Slot::Running(_) | Slot::Restarting => {}
    }
    progress.lock().expect("progress").current = Some((pos, vi, Instant::now(), hash));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inline.check(input)));
    let detach = {
        let mut p = progress.lock().expect("progress");
        if p.abandoned {
            // No longer stuck (see `abandon`).
            s.handle.stuck.fetch_sub(1, Ordering::SeqCst);
        }
        if p.abandoned && p.detach.is_none() {
            // Timed out: the continuation has this pair and the rest.
            return Ran::Stop;
        }
        p.current = None;
        p.detach.take()
    };
    let outcome = match result {
        Ok(findings) => Verdict::from_findings(findings).into(),
        Err(payload) => {
            let reason = verdict_actors::validator::panic_message(&payload);
            if let Slot::Running(actor) = &*s.handle.slot.borrow() {
                let _ = actor.cast(ValidatorMessage::Crashed(format!("{reason} (checking {})", st.walked[fi].rel)));
            }
            Outcome::error(format!("validator crashed: {reason}"))
        }
    };
    match detach {
        // Detached: the outcome goes to its waiter, if it still waits; the
        // continuation has the rest of the chunk.
        Some(tx) => {
            let _ = tx.send(outcome);
            Ran::Stop
        }
        None => Ran::Done(outcome, true),
    }
}

#[cfg(test)]
#[path = "read_stage_tests.rs"]
mod tests;
