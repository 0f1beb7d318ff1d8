//! Crash injection: a writer's "process" (its `Manifest`, its background tasks and its
//! session tasks) killed at a chosen point of a commit, as `kill -9` would.
//!
//! A [`Process`] belongs to one client's [`crate::manifest::RunExecutor`]. Its storage wrapper
//! asks [`Process::on_landed`] after every conditional PUT that reached the server; when the
//! PUT is the one the armed [`CrashPoint`] names, the process dies on the spot: that request's
//! answer never reaches fusio-manifest, and every future of the process that runs under
//! [`Process::until_killed`] (its session tasks, and everything fusio spawns through the
//! process's executor: orphan recovery, lease keepers) is forgotten without being polled or
//! dropped again. Nothing of it runs a destructor, ends a session or releases a lease, exactly
//! like a killed process; its leases expire by their TTL and its objects stay in the bucket.
//! The client then starts a fresh process ([`crate::manifest::ClientManifests::writer`]).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::world::Signal;

/// Where in a commit a process dies: right after one of its conditional PUTs landed, before
/// it heard the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrashPoint {
    /// After its lease object was written (`leases/…`): the session holds a lease and has
    /// written nothing else.
    LeasePut,
    /// After its segment was written (`segments/…`), before the HEAD CAS: an orphan segment
    /// that only orphan recovery can commit.
    SegmentPut,
    /// After its HEAD CAS landed: committed, but nobody heard it.
    HeadCas,
}

impl CrashPoint {
    /// Every point, in report order.
    pub const ALL: [CrashPoint; 3] = [Self::LeasePut, Self::SegmentPut, Self::HeadCas];

    /// The name used in reports and history errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::LeasePut => "after-lease-put",
            Self::SegmentPut => "after-segment-put",
            Self::HeadCas => "after-head-cas",
        }
    }

    /// This point's position in [`CrashPoint::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether a conditional PUT of `key` is this point's.
    pub fn matches(self, key: &str) -> bool {
        match self {
            Self::LeasePut => key.contains("leases/"),
            Self::SegmentPut => key.contains("segments/"),
            Self::HeadCas => key.ends_with("HEAD.json"),
        }
    }
}

/// One client process that can be killed.
#[derive(Debug)]
pub struct Process {
    armed: Mutex<Option<CrashPoint>>,
    killed: Signal<Option<CrashPoint>>,
}

impl Default for Process {
    fn default() -> Self {
        Self {
            armed: Mutex::new(None),
            killed: Signal::new(None),
        }
    }
}

impl Process {
    /// Arms the process to die at `point`, unless it is armed already or dead; returns whether
    /// it was armed now.
    pub fn arm(&self, point: CrashPoint) -> bool {
        let mut armed = self.armed.lock();
        if armed.is_some() || self.is_killed() {
            return false;
        }
        *armed = Some(point);
        true
    }

    /// Told by the storage wrapper after a conditional PUT of `key` landed: `true` when that
    /// kills the process (the caller must then never answer): the PUT is the armed point's,
    /// or `forced` (a `crash` fault point), which kills a live process at the point `key`
    /// belongs to.
    pub fn on_landed(&self, key: &str, forced: bool) -> bool {
        let mut armed = self.armed.lock();
        let point = match *armed {
            Some(point) if point.matches(key) => {
                *armed = None;
                point
            }
            _ if forced && !self.is_killed() => {
                match CrashPoint::ALL.into_iter().find(|p| p.matches(key)) {
                    Some(point) => point,
                    None => return false,
                }
            }
            _ => return false,
        };
        self.killed.set(Some(point));
        true
    }

    /// The point the process died at, if it is dead.
    pub fn killed_at(&self) -> Option<CrashPoint> {
        self.killed.get()
    }

    /// Whether the process is dead.
    pub fn is_killed(&self) -> bool {
        self.killed_at().is_some()
    }

