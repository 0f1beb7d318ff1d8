//! [`RunSpec`]: what one run of the workload is asked to do.

use std::path::PathBuf;
use std::time::Duration;

use crate::chaos::ChaosScenario;
use crate::config::WorkloadConfig;
use crate::manifest::ManifestOptions;

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
    /// Manifest options (lease TTL).
    pub manifest: ManifestOptions,
    /// Print a progress line this often (elapsed, commits, failures); `None` for silence.
    pub progress_every: Option<Duration>,
    /// Chaos to inject while the clients run (`None`: none).
    pub chaos: Option<ChaosScenario>,
    /// Bound on each client step (`CHAOS_OP_TIMEOUT_MS`); `None` waits forever like fusio.
    pub op_timeout: Option<Duration>,
}
