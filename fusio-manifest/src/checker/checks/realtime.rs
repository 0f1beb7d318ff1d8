//! Real time: monotonic reads per reader client, and every session's snapshot against the
//! commits and sessions that completed before it was invoked.

use crate::checker::model::{Ctx, Observer};
use crate::checker::records::{HeadReached, Session};
use crate::checker::report::Findings;
use crate::checker::AnomalyClass;

/// Sorts by time a list that is nearly sorted already (recorded in time order): insertion
/// sort, or a full sort if that takes too many moves.
pub(super) fn sort_by_time<T>(v: &mut [T], time: impl Fn(&T) -> u64) {
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

/// Per reader client: a later op must not see a lower snapshot than an op of the same client
/// that completed before it was invoked. Returns which reads were reported. `sessions` and
/// `evidence` are sorted by time.
pub(super) fn monotonic_reads(
    ctx: &Ctx,
    f: &mut Findings,
    clients: usize,
    sessions: &[(u64, Session)],
    evidence: &[(u64, u64, HeadReached)],
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
        if let HeadReached::ReadSession(i) = e {
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
pub(super) fn realtime(
    ctx: &Ctx,
    f: &mut Findings,
    non_monotonic: &[bool],
    sessions: &[(u64, Session)],
    evidence: &[(u64, u64, HeadReached)],
) {
    let describe = |e: HeadReached, m: u64, t: u64| match e {
        HeadReached::Ack(w) => format!(
            "{} was acknowledged with txn {m} at {t} us",
            ctx.write_name(w)
        ),
        HeadReached::WriteSession(w) => format!(
            "writer {} completed with snapshot {m} at {t} us",
            ctx.write_name(w)
        ),
        HeadReached::ReadSession(r) => format!(
            "{} completed with snapshot {m} at {t} us",
            ctx.who(Observer::Read(r as usize))
        ),
    };
    let evidence_ref = |e: HeadReached| match e {
        HeadReached::Ack(w) | HeadReached::WriteSession(w) => ctx.write_ref(w),
        HeadReached::ReadSession(r) => ctx.read_ref(r as usize),
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
