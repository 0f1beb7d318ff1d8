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

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant, SystemTime};

use fusio::executor::{Executor, Timer};
use fusio_core::MaybeSendFuture;
use fusio_manifest::manifest::Manifest;
use fusio_manifest::retention::DefaultRetention;
use fusio_manifest::BackoffPolicy;
use fusio_manifest::{
    CheckpointStoreImpl, HeadStoreImpl, LeaseStoreImpl, ManifestContext, SegmentStoreImpl,
};
use tokio::task::AbortHandle;

use crate::backend::StoreFs;
use crate::chaos::{ChaosFs, CrashCounts, CrashPoint, CrashReport, Process, StorageLayer};
use crate::config::{ManifestMode, WorkloadConfig};
use crate::world::clock;

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

/// A tokio executor that remembers the tasks spawned through it, to abort them at the end.
/// It is also fusio-manifest's [`Timer`]; its wall clock may run off the host's.
#[derive(Clone, Default)]
pub struct RunExecutor {
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
    closed: Arc<AtomicBool>,
    clock: WallClock,
    process: Option<Arc<Process>>,
}

/// How a client's wall clock runs against the host's: `offset_ms` off from the start (negative:
/// behind), and `drift_ms_per_s` more off for every second since `origin` (negative: slower).
#[derive(Clone, Copy, Debug, Default)]
pub struct WallClock {
    offset_ms: i64,
    drift_ms_per_s: i64,
    origin: Option<Instant>,
}

impl WallClock {
    /// A clock `offset_ms` off the host's, drifting `drift_ms_per_s` from now on.
    pub fn new(offset_ms: i64, drift_ms_per_s: i64) -> Self {
        Self {
            offset_ms,
            drift_ms_per_s,
            origin: Some(clock::now()),
        }
    }

    /// Its offset from the host's clock, ms, `elapsed` after its origin.
    pub fn offset_after(&self, elapsed: Duration) -> i64 {
        let drifted = i128::from(self.drift_ms_per_s) * elapsed.as_millis() as i128 / 1000;
        let total = i128::from(self.offset_ms) + drifted;
        total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Its offset from the host's clock now, ms.
    pub fn offset_now(&self) -> i64 {
        self.offset_after(self.origin.map_or(Duration::ZERO, clock::since))
    }
}

impl RunExecutor {
    /// This executor (same tasks, same shutdown) with its wall clock running as `clock`.
    /// fusio-manifest reads wall time only through [`Timer::system_time`]: lease expiry
    /// (lease/mod.rs:119-126), orphan recovery's view of active leases (manifest.rs:305-307)
    /// and GC and checkpoint ages (compactor.rs). Monotonic time ([`Timer::now`]) is not
    /// skewed: it only measures elapsed time within one process.
    pub fn with_clock(&self, clock: WallClock) -> Self {
        Self {
            clock,
            ..self.clone()
        }
    }

    /// [`RunExecutor::with_clock`] with a clock `offset_ms` off, not drifting.
    pub fn with_clock_offset(&self, offset_ms: i64) -> Self {
        self.with_clock(WallClock::new(offset_ms, 0))
    }

    /// The wall clock's offset from the host's now, ms.
    pub fn clock_offset_ms(&self) -> i64 {
        self.clock.offset_now()
    }

    /// This executor (same run, same clock) as a fresh client [`Process`] that crash injection
    /// can kill: once it dies, the tasks spawned through it stop for good and later spawns
    /// are inert. Its tasks still end with the run.
    pub fn new_process(&self) -> Self {
        Self {
            process: Some(Arc::new(Process::default())),
            ..self.clone()
        }
    }

    /// The client process this executor spawns for, if it can be killed.
    pub fn process(&self) -> Option<&Arc<Process>> {
        self.process.as_ref()
    }

    /// Aborts every task spawned so far; tasks spawned later are aborted at once.
    pub fn shutdown(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let tasks = std::mem::take(&mut *self.tasks.lock());
        for t in tasks {
            t.abort();
        }
    }

    /// Tasks spawned and not yet finished.
    pub fn live_tasks(&self) -> usize {
        let mut tasks = self.tasks.lock();
        tasks.retain(|t| !t.is_finished());
        tasks.len()
    }
}

impl Executor for RunExecutor {
    type JoinHandle<R>
        = tokio::task::JoinHandle<R>
    where
        R: fusio::MaybeSend;

    type Mutex<T>
        = tokio::sync::Mutex<T>
    where
        T: fusio::MaybeSend + fusio::MaybeSync;

