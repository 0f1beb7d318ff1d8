//! Console reports of sweeps: the plan's summary table, retry verdicts, success criteria, the
//! liveness report, and the best and worst configurations of a comprehensive sweep.

use std::time::Duration;

use crate::chaos::recovery::longest_commit_gap;
use crate::chaos::ChaosScenario;
use crate::checker::AnomalyClass;
use crate::checker::Verdict;
use crate::host::SATURATED;
use crate::metrics::MetricsSummary;
use crate::report::run::print_warning;
use crate::sweep::best::{rank, BEST_MAX_FAILURE_RATE};
use crate::workload::{RunResult, ScenarioOutcome};

/// Prints the plan's table: Scenario, Failure%, WriteTPS, P99(ms), RetrySucc%, RetryFail%.
pub fn print_summary_table(title: &str, outcomes: &[ScenarioOutcome]) {
    println!("\n=== {title} ===\n");
    println!(
        "{:<38} {:>9} {:>10} {:>9} {:>12} {:>12}",
        "Scenario", "Failure%", "WriteTPS", "P99(ms)", "RetrySucc%", "RetryFail%"
    );
    println!("{}", "-".repeat(95));
    for (i, o) in outcomes.iter().enumerate() {
        let name = format!("{}. {}", i + 1, o.label);
        match &o.result {
            Ok(r) => {
                let s = &r.summary;
                println!(
                    "{:<38} {:>8.2}% {:>10.2} {:>9.1} {:>11.1}% {:>11.1}%{}",
                    name,
                    s.precondition_failure_rate * 100.0,
                    s.write_tps,
                    s.write_p99_ms,
                    s.retry_success_rate * 100.0,
                    s.retry_failure_rate * 100.0,
                    if r.is_invalid() {
                        "  ⛔ INVALID: harness fault, not fusio-manifest's figures"
                    } else if r.host.saturated() {
                        "  ⚠️ HOST-SATURATED: the machine's figures, not fusio-manifest's"
                    } else {
                        ""
                    }
                );
            }
            Err(e) => println!("{name:<38} FAILED: {e}"),
        }
    }
}

/// The plan's retry-behaviour classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Prints each scenario's retry verdict, with the plan's suggestions where it is poor.
pub fn print_retry_verdicts(outcomes: &[ScenarioOutcome]) {
    println!("\n=== Retry effectiveness (plan thresholds) ===");
    for o in outcomes {
        let Ok(r) = &o.result else { continue };
        let s = &r.summary;
        let failures = r.counts.precondition_failures;
        let exceeded = if failures > 0 {
            s.total_max_retries_exceeded as f64 / failures as f64 * 100.0
        } else {
            0.0
        };
        let verdict = retry_verdict(r);
        let mark = match verdict {
            RetryVerdict::Good => "✅ good",
            RetryVerdict::Fair => "➖ fair",
            RetryVerdict::Poor => "⚠️ poor",
            RetryVerdict::NoRetries => "✅ no precondition failures",
        };
        println!(
            "{:<32} {mark}: retry success {:.1}%, retry failure {:.1}%, max-retries-exceeded {:.1}% of {} precondition failures",
            o.label,
            s.retry_success_rate * 100.0,
            s.retry_failure_rate * 100.0,
            exceeded,
            failures
        );
        if verdict == RetryVerdict::Poor {
            let mut tips = Vec::new();
            if s.max_retry_count < 2 {
                tips.push("increase max_retry_count from 1 to 2-3 (CHAOS_MAX_RETRY_COUNT)");
            }
            tips.push(
                "add exponential backoff with jitter between retries (CHAOS_RETRY_BACKOFF_MS)",
            );
            if s.key_overlap_ratio > 0.0 {
                tips.push("reduce key_overlap_ratio (note: fusio-manifest conflicts are whole-HEAD, so any concurrent commit conflicts whatever keys it touched)");
            }
            for t in tips {
                println!("{:<32}   suggestion: {t}", "");
            }
        }
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "✅ met    "
    } else {
        "❌ not met"
    }
}

