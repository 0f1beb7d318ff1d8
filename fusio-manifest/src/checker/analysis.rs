//! The checks run by [`Checker::finish`](super::Checker::finish).

use super::intern::{Interner, ABSENT};
use super::report::{Findings, Stats};
use super::{
    cycles, AnomalyClass, Attempt, CheckReport, Checker, Evidence, FinalState, OpRef, ReadOp,
    Session, Status, TxnOps, DELETED, MULTI, UNKNOWN,
};
use crate::history::{OpKind, Outcome};

/// At most this many operations are listed in one anomaly.
pub(super) const MAX_OPS: usize = 8;

/// No fork group.
const NO_FORK: u32 = u32::MAX;

/// A committed version of a key, `(txn, value id)`, or none. In a version chain the value id
/// of a delete carries [`DELETED`].
type Version = Option<(u64, u32)>;

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
fn live(version: Version) -> Version {
    version.filter(|&(_, v)| !is_delete(v))
}

/// Who observed a value.
#[derive(Debug, Clone, Copy)]
enum Observer {
    /// Read operation (index into the reads).
    Read(usize),
    /// A writer's read of its key (value id of the writer).
    Writer(u32),
    /// The final state.
    Final,
}

/// What an observed value is, for comparing it with the expected state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The key had no value.
    Absent,
    /// A committed value of this key: `(txn, value)`.
    Placed(u64, u32),
    /// Already reported (garbage, aborted, another key's) or not placeable: not compared.
    Skip,
}

/// What the analysis derives for each value id (a compact table, read at random).
#[derive(Debug, Clone, Copy)]
pub(super) struct Info {
    /// The txn of a committed write, if it can be placed.
    pub(super) placed: Option<u64>,
    key: u32,
    status: Status,
    /// Acknowledged, indeterminate and observed, or inferred.
    committed: bool,
    /// An unobserved indeterminate write taken as committed by [`infer_sole_occupants`].
    inferred: bool,
}

/// Per-key version chains of the placed committed writes, sorted by txn.
pub(super) struct Chains {
    start: Vec<usize>,
    entries: Vec<(u64, u32)>,
}

