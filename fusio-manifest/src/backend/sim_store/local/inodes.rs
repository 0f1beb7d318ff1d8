//! The simulated filesystem of the `fs` mode: its directories, the names in them and the
//! inodes the names point at, with the lookups and changes the calls of [`super::LocalFs`]
//! are made of, and the errno errors they give.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::time::SystemTime;

use fusio::Error as FsError;

/// The `io::Error` Linux gives for `errno`.
pub(super) fn os_error(errno: i32) -> FsError {
    FsError::Io(io::Error::from_raw_os_error(errno))
}

/// One file's content and times. It lives while a name or an open file refers to it.
pub(super) struct Inode {
    pub(super) body: Vec<u8>,
    mtime: SystemTime,
    pub(super) ctime: SystemTime,
    pub(super) names: BTreeSet<String>,
    pub(super) open: u32,
}

/// What a path resolves to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    File(u64),
    Dir,
    Missing,
    /// An ancestor is a file (`ENOTDIR`).
    NotDir,
}

/// Directories, names and inodes of the simulated filesystem.
pub(super) struct FsState {
    pub(super) dirs: BTreeSet<String>,
    pub(super) names: BTreeMap<String, u64>,
    pub(super) inodes: BTreeMap<u64, Inode>,
    next_ino: u64,
}

/// The parent of `key` (`""`: the root).
pub(super) fn parent(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(p, _)| p)
}

/// Every proper ancestor directory of `key`, from the root down (the root `""` excluded).
fn ancestors(key: &str) -> impl Iterator<Item = &str> {
    key.match_indices('/').map(move |(i, _)| &key[..i])
}

/// Seconds and nanoseconds since the epoch, as `stat` reports them.
fn split_time(t: SystemTime) -> (u64, u32) {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    (d.as_secs(), d.subsec_nanos())
}

impl FsState {
    /// A filesystem holding only the root directory.
    pub(super) fn new() -> Self {
        Self {
            dirs: BTreeSet::from([String::new()]),
            names: BTreeMap::new(),
            inodes: BTreeMap::new(),
            next_ino: 1,
        }
    }

    /// What `key` resolves to.
    pub(super) fn lookup(&self, key: &str) -> Lookup {
        if ancestors(key).any(|a| self.names.contains_key(a)) {
            return Lookup::NotDir;
        }
        match self.names.get(key) {
            Some(&ino) => Lookup::File(ino),
            None if self.dirs.contains(key) => Lookup::Dir,
            None => Lookup::Missing,
        }
    }

    /// The inode numbered `ino`, which must exist.
    pub(super) fn inode(&self, ino: u64) -> &Inode {
        &self.inodes[&ino]
    }

    /// `stat`'s tag of fusio's `metadata_tag`: length, mtime, ctime, inode number.
    pub(super) fn tag(&self, ino: u64) -> String {
        let node = self.inode(ino);
        let (ms, mn) = split_time(node.mtime);
        let (cs, cn) = split_time(node.ctime);
        format!(
            "{:016x}:{ms:016x}:{mn:08x}:{cs:016x}:{cn:08x}:{ino:016x}",
            node.body.len()
        )
    }

    /// `create_dir_all(parent of key)`: its first `mkdir` is of the parent itself, which
    /// fails with `EEXIST` when the parent is a file, `ENOTDIR` when an ancestor of it is.
    pub(super) fn make_parents(&mut self, key: &str) -> Result<(), FsError> {
        let parent = parent(key);
        if self.names.contains_key(parent) {
            return Err(os_error(libc::EEXIST));
        }
        if ancestors(parent).any(|a| self.names.contains_key(a)) {
            return Err(os_error(libc::ENOTDIR));
        }
        for dir in ancestors(key) {
            self.dirs.insert(dir.to_string());
        }
        Ok(())
    }

    /// A new inode holding `body`, stamped `now`, with no name yet; returns its number.
    pub(super) fn new_inode(&mut self, body: Vec<u8>, now: SystemTime) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        let node = Inode {
            body,
            mtime: now,
            ctime: now,
            names: BTreeSet::new(),
            open: 0,
        };
        self.inodes.insert(ino, node);
        ino
    }

    /// Points `key` at `ino` (rename over, or link): the inode it pointed at loses the name.
    pub(super) fn bind(&mut self, key: &str, ino: u64) {
        if let Some(old) = self.names.insert(key.to_string(), ino) {
            self.release_name(old, key);
        }
        if let Some(node) = self.inodes.get_mut(&ino) {
            node.names.insert(key.to_string());
        }
    }

    /// Takes `key` off the names of `ino`, which goes once nothing refers to it.
    pub(super) fn release_name(&mut self, ino: u64, key: &str) {
        if let Some(node) = self.inodes.get_mut(&ino) {
            node.names.remove(key);
        }
        self.drop_if_unused(ino);
    }

    /// Drops `ino` once no name and no open file refers to it.
    pub(super) fn drop_if_unused(&mut self, ino: u64) {
        if self
            .inodes
            .get(&ino)
            .is_some_and(|n| n.names.is_empty() && n.open == 0)
        {
            self.inodes.remove(&ino);
        }
    }

    /// Writes `data` at `offset` (zero-filling a gap), stamped `now`.
    pub(super) fn write_at(&mut self, ino: u64, offset: usize, data: &[u8], now: SystemTime) {
        let Some(node) = self.inodes.get_mut(&ino) else {
            return;
        };
        let end = offset + data.len();
        if node.body.len() < end {
            node.body.resize(end, 0);
        }
        node.body[offset..end].copy_from_slice(data);
        node.mtime = now;
        node.ctime = now;
    }

    /// Empties `ino`, stamped `now`.
    pub(super) fn truncate(&mut self, ino: u64, now: SystemTime) {
        if let Some(node) = self.inodes.get_mut(&ino) {
            node.body.clear();
            node.mtime = now;
            node.ctime = now;
        }
    }
}
