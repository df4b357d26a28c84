//! Byte spans and position arithmetic: [`Span`], [`LineIndex`] (byte offset → 1-based line and
//! column) and [`char_pos_to_byte`] (PostgreSQL's 1-based character error positions → byte offsets).
//!
//! Everything here is total: out-of-range offsets clamp, offsets inside a multi-byte character are
//! moved back to the start of that character, and nothing panics on arbitrary input.

/// Byte range `[start, end)` into a source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`. No validation happens here; an inverted span (`end < start`)
    /// is treated as empty by every method.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// Length in bytes (0 for an inverted span).
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True when the span holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// `start <= offset < end`.
    pub fn contains(&self, offset: usize) -> bool {
        self.start <= offset && offset < self.end
    }

    /// The text the span covers, or `""` when the span is inverted, out of range or does not
    /// start and end on character boundaries.
    pub fn slice<'a>(&self, text: &'a str) -> &'a str {
        text.get(self.start..self.end).unwrap_or("")
    }

    /// The smallest span covering both `self` and `other`.
    pub fn cover(&self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// The largest char boundary of `text` that is `<= offset` (offsets past the end clamp to the end).
pub fn floor_char_boundary(text: &str, offset: usize) -> usize {
    if offset >= text.len() {
        return text.len();
    }
    let mut o = offset;
    while o > 0 && !text.is_char_boundary(o) {
        o -= 1;
    }
    o
}

/// Line index for computing 1-based line and column from byte offsets.
///
/// LF, CRLF and a lone CR all end a line; CRLF counts as one line break. A text always has at least
/// one line, and a text ending in a line break has an empty last line after it (`"a\n"` has two
/// lines), which is where an offset at the very end of such a text points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineIndex {
    /// Byte offset at which each line starts; `starts[0] == 0`.
    starts: Vec<usize>,
    /// Byte offset at which each line's content ends (its terminator, or the end of text).
    ends: Vec<usize>,
}

impl LineIndex {
    /// Index the line breaks of `text`.
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut ends = Vec::new();
        let mut i = 0;
        while let Some(n) = bytes
            .get(i..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n' || b == b'\r'))
        {
            let at = i + n;
            ends.push(at);
            i = if bytes[at] == b'\r' && bytes.get(at + 1) == Some(&b'\n') {
                at + 2
            } else {
                at + 1
            };
            starts.push(i);
        }
        ends.push(bytes.len());
        LineIndex { starts, ends }
    }

    /// `(line, column)`, both 1-based; the column counts characters (Unicode scalar values).
    ///
    /// An offset past the end clamps to the end of the text; an offset inside a multi-byte
    /// character is treated as the start of that character; an offset between the CR and LF of a
    /// CRLF belongs to the line the CRLF ends. `text` should be the text the index was built from;
    /// if it is not, the result is still computed without panicking.
    pub fn line_col(&self, text: &str, offset: usize) -> (u32, u32) {
        let offset = floor_char_boundary(text, offset);
        // Index of the last line starting at or before `offset`.
        let line = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let start = floor_char_boundary(text, start.min(offset));
        let column = text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        (to_u32(line + 1), to_u32(column))
    }

    /// Number of lines (at least 1; a trailing line break starts one more, empty line).
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// Byte span of line `line` (1-based) excluding its line terminator; `None` if out of range.
    pub fn line_span(&self, line: u32) -> Option<Span> {
        let i = usize::try_from(line).ok()?.checked_sub(1)?;
        Some(Span::new(*self.starts.get(i)?, *self.ends.get(i)?))
    }

    /// Byte offset at which line `line` (1-based) starts; `None` if out of range.
    pub fn line_start(&self, line: u32) -> Option<usize> {
        self.line_span(line).map(|s| s.start)
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Convert PostgreSQL's error position (a 1-based *character* offset into the query text that was
/// sent) to a byte offset into `text`, the text that was sent.
///
/// Returns `None` for position 0 or a position past the end; `chars + 1` is allowed and maps to
/// `text.len()` (the server reports it for errors at end of input).
pub fn char_pos_to_byte(text: &str, pos_1based: usize) -> Option<usize> {
    let index = pos_1based.checked_sub(1)?;
    if index <= text.len() {
        // Fast path for ASCII prefixes: a char index equals the byte index while every byte
        // before it is ASCII.
        if text.as_bytes()[..index].is_ascii() {
            return Some(index);
        }
    }
    let mut chars = text
        .char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()));
    chars.nth(index)
}
