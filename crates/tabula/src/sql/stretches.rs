//! A long text's tokens a stretch at a time, so that a script's tokens (many times its
//! size) are never all held at once: each stretch is tokenized on its own, from the end of
//! the one before, and ends just after a `;` that ends a statement.
//!
//! Where a stretch may end is found by a scan that knows SQLite's strings, quoted names,
//! comments and `COPY … FROM stdin` rows ([`next_end`]), and then proven by the tokenizer
//! itself ([`ends_cleanly`]): the stretch's tokens must end with that `;` as a token of its
//! own, ending where the stretch does (a comment the stretch's end cut would end there
//! otherwise); every `COPY … FROM stdin` in it must have read its rows, which follow its
//! `;`, to their end; and it must not end inside a trigger's `BEGIN … END`, whose `;`s the
//! parser reads as the statement's own. Since the tokenizer reads left to right, looking at
//! most two characters ahead, and nothing but a string, a quoted name, a comment or COPY's
//! rows holds a `;`, the tokens of a stretch that ends so are the tokens the whole text has
//! there, and the tokenizer starts the next stretch as it would have gone on (after a `;`,
//! nothing read before it matters). Where the scan is wrong (a text the scan reads
//! otherwise than the tokenizer, such as a PostgreSQL `E'…\'…'` string), the proof fails
//! and the stretch grows to a later end, at least twice as long, up to the rest of the
//! text: every token is still the whole text's.

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
            let tokens = words::tokenizer_tokens(stretch, self.place);
            match tokens {
                Ok(tokens) if end == rest.len() || ends_cleanly(&tokens, stretch, self.place) => {
                    // A number SQLite does not read (`1L`) is the text's error wherever it
                    // is: refused now, not taken for a stretch that ends in a string.
                    let tokens = match words::as_sqlite_reads(tokens) {
                        Ok(tokens) => tokens,
                        Err(e) => {
                            self.at = self.text.len();
                            return Some(Err(e));
                        }
                    };
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

/// Whether the tokens of `stretch` (a text that ends with `;`, starting at `start` in the
/// whole text) end a statement where the text ends:
/// - the last token is that `;`, a token of its own that ends where the text does (not
///   the end of a comment the stretch's end closed);
/// - each `COPY … FROM stdin` in it has its rows read to their `\.` line before its `;`
///   (the tokenizer reads the rows with its `;`: a stretch that ended before they do would
///   read them without their end, or as SQL);
/// - it does not end inside a `CREATE TRIGGER … BEGIN … END` block (or a procedure's or
///   function's), whose `;`s the parser reads as the statement's own.
fn ends_cleanly(tokens: &[TokenWithSpan], stretch: &str, start: Location) -> bool {
    let Some(last) = tokens.last() else {
        return false;
    };
    if last.token != Token::SemiColon || last.span.end != end_of(stretch, start) {
        return false;
    }
    let mut in_block = false;
    tokens
        .split(|t| t.token == Token::SemiColon)
        .all(|statement| {
            let mut solid = statement
                .iter()
                .filter(|t| !matches!(t.token, Token::Whitespace(_)));
            let first = solid.next().map(|t| &t.token);
            let is = |t: Option<&Token>, k| t.is_some_and(|t| words::is_keyword(t, k));
            if in_block {
                in_block = !is(first, Keyword::END);
            } else if is(first, Keyword::CREATE) {
                // `CREATE [OR REPLACE] [TEMP] TRIGGER … BEGIN`, and procedures' and
                // functions' (not a table with columns named `function` and `begin`).
                let modifiers = [
                    Keyword::OR,
                    Keyword::REPLACE,
                    Keyword::TEMP,
                    Keyword::TEMPORARY,
                ];
                let kinds = [Keyword::TRIGGER, Keyword::PROCEDURE, Keyword::FUNCTION];
                let mut rest =
                    solid.skip_while(|t| modifiers.iter().any(|&k| words::is_keyword(&t.token, k)));
                in_block = rest
                    .next()
                    .is_some_and(|t| kinds.iter().any(|&k| words::is_keyword(&t.token, k)))
                    && rest.any(|t| words::is_keyword(&t.token, Keyword::BEGIN));
            }
            !reads_rows(statement)
                || matches!(
                    statement.last().map(|t| &t.token),
                    Some(Token::CopyData {
                        terminated: true,
                        ..
                    })
                )
        })
        && !in_block
}

/// Whether the tokenizer reads rows after the `;` that ends `statement`: it starts with
/// `COPY` and names `FROM STDIN` outside parentheses (as sqlparser's `CopyStatementTracker`
/// tells).
fn reads_rows(statement: &[TokenWithSpan]) -> bool {
    let mut solid = statement
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)));
    if !solid
        .next()
        .is_some_and(|t| matches!(&t.token, Token::Word(w) if w.keyword == Keyword::COPY))
    {
        return false;
    }
    let (mut depth, mut after_from) = (0u32, false);
    for t in solid {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(w) if after_from && w.keyword == Keyword::STDIN && depth == 0 => {
                return true
            }
            _ => {}
        }
        after_from = matches!(&t.token, Token::Word(w) if w.keyword == Keyword::FROM);
    }
    false
}

