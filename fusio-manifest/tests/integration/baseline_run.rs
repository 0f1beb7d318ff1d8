//! A short baseline run on the embedded backend: the CSV agrees with the raw counts, the
//! history checks clean, and nothing of the run keeps calling storage afterwards.

use crate::common;

use std::time::Duration;

use common::{assert_head_matches_commits, assert_pass, spec, workload, TempDir};
use fusio_manifest_chaos::metrics::MetricsSummary;
use fusio_manifest_chaos::results::{summary_columns, write_csv, RunFiles};
use fusio_manifest_chaos::workload::run_workload;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_baseline_run_is_consistent_and_leaves_nothing_running() {
    let backend = common::embedded().await;
    let layer = common::layer(1);
    let dir = TempDir::new("baseline");
    let config = workload(4, 2, 20.0, 40, Duration::from_secs(3));
    let spec = spec("baseline", config, &dir).build();
    let result = run_workload(&backend, layer.clone(), spec).await.unwrap();

    let c = result.counts;
    let s = &result.summary;
    assert!(c.commits > 20, "too few commits: {c:?}");
    assert_eq!(
        c.write_ops,
        4 * 60,
        "open loop issues exactly rate x duration ops per writer"
    );
    assert_eq!(
        c.commits + c.precondition_failures + c.write_errors,
        c.write_attempts
    );
    assert!((s.write_tps * s.duration_secs - c.commits as f64).abs() < 1e-6);
    assert!((s.read_tps * s.duration_secs - c.reads as f64).abs() < 1e-6);
    assert!(
        (s.precondition_failure_rate * c.write_attempts as f64 - c.precondition_failures as f64)
            .abs()
            < 1e-6
    );
    assert!(s.write_p50_ms <= s.write_p95_ms && s.write_p95_ms <= s.write_p99_ms);
    assert_head_matches_commits(&result);
    assert_pass(&result, "history must check clean, no harness fault");

    // The CSV: exactly the 24 columns in order, one row, values as computed.
    let csv_path = RunFiles::new(&dir, "test_baseline").csv();
    write_csv(&csv_path, std::slice::from_ref(s)).unwrap();
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, summary_columns());
    assert_eq!(header.len(), 24);
    let rows: Vec<MetricsSummary> = reader.deserialize().collect::<Result<_, _>>().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].total_retry_failures, s.total_retry_failures);
    assert!((rows[0].write_tps - s.write_tps).abs() < 1e-9);

    // Nothing keeps calling storage: fusio-manifest's orphan-recovery loop runs every 3 s,
    // so watch for longer than that.
    let before = layer.total_ops();
    assert_eq!(before, result.s3_ops_at_end);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        layer.total_ops(),
        before,
        "a finished run still calls storage"
    );
}

/// A run without writers (`CHAOS_NUM_WRITERS=0`) reads, but wrote nothing whose isolation
/// could be checked: it is UNKNOWN with that reason, never PASS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_wrote_nothing_is_not_pass() {
    let backend = common::embedded().await;
    let dir = TempDir::new("no-writers");
    let config = workload(0, 2, 20.0, 10, Duration::from_secs(1));
    let spec = spec("readers-only", config, &dir).build();
    let result = run_workload(&backend, common::layer(1), spec)
        .await
        .unwrap();
    assert!(result.counts.reads > 0, "{:?}", result.counts);
    assert_eq!(result.counts.write_ops, 0);
    assert!(
        result.harness_faults.is_empty(),
        "{:?}",
        result.harness_faults
    );
    assert_ne!(result.verdict(), "PASS");
    assert!(
        result.verdict().starts_with("UNKNOWN"),
        "{}",
        result.verdict()
    );
}
