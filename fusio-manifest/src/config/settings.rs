//! [`Settings`]: every variable of [`super::VARS`] read once, parsed and checked.

use std::path::PathBuf;

use super::vars::Vars;
use super::{
    unknown_var_warning, unknown_vars, ConfigError, SearchSettings, Shard, WorkloadOverrides,
    SECRET_VARS, VARS,
};
use crate::backend::sim_store::SimStoreMode;
use crate::backend::{BackendChoice, S3Settings, DEFAULT_REGION};
use crate::chaos::fault_points::{parse_fault_points, FaultPoint};
use crate::chaos::S3LatencyProfile;
use crate::world::TimeMode;

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
    use std::time::Duration;

    use super::*;
    use crate::config::WorkloadConfig;

    fn err(pairs: &[(&str, &str)]) -> String {
        Settings::from_pairs(pairs.iter().copied())
            .expect_err("should be refused")
            .to_string()
    }

    #[test]
    fn bad_values_are_refused_naming_the_variable() {
        for (var, value) in [
            ("CHAOS_OP_TIMEOUT_MS", "-1"),
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
        assert_eq!(s.workload.op_timeout_ms, Some(5));
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
