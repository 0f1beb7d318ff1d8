//! What the `#[ignore]` entry points share: one environment per invocation, running labelled
//! scenarios, and exporting every result file, so a failing scenario never discards the others.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::backend::{Backend, BackendError, BackendKind, RunStore, SimStoreMode};
use crate::chaos::{NetworkChaos, S3LatencyProfile, StorageLayer};
use crate::config::{ConfigError, Settings, WorkloadConfig};
use crate::open_files;
use crate::provenance::{EntryPoint, RunFacts, RunRecord, ScenarioRecord};
use crate::report;
use crate::utils::layer_seed;
use crate::visualization::{self, RunFiles};
use crate::workload::{run_workload, run_workload_in, RunError, RunResult, RunSpec};
use crate::world::{clock, TimeMode};

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

/// The environment of one invocation: settings, backend, output directory, seed, S3 latency
/// profile, and where it came from.
pub struct RunEnv {
    /// Everything read from the environment.
    pub settings: Settings,
    /// Where manifests live.
    pub backend: Backend,
    /// Where result files go.
    pub out_dir: PathBuf,
    /// `CHAOS_SEED`, or a random seed (printed and saved so the run can be repeated).
    pub seed: u64,
    /// Latency profile for the embedded backend (`none` on real S3).
    pub profile: S3LatencyProfile,
    /// `CHAOS_OP_TIMEOUT_MS`: bound on each client step (unset: none, like fusio).
    pub op_timeout: Option<Duration>,
    /// The entry point, for the `replay` line of provenance.
    pub entry: EntryPoint,
    /// When the invocation started.
    pub started_at: SystemTime,
    /// The open-file limit after raising it to the hard limit ([`open_files`]).
    pub open_files: Option<u64>,
    /// Real or simulated time (`CHAOS_TIME`, else the entry point's default).
    pub time: TimeMode,
}

impl RunEnv {
    /// Reads the environment once ([`Settings::from_env`]) and starts the backend.
    /// `default_profile` applies to the embedded backend when `FUSIO_CHAOS_S3_PROFILE` is
    /// unset; real S3 never gets added latency. `default_time` applies when `CHAOS_TIME` is
    /// unset; in simulated time no backend starts (every run has its own in-process store).
    pub async fn from_env(
        entry: EntryPoint,
        default_profile: S3LatencyProfile,
        default_time: TimeMode,
    ) -> Result<Self, HarnessError> {
        let settings = Settings::from_env()?;
        for warning in &settings.warnings {
            eprintln!("{warning}");
        }
        let out_dir = visualization::output_dir(settings.output_dir.clone()).map_err(|e| {
            ConfigError::invalid(
                "CHAOS_OUTPUT_DIR",
                &settings
                    .output_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
                format!("cannot create the directory: {e}"),
            )
        })?;
        let time = settings.time.unwrap_or(default_time);
        let backend = match time {
            TimeMode::Real => Backend::start(&settings.backend).await?,
            TimeMode::Simulated => Backend::simulated(),
        };
        let profile = match backend.kind() {
            BackendKind::Embedded | BackendKind::Simulated => {
                settings.s3_profile.unwrap_or(default_profile)
            }
            BackendKind::S3 => S3LatencyProfile::None,
        };
        // Unset: a seed drawn from the OS, printed and saved so the run can be repeated.
        #[allow(clippy::disallowed_methods)]
        let seed = settings.seed.unwrap_or_else(rand::random);
        let mut env = Self::new(backend, out_dir, seed, profile);
        env.op_timeout = settings.op_timeout;
        env.settings = settings;
        env.entry = entry;
        report::print_run_header(&env);
        Ok(env)
    }

    /// An environment with default settings (nothing read from the process): for tests. Its
    /// time is simulated on [`Backend::simulated`], real otherwise.
    pub fn new(backend: Backend, out_dir: PathBuf, seed: u64, profile: S3LatencyProfile) -> Self {
        let time = match backend.kind() {
            BackendKind::Simulated => TimeMode::Simulated,
            BackendKind::Embedded | BackendKind::S3 => TimeMode::Real,
        };
        Self {
            settings: Settings::default(),
            backend,
            out_dir,
            seed,
            profile,
            op_timeout: None,
            entry: EntryPoint {
                target: "unknown",
                test: "unknown",
            },
            started_at: clock::system_time(),
            open_files: open_files::raise_to_hard_limit(),
            time,
        }
    }

    /// Warns (naming the fixes) when runs of these workloads, started together, may need
    /// more file descriptors than the process may open.
    pub fn warn_if_short_of_files<'a>(
        &self,
        configs: impl IntoIterator<Item = &'a WorkloadConfig>,
    ) {
        let Some(limit) = self.open_files else {
            return;
        };
        let clients: Vec<usize> = configs
            .into_iter()
            .map(|c| c.num_writers + c.num_readers + c.pinned_readers)
            .collect();
        let own_server = self.backend.embedded_server().is_some();
        if let Some(warning) = open_files::shortfall(&clients, own_server, limit) {
            report::print_warning(&warning);
        }
    }

    /// A fresh storage layer for one scenario, seeded from the run seed and `index`, with the
    /// `CHAOS_FAULT_POINTS` of the settings armed.
    pub fn storage_layer(&self, index: u64) -> Arc<StorageLayer> {
        let chaos = NetworkChaos::new(self.profile, layer_seed(self.seed, index));
        chaos.set_fault_points(self.settings.fault_points.clone());
        let layer = StorageLayer::new(chaos);
        match self.backend.embedded_server() {
            Some(_) => Arc::new(layer.with_own_server()),
            None => Arc::new(layer),
        }
    }
}

