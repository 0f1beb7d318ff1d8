//! The per-second [`Timeline`] of one run: counters and read latencies by the second they
//! happened in, the rows of `STEM_timeline.csv` ([`TimelineRow`]) and the read p50 of each
//! whole minute, which shows whether reads slow down as the manifest grows.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::chaos::storage::S3OpSink;
use crate::world::clock;

/// The counter of commits in a [`Timeline`] bucket.
pub(crate) const COMMITS: usize = 0;
/// The counter of attempts that ended in a precondition failure.
pub(crate) const PRECONDITION_FAILURES: usize = 1;
/// The counter of attempts that ended in another error.
pub(crate) const WRITE_ERRORS: usize = 2;
const READS: usize = 3;
const S3_OPS: usize = 4;
const FIELDS: usize = 5;

/// Per-second counters and read latencies of one run, indexed by whole seconds since the
/// run started.
pub struct Timeline {
    start: Instant,
    buckets: Vec<[AtomicU64; FIELDS]>,
    /// The latency of every successful read, µs, by the second it completed in.
    read_latency_us: Vec<Mutex<Vec<u32>>>,
}

/// One second of a [`Timeline`] of one scenario: a row of `STEM_timeline.csv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineRow {
    /// Scenario or configuration label.
    pub config_label: String,
    /// Seconds since the run started.
    pub second: u64,
    /// Commits acknowledged in this second.
    pub commits: u64,
    /// Attempts that ended in a precondition failure.
    pub precondition_failures: u64,
    /// Attempts that ended in another error (indeterminate).
    pub write_errors: u64,
    /// Successful reads.
    pub reads: u64,
    /// S3 operations completed.
    pub s3_ops: u64,
    /// Median latency of the reads that completed in this second, from their intended start
    /// (as `read_p50_ms` in the main CSV); empty for a second without reads.
    pub read_p50_ms: Option<f64>,
}

impl Timeline {
    /// A timeline for a run of about `duration`; later events land in the last bucket.
    pub fn new(start: Instant, duration: Duration) -> Self {
        let len = duration.as_secs() as usize + 120;
        Self {
            start,
            buckets: (0..len).map(|_| Default::default()).collect(),
            read_latency_us: (0..len).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// The bucket of now.
    fn now(&self) -> usize {
        (clock::since(self.start).as_secs() as usize).min(self.buckets.len() - 1)
    }

    /// Counts one event of `field` (one of the counter constants) now.
    pub(crate) fn bump(&self, field: usize) {
        self.buckets[self.now()][field].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one successful read that took `latency`, now.
    pub(crate) fn read_done(&self, latency: Duration) {
        let now = self.now();
        self.buckets[now][READS].fetch_add(1, Ordering::Relaxed);
        let us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
        self.read_latency_us[now].lock().push(us);
    }

    /// The seconds up to and including `last_second`, as rows labelled `label`.
    pub fn rows(&self, label: &str, last_second: u64) -> Vec<TimelineRow> {
        let n = (last_second as usize + 1).min(self.buckets.len());
        self.buckets[..n]
            .iter()
            .zip(&self.read_latency_us)
            .enumerate()
            .map(|(i, (b, latencies))| TimelineRow {
                config_label: label.to_string(),
                second: i as u64,
                commits: b[COMMITS].load(Ordering::Relaxed),
                precondition_failures: b[PRECONDITION_FAILURES].load(Ordering::Relaxed),
                write_errors: b[WRITE_ERRORS].load(Ordering::Relaxed),
                reads: b[READS].load(Ordering::Relaxed),
                s3_ops: b[S3_OPS].load(Ordering::Relaxed),
                read_p50_ms: p50_ms(latencies.lock().clone()),
            })
            .collect()
    }

    /// The read p50 of each whole minute before second `last_second` (the run's end falls in
    /// it, so it is partial; a trailing part-minute and the last bucket, which collects every
    /// later event, are left out), ms; `None` for a minute without reads.
    pub fn read_p50_by_minute(&self, last_second: u64) -> Vec<Option<f64>> {
        let whole = (last_second as usize).min(self.buckets.len() - 1);
        self.read_latency_us[..whole - whole % 60]
            .chunks(60)
            .map(|minute| p50_ms(minute.iter().flat_map(|s| s.lock().clone()).collect()))
            .collect()
    }
}

/// The nearest-rank median of `us`, in ms; `None` if empty.
fn p50_ms(mut us: Vec<u32>) -> Option<f64> {
    let rank = us.len().checked_sub(1)? / 2;
    let (_, median, _) = us.select_nth_unstable(rank);
    Some(f64::from(*median) / 1000.0)
}

impl S3OpSink for Timeline {
    fn s3_op_done(&self) {
        self.bump(S3_OPS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p50_is_the_lower_middle_value() {
        assert_eq!(p50_ms(vec![]), None);
        assert_eq!(p50_ms(vec![7000]), Some(7.0));
        assert_eq!(p50_ms(vec![4000, 1000, 3000, 2000]), Some(2.0));
        assert_eq!(p50_ms(vec![5000, 1000, 3000]), Some(3.0));
    }

    #[test]
    fn reads_land_in_their_second_and_whole_minutes_only() {
        let t = Timeline::new(clock::now(), Duration::from_secs(180));
        t.read_done(Duration::from_millis(10));
        t.read_done(Duration::from_millis(30));
        t.read_done(Duration::from_millis(20));
        let rows = t.rows("x", 2);
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].reads, rows[0].read_p50_ms), (3, Some(20.0)));
        assert_eq!((rows[1].reads, rows[1].read_p50_ms), (0, None));
        assert!(t.read_p50_by_minute(59).is_empty(), "second 59 is partial");
        assert_eq!(t.read_p50_by_minute(60), vec![Some(20.0)]);
        assert_eq!(t.read_p50_by_minute(150), vec![Some(20.0), None]);
        let short = Timeline::new(clock::now(), Duration::from_secs(0));
        short.read_done(Duration::from_millis(10));
        assert_eq!(
            short.read_p50_by_minute(10_000),
            vec![Some(10.0)],
            "of 120 buckets, the second minute ends with the last one, which collects late events"
        );
    }

    #[test]
    fn a_read_longer_than_u32_microseconds_saturates() {
        let t = Timeline::new(clock::now(), Duration::from_secs(1));
        t.read_done(Duration::from_secs(5_000));
        assert_eq!(
            t.rows("x", 0)[0].read_p50_ms,
            Some(f64::from(u32::MAX) / 1000.0)
        );
    }
}
