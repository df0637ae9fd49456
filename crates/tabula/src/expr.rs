//! SQL boolean expressions over one table's columns, compiled into tabula predicates:
//! `gpa > 3.5 AND year = 2024`, `advisor IS NULL`, `name LIKE 'A%'`, `year IN (2023, 2024)`,
//! `gpa BETWEEN 3 AND 4`, `NOT (...)`, `OR`. Parsed with `sqlparser`, checked against the
//! schema (unknown columns and values that cannot be compared with their column are errors),
//! evaluated with SQL's three-valued logic (a comparison with null is neither true nor false,
//! and the row is left out). Top-level `AND` terms comparing an indexed column with a value
//! are also handed to the planner, so an index serves them.

use std::cmp::Ordering;
use std::ops::Bound;

use sqlparser::ast::{BinaryOperator, Expr, InTarget, Spanned, UnaryOperator, Value as SqlValue};
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::error::{Error, Result};
use crate::schema::{ColumnType, Schema};
use crate::sql_name::{self, ident};
use crate::sql_words::is_keyword;
use crate::value::{Value, ValueRef};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A compiled condition. A chain of `AND`s (or of `OR`s) is one node with all its terms, so
/// a flat chain of any length compiles and evaluates without recursion.
#[derive(Debug, Clone)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Compare(usize, Cmp, Value),
    Columns(usize, Cmp, usize),
    IsNull(usize, bool),
    Like(usize, Pattern, bool),
    In(usize, Vec<Value>, bool),
    Between(usize, Value, Value, bool),
}

/// One element of a LIKE pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Piece {
    /// `%`: any run of characters.
    Any,
    /// `_`: any one character.
    One,
    /// A character matched as it is (an escaped `%` or `_` included).
    Char(char),
}

/// A compiled LIKE pattern, and whether it ignores case (ILIKE).
#[derive(Debug, Clone)]
struct Pattern {
    pieces: Vec<Piece>,
    ignore_case: bool,
}

/// A compiled condition; see the module documentation. Use it through
/// [`Select::where_sql`](crate::Select::where_sql) or test rows with [`Condition::matches`].
///
/// A literal compared for equality (`=`, `<>`, `IN`) must be a value its column can hold, as
/// for `where_eq`; an ordering (`<`, `>=`, `BETWEEN`) accepts any number for a numeric
/// column, as `where_range` does. `LIKE` compares text columns only, and takes an optional
/// `ESCAPE` character. A flat chain of `AND`s or `OR`s may be as long as you like; nesting
/// (parentheses, `NOT`, `AND` inside `OR`) deeper than [`NESTING_LIMIT`] levels is an
/// [`Error::InvalidExpression`] naming the limit.
///
/// ```
/// use tabula::{Column, ColumnType, Condition, Schema, Value};
/// let schema = Schema::new("t", vec![
///     Column::new("id", ColumnType::U64).primary_key(),
///     Column::new("name", ColumnType::Text),
///     Column::new("gpa", ColumnType::F64).nullable(),
/// ])?;
/// let c = Condition::parse(&schema, "name LIKE 'A%' AND (gpa >= 3.5 OR gpa IS NULL)")?;
/// assert!(c.matches(&[Value::Int(1), Value::from("Ann"), Value::Null]));
/// assert!(!c.matches(&[Value::Int(2), Value::from("Bo"), Value::Float(4.0)]));
/// let e = Condition::parse(&schema, "gpa >> 3").unwrap_err();
/// assert!(e.to_string().contains("Column"), "{e}");
/// # Ok::<(), tabula::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Condition {
    root: Node,
    text: String,
}

