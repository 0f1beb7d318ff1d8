//! Deterministic reproductions of the entries of FINDINGS.md. Each test builds one manifest with
//! `build_manifest` over a `StorageLayer` (no latency model, no workload, no randomness),
//! drives it sequentially, injects one fault point (or the smallest sequence), and asserts the
//! consequence on the raw store. Line numbers in the comments are those of fusio-manifest 0.6.1.
//!
//! Two worlds. A test whose steps need no timing runs in real time on the embedded S3 server,
//! over fusio's HTTP client. A test whose subject is timed (a healing window against
//! fusio-manifest's 3 s orphan-recovery tick, a lease TTL), or whose steps are ordered by stall
//! points, runs in simulated time ([`in_simulated_time`]) on the simulated store, which answers
//! as fusio's S3 client does against the embedded server (`sim_store_conformance`): virtual
//! time moves only when every task waits, so a stall orders the steps and a time bound holds
//! exactly however loaded the host is. Every wait for an event has a deadline only as a hang
//! guard ([`until`]), failing with what never happened.
//!
//! ```bash
//! cargo test --release -p fusio-manifest-chaos --test integration findings_repro:: -- --nocapture
//! ```

use crate::common;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::{wall_ms, Lease};
use fusio_manifest::context::DEFAULT_ORPHAN_RECOVERY_INTERVAL;
use fusio_manifest::retention::DefaultRetention;
use fusio_manifest::types::Error as ManifestError;
use fusio_manifest_chaos::backend::{Backend, RunStore, SimStoreMode, StoreFs};
use fusio_manifest_chaos::chaos::{
    BlockMode, FaultPoint, FaultPointStatus, S3OpKind, StorageLayer,
};
use fusio_manifest_chaos::manifest::{build_manifest, HarnessManifest, RunExecutor};
use fusio_manifest_chaos::selfcheck::HarnessFaults;
use fusio_manifest_chaos::world::{clock, sim};
use serde_json::Value;
use tokio::task::JoinError;

/// fusio-manifest's orphan-recovery interval (context.rs:15): its background loop wakes this
/// often (manifest.rs:150-173), and a write session starts a recovery when the last one is
/// this old (manifest.rs:184-263).
const RECOVERY_TICK: Duration = DEFAULT_ORPHAN_RECOVERY_INTERVAL;

/// How often [`Rig::wait_for_txn`] reads HEAD: a healing time it reports is late by less.
const HEAD_POLL: Duration = Duration::from_millis(1);

/// How long [`until`] waits for an event before it fails the test as hung. In simulated time
/// only the test's own waits move the clock, so a slow host cannot make it fire.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// The seed of the tests in simulated time (it fixes fusio-manifest's retry jitter).
const SIM_SEED: u64 = 1;

/// Runs the test `body` in a simulated world ([`sim::run_here`]) on the test's own thread, so a
/// failing assertion in it (or the deliberate panic of `f2_a_panic_…`) stays the test's and is
/// no harness fault of the runs of other tests in this binary. A panic in `body` fails the test.
fn in_simulated_time<Fut: Future<Output = ()>>(body: impl FnOnce() -> Fut) {
    if let Err(e) = sim::run_here(SIM_SEED, body) {
        panic!("{e}");
    }
}

/// Polls `done` every `every` until it holds; returns how long that took on the run's clock.
/// Fails the test, naming the event (`what`), if it does not hold within [`HANG_GUARD`].
async fn until<F: Future<Output = bool>>(
    what: &str,
    every: Duration,
    mut done: impl FnMut() -> F,
) -> Duration {
    let t = clock::now();
    while !done().await {
        let waited = clock::since(t);
        assert!(waited < HANG_GUARD, "{what}: not after {waited:?}");
        tokio::time::sleep(every).await;
    }
    clock::since(t)
}

/// Whether fusio-manifest's background orphan recovery runs (a loop every 3 s, plus a task
/// spawned by `session_write` after a failed commit) or only when a test calls
/// `recover_orphans()`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Recovery {
    Background,
    /// The first background recovery hangs on [`HOLD_FIRST_RECOVERY`]; fusio-manifest starts no
    /// other while one is in flight (manifest.rs:157-163, 229-236). Explicit calls still run.
    /// (Shutting the executor down is not enough: `RunExecutor::spawn` aborts a task after
    /// spawning it, and a starved test thread lets a whole recovery run first.)
    Off,
}

/// Only orphan recovery lists leases here (lease/mod.rs:279-317): holding the answer to the first
/// listing holds the first recovery.
const HOLD_FIRST_RECOVERY: &str = "list:leases#1=stall(3600s)";

struct Rig {
    /// The embedded server the store lives on, kept running (none in simulated time).
    _server: Option<Backend>,
    store: RunStore,
    /// The store past the fault layer, to check what really happened.
    raw: StoreFs,
    layer: Arc<StorageLayer>,
    executor: RunExecutor,
    m: HarnessManifest,
    prefix: String,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.executor.shutdown();
    }
}

/// The must-fail check of the findings: `r` failed with `PreconditionFailed`, the error that
/// tells a caller its write lost a conflict and was not applied. `what` names the call.
#[track_caller]
fn assert_conflict<T: Debug>(r: Result<T, ManifestError>, what: &str) {
    let e = r.unwrap_err();
    assert!(
        matches!(e, ManifestError::PreconditionFailed),
        "{what}: expected PreconditionFailed, got {e:?}"
    );
}

