//! Process groups of external tools.
//!
//! Every external tool verdict runs is started in a process group of its own
//! (`process_group(0)`, so the group id is the child's pid). A
//! [`ProcessGroup`] guard owns that group: dropping it sends `SIGKILL` to the
//! whole group, so dropping or aborting the future that runs a tool kills the
//! tool *and* whatever it spawned (as long as those stayed in the group).
//!
//! A [`ProcessRegistry`] is the set of live groups started on behalf of one
//! validator. Guards register themselves when created and deregister when
//! dropped. Each of the validator's actors (one per start or restart) sees
//! a [`scoped`](ProcessRegistry::scoped) view of it, and each job a scope of
//! its actor's: when the job's deadline expires, the job calls
//! [`ProcessRegistry::terminate_all`] on its own groups only: `SIGTERM`, a
//! grace period (the validator's `kill_after`, by default
//! [`DEFAULT_KILL_AFTER`]), then `SIGKILL` for the survivors. Stopping
//! the daemon kills every group of the whole registry; a reload or a
//! restart of the validator every group but those a termination is ending.
//!
//! A tool's descendant may leave its group (`setsid`, `setpgid`), and a
//! daemonising one (a double fork) also leaves its parent. Two things find
//! such processes: parent links in `/proc`, while the tool lives, and the
//! run's [`Mark`], an environment variable ([`MARK_VAR`]) that
//! [`spawn`] gives every tool and that its descendants inherit wherever
//! they move. Every kill of a running tool also signals those, by pid
//! (checked against its start time, so a reused pid is never signalled).
//! A kill looks again by mark after it, until a look finds nothing new, for
//! what the killed processes started in between. During a termination's
//! grace the tools are looked at again every few polls and as soon as a
//! tool exits in answer to the `SIGTERM` (what its TERM handler started and
//! left behind carries its mark); a known process is only taken for gone by
//! a look, and dropped at the next, which finds what it left. At the end of the grace the
//! groups and the known processes are stopped and looked for again,
//! stopping what is found, until nothing new turns up; then all get
//! `SIGKILL`. A process that keeps replacing itself (fork, parent exits)
//! faster than a look reads `/proc` can slip through; so can one that left
//! the group and its parent and whose
//! environment cannot be read back (cleared, overwritten by a process
//! title, another user's) is out of reach; so is what a tool leaves behind
//! when it exits on its own (a build server it starts on purpose, say).
//!
//! Reading `/proc` is blocking work: actors' handlers kill through
//! [`ProcessRegistry::kill_all_in_background`] and
//! [`ProcessRegistry::terminate_all`], which read it on tokio's blocking
//! pool. A job whose run is cancelled kills its tools the same way before it
//! drops them, and so does a version command at its timeout. Two things
//! read it where they are dropped: a guard dropped otherwise while its tool
//! still runs, and a termination interrupted during its grace, which looks
//! once more for what its tools' runs left behind (both only when the
//! runtime shuts down with the daemon); and a termination whose last look
//! is late on a busy blocking pool signals what it knows in place.
//!
//! Caveat: signalling a group by id is subject to id reuse. A group id can only
//! be reused once every member of the group is gone *and* reaped; guards live
//! only as long as the call that ran the tool, which keeps the window small.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// Every how many polls [`ProcessRegistry::terminate_all`] looks for
/// processes its tools started outside their groups since SIGTERM.
const LOOK_AGAIN_EVERY: u64 = 3;

/// How long the last look for escaped processes may take, with the groups
/// stopped, before the `SIGKILL` goes out regardless.
const LAST_LOOK: Duration = Duration::from_millis(100);

/// How long a timed-out job's tools get between `SIGTERM` and `SIGKILL`,
/// unless the validator's `kill_after` says otherwise.
pub const DEFAULT_KILL_AFTER: Duration = Duration::from_millis(500);

/// How often [`ProcessRegistry::terminate_all`] checks whether the groups it
/// signalled are gone.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The environment variable that carries a tool run's [`Mark`].
pub const MARK_VAR: &str = "VERDICT_TOOL_RUN";

/// This daemon's part of every mark: random, so that two daemons (or two
/// runs of one) never take each other's tools for their own.
static MARK_PREFIX: LazyLock<String> = LazyLock::new(|| format!("{:016x}.", rand::random::<u64>()));

/// This daemon's part of every mark (hexadecimal digits), which a
/// successor needs to find what this daemon's tools leave running if it
/// dies without stopping them (see [`kill_left_by`]).
pub fn mark_prefix() -> &'static str {
    MARK_PREFIX.trim_end_matches('.')
}

/// Kills every process whose environment carries a mark made with `prefix`
/// (another daemon's [`mark_prefix`]): what the tools of a daemon that died
/// without stopping them (`SIGKILL`, a crash) left running, in their groups
/// or out of them. Looks again while a look finds some. Returns how many it
/// killed. Reads `/proc`: blocking work.
pub fn kill_left_by(prefix: &str) -> usize {
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) || prefix == mark_prefix() {
        return 0;
    }
    let wanted = format!("{MARK_VAR}={prefix}.");
    let ours = i32::try_from(std::process::id()).unwrap_or(0);
    // Kernel threads have no environment (and never one of ours).
    const PF_KTHREAD: u32 = 0x0020_0000;
    let mut killed = 0;
    for _ in 0..KILL_ROUNDS {
        let Ok(all) = procfs::process::all_processes() else { break };
        let mut found = 0;
        for st in all.filter_map(|p| p.ok()?.stat().ok()) {
            if st.pid == ours || st.flags & PF_KTHREAD != 0 || matches!(st.state, 'Z' | 'X') {
                continue;
            }
            let Some(environ) = environ_of(st.pid) else { continue };
            if environ.split(|&b| b == 0).any(|entry| entry.starts_with(wanted.as_bytes())) {
                let _ = nix::sys::signal::kill(Pid::from_raw(st.pid), Signal::SIGKILL);
                found += 1;
            }
        }
        killed += found;
        if found == 0 {
            break;
        }
    }
    killed
}

/// The number of the next mark.
static NEXT_MARK: AtomicU64 = AtomicU64::new(1);

/// Clock ticks per second, the unit of a process's start time in `/proc`.
static TICKS: LazyLock<u64> = LazyLock::new(|| procfs::ticks_per_second().max(1));

/// What marks the processes of one tool run: the value of [`MARK_VAR`] in
/// their environment, which a tool's descendants inherit wherever they move
/// (another group, another session, another parent), and the time it was
/// made: nothing started before it can carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    number: u64,
    /// Clock ticks after boot, as `/proc/PID/stat`'s start times count.
    since: u64,
}

impl Mark {
    /// A mark no other tool run of this daemon has.
    pub fn new() -> Self {
        let number = NEXT_MARK.fetch_add(1, Ordering::Relaxed);
        let since = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).map_or(0, |now| {
            let ticks = *TICKS;
            // Rounded down, as the kernel rounds start times; one tick
            // earlier still, to be safe.
            (u64::try_from(now.tv_sec()).unwrap_or(0) * ticks
                + u64::try_from(now.tv_nsec()).unwrap_or(0) * ticks / 1_000_000_000)
                .saturating_sub(1)
        });
        Mark { number, since }
    }

    /// The value of [`MARK_VAR`] for this run.
    pub fn value(&self) -> String {
        format!("{}{}", *MARK_PREFIX, self.number)
    }

    /// The mark number in an environment block (`/proc/PID/environ`), if
    /// it holds one of this daemon's marks.
    fn read(environ: &[u8]) -> Option<u64> {
        let value =
            environ.split(|&b| b == 0).find_map(|entry| entry.strip_prefix(MARK_VAR.as_bytes())?.strip_prefix(b"="))?;
        std::str::from_utf8(value.strip_prefix(MARK_PREFIX.as_bytes())?).ok()?.parse().ok()
    }
}

impl Default for Mark {
    fn default() -> Self {
        Self::new()
    }
}

/// Starts `cmd` as a tool run: in a process group of its own, with a new
/// [`Mark`] in its environment, killed when its [`Child`] is dropped. The
/// returned guard owns the group and is registered in `registry`.
pub fn spawn(cmd: &mut Command, registry: &ProcessRegistry) -> io::Result<(Child, ProcessGroup)> {
    let mark = Mark::new();
    let child = cmd.env(MARK_VAR, mark.value()).process_group(0).kill_on_drop(true).spawn()?;
    // `id` is only `None` once the child has been waited for.
    let pid = child.id().ok_or_else(|| io::Error::other("the tool exited before it could be tracked"))?;
    let group = ProcessGroup::register(to_pid(pid), Some(mark), registry);
    *SHORTAGE_OUTLASTED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    Ok((child, group))
}

/// Guard for the process group of one spawned tool; kills the whole group
/// with `SIGKILL` when dropped.
///
/// Create it right after spawning a child with `process_group(0)`: the group
/// id is then the child's pid.
#[derive(Debug)]
pub struct ProcessGroup {
    tool: Tool,
    registration: Option<(ProcessRegistry, u64)>,
}

/// One tool run as the registry knows it: its group (whose id is the
/// tool's pid) and the mark its processes carry, if it was given one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tool {
    pgid: Pid,
    mark: Option<Mark>,
}

impl ProcessGroup {
    /// Takes ownership of the process group `pgid` (the pid of a child spawned
    /// with `process_group(0)`) and registers it in `registry` until dropped.
    /// A tool started with [`spawn`] gets its guard from there, with its mark.
    pub fn new(pgid: u32, registry: &ProcessRegistry) -> Self {
        Self::register(to_pid(pgid), None, registry)
    }

