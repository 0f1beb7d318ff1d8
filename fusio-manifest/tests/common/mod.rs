//! Scaffolding shared by the integration tests: [`RunSpec::builder`] with the tests' seed, one temp dir that
//! cleans up after itself, the embedded-store setup every live test repeats, and the
//! assertions several tests make about a run.
//!
//! File names always come from the library's path helpers
//! ([`fusio_manifest_chaos::results::history_path`]), never from a format string here.

// Real-time test scaffolding: deadlines and temp names on the host's clock.
#![allow(clippy::disallowed_methods)]
// Each test binary compiles its own copy of this module and uses only part of it.
#![allow(dead_code)]

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use fusio::fs::{Fs, FsCas};
use fusio::remotes::aws::fs::AmazonS3;
use fusio_manifest::retention::DefaultRetention;
use fusio_manifest_chaos::backend::{Backend, FaultMode};
use fusio_manifest_chaos::chaos::{ChaosFs, NetworkChaos, S3LatencyProfile, StorageLayer};
use fusio_manifest_chaos::checker::{AnomalyClass, CheckReport};
use fusio_manifest_chaos::client::ClientContext;
use fusio_manifest_chaos::config::WorkloadConfig;
use fusio_manifest_chaos::history::{HistoryRecorder, HistoryWriter};
use fusio_manifest_chaos::manifest::{
    build_manifest, ClientManifests, HarnessManifest, RunExecutor,
};
use fusio_manifest_chaos::metrics::MetricsCollector;
use fusio_manifest_chaos::results::history_path;
use fusio_manifest_chaos::timeline::Timeline;
use fusio_manifest_chaos::workload::{RunEnv, RunResult, RunSpec, RunSpecBuilder};
use fusio_manifest_chaos::world::clock;
use futures_util::TryStreamExt;
use serde_json::Value;

/// The seed of a [`spec`] that does not set one.
pub const SEED: u64 = 42;

/// The stem of every history file a test writes: the test binary's name.
const STEM: &str = env!("CARGO_CRATE_NAME");

// ---------------------------------------------------------------------------------------------
// Temp dir

/// A fresh directory under the system temp dir, unique per process and call, removed (with
/// everything in it) on drop. Derefs to [`Path`].
pub struct TempDir(PathBuf);