/// The must-fail check of a commit run in its own task: it failed with an error mentioning
/// `needle` (`what` says which). A panic is not that failure (fusio-manifest's debug-only
/// "Session dropped without releasing its lease" assertion is off in every profile: see the
/// workspace Cargo.toml).
#[track_caller]
fn assert_commit_failed(
    joined: Result<Result<(), ManifestError>, JoinError>,
    needle: &str,
    what: &str,
) {
    match joined {
        Ok(Ok(())) => panic!("commit succeeded; expected it to fail with {what}"),
        Ok(Err(e)) => assert!(e.to_string().contains(needle), "expected {what}, got {e:?}"),
        Err(j) => panic!("the commit's task ended without an answer, expected {what}: {j:?}"),
    }
}

impl Rig {
    /// A manifest under a fresh prefix: in simulated time on a simulated store of its own,
    /// otherwise on a fresh embedded server.
    async fn new(name: &str, lease_ttl: Option<Duration>, recovery: Recovery) -> Self {
        let (server, store) = if clock::is_simulated() {
            (None, RunStore::simulated(SimStoreMode::S3))
        } else {
            let server = common::embedded().await;
            let store = server.run_store();
            (Some(server), store)
        };
        let layer = common::layer(1);
        let prefix = store.new_prefix(name);
        let retention = match lease_ttl {
            Some(ttl) => DefaultRetention::default().with_lease_ttl(ttl),
            None => DefaultRetention::default(),
        };
        let executor = RunExecutor::default();
        let m = build_manifest(
            store.client(),
            layer.clone(),
            &prefix,
            executor.clone(),
            retention,
        );
        let rig = Self {
            _server: server,
            raw: store.client(),
            store,
            layer,
            executor,
            m,
            prefix,
        };
        match recovery {
            Recovery::Off => rig.point(HOLD_FIRST_RECOVERY),
            Recovery::Background => rig.warm_up().await,
        }
        rig
    }

    /// Lets the first session's recovery (due at once on a new manifest) run on the empty
    /// store, so it cannot race the tests' first commit (see `f5_…`).
    async fn warm_up(&self) {
        self.m.session_write().await.unwrap().end().await.unwrap();
        let ms5 = Duration::from_millis(5);
        until("the warm-up recovery ends", ms5, || async {
            self.executor.live_tasks() <= 1
        })
        .await;
    }

    /// Another manifest over the same store (another process, in effect), sharing the rig's
    /// executor but with its wall clock `clock_offset_ms` off.
    fn peer(&self, clock_offset_ms: i64) -> HarnessManifest {
        build_manifest(
            self.store.client(),
            self.layer.clone(),
            &self.prefix,
            self.executor.with_clock_offset(clock_offset_ms),
            DefaultRetention::default(),
        )
    }

    fn point(&self, spec: &str) {
        let point: FaultPoint = spec.parse().unwrap();
        self.layer.network().faults().add_fault_point(point);
    }

    /// (matched, fired) of the point written as `spec`.
    fn status(&self, spec: &str) -> (u64, u64) {
        let points: Vec<FaultPointStatus> = self.layer.network().faults().fault_points();
        let p = points.iter().find(|p| p.point.to_string() == spec).unwrap();
        (p.matched, p.fired)
    }

    /// Waits until the point written as `spec` has fired.
    async fn until_fired(&self, spec: &str) {
        let what = format!("{spec} fires");
        let ms2 = Duration::from_millis(2);
        until(&what, ms2, || async { self.status(spec).1 > 0 }).await;
    }

    /// One write session putting `key = value`; the committed txn id.
    async fn write(&self, key: &str, value: &str) -> Result<u64, ManifestError> {
        let mut s = self.m.session_write().await?;
        s.put(key.to_string(), value.to_string());
        Ok(s.commit().await?.head.last_txn_id)
    }

    async fn read(&self, key: &str) -> Option<String> {
        let s = self.m.session_read().await.unwrap();
        let v = s.get(&key.to_string()).await.unwrap();
        s.end().await.unwrap();
        v
    }

    /// The object at `key`, read past the fault layer, as JSON.
    async fn load_json(&self, key: &str) -> Option<Value> {
        common::load_json(&self.raw, key).await
    }

    /// HEAD's (last_txn_id, last_segment_seq), read past the fault layer.
    async fn head(&self) -> (u64, Option<u64>) {
        let h = self
            .load_json(&format!("{}/HEAD.json", self.prefix))
            .await
            .unwrap();
        (
            h["last_txn_id"].as_u64().unwrap(),
            h["last_segment_seq"].as_u64(),
        )
    }

    /// Every segment object as (seq, txn id), by seq.
    async fn segments(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let segments = format!("{}/segments", self.prefix);
        for key in common::list_keys(&self.raw, &segments).await {
            let name = key.rsplit('/').next().unwrap();
            let seq = name["seg-".len()..]
                .split('.')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let body = self.load_json(&key).await.unwrap();
            out.push((seq, body["txn_id"].as_u64().unwrap()));
        }
        out.sort();
        out
    }

    /// Lease objects present in the store (expired or not).
    async fn leases(&self) -> Vec<Lease> {
        common::leases(&self.raw, &self.prefix).await
    }

    /// Waits until segment `seq` is in the store.
    async fn until_segment(&self, seq: u64) {
        let key = format!("{}/segments/seg-{seq:020}.json", self.prefix);
        let what = format!("segment {seq} is written");
        let ms2 = Duration::from_millis(2);
        until(&what, ms2, || async {
            self.load_json(&key).await.is_some()
        })
        .await;
    }

    /// Polls HEAD every [`HEAD_POLL`] until its txn id reaches `txn`; how long that took.
    async fn wait_for_txn(&self, txn: u64) -> Duration {
        let what = format!("HEAD reaches txn {txn}");
        until(&what, HEAD_POLL, || async { self.head().await.0 >= txn }).await
    }