    fn register(pgid: Pid, mark: Option<Mark>, registry: &ProcessRegistry) -> Self {
        let tool = Tool { pgid, mark };
        let id = registry.insert(tool);
        // A kill of the view that began before the group was in it (the
        // tool spawned while its child was being stopped) did not see it:
        // the view's use is over, so the group goes now. (The kill marks
        // the view before it lists the groups, and the group is listed
        // before this looks: one of the two sees the other.)
        if registry.was_killed() {
            kill_tools(&[tool]);
        }
        ProcessGroup { tool, registration: Some((registry.clone(), id)) }
    }

    /// Takes ownership of the process group `pgid` without registering it
    /// anywhere; it is still killed on drop.
    pub fn unregistered(pgid: u32) -> Self {
        ProcessGroup { tool: Tool { pgid: to_pid(pgid), mark: None }, registration: None }
    }

    /// The process group id (the pid of the child that leads it).
    pub fn pgid(&self) -> Pid {
        self.tool.pgid
    }

    /// Sends `signal` to every process of the group. Returns `false` when the
    /// group no longer exists (`ESRCH`); other errors are logged and count as
    /// "still there".
    pub fn signal(&self, signal: Signal) -> bool {
        send(self.tool.pgid, Some(signal))
    }

    /// Sends `SIGKILL` to every process of the group, ignoring a group that is
    /// already gone, and, while its leader (the tool) still runs, to the
    /// processes of the tool's run outside the group.
    pub fn kill(&self) {
        kill_tools(&[self.tool]);
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
        if let Some((registry, id)) = self.registration.take() {
            registry.remove(id);
        }
    }
}

/// The live process groups started on behalf of one validator actor.
///
/// Cheap to clone; clones share the same set. A [`scoped`](Self::scoped)
/// registry (one actor generation's, one job's) registers its groups in the
/// same set and in every scope it was derived from, and sees and signals
/// only its own.
#[derive(Clone, Debug, Default)]
pub struct ProcessRegistry {
    inner: Arc<Inner>,
    scope: Option<Arc<Scope>>,
}

/// The groups registered through one scoped view, and the scope it was
/// derived from.
#[derive(Debug, Default)]
struct Scope {
    ids: Mutex<BTreeSet<u64>>,
    parent: Option<Arc<Scope>>,
    /// Set (for good) when a kill of this view's tools began: see
    /// [`ProcessRegistry::was_killed`].
    killed: AtomicBool,
    /// When the job this view is for times out, if it does (see
    /// [`ProcessRegistry::deadline`]).
    deadline: Option<tokio::time::Instant>,
}

impl Scope {
    fn ids(&self) -> MutexGuard<'_, BTreeSet<u64>> {
        self.ids.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// This scope and those it was derived from, innermost first.
    fn chain(self: &Arc<Self>) -> impl Iterator<Item = &Arc<Scope>> {
        std::iter::successors(Some(self), |scope| scope.parent.as_ref())
    }
}

#[derive(Debug, Default)]
struct Inner {
    next_id: AtomicU64,
    groups: Mutex<BTreeMap<u64, Tool>>,
    /// The groups a [`ProcessRegistry::terminate_all`] is ending (SIGTERM
    /// sent, their grace running).
    terminating: Mutex<BTreeSet<u64>>,
    /// Set (for good) when a kill of every tool began.
    killed: AtomicBool,
}

/// The tools registered in any registry of this process (the daemon's
/// every validator): what a lasting shortage is judged by (see
/// [`shortage_lasts`]).
static TOOLS_REGISTERED: AtomicUsize = AtomicUsize::new(0);

/// When a start last waited as long as it could for descriptors or
/// processes and gave up; cleared by the next start that succeeds.
static SHORTAGE_OUTLASTED: Mutex<Option<std::time::Instant>> = Mutex::new(None);

/// Whether waiting for descriptors or processes to start a tool is
/// pointless: a start gave up on them less than `window` ago (having
/// waited as long as it could), none has succeeded since, and no tool of
/// the daemon's (of any validator) runs, to give any back when it ends.
/// A start that fails the same way then fails at once, so that a check of
/// a thousand files is not a thousand such waits; once `window` has
/// passed, the next one waits again. Every start is still tried once, and
/// the first to succeed ends the state.
pub fn shortage_lasts(window: Duration) -> bool {
    let at = *SHORTAGE_OUTLASTED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    lasts(at.map(|at| at.elapsed()), TOOLS_REGISTERED.load(Ordering::SeqCst), window)
}

/// [`shortage_lasts`], given how long ago a start gave up (if one did) and
/// how many tools run.
fn lasts(gave_up_ago: Option<Duration>, tools: usize, window: Duration) -> bool {
    gave_up_ago.is_some_and(|ago| ago < window) && tools == 0
}

/// Records a start that gave up for want of descriptors or processes after
/// waiting as long as it could (see [`shortage_lasts`]).
pub fn note_shortage_outlasted() {
    *SHORTAGE_OUTLASTED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(std::time::Instant::now());
}

/// Marks groups as terminating for as long as it lives.
struct Terminating<'a> {
    inner: &'a Inner,
    ids: Vec<u64>,
}

impl<'a> Terminating<'a> {
    fn mark(inner: &'a Inner, ids: Vec<u64>) -> Self {
        inner.terminating.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).extend(ids.iter().copied());
        Terminating { inner, ids }
    }
}

impl Drop for Terminating<'_> {
    fn drop(&mut self) {
        let mut set = self.inner.terminating.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for id in &self.ids {
            set.remove(id);
        }
    }
}

