//! The validator actor: one per enabled validator, a child of the supervisor.
//!
//! The actor never runs validation in its own task. Each `Validate` message
//! starts the job as a separate task (CPU-bound built-ins on tokio's blocking
//! pool, external programs through tokio's process API) and returns at once,
//! so the actor stays responsive and can be killed at any moment. The job
//! tasks live in the actor's state: when the actor dies (killed by the
//! supervisor after a deadline, or failed), the state is dropped, the tasks
//! are aborted and the process groups they started are killed.
//!
//! A job whose work panics answers its files with an error outcome and then
//! makes the actor fail (`Crashed`), so the panic reaches the supervisor as a
//! supervision event and the restart policy applies.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::builtin::{self, BuiltinInput, BuiltinKind, BuiltinSettings};
use crate::command::{self, CommandSpec};
use crate::outcome::Outcome;
use crate::process::ProcessRegistry;

/// One file of a job.
#[derive(Clone, Debug)]
pub struct JobFile {
    /// Path relative to the project root, `/`-separated.
    pub rel: String,
    /// Absolute path.
    pub abs: PathBuf,
    /// The file's bytes, when the validator needs them (built-ins); shared
    /// by every validator of the file without copying.
    pub content: Option<bytes::Bytes>,
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
    /// Cancelled when the job's check run is cancelled or its deadline
    /// passed: the job stops and its processes are killed.
    pub cancel: CancellationToken,
}

/// What a validator runs. The production kinds are [`BuiltinWork`] and
/// [`CommandWork`]; tests supply doubles that panic or hang.
pub trait Work: Send + Sync + 'static {
    /// Runs a job to completion, one outcome per file, in order.
    fn run(
        &self,
        files: Vec<JobFile>,
        registry: ProcessRegistry,
    ) -> std::pin::Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'static>>;
}

/// A built-in check, run on the blocking pool.
pub struct BuiltinWork {
    /// Which check.
    pub kind: BuiltinKind,
    /// Its settings.
    pub settings: BuiltinSettings,
}

impl Work for BuiltinWork {
    fn run(
        &self,
        files: Vec<JobFile>,
        _registry: ProcessRegistry,
    ) -> std::pin::Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'static>> {
        let (kind, settings) = (self.kind, self.settings.clone());
        Box::pin(async move {
            let n = files.len();
            let task = tokio::task::spawn_blocking(move || {
                files
                    .iter()
                    .map(|f| match &f.content {
                        Some(content) => {
                            let input = BuiltinInput { content, size: f.size, executable: f.executable };
                            crate::Verdict::from_findings(builtin::check(kind, &settings, &input)).into()
                        }
                        None if kind == BuiltinKind::LargeFile => {
                            let input = BuiltinInput { content: &[], size: f.size, executable: f.executable };
                            crate::Verdict::from_findings(builtin::check(kind, &settings, &input)).into()
                        }
                        None => Outcome::error("the file changed or could not be read during the check"),
                    })
                    .collect::<Vec<_>>()
            });
            match task.await {
                Ok(outcomes) => outcomes,
                // Re-raise so the job wrapper sees the panic and the actor
                // fails with it.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => vec![Outcome::error("the check was cancelled"); n],
            }
        })
    }
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
            command::run(&spec, &rels, &registry).await
        })
    }
}

/// The validator actor (configuration only; read-only `self`).
pub struct Validator;

/// Arguments to start a validator child.
pub struct ValidatorArguments {
    /// The validator's name (for logs).
    pub name: String,
    /// What it runs.
    pub work: Arc<dyn Work>,
    /// Its process groups, shared with the supervisor so a deadline can kill them.
    pub registry: ProcessRegistry,
    /// Jobs completed, shared with the supervisor for `status`.
    pub jobs_done: Arc<AtomicU64>,
}

/// The validator's state: its running jobs.
pub struct ValidatorState {
    args: ValidatorArguments,
    jobs: JoinSet<()>,
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
        Ok(ValidatorState { args, jobs: JoinSet::new() })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: ValidatorMessage,
        state: &mut ValidatorState,
    ) -> Result<(), ActorProcessingErr> {
        // Reap finished job tasks so the set does not grow.
        while state.jobs.try_join_next().is_some() {}
        match message {
            ValidatorMessage::Validate(job, reply) => {
                let work = state.args.work.clone();
                let registry = state.args.registry.clone();
                let done = state.args.jobs_done.clone();
                state.jobs.spawn(async move {
                    let n = job.files.len();
                    let run = std::panic::AssertUnwindSafe(work.run(job.files, registry));
                    let outcomes = tokio::select! {
                        r = futures_catch_unwind(run) => r,
                        _ = job.cancel.cancelled() => return, // the run is gone or the deadline passed
                    };
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
        state.jobs.abort_all();
        state.args.registry.kill_all();
        Ok(())
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