    /// Commits txn 1, then loses the answer to the next segment PUT: the write of `k1 = v1`
    /// fails with `PreconditionFailed` and leaves segment 2 (txn 2) unreferenced by HEAD.
    async fn lose_segment_answer(&self) {
        assert_eq!(self.write("k0", "v0").await.unwrap(), 1);
        let lost = "condput:segments/#1=answer_lost";
        self.point(lost);
        assert_conflict(self.write("k1", "v1").await, "lost segment answer");
        assert_eq!(
            self.status(lost),
            (2, 1),
            "the segment PUT is re-sent once (412)"
        );
        assert_eq!(self.head().await, (1, Some(1)));
        assert_eq!(
            self.segments().await,
            vec![(1, 1), (2, 2)],
            "stray segment 2"
        );
    }
}

/// Finding 1: the HEAD CAS is applied, its answer lost; commit retries (session.rs:876-890),
/// reloads HEAD (session.rs:788), sees its own new tag as a foreign change (789-795) and
/// returns `PreconditionFailed` (799). The HEAD PUT is not re-sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_head_answer_lost_reports_conflict_but_commits() {
    let t = clock::now();
    let r = Rig::new("f1", None, Recovery::Off).await;
    assert_eq!(r.write("k0", "v0").await.unwrap(), 1);
    let lost = "condput:HEAD.json#1=answer_lost";
    r.point(lost);
    assert_conflict(r.write("k1", "v1").await, "write whose HEAD answer is lost");
    assert_eq!(r.status(lost), (1, 1), "one HEAD PUT only");
    assert_eq!(r.head().await, (2, Some(2)), "HEAD advanced with the write");
    assert_eq!(r.read("k1").await.as_deref(), Some("v1"));
    // A caller that trusts the error and retries applies the write a second time.
    assert_eq!(r.write("k1", "v1").await.unwrap(), 3);
    assert_eq!(r.segments().await, vec![(1, 1), (2, 2), (3, 3)]);
    eprintln!(
        "f1: PreconditionFailed, yet txn 2 holds the write; took {:?}",
        clock::since(t)
    );
}

/// Finding 2, mechanics with no background recovery: the stray segment takes the seq every
/// writer at snapshot 1 targets (session.rs:756, segment.rs:152-161 If-None-Match), so each
/// fails with 412 → `PreconditionFailed` (session.rs:831-836). `recover_orphans` skips it while
/// a write lease claims its txn (manifest.rs:379-381) and adopts it otherwise (398-415), which
/// publishes the write that was reported failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f2_segment_answer_lost_blocks_writers_until_recovery() {
    let t = clock::now();
    let r = Rig::new("f2-mech", None, Recovery::Off).await;
    r.lose_segment_answer().await;
    assert_eq!(r.read("k1").await, None, "not visible yet");
    for i in 0..5 {
        assert_conflict(r.write(&format!("a{i}"), "x").await, &format!("writer {i}"));
    }
    assert_eq!(r.head().await, (1, Some(1)));
    let open = r.m.session_write().await.unwrap();
    assert_eq!(
        r.m.recover_orphans().await.unwrap(),
        0,
        "skipped: the open session's write lease claims txn 2"
    );
    open.end().await.unwrap();
    assert_eq!(r.m.recover_orphans().await.unwrap(), 1, "adopted");
    assert_eq!(r.head().await, (2, Some(2)));
    assert_eq!(
        r.read("k1").await.as_deref(),
        Some("v1"),
        "the write reported as failed is now committed"
    );
    assert_eq!(r.write("k2", "v2").await.unwrap(), 3);
    eprintln!(
        "f2 mechanics: 6 writers failed, recovery adopted txn 2; took {:?}",
        clock::since(t)
    );
}

/// Finding 2, no writer after the fault: the failed commit marks recovery due
/// (session.rs:833), and the background loop (manifest.rs:150-173, every [`RECOVERY_TICK`])
/// adopts the stray segment at its next tick. In simulated time, so the tick is on time.
#[test]
fn f2_heals_within_one_recovery_tick_when_writers_pause() {
    in_simulated_time(|| async {
        let r = Rig::new("f2-pause", None, Recovery::Background).await;
        r.lose_segment_answer().await;
        let healed = r.wait_for_txn(2).await;
        assert!(
            healed <= RECOVERY_TICK + HEAD_POLL,
            "healed after {healed:?}, more than one tick"
        );
        assert_eq!(r.read("k1").await.as_deref(), Some("v1"));
        eprintln!("f2 pause: HEAD adopted txn 2 {healed:?} (simulated) after the failed commit");
    });
}

