//! S3-level faults fire at about their configured rate and do what they claim: a transient
//! error is not applied, an ambiguous success is applied, a stall holds an applied answer, a
//! refused block fails at once without applying, and rules respect their operation and key
//! filters.

// Real-time runs against the embedded server: the host's clock is what they time.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::time::{Duration, Instant};

use common::{assert_pass, small_workload, spec, Store, TempDir};
use fusio::fs::{CasCondition, FsCas};
use fusio::path::Path;
use fusio_manifest_chaos::chaos::{BlockMode, ChaosScenario, FaultKind, FaultSpec, S3OpKind};
use fusio_manifest_chaos::config::WorkloadConfig;
use fusio_manifest_chaos::history::{read_history, Event, Outcome};
use fusio_manifest_chaos::workload::run_workload;

const OPS: usize = 400;
const P: f64 = 0.3;

/// 400 trials at p = 0.3: mean 120, standard deviation ~9.2; accept +-5 sd.
fn assert_about_rate(hits: usize) {
    assert!(
        (74..=166).contains(&hits),
        "{hits} of {OPS} fired; expected about {}",
        (OPS as f64 * P) as usize
    );
}

/// A fresh store whose wrapper injects `faults`.
async fn rig(faults: Vec<FaultSpec>) -> Store {
    let store = Store::new(11).await;
    store.layer.network().faults().set_faults(faults);
    store
}

fn key(i: usize) -> Path {
    Path::parse(format!("faults/obj-{i:04}")).unwrap()
}

/// Creates `OPS` distinct objects through the wrapper; returns which calls returned an error
/// and whether each object exists afterwards (read with the raw, fault-free client).
async fn create_all(r: &Store) -> Vec<(bool, bool)> {
    let mut out = Vec::with_capacity(OPS);
    for i in 0..OPS {
        let errored = r
            .chaos
            .put_conditional(&key(i), b"v", None, None, CasCondition::IfNotExists)
            .await
            .is_err();
        let exists = r.raw.load_with_tag(&key(i)).await.unwrap().is_some();
        out.push((errored, exists));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_fire_at_their_rate_and_are_not_applied() {
    let r = rig(vec![FaultSpec::everywhere(FaultKind::Transient, P)]).await;
    let results = create_all(&r).await;
    let errors = results.iter().filter(|(e, _)| *e).count();
    assert_about_rate(errors);
    for (i, (errored, exists)) in results.iter().enumerate() {
        assert_eq!(
            *exists, !errored,
            "object {i}: errored={errored} exists={exists}"
        );
    }
    assert_eq!(
        r.layer.network().faults().fault_counts().transient as usize,
        errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_successes_fire_at_their_rate_and_are_applied() {
    let r = rig(vec![
        FaultSpec::everywhere(FaultKind::AmbiguousSuccess, P).on(&[S3OpKind::CondPut])
    ])
    .await;
    let results = create_all(&r).await;
    let errors = results.iter().filter(|(e, _)| *e).count();
    assert_about_rate(errors);
    assert!(
        results.iter().all(|(_, exists)| *exists),
        "every ambiguous success must be applied"
    );
    // Reads are not conditional PUTs: the rule must not touch them.
    for i in 0..50 {
        r.chaos.load_with_tag(&key(i)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalls_hold_applied_answers() {
    let stall = Duration::from_millis(40);
    let r = rig(vec![FaultSpec::everywhere(FaultKind::Stall(stall), P)]).await;
    let mut slow = 0;
    for i in 0..OPS {
        let t = Instant::now();
        r.chaos
            .put_conditional(&key(i), b"v", None, None, CasCondition::IfNotExists)
            .await
            .unwrap();
        if t.elapsed() >= stall {
            slow += 1;
        }
    }
    // A stall holds its answer at least `stall`; a loaded host may also make an unstalled op
    // that slow, so the count of slow ops only bounds the stalls from above.
    let stalls = r.layer.network().faults().fault_counts().stalls as usize;
    assert_about_rate(stalls);
    assert!(
        slow >= stalls,
        "{stalls} stalls but only {slow} ops took {stall:?} or more: a stall answered early"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_filter_limits_a_rule_to_matching_objects() {
    let r = rig(vec![
        FaultSpec::everywhere(FaultKind::Transient, 1.0).on_keys("HEAD.json")
    ])
    .await;
    let other = Path::parse("faults/segment-1.json").unwrap();
    let head = Path::parse("faults/HEAD.json").unwrap();
    r.chaos
        .put_conditional(&other, b"v", None, None, CasCondition::IfNotExists)
        .await
        .unwrap();
    assert!(r
        .chaos
        .put_conditional(&head, b"v", None, None, CasCondition::IfNotExists)
        .await
        .is_err());
    assert!(r.raw.load_with_tag(&head).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_blocks_fail_at_once_without_applying() {
    let r = rig(Vec::new()).await;
    let net = r.layer.network();
    net.blocks().set_block_mode(BlockMode::Refuse);
    net.blocks().set_blocked(true);
    let t = Instant::now();
    let refused = r
        .chaos
        .put_conditional(&key(0), b"v", None, None, CasCondition::IfNotExists)
        .await;
    assert!(refused.is_err());
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "a refused op must not wait"
    );
    assert!(r.raw.load_with_tag(&key(0)).await.unwrap().is_none());
    net.blocks().set_blocked(false);
    r.chaos
        .put_conditional(&key(0), b"v", None, None, CasCondition::IfNotExists)
        .await
        .unwrap();
    assert_eq!(net.faults().fault_counts().refused, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_stalled_past_the_client_timeout_are_indeterminate_and_check_clean() {
    let backend = common::embedded().await;
    let layer = common::layer(5);
    let dir = TempDir::new("faults-timeout");
    let scenario = ChaosScenario {
        label: "stall".into(),
        faults: vec![
            FaultSpec::everywhere(FaultKind::Stall(Duration::from_millis(300)), 0.5)
                .on(&[S3OpKind::CondPut])
                .on_keys("HEAD.json"),
        ],
        ..ChaosScenario::baseline()
    };
    let config = WorkloadConfig {
        op_timeout_ms: 100,
        ..small_workload()
    };
    let spec = spec("stall", config, &dir).seed(3).chaos(scenario).build();
    let result = run_workload(&backend, layer, spec).await.unwrap();
    let timed_out_commits = read_history(&result.history_path)
        .filter_map(Result::ok)
        .filter(|e| {
            matches!(e, Event::Write { outcome: Outcome::Info, error: Some(err), .. }
                if err.contains("client timeout"))
        })
        .count();
    assert!(
        timed_out_commits > 0,
        "no commit timed out: {:?}",
        result.counts
    );
    assert!(result.counts.write_errors as usize >= timed_out_commits);
    assert_pass(
        &result,
        "indeterminate commits that landed must not be anomalies, and no harness fault",
    );
}
