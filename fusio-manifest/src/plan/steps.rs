//! Each step of the plan: the environment it reads, the scenarios or grid it sweeps, the files
//! it writes and what it prints.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::chaos::scenario::{FAULT_SWEEP_OP_TIMEOUT_MS, PLAN_DURATION};
use crate::chaos::{
    create_chaos_scenarios, create_coverage_scenarios, create_fault_scenarios, ChaosScenario,
    S3LatencyProfile,
};
use crate::config::WorkloadConfig;
use crate::console::{
    print_best_and_worst, print_coverage, print_liveness, print_retry_verdicts,
    print_success_criteria, print_summary_table,
};
use crate::plot::plot;
use crate::provenance::EntryPoint;
use crate::results::{history_path, write_json, RunFiles};
use crate::sweep::{
    comprehensive_grid, load_best_config, run_chaos_sweep, run_config_sweep, BestRow, SweepOptions,
};
use crate::verdicts::{judge, liveness};
use crate::workload::{export_all, problems, Exported, RunEnv, RunSpec, ScenarioOutcome};
use crate::world::TimeMode;

use super::Step;

/// How long each coverage scenario runs unless `CHAOS_DURATION_SECS` says otherwise: its
/// retention TTLs and pins are sized for it.
pub const COVERAGE_DURATION: Duration = Duration::from_secs(60);

/// How long each seed of the search runs unless `CHAOS_DURATION_SECS` says otherwise.
const SEARCH_DURATION: Duration = Duration::from_secs(60);

/// The built-in workload for `duration`, with every `CHAOS_*` override applied.
fn builtin_workload(env: &RunEnv, duration: Duration) -> Result<WorkloadConfig, String> {
    overridden(
        env,
        WorkloadConfig {
            duration,
            ..Default::default()
        },
    )
}

/// `base` (a step's own workload) with every `CHAOS_*` override applied and validated.
fn overridden(env: &RunEnv, base: WorkloadConfig) -> Result<WorkloadConfig, String> {
    env.settings.workload.apply(base).map_err(|e| e.to_string())
}

/// Reads the environment once for `step` and starts the backend; `time` applies unless
/// `CHAOS_TIME` says otherwise.
async fn run_env(step: Step, time: TimeMode) -> Result<RunEnv, String> {
    let entry = EntryPoint {
        target: "performance_test",
        test: step.entry_point(),
    };
    RunEnv::from_env(entry, S3LatencyProfile::S3Standard, time)
        .await
        .map_err(|e| e.to_string())
}

/// Options for a sweep of `scenarios` scenarios: one per core at once in simulated time, one
/// per 2 cores in real time ([`SweepOptions::host_aware`]).
fn sweep_options(env: &RunEnv, duration: Duration, scenarios: usize) -> SweepOptions {
    match env.time {
        TimeMode::Simulated => SweepOptions::simulated(&env.settings, duration, scenarios),
        TimeMode::Real => SweepOptions::host_aware(&env.settings, duration, scenarios),
    }
}

/// The built-in workload for 60 s (or `CHAOS_DURATION_SECS`), with every `CHAOS_*` override,
/// on the embedded backend with the `s3-standard` latency profile unless configured otherwise.
/// Writes `test_baseline.csv` and its sidecars.
pub(super) async fn baseline() -> Result<Vec<String>, String> {
    let env = run_env(Step::Baseline, TimeMode::Real).await?;
    let config = builtin_workload(&env, Duration::from_secs(60))?;
    println!(
        "=== Baseline: {} for {:?} ===",
        config.label(),
        config.duration
    );
    let history = history_path(&env.out_dir, "test_baseline", "baseline");
    let spec = RunSpec::builder("baseline", config, history)
        .seed(env.seed)
        .progress_every(Duration::from_secs(10))
        .build();
    let outcomes = vec![ScenarioOutcome::run(&env, env.storage_layer(0), spec).await];
    export_all(&env, "test_baseline", &outcomes).map_err(|e| e.to_string())?;
    Ok(problems(&outcomes))
}

