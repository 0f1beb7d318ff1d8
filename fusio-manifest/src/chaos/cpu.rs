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
    threads: Vec<JoinHandle<()>>,
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
                    .name(format!("cpu-burner-{i}"))
                    .spawn(move || burn(&stop, busy))
                    .unwrap_or_else(|e| panic!("cannot start a CPU burner thread: {e}"))
            })
            .collect();
        Self { stop, threads }
    }

    /// Stops and joins every burner.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for CpuBurners {
    fn drop(&mut self) {
        self.halt();
    }
}

fn burn(stop: &AtomicBool, busy: Duration) {
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
}
