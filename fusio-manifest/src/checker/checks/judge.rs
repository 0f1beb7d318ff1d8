//! Judging one observed value, shared by the checks of reads, writers' reads and the final
//! state: garbage, aborted and other-key values are reported, the rest compared with the
//! expected version.

use crate::checker::intern::ABSENT;
use crate::checker::model::{is_delete, Ctx, Observer, Version};
use crate::checker::records::{Status, MULTI, UNKNOWN};
use crate::checker::report::Findings;
use crate::checker::AnomalyClass;

/// What an observed value is, for comparing it with the expected state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    /// The key had no value.
    Absent,
    /// A committed value of this key: `(txn, value)`.
    Placed(u64, u32),
    /// Already reported (garbage, aborted, another key's) or not placeable: not compared.
    Skip,
}

impl Ctx<'_> {
    /// Reports a [`AnomalyClass::NonSnapshotRead`] of writer `w`, whose read of its key saw
    /// `got` where `expected` was due: `explain` gets both versions as text (built only if the
    /// example is kept); cites the writer and the writers of both versions.
    pub(super) fn flag_writer_read(
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
    pub(super) fn flag_seen(
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
    pub(super) fn judge(&self, f: &mut Findings, o: Observer, key: u32, v: u32) -> Seen {
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
pub(super) fn differs(seen: Seen, expected: Option<(u64, u32)>) -> bool {
    match (seen, expected) {
        (Seen::Absent, Some((_, ev))) if is_delete(ev) => false,
        (Seen::Placed(t, _), Some((et, ev))) if is_delete(ev) => t != et,
        (Seen::Skip, _) | (Seen::Absent, None) => false,
        (Seen::Placed(t, v), Some((et, ev))) => t != et && v != ev,
        (Seen::Absent, Some(_)) | (Seen::Placed(..), None) => true,
    }
}

pub(super) fn seen_version(seen: Seen) -> Option<(u64, u32)> {
    match seen {
        Seen::Placed(t, v) => Some((t, v)),
        Seen::Absent | Seen::Skip => None,
    }
}
