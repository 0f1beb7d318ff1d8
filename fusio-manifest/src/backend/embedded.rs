//! An S3 server inside the process: s3s over the in-memory [`ObjectModel`], on 127.0.0.1.
//!
//! The handler only converts s3s requests and answers to and from the model, which holds the
//! object store's rules (see [`super::object_model`]). Conditional PUT is atomic: the
//! condition check and the insert happen under one mutex. Semantics mirror AWS conditional
//! writes: `If-None-Match: *` on an existing key gives 412, `If-Match` with another ETag gives
//! 412, `If-Match` on a missing key gives 404 `NoSuchKey`. ETags are unique per write (a
//! generation counter), so an `If-Match` can never match a later write of identical bytes.
//!
//! A test-only `FaultMode` (off by default) breaks conditional PUT on purpose, so the
//! isolation checker and the preflight can be shown to catch a store that is not atomic.
//!
//! The server runs on its own tokio runtime (two worker threads named
//! [`SERVER_THREAD_NAME`]), never on the caller's: real S3 does not slow down when the clients'
//! host is loaded, so neither may this one when a scenario burns CPU or starts many clients.
//! [`EmbeddedServer::requests_in_flight`] and [`EmbeddedServer::take_max_in_flight`] report how
//! many requests it is handling, so a run can tell server queueing apart from client slowness.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::dto::{
    CreateBucketInput, CreateBucketOutput, DeleteObjectInput, DeleteObjectOutput, ETag,
    ETagCondition, GetObjectInput, GetObjectOutput, HeadBucketInput, HeadBucketOutput,
    HeadObjectInput, HeadObjectOutput, ListObjectsV2Input, ListObjectsV2Output, Metadata, Object,
    PutObjectInput, PutObjectOutput, Range, StreamingBlob, Timestamp,
};
use s3s::service::S3ServiceBuilder;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

use super::object_model::{
    ByteRange, EtagCondition, ListRequest, ModelError, NewObject, ObjectModel, PutConditions,
    PutOutcome, StoredObject,
};

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

/// A GET or HEAD answer for `obj`: the headers both share (ETag, metadata, content type,
/// last modified) plus the given fields.
macro_rules! object_output {
    ($output:ident, $obj:expr, { $($field:ident: $value:expr),* $(,)? }) => {
        $output {
            $($field: $value,)*
            e_tag: Some(ETag::Strong($obj.etag.trim_matches('"').to_string())),
            metadata: metadata_out(&$obj.metadata),
            content_type: $obj.content_type.as_ref().and_then(|c| c.parse().ok()),
            last_modified: Some(Timestamp::from($obj.modified)),
            ..Default::default()
        }
    };
}