/// Finding 2, one writer at a time retrying at once: the failed commit marks recovery due
/// (session.rs:833), the next `session_write` spawns it (manifest.rs:223-263) before taking
/// its own lease, so no lease blocks it. Bounded by attempts, not time: the writers heal it
/// within [`FEW_ATTEMPTS`] failed writes, before the background loop's next tick could. In
/// simulated time, so writers 10 ms apart stay 10 ms apart.
#[test]
fn f2_heals_within_a_few_attempts_with_sequential_writers() {
    in_simulated_time(|| async {
        let r = Rig::new("f2-seq", None, Recovery::Background).await;
        r.lose_segment_answer().await;
        let t = clock::now();
        let mut failures = 0;
        while r.write(&format!("s{failures}"), "x").await.is_err() {
            failures += 1;
            assert!(failures <= FEW_ATTEMPTS, "no commit after {failures} tries");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let healed = clock::since(t);
        assert!(
            failures >= 1,
            "the lost answer made no write fail: nothing healed"
        );
        assert!(
            healed < RECOVERY_TICK,
            "healed after {healed:?}: by the background loop, not by the writers"
        );
        assert_eq!(r.read("k1").await.as_deref(), Some("v1"));
        eprintln!(
            "f2 sequential: {failures} more failures, first commit {healed:?} (simulated) after \
             the fault"
        );
    });
}

/// How many failed writes [`f2_heals_within_a_few_attempts_with_sequential_writers`] allows.
const FEW_ATTEMPTS: u32 = 3;

/// Finding 2, overlapping writers (a new session always opens before the previous commits, as
/// with several concurrent clients): every recovery attempt sees a live write lease for txn 2
/// and skips; no commit for 4 lease TTLs. It heals within one tick once writers stop. In
/// simulated time, so the TTLs and the tick are exact.
#[test]
fn f2_overlapping_writers_livelock_past_the_lease_ttl() {
    in_simulated_time(|| async {
        let ttl = Duration::from_secs(2);
        let r = Rig::new("f2-overlap", Some(ttl), Recovery::Background).await;
        assert_eq!(r.write("k0", "v0").await.unwrap(), 1);
        r.point("condput:segments/#1=answer_lost");
        let mut prev = r.m.session_write().await.unwrap();
        prev.put("k1".into(), "v1".into());
        let t = clock::now();
        let mut attempts = 0;
        while clock::since(t) < 4 * ttl {
            let next = r.m.session_write().await.unwrap();
            assert_conflict(prev.commit().await, &format!("attempt {attempts}"));
            attempts += 1;
            prev = next;
            prev.put(format!("o{attempts}"), "x".into());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let livelock = clock::since(t);
        assert_eq!(r.head().await, (1, Some(1)), "no commit for {livelock:?}");
        prev.end().await.unwrap();
        let healed = r.wait_for_txn(2).await;
        assert!(
            healed <= RECOVERY_TICK + HEAD_POLL,
            "healed after {healed:?}, more than one tick"
        );
        eprintln!(
            "f2 overlap: {attempts} failed commits over {livelock:?} (simulated; lease TTL \
             {ttl:?}); healed {healed:?} after the last session ended"
        );
    });
}

/// Finding 2, the harness bug that is now fixed: a panic inside orphan recovery leaves
/// `orphan_recovery_inflight` set (manifest.rs:157-173, 229-262 reset it only on completion),
/// so that manifest never recovers again and the stray segment blocks writers for good. The
/// rig runs as a run of the self-check, so the panic is recorded and the test waits for it;
/// then writers fail for two whole ticks of the recovery loop. In simulated time, so the
/// loop ticks on time.
#[test]
fn f2_a_panic_in_orphan_recovery_stops_it_for_good() {
    in_simulated_time(|| async {
        let run = HarnessFaults::new();
        run.scope(async {
            let r = Rig::new("f2-panic", None, Recovery::Background).await;
            r.lose_segment_answer().await;
            // The next LIST is the background loop's recovery listing leases.
            r.layer.inject_harness_panic(S3OpKind::List);
            let ms5 = Duration::from_millis(5);
            until("the recovery panics", ms5, || async {
                run.faults()
                    .iter()
                    .any(|f| f.contains("inject_harness_panic"))
            })
            .await;
            let t = clock::now();
            let mut failures = 0;
            while clock::since(t) < 2 * RECOVERY_TICK {
                assert_conflict(r.write(&format!("p{failures}"), "x").await, "writer");
                failures += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let stuck = clock::since(t);
            assert_eq!(r.head().await, (1, Some(1)), "never recovered in {stuck:?}");
            assert_eq!(
                r.m.recover_orphans().await.unwrap(),
                1,
                "an explicit call still works"
            );
            eprintln!(
                "f2 panic: {failures} writers failed over {stuck:?} (simulated) after the \
                 recovery task panicked"
            );
        })
        .await;
    });
}

/// Finding 3, a refused request alone is harmless: not applied, retried by commit
/// (session.rs:811-826 for the segment, 876-890 for HEAD), committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f3_refused_requests_alone_are_retried() {
    let r = Rig::new("f3-refused", None, Recovery::Off).await;
    assert_eq!(r.write("k0", "v0").await.unwrap(), 1);
    let specs = ["condput:segments/#1=refuse", "condput:HEAD.json#1=refuse"];
    specs.iter().for_each(|p| r.point(p));
    assert_eq!(r.write("k1", "v1").await.unwrap(), 2);
    for p in specs {
        assert_eq!(r.status(p), (2, 1), "{p}: refused once, then re-sent");
    }
    assert_eq!(r.segments().await, vec![(1, 1), (2, 2)]);
    eprintln!("f3 refused: both refused PUTs retried, txn 2 committed");
}

/// Finding 3: a refusing block starts while a segment PUT is applied and its answer in flight
/// (held by a stall point). The answer is lost (finding 2's stray segment); commit's retry
/// reloads HEAD during the block, the GET is refused, and `store.head.load().await?`
/// (session.rs:788) returns without releasing the session's write lease. That leaked lease
/// claims the stray segment's txn, so no orphan recovery adopts it until the lease expires,
/// however writers behave. In simulated time, so the stall, the lease TTL and the recovery
/// tick are exact.
#[test]
fn f3_refused_block_leaks_a_write_lease_and_stalls_until_it_expires() {
    in_simulated_time(|| async {
        let ttl = Duration::from_secs(3);
        let r = Rig::new("f3-block", Some(ttl), Recovery::Background).await;
        r.layer.network().blocks().set_block_mode(BlockMode::Refuse);
        assert_eq!(r.write("k0", "v0").await.unwrap(), 1);
        r.point("condput:segments/#1=stall(1s)");
        let mut s = r.m.session_write().await.unwrap();
        s.put("k1".into(), "v1".into());
        let commit = tokio::spawn(async move { s.commit().await.map(|_| ()) });
        // The segment PUT is applied and its answer held: the block starts now.
        r.until_segment(2).await;
        r.layer.network().blocks().set_blocked(true);
        let refused_get = "the refused HEAD GET during the block";
        assert_commit_failed(commit.await, "connection refused", refused_get);
        r.layer.network().blocks().set_blocked(false);
        let failed_at = clock::now();
        let (failures, late_ms) = leaked_lease_blocks_until_it_expires(&r).await;
        eprintln!(
            "f3 block: {failures} sequential writers failed; HEAD adopted txn 2 {:?} (simulated) \
             after the failed commit, {late_ms} ms after the leaked lease expired (lease TTL \
             {ttl:?})",
            clock::since(failed_at),
        );
    });
}

/// Finding 3 without any block: one transient error (a 503, not applied) on the HEAD PUT sends
/// commit round its loop after the segment is written; a second 503 on the HEAD reload then
/// returns through `store.head.load().await?` (session.rs:788) with the stray segment left and
/// the write lease leaked, exactly as a refused GET does. Two ordinary retryable errors are
/// enough; the fault sweep's `transient-errors-5pct` stalled this way (seed 11, 53 s). In
/// simulated time, so the lease TTL and the recovery tick are exact.
#[test]
fn f3_two_transient_errors_leak_a_write_lease_too() {
    in_simulated_time(|| async {
        let ttl = Duration::from_secs(3);
        let r = Rig::new("f3-transient", Some(ttl), Recovery::Background).await;
        assert_eq!(r.write("k0", "v0").await.unwrap(), 1);
        let mut s = r.m.session_write().await.unwrap();
        s.put("k1".into(), "v1".into());
        r.point("condput:HEAD.json#1=transient");
        r.point("get:HEAD.json#2=transient");
        let commit = tokio::spawn(async move { s.commit().await.map(|_| ()) });
        let reload_503 = "the HEAD reload's 503 after two injected 503s";
        assert_commit_failed(commit.await, "503 SlowDown", reload_503);
        let (failures, late_ms) = leaked_lease_blocks_until_it_expires(&r).await;
        eprintln!(
            "f3 transient: {failures} sequential writers failed; HEAD adopted txn 2 {late_ms} ms \
             (simulated) after the leaked lease expired (lease TTL {ttl:?})"
        );
    });
}

/// Finding 3 at commit's first step: `store.head.load().await?` (session.rs:788) heads the
/// commit loop, so one 503 on commit's first HEAD GET, before any segment is written, leaks
/// the write lease too (what the seed search shrank seed 172 to). No segment is left, so
/// nothing waits for the lease: the next writer commits at once. The lease stays in the store
/// after it expires (nothing removes an expired lease; finding 11).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f3_an_error_on_commits_first_head_load_leaks_the_lease_without_a_stall() {
    let r = Rig::new("f3-first-load", Some(Duration::from_secs(3)), Recovery::Off).await;
    assert_eq!(r.write("k0", "v0").await.unwrap(), 1);
    let mut s = r.m.session_write().await.unwrap();
    s.put("k1".into(), "v1".into());
    r.point("get:HEAD.json#1=transient");
    let commit = tokio::spawn(async move { s.commit().await.map(|_| ()) });
    assert_commit_failed(commit.await, "503 SlowDown", "the first HEAD load's 503");
    assert_eq!(r.segments().await, vec![(1, 1)], "no segment was written");
    let leaked: Vec<_> = r
        .leases()
        .await
        .into_iter()
        .filter(|l| l.active_txn_id == Some(2))
        .collect();
    assert_eq!(leaked.len(), 1, "the failed commit's write lease is left");
    assert_eq!(
        r.write("k2", "v2").await.unwrap(),
        2,
        "the next writer commits"
    );
}

/// After a failed commit at snapshot 1 that left segment 2 and its write lease: HEAD is still
/// at txn 1, and sequential writers fail until HEAD adopts txn 2, after (never before) the
/// leaked lease expires and within one recovery tick of it (seen by the next writer, up to
/// [`WRITER_GAP`] and one write later). Returns the failed writes and how late after expiry.
/// For tests in simulated time, where that tick is on time.
async fn leaked_lease_blocks_until_it_expires(r: &Rig) -> (u32, u64) {
    assert_eq!(r.head().await, (1, Some(1)));
    assert_eq!(r.segments().await, vec![(1, 1), (2, 2)]);
    let leases = r.leases().await;
    let leaked = leases.iter().find(|l| l.active_txn_id == Some(2));
    let expires_at_ms = leaked
        .expect("the failed commit left its write lease")
        .expires_at_ms;
    let (failures, adopted_at_ms) = retry_until_adopted(r).await;
    assert!(
        adopted_at_ms > expires_at_ms,
        "adopted {} ms before the leaked lease expired",
        expires_at_ms - adopted_at_ms
    );
    let late_ms = adopted_at_ms - expires_at_ms;
    let bound = RECOVERY_TICK + WRITER_GAP;
    assert!(
        u128::from(late_ms) <= bound.as_millis(),
        "adopted {late_ms} ms after the leaked lease expired, more than one tick"
    );
    (failures, late_ms)
}

/// The pause between two writes of [`retry_until_adopted`].
const WRITER_GAP: Duration = Duration::from_millis(10);

/// Writes sequentially ([`WRITER_GAP`] apart) until HEAD holds txn 2; returns the failed writes
/// and the wall-clock ms (the run's clock, as fusio-manifest's) at which HEAD was first seen at
/// txn 2 or later.
async fn retry_until_adopted(r: &Rig) -> (u32, u64) {
    let t = clock::now();
    let mut failures = 0;
    loop {
        let result = r.write(&format!("b{failures}"), "x").await;
        if r.head().await.0 >= 2 {
            return (failures, wall_ms());
        }
        assert_conflict(result, "writer before adoption");
        failures += 1;
        let waited = clock::since(t);
        assert!(waited < HANG_GUARD, "not adopted after {waited:?}");
        tokio::time::sleep(WRITER_GAP).await;
    }
}

/// Finding 4: two write sessions at the same snapshot, disjoint keys. The second commit reloads
/// HEAD (session.rs:788), finds another tag and fails (789-799) before writing any segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f4_whole_head_conflict_on_disjoint_keys() {
    let r = Rig::new("f4", None, Recovery::Off).await;
    assert_eq!(r.write("k0", "v0").await.unwrap(), 1);
    let mut s1 = r.m.session_write().await.unwrap();
    let mut s2 = r.m.session_write().await.unwrap();
    s1.put("a".into(), "1".into());
    s2.put("b".into(), "2".into());
    assert_eq!(s1.commit().await.unwrap().head.last_txn_id, 2);
    assert_conflict(s2.commit().await, "second commit at the same snapshot");
    assert_eq!(
        r.segments().await,
        vec![(1, 1), (2, 2)],
        "s2 wrote no segment"
    );
    assert_eq!(r.read("b").await, None);
    eprintln!("f4: disjoint-key commit at the same snapshot failed with PreconditionFailed");
}

