//! The latency model: the seeded S3 latency profile every operation draws from, and the
//! latency a scenario injects on top (with jitter).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use rand::Rng;

use super::{op_rng, S3OpKind};
use crate::config_error::ConfigError;

/// Salt that keeps an operation's delay draw apart from its fault draw.
const DELAY_SALT: u64 = 0x6465_6c61_7973_0002;

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

/// The latency one scenario's operations see: its profile (on until the run's measurement
/// window ends) plus injected latency.
pub struct LatencyModel {
    profile: S3LatencyProfile,
    profile_on: AtomicBool,
    injected: RwLock<Option<LatencySpec>>,
    seed: u64,
}

impl LatencyModel {
    /// The profile `profile`, no injected latency, drawing from `seed`.
    pub fn new(profile: S3LatencyProfile, seed: u64) -> Self {
        Self {
            profile,
            profile_on: AtomicBool::new(true),
            injected: RwLock::new(None),
            seed,
        }
    }

    /// Stops applying the S3 latency profile (after a run's measurement window).
    pub fn disable_profile(&self) {
        self.profile_on.store(false, Ordering::Relaxed);
    }

    /// The S3 latency profile in force.
    pub fn profile(&self) -> S3LatencyProfile {
        self.profile
    }

    /// Sets (or clears) the injected latency.
    pub fn set_latency(&self, spec: Option<LatencySpec>) {
        *self.injected.write() = spec;
    }

    /// Draws the total delay for the `nth` operation of `op` on `key`: profile latency plus
    /// injected latency.
    pub fn draw_delay(&self, op: S3OpKind, key: &str, nth: u64) -> Duration {
        let latency = *self.injected.read();
        let figures = if self.profile_on.load(Ordering::Relaxed) {
            self.profile.median_p99_ms(op)
        } else {
            None
        };
        if latency.is_none() && figures.is_none() {
            return Duration::ZERO;
        }
        let mut rng = op_rng(self.seed, DELAY_SALT, op, key, nth);
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
}

/// A standard normal draw (Box-Muller).
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
