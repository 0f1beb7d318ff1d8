//! The workload driver: open-loop schedules, spawning clients, the run clock, and tearing a
//! run down so nothing of it outlives it.
//!
//! Clients are open loop: op `i` of a client with rate `r` is intended to start at
//! `phase + i / r` and starts then, whether or not the client's earlier ops have finished
//! (up to [`MAX_IN_FLIGHT_PER_CLIENT`] in flight per client). Every latency is measured from
//! the intended start, so slow S3 and queueing show in the figures instead of being hidden
//! (coordinated omission). Ops intended to start after the duration are not issued; the run
//! ends when the ops in flight finish.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::backend::{Backend, RunStore};
use crate::chaos::fault_log::relative_key;
use crate::chaos::recovery::{block_windows, recovery_times, Recovery};
use crate::chaos::storage::Deleted;
use crate::chaos::{
    ChaosController, ChaosEvent, ChaosScenario, CrashPoint, CrashReport, FaultCounts, S3OpKind,
    StorageLayer,
};
use crate::chaos::{FaultAction, InjectedFault};
use crate::checker::{CheckReport, Checker, VerificationRow};
use crate::client::{self, BackgroundReport, ClientContext, KeyWrite, PinnedReport, WritePlan};
use crate::compactor::{CompactionReport, Compactors};
use crate::config::WorkloadConfig;
use crate::history::{read_history, Event, HistoryRecorder, HistoryWriter, Outcome};
use crate::host::{HostProbe, HostReport};
use crate::manifest::{
    self, build_manifest, BuildManifest, ClientManifests, LeasesLeft, ManifestOptions, RunExecutor,
};
use crate::metrics::{MetricsCollector, MetricsSummary, RawCounts};
use crate::report;
use crate::selfcheck::{self, HarnessFaults};
use crate::timeline::{Timeline, TimelineRow};
use crate::utils::{client_seed, SeedStream};
use crate::world::clock;
use crate::world::trace::{Digest, OpTrace};

/// Everything needed to run one workload.
pub struct RunSpec {
    /// Label: the scenario or configuration name (`config_label` in the CSV).
    pub label: String,
    /// The workload.
    pub config: WorkloadConfig,
    /// Seed for every random choice of the clients.
    pub seed: u64,
    /// Where the history goes (JSON Lines).
    pub history_path: PathBuf,
    /// Manifest options (lease TTL).
    pub manifest: ManifestOptions,
    /// Print a progress line this often (elapsed, commits, failures); `None` for silence.
    pub progress_every: Option<Duration>,
    /// Chaos to inject while the clients run (`None`: none).
    pub chaos: Option<ChaosScenario>,
    /// Bound on each client step (`CHAOS_OP_TIMEOUT_MS`); `None` waits forever like fusio.
    pub op_timeout: Option<Duration>,
}

