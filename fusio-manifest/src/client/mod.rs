//! One writer and one reader: sessions, lease keeping, retries, outcome classification, and
//! what they record.
//!
//! A write attempt opens a write session, reads the chosen key, puts a unique value naming the
//! writer, op and attempt and the value it read, and commits. A multi-key transaction
//! (`CHAOS_TXN_KEYS` >= 2) does the same with several keys in one session: it reads every key,
//! then puts that attempt's value (naming the value it read there) into each key or deletes
//! it, and commits once. Outcomes, the same for both:
//! - `PreconditionFailed` from any step: a definite failure, retried with a new session up to
//!   `max_retry_count` times;
//! - any other error, or a step timeout, before `commit` was called: nothing can have been
//!   committed, so the history records a definite `fail`, and metrics count a write error; no
//!   retry;
//! - any other error from `commit`, or a timeout while it runs: indeterminate (`info`),
//!   counted as a write error; no retry.
//!
//! **Steps are never cancelled.** Each operation's sessions live in a task of their own that
//! runs every step (open, get, put, commit, end) to completion; the client waits for each step
//! within the workload's `op_timeout_ms` (fusio's HTTP client has no timeouts) and, past it, stops waiting and
//! records the outcome. The task goes on: if the commit had not started it ends the session
//! after its current step, otherwise it lets the commit finish. So every session is committed
//! or ended, no lease is left claimed by a half-opened session, and debug builds never drop a
//! session that holds a lease. [`ClientContext::finish_background`] waits for these tasks at
//! the end of a run.
//!
//! **Leases are kept alive** for the whole session with fusio-manifest's own
//! [`LeaseKeeper`], as a correct caller does, unless the run lets them lapse on purpose
//! ([`WorkloadConfig::keep_leases`] off, the `lease-expiry` scenario).

mod read;
mod session_task;
mod write;

pub use read::{pinned_read_op, read_final_state, read_op, scan_op, PinnedReport};
pub use write::{write_op, KeyWrite, WritePlan};

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fusio_manifest::types::Error as ManifestError;
use fusio_manifest::LeaseKeeper;
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::config::WorkloadConfig;
use crate::history::HistoryRecorder;
use crate::manifest::ClientManifests;
use crate::metrics::MetricsCollector;
use crate::world::clock;

/// What every client of one run shares.
pub struct ClientContext {
    /// The system under test: each client's manifest.
    pub manifests: ClientManifests,
    /// Where measurements go.
    pub metrics: Arc<MetricsCollector>,
    /// Where every operation is recorded.
    pub history: HistoryRecorder,
    /// The run's clock: history timestamps are microseconds since this instant.
    pub start: Instant,
    /// The workload.
    pub config: Arc<WorkloadConfig>,
    /// Session tasks still running when their client moved on (after a step timeout, or
    /// releasing a session after a failed step); the run waits for them at its end.
    pub background: Mutex<Vec<JoinHandle<()>>>,
    /// Operations whose client stopped waiting at a step timeout.
    pub abandoned: AtomicUsize,
    /// What the pinned readers did.
    pub pinned: Mutex<PinnedReport>,
}

/// What [`ClientContext::finish_background`] found at the end of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackgroundReport {
    /// Operations whose client stopped waiting at a step timeout during the run.
    pub abandoned: usize,
    /// Session tasks still running when the clients were done.
    pub running_at_end: usize,
    /// Of those, tasks still running at the limit, then cancelled.
    pub cancelled: usize,
}

impl ClientContext {
    /// Microseconds since the run started (the history's clock).
    pub fn now_us(&self) -> u64 {
        clock::since(self.start).as_micros() as u64
    }

    async fn bounded<T>(&self, step: impl Future<Output = T>) -> Option<T> {
        match self.config.op_timeout() {
            None => Some(step.await),
            Some(d) => tokio::time::timeout(d, step).await.ok(),
        }
    }

    fn timeout_message(&self) -> String {
        format!("client timeout after {} ms", self.config.op_timeout_ms)
    }

    /// Waits up to `limit` for the session tasks still running; cancels what is left then
    /// (fusio's HTTP client has no timeout, so a task can hang forever) and waits for the
    /// cancellation, so anything it trips is recorded before the run's verdict. A cancelled
    /// task drops its session mid-step; its lease expires by its TTL. In a debug build that
    /// drop trips fusio-manifest's "session dropped without releasing its lease" assertion,
    /// which the self-check reports: the run is then `INVALID`.
    pub async fn finish_background(&self, limit: Duration) -> BackgroundReport {
        let mut tasks = std::mem::take(&mut *self.background.lock());
        tasks.retain(|t| !t.is_finished());
        let deadline = tokio::time::Instant::now() + limit;
        let running_at_end = tasks.len();
        BackgroundReport {
            abandoned: self.abandoned.load(Ordering::Relaxed),
            running_at_end,
            cancelled: crate::utils::join_or_cancel(tasks, deadline).await,
        }
    }
}

/// Client id of writer `i` in the history.
pub fn writer_id(i: usize) -> String {
    format!("w{i}")
}

/// Client id of reader `i` in the history.
pub fn reader_id(i: usize) -> String {
    format!("r{i}")
}

/// Client id of pinned reader `i` in the history.
pub fn pinned_id(i: usize) -> String {
    format!("p{i}")
}

/// fusio-manifest's keeper for a session's lease, started only when the run keeps leases
/// alive (a keeper started and dropped at once would release the lease at once). Starting
/// one fails only for a session without a lease or a zero TTL, which the harness never opens.
///
/// fusio's keeper notices it was stopped only at its next heartbeat (TTL/2 later) and then
/// deletes the lease again: one extra DELETE per session, up to 30 s after it ended with the
/// default TTL, counted with the run's S3 operations.
fn keep_alive(
    keep_leases: bool,
    start: impl FnOnce() -> Result<LeaseKeeper, ManifestError>,
) -> Option<LeaseKeeper> {
    if keep_leases {
        start().ok()
    } else {
        None
    }
}

/// Ends a session and stops its lease keeper. A failed release only leaves a lease that
/// expires by its TTL.
async fn release(
    end: impl Future<Output = Result<(), ManifestError>>,
    keeper: Option<LeaseKeeper>,
) {
    let _ = end.await;
    drop(keeper);
}
