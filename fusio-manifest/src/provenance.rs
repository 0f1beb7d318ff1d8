//! How a result was made: `STEM/STEM_run.json`, written beside every run's results.
//!
//! It holds what it takes to make the run again (the command line, the seed, every variable
//! that was set, and a `replay` line that sets them and runs the same entry point) and what it
//! ran on (backend, latency profile, build profile, versions, git revision, host cores, start
//! and end time). Secrets are never saved: they are `<redacted>` and left out of `replay`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use crate::backend::SimStoreMode;
use crate::config::{Settings, SECRET_VARS};
use crate::world::trace::Digest;
use crate::world::TimeMode;

/// The entry point a run came from, so `replay` can name it.
#[derive(Clone, Copy, Debug)]
pub struct EntryPoint {
    /// The test target, e.g. `performance_test`.
    pub target: &'static str,
    /// The test function, e.g. `test_chaos_sweep`.
    pub test: &'static str,
}

/// One scenario of a run: its label, the seed its clients drew from, the workload it ran and,
/// in simulated time, the digest that proves a replay of it.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioRecord {
    /// Scenario or configuration label.
    pub label: String,
    /// Its seed.
    pub seed: u64,
    /// The workload it ran, every knob as `CHAOS_VAR=value` in the knob table's order
    /// ([`crate::config::WorkloadConfig::settings`]); `None` when it produced no result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
    /// Its storage operations' digest (simulated time only; see [`crate::world::trace`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}

/// The content of `STEM_run.json`.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    /// The run's name.
    pub stem: String,
    /// The process's command line, as it was.
    pub command: Vec<String>,
    /// A shell line that makes the same run again (secrets aside).
    pub replay: String,
    /// The run seed (`CHAOS_SEED`, drawn at random when unset).
    pub seed: u64,
    /// Every configuration variable that was set (secrets `<redacted>`).
    pub env: BTreeMap<&'static str, String>,
    /// Each scenario's label and seed.
    pub scenarios: Vec<ScenarioRecord>,
    /// The backend, e.g. `embedded S3 server (http://127.0.0.1:PORT)`.
    pub backend: String,
    /// The S3 latency profile of the embedded server.
    pub s3_profile: String,
    /// `real` or `simulated` (`CHAOS_TIME`).
    pub time: &'static str,
    /// In simulated time, what the store answered as: `s3` or `fs` (`CHAOS_SIM_STORE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_store: Option<&'static str>,
    /// `release` or `debug`.
    pub build_profile: &'static str,
    /// fusio-manifest's version, as Cargo.lock resolved it.
    pub fusio_manifest_version: &'static str,
    /// Where fusio-manifest came from: `crates.io VERSION`, or `path DIR at git REV` for a
    /// local checkout patched in by `scripts/with-fusio-manifest`.
    pub fusio_manifest_source: &'static str,
    /// This harness's version.
    pub harness_version: &'static str,
    /// `git rev-parse HEAD` of the source tree, `-dirty` when it had changes; `unknown` without
    /// git.
    pub git_revision: String,
    /// CPU cores the host offers this process.
    pub host_cores: usize,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When the results were written (RFC 3339, UTC).
    pub ended_at: String,
}

/// What the run needs to say about itself besides its settings.
pub struct RunFacts<'a> {
    /// The run's name.
    pub stem: &'a str,
    /// Where it came from.
    pub entry: EntryPoint,
    /// The run seed.
    pub seed: u64,
    /// The scenarios.
    pub scenarios: Vec<ScenarioRecord>,
    /// Backend description.
    pub backend: String,
    /// Latency profile name.
    pub s3_profile: &'a str,
    /// Real or simulated time.
    pub time: TimeMode,
    /// In simulated time, what the store answered as.
    pub sim_store: Option<SimStoreMode>,
    /// When it started.
    pub started_at: SystemTime,
}

impl RunRecord {
    /// The record of a run made with `settings`, ending now.
    pub fn new(settings: &Settings, facts: RunFacts<'_>) -> Self {
        Self {
            stem: facts.stem.to_string(),
            command: std::env::args().collect(),
            replay: replay(settings, &facts),
            seed: facts.seed,
            env: settings.set.iter().cloned().collect(),
            scenarios: facts.scenarios,
            backend: facts.backend,
            s3_profile: facts.s3_profile.to_string(),
            time: facts.time.name(),
            sim_store: facts.sim_store.map(SimStoreMode::name),
            build_profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            fusio_manifest_version: env!("FUSIO_MANIFEST_VERSION"),
            fusio_manifest_source: env!("FUSIO_MANIFEST_SOURCE"),
            harness_version: env!("CARGO_PKG_VERSION"),
            git_revision: git_revision(),
            host_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            started_at: rfc3339(facts.started_at),
            ended_at: rfc3339(crate::world::clock::system_time()),
        }
    }
}

