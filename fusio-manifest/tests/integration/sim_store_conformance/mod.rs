//! The simulated store shows a caller what fusio's `AmazonS3` shows against the embedded S3
//! server: one script of operations runs through both (each wrapped in a `StoreFs`), every
//! step's outcome is normalised (ETags by role; errors by variant, HTTP status and the S3 error
//! document's code and message), and the two lists must be equal step by step. A store that
//! ignores conditions must differ at the first `If-None-Match` on an existing key. Also: a
//! manifest builds and commits over `ChaosFs<StoreFs>` on the simulated store.
//!
//! The same for the `fs` mode: a second script ([`fs_script`]) runs through fusio's `TokioFs`
//! in a fresh temporary directory and through `SimS3` in the `fs` mode, and every outcome must
//! be equal; a store ignoring conditions must differ.

use crate::common;
mod fs_script;
mod script;

use std::sync::Arc;

use fusio::impls::disk::TokioFs;

use common::TempDir;
use fs_script::run_fs_script;
use fusio_manifest::manifest::Manifest;
use fusio_manifest::retention::DefaultRetention;
use fusio_manifest::{
    CheckpointStoreImpl, HeadStoreImpl, LeaseStoreImpl, ManifestContext, SegmentStoreImpl,
};
use fusio_manifest_chaos::backend::{Backend, FaultMode, SimS3, SimStoreMode, StoreFs};
use fusio_manifest_chaos::chaos::{ChaosFs, NetworkChaos, S3LatencyProfile, StorageLayer};
use fusio_manifest_chaos::manifest::RunExecutor;
use script::{run_script, Outcome};

/// The first step where `a` (the reference) and `b` (the simulated store) differ: its index
/// and a description.
fn first_difference(a: &[(String, Outcome)], b: &[(String, Outcome)]) -> Option<(usize, String)> {
    let n = a.len().max(b.len());
    (0..n).find_map(|i| match (a.get(i), b.get(i)) {
        (Some(x), Some(y)) if x == y => None,
        (x, y) => Some((
            i,
            format!("step {i}:\n  reference: {x:?}\n  sim:       {y:?}"),
        )),
    })
}

async fn embedded_script() -> Vec<(String, Outcome)> {
    let backend = Backend::embedded()
        .await
        .expect("embedded S3 server starts");
    let fs = StoreFs::S3(backend.settings().fusio_client());
    run_script(&fs).await
}

#[tokio::test]
async fn sim_store_answers_as_amazon_s3_on_the_embedded_server() {
    let embedded = embedded_script().await;
    let sim = run_script(&StoreFs::Sim(SimS3::new())).await;
    for (label, outcome) in embedded.iter().filter(|(l, _)| !l.starts_with("list")) {
        println!("{label}: {outcome:?}");
    }
    println!("{} steps compared", embedded.len());
    if let Some((_, diff)) = first_difference(&embedded, &sim) {
        panic!("the simulated store differs from AmazonS3 on the embedded server at {diff}");
    }
}

#[tokio::test]
async fn a_store_ignoring_conditions_differs_at_if_none_match() {
    let embedded = embedded_script().await;
    let broken = SimS3::new();
    broken.set_fault_mode(FaultMode::IgnoreConditions);
    let sim = run_script(&StoreFs::Sim(broken)).await;
    let (i, diff) = first_difference(&embedded, &sim).expect("a broken store must differ");
    println!("first difference, as expected: {diff}");
    assert_eq!(embedded[i].0, "If-None-Match on an existing key", "{diff}");
}

/// fusio-manifest's `Manifest` over `ChaosFs<StoreFs>`, wired as `build_manifest` does.
type StoreManifest = Manifest<
    String,
    String,
    HeadStoreImpl<ChaosFs<StoreFs>>,
    SegmentStoreImpl<ChaosFs<StoreFs>>,
    CheckpointStoreImpl<ChaosFs<StoreFs>>,
    LeaseStoreImpl<ChaosFs<StoreFs>, RunExecutor>,
    RunExecutor,
    DefaultRetention,
>;

