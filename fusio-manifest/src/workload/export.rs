//! [`export_all`]: every result file of a batch of scenarios, written so that a failing
//! scenario never discards the others.

use super::env::{HarnessError, RunEnv};
use crate::console;
use crate::outcome::{RunResult, ScenarioOutcome};
use crate::provenance::{RunFacts, RunRecord, ScenarioRecord};
use crate::results::{self, Exported, RunFiles};
use crate::world::TimeMode;

/// Writes every result file of run `stem` (see [`results`]) for the scenarios that
/// produced results, then prints each isolation report. Scenarios that failed are listed,
/// not lost.
pub fn export_all(
    env: &RunEnv,
    stem: &str,
    outcomes: &[ScenarioOutcome],
) -> Result<Exported, HarnessError> {
    let files = RunFiles::new(&env.out_dir, stem);
    let record = RunRecord::new(
        &env.settings,
        RunFacts {
            stem,
            entry: env.entry,
            seed: env.seed,
            scenarios: outcomes
                .iter()
                .map(|o| ScenarioRecord {
                    label: o.label.clone(),
                    seed: o.seed,
                    settings: o.result.as_ref().ok().map(|r| r.workload.settings_line()),
                    digest: o.result.as_ref().ok().and_then(|r| r.replay.clone()),
                })
                .collect(),
            backend: env.backend.describe(),
            s3_profile: env.profile.name(),
            time: env.time,
            sim_store: (env.time == TimeMode::Simulated).then_some(env.settings.sim_store),
            started_at: env.started_at,
        },
    );
    let ok: Vec<&RunResult> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .collect();
    results::write_run(&files, &ok, &record)
        .map_err(|(path, source)| HarnessError::Io { path, source })?;
    console::print_verifications(outcomes);
    let exported = Exported {
        csv: files.csv(),
        timeline: files.sidecar("timeline"),
        verification: files.sidecar("verification"),
        actors: files.sidecar("actors"),
        events: files.sidecar("events"),
        run_json: files.run_json(),
    };
    console::print_exported(&exported, ok.len(), &files.folder());
    Ok(exported)
}
