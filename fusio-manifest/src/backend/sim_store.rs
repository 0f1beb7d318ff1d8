//! [`SimS3`]: a simulated S3 store, in process, for a deterministic simulated world.
//!
//! It implements fusio's `Fs` and `FsCas` and fusio-manifest's `ObjectHead` directly over one
//! bucket of the shared [`ObjectModel`] (the embedded S3 server's model), and shows a caller
//! what fusio's `AmazonS3` shows against the embedded server, not what fusio's `InMemoryFs`
//! does: an object written through a file appears only when the file is closed or committed;
//! listings are sorted by key, paged by 1,000 and lazy (a page is read when the stream reaches
//! it), and select keys by plain string prefix (`Path::parse("a/")` drops the slash, so `a/`
//! also lists `ab/...`); failures have `AmazonS3`'s `fusio::Error` variants and HTTP statuses
//! (the table is on [`SimS3`]).
//!
//! Every operation runs synchronously under the model's mutex the first time its future is
//! polled (not when the future is created, so a wrapper's delay before awaiting it still comes
//! first) and is ready at once: no timers, no sockets, no spawning, no randomness. The one
//! exception is [`FaultMode::NonAtomic`], whose PUT yields to the scheduler once between the
//! condition check and the write. Modification times come from the caller's [`Clock`].
//!
//! A second answer mode, [`SimStoreMode::Fs`] (`CHAOS_SIM_STORE=fs`), answers every call as
//! fusio's local filesystem `TokioFs` does instead (a missing file is an I/O `NotFound`,
//! `If-Match` on a missing key is `PreconditionFailed`, files are written in place, listings
//! read one directory): see [`local`]. Same keys, same clock, same determinism.

mod file;
mod listing;
mod local;
mod wire;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use fusio::fs::{CasCondition, FileMeta, FileSystemTag, Fs, FsCas, OpenOptions};
use fusio::path::Path;
use fusio::Error as FsError;
use fusio_core::MaybeSendFuture;
use fusio_manifest::ObjectHead;
use futures_util::{Stream, StreamExt};

use super::object_model::{
    FaultMode, ModelError, NewObject, ObjectEntry, ObjectModel, PutConditions, PutOutcome,
    StoredObject,
};
pub use file::SimFile;
use listing::Listing;
pub use local::DIR_SIZE;
use local::{LocalFile, LocalFs};

use crate::config::ConfigError;

/// Which storage a [`SimS3`] answers as (`CHAOS_SIM_STORE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SimStoreMode {
    /// fusio 0.6.1's `AmazonS3` against the embedded S3 server (the table on [`SimS3`]).
    #[default]
    S3,
    /// fusio 0.6.1's local filesystem `TokioFs` (the second table on [`SimS3`]).
    Fs,
}

impl SimStoreMode {
    /// Parses `s3` or `fs`.
    pub fn parse(var: &'static str, value: &str) -> Result<Self, ConfigError> {
        match value {
            "s3" => Ok(Self::S3),
            "fs" => Ok(Self::Fs),
            other => Err(ConfigError::invalid(var, other, "expected `s3` or `fs`")),
        }
    }

    /// The name used in reports and in `CHAOS_SIM_STORE`.
    pub fn name(self) -> &'static str {
        match self {
            Self::S3 => "s3",
            Self::Fs => "fs",
        }
    }
}

/// The name of a [`SimS3`]'s one bucket.
pub const SIM_BUCKET: &str = "sim";

