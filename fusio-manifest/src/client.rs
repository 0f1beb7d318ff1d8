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
//! within `op_timeout` (fusio's HTTP client has no timeouts) and, past it, stops waiting and
//! records the outcome. The task goes on: if the commit had not started it ends the session
//! after its current step, otherwise it lets the commit finish. So every session is committed
//! or ended, no lease is left claimed by a half-opened session, and debug builds never drop a
//! session that holds a lease. [`ClientContext::finish_background`] waits for these tasks at
//! the end of a run.
//!
//! **Leases are kept alive** for the whole session with fusio-manifest's own
//! [`LeaseKeeper`], as a correct caller does, unless the run lets them lapse on purpose
//! ([`crate::manifest::ManifestOptions::lapse_leases`], the `lease-expiry` scenario).

use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use fusio_manifest::snapshot::ScanRange;
use fusio_manifest::types::Error as ManifestError;
use fusio_manifest::LeaseKeeper;
use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::chaos::CrashPoint;
use crate::config::WorkloadConfig;
use crate::history::{self, Event, HistoryRecorder, OpKind, Outcome};
use crate::manifest::{ClientManifests, HarnessManifest};
use crate::metrics::{AttemptOutcome, MetricsCollector};
use crate::selfcheck;
use crate::utils::{error_chain, panic_message};
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
    /// Bound on each client step (`None`: wait forever, as fusio does).
    pub op_timeout: Option<Duration>,
    /// Keep session leases alive with fusio-manifest's lease keeper (a correct caller).
    pub keep_leases: bool,
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
        match self.op_timeout {
            None => Some(step.await),
            Some(d) => tokio::time::timeout(d, step).await.ok(),
        }
    }

    fn timeout_message(&self) -> String {
        format!(
            "client timeout after {} ms",
            self.op_timeout.map(|d| d.as_millis()).unwrap_or(0)
        )
    }

    /// Starts `task` as one operation's session task, reporting its steps to the returned
    /// [`Steps`].
    fn start_steps<S, F>(&self, task: impl FnOnce(Reporter<S>) -> F) -> Steps<S>
    where
        S: Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(AtomicU8::new(OPEN));
        let reporter = Reporter {
            tx,
            state: state.clone(),
        };
        Steps {
            rx,
            state,
            task: Some(selfcheck::spawn(task(reporter))),
        }
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

/// Session task states shared by a client and its task: the client may abandon an operation
/// only while it is `OPEN`; the task may start a commit only while it is `OPEN`. One
/// compare-and-swap decides, so a write the client recorded as `fail` can never commit.
const OPEN: u8 = 0;
const COMMITTING: u8 = 1;
const ABANDONED: u8 = 2;

/// The session task's side of a [`Steps`] channel.
struct Reporter<S> {
    tx: mpsc::UnboundedSender<S>,
    state: Arc<AtomicU8>,
}

impl<S> Reporter<S> {
    /// Reports one step; `false` once the client has abandoned the operation (the task
    /// should then end its session rather than go on).
    fn report(&self, step: S) -> bool {
        let _ = self.tx.send(step);
        self.state.load(Ordering::SeqCst) != ABANDONED
    }

    /// Claims the right to commit; `false` if the client abandoned the operation first.
    fn begin_commit(&self) -> bool {
        self.state
            .compare_exchange(OPEN, COMMITTING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }
}

/// The client's side of one operation's session task.
struct Steps<S> {
    rx: mpsc::UnboundedReceiver<S>,
    state: Arc<AtomicU8>,
    task: Option<JoinHandle<()>>,
}

/// The next thing a client learns about its session task.
enum Next<S> {
    /// A step finished.
    Step(S),
    /// No step finished within the step timeout.
    TimedOut,
    /// The task ended without reporting (it panicked: a harness fault the run records).
    Died(String),
}

impl<S> Steps<S> {
    async fn next(&mut self, ctx: &ClientContext) -> Next<S> {
        match ctx.bounded(self.rx.recv()).await {
            Some(Some(step)) => Next::Step(step),
            None => Next::TimedOut,
            Some(None) => {
                let why = match self.task.take() {
                    Some(t) => match t.await {
                        Err(e) => format!("session task failed: {}", panic_message(e)),
                        Ok(()) => "session task ended without an outcome".into(),
                    },
                    None => "session task ended without an outcome".into(),
                };
                Next::Died(why)
            }
        }
    }

    /// Whether the task has claimed the commit.
    fn commit_started(&self) -> bool {
        self.state.load(Ordering::SeqCst) == COMMITTING
    }

