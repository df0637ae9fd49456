//! The statements of a text, parsed one at a time. The text is tokenized a stretch at a
//! time ([`stretches`]); each `?` placeholder becomes `$1`, `$2`, … in the order they appear
//! (so that the order expressions are compiled in does not matter), and the parser takes
//! one statement at a time from the tokens. Parsed whole, a long script's statements take
//! many times its size in memory at once (a 20 MB script of single-row INSERTs took about
//! 3 GB), and its tokens 45-85 times its size: run as they are parsed
//! ([`Statements::Streamed`]), only one stretch's tokens are held. Places in errors are the
//! text's own (line and column, from 1), whichever statement they are in.
//!
//! [`stretches`]: crate::sql::stretches

use std::borrow::Cow;
use std::ops::Range;

use sqlparser::ast::Statement;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use crate::error::{Error, Result};
use crate::sql::parse::{known_unsupported, parse_error, Parsed};
use crate::sql::stretches::{Stretch, Stretches};
use crate::sql_words as tokens;

/// The dialect every text is parsed in (its tokens are read as SQLite reads them, see
/// [`tokens`]).
static DIALECT: &tokens::SqliteGrammar = &tokens::GRAMMAR;

/// The highest `$n` a text may name (SQLite's limit on parameters is 32,766).
const MOST_PARAMETERS: usize = 65_535;

/// One statement of a text: the statement, its position among the text's statements (from
/// 0) and the line and column it starts at.
pub(crate) struct Next<'p> {
    pub(crate) statement: Cow<'p, Statement>,
    pub(crate) index: usize,
    pub(crate) start: (u64, u64),
}

/// A text's statements, parsed one at a time from its tokens, which are read a stretch at a
/// time ([`stretches`]): only the current stretch's tokens are held.
pub(crate) struct Stream<'t> {
    parser: Parser<'static>,
    text: &'t str,
    /// The stretches after the current one.
    stretches: Stretches<'t>,
    /// Where the current stretch is, and its tokens again for a stretch with a `CASE`
    /// ([`Stream::reads_alike_deeper`]).
    stretch: Range<usize>,
    stretch_start: Location,
    case_tokens: Option<Vec<TokenWithSpan>>,
    /// How many values the text's placeholders take.
    placeholders: usize,
    /// The `?` placeholders numbered so far.
    marks: usize,
    /// Whether the last statement still wants its `;` (as `Parser::parse_statements` asks).
    expecting_delimiter: bool,
    index: usize,
    /// At the end, or after an error: nothing more is parsed.
    ended: bool,
    /// An error met reading the next stretch, for the statement it is in (none is: the
    /// text was read through once already, [`Stream::new`]).
    pending: Option<Error>,
}

/// The parser's recursion limit for the second reading of a statement with a `CASE`
/// ([`Stream::reads_alike_deeper`]); its default is 50.
const DEEPER_LIMIT: usize = 100;

impl<'t> Stream<'t> {
    /// Reads `text`'s first stretch of tokens and numbers its `?` placeholders. A text of
    /// several stretches is read once through first, as a text of one is: what its tokens
    /// hold that is refused (a token SQLite does not know, a placeholder tabula does not
    /// read, a chain of operators deeper than it compiles) is refused before any statement
    /// runs, and the number of values its placeholders take is known (checked before any
    /// statement runs too).
    pub(crate) fn new(text: &'t str) -> Result<Self> {
        let mut stretches = Stretches::new(text);
        let first = match stretches.next_stretch() {
            Some(first) => first?,
            None => Stretch {
                tokens: Vec::new(),
                range: 0..0,
                start: Location::new(1, 1),
            },
        };
        let (mut marks, mut highest) = (0, 0);
        let Stretch {
            tokens,
            range,
            start,
        } = first;
        let tokens = numbered_placeholders(tokens, &mut marks, &mut highest)?;
        let mut placeholders = marks.max(highest);
        if range.end < text.len() {
            // The rest read through once, its tokens let go a stretch at a time.
            let (mut marks, mut highest) = (marks, highest);
            let mut rest = stretches.clone();
            while let Some(stretch) = rest.next_stretch() {
                numbered_placeholders(stretch?.tokens, &mut marks, &mut highest)?;
            }
            placeholders = marks.max(highest);
        }
        let mut stream = Stream {
            parser: Parser::new(DIALECT),
            text,
            stretches,
            stretch: range,
            stretch_start: start,
            case_tokens: None,
            placeholders,
            marks,
            expecting_delimiter: false,
            index: 0,
            ended: false,
            pending: None,
        };
        stream.read(tokens);
        Ok(stream)
    }