/// A rig named `name` with one commit (`k0`, txn 1) and no background recovery: where
/// findings 5 and 7 start.
async fn rig_with_one_commit(name: &str) -> Arc<Rig> {
    let r = Arc::new(Rig::new(name, None, Recovery::Off).await);
    assert_eq!(r.write("k0", "v0").await.unwrap(), 1);
    r
}

/// Starts a write of `k1` = `v1` (txn 2) in its own task.
fn spawn_write_k1(r: &Arc<Rig>) -> tokio::task::JoinHandle<Result<u64, ManifestError>> {
    let rw = r.clone();
    tokio::spawn(async move { rw.write("k1", "v1").await })
}

/// What findings 5 and 7 end with: a recovery adopted `writer`'s segment as txn 2, so its
/// commit returned `PreconditionFailed`, yet its value is committed.
async fn assert_live_commit_adopted(
    r: &Rig,
    writer: tokio::task::JoinHandle<Result<u64, ManifestError>>,
) {
    assert_eq!(r.head().await, (2, Some(2)));
    assert_conflict(writer.await.unwrap(), "writer whose segment was adopted");
    assert_eq!(
        r.read("k1").await.as_deref(),
        Some("v1"),
        "yet it is committed"
    );
}

/// Finding 5: orphan recovery lists the write leases first (manifest.rs:307) and probes the
/// segments later (359-381). A writer whose lease appears after that listing and whose segment
/// lands before the probe has its live segment adopted (398-415); its own HEAD CAS then gets
/// 412 and the commit returns `PreconditionFailed` (session.rs:896-900) for a committed write.
/// Stall points order the steps: the recovery is held after reading HEAD, the writer after
/// writing its segment. In simulated time, where the unstalled steps take no time at all, so
/// the writer's segment lands within the recovery's 2 s hold however loaded the host is.
#[test]
fn f5_orphan_recovery_adopts_a_live_commit_that_then_fails() {
    in_simulated_time(|| async {
        let r = rig_with_one_commit("f5").await;
        let hold_recovery = "get:HEAD.json#1=stall(2s)";
        r.point(hold_recovery);
        let rr = r.clone();
        let recovery = tokio::spawn(async move { rr.m.recover_orphans().await.unwrap() });
        r.until_fired(hold_recovery).await;
        // The recovery has listed leases (none) and read HEAD at txn 1; now the writer starts.
        r.point("condput:segments/#1=stall(4s)");
        let writer = spawn_write_k1(&r);
        assert_eq!(recovery.await.unwrap(), 1, "the live segment was adopted");
        assert_live_commit_adopted(&r, writer).await;
        assert_eq!(r.segments().await, vec![(1, 1), (2, 2)]);
        eprintln!("f5: recovery adopted a live commit, which returned PreconditionFailed");
    });
}

