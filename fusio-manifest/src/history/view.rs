//! A borrowed view of one event: what the checker reads of it, taken from an [`Event`] in
//! memory or straight from the text of a file's lines, without copying a string.

use super::span::{ReadPair, Span};
use super::{Event, OpKind, Outcome};

/// The fields of an event that the checker uses (not `error`, nothing of a compaction), with
/// borrowed strings. The fields are those of [`Event`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum EventRef<'a> {
    /// [`Event::Invoke`].
    Invoke {
        client: &'a str,
        op: u64,
        attempt: u32,
        kind: OpKind,
        t_us: u64,
        key: Option<&'a str>,
    },
    /// [`Event::Write`].
    Write {
        client: &'a str,
        op: u64,
        attempt: u32,
        t_us: u64,
        outcome: Outcome,
        key: &'a str,
        snapshot_txn: Option<u64>,
        read_done: bool,
        read: Option<&'a str>,
        wrote: &'a str,
        txn_id: Option<u64>,
    },
    /// [`Event::Txn`].
    Txn {
        client: &'a str,
        op: u64,
        attempt: u32,
        t_us: u64,
        outcome: Outcome,
        snapshot_txn: Option<u64>,
        reads: Reads<'a>,
        puts: &'a [String],
        deletes: &'a [String],
        wrote: &'a str,
        txn_id: Option<u64>,
    },
    /// [`Event::Read`].
    Read {
        client: &'a str,
        op: u64,
        t_us: u64,
        outcome: Outcome,
        snapshot_txn: Option<u64>,
        scan: bool,
        reads: Reads<'a>,
        range: Option<(&'a str, &'a str)>,
    },
    /// [`Event::Compact`].
    Compact,
    /// [`Event::Fault`].
    Fault,
    /// [`Event::Final`].
    Final {
        head_txn: u64,
        state: &'a [(String, String)],
    },
}

/// The `(key, value id or none)` pairs of a read, from an [`Event`] or as spans of a text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reads<'a> {
    /// The pairs of an [`Event::Read`].
    Owned(&'a [(String, Option<String>)]),
    /// Pairs parsed from `text`.
    Spans {
        /// The text the pairs were parsed from.
        text: &'a str,
        /// The pairs.
        pairs: &'a [ReadPair],
    },
}

impl<'a> Reads<'a> {
    /// How many pairs.
    fn len(self) -> usize {
        match self {
            Reads::Owned(pairs) => pairs.len(),
            Reads::Spans { pairs, .. } => pairs.len(),
        }
    }

    /// Pair `i` (`i < len()`).
    fn get(self, i: usize) -> (&'a str, Option<&'a str>) {
        match self {
            Reads::Owned(pairs) => (&pairs[i].0, pairs[i].1.as_deref()),
            Reads::Spans { text, pairs } => {
                let (key, value) = pairs[i];
                (key.of(text), value.map(|v: Span| v.of(text)))
            }
        }
    }

    /// The pairs, in order.
    pub(crate) fn iter(self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
        (0..self.len()).map(move |i| self.get(i))
    }
}

impl<'a> From<&'a Event> for EventRef<'a> {
    fn from(event: &'a Event) -> Self {
        match *event {
            Event::Invoke {
                ref client,
                op,
                attempt,
                kind,
                t_us,
                ref key,
            } => EventRef::Invoke {
                client,
                op,
                attempt,
                kind,
                t_us,
                key: key.as_deref(),
            },
            Event::Write {
                ref client,
                op,
                attempt,
                t_us,
                outcome,
                ref key,
                snapshot_txn,
                read_done,
                ref read,
                ref wrote,
                txn_id,
                error: _,
            } => EventRef::Write {
                client,
                op,
                attempt,
                t_us,
                outcome,
                key,
                snapshot_txn,
                read_done,
                read: read.as_deref(),
                wrote,
                txn_id,
            },
            Event::Txn {
                ref client,
                op,
                attempt,
                t_us,
                outcome,
                snapshot_txn,
                ref reads,
                ref puts,
                ref deletes,
                ref wrote,
                txn_id,
                error: _,
            } => EventRef::Txn {
                client,
                op,
                attempt,
                t_us,
                outcome,
                snapshot_txn,
                reads: Reads::Owned(reads),
                puts,
                deletes,
                wrote,
                txn_id,
            },
            Event::Read {
                ref client,
                op,
                t_us,
                outcome,
                snapshot_txn,
                scan,
                ref reads,
                error: _,
                ref range,
            } => EventRef::Read {
                client,
                op,
                t_us,
                outcome,
                snapshot_txn,
                scan,
                reads: Reads::Owned(reads),
                range: range
                    .as_ref()
                    .map(|(from, to)| (from.as_str(), to.as_str())),
            },
            Event::Compact { .. } => EventRef::Compact,
            Event::Fault { .. } => EventRef::Fault,
            Event::Final {
                head_txn,
                ref state,
                t_us: _,
            } => EventRef::Final { head_txn, state },
        }
    }
}