    type RwLock<T>
        = tokio::sync::RwLock<T>
    where
        T: fusio::MaybeSend + fusio::MaybeSync;

    fn spawn<F>(&self, future: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + fusio::MaybeSend + 'static,
        F::Output: fusio::MaybeSend,
    {
        let dead = self.process.as_ref().is_some_and(|p| p.is_killed());
        if dead || self.closed.load(Ordering::SeqCst) {
            // A run that has ended, or a killed process, starts nothing: the future is dropped
            // (forgotten, for a killed process, which runs no destructor) without being polled
            // (spawning it and aborting at once could let it run first on a busy runtime).
            let inert = tokio::spawn(async move {
                if dead {
                    std::mem::forget(future);
                } else {
                    drop(future);
                }
                std::future::pending().await
            });
            inert.abort();
            return inert;
        }
        // Spawned as a task of the run that asked, so a panic in fusio-manifest's background
        // work (orphan recovery, lease keepers) makes that run INVALID.
        let handle = match self.process.clone() {
            None => crate::selfcheck::spawn(future),
            Some(process) => crate::selfcheck::spawn(async move {
                match process.until_killed(future).await {
                    Ok(out) => out,
                    Err(_) => std::future::pending().await,
                }
            }),
        };
        let mut tasks = self.tasks.lock();
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle.abort_handle());
        handle
    }

    fn mutex<T>(value: T) -> Self::Mutex<T>
    where
        T: fusio::MaybeSend + fusio::MaybeSync,
    {
        tokio::sync::Mutex::new(value)
    }

    fn rw_lock<T>(value: T) -> Self::RwLock<T>
    where
        T: fusio::MaybeSend + fusio::MaybeSync,
    {
        tokio::sync::RwLock::new(value)
    }
}

impl Timer for RunExecutor {
    fn sleep(&self, dur: Duration) -> Pin<Box<dyn MaybeSendFuture<Output = ()>>> {
        Box::pin(tokio::time::sleep(dur))
    }

    fn now(&self) -> Instant {
        clock::now()
    }

    fn system_time(&self) -> SystemTime {
        let offset_ms = self.clock.offset_now();
        let offset = Duration::from_millis(offset_ms.unsigned_abs());
        if offset_ms >= 0 {
            clock::system_time() + offset
        } else {
            clock::system_time() - offset
        }
    }
}

/// The write leases a store still holds at the end of a run, by why no one removed them.
/// fusio-manifest deletes a lease only when its session releases it (`LeaseStore::release`,
/// which ignores a failed DELETE); nothing removes an expired one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LeasesLeft {
    /// No DELETE was ever sent for them and their creation was answered: a session ended
    /// without releasing its lease (a crashed writer, a session task cancelled at the end of
    /// the run, or fusio-manifest: finding 3).
    pub unreleased: usize,
    /// Their creation's answer was lost (the session created another and never learned of
    /// this one) or their DELETE failed: nothing ever removes them.
    pub stray: usize,
}

/// Sorts the write leases among `objects` (a store's final `(key, body)` pairs: lease
/// documents under a `leases/` folder whose `kind` is `write`). `delete_sent(key)` says whether
/// any DELETE of `key` was sent, `create_answer_lost(key)` whether the answer to its creation
/// was lost.
pub fn leases_left<'a>(
    objects: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    delete_sent: impl Fn(&str) -> bool,
    create_answer_lost: impl Fn(&str) -> bool,
) -> LeasesLeft {
    #[derive(serde::Deserialize)]
    struct LeaseKindOnly {
        #[serde(default)]
        kind: String,
    }
    let mut left = LeasesLeft::default();
    let writes = objects
        .into_iter()
        .filter(|(key, _)| key.contains("leases/"))
        .filter(|(_, body)| {
            serde_json::from_slice::<LeaseKindOnly>(body).is_ok_and(|d| d.kind == "write")
        });
    for (key, _) in writes {
        if delete_sent(key) || create_answer_lost(key) {
            left.stray += 1;
        } else {
            left.unreleased += 1;
        }
    }
    left
}

/// Options for building one manifest.
#[derive(Clone, Debug, Default)]
pub struct ManifestOptions {
    /// Retention: lease, segment and checkpoint TTLs (default: fusio-manifest's).
    pub retention: DefaultRetention,
    /// Lease TTL override of a scenario, over `retention`'s.
    pub lease_ttl: Option<Duration>,
    /// Let session leases lapse: clients do not run fusio-manifest's lease keeper, so a
    /// session that outlives its TTL loses its lease (the `lease-expiry` scenario). Off by
    /// default: a correct caller keeps its leases alive.
    pub lapse_leases: bool,
}

