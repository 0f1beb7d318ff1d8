//! [`RunExecutor`]: the executor and timer fusio-manifest runs on, so that every background
//! task it spawns belongs to the run (and ends with it), its wall clock can run off the host's,
//! and a crashed client's tasks stop for good.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use fusio::executor::{Executor, Timer};
use fusio_core::MaybeSendFuture;
use parking_lot::Mutex;
use tokio::task::AbortHandle;

use super::WallClock;
use crate::chaos::Process;
use crate::world::clock;

/// The tasks a run's manifests spawned, to abort them all at the end; once shut down, later
/// spawns are inert.
#[derive(Default)]
pub struct RunTasks {
    handles: Mutex<Vec<AbortHandle>>,
    closed: AtomicBool,
}

impl RunTasks {
    /// Whether the run has ended.
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Remembers one spawned task.
    fn track(&self, handle: AbortHandle) {
        let mut handles = self.handles.lock();
        handles.retain(|t| !t.is_finished());
        handles.push(handle);
    }

    /// Aborts every task spawned so far; tasks spawned later are aborted at once.
    fn shutdown(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let handles = std::mem::take(&mut *self.handles.lock());
        for t in handles {
            t.abort();
        }
    }

    /// Tasks spawned and not yet finished.
    fn live(&self) -> usize {
        let mut handles = self.handles.lock();
        handles.retain(|t| !t.is_finished());
        handles.len()
    }
}

/// fusio-manifest's executor and timer for one client of a run: one type, as fusio-manifest
/// asks, over three separate things: the run's [`RunTasks`], the client's [`WallClock`] and,
/// when crashes are injected, the client [`Process`] that can be killed.
#[derive(Clone, Default)]
pub struct RunExecutor {
    tasks: Arc<RunTasks>,
    clock: WallClock,
    process: Option<Arc<Process>>,
}

impl RunExecutor {
    /// This executor (same tasks, same shutdown) with its wall clock running as `clock`.
    /// fusio-manifest reads wall time only through [`Timer::system_time`]: lease expiry
    /// (lease/mod.rs:119-126), orphan recovery's view of active leases (manifest.rs:305-307)
    /// and GC and checkpoint ages (compactor.rs). Monotonic time ([`Timer::now`]) is not
    /// skewed: it only measures elapsed time within one process.
    pub fn with_clock(&self, clock: WallClock) -> Self {
        Self {
            clock,
            ..self.clone()
        }
    }

    /// [`RunExecutor::with_clock`] with a clock `offset_ms` off, not drifting.
    pub fn with_clock_offset(&self, offset_ms: i64) -> Self {
        self.with_clock(WallClock::new(offset_ms, 0))
    }

    /// The wall clock's offset from the host's now, ms.
    pub fn clock_offset_ms(&self) -> i64 {
        self.clock.offset_now()
    }

    /// This executor (same run, same clock) as a fresh client [`Process`] that crash injection
    /// can kill: once it dies, the tasks spawned through it stop for good and later spawns
    /// are inert. Its tasks still end with the run.
    pub fn new_process(&self) -> Self {
        Self {
            process: Some(Arc::new(Process::default())),
            ..self.clone()
        }
    }

    /// The client process this executor spawns for, if it can be killed.
    pub fn process(&self) -> Option<&Arc<Process>> {
        self.process.as_ref()
    }

    /// Aborts every task spawned so far; tasks spawned later are aborted at once.
    pub fn shutdown(&self) {
        self.tasks.shutdown();
    }

    /// Tasks spawned and not yet finished.
    pub fn live_tasks(&self) -> usize {
        self.tasks.live()
    }
}

impl Executor for RunExecutor {
    type JoinHandle<R>
        = tokio::task::JoinHandle<R>
    where
        R: fusio::MaybeSend;

    type Mutex<T>
        = tokio::sync::Mutex<T>
    where
        T: fusio::MaybeSend + fusio::MaybeSync;

    type RwLock<T>
        = tokio::sync::RwLock<T>
    where
        T: fusio::MaybeSend + fusio::MaybeSync;

    fn spawn<F>(&self, future: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + fusio::MaybeSend + 'static,
        F::Output: fusio::MaybeSend,
    {
        let dead = self.process.as_ref().is_some_and(|p| p.is_killed());
        if dead || self.tasks.is_closed() {
            // A run that has ended, or a killed process, starts nothing: the future is dropped
            // (forgotten, for a killed process, which runs no destructor) without being polled
            // (spawning it and aborting at once could let it run first on a busy runtime).
            let inert = tokio::spawn(async move {
                if dead {
                    std::mem::forget(future);
                } else {
                    drop(future);
                }
                std::future::pending().await
            });
            inert.abort();
            return inert;
        }
        // Spawned as a task of the run that asked, so a panic in fusio-manifest's background
        // work (orphan recovery, lease keepers) makes that run INVALID.
        let handle = match self.process.clone() {
            None => crate::selfcheck::spawn(future),
            Some(process) => crate::selfcheck::spawn(async move {
                match process.until_killed(future).await {
                    Ok(out) => out,
                    Err(_) => std::future::pending().await,
                }
            }),
        };
        self.tasks.track(handle.abort_handle());
        handle
    }

    fn mutex<T>(value: T) -> Self::Mutex<T>
    where
        T: fusio::MaybeSend + fusio::MaybeSync,
    {
        tokio::sync::Mutex::new(value)
    }

    fn rw_lock<T>(value: T) -> Self::RwLock<T>
    where
        T: fusio::MaybeSend + fusio::MaybeSync,
    {
        tokio::sync::RwLock::new(value)
    }
}

impl Timer for RunExecutor {
    fn sleep(&self, dur: Duration) -> Pin<Box<dyn MaybeSendFuture<Output = ()>>> {
        Box::pin(tokio::time::sleep(dur))
    }

    fn now(&self) -> Instant {
        clock::now()
    }

    fn system_time(&self) -> SystemTime {
        let offset_ms = self.clock.offset_now();
        let offset = Duration::from_millis(offset_ms.unsigned_abs());
        if offset_ms >= 0 {
            clock::system_time() + offset
        } else {
            clock::system_time() - offset
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn after_shutdown_a_spawned_task_never_runs() {
        let executor = RunExecutor::default();
        executor.shutdown();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let joined = executor
            .spawn(async move { flag.store(true, Ordering::SeqCst) })
            .await;
        assert!(joined.is_err_and(|e| e.is_cancelled()));
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(executor.live_tasks(), 0);
    }

    #[test]
    fn a_skewed_clock_is_off_by_its_offset_and_shares_the_runs_tasks() {
        let executor = RunExecutor::default();
        let ms = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after 1970")
                .as_millis() as i64
        };
        for offset in [90_000, -90_000] {
            let skewed = executor.with_clock_offset(offset);
            let off = ms(skewed.system_time()) - ms(executor.system_time());
            assert!((off - offset).abs() < 1_000, "{offset}: off by {off}");
            assert_eq!(skewed.clock_offset_ms(), offset);
            assert!(Arc::ptr_eq(&skewed.tasks, &executor.tasks));
        }
    }
}
