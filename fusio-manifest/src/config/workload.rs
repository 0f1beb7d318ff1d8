//! [`WorkloadConfig`]'s validation and derived values, and [`ManifestMode`].
//!
//! The fields, their defaults and the `CHAOS_*` variable of each (`CHAOS_` plus the field
//! name in upper case; the duration is `CHAOS_DURATION_SECS`) are the knob table of
//! `knobs.rs`; [`super::Settings`] reads them and [`super::WorkloadOverrides::apply`]
//! applies them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use fusio_manifest::retention::DefaultRetention;

use super::{ConfigError, WorkloadConfig, WorkloadOverrides};

/// How a run's clients reach fusio-manifest (`CHAOS_MANIFESTS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ManifestMode {
    /// One `Manifest` value for every client of the run: one HTTP client, one orphan-recovery
    /// loop, one lease store, one clock.
    #[default]
    Shared,
    /// Each client its own `Manifest` over its own HTTP client, with its own orphan-recovery
    /// loop, lease store and clock, as separate processes would have.
    PerClient,
}

impl ManifestMode {
    /// The value as `CHAOS_MANIFESTS` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::PerClient => "per-client",
        }
    }
}

impl fmt::Display for ManifestMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ManifestMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "shared" => Ok(Self::Shared),
            "per-client" => Ok(Self::PerClient),
            _ => Err("expected `shared` or `per-client`".into()),
        }
    }
}

impl WorkloadConfig {
    /// Time between two gets of a pinned read session.
    pub const PIN_PACE: Duration = Duration::from_millis(500);

    /// Largest key pool a range scan works on: up to it key names sort like their indices
    /// (and so does the end of a range, `key_name(start + n)`).
    pub const MAX_SCAN_POOL: usize = 999_999;

    /// Checks ranges; the error names the `CHAOS_*` variable that sets the bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |var, value: String, reason: &str| Err(ConfigError::invalid(var, &value, reason));
        if self.num_writers == 0 && self.num_readers == 0 {
            return bad(
                "CHAOS_NUM_WRITERS",
                "0".into(),
                "need at least one writer or reader",
            );
        }
        if !(self.writer_rate.is_finite() && self.writer_rate > 0.0) {
            return bad(
                "CHAOS_WRITER_RATE",
                self.writer_rate.to_string(),
                "must be a positive number of ops/s",
            );
        }
        if !(self.reader_rate.is_finite() && self.reader_rate > 0.0) {
            return bad(
                "CHAOS_READER_RATE",
                self.reader_rate.to_string(),
                "must be a positive number of ops/s",
            );
        }
        if self.key_pool_size == 0 {
            return bad("CHAOS_KEY_POOL_SIZE", "0".into(), "must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.key_overlap_ratio) {
            return bad(
                "CHAOS_KEY_OVERLAP_RATIO",
                self.key_overlap_ratio.to_string(),
                "must be between 0 and 1",
            );
        }
        let private = self.key_pool_size - self.shared_keys();
        if self.num_writers > 0 && self.key_overlap_ratio < 1.0 && private < self.num_writers {
            return bad(
                "CHAOS_KEY_POOL_SIZE",
                self.key_pool_size.to_string(),
                "too small: every writer needs at least one private key",
            );
        }
        if self.value_size < 64 {
            return bad(
                "CHAOS_VALUE_SIZE",
                self.value_size.to_string(),
                "must be at least 64 bytes (the value names its writer, op and attempt)",
            );
        }
        self.validate_actors()?;
        self.validate_txns()?;
        if self.duration.is_zero() {
            return bad(
                "CHAOS_DURATION_SECS",
                "0".into(),
                "must be more than 0 seconds",
            );
        }
        Ok(())
    }

