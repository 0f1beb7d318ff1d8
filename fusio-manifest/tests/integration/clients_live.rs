//! Independent clients end to end: with `CHAOS_MANIFESTS=per-client` every writer and reader
//! gets its own fusio-manifest `Manifest` (own HTTP client, orphan-recovery loop, lease store),
//! the run reports how many, and a fault-free history checks clean. A skewed clock
//! (`CHAOS_CLOCK_SKEW_MS`) reaches writer 0's manifest only: fusio-manifest stamps writer 0's
//! leases with the skewed wall time and every other client's with the host's; what such a
//! clock does to fusio-manifest is FINDINGS.md 7, pinned down in `findings_repro`. Pinned
//! readers (`CHAOS_PINNED_READERS`) hold one read session open while writers commit, and the
//! checker holds every value they read to their snapshot.

use crate::common;

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use common::{assert_pass, spec, wall_ms, workload, TempDir};
use fusio_manifest_chaos::backend::Backend;
use fusio_manifest_chaos::chaos::StorageLayer;
use fusio_manifest_chaos::checker::{AnomalyClass, Verdict};
use fusio_manifest_chaos::config::{ManifestMode, WorkloadConfig};
use fusio_manifest_chaos::history::{read_history, Event, OpKind};
use fusio_manifest_chaos::workload::{run_workload, RunResult};

async fn run(label: &str, manifests: ManifestMode, clock_skew_ms: i64, dir: &TempDir) -> RunResult {
    let backend = common::embedded().await;
    let layer = common::layer(1);
    run_on(&backend, layer, label, manifests, clock_skew_ms, dir).await
}

/// [`run`] on `backend` through `layer`: 3 writers and 2 readers at 5 ops/s for 3 s.
async fn run_on(
    backend: &Backend,
    layer: Arc<StorageLayer>,
    label: &str,
    manifests: ManifestMode,
    clock_skew_ms: i64,
    dir: &TempDir,
) -> RunResult {
    let config = WorkloadConfig {
        manifests,
        clock_skew_ms,
        ..workload(3, 2, 5.0, 20, Duration::from_secs(3))
    };
    let spec = spec(label, config, dir).build();
    run_workload(backend, layer, spec).await.expect("run")
}

/// A lease object as fusio-manifest wrote it: its kind, its session's snapshot txn, and the
/// wall-clock ms of the clock that created it, which its id carries (`lease-{ms}` or
/// `lease-{ms}-{retry}`, lease/mod.rs:157-163).
struct Stamped {
    kind: String,
    snapshot_txn: u64,
    stamp_ms: u64,
}

/// Every lease object under `prefix` on `backend`, read past the fault layer.
async fn stamped_leases(backend: &Backend, prefix: &str) -> Vec<Stamped> {
    let raw = backend.settings().fusio_client();
    let mut out = Vec::new();
    for key in common::list_keys(&raw, &format!("{prefix}/leases")).await {
        let doc = common::load_json(&raw, &key).await.expect("a listed lease");
        let id = doc["id"].as_str().expect("a lease id");
        let ms = id.trim_start_matches("lease-").split('-').next();
        out.push(Stamped {
            kind: doc["kind"].as_str().expect("a lease kind").to_string(),
            snapshot_txn: doc["snapshot_txn_id"].as_u64().expect("a snapshot txn"),
            stamp_ms: ms.and_then(|ms| ms.parse().ok()).expect("lease-{ms}"),
        });
    }
    out
}

