//! What runs give back, as data: [`RunResult`] when a run produced results, [`RunError`] when
//! it could not, [`ActorRow`] (what its actors did, as `STEM_actors.csv` records it), and
//! [`ScenarioOutcome`], one labelled scenario's result or why it produced none, with the
//! [`problems`] of a batch of them. The workload produces them
//! ([`crate::workload::run_workload`], `ScenarioOutcome::run`); results, verdicts and the
//! console read them.

use std::path::PathBuf;

use serde::Serialize;

use crate::chaos::recovery::Recovery;
use crate::chaos::storage::Deleted;
use crate::chaos::{ChaosEvent, CrashReport, FaultCounts, InjectedFault, S3OpKind};
use crate::checker::{CheckReport, VerificationRow};
use crate::client::{BackgroundReport, PinnedReport};
use crate::compactor::CompactionReport;
use crate::config::WorkloadConfig;
use crate::host::HostReport;
use crate::manifest::LeasesLeft;
use crate::metrics::{MetricsSummary, RawCounts};
use crate::timeline::TimelineRow;
use crate::world::trace::Digest;

/// What one finished run produced.
pub struct RunResult {
    /// The workload it ran, every knob (saved in `STEM_run.json`).
    pub workload: WorkloadConfig,
    /// The 24 columns.
    pub summary: MetricsSummary,
    /// Raw counters.
    pub counts: RawCounts,
    /// Per-second timeline (rows of `STEM_timeline.csv`).
    pub timeline: Vec<TimelineRow>,
    /// Read p50 of each whole minute of the run, ms (`None`: no read that minute).
    pub read_p50_by_minute: Vec<Option<f64>>,
    /// The isolation check of the recorded history.
    pub check: CheckReport,
    /// Where the history was written.
    pub history_path: PathBuf,
    /// The run's prefix in the bucket (its manifest's objects are under it).
    pub prefix: String,
    /// HEAD txn id read at the end (`None` if the final read failed).
    pub final_head_txn: Option<u64>,
    /// S3 operations completed when the run was torn down.
    pub s3_ops_at_end: u64,
    /// The same, by kind of operation.
    pub s3_ops_by_kind: Vec<(S3OpKind, u64)>,
    /// The chaos event log (ms since the run started).
    pub events: Vec<ChaosEvent>,
    /// Recovery after each network block.
    pub recoveries: Vec<Recovery>,
    /// Acknowledgement times of every commit, ms since the run started, sorted.
    pub commit_times_ms: Vec<u64>,
    /// S3-level faults injected.
    pub faults: FaultCounts,
    /// Operations abandoned at a client step timeout, session tasks still running when the
    /// clients were done, and what became of them.
    pub background: BackgroundReport,
    /// Harness faults (panics) during the run: non-empty means the run is `INVALID`.
    pub harness_faults: Vec<String>,
    /// How healthy the host was while the clients ran.
    pub host: HostReport,
    /// What the compactors did (all zero without `CHAOS_COMPACT_EVERY_MS`).
    pub compactions: CompactionReport,
    /// Segment and checkpoint objects deleted (by compaction and GC).
    pub deleted: Deleted,
    /// Of those, the ones deleted while the clients (writers, readers) still ran: before the
    /// compactors' last passes, which may outlive them.
    pub deleted_while_clients_ran: Deleted,
    /// Distinct `Manifest` values the clients used (1 when shared).
    pub manifests: usize,
    /// What the pinned readers did (all zero without `CHAOS_PINNED_READERS`).
    pub pinned: PinnedReport,
    /// Offset of writer 0's wall clock when the workload ended, ms (0: no skew): its skew plus
    /// what it drifted.
    pub clock_skew_ms: i64,
    /// Writer crashes injected (all zero without `CHAOS_CRASH_EVERY_MS`).
    pub crashes: CrashReport,
    /// A simulated run's proof of replay: the digest of every storage operation and of the
    /// final store (`None` in real time, where the host's scheduler decides interleavings).
    pub replay: Option<Digest>,
    /// Write leases the simulated store still held at the end (`None` in real time).
    pub leases_left: Option<LeasesLeft>,
    /// Every fault the run injected, as the fault point that injects exactly it (also in the
    /// history as `fault` events).
    pub injected: Vec<InjectedFault>,
}

impl RunResult {
    /// The run's row of `STEM_verification.csv`: the check's counts and the run's verdict.
    pub fn verification_row(&self) -> VerificationRow {
        VerificationRow {
            verdict: self.verdict(),
            ..self.check.verification_row(&self.summary.config_label)
        }
    }

