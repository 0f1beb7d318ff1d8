//! Running many scenarios at once: the chaos sweep (one workload under each chaos scenario,
//! in parallel) and the comprehensive sweep (many workloads without chaos, in batches).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::chaos::ChaosScenario;
use crate::config::{env_duration_secs, env_flag, env_parse, env_var, ConfigError, WorkloadConfig};
use crate::manifest::ManifestOptions;
use crate::runner::{RunEnv, ScenarioOutcome};
use crate::visualization::history_path;
use crate::workload::RunSpec;

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
    /// Reads `CHAOS_DURATION_SECS` (default `duration`), `CHAOS_PARALLEL` (default
    /// `parallel`), `CHAOS_SEQUENTIAL=1` (parallel = 1) and `CHAOS_SCENARIOS=a,b`.
    pub fn from_env(duration: Duration, parallel: usize) -> Result<Self, ConfigError> {
        let duration = env_duration_secs("CHAOS_DURATION_SECS")?.unwrap_or(duration);
        if duration.is_zero() {
            return Err(ConfigError::invalid(
                "CHAOS_DURATION_SECS",
                "0",
                "must be more than 0 seconds",
            ));
        }
        let mut parallel = env_parse::<usize>("CHAOS_PARALLEL")?.unwrap_or(parallel);
        if parallel == 0 {
            return Err(ConfigError::invalid(
                "CHAOS_PARALLEL",
                "0",
                "must be at least 1",
            ));
        }
        if env_flag("CHAOS_SEQUENTIAL")? {
            parallel = 1;
        }
        let only = env_var("CHAOS_SCENARIOS")?
            .map(|v| parse_scenarios(&v))
            .transpose()?;
        Ok(Self {
            duration,
            parallel,
            only,
        })
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

/// The labels of a `CHAOS_SCENARIOS` value (`a,b`); one that names none (`,`) is refused
/// rather than running an empty sweep that passes.
pub fn parse_scenarios(value: &str) -> Result<Vec<String>, ConfigError> {
    let labels: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if labels.is_empty() {
        return Err(ConfigError::invalid(
            "CHAOS_SCENARIOS",
            value,
            "names no scenario; give comma-separated labels, or unset it to run them all",
        ));
    }
    Ok(labels)
}

/// Runs every scenario of `scenarios` (filter with [`SweepOptions::select`] first) against its
/// own prefix with `tokio::spawn`, at most
/// `options.parallel` at once, joined with `join_all`. Results come back in scenario order;
/// a scenario that errors or panics yields an `Err` outcome and does not affect the others.
pub async fn run_chaos_sweep(
    env: Arc<RunEnv>,
    stem: &str,
    config: &WorkloadConfig,
    scenarios: Vec<ChaosScenario>,
    options: &SweepOptions,
    manifest: ManifestOptions,
) -> Vec<ScenarioOutcome> {
    let gate = Arc::new(Semaphore::new(options.parallel));
    let total = scenarios.len();
    let labels: Vec<String> = scenarios.iter().map(|s| s.label.clone()).collect();
    // At least one progress line per scenario every 30 s; more often for short runs.
    let progress = (options.duration / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let tasks = scenarios.into_iter().enumerate().map(|(i, scenario)| {
        let env = env.clone();
        let gate = gate.clone();
        let config = WorkloadConfig {
            duration: options.duration,
            ..config.clone()
        };
        let history = history_path(&env.out_dir, stem, &scenario.label);
        let manifest = ManifestOptions {
            lease_ttl: scenario.lease_ttl.or(manifest.lease_ttl),
            lapse_leases: scenario.lapse_leases || manifest.lapse_leases,
        };
        tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            println!("[{}/{total}] Starting scenario: {}", i + 1, scenario.label);
            let spec = RunSpec {
                label: scenario.label.clone(),
                config,
                seed: env.seed.wrapping_add(i as u64),
                history_path: history,
                manifest,
                progress_every: Some(progress),
                chaos: Some(scenario),
                op_timeout: env.op_timeout,
            };
            ScenarioOutcome::run(&env, env.storage_layer(i as u64), spec).await
        })
    });
    let joined = futures_util::future::join_all(tasks).await;
    joined
        .into_iter()
        .zip(labels)
        .map(|(r, label)| match r {
            Ok(outcome) => outcome,
            Err(e) => ScenarioOutcome {
                label,
                result: Err(panic_message(e)),
            },
        })
        .collect()
}

fn panic_message(e: tokio::task::JoinError) -> String {
    if e.is_panic() {
        let p = e.into_panic();
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        format!("panicked: {msg}")
    } else {
        format!("cancelled: {e}")
    }
}

/// Runs `configs` without chaos, `batch` at a time, printing a progress line with an ETA after
/// each batch. Labels are [`WorkloadConfig::label`].
pub async fn run_config_sweep(
    env: Arc<RunEnv>,
    stem: &str,
    configs: Vec<WorkloadConfig>,
    batch: usize,
) -> Vec<ScenarioOutcome> {
    let started = Instant::now();
    let total = configs.len();
    let batches = total.div_ceil(batch.max(1));
    let mut outcomes = Vec::with_capacity(total);
    for (b, chunk) in configs.chunks(batch.max(1)).enumerate() {
        let tasks = chunk.iter().enumerate().map(|(j, config)| {
            let index = b * batch + j;
            let env = env.clone();
            let config = config.clone();
            let label = config.label();
            let history = history_path(&env.out_dir, stem, &label);
            tokio::spawn(async move {
                let spec = RunSpec {
                    label,
                    config,
                    seed: env.seed.wrapping_add(index as u64),
                    history_path: history,
                    manifest: ManifestOptions::default(),
                    progress_every: None,
                    chaos: None,
                    op_timeout: env.op_timeout,
                };
                ScenarioOutcome::run(&env, env.storage_layer(index as u64), spec).await
            })
        });
        let labels: Vec<String> = chunk.iter().map(WorkloadConfig::label).collect();
        for (r, label) in futures_util::future::join_all(tasks)
            .await
            .into_iter()
            .zip(labels)
        {
            outcomes.push(match r {
                Ok(o) => o,
                Err(e) => ScenarioOutcome {
                    label,
                    result: Err(panic_message(e)),
                },
            });
        }
        let done = b + 1;
        let per_batch = started.elapsed().as_secs_f64() / done as f64;
        let eta = per_batch * (batches - done) as f64;
        println!(
            "== batch {done}/{batches} done: {}/{total} configurations, elapsed {:.0}s, ETA {:.0}s",
            outcomes.len(),
            started.elapsed().as_secs_f64(),
            eta
        );
    }
    outcomes
}

/// Runs `python3 plot_results.py CSV ARGS...` from the workspace root. Returns the PNG path when
/// the script succeeded; otherwise prints why and the command to run by hand.
pub fn plot(csv: &Path, args: &[&str]) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .to_path_buf();
    let script = root.join("plot_results.py");
    let mut command = std::process::Command::new("python3");
    command.arg(&script).arg(csv).args(args).current_dir(&root);
    let manual = format!(
        "python3 {} {} {}",
        script.display(),
        csv.display(),
        args.join(" ")
    );
    match command.output() {
        Ok(out) if out.status.success() => {
            print!("{}", String::from_utf8_lossy(&out.stdout));
            Some(csv.with_extension("png"))
        }
        Ok(out) => {
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            println!("⚠️ plotting failed; after fixing the above run: {manual}");
            None
        }
        Err(e) => {
            println!("⚠️ cannot run python3 ({e}); to plot, run: {manual}");
            None
        }
    }
}
