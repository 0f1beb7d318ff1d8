//! How faithfully the harness injects its chaos, measured at the storage wrapper on the
//! embedded backend (a benchmark: it prints every figure, and fails only when an operation
//! completed inside a block):
//!
//! ```text
//! cargo test --release -p fusio-manifest-chaos --features benchmarks --test benchmarks chaos_fidelity:: -- --nocapture
//! ```
//!
//! - Injected latency: real GETs through a [`ChaosFs`] with 100/200/500 ms injected (profile
//!   `none`, no jitter), interleaved with GETs without, give the latency added per S3
//!   operation; the goal is the nominal value within 2 ms or 2%, whichever is larger.
//! - Block edges: while a [`ChaosController`] runs the plan's block schedule, several tasks
//!   issue GETs back to back; the last completion before each `block_start` and the first after
//!   each `block_end` show how sharply operations stop and resume (goal: within 50 ms), and no
//!   operation may complete inside a block.

// Real-time runs against the embedded server: the host's clock is what they time.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fusio::fs::{CasCondition, FsCas};
use fusio::path::Path;
use fusio::remotes::aws::fs::AmazonS3;
use fusio_manifest_chaos::backend::Backend;
use fusio_manifest_chaos::chaos::recovery::block_windows;
use fusio_manifest_chaos::chaos::{
    BlockPlan, ChaosController, ChaosFs, ChaosScenario, LatencySpec,
};

/// GETs per latency setting (each paired with one GET without latency).
const SAMPLES: usize = 30;
/// Injected latencies to check, in ms.
const NOMINAL_MS: [u64; 3] = [100, 200, 500];
/// Allowed error of the mean added latency: this many ms, or [`LATENCY_GOAL_PCT`], if larger.
const LATENCY_GOAL_MS: f64 = 2.0;
/// Allowed error of the mean added latency, in percent of the nominal value.
const LATENCY_GOAL_PCT: f64 = 2.0;
/// Allowed distance between a block edge and the operations stopping or resuming.
const EDGE_GOAL_MS: f64 = 50.0;
/// Run length the block schedule is scaled to: the plan's 10 s blocks become 0.5 s.
const BLOCK_RUN: Duration = Duration::from_secs(15);
/// Tasks issuing GETs back to back during the block run.
const OP_TASKS: usize = 4;
/// Seed of the block schedule.
const SEED: u64 = 7;

type HarnessFs = ChaosFs<AmazonS3>;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// A wrapper over the embedded server's fusio client with its own (idle) network.
fn chaos_fs(backend: &Backend) -> HarnessFs {
    ChaosFs::new(backend.settings().fusio_client(), common::layer(SEED))
}

/// Time of one GET through the wrapper, in ms.
async fn timed_get(fs: &HarnessFs, path: &Path) -> f64 {
    let t = Instant::now();
    fs.load_with_tag(path)
        .await
        .expect("GET succeeds")
        .expect("object exists");
    ms(t.elapsed())
}

/// Prints one table row for `nominal_ms` of injected latency.
async fn latency_row(fs: &HarnessFs, path: &Path, nominal_ms: u64) {
    let net = fs.layer().network();
    let spec = LatencySpec {
        delay: Duration::from_millis(nominal_ms),
        jitter: Duration::ZERO,
    };
    let (mut off, mut on) = (Vec::new(), Vec::new());
    // Interleaved, so drift of the machine's load hits both sides alike.
    for _ in 0..SAMPLES {
        net.latency().set_latency(None);
        off.push(timed_get(fs, path).await);
        net.latency().set_latency(Some(spec));
        on.push(timed_get(fs, path).await);
    }
    net.latency().set_latency(None);
    let base = mean(&off);
    let mut added: Vec<f64> = on.iter().map(|t| t - base).collect();
    added.sort_by(f64::total_cmp);
    let nominal = nominal_ms as f64;
    let avg = mean(&added);
    let err = avg - nominal;
    let goal = LATENCY_GOAL_MS.max(nominal * LATENCY_GOAL_PCT / 100.0);
    println!(
        "{nominal:>7.0} | {base:>8.2} | {avg:>8.2} | {:>8.2} | {:>8.2} | {:>8.2} | {err:>+7.2} | {:>+6.2}% | ±{goal:<4.1} | {}",
        added[added.len() / 2],
        added[0],
        added[added.len() - 1],
        err / nominal * 100.0,
        if err.abs() <= goal { "yes" } else { "NO" }
    );
}

/// Mean overshoot of one `tokio::time::sleep` of 50 ms, in ms: the wrapper sleeps twice per
/// operation (half the delay before the request, half after the answer).
async fn sleep_overshoot_ms() -> f64 {
    let nominal = Duration::from_millis(50);
    let mut over = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        tokio::time::sleep(nominal).await;
        over.push(ms(t.elapsed()) - ms(nominal));
    }
    mean(&over)
}

/// What one block run saw, in ms since the run started.
struct BlockRun {
    /// Completion times of every GET, sorted.
    completions: Vec<f64>,
    /// Block windows from the controller's event log (whole ms).
    windows: Vec<(u64, u64)>,
    /// Block windows the schedule planned (whole ms).
    planned: Vec<(u64, u64)>,
    /// When a task waiting on the network, like an operation's gate, saw each unblock.
    unblocks: Vec<f64>,
}

