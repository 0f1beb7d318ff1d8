//! The one in-memory model of an S3 object store, shared by the embedded S3 server
//! ([`super::embedded`], over HTTP) and the simulated store ([`super::sim_store`], in process).
//!
//! Plain Rust types only: keys are strings, bodies [`Bytes`], ETags quoted strings, user
//! metadata a map of names without the `x-amz-meta-` prefix. Every operation takes the lock
//! once, so a conditional PUT checks and inserts atomically. Semantics mirror AWS conditional
//! writes: `If-None-Match: *` on an existing key fails with [`ModelError::PreconditionFailed`]
//! (412), `If-Match` with another ETag too, `If-Match` on a missing key with
//! [`ModelError::NoSuchKey`] (404). ETags are unique per write (a generation counter), so an
//! `If-Match` can never match a later write of identical bytes.
//!
//! The model never reads a clock: a write's modification time is an argument. It never sleeps
//! either: the [`FaultMode::NonAtomic`] breakage hands the write back as a [`DeferredPut`] for
//! the caller to apply after whatever pause it chooses.

mod range;

use std::collections::BTreeMap;
use std::ops::{Bound, Range};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};

pub use range::ByteRange;

/// The most keys one listing page holds (S3's limit and default).
pub const MAX_KEYS_PER_PAGE: usize = 1000;

/// Deliberate breakage of conditional writes, for must-fail tests only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FaultMode {
    /// Correct, atomic conditional PUT (the default).
    #[default]
    None = 0,
    /// `If-Match` and `If-None-Match` are ignored: every PUT succeeds.
    IgnoreConditions = 1,
    /// The condition is checked, the lock released, then the write applied later (see
    /// [`PutOutcome::Deferred`]): two racing writers can both pass the check (a non-atomic
    /// compare-and-swap).
    NonAtomic = 2,
}

/// One side of a conditional header: any current object, or one with a given ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagCondition {
    /// `*`: any current object.
    Any,
    /// An ETag value without its quotes (strong and weak tags compare by value).
    Tag(String),
}

impl EtagCondition {
    /// Whether the object whose (quoted) ETag is `stored` satisfies this condition.
    fn matches(&self, stored: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Tag(tag) => tag == stored.trim_matches('"'),
        }
    }
}

/// The conditional headers of a PUT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutConditions {
    /// `If-Match`.
    pub if_match: Option<EtagCondition>,
    /// `If-None-Match`.
    pub if_none_match: Option<EtagCondition>,
}

/// An object as a PUT sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewObject {
    /// The payload.
    pub body: Bytes,
    /// User metadata, names without the `x-amz-meta-` prefix; empty when none was sent.
    pub metadata: BTreeMap<String, String>,
    /// `Content-Type`, if sent.
    pub content_type: Option<String>,
}

/// An object as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The payload.
    pub body: Bytes,
    /// The quoted ETag of the write that stored it, unique per write.
    pub etag: String,
    /// User metadata, names without the `x-amz-meta-` prefix.
    pub metadata: BTreeMap<String, String>,
    /// `Content-Type`, if one was sent.
    pub content_type: Option<String>,
    /// When it was written, by the writer's clock.
    pub modified: SystemTime,
}

impl StoredObject {
    /// The bytes `range` selects and the byte range they cover, or
    /// [`ModelError::InvalidRange`] (416) when no byte of the object is in it.
    pub fn read_range(&self, range: ByteRange) -> Result<(Bytes, Range<usize>), ModelError> {
        let r = range.resolve(self.body.len() as u64)?;
        let r = r.start as usize..r.end as usize;
        Ok((self.body.slice(r.clone()), r))
    }
}

