//! [`StorageLayer`]: what one scenario's S3 operations pass through. It draws each
//! operation's injected fault and delay, holds or refuses it during a network block, records
//! it in the fault log and the trace, and counts it by kind (and deleted objects by kind).

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use fusio::impls::remotes::http::HttpError;
use fusio::Error as FsError;

use crate::chaos::fault_log::{FaultLog, InjectedFault};
use crate::chaos::fault_points::FaultAction;
use crate::chaos::faults::{FaultDecision, InjectedError};
use crate::chaos::network::{BlockMode, NetworkChaos};
use crate::chaos::S3OpKind;
use crate::world::clock;
use crate::world::trace::OpTrace;

/// Counters for one operation kind.
#[derive(Default)]
struct KindStats {
    count: AtomicU64,
    errors: AtomicU64,
    total_us: AtomicU64,
}

/// A snapshot of one operation kind's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCount {
    /// Operations completed (ok or error).
    pub count: u64,
    /// Operations that returned an error.
    pub errors: u64,
    /// Total time spent, including injected latency and blocks, in microseconds.
    pub total_us: u64,
}

/// Something that counts completed S3 operations (the metrics timeline), told by the
/// storage layer without the layer knowing what it is.
pub trait S3OpSink: Send + Sync {
    /// One S3 operation completed.
    fn s3_op_done(&self);
}

/// What sits between one scenario's manifests and the S3 client: counters plus chaos.
pub struct StorageLayer {
    kinds: [KindStats; S3OpKind::ALL.len()],
    network: NetworkChaos,
    faults: FaultLog,
    op_sink: OnceLock<Arc<dyn S3OpSink>>,
    trace: OnceLock<Arc<OpTrace>>,
    /// `kind as u8 + 1` of the next operation that panics on purpose; 0: none.
    panic_on: AtomicU8,
    /// Segment objects deleted (`.../segments/...` keys).
    deleted_segments: AtomicU64,
    /// Checkpoint objects deleted (`.../checkpoints/...` keys).
    deleted_checkpoints: AtomicU64,
    /// The S3 server is ours (the embedded one): a request it fails to answer is a harness
    /// fault, not a network fault fusio-manifest must live with.
    server_is_ours: bool,
}

/// Objects of the manifest's own kinds deleted through a layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Segment objects (`segments/seg-*`): GC after a compaction.
    pub segments: u64,
    /// Checkpoint objects (`checkpoints/ckpt-*`, runs): replaced runs and old checkpoints.
    pub checkpoints: u64,
}

/// An operation that passed [`StorageLayer::before`]: what [`StorageLayer::after`] needs.
#[must_use = "hand the pass to StorageLayer::after with the operation's result"]
pub struct Pass {
    kind: S3OpKind,
    key: String,
    nth: u64,
    start: Instant,
    rest: Duration,
    decision: FaultDecision,
    /// How long a holding block kept the request from leaving.
    held: Duration,
}

impl Pass {
    /// Whether the operation is to kill its writer's process once it lands (a `crash` point).
    pub fn crashes(&self) -> bool {
        self.decision == FaultDecision::Crash
    }
}

impl StorageLayer {
    /// A layer applying `network` to every operation.
    pub fn new(network: NetworkChaos) -> Self {
        Self {
            kinds: Default::default(),
            network,
            faults: FaultLog::default(),
            op_sink: OnceLock::new(),
            trace: OnceLock::new(),
            panic_on: AtomicU8::new(0),
            deleted_segments: AtomicU64::new(0),
            deleted_checkpoints: AtomicU64::new(0),
            server_is_ours: false,
        }
    }

    /// Marks the server as the harness's own (the embedded S3 server): from now on a request
    /// that gets no HTTP answer at all (connection refused or reset, out of file descriptors)
    /// is recorded as a harness fault of the calling run ([`crate::selfcheck::record_fault`]),
    /// so that run is `INVALID` instead of blaming fusio-manifest. Chaos the layer injects on
    /// purpose never reaches the server and is not affected.
    pub fn with_own_server(mut self) -> Self {
        self.server_is_ours = true;
        self
    }

    /// The network conditions (to start and stop chaos).
    pub fn network(&self) -> &NetworkChaos {
        &self.network
    }

    /// Tells `sink` of every completed S3 operation from now on (first call wins).
    pub fn attach_op_sink(&self, sink: Arc<dyn S3OpSink>) {
        let _ = self.op_sink.set(sink);
    }

    /// Records every operation completed from now on into `trace` (first call wins).
    pub fn attach_trace(&self, trace: Arc<OpTrace>) {
        let _ = self.trace.set(trace);
    }

    /// Counters for one kind.
    pub fn count(&self, kind: S3OpKind) -> OpCount {
        let k = &self.kinds[kind as usize];
        OpCount {
            count: k.count.load(Ordering::Relaxed),
            errors: k.errors.load(Ordering::Relaxed),
            total_us: k.total_us.load(Ordering::Relaxed),
        }
    }

