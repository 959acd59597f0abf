//! The supervisor actor: owns one linked validator child per enabled
//! validator, restarts failed children under their restart policy, kills
//! children whose job missed its deadline, quarantines crash loops, and
//! applies configuration reloads.
//!
//! A reload that changes or removes a validator retires its child instead of
//! stopping it: check runs in flight hold its handle and finish on it (on the
//! configuration they started with); it stops once none does.
//!
//! Check runs never hold the supervisor's attention per job: they get a
//! [`ValidatorHandle`] per validator (its current child through a `watch`
//! channel, a concurrency semaphore, its process registry) and talk to the
//! children directly. They report deadline expiries back with
//! [`SupervisorMessage::JobTimedOut`].

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// tokio's clock, so that restart policy timing follows paused time in tests.
use tokio::time::Instant;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;
use tokio::sync::{Semaphore, watch};
use tracing::{info, warn};
use verdict_actors::process::ProcessRegistry;
use verdict_actors::validator::{InlineWork, Validator, ValidatorArguments, ValidatorMessage, ValidatorWork, Work};

use crate::config::{RestartPolicy, ValidatorConfig, ValidatorKind};

/// Supervision events kept for `status`.
const EVENTS_KEPT: usize = 100;
/// Relative jitter applied to restart backoff (±20 %).
const JITTER: f64 = 0.2;

/// Where a validator's child stands, as check runs see it.
#[derive(Clone, Debug)]
pub enum Slot {
    /// Accepting jobs.
    Running(ActorRef<ValidatorMessage>),
    /// Between a failure and its restart.
    Restarting,
    /// Past its restart intensity; jobs get an error until restarted.
    Quarantined(String),
    /// Stopped with the daemon, or a retired child no run holds any more.
    Stopped,
}

/// What a check run needs to use one validator.
pub struct ValidatorHandle {
    /// Its effective configuration.
    pub config: ValidatorConfig,
    /// Its identity (part of every cache key).
    pub identity: [u8; 16],
    /// Its current child.
    pub slot: watch::Receiver<Slot>,
    /// Jobs allowed at once, across all check runs.
    pub permits: Arc<Semaphore>,
    /// Whether its jobs need the files' bytes (built-ins).
    pub needs_content: bool,
    /// Whether binary files are left out of its selection.
    pub text_only: bool,
    /// Its `files` and `exclude` globs, compiled once for every check (a
    /// check compiling them anew took tens of milliseconds of a worker
    /// thread); why not, if they do not compile.
    pub filter: Result<Arc<crate::config::FileFilter>, String>,
    /// Whether its results may be cached (false when its version is unknown).
    pub cacheable: bool,
    /// Why they may not be, for `status`.
    pub not_cached: Option<String>,
    /// The check a run calls on each file's bytes, for an inline validator
    /// (the built-ins); `None` for one that takes jobs.
    pub inline: Option<Arc<dyn InlineWork>>,
    /// Jobs completed (for an inline validator: files checked), for `status`.
    pub jobs_done: Arc<AtomicU64>,
    /// An inline validator's checks that timed out or were detached and
    /// have not returned yet: each holds a thread of the blocking pool.
    pub stuck: Arc<AtomicU64>,
}

/// Everything the supervisor needs to run one validator.
pub struct ValidatorSpec {
    /// The validator's configuration.
    pub config: ValidatorConfig,
    /// Its identity.
    pub identity: [u8; 16],
    /// What it runs.
    pub work: ValidatorWork,
    /// Whether jobs need content.
    pub needs_content: bool,
    /// Whether binary files are skipped.
    pub text_only: bool,
    /// Why its results may not be cached (its `version` command failed);
    /// `None` when they may.
    pub not_cached: Option<String>,
}

/// What a reload changed (supervisorctl's `update` report).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ApplyReport {
    /// Validators started.
    pub added: Vec<String>,
    /// Validators restarted with a new configuration.
    pub changed: Vec<String>,
    /// Validators stopped.
    pub removed: Vec<String>,
    /// Validators left running.
    pub unchanged: Vec<String>,
}

/// One supervision event, as kept for `status`.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Unix time in milliseconds.
    pub at_ms: u64,
    /// The validator.
    pub validator: String,
    /// `started`, `failed`, `restarted`, `timed_out`, `quarantined`, `stopped`.
    pub event: &'static str,
    /// Detail (failure reason, delay, …).
    pub detail: String,
}