/// Where a [`SimS3`] reads the time it stamps on writes (the simulated world's wall clock).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A simulated S3 bucket ([`SIM_BUCKET`]). Cheap to clone: clones share one store.
///
/// What each call gives a caller, as fusio 0.6.1's `AmazonS3` against the embedded server
/// (`NotSuccess(s)` is `HttpError::HttpNotSuccess { status: s, .. }`):
///
/// | call | missing object | other failures |
/// |---|---|---|
/// | `load_with_tag` | `Ok(None)` | |
/// | `put_conditional` `IfNotExists` | stored | existing key: `PreconditionFailed` |
/// | `put_conditional` `IfMatch` | `Remote(NotSuccess(404))` | other ETag: `PreconditionFailed`; unparseable ETag: `Remote(NotSuccess(400))` |
/// | `head_metadata` | `Ok(None)` | |
/// | `exists` | `Ok(true)` (sic: fusio answers "was it a 404") | present: `Ok(false)` |
/// | file `size` | `Other(NotSuccess(404))` | |
/// | file `read_exact_at` | `Remote(NotSuccess(404))` | range past the end: `Remote(NotSuccess(416))`; short: `Io(UnexpectedEof)` |
/// | file `read_to_end_at` | `Remote(NotSuccess(404))` | empty object or `pos` past the end: `Remote(NotSuccess(416))` |
/// | `remove` | `Ok(())` | |
/// | `copy` | `Remote(Other("failed to write to S3, HTTP status: 404 ..."))` | |
/// | `link` | `Unsupported` | |
///
/// In [`SimStoreMode::Fs`], as fusio 0.6.1's `TokioFs` on Linux (`Io(k)`: `Error::Io` of kind
/// `k`, with Linux's errno; `Path(k)`: `Error::Path` holding one; `head_metadata` is
/// fusio-manifest's `ObjectHead for TokioFs`, a load that parses a `.json` segment's header):
///
/// | call | missing object | other cases |
/// |---|---|---|
/// | `load_with_tag` | `Ok(None)` | tag `len:mtime:ctime:inode` (hex); a directory: `Io(IsADirectory)` |
/// | `put_conditional` `IfNotExists` | stored (parents created) | existing file or directory: `PreconditionFailed` |
/// | `put_conditional` `IfMatch` | `PreconditionFailed` | other tag: `PreconditionFailed`; a new inode renamed over the name |
/// | `put_conditional` any | | `KEY.lock` exists: `PreconditionFailed`; the parent is a file: `Io(AlreadyExists)`, an ancestor: `Io(NotADirectory)` |
/// | `head_metadata` | `Ok(None)` | not `.json`: `Ok(None)`; `.json` not a segment: `Other(..)` |
/// | `exists` | `Ok(false)` | file or directory: `Ok(true)` |
/// | `open_options` | without create: `Path(NotFound)`; with create: an empty file (parents created) | truncate without write: `Io(InvalidInput)` (the file created first); a directory: `Io(IsADirectory)` |
/// | file `write_all` | | lands at once, at the end unless opened with truncate |
/// | file `size` | (the open inode, even once removed) | |
/// | file `read_exact_at` | (the open inode) | short: `Io(UnexpectedEof)` |
/// | file `read_to_end_at` | (the open inode) | `pos` past the end: panics, as fusio does |
/// | file `close` / `commit` | | `Ok(())` / `Unsupported` |
/// | `remove` | `Io(NotFound)` | a directory: `Io(IsADirectory)` |
/// | `copy` | `Io(NotFound)` (also a missing target directory) | target rewritten in place |
/// | `link` | `Io(NotFound)` | target exists: `Io(AlreadyExists)`; a directory: `Io(PermissionDenied)` |
/// | `list` | `Io(NotFound)` (from `list` itself) | one directory's files and subdirectories ([`DIR_SIZE`]), in key order; a file: `Io(NotADirectory)` |
#[derive(Clone)]
pub struct SimS3 {
    inner: Arc<Inner>,
}

struct Inner {
    model: ObjectModel,
    clock: Clock,
    mode: SimStoreMode,
    local: LocalFs,
}

impl Default for SimS3 {
    fn default() -> Self {
        Self::new()
    }
}

impl SimS3 {
    /// An empty S3 store whose clock starts at the UNIX epoch and moves 1 ms on at every
    /// reading (one per PUT or copy, whether it lands or not; in the `fs` mode one per open,
    /// conditional PUT, file write, copy or link).
    pub fn new() -> Self {
        Self::with_mode(SimStoreMode::S3)
    }

    /// An empty store answering as `mode`, with the clock of [`SimS3::new`].
    pub fn with_mode(mode: SimStoreMode) -> Self {
        let ticks = AtomicU64::new(0);
        Self::with_mode_and_clock(
            mode,
            Arc::new(move || {
                SystemTime::UNIX_EPOCH
                    + Duration::from_millis(ticks.fetch_add(1, Ordering::Relaxed))
            }),
        )
    }

