//! Result files: the 24-column CSV and its sidecars, written atomically, and console tables.
//!
//! Files for a run named `STEM` in the output directory:
//! - `STEM.csv`: one [`MetricsSummary`] row per scenario or configuration;
//! - `STEM_timeline.csv`: `config_label, second, commits, precondition_failures, write_errors,
//!   reads, s3_ops`;
//! - `STEM_events.csv`: `config_label, t_ms, event, detail` (chaos events);
//! - `STEM_verification.csv`: one isolation verdict per scenario;
//! - `STEM.LABEL.history.jsonl`: the recorded history of each scenario.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{env_var, ConfigError};
use crate::metrics::{MetricsSummary, TimelineBucket};

/// The directory result files go to: `CHAOS_OUTPUT_DIR`, or the workspace root.
pub fn output_dir() -> Result<PathBuf, ConfigError> {
    let dir = match env_var("CHAOS_OUTPUT_DIR")? {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    std::fs::create_dir_all(&dir).map_err(|e| {
        ConfigError::invalid(
            "CHAOS_OUTPUT_DIR",
            &dir.display().to_string(),
            format!("cannot create the directory: {e}"),
        )
    })?;
    Ok(dir)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Serializes `rows` as CSV with a header and writes it atomically to `path`.
pub fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.serialize(row).map_err(std::io::Error::other)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    write_atomic(path, &bytes)
}

/// Writes the 24-column CSV. An empty `rows` still gets the header.
pub fn export_summaries(path: &Path, rows: &[MetricsSummary]) -> std::io::Result<()> {
    if rows.is_empty() {
        let header = crate::metrics::CSV_COLUMNS.join(",") + "\n";
        return write_atomic(path, header.as_bytes());
    }
    write_csv(path, rows)
}

/// Writes the per-second timelines of several scenarios.
pub fn export_timelines(path: &Path, runs: &[(&str, &[TimelineBucket])]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "config_label",
        "second",
        "commits",
        "precondition_failures",
        "write_errors",
        "reads",
        "s3_ops",
    ])
    .map_err(std::io::Error::other)?;
    for (label, b) in runs
        .iter()
        .flat_map(|(label, buckets)| buckets.iter().map(move |b| (*label, b)))
    {
        w.write_record([
            label.to_string(),
            b.second.to_string(),
            b.commits.to_string(),
            b.precondition_failures.to_string(),
            b.write_errors.to_string(),
            b.reads.to_string(),
            b.s3_ops.to_string(),
        ])
        .map_err(std::io::Error::other)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    write_atomic(path, &bytes)
}

/// `DIR/STEM_SUFFIX.csv`.
pub fn sidecar_path(dir: &Path, stem: &str, suffix: &str) -> PathBuf {
    dir.join(format!("{stem}_{suffix}.csv"))
}

/// `DIR/STEM.LABEL.history.jsonl`.
pub fn history_path(dir: &Path, stem: &str, label: &str) -> PathBuf {
    dir.join(format!("{stem}.{label}.history.jsonl"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("chaos-viz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.csv");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
