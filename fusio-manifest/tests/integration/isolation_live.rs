//! Live isolation checks: whole contended workloads on the embedded S3 server, with its
//! conditional PUT deliberately broken ([`FaultMode::IgnoreConditions`],
//! [`FaultMode::NonAtomic`]) and correct. The checker must flag the broken stores with the
//! anomalies their breakage causes and pass the correct one, so a clean verdict on a real run
//! means something.
//!
//! The contended runs use the S3 Express latency profile on purpose. Writers are open loop and
//! evenly staggered (4 writers at 20 ops/s start an op every 12.5 ms), and at loopback speed an
//! uncontended write takes ~5 ms, so on an idle machine writes often never overlap and a broken
//! store goes unnoticed. With Express latency a write takes ~90 ms, several are always in
//! flight with the same snapshot, and the outcome no longer depends on how fast the machine is.
//!
//! `no_false_alarms_in_20_seeded_runs` takes about 80 s and is a benchmark, built only with the
//! `benchmarks` feature: `cargo test --release -p fusio-manifest-chaos --features benchmarks
//! --test integration isolation_live:: -- --nocapture`.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::{
    anomalies, assert_caught, assert_head_behind_commits, assert_head_matches_commits, assert_pass,
    embedded_with, layer_with, spec, workload, TempDir,
};
use fusio_manifest_chaos::backend::FaultMode;
use fusio_manifest_chaos::chaos::S3LatencyProfile;
use fusio_manifest_chaos::checker::AnomalyClass;
use fusio_manifest_chaos::config::WorkloadConfig;
use fusio_manifest_chaos::workload::{run_workload, RunResult};

/// Writers that share every key and collide often: 4 writers at 20 ops/s over 8 shared keys,
/// one immediate retry, one reader at 20 ops/s, 3 s.
fn contended() -> WorkloadConfig {
    WorkloadConfig {
        key_overlap_ratio: 1.0,
        max_retry_count: 1,
        retry_backoff_ms: 0,
        ..workload(4, 1, 20.0, 8, Duration::from_secs(3))
    }
}

/// Runs `config` with `seed` through `profile` on a fresh embedded server whose conditional
/// PUT behaves as `fault` from the first request on. The history goes to `dir`.
async fn run_on_store(
    fault: FaultMode,
    profile: S3LatencyProfile,
    label: &str,
    config: WorkloadConfig,
    seed: u64,
    dir: &Path,
) -> RunResult {
    let backend = embedded_with(fault).await;
    let layer = layer_with(profile, seed);
    let spec = spec(label, config, dir).seed(seed).build();
    run_workload(&backend, layer, spec).await.unwrap()
}

/// A contended run of `config` ([`contended`] or [`contended_transactions`]) with seed 7 and
/// S3 Express latency on a store whose conditional PUT behaves as `fault`, its findings
/// printed.
async fn contended_run(fault: FaultMode, label: &str, config: WorkloadConfig) -> RunResult {
    let dir = TempDir::new(&format!("isolation-{label}"));
    let profile = S3LatencyProfile::Express;
    let result = run_on_store(fault, profile, label, config, 7, &dir).await;
    print_findings(label, &result);
    result
}

