//! What the `#[ignore]` entry points share: reading the environment once, running labelled
//! scenarios, and exporting every result file, so a failing scenario never discards the others.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, BackendError, BackendKind};
use crate::chaos::{NetworkChaos, S3LatencyProfile, StorageLayer};
use crate::checker::AnomalyClass;
use crate::config::{env_parse, ConfigError};
use crate::metrics::{MetricsSummary, TimelineBucket};
use crate::visualization::{self, export_summaries, export_timelines, sidecar_path};
use crate::workload::{run_workload, RunError, RunResult, RunSpec};

/// Why an entry point could not run.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// Bad environment.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Backend could not be used.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A run failed to produce results.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A result file could not be written.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The environment of one invocation: backend, output directory, seed, S3 latency profile.
pub struct RunEnv {
    /// Where manifests live.
    pub backend: Backend,
    /// Where result files go.
    pub out_dir: PathBuf,
    /// `CHAOS_SEED`, or a random seed (printed so the run can be repeated).
    pub seed: u64,
    /// Latency profile for the embedded backend (`none` on real S3).
    pub profile: S3LatencyProfile,
    /// `CHAOS_OP_TIMEOUT_MS`: bound on each client step (unset: none, like fusio).
    pub op_timeout: Option<Duration>,
}

impl RunEnv {
    /// Reads the environment and starts the backend. `default_profile` applies to the
    /// embedded backend when `FUSIO_CHAOS_S3_PROFILE` is unset; real S3 never gets added latency.
    pub async fn from_env(default_profile: S3LatencyProfile) -> Result<Self, HarnessError> {
        let seed = env_parse::<u64>("CHAOS_SEED")?.unwrap_or_else(rand::random);
        let profile = S3LatencyProfile::from_env(default_profile)?;
        crate::config::warn_unknown_vars();
        let op_timeout = op_timeout(env_parse::<u64>("CHAOS_OP_TIMEOUT_MS")?)?;
        let out_dir = visualization::output_dir()?;
        let backend = Backend::from_env().await?;
        let profile = match backend.kind() {
            BackendKind::Embedded => profile,
            BackendKind::S3 => S3LatencyProfile::None,
        };
        println!(
            "backend: {} | S3 latency profile: {} | CHAOS_SEED={seed} | output: {}",
            backend.describe(),
            profile.name(),
            out_dir.display()
        );
        Ok(Self {
            backend,
            out_dir,
            seed,
            profile,
            op_timeout,
        })
    }

    /// A fresh storage layer for one scenario, seeded from the run seed and `index`.
    pub fn storage_layer(&self, index: u64) -> Arc<StorageLayer> {
        Arc::new(StorageLayer::new(NetworkChaos::new(
            self.profile,
            self.seed
                .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        )))
    }
}

/// The client step bound from `CHAOS_OP_TIMEOUT_MS`; 0 is refused (every step would time out
/// at once).
pub fn op_timeout(ms: Option<u64>) -> Result<Option<Duration>, ConfigError> {
    match ms {
        Some(0) => Err(ConfigError::invalid(
            "CHAOS_OP_TIMEOUT_MS",
            "0",
            "must be at least 1 ms; unset it to let steps wait as long as fusio does",
        )),
        ms => Ok(ms.map(Duration::from_millis)),
    }
}

/// One scenario's result, or why it produced none.
pub struct ScenarioOutcome {
    /// Scenario label.
    pub label: String,
    /// The run's result, or the error / panic message.
    pub result: Result<RunResult, String>,
}

impl ScenarioOutcome {
    /// Runs `spec` and captures any error as a message.
    pub async fn run(env: &RunEnv, layer: Arc<StorageLayer>, spec: RunSpec) -> Self {
        let label = spec.label.clone();
        let result = run_workload(&env.backend, layer, spec)
            .await
            .map_err(|e| e.to_string());
        Self { label, result }
    }
}

/// Paths of the files one export wrote.
pub struct Exported {
    /// The 24-column CSV.
    pub csv: PathBuf,
    /// Per-second timelines.
    pub timeline: PathBuf,
    /// Isolation verdicts.
    pub verification: PathBuf,
    /// Chaos event log.
    pub events: PathBuf,
}