/// Runs the plan's blocks over [`BLOCK_RUN`] while [`OP_TASKS`] tasks issue GETs back to back.
async fn block_run(fs: &HarnessFs, path: &Path) -> BlockRun {
    let plan = BlockPlan::plan_default();
    let planned: Vec<(u64, u64)> = plan
        .schedule(BLOCK_RUN, SEED)
        .into_iter()
        .map(|(s, e)| (s.as_millis() as u64, e.as_millis() as u64))
        .collect();
    let run_for = Duration::from_millis(planned.last().map_or(0, |w| w.1) + 500);
    let scenario = ChaosScenario {
        label: "fidelity-blocks".into(),
        blocks: Some(plan),
        ..ChaosScenario::baseline()
    };
    let start = Instant::now();
    let mut controller = ChaosController::new(scenario, fs.layer().clone(), start);
    controller.start(BLOCK_RUN, SEED);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..OP_TASKS)
        .map(|_| {
            let (fs, path, stop) = (fs.clone(), path.clone(), stop.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    timed_get(&fs, &path).await;
                    done.push(ms(start.elapsed()));
                }
                done
            })
        })
        .collect();
    let monitor = {
        let (layer, stop) = (fs.layer().clone(), stop.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if layer.network().blocks().is_blocked() {
                    layer.network().blocks().wait_unblocked().await;
                    seen.push(ms(start.elapsed()));
                } else {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            seen
        })
    };
    tokio::time::sleep_until((start + run_for).into()).await;
    stop.store(true, Ordering::Relaxed);
    let mut completions = Vec::new();
    for t in tasks {
        completions.extend(t.await.expect("GET task"));
    }
    completions.sort_by(f64::total_cmp);
    let unblocks = monitor.await.expect("unblock monitor");
    let events = controller.stop();
    BlockRun {
        completions,
        windows: block_windows(&events, start.elapsed().as_millis() as u64),
        planned,
        unblocks,
    }
}

/// Prints one row per block: how sharply operations stopped and resumed around it. Returns
/// how many operations completed inside a block, before its unblock was seen.
fn edge_rows(run: &BlockRun) -> usize {
    let c = &run.completions;
    let mut all_leaked = 0;
    for (i, &(s, e)) in run.windows.iter().enumerate() {
        let (s, e) = (s as f64, e as f64);
        let (ps, pe) = run
            .planned
            .get(i)
            .map_or((f64::NAN, f64::NAN), |p| (p.0 as f64, p.1 as f64));
        // The unblock as a waiter saw it; the `block_end` stamp can only be later.
        let unblock = run
            .unblocks
            .iter()
            .copied()
            .find(|&u| u >= s)
            .unwrap_or(e)
            .min(e);
        // Event stamps are whole ms (truncated), so an edge is only known to within 1 ms.
        let last_before = c
            .iter()
            .copied()
            .filter(|&t| t <= s + 1.0)
            .fold(f64::NAN, f64::max);
        let first_after = c.iter().copied().find(|&t| t >= unblock - 1.0);
        let inside = c.iter().filter(|&&t| t > s + 1.0 && t < e - 1.0).count();
        let leaked = c
            .iter()
            .filter(|&&t| t > s + 1.0 && t < unblock - 1.0)
            .count();
        all_leaked += leaked;
        let stop_edge = s - last_before;
        let resume_edge = first_after.map_or(f64::NAN, |t| t - e);
        let ok =
            stop_edge.abs() <= EDGE_GOAL_MS && resume_edge.abs() <= EDGE_GOAL_MS && leaked == 0;
        println!(
            "{:>5} | {s:>5.0}-{e:<5.0} | {:>+5.0} | {:>+5.0} | {stop_edge:>6.2} | {resume_edge:>+7.2} | {:>6.2} | {inside:>6} | {leaked:>6} | {}",
            i + 1,
            s - ps,
            e - pe,
            e - unblock,
            if ok { "yes" } else { "NO" }
        );
    }
    all_leaked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_fidelity_benchmark() {
    let backend = common::embedded().await;
    let fs = chaos_fs(&backend);
    let path = Path::parse("fidelity/object").expect("path");
    fs.put_conditional(&path, &[7u8; 1024], None, None, CasCondition::IfNotExists)
        .await
        .expect("seed object");
    for _ in 0..5 {
        timed_get(&fs, &path).await; // warm the connection pool
    }

    println!(
        "\n=== Injected latency per S3 GET ({SAMPLES} GETs each, profile none, no jitter) ==="
    );
    println!("added = GET with latency - mean GET without (interleaved); all figures in ms");
    println!(
        "nominal | base GET |    added |   median |      min |      max |   error | error% | goal  | within"
    );
    for nominal in NOMINAL_MS {
        latency_row(&fs, &path, nominal).await;
    }
    println!(
        "one tokio sleep of 50 ms overshoots by {:.2} ms on average (the wrapper sleeps twice per op)",
        sleep_overshoot_ms().await
    );

    println!(
        "\n=== Block edges ({OP_TASKS} tasks issuing GETs back to back; plan blocks scaled to {BLOCK_RUN:?}) ==="
    );
    let run = block_run(&chaos_fs(&backend), &path).await;
    println!(
        "{} GETs completed. All in ms. late s/e: block_start/block_end stamp - planned time; \
         stop: block_start - last completion before it; resume: first completion after the \
         unblock - block_end; lag: block_end stamp - unblock seen by a waiter; inside: \
         completions between the stamps; leaked: completions before the unblock was seen",
        run.completions.len()
    );
    println!(
        "block | window      | lateS | lateE |   stop |  resume |    lag | inside | leaked | within {EDGE_GOAL_MS:.0} ms"
    );
    assert!(!run.windows.is_empty(), "the controller logged no block");
    let leaked = edge_rows(&run);
    assert_eq!(leaked, 0, "operations completed inside a block");
}