/// What one finished run produced.
pub struct RunResult {
    /// The 24 columns.
    pub summary: MetricsSummary,
    /// Raw counters.
    pub counts: RawCounts,
    /// Per-second timeline (rows of `STEM_timeline.csv`).
    pub timeline: Vec<TimelineRow>,
    /// Read p50 of each whole minute of the run, ms (`None`: no read that minute).
    pub read_p50_by_minute: Vec<Option<f64>>,
    /// The isolation check of the recorded history.
    pub check: CheckReport,
    /// Where the history was written.
    pub history_path: PathBuf,
    /// The run's prefix in the bucket (its manifest's objects are under it).
    pub prefix: String,
    /// HEAD txn id read at the end (`None` if the final read failed).
    pub final_head_txn: Option<u64>,
    /// S3 operations completed when the run was torn down.
    pub s3_ops_at_end: u64,
    /// The same, by kind of operation.
    pub s3_ops_by_kind: Vec<(S3OpKind, u64)>,
    /// The chaos event log (ms since the run started).
    pub events: Vec<ChaosEvent>,
    /// Recovery after each network block.
    pub recoveries: Vec<Recovery>,
    /// Acknowledgement times of every commit, ms since the run started, sorted.
    pub commit_times_ms: Vec<u64>,
    /// S3-level faults injected.
    pub faults: FaultCounts,
    /// Operations abandoned at a client step timeout, session tasks still running when the
    /// clients were done, and what became of them.
    pub background: BackgroundReport,
    /// Harness faults (panics) during the run: non-empty means the run is `INVALID`.
    pub harness_faults: Vec<String>,
    /// How healthy the host was while the clients ran.
    pub host: HostReport,
    /// What the compactors did (all zero without `CHAOS_COMPACT_EVERY_MS`).
    pub compactions: CompactionReport,
    /// Segment and checkpoint objects deleted (by compaction and GC).
    pub deleted: Deleted,
    /// Of those, the ones deleted while the clients (writers, readers) still ran: before the
    /// compactors' last passes, which may outlive them.
    pub deleted_while_clients_ran: Deleted,
    /// Distinct `Manifest` values the clients used (1 when shared).
    pub manifests: usize,
    /// What the pinned readers did (all zero without `CHAOS_PINNED_READERS`).
    pub pinned: PinnedReport,
    /// Offset of writer 0's wall clock when the workload ended, ms (0: no skew): its skew plus
    /// what it drifted.
    pub clock_skew_ms: i64,
    /// Writer crashes injected (all zero without `CHAOS_CRASH_EVERY_MS`).
    pub crashes: CrashReport,
    /// A simulated run's proof of replay: the digest of every storage operation and of the
    /// final store (`None` in real time, where the host's scheduler decides interleavings).
    pub replay: Option<Digest>,
    /// Write leases the simulated store still held at the end (`None` in real time).
    pub leases_left: Option<LeasesLeft>,
    /// Every fault the run injected, as the fault point that injects exactly it (also in the
    /// history as `fault` events).
    pub injected: Vec<InjectedFault>,
}

impl RunResult {
    /// The run's row of `STEM_verification.csv`: the check's counts, the run's verdict and
    /// what its actors did.
    pub fn verification_row(&self) -> VerificationRow {
        VerificationRow {
            verdict: self.verdict(),
            compactions: self.compactions.passes,
            compaction_errors: self.compactions.errors,
            segments_deleted: self.deleted.segments,
            checkpoints_deleted: self.deleted.checkpoints,
            manifests: self.manifests as u64,
            pinned_reads: self.pinned.sessions,
            pinned_read_errors: self.pinned.failed,
            pinned_oldest_ms: self.pinned.oldest_ms,
            clock_skew_ms: self.clock_skew_ms,
            crashes: self.crashes.total(),
            ..self.check.verification_row(&self.summary.config_label)
        }
    }

    /// Whether the harness itself failed during the run (a panic in any of its tasks): its
    /// figures and its isolation check say nothing about fusio-manifest.
    pub fn is_invalid(&self) -> bool {
        !self.harness_faults.is_empty()
    }

    /// The run's verdict: `INVALID: harness fault`, else the isolation check's `PASS`,
    /// `FAIL` or `UNKNOWN: reason`.
    pub fn verdict(&self) -> String {
        if self.is_invalid() {
            crate::selfcheck::INVALID_VERDICT.to_string()
        } else {
            self.check.verdict().to_string()
        }
    }
}

/// How long the end of a run waits for sessions abandoned by client timeouts.
pub const BACKGROUND_LIMIT: Duration = Duration::from_secs(30);