/// Prints one line of counts and verdict, then a few example anomalies.
fn print_findings(label: &str, result: &RunResult) {
    let c = &result.counts;
    println!(
        "[{label}] commits {} precondition failures {} write errors {} final HEAD {:?} \
         verdict {} anomalies: {}",
        c.commits,
        c.precondition_failures,
        c.write_errors,
        result.final_head_txn,
        result.verdict(),
        anomalies(&result.check)
    );
    for a in result.check.anomalies().iter().take(3) {
        println!("  {a}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checker_catches_lost_updates_on_a_store_that_ignores_if_match() {
    let result = contended_run(
        FaultMode::IgnoreConditions,
        "ignore-conditions",
        contended(),
    )
    .await;
    let check = &result.check;
    // Every HEAD PUT succeeds: two commits on the same snapshot `S` are both acknowledged as
    // txn `S + 1`, and the later HEAD (and segment `S + 1`) silently replaces the earlier.
    assert_caught(
        check,
        "a store ignoring If-Match must fail",
        &[AnomalyClass::DuplicateTxnId, AnomalyClass::LostUpdate],
    );
    // Here an attempt only fails at fusio's own stale-HEAD check, before it writes anything, so
    // no failed attempt's value can ever be read.
    for class in [AnomalyClass::AbortedRead, AnomalyClass::GarbageRead] {
        assert_eq!(check.count(class), 0, "{class}: found {}", anomalies(check));
    }
    assert_head_behind_commits(&result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checker_catches_a_non_atomic_compare_and_swap() {
    let result = contended_run(FaultMode::NonAtomic, "non-atomic", contended()).await;
    // Two HEAD PUTs on the same ETag within the 2 ms gap both pass: duplicate txn ids and a
    // fork. Two segment PUTs `If-None-Match: *` on the same sequence number both pass too, the
    // later body wins, and when its commit then loses the HEAD race, readers see the value of
    // an attempt that was told it failed.
    assert_caught(
        &result.check,
        "a non-atomic compare-and-swap must fail",
        &[
            AnomalyClass::DuplicateTxnId,
            AnomalyClass::LostUpdate,
            AnomalyClass::AbortedRead,
        ],
    );
    assert_head_behind_commits(&result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_contended_run_on_the_correct_store_passes() {
    let result = contended_run(FaultMode::None, "correct", contended()).await;
    let c = result.counts;
    assert!(c.commits > 0, "nothing committed: {c:?}");
    assert!(
        c.precondition_failures > 0,
        "the run must be contended to mean anything: {c:?}"
    );
    assert_pass(&result, "the correct store must check clean");
    assert_head_matches_commits(&result);
}

/// [`contended`] with multi-key transactions (3 keys each, 30% of them deleted) and readers
/// scanning 4 keys at a time.
fn contended_transactions() -> WorkloadConfig {
    WorkloadConfig {
        txn_keys: 3,
        delete_percent: 30,
        scan_keys: 4,
        ..contended()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_on_a_store_that_ignores_if_match_form_dependency_cycles() {
    let result = contended_run(
        FaultMode::IgnoreConditions,
        "txn-ignore-conditions",
        contended_transactions(),
    )
    .await;
    let check = &result.check;
    // Transactions on one snapshot are all acknowledged: each missed what the others wrote,
    // so the anti-dependencies between them close cycles (a lost update is a G-single, two
    // transactions that each overwrote a key the other read a G2).
    assert_caught(
        check,
        "a store ignoring If-Match must fail",
        &[AnomalyClass::DuplicateTxnId],
    );
    let cycles = check.count(AnomalyClass::GSingle) + check.count(AnomalyClass::G2);
    assert!(cycles > 0, "no cycle found: {}", anomalies(check));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_on_the_correct_store_pass() {
    let result = contended_run(FaultMode::None, "txn-correct", contended_transactions()).await;
    let c = result.counts;
    assert!(
        c.precondition_failures > 0,
        "the run must be contended to mean anything: {c:?}"
    );
    let row = result.actor_row();
    assert!(
        row.multi_key_txns > 0 && row.deletes > 0 && row.range_scans > 0,
        "{row:?}"
    );
    assert_pass(&result, "the correct store must check clean");
    assert_head_matches_commits(&result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(feature = "benchmarks")]
async fn no_false_alarms_in_20_seeded_runs() {
    let dir = TempDir::new("isolation-seeded");
    // Odd seeds at loopback speed (many commits, some conflicts), even seeds with Express
    // latency (few commits, most attempts conflict).
    let config = WorkloadConfig {
        num_readers: 2,
        writer_rate: 30.0,
        key_pool_size: 16,
        key_overlap_ratio: 0.5,
        ..contended()
    };
    let mut summary = Vec::new();
    for seed in 1..=20u64 {
        let profile = if seed % 2 == 1 {
            S3LatencyProfile::None
        } else {
            S3LatencyProfile::Express
        };
        let label = format!("seed-{seed:02}");
        let result =
            run_on_store(FaultMode::None, profile, &label, config.clone(), seed, &dir).await;
        print_findings(&label, &result);
        let c = result.counts;
        summary.push(format!(
            "seed {seed:>2} {:<8} commits {:>4}  precondition failures {:>4}  write errors {}  \
             final HEAD {:?}  {}",
            profile.name(),
            c.commits,
            c.precondition_failures,
            c.write_errors,
            result.final_head_txn,
            if result.verdict() == "PASS" {
                "PASS".to_string()
            } else {
                format!("FAIL ({})", anomalies(&result.check))
            }
        ));
    }
    println!("== 20 seeded runs on the correct store ==");
    for line in &summary {
        println!("{line}");
    }
    let failed: Vec<&String> = summary.iter().filter(|l| !l.ends_with("PASS")).collect();
    assert!(failed.is_empty(), "false alarms: {failed:#?}");
}
