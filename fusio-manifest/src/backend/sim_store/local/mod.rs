//! The `fs` answer mode of [`SimS3`]: every call answers as fusio 0.6.1's local filesystem
//! `TokioFs` (fusio `impls/disk/tokio/{fs.rs,mod.rs}`) does on Linux, and `head_metadata` as
//! fusio-manifest 0.6.1's `ObjectHead for TokioFs` (segment.rs:410-428) does over it.
//!
//! A key is a path from the filesystem root (fusio's `path_to_local` puts `a/b` at `/a/b`).
//! Files are inodes: a name points at one, an open file holds one, so a file opened before its
//! name was removed or replaced still reads the old bytes, as on a POSIX filesystem.
//! `put_conditional` writes a new inode and renames it over the name (fusio's `write_atomic`);
//! writes through a file land in its inode at once, at the file's position (or at the end when
//! opened without truncate: fusio opens with `append(!truncate)`). Directories exist once a
//! `put_conditional` or a create-open made them and are never removed (fusio's `remove` is
//! `remove_file`); `list` reads one directory's entries, subdirectories included. Errors are
//! the `io::Error`s Linux gives, with their errno.
//!
//! Every name's bytes are mirrored into the store's [`ObjectModel`] bucket after each change,
//! so [`SimS3::objects`] and [`SimS3::object_count`] (the final-store digest) read the same
//! model in both modes. What this mode does not show: the `.lock` and `.tmp-*` files fusio
//! creates beside a key during a `put_conditional` (every operation here is atomic, so they
//! are never seen and a `put_conditional` never finds another's lock), and the window between
//! a create-open's truncation and its first write (open and write land in one step unless
//! the caller waits in between).
//!
//! This file holds the calls; beside it are the directories, names and inodes they work on
//! (`inodes.rs`) and the segment header `head_metadata` reads (`segment.rs`).

mod inodes;
mod segment;

use std::io::{self, ErrorKind};
use std::time::SystemTime;

use bytes::Bytes;
use fusio::fs::{CasCondition, FileMeta, OpenOptions};
use fusio::path::Path;
use fusio::Error as FsError;
use parking_lot::{Mutex, MutexGuard};

use super::{YieldOnce, SIM_BUCKET};
use crate::backend::object_model::{FaultMode, NewObject, ObjectModel, PutConditions, PutOutcome};
use inodes::{os_error, parent, FsState, Lookup};
use segment::segment_headers;

/// The size `list` reports for a directory (a one-block ext4 directory).
pub const DIR_SIZE: u64 = 4096;

/// What `commit` on a local file answers (fusio's `TokioFile::commit`).
pub(super) const COMMIT_UNSUPPORTED: &str = "commit not applicable for local files";

/// What `open_options` without `create` answers for a missing path (fusio's `TokioFs`).
const OPEN_MISSING: &str = "Path not found and option.create is false";

/// The `fs`-mode state of one [`SimS3`].
pub(super) struct LocalFs {
    state: Mutex<FsState>,
}