/// Why a run could not produce results.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The history file could not be written or read back.
    #[error("history {path}: {source}")]
    History {
        /// The history file.
        path: PathBuf,
        /// The I/O or parse error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Runs `spec` on `backend` through `layer`, then checks the history.
///
/// The pipeline, one function a step: [`setup`] (manifest on a fresh prefix, history, chaos,
/// metrics), [`drive`] (the clients' open-loop schedules), [`teardown`] (stop chaos, wait for
/// abandoned sessions, read the final state, abort the manifest's background tasks, flush the
/// history), [`analyse`] (stream the history through the checker, recovery after each block)
/// and the console report. Every task of the run is spawned inside its [`HarnessFaults`]
/// scope, so a panic anywhere in it lands in [`RunResult::harness_faults`] (the run is then
/// `INVALID`) instead of unwinding through the sweep.
pub async fn run_workload(
    backend: &Backend,
    layer: Arc<StorageLayer>,
    spec: RunSpec,
) -> Result<RunResult, RunError> {
    run_workload_in(&backend.run_store(), layer, spec).await
}

/// [`run_workload`] on `store`: S3 over HTTP, or a simulated run's own in-process store (then
/// call it inside [`crate::world::sim::run`]: its storage trace and digest are only replayable
/// there).
pub async fn run_workload_in(
    store: &RunStore,
    layer: Arc<StorageLayer>,
    spec: RunSpec,
) -> Result<RunResult, RunError> {
    let faults = HarnessFaults::new();
    let mut result = faults.scope(run_scoped(store, layer, spec)).await?;
    result.harness_faults = faults.faults();
    Ok(result)
}

async fn run_scoped(
    store: &RunStore,
    layer: Arc<StorageLayer>,
    spec: RunSpec,
) -> Result<RunResult, RunError> {
    let mut run = setup(store, layer, &spec)?;
    let (elapsed, compactions, deleted_while_clients_ran) = drive(&run, &spec).await;
    let ended = teardown(&mut run, &spec).await?;
    let analysis = analyse(&spec.history_path, ended.events, elapsed)?;
    let summary = run.metrics.summary(&spec.label, &run.config, elapsed);
    let result = RunResult {
        summary,
        counts: run.metrics.counts(),
        timeline: run.timeline.rows(&spec.label, elapsed.as_secs()),
        read_p50_by_minute: run.timeline.read_p50_by_minute(elapsed.as_secs()),
        check: analysis.check,
        history_path: spec.history_path,
        prefix: run.prefix.clone(),
        final_head_txn: ended.final_head_txn,
        s3_ops_at_end: ended.s3_ops_at_end,
        s3_ops_by_kind: ended.s3_ops_by_kind,
        events: analysis.events,
        recoveries: analysis.recoveries,
        commit_times_ms: analysis.commit_times_ms,
        faults: run.layer.network().fault_counts(),
        background: ended.background,
        harness_faults: Vec::new(),
        host: ended.host,
        compactions,
        deleted: run.layer.deleted(),
        deleted_while_clients_ran,
        manifests: run.manifests,
        pinned: ended.pinned,
        clock_skew_ms: ended.clock_skew_ms,
        crashes: ended.crashes,
        replay: ended.replay,
        leases_left: ended.leases_left,
        injected: ended.injected,
    };
    report::print_run(&result, BACKGROUND_LIMIT);
    Ok(result)
}

/// A run between setup and teardown: what its clients share and what watches them.
struct LiveRun {
    prefix: String,
    manifests: usize,
    config: Arc<WorkloadConfig>,
    layer: Arc<StorageLayer>,
    executor: RunExecutor,
    ctx: Option<Arc<ClientContext>>,
    controller: Option<ChaosController>,
    history_writer: Option<HistoryWriter>,
    timeline: Arc<Timeline>,
    metrics: Arc<MetricsCollector>,
    probe: Option<HostProbe>,
    store: RunStore,
    trace: Option<Arc<OpTrace>>,
}

fn history_error(
    path: &Path,
) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> RunError + '_ {
    move |source| RunError::History {
        path: path.to_path_buf(),
        source,
    }
}