    /// Checks the actors beside the writers and readers: compactors, pinned readers, skew.
    fn validate_actors(&self) -> Result<(), ConfigError> {
        let bad = |var, value: String, reason: &str| Err(ConfigError::invalid(var, &value, reason));
        if self.compact_every_ms > 0 && self.compactors == 0 {
            return bad(
                "CHAOS_COMPACTORS",
                "0".into(),
                "must be at least 1 (CHAOS_COMPACT_EVERY_MS=0 turns the compactor off)",
            );
        }
        if self.pinned_readers > 0 && self.pin_secs == 0 {
            return bad(
                "CHAOS_PIN_SECS",
                "0".into(),
                "must be at least 1 second when CHAOS_PINNED_READERS is set",
            );
        }
        self.validate_clock()?;
        if self.crash_every_ms > 0 && self.manifests != ManifestMode::PerClient {
            return bad(
                "CHAOS_CRASH_EVERY_MS",
                self.crash_every_ms.to_string(),
                "needs CHAOS_MANIFESTS=per-client (a crash kills the writer's own manifest)",
            );
        }
        if self.crash_every_ms > 0 && self.num_writers == 0 {
            return bad(
                "CHAOS_CRASH_EVERY_MS",
                self.crash_every_ms.to_string(),
                "crashes writers: needs at least one writer",
            );
        }
        self.validate_retention()
    }

    /// Checks writer 0's clock settings: skew and drift.
    fn validate_clock(&self) -> Result<(), ConfigError> {
        let bad = |var, value: i64, reason: &str| {
            Err(ConfigError::invalid(var, &value.to_string(), reason))
        };
        let drift = self.clock_drift_ms_per_s;
        if !(-1000..=1000).contains(&drift) {
            return bad(
                "CHAOS_CLOCK_DRIFT_MS_PER_S",
                drift,
                "must be from -1000 (the clock stands still) to 1000 (it runs twice as fast)",
            );
        }
        for (var, value) in [
            ("CHAOS_CLOCK_SKEW_MS", self.clock_skew_ms),
            ("CHAOS_CLOCK_DRIFT_MS_PER_S", drift),
        ] {
            if value != 0 && self.manifests != ManifestMode::PerClient {
                return bad(
                    var,
                    value,
                    "needs CHAOS_MANIFESTS=per-client (a shared manifest has one clock for all clients)",
                );
            }
            if value != 0 && self.num_writers == 0 {
                return bad(
                    var,
                    value,
                    "moves writer 0's clock: needs at least one writer",
                );
            }
        }
        Ok(())
    }

    /// Checks the multi-key settings: transaction size, deletes, range scans.
    fn validate_txns(&self) -> Result<(), ConfigError> {
        let bad =
            |var, value: String, reason: String| Err(ConfigError::invalid(var, &value, reason));
        let reachable = self.writer_key_count();
        if self.txn_keys == 0 {
            return bad(
                "CHAOS_TXN_KEYS",
                "0".into(),
                "must be at least 1 (1: single-key writes)".into(),
            );
        }
        if self.num_writers > 0 && self.txn_keys > reachable {
            return bad(
                "CHAOS_TXN_KEYS",
                self.txn_keys.to_string(),
                format!(
                    "more than the {reachable} distinct keys a writer can pick from \
                     (CHAOS_KEY_POOL_SIZE, CHAOS_KEY_OVERLAP_RATIO)"
                ),
            );
        }
        if self.delete_percent > 100 {
            return bad(
                "CHAOS_DELETE_PERCENT",
                self.delete_percent.to_string(),
                "must be between 0 and 100".into(),
            );
        }
        if self.scan_keys > self.key_pool_size {
            return bad(
                "CHAOS_SCAN_KEYS",
                self.scan_keys.to_string(),
                format!("more than the {} keys of the pool", self.key_pool_size),
            );
        }
        if self.scan_keys > 0 && self.key_pool_size > Self::MAX_SCAN_POOL {
            return bad(
                "CHAOS_SCAN_KEYS",
                self.scan_keys.to_string(),
                format!(
                    "range scans need CHAOS_KEY_POOL_SIZE at most {} (key names then sort \
                     like their indices)",
                    Self::MAX_SCAN_POOL
                ),
            );
        }
        Ok(())
    }

