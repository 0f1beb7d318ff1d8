//! Console reports of sweeps: the plan's summary table, retry verdicts, success criteria, the
//! liveness report, and the best and worst configurations of a comprehensive sweep.

use crate::console::run::print_warning;
use crate::host::SATURATED;
use crate::metrics::MetricsSummary;
use crate::outcome::{RunResult, ScenarioOutcome};
use crate::verdicts::{judgeable, Liveness, RetryVerdict, Verdicts};
use crate::verdicts::{rank, BEST_MAX_FAILURE_RATE};

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

/// Prints each scenario's retry verdict, with the plan's suggestions where it is poor.
pub fn print_retry_verdicts(verdicts: &Verdicts) {
    println!("\n=== Retry effectiveness (plan thresholds) ===");
    for r in &verdicts.retries {
        let mark = match r.verdict {
            RetryVerdict::Good => "✅ good",
            RetryVerdict::Fair => "➖ fair",
            RetryVerdict::Poor => "⚠️ poor",
            RetryVerdict::NoRetries => "✅ no precondition failures",
        };
        println!(
            "{:<32} {mark}: retry success {:.1}%, retry failure {:.1}%, max-retries-exceeded {:.1}% of {} precondition failures",
            r.label,
            r.retry_success_pct,
            r.retry_failure_pct,
            r.max_retries_exceeded_pct,
            r.precondition_failures
        );
        for t in &r.suggestions {
            println!("{:<32}   suggestion: {t}", "");
        }
    }
}

/// Prints the plan's success criteria, each met or not with the measured value. Only crashes
/// and isolation verdicts other than PASS fail a test; the rest are findings.
pub fn print_success_criteria(verdicts: &Verdicts) {
    println!("\n=== Success criteria (plan) ===");
    for c in &verdicts.criteria {
        if c.number == 7 && !verdicts.saturated.is_empty() {
            println!(
                "⚠️ host saturated in {}/{} scenarios ({}): their figures (criteria 3-5) describe the machine, not fusio-manifest",
                verdicts.saturated.len(),
                verdicts.scenarios,
                verdicts.saturated.join(", ")
            );
        }
        let met = if c.met { "✅ met    " } else { "❌ not met" };
        println!("{met} {}. {}", c.number, c.measured);
    }
}

/// The result of a scenario that can be judged ([`judgeable`]); for one that cannot, prints
/// why and returns `None`.
pub(crate) fn judged(o: &ScenarioOutcome) -> Option<&RunResult> {
    judgeable(o)
        .map_err(|why| println!("{:<28} not judged: {why}", o.label))
        .ok()
}

/// Prints, per scenario, the longest stretch without a commit against the longest injected
/// fault window, flagging scenarios that needed far longer than the fault to recover.
pub fn print_liveness(liveness: &[Liveness]) {
    println!("\n=== Liveness: longest stretch without a commit vs longest injected fault ===");
    for l in liveness {
        let f = match &l.judged {
            Ok(f) => f,
            Err(why) => {
                println!("{:<28} not judged: {why}", l.label);
                continue;
            }
        };
        let flag = if f.far_longer {
            "⚠️ far longer than the fault"
        } else {
            "ok"
        };
        let i = f.injected;
        println!(
            "{:<28} no commit for {:>6} ms (from t={:.1}s); longest fault window {:>6} ms: {flag}; injected: {} transient, {} ambiguous, {} stalls, {} refused",
            l.label,
            f.no_commit_ms,
            f.from_ms as f64 / 1000.0,
            f.fault_window_ms,
            i.transient,
            i.ambiguous,
            i.stalls,
            i.refused
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
