//! Proof of replay: every storage operation of a run that completed before the trace was
//! sealed (an operation abandoned mid-flight, e.g. by a crash, never completes), in the order
//! it completed, folded into one digest (SHA-256), and optionally written one line each to a
//! trace file.
//!
//! A line is `t_us kind key fault outcome`, tab-separated (tabs, newlines and backslashes
//! inside a field escaped as `\t`, `\n`, `\\`): microseconds since the run started
//! on the run's clock, the S3 operation, its key, the fault the layer decided for it (`-`:
//! none) and what the caller got (`ok`, or `err: message`). [`OpTrace::seal`] adds the final
//! store (every object's key, ETag and body, in key order) and gives the [`Digest`]. Two
//! simulated runs of one seed must give byte-identical traces and equal digests;
//! [`first_difference`] names the first operation where two trace files part.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// What one run's trace proves: how many operations it holds and their digest, with the
/// final store's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// Storage operations folded in.
    pub ops: u64,
    /// Objects of the final store folded in.
    pub objects: u64,
    /// SHA-256 over every operation line and then every final object, lower-case hex.
    pub sha256: String,
    /// The trace file, when one was written.
    pub trace: Option<PathBuf>,
}

/// The trace of one run. Cheap to share; every method takes `&self`.
pub struct OpTrace {
    start: Instant,
    state: Mutex<State>,
    path: Option<PathBuf>,
}

struct State {
    hasher: Sha256,
    ops: u64,
    file: Option<BufWriter<File>>,
    error: Option<io::Error>,
}

impl OpTrace {
    /// A trace whose times count from `start`, written to `path` when given.
    pub fn new(start: Instant, path: Option<PathBuf>) -> io::Result<Self> {
        let file = path
            .as_ref()
            .map(|p| File::create(p).map(BufWriter::new))
            .transpose()?;
        Ok(Self {
            start,
            state: Mutex::new(State {
                hasher: Sha256::new(),
                ops: 0,
                file,
                error: None,
            }),
            path,
        })
    }

    /// Records one completed operation: `kind` on `key`, the `fault` decided for it, and
    /// `outcome` (`ok`, or the error's message).
    pub fn record(&self, kind: &str, key: &str, fault: &str, outcome: &str) {
        let t_us = super::clock::since(self.start).as_micros();
        let line = format!(
            "{t_us}\t{}\t{}\t{}\t{}\n",
            escape(kind),
            escape(key),
            escape(fault),
            escape(outcome)
        );
        let mut state = self.state.lock();
        state.hasher.update(line.as_bytes());
        state.ops += 1;
        if let Some(file) = state.file.as_mut() {
            if let Err(e) = file.write_all(line.as_bytes()) {
                state.file = None;
                state.error = Some(e);
            }
        }
    }

    /// Folds the final store (`(key, etag, body)` in key order) in, flushes the trace file and
    /// returns the digest; an error if the trace file could not be written.
    pub fn seal<'a>(
        &self,
        objects: impl IntoIterator<Item = (&'a str, &'a str, &'a [u8])>,
    ) -> io::Result<Digest> {
        let mut state = self.state.lock();
        let mut hasher = state.hasher.clone();
        hasher.update(b"final store\n");
        let mut count = 0;
        for (key, etag, body) in objects {
            hasher.update(format!("{key}\t{etag}\t{}\n", body.len()).as_bytes());
            hasher.update(body);
            count += 1;
        }
        if let Some(e) = state.error.take() {
            return Err(e);
        }
        if let Some(file) = state.file.as_mut() {
            file.flush()?;
        }
        Ok(Digest {
            ops: state.ops,
            objects: count,
            sha256: hex(&hasher.finalize()),
            trace: self.path.clone(),
        })
    }
}

/// `field` with tabs, newlines and backslashes escaped, so a trace line is one operation.
fn escape(field: &str) -> std::borrow::Cow<'_, str> {
    if !field.contains(['\t', '\n', '\r', '\\']) {
        return field.into();
    }
    field
        .replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where two files part: the 1-based line number and each file's line (`None`: it ended).
pub type LineDifference = (u64, Option<String>, Option<String>);