/// Prints the plan's success criteria, each met or not with the measured value. Returns
/// nothing: only crashes and isolation verdicts other than PASS fail a test; the rest are
/// findings.
pub fn print_success_criteria(outcomes: &[ScenarioOutcome], csv_written: bool, png_written: bool) {
    let ok: Vec<&RunResult> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .collect();
    let total = outcomes.len();
    println!("\n=== Success criteria (plan) ===");
    println!(
        "{} 1. all scenarios complete: {}/{total}",
        met(ok.len() == total),
        ok.len()
    );
    criterion_isolation(&ok, total);
    criterion_failure_rate(&ok);
    criterion_retries(&ok);
    criterion_recovery(&ok);
    criterion_corruption(&ok);
    let saturated: Vec<&str> = ok
        .iter()
        .filter(|r| r.host.saturated())
        .map(|r| r.summary.config_label.as_str())
        .collect();
    if !saturated.is_empty() {
        println!(
            "⚠️ host saturated in {}/{total} scenarios ({}): their figures (criteria 3-5) describe the machine, not fusio-manifest",
            saturated.len(),
            saturated.join(", ")
        );
    }
    println!(
        "{} 7. CSV and PNG written: csv {}, png {}",
        met(csv_written && png_written),
        if csv_written { "yes" } else { "no" },
        if png_written { "yes" } else { "no" }
    );
}

fn criterion_isolation(ok: &[&RunResult], total: usize) {
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
    println!(
        "{} 2. isolation verified: {valid}/{total} scenarios{}",
        met(valid == total),
        if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        }
    );
}

fn criterion_failure_rate(ok: &[&RunResult]) {
    let worst = ok
        .iter()
        .map(|r| (&r.summary.config_label, r.summary.precondition_failure_rate))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    match worst {
        Some((label, rate)) => println!(
            "{} 3. precondition failure rate < 30% everywhere: worst {:.1}% ({label})",
            met(rate < 0.30),
            rate * 100.0
        ),
        None => println!(
            "{} 3. precondition failure rate < 30%: no results",
            met(false)
        ),
    }
}

fn criterion_retries(ok: &[&RunResult]) {
    let with_retries: Vec<&MetricsSummary> = ok
        .iter()
        .filter(|r| r.counts.precondition_failures > 0)
        .map(|r| &r.summary)
        .collect();
    let above = with_retries
        .iter()
        .filter(|s| s.retry_success_rate > 0.5)
        .count();
    println!(
        "{} 4. retry success > 50% for most scenarios: {above}/{} scenarios with precondition failures",
        met(with_retries.is_empty() || above * 2 > with_retries.len()),
        with_retries.len()
    );
}

fn criterion_recovery(ok: &[&RunResult]) {
    // A block with no commit before it has no rate to recover to; it is left out.
    let blocks: Vec<_> = ok
        .iter()
        .flat_map(|r| r.recoveries.iter())
        .filter(|b| b.pre_rate > 0.0)
        .collect();
    let unrecovered = blocks.iter().filter(|b| b.recovery_ms.is_none()).count();
    let slowest = blocks.iter().filter_map(|b| b.recovery_ms).max();
    println!(
        "{} 5. recovery after chaos: {}/{} network blocks recovered to >=50% of the pre-block commit rate{}",
        met(unrecovered == 0),
        blocks.len() - unrecovered,
        blocks.len(),
        slowest
            .map(|ms| format!(", slowest {ms} ms"))
            .unwrap_or_default()
    );
}

fn criterion_corruption(ok: &[&RunResult]) {
    let judged: Vec<&&RunResult> = ok.iter().filter(|r| !r.is_invalid()).collect();
    let corruption: u64 = judged
        .iter()
        .map(|r| {
            r.check.count(AnomalyClass::LostWrite)
                + r.check.count(AnomalyClass::DuplicateKey)
                + r.check.count(AnomalyClass::GarbageRead)
        })
        .sum();
    let all_valid = ok.iter().all(|r| !r.is_invalid() && r.check.is_valid());
    println!(
        "{} 6. no data corruption (lost writes, duplicate keys, garbage reads): {corruption} found",
        met(corruption == 0 && all_valid)
    );
}