/// The plan's main job: the best workload under the seven chaos scenarios, in parallel.
/// Loads the best configuration from `comprehensive_sweep.csv` (or the built-in one with
/// `CHAOS_CONFIG=default`), writes `chaos_sweep.csv`, its sidecars and `chaos_sweep.png`.
// The host's wall time of the whole sweep, printed at its end.
#[allow(clippy::disallowed_methods)]
pub(super) async fn chaos_sweep() -> Result<Vec<String>, String> {
    let env = Arc::new(run_env(Step::ChaosSweep, TimeMode::Real).await?);
    let scenarios = create_chaos_scenarios();
    let options = sweep_options(&env, PLAN_DURATION, scenarios.len());
    let mut scenarios = options.select(scenarios).map_err(|e| e.to_string())?;
    if env.time == TimeMode::Simulated {
        let (cpu, rest): (Vec<_>, Vec<_>) = scenarios.into_iter().partition(|s| s.uses_cpu());
        for s in cpu {
            println!(
                "skipped {}: CPU chaos has no meaning in simulated time (CHAOS_TIME=real runs it)",
                s.label
            );
        }
        scenarios = rest;
    }
    let config = chaos_config(&env, options.duration)?;
    println!(
        "\n=== Running Chaos Sweep ({} scenarios, {} at a time, {:?} each) ===",
        scenarios.len(),
        options.parallel,
        options.duration
    );
    println!("workload: {}", config.label());
    if options.parallel > 1 && !options.isolate_cpu && scenarios.iter().any(|s| s.uses_cpu()) {
        println!(
            "note: CPU chaos is process wide: with CHAOS_PARALLEL={} its burners also load every \
             other scenario running beside it (CHAOS_PARALLEL=auto runs CPU scenarios alone)",
            options.parallel
        );
    }
    let started = std::time::Instant::now();
    let (outcomes, exported) =
        sweep_and_export(&env, "chaos_sweep", &config, scenarios, &options).await?;
    print_summary_table("Chaos Sweep Results Summary", &outcomes);
    let png = plot(&exported.csv, &["--chaos"]);
    let verdicts = judge(&outcomes, true, png.is_some());
    save_verdicts(&env, "chaos_sweep", &verdicts)?;
    print_retry_verdicts(&verdicts);
    print_success_criteria(&verdicts);
    println!(
        "\nwall time {:.1}s for {:?} per scenario",
        started.elapsed().as_secs_f64(),
        options.duration
    );
    Ok(problems(&outcomes))
}

/// The workload for the chaos sweep: best row of `comprehensive_sweep.csv`, or the built-in
/// default with `CHAOS_CONFIG=default`; `CHAOS_*` overrides apply on top.
fn chaos_config(env: &RunEnv, duration: Duration) -> Result<WorkloadConfig, String> {
    let base = WorkloadConfig {
        duration,
        ..Default::default()
    };
    let config = match env.settings.builtin_config {
        true => {
            println!("config: built-in default (CHAOS_CONFIG=default)");
            base
        }
        false => {
            let path = env.out_dir.join("comprehensive_sweep.csv");
            let best = load_best_config(&path).map_err(|e| e.to_string())?;
            println!(
                "config: best row of {} ({}){}",
                path.display(),
                best.choice.row.config_label,
                if best.choice.meets_bound {
                    ""
                } else {
                    " - no row had precondition_failure_rate <= 20%, so the lowest was taken"
                }
            );
            print_best_host(&best.choice);
            let carried = best.workload.differences_from(&base);
            println!(
                "its workload, as the comprehensive sweep ran it (its run record), beyond the \
                 built-in one: {}",
                if carried.is_empty() {
                    "nothing".to_string()
                } else {
                    crate::utils::settings_line(carried)
                }
            );
            best.workload
        }
    };
    let mut config = overridden(env, config)?;
    config.duration = duration;
    Ok(config)
}

/// Says what host health left out of the choice of the best row.
fn print_best_host(best: &BestRow) {
    if !best.host_checked {
        println!(
            "note: no host sidecar beside the CSV, so its rows were not checked for HOST-SATURATED"
        );
    } else if best.saturated {
        println!(
            "warning: every row of the comprehensive sweep was HOST-SATURATED, so the chosen \
             one describes the machine; re-run it with fewer at a time (CHAOS_PARALLEL)"
        );
    } else if best.saturated_skipped > 0 {
        println!(
            "{} HOST-SATURATED rows were not considered",
            best.saturated_skipped
        );
    }
}

/// 96 configurations over the plan's ranges, at most 8 at a time ([`SweepOptions::grid`]
/// sizes the batches and each run's duration from the cores and `CHAOS_DURATION_SECS` /
/// `CHAOS_PARALLEL`). Writes `comprehensive_sweep.csv` and prints the top 5 best and worst
/// among rows whose host was not saturated.
pub(super) async fn comprehensive_sweep() -> Result<Vec<String>, String> {
    let env = Arc::new(run_env(Step::ComprehensiveSweep, TimeMode::Real).await?);
    let base = overridden(&env, WorkloadConfig::default())?;
    let mut configs = comprehensive_grid(&base);
    let options = SweepOptions::grid(&env.settings, configs.len(), 8);
    configs
        .iter_mut()
        .for_each(|c| c.duration = options.duration);
    println!(
        "\n=== Comprehensive sweep: {} configurations, {:?} each, {} at a time ===",
        configs.len(),
        options.duration,
        options.parallel
    );
    let outcomes = run_config_sweep(
        env.clone(),
        "comprehensive_sweep",
        configs,
        options.parallel,
    )
    .await;
    let exported = export_all(&env, "comprehensive_sweep", &outcomes).map_err(|e| e.to_string())?;
    print_best_and_worst(&outcomes);
    plot(&exported.csv, &[]);
    Ok(problems(&outcomes))
}