impl Condition {
    /// The `Error::Check` of this condition, a check of `schema`'s table written as `text`,
    /// for the row `get` reads (its key `key`): naming the columns the check reads, in the
    /// table's order, with the row's values.
    pub(crate) fn check_error<'v>(
        &self,
        schema: &Schema,
        text: &str,
        key: Value,
        get: &dyn Fn(usize) -> ValueRef<'v>,
    ) -> Error {
        Error::Check {
            table: schema.table.clone(),
            constraint: text.to_owned(),
            key,
            values: self
                .columns()
                .into_iter()
                .filter_map(|c| Some((schema.columns.get(c)?.name.clone(), get(c).to_owned())))
                .collect(),
        }
    }

    /// The positions of the columns the condition reads, in the table's order, each once.
    fn columns(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut todo = vec![&self.root];
        while let Some(node) = todo.pop() {
            match node {
                Node::And(v) | Node::Or(v) => todo.extend(v),
                Node::Not(n) => todo.push(n),
                Node::Columns(a, _, b) => out.extend([*a, *b]),
                Node::Compare(c, ..)
                | Node::IsNull(c, _)
                | Node::Like(c, ..)
                | Node::In(c, ..)
                | Node::Between(c, ..) => out.push(*c),
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// How deeply a condition may nest: each parenthesis and each `NOT` or unary minus inside
/// another counts one level. Deeper is an [`Error::InvalidExpression`] naming this limit. A
/// flat chain of `AND`s or `OR`s counts nothing, whatever its length.
pub const NESTING_LIMIT: usize = 50;

/// The parser's own recursion limit, a backstop above [`NESTING_LIMIT`]: the parser spends
/// a few levels of its own on each level of nesting.
const PARSER_LIMIT: usize = 4 * NESTING_LIMIT + 16;

fn too_deep(text: &str) -> Error {
    bad(
        text,
        format!(
            "nested deeper than {NESTING_LIMIT} levels, the limit (each parenthesis, NOT and \
             unary minus inside another counts one); a flat chain of ANDs or ORs has no limit"
        ),
    )
}

/// How deeply `text` nests, as [`NESTING_LIMIT`] counts it, found without recursion from
/// its tokens (`None` if it does not tokenize; the parser then reports why).
fn nesting(text: &str) -> Option<usize> {
    use sqlparser::keywords::Keyword;
    let tokens = crate::sql_words::condition_tokens(text).ok()?;
    // The depth at each open parenthesis, and the run of NOTs and minuses since.
    let (mut outer, mut base, mut run, mut deepest) = (Vec::new(), 0usize, 0usize, 0usize);
    for token in tokens.into_iter().map(|t| t.token) {
        match token {
            Token::LParen => {
                outer.push(base);
                base += run + 1;
                run = 0;
            }
            Token::RParen => {
                base = outer.pop().unwrap_or(0);
                run = 0;
            }
            Token::Word(w) if w.keyword == Keyword::NOT => run += 1,
            Token::Minus => run += 1,
            Token::Whitespace(_) => {}
            _ => run = 0,
        }
        deepest = deepest.max(base + run);
    }
    Some(deepest)
}

/// [`Condition::parse`] on this thread's stack.
fn parse_here(schema: &Schema, text: &str) -> Result<Condition> {
    // Every parse error says where: the parser's own position, or the end of the text.
    let located = |e: sqlparser::parser::ParserError| {
        if matches!(e, sqlparser::parser::ParserError::RecursionLimitExceeded) {
            return too_deep(text);
        }
        let msg = e.to_string();
        if msg.contains("Line:") {
            bad(text, msg)
        } else {
            bad(
                text,
                format!(
                    "{msg} at the end (Line: 1, Column: {})",
                    text.chars().count() + 1
                ),
            )
        }
    };
    // Tokenized as SQL reads `[name]` and hexadecimal integers (a check is kept as SQL
    // wrote it), and as conditions always were otherwise (a stored schema may hold it).
    let tokens = crate::sql_words::condition_tokens(text).map_err(|e| match e {
        Error::Sql {
            line,
            column,
            reason,
        } => bad(text, format!("{reason} at Line: {line}, Column: {column}")),
        e => e,
    })?;
    let mut parser = Parser::new(&crate::sql_words::GRAMMAR)
        .with_recursion_limit(PARSER_LIMIT)
        .with_tokens_with_locations(tokens);
    let expr = parser.parse_expr().map_err(located)?;
    let next = parser.peek_token();
    let compiled = if next.token == Token::EOF {
        compile(schema, text, &expr)
    } else {
        Err(bad(
            text,
            format!(
                "unexpected {} at Line: {}, Column: {}",
                next.token, next.span.start.line, next.span.start.column
            ),
        ))
    };
    drop_flat(expr);
    Ok(Condition {
        root: compiled?,
        text: text.to_owned(),
    })
}

/// Drops a parsed expression without recursing down chains of binary operators, which the
/// parser builds as deep as they are long.
fn drop_flat(e: Expr) {
    let mut pending = vec![e];
    while let Some(e) = pending.pop() {
        match e {
            Expr::BinaryOp { left, right, .. } => {
                pending.push(*left);
                pending.push(*right);
            }
            Expr::Nested(inner) | Expr::UnaryOp { expr: inner, .. } => pending.push(*inner),
            // Everything else nests at most as deep as the parser allows.
            _ => {}
        }
    }
}

fn bad(text: &str, reason: impl Into<String>) -> Error {
    Error::InvalidExpression {
        expression: text.to_owned(),
        reason: reason.into(),
    }
}

/// Whether `e` heads a chain the parser built in its loop (`a + b + …`, `x IS NULL IS NULL
/// …`: each link the left operand of the next) longer than a walk of it should recurse
/// through: its position (`span`) and its text (`Display`) are found by recursing once per
/// link, with frames of several KB in an unoptimized build. Such an expression is shown
/// by [`shown`], and placed by nothing. The chain is followed without recursion.
pub(crate) fn left_deep(e: &Expr) -> bool {
    const LINKS: usize = 32;
    let mut e = e;
    for _ in 0..LINKS {
        e = match e {
            Expr::BinaryOp { left, .. } => left,
            Expr::UnaryOp { expr, .. }
            | Expr::Nested(expr)
            | Expr::IsNull(expr)
            | Expr::IsNotNull(expr)
            | Expr::IsTrue(expr)
            | Expr::IsNotTrue(expr)
            | Expr::IsFalse(expr)
            | Expr::IsNotFalse(expr)
            | Expr::IsUnknown(expr)
            | Expr::IsNotUnknown(expr)
            | Expr::IsDistinctFrom(expr, _)
            | Expr::IsNotDistinctFrom(expr, _)
            | Expr::Cast { expr, .. }
            | Expr::Collate { expr, .. }
            | Expr::Like { expr, .. }
            | Expr::ILike { expr, .. }
            | Expr::SimilarTo { expr, .. }
            | Expr::RLike { expr, .. }
            | Expr::Between { expr, .. }
            | Expr::In { expr, .. }
            | Expr::AnyOp { left: expr, .. }
            | Expr::AllOp { left: expr, .. }
            | Expr::AtTimeZone {
                timestamp: expr, ..
            } => expr,
            _ => return false,
        };
    }
    true
}

/// `e` as written, for a message; a chain too long to walk ([`left_deep`]) is named so.
pub(crate) fn shown(e: &Expr) -> String {
    if left_deep(e) {
        "an expression chaining too many operators to show".to_owned()
    } else {
        e.to_string()
    }
}

/// An error about part `e` of the expression, saying where that part starts (unless it
/// heads a chain too long to walk, see [`left_deep`]).
fn bad_at(text: &str, e: &Expr, reason: impl Into<String>) -> Error {
    if left_deep(e) {
        return bad(text, reason);
    }
    let at = e.span().start;
    if at.line == 0 {
        // The parser keeps no place for some forms (`s REGEXP 'a'`): none is shown.
        return bad(text, reason);
    }
    bad(
        text,
        format!(
            "{} at Line: {}, Column: {}",
            reason.into(),
            at.line,
            at.column
        ),
    )
}

impl Condition {
    /// Parses and checks `text` against `schema`.
    pub fn parse(schema: &Schema, text: &str) -> Result<Condition> {
        // The parser builds a chain `a OR b OR c ...` left-deep and recurses on it in places,
        // and it recurses once per level of nesting with large frames (up to
        // `NESTING_LIMIT` levels, which a 2 MiB thread stack does not always hold). A text
        // that is long, or that nests at all deeply, is parsed on a thread whose stack holds
        // any of that; a short flat one, the common case, needs no thread, only room on this
        // one's stack for a tree as deep as it is long (`a + a + …`: its error is placed by
        // walking the tree).
        const SHORT: usize = 16 << 10;
        // Whatever the parser recurses on: parentheses, prefix operators, CASE.
        let signs = text
            .bytes()
            .filter(|&b| matches!(b, b'(' | b'[' | b'-' | b'+' | b'~' | b'!'))
            .count()
            + text
                .as_bytes()
                .windows(3)
                .filter(|w| w.eq_ignore_ascii_case(b"not"))
                .count()
            + text
                .as_bytes()
                .windows(4)
                .filter(|w| w.eq_ignore_ascii_case(b"case"))
                .count();
        if text.len() <= SHORT && signs <= 8 {
            return crate::stack::for_text(text.len(), || parse_here(schema, text));
        }
        if nesting(text).is_some_and(|depth| depth > NESTING_LIMIT) {
            return Err(too_deep(text));
        }
        // At most 1 GiB: longer texts are flat chains, which need no stack per term beyond
        // what the parser's left-deep tree takes (the nesting limit bounds the rest).
        let stack = (text.len() * 256).clamp(64 << 20, 1 << 30);
        std::thread::scope(|s| {
            let parsing = std::thread::Builder::new()
                .stack_size(stack)
                .spawn_scoped(s, || parse_here(schema, text));
            match parsing {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(e) => Err(bad(text, format!("cannot start a thread to parse it: {e}"))),
            }
        })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether a row (values in schema order) satisfies the condition.
    pub fn matches(&self, values: &[Value]) -> bool {
        eval(&self.root, &|i| {
            values.get(i).map_or(ValueRef::Null, Value::as_ref)
        }) == Some(true)
    }

    /// Whether a row, read column by column, satisfies the condition.
    pub(crate) fn matches_with<'v>(&self, get: &dyn Fn(usize) -> ValueRef<'v>) -> bool {
        eval(&self.root, get) == Some(true)
    }

    /// Whether a row, read column by column, makes the condition false as a check: not
    /// true and not unknown (a check passes a row for which it is null, as in SQL). Every
    /// zero of the row counts as 0.0: a check follows SQL, where `-0.0 >= 0` is true,
    /// while the condition's own comparisons order floats totally but for a NaN, which is
    /// unordered (as the builder's ranges and indexes have them). A check's literals are
    /// made so by [`Condition::for_check`].
    pub(crate) fn is_false_with<'v>(&self, get: &dyn Fn(usize) -> ValueRef<'v>) -> bool {
        let zeroed = |i: usize| match get(i) {
            // A float pattern compares with `==`: it takes -0.0 too.
            ValueRef::Float(0.0) => ValueRef::Float(0.0),
            v => v,
        };
        eval(&self.root, &zeroed) == Some(false)
    }

    /// The condition as a check holds it: its float literals equal to zero (`-0.0`) made
    /// 0.0, so that it compares as SQL does (see [`Condition::is_false_with`]).
    pub(crate) fn for_check(mut self) -> Self {
        fn zero(v: &mut Value) {
            if matches!(v, Value::Float(f) if *f == 0.0) {
                *v = Value::Float(0.0);
            }
        }
        let mut todo = vec![&mut self.root];
        while let Some(node) = todo.pop() {
            match node {
                Node::And(v) | Node::Or(v) => todo.extend(v.iter_mut()),
                Node::Not(n) => todo.push(n),
                Node::Compare(_, _, v) => zero(v),
                Node::In(_, vs, _) => vs.iter_mut().for_each(zero),
                Node::Between(_, lo, hi, _) => {
                    zero(lo);
                    zero(hi);
                }
                Node::Columns(..) | Node::IsNull(..) | Node::Like(..) => {}
            }
        }
        self
    }

    /// Top-level `AND` terms the planner can serve: `(column, bounds)`.
    pub(crate) fn pushdown(&self) -> Vec<(usize, Bound<Value>, Bound<Value>)> {
        let mut out = Vec::new();
        collect(&self.root, &mut out);
        out
    }
}

/// `text` with every mention of an old column (`renames`: old, new) naming the new one,
/// and nothing else changed: a check's text after a rename. A quoted mention stays quoted;
/// an unquoted one is written as the new name is, as a derive's check would name it (the
/// dump quotes what SQL needs: [`quote_columns`]), unless the name written so would not be
/// read back as that name (a word of a condition's syntax such as `and`, or a name that is
/// not one word): then it is quoted. Text that names none of them, or does not tokenize, is
/// returned as it is.
pub(crate) fn rename_columns(text: &str, renames: &[(String, String)]) -> String {
    rewrite_names(text, |name, quoted| {
        let (_, new) = renames.iter().find(|(old, _)| old == name)?;
        Some(if quoted || !reads_back_unquoted(new) {
            sql_name::quoted(new)
        } else {
            new.clone()
        })
    })
}

/// Whether `name`, written without quotes in a condition, is read as that name: a word that
/// is not of a condition's syntax (`and`, `end`: SQLite and PostgreSQL reserve them), and,
/// parsed as a condition reads it, a column of that name where a condition starts
/// (`name IS NULL`), after an operator (`0 = name`) and after a parenthesis (`(name IS
/// NULL)`, where `select` would start a subquery): not a function (`user`,
/// `current_date`), the start of another form (`interval`, `floor`), or, after an operator,
/// a quantifier (`x = any (…)`, and `some`, `all`, which the parser looks for after every
/// binary operator, `OR` too).
fn reads_back_unquoted(name: &str) -> bool {
    let column =
        |e: &Expr| matches!(e, Expr::Identifier(i) if i.quote_style.is_none() && i.value == name);
    let starts = parse_probe(&format!("{name} IS NULL"))
        .is_some_and(|e| matches!(&e, Expr::IsNull(e) if column(e)));
    let follows = parse_probe(&format!("0 = {name}"))
        .is_some_and(|e| matches!(&e, Expr::BinaryOp { right, .. } if column(right)));
    // After `(` the parser looks for a subquery (`select`, `with`).
    let grouped = parse_probe(&format!("({name} IS NULL)")).is_some_and(
        |e| matches!(&e, Expr::Nested(inner) if matches!(&**inner, Expr::IsNull(e) if column(e))),
    );
    starts && follows && grouped
}

/// `text` parsed whole as a condition is, unless it does not parse or starts with a word of
/// a condition's syntax (for [`reads_back_unquoted`]).
fn parse_probe(text: &str) -> Option<Expr> {
    let tokens = crate::sql_words::condition_tokens(text).ok()?;
    if matches!(tokens.first(), Some(t) if matches!(&t.token, Token::Word(w) if CONDITION_WORDS.contains(&w.keyword)))
    {
        return None;
    }
    let mut parser = Parser::new(&crate::sql_words::GRAMMAR).with_tokens_with_locations(tokens);
    let read = parser.parse_expr().ok()?;
    (parser.peek_token().token == Token::EOF).then_some(read)
}

/// `text` with every mention of one of `columns` written as SQL needs it (`ident`: quoted
/// when it is a keyword or has capitals), for a dump that other servers read.
pub(crate) fn quote_columns(text: &str, columns: &[&str]) -> String {
    rewrite_names(text, |name, _| columns.contains(&name).then(|| ident(name)))
}

/// Whether `text` (a check, in this module's language) uses `ILIKE`, which SQLite lacks;
/// `beyond_ascii`: only an `ILIKE` whose pattern holds a character beyond ASCII, whose case
/// PostgreSQL's `ILIKE` does not fold in a `COLLATE "C"` column, where tabula's does.
pub(crate) fn uses_ilike(text: &str, beyond_ascii: bool) -> bool {
    let Ok(tokens) = crate::sql_words::condition_tokens(text) else {
        return false;
    };
    let tokens: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    tokens.iter().enumerate().any(|(i, t)| {
        is_keyword(t, Keyword::ILIKE)
            && (!beyond_ascii
                || !matches!(tokens.get(i + 1), Some(Token::SingleQuotedString(p)) if p.is_ascii()))
    })
}

/// `text` (a check, in this module's language) with an `ESCAPE` character given to every
/// `LIKE` or `ILIKE` pattern that holds a backslash and has none, for PostgreSQL: there a
/// pattern without `ESCAPE` escapes with backslash (`'%\'` is an error, `'%\%'` ends in
/// `%`), where tabula and SQLite have no escape character then. The character given is one
/// the pattern does not hold, so it escapes nothing and the pattern means what it means in
/// tabula, in all three. Text that does not tokenize is returned as it is.
pub(crate) fn like_escapes_spelled(text: &str) -> String {
    let Ok(spanned) = crate::sql_words::condition_tokens(text) else {
        return text.to_owned();
    };
    let tokens: Vec<&Token> = spanned.iter().map(|t| &t.token).collect();
    let next =
        |from: usize| (from..tokens.len()).find(|&i| !matches!(tokens[i], Token::Whitespace(_)));
    // Where each `ESCAPE` goes (the byte after its pattern), with the character.
    let mut after: Vec<(usize, char)> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if !is_keyword(t, Keyword::LIKE) && !is_keyword(t, Keyword::ILIKE) {
            continue;
        }
        let Some(at) = next(i + 1) else { continue };
        let Token::SingleQuotedString(pattern) = tokens[at] else {
            continue;
        };
        let escaped = next(at + 1).is_some_and(|e| is_keyword(tokens[e], Keyword::ESCAPE));
        if !pattern.contains('\\') || escaped {
            continue;
        }
        // ASCII punctuation reads best, then digits (any server encoding takes ASCII); a
        // pattern holding all of them still lacks some character. Never a letter, whose
        // case ILIKE folds.
        let ascii = ('!'..='~').filter(|c| !c.is_ascii_alphanumeric());
        let unused = ascii
            .chain('0'..='9')
            .chain('\u{a1}'..=char::MAX)
            .find(|c| {
                !c.is_alphabetic()
                    && !c.is_whitespace()
                    && !c.is_control()
                    && !"'\"%_\\".contains(*c)
                    && !pattern.contains(*c)
            });
        let end = spanned[at].span.end;
        if let (Some(c), Some(byte)) = (unused, byte_at(text, end.line, end.column)) {
            after.push((byte, c));
        }
    }
    // The text as written, every other token untouched, an `ESCAPE` after each pattern.
    let mut out = String::with_capacity(text.len() + 12 * after.len());
    let mut from = 0;
    for (byte, c) in after {
        out.push_str(&text[from..byte]);
        out.push_str(&format!(" ESCAPE '{c}'"));
        from = byte;
    }
    out.push_str(&text[from..]);
    out
}

/// The byte offset of the tokenizer's `line` and `column` (both from 1) in `text`; the
/// text's end for the place just past its last character.
fn byte_at(text: &str, line: u64, column: u64) -> Option<usize> {
    let (mut l, mut c) = (1, 1);
    for (i, ch) in text.char_indices() {
        if (l, c) == (line, column) {
            return Some(i);
        }
        if ch == '\n' {
            (l, c) = (l + 1, 1);
        } else {
            c += 1;
        }
    }
    ((l, c) == (line, column)).then_some(text.len())
}

/// Words that are the syntax of a condition, never a column's name when unquoted.
const CONDITION_WORDS: [Keyword; 19] = [
    Keyword::TRUE,
    Keyword::FALSE,
    Keyword::NULL,
    Keyword::AND,
    Keyword::OR,
    Keyword::NOT,
    Keyword::IS,
    Keyword::IN,
    Keyword::LIKE,
    Keyword::ILIKE,
    Keyword::BETWEEN,
    Keyword::ESCAPE,
    Keyword::CASE,
    Keyword::WHEN,
    Keyword::THEN,
    Keyword::ELSE,
    Keyword::END,
    Keyword::DISTINCT,
    Keyword::FROM,
];

/// `text` with each name token (a quoted identifier, or a word that is neither a condition's
/// syntax nor a function called) that `f` maps (given the name and whether it was quoted)
/// replaced, and every other token as written. Text that `f` changes nowhere, or that does
/// not tokenize, is returned as it is.
fn rewrite_names(text: &str, f: impl Fn(&str, bool) -> Option<String>) -> String {
    let Ok(tokens) = crate::sql_words::condition_tokens(text) else {
        return text.to_owned();
    };
    let tokens: Vec<Token> = tokens.into_iter().map(|t| t.token).collect();
    let called = |i: usize| {
        tokens[i + 1..]
            .iter()
            .find(|t| !matches!(t, Token::Whitespace(_)))
            .is_some_and(|t| matches!(t, Token::LParen))
    };
    let renamed: Vec<Option<String>> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| match t {
            Token::Word(w) if w.quote_style.is_some() => f(&w.value, true),
            Token::Word(w) if !CONDITION_WORDS.contains(&w.keyword) && !called(i) => {
                f(&w.value, false)
            }
            _ => None,
        })
        .collect();
    if renamed.iter().all(Option::is_none) {
        return text.to_owned();
    }
    tokens
        .iter()
        .zip(renamed)
        .map(|(t, new)| match (new, t) {
            (Some(new), _) => new,
            // A token's `Display` drops the quote doubling a string needs.
            (None, Token::SingleQuotedString(s)) => format!("'{}'", s.replace('\'', "''")),
            (None, t) => t.to_string(),
        })
        .collect()
}

