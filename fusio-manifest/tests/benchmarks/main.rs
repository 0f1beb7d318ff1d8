//! Benchmarks: they print ratios and figures for README and RESULTS.md, and are not part of the
//! test run nor of the plan. Run one with
//! `cargo test --release -p fusio-manifest-chaos --features benchmarks --test benchmarks MODULE:: -- --nocapture`.

#[path = "../common/mod.rs"]
mod common;

mod chaos_fidelity;
mod checker_speed;
mod harness_overhead;
