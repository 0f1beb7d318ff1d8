//! The run pipeline, one function a step: setup, drive, teardown, analyse.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::schedules::{crash_loop, pinned_reader_loop, reader_loop, writer_loop};
use super::spec::RunSpec;
use crate::backend::{Backend, RunStore};
use crate::chaos::fault_log::relative_key;
use crate::chaos::recovery::{block_windows, recovery_times, Recovery};
use crate::chaos::storage::Deleted;
use crate::chaos::{
    ChaosController, ChaosEvent, CrashReport, FaultAction, InjectedFault, S3OpKind, StorageLayer,
};
use crate::checker::{CheckReport, Checker};
use crate::client::{self, BackgroundReport, ClientContext, PinnedReport};
use crate::compactor::{CompactionReport, Compactors};
use crate::config::WorkloadConfig;
use crate::console;
use crate::history::{read_history, Event, HistoryRecorder, HistoryWriter, Outcome};
use crate::host::{HostProbe, HostReport};
use crate::manifest::{
    self, build_manifest, BuildManifest, ClientManifests, LeasesLeft, RunExecutor,
};
use crate::metrics::MetricsCollector;
use crate::outcome::{RunError, RunResult};
use crate::selfcheck::{self, HarnessFaults};
use crate::timeline::Timeline;
use crate::utils::{client_seed, SeedStream};
use crate::world::clock;
use crate::world::trace::{Digest, OpTrace};

/// How long the end of a run waits for sessions abandoned by client timeouts.
pub const BACKGROUND_LIMIT: Duration = Duration::from_secs(30);

/// Runs `spec` on `backend` through `layer`, then checks the history.
///
/// The pipeline, one function a step: `setup` (manifest on a fresh prefix, history, chaos,
/// metrics), `drive` (the clients' open-loop schedules), `teardown` (stop chaos, wait for
/// abandoned sessions, read the final state, abort the manifest's background tasks, flush the
/// history), `analyse` (stream the history through the checker, recovery after each block)
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
        workload: (*run.config).clone(),
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
        faults: run.layer.network().faults().fault_counts(),
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
    console::print_run(&result, BACKGROUND_LIMIT);
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
    let retention = config.retention();
    let (client, wrapper, root) = (store.clone(), layer.clone(), prefix.clone());
    let build: BuildManifest = Arc::new(move |executor| {
        build_manifest(client.client(), wrapper.clone(), &root, executor, retention)
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
                console::print_progress(&label, clock::since(start), &metrics.counts());
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
    run.layer.network().latency().disable_profile();
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
                    .map_err(|e| console::print_final_state_error(&spec.label, &e))
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
