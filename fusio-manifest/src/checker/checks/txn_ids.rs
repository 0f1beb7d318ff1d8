//! Txn ids: duplicate acknowledged txn ids, commits that cannot be placed or whose txn id
//! is not `snapshot + 1`, and the committed txns against HEAD.

use crate::checker::model::{groups, Ctx};
use crate::checker::records::Status;
use crate::checker::report::Findings;
use crate::checker::AnomalyClass;

/// Two acknowledged commits with the same txn id.
pub(super) fn duplicate_txn_ids(ctx: &Ctx, f: &mut Findings) {
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

/// Acknowledged commits whose txn id is missing or not `snapshot + 1`, and committed writes
/// that cannot be placed.
pub(super) fn placement(ctx: &Ctx, f: &mut Findings) {
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

/// Committed txns against HEAD: none above it, no more commits than txns, and every txn in
/// `1..=head` explained by a committed write or an indeterminate attempt that could have
/// committed it.
pub(super) fn txn_slots(ctx: &Ctx, f: &mut Findings, head: u64) {
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
