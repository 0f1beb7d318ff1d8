//! Per-scenario network conditions applied around every S3 operation: the S3 latency profile,
//! injected latency with jitter, and network blocks (partitions that hold requests and answers).

use parking_lot::{Mutex, RwLock};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::fault_points::{FaultPoint, FaultPointStatus, FaultPoints};
use super::faults::{FaultCounts, FaultDecision, FaultKind, FaultSpec, InjectedError};
use super::S3OpKind;
use crate::config::ConfigError;
use crate::world::Signal;

/// Latency added to every S3 operation: half before the request leaves, half after the answer
/// arrives, like a round trip.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencySpec {
    /// Mean added latency per operation.
    pub delay: Duration,
    /// Uniform jitter: each operation gets `delay ± jitter` (never below zero).
    pub jitter: Duration,
}

/// A seeded per-operation latency model that makes the embedded server look like S3.
///
/// Each operation kind draws from a log-normal distribution fitted to a median and a p99:
/// `exp(N(ln median, sigma))` with `sigma = ln(p99 / median) / 2.326`. The figures are fitted
/// to published numbers, not measured here: S3 Standard PUT ~50-100 ms and GET first byte
/// tens of ms (AWS S3 performance guidelines; SlateDB tuning docs); S3 Express One Zone
/// single-digit ms (AWS S3 Express One Zone overview).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3LatencyProfile {
    /// No added latency (loopback speed).
    None,
    /// S3 Standard: GET median 25 ms (p99 80), PUT 60 ms (p99 150), conditional PUT 70 ms
    /// (p99 180), HEAD 20 ms (p99 60), LIST 35 ms (p99 100), DELETE 25 ms (p99 80).
    S3Standard,
    /// S3 Express One Zone: GET 4 ms (p99 10), PUT 7 ms (p99 15), conditional PUT 8 ms
    /// (p99 18), HEAD 3 ms (p99 8), LIST 6 ms (p99 15), DELETE 4 ms (p99 10).
    Express,
}

impl S3LatencyProfile {
    /// Parses `none`, `s3-standard` or `express`.
    pub fn parse(var: &'static str, value: &str) -> Result<Self, ConfigError> {
        match value {
            "none" => Ok(Self::None),
            "s3-standard" => Ok(Self::S3Standard),
            "express" => Ok(Self::Express),
            other => Err(ConfigError::invalid(
                var,
                other,
                "expected none, s3-standard or express",
            )),
        }
    }

    /// The name used in reports and in `FUSIO_CHAOS_S3_PROFILE`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::S3Standard => "s3-standard",
            Self::Express => "express",
        }
    }

    /// (median, p99) in milliseconds for one operation kind.
    pub fn median_p99_ms(self, op: S3OpKind) -> Option<(f64, f64)> {
        use S3OpKind::*;
        let figures = match self {
            Self::None => return None,
            Self::S3Standard => match op {
                Get => (25.0, 80.0),
                Put => (60.0, 150.0),
                CondPut => (70.0, 180.0),
                Head => (20.0, 60.0),
                List => (35.0, 100.0),
                Delete => (25.0, 80.0),
            },
            Self::Express => match op {
                Get => (4.0, 10.0),
                Put => (7.0, 15.0),
                CondPut => (8.0, 18.0),
                Head => (3.0, 8.0),
                List => (6.0, 15.0),
                Delete => (4.0, 10.0),
            },
        };
        Some(figures)
    }
}

/// What happens to operations during a network block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockMode {
    /// Nothing makes progress: requests wait, answers are held until the block ends.
    Hold,
    /// New requests fail at once with a connection error; answers arriving during the block
    /// are lost (the request may have been applied).
    Refuse,
}

/// The network and S3 conditions one scenario sees. Cheap to consult on every operation.
pub struct NetworkChaos {
    profile: S3LatencyProfile,
    profile_on: std::sync::atomic::AtomicBool,
    latency: RwLock<Option<LatencySpec>>,
    blocked: Signal<bool>,
    block_mode: RwLock<BlockMode>,
    faults: RwLock<Vec<FaultSpec>>,
    points: FaultPoints,
    fault_counts: Mutex<FaultCounts>,
    seed: u64,
}

