//! The history model the checks read: [`Ctx`], a read-only view of the checker's state
//! (write attempts, read operations, multi-key transactions, the interned names), what is
//! derived for each value ([`Info`]), and the per-key version chains ([`Chains`]).

use super::ids::DELETED;
use super::intern::{Interner, ABSENT};
use super::records::{Attempt, ReadOp, Status, TxnOps, MULTI, UNKNOWN};

/// A committed version of a key, `(txn, value id)`, or none. In a version chain the value id
/// of a delete carries [`DELETED`].
pub(super) type Version = Option<(u64, u32)>;

/// The value id of the attempt behind a chain entry's value (a delete's without its mark).
pub(super) fn writer_of(v: u32) -> u32 {
    if v == ABSENT {
        v
    } else {
        v & !DELETED
    }
}

/// Whether a chain entry's value is a delete.
pub(super) fn is_delete(v: u32) -> bool {
    v != ABSENT && v & DELETED != 0
}

/// The key's state a version stands for: a delete leaves none.
pub(super) fn live(version: Version) -> Version {
    version.filter(|&(_, v)| !is_delete(v))
}

/// Who observed a value.
#[derive(Debug, Clone, Copy)]
pub(super) enum Observer {
    /// Read operation (index into the reads).
    Read(usize),
    /// A writer's read of its key (value id of the writer).
    Writer(u32),
    /// The final state.
    Final,
}

/// What the analysis derives for each value id (a compact table, read at random).
#[derive(Debug, Clone, Copy)]
pub(super) struct Info {
    /// The txn of a committed write, if it can be placed.
    pub(super) placed: Option<u64>,
    pub(super) key: u32,
    pub(super) status: Status,
    /// Acknowledged, indeterminate and observed, or inferred.
    pub(super) committed: bool,
    /// An unobserved indeterminate write taken as committed by
    /// [`infer_sole_occupants`](super::commits::infer_sole_occupants).
    pub(super) inferred: bool,
}

/// Per-key version chains of the placed committed writes, sorted by txn.
pub(super) struct Chains {
    start: Vec<usize>,
    entries: Vec<(u64, u32)>,
}

impl Chains {
    /// The chains of the `(key, txn, value)` versions `versions` yields (called twice).
    pub(super) fn build<I: Iterator<Item = (u32, u64, u32)>>(
        versions: impl Fn() -> I,
        keys: usize,
    ) -> Chains {
        let mut start = vec![0usize; keys + 2];
        for (key, _, _) in versions() {
            start[key as usize + 2] += 1;
        }
        for k in 2..start.len() {
            start[k] += start[k - 1];
        }
        let mut entries = vec![(0u64, 0u32); start[keys + 1]];
        for (key, t, v) in versions() {
            let slot = &mut start[key as usize + 1];
            entries[*slot] = (t, v);
            *slot += 1;
        }
        start.pop();
        // Values are mostly created in txn order, so each chain is nearly sorted already.
        for k in 0..keys {
            entries[start[k]..start[k + 1]].sort();
        }
        Chains { start, entries }
    }

    pub(super) fn of(&self, key: u32) -> &[(u64, u32)] {
        let k = key as usize;
        &self.entries[self.start[k]..self.start[k + 1]]
    }

    /// The version of `key` after txn `t`.
    pub(super) fn at(&self, key: u32, t: u64) -> Option<(u64, u32)> {
        let c = self.of(key);
        let i = c.partition_point(|e| e.0 <= t);
        i.checked_sub(1).map(|i| c[i])
    }

    /// [`Chains::at`], starting from `cursor` (how many versions of `key` the previous lookup
    /// found at or before its txn) and updating it: cheap when successive lookups of a key
    /// move little, as reads in time order do.
    pub(super) fn at_from(&self, key: u32, t: u64, cursor: &mut usize) -> Option<(u64, u32)> {
        const STEPS: usize = 8;
        let c = self.of(key);
        let mut i = (*cursor).min(c.len());
        let mut steps = 0;
        while steps < STEPS && i < c.len() && c[i].0 <= t {
            i += 1;
            steps += 1;
        }
        while steps < STEPS && i > 0 && c[i - 1].0 > t {
            i -= 1;
            steps += 1;
        }
        if steps == STEPS {
            i = c.partition_point(|e| e.0 <= t);
        }
        *cursor = i;
        i.checked_sub(1).map(|i| c[i])
    }

