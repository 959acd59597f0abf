//! The validator actor: one per enabled validator, a child of the supervisor.
//!
//! A validator does its work in one of two ways:
//!
//! - **Jobs** ([`Work`]: external commands). Each `Validate` message starts
//!   the job as a separate task and returns at once, so the actor stays
//!   responsive and can be killed at any moment. The actor's state holds
//!   what stops each job: when the actor dies (killed by the supervisor
//!   after a deadline, or failed), the state is dropped, its jobs stop and
//!   the process groups they started are killed at once. A job whose
//!   deadline passed (`Job::terminate`) is the exception: it ends its own
//!   tools, `SIGTERM` first and `SIGKILL` after a grace, whether or not the
//!   actor still lives.
//! - **Inline** ([`InlineWork`]: the built-ins). A check run calls the check
//!   on each file's bytes in its read stage, on tokio's blocking pool, while
//!   the bytes are still in the CPU's cache; nothing is sent per file. The
//!   child still stands for the validator: a check that panics is reported to
//!   it (`Crashed`) and a check that misses its deadline to the supervisor, so
//!   restarts, backoff and quarantine apply to built-ins exactly as to
//!   commands, and a quarantined built-in is not run.
//!
//! A job whose work panics answers its files with an error outcome and then
//! makes the actor fail (`Crashed`), so the panic reaches the supervisor as a
//! supervision event and the restart policy applies.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::builtin::{self, BuiltinInput, BuiltinKind, BuiltinSettings};
use crate::command::{self, CommandSpec};
use crate::outcome::{Finding, Outcome};
use crate::process::ProcessRegistry;

/// One file of a job.
#[derive(Clone, Debug)]
pub struct JobFile {
    /// Path relative to the project root, `/`-separated.
    pub rel: String,
    /// Absolute path.
    pub abs: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Whether any execute bit is set.
    pub executable: bool,
}

/// A unit of work for one validator: one file, or a batch.
#[derive(Clone, Debug)]
pub struct Job {
    /// The files, answered in this order.
    pub files: Vec<JobFile>,
    /// Cancelled when the job's check run is cancelled or ends: the job
    /// stops and its processes are killed at once.
    pub cancel: CancellationToken,
    /// Cancelled when the job's deadline passed: its processes get `SIGTERM`
    /// and, after the validator's `kill_after`, `SIGKILL`, and the job stops without an
    /// answer. The job sees this through even when its child is killed
    /// meanwhile (as the supervisor does after a deadline) or its run ends.
    pub terminate: CancellationToken,
    /// The validator's concurrency slot the job was given, if any: held
    /// until the job is done, its tools included, so that a timed-out job
    /// in its grace still counts against the validator's `concurrency`.
    pub permit: Option<Arc<tokio::sync::OwnedSemaphorePermit>>,
    /// When the owner times the job out, if it does: a tool that exited
    /// stops being waited on for its output before then.
    pub deadline: Option<tokio::time::Instant>,
}

impl Job {
    /// A job of `files` that `cancel` cancels, with a termination token of
    /// its own.
    pub fn new(files: Vec<JobFile>, cancel: CancellationToken) -> Self {
        Job { files, cancel, terminate: CancellationToken::new(), permit: None, deadline: None }
    }

    /// The job, holding `permit` until it is done (shared: a job run again
    /// on the next child, after its child died under it, keeps the slot).
    pub fn holding(self, permit: Arc<tokio::sync::OwnedSemaphorePermit>) -> Self {
        Job { permit: Some(permit), ..self }
    }

    /// The job, timed out at `deadline` by its owner.
    pub fn due(self, deadline: tokio::time::Instant) -> Self {
        Job { deadline: Some(deadline), ..self }
    }
}

/// What a job-based validator runs. The production kind is
/// [`CommandWork`]; tests supply doubles that panic or hang.
pub trait Work: Send + Sync + 'static {
    /// Runs a job to completion, one outcome per file, in order.
    fn run(
        &self,
        files: Vec<JobFile>,
        registry: ProcessRegistry,
    ) -> std::pin::Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'static>>;
}

