//! Entry points users run (all `#[ignore]`; run them in `--release`).
//!
//! `test_plan` runs the whole plan in order, one step at a time: the comprehensive sweep, the
//! chaos sweep on its best row, the baseline, then in simulated time the fault sweep and the
//! coverage sweep. It is
//! what the plain `cargo test -- --ignored --nocapture` runs; each step also runs alone when
//! named:
//!
//! ```text
//! cargo test --release -- --ignored --nocapture      # the whole plan
//! CHAOS_CONFIG=default cargo test --release -p fusio-manifest-chaos --test performance_test test_chaos_sweep -- --ignored --nocapture
//! cargo test --release -p fusio-manifest-chaos --test performance_test test_comprehensive_sweep -- --ignored --nocapture
//! cargo test --release -p fusio-manifest-chaos --test performance_test test_fault_sweep -- --ignored --nocapture
//! cargo test --release -p fusio-manifest-chaos --test performance_test test_coverage_sweep -- --ignored --nocapture
//! cargo test --release -p fusio-manifest-chaos --test performance_test test_baseline -- --ignored --nocapture
//! cargo test --release -p fusio-manifest-chaos --test performance_test test_seed_search -- --ignored --nocapture
//! ```

// The entry points report the host's wall time of whole steps.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use fusio_manifest_chaos::chaos::scenario::{FAULT_SWEEP_OP_TIMEOUT, PLAN_DURATION};
use fusio_manifest_chaos::chaos::{
    create_chaos_scenarios, create_coverage_scenarios, create_fault_scenarios, ChaosScenario,
    S3LatencyProfile,
};
use fusio_manifest_chaos::config::WorkloadConfig;
use fusio_manifest_chaos::manifest::ManifestOptions;
use fusio_manifest_chaos::provenance::EntryPoint;
use fusio_manifest_chaos::report::{
    print_best_and_worst, print_coverage, print_liveness, print_retry_verdicts,
    print_success_criteria, print_summary_table,
};
use fusio_manifest_chaos::runner::{
    assert_all_valid, export_all, problems, Exported, RunEnv, ScenarioOutcome,
};
use fusio_manifest_chaos::sweep::{
    comprehensive_grid, load_best_config, run_chaos_sweep, run_config_sweep, BestConfig,
    SweepOptions,
};
use fusio_manifest_chaos::visualization::{history_path, plot};
use fusio_manifest_chaos::workload::RunSpec;
use fusio_manifest_chaos::world::TimeMode;

/// Fails the test with the error's own message (it names the variable or file to fix).
fn or_exit<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// The built-in workload for `duration`, with every `CHAOS_*` override applied.
fn builtin_workload(env: &RunEnv, duration: Duration) -> WorkloadConfig {
    or_exit(env.settings.workload.apply(WorkloadConfig {
        duration,
        ..Default::default()
    }))
}

/// Reads the environment once for entry point `test` and starts the backend; `time` applies
/// unless `CHAOS_TIME` says otherwise.
async fn run_env(test: &'static str, time: TimeMode) -> RunEnv {
    let entry = EntryPoint {
        target: "performance_test",
        test,
    };
    or_exit(RunEnv::from_env(entry, S3LatencyProfile::S3Standard, time).await)
}

/// Options for a sweep of `scenarios` scenarios: one per core at once in simulated time, one
/// per 2 cores in real time ([`SweepOptions::host_aware`]).
fn sweep_options(env: &RunEnv, duration: Duration, scenarios: usize) -> SweepOptions {
    match env.time {
        TimeMode::Simulated => SweepOptions::simulated(&env.settings, duration, scenarios),
        TimeMode::Real => SweepOptions::host_aware(&env.settings, duration, scenarios),
    }
}

/// Whether this process was asked for `test` by name (a libtest filter argument). A step runs
/// alone only when named; otherwise `test_plan` runs it in its turn, so the plain
/// `cargo test -- --ignored` never runs two measurements at once.
fn named(test: &str) -> bool {
    std::env::args().skip(1).any(|a| a == test)
}

/// Runs one step alone when it was named, else says that `test_plan` runs it.
macro_rules! step_alone {
    ($test:ident, $step:ident, $doc:literal) => {
        #[doc = $doc]
        #[tokio::test(flavor = "multi_thread")]
        #[ignore = "performance run; use --release -- --ignored"]
        async fn $test() {
            if !named(stringify!($test)) {
                println!(
                    "{}: part of test_plan; name it to run it alone",
                    stringify!($test)
                );
                return;
            }
            assert_all_valid(&$step().await);
        }
    };
}

step_alone!(
    test_comprehensive_sweep,
    comprehensive_sweep,
    "The comprehensive sweep alone (`comprehensive_sweep.csv`)."
);
step_alone!(
    test_chaos_sweep,
    chaos_sweep,
    "The plan's main job alone (`chaos_sweep.csv`, `chaos_sweep.png`)."
);
step_alone!(
    test_fault_sweep,
    fault_sweep,
    "The fault sweep alone (`fault_sweep.csv`)."
);
step_alone!(
    test_baseline,
    baseline,
    "One workload without chaos (`test_baseline.csv`)."
);

