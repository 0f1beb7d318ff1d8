//! [`SimFile`]: a file of a [`SimS3`], with the behaviour of fusio's `S3File`.

use std::collections::BTreeMap;

use fusio::{Error as FsError, FileCommit, IoBuf, IoBufMut, Read, Write};

use super::local::LocalFile;
use super::{wire, SimS3};
use crate::backend::object_model::{ByteRange, NewObject, PutConditions};

/// An object being written: its bytes so far and the headers it will be sent with.
#[derive(Default)]
struct Upload {
    body: Vec<u8>,
    metadata: BTreeMap<String, String>,
    content_type: Option<String>,
}

/// A file of a [`SimS3`], as fusio's `S3File`: reads always GET the stored object (never the
/// bytes written so far); writes only buffer; `close` or `commit` uploads the buffer in one
/// plain PUT, after which the file is read-only. Opened for write without truncate, it starts
/// from the stored object's bytes, content type and metadata (fusio's prefill).
///
/// In the `fs` mode ([`super::SimStoreMode::Fs`]) it is fusio's `TokioFile` instead: an open
/// inode, written at once, `commit` unsupported (see `local`).
pub struct SimFile {
    store: SimS3,
    key: String,
    upload: Option<Upload>,
    local: Option<LocalFile>,
}

impl SimFile {
    /// A file on `key`; `writable`: opened with create or write; `prefill`: write without
    /// truncate, so the upload starts from the stored object, if any.
    pub(super) fn open(store: SimS3, key: String, writable: bool, prefill: bool) -> Self {
        let upload = writable.then(|| {
            let existing = if prefill { store.get(&key).ok() } else { None };
            existing.map_or_else(Upload::default, |obj| Upload {
                body: obj.body.to_vec(),
                metadata: obj.metadata,
                content_type: obj.content_type,
            })
        });
        Self {
            store,
            key,
            upload,
            local: None,
        }
    }

    /// A local file (the `fs` mode) on `key`.
    pub(super) fn local(store: SimS3, key: String, file: LocalFile) -> Self {
        Self {
            store,
            key,
            upload: None,
            local: Some(file),
        }
    }

    /// The bytes `range` selects of the stored object, or the error a ranged GET gives.
    fn get_range(&self, range: Result<ByteRange, FsError>) -> Result<bytes::Bytes, FsError> {
        let range = range?;
        let obj = self.store.get(&self.key).map_err(|e| wire::remote(&e))?;
        let (body, _) = obj.read_range(range).map_err(|e| wire::remote(&e))?;
        Ok(body)
    }

    /// Uploads what was written, once: the plain PUT of `close` and `commit`.
    async fn upload(&mut self) -> Result<(), FsError> {
        let Some(upload) = self.upload.take() else {
            return Ok(());
        };
        let object = NewObject {
            body: upload.body.into(),
            metadata: upload.metadata,
            content_type: upload.content_type,
        };
        self.store
            .put(&self.key, object, &PutConditions::default())
            .await
            .map(drop)
            .map_err(|e| wire::write_failed(&e))
    }
}

impl Read for SimFile {
    /// A GET of `Range: bytes=pos-(pos+len-1)`, computed with wrapping arithmetic as a release
    /// build of fusio does (a debug build of fusio panics on an empty buffer at `pos` 0).
    async fn read_exact_at<B: IoBufMut>(
        &mut self,
        mut buf: B,
        pos: u64,
    ) -> (Result<(), FsError>, B) {
        if let Some(file) = &self.local {
            let result = self
                .store
                .local()
                .read_exact_at(file, buf.as_slice_mut(), pos);
            return (result, buf);
        }
        let len = buf.bytes_init() as u64;
        let last = pos.wrapping_add(len).wrapping_sub(1);
        let body = match self.get_range(wire::range(pos, Some(last))) {
            Ok(body) => body,
            Err(e) => return (Err(e), buf),
        };
        let dst = buf.as_slice_mut();
        let n = body.len().min(dst.len());
        dst[..n].copy_from_slice(&body[..n]);
        if n < dst.len() {
            return (Err(wire::unexpected_eof()), buf);
        }
        (Ok(()), buf)
    }

    /// A GET of `Range: bytes=pos-`; on success `buf` holds exactly the bytes from `pos` (its
    /// old contents are replaced, as fusio's `S3File` does). An empty object, or `pos` at or
    /// past the end, is 416.
    async fn read_to_end_at(
        &mut self,
        mut buf: Vec<u8>,
        pos: u64,
    ) -> (Result<(), FsError>, Vec<u8>) {
        if let Some(file) = &self.local {
            let result = self.store.local().read_to_end_at(file, &mut buf, pos);
            return (result, buf);
        }
        match self.get_range(wire::range(pos, None)) {
            Ok(body) => {
                buf.clear();
                buf.extend_from_slice(&body);
                (Ok(()), buf)
            }
            Err(e) => (Err(e), buf),
        }
    }

    /// A HEAD's content length; a missing object is `Error::Other` with status 404.
    async fn size(&self) -> Result<u64, FsError> {
        if let Some(file) = &self.local {
            return Ok(self.store.local().size(file));
        }
        self.store
            .get(&self.key)
            .map(|obj| obj.body.len() as u64)
            .map_err(|e| wire::head_failed(&e))
    }
}

impl Write for SimFile {
    /// Buffers `buf`. Writing to a file opened read-only or already closed is an
    /// `Error::Other` here (fusio's `S3File` panics).
    async fn write_all<B: IoBuf>(&mut self, buf: B) -> (Result<(), FsError>, B) {
        if let Some(file) = &mut self.local {
            let now = self.store.now();
            let result = self.store.local_write(file, buf.as_slice(), now);
            return (result, buf);
        }
        match self.upload.as_mut() {
            Some(upload) => {
                upload.body.extend_from_slice(buf.as_slice());
                (Ok(()), buf)
            }
            None => (Err(FsError::Other("write file after closed".into())), buf),
        }
    }

    /// Nothing to do: the object is sent whole on close (fusio sends multipart parts beyond
    /// 5 MiB, which the embedded server does not implement).
    async fn flush(&mut self) -> Result<(), FsError> {
        Ok(())
    }

    /// Uploads the buffer (a plain PUT); later calls do nothing. A local file: nothing to
    /// do (fusio's `TokioFile` flushes; the file stays usable).
    async fn close(&mut self) -> Result<(), FsError> {
        self.upload().await
    }
}

impl FileCommit for SimFile {
    /// The same as `close`: the object appears now. A local file: `Unsupported`, as fusio's
    /// `TokioFile` answers.
    async fn commit(&mut self) -> Result<(), FsError> {
        if self.local.is_some() {
            return Err(FsError::Unsupported {
                message: super::local::COMMIT_UNSUPPORTED.to_string(),
            });
        }
        self.upload().await
    }
}

impl Drop for SimFile {
    /// A local file's inode goes once neither a name nor an open file refers to it.
    fn drop(&mut self) {
        if let Some(file) = &self.local {
            self.store.local().close_handle(file);
        }
    }
}
