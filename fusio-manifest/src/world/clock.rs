//! The run's one clock. Every time read on the run path goes through here, so the same code
//! reads the host's clock in a real run and virtual time in a simulated one.
//!
//! Monotonic time is tokio's clock ([`tokio::time::Instant::now`]): the host's clock on a
//! normal runtime, virtual time on a paused one (a simulated run, [`super::sim`]), where it only
//! moves when every task waits. `std::time::Instant::now()` and `Instant::elapsed()` would read
//! the host's clock even there, so the run path never calls them (clippy's
//! `disallowed-methods` in `clippy.toml` holds it to that).
//!
//! Wall time ([`system_time`]) is the host's in a real run; in a simulated run it is a fixed
//! epoch ([`SIM_EPOCH`]) plus the virtual time since the simulation started, set for the
//! simulation's thread by `enter_simulation`.

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime};

/// Wall time at the start of every simulated run: 2026-01-01T00:00:00Z. A constant, so lease
/// ids (`lease-{wall ms}`) and every other wall-clock value replay exactly.
pub const SIM_EPOCH: Duration = Duration::from_secs(1_767_225_600);

thread_local! {
    /// On a simulation's thread: the virtual instant its wall clock reads [`SIM_EPOCH`] at.
    static SIM_ORIGIN: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Now, on the run's monotonic clock.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Time since `earlier` on the run's monotonic clock (zero if `earlier` is later).
pub fn since(earlier: Instant) -> Duration {
    now().saturating_duration_since(earlier)
}

/// Wall time now: the host's, or in a simulation [`SIM_EPOCH`] plus its virtual time.
pub fn system_time() -> SystemTime {
    match SIM_ORIGIN.with(Cell::get) {
        Some(origin) => SystemTime::UNIX_EPOCH + SIM_EPOCH + since(origin),
        // The one place a real run reads the host's wall clock.
        #[allow(clippy::disallowed_methods)]
        None => SystemTime::now(),
    }
}

/// Whether this thread runs a simulation.
pub fn is_simulated() -> bool {
    SIM_ORIGIN.with(Cell::get).is_some()
}

/// Makes this thread's wall clock virtual from now on: [`system_time`] reads [`SIM_EPOCH`]
/// at this instant. Called by [`super::sim`] on the simulation's own thread.
pub(crate) fn enter_simulation() {
    SIM_ORIGIN.with(|o| o.set(Some(now())));
}

/// Gives this thread the host's wall clock back (the end of a simulation on it).
pub(crate) fn leave_simulation() {
    SIM_ORIGIN.with(|o| o.set(None));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn on_a_paused_runtime_the_clock_moves_only_with_virtual_time() {
        let t0 = now();
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        assert_eq!(since(t0), Duration::from_secs(3_600));
    }

    #[test]
    fn a_simulated_wall_clock_starts_at_the_epoch() {
        std::thread::spawn(|| {
            assert!(!is_simulated());
            enter_simulation();
            let wall = system_time()
                .duration_since(SystemTime::UNIX_EPOCH)
                .expect("after 1970");
            assert!(wall >= SIM_EPOCH && wall < SIM_EPOCH + Duration::from_secs(1));
        })
        .join()
        .expect("no panic");
    }
}
