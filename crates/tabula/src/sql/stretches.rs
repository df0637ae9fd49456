//! A long text's tokens a stretch at a time, so that a script's tokens (many times its
//! size) are never all held at once: each stretch is tokenized on its own, from the end of
//! the one before, and ends just after a `;` that ends a statement.
//!
//! Where a stretch may end is found by a scan that knows SQLite's strings, quoted names and
//! comments ([`next_end`]), and then proven by the tokenizer itself ([`ends_cleanly`]): the
//! stretch's tokens must end with that `;` as a token of its own, and the statement it ends
//! and every `COPY … FROM stdin` in it must have its rows, which follow its `;`, read to
//! their end. Since the tokenizer reads
//! left to right, looking at most at the character after a token before ending it, the
//! tokens of a stretch that ends so are the tokens the whole text has there, and the
//! tokenizer starts the next stretch as it would have gone on (after a `;`, nothing read
//! before it matters). Where the scan is wrong (a text the scan reads otherwise than the
//! tokenizer, such as a PostgreSQL `E'…\'…'` string), the proof fails and the stretch
//! grows to a later end, at least twice as long, up to the rest of the text: every token
//! is still the whole text's.

use std::ops::Range;

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use crate::error::Result;
use crate::sql_words as words;

/// The least a stretch holds, in bytes (a shorter text is one stretch).
pub(crate) const STRETCH: usize = 64 << 10;

/// A stretch of a text: its tokens (placed in the whole text) and where it is.
pub(crate) struct Stretch {
    pub(crate) tokens: Vec<TokenWithSpan>,
    /// Its bytes in the text.
    pub(crate) range: Range<usize>,
    /// The line and column it starts at.
    pub(crate) start: Location,
}

/// The stretches of a text, in order.
#[derive(Clone)]
pub(crate) struct Stretches<'t> {
    text: &'t str,
    /// Where the next stretch starts: the start of the text, or just after a `;` token that
    /// ends a statement.
    at: usize,
    /// The line and column `at` is at.
    place: Location,
    /// Whether the first stretch was given (an empty text has one, with no tokens).
    begun: bool,
}

impl<'t> Stretches<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        Stretches {
            text,
            at: 0,
            place: Location::new(1, 1),
            begun: false,
        }
    }

    /// The stretches after the one that ends at `range.end` (which must have ended on a
    /// `;`, or at the end), starting at `place`.
    pub(crate) fn after(text: &'t str, stretch: &Stretch) -> Self {
        let place = stretch.tokens.last().map_or(stretch.start, |t| t.span.end);
        Stretches {
            text,
            at: stretch.range.end,
            place,
            begun: true,
        }
    }

    /// The next stretch's tokens; `None` after the last. A tokenizer's error is the text's
    /// (placed in it); after one, `None`.
    pub(crate) fn next_stretch(&mut self) -> Option<Result<Stretch>> {
        if self.begun && self.at >= self.text.len() {
            return None;
        }
        self.begun = true;
        let rest = &self.text[self.at..];
        let mut least = STRETCH;
        let mut from = 0;
        loop {
            let end = next_end(rest, from, least);
            let stretch = &rest[..end];
            let tokens = words::tokenize_from(stretch, self.place);
            match tokens {
                Ok(tokens) if end == rest.len() || ends_cleanly(&tokens) => {
                    let range = self.at..self.at + end;
                    let start = self.place;
                    if let Some(last) = tokens.last() {
                        self.place = last.span.end;
                    }
                    self.at += end;
                    return Some(Ok(Stretch {
                        tokens,
                        range,
                        start,
                    }));
                }
                Err(e) if end == rest.len() => {
                    self.at = self.text.len();
                    return Some(Err(e));
                }
                // Not a statement's end after all: a longer stretch.
                _ => {
                    from = end;
                    least = (2 * end).max(least);
                }
            }
        }
    }
}

