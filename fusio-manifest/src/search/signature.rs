//! What a failing run showed, as a signature that groups seeds: the anomaly classes the
//! checker found, a liveness stretch beyond the lease TTL, a final state that could not be
//! read, and (kept apart, since they are ours) harness faults.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::chaos::recovery::block_windows;
use crate::checker::AnomalyClass;
use crate::workload::RunResult;

/// One thing a run showed that a correct, live fusio-manifest run does not.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "feature", content = "detail")]
pub enum Feature {
    /// The checker found this anomaly class (its name, e.g. `aborted_read`).
    Anomaly(String),
    /// No commit, outside network blocks and while the workload ran, for longer than
    /// [`stall_limit_ms`]: beyond the lease TTL by at least the TTL again and at least 10 s,
    /// while writers kept trying.
    StallBeyondLeaseTtl,
    /// The store still held a write lease at the end that was never released, in a run
    /// without crashed writers, beyond one per session task cancelled at the end: a session
    /// ended without releasing its lease (finding 3).
    UnreleasedWriteLease,
    /// The store still held a write lease at the end whose creation's answer was lost or whose
    /// DELETE failed: fusio-manifest never removes it (finding 11).
    StrayLease,
    /// The final state could not be read (the verdict is `UNKNOWN`).
    NoFinalState,
    /// Our fault, not fusio-manifest's: the run was `INVALID` or produced no result.
    Harness,
}

impl Feature {
    /// Whether this is the harness's fault (reported apart, never shrunk as a finding).
    pub fn is_harness(&self) -> bool {
        matches!(self, Self::Harness)
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anomaly(class) => f.write_str(class),
            Self::StallBeyondLeaseTtl => f.write_str("stall>lease_ttl"),
            Self::UnreleasedWriteLease => f.write_str("unreleased_write_lease"),
            Self::StrayLease => f.write_str("stray_lease"),
            Self::NoFinalState => f.write_str("no_final_state"),
            Self::Harness => f.write_str("HARNESS"),
        }
    }
}

impl std::str::FromStr for Feature {
    type Err = std::convert::Infallible;

    /// The inverse of `Display` (any other text is an anomaly class name).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "stall>lease_ttl" => Self::StallBeyondLeaseTtl,
            "unreleased_write_lease" => Self::UnreleasedWriteLease,
            "stray_lease" => Self::StrayLease,
            "no_final_state" => Self::NoFinalState,
            "HARNESS" => Self::Harness,
            class => Self::Anomaly(class.to_string()),
        })
    }
}

/// Every feature one run showed; empty for a run that passed and stayed live.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Signature(pub BTreeSet<Feature>);

impl Signature {
    /// What run `result` showed; `lease_ttl_ms` is its lease TTL, `workload_ms` how long its
    /// clients ran.
    pub fn of(result: &Result<RunResult, String>, lease_ttl_ms: u64, workload_ms: u64) -> Self {
        let r = match result {
            Ok(r) => r,
            Err(_) => return Self(BTreeSet::from([Feature::Harness])),
        };
        if r.is_invalid() {
            return Self(BTreeSet::from([Feature::Harness]));
        }
        let mut features: BTreeSet<Feature> = AnomalyClass::ALL
            .iter()
            .filter(|c| r.check.count(**c) > 0)
            .map(|c| Feature::Anomaly(c.name().to_string()))
            .collect();
        if !r.check.final_present() {
            features.insert(Feature::NoFinalState);
        }
        if unexplained_unreleased_leases(r) > 0 {
            features.insert(Feature::UnreleasedWriteLease);
        }
        if r.leases_left.is_some_and(|l| l.stray > 0) {
            features.insert(Feature::StrayLease);
        }
        let limit = stall_limit_ms(lease_ttl_ms, r.crashes.total() > 0);
        if r.counts.write_attempts > 0 && longest_stall_ms(r, workload_ms) > limit {
            features.insert(Feature::StallBeyondLeaseTtl);
        }
        Self(features)
    }

    /// Whether the run showed nothing.
    pub fn is_clean(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether it shows `feature`.
    pub fn has(&self, feature: &Feature) -> bool {
        self.0.contains(feature)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("clean");
        }
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join("+"))
    }
}

/// The longest stretch without a commit that counts as a liveness failure, ms: twice the lease
/// TTL and at least 10 s (three times the TTL when writers crashed, since a crashed writer's
/// lease must expire first). Plain conflicts leave gaps of about one short TTL without any
/// fault (seed 79 of a fault-free search: 3.0 s at a 3 s TTL, 89% of attempts conflicting);
/// findings 2 and 3 stop commits for tens of seconds.
pub fn stall_limit_ms(lease_ttl_ms: u64, crashed: bool) -> u64 {
    let ttls = if crashed { 3 } else { 2 };
    (ttls * lease_ttl_ms).max(10_000)
}

