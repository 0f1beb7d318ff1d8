//! One simulated run of a schedule: as its seed drew it, or replayed with random faults off
//! and only given fault points, on a workload made smaller ([`Repro`]).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::report::{points_or_none, SEARCH_COMMAND};
use super::schedule::{Case, Draw};
use super::signature::Signature;
use crate::backend::{Backend, SimStoreMode};
use crate::chaos::{parse_fault_points, FaultPoint, S3LatencyProfile};
use crate::config::WorkloadOverrides;
use crate::sweep::scenario_spec;
use crate::workload::{RunEnv, RunResult, ScenarioOutcome};

/// A run that reproduces a failure with random faults off: seed `seed`'s schedule, its
/// workload changed by `workload` (`CHAOS_*` settings) and cut to `duration_secs`, with no
/// random fault, block or crash, and only the fault points `points` (`CHAOS_FAULT_POINTS`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repro {
    /// The schedule's seed.
    pub seed: u64,
    /// The simulated duration, s.
    pub duration_secs: u64,
    /// Whether the search drew compactors (the schedule's workload depends on it).
    pub compactors: bool,
    /// Whether the search drew faults (the schedule's workload depends on it; the random
    /// faults, blocks and crashes drawn are then turned off, clock skew and drift kept).
    #[serde(default = "drew_faults")]
    pub faults: bool,
    /// `CHAOS_*` workload settings over the schedule's, e.g. `CHAOS_NUM_READERS=0`
    /// (space-separated; empty: none).
    pub workload: String,
    /// The fault points (`;`-separated; empty: none).
    pub points: String,
    /// What the simulated store answers as: `s3` or `fs` (`CHAOS_SIM_STORE`).
    pub store: String,
}

/// Repros saved before `faults` was recorded came from searches that drew faults.
fn drew_faults() -> bool {
    true
}

/// The seed search's latency model (the fault sweep's), on a store answering as `store`.
fn search_env(seed: u64, out_dir: &Path, points: Vec<FaultPoint>, store: SimStoreMode) -> RunEnv {
    let mut env = RunEnv::new(
        Backend::simulated(),
        out_dir.to_path_buf(),
        seed,
        S3LatencyProfile::S3Standard,
    );
    env.settings.fault_points = points;
    env.settings.sim_store = store;
    env
}

/// Runs `case` in simulated time with `points` armed on a store answering as `store`,
/// writing its history under `out_dir`.
pub async fn run_case(
    case: &Case,
    points: Vec<FaultPoint>,
    store: SimStoreMode,
    out_dir: &Path,
) -> Result<RunResult, String> {
    let env = search_env(case.seed, out_dir, points, store);
    let layer = env.storage_layer(0);
    let mut spec = scenario_spec(
        &env,
        "seed_search",
        &case.config,
        case.scenario.clone(),
        case.config.duration,
    )?;
    spec.progress_every = None;
    ScenarioOutcome::run(&env, layer, spec).await.result
}

/// A finished run: what it showed, and the faults it injected.
pub struct Ran {
    /// Its signature.
    pub signature: Signature,
    /// Every fault it injected, as points, in order.
    pub injected: Vec<FaultPoint>,
    /// Its result (`Err`: no result, a harness fault).
    pub result: Result<RunResult, String>,
}

/// Runs `case` with `points` on a store answering as `store`, and judges it.
pub async fn run_and_judge(
    case: &Case,
    points: Vec<FaultPoint>,
    store: SimStoreMode,
    out_dir: &Path,
) -> Ran {
    let result = run_case(case, points, store, out_dir).await;
    let signature = Signature::of(
        &result,
        case.config.lease_ttl_secs * 1000,
        case.config.duration.as_millis() as u64,
    );
    let injected = result
        .as_ref()
        .map(|r| r.injected.iter().map(|f| f.point.clone()).collect())
        .unwrap_or_default();
    Ran {
        signature,
        injected,
        result,
    }
}

impl Repro {
    /// The schedule this repro runs: the seed's, with random faults, blocks and crashes off,
    /// `workload` applied and the duration cut.
    pub fn case(&self) -> Result<Case, String> {
        let draw = Draw {
            faults: self.faults,
            compactors: self.compactors,
        };
        let mut case = Case::draw(self.seed, Duration::from_secs(self.duration_secs), draw);
        case.scenario.faults.clear();
        case.scenario.blocks = None;
        case.config.crash_every_ms = 0;
        case.config = WorkloadOverrides::from_line(&self.workload)
            .and_then(|o| o.apply(case.config.clone()))
            .map_err(|e| format!("the repro's workload settings are invalid: {e}"))?;
        case.config.duration = Duration::from_secs(self.duration_secs);
        Ok(case)
    }