/// The server's state: the object store ([`ObjectModel`], which also holds the fault mode)
/// and the in-flight gauge its handle reads.
#[derive(Default)]
struct ServerState {
    model: ObjectModel,
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

/// The model's side of an s3s conditional header.
fn condition(cond: &ETagCondition) -> EtagCondition {
    match cond {
        ETagCondition::Any => EtagCondition::Any,
        ETagCondition::ETag(tag) => EtagCondition::Tag(tag.value().to_string()),
    }
}

/// The model's side of an s3s `Range` header.
fn byte_range(range: Range) -> ByteRange {
    match range {
        Range::Int { first, last } => ByteRange::Int { first, last },
        Range::Suffix { length } => ByteRange::Suffix { length },
    }
}

/// s3s metadata as the model keeps it (no metadata: an empty map).
fn metadata_in(metadata: Option<Metadata>) -> BTreeMap<String, String> {
    metadata
        .map(|m| m.into_iter().collect())
        .unwrap_or_default()
}

/// The model's metadata as s3s answers it (an empty map: none).
fn metadata_out(metadata: &BTreeMap<String, String>) -> Option<Metadata> {
    (!metadata.is_empty()).then(|| {
        metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    })
}

/// The S3 error a model error stands for.
fn s3_err(e: ModelError) -> s3s::S3Error {
    match e {
        ModelError::NoSuchBucket(bucket) => no_bucket(&bucket),
        ModelError::NoSuchKey => s3_error!(NoSuchKey),
        ModelError::PreconditionFailed => s3_error!(PreconditionFailed),
        ModelError::InvalidRange => s3_error!(InvalidRange),
    }
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

/// The S3 handler: converts s3s requests to [`ObjectModel`] calls and back. Every operation it
/// implements starts with `let _req = self.enter();`, so [`InFlight`] counts each request for
/// exactly as long as its handler runs. Operations it does not implement are answered
/// `NotImplemented` by s3s without reaching it, and requests that fail authentication never
/// reach it either: both are cheap and not counted.
#[derive(Clone)]
struct EmbeddedS3(Arc<ServerState>);

#[async_trait::async_trait]
impl S3 for EmbeddedS3 {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let _req = self.enter();
        self.model().create_bucket(&req.input.bucket);
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let _req = self.enter();
        if self.model().has_bucket(&req.input.bucket) {
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
        let object = NewObject {
            body,
            metadata: metadata_in(input.metadata),
            content_type: input.content_type.map(|c| c.to_string()),
        };
        let conditions = PutConditions {
            if_match: input.if_match.as_ref().map(condition),
            if_none_match: input.if_none_match.as_ref().map(condition),
        };
        let outcome = self
            .model()
            .put(
                &input.bucket,
                &input.key,
                object,
                &conditions,
                crate::world::clock::system_time(),
            )
            .map_err(s3_err)?;
        let etag = match outcome {
            PutOutcome::Stored(etag) => etag,
            PutOutcome::Deferred(deferred) => {
                // NonAtomic fault: the check ran under the lock, the write lands later.
                tokio::time::sleep(Duration::from_millis(2)).await;
                self.model().complete(deferred).map_err(s3_err)?
            }
        };
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
                let (body, r) = obj.read_range(byte_range(range)).map_err(s3_err)?;
                let range = format!("bytes {}-{}/{len}", r.start, r.end.saturating_sub(1));
                (body, Some(range))
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
        self.model()
            .delete(&req.input.bucket, &req.input.key)
            .map_err(s3_err)?;
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
        let page = self
            .model()
            .list_page(
                &input.bucket,
                ListRequest {
                    prefix: &prefix,
                    start_after: Some(&start_after),
                    max_keys,
                },
            )
            .map_err(s3_err)?;
        let contents: Vec<Object> = page
            .entries
            .into_iter()
            .map(|entry| Object {
                key: Some(entry.key),
                size: Some(entry.size as i64),
                e_tag: Some(ETag::Strong(entry.etag.trim_matches('"').to_string())),
                last_modified: Some(Timestamp::from(entry.modified)),
                ..Default::default()
            })
            .collect();
        let output = ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: input.prefix,
            key_count: Some(contents.len() as i32),
            max_keys: Some(page.max_keys as i32),
            is_truncated: Some(page.next_token.is_some()),
            continuation_token: input.continuation_token,
            next_continuation_token: page.next_token,
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

    fn model(&self) -> &ObjectModel {
        &self.0.model
    }

    fn lookup(&self, bucket: &str, key: &str) -> S3Result<StoredObject> {
        self.model().get(bucket, key).map_err(s3_err)
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
    state: Arc<ServerState>,
    access_key: String,
    secret_key: String,
    /// Runs the accept loop and every connection; never read, held for its `Drop`, which
    /// stops the server. Dropped last, after the fields above.
    _runtime: ServerRuntime,
}

/// `bytes` random bytes as lower-case hex. From the OS on purpose: a server's credentials must
/// not be guessable by another local process.
#[allow(clippy::disallowed_methods)]
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
        let state = Arc::new(ServerState::default());
        state.model.create_bucket(EMBEDDED_BUCKET);
        let mut builder = S3ServiceBuilder::new(EmbeddedS3(state.clone()));
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
            state,
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

    /// Breaks (or restores) conditional writes. Test-only fault injection; see `FaultMode`.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn set_fault_mode(&self, mode: super::FaultMode) {
        self.state.model.set_fault_mode(mode);
    }

    /// Number of objects whose key starts with `prefix` (for tests and leak checks).
    pub fn object_count(&self, prefix: &str) -> usize {
        self.state.model.object_count(EMBEDDED_BUCKET, prefix)
    }

    /// Requests the server is handling right now, over all the S3 operations it implements
    /// (GET, HEAD, PUT, DELETE, LIST, bucket create/head). A request counts from the moment
    /// s3s hands it to the handler (authenticated and parsed) until the handler returns,
    /// whether with an answer or an error, or is dropped because its connection went away.
    /// Requests s3s rejects before the handler (bad signature, unimplemented operation) do not
    /// count. A sample of server-side queueing, for host-health probes.
    pub fn requests_in_flight(&self) -> usize {
        self.state.in_flight.current()
    }

    /// A reader of [`EmbeddedServer::requests_in_flight`] that can outlive this borrow (it
    /// keeps the store alive), for a probe task.
    pub fn in_flight_reader(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let state = self.state.clone();
        move || state.in_flight.current()
    }

    /// The most requests in flight at once (as counted by
    /// [`EmbeddedServer::requests_in_flight`]) since the previous call, or since the server
    /// started; then restarts the count from the number in flight now. Never less than the
    /// number in flight at the call. Meant to be called by one sampler, once per interval: two
    /// callers would split the peaks between them.
    pub fn take_max_in_flight(&self) -> usize {
        self.state.in_flight.take_peak()
    }
}
