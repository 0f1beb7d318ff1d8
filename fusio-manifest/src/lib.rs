//! fusio-manifest-chaos: the chaos, correctness and performance harness for `fusio-manifest`.
//!
//! # Start here
//!
//! Entry points are the `#[ignore]` tests in `tests/performance_test.rs`, one line each over
//! [`plan`]: `test_plan` (the whole plan, what the plain `cargo test -- --ignored` runs), its
//! steps alone when named (`test_comprehensive_sweep`, `test_chaos_sweep`, `test_baseline`,
//! `test_fault_sweep`, `test_coverage_sweep`) and the seed search beside it
//! (`test_seed_search`, [`search`]); and the `check-history` binary
//! (`src/bin/check_history.rs`), which re-checks a saved history offline.
//!
//! One run takes this path through the modules:
//! 1. [`config`]: [`config::Settings::from_env`] reads every environment variable once (the
//!    table is [`config::VARS`]); [`workload::RunEnv`] starts the [`backend`] (embedded S3 on
//!    127.0.0.1, or a real bucket; none in simulated time) and holds the seed, the output
//!    directory and the time mode ([`world::TimeMode`], `CHAOS_TIME`).
//! 2. [`plan`] runs a step; [`sweep`] picks the scenarios ([`chaos::create_chaos_scenarios`])
//!    or the workload grid, and runs each as a [`workload::RunSpec`] through
//!    [`workload::ScenarioOutcome::run`].
//! 3. [`workload::run_workload`]: setup, drive, teardown, analyse, in the run's [`world`]: real
//!    time over S3, or a simulated world ([`world::sim`]: its own thread, paused virtual time,
//!    the in-process [`backend::SimS3`], a digest of every storage operation that proves a
//!    replay). Time is read only through [`world::clock`]. The system under test, the
//!    published `fusio-manifest` crate, is built in [`manifest`] over our storage wrapper
//!    ([`chaos::storage`]), where the [`chaos`] controller injects latency, blocks, CPU load
//!    and S3 faults. [`client`] runs each operation's session in its own task and records
//!    every step into the [`history`]; [`metrics`] counts and times them. [`selfcheck`] marks a
//!    run `INVALID` when the harness itself panics.
//! 4. [`checker`] streams the history back and gives a verdict: PASS, FAIL (with anomalies)
//!    or UNKNOWN (with the reason). The run gives back an [`outcome`]: its result as data.
//! 5. [`verdicts`] judges a sweep by the plan's criteria (and the coverage evidence, and the
//!    comprehensive sweep's best-row rule); [`results`] writes every result file
//!    through one atomic writer (`STEM.csv`, and the folder `STEM/` with sidecars, histories,
//!    anomalies, verdicts and [`provenance`]); [`plot`] runs `plot_results.py`; [`console`]
//!    prints everything the console shows.
//!
//! [`utils`] holds the few helpers several modules share (seed derivation, panic messages);
//! [`config_error`] the error of a bad variable, which the modules that parse one value name.
//! The modules are layered: none imports a module that imports it, directly or through
//! others (`farm-studio look`: no circle, no import that runs back up).

pub mod backend;
pub mod chaos;
pub mod checker;
pub mod client;
pub mod compactor;
pub mod config;
pub mod config_error;
pub mod console;
pub mod history;
pub mod host;
pub mod manifest;
pub mod metrics;
pub mod outcome;
pub mod plan;
pub mod plot;
pub mod provenance;
pub mod results;
pub mod search;
pub mod selfcheck;
pub mod sweep;
pub mod timeline;
pub mod utils;
pub mod verdicts;
pub mod workload;
pub mod world;
