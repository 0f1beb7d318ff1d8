//! The script the `fs` mode of the simulated store and fusio's `TokioFs` (in a temporary
//! directory) both run: every row of the `fs` table on `SimS3`. Keys live under a root
//! directory (the temporary directory's path; the simulated store uses the same keys), tags
//! are compared by the role they play for their key, directory sizes in listings (the
//! filesystem's own) are masked, and listings are sorted (a directory's order on disk is the
//! filesystem's).

use std::collections::BTreeMap;

use fusio::fs::{CasCondition, Fs, FsCas, OpenOptions};
use fusio::path::Path;
use fusio::{Error as FsError, FileCommit, Read, Write};
use fusio_manifest::ObjectHead;
use fusio_manifest_chaos::selfcheck::{self, HarnessFaults};
use futures_util::TryStreamExt;

use super::script::{classify, ErrorClass, Outcome, Value};

/// A store the script can run on: a filesystem with fusio-manifest's `ObjectHead`, whose
/// files can move into a task (to catch a panic).
pub trait Store:
    Fs<File: FileCommit + Send + 'static> + FsCas + ObjectHead + Clone + Send + Sync + 'static
{
}

impl<T> Store for T where
    T: Fs<File: FileCommit + Send + 'static> + FsCas + ObjectHead + Clone + Send + Sync + 'static
{
}

/// Runs steps on one store under `root` and records their outcomes.
struct Recorder<'a, F> {
    fs: &'a F,
    root: String,
    is_dir: &'a dyn Fn(&str) -> bool,
    /// Tags seen, per key, in the order first seen.
    tags: BTreeMap<String, Vec<String>>,
    steps: Vec<(String, Outcome)>,
}

fn panicked() -> ErrorClass {
    ErrorClass::Other("panicked".into())
}

impl<'a, F: Store> Recorder<'a, F> {
    fn key(&self, key: &str) -> String {
        format!("{}/{key}", self.root)
    }

    fn path(&self, key: &str) -> Path {
        Path::parse(self.key(key)).expect("a valid key")
    }

    /// The role of `tag` for `key`: the position it was first seen at for that key.
    fn role(&mut self, key: &str, tag: &str) -> usize {
        let seen = self.tags.entry(key.to_string()).or_default();
        match seen.iter().position(|t| t == tag) {
            Some(i) => i,
            None => {
                seen.push(tag.to_string());
                seen.len() - 1
            }
        }
    }

    /// An error with the root taken out of its text (messages name the full path).
    fn classify(&self, e: &FsError) -> ErrorClass {
        match classify(e) {
            ErrorClass::Other(text) => ErrorClass::Other(text.replace(&self.root, "ROOT")),
            class => class,
        }
    }

    fn record(&mut self, label: &str, outcome: Result<Value, FsError>) {
        let outcome = match outcome {
            Ok(v) => Outcome::Ok(v),
            Err(e) => Outcome::Err(self.classify(&e)),
        };
        self.steps.push((label.to_string(), outcome));
    }

    fn unit(&mut self, label: &str, result: Result<(), FsError>) {
        self.record(label, result.map(|()| Value::Unit));
    }

    /// A conditional PUT; returns the tag it got (empty on failure).
    async fn put(&mut self, label: &str, key: &str, body: &str, cond: CasCondition) -> String {
        let meta = vec![("x-amz-meta-fusio-txn-id".to_string(), "1".to_string())];
        let result = self
            .fs
            .put_conditional(
                &self.path(key),
                body.as_bytes(),
                Some("application/json"),
                Some(meta),
                cond,
            )
            .await;
        let tag = result.as_ref().map(String::clone).unwrap_or_default();
        let result = result.map(|tag| Value::Tag(self.role(key, &tag)));
        self.record(label, result);
        tag
    }

    /// A load with its tag; returns the tag (empty when missing or failed).
    async fn load(&mut self, label: &str, key: &str) -> String {
        let result = self.fs.load_with_tag(&self.path(key)).await;
        let tag = match &result {
            Ok(Some((_, tag))) => tag.clone(),
            _ => String::new(),
        };
        let result = result
            .map(|loaded| Value::Loaded(loaded.map(|(body, tag)| (body, self.role(key, &tag)))));
        self.record(label, result);
        tag
    }

    async fn head(&mut self, label: &str, key: &str) {
        let p = self.path(key);
        let meta = self.fs.head_metadata(&p).await;
        self.record(
            label,
            meta.map(|m| Value::Metadata(m.map(|m| m.into_iter().collect()))),
        );
    }