    /// Checks the retention settings.
    fn validate_retention(&self) -> Result<(), ConfigError> {
        if self.lease_ttl_secs == 0 {
            return Err(ConfigError::invalid(
                "CHAOS_LEASE_TTL_SECS",
                "0",
                "must be at least 1 second (sessions cannot keep a lease of 0 s)",
            ));
        }
        if self.checkpoints_keep == 0 {
            return Err(ConfigError::invalid(
                "CHAOS_CHECKPOINTS_KEEP",
                "0",
                "must be at least 1 (HEAD names the newest checkpoint)",
            ));
        }
        Ok(())
    }

    /// fusio-manifest's retention policy for this workload's manifests.
    pub fn retention(&self) -> DefaultRetention {
        DefaultRetention::default()
            .with_lease_ttl(Duration::from_secs(self.lease_ttl_secs))
            .with_segments_min_ttl(Duration::from_secs(self.segment_ttl_secs))
            .with_checkpoints_min_ttl(Duration::from_secs(self.checkpoint_ttl_secs))
            .with_checkpoints_keep_last(self.checkpoints_keep)
    }

    /// The bound on each client step (`op_timeout_ms`; `None` for 0: wait as long as fusio
    /// does, forever).
    pub fn op_timeout(&self) -> Option<Duration> {
        (self.op_timeout_ms > 0).then(|| Duration::from_millis(self.op_timeout_ms))
    }

    /// This workload with `settings` (`CHAOS_*` knob pairs, e.g. a chaos scenario's own)
    /// applied and validated; the error names the variable.
    pub fn with_settings(self, settings: &[(&str, &str)]) -> Result<Self, ConfigError> {
        WorkloadOverrides::from_pairs(settings.iter().copied())?.apply(self)
    }

    /// The settings in which this workload differs from `base` (the duration left out): what
    /// a console line shows of a workload loaded from elsewhere.
    pub fn differences_from(&self, base: &WorkloadConfig) -> Vec<(&'static str, String)> {
        self.settings()
            .into_iter()
            .zip(base.settings())
            .filter(|((var, ours), (_, theirs))| ours != theirs && *var != "CHAOS_DURATION_SECS")
            .map(|(ours, _)| ours)
            .collect()
    }

    /// [`WorkloadConfig::settings`] as one line, `CHAOS_NUM_WRITERS=4 CHAOS_NUM_READERS=4 …`:
    /// what sets this whole workload again.
    pub fn settings_line(&self) -> String {
        crate::utils::settings_line(self.settings())
    }

    /// The workload a settings line describes over the built-in one (e.g. what
    /// [`WorkloadConfig::settings_line`] wrote); validated, the error names the variable. A
    /// word that is not `VAR=value` is refused.
    pub fn from_settings_line(line: &str) -> Result<Self, ConfigError> {
        WorkloadOverrides::from_line(line)?.apply(Self::default())
    }

    /// Number of keys shared by all writers.
    pub fn shared_keys(&self) -> usize {
        ((self.key_pool_size as f64) * self.key_overlap_ratio).round() as usize
    }

    /// The half-open range of key indices private to `writer`.
    pub fn private_keys(&self, writer: usize) -> std::ops::Range<usize> {
        let shared = self.shared_keys();
        let private = self.key_pool_size - shared;
        let per = private / self.num_writers.max(1);
        let start = shared + writer * per;
        start..start + per
    }

    /// How many distinct keys one writer can pick from: the shared part and its own slice.
    pub fn writer_key_count(&self) -> usize {
        self.shared_keys() + self.private_keys(0).len()
    }

    /// The key name for index `i`.
    pub fn key_name(i: usize) -> String {
        format!("k{i:06}")
    }

