//! Where statements end: at a `;` outside string literals (`'…'`), quoted identifiers
//! (`"…"`, `` `…` ``) and comments (`-- …` to the end of the line, `/* … */`, nested as the
//! SQL parser nests them). The shell runs its input once it ends with a complete statement.

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
    /// Its text preceded by the input before it with every character but line ends made a
    /// space: run as it is, an error's line and column are those of the input as typed.
    pub as_typed: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    Quoted(char),
    LineComment,
    BlockComment(usize),
}

/// Splits `text` at every `;` that ends a statement.
pub fn split(text: &str) -> Split {
    let mut statements = Vec::new();
    let mut state = State::Code;
    // Where the current statement's text starts: its first character that is not space
    // or comment.
    let mut start: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        match state {
            State::Code => match c {
                ';' => {
                    if let Some(s) = start.take() {
                        let own = text[s..i].trim_end();
                        let blank: String = text[..s]
                            .chars()
                            .map(|c| if c == '\n' { '\n' } else { ' ' })
                            .collect();
                        statements.push(Statement {
                            text: own.to_owned(),
                            as_typed: blank + own,
                        });
                    }
                }
                '-' if next == Some('-') => {
                    chars.next();
                    state = State::LineComment;
                }
                '/' if next == Some('*') => {
                    chars.next();
                    state = State::BlockComment(1);
                }
                c if c.is_whitespace() => {}
                c => {
                    start.get_or_insert(i);
                    if matches!(c, '\'' | '"' | '`') {
                        state = State::Quoted(c);
                    }
                }
            },
            // A doubled quote inside is two quoted runs back to back: the same result.
            State::Quoted(q) => {
                if c == q {
                    state = State::Code;
                }
            }
            State::LineComment => {
                if c == '\n' {
                    state = State::Code;
                }
            }
            State::BlockComment(depth) => {
                if c == '*' && next == Some('/') {
                    chars.next();
                    state = if depth == 1 {
                        State::Code
                    } else {
                        State::BlockComment(depth - 1)
                    };
                } else if c == '/' && next == Some('*') {
                    chars.next();
                    state = State::BlockComment(depth + 1);
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
    use super::split;

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
            statements("SELECT /* ; /* ; */ ; */ 1;"),
            (v(&["SELECT /* ; /* ; */ ; */ 1"]), true)
        );
        assert_eq!(statements("SELECT 1; /* open"), (v(&["SELECT 1"]), false));
    }

    #[test]
    fn statements_keep_their_place() {
        let s = split("SELECT 1;\n  -- x\n  SELECT\n 2;");
        assert_eq!(s.statements[0].as_typed, "SELECT 1");
        assert_eq!(s.statements[1].text, "SELECT\n 2");
        assert_eq!(s.statements[1].as_typed, "         \n      \n  SELECT\n 2");
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