/// Whether a stretch whose text ends with `;` ends with that `;` as a token of its own, and
/// each `COPY` in it has its rows read to their `\.` line before its `;` (the tokenizer
/// reads a `COPY … FROM stdin`'s rows with its `;`: a stretch that ended before they do
/// would read them without their end, or as SQL).
fn ends_cleanly(tokens: &[TokenWithSpan]) -> bool {
    if tokens.last().map(|t| &t.token) != Some(&Token::SemiColon) {
        return false;
    }
    let mut statements = tokens.split(|t| t.token == Token::SemiColon);
    statements.all(|s| {
        let copy = s
            .iter()
            .find(|t| !matches!(t.token, Token::Whitespace(_)))
            .is_some_and(|t| words::is_keyword(&t.token, Keyword::COPY));
        !copy
            || matches!(
                s.last().map(|t| &t.token),
                Some(Token::CopyData {
                    terminated: true,
                    ..
                })
            )
    })
}

/// Where the stretch of `rest` that starts at its byte 0 may end: just after the first `;`
/// at byte `from` or later that ends a statement and leaves a stretch of `least` bytes or
/// more, as far as a scan of SQLite's strings, quoted names and comments tells (`from` is
/// 0 or such an end); the end of `rest` when none does.
fn next_end(rest: &str, from: usize, least: usize) -> usize {
    #[derive(PartialEq)]
    enum In {
        Code,
        Quoted(u8),
        LineComment,
        BlockComment,
    }
    let bytes = rest.as_bytes();
    let mut state = In::Code;
    // Whether the statement being read starts with the word COPY (its rows follow its `;`
    // when it reads from stdin), and whether a word of it was seen yet.
    let (mut copy, mut begun) = (false, false);
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        match state {
            In::Code => match b {
                b';' => {
                    if copy {
                        i = after_copy_rows(bytes, i + 1);
                        (copy, begun) = (false, false);
                        continue;
                    }
                    (copy, begun) = (false, false);
                    if i + 1 >= least {
                        return i + 1;
                    }
                }
                b'-' if bytes.get(i + 1) == Some(&b'-') => {
                    state = In::LineComment;
                    i += 1;
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    state = In::BlockComment;
                    i += 1;
                }
                b'\'' | b'"' | b'`' => {
                    state = In::Quoted(b);
                    begun = true;
                }
                b'[' => {
                    state = In::Quoted(b']');
                    begun = true;
                }
                b if b.is_ascii_whitespace() => {}
                _ => {
                    if !begun {
                        begun = true;
                        copy = bytes[i..].len() >= 4
                            && bytes[i..i + 4].eq_ignore_ascii_case(b"copy")
                            && !bytes
                                .get(i + 4)
                                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
                    }
                }
            },
            // A doubled quote inside is two quoted runs back to back: the same ends.
            In::Quoted(q) => {
                if b == q {
                    state = In::Code;
                }
            }
            In::LineComment => {
                if b == b'\n' {
                    state = In::Code;
                }
            }
            In::BlockComment => {
                if b == b'*' && bytes.get(i + 1) == Some(&b'/') {
                    state = In::Code;
                    i += 1;
                }
            }
        }
        i += 1;
    }
    bytes.len()
}