    /// Parses `tokens` (the current stretch's) next.
    fn read(&mut self, tokens: Vec<TokenWithSpan>) {
        let has_case = tokens
            .iter()
            .any(|t| crate::sql_words::is_keyword(&t.token, Keyword::CASE));
        self.case_tokens = has_case.then(|| tokens.clone());
        self.parser = Parser::new(DIALECT).with_tokens_with_locations(tokens);
    }

    /// Moves on to the next stretch, its placeholders numbered after the ones before;
    /// `false` at the end of the text. An error reading it is kept for the next statement.
    fn next_stretch(&mut self) -> bool {
        let Some(next) = self.stretches.next_stretch() else {
            return false;
        };
        let mut highest = 0;
        let next = next.and_then(|s| {
            let tokens = numbered_placeholders(s.tokens, &mut self.marks, &mut highest)?;
            Ok((tokens, s.range, s.start))
        });
        match next {
            Ok((tokens, range, start)) => {
                self.stretch = range;
                self.stretch_start = start;
                self.read(tokens);
            }
            Err(e) => self.pending = Some(e),
        }
        true
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
        if let Some(e) = self.pending.take() {
            self.ended = true;
            return Some(Err(self.numbered(self.index + 1, e)));
        }
        if self.expecting_delimiter {
            // Two statements without a `;` between them.
            self.ended = true;
            let found = self.parser.peek_token_ref().clone();
            let e = self
                .parser
                .expected_ref::<()>("end of statement", &found)
                .err()?;
            // The statement before wants its end.
            return Some(Err(self.error(e, self.index, found.span.start)));
        }
        let at = self.parser.peek_token_ref().span.start;
        let first = self.parser.index();
        let parser = &mut self.parser;
        // The parser recurses as deep as the statement nests (parentheses, subqueries,
        // prefixes such as `NOT` or `INTERVAL`), up to its limit.
        let parsed = crate::stack::parse_room(|| parser.parse_statement());
        if !self.reads_alike_deeper(first, &parsed) {
            self.ended = true;
            return Some(Err(self.numbered(
                self.index + 1,
                Error::Sql {
                    line: at.line,
                    column: at.column,
                    reason: "the statement nests deeper than the parser reads: recursion limit \
                         exceeded (a CASE, a parenthesis, a subquery and an operator before \
                         an operand each take a level of about 50)"
                        .to_owned(),
                },
            )));
        }
        match parsed {
            Ok(s) => {
                self.expecting_delimiter = true;
                self.index += 1;
                Some(Ok((s, (at.line, at.column))))
            }
            Err(e) => {
                self.ended = true;
                Some(Err(self.error(e, self.index + 1, at)))
            }
        }
    }