/// The run has no harness fault, was checked in full (no UNKNOWN), and has no anomaly of a
/// class beyond the ones finding 5 produces (a write reported as a conflict is visible: aborted
/// reads, a txn no acknowledged commit explains).
fn assert_only_finding_5(result: &RunResult) {
    assert!(
        result.harness_faults.is_empty(),
        "{:?}",
        result.harness_faults
    );
    assert!(
        matches!(result.check.verdict(), Verdict::Pass | Verdict::Fail),
        "the history was not checked in full: {}",
        result.check.verdict()
    );
    const FINDING_5: [AnomalyClass; 2] =
        [AnomalyClass::AbortedRead, AnomalyClass::TxnCountMismatch];
    let others: Vec<(AnomalyClass, u64)> = AnomalyClass::ALL
        .iter()
        .filter(|c| !FINDING_5.contains(c))
        .map(|&c| (c, result.check.count(c)))
        .filter(|&(_, n)| n > 0)
        .collect();
    assert!(others.is_empty(), "anomalies beyond finding 5: {others:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_client_manifests_are_counted_and_show_nothing_beyond_finding_5() {
    let dir = TempDir::new("clients");
    let own = run("per-client", ManifestMode::PerClient, 0, &dir).await;
    assert_eq!(
        own.manifests,
        1 + 3 + 2,
        "one per client and the reference one"
    );
    assert!(own.harness_faults.is_empty(), "{:?}", own.harness_faults);
    assert!(own.counts.commits > 0, "{:?}", own.counts);
    // Each manifest's first write session starts an orphan recovery that cannot see its own
    // new lease (FINDINGS.md 5), one per writer here: only that finding's classes may show.
    assert_only_finding_5(&own);
    let shared = run("shared", ManifestMode::Shared, 0, &dir).await;
    assert_eq!(shared.manifests, 1);
    assert_pass(&shared, "one shared manifest, no fault");
}

/// Writer 0's clock runs [`SKEW_MS`] behind. Every lease DELETE fails (a fault point;
/// fusio-manifest's `release` ignores a failed DELETE, lease/mod.rs:270-277, so each session's
/// lease stays in the store: FINDINGS.md 11), so after the run the store holds one lease per
/// session, stamped by the clock of the manifest that created it. The run lasts seconds, far
/// less than the skew, so each stamp falls in one of two disjoint windows: the host's wall
/// time during the run, or that window shifted by the skew, which only writer 0's clock can
/// produce. Write leases appear in both (writer 0 and the two others), read leases only in the
/// host's, and nothing outside them. Which client's: every write session writer 0 opened (its
/// snapshot txn, from the history) has a write lease at that snapshot stamped behind, and
/// there are no more of those than writer 0 started attempts; the same holds for the other
/// writers' sessions and the write leases stamped on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_0s_leases_are_stamped_by_its_skewed_clock_the_others_by_the_hosts() {
    const SKEW_MS: i64 = -120_000;
    let dir = TempDir::new("clients-skew");
    let backend = common::embedded().await;
    let layer = common::layer(1);
    let keep_leases = "delete:leases/#1..=transient";
    layer
        .network()
        .faults()
        .add_fault_point(keep_leases.parse().expect("a fault point"));
    let start_ms = wall_ms();
    let skewed = run_on(
        &backend,
        layer,
        "skewed",
        ManifestMode::PerClient,
        SKEW_MS,
        &dir,
    )
    .await;
    let end_ms = wall_ms();
    assert_eq!(skewed.clock_skew_ms, SKEW_MS, "the reported skew");
    assert!(
        skewed.harness_faults.is_empty(),
        "{:?}",
        skewed.harness_faults
    );
    assert!(skewed.counts.commits > 0, "{:?}", skewed.counts);

    let host: RangeInclusive<u64> = start_ms..=end_ms;
    let shift = |ms: u64| ms.checked_add_signed(SKEW_MS).expect("after 1970");
    let behind = shift(start_ms)..=shift(end_ms);
    let leases = stamped_leases(&backend, &skewed.prefix).await;
    let count = |kind: &str, window: &RangeInclusive<u64>| {
        leases
            .iter()
            .filter(|l| l.kind == kind && window.contains(&l.stamp_ms))
            .count()
    };
    let (writes_behind, writes_on_time) = (count("write", &behind), count("write", &host));
    let (reads_behind, reads_on_time) = (count("read", &behind), count("read", &host));
    let seen = format!(
        "{} leases: write {writes_behind} behind, {writes_on_time} on time; read \
         {reads_behind} behind, {reads_on_time} on time (host window {host:?})",
        leases.len()
    );
    assert!(
        writes_behind > 0,
        "writer 0's leases carry its clock: {seen}"
    );
    assert!(
        writes_on_time > 0,
        "the other writers' carry the host's: {seen}"
    );
    assert!(
        reads_behind == 0 && reads_on_time > 0,
        "the readers' carry the host's: {seen}"
    );
    assert_eq!(
        writes_behind + writes_on_time + reads_on_time,
        leases.len(),
        "no lease stamped by any other clock: {seen}"
    );
    for (writer_0, window) in [(true, &behind), (false, &host)] {
        let (who, clock) = match writer_0 {
            true => ("writer 0", "behind"),
            false => ("the other writers", "on time"),
        };
        let mut stamped: BTreeMap<u64, usize> = BTreeMap::new();
        for l in leases.iter().filter(|l| l.kind == "write") {
            if window.contains(&l.stamp_ms) {
                *stamped.entry(l.snapshot_txn).or_default() += 1;
            }
        }
        let (opened, started) = write_sessions(&skewed, |c| (c == "w0") == writer_0);
        let unstamped: Vec<u64> = opened
            .iter()
            .filter(|&(s, &n)| stamped.get(s).copied().unwrap_or(0) < n)
            .map(|(s, _)| *s)
            .collect();
        assert!(
            unstamped.is_empty(),
            "{who}: sessions at snapshots {unstamped:?} have no write lease stamped {clock}: {seen}"
        );
        let total: usize = stamped.values().sum();
        assert!(
            total <= started,
            "{total} write leases stamped {clock}, more than the {started} attempts of {who}: {seen}"
        );
    }
    println!("skew {SKEW_MS} ms: {seen}");
}