/// The first line where trace files `a` and `b` differ; `None` if they are equal.
pub fn first_difference(a: &Path, b: &Path) -> io::Result<Option<LineDifference>> {
    let mut left = BufReader::new(File::open(a)?).lines();
    let mut right = BufReader::new(File::open(b)?).lines();
    for n in 1.. {
        let (l, r) = (left.next().transpose()?, right.next().transpose()?);
        if l.is_none() && r.is_none() {
            return Ok(None);
        }
        if l != r {
            return Ok(Some((n, l, r)));
        }
    }
    Ok(None)
}

/// One run as a replay check sees it: its digest and its history file.
pub struct RunProof<'a> {
    /// The digest of its storage operations (`None`: the run was not simulated).
    pub digest: Option<&'a Digest>,
    /// Its history file.
    pub history: &'a Path,
}

/// Checks that run `b` replayed run `a` exactly: equal digests and byte-identical history
/// files. `Err` says where they part: the first differing storage operation (from the trace
/// files) or history line.
pub fn check_replay(a: &RunProof<'_>, b: &RunProof<'_>) -> Result<(), String> {
    let (Some(da), Some(db)) = (a.digest, b.digest) else {
        return Err("a run without a digest (not simulated) cannot prove a replay".into());
    };
    if da.sha256 != db.sha256 || da.ops != db.ops || da.objects != db.objects {
        let first = match (&da.trace, &db.trace) {
            (Some(ta), Some(tb)) => match first_difference(ta, tb) {
                Ok(Some((n, l, r))) => format!(
                    "; first differing storage operation #{n}:\n  {}\n  {}",
                    l.as_deref().unwrap_or("(trace ended)"),
                    r.as_deref().unwrap_or("(trace ended)")
                ),
                Ok(None) => "; the operations agree, the final stores differ".into(),
                Err(e) => format!("; the traces could not be compared: {e}"),
            },
            _ => String::new(),
        };
        return Err(format!(
            "digests differ: {} over {} ops vs {} over {} ops{first}",
            da.sha256, da.ops, db.sha256, db.ops
        ));
    }
    match first_difference(a.history, b.history) {
        Ok(None) => Ok(()),
        Ok(Some((n, l, r))) => Err(format!(
            "histories differ at line {n}:\n  {}\n  {}",
            l.as_deref().unwrap_or("(history ended)"),
            r.as_deref().unwrap_or("(history ended)")
        )),
        Err(e) => Err(format!("the histories could not be compared: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(path: &Path, last: &str) -> Digest {
        let trace =
            OpTrace::new(super::super::clock::now(), Some(path.to_path_buf())).expect("trace file");
        trace.record("GET", "p/HEAD.json", "-", "ok");
        trace.record("CONDPUT", "p/HEAD.json", "-", last);
        trace
            .seal([("p/HEAD.json", "\"1\"", b"{}".as_slice())])
            .expect("sealed")
    }

    #[tokio::test(start_paused = true)]
    async fn equal_runs_give_equal_digests_and_a_changed_outcome_is_found() {
        let dir = std::env::temp_dir();
        let pid = std::process::id();
        let (a, b, c) = (
            dir.join(format!("fmc-trace-{pid}-a.ops")),
            dir.join(format!("fmc-trace-{pid}-b.ops")),
            dir.join(format!("fmc-trace-{pid}-c.ops")),
        );
        let (da, db, dc) = (run(&a, "ok"), run(&b, "ok"), run(&c, "err: 412"));
        assert_eq!((da.ops, da.objects), (2, 1));
        assert_eq!(da.sha256, db.sha256);
        assert_ne!(da.sha256, dc.sha256);
        assert_eq!(first_difference(&a, &b).expect("read"), None);
        let (line, left, right) = first_difference(&a, &c).expect("read").expect("differs");
        assert_eq!(line, 2);
        assert!(left.is_some_and(|l| l.ends_with("\tok")));
        assert!(right.is_some_and(|r| r.ends_with("err: 412")));
        for p in [a, b, c] {
            let _ = std::fs::remove_file(p);
        }
    }

    #[test]
    fn a_field_with_a_tab_or_a_newline_stays_one_field_of_one_line() {
        assert_eq!(escape("p/HEAD.json"), "p/HEAD.json");
        assert_eq!(escape("err: a\tb\nc\\d"), "err: a\\tb\\nc\\\\d");
        assert!(!escape("x\ty\nz").contains(['\t', '\n']));
    }
}
