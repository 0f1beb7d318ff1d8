//! Parsing the lines of a history file.
//!
//! The recorder writes every line in one form: compact JSON, `type` first, then the fields in
//! the order [`Event`] declares them, absent optional fields left out, strings without
//! escapes. [`parse_lines`] parses the `invoke`, `write` and `read` lines of exactly that form
//! (nearly all of a history) by hand, into [`Parsed`] events whose strings are [`Span`]s of
//! the text they were read from: no allocation, no intermediate value. Every other line
//! (`final`, `compact`, whitespace, escapes, fields in another order, unknown fields, `null`
//! values, a malformed line) goes to `serde_json::from_str::<Event>`, so it is accepted, or
//! rejected with serde's message, exactly as before. The fast path accepts only lines that
//! serde parses to the same [`Event`]: it takes only canonical numbers (no sign, fraction,
//! exponent or leading zero) in range, and leaves anything else to serde.

use std::ops::Range;

use super::span::{ReadPair, Span};
use super::view::{EventRef, Reads};
use super::{Event, OpKind, Outcome};

/// One parsed line: an `invoke`, `write` or `read` event as spans of the text it was parsed
/// from (its `reads` as a range of a separate list of pairs), or any event as an [`Event`].
/// The fields are those of [`Event`].
#[derive(Debug)]
pub(crate) enum Parsed {
    /// [`Event::Invoke`].
    Invoke {
        client: Span,
        op: u64,
        attempt: u32,
        kind: OpKind,
        t_us: u64,
        key: Option<Span>,
    },
    /// [`Event::Write`].
    Write {
        client: Span,
        op: u64,
        attempt: u32,
        t_us: u64,
        outcome: Outcome,
        key: Span,
        snapshot_txn: Option<u64>,
        read_done: bool,
        read: Option<Span>,
        wrote: Span,
        txn_id: Option<u64>,
        error: Option<Span>,
    },
    /// [`Event::Read`], its `reads` a range of the pairs parsed with it.
    Read {
        client: Span,
        op: u64,
        t_us: u64,
        outcome: Outcome,
        snapshot_txn: Option<u64>,
        scan: bool,
        reads: Range<usize>,
        error: Option<Span>,
    },
    /// Any event, parsed by serde.
    Event(Box<Event>),
}

impl Parsed {
    /// The event as the checker reads it; `text` and `reads` are those it was parsed into.
    pub(crate) fn view<'a>(&'a self, text: &'a str, reads: &'a [ReadPair]) -> EventRef<'a> {
        match *self {
            Parsed::Invoke {
                client,
                op,
                attempt,
                kind,
                t_us,
                key,
            } => EventRef::Invoke {
                client: client.of(text),
                op,
                attempt,
                kind,
                t_us,
                key: key.map(|k| k.of(text)),
            },
            Parsed::Write {
                client,
                op,
                attempt,
                t_us,
                outcome,
                key,
                snapshot_txn,
                read_done,
                read,
                wrote,
                txn_id,
                error: _,
            } => EventRef::Write {
                client: client.of(text),
                op,
                attempt,
                t_us,
                outcome,
                key: key.of(text),
                snapshot_txn,
                read_done,
                read: read.map(|r| r.of(text)),
                wrote: wrote.of(text),
                txn_id,
            },
            Parsed::Read {
                client,
                op,
                t_us,
                outcome,
                snapshot_txn,
                scan,
                reads: ref range,
                error: _,
            } => EventRef::Read {
                client: client.of(text),
                op,
                t_us,
                outcome,
                snapshot_txn,
                scan,
                reads: Reads::Spans {
                    text,
                    pairs: &reads[range.clone()],
                },
                range: None,
            },
            Parsed::Event(ref event) => EventRef::from(&**event),
        }
    }

    /// The owned [`Event`]; `text` and `reads` are those the event was parsed into.
    pub(crate) fn into_event(self, text: &str, reads: &[ReadPair]) -> Event {
        let owned = |span: Span| span.of(text).to_owned();
        match self {
            Parsed::Invoke {
                client,
                op,
                attempt,
                kind,
                t_us,
                key,
            } => Event::Invoke {
                client: owned(client),
                op,
                attempt,
                kind,
                t_us,
                key: key.map(owned),
            },
            Parsed::Write {
                client,
                op,
                attempt,
                t_us,
                outcome,
                key,
                snapshot_txn,
                read_done,
                read,
                wrote,
                txn_id,
                error,
            } => Event::Write {
                client: owned(client),
                op,
                attempt,
                t_us,
                outcome,
                key: owned(key),
                snapshot_txn,
                read_done,
                read: read.map(owned),
                wrote: owned(wrote),
                txn_id,
                error: error.map(owned),
            },
            Parsed::Read {
                client,
                op,
                t_us,
                outcome,
                snapshot_txn,
                scan,
                reads: range,
                error,
            } => Event::Read {
                client: owned(client),
                op,
                t_us,
                outcome,
                snapshot_txn,
                scan,
                reads: reads[range]
                    .iter()
                    .map(|&(key, value)| (owned(key), value.map(owned)))
                    .collect(),
                error: error.map(owned),
                range: None,
            },
            Parsed::Event(event) => *event,
        }
    }
}

