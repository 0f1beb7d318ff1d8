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
    /// Run each CPU-chaos scenario alone, after the others (`CHAOS_PARALLEL` unset or `auto`):
    /// CPU burners load the whole process, so beside them every scenario would measure the
    /// machine.
    pub isolate_cpu: bool,
    /// Only these labels (`CHAOS_SCENARIOS`), in the given order of the full set.
    pub only: Option<Vec<String>>,
}

impl SweepOptions {
    /// `CHAOS_DURATION_SECS` (default `duration`), `CHAOS_PARALLEL` (default `auto`: up to
    /// `parallel` at once, CPU chaos alone), `CHAOS_SEQUENTIAL=1` (parallel = 1) and
    /// `CHAOS_SCENARIOS=a,b` from `settings`.
    pub fn new(settings: &Settings, duration: Duration, parallel: usize) -> Self {
        Self {
            duration: settings.workload.duration.unwrap_or(duration),
            isolate_cpu: settings.parallel.is_none() && !settings.sequential,
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

    /// The phases a sweep runs `scenarios` in, as indices: one phase, or (with
    /// [`SweepOptions::isolate_cpu`]) the scenarios without CPU chaos together, then each
    /// CPU-chaos scenario alone.
    pub fn phases(&self, scenarios: &[ChaosScenario]) -> Vec<Vec<usize>> {
        let all: Vec<usize> = (0..scenarios.len()).collect();
        if !self.isolate_cpu {
            return vec![all];
        }
        let (cpu, calm): (Vec<usize>, Vec<usize>) =
            all.into_iter().partition(|&i| scenarios[i].uses_cpu());
        std::iter::once(calm)
            .filter(|p| !p.is_empty())
            .chain(cpu.into_iter().map(|i| vec![i]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::create_chaos_scenarios;

    #[test]
    fn auto_runs_cpu_chaos_alone_after_the_rest_and_a_fixed_number_does_not() {
        let scenarios = create_chaos_scenarios();
        let auto = SweepOptions::new(&Settings::default(), Duration::from_secs(1), 7);
        let phases = auto.phases(&scenarios);
        assert_eq!(phases.len(), 3, "{phases:?}");
        assert!(phases[0].iter().all(|&i| !scenarios[i].uses_cpu()));
        assert!(phases[1..]
            .iter()
            .all(|p| p.len() == 1 && scenarios[p[0]].uses_cpu()));
        let mut seen: Vec<usize> = phases.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..scenarios.len()).collect::<Vec<_>>());

        let fixed = Settings::from_pairs([("CHAOS_PARALLEL", "7")]).expect("valid");
        let fixed = SweepOptions::new(&fixed, Duration::from_secs(1), 7);
        assert_eq!(fixed.phases(&scenarios), vec![(0..7).collect::<Vec<_>>()]);
    }
}
