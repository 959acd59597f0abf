//! The supervisor's policy, with test doubles (a panic inside verdict's own
//! code cannot be provoked in a real tool) and paused tokio time.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorRef};
use tokio_util::sync::CancellationToken;
use verdict_actors::Outcome;
use verdict_actors::validator::doubles::{HangingWorkDouble, PanickingWorkDouble, PassingWorkDouble};
use verdict_actors::validator::{Job, ValidatorMessage, ValidatorWork, Work};

use super::*;
use crate::bench_support::double_config;

fn spec(name: &str, work: Arc<dyn Work>, policy: RestartPolicy) -> ValidatorSpec {
    let mut config = double_config(name, Duration::from_secs(1));
    config.restart = policy;
    ValidatorSpec {
        config,
        identity: [1; 16],
        work: ValidatorWork::Jobs(work),
        needs_content: false,
        text_only: false,
        not_cached: Some("a test double".into()),
    }
}

fn policy(max_restarts: u32) -> RestartPolicy {
    RestartPolicy {
        max_restarts,
        window: Duration::from_secs(60),
        backoff: Duration::from_millis(10),
        backoff_max: Duration::from_millis(80),
        reset_after: Duration::from_secs(30),
    }
}

async fn start(specs: Vec<ValidatorSpec>) -> (ActorRef<SupervisorMessage>, Vec<Arc<ValidatorHandle>>) {
    let (sup, _) = Actor::spawn(None, Supervisor, ()).await.unwrap();
    ractor::call!(sup, SupervisorMessage::Apply, specs).unwrap();
    let handles = ractor::call!(sup, SupervisorMessage::GetHandles).unwrap();
    (sup, handles)
}

fn slot(h: &ValidatorHandle) -> Slot {
    h.slot.borrow().clone()
}

fn actor(h: &ValidatorHandle) -> ActorRef<ValidatorMessage> {
    match slot(h) {
        Slot::Running(a) => a,
        other => panic!("not running: {other:?}"),
    }
}

async fn job_on(a: &ActorRef<ValidatorMessage>) -> Vec<Outcome> {
    let job = Job::new(vec![], CancellationToken::new());
    match a.call(|r| ValidatorMessage::Validate(job, r), Some(Duration::from_secs(5))).await.unwrap() {
        ractor::rpc::CallResult::Success(v) => v,
        other => panic!("no reply: {other:?}"),
    }
}

