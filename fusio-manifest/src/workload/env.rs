//! [`RunEnv`]: the environment of one invocation of an entry point, and [`HarnessError`],
//! why an entry point could not run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::open_files;
use crate::backend::{Backend, BackendError, BackendKind};
use crate::chaos::{NetworkChaos, S3LatencyProfile, StorageLayer};
use crate::config::{ConfigError, Settings, WorkloadConfig};
use crate::console;
use crate::outcome::RunError;
use crate::provenance::EntryPoint;
use crate::results;
use crate::utils::layer_seed;
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
    /// The entry point, for the `replay` line of provenance.
    pub entry: EntryPoint,
    /// When the invocation started.
    pub started_at: SystemTime,
    /// The open-file limit after raising it to the hard limit (the `open_files` module).
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
        let out_dir = results::output_dir(settings.output_dir.clone()).map_err(|e| {
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
        env.settings = settings;
        env.entry = entry;
        console::print_run_header(
            &env.backend.describe(),
            env.time,
            env.settings.sim_store,
            env.profile.name(),
            env.seed,
            &env.out_dir,
        );
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
            console::print_warning(&warning);
        }
    }

    /// A fresh storage layer for one scenario, seeded from the run seed and `index`, with the
    /// `CHAOS_FAULT_POINTS` of the settings armed.
    pub fn storage_layer(&self, index: u64) -> Arc<StorageLayer> {
        let chaos = NetworkChaos::new(self.profile, layer_seed(self.seed, index));
        chaos
            .faults()
            .set_fault_points(self.settings.fault_points.clone());
        let layer = StorageLayer::new(chaos);
        match self.backend.embedded_server() {
            Some(_) => Arc::new(layer.with_own_server()),
            None => Arc::new(layer),
        }
    }
}
