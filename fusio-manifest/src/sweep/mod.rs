//! Running many scenarios at once: the chaos sweep (one workload under each chaos scenario,
//! in parallel) and the comprehensive sweep (many workloads without chaos, in batches), with
//! their options ([`options`]), the comprehensive grid ([`grid`]) and the choice of the best
//! configuration ([`best`], by the best-row rule [`crate::verdicts::rank`]).

pub mod best;
pub mod grid;
pub mod options;

pub use best::{load_best_config, pick_best, BestConfig, BestConfigError, BestRow};
pub use grid::comprehensive_grid;
pub use options::SweepOptions;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::chaos::ChaosScenario;
use crate::config::WorkloadConfig;
use crate::console;
use crate::results::history_path;
use crate::utils::{label_key, panic_message, scenario_seed};
use crate::workload::{RunEnv, RunSpec, ScenarioOutcome};

/// Runs every scenario of `scenarios` (filter with [`SweepOptions::select`] first) against its
/// own prefix, at most `options.parallel` at once, each on `config` with its own settings
/// ([`ChaosScenario::settings`]) applied. Results come back in scenario order; a scenario that
/// errors or panics yields an `Err` outcome and does not affect the others.
pub async fn run_chaos_sweep(
    env: Arc<RunEnv>,
    stem: &str,
    config: &WorkloadConfig,
    scenarios: Vec<ChaosScenario>,
    options: &SweepOptions,
) -> Vec<ScenarioOutcome> {
    let total = scenarios.len();
    let phases = options.phases(&scenarios);
    let (mut specs, mut outcomes) = scenario_specs(&env, stem, config, scenarios, options);
    for (p, phase) in phases.iter().enumerate() {
        let labels: Vec<&str> = phase
            .iter()
            .filter_map(|&i| specs[i].as_ref().map(|s| s.label.as_str()))
            .collect();
        console::print_phase(p, phases.len(), &labels, options.parallel);
        env.warn_if_short_of_files(
            phase
                .iter()
                .take(options.parallel)
                .filter_map(|&i| specs[i].as_ref().map(|s| &s.config)),
        );
        let gate = Arc::new(Semaphore::new(options.parallel));
        let runnable: Vec<usize> = phase
            .iter()
            .copied()
            .filter(|&i| specs[i].is_some())
            .collect();
        let tasks = runnable.iter().filter_map(|&i| {
            let spec = specs[i].take()?;
            let gate = gate.clone();
            let announce = format!("[{}/{total}] Starting scenario: {}", i + 1, spec.label);
            let key = label_key(&spec.label);
            Some(spawn_scenario(&env, key, spec, async move {
                let permit = gate.acquire_owned().await;
                println!("{announce}");
                permit
            }))
        });
        let done = collect(futures_util::future::join_all(tasks).await);
        for (&i, outcome) in runnable.iter().zip(done) {
            outcomes[i] = Some(outcome);
        }
    }
    outcomes.into_iter().flatten().collect()
}

/// One run spec per scenario ([`scenario_spec`]); a scenario whose settings are invalid gets
/// no spec but an `Err` outcome instead.
fn scenario_specs(
    env: &RunEnv,
    stem: &str,
    config: &WorkloadConfig,
    scenarios: Vec<ChaosScenario>,
    options: &SweepOptions,
) -> (Vec<Option<RunSpec>>, Vec<Option<ScenarioOutcome>>) {
    let total = scenarios.len();
    let mut outcomes: Vec<Option<ScenarioOutcome>> = (0..total).map(|_| None).collect();
    let mut specs: Vec<Option<RunSpec>> = Vec::with_capacity(total);
    for (i, scenario) in scenarios.into_iter().enumerate() {
        let (label, seed) = (
            scenario.label.clone(),
            scenario_seed(env.seed, label_key(&scenario.label)),
        );
        match scenario_spec(env, stem, config, scenario, options.duration) {
            Ok(spec) => specs.push(Some(spec)),
            Err(e) => {
                outcomes[i] = Some(ScenarioOutcome {
                    label,
                    seed,
                    result: Err(e),
                });
                specs.push(None);
            }
        }
    }
    (specs, outcomes)
}