impl ProcessRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A narrower view, for one actor generation or one job: the groups
    /// registered through it are in this registry's set too (so killing all
    /// of them here kills them), but it sees, counts and signals only its
    /// own. A job's deadline thus terminates that job's tools, not those of
    /// the validator's other jobs; a stopped actor kills its own jobs'
    /// tools, not those of the actor that replaced it.
    pub fn scoped(&self) -> Self {
        self.scoped_until(self.deadline())
    }

    /// [`scoped`](Self::scoped), for a job that times out at `deadline`.
    pub fn scoped_until(&self, deadline: Option<tokio::time::Instant>) -> Self {
        let scope =
            Scope { ids: Mutex::default(), parent: self.scope.clone(), killed: AtomicBool::new(false), deadline };
        ProcessRegistry { inner: self.inner.clone(), scope: Some(Arc::new(scope)) }
    }

    /// When the job whose tools this view registers times out (its
    /// supervisor's deadline, which a tool must have answered by), if it
    /// was given one.
    pub fn deadline(&self) -> Option<tokio::time::Instant> {
        self.scope.as_ref().and_then(|s| s.deadline)
    }

    /// How many process groups are registered (alive, as far as the registry
    /// knows).
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether no process group is registered.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// The ids of the registered process groups.
    pub fn pgids(&self) -> Vec<Pid> {
        self.entries().into_iter().map(|(_, tool)| tool.pgid).collect()
    }

    /// The registered groups this registry sees: all of them, or its
    /// scope's.
    fn entries(&self) -> Vec<(u64, Tool)> {
        let groups = self.groups();
        match &self.scope {
            None => groups.iter().map(|(&id, &tool)| (id, tool)).collect(),
            Some(scope) => scope.ids().iter().filter_map(|id| groups.get(id).map(|&tool| (*id, tool))).collect(),
        }
    }

    /// Sends `SIGKILL` to every registered group, immediately, and to the
    /// processes of their running tools' runs outside them. The groups stay
    /// registered until their guards are dropped.
    pub fn kill_all(&self) {
        self.kill_all_now();
    }

    /// [`kill_all`](Self::kill_all) on tokio's blocking pool (it reads
    /// `/proc`, which an actor's handler must not wait for); falls back to
    /// killing right here outside a runtime. Await the handle to know the
    /// signals are sent.
    pub fn kill_all_in_background(&self) -> Option<tokio::task::JoinHandle<()>> {
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                let registry = self.clone();
                Some(rt.spawn_blocking(move || registry.kill_all_now()))
            }
            Err(_) => {
                self.kill_all_now();
                None
            }
        }
    }

    fn kill_all_now(&self) {
        self.mark_killed();
        let tools: Vec<Tool> = self.entries().into_iter().map(|(_, tool)| tool).collect();
        kill_tools(&tools);
    }

    /// Records that this view's tools are being killed, before any signal
    /// goes out (every caller ends the view's use: a child stopped, a
    /// validator retired, the daemon stopping, a job abandoned).
    fn mark_killed(&self) {
        match &self.scope {
            Some(scope) => scope.killed.store(true, Ordering::SeqCst),
            None => self.inner.killed.store(true, Ordering::SeqCst),
        }
    }

    /// Whether a kill of this view's tools, or of a view it was derived
    /// from, has begun (`kill_all` and the like; not `terminate_all`). A
    /// job's tool that then exits by `SIGKILL` was killed from outside,
    /// by a restart, a reload or the daemon stopping: that says nothing of
    /// the files it was checking.
    pub fn was_killed(&self) -> bool {
        self.inner.killed.load(Ordering::SeqCst)
            || self.scope.as_ref().is_some_and(|s| s.chain().any(|s| s.killed.load(Ordering::SeqCst)))
    }

    /// [`kill_all_in_background`](Self::kill_all_in_background), but for
    /// the groups a [`terminate_all`](Self::terminate_all) is ending: they
    /// keep their grace, and that call kills what is left of them at its
    /// end. For a validator taken out of service by a reload or restarted on
    /// request, neither of which is a reason to cut a timed-out tool's
    /// clean-up short.
    pub fn kill_all_but_terminating_in_background(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.mark_killed();
        let registry = self.clone();
        let kill = move || {
            let terminating = registry.inner.terminating.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let tools: Vec<Tool> =
                registry.entries().into_iter().filter(|(id, _)| !terminating.contains(id)).map(|(_, t)| t).collect();
            kill_tools(&tools);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => Some(rt.spawn_blocking(kill)),
            Err(_) => {
                kill();
                None
            }
        }
    }

    /// Sends `SIGTERM` to every registered group, waits up to `grace` for them
    /// to go away, then sends `SIGKILL` to the survivors.
    ///
    /// A group counts as gone when its guard has been dropped (the call that
    /// ran the tool noticed its exit and cleaned up) or when no process of the
    /// group exists any more. The processes of a running tool's run outside
    /// its group get the same signals, and the run is looked at once more
    /// after its group is gone, for what the tool's TERM handler left
    /// behind. Waiting uses tokio's clock, so this works under paused time
    /// too (where the grace period elapses virtually). Dropped before it is
    /// done (the daemon stops during the grace), it sends the survivors
    /// `SIGKILL` there and then: the processes that left their groups are
    /// known to nothing else once their tool has exited.
    pub async fn terminate_all(&self, grace: Duration) {
        let snapshot = self.entries();
        if snapshot.is_empty() {
            return;
        }
        let _terminating = Terminating::mark(&self.inner, snapshot.iter().map(|&(id, _)| id).collect());
        // Each group with the processes of its run outside it, found before
        // the signal makes their parents exit and orphans them, and sent
        // it. Reading `/proc` is blocking work: off the runtime's threads.
        let looks: Vec<Look> = snapshot.iter().map(|&(_, tool)| Look { tool, after_exit: false }).collect();
        let found = match tokio::task::spawn_blocking(move || {
            let found = Escaped::of_all(&looks, &HashSet::new());
            for escaped in found.iter().flatten() {
                Escaped::signal_all(escaped, Signal::SIGTERM);
            }
            found
        })
        .await
        {
            Ok(found) => found,
            Err(_) => vec![None; snapshot.len()],
        };
        let mut pending = Survivors {
            registry: self,
            pending: snapshot
                .into_iter()
                .zip(found)
                .map(|((id, tool), found)| Pending {
                    id,
                    tool,
                    ran: found.is_some(),
                    swept: false,
                    escaped: found.unwrap_or_default(),
                })
                .filter(|p| {
                    // A guard dropped while `/proc` was read took its group.
                    let group = self.groups().contains_key(&p.id) && terminate(p.tool.pgid);
                    group || !p.escaped.is_empty() || p.owes_sweep()
                })
                .collect(),
            done: false,
            gone: HashSet::new(),
        };
        tracing::debug!(groups = pending.pending.len(), ?grace, "sent SIGTERM to tool process groups");
        let deadline = tokio::time::Instant::now() + grace;
        for tick in 1u64.. {
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            // A TERM handler may start processes outside its group (and
            // stay, or not), and so may a process outside it as it goes:
            // look again every few polls (it reads `/proc`) and as soon as a
            // tool has gone. A known process is only taken for gone by a
            // look, and dropped at the next one, which finds what it left.
            if tick % LOOK_AGAIN_EVERY == 0 || pending.pending.iter().any(|p| p.owes_sweep() && !p.group_alive(self)) {
                pending.look_again().await;
            }
            pending.pending.retain(|p| p.group_alive(self) || !p.escaped.is_empty() || p.owes_sweep());
            if pending.pending.is_empty() {
                pending.done = true;
                return;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            tokio::time::sleep(POLL_INTERVAL.min(left)).await;
        }
        tracing::debug!(groups = pending.pending.len(), "tool processes survived SIGTERM; sending SIGKILL");
        // Stopped, nothing in the groups can start another process between
        // the last looks and the SIGKILL.
        for p in &pending.pending {
            if self.groups().contains_key(&p.id) {
                send(p.tool.pgid, Some(Signal::SIGSTOP));
            }
        }
        // Waited for within a bound: stopped groups must not wait for a busy
        // blocking pool. The blocking work kills everything either way; if
        // it is late, dropping `pending` kills what is known meanwhile.
        if let Ok(Ok(())) = tokio::time::timeout(LAST_LOOK, pending.finish()).await {
            pending.pending.clear();
        }
        pending.done = true;
    }

    fn groups(&self) -> MutexGuard<'_, BTreeMap<u64, Tool>> {
        self.inner.groups.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn insert(&self, tool: Tool) -> u64 {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.groups().insert(id, tool);
        TOOLS_REGISTERED.fetch_add(1, Ordering::SeqCst);
        for scope in self.scope.iter().flat_map(Scope::chain) {
            scope.ids().insert(id);
        }
        id
    }

    fn remove(&self, id: u64) {
        if self.groups().remove(&id).is_some() {
            TOOLS_REGISTERED.fetch_sub(1, Ordering::SeqCst);
        }
        for scope in self.scope.iter().flat_map(Scope::chain) {
            scope.ids().remove(&id);
        }
    }
}

/// One tool run that [`ProcessRegistry::terminate_all`] still waits for.
struct Pending {
    /// Its registration, while its guard holds it.
    id: u64,
    tool: Tool,
    /// Whether the tool still ran when the termination began: only then is
    /// what its run left behind its termination's doing, to be looked for.
    ran: bool,
    /// Whether its run has been looked at since its group was seen gone.
    swept: bool,
    /// The processes of its run outside its group.
    escaped: Vec<Escaped>,
}

impl Pending {
    /// Whether the group is still registered and has a process.
    fn group_alive(&self, registry: &ProcessRegistry) -> bool {
        registry.groups().contains_key(&self.id) && send(self.tool.pgid, None)
    }

    /// Whether the run must be looked at once more after its group is gone,
    /// for marked processes its tool's last moments started.
    fn owes_sweep(&self) -> bool {
        self.ran && self.tool.mark.is_some() && !self.swept
    }
}

/// What [`ProcessRegistry::terminate_all`] still waits for. Dropping it
/// sends it all `SIGKILL`.
struct Survivors<'a> {
    registry: &'a ProcessRegistry,
    pending: Vec<Pending>,
    /// Whether the termination took its last look: unless it did, it was
    /// interrupted, and dropping looks once more.
    done: bool,
    /// The known processes the last look saw gone: the next look drops them.
    gone: HashSet<Escaped>,
}

impl Survivors<'_> {
    /// What a look is given for each pending run: what to look for (if
    /// anything: by parent links while the tool runs, by the run's mark if
    /// it ran when the termination began) and its known processes outside
    /// the group.
    fn looks(&self) -> Vec<(Option<Look>, Vec<Escaped>)> {
        (self.pending.iter())
            .map(|p| {
                let marked = p.ran && p.tool.mark.is_some();
                let registered = self.registry.groups().contains_key(&p.id);
                let look = (marked || registered).then_some(Look { tool: p.tool, after_exit: marked });
                (look, p.escaped.clone())
            })
            .collect()
    }

    /// Looks again, off the runtime: drops the known processes that are
    /// gone, then adds those of the pending runs outside their groups that
    /// appeared since the last look, and sends each new one `SIGTERM`.
    async fn look_again(&mut self) {
        let gone: Vec<bool> = self.pending.iter().map(|p| !p.group_alive(self.registry)).collect();
        let looks = self.looks();
        let seen_gone = std::mem::take(&mut self.gone);
        let Ok((escaped, now_gone)) = tokio::task::spawn_blocking(move || {
            // The known processes the last look saw gone are dropped before
            // this look: what one left as it went existed before it went,
            // so before that look read it, and this look finds it. (Dropped
            // on what this look sees, a process that exits while it reads
            // `/proc`, leaving one, would be lost with what it left.)
            let pruned: Vec<(Option<Look>, Vec<Escaped>)> = looks
                .into_iter()
                .map(|(look, known)| (look, known.into_iter().filter(|e| !seen_gone.contains(e)).collect()))
                .collect();
            let wanted: Vec<Look> = pruned.iter().filter_map(|(look, _)| *look).collect();
            let known: HashSet<Escaped> = pruned.iter().flat_map(|(_, escaped)| escaped.iter().copied()).collect();
            let (found, now_gone) = Escaped::look(&wanted, &known);
            let mut found = found.into_iter();
            let escaped = pruned
                .into_iter()
                .map(|(look, mut escaped)| {
                    let new = look.and_then(|_| found.next()).flatten().unwrap_or_default();
                    Escaped::signal_all(&new, Signal::SIGTERM);
                    escaped.extend(new);
                    escaped
                })
                .collect::<Vec<_>>();
            (escaped, now_gone)
        })
        .await
        else {
            return;
        };
        self.gone = now_gone;
        for ((p, escaped), gone) in self.pending.iter_mut().zip(escaped).zip(gone) {
            p.escaped = escaped;
            p.swept |= gone;
        }
    }

    /// The end of the grace, off the runtime, with the groups stopped:
    /// stops the known processes outside them, looks again (stopping what
    /// it finds) until a look finds nothing new, then sends everything
    /// `SIGKILL`.
    async fn finish(&self) -> Result<(), tokio::task::JoinError> {
        let looks = self.looks();
        let groups: Vec<(u64, Pid)> = self.pending.iter().map(|p| (p.id, p.tool.pgid)).collect();
        let registry = self.registry.clone();
        tokio::task::spawn_blocking(move || {
            let wanted: Vec<Look> = looks.iter().filter_map(|(look, _)| *look).collect();
            let mut known: Vec<Escaped> = looks.into_iter().flat_map(|(_, known)| known).collect();
            let mut seen: HashSet<Escaped> = known.iter().copied().collect();
            Escaped::signal_all(&known, Signal::SIGSTOP);
            for _ in 0..KILL_ROUNDS {
                if wanted.is_empty() {
                    break;
                }
                let new: Vec<Escaped> = Escaped::of_all(&wanted, &seen).into_iter().flatten().flatten().collect();
                if new.is_empty() {
                    break;
                }
                Escaped::signal_all(&new, Signal::SIGSTOP);
                seen.extend(new.iter().copied());
                known.extend(new);
            }
            for (id, pgid) in groups {
                // A group whose guard is gone was killed by it, and its id
                // may since name another group.
                if registry.groups().contains_key(&id) {
                    send(pgid, Some(Signal::SIGKILL));
                }
            }
            Escaped::signal_all(&known, Signal::SIGKILL);
        })
        .await
    }
}