/// Finding 6: after a compaction, a read of a compacted key fails with S3's 404. The run's
/// payload is `checkpoints/ckpt-….bin`; `get_checkpoint_payload_range` tries the `.json` name
/// first (checkpoint.rs:476) and falls back to `.bin` only when the error is an I/O
/// `NotFound` (`is_not_found_fs_error`, checkpoint.rs:576-585), but fusio's S3 client reports
/// a missing object as `Remote(HttpNotSuccess { status: 404 })`, so the fallback never runs.
/// No fault point is armed: the layer passes every request through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f6_reads_after_a_compaction_fail_with_404() {
    let r = Rig::new("f6", None, Recovery::Off).await;
    for i in 0..3 {
        r.write(&format!("k{i}"), &format!("v{i}")).await.unwrap();
    }
    assert_eq!(
        r.read("k1").await.as_deref(),
        Some("v1"),
        "before compaction"
    );
    let (id, _) = r.m.compactor().compact_and_gc().await.unwrap();
    let checkpoints = format!("{}/checkpoints/{}", r.prefix, id.as_str());
    let keys = common::list_keys(&r.raw, &format!("{}/checkpoints", r.prefix)).await;
    assert!(keys.contains(&format!("{checkpoints}.bin")), "{keys:?}");
    assert!(!keys.contains(&format!("{checkpoints}.json")), "{keys:?}");
    assert_eq!(
        r.head().await,
        (3, Some(3)),
        "same txn, HEAD now names the run"
    );
    let session = r.m.session_read().await.unwrap();
    let got = session.get(&"k1".to_string()).await;
    session.end().await.unwrap();
    let err = got.expect_err("the compacted key cannot be read");
    assert!(err.to_string().contains("404"), "{err:?}");
    eprintln!(
        "f6: after compacting into {}, get(k1) failed: {err}",
        id.as_str()
    );
}