/// One validator's state, for `status`.
#[derive(Clone, Debug, Serialize)]
pub struct ChildStatus {
    /// Its name.
    pub name: String,
    /// `builtin:<name>` or `command`.
    pub kind: String,
    /// Its dimension.
    pub dimension: String,
    /// `running`, `restarting`, `quarantined`.
    pub state: &'static str,
    /// Restarts after failures since its child was started for its present
    /// configuration (`restart` keeps the count and is not counted; a
    /// reload that changes it starts afresh).
    pub restarts: u64,
    /// Jobs completed by its children.
    pub jobs_done: u64,
    /// Its most recent failure.
    pub last_failure: Option<String>,
    /// Why its results are not cached, when they are not.
    pub not_cached: Option<String>,
}

/// A validator's former child, replaced or removed by a reload and kept
/// for the check runs that started with it, for `status`.
#[derive(Clone, Debug, Serialize)]
pub struct RetiringStatus {
    /// The validator's name.
    pub name: String,
    /// `builtin:<name>` or `command` (of the configuration it runs).
    pub kind: String,
    /// `running`, `restarting` or `quarantined`: it is supervised as the
    /// validator's current child is, under its own restart policy; briefly
    /// `stopped` when it failed (or its backoff ended) with no run left.
    pub state: &'static str,
    /// How many check runs still hold it.
    pub checks: usize,
    /// Jobs completed by its children.
    pub jobs_done: u64,
}

/// `status`'s view of the supervisor.
#[derive(Clone, Debug, Serialize)]
pub struct SupervisorStatus {
    /// Every validator.
    pub validators: Vec<ChildStatus>,
    /// Former children kept until the check runs that use them end.
    pub retiring: Vec<RetiringStatus>,
    /// The latest supervision events, oldest first.
    pub events: Vec<Event>,
}

/// Messages to the supervisor.
pub enum SupervisorMessage {
    /// Make the set of validators equal to these: start, stop, restart.
    Apply(Vec<ValidatorSpec>, RpcReplyPort<ApplyReport>),
    /// Restart a validator now (also out of quarantine).
    Restart(String, RpcReplyPort<Result<(), String>>),
    /// A check run's job on this child missed its deadline: kill the child
    /// and its processes, and restart it under the policy.
    JobTimedOut {
        /// The validator.
        name: String,
        /// The child that had the job.
        actor: ActorId,
        /// What it was working on.
        file: String,
        /// The deadline.
        after: Duration,
    },
    /// A scheduled restart is due (internal).
    RestartChild {
        /// The validator.
        name: String,
        /// Ignored if the validator was replaced since.
        generation: u64,
        /// The backoff waited, for the event.
        delay: Duration,
    },
    /// Stop the retiring children that no check run uses any more (internal).
    ReapRetired,
    /// The handles check runs use.
    GetHandles(RpcReplyPort<Vec<Arc<ValidatorHandle>>>),
    /// State for `status`.
    GetStatus(RpcReplyPort<SupervisorStatus>),
    /// Stop every child (daemon shutdown).
    StopAll(RpcReplyPort<()>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChildState {
    Running,
    Restarting,
    Quarantined,
    Stopped,
}

impl ChildState {
    /// As `status` says it.
    fn label(self) -> &'static str {
        match self {
            ChildState::Running => "running",
            ChildState::Restarting => "restarting",
            ChildState::Quarantined => "quarantined",
            ChildState::Stopped => "stopped",
        }
    }
}

struct Child {
    handle: Arc<ValidatorHandle>,
    slot: watch::Sender<Slot>,
    work: Option<Arc<dyn Work>>,
    registry: ProcessRegistry,
    actor: Option<ActorRef<ValidatorMessage>>,
    generation: u64,
    state: ChildState,
    started_at: Instant,
    recent_restarts: VecDeque<Instant>,
    attempt: u32,
    restarts_total: u64,
    last_failure: Option<String>,
    /// Why we killed the current child ourselves (a deadline), so the
    /// termination event is read as that failure.
    kill_reason: Option<String>,
    /// Why a reload retired it (for its `stopped` event, once it stops).
    retired_why: &'static str,
}

/// The supervisor (no configuration of its own).
pub struct Supervisor;

/// The supervisor's state.
#[derive(Default)]
pub struct SupervisorState {
    children: HashMap<String, Child>,
    /// Each live child actor's generation (its `Child`, current or
    /// retiring); an actor stopped on purpose is taken out first, so that
    /// its end is not read as a failure.
    by_actor: HashMap<ActorId, u64>,
    events: VecDeque<Event>,
    generation: u64,
    /// Children replaced or removed by a reload, kept running until the check
    /// runs that started with them have finished.
    retiring: Vec<Child>,
    /// Whether a `ReapRetired` is on its way (one at a time, however many
    /// reloads leave retiring children).
    reap_due: bool,
}

/// How often retiring children are looked at.
const REAP_EVERY: Duration = Duration::from_millis(200);

/// The delay before restart number `attempt` (0-based) under `policy`:
/// the first restart is immediate, then `backoff` doubling up to
/// `backoff_max`, scaled by `1 + JITTER * (2u - 1)` for `u` in [0, 1).
pub fn restart_delay(policy: &RestartPolicy, attempt: u32, u: f64) -> Duration {
    if attempt == 0 {
        return Duration::ZERO;
    }
    let base = policy.backoff.saturating_mul(1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX));
    let capped = base.min(policy.backoff_max);
    capped.mul_f64((1.0 + JITTER * (2.0 * u - 1.0)).max(0.0))
}

