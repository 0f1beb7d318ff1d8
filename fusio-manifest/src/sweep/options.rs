//! How a sweep runs: duration per scenario, how many at once, which scenarios.

use std::time::Duration;

use crate::chaos::ChaosScenario;
use crate::config::{ConfigError, Settings};

/// How a sweep runs: duration per scenario, how many at once, which scenarios.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepOptions {
    /// Duration of each scenario.
    pub duration: Duration,
    /// At most this many scenarios at once.
    pub parallel: usize,
    /// Only these labels (`CHAOS_SCENARIOS`), in the given order of the full set.
    pub only: Option<Vec<String>>,
}

impl SweepOptions {
    /// `CHAOS_DURATION_SECS` (default `duration`), `CHAOS_PARALLEL` (default `parallel`),
    /// `CHAOS_SEQUENTIAL=1` (parallel = 1) and `CHAOS_SCENARIOS=a,b` from `settings`.
    pub fn new(settings: &Settings, duration: Duration, parallel: usize) -> Self {
        Self {
            duration: settings.workload.duration.unwrap_or(duration),
            parallel: if settings.sequential {
                1
            } else {
                settings.parallel.unwrap_or(parallel).max(1)
            },
            only: settings.scenarios.clone(),
        }
    }

    /// The scenarios of `all` that `CHAOS_SCENARIOS` selects (all when unset). An unknown
    /// label is an error listing the valid ones.
    pub fn select(&self, all: Vec<ChaosScenario>) -> Result<Vec<ChaosScenario>, ConfigError> {
        let Some(only) = &self.only else {
            return Ok(all);
        };
        for label in only {
            if !all.iter().any(|s| &s.label == label) {
                let valid: Vec<&str> = all.iter().map(|s| s.label.as_str()).collect();
                return Err(ConfigError::invalid(
                    "CHAOS_SCENARIOS",
                    label,
                    format!("unknown scenario; valid: {}", valid.join(",")),
                ));
            }
        }
        Ok(all
            .into_iter()
            .filter(|s| only.contains(&s.label))
            .collect())
    }
}
