//! Writers: one write operation's attempts (retried after a conflict), each a session task
//! that reads its keys, puts or deletes them and commits, and how each attempt is recorded.

use std::time::{Duration, Instant};

use fusio_manifest::types::Error as ManifestError;
use rand::Rng;

use crate::chaos::CrashPoint;
use crate::history::{self, Event, OpKind, Outcome};
use crate::manifest::HarnessManifest;
use crate::metrics::AttemptOutcome;
use crate::utils::error_chain;
use crate::world::clock;

use super::session_task::{unfollowed_outcome, Next, Reporter};
use super::{keep_alive, release, writer_id, ClientContext};

struct AttemptResult {
    outcome: Outcome,
    metric: AttemptOutcome,
    snapshot_txn: Option<u64>,
    /// The reads that returned, in order: `(key, value id or none)`.
    reads: Vec<(String, Option<String>)>,
    txn_id: Option<u64>,
    error: Option<String>,
}

impl AttemptResult {
    /// An attempt that ended in an error other than a conflict: `Fail` where nothing can
    /// have been committed, `Info` where the commit may have landed.
    fn errored(
        outcome: Outcome,
        snapshot_txn: Option<u64>,
        reads: Vec<(String, Option<String>)>,
        error: String,
    ) -> Self {
        Self {
            outcome,
            metric: AttemptOutcome::Error,
            snapshot_txn,
            reads,
            txn_id: None,
            error: Some(error),
        }
    }

    /// Classifies what `commit` returned.
    fn committed(
        snapshot: u64,
        reads: Vec<(String, Option<String>)>,
        outcome: Result<fusio_manifest::session::CommitOutcome, ManifestError>,
    ) -> Self {
        match outcome {
            Ok(done) => Self {
                outcome: Outcome::Ok,
                metric: AttemptOutcome::Committed,
                snapshot_txn: Some(snapshot),
                reads,
                txn_id: Some(done.head.last_txn_id),
                error: None,
            },
            Err(ManifestError::PreconditionFailed) => {
                Self::failed(Some(snapshot), reads, ManifestError::PreconditionFailed)
            }
            Err(e) => Self::errored(Outcome::Info, Some(snapshot), reads, error_chain(&e)),
        }
    }

    fn failed(
        snapshot_txn: Option<u64>,
        reads: Vec<(String, Option<String>)>,
        err: ManifestError,
    ) -> Self {
        let precondition = matches!(err, ManifestError::PreconditionFailed);
        Self {
            outcome: Outcome::Fail,
            metric: if precondition {
                AttemptOutcome::PreconditionFailed
            } else {
                AttemptOutcome::Error
            },
            snapshot_txn,
            reads,
            txn_id: None,
            error: Some(error_chain(&err)),
        }
    }
}

/// One key a multi-key write transaction writes: the attempt's value, or a delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyWrite {
    /// The key.
    pub key: String,
    /// Delete the key instead of putting the attempt's value into it.
    pub delete: bool,
}

/// What a write operation writes, and so how its attempts are recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WritePlan {
    /// One key, read then put: `write` events.
    Key(String),
    /// Several keys, all read, then each put or deleted: `txn` events.
    Txn(Vec<KeyWrite>),
}

impl WritePlan {
    /// What one attempt's session writes, in order.
    fn writes(&self) -> Vec<KeyWrite> {
        match self {
            Self::Key(key) => vec![KeyWrite {
                key: key.clone(),
                delete: false,
            }],
            Self::Txn(writes) => writes.clone(),
        }
    }

    /// The key an attempt's `invoke` names (none for a transaction).
    fn invoke_key(&self) -> Option<String> {
        match self {
            Self::Key(key) => Some(key.clone()),
            Self::Txn(_) => None,
        }
    }

    /// The event recording how attempt `attempt` of `client`'s op `op`, which wrote value
    /// `wrote`, ended at `t_us`.
    fn ended(
        &self,
        client: String,
        (op, attempt): (u64, u32),
        t_us: u64,
        wrote: String,
        r: AttemptResult,
    ) -> Event {
        match self {
            Self::Key(key) => Event::Write {
                client,
                op,
                attempt,
                t_us,
                outcome: r.outcome,
                key: key.clone(),
                snapshot_txn: r.snapshot_txn,
                read_done: !r.reads.is_empty(),
                read: r.reads.into_iter().next().and_then(|(_, v)| v),
                wrote,
                txn_id: r.txn_id,
                error: r.error,
            },
            Self::Txn(writes) => {
                let keys = |delete: bool| {
                    writes
                        .iter()
                        .filter(|w| w.delete == delete)
                        .map(|w| w.key.clone())
                        .collect()
                };
                Event::Txn {
                    client,
                    op,
                    attempt,
                    t_us,
                    outcome: r.outcome,
                    snapshot_txn: r.snapshot_txn,
                    reads: r.reads,
                    puts: keys(false),
                    deletes: keys(true),
                    wrote,
                    txn_id: r.txn_id,
                    error: r.error,
                }
            }
        }
    }
}

