//! The best-row rule, and choosing the best configuration from `comprehensive_sweep.csv`.
//! The CSV ranks the rows; the workload of the chosen row, every knob, is the one its run
//! recorded in `comprehensive_sweep/comprehensive_sweep_run.json` (`scenarios[].settings`).
//!
//! Best-config rule: among rows with `precondition_failure_rate <= 0.20`, the highest
//! `write_tps`; ties go to the lower `write_p99_ms`. If no row meets the failure-rate bound,
//! the row with the lowest failure rate is chosen (ties to the higher `write_tps`), and the
//! caller is told so. [`rank`] is that rule as one total order; everything that ranks rows
//! uses it.
//!
//! Rows whose run was `HOST-SATURATED` (the `host` column of the CSV's `STEM_host.csv`
//! sidecar) describe the machine, not fusio-manifest, so the rule only ranks the others; when
//! every row was saturated it ranks them all and the caller is told so.

use std::collections::HashSet;
use std::path::Path;

use crate::config::WorkloadConfig;
use crate::host::SATURATED;
use crate::metrics::MetricsSummary;
use crate::results::{summary_columns, RunFiles};
use crate::verdicts::{rank, BEST_MAX_FAILURE_RATE};

/// The command that writes `comprehensive_sweep.csv`.
pub const COMPREHENSIVE_COMMAND: &str = "cargo test --release -p fusio-manifest-chaos --test performance_test test_comprehensive_sweep -- --ignored --nocapture";

/// Why the best configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum BestConfigError {
    /// The file is not there.
    #[error(
        "{path} not found: run the comprehensive sweep first ({COMPREHENSIVE_COMMAND}), or set \
         CHAOS_CONFIG=default to use the built-in configuration"
    )]
    Missing {
        /// The file.
        path: String,
    },
    /// The file is there but unusable.
    #[error(
        "{path} is malformed ({reason}): regenerate it with {COMPREHENSIVE_COMMAND}, or set \
         CHAOS_CONFIG=default to use the built-in configuration"
    )]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The chosen row, whether it met the failure-rate bound, and what host health left out.
pub struct BestRow {
    /// The row.
    pub row: MetricsSummary,
    /// False when no row had `precondition_failure_rate <= 0.20` (the lowest rate was taken).
    pub meets_bound: bool,
    /// Rows left out because their run was `HOST-SATURATED`.
    pub saturated_skipped: usize,
    /// True when every row was saturated, so the chosen one was too.
    pub saturated: bool,
    /// False when the file had no host sidecar to read (rows were not checked).
    pub host_checked: bool,
}

/// The best row of a comprehensive sweep and the whole workload its run recorded.
pub struct BestConfig {
    /// The row and how it was chosen.
    pub choice: BestRow,
    /// Its workload, every knob as the sweep ran it (duration included).
    pub workload: WorkloadConfig,
}

/// The labels and workloads of a run record (`STEM_run.json`), as far as this reads them.
#[derive(serde::Deserialize)]
struct SavedRun {
    scenarios: Vec<SavedScenario>,
}

/// One scenario of a [`SavedRun`].
#[derive(serde::Deserialize)]
struct SavedScenario {
    label: String,
    settings: Option<String>,
}

