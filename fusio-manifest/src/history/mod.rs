//! The operation history of a run: what every client invoked, saw and was told, recorded as
//! JSON Lines and checked offline by [`crate::checker`].
//!
//! # File format
//!
//! One JSON object per line (UTF-8, `\n`-terminated; blank lines are ignored). The `type` field
//! names the event; the other fields depend on it. Optional fields may be omitted or `null`.
//! `t_us` is a monotonic timestamp: microseconds since the run started, from one clock shared
//! by every client ([`now_us`]).
//!
//! | `type` | fields | written |
//! | --- | --- | --- |
//! | `invoke` | `client`, `op`, `attempt`, `kind` (`write`/`read`), `t_us`, `key`? | when an attempt (write) or an operation (read, `attempt` 0) starts |
//! | `write` | `client`, `op`, `attempt`, `t_us`, `outcome`, `key`, `snapshot_txn`?, `read_done`, `read`?, `wrote`, `txn_id`?, `error`? | when a write attempt ends |
//! | `txn` | `client`, `op`, `attempt`, `t_us`, `outcome`, `snapshot_txn`?, `reads`, `puts`, `deletes`, `wrote`, `txn_id`?, `error`? | when a multi-key write transaction attempt ends |
//! | `read` | `client`, `op`, `t_us`, `outcome`, `snapshot_txn`?, `scan`, `reads`, `error`?, `range`? | when a read operation ends |
//! | `compact` | `client`, `started_us`, `t_us`, `outcome`, `checkpoint`?, `error`? | when a compactor's pass (`compact_and_gc`) ends; the checker does not judge it (a compaction changes no value) |
//! | `fault` | `t_us`, `point` | after the workload, one per fault the run injected, in the order injected: the fault point that injects exactly it (`CHAOS_FAULT_POINTS` grammar); the checker does not judge it |
//! | `final` | `t_us`, `head_txn`, `state` | once, after the workload: a full scan at the latest snapshot |
//!
//! Field meanings:
//! - `client`: `w0`, `w1`, ... for writers, `r0`, `r1`, ... for readers, `p0`, ... for pinned
//!   readers (one `read` per pinned session), `c0`, ... for compactors; `op`: the client's
//!   operation number; `attempt`: 0 for the first attempt of an operation, +1 per retry.
//! - `outcome`: `ok` (committed / read succeeded), `fail` (definite: the write was NOT
//!   applied, e.g. `PreconditionFailed`), `info` (indeterminate: the write may or may not have
//!   been applied).
//! - `snapshot_txn`: the txn id of the session's snapshot (HEAD's `last_txn_id` when the
//!   session opened); absent if the session never opened.
//! - `read_done` / `read`: whether the writer's read of `key` returned, and the value id it saw
//!   (absent/`null` = the key had no value).
//! - `wrote`: the value id the attempt put (always `client:op:attempt`, see [`make_value`]).
//! - `txn_id`: the txn id of the commit, on `ok` (it must be `snapshot_txn + 1`).
//! - `reads`: `[key, value id or null]` pairs in the order the session returned them (a scan's
//!   in key order: fusio-manifest returns scans in hash-map order); `scan`
//!   is true when they came from a scan, of every key or, with `range` `[from, to]`, of the
//!   keys `from <= key < to` (then keys of that range missing from it count as reads of no
//!   value).
//! - `puts` / `deletes` (a `txn`): the keys the transaction put `wrote` into, and the keys it
//!   deleted; its `reads` are those it made before writing. A `txn`'s `invoke` has kind `write`
//!   and no `key`.
//! - `head_txn` / `state`: HEAD's `last_txn_id` and the `[key, value id]` pairs of the final
//!   scan, in key order.
//!
//! Example:
//!
//! ```text
//! {"type":"invoke","client":"w0","op":1,"attempt":0,"kind":"write","t_us":1200,"key":"k00042"}
//! {"type":"write","client":"w0","op":1,"attempt":0,"t_us":9800,"outcome":"ok","key":"k00042","snapshot_txn":6,"read_done":true,"read":"w3:4:0","wrote":"w0:1:0","txn_id":7}
//! {"type":"invoke","client":"r0","op":3,"attempt":0,"kind":"read","t_us":9900}
//! {"type":"read","client":"r0","op":3,"t_us":12000,"outcome":"ok","snapshot_txn":7,"scan":false,"reads":[["k00042","w0:1:0"],["k00007",null]]}
//! {"type":"final","t_us":900000,"head_txn":7,"state":[["k00042","w0:1:0"]]}
//! ```
//!
//! # Recording rules (what the checker relies on)
//!
//! - Record an attempt's `invoke` before opening its session, and its completion after its
//!   outcome is known, with `t_us` from one clock: real-time checks compare them.
//! - Every write `invoke` gets a `write` completion, even on a timeout or cancellation (then
//!   `info`), with `snapshot_txn` as soon as the session opened. An attempt that never
//!   completes counts as indeterminate with an unknown snapshot.
//! - `wrote` is exactly `client:op:attempt` (the checker derives the value id of an `invoke`
//!   that way), unique in the run, and the stored value is [`make_value`] of it; readers record
//!   [`value_id`] of what they read.
//! - An `ok` write carries `txn_id` from the commit (`CommitOutcome.head.last_txn_id`); `fail`
//!   only when the write was definitely not applied.
//! - Every commit under the manifest's prefix comes from a recorded attempt (a fresh prefix per
//!   run): any other commit shows up as unexplained txns or garbage reads.
//! - The `final` event is a full scan in one read session; `head_txn` is its snapshot.
//!
//! # Recording
//!
//! [`HistoryRecorder`] is a cheap, cloneable handle: [`HistoryRecorder::record`] hands the
//! event to a dedicated writer thread through a bounded channel, which serializes and buffers
//! it; [`HistoryWriter::finish`] flushes, fsyncs and joins. Events are written in the order
//! `record` was called, so an attempt's `invoke` precedes its completion when both are recorded
//! by the same task.
//!
//! # Reading
//!
//! A file is read in batches of whole lines (about 1 MiB each, more for a longer line). The
//! `invoke`, `write` and `read` lines in the form the recorder writes them are parsed by hand
//! into spans of the batch's text, without allocating; any other line goes to
//! `serde_json::from_str::<Event>`, which accepts or rejects it exactly as it always did (see
//! `parse.rs`). [`read_history`] streams the events back as owned [`Event`]s, one batch in
//! memory at a time. [`crate::checker::check_file`] reads and parses on a helper thread while
//! the calling thread checks: batches go through a bounded channel (at most 4 ahead), so the
//! memory stays bounded whatever the file's size, and the checker takes each event as a
//! borrowed view of its batch, in file order. A line that is not valid UTF-8 or not a valid
//! event is an error naming the file and the line (1-based), after which reading stops.

