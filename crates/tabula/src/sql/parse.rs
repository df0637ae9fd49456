//! A SQL text parsed: its statements (`sqlparser`, SQLite's dialect), its `?` placeholders
//! numbered, where each statement starts, and the features tabula refuses by name rather
//! than with a parse error.

use std::sync::OnceLock;

use sqlparser::ast::Statement;

use crate::error::{Error, Result};
use crate::sql::execute::PRAGMAS;
use crate::sql::point::{self, Point};
use crate::sql::run::{is_transaction_control, refused_in_transaction};
use crate::sql::stream::Stream;
use crate::sql::unsupported;
use crate::value::Value;

/// A text's statements, its `?` placeholders numbered `$1`, `$2`, … in the order they
/// appear (so that the order expressions are compiled in does not matter), and how many
/// values they take.
pub(crate) struct Parsed {
    pub(crate) statements: Vec<Statement>,
    /// The line and column each statement starts at (empty when that could not be told).
    /// Kept from the tokens: a statement's own span is computed by walking its whole tree,
    /// which is slow and, for a deep expression, deeper than the stack (and empty for some,
    /// such as `BEGIN`).
    starts: Vec<(u64, u64)>,
    placeholders: usize,
    /// The point-lookup shape of a text of one statement, read at its first run.
    point: OnceLock<Option<Point>>,
}

impl Parsed {
    /// The line and column statement `i` starts at (`(0, 0)` when not known).
    pub(crate) fn start(&self, i: usize) -> (u64, u64) {
        self.starts.get(i).copied().unwrap_or((0, 0))
    }

    /// An `Error::Sql` placed at the start of statement `i`.
    pub(crate) fn error_at(&self, i: usize, reason: String) -> Error {
        let (line, column) = self.start(i);
        Error::Sql {
            line,
            column,
            reason,
        }
    }

    /// The statement's point-lookup shape (see [`point`]), if the text is one such.
    pub(crate) fn point(&self) -> Option<&Point> {
        self.point
            .get_or_init(|| match self.statements.as_slice() {
                [one] => point::shape(one),
                _ => None,
            })
            .as_ref()
    }

    /// Refuses `BEGIN`, `COMMIT` and `ROLLBACK`, which have no place inside
    /// `db.transaction` (checked before any statement of the text runs).
    pub(crate) fn refuse_transaction_control(&self) -> Result<()> {
        for (i, s) in self.statements.iter().enumerate() {
            if is_transaction_control(s) {
                return Err(self.error_at(i, refused_in_transaction(i + 1)));
            }
        }
        Ok(())
    }

    /// Checks that `params` has a value for each placeholder, and no more.
    pub(crate) fn check_params(&self, params: &[Value]) -> Result<()> {
        check_params(self.placeholders, params)
    }
}

/// Checks that `params` has a value for each of a text's `placeholders`, and no more.
pub(crate) fn check_params(placeholders: usize, params: &[Value]) -> Result<()> {
    if placeholders != params.len() {
        return Err(Error::Sql {
            line: 0,
            column: 0,
            reason: format!(
                "the text has {placeholders} placeholder(s) and {} value(s) were given",
                params.len()
            ),
        });
    }
    Ok(())
}

/// Parses `text` (see [`Parsed`]).
pub(crate) fn parse(text: &str) -> Result<Parsed> {
    let mut stream = Stream::new(text)?;
    let (mut statements, mut starts) = (Vec::new(), Vec::new());
    while let Some(next) = stream.next_statement() {
        let (s, start) = next?;
        statements.push(s);
        starts.push(start);
    }
    Ok(Parsed {
        statements,
        starts,
        placeholders: stream.placeholders(),
        point: OnceLock::new(),
    })
}