/// Beyond the plan: S3-level faults (transient errors, ambiguous successes, stalls, refused
/// blocks, lease expiry) in parallel, like the chaos sweep and with the same options. Client
/// steps time out after [`FAULT_SWEEP_OP_TIMEOUT_MS`] unless `CHAOS_OP_TIMEOUT_MS` says
/// otherwise. Writes `fault_sweep.csv`, its
/// sidecars and `fault_sweep.png`, and prints the liveness report.
pub(super) async fn fault_sweep() -> Result<Vec<String>, String> {
    let env = Arc::new(run_env(Step::FaultSweep, TimeMode::Simulated).await?);
    let scenarios = create_fault_scenarios();
    let options = sweep_options(&env, PLAN_DURATION, scenarios.len());
    let scenarios = options.select(scenarios).map_err(|e| e.to_string())?;
    let base = WorkloadConfig {
        duration: options.duration,
        op_timeout_ms: FAULT_SWEEP_OP_TIMEOUT_MS,
        ..Default::default()
    };
    let config = overridden(&env, base)?;
    println!(
        "\n=== Running Fault Sweep ({} scenarios, {} at a time, {:?} each, client step timeout {:?}) ===",
        scenarios.len(),
        options.parallel,
        options.duration,
        config.op_timeout()
    );
    let (outcomes, exported) =
        sweep_and_export(&env, "fault_sweep", &config, scenarios.clone(), &options).await?;
    print_summary_table("Fault Sweep Results Summary", &outcomes);
    let live = liveness(&outcomes, &scenarios, options.duration);
    save_verdicts(
        &env,
        "fault_sweep",
        &serde_json::json!({ "liveness": live }),
    )?;
    print_liveness(&live);
    plot(&exported.csv, &["--chaos"]);
    Ok(problems(&outcomes))
}

/// Beyond the plan: the other half of fusio-manifest (compaction and GC under writes, pinned
/// readers against GC, two compactors, clock skew, writer crashes, faults on compaction
/// objects), each scenario turning its actors on with its own `CHAOS_*` settings over the
/// built-in workload, sized for [`COVERAGE_DURATION`] (`CHAOS_DURATION_SECS` overrides).
/// Writes `coverage_sweep.csv`, its sidecars and `coverage_sweep.png`; its problems are also
/// the runs that did not show the actor they name.
pub(super) async fn coverage_sweep() -> Result<Vec<String>, String> {
    let env = Arc::new(run_env(Step::CoverageSweep, TimeMode::Simulated).await?);
    let coverage = create_coverage_scenarios();
    let scenarios: Vec<_> = coverage.iter().map(|c| c.scenario.clone()).collect();
    let options = sweep_options(&env, COVERAGE_DURATION, scenarios.len());
    let scenarios = options.select(scenarios).map_err(|e| e.to_string())?;
    let coverage: Vec<_> = coverage
        .into_iter()
        .filter(|c| scenarios.iter().any(|s| s.label == c.scenario.label))
        .collect();
    let config = builtin_workload(&env, options.duration)?;
    println!(
        "\n=== Running Coverage Sweep ({} scenarios, {} at a time, {:?} each) ===",
        scenarios.len(),
        options.parallel,
        options.duration
    );
    let (outcomes, exported) =
        sweep_and_export(&env, "coverage_sweep", &config, scenarios, &options).await?;
    print_summary_table("Coverage Sweep Results Summary", &outcomes);
    let mut found = print_coverage(&outcomes, &coverage);
    plot(&exported.csv, &["--chaos"]);
    found.splice(0..0, problems(&outcomes));
    Ok(found)
}

/// The seed search (`seed_search/search.json`, `search.md`, shrunk repros): random schedules
/// in simulated time, grouped by signature (see [`crate::search`]). Its findings are its
/// report, not problems of the step.
pub(super) async fn seed_search() -> Result<Vec<String>, String> {
    let env = run_env(Step::SeedSearch, TimeMode::Simulated).await?;
    let duration = builtin_workload(&env, SEARCH_DURATION)?.duration;
    crate::search::run(&env.settings, duration, &env.out_dir).await?;
    Ok(Vec::new())
}

/// Saves the sweep `stem`'s verdicts in `STEM/STEM_verdicts.json` (the error names the file).
fn save_verdicts(env: &RunEnv, stem: &str, verdicts: &impl Serialize) -> Result<(), String> {
    let path = RunFiles::new(&env.out_dir, stem).verdicts();
    write_json(&path, verdicts).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs `scenarios` on `config` as the sweep named `stem` and writes its result files (CSV,
/// sidecars, histories) before anything else is printed.
async fn sweep_and_export(
    env: &Arc<RunEnv>,
    stem: &str,
    config: &WorkloadConfig,
    scenarios: Vec<ChaosScenario>,
    options: &SweepOptions,
) -> Result<(Vec<ScenarioOutcome>, Exported), String> {
    let outcomes = run_chaos_sweep(env.clone(), stem, config, scenarios, options).await;
    let exported = export_all(env, stem, &outcomes).map_err(|e| e.to_string())?;
    Ok((outcomes, exported))
}
