//! Which write attempts are committed, and at which txn: acknowledged ones, indeterminate
//! ones that were observed, and the sole possible occupant of a txn.

use super::model::{groups, Info};
use super::records::{Attempt, Status, UNKNOWN};

/// Which writes are committed, and at which txn.
pub(super) fn derive_info(writes: &[Attempt], observed: &[bool]) -> Vec<Info> {
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
pub(super) fn infer_sole_occupants(writes: &[Attempt], info: &mut [Info], head: u64) {
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