/// What an inline validator runs on one file's bytes, in a check run's read
/// stage: a pure, synchronous function. The production kind is
/// [`BuiltinCheck`]; tests supply doubles that panic or hang.
pub trait InlineWork: Send + Sync + 'static {
    /// The file's findings (empty: passed).
    fn check(&self, input: &BuiltinInput<'_>) -> Vec<Finding>;
}

/// A built-in check.
pub struct BuiltinCheck {
    /// Which check.
    pub kind: BuiltinKind,
    /// Its settings.
    pub settings: BuiltinSettings,
}

impl InlineWork for BuiltinCheck {
    fn check(&self, input: &BuiltinInput<'_>) -> Vec<Finding> {
        builtin::check(self.kind, &self.settings, input)
    }
}

/// How a validator works: jobs sent to its child, or inline checks run
/// where the files are read.
#[derive(Clone)]
pub enum ValidatorWork {
    /// Jobs of one or more files, run by the child.
    Jobs(Arc<dyn Work>),
    /// A check called by the check run on each file's bytes.
    Inline(Arc<dyn InlineWork>),
}

/// An external program.
pub struct CommandWork {
    /// How to run it.
    pub spec: Arc<CommandSpec>,
}

impl Work for CommandWork {
    fn run(
        &self,
        files: Vec<JobFile>,
        registry: ProcessRegistry,
    ) -> std::pin::Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'static>> {
        let spec = self.spec.clone();
        Box::pin(async move {
            let rels: Vec<String> = files.iter().map(|f| f.rel.clone()).collect();
            // The exact path, not `rel`, which holds a lossy copy of a name
            // that is not UTF-8.
            let args: Vec<std::ffi::OsString> = files
                .iter()
                .map(|f| match f.abs.strip_prefix(&spec.cwd) {
                    Ok(rel) => command::file_arg(rel.as_os_str()),
                    Err(_) => f.abs.clone().into_os_string(),
                })
                .collect();
            command::run_args(&spec, &rels, &args, &registry).await
        })
    }
}

/// The validator actor (configuration only; read-only `self`).
pub struct Validator;

/// Arguments to start a validator child.
pub struct ValidatorArguments {
    /// The validator's name (for logs).
    pub name: String,
    /// What its jobs run (`None`: an inline validator, which gets no jobs).
    pub work: Option<Arc<dyn Work>>,
    /// Its process groups, shared with the supervisor so a deadline can kill them.
    pub registry: ProcessRegistry,
    /// Jobs completed, shared with the supervisor for `status`.
    pub jobs_done: Arc<AtomicU64>,
    /// A timed-out job's tools get this long between `SIGTERM` and
    /// `SIGKILL` (`kill_after`).
    pub kill_after: std::time::Duration,
}

/// The validator's state: its running jobs.
pub struct ValidatorState {
    args: ValidatorArguments,
    /// Each job's task, and what stops it when the state is dropped (the
    /// child died): not an abort, so that a job already terminating after
    /// its deadline still gives its tools their grace.
    jobs: Vec<(JoinHandle<()>, DropGuard)>,
}

/// Messages to a validator.
pub enum ValidatorMessage {
    /// Run a job and answer with one outcome per file.
    Validate(Job, RpcReplyPort<Vec<Outcome>>),
    /// A job's work panicked: fail the actor with this reason (internal).
    Crashed(String),
}

