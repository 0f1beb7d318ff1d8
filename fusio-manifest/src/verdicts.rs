//! The plan's judgements of a sweep, computed once from its outcomes: each scenario's retry
//! verdict (with the plan's suggestions where it is poor) and the plan's seven success
//! criteria (the chaos sweep), and each scenario's liveness (the fault sweep). The sweep saves
//! them in `STEM/STEM_verdicts.json`; [`crate::console`] only prints them. The comprehensive
//! sweep's best-row rule ([`rank`]) is here too: [`crate::sweep`] picks by it.

use std::time::Duration;

use serde::Serialize;

use crate::chaos::faults::FaultCounts;
use crate::chaos::recovery::longest_commit_gap;
use crate::chaos::{ChaosScenario, Evidence};
use crate::checker::{AnomalyClass, Verdict};
use crate::metrics::MetricsSummary;
use crate::outcome::{ActorRow, RunResult, ScenarioOutcome};

/// The failure-rate bound of the best-config rule.
pub const BEST_MAX_FAILURE_RATE: f64 = 0.20;

/// The best-row rule as an order: `Less` when `a` is better than `b`. Rows meeting the
/// failure-rate bound come first, by `write_tps` (higher first), then `write_p99_ms` (lower
/// first); the others follow by failure rate (lower first), then `write_tps`.
pub fn rank(a: &MetricsSummary, b: &MetricsSummary) -> std::cmp::Ordering {
    let meets = |r: &MetricsSummary| r.precondition_failure_rate <= BEST_MAX_FAILURE_RATE;
    match (meets(a), meets(b)) {
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (true, true) => b
            .write_tps
            .total_cmp(&a.write_tps)
            .then(a.write_p99_ms.total_cmp(&b.write_p99_ms)),
        (false, false) => a
            .precondition_failure_rate
            .total_cmp(&b.precondition_failure_rate)
            .then(b.write_tps.total_cmp(&a.write_tps)),
    }
}

/// The plan's retry-behaviour classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryVerdict {
    /// Retry success > 70%, retry failure < 20%, max-retries-exceeded < 5% of failures.
    Good,
    /// Neither good nor poor.
    Fair,
    /// Retry success < 50%, or retry failure > 30%, or max-retries-exceeded > 10%.
    Poor,
    /// No precondition failure happened, so retries never ran.
    NoRetries,
}

/// Classifies one scenario's retry behaviour by the plan's thresholds.
pub fn retry_verdict(r: &RunResult) -> RetryVerdict {
    let s = &r.summary;
    let failures = r.counts.precondition_failures;
    if failures == 0 {
        return RetryVerdict::NoRetries;
    }
    let exceeded = s.total_max_retries_exceeded as f64 / failures as f64;
    if s.retry_success_rate < 0.5 || s.retry_failure_rate > 0.3 || exceeded > 0.10 {
        RetryVerdict::Poor
    } else if s.retry_success_rate > 0.7 && s.retry_failure_rate < 0.2 && exceeded < 0.05 {
        RetryVerdict::Good
    } else {
        RetryVerdict::Fair
    }
}

/// One scenario's retry behaviour.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioRetries {
    /// The scenario.
    pub label: String,
    /// Its class.
    pub verdict: RetryVerdict,
    /// Retry success, percent.
    pub retry_success_pct: f64,
    /// Retry failure, percent.
    pub retry_failure_pct: f64,
    /// Operations that ran out of retries, percent of precondition failures.
    pub max_retries_exceeded_pct: f64,
    /// Precondition failures.
    pub precondition_failures: u64,
    /// The plan's suggestions, when the verdict is poor.
    pub suggestions: Vec<String>,
}

/// One of the plan's success criteria.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Criterion {
    /// Its number in the plan (1 to 7).
    pub number: u8,
    /// Whether it was met.
    pub met: bool,
    /// What was asked and what was measured, e.g. `all scenarios complete: 7/7`.
    pub measured: String,
}

/// Everything the plan judges of one sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdicts {
    /// Scenarios in the sweep, with a result or not.
    pub scenarios: usize,
    /// Each scenario with a result, in order.
    pub retries: Vec<ScenarioRetries>,
    /// Criteria 1 to 7.
    pub criteria: Vec<Criterion>,
    /// Scenarios whose host was saturated: their figures (criteria 3-5) describe the machine.
    pub saturated: Vec<String>,
}