    async fn exists(&mut self, label: &str, key: &str) {
        let exists = self.fs.exists(&self.path(key)).await.map(Value::Bool);
        self.record(label, exists);
    }

    async fn list(&mut self, label: &str, key: &str) {
        let listed: Result<Vec<_>, FsError> =
            async { self.fs.list(&self.path(key)).await?.try_collect().await }.await;
        let root = format!("{}/", self.root);
        let listed = listed.map(|l| {
            let mut entries: Vec<(String, u64)> = l
                .into_iter()
                .map(|m| {
                    let path = m.path.to_string();
                    let size = if (self.is_dir)(&path) { 0 } else { m.size };
                    (path.replacen(&root, "", 1), size)
                })
                .collect();
            entries.sort();
            Value::Listing(entries)
        });
        self.record(label, listed);
    }

    async fn open(&mut self, label: &str, key: &str, options: OpenOptions) -> Option<F::File> {
        match self.fs.open_options(&self.path(key), options).await {
            Ok(f) => {
                self.record(label, Ok(Value::Unit));
                Some(f)
            }
            Err(e) => {
                self.record(label, Err(e));
                None
            }
        }
    }

    async fn write(&mut self, label: &str, file: &mut F::File, data: &str) {
        let (written, _) = file.write_all(data.as_bytes().to_vec()).await;
        self.unit(label, written);
    }

    async fn size(&mut self, label: &str, file: &F::File) {
        let size = file.size().await.map(Value::Size);
        self.record(label, size);
    }

    async fn read_exact(&mut self, label: &str, file: &mut F::File, len: usize, pos: u64) {
        let (result, buf) = file.read_exact_at(vec![0u8; len], pos).await;
        self.record(label, result.map(|()| Value::Bytes(buf)));
    }

    /// `read_to_end_at` in a task of its own, so a panic is an outcome; hands the file back
    /// unless it panicked. The task belongs to a self-check run of its own: a panic on a tokio
    /// worker outside any run's tasks would be a harness fault of every run in progress in
    /// this binary (`selfcheck`), and `TokioFs` panics here on purpose.
    async fn read_to_end(&mut self, label: &str, mut file: F::File, pos: u64) -> Option<F::File> {
        let read = async move {
            let (result, buf) = file.read_to_end_at(b"old bytes".to_vec(), pos).await;
            (result, buf, file)
        };
        let run = HarnessFaults::new();
        let task = run.scope(async { selfcheck::spawn(read).await }).await;
        match task {
            Ok((result, buf, file)) => {
                self.record(label, result.map(|()| Value::Bytes(buf)));
                Some(file)
            }
            Err(e) if e.is_panic() => {
                self.steps
                    .push((label.to_string(), Outcome::Err(panicked())));
                None
            }
            Err(e) => panic!("the read task failed: {e}"),
        }
    }

    async fn remove(&mut self, label: &str, key: &str) {
        let removed = self.fs.remove(&self.path(key)).await;
        self.unit(label, removed);
    }

    async fn copy(&mut self, label: &str, from: &str, to: &str) {
        let copied = self.fs.copy(&self.path(from), &self.path(to)).await;
        self.unit(label, copied);
    }

    async fn link(&mut self, label: &str, from: &str, to: &str) {
        let linked = self.fs.link(&self.path(from), &self.path(to)).await;
        self.unit(label, linked);
    }
}

const IF_NOT_EXISTS: CasCondition = CasCondition::IfNotExists;

fn if_match(tag: &str) -> CasCondition {
    CasCondition::IfMatch(tag.to_string())
}

/// How fusio-manifest writes checkpoints: create, truncate, write.
fn create() -> OpenOptions {
    OpenOptions::default()
        .create(true)
        .truncate(true)
        .write(true)
}

/// How fusio-manifest reads: the default options.
fn read() -> OpenOptions {
    OpenOptions::default()
}

