//! [`Settings`]: every variable of [`super::VARS`] read once, parsed and checked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::{
    unknown_var_warning, unknown_vars, ConfigError, ManifestMode, SearchSettings, Shard,
    WorkloadConfig, SECRET_VARS, VARS,
};
use crate::backend::sim_store::SimStoreMode;
use crate::backend::{S3Settings, DEFAULT_REGION};
use crate::chaos::fault_points::{parse_fault_points, FaultPoint};
use crate::chaos::S3LatencyProfile;
use crate::world::TimeMode;

/// The variables of one process: the environment, or a fixed list in tests.
struct Vars(BTreeMap<String, Option<String>>);

impl Vars {
    /// Trimmed values; `None` for a value that is not UTF-8.
    fn from_env() -> Self {
        Self(
            std::env::vars_os()
                .filter_map(|(k, v)| {
                    let k = k.into_string().ok()?;
                    Some((k, v.into_string().ok().map(|v| v.trim().to_string())))
                })
                .collect(),
        )
    }

    /// `pairs` as the whole environment (values trimmed).
    fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), Some(v.trim().to_string())))
                .collect(),
        )
    }

    /// Unset or empty is `None`; a non-UTF-8 value is an error.
    fn text(&self, var: &'static str) -> Result<Option<String>, ConfigError> {
        match self.0.get(var) {
            None => Ok(None),
            Some(Some(v)) if v.is_empty() => Ok(None),
            Some(Some(v)) => Ok(Some(v.clone())),
            Some(None) => Err(ConfigError::invalid(
                var,
                "<non-UTF-8>",
                "the value must be valid UTF-8",
            )),
        }
    }

    fn parse<T: FromStr>(&self, var: &'static str) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.text(var)?
            .map(|raw| {
                raw.parse::<T>()
                    .map_err(|e| ConfigError::invalid(var, &raw, e.to_string()))
            })
            .transpose()
    }

    /// A count or bound that must be at least 1.
    fn positive(&self, var: &'static str) -> Result<Option<u64>, ConfigError> {
        match self.parse::<u64>(var)? {
            Some(0) => Err(ConfigError::invalid(var, "0", "must be at least 1")),
            v => Ok(v),
        }
    }

    /// A duration in (fractional) seconds, more than 0.
    fn duration_secs(&self, var: &'static str) -> Result<Option<Duration>, ConfigError> {
        let Some(secs) = self.parse::<f64>(var)? else {
            return Ok(None);
        };
        match Duration::try_from_secs_f64(secs) {
            Ok(d) if !d.is_zero() => Ok(Some(d)),
            Ok(_) => Err(ConfigError::invalid(
                var,
                &secs.to_string(),
                "must be more than 0 seconds",
            )),
            Err(e) => Err(ConfigError::invalid(var, &secs.to_string(), e.to_string())),
        }
    }

    /// `1`, `true`, `yes` are true; `0`, `false`, `no` and unset are false.
    fn flag(&self, var: &'static str) -> Result<bool, ConfigError> {
        match self.text(var)?.map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("0") | Some("false") | Some("no") => Ok(false),
            Some("1") | Some("true") | Some("yes") => Ok(true),
            Some(other) => Err(ConfigError::invalid(var, other, "expected 1/0, true/false")),
        }
    }

    /// `var`, or its lower-case spelling.
    fn either_case(&self, var: &'static str) -> Result<Option<String>, ConfigError> {
        match self.text(var)? {
            Some(v) => Ok(Some(v)),
            None => Ok(self
                .0
                .get(&var.to_ascii_lowercase())
                .cloned()
                .flatten()
                .filter(|v| !v.is_empty())),
        }
    }
}

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

    fn read(vars: &Vars) -> Result<Self, ConfigError> {
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

/// Which store runs use (`FUSIO_CHAOS_BACKEND`, else `s3` when AWS keys are set).
#[derive(Clone, Debug)]
pub enum BackendChoice {
    /// The in-process S3 server on 127.0.0.1.
    Embedded,
    /// A real bucket (AWS S3 or an S3-compatible server).
    S3(S3Settings),
}

impl BackendChoice {
    fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let s3 = match vars.text("FUSIO_CHAOS_BACKEND")?.as_deref() {
            Some("embedded") => false,
            Some("s3") => true,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "FUSIO_CHAOS_BACKEND",
                    other,
                    "expected `embedded` or `s3`",
                ))
            }
            None => {
                vars.text("AWS_ACCESS_KEY_ID")?.is_some()
                    && vars.text("AWS_SECRET_ACCESS_KEY")?.is_some()
            }
        };
        if !s3 {
            return Ok(Self::Embedded);
        }
        let required = |var: &'static str| {
            vars.text(var)?.ok_or(ConfigError::Missing {
                var,
                hint: "the s3 backend needs AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and \
                       FUSIO_MANIFEST_BUCKET; unset FUSIO_CHAOS_BACKEND to use the embedded server",
            })
        };
        Ok(Self::S3(S3Settings {
            access_key: required("AWS_ACCESS_KEY_ID")?,
            secret_key: required("AWS_SECRET_ACCESS_KEY")?,
            bucket: required("FUSIO_MANIFEST_BUCKET")?,
            session_token: vars.text("AWS_SESSION_TOKEN")?,
            region: vars
                .text("AWS_REGION")?
                .unwrap_or_else(|| DEFAULT_REGION.to_string()),
            endpoint: vars.text("AWS_ENDPOINT_URL")?,
        }))
    }
}

