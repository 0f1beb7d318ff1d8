//! How anomaly explanations name and cite operations: clients, keys, value ids, versions,
//! the [`OpRef`]s an anomaly lists, and why an inferred commit counts as committed.

use super::anomaly::OpRef;
use super::intern::ABSENT;
use super::model::{is_delete, writer_of, Ctx, Observer};
use super::records::{Status, MULTI, UNKNOWN};
use crate::history::{OpKind, Outcome};

/// At most this many operations are listed in one anomaly.
pub(super) const MAX_OPS: usize = 8;

impl Ctx<'_> {
    /// `read r0 op 3`: read operation `r`.
    pub(super) fn read_name(&self, r: usize) -> String {
        self.who(Observer::Read(r))
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
    pub(super) fn value(&self, v: u32) -> String {
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

    pub(super) fn observer_ref(&self, o: Observer) -> Option<OpRef> {
        match o {
            Observer::Read(r) => Some(self.read_ref(r)),
            Observer::Writer(v) => Some(self.write_ref(v)),
            Observer::Final => None,
        }
    }

    /// "who" in an explanation.
    pub(super) fn who(&self, o: Observer) -> String {
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
    pub(super) fn version(&self, v: Option<(u64, u32)>) -> String {
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
    pub(super) fn cite(
        &self,
        first: Option<OpRef>,
        values: &[u32],
        mut text: String,
    ) -> (Vec<OpRef>, String) {
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
    pub(super) fn cite_group<K>(
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
}
