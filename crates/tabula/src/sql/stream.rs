//! The statements of a text, parsed one at a time. The text is tokenized once; each `?`
//! placeholder becomes `$1`, `$2`, … in the order they appear (so that the order expressions
//! are compiled in does not matter), and the parser takes one statement at a time from the
//! tokens. Parsed whole, a long script's statements take many times its size in memory at
//! once (a 20 MB script of single-row INSERTs took about 3 GB): run as they are parsed
//! ([`Statements::Streamed`]), only the tokens are held. Places in errors are the text's
//! own (line and column, from 1), whichever statement they are in.

use std::borrow::Cow;

use sqlparser::ast::Statement;
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::error::{Error, Result};
use crate::sql::run::{known_unsupported, parse_error, Parsed};
use crate::sql_words as tokens;

/// The dialect every text is parsed in (its tokens are read as SQLite reads them, see
/// [`tokens`]).
static DIALECT: GenericDialect = GenericDialect {};

/// The highest `$n` a text may name (SQLite's limit on parameters is 32,766).
const MOST_PARAMETERS: usize = 65_535;

/// One statement of a text: the statement, its position among the text's statements (from
/// 0) and the line and column it starts at.
pub(crate) struct Next<'p> {
    pub(crate) statement: Cow<'p, Statement>,
    pub(crate) index: usize,
    pub(crate) start: (u64, u64),
}

/// A text's statements, parsed one at a time from its tokens.
pub(crate) struct Stream<'t> {
    parser: Parser<'static>,
    text: &'t str,
    /// How many values the text's placeholders take.
    placeholders: usize,
    /// Whether the last statement still wants its `;` (as `Parser::parse_statements` asks).
    expecting_delimiter: bool,
    index: usize,
    /// At the end, or after an error: nothing more is parsed.
    ended: bool,
    /// Whether the text nests deeper than [`SHALLOW`], so that parsing it may need more
    /// stack than a thread has (see [`crate::stack::parse_room`]).
    nested: bool,
}

/// Levels of parentheses (and `CASE`) the parser takes on any thread's stack.
const SHALLOW: usize = 8;

impl<'t> Stream<'t> {
    /// Tokenizes `text` and numbers its `?` placeholders.
    pub(crate) fn new(text: &'t str) -> Result<Self> {
        let mut tokens = tokens::tokenize(text)?;
        let (mut marks, mut highest) = (0usize, 0usize);
        for t in &mut tokens {
            if let Token::Placeholder(p) = &mut t.token {
                if p == "?" {
                    marks += 1;
                    *p = format!("${marks}");
                } else if let Some(digits) = p
                    .strip_prefix('$')
                    .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                {
                    // Too long for a number is out of range as well.
                    let n = digits.parse::<usize>().unwrap_or(usize::MAX);
                    if n == 0 || n > MOST_PARAMETERS {
                        return Err(Error::Sql {
                            line: t.span.start.line,
                            column: t.span.start.column,
                            reason: format!(
                                "placeholder ${digits}: placeholders are numbered from $1 to \
                                 ${MOST_PARAMETERS}"
                            ),
                        });
                    }
                    highest = highest.max(n);
                }
            }
        }
        let nesting = chains_within_bounds(&tokens)?;
        Ok(Stream {
            nested: nesting > SHALLOW,
            parser: Parser::new(&DIALECT).with_tokens_with_locations(tokens),
            text,
            placeholders: marks.max(highest),
            expecting_delimiter: false,
            index: 0,
            ended: false,
        })
    }

    /// How many values the text's placeholders take.
    pub(crate) fn placeholders(&self) -> usize {
        self.placeholders
    }

