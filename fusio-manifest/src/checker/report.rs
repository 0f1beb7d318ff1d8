//! The check report: counts, examples, console output and the verification CSV row.

use std::io::{self, Write};

use serde::Serialize;

use super::{Anomaly, AnomalyClass, OpRef, MAX_EXAMPLES};

const CLASSES: usize = AnomalyClass::ALL.len();

/// Anomalies found so far: every one counted, the first [`MAX_EXAMPLES`] of each class kept.
#[derive(Debug, Default)]
pub(super) struct Findings {
    counts: [u64; CLASSES],
    examples: Vec<Anomaly>,
}

impl Findings {
    /// Counts one anomaly of `class`; `describe` (ops, explanation) is only called while
    /// examples of that class are still kept.
    pub(super) fn add(
        &mut self,
        class: AnomalyClass,
        describe: impl FnOnce() -> (Vec<OpRef>, String),
    ) {
        let count = &mut self.counts[class.index()];
        *count += 1;
        if *count <= MAX_EXAMPLES as u64 {
            let (ops, explanation) = describe();
            self.examples.push(Anomaly {
                class,
                ops,
                explanation,
            });
        }
    }
}

/// Totals over the history.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Stats {
    pub(super) ops_checked: u64,
    pub(super) acknowledged_writes: u64,
    pub(super) read_ops: u64,
    pub(super) values_read: u64,
    pub(super) readers: u64,
}

/// The result of checking one history.
#[derive(Debug, Clone)]
pub struct CheckReport {
    stats: Stats,
    counts: [u64; CLASSES],
    examples: Vec<Anomaly>,
    ran: [bool; CLASSES],
    head_txn: Option<u64>,
    problem_count: u64,
    problems: Vec<String>,
}

/// One row of the verification CSV (columns in this order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerificationRow {
    /// Scenario name.
    pub scenario: String,
    /// Completed operations checked.
    pub ops_checked: u64,
    /// Count of [`AnomalyClass::AbortedRead`].
    pub aborted_read: u64,
    /// Count of [`AnomalyClass::LostWrite`].
    pub lost_write: u64,
    /// Count of [`AnomalyClass::LostUpdate`].
    pub lost_update: u64,
    /// Count of [`AnomalyClass::DuplicateTxnId`].
    pub duplicate_txn_id: u64,
    /// Count of [`AnomalyClass::NonSnapshotRead`].
    pub non_snapshot_read: u64,
    /// Count of [`AnomalyClass::RealtimeViolation`].
    pub realtime_violation: u64,
    /// Count of [`AnomalyClass::NonMonotonicRead`].
    pub non_monotonic_read: u64,
    /// Count of [`AnomalyClass::GarbageRead`].
    pub garbage_read: u64,
    /// Count of [`AnomalyClass::DuplicateKey`].
    pub duplicate_key: u64,
    /// Count of [`AnomalyClass::TxnCountMismatch`].
    pub txn_count_mismatch: u64,
    /// `PASS` if [`CheckReport::is_valid`], else `FAIL`.
    pub verdict: String,
}

impl CheckReport {
    pub(super) fn new(
        findings: Findings,
        ran: [bool; CLASSES],
        stats: Stats,
        head_txn: Option<u64>,
        problem_count: u64,
        problems: Vec<String>,
    ) -> Self {
        let mut examples = findings.examples;
        examples.sort_by_key(|a| a.class);
        CheckReport {
            stats,
            counts: findings.counts,
            examples,
            ran,
            head_txn,
            problem_count,
            problems,
        }
    }

    /// Completed operations checked: read operations plus write operations with at least one
    /// completed attempt.
    pub fn ops_checked(&self) -> u64 {
        self.stats.ops_checked
    }

    /// Acknowledged (`ok`) write attempts.
    pub fn acknowledged_writes(&self) -> u64 {
        self.stats.acknowledged_writes
    }

    /// Completed read operations.
    pub fn read_ops(&self) -> u64 {
        self.stats.read_ops
    }

    /// `(key, value)` observations made by read operations.
    pub fn values_read(&self) -> u64 {
        self.stats.values_read
    }

    /// Distinct reader clients.
    pub fn readers(&self) -> u64 {
        self.stats.readers
    }

    /// HEAD's txn id from the `final` event, `None` if the history has none.
    pub fn head_txn(&self) -> Option<u64> {
        self.head_txn
    }

    /// Whether the history has a `final` event.
    pub fn final_present(&self) -> bool {
        self.head_txn.is_some()
    }

    /// How many anomalies of `class` were found.
    pub fn count(&self, class: AnomalyClass) -> u64 {
        self.counts[class.index()]
    }

    /// How many anomalies were found in all.
    pub fn total_anomalies(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Example anomalies (at most [`MAX_EXAMPLES`] per class), in class order.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.examples
    }

    /// Whether the check for `class` ran in full (`lost_write` and `txn_count_mismatch` need
    /// the `final` event).
    pub fn ran(&self, class: AnomalyClass) -> bool {
        self.ran[class.index()]
    }

    /// Inconsistencies of the history itself: how many, and the first [`MAX_EXAMPLES`].
    pub fn problems(&self) -> (u64, &[String]) {
        (self.problem_count, &self.problems)
    }