impl Actor for Validator {
    type Msg = ValidatorMessage;
    type State = ValidatorState;
    type Arguments = ValidatorArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ValidatorArguments,
    ) -> Result<ValidatorState, ActorProcessingErr> {
        Ok(ValidatorState { args, jobs: Vec::new() })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: ValidatorMessage,
        state: &mut ValidatorState,
    ) -> Result<(), ActorProcessingErr> {
        // Forget finished jobs so the list does not grow.
        state.jobs.retain(|(task, _)| !task.is_finished());
        match message {
            ValidatorMessage::Validate(job, reply) => {
                let Some(work) = state.args.work.clone() else {
                    let n = job.files.len();
                    let _ =
                        reply.send(vec![
                            Outcome::error("this validator runs in the check's read stage, not as jobs");
                            n
                        ]);
                    return Ok(());
                };
                // The job's own view of the registry: its deadline
                // terminates its tools, not the other jobs'.
                let registry = state.args.registry.scoped_until(job.deadline);
                let kill_after = state.args.kill_after;
                let done = state.args.jobs_done.clone();
                let child_gone = CancellationToken::new();
                let stop = child_gone.clone().drop_guard();
                let task = tokio::spawn(async move {
                    // The whole job is the task's, its concurrency slot
                    // too: held until the task ends.
                    let Job { files, cancel, terminate, permit: _permit, deadline: _ } = job;
                    // Dropped unanswered to tell the check the child died.
                    let mut reply = Some(reply);
                    let n = files.len();
                    let run = futures_catch_unwind(std::panic::AssertUnwindSafe(work.run(files, registry.clone())));
                    tokio::pin!(run);
                    let woke = tokio::select! {
                        // Termination first: the supervisor kills the child
                        // right after a deadline, so both may be seen at
                        // once, and the grace must win.
                        biased;
                        _ = terminate.cancelled() => Woke::Terminated,
                        r = &mut run => Woke::Ran(r),
                        // The run is gone, or the child died.
                        _ = cancel.cancelled() => Woke::Stopped,
                        _ = child_gone.cancelled() => Woke::Stopped,
                    };
                    // `biased` orders the branches within one poll only:
                    // both tokens can be cancelled while `run` is polled
                    // (its tool being spawned, its output read, the worker
                    // preempted), after `terminate` was looked at in that
                    // same poll. A deadline cancels `terminate` before the
                    // supervisor kills the child, so a job that sees its
                    // child gone sees `terminate` too, if it was cancelled.
                    // A run that ended because its tools were killed from
                    // outside (the child stopped by a restart or a reload,
                    // the daemon stopping; the kill may reach a tool before
                    // the job sees its child gone) has no verdict: the check
                    // is told at once, as of the child's death, not
                    // `killed by signal SIGKILL` for the files. Its tools
                    // are gone; what they left is killed. (Not through the
                    // wait below: the run, finished, is not polled again.)
                    if matches!(woke, Woke::Ran(_)) && registry.was_killed() {
                        drop(reply.take());
                        return kill_now(&registry).await;
                    }
                    let woke = match woke {
                        Woke::Stopped if terminate.is_cancelled() => Woke::Terminated,
                        // The child died, not the run: the check, told so by
                        // the reply dropped unanswered, decides at once
                        // whether this job timed out with it (its deadline
                        // passed with a sibling's: terminate, so its tools
                        // get their grace) or runs again on the next child
                        // (cancel). Bounded, for an owner that says neither.
                        Woke::Stopped if !cancel.is_cancelled() => {
                            drop(reply.take());
                            tokio::select! {
                                biased;
                                _ = terminate.cancelled() => Woke::Terminated,
                                _ = cancel.cancelled() => Woke::Stopped,
                                _ = tokio::time::sleep(VERDICT_ON_A_DEAD_CHILD) => Woke::Stopped,
                            }
                        }
                        woke => woke,
                    };
                    let outcomes = match woke {
                        Woke::Terminated => {
                            // Past the deadline (the run has answered `timed
                            // out`): SIGTERM, the grace, SIGKILL. The job
                            // goes on meanwhile, to see its tools exit.
                            let ended = registry.terminate_all(kill_after);
                            tokio::pin!(ended);
                            tokio::select! {
                                _ = &mut ended => {}
                                r = &mut run => {
                                    if let Err(reason) = r {
                                        tracing::warn!(%reason, "a timed-out job panicked during its grace");
                                    }
                                    ended.await
                                }
                            }
                            return;
                        }
                        // The job's tools are killed before it is dropped,
                        // while they run and what they started outside their
                        // groups can be found, which reads `/proc`: off the
                        // runtime.
                        Woke::Stopped => return kill_now(&registry).await,
                        Woke::Ran(r) => r,
                    };
                    let Some(reply) = reply else { return };
                    match outcomes {
                        Ok(outcomes) => {
                            done.fetch_add(1, Ordering::Relaxed);
                            let _ = reply.send(outcomes);
                        }
                        Err(reason) => {
                            let _ = reply.send(vec![Outcome::error(format!("validator crashed: {reason}")); n]);
                            let _ = myself.cast(ValidatorMessage::Crashed(reason));
                        }
                    }
                });
                state.jobs.push((task, stop));
                Ok(())
            }
            ValidatorMessage::Crashed(reason) => Err(format!("validator {} crashed: {reason}", state.args.name).into()),
        }
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut ValidatorState,
    ) -> Result<(), ActorProcessingErr> {
        state.jobs.clear();
        // Stopped by a reload or a restart: a timed-out job's tools keep
        // their grace (that job ends them); the daemon stopping kills them
        // itself.
        if let Some(kill) = state.args.registry.kill_all_but_terminating_in_background() {
            let _ = kill.await;
        }
        Ok(())
    }
}