mod parse;
mod read;
mod span;
#[cfg(test)]
mod tests;
mod view;

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use parking_lot::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

use crate::world::clock;
use serde::{Deserialize, Serialize};

pub(crate) use read::{for_each_event, READER_THREAD_NAME};
pub use read::{read_history, HistoryError, HistoryReader};
pub(crate) use view::{EventRef, Reads};

/// What kind of operation an `invoke` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// A write attempt: session, read of the key, put, commit.
    Write,
    /// A read operation: read session, gets (or a scan), end.
    Read,
}

/// How an attempt or operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Succeeded: a write committed (its `txn_id` is known), a read returned its values.
    Ok,
    /// Definitely failed: a write was not applied (e.g. `PreconditionFailed`).
    Fail,
    /// Indeterminate: a write may or may not have been applied (any other error, a timeout).
    Info,
}

/// One line of the history file. See the [module docs](self) for the format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An attempt (write) or an operation (read) starts.
    Invoke {
        /// Client id (`w0`, `r3`, ...).
        client: String,
        /// The client's operation number.
        op: u64,
        /// Attempt number within the operation (0 for reads).
        attempt: u32,
        /// Write attempt or read operation.
        kind: OpKind,
        /// Invocation time, microseconds since the run started.
        t_us: u64,
        /// The key a write attempt will write.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// A write attempt ended.
    Write {
        /// Client id.
        client: String,
        /// The client's operation number.
        op: u64,
        /// Attempt number within the operation.
        attempt: u32,
        /// Completion time, microseconds since the run started.
        t_us: u64,
        /// `ok`, `fail` (not applied) or `info` (maybe applied).
        outcome: Outcome,
        /// The key read and written.
        key: String,
        /// Txn id of the write session's snapshot; `None` if the session never opened.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot_txn: Option<u64>,
        /// Whether the read of `key` in the session returned.
        #[serde(default)]
        read_done: bool,
        /// Value id read from `key` (`None`: no value); meaningful only if `read_done`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        read: Option<String>,
        /// Value id put into `key`.
        wrote: String,
        /// Txn id of the commit, on `ok`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        txn_id: Option<u64>,
        /// The error, on `fail` or `info`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A read operation ended.
    Read {
        /// Client id.
        client: String,
        /// The client's operation number.
        op: u64,
        /// Completion time, microseconds since the run started.
        t_us: u64,
        /// `ok` when every read returned; otherwise `fail`/`info`.
        outcome: Outcome,
        /// Txn id of the read session's snapshot; `None` if the session never opened.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot_txn: Option<u64>,
        /// Whether `reads` is a full scan (keys missing from it had no value).
        #[serde(default)]
        scan: bool,
        /// `(key, value id)` pairs in the order returned; `None`: the key had no value.
        #[serde(default)]
        reads: Vec<(String, Option<String>)>,
        /// The error, if not `ok`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// For a range scan (`scan` true): the scanned keys, `[from, to)`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        range: Option<(String, String)>,
    },
    /// A multi-key write transaction attempt ended: it read some keys, then put its value
    /// into some and deleted others, and committed.
    Txn {
        /// Client id.
        client: String,
        /// The client's operation number.
        op: u64,
        /// Attempt number within the operation.
        attempt: u32,
        /// Completion time, microseconds since the run started.
        t_us: u64,
        /// `ok`, `fail` (not applied) or `info` (maybe applied).
        outcome: Outcome,
        /// Txn id of the session's snapshot; `None` if the session never opened.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot_txn: Option<u64>,
        /// The reads that returned, `(key, value id or none)`, in the order they were made.
        #[serde(default)]
        reads: Vec<(String, Option<String>)>,
        /// The keys the transaction put its value into.
        #[serde(default)]
        puts: Vec<String>,
        /// The keys the transaction deleted.
        #[serde(default)]
        deletes: Vec<String>,
        /// Value id put into every key of `puts`.
        wrote: String,
        /// Txn id of the commit, on `ok`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        txn_id: Option<u64>,
        /// The error, on `fail` or `info`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// One pass of a compactor (`compact_and_gc`) ended.
    Compact {
        /// Compactor id (`c0`, `c1`, ...).
        client: String,
        /// When the pass started, microseconds since the run started.
        started_us: u64,
        /// When it ended.
        t_us: u64,
        /// `ok`, or `info` on an error (a compaction may have been published anyway).
        outcome: Outcome,
        /// The newest run (checkpoint) id the pass left in HEAD, on `ok`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checkpoint: Option<String>,
        /// The error, on `info`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A fault the run injected, as the fault point that injects exactly it again
    /// ([`crate::chaos::fault_log`]); the checker does not judge it.
    Fault {
        /// When it was injected, microseconds since the run started.
        t_us: u64,
        /// The point, e.g. `condput:HEAD.json#3=answer_lost`.
        point: String,
    },
    /// The final state, read once after the workload.
    Final {
        /// When the final scan completed, microseconds since the run started.
        t_us: u64,
        /// HEAD's `last_txn_id` (the final scan's snapshot).
        head_txn: u64,
        /// `(key, value id)` pairs in key order.
        state: Vec<(String, String)>,
    },
}

/// Microseconds elapsed since `start` (the run's clock for `t_us`), saturating.
pub fn now_us(start: Instant) -> u64 {
    u64::try_from(clock::since(start).as_micros()).unwrap_or(u64::MAX)
}

/// The value stored by a write attempt: `"{value_id}|prev={prev or -}|"` padded with `.` to at
/// least `size` bytes. `value_id` is `client:op:attempt` and must not contain `|`.
pub fn make_value(value_id: &str, prev: Option<&str>, size: usize) -> String {
    let prev = prev.unwrap_or("-");
    let head = value_id.len() + prev.len() + 7;
    let mut v = String::with_capacity(head.max(size));
    v.push_str(value_id);
    v.push_str("|prev=");
    v.push_str(prev);
    v.push('|');
    while v.len() < size {
        v.push('.');
    }
    v
}

/// The value id of a stored value: the text before the first `|` when it has the
/// `client:op:attempt` shape. Any other value (no `|`, or a malformed id) is returned
/// truncated to at most 64 bytes (on a char boundary); normally no writer wrote such an id, so
/// the checker reports it as a garbage read.
pub fn value_id(value: &str) -> &str {
    if let Some((id, _)) = value.split_once('|') {
        if is_value_id(id) {
            return id;
        }
    }
    let mut end = value.len().min(64);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// Whether `id` is `client:op:attempt` (client non-empty without `:` or `|`, op and attempt
/// decimal numbers).
fn is_value_id(id: &str) -> bool {
    let mut parts = id.split(':');
    let digits =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    matches!(parts.next(), Some(c) if !c.is_empty())
        && digits(parts.next())
        && digits(parts.next())
        && parts.next().is_none()
}

/// Capacity of the channel between recorders and the writer thread; `record` blocks only when
/// the writer thread is this many events behind.
const CHANNEL_CAPACITY: usize = 1 << 16;

/// Name of a recorder's writer thread; [`crate::selfcheck`] counts a thread so named as the
/// harness's.
pub(crate) const WRITER_THREAD_NAME: &str = "history-writer";

enum Msg {
    Event(Box<Event>),
    Finish,
}

#[derive(Clone)]
enum Sink {
    File(SyncSender<Msg>),
    Memory(Arc<Mutex<Vec<Event>>>),
}

/// A cheap, cloneable, thread-safe handle that records history events.
///
/// A file recorder sends each event to a dedicated writer thread (serialization and I/O happen
/// there); an in-memory recorder ([`HistoryRecorder::in_memory`]) appends to a shared vector.
/// Events recorded after [`HistoryWriter::finish`] are dropped.
#[derive(Clone)]
pub struct HistoryRecorder {
    sink: Sink,
}

impl fmt::Debug for HistoryRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.sink {
            Sink::File(_) => "file",
            Sink::Memory(_) => "memory",
        };
        f.debug_struct("HistoryRecorder")
            .field("sink", &kind)
            .finish()
    }
}

/// Owner of a file recorder's writer thread; [`finish`](HistoryWriter::finish) it after the
/// last event was recorded.
#[derive(Debug)]
pub struct HistoryWriter {
    tx: SyncSender<Msg>,
    thread: JoinHandle<io::Result<u64>>,
}

/// The events of an in-memory recorder.
#[derive(Debug, Clone)]
pub struct MemoryHistory {
    events: Arc<Mutex<Vec<Event>>>,
}

impl HistoryRecorder {
    /// Creates (truncates) the JSON Lines file at `path`, and its folder if missing, and
    /// starts its writer thread.
    pub fn create(path: impl AsRef<Path>) -> io::Result<(HistoryRecorder, HistoryWriter)> {
        if let Some(dir) = path.as_ref().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::create(path.as_ref())?;
        let (tx, rx) = sync_channel(CHANNEL_CAPACITY);
        let thread = std::thread::Builder::new()
            .name(WRITER_THREAD_NAME.into())
            .spawn(move || write_events(rx, file))?;
        let recorder = HistoryRecorder {
            sink: Sink::File(tx.clone()),
        };
        Ok((recorder, HistoryWriter { tx, thread }))
    }

    /// A recorder that keeps the events in memory (for tests and small runs).
    pub fn in_memory() -> (HistoryRecorder, MemoryHistory) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let recorder = HistoryRecorder {
            sink: Sink::Memory(events.clone()),
        };
        (recorder, MemoryHistory { events })
    }

    /// Records `event`. Cheap: it only moves the event into a channel (blocking only if the
    /// writer thread is far behind) or a vector.
    pub fn record(&self, event: Event) {
        match &self.sink {
            // The writer is gone only after `finish`: later events are dropped by design.
            Sink::File(tx) => {
                let _ = tx.send(Msg::Event(Box::new(event)));
            }
            Sink::Memory(events) => events.lock().push(event),
        }
    }
}

impl HistoryWriter {
    /// Writes every event recorded so far, flushes and fsyncs the file, stops the writer
    /// thread, and returns how many events the file holds (or the first I/O error).
    pub fn finish(self) -> io::Result<u64> {
        // If the thread already stopped, the send fails and join reports why.
        let _ = self.tx.send(Msg::Finish);
        match self.thread.join() {
            Ok(result) => result,
            Err(_) => Err(io::Error::other("history writer thread panicked")),
        }
    }
}

impl MemoryHistory {
    /// Takes the events recorded so far, leaving the history empty.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock())
    }
}

/// The writer thread: one JSON line per event until `Finish` (or every sender is gone). After
/// an I/O error it keeps draining the channel, so recorders never block, and reports the error.
fn write_events(rx: Receiver<Msg>, file: File) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut written = 0u64;
    let mut error = None;
    while let Ok(Msg::Event(event)) = rx.recv() {
        if error.is_some() {
            continue;
        }
        let line = serde_json::to_writer(&mut out, &event)
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        match line {
            Ok(()) => written += 1,
            Err(e) => error = Some(e),
        }
    }
    if let Some(e) = error {
        return Err(e);
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(written)
}
