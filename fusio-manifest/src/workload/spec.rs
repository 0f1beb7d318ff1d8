//! [`RunSpec`]: what one run of the workload is asked to do.

use std::path::PathBuf;
use std::time::Duration;

use crate::chaos::ChaosScenario;
use crate::config::WorkloadConfig;

/// Everything needed to run one workload.
pub struct RunSpec {
    /// Label: the scenario or configuration name (`config_label` in the CSV).
    pub label: String,
    /// The workload.
    pub config: WorkloadConfig,
    /// Seed for every random choice of the clients.
    pub seed: u64,
    /// Where the history goes (JSON Lines).
    pub history_path: PathBuf,
    /// Print a progress line this often (elapsed, commits, failures); `None` for silence.
    pub progress_every: Option<Duration>,
    /// Chaos to inject while the clients run (`None`: none).
    pub chaos: Option<ChaosScenario>,
}

impl RunSpec {
    /// Starts a spec for `label` running `config`, recording its history at `history_path`:
    /// seed 0, no progress lines and no chaos, until
    /// the [`RunSpecBuilder`]'s setters say otherwise.
    pub fn builder(
        label: impl Into<String>,
        config: WorkloadConfig,
        history_path: PathBuf,
    ) -> RunSpecBuilder {
        RunSpecBuilder(RunSpec {
            label: label.into(),
            config,
            seed: 0,
            history_path,
            progress_every: None,
            chaos: None,
        })
    }
}

/// Builds a [`RunSpec`]; see [`RunSpec::builder`].
pub struct RunSpecBuilder(RunSpec);

impl RunSpecBuilder {
    /// Seed of every random choice of the clients (and of the chaos controller).
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }

    /// Chaos to inject while the clients run.
    pub fn chaos(mut self, scenario: ChaosScenario) -> Self {
        self.0.chaos = Some(scenario);
        self
    }

    /// Print a progress line this often.
    pub fn progress_every(mut self, every: Duration) -> Self {
        self.0.progress_every = Some(every);
        self
    }

    /// The spec.
    pub fn build(self) -> RunSpec {
        self.0
    }
}
