//! [`ConfigError`]: a bad or missing environment variable. Its own module, at the ground, so
//! that the modules which parse one value each (the time mode, the simulated store, the
//! latency profile) name it without importing the configuration that reads them all.

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