    /// At a step timeout: abandons the operation unless its commit already started.
    /// Returns whether the commit started (the outcome is then unknown, `info`).
    fn abandon(&self, ctx: &ClientContext) -> bool {
        ctx.abandoned.fetch_add(1, Ordering::Relaxed);
        self.state
            .compare_exchange(OPEN, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
    }

    /// The client moves on: a task still running (finishing a commit or releasing its
    /// session) is tracked until the run ends.
    fn release(mut self, ctx: &ClientContext) {
        if let Some(task) = self.task.take().filter(|t| !t.is_finished()) {
            let mut background = ctx.background.lock();
            background.retain(|t| !t.is_finished());
            background.push(task);
        }
    }
}

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

/// Client id of writer `i` in the history.
pub fn writer_id(i: usize) -> String {
    format!("w{i}")
}

/// Client id of reader `i` in the history.
pub fn reader_id(i: usize) -> String {
    format!("r{i}")
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
    let keeper = ctx.keep_leases;
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
                let outcome = if steps.commit_started() {
                    Outcome::Info
                } else {
                    Outcome::Fail
                };
                let why = format!("writer process crashed (injected, {})", point.name());
                break AttemptResult::errored(outcome, snapshot, reads, why);
            }
            Next::TimedOut => {
                // Fail only if the commit provably never starts; otherwise unknown.
                let outcome = if steps.abandon(ctx) {
                    Outcome::Info
                } else {
                    Outcome::Fail
                };
                break AttemptResult::errored(outcome, snapshot, reads, ctx.timeout_message());
            }
            Next::Died(why) => {
                // A panic before the commit: nothing was committed (the run is INVALID anyway).
                let outcome = if steps.commit_started() {
                    Outcome::Info
                } else {
                    Outcome::Fail
                };
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

/// Waits before retry `attempt` (1-based): full jitter over `base_ms x 2^(attempt-1)`.
async fn backoff(base_ms: u64, attempt: u32, rng: &mut impl Rng) {
    if base_ms == 0 {
        return;
    }
    let cap = base_ms.saturating_mul(1u64 << (attempt - 1).min(16));
    let wait = rng.random_range(0..=cap);
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

/// A step of a read operation's session task.
enum ReadStep {
    /// The session is open at this snapshot.
    Opened(u64),
    /// One get or one range scan returned these `(key, value id or none)` rows.
    Got(Vec<(String, Option<String>)>),
    /// The session ended; `Err` if a read failed (nothing of it counts as observed).
    Done(Result<(), String>),
}

/// Runs one read operation for reader `reader`: a read session, a get of each key, end.
pub async fn read_op(
    ctx: &ClientContext,
    reader: usize,
    op: u64,
    keys: Vec<String>,
    intended: Instant,
) {
    let plan = ReadPlan::Keys {
        keys,
        pace: Duration::ZERO,
    };
    reader_op(ctx, reader, op, plan, intended).await;
}

/// Runs one range-scan read operation for reader `reader`: a read session, one
/// `scan_range` of the keys `from <= key < to`, end. Recorded as a `read` with `scan` and
/// `range` set; keys of the range it did not return were read as absent.
pub async fn scan_op(
    ctx: &ClientContext,
    reader: usize,
    op: u64,
    (from, to): (String, String),
    intended: Instant,
) {
    reader_op(ctx, reader, op, ReadPlan::Range { from, to }, intended).await;
}

/// Runs one read operation of reader `reader` and counts it in the read metrics.
async fn reader_op(ctx: &ClientContext, reader: usize, op: u64, plan: ReadPlan, intended: Instant) {
    let manifest = ctx.manifests.reader(reader).clone();
    let read = Observe {
        client: reader_id(reader),
        op,
        plan,
    };
    let ok = read.run(ctx, manifest).await;
    ctx.metrics.record_read(ok, clock::since(intended));
}

/// Client id of pinned reader `i` in the history.
pub fn pinned_id(i: usize) -> String {
    format!("p{i}")
}

/// What the pinned readers of a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PinnedReport {
    /// Pinned sessions that read every key.
    pub sessions: u64,
    /// Pinned sessions that failed (a get or the open failed, or a step timed out).
    pub failed: u64,
    /// Oldest snapshot read from: the longest a successful session stayed open, ms.
    pub oldest_ms: u64,
}

/// Runs one pinned read for pinned reader `reader`: one read session held open while it reads
/// `keys`, one every `pace` (its snapshot ages meanwhile; its lease is kept alive like every
/// session's), then ended. Recorded as one read operation invoked when the session opened, so
/// the checker holds every value to the state at that one snapshot. Not part of the read
/// latency figures. Returns whether the session read every key.
pub async fn pinned_read_op(
    ctx: &ClientContext,
    reader: usize,
    op: u64,
    keys: Vec<String>,
    pace: Duration,
) -> bool {
    let opened = clock::now();
    let manifest = ctx.manifests.pinned(reader).clone();
    let read = Observe {
        client: pinned_id(reader),
        op,
        plan: ReadPlan::Keys { keys, pace },
    };
    let ok = read.run(ctx, manifest).await;
    let mut report = ctx.pinned.lock();
    if ok {
        report.sessions += 1;
        report.oldest_ms = report
            .oldest_ms
            .max(clock::since(opened).as_millis() as u64);
    } else {
        report.failed += 1;
    }
    ok
}

/// One read operation: which client, what it reads.
struct Observe {
    client: String,
    op: u64,
    plan: ReadPlan,
}

/// What a read operation reads.
enum ReadPlan {
    /// These keys, one get each, `pace` apart.
    Keys {
        /// The keys, in the order they are read.
        keys: Vec<String>,
        /// Time between two gets.
        pace: Duration,
    },
    /// One range scan of the keys `from <= key < to`.
    Range {
        /// First key of the range.
        from: String,
        /// First key past the range.
        to: String,
    },
}

impl ReadPlan {
    /// How many [`ReadStep::Got`] the session reports when every read returns.
    fn reads(&self) -> usize {
        match self {
            Self::Keys { keys, .. } => keys.len(),
            Self::Range { .. } => 1,
        }
    }

    /// The range of a range scan.
    fn range(&self) -> Option<(String, String)> {
        match self {
            Self::Keys { .. } => None,
            Self::Range { from, to } => Some((from.clone(), to.clone())),
        }
    }
}

impl Observe {
    /// Records the invocation, runs the read session on `manifest`, records what it saw;
    /// whether every read returned.
    async fn run(self, ctx: &ClientContext, manifest: Arc<HarnessManifest>) -> bool {
        let Self { client, op, plan } = self;
        ctx.history.record(Event::Invoke {
            client: client.clone(),
            op,
            attempt: 0,
            kind: OpKind::Read,
            t_us: ctx.now_us(),
            key: None,
        });
        let (wanted, range) = (plan.reads(), plan.range());
        let keeper = ctx.keep_leases;
        let mut steps =
            ctx.start_steps(|r| async move { read_session(&manifest, plan, keeper, r).await });
        let (mut snapshot, mut reads, mut got) = (None, Vec::new(), 0);
        let error = loop {
            match steps.next(ctx).await {
                Next::Step(ReadStep::Opened(s)) => snapshot = Some(s),
                Next::Step(ReadStep::Got(rows)) => {
                    reads.extend(rows);
                    got += 1;
                }
                Next::Step(ReadStep::Done(r)) => break r.err(),
                Next::TimedOut => {
                    steps.abandon(ctx);
                    // Every value was read under the snapshot: a release that hangs does not
                    // change what was observed.
                    break (got < wanted).then(|| ctx.timeout_message());
                }
                Next::Died(why) => break Some(why),
            }
        };
        steps.release(ctx);
        let outcome = if error.is_none() {
            Outcome::Ok
        } else {
            reads.clear();
            Outcome::Fail
        };
        ctx.history.record(Event::Read {
            client,
            op,
            t_us: ctx.now_us(),
            outcome,
            snapshot_txn: snapshot,
            scan: range.is_some(),
            reads,
            error,
            range,
        });
        outcome == Outcome::Ok
    }
}

/// One read operation's session task: open, get each key (`pace` apart) or scan the range,
/// end, reporting each step; once the client stops waiting, the session is ended after the
/// current step.
async fn read_session(
    manifest: &HarnessManifest,
    plan: ReadPlan,
    keep_leases: bool,
    r: Reporter<ReadStep>,
) {
    let session = match manifest.session_read().await {
        Ok(s) => s,
        Err(e) => {
            r.report(ReadStep::Done(Err(error_chain(&e))));
            return;
        }
    };
    let keeper = keep_alive(keep_leases, || session.start_lease_keeper());
    if !r.report(ReadStep::Opened(session.snapshot().txn_id.0)) {
        return release(session.end(), keeper).await;
    }
    let failed = match plan {
        ReadPlan::Range { from, to } => {
            let range = ScanRange {
                start: Some(from),
                end: Some(to),
            };
            match session.scan_range(range).await {
                Ok(rows) => {
                    let mut rows: Vec<_> = rows
                        .into_iter()
                        .map(|(k, v)| (k, Some(history::value_id(&v).to_string())))
                        .collect();
                    // fusio-manifest returns a scan in hash-map order, which differs between
                    // two runs of one seed; key order makes the history replay exactly.
                    rows.sort_unstable();
                    r.report(ReadStep::Got(rows));
                    None
                }
                Err(e) => Some(error_chain(&e)),
            }
        }
        ReadPlan::Keys { keys, pace } => {
            let mut failed = None;
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 && !pace.is_zero() {
                    tokio::time::sleep(pace).await;
                }
                match session.get(&key).await {
                    Ok(v) => {
                        let v = v.map(|v| history::value_id(&v).to_string());
                        if !r.report(ReadStep::Got(vec![(key, v)])) {
                            return release(session.end(), keeper).await;
                        }
                    }
                    Err(e) => {
                        failed = Some(error_chain(&e));
                        break;
                    }
                }
            }
            failed
        }
    };
    release(session.end(), keeper).await;
    r.report(ReadStep::Done(failed.map_or(Ok(()), Err)));
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
    let session = ctx.manifests.reference().session_read().await?;
    let head_txn = session.snapshot().txn_id.0;
    let scanned = session.scan().await;
    let _ = session.end().await;
    let mut state: Vec<_> = scanned?
        .into_iter()
        .map(|(k, v)| {
            let id = history::value_id(&v).to_string();
            (k, id)
        })
        .collect();
    // In key order, not fusio-manifest's hash-map order (see `Observe`'s range scan).
    state.sort_unstable();
    Ok((head_txn, state))
}
