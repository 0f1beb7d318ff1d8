//! The harness self-check end to end: a deliberately broken storage wrapper (a test-only
//! panic on the first conditional PUT, reached inside fusio-manifest's `session_write`) makes
//! the run `INVALID: harness fault` in the result, the verification CSV and the console,
//! never PASS or FAIL; a clean run beside it is not touched.

use std::sync::Arc;
use std::time::Duration;

use fusio_manifest_chaos::backend::Backend;
use fusio_manifest_chaos::chaos::{NetworkChaos, S3LatencyProfile, S3OpKind, StorageLayer};
use fusio_manifest_chaos::config::WorkloadConfig;
use fusio_manifest_chaos::manifest::ManifestOptions;
use fusio_manifest_chaos::runner::{export_all, RunEnv, ScenarioOutcome};
use fusio_manifest_chaos::selfcheck::INVALID_VERDICT;
use fusio_manifest_chaos::workload::RunSpec;

fn spec(label: &str, dir: &std::path::Path) -> RunSpec {
    RunSpec {
        label: label.into(),
        config: WorkloadConfig {
            num_writers: 2,
            num_readers: 1,
            writer_rate: 10.0,
            reader_rate: 10.0,
            key_pool_size: 20,
            duration: Duration::from_secs(2),
            ..Default::default()
        },
        seed: 3,
        history_path: dir.join(format!("{label}.history.jsonl")),
        manifest: ManifestOptions::default(),
        progress_every: None,
        chaos: None,
        op_timeout: Some(Duration::from_secs(2)),
    }
}

fn layer() -> Arc<StorageLayer> {
    Arc::new(StorageLayer::new(NetworkChaos::new(
        S3LatencyProfile::None,
        3,
    )))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_wrapper_makes_its_run_invalid_and_only_its_run() {
    let dir = std::env::temp_dir().join(format!("chaos-selfcheck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let env = Arc::new(RunEnv {
        backend: Backend::embedded().await.expect("embedded backend"),
        out_dir: dir.clone(),
        seed: 3,
        profile: S3LatencyProfile::None,
        op_timeout: Some(Duration::from_secs(2)),
    });
    let broken = layer();
    broken.inject_harness_panic(S3OpKind::CondPut);
    let (bad, good) = tokio::join!(
        ScenarioOutcome::run(&env, broken, spec("broken", &dir)),
        ScenarioOutcome::run(&env, layer(), spec("clean", &dir)),
    );
    let bad_run = bad.result.as_ref().expect("a broken run still reports");
    assert!(bad_run.is_invalid());
    assert_eq!(bad_run.verdict(), INVALID_VERDICT);
    assert!(
        bad_run.harness_faults[0].contains("deliberate harness fault"),
        "{:?}",
        bad_run.harness_faults
    );
    let good_run = good.result.as_ref().expect("clean run");
    assert!(
        !good_run.is_invalid(),
        "a panic in another run's task must not touch this one: {:?}",
        good_run.harness_faults
    );
    assert_eq!(good_run.verdict(), "PASS");

    let exported = export_all(&env, "selfcheck", &[bad, good]).expect("export");
    let csv = std::fs::read_to_string(&exported.verification).expect("verification csv");
    let verdicts: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.rsplit(',').next())
        .collect();
    assert_eq!(verdicts, [INVALID_VERDICT, "PASS"], "{csv}");
    let _ = std::fs::remove_dir_all(&dir);
}
