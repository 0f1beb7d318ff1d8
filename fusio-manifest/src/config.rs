//! The workload configuration and environment-variable parsing.
//!
//! Every [`WorkloadConfig`] field can be overridden by `CHAOS_` plus the field name in upper
//! case (`CHAOS_NUM_WRITERS`, `CHAOS_WRITER_RATE`, ...; the duration is `CHAOS_DURATION_SECS`).
//! A value that does not parse is an error naming the variable.

use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A bad or missing environment variable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// The variable is set to something unusable.
    #[error("invalid {var}={value:?}: {reason}")]
    Invalid {
        /// Variable name.
        var: &'static str,
        /// The value found.
        value: String,
        /// Why it is unusable and what is expected.
        reason: String,
    },
    /// A required variable is not set.
    #[error("{var} is not set: {hint}")]
    Missing {
        /// Variable name.
        var: &'static str,
        /// What to set.
        hint: &'static str,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] with the given reason.
    pub fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            var,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Reads an environment variable; unset or empty is `None`, non-UTF-8 is an error.
pub fn env_var(var: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var(var) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v.trim().to_string())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::invalid(
            var,
            "<non-UTF-8>",
            "the value must be valid UTF-8",
        )),
    }
}

/// Every environment variable the harness reads, as README's configuration table lists them
/// (a test checks the two agree).
pub const KNOWN_VARS: &[&str] = &[
    "CHAOS_NUM_WRITERS",
    "CHAOS_NUM_READERS",
    "CHAOS_WRITER_RATE",
    "CHAOS_READER_RATE",
    "CHAOS_KEY_POOL_SIZE",
    "CHAOS_KEY_OVERLAP_RATIO",
    "CHAOS_MAX_RETRY_COUNT",
    "CHAOS_RETRY_BACKOFF_MS",
    "CHAOS_VALUE_SIZE",
    "CHAOS_DURATION_SECS",
    "CHAOS_CONFIG",
    "CHAOS_PARALLEL",
    "CHAOS_SEQUENTIAL",
    "CHAOS_SCENARIOS",
    "CHAOS_SEED",
    "CHAOS_OP_TIMEOUT_MS",
    "CHAOS_OUTPUT_DIR",
    "FUSIO_CHAOS_S3_PROFILE",
    "FUSIO_CHAOS_BACKEND",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "FUSIO_MANIFEST_BUCKET",
    "AWS_ENDPOINT_URL",
];

/// The `CHAOS_*` / `FUSIO_CHAOS_*` names among `names` that the harness does not read, each
/// with the closest known name when one is near (a likely typo).
pub fn unknown_vars(
    names: impl IntoIterator<Item = String>,
) -> Vec<(String, Option<&'static str>)> {
    names
        .into_iter()
        .filter(|n| n.starts_with("CHAOS_") || n.starts_with("FUSIO_CHAOS_"))
        .filter(|n| !KNOWN_VARS.contains(&n.as_str()))
        .map(|n| {
            let closest = KNOWN_VARS
                .iter()
                .map(|k| (strsim::levenshtein(&n, k), *k))
                .min()
                .filter(|(d, _)| *d <= 3)
                .map(|(_, k)| k);
            (n, closest)
        })
        .collect()
}

/// Prints a warning for every unknown `CHAOS_*` / `FUSIO_CHAOS_*` variable in the
/// environment: it is ignored, and is most likely a typo.
pub fn warn_unknown_vars() {
    for (name, closest) in
        unknown_vars(std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()))
    {
        match closest {
            Some(k) => eprintln!(
                "⚠️ {name} is not a variable this harness reads (ignored); did you mean {k}?"
            ),
            None => eprintln!(
                "⚠️ {name} is not a variable this harness reads (ignored); README lists them"
            ),
        }
    }
}

/// Parses an environment variable into `T`, or `None` when unset.
pub fn env_parse<T: FromStr>(var: &'static str) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env_var(var)? {
        None => Ok(None),
        Some(raw) => raw
            .parse::<T>()
            .map(Some)
            .map_err(|e| ConfigError::invalid(var, &raw, e.to_string())),
    }
}

/// Reads a duration given in (fractional) seconds, or `None` when unset.
pub fn env_duration_secs(var: &'static str) -> Result<Option<Duration>, ConfigError> {
    match env_parse::<f64>(var)? {
        None => Ok(None),
        Some(secs) => Duration::try_from_secs_f64(secs)
            .map(Some)
            .map_err(|e| ConfigError::invalid(var, &secs.to_string(), e.to_string())),
    }
}

/// Reads a boolean flag: `1`, `true`, `yes` are true; `0`, `false`, `no` are false.
pub fn env_flag(var: &'static str) -> Result<bool, ConfigError> {
    match env_var(var)?
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("0") | Some("false") | Some("no") => Ok(false),
        Some("1") | Some("true") | Some("yes") => Ok(true),
        Some(other) => Err(ConfigError::invalid(var, other, "expected 1/0, true/false")),
    }
}

