//! The checks run by [`Checker::finish`](super::Checker::finish): [`analyze`] builds the
//! [`Ctx`], runs every check (each in one of the files below, a few small related ones
//! together; the dependency cycles are in `cycles.rs`) and computes the report's statistics.

mod final_state;
mod judge;
mod lost_updates;
mod reads;
mod realtime;
mod txn_ids;
mod writer_reads;

use super::commits::{derive_info, infer_sole_occupants};
use super::cycles::dependency_cycles;
use super::ids::DELETED;
use super::model::{Chains, Ctx, Txns};
use super::records::{Status, MULTI, UNKNOWN};
use super::report::{Findings, Stats};
use super::{AnomalyClass, CheckReport, Checker};
use final_state::final_state_checks;
use lost_updates::lost_updates;
use reads::read_ops;
use realtime::{monotonic_reads, realtime, sort_by_time};
use txn_ids::{duplicate_txn_ids, placement, txn_slots};
use writer_reads::writer_reads;

/// Runs every check on what `checker` kept and builds the report.
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
    dependency_cycles(&ctx, &mut f);
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