/// Judges a sweep's `outcomes`; `csv_written` and `png_written` say whether its files exist.
pub fn judge(outcomes: &[ScenarioOutcome], csv_written: bool, png_written: bool) -> Verdicts {
    let ok: Vec<&RunResult> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .collect();
    let total = outcomes.len();
    let mut criteria = vec![
        Criterion {
            number: 1,
            met: ok.len() == total,
            measured: format!("all scenarios complete: {}/{total}", ok.len()),
        },
        isolation(&ok, total),
        failure_rate(&ok),
        retries(&ok),
        recovery(&ok),
        corruption(&ok),
        Criterion {
            number: 7,
            met: csv_written && png_written,
            measured: format!(
                "CSV and PNG written: csv {}, png {}",
                yes(csv_written),
                yes(png_written)
            ),
        },
    ];
    if ok.is_empty() {
        // Criteria 3 to 6 are measured over results; over none, none of them is met.
        criteria
            .iter_mut()
            .filter(|c| (3..=6).contains(&c.number))
            .for_each(|c| c.met = false);
    }
    Verdicts {
        scenarios: total,
        retries: ok.iter().map(|r| scenario_retries(r)).collect(),
        criteria,
        saturated: ok
            .iter()
            .filter(|r| r.host.saturated())
            .map(|r| r.summary.config_label.clone())
            .collect(),
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn scenario_retries(r: &RunResult) -> ScenarioRetries {
    let s = &r.summary;
    let failures = r.counts.precondition_failures;
    let verdict = retry_verdict(r);
    let mut suggestions = Vec::new();
    if verdict == RetryVerdict::Poor {
        if s.max_retry_count < 2 {
            suggestions
                .push("increase max_retry_count from 1 to 2-3 (CHAOS_MAX_RETRY_COUNT)".into());
        }
        suggestions.push(
            "add exponential backoff with jitter between retries (CHAOS_RETRY_BACKOFF_MS)".into(),
        );
        if s.key_overlap_ratio > 0.0 {
            suggestions.push("reduce key_overlap_ratio (note: fusio-manifest conflicts are whole-HEAD, so any concurrent commit conflicts whatever keys it touched)".into());
        }
    }
    ScenarioRetries {
        label: s.config_label.clone(),
        verdict,
        retry_success_pct: s.retry_success_rate * 100.0,
        retry_failure_pct: s.retry_failure_rate * 100.0,
        max_retries_exceeded_pct: match failures {
            0 => 0.0,
            n => s.total_max_retries_exceeded as f64 / n as f64 * 100.0,
        },
        precondition_failures: failures,
        suggestions,
    }
}

fn isolation(ok: &[&RunResult], total: usize) -> Criterion {
    let invalid = ok.iter().filter(|r| r.is_invalid()).count();
    let valid = ok
        .iter()
        .filter(|r| !r.is_invalid() && r.check.is_valid())
        .count();
    let unknown = ok
        .iter()
        .filter(|r| !r.is_invalid() && matches!(r.check.verdict(), Verdict::Unknown(_)))
        .count();
    let mut notes = Vec::new();
    if invalid > 0 {
        notes.push(format!("{invalid} INVALID: harness fault, not judged"));
    }
    if unknown > 0 {
        notes.push(format!("{unknown} UNKNOWN: could not be judged"));
    }
    Criterion {
        number: 2,
        met: valid == total,
        measured: format!(
            "isolation verified: {valid}/{total} scenarios{}",
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            }
        ),
    }
}

fn failure_rate(ok: &[&RunResult]) -> Criterion {
    let worst = ok
        .iter()
        .map(|r| (&r.summary.config_label, r.summary.precondition_failure_rate))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let (met, measured) = match worst {
        Some((label, rate)) => (
            rate < 0.30,
            format!(
                "precondition failure rate < 30% everywhere: worst {:.1}% ({label})",
                rate * 100.0
            ),
        ),
        None => (false, "precondition failure rate < 30%: no results".into()),
    };
    Criterion {
        number: 3,
        met,
        measured,
    }
}

fn retries(ok: &[&RunResult]) -> Criterion {
    let with_retries: Vec<&&RunResult> = ok
        .iter()
        .filter(|r| r.counts.precondition_failures > 0)
        .collect();
    let above = with_retries
        .iter()
        .filter(|r| r.summary.retry_success_rate > 0.5)
        .count();
    Criterion {
        number: 4,
        met: with_retries.is_empty() || above * 2 > with_retries.len(),
        measured: format!(
            "retry success > 50% for most scenarios: {above}/{} scenarios with precondition failures",
            with_retries.len()
        ),
    }
}

fn recovery(ok: &[&RunResult]) -> Criterion {
    // A block with no commit before it has no rate to recover to; it is left out.
    let blocks: Vec<_> = ok
        .iter()
        .flat_map(|r| r.recoveries.iter())
        .filter(|b| b.pre_rate > 0.0)
        .collect();
    let unrecovered = blocks.iter().filter(|b| b.recovery_ms.is_none()).count();
    let slowest = blocks.iter().filter_map(|b| b.recovery_ms).max();
    Criterion {
        number: 5,
        met: unrecovered == 0,
        measured: format!(
            "recovery after chaos: {}/{} network blocks recovered to >=50% of the pre-block commit rate{}",
            blocks.len() - unrecovered,
            blocks.len(),
            slowest
                .map(|ms| format!(", slowest {ms} ms"))
                .unwrap_or_default()
        ),
    }
}

fn corruption(ok: &[&RunResult]) -> Criterion {
    let corruption: u64 = ok
        .iter()
        .filter(|r| !r.is_invalid())
        .map(|r| {
            r.check.count(AnomalyClass::LostWrite)
                + r.check.count(AnomalyClass::DuplicateKey)
                + r.check.count(AnomalyClass::GarbageRead)
        })
        .sum();
    let all_valid = ok.iter().all(|r| !r.is_invalid() && r.check.is_valid());
    Criterion {
        number: 6,
        met: corruption == 0 && all_valid,
        measured: format!(
            "no data corruption (lost writes, duplicate keys, garbage reads): {corruption} found"
        ),
    }
}

/// One scenario's liveness: its longest stretch without a commit against its longest
/// injected fault window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Liveness {
    /// The scenario.
    pub label: String,
    /// The figures, or why the scenario was not judged (no result, or INVALID).
    pub judged: Result<LivenessFigures, String>,
}