/// One scenario's result, or why it produced none.
pub struct ScenarioOutcome {
    /// Scenario label.
    pub label: String,
    /// The seed its clients drew from.
    pub seed: u64,
    /// The run's result, or the error / panic message.
    pub result: Result<RunResult, String>,
}

impl ScenarioOutcome {
    /// Runs `spec` in the environment's time ([`RunEnv::time`]) and captures any error as a
    /// message. A simulated run gets a thread, a runtime and an in-process store of its own
    /// ([`crate::world::sim`]), seeded by the spec's seed; it refuses CPU chaos.
    pub async fn run(env: &RunEnv, layer: Arc<StorageLayer>, spec: RunSpec) -> Self {
        let label = spec.label.clone();
        let seed = spec.seed;
        let result = match env.time {
            TimeMode::Real => run_workload(&env.backend, layer, spec)
                .await
                .map_err(|e| e.to_string()),
            TimeMode::Simulated => run_simulated(env.settings.sim_store, layer, spec).await,
        };
        Self {
            label,
            seed,
            result,
        }
    }
}

/// Runs `spec` in a simulated world of its own, on a fresh in-process store answering as
/// `store`.
async fn run_simulated(
    store: SimStoreMode,
    layer: Arc<StorageLayer>,
    spec: RunSpec,
) -> Result<RunResult, String> {
    if spec.chaos.as_ref().is_some_and(|c| c.uses_cpu()) {
        return Err(
            "CPU chaos has no meaning in simulated time (virtual time stops while the host \
             computes); run this scenario with CHAOS_TIME=real"
                .into(),
        );
    }
    let (name, seed) = (spec.label.clone(), spec.seed);
    // The host's time, measured outside the simulation, for its speed only.
    #[allow(clippy::disallowed_methods)]
    let wall = std::time::Instant::now();
    let (result, simulated) = crate::world::sim::run(&name, seed, move || async move {
        let start = clock::now();
        let result = run_workload_in(&RunStore::simulated(store), layer, spec)
            .await
            .map_err(|e| e.to_string());
        (result, clock::since(start))
    })
    .await?;
    #[allow(clippy::disallowed_methods)]
    let wall = wall.elapsed();
    report::print_sim_speed(&name, simulated, wall);
    result
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
    /// Provenance.
    pub run_json: PathBuf,
}

/// Writes every result file of run `stem` (see [`visualization`]) for the scenarios that
/// produced results, then prints each isolation report. Scenarios that failed are listed,
/// not lost.
pub fn export_all(
    env: &RunEnv,
    stem: &str,
    outcomes: &[ScenarioOutcome],
) -> Result<Exported, HarnessError> {
    let files = RunFiles::new(&env.out_dir, stem);
    let record = RunRecord::new(
        &env.settings,
        RunFacts {
            stem,
            entry: env.entry,
            seed: env.seed,
            scenarios: outcomes
                .iter()
                .map(|o| ScenarioRecord {
                    label: o.label.clone(),
                    seed: o.seed,
                    digest: o.result.as_ref().ok().and_then(|r| r.replay.clone()),
                })
                .collect(),
            backend: env.backend.describe(),
            s3_profile: env.profile.name(),
            time: env.time,
            sim_store: (env.time == TimeMode::Simulated).then_some(env.settings.sim_store),
            started_at: env.started_at,
        },
    );
    let ok: Vec<&RunResult> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .collect();
    visualization::write_run(&files, &ok, &record)
        .map_err(|(path, source)| HarnessError::Io { path, source })?;
    report::print_verifications(outcomes);
    let exported = Exported {
        csv: files.csv(),
        timeline: files.sidecar("timeline"),
        verification: files.sidecar("verification"),
        events: files.sidecar("events"),
        run_json: files.run_json(),
    };
    report::print_exported(&exported, ok.len(), &files.folder());
    Ok(exported)
}

/// One line per scenario that crashed, was invalid, or did not pass its isolation check.
pub fn problems(outcomes: &[ScenarioOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|o| match &o.result {
            Err(e) => Some(format!("{}: crashed: {e}", o.label)),
            Ok(r) if r.is_invalid() => Some(format!(
                "{}: {}: {}",
                o.label,
                crate::selfcheck::INVALID_VERDICT,
                r.harness_faults.join("; ")
            )),
            Ok(r) if !r.check.is_valid() => {
                Some(format!("{}: {} (see report above)", o.label, r.verdict()))
            }
            Ok(_) => None,
        })
        .collect()
}
