//! The workload driver: open-loop schedules, spawning clients, the run clock, and tearing a
//! run down so nothing of it outlives it.
//!
//! Clients are open loop: op `i` of a client with rate `r` is intended to start at
//! `phase + i / r` and starts then, whether or not the client's earlier ops have finished
//! (up to [`MAX_IN_FLIGHT_PER_CLIENT`] in flight per client). Every latency is measured from
//! the intended start, so slow S3 and queueing show in the figures instead of being hidden
//! (coordinated omission). Ops intended to start after the duration are not issued; the run
//! ends when the ops in flight finish.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::backend::Backend;
use crate::chaos::recovery::{block_windows, recovery_times, Recovery};
use crate::chaos::{ChaosController, ChaosEvent, ChaosScenario, FaultCounts, StorageLayer};
use crate::checker::{CheckReport, Checker};
use crate::client::{self, BackgroundReport, ClientContext};
use crate::config::WorkloadConfig;
use crate::history::{read_history, Event, HistoryRecorder, Outcome};
use crate::manifest::{build_manifest, ManifestOptions, RunExecutor};
use crate::metrics::{
    MetricsCollector, MetricsSummary, RawCounts, RunReport, Timeline, TimelineBucket,
};
use crate::selfcheck::{self, HarnessFaults};

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
    /// Per-second timeline.
    pub timeline: Vec<TimelineBucket>,
    /// The isolation check of the recorded history.
    pub check: CheckReport,
    /// Where the history was written.
    pub history_path: PathBuf,
    /// HEAD txn id read at the end (`None` if the final read failed).
    pub final_head_txn: Option<u64>,
    /// S3 operations completed when the run was torn down.
    pub s3_ops_at_end: u64,
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
}

impl RunResult {
    /// Whether the harness itself failed during the run (a panic in any of its tasks): its
    /// figures and its isolation check say nothing about fusio-manifest.
    pub fn is_invalid(&self) -> bool {
        !self.harness_faults.is_empty()
    }

    /// The run's verdict: `INVALID: harness fault`, else the isolation check's PASS or FAIL.
    pub fn verdict(&self) -> &'static str {
        match (self.is_invalid(), self.check.is_valid()) {
            (true, _) => crate::selfcheck::INVALID_VERDICT,
            (false, true) => "PASS",
            (false, false) => "FAIL",
        }
    }
}

/// How long the end of a run waits for sessions abandoned by client timeouts.
const BACKGROUND_LIMIT: Duration = Duration::from_secs(30);

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
/// The manifest gets a fresh prefix. When the clients are done, the final state is read, every
/// background task of the manifest is aborted ([`RunExecutor::shutdown`]), and the history is
/// flushed and checked. Every task of the run is spawned inside its [`HarnessFaults`] scope,
/// so a panic anywhere in it lands in [`RunResult::harness_faults`] (the run is then
/// `INVALID`) instead of unwinding through the sweep.
pub async fn run_workload(
    backend: &Backend,
    layer: Arc<StorageLayer>,
    spec: RunSpec,
) -> Result<RunResult, RunError> {
    let faults = HarnessFaults::new();
    let mut result = faults.scope(run_scoped(backend, layer, spec)).await?;
    result.harness_faults = faults.faults();
    Ok(result)
}