/// The events parsed from a text of whole lines, with the `reads` pairs they refer to.
#[derive(Debug, Default)]
pub(crate) struct ParsedLines {
    /// The events, in line order (blank lines have none).
    pub(crate) events: Vec<Parsed>,
    /// The `reads` pairs of the [`Parsed::Read`] events.
    pub(crate) reads: Vec<ReadPair>,
}

impl ParsedLines {
    /// Empties both lists, keeping their memory.
    pub(crate) fn clear(&mut self) {
        self.events.clear();
        self.reads.clear();
    }
}

/// A line that is not a valid event: its number in the text (0-based) and serde's error.
#[derive(Debug)]
pub(crate) struct LineError {
    /// The line's index in the text given to [`parse_lines`].
    pub(crate) index: u64,
    /// What serde found wrong.
    pub(crate) error: serde_json::Error,
}

/// Parses every line of `text` into `out`, ignoring blank lines, and returns how many lines
/// `text` has; stops at the first line that is not a valid event.
pub(crate) fn parse_lines(text: &str, out: &mut ParsedLines) -> Result<u64, LineError> {
    let mut pos = 0;
    let mut index = 0;
    while pos < text.len() {
        if let Some((event, next)) = parse_fast(text, pos, &mut out.reads) {
            out.events.push(event);
            pos = next;
        } else {
            let end = text[pos..].find('\n').map_or(text.len(), |n| pos + n);
            let line = text[pos..end].trim();
            if !line.is_empty() {
                let event =
                    serde_json::from_str(line).map_err(|error| LineError { index, error })?;
                out.events.push(Parsed::Event(Box::new(event)));
            }
            pos = end + 1;
        }
        index += 1;
    }
    Ok(index)
}

/// Parses the line of `text` that starts at `start` if it has the recorder's form and is an
/// `invoke`, `write` or `read` event: the event and where the next line starts. Appends the
/// pairs of a `read` event to `reads` (and nothing when it returns `None`).
fn parse_fast(text: &str, start: usize, reads: &mut Vec<ReadPair>) -> Option<(Parsed, usize)> {
    if u32::try_from(text.len()).is_err() {
        return None;
    }
    let mark = reads.len();
    let mut c = Cursor {
        bytes: text.as_bytes(),
        pos: start,
    };
    let parsed = c.literal(b"{\"type\":\"").and_then(|()| {
        if c.literal(b"invoke\"").is_some() {
            invoke(&mut c)
        } else if c.literal(b"write\"").is_some() {
            write(&mut c)
        } else {
            c.literal(b"read\"")?;
            read(&mut c, reads)
        }
    });
    // The object must end the line (a `\r` before its `\n` is trimmed like other whitespace).
    let _ = c.byte(b'\r');
    match (parsed, c.bytes.get(c.pos)) {
        (Some(event), None) => Some((event, c.pos)),
        (Some(event), Some(b'\n')) => Some((event, c.pos + 1)),
        _ => {
            reads.truncate(mark);
            None
        }
    }
}

