//! [`WorkloadOverrides`]: the `CHAOS_*` variables that override [`WorkloadConfig`] fields,
//! read from a list of pairs; the struct, its reading and applying come from the knob table
//! (`knobs.rs`).

use super::knobs::KNOB_VARS;
use super::vars::Vars;
use super::{ConfigError, WorkloadOverrides};

impl WorkloadOverrides {
    /// The overrides `pairs` of workload knobs (`CHAOS_*` variables of the knob table) and
    /// their values, e.g. a scenario's own settings or a saved settings line. A name that is
    /// no knob is refused, so a misspelt or renamed setting cannot silently do nothing.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ConfigError> {
        let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        if let Some((name, value)) = pairs
            .iter()
            .find(|(name, _)| KNOB_VARS.iter().all(|k| k.name != *name))
        {
            return Err(ConfigError::Invalid {
                var: "workload setting",
                value: format!("{name}={value}"),
                reason: format!(
                    "{name} is not a workload knob (README's configuration table lists them)"
                ),
            });
        }
        Self::read(&Vars::from_pairs(pairs))
    }

    /// The overrides a settings line sets, `CHAOS_NUM_WRITERS=4 CHAOS_NUM_READERS=2 …`
    /// (space-separated `VAR=value` words, e.g. what [`super::WorkloadConfig::settings_line`]
    /// wrote); a word that is not `VAR=value` is refused.
    pub fn from_line(line: &str) -> Result<Self, ConfigError> {
        let mut pairs = Vec::new();
        for word in line.split_whitespace() {
            let (var, value) = word.split_once('=').ok_or_else(|| {
                ConfigError::invalid("workload setting", word, "expected `CHAOS_VAR=value`")
            })?;
            pairs.push((var, value));
        }
        Self::from_pairs(pairs)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::knobs::{KNOB_OTHERS, KNOB_VARS};
    use crate::config::{ManifestMode, WorkloadConfig};

    #[test]
    fn every_knob_round_trips_through_a_settings_line() {
        let over = WorkloadOverrides::from_pairs(KNOB_OTHERS.iter().copied()).expect("parses");
        let given: Vec<(&str, String)> = KNOB_OTHERS
            .iter()
            .map(|(var, value)| (*var, value.to_string()))
            .collect();
        assert_eq!(
            over.pairs(),
            given,
            "each knob read and written back as given"
        );
        let line = crate::utils::settings_line(over.pairs());
        let back = WorkloadOverrides::from_line(&line).expect("reads back");
        assert_eq!(back, over, "{line}");
        let all = over.apply(WorkloadConfig::default()).expect("valid");
        for (i, (var, _)) in KNOB_OTHERS.iter().enumerate() {
            let others = KNOB_OTHERS
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, pair)| *pair);
            let without = WorkloadOverrides::from_pairs(others)
                .and_then(|o| o.apply(WorkloadConfig::default()));
            assert_ne!(
                without.ok(),
                Some(all.clone()),
                "{var} does not reach the workload"
            );
        }
    }

    #[test]
    fn the_tables_defaults_are_the_built_in_workload() {
        let stated = KNOB_VARS
            .iter()
            .filter(|v| v.name != "CHAOS_DURATION_SECS")
            .map(|v| (v.name, v.default));
        let over = WorkloadOverrides::from_pairs(stated).expect("the defaults parse");
        assert_eq!(over.pairs().len(), KNOB_VARS.len() - 1);
        let built_in = WorkloadConfig::default();
        assert_eq!(over.apply(built_in.clone()).expect("valid"), built_in);
    }

    #[test]
    fn a_setting_that_is_no_knob_is_refused_not_ignored() {
        for line in [
            "CHAOS_LEASE_TTL=1",
            "CHAOS_NUM_WRITERS=2 CHAOS_SEED=3",
            "NUM_WRITERS=2",
        ] {
            let msg = WorkloadOverrides::from_line(line)
                .expect_err("no such knob")
                .to_string();
            assert!(msg.contains("is not a workload knob"), "{line}: {msg}");
        }
        let msg = WorkloadOverrides::from_line("CHAOS_NUM_WRITERS")
            .expect_err("no value")
            .to_string();
        assert!(msg.contains("CHAOS_VAR=value"), "{msg}");
        assert!(WorkloadOverrides::from_line("").is_ok());
    }

    #[test]
    fn the_lease_expiry_scenario_runs_a_one_second_lease_without_its_keeper() {
        let scenario = crate::chaos::create_fault_scenarios()
            .into_iter()
            .find(|s| s.label == "lease-expiry")
            .expect("a fault scenario");
        let w = WorkloadConfig::default()
            .with_settings(&scenario.settings)
            .expect("valid");
        assert_eq!((w.lease_ttl_secs, w.keep_leases), (1, false));
    }

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
