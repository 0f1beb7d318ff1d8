//! Sweep grids and choosing the best configuration from `comprehensive_sweep.csv`.
//!
//! Best-config rule: among rows with `precondition_failure_rate <= 0.20`, the highest
//! `write_tps`; ties go to the lower `write_p99_ms`. If no row meets the failure-rate bound,
//! the row with the lowest failure rate is chosen, and the caller is told so.

use std::path::Path;

use crate::config::WorkloadConfig;
use crate::metrics::{MetricsSummary, CSV_COLUMNS};

/// The failure-rate bound of the best-config rule.
pub const BEST_MAX_FAILURE_RATE: f64 = 0.20;

/// The command that writes `comprehensive_sweep.csv`.
pub const COMPREHENSIVE_COMMAND: &str = "cargo test --release -p fusio-manifest-chaos --test performance_test test_comprehensive_sweep -- --ignored --nocapture";

/// The 96 configurations of the comprehensive sweep: num_writers {2,4,8} x num_readers {4,8}
/// x writer_rate {1,5} x reader_rate {10,50} x key_pool_size {100,500} x key_overlap_ratio
/// {0.3,0.7}; the other fields come from `base`.
pub fn comprehensive_grid(base: &WorkloadConfig) -> Vec<WorkloadConfig> {
    let mut grid = Vec::with_capacity(96);
    for num_writers in [2, 4, 8] {
        for num_readers in [4, 8] {
            for writer_rate in [1.0, 5.0] {
                for reader_rate in [10.0, 50.0] {
                    for key_pool_size in [100, 500] {
                        for key_overlap_ratio in [0.3, 0.7] {
                            grid.push(WorkloadConfig {
                                num_writers,
                                num_readers,
                                writer_rate,
                                reader_rate,
                                key_pool_size,
                                key_overlap_ratio,
                                ..base.clone()
                            });
                        }
                    }
                }
            }
        }
    }
    grid
}

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

/// The chosen row and whether it met the failure-rate bound.
pub struct BestConfig {
    /// The row.
    pub row: MetricsSummary,
    /// False when no row had `precondition_failure_rate <= 0.20` (the lowest rate was taken).
    pub meets_bound: bool,
}

impl BestConfig {
    /// The workload of the chosen row, with `base`'s retry, value size and duration.
    pub fn workload(&self, base: &WorkloadConfig) -> WorkloadConfig {
        let r = &self.row;
        WorkloadConfig {
            num_writers: r.num_writers,
            num_readers: r.num_readers,
            writer_rate: r.writer_rate,
            reader_rate: r.reader_rate,
            key_pool_size: r.key_pool_size,
            key_overlap_ratio: r.key_overlap_ratio,
            max_retry_count: r.max_retry_count,
            ..base.clone()
        }
    }
}

/// Reads a 24-column CSV and picks the best row by the rule in the module docs.
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
    let missing: Vec<&str> = CSV_COLUMNS
        .iter()
        .copied()
        .filter(|c| !header.iter().any(|h| h == c))
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
    let best = pick_best(&rows).ok_or_else(|| malformed("no data rows".into()))?;
    Ok(best)
}

/// The best row by the rule in the module docs, or `None` for no rows.
pub fn pick_best(rows: &[MetricsSummary]) -> Option<BestConfig> {
    let better = |a: &&MetricsSummary, b: &&MetricsSummary| {
        a.write_tps
            .total_cmp(&b.write_tps)
            .then(b.write_p99_ms.total_cmp(&a.write_p99_ms))
    };
    let qualifying = rows
        .iter()
        .filter(|r| r.precondition_failure_rate <= BEST_MAX_FAILURE_RATE);
    if let Some(row) = qualifying.max_by(better) {
        return Some(BestConfig {
            row: row.clone(),
            meets_bound: true,
        });
    }
    rows.iter()
        .min_by(|a, b| {
            a.precondition_failure_rate
                .total_cmp(&b.precondition_failure_rate)
                .then(b.write_tps.total_cmp(&a.write_tps))
        })
        .map(|row| BestConfig {
            row: row.clone(),
            meets_bound: false,
        })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn row(label: &str, fail: f64, tps: f64, p99: f64) -> MetricsSummary {
        let c = WorkloadConfig::default();
        let mut s = crate::metrics::MetricsCollector::new(std::sync::Arc::new(
            crate::metrics::Timeline::new(std::time::Instant::now(), Duration::from_secs(1)),
        ))
        .summary(label, &c, Duration::from_secs(1));
        s.precondition_failure_rate = fail;
        s.write_tps = tps;
        s.write_p99_ms = p99;
        s
    }

    #[test]
    fn grid_has_96_distinct_configs() {
        let g = comprehensive_grid(&WorkloadConfig::default());
        assert_eq!(g.len(), 96);
        for (i, a) in g.iter().enumerate() {
            assert!(g[i + 1..].iter().all(|b| a != b));
            a.validate().unwrap();
        }
    }

    #[test]
    fn best_is_fastest_under_the_failure_bound_ties_to_lower_p99() {
        let rows = [
            row("fast-but-failing", 0.5, 100.0, 1.0),
            row("a", 0.1, 10.0, 50.0),
            row("b", 0.2, 10.0, 40.0),
            row("slow", 0.0, 5.0, 1.0),
        ];
        let best = pick_best(&rows).unwrap();
        assert_eq!(best.row.config_label, "b");
        assert!(best.meets_bound);
        let none_qualify = [row("x", 0.5, 10.0, 1.0), row("y", 0.4, 1.0, 1.0)];
        let best = pick_best(&none_qualify).unwrap();
        assert_eq!(best.row.config_label, "y");
        assert!(!best.meets_bound);
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
        std::fs::write(&missing, CSV_COLUMNS.join(",") + "\n").unwrap();
        let msg = load_best_config(&missing).err().unwrap().to_string();
        assert!(msg.contains("no data rows"), "{msg}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