impl Drop for Survivors<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Interrupted (the runtime shuts down with the daemon): what a
            // tool that obeyed SIGTERM left since the last look is known to
            // nothing else. Looked for right here, as nothing will run
            // later.
            let marked: Vec<(usize, Look)> = (self.pending.iter().enumerate())
                .filter(|(_, p)| p.ran && p.tool.mark.is_some())
                .map(|(i, p)| (i, Look { tool: p.tool, after_exit: true }))
                .collect();
            if !marked.is_empty() {
                let looks: Vec<Look> = marked.iter().map(|&(_, look)| look).collect();
                let known: HashSet<Escaped> = self.pending.iter().flat_map(|p| p.escaped.iter().copied()).collect();
                for ((i, _), found) in marked.into_iter().zip(Escaped::of_all(&looks, &known)) {
                    self.pending[i].escaped.extend(found.unwrap_or_default());
                }
            }
        }
        for p in &self.pending {
            // A group whose guard is gone was killed by it, and its id may
            // since name another group.
            if self.registry.groups().contains_key(&p.id) {
                send(p.tool.pgid, Some(Signal::SIGKILL));
            }
            Escaped::signal_all(&p.escaped, Signal::SIGKILL);
        }
    }
}

/// What to look for on behalf of one tool run.
#[derive(Clone, Copy, Debug)]
struct Look {
    tool: Tool,
    /// Look for the run's marked processes even when the tool no longer
    /// runs.
    after_exit: bool,
}

/// A process of a tool's run outside the tool's process group, by pid and
/// start time (clock ticks after boot), which together name one process
/// even after its pid is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Escaped {
    pid: i32,
    start: u64,
}

impl Escaped {
    /// The processes of a running `tool`'s run outside its group.
    #[cfg(test)]
    fn of(tool: Tool) -> Vec<Escaped> {
        Self::of_all(&[Look { tool, after_exit: false }], &HashSet::new()).pop().flatten().unwrap_or_default()
    }

    /// For each look, the processes of its run outside the tool's group:
    /// while the tool (a child of this process) runs, its descendants
    /// through parent links; and, while it runs or after it exited if the
    /// look says so, every process that carries the run's mark. `None` when
    /// nothing was looked for: the tool does not run and the look is not
    /// `after_exit`. Leaves out the processes in `known` (found by an
    /// earlier look). Reads every process's `/proc/PID/stat` once, and the
    /// environment of those started since the oldest mark looked for and not
    /// known: only done when tools are killed. (Rereading the environments
    /// of thousands of known processes at every look made their `SIGKILL`
    /// most of a second late.)
    fn of_all(looks: &[Look], known: &HashSet<Escaped>) -> Vec<Option<Vec<Escaped>>> {
        Self::look(looks, known).0
    }

    /// [`Escaped::of_all`], and which of the `known` processes no longer
    /// ran when the look read `/proc` (gone, a zombie, or their pid taken by
    /// another process).
    fn look(looks: &[Look], known: &HashSet<Escaped>) -> (Vec<Option<Vec<Escaped>>>, HashSet<Escaped>) {
        let Ok(all) = procfs::process::all_processes() else { return (vec![None; looks.len()], HashSet::new()) };
        let stats: Vec<procfs::process::Stat> = all.flatten().filter_map(|p| p.stat().ok()).collect();
        let mut gone = known.clone();
        for st in stats.iter().filter(|st| !matches!(st.state, 'Z' | 'X')) {
            gone.remove(&Escaped { pid: st.pid, start: st.starttime });
        }
        let mut children: HashMap<i32, Vec<&procfs::process::Stat>> = HashMap::new();
        for st in &stats {
            children.entry(st.ppid).or_default().push(st);
        }
        let marked = Self::marked(&stats, looks, known);
        let ours = i32::try_from(std::process::id()).unwrap_or(0);
        let found = looks
            .iter()
            .map(|look| {
                let leader = look.tool.pgid.as_raw();
                // The leader must still be this process's child: once it
                // has been reaped its pid may name another process, whose
                // descendants are none of ours.
                let runs = stats.iter().any(|st| st.pid == leader && st.ppid == ours && !matches!(st.state, 'Z' | 'X'));
                if !runs && !look.after_exit {
                    return None;
                }
                let mut found = Vec::new();
                let mut pids = HashSet::new();
                let mut queue = if runs { vec![leader] } else { Vec::new() };
                while let Some(parent) = queue.pop() {
                    for child in children.get(&parent).into_iter().flatten() {
                        let e = Escaped { pid: child.pid, start: child.starttime };
                        if child.pgrp != leader && !matches!(child.state, 'Z' | 'X') && !known.contains(&e) {
                            found.push(e);
                            pids.insert(e.pid);
                        }
                        queue.push(child.pid);
                    }
                }
                if let Some(mark) = look.tool.mark {
                    for st in marked.get(&mark.number).into_iter().flatten() {
                        if st.pgrp != leader && st.starttime >= mark.since && pids.insert(st.pid) {
                            found.push(Escaped { pid: st.pid, start: st.starttime });
                        }
                    }
                }
                Some(found)
            })
            .collect();
        (found, gone)
    }

    /// The live processes that carry one of the looks' marks, by mark
    /// number. Only those started since the oldest of the marks can, and
    /// only those whose environment this process may read are found.
    fn marked<'a>(
        stats: &'a [procfs::process::Stat],
        looks: &[Look],
        known: &HashSet<Escaped>,
    ) -> HashMap<u64, Vec<&'a procfs::process::Stat>> {
        let mut marked: HashMap<u64, Vec<&procfs::process::Stat>> = HashMap::new();
        let wanted: Vec<Mark> = looks.iter().filter_map(|look| look.tool.mark).collect();
        let Some(since) = wanted.iter().map(|mark| mark.since).min() else { return marked };
        let ours = i32::try_from(std::process::id()).unwrap_or(0);
        // Kernel threads have no environment (and never one of ours).
        const PF_KTHREAD: u32 = 0x0020_0000;
        // The tools' groups are signalled whole: their members need no look.
        let groups: Vec<i32> = looks.iter().map(|look| look.tool.pgid.as_raw()).collect();
        let candidate = |st: &&procfs::process::Stat| {
            st.starttime >= since
                && st.pid != ours
                && st.flags & PF_KTHREAD == 0
                && !matches!(st.state, 'Z' | 'X')
                && !groups.contains(&st.pgrp)
                && !known.contains(&Escaped { pid: st.pid, start: st.starttime })
        };
        for st in stats.iter().filter(candidate) {
            let Some(environ) = environ_of(st.pid) else { continue };
            if let Some(number) = Mark::read(&environ)
                && wanted.iter().any(|mark| mark.number == number)
            {
                marked.entry(number).or_default().push(st);
            }
        }
        marked
    }

    /// Whether this very process still runs (not a zombie).
    fn runs(&self) -> bool {
        procfs::process::Process::new(self.pid)
            .and_then(|p| p.stat())
            .is_ok_and(|st| st.starttime == self.start && !matches!(st.state, 'Z' | 'X'))
    }

    fn signal_all(escaped: &[Escaped], signal: Signal) {
        for e in escaped.iter().filter(|e| e.runs()) {
            tracing::debug!(pid = e.pid, ?signal, "signalling a process of a tool's run outside its group");
            let _ = nix::sys::signal::kill(Pid::from_raw(e.pid), signal);
            // A stopped process acts on SIGTERM only once continued.
            if signal == Signal::SIGTERM {
                let _ = nix::sys::signal::kill(Pid::from_raw(e.pid), Signal::SIGCONT);
            }
        }
    }
}

/// How many more times a kill looks for processes, by their run's mark,
/// that the processes it killed started between the previous look and
/// their kill (and a termination's last look, for what the processes it
/// stops started before they stopped): until a look finds nothing new.
const KILL_ROUNDS: usize = 8;

