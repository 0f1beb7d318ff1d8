//! The check report: counts, examples, the verdict, console output and the verification CSV
//! row (what the checker judged, nothing else).

use std::fmt;
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

    /// Whether any anomaly was counted.
    pub(super) fn any(&self) -> bool {
        self.counts.iter().any(|&n| n > 0)
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
    /// Committed multi-key transactions...
    pub(super) multi_key_txns: u64,
    /// ... the deletes among their writes...
    pub(super) deletes: u64,
    /// ... and the range scans read.
    pub(super) range_scans: u64,
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

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No anomaly, a consistent history and a final state: every check ran and found nothing.
    Pass,
    /// At least one anomaly was found (anomalies are definitive, even without a final state).
    Fail,
    /// No anomaly was found, but the history does not allow a conclusion; the reason says why.
    Unknown(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Pass => f.write_str("PASS"),
            Verdict::Fail => f.write_str("FAIL"),
            Verdict::Unknown(reason) => write!(f, "UNKNOWN: {reason}"),
        }
    }
}

/// One row of the verification CSV: the isolation check's counts and verdict. What the
/// run's actors did is in `STEM_actors.csv` ([`crate::outcome::ActorRow`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerificationRow {
    /// The run's configuration (scenario) label, as in the other result files.
    pub config_label: String,
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
    /// Count of [`AnomalyClass::G0`].
    pub g0: u64,
    /// Count of [`AnomalyClass::G1c`].
    pub g1c: u64,
    /// Count of [`AnomalyClass::GSingle`].
    pub g_single: u64,
    /// Count of [`AnomalyClass::G2`].
    pub g2: u64,
    /// The [`Verdict`] as displayed: `PASS`, `FAIL` or `UNKNOWN: <reason>`.
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

    /// Committed multi-key transactions: acknowledged, or indeterminate and shown committed
    /// by a read or the final state.
    pub fn multi_key_txns(&self) -> u64 {
        self.stats.multi_key_txns
    }

    /// Keys deleted by the committed multi-key transactions.
    pub fn deletes(&self) -> u64 {
        self.stats.deletes
    }

    /// Completed range scans.
    pub fn range_scans(&self) -> u64 {
        self.stats.range_scans
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

    /// The verdict: `Fail` if any anomaly was found; else `Unknown` if the history has no
    /// `final` event, is inconsistent ([`CheckReport::problems`]), or holds nothing to check
    /// (no completed operation, or no acknowledged write: a run that wrote nothing proves
    /// nothing about isolation); else `Pass`.
    pub fn verdict(&self) -> Verdict {
        if self.total_anomalies() > 0 {
            Verdict::Fail
        } else if !self.final_present() {
            Verdict::Unknown("no final state could be read".to_string())
        } else if self.problem_count > 0 {
            let n = self.problem_count;
            let problems = if n == 1 { "problem" } else { "problems" };
            Verdict::Unknown(format!(
                "the history itself is inconsistent ({n} {problems})"
            ))
        } else if self.stats.ops_checked == 0 {
            Verdict::Unknown("no operation completed, so nothing was checked".to_string())
        } else if self.stats.acknowledged_writes == 0 {
            Verdict::Unknown("no write was acknowledged, so no isolation was checked".to_string())
        } else {
            Verdict::Pass
        }
    }

    /// True iff the verdict is `Pass`: no anomaly was found, the history is consistent, and it
    /// has a `final` event.
    pub fn is_valid(&self) -> bool {
        self.verdict() == Verdict::Pass
    }

    /// The verification CSV row of the check for the run labelled `config_label`.
    pub fn verification_row(&self, config_label: &str) -> VerificationRow {
        let c = |class| self.count(class);
        VerificationRow {
            config_label: config_label.to_string(),
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
            g0: c(AnomalyClass::G0),
            g1c: c(AnomalyClass::G1c),
            g_single: c(AnomalyClass::GSingle),
            g2: c(AnomalyClass::G2),
            verdict: self.verdict().to_string(),
        }
    }

    /// Prints the console report to stdout (see [`CheckReport::write_console`]).
    pub fn print_console(&self, label: &str) {
        let mut out = io::stdout().lock();
        // A closed stdout is not worth failing over.
        let _ = self.write_console(&mut out, label);
    }

    /// Writes the console report: one ✅/❌ line per check with counts, the example anomalies
    /// of each failed check, the history's problems, and the verdict.
    pub fn write_console(&self, out: &mut impl Write, label: &str) -> io::Result<()> {
        writeln!(
            out,
            "== isolation check [{label}]: {} operations checked ==",
            self.stats.ops_checked
        )?;
        self.write_lost_writes(out)?;
        self.write_committed_reads(out)?;
        self.write_monotonic_reads(out)?;
        self.write_other_checks(out)?;
        self.write_cycles(out)?;
        self.write_problems(out)?;
        writeln!(
            out,
            "Verdict [{label}]: {} ({} anomalies)",
            self.verdict(),
            self.total_anomalies()
        )
    }

    /// The lost-write check, which needs the final state.
    fn write_lost_writes(&self, out: &mut impl Write) -> io::Result<()> {
        if !self.final_present() {
            return writeln!(
                out,
                "❌ Could not verify that successful writes are accounted for: the history has no final state"
            );
        }
        let acknowledged = self.stats.acknowledged_writes;
        self.write_check(
            out,
            &[AnomalyClass::LostWrite],
            format_args!(
                "All successful writes accounted for ({acknowledged} acknowledged writes)"
            ),
            format_args!(
                "Lost writes: {} ({acknowledged} acknowledged writes)",
                self.count(AnomalyClass::LostWrite)
            ),
        )
    }

    /// Whether readers only observed committed data.
    fn write_committed_reads(&self, out: &mut impl Write) -> io::Result<()> {
        let s = &self.stats;
        let values = format!("{} reads, {} values", s.read_ops, s.values_read);
        self.write_check(
            out,
            &[AnomalyClass::AbortedRead, AnomalyClass::GarbageRead],
            format_args!("Readers only observed committed data ({values})"),
            format_args!(
                "Uncommitted or unknown data observed: {} aborted_read, {} garbage_read ({values})",
                self.count(AnomalyClass::AbortedRead),
                self.count(AnomalyClass::GarbageRead),
            ),
        )
    }

    /// Whether every reader's reads were monotonic.
    fn write_monotonic_reads(&self, out: &mut impl Write) -> io::Result<()> {
        let readers = self.stats.readers;
        self.write_check(
            out,
            &[AnomalyClass::NonMonotonicRead],
            format_args!("Monotonic reads verified for all readers ({readers} readers)"),
            format_args!(
                "Non-monotonic reads: {} ({readers} readers)",
                self.count(AnomalyClass::NonMonotonicRead)
            ),
        )
    }

    /// One line per remaining class (and whether its check ran), with its examples.
    fn write_other_checks(&self, out: &mut impl Write) -> io::Result<()> {
        use AnomalyClass as C;
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
        Ok(())
    }

    /// The dependency cycles (Adya's and Elle's G0, G1c, G-single, G2).
    fn write_cycles(&self, out: &mut impl Write) -> io::Result<()> {
        use AnomalyClass as C;
        let classes = [C::G0, C::G1c, C::GSingle, C::G2];
        let found: Vec<String> = classes
            .iter()
            .map(|&c| format!("{} {c}", self.count(c)))
            .collect();
        self.write_check(
            out,
            &classes,
            format_args!("No dependency cycles (g0, g1c, g_single, g2)"),
            format_args!("Dependency cycles: {}", found.join(", ")),
        )
    }

    /// The inconsistencies of the history itself, if any.
    fn write_problems(&self, out: &mut impl Write) -> io::Result<()> {
        if self.problem_count == 0 {
            return Ok(());
        }
        writeln!(
            out,
            "❌ The history itself is inconsistent ({} problems):",
            self.problem_count
        )?;
        for p in &self.problems {
            writeln!(out, "    - {p}")?;
        }
        Ok(())
    }

    /// One check's line: `✅ passed` when no anomaly of `classes` was found, else `❌ failed`
    /// followed by the examples of each of `classes`.
    fn write_check(
        &self,
        out: &mut impl Write,
        classes: &[AnomalyClass],
        passed: fmt::Arguments<'_>,
        failed: fmt::Arguments<'_>,
    ) -> io::Result<()> {
        if classes.iter().all(|&class| self.count(class) == 0) {
            return writeln!(out, "✅ {passed}");
        }
        writeln!(out, "❌ {failed}")?;
        for &class in classes {
            self.write_examples(out, class)?;
        }
        Ok(())
    }

    fn write_examples(&self, out: &mut impl Write, class: AnomalyClass) -> io::Result<()> {
        let mut shown = 0u64;
        for a in self.examples.iter().filter(|a| a.class == class) {
            write_anomaly(out, a)?;
            shown += 1;
        }
        let n = self.count(class);
        if n > shown {
            writeln!(out, "    ... and {} more", n - shown)?;
        }
        Ok(())
    }
}

/// One anomaly as the console report lists it: its class and explanation, then its
/// operations, one a line.
pub(super) fn write_anomaly(out: &mut impl Write, a: &Anomaly) -> io::Result<()> {
    writeln!(out, "    - [{}] {}", a.class, a.explanation)?;
    for op in &a.ops {
        writeln!(out, "        op: {op}")?;
    }
    Ok(())
}