/// How long a job whose child died waits for its check to say whether it
/// timed out (`terminate`) or is to run again (`cancel`); the check says
/// so as soon as it sees the child gone.
const VERDICT_ON_A_DEAD_CHILD: std::time::Duration = std::time::Duration::from_secs(1);

/// What ended a job's wait on its run.
enum Woke {
    /// Its deadline passed (`Job::terminate`).
    Terminated,
    /// The run finished (or panicked).
    Ran(Result<Vec<Outcome>, String>),
    /// The run was cancelled or ended, or the child died.
    Stopped,
}

/// Kills every tool of `registry` (one job's), and what they started outside
/// their groups, from the blocking pool, and waits until the signals are sent.
async fn kill_now(registry: &ProcessRegistry) {
    if let Some(kill) = registry.kill_all_in_background() {
        let _ = kill.await;
    }
}

/// Awaits a future, turning a panic into `Err(message)`.
async fn futures_catch_unwind<F: Future<Output = Vec<Outcome>>>(
    f: std::panic::AssertUnwindSafe<F>,
) -> Result<Vec<Outcome>, String> {
    let mut f = std::pin::pin!(f.0);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(payload) => std::task::Poll::Ready(Err(panic_message(&payload))),
        }
    })
    .await
}

/// The text of a panic payload.
pub fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".into()
    }
}

/// Test doubles of [`Work`], for faults a real tool cannot be made to show on
/// demand (a panic inside verdict's own code) and for timing the supervision
/// machinery without a tool's own cost. Used by tests and benchmarks only.
pub mod doubles {
    use super::*;

    /// Panics on every job, as a buggy built-in would.
    pub struct PanickingWorkDouble;

