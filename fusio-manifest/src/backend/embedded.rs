//! An S3 server inside the process: s3s over an in-memory object map, on 127.0.0.1.
//!
//! Conditional PUT is atomic: the condition check and the insert happen under one mutex.
//! Semantics mirror AWS conditional writes: `If-None-Match: *` on an existing key gives 412,
//! `If-Match` with another ETag gives 412, `If-Match` on a missing key gives 404 `NoSuchKey`.
//! ETags are unique per write (a generation counter), so an `If-Match` can never match a
//! later write of identical bytes.
//!
//! A test-only [`FaultMode`] (off by default) breaks conditional PUT on purpose, so the
//! isolation checker and the preflight can be shown to catch a store that is not atomic.
//!
//! The server runs on its own tokio runtime (two worker threads named
//! [`SERVER_THREAD_NAME`]), never on the caller's: real S3 does not slow down when the clients'
//! host is loaded, so neither may this one when a scenario burns CPU or starts many clients.
//! [`EmbeddedServer::requests_in_flight`] and [`EmbeddedServer::take_max_in_flight`] report how
//! many requests it is handling, so a run can tell server queueing apart from client slowness.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::TryStreamExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::dto::{
    CreateBucketInput, CreateBucketOutput, DeleteObjectInput, DeleteObjectOutput, ETag,
    ETagCondition, GetObjectInput, GetObjectOutput, HeadBucketInput, HeadBucketOutput,
    HeadObjectInput, HeadObjectOutput, ListObjectsV2Input, ListObjectsV2Output, Metadata, Object,
    PutObjectInput, PutObjectOutput, StreamingBlob, Timestamp,
};
use s3s::service::S3ServiceBuilder;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// Region the embedded server's clients sign for.
pub const EMBEDDED_REGION: &str = "us-east-1";
/// The one bucket the embedded server creates at start.
pub const EMBEDDED_BUCKET: &str = "fusio-manifest-chaos";
/// Name of the embedded server's runtime threads (at most 15 bytes, Linux's limit for a thread
/// name, so it shows in full in `/proc/self/task/*/comm`).
pub const SERVER_THREAD_NAME: &str = "embedded-s3-rt";
/// Worker threads of the embedded server's runtime.
const SERVER_WORKER_THREADS: usize = 2;
/// How long dropping a server outside any async context waits for its threads to exit.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// Deliberate breakage of conditional writes, for must-fail tests only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// Correct, atomic conditional PUT (the default).
    None = 0,
    /// `If-Match` and `If-None-Match` are ignored: every PUT succeeds.
    IgnoreConditions = 1,
    /// The condition is checked, the lock released, then the write applied after a pause:
    /// two racing writers can both pass the check (a non-atomic compare-and-swap).
    NonAtomic = 2,
}

#[derive(Clone)]
struct StoredObject {
    body: Bytes,
    etag: String,
    metadata: Option<Metadata>,
    content_type: Option<String>,
    modified: SystemTime,
}

/// A GET or HEAD answer for `obj`: the headers both share (ETag, metadata, content type,
/// last modified) plus the given fields.
macro_rules! object_output {
    ($output:ident, $obj:expr, { $($field:ident: $value:expr),* $(,)? }) => {
        $output {
            $($field: $value,)*
            e_tag: Some(ETag::Strong($obj.etag.trim_matches('"').to_string())),
            metadata: $obj.metadata.clone(),
            content_type: $obj.content_type.as_ref().and_then(|c| c.parse().ok()),
            last_modified: Some(Timestamp::from($obj.modified)),
            ..Default::default()
        }
    };
}

/// The in-memory object store behind the server, with the server state its handle reads and
/// sets: the fault mode and the in-flight gauge.
#[derive(Default)]
struct MemStore {
    buckets: Mutex<BTreeMap<String, BTreeMap<String, StoredObject>>>,
    generation: AtomicU64,
    fault: AtomicU8,
    in_flight: InFlight,
}

/// Requests inside the S3 handler: how many now, and the most since the peak was last taken.
#[derive(Default)]
struct InFlight {
    current: AtomicUsize,
    peak: AtomicUsize,
}

impl InFlight {
    /// Counts a request in until the returned guard drops (when the handler returns, with an
    /// answer or an error, or when its future is dropped because the client went away).
    fn enter(&self) -> InFlightGuard<'_> {
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        InFlightGuard(self)
    }

    fn current(&self) -> usize {
        self.current.load(Ordering::SeqCst)
    }

    /// The peak since the last call (at least the current count), then starts the next period
    /// at the current count. A request entering meanwhile lands in one period or the other,
    /// never in neither.
    fn take_peak(&self) -> usize {
        let peak = self.peak.swap(0, Ordering::SeqCst);
        let now = self.current();
        self.peak.fetch_max(now, Ordering::SeqCst);
        peak.max(now)
    }
}

