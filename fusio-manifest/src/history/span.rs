//! Where a parsed string lies in the text of a history's lines: what the fast parser produces
//! and the borrowed views read.

/// Byte range of a string in the text a line was parsed from (on char boundaries). The fast
/// path parses only texts shorter than 4 GiB, so that it fits in `u32`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(super) start: u32,
    pub(super) end: u32,
}

impl Span {
    /// The string this span covers in `text` (the text it was parsed from).
    pub(crate) fn of(self, text: &str) -> &str {
        &text[self.start as usize..self.end as usize]
    }
}

/// One `[key, value id or null]` pair of a `read` event's `reads`, as spans.
pub(crate) type ReadPair = (Span, Option<Span>);
