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
        cacheable: false,
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