/// Builds the manifest on a fresh prefix over `layer`, opens the history, starts the chaos
/// controller and the run clock.
fn setup(store: &RunStore, layer: Arc<StorageLayer>, spec: &RunSpec) -> Result<LiveRun, RunError> {
    let config = Arc::new(spec.config.clone());
    // The history first: a failure there leaves no manifest's background tasks running.
    let (history, history_writer) = HistoryRecorder::create(&spec.history_path)
        .map_err(|e| history_error(&spec.history_path)(Box::new(e)))?;
    // The storage trace too, for the same reason. Setup never awaits, so in a simulated run
    // (the only one traced) its clock reads what `start` reads below.
    let trace = match store.is_simulated() {
        true => {
            let path = trace_path(&spec.history_path);
            let trace = OpTrace::new(clock::now(), Some(path.clone()))
                .map_err(|e| history_error(&path)(Box::new(e)))?;
            let trace = Arc::new(trace);
            layer.attach_trace(trace.clone());
            Some(trace)
        }
        false => None,
    };
    let executor = RunExecutor::default();
    let prefix = store.new_prefix(&spec.label);
    let options = ManifestOptions {
        retention: config.retention(),
        ..spec.manifest.clone()
    };
    let (client, wrapper, root) = (store.clone(), layer.clone(), prefix.clone());
    let build: BuildManifest = Arc::new(move |executor| {
        build_manifest(client.client(), wrapper.clone(), &root, executor, &options)
    });
    let manifests = ClientManifests::build(&config, &executor, build);
    let start = clock::now();
    let controller = spec.chaos.clone().map(|scenario| {
        let mut c = ChaosController::new(scenario, layer.clone(), start);
        c.start(config.duration, spec.seed);
        c
    });
    let timeline = Arc::new(Timeline::new(start, config.duration));
    layer.attach_op_sink(timeline.clone());
    let metrics = Arc::new(MetricsCollector::new(timeline.clone()));
    let distinct = manifests.distinct();
    let ctx = Arc::new(ClientContext {
        manifests,
        metrics: metrics.clone(),
        history,
        start,
        config: config.clone(),
        op_timeout: spec.op_timeout,
        keep_leases: !spec.manifest.lapse_leases,
        background: Default::default(),
        abandoned: Default::default(),
        pinned: Default::default(),
    });
    Ok(LiveRun {
        prefix,
        manifests: distinct,
        config,
        layer,
        executor,
        ctx: Some(ctx),
        controller,
        history_writer: Some(history_writer),
        timeline,
        metrics,
        // A simulated world has no host to probe: its clock stops while any task runs.
        probe: (!store.is_simulated()).then(|| HostProbe::start(store.in_flight())),
        store: store.clone(),
        trace,
    })
}

/// Runs every client's schedule to its end (with a progress line every
/// `spec.progress_every`) and the compactors beside them; returns how long the clients took
/// and what the compactors did. Chaos stays on until the ops in
/// flight at the end have finished, so every measured op saw the scenario's conditions for
/// its whole life. A client that panicked is recorded by the self-check; the others' results
/// still count.
/// Runs the clients and compactors; returns the clients' time, what the compactors did and
/// what was deleted by the time the clients were done.
async fn drive(run: &LiveRun, spec: &RunSpec) -> (Duration, CompactionReport, Deleted) {
    let Some(ctx) = run.ctx.clone() else {
        return (
            Duration::ZERO,
            CompactionReport::default(),
            Deleted::default(),
        );
    };
    let compactors = Compactors::start(&ctx);
    let progress = spec.progress_every.map(|every| {
        let metrics = run.metrics.clone();
        let label = spec.label.clone();
        let start = ctx.start;
        selfcheck::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                report::print_progress(&label, clock::since(start), &metrics.counts());
            }
        })
    });
    let writers = (0..run.config.num_writers).map(|w| {
        let ctx = ctx.clone();
        let seed = client_seed(spec.seed, SeedStream::Writer, w);
        selfcheck::spawn(async move { writer_loop(ctx, w, seed).await })
    });
    let readers = (0..run.config.num_readers).map(|r| {
        let ctx = ctx.clone();
        let seed = client_seed(spec.seed, SeedStream::Reader, r);
        selfcheck::spawn(async move { reader_loop(ctx, r, seed).await })
    });
    let pinned = (0..run.config.pinned_readers).map(|p| {
        let ctx = ctx.clone();
        let seed = client_seed(spec.seed, SeedStream::Pinned, p);
        selfcheck::spawn(async move { pinned_reader_loop(ctx, p, seed).await })
    });
    let crashes = (run.config.crash_every_ms > 0).then(|| {
        let ctx = ctx.clone();
        let seed = client_seed(spec.seed, SeedStream::Crash, 0);
        selfcheck::spawn(async move { crash_loop(ctx, seed).await })
    });
    let clients: Vec<_> = writers.chain(readers).chain(pinned).collect();
    futures_util::future::join_all(clients).await;
    let elapsed = clock::since(ctx.start);
    let deleted = run.layer.deleted();
    if let Some(c) = crashes {
        c.abort();
    }
    let compactions = compactors.finish(BACKGROUND_LIMIT).await;
    if let Some(p) = progress {
        p.abort();
    }
    (elapsed, compactions, deleted)
}

