//! Clients keep their session leases alive by default, and let them lapse only when asked
//! (`CHAOS_KEEP_LEASES=false`, the `lease-expiry` scenario): a read whose segment GET is stalled for 3 s
//! outlives its 1 s lease TTL; halfway through, its lease object must still be live with the
//! keeper and expired without it.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{leases, manifest_on, Clients, TempDir};
use fusio_manifest_chaos::chaos::{FaultKind, FaultSpec, S3OpKind};
use fusio_manifest_chaos::client::read_op;
use fusio_manifest_chaos::config::WorkloadConfig;

const TTL: Duration = Duration::from_secs(1);
const STALL: Duration = Duration::from_secs(3);

/// Lease objects (present, live) seen halfway through a read stalled past its lease TTL.
async fn leases_mid_read(keep_leases: bool) -> (usize, usize) {
    let backend = common::embedded().await;
    let layer = common::layer(5);
    let prefix = backend.new_prefix(&format!("lease-keeping-{keep_leases}"));
    let config = WorkloadConfig {
        lease_ttl_secs: TTL.as_secs(),
        keep_leases,
        ..Default::default()
    };
    let (manifest, executor) = manifest_on(&backend, &layer, &prefix, config.retention());
    let manifest = Arc::new(manifest);
    let mut seed = manifest.session_write().await.expect("session");
    seed.put("k000000".into(), "seed".into());
    seed.commit().await.expect("seed commit");

    let dir = TempDir::new(&format!("lease-keeping-{keep_leases}"));
    let clients = Clients::new(
        manifest,
        executor,
        &dir.history("read"),
        config,
        Duration::from_secs(10),
    );
    layer
        .network()
        .faults()
        .set_faults(vec![FaultSpec::everywhere(FaultKind::Stall(STALL), 1.0)
            .on(&[S3OpKind::Get])
            .on_keys("segments/")]);
    let read = {
        let (ctx, start) = (clients.ctx.clone(), clients.start);
        tokio::spawn(async move { read_op(&ctx, 0, 0, vec!["k000000".into()], start).await })
    };
    tokio::time::sleep(STALL / 2 + TTL / 2).await;
    let seen = leases(&backend.settings().fusio_client(), &prefix).await;
    let live = seen.iter().filter(|l| l.is_live()).count();
    read.await.expect("read op");
    clients.finish();
    (seen.len(), live)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_keeps_its_lease_alive_past_the_ttl_by_default() {
    assert_eq!(leases_mid_read(true).await, (1, 1), "(present, live)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_keeper_the_lease_expires_mid_session() {
    // Still there (nobody released it early), but expired.
    assert_eq!(leases_mid_read(false).await, (1, 0), "(present, live)");
}
