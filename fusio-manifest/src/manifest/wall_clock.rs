//! A client's wall clock, as fusio-manifest sees it: off the host's by an offset, and
//! drifting (`CHAOS_CLOCK_SKEW_MS`, `CHAOS_CLOCK_DRIFT_MS_PER_S`).

use std::time::{Duration, Instant};

use crate::world::clock;

/// How a client's wall clock runs against the host's: `offset_ms` off from the start (negative:
/// behind), and `drift_ms_per_s` more off for every second since `origin` (negative: slower).
#[derive(Clone, Copy, Debug, Default)]
pub struct WallClock {
    offset_ms: i64,
    drift_ms_per_s: i64,
    origin: Option<Instant>,
}

impl WallClock {
    /// A clock `offset_ms` off the host's, drifting `drift_ms_per_s` from now on.
    pub fn new(offset_ms: i64, drift_ms_per_s: i64) -> Self {
        Self {
            offset_ms,
            drift_ms_per_s,
            origin: Some(clock::now()),
        }
    }

    /// Its offset from the host's clock, ms, `elapsed` after its origin.
    pub fn offset_after(&self, elapsed: Duration) -> i64 {
        let drifted = i128::from(self.drift_ms_per_s) * elapsed.as_millis() as i128 / 1000;
        let total = i128::from(self.offset_ms) + drifted;
        total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Its offset from the host's clock now, ms.
    pub fn offset_now(&self) -> i64 {
        self.offset_after(self.origin.map_or(Duration::ZERO, clock::since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drifting_clock_moves_off_by_its_rate() {
        let clock = WallClock::new(-2_000, 500);
        assert_eq!(clock.offset_after(Duration::ZERO), -2_000);
        assert_eq!(clock.offset_after(Duration::from_secs(4)), 0);
        assert_eq!(clock.offset_after(Duration::from_secs(60)), 28_000);
        let slow = WallClock::new(0, -1_000);
        assert_eq!(slow.offset_after(Duration::from_millis(1_500)), -1_500);
        let extreme = WallClock::new(i64::MAX, i64::MAX);
        assert_eq!(extreme.offset_after(Duration::from_secs(10)), i64::MAX);
    }
}
