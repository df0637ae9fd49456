//! A SQL text's tokens, as SQLite reads its words (for statements, and for the conditions
//! of checks and `--where`, which share them): sqlparser's generic dialect, but for what
//! SQLite users type and that dialect reads otherwise. `[name]` is a quoted name (as
//! `"name"` and `` `name` `` are); `/* … */` does not nest (`/* a /* b */` is one comment);
//! `0x1F` is an integer (a 64-bit pattern: `0xFFFFFFFFFFFFFFFF` is -1); a number run into
//! a word (`1e`, `10abc`) is an unrecognized token rather than a number and its alias;
//! `/*! … */` is a comment like any other (MySQL's hint to the generic dialect).
//!
//! The tokenizer reads with this dialect. The tokens are parsed with [`GRAMMAR`]: the
//! generic dialect but for the binding of a few operators, which is SQLite's (see
//! [`SqliteGrammar`]). The tokenizer asks its dialect the questions listed below: each is
//! answered as the generic dialect answers it but those above (and a comment left open at
//! the end, which ends with the text, as in SQLite), and both dialects pass for the
//! generic one where the tokenizer or the parser asks which dialect it is reading
//! (`dialect()`).

use std::any::TypeId;

use sqlparser::ast::Expr;
use sqlparser::dialect::{Dialect, GenericDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan, Tokenizer, Whitespace};

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
    /// `/*! … */` is a comment, as in SQLite (the generic dialect reads what is inside as
    /// tokens, MySQL's hint: `SELECT 1 /*!, 2 */` had two columns).
    fn supports_multiline_comment_hints(&self) -> bool {
        false
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

/// The dialect statements and conditions are parsed in.
pub(crate) static GRAMMAR: SqliteGrammar = SqliteGrammar;

/// sqlparser's generic dialect with SQLite's operator binding where the two differ on what
/// tabula reads (the generic one follows PostgreSQL's old table, and puts `LIKE` below `=`):
/// - `||` binds tighter than `*`, `/` and `%`: `2 * 3 || 4` is `2 * '34'`;
/// - `<`, `<=`, `>` and `>=` bind tighter than `=` and `<>`: `0 = 0 > 1` is `0 = (0 > 1)`;
/// - `LIKE` (and `NOT LIKE`) binds as `=` does, left to right: `a LIKE b = c` is
///   `(a LIKE b) = c`.
///
/// The parser asks a dialect many questions, one method each: this one answers every
/// question the generic dialect answers as that dialect does (the list below is every
/// method sqlparser 0.64's `GenericDialect` defines; an upgrade of sqlparser must compare
/// it with the new version's), and the precedences as above. A unit test parses every
/// statement of the SQL test suite both ways: only those holding the operators above may
/// differ.
#[derive(Debug)]
pub(crate) struct SqliteGrammar;

/// Where `*`, `/` and `%` bind: below `||` (the generic dialect puts all four at 40; a
/// unary minus's operand stops at 40, so `-2 || 3` stays `(-2) || 3`) and above `+`/`-`.
const MUL_DIV_MOD: u8 = 38;
/// Where `<`, `<=`, `>` and `>=` bind: above `=` (and `LIKE`, `IN`, `BETWEEN`: 20), level
/// with sqlparser's `|` and `->` (SQLite binds those tighter; tabula takes neither).
const ORDERING: u8 = 21;

macro_rules! as_generic {
    ($($question:ident),* $(,)?) => {
        $(fn $question(&self) -> bool {
            GENERIC.$question()
        })*
    };
}

impl Dialect for SqliteGrammar {
    fn dialect(&self) -> TypeId {
        TypeId::of::<GenericDialect>()
    }
    fn get_next_precedence(&self, parser: &Parser<'_>) -> Option<Result<u8, ParserError>> {
        match parser.peek_token_ref().token {
            Token::Mul | Token::Div | Token::Mod => Some(Ok(MUL_DIV_MOD)),
            Token::Lt | Token::LtEq | Token::Gt | Token::GtEq => Some(Ok(ORDERING)),
            _ => None,
        }
    }
    /// A number or a string as an expression reads as the parser reads it, but at once: the
    /// parser first tries every expression as a type name before a literal (`DATE '…'`),
    /// which for a number or a string fails with an error message formatted and dropped,
    /// about a fifth of reading a dump's `INSERT` rows.
    fn parse_prefix(&self, parser: &mut Parser<'_>) -> Option<Result<Expr, ParserError>> {
        match parser.peek_token_ref().token {
            Token::Number(..) | Token::SingleQuotedString(_) => {
                Some(parser.parse_value().map(Expr::Value))
            }
            _ => None,
        }
    }
    fn prec_value(&self, prec: Precedence) -> u8 {
        match prec {
            Precedence::Like => GENERIC.prec_value(Precedence::Eq),
            other => GENERIC.prec_value(other),
        }
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        GENERIC.is_delimited_identifier_start(ch)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        GENERIC.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        GENERIC.is_identifier_part(ch)
    }
    as_generic!(
        supports_map_typedef_with_parentheses,
        supports_unicode_string_literal,
        supports_literal_prefix_in_qualified_name,
        supports_partition_by_after_order_by,
        supports_array_join_syntax,
        supports_group_by_expr,
        supports_group_by_with_modifier,
        supports_left_associative_joins_without_parens,
        supports_connect_by,
        supports_match_recognize,
        supports_pipe_operator,
        supports_start_transaction_modifier,
        supports_window_function_null_treatment_arg,
        supports_dictionary_syntax,
        supports_window_clause_named_window_reference,
        supports_parenthesized_set_variables,
        supports_select_wildcard_except,
        support_map_literal_syntax,
        allow_extract_custom,
        allow_extract_single_quotes,
        supports_extract_comma_syntax,
        supports_create_view_comment_syntax,
        supports_parens_around_table_factor,
        supports_values_as_table_factor,
        supports_create_index_with_clause,
        supports_sql_option_without_value,
        supports_explain_with_utility_options,
        supports_exclude_constraint,
        supports_limit_comma,
        supports_update_order_by,
        supports_from_first_select,
        supports_projection_trailing_commas,
        supports_asc_desc_in_column_definition,
        supports_try_convert,
        supports_bitwise_shift_operators,
        supports_singular_value_keyword,
        supports_comma_join_constraint,
        supports_tilde_like_match_operator,
        supports_aggregate_order_by_with_empty_args,
        supports_in_table_expression,
        supports_comparison_in_between_low_bound,
        supports_comment_on,
        supports_load_extension,
        supports_named_fn_args_with_assignment_operator,
        supports_struct_literal,
        supports_empty_projections,
        supports_nested_comments,
        supports_multiline_comment_hints,
        supports_copy_from_stdin_data,
        supports_user_host_grantee,
        supports_string_escape_constant,
        supports_array_typedef_with_brackets,
        supports_match_against,
        supports_set_names,
        supports_comma_separated_set_assignments,
        supports_filter_during_aggregation,
        supports_select_wildcard_exclude,
        supports_data_type_signed_suffix,
        supports_data_type_zerofill_suffix,
        supports_interval_options,
        supports_quote_delimited_string,
        supports_select_wildcard_replace,
        supports_select_wildcard_ilike,
        supports_select_wildcard_rename,
        supports_optimize_table,
        supports_install,
        supports_detach,
        supports_prewhere,
        supports_with_fill,
        supports_limit_by,
        supports_interpolate,
        supports_settings,
        supports_table_partitions,
        supports_table_inheritance_markers,
        supports_select_format,
        supports_comment_optimizer_hint,
        supports_constraint_keyword_without_name,
        supports_key_column_option,
        supports_comma_separated_trim,
        supports_cte_without_as,
        supports_select_item_multi_column_alias,
        supports_xml_expressions,
        supports_aliased_function_args,
        supports_alter_column_position,
        supports_add_column_if_not_exists,
    );
}

/// `text`'s tokens with their places, as SQLite reads its words (see the module's
/// comment); a token SQLite does not recognize is `Error::Sql` at its place. (Statements
/// are read a stretch at a time, [`tokenize_from`].)
#[cfg(test)]
pub(crate) fn tokenize(text: &str) -> Result<Vec<TokenWithSpan>> {
    words(text, true, Location::new(1, 1))
}

/// [`tokenize`] for a stretch of a longer text that starts at `start` there (a line and
/// column, from 1) right after a `;` that ends a statement: the tokens' places, and an
/// error's, are the longer text's.
pub(crate) fn tokenize_from(stretch: &str, start: Location) -> Result<Vec<TokenWithSpan>> {
    words(stretch, true, start)
}

/// [`tokenize_from`] in two steps: the tokenizer's tokens (an error here may be the
/// stretch's end cutting a string), then [`as_sqlite_reads`] them (an error there is on a
/// whole token, before the stretch's end, the whole text's own).
pub(crate) fn tokenizer_tokens(stretch: &str, start: Location) -> Result<Vec<TokenWithSpan>> {
    tokenizer_words(stretch, true, start)
}

/// Tokens of [`tokenizer_tokens`] as SQLite reads them in a statement.
pub(crate) fn as_sqlite_reads(tokens: Vec<TokenWithSpan>) -> Result<Vec<TokenWithSpan>> {
    sqlite_reading(tokens, true)
}

/// [`tokenize`] for a condition (a check, `--where`): `[name]` and hexadecimal integers
/// read as in statements, but nothing refused that conditions have always read, since a
/// stored schema may hold it (sqlparser writes `16L` back as it was given; a check written
/// in Rust or Python may run a number into a word, `x>0and x<9`, or nest comments).
pub(crate) fn condition_tokens(text: &str) -> Result<Vec<TokenWithSpan>> {
    words(text, false, Location::new(1, 1))
}

/// The tokens of `text`, placed as if it started at `start`; `statement`: SQLite's reading,
/// strictly (see [`tokenize`]).
fn words(text: &str, statement: bool, start: Location) -> Result<Vec<TokenWithSpan>> {
    sqlite_reading(tokenizer_words(text, statement, start)?, statement)
}

/// The tokenizer's tokens of `text`, placed as if it started at `start`.
fn tokenizer_words(text: &str, statement: bool, start: Location) -> Result<Vec<TokenWithSpan>> {
    let dialect = SqliteWords {
        nested_comments: !statement,
    };
    let mut tokens = Vec::new();
    let placed = |at: Location| moved(at, start);
    Tokenizer::new(&dialect, text)
        .tokenize_with_location_into_buf_with_mapper(&mut tokens, |mut t| {
            t.span = Span::new(placed(t.span.start), placed(t.span.end));
            t
        })
        .map_err(|e| {
            let at = placed(e.location);
            Error::Sql {
                line: at.line,
                column: at.column,
                reason: e.message,
            }
        })?;
    Ok(tokens)
}

/// The tokenizer's `tokens` as SQLite reads them (see the module's comment); `statement`:
/// strictly (see [`tokenize`]).
fn sqlite_reading(mut tokens: Vec<TokenWithSpan>, statement: bool) -> Result<Vec<TokenWithSpan>> {
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

/// `at`, a place in a text that starts at `start` in a longer one, as a place in that one
/// (a place of line 0 is no place, and stays one).
fn moved(at: Location, start: Location) -> Location {
    match at.line {
        0 => at,
        1 => Location::new(start.line, start.column + at.column - 1),
        l => Location::new(start.line + l - 1, at.column),
    }
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

    /// The SQL of every record of the sqllogictest files (`statement …` and `query …`).
    fn suite_texts() -> Vec<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/slt");
        let mut texts = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("the sqllogictest files")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "slt"))
            .collect();
        files.sort();
        for file in files {
            let content = std::fs::read_to_string(&file).expect("a test file");
            let mut lines = content.lines();
            while let Some(line) = lines.next() {
                if !(line.starts_with("statement ") || line.starts_with("query ")) {
                    continue;
                }
                let sql: Vec<&str> = lines
                    .by_ref()
                    .take_while(|l| !l.trim().is_empty() && *l != "----")
                    .collect();
                texts.push(sql.join("\n"));
            }
        }
        texts
    }

    /// [`SqliteGrammar`] answers the parser as the generic dialect does but for the
    /// operators it binds otherwise: every statement of the test suite parses to the same
    /// tree both ways unless it holds one of those operators. A question the grammar does
    /// not pass on (a sqlparser upgrade adds them) changes some statement's tree here.
    #[test]
    fn grammar_parses_as_the_generic_dialect_but_for_binding() {
        // On a large stack: the suite's deepest texts make deep trees to print and drop.
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(compare_with_generic)
            .expect("a thread")
            .join()
            .expect("the comparison");
    }

    /// Texts beyond the suite's for questions the suite's texts do not ask (what tabula
    /// refuses, it refuses by what the generic dialect parses).
    const PROBES: &[&str] = &[
        "SELECT a FROM t LIMIT 1, 2",
        "SELECT a, b, FROM t",
        "SELECT a FROM t WHERE a IN u",
        "SELECT a FROM t GROUP BY ROLLUP (a, b)",
        "SELECT * FROM (VALUES (1, 2)) v",
        "SELECT * EXCEPT (a) FROM t",
        "SELECT {'a': 1}",
        "UPDATE t SET a = 1 ORDER BY b",
        "SELECT a FROM ((t))",
        "SELECT TRIM('a', 'b')",
        "SELECT a FROM t CONNECT BY a = b",
        "CREATE INDEX i ON t (a) WITH (fillfactor = 70)",
        // Literals, which the grammar reads at once (`SqliteGrammar::parse_prefix`).
        "SELECT 1, -2.5e3, 'a' 'b', 'x'::TEXT, DATE '2020-01-01', INTERVAL '1' DAY, X'AB'",
        "SELECT 'a'[1], 1.a, '1' COLLATE c, 'a' IS NOT NULL, 5 BETWEEN '1' AND 9",
        "INSERT INTO t VALUES (1, 'a', NULL), (-1, '', 0x10)",
        "SELECT 'unterminated",
        "SELECT 1 +",
    ];

    fn compare_with_generic() {
        let mut texts = suite_texts();
        texts.extend(PROBES.iter().map(|p| p.to_string()));
        assert!(texts.len() > 500, "only {} statements found", texts.len());
        // Whether the grammar may read `tokens` otherwise: they hold `||` or `LIKE`, or an
        // ordering operator and an operator the generic dialect binds as tightly.
        let rebinds = |tokens: &[TokenWithSpan]| {
            let has = |f: &dyn Fn(&Token) -> bool| tokens.iter().any(|t| f(&t.token));
            let word =
                |t: &Token, k: &[Keyword]| matches!(t, Token::Word(w) if k.contains(&w.keyword));
            has(&|t| matches!(t, Token::StringConcat) || word(t, &[Keyword::LIKE]))
                || (has(&|t| matches!(t, Token::Lt | Token::LtEq | Token::Gt | Token::GtEq))
                    && has(&|t| {
                        matches!(t, Token::Eq | Token::DoubleEq | Token::Neq)
                            || word(t, &[Keyword::IN, Keyword::BETWEEN])
                    }))
        };
        let mut compared = 0;
        for text in &texts {
            let Ok(tokens) = tokenize(text) else {
                continue;
            };
            let parse = |d: &dyn Dialect| {
                Parser::new(d)
                    .with_tokens_with_locations(tokens.clone())
                    .parse_statements()
                    .map(|s| format!("{s:?}"))
                    .map_err(|e| e.to_string())
            };
            let (ours, generic) = (parse(&GRAMMAR), parse(&GENERIC));
            if ours != generic {
                assert!(
                    rebinds(&tokens),
                    "parsed otherwise than by the generic dialect: {text}"
                );
            }
            compared += 1;
        }
        assert!(compared > 500, "only {compared} statements compared");
    }

    /// An expression fully parenthesized, so that two trees print alike only if they
    /// are alike (`Display` prints only the parentheses a text held).
    fn shape(e: &sqlparser::ast::Expr) -> String {
        use sqlparser::ast::Expr;
        match e {
            Expr::BinaryOp { left, op, right } => {
                format!("({} {op} {})", shape(left), shape(right))
            }
            Expr::Like {
                negated,
                expr,
                pattern,
                ..
            } => {
                let not = if *negated { "NOT " } else { "" };
                format!("({} {not}LIKE {})", shape(expr), shape(pattern))
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                format!(
                    "({} BETWEEN {} AND {})",
                    shape(expr),
                    shape(low),
                    shape(high)
                )
            }
            Expr::UnaryOp { op, expr } => format!("({op}{})", shape(expr)),
            Expr::Nested(inner) => shape(inner),
            other => other.to_string(),
        }
    }

    /// The binding that differs, as SQLite reads it.
    #[test]
    fn grammar_binds_as_sqlite() {
        let parsed = |d: &dyn Dialect, text: &str| {
            let tokens = tokenize(text).expect(text);
            let e = Parser::new(d)
                .with_tokens_with_locations(tokens)
                .parse_expr()
                .expect(text);
            shape(&e)
        };
        // Each pair: a text, and the same with SQLite's binding spelled in parentheses.
        for (text, bound) in [
            ("2 * 3 || 4", "2 * (3 || 4)"),
            ("-2 || 3", "(-2) || 3"),
            ("-2 * 3", "(-2) * 3"),
            ("2 || 3 * 4", "(2 || 3) * 4"),
            ("1 + 2 || 3", "1 + (2 || 3)"),
            ("1 + 2 * 3", "1 + (2 * 3)"),
            ("a = b > c", "a = (b > c)"),
            ("a <> b <= c", "a <> (b <= c)"),
            ("a < b < c", "(a < b) < c"),
            ("a < b + c", "a < (b + c)"),
            ("a LIKE b = c", "(a LIKE b) = c"),
            ("a NOT LIKE b <> c", "(a NOT LIKE b) <> c"),
            ("a = b LIKE c", "(a = b) LIKE c"),
            ("a LIKE b < c", "a LIKE (b < c)"),
            ("a BETWEEN b AND c < d", "a BETWEEN b AND (c < d)"),
            ("a = b AND c < d", "(a = b) AND (c < d)"),
        ] {
            assert_eq!(parsed(&GRAMMAR, text), parsed(&GENERIC, bound), "{text}");
        }
    }

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
