//! The harness self-check end to end: a deliberately broken storage wrapper (a test-only
//! panic on the first conditional PUT, reached inside fusio-manifest's `session_write`) makes
//! the run `INVALID: harness fault` in the result, the verification CSV and the console,
//! never PASS or FAIL; a clean run beside it is not touched.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{assert_pass, layer, run_env, small_workload, TempDir};
use fusio_manifest_chaos::chaos::S3OpKind;
use fusio_manifest_chaos::runner::{export_all, ScenarioOutcome};
use fusio_manifest_chaos::selfcheck::INVALID_VERDICT;
use fusio_manifest_chaos::workload::RunSpec;

const SEED: u64 = 3;
const OP_TIMEOUT: Duration = Duration::from_secs(2);

fn spec(label: &str, dir: &std::path::Path) -> RunSpec {
    common::spec(label, small_workload())
        .seed(SEED)
        .history_in(dir)
        .op_timeout(OP_TIMEOUT)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_wrapper_makes_its_run_invalid_and_only_its_run() {
    let dir = TempDir::new("selfcheck");
    let env = Arc::new(run_env(&dir, SEED, Some(OP_TIMEOUT)).await);
    let broken = layer(SEED);
    broken.inject_harness_panic(S3OpKind::CondPut);
    let (bad, good) = tokio::join!(
        ScenarioOutcome::run(&env, broken, spec("broken", &dir)),
        ScenarioOutcome::run(&env, layer(SEED), spec("clean", &dir)),
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
    assert_pass(good_run, "a clean run beside a broken one must pass");

    let exported = export_all(&env, "selfcheck", &[bad, good]).expect("export");
    let csv = std::fs::read_to_string(&exported.verification).expect("verification csv");
    let verdicts: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.rsplit(',').next())
        .collect();
    assert_eq!(verdicts, [INVALID_VERDICT, "PASS"], "{csv}");
}
