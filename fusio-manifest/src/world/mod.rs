//! Where a run lives, and what it takes its time, randomness and wake-up order from.
//!
//! A run lives in one of two worlds ([`TimeMode`], `CHAOS_TIME`):
//! - **real**: the caller's multi-thread tokio runtime, the host's clock, S3 over HTTP (the
//!   embedded server on 127.0.0.1 or a real bucket). Timing is the point: latency and
//!   throughput figures.
//! - **simulated** ([`sim`]): its own thread and current-thread tokio runtime with paused time,
//!   which jumps ahead whenever every task waits; an in-process S3 store; no sockets; one seed
//!   fixes everything, and a [`trace::Digest`] over every storage operation proves a replay.
//!
//! Both read time through [`clock`] and wait on [`Signal`]s, never on the host's clock or on
//! tokio's randomly sharded `watch`.

pub mod clock;
pub mod signal;
pub mod sim;
pub mod trace;

pub use signal::Signal;

use crate::config_error::ConfigError;

/// How a run's time passes (`CHAOS_TIME`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeMode {
    /// The host's clock, S3 over HTTP: for latency and throughput.
    #[default]
    Real,
    /// Virtual time in a deterministic simulated world: for correctness, replayable by seed.
    Simulated,
}

impl TimeMode {
    /// Parses `real` or `simulated`.
    pub fn parse(var: &'static str, value: &str) -> Result<Self, ConfigError> {
        match value {
            "real" => Ok(Self::Real),
            "simulated" | "sim" => Ok(Self::Simulated),
            other => Err(ConfigError::invalid(
                var,
                other,
                "expected `real` or `simulated`",
            )),
        }
    }

    /// The name used in reports and in `CHAOS_TIME`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Real => "real",
            Self::Simulated => "simulated",
        }
    }
}
