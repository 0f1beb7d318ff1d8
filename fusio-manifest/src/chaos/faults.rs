//! S3-level faults the storage wrapper injects, each with a probability (toxiproxy's
//! "toxicity") and optionally limited to operation kinds and object keys.
//!
//! - transient error: the operation fails before reaching storage (not applied) with an S3-like
//!   error: 503 SlowDown, 500 InternalError or a connection reset;
//! - ambiguous success: the operation is applied by storage, then the caller gets an error, as
//!   if the answer was lost;
//! - stall: the operation is applied, then its answer is held for a set time (a client timeout
//!   shorter than that sees an indeterminate outcome).
//!
//! No network tool can produce an ambiguous success; it is the fault that tests how a commit
//! protocol classifies outcomes.

use std::time::Duration;

use super::S3OpKind;

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// Fail before storage with an S3-like error; nothing is applied.
    Transient,
    /// Apply, then report an error.
    AmbiguousSuccess,
    /// Apply, then hold the answer this long.
    Stall(Duration),
}

/// One fault rule.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    /// What happens.
    pub kind: FaultKind,
    /// Chance per matching operation, 0..=1.
    pub probability: f64,
    /// Only these operation kinds (`None`: all).
    pub ops: Option<Vec<S3OpKind>>,
    /// Only objects whose key contains this (`None`: all), e.g. `HEAD.json`.
    pub key_contains: Option<&'static str>,
}

impl FaultSpec {
    /// A rule for every operation kind and key.
    pub fn everywhere(kind: FaultKind, probability: f64) -> Self {
        Self {
            kind,
            probability,
            ops: None,
            key_contains: None,
        }
    }

    /// Limits the rule to `ops`.
    pub fn on(mut self, ops: &[S3OpKind]) -> Self {
        self.ops = Some(ops.to_vec());
        self
    }

    /// Limits the rule to keys containing `part`.
    pub fn on_keys(mut self, part: &'static str) -> Self {
        self.key_contains = Some(part);
        self
    }

    /// Whether the rule applies to this operation.
    pub fn matches(&self, op: S3OpKind, key: &str) -> bool {
        self.ops.as_ref().is_none_or(|o| o.contains(&op))
            && self.key_contains.is_none_or(|k| key.contains(k))
    }
}

/// The error an injected fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InjectedError {
    /// HTTP 503 SlowDown.
    #[error("injected fault: HTTP 503 SlowDown (not applied)")]
    SlowDown,
    /// HTTP 500 InternalError.
    #[error("injected fault: HTTP 500 InternalError (not applied)")]
    InternalError,
    /// Connection reset before the request was sent.
    #[error("injected fault: connection reset (not applied)")]
    ConnectionReset,
    /// The request was applied but its answer was lost.
    #[error("injected fault: connection reset after the request was applied (answer lost)")]
    AnswerLost,
    /// A refused network block.
    #[error("injected fault: connection refused (network block)")]
    Refused,
}

impl InjectedError {
    /// Wraps the error the way fusio reports remote failures.
    pub fn into_fs(self) -> fusio::Error {
        fusio::Error::Remote(Box::new(self))
    }
}

/// What the wrapper decided for one operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultDecision {
    /// Run normally.
    None,
    /// Fail with this error without running.
    Fail(InjectedError),
    /// Run, then report `AnswerLost`.
    Ambiguous,
    /// Run, then hold the answer.
    Stall(Duration),
    /// Hold the request this long before it leaves, then run normally.
    Delay(Duration),
    /// A conditional PUT: run, then kill the calling writer's process before it hears the
    /// answer (no effect on a client without a process).
    Crash,
}

/// Counters of injected faults, for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FaultCounts {
    /// Operations that matched at least one rule.
    pub eligible: u64,
    /// Transient errors injected.
    pub transient: u64,
    /// Ambiguous successes injected.
    pub ambiguous: u64,
    /// Stalls injected.
    pub stalls: u64,
    /// Operations refused by a block.
    pub refused: u64,
}

impl FaultCounts {
    /// Faults the scenario's rules injected (transient errors, ambiguous successes, stalls;
    /// not refusals by a block).
    pub fn injected(&self) -> u64 {
        self.transient + self.ambiguous + self.stalls
    }
}
