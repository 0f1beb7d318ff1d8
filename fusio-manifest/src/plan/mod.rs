//! The plan: its steps in order, each step's sweep, and how the `#[ignore]` entry points in
//! `tests/performance_test.rs` (one line each) select what runs.
//!
//! [`Target::Plan`] runs the whole plan one step at a time: the real-time steps first (the
//! comprehensive sweep, the chaos sweep on its best row, so it never starts before the file it
//! reads exists, and the baseline), then the simulated ones (the fault and coverage sweeps):
//! once a runtime of the process has paused its clock, tokio reads every clock through a lock,
//! which real-time figures should not pay. Every step's files are written before the next
//! starts. A step also runs alone when its entry point is named in full; the seed search runs
//! only when named.

mod select;
mod steps;

pub use select::{selection, Selection};

use std::time::Instant;

use futures_util::future::{FutureExt, LocalBoxFuture};

/// One step of the plan, or the seed search beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The comprehensive sweep (`comprehensive_sweep.csv`).
    ComprehensiveSweep,
    /// The plan's main job (`chaos_sweep.csv`, `chaos_sweep.png`).
    ChaosSweep,
    /// One workload without chaos (`test_baseline.csv`).
    Baseline,
    /// S3-level faults in simulated time (`fault_sweep.csv`).
    FaultSweep,
    /// The other half of fusio-manifest in simulated time (`coverage_sweep.csv`).
    CoverageSweep,
    /// Random schedules over many seeds (`seed_search/`); not part of the plan.
    SeedSearch,
}

impl Step {
    /// The plan's steps, in the order [`Target::Plan`] runs them.
    pub const PLAN: [Step; 5] = [
        Step::ComprehensiveSweep,
        Step::ChaosSweep,
        Step::Baseline,
        Step::FaultSweep,
        Step::CoverageSweep,
    ];

    /// The entry point's name in `tests/performance_test.rs`.
    pub fn entry_point(self) -> &'static str {
        match self {
            Step::ComprehensiveSweep => "test_comprehensive_sweep",
            Step::ChaosSweep => "test_chaos_sweep",
            Step::Baseline => "test_baseline",
            Step::FaultSweep => "test_fault_sweep",
            Step::CoverageSweep => "test_coverage_sweep",
            Step::SeedSearch => "test_seed_search",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Step::ComprehensiveSweep => "comprehensive sweep",
            Step::ChaosSweep => "chaos sweep",
            Step::Baseline => "baseline",
            Step::FaultSweep => "fault sweep (simulated time)",
            Step::CoverageSweep => "coverage sweep (simulated time)",
            Step::SeedSearch => "seed search (simulated time)",
        }
    }

    /// Runs the step: `Ok` with every problem it found (a scenario that crashed, was
    /// INVALID, did not PASS, or did not show what it names), `Err` when it could not run
    /// (a bad setting, a missing input file). Boxed: the whole plan's future nested in one
    /// type overflows rustc's query depth.
    pub fn run(self) -> LocalBoxFuture<'static, Result<Vec<String>, String>> {
        match self {
            Step::ComprehensiveSweep => steps::comprehensive_sweep().boxed_local(),
            Step::ChaosSweep => steps::chaos_sweep().boxed_local(),
            Step::Baseline => steps::baseline().boxed_local(),
            Step::FaultSweep => steps::fault_sweep().boxed_local(),
            Step::CoverageSweep => steps::coverage_sweep().boxed_local(),
            Step::SeedSearch => steps::seed_search().boxed_local(),
        }
    }
}

/// What an entry point runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The whole plan (`test_plan`): what the plain `cargo test -- --ignored` runs.
    Plan,
    /// One step alone, when named.
    Step(Step),
}

impl Target {
    /// The entry point's name in `tests/performance_test.rs`.
    pub fn entry_point(self) -> &'static str {
        match self {
            Target::Plan => "test_plan",
            Target::Step(step) => step.entry_point(),
        }
    }
}

/// The body of an entry point: runs `target` as this process's command line selects it.
///
/// # Panics
/// Fails the calling test when the target found a problem or could not run, and when a filter
/// matched its name only in part (so `cargo test test_chaos -- --ignored` never passes having
/// run nothing); prints why and returns when the plain `cargo test -- --ignored` reaches a
/// step, which `test_plan` runs in its turn.
pub async fn entry(target: Target) {
    let name = target.entry_point();
    match selection(name, std::env::args()) {
        Selection::Named => {}
        Selection::Unnamed if target == Target::Plan => {}
        Selection::Unnamed if target == Target::Step(Step::SeedSearch) => {
            println!("{name}: not part of test_plan; name it to run it");
            return;
        }
        Selection::Unnamed => {
            println!("{name}: part of test_plan; name it to run it alone");
            return;
        }
        Selection::Partial(filter) => panic!(
            "`{filter}` matched {name} without naming it, so nothing ran: name it in full, \
             e.g. `cargo test --release -p fusio-manifest-chaos --test performance_test {name} \
             -- --ignored --nocapture`"
        ),
    }
    let found = match target {
        Target::Plan => run_plan().await,
        Target::Step(step) => step.run().await.unwrap_or_else(|e| vec![e]),
    };
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The whole plan in order, one step at a time; every problem of every step (a step that
/// could not run is one), so one failing step does not stop the others.
// The host's wall time of the whole plan, printed at its end.
#[allow(clippy::disallowed_methods)]
pub async fn run_plan() -> Vec<String> {
    let started = Instant::now();
    let mut found = Vec::new();
    for (i, step) in Step::PLAN.into_iter().enumerate() {
        println!(
            "\n##### plan {}/{}: {} #####",
            i + 1,
            Step::PLAN.len(),
            step.title()
        );
        match step.run().await {
            Ok(problems) => found.extend(problems),
            Err(e) => found.push(format!("{}: {e}", step.entry_point())),
        }
    }
    println!(
        "\n##### plan done in {:.0} s #####",
        started.elapsed().as_secs_f64()
    );
    found
}
