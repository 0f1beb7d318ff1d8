//! The coverage sweep's scenarios: the half of fusio-manifest the plan's sweeps never call
//! (compaction, GC, pinned snapshots, independent clients, clock skew, crashes), each with
//! the evidence its run must show to count as having exercised what it names
//! ([`crate::verdicts::coverage_shown`] judges a run by it).
//!
//! Every scenario is sized for 60 s runs: retention TTLs of seconds, so GC deletes within
//! the run; a 40 s pin, so a pinned snapshot is read after more than 30 s. The scenarios in
//! which compactions should land write at a quarter of the workload's rate: at the full rate
//! a compaction never wins its HEAD CAS against the writers (FINDINGS.md 8), which
//! `compaction-under-writes` shows. Whether GC then deletes anything is fusio-manifest's
//! (FINDINGS.md 9 stops it under a read-heavy workload), so the evidence asks for passes run,
//! and reports what they returned and deleted.

use super::faults::{FaultKind, FaultSpec};
use super::scenario::ChaosScenario;
use super::S3OpKind;

/// What a coverage scenario's run must show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// Nothing (the baseline).
    Nothing,
    /// The compactors ran at least this many passes during the run (`compact_and_gc`,
    /// whatever it returned: a pass that fails is fusio-manifest's to explain, FINDINGS.md
    /// 6, 8 and 9).
    CompactorRan(u64),
    /// A pinned read session read its snapshot at least this many ms after taking it, while
    /// the compactor ran its passes.
    PinnedThroughCompaction(u64),
    /// Writer 0 ran with a skewed clock on its own manifest.
    Skew,
    /// At least one writer process was killed.
    Crashes,
    /// The compactor ran and at least one injected fault fired.
    FaultsOnCompaction,
    /// Multi-key transactions committed, some deleting keys, and readers ran range scans.
    /// Without the compactor: after a compaction lands, reads fail with 404 on S3 (FINDINGS.md
    /// 6), and the final state, which the checker folds the transactions into, cannot be read.
    Transactions,
}

/// One coverage scenario: what runs, and what its run must show.
#[derive(Clone, Debug, PartialEq)]
pub struct CoverageScenario {
    /// The scenario (its `settings` turn its actors on).
    pub scenario: ChaosScenario,
    /// What its run must show.
    pub evidence: Evidence,
}

/// Retention short enough for GC to delete within a 60 s run.
const SHORT_RETENTION: [(&str, &str); 2] = [
    ("CHAOS_SEGMENT_TTL_SECS", "5"),
    ("CHAOS_CHECKPOINT_TTL_SECS", "10"),
];

fn with_retention(settings: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    settings.iter().chain(&SHORT_RETENTION).copied().collect()
}