/// Finding 7: leases are judged by the reader's wall clock. A manifest whose clock runs ahead
/// of a writer's by more than the lease TTL (60 s) lists the writer's live write lease as
/// expired (`expires_at_ms > now_ms` with its own now, lease/mod.rs:304), so its orphan
/// recovery does not see the txn as active (manifest.rs:305-315) and adopts the writer's
/// segment between the segment PUT and the HEAD CAS (379-381, 398-415); the writer's HEAD CAS
/// then gets 412 and its commit returns `PreconditionFailed` (session.rs:896-900) for a
/// committed write. The same recovery with an unskewed clock adopts nothing. (A writer whose
/// clock is behind writes leases that are already expired for everyone else: the same path.)
/// In simulated time, where both recoveries take no time at all, so they run within the
/// writer's 4 s hold however loaded the host is.
#[test]
fn f7_a_clock_ahead_by_more_than_the_lease_ttl_adopts_a_live_commit() {
    in_simulated_time(|| async {
        let r = rig_with_one_commit("f7").await;
        r.point("condput:segments/#1=stall(4s)");
        let writer = spawn_write_k1(&r);
        r.until_segment(2).await;
        // Segment 2 is written; the writer's HEAD CAS waits behind the stalled answer.
        assert_eq!(
            r.peer(0).recover_orphans().await.unwrap(),
            0,
            "clocks in step: the writer's live lease protects txn 2"
        );
        assert_eq!(
            r.peer(120_000).recover_orphans().await.unwrap(),
            1,
            "a clock two minutes ahead sees the live lease as expired"
        );
        assert_live_commit_adopted(&r, writer).await;
        eprintln!(
            "f7: a peer 120 s ahead adopted a live commit, which returned PreconditionFailed"
        );
    });
}

