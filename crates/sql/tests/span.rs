//! `Span`, `LineIndex` and `char_pos_to_byte`.

use pgrehearse_sql::{LineIndex, Span, char_pos_to_byte, floor_char_boundary};

#[test]
fn span_basics() {
    let s = Span::new(2, 5);
    assert_eq!(s.len(), 3);
    assert!(!s.is_empty());
    assert!(s.contains(2) && s.contains(4));
    assert!(!s.contains(5) && !s.contains(1));
    assert_eq!(s.slice("abcdefg"), "cde");
    assert!(Span::new(3, 3).is_empty());
    assert!(!Span::new(3, 3).contains(3));
    assert_eq!(Span::default(), Span::new(0, 0));
    assert_eq!(Span::new(1, 2).cover(Span::new(5, 7)), Span::new(1, 7));
}

#[test]
fn span_slice_is_total() {
    assert_eq!(Span::new(0, 100).slice("abc"), "");
    assert_eq!(Span::new(5, 2).slice("abcdefg"), "");
    assert_eq!(Span::new(5, 2).len(), 0);
    assert!(Span::new(5, 2).is_empty());
    // "é" is two bytes: offsets 1 is inside it.
    assert_eq!(Span::new(1, 2).slice("é"), "");
    assert_eq!(Span::new(0, 2).slice("é"), "é");
}

#[test]
fn floor_char_boundaries() {
    assert_eq!(floor_char_boundary("aé", 2), 1);
    assert_eq!(floor_char_boundary("aé", 3), 3);
    assert_eq!(floor_char_boundary("aé", 99), 3);
    assert_eq!(floor_char_boundary("", 5), 0);
}

#[test]
fn line_col_lf() {
    let text = "ab\ncd\n";
    let idx = LineIndex::new(text);
    assert_eq!(idx.line_count(), 3);
    assert_eq!(idx.line_col(text, 0), (1, 1));
    assert_eq!(idx.line_col(text, 2), (1, 3)); // the LF itself
    assert_eq!(idx.line_col(text, 3), (2, 1));
    assert_eq!(idx.line_col(text, 4), (2, 2));
    assert_eq!(idx.line_col(text, 6), (3, 1)); // end of text: the empty last line
    assert_eq!(idx.line_col(text, 600), (3, 1)); // clamps
}

#[test]
fn line_col_crlf_counts_one_break() {
    let text = "ab\r\ncd\r\nef";
    let idx = LineIndex::new(text);
    assert_eq!(idx.line_count(), 3);
    assert_eq!(idx.line_col(text, 2), (1, 3)); // CR
    assert_eq!(idx.line_col(text, 3), (1, 4)); // between CR and LF: still line 1
    assert_eq!(idx.line_col(text, 4), (2, 1));
    assert_eq!(idx.line_col(text, 8), (3, 1));
    assert_eq!(idx.line_col(text, 10), (3, 3));
    assert_eq!(idx.line_span(1), Some(Span::new(0, 2)));
    assert_eq!(idx.line_span(2), Some(Span::new(4, 6)));
    assert_eq!(idx.line_span(3), Some(Span::new(8, 10)));
    assert_eq!(idx.line_span(4), None);
    assert_eq!(idx.line_span(0), None);
}

#[test]
fn line_col_cr_only() {
    let text = "a\rb\r\rc";
    let idx = LineIndex::new(text);
    assert_eq!(idx.line_count(), 4);
    assert_eq!(idx.line_col(text, 2), (2, 1));
    assert_eq!(idx.line_col(text, 4), (3, 1));
    assert_eq!(idx.line_col(text, 5), (4, 1));
    assert_eq!(idx.line_span(3), Some(Span::new(4, 4)));
    assert_eq!(idx.line_start(4), Some(5));
}

#[test]
fn line_col_counts_characters_not_bytes() {
    let text = "-- é😀\nSELECT 'ü', x";
    let idx = LineIndex::new(text);
    let x = text.find('x').expect("x");
    assert_eq!(idx.line_col(text, x), (2, 13));
    let smile = text.find('😀').expect("emoji");
    assert_eq!(idx.line_col(text, smile), (1, 5));
    assert_eq!(idx.line_col(text, smile + 4), (1, 6)); // the LF after it
    // Inside a multi-byte character: that character's column.
    assert_eq!(idx.line_col(text, smile + 2), (1, 5));
    assert_eq!(idx.line_col(text, 4), (1, 4)); // inside é (bytes 3..5)
}

#[test]
fn line_index_edge_cases() {
    let idx = LineIndex::new("");
    assert_eq!(idx.line_count(), 1);
    assert_eq!(idx.line_col("", 0), (1, 1));
    assert_eq!(idx.line_col("", 10), (1, 1));
    assert_eq!(idx.line_span(1), Some(Span::new(0, 0)));
    assert_eq!(idx.line_span(u32::MAX), None);
    // A different text than the index was built from must not panic.
    let idx = LineIndex::new("a\nb\nc\nd");
    for offset in 0..10 {
        let _ = idx.line_col("é", offset);
        let _ = idx.line_col("", offset);
    }
}

#[test]
fn char_positions_to_bytes() {
    let text = "SELECT 'é', x";
    assert_eq!(char_pos_to_byte(text, 0), None);
    assert_eq!(char_pos_to_byte(text, 1), Some(0));
    assert_eq!(char_pos_to_byte(text, 9), Some(8)); // é
    assert_eq!(char_pos_to_byte(text, 10), Some(10)); // the quote after é (2 bytes)
    assert_eq!(char_pos_to_byte(text, 13), Some(13)); // x
    let chars = text.chars().count();
    assert_eq!(char_pos_to_byte(text, chars + 1), Some(text.len()));
    assert_eq!(char_pos_to_byte(text, chars + 2), None);
    assert_eq!(char_pos_to_byte("", 1), Some(0));
    assert_eq!(char_pos_to_byte("", 2), None);
    assert_eq!(char_pos_to_byte("😀a", 2), Some(4));
    assert_eq!(char_pos_to_byte("abc", 4), Some(3));
    assert_eq!(char_pos_to_byte("abc", usize::MAX), None);
}
