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
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::error::{Error, Result};
use crate::schema::Schema;
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

#[derive(Debug, Clone)]
enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Compare(usize, Cmp, Value),
    Columns(usize, Cmp, usize),
    IsNull(usize, bool),
    Like(usize, Vec<char>, bool, bool),
    In(usize, Vec<Value>, bool),
    Between(usize, Value, Value, bool),
}

/// A compiled condition; see the module documentation. Use it through
/// [`Select::where_sql`](crate::Select::where_sql) or test rows with [`Condition::matches`].
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

fn bad(text: &str, reason: impl Into<String>) -> Error {
    Error::InvalidExpression {
        expression: text.to_owned(),
        reason: reason.into(),
    }
}

/// An error about part `e` of the expression, saying where that part starts.
fn bad_at(text: &str, e: &Expr, reason: impl Into<String>) -> Error {
    let at = e.span().start;
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
        let dialect = GenericDialect {};
        // Every parse error says where: the parser's own position, or the end of the text.
        let located = |e: sqlparser::parser::ParserError| {
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
        let mut parser = Parser::new(&dialect).try_with_sql(text).map_err(located)?;
        let expr = parser.parse_expr().map_err(located)?;
        let next = parser.peek_token();
        if next.token != Token::EOF {
            return Err(bad(
                text,
                format!(
                    "unexpected {} at Line: {}, Column: {}",
                    next.token, next.span.start.line, next.span.start.column
                ),
            ));
        }
        let root = compile(schema, text, &expr)?;
        Ok(Condition {
            root,
            text: text.to_owned(),
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

    /// Top-level `AND` terms the planner can serve: `(column, bounds)`.
    pub(crate) fn pushdown(&self) -> Vec<(usize, Bound<Value>, Bound<Value>)> {
        let mut out = Vec::new();
        collect(&self.root, &mut out);
        out
    }
}

fn collect(n: &Node, out: &mut Vec<(usize, Bound<Value>, Bound<Value>)>) {
    match n {
        Node::And(a, b) => {
            collect(a, out);
            collect(b, out);
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
        Node::Between(c, lo, hi, false) => {
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
            SqlValue::Number(n, _) => n
                .parse::<i64>()
                .map(Value::Int)
                .or_else(|_| n.parse::<f64>().map(Value::Float))
                .map_err(|_| bad_at(text, e, format!("{n} is not a number"))),
            SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => {
                Ok(Value::Text(s.clone()))
            }
            SqlValue::Boolean(b) => Ok(Value::Bool(*b)),
            SqlValue::Null => Ok(Value::Null),
            other => Err(bad_at(text, e, format!("unsupported literal {other}"))),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal(text, expr)? {
            Value::Int(i) => Ok(Value::Int(-i)),
            Value::Float(f) => Ok(Value::Float(-f)),
            _ => Err(bad_at(text, e, format!("cannot negate {expr}"))),
        },
        Expr::Nested(inner) => literal(text, inner),
        other => Err(bad(
            text,
            format!("{other} is not a column or a literal value"),
        )),
    }
}

/// Checks that `v` can be compared with column `col` (numbers with numbers, text with text).
fn fit(schema: &Schema, col: usize, v: Value) -> Result<Value> {
    if v.is_null() {
        return Ok(v);
    }
    let ty = schema.columns[col].ty;
    let ok = match &v {
        Value::Int(_) | Value::Float(_) => ty.is_int() || ty.is_float(),
        Value::Text(_) => ty == crate::schema::ColumnType::Text,
        Value::Bool(_) => ty == crate::schema::ColumnType::Bool,
        Value::Null => true,
    };
    if ok {
        Ok(v)
    } else {
        Err(schema.type_mismatch(col, v))
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

fn compile(schema: &Schema, text: &str, e: &Expr) -> Result<Node> {
    let col_of = |x: &Expr| -> Result<usize> {
        column(schema, text, x)?.ok_or_else(|| bad_at(text, x, format!("{x} is not a column")))
    };
    Ok(match e {
        Expr::Nested(inner) => compile(schema, text, inner)?,
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => Node::And(
            Box::new(compile(schema, text, left)?),
            Box::new(compile(schema, text, right)?),
        ),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Or,
            right,
        } => Node::Or(
            Box::new(compile(schema, text, left)?),
            Box::new(compile(schema, text, right)?),
        ),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Node::Not(Box::new(compile(schema, text, expr)?)),
        Expr::BinaryOp { left, op, right } => {
            let Some(op) = cmp_op(op) else {
                return Err(bad_at(text, e, format!("unsupported operator {op} in {e}")));
            };
            match (column(schema, text, left)?, column(schema, text, right)?) {
                (Some(a), Some(b)) => Node::Columns(a, op, b),
                (Some(a), None) => Node::Compare(a, op, fit(schema, a, literal(text, right)?)?),
                (None, Some(b)) => {
                    Node::Compare(b, flip(op), fit(schema, b, literal(text, left)?)?)
                }
                (None, None) => return Err(bad_at(text, e, format!("{e} compares no column"))),
            }
        }
        Expr::IsNull(x) => Node::IsNull(col_of(x)?, false),
        Expr::IsNotNull(x) => Node::IsNull(col_of(x)?, true),
        Expr::Like {
            negated,
            expr,
            pattern,
            ..
        }
        | Expr::ILike {
            negated,
            expr,
            pattern,
            ..
        } => {
            let col = col_of(expr)?;
            let Value::Text(p) = literal(text, pattern)? else {
                return Err(bad(
                    text,
                    format!("LIKE needs a text pattern, not {pattern}"),
                ));
            };
            let ci = matches!(e, Expr::ILike { .. });
            let p = if ci { p.to_lowercase() } else { p };
            fit(schema, col, Value::Text(String::new()))?;
            Node::Like(col, p.chars().collect(), *negated, ci)
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
                .map(|v| fit(schema, col, literal(text, v)?))
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
                fit(schema, col, literal(text, low)?)?,
                fit(schema, col, literal(text, high)?)?,
                *negated,
            )
        }
        other => {
            return Err(bad_at(
                text,
                other,
                format!("unsupported expression {other}"),
            ))
        }
    })
}

fn compare(a: ValueRef<'_>, op: Cmp, b: ValueRef<'_>) -> Option<bool> {
    if a.is_null() || b.is_null() {
        return None;
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

/// SQL LIKE: `%` any run of characters, `_` any one character.
fn like(s: &[char], p: &[char]) -> bool {
    let (mut si, mut pi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == s[si]) {
            si += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

fn eval<'v>(n: &Node, get: &dyn Fn(usize) -> ValueRef<'v>) -> Option<bool> {
    match n {
        Node::And(a, b) => match (eval(a, get), eval(b, get)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Node::Or(a, b) => match (eval(a, get), eval(b, get)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Node::Not(a) => eval(a, get).map(|b| !b),
        Node::Compare(c, op, v) => compare(get(*c), *op, v.as_ref()),
        Node::Columns(a, op, b) => compare(get(*a), *op, get(*b)),
        Node::IsNull(c, negated) => Some(get(*c).is_null() != *negated),
        Node::Like(c, p, negated, ci) => match get(*c) {
            ValueRef::Text(t) => {
                let s: Vec<char> = if *ci {
                    t.to_lowercase().chars().collect()
                } else {
                    t.chars().collect()
                };
                Some(like(&s, p) != *negated)
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
            match (
                compare(v, Cmp::Ge, lo.as_ref()),
                compare(v, Cmp::Le, hi.as_ref()),
            ) {
                (Some(a), Some(b)) => Some((a && b) != *negated),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, ColumnType};

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
