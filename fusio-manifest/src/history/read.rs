//! Reading a history file back: in batches of whole lines (about [`BATCH_BYTES`] each),
//! parsed by [`parse_lines`]. [`read_history`] yields owned events, one batch at a time;
//! [`for_each_event`] reads and parses on a helper thread while its caller takes the events.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use super::parse::{parse_lines, Parsed, ParsedLines};
use super::view::EventRef;
use super::Event;

/// Name of [`for_each_event`]'s parsing thread; [`crate::selfcheck`] counts a thread so named
/// as the harness's.
pub(crate) const READER_THREAD_NAME: &str = "history-reader";

/// Bytes read from the file for one batch (which then ends after its last whole line).
const BATCH_BYTES: usize = 1 << 20;

/// How many parsed batches [`for_each_event`] keeps ahead of its caller at most: this bounds
/// its memory whatever the file's size.
const BATCHES_AHEAD: usize = 4;

/// A history file could not be read: which file, which line (1-based) and why.
#[derive(Debug)]
pub struct HistoryError {
    /// The history file.
    pub path: PathBuf,
    /// The line (1-based), or `None` when the file could not be opened.
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for HistoryError {}

/// Whole lines of a history file and their events.
#[derive(Debug, Default)]
struct Batch {
    /// The lines.
    text: String,
    /// Their events.
    parsed: ParsedLines,
    /// The error that ends the file right after these lines.
    error: Option<HistoryError>,
}

impl Batch {
    /// The events, as the checker reads them.
    fn views(&self) -> impl Iterator<Item = EventRef<'_>> {
        let reads = &self.parsed.reads;
        self.parsed
            .events
            .iter()
            .map(move |event| event.view(&self.text, reads))
    }
}

/// Reads a history file batch by batch.
#[derive(Debug)]
struct BatchReader {
    path: PathBuf,
    /// `None` once the file ended or failed.
    file: Option<File>,
    /// The start of a line that the previous batch did not finish.
    carry: Vec<u8>,
    /// Lines read so far.
    lines: u64,
}

impl BatchReader {
    /// Opens the history file at `path`.
    fn open(path: &Path) -> Result<Self, HistoryError> {
        let file = File::open(path).map_err(|e| HistoryError {
            path: path.to_path_buf(),
            line: None,
            message: format!("cannot open: {e}"),
        })?;
        Ok(BatchReader {
            path: path.to_path_buf(),
            file: Some(file),
            carry: Vec::new(),
            lines: 0,
        })
    }

    /// An error at `line`; the file ends there.
    fn error(&mut self, line: u64, message: String) -> HistoryError {
        self.file = None;
        HistoryError {
            path: self.path.clone(),
            line: Some(line),
            message,
        }
    }

    /// Fills `batch` (reusing its memory) with the next whole lines, their events and the
    /// error that ends the file after them, if any; `false` at the end of the file.
    fn next_batch(&mut self, batch: &mut Batch) -> bool {
        let Some(file) = self.file.as_mut() else {
            return false;
        };
        let mut bytes = std::mem::take(&mut batch.text).into_bytes();
        bytes.clear();
        bytes.append(&mut self.carry);
        let read = read_lines(file, &mut bytes);
        let whole = match read {
            // The last line of the file may lack its `\n`.
            Ok(true) => bytes.len(),
            _ => bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1),
        };
        self.carry.extend_from_slice(&bytes[whole..]);
        bytes.truncate(whole);
        if matches!(read, Ok(true)) {
            self.file = None;
            if bytes.is_empty() {
                return false;
            }
        }
        let (text, valid) = into_text(bytes);
        batch.text = text;
        batch.parsed.clear();
        batch.error = match parse_lines(&batch.text, &mut batch.parsed) {
            Err(e) => {
                let message = format!("malformed event: {}", e.error);
                Some(self.error(self.lines + e.index + 1, message))
            }
            Ok(lines) => {
                self.lines += lines;
                let next = self.lines + 1;
                match read {
                    _ if !valid => Some(self.error(next, format!("cannot read: {NOT_UTF8}"))),
                    Err(e) => Some(self.error(next, format!("cannot read: {e}"))),
                    Ok(_) => None,
                }
            }
        };
        true
    }
}

