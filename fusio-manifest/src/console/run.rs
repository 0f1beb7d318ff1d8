//! Console output of one run: the header of an invocation, progress lines, the per-run
//! report, each isolation verdict and where the files went.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::backend::SimStoreMode;
use crate::chaos::CrashPoint;
use crate::host::{HostReport, SATURATED, SATURATION_P99_LAG};
use crate::metrics::RawCounts;
use crate::outcome::{RunResult, ScenarioOutcome};
use crate::results::Exported;
use crate::world::TimeMode;

/// Whether per-run lines are silenced ([`quiet_runs`]).
static QUIET_RUNS: AtomicBool = AtomicBool::new(false);

/// Silences (or restores) the lines each run prints: progress, the per-run report, simulated
/// speed and a failed final read. A search over many seeds prints its own progress instead.
pub fn quiet_runs(quiet: bool) {
    QUIET_RUNS.store(quiet, Ordering::Relaxed);
}

fn runs_quiet() -> bool {
    QUIET_RUNS.load(Ordering::Relaxed)
}

/// The first line of every invocation: backend, time (and what a simulated store answers
/// as), latency profile, seed, output directory.
pub fn print_run_header(
    backend: &str,
    time: TimeMode,
    sim_store: SimStoreMode,
    profile: &str,
    seed: u64,
    out_dir: &Path,
) {
    let time = match time {
        TimeMode::Simulated => format!("{} (store answers as {})", time.name(), sim_store.name()),
        TimeMode::Real => time.name().to_string(),
    };
    println!(
        "backend: {backend} | time: {time} | S3 latency profile: {profile} | CHAOS_SEED={seed} | \
         output: {}",
        out_dir.display()
    );
    if cfg!(debug_assertions) {
        println!(
            "⚠️ debug build: figures are not comparable with release runs; add --release to the \
             cargo command"
        );
    }
}

/// Prints a warning about the host or the configuration, before the runs it concerns.
pub fn print_warning(message: &str) {
    eprintln!("⚠️  {message}");
}

/// Prints which scenarios of a sweep run together in phase `index` of `count`.
pub fn print_phase(index: usize, count: usize, labels: &[&str], parallel: usize) {
    if count == 1 {
        return;
    }
    let how = if labels.len() == 1 {
        "alone (CPU chaos loads the whole process)".to_string()
    } else if parallel == 1 {
        "one at a time".to_string()
    } else {
        format!("together, up to {parallel} at once")
    };
    println!(
        "\n=== phase {}/{count}: {} {how} ===",
        index + 1,
        labels.join(", ")
    );
}

/// One progress line of a running scenario.
pub fn print_progress(label: &str, elapsed: Duration, c: &RawCounts) {
    if runs_quiet() {
        return;
    }
    println!(
        "  [{label}] {:>5.0}s  commits {}  precondition failures {}  write errors {}  reads {}",
        elapsed.as_secs_f64(),
        c.commits,
        c.precondition_failures,
        c.write_errors,
        c.reads
    );
}

/// The report of one finished run: abandoned sessions, recovery after each block, then
/// throughput, latency, retries, errors and S3 operations.
pub fn print_run(r: &RunResult, background_limit: Duration) {
    if runs_quiet() {
        return;
    }
    let label = &r.summary.config_label;
    let b = &r.background;
    if b.abandoned + b.running_at_end > 0 {
        println!(
            "  [{label}] {} operation(s) abandoned at a client step timeout; {} session task(s) still running when the clients were done: {} finished within {background_limit:?}, {} cancelled then (their leases expire by TTL)",
            b.abandoned,
            b.running_at_end,
            b.running_at_end - b.cancelled,
            b.cancelled
        );
    }
    for recovery in &r.recoveries {
        println!("  [{label}] recovery after {}", recovery.detail());
    }
    print_figures(r);
    print_clients(r);
    print_compactions(r);
    match r.replay {
        // A simulated run has no host to probe: its clock stops while any task computes.
        Some(_) => println!("  host: not probed (simulated time)"),
        None => print_host(label, &r.host),
    }
    print_replay(label, r);
}

/// A simulated run's proof of replay: the digest of its storage operations and final store.
fn print_replay(label: &str, r: &RunResult) {
    let Some(d) = &r.replay else {
        return;
    };
    println!(
        "  [{label}] replay digest sha256:{} over {} storage operations and {} final objects{}",
        d.sha256,
        d.ops,
        d.objects,
        d.trace
            .as_ref()
            .map(|t| format!(" (trace {})", t.display()))
            .unwrap_or_default()
    );
}