/// Salts that keep an operation's fault draw and delay draw apart.
const FAULT_SALT: u64 = 0x6661_756c_7473_0001;
const DELAY_SALT: u64 = 0x6465_6c61_7973_0002;

impl NetworkChaos {
    /// A network with the given S3 profile, no injected latency and no block, seeded.
    pub fn new(profile: S3LatencyProfile, seed: u64) -> Self {
        Self {
            profile,
            profile_on: std::sync::atomic::AtomicBool::new(true),
            latency: RwLock::new(None),
            blocked: Signal::new(false),
            block_mode: RwLock::new(BlockMode::Hold),
            faults: RwLock::new(Vec::new()),
            points: FaultPoints::default(),
            fault_counts: Mutex::new(FaultCounts::default()),
            seed,
        }
    }

    /// Stops applying the S3 latency profile (after a run's measurement window).
    pub fn disable_profile(&self) {
        self.profile_on
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// The S3 latency profile in force.
    pub fn profile(&self) -> S3LatencyProfile {
        self.profile
    }

    /// Sets (or clears) the injected latency.
    pub fn set_latency(&self, spec: Option<LatencySpec>) {
        *self.latency.write() = spec;
    }

    /// Starts or ends a network block.
    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.set(blocked);
    }

    /// Sets what blocks do (default [`BlockMode::Hold`]).
    pub fn set_block_mode(&self, mode: BlockMode) {
        *self.block_mode.write() = mode;
    }

    /// What blocks do.
    pub fn block_mode(&self) -> BlockMode {
        *self.block_mode.read()
    }

    /// Replaces the fault rules.
    pub fn set_faults(&self, faults: Vec<FaultSpec>) {
        *self.faults.write() = faults;
    }

    /// Adds a targeted fault point after the existing ones (see
    /// [`fault_points`](super::fault_points)); it counts matching operations from now on.
    pub fn add_fault_point(&self, point: FaultPoint) {
        self.points.add(point);
    }

    /// Replaces every fault point (e.g. with [`super::parse_fault_points`]'s result); counters
    /// start again at zero.
    pub fn set_fault_points(&self, points: Vec<FaultPoint>) {
        self.points.set(points);
    }

    /// Each fault point with the operations it matched and fired on, in the order added.
    /// Firings are counted here only, not in [`NetworkChaos::fault_counts`].
    pub fn fault_points(&self) -> Vec<FaultPointStatus> {
        self.points.status()
    }

    /// Faults injected so far.
    pub fn fault_counts(&self) -> FaultCounts {
        *self.fault_counts.lock()
    }

    /// Counts one operation refused by a block.
    pub fn count_refused(&self) {
        self.fault_counts.lock().refused += 1;
    }