    /// An empty S3 store stamping writes with `clock`.
    pub fn with_clock(clock: Clock) -> Self {
        Self::with_mode_and_clock(SimStoreMode::S3, clock)
    }

    /// An empty store answering as `mode`, stamping writes with `clock`.
    pub fn with_mode_and_clock(mode: SimStoreMode, clock: Clock) -> Self {
        let model = ObjectModel::new();
        model.create_bucket(SIM_BUCKET);
        Self {
            inner: Arc::new(Inner {
                model,
                clock,
                mode,
                local: LocalFs::new(),
            }),
        }
    }

    /// What this store answers as.
    pub fn mode(&self) -> SimStoreMode {
        self.inner.mode
    }

    /// Whether `key` is a directory (the `fs` mode; always `false` in the `s3` mode).
    pub fn is_dir(&self, key: &str) -> bool {
        self.is_fs() && self.inner.local.is_dir(key)
    }

    fn is_fs(&self) -> bool {
        self.inner.mode == SimStoreMode::Fs
    }

    fn local(&self) -> &LocalFs {
        &self.inner.local
    }

    fn now(&self) -> SystemTime {
        (self.inner.clock)()
    }

    fn local_write(
        &self,
        file: &mut LocalFile,
        data: &[u8],
        now: SystemTime,
    ) -> Result<(), FsError> {
        self.local().write(&self.inner.model, file, data, now)
    }

    /// Number of objects whose key starts with `prefix`.
    pub fn object_count(&self, prefix: &str) -> usize {
        self.inner.model.object_count(SIM_BUCKET, prefix)
    }

    /// Every object (key, ETag, body) in key order, e.g. for a digest of the final store.
    pub fn objects(&self) -> Vec<ObjectEntry> {
        self.inner.model.objects(SIM_BUCKET)
    }

    /// The current fault mode.
    pub fn fault_mode(&self) -> FaultMode {
        self.inner.model.fault_mode()
    }

    /// Breaks (or restores) conditional writes. Test-only; see [`FaultMode`].
    pub fn set_fault_mode(&self, mode: FaultMode) {
        self.inner.model.set_fault_mode(mode);
    }

    fn get(&self, key: &str) -> Result<StoredObject, ModelError> {
        self.inner.model.get(SIM_BUCKET, key)
    }

    /// PUT `object` at `key` if `conditions` hold. Under [`FaultMode::NonAtomic`] the write
    /// lands after one yield to the scheduler, so a racing PUT can pass the same check.
    async fn put(
        &self,
        key: &str,
        object: NewObject,
        conditions: &PutConditions,
    ) -> Result<String, ModelError> {
        let model = &self.inner.model;
        let now = (self.inner.clock)();
        match model.put(SIM_BUCKET, key, object, conditions, now)? {
            PutOutcome::Stored(etag) => Ok(etag),
            PutOutcome::Deferred(deferred) => {
                YieldOnce(false).await;
                model.complete(deferred)
            }
        }
    }
}