/// `VAR=value ... CHAOS_TIME=time [CHAOS_SIM_STORE=fs] CHAOS_SEED=seed cargo test --release
/// ... ENTRY -- --ignored --nocapture`: the store mode is named when it is not the default.
fn replay(settings: &Settings, facts: &RunFacts<'_>) -> String {
    let fixed = ["CHAOS_SEED", "CHAOS_TIME", "CHAOS_SIM_STORE"];
    let mut line = String::new();
    for (name, value) in &settings.set {
        if fixed.contains(name) || SECRET_VARS.contains(name) {
            continue;
        }
        line.push_str(&format!("{name}={} ", shell_quote(value)));
    }
    line.push_str(&format!("CHAOS_TIME={} ", facts.time.name()));
    if let Some(store) = facts.sim_store.filter(|s| *s != SimStoreMode::default()) {
        line.push_str(&format!("CHAOS_SIM_STORE={} ", store.name()));
    }
    line.push_str(&format!(
        "CHAOS_SEED={} cargo test --release -p fusio-manifest-chaos --test {} {} -- --exact --ignored --nocapture",
        facts.seed, facts.entry.target, facts.entry.test
    ));
    line
}

/// `value` quoted for a POSIX shell when it needs it.
fn shell_quote(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.,:/=@%+".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

fn git_revision() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "HEAD"]) {
        Some(rev) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(changes) if !changes.is_empty() => format!("{rev}-dirty"),
            _ => rev,
        },
        None => "unknown".into(),
    }
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_sets_every_variable_but_secrets_and_names_the_entry_point() {
        let settings = Settings::from_pairs([
            ("CHAOS_DURATION_SECS", "30"),
            ("CHAOS_SCENARIOS", "baseline,net delay"),
            ("CHAOS_SEED", "9"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "shh"),
            ("FUSIO_MANIFEST_BUCKET", "b"),
        ])
        .expect("valid");
        let record = RunRecord::new(
            &settings,
            RunFacts {
                stem: "chaos_sweep",
                entry: EntryPoint {
                    target: "performance_test",
                    test: "test_chaos_sweep",
                },
                seed: 9,
                scenarios: vec![],
                backend: "embedded".into(),
                s3_profile: "none",
                time: TimeMode::Simulated,
                sim_store: Some(SimStoreMode::S3),
                started_at: SystemTime::UNIX_EPOCH,
            },
        );
        assert_eq!(
            record.replay,
            "CHAOS_DURATION_SECS=30 CHAOS_SCENARIOS='baseline,net delay' AWS_ACCESS_KEY_ID=AKIA \
             FUSIO_MANIFEST_BUCKET=b CHAOS_TIME=simulated CHAOS_SEED=9 cargo test --release -p fusio-manifest-chaos \
             --test performance_test test_chaos_sweep -- --exact --ignored --nocapture"
        );
        let json = serde_json::to_string(&record).expect("serializes");
        assert!(!json.contains("shh"), "{json}");
        assert_eq!(record.started_at, "1970-01-01T00:00:00Z");
        assert_ne!(record.fusio_manifest_version, "unknown");
        assert!(
            record.fusio_manifest_source.starts_with("crates.io ")
                || record.fusio_manifest_source.starts_with("path "),
            "{}",
            record.fusio_manifest_source
        );
        assert_eq!(record.sim_store, Some("s3"));
    }

    #[test]
    fn replay_names_the_fs_store_mode_once() {
        let settings = Settings::from_pairs([("CHAOS_SIM_STORE", "fs")]).expect("valid");
        assert_eq!(settings.sim_store, SimStoreMode::Fs);
        let facts = |sim_store| RunFacts {
            stem: "coverage_sweep",
            entry: EntryPoint {
                target: "performance_test",
                test: "test_coverage_sweep",
            },
            seed: 3,
            scenarios: vec![],
            backend: "simulated".into(),
            s3_profile: "none",
            time: TimeMode::Simulated,
            sim_store,
            started_at: SystemTime::UNIX_EPOCH,
        };
        let record = RunRecord::new(&settings, facts(Some(SimStoreMode::Fs)));
        assert_eq!(
            record.replay,
            "CHAOS_TIME=simulated CHAOS_SIM_STORE=fs CHAOS_SEED=3 cargo test --release -p \
             fusio-manifest-chaos --test performance_test test_coverage_sweep -- --exact --ignored \
             --nocapture"
        );
        assert_eq!(record.sim_store, Some("fs"));
        let json = serde_json::to_string(&record).expect("serializes");
        assert!(json.contains(r#""sim_store":"fs""#), "{json}");
        let default = RunRecord::new(&Settings::default(), facts(Some(SimStoreMode::S3)));
        assert!(
            !default.replay.contains("CHAOS_SIM_STORE"),
            "{}",
            default.replay
        );
        let real = RunRecord::new(&Settings::default(), facts(None));
        let json = serde_json::to_string(&real).expect("serializes");
        assert!(!json.contains("sim_store"), "{json}");
    }

    #[test]
    fn a_bad_sim_store_value_is_refused_by_name() {
        let err = Settings::from_pairs([("CHAOS_SIM_STORE", "posix")]).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("CHAOS_SIM_STORE") && text.contains("`s3` or `fs`"),
            "{text}"
        );
    }
}
