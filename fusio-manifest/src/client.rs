//! One writer and one reader: sessions, retries, outcome classification, and what they record.
//!
//! A write attempt opens a write session, reads the chosen key, puts a unique value naming the
//! writer, op and attempt and the value it read, and commits. Outcomes:
//! - `PreconditionFailed` from any step: a definite failure, retried with a new session up to
//!   `max_retry_count` times;
//! - any other error before `commit` was called: nothing was committed, so the history records
//!   a definite `fail`, and metrics count a write error; no retry;
//! - any other error from `commit` (or a timeout around it): indeterminate (`info`), counted
//!   as a write error; no retry.
//!
//! fusio's HTTP client has no timeouts, so with `op_timeout` set each step (open session, get,
//! commit, end) is bounded. A step that times out is abandoned, never cancelled half way: a
//! session still held is ended in the background, and a commit that times out keeps running
//! in the background until it finishes (its outcome stays `info` in the history). So every
//! session is ended or committed whatever happens, and debug builds never drop a session that
//! holds a lease. [`ClientContext::finish_background`] waits for that background work.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fusio_manifest::types::Error as ManifestError;
use rand::Rng;

use crate::config::WorkloadConfig;
use crate::history::{self, Event, HistoryRecorder, OpKind, Outcome};
use crate::manifest::HarnessManifest;
use crate::metrics::{AttemptOutcome, MetricsCollector};

/// What every client of one run shares.
pub struct ClientContext {
    /// The system under test.
    pub manifest: Arc<HarnessManifest>,
    /// Where measurements go.
    pub metrics: Arc<MetricsCollector>,
    /// Where every operation is recorded.
    pub history: HistoryRecorder,
    /// The run's clock: history timestamps are microseconds since this instant.
    pub start: Instant,
    /// The workload.
    pub config: Arc<WorkloadConfig>,
    /// Bound on each client step (`None`: wait forever, as fusio does).
    pub op_timeout: Option<Duration>,
    /// Sessions being ended and commits still running after their step timed out.
    pub background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// A client step that did not finish within `op_timeout`.
struct TimedOut;

impl ClientContext {
    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    async fn bounded<T>(&self, step: impl Future<Output = T>) -> Result<T, TimedOut> {
        match self.op_timeout {
            None => Ok(step.await),
            Some(d) => tokio::time::timeout(d, step).await.map_err(|_| TimedOut),
        }
    }

    fn timeout_message(&self) -> String {
        format!(
            "client timeout after {} ms",
            self.op_timeout.map(|d| d.as_millis()).unwrap_or(0)
        )
    }

    /// Runs `step` as its own task and waits for it within `op_timeout`. Past the timeout the
    /// task is not cancelled (that could drop a session holding its lease): it goes on in the
    /// background, where [`ClientContext::finish_background`] collects it.
    async fn spawn_bounded<T: Send + 'static>(
        &self,
        step: impl Future<Output = T> + Send + 'static,
    ) -> Result<Result<T, tokio::task::JoinError>, TimedOut> {
        let mut task = tokio::spawn(step);
        let joined = self.bounded(&mut task).await;
        if joined.is_err() {
            self.detach(async move {
                let _ = task.await;
            });
        }
        joined
    }

    fn detach(&self, task: impl Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        let mut background = self.background.lock().unwrap_or_else(|e| e.into_inner());
        background.retain(|t| !t.is_finished());
        background.push(handle);
    }

    /// Waits up to `limit` for background session work, then aborts what is left. Returns how
    /// many tasks were still running at the limit.
    pub async fn finish_background(&self, limit: Duration) -> usize {
        let tasks = std::mem::take(&mut *self.background.lock().unwrap_or_else(|e| e.into_inner()));
        let deadline = tokio::time::Instant::now() + limit;
        let mut left = 0;
        for mut t in tasks {
            if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
                t.abort();
                left += 1;
            }
        }
        left
    }
}

struct AttemptResult {
    outcome: Outcome,
    metric: AttemptOutcome,
    snapshot_txn: Option<u64>,
    read: Option<Option<String>>,
    txn_id: Option<u64>,
    error: Option<String>,
}

impl AttemptResult {
    fn indeterminate(
        snapshot_txn: Option<u64>,
        read: Option<Option<String>>,
        error: String,
    ) -> Self {
        Self {
            outcome: Outcome::Info,
            metric: AttemptOutcome::Error,
            snapshot_txn,
            read,
            txn_id: None,
            error: Some(error),
        }
    }