/// Where a simulated run's storage trace goes: beside its history, `….ops.tsv`.
pub fn trace_path(history_path: &Path) -> PathBuf {
    history_path.with_extension("ops.tsv")
}

/// What teardown leaves for analysis and the result.
struct Ended {
    host: HostReport,
    events: Vec<ChaosEvent>,
    background: BackgroundReport,
    pinned: PinnedReport,
    crashes: CrashReport,
    /// Writer 0's wall-clock offset when the workload ended, ms.
    clock_skew_ms: i64,
    final_head_txn: Option<u64>,
    s3_ops_at_end: u64,
    s3_ops_by_kind: Vec<(S3OpKind, u64)>,
    replay: Option<Digest>,
    leases_left: Option<LeasesLeft>,
    injected: Vec<InjectedFault>,
}

/// Stops chaos, waits for sessions abandoned at a step timeout, reads the final state
/// (verification, not measurement: without the latency model, since a full scan reads every
/// segment), aborts every background task of the manifest ([`RunExecutor::shutdown`]) and
/// flushes the history.
async fn teardown(run: &mut LiveRun, spec: &RunSpec) -> Result<Ended, RunError> {
    let host = run.probe.take().map(HostProbe::finish).unwrap_or_default();
    let events = run
        .controller
        .as_mut()
        .map(|c| c.stop())
        .unwrap_or_default();
    run.layer.network().disable_profile();
    let (background, pinned, crashes, clock_skew_ms, final_head_txn, injected) =
        match run.ctx.take() {
            Some(ctx) => {
                let background = ctx.finish_background(BACKGROUND_LIMIT).await;
                let pinned = *ctx.pinned.lock();
                let crashes = ctx.manifests.crash_report();
                let skew = ctx.manifests.writer_clock_offset_ms();
                let injected = run.layer.injected_faults(ctx.start);
                for fault in &injected {
                    ctx.history.record(Event::Fault {
                        t_us: fault.t_us,
                        point: fault.point.to_string(),
                    });
                }
                let head = client::read_final_state(&ctx)
                    .await
                    .map_err(|e| report::print_final_state_error(&spec.label, &e))
                    .ok();
                (background, pinned, crashes, skew, head, injected)
            }
            None => Default::default(),
        };
    run.executor.shutdown();
    let s3_ops_at_end = run.layer.total_ops();
    let s3_ops_by_kind = S3OpKind::ALL
        .iter()
        .map(|k| (*k, run.layer.count(*k).count))
        .collect();
    if let Some(writer) = run.history_writer.take() {
        writer
            .finish()
            .map_err(|e| history_error(&spec.history_path)(Box::new(e)))?;
    }
    let objects = run.store.sim().map(|sim| sim.objects());
    let leases_left = objects.as_ref().map(|objects| {
        manifest::leases_left(
            objects.iter().map(|o| (o.key.as_str(), o.body.as_ref())),
            |key| run.layer.seen(S3OpKind::Delete, key) > 0,
            |key| {
                injected.iter().any(|f| {
                    f.point.op == Some(S3OpKind::CondPut)
                        && f.point.action == FaultAction::AnswerLost
                        && f.point.key_contains.as_deref() == Some(relative_key(key))
                })
            },
        )
    });
    let replay = match (&run.trace, &objects) {
        (Some(trace), Some(objects)) => {
            let digest = trace
                .seal(
                    objects
                        .iter()
                        .map(|o| (o.key.as_str(), o.etag.as_str(), o.body.as_ref())),
                )
                .map_err(|e| history_error(&trace_path(&spec.history_path))(Box::new(e)))?;
            Some(digest)
        }
        _ => None,
    };
    Ok(Ended {
        host,
        events,
        background,
        pinned,
        crashes,
        clock_skew_ms,
        final_head_txn,
        s3_ops_at_end,
        s3_ops_by_kind,
        replay,
        leases_left,
        injected,
    })
}

