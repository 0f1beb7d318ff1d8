//! The isolation checker: reads a recorded [history](crate::history) and reports every
//! anomaly against the strict serializability that fusio-manifest claims (one linear chain of
//! txns `1..=HEAD`, each commit based on the snapshot right before it).
//!
//! It uses only the history. Events are fed one at a time ([`Checker::feed`]) and only compact
//! per-attempt and per-read state is kept, so a huge history file can be checked while it is
//! streamed from disk; the analysis runs in [`Checker::finish`].
//!
//! # Model
//!
//! - Every write attempt writes a unique value id. A write is **committed** when it was
//!   acknowledged (`ok`, its txn id is `txn_id`) or when it is indeterminate (`info`, or never
//!   completed) but its value was observed anywhere (a read, a writer's read, the final state);
//!   such a write is placed at txn `snapshot_txn + 1`. An indeterminate write that was never
//!   observed is taken as not committed, unless it is the only possible occupant of a txn `T`
//!   in `1..=HEAD`: no committed write is placed at `T` and it is the only indeterminate attempt
//!   with snapshot `T - 1`. Then it is taken as committed at `T` (and checked like any other
//!   commit; its anomalies say why), but only if nothing else could have made `T`: no commit is unplaced, outside
//!   `1..=HEAD`, sharing its txn with another or acknowledged with a txn id other than
//!   `snapshot_txn + 1`, no attempt is incomplete, no observed value lacks an attempt, and
//!   every empty txn has a candidate. A committed write that cannot be placed (its session's
//!   snapshot is unknown) is reported as [`AnomalyClass::TxnCountMismatch`], and observations
//!   of its value are not checked further.
//! - The committed writes of a key, by txn id, form its version chain; the state of a key after
//!   txn `T` is the chain's last value with txn `<= T`, or none.
//! - Each observation is reported under one class: a value nobody wrote is a garbage read, a
//!   value of a failed attempt an aborted read, another key's value or a value other than the
//!   key's state at the snapshot a non-snapshot read. A committed writer's read is judged
//!   against its predecessor in the chain instead: reading the same value as another committed
//!   writer of the key is a lost update (a fork), reading an older value otherwise a lost
//!   write of the skipped version.
//! - Real time: a session invoked after a commit was acknowledged, or after another session
//!   completed, must have a snapshot at least that txn (resp. that session's snapshot). A
//!   reader whose later op sees a lower snapshot than its own earlier op is reported as a
//!   non-monotonic read (and not also as a real-time violation).
//! - Reads listed by a read operation that did not end `ok` are checked like the others (the
//!   system did return them). Indeterminate or failed sessions still count for real time.
//! - Without a `final` event the lost-write and txn-count checks do not run (fully) and no
//!   write is inferred committed (HEAD is unknown).
//! - A multi-key transaction (`txn` event) is one write attempt that puts its value id into
//!   several keys and deletes others: committed or not as a whole, placed at one txn. A delete
//!   is a version of its key whose state is no value (a read of none matches it; the final
//!   state must not hold the key). Every read a transaction made is judged like a writer's
//!   read: against its predecessor for a key it also wrote, against the state before its txn
//!   for the others. A range scan (`range`) must return exactly the keys of its range that
//!   have a value at its snapshot: a key outside the range, a row that should be there
//!   (missing) or one that should not (a phantom) is a non-snapshot read.
//! - Dependency cycles between transactions (write-write, write-read, and anti-dependencies
//!   from a read to the next version's writer) are searched as Elle does and reported as
//!   G0, G1c, G-single or G2 (see `cycles.rs`). They restate in Adya's terms what the checks
//!   above found about single observations (a lost update is also a G-single), and show
//!   anomalies that involve several keys (read skew, write skew) as one cycle.
//!
//! Inconsistencies of the history itself (an attempt completed twice, two `final` events, an
//! `ok` read without a snapshot) are listed as problems.
//!
//! # Verdict
//!
//! [`CheckReport::verdict`] is three-state: `FAIL` when any anomaly was found (anomalies are
//! definitive, with or without a final state); else `UNKNOWN` (with the reason) when the history
//! has no `final` event or has problems; else `PASS`.
//!
//! # Anomaly files
//!
//! [`CheckReport::anomalies_jsonl`] writes the anomalies kept by a report as JSON Lines (one
//! [`Anomaly`] a line, then `{"truncated": N}` when more were found than kept);
//! [`read_anomalies`] reads such a file back and [`print_anomaly_files`] prints it again.

mod anomaly;
mod checks;
mod cite;
mod commits;
mod cycles;
mod ids;
mod intern;
mod model;
mod records;
mod report;
mod saved;
mod synth;
#[cfg(test)]
mod tests;

use std::borrow::Borrow;
use std::ops::Range;
use std::path::Path;

