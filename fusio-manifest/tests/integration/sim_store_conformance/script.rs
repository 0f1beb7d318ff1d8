//! The script both stores run, and how its outcomes are normalised: ETags by the role they
//! play (the order they were first seen in), errors by `fusio::Error` variant, HTTP status and
//! the S3 error document's code and message.

use std::collections::BTreeMap;

use fusio::fs::{CasCondition, FileMeta, Fs, FsCas, OpenOptions};
use fusio::impls::remotes::http::HttpError;
use fusio::path::Path;
use fusio::{Error as FsError, FileCommit, Read, Write};
use fusio_manifest::ObjectHead;
use fusio_manifest_chaos::backend::StoreFs;
use futures_util::TryStreamExt;

/// Keys listed in bulk: more than one page of 1,000.
const BULK_KEYS: usize = 1_205;

/// A step's outcome, comparable across stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok(Value),
    Err(ErrorClass),
}

/// A successful answer, ETags replaced by their role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Unit,
    Bool(bool),
    Size(u64),
    Bytes(Vec<u8>),
    /// The ETag first seen at this position of the run (0 = the first ETag seen).
    Tag(usize),
    Loaded(Option<(Vec<u8>, usize)>),
    Metadata(Option<BTreeMap<String, String>>),
    Listing(Vec<(String, u64)>),
}

/// A failure: the `fusio::Error` variant with what is inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    PreconditionFailed,
    /// `Remote` or `Other` holding `HttpError::HttpNotSuccess`: status and the S3 error
    /// document's code and message.
    NotSuccess {
        variant: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    Io(std::io::ErrorKind),
    Unsupported(String),
    /// Anything else: its variant and message.
    Other(String),
}

/// The text of element `tag` in an S3 error document (empty when it has none, e.g. the
/// bodiless answer to a HEAD).
fn element(body: &str, tag: &str) -> String {
    body.split_once(&format!("<{tag}>"))
        .and_then(|(_, rest)| rest.split_once(&format!("</{tag}>")))
        .map(|(text, _)| text.to_string())
        .unwrap_or_default()
}

/// The comparable class of `e`.
pub fn classify(e: &FsError) -> ErrorClass {
    let inner = match e {
        FsError::PreconditionFailed => return ErrorClass::PreconditionFailed,
        FsError::Io(io) => return ErrorClass::Io(io.kind()),
        FsError::Unsupported { message } => return ErrorClass::Unsupported(message.clone()),
        FsError::Remote(inner) => ("Remote", inner),
        FsError::Other(inner) => ("Other", inner),
        other => return ErrorClass::Other(format!("{other:?}")),
    };
    match inner.1.downcast_ref::<HttpError>() {
        Some(HttpError::HttpNotSuccess { status, body }) => ErrorClass::NotSuccess {
            variant: inner.0,
            status: status.as_u16(),
            code: element(body, "Code"),
            message: element(body, "Message"),
        },
        _ => ErrorClass::Other(format!("{}: {}", inner.0, inner.1)),
    }
}

/// Runs steps on one store and records their outcomes.
struct Recorder<'a> {
    fs: &'a StoreFs,
    etags: Vec<String>,
    steps: Vec<(String, Outcome)>,
}