/// What the history says once the run is over.
struct Analysis {
    check: CheckReport,
    commit_times_ms: Vec<u64>,
    recoveries: Vec<Recovery>,
    events: Vec<ChaosEvent>,
}

/// Streams the history back through the checker (memory stays bounded by the checker's
/// compact per-op state, not the raw events), then measures recovery after each network
/// block and adds a `recovered` / `not_recovered` event for each.
fn analyse(
    history_path: &Path,
    mut events: Vec<ChaosEvent>,
    elapsed: Duration,
) -> Result<Analysis, RunError> {
    let mut checker = Checker::new();
    let mut commit_times_ms = Vec::new();
    for event in read_history(history_path) {
        let event = event.map_err(|e| history_error(history_path)(Box::new(e)))?;
        if let Event::Write {
            outcome: Outcome::Ok,
            t_us,
            ..
        }
        | Event::Txn {
            outcome: Outcome::Ok,
            t_us,
            ..
        } = &event
        {
            commit_times_ms.push(t_us / 1000);
        }
        checker.feed(&event);
    }
    commit_times_ms.sort_unstable();
    let windows = block_windows(&events, elapsed.as_millis() as u64);
    let recoveries = recovery_times(&windows, &commit_times_ms);
    events.extend(recoveries.iter().map(Recovery::event));
    Ok(Analysis {
        check: checker.finish(),
        commit_times_ms,
        recoveries,
        events,
    })
}

/// The intended start of op `i` for a client with `rate` ops/s and phase offset `phase`.
fn intended_start(start: Instant, phase: Duration, rate: f64, i: u64) -> Instant {
    start + phase + Duration::from_secs_f64(i as f64 / rate)
}

/// Most operations one client may have in flight; when reached, the next op waits (and its
/// latency, measured from the intended start, shows the wait).
pub const MAX_IN_FLIGHT_PER_CLIENT: usize = 64;

/// Runs one client's open-loop schedule: op `i` starts at its intended time whatever the
/// earlier ops are doing (up to [`MAX_IN_FLIGHT_PER_CLIENT`] at once), and the loop waits for
/// every op it started. `make_op(i, intended)` builds op `i`. Ops that could not start before
/// the end (all slots busy) are counted as skipped.
async fn open_loop<F, Fut>(ctx: &ClientContext, rate: f64, phase: Duration, mut make_op: F)
where
    F: FnMut(u64, Instant) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let end = ctx.start + ctx.config.duration;
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT_PER_CLIENT));
    let mut in_flight = JoinSet::new();
    for op in 0u64.. {
        let intended = intended_start(ctx.start, phase, rate, op);
        if intended >= end {
            break;
        }
        tokio::time::sleep_until(intended.into()).await;
        let permit = match slots.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => break,
        };
        if clock::now() >= end {
            let scheduled =
                ((end - ctx.start).saturating_sub(phase).as_secs_f64() * rate).ceil() as u64;
            ctx.metrics.record_skipped(scheduled.saturating_sub(op));
            break;
        }
        let fut = make_op(op, intended);
        in_flight.spawn(selfcheck::in_run(async move {
            fut.await;
            drop(permit);
        }));
    }
    // A panicked op is recorded by the self-check; waiting for the rest is all that is left.
    while in_flight.join_next().await.is_some() {}
}

