//! Where statements end: at a `;` outside string literals (`'…'`), quoted identifiers
//! (`"…"`, `` `…` ``, `[…]`) and comments (`-- …` to the end of the line, `/* … */`, which
//! do not nest, as in SQLite and tabula's SQL). The shell runs its input once it ends with
//! a complete statement.

/// The statements of some input, and whether the input ends with a complete one.
#[derive(Debug, PartialEq, Eq)]
pub struct Split {
    /// Each statement ended by a `;`: its text from its first character that is not space
    /// or comment, up to the `;` (not included). Empty statements (`;;`) are left out.
    pub statements: Vec<Statement>,
    /// Whether nothing but space and comments follows the last `;`, with no string,
    /// quoted identifier or block comment left open.
    pub complete: bool,
}

/// One statement of the input.
#[derive(Debug, PartialEq, Eq)]
pub struct Statement {
    /// Its text.
    pub text: String,
    /// The line and column (from 1, in characters) where it starts in the input: an error
    /// placed in `text` is placed in the input by [`Statement::in_input`].
    pub line: u64,
    pub column: u64,
}

impl Statement {
    /// A place (`line`, `column`) in this statement's text as a place in the input.
    pub fn in_input(&self, line: u64, column: u64) -> (u64, u64) {
        match (line, column) {
            (0, _) => (0, 0),
            // An unknown column stays unknown.
            (l, 0) => (self.line + l - 1, 0),
            (1, c) => (self.line, self.column + c - 1),
            (l, c) => (self.line + l - 1, c),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    Quoted(char),
    LineComment,
    BlockComment,
    /// The rows of a `COPY … FROM stdin` (lines of data, to a line of `\.`).
    CopyRows,
}

/// Splits `text` at every `;` that ends a statement.
pub fn split(text: &str) -> Split {
    split_with(text, false)
}

/// [`split`] for a whole script, where the lines after a `COPY … FROM stdin` are its rows
/// (to a line of `\.`), not statements: they hold quotes and `;`s of their own.
pub fn split_script(text: &str) -> Split {
    split_with(text, true)
}

/// The state after the line end at byte `i` inside a COPY's rows (or the one that ends
/// its `;`'s line): `Code` past a line of `\.` that follows it (its characters taken from
/// `chars`), else `CopyRows`.
fn rows_from(
    text: &str,
    i: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    advance: &mut impl FnMut(char) -> (u64, u64),
) -> State {
    let line = &text[i + 1..];
    let line = &line[..line.find(['\n', '\r']).unwrap_or(line.len())];
    if line != "\\." {
        return State::CopyRows;
    }
    for _ in 0..2 {
        if let Some((_, c)) = chars.next() {
            advance(c);
        }
    }
    State::Code
}

fn split_with(text: &str, copy_rows: bool) -> Split {
    let mut statements = Vec::new();
    let mut state = State::Code;
    // A `COPY … FROM stdin` ended on this line: its rows start on the next.
    let mut rows_follow = false;
    // Where the current statement's text starts: its first character that is not space
    // or comment.
    // With the line and column it starts at (counted as the characters go by: the split
    // stays linear in the input however many statements share a line).
    let mut start: Option<(usize, u64, u64)> = None;
    let (mut line, mut column) = (1u64, 0u64);
    let mut chars = text.char_indices().peekable();
    let mut advance = |c: char| {
        if c == '\n' {
            line += 1;
            column = 0;
        } else {
            column += 1;
        }
        (line, column)
    };
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let (at_line, at_column) = advance(c);
        match state {
            State::Code => match c {
                ';' => {
                    if let Some((s, line, column)) = start.take() {
                        let statement = text[s..i].trim_end();
                        rows_follow |= copy_rows && super::Kind::copies_from_stdin(statement);
                        statements.push(Statement {
                            text: statement.to_owned(),
                            line,
                            column,
                        });
                    }
                }
                '-' if next == Some('-') => {
                    chars.next();
                    advance('-');
                    state = State::LineComment;
                }
                '/' if next == Some('*') => {
                    chars.next();
                    advance('*');
                    state = State::BlockComment;
                }
                // The rows of a COPY start on the line after its `;` (the rest of that
                // line is statements, as the library reads it).
                '\n' | '\r' if rows_follow => {
                    if !(c == '\r' && next == Some('\n')) {
                        rows_follow = false;
                        state = rows_from(text, i, &mut chars, &mut advance);
                    }
                }
                c if c.is_whitespace() => {}
                c => {
                    start.get_or_insert((i, at_line, at_column));
                    match c {
                        '\'' | '"' | '`' => state = State::Quoted(c),
                        '[' => state = State::Quoted(']'),
                        _ => {}
                    }
                }
            },
            // A doubled quote is one quote inside (`]]` too, in a `[…]` name).
            State::Quoted(q) => {
                if c == q {
                    if next == Some(q) {
                        chars.next();
                        advance(q);
                    } else {
                        state = State::Code;
                    }
                }
            }
            State::LineComment => {
                if c == '\n' && rows_follow {
                    rows_follow = false;
                    state = rows_from(text, i, &mut chars, &mut advance);
                } else if c == '\n' {
                    state = State::Code;
                }
            }
            State::BlockComment => {
                if c == '*' && next == Some('/') {
                    chars.next();
                    advance('/');
                    state = State::Code;
                }
            }
            // A row's line ends at `\n`, `\r\n` or `\r`, as the library reads them.
            State::CopyRows => {
                if c == '\n' || (c == '\r' && next != Some('\n')) {
                    state = rows_from(text, i, &mut chars, &mut advance);
                }
            }
        }
    }
    let complete = start.is_none() && matches!(state, State::Code | State::LineComment);
    Split {
        statements,
        complete,
    }
}

#[cfg(test)]
mod tests {
    use super::{split, split_script};

