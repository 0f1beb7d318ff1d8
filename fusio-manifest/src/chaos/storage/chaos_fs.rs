//! [`ChaosFs`] and [`ChaosFile`]: a fusio filesystem and its files with every call sent
//! through a [`StorageLayer`] as the S3 operation it is (the mapping of calls to operations is
//! on [`crate::chaos::storage`]).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use fusio::fs::{CasCondition, FileMeta, FileSystemTag, Fs, FsCas, OpenOptions};
use fusio::path::Path;
use fusio::{Error as FsError, FileCommit, IoBuf, IoBufMut, Read, Write};
use fusio_core::MaybeSendFuture;
use fusio_manifest::ObjectHead;
use futures_util::{stream, Stream, TryStreamExt};

use super::layer::StorageLayer;
use crate::chaos::crash::Process;
use crate::chaos::S3OpKind;

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
    /// process's armed [`crate::chaos::CrashPoint`] kills the process and is never answered.
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