/// The coverage sweep, in order: baseline, compaction-under-writes, pinned-reader-vs-gc,
/// two-compactors, clock-skew-30s, clock-drift (writer 0's clock loses 500 ms a second: 30 s
/// behind after 60 s), writer-crash-mid-commit, faults-on-compaction, multi-key-txns.
pub fn create_coverage_scenarios() -> Vec<CoverageScenario> {
    let named = |label: &str, settings: Vec<(&'static str, &'static str)>| ChaosScenario {
        label: label.into(),
        settings,
        ..ChaosScenario::baseline()
    };
    let compactor = ("CHAOS_COMPACT_EVERY_MS", "5000");
    let slow = ("CHAOS_WRITER_RATE", "0.25");
    let per_client = ("CHAOS_MANIFESTS", "per-client");
    let ambiguous = |keys| FaultSpec::everywhere(FaultKind::AmbiguousSuccess, 0.3).on_keys(keys);
    let transient = |keys| FaultSpec::everywhere(FaultKind::Transient, 0.3).on_keys(keys);
    let faulty = ChaosScenario {
        faults: vec![
            ambiguous("checkpoints/").on(&[S3OpKind::Put]),
            transient("checkpoints/"),
            ambiguous("gc/"),
            transient("segments/").on(&[S3OpKind::Delete]),
        ],
        ..named("faults-on-compaction", with_retention(&[compactor, slow]))
    };
    let pinned = [
        compactor,
        slow,
        ("CHAOS_PINNED_READERS", "2"),
        ("CHAOS_PIN_SECS", "40"),
    ];
    let crash = [
        per_client,
        ("CHAOS_CRASH_EVERY_MS", "5000"),
        ("CHAOS_LEASE_TTL_SECS", "5"),
    ];
    let two = [
        slow,
        ("CHAOS_COMPACT_EVERY_MS", "3000"),
        ("CHAOS_COMPACTORS", "2"),
    ];
    let skew = [per_client, ("CHAOS_CLOCK_SKEW_MS", "30000")];
    let drift = [per_client, ("CHAOS_CLOCK_DRIFT_MS_PER_S", "-500")];
    let txns = [
        ("CHAOS_TXN_KEYS", "4"),
        ("CHAOS_DELETE_PERCENT", "25"),
        ("CHAOS_SCAN_KEYS", "8"),
    ];
    vec![
        cover(ChaosScenario::baseline(), Evidence::Nothing),
        cover(
            named("compaction-under-writes", with_retention(&[compactor])),
            Evidence::CompactorRan(1),
        ),
        cover(
            named("pinned-reader-vs-gc", with_retention(&pinned)),
            Evidence::PinnedThroughCompaction(30_000),
        ),
        cover(
            named("two-compactors", with_retention(&two)),
            Evidence::CompactorRan(2),
        ),
        cover(named("clock-skew-30s", skew.to_vec()), Evidence::Skew),
        cover(named("clock-drift", drift.to_vec()), Evidence::Skew),
        cover(
            named("writer-crash-mid-commit", crash.to_vec()),
            Evidence::Crashes,
        ),
        cover(faulty, Evidence::FaultsOnCompaction),
        cover(
            named("multi-key-txns", txns.to_vec()),
            Evidence::Transactions,
        ),
    ]
}

fn cover(scenario: ChaosScenario, evidence: Evidence) -> CoverageScenario {
    CoverageScenario { scenario, evidence }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WorkloadConfig;

    #[test]
    fn every_coverage_scenario_has_a_valid_workload_and_a_unique_label() {
        let scenarios = create_coverage_scenarios();
        let mut labels: Vec<&str> = scenarios
            .iter()
            .map(|c| c.scenario.label.as_str())
            .collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), scenarios.len());
        for c in &scenarios {
            let w = WorkloadConfig::default()
                .with_settings(&c.scenario.settings)
                .unwrap_or_else(|e| panic!("{}: {e}", c.scenario.label));
            match c.evidence {
                Evidence::CompactorRan(n) => {
                    assert!(w.compact_every_ms > 0 && w.segment_ttl_secs <= 5);
                    assert!(w.compactors as u64 >= n);
                }
                Evidence::FaultsOnCompaction => {
                    assert!(w.compact_every_ms > 0 && w.segment_ttl_secs <= 5);
                    assert!(w.writer_rate < WorkloadConfig::default().writer_rate);
                }
                Evidence::PinnedThroughCompaction(ms) => {
                    assert!(w.pin_secs * 1000 > ms && w.compact_every_ms > 0);
                    assert!(w.writer_rate < WorkloadConfig::default().writer_rate);
                }
                Evidence::Skew => {
                    assert!(w.clock_skew_ms != 0 || w.clock_drift_ms_per_s != 0);
                }
                Evidence::Transactions => {
                    assert!(w.txn_keys > 1 && w.delete_percent > 0 && w.scan_keys > 0);
                }
                Evidence::Crashes => assert!(w.crash_every_ms > 0 && w.lease_ttl_secs <= 5),
                Evidence::Nothing => assert_eq!(w, WorkloadConfig::default()),
            }
        }
    }
}
