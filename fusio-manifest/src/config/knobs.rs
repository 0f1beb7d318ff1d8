//! The workload knobs: every `CHAOS_*` variable that sets a [`WorkloadConfig`] field, each
//! declared once in the table at the end of this file.
//!
//! One row gives the field (its doc comment, type and default), the variable, the [`Vars`]
//! method that reads it (`parse` or `duration_secs`), the default and meaning README states,
//! and another valid value for tests. From the table come [`WorkloadConfig`] and its
//! `Default`, [`WorkloadOverrides`] (an `Option` per knob) with its `read`, `apply` and
//! `pairs`, [`WorkloadConfig::settings`] (the whole workload as settings, saved per scenario
//! in `STEM_run.json`), and the knobs' rows of [`super::VARS`]. Adding a knob is one row here
//! and its use; `UPDATE_README=1 cargo test -p fusio-manifest-chaos --lib
//! readme_configuration_table` then writes README's table. A range it must stay in is a rule
//! in [`WorkloadConfig::validate`].

use std::time::Duration;

use super::vars::Vars;
use super::{var, ConfigError, ManifestMode, Var};

/// How a value read by each [`Vars`] method is written back, as text that reads the same.
mod render {
    use std::time::Duration;

    /// A value read with `Vars::parse`: its `Display`.
    pub(super) fn parse<T: std::fmt::Display>(value: &T) -> String {
        value.to_string()
    }

    /// A duration read with `Vars::duration_secs`: (fractional) seconds.
    pub(super) fn duration_secs(value: &Duration) -> String {
        value.as_secs_f64().to_string()
    }
}