/// One request counted in [`InFlight`]; counted out on drop.
struct InFlightGuard<'a>(&'a InFlight);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.current.fetch_sub(1, Ordering::SeqCst);
    }
}

impl MemStore {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, BTreeMap<String, StoredObject>>> {
        // A panic while holding the lock cannot leave the map half-written (every mutation is a
        // single insert or remove), so a poisoned lock is safe to keep using.
        self.buckets.lock()
    }

    fn fault(&self) -> FaultMode {
        match self.fault.load(Ordering::Relaxed) {
            1 => FaultMode::IgnoreConditions,
            2 => FaultMode::NonAtomic,
            _ => FaultMode::None,
        }
    }

    fn next_etag(&self) -> String {
        let g = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        format!("\"{g:032x}\"")
    }
}

fn etag_matches(cond: &ETagCondition, stored: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(tag) => tag.value() == stored.trim_matches('"'),
    }
}

/// Checks S3's conditional-write rules against the current object (if any).
fn check_conditions(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    current: Option<&StoredObject>,
) -> S3Result<()> {
    if let Some(cond) = if_none_match {
        if let Some(obj) = current {
            if etag_matches(cond, &obj.etag) {
                return Err(s3_error!(PreconditionFailed));
            }
        }
    }
    if let Some(cond) = if_match {
        match current {
            None => return Err(s3_error!(NoSuchKey)),
            Some(obj) if !etag_matches(cond, &obj.etag) => {
                return Err(s3_error!(PreconditionFailed))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn no_bucket(bucket: &str) -> s3s::S3Error {
    s3_error!(NoSuchBucket, "bucket {bucket} does not exist")
}

async fn collect_body(body: Option<StreamingBlob>) -> S3Result<Bytes> {
    let Some(body) = body else {
        return Ok(Bytes::new());
    };
    let chunks: Vec<Bytes> = body
        .try_collect()
        .await
        .map_err(|e| s3_error!(IncompleteBody, "reading request body: {e}"))?;
    Ok(chunks.concat().into())
}

/// The S3 handler. Every operation it implements starts with `let _req = self.enter();`, so
/// [`InFlight`] counts each request for exactly as long as its handler runs. Operations it does
/// not implement are answered `NotImplemented` by s3s without reaching it, and requests that
/// fail authentication never reach it either: both are cheap and not counted.
#[derive(Clone)]
struct EmbeddedS3(Arc<MemStore>);

#[async_trait::async_trait]
impl S3 for EmbeddedS3 {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let _req = self.enter();
        self.0.lock().entry(req.input.bucket).or_default();
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let _req = self.enter();
        if self.0.lock().contains_key(&req.input.bucket) {
            Ok(S3Response::new(HeadBucketOutput::default()))
        } else {
            Err(no_bucket(&req.input.bucket))
        }
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let _req = self.enter();
        let input = req.input;
        let body = collect_body(input.body).await?;
        let store = &self.0;
        let etag = store.next_etag();
        let object = StoredObject {
            body,
            etag: etag.clone(),
            metadata: input.metadata,
            content_type: input.content_type.map(|c| c.to_string()),
            modified: SystemTime::now(),
        };
        let fault = store.fault();
        {
            let mut buckets = store.lock();
            let bucket = buckets
                .get_mut(&input.bucket)
                .ok_or_else(|| no_bucket(&input.bucket))?;
            if fault != FaultMode::IgnoreConditions {
                check_conditions(
                    input.if_match.as_ref(),
                    input.if_none_match.as_ref(),
                    bucket.get(&input.key),
                )?;
            }
            if fault != FaultMode::NonAtomic {
                bucket.insert(input.key, object);
                return Ok(S3Response::new(put_output(etag)));
            }
        }
        // NonAtomic fault: the check above ran under the lock, the write lands later.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let mut buckets = store.lock();
        let bucket = buckets
            .get_mut(&input.bucket)
            .ok_or_else(|| no_bucket(&input.bucket))?;
        bucket.insert(input.key, object);
        Ok(S3Response::new(put_output(etag)))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let _req = self.enter();
        let obj = self.lookup(&req.input.bucket, &req.input.key)?;
        let len = obj.body.len();
        let (body, range) = match req.input.range {
            None => (obj.body.clone(), None),
            Some(range) => {
                let r = range
                    .check(len as u64)
                    .map_err(|_| s3_error!(InvalidRange))?;
                let (start, end) = (r.start as usize, r.end as usize);
                (
                    obj.body.slice(start..end),
                    Some(format!("bytes {start}-{}/{len}", end.saturating_sub(1))),
                )
            }
        };
        let output = object_output!(GetObjectOutput, obj, {
            content_length: Some(body.len() as i64),
            content_range: range,
            body: Some(StreamingBlob::from(s3s::Body::from(body))),
        });
        Ok(S3Response::new(output))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let _req = self.enter();
        let obj = self.lookup(&req.input.bucket, &req.input.key)?;
        let output = object_output!(HeadObjectOutput, obj, {
            content_length: Some(obj.body.len() as i64),
        });
        Ok(S3Response::new(output))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let _req = self.enter();
        let mut buckets = self.0.lock();
        let bucket = buckets
            .get_mut(&req.input.bucket)
            .ok_or_else(|| no_bucket(&req.input.bucket))?;
        bucket.remove(&req.input.key);
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let _req = self.enter();
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max_keys = input.max_keys.unwrap_or(1000).clamp(1, 1000) as usize;
        let start_after = input
            .continuation_token
            .clone()
            .or(input.start_after.clone())
            .unwrap_or_default();
        let buckets = self.0.lock();
        let bucket = buckets
            .get(&input.bucket)
            .ok_or_else(|| no_bucket(&input.bucket))?;
        let mut contents = Vec::new();
        let mut next_token = None;
        // The page starts at the prefix (or just after `start_after`, whichever is later) and
        // stops at the first key outside the prefix: O(page), not O(all keys), under the lock
        // every other request waits for.
        let range = if start_after.as_str() >= prefix.as_str() {
            bucket.range::<String, _>((
                std::ops::Bound::Excluded(&start_after),
                std::ops::Bound::Unbounded,
            ))
        } else {
            bucket.range::<String, _>((
                std::ops::Bound::Included(&prefix),
                std::ops::Bound::Unbounded,
            ))
        };
        for (key, obj) in range.take_while(|(k, _)| k.starts_with(&prefix)) {
            if contents.len() == max_keys {
                next_token = contents.last().and_then(|o: &Object| o.key.clone());
                break;
            }
            contents.push(Object {
                key: Some(key.clone()),
                size: Some(obj.body.len() as i64),
                e_tag: Some(ETag::Strong(obj.etag.trim_matches('"').to_string())),
                last_modified: Some(Timestamp::from(obj.modified)),
                ..Default::default()
            });
        }
        let output = ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: input.prefix,
            key_count: Some(contents.len() as i32),
            max_keys: Some(max_keys as i32),
            is_truncated: Some(next_token.is_some()),
            continuation_token: input.continuation_token,
            next_continuation_token: next_token,
            contents: Some(contents),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }
}

impl EmbeddedS3 {
    /// Counts this request in flight until the guard drops; see [`EmbeddedS3`].
    fn enter(&self) -> InFlightGuard<'_> {
        self.0.in_flight.enter()
    }

    fn lookup(&self, bucket: &str, key: &str) -> S3Result<StoredObject> {
        let buckets = self.0.lock();
        let objects = buckets.get(bucket).ok_or_else(|| no_bucket(bucket))?;
        objects
            .get(key)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchKey))
    }
}