/// The script, run on `fs` under directory `root` (a key without a leading slash, an
/// existing directory on a real filesystem); `is_dir` tells a listed path that is a
/// directory. Every outcome, labelled.
pub async fn run_fs_script<F: Store>(
    fs: &F,
    root: &str,
    is_dir: &dyn Fn(&str) -> bool,
) -> Vec<(String, Outcome)> {
    let mut r = Recorder {
        fs,
        root: root.to_string(),
        is_dir,
        tags: BTreeMap::new(),
        steps: Vec::new(),
    };
    // A PUT creates the directories of its key (the root, on the simulated store).
    r.put("put at the root", "setup", "s", IF_NOT_EXISTS).await;
    r.remove("remove at the root", "setup").await;

    // Missing keys.
    r.load("load missing", "d/obj").await;
    r.head("head missing", "d/obj").await;
    r.exists("exists missing", "d/obj").await;
    r.open("open missing without create", "d/obj", read()).await;
    r.remove("remove missing", "d/obj").await;
    r.copy("copy missing", "d/obj", "d/copy").await;
    r.link("link missing", "d/obj", "d/hard").await;
    r.list("list missing directory", "d").await;
    r.put("If-Match on a missing key", "d/obj", "v0", if_match("x"))
        .await;

    // Conditional PUTs.
    let v1 = r
        .put("If-None-Match on a new key", "d/obj", "v1", IF_NOT_EXISTS)
        .await;
    r.put(
        "If-None-Match on an existing key",
        "d/obj",
        "v1b",
        IF_NOT_EXISTS,
    )
    .await;
    r.load("load after create", "d/obj").await;
    r.head("head of a non-json key", "d/obj").await;
    r.exists("exists file", "d/obj").await;
    r.exists("exists directory", "d").await;
    let v2 = r
        .put("If-Match current", "d/obj", "v2-longer", if_match(&v1))
        .await;
    r.put("If-Match stale", "d/obj", "v3-much-longer", if_match(&v1))
        .await;
    r.put("If-Match another tag", "d/obj", "v3", if_match("feed"))
        .await;
    r.load("load after updates", "d/obj").await;
    r.put("If-None-Match on a directory", "d", "x", IF_NOT_EXISTS)
        .await;
    r.put("If-Match on a directory", "d", "x", if_match(&v2))
        .await;
    let locked = r
        .put("put beside a lock", "d/locked", "x", IF_NOT_EXISTS)
        .await;
    r.put("a KEY.lock file", "d/locked.lock", "l", IF_NOT_EXISTS)
        .await;
    r.put(
        "If-Match current while KEY.lock exists",
        "d/locked",
        "y",
        if_match(&locked),
    )
    .await;
    r.put("under a file", "d/obj/child", "x", IF_NOT_EXISTS)
        .await;
    r.put("two below a file", "d/obj/a/b", "x", IF_NOT_EXISTS)
        .await;
    r.exists("exists under a file", "d/obj/child").await;
    r.load("load under a file", "d/obj/child").await;
    r.load("load a directory", "d").await;

    // Segment headers of `.json` keys (fusio-manifest's ObjectHead for TokioFs).
    let segment = r#"{"txn_id":7,"records":[{"key":"a","value":1},{"key":"z","value":2}]}"#;
    r.put("segment", "d/seg-1.json", segment, IF_NOT_EXISTS)
        .await;
    r.head("head segment", "d/seg-1.json").await;
    r.put(
        "empty segment",
        "d/seg-2.json",
        r#"{"txn_id":8}"#,
        IF_NOT_EXISTS,
    )
    .await;
    r.head("head empty segment", "d/seg-2.json").await;
    r.put("a JSON array", "d/other.json", "[1]", IF_NOT_EXISTS)
        .await;
    r.head("head json array", "d/other.json").await;
    r.put("not a segment", "d/bad.json", "{}", IF_NOT_EXISTS)
        .await;
    r.head("head json not a segment", "d/bad.json").await;

    // Files: created at open, written at once, read by range, commit unsupported.
    if let Some(mut f) = r.open("create file", "d/f/file", create()).await {
        r.load("load after create-open", "d/f/file").await;
        r.write("write hello", &mut f, "hello ").await;
        r.load("load after one write", "d/f/file").await;
        r.write("write world", &mut f, "world").await;
        r.write("write nothing", &mut f, "").await;
        r.size("size", &f).await;
        r.read_exact("read_exact_at(5, 0)", &mut f, 5, 0).await;
        r.read_exact("read_exact_at(5, 6)", &mut f, 5, 6).await;
        r.read_exact("read_exact_at(5, 8) short", &mut f, 5, 8)
            .await;
        r.read_exact("read_exact_at(1, 99)", &mut f, 1, 99).await;
        r.read_exact("read_exact_at(0, 99)", &mut f, 0, 99).await;
        let f = r.read_to_end("read_to_end_at(0)", f, 0).await;
        let f = match f {
            Some(f) => r.read_to_end("read_to_end_at(6)", f, 6).await,
            None => None,
        };
        let f = match f {
            Some(f) => r.read_to_end("read_to_end_at(11) at the end", f, 11).await,
            None => None,
        };
        if let Some(mut f) = f {
            let committed = f.commit().await;
            r.unit("commit", committed);
            let closed = f.close().await;
            r.unit("close", closed);
            r.write("write after close", &mut f, "!").await;
            r.load("load after close", "d/f/file").await;
            r.read_to_end("read_to_end_at(99) past the end", f, 99)
                .await;
        }
    }
    if let Some(mut f) = r
        .open("open to append", "d/f/file", read().write(true))
        .await
    {
        r.write("append", &mut f, "+tail").await;
        r.load("load after append", "d/f/file").await;
    }
    if let Some(mut f) = r.open("reopen with truncate", "d/f/file", create()).await {
        r.load("load after truncate", "d/f/file").await;
        r.write("rewrite", &mut f, "abc").await;
        r.read_exact("read_exact_at(3, 0)", &mut f, 3, 0).await;
    }
    // The builder's `truncate` and `create` turn `write` on; the fields are public.
    let mut no_write = OpenOptions::default().create(true).truncate(true);
    no_write.write = false;
    r.open("truncate without write", "d/f/nowrite", no_write)
        .await;
    r.load("load after truncate without write", "d/f/nowrite")
        .await;
    r.open("open a directory", "d/f", read()).await;
    r.open("create under a file", "d/obj/x", create()).await;
    r.open("append-open a missing key", "d/f/new", read().write(true))
        .await;
    if let Some(mut f) = r
        .open("create-open an existing key", "d/obj", read().create(true))
        .await
    {
        r.size("size of existing", &f).await;
        r.write("append to existing", &mut f, "+").await;
        r.load("load after create-open append", "d/obj").await;
    }

    // An open file keeps its inode when the name is removed or replaced.
    let t = r.put("put kept", "d/kept", "kept-1", IF_NOT_EXISTS).await;
    if let Some(mut f) = r.open("open kept", "d/kept", read()).await {
        r.put("replace kept", "d/kept", "kept-two", if_match(&t))
            .await;
        r.read_exact("read replaced through open file", &mut f, 6, 0)
            .await;
        r.remove("remove kept", "d/kept").await;
        r.size("size of removed through open file", &f).await;
        r.read_exact("read removed through open file", &mut f, 6, 0)
            .await;
        r.write("write to removed through open file", &mut f, "x")
            .await;
        r.load("load removed", "d/kept").await;
    }

    // Copies and links.
    r.copy("copy", "d/obj", "d/copy").await;
    r.load("load copy", "d/copy").await;
    r.copy("copy onto existing", "d/f/file", "d/copy").await;
    r.load("load copy overwritten", "d/copy").await;
    r.copy("copy into a missing directory", "d/obj", "d/none/copy")
        .await;
    r.copy("copy a directory", "d/f", "d/dircopy").await;
    r.copy("copy onto a directory", "d/obj", "d/f").await;
    r.copy("copy onto itself", "d/copy", "d/copy").await;
    r.load("load self-copy", "d/copy").await;
    r.link("link", "d/obj", "d/hard").await;
    r.load("load link", "d/hard").await;
    r.link("link onto existing", "d/obj", "d/hard").await;
    r.link("link a directory", "d/f", "d/dirlink").await;
    r.link("link into a missing directory", "d/obj", "d/none/hard")
        .await;
    if let Some(mut f) = r
        .open("open a link to append", "d/hard", read().write(true))
        .await
    {
        r.write("append through the link", &mut f, "&").await;
        r.load("load the other name", "d/obj").await;
    }

    // Listings and removal.
    r.list("list", "d").await;
    r.list("list subdirectory", "d/f").await;
    r.list("list a file", "d/obj").await;
    r.list("list under a file", "d/obj/x").await;
    r.remove("remove a directory", "d/f").await;
    r.remove("remove a file", "d/f/file").await;
    r.remove("remove another", "d/f/nowrite").await;
    r.remove("remove the last", "d/f/new").await;
    r.list("list an emptied directory", "d/f").await;
    r.exists("exists emptied directory", "d/f").await;
    r.remove("remove under a file", "d/obj/x").await;
    let tag = format!("{:?}", fs.file_system());
    r.record("file system", Ok(Value::Bytes(tag.into_bytes())));
    r.steps
}