/// Unreleased write leases run `r` left in the store that nothing of ours explains; 0 in real
/// time (see [`unexplained_leases`]).
pub fn unexplained_unreleased_leases(r: &RunResult) -> u64 {
    r.leases_left.map_or(0, |left| {
        unexplained_leases(
            left.unreleased as u64,
            r.crashes.total(),
            r.background.cancelled as u64,
        )
    })
}

/// Of `unreleased` write leases, those that neither a crash nor a session task cancelled at
/// the end of the run (one lease each) explains. A run with a crashed writer explains them all:
/// a killed process leaves a lease for every session it held, and a writer holds several at
/// once (seed 216 of an fs-mode search: one crash, three leases).
pub fn unexplained_leases(unreleased: u64, crashes: u64, cancelled: u64) -> u64 {
    if crashes > 0 {
        0
    } else {
        unreleased.saturating_sub(cancelled)
    }
}

/// The longest stretch of run `r` without an acknowledged commit within its first
/// `workload_ms` (while its clients ran), ms, not counting time inside network blocks.
pub fn longest_stall_ms(r: &RunResult, workload_ms: u64) -> u64 {
    let end_ms = ((r.summary.duration_secs * 1000.0) as u64).min(workload_ms);
    stall_ms(
        &r.commit_times_ms,
        end_ms,
        &block_windows(&r.events, end_ms),
    )
}

/// The longest stretch of `0..end_ms` between commits (sorted ms), minus its time inside
/// `blocks`.
fn stall_ms(commits: &[u64], end_ms: u64, blocks: &[(u64, u64)]) -> u64 {
    let mut edges = vec![0];
    edges.extend(commits.iter().copied().filter(|t| *t <= end_ms));
    edges.push(end_ms);
    edges
        .windows(2)
        .map(|w| {
            let (from, to) = (w[0], w[1]);
            let blocked: u64 = blocks
                .iter()
                .map(|&(s, e)| e.min(to).saturating_sub(s.max(from)))
                .sum();
            (to - from).saturating_sub(blocked)
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_must_outlast_two_ttls_and_ten_seconds() {
        assert_eq!(stall_limit_ms(3_000, false), 10_000);
        assert_eq!(stall_limit_ms(8_000, false), 16_000);
        assert_eq!(stall_limit_ms(8_000, true), 24_000);
    }

    #[test]
    fn a_stall_is_the_longest_gap_between_commits_outside_blocks() {
        assert_eq!(stall_ms(&[1_000, 2_000, 9_000], 10_000, &[]), 7_000);
        assert_eq!(
            stall_ms(&[1_000, 2_000, 9_000], 10_000, &[(3_000, 6_000)]),
            4_000
        );
        assert_eq!(stall_ms(&[], 10_000, &[]), 10_000);
        assert_eq!(stall_ms(&[1_000, 9_500], 10_000, &[(0, 10_000)]), 0);
    }

    #[test]
    fn unreleased_leases_are_ours_after_a_crash_or_a_cancelled_task() {
        assert_eq!(unexplained_leases(0, 0, 0), 0);
        assert_eq!(unexplained_leases(2, 0, 0), 2);
        assert_eq!(unexplained_leases(2, 0, 1), 1);
        assert_eq!(
            unexplained_leases(3, 1, 0),
            0,
            "a killed process leaves several"
        );
    }

    #[test]
    fn write_leases_left_are_unreleased_unless_deleted_or_lost_at_creation() {
        use crate::manifest::{leases_left, LeasesLeft};
        let write = br#"{"id":"lease-1","snapshot_txn_id":1,"active_txn_id":2,"kind":"write","expires_at_ms":9}"#;
        let read = br#"{"id":"lease-2","snapshot_txn_id":1,"kind":"read","expires_at_ms":9}"#;
        let objects: [(&str, &[u8]); 6] = [
            ("p/leases/lease-1.json", write),
            ("p/leases/lease-2.json", read),
            ("p/segments/seg-1.json", write),
            ("p/leases/lease-3.json", b"not json"),
            ("p/leases/lease-4.json", write),
            ("p/leases/lease-5.json", write),
        ];
        let left = leases_left(
            objects,
            |k| k.ends_with("lease-4.json"),
            |k| k.ends_with("lease-5.json"),
        );
        assert_eq!(
            left,
            LeasesLeft {
                unreleased: 1,
                stray: 2
            }
        );
        assert_eq!(leases_left([], |_| false, |_| false), LeasesLeft::default());
    }

    #[test]
    fn signatures_print_in_order_and_round_trip_as_json() {
        let s = Signature(BTreeSet::from([
            Feature::StallBeyondLeaseTtl,
            Feature::Anomaly("aborted_read".into()),
        ]));
        assert_eq!(s.to_string(), "aborted_read+stall>lease_ttl");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Signature>(&json).unwrap(), s);
        assert_eq!(Signature::default().to_string(), "clean");
        for f in &s.0 {
            assert_eq!(&f.to_string().parse::<Feature>().unwrap(), f);
        }
        assert!(Signature::of(&Err("panic".into()), 1000, 1000).has(&Feature::Harness));
    }
}