fn collect(n: &Node, out: &mut Vec<(usize, Bound<Value>, Bound<Value>)>) {
    match n {
        Node::And(terms) => {
            for t in terms {
                collect(t, out);
            }
        }
        Node::Compare(c, op, v) if !v.is_null() => {
            let (lo, hi) = match op {
                Cmp::Eq => (Bound::Included(v.clone()), Bound::Included(v.clone())),
                Cmp::Gt => (Bound::Excluded(v.clone()), Bound::Unbounded),
                Cmp::Ge => (Bound::Included(v.clone()), Bound::Unbounded),
                Cmp::Lt => (Bound::Unbounded, Bound::Excluded(v.clone())),
                Cmp::Le => (Bound::Unbounded, Bound::Included(v.clone())),
                Cmp::Ne => return,
            };
            out.push((*c, lo, hi));
        }
        // A null end holds for no row: the filter answers that, with no range to push.
        Node::Between(c, lo, hi, false) if !lo.is_null() && !hi.is_null() => {
            out.push((*c, Bound::Included(lo.clone()), Bound::Included(hi.clone())))
        }
        _ => {}
    }
}

fn column(schema: &Schema, text: &str, e: &Expr) -> Result<Option<usize>> {
    let name = match e {
        Expr::Identifier(id) => id.value.clone(),
        Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [t, c] if t.value == schema.table => c.value.clone(),
            _ => {
                return Err(bad(
                    text,
                    format!("{e} does not name a column of {}", schema.table),
                ))
            }
        },
        Expr::Nested(inner) => return column(schema, text, inner),
        _ => return Ok(None),
    };
    schema.comparable_column(&name, "compared").map(Some)
}