/// Sends `SIGKILL` to each tool's group and, for the tools still running,
/// to the processes of their runs outside the groups: those found before
/// the kill, then, look after look, those a look by the run's mark finds
/// besides. Reads `/proc`: blocking work.
fn kill_tools(tools: &[Tool]) {
    let running: Vec<Tool> = tools.iter().copied().filter(|tool| leader_runs(tool.pgid)).collect();
    let looks: Vec<Look> = running.iter().map(|&tool| Look { tool, after_exit: false }).collect();
    let known: Vec<Escaped> = if looks.is_empty() {
        Vec::new()
    } else {
        Escaped::of_all(&looks, &HashSet::new()).into_iter().flatten().flatten().collect()
    };
    let mut seen: HashSet<Escaped> = known.iter().copied().collect();
    for tool in tools {
        send(tool.pgid, Some(Signal::SIGKILL));
    }
    Escaped::signal_all(&known, Signal::SIGKILL);
    let marked: Vec<Look> =
        running.iter().filter(|tool| tool.mark.is_some()).map(|&tool| Look { tool, after_exit: true }).collect();
    for _ in 0..KILL_ROUNDS {
        if marked.is_empty() {
            break;
        }
        let new: Vec<Escaped> = Escaped::of_all(&marked, &seen).into_iter().flatten().flatten().collect();
        if new.is_empty() {
            break;
        }
        Escaped::signal_all(&new, Signal::SIGKILL);
        seen.extend(new);
    }
}

/// How long an empty environment is read again while its process is in
/// the middle of `execve`.
const EXEC_SETTLE: Duration = Duration::from_millis(100);

