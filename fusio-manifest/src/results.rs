//! Result files: where each goes, their schemas, and the one atomic writer they all use.
//!
//! A run named `STEM` in the output directory `OUT` writes:
//! - `OUT/STEM.csv`: one [`MetricsSummary`] row per scenario or configuration (24 columns);
//! - `OUT/STEM.png`: the charts, drawn by `plot_results.py` ([`crate::plot`]);
//! - the folder `OUT/STEM/`, holding everything else of the run:
//!   - `STEM_timeline.csv`: one [`TimelineRow`] per scenario and second;
//!   - `STEM_events.csv`: one [`EventRow`] per chaos event;
//!   - `STEM_verification.csv`: one [`VerificationRow`] (isolation verdict) per scenario;
//!   - `STEM_actors.csv`: one [`ActorRow`] (what the compactors, GC, clients and crash
//!     injection did) per scenario;
//!   - `STEM_host.csv`: one [`HostRow`] (host health, `OK` or `HOST-SATURATED`) per scenario;
//!   - `STEM_run.json`: provenance ([`crate::provenance`]);
//!   - `STEM.LABEL.history.jsonl`: the recorded history of each scenario (streamed while the
//!     run goes, so it is the one file not written atomically: a crashed run leaves a
//!     truncated history, which `check-history` reports as malformed);
//!   - `STEM.LABEL.anomalies.jsonl`: every anomaly the checker found in that scenario.
//!
//! Every CSV header is derived from its row type ([`header`]); a test checks the headers
//! against `tests_py/result_headers.json`, which `plot_results.py`'s tests check too.

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use crate::checker::VerificationRow;
pub use crate::host::HostRow;
use crate::metrics::MetricsSummary;
pub use crate::outcome::ActorRow;
use crate::outcome::RunResult;
use crate::provenance::RunRecord;
pub use crate::timeline::TimelineRow;
pub use crate::utils::{header, write_atomic};

/// The output directory: `dir`, or the workspace root; created if missing.
pub fn output_dir(dir: Option<PathBuf>) -> std::io::Result<PathBuf> {
    let dir = dir.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The paths of one run's files (see the module docs).
#[derive(Clone, Debug)]
pub struct RunFiles {
    out_dir: PathBuf,
    stem: String,
}

impl RunFiles {
    /// The files of run `stem` in `out_dir`.
    pub fn new(out_dir: &Path, stem: &str) -> Self {
        Self {
            out_dir: out_dir.to_path_buf(),
            stem: stem.to_string(),
        }
    }

    /// The files of the run whose CSV is `csv` (`OUT/STEM.csv`), or `None` for a path with no
    /// folder or name.
    pub fn of_csv(csv: &Path) -> Option<Self> {
        Some(Self::new(
            csv.parent()?,
            &csv.file_stem()?.to_string_lossy(),
        ))
    }

    /// The run's name.
    pub fn stem(&self) -> &str {
        &self.stem
    }

    /// `OUT/STEM.csv`.
    pub fn csv(&self) -> PathBuf {
        self.out_dir.join(format!("{}.csv", self.stem))
    }

    /// `OUT/STEM/`, created by [`RunFiles::create_folder`].
    pub fn folder(&self) -> PathBuf {
        self.out_dir.join(&self.stem)
    }

    /// Creates `OUT/STEM/`.
    pub fn create_folder(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(self.folder())
    }

    /// `OUT/STEM/STEM_KIND.csv` (`timeline`, `events`, `verification`, `actors`, `host`).
    pub fn sidecar(&self, kind: &str) -> PathBuf {
        sidecar_path(&self.out_dir, &self.stem, kind)
    }

    /// `OUT/STEM/STEM_run.json`.
    pub fn run_json(&self) -> PathBuf {
        self.folder().join(format!("{}_run.json", self.stem))
    }

    /// `OUT/STEM/STEM_verdicts.json`: the plan's judgements of the sweep ([`crate::verdicts`]).
    pub fn verdicts(&self) -> PathBuf {
        self.folder().join(format!("{}_verdicts.json", self.stem))
    }

    /// `OUT/STEM/STEM.LABEL.history.jsonl`.
    pub fn history(&self, label: &str) -> PathBuf {
        history_path(&self.out_dir, &self.stem, label)
    }

    /// `OUT/STEM/STEM.LABEL.anomalies.jsonl`.
    pub fn anomalies(&self, label: &str) -> PathBuf {
        self.folder()
            .join(format!("{}.{label}.anomalies.jsonl", self.stem))
    }
}

/// Paths of the files one export wrote.
pub struct Exported {
    /// The 24-column CSV.
    pub csv: PathBuf,
    /// Per-second timelines.
    pub timeline: PathBuf,
    /// Isolation verdicts.
    pub verification: PathBuf,
    /// What the actors did.
    pub actors: PathBuf,
    /// Chaos event log.
    pub events: PathBuf,
    /// Provenance.
    pub run_json: PathBuf,
}

/// `DIR/STEM/STEM_SUFFIX.csv`.
pub fn sidecar_path(dir: &Path, stem: &str, suffix: &str) -> PathBuf {
    dir.join(stem).join(format!("{stem}_{suffix}.csv"))
}

/// `DIR/STEM/STEM.LABEL.history.jsonl`.
pub fn history_path(dir: &Path, stem: &str, label: &str) -> PathBuf {
    dir.join(stem).join(format!("{stem}.{label}.history.jsonl"))
}

/// One row of `STEM_events.csv`: one chaos event.
#[derive(Debug, Default, Serialize)]
pub struct EventRow<'a> {
    /// Scenario label.
    pub config_label: &'a str,
    /// Milliseconds since the run started.
    pub t_ms: u64,
    /// What happened (`block_start`, `recovered`, ...).
    pub event: &'a str,
    /// Parameters, block number, recovery time.
    pub detail: &'a str,
}