/// What [`Liveness`] measured of a judged scenario.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LivenessFigures {
    /// The longest stretch without a commit, ms.
    pub no_commit_ms: u64,
    /// When it began, ms since the run's start.
    pub from_ms: u64,
    /// The longest single fault window the scenario injects, ms.
    pub fault_window_ms: u64,
    /// Whether the stretch lasted far longer than the fault: more than twice the window
    /// plus 5 s.
    pub far_longer: bool,
    /// The faults injected.
    pub injected: FaultCounts,
}

/// The liveness of each of `outcomes`, run as `scenarios` for `duration`.
pub fn liveness(
    outcomes: &[ScenarioOutcome],
    scenarios: &[ChaosScenario],
    duration: Duration,
) -> Vec<Liveness> {
    outcomes
        .iter()
        .zip(scenarios)
        .map(|(o, s)| Liveness {
            label: o.label.clone(),
            judged: judgeable(o).map(|r| {
                let end_ms = (r.summary.duration_secs * 1000.0) as u64;
                let (gap, at) = longest_commit_gap(&r.commit_times_ms, 0, end_ms);
                let window = s.longest_fault_window(duration).as_millis() as u64;
                LivenessFigures {
                    no_commit_ms: gap,
                    from_ms: at,
                    fault_window_ms: window,
                    far_longer: gap > 2 * window + 5_000,
                    injected: r.faults,
                }
            }),
        })
        .collect()
}