pub use anomaly::{Anomaly, AnomalyClass, OpRef};
pub use report::{CheckReport, Verdict, VerificationRow};
pub use saved::{
    print_anomaly_files, read_anomalies, write_saved_anomalies, AnomalyFileError, AnomalyLine,
};
pub use synth::synthetic_history;

use crate::history::{for_each_event, Event, EventRef, HistoryError, OpKind, Outcome, Reads};
use ids::{next_id, parse_value_id, Slots};
use intern::{FxHashMap, Interner, ABSENT};
use records::{Attempt, FinalState, HeadReached, ReadOp, Session, Status, TxnOps, MULTI, UNKNOWN};

/// At most this many example anomalies (and problems) are kept per class.
pub const MAX_EXAMPLES: usize = 20;

/// Bounded list of history inconsistencies.
#[derive(Debug, Clone, Default)]
struct Problems {
    count: u64,
    examples: Vec<String>,
}

impl Problems {
    fn add(&mut self, describe: impl FnOnce() -> String) {
        self.count += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(describe());
        }
    }
}

/// Streaming history checker: [`feed`](Checker::feed) every event (in file order), then
/// [`finish`](Checker::finish).
pub struct Checker {
    clients: Interner,
    keys: Interner,
    /// Canonical `client:op:attempt` value ids, by their numbers, to their index in `writes`.
    value_ids: Slots,
    /// Any other value ids (all garbage, unless an attempt wrote such an id)...
    other_ids: Interner,
    /// ... and their index in `writes`.
    other_slots: Vec<u32>,
    /// Write attempts, indexed by the id of the value they wrote.
    writes: Vec<Attempt>,
    /// Whether each value was observed somewhere (parallel to `writes`).
    observed: Vec<bool>,
    reads: Vec<ReadOp>,
    /// `(key, value or ABSENT)` observations of all read operations.
    obs: Vec<(u32, u32)>,
    /// The `[from, to)` key ranges of range scans.
    ranges: Vec<(String, String)>,
    /// The reads and writes of the multi-key transaction attempts...
    txns: Vec<TxnOps>,
    /// ... their reads, `(key, value or ABSENT)`...
    txn_reads: Vec<(u32, u32)>,
    /// ... and their writes, `(key, deleted)`.
    txn_writes: Vec<(u32, bool)>,
    /// Per client, its latest read operation not completed yet: `(op, position in
    /// sessions)`. A client normally has one read in flight...
    pending_read: Vec<Option<(u64, usize)>>,
    /// ... any other pending read operations, by `(client, op)`.
    pending_reads: FxHashMap<(u32, u64), usize>,
    /// Every session by invocation time, in file order (so nearly sorted).
    sessions: Vec<(u64, Session)>,
    /// `(time, txn, source)` of every completion that shows HEAD's progress, in file order.
    evidence: Vec<(u64, u64, HeadReached)>,
    final_state: Option<FinalState>,
    problems: Problems,
}

impl Default for Checker {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("write_attempts", &self.writes.len())
            .field("read_ops", &self.reads.len())
            .field("final", &self.final_state.is_some())
            .finish()
    }
}

impl Checker {
    /// An empty checker.
    pub fn new() -> Self {
        Checker {
            clients: Interner::default(),
            keys: Interner::default(),
            value_ids: Slots::default(),
            other_ids: Interner::default(),
            other_slots: Vec::new(),
            writes: Vec::new(),
            observed: Vec::new(),
            reads: Vec::new(),
            obs: Vec::new(),
            ranges: Vec::new(),
            txns: Vec::new(),
            txn_reads: Vec::new(),
            txn_writes: Vec::new(),
            pending_read: Vec::new(),
            pending_reads: FxHashMap::default(),
            sessions: Vec::new(),
            evidence: Vec::new(),
            final_state: None,
            problems: Problems::default(),
        }
    }

    /// Takes in one event. An attempt's `invoke` should come before its completion (as the
    /// recorder writes them); a completion without one has no invocation time, so the
    /// real-time checks skip it.
    pub fn feed(&mut self, event: &Event) {
        self.feed_view(EventRef::from(event));
    }