impl<'a> Recorder<'a> {
    fn new(fs: &'a StoreFs) -> Self {
        Self {
            fs,
            etags: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// The role of `etag`: the position it was first seen at in this run.
    fn role(&mut self, etag: &str) -> usize {
        match self.etags.iter().position(|e| e == etag) {
            Some(i) => i,
            None => {
                self.etags.push(etag.to_string());
                self.etags.len() - 1
            }
        }
    }

    fn record(&mut self, label: &str, outcome: Result<Value, FsError>) {
        let outcome = match outcome {
            Ok(v) => Outcome::Ok(v),
            Err(e) => Outcome::Err(classify(&e)),
        };
        self.steps.push((label.to_string(), outcome));
    }

    /// A conditional PUT with a content type and one metadata entry; returns the ETag it got
    /// (empty on failure).
    async fn put(&mut self, label: &str, key: &str, body: &str, cond: CasCondition) -> String {
        let meta = [("x-amz-meta-fusio-txn-id", body.len().to_string())];
        let meta = meta.map(|(k, v)| (k.to_string(), v));
        self.put_with(label, key, body, Some("text/plain"), &meta, cond)
            .await
    }

    /// A conditional PUT with the given headers.
    async fn put_with(
        &mut self,
        label: &str,
        key: &str,
        body: &str,
        content_type: Option<&str>,
        meta: &[(String, String)],
        cond: CasCondition,
    ) -> String {
        let result = self
            .fs
            .put_conditional(
                &path(key),
                body.as_bytes(),
                content_type,
                Some(meta.to_vec()),
                cond,
            )
            .await;
        let etag = result.as_ref().map(String::clone).unwrap_or_default();
        let result = result.map(|etag| Value::Tag(self.role(&etag)));
        self.record(label, result);
        etag
    }

    /// A GET with its ETag; returns the ETag (empty when missing or failed).
    async fn load(&mut self, label: &str, key: &str) -> String {
        let result = self.fs.load_with_tag(&path(key)).await;
        let etag = match &result {
            Ok(Some((_, etag))) => etag.clone(),
            _ => String::new(),
        };
        let result =
            result.map(|loaded| Value::Loaded(loaded.map(|(body, etag)| (body, self.role(&etag)))));
        self.record(label, result);
        etag
    }

    async fn head(&mut self, label: &str, key: &str) {
        let p = path(key);
        let meta = self.fs.head_metadata(&p).await;
        self.record(
            label,
            meta.map(|m| Value::Metadata(m.map(|m| m.into_iter().collect()))),
        );
        let exists = self.fs.exists(&p).await.map(Value::Bool);
        self.record(&format!("{label}: exists"), exists);
    }

    async fn list(&mut self, label: &str, prefix: &str) {
        let listed: Result<Vec<FileMeta>, FsError> =
            async { self.fs.list(&path(prefix)).await?.try_collect().await }.await;
        let listed = listed.map(|l| {
            Value::Listing(
                l.into_iter()
                    .map(|m| (m.path.to_string(), m.size))
                    .collect(),
            )
        });
        self.record(label, listed);
    }

    /// A file write: `chunks` buffered, then closed (or committed). Loads in between show
    /// that nothing is visible before the upload. Returns the ETag loaded after it.
    async fn write_file(
        &mut self,
        label: &str,
        key: &str,
        options: OpenOptions,
        chunks: &[&str],
        commit: bool,
    ) -> String {
        let mut file = match self.fs.open_options(&path(key), options).await {
            Ok(f) => f,
            Err(e) => {
                self.record(label, Err(e));
                return String::new();
            }
        };
        for chunk in chunks {
            let (written, _) = file.write_all(chunk.as_bytes().to_vec()).await;
            self.record(
                &format!("{label}: write {chunk:?}"),
                written.map(|()| Value::Unit),
            );
        }
        self.load(&format!("{label}: load before upload"), key)
            .await;
        let done = if commit {
            file.commit().await
        } else {
            file.close().await
        };
        self.record(&format!("{label}: upload"), done.map(|()| Value::Unit));
        self.load(&format!("{label}: load after upload"), key).await
    }

    /// Reads of `key` through a file: size, ranged reads, reads to the end.
    async fn read_file(&mut self, label: &str, key: &str, exact: &[(usize, u64)], to_end: &[u64]) {
        let mut file = match self
            .fs
            .open_options(&path(key), OpenOptions::default())
            .await
        {
            Ok(f) => f,
            Err(e) => return self.record(label, Err(e)),
        };
        let size = file.size().await.map(Value::Size);
        self.record(&format!("{label}: size"), size);
        for &(len, pos) in exact {
            let (result, buf) = file.read_exact_at(vec![0u8; len], pos).await;
            self.record(
                &format!("{label}: read_exact_at({len}, {pos})"),
                result.map(|()| Value::Bytes(buf)),
            );
        }
        for &pos in to_end {
            let (result, buf) = file.read_to_end_at(b"old bytes".to_vec(), pos).await;
            let buf = result.map(|()| Value::Bytes(buf.clone()));
            self.record(&format!("{label}: read_to_end_at({pos})"), buf);
        }
    }
}

fn path(key: &str) -> Path {
    Path::parse(key).expect("a valid key")
}

const IF_NONE_MATCH: CasCondition = CasCondition::IfNotExists;

fn if_match(tag: &str) -> CasCondition {
    CasCondition::IfMatch(tag.to_string())
}

/// The script, run on `fs`: every outcome, labelled.
pub async fn run_script(fs: &StoreFs) -> Vec<(String, Outcome)> {
    let mut r = Recorder::new(fs);
    let truncate = || OpenOptions::default().create(true).truncate(true);

    // Missing keys.
    r.load("load missing", "c/obj").await;
    r.head("head missing", "c/obj").await;
    r.read_file("read missing", "c/obj", &[(4, 0)], &[0]).await;

    // Conditional PUTs (the first failing condition is the If-None-Match below).
    let v1 = r
        .put("If-None-Match on a new key", "c/obj", "v1", IF_NONE_MATCH)
        .await;
    r.put(
        "If-None-Match on an existing key",
        "c/obj",
        "v1b",
        IF_NONE_MATCH,
    )
    .await;
    r.put("If-Match on a missing key", "c/other", "v0", if_match(&v1))
        .await;
    r.put(
        "If-Match * on a missing key",
        "c/other",
        "v0",
        if_match("*"),
    )
    .await;
    r.load("load after create", "c/obj").await;
    r.head("head present", "c/obj").await;
    r.put("If-Match current", "c/obj", "v2-longer", if_match(&v1))
        .await;
    r.put("If-Match stale", "c/obj", "v3", if_match(&v1)).await;
    r.put("If-Match another tag", "c/obj", "v3", if_match("\"feed\""))
        .await;
    r.put(
        "If-Match unparseable",
        "c/obj",
        "v3",
        if_match("not an etag"),
    )
    .await;
    r.put("If-Match *", "c/obj", "v4", if_match("*")).await;
    r.load("load after updates", "c/obj").await;

    // Files: invisible until uploaded; reads by range; overwrite; prefill.
    let append = || OpenOptions::default().write(true);
    let exact = [(5, 0), (5, 6), (5, 8), (5, 11), (1, 99), (0, 5)];
    let written = r
        .write_file(
            "write file",
            "c/file",
            truncate(),
            &["hello ", "world"],
            false,
        )
        .await;
    r.read_file("read file", "c/file", &exact, &[0, 6, 10, 11, 99])
        .await;
    r.write_file("write empty", "c/empty", truncate(), &[], false)
        .await;
    r.read_file("read empty", "c/empty", &[(1, 0)], &[0]).await;
    r.write_file(
        "overwrite by commit",
        "c/file",
        truncate(),
        &["again"],
        true,
    )
    .await;
    r.put(
        "If-Match before overwrite",
        "c/file",
        "x",
        if_match(&written),
    )
    .await;
    r.write_file("append", "c/obj", append(), &["+tail"], false)
        .await;
    r.head("head after append", "c/obj").await;
    r.write_file("append to missing", "c/new", append(), &["n"], false)
        .await;

    // Headers: metadata names are case-insensitive; bad names and values fail in the client.
    let meta = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let upper = meta(&[("X-Amz-Meta-Upper", "u"), ("x-amz-meta-", "dropped")]);
    r.put_with("metadata names", "c/meta", "m", None, &upper, IF_NONE_MATCH)
        .await;
    r.head("head metadata names", "c/meta").await;
    let bad = meta(&[("bad name", "v")]);
    r.put_with(
        "bad metadata name",
        "c/meta",
        "m",
        None,
        &bad,
        IF_NONE_MATCH,
    )
    .await;
    let bad = meta(&[("x-amz-meta-v", "a\nb")]);
    r.put_with(
        "bad metadata value",
        "c/meta",
        "m",
        None,
        &bad,
        IF_NONE_MATCH,
    )
    .await;
    r.put_with(
        "bad content type",
        "c/meta",
        "m",
        Some("a\nb"),
        &[],
        IF_NONE_MATCH,
    )
    .await;
    r.put("bad If-Match header", "c/meta", "m", if_match("\"a\nb\""))
        .await;

    // Listings: several pages, prefixes that are string prefixes of each other.
    for i in 0..BULK_KEYS {
        let key = format!("c/list/k{:05}", (i * 7919) % BULK_KEYS);
        let created = fs
            .put_conditional(&path(&key), b"b", None, None, IF_NONE_MATCH)
            .await;
        if let Err(e) = created {
            r.record(&format!("bulk put {key}"), Err(e));
        }
    }
    for key in [
        "c/lis",
        "c/list",
        "c/lista/x",
        "c/listing",
        "c/a/y",
        "c/ab/x",
    ] {
        r.put(&format!("put {key}"), key, "p", IF_NONE_MATCH).await;
    }
    for prefix in [
        "c/list",
        "c/list/",
        "c/list/k01",
        "c/a",
        "c/a/",
        "",
        "c/nothing",
    ] {
        r.list(&format!("list {prefix:?}"), prefix).await;
    }

    // Deletes.
    let removed = fs.remove(&path("c/file")).await.map(|()| Value::Unit);
    r.record("remove present", removed);
    let removed = fs.remove(&path("c/file")).await.map(|()| Value::Unit);
    r.record("remove missing", removed);
    r.load("load removed", "c/file").await;
    r.list("list after remove", "c/f").await;
    let linked = fs
        .link(&path("c/obj"), &path("c/link"))
        .await
        .map(|()| Value::Unit);
    r.record("link", linked);
    let tag = format!("{:?}", fs.file_system());
    r.record("file system", Ok(Value::Bytes(tag.into_bytes())));
    r.steps
}
