//! The coverage sweep's scenarios: the half of fusio-manifest the plan's sweeps never call
//! (compaction, GC, pinned snapshots, independent clients, clock skew, crashes), each with
//! the evidence its run must show to count as having exercised what it names.
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
use crate::workload::ActorRow;

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

impl Evidence {
    /// `Ok` with what a run showed, or `Err` saying what it lacks: from its actor row and the
    /// faults injected into it.
    pub fn shown(self, row: &ActorRow, faults_injected: u64) -> Result<String, String> {
        let (passes, deleted) = (row.compactions, row.segments_deleted);
        let gc = format!(
            "{passes} compactor passes ok, {} failed; {deleted} segments deleted by GC",
            row.compaction_errors
        );
        let (ok, what) = match self {
            Self::Nothing => (true, "no actor beside writers and readers".to_string()),
            Self::CompactorRan(least) => (passes + row.compaction_errors >= least, gc),
            Self::PinnedThroughCompaction(least) => (
                row.pinned_oldest_ms >= least && passes + row.compaction_errors > 0,
                format!(
                    "oldest pinned snapshot read after {:.1} s; {gc}",
                    row.pinned_oldest_ms as f64 / 1000.0
                ),
            ),
            Self::Skew => (
                row.clock_skew_ms != 0 && row.manifests > 1,
                format!(
                    "writer w0's clock {:+} ms off, {} manifests",
                    row.clock_skew_ms, row.manifests
                ),
            ),
            Self::Crashes => (
                row.crashes > 0,
                format!("{} writer processes killed", row.crashes),
            ),
            Self::FaultsOnCompaction => (
                passes + row.compaction_errors > 0 && faults_injected > 0,
                format!(
                    "{passes} compactor passes ok, {} failed; {faults_injected} faults injected",
                    row.compaction_errors
                ),
            ),
            Self::Transactions => (
                row.multi_key_txns > 0 && row.deletes > 0 && row.range_scans > 0,
                format!(
                    "{} multi-key transactions committed, {} keys deleted, {} range scans",
                    row.multi_key_txns, row.deletes, row.range_scans
                ),
            ),
        };
        if ok {
            Ok(what)
        } else {
            Err(format!("did not show what it names: {what}"))
        }
    }
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
    fn a_run_without_the_actor_it_names_is_caught() {
        let idle = ActorRow::default();
        let busy = ActorRow {
            compactions: 12,
            compaction_errors: 1,
            segments_deleted: 40,
            manifests: 9,
            pinned_oldest_ms: 39_500,
            clock_skew_ms: 30_000,
            crashes: 3,
            multi_key_txns: 40,
            deletes: 12,
            range_scans: 30,
            ..Default::default()
        };
        let all = [
            Evidence::CompactorRan(2),
            Evidence::PinnedThroughCompaction(30_000),
            Evidence::Skew,
            Evidence::Crashes,
            Evidence::FaultsOnCompaction,
            Evidence::Transactions,
        ];
        for e in all {
            let missing = e.shown(&idle, 0).expect_err("an idle run shows nothing");
            assert!(missing.starts_with("did not show"), "{e:?}: {missing}");
            assert!(e.shown(&busy, 5).is_ok(), "{e:?}");
        }
        assert!(Evidence::Nothing.shown(&idle, 0).is_ok());
        let one_pass = ActorRow {
            compactions: 0,
            compaction_errors: 1,
            ..busy.clone()
        };
        assert!(Evidence::CompactorRan(1).shown(&one_pass, 0).is_ok());
        assert!(Evidence::CompactorRan(2).shown(&one_pass, 0).is_err());
        let young = ActorRow {
            pinned_oldest_ms: 20_000,
            ..busy.clone()
        };
        assert!(Evidence::PinnedThroughCompaction(30_000)
            .shown(&young, 0)
            .is_err());
        assert!(Evidence::FaultsOnCompaction.shown(&busy, 0).is_err());
        let no_deletes = ActorRow {
            deletes: 0,
            ..busy.clone()
        };
        assert!(Evidence::Transactions.shown(&no_deletes, 0).is_err());
    }

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
            let w = c
                .scenario
                .workload(WorkloadConfig::default())
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