/// Reads a 24-column CSV, picks the best row by the rule in the module docs, and reads that
/// row's workload from the run record beside it.
pub fn load_best_config(path: &Path) -> Result<BestConfig, BestConfigError> {
    let shown = path.display().to_string();
    let malformed = |reason: String| BestConfigError::Malformed {
        path: shown.clone(),
        reason,
    };
    if !path.exists() {
        return Err(BestConfigError::Missing { path: shown });
    }
    let mut reader = csv::Reader::from_path(path).map_err(|e| malformed(e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| malformed(e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let missing: Vec<String> = summary_columns()
        .into_iter()
        .filter(|c| !header.contains(c))
        .collect();
    if !missing.is_empty() {
        return Err(malformed(format!(
            "missing columns: {}",
            missing.join(", ")
        )));
    }
    let rows: Vec<MetricsSummary> = reader
        .deserialize()
        .collect::<Result<_, _>>()
        .map_err(|e| malformed(e.to_string()))?;
    let files = RunFiles::of_csv(path);
    let saturated = saturated_labels(files.as_ref()).map_err(malformed)?;
    let mut choice = pick_best(&rows, saturated.as_ref().unwrap_or(&HashSet::new()))
        .ok_or_else(|| malformed("no data rows".into()))?;
    choice.host_checked = saturated.is_some();
    let workload = saved_workload(files.as_ref(), &choice.row.config_label).map_err(malformed)?;
    Ok(BestConfig { choice, workload })
}

/// The workload the run record of the CSV's `files` saved for `label`.
fn saved_workload(files: Option<&RunFiles>, label: &str) -> Result<WorkloadConfig, String> {
    let record = files.ok_or("no run record beside it")?.run_json();
    let shown = record.display();
    let text = std::fs::read_to_string(&record)
        .map_err(|e| format!("its run record {shown}, which holds each row's workload: {e}"))?;
    let run: SavedRun =
        serde_json::from_str(&text).map_err(|e| format!("its run record {shown}: {e}"))?;
    let settings = run
        .scenarios
        .into_iter()
        .find(|s| s.label == label)
        .and_then(|s| s.settings)
        .ok_or_else(|| format!("its run record {shown} has no workload for row {label}"))?;
    WorkloadConfig::from_settings_line(&settings)
        .map_err(|e| format!("its run record {shown}, row {label}: {e}"))
}

/// One row of the host sidecar, as far as the best-row rule reads it.
#[derive(serde::Deserialize)]
struct HostColumns {
    config_label: String,
    host: String,
}

/// The labels the host sidecar of the CSV's `files` marks `HOST-SATURATED`, or `None` when the
/// sidecar is not there (a file from before host probes, or copied without its folder).
fn saturated_labels(files: Option<&RunFiles>) -> Result<Option<HashSet<String>>, String> {
    let Some(files) = files else {
        return Ok(None);
    };
    let host = files.sidecar("host");
    if !host.exists() {
        return Ok(None);
    }
    let shown = |e: csv::Error| format!("{}: {e}", host.display());
    let rows: Vec<HostColumns> = csv::Reader::from_path(&host)
        .map_err(shown)?
        .deserialize()
        .collect::<Result<_, _>>()
        .map_err(shown)?;
    Ok(Some(
        rows.into_iter()
            .filter(|r| r.host == SATURATED)
            .map(|r| r.config_label)
            .collect(),
    ))
}

/// The best row by [`rank`] among those whose label is not in `saturated` (among all when every
/// row is), or `None` for no rows.
pub fn pick_best(rows: &[MetricsSummary], saturated: &HashSet<String>) -> Option<BestRow> {
    let healthy: Vec<&MetricsSummary> = rows
        .iter()
        .filter(|r| !saturated.contains(&r.config_label))
        .collect();
    let all_saturated = healthy.is_empty();
    let saturated_skipped = rows.len() - healthy.len();
    let candidates = match all_saturated {
        true => rows.iter().collect(),
        false => healthy,
    };
    let row = candidates.into_iter().min_by(|a, b| rank(a, b))?;
    Some(BestRow {
        row: row.clone(),
        meets_bound: row.precondition_failure_rate <= BEST_MAX_FAILURE_RATE,
        saturated_skipped: if all_saturated { 0 } else { saturated_skipped },
        saturated: all_saturated,
        host_checked: true,
    })
}

#[cfg(test)]
mod tests {
    use crate::world::clock;
    use std::time::Duration;

    use super::*;

    fn row(label: &str, fail: f64, tps: f64, p99: f64) -> MetricsSummary {
        let c = WorkloadConfig::default();
        let mut s = crate::metrics::MetricsCollector::new(std::sync::Arc::new(
            crate::timeline::Timeline::new(clock::now(), Duration::from_secs(1)),
        ))
        .summary(label, &c, Duration::from_secs(1));
        s.precondition_failure_rate = fail;
        s.write_tps = tps;
        s.write_p99_ms = p99;
        s
    }

    #[test]
    fn best_is_fastest_under_the_failure_bound_ties_to_lower_p99() {
        let rows = [
            row("fast-but-failing", 0.5, 100.0, 1.0),
            row("a", 0.1, 10.0, 50.0),
            row("b", 0.2, 10.0, 40.0),
            row("slow", 0.0, 5.0, 1.0),
        ];
        let healthy = HashSet::new();
        let best = pick_best(&rows, &healthy).unwrap();
        assert_eq!(best.row.config_label, "b");
        assert!(best.meets_bound);
        let none_qualify = [row("x", 0.5, 10.0, 1.0), row("y", 0.4, 1.0, 1.0)];
        let best = pick_best(&none_qualify, &healthy).unwrap();
        assert_eq!(best.row.config_label, "y");
        assert!(!best.meets_bound);
    }

    #[test]
    fn saturated_rows_are_never_best_unless_every_row_is() {
        let rows = [row("saturated", 0.1, 50.0, 1.0), row("ok", 0.1, 10.0, 1.0)];
        let saturated: HashSet<String> = ["saturated".to_string()].into();
        let best = pick_best(&rows, &saturated).unwrap();
        assert_eq!(best.row.config_label, "ok");
        assert_eq!((best.saturated_skipped, best.saturated), (1, false));
        let all: HashSet<String> = ["saturated".to_string(), "ok".to_string()].into();
        let best = pick_best(&rows, &all).unwrap();
        assert_eq!(best.row.config_label, "saturated");
        assert!(best.saturated);
    }

    /// Writes the run record of `comprehensive_sweep` in `dir`: each label with its settings.
    fn write_record(dir: &std::path::Path, scenarios: &[(&str, Option<&str>)]) {
        let scenarios: Vec<serde_json::Value> = scenarios
            .iter()
            .map(|(label, settings)| serde_json::json!({"label": label, "seed": 1, "settings": settings}))
            .collect();
        let path = RunFiles::new(dir, "comprehensive_sweep").run_json();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let record = serde_json::json!({ "stem": "comprehensive_sweep", "scenarios": scenarios });
        std::fs::write(path, record.to_string()).unwrap();
    }

    #[test]
    fn the_host_sidecar_beside_the_csv_is_read_and_a_malformed_one_is_named() {
        use crate::host::HostRow;
        use crate::results::write_csv;
        let dir = std::env::temp_dir().join(format!("chaos-best-host-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("comprehensive_sweep.csv");
        let rows = [row("fast", 0.1, 50.0, 1.0), row("slow", 0.1, 10.0, 1.0)];
        write_csv(&csv, &rows).unwrap();
        let line = WorkloadConfig::default().settings_line();
        write_record(&dir, &[("fast", Some(&line)), ("slow", Some(&line))]);
        let best = load_best_config(&csv).unwrap();
        assert_eq!(
            (
                best.choice.row.config_label.as_str(),
                best.choice.host_checked
            ),
            ("fast", false)
        );

        let host_csv = RunFiles::new(&dir, "comprehensive_sweep").sidecar("host");
        let host = |label: &str, verdict: &str| HostRow {
            config_label: label.into(),
            host: verdict.into(),
            ..Default::default()
        };
        write_csv(&host_csv, &[host("fast", SATURATED), host("slow", "OK")]).unwrap();
        let best = load_best_config(&csv).unwrap();
        assert_eq!(best.choice.row.config_label, "slow");
        assert!(best.choice.host_checked && best.choice.saturated_skipped == 1);

        std::fs::write(&host_csv, "config_label\nfast\n").unwrap();
        let msg = load_best_config(&csv).err().unwrap().to_string();
        assert!(msg.contains("comprehensive_sweep_host.csv"), "{msg}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_best_rows_whole_workload_comes_from_its_run_record() {
        use crate::results::write_csv;
        let dir = std::env::temp_dir().join(format!("chaos-best-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("comprehensive_sweep.csv");
        write_csv(
            &csv,
            &[row("fast", 0.1, 50.0, 1.0), row("slow", 0.1, 10.0, 1.0)],
        )
        .unwrap();
        let ran = WorkloadConfig {
            num_writers: 8,
            value_size: 300,
            txn_keys: 2,
            op_timeout_ms: 700,
            ..Default::default()
        };
        let other = WorkloadConfig::default().settings_line();
        write_record(
            &dir,
            &[("slow", Some(&other)), ("fast", Some(&ran.settings_line()))],
        );
        assert_eq!(load_best_config(&csv).unwrap().workload, ran);

        let refused = |scenarios: &[(&str, Option<&str>)], expected: &str| {
            write_record(&dir, scenarios);
            let msg = load_best_config(&csv).err().unwrap().to_string();
            assert!(
                msg.contains("comprehensive_sweep_run.json") && msg.contains(expected),
                "{msg}"
            );
            assert!(msg.contains("test_comprehensive_sweep"), "{msg}");
        };
        refused(&[("slow", Some(&other))], "no workload for row fast");
        refused(&[("fast", None)], "no workload for row fast");
        refused(
            &[("fast", Some("CHAOS_NUM_WRITERS=many"))],
            "CHAOS_NUM_WRITERS",
        );
        refused(&[("fast", Some("CHAOS_NUM_WRITERS"))], "CHAOS_VAR=value");
        std::fs::remove_file(RunFiles::new(&dir, "comprehensive_sweep").run_json()).unwrap();
        let msg = load_best_config(&csv).err().unwrap().to_string();
        assert!(msg.contains("holds each row's workload"), "{msg}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn missing_and_malformed_files_name_the_file_and_the_command() {
        let dir = std::env::temp_dir().join(format!("chaos-best-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("comprehensive_sweep.csv");
        let msg = load_best_config(&missing).err().unwrap().to_string();
        assert!(
            msg.contains("comprehensive_sweep.csv") && msg.contains("test_comprehensive_sweep"),
            "{msg}"
        );
        std::fs::write(&missing, "config_label,write_tps\nx,1\n").unwrap();
        let msg = load_best_config(&missing).err().unwrap().to_string();
        assert!(
            msg.contains("missing columns") && msg.contains("retry_success_rate"),
            "{msg}"
        );
        std::fs::write(&missing, summary_columns().join(",") + "\n").unwrap();
        let msg = load_best_config(&missing).err().unwrap().to_string();
        assert!(msg.contains("no data rows"), "{msg}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