/// Why the store refused an operation, with the S3 error it stands for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The bucket does not exist (404 `NoSuchBucket`).
    #[error("bucket {0} does not exist")]
    NoSuchBucket(String),
    /// The key does not exist (404 `NoSuchKey`); also `If-Match` on a missing key.
    #[error("the key does not exist")]
    NoSuchKey,
    /// A conditional header was not met (412 `PreconditionFailed`).
    #[error("a precondition did not hold")]
    PreconditionFailed,
    /// A byte range outside the object (416 `InvalidRange`).
    #[error("the requested range is not satisfiable")]
    InvalidRange,
}

impl ModelError {
    /// The HTTP status S3 answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NoSuchBucket(_) | Self::NoSuchKey => 404,
            Self::PreconditionFailed => 412,
            Self::InvalidRange => 416,
        }
    }

    /// S3's error code, as in the `<Code>` of its error document.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSuchBucket(_) => "NoSuchBucket",
            Self::NoSuchKey => "NoSuchKey",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::InvalidRange => "InvalidRange",
        }
    }
}

/// What a PUT did.
#[derive(Debug)]
#[must_use = "a deferred PUT lands only through ObjectModel::complete"]
pub enum PutOutcome {
    /// Stored, with this ETag.
    Stored(String),
    /// [`FaultMode::NonAtomic`]: the condition held when checked; the write is not applied
    /// until the caller hands it to [`ObjectModel::complete`].
    Deferred(DeferredPut),
}

/// A checked write not yet applied (see [`PutOutcome::Deferred`]).
#[derive(Debug)]
pub struct DeferredPut {
    bucket: String,
    key: String,
    object: StoredObject,
}

/// One LIST request: keys starting with `prefix`, after `start_after`, at most `max_keys`
/// (clamped to `1..=`[`MAX_KEYS_PER_PAGE`]).
#[derive(Debug, Clone, Copy)]
pub struct ListRequest<'a> {
    /// Only keys starting with this.
    pub prefix: &'a str,
    /// Only keys sorting after this (a continuation token or `start-after`).
    pub start_after: Option<&'a str>,
    /// The page size asked for.
    pub max_keys: usize,
}

/// One object of a listing page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// Its key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its quoted ETag.
    pub etag: String,
    /// When it was written.
    pub modified: SystemTime,
}

/// One page of a listing, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The objects of this page.
    pub entries: Vec<ListEntry>,
    /// The page size used.
    pub max_keys: usize,
    /// Where the next page starts (the last key of this one), when more keys follow.
    pub next_token: Option<String>,
}

/// One object of a whole-bucket dump: key, ETag, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// Its key.
    pub key: String,
    /// Its quoted ETag.
    pub etag: String,
    /// Its payload.
    pub body: Bytes,
}

type Buckets = BTreeMap<String, BTreeMap<String, StoredObject>>;

/// An object store: buckets of objects under one mutex, a generation counter for ETags and
/// the test-only [`FaultMode`].
#[derive(Default)]
pub struct ObjectModel {
    buckets: Mutex<Buckets>,
    generation: AtomicU64,
    fault: AtomicU8,
}

