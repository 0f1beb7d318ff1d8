//! Builds the system under test: a fusio-manifest `Manifest` over our storage wrapper, with an
//! executor whose background tasks end when the run ends.
//!
//! fusio-manifest starts an orphan-recovery loop per `Manifest` that never exits and keeps its
//! store alive. [`RunExecutor`] tracks every task the manifest spawns; [`RunExecutor::shutdown`]
//! aborts them all and makes later spawns inert, so nothing of a finished run keeps calling
//! storage.
//!
//! [`ClientManifests`] gives each client of a run its manifest: one shared by all, or one per
//! client (`CHAOS_MANIFESTS=per-client`), each with its own HTTP client, caches, orphan-recovery
//! loop and lease store, and optionally a skewed or drifting wall clock
//! ([`RunExecutor::with_clock`]), as separate processes would have.

mod clients;
mod executor;
mod leases;
mod wall_clock;

pub use clients::{ClientManifests, WriterProcess};
pub use executor::{RunExecutor, RunTasks};
pub use leases::{leases_left, LeasesLeft};
pub use wall_clock::WallClock;

use std::sync::Arc;

use fusio_manifest::manifest::Manifest;
use fusio_manifest::retention::DefaultRetention;
use fusio_manifest::BackoffPolicy;
use fusio_manifest::{
    CheckpointStoreImpl, HeadStoreImpl, LeaseStoreImpl, ManifestContext, SegmentStoreImpl,
};

use crate::backend::StoreFs;
use crate::chaos::{ChaosFs, StorageLayer};

/// The filesystem every harness manifest runs on: our storage wrapper over S3 over HTTP, or
/// over a simulated run's in-process store.
pub type HarnessFs = ChaosFs<StoreFs>;

/// fusio-manifest's generic `Manifest` over [`HarnessFs`], keys and values as strings.
pub type HarnessManifest = Manifest<
    String,
    String,
    HeadStoreImpl<HarnessFs>,
    SegmentStoreImpl<HarnessFs>,
    CheckpointStoreImpl<HarnessFs>,
    LeaseStoreImpl<HarnessFs, RunExecutor>,
    RunExecutor,
    DefaultRetention,
>;

/// Builds a manifest under `prefix` on `s3`, through `layer`, with the run's `executor` and
/// `retention` (the workload's: [`crate::config::WorkloadConfig::retention`]). Mirrors what
/// fusio-manifest's own `S3Manifest::from(Config)` wires, over our wrapper.
pub fn build_manifest(
    s3: impl Into<StoreFs>,
    layer: Arc<StorageLayer>,
    prefix: &str,
    executor: RunExecutor,
    retention: DefaultRetention,
) -> HarnessManifest {
    let fs = ChaosFs::new(s3.into(), layer).in_process(executor.process().cloned());
    let prefix = prefix.trim_end_matches('/').to_string();
    let mut context = ManifestContext::new(executor.clone()).with_retention(retention);
    if crate::world::clock::is_simulated() {
        // fusio-manifest measures its commit budget with `Instant::elapsed()` on the host's
        // clock, which virtual time cannot move: off in a simulated world (see world::sim).
        let backoff = BackoffPolicy {
            max_elapsed_ms: 0,
            ..context.backoff
        };
        context = context.with_backoff(backoff);
    }
    let head = HeadStoreImpl::new(fs.clone(), format!("{prefix}/HEAD.json"));
    let segments = SegmentStoreImpl::new(fs.clone(), format!("{prefix}/segments"));
    let checkpoints = CheckpointStoreImpl::new(fs.clone(), prefix.clone());
    let leases = LeaseStoreImpl::new(fs, prefix, context.backoff, executor);
    Manifest::new_with_context(head, segments, checkpoints, leases, Arc::new(context))
}

/// Builds one client's manifest with the executor it is given.
pub type BuildManifest = Arc<dyn Fn(RunExecutor) -> HarnessManifest + Send + Sync>;