/// Lets spawned tasks and actor messages run without advancing time much.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_micros(1)).await;
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[test]
fn restart_delay_is_immediate_then_doubles_to_the_cap() {
    let p = policy(5);
    assert_eq!(restart_delay(&p, 0, 0.5), Duration::ZERO);
    assert_eq!(restart_delay(&p, 1, 0.5), Duration::from_millis(10));
    assert_eq!(restart_delay(&p, 2, 0.5), Duration::from_millis(20));
    assert_eq!(restart_delay(&p, 4, 0.5), Duration::from_millis(80));
    assert_eq!(restart_delay(&p, 30, 0.5), Duration::from_millis(80), "capped");
    // Jitter: ±20 %.
    assert_eq!(restart_delay(&p, 1, 0.0), Duration::from_millis(8));
    assert!(restart_delay(&p, 1, 0.999) < Duration::from_millis(12));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_child_is_restarted_at_once_and_others_are_untouched() {
    let (sup, handles) = start(vec![
        spec("boom", Arc::new(PanickingWorkDouble), policy(5)),
        spec("calm", Arc::new(PassingWorkDouble), policy(5)),
    ])
    .await;
    let (boom, calm) = (&handles[0], &handles[1]);
    let calm_id = actor(calm).get_id();
    let first = actor(boom);
    let outcomes = job_on(&first).await;
    assert!(outcomes.is_empty(), "an empty job answers no files");
    settle().await;
    let second = actor(boom);
    assert_ne!(first.get_id(), second.get_id(), "the child was replaced");
    assert_eq!(actor(calm).get_id(), calm_id, "another validator was disturbed");
    assert!(job_on(&actor(calm)).await.is_empty());
    let status = ractor::call!(sup, SupervisorMessage::GetStatus).unwrap();
    let b = status.validators.iter().find(|v| v.name == "boom").unwrap();
    assert_eq!(b.restarts, 1);
    assert!(b.last_failure.as_deref().unwrap().contains("panicked"), "{:?}", b.last_failure);
    let kinds: Vec<&str> = status.events.iter().filter(|e| e.validator == "boom").map(|e| e.event).collect();
    assert_eq!(kinds, ["started", "failed", "restarted", "started"]);
}

#[tokio::test(start_paused = true)]
async fn repeated_failures_back_off_then_quarantine() {
    let (sup, handles) = start(vec![spec("boom", Arc::new(PanickingWorkDouble), policy(3))]).await;
    let h = &handles[0];
    // 1st failure: immediate restart.
    job_on(&actor(h)).await;
    settle().await;
    assert!(matches!(slot(h), Slot::Running(_)));
    // 2nd failure: restart after ~10 ms (8–12 ms with jitter).
    job_on(&actor(h)).await;
    settle().await;
    assert!(matches!(slot(h), Slot::Restarting), "{:?}", slot(h));
    let restarted = || async {
        let status = ractor::call!(sup, SupervisorMessage::GetStatus).unwrap();
        status.events.iter().filter(|e| e.event == "restarted").map(|e| e.detail.clone()).collect::<Vec<_>>()
    };
    assert_eq!(restarted().await, ["immediately"], "the restart is said when it happens");
    let restarts = || async { ractor::call!(sup, SupervisorMessage::GetStatus).unwrap().validators[0].restarts };
    assert_eq!(restarts().await, 1, "and counted when made");
    tokio::time::sleep(Duration::from_millis(7)).await;
    assert!(matches!(slot(h), Slot::Restarting));
    tokio::time::sleep(Duration::from_millis(6)).await;
    settle().await;
    assert!(matches!(slot(h), Slot::Running(_)), "{:?}", slot(h));
    let said = restarted().await;
    assert!(said.len() == 2 && said[1].ends_with("ms of backoff"), "{said:?}");
    assert_eq!(restarts().await, 2);
    // 3rd failure: ~20 ms.
    job_on(&actor(h)).await;
    settle().await;
    tokio::time::sleep(Duration::from_millis(15)).await;
    assert!(matches!(slot(h), Slot::Restarting));
    tokio::time::sleep(Duration::from_millis(10)).await;
    settle().await;
    assert!(matches!(slot(h), Slot::Running(_)));
    // 4th failure: three restarts already within the window → quarantined.
    job_on(&actor(h)).await;
    settle().await;
    match slot(h) {
        Slot::Quarantined(why) => assert!(why.contains("3 restarts"), "{why}"),
        other => panic!("not quarantined: {other:?}"),
    }
    assert_eq!(restarts().await, 3);
    // `restart` brings it back with a clean history (a restart asked for is
    // not counted).
    ractor::call!(sup, SupervisorMessage::Restart, "boom".to_string()).unwrap().unwrap();
    assert!(matches!(slot(h), Slot::Running(_)));
    assert_eq!(restarts().await, 3);
    // A restart asked for during a backoff replaces the one scheduled,
    // which is then not counted, nor made.
    job_on(&actor(h)).await;
    settle().await;
    job_on(&actor(h)).await;
    settle().await;
    assert!(matches!(slot(h), Slot::Restarting), "{:?}", slot(h));
    assert_eq!(restarts().await, 4, "the immediate one only");
    ractor::call!(sup, SupervisorMessage::Restart, "boom".to_string()).unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    settle().await;
    assert_eq!(restarts().await, 4);
    let status = ractor::call!(sup, SupervisorMessage::GetStatus).unwrap();
    assert!(status.events.iter().any(|e| e.event == "quarantined"));
}

#[tokio::test(start_paused = true)]
async fn max_restarts_0_quarantines_at_the_first_failure_and_says_so() {
    let (_sup, handles) = start(vec![spec("boom", Arc::new(PanickingWorkDouble), policy(0))]).await;
    let h = &handles[0];
    job_on(&actor(h)).await;
    settle().await;
    match slot(h) {
        Slot::Quarantined(why) => assert!(why.starts_with("failed, and max_restarts = 0 allows no restart"), "{why}"),
        other => panic!("not quarantined: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_clean_run_resets_the_backoff() {
    let (_sup, handles) = start(vec![spec("boom", Arc::new(PanickingWorkDouble), policy(10))]).await;
    let h = &handles[0];
    job_on(&actor(h)).await;
    settle().await;
    job_on(&actor(h)).await;
    settle().await;
    assert!(matches!(slot(h), Slot::Restarting));
    tokio::time::sleep(Duration::from_millis(20)).await;
    settle().await;
    // Runs cleanly past reset_after: the next failure restarts at once.
    tokio::time::sleep(Duration::from_secs(31)).await;
    job_on(&actor(h)).await;
    settle().await;
    assert!(matches!(slot(h), Slot::Running(_)), "{:?}", slot(h));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_job_gets_its_child_killed_and_restarted() {
    let (sup, handles) = start(vec![spec("hang", Arc::new(HangingWorkDouble), policy(5))]).await;
    let h = &handles[0];
    let a = actor(h);
    let job = Job::new(vec![], CancellationToken::new());
    let call = a.call(|r| ValidatorMessage::Validate(job, r), None);
    assert!(tokio::time::timeout(Duration::from_millis(100), call).await.is_err());
    sup.cast(SupervisorMessage::JobTimedOut {
        name: "hang".into(),
        actor: a.get_id(),
        file: "x".into(),
        after: Duration::from_millis(100),
    })
    .unwrap();
    settle().await;
    let b = actor(h);
    assert_ne!(a.get_id(), b.get_id());
    let status = ractor::call!(sup, SupervisorMessage::GetStatus).unwrap();
    assert!(status.events.iter().any(|e| e.event == "timed_out" && e.detail.contains("timed out after")));
    // One timeout, one event: the killed child's end is not a `failed` too.
    let kinds: Vec<&str> = status.events.iter().map(|e| e.event).collect();
    assert_eq!(kinds, ["started", "timed_out", "restarted", "started"]);
    assert_eq!(status.validators[0].restarts, 1);
    // A stale report about the old child changes nothing.
    sup.cast(SupervisorMessage::JobTimedOut {
        name: "hang".into(),
        actor: a.get_id(),
        file: "x".into(),
        after: Duration::ZERO,
    })
    .unwrap();
    settle().await;
    assert_eq!(actor(h).get_id(), b.get_id());
}

#[tokio::test(start_paused = true)]
async fn apply_reports_added_changed_removed_and_unchanged() {
    let (sup, _) = start(vec![
        spec("a", Arc::new(PassingWorkDouble), policy(5)),
        spec("b", Arc::new(PassingWorkDouble), policy(5)),
        spec("c", Arc::new(PassingWorkDouble), policy(5)),
    ])
    .await;
    let before = ractor::call!(sup, SupervisorMessage::GetHandles).unwrap();
    let a_id = actor(&before[0]).get_id();
    let mut changed = spec("b", Arc::new(PassingWorkDouble), policy(5));
    changed.config.timeout = Duration::from_secs(9);
    let report = ractor::call!(
        sup,
        SupervisorMessage::Apply,
        vec![
            spec("a", Arc::new(PassingWorkDouble), policy(5)),
            changed,
            spec("d", Arc::new(PassingWorkDouble), policy(5))
        ]
    )
    .unwrap();
    assert_eq!(report.added, ["d"]);
    assert_eq!(report.changed, ["b"]);
    assert_eq!(report.removed, ["c"]);
    assert_eq!(report.unchanged, ["a"]);
    let after = ractor::call!(sup, SupervisorMessage::GetHandles).unwrap();
    assert_eq!(actor(&after[0]).get_id(), a_id, "an unchanged validator keeps its child");
    // Runs that started before the reload (they hold the old handles) finish
    // on the old children of the changed and the removed validator.
    let old_b = actor(&before[1]);
    assert_ne!(actor(&after[1]).get_id(), old_b.get_id(), "the changed validator has a new child");
    assert_eq!(job_on(&old_b).await.len(), 0, "the old child still answers its runs");
    assert!(matches!(slot(&before[2]), Slot::Running(_)), "the removed validator's child serves its runs");
    // Once no run holds them, they stop.
    let (b_slot, c_slot) = (before[1].slot.clone(), before[2].slot.clone());
    drop(before);
    tokio::time::sleep(REAP_EVERY * 2).await;
    settle().await;
    assert!(matches!(*b_slot.borrow(), Slot::Stopped));
    assert!(matches!(*c_slot.borrow(), Slot::Stopped));
}

/// A child a reload retired is still supervised while runs begun before the
/// reload hold it: one that crashes, or is killed for a missed deadline, is
/// restarted (under its own policy) on the configuration those runs started
/// with, so their remaining jobs run instead of being skipped. Once no run
/// holds it, a failure leaves it down.
#[tokio::test(start_paused = true)]
async fn a_retired_child_that_fails_while_held_is_restarted_for_its_runs() {
    let (sup, before) = start(vec![
        spec("boom", Arc::new(PanickingWorkDouble), policy(5)),
        spec("hang", Arc::new(HangingWorkDouble), policy(5)),
    ])
    .await;
    // The reload removes both; `before` stands for the runs holding them.
    ractor::call!(sup, SupervisorMessage::Apply, vec![]).unwrap();
    let (boom, hang) = (&before[0], &before[1]);
    let first = actor(boom);
    job_on(&first).await;
    settle().await;
    assert_ne!(actor(boom).get_id(), first.get_id(), "the crashed retired child was restarted");
    let stuck = actor(hang);
    sup.cast(SupervisorMessage::JobTimedOut {
        name: "hang".into(),
        actor: stuck.get_id(),
        file: "x".into(),
        after: Duration::from_secs(1),
    })
    .unwrap();
    settle().await;
    let next = actor(hang);
    assert_ne!(next.get_id(), stuck.get_id(), "the timed-out retired child was restarted");
    let status = ractor::call!(sup, SupervisorMessage::GetStatus).unwrap();
    assert!(status.validators.is_empty());
    let states: Vec<(&str, &str, usize)> =
        status.retiring.iter().map(|r| (r.name.as_str(), r.state, r.checks)).collect();
    assert_eq!(states, [("boom", "running", 1), ("hang", "running", 1)]);
    let hang_events: Vec<(&str, &str)> =
        status.events.iter().filter(|e| e.validator == "hang").map(|e| (e.event, e.detail.as_str())).collect();
    assert_eq!(
        &hang_events[hang_events.len() - 3..],
        [
            ("timed_out", "job on x timed out after 1s (replaced child)"),
            ("restarted", "immediately (replaced child)"),
            ("started", "(replaced child)"),
        ]
    );
    // No run holds `hang` any more: killed again before it is let go, it
    // stays down.
    let hang_slot = hang.slot.clone();
    drop(before);
    sup.cast(SupervisorMessage::JobTimedOut {
        name: "hang".into(),
        actor: next.get_id(),
        file: "y".into(),
        after: Duration::from_secs(1),
    })
    .unwrap();
    settle().await;
    assert!(matches!(*hang_slot.borrow(), Slot::Stopped), "{:?}", *hang_slot.borrow());
    tokio::time::sleep(REAP_EVERY * 2).await;
    settle().await;
    let status = ractor::call!(sup, SupervisorMessage::GetStatus).unwrap();
    assert!(status.retiring.is_empty(), "{:?}", status.retiring.len());
}

/// A retired child whose last run ends while it waits out a restart
/// backoff is not started again for nobody when the backoff ends.
#[tokio::test(start_paused = true)]
async fn a_retired_child_left_by_its_runs_during_a_backoff_stays_down() {
    let (sup, before) = start(vec![spec("hang", Arc::new(HangingWorkDouble), policy(5))]).await;
    ractor::call!(sup, SupervisorMessage::Apply, vec![]).unwrap();
    let time_out = |actor: ActorRef<ValidatorMessage>| {
        sup.cast(SupervisorMessage::JobTimedOut {
            name: "hang".into(),
            actor: actor.get_id(),
            file: "x".into(),
            after: Duration::from_secs(1),
        })
        .unwrap()
    };
    // The first restart is immediate, the second after a backoff.
    time_out(actor(&before[0]));
    settle().await;
    time_out(actor(&before[0]));
    settle().await;
    let slot = before[0].slot.clone();
    assert!(matches!(*slot.borrow(), Slot::Restarting), "{:?}", *slot.borrow());
    drop(before);
    // The backoff (8–12 ms) ends before the next look for retired children.
    tokio::time::sleep(Duration::from_millis(20)).await;
    settle().await;
    assert!(matches!(*slot.borrow(), Slot::Stopped), "{:?}", *slot.borrow());
    let status = ractor::call!(sup, SupervisorMessage::GetStatus).unwrap();
    let last = status.events.last().unwrap();
    assert_eq!((last.event, last.detail.as_str()), ("timed_out", "job on x timed out after 1s (replaced child)"));
    // One event for one timeout: the child's end is not said again as `failed`.
    assert!(status.events.iter().all(|e| e.event != "failed"), "{:?}", status.events);
}

/// The validators' file selections, compiled on several threads, come back
/// in order, each with its own answer, an invalid glob's error among them.
#[test]
fn file_filters_compiled_on_every_core_come_back_in_order() {
    let mut configs = crate::config::Config::default().validators();
    assert!(configs.len() > 4, "the built-ins");
    let mut bad = configs[0].clone();
    bad.name = "bad".into();
    bad.exclude = vec!["[z-a]".into()];
    configs.insert(2, bad);
    let refs: Vec<&ValidatorConfig> = configs.iter().collect();
    let compiled = compile_filters(&refs);
    assert_eq!(compiled.len(), configs.len());
    for (config, got) in configs.iter().zip(&compiled) {
        match (config.file_filter(), got) {
            (Ok(alone), Ok(got)) => {
                for path in ["a.json", "tests/__snapshots__/a.snap", "third_party/x.c", "README.md", "x.yaml"] {
                    assert_eq!(alone.is_match(path), got.is_match(path), "{}: {path}", config.name);
                }
            }
            (Err(e), Err(got)) => assert_eq!(e.to_string(), *got, "{}", config.name),
            (alone, got) => panic!("{}: alone {:?}, on a thread {:?}", config.name, alone.is_ok(), got.is_ok()),
        }
    }
    assert!(compiled[2].as_ref().is_err_and(|e| e.contains("z-a")), "{:?}", compiled[2].as_ref().err());
    assert!(compile_filters(&[]).is_empty());
}