/// The write sessions of the clients `client` picks in `run`'s history: how many opened at each
/// snapshot txn (write attempts that ended with one), and how many write attempts started.
fn write_sessions(run: &RunResult, client: impl Fn(&str) -> bool) -> (BTreeMap<u64, usize>, usize) {
    let (mut opened, mut started) = (BTreeMap::new(), 0);
    for event in read_history(&run.history_path) {
        match event.expect("history line") {
            Event::Invoke {
                client: c,
                kind: OpKind::Write,
                ..
            } if client(&c) => started += 1,
            Event::Write {
                client: c,
                snapshot_txn: Some(s),
                ..
            } if client(&c) => *opened.entry(s).or_insert(0) += 1,
            _ => {}
        }
    }
    (opened, started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_readers_hold_their_snapshot_while_writers_commit_and_check_clean() {
    let dir = TempDir::new("clients-pinned");
    let backend = common::embedded().await;
    let config = WorkloadConfig {
        pinned_readers: 2,
        pin_secs: 2,
        ..workload(3, 1, 5.0, 20, Duration::from_secs(4))
    };
    let spec = spec("pinned", config, &dir).build();
    let result = run_workload(&backend, common::layer(1), spec)
        .await
        .expect("run");
    let p = result.pinned;
    assert!(p.sessions >= 2, "two pinned readers for 4 s: {p:?}");
    assert!(p.oldest_ms >= 1_500, "a session stays open ~2 s: {p:?}");
    let pinned_reads: Vec<(u64, usize)> = read_history(&result.history_path)
        .filter_map(|e| match e.expect("history line") {
            Event::Read {
                client,
                snapshot_txn: Some(s),
                reads,
                ..
            } if client.starts_with('p') => Some((s, reads.len())),
            _ => None,
        })
        .collect();
    assert!(
        pinned_reads.iter().any(|&(_, n)| n >= 3),
        "a pinned session reads a key every 500 ms: {pinned_reads:?}"
    );
    assert!(result.counts.commits > 0, "{:?}", result.counts);
    assert_pass(&result, "pinned readers beside writers, no fault");
    let row = result.actor_row();
    assert_eq!(
        (row.pinned_reads, row.pinned_oldest_ms),
        (p.sessions, p.oldest_ms)
    );
}