    /// [`Checker::feed`] for an event as it was read from a file or taken from memory.
    pub(crate) fn feed_view(&mut self, event: EventRef<'_>) {
        match event {
            EventRef::Invoke {
                client,
                op,
                attempt,
                kind,
                t_us,
                key,
            } => self.on_invoke(client, op, attempt, kind, t_us, key),
            EventRef::Write {
                client,
                op,
                attempt,
                t_us,
                outcome,
                key,
                snapshot_txn,
                read_done,
                read,
                wrote,
                txn_id,
            } => {
                let client = self.clients.intern(client);
                let key = self.keys.intern(key);
                let read = match read {
                    Some(id) if read_done => self.observe(id),
                    _ => ABSENT,
                };
                let completed = Attempt {
                    key,
                    read,
                    read_done,
                    ..Attempt::completed(client, op, attempt, snapshot_txn, txn_id, outcome)
                };
                self.on_write(wrote, completed, t_us);
            }
            EventRef::Txn {
                client,
                op,
                attempt,
                t_us,
                outcome,
                snapshot_txn,
                reads,
                puts,
                deletes,
                wrote,
                txn_id,
            } => {
                let client = self.clients.intern(client);
                let txn = self.record_txn_ops(reads, puts, deletes);
                let completed = Attempt {
                    key: MULTI,
                    txn,
                    ..Attempt::completed(client, op, attempt, snapshot_txn, txn_id, outcome)
                };
                self.on_write(wrote, completed, t_us);
            }
            EventRef::Read {
                client: name,
                op,
                t_us,
                outcome,
                snapshot_txn,
                scan,
                reads,
                range,
            } => {
                let client = self.clients.intern(name);
                let obs = self.record_observations(reads);
                let range = match range {
                    Some((from, to)) if scan => {
                        self.ranges.push((from.to_owned(), to.to_owned()));
                        next_id(self.ranges.len() - 1)
                    }
                    _ => UNKNOWN,
                };
                let read = ReadOp {
                    client,
                    op,
                    snapshot: snapshot_txn,
                    outcome,
                    scan,
                    range,
                    obs,
                };
                self.on_read(name, read, t_us);
            }
            EventRef::Final { head_txn, state } => self.on_final(head_txn, state),
            // A compaction changes no key's value: the reads and the final state around it
            // are what the checker judges.
            EventRef::Compact | EventRef::Fault => {}
        }
    }

    /// Records the completion of the write attempt that wrote value id `wrote`, completed at
    /// `t_us`. `completed` holds what the completion says; the attempt keeps its own `other`
    /// and `invoked`.
    fn on_write(&mut self, wrote: &str, completed: Attempt, t_us: u64) {
        let v = self.value(wrote);
        let a = &mut self.writes[v as usize];
        if matches!(a.status, Status::Ok | Status::Fail | Status::Info) {
            self.problems
                .add(|| format!("write attempt with value id {wrote} completed twice"));
            return;
        }
        *a = Attempt {
            other: a.other,
            invoked: a.invoked,
            ..completed
        };
        match (completed.status, completed.txn_id, completed.snapshot) {
            (Status::Ok, Some(txn), _) => {
                self.evidence.push((t_us, txn, HeadReached::Ack(v)));
            }
            (_, _, Some(s)) => self.evidence.push((t_us, s, HeadReached::WriteSession(v))),
            _ => {}
        }
    }

    /// Appends the `(key, value id)` observations of one read operation to
    /// [`Checker::obs`] and returns where they are.
    fn record_observations(&mut self, reads: Reads<'_>) -> Range<usize> {
        let start = self.obs.len();
        for (key, value) in reads.iter() {
            let pair = self.observation(key, value);
            self.obs.push(pair);
        }
        start..self.obs.len()
    }

    /// The ids of an observation: `key` had the value `value` (none: no value).
    fn observation(&mut self, key: &str, value: Option<&str>) -> (u32, u32) {
        let key = self.keys.intern(key);
        let value = match value {
            Some(id) => self.observe(id),
            None => ABSENT,
        };
        (key, value)
    }

    /// Records the reads and writes of a multi-key transaction attempt and returns its index
    /// in [`Checker::txns`].
    fn record_txn_ops(&mut self, reads: Reads<'_>, puts: &[String], deletes: &[String]) -> u32 {
        let start = self.txn_reads.len();
        for (key, value) in reads.iter() {
            let pair = self.observation(key, value);
            self.txn_reads.push(pair);
        }
        let reads = start..self.txn_reads.len();
        let start = self.txn_writes.len();
        for (keys, deleted) in [(puts, false), (deletes, true)] {
            for key in keys {
                let key = self.keys.intern(key);
                self.txn_writes.push((key, deleted));
            }
        }
        let writes = start..self.txn_writes.len();
        let index = next_id(self.txns.len());
        self.txns.push(TxnOps { reads, writes });
        index
    }

    /// Records the completed read operation `read` of client `name`, completed at `t_us`: ends
    /// its pending session and notes what its snapshot shows about real time.
    fn on_read(&mut self, name: &str, read: ReadOp, t_us: u64) {
        let (client, op) = (read.client, read.op);
        let pending = match self.pending_read.get_mut(client as usize) {
            Some(p) if p.is_some_and(|p| p.0 == op) => p.take().map(|p| p.1),
            _ => self.pending_reads.remove(&(client, op)),
        };
        let index = next_id(self.reads.len());
        if let Some(pos) = pending {
            self.sessions[pos].1 = Session::Read(index);
        }
        if let Some(s) = read.snapshot {
            self.evidence
                .push((t_us, s, HeadReached::ReadSession(index)));
        }
        if read.outcome == Outcome::Ok && read.snapshot.is_none() {
            self.problems
                .add(|| format!("read {name} op {op} is ok but has no snapshot_txn"));
        }
        self.reads.push(read);
    }

