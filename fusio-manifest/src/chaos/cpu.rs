//! CPU overload: OS threads that each keep one core busy a set share of every short period.
//!
//! This load is process wide: every scenario running in the same process feels it.
//!
//! The burners spin on the host's clock on purpose (they load real cores; a simulated run
//! refuses CPU chaos), so this module reads `std::time::Instant` directly.
#![allow(clippy::disallowed_methods)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::selfcheck::BURNER_THREAD_PREFIX;

/// How much CPU to burn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuLoad {
    /// Number of burner threads.
    pub threads: usize,
    /// Busy share of each period, 0..=100.
    pub percent: u8,
}

/// The period each burner divides into busy and idle time.
pub const BURN_PERIOD: Duration = Duration::from_millis(10);

/// Running burner threads; [`CpuBurners::stop`] (or drop) ends them.
pub struct CpuBurners {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Duration>>,
}

impl CpuBurners {
    /// Starts `load.threads` threads, each busy `load.percent`% of every [`BURN_PERIOD`].
    pub fn start(load: CpuLoad) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let busy = BURN_PERIOD.mul_f64(f64::from(load.percent.min(100)) / 100.0);
        let threads = (0..load.threads)
            .map(|i| {
                let stop = stop.clone();
                std::thread::Builder::new()
                    .name(format!("{BURNER_THREAD_PREFIX}{i}"))
                    .spawn(move || burn(&stop, busy))
                    .unwrap_or_else(|e| panic!("cannot start a CPU burner thread: {e}"))
            })
            .collect();
        Self { stop, threads }
    }

    /// Stops and joins every burner; returns the CPU time the burner threads themselves used
    /// (each thread's own clock, so other work in the process does not count).
    pub fn stop(mut self) -> Duration {
        self.halt()
    }

    fn halt(&mut self) -> Duration {
        self.stop.store(true, Ordering::Relaxed);
        self.threads.drain(..).filter_map(|t| t.join().ok()).sum()
    }
}

impl Drop for CpuBurners {
    fn drop(&mut self) {
        self.halt();
    }
}

/// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    match rc {
        0 => Duration::new(
            ts.tv_sec.max(0) as u64,
            ts.tv_nsec.clamp(0, 999_999_999) as u32,
        ),
        _ => Duration::ZERO,
    }
}

/// Burns until `stop`; returns the thread's CPU time.
fn burn(stop: &AtomicBool, busy: Duration) -> Duration {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while !stop.load(Ordering::Relaxed) {
        let period_start = Instant::now();
        while period_start.elapsed() < busy {
            // xorshift: real work the optimizer cannot remove.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            std::hint::black_box(x);
        }
        let idle = BURN_PERIOD.saturating_sub(period_start.elapsed());
        if !idle.is_zero() {
            std::thread::sleep(idle);
        }
    }
    thread_cpu_time()
}
