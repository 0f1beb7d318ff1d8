//! fusio-manifest-chaos: the chaos, correctness and performance harness for `fusio-manifest`.
//!
//! Data flows one way: [`config`] -> [`backend`] + [`chaos`] -> [`workload`] / [`client`] ->
//! ([`history`], [`metrics`]) -> ([`checker`], reports) -> files ([`visualization`]). The
//! system under test is the published `fusio-manifest` crate, built in [`manifest`] over our
//! storage wrapper ([`chaos::storage`]); the checker only ever reads the recorded history.

pub mod backend;
pub mod chaos;
pub mod checker;
pub mod client;
pub mod config;
pub mod history;
pub mod manifest;
pub mod metrics;
pub mod report;
pub mod runner;
pub mod selfcheck;
pub mod sweep;
pub mod utils;
pub mod visualization;
pub mod workload;