    /// Segment and checkpoint objects deleted so far (by fusio-manifest's compaction and GC:
    /// nothing else deletes them).
    pub fn deleted(&self) -> Deleted {
        Deleted {
            segments: self.deleted_segments.load(Ordering::Relaxed),
            checkpoints: self.deleted_checkpoints.load(Ordering::Relaxed),
        }
    }

    /// Counts a successful DELETE of `key` by the kind of object it held.
    pub(super) fn count_delete(&self, key: &str) {
        if key.contains("/segments/") || key.starts_with("segments/") {
            self.deleted_segments.fetch_add(1, Ordering::Relaxed);
        } else if key.contains("/checkpoints/") || key.starts_with("checkpoints/") {
            self.deleted_checkpoints.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many operations of `kind` on exactly `key` passed this layer so far.
    pub fn seen(&self, kind: S3OpKind, key: &str) -> u64 {
        self.faults.seen(kind, key)
    }

    /// Every fault injected so far, each as the fault point that injects exactly it, timed
    /// from `start`.
    pub fn injected_faults(&self, start: Instant) -> Vec<InjectedFault> {
        self.faults.injected(start)
    }

    /// Records that the operation of `pass` landed and killed its writer's process, which never
    /// hears the answer; the operation is traced as `crashed`.
    pub fn record_crash(&self, pass: Pass) {
        self.faults
            .record(pass.kind, &pass.key, pass.nth, FaultAction::Crash);
        let outcome = Err(InjectedError::AnswerLost.into_fs());
        self.record(
            pass.kind,
            &pass.key,
            pass.decision,
            clock::since(pass.start),
            outcome.as_ref().map(|_: &()| ()),
        );
    }

    /// Operations of every kind, completed so far.
    pub fn total_ops(&self) -> u64 {
        S3OpKind::ALL.iter().map(|k| self.count(*k).count).sum()
    }

    /// Runs one S3 operation on `key` under the scenario's conditions and records it: faults
    /// are drawn first; then half the delay, the operation, the other half; blocks hold (or
    /// refuse) before and after. Equivalent to [`StorageLayer::before`], the operation, then
    /// [`StorageLayer::after`].
    pub async fn run<T>(
        &self,
        kind: S3OpKind,
        key: &str,
        op: impl Future<Output = Result<T, FsError>>,
    ) -> Result<T, FsError> {
        let pass = self.before(kind, key).await?;
        let result = op.await;
        self.after(pass, result).await
    }

    /// The part of an operation before the request leaves: draws its fault and delay, holds
    /// it while a holding block lasts, waits the first half of the delay. An `Err` means the
    /// request never left (refused by a block, or an injected transient error) and is already
    /// recorded; the caller must not run the operation, and keeps whatever it owns (a read
    /// buffer) to hand back with the error.
    pub async fn before(&self, kind: S3OpKind, key: &str) -> Result<Pass, FsError> {
        let start = clock::now();
        self.check_harness_fault(kind);
        let net = &self.network;
        let nth = self.faults.count(kind, key);
        let decision = net.faults().decide_fault(kind, key, nth);
        let delay = net.latency().draw_delay(kind, key, nth);
        let half = delay / 2;
        let mut held = Duration::ZERO;
        let gated = async {
            if let FaultDecision::Delay(d) = decision {
                tokio::time::sleep(d).await;
            }
            held += self.gate_request().await?;
            // tokio's timer rounds sleeps up to whole ms; the second half absorbs the first's
            // overshoot so each operation gets the nominal delay, not delay + ~2 ms.
            let slept = clock::now();
            sleep_nonzero(half).await;
            let overshoot = clock::since(slept).saturating_sub(half);
            held += self.gate_request().await?;
            if let FaultDecision::Fail(e) = decision {
                return Err(e.into_fs());
            }
            Ok((delay - half).saturating_sub(overshoot))
        };
        match gated.await {
            Ok(rest) => Ok(Pass {
                kind,
                key: key.to_string(),
                nth,
                start,
                rest,
                decision,
                held,
            }),
            Err(e) => {
                let action = match decision {
                    FaultDecision::Fail(injected) => fail_action(injected),
                    _ => FaultAction::Refuse,
                };
                self.faults.record(kind, key, nth, action);
                self.record(kind, key, decision, clock::since(start), Err(&e));
                Err(e)
            }
        }
    }

    /// The part of an operation after storage answered `result`: the second half of the
    /// delay, an injected stall, a block in force, a lost answer. Records the operation.
    pub async fn after<T>(&self, pass: Pass, result: Result<T, FsError>) -> Result<T, FsError> {
        if let Err(e) = &result {
            self.check_transport(pass.kind, e);
        }
        let net = &self.network;
        sleep_nonzero(pass.rest).await;
        let mut stalled = Duration::ZERO;
        if let FaultDecision::Stall(d) = pass.decision {
            tokio::time::sleep(d).await;
            stalled = d;
        }
        let mut lost = false;
        let result = match net.blocks().block_mode() {
            BlockMode::Hold => {
                let waited = clock::now();
                net.blocks().wait_unblocked().await;
                stalled += clock::since(waited);
                result
            }
            BlockMode::Refuse if net.blocks().is_blocked() => {
                net.faults().count_refused();
                lost = true;
                Err(InjectedError::AnswerLost.into_fs())
            }
            BlockMode::Refuse => result,
        };
        let result = match pass.decision {
            FaultDecision::Ambiguous => {
                lost = true;
                Err(InjectedError::AnswerLost.into_fs())
            }
            _ => result,
        };
        let action = if lost {
            Some(FaultAction::AnswerLost)
        } else if !stalled.is_zero() {
            Some(FaultAction::Stall(whole_ms(stalled)))
        } else if !pass.held.is_zero() {
            Some(FaultAction::Delay(whole_ms(pass.held)))
        } else if let FaultDecision::Delay(d) = pass.decision {
            Some(FaultAction::Delay(d))
        } else {
            None
        };
        if let Some(action) = action {
            self.faults.record(pass.kind, &pass.key, pass.nth, action);
        }
        let outcome = result.as_ref().map(|_| ());
        self.record(
            pass.kind,
            &pass.key,
            pass.decision,
            clock::since(pass.start),
            outcome,
        );
        result
    }

    /// Test-only: makes the next operation of `kind` panic inside the wrapper, as a harness
    /// bug would. Used to prove that a run with a harness fault is reported `INVALID`.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn inject_harness_panic(&self, kind: S3OpKind) {
        self.panic_on.store(kind as u8 + 1, Ordering::SeqCst);
    }

    fn check_harness_fault(&self, kind: S3OpKind) {
        if self.panic_on.load(Ordering::Relaxed) == kind as u8 + 1
            && self
                .panic_on
                .compare_exchange(kind as u8 + 1, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            panic!(
                "deliberate harness fault (test-only inject_harness_panic) on {}",
                kind.name()
            );
        }
    }

    /// Records a request our own server left unanswered as a harness fault.
    fn check_transport(&self, kind: S3OpKind, e: &FsError) {
        if self.server_is_ours && is_transport_error(e) {
            crate::selfcheck::record_fault(format!(
                "the embedded S3 server did not answer a {}: {}",
                kind.name(),
                crate::utils::error_chain(e)
            ));
        }
    }

    /// Before a request leaves: wait out a holding block (returns how long it waited), or fail
    /// during a refusing one.
    async fn gate_request(&self) -> Result<Duration, FsError> {
        let net = &self.network;
        match net.blocks().block_mode() {
            BlockMode::Hold => {
                let waited = clock::now();
                net.blocks().wait_unblocked().await;
                Ok(clock::since(waited))
            }
            BlockMode::Refuse if net.blocks().is_blocked() => {
                net.faults().count_refused();
                Err(InjectedError::Refused.into_fs())
            }
            BlockMode::Refuse => Ok(Duration::ZERO),
        }
    }

    fn record(
        &self,
        kind: S3OpKind,
        key: &str,
        decision: FaultDecision,
        elapsed: Duration,
        outcome: Result<(), &FsError>,
    ) {
        let ok = outcome.is_ok();
        if let Some(trace) = self.trace.get() {
            let fault = match decision {
                FaultDecision::None => "-".to_string(),
                other => format!("{other:?}"),
            };
            let outcome = match outcome {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("err: {}", crate::utils::error_chain(e)),
            };
            trace.record(kind.name(), key, &fault, &outcome);
        }
        let k = &self.kinds[kind as usize];
        k.count.fetch_add(1, Ordering::Relaxed);
        if !ok {
            k.errors.fetch_add(1, Ordering::Relaxed);
        }
        k.total_us
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        if let Some(sink) = self.op_sink.get() {
            sink.s3_op_done();
        }
    }
}

/// Whether `e` is an HTTP request that got no answer (connect, send or body errors of fusio's
/// reqwest client), as opposed to an answer with an error status or an injected fault.
pub fn is_transport_error(e: &FsError) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = match e {
        FsError::Remote(inner) | FsError::Other(inner) => Some(inner.as_ref()),
        _ => None,
    };
    while let Some(err) = next {
        if let Some(HttpError::Reqwest(_)) = err.downcast_ref::<HttpError>() {
            return true;
        }
        next = err.source();
    }
    false
}

/// The point action that injects `e` again.
fn fail_action(e: InjectedError) -> FaultAction {
    match e {
        InjectedError::SlowDown => FaultAction::Transient,
        InjectedError::InternalError => FaultAction::Internal,
        InjectedError::ConnectionReset => FaultAction::Reset,
        InjectedError::AnswerLost => FaultAction::AnswerLost,
        InjectedError::Refused => FaultAction::Refuse,
    }
}

/// `d` rounded up to whole milliseconds (a point's durations are written in ms).
fn whole_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_nanos().div_ceil(1_000_000) as u64)
}

async fn sleep_nonzero(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}