/// For a text that does not parse where the parser stopped at `line` and `column`:
/// `Error::Unsupported` when the word there is one of SQLite's the parser does not know (a
/// pragma, `GLOB`), rather than the parser's message about a token it did not expect.
pub(crate) fn known_unsupported(
    tokens: &[sqlparser::tokenizer::TokenWithSpan],
    line: u64,
    column: u64,
) -> Option<Error> {
    use sqlparser::tokenizer::Token;
    let word = |t: &sqlparser::tokenizer::TokenWithSpan, name: &str| {
        matches!(&t.token, Token::Word(w) if w.quote_style.is_none()
            && w.value.eq_ignore_ascii_case(name))
    };
    // The token the parser stopped at, and the first of its statement.
    let at = tokens
        .iter()
        .position(|t| (t.span.start.line, t.span.start.column) >= (line, column))
        .unwrap_or(tokens.len());
    let first = tokens[..at]
        .iter()
        .rposition(|t| matches!(t.token, Token::SemiColon))
        .map_or(0, |p| p + 1);
    let first = tokens[first..]
        .iter()
        .find(|t| !matches!(t.token, Token::Whitespace(_)));
    // The tokens before the one the parser stopped at, nearest first, spaces left out.
    let mut before = tokens[..at]
        .iter()
        .rev()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)));
    let (b1, b2) = (before.next(), before.next());
    let stopped_at = tokens.get(at);
    let after = tokens.get(at + 1..).and_then(|rest| {
        rest.iter()
            .find(|t| !matches!(t.token, Token::Whitespace(_)))
    });
    let feature = if first.is_some_and(|t| word(t, "PRAGMA")) {
        PRAGMAS
    } else if stopped_at.is_some_and(|t| word(t, "GLOB")) {
        "GLOB (LIKE is case-sensitive, as GLOB is)"
    } else if b1.is_some_and(|t| word(t, "IS"))
        || (b1.is_some_and(|t| word(t, "NOT")) && b2.is_some_and(|t| word(t, "IS")))
    {
        "IS [NOT] with a value other than NULL, TRUE or FALSE (SQLite's IS as =: write = or <>, \
         with IS NULL for the nulls)"
    } else if stopped_at.is_some_and(|t| matches!(t.token, Token::RParen))
        && b1.is_some_and(|t| matches!(t.token, Token::LParen))
        && b2.is_some_and(|t| word(t, "IN"))
    {
        "an empty IN list (x IN () is false, x NOT IN () true, for any x: write that)"
    } else if [b1, stopped_at, after].windows(2).any(|pair| {
        matches!(pair, [Some(a), Some(b)] if (word(a, "INDEXED") && word(b, "BY"))
            || (word(a, "NOT") && word(b, "INDEXED")))
    }) {
        "INDEXED BY and NOT INDEXED (tabula picks the index itself; EXPLAIN shows which)"
    } else if stopped_at.is_some_and(|t| word(t, "NOT"))
        && tokens[..at]
            .iter()
            .rev()
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .take_while(|t| word(t, "NOT"))
            .count()
            >= 40
    {
        // The parser's recursion limit (50 levels) met inside a run of NOTs, which it
        // reports as a token it did not expect.
        "NOT nested more than about 50 times (the parser's limit): two NOTs cancel out"
    } else {
        return None;
    };
    Some(unsupported(format!(
        "{feature}, at line {line}, column {column}"
    )))
}

/// A parse error, with where the parser stopped (the end of the text when it ran out).
pub(crate) fn parse_error(text: &str, e: sqlparser::parser::ParserError) -> Error {
    let msg = e.to_string();
    // sqlparser says "... at Line: L, Column: C": the place goes in the error's fields, and
    // out of its reason, which `Error::Sql` shows after them.
    let mut reason = msg.clone();
    let (line, column) = msg
        .rsplit_once("Line: ")
        .and_then(|(before, rest)| {
            let (l, c) = rest.split_once(", Column: ")?;
            let digits: String = c.chars().take_while(char::is_ascii_digit).collect();
            let place = (l.trim().parse().ok()?, digits.parse().ok()?);
            if c.len() == digits.len() {
                let before = before.trim_end();
                reason = before.strip_suffix(" at").unwrap_or(before).to_owned();
            }
            Some(place)
        })
        .unwrap_or_else(|| {
            let line = text.lines().count().max(1) as u64;
            let last = text.lines().last().unwrap_or("");
            (line, last.chars().count() as u64 + 1)
        });
    Error::Sql {
        line,
        column,
        reason,
    }
}