/// Writes `STEM.csv`, `STEM_timeline.csv` and `STEM_verification.csv` for every scenario that
/// produced results; prints each isolation report. Scenarios that failed are listed, not lost.
pub fn export_all(
    env: &RunEnv,
    stem: &str,
    outcomes: &[ScenarioOutcome],
) -> Result<Exported, HarnessError> {
    let ok: Vec<&RunResult> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .collect();
    let summaries: Vec<MetricsSummary> = ok.iter().map(|r| r.summary.clone()).collect();
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |source| HarnessError::Io { path, source }
    };
    let csv = env.out_dir.join(format!("{stem}.csv"));
    export_summaries(&csv, &summaries).map_err(io(&csv))?;
    let timeline = sidecar_path(&env.out_dir, stem, "timeline");
    let timelines: Vec<(&str, &[TimelineBucket])> = ok
        .iter()
        .map(|r| (r.summary.config_label.as_str(), r.timeline.as_slice()))
        .collect();
    export_timelines(&timeline, &timelines).map_err(io(&timeline))?;
    let verification = sidecar_path(&env.out_dir, stem, "verification");
    let rows: Vec<_> = ok
        .iter()
        .map(|r| {
            let mut row = r.check.verification_row(&r.summary.config_label);
            row.verdict = r.verdict().to_string();
            row
        })
        .collect();
    let mut verification_header = vec!["scenario", "ops_checked"];
    verification_header.extend(AnomalyClass::ALL.iter().map(|c| c.name()));
    verification_header.push("verdict");
    write_rows(&verification, &verification_header, &rows).map_err(io(&verification))?;
    let events = sidecar_path(&env.out_dir, stem, "events");
    let event_rows: Vec<EventRow> = ok
        .iter()
        .flat_map(|r| {
            r.events.iter().map(|e| EventRow {
                config_label: &r.summary.config_label,
                t_ms: e.t_ms,
                event: &e.event,
                detail: &e.detail,
            })
        })
        .collect();
    write_rows(
        &events,
        &["config_label", "t_ms", "event", "detail"],
        &event_rows,
    )
    .map_err(io(&events))?;
    for o in outcomes {
        match &o.result {
            Ok(r) if r.is_invalid() => print_invalid(&o.label, r),
            Ok(r) => {
                println!("\n=== Isolation verification: {} ===", o.label);
                r.check.print_console(&o.label);
            }
            Err(e) => println!("\n❌ scenario {} produced no results: {e}", o.label),
        }
    }
    println!(
        "\n✅ Results exported to {} ({} rows); sidecars {}, {}, {}",
        csv.display(),
        summaries.len(),
        timeline.display(),
        verification.display(),
        events.display()
    );
    Ok(Exported {
        csv,
        timeline,
        verification,
        events,
    })
}

/// Prints why a run is `INVALID` instead of its isolation verdict.
fn print_invalid(label: &str, r: &RunResult) {
    println!("\n=== Isolation verification: {label} ===");
    println!(
        "⛔ Verdict [{label}]: {} ({} panic(s) in the harness's tasks; its figures and its check ({} anomalies) say nothing about fusio-manifest)",
        crate::selfcheck::INVALID_VERDICT,
        r.harness_faults.len(),
        r.check.total_anomalies()
    );
    for f in r.harness_faults.iter().take(5) {
        println!("   {f}");
    }
}

/// One row of `STEM_events.csv`.
#[derive(serde::Serialize)]
struct EventRow<'a> {
    config_label: &'a str,
    t_ms: u64,
    event: &'a str,
    detail: &'a str,
}

/// Writes `rows` with `header`; an empty `rows` still gets the header.
fn write_rows<T: serde::Serialize>(
    path: &std::path::Path,
    header: &[&str],
    rows: &[T],
) -> std::io::Result<()> {
    if rows.is_empty() {
        return visualization::write_atomic(path, (header.join(",") + "\n").as_bytes());
    }
    visualization::write_csv(path, rows)
}

/// Panics (failing the test) if any scenario crashed, was invalid, or has isolation
/// anomalies. Call after
/// [`export_all`], so the results are on disk first.
pub fn assert_all_valid(outcomes: &[ScenarioOutcome]) {
    let mut problems = Vec::new();
    for o in outcomes {
        match &o.result {
            Err(e) => problems.push(format!("{}: crashed: {e}", o.label)),
            Ok(r) if r.is_invalid() => problems.push(format!(
                "{}: {}: {}",
                o.label,
                crate::selfcheck::INVALID_VERDICT,
                r.harness_faults.join("; ")
            )),
            Ok(r) if !r.check.is_valid() => problems.push(format!(
                "{}: isolation anomalies (see report above)",
                o.label
            )),
            Ok(_) => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::parse_scenarios;

    #[test]
    fn a_zero_step_timeout_and_an_empty_scenario_list_are_refused() {
        let zero = op_timeout(Some(0)).unwrap_err().to_string();
        assert!(zero.contains("CHAOS_OP_TIMEOUT_MS"), "{zero}");
        assert_eq!(
            op_timeout(Some(5)).ok(),
            Some(Some(Duration::from_millis(5)))
        );
        assert_eq!(op_timeout(None).ok(), Some(None));
        let empty = parse_scenarios(",").unwrap_err().to_string();
        assert!(empty.contains("CHAOS_SCENARIOS"), "{empty}");
        assert_eq!(
            parse_scenarios(" baseline, ,lease-expiry").ok(),
            Some(vec!["baseline".to_string(), "lease-expiry".to_string()])
        );
    }
}