/// The 24 columns of `STEM.csv`.
pub fn summary_columns() -> Vec<String> {
    header::<MetricsSummary>()
}

/// Writes `rows` as CSV atomically to `path`; the header comes from the row type, so an empty
/// `rows` still gets it.
pub fn write_csv<T: Serialize + Default>(path: &Path, rows: &[T]) -> std::io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(header::<T>())
        .map_err(std::io::Error::other)?;
    for row in rows {
        w.serialize(row).map_err(std::io::Error::other)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    write_atomic(path, &bytes)
}

/// Writes `value` as pretty JSON atomically to `path`.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Writes every result file of one run for the scenarios in `results`: the CSV, the
/// sidecars, each scenario's anomaly file and `STEM_run.json`. The error names the file.
pub fn write_run(
    files: &RunFiles,
    results: &[&RunResult],
    record: &RunRecord,
) -> Result<(), (PathBuf, std::io::Error)> {
    let at = |path: PathBuf| move |e| (path, e);
    files.create_folder().map_err(at(files.folder()))?;
    let summaries: Vec<MetricsSummary> = results.iter().map(|r| r.summary.clone()).collect();
    write_csv(&files.csv(), &summaries).map_err(at(files.csv()))?;
    let timeline: Vec<TimelineRow> = results.iter().flat_map(|r| r.timeline.clone()).collect();
    let path = files.sidecar("timeline");
    write_csv(&path, &timeline).map_err(at(path))?;
    let events: Vec<EventRow> = results.iter().flat_map(|r| event_rows(r)).collect();
    let path = files.sidecar("events");
    write_csv(&path, &events).map_err(at(path))?;
    let verification: Vec<VerificationRow> = results.iter().map(|r| r.verification_row()).collect();
    let path = files.sidecar("verification");
    write_csv(&path, &verification).map_err(at(path))?;
    let actors: Vec<ActorRow> = results.iter().map(|r| r.actor_row()).collect();
    let path = files.sidecar("actors");
    write_csv(&path, &actors).map_err(at(path))?;
    let host: Vec<HostRow> = results
        .iter()
        .map(|r| r.host.row(&r.summary.config_label))
        .collect();
    let path = files.sidecar("host");
    write_csv(&path, &host).map_err(at(path))?;
    for r in results {
        let path = files.anomalies(&r.summary.config_label);
        write_atomic(&path, &r.check.anomalies_jsonl()).map_err(at(path))?;
    }
    write_json(&files.run_json(), record).map_err(at(files.run_json()))
}

