//! The final state: duplicate keys, and each key's value against the end of its version
//! chain (lost writes).

use super::judge::{differs, seen_version, Seen};
use crate::checker::model::{live, Ctx, Observer};
use crate::checker::records::FinalState;
use crate::checker::report::Findings;
use crate::checker::AnomalyClass;

/// The final state: duplicate keys, and each key's value against the end of its chain.
pub(super) fn final_state_checks(ctx: &Ctx, f: &mut Findings, fs: &FinalState) {
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