fn put_output(etag: String) -> PutObjectOutput {
    PutObjectOutput {
        e_tag: Some(ETag::Strong(etag.trim_matches('"').to_string())),
        ..Default::default()
    }
}

/// The embedded server's own multi-thread runtime. Dropping it shuts the runtime down without
/// ever blocking an async context (dropping a tokio `Runtime` inside another runtime panics).
struct ServerRuntime(Option<Runtime>);

impl ServerRuntime {
    /// A runtime of [`SERVER_WORKER_THREADS`] workers named [`SERVER_THREAD_NAME`].
    fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(SERVER_WORKER_THREADS)
            .thread_name(SERVER_THREAD_NAME)
            .enable_all()
            .build()?;
        Ok(Self(Some(runtime)))
    }

    fn get(&self) -> &Runtime {
        self.0.as_ref().expect("the runtime lives until drop")
    }
}

impl Drop for ServerRuntime {
    /// Stops every task (the accept loop, so the listener closes, and every connection) and the
    /// worker threads. Inside an async context (the usual case: a test or a run dropping its
    /// backend) this only signals the shutdown, which the workers finish on their own within
    /// moments; outside one it also waits (up to [`SHUTDOWN_WAIT`]) for the threads to exit.
    fn drop(&mut self) {
        let Some(runtime) = self.0.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            runtime.shutdown_background();
        } else {
            runtime.shutdown_timeout(SHUTDOWN_WAIT);
        }
    }
}