/// A future that is pending once (waking itself at once), then ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Fs for SimS3 {
    type File = SimFile;

    fn file_system(&self) -> FileSystemTag {
        match self.inner.mode {
            SimStoreMode::S3 => FileSystemTag::S3,
            SimStoreMode::Fs => FileSystemTag::Local,
        }
    }

    async fn open_options(&self, path: &Path, options: OpenOptions) -> Result<SimFile, FsError> {
        if self.is_fs() {
            let key = path.to_string();
            let file = self
                .local()
                .open(&self.inner.model, &key, &options, self.now())?;
            return Ok(SimFile::local(self.clone(), key, file));
        }
        let writable = options.create || options.write;
        let prefill = options.write && !options.truncate;
        Ok(SimFile::open(
            self.clone(),
            path.to_string(),
            writable,
            prefill,
        ))
    }

    /// Does nothing: fusio's `Fs::create_dir_all` has no `&self` to reach a store by (the
    /// manifest never calls it; the `fs` mode creates directories where `TokioFs` does).
    async fn create_dir_all(_path: &Path) -> Result<(), FsError> {
        Ok(())
    }

    async fn list(
        &self,
        path: &Path,
    ) -> Result<impl Stream<Item = Result<FileMeta, FsError>>, FsError> {
        if self.is_fs() {
            let entries = self.local().list(path.as_ref())?;
            return Ok(futures_util::stream::iter(entries.into_iter().map(Ok)).right_stream());
        }
        Ok(Listing::new(self.clone(), path.to_string())
            .into_stream()
            .left_stream())
    }

    async fn remove(&self, path: &Path) -> Result<(), FsError> {
        if self.is_fs() {
            return self.local().remove(&self.inner.model, path.as_ref());
        }
        self.inner
            .model
            .delete(SIM_BUCKET, path.as_ref())
            .map_err(|e| wire::remote(&e))
    }

    async fn copy(&self, from: &Path, to: &Path) -> Result<(), FsError> {
        let now = (self.inner.clock)();
        if self.is_fs() {
            return self
                .local()
                .copy(&self.inner.model, from.as_ref(), to.as_ref(), now);
        }
        self.inner
            .model
            .copy(SIM_BUCKET, from.as_ref(), to.as_ref(), now)
            .map(drop)
            .map_err(|e| wire::write_failed(&e))
    }

    async fn link(&self, from: &Path, to: &Path) -> Result<(), FsError> {
        if self.is_fs() {
            let now = self.now();
            return self
                .local()
                .link(&self.inner.model, from.as_ref(), to.as_ref(), now);
        }
        Err(FsError::Unsupported {
            message: "s3 does not support link file".to_string(),
        })
    }

    /// Mirrors fusio 0.6.1's `AmazonS3::exists`, which answers whether the HEAD request got a
    /// 404: `true` for a missing object, `false` for a present one (the `fs` mode: whether it
    /// exists).
    async fn exists(&self, path: &Path) -> Result<bool, FsError> {
        if self.is_fs() {
            return self.local().exists(path.as_ref());
        }
        Ok(matches!(self.get(path.as_ref()), Err(e) if e.status() == 404))
    }
}

type BoxFut<'a, T> = Pin<Box<dyn MaybeSendFuture<Output = Result<T, FsError>> + 'a>>;

impl FsCas for SimS3 {
    fn load_with_tag(&self, path: &Path) -> BoxFut<'_, Option<(Vec<u8>, String)>> {
        let key = path.to_string();
        Box::pin(async move {
            if self.is_fs() {
                return self.local().load_with_tag(&key);
            }
            match self.get(&key) {
                Ok(obj) => Ok(Some((obj.body.to_vec(), obj.etag))),
                Err(e) if e.status() == 404 => Ok(None),
                Err(e) => Err(wire::remote(&e)),
            }
        })
    }

    fn put_conditional(
        &self,
        path: &Path,
        payload: &[u8],
        content_type: Option<&str>,
        metadata: Option<Vec<(String, String)>>,
        condition: CasCondition,
    ) -> BoxFut<'_, String> {
        let key = path.to_string();
        let body = bytes::Bytes::copy_from_slice(payload);
        let content_type = content_type.map(str::to_string);
        Box::pin(async move {
            if self.is_fs() {
                let now = self.now();
                return self
                    .local()
                    .put_conditional(&self.inner.model, &key, &body, &condition, now)
                    .await;
            }
            let request = wire::conditional_put(body, content_type, metadata, &condition)?;
            match self.put(&key, request.object, &request.conditions).await {
                Ok(etag) => Ok(etag),
                Err(ModelError::PreconditionFailed) => Err(FsError::PreconditionFailed),
                Err(e) => Err(wire::remote(&e)),
            }
        })
    }
}