    /// The last delete of `key` strictly before txn `t` (its value id, with [`DELETED`]), or
    /// [`ABSENT`] if none: which absent state of the key a read of no value before `t` saw, at
    /// the latest.
    pub(super) fn deleted_before(&self, key: u32, t: u64) -> u32 {
        let c = self.of(key);
        let i = c.partition_point(|e| e.0 < t);
        c[..i]
            .iter()
            .rev()
            .find(|e| is_delete(e.1))
            .map_or(ABSENT, |e| e.1)
    }

    /// The last version of `key` strictly before txn `t`.
    pub(super) fn before(&self, key: u32, t: u64) -> Option<(u64, u32)> {
        let c = self.of(key);
        let i = c.partition_point(|e| e.0 < t);
        i.checked_sub(1).map(|i| c[i])
    }
}

/// The multi-key transactions of a history: [`TxnOps`] and the lists they index.
#[derive(Clone, Copy)]
pub(super) struct Txns<'a> {
    pub(super) ops: &'a [TxnOps],
    pub(super) reads: &'a [(u32, u32)],
    pub(super) writes: &'a [(u32, bool)],
}

/// Read-only view of the checker's state for the analysis.
pub(super) struct Ctx<'a> {
    pub(super) clients: &'a Interner,
    pub(super) keys: &'a Interner,
    pub(super) other_ids: &'a Interner,
    pub(super) writes: &'a [Attempt],
    pub(super) info: Vec<Info>,
    pub(super) reads: &'a [ReadOp],
    pub(super) obs: &'a [(u32, u32)],
    pub(super) ranges: &'a [(String, String)],
    pub(super) txns: Txns<'a>,
    pub(super) chains: Chains,
}

impl<'a> Txns<'a> {
    /// The `(key, value or ABSENT)` reads of write attempt `a`: a multi-key transaction's, or
    /// a single-key writer's read of its key.
    pub(super) fn reads_of(self, a: &Attempt) -> impl Iterator<Item = (u32, u32)> + use<'a> {
        let (multi, single) = if a.key == MULTI {
            (&self.reads[self.ops[a.txn as usize].reads.clone()], None)
        } else {
            let read = (a.read_done && a.key != UNKNOWN).then_some((a.key, a.read));
            (&[][..], read)
        };
        single.into_iter().chain(multi.iter().copied())
    }

    /// The `(key, deleted)` writes of write attempt `a`: a multi-key transaction's puts and
    /// deletes, or a single-key writer's put (if its key is known).
    pub(super) fn writes_of(self, a: &Attempt) -> impl Iterator<Item = (u32, bool)> + use<'a> {
        let (multi, single) = if a.key == MULTI {
            (&self.writes[self.ops[a.txn as usize].writes.clone()], None)
        } else {
            (&[][..], (a.key != UNKNOWN).then_some((a.key, false)))
        };
        single.into_iter().chain(multi.iter().copied())
    }
}

impl Ctx<'_> {
    /// How many keys the history names.
    pub(super) fn keys_len(&self) -> u32 {
        self.keys.len() as u32
    }

    /// Every key id, sorted by name.
    pub(super) fn keys_by_name(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..self.keys.len() as u32).collect();
        ids.sort_unstable_by(|&a, &b| self.keys.name(a).cmp(self.keys.name(b)));
        ids
    }

    /// The keys of `by_name` (see [`Ctx::keys_by_name`]) in `[from, to)`.
    pub(super) fn keys_in<'k>(&self, by_name: &'k [u32], from: &str, to: &str) -> &'k [u32] {
        let start = by_name.partition_point(|&k| self.keys.name(k) < from);
        let end = by_name
            .partition_point(|&k| self.keys.name(k) < to)
            .max(start);
        &by_name[start..end]
    }
}

/// Groups of consecutive equal keys in a sorted slice.
pub(super) fn groups<T, K: PartialEq>(
    items: &[T],
    key: impl Fn(&T) -> K,
) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        let first = rest.first()?;
        let k = key(first);
        let n = rest.iter().take_while(|x| key(x) == k).count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        Some(group)
    })
}
