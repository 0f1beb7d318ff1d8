//! Host health of one run: was the machine quick enough that the run's figures describe
//! fusio-manifest, or do they describe a saturated host?
//!
//! A [`HostProbe`] runs beside the clients on their runtime. Every [`PROBE_INTERVAL`] it asks
//! to sleep that long and records how late it wakes (scheduler lag, in an hdrhistogram), and
//! samples the embedded S3 server's requests in flight. At the end it adds the process's CPU
//! use over the run (user + system time / wall time / cores). A run whose probe p99 lag
//! exceeds [`SATURATION_P99_LAG`] is `HOST-SATURATED`: its row is still written, marked, and
//! never presented as fusio-manifest's performance.
//!
//! The probe measures the host, so it reads the host's clock (`std::time::Instant`) directly;
//! a simulated run has no host probe.
#![allow(clippy::disallowed_methods)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::backend::InFlight;
use crate::metrics::new_histogram;

/// How often the probe wakes.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(10);

/// Probe p99 lag above this marks a run `HOST-SATURATED`. A 10 ms timer on an idle runtime
/// wakes about 1 ms late; 50 ms late at p99 means one op in a hundred waited at least that long
/// for a thread before it could even run, which shows in every latency the run reports.
pub const SATURATION_P99_LAG: Duration = Duration::from_millis(50);

/// The `host` value of a saturated run.
pub const SATURATED: &str = "HOST-SATURATED";

/// The probe of one run; [`HostProbe::finish`] stops it and reports.
pub struct HostProbe {
    task: JoinHandle<()>,
    lag: Arc<Mutex<Histogram<u64>>>,
    in_flight_max: Arc<AtomicUsize>,
    measures_in_flight: bool,
    started: Instant,
    cpu_at_start: Option<Duration>,
}

impl HostProbe {
    /// Starts probing the current runtime; `in_flight` samples the S3 server (none on real S3).
    pub fn start(in_flight: Option<InFlight>) -> Self {
        let lag = Arc::new(new_histogram());
        let in_flight_max = Arc::new(AtomicUsize::new(0));
        let measures_in_flight = in_flight.is_some();
        let task = tokio::spawn(probe_loop(lag.clone(), in_flight_max.clone(), in_flight));
        Self {
            task,
            lag,
            in_flight_max,
            measures_in_flight,
            started: Instant::now(),
            cpu_at_start: process_cpu_time(),
        }
    }

    /// Stops the probe and reports what it saw.
    pub fn finish(self) -> HostReport {
        self.task.abort();
        let wall = self.started.elapsed();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu_pct = match (self.cpu_at_start, process_cpu_time()) {
            (Some(a), Some(b)) if !wall.is_zero() => {
                Some(100.0 * b.saturating_sub(a).as_secs_f64() / wall.as_secs_f64() / cores as f64)
            }
            _ => None,
        };
        let lag = self.lag.lock();
        let ms = |us: u64| us as f64 / 1000.0;
        HostReport {
            samples: lag.len(),
            lag_p50_ms: ms(lag.value_at_quantile(0.50)),
            lag_p99_ms: ms(lag.value_at_quantile(0.99)),
            lag_max_ms: ms(lag.max()),
            process_cpu_pct: cpu_pct,
            s3_in_flight_max: self
                .measures_in_flight
                .then(|| self.in_flight_max.load(Ordering::Relaxed)),
        }
    }
}

async fn probe_loop(
    lag: Arc<Mutex<Histogram<u64>>>,
    in_flight_max: Arc<AtomicUsize>,
    in_flight: Option<InFlight>,
) {
    loop {
        let asked = Instant::now();
        tokio::time::sleep(PROBE_INTERVAL).await;
        let late = asked.elapsed().saturating_sub(PROBE_INTERVAL);
        let _ = lag.lock().record(late.as_micros() as u64);
        if let Some(read) = &in_flight {
            in_flight_max.fetch_max(read(), Ordering::Relaxed);
        }
    }
}