impl ObjectHead for SimS3 {
    fn head_metadata<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Option<HashMap<String, String>>> {
        Box::pin(async move {
            if self.is_fs() {
                return self.local().head_metadata(path);
            }
            match self.get(path.as_ref()) {
                Ok(obj) => Ok(Some(wire::metadata_headers(&obj.metadata))),
                Err(e) if e.status() == 404 => Ok(None),
                Err(e) => Err(wire::remote(&e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use fusio::impls::remotes::http::HttpError;
    use fusio::{Read, Write};
    use futures_util::TryStreamExt;

    use super::*;

    fn path(key: &str) -> Path {
        Path::parse(key).expect("a valid key")
    }

    /// The HTTP status inside an `Error::Remote` or `Error::Other`, if any.
    fn status(e: &FsError) -> Option<u16> {
        let (FsError::Remote(inner) | FsError::Other(inner)) = e else {
            return None;
        };
        match inner.downcast_ref::<HttpError>() {
            Some(HttpError::HttpNotSuccess { status, .. }) => Some(status.as_u16()),
            _ => None,
        }
    }

    async fn put(s3: &SimS3, key: &str, body: &str, cond: CasCondition) -> Result<String, FsError> {
        s3.put_conditional(&path(key), body.as_bytes(), None, None, cond)
            .await
    }

    async fn keys(s3: &SimS3, prefix: &str) -> Vec<String> {
        let listed: Vec<FileMeta> = s3
            .list(&path(prefix))
            .await
            .expect("list")
            .try_collect()
            .await
            .expect("listing");
        listed.into_iter().map(|m| m.path.to_string()).collect()
    }

    #[tokio::test]
    async fn an_object_is_invisible_until_its_file_is_closed() {
        let s3 = SimS3::new();
        let p = path("d/f");
        let options = OpenOptions::default().create(true).truncate(true);
        let mut file = s3.open_options(&p, options).await.expect("open");
        let (written, _) = file.write_all(&b"abc"[..]).await;
        written.expect("buffered");
        file.flush().await.expect("flushed");
        assert_eq!(s3.load_with_tag(&p).await.expect("get"), None);
        assert!(keys(&s3, "d").await.is_empty());
        assert_eq!(
            status(&file.size().await.expect_err("not there")),
            Some(404)
        );
        file.close().await.expect("uploaded");
        let (body, _) = s3.load_with_tag(&p).await.expect("get").expect("there");
        assert_eq!(body, b"abc");
        assert_eq!(file.size().await.expect("head"), 3);
        file.close().await.expect("a second close does nothing");
        assert_eq!(s3.object_count("d/"), 1);
    }

    #[tokio::test]
    async fn list_is_sorted_paged_and_by_string_prefix() {
        let s3 = SimS3::new();
        let n = 2_345;
        for i in 0..n {
            let key = format!("l/k{:05}", (i * 7919) % n);
            put(&s3, &key, "x", CasCondition::IfNotExists)
                .await
                .expect("put");
        }
        put(&s3, "lz/other", "x", CasCondition::IfNotExists)
            .await
            .expect("put");
        let listed = keys(&s3, "l").await;
        assert_eq!(
            listed.len(),
            n + 1,
            "all pages, and `l` also selects `lz/...`"
        );
        assert!(listed.windows(2).all(|w| w[0] < w[1]), "sorted by key");
        assert_eq!(
            keys(&s3, "l/").await,
            listed,
            "Path::parse drops the trailing slash"
        );

        // Lazy pages: a key added behind the page being read is missed, one ahead is seen.
        let l = path("l");
        let mut stream = Box::pin(s3.list(&l).await.expect("list"));
        let first = stream.try_next().await.expect("page").expect("an item");
        assert_eq!(first.path.to_string(), "l/k00000");
        put(&s3, "l/k00000a", "x", CasCondition::IfNotExists)
            .await
            .expect("put");
        put(&s3, "l/k99999", "x", CasCondition::IfNotExists)
            .await
            .expect("put");
        let rest: Vec<FileMeta> = stream.try_collect().await.expect("rest");
        let rest: Vec<String> = rest.into_iter().map(|m| m.path.to_string()).collect();
        assert!(!rest.contains(&"l/k00000a".to_string()));
        assert!(rest.contains(&"l/k99999".to_string()));
    }

    #[tokio::test]
    async fn conditions_follow_s3_rules() {
        let s3 = SimS3::new();
        let a = put(&s3, "c", "1", CasCondition::IfNotExists)
            .await
            .expect("new");
        let again = put(&s3, "c", "2", CasCondition::IfNotExists).await;
        assert!(matches!(again, Err(FsError::PreconditionFailed)));
        let b = put(&s3, "c", "2", CasCondition::IfMatch(a.clone()))
            .await
            .expect("match");
        let stale = put(&s3, "c", "3", CasCondition::IfMatch(a)).await;
        assert!(matches!(stale, Err(FsError::PreconditionFailed)));
        let missing = put(&s3, "none", "1", CasCondition::IfMatch(b.clone())).await;
        let missing = missing.expect_err("If-Match on a missing key");
        assert!(matches!(missing, FsError::Remote(_)));
        assert_eq!(status(&missing), Some(404));
        let (body, tag) = s3
            .load_with_tag(&path("c"))
            .await
            .expect("get")
            .expect("there");
        assert_eq!((body.as_slice(), tag), (&b"2"[..], b));

        s3.set_fault_mode(FaultMode::IgnoreConditions);
        put(&s3, "c", "4", CasCondition::IfNotExists)
            .await
            .expect("ignored");
        put(&s3, "none", "1", CasCondition::IfMatch("\"x\"".into()))
            .await
            .expect("ignored");
    }

    #[tokio::test]
    async fn non_atomic_fault_lets_racing_writers_both_pass() {
        let s3 = SimS3::new();
        let tag = put(&s3, "c", "0", CasCondition::IfNotExists)
            .await
            .expect("new");
        s3.set_fault_mode(FaultMode::NonAtomic);
        let (a, b) = tokio::join!(
            put(&s3, "c", "a", CasCondition::IfMatch(tag.clone())),
            put(&s3, "c", "b", CasCondition::IfMatch(tag)),
        );
        assert!(
            a.is_ok() && b.is_ok(),
            "both pass the same check: {a:?} {b:?}"
        );
    }

    #[tokio::test]
    async fn copy_is_s3_copy_object() {
        let s3 = SimS3::new();
        let tag = put(&s3, "a", "1", CasCondition::IfNotExists)
            .await
            .expect("new");
        s3.copy(&path("a"), &path("b")).await.expect("copied");
        let (body, copy_tag) = s3
            .load_with_tag(&path("b"))
            .await
            .expect("get")
            .expect("there");
        assert_eq!(body, b"1");
        assert_ne!(copy_tag, tag, "a copy is a new write");
        let missing = s3.copy(&path("none"), &path("c")).await;
        assert!(matches!(missing, Err(FsError::Remote(_))));
    }

    #[tokio::test]
    async fn fs_mode_mirrors_every_name_into_the_model() {
        let fs = SimS3::with_mode(SimStoreMode::Fs);
        let bodies = |fs: &SimS3| -> Vec<(String, Vec<u8>)> {
            fs.objects()
                .into_iter()
                .map(|o| (o.key, o.body.to_vec()))
                .collect()
        };
        let tag = put(&fs, "d/a", "1", CasCondition::IfNotExists)
            .await
            .expect("new");
        put(&fs, "d/a", "22", CasCondition::IfMatch(tag))
            .await
            .expect("replaced");
        fs.link(&path("d/a"), &path("d/b")).await.expect("linked");
        let options = OpenOptions::default().write(true);
        let mut file = fs.open_options(&path("d/b"), options).await.expect("open");
        let (written, _) = file.write_all(&b"+"[..]).await;
        written.expect("written in place");
        assert_eq!(
            bodies(&fs),
            vec![
                ("d/a".into(), b"22+".to_vec()),
                ("d/b".into(), b"22+".to_vec())
            ]
        );
        fs.remove(&path("d/a")).await.expect("removed");
        assert_eq!(bodies(&fs), vec![("d/b".into(), b"22+".to_vec())]);
        assert!(fs.is_dir("d") && !fs.is_dir("d/b"));
        assert_eq!(fs.file_system(), FileSystemTag::Local);
        let missing = fs.remove(&path("d/a")).await.expect_err("gone");
        assert!(matches!(missing, FsError::Io(e) if e.kind() == std::io::ErrorKind::NotFound));
    }

    #[tokio::test]
    async fn writes_are_stamped_by_the_callers_clock() {
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(42);
        let s3 = SimS3::with_clock(Arc::new(move || when));
        put(&s3, "c", "0", CasCondition::IfNotExists)
            .await
            .expect("new");
        let obj = s3.get("c").expect("there");
        assert_eq!(obj.modified, when);
    }
}