impl TempDir {
    /// `TMP/chaos-LABEL-PID-N`, created empty.
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("chaos-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    /// Where the history of the run labelled `label` goes in this directory.
    pub fn history(&self, label: &str) -> PathBuf {
        history_path(self, STEM, label)
    }
}

impl Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads and run specs

/// `writers` and `readers` clients, each at `rate` ops/s, over `keys` keys for `duration`;
/// everything else as [`WorkloadConfig::default`] (overlap 0.5, one immediate retry).
pub fn workload(
    writers: usize,
    readers: usize,
    rate: f64,
    keys: usize,
    duration: Duration,
) -> WorkloadConfig {
    WorkloadConfig {
        num_writers: writers,
        num_readers: readers,
        writer_rate: rate,
        reader_rate: rate,
        key_pool_size: keys,
        duration,
        ..Default::default()
    }
}

/// A small uncontended workload: 2 writers and 1 reader at 10 ops/s over 20 keys, 2 s.
pub fn small_workload() -> WorkloadConfig {
    workload(2, 1, 10.0, 20, Duration::from_secs(2))
}

/// [`RunSpec::builder`] for `label` running `config` with seed [`SEED`], its history in `dir`
/// (named by the library's [`history_path`], stem: this test binary's name).
pub fn spec(label: &str, config: WorkloadConfig, dir: &Path) -> RunSpecBuilder {
    RunSpec::builder(label, config, history_path(dir, STEM, label)).seed(SEED)
}

// ---------------------------------------------------------------------------------------------
// Backend, storage layer, manifest, clients

/// A fresh embedded S3 server on 127.0.0.1.
pub async fn embedded() -> Backend {
    Backend::embedded()
        .await
        .expect("embedded S3 server starts")
}

/// A fresh embedded S3 server whose conditional PUT behaves as `fault` from the first request.
pub async fn embedded_with(fault: FaultMode) -> Backend {
    let backend = embedded().await;
    backend
        .embedded_server()
        .expect("an embedded backend has a server")
        .set_fault_mode(fault);
    backend
}

/// A storage layer with no latency model and nothing armed, its randomness seeded by `seed`.
pub fn layer(seed: u64) -> Arc<StorageLayer> {
    layer_with(S3LatencyProfile::None, seed)
}

/// A storage layer with the `profile` latency model, its randomness seeded by `seed`.
pub fn layer_with(profile: S3LatencyProfile, seed: u64) -> Arc<StorageLayer> {
    Arc::new(StorageLayer::new(NetworkChaos::new(profile, seed)))
}

/// A run environment on a fresh embedded server (no latency profile), writing into `out_dir`.
pub async fn run_env(out_dir: &Path, seed: u64) -> RunEnv {
    RunEnv::new(
        embedded().await,
        out_dir.to_path_buf(),
        seed,
        S3LatencyProfile::None,
    )
}

/// An embedded server seen two ways: through the storage wrapper (`chaos`, faulted by `layer`)
/// and directly (`raw`, fault-free, to check what really happened).
pub struct Store {
    pub backend: Backend,
    pub raw: AmazonS3,
    pub chaos: ChaosFs<AmazonS3>,
    pub layer: Arc<StorageLayer>,
}

impl Store {
    /// A fresh embedded server and a [`layer`] seeded by `seed`.
    pub async fn new(seed: u64) -> Self {
        let backend = embedded().await;
        let layer = layer(seed);
        let raw = backend.settings().fusio_client();
        let chaos = ChaosFs::new(raw.clone(), layer.clone());
        Self {
            backend,
            raw,
            chaos,
            layer,
        }
    }
}

/// A manifest under `prefix` on `backend`, through `layer`, with `retention`, and the executor
/// of its background tasks (shut it down when done).
pub fn manifest_on(
    backend: &Backend,
    layer: &Arc<StorageLayer>,
    prefix: &str,
    retention: DefaultRetention,
) -> (HarnessManifest, RunExecutor) {
    let executor = RunExecutor::default();
    let manifest = build_manifest(
        backend.settings().fusio_client(),
        layer.clone(),
        prefix,
        executor.clone(),
        retention,
    );
    (manifest, executor)
}

/// Clients driven by hand (no workload driver): their context, recording into a history file.
pub struct Clients {
    pub ctx: Arc<ClientContext>,
    pub metrics: Arc<MetricsCollector>,
    /// The clients' clock.
    pub start: Instant,
    executor: RunExecutor,
    writer: HistoryWriter,
}

impl Clients {
    /// A context for clients of `manifest` running `config` (its step timeout and lease
    /// keeping), with a timeline of `span` and a history at `history`.
    pub fn new(
        manifest: Arc<HarnessManifest>,
        executor: RunExecutor,
        history: &Path,
        config: WorkloadConfig,
        span: Duration,
    ) -> Self {
        let (history, writer) = HistoryRecorder::create(history).expect("history file");
        let start = Instant::now();
        let metrics = Arc::new(MetricsCollector::new(Arc::new(Timeline::new(start, span))));
        let ctx = Arc::new(ClientContext {
            manifests: ClientManifests::shared(manifest, &config),
            metrics: metrics.clone(),
            history,
            start,
            config: Arc::new(config),
            background: Default::default(),
            abandoned: Default::default(),
            pinned: Default::default(),
        });
        Self {
            ctx,
            metrics,
            start,
            executor,
            writer,
        }
    }