/// Everything a run reads from its environment, parsed and checked.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Workload overrides.
    pub workload: WorkloadOverrides,
    /// `CHAOS_CONFIG=default`: the chaos sweep uses the built-in workload.
    pub builtin_config: bool,
    /// `CHAOS_PARALLEL`: a fixed number of scenarios at once; `None` (unset or `auto`) lets
    /// the sweep decide and run CPU-chaos scenarios alone.
    pub parallel: Option<usize>,
    /// `CHAOS_SEQUENTIAL=1`.
    pub sequential: bool,
    /// `CHAOS_SCENARIOS`: only these labels.
    pub scenarios: Option<Vec<String>>,
    /// `CHAOS_SEED`.
    pub seed: Option<u64>,
    /// `CHAOS_OP_TIMEOUT_MS`.
    pub op_timeout: Option<Duration>,
    /// `CHAOS_TIME`: `None` lets each entry point use its own default.
    pub time: Option<TimeMode>,
    /// `CHAOS_SIM_STORE`: what a simulated run's store answers as.
    pub sim_store: SimStoreMode,
    /// `CHAOS_FAULT_POINTS`, parsed (`none`: no point).
    pub fault_points: Vec<FaultPoint>,
    /// Whether `CHAOS_FAULT_POINTS` was set, `none` included: one seed of the search then
    /// replays with random faults off and only these points.
    pub fault_points_given: bool,
    /// `CHAOS_SEARCH_*`.
    pub search: SearchSettings,
    /// `CHAOS_OUTPUT_DIR`.
    pub output_dir: Option<PathBuf>,
    /// `FUSIO_CHAOS_S3_PROFILE`.
    pub s3_profile: Option<S3LatencyProfile>,
    /// The backend and, for `s3`, its settings.
    pub backend: BackendChoice,
    /// Every variable of [`VARS`] that was set, secrets redacted, in table order: what
    /// provenance records and a replay sets again.
    pub set: Vec<(&'static str, String)>,
    /// Warnings for unknown `CHAOS_*` / `FUSIO_CHAOS_*` variables.
    pub warnings: Vec<String>,
}