async fn writer_loop(ctx: Arc<ClientContext>, writer: usize, seed: u64) {
    let config = ctx.config.clone();
    let mut rng = StdRng::seed_from_u64(seed);
    let interval = 1.0 / config.writer_rate;
    let phase = Duration::from_secs_f64(interval * writer as f64 / config.num_writers as f64);
    let keys = WriterKeys::new(&config, writer);
    open_loop(&ctx, config.writer_rate, phase, |op, intended| {
        let picked = keys.pick(config.txn_keys, &mut rng);
        let plan = match picked.as_slice() {
            [key] if config.txn_keys == 1 => WritePlan::Key(WorkloadConfig::key_name(*key)),
            _ => WritePlan::Txn(
                picked
                    .iter()
                    .map(|&i| KeyWrite {
                        key: WorkloadConfig::key_name(i),
                        delete: rng.random_ratio(config.delete_percent.min(100), 100),
                    })
                    .collect(),
            ),
        };
        let op_seed: u64 = rng.random();
        let ctx = ctx.clone();
        async move {
            let mut rng = StdRng::seed_from_u64(op_seed);
            client::write_op(&ctx, writer, op, plan, intended, &mut rng).await;
        }
    })
    .await;
}

/// The keys one writer picks from, as [`WorkloadConfig`] describes: with probability
/// `key_overlap_ratio` from the part all writers share, otherwise from its private slice.
struct WriterKeys {
    shared: Range<usize>,
    private: Range<usize>,
    overlap: f64,
}

impl WriterKeys {
    fn new(config: &WorkloadConfig, writer: usize) -> Self {
        Self {
            shared: 0..config.shared_keys(),
            private: config.private_keys(writer),
            overlap: config.key_overlap_ratio,
        }
    }

    /// `n` distinct key indices, each drawn like a single-key write's key from the keys not
    /// picked yet (from the other part when one is used up); fewer only when the writer has
    /// fewer keys (validation refuses that). One key is drawn exactly as a single-key write
    /// always drew it, from the same random numbers.
    fn pick(&self, n: usize, rng: &mut impl Rng) -> Vec<usize> {
        let mut picked: Vec<usize> = Vec::with_capacity(n);
        while picked.len() < n {
            // The keys of `part` picked already, lowest first.
            let taken = |part: &Range<usize>| {
                let mut t: Vec<usize> = picked
                    .iter()
                    .copied()
                    .filter(|i| part.contains(i))
                    .collect();
                t.sort_unstable();
                t
            };
            let (shared_taken, private_taken) = (taken(&self.shared), taken(&self.private));
            let shared_free = self.shared.len() - shared_taken.len();
            let private_free = self.private.len() - private_taken.len();
            let use_shared =
                shared_free > 0 && (private_free == 0 || rng.random_bool(self.overlap));
            let (part, taken, free) = if use_shared {
                (&self.shared, shared_taken, shared_free)
            } else {
                (&self.private, private_taken, private_free)
            };
            if free == 0 {
                break;
            }
            // The k-th key of `part` not picked yet: step over the picked ones, lowest first.
            let mut key = part.start + rng.random_range(0..free);
            for t in taken {
                if t <= key {
                    key += 1;
                }
            }
            picked.push(key);
        }
        picked
    }
}

/// Crash injection: every `crash_every_ms`, the next writer in turn is armed to crash at a
/// point drawn from [`CrashPoint::ALL`] (a writer still armed or dead is skipped this turn).
async fn crash_loop(ctx: Arc<ClientContext>, seed: u64) {
    let config = ctx.config.clone();
    let mut rng = StdRng::seed_from_u64(seed);
    let every = Duration::from_millis(config.crash_every_ms);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    for turn in 0usize.. {
        tick.tick().await;
        let point = CrashPoint::ALL[rng.random_range(0..CrashPoint::ALL.len())];
        ctx.manifests.arm_crash(turn % config.num_writers, point);
    }
}

/// Keys per read operation.
const KEYS_PER_READ: usize = 2;