/// `builtin:<name>` or `command`, for `status`.
pub fn kind_label(config: &ValidatorConfig) -> String {
    match &config.kind {
        ValidatorKind::Builtin { kind, .. } => format!("builtin:{}", kind.name()),
        ValidatorKind::Command(_) => "command".into(),
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl SupervisorState {
    fn event(&mut self, validator: &str, event: &'static str, detail: String) {
        match event {
            "failed" | "timed_out" | "quarantined" => warn!(validator, event, %detail, "supervision event"),
            _ => info!(validator, event, %detail, "supervision event"),
        }
        if self.events.len() == EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(Event { at_ms: now_ms(), validator: validator.into(), event, detail });
    }

    /// A child's `failed` event, unless it is a timeout's, said already.
    fn failed(&mut self, validator: &str, reason: String, timed_out: bool) {
        if !timed_out {
            self.event(validator, "failed", reason);
        }
    }

    /// The child of this generation: the validator's current one, or one
    /// a reload retired.
    fn child_mut(&mut self, generation: u64) -> Option<&mut Child> {
        match self.children.values_mut().find(|c| c.generation == generation) {
            Some(c) => Some(c),
            None => self.retiring.iter_mut().find(|c| c.generation == generation),
        }
    }

    /// Whether the child of this generation is one a reload retired.
    fn is_retiring(&self, generation: u64) -> bool {
        self.retiring.iter().any(|c| c.generation == generation)
    }

    /// The events' wording for a child: a retired one is named as such.
    fn said(&self, generation: u64, detail: String) -> String {
        if self.is_retiring(generation) { format!("{detail} (replaced child)") } else { detail }
    }

    async fn spawn_child(&mut self, myself: &ActorRef<SupervisorMessage>, generation: u64) {
        let Some(child) = self.child_mut(generation) else { return };
        let name = child.handle.config.name.clone();
        let args = ValidatorArguments {
            name: name.to_string(),
            work: child.work.clone(),
            // This actor's own view: when it stops, it kills its own jobs'
            // tools, not those its successor has started meanwhile.
            registry: child.registry.scoped(),
            jobs_done: child.handle.jobs_done.clone(),
            kill_after: match &child.handle.config.kind {
                ValidatorKind::Command(c) => c.kill_after,
                ValidatorKind::Builtin { .. } => verdict_actors::process::DEFAULT_KILL_AFTER,
            },
        };
        match Actor::spawn_linked(None, Validator, args, myself.get_cell()).await {
            Ok((actor, _)) => {
                let id = actor.get_id();
                child.actor = Some(actor.clone());
                child.state = ChildState::Running;
                child.started_at = Instant::now();
                child.slot.send_replace(Slot::Running(actor));
                self.by_actor.insert(id, generation);
                let detail = self.said(generation, String::new());
                self.event(&name, "started", detail.trim_start().into());
            }
            Err(e) => {
                // Spawning our own actor only fails when the system is
                // shutting down; quarantine so jobs fail fast.
                let reason = format!("cannot start: {e}");
                child.state = ChildState::Quarantined;
                child.slot.send_replace(Slot::Quarantined(reason.clone()));
                child.last_failure = Some(reason.clone());
                let detail = self.said(generation, reason);
                self.event(&name, "quarantined", detail);
            }
        }
    }

    /// A child died unexpectedly (or by our deadline kill): apply the policy.
    /// A retired child is restarted too, under its own policy, while check
    /// runs begun before the reload still hold it; held by none, it stays
    /// down and is let go.
    /// A child's actor ended without being asked to: it is restarted under
    /// its policy, or quarantined. `timed_out`: it was killed for a job that
    /// timed out, which its `timed_out` event already said, so no `failed`
    /// event repeats it.
    async fn child_failed(
        &mut self,
        myself: &ActorRef<SupervisorMessage>,
        generation: u64,
        reason: String,
        timed_out: bool,
    ) {
        let retiring = self.is_retiring(generation);
        let reason = self.said(generation, reason);
        let Some(child) = self.child_mut(generation) else { return };
        let name = child.handle.config.name.clone();
        let name = name.as_str();
        child.actor = None;
        // The supervisor's own reference is the last one.
        if retiring && Arc::strong_count(&child.handle) <= 1 {
            child.state = ChildState::Stopped;
            child.slot.send_replace(Slot::Stopped);
            child.last_failure = Some(reason.clone());
            self.failed(name, reason, timed_out);
            return;
        }
        child.last_failure = Some(reason.clone());
        let policy = child.handle.config.restart;
        let now = Instant::now();
        if now.duration_since(child.started_at) >= policy.reset_after {
            child.attempt = 0;
        }
        while child.recent_restarts.front().is_some_and(|t| now.duration_since(*t) > policy.window) {
            child.recent_restarts.pop_front();
        }
        if child.recent_restarts.len() as u32 >= policy.max_restarts {
            // The failure that needs one restart more than the policy allows.
            let why = match child.recent_restarts.len() {
                0 => format!("failed, and max_restarts = 0 allows no restart; last failure: {reason}"),
                n => format!(
                    "failed again after {n} restart{} within {:?} (max_restarts = {}); last failure: {reason}",
                    if n == 1 { "" } else { "s" },
                    policy.window,
                    policy.max_restarts
                ),
            };
            child.state = ChildState::Quarantined;
            child.slot.send_replace(Slot::Quarantined(why.clone()));
            self.failed(name, reason, timed_out);
            self.event(name, "quarantined", why);
            return;
        }
        child.recent_restarts.push_back(now);
        let delay = restart_delay(&policy, child.attempt, rand::random::<f64>());
        child.attempt = child.attempt.saturating_add(1);
        child.state = ChildState::Restarting;
        child.slot.send_replace(Slot::Restarting);
        if delay.is_zero() {
            // Counted when made: one a `verdict restart` makes first is not
            // this one.
            child.restarts_total += 1;
            self.failed(name, reason, timed_out);
            let detail = self.said(generation, "immediately".into());
            self.event(name, "restarted", detail);
            self.spawn_child(myself, generation).await;
        } else {
            self.failed(name, reason, timed_out);
            // Said when it happens: meanwhile `status` shows `restarting`.
            let name = name.to_string();
            myself.send_after(delay, move || SupervisorMessage::RestartChild { name, generation, delay });
        }
    }

    /// Takes a child out of service after a reload changed or removed its
    /// validator. Check runs that hold its handle keep using it (they finish
    /// on the configuration they started with), and it is supervised as
    /// before (restarted under its policy, or waiting out a backoff); it
    /// stops once no run holds it: its `stopped` event then (at once if no
    /// run holds it), a `retiring` one meanwhile.
    fn retire_child(&mut self, name: &str, why: &'static str) {
        let Some(mut child) = self.children.remove(name) else { return };
        child.retired_why = why;
        let generation = child.generation;
        self.retiring.push(child);
        self.reap_retired();
        if self.retiring.iter().any(|c| c.generation == generation) {
            self.event(name, "retiring", format!("{why}; stops when the check runs using it end"));
        }
    }

    /// Stops the retiring children no check run holds any more; returns
    /// whether some are left.
    fn reap_retired(&mut self) -> bool {
        let by_actor = &mut self.by_actor;
        let mut stopped = Vec::new();
        self.retiring.retain_mut(|child| {
            // The supervisor's own reference is the last one.
            if Arc::strong_count(&child.handle) > 1 {
                return true;
            }
            stopped.push((child.handle.config.name.clone(), child.retired_why));
            child.state = ChildState::Stopped;
            child.slot.send_replace(Slot::Stopped);
            if let Some(actor) = child.actor.take() {
                by_actor.remove(&actor.get_id());
                actor.stop(Some("replaced by a reload".into()));
            }
            // Not waited for: the signals go out from the blocking pool. A
            // timed-out job's tools keep their grace (the job ends them).
            child.registry.kill_all_but_terminating_in_background();
            false
        });
        for (name, why) in stopped {
            self.event(&name, "stopped", why.into());
        }
        !self.retiring.is_empty()
    }

    fn stop_child(&mut self, name: &str) -> Option<Child> {
        let mut child = self.children.remove(name)?;
        child.state = ChildState::Stopped;
        child.slot.send_replace(Slot::Stopped);
        if let Some(actor) = child.actor.take() {
            self.by_actor.remove(&actor.get_id());
            actor.stop(Some("removed".into()));
        }
        Some(child)
    }
}

/// A validator's file selection, or why its globs do not compile.
type FilterResult = Result<Arc<crate::config::FileFilter>, String>;

fn compile_filter(config: &ValidatorConfig) -> FilterResult {
    config.file_filter().map(Arc::new).map_err(|e| e.to_string())
}

/// [`compile_filter`] of each of `configs`, in order, on a thread per core
/// (each taking the next not yet taken: the filters' costs differ a
/// hundredfold); here alone if no thread can be started.
fn compile_filters(configs: &[&ValidatorConfig]) -> Vec<FilterResult> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: Vec<std::sync::OnceLock<FilterResult>> = configs.iter().map(|_| std::sync::OnceLock::new()).collect();
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(config) = configs.get(i) else { break };
            let _ = done[i].set(compile_filter(config));
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(configs.len());
    std::thread::scope(|scope| {
        for _ in 1..threads {
            if std::thread::Builder::new().spawn_scoped(scope, work).is_err() {
                break;
            }
        }
        work();
    });
    done.into_iter().zip(configs).map(|(d, c)| d.into_inner().unwrap_or_else(|| compile_filter(c))).collect()
}

impl Actor for Supervisor {
    type Msg = SupervisorMessage;
    type State = SupervisorState;
    type Arguments = ();

    async fn pre_start(&self, _myself: ActorRef<Self::Msg>, _args: ()) -> Result<SupervisorState, ActorProcessingErr> {
        Ok(SupervisorState::default())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: SupervisorMessage,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMessage::Apply(specs, reply) => {
                let mut report = ApplyReport::default();
                let wanted: HashMap<String, ValidatorSpec> =
                    specs.into_iter().map(|s| (s.config.name.clone(), s)).collect();
                let existing: Vec<String> = state.children.keys().cloned().collect();
                for name in existing {
                    if !wanted.contains_key(&name) {
                        state.retire_child(&name, "removed from the configuration");
                        report.removed.push(name);
                    }
                }
                // Each new or changed validator's file selection, compiled
                // on every core: the built-ins' default exclusions take
                // some milliseconds of CPU, which one after another held up
                // the daemon's start.
                let unchanged = |name: &String, spec: &ValidatorSpec| {
                    state
                        .children
                        .get(name)
                        .is_some_and(|c| c.handle.config == spec.config && c.handle.identity == spec.identity)
                };
                let to_compile: Vec<&ValidatorConfig> =
                    wanted.iter().filter(|(n, s)| !unchanged(n, s)).map(|(_, s)| &s.config).collect();
                let mut filters: HashMap<String, FilterResult> =
                    to_compile.iter().map(|c| c.name.clone()).zip(compile_filters(&to_compile)).collect();
                for (name, spec) in wanted {
                    let (mut permits, mut stuck) = (None, None);
                    if let Some(child) = state.children.get(&name) {
                        if child.handle.config == spec.config && child.handle.identity == spec.identity {
                            report.unchanged.push(name);
                            continue;
                        }
                        // The same limit, kept across the change: the old
                        // configuration's jobs still running (or in their
                        // grace) count against it.
                        if child.handle.config.concurrency == spec.config.concurrency {
                            permits = Some(child.handle.permits.clone());
                        }
                        // Threads still stuck in a built-in's check are not
                        // freed by a new configuration.
                        stuck = Some(child.handle.stuck.clone());
                        state.retire_child(&name, "configuration changed");
                        report.changed.push(name.clone());
                    } else {
                        // Removed by an earlier reload and back: the jobs its
                        // old configuration still runs count against the
                        // same limit, as for a change.
                        let back =
                            state.retiring.iter().filter(|c| c.handle.config.name == name).max_by_key(|c| c.generation);
                        if let Some(old) = back {
                            if old.handle.config.concurrency == spec.config.concurrency {
                                permits = Some(old.handle.permits.clone());
                            }
                            stuck = Some(old.handle.stuck.clone());
                        }
                        report.added.push(name.clone());
                    }
                    state.generation += 1;
                    let (slot, rx) = watch::channel(Slot::Restarting);
                    let (work, inline) = match spec.work {
                        ValidatorWork::Jobs(w) => (Some(w), None),
                        ValidatorWork::Inline(c) => (None, Some(c)),
                    };
                    let handle = Arc::new(ValidatorHandle {
                        permits: permits.unwrap_or_else(|| Arc::new(Semaphore::new(spec.config.concurrency.max(1)))),
                        filter: filters.remove(&name).unwrap_or_else(|| compile_filter(&spec.config)),
                        config: spec.config,
                        identity: spec.identity,
                        slot: rx,
                        needs_content: spec.needs_content,
                        text_only: spec.text_only,
                        cacheable: spec.not_cached.is_none(),
                        not_cached: spec.not_cached.clone(),
                        inline,
                        jobs_done: Arc::default(),
                        stuck: stuck.unwrap_or_default(),
                    });
                    state.children.insert(
                        name.clone(),
                        Child {
                            handle,
                            slot,
                            work,
                            registry: ProcessRegistry::default(),
                            actor: None,
                            generation: state.generation,
                            state: ChildState::Restarting,
                            started_at: Instant::now(),
                            recent_restarts: VecDeque::new(),
                            attempt: 0,
                            restarts_total: 0,
                            last_failure: None,
                            kill_reason: None,
                            retired_why: "",
                        },
                    );
                    state.spawn_child(&myself, state.generation).await;
                }
                for list in [&mut report.added, &mut report.changed, &mut report.removed, &mut report.unchanged] {
                    list.sort();
                }
                if !state.retiring.is_empty() && !state.reap_due {
                    state.reap_due = true;
                    myself.send_after(REAP_EVERY, || SupervisorMessage::ReapRetired);
                }
                let _ = reply.send(report);
            }
            SupervisorMessage::Restart(name, reply) => {
                let Some(child) = state.children.get_mut(&name) else {
                    let mut names: Vec<&str> = state.children.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    let like = crate::check::did_you_mean(&name, names.iter().copied());
                    let listed = if names.is_empty() {
                        "no validator is running".to_owned()
                    } else {
                        format!("the validators are: {}", names.join(", "))
                    };
                    let _ = reply.send(Err(format!("no validator named {name:?}{like} ({listed})")));
                    return Ok(());
                };
                if let Some(actor) = child.actor.take() {
                    state.by_actor.remove(&actor.get_id());
                    actor.stop(Some("restart requested".into()));
                }
                child.recent_restarts.clear();
                child.attempt = 0;
                child.last_failure = None;
                let generation = child.generation;
                state.event(&name, "restarted", "on request".into());
                state.spawn_child(&myself, generation).await;
                let _ = reply.send(Ok(()));
            }
            SupervisorMessage::ReapRetired => {
                state.reap_due = state.reap_retired();
                if state.reap_due {
                    myself.send_after(REAP_EVERY, || SupervisorMessage::ReapRetired);
                }
            }
            SupervisorMessage::JobTimedOut { name, actor, file, after } => {
                // Gone already (failed, restarted, or let go): nothing to kill.
                let Some(&generation) = state.by_actor.get(&actor) else { return Ok(()) };
                let reason = format!("job on {file} timed out after {after:?}");
                let said = state.said(generation, reason.clone());
                let Some(child) = state.child_mut(generation) else { return Ok(()) };
                child.kill_reason = Some(reason);
                // The timed-out job was told to terminate and ends its own
                // tools (SIGTERM, then SIGKILL after its grace), even once
                // the child is gone; the child's other jobs die with it.
                if let Some(a) = &child.actor {
                    a.kill();
                }
                state.event(&name, "timed_out", said);
            }
            SupervisorMessage::RestartChild { name, generation, delay } => {
                // Not a retired one whose last run ended during the backoff:
                // it stays down until it is let go.
                if state.is_retiring(generation)
                    && state.child_mut(generation).is_some_and(|c| Arc::strong_count(&c.handle) <= 1)
                {
                    if let Some(child) = state.child_mut(generation) {
                        child.state = ChildState::Stopped;
                        child.slot.send_replace(Slot::Stopped);
                    }
                    return Ok(());
                }
                // Not if it was let go, or restarted on request, since.
                if let Some(child) = state.child_mut(generation).filter(|c| c.state == ChildState::Restarting) {
                    child.restarts_total += 1;
                    // To the millisecond (the jitter makes nanoseconds).
                    let shown = Duration::from_millis(delay.as_millis() as u64);
                    let detail = state.said(generation, format!("after {shown:?} of backoff"));
                    state.event(&name, "restarted", detail);
                    state.spawn_child(&myself, generation).await;
                }
            }
            SupervisorMessage::GetHandles(reply) => {
                let mut handles: Vec<_> = state.children.values().map(|c| c.handle.clone()).collect();
                handles.sort_by(|a, b| a.config.name.cmp(&b.config.name));
                let _ = reply.send(handles);
            }
            SupervisorMessage::GetStatus(reply) => {
                let mut validators: Vec<ChildStatus> = state
                    .children
                    .iter()
                    .map(|(name, c)| ChildStatus {
                        name: name.clone(),
                        kind: kind_label(&c.handle.config),
                        dimension: c.handle.config.dimension.clone(),
                        state: c.state.label(),
                        restarts: c.restarts_total,
                        jobs_done: c.handle.jobs_done.load(Ordering::Relaxed),
                        last_failure: c.last_failure.clone(),
                        not_cached: c.handle.not_cached.clone(),
                    })
                    .collect();
                validators.sort_by(|a, b| a.name.cmp(&b.name));
                let mut retiring: Vec<RetiringStatus> = state
                    .retiring
                    .iter()
                    .map(|c| RetiringStatus {
                        name: c.handle.config.name.clone(),
                        kind: kind_label(&c.handle.config),
                        state: c.state.label(),
                        // The supervisor's own reference is not a run's.
                        checks: Arc::strong_count(&c.handle).saturating_sub(1),
                        jobs_done: c.handle.jobs_done.load(Ordering::Relaxed),
                    })
                    .collect();
                retiring.sort_by(|a, b| a.name.cmp(&b.name));
                let _ = reply.send(SupervisorStatus {
                    validators,
                    retiring,
                    events: state.events.iter().cloned().collect(),
                });
            }
            SupervisorMessage::StopAll(reply) => {
                let names: Vec<String> = state.children.keys().cloned().collect();
                let mut kills = Vec::new();
                for name in names {
                    if let Some(child) = state.stop_child(&name) {
                        kills.extend(child.registry.kill_all_in_background());
                        state.event(&name, "stopped", "the daemon is shutting down".into());
                    }
                }
                for mut child in std::mem::take(&mut state.retiring) {
                    state.event(
                        &child.handle.config.name,
                        "stopped",
                        "the daemon is shutting down (replaced child)".into(),
                    );
                    child.slot.send_replace(Slot::Stopped);
                    if let Some(actor) = child.actor.take() {
                        state.by_actor.remove(&actor.get_id());
                        actor.stop(Some("stopping".into()));
                    }
                    kills.extend(child.registry.kill_all_in_background());
                }
                // The reply says every tool was signalled.
                for kill in kills {
                    let _ = kill.await;
                }
                let _ = reply.send(());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, reason) = match event {
            SupervisionEvent::ActorFailed(cell, err) => (cell, format!("{err}")),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, reason.unwrap_or_else(|| "stopped unexpectedly".into()))
            }
            _ => return Ok(()),
        };
        // Children we stopped on purpose were unmapped first: ignore them.
        let Some(generation) = state.by_actor.remove(&cell.get_id()) else { return Ok(()) };
        let (reason, timed_out) = match state.child_mut(generation).and_then(|c| c.kill_reason.take()) {
            Some(kill_reason) => (kill_reason, true),
            None => (reason, false),
        };
        state.child_failed(&myself, generation, reason, timed_out).await;
        Ok(())
    }
}

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;