impl Default for Settings {
    /// Nothing set: every default of [`VARS`], the embedded backend.
    fn default() -> Self {
        Self {
            workload: WorkloadOverrides::default(),
            builtin_config: false,
            parallel: None,
            sequential: false,
            scenarios: None,
            seed: None,
            op_timeout: None,
            time: None,
            sim_store: SimStoreMode::default(),
            fault_points: Vec::new(),
            fault_points_given: false,
            search: SearchSettings::default(),
            output_dir: None,
            s3_profile: None,
            backend: BackendChoice::Embedded,
            set: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

impl Settings {
    /// Reads the process environment. Call once per entry point.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(&Vars::from_env())
    }

    /// Reads `pairs` as if they were the whole environment (for tests).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ConfigError> {
        Self::read(&Vars::from_pairs(pairs))
    }

    fn read(vars: &Vars) -> Result<Self, ConfigError> {
        check_proxy(vars)?;
        let given = vars.text("CHAOS_FAULT_POINTS")?;
        let fault_points = match &given {
            Some(spec) if spec.trim() == "none" => Vec::new(),
            Some(spec) => parse_fault_points(spec)
                .map_err(|e| ConfigError::invalid("CHAOS_FAULT_POINTS", spec, e.to_string()))?,
            None => Vec::new(),
        };
        let s3_profile = match vars.text("FUSIO_CHAOS_S3_PROFILE")? {
            Some(v) => Some(S3LatencyProfile::parse("FUSIO_CHAOS_S3_PROFILE", &v)?),
            None => None,
        };
        let builtin_config = match vars.text("CHAOS_CONFIG")?.as_deref() {
            None => false,
            Some("default") => true,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "CHAOS_CONFIG",
                    other,
                    "expected `default`, or unset to load comprehensive_sweep.csv",
                ))
            }
        };
        Ok(Self {
            workload: WorkloadOverrides::read(vars)?,
            builtin_config,
            parallel: match vars.text("CHAOS_PARALLEL")?.as_deref() {
                Some("auto") => None,
                _ => vars.positive("CHAOS_PARALLEL")?.map(|n| n as usize),
            },
            sequential: vars.flag("CHAOS_SEQUENTIAL")?,
            scenarios: vars
                .text("CHAOS_SCENARIOS")?
                .map(|v| parse_scenarios(&v))
                .transpose()?,
            seed: vars.parse("CHAOS_SEED")?,
            op_timeout: vars
                .positive("CHAOS_OP_TIMEOUT_MS")?
                .map(Duration::from_millis),
            time: vars
                .text("CHAOS_TIME")?
                .map(|v| TimeMode::parse("CHAOS_TIME", &v))
                .transpose()?,
            sim_store: vars
                .text("CHAOS_SIM_STORE")?
                .map(|v| SimStoreMode::parse("CHAOS_SIM_STORE", &v))
                .transpose()?
                .unwrap_or_default(),
            fault_points,
            fault_points_given: given.is_some(),
            search: read_search(vars)?,
            output_dir: vars.text("CHAOS_OUTPUT_DIR")?.map(PathBuf::from),
            s3_profile,
            backend: BackendChoice::read(vars)?,
            set: set_vars(vars),
            warnings: unknown_vars(vars.0.keys().cloned())
                .into_iter()
                .map(|(name, closest)| unknown_var_warning(&name, closest))
                .collect(),
        })
    }
}

/// The `CHAOS_SEARCH_*` variables.
fn read_search(vars: &Vars) -> Result<SearchSettings, ConfigError> {
    let default = SearchSettings::default();
    let switch = |var: &'static str, default: bool| -> Result<bool, ConfigError> {
        vars.text(var)?
            .map_or(Ok(default), |v| super::search::on_off(var, &v))
    };
    Ok(SearchSettings {
        seeds: vars
            .positive("CHAOS_SEARCH_SEEDS")?
            .unwrap_or(default.seeds),
        from: vars.parse("CHAOS_SEARCH_FROM")?.unwrap_or(default.from),
        shard: vars
            .text("CHAOS_SEARCH_SHARD")?
            .map(|v| Shard::parse("CHAOS_SEARCH_SHARD", &v))
            .transpose()?
            .unwrap_or_default(),
        faults: switch("CHAOS_SEARCH_FAULTS", default.faults)?,
        compactors: switch("CHAOS_SEARCH_COMPACTORS", default.compactors)?,
        shrink: switch("CHAOS_SEARCH_SHRINK", default.shrink)?,
        merge: vars.text("CHAOS_SEARCH_MERGE")?.map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect()
        }),
    })
}

/// The labels of a `CHAOS_SCENARIOS` value (`a,b`); one that names none (`,`) is refused
/// rather than running an empty sweep that passes.
pub fn parse_scenarios(value: &str) -> Result<Vec<String>, ConfigError> {
    let labels: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if labels.is_empty() {
        return Err(ConfigError::invalid(
            "CHAOS_SCENARIOS",
            value,
            "names no scenario; give comma-separated labels, or unset it to run them all",
        ));
    }
    Ok(labels)
}

fn set_vars(vars: &Vars) -> Vec<(&'static str, String)> {
    VARS.iter()
        .filter_map(|v| {
            let value = vars.text(v.name).ok().flatten()?;
            Some(if SECRET_VARS.contains(&v.name) {
                (v.name, "<redacted>".to_string())
            } else {
                (v.name, value)
            })
        })
        .collect()
}