    /// Runs `future` until it ends (`Ok`) or the process dies (`Err` with the point it died
    /// at). On death the future is forgotten, not dropped: a killed process runs no destructor
    /// (no session end, no lease release, no debug assertion about an unreleased lease).
    pub async fn until_killed<F: Future>(&self, future: F) -> Result<F::Output, CrashPoint> {
        let mut future = Box::pin(future);
        let point = match self.killed_at() {
            Some(point) => point,
            None => tokio::select! {
                biased;
                out = &mut future => return Ok(out),
                point = self.killed.wait_map(|killed| *killed) => point,
            },
        };
        std::mem::forget(future);
        Err(point)
    }
}

/// Crashes of one run, per point.
#[derive(Debug, Default)]
pub struct CrashCounts {
    armed: AtomicU64,
    killed: [AtomicU64; CrashPoint::ALL.len()],
}

/// A snapshot of [`CrashCounts`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Times a writer was armed to crash.
    pub armed: u64,
    /// Processes killed, per [`CrashPoint::ALL`] entry.
    pub killed: [u64; CrashPoint::ALL.len()],
}

impl CrashReport {
    /// Processes killed at any point.
    pub fn total(&self) -> u64 {
        self.killed.iter().sum()
    }
}

impl CrashCounts {
    /// One writer armed.
    pub fn count_armed(&self) {
        self.armed.fetch_add(1, Ordering::Relaxed);
    }

    /// One process killed at `point`.
    pub fn count_killed(&self, point: CrashPoint) {
        self.killed[point.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn report(&self) -> CrashReport {
        CrashReport {
            armed: self.armed.load(Ordering::Relaxed),
            killed: std::array::from_fn(|i| self.killed[i].load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn points_match_their_objects_only() {
        let p = "runs/x";
        assert!(CrashPoint::LeasePut.matches(&format!("{p}/leases/lease-1.json")));
        assert!(CrashPoint::SegmentPut.matches(&format!("{p}/segments/seg-0007.json")));
        assert!(CrashPoint::HeadCas.matches(&format!("{p}/HEAD.json")));
        assert!(!CrashPoint::HeadCas.matches(&format!("{p}/segments/seg-0007.json")));
        assert!(!CrashPoint::SegmentPut.matches(&format!("{p}/leases/lease-1.json")));
    }

    #[test]
    fn an_armed_process_dies_once_at_its_point_and_cannot_be_rearmed() {
        let process = Process::default();
        assert!(!process.on_landed("p/HEAD.json", false), "not armed");
        assert!(process.arm(CrashPoint::SegmentPut));
        assert!(!process.arm(CrashPoint::HeadCas), "armed already");
        assert!(!process.on_landed("p/HEAD.json", false), "another point");
        assert!(!process.is_killed());
        assert!(process.on_landed("p/segments/seg-1.json", false));
        assert_eq!(process.killed_at(), Some(CrashPoint::SegmentPut));
        assert!(!process.arm(CrashPoint::HeadCas), "dead");
        assert!(!process.on_landed("p/HEAD.json", false));
    }

    #[test]
    fn a_crash_point_kills_a_live_process_at_the_point_its_key_belongs_to() {
        let process = Process::default();
        assert!(!process.on_landed("p/checkpoints/ckpt-1.meta.json", true));
        assert!(process.on_landed("p/HEAD.json", true));
        assert_eq!(process.killed_at(), Some(CrashPoint::HeadCas));
        assert!(!process.on_landed("p/HEAD.json", true), "dead already");
    }

    /// Sets a flag when dropped.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn a_killed_future_stops_and_is_never_dropped() {
        let process = Arc::new(Process::default());
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = DropFlag(dropped.clone());
        let p = process.clone();
        let task = tokio::spawn(async move {
            p.until_killed(async move {
                let _flag = flag;
                std::future::pending::<()>().await
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        process.arm(CrashPoint::LeasePut);
        assert!(process.on_landed("p/leases/lease-9.json", false));
        let out = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the killed future returns at once")
            .expect("no panic");
        assert_eq!(out, Err(CrashPoint::LeasePut));
        assert!(
            !dropped.load(Ordering::SeqCst),
            "a killed process runs no destructor"
        );
        let done = process.until_killed(async { 7 }).await;
        assert_eq!(
            done,
            Err(CrashPoint::LeasePut),
            "a dead process runs nothing"
        );
        let alive = Process::default().until_killed(async { 7 }).await;
        assert_eq!(alive, Ok(7));
    }
}