    /// Whether a second reading of the statement that starts at token `first`, with a
    /// deeper recursion limit, gives what `parsed` is (the statement, ending where it ends,
    /// or the same error). The parser meets its recursion limit inside a `CASE` without
    /// saying so: it backs off and reads the word `CASE` as a column's name, so that a
    /// `CASE` nested about 50 levels deep made `SELECT CASE WHEN …` a column named `CASE`
    /// aliased `WHEN`. A statement that reads otherwise with room to go deeper met the
    /// limit. A statement deeper than both readings is read alike by both (each backs off
    /// to the outermost `CASE`): its `CASE`, then no column, is refused when it is bound
    /// (`Tables::resolve`). Only a text with a `CASE` is read twice.
    fn reads_alike_deeper(&self, first: usize, parsed: &Result<Statement, ParserError>) -> bool {
        let Some(tokens) = &self.case_tokens else {
            return true;
        };
        // The statement's tokens, to the first `;` where the parser stopped or after (a
        // trigger's body holds `;`s of its own; a deeper reading may go on where the first
        // stopped short): the rest of a stretch is not copied for each statement.
        let rest = tokens.get(first..).unwrap_or_default();
        let stop = self.parser.index().saturating_sub(first).min(rest.len());
        let end = rest[stop..]
            .iter()
            .position(|t| t.token == Token::SemiColon)
            .map_or(rest.len(), |p| stop + p);
        let mut deeper = Parser::new(DIALECT)
            .with_recursion_limit(DEEPER_LIMIT)
            .with_tokens_with_locations(rest[..end].to_vec());
        let again = crate::stack::deep_parse_room(|| deeper.parse_statement());
        match (parsed, &again) {
            (Ok(a), Ok(b)) => a == b && self.parser.index() - first == deeper.index(),
            (Err(a), Err(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }

    /// Whether anything but `;` and space is left (a statement, or what will be an error);
    /// the `;`s are passed over.
    pub(crate) fn has_more(&mut self) -> bool {
        loop {
            if self.ended {
                return false;
            }
            if self.pending.is_some() {
                return true;
            }
            while self.parser.consume_token(&Token::SemiColon) {
                self.expecting_delimiter = false;
            }
            // Unlike the parser's own loop (`Parser::parse_statements`), an `END` where a `;`
            // is due does not end the text: the statements after it would be passed over
            // without a word. It is refused (SQLite reads a bare `END` there as an alias;
            // tabula, as the parser, reads it as the keyword).
            if !matches!(self.parser.peek_token_ref().token, Token::EOF) {
                return true;
            }
            // A stretch ends with a `;`, so that the statement before ended with it.
            if !self.next_stretch() {
                self.ended = true;
            }
        }
    }

    /// The current stretch's tokens again, for an error's sake.
    fn stretch_tokens(&self) -> Vec<TokenWithSpan> {
        tokens::tokenize_from(&self.text[self.stretch.clone()], self.stretch_start)
            .unwrap_or_default()
    }

    /// The parser's error, placed in the text (at `statement`, where its statement starts,
    /// when the parser gives no place), or `Error::Unsupported` for a word of
    /// SQLite's it does not know (the stretch is tokenized again for that, on this path
    /// only); in a text of several statements, naming statement `number` (from 1), as
    /// errors met running one do.
    fn error(&self, e: ParserError, number: usize, statement: Location) -> Error {
        let e = match e {
            // The parser's recursion limit says no place: the statement's, rather than the
            // text's end (`parse_error`'s place for an error where the text ran out).
            ParserError::RecursionLimitExceeded => Error::Sql {
                line: statement.line,
                column: statement.column,
                reason: e.to_string(),
            },
            e => parse_error(self.text, e),
        };
        let e = match &e {
            Error::Sql { line, column, .. } => {
                known_unsupported(&self.stretch_tokens(), *line, *column).unwrap_or(e)
            }
            _ => e,
        };
        self.numbered(number, e)
    }

    /// `e`, naming statement `number` (from 1) when the text has several: a statement came
    /// before this one, or a `;` that ends a statement is followed by another (a `;` before
    /// the first statement, or after the last, makes none).
    fn numbered(&self, number: usize, e: Error) -> Error {
        let several = number > 1 || {
            // Statement 1 is in the first stretch: a statement after it is in that stretch
            // or a later one.
            let (mut in_statement, mut after_end) = (false, false);
            let mut followed = |tokens: &[TokenWithSpan]| {
                tokens.iter().any(|t| match &t.token {
                    Token::SemiColon => {
                        after_end |= in_statement;
                        false
                    }
                    Token::Whitespace(_) | Token::EOF => false,
                    _ => {
                        in_statement = true;
                        after_end
                    }
                })
            };
            followed(&self.stretch_tokens()) || {
                // `stretches` stands just after the current stretch.
                let mut rest = self.stretches.clone();
                std::iter::from_fn(|| rest.next_stretch()).any(|s| match s {
                    Ok(s) => followed(&s.tokens),
                    // Text that does not tokenize is something after the first stretch's
                    // last `;`.
                    Err(_) => true,
                })
            }
        };
        if !several {
            return e;
        }
        match e {
            Error::Sql {
                line,
                column,
                reason,
            } => Error::Sql {
                line,
                column,
                reason: format!("statement {number}: {reason}"),
            },
            Error::Unsupported { feature } => Error::Unsupported {
                feature: format!("{feature} (statement {number})"),
            },
            e => e,
        }
    }
}

/// `tokens` with each `?` placeholder numbered `$n`, after the `marks` numbered before
/// (`marks` counts them on, `highest` is raised to the highest `$n` written), refusing
/// placeholders tabula does not read and a chain of operators deeper than it compiles.
fn numbered_placeholders(
    mut tokens: Vec<TokenWithSpan>,
    marks: &mut usize,
    highest: &mut usize,
) -> Result<Vec<TokenWithSpan>> {
    for t in &mut tokens {
        if let Token::Placeholder(p) = &mut t.token {
            if p == "?" {
                *marks += 1;
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
                *highest = (*highest).max(n);
            } else {
                // SQLite's `?1`: counted as no parameter, it would be refused as "0
                // placeholders" for the values given.
                return Err(Error::Sql {
                    line: t.span.start.line,
                    column: t.span.start.column,
                    reason: format!("placeholder {p}: use ? or $1, $2, ..."),
                });
            }
        }
    }
    // SQLite's `:name`, which the parser reads as a placeholder from two tokens.
    for pair in tokens.windows(2) {
        if let (Token::Colon, Token::Word(w)) = (&pair[0].token, &pair[1].token) {
            if pair[0].span.end == pair[1].span.start && w.quote_style.is_none() {
                return Err(Error::Sql {
                    line: pair[0].span.start.line,
                    column: pair[0].span.start.column,
                    reason: format!("placeholder :{}: use ? or $1, $2, ...", w.value),
                });
            }
        }
    }
    chains_within_bounds(&tokens)?;
    Ok(tokens)
}

/// The deepest a statement's tree may be, as [`chains_within_bounds`] counts it.
const DEEPEST_TREE: usize = 2_000;

/// Refuses a text whose tree could be deeper than [`DEEPEST_TREE`] before it is parsed.
///
/// The parser reads `a + b + c …` (any infix operator: `+`, `AND`, `IS DISTINCT FROM`,
/// `AT TIME ZONE`, …) and `q UNION q UNION …` in a loop, but builds a tree as deep as the
/// chain is long, and every walk of that tree recurses once per level: a chain of 200,000
/// overflowed the stack as the tree was dropped. Compiling refuses expressions deeper than
/// 200 levels and set operations of more than 500 members, so a deeper tree never runs
/// anyway; refused here, it is never built.
///
/// The count bounds the depth from above without knowing the operators: each level of an
/// expression takes a token at least, so every token counts, from the start of a tree:
/// a comma, a parenthesis, or a clause or `CASE` keyword (`WHERE`, `WHEN`, …) that comes
/// right after an operand, where it cannot be an operand itself (the parser takes such
/// words for names elsewhere: `1 + ON + ON …` is a chain) nor an infix operator (none of
/// them is one). A parenthesized group (or a `CASE`) is an operand of the tree around it:
/// that tree is at most its own count deeper than its deepest group, so a level keeps its
/// count and its deepest group apart; a set operation's members are each a tree of their
/// own, one level deeper per operator. The tree being read is bounded by the sum over the
/// open levels.
fn chains_within_bounds(tokens: &[TokenWithSpan]) -> Result<()> {
    /// One open level: the tokens of its current tree, the deepest group inside that tree,
    /// the deepest of its earlier trees (siblings), and its set operators so far.
    #[derive(Default, Clone, Copy)]
    struct Level {
        count: usize,
        group: usize,
        done: usize,
        chain: usize,
    }
    impl Level {
        fn bound(&self) -> usize {
            self.chain + self.count + self.group
        }
        /// A new tree beside the last one.
        fn sibling(&mut self) {
            self.done = self.done.max(self.bound());
            self.count = 0;
            self.group = 0;
        }
    }
    let mut levels = vec![Level::default()];
    // The bounds of the levels around the innermost one, added up (only the innermost
    // changes until it closes): the text's bound in constant time a token.
    let mut around = 0usize;
    // Whether the token before ends an operand (a name, a literal, a closing parenthesis).
    let mut after_operand = false;
    for t in tokens {
        if let Token::Whitespace(_) = &t.token {
            continue;
        }
        let level = levels.len() - 1;
        match chain_role(&t.token) {
            Role::Open => {
                around += levels[level].bound();
                levels.push(Level::default());
            }
            Role::Close if level > 0 => {
                if let Some(inner) = levels.pop() {
                    let depth = inner.done.max(inner.bound()) + 1;
                    let outer = &mut levels[level - 1];
                    around -= outer.bound();
                    outer.group = outer.group.max(depth);
                    outer.count += 1;
                }
            }
            Role::Separator => levels[level].sibling(),
            // A statement's end: the next is a tree of its own (its set operations are
            // not the last statement's).
            Role::End => {
                levels.clear();
                levels.push(Level::default());
                around = 0;
            }
            Role::Clause if after_operand => levels[level].sibling(),
            Role::SetOperator => {
                levels[level].sibling();
                levels[level].chain += 1;
            }
            Role::Close | Role::Clause | Role::Token => levels[level].count += 1,
        }
        after_operand = tokens::ends_operand(&t.token);
        let bound = around + levels.last().map_or(0, Level::bound);
        if bound > DEEPEST_TREE {
            return Err(Error::Sql {
                line: t.span.start.line,
                column: t.span.start.column,
                reason: "the expression is nested more than 200 levels deep: parentheses \
                         inside parentheses, or operators chained without a parenthesis or \
                         comma between them (a chain counts a level per operator); split it, \
                         or use IN (…) for a long chain of OR"
                    .to_owned(),
            });
        }
    }
    Ok(())
}

/// What a token does to the depth [`chains_within_bounds`] counts.
enum Role {
    Open,
    Close,
    /// A comma: a new tree beside the one before it.
    Separator,
    /// `;`: a new statement.
    End,
    /// A clause or `CASE` keyword: a new tree when it follows an operand (else it may be a
    /// name, an operand itself).
    Clause,
    /// `UNION`, `INTERSECT`, `EXCEPT`.
    SetOperator,
    /// Anything else: part of the tree being read.
    Token,
}

fn chain_role(t: &Token) -> Role {
    match t {
        Token::LParen | Token::LBracket => Role::Open,
        Token::RParen | Token::RBracket => Role::Close,
        Token::Comma => Role::Separator,
        Token::SemiColon => Role::End,
        Token::Word(w) if w.quote_style.is_none() => match w.keyword {
            Keyword::CASE => Role::Open,
            Keyword::END => Role::Close,
            Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT => Role::SetOperator,
            // Words no infix operator has (`FROM` is in `IS DISTINCT FROM`).
            Keyword::SELECT
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
            | Keyword::JOIN => Role::Clause,
            _ => Role::Token,
        },
        _ => Role::Token,
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
