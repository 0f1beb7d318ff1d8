//! What a [`SimS3`] answers to fusio's `Fs` and `FsCas` calls and to fusio-manifest's
//! `ObjectHead`: the `s3` mode over the shared object model, the `fs` mode over its
//! [`super::local`] filesystem (the tables are on [`SimS3`]).

use std::collections::HashMap;
use std::pin::Pin;

use fusio::fs::{CasCondition, FileMeta, FileSystemTag, Fs, FsCas, OpenOptions};
use fusio::path::Path;
use fusio::Error as FsError;
use fusio_core::MaybeSendFuture;
use fusio_manifest::ObjectHead;
use futures_util::{Stream, StreamExt};

use super::listing::Listing;
use super::{wire, SimFile, SimS3, SimStoreMode, SIM_BUCKET};
use crate::backend::object_model::ModelError;

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