/// The environment block a process started with (`/proc/PID/environ`), or
/// `None` if it cannot be read (gone, or another user's). A process that is
/// replacing its image shows none until its new memory is set up (its
/// `env_end` in `/proc/PID/stat` is 0 until then), which a busy machine can
/// stretch to milliseconds: such a read is tried again, a short sleep apart,
/// for up to [`EXEC_SETTLE`]. A truly empty environment (`env -i`) is
/// taken at once.
fn environ_of(pid: i32) -> Option<Vec<u8>> {
    let path = format!("/proc/{pid}/environ");
    let give_up = std::time::Instant::now() + EXEC_SETTLE;
    loop {
        let environ = std::fs::read(&path).ok()?;
        let set_up = || procfs::process::Process::new(pid).and_then(|p| p.stat()).map(|st| st.env_end != Some(0));
        if !environ.is_empty() || set_up().ok()? || std::time::Instant::now() >= give_up {
            return Some(environ);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Whether the leader of group `pgid` (the tool) still runs: a tool that
/// exited leaves nothing to find through parent links (its children went to
/// init as it died, before it was reaped).
fn leader_runs(pgid: Pid) -> bool {
    // The usual case, a tool reaped when it exited, costs one system call.
    nix::sys::signal::kill(pgid, None).is_ok()
        && procfs::process::Process::new(pgid.as_raw())
            .and_then(|p| p.stat())
            .is_ok_and(|st| !matches!(st.state, 'Z' | 'X'))
}

fn to_pid(pgid: u32) -> Pid {
    let raw = i32::try_from(pgid).expect("process ids fit in pid_t");
    // Group 0 or 1 would mean "our own group" / init: never signal those.
    assert!(raw > 1, "refusing to manage process group {raw}");
    Pid::from_raw(raw)
}

/// Sends a group `SIGTERM`, then `SIGCONT`: a stopped process (`kill
/// -STOP`, a tool that stopped itself) acts on the first only once
/// continued, and would otherwise sit out the whole grace period. Whether
/// the group still exists.
fn terminate(pgid: Pid) -> bool {
    let sent = send(pgid, Some(Signal::SIGTERM));
    if sent {
        let _ = killpg(pgid, Signal::SIGCONT);
    }
    sent
}

/// Signals a process group (`None`: only checks it exists). Returns `false`
/// when the group does not exist.
fn send(pgid: Pid, signal: Option<Signal>) -> bool {
    match killpg(pgid, signal) {
        Ok(()) => true,
        Err(Errno::ESRCH) => false,
        Err(e) => {
            tracing::warn!(%pgid, ?signal, error = %e, "cannot signal tool process group");
            true
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::path::Path;
    use std::process::Stdio;
    use std::time::Instant;
    use tokio::process::{Child, Command};

    /// Whether `pid` is a live process (zombies count as dead: nothing may
    /// reap reparented grandchildren in a container).
    pub(crate) fn alive(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => {
                let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
                !matches!(state, Some('Z' | 'X') | None)
            }
            Err(_) => false,
        }
    }

    /// Waits (in real time) until every pid is dead; returns the survivors.
    pub(crate) fn wait_dead(pids: &[i32], within: Duration) -> Vec<i32> {
        let start = Instant::now();
        loop {
            let survivors: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
            if survivors.is_empty() || start.elapsed() > within {
                return survivors;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Asserts that every one of `pids` dies within 5 s; kills the survivors
    /// first, so that a failure leaves nothing running (a survivor holding
    /// the test's output open would hang the test run).
    pub(crate) fn assert_all_die(pids: &[i32], what: &str) {
        let survivors = wait_dead(pids, Duration::from_secs(5));
        for &pid in &survivors {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        assert_eq!(survivors, Vec::<i32>::new(), "{what}");
    }

    /// Waits (in real time) until `path` holds `n` pids, one a line.
    pub(crate) fn read_pids(path: &Path, n: usize) -> Vec<i32> {
        let start = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(path) {
                let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
                if pids.len() >= n && text.ends_with('\n') {
                    return pids;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(10), "pids never appeared in {}", path.display());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Spawns `sh -c script` in its own group; the script is expected to write
    /// its pid and its grandchild's pid to `pids`.
    fn spawn(script: &str) -> Child {
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn sh")
    }

    /// Starts `sh -c script` as a tool, through [`super::spawn`]: in its
    /// own group, marked, registered in `registry`. Nothing that may
    /// outlive a failing test holds its output open.
    fn spawn_marked(script: &str, registry: &ProcessRegistry) -> (Child, ProcessGroup) {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        super::spawn(&mut cmd, registry).expect("spawn sh")
    }

    /// The tool's owner, as `command::run` is: reaps the tool and drops
    /// its guard as soon as it exits; resolves to its exit status.
    fn own(mut child: Child, guard: ProcessGroup) -> tokio::task::JoinHandle<std::process::ExitStatus> {
        tokio::spawn(async move {
            let status = child.wait().await.unwrap();
            drop(guard);
            status
        })
    }

    fn script(pids: &Path, ignore_term: bool) -> String {
        let trap = if ignore_term { "trap '' TERM; " } else { "" };
        format!("{trap}sleep 1000 & echo $$ > {p}.tmp; echo $! >> {p}.tmp; mv {p}.tmp {p}; wait", p = pids.display())
    }

    #[tokio::test]
    async fn dropping_the_guard_kills_the_group_and_deregisters() {
        let dir = tempfile::tempdir().unwrap();
        let pids_file = dir.path().join("pids");
        let registry = ProcessRegistry::new();
        let mut child = spawn(&script(&pids_file, true));
        let guard = ProcessGroup::new(child.id().unwrap(), &registry);
        assert_eq!(guard.pgid().as_raw() as u32, child.id().unwrap());
        assert_eq!(registry.len(), 1);
        let pids = read_pids(&pids_file, 2);
        assert!(pids.iter().all(|&p| alive(p)));

        drop(guard);
        assert!(registry.is_empty());
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(Signal::SIGKILL as i32));
        assert_eq!(wait_dead(&pids, Duration::from_secs(5)), Vec::<i32>::new());
    }

    /// A shortage a start gave up on lasts only while no tool of the
    /// daemon's runs, and only for its window; none lasts that no start
    /// gave up on.
    #[test]
    fn a_shortage_lasts_while_no_tool_runs_within_its_window() {
        let window = Duration::from_secs(2);
        assert!(lasts(Some(Duration::from_millis(10)), 0, window));
        assert!(!lasts(Some(Duration::from_millis(10)), 1, window), "a tool runs that may give back what it holds");
        assert!(!lasts(Some(Duration::from_secs(3)), 0, window), "past its window");
        assert!(!lasts(None, 0, window));
    }

    /// Every registry's tools are counted (another validator's too), while
    /// they run.
    #[tokio::test]
    async fn every_registrys_tools_count_while_they_run() {
        let dir = tempfile::tempdir().unwrap();
        let other_validator = ProcessRegistry::new();
        let mut child = spawn(&script(&dir.path().join("pids"), false));
        let guard = ProcessGroup::new(child.id().unwrap(), &other_validator);
        // (Other tests' tools may run too: at least this one.)
        assert!(TOOLS_REGISTERED.load(Ordering::SeqCst) >= 1);
        assert!(!shortage_lasts(Duration::from_secs(3600)));
        drop(guard);
        child.wait().await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn terminate_all_kills_groups_that_ignore_sigterm_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let pids_file = dir.path().join("pids");
        let registry = ProcessRegistry::new();
        let mut child = spawn(&script(&pids_file, true));
        let _guard = ProcessGroup::new(child.id().unwrap(), &registry);
        let pids = read_pids(&pids_file, 2);

        // A grace far longer than any real wait here, elapsed virtually; not
        // longer, since every few polls of it read `/proc` for real.
        let before = tokio::time::Instant::now();
        registry.terminate_all(Duration::from_secs(3)).await;
        assert!(tokio::time::Instant::now() - before >= Duration::from_secs(3));
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(Signal::SIGKILL as i32));
        assert_eq!(wait_dead(&pids, Duration::from_secs(5)), Vec::<i32>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn a_scoped_registry_terminates_only_its_own_groups() {
        let dir = tempfile::tempdir().unwrap();
        let registry = ProcessRegistry::new();
        let (mine, theirs) = (registry.scoped(), registry.scoped());
        let (mine_pids, theirs_pids) = (dir.path().join("mine"), dir.path().join("theirs"));
        let mut my_child = spawn(&script(&mine_pids, true));
        let _my_guard = ProcessGroup::new(my_child.id().unwrap(), &mine);
        let their_child = spawn(&script(&theirs_pids, false));
        let their_guard = ProcessGroup::new(their_child.id().unwrap(), &theirs);
        let (my_pids, their_pids) = (read_pids(&mine_pids, 2), read_pids(&theirs_pids, 2));
        assert_eq!((registry.len(), mine.len(), theirs.len()), (2, 1, 1));

        mine.terminate_all(Duration::from_secs(1)).await;
        assert_eq!(my_child.wait().await.unwrap().signal(), Some(Signal::SIGKILL as i32));
        assert_eq!(wait_dead(&my_pids, Duration::from_secs(5)), Vec::<i32>::new());
        // The other job's tool, which would obey SIGTERM, got nothing.
        assert!(their_pids.iter().all(|&p| alive(p)), "the other scope's tool was signalled");
        // Killing the whole registry reaches every scope's groups.
        registry.kill_all();
        assert_eq!(wait_dead(&their_pids, Duration::from_secs(5)), Vec::<i32>::new());
        drop(their_guard);
        assert_eq!((registry.len(), theirs.len()), (1, 0));
    }

    /// A validator actor's registry is a scope of the validator's, and its
    /// jobs' are scopes of that: a stopped actor (`verdict restart`, a
    /// crash) kills the tools of its own jobs, not a job the actor that
    /// replaced it has just started; the daemon stopping kills them all.
    #[tokio::test]
    async fn an_old_generation_kills_only_its_own_jobs_tools() {
        let dir = tempfile::tempdir().unwrap();
        let registry = ProcessRegistry::new();
        let (old, new) = (registry.scoped(), registry.scoped());
        let (old_job, new_job) = (old.scoped(), new.scoped());
        let (old_file, new_file) = (dir.path().join("old"), dir.path().join("new"));
        let mut old_child = spawn(&script(&old_file, false));
        let old_guard = ProcessGroup::new(old_child.id().unwrap(), &old_job);
        let new_child = spawn(&script(&new_file, false));
        let _new_guard = ProcessGroup::new(new_child.id().unwrap(), &new_job);
        let (old_pids, new_pids) = (read_pids(&old_file, 2), read_pids(&new_file, 2));
        assert_eq!((registry.len(), old.len(), old_job.len(), new.len(), new_job.len()), (2, 1, 1, 1, 1));

        old.kill_all_but_terminating_in_background().unwrap().await.unwrap();
        assert_eq!(old_child.wait().await.unwrap().signal(), Some(Signal::SIGKILL as i32));
        assert_eq!(wait_dead(&old_pids, Duration::from_secs(5)), Vec::<i32>::new());
        assert!(new_pids.iter().all(|&p| alive(p)), "the new generation's tool was killed");
        // A guard dropped leaves every scope it was registered in.
        drop(old_guard);
        assert_eq!((registry.len(), old.len(), old_job.len()), (1, 0, 0));
        registry.kill_all();
        assert_eq!(wait_dead(&new_pids, Duration::from_secs(5)), Vec::<i32>::new());
    }

    /// A reload or a restart kills every tool of the validator but those a
    /// termination is ending: they keep their grace.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn killing_all_but_the_terminating_spares_a_tool_in_its_grace() {
        let dir = tempfile::tempdir().unwrap();
        let registry = ProcessRegistry::new();
        let (mine, theirs) = (registry.scoped(), registry.scoped());
        let script = |r: &Path| {
            format!("trap '' TERM; echo $$ > {r}.tmp; mv {r}.tmp {r}; while :; do sleep 1; done", r = r.display())
        };
        let (ready_a, ready_b) = (dir.path().join("a"), dir.path().join("b"));
        let a = spawn(&script(&ready_a));
        let ga = ProcessGroup::new(a.id().unwrap(), &mine);
        let b = spawn(&script(&ready_b));
        let _gb = ProcessGroup::new(b.id().unwrap(), &theirs);
        let (pa, pb) = (read_pids(&ready_a, 1)[0], read_pids(&ready_b, 1)[0]);
        let terminating = tokio::spawn(async move { mine.terminate_all(Duration::from_secs(60)).await });
        let marked = Instant::now();
        while registry.inner.terminating.lock().unwrap().is_empty() {
            assert!(marked.elapsed() < Duration::from_secs(10), "the termination never started");
            tokio::task::yield_now().await;
        }
        registry.kill_all_but_terminating_in_background().unwrap().await.unwrap();
        assert_all_die(&[pb], "the other job's tool lived");
        assert!(alive(pa), "the terminating tool lost its grace");
        // Its termination dropped with its job (the daemon stopping, when
        // it may not even have sent SIGTERM yet): the job's group guard
        // kills it.
        terminating.abort();
        let _ = terminating.await;
        drop(ga);
        assert_all_die(&[pa], "the terminating tool outlived its job");
        assert!(registry.inner.terminating.lock().unwrap().is_empty(), "the mark outlived its termination");
    }

    #[tokio::test]
    async fn terminate_all_kills_what_a_term_handler_started_outside_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let (escaped_file, ready) = (dir.path().join("escaped"), dir.path().join("ready"));
        // SIGTERM makes the tool start a process in a session of its own,
        // which ignores SIGTERM; the tool runs on.
        let script = format!(
            "trap 'setsid sh -c \"trap \\\"\\\" TERM; exec sleep 1000\" & echo $! > {e}.tmp; mv {e}.tmp {e}' TERM\n\
             echo $$ > {r}.tmp; mv {r}.tmp {r}\nwhile :; do sleep 1 & wait; done",
            e = escaped_file.display(),
            r = ready.display()
        );
        let registry = ProcessRegistry::new();
        let mut child = spawn(&script);
        let _guard = ProcessGroup::new(child.id().unwrap(), &registry);
        read_pids(&ready, 1);
        // Time for the handler to fork and write on a loaded machine.
        registry.terminate_all(Duration::from_secs(3)).await;
        let escaped = read_pids(&escaped_file, 1)[0];
        assert_eq!(child.wait().await.unwrap().signal(), Some(Signal::SIGKILL as i32));
        assert_all_die(&[escaped], "the TERM handler's process lived");
    }

    #[tokio::test]
    async fn terminate_all_dropped_during_the_grace_kills_the_survivors() {
        let dir = tempfile::tempdir().unwrap();
        let pids_file = dir.path().join("pids");
        let registry = ProcessRegistry::new();
        // The tool obeys SIGTERM; the process it started outside its group
        // does not, and once the tool is gone only `terminate_all` knows it.
        let script = format!(
            // (Ignoring it from birth: the signal may come before a trap
            // in it would be set.)
            "(trap '' TERM; exec setsid sleep 1000) & echo $! > {p}.tmp; echo $$ >> {p}.tmp; mv {p}.tmp {p}; wait",
            p = pids_file.display()
        );
        let child = spawn(&script);
        let guard = ProcessGroup::new(child.id().unwrap(), &registry);
        let pids = read_pids(&pids_file, 2);
        let escaped = pids[0];
        let pgid_of = |pid: i32| nix::unistd::getpgid(Some(Pid::from_raw(pid))).ok();
        let start = Instant::now();
        while pgid_of(escaped) == pgid_of(pids[1]) {
            assert!(start.elapsed() < Duration::from_secs(10), "the child never left the group");
            tokio::task::yield_now().await;
        }
        let owner = own(child, guard);
        let terminate = tokio::spawn({
            let registry = registry.clone();
            async move { registry.terminate_all(Duration::from_secs(60)).await }
        });
        assert_eq!(owner.await.unwrap().signal(), Some(Signal::SIGTERM as i32));
        assert!(alive(escaped), "it ignores SIGTERM");
        // The daemon stops during the grace: its tasks are dropped.
        terminate.abort();
        assert!(terminate.await.unwrap_err().is_cancelled());
        assert_all_die(&[escaped], "the escaped process outlived the dropped termination");
    }

    // Two workers: the test waits for the process file in real time while
    // the termination runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn terminate_all_dropped_during_the_grace_looks_once_more_for_marked_processes() {
        let dir = tempfile::tempdir().unwrap();
        let (late, ready) = (dir.path().join("late"), dir.path().join("ready"));
        // SIGTERM makes the tool daemonise a process that ignores SIGTERM
        // (its parent exits at once) and run on.
        let script = format!(
            "trap 'trap \"\" TERM HUP; (setsid sh -c \"echo \\$\\$ > {l}.tmp; mv {l}.tmp {l}; exec sleep 1005\" &)' TERM\n\
             echo $$ > {r}.tmp; mv {r}.tmp {r}\nwhile :; do sleep 1 & wait; done",
            l = late.display(),
            r = ready.display()
        );
        let registry = ProcessRegistry::new();
        let (mut child, _guard) = spawn_marked(&script, &registry);
        read_pids(&ready, 1);
        let terminate = tokio::spawn({
            let registry = registry.clone();
            async move { registry.terminate_all(Duration::from_secs(60)).await }
        });
        // Dropped as soon as the process exists: before the termination's
        // next look (every 30 ms) in all but a few runs, so only the look
        // of the drop itself finds it.
        let late = read_pids(&late, 1)[0];
        terminate.abort();
        assert!(terminate.await.unwrap_err().is_cancelled());
        assert_eq!(child.wait().await.unwrap().signal(), Some(Signal::SIGKILL as i32));
        assert_all_die(&[late], "the TERM handler's process outlived the dropped termination");
    }

    #[tokio::test]
    async fn terminate_all_returns_early_when_the_tool_obeys_sigterm() {
        let dir = tempfile::tempdir().unwrap();
        let pids_file = dir.path().join("pids");
        let registry = ProcessRegistry::new();
        let child = spawn(&script(&pids_file, false));
        let guard = ProcessGroup::new(child.id().unwrap(), &registry);
        let pids = read_pids(&pids_file, 2);

        // terminate_all must not wait out the grace (an unreaped zombie
        // would otherwise keep the group "alive").
        let owner = own(child, guard);
        let grace = Duration::from_secs(20);
        let start = Instant::now();
        registry.terminate_all(grace).await;
        assert!(start.elapsed() < grace / 2, "waited {:?}", start.elapsed());
        let status = owner.await.unwrap();
        assert_eq!(status.signal(), Some(Signal::SIGTERM as i32));
        assert!(registry.is_empty());
        assert_eq!(wait_dead(&pids, Duration::from_secs(5)), Vec::<i32>::new());
    }

    /// A stopped tool (it stopped itself, and its child) is continued with
    /// its SIGTERM: it acts on it at once rather than sit out the grace
    /// period and be killed.
    #[tokio::test]
    async fn terminate_all_continues_a_stopped_tool() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pids");
        let registry = ProcessRegistry::new();
        let child = spawn(&format!(
            "sleep 1000 & echo $$ > {p}.tmp; echo $! >> {p}.tmp; mv {p}.tmp {p}; kill -STOP $!; kill -STOP $$; wait",
            p = p.display()
        ));
        let guard = ProcessGroup::new(child.id().unwrap(), &registry);
        let pids = read_pids(&p, 2);
        let stopped = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|st| st.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('T')))
        };
        let began = Instant::now();
        while !pids.iter().all(|&pid| stopped(pid)) {
            assert!(began.elapsed() < Duration::from_secs(10), "the tool did not stop");
            std::thread::sleep(Duration::from_millis(5));
        }
        let owner = own(child, guard);
        let grace = Duration::from_secs(20);
        let start = Instant::now();
        registry.terminate_all(grace).await;
        assert!(start.elapsed() < grace / 2, "waited {:?}", start.elapsed());
        assert_eq!(owner.await.unwrap().signal(), Some(Signal::SIGTERM as i32), "killed, not terminated");
        assert_eq!(wait_dead(&pids, Duration::from_secs(5)), Vec::<i32>::new());
    }

    /// A tool that starts a process in a session of its own (`setsid`),
    /// which ignores SIGTERM and SIGHUP, then waits; the script writes the
    /// tool's pid, then the escaped process's.
    fn escaping_script(pids: &Path) -> String {
        format!(
            // The tool's pid is written before the escaping process starts,
            // which appends its own and publishes both.
            "trap '' TERM; echo $$ > {p}.tmp; setsid sh -c \"trap '' TERM HUP; echo \\$\\$ >> {p}.tmp; mv {p}.tmp {p}; exec sleep 1002\" & wait",
            p = pids.display()
        )
    }

    /// Starts the escaping tool (see [`escaping_script`]) in a group
    /// registered in `registry`; returns its temporary directory, the tool,
    /// its guard, and the tool's and the escaped process's pids.
    fn start_escaping(registry: &ProcessRegistry) -> (tempfile::TempDir, Child, ProcessGroup, Vec<i32>) {
        let dir = tempfile::tempdir().unwrap();
        let pids_file = dir.path().join("pids");
        let child = spawn(&escaping_script(&pids_file));
        let guard = ProcessGroup::new(child.id().unwrap(), registry);
        let pids = read_pids(&pids_file, 2);
        (dir, child, guard, pids)
    }

    #[tokio::test(start_paused = true)]
    async fn terminate_all_kills_what_left_the_group_too() {
        let registry = ProcessRegistry::new();
        let (_dir, mut child, _guard, pids) = start_escaping(&registry);
        // The pids are published by `mv`, a child of the escaped shell that
        // may not have exited yet (it is found too, rightly): wait for it.
        let start = Instant::now();
        let escaped = loop {
            let escaped: Vec<i32> =
                Escaped::of(Tool { pgid: Pid::from_raw(pids[0]), mark: None }).iter().map(|e| e.pid).collect();
            if escaped.len() < 2 || start.elapsed() > Duration::from_secs(5) {
                break escaped;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(escaped, [pids[1]], "found through its parent");
        registry.terminate_all(Duration::from_secs(3)).await;
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(Signal::SIGKILL as i32));
        assert_eq!(wait_dead(&pids, Duration::from_secs(5)), Vec::<i32>::new(), "the escaped process is gone too");
    }

    #[tokio::test]
    async fn dropping_the_guard_of_a_running_tool_kills_what_left_its_group() {
        let registry = ProcessRegistry::new();
        let (_dir, mut child, guard, pids) = start_escaping(&registry);
        drop(guard);
        child.wait().await.unwrap();
        assert_eq!(wait_dead(&pids, Duration::from_secs(5)), Vec::<i32>::new());
        // Once the tool is gone and reaped, its pid names nothing of ours.
        assert!(Escaped::of(Tool { pgid: Pid::from_raw(pids[0]), mark: None }).is_empty());
    }

    #[tokio::test]
    async fn kill_all_in_background_signals_groups_and_escapees_before_its_handle_resolves() {
        let registry = ProcessRegistry::new();
        let (_dir, mut child, _guard, pids) = start_escaping(&registry);
        let kill = registry.kill_all_in_background().expect("inside a runtime: a handle");
        kill.await.unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(Signal::SIGKILL as i32));
        // The escaped process was found through `/proc` before its parent died.
        assert_eq!(wait_dead(&pids, Duration::from_secs(5)), Vec::<i32>::new());
    }

    #[test]
    fn kill_all_in_background_kills_in_place_outside_a_runtime() {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let pids_file = dir.path().join("pids");
        let registry = ProcessRegistry::new();
        let mut child =
            std::process::Command::new("sh").arg("-c").arg(script(&pids_file, true)).process_group(0).spawn().unwrap();
        let _guard = ProcessGroup::new(child.id(), &registry);
        let pids = read_pids(&pids_file, 2);
        assert!(registry.kill_all_in_background().is_none());
        assert_eq!(child.wait().unwrap().signal(), Some(Signal::SIGKILL as i32));
        assert_eq!(wait_dead(&pids, Duration::from_secs(5)), Vec::<i32>::new());
    }

    #[test]
    fn a_mark_is_read_back_from_an_environment_block_and_only_this_daemons() {
        let mark = Mark::new();
        let block = format!("PATH=/bin\0{MARK_VAR}={}\0HOME=/\0", mark.value());
        assert_eq!(Mark::read(block.as_bytes()), Some(mark.number));
        assert_ne!(Mark::new().number, mark.number);
        let other_daemon = format!("{MARK_VAR}=0123456789abcdef.{}\0", mark.number);
        assert_ne!(other_daemon, format!("{MARK_VAR}={}\0", mark.value()), "prefixes are random");
        assert_eq!(Mark::read(other_daemon.as_bytes()), None);
        assert_eq!(Mark::read(format!("X{MARK_VAR}={}", mark.value()).as_bytes()), None);
        assert_eq!(Mark::read(b"PATH=/bin\0"), None);
        assert_eq!(Mark::read(b""), None);
    }

    /// Starts, through [`spawn`], a tool that daemonises a process (which
    /// ignores SIGTERM and SIGHUP) by a double fork: in a session of its
    /// own, with a parent that exits at once. It writes the daemon's pid to
    /// `daemon`, then, unless `exit`, runs on. Returns the tool, its guard
    /// and the daemon's pid.
    async fn start_daemonising(dir: &Path, registry: &ProcessRegistry, exit: bool) -> (Child, ProcessGroup, i32) {
        let daemon = dir.join("daemon");
        let script = format!(
            "(setsid sh -c \"trap '' TERM HUP; echo \\$\\$ > {d}.tmp; mv {d}.tmp {d}; exec sleep 1003\" &)\n\
             while [ ! -e {d} ]; do sleep 0.01; done\n{rest}",
            d = daemon.display(),
            rest = if exit { "exit 0" } else { "while :; do sleep 1 & wait; done" }
        );
        let (child, guard) = spawn_marked(&script, registry);
        let pid = read_pids(&daemon, 1)[0];
        (child, guard, pid)
    }

    #[tokio::test]
    async fn killing_a_running_tool_kills_what_it_daemonised_through_its_mark() {
        let dir = tempfile::tempdir().unwrap();
        let registry = ProcessRegistry::new();
        let (mut child, guard, daemon) = start_daemonising(dir.path(), &registry, false).await;
        let tool = guard.tool;
        // Its parent is gone: parent links no longer lead to it.
        let by_parents = Escaped::of(Tool { mark: None, ..tool }).iter().any(|e| e.pid == daemon);
        let by_mark = Escaped::of(tool).iter().any(|e| e.pid == daemon);
        registry.kill_all_in_background().expect("inside a runtime").await.unwrap();
        assert_eq!(child.wait().await.unwrap().signal(), Some(Signal::SIGKILL as i32));
        assert_all_die(&[daemon], "the daemonised process outlived its tool's kill");
        assert!(!by_parents && by_mark, "found by parent links: {by_parents}, by its mark: {by_mark}");
    }

    #[tokio::test]
    async fn what_a_tool_daemonises_before_it_exits_on_its_own_is_left_running() {
        let dir = tempfile::tempdir().unwrap();
        let registry = ProcessRegistry::new();
        let (mut child, guard, daemon) = start_daemonising(dir.path(), &registry, true).await;
        assert_eq!(child.wait().await.unwrap().code(), Some(0));
        drop(guard);
        // Nothing verdict does to a finished tool's run reaches it; a
        // termination of its registry finds nothing registered.
        registry.kill_all();
        registry.terminate_all(Duration::from_secs(1)).await;
        let left_alone = alive(daemon);
        let _ = nix::sys::signal::kill(Pid::from_raw(daemon), Signal::SIGKILL);
        assert!(left_alone, "a finished tool's daemon was killed");
        assert_all_die(&[daemon], "cleaning up");
    }

    #[tokio::test]
    async fn terminate_all_kills_what_a_term_handler_started_as_the_tool_exited() {
        let dir = tempfile::tempdir().unwrap();
        let (escaped_file, ready) = (dir.path().join("escaped"), dir.path().join("ready"));
        // SIGTERM makes the tool start a process in a session of its own,
        // which ignores SIGTERM, and exit as soon as that process has left
        // the group (it writes its pid then): the process's parent is gone
        // before the first look by parent links, 30 ms into the grace.
        let script = format!(
            "trap 'trap \"\" TERM; setsid sh -c \"echo \\$\\$ > {e}.tmp; mv {e}.tmp {e}; exec sleep 1004\" &\n\
             while [ ! -e {e} ]; do sleep 0.01; done; exit 0' TERM\n\
             echo $$ > {r}.tmp; mv {r}.tmp {r}\nwhile :; do sleep 1 & wait; done",
            e = escaped_file.display(),
            r = ready.display()
        );
        let registry = ProcessRegistry::new();
        let (child, guard) = spawn_marked(&script, &registry);
        read_pids(&ready, 1);
        let owner = own(child, guard);
        // Time for the handler to fork and wait on a loaded machine.
        registry.terminate_all(Duration::from_secs(3)).await;
        assert_eq!(owner.await.unwrap().code(), Some(0), "the TERM handler ran and exited");
        let escaped = read_pids(&escaped_file, 1)[0];
        assert_all_die(&[escaped], "the TERM handler's process outlived its tool");
    }

    /// The live processes (zombies aside) that carry `mark`.
    fn carrying(mark: Mark) -> Vec<i32> {
        let needle = format!("{MARK_VAR}={}\0", mark.value());
        (std::fs::read_dir("/proc").unwrap().flatten())
            .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&pid| {
                alive(pid)
                    && std::fs::read(format!("/proc/{pid}/environ"))
                        .is_ok_and(|env| env.windows(needle.len()).any(|w| w == needle.as_bytes()))
            })
            .collect()
    }

    /// Starts, through [`spawn`], a tool that daemonises a process which
    /// ignores SIGTERM and starts a `sleep` every 5 ms, all carrying the
    /// run's mark; returns the tool, its guard and its mark.
    fn start_forking_daemon(dir: &Path, registry: &ProcessRegistry) -> (Child, ProcessGroup, Mark) {
        let daemon = dir.join("daemon");
        let script = format!(
            "(trap '' TERM HUP; exec setsid sh -c 'echo $$ > {d}.tmp; mv {d}.tmp {d}; while :; do sleep 1007 & sleep 0.005; done' &)\n\
             while :; do sleep 1 & wait; done",
            d = daemon.display()
        );
        let (child, guard) = spawn_marked(&script, registry);
        read_pids(&daemon, 1);
        let mark = guard.tool.mark.expect("spawn marks");
        // Let it fork for a while.
        std::thread::sleep(Duration::from_millis(100));
        (child, guard, mark)
    }

    #[tokio::test]
    async fn killing_a_tool_kills_what_its_forking_daemon_started_up_to_the_kill() {
        let dir = tempfile::tempdir().unwrap();
        let registry = ProcessRegistry::new();
        let (mut child, _guard, mark) = start_forking_daemon(dir.path(), &registry);
        registry.kill_all_in_background().expect("inside a runtime").await.unwrap();
        assert_eq!(child.wait().await.unwrap().signal(), Some(Signal::SIGKILL as i32));
        assert_all_die(&carrying(mark), "processes of the killed run lived");
    }

    #[tokio::test]
    async fn terminating_a_tool_kills_what_its_forking_daemon_started_up_to_the_kill() {
        let dir = tempfile::tempdir().unwrap();
        let registry = ProcessRegistry::new();
        let (mut child, _guard, mark) = start_forking_daemon(dir.path(), &registry);
        registry.terminate_all(Duration::from_millis(300)).await;
        // The tool obeys SIGTERM; its daemon does not.
        assert_eq!(child.wait().await.unwrap().signal(), Some(Signal::SIGTERM as i32));
        assert_all_die(&carrying(mark), "processes of the terminated run lived");
    }

    #[tokio::test]
    async fn terminate_all_kills_what_a_process_outside_the_group_leaves_as_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).display().to_string();
        // E, outside the tool's group, answers SIGTERM slowly (counting,
        // without a process of its own to find): after the tool is gone, it
        // daemonises Y (which ignores SIGTERM) and exits.
        std::fs::write(path("y.sh"), format!("echo $$ > {y}.tmp; mv {y}.tmp {y}; exec sleep 1006\n", y = path("y")))
            .unwrap();
        std::fs::write(
            path("e.sh"),
            format!(
                "trap 'i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; trap \"\" TERM HUP; (setsid sh {ys} </dev/null >/dev/null 2>&1 &); exit 0' TERM\n\
                 echo $$ > {e}.tmp; mv {e}.tmp {e}\nwhile :; do sleep 1 & wait; done\n",
                ys = path("y.sh"),
                e = path("e")
            ),
        )
        .unwrap();
        let script = format!(
            "setsid sh {es} </dev/null >/dev/null 2>&1 &\nwhile [ ! -e {e} ]; do sleep 0.01; done\n\
             echo $$ > {r}.tmp; mv {r}.tmp {r}\nwhile :; do sleep 1 & wait; done",
            es = path("e.sh"),
            e = path("e"),
            r = path("ready")
        );
        let registry = ProcessRegistry::new();
        let (child, guard) = spawn_marked(&script, &registry);
        read_pids(dir.path().join("ready").as_path(), 1);
        let e = read_pids(dir.path().join("e").as_path(), 1)[0];
        let owner = own(child, guard);
        registry.terminate_all(Duration::from_secs(3)).await;
        assert_eq!(owner.await.unwrap().signal(), Some(Signal::SIGTERM as i32));
        let y = read_pids(dir.path().join("y").as_path(), 1)[0];
        assert_all_die(&[e, y], "E, or what it left as it went, lived");
    }

    /// A tool spawned while its view was being killed, registered only
    /// after the kill listed the view's groups (a stress run saw one live
    /// on, under two busy loops, until its job ended).
    #[tokio::test]
    async fn a_group_registered_after_a_kill_of_its_view_is_killed_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let registry = ProcessRegistry::new();
        let (view, other) = (registry.scoped(), registry.scoped());
        view.kill_all();
        let pids_file = dir.path().join("pids");
        let mut late = spawn(&script(&pids_file, true));
        let _guard = ProcessGroup::new(late.id().unwrap(), &view);
        let status =
            tokio::time::timeout(Duration::from_secs(10), late.wait()).await.expect("killed, not left running");
        assert_eq!(status.unwrap().signal(), Some(Signal::SIGKILL as i32));
        // Another view of the same registry is not killed.
        let kept_file = dir.path().join("kept");
        let mut kept = spawn(&script(&kept_file, true));
        let kept_guard = ProcessGroup::new(kept.id().unwrap(), &other);
        let kept_pids = read_pids(&kept_file, 2);
        assert!(kept_pids.iter().all(|&p| alive(p)), "a view not killed keeps its tools");
        drop(kept_guard);
        assert_eq!(kept.wait().await.unwrap().signal(), Some(Signal::SIGKILL as i32));
    }

    #[tokio::test]
    async fn kill_all_kills_every_group_immediately() {
        let dir = tempfile::tempdir().unwrap();
        let registry = ProcessRegistry::new();
        let mut children = Vec::new();
        let mut guards = Vec::new();
        let mut pids = Vec::new();
        for i in 0..2 {
            let pids_file = dir.path().join(format!("pids{i}"));
            let child = spawn(&script(&pids_file, true));
            guards.push(ProcessGroup::new(child.id().unwrap(), &registry));
            children.push(child);
            pids.extend(read_pids(&pids_file, 2));
        }
        assert_eq!(registry.len(), 2);
        registry.kill_all();
        for child in &mut children {
            let status = child.wait().await.unwrap();
            assert_eq!(status.signal(), Some(Signal::SIGKILL as i32));
        }
        assert_eq!(wait_dead(&pids, Duration::from_secs(5)), Vec::<i32>::new());
        assert_eq!(registry.len(), 2, "guards stay registered until dropped");
        drop(guards);
        assert!(registry.is_empty());
        // Nothing registered: returns at once.
        registry.terminate_all(Duration::from_secs(60)).await;
    }
}
