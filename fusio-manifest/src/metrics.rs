//! Histograms and counters of one run (feeding its [`Timeline`]), and [`MetricsSummary`]:
//! the 24 CSV columns.
//!
//! Definitions (rates are fractions 0..1; a rate with a zero denominator is 0):
//! - `precondition_failure_rate` = precondition failures / write attempts;
//! - `write_tps` = commits / `duration_secs`; `read_tps` = successful reads / `duration_secs`,
//!   where `duration_secs` is measured from the first scheduled operation to the last
//!   completion, so `write_tps x duration_secs = commits` exactly;
//! - `write_p*` = latency of write operations that committed, from their intended start (the
//!   open-loop schedule) to the commit, including retries; `read_p*` likewise for reads;
//!   `precond_p*` = latency of attempts that ended in a precondition failure, from the
//!   attempt's intended start (the op's intended start for the first attempt; for a retry,
//!   when the retry began after its backoff);
//! - `avg_retry_count` = retry attempts / write operations;
//! - initial failures = precondition failures - retry failures (failures on attempt > 0);
//!   retry successes = commits on a retry (attempt > 0), so a retry that ended in a timeout or
//!   an I/O error is not a success;
//!   `retry_success_rate` = retry successes / initial failures;
//!   `retry_failure_rate` = retry failures / precondition failures.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::config::WorkloadConfig;
use crate::timeline::{Timeline, COMMITS, PRECONDITION_FAILURES, WRITE_ERRORS};

/// How one write attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Committed.
    Committed,
    /// Definite `PreconditionFailed`.
    PreconditionFailed,
    /// Any other error or a timeout: indeterminate.
    Error,
}

/// Collects everything one run measures. Shared by all clients of the run.
pub struct MetricsCollector {
    write_latency: Mutex<Histogram<u64>>,
    precond_latency: Mutex<Histogram<u64>>,
    read_latency: Mutex<Histogram<u64>>,
    write_ops: AtomicU64,
    write_attempts: AtomicU64,
    commits: AtomicU64,
    precondition_failures: AtomicU64,
    retry_failures: AtomicU64,
    retry_commits: AtomicU64,
    max_retries_exceeded: AtomicU64,
    write_errors: AtomicU64,
    reads: AtomicU64,
    read_errors: AtomicU64,
    skipped_ops: AtomicU64,
    timeline: std::sync::Arc<Timeline>,
}

/// An empty latency histogram in microseconds, 1 us .. 1 hour.
pub(crate) fn new_histogram() -> Mutex<Histogram<u64>> {
    // 1 us .. 1 hour at 3 significant figures; the bounds are constants, so this cannot fail.
    Mutex::new(match Histogram::new_with_bounds(1, 3_600_000_000, 3) {
        Ok(h) => h,
        Err(e) => unreachable!("constant histogram bounds are valid: {e}"),
    })
}

fn record_us(h: &Mutex<Histogram<u64>>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, 3_600_000_000);
    h.lock().saturating_record(us);
}

impl MetricsCollector {
    /// A collector feeding `timeline`.
    pub fn new(timeline: std::sync::Arc<Timeline>) -> Self {
        Self {
            write_latency: new_histogram(),
            precond_latency: new_histogram(),
            read_latency: new_histogram(),
            write_ops: AtomicU64::new(0),
            write_attempts: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            precondition_failures: AtomicU64::new(0),
            retry_failures: AtomicU64::new(0),
            retry_commits: AtomicU64::new(0),
            max_retries_exceeded: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            read_errors: AtomicU64::new(0),
            skipped_ops: AtomicU64::new(0),
            timeline,
        }
    }

    /// The timeline this collector feeds.
    pub fn timeline(&self) -> &std::sync::Arc<Timeline> {
        &self.timeline
    }