    /// True iff no anomaly was found, the history is consistent, and it has a `final` event.
    pub fn is_valid(&self) -> bool {
        self.total_anomalies() == 0 && self.problem_count == 0 && self.final_present()
    }

    /// The verification CSV row for `scenario`.
    pub fn verification_row(&self, scenario: &str) -> VerificationRow {
        let c = |class| self.count(class);
        VerificationRow {
            scenario: scenario.to_string(),
            ops_checked: self.stats.ops_checked,
            aborted_read: c(AnomalyClass::AbortedRead),
            lost_write: c(AnomalyClass::LostWrite),
            lost_update: c(AnomalyClass::LostUpdate),
            duplicate_txn_id: c(AnomalyClass::DuplicateTxnId),
            non_snapshot_read: c(AnomalyClass::NonSnapshotRead),
            realtime_violation: c(AnomalyClass::RealtimeViolation),
            non_monotonic_read: c(AnomalyClass::NonMonotonicRead),
            garbage_read: c(AnomalyClass::GarbageRead),
            duplicate_key: c(AnomalyClass::DuplicateKey),
            txn_count_mismatch: c(AnomalyClass::TxnCountMismatch),
            verdict: if self.is_valid() { "PASS" } else { "FAIL" }.to_string(),
        }
    }

    /// Prints the console report to stdout (see [`CheckReport::write_console`]).
    pub fn print_console(&self, label: &str) {
        let mut out = io::stdout().lock();
        // A closed stdout is not worth failing over.
        let _ = self.write_console(&mut out, label);
    }

    /// Writes the console report: one ✅/❌ line per check with counts, the example anomalies
    /// of each failed check, and the verdict.
    pub fn write_console(&self, out: &mut impl Write, label: &str) -> io::Result<()> {
        use AnomalyClass as C;
        let s = &self.stats;
        writeln!(
            out,
            "== isolation check [{label}]: {} operations checked ==",
            s.ops_checked
        )?;
        if self.final_present() && self.count(C::LostWrite) == 0 {
            writeln!(
                out,
                "✅ All successful writes accounted for ({} acknowledged writes)",
                s.acknowledged_writes
            )?;
        } else if !self.final_present() {
            writeln!(
                out,
                "❌ Could not verify that successful writes are accounted for: the history has no final state"
            )?;
        } else {
            writeln!(
                out,
                "❌ Lost writes: {} ({} acknowledged writes)",
                self.count(C::LostWrite),
                s.acknowledged_writes
            )?;
            self.write_examples(out, C::LostWrite)?;
        }
        let uncommitted = self.count(C::AbortedRead) + self.count(C::GarbageRead);
        if uncommitted == 0 {
            writeln!(
                out,
                "✅ Readers only observed committed data ({} reads, {} values)",
                s.read_ops, s.values_read
            )?;
        } else {
            writeln!(
                out,
                "❌ Uncommitted or unknown data observed: {} aborted_read, {} garbage_read ({} reads, {} values)",
                self.count(C::AbortedRead),
                self.count(C::GarbageRead),
                s.read_ops,
                s.values_read
            )?;
            self.write_examples(out, C::AbortedRead)?;
            self.write_examples(out, C::GarbageRead)?;
        }
        if self.count(C::NonMonotonicRead) == 0 {
            writeln!(
                out,
                "✅ Monotonic reads verified for all readers ({} readers)",
                s.readers
            )?;
        } else {
            writeln!(
                out,
                "❌ Non-monotonic reads: {} ({} readers)",
                self.count(C::NonMonotonicRead),
                s.readers
            )?;
            self.write_examples(out, C::NonMonotonicRead)?;
        }
        for class in [
            C::LostUpdate,
            C::DuplicateTxnId,
            C::NonSnapshotRead,
            C::RealtimeViolation,
            C::DuplicateKey,
            C::TxnCountMismatch,
        ] {
            let n = self.count(class);
            if !self.ran(class) {
                writeln!(out, "❌ {class}: not checked (no final state), {n} found")?;
            } else if n == 0 {
                writeln!(out, "✅ {class}: none")?;
            } else {
                writeln!(out, "❌ {class}: {n}")?;
            }
            self.write_examples(out, class)?;
        }
        if self.problem_count > 0 {
            writeln!(
                out,
                "❌ The history itself is inconsistent ({} problems):",
                self.problem_count
            )?;
            for p in &self.problems {
                writeln!(out, "    - {p}")?;
            }
        }
        let verdict = if self.is_valid() { "PASS" } else { "FAIL" };
        writeln!(
            out,
            "Verdict [{label}]: {verdict} ({} anomalies)",
            self.total_anomalies()
        )
    }

    fn write_examples(&self, out: &mut impl Write, class: AnomalyClass) -> io::Result<()> {
        let shown: Vec<&Anomaly> = self.examples.iter().filter(|a| a.class == class).collect();
        for a in &shown {
            writeln!(out, "    - [{}] {}", a.class, a.explanation)?;
            for op in &a.ops {
                writeln!(out, "        op: {op}")?;
            }
        }
        let n = self.count(class);
        if n > shown.len() as u64 {
            writeln!(out, "    ... and {} more", n - shown.len() as u64)?;
        }
        Ok(())
    }
}
