//! Harness overhead benchmark: commits/s of fusio-manifest driven through the harness (storage
//! wrapper, history recording, metrics) against a bare loop over fusio-manifest's own
//! `S3Manifest` on the same embedded backend. Goal: a ratio of at least 0.9.
//!
//! ```text
//! cargo test --release -p fusio-manifest-chaos --features benchmarks --test benchmarks harness_overhead:: -- --nocapture
//! ```

// Real-time runs against the embedded server: the host's clock is what they time.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{manifest_on, Clients, TempDir};

use fusio::remotes::aws::AwsCredential;
use fusio_manifest::s3::{Builder, S3Manifest};
use fusio_manifest_chaos::backend::Backend;
use fusio_manifest_chaos::client::{write_op, WritePlan};
use fusio_manifest_chaos::config::WorkloadConfig;
use rand::rngs::StdRng;
use rand::SeedableRng;

const WRITERS: usize = 4;
const KEYS: usize = 64;
const ROUND: Duration = Duration::from_secs(5);

/// Commits/s of `WRITERS` closed-loop writers on a bare `S3Manifest`.
async fn bare_round(backend: &Backend, round: usize) -> f64 {
    let s = backend.settings();
    let config = Builder::new(s.bucket.clone())
        .prefix(backend.new_prefix(&format!("bare-{round}")))
        .endpoint(s.endpoint.clone().unwrap_or_default())
        .region(s.region.clone())
        .credential(AwsCredential {
            key_id: s.access_key.clone(),
            secret_key: s.secret_key.clone(),
            token: None,
        })
        .sign_payload(true)
        .build();
    let manifest: Arc<S3Manifest<String, String>> = Arc::new(config.into());
    let commits = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let manifest = manifest.clone();
            let commits = commits.clone();
            tokio::spawn(async move {
                let mut i = 0usize;
                while start.elapsed() < ROUND {
                    i += 1;
                    let key = format!("k{:06}", (w * 7919 + i) % KEYS);
                    let Ok(mut session) = manifest.session_write().await else {
                        continue;
                    };
                    let prev = session.get(&key).await.ok().flatten();
                    let value = format!(
                        "w{w}:{i}:0|prev={}|{}",
                        prev.map(|p| p.len()).unwrap_or(0),
                        ".".repeat(1000)
                    );
                    session.put(key, value);
                    if session.commit().await.is_ok() {
                        commits.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    commits.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Commits/s of the same writers through the harness: wrapper, history, metrics, retries off.
async fn harness_round(backend: &Backend, round: usize, dir: &TempDir) -> f64 {
    let layer = common::layer(1);
    let prefix = backend.new_prefix(&format!("harness-{round}"));
    let config = WorkloadConfig {
        max_retry_count: 0,
        key_pool_size: KEYS,
        ..Default::default()
    };
    let (manifest, executor) = manifest_on(backend, &layer, &prefix, config.retention());
    let history = dir.history(&format!("round-{round}"));
    let clients = Clients::new(Arc::new(manifest), executor, &history, config, ROUND);
    let start = clients.start;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let ctx = clients.ctx.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(w as u64);
                let mut op = 0u64;
                while start.elapsed() < ROUND {
                    op += 1;
                    let key = format!("k{:06}", (w * 7919 + op as usize) % KEYS);
                    write_op(&ctx, w, op, WritePlan::Key(key), Instant::now(), &mut rng).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let rate = clients.metrics.counts().commits as f64 / start.elapsed().as_secs_f64();
    clients.finish();
    rate
}

#[tokio::test(flavor = "multi_thread")]
async fn harness_overhead_ratio() {
    let backend = common::embedded().await;
    let dir = TempDir::new("overhead");
    let (mut bare, mut harness) = (Vec::new(), Vec::new());
    for round in 0..3 {
        bare.push(bare_round(&backend, round).await);
        harness.push(harness_round(&backend, round, &dir).await);
        println!(
            "round {round}: bare {:.0} commits/s, harness {:.0} commits/s",
            bare[round], harness[round]
        );
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let ratio = mean(&harness) / mean(&bare);
    println!(
        "harness overhead: {WRITERS} writers, {KEYS} keys, {} rounds of {ROUND:?}: bare {:.0} commits/s, harness {:.0} commits/s, ratio {ratio:.3} (goal >= 0.9)",
        bare.len(),
        mean(&bare),
        mean(&harness)
    );
    assert!(
        ratio >= 0.9,
        "the harness costs more than 10% of fusio-manifest's commit rate: ratio {ratio:.3}"
    );
}