    /// Records one write attempt (`attempt` 0 is the first) that took `elapsed`.
    pub fn record_attempt(&self, attempt: u32, outcome: AttemptOutcome, elapsed: Duration) {
        self.write_attempts.fetch_add(1, Ordering::Relaxed);
        match outcome {
            AttemptOutcome::Committed => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                if attempt > 0 {
                    self.retry_commits.fetch_add(1, Ordering::Relaxed);
                }
                self.timeline.bump(COMMITS);
            }
            AttemptOutcome::PreconditionFailed => {
                self.precondition_failures.fetch_add(1, Ordering::Relaxed);
                if attempt > 0 {
                    self.retry_failures.fetch_add(1, Ordering::Relaxed);
                }
                record_us(&self.precond_latency, elapsed);
                self.timeline.bump(PRECONDITION_FAILURES);
            }
            AttemptOutcome::Error => {
                self.write_errors.fetch_add(1, Ordering::Relaxed);
                self.timeline.bump(WRITE_ERRORS);
            }
        }
    }

    /// Records the end of one write operation. `latency` runs from its intended start.
    pub fn record_write_op(&self, final_outcome: AttemptOutcome, gave_up: bool, latency: Duration) {
        self.write_ops.fetch_add(1, Ordering::Relaxed);
        if gave_up {
            self.max_retries_exceeded.fetch_add(1, Ordering::Relaxed);
        }
        if final_outcome == AttemptOutcome::Committed {
            record_us(&self.write_latency, latency);
        }
    }

    /// Records one read operation. `latency` runs from its intended start.
    pub fn record_read(&self, ok: bool, latency: Duration) {
        if ok {
            self.reads.fetch_add(1, Ordering::Relaxed);
            record_us(&self.read_latency, latency);
            self.timeline.read_done(latency);
        } else {
            self.read_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts scheduled operations a client could not start before the run ended.
    pub fn record_skipped(&self, n: u64) {
        self.skipped_ops.fetch_add(n, Ordering::Relaxed);
    }

    /// Raw counters so far.
    pub fn counts(&self) -> RawCounts {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RawCounts {
            write_ops: l(&self.write_ops),
            write_attempts: l(&self.write_attempts),
            commits: l(&self.commits),
            precondition_failures: l(&self.precondition_failures),
            retry_failures: l(&self.retry_failures),
            retry_commits: l(&self.retry_commits),
            max_retries_exceeded: l(&self.max_retries_exceeded),
            write_errors: l(&self.write_errors),
            reads: l(&self.reads),
            read_errors: l(&self.read_errors),
            skipped_ops: l(&self.skipped_ops),
        }
    }

    fn quantile_ms(h: &Mutex<Histogram<u64>>, q: f64) -> f64 {
        let h = h.lock();
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1000.0
        }
    }

    /// Computes the 24-column summary of a run that lasted `duration`.
    pub fn summary(
        &self,
        label: &str,
        config: &WorkloadConfig,
        duration: Duration,
    ) -> MetricsSummary {
        let c = self.counts();
        let secs = duration.as_secs_f64();
        let ratio = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let initial_failures = c.precondition_failures - c.retry_failures;
        MetricsSummary {
            config_label: label.to_string(),
            num_writers: config.num_writers,
            num_readers: config.num_readers,
            writer_rate: config.writer_rate,
            reader_rate: config.reader_rate,
            key_pool_size: config.key_pool_size,
            key_overlap_ratio: config.key_overlap_ratio,
            max_retry_count: config.max_retry_count,
            duration_secs: secs,
            precondition_failure_rate: ratio(c.precondition_failures, c.write_attempts),
            write_tps: per_sec(c.commits),
            read_tps: per_sec(c.reads),
            write_p50_ms: Self::quantile_ms(&self.write_latency, 0.50),
            write_p95_ms: Self::quantile_ms(&self.write_latency, 0.95),
            write_p99_ms: Self::quantile_ms(&self.write_latency, 0.99),
            precond_p50_ms: Self::quantile_ms(&self.precond_latency, 0.50),
            precond_p99_ms: Self::quantile_ms(&self.precond_latency, 0.99),
            read_p50_ms: Self::quantile_ms(&self.read_latency, 0.50),
            read_p99_ms: Self::quantile_ms(&self.read_latency, 0.99),
            avg_retry_count: ratio(
                c.write_attempts - c.write_ops.min(c.write_attempts),
                c.write_ops,
            ),
            total_retry_failures: c.retry_failures,
            total_max_retries_exceeded: c.max_retries_exceeded,
            retry_failure_rate: ratio(c.retry_failures, c.precondition_failures),
            retry_success_rate: ratio(c.retry_commits, initial_failures),
        }
    }
}

/// Raw counters of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawCounts {
    /// Write operations finished (each has one or more attempts).
    pub write_ops: u64,
    /// Write attempts finished.
    pub write_attempts: u64,
    /// Acknowledged commits.
    pub commits: u64,
    /// Attempts that ended in `PreconditionFailed`.
    pub precondition_failures: u64,
    /// Precondition failures on a retry (attempt > 0).
    pub retry_failures: u64,
    /// Commits on a retry (attempt > 0): the retry successes.
    pub retry_commits: u64,
    /// Operations that gave up after `max_retry_count` retries.
    pub max_retries_exceeded: u64,
    /// Attempts that ended in another error (indeterminate).
    pub write_errors: u64,
    /// Successful reads.
    pub reads: u64,
    /// Failed reads.
    pub read_errors: u64,
    /// Scheduled operations not started before the run ended (the client was behind).
    pub skipped_ops: u64,
}

