//! Anomaly files: the anomalies of a report as JSON Lines, written atomically, read back and
//! printed again.
//!
//! Each line is one [`Anomaly`] as a JSON object: `class` (snake_case), `explanation` and
//! `ops` (the operations involved, each with `client`, `op`, `attempt`, `kind`, `outcome`,
//! `snapshot_txn` and `txn_id`). A report keeps at most [`MAX_EXAMPLES`](super::MAX_EXAMPLES)
//! anomalies per class; when it found more, the last line is `{"truncated": N}`, N being how
//! many were found but not kept.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::report::write_anomaly;
use super::{Anomaly, CheckReport};
use crate::utils::write_atomic;

/// One line of an anomalies file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnomalyLine {
    /// An anomaly the report kept.
    Anomaly(Anomaly),
    /// The last line when the report found more anomalies than it kept: how many more.
    Truncated(u64),
}

impl AnomalyLine {
    /// Whether this line stands for at least one anomaly.
    fn has_anomaly(&self) -> bool {
        match self {
            AnomalyLine::Anomaly(_) => true,
            AnomalyLine::Truncated(n) => *n > 0,
        }
    }
}

/// The `{"truncated": N}` line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Truncated {
    truncated: u64,
}

/// An anomalies file could not be read: which file, which line (1-based) and why.
#[derive(Debug)]
pub struct AnomalyFileError {
    /// The anomalies file.
    pub path: PathBuf,
    /// The line (1-based), or `None` when the file could not be opened.
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for AnomalyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "anomalies file {}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for AnomalyFileError {}

impl CheckReport {
    /// Every anomaly this report kept, in class order, as JSON Lines: one [`Anomaly`] a line
    /// (`class` in snake_case, `explanation`, `ops`); then `{"truncated": N}` if N more were
    /// found than kept. Empty when none was found.
    pub fn anomalies_jsonl(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for anomaly in self.anomalies() {
            push_json_line(&mut out, anomaly);
        }
        let kept = self.anomalies().len() as u64;
        let truncated = self.total_anomalies().saturating_sub(kept);
        if truncated > 0 {
            push_json_line(&mut out, &Truncated { truncated });
        }
        out
    }

    /// Writes [`CheckReport::anomalies_jsonl`] to `path` atomically (a temporary file in the
    /// same directory, fsynced, then renamed).
    pub fn write_anomalies(&self, path: &Path) -> io::Result<()> {
        write_atomic(path, &self.anomalies_jsonl())
    }
}

/// Appends `value` as one JSON line.
fn push_json_line(out: &mut Vec<u8>, value: &impl Serialize) {
    serde_json::to_writer(&mut *out, value).expect("anomalies serialize to JSON");
    out.push(b'\n');
}

/// Reads an anomalies file (see [`CheckReport::anomalies_jsonl`]). Blank lines are skipped. An
/// error names the file and, for a malformed line, the line: a line that is neither an
/// anomaly nor `{"truncated": N}`, or a `truncated` line that is not the last one.
pub fn read_anomalies(path: impl AsRef<Path>) -> Result<Vec<AnomalyLine>, AnomalyFileError> {
    let path = path.as_ref();
    let error = |line, message| AnomalyFileError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let file = File::open(path).map_err(|e| error(None, format!("cannot open: {e}")))?;
    let mut lines = Vec::new();
    let mut truncated_at = None;
    for (n, text) in (1u64..).zip(BufReader::new(file).lines()) {
        let text = text.map_err(|e| error(Some(n), format!("cannot read: {e}")))?;
        if text.trim().is_empty() {
            continue;
        }
        if truncated_at.is_some() {
            let message = "a truncated line must be the last line".to_string();
            return Err(error(truncated_at, message));
        }
        let line = parse_line(&text).map_err(|message| error(Some(n), message))?;
        if let AnomalyLine::Truncated(_) = line {
            truncated_at = Some(n);
        }
        lines.push(line);
    }
    Ok(lines)
}

/// One non-blank line of an anomalies file.
fn parse_line(text: &str) -> Result<AnomalyLine, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not a JSON value: {e}"))?;
    if value.get("truncated").is_some() {
        let t: Truncated =
            serde_json::from_value(value).map_err(|e| format!("malformed truncated line: {e}"))?;
        return Ok(AnomalyLine::Truncated(t.truncated));
    }
    serde_json::from_value(value)
        .map(AnomalyLine::Anomaly)
        .map_err(|e| format!("malformed anomaly: {e}"))
}

/// Pretty-prints the lines of one anomalies file under `label` (usually its path): a heading
/// with the count, each anomaly as the console report lists it (class, explanation,
/// operations), and how many were not kept.
pub fn write_saved_anomalies(
    out: &mut impl Write,
    label: &str,
    lines: &[AnomalyLine],
) -> io::Result<()> {
    let kept = lines
        .iter()
        .filter(|l| matches!(l, AnomalyLine::Anomaly(_)))
        .count();
    writeln!(out, "== saved anomalies [{label}]: {kept} ==")?;
    for line in lines {
        match line {
            AnomalyLine::Anomaly(a) => write_anomaly(out, a)?,
            AnomalyLine::Truncated(n) => {
                writeln!(out, "    ... and {n} more found but not saved")?;
            }
        }
    }
    Ok(())
}

/// What `check-history --anomalies` does: reads and pretty-prints each anomalies file to stdout
/// and returns whether none holds an anomaly. Stops at the first file that cannot be read or
/// has a malformed line.
pub fn print_anomaly_files<P: AsRef<Path>>(paths: &[P]) -> Result<bool, AnomalyFileError> {
    let mut none = true;
    for path in paths {
        let path = path.as_ref();
        let lines = read_anomalies(path)?;
        // A closed stdout is not worth failing over.
        let _ = write_saved_anomalies(
            &mut io::stdout().lock(),
            &path.display().to_string(),
            &lines,
        );
        none &= !lines.iter().any(AnomalyLine::has_anomaly);
    }
    Ok(none)
}