    /// The random stream of the `nth` operation of `op` on `key` (for one `salt`): a function
    /// of the seed and the operation alone, so an operation draws the same fault and delay
    /// whatever other operations did or did not happen before it (a replay with some faults
    /// removed keeps every other operation's draws).
    fn op_rng(&self, salt: u64, op: S3OpKind, key: &str, nth: u64) -> StdRng {
        let mixed = self.seed
            ^ salt
            ^ crate::utils::label_key(key).rotate_left(21)
            ^ nth.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ (op as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        StdRng::seed_from_u64(mixed)
    }

    /// Decides the fault (if any) for the `nth` operation of `op` on `key` (counted per exact
    /// key, see [`super::fault_log`]). Fault points come first: every point the operation
    /// matches counts it, and the first that fires decides (no random draw is made then).
    /// Otherwise the first matching [`FaultSpec`] that fires wins; its transient errors pick
    /// 503, 500 or a connection reset with equal chance.
    pub fn decide_fault(&self, op: S3OpKind, key: &str, nth: u64) -> FaultDecision {
        if let Some(decision) = self.points.decide(op, key) {
            return decision;
        }
        let faults = self.faults.read();
        if faults.is_empty() {
            return FaultDecision::None;
        }
        let mut rng = self.op_rng(FAULT_SALT, op, key, nth);
        let mut counts = self.fault_counts.lock();
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

    /// Whether a block is in force now.
    pub fn is_blocked(&self) -> bool {
        self.blocked.get()
    }

    /// Draws the total delay for the `nth` operation of `op` on `key`: profile latency plus
    /// injected latency.
    pub fn draw_delay(&self, op: S3OpKind, key: &str, nth: u64) -> Duration {
        let latency = *self.latency.read();
        let figures = if self.profile_on.load(std::sync::atomic::Ordering::Relaxed) {
            self.profile.median_p99_ms(op)
        } else {
            None
        };
        if latency.is_none() && figures.is_none() {
            return Duration::ZERO;
        }
        let mut rng = self.op_rng(DELAY_SALT, op, key, nth);
        let mut total = Duration::ZERO;
        if let Some((median, p99)) = figures {
            let sigma = (p99 / median).ln() / 2.326;
            let z = standard_normal(&mut rng);
            total += Duration::from_secs_f64((median.ln() + sigma * z).exp() / 1000.0);
        }
        if let Some(spec) = latency {
            let jitter = spec.jitter.as_secs_f64();
            let offset = if jitter > 0.0 {
                rng.random_range(-jitter..=jitter)
            } else {
                0.0
            };
            total += Duration::from_secs_f64((spec.delay.as_secs_f64() + offset).max(0.0));
        }
        total
    }

    /// Waits while a block is in force (requests do not leave, answers are held).
    pub async fn wait_unblocked(&self) {
        self.blocked.wait_for(|blocked| !*blocked).await;
    }
}

/// A standard normal draw (Box-Muller).
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_profile_medians_match_the_model() {
        let net = NetworkChaos::new(S3LatencyProfile::S3Standard, 7);
        let mut puts: Vec<f64> = (0..4001)
            .map(|n| net.draw_delay(S3OpKind::Put, "k", n).as_secs_f64() * 1000.0)
            .collect();
        puts.sort_by(f64::total_cmp);
        let median = puts[2000];
        assert!((50.0..70.0).contains(&median), "PUT median {median}");
    }

    #[test]
    fn fault_points_fire_through_decide_fault_exactly_once() {
        let net = NetworkChaos::new(S3LatencyProfile::None, 3);
        net.set_faults(vec![FaultSpec::everywhere(FaultKind::Transient, 1.0)
            .on(&[S3OpKind::Get])
            .on_keys("HEAD.json")]);
        net.add_fault_point(FaultPoint::once(
            S3OpKind::CondPut,
            "HEAD.json",
            2,
            crate::chaos::fault_points::FaultAction::AnswerLost,
        ));
        let decisions: Vec<_> = (1..5)
            .map(|n| {
                // A GET of the same key matches only the probabilistic rule.
                assert!(matches!(
                    net.decide_fault(S3OpKind::Get, "p/HEAD.json", n),
                    FaultDecision::Fail(_)
                ));
                net.decide_fault(S3OpKind::CondPut, "p/HEAD.json", n)
            })
            .collect();
        assert_eq!(
            decisions,
            vec![
                FaultDecision::None,
                FaultDecision::Ambiguous,
                FaultDecision::None,
                FaultDecision::None
            ]
        );
        let status = net.fault_points();
        assert_eq!((status[0].matched, status[0].fired), (4, 1));
        assert_eq!(net.fault_counts().ambiguous, 0, "points are counted apart");
        net.set_fault_points(Vec::new());
        assert!(net.fault_points().is_empty());
    }

    #[test]
    fn injected_latency_stays_within_jitter() {
        let net = NetworkChaos::new(S3LatencyProfile::None, 1);
        net.set_latency(Some(LatencySpec {
            delay: Duration::from_millis(100),
            jitter: Duration::from_millis(10),
        }));
        for n in 0..1000 {
            let d = net.draw_delay(S3OpKind::Get, "k", n).as_millis();
            assert!((90..=110).contains(&d), "{d}");
        }
        net.set_latency(None);
        assert_eq!(net.draw_delay(S3OpKind::Get, "k", 1), Duration::ZERO);
    }

    #[test]
    fn an_operations_draws_depend_on_it_alone() {
        let net = NetworkChaos::new(S3LatencyProfile::S3Standard, 5);
        let a = net.draw_delay(S3OpKind::Get, "p/HEAD.json", 3);
        net.draw_delay(S3OpKind::Put, "p/x", 1);
        assert_eq!(net.draw_delay(S3OpKind::Get, "p/HEAD.json", 3), a);
        assert_ne!(net.draw_delay(S3OpKind::Get, "p/HEAD.json", 4), a);
    }
}
