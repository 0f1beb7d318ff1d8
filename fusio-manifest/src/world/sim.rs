//! The simulated world: one run on a thread of its own, on a current-thread tokio runtime
//! whose clock is paused and jumps ahead whenever every task waits.
//!
//! What makes a run replay exactly from its seed:
//! - **Time** is virtual ([`super::clock`]); the runtime has no I/O driver, so nothing can
//!   open a socket (it would panic), and the store is in process.
//! - **One thread** runs every task, in an order that depends only on what the tasks do:
//!   tokio's current-thread scheduler is FIFO, its `Mutex`, `Semaphore` and `Notify` are
//!   fair, and the harness waits on [`super::Signal`] instead of `watch` and writes every
//!   `select!` `biased`.
//! - **Randomness** is seeded: ours from the run seed; fusio-manifest's retry jitter comes from
//!   `backon`, which forks `fastrand`'s thread-local generator, seeded here per simulation.
//! - **fusio-manifest's commit budget** (3 s by default, `max_elapsed_ms`) starts from our
//!   `Timer::now()` but is measured with `Instant::elapsed()` against the host's clock
//!   (session.rs:751, 815, 880), which virtual time cannot move. A simulated run turns it off
//!   (`max_elapsed_ms: 0`, fusio-manifest's documented "no limit";
//!   [`crate::manifest::build_manifest`]): a commit's retries are then bounded by the retry
//!   count (6), whose jittered backoff sleeps add up to 1.26-2.52 s, in virtual time. Real runs keep
//!   the budget.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

/// Name prefix of a simulation's thread (`sim-{name}`); [`crate::selfcheck`] counts a thread
/// so named as the harness's.
pub(crate) const THREAD_PREFIX: &str = "sim-";

/// Runs the future `make` builds to its end in a simulated world seeded by `seed`, on a new
/// thread named `sim-{name}` (`THREAD_PREFIX`), and returns its output; `Err` with the message if it panicked
/// or the world could not start. The caller's runtime is free meanwhile.
pub async fn run<F, Fut>(name: &str, seed: u64, make: F) -> Result<Fut::Output, String>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name(format!("{THREAD_PREFIX}{name}"))
        .spawn(move || {
            let _ = tx.send(run_here(seed, make));
        })
        .map_err(|e| format!("cannot start the simulation thread: {e}"))?;
    let out = rx
        .await
        .unwrap_or_else(|_| Err("the simulation thread ended without an answer".into()));
    let _ = thread.join();
    out
}

/// [`run`] on the calling thread, which must not be inside a tokio runtime.
pub fn run_here<F, Fut>(seed: u64, make: F) -> Result<Fut::Output, String>
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| format!("cannot build the simulation runtime: {e}"))?;
    fastrand::seed(seed);
    let _leave = LeaveSimulation;
    let world = async move {
        super::clock::enter_simulation();
        make().await
    };
    runtime
        .block_on(AssertUnwindSafe(world).catch_unwind())
        .map_err(|payload| {
            format!(
                "the simulation panicked: {}",
                crate::utils::payload_text(payload.as_ref())
            )
        })
}

/// Gives the thread its real wall clock back when a simulation on it ends, however it ends.
struct LeaveSimulation;

impl Drop for LeaveSimulation {
    fn drop(&mut self) {
        super::clock::leave_simulation();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    #[allow(clippy::disallowed_methods)]
    async fn an_hour_of_virtual_time_passes_at_once_and_a_panic_is_an_error() {
        let wall = std::time::Instant::now();
        let slept = run("test", 1, || async {
            let t0 = super::super::clock::now();
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            (
                super::super::clock::since(t0),
                super::super::clock::is_simulated(),
            )
        })
        .await;
        assert_eq!(slept, Ok((Duration::from_secs(3_600), true)));
        assert!(wall.elapsed() < Duration::from_secs(60));
        let failed = run("test", 1, || async { panic!("on purpose") }).await;
        assert!(failed.is_err_and(|e| e.contains("on purpose")));
    }

    #[test]
    fn a_seed_fixes_fastrands_thread_generator_and_the_thread_is_real_again_after() {
        let draw = || run_here(7, || async { fastrand::u64(..) });
        assert_eq!(draw(), draw());
        assert!(!super::super::clock::is_simulated());
    }
}