/// The rest of an `invoke` line after its `type`, fields in the recorder's order.
fn invoke(c: &mut Cursor) -> Option<Parsed> {
    c.literal(b",\"client\":")?;
    let client = c.string()?;
    c.literal(b",\"op\":")?;
    let op = c.number()?;
    c.literal(b",\"attempt\":")?;
    let attempt = c.small_number()?;
    c.literal(b",\"kind\":")?;
    let kind = c.op_kind()?;
    c.literal(b",\"t_us\":")?;
    let t_us = c.number()?;
    let key = c.optional(b",\"key\":", Cursor::string)?;
    c.byte(b'}')?;
    Some(Parsed::Invoke {
        client,
        op,
        attempt,
        kind,
        t_us,
        key,
    })
}

/// The rest of a `write` line after its `type`, fields in the recorder's order.
fn write(c: &mut Cursor) -> Option<Parsed> {
    c.literal(b",\"client\":")?;
    let client = c.string()?;
    c.literal(b",\"op\":")?;
    let op = c.number()?;
    c.literal(b",\"attempt\":")?;
    let attempt = c.small_number()?;
    c.literal(b",\"t_us\":")?;
    let t_us = c.number()?;
    c.literal(b",\"outcome\":")?;
    let outcome = c.outcome()?;
    c.literal(b",\"key\":")?;
    let key = c.string()?;
    let snapshot_txn = c.optional(b",\"snapshot_txn\":", Cursor::number)?;
    c.literal(b",\"read_done\":")?;
    let read_done = c.boolean()?;
    let read = c.optional(b",\"read\":", Cursor::string)?;
    c.literal(b",\"wrote\":")?;
    let wrote = c.string()?;
    let txn_id = c.optional(b",\"txn_id\":", Cursor::number)?;
    let error = c.optional(b",\"error\":", Cursor::string)?;
    c.byte(b'}')?;
    Some(Parsed::Write {
        client,
        op,
        attempt,
        t_us,
        outcome,
        key,
        snapshot_txn,
        read_done,
        read,
        wrote,
        txn_id,
        error,
    })
}

/// The rest of a `read` line after its `type`, fields in the recorder's order; its pairs are
/// appended to `reads`.
fn read(c: &mut Cursor, reads: &mut Vec<ReadPair>) -> Option<Parsed> {
    c.literal(b",\"client\":")?;
    let client = c.string()?;
    c.literal(b",\"op\":")?;
    let op = c.number()?;
    c.literal(b",\"t_us\":")?;
    let t_us = c.number()?;
    c.literal(b",\"outcome\":")?;
    let outcome = c.outcome()?;
    let snapshot_txn = c.optional(b",\"snapshot_txn\":", Cursor::number)?;
    c.literal(b",\"scan\":")?;
    let scan = c.boolean()?;
    c.literal(b",\"reads\":")?;
    let pairs = c.read_pairs(reads)?;
    let error = c.optional(b",\"error\":", Cursor::string)?;
    c.byte(b'}')?;
    Some(Parsed::Read {
        client,
        op,
        t_us,
        outcome,
        snapshot_txn,
        scan,
        reads: pairs,
        error,
    })
}

