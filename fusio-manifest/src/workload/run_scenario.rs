//! `ScenarioOutcome::run`: one labelled scenario run in the environment's time, its result
//! or why it produced none ([`crate::outcome::ScenarioOutcome`]).

use std::sync::Arc;

use super::env::RunEnv;
use super::pipeline::{run_workload, run_workload_in};
use super::spec::RunSpec;
use crate::backend::{RunStore, SimStoreMode};
use crate::chaos::StorageLayer;
use crate::console;
use crate::outcome::{RunResult, ScenarioOutcome};
use crate::world::{clock, TimeMode};

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
