//! A short baseline run on the embedded backend: the CSV agrees with the raw counts, the
//! history checks clean, and nothing of the run keeps calling storage afterwards.

use std::sync::Arc;
use std::time::Duration;

use fusio_manifest_chaos::backend::Backend;
use fusio_manifest_chaos::chaos::{NetworkChaos, S3LatencyProfile, StorageLayer};
use fusio_manifest_chaos::config::WorkloadConfig;
use fusio_manifest_chaos::manifest::ManifestOptions;
use fusio_manifest_chaos::metrics::{MetricsSummary, CSV_COLUMNS};
use fusio_manifest_chaos::visualization::export_summaries;
use fusio_manifest_chaos::workload::{run_workload, RunSpec};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("chaos-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_baseline_run_is_consistent_and_leaves_nothing_running() {
    let backend = Backend::embedded().await.unwrap();
    let layer = Arc::new(StorageLayer::new(NetworkChaos::new(
        S3LatencyProfile::None,
        1,
    )));
    let dir = temp_dir("baseline");
    let config = WorkloadConfig {
        num_writers: 4,
        num_readers: 2,
        writer_rate: 20.0,
        reader_rate: 20.0,
        key_pool_size: 40,
        key_overlap_ratio: 0.5,
        duration: Duration::from_secs(3),
        ..Default::default()
    };
    let result = run_workload(
        &backend,
        layer.clone(),
        RunSpec {
            label: "baseline".into(),
            config,
            seed: 42,
            history_path: dir.join("baseline.history.jsonl"),
            manifest: ManifestOptions::default(),
            progress_every: None,
            chaos: None,
            op_timeout: None,
        },
    )
    .await
    .unwrap();

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
    assert_eq!(
        result.final_head_txn,
        Some(c.commits),
        "each commit is one txn"
    );
    assert_eq!(
        result.verdict(),
        "PASS",
        "history must check clean, no harness fault"
    );

    // The CSV: exactly the 24 columns in order, one row, values as computed.
    let csv_path = dir.join("test_baseline.csv");
    export_summaries(&csv_path, std::slice::from_ref(s)).unwrap();
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, CSV_COLUMNS);
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
    std::fs::remove_dir_all(&dir).ok();
}