    fn statements(text: &str) -> (Vec<String>, bool) {
        let s = split(text);
        let texts = s.statements.into_iter().map(|s| s.text).collect();
        (texts, s.complete)
    }

    fn v(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn ends_at_semicolons_outside_quotes_and_comments() {
        assert_eq!(statements("SELECT 1;"), (v(&["SELECT 1"]), true));
        assert_eq!(statements("SELECT 1"), (v(&[]), false));
        assert_eq!(
            statements("SELECT 1; SELECT 2 ;\n"),
            (v(&["SELECT 1", "SELECT 2"]), true)
        );
        assert_eq!(statements("SELECT 'a;b'"), (v(&[]), false));
        assert_eq!(statements("SELECT 'a;b';"), (v(&["SELECT 'a;b'"]), true));
        assert_eq!(
            statements("SELECT 'it''s;';"),
            (v(&["SELECT 'it''s;'"]), true)
        );
        assert_eq!(
            statements("SELECT \"a;\" FROM t;"),
            (v(&["SELECT \"a;\" FROM t"]), true)
        );
        assert_eq!(statements("SELECT 'open;"), (v(&[]), false));
        assert_eq!(statements("SELECT 1 -- no; not yet\n"), (v(&[]), false));
        assert_eq!(
            statements("SELECT 1 -- no; not yet\n;"),
            (v(&["SELECT 1 -- no; not yet"]), true)
        );
        assert_eq!(
            statements("SELECT /* ; /* ; */ 1; SELECT [a;b] FROM t;"),
            (v(&["SELECT /* ; /* ; */ 1", "SELECT [a;b] FROM t"]), true)
        );
        assert_eq!(statements("SELECT 1; /* open"), (v(&["SELECT 1"]), false));
    }

    #[test]
    fn statements_keep_their_place() {
        let s = split("SELECT 1;\n  -- x\n  SELECT\n 2; /* é */ SELECT 3;");
        let at: Vec<(u64, u64)> = s.statements.iter().map(|s| (s.line, s.column)).collect();
        assert_eq!(at, [(1, 1), (3, 3), (4, 13)]);
        assert_eq!(s.statements[1].text, "SELECT\n 2");
        // A place in the statement's text, in the input's terms.
        assert_eq!(s.statements[1].in_input(1, 8), (3, 10));
        assert_eq!(s.statements[1].in_input(2, 2), (4, 2));
        assert_eq!(s.statements[2].in_input(1, 8), (4, 20));
        assert_eq!(s.statements[2].in_input(0, 0), (0, 0));
    }

    /// Many statements on one line (a minified script) split in time and memory linear in
    /// the input: each keeps its own text only.
    #[test]
    fn a_long_line_of_statements_splits_in_linear_space() {
        let text = "INSERT INTO t (v) VALUES (1);".repeat(20_000);
        let s = split(&text);
        assert_eq!(s.statements.len(), 20_000);
        let held: usize = s.statements.iter().map(|s| s.text.len()).sum();
        assert_eq!(held, text.len() - 20_000);
        assert_eq!(
            (s.statements[19_999].line, s.statements[19_999].column),
            (1, 29 * 19_999 + 1)
        );
    }

    /// In a script, the lines after a `COPY … FROM stdin` are its rows, to a line of `\.`;
    /// typed at the prompt (`split`), there are none.
    #[test]
    fn a_script_s_copy_rows_are_no_statements() {
        let script = "COPY t (v) FROM stdin; -- rows\nit's; here\n\\.\nINSERT INTO t VALUES (1);\n\
                      copy t FROM STDIN; SELECT 1;\r\n\\.\r\nSELECT 2;\n\
                      COPY t FROM stdin;\rit's\r\\.\rSELECT [a]]'b];";
        let texts: Vec<String> = split_script(script)
            .statements
            .into_iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(
            texts,
            v(&[
                "COPY t (v) FROM stdin",
                "INSERT INTO t VALUES (1)",
                "copy t FROM STDIN",
                // The rest of the `;`'s line is statements; the rows start on the next.
                "SELECT 1",
                "SELECT 2",
                "COPY t FROM stdin",
                "SELECT [a]]'b]"
            ])
        );
        // At the prompt, the quote in the first row opens a string that runs to the last
        // row's quote.
        assert_eq!(split(script).statements.len(), 2);
    }

    #[test]
    fn statements_start_after_space_and_comments() {
        assert_eq!(
            statements("-- first\n  SELECT 1;  -- done"),
            (v(&["SELECT 1"]), true)
        );
        assert_eq!(statements(";;  ;"), (v(&[]), true));
        assert_eq!(statements("-- only a comment"), (v(&[]), true));
        assert_eq!(statements("SELECT 1; SELECT"), (v(&["SELECT 1"]), false));
    }
}