/// The coverage sweep alone (`coverage_sweep.csv`): fails if a scenario crashed, was invalid,
/// did not PASS, or did not show the actor it names.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "performance run; use --release -- --ignored"]
async fn test_coverage_sweep() {
    if !named("test_coverage_sweep") {
        println!("test_coverage_sweep: part of test_plan; name it to run it alone");
        return;
    }
    let found = coverage_sweep().await;
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The seed search (`seed_search/search.json`, `search.md`, shrunk repros): random schedules
/// in simulated time, grouped by signature (see `search` and README). Not part of
/// `test_plan`; runs only when named.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a search over many seeds; use --release -- --ignored"]
async fn test_seed_search() {
    if !named("test_seed_search") {
        println!("test_seed_search: not part of test_plan; name it to run it");
        return;
    }
    let env = run_env("test_seed_search", TimeMode::Simulated).await;
    let duration = builtin_workload(&env, Duration::from_secs(60)).duration;
    or_exit(fusio_manifest_chaos::search::run(&env.settings, duration, &env.out_dir).await);
}

/// The whole plan, in order and one step at a time: the real-time steps first (the
/// comprehensive sweep, the chaos sweep on its best row, so it never starts before the file it
/// reads exists, and the baseline), then the simulated ones (the fault and coverage sweeps):
/// once a runtime of the process has paused its clock, tokio reads every clock through a lock,
/// which real-time figures should not pay. Every step's files are written before the next
/// starts; the test fails at the end if any step had a scenario that crashed or did not PASS
/// (the fault sweep's findings do).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "the whole plan; use --release -- --ignored"]
async fn test_plan() {
    let started = Instant::now();
    let mut found = Vec::new();
    println!("\n##### plan 1/5: comprehensive sweep #####");
    found.extend(problems(&comprehensive_sweep().await));
    println!("\n##### plan 2/5: chaos sweep #####");
    found.extend(problems(&chaos_sweep().await));
    println!("\n##### plan 3/5: baseline #####");
    found.extend(problems(&baseline().await));
    println!("\n##### plan 4/5: fault sweep (simulated time) #####");
    found.extend(problems(&fault_sweep().await));
    println!("\n##### plan 5/5: coverage sweep (simulated time) #####");
    found.extend(coverage_sweep().await);
    println!(
        "\n##### plan done in {:.0} s #####",
        started.elapsed().as_secs_f64()
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The built-in workload for 60 s (or `CHAOS_DURATION_SECS`), with every `CHAOS_*` override,
/// on the embedded backend with the `s3-standard` latency profile unless configured otherwise.
/// Writes `test_baseline.csv` and its sidecars.
async fn baseline() -> Vec<ScenarioOutcome> {
    let env = run_env("test_baseline", TimeMode::Real).await;
    let config = builtin_workload(&env, Duration::from_secs(60));
    println!(
        "=== Baseline: {} for {:?} ===",
        config.label(),
        config.duration
    );
    let spec = RunSpec {
        label: "baseline".into(),
        config,
        seed: env.seed,
        history_path: history_path(&env.out_dir, "test_baseline", "baseline"),
        manifest: ManifestOptions::default(),
        progress_every: Some(Duration::from_secs(10)),
        chaos: None,
        op_timeout: env.op_timeout,
    };
    let outcomes = vec![ScenarioOutcome::run(&env, env.storage_layer(0), spec).await];
    or_exit(export_all(&env, "test_baseline", &outcomes));
    outcomes
}

/// The plan's main job: the best workload under the seven chaos scenarios, in parallel.
/// Loads the best configuration from `comprehensive_sweep.csv` (or the built-in one with
/// `CHAOS_CONFIG=default`), writes `chaos_sweep.csv`, its sidecars and `chaos_sweep.png`.
async fn chaos_sweep() -> Vec<ScenarioOutcome> {
    let env = Arc::new(run_env("test_chaos_sweep", TimeMode::Real).await);
    let scenarios = create_chaos_scenarios();
    let options = sweep_options(&env, PLAN_DURATION, scenarios.len());
    let mut scenarios = or_exit(options.select(scenarios));
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
    let config = or_exit(chaos_config(&env, options.duration));
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
        sweep_and_export(&env, "chaos_sweep", &config, scenarios, &options).await;
    print_summary_table("Chaos Sweep Results Summary", &outcomes);
    print_retry_verdicts(&outcomes);
    let png = plot(&exported.csv, &["--chaos"]);
    print_success_criteria(&outcomes, true, png.is_some());
    println!(
        "\nwall time {:.1}s for {:?} per scenario",
        started.elapsed().as_secs_f64(),
        options.duration
    );
    outcomes
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
                best.row.config_label,
                if best.meets_bound {
                    ""
                } else {
                    " - no row had precondition_failure_rate <= 20%, so the lowest was taken"
                }
            );
            print_best_host(&best);
            best.workload(&base)
        }
    };
    let mut config = env
        .settings
        .workload
        .apply(config)
        .map_err(|e| e.to_string())?;
    config.duration = duration;
    Ok(config)
}

