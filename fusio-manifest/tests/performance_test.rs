//! Entry points users run (all `#[ignore]`; run them in `--release`). The plan and its steps
//! live in the library ([`fusio_manifest_chaos::plan`]); each entry point is one line.
//!
//! `test_plan` runs the whole plan in order, one step at a time. It is what the plain
//! `cargo test -- --ignored --nocapture` runs; each step also runs alone when named in full (a
//! partial name fails and says how to name it):
//!
//! ```text
//! cargo test --release -- --ignored --nocapture      # the whole plan
//! cargo test --release -p fusio-manifest-chaos --test performance_test test_comprehensive_sweep -- --ignored --nocapture
//! CHAOS_CONFIG=default cargo test --release -p fusio-manifest-chaos --test performance_test test_chaos_sweep -- --ignored --nocapture
//! cargo test --release -p fusio-manifest-chaos --test performance_test test_baseline -- --ignored --nocapture
//! cargo test --release -p fusio-manifest-chaos --test performance_test test_fault_sweep -- --ignored --nocapture
//! cargo test --release -p fusio-manifest-chaos --test performance_test test_coverage_sweep -- --ignored --nocapture
//! cargo test --release -p fusio-manifest-chaos --test performance_test test_seed_search -- --ignored --nocapture
//! ```

use fusio_manifest_chaos::plan::{entry, Step, Target};

/// The whole plan, in order and one step at a time; fails at the end if any step had a
/// scenario that crashed or did not PASS (the fault sweep's findings do).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "the whole plan; use --release -- --ignored"]
async fn test_plan() {
    entry(Target::Plan).await
}

/// The comprehensive sweep alone (`comprehensive_sweep.csv`).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "performance run; use --release -- --ignored"]
async fn test_comprehensive_sweep() {
    entry(Target::Step(Step::ComprehensiveSweep)).await
}

/// The plan's main job alone (`chaos_sweep.csv`, `chaos_sweep.png`).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "performance run; use --release -- --ignored"]
async fn test_chaos_sweep() {
    entry(Target::Step(Step::ChaosSweep)).await
}

/// One workload without chaos (`test_baseline.csv`).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "performance run; use --release -- --ignored"]
async fn test_baseline() {
    entry(Target::Step(Step::Baseline)).await
}

/// The fault sweep alone (`fault_sweep.csv`).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "performance run; use --release -- --ignored"]
async fn test_fault_sweep() {
    entry(Target::Step(Step::FaultSweep)).await
}

/// The coverage sweep alone (`coverage_sweep.csv`): fails if a scenario crashed, was invalid,
/// did not PASS, or did not show the actor it names.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "performance run; use --release -- --ignored"]
async fn test_coverage_sweep() {
    entry(Target::Step(Step::CoverageSweep)).await
}

/// The seed search (`seed_search/search.json`, `search.md`, shrunk repros): random schedules
/// in simulated time, grouped by signature. Not part of `test_plan`; runs only when named.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a search over many seeds; use --release -- --ignored"]
async fn test_seed_search() {
    entry(Target::Step(Step::SeedSearch)).await
}
