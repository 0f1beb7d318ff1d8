//! The harness self-check end to end: a deliberately broken storage wrapper (a test-only
//! panic on the first conditional PUT, reached inside fusio-manifest's `session_write`) makes
//! the run `INVALID: harness fault` in the result, the verification CSV and the console,
//! never PASS or FAIL; a clean run beside it is not touched. A request our own S3 server
//! leaves unanswered is a harness fault too; a fault the layer injects on purpose is not.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{assert_pass, embedded, layer, run_env, small_workload, TempDir};
use fusio::fs::FsCas;
use fusio::path::Path;
use fusio_manifest_chaos::chaos::fault_points::parse_fault_points;
use fusio_manifest_chaos::chaos::storage::is_transport_error;
use fusio_manifest_chaos::chaos::{
    ChaosFs, NetworkChaos, S3LatencyProfile, S3OpKind, StorageLayer,
};
use fusio_manifest_chaos::config::WorkloadConfig;
use fusio_manifest_chaos::selfcheck::{HarnessFaults, INVALID_VERDICT};
use fusio_manifest_chaos::workload::{export_all, RunSpec, ScenarioOutcome};

const SEED: u64 = 3;
const OP_TIMEOUT: Duration = Duration::from_secs(2);

fn spec(label: &str, dir: &std::path::Path) -> RunSpec {
    let config = WorkloadConfig {
        op_timeout_ms: OP_TIMEOUT.as_millis() as u64,
        ..small_workload()
    };
    common::spec(label, config, dir).seed(SEED).build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_wrapper_makes_its_run_invalid_and_only_its_run() {
    let dir = TempDir::new("selfcheck");
    let env = Arc::new(run_env(&dir, SEED).await);
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
    let actors = std::fs::read_to_string(&exported.actors).expect("actors csv");
    let labels: Vec<&str> = actors.lines().filter_map(|l| l.split(',').next()).collect();
    assert_eq!(labels, ["config_label", "broken", "clean"], "{actors}");
}

/// A storage layer that treats its server as the harness's own, seeded by [`SEED`].
fn own_server_layer() -> Arc<StorageLayer> {
    Arc::new(StorageLayer::new(NetworkChaos::new(S3LatencyProfile::None, SEED)).with_own_server())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_our_server_leaves_unanswered_is_a_harness_fault() {
    // Stands in for an embedded server out of file descriptors: it accepts, then hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    let hang_up = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let backend = embedded().await;
    let mut settings = backend.settings().clone();
    settings.endpoint = Some(format!("http://{addr}"));
    let fs = ChaosFs::new(settings.fusio_client(), own_server_layer());
    let faults = HarnessFaults::new();
    let err = faults
        .scope(fs.load_with_tag(&Path::parse("p/HEAD.json").expect("test path")))
        .await
        .expect_err("nobody answers");
    hang_up.abort();
    assert!(is_transport_error(&err), "{err}");
    let recorded = faults.faults();
    assert!(
        recorded.len() == 1 && recorded[0].contains("did not answer a GET"),
        "{recorded:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_and_error_answers_are_not_harness_faults() {
    let backend = embedded().await;
    let layer = own_server_layer();
    let points = parse_fault_points("get:HEAD.json#1=refuse;get:HEAD.json#2=transient")
        .expect("valid fault points");
    layer.network().faults().set_fault_points(points);
    let fs = ChaosFs::new(backend.settings().fusio_client(), layer);
    let faults = HarnessFaults::new();
    let head = Path::parse("p/HEAD.json").expect("test path");
    for _ in 0..2 {
        let err = faults
            .scope(fs.load_with_tag(&head))
            .await
            .expect_err("an injected fault");
        assert!(!is_transport_error(&err), "{err}");
    }
    // The third load reaches the server, which answers "no such key".
    let missing = faults.scope(fs.load_with_tag(&head)).await;
    assert!(matches!(missing, Ok(None)), "{missing:?}");
    assert!(faults.faults().is_empty(), "{:?}", faults.faults());
}