fn literal(text: &str, e: &Expr) -> Result<Value> {
    match e {
        Expr::Value(v) => match &v.value {
            SqlValue::Number(n, _) => number(n).map_err(|reason| bad_at(text, e, reason)),
            SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => {
                Ok(Value::Text(s.clone()))
            }
            SqlValue::Boolean(b) => Ok(Value::Bool(*b)),
            SqlValue::Null => Ok(Value::Null),
            other => Err(bad_at(text, e, format!("unsupported literal {other}"))),
        },
        // A number is read with its sign, so that `-9223372036854775808` is `i64::MIN`
        // rather than the negation of a number `i64` cannot hold.
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } if number_text(expr).is_some() => {
            let n = number_text(expr).unwrap_or_default();
            // A hexadecimal literal of 2^63 or more is a negative number already (its 64-bit
            // pattern): negated, it loses its sign.
            let negated = match n.strip_prefix('-') {
                Some(positive) => positive.to_owned(),
                None => format!("-{n}"),
            };
            number(&negated).map_err(|reason| bad_at(text, e, reason))
        }
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal(text, expr)? {
            Value::Int(i) => i.checked_neg().map(Value::Int).ok_or_else(|| {
                bad_at(
                    text,
                    e,
                    format!("-({i}) is beyond the integers a column holds"),
                )
            }),
            Value::Float(f) => Ok(Value::Float(-f)),
            _ => Err(bad_at(text, e, format!("cannot negate {}", shown(expr)))),
        },
        Expr::Nested(inner) => literal(text, inner),
        other => Err(bad(
            text,
            format!("{} is not a column or a literal value", shown(other)),
        )),
    }
}

/// A value compared with a column as `how` says: [`literal`], except that a bound of an
/// order (`<`, `BETWEEN`) may be any number, as SQL reads it: an integer beyond `i64` is
/// the nearest float, and a float beyond a double's range is an infinity. On an integer
/// column the answer is exact (no `i64` lies between the text and its rounding); on a float
/// column it is SQL's own reading (and an `f32` column's bound is rounded further, as every
/// float bound is: `ColumnType::range_bound`). An equality refuses it, since it would match
/// a value the text does not name.
fn operand(text: &str, e: &Expr, how: Use) -> Result<Value> {
    match literal(text, e) {
        Err(refused) if how == Use::Order => float_reading(e).map(Value::Float).ok_or(refused),
        read => read,
    }
}

