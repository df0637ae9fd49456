//! A SQL text's tokens, as SQLite reads its words (for statements, and for the conditions
//! of checks and `--where`, which share them): sqlparser's generic dialect, but for what
//! SQLite users type and that dialect reads otherwise. `[name]` is a quoted name (as
//! `"name"` and `` `name` `` are); `/* … */` does not nest (`/* a /* b */` is one comment);
//! `0x1F` is an integer (a 64-bit pattern: `0xFFFFFFFFFFFFFFFF` is -1); a number run into
//! a word (`1e`, `10abc`) is an unrecognized token rather than a number and its alias.
//!
//! Only the tokenizer reads with this dialect; texts are parsed with the generic one
//! (the tokens it is given are the same kinds). The tokenizer asks its dialect the
//! questions listed below: each is answered as the generic dialect answers it but those
//! above (and a comment left open at the end, which ends with the text, as in SQLite),
//! and the dialect passes for the generic one where the tokenizer asks which dialect it is
//! reading (`dialect()`).

use std::any::TypeId;

use sqlparser::dialect::{Dialect, GenericDialect};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Whitespace};

use crate::error::{Error, Result};

/// The tokenizer's dialect (see the module's comment).
#[derive(Debug)]
struct SqliteWords {
    /// Whether `/* … */` nests, as the generic dialect has it (conditions) or not (SQLite).
    nested_comments: bool,
}

const GENERIC: GenericDialect = GenericDialect {};

impl Dialect for SqliteWords {
    fn dialect(&self) -> TypeId {
        TypeId::of::<GenericDialect>()
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '[' || GENERIC.is_delimited_identifier_start(ch)
    }
    fn supports_nested_comments(&self) -> bool {
        self.nested_comments
    }
    fn supports_non_decimal_integer_literals(&self) -> bool {
        true
    }
    /// A comment left open at the end of the text ends with it, as in SQLite.
    fn supports_unterminated_block_comments(&self) -> bool {
        true
    }
    // The rest of what the tokenizer asks, as the generic dialect answers it.
    fn is_identifier_start(&self, ch: char) -> bool {
        GENERIC.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        GENERIC.is_identifier_part(ch)
    }
    fn supports_copy_from_stdin_data(&self) -> bool {
        GENERIC.supports_copy_from_stdin_data()
    }
    fn supports_literal_prefix_in_qualified_name(&self) -> bool {
        GENERIC.supports_literal_prefix_in_qualified_name()
    }
    fn supports_multiline_comment_hints(&self) -> bool {
        GENERIC.supports_multiline_comment_hints()
    }
    fn supports_pipe_operator(&self) -> bool {
        GENERIC.supports_pipe_operator()
    }
    fn supports_quote_delimited_string(&self) -> bool {
        GENERIC.supports_quote_delimited_string()
    }
    fn supports_string_escape_constant(&self) -> bool {
        GENERIC.supports_string_escape_constant()
    }
    fn supports_tilde_like_match_operator(&self) -> bool {
        GENERIC.supports_tilde_like_match_operator()
    }
    fn supports_unicode_string_literal(&self) -> bool {
        GENERIC.supports_unicode_string_literal()
    }
}

/// `text`'s tokens with their places, as SQLite reads its words (see the module's
/// comment); a token SQLite does not recognize is `Error::Sql` at its place.
pub(crate) fn tokenize(text: &str) -> Result<Vec<TokenWithSpan>> {
    words(text, true)
}

/// [`tokenize`] for a condition (a check, `--where`): `[name]` and hexadecimal integers
/// read as in statements, but nothing refused that conditions have always read, since a
/// stored schema may hold it (sqlparser writes `16L` back as it was given; a check written
/// in Rust or Python may run a number into a word, `x>0and x<9`, or nest comments).
pub(crate) fn condition_tokens(text: &str) -> Result<Vec<TokenWithSpan>> {
    words(text, false)
}