impl Chains {
    /// The chains of the `(key, txn, value)` versions `versions` yields (called twice).
    fn build<I: Iterator<Item = (u32, u64, u32)>>(versions: impl Fn() -> I, keys: usize) -> Chains {
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
    fn at(&self, key: u32, t: u64) -> Option<(u64, u32)> {
        let c = self.of(key);
        let i = c.partition_point(|e| e.0 <= t);
        i.checked_sub(1).map(|i| c[i])
    }

    /// [`Chains::at`], starting from `cursor` (how many versions of `key` the previous lookup
    /// found at or before its txn) and updating it: cheap when successive lookups of a key
    /// move little, as reads in time order do.
    fn at_from(&self, key: u32, t: u64, cursor: &mut usize) -> Option<(u64, u32)> {
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
    fn deleted_before(&self, key: u32, t: u64) -> u32 {
        let c = self.of(key);
        let i = c.partition_point(|e| e.0 < t);
        c[..i]
            .iter()
            .rev()
            .find(|e| is_delete(e.1))
            .map_or(ABSENT, |e| e.1)
    }

    /// The last version of `key` strictly before txn `t`.
    fn before(&self, key: u32, t: u64) -> Option<(u64, u32)> {
        let c = self.of(key);
        let i = c.partition_point(|e| e.0 < t);
        i.checked_sub(1).map(|i| c[i])
    }
}

/// Sorts by time a list that is nearly sorted already (recorded in time order): insertion
/// sort, or a full sort if that takes too many moves.
fn sort_by_time<T>(v: &mut [T], time: impl Fn(&T) -> u64) {
    let mut moves = 0usize;
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && time(&v[j - 1]) > time(&v[j]) {
            v.swap(j - 1, j);
            j -= 1;
            moves += 1;
        }
        if moves > 8 * v.len() {
            v.sort_by_key(time);
            return;
        }
    }
}

/// Sweeps time: for each `(time, query)` in `queries` (sorted by time), calls `visit` with the
/// query, its time, and the largest value among the `(time, value, source)` evidence (sorted by
/// time) strictly before it, as `(value, source, time)`.
fn sweep<S: Copy, Q: Copy>(
    evidence: &[(u64, u64, S)],
    queries: &[(u64, Q)],
    mut visit: impl FnMut(Q, u64, Option<(u64, S, u64)>),
) {
    let mut best: Option<(u64, S, u64)> = None;
    let mut next = evidence.iter().peekable();
    for &(t, q) in queries {
        while let Some(&&(et, value, src)) = next.peek() {
            if et >= t {
                break;
            }
            if best.is_none_or(|(b, _, _)| value > b) {
                best = Some((value, src, et));
            }
            next.next();
        }
        visit(q, t, best);
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
    clients: &'a Interner,
    keys: &'a Interner,
    other_ids: &'a Interner,
    pub(super) writes: &'a [Attempt],
    pub(super) info: Vec<Info>,
    pub(super) reads: &'a [ReadOp],
    pub(super) obs: &'a [(u32, u32)],
    ranges: &'a [(String, String)],
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

    /// `read r0 op 3`: read operation `r`.
    pub(super) fn read_name(&self, r: usize) -> String {
        self.who(Observer::Read(r))
    }

    /// Every key id, sorted by name.
    fn keys_by_name(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..self.keys.len() as u32).collect();
        ids.sort_unstable_by(|&a, &b| self.keys.name(a).cmp(self.keys.name(b)));
        ids
    }

    /// The keys of `by_name` (see [`Ctx::keys_by_name`]) in `[from, to)`.
    fn keys_in<'k>(&self, by_name: &'k [u32], from: &str, to: &str) -> &'k [u32] {
        let start = by_name.partition_point(|&k| self.keys.name(k) < from);
        let end = by_name
            .partition_point(|&k| self.keys.name(k) < to)
            .max(start);
        &by_name[start..end]
    }

    fn client(&self, c: u32) -> &str {
        if c == UNKNOWN {
            "?"
        } else {
            self.clients.name(c)
        }
    }

    pub(super) fn key(&self, k: u32) -> &str {
        if k == UNKNOWN || k == MULTI {
            "?"
        } else {
            self.keys.name(k)
        }
    }

    /// A value id (`none` for no value).
    fn value(&self, v: u32) -> String {
        if v == ABSENT {
            return "none".to_string();
        }
        let a = &self.writes[writer_of(v) as usize];
        if a.other == UNKNOWN {
            format!("{}:{}:{}", self.client(a.client), a.op, a.attempt)
        } else {
            self.other_ids.name(a.other).to_string()
        }
    }

    pub(super) fn write_ref(&self, v: u32) -> OpRef {
        let v = writer_of(v);
        let a = &self.writes[v as usize];
        let (client, op, attempt) = if a.other != UNKNOWN && a.status == Status::Unwritten {
            // Not a `client:op:attempt` id: name the value id itself.
            (self.value(v), 0, 0)
        } else {
            (self.client(a.client).to_string(), a.op, a.attempt)
        };
        OpRef {
            client,
            op,
            attempt,
            kind: OpKind::Write,
            outcome: match a.status {
                Status::Ok => Some(Outcome::Ok),
                Status::Fail => Some(Outcome::Fail),
                Status::Info => Some(Outcome::Info),
                Status::Invoked | Status::Unwritten => None,
            },
            snapshot_txn: a.snapshot,
            txn_id: self.info[v as usize].placed.or(a.txn_id),
        }
    }

    pub(super) fn read_ref(&self, r: usize) -> OpRef {
        let op = &self.reads[r];
        OpRef {
            client: self.client(op.client).to_string(),
            op: op.op,
            attempt: 0,
            kind: OpKind::Read,
            outcome: Some(op.outcome),
            snapshot_txn: op.snapshot,
            txn_id: None,
        }
    }

    fn observer_ref(&self, o: Observer) -> Option<OpRef> {
        match o {
            Observer::Read(r) => Some(self.read_ref(r)),
            Observer::Writer(v) => Some(self.write_ref(v)),
            Observer::Final => None,
        }
    }

    /// "who" in an explanation.
    fn who(&self, o: Observer) -> String {
        match o {
            Observer::Read(r) => {
                let op = &self.reads[r];
                format!("read {} op {}", self.client(op.client), op.op)
            }
            Observer::Writer(v) => format!("writer {}", self.write_name(v)),
            Observer::Final => "the final state".to_string(),
        }
    }

    pub(super) fn write_name(&self, v: u32) -> String {
        let v = writer_of(v);
        let a = &self.writes[v as usize];
        if a.other != UNKNOWN && a.status == Status::Unwritten {
            self.value(v)
        } else {
            format!("{}:{}:{}", self.client(a.client), a.op, a.attempt)
        }
    }

    /// A version for an explanation: `value (txn t)`, `none (deleted by w (txn t))` or
    /// `none`.
    fn version(&self, v: Option<(u64, u32)>) -> String {
        match v {
            Some((t, v)) if is_delete(v) => {
                format!("none (deleted by {}, txn {t})", self.write_name(v))
            }
            Some((t, v)) => format!("{} (txn {t})", self.value(v)),
            None => "none".to_string(),
        }
    }

    /// An anomaly's operations and explanation: `first`, then the writers of `values`
    /// (skipping [`ABSENT`]); `text`, then why each of those writers that was inferred
    /// committed counts as committed.
    fn cite(&self, first: Option<OpRef>, values: &[u32], mut text: String) -> (Vec<OpRef>, String) {
        let cited = || values.iter().filter(|&&v| v != ABSENT).take(MAX_OPS);
        let ops = first
            .into_iter()
            .chain(cited().map(|&v| self.write_ref(v)))
            .collect();
        for &v in cited() {
            let v = writer_of(v);
            let i = self.info[v as usize];
            if let (true, Some(t)) = (i.inferred, i.placed) {
                text.push_str(&format!(
                    "; {} was never observed but is taken as committed at txn {t}: it is the only possible occupant of txn {t} (HEAD reached txn {t}, no commit is placed there, and it is the only indeterminate attempt with snapshot {})",
                    self.write_name(v),
                    t - 1
                ));
            }
        }
        (ops, text)
    }

    /// An anomaly about a group of writers (`(_, value id)` pairs): `describe` gets the names
    /// (by `name`) of the first `limit` of them, comma-separated, and returns the explanation;
    /// the writers are cited (see [`Ctx::cite`]).
    fn cite_group<K>(
        &self,
        group: &[(K, u32)],
        limit: usize,
        name: impl Fn(u32) -> String,
        describe: impl FnOnce(String) -> String,
    ) -> (Vec<OpRef>, String) {
        let ws: Vec<u32> = group.iter().map(|e| e.1).collect();
        let names: Vec<String> = ws.iter().take(limit).map(|&v| name(v)).collect();
        self.cite(None, &ws, describe(names.join(", ")))
    }

    /// Reports a [`AnomalyClass::NonSnapshotRead`] of writer `w`, whose read of its key saw
    /// `got` where `expected` was due: `explain` gets both versions as text (built only if the
    /// example is kept); cites the writer and the writers of both versions.
    fn flag_writer_read(
        &self,
        f: &mut Findings,
        w: u32,
        got: Version,
        expected: Version,
        explain: impl FnOnce(String, String) -> String,
    ) {
        f.add(AnomalyClass::NonSnapshotRead, || {
            let text = explain(self.version(got), self.version(expected));
            let ws = [
                w,
                got.map_or(ABSENT, |g| g.1),
                expected.map_or(ABSENT, |e| e.1),
            ];
            self.cite(None, &ws, text)
        });
    }

    /// Reports `class` for observer `o` having seen `key` = `what` (the value and why it is
    /// wrong, built only if the example is kept), citing the writers of `cited`.
    fn flag_seen(
        &self,
        f: &mut Findings,
        class: AnomalyClass,
        o: Observer,
        key: u32,
        cited: &[u32],
        what: impl FnOnce() -> String,
    ) {
        f.add(class, || {
            let text = format!("{} saw {} = {}", self.who(o), self.key(key), what());
            self.cite(self.observer_ref(o), cited, text)
        });
    }

    /// Classifies an observed value: reports garbage, aborted and other-key values, and returns
    /// what is left to compare with the expected state.
    fn judge(&self, f: &mut Findings, o: Observer, key: u32, v: u32) -> Seen {
        if v == ABSENT {
            return Seen::Absent;
        }
        let i = self.info[v as usize];
        match i.status {
            Status::Unwritten => {
                self.flag_seen(f, AnomalyClass::GarbageRead, o, key, &[], || {
                    format!("{:?}, a value id no write attempt wrote", self.value(v))
                });
                return Seen::Skip;
            }
            Status::Fail => {
                self.flag_seen(f, AnomalyClass::AbortedRead, o, key, &[v], || {
                    format!(
                        "{}, written by an attempt that definitely failed",
                        self.value(v)
                    )
                });
                return Seen::Skip;
            }
            Status::Ok | Status::Info | Status::Invoked => {}
        }
        if i.key == MULTI {
            let a = &self.writes[v as usize];
            if !self.txns.writes_of(a).any(|w| w == (key, false)) {
                self.flag_seen(f, AnomalyClass::NonSnapshotRead, o, key, &[v], || {
                    format!(
                        "{}, a value its transaction did not put into {}",
                        self.value(v),
                        self.key(key)
                    )
                });
                return Seen::Skip;
            }
        } else if i.key != UNKNOWN && i.key != key {
            self.flag_seen(f, AnomalyClass::NonSnapshotRead, o, key, &[v], || {
                format!(
                    "{}, a value written to key {}",
                    self.value(v),
                    self.key(i.key)
                )
            });
            return Seen::Skip;
        }
        match i.placed {
            Some(t) => Seen::Placed(t, v),
            None => Seen::Skip,
        }
    }
}