/// Finding 8: a compaction never wins against steady writes. `compact_once` loads HEAD
/// (compactor.rs:228), reads the whole L0 delta (262), persists a run (persist_run: checkpoint
/// PUTs) and CASes HEAD `IfMatch` the tag it loaded (329); any commit in between makes the CAS
/// fail, and the retry (339-347, at most 6 retries, 1.26-2.52 s of jittered backoff sleep in
/// all, backoff.rs:46-58) starts
/// over with an L0 delta that only grew. Here every checkpoint PUT is held 300 ms, so each
/// attempt outlasts the gap between two commits of a writer committing every ~50 ms: every
/// attempt loses and `compact_and_gc` returns `PreconditionFailed`; HEAD names no checkpoint.
/// Once the writer stops, the same compaction succeeds. In simulated time, where a commit
/// takes no time at all, so the writer commits every 50 ms however loaded the host is.
#[test]
fn f8_a_compaction_never_wins_against_steady_writes() {
    in_simulated_time(|| async {
        let t = clock::now();
        let r = rig_with_one_commit("f8").await;
        r.point("put:checkpoints/#1..=stall(300ms)");
        let rc = r.clone();
        let compaction = tokio::spawn(async move { rc.m.compactor().compact_and_gc().await });
        let mut commits = 0;
        while !compaction.is_finished() {
            assert!(clock::since(t) < HANG_GUARD, "compaction hangs");
            if r.write("k1", &format!("v{commits}")).await.is_ok() {
                commits += 1;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_conflict(compaction.await.unwrap(), "compaction racing steady writes");
        let head_key = format!("{}/HEAD.json", r.prefix);
        let head = r.load_json(&head_key).await.unwrap();
        assert!(head["checkpoint_id"].is_null(), "{head}");
        let (id, _) = r.m.compactor().compact_and_gc().await.unwrap();
        let head = r.load_json(&head_key).await.unwrap();
        assert_eq!(head["checkpoint_id"].as_str(), Some(id.as_str()), "{head}");
        eprintln!(
            "f8: compaction lost every HEAD CAS to {commits} commits and gave up after {:?} \
             (simulated); alone it succeeded",
            clock::since(t)
        );
    });
}

/// Finding 9: listing the active leases fails as a whole when one lease is released between
/// the listing and its read. `list_active` (lease/mod.rs:279-317) LISTs `leases/`, then GETs
/// each listed object and returns the first error (`res?`, 302): a lease deleted in between (a
/// session that ended) is a 404, and the whole call fails. `compact_and_gc` calls it after its
/// compaction is applied (compactor.rs:364), so it reports an error for a compaction that took
/// place and never reaches GC; orphan recovery calls it first (manifest.rs:305-307). Here the
/// listing's answer is held while a read session ends. In simulated time, where the session
/// ends within the 2 s hold however loaded the host is.
#[test]
fn f9_a_lease_released_during_a_lease_listing_fails_it_with_404() {
    in_simulated_time(|| async {
        let r = rig_with_one_commit("f9").await;
        r.until_fired(HOLD_FIRST_RECOVERY).await;
        let reader = r.m.session_read().await.unwrap();
        let hold_listing = "list:leases#1=stall(2s)";
        r.point(hold_listing);
        let rc = r.clone();
        let compaction = tokio::spawn(async move { rc.m.compactor().compact_and_gc().await });
        r.until_fired(hold_listing).await;
        // The LIST has answered (the layer collects a listing before holding its answer).
        reader.end().await.unwrap();
        let err = compaction
            .await
            .unwrap()
            .expect_err("the lease listing fails");
        assert!(err.to_string().contains("404"), "{err:?}");
        let head = r
            .load_json(&format!("{}/HEAD.json", r.prefix))
            .await
            .unwrap();
        assert!(
            head["checkpoint_id"].is_string(),
            "yet the compaction was applied: {head}"
        );
        assert_eq!(r.segments().await.len(), 1, "and GC deleted nothing");
        eprintln!("f9: compact_and_gc failed on a lease released mid-listing: {err}");
    });
}

/// A commit that loses its HEAD CAS to a compaction returns `PreconditionFailed`, yet orphan
/// recovery publishes it later. The compaction's HEAD keeps `last_segment_seq` and
/// `last_txn_id` (compactor.rs:320-329), so the loser's segment (seq and txn HEAD's + 1,
/// written at session.rs:800-810) still fits after HEAD; the commit returns at
/// session.rs:896-900 with its lease released and its segment left in place, and
/// `recover_orphans` adopts it (manifest.rs:359-381, 398-415). Until then every writer at that
/// snapshot fails on the segment's `If-None-Match` (finding 2). Seen in the coverage sweep with
/// `CHAOS_SIM_STORE=fs`, where the final read works (`pinned-reader-vs-gc`, seed 3, 60 s:
/// `aborted_read` and `txn_count_mismatch`). In simulated time, where the compaction lands
/// within the writer's 2 s hold however loaded the host is.
#[test]
fn f10_a_commit_that_loses_its_head_cas_to_a_compaction_is_adopted_later() {
    in_simulated_time(|| async {
        let r = rig_with_one_commit("f10").await;
        r.point("condput:segments/#1=stall(2s)");
        let writer = spawn_write_k1(&r);
        r.until_segment(2).await;
        // The writer's segment 2 (txn 2) is written and its answer held; a compaction lands.
        let (id, _) = r.m.compactor().compact_once().await.unwrap();
        assert_eq!(
            r.head().await,
            (1, Some(1)),
            "the compaction keeps txn and seq"
        );
        assert_conflict(writer.await.unwrap(), "writer that lost its HEAD CAS");
        assert_eq!(
            r.segments().await,
            vec![(1, 1), (2, 2)],
            "its segment stays"
        );
        assert_eq!(r.m.recover_orphans().await.unwrap(), 1, "and is adopted");
        assert_eq!(r.head().await, (2, Some(2)));
        assert_eq!(
            r.read("k1").await.as_deref(),
            Some("v1"),
            "the write that failed is committed"
        );
        eprintln!(
            "f10: a commit lost its HEAD CAS to compaction {}, returned PreconditionFailed, and \
             recovery committed it",
            id.as_str()
        );
    });
}

/// Finding 11: a lease whose creation's answer is lost, or whose DELETE fails, is never
/// removed. Creating a lease retries under a new id (`lease-{now}-1`, lease/mod.rs:155-196) and
/// never learns of the first; `release` ignores a failed DELETE (lease/mod.rs:270-277); and
/// nothing deletes an expired lease (no `remove` of `leases/` anywhere else in 0.6.1). Both
/// commits succeed; both leases outlive their TTL, a recovery and a compaction, and every
/// lease listing (`list_active`, one GET per lease, lease/mod.rs:279-317) reads them from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f11_a_lease_lost_at_creation_or_release_is_never_removed() {
    let ttl = Duration::from_secs(1);
    let r = Rig::new("f11", Some(ttl), Recovery::Off).await;
    assert_eq!(r.write("k0", "v0").await.unwrap(), 1);
    assert!(
        r.leases().await.is_empty(),
        "a clean commit leaves no lease"
    );
    r.point("condput:leases/#1=answer_lost");
    assert_eq!(r.write("k1", "v1").await.unwrap(), 2, "the commit succeeds");
    r.point("delete:leases/#1=transient");
    assert_eq!(r.write("k2", "v2").await.unwrap(), 3, "the commit succeeds");
    let left: Vec<_> = r.leases().await.iter().map(|l| l.active_txn_id).collect();
    assert_eq!(left, vec![Some(2), Some(3)], "one lease per lost answer");
    let ms10 = Duration::from_millis(10);
    until("both leases expire", ms10, || async {
        r.leases().await.iter().all(|l| !l.is_live())
    })
    .await;
    r.m.recover_orphans().await.unwrap();
    r.m.compactor().compact_and_gc().await.unwrap();
    assert_eq!(r.write("k3", "v3").await.unwrap(), 4);
    let left = r.leases().await;
    assert_eq!(left.len(), 2, "both leases are still there after their TTL");
    assert!(left.iter().all(|l| !l.is_live()), "expired, never removed");
}

/// Finding 12: GC deletes the segments a live read session still reads. `compact_and_gc`
/// compares the oldest live lease's snapshot txn with the checkpoint's `lsn`
/// (compactor.rs:364-372), but `lsn` is the run counter `persist_run` was given (1 for the first
/// run, compactor.rs:152-168), not a txn id; any lease at snapshot 2 or later lets it delete
/// every segment the checkpoint covers (373-378). A session opened before the compaction has no
/// checkpoint in its snapshot, lists the segments, finds none and returns `Ok(None)`
/// (session.rs:460-516): its own earlier read of the key disagrees (`non_snapshot_read`).
/// Found by the seed search (seeds 959, 1139, 1190, 1581; 1581 with no fault at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f12_gc_deletes_the_segments_a_live_read_session_reads() {
    let r = Rig::new("f12", None, Recovery::Off).await;
    for (i, k) in ["k1", "k2", "k3"].into_iter().enumerate() {
        assert_eq!(r.write(k, "v").await.unwrap(), i as u64 + 1);
    }
    let reader = r.m.session_read().await.unwrap();
    assert_eq!(reader.snapshot().txn_id.0, 3);
    let k1 = "k1".to_string();
    assert_eq!(reader.get(&k1).await.unwrap().as_deref(), Some("v"));
    r.m.compactor().compact_and_gc().await.unwrap();
    let live: Vec<_> = r
        .leases()
        .await
        .into_iter()
        .filter(Lease::is_live)
        .collect();
    assert_eq!(live.len(), 1, "the read session's lease is live");
    assert_eq!(r.segments().await, vec![], "GC deleted every segment");
    assert_eq!(
        reader.get(&k1).await.unwrap(),
        None,
        "the same session at the same snapshot now reads nothing"
    );
    reader.end().await.unwrap();
}