/// A number literal (signed, parenthesized) read as SQL reads one beyond `i64`: a float.
fn float_reading(e: &Expr) -> Option<f64> {
    match e {
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => float_reading(expr).map(|f| -f),
        Expr::Nested(inner) => float_reading(inner),
        e => number_text(e)?.parse::<f64>().ok().filter(|f| !f.is_nan()),
    }
}

/// The digits of a number literal, if `e` is one.
fn number_text(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            SqlValue::Number(n, _) => Some(n),
            _ => None,
        },
        _ => None,
    }
}

/// A number literal: an integer when it is one that `i64` holds, else a float when a float
/// holds it exactly; anything else (an integer beyond `i64`, a decimal fraction a float
/// cannot hold closely) is refused rather than rounded.
fn number(n: &str) -> std::result::Result<Value, String> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    let integral = !n.contains(['.', 'e', 'E']);
    match n.parse::<f64>() {
        Ok(f) if f.is_finite() && !integral => Ok(Value::Float(f)),
        Ok(_) if integral => Err(format!("{n} is beyond the integers a column holds")),
        _ => Err(format!("{n} is not a number a column holds")),
    }
}

/// How a literal is compared with a column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Use {
    /// `=`, `<>`, `IN`: the literal must be a value the column can hold, as for `where_eq`.
    Equality,
    /// `<`, `<=`, `>`, `>=`, `BETWEEN`: any number bounds a numeric column, as for
    /// `where_range`.
    Order,
}

/// Checks that `v` can be compared with column `col` (numbers with numbers, text with text)
/// and, for an equality, converts it to the column's type (an order's float bound on an
/// `f32` column too: `ColumnType::range_bound`); a value the column cannot hold is
/// `Error::TypeMismatch`, whatever the operator.
fn fit(schema: &Schema, col: usize, v: Value, how: Use) -> Result<Value> {
    if v.is_null() {
        return Ok(v);
    }
    let ty = schema.columns[col].ty;
    let numeric = ty.is_int() || ty.is_float();
    match (&v, how) {
        (Value::Int(_) | Value::Float(_), Use::Order) if numeric => Ok(ty.range_bound(v)),
        _ => schema.coerce(col, v),
    }
}

