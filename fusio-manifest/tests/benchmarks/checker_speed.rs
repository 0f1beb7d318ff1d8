//! Benchmark: how fast the isolation checker runs on 1M synthetic operations, in memory and
//! from a JSON Lines file (`check-history`), with peak RSS. It prints figures and asserts only
//! that the clean history checks clean:
//!
//! ```text
//! cargo test --release -p fusio-manifest-chaos --features benchmarks --test benchmarks checker_speed:: -- --nocapture
//! ```

// Real-time runs against the embedded server: the host's clock is what they time.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::time::Instant;

use fusio_manifest_chaos::checker::{check, check_files, synthetic_history, CheckReport};
use fusio_manifest_chaos::history::{Event, HistoryRecorder};

fn console(r: &CheckReport) -> String {
    let mut out = Vec::new();
    r.write_console(&mut out, "bench")
        .expect("writing to a Vec");
    String::from_utf8_lossy(&out).into_owned()
}

/// A field of `/proc/self/status`, such as `VmHWM:`.
fn proc_status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l[field.len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Peak resident set size of this process (`VmHWM`).
fn vm_hwm() -> String {
    proc_status("VmHWM:")
}

/// Resident set size of this process now (`VmRSS`): memory freed by an earlier phase may
/// still be resident (kept by the allocator) and counts in the next phase's peak.
fn vm_rss() -> String {
    proc_status("VmRSS:")
}

/// Resets `VmHWM` to the current RSS (Linux `clear_refs`), so each phase reports its own peak.
fn reset_hwm() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn rate(n: usize, d: std::time::Duration) -> String {
    format!(
        "{:.3} s = {:.0} ops/s",
        d.as_secs_f64(),
        n as f64 / d.as_secs_f64()
    )
}

#[test]
fn bench_check_1m_ops() {
    const N: usize = 1_000_000;
    println!("checker benchmark, {N} synthetic operations");

    reset_hwm();
    let t = Instant::now();
    let report = check(synthetic_history(N, 42));
    assert!(report.is_valid(), "{}", console(&report));
    assert_eq!(report.ops_checked(), N as u64);
    println!(
        "  generate + check, streamed: {}; peak RSS {}",
        rate(N, t.elapsed()),
        vm_hwm()
    );

    reset_hwm();
    let events: Vec<Event> = synthetic_history(N, 42).collect();
    let mut best = std::time::Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let report = check(&events);
        best = best.min(t.elapsed());
        assert!(report.is_valid());
    }
    println!(
        "  check of {} events in memory (best of 3): {}; peak RSS {} (with the events)",
        events.len(),
        rate(N, best),
        vm_hwm()
    );
    let t = Instant::now();
    drop(events);
    println!(
        "  (dropping those events afterwards: {:.3} s)",
        t.elapsed().as_secs_f64()
    );

    let dir = common::TempDir::new("checker-speed");
    let path = dir.join("bench.history.jsonl");
    let t = Instant::now();
    let (recorder, writer) = HistoryRecorder::create(&path).expect("create history");
    for e in synthetic_history(N, 42) {
        recorder.record(e);
    }
    drop(recorder);
    let recorded = t.elapsed();
    let written = writer.finish().expect("finish");
    let finished = t.elapsed();
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "  generate + record: {written} events ({:.0} MB) recorded in {:.3} s, written and fsynced after {:.3} s",
        bytes as f64 / 1e6,
        recorded.as_secs_f64(),
        finished.as_secs_f64()
    );
    reset_hwm();
    let start_rss = vm_rss();
    let t = Instant::now();
    assert!(check_files(&[&path]).expect("readable"));
    println!(
        "  check-history on that file (parse + check): {}; peak RSS {} ({start_rss} at its start)",
        rate(N, t.elapsed()),
        vm_hwm()
    );
}