/// Whether `seen` differs from the expected version (a delete: no value). Equal txn ids with
/// different values (duplicate txns) are not compared: they are reported as duplicates.
fn differs(seen: Seen, expected: Option<(u64, u32)>) -> bool {
    match (seen, expected) {
        (Seen::Absent, Some((_, ev))) if is_delete(ev) => false,
        (Seen::Placed(t, _), Some((et, ev))) if is_delete(ev) => t != et,
        (Seen::Skip, _) | (Seen::Absent, None) => false,
        (Seen::Placed(t, v), Some((et, ev))) => t != et && v != ev,
        (Seen::Absent, Some(_)) | (Seen::Placed(..), None) => true,
    }
}

fn seen_version(seen: Seen) -> Option<(u64, u32)> {
    match seen {
        Seen::Placed(t, v) => Some((t, v)),
        Seen::Absent | Seen::Skip => None,
    }
}

/// Which writes are committed, and at which txn.
fn derive_info(writes: &[Attempt], observed: &[bool]) -> Vec<Info> {
    writes
        .iter()
        .zip(observed)
        .map(|(a, &observed)| {
            let committed = match a.status {
                Status::Ok => true,
                Status::Info | Status::Invoked => observed,
                Status::Fail | Status::Unwritten => false,
            };
            let next = a.snapshot.and_then(|s| s.checked_add(1));
            let placed = match (committed, a.key != UNKNOWN, a.status) {
                (true, true, Status::Ok) => a.txn_id.or(next),
                (true, true, _) => next,
                _ => None,
            };
            Info {
                placed,
                key: a.key,
                status: a.status,
                committed,
                inferred: false,
            }
        })
        .collect()
}

