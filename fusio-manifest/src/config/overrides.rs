//! [`WorkloadOverrides`]: the `CHAOS_*` variables that override [`WorkloadConfig`] fields,
//! and how they apply to an entry point's workload.

use std::time::Duration;

use super::vars::Vars;
use super::{ConfigError, ManifestMode, WorkloadConfig};

/// `CHAOS_*` overrides of [`WorkloadConfig`] fields; `None` keeps the entry point's value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkloadOverrides {
    /// `CHAOS_NUM_WRITERS`.
    pub num_writers: Option<usize>,
    /// `CHAOS_NUM_READERS`.
    pub num_readers: Option<usize>,
    /// `CHAOS_WRITER_RATE`.
    pub writer_rate: Option<f64>,
    /// `CHAOS_READER_RATE`.
    pub reader_rate: Option<f64>,
    /// `CHAOS_KEY_POOL_SIZE`.
    pub key_pool_size: Option<usize>,
    /// `CHAOS_KEY_OVERLAP_RATIO`.
    pub key_overlap_ratio: Option<f64>,
    /// `CHAOS_MAX_RETRY_COUNT`.
    pub max_retry_count: Option<u32>,
    /// `CHAOS_RETRY_BACKOFF_MS`.
    pub retry_backoff_ms: Option<u64>,
    /// `CHAOS_VALUE_SIZE`.
    pub value_size: Option<usize>,
    /// `CHAOS_DURATION_SECS`.
    pub duration: Option<Duration>,
    /// `CHAOS_COMPACT_EVERY_MS`.
    pub compact_every_ms: Option<u64>,
    /// `CHAOS_COMPACTORS`.
    pub compactors: Option<usize>,
    /// `CHAOS_PINNED_READERS`.
    pub pinned_readers: Option<usize>,
    /// `CHAOS_PIN_SECS`.
    pub pin_secs: Option<u64>,
    /// `CHAOS_MANIFESTS`.
    pub manifests: Option<ManifestMode>,
    /// `CHAOS_CLOCK_SKEW_MS`.
    pub clock_skew_ms: Option<i64>,
    /// `CHAOS_CLOCK_DRIFT_MS_PER_S`.
    pub clock_drift_ms_per_s: Option<i64>,
    /// `CHAOS_CRASH_EVERY_MS`.
    pub crash_every_ms: Option<u64>,
    /// `CHAOS_LEASE_TTL_SECS`.
    pub lease_ttl_secs: Option<u64>,
    /// `CHAOS_SEGMENT_TTL_SECS`.
    pub segment_ttl_secs: Option<u64>,
    /// `CHAOS_CHECKPOINT_TTL_SECS`.
    pub checkpoint_ttl_secs: Option<u64>,
    /// `CHAOS_CHECKPOINTS_KEEP`.
    pub checkpoints_keep: Option<usize>,
    /// `CHAOS_TXN_KEYS`.
    pub txn_keys: Option<usize>,
    /// `CHAOS_DELETE_PERCENT`.
    pub delete_percent: Option<u32>,
    /// `CHAOS_SCAN_KEYS`.
    pub scan_keys: Option<usize>,
}

