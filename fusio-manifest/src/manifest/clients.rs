//! Each client's manifest: one shared by all, or one per client as separate processes would
//! have (`CHAOS_MANIFESTS=per-client`), with writers that crash injection can kill and
//! replace.

use std::sync::Arc;

use parking_lot::Mutex;

use super::{BuildManifest, HarnessManifest, RunExecutor, WallClock};
use crate::chaos::{CrashCounts, CrashPoint, CrashReport};
use crate::config::{ManifestMode, WorkloadConfig};

/// A writer's current process: its manifest and the executor it spawns through (with a
/// [`Process`](crate::chaos::Process) when crashes are injected).
#[derive(Clone)]
pub struct WriterProcess {
    /// The writer's manifest.
    pub manifest: Arc<HarnessManifest>,
    /// The executor the process spawns through (a default one, without a [`Process`](crate::chaos::Process), when
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
/// injection each writer runs as a [`Process`](crate::chaos::Process); a killed one is replaced by a fresh process
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
    /// [`Process`](crate::chaos::Process) (restarted by `build` after a crash).
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
