//! The storage wrapper every manifest is built on: it counts and times S3 operations by kind
//! and applies the scenario's network conditions around each one.
//!
//! Mapping of fusio calls to S3 operations: `load_with_tag` and file reads are GET,
//! `put_conditional` is a conditional PUT, file `close`/`commit` is a plain PUT, `head_metadata`,
//! `exists` and file `size` are HEAD, `list` is LIST, `remove` is DELETE. `list` is collected
//! eagerly inside the wrapper (all pages), so its latency and blocks apply to the whole listing;
//! the manifest consumes listings whole anyway. `write_all`/`flush` only buffer (fusio uploads
//! parts only beyond 5 MiB, which manifest objects never reach) and pass through untouched.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use fusio::fs::{CasCondition, FileMeta, FileSystemTag, Fs, FsCas, OpenOptions};
use fusio::impls::remotes::http::HttpError;
use fusio::path::Path;
use fusio::{Error as FsError, FileCommit, IoBuf, IoBufMut, Read, Write};
use fusio_core::MaybeSendFuture;
use fusio_manifest::ObjectHead;
use futures_util::{stream, Stream, TryStreamExt};

use super::crash::Process;
use super::fault_log::{FaultLog, InjectedFault};
use super::fault_points::FaultAction;
use super::faults::{FaultDecision, InjectedError};
use super::network::{BlockMode, NetworkChaos};
use super::S3OpKind;
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
    fn count_delete(&self, key: &str) {
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
        let decision = net.decide_fault(kind, key, nth);
        let delay = net.draw_delay(kind, key, nth);
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
        let result = match net.block_mode() {
            BlockMode::Hold => {
                let waited = clock::now();
                net.wait_unblocked().await;
                stalled += clock::since(waited);
                result
            }
            BlockMode::Refuse if net.is_blocked() => {
                net.count_refused();
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
        match net.block_mode() {
            BlockMode::Hold => {
                let waited = clock::now();
                net.wait_unblocked().await;
                Ok(clock::since(waited))
            }
            BlockMode::Refuse if net.is_blocked() => {
                net.count_refused();
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

/// A fusio filesystem wrapped by a [`StorageLayer`].
pub struct ChaosFs<F> {
    inner: F,
    layer: Arc<StorageLayer>,
    process: Option<Arc<Process>>,
}

impl<F: Clone> Clone for ChaosFs<F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
            process: self.process.clone(),
        }
    }
}

impl<F> ChaosFs<F> {
    /// Wraps `inner`; every operation goes through `layer`.
    pub fn new(inner: F, layer: Arc<StorageLayer>) -> Self {
        Self {
            inner,
            layer,
            process: None,
        }
    }

    /// This filesystem as client `process` uses it: a conditional PUT that lands at the
    /// process's armed [`super::CrashPoint`] kills the process and is never answered.
    pub fn in_process(mut self, process: Option<Arc<Process>>) -> Self {
        self.process = process;
        self
    }

    /// The layer this filesystem reports to.
    pub fn layer(&self) -> &Arc<StorageLayer> {
        &self.layer
    }
}

impl<F: Fs> Fs for ChaosFs<F>
where
    F::File: Sync,
{
    type File = ChaosFile<F::File>;

    fn file_system(&self) -> FileSystemTag {
        self.inner.file_system()
    }

    async fn open_options(&self, path: &Path, options: OpenOptions) -> Result<Self::File, FsError> {
        // Opening for write without truncate downloads the existing object first (a GET).
        let prefill = options.write && !options.truncate;
        let open = self.inner.open_options(path, options);
        let inner = if prefill {
            self.layer.run(S3OpKind::Get, path.as_ref(), open).await?
        } else {
            open.await?
        };
        Ok(ChaosFile {
            inner,
            key: path.to_string(),
            layer: self.layer.clone(),
        })
    }

    async fn create_dir_all(_path: &Path) -> Result<(), FsError> {
        Ok(())
    }

    async fn list(
        &self,
        path: &Path,
    ) -> Result<impl Stream<Item = Result<FileMeta, FsError>>, FsError> {
        let listing = self
            .layer
            .run(S3OpKind::List, path.as_ref(), async {
                let items: Vec<FileMeta> = self.inner.list(path).await?.try_collect().await?;
                Ok(items)
            })
            .await?;
        Ok(stream::iter(listing.into_iter().map(Ok)))
    }

    async fn remove(&self, path: &Path) -> Result<(), FsError> {
        let key: &str = path.as_ref();
        let removed = self
            .layer
            .run(S3OpKind::Delete, key, self.inner.remove(path))
            .await;
        if removed.is_ok() {
            self.layer.count_delete(key);
        }
        removed
    }

    async fn copy(&self, from: &Path, to: &Path) -> Result<(), FsError> {
        self.layer
            .run(S3OpKind::Put, to.as_ref(), self.inner.copy(from, to))
            .await
    }

    async fn link(&self, from: &Path, to: &Path) -> Result<(), FsError> {
        self.inner.link(from, to).await
    }

    async fn exists(&self, path: &Path) -> Result<bool, FsError> {
        self.layer
            .run(S3OpKind::Head, path.as_ref(), self.inner.exists(path))
            .await
    }
}

type BoxFut<'a, T> = Pin<Box<dyn MaybeSendFuture<Output = Result<T, FsError>> + 'a>>;

impl<F: FsCas> FsCas for ChaosFs<F> {
    fn load_with_tag(&self, path: &Path) -> BoxFut<'_, Option<(Vec<u8>, String)>> {
        let op = self.inner.load_with_tag(path);
        let key = path.to_string();
        Box::pin(async move { self.layer.run(S3OpKind::Get, &key, op).await })
    }

    fn put_conditional(
        &self,
        path: &Path,
        payload: &[u8],
        content_type: Option<&str>,
        metadata: Option<Vec<(String, String)>>,
        condition: CasCondition,
    ) -> BoxFut<'_, String> {
        let op = self
            .inner
            .put_conditional(path, payload, content_type, metadata, condition);
        let key = path.to_string();
        Box::pin(async move {
            let pass = self.layer.before(S3OpKind::CondPut, &key).await?;
            let landed = op.await;
            let killed = landed.is_ok()
                && self
                    .process
                    .as_ref()
                    .is_some_and(|p| p.on_landed(&key, pass.crashes()));
            if killed {
                // Killed with the answer in flight: it never arrives.
                self.layer.record_crash(pass);
                return std::future::pending().await;
            }
            self.layer.after(pass, landed).await
        })
    }
}