    /// The next statement with where it starts; `None` at the end of the text. After an
    /// error, `None`.
    pub(crate) fn next_statement(&mut self) -> Option<Result<(Statement, (u64, u64))>> {
        if !self.has_more() {
            return None;
        }
        if self.expecting_delimiter {
            // Two statements without a `;` between them.
            self.ended = true;
            let found = self.parser.peek_token_ref().clone();
            let e = self
                .parser
                .expected_ref::<()>("end of statement", &found)
                .err()?;
            return Some(Err(self.error(e)));
        }
        let at = self.parser.peek_token_ref().span.start;
        let parser = &mut self.parser;
        let parsed = if self.nested {
            crate::stack::parse_room(|| parser.parse_statement())
        } else {
            parser.parse_statement()
        };
        match parsed {
            Ok(s) => {
                self.expecting_delimiter = true;
                self.index += 1;
                Some(Ok((s, (at.line, at.column))))
            }
            Err(e) => {
                self.ended = true;
                Some(Err(self.error(e)))
            }
        }
    }

    /// Whether anything but `;` and space is left (a statement, or what will be an error);
    /// the `;`s are passed over. The parser's own loop (`Parser::parse_statements`) is
    /// followed: an `END` where a `;` is due ends the text.
    pub(crate) fn has_more(&mut self) -> bool {
        if self.ended {
            return false;
        }
        while self.parser.consume_token(&Token::SemiColon) {
            self.expecting_delimiter = false;
        }
        let more = match &self.parser.peek_token_ref().token {
            Token::EOF => false,
            Token::Word(w) => !(self.expecting_delimiter && w.keyword == Keyword::END),
            _ => true,
        };
        if !more {
            self.ended = true;
        }
        more
    }

    /// The parser's error, placed in the text, or `Error::Unsupported` for a word of
    /// SQLite's it does not know (the text is tokenized again for that, on this path only).
    fn error(&self, e: ParserError) -> Error {
        let e = parse_error(self.text, e);
        match &e {
            Error::Sql { line, column, .. } => tokens::tokenize(self.text)
                .ok()
                .and_then(|tokens: Vec<TokenWithSpan>| known_unsupported(&tokens, *line, *column))
                .unwrap_or(e),
            _ => e,
        }
    }
}

/// The most operators an expression may chain (see [`chains_within_bounds`]).
const LONGEST_CHAIN: usize = 1_000;

/// Refuses a text with a chain of more than [`LONGEST_CHAIN`] operators before it is parsed.
///
/// The parser reads `a + b + c …` in a loop but builds a tree as deep as the chain is
/// long, and every walk of that tree recurses once per level: a chain of 200,000 overflowed
/// the stack as the tree was dropped. Compiling refuses trees deeper than 200 levels, so
/// a longer chain never runs anyway; refused here, it is never built. The count is
/// conservative: operators are counted from the last comma or clause keyword (`WHEN`,
/// `WHERE`, …: the start of a sibling tree) at each level of parentheses, and an inner
/// level adds its longest count to the level around it, so that no tree deeper than the
/// count passes. Returns how deep the parser will recurse, about: the deepest nesting of
/// parentheses and `CASE`, and the longest run of prefix operators.
fn chains_within_bounds(tokens: &[TokenWithSpan]) -> Result<usize> {
    // Per open level (parenthesis or CASE): the count of the current sibling, and the
    // longest of the siblings before it.
    let mut levels: Vec<(usize, usize)> = vec![(0, 0)];
    let (mut total, mut deepest) = (0usize, 0usize);
    // The parser recurses once per prefix operator too (`NOT NOT …`, `- - …`).
    let (mut prefixes, mut most_prefixes) = (0usize, 0usize);
    for t in tokens {
        match &t.token {
            Token::Whitespace(_) => {}
            Token::Minus | Token::Plus | Token::Tilde | Token::ExclamationMark => prefixes += 1,
            Token::Word(w) if w.quote_style.is_none() && w.keyword == Keyword::NOT => prefixes += 1,
            _ => prefixes = 0,
        }
        most_prefixes = most_prefixes.max(prefixes);
        match chain_role(&t.token) {
            Role::Open => {
                levels.push((0, 0));
                deepest = deepest.max(levels.len() - 1);
            }
            Role::Close => {
                if levels.len() > 1 {
                    if let Some((current, longest)) = levels.pop() {
                        let inner = current.max(longest);
                        total -= current;
                        if let Some(outer) = levels.last_mut() {
                            outer.0 += inner + 1;
                            total += inner + 1;
                        }
                    }
                }
            }
            Role::Sibling => {
                if let Some(level) = levels.last_mut() {
                    total -= level.0;
                    level.1 = level.1.max(level.0);
                    level.0 = 0;
                }
            }
            Role::Operator => {
                if let Some(level) = levels.last_mut() {
                    level.0 += 1;
                    total += 1;
                }
            }
            Role::Other => {}
        }
        if total > LONGEST_CHAIN {
            return Err(Error::Sql {
                line: t.span.start.line,
                column: t.span.start.column,
                reason: format!(
                    "the expression is nested more than 200 levels deep: it chains more \
                     than {LONGEST_CHAIN} operators without a parenthesis or comma between \
                     them (a chain of operators counts a level per operator); split it, or \
                     use IN (…) for a long chain of OR"
                ),
            });
        }
    }
    Ok(deepest + most_prefixes)
}

