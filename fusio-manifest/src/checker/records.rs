//! What the checker keeps of the events it is fed: write attempts ([`Attempt`]) with their
//! [`Status`], multi-key transactions, read operations, sessions in invocation order, the
//! completions that show HEAD's progress, and the final state.

use std::ops::Range;

use super::intern::ABSENT;
use crate::history::Outcome;

/// Sentinel for an unknown client or key id.
pub(super) const UNKNOWN: u32 = u32::MAX;

/// What is known about how a write attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// Its value id was observed, but no attempt with it was recorded.
    Unwritten,
    /// Invoked, no completion recorded.
    Invoked,
    /// Acknowledged commit.
    Ok,
    /// Definitely not applied.
    Fail,
    /// Indeterminate.
    Info,
}

/// One write attempt, indexed by the id of the value it wrote.
#[derive(Debug, Clone)]
pub(super) struct Attempt {
    /// For a value id that is not `client:op:attempt`: its id in
    /// [`Checker::other_ids`](super::Checker::other_ids).
    pub(super) other: u32,
    pub(super) client: u32,
    pub(super) key: u32,
    pub(super) attempt: u32,
    /// Value id read (or [`ABSENT`]); meaningful if `read_done`.
    pub(super) read: u32,
    pub(super) op: u64,
    pub(super) snapshot: Option<u64>,
    pub(super) txn_id: Option<u64>,
    pub(super) status: Status,
    pub(super) read_done: bool,
    /// An `invoke` was recorded.
    pub(super) invoked: bool,
    /// For a multi-key transaction (`key` is [`MULTI`]): its index in
    /// [`Checker::txns`](super::Checker::txns).
    pub(super) txn: u32,
}

/// The `key` of a multi-key transaction attempt: its keys are in its [`TxnOps`].
pub(super) const MULTI: u32 = u32::MAX - 1;

/// The reads and writes of a multi-key transaction attempt (a `txn` event).
#[derive(Debug, Clone)]
pub(super) struct TxnOps {
    /// Its `(key, value or ABSENT)` reads in [`Checker::txn_reads`](super::Checker::txn_reads), in
    /// order.
    pub(super) reads: Range<usize>,
    /// Its `(key, deleted)` writes in [`Checker::txn_writes`](super::Checker::txn_writes): puts of
    /// its value, deletes.
    pub(super) writes: Range<usize>,
}

impl From<Outcome> for Status {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Ok => Status::Ok,
            Outcome::Fail => Status::Fail,
            Outcome::Info => Status::Info,
        }
    }
}

impl Attempt {
    pub(super) fn unwritten(other: u32, client: u32, op: u64, attempt: u32) -> Self {
        Attempt {
            other,
            client,
            key: UNKNOWN,
            attempt,
            read: ABSENT,
            op,
            snapshot: None,
            txn_id: None,
            status: Status::Unwritten,
            read_done: false,
            invoked: false,
            txn: UNKNOWN,
        }
    }

    /// What the completion of an attempt says, before its key and reads are filled in: its
    /// own `other` and `invoked` are kept by [`Checker::on_write`](super::Checker::on_write).
    pub(super) fn completed(
        client: u32,
        op: u64,
        attempt: u32,
        snapshot: Option<u64>,
        txn_id: Option<u64>,
        outcome: Outcome,
    ) -> Self {
        Attempt {
            snapshot,
            txn_id,
            status: outcome.into(),
            ..Attempt::unwritten(UNKNOWN, client, op, attempt)
        }
    }
}

/// One completed read operation.
#[derive(Debug, Clone)]
pub(super) struct ReadOp {
    pub(super) client: u32,
    pub(super) op: u64,
    pub(super) snapshot: Option<u64>,
    pub(super) outcome: Outcome,
    pub(super) scan: bool,
    /// For a range scan: its index in [`Checker::ranges`](super::Checker::ranges); [`UNKNOWN`]
    /// otherwise.
    pub(super) range: u32,
    /// Its `(key, value)` observations in [`Checker::obs`](super::Checker::obs).
    pub(super) obs: Range<usize>,
}

/// A session (write attempt or read operation) in the order of its `invoke`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Session {
    /// Write attempt (its value id).
    Write(u32),
    /// Read operation (index into [`Checker::reads`](super::Checker::reads)).
    Read(u32),
    /// A read operation that has not completed (yet).
    Pending,
}

/// What a completion shows about real time: by then, HEAD had reached a txn.
#[derive(Debug, Clone, Copy)]
pub(super) enum HeadReached {
    /// An acknowledged commit (its value id): its txn id.
    Ack(u32),
    /// A write attempt (its value id) completed: its snapshot.
    WriteSession(u32),
    /// A read operation (index into [`Checker::reads`](super::Checker::reads)) completed: its
    /// snapshot.
    ReadSession(u32),
}

/// The final state.
#[derive(Debug, Clone)]
pub(super) struct FinalState {
    pub(super) head_txn: u64,
    pub(super) state: Vec<(u32, u32)>,
}