/// How fast a simulated run went: virtual seconds per second of the host's time.
pub fn print_sim_speed(label: &str, simulated: Duration, wall: Duration) {
    if runs_quiet() {
        return;
    }
    println!(
        "  [{label}] simulated {:.1} s in {:.2} s of wall time ({:.0}x)",
        simulated.as_secs_f64(),
        wall.as_secs_f64(),
        simulated.as_secs_f64() / wall.as_secs_f64().max(1e-9)
    );
}

/// Why a run has no final state (its verdict is then `UNKNOWN`).
pub fn print_final_state_error(label: &str, e: &fusio_manifest::types::Error) {
    if runs_quiet() {
        return;
    }
    println!(
        "  [{label}] the final state could not be read: {}",
        crate::utils::error_chain(e)
    );
}

/// How the clients reached fusio-manifest (when not through one shared manifest) and what the
/// pinned readers did.
fn print_clients(r: &RunResult) {
    if r.manifests > 1 {
        let skew = match r.clock_skew_ms {
            0 => String::new(),
            ms => format!("; writer w0's wall clock {ms:+} ms off at the end"),
        };
        println!(
            "  clients: {} manifests (one per client, one for the compactors and the final read){skew}",
            r.manifests
        );
    }
    let c = &r.crashes;
    if c.armed > 0 {
        let points: Vec<String> = CrashPoint::ALL
            .iter()
            .map(|p| format!("{} {}", p.name(), c.killed[p.index()]))
            .collect();
        println!(
            "  crashes: {} writer processes killed ({}), {} armed; each replaced by a fresh one",
            c.total(),
            points.join(", "),
            c.armed
        );
    }
    let p = &r.pinned;
    if p.sessions + p.failed > 0 {
        println!(
            "  pinned readers: {} sessions read every key, {} failed; oldest snapshot read {:.1} s after it was taken",
            p.sessions,
            p.failed,
            p.oldest_ms as f64 / 1000.0
        );
    }
}

/// What the compactors did and what compaction and GC deleted (nothing without compactors).
fn print_compactions(r: &RunResult) {
    let (c, d) = (&r.compactions, &r.deleted);
    if c.passes + c.errors + c.cancelled + d.segments + d.checkpoints == 0 {
        return;
    }
    let w = &r.deleted_while_clients_ran;
    println!(
        "  compactor: {} passes ok, {} failed, {} cancelled at the end; deleted {} segment and {} checkpoint objects ({} and {} while the clients ran)",
        c.passes, c.errors, c.cancelled, d.segments, d.checkpoints, w.segments, w.checkpoints
    );
}

/// The host-health line of one run, and why a saturated run's figures are not
/// fusio-manifest's.
pub fn print_host(label: &str, h: &HostReport) {
    let cpu = h
        .process_cpu_pct
        .map_or("n/a".to_string(), |p| format!("{p:.0}%"));
    let in_flight = h
        .s3_in_flight_max
        .map_or("n/a".to_string(), |n| n.to_string());
    println!(
        "  host: probe lag p50/p99/max {:.1}/{:.1}/{:.1} ms, process CPU {cpu} of all cores, S3 requests in flight max {in_flight}: {}",
        h.lag_p50_ms,
        h.lag_p99_ms,
        h.lag_max_ms,
        h.verdict()
    );
    if h.saturated() {
        println!(
            "  ⚠️ [{label}] {SATURATED}: the client runtime woke {:.0} ms late at p99 (limit {} ms); these figures describe the machine, not fusio-manifest",
            h.lag_p99_ms,
            SATURATION_P99_LAG.as_millis()
        );
    }
}

/// "  read p50 by minute, ms: 12.1 30.5 ... (last/first 2.50x)" for a run of two whole
/// minutes or more.
fn read_p50_by_minute(minutes: &[Option<f64>]) -> Option<String> {
    if minutes.len() < 2 {
        return None;
    }
    let (first, last) = (&minutes[0], &minutes[minutes.len() - 1]);
    let shown: Vec<String> = minutes
        .iter()
        .map(|m| m.map_or("-".to_string(), |ms| format!("{ms:.1}")))
        .collect();
    let ratio = match (first, last) {
        (Some(f), Some(l)) if *f > 0.0 => format!("{:.2}x", l / f),
        _ => "n/a".to_string(),
    };
    Some(format!(
        "  read p50 by minute, ms: {} (last/first {ratio})",
        shown.join(" ")
    ))
}