/// What a token does to the depth [`chains_within_bounds`] counts.
enum Role {
    Open,
    Close,
    /// Starts a tree beside the one before it (a comma, a clause, a `CASE` branch).
    Sibling,
    Operator,
    Other,
}

fn chain_role(t: &Token) -> Role {
    match t {
        Token::LParen | Token::LBracket => Role::Open,
        Token::RParen | Token::RBracket => Role::Close,
        Token::Comma | Token::SemiColon => Role::Sibling,
        Token::Word(w) if w.quote_style.is_none() => match w.keyword {
            Keyword::CASE => Role::Open,
            Keyword::END => Role::Close,
            Keyword::AND
            | Keyword::OR
            | Keyword::NOT
            | Keyword::IS
            | Keyword::LIKE
            | Keyword::ILIKE
            | Keyword::GLOB
            | Keyword::REGEXP
            | Keyword::MATCH
            | Keyword::IN
            | Keyword::BETWEEN
            | Keyword::COLLATE
            | Keyword::ESCAPE => Role::Operator,
            Keyword::SELECT
            | Keyword::FROM
            | Keyword::WHERE
            | Keyword::GROUP
            | Keyword::HAVING
            | Keyword::ORDER
            | Keyword::LIMIT
            | Keyword::OFFSET
            | Keyword::ON
            | Keyword::USING
            | Keyword::SET
            | Keyword::VALUES
            | Keyword::WHEN
            | Keyword::THEN
            | Keyword::ELSE
            | Keyword::UNION
            | Keyword::INTERSECT
            | Keyword::EXCEPT
            | Keyword::JOIN => Role::Sibling,
            _ => Role::Other,
        },
        Token::Word(_)
        | Token::Whitespace(_)
        | Token::Number(..)
        | Token::Char(_)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::HexStringLiteral(_)
        | Token::Placeholder(_)
        | Token::EOF => Role::Other,
        // Every other token is punctuation: an operator, or taken as one.
        _ => Role::Operator,
    }
}

/// The statements a run goes through: parsed already, or parsed as it reaches them.
pub(crate) enum Statements<'p> {
    Parsed { parsed: &'p Parsed, next: usize },
    Streamed(Box<Stream<'p>>),
}

impl<'p> Statements<'p> {
    /// The next statement; `None` after the last. A statement that does not parse is an
    /// error here, once the ones before it have run.
    pub(crate) fn next(&mut self) -> Option<Result<Next<'p>>> {
        match self {
            Statements::Parsed { parsed, next } => {
                let index = *next;
                let statement = parsed.statements.get(index)?;
                *next += 1;
                Some(Ok(Next {
                    statement: Cow::Borrowed(statement),
                    index,
                    start: parsed.start(index),
                }))
            }
            Statements::Streamed(stream) => {
                let index = stream.index;
                stream.next_statement().map(|r| {
                    r.map(|(s, start)| Next {
                        statement: Cow::Owned(s),
                        index,
                        start,
                    })
                })
            }
        }
    }

    /// Whether a statement follows the last one [`next`](Statements::next) gave.
    pub(crate) fn has_more(&mut self) -> bool {
        match self {
            Statements::Parsed { parsed, next } => *next < parsed.statements.len(),
            Statements::Streamed(stream) => stream.has_more(),
        }
    }
}