/// Generates everything a knob needs from its one row: `/// doc` then
/// `field: Type = default, "CHAOS_VAR", read_method, "README default", "other", "meaning";`
/// where `other` is a valid value that is not the default (the round-trip test sets it).
macro_rules! workload_knobs {
    ($(
        $(#[$doc:meta])*
        $field:ident: $ty:ty = $default:expr,
        $var:literal, $read:ident, $default_text:literal, $other:literal, $meaning:literal;
    )*) => {
        /// One workload: how many clients, how fast, over which keys, for how long.
        ///
        /// Key choice: each writer owns a private slice of the key pool (the pool minus the
        /// shared part, split evenly between writers). With probability `key_overlap_ratio` a
        /// write picks a key uniformly from the shared part, which is `key_overlap_ratio x
        /// key_pool_size` keys that every writer may touch; otherwise it picks from its own
        /// slice. Readers pick uniformly from the whole pool.
        #[derive(Clone, Debug, PartialEq)]
        pub struct WorkloadConfig {
            $(
                $(#[$doc])*
                pub $field: $ty,
            )*
        }

        impl Default for WorkloadConfig {
            /// Inside the ranges the plan expects of the best config: 4 writers at 1 op/s, 4
            /// readers at 20 ops/s, 200 keys, overlap 0.5, one retry, 1 KiB values, 300 s.
            fn default() -> Self {
                Self {
                    $($field: $default,)*
                }
            }
        }

        /// `CHAOS_*` overrides of [`WorkloadConfig`] fields; `None` keeps the entry point's
        /// value.
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct WorkloadOverrides {
            $(
                #[doc = concat!("`", $var, "`.")]
                pub $field: Option<$ty>,
            )*
        }

        impl WorkloadOverrides {
            /// Every knob's variable in `vars`, read with the table's method.
            pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
                Ok(Self {
                    $($field: vars.$read($var)?,)*
                })
            }

            /// `base` with every override applied, validated (the error names the variable).
            pub fn apply(&self, base: WorkloadConfig) -> Result<WorkloadConfig, ConfigError> {
                let c = WorkloadConfig {
                    $($field: self.$field.unwrap_or(base.$field),)*
                };
                c.validate()?;
                Ok(c)
            }

            /// The overrides set, as the `(variable, value)` pairs that set them again, in
            /// table order.
            pub fn pairs(&self) -> Vec<(&'static str, String)> {
                [$(self.$field.as_ref().map(|v| ($var, render::$read(v))),)*]
                    .into_iter()
                    .flatten()
                    .collect()
            }
        }

        impl WorkloadConfig {
            /// Every knob at this workload's value, as the `(variable, value)` pairs that set
            /// it again (in table order): the whole workload, not only what differs from the
            /// default. [`WorkloadConfig::from_settings_line`] reads it back.
            pub fn settings(&self) -> Vec<(&'static str, String)> {
                vec![$(($var, render::$read(&self.$field)),)*]
            }
        }

        /// The knobs' rows of [`super::VARS`], in table order.
        pub(super) const KNOB_VARS: &[Var] = &[$(var($var, $default_text, $meaning),)*];

        /// Each knob's variable at its `other` value, in table order: all of them together
        /// are a valid workload with no field at its default.
        #[cfg(test)]
        pub(super) const KNOB_OTHERS: &[(&str, &str)] = &[$(($var, $other),)*];
    };
}

workload_knobs! {
    /// Number of writer clients.
    num_writers: usize = 4,
        "CHAOS_NUM_WRITERS", parse, "4", "3", "writer clients";
    /// Number of reader clients.
    num_readers: usize = 4,
        "CHAOS_NUM_READERS", parse, "4", "2", "reader clients";
    /// Write operations per second, per writer (open loop).
    writer_rate: f64 = 1.0,
        "CHAOS_WRITER_RATE", parse, "1", "2.5", "write ops/s per writer (open loop)";
    /// Read operations per second, per reader (open loop).
    reader_rate: f64 = 20.0,
        "CHAOS_READER_RATE", parse, "20", "12.5",
        "read ops/s per reader (open loop; each read gets 2 keys, or scans `CHAOS_SCAN_KEYS` keys)";
    /// Number of distinct keys.
    key_pool_size: usize = 200,
        "CHAOS_KEY_POOL_SIZE", parse, "200", "300", "distinct keys";
    /// Fraction of the pool shared by all writers, and the chance a write uses it.
    key_overlap_ratio: f64 = 0.5,
        "CHAOS_KEY_OVERLAP_RATIO", parse, "0.5", "0.25",
        "share of the pool all writers use, and the chance a write picks from it; otherwise a writer uses its own private slice";
    /// Retries after a precondition failure (0 = no retry).
    max_retry_count: u32 = 1,
        "CHAOS_MAX_RETRY_COUNT", parse, "1", "3",
        "retries after `PreconditionFailed` (new session each time)";
    /// Base wait before a retry, in ms; doubles per attempt with full jitter (0 = at once).
    retry_backoff_ms: u64 = 0,
        "CHAOS_RETRY_BACKOFF_MS", parse, "0", "40",
        "base wait before a retry; doubles per retry, full jitter";
    /// Size of each written value in bytes.
    value_size: usize = 1024,
        "CHAOS_VALUE_SIZE", parse, "1024", "512", "bytes per written value";
    /// Keys per write transaction: 1 is a single-key write (a `write` event); from 2 on,
    /// every writer op reads and writes that many distinct keys in one session (a `txn`
    /// event).
    txn_keys: usize = 1,
        "CHAOS_TXN_KEYS", parse, "1", "3",
        "keys per write transaction: 1 is a single-key write (read a key, put it); n from 2 on makes every writer op one multi-key transaction that reads n distinct keys (picked like single-key writes) and puts or deletes each, in one session. At most the distinct keys a writer can pick from (the shared part plus its private slice)";
    /// In a multi-key transaction, the chance in percent that each key is deleted instead
    /// of put (0..=100; unused when `txn_keys` is 1).
    delete_percent: u32 = 0,
        "CHAOS_DELETE_PERCENT", parse, "0", "20",
        "chance in percent (0 to 100) that a key of a multi-key transaction is deleted instead of put; applies only when `CHAOS_TXN_KEYS` is 2 or more";
    /// Keys per reader range scan: 0 makes every reader op a get of 2 random keys; n > 0
    /// makes it one `scan_range` over n consecutive keys from a random one.
    scan_keys: usize = 0,
        "CHAOS_SCAN_KEYS", parse, "0", "6",
        "0: readers get 2 random keys per op; n > 0: every reader op is one range scan (`scan_range`) over n consecutive keys from a random one. At most `CHAOS_KEY_POOL_SIZE`, which must then be below 1000000 (key names sort like their indices)";
    /// Interval between passes of each compactor, in ms (0 = no compactor).
    compact_every_ms: u64 = 0,
        "CHAOS_COMPACT_EVERY_MS", parse, "0", "700",
        "interval between passes of fusio-manifest's compactor (`compact_and_gc`), run beside the clients over the same storage wrapper; 0: no compactor";
    /// Compactors running at once when `compact_every_ms` is set (deployments do run two
    /// by mistake).
    compactors: usize = 1,
        "CHAOS_COMPACTORS", parse, "1", "2",
        "compactors running at once when `CHAOS_COMPACT_EVERY_MS` is set, each on its own phase of the interval";
    /// Pinned readers: each holds one read session (its snapshot pinned, its lease kept
    /// alive) for `pin_secs`, reading a key every [`WorkloadConfig::PIN_PACE`], then opens
    /// the next.
    pinned_readers: usize = 0,
        "CHAOS_PINNED_READERS", parse, "0", "1",
        "pinned readers: each holds one read session (snapshot pinned, lease kept alive unless `CHAOS_KEEP_LEASES=false`) for `CHAOS_PIN_SECS`, reading a key every 500 ms, then opens the next";
    /// How long each pinned read session stays open, in seconds.
    pin_secs: u64 = 30,
        "CHAOS_PIN_SECS", parse, "30", "5",
        "how long each pinned read session stays open (at least 1)";
    /// Whether the clients share one `Manifest` value or each has its own.
    manifests: ManifestMode = ManifestMode::Shared,
        "CHAOS_MANIFESTS", parse, "shared", "per-client",
        "`shared`: all clients use one fusio-manifest `Manifest` value; `per-client`: each client (and the compactors and final read) its own, with its own HTTP client, orphan-recovery loop, lease store and clock, as separate processes";
    /// Offset of writer 0's wall clock, in ms (negative: behind); needs
    /// [`ManifestMode::PerClient`], since a shared manifest has one clock.
    clock_skew_ms: i64 = 0,
        "CHAOS_CLOCK_SKEW_MS", parse, "0", "-1500",
        "offset of writer 0's wall clock in ms (negative: behind), as fusio-manifest sees it for lease expiry, orphan recovery and GC; needs `CHAOS_MANIFESTS=per-client`";
    /// How fast writer 0's wall clock drifts from the host's, ms per second (negative: it
    /// runs slow), on top of `clock_skew_ms`: from -1000 (it stands still) to 1000. Needs
    /// [`ManifestMode::PerClient`].
    clock_drift_ms_per_s: i64 = 0,
        "CHAOS_CLOCK_DRIFT_MS_PER_S", parse, "0", "15",
        "how fast writer 0's wall clock drifts off the host's, in ms per second of the run (negative: slow), from -1000 (it stands still) to 1000, on top of `CHAOS_CLOCK_SKEW_MS`; needs `CHAOS_MANIFESTS=per-client`";
    /// Every this many ms one writer (in turn) is armed to crash at a random point of its
    /// next commit ([`crate::chaos::CrashPoint`]); 0 = no crashes. Needs
    /// [`ManifestMode::PerClient`]: a crash kills the writer's own manifest.
    crash_every_ms: u64 = 0,
        "CHAOS_CRASH_EVERY_MS", parse, "0", "4000",
        "every this many ms one writer (in turn) is armed to crash at its next lease PUT, segment PUT or HEAD CAS (chosen at random): its process (manifest, background tasks, sessions) dies with the answer in flight and a fresh one takes over; needs `CHAOS_MANIFESTS=per-client`; 0: no crashes";
    /// Lease TTL of every session, in seconds (fusio-manifest's default: 60).
    lease_ttl_secs: u64 = 60,
        "CHAOS_LEASE_TTL_SECS", parse, "60", "9",
        "lease TTL of every session (fusio-manifest's retention; at least 1)";
    /// Whether clients keep their session leases alive with fusio-manifest's lease keeper
    /// (`false`: a session that outlives its TTL loses its lease).
    keep_leases: bool = true,
        "CHAOS_KEEP_LEASES", parse, "true", "false",
        "`false`: clients, pinned readers included, do not run fusio-manifest's lease keeper, so a session that outlives the lease TTL loses its lease (the fault sweep's `lease-expiry` scenario)";
    /// Bound on each client step in ms (0: none, as fusio's HTTP client has none).
    op_timeout_ms: u64 = 0,
        "CHAOS_OP_TIMEOUT_MS", parse, "0", "150",
        "bound on each client step (open session, get, commit, end) in ms; 0: none, like fusio's HTTP client (the fault sweep uses 2000 unless set; the seed search's schedules always 2000, a replayed seed this setting). Past it the client records the attempt (`fail` before commit, `info` after); the step itself is never cancelled";
    /// Least age of a segment before GC may delete it, in seconds (default 30).
    segment_ttl_secs: u64 = 30,
        "CHAOS_SEGMENT_TTL_SECS", parse, "30", "11",
        "least age of a segment before GC may delete it";
    /// Least age of an old checkpoint before GC may delete it, in seconds (default 60).
    checkpoint_ttl_secs: u64 = 60,
        "CHAOS_CHECKPOINT_TTL_SECS", parse, "60", "13",
        "least age of an old checkpoint before GC may delete it";
    /// Checkpoints GC always keeps, newest first (default 2).
    checkpoints_keep: usize = 2,
        "CHAOS_CHECKPOINTS_KEEP", parse, "2", "3",
        "checkpoints GC always keeps (at least 1)";
    /// How long clients issue operations.
    duration: Duration = Duration::from_secs(300),
        "CHAOS_DURATION_SECS", duration_secs,
        "300 chaos and fault sweeps; 60 baseline, coverage sweep, each seed of the search; comprehensive: 20 min over its batches (12 on 2 cores, 60 from 16)",
        "42.5", "duration of each scenario (more than 0)";
}
