//! [`Vars`]: the variables of one process, and the parsing helpers every reader of them
//! shares (text, numbers, durations, flags).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use super::ConfigError;

/// The variables of one process: the environment, or a fixed list in tests.
pub(super) struct Vars(pub(super) BTreeMap<String, Option<String>>);

impl Vars {
    /// Trimmed values; `None` for a value that is not UTF-8.
    pub(super) fn from_env() -> Self {
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
    pub(super) fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), Some(v.trim().to_string())))
                .collect(),
        )
    }

    /// Unset or empty is `None`; a non-UTF-8 value is an error.
    pub(super) fn text(&self, var: &'static str) -> Result<Option<String>, ConfigError> {
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

    pub(super) fn parse<T: FromStr>(&self, var: &'static str) -> Result<Option<T>, ConfigError>
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
    pub(super) fn positive(&self, var: &'static str) -> Result<Option<u64>, ConfigError> {
        match self.parse::<u64>(var)? {
            Some(0) => Err(ConfigError::invalid(var, "0", "must be at least 1")),
            v => Ok(v),
        }
    }

    /// A duration in (fractional) seconds, more than 0.
    pub(super) fn duration_secs(&self, var: &'static str) -> Result<Option<Duration>, ConfigError> {
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
    pub(super) fn flag(&self, var: &'static str) -> Result<bool, ConfigError> {
        match self.text(var)?.map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("0") | Some("false") | Some("no") => Ok(false),
            Some("1") | Some("true") | Some("yes") => Ok(true),
            Some(other) => Err(ConfigError::invalid(var, other, "expected 1/0, true/false")),
        }
    }

    /// `var`, or its lower-case spelling.
    pub(super) fn either_case(&self, var: &'static str) -> Result<Option<String>, ConfigError> {
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
