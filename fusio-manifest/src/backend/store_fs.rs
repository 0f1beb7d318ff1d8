//! [`StoreFs`]: the store a harness manifest runs on, fusio's S3 client or the simulated store,
//! so one manifest type (`ChaosFs<StoreFs>`) covers both the real and the simulated world.

use std::collections::HashMap;
use std::pin::Pin;

use fusio::fs::{CasCondition, FileMeta, FileSystemTag, Fs, FsCas, OpenOptions};
use fusio::path::Path;
use fusio::remotes::aws::fs::AmazonS3;
use fusio::remotes::aws::S3File;
use fusio::{Error as FsError, FileCommit, IoBuf, IoBufMut, Read, Write};
use fusio_core::MaybeSendFuture;
use fusio_manifest::ObjectHead;
use futures_util::{Stream, StreamExt};

use super::sim_store::{SimFile, SimS3};

/// fusio's S3 client (a real bucket or the embedded server, over HTTP) or a [`SimS3`] (in
/// process). Every trait call is passed to the one it holds.
#[derive(Clone)]
pub enum StoreFs {
    /// fusio's S3 client.
    S3(AmazonS3),
    /// The simulated store.
    Sim(SimS3),
}

impl From<AmazonS3> for StoreFs {
    fn from(s3: AmazonS3) -> Self {
        Self::S3(s3)
    }
}

impl From<SimS3> for StoreFs {
    fn from(sim: SimS3) -> Self {
        Self::Sim(sim)
    }
}

/// A file of a [`StoreFs`]: the file type of the store it came from.
pub enum StoreFile {
    /// A file of fusio's S3 client.
    S3(S3File),
    /// A file of the simulated store.
    Sim(SimFile),
}

impl Fs for StoreFs {
    type File = StoreFile;

    fn file_system(&self) -> FileSystemTag {
        match self {
            Self::S3(s3) => s3.file_system(),
            Self::Sim(sim) => sim.file_system(),
        }
    }

    async fn open_options(&self, path: &Path, options: OpenOptions) -> Result<StoreFile, FsError> {
        Ok(match self {
            Self::S3(s3) => StoreFile::S3(s3.open_options(path, options).await?),
            Self::Sim(sim) => StoreFile::Sim(sim.open_options(path, options).await?),
        })
    }

    async fn create_dir_all(_path: &Path) -> Result<(), FsError> {
        Ok(())
    }

    async fn list(
        &self,
        path: &Path,
    ) -> Result<impl Stream<Item = Result<FileMeta, FsError>>, FsError> {
        Ok(match self {
            Self::S3(s3) => s3.list(path).await?.left_stream(),
            Self::Sim(sim) => sim.list(path).await?.right_stream(),
        })
    }

    async fn remove(&self, path: &Path) -> Result<(), FsError> {
        match self {
            Self::S3(s3) => s3.remove(path).await,
            Self::Sim(sim) => sim.remove(path).await,
        }
    }

    async fn copy(&self, from: &Path, to: &Path) -> Result<(), FsError> {
        match self {
            Self::S3(s3) => s3.copy(from, to).await,
            Self::Sim(sim) => sim.copy(from, to).await,
        }
    }

    async fn link(&self, from: &Path, to: &Path) -> Result<(), FsError> {
        match self {
            Self::S3(s3) => s3.link(from, to).await,
            Self::Sim(sim) => sim.link(from, to).await,
        }
    }

    async fn exists(&self, path: &Path) -> Result<bool, FsError> {
        match self {
            Self::S3(s3) => s3.exists(path).await,
            Self::Sim(sim) => sim.exists(path).await,
        }
    }
}

type BoxFut<'a, T> = Pin<Box<dyn MaybeSendFuture<Output = Result<T, FsError>> + 'a>>;

impl FsCas for StoreFs {
    fn load_with_tag(&self, path: &Path) -> BoxFut<'_, Option<(Vec<u8>, String)>> {
        match self {
            Self::S3(s3) => s3.load_with_tag(path),
            Self::Sim(sim) => sim.load_with_tag(path),
        }
    }

    fn put_conditional(
        &self,
        path: &Path,
        payload: &[u8],
        content_type: Option<&str>,
        metadata: Option<Vec<(String, String)>>,
        condition: CasCondition,
    ) -> BoxFut<'_, String> {
        match self {
            Self::S3(s3) => s3.put_conditional(path, payload, content_type, metadata, condition),
            Self::Sim(sim) => sim.put_conditional(path, payload, content_type, metadata, condition),
        }
    }
}

impl ObjectHead for StoreFs {
    fn head_metadata<'a>(&'a self, path: &'a Path) -> BoxFut<'a, Option<HashMap<String, String>>> {
        match self {
            Self::S3(s3) => s3.head_metadata(path),
            Self::Sim(sim) => sim.head_metadata(path),
        }
    }
}

impl Read for StoreFile {
    async fn read_exact_at<B: IoBufMut>(&mut self, buf: B, pos: u64) -> (Result<(), FsError>, B) {
        match self {
            Self::S3(f) => f.read_exact_at(buf, pos).await,
            Self::Sim(f) => f.read_exact_at(buf, pos).await,
        }
    }

    async fn read_to_end_at(&mut self, buf: Vec<u8>, pos: u64) -> (Result<(), FsError>, Vec<u8>) {
        match self {
            Self::S3(f) => f.read_to_end_at(buf, pos).await,
            Self::Sim(f) => f.read_to_end_at(buf, pos).await,
        }
    }

    async fn size(&self) -> Result<u64, FsError> {
        match self {
            Self::S3(f) => f.size().await,
            Self::Sim(f) => f.size().await,
        }
    }
}

impl Write for StoreFile {
    async fn write_all<B: IoBuf>(&mut self, buf: B) -> (Result<(), FsError>, B) {
        match self {
            Self::S3(f) => f.write_all(buf).await,
            Self::Sim(f) => f.write_all(buf).await,
        }
    }

    async fn flush(&mut self) -> Result<(), FsError> {
        match self {
            Self::S3(f) => f.flush().await,
            Self::Sim(f) => f.flush().await,
        }
    }

    async fn close(&mut self) -> Result<(), FsError> {
        match self {
            Self::S3(f) => f.close().await,
            Self::Sim(f) => f.close().await,
        }
    }
}

impl FileCommit for StoreFile {
    async fn commit(&mut self) -> Result<(), FsError> {
        match self {
            Self::S3(f) => f.commit().await,
            Self::Sim(f) => f.commit().await,
        }
    }
}