/// Where `stretch`, which starts at `start` in the whole text, ends there (as the
/// tokenizer counts: a line per `\n`, a column per character).
fn end_of(stretch: &str, start: Location) -> Location {
    match stretch.rfind('\n') {
        None => Location::new(start.line, start.column + stretch.chars().count() as u64),
        Some(at) => Location::new(
            start.line + stretch.bytes().filter(|&b| b == b'\n').count() as u64,
            stretch[at + 1..].chars().count() as u64 + 1,
        ),
    }
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
    // when it reads from stdin), whether a word of it was seen yet, and where it started.
    let (mut copy, mut begun, mut statement) = (false, false, from);
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        match state {
            In::Code => match b {
                b';' => {
                    if copy && names_stdin(&bytes[statement..i]) {
                        i = after_copy_rows(bytes, i + 1);
                        (copy, begun, statement) = (false, false, i);
                        continue;
                    }
                    (copy, begun, statement) = (false, false, i + 1);
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
                b if b.is_ascii_whitespace() || b == 0x0B => {}
                _ => {
                    // White space beyond ASCII's (a no-break space), as the tokenizer reads
                    // it: a character at a time, where one starts.
                    let c = rest.get(i..).and_then(|r| r.chars().next());
                    if let Some(c) = c.filter(|c| !c.is_ascii() && c.is_whitespace()) {
                        i += c.len_utf8();
                        continue;
                    }
                    if !begun {
                        begun = true;
                        // The word COPY, ended by anything the tokenizer ends a word at
                        // (`copyé` is a word of its own; a no-break space ends it).
                        let after = rest.get(i + 4..).and_then(|r| r.chars().next());
                        copy = bytes[i..].len() >= 4
                            && bytes[i..i + 4].eq_ignore_ascii_case(b"copy")
                            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_');
                    }
                }
            },
            // A doubled quote is one quote inside (`]]` too, in a `[…]` name).
            In::Quoted(q) => {
                if b == q {
                    if bytes.get(i + 1) == Some(&q) {
                        i += 1;
                    } else {
                        state = In::Code;
                    }
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

/// Whether the text of a `COPY` statement holds the word `stdin`, in any case (its rows
/// follow its `;`; the tokens tell for sure, [`reads_rows`]).
fn names_stdin(statement: &[u8]) -> bool {
    statement
        .windows(5)
        .any(|w| w.eq_ignore_ascii_case(b"stdin"))
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
        let clean = |text: &str| {
            let start = Location::new(1, 1);
            ends_cleanly(&words::tokenize(text).expect(text), text, start)
        };
        assert!(clean("SELECT 1;"));
        assert!(clean("COPY t FROM stdin;\n1\n\\.\nSELECT 1;"));
        // The tokenizer has read no rows for a COPY whose `;` ends the stretch.
        assert!(!clean("SELECT 1;\nCOPY t FROM stdin;"));
        assert!(!clean("SELECT 1; -- ;"));
    }

    /// Texts the scan reads otherwise than the tokenizer near a stretch's end: the
    /// tokenizer's reading wins.
    #[test]
    fn where_the_scan_is_wrong_the_tokens_still_are_the_whole_text_s() {
        let pad = "-- pad\n".repeat(STRETCH / 7 + 1);
        for tail in [
            // `]]` is a `]` inside a `[…]` name; `/*! … */` is a comment.
            "SELECT 1 AS [x]]'y] /*!, 2 AS [b'c]; SELECT 3 AS d; -- */ SELECT 99 AS z;\n\
             SELECT 4 AS e;",
            // The scan takes `E'\''` for a string and the start of another: the `;` it
            // proposes is in a comment the stretch's end would close.
            "SELECT E'\\'' /* ' ; SELECT 99; */ , 3 AS x;\nSELECT 4;",
            "SELECT $$a ' ; b$$; SELECT 2;",
        ] {
            alike(&format!("{pad}{tail}"));
        }
    }

    #[test]
    fn a_long_text_is_tokenized_a_stretch_at_a_time() {
        let stretches_of = |text: &str| {
            let mut stretches = Stretches::new(text);
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
            n
        };
        let text = long("INSERT INTO t VALUES (1, 'x');\n");
        // Three stretches of just over STRETCH bytes each hold the text (3 STRETCH and a
        // line): the last runs to its end.
        assert_eq!(stretches_of(&text), 3);
        // A COPY that reads no rows from the text is a statement like any other.
        assert_eq!(stretches_of(&format!("COPY t (a) TO stdout;\n{text}")), 3);
        // White space beyond ASCII's before a COPY, whose rows hold a quote.
        for space in ["\u{a0}", "\u{b}", "\u{3000}"] {
            let copy = format!("{space}COPY{space}t (v) FROM stdin;\nit's\n\\.\n{text}");
            // Stretches of a bounded length (`stretches_of` checks), not the rest of
            // the text as one.
            assert!(stretches_of(&copy) >= 3, "{space:?}");
            alike(&copy);
        }
    }

    /// A trigger's body holds `;`s that end no statement: no stretch ends among them.
    #[test]
    fn no_stretch_ends_inside_a_block() {
        let pad = "-- pad\n".repeat(STRETCH / 7 + 1);
        let first = |text: &str| {
            let s = Stretches::new(text)
                .next_stretch()
                .expect("a stretch")
                .expect("tokens");
            text[s.range].to_owned()
        };
        let text = format!(
            "{pad}CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t; UPDATE t SET a = 1; \
             END;\nSELECT 1;\n{pad}SELECT 2;"
        );
        let block = first(&text);
        assert!(
            !block.ends_with("FROM t;") && !block.ends_with("= 1;"),
            "{:?}",
            &block[block.len() - 40..]
        );
        // Columns named `function` and `begin` are no block.
        let text = format!("{pad}CREATE TABLE t (function TEXT, begin INTEGER);\n{pad}SELECT 2;");
        assert!(first(&text).ends_with("begin INTEGER);"));
    }
}
