//! Lost updates: forks (committed writes of a key that read the same value) and committed
//! writes based on the same snapshot.

use crate::checker::cite::MAX_OPS;
use crate::checker::intern::ABSENT;
use crate::checker::model::{groups, writer_of, Ctx};
use crate::checker::records::Status;
use crate::checker::report::Findings;
use crate::checker::AnomalyClass;

/// No fork group.
pub(super) const NO_FORK: u32 = u32::MAX;

/// Forks (committed writes of a key that read the same value) and committed writes based on
/// the same snapshot. Returns, per value id, the fork group of its writer ([`NO_FORK`]: none).
pub(super) fn lost_updates(ctx: &Ctx, f: &mut Findings) -> Vec<u32> {
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