/// Runs one write operation (all its attempts) for writer `writer`: a new session for each
/// attempt, retried after a conflict up to `max_retry_count` times, each attempt recorded as
/// `invoke` and how it ended (`write` for one key, `txn` for a transaction). `intended` is
/// when the open-loop schedule wanted it to start.
pub async fn write_op(
    ctx: &ClientContext,
    writer: usize,
    op: u64,
    plan: WritePlan,
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
            key: plan.invoke_key(),
        });
        // The first attempt was meant to start at the op's intended time; a retry when its
        // backoff ended.
        let attempt_start = if attempt == 0 { intended } else { clock::now() };
        let r = write_attempt(ctx, writer, plan.writes(), &value_id).await;
        let metric = r.metric;
        ctx.metrics
            .record_attempt(attempt, metric, clock::since(attempt_start));
        let t_us = ctx.now_us();
        ctx.history
            .record(plan.ended(client.clone(), (op, attempt), t_us, value_id, r));
        final_outcome = metric;
        match metric {
            AttemptOutcome::PreconditionFailed if attempt == max_retry => gave_up = true,
            AttemptOutcome::PreconditionFailed => continue,
            _ => {}
        }
        break;
    }
    ctx.metrics
        .record_write_op(final_outcome, gave_up, clock::since(intended));
}

/// A step of a write attempt's session task.
enum WriteStep {
    /// The session is open at this snapshot.
    Opened(u64),
    /// A key was read (value id, or `None` if absent).
    Read(String, Option<String>),
    /// The attempt's outcome.
    Done(AttemptResult),
    /// The writer's process was killed (crash injection) while the attempt ran.
    Killed(CrashPoint),
}

async fn write_attempt(
    ctx: &ClientContext,
    writer: usize,
    writes: Vec<KeyWrite>,
    value_id: &str,
) -> AttemptResult {
    let process = ctx.manifests.writer(writer);
    let value_id = value_id.to_string();
    let value_size = ctx.config.value_size;
    let keeper = ctx.config.keep_leases;
    let mut steps = ctx.start_steps(|r| async move {
        let manifest = process.manifest;
        let Some(process) = process.executor.process().cloned() else {
            return write_session(&manifest, writes, &value_id, value_size, keeper, r).await;
        };
        let tx = r.tx.clone();
        let session = write_session(&manifest, writes, &value_id, value_size, keeper, r);
        if let Err(point) = process.until_killed(session).await {
            let _ = tx.send(WriteStep::Killed(point));
        }
    });
    let (mut snapshot, mut reads) = (None, Vec::new());
    let result = loop {
        match steps.next(ctx).await {
            Next::Step(WriteStep::Opened(s)) => snapshot = Some(s),
            Next::Step(WriteStep::Read(k, v)) => reads.push((k, v)),
            Next::Step(WriteStep::Done(r)) => break r,
            Next::Step(WriteStep::Killed(point)) => {
                // The process died: after the commit started, its segment or HEAD CAS may
                // have landed; before, nothing was written but a lease.
                let outcome = unfollowed_outcome(steps.commit_started());
                let why = format!("writer process crashed (injected, {})", point.name());
                break AttemptResult::errored(outcome, snapshot, reads, why);
            }
            Next::TimedOut => {
                // Fail only if the commit provably never starts; otherwise unknown.
                let outcome = unfollowed_outcome(steps.abandon(ctx));
                break AttemptResult::errored(outcome, snapshot, reads, ctx.timeout_message());
            }
            Next::Died(why) => {
                // A panic before the commit: nothing was committed (the run is INVALID anyway).
                let outcome = unfollowed_outcome(steps.commit_started());
                break AttemptResult::errored(outcome, snapshot, reads, why);
            }
        }
    };
    steps.release(ctx);
    result
}

/// One write attempt's session task: opens the session, reads every key of `writes` in
/// order, then puts the attempt's value (naming the value read there) into each key or
/// deletes it, and commits. Every step runs to completion; once the client stops waiting
/// before the commit, the session is ended instead of committed.
async fn write_session(
    manifest: &HarnessManifest,
    writes: Vec<KeyWrite>,
    value_id: &str,
    value_size: usize,
    keep_leases: bool,
    r: Reporter<WriteStep>,
) {
    let session = match manifest.session_write().await {
        Ok(s) => s,
        Err(e) => {
            r.report(WriteStep::Done(AttemptResult::failed(None, Vec::new(), e)));
            return;
        }
    };
    let keeper = keep_alive(keep_leases, || session.start_lease_keeper());
    let snapshot = session.snapshot().txn_id.0;
    if !r.report(WriteStep::Opened(snapshot)) {
        return release(session.end(), keeper).await;
    }
    let mut reads = Vec::with_capacity(writes.len());
    for w in &writes {
        let prev = match session.get(&w.key).await {
            Ok(v) => v.map(|v| history::value_id(&v).to_string()),
            Err(e) => {
                let failed = AttemptResult::failed(Some(snapshot), reads, e);
                r.report(WriteStep::Done(failed));
                return release(session.end(), keeper).await;
            }
        };
        reads.push((w.key.clone(), prev.clone()));
        if !r.report(WriteStep::Read(w.key.clone(), prev)) {
            return release(session.end(), keeper).await;
        }
    }
    if !r.begin_commit() {
        return release(session.end(), keeper).await;
    }
    let mut session = session;
    for (w, (_, prev)) in writes.into_iter().zip(&reads) {
        if w.delete {
            session.delete(w.key);
        } else {
            let value = history::make_value(value_id, prev.as_deref(), value_size);
            session.put(w.key, value);
        }
    }
    let outcome = session.commit().await;
    drop(keeper);
    r.report(WriteStep::Done(AttemptResult::committed(
        snapshot, reads, outcome,
    )));
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