impl WorkloadOverrides {
    /// The overrides `pairs` of `CHAOS_*` variables and values set (other names ignored),
    /// e.g. a scenario's own settings.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ConfigError> {
        Self::read(&Vars::from_pairs(pairs))
    }

    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            num_writers: vars.parse("CHAOS_NUM_WRITERS")?,
            num_readers: vars.parse("CHAOS_NUM_READERS")?,
            writer_rate: vars.parse("CHAOS_WRITER_RATE")?,
            reader_rate: vars.parse("CHAOS_READER_RATE")?,
            key_pool_size: vars.parse("CHAOS_KEY_POOL_SIZE")?,
            key_overlap_ratio: vars.parse("CHAOS_KEY_OVERLAP_RATIO")?,
            max_retry_count: vars.parse("CHAOS_MAX_RETRY_COUNT")?,
            retry_backoff_ms: vars.parse("CHAOS_RETRY_BACKOFF_MS")?,
            value_size: vars.parse("CHAOS_VALUE_SIZE")?,
            duration: vars.duration_secs("CHAOS_DURATION_SECS")?,
            compact_every_ms: vars.parse("CHAOS_COMPACT_EVERY_MS")?,
            compactors: vars.parse("CHAOS_COMPACTORS")?,
            pinned_readers: vars.parse("CHAOS_PINNED_READERS")?,
            pin_secs: vars.parse("CHAOS_PIN_SECS")?,
            manifests: vars.parse("CHAOS_MANIFESTS")?,
            clock_skew_ms: vars.parse("CHAOS_CLOCK_SKEW_MS")?,
            clock_drift_ms_per_s: vars.parse("CHAOS_CLOCK_DRIFT_MS_PER_S")?,
            crash_every_ms: vars.parse("CHAOS_CRASH_EVERY_MS")?,
            lease_ttl_secs: vars.parse("CHAOS_LEASE_TTL_SECS")?,
            segment_ttl_secs: vars.parse("CHAOS_SEGMENT_TTL_SECS")?,
            checkpoint_ttl_secs: vars.parse("CHAOS_CHECKPOINT_TTL_SECS")?,
            checkpoints_keep: vars.parse("CHAOS_CHECKPOINTS_KEEP")?,
            txn_keys: vars.parse("CHAOS_TXN_KEYS")?,
            delete_percent: vars.parse("CHAOS_DELETE_PERCENT")?,
            scan_keys: vars.parse("CHAOS_SCAN_KEYS")?,
        })
    }

    /// `base` with every override applied, validated (the error names the variable).
    pub fn apply(&self, base: WorkloadConfig) -> Result<WorkloadConfig, ConfigError> {
        let c = WorkloadConfig {
            num_writers: self.num_writers.unwrap_or(base.num_writers),
            num_readers: self.num_readers.unwrap_or(base.num_readers),
            writer_rate: self.writer_rate.unwrap_or(base.writer_rate),
            reader_rate: self.reader_rate.unwrap_or(base.reader_rate),
            key_pool_size: self.key_pool_size.unwrap_or(base.key_pool_size),
            key_overlap_ratio: self.key_overlap_ratio.unwrap_or(base.key_overlap_ratio),
            max_retry_count: self.max_retry_count.unwrap_or(base.max_retry_count),
            retry_backoff_ms: self.retry_backoff_ms.unwrap_or(base.retry_backoff_ms),
            value_size: self.value_size.unwrap_or(base.value_size),
            duration: self.duration.unwrap_or(base.duration),
            compact_every_ms: self.compact_every_ms.unwrap_or(base.compact_every_ms),
            compactors: self.compactors.unwrap_or(base.compactors),
            pinned_readers: self.pinned_readers.unwrap_or(base.pinned_readers),
            pin_secs: self.pin_secs.unwrap_or(base.pin_secs),
            manifests: self.manifests.unwrap_or(base.manifests),
            clock_skew_ms: self.clock_skew_ms.unwrap_or(base.clock_skew_ms),
            clock_drift_ms_per_s: self
                .clock_drift_ms_per_s
                .unwrap_or(base.clock_drift_ms_per_s),
            crash_every_ms: self.crash_every_ms.unwrap_or(base.crash_every_ms),
            lease_ttl_secs: self.lease_ttl_secs.unwrap_or(base.lease_ttl_secs),
            segment_ttl_secs: self.segment_ttl_secs.unwrap_or(base.segment_ttl_secs),
            checkpoint_ttl_secs: self.checkpoint_ttl_secs.unwrap_or(base.checkpoint_ttl_secs),
            checkpoints_keep: self.checkpoints_keep.unwrap_or(base.checkpoints_keep),
            txn_keys: self.txn_keys.unwrap_or(base.txn_keys),
            delete_percent: self.delete_percent.unwrap_or(base.delete_percent),
            scan_keys: self.scan_keys.unwrap_or(base.scan_keys),
        };
        c.validate()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in workload with the `CHAOS_*` overrides of `pairs` applied and validated.
    fn apply(pairs: &[(&str, &str)]) -> Result<WorkloadConfig, ConfigError> {
        WorkloadOverrides::from_pairs(pairs.iter().copied())
            .and_then(|o| o.apply(WorkloadConfig::default()))
    }

    #[test]
    fn crashes_need_per_client_manifests_and_retention_reaches_fusio() {
        use fusio_manifest::retention::RetentionPolicy;
        let crashing = apply(&[
            ("CHAOS_MANIFESTS", "per-client"),
            ("CHAOS_CRASH_EVERY_MS", "5000"),
            ("CHAOS_LEASE_TTL_SECS", "5"),
            ("CHAOS_SEGMENT_TTL_SECS", "3"),
            ("CHAOS_CHECKPOINT_TTL_SECS", "7"),
            ("CHAOS_CHECKPOINTS_KEEP", "1"),
        ])
        .expect("valid");
        assert_eq!(crashing.crash_every_ms, 5000);
        let r = crashing.retention();
        assert_eq!(r.lease_ttl(), Duration::from_secs(5));
        assert_eq!(r.segments_min_ttl(), Duration::from_secs(3));
        assert_eq!(r.checkpoints_min_ttl(), Duration::from_secs(7));
        assert_eq!(r.checkpoints_keep_last(), 1);
        let defaults = WorkloadConfig::default().retention();
        assert_eq!(
            defaults,
            fusio_manifest::retention::DefaultRetention::default()
        );
        for (pairs, var) in [
            (
                &[("CHAOS_CRASH_EVERY_MS", "5000")][..],
                "CHAOS_CRASH_EVERY_MS",
            ),
            (&[("CHAOS_LEASE_TTL_SECS", "0")][..], "CHAOS_LEASE_TTL_SECS"),
            (
                &[("CHAOS_CHECKPOINTS_KEEP", "0")][..],
                "CHAOS_CHECKPOINTS_KEEP",
            ),
            (
                &[("CHAOS_SEGMENT_TTL_SECS", "-1")][..],
                "CHAOS_SEGMENT_TTL_SECS",
            ),
        ] {
            let msg = apply(pairs).expect_err("refused").to_string();
            assert!(msg.contains(var), "{pairs:?}: {msg}");
        }
    }

    #[test]
    fn clock_skew_needs_per_client_manifests_and_bad_modes_are_named() {
        let skewed = apply(&[
            ("CHAOS_MANIFESTS", "per-client"),
            ("CHAOS_CLOCK_SKEW_MS", "-90000"),
        ])
        .expect("valid");
        assert_eq!(
            (skewed.manifests, skewed.clock_skew_ms),
            (ManifestMode::PerClient, -90_000)
        );
        let shared = apply(&[("CHAOS_CLOCK_SKEW_MS", "90000")]).expect_err("one clock");
        assert!(
            shared.to_string().contains("CHAOS_MANIFESTS=per-client"),
            "{shared}"
        );
        let drifting = apply(&[
            ("CHAOS_MANIFESTS", "per-client"),
            ("CHAOS_CLOCK_DRIFT_MS_PER_S", "-500"),
        ])
        .expect("valid");
        assert_eq!(drifting.clock_drift_ms_per_s, -500);
        for (settings, why) in [
            (&[("CHAOS_CLOCK_DRIFT_MS_PER_S", "10")][..], "per-client"),
            (
                &[
                    ("CHAOS_MANIFESTS", "per-client"),
                    ("CHAOS_CLOCK_DRIFT_MS_PER_S", "1001"),
                ][..],
                "-1000",
            ),
        ] {
            let err = apply(settings).expect_err("refused").to_string();
            assert!(
                err.contains("CHAOS_CLOCK_DRIFT_MS_PER_S") && err.contains(why),
                "{err}"
            );
        }
        let bad = apply(&[("CHAOS_MANIFESTS", "each")]).expect_err("unknown mode");
        assert!(bad.to_string().contains("CHAOS_MANIFESTS"), "{bad}");
    }

    #[test]
    fn multi_key_options_reach_the_workload_and_bad_values_are_named() {
        let multi = apply(&[
            ("CHAOS_TXN_KEYS", "3"),
            ("CHAOS_DELETE_PERCENT", "30"),
            ("CHAOS_SCAN_KEYS", "5"),
        ])
        .expect("valid");
        assert_eq!(
            (multi.txn_keys, multi.delete_percent, multi.scan_keys),
            (3, 30, 5)
        );
        let single = WorkloadConfig::default();
        assert_eq!(
            (single.txn_keys, single.delete_percent, single.scan_keys),
            (1, 0, 0)
        );
        // 200 keys, overlap 0.5, 4 writers: each picks from 100 shared + 25 private keys.
        apply(&[("CHAOS_TXN_KEYS", "125"), ("CHAOS_SCAN_KEYS", "200")]).expect("at the limits");
        for (pairs, var) in [
            (&[("CHAOS_TXN_KEYS", "0")][..], "CHAOS_TXN_KEYS"),
            (&[("CHAOS_TXN_KEYS", "126")][..], "CHAOS_TXN_KEYS"),
            (&[("CHAOS_TXN_KEYS", "three")][..], "CHAOS_TXN_KEYS"),
            (
                &[("CHAOS_DELETE_PERCENT", "101")][..],
                "CHAOS_DELETE_PERCENT",
            ),
            (
                &[("CHAOS_DELETE_PERCENT", "-5")][..],
                "CHAOS_DELETE_PERCENT",
            ),
            (&[("CHAOS_SCAN_KEYS", "201")][..], "CHAOS_SCAN_KEYS"),
            (&[("CHAOS_SCAN_KEYS", "-1")][..], "CHAOS_SCAN_KEYS"),
            (
                &[("CHAOS_SCAN_KEYS", "5"), ("CHAOS_KEY_POOL_SIZE", "1000000")][..],
                "CHAOS_SCAN_KEYS",
            ),
        ] {
            let msg = apply(pairs).expect_err("refused").to_string();
            assert!(msg.contains(var), "{pairs:?}: {msg}");
        }
    }
}