impl LocalFs {
    pub(super) fn new() -> Self {
        Self {
            state: Mutex::new(FsState::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FsState> {
        self.state.lock()
    }

    /// Whether `key` is a directory.
    pub(super) fn is_dir(&self, key: &str) -> bool {
        self.lock().lookup(key) == Lookup::Dir
    }

    /// Copies the bytes of every name of `ino` into `model` (or deletes `removed` there).
    fn mirror(model: &ObjectModel, state: &FsState, ino: u64, now: SystemTime) {
        let Some(node) = state.inodes.get(&ino) else {
            return;
        };
        for name in &node.names {
            let object = NewObject {
                body: Bytes::copy_from_slice(&node.body),
                ..NewObject::default()
            };
            // The model's own fault modes concern its conditions; a mirror write has none.
            if let Ok(PutOutcome::Deferred(d)) =
                model.put(SIM_BUCKET, name, object, &PutConditions::default(), now)
            {
                let _ = model.complete(d);
            }
        }
    }

    fn unmirror(model: &ObjectModel, key: &str) {
        let _ = model.delete(SIM_BUCKET, key);
    }

    /// fusio's `TokioFs::load_with_tag`.
    pub(super) fn load_with_tag(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, FsError> {
        let state = self.lock();
        match state.lookup(key) {
            Lookup::File(ino) => Ok(Some((state.inode(ino).body.clone(), state.tag(ino)))),
            // `File::open` of a directory works; reading it is `EISDIR`.
            Lookup::Dir => Err(os_error(libc::EISDIR)),
            Lookup::Missing => Ok(None),
            Lookup::NotDir => Err(os_error(libc::ENOTDIR)),
        }
    }

    /// fusio's `TokioFs::put_conditional` (content type and metadata are ignored there).
    pub(super) async fn put_conditional(
        &self,
        model: &ObjectModel,
        key: &str,
        payload: &[u8],
        condition: &CasCondition,
        now: SystemTime,
    ) -> Result<String, FsError> {
        let fault = model.fault_mode();
        {
            let mut state = self.lock();
            state.make_parents(key)?;
            // `acquire_lock`: `create_new` of `KEY.lock`; one that exists fails the PUT.
            if state.lookup(&format!("{key}.lock")) != Lookup::Missing {
                return Err(FsError::PreconditionFailed);
            }
            if fault != FaultMode::IgnoreConditions {
                match (condition, state.lookup(key)) {
                    (CasCondition::IfNotExists, Lookup::Missing) => {}
                    (CasCondition::IfNotExists, _) => return Err(FsError::PreconditionFailed),
                    (CasCondition::IfMatch(tag), Lookup::File(ino)) if *tag == state.tag(ino) => {}
                    (CasCondition::IfMatch(_), _) => return Err(FsError::PreconditionFailed),
                }
            }
            if fault != FaultMode::NonAtomic {
                return Ok(Self::replace(model, &mut state, key, payload, now));
            }
        }
        // The broken store: the check above, the write after a turn of the scheduler.
        YieldOnce(false).await;
        let mut state = self.lock();
        Ok(Self::replace(model, &mut state, key, payload, now))
    }

    /// `write_atomic`: a new inode holding `payload`, renamed over `key`. Returns its tag.
    fn replace(
        model: &ObjectModel,
        state: &mut FsState,
        key: &str,
        payload: &[u8],
        now: SystemTime,
    ) -> String {
        let ino = state.new_inode(payload.to_vec(), now);
        state.bind(key, ino);
        Self::mirror(model, state, ino, now);
        state.tag(ino)
    }

    /// fusio-manifest's `ObjectHead for TokioFs`: a `load_with_tag`; for a `.json` key, the
    /// segment header (`txn_id`, first and last record key) read from the payload.
    pub(super) fn head_metadata(
        &self,
        path: &Path,
    ) -> Result<Option<std::collections::HashMap<String, String>>, FsError> {
        let Some((bytes, _)) = self.load_with_tag(path.as_ref())? else {
            return Ok(None);
        };
        if path.extension() != Some("json") {
            return Ok(None);
        }
        segment_headers(path, &bytes).map(Some)
    }

    /// fusio's `TokioFs::open_options` (then `TokioFile::new`).
    pub(super) fn open(
        &self,
        model: &ObjectModel,
        key: &str,
        options: &OpenOptions,
        now: SystemTime,
    ) -> Result<LocalFile, FsError> {
        let mut state = self.lock();
        let found = match state.lookup(key) {
            Lookup::Missing | Lookup::NotDir if !options.create => {
                return Err(FsError::Path(Box::new(io::Error::new(
                    ErrorKind::NotFound,
                    OPEN_MISSING,
                ))));
            }
            Lookup::Missing | Lookup::NotDir => {
                state.make_parents(key)?;
                // `File::create`: a new empty file.
                let ino = state.new_inode(Vec::new(), now);
                state.bind(key, ino);
                Self::mirror(model, &state, ino, now);
                Lookup::File(ino)
            }
            found => found,
        };
        // std's `OpenOptions`: fusio passes `append(!truncate)`; truncating needs write.
        if options.truncate && !options.write {
            return Err(os_error(libc::EINVAL));
        }
        let ino = match found {
            Lookup::File(ino) => ino,
            // Every mode fusio opens with writes, and a directory cannot be opened to write.
            _ => return Err(os_error(libc::EISDIR)),
        };
        if options.truncate {
            state.truncate(ino, now);
            Self::mirror(model, &state, ino, now);
        }
        if let Some(node) = state.inodes.get_mut(&ino) {
            node.open += 1;
        }
        Ok(LocalFile {
            ino,
            readable: options.read,
            append: !options.truncate,
            pos: 0,
        })
    }

    /// Releases an open file (its inode goes once nothing refers to it).
    pub(super) fn close_handle(&self, file: &LocalFile) {
        let mut state = self.lock();
        if let Some(node) = state.inodes.get_mut(&file.ino) {
            node.open = node.open.saturating_sub(1);
        }
        state.drop_if_unused(file.ino);
    }

    /// `write_all` through `file`: at the end (append) or at its position.
    pub(super) fn write(
        &self,
        model: &ObjectModel,
        file: &mut LocalFile,
        data: &[u8],
        now: SystemTime,
    ) -> Result<(), FsError> {
        if data.is_empty() {
            return Ok(());
        }
        let mut state = self.lock();
        let offset = if file.append {
            state.inode(file.ino).body.len()
        } else {
            file.pos
        };
        state.write_at(file.ino, offset, data, now);
        file.pos = offset + data.len();
        Self::mirror(model, &state, file.ino, now);
        Ok(())
    }

    /// `read_exact_at`: `pread` until `dst` is full; a short read is `UnexpectedEof` (the
    /// bytes read so far are in `dst`).
    pub(super) fn read_exact_at(
        &self,
        file: &LocalFile,
        dst: &mut [u8],
        pos: u64,
    ) -> Result<(), FsError> {
        if dst.is_empty() {
            return Ok(());
        }
        if !file.readable {
            return Err(os_error(libc::EBADF));
        }
        let state = self.lock();
        let body = &state.inode(file.ino).body;
        let start = usize::try_from(pos).unwrap_or(usize::MAX).min(body.len());
        let n = (body.len() - start).min(dst.len());
        dst[..n].copy_from_slice(&body[start..start + n]);
        if n < dst.len() {
            return Err(FsError::Io(io::Error::new(
                ErrorKind::UnexpectedEof,
                "failed to fill whole buffer",
            )));
        }
        Ok(())
    }

    /// `read_to_end_at`: `buf` becomes the bytes from `pos` to the end.
    ///
    /// # Panics
    /// When `pos` is past the end, as fusio 0.6.1's `TokioFile` does (`size - pos` overflows:
    /// a debug build panics on the subtraction, a release build on the resize).
    pub(super) fn read_to_end_at(
        &self,
        file: &LocalFile,
        buf: &mut Vec<u8>,
        pos: u64,
    ) -> Result<(), FsError> {
        let size = self.size(file);
        assert!(
            pos <= size,
            "fusio 0.6.1 TokioFile::read_to_end_at panics for pos {pos} past the end ({size})"
        );
        buf.resize((size - pos) as usize, 0);
        self.read_exact_at(file, buf, pos)
    }

    /// The file's length (`fstat`: its inode, whatever happened to its name).
    pub(super) fn size(&self, file: &LocalFile) -> u64 {
        self.lock().inode(file.ino).body.len() as u64
    }

    /// fusio's `TokioFs::remove` (`remove_file`).
    pub(super) fn remove(&self, model: &ObjectModel, key: &str) -> Result<(), FsError> {
        let mut state = self.lock();
        match state.lookup(key) {
            Lookup::File(ino) => {
                state.names.remove(key);
                state.release_name(ino, key);
                Self::unmirror(model, key);
                Ok(())
            }
            Lookup::Dir => Err(os_error(libc::EISDIR)),
            Lookup::Missing => Err(os_error(libc::ENOENT)),
            Lookup::NotDir => Err(os_error(libc::ENOTDIR)),
        }
    }

    /// fusio's `TokioFs::copy` (`std::fs::copy`): the target is created or truncated and
    /// rewritten in place.
    pub(super) fn copy(
        &self,
        model: &ObjectModel,
        from: &str,
        to: &str,
        now: SystemTime,
    ) -> Result<(), FsError> {
        let mut state = self.lock();
        let source = match state.lookup(from) {
            Lookup::File(ino) => ino,
            Lookup::Dir => {
                return Err(FsError::Io(io::Error::new(
                    ErrorKind::InvalidInput,
                    "the source path is neither a regular file nor a symlink to a regular file",
                )))
            }
            Lookup::Missing => return Err(os_error(libc::ENOENT)),
            Lookup::NotDir => return Err(os_error(libc::ENOTDIR)),
        };
        let target = match state.lookup(to) {
            Lookup::File(ino) => ino,
            Lookup::Dir => return Err(os_error(libc::EISDIR)),
            Lookup::NotDir => return Err(os_error(libc::ENOTDIR)),
            Lookup::Missing if !state.dirs.contains(parent(to)) => {
                return Err(os_error(libc::ENOENT))
            }
            Lookup::Missing => {
                let ino = state.new_inode(Vec::new(), now);
                state.bind(to, ino);
                ino
            }
        };
        // The target is truncated before the source is read: copying a file onto itself
        // empties it.
        state.truncate(target, now);
        let body = state.inode(source).body.clone();
        state.write_at(target, 0, &body, now);
        Self::mirror(model, &state, target, now);
        Ok(())
    }

    /// fusio's `TokioFs::link` (`hard_link`): a second name for the same inode.
    pub(super) fn link(
        &self,
        model: &ObjectModel,
        from: &str,
        to: &str,
        now: SystemTime,
    ) -> Result<(), FsError> {
        let mut state = self.lock();
        let source = match state.lookup(from) {
            Lookup::File(ino) => Some(ino),
            Lookup::Dir => None,
            Lookup::Missing => return Err(os_error(libc::ENOENT)),
            Lookup::NotDir => return Err(os_error(libc::ENOTDIR)),
        };
        match state.lookup(to) {
            Lookup::File(_) | Lookup::Dir => return Err(os_error(libc::EEXIST)),
            Lookup::NotDir => return Err(os_error(libc::ENOTDIR)),
            Lookup::Missing if !state.dirs.contains(parent(to)) => {
                return Err(os_error(libc::ENOENT))
            }
            Lookup::Missing => {}
        }
        let Some(ino) = source else {
            return Err(os_error(libc::EPERM));
        };
        state.bind(to, ino);
        if let Some(node) = state.inodes.get_mut(&ino) {
            node.ctime = now;
        }
        Self::mirror(model, &state, ino, now);
        Ok(())
    }

    /// fusio's `TokioFs::exists` (`try_exists`, errors as `Error::Path`).
    pub(super) fn exists(&self, key: &str) -> Result<bool, FsError> {
        match self.lock().lookup(key) {
            Lookup::File(_) | Lookup::Dir => Ok(true),
            Lookup::Missing => Ok(false),
            Lookup::NotDir => Err(FsError::Path(Box::new(io::Error::from_raw_os_error(
                libc::ENOTDIR,
            )))),
        }
    }

    /// fusio's `TokioFs::list`: the entries of directory `key` (files and subdirectories),
    /// read at once. A directory's order on disk is the filesystem's; here it is key order.
    pub(super) fn list(&self, key: &str) -> Result<Vec<FileMeta>, FsError> {
        let state = self.lock();
        match state.lookup(key) {
            Lookup::Dir => {}
            Lookup::Missing => return Err(os_error(libc::ENOENT)),
            Lookup::File(_) | Lookup::NotDir => return Err(os_error(libc::ENOTDIR)),
        }
        let prefix = if key.is_empty() {
            String::new()
        } else {
            format!("{key}/")
        };
        let child = |k: &str| k.len() > prefix.len() && !k[prefix.len()..].contains('/');
        let files = state
            .names
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| child(k))
            .map(|(k, ino)| (k.clone(), state.inode(*ino).body.len() as u64));
        let dirs = state
            .dirs
            .range(prefix.clone()..)
            .take_while(|k| k.starts_with(&prefix))
            .filter(|k| child(k))
            .map(|k| (k.clone(), DIR_SIZE));
        let mut entries: Vec<(String, u64)> = files.chain(dirs).collect();
        entries.sort();
        entries
            .into_iter()
            .map(|(k, size)| {
                Path::parse(&k)
                    .map(|path| FileMeta { path, size })
                    .map_err(|e| FsError::Path(Box::new(e)))
            })
            .collect()
    }
}

/// An open file of the `fs` mode: its inode, how it was opened, its position.
pub(super) struct LocalFile {
    ino: u64,
    readable: bool,
    append: bool,
    pos: usize,
}