fn event_rows(r: &RunResult) -> impl Iterator<Item = EventRow<'_>> {
    r.events.iter().map(|e| EventRow {
        config_label: &r.summary.config_label,
        t_ms: e.t_ms,
        event: &e.event,
        detail: &e.detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Headers = std::collections::BTreeMap<String, Vec<String>>;

    /// The headers Rust writes, by the name `tests_py/result_headers.json` gives each file.
    fn ours() -> Headers {
        [
            ("main", summary_columns()),
            ("timeline", header::<TimelineRow>()),
            ("events", header::<EventRow>()),
            ("verification", header::<VerificationRow>()),
            ("actors", header::<ActorRow>()),
            ("host", header::<HostRow>()),
        ]
        .into_iter()
        .map(|(file, columns)| (file.to_string(), columns))
        .collect()
    }

    fn shared() -> Headers {
        serde_json::from_str(include_str!("../../tests_py/result_headers.json"))
            .expect("tests_py/result_headers.json is a map of header lists")
    }

    /// The files whose header differs between `shared` and `ours`, or that only one has.
    fn header_drift(shared: &Headers, ours: &Headers) -> Vec<String> {
        let mut files: Vec<&String> = shared.keys().chain(ours.keys()).collect();
        files.sort_unstable();
        files.dedup();
        files
            .into_iter()
            .filter(|&file| shared.get(file) != ours.get(file))
            .cloned()
            .collect()
    }

    /// The headers Rust writes are the ones `plot_results.py` expects: both sides are checked
    /// against the same file.
    #[test]
    fn headers_match_the_shared_schema_file() {
        assert_eq!(header_drift(&shared(), &ours()), Vec::<String>::new());
        assert_eq!(summary_columns().len(), 24);
    }

    #[test]
    fn a_header_that_drifts_from_the_schema_file_is_caught() {
        let mut moved_back = ours();
        let actors = moved_back.get_mut("actors").expect("actors");
        let last = actors.pop().expect("a column");
        let verification = moved_back.get_mut("verification").expect("verification");
        verification.insert(verification.len() - 1, last);
        assert_eq!(
            header_drift(&shared(), &moved_back),
            ["actors", "verification"]
        );
        let mut missing = ours();
        missing.remove("actors");
        assert_eq!(header_drift(&shared(), &missing), ["actors"]);
    }

    /// The checker's file holds what it judged, the actors' file what the run did: no column
    /// but the label is in both.
    #[test]
    fn the_verification_and_actor_files_share_only_the_label() {
        let verification = header::<VerificationRow>();
        let actors = header::<ActorRow>();
        assert_eq!(
            (verification[0].as_str(), actors[0].as_str()),
            ("config_label", "config_label")
        );
        assert!(
            actors[1..].iter().all(|c| !verification.contains(c)),
            "{actors:?}"
        );
        assert_eq!(actors.len(), 14);
    }

    #[test]
    fn an_empty_file_still_gets_its_header_and_a_wrong_header_is_caught() {
        let dir = std::env::temp_dir().join(format!("chaos-viz-h-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.csv");
        write_csv::<TimelineRow>(&p, &[]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            "config_label,second,commits,precondition_failures,write_errors,reads,s3_ops,read_p50_ms\n"
        );
        assert_ne!(header::<EventRow>(), header::<TimelineRow>());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
