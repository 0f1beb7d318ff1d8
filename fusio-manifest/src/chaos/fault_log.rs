//! The record of every fault one run injected, each written as the [`FaultPoint`] that injects
//! exactly it again: `kind:KEY#N=action`, where `KEY` is the object key below the run's prefix
//! and `N` counts the operations of that kind on keys containing `KEY`, from the start of the
//! run, as a fault point counts them.
//!
//! fusio-manifest's keys (`HEAD.json`, `segments/seg-{seq:020}.json`,
//! `leases/lease-{ms}[-{attempt}].json`, `checkpoints/ckpt-{lsn:020}.meta.json` and its
//! payload) end in an extension after a fixed-width number, so no key of a prefix contains
//! another and `N` is the count of that exact key. Should one ever contain another, `N` adds
//! the counts of the longer keys seen so far, which is exact when no operation on them is in
//! flight.
//!
//! Replaying the record with random faults, blocks and crashes off
//! (`FaultLog::points` as `CHAOS_FAULT_POINTS`) injects the same faults into the same
//! operations for as long as the run takes the same course; the shrinker
//! ([`crate::search::shrink`]) relies on that.

use std::collections::HashMap;
use std::time::Instant;

use parking_lot::Mutex;

use super::fault_points::{FaultAction, FaultPoint};
use super::S3OpKind;
use crate::world::clock;

/// One injected fault: when, and the point that injects it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedFault {
    /// Microseconds since the run started (the history's clock).
    pub t_us: u64,
    /// The point, in the grammar of [`super::fault_points`].
    pub point: FaultPoint,
}

/// Counts operations per kind and key, and records injected faults as points.
#[derive(Default)]
pub struct FaultLog {
    counts: Mutex<HashMap<(S3OpKind, String), u64>>,
    injected: Mutex<Vec<(Instant, FaultPoint)>>,
}

/// The key as a point names it: below the run's prefix (everything up to the first `/`).
pub fn relative_key(key: &str) -> &str {
    match key.split_once('/') {
        Some((_, rest)) if !rest.is_empty() => rest,
        _ => key,
    }
}

impl FaultLog {
    /// Counts one operation of `kind` on `key`; returns how many there were on that exact key,
    /// this one included.
    pub fn count(&self, kind: S3OpKind, key: &str) -> u64 {
        let mut counts = self.counts.lock();
        let n = counts.entry((kind, key.to_string())).or_insert(0);
        *n += 1;
        *n
    }

    /// How many operations of `kind` on exactly `key` there were so far.
    pub fn seen(&self, kind: S3OpKind, key: &str) -> u64 {
        self.counts
            .lock()
            .get(&(kind, key.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Records that the `nth` operation of `kind` on `key` got `action`.
    pub fn record(&self, kind: S3OpKind, key: &str, nth: u64, action: FaultAction) {
        let pattern = relative_key(key);
        let longer: u64 = self
            .counts
            .lock()
            .iter()
            .filter(|((k, other), _)| *k == kind && other != key && other.contains(pattern))
            .map(|(_, n)| *n)
            .sum();
        let point = FaultPoint::once(kind, pattern, nth + longer, action);
        self.injected.lock().push((clock::now(), point));
    }

    /// Every fault recorded so far, in the order injected, timed from `start` (0 for a fault
    /// injected before it).
    pub fn injected(&self, start: Instant) -> Vec<InjectedFault> {
        self.injected
            .lock()
            .iter()
            .map(|(at, point)| InjectedFault {
                t_us: at.saturating_duration_since(start).as_micros() as u64,
                point: point.clone(),
            })
            .collect()
    }
}

/// The points of `faults` as one `CHAOS_FAULT_POINTS` spec.
pub fn spec(faults: &[FaultPoint]) -> String {
    faults
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::parse_fault_points;

    #[test]
    fn records_relative_keys_with_their_counts_and_round_trips_as_a_spec() {
        let log = FaultLog::default();
        for _ in 0..3 {
            log.count(S3OpKind::CondPut, "p/HEAD.json");
        }
        let n = log.count(S3OpKind::CondPut, "p/HEAD.json");
        log.record(S3OpKind::CondPut, "p/HEAD.json", n, FaultAction::AnswerLost);
        let n = log.count(S3OpKind::Get, "p/segments/seg-1.json");
        log.record(
            S3OpKind::Get,
            "p/segments/seg-1.json",
            n,
            FaultAction::Internal,
        );
        let points: Vec<FaultPoint> = log
            .injected(clock::now())
            .into_iter()
            .map(|f| f.point)
            .collect();
        let line = spec(&points);
        assert_eq!(
            line,
            "condput:HEAD.json#4=answer_lost; get:segments/seg-1.json#1=internal"
        );
        assert_eq!(parse_fault_points(&line).unwrap(), points);
    }

    #[test]
    fn a_key_contained_in_a_longer_one_counts_the_longer_ones_too() {
        let log = FaultLog::default();
        log.count(S3OpKind::Get, "p/ckpt-1.meta.json");
        log.count(S3OpKind::Get, "p/ckpt-1.meta.json");
        let n = log.count(S3OpKind::Get, "p/ckpt-1");
        log.record(S3OpKind::Get, "p/ckpt-1", n, FaultAction::Refuse);
        assert_eq!(
            log.injected(clock::now())[0].point.to_string(),
            "get:ckpt-1#3=refuse"
        );
    }
}