/// The result of a scenario that can be judged; for one that crashed or is `INVALID`, prints
/// why it is not judged and returns `None`.
pub(crate) fn judged(o: &ScenarioOutcome) -> Option<&RunResult> {
    match &o.result {
        Err(e) => println!("{:<28} not judged: no result ({e})", o.label),
        Ok(r) if r.is_invalid() => println!(
            "{:<28} not judged: {} (the harness failed, so the run says nothing about fusio-manifest)",
            o.label,
            crate::selfcheck::INVALID_VERDICT
        ),
        Ok(r) => return Some(r),
    }
    None
}

/// Prints, per scenario, the longest stretch without a commit against the longest injected
/// fault window, and flags scenarios that needed far longer than the fault to recover.
pub fn print_liveness(
    outcomes: &[ScenarioOutcome],
    scenarios: &[ChaosScenario],
    duration: Duration,
) {
    println!("\n=== Liveness: longest stretch without a commit vs longest injected fault ===");
    for (o, s) in outcomes.iter().zip(scenarios) {
        let Some(r) = judged(o) else { continue };
        let end_ms = (r.summary.duration_secs * 1000.0) as u64;
        let (gap, at) = longest_commit_gap(&r.commit_times_ms, 0, end_ms);
        let window = s.longest_fault_window(duration).as_millis() as u64;
        let flag = if gap > 2 * window + 5_000 {
            "⚠️ far longer than the fault"
        } else {
            "ok"
        };
        let f = r.faults;
        println!(
            "{:<28} no commit for {:>6} ms (from t={:.1}s); longest fault window {:>6} ms: {flag}; injected: {} transient, {} ambiguous, {} stalls, {} refused",
            o.label,
            gap,
            at as f64 / 1000.0,
            window,
            f.transient,
            f.ambiguous,
            f.stalls,
            f.refused
        );
    }
}

/// Prints the 5 best and 5 worst configurations by the best-config rule ([`rank`]), among the
/// rows whose host was healthy (among all, with a warning, when every row was saturated), as
/// the chaos sweep's choice of the best row does.
pub fn print_best_and_worst(outcomes: &[ScenarioOutcome]) {
    let results: Vec<&RunResult> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .collect();
    let healthy: Vec<&RunResult> = results
        .iter()
        .copied()
        .filter(|r| !r.host.saturated())
        .collect();
    let saturated = results.len() - healthy.len();
    if healthy.is_empty() && saturated > 0 {
        print_warning(&format!(
            "all {saturated} rows were {SATURATED}: the ranking below describes this machine, not \
             fusio-manifest; run fewer at a time (CHAOS_PARALLEL) or on a larger host"
        ));
    } else if saturated > 0 {
        println!(
            "\n{saturated} of {} rows were {SATURATED} (see the _host.csv sidecar) and are not ranked",
            results.len()
        );
    }
    let ranked = if healthy.is_empty() { results } else { healthy };
    let mut rows: Vec<&MetricsSummary> = ranked.iter().map(|r| &r.summary).collect();
    rows.sort_by(|a, b| rank(a, b));
    let line = |s: &MetricsSummary| {
        println!(
            "  {:<36} failure {:>6.2}%  write_tps {:>7.2}  p99 {:>8.1} ms  read_tps {:>7.2}",
            s.config_label,
            s.precondition_failure_rate * 100.0,
            s.write_tps,
            s.write_p99_ms,
            s.read_tps
        )
    };
    println!(
        "\n=== Top 5 best (highest write_tps with failure rate <= {:.0}%, ties to lower p99) ===",
        BEST_MAX_FAILURE_RATE * 100.0
    );
    rows.iter().take(5).for_each(|s| line(s));
    println!("\n=== Top 5 worst ===");
    rows.iter().rev().take(5).for_each(|s| line(s));
}