    /// The run's row of `STEM_actors.csv`: what its compactors, GC, clients and crash
    /// injection did.
    pub fn actor_row(&self) -> ActorRow {
        ActorRow {
            config_label: self.summary.config_label.clone(),
            compactions: self.compactions.passes,
            compaction_errors: self.compactions.errors,
            segments_deleted: self.deleted.segments,
            checkpoints_deleted: self.deleted.checkpoints,
            manifests: self.manifests as u64,
            pinned_reads: self.pinned.sessions,
            pinned_read_errors: self.pinned.failed,
            pinned_oldest_ms: self.pinned.oldest_ms,
            clock_skew_ms: self.clock_skew_ms,
            crashes: self.crashes.total(),
            multi_key_txns: self.check.multi_key_txns(),
            deletes: self.check.deletes(),
            range_scans: self.check.range_scans(),
        }
    }

    /// Whether the harness itself failed during the run (a panic in any of its tasks): its
    /// figures and its isolation check say nothing about fusio-manifest.
    pub fn is_invalid(&self) -> bool {
        !self.harness_faults.is_empty()
    }

    /// The run's verdict: `INVALID: harness fault`, else the isolation check's `PASS`,
    /// `FAIL` or `UNKNOWN: reason`.
    pub fn verdict(&self) -> String {
        if self.is_invalid() {
            crate::selfcheck::INVALID_VERDICT.to_string()
        } else {
            self.check.verdict().to_string()
        }
    }
}

/// One row of `STEM_actors.csv`: what a run's actors did, so a reader sees the compactor, GC
/// and clients its verdict was judged under. Not a judgement: the verdict is in
/// `STEM_verification.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActorRow {
    /// The run's configuration (scenario) label, as in the other result files.
    pub config_label: String,
    /// Compactor passes that succeeded (0 without `CHAOS_COMPACT_EVERY_MS`).
    pub compactions: u64,
    /// Compactor passes that failed.
    pub compaction_errors: u64,
    /// Segment objects deleted (GC after a compaction).
    pub segments_deleted: u64,
    /// Checkpoint objects deleted (replaced runs, old checkpoints).
    pub checkpoints_deleted: u64,
    /// Distinct fusio-manifest `Manifest` values the clients used (1 when shared).
    pub manifests: u64,
    /// Pinned read sessions that read every key (0 without `CHAOS_PINNED_READERS`).
    pub pinned_reads: u64,
    /// Pinned read sessions that failed.
    pub pinned_read_errors: u64,
    /// Oldest snapshot a successful pinned session read from, ms after it was taken.
    pub pinned_oldest_ms: u64,
    /// Offset of writer 0's wall clock when the workload ended, ms (0: no skew): its skew
    /// plus what it drifted.
    pub clock_skew_ms: i64,
    /// Writer processes killed by crash injection (0 without `CHAOS_CRASH_EVERY_MS`).
    pub crashes: u64,
    /// Committed multi-key transactions (0 without `CHAOS_TXN_KEYS` of 2 or more). Counted
    /// from the history by the checker, which alone knows which ambiguous ones committed.
    pub multi_key_txns: u64,
    /// Keys deleted by those transactions (counted by the checker too).
    pub deletes: u64,
    /// Range scans completed by readers (0 without `CHAOS_SCAN_KEYS`; counted by the
    /// checker).
    pub range_scans: u64,
}

/// Why a run could not produce results.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The history file could not be written or read back.
    #[error("history {path}: {source}")]
    History {
        /// The history file.
        path: PathBuf,
        /// The I/O or parse error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// One scenario's result, or why it produced none.
pub struct ScenarioOutcome {
    /// Scenario label.
    pub label: String,
    /// The seed its clients drew from.
    pub seed: u64,
    /// The run's result, or the error / panic message.
    pub result: Result<RunResult, String>,
}

/// One line per scenario that crashed, was invalid, or did not pass its isolation check.
pub fn problems(outcomes: &[ScenarioOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|o| match &o.result {
            Err(e) => Some(format!("{}: crashed: {e}", o.label)),
            Ok(r) if r.is_invalid() => Some(format!(
                "{}: {}: {}",
                o.label,
                crate::selfcheck::INVALID_VERDICT,
                r.harness_faults.join("; ")
            )),
            Ok(r) if !r.check.is_valid() => {
                Some(format!("{}: {} (see report above)", o.label, r.verdict()))
            }
            Ok(_) => None,
        })
        .collect()
}