/// A proxy for everything must not also take loopback traffic: fusio's HTTP client would send
/// the embedded server's requests through it.
fn check_proxy(vars: &Vars) -> Result<(), ConfigError> {
    for var in ["HTTP_PROXY", "ALL_PROXY"] {
        if vars.either_case(var)?.is_none() {
            continue;
        }
        let no_proxy = vars.either_case("NO_PROXY")?.unwrap_or_default();
        if !no_proxy.contains("127.0.0.1") {
            return Err(ConfigError::invalid(
                var,
                "(set)",
                "fusio's HTTP client would send loopback traffic through this proxy; \
                 export NO_PROXY=127.0.0.1,localhost",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in workload with the `CHAOS_*` overrides of `pairs` applied and validated.
    fn apply(pairs: &[(&str, &str)]) -> Result<WorkloadConfig, ConfigError> {
        WorkloadOverrides::from_pairs(pairs.iter().copied())
            .and_then(|o| o.apply(WorkloadConfig::default()))
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        Settings::from_pairs(pairs.iter().copied())
            .expect_err("should be refused")
            .to_string()
    }

    #[test]
    fn bad_values_are_refused_naming_the_variable() {
        for (var, value) in [
            ("CHAOS_OP_TIMEOUT_MS", "0"),
            ("CHAOS_SCENARIOS", ","),
            ("CHAOS_PARALLEL", "0"),
            ("CHAOS_DURATION_SECS", "0"),
            ("CHAOS_NUM_WRITERS", "four"),
            ("CHAOS_SEQUENTIAL", "maybe"),
            ("CHAOS_CONFIG", "best"),
            ("CHAOS_FAULT_POINTS", "get:HEAD.json#1=explode"),
            ("FUSIO_CHAOS_S3_PROFILE", "glacier"),
            ("FUSIO_CHAOS_BACKEND", "gcs"),
        ] {
            let msg = err(&[(var, value)]);
            assert!(msg.contains(var), "{var}={value}: {msg}");
        }
        assert!(err(&[("FUSIO_CHAOS_BACKEND", "s3")]).contains("AWS_ACCESS_KEY_ID"));
        assert!(err(&[("HTTP_PROXY", "http://proxy:3128")]).contains("NO_PROXY"));
    }

    #[test]
    fn the_compactor_options_reach_the_workload_and_zero_compactors_is_refused() {
        let on =
            Settings::from_pairs([("CHAOS_COMPACT_EVERY_MS", "500"), ("CHAOS_COMPACTORS", "2")])
                .expect("valid");
        let config = on.workload.apply(WorkloadConfig::default()).expect("valid");
        assert_eq!((config.compact_every_ms, config.compactors), (500, 2));
        let none =
            Settings::from_pairs([("CHAOS_COMPACT_EVERY_MS", "500"), ("CHAOS_COMPACTORS", "0")])
                .expect("parses");
        let msg = none
            .workload
            .apply(WorkloadConfig::default())
            .expect_err("no compactor to run")
            .to_string();
        assert!(msg.contains("CHAOS_COMPACTORS"), "{msg}");
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
    fn good_values_are_read_and_secrets_are_not_kept_in_the_record() {
        let s = Settings::from_pairs([
            ("CHAOS_OP_TIMEOUT_MS", "5"),
            ("CHAOS_PARALLEL", "auto"),
            ("CHAOS_SCENARIOS", " baseline, ,lease-expiry"),
            ("CHAOS_NUM_WRITER", "8"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "shh"),
            ("FUSIO_MANIFEST_BUCKET", "b"),
            ("http_proxy", "http://proxy:3128"),
            ("no_proxy", "127.0.0.1"),
        ])
        .expect("valid");
        assert_eq!(s.op_timeout, Some(Duration::from_millis(5)));
        assert_eq!(s.parallel, None);
        assert_eq!(
            s.scenarios,
            Some(vec!["baseline".to_string(), "lease-expiry".to_string()])
        );
        assert!(matches!(s.backend, BackendChoice::S3(ref b) if b.bucket == "b"));
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].contains("did you mean CHAOS_NUM_WRITERS?"));
        assert!(s
            .set
            .contains(&("AWS_SECRET_ACCESS_KEY", "<redacted>".to_string())));
        assert!(!format!("{s:?}").contains("shh"));
        let none = Settings::from_pairs([]).expect("empty environment is valid");
        assert!(matches!(none.backend, BackendChoice::Embedded));
        assert!(none.set.is_empty() && none.warnings.is_empty());
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

    #[test]
    fn overrides_apply_and_validate() {
        let s = Settings::from_pairs([("CHAOS_NUM_WRITERS", "2"), ("CHAOS_DURATION_SECS", "1.5")])
            .expect("valid");
        let c = s.workload.apply(WorkloadConfig::default()).expect("valid");
        assert_eq!(
            (c.num_writers, c.duration),
            (2, Duration::from_millis(1500))
        );
        let s = Settings::from_pairs([("CHAOS_KEY_OVERLAP_RATIO", "1.5")]).expect("parses");
        let msg = s
            .workload
            .apply(WorkloadConfig::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("CHAOS_KEY_OVERLAP_RATIO"), "{msg}");
    }
}