/// Says what host health left out of the choice of the best row.
fn print_best_host(best: &BestConfig) {
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

/// 96 configurations over the plan's ranges. `CHAOS_PARALLEL=auto` (the default) runs one at a
/// time per 2 cores (at most 8), each for the plan's ~20 min budget over its batches (12 s on 2
/// cores, 60 s from 16 cores; `CHAOS_DURATION_SECS` and `CHAOS_PARALLEL` override). Writes
/// `comprehensive_sweep.csv` and prints the top 5 best and worst among rows whose host was not
/// saturated.
async fn comprehensive_sweep() -> Vec<ScenarioOutcome> {
    let env = Arc::new(run_env("test_comprehensive_sweep", TimeMode::Real).await);
    let base = or_exit(env.settings.workload.apply(WorkloadConfig::default()));
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
    let exported = or_exit(export_all(&env, "comprehensive_sweep", &outcomes));
    print_best_and_worst(&outcomes);
    plot(&exported.csv, &[]);
    outcomes
}

/// Beyond the plan: S3-level faults (transient errors, ambiguous successes, stalls, refused
/// blocks, lease expiry) in parallel, like the chaos sweep and with the same options. Client
/// steps time out after `CHAOS_OP_TIMEOUT_MS` (default 2000). Writes `fault_sweep.csv`, its
/// sidecars and `fault_sweep.png`, and prints the liveness report.
async fn fault_sweep() -> Vec<ScenarioOutcome> {
    let mut env = run_env("test_fault_sweep", TimeMode::Simulated).await;
    env.op_timeout = env.op_timeout.or(Some(FAULT_SWEEP_OP_TIMEOUT));
    let env = Arc::new(env);
    let scenarios = create_fault_scenarios();
    let options = sweep_options(&env, PLAN_DURATION, scenarios.len());
    let scenarios = or_exit(options.select(scenarios));
    let config = builtin_workload(&env, options.duration);
    println!(
        "\n=== Running Fault Sweep ({} scenarios, {} at a time, {:?} each, client step timeout {:?}) ===",
        scenarios.len(),
        options.parallel,
        options.duration,
        env.op_timeout
    );
    let (outcomes, exported) =
        sweep_and_export(&env, "fault_sweep", &config, scenarios.clone(), &options).await;
    print_summary_table("Fault Sweep Results Summary", &outcomes);
    print_liveness(&outcomes, &scenarios, options.duration);
    plot(&exported.csv, &["--chaos"]);
    outcomes
}

/// Beyond the plan: the other half of fusio-manifest (compaction and GC under writes, pinned
/// readers against GC, two compactors, clock skew, writer crashes, faults on compaction
/// objects), each scenario turning its actors on with its own `CHAOS_*` settings over the
/// built-in workload, sized for [`COVERAGE_DURATION`] (`CHAOS_DURATION_SECS` overrides), one
/// per 2 cores at once. Writes `coverage_sweep.csv`, its sidecars and `coverage_sweep.png`;
/// returns every problem: crashed, invalid or failing runs, and runs that did not show the
/// actor they name.
async fn coverage_sweep() -> Vec<String> {
    let env = Arc::new(run_env("test_coverage_sweep", TimeMode::Simulated).await);
    let coverage = create_coverage_scenarios();
    let scenarios: Vec<_> = coverage.iter().map(|c| c.scenario.clone()).collect();
    let options = sweep_options(&env, COVERAGE_DURATION, scenarios.len());
    let scenarios = or_exit(options.select(scenarios));
    let coverage: Vec<_> = coverage
        .into_iter()
        .filter(|c| scenarios.iter().any(|s| s.label == c.scenario.label))
        .collect();
    let config = builtin_workload(&env, options.duration);
    println!(
        "\n=== Running Coverage Sweep ({} scenarios, {} at a time, {:?} each) ===",
        scenarios.len(),
        options.parallel,
        options.duration
    );
    let (outcomes, exported) =
        sweep_and_export(&env, "coverage_sweep", &config, scenarios, &options).await;
    print_summary_table("Coverage Sweep Results Summary", &outcomes);
    let mut found = print_coverage(&outcomes, &coverage);
    plot(&exported.csv, &["--chaos"]);
    found.splice(0..0, problems(&outcomes));
    found
}

/// How long each coverage scenario runs unless `CHAOS_DURATION_SECS` says otherwise: its
/// retention TTLs and pins are sized for it.
const COVERAGE_DURATION: Duration = Duration::from_secs(60);

/// Runs `scenarios` on `config` as the sweep named `stem` and writes its result files (CSV,
/// sidecars, histories) before anything else is printed.
async fn sweep_and_export(
    env: &Arc<RunEnv>,
    stem: &str,
    config: &WorkloadConfig,
    scenarios: Vec<ChaosScenario>,
    options: &SweepOptions,
) -> (Vec<ScenarioOutcome>, Exported) {
    let outcomes = run_chaos_sweep(
        env.clone(),
        stem,
        config,
        scenarios,
        options,
        ManifestOptions::default(),
    )
    .await;
    let exported = or_exit(export_all(env, stem, &outcomes));
    (outcomes, exported)
}