/// Accepts connections on `listener` and serves each on its own task, forever. Runs on the
/// server's runtime, so `tokio::spawn` here (and in hyper's executor) spawns onto it too.
async fn accept_loop(listener: TcpListener, service: s3s::service::S3Service) {
    loop {
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(_) => {
                // E.g. out of file descriptors: back off instead of spinning on the error.
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        // Without TCP_NODELAY each small response waits ~40 ms for delayed ACKs.
        let _ = socket.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let _ = ConnBuilder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}

/// A running embedded S3 server on its own runtime. Dropping it stops the server: the
/// listener closes and its runtime threads exit (see [`EmbeddedServer::start`]).
pub struct EmbeddedServer {
    addr: SocketAddr,
    store: Arc<MemStore>,
    access_key: String,
    secret_key: String,
    /// Runs the accept loop and every connection; never read, held for its `Drop`, which
    /// stops the server. Dropped last, after the fields above.
    _runtime: ServerRuntime,
}

/// `bytes` random bytes as lower-case hex.
fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

impl EmbeddedServer {
    /// Starts a server on `127.0.0.1:0` with SigV4 auth and the bucket [`EMBEDDED_BUCKET`].
    /// Its credentials are drawn at random for this server (see
    /// [`EmbeddedServer::credentials`]), so no other local process can write into a running
    /// scenario's bucket by knowing a constant.
    ///
    /// The server gets a dedicated tokio runtime of two worker threads named
    /// [`SERVER_THREAD_NAME`]: the listener, the accept loop and every connection run there,
    /// not on the caller's runtime, so a loaded or blocked client runtime does not slow the
    /// server down. Dropping the server shuts that runtime down; this is safe (no panic, no
    /// blocking) inside an async context.
    pub async fn start() -> std::io::Result<Self> {
        let access_key = format!("chaos-{}", random_hex(8));
        let secret_key = random_hex(20);
        let store = Arc::new(MemStore::default());
        store
            .lock()
            .insert(EMBEDDED_BUCKET.to_string(), BTreeMap::new());
        let mut builder = S3ServiceBuilder::new(EmbeddedS3(store.clone()));
        builder.set_auth(SimpleAuth::from_single(
            access_key.as_str(),
            secret_key.as_str(),
        ));
        let service = builder.build();
        // On failure below, dropping `runtime` shuts it down without panicking.
        let runtime = ServerRuntime::new()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        // Registers the socket with the server runtime's I/O driver, not the caller's.
        let listener = {
            let _server_context = runtime.get().enter();
            TcpListener::from_std(listener)?
        };
        runtime.get().spawn(accept_loop(listener, service));
        Ok(Self {
            addr,
            store,
            access_key,
            secret_key,
            _runtime: runtime,
        })
    }

    /// The access key and secret key this server accepts (never printed by the harness).
    pub fn credentials(&self) -> (&str, &str) {
        (&self.access_key, &self.secret_key)
    }

    /// The `http://127.0.0.1:PORT` endpoint clients should use (path-style).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Breaks (or restores) conditional writes. Test-only fault injection; see [`FaultMode`].
    pub fn set_fault_mode(&self, mode: FaultMode) {
        self.store.fault.store(mode as u8, Ordering::Relaxed);
    }

    /// Number of objects whose key starts with `prefix` (for tests and leak checks).
    pub fn object_count(&self, prefix: &str) -> usize {
        self.store
            .lock()
            .get(EMBEDDED_BUCKET)
            .map(|b| b.keys().filter(|k| k.starts_with(prefix)).count())
            .unwrap_or(0)
    }

    /// Requests the server is handling right now, over all the S3 operations it implements
    /// (GET, HEAD, PUT, DELETE, LIST, bucket create/head). A request counts from the moment
    /// s3s hands it to the handler (authenticated and parsed) until the handler returns,
    /// whether with an answer or an error, or is dropped because its connection went away.
    /// Requests s3s rejects before the handler (bad signature, unimplemented operation) do not
    /// count. A sample of server-side queueing, for host-health probes.
    pub fn requests_in_flight(&self) -> usize {
        self.store.in_flight.current()
    }

    /// A reader of [`EmbeddedServer::requests_in_flight`] that can outlive this borrow (it
    /// keeps the store alive), for a probe task.
    pub fn in_flight_reader(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let store = self.store.clone();
        move || store.in_flight.current()
    }

    /// The most requests in flight at once (as counted by
    /// [`EmbeddedServer::requests_in_flight`]) since the previous call, or since the server
    /// started; then restarts the count from the number in flight now. Never less than the
    /// number in flight at the call. Meant to be called by one sampler, once per interval: two
    /// callers would split the peaks between them.
    pub fn take_max_in_flight(&self) -> usize {
        self.store.in_flight.take_peak()
    }
}