fn print_figures(r: &RunResult) {
    let s = &r.summary;
    let c = &r.counts;
    println!("--- {} ({:.1} s) ---", s.config_label, s.duration_secs);
    println!(
        "  writes: {} commits in {} ops / {} attempts = {:.2} commits/s; precondition failures {} ({:.1}%), write errors {}",
        c.commits,
        c.write_ops,
        c.write_attempts,
        s.write_tps,
        c.precondition_failures,
        s.precondition_failure_rate * 100.0,
        c.write_errors
    );
    println!(
        "  write latency ms: p50 {:.1}  p95 {:.1}  p99 {:.1}   precondition-failure ms: p50 {:.1}  p99 {:.1}",
        s.write_p50_ms, s.write_p95_ms, s.write_p99_ms, s.precond_p50_ms, s.precond_p99_ms
    );
    println!(
        "  reads: {} ok ({:.2}/s), {} failed; latency ms p50 {:.1}  p99 {:.1}",
        c.reads, s.read_tps, c.read_errors, s.read_p50_ms, s.read_p99_ms
    );
    if let Some(line) = read_p50_by_minute(&r.read_p50_by_minute) {
        println!("{line}");
    }
    if c.skipped_ops > 0 {
        println!(
            "  ⚠️ {} scheduled operations were not started: clients fell behind the open-loop schedule",
            c.skipped_ops
        );
    }
    println!(
        "  retries: avg {:.3}/op, retry failures {}, max-retries-exceeded {}, retry success {:.1}%, retry failure {:.1}%",
        s.avg_retry_count,
        s.total_retry_failures,
        s.total_max_retries_exceeded,
        s.retry_success_rate * 100.0,
        s.retry_failure_rate * 100.0
    );
    let total = r.s3_ops_at_end;
    let per_commit = if c.commits > 0 {
        format!("{:.1}", total as f64 / c.commits as f64)
    } else {
        "n/a".to_string()
    };
    let kinds: Vec<String> = r
        .s3_ops_by_kind
        .iter()
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    println!(
        "  S3 ops: {total} ({per_commit} per commit): {}",
        kinds.join(", ")
    );
}

/// Prints each scenario's isolation report, or why it has none.
pub fn print_verifications(outcomes: &[ScenarioOutcome]) {
    for o in outcomes {
        match &o.result {
            Ok(r) if r.is_invalid() => print_invalid(&o.label, r),
            Ok(r) => {
                println!("\n=== Isolation verification: {} ===", o.label);
                r.check.print_console(&o.label);
            }
            Err(e) => println!("\n❌ scenario {} produced no results: {e}", o.label),
        }
    }
}

/// Prints why a run is `INVALID` instead of its isolation verdict.
fn print_invalid(label: &str, r: &RunResult) {
    println!("\n=== Isolation verification: {label} ===");
    println!(
        "⛔ Verdict [{label}]: {} ({} panic(s) in the harness's tasks; its figures and its check ({} anomalies) say nothing about fusio-manifest)",
        crate::selfcheck::INVALID_VERDICT,
        r.harness_faults.len(),
        r.check.total_anomalies()
    );
    for f in r.harness_faults.iter().take(5) {
        println!("   {f}");
    }
}

/// Where the files of an export went.
pub fn print_exported(e: &Exported, rows: usize, folder: &Path) {
    println!(
        "\n✅ Results exported to {} ({rows} rows); sidecars, histories, anomalies and provenance in {}/ (provenance: {})",
        e.csv.display(),
        folder.display(),
        e.run_json.display()
    );
}

#[cfg(test)]
mod tests {
    use super::read_p50_by_minute;

    #[test]
    fn read_p50_by_minute_needs_two_minutes_and_shows_the_growth() {
        assert_eq!(read_p50_by_minute(&[]), None);
        assert_eq!(read_p50_by_minute(&[Some(1.0)]), None);
        assert_eq!(
            read_p50_by_minute(&[Some(10.0), None, Some(25.0)]).as_deref(),
            Some("  read p50 by minute, ms: 10.0 - 25.0 (last/first 2.50x)")
        );
        assert_eq!(
            read_p50_by_minute(&[None, Some(25.0)]).as_deref(),
            Some("  read p50 by minute, ms: - 25.0 (last/first n/a)")
        );
    }
}