    impl Work for PanickingWorkDouble {
        fn run(
            &self,
            _files: Vec<JobFile>,
            _registry: ProcessRegistry,
        ) -> std::pin::Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'static>> {
            Box::pin(async { panic!("the panicking test double panicked") })
        }
    }

    /// Never finishes a job, as a hung tool would (without any process).
    pub struct HangingWorkDouble;

    impl Work for HangingWorkDouble {
        fn run(
            &self,
            _files: Vec<JobFile>,
            _registry: ProcessRegistry,
        ) -> std::pin::Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'static>> {
            Box::pin(std::future::pending())
        }
    }

    /// Panics on every file, as a buggy built-in would.
    pub struct PanickingInlineDouble;

    impl InlineWork for PanickingInlineDouble {
        fn check(&self, _input: &BuiltinInput<'_>) -> Vec<Finding> {
            panic!("the panicking inline double panicked")
        }
    }

    /// Does not return from a check of a file whose content contains
    /// `HANG` until `release` is set, as a built-in stuck on a pathological
    /// input would; passes the others.
    #[derive(Default)]
    pub struct HangingInlineDouble {
        /// Lets the stuck checks return (with a finding).
        pub release: Arc<std::sync::atomic::AtomicBool>,
    }

    impl InlineWork for HangingInlineDouble {
        fn check(&self, input: &BuiltinInput<'_>) -> Vec<Finding> {
            if memchr::memmem::find(input.content, b"HANG").is_none() {
                return Vec::new();
            }
            while !self.release.load(Ordering::SeqCst) {
                std::thread::park_timeout(std::time::Duration::from_millis(10));
            }
            vec![Finding {
                rule: Some("hang".into()),
                severity: crate::Severity::Error,
                line: None,
                column: None,
                message: "released".into(),
            }]
        }
    }

    /// Passes every file at once.
    pub struct PassingWorkDouble;

    impl Work for PassingWorkDouble {
        fn run(
            &self,
            files: Vec<JobFile>,
            _registry: ProcessRegistry,
        ) -> std::pin::Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'static>> {
            let n = files.len();
            Box::pin(async move { vec![Outcome::Passed; n] })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::ProcessGroup;
    use crate::process::tests::{assert_all_die, read_pids};

    /// Runs a shell that writes `TERM` to `mark` on SIGTERM and exits, and
    /// its pid to `ready` once it runs.
    struct TrapWorkDouble {
        mark: PathBuf,
        ready: PathBuf,
        /// When set, the run holds its worker thread, in the poll that
        /// spawned the shell, until this turns true: a worker preempted
        /// mid-poll, made to happen.
        hold: Option<Arc<std::sync::atomic::AtomicBool>>,
    }

    impl Work for TrapWorkDouble {
        fn run(
            &self,
            _files: Vec<JobFile>,
            registry: ProcessRegistry,
        ) -> std::pin::Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'static>> {
            let script = format!(
                "trap 'echo TERM >> {m}; exit 0' TERM; sleep 1000 & echo $$ > {r}.tmp; mv {r}.tmp {r}; wait",
                m = self.mark.display(),
                r = self.ready.display()
            );
            let hold = self.hold.clone();
            Box::pin(async move {
                let mut child = tokio::process::Command::new("sh")
                    .args(["-c", &script])
                    .process_group(0)
                    .kill_on_drop(true)
                    .spawn()
                    .expect("spawn sh");
                let _group = ProcessGroup::new(child.id().expect("pid"), &registry);
                if let Some(hold) = hold {
                    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
                    while !hold.load(Ordering::SeqCst) && std::time::Instant::now() < until {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
                let _ = child.wait().await;
                Vec::new()
            })
        }
    }

    /// The run terminates a job at its deadline and the supervisor kills
    /// the child right after: the job must still give its tool SIGTERM and
    /// the grace, not the child's SIGKILL. Both wake the job together often
    /// enough that a few dozen rounds catch a job that lets the child's
    /// death win.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_terminated_job_keeps_its_grace_when_its_child_is_killed_at_once() {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..40 {
            let trapped = deadline_then_child_killed(dir.path(), &round.to_string(), None).await;
            assert_eq!(trapped.trim(), "TERM", "round {round}: the tool was killed without SIGTERM first");
        }
    }

    /// Runs the trapping tool as a job, then cancels its deadline and kills
    /// the child at once (letting the job's worker go on, when `hold` holds
    /// it, only after both); returns what the tool's TERM trap wrote.
    async fn deadline_then_child_killed(
        dir: &std::path::Path,
        tag: &str,
        hold: Option<Arc<std::sync::atomic::AtomicBool>>,
    ) -> String {
        let (mark, ready) = (dir.join(format!("mark{tag}")), dir.join(format!("ready{tag}")));
        let work: Arc<dyn Work> =
            Arc::new(TrapWorkDouble { mark: mark.clone(), ready: ready.clone(), hold: hold.clone() });
        let args = ValidatorArguments {
            name: "trap".into(),
            work: Some(work),
            registry: ProcessRegistry::new(),
            jobs_done: Arc::default(),
            // Long: the trap exits at once, so the grace ends with it, and a
            // loaded machine cannot make SIGKILL beat the trap.
            kill_after: std::time::Duration::from_secs(10),
        };
        let (actor, handle) = Actor::spawn(None, Validator, args).await.expect("spawn validator");
        let job = Job::new(Vec::new(), CancellationToken::new());
        let terminate = job.terminate.clone();
        actor.cast(ValidatorMessage::Validate(job, RpcReplyPort::from(tokio::sync::oneshot::channel().0))).unwrap();
        let pid = read_pids(&ready, 1)[0];
        terminate.cancel();
        actor.kill();
        handle.await.unwrap();
        if let Some(hold) = hold {
            hold.store(true, Ordering::SeqCst);
        }
        assert_all_die(&[pid], "the tool outlived its grace");
        std::fs::read_to_string(&mark).unwrap_or_default()
    }

    /// A job whose child dies drops its reply unanswered at once (that is
    /// how the check learns of it), and waits for the check's word before
    /// it touches its tools. Under paused time, a reply held through the
    /// wait would show as a second gone by.
    #[tokio::test(start_paused = true)]
    async fn a_job_whose_child_dies_tells_its_check_at_once() {
        let args = ValidatorArguments {
            name: "hang".into(),
            work: Some(Arc::new(doubles::HangingWorkDouble)),
            registry: ProcessRegistry::new(),
            jobs_done: Arc::default(),
            kill_after: std::time::Duration::from_secs(10),
        };
        let (actor, handle) = Actor::spawn(None, Validator, args).await.expect("spawn validator");
        let job = Job::new(Vec::new(), CancellationToken::new());
        let (cancel, terminate) = (job.cancel.clone(), job.terminate.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        actor.cast(ValidatorMessage::Validate(job, RpcReplyPort::from(tx))).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        let died = tokio::time::Instant::now();
        actor.stop(None);
        handle.await.unwrap();
        assert!(rx.await.is_err(), "the job answered");
        assert!(died.elapsed() < std::time::Duration::from_millis(100), "told after {:?}", died.elapsed());
        assert!(!cancel.is_cancelled() && !terminate.is_cancelled());
    }

    /// A restart or a reload stops the child and kills its tools; the kill
    /// can end a tool before the job has seen its child gone. That run's
    /// answer (a tool killed by `SIGKILL`) is the kill's doing: the job
    /// must give none, so that its check runs it again on the next child
    /// (or skips it), never reporting `killed by signal SIGKILL`. Through
    /// the child's own view (a restart) and the validator's (the daemon
    /// stopping, a retired validator).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_whose_tools_were_killed_from_outside_gives_no_verdict() {
        let dir = tempfile::tempdir().unwrap();
        for (round, by_child) in [true, false].into_iter().enumerate() {
            let (mark, ready) = (dir.path().join(format!("mark{round}")), dir.path().join(format!("ready{round}")));
            let validator = ProcessRegistry::new();
            let child = validator.scoped();
            let work: Arc<dyn Work> = Arc::new(TrapWorkDouble { mark, ready: ready.clone(), hold: None });
            let args = ValidatorArguments {
                name: "trap".into(),
                work: Some(work),
                registry: child.clone(),
                jobs_done: Arc::default(),
                kill_after: std::time::Duration::from_secs(10),
            };
            let (actor, handle) = Actor::spawn(None, Validator, args).await.expect("spawn validator");
            let (tx, rx) = tokio::sync::oneshot::channel();
            let job = Job::new(Vec::new(), CancellationToken::new());
            actor.cast(ValidatorMessage::Validate(job, RpcReplyPort::from(tx))).unwrap();
            let pid = read_pids(&ready, 1)[0];
            if by_child {
                child.kill_all()
            } else {
                validator.kill_all()
            }
            assert_all_die(&[pid], "the kill did not reach the tool");
            let answer = tokio::time::timeout(std::time::Duration::from_secs(20), rx).await.expect("an answer or none");
            assert!(answer.is_err(), "by the child's view {by_child}: the job answered {answer:?}");
            actor.stop(None);
            handle.await.unwrap();
        }
    }

    /// [`a_terminated_job_keeps_its_grace_when_its_child_is_killed_at_once`]
    /// with the interleaving that once lost the grace (about one round in
    /// 1,400 under load): the deadline and the child's death both land
    /// while the job's worker is still inside the poll that spawned its
    /// tool, after `biased` looked at the deadline. The job sees the child
    /// gone first; it must still give its tool SIGTERM and the grace.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_deadline_and_the_childs_death_in_one_poll_still_give_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        // The job's worker is held in its first poll until the deadline and
        // the kill have both landed.
        let hold = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let trapped = deadline_then_child_killed(dir.path(), "held", Some(hold)).await;
        assert_eq!(trapped.trim(), "TERM", "the tool was killed without SIGTERM first");
    }
}
