//! Anomalies: what the checker found, as data.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::history::{OpKind, Outcome};

/// The kinds of isolation anomaly the checker detects, in report (and CSV column) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyClass {
    /// G1a: a value written by a definitely failed (`fail`) attempt was observed.
    AbortedRead,
    /// A committed write vanished from its key's version chain: the final state does not end
    /// with it, or the next committed write of the key read an older value (without a fork).
    LostWrite,
    /// Two committed writes of a key read the same previous value (a fork), or two committed
    /// writes were based on the same snapshot.
    LostUpdate,
    /// Two acknowledged commits carry the same txn id.
    DuplicateTxnId,
    /// A read at snapshot `T` returned something other than the key's state after txn `T`
    /// (stale, future, or another key's value; a scan missed a key).
    NonSnapshotRead,
    /// A session invoked after a commit was acknowledged (or after another session at a
    /// higher snapshot completed) saw an older snapshot.
    RealtimeViolation,
    /// A reader's later operation saw a lower snapshot than its earlier, completed one.
    NonMonotonicRead,
    /// An observed value id that no write attempt wrote.
    GarbageRead,
    /// A scan (or the final state) returned a key twice.
    DuplicateKey,
    /// The committed txns cannot fit HEAD's txn id: a txn id above HEAD, a txn no attempt can
    /// explain, an acknowledged txn id other than `snapshot + 1`, or a commit that cannot be
    /// placed.
    TxnCountMismatch,
    /// G0 (write cycle): a cycle of write-write dependencies between committed transactions.
    G0,
    /// G1c (circular information flow): a cycle of write-write and write-read dependencies,
    /// at least one write-read.
    G1c,
    /// G-single (read skew; a lost update is one): a dependency cycle with exactly one
    /// anti-dependency (a transaction read a version another one overwrote).
    GSingle,
    /// G2 (write skew): a dependency cycle with more than one anti-dependency.
    G2,
}

impl AnomalyClass {
    /// Every class, in report order.
    pub const ALL: [AnomalyClass; 14] = [
        AnomalyClass::AbortedRead,
        AnomalyClass::LostWrite,
        AnomalyClass::LostUpdate,
        AnomalyClass::DuplicateTxnId,
        AnomalyClass::NonSnapshotRead,
        AnomalyClass::RealtimeViolation,
        AnomalyClass::NonMonotonicRead,
        AnomalyClass::GarbageRead,
        AnomalyClass::DuplicateKey,
        AnomalyClass::TxnCountMismatch,
        AnomalyClass::G0,
        AnomalyClass::G1c,
        AnomalyClass::GSingle,
        AnomalyClass::G2,
    ];

    /// The snake_case name (also the CSV column name).
    pub fn name(self) -> &'static str {
        match self {
            AnomalyClass::AbortedRead => "aborted_read",
            AnomalyClass::LostWrite => "lost_write",
            AnomalyClass::LostUpdate => "lost_update",
            AnomalyClass::DuplicateTxnId => "duplicate_txn_id",
            AnomalyClass::NonSnapshotRead => "non_snapshot_read",
            AnomalyClass::RealtimeViolation => "realtime_violation",
            AnomalyClass::NonMonotonicRead => "non_monotonic_read",
            AnomalyClass::GarbageRead => "garbage_read",
            AnomalyClass::DuplicateKey => "duplicate_key",
            AnomalyClass::TxnCountMismatch => "txn_count_mismatch",
            AnomalyClass::G0 => "g0",
            AnomalyClass::G1c => "g1c",
            AnomalyClass::GSingle => "g_single",
            AnomalyClass::G2 => "g2",
        }
    }

    /// Position in [`AnomalyClass::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for AnomalyClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One operation that takes part in an anomaly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpRef {
    /// Client id.
    pub client: String,
    /// The client's operation number.
    pub op: u64,
    /// Attempt number (0 for reads).
    pub attempt: u32,
    /// Write attempt or read operation.
    pub kind: OpKind,
    /// How it ended; `None` if no completion was recorded.
    pub outcome: Option<Outcome>,
    /// Its session's snapshot txn id, if known.
    pub snapshot_txn: Option<u64>,
    /// For a committed write: its txn id (acknowledged, or `snapshot + 1` for an observed
    /// indeterminate write or one inferred committed as the only possible occupant of that txn).
    pub txn_id: Option<u64>,
}

impl fmt::Display for OpRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            OpKind::Write => write!(f, "{}:{}:{} (write", self.client, self.op, self.attempt)?,
            OpKind::Read => write!(f, "{} op {} (read", self.client, self.op)?,
        }
        match self.outcome {
            Some(Outcome::Ok) => f.write_str(" ok")?,
            Some(Outcome::Fail) => f.write_str(" fail")?,
            Some(Outcome::Info) => f.write_str(" info")?,
            None => f.write_str(" incomplete")?,
        }
        if let Some(s) = self.snapshot_txn {
            write!(f, ", snapshot {s}")?;
        }
        if let Some(t) = self.txn_id {
            write!(f, ", txn {t}")?;
        }
        f.write_str(")")
    }
}

/// One anomaly: its class, the operations that prove it, and a one-line explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    /// What kind of anomaly.
    pub class: AnomalyClass,
    /// One line saying what was expected and what happened.
    pub explanation: String,
    /// The operations involved (the observer first, then the writers it concerns).
    pub ops: Vec<OpRef>,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.class, self.explanation)?;
        for (i, op) in self.ops.iter().enumerate() {
            f.write_str(if i == 0 { " | ops: " } else { "; " })?;
            write!(f, "{op}")?;
        }
        Ok(())
    }
}