/// The result of `o` when it can be judged; else why not: no result, or `INVALID` (the harness
/// failed, so the run says nothing about fusio-manifest).
pub fn judgeable(o: &ScenarioOutcome) -> Result<&RunResult, String> {
    match &o.result {
        Err(e) => Err(format!("no result ({e})")),
        Ok(r) if r.is_invalid() => Err(format!(
            "{} (the harness failed, so the run says nothing about fusio-manifest)",
            crate::selfcheck::INVALID_VERDICT
        )),
        Ok(r) => Ok(r),
    }
}

/// Whether a coverage scenario's run showed its `evidence`: `Ok` with what it showed, or
/// `Err` saying what it lacks, from its actor row and the faults injected into it.
pub fn coverage_shown(
    evidence: Evidence,
    row: &ActorRow,
    faults_injected: u64,
) -> Result<String, String> {
    let (passes, deleted) = (row.compactions, row.segments_deleted);
    let gc = format!(
        "{passes} compactor passes ok, {} failed; {deleted} segments deleted by GC",
        row.compaction_errors
    );
    let (ok, what) = match evidence {
        Evidence::Nothing => (true, "no actor beside writers and readers".to_string()),
        Evidence::CompactorRan(least) => (passes + row.compaction_errors >= least, gc),
        Evidence::PinnedThroughCompaction(least) => (
            row.pinned_oldest_ms >= least && passes + row.compaction_errors > 0,
            format!(
                "oldest pinned snapshot read after {:.1} s; {gc}",
                row.pinned_oldest_ms as f64 / 1000.0
            ),
        ),
        Evidence::Skew => (
            row.clock_skew_ms != 0 && row.manifests > 1,
            format!(
                "writer w0's clock {:+} ms off, {} manifests",
                row.clock_skew_ms, row.manifests
            ),
        ),
        Evidence::Crashes => (
            row.crashes > 0,
            format!("{} writer processes killed", row.crashes),
        ),
        Evidence::FaultsOnCompaction => (
            passes + row.compaction_errors > 0 && faults_injected > 0,
            format!(
                "{passes} compactor passes ok, {} failed; {faults_injected} faults injected",
                row.compaction_errors
            ),
        ),
        Evidence::Transactions => (
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_with_no_result_meets_no_criterion_it_cannot_measure() {
        let outcomes = vec![ScenarioOutcome {
            label: "crashed".into(),
            seed: 1,
            result: Err("no result".into()),
        }];
        let v = judge(&outcomes, true, false);
        let met: Vec<(u8, bool)> = v.criteria.iter().map(|c| (c.number, c.met)).collect();
        assert_eq!(
            met,
            [
                (1, false),
                (2, false),
                (3, false),
                (4, false),
                (5, false),
                (6, false),
                (7, false)
            ]
        );
        assert!(v.retries.is_empty());
        let live = liveness(
            &outcomes,
            &[ChaosScenario::baseline()],
            Duration::from_secs(1),
        );
        assert!(live[0]
            .judged
            .as_ref()
            .is_err_and(|e| e.contains("no result")));
        assert_eq!(
            v.criteria[6].measured,
            "CSV and PNG written: csv yes, png no"
        );
    }

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
            let missing = coverage_shown(e, &idle, 0).expect_err("an idle run shows nothing");
            assert!(missing.starts_with("did not show"), "{e:?}: {missing}");
            assert!(coverage_shown(e, &busy, 5).is_ok(), "{e:?}");
        }
        assert!(coverage_shown(Evidence::Nothing, &idle, 0).is_ok());
        let one_pass = ActorRow {
            compactions: 0,
            compaction_errors: 1,
            ..busy.clone()
        };
        assert!(coverage_shown(Evidence::CompactorRan(1), &one_pass, 0).is_ok());
        assert!(coverage_shown(Evidence::CompactorRan(2), &one_pass, 0).is_err());
        let young = ActorRow {
            pinned_oldest_ms: 20_000,
            ..busy.clone()
        };
        assert!(coverage_shown(Evidence::PinnedThroughCompaction(30_000), &young, 0).is_err());
        assert!(coverage_shown(Evidence::FaultsOnCompaction, &busy, 0).is_err());
        let no_deletes = ActorRow {
            deletes: 0,
            ..busy.clone()
        };
        assert!(coverage_shown(Evidence::Transactions, &no_deletes, 0).is_err());
    }
}