/// Pinned reader `reader`: one pinned read session after another until the run's end, each
/// open for `pin_secs` (less when the run ends sooner), reading a random key every
/// [`WorkloadConfig::PIN_PACE`]. Sessions start staggered across readers.
async fn pinned_reader_loop(ctx: Arc<ClientContext>, reader: usize, seed: u64) {
    let config = ctx.config.clone();
    let mut rng = StdRng::seed_from_u64(seed);
    let end = ctx.start + config.duration;
    let pin = Duration::from_secs(config.pin_secs);
    let stagger = pin.mul_f64(reader as f64 / config.pinned_readers.max(1) as f64);
    tokio::time::sleep(stagger.min(config.duration)).await;
    let pace = WorkloadConfig::PIN_PACE;
    for op in 0u64.. {
        let span = end.saturating_duration_since(clock::now()).min(pin);
        if span < pace {
            break;
        }
        // A get at the open and one every `pace` after it, the last `span` after the open.
        let gets = (span.as_millis() / pace.as_millis()) as usize + 1;
        let keys = (0..gets)
            .map(|_| WorkloadConfig::key_name(rng.random_range(0..config.key_pool_size)))
            .collect();
        // A session that failed (a refused open fails at once) waits one pace before the
        // next, so a pinned reader never spins without time passing.
        if !client::pinned_read_op(&ctx, reader, op, keys, pace).await {
            tokio::time::sleep(pace).await;
        }
    }
}

async fn reader_loop(ctx: Arc<ClientContext>, reader: usize, seed: u64) {
    let config = ctx.config.clone();
    let mut rng = StdRng::seed_from_u64(seed);
    let interval = 1.0 / config.reader_rate;
    let phase =
        Duration::from_secs_f64(interval * reader as f64 / config.num_readers.max(1) as f64);
    let span = config.scan_keys.min(config.key_pool_size);
    open_loop(&ctx, config.reader_rate, phase, |op, intended| {
        // A range scan: `span` consecutive keys from a random one, inside the pool.
        let range = (span > 0).then(|| {
            let from = rng.random_range(0..=config.key_pool_size - span);
            let to = from + span;
            (WorkloadConfig::key_name(from), WorkloadConfig::key_name(to))
        });
        let keys: Vec<String> = match range {
            Some(_) => Vec::new(),
            None => (0..KEYS_PER_READ)
                .map(|_| WorkloadConfig::key_name(rng.random_range(0..config.key_pool_size)))
                .collect(),
        };
        let ctx = ctx.clone();
        async move {
            match range {
                Some(range) => client::scan_op(&ctx, reader, op, range, intended).await,
                None => client::read_op(&ctx, reader, op, keys, intended).await,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_is_drawn_exactly_as_single_key_writes_always_drew_it() {
        for overlap in [0.0, 0.4, 1.0] {
            let config = WorkloadConfig {
                num_writers: 3,
                key_pool_size: 100,
                key_overlap_ratio: overlap,
                ..Default::default()
            };
            let (shared, ratio) = (config.shared_keys(), config.key_overlap_ratio);
            for writer in 0..3 {
                let keys = WriterKeys::new(&config, writer);
                let private = config.private_keys(writer);
                let mut old = StdRng::seed_from_u64(writer as u64);
                let mut new = StdRng::seed_from_u64(writer as u64);
                for _ in 0..1_000 {
                    let use_shared = shared > 0 && (private.is_empty() || old.random_bool(ratio));
                    let key = if use_shared {
                        old.random_range(0..shared)
                    } else {
                        old.random_range(private.clone())
                    };
                    assert_eq!(keys.pick(1, &mut new), [key], "overlap {overlap}");
                }
            }
        }
    }

    #[test]
    fn a_transaction_picks_distinct_keys_among_its_writers_own() {
        let config = WorkloadConfig {
            num_writers: 2,
            key_pool_size: 20,
            key_overlap_ratio: 0.5,
            ..Default::default()
        };
        // Writer 1 has the shared keys 0..10 and its slice 15..20.
        let keys = WriterKeys::new(&config, 1);
        assert_eq!(config.writer_key_count(), 15);
        let mut rng = StdRng::seed_from_u64(7);
        for n in [2, 5, 14, 15] {
            for _ in 0..200 {
                let picked = keys.pick(n, &mut rng);
                let mut distinct = picked.clone();
                distinct.sort_unstable();
                distinct.dedup();
                assert_eq!(distinct.len(), n, "{picked:?}");
                assert!(
                    picked.iter().all(|&i| i < 10 || (15..20).contains(&i)),
                    "{picked:?}"
                );
            }
        }
        assert_eq!(keys.pick(16, &mut rng).len(), 15, "only the writer's keys");
    }
}