/// Builds a manifest under `prefix` on `s3`, through `layer`, with the run's `executor`.
/// Mirrors what fusio-manifest's own `S3Manifest::from(Config)` wires, over our wrapper.
pub fn build_manifest(
    s3: impl Into<StoreFs>,
    layer: Arc<StorageLayer>,
    prefix: &str,
    executor: RunExecutor,
    options: &ManifestOptions,
) -> HarnessManifest {
    let fs = ChaosFs::new(s3.into(), layer).in_process(executor.process().cloned());
    let prefix = prefix.trim_end_matches('/').to_string();
    let mut retention = options.retention;
    if let Some(ttl) = options.lease_ttl {
        retention = retention.with_lease_ttl(ttl);
    }
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

/// A writer's current process: its manifest and the executor it spawns through (with a
/// [`Process`] when crashes are injected).
#[derive(Clone)]
pub struct WriterProcess {
    /// The writer's manifest.
    pub manifest: Arc<HarnessManifest>,
    /// The executor the process spawns through (a default one, without a [`Process`], when
    /// the manifest is shared).
    pub executor: RunExecutor,
}

impl WriterProcess {
    /// The point this process was killed at, if it was.
    pub fn killed_at(&self) -> Option<CrashPoint> {
        self.executor.process().and_then(|p| p.killed_at())
    }
}

/// The manifests of one run's clients: a reference manifest (compactors, the final read) and
/// one per writer, reader and pinned reader, all the reference one when shared. With crash
/// injection each writer runs as a [`Process`]; a killed one is replaced by a fresh process
/// the next time the writer needs its manifest.
pub struct ClientManifests {
    reference: Arc<HarnessManifest>,
    writers: Vec<Mutex<WriterProcess>>,
    readers: Vec<Arc<HarnessManifest>>,
    pinned: Vec<Arc<HarnessManifest>>,
    build: Option<BuildManifest>,
    crashes: CrashCounts,
}

impl ClientManifests {
    /// The manifests `config` asks for ([`ManifestMode`]), each made by `build` with the run's
    /// `executor`; with [`ManifestMode::PerClient`], writer 0's executor runs
    /// `config.clock_skew_ms` off and drifting `config.clock_drift_ms_per_s` from now on, and
    /// with `config.crash_every_ms` each writer is a
    /// [`Process`] (restarted by `build` after a crash).
    pub fn build(config: &WorkloadConfig, executor: &RunExecutor, build: BuildManifest) -> Self {
        let reference = Arc::new(build(executor.clone()));
        if config.manifests == ManifestMode::Shared {
            return Self::shared(reference, config);
        }
        let writers = (0..config.num_writers)
            .map(|w| {
                let clock = if w == 0 {
                    WallClock::new(config.clock_skew_ms, config.clock_drift_ms_per_s)
                } else {
                    WallClock::default()
                };
                // A process of its own, which crash injection (`CHAOS_CRASH_EVERY_MS`, or a
                // `crash` fault point) can kill.
                let executor = executor.with_clock(clock).new_process();
                Mutex::new(WriterProcess {
                    manifest: Arc::new(build(executor.clone())),
                    executor,
                })
            })
            .collect();
        let others = |n: usize| -> Vec<Arc<HarnessManifest>> {
            (0..n).map(|_| Arc::new(build(executor.clone()))).collect()
        };
        Self {
            readers: others(config.num_readers),
            pinned: others(config.pinned_readers),
            reference,
            writers,
            build: Some(build),
            crashes: CrashCounts::default(),
        }
    }

    /// One manifest for every client: `manifest`.
    pub fn shared(manifest: Arc<HarnessManifest>, config: &WorkloadConfig) -> Self {
        let writer = || {
            Mutex::new(WriterProcess {
                manifest: manifest.clone(),
                executor: RunExecutor::default(),
            })
        };
        Self {
            writers: (0..config.num_writers).map(|_| writer()).collect(),
            readers: vec![manifest.clone(); config.num_readers],
            pinned: vec![manifest.clone(); config.pinned_readers],
            reference: manifest,
            build: None,
            crashes: CrashCounts::default(),
        }
    }

    /// The manifest of the compactors and the final read (unskewed).
    pub fn reference(&self) -> &Arc<HarnessManifest> {
        &self.reference
    }

    /// Writer `i`'s live process (the reference manifest for a writer the config did not
    /// count). A process killed by a crash is replaced here by a fresh one: a new manifest
    /// (HTTP client, caches, orphan recovery, lease store) on the same clock.
    pub fn writer(&self, i: usize) -> WriterProcess {
        let Some(slot) = self.writers.get(i) else {
            return WriterProcess {
                manifest: self.reference.clone(),
                executor: RunExecutor::default(),
            };
        };
        let mut slot = slot.lock();
        if let (Some(point), Some(build)) = (slot.killed_at(), &self.build) {
            self.crashes.count_killed(point);
            let executor = slot.executor.new_process();
            *slot = WriterProcess {
                manifest: Arc::new(build(executor.clone())),
                executor,
            };
        }
        slot.clone()
    }

    /// Writer 0's wall-clock offset from the host's now, ms (0 when it has none).
    pub fn writer_clock_offset_ms(&self) -> i64 {
        self.writers
            .first()
            .map_or(0, |w| w.lock().executor.clock_offset_ms())
    }

    /// Arms writer `i`'s live process to crash at `point`; `false` if it is armed already,
    /// dead, or cannot crash.
    pub fn arm_crash(&self, i: usize, point: CrashPoint) -> bool {
        let armed = self
            .writers
            .get(i)
            .and_then(|slot| slot.lock().executor.process().map(|p| p.arm(point)))
            .unwrap_or(false);
        if armed {
            self.crashes.count_armed();
        }
        armed
    }

    /// Crashes so far: restarted processes plus those dead and not yet restarted.
    pub fn crash_report(&self) -> CrashReport {
        let mut report = self.crashes.report();
        for slot in &self.writers {
            if let Some(point) = slot.lock().killed_at() {
                report.killed[CrashPoint::index(point)] += 1;
            }
        }
        report
    }

    /// Reader `i`'s manifest (the reference one for a client the config did not count).
    pub fn reader(&self, i: usize) -> &Arc<HarnessManifest> {
        self.readers.get(i).unwrap_or(&self.reference)
    }

    /// Pinned reader `i`'s manifest (the reference one for a client the config did not count).
    pub fn pinned(&self, i: usize) -> &Arc<HarnessManifest> {
        self.pinned.get(i).unwrap_or(&self.reference)
    }

    /// Distinct `Manifest` values in use now (1 when shared).
    pub fn distinct(&self) -> usize {
        let writers: Vec<Arc<HarnessManifest>> = self
            .writers
            .iter()
            .map(|slot| slot.lock().manifest.clone())
            .collect();
        let mut all: Vec<*const HarnessManifest> = std::iter::once(&self.reference)
            .chain(&writers)
            .chain(&self.readers)
            .chain(&self.pinned)
            .map(Arc::as_ptr)
            .collect();
        all.sort_unstable();
        all.dedup();
        all.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn after_shutdown_a_spawned_task_never_runs() {
        let executor = RunExecutor::default();
        executor.shutdown();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let joined = executor
            .spawn(async move { flag.store(true, Ordering::SeqCst) })
            .await;
        assert!(joined.is_err_and(|e| e.is_cancelled()));
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(executor.live_tasks(), 0);
    }

    #[test]
    fn a_skewed_clock_is_off_by_its_offset_and_shares_the_runs_tasks() {
        let executor = RunExecutor::default();
        let ms = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after 1970")
                .as_millis() as i64
        };
        for offset in [90_000, -90_000] {
            let skewed = executor.with_clock_offset(offset);
            let off = ms(skewed.system_time()) - ms(executor.system_time());
            assert!((off - offset).abs() < 1_000, "{offset}: off by {off}");
            assert_eq!(skewed.clock_offset_ms(), offset);
            assert!(Arc::ptr_eq(&skewed.tasks, &executor.tasks));
        }
    }

    #[test]
    fn a_drifting_clock_moves_off_by_its_rate() {
        let clock = WallClock::new(-2_000, 500);
        assert_eq!(clock.offset_after(Duration::ZERO), -2_000);
        assert_eq!(clock.offset_after(Duration::from_secs(4)), 0);
        assert_eq!(clock.offset_after(Duration::from_secs(60)), 28_000);
        let slow = WallClock::new(0, -1_000);
        assert_eq!(slow.offset_after(Duration::from_millis(1_500)), -1_500);
        let extreme = WallClock::new(i64::MAX, i64::MAX);
        assert_eq!(extreme.offset_after(Duration::from_secs(10)), i64::MAX);
    }
}