    /// Its fault points, parsed.
    pub fn fault_points(&self) -> Result<Vec<FaultPoint>, String> {
        parse_fault_points(&self.points).map_err(|e| e.to_string())
    }

    /// What its store answers as.
    pub fn store_mode(&self) -> Result<SimStoreMode, String> {
        SimStoreMode::parse("store", &self.store).map_err(|e| e.to_string())
    }

    /// Runs it and judges the run.
    pub async fn run(&self, out_dir: &Path) -> Result<Ran, String> {
        let (case, points, store) = self.prepared(&WorkloadOverrides::default())?;
        Ok(run_and_judge(&case, points, store, out_dir).await)
    }

    /// Runs it with `over` (a command line's `CHAOS_*` workload settings) applied over its
    /// workload, and judges the run.
    pub async fn run_over(&self, out_dir: &Path, over: &WorkloadOverrides) -> Result<Ran, String> {
        let (case, points, store) = self.prepared(over)?;
        Ok(run_and_judge(&case, points, store, out_dir).await)
    }

    /// Its schedule with `over` applied, its points and its store mode.
    fn prepared(
        &self,
        over: &WorkloadOverrides,
    ) -> Result<(Case, Vec<FaultPoint>, SimStoreMode), String> {
        let mut case = self.case()?;
        case.config = over
            .apply(case.config)
            .map_err(|e| format!("the workload settings are invalid: {e}"))?;
        Ok((case, self.fault_points()?, self.store_mode()?))
    }

    /// The command that runs it alone: one seed of the search, with its points (`none` for
    /// none) and workload settings.
    pub fn command(&self) -> String {
        let on = |b: bool| if b { "on" } else { "off" };
        let workload = if self.workload.is_empty() {
            String::new()
        } else {
            format!("{} ", self.workload)
        };
        format!(
            "CHAOS_SEARCH_FROM={} CHAOS_SEARCH_SEEDS=1 CHAOS_SEARCH_FAULTS={} \
             CHAOS_SEARCH_COMPACTORS={} CHAOS_SIM_STORE={} CHAOS_DURATION_SECS={} {workload}\
             CHAOS_FAULT_POINTS='{}' {SEARCH_COMMAND}",
            self.seed,
            on(self.faults),
            on(self.compactors),
            self.store,
            self.duration_secs,
            points_or_none(&self.points),
        )
    }

    /// A test to paste into `tests/`, asserting that this repro shows `feature`.
    pub fn as_test(&self, name: &str, feature: &str) -> String {
        format!(
            r#"#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn {name}() {{
    let repro = Repro {{
        seed: {seed},
        duration_secs: {duration},
        compactors: {compactors},
        faults: {faults},
        workload: {workload:?}.into(),
        points: {points:?}.into(),
        store: {store:?}.into(),
    }};
    assert_shows(&repro, {feature:?}).await;
}}
"#,
            seed = self.seed,
            duration = self.duration_secs,
            compactors = self.compactors,
            faults = self.faults,
            workload = self.workload,
            points = self.points,
            store = self.store,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn repro(points: &str, workload: &str) -> Repro {
        Repro {
            seed: 8,
            duration_secs: 15,
            compactors: false,
            faults: false,
            workload: workload.into(),
            points: points.into(),
            store: "fs".into(),
        }
    }

    /// The command's variables, read back as settings, name the same run.
    #[test]
    fn the_replay_command_names_the_repro() {
        let r = repro("get:HEAD.json#3=reset", "CHAOS_NUM_WRITERS=1");
        let cmd = r.command();
        let pairs: Vec<(String, String)> = cmd
            .split_whitespace()
            .take_while(|w| *w != "cargo")
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        let s = Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .expect("the command's settings parse");
        assert_eq!((s.search.from, s.search.seeds), (8, 1));
        assert!(!s.search.faults && !s.search.compactors);
        assert_eq!(s.sim_store.name(), "fs");
        assert!(s.fault_points_given);
        assert_eq!(crate::chaos::fault_log::spec(&s.fault_points), r.points);
        let case = r.case().unwrap();
        let over = s.workload.apply(case.config.clone()).unwrap();
        assert_eq!(over.num_writers, 1);
        let none = repro("", "").command();
        assert!(none.contains("CHAOS_FAULT_POINTS='none'"), "{none}");
    }
}