    /// Aborts the manifest's background tasks, drops the context and flushes the history.
    pub fn finish(self) {
        self.executor.shutdown();
        drop(self.ctx);
        self.writer.finish().expect("history flushed");
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the store past the wrapper

/// Wall-clock ms since the Unix epoch on the run's clock, the clock of lease expiry times: the
/// host's, or in a simulation (`world::sim`) its virtual wall time.
pub fn wall_ms() -> u64 {
    clock::system_time()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// Every object key under `dir` of `fs` (fusio's S3 client or a simulated store).
pub async fn list_keys(fs: &impl Fs, dir: &str) -> Vec<String> {
    let path = fusio::path::Path::parse(dir).expect("list path");
    let items: Vec<_> = fs
        .list(&path)
        .await
        .expect("list")
        .try_collect()
        .await
        .expect("list");
    items.into_iter().map(|m| m.path.to_string()).collect()
}

/// The object at `key` of `fs` parsed as JSON, if it exists.
pub async fn load_json(fs: &impl FsCas, key: &str) -> Option<Value> {
    let path = fusio::path::Path::parse(key).expect("object path");
    let (bytes, _) = fs.load_with_tag(&path).await.expect("get object")?;
    Some(serde_json::from_slice(&bytes).expect("JSON object"))
}

/// A lease object as stored (fusio-manifest's `LeaseDoc`).
#[derive(Debug)]
pub struct Lease {
    pub active_txn_id: Option<u64>,
    pub expires_at_ms: u64,
}

impl Lease {
    /// Whether the lease has not expired yet.
    pub fn is_live(&self) -> bool {
        self.expires_at_ms > wall_ms()
    }
}

/// The lease objects present under `prefix` of `fs` (expired or not).
pub async fn leases(fs: &(impl Fs + FsCas), prefix: &str) -> Vec<Lease> {
    let mut out = Vec::new();
    for key in list_keys(fs, &format!("{prefix}/leases")).await {
        // A lease released between the listing and the GET is simply gone.
        if let Some(doc) = load_json(fs, &key).await {
            out.push(Lease {
                active_txn_id: doc["active_txn_id"].as_u64(),
                expires_at_ms: doc["expires_at_ms"].as_u64().expect("expires_at_ms"),
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Assertions about a run

/// Non-zero anomaly counts by class, e.g. `lost_update=3 duplicate_txn_id=3`, or `none`.
pub fn anomalies(check: &CheckReport) -> String {
    let parts: Vec<String> = AnomalyClass::ALL
        .iter()
        .filter(|&&c| check.count(c) > 0)
        .map(|&c| format!("{c}={}", check.count(c)))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(" ")
    }
}

/// The run's verdict is PASS: no isolation anomaly and no harness fault. `why` says what a
/// failure would mean.
pub fn assert_pass(result: &RunResult, why: &str) {
    assert_eq!(
        result.verdict(),
        "PASS",
        "{why}; anomalies: {}; harness faults: {:?}",
        anomalies(&result.check),
        result.harness_faults
    );
}

/// The must-fail check: the run's history fails (`why` says why it must), with every class in
/// `classes` flagged at least once.
pub fn assert_caught(check: &CheckReport, why: &str, classes: &[AnomalyClass]) {
    assert!(!check.is_valid(), "{why}; anomalies: {}", anomalies(check));
    for &class in classes {
        assert!(
            check.count(class) > 0,
            "expected {class} to be flagged, found {}",
            anomalies(check)
        );
    }
}

/// HEAD ended at exactly the number of acknowledged commits: each commit is one txn.
pub fn assert_head_matches_commits(result: &RunResult) {
    assert_eq!(
        result.final_head_txn,
        Some(result.counts.commits),
        "each commit is one txn"
    );
}

/// Acknowledged txn ids are `snapshot + 1` of a HEAD someone wrote, so they cover `1..=max`;
/// when two acknowledged commits share a txn id, HEAD ends below the number of commits. This
/// checks the raw counters, independently of the checker, that commits were really lost.
pub fn assert_head_behind_commits(result: &RunResult) {
    let commits = result.counts.commits;
    assert!(
        result.final_head_txn.is_some_and(|head| head < commits),
        "expected HEAD below the {commits} acknowledged commits, got {:?}",
        result.final_head_txn
    );
}
