//! The workload driver: open-loop schedules, spawning clients, the run clock, and tearing a
//! run down so nothing of it outlives it; and what the entry points share around it.
//!
//! Clients are open loop: op `i` of a client with rate `r` is intended to start at
//! `phase + i / r` and starts then, whether or not the client's earlier ops have finished
//! (up to [`MAX_IN_FLIGHT_PER_CLIENT`] in flight per client). Every latency is measured from
//! the intended start, so slow S3 and queueing show in the figures instead of being hidden
//! (coordinated omission). Ops intended to start after the duration are not issued; the run
//! ends when the ops in flight finish.
//!
//! One file a thing:
//! - `spec.rs`: [`RunSpec`], what one run is asked to do;
//! - `pipeline.rs`: [`run_workload`], setup, drive, teardown, analyse;
//! - `schedules.rs`: the clients' open-loop schedules (writers, readers, pinned readers, crashes);
//! - `keys.rs`: which keys a writer picks;
//! - `env.rs`: [`RunEnv`], one environment per invocation of an entry point, and
//!   [`HarnessError`];
//! - `run_scenario.rs`: `ScenarioOutcome::run`, a labelled scenario run in the environment's
//!   time;
//! - `open_files.rs`: the open-file limit a batch of runs needs;
//! - `export.rs`: [`export_all`], every result file, so a failing scenario never discards the
//!   others.
//!
//! What a run gives back ([`RunResult`], [`RunError`], [`ScenarioOutcome`], [`problems`]) is
//! data in [`crate::outcome`], re-exported here.

mod env;
mod export;
mod keys;
mod open_files;
mod pipeline;
mod run_scenario;
mod schedules;
mod spec;

pub use env::{HarnessError, RunEnv};
pub use export::export_all;
pub use pipeline::{run_workload, run_workload_in, trace_path, BACKGROUND_LIMIT};
pub use schedules::MAX_IN_FLIGHT_PER_CLIENT;
pub use spec::{RunSpec, RunSpecBuilder};

pub use crate::outcome::{problems, ActorRow, RunError, RunResult, ScenarioOutcome};
pub use crate::results::Exported;