impl ObjectModel {
    /// An empty store with no bucket.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Buckets> {
        // parking_lot does not poison, and every mutation is a single insert or remove, so a
        // panic elsewhere while the lock is held cannot leave the map half-written.
        self.buckets.lock()
    }

    /// Creates `bucket` unless it exists.
    pub fn create_bucket(&self, bucket: &str) {
        self.lock().entry(bucket.to_string()).or_default();
    }

    /// Whether `bucket` exists.
    pub fn has_bucket(&self, bucket: &str) -> bool {
        self.lock().contains_key(bucket)
    }

    /// The current fault mode.
    pub fn fault_mode(&self) -> FaultMode {
        match self.fault.load(Ordering::Relaxed) {
            1 => FaultMode::IgnoreConditions,
            2 => FaultMode::NonAtomic,
            _ => FaultMode::None,
        }
    }

    /// Breaks (or restores) conditional writes. Test-only; see [`FaultMode`].
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn set_fault_mode(&self, mode: FaultMode) {
        self.fault.store(mode as u8, Ordering::Relaxed);
    }

    fn next_etag(&self) -> String {
        let g = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        format!("\"{g:032x}\"")
    }

    /// PUT `object` at `bucket`/`key` if `conditions` hold, stamped `modified`. Every call
    /// draws a fresh ETag, even one that fails.
    pub fn put(
        &self,
        bucket: &str,
        key: &str,
        object: NewObject,
        conditions: &PutConditions,
        modified: SystemTime,
    ) -> Result<PutOutcome, ModelError> {
        let etag = self.next_etag();
        let stored = StoredObject {
            body: object.body,
            etag: etag.clone(),
            metadata: object.metadata,
            content_type: object.content_type,
            modified,
        };
        let fault = self.fault_mode();
        let mut buckets = self.lock();
        let objects = buckets
            .get_mut(bucket)
            .ok_or_else(|| ModelError::NoSuchBucket(bucket.to_string()))?;
        if fault != FaultMode::IgnoreConditions {
            check_conditions(conditions, objects.get(key))?;
        }
        if fault == FaultMode::NonAtomic {
            return Ok(PutOutcome::Deferred(DeferredPut {
                bucket: bucket.to_string(),
                key: key.to_string(),
                object: stored,
            }));
        }
        objects.insert(key.to_string(), stored);
        Ok(PutOutcome::Stored(etag))
    }

    /// Applies a write [`ObjectModel::put`] deferred, whatever happened to the key since.
    pub fn complete(&self, deferred: DeferredPut) -> Result<String, ModelError> {
        let DeferredPut {
            bucket,
            key,
            object,
        } = deferred;
        let mut buckets = self.lock();
        let objects = buckets
            .get_mut(&bucket)
            .ok_or(ModelError::NoSuchBucket(bucket))?;
        let etag = object.etag.clone();
        objects.insert(key, object);
        Ok(etag)
    }

    /// The object at `bucket`/`key` (a cheap clone: the body is shared).
    pub fn get(&self, bucket: &str, key: &str) -> Result<StoredObject, ModelError> {
        let buckets = self.lock();
        let objects = buckets
            .get(bucket)
            .ok_or_else(|| ModelError::NoSuchBucket(bucket.to_string()))?;
        objects.get(key).cloned().ok_or(ModelError::NoSuchKey)
    }

    /// Copies `from` to `to` in `bucket` as S3's CopyObject does: same body, metadata and
    /// content type, a fresh ETag, stamped `modified`. Returns the new ETag.
    pub fn copy(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        modified: SystemTime,
    ) -> Result<String, ModelError> {
        let etag = self.next_etag();
        let mut buckets = self.lock();
        let objects = buckets
            .get_mut(bucket)
            .ok_or_else(|| ModelError::NoSuchBucket(bucket.to_string()))?;
        let source = objects.get(from).ok_or(ModelError::NoSuchKey)?;
        let copy = StoredObject {
            etag: etag.clone(),
            modified,
            ..source.clone()
        };
        objects.insert(to.to_string(), copy);
        Ok(etag)
    }

    /// Deletes `bucket`/`key`; deleting a missing key succeeds, as on S3.
    pub fn delete(&self, bucket: &str, key: &str) -> Result<(), ModelError> {
        let mut buckets = self.lock();
        let objects = buckets
            .get_mut(bucket)
            .ok_or_else(|| ModelError::NoSuchBucket(bucket.to_string()))?;
        objects.remove(key);
        Ok(())
    }

    /// One page of the keys of `bucket` that `request` selects, in key order.
    pub fn list_page(
        &self,
        bucket: &str,
        request: ListRequest<'_>,
    ) -> Result<ListPage, ModelError> {
        let prefix = request.prefix;
        let start_after = request.start_after.unwrap_or_default();
        let max_keys = request.max_keys.clamp(1, MAX_KEYS_PER_PAGE);
        let buckets = self.lock();
        let objects = buckets
            .get(bucket)
            .ok_or_else(|| ModelError::NoSuchBucket(bucket.to_string()))?;
        // The page starts at the prefix (or just after `start_after`, whichever is later) and
        // stops at the first key outside the prefix: O(page), not O(all keys), under the lock
        // every other operation waits for.
        let start = if start_after >= prefix {
            Bound::Excluded(start_after)
        } else {
            Bound::Included(prefix)
        };
        let mut entries: Vec<ListEntry> = Vec::new();
        let mut next_token = None;
        for (key, obj) in objects
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
        {
            if entries.len() == max_keys {
                next_token = entries.last().map(|e| e.key.clone());
                break;
            }
            entries.push(ListEntry {
                key: key.clone(),
                size: obj.body.len() as u64,
                etag: obj.etag.clone(),
                modified: obj.modified,
            });
        }
        Ok(ListPage {
            entries,
            max_keys,
            next_token,
        })
    }

    /// Number of objects in `bucket` whose key starts with `prefix` (0 without the bucket).
    pub fn object_count(&self, bucket: &str, prefix: &str) -> usize {
        self.lock()
            .get(bucket)
            .map(|b| b.keys().filter(|k| k.starts_with(prefix)).count())
            .unwrap_or(0)
    }

    /// Every object of `bucket` in key order (empty without the bucket).
    pub fn objects(&self, bucket: &str) -> Vec<ObjectEntry> {
        self.lock()
            .get(bucket)
            .map(|b| {
                b.iter()
                    .map(|(key, obj)| ObjectEntry {
                        key: key.clone(),
                        etag: obj.etag.clone(),
                        body: obj.body.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Checks S3's conditional-write rules against the current object (if any).
fn check_conditions(
    conditions: &PutConditions,
    current: Option<&StoredObject>,
) -> Result<(), ModelError> {
    if let (Some(cond), Some(obj)) = (&conditions.if_none_match, current) {
        if cond.matches(&obj.etag) {
            return Err(ModelError::PreconditionFailed);
        }
    }
    if let Some(cond) = &conditions.if_match {
        match current {
            None => return Err(ModelError::NoSuchKey),
            Some(obj) if !cond.matches(&obj.etag) => return Err(ModelError::PreconditionFailed),
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "b";

    fn model() -> ObjectModel {
        let m = ObjectModel::new();
        m.create_bucket(B);
        m
    }

    fn put(m: &ObjectModel, key: &str, conditions: PutConditions) -> Result<String, ModelError> {
        let object = NewObject {
            body: Bytes::from_static(b"x"),
            ..NewObject::default()
        };
        match m.put(B, key, object, &conditions, SystemTime::UNIX_EPOCH)? {
            PutOutcome::Stored(etag) => Ok(etag),
            PutOutcome::Deferred(d) => m.complete(d),
        }
    }

    #[test]
    fn etags_are_unique_and_quoted_even_for_identical_bytes() {
        let m = model();
        let a = put(&m, "k", PutConditions::default()).expect("put");
        let b = put(&m, "k", PutConditions::default()).expect("put");
        assert_ne!(a, b);
        assert!(a.starts_with('"') && a.ends_with('"'));
    }

    #[test]
    fn non_atomic_defers_the_write() {
        let m = model();
        m.set_fault_mode(FaultMode::NonAtomic);
        let object = NewObject::default();
        let outcome = m
            .put(
                B,
                "k",
                object,
                &PutConditions::default(),
                SystemTime::UNIX_EPOCH,
            )
            .expect("checked");
        let PutOutcome::Deferred(deferred) = outcome else {
            panic!("NonAtomic must defer the write");
        };
        assert_eq!(m.get(B, "k"), Err(ModelError::NoSuchKey));
        m.complete(deferred).expect("applied");
        assert!(m.get(B, "k").is_ok());
    }
}
