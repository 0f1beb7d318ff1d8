//! S3-level faults one scenario injects: probabilistic rules ([`FaultSpec`]) and targeted
//! fault points, decided per operation from a seeded stream, and counted.

use parking_lot::{Mutex, RwLock};
use rand::Rng;

use super::{op_rng, S3OpKind};
use crate::chaos::fault_points::{FaultPoint, FaultPointStatus, FaultPoints};
use crate::chaos::faults::{FaultCounts, FaultDecision, FaultKind, FaultSpec, InjectedError};

/// Salt that keeps an operation's fault draw apart from its delay draw.
const FAULT_SALT: u64 = 0x6661_756c_7473_0001;

/// The fault rules and points of one scenario, and what they injected.
pub struct Faults {
    rules: RwLock<Vec<FaultSpec>>,
    points: FaultPoints,
    counts: Mutex<FaultCounts>,
    seed: u64,
}

impl Faults {
    /// No rule, no point, drawing from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rules: RwLock::new(Vec::new()),
            points: FaultPoints::default(),
            counts: Mutex::new(FaultCounts::default()),
            seed,
        }
    }

    /// Replaces the fault rules.
    pub fn set_faults(&self, faults: Vec<FaultSpec>) {
        *self.rules.write() = faults;
    }

    /// Adds a targeted fault point after the existing ones (see
    /// [`fault_points`](crate::chaos::fault_points)); it counts matching operations from now on.
    pub fn add_fault_point(&self, point: FaultPoint) {
        self.points.add(point);
    }

    /// Replaces every fault point (e.g. with [`crate::chaos::parse_fault_points`]'s result); counters
    /// start again at zero.
    pub fn set_fault_points(&self, points: Vec<FaultPoint>) {
        self.points.set(points);
    }

    /// Each fault point with the operations it matched and fired on, in the order added.
    /// Firings are counted here only, not in [`Faults::fault_counts`].
    pub fn fault_points(&self) -> Vec<FaultPointStatus> {
        self.points.status()
    }

    /// Faults injected so far.
    pub fn fault_counts(&self) -> FaultCounts {
        *self.counts.lock()
    }

    /// Counts one operation refused by a block.
    pub fn count_refused(&self) {
        self.counts.lock().refused += 1;
    }

    /// Decides the fault (if any) for the `nth` operation of `op` on `key` (counted per exact
    /// key, see [`crate::chaos::fault_log`]). Fault points come first: every point the operation
    /// matches counts it, and the first that fires decides (no random draw is made then).
    /// Otherwise the first matching [`FaultSpec`] that fires wins; its transient errors pick
    /// 503, 500 or a connection reset with equal chance.
    pub fn decide_fault(&self, op: S3OpKind, key: &str, nth: u64) -> FaultDecision {
        if let Some(decision) = self.points.decide(op, key) {
            return decision;
        }
        let faults = self.rules.read();
        if faults.is_empty() {
            return FaultDecision::None;
        }
        let mut rng = op_rng(self.seed, FAULT_SALT, op, key, nth);
        let mut counts = self.counts.lock();
        let mut eligible = false;
        for f in faults.iter().filter(|f| f.matches(op, key)) {
            eligible = true;
            if !rng.random_bool(f.probability.clamp(0.0, 1.0)) {
                continue;
            }
            counts.eligible += 1;
            return match f.kind {
                FaultKind::Transient => {
                    counts.transient += 1;
                    FaultDecision::Fail(match rng.random_range(0..3) {
                        0 => InjectedError::SlowDown,
                        1 => InjectedError::InternalError,
                        _ => InjectedError::ConnectionReset,
                    })
                }
                FaultKind::AmbiguousSuccess => {
                    counts.ambiguous += 1;
                    FaultDecision::Ambiguous
                }
                FaultKind::Stall(d) => {
                    counts.stalls += 1;
                    FaultDecision::Stall(d)
                }
            };
        }
        if eligible {
            counts.eligible += 1;
        }
        FaultDecision::None
    }
}