/// Takes as committed each unobserved indeterminate write that is the only possible occupant
/// of a txn in `1..=head`: no committed write is placed at that txn and it is the only
/// indeterminate attempt based on the snapshot right before it.
///
/// That is sound only if nothing else can have made the txn, so nothing is inferred when any
/// commit or attempt could stand for an arbitrary txn (a commit not placed in `1..=head`, an
/// acknowledged txn id other than `snapshot + 1`, two commits placed at one txn, an attempt
/// that never completed, a value no attempt wrote), or when some txn has no candidate at all
/// (then commits of unknown origin exist).
fn infer_sole_occupants(writes: &[Attempt], info: &mut [Info], head: u64) {
    let mut occupied = Vec::new();
    let mut candidates: Vec<(u64, u32)> = Vec::new();
    let mut wildcards = 0u64;
    for (v, (a, i)) in writes.iter().zip(info.iter()).enumerate() {
        let next = a.snapshot.and_then(|s| s.checked_add(1));
        if i.committed {
            match i.placed {
                Some(t) if (1..=head).contains(&t) => occupied.push(t),
                _ => wildcards += 1,
            }
            let misplaced = a.status == Status::Ok && next.is_some() && i.placed != next;
            wildcards += u64::from(misplaced);
            continue;
        }
        match (a.status, next) {
            (Status::Info | Status::Invoked, Some(t)) => candidates.push((t, v as u32)),
            (Status::Invoked | Status::Unwritten, _) => wildcards += 1,
            _ => {}
        }
    }
    // Mostly in txn order already.
    occupied.sort_unstable();
    let placed = occupied.len();
    occupied.dedup();
    wildcards += (placed - occupied.len()) as u64;
    if wildcards > 0 {
        return;
    }
    candidates.retain(|&(t, _)| (1..=head).contains(&t) && occupied.binary_search(&t).is_err());
    candidates.sort_unstable();
    let sole: Vec<(u64, u32)> = groups(&candidates, |c| c.0)
        .filter(|g| g.len() == 1)
        .map(|g| g[0])
        .collect();
    let explained = occupied.len() as u64 + groups(&candidates, |c| c.0).count() as u64;
    if explained < head {
        return;
    }
    for (t, v) in sole {
        let i = &mut info[v as usize];
        if i.key != UNKNOWN {
            *i = Info {
                placed: Some(t),
                committed: true,
                inferred: true,
                ..*i
            };
        }
    }
}

pub(super) fn analyze(checker: Checker) -> CheckReport {
    let Checker {
        clients,
        keys,
        other_ids,
        writes,
        observed,
        reads,
        obs,
        ranges,
        txns,
        txn_reads,
        txn_writes,
        final_state,
        problems,
        mut sessions,
        mut evidence,
        ..
    } = checker;

    let mut info = derive_info(&writes, &observed);
    drop(observed);
    if let Some(fs) = &final_state {
        infer_sole_occupants(&writes, &mut info, fs.head_txn);
    }
    let txns = Txns {
        ops: &txns,
        reads: &txn_reads,
        writes: &txn_writes,
    };
    let versions = || {
        writes
            .iter()
            .zip(&info)
            .enumerate()
            .flat_map(move |(v, (a, i))| {
                i.placed.into_iter().flat_map(move |t| {
                    txns.writes_of(a).map(move |(key, deleted)| {
                        (key, t, v as u32 | if deleted { DELETED } else { 0 })
                    })
                })
            })
    };
    let chains = Chains::build(versions, keys.len());
    let ctx = Ctx {
        clients: &clients,
        keys: &keys,
        other_ids: &other_ids,
        writes: &writes,
        info,
        reads: &reads,
        obs: &obs,
        ranges: &ranges,
        txns,
        chains,
    };
    let mut f = Findings::default();
    let mut ran = [true; AnomalyClass::ALL.len()];

    duplicate_txn_ids(&ctx, &mut f);
    let fork = lost_updates(&ctx, &mut f);
    read_ops(&ctx, &mut f);
    writer_reads(&ctx, &mut f, &fork);
    placement(&ctx, &mut f);
    cycles::dependency_cycles(&ctx, &mut f);
    match &final_state {
        Some(fs) => {
            final_state_checks(&ctx, &mut f, fs);
            txn_slots(&ctx, &mut f, fs.head_txn);
        }
        None => {
            ran[AnomalyClass::LostWrite.index()] = false;
            ran[AnomalyClass::TxnCountMismatch.index()] = false;
        }
    }
    sort_by_time(&mut sessions, |s| s.0);
    sort_by_time(&mut evidence, |e| e.0);
    let non_monotonic = monotonic_reads(&ctx, &mut f, clients.len(), &sessions, &evidence);
    realtime(&ctx, &mut f, &non_monotonic, &sessions, &evidence);

    CheckReport::new(
        f,
        ran,
        stats(&ctx, clients.len()),
        final_state.map(|fs| fs.head_txn),
        problems.count,
        problems.examples,
    )
}