    /// A short label like `w4-r4-wr2-rr20-k200-o0.5`, with `-t3-d25` (3-key transactions, 25%
    /// deletes), `-s6` (6-key range scans) and `-skew500ms-drift-20` (clock) appended when
    /// they differ from the single-key, no-scan, true-clock default.
    pub fn label(&self) -> String {
        let mut label = format!(
            "w{}-r{}-wr{}-rr{}-k{}-o{}",
            self.num_writers,
            self.num_readers,
            self.writer_rate,
            self.reader_rate,
            self.key_pool_size,
            self.key_overlap_ratio
        );
        if self.txn_keys > 1 {
            label.push_str(&format!("-t{}-d{}", self.txn_keys, self.delete_percent));
        }
        if self.scan_keys > 0 {
            label.push_str(&format!("-s{}", self.scan_keys));
        }
        if self.clock_skew_ms != 0 {
            label.push_str(&format!("-skew{}ms", self.clock_skew_ms));
        }
        if self.clock_drift_ms_per_s != 0 {
            label.push_str(&format!("-drift{}", self.clock_drift_ms_per_s));
        }
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workloads_settings_line_reads_back_as_the_same_workload() {
        let others = super::super::knobs::KNOB_OTHERS.iter().copied();
        let changed = WorkloadOverrides::from_pairs(others)
            .and_then(|o| o.apply(WorkloadConfig::default()))
            .expect("valid");
        for config in [WorkloadConfig::default(), changed] {
            let line = config.settings_line();
            assert_eq!(
                config.settings().len(),
                super::super::knobs::KNOB_VARS.len(),
                "every knob is in the line"
            );
            let back = WorkloadConfig::from_settings_line(&line).expect("reads back");
            assert_eq!(back, config, "{line}");
        }
        let msg = WorkloadConfig::from_settings_line("CHAOS_NUM_WRITERS=2 CHAOS_NUM_READERS")
            .expect_err("a word without a value")
            .to_string();
        assert!(msg.contains("CHAOS_NUM_READERS"), "{msg}");
    }

    #[test]
    fn default_sits_inside_the_plans_best_config_ranges() {
        let c = WorkloadConfig::default();
        assert!((4..=8).contains(&c.num_writers));
        assert!((4..=8).contains(&c.num_readers));
        assert!((1.0..=5.0).contains(&c.writer_rate));
        assert!((10.0..=50.0).contains(&c.reader_rate));
        assert!((100..=500).contains(&c.key_pool_size));
        assert!((0.3..=0.7).contains(&c.key_overlap_ratio));
        assert_eq!(c.max_retry_count, 1);
        assert_eq!(c.value_size, 1024);
        c.validate().expect("default config is valid");
    }

    #[test]
    fn label_names_the_workload_shape_and_clock_only_when_not_default() {
        let c = WorkloadConfig::default();
        let plain = c.label();
        assert!(!plain.contains("-t") && !plain.contains("-s") && !plain.contains("skew"));
        let shaped = WorkloadConfig {
            txn_keys: 3,
            delete_percent: 25,
            scan_keys: 6,
            clock_skew_ms: 500,
            clock_drift_ms_per_s: -20,
            ..c
        };
        assert_eq!(
            shaped.label(),
            format!("{plain}-t3-d25-s6-skew500ms-drift-20")
        );
    }

    #[test]
    fn private_slices_are_disjoint_and_after_the_shared_part() {
        let c = WorkloadConfig {
            num_writers: 3,
            key_pool_size: 100,
            key_overlap_ratio: 0.4,
            ..Default::default()
        };
        assert_eq!(c.shared_keys(), 40);
        assert_eq!(c.private_keys(0), 40..60);
        assert_eq!(c.private_keys(1), 60..80);
        assert_eq!(c.private_keys(2), 80..100);
    }

    #[test]
    fn validation_names_the_variable() {
        let c = WorkloadConfig {
            key_overlap_ratio: 1.5,
            ..Default::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("CHAOS_KEY_OVERLAP_RATIO"), "{err}");
        let c = WorkloadConfig {
            writer_rate: 0.0,
            ..Default::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("CHAOS_WRITER_RATE"));
    }
}