async fn run_scoped(
    backend: &Backend,
    layer: Arc<StorageLayer>,
    spec: RunSpec,
) -> Result<RunResult, RunError> {
    let config = Arc::new(spec.config.clone());
    let prefix = backend.new_prefix(&spec.label);
    let executor = RunExecutor::default();
    let manifest = Arc::new(build_manifest(
        backend.settings().fusio_client(),
        layer.clone(),
        &prefix,
        executor.clone(),
        &spec.manifest,
    ));
    let history_err = |e: Box<dyn std::error::Error + Send + Sync>| RunError::History {
        path: spec.history_path.clone(),
        source: e,
    };
    let (history, history_writer) =
        HistoryRecorder::create(&spec.history_path).map_err(|e| history_err(Box::new(e)))?;

    let start = Instant::now();
    let mut controller = spec
        .chaos
        .clone()
        .map(|scenario| ChaosController::new(scenario, layer.clone(), start));
    if let Some(c) = controller.as_mut() {
        c.start(config.duration, spec.seed);
    }
    let timeline = Arc::new(Timeline::new(start, config.duration));
    layer.attach_timeline(timeline.clone());
    let metrics = Arc::new(MetricsCollector::new(timeline.clone()));
    let ctx = Arc::new(ClientContext {
        manifest: manifest.clone(),
        metrics: metrics.clone(),
        history: history.clone(),
        start,
        config: config.clone(),
        op_timeout: spec.op_timeout,
        keep_leases: !spec.manifest.lapse_leases,
        background: Default::default(),
        abandoned: Default::default(),
    });

    let progress = spec.progress_every.map(|every| {
        let metrics = metrics.clone();
        let label = spec.label.clone();
        selfcheck::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let c = metrics.counts();
                println!(
                    "  [{label}] {:>5.0}s  commits {}  precondition failures {}  write errors {}  reads {}",
                    start.elapsed().as_secs_f64(),
                    c.commits,
                    c.precondition_failures,
                    c.write_errors,
                    c.reads
                );
            }
        })
    });

    let mut clients = Vec::new();
    for w in 0..config.num_writers {
        let ctx = ctx.clone();
        let seed = spec.seed ^ (0x5752_4954 + w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        clients.push(selfcheck::spawn(
            async move { writer_loop(ctx, w, seed).await },
        ));
    }
    for r in 0..config.num_readers {
        let ctx = ctx.clone();
        let seed = spec.seed ^ (0x5245_4144 + r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        clients.push(selfcheck::spawn(
            async move { reader_loop(ctx, r, seed).await },
        ));
    }
    // Chaos stays on until the ops in flight at the end have finished, so every measured op
    // saw the scenario's conditions for its whole life. A client that panicked is recorded
    // by the self-check; the others' results still count.
    futures_util::future::join_all(clients).await;
    let elapsed = start.elapsed();
    if let Some(p) = progress {
        p.abort();
    }
    let mut events = controller.as_mut().map(|c| c.stop()).unwrap_or_default();
    // The final read is verification, not measurement: it runs without the latency model
    // (a full scan reads every segment, which would take seconds at S3 latency).
    layer.network().disable_profile();

    let background = ctx.finish_background(BACKGROUND_LIMIT).await;
    if background.abandoned + background.running_at_end > 0 {
        println!(
            "  [{}] {} operation(s) abandoned at a client step timeout; {} session task(s) still running when the clients were done: {} finished within {BACKGROUND_LIMIT:?}, {} cancelled then (their leases expire by TTL)",
            spec.label,
            background.abandoned,
            background.running_at_end,
            background.running_at_end - background.cancelled,
            background.cancelled
        );
    }
    let final_head_txn = client::read_final_state(&ctx).await.ok();
    executor.shutdown();
    drop(ctx);
    drop(manifest);
    let s3_ops_at_end = layer.total_ops();
    drop(history);
    history_writer
        .finish()
        .map_err(|e| history_err(Box::new(e)))?;

    // Stream the history back through the checker: memory stays bounded by the checker's
    // compact per-op state, not the raw events.
    let mut checker = Checker::new();
    let mut commit_times_ms = Vec::new();
    for event in read_history(&spec.history_path) {
        let event = event.map_err(|e| history_err(Box::new(e)))?;
        if let Event::Write {
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
    let check = checker.finish();
    let windows = block_windows(&events, elapsed.as_millis() as u64);
    let recoveries = recovery_times(&windows, &commit_times_ms);
    for r in &recoveries {
        let detail = match r.recovery_ms {
            Some(ms) => format!(
                "block {}: {ms} ms to >=50% of {:.1} commits/s",
                r.block, r.pre_rate
            ),
            None if r.pre_rate == 0.0 => format!(
                "block {}: not measurable (no commit in the 10 s before the block)",
                r.block
            ),
            None => format!(
                "block {}: not recovered to >=50% of {:.1} commits/s",
                r.block, r.pre_rate
            ),
        };
        println!("  [{}] recovery after {detail}", spec.label);
        events.push(ChaosEvent {
            t_ms: r.end_ms + r.recovery_ms.unwrap_or(0),
            event: if r.recovery_ms.is_some() {
                "recovered"
            } else {
                "not_recovered"
            }
            .into(),
            detail,
        });
    }

    let summary = metrics.summary(&spec.label, &config, elapsed);
    let counts = metrics.counts();
    RunReport {
        summary: &summary,
        counts,
        storage: &layer,
    }
    .print_report();
    Ok(RunResult {
        summary,
        counts,
        timeline: timeline.buckets(elapsed.as_secs()),
        check,
        history_path: spec.history_path,
        final_head_txn,
        s3_ops_at_end,
        events,
        recoveries,
        commit_times_ms,
        faults: layer.network().fault_counts(),
        background,
        harness_faults: Vec::new(),
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
        if Instant::now() >= end {
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
    let shared = config.shared_keys();
    let private = config.private_keys(writer);
    open_loop(&ctx, config.writer_rate, phase, |op, intended| {
        let use_shared =
            shared > 0 && (private.is_empty() || rng.random_bool(config.key_overlap_ratio));
        let idx = if use_shared {
            rng.random_range(0..shared)
        } else {
            rng.random_range(private.clone())
        };
        let key = WorkloadConfig::key_name(idx);
        let op_seed: u64 = rng.random();
        let ctx = ctx.clone();
        async move {
            let mut rng = StdRng::seed_from_u64(op_seed);
            client::write_op(&ctx, writer, op, key, intended, &mut rng).await;
        }
    })
    .await;
}

/// Keys per read operation.
const KEYS_PER_READ: usize = 2;

async fn reader_loop(ctx: Arc<ClientContext>, reader: usize, seed: u64) {
    let config = ctx.config.clone();
    let mut rng = StdRng::seed_from_u64(seed);
    let interval = 1.0 / config.reader_rate;
    let phase =
        Duration::from_secs_f64(interval * reader as f64 / config.num_readers.max(1) as f64);
    open_loop(&ctx, config.reader_rate, phase, |op, intended| {
        let keys = (0..KEYS_PER_READ)
            .map(|_| WorkloadConfig::key_name(rng.random_range(0..config.key_pool_size)))
            .collect();
        let ctx = ctx.clone();
        async move { client::read_op(&ctx, reader, op, keys, intended).await }
    })
    .await;
}