fn stats(ctx: &Ctx, clients: usize) -> Stats {
    let mut write_ops: Vec<(u32, u64)> = ctx
        .writes
        .iter()
        .filter(|a| matches!(a.status, Status::Ok | Status::Fail | Status::Info))
        .map(|a| (a.client, a.op))
        .collect();
    write_ops.sort_unstable();
    write_ops.dedup();
    let mut is_reader = vec![false; clients];
    for r in ctx.reads {
        is_reader[r.client as usize] = true;
    }
    let committed_txns = || {
        ctx.writes
            .iter()
            .zip(&ctx.info)
            .filter(|(a, i)| a.key == MULTI && i.committed)
    };
    Stats {
        ops_checked: (ctx.reads.len() + write_ops.len()) as u64,
        acknowledged_writes: ctx.info.iter().filter(|i| i.status == Status::Ok).count() as u64,
        read_ops: ctx.reads.len() as u64,
        values_read: ctx.obs.len() as u64,
        readers: is_reader.iter().filter(|&&r| r).count() as u64,
        multi_key_txns: committed_txns().count() as u64,
        deletes: committed_txns()
            .flat_map(|(a, _)| ctx.txns.writes_of(a))
            .filter(|&(_, deleted)| deleted)
            .count() as u64,
        range_scans: ctx.reads.iter().filter(|r| r.range != UNKNOWN).count() as u64,
    }
}

