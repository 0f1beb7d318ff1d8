//! Readers: read operations (gets or one range scan), pinned read sessions held open while
//! writers commit, and the final state read at the end of a run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fusio_manifest::snapshot::ScanRange;
use fusio_manifest::types::Error as ManifestError;

use crate::history::{self, Event, OpKind, Outcome};
use crate::manifest::HarnessManifest;
use crate::utils::error_chain;
use crate::world::clock;

use super::session_task::{Next, Reporter};
use super::{keep_alive, pinned_id, reader_id, release, ClientContext};

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
/// session's, unless the workload turns the keeper off, `CHAOS_KEEP_LEASES=false`), then ended. Recorded as one read operation invoked when the session opened, so
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
        let keeper = ctx.config.keep_leases;
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