/// The run spec of `scenario` in the sweep named `stem`: `config` over `duration` with the
/// scenario's own settings, its history under the
/// environment's output directory, and its seed derived from the run seed and its label, so
/// it is the same whichever scenarios run beside it. `Err` when its settings are invalid.
pub fn scenario_spec(
    env: &RunEnv,
    stem: &str,
    config: &WorkloadConfig,
    scenario: ChaosScenario,
    duration: Duration,
) -> Result<RunSpec, String> {
    // At least one progress line per scenario every 30 s; more often for short runs.
    let progress = (duration / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let base = WorkloadConfig {
        duration,
        ..config.clone()
    };
    let workload = base
        .with_settings(&scenario.settings)
        .map_err(|e| format!("its settings are invalid: {e}"))?;
    Ok(RunSpec {
        label: scenario.label.clone(),
        config: workload,
        seed: scenario_seed(env.seed, label_key(&scenario.label)),
        history_path: history_path(&env.out_dir, stem, &scenario.label),
        progress_every: Some(progress),
        chaos: Some(scenario),
    })
}

/// Runs `spec` in its own task once `ready` resolves (holding what it yields, e.g. a semaphore
/// permit, until the run ends), its storage layer seeded by `key` (a position or a
/// [`label_key`]); a panic becomes an `Err` outcome.
fn spawn_scenario<G: Send + 'static>(
    env: &Arc<RunEnv>,
    key: u64,
    spec: RunSpec,
    ready: impl std::future::Future<Output = G> + Send + 'static,
) -> impl std::future::Future<Output = (String, u64, Result<ScenarioOutcome, tokio::task::JoinError>)>
{
    let env = env.clone();
    let (label, seed) = (spec.label.clone(), spec.seed);
    let task = tokio::spawn(async move {
        let _held = ready.await;
        ScenarioOutcome::run(&env, env.storage_layer(key), spec).await
    });
    async move { (label, seed, task.await) }
}

fn collect(
    joined: Vec<(String, u64, Result<ScenarioOutcome, tokio::task::JoinError>)>,
) -> Vec<ScenarioOutcome> {
    joined
        .into_iter()
        .map(|(label, seed, r)| match r {
            Ok(outcome) => outcome,
            Err(e) => ScenarioOutcome {
                label,
                seed,
                result: Err(panic_message(e)),
            },
        })
        .collect()
}

/// Runs `configs` without chaos, `batch` at a time, printing a progress line with an ETA after
/// each batch. Labels are [`WorkloadConfig::label`].
pub async fn run_config_sweep(
    env: Arc<RunEnv>,
    stem: &str,
    configs: Vec<WorkloadConfig>,
    batch: usize,
) -> Vec<ScenarioOutcome> {
    // The host's time: the ETA is of this machine's wall clock (the grid runs in real time).
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let total = configs.len();
    let batch = batch.max(1);
    let batches = total.div_ceil(batch);
    let mut outcomes = Vec::with_capacity(total);
    for (b, chunk) in configs.chunks(batch).enumerate() {
        env.warn_if_short_of_files(chunk);
        let tasks = chunk.iter().enumerate().map(|(j, config)| {
            let index = b * batch + j;
            let label = config.label();
            let history = history_path(&env.out_dir, stem, &label);
            let spec = RunSpec::builder(label, config.clone(), history)
                .seed(scenario_seed(env.seed, index as u64))
                .build();
            spawn_scenario(&env, index as u64, spec, async {})
        });
        outcomes.extend(collect(futures_util::future::join_all(tasks).await));
        let done = b + 1;
        #[allow(clippy::disallowed_methods)]
        let elapsed = started.elapsed().as_secs_f64();
        let per_batch = elapsed / done as f64;
        println!(
            "== batch {done}/{batches} done: {}/{total} configurations, elapsed {:.0}s, ETA {:.0}s",
            outcomes.len(),
            elapsed,
            per_batch * (batches - done) as f64
        );
    }
    outcomes
}
