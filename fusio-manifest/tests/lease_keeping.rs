//! Clients keep their session leases alive by default, and let them lapse only when asked
//! (`lapse_leases`, the `lease-expiry` scenario): a read whose segment GET is stalled for 3 s
//! outlives its 1 s lease TTL; halfway through, its lease object must still be live with the
//! keeper and expired without it.

use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fusio::fs::{Fs, FsCas};
use fusio::path::Path;
use fusio_manifest_chaos::backend::Backend;
use fusio_manifest_chaos::chaos::{
    FaultKind, FaultSpec, NetworkChaos, S3LatencyProfile, S3OpKind, StorageLayer,
};
use fusio_manifest_chaos::client::{read_op, ClientContext};
use fusio_manifest_chaos::config::WorkloadConfig;
use fusio_manifest_chaos::history::HistoryRecorder;
use fusio_manifest_chaos::manifest::{build_manifest, ManifestOptions, RunExecutor};
use fusio_manifest_chaos::metrics::{MetricsCollector, Timeline};
use futures_util::TryStreamExt;

const TTL: Duration = Duration::from_secs(1);
const STALL: Duration = Duration::from_secs(3);

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("chaos-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Lease objects under `prefix`: how many exist, and how many of them have an
/// `expires_at_ms` still in the future.
async fn leases(raw: &fusio::remotes::aws::fs::AmazonS3, prefix: &str) -> (usize, usize) {
    let dir = Path::parse(format!("{prefix}/leases")).expect("path");
    let metas: Vec<_> = raw
        .list(&dir)
        .await
        .expect("list")
        .try_collect()
        .await
        .expect("list");
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let (mut present, mut live) = (0, 0);
    for meta in metas {
        let Some((bytes, _)) = raw.load_with_tag(&meta.path).await.expect("get lease") else {
            continue;
        };
        present += 1;
        let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("lease json");
        if doc["expires_at_ms"].as_u64().is_some_and(|t| t > now_ms) {
            live += 1;
        }
    }
    (present, live)
}

/// Lease objects (present, live) seen halfway through a read stalled past its lease TTL.
async fn leases_mid_read(keep_leases: bool) -> (usize, usize) {
    let backend = Backend::embedded().await.expect("embedded backend");
    let layer = Arc::new(StorageLayer::new(NetworkChaos::new(
        S3LatencyProfile::None,
        5,
    )));
    let prefix = backend.new_prefix(&format!("lease-keeping-{keep_leases}"));
    let executor = RunExecutor::default();
    let options = ManifestOptions {
        lease_ttl: Some(TTL),
        lapse_leases: !keep_leases,
    };
    let manifest = Arc::new(build_manifest(
        backend.settings().fusio_client(),
        layer.clone(),
        &prefix,
        executor.clone(),
        &options,
    ));
    let mut seed = manifest.session_write().await.expect("session");
    seed.put("k000000".into(), "seed".into());
    seed.commit().await.expect("seed commit");

    let dir = temp_dir(&format!("lease-keeping-{keep_leases}"));
    let (history, writer) = HistoryRecorder::create(dir.join("h.jsonl")).expect("history");
    let start = Instant::now();
    let ctx = Arc::new(ClientContext {
        manifest,
        metrics: Arc::new(MetricsCollector::new(Arc::new(Timeline::new(
            start,
            Duration::from_secs(10),
        )))),
        history,
        start,
        config: Arc::new(WorkloadConfig::default()),
        op_timeout: None,
        keep_leases,
        background: Default::default(),
        abandoned: AtomicUsize::new(0),
    });
    layer
        .network()
        .set_faults(vec![FaultSpec::everywhere(FaultKind::Stall(STALL), 1.0)
            .on(&[S3OpKind::Get])
            .on_keys("segments/")]);
    let read = {
        let ctx = ctx.clone();
        tokio::spawn(async move { read_op(&ctx, 0, 0, vec!["k000000".into()], start).await })
    };
    tokio::time::sleep(STALL / 2 + TTL / 2).await;
    let seen = leases(&backend.settings().fusio_client(), &prefix).await;
    read.await.expect("read op");
    executor.shutdown();
    drop(ctx);
    writer.finish().expect("history");
    std::fs::remove_dir_all(&dir).ok();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_keeps_its_lease_alive_past_the_ttl_by_default() {
    assert_eq!(leases_mid_read(true).await, (1, 1), "(present, live)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_lapse_leases_the_lease_expires_mid_session() {
    // Still there (nobody released it early), but expired.
    assert_eq!(leases_mid_read(false).await, (1, 0), "(present, live)");
}