    fn timed_out(
        ctx: &ClientContext,
        outcome: Outcome,
        snapshot_txn: Option<u64>,
        read: Option<Option<String>>,
    ) -> Self {
        Self {
            outcome,
            metric: AttemptOutcome::Error,
            snapshot_txn,
            read,
            txn_id: None,
            error: Some(ctx.timeout_message()),
        }
    }

    fn failed(snapshot_txn: Option<u64>, read: Option<Option<String>>, err: ManifestError) -> Self {
        let precondition = matches!(err, ManifestError::PreconditionFailed);
        Self {
            outcome: Outcome::Fail,
            metric: if precondition {
                AttemptOutcome::PreconditionFailed
            } else {
                AttemptOutcome::Error
            },
            snapshot_txn,
            read,
            txn_id: None,
            error: Some(err.to_string()),
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

/// Runs one write operation (all its attempts) for writer `writer` on `key`.
/// `intended` is when the open-loop schedule wanted it to start.
pub async fn write_op(
    ctx: &ClientContext,
    writer: usize,
    op: u64,
    key: String,
    intended: Instant,
    rng: &mut impl Rng,
) {
    let client = writer_id(writer);
    let max_retry = ctx.config.max_retry_count;
    let mut final_outcome = AttemptOutcome::Error;
    let mut gave_up = false;
    for attempt in 0..=max_retry {
        if attempt > 0 {
            backoff(ctx.config.retry_backoff_ms, attempt, rng).await;
        }
        let value_id = format!("{client}:{op}:{attempt}");
        ctx.history.record(Event::Invoke {
            client: client.clone(),
            op,
            attempt,
            kind: OpKind::Write,
            t_us: ctx.now_us(),
            key: Some(key.clone()),
        });
        let t0 = Instant::now();
        let r = write_attempt(ctx, &key, &value_id).await;
        ctx.metrics.record_attempt(attempt, r.metric, t0.elapsed());
        let (read_done, read) = match r.read {
            Some(v) => (true, v),
            None => (false, None),
        };
        ctx.history.record(Event::Write {
            client: client.clone(),
            op,
            attempt,
            t_us: ctx.now_us(),
            outcome: r.outcome,
            key: key.clone(),
            snapshot_txn: r.snapshot_txn,
            read_done,
            read,
            wrote: value_id,
            txn_id: r.txn_id,
            error: r.error,
        });
        final_outcome = r.metric;
        match r.metric {
            AttemptOutcome::PreconditionFailed if attempt == max_retry => gave_up = true,
            AttemptOutcome::PreconditionFailed => continue,
            _ => {}
        }
        break;
    }
    ctx.metrics
        .record_write_op(final_outcome, gave_up, intended.elapsed());
}

async fn write_attempt(ctx: &ClientContext, key: &str, value_id: &str) -> AttemptResult {
    let mut session = match ctx.bounded(ctx.manifest.session_write()).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return AttemptResult::failed(None, None, e),
        Err(TimedOut) => return AttemptResult::timed_out(ctx, Outcome::Fail, None, None),
    };
    let snapshot = session.snapshot().txn_id.0;
    let key = key.to_string();
    let prev = match ctx.bounded(session.get(&key)).await {
        Ok(Ok(v)) => v.map(|v| history::value_id(&v).to_string()),
        Ok(Err(e)) => {
            ctx.detach(end_quietly(session.end()));
            return AttemptResult::failed(Some(snapshot), None, e);
        }
        Err(TimedOut) => {
            ctx.detach(end_quietly(session.end()));
            return AttemptResult::timed_out(ctx, Outcome::Fail, Some(snapshot), None);
        }
    };
    let value = history::make_value(value_id, prev.as_deref(), ctx.config.value_size);
    session.put(key, value);
    // The commit runs as its own task, so a timeout abandons it without dropping the session.
    let outcome = match ctx.spawn_bounded(session.commit()).await {
        Ok(joined) => joined,
        Err(TimedOut) => {
            return AttemptResult::timed_out(ctx, Outcome::Info, Some(snapshot), Some(prev));
        }
    };
    match outcome {
        Ok(Ok(outcome)) => AttemptResult {
            outcome: Outcome::Ok,
            metric: AttemptOutcome::Committed,
            snapshot_txn: Some(snapshot),
            read: Some(prev),
            txn_id: Some(outcome.head.last_txn_id),
            error: None,
        },
        Ok(Err(ManifestError::PreconditionFailed)) => AttemptResult::failed(
            Some(snapshot),
            Some(prev),
            ManifestError::PreconditionFailed,
        ),
        Ok(Err(e)) => AttemptResult::indeterminate(Some(snapshot), Some(prev), e.to_string()),
        Err(join) => AttemptResult::indeterminate(
            Some(snapshot),
            Some(prev),
            format!("commit task failed: {join}"),
        ),
    }
}

async fn end_quietly(end: impl Future<Output = Result<(), ManifestError>>) {
    // A failed release only leaves a lease that expires by its TTL.
    let _ = end.await;
}

/// Ends a session within the step timeout; past it, the release goes on in the background.
async fn end_session(
    ctx: &ClientContext,
    end: impl Future<Output = Result<(), ManifestError>> + Send + 'static,
) {
    // A release that outlives the timeout goes on in the background.
    let _ = ctx.spawn_bounded(end_quietly(end)).await;
}

/// Waits before retry `attempt` (1-based): full jitter over `base_ms x 2^(attempt-1)`.
async fn backoff(base_ms: u64, attempt: u32, rng: &mut impl Rng) {
    if base_ms == 0 {
        return;
    }
    let cap = base_ms.saturating_mul(1u64 << (attempt - 1).min(16));
    let wait = rng.random_range(0..=cap);
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

/// Runs one read operation for reader `reader`: a read session, a get of each key, end.
pub async fn read_op(
    ctx: &ClientContext,
    reader: usize,
    op: u64,
    keys: Vec<String>,
    intended: Instant,
) {
    let client = reader_id(reader);
    ctx.history.record(Event::Invoke {
        client: client.clone(),
        op,
        attempt: 0,
        kind: OpKind::Read,
        t_us: ctx.now_us(),
        key: None,
    });
    let (outcome, snapshot_txn, reads, error) = match ctx.bounded(ctx.manifest.session_read()).await
    {
        Ok(Err(e)) => (Outcome::Fail, None, Vec::new(), Some(e.to_string())),
        Err(TimedOut) => (Outcome::Fail, None, Vec::new(), Some(ctx.timeout_message())),
        Ok(Ok(session)) => {
            let snapshot = session.snapshot().txn_id.0;
            let mut reads = Vec::with_capacity(keys.len());
            let mut error = None;
            for key in keys {
                match ctx.bounded(session.get(&key)).await {
                    Ok(Ok(v)) => reads.push((key, v.map(|v| history::value_id(&v).to_string()))),
                    Ok(Err(e)) => {
                        error = Some(e.to_string());
                        break;
                    }
                    Err(TimedOut) => {
                        error = Some(ctx.timeout_message());
                        break;
                    }
                }
            }
            // The values were read under the snapshot; whether the lease release succeeds does
            // not change what was observed.
            end_session(ctx, session.end()).await;
            match error {
                None => (Outcome::Ok, Some(snapshot), reads, None),
                Some(e) => (Outcome::Fail, Some(snapshot), Vec::new(), Some(e)),
            }
        }
    };
    ctx.metrics
        .record_read(outcome == Outcome::Ok, intended.elapsed());
    ctx.history.record(Event::Read {
        client,
        op,
        t_us: ctx.now_us(),
        outcome,
        snapshot_txn,
        scan: false,
        reads,
        error,
    });
}

/// Reads the final state once (a full scan at the latest snapshot) and records it.
/// Retries a few times, since chaos may still be settling. Returns the HEAD txn id.
pub async fn read_final_state(ctx: &ClientContext) -> Result<u64, ManifestError> {
    let mut last_err = None;
    for _ in 0..5 {
        match scan_latest(ctx).await {
            Ok((head_txn, state)) => {
                ctx.history.record(Event::Final {
                    t_us: ctx.now_us(),
                    head_txn,
                    state,
                });
                return Ok(head_txn);
            }
            Err(e) => {
                last_err = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    Err(last_err.unwrap_or(ManifestError::PreconditionFailed))
}

async fn scan_latest(ctx: &ClientContext) -> Result<(u64, Vec<(String, String)>), ManifestError> {
    let session = ctx.manifest.session_read().await?;
    let head_txn = session.snapshot().txn_id.0;
    let scanned = session.scan().await;
    let _ = session.end().await;
    let state = scanned?
        .into_iter()
        .map(|(k, v)| {
            let id = history::value_id(&v).to_string();
            (k, id)
        })
        .collect();
    Ok((head_txn, state))
}
