//! The clients' open-loop schedules: writers, readers, pinned readers, and the crash
//! injector beside them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::keys::WriterKeys;
use crate::chaos::CrashPoint;
use crate::client::{self, ClientContext, KeyWrite, WritePlan};
use crate::config::WorkloadConfig;
use crate::selfcheck;
use crate::world::clock;

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

pub(super) async fn writer_loop(ctx: Arc<ClientContext>, writer: usize, seed: u64) {
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

/// Crash injection: every `crash_every_ms`, the next writer in turn is armed to crash at a
/// point drawn from [`CrashPoint::ALL`] (a writer still armed or dead is skipped this turn).
pub(super) async fn crash_loop(ctx: Arc<ClientContext>, seed: u64) {
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
pub(super) async fn pinned_reader_loop(ctx: Arc<ClientContext>, reader: usize, seed: u64) {
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

pub(super) async fn reader_loop(ctx: Arc<ClientContext>, reader: usize, seed: u64) {
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