/// One workload: how many clients, how fast, over which keys, for how long.
///
/// Key choice: each writer owns a private slice of the key pool (the pool minus the shared
/// part, split evenly between writers). With probability `key_overlap_ratio` a write picks a
/// key uniformly from the shared part, which is `key_overlap_ratio x key_pool_size` keys that
/// every writer may touch; otherwise it picks from its own slice. Readers pick uniformly from
/// the whole pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkloadConfig {
    /// Number of writer clients.
    pub num_writers: usize,
    /// Number of reader clients.
    pub num_readers: usize,
    /// Write operations per second, per writer (open loop).
    pub writer_rate: f64,
    /// Read operations per second, per reader (open loop).
    pub reader_rate: f64,
    /// Number of distinct keys.
    pub key_pool_size: usize,
    /// Fraction of the pool shared by all writers, and the chance a write uses it.
    pub key_overlap_ratio: f64,
    /// Retries after a precondition failure (0 = no retry).
    pub max_retry_count: u32,
    /// Base wait before a retry, in ms; doubles per attempt with full jitter (0 = at once).
    pub retry_backoff_ms: u64,
    /// Size of each written value in bytes.
    pub value_size: usize,
    /// How long clients issue operations.
    #[serde(with = "duration_secs")]
    pub duration: Duration,
}

impl Default for WorkloadConfig {
    /// Inside the ranges the plan expects of the best config: 4 writers at 1 op/s, 4 readers
    /// at 20 ops/s, 200 keys, overlap 0.5, one retry, 1 KiB values, 300 s.
    fn default() -> Self {
        Self {
            num_writers: 4,
            num_readers: 4,
            writer_rate: 1.0,
            reader_rate: 20.0,
            key_pool_size: 200,
            key_overlap_ratio: 0.5,
            max_retry_count: 1,
            retry_backoff_ms: 0,
            value_size: 1024,
            duration: Duration::from_secs(300),
        }
    }
}

mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

impl WorkloadConfig {
    /// Applies every `CHAOS_*` override found in the environment, then validates.
    pub fn with_env_overrides(mut self) -> Result<Self, ConfigError> {
        macro_rules! over {
            ($field:ident, $var:literal) => {
                if let Some(v) = env_parse($var)? {
                    self.$field = v;
                }
            };
        }
        over!(num_writers, "CHAOS_NUM_WRITERS");
        over!(num_readers, "CHAOS_NUM_READERS");
        over!(writer_rate, "CHAOS_WRITER_RATE");
        over!(reader_rate, "CHAOS_READER_RATE");
        over!(key_pool_size, "CHAOS_KEY_POOL_SIZE");
        over!(key_overlap_ratio, "CHAOS_KEY_OVERLAP_RATIO");
        over!(max_retry_count, "CHAOS_MAX_RETRY_COUNT");
        over!(retry_backoff_ms, "CHAOS_RETRY_BACKOFF_MS");
        over!(value_size, "CHAOS_VALUE_SIZE");
        if let Some(d) = env_duration_secs("CHAOS_DURATION_SECS")? {
            self.duration = d;
        }
        self.validate()?;
        Ok(self)
    }

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
        if self.duration.is_zero() {
            return bad(
                "CHAOS_DURATION_SECS",
                "0".into(),
                "must be more than 0 seconds",
            );
        }
        Ok(())
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

    /// The key name for index `i`.
    pub fn key_name(i: usize) -> String {
        format!("k{i:06}")
    }

    /// A short label like `w4-r4-wr2-rr20-k200-o0.5`.
    pub fn label(&self) -> String {
        format!(
            "w{}-r{}-wr{}-rr{}-k{}-o{}",
            self.num_writers,
            self.num_readers,
            self.writer_rate,
            self.reader_rate,
            self.key_pool_size,
            self.key_overlap_ratio
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_misspelt_variable_gets_a_warning_naming_the_closest_known_one() {
        let found = unknown_vars(
            [
                "CHAOS_NUM_WRITER",
                "CHAOS_NUM_WRITERS",
                "HOME",
                "CHAOS_ZZZZZZZZZZZZ",
            ]
            .map(String::from),
        );
        assert_eq!(
            found,
            [
                ("CHAOS_NUM_WRITER".to_string(), Some("CHAOS_NUM_WRITERS")),
                ("CHAOS_ZZZZZZZZZZZZ".to_string(), None),
            ]
        );
    }

    #[test]
    fn readme_configuration_table_lists_exactly_the_known_variables() {
        let readme = include_str!("../../README.md");
        let table = readme
            .split("## Configuration")
            .nth(1)
            .and_then(|t| t.split("\n## ").next())
            .expect("README has a Configuration section");
        let mut listed: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with("| `"))
            .filter_map(|l| l.split('|').nth(1))
            .flat_map(|cell| cell.split('`').skip(1).step_by(2))
            .collect();
        let mut known = KNOWN_VARS.to_vec();
        listed.sort_unstable();
        known.sort_unstable();
        assert_eq!(listed, known, "README's table and KNOWN_VARS disagree");
    }

    #[test]
    fn env_parse_error_names_variable_and_value() {
        // A variable name only this test uses, so parallel tests do not interfere.
        std::env::set_var("CHAOS_TEST_ONLY_PARSE", "four");
        let err = env_parse::<usize>("CHAOS_TEST_ONLY_PARSE").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("CHAOS_TEST_ONLY_PARSE") && msg.contains("four"),
            "{msg}"
        );
        std::env::remove_var("CHAOS_TEST_ONLY_PARSE");
    }
}