fn store_manifest(store: StoreFs, prefix: &str, executor: RunExecutor) -> StoreManifest {
    let layer = Arc::new(StorageLayer::new(NetworkChaos::new(
        S3LatencyProfile::None,
        1,
    )));
    let fs = ChaosFs::new(store, layer);
    let context = ManifestContext::new(executor.clone());
    let head = HeadStoreImpl::new(fs.clone(), format!("{prefix}/HEAD.json"));
    let segments = SegmentStoreImpl::new(fs.clone(), format!("{prefix}/segments"));
    let checkpoints = CheckpointStoreImpl::new(fs.clone(), prefix.to_string());
    let leases = LeaseStoreImpl::new(fs, prefix.to_string(), context.backoff, executor);
    Manifest::new_with_context(head, segments, checkpoints, leases, Arc::new(context))
}

#[tokio::test]
async fn a_manifest_commits_and_reads_back_on_the_simulated_store() {
    let sim = SimS3::new();
    let executor = RunExecutor::default();
    let manifest = store_manifest(StoreFs::Sim(sim.clone()), "m", executor.clone());
    let mut session = manifest.session_write().await.expect("write session");
    session.put("k".to_string(), "v".to_string());
    session.commit().await.expect("commit");
    let session = manifest.session_read().await.expect("read session");
    let value = session.get(&"k".to_string()).await.expect("get");
    session.end().await.expect("end");
    executor.shutdown();
    assert_eq!(value.as_deref(), Some("v"));
    assert!(sim.object_count("m/HEAD.json") == 1 && sim.object_count("m/segments/") == 1);
}

/// A directory as a fusio key: its canonical absolute path without the leading `/`.
fn dir_key(dir: &TempDir) -> String {
    let dir = dir.canonicalize().expect("an absolute path");
    dir.to_string_lossy().trim_start_matches('/').to_string()
}

/// The `fs` script on fusio's `TokioFs` in a fresh temporary directory.
async fn tokio_fs_script() -> (Vec<(String, Outcome)>, TempDir) {
    let dir = TempDir::new("fs-conformance");
    let is_dir = |p: &str| std::path::Path::new(&format!("/{p}")).is_dir();
    let steps = run_fs_script(&TokioFs, &dir_key(&dir), &is_dir).await;
    (steps, dir)
}

// `TokioFile` reads and writes in `block_in_place`: a multi-thread runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_store_fs_mode_answers_as_tokio_fs() {
    let (real, dir) = tokio_fs_script().await;
    let sim = SimS3::with_mode(SimStoreMode::Fs);
    let probe = sim.clone();
    let simulated = run_fs_script(&sim, &dir_key(&dir), &move |p| probe.is_dir(p)).await;
    for (label, outcome) in &real {
        println!("{label}: {outcome:?}");
    }
    println!("{} steps compared", real.len());
    if let Some((_, diff)) = first_difference(&real, &simulated) {
        panic!("the fs mode of the simulated store differs from TokioFs at {diff}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_fs_store_ignoring_conditions_differs_from_tokio_fs() {
    let (real, dir) = tokio_fs_script().await;
    let broken = SimS3::with_mode(SimStoreMode::Fs);
    broken.set_fault_mode(FaultMode::IgnoreConditions);
    let probe = broken.clone();
    let simulated = run_fs_script(&broken, &dir_key(&dir), &move |p| probe.is_dir(p)).await;
    let (i, diff) = first_difference(&real, &simulated).expect("a broken store must differ");
    println!("first difference, as expected: {diff}");
    assert_eq!(real[i].0, "If-Match on a missing key", "{diff}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_mode_differs_from_tokio_fs_at_the_first_missing_file() {
    let (real, dir) = tokio_fs_script().await;
    let s3 = SimS3::new();
    let simulated = run_fs_script(&s3, &dir_key(&dir), &|_: &str| false).await;
    let (i, diff) = first_difference(&real, &simulated).expect("S3 answers differ");
    println!("first difference, as expected: {diff}");
    assert_eq!(real[i].0, "exists missing", "{diff}");
}

#[tokio::test]
async fn a_manifest_commits_and_reads_back_on_the_fs_mode_store() {
    let sim = SimS3::with_mode(SimStoreMode::Fs);
    let executor = RunExecutor::default();
    let manifest = store_manifest(StoreFs::Sim(sim.clone()), "m", executor.clone());
    let mut session = manifest.session_write().await.expect("write session");
    session.put("k".to_string(), "v".to_string());
    session.commit().await.expect("commit");
    let session = manifest.session_read().await.expect("read session");
    let value = session.get(&"k".to_string()).await.expect("get");
    session.end().await.expect("end");
    executor.shutdown();
    assert_eq!(value.as_deref(), Some("v"));
    assert!(sim.object_count("m/HEAD.json") == 1 && sim.object_count("m/segments/") == 1);
}
