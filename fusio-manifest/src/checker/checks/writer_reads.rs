//! Writers' reads: a committed writer's read against its predecessor in the chain (or a
//! lost write), any other writer's read against the state at its snapshot.

use super::judge::{differs, seen_version};
use super::lost_updates::NO_FORK;
use crate::checker::model::{Ctx, Observer};
use crate::checker::report::Findings;
use crate::checker::AnomalyClass;

/// Each writer's reads: a committed writer's read of a key it wrote against its predecessor
/// in the chain, its other reads against the state before its txn; any other writer's
/// against the state at its snapshot.
pub(super) fn writer_reads(ctx: &Ctx, f: &mut Findings, fork: &[u32]) {
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
