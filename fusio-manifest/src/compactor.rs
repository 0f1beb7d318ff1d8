//! The compactor actor: fusio-manifest's own `Compactor::compact_and_gc`, run on an interval
//! beside the writers and readers as a deployment runs it, on the same manifest and so over the
//! same storage wrapper: chaos and fault points reach compaction, checkpoints and GC too. Each
//! pass is one `compact` event in the history; the counts show in the console.
//!
//! `compact_and_gc` (fusio-manifest 0.6.1, compactor.rs:354) folds the L0 segments into
//! checkpoint runs, CASes HEAD (the txn id stays, the tag changes, so sessions opened before
//! it conflict), then deletes segments up to the checkpoint only when every active lease's
//! snapshot is newer than it, and old checkpoints past their retention.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::client::ClientContext;
use crate::history::{Event, Outcome};
use crate::selfcheck;
use crate::utils::error_chain;
use crate::world::clock;

/// What the compactors of one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Passes that returned `Ok`.
    pub passes: u64,
    /// Passes that returned an error.
    pub errors: u64,
    /// Passes still running at the end of the run after the wait, then cancelled.
    pub cancelled: u64,
}

/// The run's compactor tasks and their counters.
pub struct Compactors {
    tasks: Vec<JoinHandle<()>>,
    passes: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
}

impl Compactors {
    /// Starts `ctx.config.compactors` compactors when `ctx.config.compact_every_ms` is set
    /// (none otherwise). Compactor `i` starts its passes `i / n` of an interval late, so two
    /// compactors do not run in lockstep.
    pub fn start(ctx: &Arc<ClientContext>) -> Self {
        let passes = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let every = Duration::from_millis(ctx.config.compact_every_ms);
        let count = if every.is_zero() {
            0
        } else {
            ctx.config.compactors
        };
        let tasks = (0..count)
            .map(|i| {
                let ctx = ctx.clone();
                let counters = (passes.clone(), errors.clone());
                let phase = every.mul_f64(i as f64 / count as f64);
                selfcheck::spawn(
                    async move { compactor_loop(ctx, i, every, phase, counters).await },
                )
            })
            .collect();
        Self {
            tasks,
            passes,
            errors,
        }
    }

    /// Waits up to `limit` for passes still running (the loops stop at the end of the run),
    /// then cancels what is left (a pass can hang on a stalled request: fusio's HTTP client
    /// has no timeout; a compaction holds no lease, so cancelling it leaks nothing).
    pub async fn finish(self, limit: Duration) -> CompactionReport {
        let deadline = tokio::time::Instant::now() + limit;
        let cancelled = crate::utils::join_or_cancel(self.tasks, deadline).await as u64;
        CompactionReport {
            passes: self.passes.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            cancelled,
        }
    }
}

/// One compactor: a pass every `every`, the first at `phase + every` after the run's start,
/// none starting after the run's end. A pass that overruns its interval moves the next one to
/// the next slot of the schedule: passes never run back to back to catch up.
async fn compactor_loop(
    ctx: Arc<ClientContext>,
    index: usize,
    every: Duration,
    phase: Duration,
    (passes, errors): (Arc<AtomicU64>, Arc<AtomicU64>),
) {
    let name = format!("c{index}");
    let end = ctx.start + ctx.config.duration;
    let mut next = ctx.start + phase + every;
    while next < end {
        tokio::time::sleep_until(next.into()).await;
        let started_us = ctx.now_us();
        let result = ctx.manifests.reference().compactor().compact_and_gc().await;
        let (outcome, checkpoint, error) = match &result {
            Ok((id, _tag)) => (Outcome::Ok, Some(id.as_str().to_string()), None),
            Err(e) => (Outcome::Info, None, Some(error_chain(e))),
        };
        match outcome {
            Outcome::Ok => passes.fetch_add(1, Ordering::Relaxed),
            _ => errors.fetch_add(1, Ordering::Relaxed),
        };
        ctx.history.record(Event::Compact {
            client: name.clone(),
            started_us,
            t_us: ctx.now_us(),
            outcome,
            checkpoint,
            error,
        });
        let now = clock::now();
        while next <= now {
            next += every;
        }
    }
}