/// The 24 CSV columns, in order. Rates are fractions 0..1; latencies are milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSummary {
    /// Configuration or scenario label.
    pub config_label: String,
    /// Writers.
    pub num_writers: usize,
    /// Readers.
    pub num_readers: usize,
    /// Ops/s per writer.
    pub writer_rate: f64,
    /// Ops/s per reader.
    pub reader_rate: f64,
    /// Distinct keys.
    pub key_pool_size: usize,
    /// Shared fraction of the key pool.
    pub key_overlap_ratio: f64,
    /// Retries after a precondition failure.
    pub max_retry_count: u32,
    /// Measured run time in seconds.
    pub duration_secs: f64,
    /// Precondition failures / write attempts.
    pub precondition_failure_rate: f64,
    /// Commits per second.
    pub write_tps: f64,
    /// Successful reads per second.
    pub read_tps: f64,
    /// Committed-write latency p50.
    pub write_p50_ms: f64,
    /// Committed-write latency p95.
    pub write_p95_ms: f64,
    /// Committed-write latency p99.
    pub write_p99_ms: f64,
    /// Precondition-failure latency p50.
    pub precond_p50_ms: f64,
    /// Precondition-failure latency p99.
    pub precond_p99_ms: f64,
    /// Read latency p50.
    pub read_p50_ms: f64,
    /// Read latency p99.
    pub read_p99_ms: f64,
    /// Retry attempts per write operation.
    pub avg_retry_count: f64,
    /// Precondition failures on retries.
    pub total_retry_failures: u64,
    /// Operations that gave up.
    pub total_max_retries_exceeded: u64,
    /// Retry failures / precondition failures.
    pub retry_failure_rate: f64,
    /// Commits on a retry / initial failures.
    pub retry_success_rate: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::clock;

    #[test]
    fn retry_formulas_follow_the_definitions() {
        let t = std::sync::Arc::new(Timeline::new(clock::now(), Duration::from_secs(1)));
        let m = MetricsCollector::new(t);
        let ms = Duration::from_millis(5);
        // op 1: fail, retry commits.
        m.record_attempt(0, AttemptOutcome::PreconditionFailed, ms);
        m.record_attempt(1, AttemptOutcome::Committed, ms);
        m.record_write_op(AttemptOutcome::Committed, false, ms);
        // op 2: fail, retry fails, gives up.
        m.record_attempt(0, AttemptOutcome::PreconditionFailed, ms);
        m.record_attempt(1, AttemptOutcome::PreconditionFailed, ms);
        m.record_write_op(AttemptOutcome::PreconditionFailed, true, ms);
        // op 3: commits at once.
        m.record_attempt(0, AttemptOutcome::Committed, ms);
        m.record_write_op(AttemptOutcome::Committed, false, ms);
        let s = m.summary("x", &WorkloadConfig::default(), Duration::from_secs(2));
        assert_eq!(s.total_retry_failures, 1);
        assert_eq!(s.total_max_retries_exceeded, 1);
        assert!((s.precondition_failure_rate - 3.0 / 5.0).abs() < 1e-9);
        assert!((s.retry_failure_rate - 1.0 / 3.0).abs() < 1e-9);
        // initial failures = 3 - 1 = 2; retry successes = commits on a retry = 1.
        assert!((s.retry_success_rate - 0.5).abs() < 1e-9);
        assert!((s.write_tps - 1.0).abs() < 1e-9);
        assert!((s.avg_retry_count - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn a_retry_that_timed_out_is_not_a_retry_success() {
        let t = std::sync::Arc::new(Timeline::new(clock::now(), Duration::from_secs(1)));
        let m = MetricsCollector::new(t);
        let ms = Duration::from_millis(5);
        m.record_attempt(0, AttemptOutcome::PreconditionFailed, ms);
        m.record_attempt(1, AttemptOutcome::Error, ms);
        m.record_write_op(AttemptOutcome::Error, false, ms);
        let s = m.summary("x", &WorkloadConfig::default(), Duration::from_secs(1));
        assert_eq!(
            s.retry_success_rate, 0.0,
            "an errored retry counted as a success"
        );
    }

    #[test]
    fn empty_run_has_zero_rates_not_nan() {
        let t = std::sync::Arc::new(Timeline::new(clock::now(), Duration::from_secs(1)));
        let s = MetricsCollector::new(t).summary(
            "empty",
            &WorkloadConfig::default(),
            Duration::from_secs(1),
        );
        for v in [
            s.precondition_failure_rate,
            s.retry_failure_rate,
            s.retry_success_rate,
            s.avg_retry_count,
            s.write_p99_ms,
        ] {
            assert_eq!(v, 0.0);
        }
    }
}