/// Where the rows of a `COPY … FROM stdin` whose `;` ends just before byte `i` end: after
/// the line that holds only `\.`, the rows starting on the line after the `;` (as the
/// tokenizer reads them); the end of the text when no such line follows.
fn after_copy_rows(bytes: &[u8], i: usize) -> usize {
    let mut line = match bytes[i..].iter().position(|&b| b == b'\n') {
        Some(p) => i + p + 1,
        None => return bytes.len(),
    };
    while line < bytes.len() {
        let end = bytes[line..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map_or(bytes.len(), |p| line + p);
        if &bytes[line..end] == b"\\." {
            return end;
        }
        line = end + 1;
        if bytes.get(end) == Some(&b'\r') && bytes.get(end + 1) == Some(&b'\n') {
            line += 1;
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every token of `text`, read a stretch at a time with stretches of at least `least`
    /// bytes (rather than [`STRETCH`]), against the text tokenized whole.
    fn alike(text: &str) {
        let whole = words::tokenize(text).map_err(|e| e.to_string());
        let mut pieces: Vec<TokenWithSpan> = Vec::new();
        let mut stretches = Stretches::new(text);
        let mut failed = None;
        while let Some(s) = stretches.next_stretch() {
            match s {
                Ok(s) => {
                    assert_eq!(&text[s.range.clone()].is_empty(), &s.tokens.is_empty());
                    pieces.extend(s.tokens);
                }
                Err(e) => failed = Some(e.to_string()),
            }
        }
        // Where the two differ, not the whole of a long text.
        let shown = &text[..text.floor_char_boundary(80)];
        match (whole, failed) {
            (Ok(whole), None) => {
                let differ = whole.iter().zip(&pieces).position(|(a, b)| a != b);
                assert!(
                    differ.is_none() && whole.len() == pieces.len(),
                    "{shown:?}…: token {differ:?} of {} differs ({:?} against {:?})",
                    whole.len(),
                    differ.map(|i| &whole[i]),
                    differ.map(|i| &pieces[i]),
                );
            }
            (Err(a), Some(b)) => assert_eq!(a, b, "{shown:?}…"),
            (whole, failed) => panic!(
                "{shown:?}…: whole {:?}, in stretches {failed:?}",
                whole.map(|t| t.len())
            ),
        }
    }

    /// `piece` repeated until the text is longer than a few stretches.
    fn long(piece: &str) -> String {
        piece.repeat(3 * STRETCH / piece.len() + 1)
    }

    #[test]
    fn stretches_read_the_tokens_the_whole_text_has() {
        alike("");
        alike("SELECT 1");
        alike(&long(
            "INSERT INTO t VALUES (1, 'a;b', \"c;d\", [e;f]); -- x;y\n",
        ));
        alike(&long("SELECT 1 /* ; */; SELECT 'it''s; here';\n"));
        // Placed on lines after the first and after a first line's columns.
        alike(&format!("SELECT 1;\n   {}", long("SELECT\n  2 ;")));
        // A PostgreSQL escape string the scan reads otherwise than the tokenizer.
        alike(&long("SELECT E'a\\';b'; SELECT 1;\n"));
        // COPY's rows follow its `;`, and hold `;` and quotes.
        let copy = "COPY t (a, b) FROM stdin;\n1\tx;'\n2\ty\n\\.\nSELECT 1;\n";
        alike(&long(copy));
        alike(&long(&copy.replace('\n', "\r\n")));
        // A string left open at the end: the whole text's error.
        alike(&format!("{}SELECT 'open", long("SELECT 1;\n")));
        // A token SQLite does not know, in a later stretch.
        alike(&format!("{}SELECT 1L;", long("SELECT 1;\n")));
    }

    #[test]
    fn a_copy_s_rows_stay_in_its_stretch() {
        // The first `;` past a stretch's length is a COPY's: its rows follow it.
        let pad = "-- pad\n".repeat(STRETCH / 7 + 1);
        alike(&format!(
            "{pad}COPY t (a) FROM stdin;\n1;x\n'\n\\.\nSELECT 1;\n{pad}SELECT 2;"
        ));
        let clean = |text: &str| ends_cleanly(&words::tokenize(text).expect(text));
        assert!(clean("SELECT 1;"));
        assert!(clean("COPY t FROM stdin;\n1\n\\.\nSELECT 1;"));
        // The tokenizer has read no rows for a COPY whose `;` ends the stretch.
        assert!(!clean("SELECT 1;\nCOPY t FROM stdin;"));
        assert!(!clean("SELECT 1; -- ;"));
    }

    #[test]
    fn a_long_text_is_tokenized_a_stretch_at_a_time() {
        let text = long("INSERT INTO t VALUES (1, 'x');\n");
        let mut stretches = Stretches::new(&text);
        let mut n = 0;
        while let Some(s) = stretches.next_stretch() {
            let s = s.expect("tokens");
            assert!(
                s.range.len() >= STRETCH || s.range.end == text.len(),
                "{:?}",
                s.range
            );
            assert!(s.range.len() < STRETCH + 64, "{:?}", s.range);
            n += 1;
        }
        // Three stretches of just over STRETCH bytes each hold the text (3 STRETCH and a
        // line): the last runs to its end.
        assert_eq!(n, 3);
    }
}