/// A position in the text being parsed. Each method parses one JSON token of the fast path's
/// form there and moves past it, or returns `None`.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// The bytes `span` covers.
    #[inline]
    fn slice(&self, span: Span) -> &'a [u8] {
        &self.bytes[span.start as usize..span.end as usize]
    }

    /// Consumes `byte`.
    #[inline]
    fn byte(&mut self, byte: u8) -> Option<()> {
        let found = self.bytes.get(self.pos) == Some(&byte);
        self.pos += usize::from(found);
        found.then_some(())
    }

    /// Consumes `literal` if the text continues with it.
    #[inline]
    fn literal<const N: usize>(&mut self, literal: &[u8; N]) -> Option<()> {
        let found = self.bytes.get(self.pos..self.pos + N) == Some(literal);
        self.pos += if found { N } else { 0 };
        found.then_some(())
    }

    /// A string without escapes or control characters; its span excludes the quotes. (The
    /// text is shorter than 4 GiB: [`parse_fast`] checks.)
    #[inline]
    fn string(&mut self) -> Option<Span> {
        self.byte(b'"')?;
        let start = self.pos;
        self.pos += string_len(&self.bytes[start..]);
        let span = Span {
            start: start as u32,
            end: self.pos as u32,
        };
        self.byte(b'"')?;
        Some(span)
    }

    /// A non-negative integer without sign, fraction, exponent or leading zero that fits in
    /// a `u64`.
    #[inline]
    fn number(&mut self) -> Option<u64> {
        let start = self.pos;
        let mut n = 0u64;
        while let Some(digit) = self.bytes.get(self.pos).map(|b| b.wrapping_sub(b'0')) {
            if digit > 9 {
                break;
            }
            n = n.checked_mul(10)?.checked_add(u64::from(digit))?;
            self.pos += 1;
        }
        let digits = self.pos - start;
        let canonical = digits == 1 || (digits > 1 && self.bytes[start] != b'0');
        canonical.then_some(n)
    }

    /// A [`Cursor::number`] that fits in a `u32`.
    #[inline]
    fn small_number(&mut self) -> Option<u32> {
        self.number().and_then(|n| u32::try_from(n).ok())
    }

    /// `true` or `false`.
    #[inline]
    fn boolean(&mut self) -> Option<bool> {
        match self.literal(b"true") {
            Some(()) => Some(true),
            None => self.literal(b"false").map(|()| false),
        }
    }

    /// `null` (as `Some(None)`) or what `value` parses.
    #[inline]
    fn nullable<T>(&mut self, value: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        match self.literal(b"null") {
            Some(()) => Some(None),
            None => value(self).map(Some),
        }
    }

    /// An optional field: `name` (`,"field":`) then what `value` parses (as `Some(Some(_))`),
    /// or `Some(None)` if the text does not continue with `name`.
    #[inline]
    fn optional<T, const N: usize>(
        &mut self,
        name: &[u8; N],
        value: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Option<T>> {
        match self.literal(name) {
            Some(()) => value(self).map(Some),
            None => Some(None),
        }
    }

    /// `"ok"`, `"fail"` or `"info"`.
    #[inline]
    fn outcome(&mut self) -> Option<Outcome> {
        let name = self.string()?;
        match self.slice(name) {
            b"ok" => Some(Outcome::Ok),
            b"fail" => Some(Outcome::Fail),
            b"info" => Some(Outcome::Info),
            _ => None,
        }
    }

    /// `"write"` or `"read"`.
    #[inline]
    fn op_kind(&mut self) -> Option<OpKind> {
        let name = self.string()?;
        match self.slice(name) {
            b"write" => Some(OpKind::Write),
            b"read" => Some(OpKind::Read),
            _ => None,
        }
    }

    /// An array of `[key, value id or null]` pairs, appended to `reads`; returns their range.
    #[inline]
    fn read_pairs(&mut self, reads: &mut Vec<ReadPair>) -> Option<Range<usize>> {
        let start = reads.len();
        self.byte(b'[')?;
        if self.byte(b']').is_some() {
            return Some(start..start);
        }
        loop {
            self.byte(b'[')?;
            let key = self.string()?;
            self.byte(b',')?;
            let value = self.nullable(Cursor::string)?;
            self.byte(b']')?;
            reads.push((key, value));
            if self.byte(b']').is_some() {
                return Some(start..reads.len());
            }
            self.byte(b',')?;
        }
    }
}

/// How many bytes of `bytes` come before the first `"`, `\\` or control character (all of
/// them if none).
#[inline]
fn string_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len())
}