/// Refuses a new check (one a table is made or migrated with) that compares two columns
/// of different kinds (`t = i`, text with a number): such values never compare as values
/// (by the order of kinds, numbers before text, only), and PostgreSQL refuses the check,
/// so a dump of the table would not load there. A stored check (a schema read from its
/// file) is not refused: a database made before this rule opens as it did.
pub(crate) fn refuse_mixed_kinds(schema: &Schema, text: &str) -> Result<()> {
    // A check that does not compile is refused where the table compiles its checks, which
    // names the check.
    let Ok(c) = Condition::parse(schema, text) else {
        return Ok(());
    };
    let mut todo = vec![&c.root];
    while let Some(node) = todo.pop() {
        match node {
            Node::And(v) | Node::Or(v) => todo.extend(v),
            Node::Not(n) => todo.push(n),
            Node::Columns(a, _, b) => {
                let (ca, cb) = (&schema.columns[*a], &schema.columns[*b]);
                if kind(ca.ty) != kind(cb.ty) {
                    return Err(bad(
                        text,
                        format!(
                            "it compares {} ({}) with {} ({}): a {} and a {} never compare as \
                             values (PostgreSQL refuses such a check)",
                            ca.name,
                            ca.ty,
                            cb.name,
                            cb.ty,
                            kind(ca.ty),
                            kind(cb.ty)
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The kind of value a column holds; values compare with their own kind only (integers
/// with floats: both are numbers).
fn kind(ty: ColumnType) -> &'static str {
    match ty {
        t if t.is_int() || t.is_float() => "number",
        ColumnType::Text => "text",
        ColumnType::Bool => "boolean",
        _ => "JSON document",
    }
}

fn cmp_op(op: &BinaryOperator) -> Option<Cmp> {
    Some(match op {
        BinaryOperator::Eq => Cmp::Eq,
        BinaryOperator::NotEq => Cmp::Ne,
        BinaryOperator::Lt => Cmp::Lt,
        BinaryOperator::LtEq => Cmp::Le,
        BinaryOperator::Gt => Cmp::Gt,
        BinaryOperator::GtEq => Cmp::Ge,
        _ => return None,
    })
}

fn flip(op: Cmp) -> Cmp {
    match op {
        Cmp::Lt => Cmp::Gt,
        Cmp::Le => Cmp::Ge,
        Cmp::Gt => Cmp::Lt,
        Cmp::Ge => Cmp::Le,
        o => o,
    }
}

/// The terms of a chain of `op` (`AND` or `OR`), left to right, found without recursion:
/// the parser builds `a OR b OR c` as `(a OR b) OR c`, as deep as the chain is long.
fn chain<'e>(e: &'e Expr, op: &BinaryOperator) -> Vec<&'e Expr> {
    let mut terms = Vec::new();
    let mut pending = vec![e];
    while let Some(x) = pending.pop() {
        match x {
            Expr::BinaryOp { left, op: o, right } if o == op => {
                pending.push(right);
                pending.push(left);
            }
            Expr::Nested(inner) if matches!(&**inner, Expr::BinaryOp { op: o, .. } if o == op) => {
                pending.push(inner);
            }
            other => terms.push(other),
        }
    }
    terms
}

fn compile(schema: &Schema, text: &str, e: &Expr) -> Result<Node> {
    let col_of = |x: &Expr| -> Result<usize> {
        column(schema, text, x)?
            .ok_or_else(|| bad_at(text, x, format!("{} is not a column", shown(x))))
    };
    Ok(match e {
        Expr::Nested(inner) => compile(schema, text, inner)?,
        Expr::BinaryOp {
            op: op @ (BinaryOperator::And | BinaryOperator::Or),
            ..
        } => {
            let terms = chain(e, op)
                .into_iter()
                .map(|t| compile(schema, text, t))
                .collect::<Result<Vec<_>>>()?;
            if *op == BinaryOperator::And {
                Node::And(terms)
            } else {
                Node::Or(terms)
            }
        }
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Node::Not(Box::new(compile(schema, text, expr)?)),
        Expr::BinaryOp { left, op, right } => {
            let Some(op) = cmp_op(op) else {
                return Err(bad_at(
                    text,
                    e,
                    format!("unsupported operator {op} in {}", shown(e)),
                ));
            };
            let how = if matches!(op, Cmp::Eq | Cmp::Ne) {
                Use::Equality
            } else {
                Use::Order
            };
            match (column(schema, text, left)?, column(schema, text, right)?) {
                (Some(a), Some(b)) => Node::Columns(a, op, b),
                (Some(a), None) => {
                    Node::Compare(a, op, fit(schema, a, operand(text, right, how)?, how)?)
                }
                (None, Some(b)) => {
                    Node::Compare(b, flip(op), fit(schema, b, operand(text, left, how)?, how)?)
                }
                (None, None) => {
                    return Err(bad_at(
                        text,
                        e,
                        format!(
                            "{} compares no column: each comparison here is a column with a \
                             constant or with another column (no arithmetic or functions)",
                            shown(e)
                        ),
                    ))
                }
            }
        }
        Expr::IsNull(x) => Node::IsNull(col_of(x)?, false),
        Expr::IsNotNull(x) => Node::IsNull(col_of(x)?, true),
        Expr::Like {
            negated,
            expr,
            pattern,
            escape_char,
            any: false,
        }
        | Expr::ILike {
            negated,
            expr,
            pattern,
            escape_char,
            any: false,
        } => {
            let col = col_of(expr)?;
            if schema.columns[col].ty != crate::schema::ColumnType::Text {
                return Err(bad_at(
                    text,
                    expr,
                    format!(
                        "LIKE compares text, and {}.{} is {}",
                        schema.table, schema.columns[col].name, schema.columns[col].ty
                    ),
                ));
            }
            let Value::Text(p) = literal(text, pattern)? else {
                return Err(bad_at(
                    text,
                    pattern,
                    format!("LIKE needs a text pattern, not {}", shown(pattern)),
                ));
            };
            let escape = match escape_char
                .as_deref()
                .map(|x| literal(text, x))
                .transpose()?
            {
                None => None,
                Some(Value::Text(t)) if t.chars().count() == 1 => t.chars().next(),
                Some(other) => {
                    return Err(bad(
                        text,
                        format!("ESCAPE takes one character, not {other}"),
                    ))
                }
            };
            let ignore_case = matches!(e, Expr::ILike { .. });
            Node::Like(col, pattern_of(text, &p, escape, ignore_case)?, *negated)
        }
        Expr::In {
            expr,
            target: InTarget::List(list),
            negated,
            ..
        } => {
            let col = col_of(expr)?;
            let vals = list
                .iter()
                .map(|v| fit(schema, col, literal(text, v)?, Use::Equality))
                .collect::<Result<_>>()?;
            Node::In(col, vals, *negated)
        }
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let col = col_of(expr)?;
            Node::Between(
                col,
                fit(schema, col, operand(text, low, Use::Order)?, Use::Order)?,
                fit(schema, col, operand(text, high, Use::Order)?, Use::Order)?,
                *negated,
            )
        }
        other => {
            return Err(bad_at(
                text,
                other,
                format!("unsupported expression {}", shown(other)),
            ))
        }
    })
}

/// Compiles a LIKE pattern: `%` any run, `_` any one character, and `escape` (if given)
/// makes the character after it literal (`100\%` with `ESCAPE '\'` matches `100%`).
fn pattern_of(text: &str, p: &str, escape: Option<char>, ignore_case: bool) -> Result<Pattern> {
    let p = if ignore_case {
        p.to_lowercase()
    } else {
        p.to_owned()
    };
    let mut pieces = Vec::with_capacity(p.len());
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        pieces.push(match c {
            c if Some(c) == escape => match chars.next() {
                Some(next) => Piece::Char(next),
                None => {
                    return Err(bad(
                        text,
                        format!("the LIKE pattern {p:?} ends with its escape character"),
                    ))
                }
            },
            '%' => Piece::Any,
            '_' => Piece::One,
            c => Piece::Char(c),
        });
    }
    Ok(Pattern {
        pieces,
        ignore_case,
    })
}

/// `a op b`: unknown with a null, as in SQL; a NaN unordered, as IEEE 754 (and Python, and
/// Rust) have it: every comparison with it false but `<>`. So `a BETWEEN 0 AND 4` and
/// `a >= 0` keep a NaN out of a checked column, as the person who wrote them meant
/// (ordered last, as the indexes order it, a NaN passed `>=` and failed `<=`); and an
/// index range, which leaves a NaN out, agrees. Other values in their total order (-0.0
/// below 0.0, as the indexes have it: a check zeroes both sides first, see
/// [`Condition::is_false_with`]).
fn compare(a: ValueRef<'_>, op: Cmp, b: ValueRef<'_>) -> Option<bool> {
    if a.is_null() || b.is_null() {
        return None;
    }
    let nan = |v: ValueRef<'_>| matches!(v, ValueRef::Float(f) if f.is_nan());
    if nan(a) || nan(b) {
        return Some(op == Cmp::Ne);
    }
    let o = a.total_cmp(b);
    Some(match op {
        Cmp::Eq => o == Ordering::Equal,
        Cmp::Ne => o != Ordering::Equal,
        Cmp::Lt => o == Ordering::Less,
        Cmp::Le => o != Ordering::Greater,
        Cmp::Gt => o == Ordering::Greater,
        Cmp::Ge => o != Ordering::Less,
    })
}

/// Case-sensitive SQL `LIKE` of `text` against `pattern` (with `escape` making the next
/// character literal): what `db.sql` evaluates. A pattern ending with its escape character
/// matches nothing.
pub(crate) fn like_text(text: &str, pattern: &str, escape: Option<char>) -> bool {
    match pattern_of(pattern, pattern, escape, false) {
        Ok(p) => like(text, &p.pieces),
        Err(_) => false,
    }
}

/// SQL LIKE over a compiled pattern, backtracking to the last `%` only (linear in practice).
/// It walks `s` a character at a time where it stands (`si` and `mark` are byte offsets at
/// character boundaries), copying nothing, and a `%` that ends the pattern matches the rest
/// at once: `LIKE 'abc%'` reads three characters of a text of any length.
fn like(s: &str, p: &[Piece]) -> bool {
    let (mut si, mut pi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while let Some(c) = s[si..].chars().next() {
        match p.get(pi) {
            Some(Piece::One) => {
                si += c.len_utf8();
                pi += 1;
            }
            Some(Piece::Char(want)) if *want == c => {
                si += c.len_utf8();
                pi += 1;
            }
            Some(Piece::Any) => {
                if pi + 1 == p.len() {
                    return true;
                }
                star = Some(pi);
                mark = si;
                pi += 1;
            }
            _ => match star {
                Some(st) => {
                    pi = st + 1;
                    // `mark` is before `si`, inside the text: a character follows it.
                    mark += s[mark..].chars().next().map_or(1, char::len_utf8);
                    // Where a character follows the `%`, a match can start only where that
                    // character is: found by a search over bytes (`LIKE '%zzz'`).
                    if let Some(Piece::Char(first)) = p.get(pi) {
                        match s[mark..].find(*first) {
                            Some(at) => mark += at,
                            None => return false,
                        }
                    }
                    si = mark;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|x| *x == Piece::Any)
}

fn eval<'v>(n: &Node, get: &dyn Fn(usize) -> ValueRef<'v>) -> Option<bool> {
    match n {
        // Three-valued: false (true) decides an AND (an OR); else unknown if any was.
        Node::And(terms) => {
            let mut unknown = false;
            for t in terms {
                match eval(t, get) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            (!unknown).then_some(true)
        }
        Node::Or(terms) => {
            let mut unknown = false;
            for t in terms {
                match eval(t, get) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            (!unknown).then_some(false)
        }
        Node::Not(a) => eval(a, get).map(|b| !b),
        Node::Compare(c, op, v) => compare(get(*c), *op, v.as_ref()),
        Node::Columns(a, op, b) => compare(get(*a), *op, get(*b)),
        Node::IsNull(c, negated) => Some(get(*c).is_null() != *negated),
        Node::Like(c, p, negated) => match get(*c) {
            ValueRef::Text(t) => {
                let hit = if p.ignore_case {
                    like(&t.to_lowercase(), &p.pieces)
                } else {
                    like(t, &p.pieces)
                };
                Some(hit != *negated)
            }
            _ => None,
        },
        Node::In(c, vals, negated) => {
            let v = get(*c);
            if v.is_null() {
                return None;
            }
            let found = vals
                .iter()
                .any(|x| compare(v, Cmp::Eq, x.as_ref()) == Some(true));
            if found {
                Some(!negated)
            } else if vals.iter().any(Value::is_null) {
                None
            } else {
                Some(*negated)
            }
        }
        Node::Between(c, lo, hi, negated) => {
            let v = get(*c);
            // `v >= lo AND v <= hi`, three-valued: one false side decides it whatever the
            // other (a null bound) says.
            let within = match (
                compare(v, Cmp::Ge, lo.as_ref()),
                compare(v, Cmp::Le, hi.as_ref()),
            ) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
            within.map(|w| w != *negated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, ColumnType};

    #[test]
    fn a_rename_changes_names_only() {
        let renames = [
            ("a".to_owned(), "group".to_owned()),
            ("true".to_owned(), "yes".to_owned()),
            ("lower".to_owned(), "low".to_owned()),
        ];
        let cases = [
            // Unquoted as written, quoted stays quoted; literals and strings untouched.
            ("a > 0 AND b = 'a'", "group > 0 AND b = 'a'"),
            (r#""a" > 0"#, r#""group" > 0"#),
            (r#""true" = true"#, r#""yes" = true"#),
            // A function called is no column.
            ("lower(a) = 'x'", "lower(group) = 'x'"),
            ("lower > 0", "low > 0"),
            ("b = 'it''s a'", "b = 'it''s a'"),
        ];
        for (text, want) in cases {
            assert_eq!(rename_columns(text, &renames), want, "{text}");
        }
        // A new name that, unquoted, would read as syntax or as several words is quoted:
        // the text must name the column to whoever reads it next (the dump, SQLite).
        for (new, want) in [
            ("and", r#""and" > 0 AND b < 100"#),
            ("end", r#""end" > 0 AND b < 100"#),
            ("user", r#""user" > 0 AND b < 100"#),
            ("current_date", r#""current_date" > 0 AND b < 100"#),
            ("interval", r#""interval" > 0 AND b < 100"#),
            // After any binary operator the parser takes these as a quantifier (`= ANY (…)`).
            ("some", r#""some" > 0 AND b < 100"#),
            ("any", r#""any" > 0 AND b < 100"#),
            ("all", r#""all" > 0 AND b < 100"#),
            // After `(` the parser takes these for a subquery.
            ("select", r#""select" > 0 AND b < 100"#),
            ("with", r#""with" > 0 AND b < 100"#),
            ("floor", "floor > 0 AND b < 100"),
            ("Score", "Score > 0 AND b < 100"),
            ("name", "name > 0 AND b < 100"),
            ("year", "year > 0 AND b < 100"),
        ] {
            let renames = [("n".to_owned(), new.to_owned())];
            assert_eq!(rename_columns("n > 0 AND b < 100", &renames), want, "{new}");
        }
        assert_eq!(
            quote_columns("group > 0 AND B < x", &["group", "B", "x"]),
            r#""group" > 0 AND "B" < x"#
        );
    }

    #[test]
    fn like_patterns_with_a_backslash_get_an_escape_they_do_not_hold() {
        for (text, want) in [
            (r"p LIKE 'a%'", r"p LIKE 'a%'"),
            (r"p NOT LIKE '%\'", r"p NOT LIKE '%\' ESCAPE '!'"),
            (r"p ILIKE '!\%'", r"p ILIKE '!\%' ESCAPE '#'"),
            (
                r"p LIKE 'it''s\' AND q > 1",
                r"p LIKE 'it''s\' ESCAPE '!' AND q > 1",
            ),
            (r"p LIKE '\%' ESCAPE '\'", r"p LIKE '\%' ESCAPE '\'"),
            (
                r"p LIKE 'a\' OR p LIKE 'b\'",
                r"p LIKE 'a\' ESCAPE '!' OR p LIKE 'b\' ESCAPE '!'",
            ),
            // Every other token as written: a hex literal, a quoted name, a line break.
            (
                "x = -0xFFFFFFFFFFFFFFFF AND\n \"é\" LIKE '\\%'",
                "x = -0xFFFFFFFFFFFFFFFF AND\n \"é\" LIKE '\\%' ESCAPE '!'",
            ),
        ] {
            assert_eq!(like_escapes_spelled(text), want, "{text}");
        }
        assert!(uses_ilike("a ILIKE 'x%'", false));
        assert!(!uses_ilike(r#"a LIKE 'ILIKE' AND "ilike" = 1"#, false));
        assert!(!uses_ilike("a ILIKE 'x%'", true));
        assert!(uses_ilike("a LIKE 'é' OR a ILIKE  'é%'", true));
        // Every ASCII punctuation mark in the pattern: a digit escapes.
        let all: String = ('!'..='~')
            .filter(|c| !c.is_ascii_alphanumeric() && *c != '\'')
            .collect();
        let text = format!("p LIKE '{all}'");
        assert_eq!(like_escapes_spelled(&text), format!("{text} ESCAPE '0'"));
    }

    fn schema() -> Schema {
        Schema::new(
            "students",
            vec![
                Column::new("id", ColumnType::U64).primary_key(),
                Column::new("name", ColumnType::Text),
                Column::new("year", ColumnType::U32).indexed(),
                Column::new("gpa", ColumnType::F64),
                Column::new("advisor", ColumnType::Text).nullable(),
            ],
        )
        .unwrap()
    }

    fn row(name: &str, year: i64, gpa: f64, advisor: Option<&str>) -> Vec<Value> {
        vec![
            Value::Int(1),
            Value::from(name),
            Value::Int(year),
            Value::Float(gpa),
            Value::from(advisor),
        ]
    }

    #[test]
    fn between_with_a_null_bound_is_false_where_one_side_is() {
        let s = schema();
        let m = |e: &str, r: &[Value]| Condition::parse(&s, e).unwrap().matches(r);
        // year 2024: `2024 >= 2030` is false, so BETWEEN is false and NOT BETWEEN true,
        // whatever the null bound; `2024 >= 2000 AND 2024 <= NULL` stays unknown.
        let ann = row("Ann", 2024, 3.8, None);
        assert!(m("year NOT BETWEEN 2030 AND NULL", &ann));
        assert!(m("NOT (year BETWEEN NULL AND 2000)", &ann));
        assert!(!m("year BETWEEN 2000 AND NULL", &ann));
        assert!(!m("year NOT BETWEEN 2000 AND NULL", &ann));
    }

    #[test]
    fn evaluates_like_sql() {
        let s = schema();
        let m = |e: &str, r: &[Value]| Condition::parse(&s, e).unwrap().matches(r);
        let ann = row("Ann", 2024, 3.8, None);
        assert!(m("gpa > 3.5 AND year = 2024", &ann));
        assert!(m("advisor IS NULL", &ann));
        assert!(
            m("name LIKE 'A%'", &ann) && m("name LIKE '_n_'", &ann) && !m("name LIKE 'a%'", &ann)
        );
        assert!(m("name ILIKE 'a%'", &ann));
        assert!(m("year IN (2023, 2024)", &ann) && !m("year NOT IN (2024)", &ann));
        assert!(m("gpa BETWEEN 3 AND 4", &ann) && m("NOT (gpa < 3)", &ann));
        assert!(m("year = 2020 OR students.name = 'Ann'", &ann));
        assert!(m("3.5 < gpa", &ann));
        // Comparisons with null are unknown: neither they nor their negation match.
        assert!(!m("advisor = 'X'", &ann) && !m("NOT (advisor = 'X')", &ann));
        assert!(!m("advisor = 'X' AND year = 2024", &ann));
        assert!(m("advisor = 'X' OR year = 2024", &ann));
    }

    #[test]
    fn reports_bad_expressions_clearly() {
        let s = schema();
        let err = |e: &str| Condition::parse(&s, e).unwrap_err().to_string();
        assert!(err("gpa >").contains("Column"), "{}", err("gpa >"));
        assert!(err("height > 3").contains("no column \"height\""));
        assert!(err("year = 'soon'").contains("cannot hold"));
        assert!(err("gpa > 3 extra").contains("unexpected"));
        assert!(err("gpa + 1").contains("unsupported"));
        assert!(
            err("year = 2020 AND gpa >> 3").contains("Column: 17"),
            "{}",
            err("year = 2020 AND gpa >> 3")
        );
    }

    /// An order's bound may be any number SQL reads, as `where_range` takes any: beyond
    /// `i64` it is the nearest float and beyond a double an infinity, on the same side of
    /// every stored value. An equality still refuses what the column cannot hold.
    #[test]
    fn an_order_takes_numbers_beyond_what_a_column_holds() {
        let s = schema();
        let m = |e: &str, r: &[Value]| Condition::parse(&s, e).unwrap().matches(r);
        let ann = row("Ann", 2024, 3.8, None);
        for yes in [
            "year < 99999999999999999999",
            "year > -99999999999999999999",
            "year > -(99999999999999999999)",
            "99999999999999999999 > year",
            "gpa < 1e400",
            "gpa > -1e400",
            "year BETWEEN -1e400 AND 1e400",
            "year <= 9223372036854775808",
        ] {
            assert!(m(yes, &ann), "{yes}");
        }
        for no in [
            "year > 99999999999999999999",
            "gpa >= 1e400",
            "year < -1e999",
        ] {
            assert!(!m(no, &ann), "{no}");
        }
        let err = |e: &str| Condition::parse(&s, e).unwrap_err().to_string();
        assert!(
            err("year = 99999999999999999999")
                .contains("99999999999999999999 is beyond the integers a column holds"),
            "{}",
            err("year = 99999999999999999999")
        );
        assert!(err("gpa = 1e400").contains("1e400 is not a number a column holds"));
        assert!(err("year IN (1, 1e400)").contains("1e400 is not a number a column holds"));
    }

    #[test]
    fn like_takes_an_escape_character() {
        let s = schema();
        let m = |e: &str, name: &str| {
            Condition::parse(&s, e)
                .unwrap()
                .matches(&row(name, 2024, 3.0, None))
        };
        assert!(m(r"name LIKE '100\%%' ESCAPE '\'", "100% sure"));
        assert!(!m(r"name LIKE '100\%%' ESCAPE '\'", "1000 sure"));
        assert!(
            m("name LIKE 'a!_b' ESCAPE '!'", "a_b") && !m("name LIKE 'a!_b' ESCAPE '!'", "axb")
        );
        assert!(m("name NOT LIKE '%!%' ESCAPE '!'", "no percent"));
        let err = |e: &str| Condition::parse(&s, e).unwrap_err().to_string();
        assert!(err("name LIKE 'a!' ESCAPE '!'").contains("ends with its escape"));
        assert!(err("name LIKE 'a' ESCAPE 'ab'").contains("one character"));
        assert!(err("year LIKE '20%'").contains("LIKE compares text, and students.year is u32"));
    }

    #[test]
    fn literals_follow_the_rules_of_where_eq_and_where_range() {
        let s = schema();
        let m = |e: &str| Condition::parse(&s, e).map(|c| c.matches(&row("A", 2024, 3.0, None)));
        // Equality with a value the column cannot hold is an error, in every form.
        for e in [
            "year = -2024",
            "year IN (2024, -1)",
            "year <> 4294967296",
            "-1 = year",
        ] {
            assert!(
                matches!(m(e), Err(Error::TypeMismatch { .. })),
                "{e}: {:?}",
                m(e)
            );
        }
        // Ordering takes any number.
        assert!(m("year > -5").unwrap());
        assert!(m("year BETWEEN -5 AND 2030.5").unwrap());
        // An equality's number is never rounded: an integer beyond i64 is refused. An
        // order's bound is read as SQL reads it (see `operand`).
        let e = Condition::parse(&s, "gpa = 18446744073709551615").unwrap_err();
        assert!(e.to_string().contains("beyond the integers"), "{e}");
        assert!(m("gpa < 18446744073709551615").unwrap());
        assert!(m("gpa < 1e400").unwrap());
    }

    #[test]
    fn a_flat_chain_of_any_length_compiles_and_evaluates() {
        let s = schema();
        for op in ["OR", "AND"] {
            let terms: Vec<String> = (0..100_000).map(|i| format!("year = {i}")).collect();
            let text = terms.join(&format!(" {op} "));
            let c = Condition::parse(&s, &text).unwrap();
            let hit = c.matches(&row("A", 2024, 3.0, None));
            assert_eq!(hit, op == "OR");
        }
    }

    #[test]
    fn nesting_up_to_the_limit_works_and_deeper_names_the_limit() {
        let s = schema();
        let nested =
            |depth: usize| format!("{}year = 2024{}", "(".repeat(depth), ")".repeat(depth));
        let c = Condition::parse(&s, &nested(NESTING_LIMIT)).unwrap();
        assert!(c.matches(&row("A", 2024, 3.0, None)));
        let nots = "NOT ".repeat(NESTING_LIMIT) + "year = 2024";
        assert!(Condition::parse(&s, &nots).is_ok());
        let mixed = format!(
            "{}year = 1{}",
            "(year = 1 OR (year = 2 AND ".repeat(NESTING_LIMIT / 2),
            "))".repeat(NESTING_LIMIT / 2)
        );
        assert!(Condition::parse(&s, &mixed).is_ok());
        let minus = format!("year = {}1", "- ".repeat(NESTING_LIMIT));
        assert!(Condition::parse(&s, &minus).is_ok());
        for text in [
            nested(NESTING_LIMIT + 1),
            nested(100_000),
            "NOT ".repeat(10_000) + "year = 1",
            "NOT (".repeat(NESTING_LIMIT / 2 + 1) + "year = 1" + &")".repeat(NESTING_LIMIT / 2 + 1),
            format!("year = {}1", "- ".repeat(10_000)),
        ] {
            match Condition::parse(&s, &text) {
                Err(Error::InvalidExpression { reason, .. }) => {
                    assert!(
                        reason.contains(&format!("deeper than {NESTING_LIMIT}")),
                        "{reason}"
                    )
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn pushes_top_level_conjuncts_down() {
        let s = schema();
        let c = Condition::parse(
            &s,
            "year >= 2018 AND year <= 2019 AND (gpa > 3 OR advisor IS NULL)",
        )
        .unwrap();
        assert_eq!(c.pushdown().len(), 2);
        let c = Condition::parse(&s, "year = 2018 OR year = 2019").unwrap();
        assert!(c.pushdown().is_empty());
    }
}