    /// Records the final state (only the first `final` event counts).
    fn on_final(&mut self, head_txn: u64, state: &[(String, String)]) {
        if self.final_state.is_some() {
            self.problems
                .add(|| "more than one final event; the first one is used".to_string());
            return;
        }
        let state = state
            .iter()
            .map(|(key, value)| (self.keys.intern(key), self.observe(value)))
            .collect();
        self.final_state = Some(FinalState { head_txn, state });
    }

    fn on_invoke(
        &mut self,
        client: &str,
        op: u64,
        attempt: u32,
        kind: OpKind,
        t_us: u64,
        key: Option<&str>,
    ) {
        let client_id = self.clients.intern(client);
        match kind {
            OpKind::Read => {
                let pos = self.sessions.len();
                let c = client_id as usize;
                if c >= self.pending_read.len() {
                    self.pending_read.resize(c + 1, None);
                }
                // Keep the one in flight, if any, in the map.
                if let Some((other, other_pos)) = self.pending_read[c].replace((op, pos)) {
                    self.pending_reads.insert((client_id, other), other_pos);
                }
                self.sessions.push((t_us, Session::Pending));
            }
            OpKind::Write => {
                let v = self.slot(client_id, op, attempt);
                let key = key.map(|k| self.keys.intern(k));
                let a = &mut self.writes[v as usize];
                if a.invoked {
                    self.problems
                        .add(|| format!("write attempt {client}:{op}:{attempt} was invoked twice"));
                    return;
                }
                a.invoked = true;
                self.sessions.push((t_us, Session::Write(v)));
                if a.status == Status::Unwritten {
                    a.status = Status::Invoked;
                }
                if let (Some(k), UNKNOWN) = (key, a.key) {
                    a.key = k;
                }
            }
        }
    }

    /// The attempt slot of value id `id`, creating an (unwritten) one if new.
    fn value(&mut self, id: &str) -> u32 {
        if let Some((client, op, attempt)) = parse_value_id(id) {
            let client = self.clients.intern(client);
            return self.slot(client, op, attempt);
        }
        let other = self.other_ids.intern(id);
        if let Some(&v) = self.other_slots.get(other as usize) {
            return v;
        }
        let v = next_id(self.writes.len());
        self.writes.push(Attempt::unwritten(other, UNKNOWN, 0, 0));
        self.observed.push(false);
        self.other_slots.push(v);
        v
    }

    /// The attempt slot of value id `client:op:attempt`, creating an (unwritten) one if new.
    fn slot(&mut self, client: u32, op: u64, attempt: u32) -> u32 {
        let next = next_id(self.writes.len());
        let v = self.value_ids.get_or_insert(client, op, attempt, next);
        if v == next {
            self.writes
                .push(Attempt::unwritten(UNKNOWN, client, op, attempt));
            self.observed.push(false);
        }
        v
    }

    /// [`Checker::value`], marking the value as observed.
    fn observe(&mut self, id: &str) -> u32 {
        let v = self.value(id);
        self.observed[v as usize] = true;
        v
    }

    /// Runs every check and returns the report.
    pub fn finish(self) -> CheckReport {
        checks::analyze(self)
    }
}

/// Checks a whole history (see [`Checker`]): owned events (`Vec<Event>`, an iterator of
/// events) or borrowed ones (`&[Event]`).
pub fn check<E: Borrow<Event>>(events: impl IntoIterator<Item = E>) -> CheckReport {
    let mut checker = Checker::new();
    for event in events {
        checker.feed(event.borrow());
    }
    checker.finish()
}

/// Streams and checks one history file (see [`Checker`]): a helper thread reads and parses
/// the lines while this one checks them.
pub fn check_file(path: impl AsRef<Path>) -> Result<CheckReport, HistoryError> {
    let mut checker = Checker::new();
    for_each_event(path.as_ref(), |event| checker.feed_view(event))?;
    Ok(checker.finish())
}

/// What `check-history` does: streams and checks each history file, prints its console
/// report (labelled with the path), and returns whether every verdict is `PASS`. Stops at the
/// first file that cannot be read or has a malformed line.
pub fn check_files<P: AsRef<Path>>(paths: &[P]) -> Result<bool, HistoryError> {
    let mut all_valid = true;
    for path in paths {
        let path = path.as_ref();
        let report = check_file(path)?;
        report.print_console(&path.display().to_string());
        all_valid &= report.is_valid();
    }
    Ok(all_valid)
}