/// The tokens of `text`; `statement`: SQLite's reading, strictly (see [`tokenize`]).
fn words(text: &str, statement: bool) -> Result<Vec<TokenWithSpan>> {
    let dialect = SqliteWords {
        nested_comments: !statement,
    };
    let mut tokens = Tokenizer::new(&dialect, text)
        .tokenize_with_location()
        .map_err(|e| Error::Sql {
            line: e.location.line,
            column: e.location.column,
            reason: e.message,
        })?;
    let unrecognized = |at: Location, what: &str| Error::Sql {
        line: at.line,
        column: at.column,
        reason: format!("unrecognized token \"{what}\""),
    };
    for i in 0..tokens.len() {
        if !matches!(tokens[i].token, Token::Number(..)) {
            continue;
        }
        let (at, end) = (tokens[i].span.start, tokens[i].span.end);
        let run_into = tokens
            .get(i + 1)
            .filter(|next| next.span.start == end)
            .and_then(|next| match &next.token {
                Token::Word(w) if w.quote_style.is_none() => Some(w.value.clone()),
                _ => None,
            });
        let Token::Number(n, long) = &mut tokens[i].token else {
            continue;
        };
        // `1L` (a long integer in some dialects) is no number of SQLite's.
        let suffix = if *long { "L" } else { "" };
        if statement && (*long || run_into.is_some()) {
            let word = run_into.unwrap_or_default();
            return Err(unrecognized(at, &format!("{n}{suffix}{word}")));
        }
        let (prefix, digits) = n.split_at(n.len().min(2));
        match prefix {
            "0x" | "0X" => match u64::from_str_radix(digits, 16) {
                // The 64-bit pattern, as SQLite reads it.
                Ok(bits) => *n = (bits as i64).to_string(),
                Err(_) => {
                    return Err(Error::Sql {
                        line: at.line,
                        column: at.column,
                        reason: format!("hex literal too big: {n}"),
                    })
                }
            },
            "0o" | "0O" | "0b" | "0B" if statement => return Err(unrecognized(at, n)),
            _ => {}
        }
    }
    Ok(null_tests_spelled_out(tokens))
}

/// SQLite's (and PostgreSQL's) postfix `x ISNULL` and `x NOTNULL` as the `x IS NULL` and
/// `x IS NOT NULL` the parser reads; it would take `ISNULL` after an operand for the
/// operand's alias (`SELECT x ISNULL` named `x` `ISNULL`), a wrong answer. Only right
/// after an operand (a name, keyword or not, a literal, a closing bracket): after a word
/// that starts an expression (`SELECT`, `WHERE`, `AND`, …) or that a name follows in DDL
/// (`INDEX`, `COLUMN`, …) it is a name (SQLite takes neither word for a name anywhere).
fn null_tests_spelled_out(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let spelled = |t: &Token| -> Option<&'static [&'static str]> {
        let Token::Word(w) = t else { return None };
        if w.quote_style.is_some() {
            None
        } else if w.value.eq_ignore_ascii_case("ISNULL") {
            Some(&["IS", "NULL"])
        } else if w.value.eq_ignore_ascii_case("NOTNULL") {
            Some(&["IS", "NOT", "NULL"])
        } else {
            None
        }
    };
    // Most texts have neither word: their tokens are kept as they are.
    if !tokens.iter().any(|t| spelled(&t.token).is_some()) {
        return tokens;
    }
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len() + 4);
    for t in tokens {
        let words = spelled(&t.token).filter(|_| after_operand(&out));
        match words {
            Some(words) => {
                for (i, w) in words.iter().enumerate() {
                    if i > 0 {
                        out.push(TokenWithSpan::new(
                            Token::Whitespace(Whitespace::Space),
                            t.span,
                        ));
                    }
                    out.push(TokenWithSpan::new(Token::make_keyword(w), t.span));
                }
            }
            None => out.push(t),
        }
    }
    out
}

/// Whether the last token of `before` that is not white space ends an operand, for
/// [`null_tests_spelled_out`]: a name (a keyword too, but one an expression may follow),
/// the last part of a qualified name whatever word it is, or what [`ends_operand`] says.
fn after_operand(before: &[TokenWithSpan]) -> bool {
    let mut words = before
        .iter()
        .rev()
        .filter(|p| !matches!(p.token, Token::Whitespace(_)));
    match words.next().map(|p| &p.token) {
        Some(Token::Word(w)) if w.quote_style.is_none() => {
            let qualified = words.next().is_some_and(|q| q.token == Token::Period);
            qualified || !BEFORE_AN_EXPRESSION.contains(&w.keyword)
        }
        Some(t) => ends_operand(t),
        None => false,
    }
}