/// Why a line that is not UTF-8 cannot be read (as `read_line` says it).
const NOT_UTF8: &str = "stream did not contain valid UTF-8";

/// Appends to `bytes` at least one whole line, or the rest of the file: `true` at its end.
fn read_lines(file: &mut File, bytes: &mut Vec<u8>) -> io::Result<bool> {
    loop {
        let start = bytes.len();
        let n = file.by_ref().take(BATCH_BYTES as u64).read_to_end(bytes)?;
        if n < BATCH_BYTES {
            return Ok(true);
        }
        if bytes[start..].contains(&b'\n') {
            return Ok(false);
        }
    }
}

/// `bytes` as text, or only the lines before the first one that is not UTF-8 (then
/// `false`).
fn into_text(bytes: Vec<u8>) -> (String, bool) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, true),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            let lines = bytes[..valid]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            bytes.truncate(lines);
            (String::from_utf8(bytes).unwrap_or_default(), false)
        }
    }
}

/// Streams the events of a history file, one batch of lines at a time. Yields an error (and
/// then stops) if the file cannot be opened or read, or a line is not a valid event.
pub fn read_history(path: impl AsRef<Path>) -> HistoryReader {
    let path = path.as_ref();
    let (source, error) = match BatchReader::open(path) {
        Ok(source) => (Some(source), None),
        Err(e) => (None, Some(e)),
    };
    HistoryReader {
        path: path.to_path_buf(),
        source,
        batch: Batch::default(),
        pending: Vec::new().into_iter(),
        error,
    }
}

/// Iterator over the events of a history file (see [`read_history`]).
pub struct HistoryReader {
    path: PathBuf,
    /// `None` once the file ended or failed.
    source: Option<BatchReader>,
    /// The current batch; its events were moved to `pending`.
    batch: Batch,
    /// The events of the current batch not yielded yet.
    pending: std::vec::IntoIter<Parsed>,
    /// The error to yield after them.
    error: Option<HistoryError>,
}

impl fmt::Debug for HistoryReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = self.source.as_ref().map(|s| s.lines);
        f.debug_struct("HistoryReader")
            .field("path", &self.path)
            .field("lines_read", &lines)
            .finish()
    }
}

impl Iterator for HistoryReader {
    type Item = Result<Event, HistoryError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(parsed) = self.pending.next() {
                let reads = &self.batch.parsed.reads;
                return Some(Ok(parsed.into_event(&self.batch.text, reads)));
            }
            if let Some(error) = self.error.take() {
                self.source = None;
                return Some(Err(error));
            }
            if !self.source.as_mut()?.next_batch(&mut self.batch) {
                self.source = None;
                return None;
            }
            self.pending = std::mem::take(&mut self.batch.parsed.events).into_iter();
            self.error = self.batch.error.take();
        }
    }
}

/// Streams the events of the history file at `path` to `f`, in file order, then returns the
/// error that ends the file early, if any (`f` has taken every event before it). A helper
/// thread reads and parses the lines while `f` runs, at most [`BATCHES_AHEAD`] batches ahead.
pub(crate) fn for_each_event(
    path: &Path,
    mut f: impl FnMut(EventRef<'_>),
) -> Result<(), HistoryError> {
    let mut source = BatchReader::open(path)?;
    let (parsed_tx, parsed) = sync_channel::<Batch>(BATCHES_AHEAD);
    // Batches in use: those in `parsed`, the one being filled and the one being taken.
    let (recycle, used) = sync_channel::<Batch>(BATCHES_AHEAD + 2);
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name(READER_THREAD_NAME.into())
            .spawn_scoped(scope, move || loop {
                let mut batch = used.try_recv().unwrap_or_default();
                if !source.next_batch(&mut batch) || parsed_tx.send(batch).is_err() {
                    break;
                }
            })
            .map_err(|e| HistoryError {
                path: path.to_path_buf(),
                line: None,
                message: format!("cannot start a reader thread: {e}"),
            })?;
        for mut batch in parsed {
            batch.views().for_each(&mut f);
            if let Some(error) = batch.error.take() {
                return Err(error);
            }
            // Never blocks: at most that many batches exist.
            let _ = recycle.try_send(batch);
        }
        Ok(())
    })
}