/// Groups of consecutive equal keys in a sorted slice.
fn groups<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> impl Iterator<Item = &[T]> {
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

/// Two acknowledged commits with the same txn id.
fn duplicate_txn_ids(ctx: &Ctx, f: &mut Findings) {
    let mut acked: Vec<(u64, u32)> = ctx
        .writes
        .iter()
        .enumerate()
        .filter(|(_, a)| a.status == Status::Ok)
        .filter_map(|(v, a)| Some((a.txn_id?, v as u32)))
        .collect();
    // Mostly in txn order already.
    acked.sort();
    for g in groups(&acked, |e| e.0).filter(|g| g.len() > 1) {
        f.add(AnomalyClass::DuplicateTxnId, || {
            ctx.cite_group(
                g,
                usize::MAX,
                |v| ctx.write_name(v),
                |names| {
                    let n = g.len();
                    format!("{n} acknowledged commits carry txn id {}: {names}", g[0].0)
                },
            )
        });
    }
}

/// Forks (committed writes of a key that read the same value) and committed writes based on
/// the same snapshot. Returns, per value id, the fork group of its writer ([`NO_FORK`]: none).
fn lost_updates(ctx: &Ctx, f: &mut Findings) -> Vec<u32> {
    let mut fork = vec![NO_FORK; ctx.writes.len()];
    // Per key, by txn: a fork is a value read by two committed writers of the key.
    let mut by_prev: Vec<(u32, u32)> = Vec::new();
    for key in 0..ctx.keys.len() as u32 {
        by_prev.clear();
        by_prev.extend(ctx.chains.of(key).iter().filter_map(|&(t, e)| {
            let w = writer_of(e);
            let a = &ctx.writes[w as usize];
            let (_, read) = ctx.txns.reads_of(a).find(|r| r.0 == key)?;
            // No value read: the state a delete left is its own version.
            let read = if read == ABSENT {
                ctx.chains.deleted_before(key, t)
            } else {
                read
            };
            Some((read, w))
        }));
        by_prev.sort_unstable();
        for g in groups(&by_prev, |e| e.0).filter(|g| g.len() > 1) {
            let group_id = g[0].1;
            for e in g {
                fork[e.1 as usize] = group_id;
            }
            f.add(AnomalyClass::LostUpdate, || {
                let version = |v: u32| ctx.version(ctx.info[v as usize].placed.map(|t| (t, v)));
                ctx.cite_group(g, MAX_OPS, version, |names| {
                    let (n, key, read) = (g.len(), ctx.key(key), ctx.value(g[0].0));
                    format!("{n} committed writes of {key} all read {read}: {names}")
                })
            });
        }
    }

    let mut by_snapshot: Vec<(u64, u32)> = ctx
        .writes
        .iter()
        .zip(&ctx.info)
        .enumerate()
        .filter(|(_, (_, i))| i.committed)
        .filter_map(|(v, (a, _))| Some((a.snapshot?, v as u32)))
        .collect();
    // Mostly in snapshot order already.
    by_snapshot.sort();
    for g in groups(&by_snapshot, |e| e.0).filter(|g| g.len() > 1) {
        let first = &ctx.writes[g[0].1 as usize];
        let first_fork = fork[g[0].1 as usize];
        let one_fork = first_fork != NO_FORK && g.iter().all(|e| fork[e.1 as usize] == first_fork);
        let duplicate_acks = g.iter().all(|e| {
            let a = &ctx.writes[e.1 as usize];
            a.status == Status::Ok && a.txn_id.is_some() && a.txn_id == first.txn_id
        });
        if one_fork || duplicate_acks {
            continue;
        }
        f.add(AnomalyClass::LostUpdate, || {
            ctx.cite_group(
                g,
                MAX_OPS,
                |v| ctx.write_name(v),
                |names| {
                    let n = g.len();
                    format!(
                        "{n} committed writes are based on the same snapshot {}: {names}",
                        g[0].0
                    )
                },
            )
        });
    }
    fork
}

/// Read operations: each observation against the key's state at the snapshot; scans for
/// duplicate keys, keys outside their range, and missing keys.
fn read_ops(ctx: &Ctx, f: &mut Findings) {
    let mut stamp = vec![usize::MAX; ctx.keys.len()];
    let mut cursor = vec![0usize; ctx.keys.len()];
    let by_name = (!ctx.ranges.is_empty()).then(|| ctx.keys_by_name());
    for (r, op) in ctx.reads.iter().enumerate() {
        let o = Observer::Read(r);
        let range = ctx.ranges.get(op.range as usize);
        for &(key, v) in &ctx.obs[op.obs.clone()] {
            if op.scan {
                if stamp[key as usize] == r {
                    f.add(AnomalyClass::DuplicateKey, || {
                        let text =
                            format!("{} (a scan) returned {} twice", ctx.who(o), ctx.key(key));
                        (vec![ctx.read_ref(r)], text)
                    });
                    continue;
                }
                stamp[key as usize] = r;
                if let Some((from, to)) = range.filter(|(from, to)| {
                    let k = ctx.key(key);
                    k < from.as_str() || k >= to.as_str()
                }) {
                    ctx.flag_seen(f, AnomalyClass::NonSnapshotRead, o, key, &[], || {
                        format!(
                            "{}, a key outside the scanned range [{from}, {to})",
                            ctx.value(v)
                        )
                    });
                    continue;
                }
            }
            let seen = ctx.judge(f, o, key, v);
            let Some(t) = op.snapshot else { continue };
            let expected = ctx.chains.at_from(key, t, &mut cursor[key as usize]);
            if differs(seen, expected) {
                flag_read(ctx, f, r, key, seen, expected);
            }
        }
        // Only a scan that returned says which keys it did not find.
        if let (true, Some(t), Outcome::Ok) = (op.scan, op.snapshot, op.outcome) {
            let scanned: &[u32] = match (range, &by_name) {
                (Some((from, to)), Some(by_name)) => ctx.keys_in(by_name, from, to),
                _ => &[],
            };
            let all = 0..if range.is_some() {
                0
            } else {
                ctx.keys.len() as u32
            };
            for key in scanned.iter().copied().chain(all) {
                if stamp[key as usize] == r {
                    continue;
                }
                if let Some(expected) = live(ctx.chains.at(key, t)) {
                    f.add(AnomalyClass::NonSnapshotRead, || {
                        let text = format!(
                            "{} (a scan) at snapshot {t} missed {}, whose state after txn {t} is {}",
                            ctx.who(o),
                            ctx.key(key),
                            ctx.version(Some(expected))
                        );
                        ctx.cite(Some(ctx.read_ref(r)), &[expected.1], text)
                    });
                }
            }
        }
    }
}

/// Reports read op `r` having seen `key` as `seen` where `expected` was the state.
fn flag_read(ctx: &Ctx, f: &mut Findings, r: usize, key: u32, seen: Seen, expected: Version) {
    let t = ctx.reads[r].snapshot.unwrap_or_default();
    f.add(AnomalyClass::NonSnapshotRead, || {
        let got = seen_version(seen);
        let kind = match got {
            Some(_) if live(expected).is_none() && ctx.reads[r].scan => "a phantom",
            Some((gt, _)) if gt > t => "future",
            _ => "stale",
        };
        let text = format!(
            "{} at snapshot {t} saw {} = {} but the state after txn {t} is {} ({kind})",
            ctx.who(Observer::Read(r)),
            ctx.key(key),
            ctx.version(got),
            ctx.version(expected)
        );
        let ws = [
            got.map_or(ABSENT, |g| g.1),
            expected.map_or(ABSENT, |e| e.1),
        ];
        ctx.cite(Some(ctx.read_ref(r)), &ws, text)
    });
}

/// Each writer's reads: a committed writer's read of a key it wrote against its predecessor
/// in the chain, its other reads against the state before its txn; any other writer's
/// against the state at its snapshot.
fn writer_reads(ctx: &Ctx, f: &mut Findings, fork: &[u32]) {
    for (w, (a, i)) in ctx.writes.iter().zip(&ctx.info).enumerate() {
        for (key, read) in ctx.txns.reads_of(a) {
            let wrote = ctx.txns.writes_of(a).any(|(k, _)| k == key);
            writer_read(ctx, f, w as u32, i.placed, (key, read), wrote, fork);
        }
    }
}

/// One read of writer `w` (placed at txn `placed`, if committed): `key` = `read`, a key it
/// also `wrote` or not. See [`writer_reads`].
fn writer_read(
    ctx: &Ctx,
    f: &mut Findings,
    w: u32,
    placed: Option<u64>,
    (key, read): (u32, u32),
    wrote: bool,
    fork: &[u32],
) {
    let o = Observer::Writer(w);
    let seen = ctx.judge(f, o, key, read);
    let a = &ctx.writes[w as usize];
    if let Some(txn) = placed {
        let pred = ctx.chains.before(key, txn);
        if !differs(seen, pred) || (wrote && fork[w as usize] != NO_FORK) {
            return;
        }
        let got = seen_version(seen);
        match (got, pred) {
            (got, Some(p)) if wrote && got.is_none_or(|g| g.0 < p.0) => {
                f.add(AnomalyClass::LostWrite, || {
                    let text = format!(
                        "committed write {} of {} was overwritten by {} (txn {txn}), which read {}",
                        ctx.version(Some(p)),
                        ctx.key(key),
                        ctx.write_name(w),
                        ctx.version(got)
                    );
                    ctx.cite(None, &[p.1, w], text)
                });
            }
            _ => ctx.flag_writer_read(f, w, got, pred, |got, pred| {
                let (who, key) = (ctx.who(o), ctx.key(key));
                format!("{who} (txn {txn}) read {key} = {got} but the previous committed version is {pred}")
            }),
        }
    } else if let Some(s) = a.snapshot {
        let expected = ctx.chains.at(key, s);
        if differs(seen, expected) {
            let got = seen_version(seen);
            ctx.flag_writer_read(f, w, got, expected, |got, expected| {
                let (who, key) = (ctx.who(o), ctx.key(key));
                format!("{who} at snapshot {s} read {key} = {got} but the state after txn {s} is {expected}")
            });
        }
    }
}

/// Acknowledged commits whose txn id is missing or not `snapshot + 1`, and committed writes
/// that cannot be placed.
fn placement(ctx: &Ctx, f: &mut Findings) {
    for (w, (a, i)) in ctx.writes.iter().zip(&ctx.info).enumerate() {
        let w = w as u32;
        if a.status == Status::Ok {
            let expected = a.snapshot.and_then(|s| s.checked_add(1));
            match (a.txn_id, expected) {
                (None, _) => f.add(AnomalyClass::TxnCountMismatch, || {
                    let text = format!("acknowledged commit {} has no txn id", ctx.write_name(w));
                    ctx.cite(None, &[w], text)
                }),
                (Some(t), Some(e)) if t != e => f.add(AnomalyClass::TxnCountMismatch, || {
                    let text = format!(
                        "acknowledged commit {} has txn id {t} but its snapshot is {} (expected txn {e})",
                        ctx.write_name(w),
                        e - 1
                    );
                    ctx.cite(None, &[w], text)
                }),
                _ => {}
            }
        } else if i.committed && i.placed.is_none() {
            f.add(AnomalyClass::TxnCountMismatch, || {
                let text = format!(
                    "indeterminate write {} was observed (so committed) but cannot be placed: its snapshot is unknown",
                    ctx.write_name(w)
                );
                ctx.cite(None, &[w], text)
            });
        }
    }
}

/// The final state: duplicate keys, and each key's value against the end of its chain.
fn final_state_checks(ctx: &Ctx, f: &mut Findings, fs: &FinalState) {
    let mut present = vec![false; ctx.keys.len()];
    for &(key, v) in &fs.state {
        if present[key as usize] {
            f.add(AnomalyClass::DuplicateKey, || {
                let text = format!("the final state returned {} twice", ctx.key(key));
                (Vec::new(), text)
            });
            continue;
        }
        present[key as usize] = true;
        let seen = ctx.judge(f, Observer::Final, key, v);
        let chain = ctx.chains.of(key);
        if let (Seen::Placed(t, _), Some(&last)) = (seen, chain.last()) {
            if differs(seen, Some(last)) && t < last.0 {
                let lost: Vec<u32> = chain.iter().filter(|e| e.0 > t).map(|e| e.1).collect();
                f.add(AnomalyClass::LostWrite, || {
                    let text = format!(
                        "the final state has {} = {} but {} later committed write(s) are missing, the last {}",
                        ctx.key(key),
                        ctx.version(seen_version(seen)),
                        lost.len(),
                        ctx.version(Some(last))
                    );
                    ctx.cite(None, &lost, text)
                });
            }
        }
    }
    for key in 0..ctx.keys.len() as u32 {
        if present[key as usize] {
            continue;
        }
        if let Some(last) = live(ctx.chains.of(key).last().copied()) {
            f.add(AnomalyClass::LostWrite, || {
                let text = format!(
                    "{} is missing from the final state; its last committed write is {}",
                    ctx.key(key),
                    ctx.version(Some(last))
                );
                ctx.cite(None, &[last.1], text)
            });
        }
    }
}

/// Committed txns against HEAD: none above it, no more commits than txns, and every txn in
/// `1..=head` explained by a committed write or an indeterminate attempt that could have
/// committed it.
fn txn_slots(ctx: &Ctx, f: &mut Findings, head: u64) {
    let mut occupied = Vec::new();
    let mut candidates = Vec::new();
    // Commits that cannot be placed, and attempts that never completed and whose snapshot is
    // unknown: each may account for any one txn.
    let mut unplaced = 0u64;
    let mut unknown = 0u64;
    for (w, (a, i)) in ctx.writes.iter().zip(&ctx.info).enumerate() {
        if i.committed {
            match i.placed {
                Some(t) if t > head => f.add(AnomalyClass::TxnCountMismatch, || {
                    let text = format!(
                        "committed write {} has txn id {t}, above HEAD's {head}",
                        ctx.write_name(w as u32)
                    );
                    ctx.cite(None, &[w as u32], text)
                }),
                Some(t) => occupied.push(t),
                None => unplaced += 1,
            }
        } else if matches!(a.status, Status::Info | Status::Invoked) {
            match a.snapshot.and_then(|s| s.checked_add(1)) {
                Some(t) => candidates.push(t),
                None if a.status == Status::Invoked => unknown += 1,
                None => {}
            }
        }
    }
    occupied.retain(|&t| t >= 1);
    // Mostly in txn order already.
    occupied.sort();
    occupied.dedup();
    candidates.retain(|&t| (1..=head).contains(&t) && occupied.binary_search(&t).is_err());
    candidates.sort();
    candidates.dedup();
    let known = occupied.len() as u64;
    if known + unplaced > head {
        f.add(AnomalyClass::TxnCountMismatch, || {
            let text = format!(
                "{known} distinct committed txns plus {unplaced} unplaced commits exceed HEAD's txn id {head}"
            );
            (Vec::new(), text)
        });
    }
    let empty = head - known;
    let unexplained = empty.saturating_sub(candidates.len() as u64 + unplaced + unknown);
    if unexplained > 0 {
        let mut examples = Vec::new();
        let (mut i, mut j, mut t) = (0, 0, 1u64);
        while examples.len() < 5 && t <= head {
            if occupied.get(i) == Some(&t) {
                i += 1;
            } else if candidates.get(j) == Some(&t) {
                j += 1;
            } else {
                examples.push(t.to_string());
            }
            t += 1;
        }
        f.add(AnomalyClass::TxnCountMismatch, || {
            let text = format!(
                "HEAD is at txn {head} but {unexplained} txn id(s) are explained by no acknowledged or observed commit and no indeterminate attempt with that snapshot (e.g. txn {})",
                examples.join(", ")
            );
            (Vec::new(), text)
        });
    }
}

/// Per reader client: a later op must not see a lower snapshot than an op of the same client
/// that completed before it was invoked. Returns which reads were reported. `sessions` and
/// `evidence` are sorted by time.
fn monotonic_reads(
    ctx: &Ctx,
    f: &mut Findings,
    clients: usize,
    sessions: &[(u64, Session)],
    evidence: &[(u64, u64, Evidence)],
) -> Vec<bool> {
    let mut flagged = vec![false; ctx.reads.len()];
    let mut queries: Vec<Vec<(u64, usize)>> = vec![Vec::new(); clients];
    for &(t, s) in sessions {
        if let Session::Read(i) = s {
            let i = i as usize;
            queries[ctx.reads[i].client as usize].push((t, i));
        }
    }
    let mut done: Vec<Vec<(u64, u64, usize)>> = vec![Vec::new(); clients];
    for &(t, snapshot, e) in evidence {
        if let Evidence::ReadSession(i) = e {
            let i = i as usize;
            done[ctx.reads[i].client as usize].push((t, snapshot, i));
        }
    }
    for (queries, done) in queries.iter().zip(&done) {
        sweep(done, queries, |i, invoked, best| {
            let (Some((m, src, completed)), Some(s)) = (best, ctx.reads[i].snapshot) else {
                return;
            };
            if m <= s {
                return;
            }
            flagged[i] = true;
            f.add(AnomalyClass::NonMonotonicRead, || {
                let text = format!(
                    "{} (invoked at {invoked} us) has snapshot {s}, below snapshot {m} of its earlier {} (completed at {completed} us)",
                    ctx.who(Observer::Read(i)),
                    ctx.who(Observer::Read(src)),
                );
                (vec![ctx.read_ref(src), ctx.read_ref(i)], text)
            });
        });
    }
    flagged
}

/// Every session invoked after a commit was acknowledged (or after another session completed)
/// must have a snapshot at least that commit's txn (resp. that session's snapshot).
/// `sessions` and `evidence` are sorted by time.
fn realtime(
    ctx: &Ctx,
    f: &mut Findings,
    non_monotonic: &[bool],
    sessions: &[(u64, Session)],
    evidence: &[(u64, u64, Evidence)],
) {
    let describe = |e: Evidence, m: u64, t: u64| match e {
        Evidence::Ack(w) => format!(
            "{} was acknowledged with txn {m} at {t} us",
            ctx.write_name(w)
        ),
        Evidence::WriteSession(w) => format!(
            "writer {} completed with snapshot {m} at {t} us",
            ctx.write_name(w)
        ),
        Evidence::ReadSession(r) => format!(
            "{} completed with snapshot {m} at {t} us",
            ctx.who(Observer::Read(r as usize))
        ),
    };
    let evidence_ref = |e: Evidence| match e {
        Evidence::Ack(w) | Evidence::WriteSession(w) => ctx.write_ref(w),
        Evidence::ReadSession(r) => ctx.read_ref(r as usize),
    };
    sweep(evidence, sessions, |session, invoked, best| {
        let Some((m, src, at)) = best else { return };
        // The session's snapshot (for a commit without one: the txn before its own).
        let (s, who) = match session {
            Session::Write(w) => {
                let a = &ctx.writes[w as usize];
                let floor = a
                    .snapshot
                    .or_else(|| ctx.info[w as usize].placed.map(|t| t.saturating_sub(1)));
                let Some(s) = floor.filter(|&s| m > s) else {
                    return;
                };
                (s, Observer::Writer(w))
            }
            Session::Read(r) => {
                let r = r as usize;
                let snapshot = ctx.reads[r].snapshot;
                let Some(s) = snapshot.filter(|&s| m > s && !non_monotonic[r]) else {
                    return;
                };
                (s, Observer::Read(r))
            }
            Session::Pending => return,
        };
        f.add(AnomalyClass::RealtimeViolation, || {
            let text = format!(
                "{} was invoked at {invoked} us with snapshot {s}, but before that {}",
                ctx.who(who),
                describe(src, m, at)
            );
            let ops = std::iter::once(evidence_ref(src))
                .chain(ctx.observer_ref(who))
                .collect();
            (ops, text)
        });
    });
}
