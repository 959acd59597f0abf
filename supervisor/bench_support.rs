//! Measurements of the supervision machinery for `benches/check.rs`, run
//! in-process with test doubles so that only verdict's own overhead is timed.
#![doc(hidden)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::Actor;
use tokio_util::sync::CancellationToken;
use verdict_actors::validator::doubles::{HangingWorkDouble, PanickingWorkDouble};
use verdict_actors::validator::{Job, ValidatorMessage, Work};

use crate::config::{Config, RestartPolicy, ValidatorConfig};
use crate::supervisor::{Slot, Supervisor, SupervisorMessage, ValidatorHandle, ValidatorSpec};

/// A validator configuration for a double: never quarantined, every restart immediate.
pub fn double_config(name: &str, timeout: Duration) -> ValidatorConfig {
    let mut c = Config::default().validators().into_iter().next().expect("the built-ins are configured by default");
    c.name = name.to_string();
    c.timeout = timeout;
    c.restart = RestartPolicy {
        max_restarts: u32::MAX,
        window: Duration::from_secs(1),
        reset_after: Duration::ZERO,
        ..RestartPolicy::default()
    };
    c
}

fn spec(name: &str, work: Arc<dyn Work>, timeout: Duration) -> ValidatorSpec {
    ValidatorSpec {
        config: double_config(name, timeout),
        identity: [0; 16],
        work: verdict_actors::validator::ValidatorWork::Jobs(work),
        needs_content: false,
        text_only: false,
        not_cached: Some("a benchmark's double".into()),
    }
}

async fn running(handle: &ValidatorHandle) -> ractor::ActorRef<ValidatorMessage> {
    let mut slot = handle.slot.clone();
    loop {
        if let Slot::Running(a) = slot.borrow_and_update().clone() {
            return a;
        }
        slot.changed().await.expect("supervisor alive");
    }
}

/// Returns (restart latency after a panic, lateness of a timed-out job's
/// outcome after its deadline), `n` samples each.
pub async fn supervision_latencies(n: usize) -> (Vec<Duration>, Vec<Duration>) {
    // The panicking double panics on purpose; keep its messages out of the report.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains("test double") {
            default_hook(info);
        }
    }));
    let (sup, _) = Actor::spawn(None, Supervisor, ()).await.expect("spawn supervisor");
    let deadline = Duration::from_millis(20);
    let specs = vec![
        spec("panics", Arc::new(PanickingWorkDouble), deadline),
        spec("hangs", Arc::new(HangingWorkDouble), deadline),
    ];
    ractor::call!(sup, SupervisorMessage::Apply, specs).expect("apply");
    let handles = ractor::call!(sup, SupervisorMessage::GetHandles).expect("handles");
    let (hangs, panics) = (&handles[0], &handles[1]);
    let job = || Job::new(Vec::new(), CancellationToken::new());

    let mut restart = Vec::with_capacity(n);
    for _ in 0..n {
        let actor = running(panics).await;
        // From sending the job that panics until a new child runs: an upper
        // bound of the restart latency (it includes the job's round trip),
        // since the restart can finish before the caller sees the reply.
        let t = Instant::now();
        let _ = actor.call(|r| ValidatorMessage::Validate(job(), r), None).await;
        let mut slot = panics.slot.clone();
        loop {
            if let Slot::Running(a) = slot.borrow_and_update().clone()
                && a.get_id() != actor.get_id()
            {
                break;
            }
            slot.changed().await.expect("supervisor alive");
        }
        restart.push(t.elapsed());
    }

    let mut late = Vec::with_capacity(n.min(200));
    for _ in 0..n.min(200) {
        let actor = running(hangs).await;
        let started = Instant::now();
        let r = tokio::time::timeout(deadline, actor.call(|r| ValidatorMessage::Validate(job(), r), None)).await;
        assert!(r.is_err(), "the hanging double answered");
        late.push(started.elapsed().saturating_sub(deadline));
        let _ = sup.cast(SupervisorMessage::JobTimedOut {
            name: "hangs".into(),
            actor: actor.get_id(),
            file: "-".into(),
            after: deadline,
        });
        // Wait for the replacement before the next sample.
        let mut slot = hangs.slot.clone();
        loop {
            if let Slot::Running(a) = slot.borrow_and_update().clone()
                && a.get_id() != actor.get_id()
            {
                break;
            }
            slot.changed().await.expect("supervisor alive");
        }
    }
    sup.stop(None);
    (restart, late)
}

/// How late past its grace [`ProcessRegistry::terminate_all`] returns, and
/// how late the last of `n` processes that ignore `SIGTERM` is dead, when a
/// tool has started them: in its own group (`outside == false`: one signal
/// to the group reaches them) or each in a session of its own (found by
/// their mark, one look of `/proc` after another). `dir` is an empty
/// directory for the tool's list of pids.
///
/// [`ProcessRegistry::terminate_all`]: verdict_actors::process::ProcessRegistry::terminate_all
pub async fn termination_lateness(
    dir: &std::path::Path,
    n: usize,
    outside: bool,
    grace: Duration,
) -> (Duration, Duration) {
    use verdict_actors::process::{self, ProcessRegistry};
    let pids = dir.join("pids");
    let start = if outside { "setsid sh -c 'exec sleep 1000'" } else { "sleep 1000" };
    let script = format!(
        "trap '' TERM; i=0; while [ $i -lt {n} ]; do {start} </dev/null >/dev/null 2>&1 & echo $! >> {p}.tmp; i=$((i+1)); done; \
         mv {p}.tmp {p}; trap - TERM; wait",
        p = pids.display()
    );
    let registry = ProcessRegistry::new();
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c").arg(&script).stdin(std::process::Stdio::null());
    let (mut child, guard) = process::spawn(&mut cmd, &registry).expect("spawn sh");
    let started: Vec<i32> = loop {
        if let Ok(text) = std::fs::read_to_string(&pids) {
            break text.lines().filter_map(|l| l.parse().ok()).collect();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(started.len(), n, "the tool started every process");
    // The processes must be running their `sleep`, TERM ignored, before the
    // clock starts.
    loop {
        let sleeping = started.iter().filter(|&&pid| comm(pid).as_deref() == Some("sleep")).count();
        if sleeping == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let owner = tokio::spawn(async move {
        let _ = child.wait().await;
        drop(guard);
    });
    let t = Instant::now();
    registry.terminate_all(grace).await;
    let returned = t.elapsed();
    while started.iter().any(|&pid| alive(pid)) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let dead = t.elapsed();
    let _ = owner.await;
    (returned.saturating_sub(grace), dead.saturating_sub(grace))
}

fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim_end().to_string())
}

/// Running, not a zombie waiting for its parent.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with(['Z', 'X'])))
        .unwrap_or(false)
}
