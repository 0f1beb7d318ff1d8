//! The integration tests, in one test binary: each module was its own binary once, and every
//! binary linked the whole dependency graph (the AWS SDK, s3s, hyper) again. Run one module with
//! `cargo test --release -p fusio-manifest-chaos --test integration MODULE::`.

#[path = "../common/mod.rs"]
mod common;

mod baseline_run;
mod chaos_live;
mod clients_live;
mod compactor_live;
mod crash_live;
mod embedded_runtime;
mod embedded_s3;
mod faults_live;
mod findings_repro;
mod isolation_live;
mod lease_keeping;
mod seed_search;
mod selfcheck_live;
mod sim_replay;
mod sim_store_conformance;
mod storage_wrapper;
mod txn_live;
