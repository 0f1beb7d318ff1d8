//! Read operations: each observation against the key's state at the snapshot, and range
//! scans (duplicate keys, keys outside the range, missing keys).

use super::judge::{differs, seen_version, Seen};
use crate::checker::intern::ABSENT;
use crate::checker::model::{live, Ctx, Observer, Version};
use crate::checker::report::Findings;
use crate::checker::AnomalyClass;
use crate::history::Outcome;

/// Read operations: each observation against the key's state at the snapshot; scans for
/// duplicate keys, keys outside their range, and missing keys.
pub(super) fn read_ops(ctx: &Ctx, f: &mut Findings) {
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