/// Words an expression may follow: a word after one of them starts an operand.
const BEFORE_AN_EXPRESSION: &[Keyword] = &[
    Keyword::SELECT,
    Keyword::DISTINCT,
    Keyword::ALL,
    Keyword::WHERE,
    Keyword::ON,
    Keyword::AND,
    Keyword::OR,
    Keyword::NOT,
    Keyword::IS,
    Keyword::CASE,
    Keyword::WHEN,
    Keyword::THEN,
    Keyword::ELSE,
    Keyword::HAVING,
    Keyword::BY,
    Keyword::SET,
    Keyword::AS,
    Keyword::FROM,
    Keyword::JOIN,
    Keyword::BETWEEN,
    Keyword::LIKE,
    Keyword::IN,
    Keyword::RETURNING,
    Keyword::VALUES,
    Keyword::USING,
    Keyword::INTO,
    Keyword::TABLE,
    Keyword::UPDATE,
    Keyword::WITH,
    Keyword::EXISTS,
    Keyword::ANY,
    Keyword::SOME,
    Keyword::CHECK,
    // Words a name follows in DDL: `CREATE INDEX isnull`, `DROP COLUMN notnull`, ...
    Keyword::INDEX,
    Keyword::REFERENCES,
    Keyword::TO,
    Keyword::COLUMN,
    Keyword::ADD,
    Keyword::CONSTRAINT,
    Keyword::VIEW,
    Keyword::TRIGGER,
];

/// Whether `t` is keyword `k` written as a word (not a quoted name that spells it).
pub(crate) fn is_keyword(t: &Token, k: Keyword) -> bool {
    matches!(t, Token::Word(w) if w.keyword == k && w.quote_style.is_none())
}

/// Whether `t` ends an operand: a literal, a name (quoted, or a word that is no keyword, or
/// a keyword that is a value), a placeholder, a closing parenthesis or `END`.
pub(crate) fn ends_operand(t: &Token) -> bool {
    match t {
        Token::Word(w) => {
            w.quote_style.is_some()
                || matches!(
                    w.keyword,
                    Keyword::NoKeyword
                        | Keyword::NULL
                        | Keyword::TRUE
                        | Keyword::FALSE
                        | Keyword::END
                )
        }
        Token::Number(..)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::HexStringLiteral(_)
        | Token::Placeholder(_)
        | Token::RParen
        | Token::RBracket => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens `read` finds in `text`, but spaces.
    fn read_by(read: fn(&str) -> Result<Vec<TokenWithSpan>>, text: &str) -> Vec<Token> {
        read(text)
            .unwrap()
            .into_iter()
            .map(|t| t.token)
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect()
    }

    fn kinds(text: &str) -> Vec<Token> {
        read_by(tokenize, text)
    }

    #[test]
    fn conditions_read_what_they_always_read() {
        let kinds = |text| read_by(condition_tokens, text);
        assert_eq!(
            kinds("[x] > 16L /* a /* b */ c */ AND x>0and"),
            vec![
                Token::make_word("x", Some('[')),
                Token::Gt,
                Token::Number("16".into(), true),
                Token::make_keyword("AND"),
                Token::make_word("x", None),
                Token::Gt,
                Token::Number("0".into(), false),
                Token::make_keyword("and"),
            ]
        );
        assert_eq!(kinds("0x10"), vec![Token::Number("16".into(), false)]);
    }

    #[test]
    fn sqlite_s_words_read_as_sqlite_reads_them() {
        assert_eq!(
            kinds("[my table].[x]"),
            vec![
                Token::make_word("my table", Some('[')),
                Token::Period,
                Token::make_word("x", Some('[')),
            ]
        );
        assert_eq!(kinds("1 /* open"), vec![Token::Number("1".into(), false)]);
        assert_eq!(
            kinds("1 /* a /* b */ 2"),
            vec![
                Token::Number("1".into(), false),
                Token::Number("2".into(), false)
            ]
        );
        assert_eq!(
            kinds("0x10 0XfF 0xFFFFFFFFFFFFFFFF X'10'"),
            vec![
                Token::Number("16".into(), false),
                Token::Number("255".into(), false),
                Token::Number("-1".into(), false),
                Token::HexStringLiteral("10".into()),
            ]
        );
        // Still numbers and words where there is room between them, or an exponent.
        assert_eq!(
            kinds("1e5 2 e 3.5"),
            vec![
                Token::Number("1e5".into(), false),
                Token::Number("2".into(), false),
                Token::make_word("e", None),
                Token::Number("3.5".into(), false),
            ]
        );
        for (text, reason, column) in [
            ("SELECT 1e", "unrecognized token \"1e\"", 8),
            ("SELECT 10abc", "unrecognized token \"10abc\"", 8),
            ("SELECT 0b101", "unrecognized token \"0b101\"", 8),
            ("SELECT 1L", "unrecognized token \"1L\"", 8),
            ("SELECT 1Lx", "unrecognized token \"1Lx\"", 8),
            (
                "SELECT 0x10000000000000000",
                "hex literal too big: 0x10000000000000000",
                8,
            ),
        ] {
            match tokenize(text) {
                Err(Error::Sql {
                    line: 1,
                    column: c,
                    reason: r,
                }) => assert_eq!((r.as_str(), c), (reason, column), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
