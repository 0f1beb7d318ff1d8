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
//! read one directory): see `local`. Same keys, same clock, same determinism.
//!
//! This file holds the store itself; beside it are its answers to fusio's calls (`calls.rs`),
//! its files ([`SimFile`], `file.rs`), its lazy paged listing (`listing.rs`), the `fs` mode
//! (`local/`) and what would cross the wire in the `s3` mode (`wire.rs`).

mod calls;
mod file;
mod listing;
mod local;
#[cfg(test)]
mod tests;
mod wire;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use fusio::Error as FsError;

use super::object_model::{
    FaultMode, ModelError, NewObject, ObjectEntry, ObjectModel, PutConditions, PutOutcome,
    StoredObject,
};
pub use file::SimFile;
pub use local::DIR_SIZE;
use local::{LocalFile, LocalFs};

use crate::config_error::ConfigError;

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
    #[cfg(any(test, feature = "test-hooks"))]
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