impl<F: ObjectHead> ObjectHead for ChaosFs<F> {
    fn head_metadata<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Option<HashMap<String, String>>> {
        let op = self.inner.head_metadata(path);
        Box::pin(self.layer.run(S3OpKind::Head, path.as_ref(), op))
    }
}

/// A file of a [`ChaosFs`]: reads are GETs, close/commit is a PUT.
pub struct ChaosFile<T> {
    inner: T,
    key: String,
    layer: Arc<StorageLayer>,
}

impl<T: Read + Sync> Read for ChaosFile<T> {
    async fn read_exact_at<B: IoBufMut>(&mut self, buf: B, pos: u64) -> (Result<(), FsError>, B) {
        // The buffer moves into the read only once the request leaves; every other path hands
        // it back with the error.
        let pass = match self.layer.before(S3OpKind::Get, &self.key).await {
            Ok(pass) => pass,
            Err(e) => return (Err(e), buf),
        };
        let (result, buf) = self.inner.read_exact_at(buf, pos).await;
        (self.layer.after(pass, result).await, buf)
    }

    async fn read_to_end_at(&mut self, buf: Vec<u8>, pos: u64) -> (Result<(), FsError>, Vec<u8>) {
        let pass = match self.layer.before(S3OpKind::Get, &self.key).await {
            Ok(pass) => pass,
            Err(e) => return (Err(e), buf),
        };
        let (result, buf) = self.inner.read_to_end_at(buf, pos).await;
        (self.layer.after(pass, result).await, buf)
    }

    async fn size(&self) -> Result<u64, FsError> {
        self.layer
            .run(S3OpKind::Head, &self.key, self.inner.size())
            .await
    }
}

impl<T: Write> Write for ChaosFile<T> {
    async fn write_all<B: IoBuf>(&mut self, buf: B) -> (Result<(), FsError>, B) {
        self.inner.write_all(buf).await
    }

    async fn flush(&mut self) -> Result<(), FsError> {
        self.inner.flush().await
    }

    async fn close(&mut self) -> Result<(), FsError> {
        let layer = self.layer.clone();
        layer
            .run(S3OpKind::Put, &self.key, self.inner.close())
            .await
    }
}

impl<T: FileCommit> FileCommit for ChaosFile<T> {
    async fn commit(&mut self) -> Result<(), FsError> {
        let layer = self.layer.clone();
        layer
            .run(S3OpKind::Put, &self.key, self.inner.commit())
            .await
    }
}