/// User + system CPU time of this process so far (`None` where `getrusage` is unavailable).
fn process_cpu_time() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
        // SAFETY: getrusage writes a whole rusage into the pointer it is given and returns 0
        // on success; we read it only then.
        let usage = unsafe {
            if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
                return None;
            }
            usage.assume_init()
        };
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec.max(0) as u64)
                + Duration::from_micros(t.tv_usec.max(0) as u64)
        };
        Some(tv(usage.ru_utime) + tv(usage.ru_stime))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// What a probe saw over one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostReport {
    /// Probe wake-ups recorded.
    pub samples: u64,
    /// Scheduler lag p50, ms.
    pub lag_p50_ms: f64,
    /// Scheduler lag p99, ms.
    pub lag_p99_ms: f64,
    /// Scheduler lag max, ms.
    pub lag_max_ms: f64,
    /// Process CPU use over the run, % of all cores (process wide: in a parallel run it
    /// includes the other scenarios).
    pub process_cpu_pct: Option<f64>,
    /// Most requests the embedded S3 server was handling at once (`None` on real S3).
    pub s3_in_flight_max: Option<usize>,
}

impl HostReport {
    /// Whether the probe's p99 lag exceeded [`SATURATION_P99_LAG`].
    pub fn saturated(&self) -> bool {
        self.lag_p99_ms > SATURATION_P99_LAG.as_secs_f64() * 1000.0
    }

    /// `OK` or [`SATURATED`].
    pub fn verdict(&self) -> &'static str {
        if self.saturated() {
            SATURATED
        } else {
            "OK"
        }
    }

    /// The row of `STEM_host.csv` for scenario `label`.
    pub fn row(&self, label: &str) -> HostRow {
        HostRow {
            config_label: label.to_string(),
            probe_lag_p50_ms: self.lag_p50_ms,
            probe_lag_p99_ms: self.lag_p99_ms,
            probe_lag_max_ms: self.lag_max_ms,
            process_cpu_pct: self.process_cpu_pct,
            s3_in_flight_max: self.s3_in_flight_max,
            host: self.verdict().to_string(),
        }
    }
}

/// One row of `STEM_host.csv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HostRow {
    /// Scenario or configuration label.
    pub config_label: String,
    /// Scheduler lag p50 of the client runtime, ms.
    pub probe_lag_p50_ms: f64,
    /// Scheduler lag p99, ms.
    pub probe_lag_p99_ms: f64,
    /// Scheduler lag max, ms.
    pub probe_lag_max_ms: f64,
    /// Process CPU use, % of all cores (empty where unknown).
    pub process_cpu_pct: Option<f64>,
    /// Most S3 requests in flight at the embedded server (empty on real S3).
    pub s3_in_flight_max: Option<usize>,
    /// `OK` or `HOST-SATURATED`.
    pub host: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Busy-loops the runtime's only thread for `each` at a time, `times` times.
    async fn hog(each: Duration, times: u32) {
        for _ in 0..times {
            let t = Instant::now();
            while t.elapsed() < each {
                std::hint::spin_loop();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_blocked_runtime_is_saturated_and_an_idle_one_is_not() {
        // Other tests load the same 2 cores: an idle runtime must be judged idle in one of
        // three tries, not in each.
        let mut tries = Vec::new();
        let idle = loop {
            let probe = HostProbe::start(None);
            tokio::time::sleep(Duration::from_millis(500)).await;
            let idle = probe.finish();
            assert!(idle.samples > 10, "{idle:?}");
            if !idle.saturated() || tries.len() == 2 {
                break idle;
            }
            tries.push(idle);
        };
        assert!(
            !idle.saturated(),
            "an idle runtime was flagged in three tries: {tries:?} {idle:?}"
        );

        let gauge = Arc::new(AtomicUsize::new(3));
        let read = gauge.clone();
        let probe = HostProbe::start(Some(Arc::new(move || read.load(Ordering::Relaxed))));
        hog(Duration::from_millis(200), 4).await;
        let busy = probe.finish();
        assert!(
            busy.saturated(),
            "a runtime blocked 200 ms at a time was not flagged: {busy:?}"
        );
        assert!(busy.lag_max_ms >= 150.0, "{busy:?}");
        assert_eq!(busy.s3_in_flight_max, Some(3));
        assert_eq!(busy.row("x").host, SATURATED);
        assert_eq!(idle.row("x").host, "OK");
    }
}
