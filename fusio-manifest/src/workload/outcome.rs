//! [`ScenarioOutcome`]: one labelled scenario run in the environment's time, its result or
//! why it produced none, and the [`problems`] of a batch of them.

use std::sync::Arc;

use super::env::RunEnv;
use super::pipeline::{run_workload, run_workload_in};
use super::result::RunResult;
use super::spec::RunSpec;
use crate::backend::{RunStore, SimStoreMode};
use crate::chaos::StorageLayer;
use crate::console;
use crate::world::{clock, TimeMode};

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
    console::print_sim_speed(&name, simulated, wall);
    result
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
