//! How a sweep runs: duration per scenario, how many at once, which scenarios.

use std::time::Duration;

use crate::chaos::ChaosScenario;
use crate::config::{ConfigError, Settings};

/// Cores one scenario of the default workload needs to itself for its figures to describe
/// fusio-manifest: by the end of a 300 s run a scenario (its clients, fusio's HTTP client and
/// the embedded server answering it) keeps about one core busy, and the host's own work needs
/// room beside it (measured: README, "Measured figures").
pub const CORES_PER_SCENARIO: usize = 2;

/// The comprehensive sweep's wall-time budget when `CHAOS_DURATION_SECS` is unset: the plan's
/// "~20-25 minutes" for the whole grid.
pub const GRID_BUDGET: Duration = Duration::from_secs(20 * 60);

/// Shortest per-configuration duration the budget may give (shorter runs hold too few commits
/// to rank by).
pub const GRID_MIN_DURATION: Duration = Duration::from_secs(10);

/// Longest per-configuration duration (the plan's 60 s), reached where the host runs enough at
/// once.
pub const GRID_MAX_DURATION: Duration = Duration::from_secs(60);

/// How many scenarios without CPU chaos `CHAOS_PARALLEL=auto` runs at once on `cores` cores.
pub fn host_slots(cores: usize) -> usize {
    (cores / CORES_PER_SCENARIO).max(1)
}

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
    /// `CHAOS_SCENARIOS=a,b` from `settings`. For batches of many short configurations (the
    /// comprehensive sweep); a measurement sweep uses [`SweepOptions::host_aware`].
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

    /// Like [`SweepOptions::new`] for a sweep of `scenarios` scenarios, but `auto` runs at most
    /// [`host_slots`] of this host's cores at once (one at a time on 2 or 3 cores), so no
    /// scenario's figures describe the others' load.
    pub fn host_aware(settings: &Settings, duration: Duration, scenarios: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::for_cores(settings, duration, scenarios, cores)
    }

    /// [`SweepOptions::host_aware`] on a host with `cores` cores.
    pub fn for_cores(
        settings: &Settings,
        duration: Duration,
        scenarios: usize,
        cores: usize,
    ) -> Self {
        let mut options = Self::new(settings, duration, scenarios);
        if options.isolate_cpu {
            options.parallel = options.parallel.min(host_slots(cores));
        }
        options
    }

    /// Options for a sweep of `scenarios` scenarios in simulated time: under `auto`, one per
    /// core at once. A simulation keeps one core busy and its results do not depend on the
    /// host's load (its clock stops while it computes), so nothing is held back for CPU chaos,
    /// which a simulated run refuses anyway.
    pub fn simulated(settings: &Settings, duration: Duration, scenarios: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut options = Self::new(settings, duration, scenarios.min(cores));
        options.isolate_cpu = false;
        options
    }

    /// Options for a grid of `configs` configurations without chaos (the comprehensive sweep):
    /// at most `max_parallel` at once and, under `auto`, at most [`host_slots`] of this host's
    /// cores; unless `CHAOS_DURATION_SECS` is set, each configuration runs for
    /// [`GRID_BUDGET`] divided by the number of batches, between [`GRID_MIN_DURATION`] and
    /// [`GRID_MAX_DURATION`] (12 s one at a time on 2 cores, 60 s eight at a time on 16).
    pub fn grid(settings: &Settings, configs: usize, max_parallel: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::grid_for_cores(settings, configs, max_parallel, cores)
    }

    /// [`SweepOptions::grid`] on a host with `cores` cores.
    pub fn grid_for_cores(
        settings: &Settings,
        configs: usize,
        max_parallel: usize,
        cores: usize,
    ) -> Self {
        let mut options = Self::for_cores(settings, GRID_MAX_DURATION, max_parallel, cores);
        if settings.workload.duration.is_none() {
            let batches = configs.div_ceil(options.parallel).max(1) as u64;
            let secs = (GRID_BUDGET.as_secs() / batches)
                .clamp(GRID_MIN_DURATION.as_secs(), GRID_MAX_DURATION.as_secs());
            options.duration = Duration::from_secs(secs);
        }
        options
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

    #[test]
    fn auto_runs_one_scenario_per_two_cores_and_a_fixed_number_is_kept() {
        let auto = Settings::default();
        let second = Duration::from_secs(1);
        let slots = |cores| SweepOptions::for_cores(&auto, second, 7, cores).parallel;
        assert_eq!(
            [slots(1), slots(2), slots(3), slots(8), slots(64)],
            [1, 1, 1, 4, 7]
        );
        let fixed = Settings::from_pairs([("CHAOS_PARALLEL", "5")]).expect("valid");
        assert_eq!(SweepOptions::for_cores(&fixed, second, 7, 2).parallel, 5);
        let sequential = Settings::from_pairs([("CHAOS_SEQUENTIAL", "1")]).expect("valid");
        assert_eq!(
            SweepOptions::for_cores(&sequential, second, 7, 64).parallel,
            1
        );
    }

    #[test]
    fn the_grid_fits_its_budget_on_small_hosts_and_keeps_explicit_settings() {
        let grid = |pairs: &[(&str, &str)], cores| {
            let settings = Settings::from_pairs(pairs.iter().copied()).expect("valid");
            let o = SweepOptions::grid_for_cores(&settings, 96, 8, cores);
            (o.parallel, o.duration.as_secs())
        };
        assert_eq!(grid(&[], 2), (1, 12));
        assert_eq!(grid(&[], 4), (2, 25));
        assert_eq!(grid(&[], 16), (8, 60));
        assert_eq!(grid(&[], 64), (8, 60));
        assert_eq!(grid(&[("CHAOS_PARALLEL", "8")], 2), (8, 60));
        assert_eq!(grid(&[("CHAOS_DURATION_SECS", "3")], 2), (1, 3));
        let tiny = SweepOptions::grid_for_cores(&Settings::default(), 100_000, 1, 2);
        assert_eq!(tiny.duration, GRID_MIN_DURATION);
    }
}
